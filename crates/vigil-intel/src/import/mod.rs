//! Readers for every intel source: one file per format.
//!
//! | kind | reader | what it reads |
//! |---|---|---|
//! | [`SourceKind::OsvJson`] | [`osv_json`] | one JSON file: an OSV record, an array of records, or `{"vulns": [...]}` |
//! | [`SourceKind::OsvDir`] | [`osv_dir`] | a directory tree of OSV JSON files (ossf/malicious-packages layout), parsed in parallel |
//! | [`SourceKind::OsvZip`] | [`osv_zip`] | a zip of OSV JSON files (OSV.dev `all.zip`, or a zipped tree), parsed in parallel |
//! | [`SourceKind::List`] | [`list_text`] | a custom incident list, one `name@version` per line |
//! | [`SourceKind::Csv`] | [`list_csv`] | a custom incident list as CSV with package and version columns |
//!
//! Every reader is *tolerant*: a record that is not OSV, too big, or refused (a zip entry that
//! climbs out with `..`) is skipped and reported ([`SkippedRecord`]: where and why) and the
//! rest of the source is kept. Only a source that cannot be read at all — a missing file, a zip
//! whose central directory is gone, a decompressed total beyond the bound — fails as a whole,
//! and then nothing of it replaces what was imported before.
//!
//! After reading, records with the same id are reduced to one: the newer `modified` wins, an
//! equal or unknown one keeps the first read; the losers are reported as skipped.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};
use vigil_core::Ecosystem;
use vigil_core::ecosystem::EcosystemKind;
use vigil_core::osv::OsvRecord;

use crate::error::IntelError;
use crate::time::Timestamp;

pub mod list_csv;
pub mod list_text;
pub mod osv_dir;
pub mod osv_json;
pub mod osv_zip;

/// The format of a source.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SourceKind {
    /// One OSV JSON file.
    OsvJson,
    /// A directory tree of OSV JSON files.
    OsvDir,
    /// A zip of OSV JSON files.
    OsvZip,
    /// A text list (`name@version` per line).
    List,
    /// A CSV list.
    Csv,
}

impl SourceKind {
    /// Short name as shown by `intel status`.
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::OsvJson => "osv-json",
            SourceKind::OsvDir => "osv-dir",
            SourceKind::OsvZip => "osv-zip",
            SourceKind::List => "list",
            SourceKind::Csv => "csv",
        }
    }

    /// Whether records of this kind are synthesized from a custom list.
    pub fn is_custom_list(self) -> bool {
        matches!(self, SourceKind::List | SourceKind::Csv)
    }
}

impl fmt::Display for SourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The `--kind` a user can force: OSV (file, directory or zip, still told apart by what the
/// path is), text list, or CSV.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KindOverride {
    /// Some OSV form.
    Osv,
    /// A text list.
    List,
    /// A CSV list.
    Csv,
}

/// Bounds and defaults for reading sources.
#[derive(Clone, Debug)]
pub struct ImportOptions {
    /// The largest single record (a JSON file, a zip entry, an array element), in bytes.
    pub max_record_bytes: u64,
    /// The most bytes read from one source in total (decompressed, for zips).
    pub max_total_bytes: u64,
    /// The most files or zip entries in one source.
    pub max_entries: usize,
    /// The ecosystem of list entries that do not name one.
    pub default_ecosystem: Ecosystem,
    /// The name used in `CUSTOM-<list>-<n>` ids; defaults to the file stem.
    pub list_name: Option<String>,
    /// Forced kind; detected from the path and content when `None`.
    pub kind: Option<KindOverride>,
    /// Stamped as `published`/`modified` on records synthesized from lists.
    pub now: Timestamp,
}

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions {
            max_record_bytes: 8 << 20,
            max_total_bytes: 4 << 30,
            max_entries: 2_000_000,
            default_ecosystem: Ecosystem::new(EcosystemKind::Npm),
            list_name: None,
            kind: None,
            now: Timestamp::now(),
        }
    }
}

/// A record read from a source, with its text as published.
#[derive(Clone, Debug)]
pub struct ImportedRecord {
    /// The parsed record.
    pub record: OsvRecord,
    /// The record's JSON text as read (synthesized for list entries).
    pub raw: Box<str>,
    /// File, `dir/entry` or `zip!entry` it came from.
    pub location: String,
    /// Line, for list entries.
    pub line: Option<u32>,
}

