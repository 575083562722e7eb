//! Hosts, containers, processes and component instances; applying snapshots (PostgreSQL).
//!
//! The same diff as the SQLite backend (`crate::apply` decides; this file reads the rows and
//! writes): one indexed read of the host's present instances, a hash-map diff against the
//! snapshot, and writes only for what changed. Here the writes are batched — one statement for all changed instances, one for the
//! new components, one for the new instances, one for their windows, one for the gone ones —
//! because each statement is a network round trip. The snapshot holds an advisory lock on its
//! host for the transaction (see the module docs of `postgres`).

use std::collections::{BTreeMap, HashMap, HashSet};

use ::postgres::Row;
use serde_json::Value;
use vigil_core::Component;
use vigil_core::osv::ecosystem_covers;

use super::{Conn, Tx, get, pids_text};
use crate::apply::{
    Added, ContainerState, PresentProcesses, PresentRow, Records, diff_instances,
    instance_ecosystems, listening_sockets, reconcile_containers, reconcile_processes,
};
use crate::codec::{
    bad_value, component_from, from_json, opt_ts, parse_evidence, pids_from_json, to_i64, to_json,
};
use crate::error::Result;
use crate::finding::Entity;
use crate::inventory::{
    ComponentId, ContainerInfo, ContainerKey, ContainerSummary, Exposure, ExposureWindow, HostId,
    HostInfo, HostRecord, InstanceId, InstanceRecord, PackageKey, ProcessInfo, Snapshot,
    SnapshotKind, SnapshotOutcome,
};
use crate::time::Timestamp;

/// Selects every column of an [`InstanceRecord`] (22 columns); decode with
/// [`instance_from_row`].
const INSTANCE_COLUMNS: &str = "ci.id, ci.component_id, c.ecosystem, c.name, c.version, c.purl, \
     ci.host_id, h.name, h.last_seen, ct.id, ct.container_id, ct.name, ct.image, ct.k8s_namespace, \
     ct.k8s_workload, ci.path, ci.evidence, ci.dev, ci.pids::text, ci.first_seen, ci.last_seen, \
     ci.gone_at";

const INSTANCE_FROM: &str = "FROM component_instances ci \
     JOIN components c ON c.id = ci.component_id \
     JOIN hosts h ON h.id = ci.host_id \
     LEFT JOIN containers ct ON ct.id = ci.container_ref";

/// A container summary from nullable joined columns starting at `first`
/// (id, container_id, name, image, k8s_namespace, k8s_workload).
pub(crate) fn container_summary_at(row: &Row, first: usize) -> Result<Option<ContainerSummary>> {
    let Some(key) = get::<Option<i64>>(row, first)? else {
        return Ok(None);
    };
    Ok(Some(ContainerSummary {
        key: ContainerKey(key),
        id: get(row, first + 1)?,
        name: get(row, first + 2)?,
        image: get(row, first + 3)?,
        k8s_namespace: get(row, first + 4)?,
        k8s_workload: get(row, first + 5)?,
    }))
}

/// An instance from [`INSTANCE_COLUMNS`] starting at column `b`.
fn instance_from_row(row: &Row, b: usize) -> Result<InstanceRecord> {
    let id: i64 = get(row, b)?;
    let host_last_seen: i64 = get(row, b + 8)?;
    let stored_last_seen: i64 = get(row, b + 20)?;
    let gone_at: Option<i64> = get(row, b + 21)?;
    Ok(InstanceRecord {
        id: InstanceId(id),
        component_id: ComponentId(get(row, b + 1)?),
        component: component_from(
            get::<&str>(row, b + 2)?,
            get::<&str>(row, b + 3)?,
            get(row, b + 4)?,
        ),
        purl: get(row, b + 5)?,
        host_id: HostId(get(row, b + 6)?),
        host_name: get(row, b + 7)?,
        container: container_summary_at(row, b + 9)?,
        path: get(row, b + 15)?,
        evidence: parse_evidence("component_instances", id, get::<&str>(row, b + 16)?)?,
        dev: get(row, b + 17)?,
        pids: pids_from_json("component_instances", id, get::<&str>(row, b + 18)?)?,
        first_seen: Timestamp::from_unix_millis(get(row, b + 19)?),
        last_seen: Timestamp::from_unix_millis(if gone_at.is_some() {
            stored_last_seen
        } else {
            host_last_seen
        }),
        gone_at: opt_ts(gone_at),
    })
}

