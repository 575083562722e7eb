//! [`InventoryMetadata`]: the [`PackageMetadata`] readers, built on `vigil-inventory`'s parsers.
//!
//! A file a process loaded is attributed to a package by reading that package's metadata, in
//! exactly the formats the on-disk inventory reads: `package.json` (name, version, and the
//! same validity rules: no templates, no VS Code extensions), core metadata (`METADATA`,
//! `PKG-INFO`), and `pom.properties` inside Java archives (nested archives included). Using
//! the inventory's parsers means a package at a path gets the *same* identity whether the
//! path scan or the process scan finds it, so the two merge into one instance; it also keeps
//! one copy of each parser (and of its hardening: capped, non-blocking reads of regular files
//! only, so a FIFO or `/dev/zero` planted by a hostile process cannot hang or exhaust vigil).
//!
//! What is only here: the `RECORD` and `top_level.txt` files of a distribution, which the
//! inventory has no use for (it reports distributions, not the files they own).
//!
//! Cost: one directory listing per site-packages directory and three small reads per
//! distribution in it, done once per (mount namespace, directory) by
//! [`OwnerResolver`](crate::OwnerResolver)'s cache.

use std::path::Path;

use vigil_inventory::collector::read_capped;
use vigil_inventory::installed::java_archive::InstalledJavaArchives;
use vigil_inventory::installed::npm::{PACKAGE_JSON_LIMIT, parse_manifest};
use vigil_inventory::installed::python::{METADATA_LIMIT, parse_core_metadata};

use crate::owner::{Distribution, PackageMetadata};

/// Bound on one `RECORD` or `top_level.txt` read.
const MAX_RECORD_FILE: u64 = 16 << 20;
/// Bound on distributions indexed in one site-packages directory.
const MAX_DISTRIBUTIONS: usize = 20_000;
/// Bound on `RECORD` entries kept for one site-packages directory (a large real one holds
/// ~100k); past it, distributions are still indexed by their top-level names.
const MAX_RECORD_FILES: usize = 1_000_000;

/// Package metadata read with `vigil-inventory`'s parsers. See the module doc.
#[derive(Clone, Copy, Debug, Default)]
pub struct InventoryMetadata;

impl PackageMetadata for InventoryMetadata {
    fn npm_package(&self, dir: &Path) -> Option<(String, String)> {
        let bytes = read(&dir.join("package.json"), PACKAGE_JSON_LIMIT)?;
        let manifest = parse_manifest(&bytes).ok()?;
        let (name, version) = manifest.package()?;
        Some((name.to_owned(), version.to_owned()))
    }

    fn python_distributions(&self, dir: &Path) -> Vec<Distribution> {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        let mut files = 0usize;
        for entry in entries.filter_map(|e| e.ok()) {
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            if out.len() >= MAX_DISTRIBUTIONS {
                break;
            }
            if let Some(mut d) = read_distribution(&entry.path(), name) {
                files = files.saturating_add(d.files.len());
                if files > MAX_RECORD_FILES {
                    d.files = Vec::new();
                }
                out.push(d);
            }
        }
        out
    }

    fn jar(&self, path: &Path) -> Vec<(String, String)> {
        let collected = vigil_inventory::collect_file(&InstalledJavaArchives, path);
        collected
            .packages
            .into_iter()
            .map(|p| {
                (
                    p.component.name.as_str().to_owned(),
                    p.component.version.to_string(),
                )
            })
            .collect()
    }
}

/// A regular file of at most `limit` bytes (see [`read_capped`]: non-blocking open, regular
/// files only).
fn read(path: &Path, limit: u64) -> Option<Vec<u8>> {
    let mut buf = Vec::new();
    read_capped(path, limit, &mut buf).ok()?;
    Some(buf)
}

