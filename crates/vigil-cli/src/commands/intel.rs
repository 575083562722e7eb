//! `vigil intel import|status|show|sync`: threat-intel management on a data directory.
//!
//! Thin: arguments in, vigil-intel calls, escaped text out. Every string that came from a feed
//! or a list (ids, package names, entry paths, skip reasons) is attacker-influenced and goes
//! through [`escape`] (text) or [`json_safe`] (JSON) before it reaches the terminal.
//!
//! Exit codes: 0 when everything asked for was done (skipped records are reported as
//! warnings, not failures: one bad record never rejects a feed); 2 when a source could not be
//! imported, a feed could not be synced (the previous intel is kept), or an id is unknown.

use std::borrow::Cow;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};
use vigil_core::Ecosystem;
use vigil_intel::store::{IntelStatus, IntelStore, SourceState};
use vigil_intel::sync::{DEFAULT_ECOSYSTEMS, Feed, FeedOutcome, SyncOptions, Syncer};
use vigil_intel::{ImportOptions, KindOverride, SkippedRecord};

use crate::Outcome;
use crate::terminal::escape;

/// Skipped records printed per source (all of them are in `status --format json`).
const SKIPPED_SHOWN: usize = 20;

#[derive(Debug, Args)]
pub struct IntelArgs {
    /// Data directory holding the intel (created on first import).
    #[arg(
        long,
        env = "VIGIL_DATA_DIR",
        default_value = "vigil-data",
        global = true
    )]
    data_dir: PathBuf,
    #[command(subcommand)]
    command: IntelCommand,
}

