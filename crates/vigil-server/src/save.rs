//! `vigil scan … --save`: records a one-shot scan as an inventory snapshot of this host in a
//! data directory's store, through the same [`Detector::ingest`] an agent snapshot takes, so
//! findings, security events and workflow tasks are created exactly as for an agent.
//!
//! A scan covers only the paths it was given, so it is saved as a **delta** of this host:
//! what the scan found is added or refreshed, and instances of this host stored under the
//! scanned roots that the scan no longer finds are removed. Everything else the host has
//! (another scan's paths, the local agent's) is left alone.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use vigil_inventory::FoundPackage;
use vigil_store::{InstanceKey, Removals, Snapshot, SnapshotKind, Timestamp};

use crate::agent::{instances_from_found, take_sequence, this_host};
use crate::config::Config;
use crate::engine::{DetectionSettings, Detector, IngestReport};
use crate::intel::IntelState;
use crate::metrics::Metrics;
use crate::service::{StartError, open_store};

/// Why the scan was not saved.
#[derive(Debug, thiserror::Error)]
pub enum SaveError {
    /// The store or the intel could not be opened.
    #[error(transparent)]
    Open(#[from] StartError),
    /// The store refused.
    #[error(transparent)]
    Store(#[from] vigil_store::StoreError),
}

fn absolute(path: &Path, cwd: &Path) -> PathBuf {
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        cwd.join(path)
    }
}

/// Saves what a scan of `roots` found as a snapshot of this host (`[agent] host_name`, else
/// the system's name) in the store of `data_dir` (or `[store] url`).
pub fn record_scan(
    data_dir: &Path,
    config: Config,
    roots: &[PathBuf],
    packages: Vec<FoundPackage>,
) -> Result<IngestReport, SaveError> {
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
    let mut instances = instances_from_found(packages);
    for i in &mut instances {
        i.path = absolute(Path::new(&i.path), &cwd).display().to_string();
    }
    let roots: Vec<PathBuf> = roots
        .iter()
        .map(|r| std::fs::canonicalize(r).unwrap_or_else(|_| absolute(r, &cwd)))
        .chain(roots.iter().map(|r| absolute(r, &cwd)))
        .collect();

    let store = Arc::new(open_store(config.store.url.as_deref(), data_dir)?);
    let (intel, _warnings) = IntelState::open(data_dir).map_err(StartError::from)?;
    let detector = Detector::new(
        Arc::clone(&store),
        Arc::new(intel),
        Arc::new(config.workflows),
        DetectionSettings {
            grace_period: config.detection.grace_period,
        },
        Arc::new(Metrics::default()),
    );
    let now = Timestamp::now();
    detector.sync_intel(now)?;

    let host = this_host(config.agent.host_name, "vigil-scan");
    let stored = store.host(&host.name)?;
    let mut removed = Vec::new();
    if let Some(record) = &stored {
        let found: std::collections::HashSet<(String, String)> = instances
            .iter()
            .map(|i| (i.component.to_string(), i.path.clone()))
            .collect();
        for old in store.instances_on_host(record.id, false)? {
            let under = roots.iter().any(|r| Path::new(&old.path).starts_with(r));
            if under
                && old.container.is_none()
                && !found.contains(&(old.component.to_string(), old.path.clone()))
            {
                removed.push(InstanceKey {
                    component: old.component,
                    container_id: None,
                    path: old.path,
                });
            }
        }
    }
    let mut next = stored
        .and_then(|h| h.last_sequence)
        .unwrap_or(0)
        .saturating_add(1);
    let snapshot = Snapshot {
        host,
        sequence: take_sequence(&mut next),
        kind: SnapshotKind::Delta(Removals {
            instances: removed,
            ..Removals::default()
        }),
        containers: Vec::new(),
        processes: Vec::new(),
        instances,
    };
    Ok(detector.ingest(&snapshot, Timestamp::now())?)
}
