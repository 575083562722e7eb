//! Intel on disk: the sources imported or synced into a data directory, and loading them
//! (with the bundled baseline) into an [`AdvisoryIndex`].
//!
//! ```text
//! <data-dir>/intel/
//!   catalog.json                 every source: kind, location, import/sync times, ETag,
//!                                counts, skipped records, current generation's files
//!   sources/<slug>.<gen>.snap    the source's advisories, ready to compile (crate::snapshot)
//!   sources/<slug>.<gen>.records the source's records as published, back to back (for `show`)
//!   matcher.bin                  what `vigil scan` matches with (crate::matcher), rebuilt
//!                                after every import and sync, or on first use when stale
//!   tmp/                         downloads in progress
//!   lock                         held while writing
//! ```
//!
//! Writes are atomic: files are written under a temporary name, synced and renamed into place;
//! a source's new generation is complete on disk before the catalog (itself replaced
//! atomically) points at it, and the previous generation is deleted only after. A crash or a
//! failed download at any point leaves the previous intel readable and in use. Writers take an
//! exclusive lock on `lock`; readers take none (every file they can see is complete).

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::advisory::{Advisory, AdvisoryKind, RecordOrigin};
use crate::baseline;
use crate::error::IntelError;
use crate::import::{self, ImportOptions, Imported, SkippedRecord, SourceKind, slug};
use crate::index::{AdvisoryIndex, IndexBuilder, IndexCounts, KindCounts, Replaced};
use crate::matcher::{self, LazyIndex, Provenance};
use crate::snapshot::{RecordSpan, SourceSnapshot, StoredAdvisory};
use crate::time::Timestamp;

/// The catalog's format number.
const CATALOG_FORMAT: u32 = 1;
/// Skipped records kept per source in the catalog (the total is always kept).
const SKIPPED_KEPT: usize = 1000;

/// Every source of a data directory.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Catalog {
    /// Format number.
    pub format: u32,
    /// The sources, in the order they were first added.
    pub sources: Vec<SourceState>,
}

impl Catalog {
    /// The source named `name`.
    pub fn source(&self, name: &str) -> Option<&SourceState> {
        self.sources.iter().find(|s| s.name == name)
    }
}

/// One source: what it is, when it was last imported or checked, what it holds.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SourceState {
    /// The source name (`--name`, the file stem, or the feed name).
    pub name: String,
    /// Its format.
    pub kind: Option<SourceKind>,
    /// The path it was imported from, or the feed URL.
    pub location: String,
    /// When its current data was imported (Unix seconds).
    pub imported_at: Option<i64>,
    /// When a sync last confirmed it current (Unix seconds; imports count as checks).
    pub checked_at: Option<i64>,
    /// The feed's ETag for conditional requests.
    pub etag: Option<String>,
    /// The feed's Last-Modified for conditional requests.
    pub last_modified: Option<String>,
    /// Advisories kept (withdrawn included).
    pub advisories: usize,
    /// Withdrawn advisories.
    pub withdrawn: usize,
    /// MALICIOUS / VULNERABILITY per ecosystem (active advisories).
    pub by_ecosystem: BTreeMap<String, KindCounts>,
    /// Records skipped in total.
    pub skipped_total: usize,
    /// The first skipped records, with where and why.
    pub skipped: Vec<SkippedRecord>,
    /// Files that were not records (directories, manifests).
    pub ignored: usize,
    /// The last failed sync (the data above is still the previous good one).
    pub last_error: Option<String>,
    /// When it failed (Unix seconds).
    pub last_error_at: Option<i64>,
    /// Generation of the files below.
    pub generation: u64,
    /// Snapshot file name under `sources/` (empty: no data yet).
    pub snapshot_file: String,
    /// Record pack file name under `sources/`.
    pub records_file: String,
}

impl SourceState {
    /// Whether the source has data (a failed first sync has none).
    pub fn has_data(&self) -> bool {
        !self.snapshot_file.is_empty()
    }
}

/// Identity and feed metadata of a source being saved.
#[derive(Clone, Debug, Default)]
pub struct SourceUpdate {
    /// Source name.
    pub name: String,
    /// Its format.
    pub kind: Option<SourceKind>,
    /// Path or URL.
    pub location: String,
    /// Feed ETag.
    pub etag: Option<String>,
    /// Feed Last-Modified.
    pub last_modified: Option<String>,
}

/// The outcome of a sync check that did not bring new data.
#[derive(Clone, Debug)]
pub enum CheckNote {
    /// The feed is unchanged (HTTP 304).
    NotModified,
    /// The check failed; the reason is kept for `status`.
    Failed(String),
}

