//! The intel the server matches with: the bundled baseline plus every source imported or
//! synced into the data directory (vigil-intel's [`IntelStore`]), compiled into one
//! [`AdvisoryIndex`] that is swapped whole when the intel changes.
//!
//! Change detection is a diff of two indexes: an advisory whose classified form differs (or
//! that appeared or vanished) is *changed*, and the (ecosystem, name) keys its old and new
//! affected sets name are the only part of the inventory that needs matching again. The
//! store keeps a mirror of the advisories (the `advisories` table the query views join) and a
//! fingerprint of what it mirrored, so changes made while the server was down — `vigil intel
//! import` on the data directory — are caught at the next start.
//!
//! ## Intel shared by replicas
//!
//! On a shared store (PostgreSQL, [`Store::is_shared`]) several servers match with one intel.
//! The store, not a data directory, is then the truth: each source's snapshot (vigil-intel's
//! self-contained `.snap` bytes) is a blob `intel/source/<sha256>`, the [`Manifest`] blob names
//! the sources in use, and the tiny `intel/generation` blob counts its changes. A replica's
//! data directory only stages what is imported there (API uploads, `vigil intel import`);
//! publishing it bumps the generation, and every replica's index is the bundled baseline plus
//! the manifest's sources ([`build_shared_index`]). Replicas poll the generation (one small
//! blob read a second) and check it again under the detection lock before matching, so none
//! matches a snapshot against intel older than the store's.

use std::collections::{BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError, RwLock};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};
use vigil_core::Ecosystem;
use vigil_core::osv::{OsvRecord, Severity};
use vigil_intel::snapshot::SourceSnapshot;
use vigil_intel::store::SourceState;
use vigil_intel::{
    Advisory, AdvisoryIndex, ImportOptions, IndexBuilder, IntelError, IntelStore, KindOverride,
};
use vigil_store::{AdvisoryInput, AdvisoryKind, PackageKey, StoreError, Timestamp, WriteTx};

/// The store blob counting changes of the shared intel (8 bytes, little-endian).
pub const GENERATION_BLOB: &str = "intel/generation";
/// The store blob naming the shared sources ([`Manifest`], JSON).
pub const MANIFEST_BLOB: &str = "intel/manifest";
/// Prefix of the blobs holding source snapshots, by content hash.
const SOURCE_BLOB_PREFIX: &str = "intel/source/";

/// The index in use, the shared-intel generation it was built from (0: not from a shared
/// store) and its fingerprint, computed once when first needed.
#[derive(Clone)]
pub struct Current {
    /// The index.
    pub index: Arc<AdvisoryIndex>,
    /// The generation of the store's shared intel it reflects.
    pub generation: u64,
    fingerprint: Arc<OnceLock<String>>,
}

impl Current {
    /// `index`, reflecting shared-intel `generation`.
    pub fn new(index: Arc<AdvisoryIndex>, generation: u64) -> Current {
        Current {
            index,
            generation,
            fingerprint: Arc::default(),
        }
    }

    /// [`fingerprint`] of the index (cached).
    pub fn fingerprint(&self) -> &str {
        self.fingerprint.get_or_init(|| fingerprint(&self.index))
    }
}

/// The loaded intel and where it comes from.
pub struct IntelState {
    store: Option<IntelStore>,
    current: RwLock<Current>,
    catalog_seen: Mutex<Option<SystemTime>>,
    /// Local (source name, data-directory generation) pairs already considered for publishing.
    considered: Mutex<HashSet<(String, u64)>>,
    /// Held from changing the data directory's intel until the change is in use (see
    /// [`IntelState::changing`]).
    changing: Mutex<()>,
}

/// A source of the data directory, ready to publish to a shared store.
#[derive(Clone, Debug)]
pub struct LocalSource {
    /// The source's catalog entry.
    pub state: SourceState,
    /// Its snapshot, encoded.
    pub bytes: Vec<u8>,
    /// SHA-256 of `bytes`, hex.
    pub sha256: String,
}

