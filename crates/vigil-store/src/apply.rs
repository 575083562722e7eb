//! Applying a snapshot: the half both backends share.
//!
//! `sqlite/inventory.rs` and `postgres/inventory.rs` read the host's stored containers,
//! processes and present instances, call in here to decide what the snapshot changes, and
//! write what they are told — SQLite one statement at a time, PostgreSQL in batches. What is
//! decided here (which containers are written or gone, which processes changed, how a
//! snapshot's duplicate instances merge, which instances are new, changed, unchanged or gone,
//! and the records the outcome reports) therefore cannot drift apart between the backends.
//! Nothing here touches a database.

use std::collections::{HashMap, HashSet};

use serde_json::{Value, json};
use vigil_core::Evidence;

use crate::codec::{component_from, normalize_pids, parse_evidence, pids_from_json};
use crate::error::Result;
use crate::inventory::{
    ComponentId, ContainerInfo, ContainerKey, ContainerSummary, HostId, InstanceId, InstanceInput,
    InstanceRecord, ProcessInfo, Snapshot, SnapshotKind,
};
use crate::time::Timestamp;

/// The state of one of the host's containers during a snapshot.
pub(crate) struct ContainerState {
    /// Row id.
    pub(crate) key: i64,
    /// What is stored (after the snapshot: what was written).
    pub(crate) info: ContainerInfo,
    /// Marked gone.
    pub(crate) gone: bool,
}

impl ContainerState {
    fn summary(&self) -> ContainerSummary {
        ContainerSummary {
            key: ContainerKey(self.key),
            id: self.info.id.clone(),
            name: self.info.name.clone(),
            image: self.info.image.clone(),
            k8s_namespace: self.info.k8s_namespace.clone(),
            k8s_workload: self.info.k8s_workload.clone(),
        }
    }
}

/// Brings the host's containers (`states`: as stored, by runtime id) in line with the
/// snapshot. Each container listed, or referenced by an instance or a process, is written
/// when it is new, changed or was gone: `write(key, info)` updates row `key`, or inserts when
/// `key` is `None` and returns the new row id. Returns the row ids of the containers the
/// snapshot finds gone (already marked so in `states`), for the caller to store.
pub(crate) fn reconcile_containers(
    states: &mut HashMap<String, ContainerState>,
    snapshot: &Snapshot,
    mut write: impl FnMut(Option<i64>, &ContainerInfo) -> Result<i64>,
) -> Result<Vec<i64>> {
    let mut present: HashSet<String> = HashSet::new();
    let referenced = snapshot
        .instances
        .iter()
        .filter_map(|i| i.container_id.as_deref())
        .chain(
            snapshot
                .processes
                .iter()
                .filter_map(|p| p.container_id.as_deref()),
        );
    let listed = snapshot.containers.iter().map(|c| (c, true));
    let implied: Vec<ContainerInfo> = referenced
        .filter(|id| !snapshot.containers.iter().any(|c| c.id == *id))
        .map(|id| ContainerInfo {
            id: id.to_owned(),
            ..ContainerInfo::default()
        })
        .collect();
    for (info, is_listed) in listed.chain(implied.iter().map(|c| (c, false))) {
        if !present.insert(info.id.clone()) {
            continue;
        }
        match states.get_mut(&info.id) {
            Some(state) => {
                // A container only referenced keeps what is known about it.
                let wanted = if is_listed {
                    info.clone()
                } else {
                    state.info.clone()
                };
                if state.gone || state.info != wanted {
                    write(Some(state.key), &wanted)?;
                    state.info = wanted;
                    state.gone = false;
                }
            }
            None => {
                let key = write(None, info)?;
                states.insert(
                    info.id.clone(),
                    ContainerState {
                        key,
                        info: info.clone(),
                        gone: false,
                    },
                );
            }
        }
    }

    let removed: Vec<String> = match &snapshot.kind {
        SnapshotKind::Full => states
            .iter()
            .filter(|(id, s)| !s.gone && !present.contains(*id))
            .map(|(id, _)| id.clone())
            .collect(),
        SnapshotKind::Delta(removals) => removals
            .containers
            .iter()
            .filter(|id| !present.contains(*id))
            .cloned()
            .collect(),
    };
    let mut gone = Vec::new();
    for id in removed {
        if let Some(state) = states.get_mut(&id).filter(|s| !s.gone) {
            gone.push(state.key);
            state.gone = true;
        }
    }
    Ok(gone)
}

