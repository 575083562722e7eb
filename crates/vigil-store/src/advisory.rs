//! Advisories as the store keeps them: the OSV record as published (JSON), the classification
//! the intel crate gave it, and one row per affected package for lookups by key. The persisted
//! matcher lives beside them as an opaque blob ([`crate::Store::get_blob`]).

use vigil_core::osv::OsvRecord;

use crate::time::Timestamp;

/// What an advisory is about (decided by the intel crate's classification).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AdvisoryKind {
    /// A malicious package.
    Malicious,
    /// A vulnerability in a legitimate package.
    Vulnerability,
}

impl AdvisoryKind {
    /// `MALICIOUS` or `VULNERABILITY`.
    pub fn as_str(self) -> &'static str {
        match self {
            AdvisoryKind::Malicious => "MALICIOUS",
            AdvisoryKind::Vulnerability => "VULNERABILITY",
        }
    }

    /// The kind spelled `text`.
    pub fn parse(text: &str) -> Option<AdvisoryKind> {
        match text {
            "MALICIOUS" => Some(AdvisoryKind::Malicious),
            "VULNERABILITY" => Some(AdvisoryKind::Vulnerability),
            _ => None,
        }
    }
}

/// An advisory to store.
#[derive(Clone, Debug, PartialEq)]
pub struct AdvisoryInput<'a> {
    /// The record as published.
    pub record: &'a OsvRecord,
    /// Its classification.
    pub kind: AdvisoryKind,
    /// Its CWEs (for a malicious advisory, including CWE-506).
    pub cwes: Vec<String>,
    /// Its severity as displayed (`9.8 CRITICAL`, a CVSS vector, …).
    pub severity: Option<String>,
    /// Where it came from (source name).
    pub source: String,
}

/// What [`crate::WriteTx::put_advisories`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PutAdvisories {
    /// Ids not stored before.
    pub inserted: Vec<String>,
    /// Ids whose record or classification changed.
    pub updated: Vec<String>,
    /// Records identical to the stored ones (nothing written).
    pub unchanged: usize,
}

/// An advisory as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct AdvisoryRecord {
    /// The record.
    pub record: OsvRecord,
    /// Its classification.
    pub kind: AdvisoryKind,
    /// Its CWEs.
    pub cwes: Vec<String>,
    /// Its severity.
    pub severity: Option<String>,
    /// Its source.
    pub source: String,
    /// First stored.
    pub imported_at: Timestamp,
    /// Last changed.
    pub updated_at: Timestamp,
    /// When it vanished from the intel in use (kept for the findings that name it; `fetch
    /// advisories` no longer lists it), `None` while it is current.
    pub removed_at: Option<Timestamp>,
}

/// A stored blob.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Blob {
    /// The bytes.
    pub bytes: Vec<u8>,
    /// When they were written.
    pub updated_at: Timestamp,
}
