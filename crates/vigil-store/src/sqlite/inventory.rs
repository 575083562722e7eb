//! Hosts, containers, processes and component instances; applying snapshots.
//!
//! `apply_snapshot` cost: one indexed read of the host's present instances (O(n) rows), a
//! hash-map diff against the snapshot (`crate::apply`, shared with PostgreSQL; this file reads
//! the rows and writes), and writes only for what changed — an unchanged
//! snapshot writes two rows (host, ingest log). A present row's `last_seen` is not rewritten
//! on every report: it is its host's `last_seen` (see SCHEMA.md), stored on the row only once
//! the row is gone.

use std::collections::{BTreeMap, HashMap, HashSet};

use rusqlite::{Connection, OptionalExtension, Row, params};
use vigil_core::Component;
use vigil_core::osv::ecosystem_covers;

use super::db;
use crate::apply::{
    ContainerState, PresentProcesses, PresentRow, Records, diff_instances, instance_ecosystems,
    listening_sockets, reconcile_containers, reconcile_processes,
};
use crate::codec::{
    component_from, from_json, opt_ts, parse_evidence, pids_array, pids_from_json, to_i64, to_json,
};
use crate::error::Result;
use crate::finding::Entity;
use crate::inventory::{
    ComponentId, ContainerInfo, ContainerKey, ContainerSummary, Exposure, ExposureWindow, HostId,
    HostInfo, HostRecord, InstanceId, InstanceRecord, PackageKey, ProcessInfo, Snapshot,
    SnapshotKind, SnapshotOutcome,
};
use crate::time::Timestamp;

/// Selects every column of an [`InstanceRecord`]; decode with [`instance_from_row`].
const INSTANCE_SELECT: &str = "SELECT ci.id, ci.component_id, c.ecosystem, c.name, c.version, c.purl, \
     ci.host_id, h.name, h.last_seen, ct.id, ct.container_id, ct.name, ct.image, ct.k8s_namespace, \
     ct.k8s_workload, ci.path, ci.evidence, ci.dev, ci.pids, ci.first_seen, ci.last_seen, ci.gone_at \
     FROM component_instances ci \
     JOIN components c ON c.id = ci.component_id \
     JOIN hosts h ON h.id = ci.host_id \
     LEFT JOIN containers ct ON ct.id = ci.container_ref";

/// Reads column `idx`, mapping driver errors.
pub(crate) fn get<T: rusqlite::types::FromSql>(row: &Row<'_>, idx: usize) -> Result<T> {
    row.get(idx).map_err(db("decode row"))
}

