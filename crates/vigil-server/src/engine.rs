//! The continuous detection engine: snapshots and intel changes in, findings, security events
//! and workflow tasks out — incrementally.
//!
//! - **A snapshot** is applied by the store, which returns exactly the instances that are new,
//!   changed or gone. Only those are matched against the index (a lookup that misses costs one
//!   hash probe), so an unchanged snapshot of 2,000 components does no matching at all.
//! - **New or changed intel** is diffed against the index in use ([`crate::intel::diff`]); only
//!   the present instances of the (ecosystem, name) keys the changed advisories name are read
//!   back from the store and matched.
//! - Both end in [`Detector::refresh`] for each touched (component, entity): the finding per
//!   alias group of matching advisories is created or brought up to date (locations, pids,
//!   strongest evidence), a `RESOLVED` finding whose component came back re-opens — the same
//!   finding, with a new event — and every creation and status change appends its security
//!   event and enqueues its workflow tasks **in the same transaction** as the finding write
//!   (and, for a snapshot, as the snapshot itself). A crash therefore loses nothing and
//!   duplicates nothing: either the snapshot, its findings, events and tasks are all committed,
//!   or none are and the agent re-sends.
//! - [`Detector::auto_resolve`] resolves findings whose component has been gone from their
//!   entity for the grace period (default 2 h); an intel change resolves the open findings of
//!   advisories that were withdrawn or no longer cover the version.
//!
//! Detection runs one change at a time: an intel swap and a snapshot never interleave, so no
//! instance can be matched against an index that is already stale without the rematch seeing
//! it. In a process a mutex orders them; across server replicas sharing a PostgreSQL store
//! every detection transaction first takes the store's detection lock
//! ([`WriteTx::lock_detection`]) and, on a shared store, compares the store's shared-intel
//! generation with the index in use: a replica behind reloads the shared intel
//! ([`Detector::catch_up`]) and retries, so nothing is matched against intel older than the
//! store's. An intel change is published, mirrored, rematched and retired in **one**
//! transaction under that lock, and the fingerprint of the rematched index is written with
//! it: every other replica that reloads the change finds the fingerprint equal and matches
//! nothing again, and a replica killed half-way commits nothing (its upload is published from
//! its data directory at its next start). SQLite serializes writers anyway.
//!
//! Risk: a malicious package is 10.0 `CRITICAL`; a vulnerability takes the highest CVSS base
//! score of its alias group (a stated rating without a score maps to the bottom of its band;
//! no severity at all is 5.0 `MEDIUM`).

use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde::Serialize;
use vigil_core::Evidence;
use vigil_intel::cvss::Rating;
use vigil_intel::{AdvisoryIndex, AdvisoryKind, MatchGroup};
use vigil_store::{
    ComponentId, Entity, FindingFilter, FindingId, FindingInput, FindingRecord, FindingStatus,
    InstanceRecord, PackageKey, Snapshot, Store, StoreError, Timestamp, WriteTx,
};
use vigil_workflow::WorkflowSet;

use crate::event::{Description, FINDING_CREATED, STATUS_CHANGED, Transition, emit, owner_for};
use crate::intel::{self, Current, IntelState, LocalSource};
use crate::lifecycle::{describe_from_store, describe_with};
use crate::metrics::Metrics;

/// The store blob holding the fingerprint of the intel last mirrored into the store.
const FINGERPRINT_BLOB: &str = "server/intel-fingerprint";
/// How often a detection transaction is retried after finding its intel stale.
const STALE_RETRIES: usize = 5;

/// Detection settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DetectionSettings {
    /// How long a component must be gone before its findings resolve (default 2 h).
    pub grace_period: Duration,
}

impl Default for DetectionSettings {
    fn default() -> Self {
        DetectionSettings {
            grace_period: Duration::from_secs(2 * 3600),
        }
    }
}

/// What detection did to findings.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct FindingChanges {
    /// Findings created.
    pub created: usize,
    /// Resolved findings re-opened because their component came back.
    pub reopened: usize,
    /// Findings whose details (locations, processes, evidence, aliases, risk) changed.
    pub updated: usize,
    /// Findings resolved.
    pub resolved: usize,
    /// Events appended.
    pub events: usize,
    /// Workflow tasks enqueued.
    pub enqueued: usize,
}

