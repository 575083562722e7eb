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
//! Detection runs one change at a time (a mutex): an intel swap and a snapshot never
//! interleave, so no instance can be matched against an index that is already stale without
//! the rematch seeing it. SQLite serializes writers anyway, so this costs no throughput.
//!
//! Risk: a malicious package is 10.0 `CRITICAL`; a vulnerability takes the highest CVSS base
//! score of its alias group (a stated rating without a score maps to the bottom of its band;
//! no severity at all is 5.0 `MEDIUM`).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde::Serialize;
use vigil_core::Evidence;
use vigil_intel::cvss::Rating;
use vigil_intel::{AdvisoryIndex, AdvisoryKind, MatchGroup};
use vigil_store::{
    ComponentId, Entity, FindingFilter, FindingInput, FindingRecord, FindingStatus, InstanceRecord,
    PackageKey, Snapshot, Store, StoreError, Timestamp, WriteTx,
};
use vigil_workflow::WorkflowSet;

use crate::event::{Description, FINDING_CREATED, STATUS_CHANGED, Transition, emit, owner_for};
use crate::intel::{self, IntelChange, IntelState};
use crate::lifecycle::describe_from_store;
use crate::metrics::Metrics;

/// The store blob holding the fingerprint of the intel last mirrored into the store.
const FINGERPRINT_BLOB: &str = "server/intel-fingerprint";
/// Touched (component, entity) pairs refreshed per transaction during an intel rematch.
const REMATCH_BATCH: usize = 500;

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
    fn add(&mut self, other: &FindingChanges) {
        self.created += other.created;
        self.reopened += other.reopened;
        self.updated += other.updated;
        self.resolved += other.resolved;
        self.events += other.events;
        self.enqueued += other.enqueued;
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

    /// Applies a snapshot and detects on what it changed, all in one transaction.
    pub fn ingest(&self, snapshot: &Snapshot, now: Timestamp) -> Result<IngestReport, StoreError> {
        let started = Instant::now();
        let _one_at_a_time = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
        let index = self.intel.index();
        let report = self.store.write(|tx| {
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
                self.refresh(tx, &index, &target, now, &mut report.findings)?;
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
                if let Some(change) =
                    tx.set_finding_status(finding.id, FindingStatus::New, None, now)?
                {
                    let emitted = emit(
                        tx,
                        &self.workflows,
                        &change.finding,
                        &description,
                        STATUS_CHANGED,
                        &Transition {
                            previous: Some(change.previous),
                            reason: Some("component is back"),
                        },
                        now,
                    )?;
                    changes.reopened += 1;
                    changes.events += 1;
                    changes.enqueued += emitted.enqueued;
                }
            } else if existing.is_some_and(|before| {
                before.updated_at != finding.updated_at || before.aliases != finding.aliases
            }) {
                changes.updated += 1;
            }
        }
        Ok(())
    }

    /// Matches the present instances of `keys` again against the index in use.
    fn rematch(&self, keys: &[PackageKey], now: Timestamp) -> Result<IntelReport, StoreError> {
        let index = self.intel.index();
        let instances = self.store.instances_for_keys(keys)?;
        let targets = targets(std::iter::empty(), &instances);
        let mut report = IntelReport {
            keys: keys.len(),
            instances: instances.len(),
            ..IntelReport::default()
        };
        for batch in targets.chunks(REMATCH_BATCH) {
            let changes = self.store.write(|tx| {
                let mut changes = FindingChanges::default();
                for target in batch {
                    self.refresh(tx, &index, target, now, &mut changes)?;
                }
                Ok(changes)
            })?;
            report.findings.add(&changes);
        }
        Ok(report)
    }

    /// Mirrors advisories into the store and matches the keys they name again.
    fn apply_change(
        &self,
        change: &IntelChange,
        now: Timestamp,
    ) -> Result<IntelReport, StoreError> {
        let index = self.intel.index();
        let advisories: Vec<&vigil_intel::Advisory> = change
            .changed
            .iter()
            .filter_map(|id| index.by_id(id))
            .collect();
        for chunk in advisories.chunks(1000) {
            let records: Vec<_> = chunk.iter().map(|a| intel::mirror_record(a)).collect();
            let inputs = intel::mirror_inputs(chunk, &records);
            self.store.put_advisories(&inputs, now)?;
        }
        let mut report = self.rematch(&change.keys, now)?;
        report.changed_advisories = change.changed.len();
        let retired = self.retire(&change.changed, now)?;
        report.findings.add(&retired);
        self.store
            .put_blob(FINGERPRINT_BLOB, intel::fingerprint(&index).as_bytes(), now)?;
        Ok(report)
    }

    /// Resolves the open (`NEW`, `ACKNOWLEDGED`) findings filed under changed advisories that
    /// no longer apply to their component: the advisory was withdrawn, removed, or its ranges
    /// no longer cover the version.
    fn retire(&self, ids: &[String], now: Timestamp) -> Result<FindingChanges, StoreError> {
        let index = self.intel.index();
        let mut changes = FindingChanges::default();
        let open_under = |advisory_id: Option<String>| {
            self.store.list_findings(&FindingFilter {
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
            let description = describe_from_store(&self.store, &finding)?;
            let enqueued = self.store.write(|tx| {
                let still_open = tx.finding(finding.id)?.is_some_and(|f| {
                    matches!(f.status, FindingStatus::New | FindingStatus::Acknowledged)
                });
                if !still_open {
                    return Ok(None);
                }
                let Some(change) =
                    tx.set_finding_status(finding.id, FindingStatus::Resolved, None, now)?
                else {
                    return Ok(None);
                };
                let emitted = emit(
                    tx,
                    &self.workflows,
                    &change.finding,
                    &description,
                    STATUS_CHANGED,
                    &Transition {
                        previous: Some(change.previous),
                        reason: Some("the advisory was withdrawn or no longer covers this version"),
                    },
                    now,
                )?;
                Ok(Some(emitted.enqueued))
            })?;
            if let Some(enqueued) = enqueued {
                changes.resolved += 1;
                changes.events += 1;
                changes.enqueued += enqueued;
            }
        }
        Ok(changes)
    }

    /// Puts a freshly loaded index in use and detects on what it changed.
    pub fn use_index(&self, new: AdvisoryIndex, now: Timestamp) -> Result<IntelReport, StoreError> {
        let started = Instant::now();
        let report = {
            let _one_at_a_time = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
            let change = self.intel.swap(new);
            if change.changed.is_empty() {
                return Ok(IntelReport::default());
            }
            self.apply_change(&change, now)?
        };
        self.metrics.intel_reloads.fetch_add(1, Ordering::Relaxed);
        self.metrics.intel_latency.observe(started.elapsed());
        self.settle(&report.findings);
        Ok(report)
    }

    /// At start: brings the store's advisory mirror up to the index in use, and detects on
    /// whatever changed since the mirror was last written (intel imported while the server
    /// was down). Cheap when nothing changed: one fingerprint.
    pub fn sync_intel(&self, now: Timestamp) -> Result<IntelReport, StoreError> {
        let _one_at_a_time = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
        let index = self.intel.index();
        let fingerprint = intel::fingerprint(&index);
        if self
            .store
            .get_blob(FINGERPRINT_BLOB)?
            .is_some_and(|b| b.bytes == fingerprint.as_bytes())
        {
            return Ok(IntelReport::default());
        }
        let all: Vec<&vigil_intel::Advisory> = index.advisories().iter().collect();
        let mut changed = Vec::new();
        for chunk in all.chunks(1000) {
            let records: Vec<_> = chunk.iter().map(|a| intel::mirror_record(a)).collect();
            let inputs = intel::mirror_inputs(chunk, &records);
            let put = self.store.put_advisories(&inputs, now)?;
            changed.extend(put.inserted);
            changed.extend(put.updated);
        }
        let keys: BTreeSet<PackageKey> = changed
            .iter()
            .filter_map(|id| index.by_id(id))
            .flat_map(intel::keys_of)
            .collect();
        let keys: Vec<PackageKey> = keys.into_iter().collect();
        let mut report = self.rematch(&keys, now)?;
        report.changed_advisories = changed.len();
        let retired = self.retire(&changed, now)?;
        report.findings.add(&retired);
        self.store
            .put_blob(FINGERPRINT_BLOB, fingerprint.as_bytes(), now)?;
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
                let Some(change) =
                    tx.set_finding_status(candidate.id, FindingStatus::Resolved, None, now)?
                else {
                    return Ok(None);
                };
                let emitted = emit(
                    tx,
                    &self.workflows,
                    &change.finding,
                    &description,
                    STATUS_CHANGED,
                    &Transition {
                        previous: Some(change.previous),
                        reason: Some(&reason),
                    },
                    now,
                )?;
                Ok(Some(emitted.enqueued))
            })?;
            if let Some(enqueued) = done {
                changes.resolved += 1;
                changes.events += 1;
                changes.enqueued += enqueued;
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
