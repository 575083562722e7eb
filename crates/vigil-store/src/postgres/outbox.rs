//! The workflow outbox: enqueue, lease, complete, fail (PostgreSQL).
//!
//! Leasing is `SELECT … FOR UPDATE SKIP LOCKED` then one `UPDATE`: rows another replica is
//! leasing right now are skipped rather than waited for, and a row another replica leased and
//! committed since this statement's snapshot fails the `status` condition PostgreSQL re-checks
//! on the newest row version before locking it. So two owners never hold one task, and a busy
//! replica never blocks the others. Expired leases are taken over the same way.

use std::collections::HashMap;
use std::time::Duration;

use ::postgres::Row;
use serde_json::Value;

use super::{Conn, Tx, get, limit};
use crate::codec::{bad_value, opt_ts, to_json};
use crate::error::Result;
use crate::event::EventSeq;
use crate::finding::FindingId;
use crate::outbox::{
    Enqueued, OutboxCounts, OutboxId, OutboxInput, OutboxItem, OutboxStatus, Retry,
};
use crate::time::Timestamp;

const ITEM_COLUMNS: &str = "id, finding_id, event_seq, workflow, task, idempotency_key, \
     payload, status, attempts, next_attempt_at, last_error, lease_owner, lease_expires_at, \
     created_at, delivered_at, subject, after_keys, result";