/// A container summary from nullable joined columns starting at `first`
/// (id, container_id, name, image, k8s_namespace, k8s_workload).
pub(crate) fn container_summary_at(
    row: &Row<'_>,
    first: usize,
) -> Result<Option<ContainerSummary>> {
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

fn instance_from_row(row: &Row<'_>) -> Result<InstanceRecord> {
    let id: i64 = get(row, 0)?;
    let host_last_seen: i64 = get(row, 8)?;
    let stored_last_seen: i64 = get(row, 20)?;
    let gone_at: Option<i64> = get(row, 21)?;
    Ok(InstanceRecord {
        id: InstanceId(id),
        component_id: ComponentId(get(row, 1)?),
        component: component_from(
            &get::<String>(row, 2)?,
            &get::<String>(row, 3)?,
            get(row, 4)?,
        ),
        purl: get(row, 5)?,
        host_id: HostId(get(row, 6)?),
        host_name: get(row, 7)?,
        container: container_summary_at(row, 9)?,
        path: get(row, 15)?,
        evidence: parse_evidence("component_instances", id, &get::<String>(row, 16)?)?,
        dev: get(row, 17)?,
        pids: pids_from_json("component_instances", id, &get::<String>(row, 18)?)?,
        first_seen: Timestamp::from_unix_millis(get(row, 19)?),
        last_seen: Timestamp::from_unix_millis(if gone_at.is_some() {
            stored_last_seen
        } else {
            host_last_seen
        }),
        gone_at: opt_ts(gone_at),
    })
}

fn query_instances(
    conn: &Connection,
    filter: &str,
    params: impl rusqlite::Params,
) -> Result<Vec<InstanceRecord>> {
    let sql = format!("{INSTANCE_SELECT} WHERE {filter}");
    let mut stmt = conn.prepare_cached(&sql).map_err(db("read instances"))?;
    let mut rows = stmt.query(params).map_err(db("read instances"))?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(db("read instances"))? {
        out.push(instance_from_row(row)?);
    }
    Ok(out)
}

/// Inserts or refreshes a host; `last_seen` only moves forward.
pub(crate) fn upsert_host(conn: &Connection, host: &HostInfo, now: Timestamp) -> Result<HostId> {
    let labels = to_json("host labels", &host.labels)?;
    conn.prepare_cached(
        "INSERT INTO hosts (name, os_name, os_version, arch, agent_version, labels, first_seen, last_seen)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)
         ON CONFLICT (name) DO UPDATE SET
             os_name = excluded.os_name, os_version = excluded.os_version, arch = excluded.arch,
             agent_version = excluded.agent_version, labels = excluded.labels,
             last_seen = max(last_seen, excluded.last_seen)
         RETURNING id",
    )
    .and_then(|mut stmt| {
        stmt.query_row(
            params![
                host.name,
                host.os_name,
                host.os_version,
                host.arch,
                host.agent_version,
                labels,
                now.unix_millis()
            ],
            |row| row.get(0),
        )
    })
    .map(HostId)
    .map_err(db("upsert host"))
}

fn host_from_row(row: &Row<'_>) -> Result<HostRecord> {
    let id: i64 = get(row, 0)?;
    let labels: BTreeMap<String, String> =
        from_json("hosts", "labels", id, &get::<String>(row, 6)?)?;
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

const HOST_SELECT: &str = "SELECT id, name, os_name, os_version, arch, agent_version, labels, \
                           first_seen, last_seen, last_sequence FROM hosts";

/// One host by name.
pub(crate) fn host(conn: &Connection, name: &str) -> Result<Option<HostRecord>> {
    let mut stmt = conn
        .prepare_cached(&format!("{HOST_SELECT} WHERE name = ?1"))
        .map_err(db("read host"))?;
    let mut rows = stmt.query([name]).map_err(db("read host"))?;
    match rows.next().map_err(db("read host"))? {
        Some(row) => Ok(Some(host_from_row(row)?)),
        None => Ok(None),
    }
}

/// Every host, by name.
pub(crate) fn hosts(conn: &Connection) -> Result<Vec<HostRecord>> {
    let mut stmt = conn
        .prepare_cached(&format!("{HOST_SELECT} ORDER BY name"))
        .map_err(db("read hosts"))?;
    let mut rows = stmt.query([]).map_err(db("read hosts"))?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(db("read hosts"))? {
        out.push(host_from_row(row)?);
    }
    Ok(out)
}

/// A component's row id, if stored.
pub(crate) fn component_id(
    conn: &Connection,
    component: &Component,
) -> Result<Option<ComponentId>> {
    conn.prepare_cached(
        "SELECT id FROM components WHERE ecosystem = ?1 AND name_key = ?2 AND version = ?3",
    )
    .and_then(|mut stmt| {
        stmt.query_row(
            params![
                component.ecosystem.to_string(),
                component.name.key(),
                &*component.version
            ],
            |row| row.get(0),
        )
        .optional()
    })
    .map(|id| id.map(ComponentId))
    .map_err(db("read component"))
}

/// The row id of a component, inserting it when new. Returns (id, stored purl).
fn ensure_component(
    conn: &Connection,
    component: &Component,
    purl: Option<&str>,
) -> Result<(ComponentId, String)> {
    let ecosystem = component.ecosystem.to_string();
    let found: Option<(i64, String)> = conn
        .prepare_cached(
            "SELECT id, purl FROM components WHERE ecosystem = ?1 AND name_key = ?2 AND version = ?3",
        )
        .and_then(|mut stmt| {
            stmt.query_row(
                params![ecosystem, component.name.key(), &*component.version],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()
        })
        .map_err(db("read component"))?;
    if let Some((id, purl)) = found {
        return Ok((ComponentId(id), purl));
    }
    let purl = match purl {
        Some(purl) => purl.to_owned(),
        None => component.purl().to_string(),
    };
    conn.prepare_cached(
        "INSERT INTO components (ecosystem, ecosystem_kind, name, name_key, version, purl)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )
    .and_then(|mut stmt| {
        stmt.execute(params![
            ecosystem,
            component.ecosystem.kind().as_str(),
            component.name.as_str(),
            component.name.key(),
            &*component.version,
            purl
        ])
    })
    .map_err(db("insert component"))?;
    Ok((ComponentId(conn.last_insert_rowid()), purl))
}

/// Applies one snapshot (see the module and [`crate::inventory`] docs).
pub(crate) fn apply_snapshot(
    conn: &Connection,
    snapshot: &Snapshot,
    now: Timestamp,
) -> Result<SnapshotOutcome> {
    let sequence = to_i64("snapshot sequence", snapshot.sequence)?;
    let existing: Option<(i64, i64)> = conn
        .prepare_cached("SELECT id, last_seen FROM hosts WHERE name = ?1")
        .and_then(|mut stmt| {
            stmt.query_row([&snapshot.host.name], |row| Ok((row.get(0)?, row.get(1)?)))
                .optional()
        })
        .map_err(db("read host"))?;
    if let Some((id, _)) = existing {
        let seen: bool = conn
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM ingest_log WHERE host_id = ?1 AND sequence = ?2)",
            )
            .and_then(|mut stmt| stmt.query_row(params![id, sequence], |row| row.get(0)))
            .map_err(db("read ingest log"))?;
        if seen {
            return Ok(SnapshotOutcome {
                host_id: Some(HostId(id)),
                duplicate: true,
                ..SnapshotOutcome::default()
            });
        }
    }
    let host_id = upsert_host(conn, &snapshot.host, now)?;
    let full = matches!(snapshot.kind, SnapshotKind::Full);
    conn.prepare_cached(
        "INSERT INTO ingest_log (host_id, sequence, full_snapshot, applied_at) VALUES (?1, ?2, ?3, ?4)",
    )
    .and_then(|mut stmt| stmt.execute(params![host_id.0, sequence, full, now.unix_millis()]))
    .map_err(db("write ingest log"))?;
    conn.prepare_cached(
        "UPDATE hosts SET last_sequence = max(coalesce(last_sequence, ?2), ?2) WHERE id = ?1",
    )
    .and_then(|mut stmt| stmt.execute(params![host_id.0, sequence]))
    .map_err(db("update host"))?;
    // What a row that is gone now was last seen at: the host's previous report.
    let last_report = existing.map_or(now, |(_, last)| Timestamp::from_unix_millis(last));

    let containers = apply_containers(conn, host_id, snapshot, now, last_report)?;
    apply_processes(conn, host_id, snapshot, &containers, now, last_report)?;
    apply_instances(conn, host_id, snapshot, &containers, now, last_report)
}

fn apply_containers(
    conn: &Connection,
    host_id: HostId,
    snapshot: &Snapshot,
    now: Timestamp,
    last_report: Timestamp,
) -> Result<HashMap<String, ContainerState>> {
    let mut states: HashMap<String, ContainerState> = HashMap::new();
    {
        let mut stmt = conn
            .prepare_cached(
                "SELECT id, container_id, name, image, image_digest, runtime, k8s_namespace, k8s_pod,
                        k8s_workload, k8s_workload_kind, labels, gone_at
                 FROM containers WHERE host_id = ?1",
            )
            .map_err(db("read containers"))?;
        let mut rows = stmt.query([host_id.0]).map_err(db("read containers"))?;
        while let Some(row) = rows.next().map_err(db("read containers"))? {
            let key: i64 = get(row, 0)?;
            let info = ContainerInfo {
                id: get(row, 1)?,
                name: get(row, 2)?,
                image: get(row, 3)?,
                image_digest: get(row, 4)?,
                runtime: get(row, 5)?,
                k8s_namespace: get(row, 6)?,
                k8s_pod: get(row, 7)?,
                k8s_workload: get(row, 8)?,
                k8s_workload_kind: get(row, 9)?,
                labels: from_json("containers", "labels", key, &get::<String>(row, 10)?)?,
            };
            let gone = get::<Option<i64>>(row, 11)?.is_some();
            states.insert(info.id.clone(), ContainerState { key, info, gone });
        }
    }

    let gone = reconcile_containers(&mut states, snapshot, |key, info| {
        write_container(conn, key, host_id, info, now)
    })?;
    for key in gone {
        conn.prepare_cached("UPDATE containers SET gone_at = ?2, last_seen = ?3 WHERE id = ?1")
            .and_then(|mut stmt| {
                stmt.execute(params![key, now.unix_millis(), last_report.unix_millis()])
            })
            .map_err(db("mark container gone"))?;
    }
    Ok(states)
}

fn write_container(
    conn: &Connection,
    key: Option<i64>,
    host_id: HostId,
    info: &ContainerInfo,
    now: Timestamp,
) -> Result<i64> {
    let labels = to_json("container labels", &info.labels)?;
    let values = params![
        key,
        host_id.0,
        info.id,
        info.name,
        info.image,
        info.image_digest,
        info.runtime,
        info.k8s_namespace,
        info.k8s_pod,
        info.k8s_workload,
        info.k8s_workload_kind,
        labels,
        now.unix_millis()
    ];
    let sql = if key.is_some() {
        "UPDATE containers SET name = ?4, image = ?5, image_digest = ?6, runtime = ?7,
                k8s_namespace = ?8, k8s_pod = ?9, k8s_workload = ?10, k8s_workload_kind = ?11,
                labels = ?12, last_seen = ?13, gone_at = NULL
         WHERE id = ?1 AND host_id = ?2 AND container_id = ?3"
    } else {
        "INSERT INTO containers (id, host_id, container_id, name, image, image_digest, runtime,
                k8s_namespace, k8s_pod, k8s_workload, k8s_workload_kind, labels, first_seen, last_seen)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?13)"
    };
    conn.prepare_cached(sql)
        .and_then(|mut stmt| stmt.execute(values))
        .map_err(db("write container"))?;
    Ok(key.unwrap_or_else(|| conn.last_insert_rowid()))
}

