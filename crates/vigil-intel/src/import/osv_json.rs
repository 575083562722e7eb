//! One OSV JSON document: a single record (the OSV file layout), an array of records, or an
//! OSV.dev API response (`{"vulns": [...]}`).
//!
//! Each record is parsed on its own, so one that is not OSV (a missing id, a number where a
//! version string belongs, …) is skipped with serde's message — which names the line and
//! column — and the others are kept. Every record must be at most
//! [`ImportOptions::max_record_bytes`] long.

use std::path::Path;

use serde::Deserialize;
use serde_json::value::RawValue;
use vigil_core::osv::OsvRecord;

use super::{ImportOptions, Imported, ImportedRecord};
use crate::error::IntelError;

/// Reads one JSON file (bounded by [`ImportOptions::max_total_bytes`]).
pub fn read_file(path: &Path, options: &ImportOptions) -> Result<Imported, IntelError> {
    let bytes = read_bounded(path, options.max_total_bytes)?;
    let mut imported = Imported::default();
    parse_document(
        &bytes,
        &path.display().to_string(),
        options.max_record_bytes,
        &mut imported,
    );
    Ok(imported)
}

/// Reads a whole file, refusing one larger than `limit` bytes.
pub(crate) fn read_bounded(path: &Path, limit: u64) -> Result<Vec<u8>, IntelError> {
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(|e| IntelError::io(path, e))?;
    let mut bytes = Vec::new();
    file.take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| IntelError::io(path, e))?;
    if bytes.len() as u64 > limit {
        return Err(IntelError::source(
            path,
            format!("larger than the {limit}-byte bound for one source; refused"),
        ));
    }
    Ok(bytes)
}

#[derive(Deserialize)]
struct VulnsWrapper<'a> {
    #[serde(borrow)]
    vulns: Vec<&'a RawValue>,
}

/// Parses a document into records, appending to `out`. `location` names the document.
pub fn parse_document(bytes: &[u8], location: &str, max_record_bytes: u64, out: &mut Imported) {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace()).copied();
    match first {
        Some(b'[') => match serde_json::from_slice::<Vec<&RawValue>>(bytes) {
            Ok(items) => parse_items(&items, location, max_record_bytes, out),
            Err(e) => out.skip(location, format!("invalid JSON array of records: {e}")),
        },
        Some(b'{') => {
            if bytes.len() as u64 > max_record_bytes {
                // Only an API-style wrapper may hold more than one record's worth.
                match serde_json::from_slice::<VulnsWrapper<'_>>(bytes) {
                    Ok(w) => parse_items(&w.vulns, location, max_record_bytes, out),
                    Err(_) => out.skip(location, too_big(bytes.len() as u64, max_record_bytes)),
                }
                return;
            }
            match parse_record(bytes) {
                Ok(record) => push(out, record, bytes, location),
                Err(record_error) => match serde_json::from_slice::<VulnsWrapper<'_>>(bytes) {
                    Ok(w) if !has_id(bytes) => {
                        parse_items(&w.vulns, location, max_record_bytes, out);
                    }
                    _ => out.skip(location, record_error),
                },
            }
        }
        Some(_) => out.skip(location, "not JSON: expected an object or an array"),
        None => out.skip(location, "empty file"),
    }
}

fn has_id(bytes: &[u8]) -> bool {
    #[derive(Deserialize)]
    struct Probe<'a> {
        #[serde(borrow)]
        id: Option<&'a RawValue>,
    }
    serde_json::from_slice::<Probe<'_>>(bytes).is_ok_and(|p| p.id.is_some())
}

fn parse_items(items: &[&RawValue], location: &str, max_record_bytes: u64, out: &mut Imported) {
    for (i, item) in items.iter().enumerate() {
        let text = item.get();
        let here = format!("{location}[{i}]");
        if text.len() as u64 > max_record_bytes {
            out.skip(here, too_big(text.len() as u64, max_record_bytes));
            continue;
        }
        match parse_record(text.as_bytes()) {
            Ok(record) => push(out, record, text.as_bytes(), &here),
            Err(reason) => out.skip(here, reason),
        }
    }
}

