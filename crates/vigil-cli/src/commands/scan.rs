//! `vigil scan [PATH...] [--processes [--watch DURATION]]`: one-shot inventory + matching,
//! rendered in the chosen format.
//!
//! The work is vigil-scan's; this module turns arguments into its inputs, picks colour (only
//! on a terminal, never with `NO_COLOR`), writes to stdout or `-o FILE`, and maps the result
//! onto exit codes: 1 when findings reach `--fail-on`, 2 when an input could not be used.
//!
//! Paths default to `.` — except with `--processes` and no path, which scans the running
//! processes (and the application roots they resolve packages from) only: walking whatever
//! directory the command happens to run in would mix an unrelated tree into a host sweep.

use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use vigil_core::Ecosystem;
use vigil_intel::ImportOptions;
use vigil_intel::time::Timestamp;
use vigil_inventory::ScanOptions;
use vigil_report::{Format, TableOptions, Tool};
use vigil_scan::{FailOn, ProcessScanEvent, ProcessScanOptions, RunInfo, ScanFailure};

use crate::Outcome;
use crate::progress::ProgressLine;
use crate::terminal::escape;

#[derive(Debug, Args)]
pub struct ScanArgs {
    /// Files or directories to scan (default `.`, or none with `--processes`).
    paths: Vec<PathBuf>,
    /// Also scan running processes: the packages they have loaded (mapped or open files)
    /// and those installed where they resolve packages from. Root sees every process.
    #[arg(long)]
    processes: bool,
    /// With --processes: also watch package files being opened for DURATION (`10s`,
    /// `500ms`, `2m`; needs root), catching pure-JS/Python packages that are read and closed.
    #[arg(long, value_name = "DURATION", requires = "processes", value_parser = parse_duration)]
    watch: Option<Duration>,
    /// Extra intel for this scan only: OSV JSON, a directory or zip of OSV records, or an
    /// incident list (text `name@version` lines or CSV). Repeatable.
    #[arg(long = "intel", value_name = "SRC")]
    intel: Vec<PathBuf>,
    /// Output format: table, json, sarif, cyclonedx, spdx.
    #[arg(long, default_value = "table")]
    format: String,
    /// Write the report to FILE instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Exit 1 when findings reach this level: malicious, vulnerable or none.
    #[arg(long, default_value = "malicious")]
    fail_on: String,
    /// Skip paths matching this gitignore-style glob. Repeatable.
    #[arg(long, value_name = "GLOB")]
    exclude: Vec<String>,
    /// Follow symbolic links (with loop detection).
    #[arg(long)]
    follow_symlinks: bool,
    /// Also read lockfiles published inside installed package trees (node_modules, …).
    #[arg(long)]
    include_package_lockfiles: bool,
    /// Data directory whose imported intel is used, when it has any.
    #[arg(long, env = "VIGIL_DATA_DIR", default_value = "vigil-data")]
    data_dir: PathBuf,
    /// Also record the scan as an inventory snapshot of this host in the data directory's store.
    #[arg(long)]
    save: bool,
}