fn apply_processes(
    conn: &Connection,
    host_id: HostId,
    snapshot: &Snapshot,
    containers: &HashMap<String, ContainerState>,
    now: Timestamp,
    last_report: Timestamp,
) -> Result<()> {
    let mut present: PresentProcesses<String> = HashMap::new();
    {
        let mut stmt = conn
            .prepare_cached(
                "SELECT id, pid, start_time, exe, cmdline, user, container_ref, listening
                 FROM processes WHERE host_id = ?1 AND gone_at IS NULL",
            )
            .map_err(db("read processes"))?;
        let mut rows = stmt.query([host_id.0]).map_err(db("read processes"))?;
        while let Some(row) = rows.next().map_err(db("read processes"))? {
            present.insert(
                (get(row, 1)?, get(row, 2)?),
                (
                    get(row, 0)?,
                    (
                        get(row, 3)?,
                        get(row, 4)?,
                        get(row, 5)?,
                        get(row, 6)?,
                        get(row, 7)?,
                    ),
                ),
            );
        }
    }
    let listening =
        |process: &ProcessInfo| to_json("listening sockets", &listening_sockets(process));
    let removed = reconcile_processes(&present, snapshot, containers, listening, |key, row| {
        conn.prepare_cached(
            "INSERT INTO processes (host_id, pid, start_time, exe, cmdline, user, container_ref,
                                    listening, first_seen, last_seen)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9)
             ON CONFLICT (host_id, pid, start_time) DO UPDATE SET
                 exe = excluded.exe, cmdline = excluded.cmdline, user = excluded.user,
                 container_ref = excluded.container_ref, listening = excluded.listening,
                 last_seen = excluded.last_seen, gone_at = NULL",
        )
        .and_then(|mut stmt| {
            stmt.execute(params![
                host_id.0,
                key.0,
                key.1,
                row.0,
                row.1,
                row.2,
                row.3,
                row.4,
                now.unix_millis()
            ])
        })
        .map_err(db("write process"))?;
        Ok(())
    })?;
    for id in removed {
        conn.prepare_cached("UPDATE processes SET gone_at = ?2, last_seen = ?3 WHERE id = ?1")
            .and_then(|mut stmt| {
                stmt.execute(params![id, now.unix_millis(), last_report.unix_millis()])
            })
            .map_err(db("mark process gone"))?;
    }
    Ok(())
}

