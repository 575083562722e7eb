//! Custom incident lists as CSV, as vendors publish them (a package column, a versions column,
//! sometimes an ecosystem column and free-form extra columns).
//!
//! The first non-blank, non-`#` line is the header. Columns are found by name, case and
//! punctuation ignored: the package column is `package`, `package_name`, `name`, `pkg`,
//! `component`, … or any header containing `package` but not `version`; the version column any
//! header containing `version`; an optional `ecosystem` (or `registry`) column overrides
//! [`ImportOptions::default_ecosystem`] per row. A header without a package column refuses the
//! file, naming the columns it has.
//!
//! A version cell may hold several versions separated by `,` `;` `||` or blanks (quote the
//! cell when it contains the delimiter); an empty one means every version, unless the package
//! cell itself reads as a text-list entry (`debug@4.4.2`). Fields follow RFC 4180: double
//! quotes, `""` escapes, line breaks inside quotes. The delimiter is the header's most frequent
//! of `,` `;` and tab.
//!
//! Rows become `CUSTOM-<list>-<n>` records exactly like text-list entries
//! ([`super::list_text`]), with the row's starting line.

use std::path::Path;

use vigil_core::Ecosystem;

use super::list_text::{entry_record, make_entry, parse_entry, strip_comment};
use super::{ImportOptions, Imported, list_name, osv_json};
use crate::error::IntelError;

/// Where the interesting columns are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Columns {
    /// The package name column.
    pub package: usize,
    /// The versions column, if any.
    pub version: Option<usize>,
    /// The ecosystem column, if any.
    pub ecosystem: Option<usize>,
    /// The field delimiter.
    pub delimiter: u8,
}

const PACKAGE_NAMES: &[&str] = &[
    "package",
    "packages",
    "package_name",
    "packagename",
    "name",
    "pkg",
    "component",
    "library",
    "module",
    "dependency",
];
const ECOSYSTEM_NAMES: &[&str] = &[
    "ecosystem",
    "registry",
    "package_ecosystem",
    "ecosystem_name",
];

fn normalize_header(cell: &str) -> String {
    let mut out = String::new();
    for c in cell.trim().trim_matches('"').chars() {
        if c.is_alphanumeric() {
            out.extend(c.to_lowercase());
        } else if !out.ends_with('_') {
            out.push('_');
        }
    }
    out.trim_matches('_').to_owned()
}

/// Finds the columns in a header line.
pub fn header_columns(line: &str) -> Result<Columns, String> {
    let delimiter = [b',', b';', b'\t']
        .into_iter()
        .max_by_key(|d| {
            (
                line.bytes().filter(|b| b == d).count(),
                // Ties go to the comma.
                u8::from(*d == b','),
            )
        })
        .unwrap_or(b',');
    let (_, cells) = parse_records(line, delimiter)
        .into_iter()
        .next()
        .unwrap_or((1, Vec::new()));
    let names: Vec<String> = cells.iter().map(|c| normalize_header(c)).collect();
    let find = |pred: &dyn Fn(&str) -> bool| names.iter().position(|n| pred(n));
    let package = find(&|n| PACKAGE_NAMES.contains(&n))
        .or_else(|| find(&|n| n.contains("package") && !n.contains("version")));
    let version = find(&|n| n.contains("version"));
    let ecosystem = find(&|n| ECOSYSTEM_NAMES.contains(&n));
    match package {
        Some(package) => Ok(Columns {
            package,
            version,
            ecosystem,
            delimiter,
        }),
        None => Err(format!(
            "CSV header names no package column (columns: {})",
            names.join(", ")
        )),
    }
}

