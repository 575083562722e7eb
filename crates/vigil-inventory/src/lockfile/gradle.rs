//! Gradle dependency locks: `gradle.lockfile`, `buildscript-gradle.lockfile` and the older
//! per-configuration `gradle/dependency-locks/*.lockfile`. One `group:artifact:version=configs`
//! per line; `#` comments and the `empty=` line are skipped. Packages locked only for test
//! configurations (`testCompileClasspath`, …) are flagged dev-only.

use vigil_core::{EcosystemKind, Evidence};

use crate::collector::{Collected, Collector, FilePattern, SourceFile};
use crate::error::CollectError;

/// Gradle lockfiles. See the module doc.
#[derive(Debug, Clone, Copy)]
pub struct GradleLockfile;

impl Collector for GradleLockfile {
    fn name(&self) -> &'static str {
        "gradle-lockfile"
    }

    fn evidence(&self) -> Evidence {
        Evidence::Declared
    }

    fn patterns(&self) -> &'static [FilePattern] {
        &[FilePattern::Suffix(".lockfile")]
    }

    fn accepts(&self, path: &std::path::Path) -> bool {
        let name = path
            .file_name()
            .map(|n| n.as_encoded_bytes())
            .unwrap_or_default();
        name.ends_with(b"gradle.lockfile")
            || path
                .parent()
                .and_then(|p| p.file_name())
                .is_some_and(|d| d == "dependency-locks")
    }

    fn collect(&self, file: &SourceFile<'_>, out: &mut Collected) -> Result<(), CollectError> {
        let text = file.text("gradle.lockfile")?;
        for (index, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with("empty=") {
                continue;
            }
            let (coordinates, configurations) = line.split_once('=').unwrap_or((line, ""));
            let mut parts = coordinates.split(':');
            let (Some(group), Some(artifact), Some(version)) =
                (parts.next(), parts.next(), parts.next())
            else {
                out.warn(CollectError::syntax_at(
                    "gradle.lockfile",
                    index + 1,
                    "expected group:artifact:version",
                ));
                continue;
            };
            let dev = !configurations.is_empty()
                && configurations
                    .split(',')
                    .all(|c| c.trim().to_ascii_lowercase().contains("test"));
            out.push_new(
                EcosystemKind::Maven,
                &format!("{group}:{artifact}"),
                version,
                dev,
            );
        }
        Ok(())
    }
}
