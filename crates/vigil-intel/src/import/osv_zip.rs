//! A zip of OSV JSON files: OSV.dev's per-ecosystem `all.zip` (records at the top level) or a
//! zipped tree such as ossf/malicious-packages' `osv/` (records in folders).
//!
//! The archive is read into memory once and its entries are decompressed and parsed in
//! parallel (each rayon worker holds a clone of the archive over the same bytes). Nothing is
//! ever extracted to disk, but the reader still treats the archive as hostile:
//!
//! - an entry whose path is absolute or climbs out with `..` is refused (a well-formed feed
//!   never has one; an archive that does was made to attack extractors);
//! - each entry may decompress to at most [`ImportOptions::max_record_bytes`]: the limit is
//!   enforced on the bytes actually produced, not on the size the header claims (a zip bomb
//!   lies about it);
//! - the whole archive may decompress to at most [`ImportOptions::max_total_bytes`] and hold
//!   at most [`ImportOptions::max_entries`] entries, else the source is refused as a whole;
//! - encrypted entries and entries that fail to decompress or fail their CRC are skipped with
//!   the reason.
//!
//! Entries are inflated from their raw bytes with one reusable decompressor per worker (a
//! fresh decoder per entry costs more than the inflating itself for 2 KB records), and their
//! CRC-32 and size are checked against the central directory.
//!
//! An archive whose central directory cannot be read (truncated download, not a zip) is an
//! error for the whole source: the previous intel stays.
//!
//! Only the DEFLATE and STORED methods are built in (zip's `deflate-flate2-zlib-rs`); an entry
//! using another method is skipped with zip's reason.

use std::io::Cursor;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use flate2::{Crc, Decompress, FlushDecompress, Status};
use rayon::prelude::*;
use zip::{CompressionMethod, ZipArchive};

use super::{ImportOptions, Imported, osv_json};
use crate::error::IntelError;

/// Reads a zip file (at most [`ImportOptions::max_total_bytes`] long).
pub fn read_zip_file(path: &Path, options: &ImportOptions) -> Result<Imported, IntelError> {
    let bytes = osv_json::read_bounded(path, options.max_total_bytes)?;
    read_zip_bytes(&bytes, &path.display().to_string(), options)
        .map_err(|reason| IntelError::source(path, reason))
}

/// Reads a zip held in memory; `label` prefixes entry locations (`label!entry`). An `Err`
/// says why the archive as a whole is refused.
pub fn read_zip_bytes(
    bytes: &[u8],
    label: &str,
    options: &ImportOptions,
) -> Result<Imported, String> {
    let archive = ZipArchive::new(Cursor::new(bytes))
        .map_err(|e| format!("not a readable zip archive (truncated or corrupt?): {e}"))?;
    if archive.len() > options.max_entries {
        return Err(format!(
            "{} entries, above the bound of {}; refused",
            archive.len(),
            options.max_entries
        ));
    }
    let total = AtomicU64::new(0);
    let batches: Vec<Imported> = (0..archive.len())
        .into_par_iter()
        .map_init(
            || Worker {
                archive: archive.clone(),
                inflater: Decompress::new(false),
                buffer: Vec::new(),
            },
            |worker, index| read_entry(worker, bytes, index, label, options, &total),
        )
        .collect();
    let total = total.load(Ordering::Relaxed);
    if total > options.max_total_bytes {
        return Err(format!(
            "decompresses to more than the {}-byte bound for one source (zip bomb?); refused",
            options.max_total_bytes
        ));
    }
    let mut imported = Imported::default();
    for batch in batches {
        imported.absorb(batch);
    }
    Ok(imported)
}

/// Per-worker state: the archive over the shared bytes, a reusable inflater and buffer.
struct Worker<'b> {
    archive: ZipArchive<Cursor<&'b [u8]>>,
    inflater: Decompress,
    buffer: Vec<u8>,
}

