//! The security-event log: append and read in sequence order.

use rusqlite::{Connection, params};
use serde_json::{Map, Value};

use super::db;
use crate::codec::{from_json, to_json};
use crate::error::Result;
use crate::event::{AppendedEvent, EventInput, EventSeq, StoredEvent};
use crate::finding::FindingId;
use crate::sqlite::inventory::get;
use crate::time::Timestamp;
use crate::token::random_id;

/// Appends one event.
pub(crate) fn append_event(conn: &Connection, event: &EventInput) -> Result<AppendedEvent> {
    let event_id = random_id()?;
    let payload = to_json("event payload", &event.payload)?;
    conn.prepare_cached(
        "INSERT INTO security_events (event_id, timestamp, event_type, finding_id, payload)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )
    .and_then(|mut stmt| {
        stmt.execute(params![
            event_id,
            event.timestamp.unix_millis(),
            event.event_type,
            event.finding_id.map(|f| f.0),
            payload
        ])
    })
    .map_err(db("append event"))?;
    Ok(AppendedEvent {
        seq: EventSeq(conn.last_insert_rowid()),
        event_id,
    })
}

/// Events after `after`, oldest first, at most `limit`.
pub(crate) fn events_since(
    conn: &Connection,
    after: EventSeq,
    limit: usize,
) -> Result<Vec<StoredEvent>> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT seq, event_id, timestamp, event_type, finding_id, payload FROM security_events
             WHERE seq > ?1 ORDER BY seq LIMIT ?2",
        )
        .map_err(db("read events"))?;
    let mut rows = stmt
        .query(params![after.0, i64::try_from(limit).unwrap_or(i64::MAX)])
        .map_err(db("read events"))?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(db("read events"))? {
        let seq: i64 = get(row, 0)?;
        let payload: Map<String, Value> =
            from_json("security_events", "payload", seq, &get::<String>(row, 5)?)?;
        out.push(StoredEvent {
            seq: EventSeq(seq),
            event_id: get(row, 1)?,
            timestamp: Timestamp::from_unix_millis(get(row, 2)?),
            event_type: get(row, 3)?,
            finding_id: get::<Option<i64>>(row, 4)?.map(FindingId),
            payload,
        });
    }
    Ok(out)
}

/// The newest event's sequence number (0 when the log is empty).
pub(crate) fn last_event_seq(conn: &Connection) -> Result<EventSeq> {
    conn.query_row(
        "SELECT coalesce(max(seq), 0) FROM security_events",
        [],
        |row| row.get(0),
    )
    .map(EventSeq)
    .map_err(db("read events"))
}

/// The start times (unix ms) of the live processes `pids` on host `host` (newest per pid).
pub(crate) fn process_start_times(
    conn: &Connection,
    host: &str,
    pids: &[u32],
) -> Result<Vec<(u32, crate::time::Timestamp)>> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT p.start_time FROM processes p JOIN hosts h ON h.id = p.host_id
             WHERE h.name = ?1 AND p.pid = ?2 AND p.gone_at IS NULL
             ORDER BY p.start_time DESC LIMIT 1",
        )
        .map_err(db("read processes"))?;
    let mut out = Vec::new();
    for pid in pids {
        let mut rows = stmt
            .query(rusqlite::params![host, i64::from(*pid)])
            .map_err(db("read processes"))?;
        if let Some(row) = rows.next().map_err(db("read processes"))? {
            let ms: i64 = row.get(0).map_err(db("read processes"))?;
            out.push((*pid, crate::time::Timestamp::from_unix_millis(ms)));
        }
    }
    Ok(out)
}
