//! Python lockfiles in TOML and JSON: `poetry.lock`, `uv.lock`, `pdm.lock` (all `[[package]]`
//! tables with `name` and `version`) and `Pipfile.lock` (`default` / `develop` sections
//! mapping names to `{"version": "==1.0"}`).
//!
//! Dev-only flags: poetry 1.x `category = "dev"`, poetry 2.x and pdm `groups` without `main`
//! / `default`, uv by reachability from the project's `dev-dependencies` only (uv records
//! groups on edges, not packages), Pipfile `develop` (a package in both sections is not
//! dev-only).

use std::collections::{HashMap, HashSet};

use serde::Deserialize;
use vigil_core::{EcosystemKind, Evidence, PackageName};

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
    dependencies: Option<toml::Value>,
    #[serde(rename = "optional-dependencies")]
    optional_dependencies: Option<toml::Table>,
    #[serde(rename = "dev-dependencies")]
    dev_dependencies: Option<toml::Table>,
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
    let uv_dev = uv_dev_only(&lock.package);
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
                .is_some_and(|g| !g.is_empty() && !g.iter().any(|g| g == "default" || g == "main"));
        let dev = dev || uv_dev.contains(pypi_key(&name).as_str());
        out.push_new(EcosystemKind::PyPI, &name, &version, dev);
    }
    Ok(())
}

/// The PEP 503 matching key of a PyPI name.
fn pypi_key(name: &str) -> String {
    PackageName::new(&EcosystemKind::PyPI, name)
        .key()
        .to_string()
}

/// The project itself in uv.lock: a `virtual` or `editable` source at ".".
fn is_uv_root(package: &TomlPackage) -> bool {
    package.source.as_ref().is_some_and(|s| {
        ["virtual", "editable"]
            .iter()
            .any(|k| s.get(*k).and_then(|v| v.as_str()) == Some("."))
    })
}

/// Names listed in a uv dependency array (`[{ name = "x", … }, …]`).
fn dependency_names(value: Option<&toml::Value>) -> Vec<String> {
    value
        .and_then(toml::Value::as_array)
        .map(|deps| {
            deps.iter()
                .filter_map(|d| d.get("name").and_then(toml::Value::as_str))
                .map(pypi_key)
                .collect()
        })
        .unwrap_or_default()
}

/// uv records groups on the root's edges (`dev-dependencies`), not on packages: packages
/// reachable from the workspace members' `dependencies` and `optional-dependencies` are not
/// dev-only; the rest reachable from their `dev-dependencies` are. Names are PEP 503 keys; a
/// name resolved at several versions shares one status. Empty for poetry and pdm files (no
/// editable roots). Linear in the graph.
fn uv_dev_only(packages: &[TomlPackage]) -> HashSet<String> {
    let roots: Vec<&TomlPackage> = packages.iter().filter(|p| is_uv_root(p)).collect();
    if roots.is_empty() {
        return HashSet::new();
    }
    let mut edges: HashMap<String, Vec<String>> = HashMap::new();
    for package in packages {
        if let Some(name) = &package.name {
            edges
                .entry(pypi_key(name))
                .or_default()
                .extend(dependency_names(package.dependencies.as_ref()));
        }
    }
    let walk = |start: Vec<String>| {
        let mut seen = HashSet::new();
        let mut stack = start;
        while let Some(name) = stack.pop() {
            if seen.insert(name.clone())
                && let Some(next) = edges.get(&name)
            {
                stack.extend(next.iter().cloned());
            }
        }
        seen
    };
    let (mut prod_roots, mut dev_roots) = (Vec::new(), Vec::new());
    for root in roots {
        prod_roots.extend(dependency_names(root.dependencies.as_ref()));
        for group in root.optional_dependencies.iter().flat_map(|t| t.values()) {
            prod_roots.extend(dependency_names(Some(group)));
        }
        for group in root.dev_dependencies.iter().flat_map(|t| t.values()) {
            dev_roots.extend(dependency_names(Some(group)));
        }
    }
    let prod = walk(prod_roots);
    walk(dev_roots)
        .into_iter()
        .filter(|n| !prod.contains(n))
        .collect()
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

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::sync::Arc;

    use super::*;

    fn dev_flags(collector: &dyn Collector, text: &str) -> Vec<(String, bool)> {
        let path = Path::new("/x/lock");
        let mut out = Collected::new(Arc::from(path), collector);
        collector
            .collect(
                &SourceFile {
                    path,
                    bytes: text.as_bytes(),
                },
                &mut out,
            )
            .unwrap_or_else(|e| panic!("{e}"));
        out.packages
            .iter()
            .map(|p| (p.component.name.as_str().to_string(), p.dev))
            .collect()
    }

    #[test]
    fn uv_dev_flags_follow_the_graph() {
        let lock = r#"
version = 1
[[package]]
name = "app"
version = "0.1.0"
source = { virtual = "." }
dependencies = [{ name = "Emoji" }]
[package.dev-dependencies]
dev = [{ name = "black" }]
[[package]]
name = "black"
version = "24.10.0"
dependencies = [{ name = "click" }, { name = "typing_extensions" }]
[[package]]
name = "click"
version = "8.1.7"
[[package]]
name = "emoji"
version = "2.14.0"
dependencies = [{ name = "typing-extensions" }]
[[package]]
name = "typing-extensions"
version = "4.12.2"
"#;
        let got = dev_flags(&UvLockfile, lock);
        let want = [
            ("black", true),
            ("click", true),
            ("emoji", false),
            ("typing-extensions", false),
        ];
        assert_eq!(got, want.map(|(n, d)| (n.to_string(), d)));
    }

    #[test]
    fn poetry_and_pdm_groups() {
        let lock = r#"
[[package]]
name = "a"
version = "1"
groups = ["main"]
[[package]]
name = "b"
version = "1"
groups = ["dev", "test"]
[[package]]
name = "c"
version = "1"
groups = ["main", "dev"]
[[package]]
name = "d"
version = "1"
category = "dev"
[[package]]
name = "e"
version = "1"
groups = ["default"]
"#;
        let got = dev_flags(&PoetryLockfile, lock);
        let want = [
            ("a", false),
            ("b", true),
            ("c", false),
            ("d", true),
            ("e", false),
        ];
        assert_eq!(got, want.map(|(n, d)| (n.to_string(), d)));
    }
}
