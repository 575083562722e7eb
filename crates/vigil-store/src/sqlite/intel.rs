//! Advisories, their affected packages, and blobs (the persisted matcher).

use rusqlite::{Connection, OptionalExtension, Row, params};
use vigil_core::osv::ecosystem_covers;
use vigil_core::{Ecosystem, osv::OsvRecord};

use super::db;
use crate::advisory::{AdvisoryInput, AdvisoryKind, AdvisoryRecord, Blob, PutAdvisories};
use crate::codec::{bad_value, from_json, to_json};
use crate::error::Result;
use crate::inventory::PackageKey;
use crate::sqlite::inventory::get;
use crate::time::Timestamp;

/// Stores advisories; rewrites only those whose record or classification changed.
pub(crate) fn put_advisories(
    conn: &Connection,
    advisories: &[AdvisoryInput<'_>],
    now: Timestamp,
) -> Result<PutAdvisories> {
    let mut outcome = PutAdvisories::default();
    for input in advisories {
        let record = input.record;
        let record_json = to_json("advisory record", record)?;
        let cwes = to_json("advisory cwes", &input.cwes)?;
        let stored: Option<(String, String, Option<String>, String, String)> = conn
            .prepare_cached(
                "SELECT kind, cwes, severity, source, record FROM advisories
                 WHERE id = ?1 AND removed_at IS NULL",
            )
            .and_then(|mut stmt| {
                stmt.query_row([&record.id], |row| {
                    Ok((
                        row.get(0)?,
                        row.get(1)?,
                        row.get(2)?,
                        row.get(3)?,
                        row.get(4)?,
                    ))
                })
                .optional()
            })
            .map_err(db("read advisory"))?;
        let wanted = (
            input.kind.as_str().to_owned(),
            cwes,
            input.severity.clone(),
            input.source.clone(),
            record_json,
        );
        if stored.as_ref() == Some(&wanted) {
            outcome.unchanged += 1;
            continue;
        }
        let (kind, cwes, severity, source, record_json) = wanted;
        let parse = |t: &Option<String>| {
            t.as_deref()
                .and_then(Timestamp::parse_rfc3339)
                .map(Timestamp::unix_millis)
        };
        let aliases = to_json("advisory aliases", &record.aliases)?;
        conn.prepare_cached(
            "INSERT INTO advisories (id, kind, summary, aliases, cwes, severity, published, modified,
                                     withdrawn, source, record, imported_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?12)
             ON CONFLICT (id) DO UPDATE SET
                 kind = excluded.kind, summary = excluded.summary, aliases = excluded.aliases,
                 cwes = excluded.cwes, severity = excluded.severity, published = excluded.published,
                 modified = excluded.modified, withdrawn = excluded.withdrawn,
                 source = excluded.source, record = excluded.record, updated_at = excluded.updated_at,
                 removed_at = NULL",
        )
        .and_then(|mut stmt| {
            stmt.execute(params![
                record.id,
                kind,
                record.summary,
                aliases,
                cwes,
                severity,
                parse(&record.published),
                parse(&record.modified),
                parse(&record.withdrawn),
                source,
                record_json,
                now.unix_millis()
            ])
        })
        .map_err(db("write advisory"))?;
        conn.prepare_cached("DELETE FROM advisory_packages WHERE advisory_id = ?1")
            .and_then(|mut stmt| stmt.execute([&record.id]))
            .map_err(db("write advisory packages"))?;
        for (ordinal, affected) in record.affected.iter().enumerate() {
            let Some(package) = &affected.package else {
                continue;
            };
            let versions = to_json("affected versions", &affected.versions)?;
            conn.prepare_cached(
                "INSERT INTO advisory_packages
                     (advisory_id, ordinal, ecosystem, ecosystem_kind, name, name_key, versions)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )
            .and_then(|mut stmt| {
                stmt.execute(params![
                    record.id,
                    i64::try_from(ordinal).unwrap_or(i64::MAX),
                    package.ecosystem.to_string(),
                    package.ecosystem.kind().as_str(),
                    package.name,
                    package.name_key(),
                    versions
                ])
            })
            .map_err(db("write advisory packages"))?;
        }
        if stored.is_some() {
            outcome.updated.push(record.id.clone());
        } else {
            outcome.inserted.push(record.id.clone());
        }
    }
    Ok(outcome)
}

const ADVISORY_SELECT: &str = "SELECT id, kind, cwes, severity, source, record, imported_at, \
                               updated_at, removed_at FROM advisories";

fn advisory_from_row(row: &Row<'_>) -> Result<AdvisoryRecord> {
    let id: String = get(row, 0)?;
    let kind: String = get(row, 1)?;
    Ok(AdvisoryRecord {
        kind: AdvisoryKind::parse(&kind).ok_or_else(|| {
            bad_value("advisories", "kind", &id, format!("unknown kind {kind:?}"))
        })?,
        cwes: from_json("advisories", "cwes", &id, &get::<String>(row, 2)?)?,
        severity: get(row, 3)?,
        source: get(row, 4)?,
        record: from_json::<OsvRecord>("advisories", "record", &id, &get::<String>(row, 5)?)?,
        imported_at: Timestamp::from_unix_millis(get(row, 6)?),
        updated_at: Timestamp::from_unix_millis(get(row, 7)?),
        removed_at: get::<Option<i64>>(row, 8)?.map(Timestamp::from_unix_millis),
    })
}

