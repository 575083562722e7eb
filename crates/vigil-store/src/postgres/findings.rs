//! Findings: upsert on (advisory, component, entity), status changes, listing (PostgreSQL).
//!
//! `upsert_finding` is `INSERT … ON CONFLICT DO NOTHING` on the unique key, then an update of
//! the details: at `READ COMMITTED` a concurrent insert of the same key by another replica makes
//! this one wait for it and then do nothing, so a finding is created exactly once.

use ::postgres::Row;

use super::{Conn, Param, Tx, get};
use crate::codec::{component_from, from_json, opt_ts, parse_evidence, pids_from_json};
use crate::error::{Result, StoreError};
use crate::finding::{
    Entity, FindingFilter, FindingId, FindingInput, FindingRecord, FindingStatus, FindingTiming,
    FindingUpsert, StatusChange,
};
use crate::finding_rows::{
    UpsertColumns, check_risk_score, entity_columns, entity_from, missing_after_update,
    sets_nothing, status_from,
};
use crate::inventory::{ComponentId, HostId};
use crate::postgres::inventory::container_summary_at;
use crate::time::Timestamp;

const FINDING_SELECT: &str = "SELECT f.id, f.advisory_id, f.aliases::text, f.component_id, \
     c.ecosystem, c.name, c.version, c.purl, f.entity_type, f.entity_id, f.host_id, h.name, ct.id, \
     ct.container_id, ct.name, ct.image, ct.k8s_namespace, ct.k8s_workload, f.status, \
     f.mute_reason, f.risk_score, f.risk_level, f.evidence, f.locations::text, f.pids::text, \
     f.owner_team, f.detected_at, f.acknowledged_at, f.resolved_at, f.updated_at \
     FROM findings f \
     JOIN components c ON c.id = f.component_id \
     JOIN hosts h ON h.id = f.host_id \
     LEFT JOIN containers ct ON ct.id = f.container_ref";

fn finding_from_row(row: &Row) -> Result<FindingRecord> {
    let id: i64 = get(row, 0)?;
    let entity = entity_from(id, get(row, 8)?, get(row, 9)?)?;
    let status: &str = get(row, 18)?;
    Ok(FindingRecord {
        id: FindingId(id),
        advisory_id: get(row, 1)?,
        aliases: from_json("findings", "aliases", id, get(row, 2)?)?,
        component_id: ComponentId(get(row, 3)?),
        component: component_from(get(row, 4)?, get(row, 5)?, get(row, 6)?),
        purl: get(row, 7)?,
        entity,
        host_id: HostId(get(row, 10)?),
        host_name: get(row, 11)?,
        container: container_summary_at(row, 12)?,
        status: status_from(id, status)?,
        mute_reason: get(row, 19)?,
        risk_score: get(row, 20)?,
        risk_level: get(row, 21)?,
        evidence: parse_evidence("findings", id, get(row, 22)?)?,
        locations: from_json("findings", "locations", id, get(row, 23)?)?,
        pids: pids_from_json("findings", id, get(row, 24)?)?,
        owner_team: get(row, 25)?,
        detected_at: Timestamp::from_unix_millis(get(row, 26)?),
        acknowledged_at: opt_ts(get(row, 27)?),
        resolved_at: opt_ts(get(row, 28)?),
        updated_at: Timestamp::from_unix_millis(get(row, 29)?),
    })
}

