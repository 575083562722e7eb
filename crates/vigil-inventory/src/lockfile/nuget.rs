//! NuGet `packages.lock.json`: `dependencies` → target framework → package → `resolved`
//! version. `Project` entries (project references) are the solution's own code and skipped.
//! The same package under several frameworks is reported once (same path, same component).

use serde::Deserialize;
use vigil_core::{EcosystemKind, Evidence};

use crate::collector::{Collected, Collector, FilePattern, SourceFile};
use crate::error::CollectError;
use crate::lenient::{Entries, LenientString};

/// `packages.lock.json`. See the module doc.
#[derive(Debug, Clone, Copy)]
pub struct NugetLockfile;

#[derive(Deserialize, Default)]
#[serde(default)]
struct Lock {
    dependencies: Entries<Entries<Dependency>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Dependency {
    #[serde(rename = "type")]
    kind: LenientString,
    resolved: LenientString,
}

impl Collector for NugetLockfile {
    fn name(&self) -> &'static str {
        "nuget-lock"
    }

    fn evidence(&self) -> Evidence {
        Evidence::Declared
    }

    fn patterns(&self) -> &'static [FilePattern] {
        &[FilePattern::Name("packages.lock.json")]
    }

    fn collect(&self, file: &SourceFile<'_>, out: &mut Collected) -> Result<(), CollectError> {
        let bytes = file
            .bytes
            .strip_prefix(b"\xEF\xBB\xBF")
            .unwrap_or(file.bytes);
        let lock: Lock = serde_json::from_slice(bytes)
            .map_err(|e| CollectError::json("packages.lock.json", &e))?;
        for (_framework, packages) in lock.dependencies.0 {
            for (name, dependency) in packages.0 {
                if dependency.kind.as_str().eq_ignore_ascii_case("project") {
                    continue;
                }
                out.push_new(
                    EcosystemKind::NuGet,
                    &name,
                    dependency.resolved.as_str(),
                    false,
                );
            }
        }
        Ok(())
    }
}
