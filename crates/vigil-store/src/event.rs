//! Security events: the append-only log of finding creations and status changes that
//! workflows trigger on and the query language reads as `security.events`.
//!
//! The store assigns the sequence number (commit order: a reader following `events_since`
//! never sees an older number appear later) and a random event id. The payload carries the
//! PRODUCT.md §5 fields as the writer saw them at the time; the store neither checks nor
//! completes it. The table refuses UPDATE and DELETE.

use serde_json::{Map, Value};

use crate::finding::FindingId;
use crate::time::Timestamp;

/// An event's position in the log.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventSeq(pub i64);

/// An event to append.
#[derive(Clone, Debug, PartialEq)]
pub struct EventInput {
    /// When it happened.
    pub timestamp: Timestamp,
    /// `event.type` (`VULNERABILITY_FINDING`, `VULNERABILITY_STATUS_CHANGE_EVENT`).
    pub event_type: String,
    /// The finding it is about.
    pub finding_id: Option<FindingId>,
    /// The §5 fields, keyed by their dotted names (`"host.name"`), arrays as JSON arrays.
    pub payload: Map<String, Value>,
}

/// An event as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredEvent {
    /// Sequence number.
    pub seq: EventSeq,
    /// `event.id`: 32 random hex digits.
    pub event_id: String,
    /// When it happened.
    pub timestamp: Timestamp,
    /// `event.type`.
    pub event_type: String,
    /// The finding it is about.
    pub finding_id: Option<FindingId>,
    /// The payload as appended.
    pub payload: Map<String, Value>,
}

/// The id and position of an appended event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppendedEvent {
    /// Sequence number.
    pub seq: EventSeq,
    /// `event.id`.
    pub event_id: String,
}
