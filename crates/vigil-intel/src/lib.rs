//! # vigil-intel
//!
//! Threat intelligence for vigil: reading feeds and incident lists, deciding what each advisory
//! is about, keeping it on disk, and answering — millions of times a second — *which advisories
//! affect this (ecosystem, name, version)?*
//!
//! The data flow, one module each:
//!
//! - [`import`]: readers, one file per format — a single OSV JSON file, a directory tree of them
//!   (ossf/malicious-packages), an OSV zip (OSV.dev `all.zip`), custom incident lists as text
//!   or CSV. Tolerant: a bad record is skipped and reported, never fatal to its source; zips
//!   are treated as hostile (path traversal, zip bombs).
//! - [`classify`] and [`cvss`]: MALICIOUS or VULNERABILITY, CWEs (CWE-506 always on malicious
//!   advisories), severity from CVSS vectors, IOCs.
//! - [`advisory`]: the [`Advisory`] vigil keeps — classification plus the affected sets used for
//!   matching, refined by vigil-core's superseded-origins rule.
//! - [`index`]: the matcher, [`AdvisoryIndex`]; alias groups for one finding per issue.
//! - [`matcher`]: the same answers from a compact file ([`LazyIndex`]) for one-shot scans,
//!   decoding only the advisories that match.
//! - [`snapshot`] and [`store`]: the persisted form (one compact snapshot per source, records
//!   kept verbatim for `show`) under `<data-dir>/intel/`, written atomically.
//! - [`sync`]: HTTP feeds with conditional GET and validate-then-swap.
//! - [`baseline`]: the 2025 npm incidents, compiled in, always loaded.
//!
//! What does **not** live here: version orderings and `affected` evaluation (vigil-core), the
//! inventory (vigil-inventory), findings and their lifecycle (the server), argument parsing
//! and printing (vigil-cli).

pub mod advisory;
pub mod baseline;
pub mod classify;
pub mod cvss;
pub mod error;
pub mod import;
pub mod index;
pub mod matcher;
pub mod snapshot;
pub mod store;
pub mod sync;
pub mod time;

pub use advisory::{Advisory, AdvisoryKind, AdvisorySeverity};
pub use error::IntelError;
pub use import::{ImportOptions, Imported, KindOverride, SkippedRecord, SourceKind};
pub use index::{AdvisoryIndex, IndexBuilder, Match, MatchGroup, Matcher};
pub use matcher::LazyIndex;
pub use store::{IntelStatus, IntelStore, LoadedIntel, LoadedMatcher};
pub use sync::{Feed, FeedOutcome, SyncOptions, Syncer};