/// Reads a CSV list.
pub fn read_file(path: &Path, options: &ImportOptions) -> Result<Imported, IntelError> {
    let bytes = osv_json::read_bounded(path, options.max_total_bytes)?;
    let text = std::str::from_utf8(&bytes)
        .map_err(|e| IntelError::source(path, format!("not UTF-8 text: {e}")))?;
    let text = text.trim_start_matches('\u{feff}');
    let file = path.display().to_string();
    let list = list_name(path, options);

    // The header is the first line that is neither blank nor a comment.
    let mut offset = 0usize;
    let mut header_line = 0u32;
    let mut header = None;
    for (i, line) in text.split_inclusive('\n').enumerate() {
        header_line = u32::try_from(i + 1).unwrap_or(u32::MAX);
        let start = offset;
        offset += line.len();
        if !strip_comment(line).is_empty() {
            header = Some((line, start));
            break;
        }
    }
    let Some((line, start)) = header else {
        return Err(IntelError::source(path, "empty CSV: no header"));
    };
    let columns = header_columns(line).map_err(|reason| IntelError::source(path, reason))?;
    let body = text.get(start + line.len()..).unwrap_or("");

    let mut out = Imported::default();
    let mut n = 0usize;
    for (relative_line, cells) in parse_records(body, columns.delimiter) {
        let line_no = header_line.saturating_add(relative_line);
        let here = format!("{file}:{line_no}");
        let cell = |i: Option<usize>| i.and_then(|i| cells.get(i)).map(|c| c.trim()).unwrap_or("");
        let package = cell(Some(columns.package));
        if package.is_empty() && cells.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        if package.starts_with('#') && cells.len() == 1 {
            continue;
        }
        let ecosystem = match cell(columns.ecosystem) {
            "" => options.default_ecosystem.clone(),
            name => Ecosystem::parse(name),
        };
        let versions = cell(columns.version);
        let parsed = if package.is_empty() {
            Err("empty package cell".to_owned())
        } else if versions.is_empty() {
            parse_entry(package, &ecosystem)
        } else {
            make_entry(ecosystem, package, versions)
        };
        if n >= options.max_entries {
            return Err(IntelError::source(
                path,
                format!("more than {} rows; refused", options.max_entries),
            ));
        }
        match parsed {
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

/// Splits CSV text into records: (1-based line the record starts on, fields).
fn parse_records(text: &str, delimiter: u8) -> Vec<(u32, Vec<String>)> {
    let mut records = Vec::new();
    let mut fields: Vec<String> = Vec::new();
    let mut field: Vec<u8> = Vec::new();
    let mut in_quotes = false;
    let mut line: u32 = 1;
    let mut record_line: u32 = 1;
    let mut bytes = text.bytes().peekable();
    let finish_field = |field: &mut Vec<u8>, fields: &mut Vec<String>| {
        fields.push(String::from_utf8_lossy(field).into_owned());
        field.clear();
    };
    while let Some(b) = bytes.next() {
        if in_quotes {
            match b {
                b'"' if bytes.peek() == Some(&b'"') => {
                    bytes.next();
                    field.push(b'"');
                }
                b'"' => in_quotes = false,
                b'\n' => {
                    line = line.saturating_add(1);
                    field.push(b);
                }
                _ => field.push(b),
            }
            continue;
        }
        match b {
            b'"' if field.iter().all(u8::is_ascii_whitespace) => {
                field.clear();
                in_quotes = true;
            }
            b'\r' if bytes.peek() == Some(&b'\n') => {}
            b'\n' => {
                finish_field(&mut field, &mut fields);
                records.push((record_line, std::mem::take(&mut fields)));
                line = line.saturating_add(1);
                record_line = line;
            }
            d if d == delimiter => finish_field(&mut field, &mut fields),
            _ => field.push(b),
        }
    }
    if !field.is_empty() || !fields.is_empty() {
        finish_field(&mut field, &mut fields);
        records.push((record_line, fields));
    }
    records
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_columns_by_name() {
        // (header, Some((package, version, ecosystem, delimiter)) or None for a refusal)
        type Found = Option<(usize, Option<usize>, Option<usize>, u8)>;
        let cases: &[(&str, Found)] = &[
            ("package,version", Some((0, Some(1), None, b','))),
            (
                "Package Name,Package Versions,Sources",
                Some((0, Some(1), None, b',')),
            ),
            (
                "\"ecosystem\";\"name\";\"versions\"",
                Some((1, Some(2), Some(0), b';')),
            ),
            (
                "id\tcomponent\taffected_version",
                Some((1, Some(2), None, b'\t')),
            ),
            ("name", Some((0, None, None, b','))),
            ("foo,bar", None),
        ];
        for (header, want) in cases {
            let got = header_columns(header)
                .ok()
                .map(|c| (c.package, c.version, c.ecosystem, c.delimiter));
            assert_eq!(got, *want, "{header}");
        }
    }

    #[test]
    fn splits_quoted_fields() {
        let records = parse_records(
            "a,\"b, c\",\"say \"\"hi\"\"\"\r\nx,\"multi\nline\",z\n\nlast",
            b',',
        );
        assert_eq!(
            records,
            vec![
                (1, vec!["a".into(), "b, c".into(), "say \"hi\"".into()]),
                (2, vec!["x".into(), "multi\nline".into(), "z".into()]),
                (4, vec!["".into()]),
                (5, vec!["last".into()]),
            ]
        );
    }

    #[test]
    fn reads_rows_into_records() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("iocs.csv");
        std::fs::write(
            &path,
            "# vendor list\npackage_name,package_versions,sources\n\
             @zapier/zapier-sdk,\"0.15.5, 0.15.6 || 0.15.7\",x\n\
             posthog-node,5.11.3;5.13.3,y\n\
             ,1.0,z\n\
             debug@4.4.2,,\n\
             everything,,\n",
        )
        .unwrap();
        let out = read_file(&path, &ImportOptions::default()).unwrap();
        let ids: Vec<&str> = out.records.iter().map(|r| r.record.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "CUSTOM-iocs-1",
                "CUSTOM-iocs-2",
                "CUSTOM-iocs-3",
                "CUSTOM-iocs-4"
            ]
        );
        let lines: Vec<Option<u32>> = out.records.iter().map(|r| r.line).collect();
        assert_eq!(lines, [Some(3), Some(4), Some(6), Some(7)]);
        assert_eq!(out.records[0].record.affected[0].versions.len(), 3);
        assert_eq!(out.skipped.len(), 1);
        assert!(out.skipped[0].location.ends_with(":5"), "{:?}", out.skipped);
        let npm = Ecosystem::parse("npm");
        assert!(out.records[2].record.affects(&npm, "debug", "4.4.2"));
        assert!(out.records[3].record.affects(&npm, "everything", "9.9.9"));

        let bad = dir.path().join("bad.csv");
        std::fs::write(&bad, "foo,bar\n1,2\n").unwrap();
        let err = read_file(&bad, &ImportOptions::default()).unwrap_err();
        assert!(err.to_string().contains("no package column"), "{err}");
    }

    proptest::proptest! {
        #[test]
        fn never_panics(text in "\\PC{0,120}") {
            let _ = parse_records(&text, b',');
            let _ = header_columns(&text);
        }
    }
}