/// A process row's mutable columns: exe, cmdline, user, container row, and the listening
/// sockets as the backend stores them (`L`: JSON text on SQLite, a JSON value on PostgreSQL).
pub(crate) type ProcessColumns<L> = (
    Option<String>,
    Option<String>,
    Option<String>,
    Option<i64>,
    L,
);

/// The host's present processes by (pid, start time): (row id, columns).
pub(crate) type PresentProcesses<L> = HashMap<(i64, i64), (i64, ProcessColumns<L>)>;

/// A process's listening sockets, sorted and unique, as the JSON array the store keeps.
pub(crate) fn listening_sockets(process: &ProcessInfo) -> Value {
    let mut sockets = process.listening.clone();
    sockets.sort();
    sockets.dedup();
    Value::Array(
        sockets
            .iter()
            .map(|s| json!({"protocol": s.protocol, "address": s.address, "port": s.port}))
            .collect(),
    )
}

/// Brings the host's processes (`present`) in line with the snapshot: each process listed
/// that is new or differs from its row is written (`write((pid, start time), columns)`, an
/// upsert that also revives a gone row). Returns the row ids of the processes the snapshot
/// finds gone, for the caller to store.
pub(crate) fn reconcile_processes<L: PartialEq>(
    present: &PresentProcesses<L>,
    snapshot: &Snapshot,
    containers: &HashMap<String, ContainerState>,
    listening: impl Fn(&ProcessInfo) -> Result<L>,
    mut write: impl FnMut((i64, i64), &ProcessColumns<L>) -> Result<()>,
) -> Result<Vec<i64>> {
    let mut listed: HashSet<(i64, i64)> = HashSet::new();
    for process in &snapshot.processes {
        let key = (i64::from(process.pid), process.start_time.unix_millis());
        if !listed.insert(key) {
            continue;
        }
        let container_ref = process
            .container_id
            .as_ref()
            .and_then(|id| containers.get(id))
            .map(|s| s.key);
        let columns: ProcessColumns<L> = (
            process.exe.clone(),
            process.cmdline.clone(),
            process.user.clone(),
            container_ref,
            listening(process)?,
        );
        if present
            .get(&key)
            .is_some_and(|(_, stored)| *stored == columns)
        {
            continue;
        }
        write(key, &columns)?;
    }
    Ok(match &snapshot.kind {
        SnapshotKind::Full => present
            .iter()
            .filter(|(key, _)| !listed.contains(*key))
            .map(|(_, (id, _))| *id)
            .collect(),
        SnapshotKind::Delta(removals) => removals
            .processes
            .iter()
            .map(|(pid, start)| (i64::from(*pid), start.unix_millis()))
            .filter(|key| !listed.contains(key))
            .filter_map(|key| present.get(&key).map(|(id, _)| *id))
            .collect(),
    })
}

/// A present instance as the diff needs it: identity and the mutable attributes, plus what a
/// record needs should it turn out changed or gone. Decoding stays lazy (no component parsing,
/// no JSON) because most rows of most snapshots are unchanged.
pub(crate) struct PresentRow {
    pub(crate) id: i64,
    pub(crate) component_id: i64,
    pub(crate) ecosystem: String,
    pub(crate) name: String,
    pub(crate) name_key: String,
    pub(crate) version: String,
    pub(crate) purl: String,
    pub(crate) container: Option<i64>,
    pub(crate) path: String,
    pub(crate) evidence: String,
    pub(crate) dev: bool,
    /// The JSON array as the backend prints it: compared as text with what the backend's
    /// `pids_text` makes of the snapshot's pids.
    pub(crate) pids: String,
    pub(crate) first_seen: i64,
}

/// Borrowed instance identity: (ecosystem, name key, version, container row, path).
type IdentityRef<'a> = (&'a str, &'a str, &'a str, Option<i64>, &'a str);

/// One snapshot instance after merging duplicates.
pub(crate) struct Merged<'a> {
    pub(crate) input: &'a InstanceInput,
    /// The component's ecosystem as stored (`Ecosystem::to_string`).
    pub(crate) ecosystem: &'a str,
    /// Its container's row.
    pub(crate) container: Option<i64>,
    pub(crate) evidence: Evidence,
    pub(crate) dev: bool,
    /// Every pid the duplicates listed (not normalized).
    pub(crate) pids: Vec<u32>,
}

