//! conda packages: `conda-meta/<name>-<version>-<build>.json`, one JSON record per package
//! installed in a conda environment (`name`, `version`, `build`, `channel`, …).
//!
//! They are reported in the `conda` ecosystem (unknown to OSV, kept as given): a conda package
//! is a binary build, not necessarily the PyPI distribution of the same name. Python packages
//! that conda installs also leave a `*.dist-info` in `site-packages`, which the Python
//! collector reports under PyPI.

use std::path::Path;

use serde::Deserialize;
use vigil_core::{EcosystemKind, Evidence};

use crate::collector::{Collected, Collector, FilePattern, SourceFile};
use crate::error::CollectError;

/// One conda-meta record; the big `files` / `paths_data` lists are skipped unparsed.
#[derive(Deserialize)]
struct Record {
    name: Option<String>,
    version: Option<String>,
}

/// conda environments' package records. See the module doc.
#[derive(Debug, Clone, Copy)]
pub struct InstalledCondaPackages;

impl Collector for InstalledCondaPackages {
    fn name(&self) -> &'static str {
        "conda-installed"
    }

    fn evidence(&self) -> Evidence {
        Evidence::Installed
    }

    fn patterns(&self) -> &'static [FilePattern] {
        &[FilePattern::InDir("conda-meta", ".json")]
    }

    fn accepts(&self, path: &Path) -> bool {
        // `history` and other non-package files in conda-meta are not `.json`.
        path.file_name().is_some_and(|n| n.len() > ".json".len())
    }

    fn collect(&self, file: &SourceFile<'_>, out: &mut Collected) -> Result<(), CollectError> {
        let record: Record = serde_json::from_slice(file.bytes)
            .map_err(|e| CollectError::json("conda-meta JSON", &e))?;
        match (record.name, record.version) {
            (Some(name), Some(version)) if !name.is_empty() && !version.is_empty() => {
                out.push_new(EcosystemKind::Other("conda".into()), &name, &version, false);
                Ok(())
            }
            _ => Err(CollectError::field(
                "name/version",
                "missing from the conda-meta record",
            )),
        }
    }
}