fn present_rows(conn: &Connection, host_id: HostId) -> Result<Vec<PresentRow>> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT ci.id, c.id, c.ecosystem, c.name, c.name_key, c.version, c.purl, ci.container_ref,
                    ci.path, ci.evidence, ci.dev, ci.pids, ci.first_seen
             FROM component_instances ci JOIN components c ON c.id = ci.component_id
             WHERE ci.host_id = ?1 AND ci.gone_at IS NULL",
        )
        .map_err(db("read instances"))?;
    let mut rows = stmt.query([host_id.0]).map_err(db("read instances"))?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(db("read instances"))? {
        out.push(PresentRow {
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
        });
    }
    Ok(out)
}

fn apply_instances(
    conn: &Connection,
    host_id: HostId,
    snapshot: &Snapshot,
    containers: &HashMap<String, ContainerState>,
    now: Timestamp,
    last_report: Timestamp,
) -> Result<SnapshotOutcome> {
    let host_last_seen: i64 = conn
        .prepare_cached("SELECT last_seen FROM hosts WHERE id = ?1")
        .and_then(|mut stmt| stmt.query_row([host_id.0], |row| row.get(0)))
        .map_err(db("read host"))?;
    let records = Records::new(
        host_id,
        &snapshot.host.name,
        Timestamp::from_unix_millis(host_last_seen),
        containers,
    );
    let ecosystems = instance_ecosystems(snapshot);
    let rows = present_rows(conn, host_id)?;
    let diff = diff_instances(snapshot, &ecosystems, &rows, containers, to_json_pids);

    let mut outcome = SnapshotOutcome {
        host_id: Some(host_id),
        unchanged: diff.unchanged,
        ..SnapshotOutcome::default()
    };
    for changed in diff.changed {
        let m = &changed.merged;
        conn.prepare_cached(
            "UPDATE component_instances SET evidence = ?2, dev = ?3, pids = ?4, last_seen = ?5
             WHERE id = ?1",
        )
        .and_then(|mut stmt| {
            stmt.execute(params![
                changed.row.id,
                m.evidence.as_str(),
                m.dev,
                changed.pids_text,
                now.unix_millis()
            ])
        })
        .map_err(db("update instance"))?;
        outcome.changed.push(records.changed(changed)?);
    }

    for added in diff.added {
        let m = &added.merged;
        let (component_id, purl) =
            ensure_component(conn, &m.input.component, m.input.purl.as_deref())?;
        let revived: Option<(i64, i64)> = conn
            .prepare_cached(
                "SELECT id, first_seen FROM component_instances
                 WHERE host_id = ?1 AND ifnull(container_ref, 0) = ifnull(?2, 0)
                   AND component_id = ?3 AND path = ?4",
            )
            .and_then(|mut stmt| {
                stmt.query_row(
                    params![host_id.0, m.container, component_id.0, m.input.path],
                    |row| Ok((row.get(0)?, row.get(1)?)),
                )
                .optional()
            })
            .map_err(db("read instance"))?;
        let (id, first_seen) = match revived {
            Some((id, first_seen)) => {
                conn.prepare_cached(
                    "UPDATE component_instances
                     SET evidence = ?2, dev = ?3, pids = ?4, last_seen = ?5, gone_at = NULL
                     WHERE id = ?1",
                )
                .and_then(|mut stmt| {
                    stmt.execute(params![
                        id,
                        m.evidence.as_str(),
                        m.dev,
                        added.pids_text,
                        now.unix_millis()
                    ])
                })
                .map_err(db("revive instance"))?;
                (id, Timestamp::from_unix_millis(first_seen))
            }
            None => {
                conn.prepare_cached(
                    "INSERT INTO component_instances
                         (component_id, host_id, container_ref, path, evidence, dev, pids, first_seen, last_seen)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)",
                )
                .and_then(|mut stmt| {
                    stmt.execute(params![
                        component_id.0,
                        host_id.0,
                        m.container,
                        m.input.path,
                        m.evidence.as_str(),
                        m.dev,
                        added.pids_text,
                        now.unix_millis()
                    ])
                })
                .map_err(db("insert instance"))?;
                (conn.last_insert_rowid(), now)
            }
        };
        conn.prepare_cached("INSERT INTO exposure_windows (instance_id, from_ts) VALUES (?1, ?2)")
            .and_then(|mut stmt| stmt.execute(params![id, now.unix_millis()]))
            .map_err(db("open exposure window"))?;
        outcome
            .new
            .push(records.added(m, added.pids, id, (component_id, purl), first_seen));
    }

    for row in &diff.gone {
        conn.prepare_cached(
            "UPDATE component_instances SET gone_at = ?2, last_seen = ?3 WHERE id = ?1",
        )
        .and_then(|mut stmt| {
            stmt.execute(params![
                row.id,
                now.unix_millis(),
                last_report.unix_millis()
            ])
        })
        .map_err(db("mark instance gone"))?;
        conn.prepare_cached(
            "UPDATE exposure_windows SET to_ts = ?2 WHERE instance_id = ?1 AND to_ts IS NULL",
        )
        .and_then(|mut stmt| stmt.execute(params![row.id, now.unix_millis()]))
        .map_err(db("close exposure window"))?;
    }
    outcome.gone = records.gone(&diff.gone, now, last_report)?;
    Ok(outcome)
}

