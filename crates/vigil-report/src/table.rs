//! The `table` format: what a person reads at a terminal during an incident.
//!
//! Findings come first, grouped by advisory (`MALICIOUS` before `VULNERABILITY`, then by id),
//! each group listing the affected components with their strongest evidence, why they
//! matched, every location — with its own evidence when the locations differ (loaded here,
//! only installed there) — and, under each location, the processes that loaded it. Then the
//! scan errors (the first [`MAX_ERRORS_SHOWN`]), then one summary line:
//!
//! ```text
//! MALICIOUS MAL-2025-46974  Malicious code in debug (npm)
//!   risk 10.0 CRITICAL · CWE-506 · aliases GHSA-8mgj-vmr8-frr6
//!   npm debug@4.4.2  LOADED  version 4.4.2 listed
//!     /srv/app/node_modules/debug/package.json  LOADED
//!       pid 4242 /usr/bin/node (container 3f2a9c0b1d2e)
//!     /srv/old/node_modules/debug/package.json  INSTALLED
//!
//! 3 components in 4 locations, 1 malicious, 0 vulnerable, 0 errors
//! ```
//!
//! Plain indented text rather than a grid: paths in `node_modules` trees are long, and a
//! grid wraps them into unreadable cells. Every string from the report goes through
//! [`escape`]; colour (ANSI SGR) only when the caller asks for it, which it does when stdout
//! is a terminal.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io;

use vigil_core::{Evidence, Purl};

use crate::ReportError;
use crate::model::{AdvisoryKind, ComponentInstance, Finding, ProcessRef, ScanReport};
use crate::terminal::escape;

/// How many scan errors the table lists before summarizing the rest.
pub const MAX_ERRORS_SHOWN: usize = 20;

/// Options for the table.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TableOptions {
    /// Use ANSI colours (the caller decides, normally "stdout is a terminal and `NO_COLOR`
    /// is unset").
    pub color: bool,
}

/// Writes `report` as text.
pub fn write(
    report: &ScanReport,
    options: &TableOptions,
    out: &mut dyn io::Write,
) -> Result<(), ReportError> {
    let mut buffered = io::BufWriter::with_capacity(64 * 1024, out);
    let out: &mut dyn io::Write = &mut buffered;
    let paint = Paint {
        color: options.color,
    };
    let mut instances: HashMap<&Purl, Vec<&ComponentInstance>> = HashMap::new();
    for instance in &report.components {
        instances
            .entry(&instance.component.purl)
            .or_default()
            .push(instance);
    }
    for group in report
        .findings
        .chunk_by(|a, b| a.advisory.kind == b.advisory.kind && a.advisory.id == b.advisory.id)
    {
        write_group(group, &instances, paint, out)?;
        writeln!(out)?;
    }
    write_errors(report, paint, out)?;
    write_summary(report, out)?;
    out.flush()?;
    Ok(())
}

fn write_group(
    group: &[Finding],
    instances: &HashMap<&Purl, Vec<&ComponentInstance>>,
    paint: Paint,
    out: &mut dyn io::Write,
) -> io::Result<()> {
    let Some(first) = group.first() else {
        return Ok(());
    };
    let advisory = &first.advisory;
    let kind_style = match advisory.kind {
        AdvisoryKind::Malicious => Style::Alarm,
        AdvisoryKind::Vulnerability => Style::Warn,
    };
    write!(
        out,
        "{} {}",
        paint.apply(kind_style, advisory.kind.as_str()),
        paint.apply(Style::Bold, &escape(&advisory.id)),
    )?;
    if !advisory.summary.is_empty() {
        write!(out, "  {}", escape(&advisory.summary))?;
    }
    writeln!(out)?;

    let mut facts = vec![format!(
        "risk {:.1} {}",
        first.risk.clamped_score(),
        first.risk.level
    )];
    if !advisory.cwes.is_empty() {
        facts.push(escape(&advisory.cwes.join(", ")).into_owned());
    }
    if !advisory.aliases.is_empty() {
        facts.push(format!("aliases {}", escape(&advisory.aliases.join(", "))));
    }
    if let Some(url) = &advisory.url {
        facts.push(escape(url).into_owned());
    }
    writeln!(out, "  {}", facts.join(" · "))?;

    for finding in group {
        let component = &finding.component;
        write!(
            out,
            "  {} {}  {}",
            escape(&component.ecosystem.to_string()),
            paint.apply(Style::Bold, &escape(&component.display_name())),
            finding.evidence,
        )?;
        if !finding.match_reason.is_empty() {
            write!(out, "  {}", escape(&finding.match_reason))?;
        }
        writeln!(out)?;
        let known = instances
            .get(&finding.component.purl)
            .map_or(&[][..], Vec::as_slice);
        write_locations(finding, known, out)?;
    }
    Ok(())
}

