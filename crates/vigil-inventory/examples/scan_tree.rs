//! Times a scan: `cargo run --release -p vigil-inventory --example scan_tree -- PATH... [--threads N]
//! [--follow] [--exclude GLOB] [--list] [--errors]`. Prints counts per collector, distinct
//! (ecosystem, name, version), errors and elapsed wall time.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::ExitCode;

use vigil_inventory::{Registry, ScanOptions, scan};

fn main() -> ExitCode {
    let mut roots = Vec::new();
    let mut options = ScanOptions::default();
    let (mut list, mut show_errors) = (false, false);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--threads" => options.threads = args.next().and_then(|n| n.parse().ok()).unwrap_or(0),
            "--follow" => options.follow_symlinks = true,
            "--exclude" => options.excludes.extend(args.next()),
            "--list" => list = true,
            "--errors" => show_errors = true,
            _ => roots.push(PathBuf::from(arg)),
        }
    }
    if roots.is_empty() {
        roots.push(PathBuf::from("."));
    }
    let registry = Registry::default();
    let report = match scan(&roots, &registry, &options) {
        Ok(report) => report,
        Err(err) => {
            eprintln!("scan_tree: {err}");
            return ExitCode::from(2);
        }
    };
    let mut per_collector: BTreeMap<&str, (usize, BTreeSet<String>)> = BTreeMap::new();
    for p in &report.packages {
        let entry = per_collector.entry(p.collector).or_default();
        entry.0 += 1;
        entry.1.insert(format!(
            "{}\t{}\t{}",
            p.component.ecosystem,
            p.component.name.key(),
            p.component.version
        ));
        if list {
            println!(
                "{}\t{}\t{}\t{}\t{:?}",
                p.evidence, p.component.ecosystem, p.component.name, p.component.version, p.path
            );
        }
    }
    for (collector, (n, distinct)) in &per_collector {
        println!(
            "{collector}: {n} instances, {} distinct (name, version)",
            distinct.len()
        );
    }
    if show_errors {
        for e in &report.errors {
            println!("error: {e}");
        }
    }
    println!(
        "total: {} packages, {} errors; {} dirs, {} files, {} claimed; {:.3} s",
        report.packages.len(),
        report.errors.len(),
        report.stats.dirs,
        report.stats.files,
        report.stats.claimed,
        report.stats.elapsed.as_secs_f64()
    );
    ExitCode::SUCCESS
}
