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
//! 6.x) flags dev-only packages; 9.x dropped the flag and computing it needs the graph.

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
        let wanted = wanted_sections(text);
        let text = wanted.as_deref().unwrap_or(text);
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
        let Some(version) = lock.lockfile_version else {
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
        for (key, package) in lock.packages.0 {
            let package = package.unwrap_or_default();
            let from_key = parse_key(&key, major);
            let name = package.name.non_empty().or(from_key.map(|(n, _)| n));
            let version = package
                .version
                .non_empty()
                .or(from_key.and_then(|(_, v)| v));
            match (name, version) {
                (Some(name), Some(version)) => {
                    out.push_new(EcosystemKind::Npm, name, version, package.dev.0);
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

/// The `lockfileVersion` and `packages` top-level entries only: `importers` and `snapshots`
/// (as large as `packages` in 9.x) are never used, and YAML parsing is the cost of this
/// collector. Top-level keys of a block mapping start at column 0, so a line scan finds them.
/// `None` when the file does not look like that (flow style): then the whole text is parsed.
fn wanted_sections(text: &str) -> Option<String> {
    let mut out = String::with_capacity(text.len() / 2);
    let mut keep = false;
    let mut saw_packages = false;
    for line in text.split_inclusive('\n') {
        let top_level = !line.starts_with([' ', '\t', '#', '\n', '\r', '-']);
        if top_level {
            let key = line
                .split(':')
                .next()
                .unwrap_or("")
                .trim()
                .trim_matches(['\'', '"']);
            keep = key == "lockfileVersion" || key == "packages";
            saw_packages |= key == "packages";
        }
        if keep {
            out.push_str(line);
        }
    }
    saw_packages.then_some(out)
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
}