fn query_findings(c: &mut Conn, filter: &str, params: &[Param<'_>]) -> Result<Vec<FindingRecord>> {
    let sql = format!("{FINDING_SELECT} {filter}");
    c.query("read findings", &sql, params)?
        .iter()
        .map(finding_from_row)
        .collect()
}

fn finding_in(c: &mut Conn, id: FindingId) -> Result<Option<FindingRecord>> {
    Ok(query_findings(c, "WHERE f.id = $1", &[&id.0])?
        .into_iter()
        .next())
}

fn find_finding_in(
    c: &mut Conn,
    advisory_id: &str,
    component_id: ComponentId,
    entity: Entity,
) -> Result<Option<FindingRecord>> {
    let (entity_type, entity_id) = entity_columns(entity);
    Ok(query_findings(
        c,
        "WHERE f.advisory_id = $1 AND f.component_id = $2 AND f.entity_type = $3 AND f.entity_id = $4",
        &[&advisory_id, &component_id.0, &entity_type, &entity_id],
    )?
    .into_iter()
    .next())
}

/// One finding.
pub(crate) fn finding(tx: &Tx, id: FindingId) -> Result<Option<FindingRecord>> {
    finding_in(&mut *tx.conn()?, id)
}

/// The finding for (advisory, component, entity), if any.
pub(crate) fn find_finding(
    tx: &Tx,
    advisory_id: &str,
    component_id: ComponentId,
    entity: Entity,
) -> Result<Option<FindingRecord>> {
    find_finding_in(&mut *tx.conn()?, advisory_id, component_id, entity)
}

/// Creates the finding (status `NEW`) or refreshes its details, atomically.
pub(crate) fn upsert_finding(
    tx: &Tx,
    input: &FindingInput,
    now: Timestamp,
) -> Result<FindingUpsert> {
    check_risk_score(input)?;
    let c = &mut *tx.conn()?;
    let (host_id, container_ref) = match input.entity {
        Entity::Host(host) => (host.0, None),
        Entity::Container(key) => {
            let row = c
                .query_opt(
                    "read container",
                    "SELECT host_id FROM containers WHERE id = $1",
                    &[&key.0],
                )?
                .ok_or_else(|| StoreError::NotFound {
                    what: "container",
                    id: key.0.to_string(),
                })?;
            (get::<i64>(&row, 0)?, Some(key.0))
        }
    };
    let columns = UpsertColumns::of(input)?;
    let inserted = c.execute(
        "insert finding",
        "INSERT INTO findings (advisory_id, aliases, component_id, entity_type, entity_id, host_id,
                               container_ref, status, risk_score, risk_level, evidence, locations,
                               pids, detected_at, updated_at)
         VALUES ($1, $2::text::jsonb, $3, $4, $5, $6, $7, 'NEW', $8, $9, $10, $11::text::jsonb,
                 $12::text::jsonb, $13, $13)
         ON CONFLICT (advisory_id, component_id, entity_type, entity_id) DO NOTHING",
        &[
            &input.advisory_id,
            &columns.aliases,
            &input.component_id.0,
            &columns.entity_type,
            &columns.entity_id,
            &host_id,
            &container_ref,
            &input.risk_score,
            &input.risk_level,
            &input.evidence.as_str(),
            &columns.locations,
            &columns.pids,
            &now.unix_millis(),
        ],
    )?;
    let created = inserted == 1;
    if !created {
        c.execute(
            "update finding",
            "UPDATE findings SET aliases = $5::text::jsonb, risk_score = $6, risk_level = $7,
                                 evidence = $8, locations = $9::text::jsonb, pids = $10::text::jsonb,
                                 updated_at = $11
             WHERE advisory_id = $1 AND component_id = $2 AND entity_type = $3 AND entity_id = $4
               AND (aliases IS DISTINCT FROM $5::text::jsonb OR risk_score IS DISTINCT FROM $6
                    OR risk_level IS DISTINCT FROM $7 OR evidence IS DISTINCT FROM $8
                    OR locations IS DISTINCT FROM $9::text::jsonb
                    OR pids IS DISTINCT FROM $10::text::jsonb)",
            &[
                &input.advisory_id,
                &input.component_id.0,
                &columns.entity_type,
                &columns.entity_id,
                &columns.aliases,
                &input.risk_score,
                &input.risk_level,
                &input.evidence.as_str(),
                &columns.locations,
                &columns.pids,
                &now.unix_millis(),
            ],
        )?;
    }
    let finding = find_finding_in(c, &input.advisory_id, input.component_id, input.entity)?
        .ok_or_else(|| columns.missing(input))?;
    Ok(FindingUpsert { created, finding })
}

/// Sets a finding's status (see the SQLite backend for the column semantics).
pub(crate) fn set_finding_status(
    tx: &Tx,
    id: FindingId,
    status: FindingStatus,
    mute_reason: Option<&str>,
    now: Timestamp,
) -> Result<Option<StatusChange>> {
    let c = &mut *tx.conn()?;
    // Lock the row first: two replicas changing one finding's status apply one after the
    // other, each seeing the other's result as its `previous`.
    let Some(_) = c.query_opt(
        "lock finding",
        "SELECT 1 FROM findings WHERE id = $1 FOR UPDATE",
        &[&id.0],
    )?
    else {
        return Ok(None);
    };
    let Some(before) = finding_in(c, id)? else {
        return Ok(None);
    };
    if sets_nothing(&before, status, mute_reason) {
        return Ok(Some(StatusChange {
            previous: before.status,
            finding: before,
        }));
    }
    c.execute(
        "update finding status",
        "UPDATE findings SET
             status = $2,
             mute_reason = CASE WHEN $2 = 'MUTED' THEN $3 ELSE NULL END,
             acknowledged_at = CASE $2 WHEN 'ACKNOWLEDGED' THEN $4 WHEN 'NEW' THEN NULL
                                       ELSE acknowledged_at END,
             resolved_at = CASE $2 WHEN 'RESOLVED' THEN $4 WHEN 'NEW' THEN NULL
                                   ELSE resolved_at END,
             updated_at = $4
         WHERE id = $1",
        &[&id.0, &status.as_str(), &mute_reason, &now.unix_millis()],
    )?;
    let after = finding_in(c, id)?.ok_or_else(|| missing_after_update(id))?;
    Ok(Some(StatusChange {
        previous: before.status,
        finding: after,
    }))
}

