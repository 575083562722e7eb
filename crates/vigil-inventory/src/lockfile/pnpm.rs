//! `pnpm-lock.yaml`, lockfileVersion 5.x, 6.x and 9.x, parsed with `serde-saphyr`.
//!
//! Each `packages` key names one resolved package; its shape depends on the version:
//! - 5.x: `/name/1.0.0`, `/@scope/name/1.0.0_peer@2.0.0`, `registry.example.com/name/1.0.0`;
//! - 6.x: `/name@1.0.0(peer@2.0.0)`, `/@scope/name@1.0.0`;
//! - 9.x: `name@1.0.0`, `@scope/name@1.0.0` (peer suffixes live under `snapshots`).
//!
//! An entry's own `name` / `version` fields win over the key (git, tarball and `file:`
//! packages carry them). Keys with no version that starts with a digit (`github.com/u/repo`,
//! `/foo/bar`) name no registry version and are skipped; a key that is not a dependency path
//! at all is reported as an error and the rest of the file is still read. `dev: true` (5.x,
//! 6.x) flags dev-only packages; 9.x dropped the flag, so it is recomputed from `importers`
//! and `snapshots` (see `dev_only_v9`).

use std::collections::{HashMap, HashSet};

use serde::Deserialize;
use vigil_core::{EcosystemKind, Evidence};

use crate::collector::{Collected, Collector, FilePattern, SourceFile};
use crate::error::CollectError;
use crate::lenient::{Entries, LenientBool, LenientString, split_name_at};

/// `pnpm-lock.yaml`. See the module doc.
#[derive(Debug, Clone, Copy)]
pub struct PnpmLockfile;

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct Lock {
    lockfile_version: Option<String>,
    packages: Entries<Option<Package>>,
    importers: Entries<Option<Importer>>,
    snapshots: Entries<Option<Snapshot>>,
}

/// 9.x: one project of the workspace and its direct dependencies.
#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct Importer {
    dependencies: Entries<Option<ImporterDependency>>,
    optional_dependencies: Entries<Option<ImporterDependency>>,
    dev_dependencies: Entries<Option<ImporterDependency>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ImporterDependency {
    version: LenientString,
}

/// 9.x: a resolved package with its peers, and what it depends on.
#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct Snapshot {
    dependencies: Entries<LenientString>,
    optional_dependencies: Entries<LenientString>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Package {
    name: LenientString,
    version: LenientString,
    dev: LenientBool,
}

impl Collector for PnpmLockfile {
    fn name(&self) -> &'static str {
        "pnpm-lock"
    }

    fn evidence(&self) -> Evidence {
        Evidence::Declared
    }

    fn patterns(&self) -> &'static [FilePattern] {
        &[FilePattern::Name("pnpm-lock.yaml")]
    }

    fn collect(&self, file: &SourceFile<'_>, out: &mut Collected) -> Result<(), CollectError> {
        let text = file.text("pnpm-lock.yaml")?;
        if text.trim().is_empty() {
            return Ok(());
        }
        // serde-saphyr's default budget (250k nodes, 1M events) is for configuration files; a
        // monorepo lockfile legitimately has millions. Scale the caps with the input, which is
        // itself capped by the size limit, so work stays linear in the file size.
        let len = text.len();
        let options = serde_saphyr::options! {
            budget: serde_saphyr::budget! {
                max_nodes: len.max(250_000),
                max_events: len.saturating_mul(2).max(1_000_000),
                max_total_scalar_bytes: len.max(64 << 20),
            },
        };
        let lock: Lock =
            serde_saphyr::from_str_with_options(text, options).map_err(|e| yaml_error(&e))?;
        let Some(version) = lock.lockfile_version.clone() else {
            return Err(CollectError::field(
                "lockfileVersion",
                "missing; not a pnpm lockfile",
            ));
        };
        let major: u32 = version
            .trim()
            .trim_matches(['\'', '"'])
            .split('.')
            .next()
            .and_then(|m| m.parse().ok())
            .unwrap_or(0);
        let dev_only = if major >= 9 {
            dev_only_v9(&lock)
        } else {
            HashSet::new()
        };
        for (key, package) in lock.packages.0 {
            let package = package.unwrap_or_default();
            let dev = package.dev.0 || dev_only.contains(key.trim_matches(['\'', '"']));
            let from_key = parse_key(&key, major);
            let name = package.name.non_empty().or(from_key.map(|(n, _)| n));
            let version = package
                .version
                .non_empty()
                .or(from_key.and_then(|(_, v)| v));
            match (name, version) {
                (Some(name), Some(version)) => {
                    out.push_new(EcosystemKind::Npm, name, version, dev);
                }
                (Some(_), None) => {} // no registry version (a git or directory dependency)
                (None, _) if key.starts_with("file:") => {
                    out.warn(CollectError::field(
                        format!("packages.{key:?}"),
                        "file dependency without a name",
                    ));
                }
                (None, _) => out.warn(CollectError::field(
                    format!("packages.{key:?}"),
                    "not a dependency path",
                )),
            }
        }
        Ok(())
    }
}

