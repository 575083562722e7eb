//! The persisted matcher: what `vigil scan` needs to match against a data directory's intel
//! without decoding every advisory.
//!
//! [`crate::store::IntelStore::load`] decodes every source snapshot and compiles every
//! `affected` set — right for the server, which keeps the index for hours, but a fixed
//! ~0.35 s and ~185 MB for a one-shot scan of 33k advisories. The matcher file
//! (`<data-dir>/intel/matcher.bin`, written by every import and sync, rebuilt on first use
//! when missing, damaged or out of date) holds only what deciding a match needs, laid out for
//! one read and a binary search:
//!
//! ```text
//! header   "VGLMATCH", format u32, 0 u32, body length u64, CRC-32 of the body u32, 0 u32
//! body     fingerprint   u32 length + UTF-8: the catalog state it was built from
//!          sources       u32 count, each u32 length + snapshot file name under sources/
//!          slots         u32 count × 32 bytes: source, alias group, offset u64, length u64,
//!                        id offset, id length — one per advisory after deduplication, in
//!                        the full index's slot order
//!          keys          u32 count × 24 bytes: ecosystem kind and normalized name (offset,
//!                        length each), first entry, entry count — sorted by (kind, name)
//!          entries       u32 count × 16 bytes: slot, affected-set index, the set's postcard
//!                        bytes (offset, length) — per key in (slot, set) order
//!          blob          u32 length + the bytes the records point into
//! ```
//!
//! All integers little-endian. A lookup normalizes the name, binary-searches the keys and, on
//! a hit only, decodes and compiles the few affected sets of that key. The full advisory of a
//! match (summary, aliases, CWEs, severity — what the report prints) is decoded alone from its
//! span in the source snapshot ([`crate::snapshot`]); the baseline's from the compiled-in
//! records (`offset` is then the position in [`crate::baseline::advisories`]).
//!
//! Deduplication, keys, entry order and alias groups come from the same functions the full
//! [`AdvisoryIndex`] is built with, so both give the same matches, slots and groups
//! (`tests/lazy_matcher.rs` checks it over the 33k advisories). A matcher whose snapshot
//! entry cannot be read mid-scan (a source replaced meanwhile, a damaged file) falls back to
//! the full index for the rest of the run with one warning: slower, never wrong.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

use vigil_core::Ecosystem;
use vigil_core::name::normalize_name;
use vigil_core::osv::{CompiledAffected, QueryVersion, ecosystem_covers};

use crate::advisory::{Advisory, AffectedSet};
use crate::index::{AdvisoryIndex, Match, Matcher, alias_groups, dedupe, entry_key};
use crate::snapshot::{RecordSpan, decode_advisory};

const MAGIC: &[u8; 8] = b"VGLMATCH";
/// The matcher file format number; bump it when the layout, [`Advisory`] or the key rule
/// changes (the fingerprint also names the vigil-intel version).
pub const FORMAT: u32 = 1;
const HEADER: usize = 32;
const SLOT: usize = 32;
const KEY: usize = 24;
const ENTRY: usize = 16;
/// The `source` of a baseline advisory.
const BASELINE: u32 = u32::MAX;

/// Where an advisory to be indexed comes from.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Provenance {
    /// Position in the matcher's source list, or [`BASELINE`].
    pub source: u32,
    /// Its span in that snapshot (for the baseline: `offset` is its position).
    pub span: RecordSpan,
}

impl Provenance {
    pub(crate) fn baseline(position: usize) -> Provenance {
        Provenance {
            source: BASELINE,
            span: RecordSpan {
                offset: position as u64,
                len: 0,
            },
        }
    }
}