/// The shared sources (store blob [`MANIFEST_BLOB`]).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Bumped by every change.
    pub generation: u64,
    /// The sources, in no particular order.
    pub sources: Vec<SharedSource>,
}

/// One shared source.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SharedSource {
    /// The source name.
    pub name: String,
    /// When it was imported (unix seconds), as its importing data directory recorded.
    pub imported_at: Option<i64>,
    /// SHA-256 of its snapshot: the blob `intel/source/<sha256>`.
    pub sha256: String,
    /// Advisories in it.
    pub advisories: usize,
}

impl std::fmt::Debug for IntelState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IntelState")
            .field("dir", &self.store.as_ref().map(IntelStore::root))
            .field("advisories", &self.index().len())
            .field("generation", &self.generation())
            .finish()
    }
}

/// What changed between two indexes.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct IntelChange {
    /// Ids of advisories added, changed or removed.
    pub changed: Vec<String>,
    /// The packages they name (old and new affected sets): what to match again.
    pub keys: Vec<PackageKey>,
}

/// The kind of an uploaded intel body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UploadKind {
    /// OSV JSON: one record or an array.
    Osv,
    /// A text list (`name@version` per line).
    List,
    /// A CSV list.
    Csv,
}

impl UploadKind {
    /// From `?kind=` or a `Content-Type`.
    pub fn parse(text: &str) -> Option<UploadKind> {
        let t = text
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        match t.as_str() {
            "osv" | "json" | "application/json" => Some(UploadKind::Osv),
            "list" | "text" | "text/plain" => Some(UploadKind::List),
            "csv" | "text/csv" => Some(UploadKind::Csv),
            _ => None,
        }
    }

    fn extension(self) -> &'static str {
        match self {
            UploadKind::Osv => "json",
            UploadKind::List => "txt",
            UploadKind::Csv => "csv",
        }
    }

    fn forced(self) -> KindOverride {
        match self {
            UploadKind::Osv => KindOverride::Osv,
            UploadKind::List => KindOverride::List,
            UploadKind::Csv => KindOverride::Csv,
        }
    }
}

impl IntelState {
    /// The baseline alone (no data directory).
    pub fn baseline() -> IntelState {
        IntelState::with_index(vigil_intel::baseline::index())
    }

    /// A fixed index (tests, embedding).
    pub fn with_index(index: AdvisoryIndex) -> IntelState {
        IntelState {
            store: None,
            current: RwLock::new(Current::new(Arc::new(index), 0)),
            catalog_seen: Mutex::new(None),
            considered: Mutex::default(),
            changing: Mutex::default(),
        }
    }

    /// The baseline and the data directory's sources. Sources that cannot be read are left
    /// out; their warnings are returned.
    pub fn open(data_dir: &Path) -> Result<(IntelState, Vec<String>), IntelError> {
        let store = IntelStore::new(data_dir);
        let seen = catalog_mtime(&store);
        let loaded = store.load()?;
        Ok((
            IntelState {
                store: Some(store),
                current: RwLock::new(Current::new(Arc::new(loaded.index), 0)),
                catalog_seen: Mutex::new(seen),
                considered: Mutex::default(),
                changing: Mutex::default(),
            },
            loaded.warnings,
        ))
    }

    /// One change of the data directory's intel at a time, from import to in use: an import
    /// through the API holds it until its detection ran, and the poller that notices imports
    /// by other processes holds it while it checks and reloads — else the poller could put the
    /// API's import in use first, and the API would answer that its import changed nothing.
    pub fn changing(&self) -> MutexGuard<'_, ()> {
        self.changing.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The current index.
    pub fn index(&self) -> Arc<AdvisoryIndex> {
        Arc::clone(&self.current().index)
    }

