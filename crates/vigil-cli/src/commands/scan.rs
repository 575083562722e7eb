//! `vigil scan [PATH...]`: one-shot inventory + matching, rendered in the chosen format.
//!
//! The work is vigil-scan's; this module turns arguments into its inputs, picks colour (only
//! on a terminal, never with `NO_COLOR`), writes to stdout or `-o FILE`, and maps the result
//! onto exit codes: 1 when findings reach `--fail-on`, 2 when an input could not be used.

use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use vigil_core::Ecosystem;
use vigil_intel::ImportOptions;
use vigil_intel::time::Timestamp;
use vigil_inventory::ScanOptions;
use vigil_report::{Format, TableOptions, Tool};
use vigil_scan::{FailOn, RunInfo, ScanFailure};

use crate::Outcome;
use crate::terminal::escape;

#[derive(Debug, Args)]
pub struct ScanArgs {
    /// Files or directories to scan.
    #[arg(default_value = ".")]
    paths: Vec<PathBuf>,
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
    let options = ScanOptions {
        follow_symlinks: args.follow_symlinks,
        excludes: args.exclude.clone(),
        declared_in_package_trees: args.include_package_lockfiles,
        ..ScanOptions::default()
    };
    let inventory = match vigil_scan::inventory(&args.paths, &options) {
        Ok(inventory) => inventory,
        Err(err) => return input_error(&err),
    };
    let findings = vigil_scan::match_packages(&intel.index, &inventory.packages);
    let report = vigil_scan::build_report(
        RunInfo {
            tool: Tool {
                name: "vigil".to_owned(),
                version: env!("CARGO_PKG_VERSION").to_owned(),
            },
            targets: args.paths.iter().map(|p| p.display().to_string()).collect(),
            started: started.to_rfc3339(),
            finished: Timestamp::now().to_rfc3339(),
        },
        &inventory,
        findings,
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