fn query_instances(
    c: &mut Conn,
    filter: &str,
    params: &[super::Param<'_>],
) -> Result<Vec<InstanceRecord>> {
    let sql = format!("SELECT {INSTANCE_COLUMNS} {INSTANCE_FROM} WHERE {filter}");
    c.query("read instances", &sql, params)?
        .iter()
        .map(|row| instance_from_row(row, 0))
        .collect()
}

fn upsert_host_in(c: &mut Conn, host: &HostInfo, now: Timestamp) -> Result<HostId> {
    let labels = to_json("host labels", &host.labels)?;
    let row = c.query_one(
        "upsert host",
        "INSERT INTO hosts (name, os_name, os_version, arch, agent_version, labels, first_seen, last_seen)
         VALUES ($1, $2, $3, $4, $5, $6::text::jsonb, $7, $7)
         ON CONFLICT (name) DO UPDATE SET
             os_name = excluded.os_name, os_version = excluded.os_version, arch = excluded.arch,
             agent_version = excluded.agent_version, labels = excluded.labels,
             last_seen = greatest(hosts.last_seen, excluded.last_seen)
         RETURNING id",
        &[
            &host.name,
            &host.os_name,
            &host.os_version,
            &host.arch,
            &host.agent_version,
            &labels,
            &now.unix_millis(),
        ],
    )?;
    Ok(HostId(get(&row, 0)?))
}

/// Inserts or refreshes a host; `last_seen` only moves forward.
pub(crate) fn upsert_host(tx: &Tx, host: &HostInfo, now: Timestamp) -> Result<HostId> {
    upsert_host_in(&mut *tx.conn()?, host, now)
}

const HOST_SELECT: &str = "SELECT id, name, os_name, os_version, arch, agent_version, labels::text, \
                           first_seen, last_seen, last_sequence FROM hosts";

fn host_from_row(row: &Row) -> Result<HostRecord> {
    let id: i64 = get(row, 0)?;
    let labels: BTreeMap<String, String> = from_json("hosts", "labels", id, get(row, 6)?)?;
    let last_sequence: Option<i64> = get(row, 9)?;
    Ok(HostRecord {
        id: HostId(id),
        info: HostInfo {
            name: get(row, 1)?,
            os_name: get(row, 2)?,
            os_version: get(row, 3)?,
            arch: get(row, 4)?,
            agent_version: get(row, 5)?,
            labels,
        },
        first_seen: Timestamp::from_unix_millis(get(row, 7)?),
        last_seen: Timestamp::from_unix_millis(get(row, 8)?),
        last_sequence: last_sequence.and_then(|s| u64::try_from(s).ok()),
    })
}

/// One host by name.
pub(crate) fn host(tx: &Tx, name: &str) -> Result<Option<HostRecord>> {
    let mut c = tx.conn()?;
    c.query_opt(
        "read host",
        &format!("{HOST_SELECT} WHERE name = $1"),
        &[&name],
    )?
    .as_ref()
    .map(host_from_row)
    .transpose()
}

/// Every host, by name.
pub(crate) fn hosts(tx: &Tx) -> Result<Vec<HostRecord>> {
    let mut c = tx.conn()?;
    c.query("read hosts", &format!("{HOST_SELECT} ORDER BY name"), &[])?
        .iter()
        .map(host_from_row)
        .collect()
}

/// A component's row id, if stored.
pub(crate) fn component_id(tx: &Tx, component: &Component) -> Result<Option<ComponentId>> {
    let mut c = tx.conn()?;
    c.query_opt(
        "read component",
        "SELECT id FROM components WHERE ecosystem = $1 AND name_key = $2 AND version = $3",
        &[
            &component.ecosystem.to_string(),
            &component.name.key(),
            &&*component.version,
        ],
    )?
    .map(|row| get(&row, 0).map(ComponentId))
    .transpose()
}

/// Applies one snapshot (see the module and [`crate::inventory`] docs).
pub(crate) fn apply_snapshot(
    tx: &Tx,
    snapshot: &Snapshot,
    now: Timestamp,
) -> Result<SnapshotOutcome> {
    let c = &mut *tx.conn()?;
    let sequence = to_i64("snapshot sequence", snapshot.sequence)?;
    // One snapshot of a host at a time, across replicas: the dedup check below and the diff
    // read a state no other writer changes until this transaction ends.
    c.query(
        "lock host",
        "SELECT pg_advisory_xact_lock(hashtextextended('vigil/host/' || current_schema() || '/' || $1, 0))",
        &[&snapshot.host.name],
    )?;
    let existing: Option<(i64, i64)> = c
        .query_opt(
            "read host",
            "SELECT id, last_seen FROM hosts WHERE name = $1",
            &[&snapshot.host.name],
        )?
        .map(|row| Ok::<_, crate::StoreError>((get(&row, 0)?, get(&row, 1)?)))
        .transpose()?;
    if let Some((id, _)) = existing {
        let seen = c
            .query_opt(
                "read ingest log",
                "SELECT 1 FROM ingest_log WHERE host_id = $1 AND sequence = $2",
                &[&id, &sequence],
            )?
            .is_some();
        if seen {
            return Ok(SnapshotOutcome {
                host_id: Some(HostId(id)),
                duplicate: true,
                ..SnapshotOutcome::default()
            });
        }
    }
    let host_id = upsert_host_in(c, &snapshot.host, now)?;
    let full = matches!(snapshot.kind, SnapshotKind::Full);
    c.execute(
        "write ingest log",
        "INSERT INTO ingest_log (host_id, sequence, full_snapshot, applied_at) VALUES ($1, $2, $3, $4)",
        &[&host_id.0, &sequence, &full, &now.unix_millis()],
    )?;
    c.execute(
        "update host",
        "UPDATE hosts SET last_sequence = greatest(coalesce(last_sequence, $2), $2) WHERE id = $1",
        &[&host_id.0, &sequence],
    )?;
    // What a row that is gone now was last seen at: the host's previous report.
    let last_report = existing.map_or(now, |(_, last)| Timestamp::from_unix_millis(last));

    let containers = apply_containers(c, host_id, snapshot, now, last_report)?;
    apply_processes(c, host_id, snapshot, &containers, now, last_report)?;
    apply_instances(c, host_id, snapshot, &containers, now, last_report)
}

fn apply_containers(
    c: &mut Conn,
    host_id: HostId,
    snapshot: &Snapshot,
    now: Timestamp,
    last_report: Timestamp,
) -> Result<HashMap<String, ContainerState>> {
    let mut states: HashMap<String, ContainerState> = HashMap::new();
    for row in c.query(
        "read containers",
        "SELECT id, container_id, name, image, image_digest, runtime, k8s_namespace, k8s_pod,
                k8s_workload, k8s_workload_kind, labels::text, gone_at
         FROM containers WHERE host_id = $1",
        &[&host_id.0],
    )? {
        let key: i64 = get(&row, 0)?;
        let info = ContainerInfo {
            id: get(&row, 1)?,
            name: get(&row, 2)?,
            image: get(&row, 3)?,
            image_digest: get(&row, 4)?,
            runtime: get(&row, 5)?,
            k8s_namespace: get(&row, 6)?,
            k8s_pod: get(&row, 7)?,
            k8s_workload: get(&row, 8)?,
            k8s_workload_kind: get(&row, 9)?,
            labels: from_json("containers", "labels", key, get(&row, 10)?)?,
        };
        let gone = get::<Option<i64>>(&row, 11)?.is_some();
        states.insert(info.id.clone(), ContainerState { key, info, gone });
    }

    let gone = reconcile_containers(&mut states, snapshot, |key, info| {
        write_container(c, key, host_id, info, now)
    })?;
    if !gone.is_empty() {
        c.execute(
            "mark container gone",
            "UPDATE containers SET gone_at = $2, last_seen = $3 WHERE id = ANY($1)",
            &[&gone, &now.unix_millis(), &last_report.unix_millis()],
        )?;
    }
    Ok(states)
}

fn write_container(
    c: &mut Conn,
    key: Option<i64>,
    host_id: HostId,
    info: &ContainerInfo,
    now: Timestamp,
) -> Result<i64> {
    let labels = to_json("container labels", &info.labels)?;
    match key {
        Some(key) => {
            c.execute(
                "write container",
                "UPDATE containers SET name = $4, image = $5, image_digest = $6, runtime = $7,
                        k8s_namespace = $8, k8s_pod = $9, k8s_workload = $10, k8s_workload_kind = $11,
                        labels = $12::text::jsonb, last_seen = $13, gone_at = NULL
                 WHERE id = $1 AND host_id = $2 AND container_id = $3",
                &[
                    &key,
                    &host_id.0,
                    &info.id,
                    &info.name,
                    &info.image,
                    &info.image_digest,
                    &info.runtime,
                    &info.k8s_namespace,
                    &info.k8s_pod,
                    &info.k8s_workload,
                    &info.k8s_workload_kind,
                    &labels,
                    &now.unix_millis(),
                ],
            )?;
            Ok(key)
        }
        None => {
            let row = c.query_one(
                "write container",
                "INSERT INTO containers (host_id, container_id, name, image, image_digest, runtime,
                        k8s_namespace, k8s_pod, k8s_workload, k8s_workload_kind, labels, first_seen, last_seen)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::text::jsonb, $12, $12)
                 RETURNING id",
                &[
                    &host_id.0,
                    &info.id,
                    &info.name,
                    &info.image,
                    &info.image_digest,
                    &info.runtime,
                    &info.k8s_namespace,
                    &info.k8s_pod,
                    &info.k8s_workload,
                    &info.k8s_workload_kind,
                    &labels,
                    &now.unix_millis(),
                ],
            )?;
            get(&row, 0)
        }
    }
}