    /// The index in use with its generation and fingerprint.
    pub fn current(&self) -> Current {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The shared-intel generation the index in use reflects (0: not from a shared store).
    pub fn generation(&self) -> u64 {
        self.current().generation
    }

    /// Puts `index`, built from shared-intel `generation`, in use.
    pub fn set(&self, index: AdvisoryIndex, generation: u64) {
        *self.current.write().unwrap_or_else(PoisonError::into_inner) =
            Current::new(Arc::new(index), generation);
    }

    /// Puts an index already compiled (with its known fingerprint) in use.
    pub(crate) fn set_current(&self, current: Current) {
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = current;
    }

    /// Makes `sources` candidates for publishing again (their publishing transaction failed).
    pub fn reconsider(&self, sources: &[LocalSource]) {
        let mut considered = self
            .considered
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        for s in sources {
            considered.remove(&(s.state.name.clone(), s.state.generation));
        }
    }

    /// The data directory's sources not yet considered for publishing by this process, with
    /// their snapshots (marked considered). None without a data directory.
    pub fn unpublished_local_sources(&self) -> Result<Vec<LocalSource>, IntelError> {
        let Some(store) = &self.store else {
            return Ok(Vec::new());
        };
        let mut considered = self
            .considered
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        // What is read now is what the watcher has seen (as [`IntelState::load`] does).
        *self
            .catalog_seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = catalog_mtime(store);
        let mut out = Vec::new();
        for state in store.catalog()?.sources {
            if !state.has_data() || considered.contains(&(state.name.clone(), state.generation)) {
                continue;
            }
            let bytes =
                store
                    .read_snapshot(&state)?
                    .encode()
                    .map_err(|reason| IntelError::Store {
                        path: store.root().to_path_buf(),
                        reason,
                    })?;
            considered.insert((state.name.clone(), state.generation));
            out.push(LocalSource {
                sha256: hex(&Sha256::digest(&bytes)),
                state,
                bytes,
            });
        }
        Ok(out)
    }

    /// The intel directory, when there is one.
    pub fn dir(&self) -> Option<&Path> {
        self.store.as_ref().map(IntelStore::root)
    }

    /// Whether the data directory's catalog changed since it was last loaded (another
    /// process imported or synced).
    pub fn changed_on_disk(&self) -> bool {
        let Some(store) = &self.store else {
            return false;
        };
        let now = catalog_mtime(store);
        *self
            .catalog_seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            != now
    }

    /// Loads the data directory's intel into a new index (not yet in use).
    pub fn load(&self) -> Result<(AdvisoryIndex, Vec<String>), IntelError> {
        match &self.store {
            None => Ok((vigil_intel::baseline::index(), Vec::new())),
            Some(store) => {
                let seen = catalog_mtime(store);
                let loaded = store.load()?;
                *self
                    .catalog_seen
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner) = seen;
                Ok((loaded.index, loaded.warnings))
            }
        }
    }

    /// Puts `index` in use; returns what changed against the previous one.
    pub fn swap(&self, index: AdvisoryIndex) -> IntelChange {
        let new = Arc::new(index);
        let mut current = self.current.write().unwrap_or_else(PoisonError::into_inner);
        let generation = current.generation;
        let old = std::mem::replace(&mut *current, Current::new(Arc::clone(&new), generation));
        diff(&old.index, &new)
    }