/// Encodes the matcher of `candidates` (in load order: baseline first, then sources in
/// import order), deduplicated as [`crate::index::IndexBuilder::finish`] does.
pub(crate) fn build(
    fingerprint: &str,
    sources: &[String],
    candidates: Vec<(Advisory, Provenance)>,
) -> Result<Vec<u8>, String> {
    let (advisories, provenance): (Vec<Advisory>, Vec<Provenance>) = candidates.into_iter().unzip();
    let (dropped, _) = dedupe(&advisories);
    let (advisories, provenance): (Vec<Advisory>, Vec<Provenance>) = advisories
        .into_iter()
        .zip(provenance)
        .zip(dropped)
        .filter(|(_, dropped)| !dropped)
        .map(|(kept, _)| kept)
        .unzip();
    let groups = alias_groups(&advisories);

    let mut blob = Blob::default();
    let mut slots = Vec::with_capacity(advisories.len() * SLOT);
    for (slot, (advisory, place)) in advisories.iter().zip(&provenance).enumerate() {
        let (id_off, id_len) = blob.push(advisory.id.as_bytes())?;
        put_u32(&mut slots, place.source);
        put_u32(
            &mut slots,
            groups.get(slot).copied().ok_or("alias group missing")?,
        );
        put_u64(&mut slots, place.span.offset);
        put_u64(&mut slots, place.span.len);
        put_u32(&mut slots, id_off);
        put_u32(&mut slots, id_len);
    }

    // (kind, name, slot, affected, set): withdrawn advisories never enter the tables.
    let mut rows: Vec<(String, String, u32, u32, &AffectedSet)> = Vec::new();
    for (slot, advisory) in advisories.iter().enumerate() {
        if advisory.is_withdrawn() {
            continue;
        }
        for (i, set) in advisory.affected.iter().enumerate() {
            let (ecosystem, key) = entry_key(set);
            rows.push((
                ecosystem.kind().as_str().to_owned(),
                key,
                u32::try_from(slot).map_err(|_| "too many advisories")?,
                u32::try_from(i).map_err(|_| "too many affected sets")?,
                set,
            ));
        }
    }
    // Stable: entries of one key stay in (slot, set) order, the order the index evaluates.
    rows.sort_by(|a, b| (a.0.as_bytes(), a.1.as_bytes()).cmp(&(b.0.as_bytes(), b.1.as_bytes())));
    let mut keys = Vec::new();
    let mut entries = Vec::with_capacity(rows.len() * ENTRY);
    let mut kinds: Vec<(String, (u32, u32))> = Vec::new();
    let mut i = 0;
    while let Some(first) = rows.get(i) {
        let same = rows
            .iter()
            .skip(i)
            .take_while(|r| r.0 == first.0 && r.1 == first.1)
            .count();
        let kind = match kinds.iter().find(|(k, _)| *k == first.0) {
            Some((_, at)) => *at,
            None => {
                let at = blob.push(first.0.as_bytes())?;
                kinds.push((first.0.clone(), at));
                at
            }
        };
        let name = blob.push(first.1.as_bytes())?;
        put_u32(&mut keys, kind.0);
        put_u32(&mut keys, kind.1);
        put_u32(&mut keys, name.0);
        put_u32(&mut keys, name.1);
        put_u32(&mut keys, u32::try_from(i).map_err(|_| "too many entries")?);
        put_u32(
            &mut keys,
            u32::try_from(same).map_err(|_| "too many entries")?,
        );
        for (_, _, slot, affected, set) in rows.iter().skip(i).take(same) {
            let bytes = postcard::to_allocvec(set).map_err(|e| e.to_string())?;
            let (off, len) = blob.push(&bytes)?;
            put_u32(&mut entries, *slot);
            put_u32(&mut entries, *affected);
            put_u32(&mut entries, off);
            put_u32(&mut entries, len);
        }
        i += same;
    }

    let mut body = Vec::new();
    put_bytes(&mut body, fingerprint.as_bytes())?;
    put_u32(&mut body, len32(sources.len())?);
    for source in sources {
        put_bytes(&mut body, source.as_bytes())?;
    }
    put_u32(&mut body, len32(advisories.len())?);
    body.extend_from_slice(&slots);
    put_u32(&mut body, len32(keys.len() / KEY)?);
    body.extend_from_slice(&keys);
    put_u32(&mut body, len32(entries.len() / ENTRY)?);
    body.extend_from_slice(&entries);
    put_bytes(&mut body, &blob.bytes)?;

    let mut out = Vec::with_capacity(HEADER + body.len());
    out.extend_from_slice(MAGIC);
    put_u32(&mut out, FORMAT);
    put_u32(&mut out, 0);
    put_u64(&mut out, body.len() as u64);
    put_u32(&mut out, crc32fast::hash(&body));
    put_u32(&mut out, 0);
    out.extend_from_slice(&body);
    Ok(out)
}

