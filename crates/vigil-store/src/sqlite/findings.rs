//! Findings: upsert on (advisory, component, entity), status changes, listing.

use rusqlite::types::ToSql;
use rusqlite::{Connection, OptionalExtension, Row, params};

use super::db;
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
use crate::sqlite::inventory::{container_summary_at, get};
use crate::time::Timestamp;

const FINDING_SELECT: &str = "SELECT f.id, f.advisory_id, f.aliases, f.component_id, c.ecosystem, \
     c.name, c.version, c.purl, f.entity_type, f.entity_id, f.host_id, h.name, ct.id, \
     ct.container_id, ct.name, ct.image, ct.k8s_namespace, ct.k8s_workload, f.status, \
     f.mute_reason, f.risk_score, f.risk_level, f.evidence, f.locations, f.pids, f.owner_team, \
     f.detected_at, f.acknowledged_at, f.resolved_at, f.updated_at \
     FROM findings f \
     JOIN components c ON c.id = f.component_id \
     JOIN hosts h ON h.id = f.host_id \
     LEFT JOIN containers ct ON ct.id = f.container_ref";

fn finding_from_row(row: &Row<'_>) -> Result<FindingRecord> {
    let id: i64 = get(row, 0)?;
    let entity = entity_from(id, &get::<String>(row, 8)?, get(row, 9)?)?;
    let status: String = get(row, 18)?;
    Ok(FindingRecord {
        id: FindingId(id),
        advisory_id: get(row, 1)?,
        aliases: from_json("findings", "aliases", id, &get::<String>(row, 2)?)?,
        component_id: ComponentId(get(row, 3)?),
        component: component_from(
            &get::<String>(row, 4)?,
            &get::<String>(row, 5)?,
            get(row, 6)?,
        ),
        purl: get(row, 7)?,
        entity,
        host_id: HostId(get(row, 10)?),
        host_name: get(row, 11)?,
        container: container_summary_at(row, 12)?,
        status: status_from(id, &status)?,
        mute_reason: get(row, 19)?,
        risk_score: get(row, 20)?,
        risk_level: get(row, 21)?,
        evidence: parse_evidence("findings", id, &get::<String>(row, 22)?)?,
        locations: from_json("findings", "locations", id, &get::<String>(row, 23)?)?,
        pids: pids_from_json("findings", id, &get::<String>(row, 24)?)?,
        owner_team: get(row, 25)?,
        detected_at: Timestamp::from_unix_millis(get(row, 26)?),
        acknowledged_at: opt_ts(get(row, 27)?),
        resolved_at: opt_ts(get(row, 28)?),
        updated_at: Timestamp::from_unix_millis(get(row, 29)?),
    })
}

fn query_findings(
    conn: &Connection,
    filter: &str,
    params: impl rusqlite::Params,
) -> Result<Vec<FindingRecord>> {
    let sql = format!("{FINDING_SELECT} {filter}");
    let mut stmt = conn.prepare_cached(&sql).map_err(db("read findings"))?;
    let mut rows = stmt.query(params).map_err(db("read findings"))?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(db("read findings"))? {
        out.push(finding_from_row(row)?);
    }
    Ok(out)
}

/// One finding.
pub(crate) fn finding(conn: &Connection, id: FindingId) -> Result<Option<FindingRecord>> {
    Ok(query_findings(conn, "WHERE f.id = ?1", [id.0])?
        .into_iter()
        .next())
}

/// The finding for (advisory, component, entity), if any.
pub(crate) fn find_finding(
    conn: &Connection,
    advisory_id: &str,
    component_id: ComponentId,
    entity: Entity,
) -> Result<Option<FindingRecord>> {
    let (entity_type, entity_id) = entity_columns(entity);
    Ok(query_findings(
        conn,
        "WHERE f.advisory_id = ?1 AND f.component_id = ?2 AND f.entity_type = ?3 AND f.entity_id = ?4",
        params![advisory_id, component_id.0, entity_type, entity_id],
    )?
    .into_iter()
    .next())
}