/// A present instance whose evidence, dev flag or processes the snapshot changes.
pub(crate) struct Changed<'a> {
    pub(crate) row: &'a PresentRow,
    pub(crate) merged: Merged<'a>,
    /// Sorted, unique.
    pub(crate) pids: Vec<u32>,
    /// `pids` as the backend stores them.
    pub(crate) pids_text: String,
}

/// An instance not present on the host: inserted, or revived when a gone row has its identity.
pub(crate) struct Added<'a> {
    pub(crate) merged: Merged<'a>,
    /// Sorted, unique.
    pub(crate) pids: Vec<u32>,
    /// `pids` as the backend stores them.
    pub(crate) pids_text: String,
}

/// What a snapshot does to the host's instances. `changed` and `added` are in snapshot order.
pub(crate) struct InstanceDiff<'a> {
    pub(crate) changed: Vec<Changed<'a>>,
    pub(crate) added: Vec<Added<'a>>,
    /// Present rows the snapshot finds gone (a full snapshot: every one not listed; a delta:
    /// those its removals name and it does not list).
    pub(crate) gone: Vec<&'a PresentRow>,
    /// Listed and unchanged: nothing to write.
    pub(crate) unchanged: usize,
}

/// The stored spelling of each snapshot instance's ecosystem, in snapshot order: the
/// identity keys of [`diff_instances`] borrow from it.
pub(crate) fn instance_ecosystems(snapshot: &Snapshot) -> Vec<String> {
    snapshot
        .instances
        .iter()
        .map(|i| i.component.ecosystem.to_string())
        .collect()
}

/// Diffs the snapshot's instances against the host's present rows. Duplicates within the
/// snapshot (same identity) merge first: strongest evidence, all pids, dev only if all are.
/// `ecosystems` is [`instance_ecosystems`] of the snapshot; `pids_text` prints sorted pids as
/// the backend stores them, so unchanged rows are found without decoding.
pub(crate) fn diff_instances<'a>(
    snapshot: &'a Snapshot,
    ecosystems: &'a [String],
    rows: &'a [PresentRow],
    containers: &HashMap<String, ContainerState>,
    pids_text: impl Fn(&[u32]) -> String,
) -> InstanceDiff<'a> {
    let container_key =
        |id: &Option<String>| id.as_ref().and_then(|id| containers.get(id)).map(|s| s.key);

    // Owned strings the borrowed identity keys below point into; declared before the map.
    let removal_ecosystems: Vec<String> = match &snapshot.kind {
        SnapshotKind::Full => Vec::new(),
        SnapshotKind::Delta(removals) => removals
            .instances
            .iter()
            .map(|k| k.component.ecosystem.to_string())
            .collect(),
    };
    let mut present: HashMap<IdentityRef<'_>, &'a PresentRow> = rows
        .iter()
        .map(|r| {
            let key = (
                r.ecosystem.as_str(),
                r.name_key.as_str(),
                r.version.as_str(),
                r.container,
                r.path.as_str(),
            );
            (key, r)
        })
        .collect();

    let mut merged: Vec<Merged<'a>> = Vec::with_capacity(snapshot.instances.len());
    let mut index: HashMap<IdentityRef<'a>, usize> =
        HashMap::with_capacity(snapshot.instances.len());
    for (input, ecosystem) in snapshot.instances.iter().zip(ecosystems) {
        let container = container_key(&input.container_id);
        let key = (
            ecosystem.as_str(),
            input.component.name.key(),
            &*input.component.version,
            container,
            input.path.as_str(),
        );
        match index.get(&key).and_then(|&i| merged.get_mut(i)) {
            Some(m) => {
                m.evidence = m.evidence.max(input.evidence);
                m.dev &= input.dev;
                m.pids.extend_from_slice(&input.pids);
            }
            None => {
                index.insert(key, merged.len());
                merged.push(Merged {
                    input,
                    ecosystem,
                    container,
                    evidence: input.evidence,
                    dev: input.dev,
                    pids: input.pids.clone(),
                });
            }
        }
    }

    let mut diff = InstanceDiff {
        changed: Vec::new(),
        added: Vec::new(),
        gone: Vec::new(),
        unchanged: 0,
    };
    for m in merged {
        let pids = normalize_pids(&m.pids);
        let text = pids_text(&pids);
        let key = (
            m.ecosystem,
            m.input.component.name.key(),
            &*m.input.component.version,
            m.container,
            m.input.path.as_str(),
        );
        match present.remove(&key) {
            Some(row)
                if row.evidence == m.evidence.as_str() && row.dev == m.dev && row.pids == text =>
            {
                diff.unchanged += 1;
            }
            Some(row) => diff.changed.push(Changed {
                row,
                merged: m,
                pids,
                pids_text: text,
            }),
            None => diff.added.push(Added {
                merged: m,
                pids,
                pids_text: text,
            }),
        }
    }

    diff.gone = match &snapshot.kind {
        SnapshotKind::Full => present.into_values().collect(),
        SnapshotKind::Delta(removals) => {
            let mut gone = Vec::new();
            for (k, ecosystem) in removals.instances.iter().zip(&removal_ecosystems) {
                let key = (
                    ecosystem.as_str(),
                    k.component.name.key(),
                    &*k.component.version,
                    container_key(&k.container_id),
                    k.path.as_str(),
                );
                gone.extend(present.remove(&key));
            }
            gone
        }
    };
    diff
}