/// Pids as compact JSON, as they are stored and read back.
fn to_json_pids(pids: &[u32]) -> String {
    pids_array(pids, ",")
}

/// Present instances of the packages `keys` name (any version), across all hosts.
pub(crate) fn instances_for_keys(
    conn: &Connection,
    keys: &[PackageKey],
) -> Result<Vec<InstanceRecord>> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for key in keys {
        if !seen.insert(key) {
            continue;
        }
        let records = query_instances(
            conn,
            "c.ecosystem_kind = ?1 AND c.name_key = ?2 AND ci.gone_at IS NULL ORDER BY ci.id",
            params![key.ecosystem.kind().as_str(), key.name_key],
        )?;
        out.extend(
            records
                .into_iter()
                .filter(|r| ecosystem_covers(&key.ecosystem, &r.component.ecosystem)),
        );
    }
    Ok(out)
}

/// Instances of one component on one entity (the host itself, or one container).
pub(crate) fn component_instances(
    conn: &Connection,
    component: ComponentId,
    entity: Entity,
    include_gone: bool,
) -> Result<Vec<InstanceRecord>> {
    // Shaped for the identity index (host_id, ifnull(container_ref, 0), component_id, path).
    let (filter, id) = match (entity, include_gone) {
        (Entity::Host(host), false) => (
            "ci.host_id = ?2 AND ifnull(ci.container_ref, 0) = 0 AND ci.component_id = ?1 \
             AND ci.gone_at IS NULL ORDER BY ci.id",
            host.0,
        ),
        (Entity::Host(host), true) => (
            "ci.host_id = ?2 AND ifnull(ci.container_ref, 0) = 0 AND ci.component_id = ?1 \
             ORDER BY ci.id",
            host.0,
        ),
        (Entity::Container(key), false) => (
            "ci.host_id = (SELECT host_id FROM containers WHERE id = ?2) \
             AND ifnull(ci.container_ref, 0) = ?2 AND ci.component_id = ?1 \
             AND ci.gone_at IS NULL ORDER BY ci.id",
            key.0,
        ),
        (Entity::Container(key), true) => (
            "ci.host_id = (SELECT host_id FROM containers WHERE id = ?2) \
             AND ifnull(ci.container_ref, 0) = ?2 AND ci.component_id = ?1 ORDER BY ci.id",
            key.0,
        ),
    };
    query_instances(conn, filter, params![component.0, id])
}