/// The intel of a data directory, loaded.
#[derive(Debug)]
pub struct LoadedIntel {
    /// The matcher.
    pub index: AdvisoryIndex,
    /// Sources that could not be loaded (the others are in the index).
    pub warnings: Vec<String>,
    /// Ids present in several sources, and which copy won.
    pub replaced: Vec<Replaced>,
}

/// The persisted matcher of a data directory, opened ([`IntelStore::open_matcher`]).
#[derive(Debug)]
pub struct LoadedMatcher {
    /// The matcher.
    pub index: LazyIndex,
    /// What went wrong on the way (a matcher rebuilt, a source left out).
    pub warnings: Vec<String>,
}

/// A record for `vigil intel show`.
#[derive(Clone, Debug)]
pub struct ShownRecord {
    /// The advisory as vigil uses it.
    pub advisory: Advisory,
    /// The record's JSON as published.
    pub raw: String,
}

/// `vigil intel status`.
#[derive(Clone, Debug, Serialize)]
pub struct IntelStatus {
    /// The intel directory.
    pub intel_dir: String,
    /// When this status was taken (RFC 3339).
    pub now: String,
    /// Counts over everything loaded, duplicates resolved.
    pub counts: IndexCounts,
    /// The sources, the built-in baseline first.
    pub sources: Vec<SourceStatus>,
    /// Sources that could not be loaded.
    pub warnings: Vec<String>,
}

/// One row of `vigil intel status`.
#[derive(Clone, Debug, Serialize)]
pub struct SourceStatus {
    /// Name.
    pub name: String,
    /// Format (`builtin` for the baseline).
    pub kind: String,
    /// Path or URL.
    pub location: String,
    /// Last import or successful sync (RFC 3339).
    pub imported_at: Option<String>,
    /// Seconds since then.
    pub imported_age_seconds: Option<i64>,
    /// Last time a sync confirmed the data current (RFC 3339).
    pub checked_at: Option<String>,
    /// Seconds since then.
    pub checked_age_seconds: Option<i64>,
    /// Advisories (withdrawn included).
    pub advisories: usize,
    /// Withdrawn advisories.
    pub withdrawn: usize,
    /// Per ecosystem and kind.
    pub by_ecosystem: BTreeMap<String, KindCounts>,
    /// Skipped records in total.
    pub skipped_total: usize,
    /// The first skipped records.
    pub skipped: Vec<SkippedRecord>,
    /// The last failed sync, if the last attempt failed.
    pub last_error: Option<String>,
}

/// The intel directory of a data directory.
#[derive(Clone, Debug)]
pub struct IntelStore {
    root: PathBuf,
}

impl IntelStore {
    /// The intel of `data_dir` (nothing is created until something is written).
    pub fn new(data_dir: &Path) -> IntelStore {
        IntelStore {
            root: data_dir.join("intel"),
        }
    }