/// 9.x dropped `dev: true`; recompute it: packages reachable from the importers' production
/// and optional dependencies through `snapshots` are not dev-only; the other packages that
/// are reachable from `devDependencies` are. Keys returned are `packages` keys (`name@version`,
/// snapshot keys minus their peer suffix). Linear in the size of the graph.
fn dev_only_v9(lock: &Lock) -> HashSet<String> {
    let snapshots: HashMap<&str, &Snapshot> = lock
        .snapshots
        .0
        .iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| (k.as_str(), v)))
        .collect();
    let walk = |roots: Vec<String>| -> HashSet<String> {
        let mut seen: HashSet<String> = HashSet::new();
        let mut stack = roots;
        while let Some(key) = stack.pop() {
            if !seen.insert(key.clone()) {
                continue;
            }
            if let Some(snapshot) = snapshots.get(key.as_str()) {
                for (name, version) in snapshot
                    .dependencies
                    .0
                    .iter()
                    .chain(&snapshot.optional_dependencies.0)
                {
                    if let Some(next) = snapshot_key(name, version.as_str()) {
                        stack.push(next);
                    }
                }
            }
        }
        seen.into_iter()
            .map(|k| k.split('(').next().unwrap_or(&k).to_string())
            .collect()
    };
    let mut prod_roots = Vec::new();
    let mut dev_roots = Vec::new();
    for importer in lock.importers.0.iter().filter_map(|(_, i)| i.as_ref()) {
        for (name, dep) in importer
            .dependencies
            .0
            .iter()
            .chain(&importer.optional_dependencies.0)
        {
            prod_roots.extend(
                dep.as_ref()
                    .and_then(|d| snapshot_key(name, d.version.as_str())),
            );
        }
        for (name, dep) in &importer.dev_dependencies.0 {
            dev_roots.extend(
                dep.as_ref()
                    .and_then(|d| snapshot_key(name, d.version.as_str())),
            );
        }
    }
    let prod = walk(prod_roots);
    walk(dev_roots)
        .into_iter()
        .filter(|k| !prod.contains(k))
        .collect()
}

/// The snapshot key a dependency `name: version` points at: `name@version(peers)`, or the
/// version itself when it names another package (an alias, `string-width@4.2.3`). Workspace
/// links (`link:…`) have no snapshot.
fn snapshot_key(name: &str, version: &str) -> Option<String> {
    let version = version.trim();
    if version.is_empty() || version.starts_with("link:") {
        return None;
    }
    if !version.starts_with(|c: char| c.is_ascii_digit()) && split_name_at(version).is_some() {
        return Some(version.to_string());
    }
    Some(format!("{name}@{version}"))
}

fn yaml_error(err: &serde_saphyr::Error) -> CollectError {
    CollectError::syntax("YAML", err.to_string())
}

/// (name, version) from a `packages` key; the version is `None` when the key names none that
/// starts with a digit. `None` when the key is not a dependency path.
fn parse_key(key: &str, major: u32) -> Option<(&str, Option<&str>)> {
    let key = key.trim_matches(['\'', '"']);
    if key.starts_with("file:") {
        return None;
    }
    let numeric = |v: &str| v.starts_with(|c: char| c.is_ascii_digit());
    if major >= 6 {
        // `/name@1.0.0(peer)` (6.x) or `name@1.0.0(peer)` (9.x), possibly after a host.
        let path = key.strip_prefix('/').unwrap_or(key);
        let (name, version) = split_name_at(path)?;
        let name = strip_host(name);
        let version = version.split('(').next().unwrap_or("");
        return Some((name, Some(version).filter(|v| numeric(v))));
    }
    // 5.x: segments after the first `/` (a host or nothing) are name [scope/name] version.
    let mut parts = key.split('/');
    parts.next()?; // "" or a registry host
    let first = parts.next()?;
    let name_end = if first.starts_with('@') {
        let second = parts.next()?;
        first.len() + 1 + second.len()
    } else {
        first.len()
    };
    let after_host = key.get(key.find('/')? + 1..)?;
    let name = after_host.get(..name_end)?;
    let version = parts.next().map(|v| v.split('_').next().unwrap_or(""));
    Some((name, version.filter(|v| numeric(v))))
}

