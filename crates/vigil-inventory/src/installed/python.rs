//! Installed Python distributions: `*.dist-info/METADATA` (wheels, pip, uv, poetry installs),
//! `*.egg-info/PKG-INFO` and `EGG-INFO/PKG-INFO` (setuptools, eggs) and `*.egg-info` files
//! (distutils). All are core-metadata files: RFC 822 headers, then a blank line, then the
//! description. Only the headers are read — parsing stops at the first blank line — and only
//! `Name` and `Version` matter (case-insensitive keys; the first occurrence wins, as in
//! `email.parser`). Lines without a colon (wrapped descriptions in old PKG-INFO) are skipped.
//! Venvs, system and user site-packages, and conda environments all use this layout.

use std::path::Path;

use vigil_core::{EcosystemKind, Evidence};

use crate::collector::{Collected, Collector, FilePattern, SourceFile};
use crate::error::CollectError;

/// METADATA over this size is refused (long descriptions reach a few hundred KiB).
pub const METADATA_LIMIT: u64 = 16 << 20;

/// Installed Python distributions. See the module doc.
#[derive(Debug, Clone, Copy)]
pub struct InstalledPythonDistributions;

impl Collector for InstalledPythonDistributions {
    fn name(&self) -> &'static str {
        "python-installed"
    }

    fn evidence(&self) -> Evidence {
        Evidence::Installed
    }

    fn patterns(&self) -> &'static [FilePattern] {
        &[
            FilePattern::Name("METADATA"),
            FilePattern::Name("PKG-INFO"),
            FilePattern::Suffix(".egg-info"),
        ]
    }

    fn accepts(&self, path: &Path) -> bool {
        let file = path.file_name().map(|n| n.as_encoded_bytes());
        let parent = path
            .parent()
            .and_then(Path::file_name)
            .map(|n| n.as_encoded_bytes());
        match (file, parent) {
            (Some(b"METADATA"), Some(parent)) => parent.ends_with(b".dist-info"),
            (Some(b"PKG-INFO"), Some(parent)) => {
                parent.ends_with(b".egg-info") || parent == b"EGG-INFO"
            }
            // A `*.egg-info` *file* (the directory form is handled through its PKG-INFO).
            (Some(file), _) => file.ends_with(b".egg-info"),
            _ => false,
        }
    }

    fn size_limit(&self) -> u64 {
        METADATA_LIMIT
    }

    fn collect(&self, file: &SourceFile<'_>, out: &mut Collected) -> Result<(), CollectError> {
        let (name, version) = parse_core_metadata(file.bytes)?;
        out.push_new(EcosystemKind::PyPI, &name, &version, false);
        Ok(())
    }
}

/// The `Name` and `Version` headers of a core-metadata file. Errors when either is missing.
pub fn parse_core_metadata(bytes: &[u8]) -> Result<(String, String), CollectError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut name = None;
    let mut version = None;
    for line in bytes.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.iter().all(|b| *b == b' ' || *b == b'\t') {
            break; // end of headers
        }
        if line.first().is_some_and(|b| *b == b' ' || *b == b'\t') {
            continue; // continuation of the previous header
        }
        let Some(colon) = memchr::memchr(b':', line) else {
            continue;
        };
        let (key, value) = line.split_at(colon);
        let value = value.get(1..).unwrap_or_default();
        let slot = if key.eq_ignore_ascii_case(b"name") {
            &mut name
        } else if key.eq_ignore_ascii_case(b"version") {
            &mut version
        } else {
            continue;
        };
        if slot.is_none() {
            let value = String::from_utf8_lossy(value).trim().to_string();
            if !value.is_empty() {
                *slot = Some(value);
            }
        }
        if name.is_some() && version.is_some() {
            break;
        }
    }
    match (name, version) {
        (Some(name), Some(version)) => Ok((name, version)),
        (None, _) => Err(CollectError::field(
            "Name",
            "missing from the metadata headers",
        )),
        (_, None) => Err(CollectError::field(
            "Version",
            "missing from the metadata headers",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers() {
        let cases: &[(&str, Option<(&str, &str)>)] = &[
            (
                "Metadata-Version: 2.1\nName: pip\nVersion: 22.2.2\n\nName: no\n",
                Some(("pip", "22.2.2")),
            ),
            ("name: httplib2\nversion: 1.0\n", Some(("httplib2", "1.0"))),
            (
                "Name: root\nVersion: 1.0.0\nVersion: 2.0.0\n",
                Some(("root", "1.0.0")),
            ),
            ("Name: a\r\nVersion: 1\r\n\r\n", Some(("a", "1"))),
            (
                "Name: a\nDescription: x\ncrypt md5\nVersion: 2\n",
                Some(("a", "2")),
            ),
            ("Name: a\n\nVersion: 1\n", None),
            ("", None),
            ("Version: 1\n", None),
            ("Name:\nVersion: 1\n", None),
        ];
        for (text, want) in cases {
            let got = parse_core_metadata(text.as_bytes()).ok();
            assert_eq!(
                got.as_ref().map(|(n, v)| (n.as_str(), v.as_str())),
                *want,
                "{text:?}"
            );
        }
    }

    #[test]
    fn claims() {
        let c = InstalledPythonDistributions;
        let cases = [
            ("/v/lib/site-packages/pip-23.2.1.dist-info/METADATA", true),
            ("/v/lib/site-packages/x.egg-info/PKG-INFO", true),
            ("/v/lib/site-packages/x.egg/EGG-INFO/PKG-INFO", true),
            ("/usr/lib/python3/dist-packages/pycups-2.0.1.egg-info", true),
            ("/src/project/PKG-INFO", false),
            ("/src/project/METADATA", false),
        ];
        for (path, want) in cases {
            assert_eq!(c.accepts(Path::new(path)), want, "{path}");
        }
    }

    proptest::proptest! {
        #[test]
        fn never_panics(s in proptest::prelude::any::<Vec<u8>>()) {
            let _ = parse_core_metadata(&s);
        }
    }
}