/// One advisory.
pub(crate) fn advisory(conn: &Connection, id: &str) -> Result<Option<AdvisoryRecord>> {
    let mut stmt = conn
        .prepare_cached(&format!("{ADVISORY_SELECT} WHERE id = ?1"))
        .map_err(db("read advisory"))?;
    let mut rows = stmt.query([id]).map_err(db("read advisory"))?;
    match rows.next().map_err(db("read advisory"))? {
        Some(row) => Ok(Some(advisory_from_row(row)?)),
        None => Ok(None),
    }
}

/// Every advisory, in id order, handed to `f` one at a time (bounded memory).
pub(crate) fn for_each_advisory(
    conn: &Connection,
    f: &mut dyn FnMut(AdvisoryRecord) -> Result<()>,
) -> Result<()> {
    let mut stmt = conn
        .prepare(&format!("{ADVISORY_SELECT} ORDER BY id"))
        .map_err(db("read advisories"))?;
    let mut rows = stmt.query([]).map_err(db("read advisories"))?;
    while let Some(row) = rows.next().map_err(db("read advisories"))? {
        f(advisory_from_row(row)?)?;
    }
    Ok(())
}

/// Ids of advisories naming any of the packages `keys` (a component's ecosystem and name),
/// sorted and unique.
pub(crate) fn advisory_ids_for_keys(conn: &Connection, keys: &[PackageKey]) -> Result<Vec<String>> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT ap.advisory_id, ap.ecosystem FROM advisory_packages ap
             JOIN advisories a ON a.id = ap.advisory_id AND a.removed_at IS NULL
             WHERE ap.ecosystem_kind = ?1 AND ap.name_key = ?2",
        )
        .map_err(db("read advisory packages"))?;
    let mut ids = Vec::new();
    for key in keys {
        let rows = stmt
            .query_map(
                params![key.ecosystem.kind().as_str(), key.name_key],
                |row| Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?)),
            )
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(db("read advisory packages"))?;
        ids.extend(
            rows.into_iter()
                .filter(|(_, eco)| ecosystem_covers(&Ecosystem::parse(eco), &key.ecosystem))
                .map(|(id, _)| id),
        );
    }
    ids.sort();
    ids.dedup();
    Ok(ids)
}

/// Marks the advisories `ids` removed at `now` (those current); returns the ids marked.
pub(crate) fn remove_advisories(
    conn: &Connection,
    ids: &[String],
    now: Timestamp,
) -> Result<Vec<String>> {
    let mut stmt = conn
        .prepare_cached(
            "UPDATE advisories SET removed_at = ?2, updated_at = ?2
             WHERE id = ?1 AND removed_at IS NULL",
        )
        .map_err(db("remove advisory"))?;
    let mut removed = Vec::new();
    for id in ids {
        if stmt
            .execute(params![id, now.unix_millis()])
            .map_err(db("remove advisory"))?
            > 0
        {
            removed.push(id.clone());
        }
    }
    Ok(removed)
}

/// Ids of the current (not removed) advisories, sorted.
pub(crate) fn current_advisory_ids(conn: &Connection) -> Result<Vec<String>> {
    conn.prepare_cached("SELECT id FROM advisories WHERE removed_at IS NULL ORDER BY id")
        .and_then(|mut stmt| {
            stmt.query_map([], |row| row.get(0))?
                .collect::<rusqlite::Result<Vec<String>>>()
        })
        .map_err(db("read advisory ids"))
}

/// Writes a blob.
pub(crate) fn put_blob(conn: &Connection, key: &str, bytes: &[u8], now: Timestamp) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO blobs (key, bytes, updated_at) VALUES (?1, ?2, ?3)
         ON CONFLICT (key) DO UPDATE SET bytes = excluded.bytes, updated_at = excluded.updated_at",
    )
    .and_then(|mut stmt| stmt.execute(params![key, bytes, now.unix_millis()]))
    .map_err(db("write blob"))?;
    Ok(())
}

/// Reads a blob.
pub(crate) fn get_blob(conn: &Connection, key: &str) -> Result<Option<Blob>> {
    conn.prepare_cached("SELECT bytes, updated_at FROM blobs WHERE key = ?1")
        .and_then(|mut stmt| {
            stmt.query_row([key], |row| {
                Ok(Blob {
                    bytes: row.get(0)?,
                    updated_at: Timestamp::from_unix_millis(row.get(1)?),
                })
            })
            .optional()
        })
        .map_err(db("read blob"))
}

/// Deletes a blob; whether it existed.
pub(crate) fn delete_blob(conn: &Connection, key: &str) -> Result<bool> {
    conn.prepare_cached("DELETE FROM blobs WHERE key = ?1")
        .and_then(|mut stmt| stmt.execute([key]))
        .map(|n| n > 0)
        .map_err(db("delete blob"))
}