/// Creates the finding (status `NEW`) or refreshes its details, atomically.
pub(crate) fn upsert_finding(
    conn: &Connection,
    input: &FindingInput,
    now: Timestamp,
) -> Result<FindingUpsert> {
    check_risk_score(input)?;
    let (host_id, container_ref) = match input.entity {
        Entity::Host(host) => (host.0, None),
        Entity::Container(key) => {
            let host: i64 = conn
                .prepare_cached("SELECT host_id FROM containers WHERE id = ?1")
                .and_then(|mut stmt| stmt.query_row([key.0], |row| row.get(0)).optional())
                .map_err(db("read container"))?
                .ok_or_else(|| StoreError::NotFound {
                    what: "container",
                    id: key.0.to_string(),
                })?;
            (host, Some(key.0))
        }
    };
    let columns = UpsertColumns::of(input)?;
    let inserted = conn
        .prepare_cached(
            "INSERT INTO findings (advisory_id, aliases, component_id, entity_type, entity_id, host_id,
                                   container_ref, status, risk_score, risk_level, evidence, locations,
                                   pids, detected_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'NEW', ?8, ?9, ?10, ?11, ?12, ?13, ?13)
             ON CONFLICT (advisory_id, component_id, entity_type, entity_id) DO NOTHING",
        )
        .and_then(|mut stmt| {
            stmt.execute(params![
                input.advisory_id,
                columns.aliases,
                input.component_id.0,
                columns.entity_type,
                columns.entity_id,
                host_id,
                container_ref,
                input.risk_score,
                input.risk_level,
                input.evidence.as_str(),
                columns.locations,
                columns.pids,
                now.unix_millis()
            ])
        })
        .map_err(db("insert finding"))?;
    let created = inserted == 1;
    if !created {
        conn.prepare_cached(
            "UPDATE findings SET aliases = ?5, risk_score = ?6, risk_level = ?7, evidence = ?8,
                                 locations = ?9, pids = ?10, updated_at = ?11
             WHERE advisory_id = ?1 AND component_id = ?2 AND entity_type = ?3 AND entity_id = ?4
               AND (aliases IS NOT ?5 OR risk_score IS NOT ?6 OR risk_level IS NOT ?7
                    OR evidence IS NOT ?8 OR locations IS NOT ?9 OR pids IS NOT ?10)",
        )
        .and_then(|mut stmt| {
            stmt.execute(params![
                input.advisory_id,
                input.component_id.0,
                columns.entity_type,
                columns.entity_id,
                columns.aliases,
                input.risk_score,
                input.risk_level,
                input.evidence.as_str(),
                columns.locations,
                columns.pids,
                now.unix_millis()
            ])
        })
        .map_err(db("update finding"))?;
    }
    let finding = find_finding(conn, &input.advisory_id, input.component_id, input.entity)?
        .ok_or_else(|| columns.missing(input))?;
    Ok(FindingUpsert { created, finding })
}

/// Sets a finding's status. Column semantics: `acknowledged_at` / `resolved_at` are when the
/// finding last entered that status; `NEW` (a re-open) clears both and starts a new cycle;
/// `mute_reason` is kept only while `MUTED`. Setting the current status again changes nothing.
pub(crate) fn set_finding_status(
    conn: &Connection,
    id: FindingId,
    status: FindingStatus,
    mute_reason: Option<&str>,
    now: Timestamp,
) -> Result<Option<StatusChange>> {
    let Some(before) = finding(conn, id)? else {
        return Ok(None);
    };
    if sets_nothing(&before, status, mute_reason) {
        return Ok(Some(StatusChange {
            previous: before.status,
            finding: before,
        }));
    }
    conn.prepare_cached(
        "UPDATE findings SET
             status = ?2,
             mute_reason = CASE WHEN ?2 = 'MUTED' THEN ?3 ELSE NULL END,
             acknowledged_at = CASE ?2 WHEN 'ACKNOWLEDGED' THEN ?4 WHEN 'NEW' THEN NULL
                                       ELSE acknowledged_at END,
             resolved_at = CASE ?2 WHEN 'RESOLVED' THEN ?4 WHEN 'NEW' THEN NULL
                                   ELSE resolved_at END,
             updated_at = ?4
         WHERE id = ?1",
    )
    .and_then(|mut stmt| {
        stmt.execute(params![
            id.0,
            status.as_str(),
            mute_reason,
            now.unix_millis()
        ])
    })
    .map_err(db("update finding status"))?;
    let after = finding(conn, id)?.ok_or_else(|| missing_after_update(id))?;
    Ok(Some(StatusChange {
        previous: before.status,
        finding: after,
    }))
}

