//! The security-event log: append and read in sequence order (PostgreSQL).
//!
//! Gap-free reading: every append first takes the transaction-level advisory lock
//! `vigil/events/<schema>` and only then draws its `seq`; the lock is held until the
//! transaction ends. Two appenders therefore draw their numbers in the order they commit, and
//! since PostgreSQL makes a commit visible before releasing the transaction's locks, a reader
//! that sees `seq = n` sees every event below `n` too. A plain `BIGSERIAL` without the lock
//! would let a transaction holding `seq = 10` commit after one holding `11`, and a reader at
//! cursor 11 would never see 10.

use serde_json::{Map, Value};

use super::{Tx, get};
use crate::codec::{from_json, to_json};
use crate::error::Result;
use crate::event::{AppendedEvent, EventInput, EventSeq, StoredEvent};
use crate::finding::FindingId;
use crate::time::Timestamp;
use crate::token::random_id;

/// The detection lock (see `WriteTx::lock_detection`): one transaction-level advisory lock per
/// schema, so replicas on other schemas of the database do not wait for each other.
pub(crate) fn lock_detection(tx: &Tx) -> Result<()> {
    tx.conn()?.query(
        "take the detection lock",
        "SELECT pg_advisory_xact_lock(hashtextextended('vigil/detect/' || current_schema(), 0))",
        &[],
    )?;
    Ok(())
}

/// Appends one event.
pub(crate) fn append_event(tx: &Tx, event: &EventInput) -> Result<AppendedEvent> {
    let event_id = random_id()?;
    let payload = to_json("event payload", &event.payload)?;
    let mut c = tx.conn()?;
    c.query(
        "lock event log",
        "SELECT pg_advisory_xact_lock(hashtextextended('vigil/events/' || current_schema(), 0))",
        &[],
    )?;
    let row = c.query_one(
        "append event",
        "INSERT INTO security_events (event_id, \"timestamp\", event_type, finding_id, payload)
         VALUES ($1, $2, $3, $4, $5::text::jsonb)
         RETURNING seq",
        &[
            &event_id,
            &event.timestamp.unix_millis(),
            &event.event_type,
            &event.finding_id.map(|f| f.0),
            &payload,
        ],
    )?;
    Ok(AppendedEvent {
        seq: EventSeq(get(&row, 0)?),
        event_id,
    })
}

/// Events after `after`, oldest first, at most `limit`.
pub(crate) fn events_since(tx: &Tx, after: EventSeq, limit: usize) -> Result<Vec<StoredEvent>> {
    let rows = tx.conn()?.query(
        "read events",
        "SELECT seq, event_id, \"timestamp\", event_type, finding_id, payload::text
         FROM security_events WHERE seq > $1 ORDER BY seq LIMIT $2",
        &[&after.0, &super::limit(limit)],
    )?;
    rows.iter()
        .map(|row| {
            let seq: i64 = get(row, 0)?;
            let payload: Map<String, Value> =
                from_json("security_events", "payload", seq, get(row, 5)?)?;
            Ok(StoredEvent {
                seq: EventSeq(seq),
                event_id: get(row, 1)?,
                timestamp: Timestamp::from_unix_millis(get(row, 2)?),
                event_type: get(row, 3)?,
                finding_id: get::<Option<i64>>(row, 4)?.map(FindingId),
                payload,
            })
        })
        .collect()
}

/// The newest event's sequence number (0 when the log is empty).
pub(crate) fn last_event_seq(tx: &Tx) -> Result<EventSeq> {
    let row = tx.conn()?.query_one(
        "read events",
        "SELECT coalesce(max(seq), 0)::bigint FROM security_events",
        &[],
    )?;
    Ok(EventSeq(get(&row, 0)?))
}

/// The start times (unix ms) of the live processes `pids` on host `host` (newest per pid).
pub(crate) fn process_start_times(
    tx: &Tx,
    host: &str,
    pids: &[u32],
) -> Result<Vec<(u32, crate::time::Timestamp)>> {
    let wanted: Vec<i64> = pids.iter().map(|p| i64::from(*p)).collect();
    let rows = tx.conn()?.query(
        "read processes",
        "SELECT DISTINCT ON (p.pid) p.pid, p.start_time FROM processes p
         JOIN hosts h ON h.id = p.host_id
         WHERE h.name = $1 AND p.pid = ANY($2) AND p.gone_at IS NULL
         ORDER BY p.pid, p.start_time DESC",
        &[&host, &wanted],
    )?;
    let mut found = std::collections::HashMap::new();
    for row in &rows {
        let pid: i64 = get(row, 0)?;
        let ms: i64 = get(row, 1)?;
        found.insert(pid, crate::time::Timestamp::from_unix_millis(ms));
    }
    Ok(pids
        .iter()
        .filter_map(|p| found.get(&i64::from(*p)).map(|t| (*p, *t)))
        .collect())
}