fn apply_processes(
    c: &mut Conn,
    host_id: HostId,
    snapshot: &Snapshot,
    containers: &HashMap<String, ContainerState>,
    now: Timestamp,
    last_report: Timestamp,
) -> Result<()> {
    let mut present: PresentProcesses<Value> = HashMap::new();
    for row in c.query(
        "read processes",
        "SELECT id, pid, start_time, exe, cmdline, \"user\", container_ref, listening
         FROM processes WHERE host_id = $1 AND gone_at IS NULL",
        &[&host_id.0],
    )? {
        present.insert(
            (get(&row, 1)?, get(&row, 2)?),
            (
                get(&row, 0)?,
                (
                    get(&row, 3)?,
                    get(&row, 4)?,
                    get(&row, 5)?,
                    get(&row, 6)?,
                    get(&row, 7)?,
                ),
            ),
        );
    }
    let listening = |process: &ProcessInfo| Ok(listening_sockets(process));
    let removed = reconcile_processes(&present, snapshot, containers, listening, |key, row| {
        let listening = to_json("listening sockets", &row.4)?;
        c.execute(
            "write process",
            "INSERT INTO processes (host_id, pid, start_time, exe, cmdline, \"user\", container_ref,
                                    listening, first_seen, last_seen)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8::text::jsonb, $9, $9)
             ON CONFLICT (host_id, pid, start_time) DO UPDATE SET
                 exe = excluded.exe, cmdline = excluded.cmdline, \"user\" = excluded.\"user\",
                 container_ref = excluded.container_ref, listening = excluded.listening,
                 last_seen = excluded.last_seen, gone_at = NULL",
            &[
                &host_id.0,
                &key.0,
                &key.1,
                &row.0,
                &row.1,
                &row.2,
                &row.3,
                &listening,
                &now.unix_millis(),
            ],
        )?;
        Ok(())
    })?;
    if !removed.is_empty() {
        c.execute(
            "mark process gone",
            "UPDATE processes SET gone_at = $2, last_seen = $3 WHERE id = ANY($1)",
            &[&removed, &now.unix_millis(), &last_report.unix_millis()],
        )?;
    }
    Ok(())
}