/// Sets (or clears) the owning team; whether the finding exists.
pub(crate) fn set_finding_owner(
    conn: &Connection,
    id: FindingId,
    team: Option<&str>,
    now: Timestamp,
) -> Result<bool> {
    conn.prepare_cached("UPDATE findings SET owner_team = ?2, updated_at = ?3 WHERE id = ?1")
        .and_then(|mut stmt| stmt.execute(params![id.0, team, now.unix_millis()]))
        .map(|n| n > 0)
        .map_err(db("update finding owner"))
}

/// Findings matching `filter`, in id order.
pub(crate) fn list_findings(
    conn: &Connection,
    filter: &FindingFilter,
) -> Result<Vec<FindingRecord>> {
    // Fixed SQL fragments with numbered placeholders; values are bound, never spliced.
    let mut sql = String::from("WHERE 1 = 1");
    let mut values: Vec<Box<dyn ToSql>> = Vec::new();
    if !filter.statuses.is_empty() {
        let mut marks = Vec::new();
        for status in &filter.statuses {
            values.push(Box::new(status.as_str()));
            marks.push(format!("?{}", values.len()));
        }
        sql.push_str(&format!(" AND f.status IN ({})", marks.join(", ")));
    }
    if let Some(host) = &filter.host_name {
        values.push(Box::new(host.clone()));
        sql.push_str(&format!(" AND h.name = ?{}", values.len()));
    }
    if let Some(advisory) = &filter.advisory_id {
        values.push(Box::new(advisory.clone()));
        sql.push_str(&format!(" AND f.advisory_id = ?{}", values.len()));
    }
    if let Some(after) = filter.after {
        values.push(Box::new(after.0));
        sql.push_str(&format!(" AND f.id > ?{}", values.len()));
    }
    values.push(Box::new(i64::try_from(filter.limit).unwrap_or(i64::MAX)));
    sql.push_str(&format!(" ORDER BY f.id LIMIT ?{}", values.len()));
    query_findings(conn, &sql, rusqlite::params_from_iter(values.iter()))
}

/// Findings not `RESOLVED` whose component has no present instance on their entity and whose
/// last instance there went away at or before `cutoff` — the candidates for auto-resolve.
pub(crate) fn findings_gone_since(
    conn: &Connection,
    cutoff: Timestamp,
) -> Result<Vec<FindingRecord>> {
    query_findings(
        conn,
        "WHERE f.status <> 'RESOLVED'
           AND NOT EXISTS (SELECT 1 FROM component_instances ci
                           WHERE ci.component_id = f.component_id AND ci.host_id = f.host_id
                             AND ci.container_ref IS f.container_ref AND ci.gone_at IS NULL)
           AND (SELECT max(ci.gone_at) FROM component_instances ci
                WHERE ci.component_id = f.component_id AND ci.host_id = f.host_id
                  AND ci.container_ref IS f.container_ref) <= ?1
         ORDER BY f.id",
        [cutoff.unix_millis()],
    )
}

/// The timing inputs of every finding, in id order.
pub(crate) fn finding_timings(conn: &Connection) -> Result<Vec<FindingTiming>> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT f.id, f.status, f.detected_at, f.acknowledged_at, f.resolved_at,
                    (SELECT min(ci.first_seen) FROM component_instances ci
                     WHERE ci.component_id = f.component_id AND ci.host_id = f.host_id
                       AND ci.container_ref IS f.container_ref),
                    a.published
             FROM findings f LEFT JOIN advisories a ON a.id = f.advisory_id
             ORDER BY f.id",
        )
        .map_err(db("read finding timings"))?;
    let mut rows = stmt.query([]).map_err(db("read finding timings"))?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(db("read finding timings"))? {
        let id: i64 = get(row, 0)?;
        let status: String = get(row, 1)?;
        out.push(FindingTiming {
            id: FindingId(id),
            status: status_from(id, &status)?,
            detected_at: Timestamp::from_unix_millis(get(row, 2)?),
            acknowledged_at: opt_ts(get(row, 3)?),
            resolved_at: opt_ts(get(row, 4)?),
            first_seen: opt_ts(get(row, 5)?),
            advisory_published: opt_ts(get(row, 6)?),
        });
    }
    Ok(out)
}