#[derive(Debug, Subcommand)]
enum IntelCommand {
    /// Import OSV files, directories, zips, or custom incident lists (text, CSV).
    Import {
        /// Files or directories to import; each becomes a source (re-importing replaces it).
        #[arg(required = true)]
        sources: Vec<PathBuf>,
        /// Read as this kind instead of detecting it from the extension and content.
        #[arg(long, value_enum)]
        kind: Option<KindArg>,
        /// Source name (and the <list> of CUSTOM-<list>-<n> ids); default: the file stem.
        /// Only with a single SRC.
        #[arg(long)]
        name: Option<String>,
        /// Ecosystem of list entries that do not name one.
        #[arg(long, default_value = "npm")]
        ecosystem: String,
    },
    /// Counts by ecosystem and kind, sources with their age, skipped records.
    Status {
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Print an advisory's OSV record (by id, or by alias).
    Show {
        /// Advisory id (MAL-2025-46974, GHSA-…, CUSTOM-list-1).
        id: String,
    },
    /// Fetch the configured HTTP feeds (default: OSV.dev's per-ecosystem all.zip).
    Sync {
        /// A feed as URL or NAME=URL (repeatable); replaces the default feeds.
        #[arg(long = "feed", value_name = "[NAME=]URL")]
        feeds: Vec<String>,
        /// Restrict the default OSV.dev feeds to these ecosystems (repeatable).
        #[arg(long = "ecosystem", value_name = "ECOSYSTEM")]
        ecosystems: Vec<String>,
        /// Ignore HTTP(S)_PROXY from the environment.
        #[arg(long)]
        no_proxy: bool,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum KindArg {
    Osv,
    List,
    Csv,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Table,
    Json,
}

pub fn run(args: IntelArgs) -> anyhow::Result<Outcome> {
    let store = IntelStore::new(&args.data_dir);
    match args.command {
        IntelCommand::Import {
            sources,
            kind,
            name,
            ecosystem,
        } => import(&store, &sources, kind, name, &ecosystem),
        IntelCommand::Status { format } => status(&store, format),
        IntelCommand::Show { id } => show(&store, &id),
        IntelCommand::Sync {
            feeds,
            ecosystems,
            no_proxy,
        } => sync(&store, &feeds, &ecosystems, no_proxy),
    }
}

fn import(
    store: &IntelStore,
    sources: &[PathBuf],
    kind: Option<KindArg>,
    name: Option<String>,
    ecosystem: &str,
) -> anyhow::Result<Outcome> {
    if name.is_some() && sources.len() > 1 {
        eprintln!("vigil: usage: --name applies to a single SRC; import the others separately");
        return Ok(Outcome::InputError);
    }
    let options = ImportOptions {
        default_ecosystem: Ecosystem::parse(ecosystem),
        kind: kind.map(|k| match k {
            KindArg::Osv => KindOverride::Osv,
            KindArg::List => KindOverride::List,
            KindArg::Csv => KindOverride::Csv,
        }),
        ..ImportOptions::default()
    };
    let mut failed = false;
    for path in sources {
        match store.import(path, name.as_deref(), &options) {
            Ok(state) => print_imported(&state),
            Err(e) => {
                failed = true;
                eprintln!(
                    "vigil: cannot import {}: {}; previous intel of this source kept",
                    escape(&path.display().to_string()),
                    escape(&e.to_string())
                );
            }
        }
    }
    Ok(if failed {
        Outcome::InputError
    } else {
        Outcome::Clean
    })
}

fn print_imported(state: &SourceState) {
    let (malicious, vulnerability) = state
        .by_ecosystem
        .values()
        .fold((0, 0), |(m, v), c| (m + c.malicious, v + c.vulnerability));
    println!(
        "imported {} ({}) from {}: {} advisories ({malicious} malicious, {vulnerability} vulnerability, {} withdrawn), {} skipped",
        escape(&state.name),
        state.kind.map_or("unknown", |k| k.as_str()),
        escape(&state.location),
        state.advisories,
        state.withdrawn,
        state.skipped_total,
    );
    print_skipped(&state.skipped, state.skipped_total);
}

fn print_skipped(skipped: &[SkippedRecord], total: usize) {
    for s in skipped.iter().take(SKIPPED_SHOWN) {
        eprintln!(
            "vigil: warning: skipped {}: {}",
            escape(&s.location),
            escape(&s.reason)
        );
    }
    if total > SKIPPED_SHOWN {
        eprintln!(
            "vigil: warning: … and {} more skipped (vigil intel status --format json lists them)",
            total - SKIPPED_SHOWN
        );
    }
}

fn status(store: &IntelStore, format: Format) -> anyhow::Result<Outcome> {
    let status = store.status().context("reading intel status")?;
    match format {
        Format::Json => {
            let text = serde_json::to_string_pretty(&status).context("encoding status")?;
            println!("{}", json_safe(&text));
        }
        Format::Table => print_status(&status),
    }
    for w in &status.warnings {
        eprintln!("vigil: warning: {}", escape(w));
    }
    Ok(Outcome::Clean)
}

fn print_status(status: &IntelStatus) {
    let c = &status.counts;
    println!("intel: {}", escape(&status.intel_dir));
    println!(
        "advisories: {} ({} withdrawn), {} packages",
        c.advisories, c.withdrawn, c.packages
    );
    println!();
    println!(
        "{:<16} {:>10} {:>14} {:>10}",
        "ECOSYSTEM", "MALICIOUS", "VULNERABILITY", "WITHDRAWN"
    );
    let mut ecosystems: Vec<&String> = c
        .by_ecosystem
        .keys()
        .chain(c.withdrawn_by_ecosystem.keys())
        .collect();
    ecosystems.sort();
    ecosystems.dedup();
    for e in ecosystems {
        let row = c.by_ecosystem.get(e).cloned().unwrap_or_default();
        println!(
            "{:<16} {:>10} {:>14} {:>10}",
            escape(e),
            row.malicious,
            row.vulnerability,
            c.withdrawn_by_ecosystem.get(e).copied().unwrap_or(0)
        );
    }
    println!();
    println!(
        "{:<24} {:<8} {:>10} {:>8} {:<21} {:>8}  LOCATION",
        "SOURCE", "KIND", "ADVISORIES", "SKIPPED", "IMPORTED", "AGE"
    );
    for s in &status.sources {
        println!(
            "{:<24} {:<8} {:>10} {:>8} {:<21} {:>8}  {}",
            escape(&s.name),
            s.kind,
            s.advisories,
            s.skipped_total,
            s.imported_at.as_deref().unwrap_or("-"),
            s.imported_age_seconds
                .map_or_else(|| "-".to_owned(), vigil_intel::time::format_age),
            escape(&s.location)
        );
        if let Some(checked) = &s.checked_at
            && s.checked_at != s.imported_at
        {
            println!(
                "{:<24} last confirmed current {checked} ({} ago)",
                "",
                s.checked_age_seconds
                    .map_or_else(|| "?".to_owned(), vigil_intel::time::format_age)
            );
        }
        if let Some(error) = &s.last_error {
            println!("{:<24} last sync failed: {}", "", escape(error));
        }
    }
    for s in status.sources.iter().filter(|s| s.skipped_total > 0) {
        println!();
        println!("skipped in {} ({}):", escape(&s.name), s.skipped_total);
        for k in s.skipped.iter().take(SKIPPED_SHOWN) {
            println!("  {}: {}", escape(&k.location), escape(&k.reason));
        }
        if s.skipped_total > SKIPPED_SHOWN {
            println!(
                "  … and {} more (--format json lists them)",
                s.skipped_total - SKIPPED_SHOWN
            );
        }
    }
}

fn show(store: &IntelStore, id: &str) -> anyhow::Result<Outcome> {
    let shown = store.show(id).context("reading intel")?;
    if shown.is_empty() {
        eprintln!("vigil: no advisory with id or alias {}", escape(id));
        return Ok(Outcome::InputError);
    }
    for record in shown {
        let a = &record.advisory;
        let pretty = serde_json::from_str::<serde_json::Value>(&record.raw)
            .ok()
            .and_then(|v| serde_json::to_string_pretty(&v).ok())
            .unwrap_or(record.raw);
        println!("{}", json_safe(&pretty));
        let mut note = format!(
            "vigil: {} is {} (CWEs: {}); source {} at {}",
            escape(&a.id),
            a.kind.as_str(),
            escape(&a.cwes.join(", ")),
            escape(&a.origin.source),
            escape(&a.origin.location),
        );
        if let Some(line) = a.origin.line {
            note.push_str(&format!(":{line}"));
        }
        if a.refined {
            note.push_str(
                "; matching ignores affected ranges/versions that only superseded import origins contributed",
            );
        }
        if a.is_withdrawn() {
            note.push_str("; withdrawn: never matched");
        }
        eprintln!("{note}");
    }
    Ok(Outcome::Clean)
}

fn sync(
    store: &IntelStore,
    feed_args: &[String],
    ecosystems: &[String],
    no_proxy: bool,
) -> anyhow::Result<Outcome> {
    let feeds: Vec<Feed> = if feed_args.is_empty() {
        let wanted: Vec<&str> = if ecosystems.is_empty() {
            DEFAULT_ECOSYSTEMS.to_vec()
        } else {
            let mut out = Vec::new();
            for e in ecosystems {
                let kind = Ecosystem::parse(e);
                match DEFAULT_ECOSYSTEMS
                    .iter()
                    .find(|d| Ecosystem::parse(d).kind() == kind.kind())
                {
                    Some(d) => out.push(*d),
                    None => {
                        eprintln!(
                            "vigil: usage: no default feed for ecosystem {} (defaults: {}); use --feed URL",
                            escape(e),
                            DEFAULT_ECOSYSTEMS.join(", ")
                        );
                        return Ok(Outcome::InputError);
                    }
                }
            }
            out
        };
        wanted.into_iter().map(Feed::osv_dev).collect()
    } else {
        feed_args.iter().map(|f| parse_feed(f)).collect()
    };
    let syncer = Syncer::new(SyncOptions {
        use_env_proxy: !no_proxy,
        ..SyncOptions::default()
    })?;
    let mut failed = false;
    for feed in &feeds {
        match syncer.sync(store, feed) {
            FeedOutcome::Updated(state) => print_imported(&state),
            FeedOutcome::NotModified => println!("{}: not modified", escape(&feed.name)),
            FeedOutcome::Failed(reason) => {
                failed = true;
                eprintln!(
                    "vigil: warning: feed {} ({}): {}; previous intel kept",
                    escape(&feed.name),
                    escape(&feed.url),
                    escape(&reason)
                );
            }
        }
    }
    Ok(if failed {
        Outcome::InputError
    } else {
        Outcome::Clean
    })
}

/// `NAME=URL`, or a bare URL named after its host and path.
fn parse_feed(arg: &str) -> Feed {
    match arg.split_once('=') {
        Some((name, url)) if !name.contains('/') && !name.is_empty() => Feed {
            name: name.to_owned(),
            url: url.to_owned(),
        },
        _ => {
            let name = arg
                .split_once("://")
                .map_or(arg, |(_, rest)| rest)
                .trim_end_matches('/')
                .to_owned();
            Feed {
                name,
                url: arg.to_owned(),
            }
        }
    }
}

/// JSON text with every control character escaped: serde_json escapes C0 but not DEL or the
/// C1 range, which terminals still interpret. Control characters can only appear inside JSON
/// strings, where `\uXXXX` is valid, so the result is still the same JSON.
fn json_safe(text: &str) -> Cow<'_, str> {
    if !text.chars().any(|c| c.is_control() && !matches!(c, '\n')) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if c.is_control() && c != '\n' {
            out.push_str(&format!("\\u{:04x}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_safe_keeps_json_valid() {
        let value = serde_json::json!({"name": "a\u{9b}31mb\u{7f}", "x": "\u{1b}[2J"});
        let text = serde_json::to_string_pretty(&value).unwrap();
        let safe = json_safe(&text);
        assert!(!safe.chars().any(|c| c.is_control() && c != '\n'), "{safe}");
        let back: serde_json::Value = serde_json::from_str(&safe).unwrap();
        assert_eq!(back, value);
    }

    #[test]
    fn feeds_from_arguments() {
        let cases = [
            (
                "npm=http://127.0.0.1:1/npm.zip",
                "npm",
                "http://127.0.0.1:1/npm.zip",
            ),
            (
                "https://example.com/feeds/all.zip",
                "example.com/feeds/all.zip",
                "https://example.com/feeds/all.zip",
            ),
            (
                "https://example.com/x?a=b",
                "example.com/x?a=b",
                "https://example.com/x?a=b",
            ),
        ];
        for (arg, name, url) in cases {
            let feed = parse_feed(arg);
            assert_eq!(
                (feed.name.as_str(), feed.url.as_str()),
                (name, url),
                "{arg}"
            );
        }
    }
}