impl FindingChanges {
    /// Counts a status change [`Detector::change_status`] made: the re-open or resolve, its
    /// event and the workflow tasks it enqueued.
    fn status_changed(&mut self, to: FindingStatus, enqueued: usize) {
        if to == FindingStatus::Resolved {
            self.resolved += 1;
        } else {
            self.reopened += 1;
        }
        self.events += 1;
        self.enqueued += enqueued;
    }
}

/// What ingesting one snapshot did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct IngestReport {
    /// The host.
    pub host: String,
    /// The snapshot's sequence number.
    pub sequence: u64,
    /// Already applied before: nothing changed.
    pub duplicate: bool,
    /// Instances that appeared (or came back).
    pub new: usize,
    /// Instances that changed.
    pub changed: usize,
    /// Instances that went away.
    pub gone: usize,
    /// Instances listed and unchanged.
    pub unchanged: usize,
    /// Finding changes.
    pub findings: FindingChanges,
}

/// What an intel change did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct IntelReport {
    /// Advisories added, changed or removed.
    pub changed_advisories: usize,
    /// Package keys matched again.
    pub keys: usize,
    /// Present instances matched again.
    pub instances: usize,
    /// Finding changes.
    pub findings: FindingChanges,
}

/// A (component, entity) to bring up to date.
#[derive(Clone, Debug)]
struct Target {
    component_id: ComponentId,
    component: vigil_core::Component,
    entity: Entity,
    came_back: bool,
}

fn entity_of(instance: &InstanceRecord) -> Entity {
    match &instance.container {
        Some(c) => Entity::Container(c.key),
        None => Entity::Host(instance.host_id),
    }
}

fn entity_key(e: Entity) -> (u8, i64) {
    match e {
        Entity::Host(h) => (0, h.0),
        Entity::Container(c) => (1, c.0),
    }
}

fn targets<'a>(
    new: impl IntoIterator<Item = &'a InstanceRecord>,
    others: impl IntoIterator<Item = &'a InstanceRecord>,
) -> Vec<Target> {
    let mut map: BTreeMap<(i64, (u8, i64)), Target> = BTreeMap::new();
    for (instance, came_back) in new
        .into_iter()
        .map(|i| (i, true))
        .chain(others.into_iter().map(|i| (i, false)))
    {
        let entity = entity_of(instance);
        let t = map
            .entry((instance.component_id.0, entity_key(entity)))
            .or_insert_with(|| Target {
                component_id: instance.component_id,
                component: instance.component.clone(),
                entity,
                came_back: false,
            });
        t.came_back |= came_back;
    }
    map.into_values().collect()
}

/// Risk score and level of an alias group.
pub fn risk(group: &MatchGroup<'_>) -> (f64, &'static str) {
    if group.kind() == AdvisoryKind::Malicious {
        return (10.0, "CRITICAL");
    }
    let mut best: Option<f64> = None;
    for a in &group.advisories {
        let Some(s) = &a.severity else { continue };
        let score = s.score.or(s.rating.map(|r| match r {
            Rating::Critical => 9.0,
            Rating::High => 7.0,
            Rating::Medium => 4.0,
            Rating::Low => 0.1,
            Rating::None => 0.0,
        }));
        if let Some(score) = score.filter(|s| s.is_finite()) {
            best = Some(best.map_or(score, |b: f64| b.max(score)));
        }
    }
    let score = best.unwrap_or(5.0).clamp(0.0, 10.0);
    (score, Rating::of_score(score).as_str())
}

fn describe(group: &MatchGroup<'_>) -> Description {
    Description {
        kind: group.kind().as_str().to_owned(),
        title: group.primary().and_then(|a| a.summary.clone()),
        cwes: group.cwes().into_iter().map(str::to_owned).collect(),
    }
}