/// Each location of `finding` with the processes that loaded it there, strongest evidence
/// first; the evidence is named per location when the locations do not all share one.
/// Locations and processes only the finding names (a report assembled by hand) follow.
fn write_locations(
    finding: &Finding,
    instances: &[&ComponentInstance],
    out: &mut dyn io::Write,
) -> io::Result<()> {
    let mut by_location: BTreeMap<(std::cmp::Reverse<Evidence>, &str), BTreeSet<&ProcessRef>> =
        BTreeMap::new();
    for instance in instances {
        for location in &instance.locations {
            by_location
                .entry((std::cmp::Reverse(instance.evidence), location.as_str()))
                .or_default()
                .extend(&instance.processes);
        }
    }
    let kinds: BTreeSet<Evidence> = by_location.keys().map(|(e, _)| e.0).collect();
    let mixed = kinds.len() > 1;
    let mut shown_processes: BTreeSet<&ProcessRef> = BTreeSet::new();
    let mut shown_locations: BTreeSet<&str> = BTreeSet::new();
    for ((evidence, location), processes) in &by_location {
        if mixed {
            writeln!(out, "    {}  {}", escape(location), evidence.0)?;
        } else {
            writeln!(out, "    {}", escape(location))?;
        }
        for process in processes {
            writeln!(out, "      {}", describe_process(process))?;
        }
        shown_locations.insert(location);
        shown_processes.extend(processes);
    }
    for location in &finding.locations {
        if !shown_locations.contains(location.as_str()) {
            writeln!(out, "    {}", escape(location))?;
        }
    }
    for process in &finding.processes {
        if !shown_processes.contains(process) {
            writeln!(out, "    {}", describe_process(process))?;
        }
    }
    Ok(())
}

fn describe_process(process: &ProcessRef) -> String {
    let mut text = format!("pid {}", process.pid);
    if let Some(exe) = &process.exe {
        text.push(' ');
        text.push_str(&escape(exe));
    }
    if let Some(container) = &process.container_id {
        // Engines print the first 12 hex digits of a 64-digit id (`docker ps`); so do we.
        let short = match container.get(..12) {
            Some(short)
                if container.len() == 64 && container.bytes().all(|b| b.is_ascii_hexdigit()) =>
            {
                short
            }
            _ => container.as_str(),
        };
        text.push_str(" (container ");
        text.push_str(&escape(short));
        text.push(')');
    }
    text
}

fn write_errors(report: &ScanReport, paint: Paint, out: &mut dyn io::Write) -> io::Result<()> {
    if report.errors.is_empty() {
        return Ok(());
    }
    writeln!(out, "{}", paint.apply(Style::Warn, "errors"))?;
    for error in report.errors.iter().take(MAX_ERRORS_SHOWN) {
        write!(out, "  {}", escape(&error.path))?;
        if let Some(line) = error.line {
            write!(out, ":{line}")?;
        }
        write!(out, ": {}", escape(&error.reason))?;
        if let Some(field) = &error.field {
            write!(out, " (field {})", escape(field))?;
        }
        writeln!(out)?;
    }
    let hidden = report.errors.len().saturating_sub(MAX_ERRORS_SHOWN);
    if hidden > 0 {
        writeln!(
            out,
            "  … and {hidden} more (every error is in the json format)"
        )?;
    }
    writeln!(out)
}

fn write_summary(report: &ScanReport, out: &mut dyn io::Write) -> io::Result<()> {
    let counts = &report.counts;
    writeln!(
        out,
        "{} in {}, {} malicious, {} vulnerable, {}",
        plural(counts.components, "component", "components"),
        plural(counts.locations, "location", "locations"),
        counts.malicious,
        counts.vulnerable,
        plural(counts.errors, "error", "errors"),
    )
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

#[derive(Clone, Copy)]
enum Style {
    Alarm,
    Warn,
    Bold,
}

#[derive(Clone, Copy)]
struct Paint {
    color: bool,
}

impl Paint {
    /// `text` in `style` when colour is on. `text` must already be escaped.
    fn apply(self, style: Style, text: &str) -> String {
        if !self.color {
            return text.to_owned();
        }
        let sgr = match style {
            Style::Alarm => "1;31",
            Style::Warn => "1;33",
            Style::Bold => "1",
        };
        format!("\x1b[{sgr}m{text}\x1b[0m")
    }
}
