//! The bundled baseline: the 2025 npm incidents, compiled into the binary so that `vigil scan`
//! and `vigil up` detect them offline on a fresh clone, before any feed was synced.
//!
//! The records are generated from the incident list by `baseline/generate.py` (see
//! `baseline/README.md`): facts only — ids, aliases, packages, versions, dates, CWE-506 and
//! the list they came from. They are always loaded first; a feed or import holding the same id
//! with a newer `modified` replaces the baseline copy.

use std::sync::OnceLock;

use crate::advisory::{Advisory, RecordOrigin};
use crate::import::{Imported, osv_json};
use crate::index::{AdvisoryIndex, IndexBuilder};

/// The baseline's OSV records (a JSON array).
pub const BASELINE_JSON: &str = include_str!("../baseline/incidents-2025.osv.json");

/// The source name of baseline advisories.
pub const BASELINE_SOURCE: &str = "baseline";

/// Where baseline records come from, as shown by `status` and `show`.
pub const BASELINE_LOCATION: &str = "built-in: baseline/incidents-2025.osv.json";

/// The baseline records as read (parsed once per process).
pub fn records() -> &'static Imported {
    static RECORDS: OnceLock<Imported> = OnceLock::new();
    RECORDS.get_or_init(|| {
        let mut out = Imported::default();
        osv_json::parse_document(
            BASELINE_JSON.as_bytes(),
            BASELINE_LOCATION,
            u64::MAX,
            &mut out,
        );
        out
    })
}

/// The baseline advisories.
pub fn advisories() -> Vec<Advisory> {
    records()
        .records
        .iter()
        .map(|r| {
            Advisory::from_record(
                &r.record,
                RecordOrigin {
                    source: BASELINE_SOURCE.to_owned(),
                    location: BASELINE_LOCATION.to_owned(),
                    line: None,
                },
            )
        })
        .collect()
}

/// A matcher holding only the baseline: what `vigil scan` uses when no data directory is
/// given (with one, [`crate::store::IntelStore::load`] includes the baseline itself).
pub fn index() -> AdvisoryIndex {
    let mut builder = IndexBuilder::new();
    builder.extend(advisories());
    builder.build()
}

/// The published JSON of a baseline record.
pub fn raw_record(id: &str) -> Option<&'static str> {
    records()
        .records
        .iter()
        .find(|r| r.record.id == id)
        .map(|r| &*r.raw)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::advisory::AdvisoryKind;

    #[test]
    fn baseline_parses_completely_and_is_malicious() {
        let records = records();
        assert!(records.skipped.is_empty(), "{:?}", records.skipped);
        assert_eq!(records.records.len(), 36);
        for a in advisories() {
            assert_eq!(a.kind, AdvisoryKind::Malicious, "{}", a.id);
            assert!(a.cwes.iter().any(|c| c == "CWE-506"), "{}", a.id);
            assert!(!a.affected.is_empty(), "{}", a.id);
        }
        let npm = vigil_core::Ecosystem::parse("npm");
        let idx = index();
        assert_eq!(idx.lookup(&npm, "debug", "4.4.2").len(), 1);
        assert!(idx.lookup(&npm, "debug", "4.4.1").is_empty());
    }
}