    /// `<data-dir>/intel`.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn catalog_path(&self) -> PathBuf {
        self.root.join("catalog.json")
    }

    fn sources_dir(&self) -> PathBuf {
        self.root.join("sources")
    }

    /// Where downloads are staged.
    pub fn tmp_dir(&self) -> PathBuf {
        self.root.join("tmp")
    }

    /// The catalog (empty when nothing was imported yet).
    pub fn catalog(&self) -> Result<Catalog, IntelError> {
        let path = self.catalog_path();
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Catalog {
                    format: CATALOG_FORMAT,
                    sources: Vec::new(),
                });
            }
            Err(e) => return Err(IntelError::io(&path, e)),
        };
        let catalog: Catalog = serde_json::from_slice(&bytes)
            .map_err(|e| IntelError::store(&path, format!("unreadable catalog: {e}")))?;
        if catalog.format != CATALOG_FORMAT {
            return Err(IntelError::store(
                &path,
                format!(
                    "catalog format {}, this vigil reads {CATALOG_FORMAT}",
                    catalog.format
                ),
            ));
        }
        Ok(catalog)
    }

    /// Imports a file, directory or zip as source `name` (default: the file stem), replacing
    /// that source's previous data. A source that cannot be read at all changes nothing.
    pub fn import(
        &self,
        path: &Path,
        name: Option<&str>,
        options: &ImportOptions,
    ) -> Result<SourceState, IntelError> {
        let kind = import::detect_kind(path, options.kind)?;
        let name = name.map(str::to_owned).unwrap_or_else(|| source_name(path));
        let options = ImportOptions {
            list_name: options.list_name.clone().or_else(|| Some(name.clone())),
            ..options.clone()
        };
        let imported = import::read_source(path, kind, &options)?;
        let location = fs::canonicalize(path)
            .unwrap_or_else(|_| path.to_path_buf())
            .display()
            .to_string();
        self.save_source(
            SourceUpdate {
                name,
                kind: Some(kind),
                location,
                etag: None,
                last_modified: None,
            },
            imported,
        )
    }

    /// Stores a source's records as its new generation and points the catalog at it.
    pub fn save_source(
        &self,
        update: SourceUpdate,
        imported: Imported,
    ) -> Result<SourceState, IntelError> {
        let now = Timestamp::now();
        let advisories: Vec<Advisory> = imported
            .records
            .par_iter()
            .map(|r| {
                Advisory::from_record(
                    &r.record,
                    RecordOrigin {
                        source: update.name.clone(),
                        location: r.location.clone(),
                        line: r.line,
                    },
                )
            })
            .collect();
        let mut pack = Vec::with_capacity(imported.records.iter().map(|r| r.raw.len() + 1).sum());
        let mut stored = Vec::with_capacity(advisories.len());
        for (record, advisory) in imported.records.iter().zip(advisories) {
            let span = RecordSpan {
                offset: pack.len() as u64,
                len: record.raw.len() as u64,
            };
            pack.extend_from_slice(record.raw.as_bytes());
            pack.push(b'\n');
            stored.push(StoredAdvisory {
                advisory,
                record: span,
            });
        }
        let (by_ecosystem, withdrawn) = source_counts(&stored);
        let snapshot = SourceSnapshot {
            source: update.name.clone(),
            advisories: stored,
        };
        let snapshot_bytes = snapshot
            .encode()
            .map_err(|reason| IntelError::store(&self.root, reason))?;

        let sources_dir = self.sources_dir();
        fs::create_dir_all(&sources_dir).map_err(|e| IntelError::io(&sources_dir, e))?;
        let _lock = self.lock()?;
        let mut catalog = self.catalog()?;
        let generation = catalog
            .sources
            .iter()
            .map(|s| s.generation)
            .max()
            .unwrap_or(0)
            + 1;
        let stem = format!("{}.{generation}", slug(&update.name));
        let records_file = format!("{stem}.records");
        let snapshot_file = format!("{stem}.snap");
        write_atomic(&sources_dir.join(&records_file), &pack)?;
        write_atomic(&sources_dir.join(&snapshot_file), &snapshot_bytes)?;
        // The matcher rebuilt below decodes every snapshot again: free the feed first.
        let advisory_count = snapshot.advisories.len();
        drop((pack, snapshot_bytes, snapshot, imported.records));

        let skipped_total = imported.skipped.len();
        let mut skipped = imported.skipped;
        skipped.truncate(SKIPPED_KEPT);
        let state = SourceState {
            name: update.name.clone(),
            kind: update.kind,
            location: update.location,
            imported_at: Some(now.unix_seconds()),
            checked_at: Some(now.unix_seconds()),
            etag: update.etag,
            last_modified: update.last_modified,
            advisories: advisory_count,
            withdrawn,
            by_ecosystem,
            skipped_total,
            skipped,
            ignored: imported.ignored,
            last_error: None,
            last_error_at: None,
            generation,
            snapshot_file,
            records_file,
        };
        let previous = match catalog.sources.iter_mut().find(|s| s.name == update.name) {
            Some(slot) => Some(std::mem::replace(slot, state.clone())),
            None => {
                catalog.sources.push(state.clone());
                None
            }
        };
        self.write_catalog(&catalog)?;
        if let Some(old) = previous.filter(SourceState::has_data) {
            // Best effort: a leftover file costs disk, not correctness.
            let _ = fs::remove_file(sources_dir.join(&old.snapshot_file));
            let _ = fs::remove_file(sources_dir.join(&old.records_file));
        }
        // Best effort too: a matcher that is missing or out of date is rebuilt (with a
        // warning) by the next scan, so a failure here must not fail the import.
        let _ = self.write_matcher(&catalog);
        Ok(state)
    }

    /// Records a sync check that brought no new data (unchanged, or failed).
    pub fn note_check(
        &self,
        name: &str,
        location: &str,
        note: CheckNote,
    ) -> Result<(), IntelError> {
        fs::create_dir_all(&self.root).map_err(|e| IntelError::io(&self.root, e))?;
        let _lock = self.lock()?;
        let mut catalog = self.catalog()?;
        let now = Timestamp::now().unix_seconds();
        let source = match catalog.sources.iter_mut().find(|s| s.name == name) {
            Some(source) => source,
            None => {
                catalog.sources.push(SourceState {
                    name: name.to_owned(),
                    kind: Some(SourceKind::OsvZip),
                    location: location.to_owned(),
                    ..SourceState::default()
                });
                match catalog.sources.last_mut() {
                    Some(source) => source,
                    None => return Ok(()),
                }
            }
        };
        match note {
            CheckNote::NotModified => {
                source.checked_at = Some(now);
                source.last_error = None;
                source.last_error_at = None;
            }
            CheckNote::Failed(reason) => {
                source.last_error = Some(reason);
                source.last_error_at = Some(now);
            }
        }
        self.write_catalog(&catalog)
    }

    fn write_catalog(&self, catalog: &Catalog) -> Result<(), IntelError> {
        let path = self.catalog_path();
        let bytes = serde_json::to_vec_pretty(catalog)
            .map_err(|e| IntelError::store(&path, format!("cannot encode catalog: {e}")))?;
        write_atomic(&path, &bytes)
    }

    fn lock(&self) -> Result<File, IntelError> {
        let path = self.root.join("lock");
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| IntelError::io(&path, e))?;
        file.lock().map_err(|e| IntelError::io(&path, e))?;
        Ok(file)
    }

    /// Reads one source's snapshot.
    pub fn read_snapshot(&self, source: &SourceState) -> Result<SourceSnapshot, IntelError> {
        let path = self.sources_dir().join(&source.snapshot_file);
        let bytes = fs::read(&path).map_err(|e| IntelError::io(&path, e))?;
        SourceSnapshot::decode(&bytes).map_err(|reason| IntelError::store(&path, reason))
    }

    /// Loads the baseline and every source into a matcher. A source that cannot be read is
    /// left out with a warning; the rest still loads.
    pub fn load(&self) -> Result<LoadedIntel, IntelError> {
        let catalog = self.catalog()?;
        let sources = load_order(&catalog);
        let snapshots: Vec<Result<SourceSnapshot, IntelError>> = sources
            .par_iter()
            .map(|source| self.read_snapshot(source))
            .collect();
        let mut builder = IndexBuilder::new();
        builder.extend(baseline::advisories());
        let mut warnings = Vec::new();
        for (source, snapshot) in sources.iter().zip(snapshots) {
            match snapshot {
                Ok(snapshot) => builder.extend(snapshot.advisories.into_iter().map(|s| s.advisory)),
                Err(e) => warnings.push(format!("source {:?} not loaded: {e}", source.name)),
            }
        }
        let (index, replaced) = builder.finish();
        Ok(LoadedIntel {
            index,
            warnings,
            replaced,
        })
    }

    /// `<data-dir>/intel/matcher.bin`.
    pub fn matcher_path(&self) -> PathBuf {
        self.root.join("matcher.bin")
    }

    /// Opens the persisted matcher ([`crate::matcher`]), what `vigil scan` matches with: one
    /// read of a compact file instead of decoding every advisory. A matcher that is missing,
    /// damaged or built for other intel is rebuilt from the snapshots (and saved when every
    /// source could be read) with a warning saying why.
    pub fn open_matcher(&self) -> Result<LoadedMatcher, IntelError> {
        let catalog = self.catalog()?;
        let fingerprint = self.fingerprint(&catalog);
        let path = self.matcher_path();
        let reason = match fs::read(&path) {
            Ok(bytes) => match self.lazy_index(bytes, &fingerprint) {
                Ok(index) => {
                    return Ok(LoadedMatcher {
                        index,
                        warnings: Vec::new(),
                    });
                }
                Err(reason) => reason,
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => "missing".to_owned(),
            Err(e) => e.to_string(),
        };
        let (bytes, mut warnings) = self.build_matcher(&catalog, &fingerprint)?;
        let mut note = format!(
            "intel matcher {}: {reason}; rebuilt from the source snapshots",
            path.display()
        );
        if warnings.is_empty()
            && let Err(e) = write_atomic(&path, &bytes)
        {
            note.push_str(&format!(" (not saved: {e})"));
        }
        // An intel directory without any source data (a first sync that failed) has
        // nothing a user could have lost: no warning.
        if !load_order(&catalog).is_empty() {
            warnings.insert(0, note);
        }
        let index = self
            .lazy_index(bytes, &fingerprint)
            .map_err(|reason| IntelError::store(&path, reason))?;
        Ok(LoadedMatcher { index, warnings })
    }

    fn lazy_index(&self, bytes: Vec<u8>, fingerprint: &str) -> Result<LazyIndex, String> {
        let store = self.clone();
        LazyIndex::open(
            bytes,
            fingerprint,
            self.sources_dir(),
            Box::new(move || match store.load() {
                Ok(loaded) => (loaded.index, loaded.warnings),
                Err(e) => (
                    baseline::index(),
                    vec![format!(
                        "intel not loaded ({e}): matching the baseline only"
                    )],
                ),
            }),
        )
    }

    /// Writes the matcher of `catalog`'s intel, unless a source cannot be read (a scan then
    /// rebuilds it in memory each time, repeating that source's warning as `load` does).
    fn write_matcher(&self, catalog: &Catalog) -> Result<(), IntelError> {
        let fingerprint = self.fingerprint(catalog);
        let (bytes, warnings) = self.build_matcher(catalog, &fingerprint)?;
        if warnings.is_empty() {
            write_atomic(&self.matcher_path(), &bytes)?;
        }
        Ok(())
    }

    /// What a matcher must have been built from to be current: the format, this vigil-intel
    /// and its baseline, and each loaded source's snapshot file with its size and mtime (a
    /// snapshot rewritten in place, or damaged, makes the matcher stale).
    fn fingerprint(&self, catalog: &Catalog) -> String {
        let mut out = format!(
            "matcher {}; vigil-intel {}; baseline {:08x}",
            matcher::FORMAT,
            env!("CARGO_PKG_VERSION"),
            crc32fast::hash(baseline::BASELINE_JSON.as_bytes())
        );
        for source in load_order(catalog) {
            let meta = fs::metadata(self.sources_dir().join(&source.snapshot_file)).ok();
            let mtime = meta
                .as_ref()
                .and_then(|m| m.modified().ok())
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map(|d| d.as_nanos());
            out.push_str(&format!(
                "; {:?} {:?} gen {} at {:?} size {:?} mtime {:?}",
                source.name,
                source.snapshot_file,
                source.generation,
                source.imported_at,
                meta.map(|m| m.len()),
                mtime
            ));
        }
        out
    }

    /// Encodes the matcher from the baseline and the snapshots, in [`IntelStore::load`]'s
    /// order; a source that cannot be read is left out with `load`'s warning.
    fn build_matcher(
        &self,
        catalog: &Catalog,
        fingerprint: &str,
    ) -> Result<(Vec<u8>, Vec<String>), IntelError> {
        let sources = load_order(catalog);
        let decoded: Vec<Result<(SourceSnapshot, Vec<RecordSpan>), IntelError>> = sources
            .par_iter()
            .map(|source| {
                let path = self.sources_dir().join(&source.snapshot_file);
                let bytes = fs::read(&path).map_err(|e| IntelError::io(&path, e))?;
                SourceSnapshot::decode_with_spans(&bytes)
                    .map_err(|reason| IntelError::store(&path, reason))
            })
            .collect();
        let mut candidates: Vec<(Advisory, Provenance)> = baseline::advisories()
            .into_iter()
            .enumerate()
            .map(|(i, a)| (a, Provenance::baseline(i)))
            .collect();
        let mut warnings = Vec::new();
        for (i, (source, snapshot)) in sources.iter().zip(decoded).enumerate() {
            match snapshot {
                Ok((snapshot, spans)) => {
                    let at = u32::try_from(i)
                        .map_err(|_| IntelError::store(&self.root, "too many sources"))?;
                    candidates.extend(
                        snapshot
                            .advisories
                            .into_iter()
                            .zip(spans)
                            .map(|(stored, span)| {
                                (stored.advisory, Provenance { source: at, span })
                            }),
                    );
                }
                Err(e) => warnings.push(format!("source {:?} not loaded: {e}", source.name)),
            }
        }
        let files: Vec<String> = sources.iter().map(|s| s.snapshot_file.clone()).collect();
        let bytes = matcher::build(fingerprint, &files, candidates)
            .map_err(|reason| IntelError::store(&self.matcher_path(), reason))?;
        Ok((bytes, warnings))
    }

    /// The records with id `id` — or, when none has it, those listing it as an alias — as
    /// vigil uses them: of copies in several sources, the one the matcher uses.
    pub fn show(&self, id: &str) -> Result<Vec<ShownRecord>, IntelError> {
        let catalog = self.catalog()?;
        let sources = load_order(&catalog);
        // Candidates in load order: (advisory, where its text is).
        let mut candidates: Vec<(Advisory, Option<(&SourceState, RecordSpan)>)> = Vec::new();
        for a in baseline::advisories() {
            candidates.push((a, None));
        }
        for source in &sources {
            let snapshot = self.read_snapshot(source)?;
            for stored in snapshot.advisories {
                candidates.push((stored.advisory, Some((*source, stored.record))));
            }
        }
        let by_id: Vec<usize> = (0..candidates.len())
            .filter(|&i| candidates.get(i).is_some_and(|(a, _)| a.id == id))
            .collect();
        let wanted: Vec<usize> = if by_id.is_empty() {
            (0..candidates.len())
                .filter(|&i| {
                    candidates
                        .get(i)
                        .is_some_and(|(a, _)| a.aliases.iter().any(|x| x == id))
                })
                .collect()
        } else {
            by_id
        };
        // One per id: the copy the index keeps (newer modified, ties to the later source).
        let mut best: Vec<usize> = Vec::new();
        for i in wanted {
            let Some((a, _)) = candidates.get(i) else {
                continue;
            };
            let stamp = |a: &Advisory| a.modified.as_deref().and_then(Timestamp::parse_rfc3339);
            match best
                .iter_mut()
                .find(|j| candidates.get(**j).is_some_and(|(b, _)| b.id == a.id))
            {
                Some(j) => {
                    if candidates
                        .get(*j)
                        .is_some_and(|(b, _)| stamp(a) >= stamp(b))
                    {
                        *j = i;
                    }
                }
                None => best.push(i),
            }
        }
        let mut out = Vec::new();
        for i in best {
            let Some((advisory, place)) = candidates.get(i) else {
                continue;
            };
            let raw = match place {
                None => baseline::raw_record(&advisory.id)
                    .unwrap_or_default()
                    .to_owned(),
                Some((source, span)) => self.read_record(source, *span)?,
            };
            out.push(ShownRecord {
                advisory: advisory.clone(),
                raw,
            });
        }
        Ok(out)
    }

    fn read_record(&self, source: &SourceState, span: RecordSpan) -> Result<String, IntelError> {
        let path = self.sources_dir().join(&source.records_file);
        let mut file = File::open(&path).map_err(|e| IntelError::io(&path, e))?;
        let len = usize::try_from(span.len)
            .map_err(|_| IntelError::store(&path, "record span does not fit in memory"))?;
        file.seek(SeekFrom::Start(span.offset))
            .map_err(|e| IntelError::io(&path, e))?;
        let mut bytes = Vec::with_capacity(len.min(64 << 20));
        file.take(span.len)
            .read_to_end(&mut bytes)
            .map_err(|e| IntelError::io(&path, e))?;
        if bytes.len() != len {
            return Err(IntelError::store(
                &path,
                "record pack is shorter than its index",
            ));
        }
        String::from_utf8(bytes).map_err(|_| IntelError::store(&path, "record is not UTF-8"))
    }

    /// Counts, sources, ages, skipped records.
    pub fn status(&self) -> Result<IntelStatus, IntelError> {
        let loaded = self.load()?;
        let catalog = self.catalog()?;
        let now = Timestamp::now();
        let age = |t: Option<i64>| t.map(|t| Timestamp::from_unix(t).seconds_until(now));
        let text = |t: Option<i64>| t.map(|t| Timestamp::from_unix(t).to_rfc3339());
        let baseline_advisories = baseline::advisories();
        let mut sources = vec![SourceStatus {
            name: baseline::BASELINE_SOURCE.to_owned(),
            kind: "builtin".to_owned(),
            location: baseline::BASELINE_LOCATION.to_owned(),
            imported_at: None,
            imported_age_seconds: None,
            checked_at: None,
            checked_age_seconds: None,
            advisories: baseline_advisories.len(),
            withdrawn: 0,
            by_ecosystem: advisory_counts(baseline_advisories.iter()).0,
            skipped_total: baseline::records().skipped.len(),
            skipped: baseline::records().skipped.clone(),
            last_error: None,
        }];
        for s in &catalog.sources {
            sources.push(SourceStatus {
                name: s.name.clone(),
                kind: s.kind.map_or("unknown", SourceKind::as_str).to_owned(),
                location: s.location.clone(),
                imported_at: text(s.imported_at),
                imported_age_seconds: age(s.imported_at),
                checked_at: text(s.checked_at),
                checked_age_seconds: age(s.checked_at),
                advisories: s.advisories,
                withdrawn: s.withdrawn,
                by_ecosystem: s.by_ecosystem.clone(),
                skipped_total: s.skipped_total,
                skipped: s.skipped.clone(),
                last_error: s.last_error.clone(),
            });
        }
        Ok(IntelStatus {
            intel_dir: self.root.display().to_string(),
            now: now.to_rfc3339(),
            counts: loaded.index.counts(),
            sources,
            warnings: loaded.warnings,
        })
    }
}

