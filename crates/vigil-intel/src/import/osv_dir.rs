//! A directory tree of OSV JSON files, as ossf/malicious-packages lays it out
//! (`osv/malicious/<ecosystem>/<package>/MAL-….json`, `osv/withdrawn/…`).
//!
//! Every `*.json` regular file under the root is a document for [`super::osv_json`]; other
//! files are ignored, as are hidden directories (`.git`) and symbolic links (a tree must not
//! lead the reader out of itself or into a loop). Files are listed first, sorted, then read and
//! parsed in parallel (rayon), and the results are kept in the sorted order so an import is
//! deterministic. Each file is bounded by [`ImportOptions::max_record_bytes`] (a feed file holds
//! one record), and the tree by
//! [`ImportOptions::max_entries`] and [`ImportOptions::max_total_bytes`].

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use rayon::prelude::*;

use super::{ImportOptions, Imported, osv_json};
use crate::error::IntelError;

/// Reads every OSV JSON file under `root`.
pub fn read_dir(root: &Path, options: &ImportOptions) -> Result<Imported, IntelError> {
    let mut files = Vec::new();
    let mut imported = Imported::default();
    collect(root, options, &mut files, &mut imported)?;
    files.sort();
    let total = AtomicU64::new(0);
    let batches: Vec<Imported> = files
        .par_iter()
        .map(|path| read_one(path, options, &total))
        .collect();
    if total.load(Ordering::Relaxed) > options.max_total_bytes {
        return Err(IntelError::source(
            root,
            format!(
                "the tree holds more than the {}-byte bound for one source; refused",
                options.max_total_bytes
            ),
        ));
    }
    for batch in batches {
        imported.absorb(batch);
    }
    Ok(imported)
}

fn collect(
    root: &Path,
    options: &ImportOptions,
    files: &mut Vec<PathBuf>,
    imported: &mut Imported,
) -> Result<(), IntelError> {
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let entries = std::fs::read_dir(&dir).map_err(|e| IntelError::io(&dir, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| IntelError::io(&dir, e))?;
            let path = entry.path();
            let Ok(file_type) = entry.file_type() else {
                imported.skip(path.display().to_string(), "cannot stat; skipped");
                continue;
            };
            let hidden = entry.file_name().to_string_lossy().starts_with('.');
            if file_type.is_dir() {
                if !hidden {
                    stack.push(path);
                }
            } else if file_type.is_file()
                && path
                    .extension()
                    .is_some_and(|e| e.eq_ignore_ascii_case("json"))
            {
                files.push(path);
                if files.len() > options.max_entries {
                    return Err(IntelError::source(
                        root,
                        format!(
                            "more than {} JSON files; refused (raise the bound if this is real)",
                            options.max_entries
                        ),
                    ));
                }
            } else {
                imported.ignored += 1;
            }
        }
    }
    Ok(())
}

fn read_one(path: &Path, options: &ImportOptions, total: &AtomicU64) -> Imported {
    let mut out = Imported::default();
    let location = path.display().to_string();
    let bytes = match osv_json::read_bounded(path, options.max_record_bytes) {
        Ok(bytes) => bytes,
        Err(IntelError::Source { .. }) => {
            let len = std::fs::metadata(path).map_or(0, |m| m.len());
            out.skip(
                location,
                format!(
                    "file is {len} bytes, above the {}-byte bound for one record; refused",
                    options.max_record_bytes
                ),
            );
            return out;
        }
        Err(e) => {
            out.skip(location, format!("cannot read: {e}"));
            return out;
        }
    };
    let before = total.fetch_add(bytes.len() as u64, Ordering::Relaxed);
    if before.saturating_add(bytes.len() as u64) > options.max_total_bytes {
        // The caller fails the whole source; parsing more would be wasted work.
        return out;
    }
    osv_json::parse_document(&bytes, &location, options.max_record_bytes, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_tree_tolerantly_and_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let write = |rel: &str, text: &str| {
            let p = root.join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        };
        write("osv/malicious/npm/b/MAL-2.json", r#"{"id":"MAL-2"}"#);
        write("osv/malicious/npm/a/MAL-1.json", r#"{"id":"MAL-1"}"#);
        write("osv/malicious/npm/@s/c/MAL-3.json", r#"{"id":"MAL-3"}"#);
        write(
            "osv/malicious/npm/bad/MAL-4.json",
            r#"{"id":"MAL-4","aliases":7}"#,
        );
        write(
            "osv/withdrawn/npm/w/MAL-5.json",
            r#"{"id":"MAL-5","withdrawn":"2025-01-01T00:00:00Z"}"#,
        );
        write("README.md", "hello");
        write(".git/objects/x.json", r#"{"id":"NOPE"}"#);
        std::fs::create_dir_all(root.join("nuget/odd.json")).unwrap();
        let out = read_dir(root, &ImportOptions::default()).unwrap();
        let ids: Vec<&str> = out.records.iter().map(|r| r.record.id.as_str()).collect();
        assert_eq!(ids, ["MAL-3", "MAL-1", "MAL-2", "MAL-5"]);
        assert_eq!(out.skipped.len(), 1);
        assert!(out.skipped[0].location.ends_with("MAL-4.json"));
        assert!(
            out.skipped[0].reason.contains("invalid type"),
            "{:?}",
            out.skipped
        );
        assert_eq!(out.ignored, 1);
    }

    #[test]
    fn bounds_the_tree() {
        let dir = tempfile::tempdir().unwrap();
        for i in 0..5 {
            std::fs::write(
                dir.path().join(format!("{i}.json")),
                format!(r#"{{"id":"X-{i}"}}"#),
            )
            .unwrap();
        }
        let options = ImportOptions {
            max_entries: 3,
            ..ImportOptions::default()
        };
        assert!(read_dir(dir.path(), &options).is_err());
        let options = ImportOptions {
            max_total_bytes: 20,
            ..ImportOptions::default()
        };
        let err = read_dir(dir.path(), &options).unwrap_err().to_string();
        assert!(err.contains("20-byte bound"), "{err}");
    }
}
