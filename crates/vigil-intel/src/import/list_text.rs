//! Custom incident lists as text: one package per line, the way incident responders pass
//! them around (the Shai-Hulud lists circulated like this).
//!
//! A line is, after removing a `#` comment and surrounding blanks:
//!
//! | form | example |
//! |---|---|
//! | `name@version` | `debug@4.4.2` |
//! | `@scope/name@version` | `@ctrl/tinycolor@4.1.1` |
//! | `ecosystem:name@version` | `PyPI:requests@2.0.0`, `Maven:org.x:y@1.0` |
//! | `name:version`, `name==version`, `name version` | `@ctrl/tinycolor:4.1.1`, `evil==1.0` |
//! | `pkg:type/name@version` (purl) | `pkg:npm/%40ctrl/tinycolor@4.1.1` |
//! | bare `name` (or version `*`) | every version of `nx` |
//!
//! Several versions may follow one name, separated by `,` `;` `||` or blanks. The ecosystem is
//! [`ImportOptions::default_ecosystem`] (npm unless overridden) when the line names none; an
//! `ecosystem:` prefix is recognized only for a known ecosystem followed by something that does
//! not start with a digit, so `go:1.2.0` still reads as package `go` at version 1.2.0.
//!
//! Each entry becomes a MALICIOUS OSV record `CUSTOM-<list>-<n>` (n counts entries from 1)
//! carrying CWE-506, the list, file and line in `database_specific.source`; a line that cannot
//! be read is skipped with its line number and the reason.

use std::path::Path;

use serde_json::json;
use vigil_core::Ecosystem;
use vigil_core::ecosystem::EcosystemKind;
use vigil_core::osv::OsvRecord;

use super::{ImportOptions, Imported, ImportedRecord, list_name, osv_json};
use crate::error::IntelError;
use crate::time::Timestamp;

/// One package (and versions; empty = every version) named by a list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListEntry {
    /// The ecosystem.
    pub ecosystem: Ecosystem,
    /// The package name.
    pub name: String,
    /// The versions; empty means every version.
    pub versions: Vec<String>,
}

/// Reads a text list.
pub fn read_file(path: &Path, options: &ImportOptions) -> Result<Imported, IntelError> {
    let bytes = osv_json::read_bounded(path, options.max_total_bytes)?;
    let list = list_name(path, options);
    let file = path.display().to_string();
    let mut out = Imported::default();
    let mut n = 0usize;
    for (index, line) in bytes.split(|&b| b == b'\n').enumerate() {
        let line_no = u32::try_from(index + 1).unwrap_or(u32::MAX);
        let here = format!("{file}:{line_no}");
        let Ok(text) = std::str::from_utf8(line) else {
            out.skip(here, "line is not UTF-8");
            continue;
        };
        let text = strip_comment(text.trim_start_matches('\u{feff}'));
        if text.is_empty() {
            continue;
        }
        if n >= options.max_entries {
            return Err(IntelError::source(
                path,
                format!("more than {} entries; refused", options.max_entries),
            ));
        }
        match parse_entry(text, &options.default_ecosystem) {
            Ok(entry) => {
                n += 1;
                match entry_record(&list, n, &entry, &file, line_no, options.now) {
                    Ok(record) => out.records.push(record),
                    Err(reason) => out.skip(here, reason),
                }
            }
            Err(reason) => out.skip(here, reason),
        }
    }
    Ok(out)
}

/// The line without its `#` comment, trimmed.
pub(crate) fn strip_comment(line: &str) -> &str {
    line.split_once('#')
        .map_or(line, |(before, _)| before)
        .trim()
}

/// Parses one entry (see the module table).
pub fn parse_entry(text: &str, default: &Ecosystem) -> Result<ListEntry, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("empty entry".to_owned());
    }
    if let Some(purl) = text.strip_prefix("pkg:") {
        return parse_purl(purl);
    }
    let (ecosystem, rest) = match text.split_once(':') {
        Some((head, tail))
            if !matches!(
                EcosystemKind::from_name(head.trim()),
                EcosystemKind::Other(_)
            ) && tail
                .trim_start()
                .chars()
                .next()
                .is_some_and(|c| !c.is_ascii_digit()) =>
        {
            (Ecosystem::parse(head.trim()), tail.trim())
        }
        _ => (default.clone(), text),
    };
    let maven = matches!(ecosystem.kind(), EcosystemKind::Maven);
    let (name, versions) = if let Some(at) = rest.get(1..).and_then(|r| r.find('@')) {
        (
            rest.get(..=at).unwrap_or(rest),
            rest.get(at + 2..).unwrap_or(""),
        )
    } else if let Some((name, versions)) = rest.split_once("==") {
        (name, versions)
    } else if !maven && rest.matches(':').count() == 1 {
        rest.split_once(':').unwrap_or((rest, ""))
    } else if let Some((name, versions)) = rest.split_once(char::is_whitespace) {
        (name, versions)
    } else {
        (rest, "")
    };
    make_entry(ecosystem, name, versions)
}

