//! How values are spelled in the database, for both backends: JSON columns, pids, evidence,
//! optional timestamps, components from their stored columns, and the errors a bad stored
//! value or an unstorable input makes. The backends read and write the columns; the
//! conversions here keep what they store and decode the same.

use std::fmt::Write;

use serde_json::Value;
use vigil_core::{Component, Ecosystem, Evidence, PackageName};

use crate::error::{Result, StoreError};
use crate::time::Timestamp;

/// A `u64` as the databases' signed 64-bit integer.
pub(crate) fn to_i64(what: &'static str, value: u64) -> Result<i64> {
    i64::try_from(value).map_err(|_| StoreError::InvalidInput {
        what,
        reason: format!("{value} exceeds the largest storable integer"),
    })
}

/// Serializes a value to compact JSON text.
pub(crate) fn to_json<T: serde::Serialize + ?Sized>(
    what: &'static str,
    value: &T,
) -> Result<String> {
    serde_json::to_string(value).map_err(|e| StoreError::InvalidInput {
        what,
        reason: e.to_string(),
    })
}

/// Decodes a JSON column.
pub(crate) fn from_json<T: serde::de::DeserializeOwned>(
    table: &'static str,
    column: &'static str,
    row: impl ToString,
    text: &str,
) -> Result<T> {
    serde_json::from_str(text).map_err(|e| StoreError::BadValue {
        table,
        column,
        row: row.to_string(),
        reason: e.to_string(),
    })
}

/// A bad stored value.
pub(crate) fn bad_value(
    table: &'static str,
    column: &'static str,
    row: impl ToString,
    reason: impl Into<String>,
) -> StoreError {
    StoreError::BadValue {
        table,
        column,
        row: row.to_string(),
        reason: reason.into(),
    }
}

/// Decodes a JSON array of numbers into pids, dropping anything that is not a pid.
pub(crate) fn pids_from_json(table: &'static str, row: i64, text: &str) -> Result<Vec<u32>> {
    let value: Value = from_json(table, "pids", row, text)?;
    let Value::Array(items) = value else {
        return Err(bad_value(table, "pids", row, "not a JSON array"));
    };
    Ok(items
        .iter()
        .filter_map(|v| v.as_u64().and_then(|n| u32::try_from(n).ok()))
        .collect())
}

/// Sorted, unique pids.
pub(crate) fn normalize_pids(pids: &[u32]) -> Vec<u32> {
    let mut pids = pids.to_vec();
    pids.sort_unstable();
    pids.dedup();
    pids
}

/// Pids as a JSON array of numbers, items joined by `separator`: each backend prints them as
/// its stored arrays read back as text, so an unchanged array is found by comparing text.
pub(crate) fn pids_array(pids: &[u32], separator: &str) -> String {
    let mut out = String::with_capacity(2 + pids.len() * (6 + separator.len()));
    out.push('[');
    for (i, pid) in pids.iter().enumerate() {
        if i > 0 {
            out.push_str(separator);
        }
        // Writing to a String cannot fail.
        let _ = write!(out, "{pid}");
    }
    out.push(']');
    out
}

/// An optional millisecond column.
pub(crate) fn opt_ts(millis: Option<i64>) -> Option<Timestamp> {
    millis.map(Timestamp::from_unix_millis)
}

/// The spelling of evidence in the database.
pub(crate) fn parse_evidence(table: &'static str, row: i64, text: &str) -> Result<Evidence> {
    match text {
        "DECLARED" => Ok(Evidence::Declared),
        "INSTALLED" => Ok(Evidence::Installed),
        "LOADED" => Ok(Evidence::Loaded),
        other => Err(bad_value(
            table,
            "evidence",
            row,
            format!("unknown evidence {other:?}"),
        )),
    }
}

/// A component from its stored columns.
pub(crate) fn component_from(ecosystem: &str, name: &str, version: String) -> Component {
    let ecosystem = Ecosystem::parse(ecosystem);
    let name = PackageName::new(ecosystem.kind(), name);
    Component {
        ecosystem,
        name,
        version: version.into(),
    }
}