/// A record (or entry, or line) that was not imported, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkippedRecord {
    /// Where: file, `zip!entry`, `file:line`.
    pub location: String,
    /// Why, in a sentence.
    pub reason: String,
}

/// Everything read from one source.
#[derive(Clone, Debug, Default)]
pub struct Imported {
    /// The records kept (one per id).
    pub records: Vec<ImportedRecord>,
    /// What was skipped, with reasons.
    pub skipped: Vec<SkippedRecord>,
    /// Files or entries that are not records and were not expected to be (directories,
    /// `MANIFEST.tsv`, `README.md`): counted, not reported.
    pub ignored: usize,
}

impl Imported {
    pub(crate) fn skip(&mut self, location: impl Into<String>, reason: impl Into<String>) {
        self.skipped.push(SkippedRecord {
            location: location.into(),
            reason: reason.into(),
        });
    }

    /// Appends another batch (used by the parallel readers, in input order).
    pub(crate) fn absorb(&mut self, other: Imported) {
        self.records.extend(other.records);
        self.skipped.extend(other.skipped);
        self.ignored += other.ignored;
    }

    /// Keeps one record per id: the newer `modified` wins; equal or unparseable stamps keep
    /// the first read. Losers become skipped entries naming the winner.
    pub fn dedup_ids(&mut self) {
        let mut winner: HashMap<&str, usize> = HashMap::with_capacity(self.records.len());
        let mut losers: Vec<(usize, usize)> = Vec::new();
        for (i, r) in self.records.iter().enumerate() {
            match winner.get(r.record.id.as_str()).copied() {
                None => {
                    winner.insert(&r.record.id, i);
                }
                Some(kept) => {
                    let kept_time = self.records.get(kept).and_then(modified_of);
                    if modified_of(r) > kept_time {
                        losers.push((kept, i));
                        winner.insert(&r.record.id, i);
                    } else {
                        losers.push((i, kept));
                    }
                }
            }
        }
        if losers.is_empty() {
            return;
        }
        let mut drop = vec![false; self.records.len()];
        for &(loser, kept) in &losers {
            let (Some(l), Some(k)) = (self.records.get(loser), self.records.get(kept)) else {
                continue;
            };
            self.skipped.push(SkippedRecord {
                location: l.location.clone(),
                reason: format!(
                    "duplicate id {:?} (modified {}): kept the one at {} (modified {})",
                    l.record.id,
                    l.record.modified.as_deref().unwrap_or("unknown"),
                    k.location,
                    k.record.modified.as_deref().unwrap_or("unknown"),
                ),
            });
            if let Some(d) = drop.get_mut(loser) {
                *d = true;
            }
        }
        let mut i = 0;
        self.records.retain(|_| {
            let keep = !drop.get(i).copied().unwrap_or(false);
            i += 1;
            keep
        });
    }
}

fn modified_of(r: &ImportedRecord) -> Option<Timestamp> {
    r.record
        .modified
        .as_deref()
        .and_then(Timestamp::parse_rfc3339)
}

/// Decides what a path is: a directory is an OSV tree; otherwise the extension (`.zip`,
/// `.json`, `.csv`, `.txt`/`.list`) and then the first bytes (`PK\x03\x04` zip, `{`/`[` JSON,
/// a first line naming a package and a version column CSV) decide; anything else is a text
/// list. `forced` overrides the format family.
pub fn detect_kind(path: &Path, forced: Option<KindOverride>) -> Result<SourceKind, IntelError> {
    let meta = std::fs::metadata(path).map_err(|e| IntelError::io(path, e))?;
    if meta.is_dir() {
        return match forced {
            None | Some(KindOverride::Osv) => Ok(SourceKind::OsvDir),
            Some(other) => Err(IntelError::source(
                path,
                format!("is a directory, which cannot be read as a {other:?} list"),
            )),
        };
    }
    let head = read_head(path)?;
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    let looks_zip = head.starts_with(b"PK\x03\x04") || head.starts_with(b"PK\x05\x06");
    match forced {
        Some(KindOverride::List) => return Ok(SourceKind::List),
        Some(KindOverride::Csv) => return Ok(SourceKind::Csv),
        Some(KindOverride::Osv) => {
            return Ok(if looks_zip || ext.as_deref() == Some("zip") {
                SourceKind::OsvZip
            } else {
                SourceKind::OsvJson
            });
        }
        None => {}
    }
    Ok(match ext.as_deref() {
        Some("zip") => SourceKind::OsvZip,
        Some("json") => SourceKind::OsvJson,
        Some("csv") => SourceKind::Csv,
        Some("txt" | "list" | "lst") => SourceKind::List,
        _ if looks_zip => SourceKind::OsvZip,
        _ => {
            let text = String::from_utf8_lossy(&head);
            let first = text.trim_start_matches('\u{feff}').trim_start();
            if first.starts_with('{') || first.starts_with('[') {
                SourceKind::OsvJson
            } else if first
                .lines()
                .next()
                .is_some_and(|line| line.contains(',') && list_csv::header_columns(line).is_ok())
            {
                SourceKind::Csv
            } else {
                SourceKind::List
            }
        }
    })
}

