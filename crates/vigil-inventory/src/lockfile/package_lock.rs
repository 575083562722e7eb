//! npm lockfiles: `package-lock.json` (lockfileVersion 1–3) and `npm-shrinkwrap.json`.
//!
//! v2 and v3 list every installed location under `packages` (`node_modules/a/node_modules/b`):
//! the name is the entry's `name` (set for aliases) or the path after the last
//! `node_modules/`; `link: true` entries (workspace symlinks) are skipped — their target has its
//! own entry — and the root (`""`) is the project itself. v1 nests `dependencies`; there the
//! key is the name, `npm:name@version` alias versions are unwrapped, and git/file/URL versions
//! are reported with an empty version (the lockfile holds no registry version for them). `dev:
//! true` flags dev-only packages.
//!
//! `node_modules/.package-lock.json` (npm's hidden lockfile) is **not** claimed: it describes
//! what is installed in that same `node_modules`, where the installed-package collector already
//! reads each `package.json` — the files themselves, which a worm or a manual edit changes
//! without touching the hidden lockfile. Reading both would report every package twice under
//! two evidences. It is read for one thing only: the `dev` flags it records, which
//! `installed::npm::flag_dev_from_hidden_lockfiles` copies onto the installed packages.

use serde::Deserialize;
use vigil_core::{EcosystemKind, Evidence};

use crate::collector::{Collected, Collector, FilePattern, SourceFile};
use crate::error::CollectError;
use crate::lenient::{Entries, LenientBool, LenientString, split_name_at};

/// `package-lock.json` / `npm-shrinkwrap.json`. See the module doc.
#[derive(Debug, Clone, Copy)]
pub struct NpmLockfile;

#[derive(Deserialize)]
struct Lock {
    #[serde(default)]
    packages: Option<Entries<Package>>,
    #[serde(default)]
    dependencies: Entries<V1Dependency>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Package {
    name: LenientString,
    version: LenientString,
    link: LenientBool,
    dev: LenientBool,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct V1Dependency {
    version: LenientString,
    dev: LenientBool,
    dependencies: Entries<V1Dependency>,
}

impl Collector for NpmLockfile {
    fn name(&self) -> &'static str {
        "package-lock"
    }

    fn evidence(&self) -> Evidence {
        Evidence::Declared
    }

    fn patterns(&self) -> &'static [FilePattern] {
        &[
            FilePattern::Name("package-lock.json"),
            FilePattern::Name("npm-shrinkwrap.json"),
        ]
    }

    fn collect(&self, file: &SourceFile<'_>, out: &mut Collected) -> Result<(), CollectError> {
        let bytes = file
            .bytes
            .strip_prefix(b"\xEF\xBB\xBF")
            .unwrap_or(file.bytes);
        let lock: Lock = serde_json::from_slice(bytes)
            .map_err(|e| CollectError::json("package-lock.json", &e))?;
        match lock.packages {
            Some(packages) if !packages.0.is_empty() => {
                for (path, package) in packages.0 {
                    if path.is_empty() || package.link.0 {
                        continue;
                    }
                    let name = match package.name.non_empty() {
                        Some(name) => name,
                        None => name_from_path(&path),
                    };
                    out.push_new(
                        EcosystemKind::Npm,
                        name,
                        package.version.as_str(),
                        package.dev.0,
                    );
                }
            }
            _ => collect_v1(&lock.dependencies, out, 0),
        }
        Ok(())
    }
}

/// The install paths (`node_modules/a/node_modules/b`) a v2/v3 lockfile marks `dev: true`.
/// Used with npm's hidden lockfile to flag installed packages; see
/// [`crate::installed::npm::flag_dev_from_hidden_lockfiles`].
pub fn dev_install_paths(bytes: &[u8]) -> Result<std::collections::HashSet<String>, CollectError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let lock: Lock =
        serde_json::from_slice(bytes).map_err(|e| CollectError::json(".package-lock.json", &e))?;
    Ok(lock
        .packages
        .map(|p| {
            p.0.into_iter()
                .filter(|(_, pkg)| pkg.dev.0)
                .map(|(path, _)| path)
                .collect()
        })
        .unwrap_or_default())
}

/// v1 trees nest one level per `node_modules`; real ones stay far below this depth.
const MAX_V1_DEPTH: usize = 256;

fn collect_v1(deps: &Entries<V1Dependency>, out: &mut Collected, depth: usize) {
    if depth > MAX_V1_DEPTH {
        out.warn(CollectError::field(
            "dependencies",
            "nested deeper than 256 levels; rest skipped",
        ));
        return;
    }
    for (key, dep) in &deps.0 {
        let version = dep.version.as_str();
        let (name, version) = match version.strip_prefix("npm:").and_then(split_name_at) {
            Some((real, version)) => (real, version),
            None if is_registry_version(version) => (key.as_str(), version),
            None => (key.as_str(), ""),
        };
        out.push_new(EcosystemKind::Npm, name, version, dep.dev.0);
        collect_v1(&dep.dependencies, out, depth + 1);
    }
}

/// A version from the registry, as opposed to a git, file, link or tarball URL spec.
fn is_registry_version(version: &str) -> bool {
    !version.contains(':') && !version.contains('/')
}

/// `node_modules/a/node_modules/@s/b` → `@s/b`; a workspace path `packages/x` → `x`.
fn name_from_path(path: &str) -> &str {
    match path.rfind("node_modules/") {
        Some(i) => path.get(i + "node_modules/".len()..).unwrap_or(path),
        None => path.rsplit('/').next().unwrap_or(path),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_from_paths() {
        assert_eq!(name_from_path("node_modules/a"), "a");
        assert_eq!(name_from_path("node_modules/a/node_modules/@s/b"), "@s/b");
        assert_eq!(name_from_path("deps/etag"), "etag");
        assert_eq!(name_from_path("x"), "x");
    }
}