/// Why the data directory's intel could not be put in use.
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    /// Reading the data directory's intel.
    #[error("intel: {0}")]
    Intel(#[from] vigil_intel::IntelError),
    /// Writing the store.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The detection engine.
pub struct Detector {
    store: Arc<Store>,
    intel: Arc<IntelState>,
    workflows: Arc<WorkflowSet>,
    settings: DetectionSettings,
    metrics: Arc<Metrics>,
    lock: Mutex<()>,
    wake: Mutex<Option<Arc<dyn Fn() + Send + Sync>>>,
}

impl std::fmt::Debug for Detector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Detector")
            .field("store", &self.store)
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl Detector {
    /// An engine over `store` matching with `intel` and triggering `workflows`.
    pub fn new(
        store: Arc<Store>,
        intel: Arc<IntelState>,
        workflows: Arc<WorkflowSet>,
        settings: DetectionSettings,
        metrics: Arc<Metrics>,
    ) -> Detector {
        Detector {
            store,
            intel,
            workflows,
            settings,
            metrics,
            lock: Mutex::new(()),
            wake: Mutex::new(None),
        }
    }

    /// Called after a commit that enqueued workflow tasks (wakes the dispatcher).
    pub fn on_enqueue(&self, wake: Arc<dyn Fn() + Send + Sync>) {
        *self.wake.lock().unwrap_or_else(PoisonError::into_inner) = Some(wake);
    }

    /// The store.
    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// The intel.
    pub fn intel(&self) -> &Arc<IntelState> {
        &self.intel
    }

    /// The workflows.
    pub fn workflows(&self) -> &Arc<WorkflowSet> {
        &self.workflows
    }

    /// The settings.
    pub fn settings(&self) -> &DetectionSettings {
        &self.settings
    }

    fn settle(&self, changes: &FindingChanges) {
        let m = &self.metrics;
        m.findings_created
            .fetch_add(changes.created as u64, Ordering::Relaxed);
        m.findings_reopened
            .fetch_add(changes.reopened as u64, Ordering::Relaxed);
        m.events.fetch_add(changes.events as u64, Ordering::Relaxed);
        m.tasks_enqueued
            .fetch_add(changes.enqueued as u64, Ordering::Relaxed);
        if changes.enqueued > 0
            && let Some(wake) = self
                .wake
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone()
        {
            wake();
        }
    }

    /// Runs `f` as one detection transaction: under the detection lock, with the index in use,
    /// which on a shared store is first checked against the store's intel generation — when
    /// another replica published newer intel, this one catches up and retries.
    fn detect<T>(
        &self,
        now: Timestamp,
        mut f: impl FnMut(&mut WriteTx<'_>, &AdvisoryIndex) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let shared = self.store.is_shared();
        let mut attempts = 0;
        loop {
            let one_at_a_time = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
            let current = self.intel.current();
            let stale = Cell::new(false);
            let out = self.store.write(|tx| {
                tx.lock_detection()?;
                if shared
                    && intel::read_generation(tx.get_blob(intel::GENERATION_BLOB)?)
                        != current.generation
                {
                    stale.set(true);
                    return Err(StoreError::InvalidInput {
                        what: "detection",
                        reason: "the intel in use is older than the store's".into(),
                    });
                }
                f(tx, &current.index)
            });
            drop(one_at_a_time);
            if !stale.get() || attempts >= STALE_RETRIES {
                return out;
            }
            attempts += 1;
            self.catch_up(now)?;
        }
    }

    /// Applies a snapshot and detects on what it changed, all in one transaction.
    pub fn ingest(&self, snapshot: &Snapshot, now: Timestamp) -> Result<IngestReport, StoreError> {
        let started = Instant::now();
        let report = self.detect(now, |tx, index| {
            let outcome = tx.apply_snapshot(snapshot, now)?;
            let mut report = IngestReport {
                host: snapshot.host.name.clone(),
                sequence: snapshot.sequence,
                duplicate: outcome.duplicate,
                new: outcome.new.len(),
                changed: outcome.changed.len(),
                gone: outcome.gone.len(),
                unchanged: outcome.unchanged,
                findings: FindingChanges::default(),
            };
            if outcome.duplicate {
                return Ok(report);
            }
            for target in targets(&outcome.new, outcome.changed.iter().chain(&outcome.gone)) {
                self.refresh(tx, index, &target, now, &mut report.findings)?;
            }
            Ok(report)
        })?;
        let m = &self.metrics;
        if report.duplicate {
            m.snapshots_duplicate.fetch_add(1, Ordering::Relaxed);
        } else {
            m.snapshots_applied.fetch_add(1, Ordering::Relaxed);
            m.instances_new
                .fetch_add(report.new as u64, Ordering::Relaxed);
            m.instances_changed
                .fetch_add(report.changed as u64, Ordering::Relaxed);
            m.instances_gone
                .fetch_add(report.gone as u64, Ordering::Relaxed);
            m.ingest_latency.observe(started.elapsed());
        }
        self.settle(&report.findings);
        Ok(report)
    }

    /// Brings the findings of one (component, entity) up to date with `index`.
    fn refresh(
        &self,
        tx: &mut WriteTx<'_>,
        index: &AdvisoryIndex,
        target: &Target,
        now: Timestamp,
        changes: &mut FindingChanges,
    ) -> Result<(), StoreError> {
        let c = &target.component;
        let matches = index.lookup(&c.ecosystem, c.name.as_str(), &c.version);
        if matches.is_empty() {
            return Ok(());
        }
        let present = tx.component_instances(target.component_id, target.entity, false)?;
        if present.is_empty() {
            // Gone: the finding stays as it is until the grace period resolves it.
            return Ok(());
        }
        let evidence = present
            .iter()
            .map(|i| i.evidence)
            .max()
            .unwrap_or(Evidence::Declared);
        let locations: Vec<String> = present
            .iter()
            .map(|i| i.path.clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let pids: Vec<u32> = present
            .iter()
            .flat_map(|i| i.pids.iter().copied())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        for group in index.group_matches(&matches) {
            let Some(primary) = group.primary() else {
                continue;
            };
            let ids = group.ids();
            // One finding per alias group: reuse the one filed under any of its ids.
            let mut existing = None;
            for id in &ids {
                if let Some(f) = tx.find_finding(id, target.component_id, target.entity)? {
                    existing = Some(f);
                    break;
                }
            }
            let advisory_id = existing
                .as_ref()
                .map_or_else(|| primary.id.clone(), |f| f.advisory_id.clone());
            let aliases: Vec<String> = ids
                .iter()
                .filter(|id| **id != advisory_id)
                .map(|id| (*id).to_owned())
                .collect();
            let (risk_score, risk_level) = risk(&group);
            let upsert = tx.upsert_finding(
                &FindingInput {
                    advisory_id,
                    aliases,
                    component_id: target.component_id,
                    entity: target.entity,
                    risk_score,
                    risk_level: risk_level.to_owned(),
                    evidence,
                    locations: locations.clone(),
                    pids: pids.clone(),
                },
                now,
            )?;
            let description = describe(&group);
            let mut finding = upsert.finding;
            if upsert.created {
                if let Some(team) = owner_for(&self.workflows, &finding, &description) {
                    tx.set_finding_owner(finding.id, Some(&team), now)?;
                    finding.owner_team = Some(team);
                }
                let emitted = emit(
                    tx,
                    &self.workflows,
                    &finding,
                    &description,
                    FINDING_CREATED,
                    &Transition::default(),
                    now,
                )?;
                changes.created += 1;
                changes.events += 1;
                changes.enqueued += emitted.enqueued;
            } else if target.came_back && finding.status == FindingStatus::Resolved {
                if let Some(enqueued) = self.change_status(
                    tx,
                    finding.id,
                    FindingStatus::New,
                    &description,
                    "component is back",
                    now,
                )? {
                    changes.status_changed(FindingStatus::New, enqueued);
                }
            } else if existing.is_some_and(|before| {
                before.updated_at != finding.updated_at || before.aliases != finding.aliases
            }) {
                changes.updated += 1;
            }
        }
        Ok(())
    }

    /// Moves finding `id` to `to` in `tx` and emits its status-change event with `reason`.
    /// Returns the workflow tasks enqueued, or `None` when the finding is gone. Detection's
    /// re-opens and resolves all go through here so each carries the same event.
    fn change_status(
        &self,
        tx: &mut WriteTx<'_>,
        id: FindingId,
        to: FindingStatus,
        description: &Description,
        reason: &str,
        now: Timestamp,
    ) -> Result<Option<usize>, StoreError> {
        let Some(change) = tx.set_finding_status(id, to, None, now)? else {
            return Ok(None);
        };
        let emitted = emit(
            tx,
            &self.workflows,
            &change.finding,
            description,
            STATUS_CHANGED,
            &Transition {
                previous: Some(change.previous),
                reason: Some(reason),
            },
            now,
        )?;
        Ok(Some(emitted.enqueued))
    }

    /// Matches the present instances of `keys` again against `index`, in `tx`.
    fn rematch(
        &self,
        tx: &mut WriteTx<'_>,
        index: &AdvisoryIndex,
        keys: &[PackageKey],
        now: Timestamp,
        report: &mut IntelReport,
    ) -> Result<(), StoreError> {
        let instances = tx.instances_for_keys(keys)?;
        report.keys += keys.len();
        report.instances += instances.len();
        for target in targets(std::iter::empty(), &instances) {
            self.refresh(tx, index, &target, now, &mut report.findings)?;
        }
        Ok(())
    }

    /// Resolves the open (`NEW`, `ACKNOWLEDGED`) findings filed under changed advisories that
    /// no longer apply to their component: the advisory was withdrawn, removed, or its ranges
    /// no longer cover the version.
    fn retire(
        &self,
        tx: &mut WriteTx<'_>,
        index: &AdvisoryIndex,
        ids: &[String],
        now: Timestamp,
        changes: &mut FindingChanges,
    ) -> Result<(), StoreError> {
        let mut open_under = |advisory_id: Option<String>| {
            tx.list_findings(&FindingFilter {
                statuses: vec![FindingStatus::New, FindingStatus::Acknowledged],
                advisory_id,
                limit: 10_000_000,
                ..FindingFilter::default()
            })
        };
        // Few ids (an import): one indexed lookup each. Many (a sync, the first mirror): one
        // pass over the open findings.
        let open: Vec<FindingRecord> = if ids.len() <= 64 {
            let mut all = Vec::new();
            for id in ids {
                all.extend(open_under(Some(id.clone()))?);
            }
            all
        } else {
            let wanted: BTreeSet<&str> = ids.iter().map(String::as_str).collect();
            open_under(None)?
                .into_iter()
                .filter(|f| wanted.contains(f.advisory_id.as_str()))
                .collect()
        };
        for finding in open {
            let c = &finding.component;
            let applies = index
                .lookup(&c.ecosystem, c.name.as_str(), &c.version)
                .iter()
                .any(|m| {
                    m.advisory.id == finding.advisory_id || finding.aliases.contains(&m.advisory.id)
                });
            if applies {
                continue;
            }
            let description = describe_with(|id| tx.advisory(id), &finding)?;
            if let Some(enqueued) = self.change_status(
                tx,
                finding.id,
                FindingStatus::Resolved,
                &description,
                "the advisory was withdrawn or no longer covers this version",
                now,
            )? {
                changes.status_changed(FindingStatus::Resolved, enqueued);
            }
        }
        Ok(())
    }

    /// Brings the store's mirror and findings from what they were last synced to up to `new`,
    /// in `tx` (holding the detection lock). Nothing to do when the store's fingerprint already
    /// names `new` (another replica did it). When it names `old` (the index this process had),
    /// only the diff of the two is mirrored and rematched; otherwise (intel changed while down,
    /// or the first start) every advisory is compared with the mirror.
    fn bring_up_to(
        &self,
        tx: &mut WriteTx<'_>,
        old: &Current,
        new: &Current,
        now: Timestamp,
    ) -> Result<IntelReport, StoreError> {
        let mut report = IntelReport::default();
        let stored = tx.get_blob(FINGERPRINT_BLOB)?;
        let stored = stored.as_ref().map(|b| b.bytes.as_slice());
        if stored == Some(new.fingerprint().as_bytes()) {
            return Ok(report);
        }
        let index = &new.index;
        let (changed, keys) = if stored == Some(old.fingerprint().as_bytes()) {
            let change = intel::diff(&old.index, index);
            let advisories: Vec<&vigil_intel::Advisory> = change
                .changed
                .iter()
                .filter_map(|id| index.by_id(id))
                .collect();
            for chunk in advisories.chunks(1000) {
                let records: Vec<_> = chunk.iter().map(|a| intel::mirror_record(a)).collect();
                tx.put_advisories(&intel::mirror_inputs(chunk, &records), now)?;
            }
            // Changed ids the new index lacks vanished from the intel: out of `fetch
            // advisories`; `retire` below resolves their findings.
            let vanished: Vec<String> = change
                .changed
                .iter()
                .filter(|id| index.by_id(id).is_none())
                .cloned()
                .collect();
            tx.remove_advisories(&vanished, now)?;
            (change.changed, change.keys)
        } else {
            let all: Vec<&vigil_intel::Advisory> = index.advisories().iter().collect();
            let mut changed = Vec::new();
            for chunk in all.chunks(1000) {
                let records: Vec<_> = chunk.iter().map(|a| intel::mirror_record(a)).collect();
                let put = tx.put_advisories(&intel::mirror_inputs(chunk, &records), now)?;
                changed.extend(put.inserted);
                changed.extend(put.updated);
            }
            // The mirror's advisories the index no longer has (removed while vigil was down).
            let vanished: Vec<String> = tx
                .current_advisory_ids()?
                .into_iter()
                .filter(|id| index.by_id(id).is_none())
                .collect();
            changed.extend(tx.remove_advisories(&vanished, now)?);
            let keys: BTreeSet<PackageKey> = changed
                .iter()
                .filter_map(|id| index.by_id(id))
                .flat_map(intel::keys_of)
                .collect();
            (changed, keys.into_iter().collect())
        };
        report.changed_advisories = changed.len();
        self.rematch(tx, index, &keys, now, &mut report)?;
        self.retire(tx, index, &changed, now, &mut report.findings)?;
        tx.put_blob(FINGERPRINT_BLOB, new.fingerprint().as_bytes(), now)?;
        Ok(report)
    }

    /// Puts `new` in use once the store is brought up to it (one transaction under the
    /// detection lock).
    fn adopt(&self, new: Current, now: Timestamp) -> Result<IntelReport, StoreError> {
        let started = Instant::now();
        let report = {
            let _one_at_a_time = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
            let old = self.intel.current();
            let report = self.store.write(|tx| {
                tx.lock_detection()?;
                self.bring_up_to(tx, &old, &new, now)
            })?;
            self.intel.set_current(new);
            report
        };
        self.intel_adopted(&report, started);
        Ok(report)
    }

    /// Counts an adoption that changed advisories (a reload, and how long it took since
    /// `started`) and settles the findings it changed.
    fn intel_adopted(&self, report: &IntelReport, started: Instant) {
        if report.changed_advisories > 0 {
            self.metrics.intel_reloads.fetch_add(1, Ordering::Relaxed);
            self.metrics.intel_latency.observe(started.elapsed());
        }
        self.settle(&report.findings);
    }

    /// On a shared store: publishes `local` sources (see [`intel::publish`]), then builds the
    /// index of the store's shared intel and brings the store up to it — one transaction
    /// under the detection lock — and puts it in use. Returns the report and load warnings.
    fn adopt_shared(
        &self,
        local: &[LocalSource],
        live: bool,
        now: Timestamp,
    ) -> Result<(IntelReport, Vec<String>), StoreError> {
        let started = Instant::now();
        let (report, warnings) = {
            let _one_at_a_time = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
            let old = self.intel.current();
            let mut adopted = None;
            let written = self.store.write(|tx| {
                tx.lock_detection()?;
                let mut manifest = intel::read_manifest(tx)?;
                let published = intel::publish(tx, &mut manifest, local, live, now)?;
                let (new, warnings) = if !published && manifest.generation == old.generation {
                    (old.clone(), Vec::new())
                } else {
                    let (index, warnings) = intel::build_shared_index(tx, &manifest)?;
                    (Current::new(Arc::new(index), manifest.generation), warnings)
                };
                let report = self.bring_up_to(tx, &old, &new, now)?;
                adopted = Some(new);
                Ok((report, warnings))
            });
            let written = match written {
                Ok(w) => w,
                Err(e) => {
                    self.intel.reconsider(local);
                    return Err(e);
                }
            };
            if let Some(new) = adopted {
                self.intel.set_current(new);
            }
            written
        };
        self.intel_adopted(&report, started);
        Ok((report, warnings))
    }

    /// Puts a freshly loaded index in use and detects on what it changed.
    pub fn use_index(&self, new: AdvisoryIndex, now: Timestamp) -> Result<IntelReport, StoreError> {
        let generation = self.intel.generation();
        self.adopt(Current::new(Arc::new(new), generation), now)
    }

    /// The data directory's intel changed (an import through the API, `vigil intel import`,
    /// a sync): puts it in use and detects on what changed. On a shared store the new sources
    /// are published for every replica first, and the index is the store's shared intel.
    /// Returns the report and the load warnings.
    pub fn reload_intel(&self, now: Timestamp) -> Result<(IntelReport, Vec<String>), ReloadError> {
        if self.store.is_shared() {
            let local = self.intel.unpublished_local_sources()?;
            if local.is_empty() {
                // Nothing new here; intel published elsewhere arrives through `catch_up`.
                return Ok((IntelReport::default(), Vec::new()));
            }
            return Ok(self.adopt_shared(&local, true, now)?);
        }
        let (index, warnings) = self.intel.load()?;
        Ok((self.use_index(index, now)?, warnings))
    }

    /// On a shared store, when another replica published newer intel: loads it and puts it in
    /// use (the publisher already matched it; this replica matches again only if the store's
    /// fingerprint says nobody did). Cheap when the generation did not move: one small read.
    /// Returns whether the index changed.
    pub fn catch_up(&self, now: Timestamp) -> Result<bool, StoreError> {
        if !self.store.is_shared() {
            return Ok(false);
        }
        let generation = intel::read_generation(self.store.get_blob(intel::GENERATION_BLOB)?);
        if generation == self.intel.generation() {
            return Ok(false);
        }
        self.adopt_shared(&[], false, now)?;
        Ok(true)
    }

    /// At start: brings the store's advisory mirror up to the index in use, and detects on
    /// whatever changed since the mirror was last written (intel imported while the server
    /// was down). Cheap when nothing changed: one fingerprint. On a shared store, the data
    /// directory's sources imported later than the shared copies are published first, and the
    /// index becomes the store's shared intel.
    pub fn sync_intel(&self, now: Timestamp) -> Result<IntelReport, StoreError> {
        if self.store.is_shared() {
            let local =
                self.intel
                    .unpublished_local_sources()
                    .map_err(|e| StoreError::InvalidInput {
                        what: "intel",
                        reason: e.to_string(),
                    })?;
            return Ok(self.adopt_shared(&local, false, now)?.0);
        }
        let current = self.intel.current();
        // The mirror of `old` never matches a fresh start's fingerprint unless it is `new`:
        // pass an empty index as `old` so an out-of-date mirror is compared in full.
        let nothing = Current::new(Arc::new(vigil_intel::IndexBuilder::new().build()), 0);
        let _one_at_a_time = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
        let report = self.store.write(|tx| {
            tx.lock_detection()?;
            self.bring_up_to(tx, &nothing, &current, now)
        })?;
        drop(_one_at_a_time);
        self.settle(&report.findings);
        Ok(report)
    }

    /// Resolves the findings whose component has been gone from their entity for the grace
    /// period. Muted findings stay muted. Returns how many were resolved.
    pub fn auto_resolve(&self, now: Timestamp) -> Result<FindingChanges, StoreError> {
        let _one_at_a_time = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
        let cutoff = now.saturating_sub(self.settings.grace_period);
        let candidates = self.store.findings_gone_since(cutoff)?;
        let reason = format!(
            "component gone for the grace period ({}s)",
            self.settings.grace_period.as_secs()
        );
        let mut changes = FindingChanges::default();
        for candidate in candidates {
            if candidate.status == FindingStatus::Muted {
                continue;
            }
            let description = describe_from_store(&self.store, &candidate)?;
            let done = self.store.write(|tx| {
                tx.lock_detection()?;
                let present =
                    tx.component_instances(candidate.component_id, candidate.entity, false)?;
                let current = tx.finding(candidate.id)?;
                if !present.is_empty()
                    || current.as_ref().is_none_or(|f| {
                        matches!(f.status, FindingStatus::Resolved | FindingStatus::Muted)
                    })
                {
                    return Ok(None);
                }
                self.change_status(
                    tx,
                    candidate.id,
                    FindingStatus::Resolved,
                    &description,
                    &reason,
                    now,
                )
            })?;
            if let Some(enqueued) = done {
                changes.status_changed(FindingStatus::Resolved, enqueued);
            }
        }
        drop(_one_at_a_time);
        self.metrics
            .findings_auto_resolved
            .fetch_add(changes.resolved as u64, Ordering::Relaxed);
        self.settle(&changes);
        Ok(changes)
    }
}