#[derive(Default)]
struct Blob {
    bytes: Vec<u8>,
}

impl Blob {
    fn push(&mut self, bytes: &[u8]) -> Result<(u32, u32), String> {
        let off = len32(self.bytes.len())?;
        self.bytes.extend_from_slice(bytes);
        Ok((off, len32(bytes.len())?))
    }
}

fn len32(n: usize) -> Result<u32, String> {
    u32::try_from(n).map_err(|_| "matcher larger than 4 GiB".to_owned())
}

fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) -> Result<(), String> {
    put_u32(out, len32(bytes.len())?);
    out.extend_from_slice(bytes);
    Ok(())
}

/// A bounds-checked reader over the matcher bytes: every read of damaged input is an error.
struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self.at.checked_add(n).ok_or("length overflow")?;
        let out = self.bytes.get(self.at..end).ok_or("truncated")?;
        self.at = end;
        Ok(out)
    }

    fn u32(&mut self) -> Result<u32, String> {
        let bytes = self.take(4)?;
        Ok(u32_at(bytes, 0))
    }

    /// A section of `count` fixed-size records; returns its byte range.
    fn records(&mut self, size: usize) -> Result<(usize, usize), String> {
        let count = self.u32()? as usize;
        let start = self.at;
        self.take(count.checked_mul(size).ok_or("length overflow")?)?;
        Ok((start, count))
    }

    fn bytes(&mut self) -> Result<&'a [u8], String> {
        let n = self.u32()? as usize;
        self.take(n)
    }
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    bytes
        .get(at..at + 4)
        .and_then(|b| b.try_into().ok())
        .map_or(0, u32::from_le_bytes)
}

fn u64_at(bytes: &[u8], at: usize) -> u64 {
    bytes
        .get(at..at + 8)
        .and_then(|b| b.try_into().ok())
        .map_or(0, u64::from_le_bytes)
}

/// The persisted matcher, opened: answers [`Matcher::lookup`] like the full
/// [`AdvisoryIndex`] of the same intel, decoding only what matches.
pub struct LazyIndex {
    bytes: Vec<u8>,
    sources: Vec<PathBuf>,
    slots: (usize, usize),
    keys: (usize, usize),
    entries: (usize, usize),
    blob: (usize, usize),
    advisories: Vec<OnceLock<Box<Advisory>>>,
    baseline: OnceLock<Vec<Advisory>>,
    /// Loads the full index when the matcher cannot answer (see the module documentation).
    full: Box<dyn Fn() -> (AdvisoryIndex, Vec<String>) + Send + Sync>,
    fallback: OnceLock<AdvisoryIndex>,
    warnings: Mutex<Vec<String>>,
}

impl std::fmt::Debug for LazyIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LazyIndex")
            .field("bytes", &self.bytes.len())
            .field("advisories", &self.slots.1)
            .field("keys", &self.keys.1)
            .field("fallen_back", &self.fallback.get().is_some())
            .finish()
    }
}

