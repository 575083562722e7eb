//! Timestamps of the language: RFC 3339 ⇄ nanoseconds since the epoch, as vigil-core defines them.

pub use vigil_core::time::{format_rfc3339, parse_rfc3339};
