//! Advisories, their affected packages, and blobs (PostgreSQL).
//!
//! `put_advisories` reads what is stored for the whole batch in one statement, decides in
//! memory which records changed, and writes those in a few batched statements (sorted by id, so
//! two replicas importing the same feed take row locks in one order). The OSV record is kept as
//! the exact JSON text; the columns derived from it for lookups and the query views (summary,
//! aliases, package names, versions) have NUL characters replaced by U+FFFD, which PostgreSQL
//! text cannot hold — the record itself keeps them (JSON-escaped).

use std::borrow::Cow;
use std::collections::HashMap;

use ::postgres::Row;
use ::postgres::fallible_iterator::FallibleIterator;
use serde_json::Value;
use vigil_core::osv::ecosystem_covers;
use vigil_core::{Ecosystem, osv::OsvRecord};

use super::{Tx, get, pg};
use crate::advisory::{AdvisoryInput, AdvisoryKind, AdvisoryRecord, Blob, PutAdvisories};
use crate::codec::{bad_value, from_json, to_json};
use crate::error::Result;
use crate::inventory::PackageKey;
use crate::time::Timestamp;

/// Advisories written per statement.
const CHUNK: usize = 500;

fn scrub(text: &str) -> Cow<'_, str> {
    if text.contains('\0') {
        Cow::Owned(text.replace('\0', "\u{FFFD}"))
    } else {
        Cow::Borrowed(text)
    }
}

fn scrub_all(items: &[String]) -> Vec<Cow<'_, str>> {
    items.iter().map(|s| scrub(s)).collect()
}

/// What decides whether a stored advisory is rewritten.
#[derive(PartialEq)]
struct Wanted {
    kind: String,
    cwes: Value,
    severity: Option<String>,
    source: String,
    record: String,
}

/// Stores advisories; rewrites only those whose record or classification changed.
pub(crate) fn put_advisories(
    tx: &Tx,
    advisories: &[AdvisoryInput<'_>],
    now: Timestamp,
) -> Result<PutAdvisories> {
    let c = &mut *tx.conn()?;
    let ids: Vec<&str> = advisories.iter().map(|a| a.record.id.as_str()).collect();
    let mut stored: HashMap<String, Wanted> = HashMap::new();
    for chunk in ids.chunks(CHUNK) {
        for row in c.query(
            "read advisory",
            "SELECT id, kind, cwes, severity, source, record FROM advisories
             WHERE id = ANY($1) AND removed_at IS NULL",
            &[&chunk],
        )? {
            stored.insert(
                get(&row, 0)?,
                Wanted {
                    kind: get(&row, 1)?,
                    cwes: get(&row, 2)?,
                    severity: get(&row, 3)?,
                    source: get(&row, 4)?,
                    record: get(&row, 5)?,
                },
            );
        }
    }
    // Decide in input order, as if written one by one: a repeated id compares against the
    // version written just before it.
    let mut outcome = PutAdvisories::default();
    let mut latest: HashMap<&str, usize> = HashMap::new();
    for (i, input) in advisories.iter().enumerate() {
        let record = input.record;
        let wanted = Wanted {
            kind: input.kind.as_str().to_owned(),
            cwes: Value::from(
                input
                    .cwes
                    .iter()
                    .map(|c| Value::from(scrub(c).into_owned()))
                    .collect::<Vec<_>>(),
            ),
            severity: input.severity.as_deref().map(|s| scrub(s).into_owned()),
            source: scrub(&input.source).into_owned(),
            record: to_json("advisory record", record)?,
        };
        let before = stored.get(&record.id);
        if before == Some(&wanted) {
            outcome.unchanged += 1;
            continue;
        }
        if before.is_some() {
            outcome.updated.push(record.id.clone());
        } else {
            outcome.inserted.push(record.id.clone());
        }
        stored.insert(record.id.clone(), wanted);
        latest.insert(record.id.as_str(), i);
    }
    let mut order: Vec<(&str, usize)> = latest.into_iter().collect();
    order.sort_unstable();
    for chunk in order.chunks(CHUNK) {
        write_advisories(c, advisories, &stored, chunk, now)?;
    }
    Ok(outcome)
}

/// One array per column of `advisories`, for an `unnest` insert.
#[derive(Default)]
struct AdvisoryColumns<'a> {
    id: Vec<&'a str>,
    kind: Vec<&'a str>,
    summary: Vec<Option<String>>,
    aliases: Vec<String>,
    cwes: Vec<String>,
    severity: Vec<Option<&'a str>>,
    published: Vec<Option<i64>>,
    modified: Vec<Option<i64>>,
    withdrawn: Vec<Option<i64>>,
    source: Vec<&'a str>,
    record: Vec<&'a str>,
}

/// One array per column of `advisory_packages`.
#[derive(Default)]
struct PackageColumns<'a> {
    advisory_id: Vec<&'a str>,
    ordinal: Vec<i64>,
    ecosystem: Vec<String>,
    kind: Vec<&'a str>,
    name: Vec<String>,
    name_key: Vec<String>,
    versions: Vec<String>,
}