fn present_rows(c: &mut Conn, host_id: HostId) -> Result<Vec<PresentRow>> {
    c.query(
        "read instances",
        "SELECT ci.id, c.id, c.ecosystem, c.name, c.name_key, c.version, c.purl, ci.container_ref,
                ci.path, ci.evidence, ci.dev, ci.pids::text, ci.first_seen
         FROM component_instances ci JOIN components c ON c.id = ci.component_id
         WHERE ci.host_id = $1 AND ci.gone_at IS NULL",
        &[&host_id.0],
    )?
    .iter()
    .map(|row| {
        Ok(PresentRow {
            id: get(row, 0)?,
            component_id: get(row, 1)?,
            ecosystem: get(row, 2)?,
            name: get(row, 3)?,
            name_key: get(row, 4)?,
            version: get(row, 5)?,
            purl: get(row, 6)?,
            container: get(row, 7)?,
            path: get(row, 8)?,
            evidence: get(row, 9)?,
            dev: get(row, 10)?,
            pids: get(row, 11)?,
            first_seen: get(row, 12)?,
        })
    })
    .collect()
}

/// The row ids (and stored purls) of the components of `added`, in order, inserting the
/// missing ones: one sorted insert (concurrent snapshots sharing components take their row
/// locks in the same order, so they never deadlock), one lookup.
fn ensure_components(c: &mut Conn, added: &[Added<'_>]) -> Result<Vec<(ComponentId, String)>> {
    let mut distinct: HashMap<(&str, &str, &str), usize> = HashMap::new();
    let mut ecosystems = Vec::new();
    let mut kinds = Vec::new();
    let mut names = Vec::new();
    let mut keys = Vec::new();
    let mut versions = Vec::new();
    let mut purls = Vec::new();
    for a in added {
        let m = &a.merged;
        let component = &m.input.component;
        let identity = (m.ecosystem, component.name.key(), &*component.version);
        if distinct.contains_key(&identity) {
            continue;
        }
        distinct.insert(identity, ecosystems.len());
        ecosystems.push(m.ecosystem);
        kinds.push(component.ecosystem.kind().as_str());
        names.push(component.name.as_str());
        keys.push(component.name.key());
        versions.push(&*component.version);
        purls.push(match &m.input.purl {
            Some(purl) => purl.clone(),
            None => component.purl().to_string(),
        });
    }
    if ecosystems.is_empty() {
        return Ok(Vec::new());
    }
    c.execute(
        "insert components",
        "INSERT INTO components (ecosystem, ecosystem_kind, name, name_key, version, purl)
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[])
             AS u(ecosystem, kind, name, name_key, version, purl)
         ORDER BY 1, 4, 5
         ON CONFLICT (ecosystem, name_key, version) DO NOTHING",
        &[&ecosystems, &kinds, &names, &keys, &versions, &purls],
    )?;
    let mut by_position: Vec<Option<(ComponentId, String)>> = vec![None; ecosystems.len()];
    for row in c.query(
        "read components",
        "SELECT u.i, c.id, c.purl
         FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS u(ecosystem, name_key, version, i)
         JOIN components c
           ON c.ecosystem = u.ecosystem AND c.name_key = u.name_key AND c.version = u.version",
        &[&ecosystems, &keys, &versions],
    )? {
        let position: i64 = get(&row, 0)?;
        let slot = usize::try_from(position - 1)
            .ok()
            .and_then(|p| by_position.get_mut(p));
        if let Some(slot) = slot {
            *slot = Some((ComponentId(get(&row, 1)?), get(&row, 2)?));
        }
    }
    let mut out = Vec::with_capacity(added.len());
    for a in added {
        let component = &a.merged.input.component;
        let identity = (
            a.merged.ecosystem,
            component.name.key(),
            &*component.version,
        );
        let found = distinct
            .get(&identity)
            .and_then(|&p| by_position.get(p))
            .and_then(Clone::clone)
            .ok_or_else(|| bad_value("components", "id", component, "missing after insert"))?;
        out.push(found);
    }
    Ok(out)
}