fn read_entry(
    worker: &mut Worker<'_>,
    bytes: &[u8],
    index: usize,
    label: &str,
    options: &ImportOptions,
    total: &AtomicU64,
) -> Imported {
    let mut out = Imported::default();
    if total.load(Ordering::Relaxed) > options.max_total_bytes {
        return out;
    }
    // Raw access: the entry's compressed bytes are sliced from the archive and inflated with
    // the worker's decompressor, so no per-entry decoder state is allocated.
    let file = match worker.archive.by_index_raw(index) {
        Ok(file) => file,
        Err(e) => {
            out.skip(
                format!("{label}!#{index}"),
                format!("unreadable entry: {e}"),
            );
            return out;
        }
    };
    let name = match file.name() {
        Ok(name) => name.into_owned(),
        Err(e) => {
            out.skip(
                format!("{label}!#{index}"),
                format!("entry name unreadable: {e}"),
            );
            return out;
        }
    };
    let location = format!("{label}!{name}");
    if file.is_dir() {
        out.ignored += 1;
        return out;
    }
    if let Some(why) = unsafe_entry_path(&name) {
        out.skip(location, format!("refused: entry path {why}"));
        return out;
    }
    let is_json = name
        .rsplit('/')
        .next()
        .and_then(|base| base.rsplit_once('.'))
        .is_some_and(|(_, ext)| ext.eq_ignore_ascii_case("json"));
    if !is_json || file.is_symlink() {
        out.ignored += 1;
        return out;
    }
    if file.encrypted() {
        out.skip(location, "encrypted entry; skipped");
        return out;
    }
    let bound = options.max_record_bytes;
    let declared = file.size();
    if declared > bound {
        out.skip(
            location,
            format!(
                "declares {declared} bytes decompressed, above the {bound}-byte bound for one record; refused"
            ),
        );
        return out;
    }
    let (method, crc, compressed) = (file.compression(), file.crc32(), file.compressed_size());
    let data = file.data_start().and_then(|start| {
        let start = usize::try_from(start).ok()?;
        let end = start.checked_add(usize::try_from(compressed).ok()?)?;
        bytes.get(start..end)
    });
    drop(file);
    let Some(data) = data else {
        out.skip(location, "entry data lies outside the archive (truncated?)");
        return out;
    };
    let result = match method {
        CompressionMethod::Stored => {
            worker.buffer.clear();
            if data.len() as u64 > bound {
                Err(InflateError::TooBig)
            } else {
                worker.buffer.extend_from_slice(data);
                Ok(())
            }
        }
        CompressionMethod::Deflated => inflate(
            &mut worker.inflater,
            data,
            &mut worker.buffer,
            bound,
            declared,
        ),
        other => Err(InflateError::Corrupt(format!(
            "compression method {other:?} is not supported (DEFLATE and STORED are)"
        ))),
    };
    match result {
        Ok(()) => {}
        Err(InflateError::TooBig) => {
            out.skip(
                location,
                format!(
                    "decompresses to more than the {bound}-byte bound for one record (its header said {declared}; zip bomb?); refused"
                ),
            );
            return out;
        }
        Err(InflateError::Corrupt(reason)) => {
            out.skip(location, format!("cannot decompress: {reason}"));
            return out;
        }
    }
    let produced = &worker.buffer;
    let mut check = Crc::new();
    check.update(produced);
    if check.sum() != crc || produced.len() as u64 != declared {
        out.skip(
            location,
            format!(
                "corrupt entry: {} bytes with CRC {:08x}, header says {declared} bytes with CRC {crc:08x}",
                produced.len(),
                check.sum()
            ),
        );
        return out;
    }
    let before = total.fetch_add(produced.len() as u64, Ordering::Relaxed);
    if before.saturating_add(produced.len() as u64) > options.max_total_bytes {
        return out;
    }
    osv_json::parse_document(produced, &location, bound, &mut out);
    out
}

enum InflateError {
    TooBig,
    Corrupt(String),
}

/// Inflates a raw DEFLATE stream into `out`, producing at most `bound` bytes.
fn inflate(
    inflater: &mut Decompress,
    input: &[u8],
    out: &mut Vec<u8>,
    bound: u64,
    hint: u64,
) -> Result<(), InflateError> {
    inflater.reset(false);
    out.clear();
    let cap = usize::try_from(hint.min(bound))
        .unwrap_or(0)
        .saturating_add(1);
    out.reserve(cap);
    loop {
        if out.len() as u64 > bound {
            return Err(InflateError::TooBig);
        }
        if out.len() == out.capacity() {
            let grow = out.len().clamp(4096, 1 << 20);
            out.reserve(grow);
        }
        let consumed = usize::try_from(inflater.total_in()).unwrap_or(usize::MAX);
        let rest = input.get(consumed..).unwrap_or(&[]);
        let before = (inflater.total_in(), inflater.total_out());
        let status = inflater
            .decompress_vec(rest, out, FlushDecompress::Finish)
            .map_err(|e| InflateError::Corrupt(e.to_string()))?;
        if out.len() as u64 > bound {
            return Err(InflateError::TooBig);
        }
        match status {
            Status::StreamEnd => return Ok(()),
            Status::Ok | Status::BufError => {
                let progressed = (inflater.total_in(), inflater.total_out()) != before;
                if !progressed && out.len() < out.capacity() {
                    return Err(InflateError::Corrupt(
                        "the DEFLATE stream ends early (truncated entry)".into(),
                    ));
                }
            }
        }
    }
}