fn write_advisories(
    c: &mut super::Conn,
    advisories: &[AdvisoryInput<'_>],
    stored: &HashMap<String, Wanted>,
    chunk: &[(&str, usize)],
    now: Timestamp,
) -> Result<()> {
    let parse = |t: &Option<String>| {
        t.as_deref()
            .and_then(Timestamp::parse_rfc3339)
            .map(Timestamp::unix_millis)
    };
    let mut cols = AdvisoryColumns::default();
    let mut packages = PackageColumns::default();
    for &(id, i) in chunk {
        let (Some(input), Some(wanted)) = (advisories.get(i), stored.get(id)) else {
            continue;
        };
        let record: &OsvRecord = input.record;
        cols.id.push(id);
        cols.kind.push(&wanted.kind);
        cols.summary
            .push(record.summary.as_deref().map(|s| scrub(s).into_owned()));
        cols.aliases
            .push(to_json("advisory aliases", &scrub_all(&record.aliases))?);
        cols.cwes.push(to_json("advisory cwes", &wanted.cwes)?);
        cols.severity.push(wanted.severity.as_deref());
        cols.published.push(parse(&record.published));
        cols.modified.push(parse(&record.modified));
        cols.withdrawn.push(parse(&record.withdrawn));
        cols.source.push(&wanted.source);
        cols.record.push(&wanted.record);
        for (ordinal, affected) in record.affected.iter().enumerate() {
            let Some(package) = &affected.package else {
                continue;
            };
            packages.advisory_id.push(id);
            packages
                .ordinal
                .push(i64::try_from(ordinal).unwrap_or(i64::MAX));
            packages
                .ecosystem
                .push(scrub(&package.ecosystem.to_string()).into_owned());
            packages.kind.push(package.ecosystem.kind().as_str());
            packages.name.push(scrub(&package.name).into_owned());
            packages
                .name_key
                .push(scrub(&package.name_key()).into_owned());
            packages.versions.push(to_json(
                "affected versions",
                &scrub_all(&affected.versions),
            )?);
        }
    }
    if cols.id.is_empty() {
        return Ok(());
    }
    c.execute(
        "write advisory",
        "INSERT INTO advisories (id, kind, summary, aliases, cwes, severity, published, modified,
                                 withdrawn, source, record, imported_at, updated_at)
         SELECT u.id, u.kind, u.summary, u.aliases::jsonb, u.cwes::jsonb, u.severity, u.published,
                u.modified, u.withdrawn, u.source, u.record, $12, $12
         FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
                     $7::bigint[], $8::bigint[], $9::bigint[], $10::text[], $11::text[])
             AS u(id, kind, summary, aliases, cwes, severity, published, modified, withdrawn,
                  source, record)
         ON CONFLICT (id) DO UPDATE SET
             kind = excluded.kind, summary = excluded.summary, aliases = excluded.aliases,
             cwes = excluded.cwes, severity = excluded.severity, published = excluded.published,
             modified = excluded.modified, withdrawn = excluded.withdrawn,
             source = excluded.source, record = excluded.record, updated_at = excluded.updated_at,
             removed_at = NULL",
        &[
            &cols.id,
            &cols.kind,
            &cols.summary,
            &cols.aliases,
            &cols.cwes,
            &cols.severity,
            &cols.published,
            &cols.modified,
            &cols.withdrawn,
            &cols.source,
            &cols.record,
            &now.unix_millis(),
        ],
    )?;
    c.execute(
        "write advisory packages",
        "DELETE FROM advisory_packages WHERE advisory_id = ANY($1)",
        &[&cols.id],
    )?;
    if !packages.advisory_id.is_empty() {
        c.execute(
            "write advisory packages",
            "INSERT INTO advisory_packages
                 (advisory_id, ordinal, ecosystem, ecosystem_kind, name, name_key, versions)
             SELECT u.id, u.ordinal, u.ecosystem, u.kind, u.name, u.name_key, u.versions::jsonb
             FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[],
                         $7::text[])
                 AS u(id, ordinal, ecosystem, kind, name, name_key, versions)",
            &[
                &packages.advisory_id,
                &packages.ordinal,
                &packages.ecosystem,
                &packages.kind,
                &packages.name,
                &packages.name_key,
                &packages.versions,
            ],
        )?;
    }
    Ok(())
}

const ADVISORY_SELECT: &str = "SELECT id, kind, cwes::text, severity, source, record, \
                               imported_at, updated_at, removed_at FROM advisories";

fn advisory_from_row(row: &Row) -> Result<AdvisoryRecord> {
    let id: &str = get(row, 0)?;
    let kind: &str = get(row, 1)?;
    Ok(AdvisoryRecord {
        kind: AdvisoryKind::parse(kind)
            .ok_or_else(|| bad_value("advisories", "kind", id, format!("unknown kind {kind:?}")))?,
        cwes: from_json("advisories", "cwes", id, get(row, 2)?)?,
        severity: get(row, 3)?,
        source: get(row, 4)?,
        record: from_json::<OsvRecord>("advisories", "record", id, get(row, 5)?)?,
        imported_at: Timestamp::from_unix_millis(get(row, 6)?),
        updated_at: Timestamp::from_unix_millis(get(row, 7)?),
        removed_at: get::<Option<i64>>(row, 8)?.map(Timestamp::from_unix_millis),
    })
}