fn apply_instances(
    c: &mut Conn,
    host_id: HostId,
    snapshot: &Snapshot,
    containers: &HashMap<String, ContainerState>,
    now: Timestamp,
    last_report: Timestamp,
) -> Result<SnapshotOutcome> {
    let host_last_seen: i64 = get(
        &c.query_one(
            "read host",
            "SELECT last_seen FROM hosts WHERE id = $1",
            &[&host_id.0],
        )?,
        0,
    )?;
    let records = Records::new(
        host_id,
        &snapshot.host.name,
        Timestamp::from_unix_millis(host_last_seen),
        containers,
    );
    let ecosystems = instance_ecosystems(snapshot);
    let rows = present_rows(c, host_id)?;
    let diff = diff_instances(snapshot, &ecosystems, &rows, containers, pids_text);

    let mut outcome = SnapshotOutcome {
        host_id: Some(host_id),
        unchanged: diff.unchanged,
        ..SnapshotOutcome::default()
    };
    // Unchanged rows cost nothing; changed and new ones are written in batches.
    if !diff.changed.is_empty() {
        let mut changed_ids = Vec::with_capacity(diff.changed.len());
        let mut changed_evidence = Vec::with_capacity(diff.changed.len());
        let mut changed_dev = Vec::with_capacity(diff.changed.len());
        let mut changed_pids = Vec::with_capacity(diff.changed.len());
        for mut changed in diff.changed {
            changed_ids.push(changed.row.id);
            changed_evidence.push(changed.merged.evidence.as_str());
            changed_dev.push(changed.merged.dev);
            changed_pids.push(std::mem::take(&mut changed.pids_text));
            outcome.changed.push(records.changed(changed)?);
        }
        c.execute(
            "update instances",
            "UPDATE component_instances AS ci
             SET evidence = u.evidence, dev = u.dev, pids = u.pids::jsonb, last_seen = $1
             FROM unnest($2::bigint[], $3::text[], $4::boolean[], $5::text[]) AS u(id, evidence, dev, pids)
             WHERE ci.id = u.id",
            &[
                &now.unix_millis(),
                &changed_ids,
                &changed_evidence,
                &changed_dev,
                &changed_pids,
            ],
        )?;
    }

    if !diff.added.is_empty() {
        let components = ensure_components(c, &diff.added)?;
        // Instances that come back are the same rows, revived.
        let component_ids: Vec<i64> = components.iter().map(|(id, _)| id.0).collect();
        let mut gone_rows: HashMap<(i64, Option<i64>, String), (i64, i64)> = HashMap::new();
        for row in c.query(
            "read instances",
            "SELECT id, first_seen, component_id, container_ref, path FROM component_instances
             WHERE host_id = $1 AND gone_at IS NOT NULL AND component_id = ANY($2)",
            &[&host_id.0, &component_ids],
        )? {
            gone_rows.insert(
                (get(&row, 2)?, get(&row, 3)?, get(&row, 4)?),
                (get(&row, 0)?, get(&row, 1)?),
            );
        }
        let mut revive = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let mut insert = (
            Vec::new(),
            Vec::new(),
            Vec::new(),
            Vec::new(),
            Vec::new(),
            Vec::new(),
        );
        // Per added instance, in order: the revived row's (id, first_seen), or None if inserted.
        let mut placed: Vec<Option<(i64, i64)>> = Vec::with_capacity(diff.added.len());
        for (a, (component_id, _)) in diff.added.iter().zip(&components) {
            let m = &a.merged;
            let identity = (component_id.0, m.container, m.input.path.clone());
            match gone_rows.get(&identity) {
                Some(&(id, first_seen)) => {
                    revive.0.push(id);
                    revive.1.push(m.evidence.as_str());
                    revive.2.push(m.dev);
                    revive.3.push(a.pids_text.as_str());
                    placed.push(Some((id, first_seen)));
                }
                None => {
                    insert.0.push(component_id.0);
                    insert.1.push(m.container);
                    insert.2.push(m.input.path.as_str());
                    insert.3.push(m.evidence.as_str());
                    insert.4.push(m.dev);
                    insert.5.push(a.pids_text.as_str());
                    placed.push(None);
                }
            }
        }
        if !revive.0.is_empty() {
            c.execute(
                "revive instances",
                "UPDATE component_instances AS ci
                 SET evidence = u.evidence, dev = u.dev, pids = u.pids::jsonb, last_seen = $1,
                     gone_at = NULL
                 FROM unnest($2::bigint[], $3::text[], $4::boolean[], $5::text[])
                     AS u(id, evidence, dev, pids)
                 WHERE ci.id = u.id",
                &[
                    &now.unix_millis(),
                    &revive.0,
                    &revive.1,
                    &revive.2,
                    &revive.3,
                ],
            )?;
        }
        let mut inserted: HashMap<(i64, Option<i64>, String), i64> = HashMap::new();
        if !insert.0.is_empty() {
            for row in c.query(
                "insert instances",
                "INSERT INTO component_instances
                     (component_id, host_id, container_ref, path, evidence, dev, pids, first_seen, last_seen)
                 SELECT u.component_id, $1, u.container_ref, u.path, u.evidence, u.dev, u.pids::jsonb, $2, $2
                 FROM unnest($3::bigint[], $4::bigint[], $5::text[], $6::text[], $7::boolean[], $8::text[])
                     AS u(component_id, container_ref, path, evidence, dev, pids)
                 RETURNING id, component_id, container_ref, path",
                &[
                    &host_id.0,
                    &now.unix_millis(),
                    &insert.0,
                    &insert.1,
                    &insert.2,
                    &insert.3,
                    &insert.4,
                    &insert.5,
                ],
            )? {
                inserted.insert(
                    (get(&row, 1)?, get(&row, 2)?, get(&row, 3)?),
                    get(&row, 0)?,
                );
            }
        }
        let mut window_ids = Vec::with_capacity(placed.len());
        for ((a, component), revived) in diff.added.into_iter().zip(components).zip(placed) {
            let m = &a.merged;
            let (id, first_seen) = match revived {
                Some((id, first_seen)) => (id, Timestamp::from_unix_millis(first_seen)),
                None => {
                    let identity = (component.0.0, m.container, m.input.path.clone());
                    let id = inserted.get(&identity).copied().ok_or_else(|| {
                        bad_value(
                            "component_instances",
                            "id",
                            &m.input.path,
                            "missing after insert",
                        )
                    })?;
                    (id, now)
                }
            };
            window_ids.push(id);
            outcome
                .new
                .push(records.added(m, a.pids, id, component, first_seen));
        }
        c.execute(
            "open exposure windows",
            "INSERT INTO exposure_windows (instance_id, from_ts)
             SELECT id, $2 FROM unnest($1::bigint[]) AS u(id)",
            &[&window_ids, &now.unix_millis()],
        )?;
    }

    if !diff.gone.is_empty() {
        let ids: Vec<i64> = diff.gone.iter().map(|r| r.id).collect();
        c.execute(
            "mark instances gone",
            "UPDATE component_instances SET gone_at = $2, last_seen = $3 WHERE id = ANY($1)",
            &[&ids, &now.unix_millis(), &last_report.unix_millis()],
        )?;
        c.execute(
            "close exposure windows",
            "UPDATE exposure_windows SET to_ts = $2 WHERE instance_id = ANY($1) AND to_ts IS NULL",
            &[&ids, &now.unix_millis()],
        )?;
    }
    outcome.gone = records.gone(&diff.gone, now, last_report)?;
    Ok(outcome)
}