/// Why an entry path is unsafe: absolute (`/x`, `\x`, `C:x`), climbing out (`..` component),
/// or holding a NUL. `None` when it stays inside the archive root.
pub fn unsafe_entry_path(name: &str) -> Option<&'static str> {
    if name.starts_with('/') || name.starts_with('\\') {
        return Some("is absolute");
    }
    let bytes = name.as_bytes();
    if bytes.len() >= 2 && bytes.get(1) == Some(&b':') && bytes[0].is_ascii_alphabetic() {
        return Some("has a drive prefix");
    }
    if name.contains('\0') {
        return Some("contains NUL");
    }
    if name.split(['/', '\\']).any(|part| part == "..") {
        return Some("climbs out with `..`");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use zip::write::SimpleFileOptions;

    fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let opts =
            SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
        for (name, data) in entries {
            if name.ends_with('/') {
                w.add_directory(*name, opts).unwrap();
            } else {
                w.start_file(*name, opts).unwrap();
                w.write_all(data).unwrap();
            }
        }
        w.finish().unwrap().into_inner()
    }

    #[test]
    fn entry_paths() {
        let cases = [
            ("osv/malicious/npm/a/MAL-1.json", None),
            ("MAL-1.json", None),
            ("a/..b/c.json", None),
            ("../evil.json", Some("climbs out with `..`")),
            ("a/../../evil.json", Some("climbs out with `..`")),
            ("a\\..\\evil.json", Some("climbs out with `..`")),
            ("/etc/evil.json", Some("is absolute")),
            ("\\evil.json", Some("is absolute")),
            ("C:evil.json", Some("has a drive prefix")),
            ("a\0b.json", Some("contains NUL")),
        ];
        for (name, want) in cases {
            assert_eq!(unsafe_entry_path(name), want, "{name}");
        }
    }

    #[test]
    fn reads_good_entries_and_reports_bad_ones() {
        let zip = zip_of(&[
            ("osv/", b""),
            ("osv/a/MAL-1.json", br#"{"id":"MAL-1"}"#),
            ("osv/a/../../../escape.json", br#"{"id":"ESC"}"#),
            (
                "osv/b/MAL-2.json",
                br#"{"id":"MAL-2","affected":[{"versions":[1]}]}"#,
            ),
            ("osv/b/MAL-3.json", b"{not json"),
            ("MANIFEST.tsv", b"path\tid\n"),
            ("MAL-4.JSON", br#"{"id":"MAL-4"}"#),
        ]);
        let out = read_zip_bytes(&zip, "feed.zip", &ImportOptions::default()).unwrap();
        let ids: Vec<&str> = out.records.iter().map(|r| r.record.id.as_str()).collect();
        assert_eq!(ids, ["MAL-1", "MAL-4"]);
        assert_eq!(out.records[0].location, "feed.zip!osv/a/MAL-1.json");
        let reasons: Vec<(&str, &str)> = out
            .skipped
            .iter()
            .map(|s| (s.location.as_str(), s.reason.as_str()))
            .collect();
        assert_eq!(reasons.len(), 3, "{reasons:?}");
        assert!(reasons[0].1.contains("climbs out"), "{reasons:?}");
        assert!(
            reasons[1].1.contains("invalid type: integer"),
            "{reasons:?}"
        );
        assert!(reasons[2].1.contains("not an OSV record"), "{reasons:?}");
        assert_eq!(out.ignored, 2);
    }

    #[test]
    fn refuses_bombs_and_truncation() {
        let zeros = vec![b' '; 3 << 20];
        let bomb = zip_of(&[("bomb.json", &zeros), ("ok.json", br#"{"id":"OK"}"#)]);
        assert!(bomb.len() < 64 << 10, "compresses well: {}", bomb.len());
        let options = ImportOptions {
            max_record_bytes: 1 << 20,
            ..ImportOptions::default()
        };
        let out = read_zip_bytes(&bomb, "bomb.zip", &options).unwrap();
        assert_eq!(out.records.len(), 1);
        assert!(out.skipped[0].reason.contains("bound for one record"));

        let many = zip_of(&[
            ("a.json", &zeros[..600 << 10]),
            ("b.json", &zeros[..600 << 10]),
        ]);
        let options = ImportOptions {
            max_total_bytes: 1 << 20,
            ..ImportOptions::default()
        };
        let err = read_zip_bytes(&many, "many.zip", &options).unwrap_err();
        assert!(err.contains("zip bomb"), "{err}");

        let good = zip_of(&[("a.json", br#"{"id":"A"}"#)]);
        for cut in [0, 10, good.len() / 2, good.len() - 5] {
            let err =
                read_zip_bytes(&good[..cut], "cut.zip", &ImportOptions::default()).unwrap_err();
            assert!(err.contains("not a readable zip"), "{cut}: {err}");
        }
    }
}