pub(crate) fn make_entry(
    ecosystem: Ecosystem,
    name: &str,
    versions: &str,
) -> Result<ListEntry, String> {
    let name = name.trim();
    if name.is_empty() {
        return Err("no package name".to_owned());
    }
    if name.len() > 512 || name.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!(
            "package name {:?} has blanks or control characters, or is too long",
            name.chars().take(64).collect::<String>()
        ));
    }
    if !name.chars().any(char::is_alphanumeric) {
        return Err(format!("{name:?} is not a package name"));
    }
    if matches!(ecosystem.kind(), EcosystemKind::Npm)
        && name.starts_with('@')
        && !name
            .split_once('/')
            .is_some_and(|(scope, rest)| scope.len() > 1 && !rest.is_empty())
    {
        return Err(format!(
            "{name:?} is not an npm name: a scope needs @scope/name"
        ));
    }
    let versions = split_versions(versions)?;
    Ok(ListEntry {
        ecosystem,
        name: name.to_owned(),
        versions,
    })
}

/// Splits a version cell on `||`, `,`, `;` and blanks; `*` or `all` alone means every
/// version (an empty list).
pub(crate) fn split_versions(text: &str) -> Result<Vec<String>, String> {
    let mut out: Vec<String> = Vec::new();
    for piece in text
        .split("||")
        .flat_map(|p| p.split([',', ';']))
        .flat_map(str::split_whitespace)
    {
        let v = piece.trim_start_matches('=').trim();
        if v.is_empty() {
            continue;
        }
        if v.len() > 128 || v.chars().any(char::is_control) {
            return Err(format!(
                "version {:?} is too long or has control characters",
                v.chars().take(64).collect::<String>()
            ));
        }
        if !out.iter().any(|o| o == v) {
            out.push(v.to_owned());
        }
    }
    if out
        .iter()
        .any(|v| v == "*" || v.eq_ignore_ascii_case("all"))
    {
        out.clear();
    }
    Ok(out)
}

fn parse_purl(purl: &str) -> Result<ListEntry, String> {
    let purl = purl.trim_start_matches('/');
    let purl = purl.split(['?', '#']).next().unwrap_or(purl);
    let (kind, rest) = purl
        .split_once('/')
        .ok_or_else(|| "purl without a type/name".to_owned())?;
    let ecosystem = Ecosystem::parse(kind);
    let (path, version) = match rest.rsplit_once('@') {
        Some((path, version)) => (path, percent_decode(version)?),
        None => (rest, String::new()),
    };
    let path = percent_decode(path)?;
    let name = match ecosystem.kind() {
        EcosystemKind::Maven => path.replacen('/', ":", 1),
        _ => path,
    };
    make_entry(ecosystem, &name, &version)
}

fn percent_decode(text: &str) -> Result<String, String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| format!("bad percent escape in {text:?}"))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| format!("purl {text:?} decodes to invalid UTF-8"))
}