/// Sets (or clears) the owning team; whether the finding exists.
pub(crate) fn set_finding_owner(
    tx: &Tx,
    id: FindingId,
    team: Option<&str>,
    now: Timestamp,
) -> Result<bool> {
    let n = tx.conn()?.execute(
        "update finding owner",
        "UPDATE findings SET owner_team = $2, updated_at = $3 WHERE id = $1",
        &[&id.0, &team, &now.unix_millis()],
    )?;
    Ok(n > 0)
}

/// Findings matching `filter`, in id order.
pub(crate) fn list_findings(tx: &Tx, filter: &FindingFilter) -> Result<Vec<FindingRecord>> {
    // Fixed SQL fragments with numbered placeholders; values are bound, never spliced.
    let statuses: Vec<&str> = filter.statuses.iter().map(|s| s.as_str()).collect();
    let limit = super::limit(filter.limit);
    query_findings(
        &mut *tx.conn()?,
        "WHERE (cardinality($1::text[]) = 0 OR f.status = ANY($1))
           AND ($2::text IS NULL OR h.name = $2)
           AND ($3::text IS NULL OR f.advisory_id = $3)
           AND ($4::bigint IS NULL OR f.id > $4)
         ORDER BY f.id LIMIT $5",
        &[
            &statuses,
            &filter.host_name,
            &filter.advisory_id,
            &filter.after.map(|f| f.0),
            &limit,
        ],
    )
}

/// Findings not `RESOLVED` whose component has no present instance on their entity and whose
/// last instance there went away at or before `cutoff` — the candidates for auto-resolve.
pub(crate) fn findings_gone_since(tx: &Tx, cutoff: Timestamp) -> Result<Vec<FindingRecord>> {
    query_findings(
        &mut *tx.conn()?,
        "WHERE f.status <> 'RESOLVED'
           AND NOT EXISTS (SELECT 1 FROM component_instances ci
                           WHERE ci.component_id = f.component_id AND ci.host_id = f.host_id
                             AND ci.container_ref IS NOT DISTINCT FROM f.container_ref
                             AND ci.gone_at IS NULL)
           AND (SELECT max(ci.gone_at) FROM component_instances ci
                WHERE ci.component_id = f.component_id AND ci.host_id = f.host_id
                  AND ci.container_ref IS NOT DISTINCT FROM f.container_ref) <= $1
         ORDER BY f.id",
        &[&cutoff.unix_millis()],
    )
}

/// The timing inputs of every finding, in id order.
pub(crate) fn finding_timings(tx: &Tx) -> Result<Vec<FindingTiming>> {
    let rows = tx.conn()?.query(
        "read finding timings",
        "SELECT f.id, f.status, f.detected_at, f.acknowledged_at, f.resolved_at,
                (SELECT min(ci.first_seen) FROM component_instances ci
                 WHERE ci.component_id = f.component_id AND ci.host_id = f.host_id
                   AND ci.container_ref IS NOT DISTINCT FROM f.container_ref),
                a.published
         FROM findings f LEFT JOIN advisories a ON a.id = f.advisory_id
         ORDER BY f.id",
        &[],
    )?;
    rows.iter()
        .map(|row| {
            let id: i64 = get(row, 0)?;
            let status: &str = get(row, 1)?;
            Ok(FindingTiming {
                id: FindingId(id),
                status: status_from(id, status)?,
                detected_at: Timestamp::from_unix_millis(get(row, 2)?),
                acknowledged_at: opt_ts(get(row, 3)?),
                resolved_at: opt_ts(get(row, 4)?),
                first_seen: opt_ts(get(row, 5)?),
                advisory_published: opt_ts(get(row, 6)?),
            })
        })
        .collect()
}
