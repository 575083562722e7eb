//! `vigil scan … --save`: the scan is also recorded as an inventory snapshot of this host in
//! the data directory's store (vigil-server's [`vigil_server::save::record_scan`]: the same
//! ingest and detection path as an agent snapshot). `VIGIL_CONFIG` may name the host
//! (`[agent] host_name`) and the store (`[store] url`).

use std::path::{Path, PathBuf};

use vigil_inventory::FoundPackage;

use super::target::load_config;
use crate::Outcome;
use crate::terminal::escape;

/// Saves the scan; `Some(outcome)` when it could not be (the caller returns it).
pub fn save(
    data_dir: &Path,
    roots: &[PathBuf],
    packages: Vec<FoundPackage>,
    quiet: bool,
) -> anyhow::Result<Option<Outcome>> {
    let config_file = std::env::var_os("VIGIL_CONFIG").map(PathBuf::from);
    let Some(config) = load_config(config_file.as_deref()) else {
        return Ok(Some(Outcome::InputError));
    };
    let report = vigil_server::save::record_scan(data_dir, config, roots, packages)?;
    if !quiet {
        eprintln!(
            "vigil: saved as snapshot {} of host {:?} in {}: {} new, {} changed, {} gone; findings: {} new, {} re-opened",
            report.sequence,
            escape(&report.host),
            escape(&data_dir.display().to_string()),
            report.new,
            report.changed,
            report.gone,
            report.findings.created,
            report.findings.reopened
        );
    }
    Ok(None)
}