fn too_big(len: u64, bound: u64) -> String {
    format!("record is {len} bytes, above the {bound}-byte bound for one record; refused")
}

/// Parses and checks one record: valid OSV for the tolerant core types, a non-empty id of
/// sane length without control characters.
pub(crate) fn parse_record(bytes: &[u8]) -> Result<OsvRecord, String> {
    let record: OsvRecord =
        serde_json::from_slice(bytes).map_err(|e| format!("not an OSV record: {e}"))?;
    let id = record.id.trim();
    if id.is_empty() {
        return Err("not an OSV record: empty id".to_owned());
    }
    if id.len() > 256 || id.chars().any(char::is_control) {
        return Err(format!(
            "not an OSV record: id {:?} is longer than 256 bytes or has control characters",
            id.chars().take(64).collect::<String>()
        ));
    }
    Ok(record)
}

/// Appends a parsed record with its text (the text is valid UTF-8: serde_json checked it).
pub(crate) fn push(out: &mut Imported, record: OsvRecord, bytes: &[u8], location: &str) {
    let raw: Box<str> = match std::str::from_utf8(bytes) {
        Ok(text) => text.into(),
        Err(_) => String::from_utf8_lossy(bytes).into(),
    };
    out.records.push(ImportedRecord {
        record,
        raw,
        location: location.to_owned(),
        line: None,
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(doc: &str, bound: u64) -> Imported {
        let mut out = Imported::default();
        parse_document(doc.as_bytes(), "doc.json", bound, &mut out);
        out
    }

    #[test]
    fn reads_every_document_shape() {
        // (document, kept ids, skipped count)
        let cases: &[(&str, &[&str], usize)] = &[
            (r#"{"id":"A"}"#, &["A"], 0),
            ("\u{feff} [{\"id\":\"A\"},{\"id\":\"B\"}]", &["A", "B"], 0),
            (
                r#"{"vulns":[{"id":"A"},{"nope":1},{"id":"C"}]}"#,
                &["A", "C"],
                1,
            ),
            (r#"[{"id":"A"},{"id":5},{"id":""},"x"]"#, &["A"], 3),
            (r#"{"id":"A","affected":"npm"}"#, &[], 1),
            (r#"{"id":"A""#, &[], 1),
            ("", &[], 1),
            ("garbage", &[], 1),
            (r#"[{"id":"A"}"#, &[], 1),
        ];
        for (doc, ids, skipped) in cases {
            let out = parse(doc, 1 << 20);
            let got: Vec<&str> = out.records.iter().map(|r| r.record.id.as_str()).collect();
            assert_eq!(&got, ids, "{doc}");
            assert_eq!(out.skipped.len(), *skipped, "{doc}: {:?}", out.skipped);
        }
    }

    #[test]
    fn keeps_the_text_and_names_the_element() {
        let out = parse(r#"[{"id":"A", "x": 1}, {"id": 2}]"#, 1 << 20);
        assert_eq!(&*out.records[0].raw, r#"{"id":"A", "x": 1}"#);
        assert_eq!(out.skipped[0].location, "doc.json[1]");
        assert!(
            out.skipped[0].reason.contains("invalid type: integer `2`"),
            "{}",
            out.skipped[0].reason
        );
    }

    #[test]
    fn bounds_each_record() {
        let big = format!(r#"{{"id":"BIG","details":"{}"}}"#, "x".repeat(2000));
        let out = parse(&big, 1000);
        assert!(out.records.is_empty());
        assert!(out.skipped[0].reason.contains("above the 1000-byte bound"));
        let list = format!(r#"{{"vulns":[{big},{{"id":"SMALL"}}]}}"#);
        let out = parse(&list, 1000);
        assert_eq!(out.records.len(), 1);
        assert_eq!(out.skipped.len(), 1);
    }

    proptest::proptest! {
        #[test]
        fn never_panics(doc in "\\PC{0,200}") {
            let _ = parse(&doc, 100);
        }
    }
}