/// The OSV record of list entry `n`.
pub(crate) fn entry_record(
    list: &str,
    n: usize,
    entry: &ListEntry,
    file: &str,
    line: u32,
    now: Timestamp,
) -> Result<ImportedRecord, String> {
    let stamp = now.to_rfc3339();
    let affected = if entry.versions.is_empty() {
        json!({
            "package": {"ecosystem": entry.ecosystem.to_string(), "name": entry.name},
            "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}]}],
        })
    } else {
        json!({
            "package": {"ecosystem": entry.ecosystem.to_string(), "name": entry.name},
            "versions": entry.versions,
        })
    };
    let value = json!({
        "schema_version": "1.7.0",
        "id": format!("CUSTOM-{list}-{n}"),
        "published": stamp,
        "modified": stamp,
        "summary": format!("{} listed in custom list {list}", entry.name),
        "affected": [affected],
        "database_specific": {
            "cwe_ids": ["CWE-506"],
            "source": {"kind": "custom-list", "list": list, "file": file, "line": line},
        },
    });
    let raw = value.to_string();
    let record: OsvRecord = serde_json::from_value(value)
        .map_err(|e| format!("internal: list entry is not an OSV record: {e}"))?;
    Ok(ImportedRecord {
        record,
        raw: raw.into_boxed_str(),
        location: file.to_owned(),
        line: Some(line),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eco(name: &str) -> Ecosystem {
        Ecosystem::parse(name)
    }

    #[test]
    fn parses_every_line_form() {
        let npm = eco("npm");
        // (line, ecosystem, name, versions)
        let cases: &[(&str, &str, &str, &[&str])] = &[
            ("debug@4.4.2", "npm", "debug", &["4.4.2"]),
            (
                "@ctrl/tinycolor@4.1.1",
                "npm",
                "@ctrl/tinycolor",
                &["4.1.1"],
            ),
            (
                "@ctrl/tinycolor@4.1.1, 4.1.2",
                "npm",
                "@ctrl/tinycolor",
                &["4.1.1", "4.1.2"],
            ),
            (
                "@ctrl/tinycolor:4.1.1",
                "npm",
                "@ctrl/tinycolor",
                &["4.1.1"],
            ),
            (
                "nx@20.9.0 || 21.5.0;21.6.0",
                "npm",
                "nx",
                &["20.9.0", "21.5.0", "21.6.0"],
            ),
            ("PyPI:requests-evil@1.0", "PyPI", "requests-evil", &["1.0"]),
            ("pypi:evil==1.0", "PyPI", "evil", &["1.0"]),
            ("Maven:org.x:y@1.0", "Maven", "org.x:y", &["1.0"]),
            ("go:1.2.0", "npm", "go", &["1.2.0"]),
            ("nx", "npm", "nx", &[]),
            ("@scope/nx", "npm", "@scope/nx", &[]),
            ("nx@*", "npm", "nx", &[]),
            ("evil 1.0 2.0", "npm", "evil", &["1.0", "2.0"]),
            (
                "pkg:npm/%40ctrl/tinycolor@4.1.1",
                "npm",
                "@ctrl/tinycolor",
                &["4.1.1"],
            ),
            (
                "pkg:maven/org.x/y@1.0?type=jar",
                "Maven",
                "org.x:y",
                &["1.0"],
            ),
            ("pkg:pypi/evil", "PyPI", "evil", &[]),
        ];
        for (line, ecosystem, name, versions) in cases {
            let e = parse_entry(line, &npm).unwrap_or_else(|e| panic!("{line}: {e}"));
            assert_eq!(e.ecosystem, eco(ecosystem), "{line}");
            assert_eq!(e.name, *name, "{line}");
            assert_eq!(e.versions, *versions, "{line}");
        }
        for bad in ["@", "@1.0", "pkg:npm", "a\u{1b}b@1", "pkg:npm/%zz@1"] {
            assert!(parse_entry(bad, &npm).is_err(), "{bad}");
        }
    }

    #[test]
    fn reads_a_list_file_with_lines_and_ids() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("shai hulud.txt");
        std::fs::write(
            &path,
            b"# compromised\n\ndebug@4.4.2  # qix\n@ctrl/tinycolor@4.1.1\nbad\xffline\n@1.0\n",
        )
        .unwrap();
        let out = read_file(&path, &ImportOptions::default()).unwrap();
        let ids: Vec<&str> = out.records.iter().map(|r| r.record.id.as_str()).collect();
        assert_eq!(ids, ["CUSTOM-shai-hulud-1", "CUSTOM-shai-hulud-2"]);
        assert_eq!(out.records[0].line, Some(3));
        assert_eq!(out.records[1].line, Some(4));
        assert_eq!(out.skipped.len(), 2, "{:?}", out.skipped);
        assert!(out.skipped[0].location.ends_with(":5"));
        let record = &out.records[1].record;
        assert!(record.affects(&eco("npm"), "@ctrl/tinycolor", "4.1.1"));
        assert!(!record.affects(&eco("npm"), "@ctrl/tinycolor", "4.1.2"));
    }

    proptest::proptest! {
        #[test]
        fn never_panics(line in "\\PC{0,60}") {
            let _ = parse_entry(&line, &Ecosystem::parse("npm"));
        }
    }
}