/// Builds the records a snapshot's outcome reports about one host's instances.
pub(crate) struct Records<'a> {
    host_id: HostId,
    host_name: &'a str,
    /// The host's `last_seen` after this snapshot: a present instance's `last_seen`.
    host_last_seen: Timestamp,
    summaries: HashMap<i64, ContainerSummary>,
}

impl<'a> Records<'a> {
    /// For the host `host_id` named `host_name`, whose containers are `containers`.
    pub(crate) fn new(
        host_id: HostId,
        host_name: &'a str,
        host_last_seen: Timestamp,
        containers: &HashMap<String, ContainerState>,
    ) -> Records<'a> {
        Records {
            host_id,
            host_name,
            host_last_seen,
            summaries: containers.values().map(|s| (s.key, s.summary())).collect(),
        }
    }

    fn summary(&self, key: Option<i64>) -> Option<ContainerSummary> {
        key.and_then(|key| self.summaries.get(&key)).cloned()
    }

    /// A present row as stored; `pids` when already decoded.
    fn present(&self, row: &PresentRow, pids: Option<Vec<u32>>) -> Result<InstanceRecord> {
        Ok(InstanceRecord {
            id: InstanceId(row.id),
            component_id: ComponentId(row.component_id),
            component: component_from(&row.ecosystem, &row.name, row.version.clone()),
            purl: row.purl.clone(),
            host_id: self.host_id,
            host_name: self.host_name.to_owned(),
            container: self.summary(row.container),
            path: row.path.clone(),
            evidence: parse_evidence("component_instances", row.id, &row.evidence)?,
            dev: row.dev,
            pids: match pids {
                Some(pids) => pids,
                None => pids_from_json("component_instances", row.id, &row.pids)?,
            },
            first_seen: Timestamp::from_unix_millis(row.first_seen),
            last_seen: self.host_last_seen,
            gone_at: None,
        })
    }

    /// A changed instance, as the snapshot leaves it.
    pub(crate) fn changed(&self, changed: Changed<'_>) -> Result<InstanceRecord> {
        let mut record = self.present(changed.row, Some(changed.pids))?;
        record.evidence = changed.merged.evidence;
        record.dev = changed.merged.dev;
        Ok(record)
    }

    /// An added instance, stored as row `id` (first seen at `first_seen`: now, or when a
    /// revived row first appeared) of component `component_id` with `purl`.
    pub(crate) fn added(
        &self,
        merged: &Merged<'_>,
        pids: Vec<u32>,
        id: i64,
        (component_id, purl): (ComponentId, String),
        first_seen: Timestamp,
    ) -> InstanceRecord {
        InstanceRecord {
            id: InstanceId(id),
            component_id,
            component: merged.input.component.clone(),
            purl,
            host_id: self.host_id,
            host_name: self.host_name.to_owned(),
            container: self.summary(merged.container),
            path: merged.input.path.clone(),
            evidence: merged.evidence,
            dev: merged.dev,
            pids,
            first_seen,
            last_seen: self.host_last_seen,
            gone_at: None,
        }
    }

    /// The gone instances, by id: found gone `now`, last seen at the host's previous report.
    pub(crate) fn gone(
        &self,
        rows: &[&PresentRow],
        now: Timestamp,
        last_report: Timestamp,
    ) -> Result<Vec<InstanceRecord>> {
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let mut record = self.present(row, None)?;
            record.gone_at = Some(now);
            record.last_seen = last_report;
            out.push(record);
        }
        out.sort_by_key(|r| r.id);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use vigil_core::{Component, Ecosystem};

    use super::*;
    use crate::inventory::{HostInfo, InstanceKey, Removals};

    fn input(name: &str, evidence: Evidence, dev: bool, pids: &[u32]) -> InstanceInput {
        InstanceInput {
            component: Component::new(Ecosystem::parse("npm"), name, "1.0.0"),
            purl: None,
            container_id: None,
            path: format!("/app/node_modules/{name}"),
            evidence,
            dev,
            pids: pids.to_vec(),
        }
    }

    fn row(id: i64, name: &str, evidence: &str, pids: &str) -> PresentRow {
        PresentRow {
            id,
            component_id: id,
            ecosystem: "npm".into(),
            name: name.into(),
            name_key: name.into(),
            version: "1.0.0".into(),
            purl: format!("pkg:npm/{name}@1.0.0"),
            container: None,
            path: format!("/app/node_modules/{name}"),
            evidence: evidence.into(),
            dev: false,
            pids: pids.into(),
            first_seen: 0,
        }
    }

    fn snapshot(kind: SnapshotKind, instances: Vec<InstanceInput>) -> Snapshot {
        Snapshot {
            host: HostInfo::default(),
            sequence: 1,
            kind,
            containers: Vec::new(),
            processes: Vec::new(),
            instances,
        }
    }

    fn text(pids: &[u32]) -> String {
        format!("{pids:?}")
    }

    #[test]
    fn duplicates_merge_to_the_strongest_evidence_all_pids_and_dev_only_if_all_are() {
        let snap = snapshot(
            SnapshotKind::Full,
            vec![
                input("a", Evidence::Installed, true, &[7, 3]),
                input("a", Evidence::Loaded, false, &[3, 5]),
                input("a", Evidence::Declared, true, &[]),
            ],
        );
        let ecosystems = instance_ecosystems(&snap);
        let diff = diff_instances(&snap, &ecosystems, &[], &HashMap::new(), text);
        assert_eq!(diff.added.len(), 1);
        let added = &diff.added[0];
        assert_eq!(added.merged.evidence, Evidence::Loaded);
        assert!(!added.merged.dev);
        assert_eq!(added.pids, [3, 5, 7]);
        assert_eq!(added.pids_text, "[3, 5, 7]");
    }

    #[test]
    fn rows_sort_into_unchanged_changed_and_gone() {
        let rows = [
            row(1, "same", "INSTALLED", "[]"),
            row(2, "loaded-now", "INSTALLED", "[]"),
            row(3, "left", "INSTALLED", "[]"),
        ];
        let listed = vec![
            input("same", Evidence::Installed, false, &[]),
            input("loaded-now", Evidence::Loaded, false, &[9]),
            input("new", Evidence::Installed, false, &[]),
        ];
        let full = snapshot(SnapshotKind::Full, listed.clone());
        let ecosystems = instance_ecosystems(&full);
        let diff = diff_instances(&full, &ecosystems, &rows, &HashMap::new(), text);
        assert_eq!(diff.unchanged, 1);
        assert_eq!(
            diff.changed.iter().map(|c| c.row.id).collect::<Vec<_>>(),
            [2]
        );
        assert_eq!(diff.added.len(), 1);
        assert_eq!(diff.gone.iter().map(|r| r.id).collect::<Vec<_>>(), [3]);

        // A delta removes only what it names and does not list.
        let removal = |name: &str| InstanceKey {
            component: Component::new(Ecosystem::parse("npm"), name, "1.0.0"),
            container_id: None,
            path: format!("/app/node_modules/{name}"),
        };
        let delta = snapshot(
            SnapshotKind::Delta(Removals {
                instances: vec![removal("same"), removal("unknown")],
                ..Removals::default()
            }),
            listed[1..].to_vec(),
        );
        let ecosystems = instance_ecosystems(&delta);
        let diff = diff_instances(&delta, &ecosystems, &rows, &HashMap::new(), text);
        assert_eq!(diff.gone.iter().map(|r| r.id).collect::<Vec<_>>(), [1]);
    }
}