impl LazyIndex {
    /// Opens matcher `bytes`, checking magic, format, checksum, that it was built for
    /// `fingerprint`, and every record's bounds. `sources_dir` holds the snapshots it points
    /// into; `full` loads the full index should a snapshot entry turn out unreadable.
    pub(crate) fn open(
        bytes: Vec<u8>,
        fingerprint: &str,
        sources_dir: PathBuf,
        full: Box<dyn Fn() -> (AdvisoryIndex, Vec<String>) + Send + Sync>,
    ) -> Result<LazyIndex, String> {
        if bytes.get(..MAGIC.len()) != Some(MAGIC.as_slice()) {
            return Err("not a vigil matcher (bad magic)".into());
        }
        let header = bytes.get(..HEADER).ok_or("truncated header")?;
        let format = u32_at(header, 8);
        if format != FORMAT {
            return Err(format!(
                "matcher format {format}, this vigil reads {FORMAT}"
            ));
        }
        let body_len = u64_at(header, 16);
        if body_len != (bytes.len() - HEADER) as u64 {
            return Err("truncated or extended body".into());
        }
        let body = bytes.get(HEADER..).unwrap_or_default();
        if crc32fast::hash(body) != u32_at(header, 24) {
            return Err("checksum mismatch".into());
        }
        let mut c = Cursor {
            bytes: &bytes,
            at: HEADER,
        };
        if c.bytes()? != fingerprint.as_bytes() {
            return Err("out of date (the intel changed since it was built)".into());
        }
        let source_count = c.u32()? as usize;
        let mut sources = Vec::with_capacity(source_count.min(1024));
        for _ in 0..source_count {
            let name = std::str::from_utf8(c.bytes()?).map_err(|_| "source name not UTF-8")?;
            sources.push(sources_dir.join(name));
        }
        let slots = c.records(SLOT)?;
        let keys = c.records(KEY)?;
        let entries = c.records(ENTRY)?;
        let blob_len = c.u32()? as usize;
        let blob = (c.at, blob_len);
        c.take(blob_len)?;
        if c.at != bytes.len() {
            return Err("trailing bytes".into());
        }
        let index = LazyIndex {
            advisories: (0..slots.1).map(|_| OnceLock::new()).collect(),
            bytes,
            sources,
            slots,
            keys,
            entries,
            blob,
            baseline: OnceLock::new(),
            full,
            fallback: OnceLock::new(),
            warnings: Mutex::new(Vec::new()),
        };
        index.validate()?;
        Ok(index)
    }

    /// Every record points inside its sections and the keys are sorted: after this, lookups
    /// cannot read out of bounds or miss a key by searching an unsorted table.
    fn validate(&self) -> Result<(), String> {
        let in_blob =
            |off: u32, len: u32| (off as usize).saturating_add(len as usize) <= self.blob.1;
        for i in 0..self.slots.1 {
            let r = self.record(self.slots, SLOT, i);
            let (source, group) = (u32_at(r, 0), u32_at(r, 4));
            if source != BASELINE && source as usize >= self.sources.len() {
                return Err(format!("slot {i}: source out of range"));
            }
            if group as usize >= self.slots.1 || !in_blob(u32_at(r, 24), u32_at(r, 28)) {
                return Err(format!("slot {i}: out of range"));
            }
        }
        let mut previous: Option<(&[u8], &[u8])> = None;
        for i in 0..self.keys.1 {
            let r = self.record(self.keys, KEY, i);
            if !in_blob(u32_at(r, 0), u32_at(r, 4)) || !in_blob(u32_at(r, 8), u32_at(r, 12)) {
                return Err(format!("key {i}: out of range"));
            }
            let (first, count) = (u32_at(r, 16) as usize, u32_at(r, 20) as usize);
            if first.saturating_add(count) > self.entries.1 {
                return Err(format!("key {i}: entries out of range"));
            }
            let key = self.key(i);
            if previous.is_some_and(|p| p >= key) {
                return Err(format!("key {i}: keys not sorted"));
            }
            previous = Some(key);
        }
        for i in 0..self.entries.1 {
            let r = self.record(self.entries, ENTRY, i);
            if u32_at(r, 0) as usize >= self.slots.1 || !in_blob(u32_at(r, 8), u32_at(r, 12)) {
                return Err(format!("entry {i}: out of range"));
            }
        }
        Ok(())
    }

    fn record(&self, section: (usize, usize), size: usize, i: usize) -> &[u8] {
        let start = section.0 + i * size;
        self.bytes.get(start..start + size).unwrap_or_default()
    }

    fn blob(&self, off: u32, len: u32) -> &[u8] {
        let start = self.blob.0 + off as usize;
        self.bytes
            .get(start..start + len as usize)
            .unwrap_or_default()
    }

    fn key(&self, i: usize) -> (&[u8], &[u8]) {
        let r = self.record(self.keys, KEY, i);
        (
            self.blob(u32_at(r, 0), u32_at(r, 4)),
            self.blob(u32_at(r, 8), u32_at(r, 12)),
        )
    }

    /// Advisories in the index (after deduplication), withdrawn included.
    pub fn len(&self) -> usize {
        self.slots.1
    }

    /// Whether it holds no advisory.
    pub fn is_empty(&self) -> bool {
        self.slots.1 == 0
    }

    /// Distinct (ecosystem, name) keys.
    pub fn packages(&self) -> usize {
        self.keys.1
    }