/// Reads one `*.dist-info` or `*.egg-info` directory (or `*.egg-info` file).
fn read_distribution(path: &Path, dir_name: &str) -> Option<Distribution> {
    let (metadata, is_dist, manifest) = if dir_name.ends_with(".dist-info") {
        (
            read(&path.join("METADATA"), METADATA_LIMIT)?,
            true,
            format!("{dir_name}/METADATA"),
        )
    } else if dir_name.ends_with(".egg-info") {
        // distutils writes `*.egg-info` as a single file; setuptools as a directory.
        match read(&path.join("PKG-INFO"), METADATA_LIMIT) {
            Some(m) => (m, false, format!("{dir_name}/PKG-INFO")),
            None => (read(path, METADATA_LIMIT)?, false, dir_name.to_owned()),
        }
    } else {
        return None;
    };
    let (name, version) = parse_core_metadata(&metadata).ok()?;
    let files = if is_dist {
        read(&path.join("RECORD"), MAX_RECORD_FILE)
            .map(|r| parse_record(&r))
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    let mut top_level: Vec<String> = read(&path.join("top_level.txt"), MAX_RECORD_FILE)
        .map(|t| {
            String::from_utf8_lossy(&t)
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    if top_level.is_empty() {
        top_level = files
            .iter()
            .filter_map(|f| f.split('/').next())
            .filter(|t| !t.ends_with(".dist-info") && !t.ends_with(".data") && *t != "__pycache__")
            .map(|t| t.strip_suffix(".py").unwrap_or(t).to_string())
            .collect();
        top_level.sort_unstable();
        top_level.dedup();
    }
    Some(Distribution {
        name,
        version,
        info_dir: dir_name.to_string(),
        manifest,
        files,
        top_level,
    })
}

/// The path column of a `RECORD` (CSV: `path,hash,size`; a path with a comma is quoted).
/// Paths leaving site-packages (`../../bin/x`, absolute) are dropped.
pub fn parse_record(bytes: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(bytes)
        .lines()
        .filter_map(|line| {
            let path = if let Some(rest) = line.strip_prefix('"') {
                // `""` inside quotes is a literal quote.
                let mut out = String::new();
                let mut chars = rest.chars().peekable();
                loop {
                    match chars.next()? {
                        '"' if chars.peek() == Some(&'"') => {
                            chars.next();
                            out.push('"');
                        }
                        '"' => break,
                        c => out.push(c),
                    }
                }
                out
            } else {
                line.split(',').next()?.to_string()
            };
            let path = path.trim_start_matches("./").to_string();
            (!path.is_empty() && !path.starts_with("..") && !path.starts_with('/')).then_some(path)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_refuse_fifos_and_devices() {
        let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let fifo = tmp.path().join("package.json");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).unwrap_or_else(|e| panic!("{e}"));
        // Would block forever on a plain open.
        assert_eq!(InventoryMetadata.npm_package(tmp.path()), None);
        assert_eq!(read(Path::new("/dev/zero"), 100), None);
        assert_eq!(read(tmp.path(), 100), None);
        let real = tmp.path().join("ok.json");
        std::fs::write(&real, "{}").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(read(&real, 100).as_deref(), Some(&b"{}"[..]));
    }

    #[test]
    fn npm_manifests_follow_the_inventory_rules() {
        let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let cases: &[(&str, Option<(&str, &str)>)] = &[
            (
                r#"{"name":"debug","version":"4.4.2"}"#,
                Some(("debug", "4.4.2")),
            ),
            (r#"{"name":"<%= name %>","version":"1.0.0"}"#, None),
            (
                r#"{"name":"ext","version":"1.0.0","engines":{"vscode":"^1.80.0"}}"#,
                None,
            ),
            (r#"{"name":"x"}"#, None),
            ("not json", None),
        ];
        for (text, want) in cases {
            std::fs::write(tmp.path().join("package.json"), text).unwrap_or_else(|e| panic!("{e}"));
            let got = InventoryMetadata.npm_package(tmp.path());
            assert_eq!(
                got.as_ref().map(|(n, v)| (n.as_str(), v.as_str())),
                *want,
                "{text}"
            );
        }
    }

    #[test]
    fn record_paths() {
        let record = b"flask_login/__init__.py,sha256=abc,123\n\
\"odd,name.py\",sha256=def,1\n\
\"q\"\"uote.py\",,\n\
../../../bin/flask,sha256=x,1\n\
flask_login-0.6.3.dist-info/RECORD,,\n\
\n";
        assert_eq!(
            parse_record(record),
            [
                "flask_login/__init__.py",
                "odd,name.py",
                "q\"uote.py",
                "flask_login-0.6.3.dist-info/RECORD"
            ]
        );
    }

    #[test]
    fn distributions_of_a_site_packages_directory() {
        let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let sp = tmp.path();
        let write = |rel: &str, text: &str| {
            let path = sp.join(rel);
            std::fs::create_dir_all(path.parent().unwrap_or(sp)).unwrap_or_else(|e| panic!("{e}"));
            std::fs::write(path, text).unwrap_or_else(|e| panic!("{e}"));
        };
        write(
            "Flask_Login-0.6.3.dist-info/METADATA",
            "Metadata-Version: 2.1\nname: Flask-Login\nversion: 0.6.3\n",
        );
        write(
            "Flask_Login-0.6.3.dist-info/RECORD",
            "flask_login/__init__.py,,\n",
        );
        write("old-1.0.egg-info/PKG-INFO", "Name: old\nVersion: 1.0\n");
        write("pycups-2.0.1.egg-info", "Name: pycups\nVersion: 2.0.1\n");
        write("broken-1.0.dist-info/METADATA", "Summary: no name\n");
        let mut got: Vec<(String, String, Vec<String>)> = InventoryMetadata
            .python_distributions(sp)
            .into_iter()
            .map(|d| (d.name, d.version, d.top_level))
            .collect();
        got.sort();
        let want: Vec<(String, String, Vec<String>)> = vec![
            (
                "Flask-Login".into(),
                "0.6.3".into(),
                vec!["flask_login".into()],
            ),
            ("old".into(), "1.0".into(), vec![]),
            ("pycups".into(), "2.0.1".into(), vec![]),
        ];
        assert_eq!(got, want);
    }

    proptest::proptest! {
        #[test]
        fn record_parser_never_panics(s in "\\PC{0,200}") {
            let _ = parse_record(s.as_bytes());
        }
    }
}
