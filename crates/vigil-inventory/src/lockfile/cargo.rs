//! `Cargo.lock`: every `[[package]]` with `name` and `version` (registry, git and path
//! packages alike; the workspace's own crates are path packages and are included, as osv-scalibr
//! does, since they are built into the artifact).

use serde::Deserialize;
use vigil_core::{EcosystemKind, Evidence};

use crate::collector::{Collected, Collector, FilePattern, SourceFile};
use crate::error::CollectError;

/// `Cargo.lock`. See the module doc.
#[derive(Debug, Clone, Copy)]
pub struct CargoLockfile;

#[derive(Deserialize, Default)]
#[serde(default)]
struct Lock {
    package: Vec<Package>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Package {
    name: Option<String>,
    version: Option<String>,
}

impl Collector for CargoLockfile {
    fn name(&self) -> &'static str {
        "cargo-lock"
    }

    fn evidence(&self) -> Evidence {
        Evidence::Declared
    }

    fn patterns(&self) -> &'static [FilePattern] {
        &[FilePattern::Name("Cargo.lock")]
    }

    fn collect(&self, file: &SourceFile<'_>, out: &mut Collected) -> Result<(), CollectError> {
        let text = file.text("Cargo.lock")?;
        let lock: Lock = toml::from_str(text).map_err(|e| CollectError::toml("Cargo.lock", &e))?;
        for (index, package) in lock.package.into_iter().enumerate() {
            match (package.name, package.version) {
                (Some(name), Some(version)) => {
                    out.push_new(EcosystemKind::CratesIo, &name, &version, false)
                }
                _ => out.warn(CollectError::field(
                    format!("package[{index}]"),
                    "missing name or version",
                )),
            }
        }
        Ok(())
    }
}