/// Instances on one host.
pub(crate) fn instances_on_host(
    conn: &Connection,
    host: HostId,
    include_gone: bool,
) -> Result<Vec<InstanceRecord>> {
    let filter = if include_gone {
        "ci.host_id = ?1 ORDER BY ci.id"
    } else {
        "ci.host_id = ?1 AND ci.gone_at IS NULL ORDER BY ci.id"
    };
    query_instances(conn, filter, [host.0])
}

/// Every instance, present or gone, of a package (optionally one version) with its windows.
pub(crate) fn exposures(
    conn: &Connection,
    key: &PackageKey,
    version: Option<&str>,
) -> Result<Vec<Exposure>> {
    let records = query_instances(
        conn,
        "c.ecosystem_kind = ?1 AND c.name_key = ?2 AND (?3 IS NULL OR c.version = ?3) ORDER BY ci.id",
        params![key.ecosystem.kind().as_str(), key.name_key, version],
    )?;
    let mut stmt = conn
        .prepare_cached(
            "SELECT from_ts, to_ts FROM exposure_windows WHERE instance_id = ?1 ORDER BY from_ts, id",
        )
        .map_err(db("read exposure windows"))?;
    let mut out = Vec::new();
    for instance in records {
        if !ecosystem_covers(&key.ecosystem, &instance.component.ecosystem) {
            continue;
        }
        let windows = stmt
            .query_map([instance.id.0], |row| {
                Ok(ExposureWindow {
                    from: Timestamp::from_unix_millis(row.get(0)?),
                    to: row
                        .get::<_, Option<i64>>(1)?
                        .map(Timestamp::from_unix_millis),
                })
            })
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(db("read exposure windows"))?;
        out.push(Exposure { instance, windows });
    }
    Ok(out)
}

/// Forgets ingest-log entries applied before `before`, keeping each host's latest.
pub(crate) fn prune_ingest_log(conn: &Connection, before: Timestamp) -> Result<u64> {
    let n = conn
        .execute(
            "DELETE FROM ingest_log WHERE applied_at < ?1
               AND sequence < (SELECT coalesce(last_sequence, 0) FROM hosts WHERE hosts.id = ingest_log.host_id)",
            [before.unix_millis()],
        )
        .map_err(db("prune ingest log"))?;
    Ok(n as u64)
}
