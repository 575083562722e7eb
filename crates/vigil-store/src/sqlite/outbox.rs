//! The workflow outbox: enqueue, lease, complete, fail.

use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, Row, params};
use serde_json::Value;

use super::db;
use crate::codec::{bad_value, from_json, opt_ts, to_json};
use crate::error::{Result, StoreError};
use crate::event::EventSeq;
use crate::finding::FindingId;
use crate::outbox::{
    Enqueued, OutboxCounts, OutboxId, OutboxInput, OutboxItem, OutboxStatus, Retry,
};
use crate::sqlite::inventory::get;
use crate::time::Timestamp;

const ITEM_SELECT: &str = "SELECT id, finding_id, event_seq, workflow, task, idempotency_key, \
     payload, status, attempts, next_attempt_at, last_error, lease_owner, lease_expires_at, \
     created_at, delivered_at, subject, after_keys, result FROM outbox";

fn item_from_row(row: &Row<'_>) -> Result<OutboxItem> {
    let id: i64 = get(row, 0)?;
    let status: String = get(row, 7)?;
    let attempts: i64 = get(row, 8)?;
    Ok(OutboxItem {
        id: OutboxId(id),
        finding_id: get::<Option<i64>>(row, 1)?.map(FindingId),
        event_seq: get::<Option<i64>>(row, 2)?.map(EventSeq),
        workflow: get(row, 3)?,
        task: get(row, 4)?,
        idempotency_key: get(row, 5)?,
        payload: from_json("outbox", "payload", id, &get::<String>(row, 6)?)?,
        subject: get(row, 15)?,
        after: from_json("outbox", "after_keys", id, &get::<String>(row, 16)?)?,
        result: get::<Option<String>>(row, 17)?
            .map(|text| from_json("outbox", "result", id, &text))
            .transpose()?,
        status: OutboxStatus::parse(&status).ok_or_else(|| {
            bad_value("outbox", "status", id, format!("unknown status {status:?}"))
        })?,
        attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
        next_attempt_at: Timestamp::from_unix_millis(get(row, 9)?),
        last_error: get(row, 10)?,
        lease_owner: get(row, 11)?,
        lease_expires_at: opt_ts(get(row, 12)?),
        created_at: Timestamp::from_unix_millis(get(row, 13)?),
        delivered_at: opt_ts(get(row, 14)?),
    })
}

fn item(conn: &Connection, id: i64) -> Result<OutboxItem> {
    let mut stmt = conn
        .prepare_cached(&format!("{ITEM_SELECT} WHERE id = ?1"))
        .map_err(db("read outbox"))?;
    let mut rows = stmt.query([id]).map_err(db("read outbox"))?;
    match rows.next().map_err(db("read outbox"))? {
        Some(row) => item_from_row(row),
        None => Err(StoreError::NotFound {
            what: "outbox item",
            id: id.to_string(),
        }),
    }
}

/// Enqueues a task unless its idempotency key is known.
pub(crate) fn enqueue(conn: &Connection, task: &OutboxInput, now: Timestamp) -> Result<Enqueued> {
    let payload = to_json("outbox payload", &task.payload)?;
    let after = to_json("outbox after", &task.after)?;
    let inserted = conn
        .prepare_cached(
            "INSERT INTO outbox (finding_id, event_seq, workflow, task, idempotency_key, payload,
                                 status, next_attempt_at, created_at, updated_at, subject,
                                 after_keys)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'pending', ?7, ?8, ?8, ?9, ?10)
             ON CONFLICT (idempotency_key) DO NOTHING",
        )
        .and_then(|mut stmt| {
            stmt.execute(params![
                task.finding_id.map(|f| f.0),
                task.event_seq.map(|e| e.0),
                task.workflow,
                task.task,
                task.idempotency_key,
                payload,
                task.not_before.unix_millis(),
                now.unix_millis(),
                task.subject,
                after
            ])
        })
        .map_err(db("enqueue"))?;
    if inserted == 1 {
        return Ok(Enqueued {
            id: OutboxId(conn.last_insert_rowid()),
            created: true,
        });
    }
    let id: i64 = conn
        .prepare_cached("SELECT id FROM outbox WHERE idempotency_key = ?1")
        .and_then(|mut stmt| stmt.query_row([&task.idempotency_key], |row| row.get(0)))
        .map_err(db("enqueue"))?;
    Ok(Enqueued {
        id: OutboxId(id),
        created: false,
    })
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