/// Present instances of the packages `keys` name (any version), across all hosts: for each
/// distinct key in order, its instances by id.
pub(crate) fn instances_for_keys(tx: &Tx, keys: &[PackageKey]) -> Result<Vec<InstanceRecord>> {
    let mut seen = HashSet::new();
    let unique: Vec<&PackageKey> = keys.iter().filter(|k| seen.insert(*k)).collect();
    if unique.is_empty() {
        return Ok(Vec::new());
    }
    let kinds: Vec<&str> = unique.iter().map(|k| k.ecosystem.kind().as_str()).collect();
    let names: Vec<&str> = unique.iter().map(|k| k.name_key.as_str()).collect();
    let mut c = tx.conn()?;
    let rows = c.query(
        "read instances",
        &format!(
            "SELECT u.i, {INSTANCE_COLUMNS}
             FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS u(kind, name_key, i)
             JOIN components c ON c.ecosystem_kind = u.kind AND c.name_key = u.name_key
             JOIN component_instances ci ON ci.component_id = c.id AND ci.gone_at IS NULL
             JOIN hosts h ON h.id = ci.host_id
             LEFT JOIN containers ct ON ct.id = ci.container_ref
             ORDER BY u.i, ci.id"
        ),
        &[&kinds, &names],
    )?;
    let mut out = Vec::new();
    for row in &rows {
        let position: i64 = get(row, 0)?;
        let Some(key) = usize::try_from(position - 1)
            .ok()
            .and_then(|p| unique.get(p))
        else {
            continue;
        };
        let record = instance_from_row(row, 1)?;
        if ecosystem_covers(&key.ecosystem, &record.component.ecosystem) {
            out.push(record);
        }
    }
    Ok(out)
}