    /// Imports an uploaded body as source `name` into the data directory (replacing that
    /// source). The new intel is not in use until [`IntelState::load`] + [`IntelState::swap`].
    pub fn import_bytes(
        &self,
        body: &[u8],
        kind: Option<UploadKind>,
        name: &str,
        options: &ImportOptions,
    ) -> Result<SourceState, IntelError> {
        let Some(store) = &self.store else {
            return Err(IntelError::Store {
                path: PathBuf::from("<none>"),
                reason: "this server has no data directory to keep imported intel in".into(),
            });
        };
        let tmp = store.tmp_dir();
        std::fs::create_dir_all(&tmp).map_err(|source| IntelError::Io {
            path: tmp.clone(),
            source,
        })?;
        let mut random = [0u8; 8];
        getrandom::fill(&mut random).map_err(|e| IntelError::Store {
            path: tmp.clone(),
            reason: format!("random source failed: {e}"),
        })?;
        let suffix: String = random.iter().map(|b| format!("{b:02x}")).collect();
        let ext = kind.map_or("upload", UploadKind::extension);
        let path: PathBuf = tmp.join(format!("upload-{suffix}.{ext}"));
        std::fs::write(&path, body).map_err(|source| IntelError::Io {
            path: path.clone(),
            source,
        })?;
        let options = ImportOptions {
            kind: kind.map(UploadKind::forced),
            list_name: Some(name.to_owned()),
            ..options.clone()
        };
        let result = store.import(&path, Some(name), &options);
        let _ = std::fs::remove_file(&path);
        result
    }
}

fn catalog_mtime(store: &IntelStore) -> Option<SystemTime> {
    std::fs::metadata(store.root().join("catalog.json"))
        .and_then(|m| m.modified())
        .ok()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The shared-intel generation in the store (0 when nothing was ever published).
pub fn read_generation(blob: Option<vigil_store::Blob>) -> u64 {
    blob.and_then(|b| b.bytes.as_slice().try_into().ok())
        .map_or(0, u64::from_le_bytes)
}

/// The manifest as `tx` sees it (empty when nothing was published).
pub fn read_manifest(tx: &mut WriteTx<'_>) -> Result<Manifest, StoreError> {
    match tx.get_blob(MANIFEST_BLOB)? {
        None => Ok(Manifest::default()),
        Some(blob) => serde_json::from_slice(&blob.bytes).map_err(|e| StoreError::InvalidInput {
            what: "blob intel/manifest",
            reason: format!("unreadable shared-intel manifest: {e}"),
        }),
    }
}

/// Publishes `local` sources into the manifest: each whose content differs from the shared
/// source of its name, unless that one was imported later (`live`: the sources were imported
/// just now, so they are the newest whatever the clocks say). Writes the blobs, the manifest and
/// the generation, and drops blobs no longer named. Returns whether anything changed.
pub fn publish(
    tx: &mut WriteTx<'_>,
    manifest: &mut Manifest,
    local: &[LocalSource],
    live: bool,
    now: Timestamp,
) -> Result<bool, StoreError> {
    let mut dropped = Vec::new();
    let mut changed = false;
    for source in local {
        let entry = SharedSource {
            name: source.state.name.clone(),
            imported_at: source.state.imported_at,
            sha256: source.sha256.clone(),
            advisories: source.state.advisories,
        };
        match manifest.sources.iter_mut().find(|s| s.name == entry.name) {
            Some(shared) if shared.sha256 == entry.sha256 => continue,
            Some(shared) if !live && shared.imported_at >= entry.imported_at => continue,
            Some(shared) => dropped.push(std::mem::replace(shared, entry).sha256),
            None => manifest.sources.push(entry),
        }
        tx.put_blob(
            &format!("{SOURCE_BLOB_PREFIX}{}", source.sha256),
            &source.bytes,
            now,
        )?;
        changed = true;
    }
    if !changed {
        return Ok(false);
    }
    for sha in dropped {
        if !manifest.sources.iter().any(|s| s.sha256 == sha) {
            tx.delete_blob(&format!("{SOURCE_BLOB_PREFIX}{sha}"))?;
        }
    }
    manifest.generation += 1;
    let bytes = serde_json::to_vec(manifest).map_err(|e| StoreError::InvalidInput {
        what: "shared-intel manifest",
        reason: e.to_string(),
    })?;
    tx.put_blob(MANIFEST_BLOB, &bytes, now)?;
    tx.put_blob(GENERATION_BLOB, &manifest.generation.to_le_bytes(), now)?;
    Ok(true)
}

/// The baseline plus the manifest's sources (oldest import first, so a later source's copy of
/// an advisory wins, as in a data directory). A source whose blob is missing or unreadable is
/// left out with a warning.
pub fn build_shared_index(
    tx: &mut WriteTx<'_>,
    manifest: &Manifest,
) -> Result<(AdvisoryIndex, Vec<String>), StoreError> {
    let mut sources: Vec<&SharedSource> = manifest.sources.iter().collect();
    sources.sort_by_key(|s| s.imported_at);
    let mut builder = IndexBuilder::new();
    builder.extend(vigil_intel::baseline::advisories());
    let mut warnings = Vec::new();
    for source in sources {
        let decoded = tx
            .get_blob(&format!("{SOURCE_BLOB_PREFIX}{}", source.sha256))?
            .ok_or_else(|| "its blob is missing".to_owned())
            .and_then(|blob| SourceSnapshot::decode(&blob.bytes));
        match decoded {
            Ok(snapshot) => builder.extend(snapshot.advisories.into_iter().map(|s| s.advisory)),
            Err(e) => warnings.push(format!("shared source {:?} not loaded: {e}", source.name)),
        }
    }
    Ok((builder.finish().0, warnings))
}

/// The keys an advisory's affected sets name.
pub fn keys_of(advisory: &Advisory) -> impl Iterator<Item = PackageKey> + '_ {
    advisory
        .affected
        .iter()
        .map(|a| PackageKey::new(Ecosystem::parse(&a.ecosystem), &a.name))
}