pub fn run(args: ScanArgs, quiet: bool) -> anyhow::Result<Outcome> {
    let Ok(format) = args.format.parse::<Format>() else {
        eprintln!(
            "vigil: unknown --format {:?} (expected table, json, sarif, cyclonedx or spdx)",
            escape(&args.format)
        );
        return Ok(Outcome::InputError);
    };
    let fail_on: FailOn = match args.fail_on.parse() {
        Ok(rule) => rule,
        Err(message) => {
            eprintln!("vigil: {}", escape(&message));
            return Ok(Outcome::InputError);
        }
    };
    let started = Timestamp::now();
    let import_options = ImportOptions {
        default_ecosystem: Ecosystem::parse("npm"),
        now: started,
        ..ImportOptions::default()
    };
    let intel = match vigil_scan::load_intel(Some(&args.data_dir), &args.intel, &import_options) {
        Ok(intel) => intel,
        Err(err) => return input_error(&err),
    };
    if !quiet {
        for warning in &intel.warnings {
            eprintln!("vigil: warning: {}", escape(warning));
        }
    }
    let paths = if args.paths.is_empty() && !args.processes {
        vec![PathBuf::from(".")]
    } else {
        args.paths.clone()
    };
    let progress = std::sync::Arc::new(vigil_inventory::ScanProgress::default());
    let options = ScanOptions {
        follow_symlinks: args.follow_symlinks,
        excludes: args.exclude.clone(),
        declared_in_package_trees: args.include_package_lockfiles,
        progress: Some(progress.clone()),
        ..ScanOptions::default()
    };
    let inventory = if paths.is_empty() {
        vigil_inventory::ScanReport::default()
    } else {
        let line = ProgressLine::start(progress, !quiet);
        let scanned = vigil_scan::inventory(&paths, &options);
        line.finish();
        match scanned {
            Ok(inventory) => inventory,
            Err(err) => return input_error(&err),
        }
    };
    let mut sightings = vigil_scan::path_sightings(&inventory.packages);
    let mut errors = vigil_scan::inventory_errors(&inventory);
    if args.processes {
        let process_options = ProcessScanOptions {
            watch: args.watch,
            watch_paths: paths.clone(),
            ..ProcessScanOptions::default()
        };
        let mut on_event = |event: ProcessScanEvent| {
            if quiet {
                return;
            }
            if let ProcessScanEvent::Watching {
                filesystems,
                duration,
            } = event
            {
                eprintln!(
                    "vigil: watching package opens on {filesystems} filesystem(s) for {duration:?}"
                );
            }
        };
        let scan = match vigil_scan::scan_processes(&process_options, &mut on_event) {
            Ok(scan) => scan,
            Err(err) => {
                eprintln!("vigil: processes: {}", escape(&err.to_string()));
                return Ok(Outcome::InputError);
            }
        };
        for warning in &scan.warnings {
            // Visibility limits are worth a line even with -q: the result is partial.
            eprintln!("vigil: warning: {}", escape(warning));
        }
        sightings = vigil_scan::merge_sightings(sightings, scan.sightings);
        errors.extend(scan.errors);
    }
    let findings = vigil_scan::match_sightings(&intel.index, &sightings);
    if !quiet {
        for warning in intel.index.take_warnings() {
            eprintln!("vigil: warning: {}", escape(&warning));
        }
    }
    let report = vigil_scan::build_merged_report(
        RunInfo {
            tool: Tool {
                name: "vigil".to_owned(),
                version: env!("CARGO_PKG_VERSION").to_owned(),
            },
            targets: paths.iter().map(|p| p.display().to_string()).collect(),
            started: started.to_rfc3339(),
            finished: Timestamp::now().to_rfc3339(),
        },
        &sightings,
        errors,
        findings,
        args.processes,
    );
    if args.save
        && let Some(failed) = super::save::save(
            &args.data_dir,
            &args.paths,
            inventory.packages.clone(),
            quiet,
        )?
    {
        return Ok(failed);
    }

    let to_terminal = args.output.is_none() && io::stdout().is_terminal();
    let table = TableOptions {
        color: to_terminal && std::env::var_os("NO_COLOR").is_none(),
    };
    match &args.output {
        Some(path) => {
            let file =
                File::create(path).with_context(|| format!("creating {}", path.display()))?;
            let mut out = BufWriter::new(file);
            vigil_report::render(&report, format, &table, &mut out)?;
            out.flush()
                .with_context(|| format!("writing {}", path.display()))?;
        }
        None => {
            let stdout = io::stdout();
            let mut out = BufWriter::new(stdout.lock());
            vigil_report::render(&report, format, &table, &mut out)?;
            out.flush().context("writing the report")?;
        }
    }
    Ok(if fail_on.fails(&report) {
        Outcome::Findings
    } else {
        Outcome::Clean
    })
}

fn input_error(err: &ScanFailure) -> anyhow::Result<Outcome> {
    eprintln!("vigil: {}", escape(&err.to_string()));
    Ok(Outcome::InputError)
}

/// `10s`, `500ms`, `2m`, `1h`, or a bare number of seconds.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration (examples: 10s, 500ms, 2m)"))?;
    let seconds = match unit {
        "" | "s" => value,
        "ms" => value / 1000.0,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        _ => {
            return Err(format!(
                "unknown unit {unit:?} in {text:?} (use ms, s, m or h)"
            ));
        }
    };
    Duration::try_from_secs_f64(seconds).map_err(|_| format!("{text:?} is out of range"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        let cases: &[(&str, Option<Duration>)] = &[
            ("10s", Some(Duration::from_secs(10))),
            ("3", Some(Duration::from_secs(3))),
            ("500ms", Some(Duration::from_millis(500))),
            ("1.5s", Some(Duration::from_millis(1500))),
            ("2m", Some(Duration::from_secs(120))),
            ("1h", Some(Duration::from_secs(3600))),
            ("", None),
            ("s", None),
            ("10x", None),
            ("-1s", None),
            ("1e999s", None),
        ];
        for (text, want) in cases {
            assert_eq!(parse_duration(text).ok(), *want, "{text:?}");
        }
    }
}
