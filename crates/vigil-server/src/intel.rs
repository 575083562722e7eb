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

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::SystemTime;

use serde_json::json;
use sha2::{Digest, Sha256};
use vigil_core::Ecosystem;
use vigil_core::osv::{OsvRecord, Severity};
use vigil_intel::store::SourceState;
use vigil_intel::{Advisory, AdvisoryIndex, ImportOptions, IntelError, IntelStore, KindOverride};
use vigil_store::{AdvisoryInput, AdvisoryKind, PackageKey};

/// The loaded intel and where it comes from.
pub struct IntelState {
    store: Option<IntelStore>,
    index: RwLock<Arc<AdvisoryIndex>>,
    catalog_seen: Mutex<Option<SystemTime>>,
}

impl std::fmt::Debug for IntelState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IntelState")
            .field("dir", &self.store.as_ref().map(IntelStore::root))
            .field("advisories", &self.index().len())
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
        IntelState {
            store: None,
            index: RwLock::new(Arc::new(vigil_intel::baseline::index())),
            catalog_seen: Mutex::new(None),
        }
    }

    /// A fixed index (tests, embedding).
    pub fn with_index(index: AdvisoryIndex) -> IntelState {
        IntelState {
            store: None,
            index: RwLock::new(Arc::new(index)),
            catalog_seen: Mutex::new(None),
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
                index: RwLock::new(Arc::new(loaded.index)),
                catalog_seen: Mutex::new(seen),
            },
            loaded.warnings,
        ))
    }

    /// The current index.
    pub fn index(&self) -> Arc<AdvisoryIndex> {
        Arc::clone(&self.index.read().unwrap_or_else(PoisonError::into_inner))
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
        let old = std::mem::replace(
            &mut *self.index.write().unwrap_or_else(PoisonError::into_inner),
            Arc::clone(&new),
        );
        diff(&old, &new)
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
    hash.finalize().iter().map(|b| format!("{b:02x}")).collect()
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