/// Leases up to `n` due tasks to `owner` for `lease`: pending tasks whose time has come and
/// whose `after` tasks are all finished (or unknown), and in-flight tasks whose lease expired
/// (their worker is presumed dead). Runs inside the write transaction, so two owners never
/// lease one task.
pub(crate) fn lease_due(
    conn: &Connection,
    owner: &str,
    n: usize,
    lease: Duration,
    now: Timestamp,
) -> Result<Vec<OutboxItem>> {
    let limit = i64::try_from(n).unwrap_or(i64::MAX);
    let mut ids: Vec<i64> = conn
        .prepare_cached(
            "SELECT id FROM outbox WHERE status = 'in_flight' AND lease_expires_at <= ?1
             ORDER BY lease_expires_at, id LIMIT ?2",
        )
        .and_then(|mut stmt| {
            stmt.query_map(params![now.unix_millis(), limit], |row| row.get(0))?
                .collect::<rusqlite::Result<Vec<i64>>>()
        })
        .map_err(db("lease"))?;
    if ids.len() < n {
        let rest = i64::try_from(n - ids.len()).unwrap_or(i64::MAX);
        let pending = conn
            .prepare_cached(
                "SELECT o.id FROM outbox o
                 WHERE o.status = 'pending' AND o.next_attempt_at <= ?1
                   AND NOT EXISTS (SELECT 1 FROM json_each(o.after_keys) k
                                   JOIN outbox d ON d.idempotency_key = k.value
                                   WHERE d.status IN ('pending', 'in_flight') AND d.id <> o.id)
                 ORDER BY o.next_attempt_at, o.id LIMIT ?2",
            )
            .and_then(|mut stmt| {
                stmt.query_map(params![now.unix_millis(), rest], |row| row.get(0))?
                    .collect::<rusqlite::Result<Vec<i64>>>()
            })
            .map_err(db("lease"))?;
        ids.extend(pending);
    }
    let expires = now.unix_millis().saturating_add(millis(lease));
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        conn.prepare_cached(
            "UPDATE outbox SET status = 'in_flight', lease_owner = ?2, lease_expires_at = ?3,
                               attempts = attempts + 1, updated_at = ?4
             WHERE id = ?1",
        )
        .and_then(|mut stmt| stmt.execute(params![id, owner, expires, now.unix_millis()]))
        .map_err(db("lease"))?;
        out.push(item(conn, id)?);
    }
    Ok(out)
}

/// Marks a leased task delivered, keeping its result; false when `owner` no longer holds it.
pub(crate) fn complete(
    conn: &Connection,
    id: OutboxId,
    owner: &str,
    result: Option<&Value>,
    now: Timestamp,
) -> Result<bool> {
    let result = result.map(|r| to_json("outbox result", r)).transpose()?;
    conn.prepare_cached(
        "UPDATE outbox SET status = 'delivered', delivered_at = ?3, lease_owner = NULL,
                           lease_expires_at = NULL, updated_at = ?3, result = ?4
         WHERE id = ?1 AND status = 'in_flight' AND lease_owner = ?2",
    )
    .and_then(|mut stmt| stmt.execute(params![id.0, owner, now.unix_millis(), result]))
    .map(|n| n == 1)
    .map_err(db("complete"))
}

/// Gives a leased task back without counting the attempt, due again at `not_before`; false
/// when `owner` no longer holds it.
pub(crate) fn release(
    conn: &Connection,
    id: OutboxId,
    owner: &str,
    not_before: Timestamp,
    now: Timestamp,
) -> Result<bool> {
    conn.prepare_cached(
        "UPDATE outbox SET status = 'pending', attempts = max(attempts - 1, 0),
                           next_attempt_at = ?3, lease_owner = NULL, lease_expires_at = NULL,
                           updated_at = ?4
         WHERE id = ?1 AND status = 'in_flight' AND lease_owner = ?2",
    )
    .and_then(|mut stmt| {
        stmt.execute(params![
            id.0,
            owner,
            not_before.unix_millis(),
            now.unix_millis()
        ])
    })
    .map(|n| n == 1)
    .map_err(db("release"))
}

/// Puts a dead task back in the queue, attempts reset; false when it is not dead.
pub(crate) fn requeue(conn: &Connection, id: OutboxId, now: Timestamp) -> Result<bool> {
    conn.prepare_cached(
        "UPDATE outbox SET status = 'pending', attempts = 0, next_attempt_at = ?2,
                           updated_at = ?2
         WHERE id = ?1 AND status = 'dead'",
    )
    .and_then(|mut stmt| stmt.execute(params![id.0, now.unix_millis()]))
    .map(|n| n == 1)
    .map_err(db("requeue"))
}

