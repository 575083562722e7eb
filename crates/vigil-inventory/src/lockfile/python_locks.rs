//! Python lockfiles in TOML and JSON: `poetry.lock`, `uv.lock`, `pdm.lock` (all `[[package]]`
//! tables with `name` and `version`) and `Pipfile.lock` (`default` / `develop` sections
//! mapping names to `{"version": "==1.0"}`).
//!
//! Dev-only flags: poetry 1.x `category = "dev"`, pdm `groups` without `default`, Pipfile
//! `develop` (a package in both sections is not dev-only). poetry 2 and uv record groups on
//! the dependency edges, not on packages; computing them needs the graph and is not done.

use serde::Deserialize;
use vigil_core::{EcosystemKind, Evidence};

use crate::collector::{Collected, Collector, FilePattern, SourceFile};
use crate::error::CollectError;
use crate::lenient::{Entries, LenientString};

/// One `[[package]]` table of poetry.lock, uv.lock or pdm.lock.
#[derive(Deserialize, Default)]
#[serde(default)]
struct TomlPackage {
    name: Option<String>,
    version: Option<String>,
    category: Option<String>,
    groups: Option<Vec<String>>,
    source: Option<toml::Table>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct TomlLock {
    package: Vec<TomlPackage>,
}

fn collect_toml_packages(
    file: &SourceFile<'_>,
    format: &'static str,
    out: &mut Collected,
) -> Result<(), CollectError> {
    let text = file.text(format)?;
    let lock: TomlLock = toml::from_str(text).map_err(|e| CollectError::toml(format, &e))?;
    for (index, package) in lock.package.into_iter().enumerate() {
        let (Some(name), Some(version)) = (package.name, package.version) else {
            out.warn(CollectError::field(
                format!("package[{index}]"),
                "missing name or version",
            ));
            continue;
        };
        // uv lists the project itself as a `virtual` / `editable` source at ".".
        let is_root = package.source.as_ref().is_some_and(|s| {
            ["virtual", "editable"]
                .iter()
                .any(|k| s.get(*k).and_then(|v| v.as_str()) == Some("."))
        });
        if is_root {
            continue;
        }
        let dev = package.category.as_deref() == Some("dev")
            || package
                .groups
                .as_ref()
                .is_some_and(|g| !g.is_empty() && !g.iter().any(|g| g == "default"));
        out.push_new(EcosystemKind::PyPI, &name, &version, dev);
    }
    Ok(())
}

macro_rules! toml_lock_collector {
    ($(#[$doc:meta])* $ty:ident, $name:literal, $file:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy)]
        pub struct $ty;

        impl Collector for $ty {
            fn name(&self) -> &'static str {
                $name
            }
            fn evidence(&self) -> Evidence {
                Evidence::Declared
            }
            fn patterns(&self) -> &'static [FilePattern] {
                &[FilePattern::Name($file)]
            }
            fn collect(&self, file: &SourceFile<'_>, out: &mut Collected) -> Result<(), CollectError> {
                collect_toml_packages(file, $file, out)
            }
        }
    };
}

toml_lock_collector!(
    /// `poetry.lock`.
    PoetryLockfile, "poetry-lock", "poetry.lock"
);
toml_lock_collector!(
    /// `uv.lock`.
    UvLockfile, "uv-lock", "uv.lock"
);
toml_lock_collector!(
    /// `pdm.lock`.
    PdmLockfile, "pdm-lock", "pdm.lock"
);

/// `Pipfile.lock`. See the module doc.
#[derive(Debug, Clone, Copy)]
pub struct PipfileLockfile;

#[derive(Deserialize, Default)]
#[serde(default)]
struct Pipfile {
    default: Entries<PipfileEntry>,
    develop: Entries<PipfileEntry>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct PipfileEntry {
    version: LenientString,
}

impl Collector for PipfileLockfile {
    fn name(&self) -> &'static str {
        "pipfile-lock"
    }

    fn evidence(&self) -> Evidence {
        Evidence::Declared
    }

    fn patterns(&self) -> &'static [FilePattern] {
        &[FilePattern::Name("Pipfile.lock")]
    }

    fn collect(&self, file: &SourceFile<'_>, out: &mut Collected) -> Result<(), CollectError> {
        let bytes = file
            .bytes
            .strip_prefix(b"\xEF\xBB\xBF")
            .unwrap_or(file.bytes);
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(());
        }
        let lock: Pipfile =
            serde_json::from_slice(bytes).map_err(|e| CollectError::json("Pipfile.lock", &e))?;
        for (section, dev) in [(&lock.default, false), (&lock.develop, true)] {
            for (name, entry) in &section.0 {
                // Git and path entries carry no version: nothing to report.
                let Some(version) = entry.version.non_empty() else {
                    continue;
                };
                let version = version
                    .strip_prefix("===")
                    .or_else(|| version.strip_prefix("=="))
                    .unwrap_or(version);
                out.push_new(EcosystemKind::PyPI, name, version, dev);
            }
        }
        Ok(())
    }
}