/// `registry.example.com/@s/a` → `@s/a` for 6.x keys that carry a host.
fn strip_host(name: &str) -> &str {
    if name.starts_with('@') || !name.contains('/') {
        return name;
    }
    match name.find("/@") {
        Some(i) => name.get(i + 1..).unwrap_or(name),
        None => name.rsplit('/').next().unwrap_or(name),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys() {
        type Parsed<'a> = Option<(&'a str, Option<&'a str>)>;
        let cases: &[(&str, u32, Parsed<'_>)] = &[
            ("/foo/1.0.0", 5, Some(("foo", Some("1.0.0")))),
            ("/@foo/bar/1.0.0", 5, Some(("@foo/bar", Some("1.0.0")))),
            (
                "registry.npmjs.org/foo/1.1.0",
                5,
                Some(("foo", Some("1.1.0"))),
            ),
            (
                "registry.npmjs.org/@foo/bar/1.1.0",
                5,
                Some(("@foo/bar", Some("1.1.0"))),
            ),
            (
                "/foo/1.4.0_@types+babel__core@7.1.14",
                5,
                Some(("foo", Some("1.4.0"))),
            ),
            ("github.com/kevva/is-positive", 5, Some(("kevva", None))),
            ("/foo/bar", 5, Some(("foo", None))),
            ("invalidpath", 5, None),
            ("/acorn@8.7.0", 6, Some(("acorn", Some("8.7.0")))),
            (
                "/@s/a@1.0.0(react@18.2.0)",
                6,
                Some(("@s/a", Some("1.0.0"))),
            ),
            ("acorn@8.11.3", 9, Some(("acorn", Some("8.11.3")))),
            ("'@s/a@5.62.0'", 9, Some(("@s/a", Some("5.62.0")))),
            (
                "ansi-regex@https://codeload.github.com/x",
                9,
                Some(("ansi-regex", None)),
            ),
        ];
        for (key, major, want) in cases {
            assert_eq!(parse_key(key, *major), *want, "{key}");
        }
    }

    #[test]
    fn v9_dev_flags_from_the_graph() {
        let yaml = "lockfileVersion: '9.0'
importers:
  .:
    dependencies:
      a:
        specifier: ^1.0.0
        version: 1.0.0
    devDependencies:
      b:
        specifier: ^1.0.0
        version: 1.0.0(a@1.0.0)
      c:
        specifier: npm:real-c@^2
        version: real-c@2.0.0
packages:
  a@1.0.0:
    resolution: {integrity: x}
  b@1.0.0:
    resolution: {integrity: x}
  shared@1.0.0:
    resolution: {integrity: x}
  d@1.0.0:
    resolution: {integrity: x}
  real-c@2.0.0:
    resolution: {integrity: x}
snapshots:
  a@1.0.0:
    dependencies:
      shared: 1.0.0
  b@1.0.0(a@1.0.0):
    dependencies:
      shared: 1.0.0
      d: 1.0.0
  shared@1.0.0: {}
  d@1.0.0: {}
  real-c@2.0.0: {}
";
        let path = std::path::Path::new("/x/pnpm-lock.yaml");
        let mut out = Collected::new(std::sync::Arc::from(path), &PnpmLockfile);
        PnpmLockfile
            .collect(
                &SourceFile {
                    path,
                    bytes: yaml.as_bytes(),
                },
                &mut out,
            )
            .unwrap_or_else(|e| panic!("{e}"));
        let got: Vec<(String, bool)> = out
            .packages
            .iter()
            .map(|p| (p.component.name.as_str().to_string(), p.dev))
            .collect();
        let want = [
            ("a", false),
            ("b", true),
            ("shared", false),
            ("d", true),
            ("real-c", true),
        ];
        assert_eq!(got, want.map(|(n, d)| (n.to_string(), d)));
    }
}