/// The sources with data, in the order they are loaded (their copies of an id replace those
/// of sources imported earlier on a `modified` tie).
fn load_order(catalog: &Catalog) -> Vec<&SourceState> {
    let mut sources: Vec<&SourceState> = catalog.sources.iter().filter(|s| s.has_data()).collect();
    sources.sort_by_key(|s| s.imported_at);
    sources
}

/// The default name of a source: the file stem (`malicious-packages-osv` for
/// `malicious-packages-osv.zip`), or the directory name.
pub fn source_name(path: &Path) -> String {
    let path = fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "import".to_owned())
}

fn source_counts(stored: &[StoredAdvisory]) -> (BTreeMap<String, KindCounts>, usize) {
    advisory_counts(stored.iter().map(|s| &s.advisory))
}

fn advisory_counts<'a>(
    advisories: impl Iterator<Item = &'a Advisory>,
) -> (BTreeMap<String, KindCounts>, usize) {
    let mut by_ecosystem: BTreeMap<String, KindCounts> = BTreeMap::new();
    let mut withdrawn = 0;
    for a in advisories {
        if a.is_withdrawn() {
            withdrawn += 1;
            continue;
        }
        for e in a.ecosystems() {
            let row = by_ecosystem.entry(e).or_default();
            match a.kind {
                AdvisoryKind::Malicious => row.malicious += 1,
                AdvisoryKind::Vulnerability => row.vulnerability += 1,
            }
        }
    }
    (by_ecosystem, withdrawn)
}