fn item_from_row(row: &Row) -> Result<OutboxItem> {
    let id: i64 = get(row, 0)?;
    let status: &str = get(row, 7)?;
    let attempts: i64 = get(row, 8)?;
    let after: Value = get(row, 16)?;
    Ok(OutboxItem {
        id: OutboxId(id),
        finding_id: get::<Option<i64>>(row, 1)?.map(FindingId),
        event_seq: get::<Option<i64>>(row, 2)?.map(EventSeq),
        workflow: get(row, 3)?,
        task: get(row, 4)?,
        idempotency_key: get(row, 5)?,
        payload: get(row, 6)?,
        subject: get(row, 15)?,
        after: serde_json::from_value(after)
            .map_err(|e| bad_value("outbox", "after_keys", id, e.to_string()))?,
        result: get(row, 17)?,
        status: OutboxStatus::parse(status).ok_or_else(|| {
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

/// Enqueues a task unless its idempotency key is known.
pub(crate) fn enqueue(tx: &Tx, task: &OutboxInput, now: Timestamp) -> Result<Enqueued> {
    let payload = to_json("outbox payload", &task.payload)?;
    let after = to_json("outbox after", &task.after)?;
    let mut c = tx.conn()?;
    let inserted = c.query_opt(
        "enqueue",
        "INSERT INTO outbox (finding_id, event_seq, workflow, task, idempotency_key, payload,
                             status, next_attempt_at, created_at, updated_at, subject, after_keys)
         VALUES ($1, $2, $3, $4, $5, $6::text::jsonb, 'pending', $7, $8, $8, $9, $10::text::jsonb)
         ON CONFLICT (idempotency_key) DO NOTHING
         RETURNING id",
        &[
            &task.finding_id.map(|f| f.0),
            &task.event_seq.map(|e| e.0),
            &task.workflow,
            &task.task,
            &task.idempotency_key,
            &payload,
            &task.not_before.unix_millis(),
            &now.unix_millis(),
            &task.subject,
            &after,
        ],
    )?;
    if let Some(row) = inserted {
        return Ok(Enqueued {
            id: OutboxId(get(&row, 0)?),
            created: true,
        });
    }
    let row = c.query_one(
        "enqueue",
        "SELECT id FROM outbox WHERE idempotency_key = $1",
        &[&task.idempotency_key],
    )?;
    Ok(Enqueued {
        id: OutboxId(get(&row, 0)?),
        created: false,
    })
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

fn ids(rows: Vec<Row>) -> Result<Vec<i64>> {
    rows.iter().map(|row| get(row, 0)).collect()
}

/// Leases up to `n` due tasks to `owner` for `lease`: in-flight tasks whose lease expired
/// first, then pending tasks whose time has come and whose `after` tasks are all finished (or
/// unknown). Rows locked by a concurrent lease are skipped.
pub(crate) fn lease_due(
    tx: &Tx,
    owner: &str,
    n: usize,
    lease: Duration,
    now: Timestamp,
) -> Result<Vec<OutboxItem>> {
    if n == 0 {
        return Ok(Vec::new());
    }
    let c = &mut *tx.conn()?;
    let mut picked = ids(c.query(
        "lease",
        "SELECT id FROM outbox WHERE status = 'in_flight' AND lease_expires_at <= $1
         ORDER BY lease_expires_at, id LIMIT $2
         FOR UPDATE SKIP LOCKED",
        &[&now.unix_millis(), &limit(n)],
    )?)?;
    if picked.len() < n {
        let rest = limit(n - picked.len());
        picked.extend(ids(c.query(
            "lease",
            "SELECT o.id FROM outbox o
             WHERE o.status = 'pending' AND o.next_attempt_at <= $1
               AND NOT EXISTS (SELECT 1 FROM jsonb_array_elements_text(o.after_keys) AS k(key)
                               JOIN outbox d ON d.idempotency_key = k.key
                               WHERE d.status IN ('pending', 'in_flight') AND d.id <> o.id)
             ORDER BY o.next_attempt_at, o.id LIMIT $2
             FOR UPDATE OF o SKIP LOCKED",
            &[&now.unix_millis(), &rest],
        )?)?);
    }
    if picked.is_empty() {
        return Ok(Vec::new());
    }
    let expires = now.unix_millis().saturating_add(millis(lease));
    let rows = c.query(
        "lease",
        &format!(
            "UPDATE outbox SET status = 'in_flight', lease_owner = $2, lease_expires_at = $3,
                               attempts = attempts + 1, updated_at = $4
             WHERE id = ANY($1)
             RETURNING {ITEM_COLUMNS}"
        ),
        &[&picked, &owner, &expires, &now.unix_millis()],
    )?;
    let mut by_id: HashMap<i64, OutboxItem> = HashMap::with_capacity(rows.len());
    for row in &rows {
        let item = item_from_row(row)?;
        by_id.insert(item.id.0, item);
    }
    Ok(picked.iter().filter_map(|id| by_id.remove(id)).collect())
}

/// Marks a leased task delivered, keeping its result; false when `owner` no longer holds it.
pub(crate) fn complete(
    tx: &Tx,
    id: OutboxId,
    owner: &str,
    result: Option<&Value>,
    now: Timestamp,
) -> Result<bool> {
    let result = result.map(|r| to_json("outbox result", r)).transpose()?;
    let n = tx.conn()?.execute(
        "complete",
        "UPDATE outbox SET status = 'delivered', delivered_at = $3, lease_owner = NULL,
                           lease_expires_at = NULL, updated_at = $3, result = $4::text::jsonb
         WHERE id = $1 AND status = 'in_flight' AND lease_owner = $2",
        &[&id.0, &owner, &now.unix_millis(), &result],
    )?;
    Ok(n == 1)
}

/// Gives a leased task back without counting the attempt, due again at `not_before`; false
/// when `owner` no longer holds it.
pub(crate) fn release(
    tx: &Tx,
    id: OutboxId,
    owner: &str,
    not_before: Timestamp,
    now: Timestamp,
) -> Result<bool> {
    let n = tx.conn()?.execute(
        "release",
        "UPDATE outbox SET status = 'pending', attempts = greatest(attempts - 1, 0),
                           next_attempt_at = $3, lease_owner = NULL, lease_expires_at = NULL,
                           updated_at = $4
         WHERE id = $1 AND status = 'in_flight' AND lease_owner = $2",
        &[&id.0, &owner, &not_before.unix_millis(), &now.unix_millis()],
    )?;
    Ok(n == 1)
}

/// Puts a dead task back in the queue, attempts reset; false when it is not dead.
pub(crate) fn requeue(tx: &Tx, id: OutboxId, now: Timestamp) -> Result<bool> {
    let n = tx.conn()?.execute(
        "requeue",
        "UPDATE outbox SET status = 'pending', attempts = 0, next_attempt_at = $2, updated_at = $2
         WHERE id = $1 AND status = 'dead'",
        &[&id.0, &now.unix_millis()],
    )?;
    Ok(n == 1)
}

fn items(c: &mut Conn, filter: &str, params: &[super::Param<'_>]) -> Result<Vec<OutboxItem>> {
    c.query(
        "read outbox",
        &format!("SELECT {ITEM_COLUMNS} FROM outbox {filter}"),
        params,
    )?
    .iter()
    .map(item_from_row)
    .collect()
}

/// The tasks with these idempotency keys, in the order asked (unknown keys left out).
pub(crate) fn outbox_by_keys(tx: &Tx, keys: &[String]) -> Result<Vec<OutboxItem>> {
    let found = items(
        &mut *tx.conn()?,
        "WHERE idempotency_key = ANY($1)",
        &[&keys],
    )?;
    let mut by_key: HashMap<String, OutboxItem> = found
        .into_iter()
        .map(|item| (item.idempotency_key.clone(), item))
        .collect();
    Ok(keys.iter().filter_map(|key| by_key.remove(key)).collect())
}

/// Tasks newest first, optionally of one status.
pub(crate) fn list_outbox(
    tx: &Tx,
    status: Option<OutboxStatus>,
    finding: Option<FindingId>,
    n: usize,
) -> Result<Vec<OutboxItem>> {
    items(
        &mut *tx.conn()?,
        "WHERE ($1::text IS NULL OR status = $1) AND ($3::bigint IS NULL OR finding_id = $3)
         ORDER BY id DESC LIMIT $2",
        &[
            &status.map(OutboxStatus::as_str),
            &limit(n),
            &finding.map(|f| f.0),
        ],
    )
}

/// Records a failed delivery: due again after the backoff, or dead. False when `owner` no
/// longer holds the task.
pub(crate) fn fail(
    tx: &Tx,
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
    let n = tx.conn()?.execute(
        "fail",
        "UPDATE outbox SET status = $3, next_attempt_at = $4, last_error = $5, lease_owner = NULL,
                           lease_expires_at = NULL, updated_at = $6
         WHERE id = $1 AND status = 'in_flight' AND lease_owner = $2",
        &[
            &id.0,
            &owner,
            &status,
            &next.unix_millis(),
            &error,
            &now.unix_millis(),
        ],
    )?;
    Ok(n == 1)
}

/// Tasks per status.
pub(crate) fn outbox_counts(tx: &Tx) -> Result<OutboxCounts> {
    let rows = tx.conn()?.query(
        "count outbox",
        "SELECT status, count(*) FROM outbox GROUP BY status",
        &[],
    )?;
    let mut counts = OutboxCounts::default();
    for row in &rows {
        let status: &str = get(row, 0)?;
        let n = u64::try_from(get::<i64>(row, 1)?).unwrap_or(0);
        match OutboxStatus::parse(status) {
            Some(OutboxStatus::Pending) => counts.pending = n,
            Some(OutboxStatus::InFlight) => counts.in_flight = n,
            Some(OutboxStatus::Delivered) => counts.delivered = n,
            Some(OutboxStatus::Dead) => counts.dead = n,
            None => return Err(bad_value("outbox", "status", status, "unknown status")),
        }
    }
    Ok(counts)
}

/// Tasks in one status, oldest first.
pub(crate) fn outbox_items(tx: &Tx, status: OutboxStatus, n: usize) -> Result<Vec<OutboxItem>> {
    items(
        &mut *tx.conn()?,
        "WHERE status = $1 ORDER BY id LIMIT $2",
        &[&status.as_str(), &limit(n)],
    )
}

/// One task, if it exists.
pub(crate) fn outbox_item(tx: &Tx, id: OutboxId) -> Result<Option<OutboxItem>> {
    Ok(items(&mut *tx.conn()?, "WHERE id = $1", &[&id.0])?
        .into_iter()
        .next())
}