    /// The id of the advisory in `slot`.
    pub fn id(&self, slot: u32) -> Option<&str> {
        if slot as usize >= self.slots.1 {
            return None;
        }
        let r = self.record(self.slots, SLOT, slot as usize);
        std::str::from_utf8(self.blob(u32_at(r, 24), u32_at(r, 28))).ok()
    }

    /// Warnings raised while answering (a fallback to the full index), taken once.
    pub fn take_warnings(&self) -> Vec<String> {
        match self.warnings.lock() {
            Ok(mut w) => std::mem::take(&mut *w),
            Err(poisoned) => std::mem::take(&mut *poisoned.into_inner()),
        }
    }

    /// Whether a lookup failed and the full index answers from now on.
    pub fn fell_back(&self) -> bool {
        self.fallback.get().is_some()
    }

    fn warn(&self, message: String) {
        match self.warnings.lock() {
            Ok(mut w) => w.push(message),
            Err(poisoned) => poisoned.into_inner().push(message),
        }
    }

    fn find_key(&self, kind: &str, name: &str) -> Option<(usize, usize)> {
        let want = (kind.as_bytes(), name.as_bytes());
        let (mut low, mut high) = (0, self.keys.1);
        while low < high {
            let mid = low + (high - low) / 2;
            match self.key(mid).cmp(&want) {
                std::cmp::Ordering::Less => low = mid + 1,
                std::cmp::Ordering::Greater => high = mid,
                std::cmp::Ordering::Equal => {
                    let r = self.record(self.keys, KEY, mid);
                    return Some((u32_at(r, 16) as usize, u32_at(r, 20) as usize));
                }
            }
        }
        None
    }

    /// The full advisory in `slot`, decoded on first use.
    fn advisory(&self, slot: u32) -> Result<&Advisory, String> {
        let cell = self
            .advisories
            .get(slot as usize)
            .ok_or_else(|| format!("slot {slot} out of range"))?;
        if let Some(a) = cell.get() {
            return Ok(a);
        }
        let r = self.record(self.slots, SLOT, slot as usize);
        let (source, offset, len) = (u32_at(r, 0), u64_at(r, 8), u64_at(r, 16));
        let advisory = if source == BASELINE {
            self.baseline
                .get_or_init(crate::baseline::advisories)
                .get(usize::try_from(offset).unwrap_or(usize::MAX))
                .cloned()
                .ok_or("baseline advisory missing")?
        } else {
            let path = self
                .sources
                .get(source as usize)
                .ok_or("source out of range")?;
            let bytes =
                read_span(path, offset, len).map_err(|e| format!("{}: {e}", path.display()))?;
            decode_advisory(&bytes)
                .map_err(|e| format!("{}: {e}", path.display()))?
                .advisory
        };
        if Some(advisory.id.as_str()) != self.id(slot) {
            return Err(format!(
                "snapshot entry {:?} is not the matcher's {:?}",
                advisory.id,
                self.id(slot).unwrap_or_default()
            ));
        }
        let _ = cell.set(Box::new(advisory));
        cell.get()
            .map(|a| &**a)
            .ok_or_else(|| "advisory cache".into())
    }

    fn evaluate<'s>(
        &'s self,
        (first, count): (usize, usize),
        ecosystem: &Ecosystem,
        query: &QueryVersion<'_>,
    ) -> Result<Vec<Match<'s>>, String> {
        let mut out: Vec<Match<'s>> = Vec::new();
        for i in first..first + count {
            let r = self.record(self.entries, ENTRY, i);
            let (slot, affected) = (u32_at(r, 0), u32_at(r, 4));
            if out.iter().any(|m| m.slot == slot) {
                continue;
            }
            let set: AffectedSet = postcard::from_bytes(self.blob(u32_at(r, 8), u32_at(r, 12)))
                .map_err(|e| format!("entry {i}: {e}"))?;
            if !ecosystem_covers(&Ecosystem::parse(&set.ecosystem), ecosystem)
                || !CompiledAffected::new(&set.to_osv()).is_affected(query)
            {
                continue;
            }
            let group = u32_at(self.record(self.slots, SLOT, slot as usize), 4);
            out.push(Match {
                advisory: self.advisory(slot)?,
                slot,
                affected,
                group,
            });
        }
        Ok(out)
    }

    fn fallback(&self, reason: Option<String>) -> &AdvisoryIndex {
        self.fallback.get_or_init(|| {
            let (index, warnings) = (self.full)();
            if let Some(reason) = reason {
                self.warn(format!(
                    "intel matcher: {reason}; matching against the full intel instead"
                ));
            }
            for w in warnings {
                self.warn(w);
            }
            index
        })
    }
}