/// Instances of one component on one entity (the host itself, or one container).
pub(crate) fn component_instances(
    tx: &Tx,
    component: ComponentId,
    entity: Entity,
    include_gone: bool,
) -> Result<Vec<InstanceRecord>> {
    let (filter, id) = match (entity, include_gone) {
        (Entity::Host(host), false) => (
            "ci.component_id = $1 AND ci.host_id = $2 AND ci.container_ref IS NULL \
             AND ci.gone_at IS NULL ORDER BY ci.id",
            host.0,
        ),
        (Entity::Host(host), true) => (
            "ci.component_id = $1 AND ci.host_id = $2 AND ci.container_ref IS NULL ORDER BY ci.id",
            host.0,
        ),
        (Entity::Container(key), false) => (
            "ci.component_id = $1 AND ci.container_ref = $2 AND ci.gone_at IS NULL ORDER BY ci.id",
            key.0,
        ),
        (Entity::Container(key), true) => (
            "ci.component_id = $1 AND ci.container_ref = $2 ORDER BY ci.id",
            key.0,
        ),
    };
    query_instances(&mut *tx.conn()?, filter, &[&component.0, &id])
}

/// Instances on one host.
pub(crate) fn instances_on_host(
    tx: &Tx,
    host: HostId,
    include_gone: bool,
) -> Result<Vec<InstanceRecord>> {
    let filter = if include_gone {
        "ci.host_id = $1 ORDER BY ci.id"
    } else {
        "ci.host_id = $1 AND ci.gone_at IS NULL ORDER BY ci.id"
    };
    query_instances(&mut *tx.conn()?, filter, &[&host.0])
}

