//! Finding status changes made by people — acknowledge, resolve, mute — each with its event
//! and workflow tasks in the same transaction.
//!
//! The lifecycle (PRODUCT.md §3): `NEW → ACKNOWLEDGED → RESOLVED`, or `MUTED` with a reason.
//! Resolving or muting works from any open status; acknowledging a `RESOLVED` finding is
//! refused (it re-opens by itself when its component comes back). Asking for the status a
//! finding already has changes nothing and appends no event.
//!
//! This needs only the store and the workflow configuration — not the intel index — so the
//! CLI can run it on a data directory while a server runs on the same store.

use std::sync::Arc;

use vigil_store::{FindingId, FindingRecord, FindingStatus, Store, StoreError, Timestamp};
use vigil_workflow::WorkflowSet;

use crate::event::{Description, STATUS_CHANGED, Transition, emit};

/// Longest accepted mute reason (bytes).
pub const MAX_REASON: usize = 2000;

/// What a person asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StatusAction {
    /// Someone is on it.
    Acknowledge,
    /// Fixed or accepted as gone.
    Resolve,
    /// Accepted risk, with the reason.
    Mute {
        /// Why.
        reason: String,
    },
}

impl StatusAction {
    /// `ack`, `resolve`, `mute` (the API's path segment); mute needs `reason`.
    pub fn parse(action: &str, reason: Option<String>) -> Result<StatusAction, LifecycleError> {
        match action {
            "ack" | "acknowledge" => Ok(StatusAction::Acknowledge),
            "resolve" => Ok(StatusAction::Resolve),
            "mute" => match reason.map(|r| r.trim().to_owned()) {
                Some(r) if !r.is_empty() => Ok(StatusAction::Mute { reason: r }),
                _ => Err(LifecycleError::Invalid(
                    "mute needs a reason (why is this finding accepted?)".into(),
                )),
            },
            other => Err(LifecycleError::Invalid(format!(
                "unknown action {other:?}: use ack, resolve or mute"
            ))),
        }
    }

    fn status(&self) -> FindingStatus {
        match self {
            StatusAction::Acknowledge => FindingStatus::Acknowledged,
            StatusAction::Resolve => FindingStatus::Resolved,
            StatusAction::Mute { .. } => FindingStatus::Muted,
        }
    }
}

/// Why a status change was refused.
#[derive(Debug, thiserror::Error)]
pub enum LifecycleError {
    /// No such finding.
    #[error("finding {0} does not exist")]
    NotFound(i64),
    /// The change does not apply to the finding's current status.
    #[error("{0}")]
    Conflict(String),
    /// The request is malformed.
    #[error("{0}")]
    Invalid(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The result of a status change.
#[derive(Clone, Debug)]
pub struct StatusOutcome {
    /// The finding after.
    pub finding: FindingRecord,
    /// The status before.
    pub previous: FindingStatus,
    /// Whether anything changed (and an event was appended).
    pub changed: bool,
    /// The appended event's id.
    pub event_id: Option<String>,
    /// Workflow tasks enqueued.
    pub enqueued: usize,
}

/// What the stored advisories say about a finding's advisory and aliases.
pub fn describe_from_store(
    store: &Store,
    finding: &FindingRecord,
) -> Result<Description, StoreError> {
    describe_with(|id| store.advisory(id), finding)
}

/// [`describe_from_store`] with the mirror read through `advisory` (e.g. inside a
/// transaction).
pub fn describe_with(
    mut advisory: impl FnMut(&str) -> Result<Option<vigil_store::AdvisoryRecord>, StoreError>,
    finding: &FindingRecord,
) -> Result<Description, StoreError> {
    let mut d = Description {
        kind: "VULNERABILITY".into(),
        ..Description::default()
    };
    for id in std::iter::once(&finding.advisory_id).chain(&finding.aliases) {
        let Some(a) = advisory(id)? else {
            continue;
        };
        if a.kind == vigil_store::AdvisoryKind::Malicious {
            d.kind = "MALICIOUS".into();
        }
        if d.title.is_none() {
            d.title = a.record.summary.clone();
        }
        for cwe in a.cwes {
            if !d.cwes.contains(&cwe) {
                d.cwes.push(cwe);
            }
        }
    }
    Ok(d)
}

/// Changes finding statuses on a store.
#[derive(Clone)]
pub struct Lifecycle {
    store: Arc<Store>,
    workflows: Arc<WorkflowSet>,
}

impl Lifecycle {
    /// Status changes on `store`, triggering `workflows`.
    pub fn new(store: Arc<Store>, workflows: Arc<WorkflowSet>) -> Lifecycle {
        Lifecycle { store, workflows }
    }

    /// Applies `action` to finding `id` (`actor`, when known, is recorded as the reason).
    pub fn change(
        &self,
        id: FindingId,
        action: &StatusAction,
        actor: Option<&str>,
        now: Timestamp,
    ) -> Result<StatusOutcome, LifecycleError> {
        let Some(before) = self.store.finding(id)? else {
            return Err(LifecycleError::NotFound(id.0));
        };
        if let StatusAction::Mute { reason } = action
            && reason.len() > MAX_REASON
        {
            return Err(LifecycleError::Invalid(format!(
                "the mute reason is longer than {MAX_REASON} bytes"
            )));
        }
        let description = describe_from_store(&self.store, &before)?;
        let want = action.status();
        let mute_reason = match action {
            StatusAction::Mute { reason } => Some(reason.as_str()),
            _ => None,
        };
        let reason = actor.map(|a| format!("{} by {a}", want.as_str().to_lowercase()));
        let workflows = Arc::clone(&self.workflows);
        let outcome = self.store.write(|tx| {
            // Re-read inside the transaction: the status may have moved since.
            let Some(current) = tx.finding(id)? else {
                return Ok(Err(LifecycleError::NotFound(id.0)));
            };
            if want == FindingStatus::Acknowledged && current.status == FindingStatus::Resolved {
                return Ok(Err(LifecycleError::Conflict(format!(
                    "finding {} is RESOLVED; it re-opens by itself if its component comes back",
                    id.0
                ))));
            }
            let Some(change) = tx.set_finding_status(id, want, mute_reason, now)? else {
                return Ok(Err(LifecycleError::NotFound(id.0)));
            };
            if !change.changed() && current.mute_reason.as_deref() == mute_reason {
                return Ok(Ok(StatusOutcome {
                    finding: change.finding,
                    previous: change.previous,
                    changed: false,
                    event_id: None,
                    enqueued: 0,
                }));
            }
            let emitted = emit(
                tx,
                &workflows,
                &change.finding,
                &description,
                STATUS_CHANGED,
                &Transition {
                    previous: Some(change.previous),
                    reason: reason.as_deref(),
                },
                now,
            )?;
            Ok(Ok(StatusOutcome {
                finding: change.finding,
                previous: change.previous,
                changed: true,
                event_id: Some(emitted.event.event_id),
                enqueued: emitted.enqueued,
            }))
        })??;
        Ok(outcome)
    }
}