fn read_head(path: &Path) -> Result<Vec<u8>, IntelError> {
    use std::io::Read;
    let mut file = std::fs::File::open(path).map_err(|e| IntelError::io(path, e))?;
    let mut head = Vec::with_capacity(4096);
    file.by_ref()
        .take(4096)
        .read_to_end(&mut head)
        .map_err(|e| IntelError::io(path, e))?;
    Ok(head)
}

/// Reads a source of a known kind. Duplicated ids are reduced ([`Imported::dedup_ids`]).
pub fn read_source(
    path: &Path,
    kind: SourceKind,
    options: &ImportOptions,
) -> Result<Imported, IntelError> {
    let mut imported = match kind {
        SourceKind::OsvJson => osv_json::read_file(path, options)?,
        SourceKind::OsvDir => osv_dir::read_dir(path, options)?,
        SourceKind::OsvZip => osv_zip::read_zip_file(path, options)?,
        SourceKind::List => list_text::read_file(path, options)?,
        SourceKind::Csv => list_csv::read_file(path, options)?,
    };
    imported.dedup_ids();
    Ok(imported)
}

/// The list name of a path for `CUSTOM-<list>-<n>` ids: `--name`, else the file stem, made
/// safe for ids (letters, digits, `.`, `_`, `-`).
pub fn list_name(path: &Path, options: &ImportOptions) -> String {
    let raw = options.list_name.clone().unwrap_or_else(|| {
        path.file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "list".to_owned())
    });
    slug(&raw)
}

/// Letters, digits, `.`, `_` and `-` kept; every other run of characters becomes one `-`;
/// never empty, at most 64 bytes.
pub fn slug(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for c in raw.chars() {
        if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
        if out.len() >= 64 {
            break;
        }
    }
    let trimmed = out.trim_matches(|c| c == '-' || c == '.');
    if trimmed.is_empty() {
        "source".to_owned()
    } else {
        trimmed.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(id: &str, modified: Option<&str>, location: &str) -> ImportedRecord {
        ImportedRecord {
            record: OsvRecord {
                modified: modified.map(str::to_owned),
                ..serde_json::from_str(&format!(r#"{{"id":{id:?}}}"#)).unwrap()
            },
            raw: "{}".into(),
            location: location.into(),
            line: None,
        }
    }

    #[test]
    fn newer_modified_wins_duplicates() {
        let mut imported = Imported {
            records: vec![
                rec("A", Some("2025-01-01T00:00:00Z"), "a1"),
                rec("B", None, "b1"),
                rec("A", Some("2025-02-01T00:00:00Z"), "a2"),
                rec("A", Some("2024-12-01T00:00:00Z"), "a3"),
                rec("B", Some("garbage"), "b2"),
            ],
            ..Imported::default()
        };
        imported.dedup_ids();
        let kept: Vec<&str> = imported
            .records
            .iter()
            .map(|r| r.location.as_str())
            .collect();
        assert_eq!(kept, ["b1", "a2"]);
        let skipped: Vec<&str> = imported
            .skipped
            .iter()
            .map(|s| s.location.as_str())
            .collect();
        assert_eq!(skipped, ["a1", "a3", "b2"]);
        assert!(imported.skipped[0].reason.contains("kept the one at a2"));
    }

    #[test]
    fn slugs_are_safe() {
        let cases = [
            ("shai-hulud 2.0", "shai-hulud-2.0"),
            ("../../etc", "etc"),
            ("", "source"),
            ("ünï/côde", "n-c-de"),
        ];
        for (raw, want) in cases {
            assert_eq!(slug(raw), want, "{raw}");
        }
    }
}