/// Every instance, present or gone, of a package (optionally one version) with its windows.
pub(crate) fn exposures(tx: &Tx, key: &PackageKey, version: Option<&str>) -> Result<Vec<Exposure>> {
    let mut c = tx.conn()?;
    let records: Vec<InstanceRecord> = query_instances(
        &mut c,
        "c.ecosystem_kind = $1 AND c.name_key = $2 AND ($3::text IS NULL OR c.version = $3) ORDER BY ci.id",
        &[&key.ecosystem.kind().as_str(), &key.name_key, &version],
    )?
    .into_iter()
    .filter(|r| ecosystem_covers(&key.ecosystem, &r.component.ecosystem))
    .collect();
    let ids: Vec<i64> = records.iter().map(|r| r.id.0).collect();
    let mut windows: HashMap<i64, Vec<ExposureWindow>> = HashMap::new();
    for row in c.query(
        "read exposure windows",
        "SELECT instance_id, from_ts, to_ts FROM exposure_windows
         WHERE instance_id = ANY($1) ORDER BY instance_id, from_ts, id",
        &[&ids],
    )? {
        windows
            .entry(get(&row, 0)?)
            .or_default()
            .push(ExposureWindow {
                from: Timestamp::from_unix_millis(get(&row, 1)?),
                to: get::<Option<i64>>(&row, 2)?.map(Timestamp::from_unix_millis),
            });
    }
    Ok(records
        .into_iter()
        .map(|instance| Exposure {
            windows: windows.remove(&instance.id.0).unwrap_or_default(),
            instance,
        })
        .collect())
}

/// Forgets ingest-log entries applied before `before`, keeping each host's latest.
pub(crate) fn prune_ingest_log(tx: &Tx, before: Timestamp) -> Result<u64> {
    tx.conn()?.execute(
        "prune ingest log",
        "DELETE FROM ingest_log l USING hosts h
         WHERE h.id = l.host_id AND l.applied_at < $1 AND l.sequence < coalesce(h.last_sequence, 0)",
        &[&before.unix_millis()],
    )
}