/// Writes `bytes` to `path` atomically: a temporary file in the same directory, synced, then
/// renamed over `path`.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), IntelError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(|e| IntelError::io(dir, e))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = dir.join(format!(".{name}.{}.{n}.tmp", std::process::id()));
    let result = (|| {
        let mut file = File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&tmp, path)?;
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    result.map_err(|e| {
        let _ = fs::remove_file(&tmp);
        IntelError::io(path, e)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::Matcher;
    use vigil_core::Ecosystem;

    /// (ids matched, warnings) of one lookup through the persisted matcher.
    fn lazy_ids(index: &LazyIndex, name: &str, version: &str) -> Vec<String> {
        let mut ids: Vec<String> = Matcher::lookup(index, &Ecosystem::parse("npm"), name, version)
            .iter()
            .map(|m| m.advisory.id.clone())
            .collect();
        ids.sort();
        ids
    }

    #[test]
    fn matcher_is_rebuilt_when_missing_damaged_or_stale_and_never_answers_wrong() {
        let dir = tempfile::tempdir().unwrap();
        let store = IntelStore::new(dir.path());
        let list = dir.path().join("mine.txt");
        fs::write(&list, "left-pad@1.3.0\nchalk@5.6.1\n").unwrap();
        store
            .import(&list, None, &ImportOptions::default())
            .unwrap();
        let fresh = fs::read(store.matcher_path()).unwrap();
        let opened = store.open_matcher().unwrap();
        assert!(opened.warnings.is_empty(), "{:?}", opened.warnings);
        assert_eq!(
            lazy_ids(&opened.index, "left-pad", "1.3.0"),
            ["CUSTOM-mine-1"]
        );
        // The baseline's chalk advisory and the list's entry, decoded from both places.
        assert_eq!(
            lazy_ids(&opened.index, "chalk", "5.6.1").len(),
            2,
            "baseline + list"
        );
        assert!(lazy_ids(&opened.index, "left-pad", "1.3.1").is_empty());

        // Each damage: one warning naming the reason, the right answers, the file repaired.
        let mut flipped = fresh.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 0xff;
        let mut bad_format = fresh.clone();
        bad_format[8] = 9;
        let cases: &[(&str, Option<&[u8]>)] = &[
            ("missing", None),
            ("checksum", Some(&flipped)),
            ("format", Some(&bad_format)),
            ("truncated", Some(&fresh[..fresh.len() / 2])),
            ("bad magic", Some(b"junk")),
        ];
        for (reason, bytes) in cases {
            match bytes {
                None => fs::remove_file(store.matcher_path()).unwrap(),
                Some(bytes) => fs::write(store.matcher_path(), bytes).unwrap(),
            }
            let opened = store.open_matcher().unwrap();
            assert_eq!(opened.warnings.len(), 1, "{reason}: {:?}", opened.warnings);
            assert!(opened.warnings[0].contains(reason), "{:?}", opened.warnings);
            assert_eq!(
                lazy_ids(&opened.index, "left-pad", "1.3.0"),
                ["CUSTOM-mine-1"]
            );
            assert_eq!(fs::read(store.matcher_path()).unwrap(), fresh, "{reason}");
            assert!(
                store.open_matcher().unwrap().warnings.is_empty(),
                "{reason}"
            );
        }

        // Stale: a matcher of other intel is refused by its fingerprint, not believed.
        fs::write(&list, "left-pad@1.3.1\n").unwrap();
        store
            .import(&list, None, &ImportOptions::default())
            .unwrap();
        fs::write(store.matcher_path(), &fresh).unwrap();
        let opened = store.open_matcher().unwrap();
        assert!(
            opened.warnings[0].contains("out of date"),
            "{:?}",
            opened.warnings
        );
        assert!(lazy_ids(&opened.index, "left-pad", "1.3.0").is_empty());
        assert_eq!(
            lazy_ids(&opened.index, "left-pad", "1.3.1"),
            ["CUSTOM-mine-1"]
        );

        // A snapshot damaged while a scan runs: the matcher falls back to the full index
        // (which leaves the damaged source out, with load's warning), once.
        let state = store.catalog().unwrap().sources[0].clone();
        let snapshot = store.sources_dir().join(&state.snapshot_file);
        let good_snapshot = fs::read(&snapshot).unwrap();
        let opened = store.open_matcher().unwrap();
        assert!(opened.warnings.is_empty(), "{:?}", opened.warnings);
        fs::write(&snapshot, b"junk").unwrap();
        assert!(lazy_ids(&opened.index, "left-pad", "1.3.1").is_empty());
        assert!(opened.index.fell_back());
        let warnings = opened.index.take_warnings();
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(warnings[0].contains("full intel"), "{warnings:?}");
        assert!(warnings[1].contains("not loaded"), "{warnings:?}");
        assert_eq!(
            lazy_ids(&opened.index, "debug", "4.4.2").len(),
            1,
            "baseline"
        );

        // Damaged before the scan: rebuilt without the source, and not saved, so the
        // warning repeats on every scan as long as the damage lasts.
        let opened = store.open_matcher().unwrap();
        assert_eq!(opened.warnings.len(), 2, "{:?}", opened.warnings);
        assert!(lazy_ids(&opened.index, "left-pad", "1.3.1").is_empty());
        assert_eq!(store.open_matcher().unwrap().warnings.len(), 2);
        fs::write(&snapshot, good_snapshot).unwrap();
        let opened = store.open_matcher().unwrap();
        assert_eq!(
            lazy_ids(&opened.index, "left-pad", "1.3.1"),
            ["CUSTOM-mine-1"]
        );
    }

    #[test]
    fn import_load_show_and_replace_atomically() {
        let dir = tempfile::tempdir().unwrap();
        let store = IntelStore::new(dir.path());
        let status = store.status().unwrap();
        assert_eq!(status.sources.len(), 1, "baseline only");
        assert!(status.counts.by_ecosystem["npm"].malicious >= 36);

        let list = dir.path().join("mine.txt");
        fs::write(&list, "left-pad@1.3.0\n").unwrap();
        let state = store
            .import(&list, None, &ImportOptions::default())
            .unwrap();
        assert_eq!((state.name.as_str(), state.advisories), ("mine", 1));
        let loaded = store.load().unwrap();
        let npm = Ecosystem::parse("npm");
        assert_eq!(loaded.index.lookup(&npm, "left-pad", "1.3.0").len(), 1);
        assert_eq!(loaded.index.lookup(&npm, "debug", "4.4.2").len(), 1);

        let shown = store.show("CUSTOM-mine-1").unwrap();
        assert_eq!(shown.len(), 1);
        assert!(shown[0].raw.contains("left-pad"));
        assert_eq!(shown[0].advisory.origin.line, Some(1));
        let by_alias = store.show("GHSA-qjqf-7j6f-82c4").unwrap();
        assert_eq!(by_alias[0].advisory.id, "MAL-2025-47141");

        // Re-import replaces the generation and removes the old files.
        fs::write(&list, "left-pad@1.3.1\n").unwrap();
        let second = store
            .import(&list, None, &ImportOptions::default())
            .unwrap();
        assert!(second.generation > state.generation);
        assert!(!store.sources_dir().join(&state.snapshot_file).exists());
        let loaded = store.load().unwrap();
        assert!(loaded.index.lookup(&npm, "left-pad", "1.3.0").is_empty());
        assert_eq!(loaded.index.lookup(&npm, "left-pad", "1.3.1").len(), 1);

        // A source that cannot be read changes nothing.
        let missing = dir.path().join("gone.zip");
        assert!(
            store
                .import(&missing, Some("mine"), &ImportOptions::default())
                .is_err()
        );
        assert_eq!(
            store.catalog().unwrap().sources[0].generation,
            second.generation
        );

        // A damaged snapshot is a warning, not a failure of the whole load.
        fs::write(store.sources_dir().join(&second.snapshot_file), b"junk").unwrap();
        let loaded = store.load().unwrap();
        assert_eq!(loaded.warnings.len(), 1, "{:?}", loaded.warnings);
        assert_eq!(loaded.index.lookup(&npm, "debug", "4.4.2").len(), 1);
    }
}