/// What changed from `old` to `new`, and the package keys to match again.
pub fn diff(old: &AdvisoryIndex, new: &AdvisoryIndex) -> IntelChange {
    let mut changed = Vec::new();
    let mut keys = BTreeSet::new();
    for a in new.advisories() {
        let before = old.by_id(&a.id);
        if before != Some(a) {
            changed.push(a.id.clone());
            keys.extend(keys_of(a));
            if let Some(b) = before {
                keys.extend(keys_of(b));
            }
        }
    }
    for b in old.advisories() {
        if new.by_id(&b.id).is_none() {
            changed.push(b.id.clone());
            keys.extend(keys_of(b));
        }
    }
    IntelChange {
        changed,
        keys: keys.into_iter().collect(),
    }
}

/// A fingerprint of everything in `index` (what the store's mirror was last synced to).
pub fn fingerprint(index: &AdvisoryIndex) -> String {
    let mut hash = Sha256::new();
    for a in index.advisories() {
        if let Ok(bytes) = serde_json::to_vec(a) {
            hash.update((bytes.len() as u64).to_le_bytes());
            hash.update(&bytes);
        }
    }
    hex(&hash.finalize())
}

/// The record the store mirrors for an advisory: the advisory as vigil matches it (affected
/// sets refined by vigil-intel), with its classification in `database_specific`. The record
/// as published stays in the intel directory (`vigil intel show`).
pub fn mirror_record(a: &Advisory) -> OsvRecord {
    OsvRecord {
        schema_version: None,
        id: a.id.clone(),
        modified: a.modified.clone(),
        published: a.published.clone(),
        withdrawn: a.withdrawn.clone(),
        aliases: a.aliases.clone(),
        upstream: Vec::new(),
        related: Vec::new(),
        summary: a.summary.clone(),
        details: None,
        severity: a
            .severity
            .iter()
            .map(|s| Severity {
                kind: s.system.clone(),
                score: s.vector.clone(),
            })
            .collect(),
        affected: a.affected.iter().map(|s| s.to_osv()).collect(),
        references: Vec::new(),
        credits: Vec::new(),
        database_specific: Some(json!({
            "cwe_ids": a.cwes,
            "source": a.origin.source,
            "location": a.origin.location,
            "iocs": a.iocs,
            "malicious_because": a.malicious_because,
        })),
    }
}