/// One advisory.
pub(crate) fn advisory(tx: &Tx, id: &str) -> Result<Option<AdvisoryRecord>> {
    tx.conn()?
        .query_opt(
            "read advisory",
            &format!("{ADVISORY_SELECT} WHERE id = $1"),
            &[&id],
        )?
        .as_ref()
        .map(advisory_from_row)
        .transpose()
}

/// Every advisory, in id order, handed to `f` one at a time: rows stream from the server, so
/// memory stays bounded whatever the number of advisories.
pub(crate) fn for_each_advisory(
    tx: &Tx,
    f: &mut dyn FnMut(AdvisoryRecord) -> Result<()>,
) -> Result<()> {
    let mut c = tx.conn()?;
    let sql = format!("{ADVISORY_SELECT} ORDER BY id");
    let params: [&(dyn ::postgres::types::ToSql + Sync); 0] = [];
    let mut rows = c
        .client
        .query_raw(sql.as_str(), params)
        .map_err(pg("read advisories"))?;
    while let Some(row) = rows.next().map_err(pg("read advisories"))? {
        f(advisory_from_row(&row)?)?;
    }
    Ok(())
}

/// Ids of advisories naming any of the packages `keys` (a component's ecosystem and name),
/// sorted and unique.
pub(crate) fn advisory_ids_for_keys(tx: &Tx, keys: &[PackageKey]) -> Result<Vec<String>> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let kinds: Vec<&str> = keys.iter().map(|k| k.ecosystem.kind().as_str()).collect();
    let names: Vec<&str> = keys.iter().map(|k| k.name_key.as_str()).collect();
    let rows = tx.conn()?.query(
        "read advisory packages",
        "SELECT u.i, ap.advisory_id, ap.ecosystem
         FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS u(kind, name_key, i)
         JOIN advisory_packages ap ON ap.ecosystem_kind = u.kind AND ap.name_key = u.name_key
         JOIN advisories a ON a.id = ap.advisory_id AND a.removed_at IS NULL",
        &[&kinds, &names],
    )?;
    let mut ids = Vec::new();
    for row in &rows {
        let position: i64 = get(row, 0)?;
        let Some(key) = usize::try_from(position - 1).ok().and_then(|p| keys.get(p)) else {
            continue;
        };
        let ecosystem: &str = get(row, 2)?;
        if ecosystem_covers(&Ecosystem::parse(ecosystem), &key.ecosystem) {
            ids.push(get::<String>(row, 1)?);
        }
    }
    ids.sort();
    ids.dedup();
    Ok(ids)
}

/// Marks the advisories `ids` removed at `now` (those current); returns the ids marked.
pub(crate) fn remove_advisories(tx: &Tx, ids: &[String], now: Timestamp) -> Result<Vec<String>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let rows = tx.conn()?.query(
        "remove advisories",
        "UPDATE advisories SET removed_at = $2, updated_at = $2
         WHERE id = ANY($1) AND removed_at IS NULL
         RETURNING id",
        &[&ids, &now.unix_millis()],
    )?;
    let mut removed = rows
        .iter()
        .map(|row| get::<String>(row, 0))
        .collect::<Result<Vec<_>>>()?;
    removed.sort();
    Ok(removed)
}

/// Ids of the current (not removed) advisories, sorted.
pub(crate) fn current_advisory_ids(tx: &Tx) -> Result<Vec<String>> {
    tx.conn()?
        .query(
            "read advisory ids",
            "SELECT id FROM advisories WHERE removed_at IS NULL ORDER BY id",
            &[],
        )?
        .iter()
        .map(|row| get::<String>(row, 0))
        .collect()
}

/// Writes a blob.
pub(crate) fn put_blob(tx: &Tx, key: &str, bytes: &[u8], now: Timestamp) -> Result<()> {
    tx.conn()?.execute(
        "write blob",
        "INSERT INTO blobs (key, bytes, updated_at) VALUES ($1, $2, $3)
         ON CONFLICT (key) DO UPDATE SET bytes = excluded.bytes, updated_at = excluded.updated_at",
        &[&key, &bytes, &now.unix_millis()],
    )?;
    Ok(())
}

/// Reads a blob.
pub(crate) fn get_blob(tx: &Tx, key: &str) -> Result<Option<Blob>> {
    tx.conn()?
        .query_opt(
            "read blob",
            "SELECT bytes, updated_at FROM blobs WHERE key = $1",
            &[&key],
        )?
        .map(|row| {
            Ok(Blob {
                bytes: get(&row, 0)?,
                updated_at: Timestamp::from_unix_millis(get(&row, 1)?),
            })
        })
        .transpose()
}

/// Deletes a blob; whether it existed.
pub(crate) fn delete_blob(tx: &Tx, key: &str) -> Result<bool> {
    let n = tx
        .conn()?
        .execute("delete blob", "DELETE FROM blobs WHERE key = $1", &[&key])?;
    Ok(n > 0)
}
