//! Alpine-family OS packages: apk's database `lib/apk/db/installed` — blank-line separated
//! records of one-letter fields; `P:` is the package name and `V:` its version. The ecosystem
//! is `Alpine:v<major>.<minor>` from the root's os-release (`VERSION_ID=3.18.4` → `v3.18`),
//! or the matching family member (`wolfi`, `chainguard`), plain `Alpine` when unknown.

use std::path::Path;

use vigil_core::{Component, Ecosystem, EcosystemKind, Evidence};

use crate::collector::{Collected, Collector, FilePattern, SourceFile};
use crate::error::CollectError;
use crate::installed::dpkg::paragraphs;
use crate::installed::os_release::OsRelease;

/// apk's installed database. See the module doc.
#[derive(Debug, Clone, Copy)]
pub struct InstalledApkPackages;

impl Collector for InstalledApkPackages {
    fn name(&self) -> &'static str {
        "apk-installed"
    }

    fn evidence(&self) -> Evidence {
        Evidence::Installed
    }

    fn patterns(&self) -> &'static [FilePattern] {
        &[FilePattern::InDir("db", "installed")]
    }

    fn accepts(&self, path: &Path) -> bool {
        path.file_name().is_some_and(|n| n == "installed")
            && path
                .parent()
                .and_then(Path::parent)
                .and_then(Path::file_name)
                .is_some_and(|g| g == "apk")
    }

    fn size_limit(&self) -> u64 {
        256 << 20
    }

    fn collect(&self, file: &SourceFile<'_>, out: &mut Collected) -> Result<(), CollectError> {
        let ecosystem = alpine_ecosystem(file.path);
        let text = String::from_utf8_lossy(file.bytes);
        let mut valid_lines = 0;
        for record in paragraphs(&text, out, "apk installed", &mut valid_lines) {
            let (Some(name), Some(version)) = (record.get("P"), record.get("V")) else {
                continue;
            };
            if !name.is_empty() && !version.is_empty() {
                out.push(Component::new(ecosystem.clone(), name, version), false);
            }
        }
        if valid_lines == 0 && !text.trim().is_empty() {
            return Err(CollectError::syntax("apk installed", "no `X:value` lines"));
        }
        Ok(())
    }
}

fn alpine_ecosystem(path: &Path) -> Ecosystem {
    let Some(release) = OsRelease::for_database(path, &["lib", "apk", "db"]) else {
        return Ecosystem::new(EcosystemKind::Alpine);
    };
    match release.id.as_str() {
        "wolfi" => Ecosystem::new(EcosystemKind::Wolfi),
        "chainguard" => Ecosystem::new(EcosystemKind::Chainguard),
        _ => {
            let mut parts = release.version_id.split('.');
            match (parts.next(), parts.next()) {
                (Some(major), Some(minor)) if !major.is_empty() => {
                    Ecosystem::parse(&format!("Alpine:v{major}.{minor}"))
                }
                _ => Ecosystem::new(EcosystemKind::Alpine),
            }
        }
    }
}
