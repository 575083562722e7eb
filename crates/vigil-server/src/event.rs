//! Security events (PRODUCT.md §5): the payload of every finding creation and status change,
//! appended in the transaction that writes the finding, and handed to the workflows.
//!
//! The payload states what was true when the event happened (the store never rewrites it);
//! the store's columns add `timestamp`, `event.id`, `event.type` and `finding.id`. Besides the
//! §5 fields a status change carries `finding.previous_status` and, when the engine or a person
//! said why, `finding.status_reason` / `finding.mute_reason`.

use serde_json::{Map, Value, json};
use vigil_store::{
    AppendedEvent, Entity, EventInput, FindingRecord, FindingStatus, Timestamp, WriteTx,
};
use vigil_workflow::WorkflowSet;

use crate::outbox::enqueue_in;

/// `event.type` of a finding's creation.
pub const FINDING_CREATED: &str = "VULNERABILITY_FINDING";
/// `event.type` of a finding's status change.
pub const STATUS_CHANGED: &str = "VULNERABILITY_STATUS_CHANGE_EVENT";

/// What the advisory (or alias group) behind a finding says about itself.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Description {
    /// `MALICIOUS` or `VULNERABILITY`.
    pub kind: String,
    /// The advisory's summary.
    pub title: Option<String>,
    /// CWE ids (`CWE-506` for malicious packages).
    pub cwes: Vec<String>,
}

fn opt(value: Option<&str>) -> Value {
    value.map_or(Value::Null, |v| Value::String(v.to_owned()))
}

/// The §5 fields of `finding` (everything but the four the store adds).
pub fn payload(finding: &FindingRecord, description: &Description) -> Map<String, Value> {
    let container = finding.container.as_ref();
    let (entity_id, entity_name) = match finding.entity {
        Entity::Host(id) => (id.0.to_string(), finding.host_name.clone()),
        Entity::Container(_) => (
            container.map(|c| c.id.clone()).unwrap_or_default(),
            container
                .map(|c| c.name.clone().unwrap_or_else(|| c.id.clone()))
                .unwrap_or_default(),
        ),
    };
    let fields = json!({
        "finding.status": finding.status.as_str(),
        "vulnerability.id": finding.advisory_id,
        "vulnerability.aliases": finding.aliases,
        "vulnerability.kind": description.kind,
        "vulnerability.title": description.title,
        "vulnerability.references.cwe": description.cwes,
        "vulnerability.risk.score": finding.risk_score,
        "vulnerability.risk.level": finding.risk_level,
        "component.ecosystem": finding.component.ecosystem.to_string(),
        "component.name": finding.component.name.as_str(),
        "component.version": &*finding.component.version,
        "component.purl": finding.purl,
        "evidence": finding.evidence.as_str(),
        "affected_entity.id": entity_id,
        "affected_entity.type": finding.entity.type_name(),
        "affected_entity.name": entity_name,
        "host.name": finding.host_name,
        "container.id": opt(container.map(|c| c.id.as_str())),
        "container.image": opt(container.and_then(|c| c.image.as_deref())),
        "k8s.namespace.name": opt(container.and_then(|c| c.k8s_namespace.as_deref())),
        "k8s.workload.name": opt(container.and_then(|c| c.k8s_workload.as_deref())),
        "process.pids": finding.pids,
        "locations": finding.locations,
        "owner.team": opt(finding.owner_team.as_deref()),
    });
    match fields {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// The event as workflows and the query language see it: the payload plus `timestamp`
/// (RFC 3339), `event.id`, `event.type` and `finding.id`.
pub fn full_event(
    payload: &Map<String, Value>,
    timestamp: Timestamp,
    event_id: &str,
    event_type: &str,
    finding: i64,
) -> Value {
    let mut map = payload.clone();
    map.insert("timestamp".into(), Value::String(timestamp.to_rfc3339()));
    map.insert("event.id".into(), Value::String(event_id.to_owned()));
    map.insert("event.type".into(), Value::String(event_type.to_owned()));
    map.insert("finding.id".into(), Value::String(finding.to_string()));
    Value::Object(map)
}

/// Why a status changed, for the event.
#[derive(Clone, Debug, Default)]
pub struct Transition<'a> {
    /// The status before (none for a creation).
    pub previous: Option<FindingStatus>,
    /// Why (`component gone for 2h`, `component is back`, `acknowledged by …`).
    pub reason: Option<&'a str>,
}

/// What [`emit`] appended.
#[derive(Clone, Debug)]
pub struct Emitted {
    /// The event.
    pub event: AppendedEvent,
    /// Outbox items newly enqueued for it.
    pub enqueued: usize,
}

/// Appends the event for `finding` and enqueues the workflow tasks it triggers, inside the
/// caller's transaction.
pub fn emit(
    tx: &mut WriteTx<'_>,
    workflows: &WorkflowSet,
    finding: &FindingRecord,
    description: &Description,
    event_type: &str,
    transition: &Transition<'_>,
    now: Timestamp,
) -> vigil_store::Result<Emitted> {
    let mut payload = payload(finding, description);
    if let Some(previous) = transition.previous {
        payload.insert(
            "finding.previous_status".into(),
            Value::String(previous.as_str().into()),
        );
    }
    if let Some(reason) = transition.reason {
        payload.insert(
            "finding.status_reason".into(),
            Value::String(reason.to_owned()),
        );
    }
    if let Some(reason) = &finding.mute_reason {
        payload.insert("finding.mute_reason".into(), Value::String(reason.clone()));
    }
    // The loading processes' start times as the agent reported them, parallel to
    // `process.pids`: a quarantine task signals a pid only if it is still that process.
    if !finding.pids.is_empty() {
        let known = tx.process_start_times(&finding.host_name, &finding.pids)?;
        if !known.is_empty() {
            let times = finding
                .pids
                .iter()
                .map(|pid| {
                    known
                        .iter()
                        .find(|(p, _)| p == pid)
                        .map_or(Value::Null, |(_, t)| Value::from(t.unix_millis()))
                })
                .collect();
            payload.insert("process.start_times_ms".into(), Value::Array(times));
        }
    }
    let input = EventInput {
        timestamp: now,
        event_type: event_type.to_owned(),
        finding_id: Some(finding.id),
        payload,
    };
    let event = tx.append_event(&input)?;
    let full = full_event(
        &input.payload,
        now,
        &event.event_id,
        event_type,
        finding.id.0,
    );
    let items = vigil_workflow::plan(workflows, &full, now.unix_millis());
    let enqueued = enqueue_in(tx, items, Some(finding.id), Some(event.seq), now)?;
    Ok(Emitted { event, enqueued })
}

/// The first `[[owners]]` team whose `match` holds for the finding's event, if any.
pub fn owner_for(
    workflows: &WorkflowSet,
    finding: &FindingRecord,
    description: &Description,
) -> Option<String> {
    if workflows.owners.is_empty() {
        return None;
    }
    let event = Value::Object(payload(finding, description));
    workflows
        .owners
        .iter()
        .find(|o| o.matches(&event))
        .map(|o| o.team.clone())
}