/// The store's classification of an advisory.
pub fn store_kind(a: &Advisory) -> AdvisoryKind {
    match a.kind {
        vigil_intel::AdvisoryKind::Malicious => AdvisoryKind::Malicious,
        vigil_intel::AdvisoryKind::Vulnerability => AdvisoryKind::Vulnerability,
    }
}

/// The severity as displayed: `9.8 CRITICAL`, a rating, or the vector.
pub fn severity_text(a: &Advisory) -> Option<String> {
    let s = a.severity.as_ref()?;
    Some(match (s.score, s.rating) {
        (Some(score), Some(rating)) => format!("{score:.1} {}", rating.as_str()),
        (None, Some(rating)) => rating.as_str().to_owned(),
        _ => s.vector.clone(),
    })
}

/// Mirror inputs for `advisories` (records built by [`mirror_record`], kept alive by the
/// caller).
pub fn mirror_inputs<'a>(
    advisories: &'a [&'a Advisory],
    records: &'a [OsvRecord],
) -> Vec<AdvisoryInput<'a>> {
    advisories
        .iter()
        .zip(records)
        .map(|(a, record)| AdvisoryInput {
            record,
            kind: store_kind(a),
            cwes: a.cwes.clone(),
            severity: severity_text(a),
            source: a.origin.source.clone(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_intel::IndexBuilder;
    use vigil_intel::advisory::RecordOrigin;

    fn advisory(id: &str, name: &str, version: &str) -> Advisory {
        let record: OsvRecord = serde_json::from_value(json!({
            "id": id,
            "modified": "2025-09-08T00:00:00Z",
            "affected": [{"package": {"ecosystem": "npm", "name": name}, "versions": [version]}]
        }))
        .unwrap();
        Advisory::from_record(
            &record,
            RecordOrigin {
                source: "test".into(),
                location: "t".into(),
                line: None,
            },
        )
    }

    fn index(advisories: Vec<Advisory>) -> AdvisoryIndex {
        let mut b = IndexBuilder::new();
        b.extend(advisories);
        b.build()
    }

    #[test]
    fn diff_names_changed_ids_and_both_key_sets() {
        let old = index(vec![
            advisory("MAL-1", "debug", "4.4.2"),
            advisory("MAL-2", "chalk", "5.6.1"),
            advisory("MAL-3", "gone", "1.0.0"),
        ]);
        let new = index(vec![
            advisory("MAL-1", "debug", "4.4.2"),
            advisory("MAL-2", "chalk-moved", "5.6.1"),
            advisory("MAL-4", "nx", "21.5.0"),
        ]);
        let change = diff(&old, &new);
        let mut ids = change.changed.clone();
        ids.sort();
        assert_eq!(ids, vec!["MAL-2", "MAL-3", "MAL-4"]);
        let names: Vec<&str> = change.keys.iter().map(|k| k.name_key.as_str()).collect();
        assert_eq!(names, vec!["chalk", "chalk-moved", "gone", "nx"]);
        assert_eq!(diff(&new, &new), IntelChange::default());
        assert_ne!(fingerprint(&old), fingerprint(&new));
        assert_eq!(
            fingerprint(&new),
            fingerprint(&index(new.advisories().to_vec()))
        );
    }

    #[test]
    fn mirror_records_keep_what_matching_needs() {
        let a = advisory("MAL-1", "debug", "4.4.2");
        let record = mirror_record(&a);
        assert_eq!(record.id, "MAL-1");
        assert_eq!(record.affected.len(), 1);
        let again = Advisory::from_record(&record, a.origin.clone());
        assert_eq!(again.affected, a.affected);
        assert_eq!(again.kind, a.kind);
    }

    #[test]
    fn upload_kinds() {
        for (text, want) in [
            ("application/json; charset=utf-8", Some(UploadKind::Osv)),
            ("text/plain", Some(UploadKind::List)),
            ("CSV", Some(UploadKind::Csv)),
            ("image/png", None),
        ] {
            assert_eq!(UploadKind::parse(text), want, "{text}");
        }
    }
}