/// The tasks with these idempotency keys, in the order asked (unknown keys left out).
pub(crate) fn outbox_by_keys(conn: &Connection, keys: &[String]) -> Result<Vec<OutboxItem>> {
    let mut stmt = conn
        .prepare_cached(&format!("{ITEM_SELECT} WHERE idempotency_key = ?1"))
        .map_err(db("read outbox"))?;
    let mut out = Vec::with_capacity(keys.len());
    for key in keys {
        let mut rows = stmt.query([key]).map_err(db("read outbox"))?;
        if let Some(row) = rows.next().map_err(db("read outbox"))? {
            out.push(item_from_row(row)?);
        }
    }
    Ok(out)
}

/// Tasks newest first, optionally of one status.
pub(crate) fn list_outbox(
    conn: &Connection,
    status: Option<OutboxStatus>,
    finding: Option<FindingId>,
    limit: usize,
) -> Result<Vec<OutboxItem>> {
    let mut stmt = conn
        .prepare_cached(&format!(
            "{ITEM_SELECT} WHERE (?1 IS NULL OR status = ?1) AND (?3 IS NULL OR finding_id = ?3)
             ORDER BY id DESC LIMIT ?2"
        ))
        .map_err(db("read outbox"))?;
    let mut rows = stmt
        .query(params![
            status.map(OutboxStatus::as_str),
            i64::try_from(limit).unwrap_or(i64::MAX),
            finding.map(|f| f.0)
        ])
        .map_err(db("read outbox"))?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(db("read outbox"))? {
        out.push(item_from_row(row)?);
    }
    Ok(out)
}

/// Records a failed delivery: due again after the backoff, or dead. False when `owner` no
/// longer holds the task.
pub(crate) fn fail(
    conn: &Connection,
    id: OutboxId,
    owner: &str,
    error: &str,
    retry: Retry,
    now: Timestamp,
) -> Result<bool> {
    let (status, next) = match retry {
        Retry::After(backoff) => ("pending", now.saturating_add(backoff)),
        Retry::Never => ("dead", now),
    };
    conn.prepare_cached(
        "UPDATE outbox SET status = ?3, next_attempt_at = ?4, last_error = ?5, lease_owner = NULL,
                           lease_expires_at = NULL, updated_at = ?6
         WHERE id = ?1 AND status = 'in_flight' AND lease_owner = ?2",
    )
    .and_then(|mut stmt| {
        stmt.execute(params![
            id.0,
            owner,
            status,
            next.unix_millis(),
            error,
            now.unix_millis()
        ])
    })
    .map(|n| n == 1)
    .map_err(db("fail"))
}

/// Tasks per status.
pub(crate) fn outbox_counts(conn: &Connection) -> Result<OutboxCounts> {
    let mut stmt = conn
        .prepare_cached("SELECT status, count(*) FROM outbox GROUP BY status")
        .map_err(db("count outbox"))?;
    let rows = stmt
        .query_map([], |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?))
        })
        .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
        .map_err(db("count outbox"))?;
    let mut counts = OutboxCounts::default();
    for (status, n) in rows {
        let n = u64::try_from(n).unwrap_or(0);
        match OutboxStatus::parse(&status) {
            Some(OutboxStatus::Pending) => counts.pending = n,
            Some(OutboxStatus::InFlight) => counts.in_flight = n,
            Some(OutboxStatus::Delivered) => counts.delivered = n,
            Some(OutboxStatus::Dead) => counts.dead = n,
            None => return Err(bad_value("outbox", "status", &status, "unknown status")),
        }
    }
    Ok(counts)
}

/// Tasks in one status, oldest first.
pub(crate) fn outbox_items(
    conn: &Connection,
    status: OutboxStatus,
    limit: usize,
) -> Result<Vec<OutboxItem>> {
    let mut stmt = conn
        .prepare_cached(&format!(
            "{ITEM_SELECT} WHERE status = ?1 ORDER BY id LIMIT ?2"
        ))
        .map_err(db("read outbox"))?;
    let mut rows = stmt
        .query(params![
            status.as_str(),
            i64::try_from(limit).unwrap_or(i64::MAX)
        ])
        .map_err(db("read outbox"))?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(db("read outbox"))? {
        out.push(item_from_row(row)?);
    }
    Ok(out)
}

/// One task, if it exists.
pub(crate) fn outbox_item(conn: &Connection, id: OutboxId) -> Result<Option<OutboxItem>> {
    let exists: Option<i64> = conn
        .prepare_cached("SELECT id FROM outbox WHERE id = ?1")
        .and_then(|mut stmt| stmt.query_row([id.0], |row| row.get(0)).optional())
        .map_err(db("read outbox"))?;
    exists.map(|id| item(conn, id)).transpose()
}