fn read_span(path: &std::path::Path, offset: u64, len: u64) -> std::io::Result<Vec<u8>> {
    let mut file = File::open(path)?;
    file.seek(SeekFrom::Start(offset))?;
    let len = usize::try_from(len).map_err(|_| std::io::Error::other("span too large"))?;
    let mut bytes = Vec::with_capacity(len.min(64 << 20));
    file.take(len as u64).read_to_end(&mut bytes)?;
    if bytes.len() != len {
        return Err(std::io::Error::other(
            "snapshot shorter than the matcher says",
        ));
    }
    Ok(bytes)
}

impl Matcher for LazyIndex {
    fn lookup(&self, ecosystem: &Ecosystem, name: &str, version: &str) -> Vec<Match<'_>> {
        if let Some(full) = self.fallback.get() {
            return full.lookup(ecosystem, name, version);
        }
        let kind = ecosystem.kind();
        let key = normalize_name(kind, name);
        let Some(entries) = self.find_key(kind.as_str(), &key) else {
            return Vec::new();
        };
        let query = QueryVersion::new(version);
        match self.evaluate(entries, ecosystem, &query) {
            Ok(matches) => matches,
            Err(reason) => self.fallback(Some(reason)).lookup(ecosystem, name, version),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<u8> {
        let candidates = crate::baseline::advisories()
            .into_iter()
            .enumerate()
            .map(|(i, a)| (a, Provenance::baseline(i)))
            .collect();
        build("fp", &[], candidates).expect("builds")
    }

    fn open(bytes: Vec<u8>) -> Result<LazyIndex, String> {
        LazyIndex::open(
            bytes,
            "fp",
            PathBuf::from("nowhere"),
            Box::new(|| (crate::baseline::index(), Vec::new())),
        )
    }

    #[test]
    fn answers_like_the_baseline_index() {
        let lazy = open(sample()).expect("opens");
        let full = crate::baseline::index();
        let npm = Ecosystem::parse("npm");
        for a in full.advisories() {
            for set in &a.affected {
                for v in set.versions.iter().map(String::as_str).chain(["0.0.1"]) {
                    let want: Vec<(u32, u32, u32)> = full
                        .lookup(&npm, &set.name, v)
                        .iter()
                        .map(|m| (m.slot, m.affected, m.group))
                        .collect();
                    let got: Vec<(u32, u32, u32)> = Matcher::lookup(&lazy, &npm, &set.name, v)
                        .iter()
                        .map(|m| (m.slot, m.affected, m.group))
                        .collect();
                    assert_eq!(got, want, "{} {v}", set.name);
                }
            }
        }
        assert!(!lazy.fell_back());
        assert!(open(sample()).is_ok());
        let mut other = sample();
        other[HEADER + 4] = b'x';
        let header_crc = crc32fast::hash(&other[HEADER..]);
        other[24..28].copy_from_slice(&header_crc.to_le_bytes());
        assert!(open(other).unwrap_err().contains("out of date"));
    }

    proptest::proptest! {
        /// Damage that even gets past the checksum is refused or answered without panics.
        #[test]
        fn damaged_bytes_never_panic(flips in proptest::collection::vec((0usize..1 << 20, proptest::num::u8::ANY), 1..6)) {
            let mut bytes = sample();
            let len = bytes.len();
            for (at, value) in flips {
                bytes[HEADER + at % (len - HEADER)] = value;
            }
            let crc = crc32fast::hash(&bytes[HEADER..]);
            bytes[24..28].copy_from_slice(&crc.to_le_bytes());
            if let Ok(lazy) = open(bytes) {
                let npm = Ecosystem::parse("npm");
                for name in ["debug", "chalk", "@ctrl/tinycolor", "nx"] {
                    let _ = Matcher::lookup(&lazy, &npm, name, "4.4.2");
                }
            }
        }
    }
}
