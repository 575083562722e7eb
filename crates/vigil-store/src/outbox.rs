//! The workflow outbox: durable, at-least-once delivery of workflow tasks.
//!
//! A task is enqueued in the same transaction as the event that triggers it, keyed by an
//! idempotency key (finding, workflow, task) so it is never enqueued twice. Workers *lease*
//! due tasks: a lease names its owner and expires, so a worker that dies mid-delivery loses
//! its tasks to another after the lease; two workers never hold the same task at once.
//! Completion and failure are fenced by the owner: a worker whose lease was taken over cannot
//! complete or fail the task any more.
//!
//! A task may wait for others (`after`, by idempotency key): it is not due while any of them
//! is pending or in flight. A delivered task keeps its `result`, which its dependants read.

use std::time::Duration;

use serde_json::Value;

use crate::event::EventSeq;
use crate::finding::FindingId;
use crate::time::Timestamp;

/// An outbox row id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OutboxId(pub i64);

/// A task to enqueue.
#[derive(Clone, Debug, PartialEq)]
pub struct OutboxInput {
    /// The finding it is about.
    pub finding_id: Option<FindingId>,
    /// The event that triggered it.
    pub event_seq: Option<EventSeq>,
    /// Workflow name.
    pub workflow: String,
    /// Task name (or index) within the workflow.
    pub task: String,
    /// Unique per delivery: enqueuing the same key again does nothing.
    pub idempotency_key: String,
    /// What the delivery is about (the finding id as text, or an event id).
    pub subject: Option<String>,
    /// Idempotency keys of the tasks that must be finished (delivered or dead) first;
    /// unknown keys do not block.
    pub after: Vec<String>,
    /// What the worker needs to deliver it.
    pub payload: Value,
    /// Not due before.
    pub not_before: Timestamp,
}

/// The result of [`crate::WriteTx::enqueue`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Enqueued {
    /// The task's row (existing one when the key was known).
    pub id: OutboxId,
    /// Newly enqueued, rather than already there.
    pub created: bool,
}

/// A task's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OutboxStatus {
    /// Waiting for `next_attempt_at`.
    Pending,
    /// Leased by a worker.
    InFlight,
    /// Done.
    Delivered,
    /// Given up on.
    Dead,
}

impl OutboxStatus {
    /// Every status.
    pub const ALL: [OutboxStatus; 4] = [
        OutboxStatus::Pending,
        OutboxStatus::InFlight,
        OutboxStatus::Delivered,
        OutboxStatus::Dead,
    ];

    /// `pending`, `in_flight`, `delivered`, `dead`.
    pub fn as_str(self) -> &'static str {
        match self {
            OutboxStatus::Pending => "pending",
            OutboxStatus::InFlight => "in_flight",
            OutboxStatus::Delivered => "delivered",
            OutboxStatus::Dead => "dead",
        }
    }

    /// The status spelled `text`.
    pub fn parse(text: &str) -> Option<OutboxStatus> {
        OutboxStatus::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

/// A task as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct OutboxItem {
    /// Row id.
    pub id: OutboxId,
    /// The finding.
    pub finding_id: Option<FindingId>,
    /// The triggering event.
    pub event_seq: Option<EventSeq>,
    /// Workflow name.
    pub workflow: String,
    /// Task name.
    pub task: String,
    /// Idempotency key.
    pub idempotency_key: String,
    /// What the delivery is about.
    pub subject: Option<String>,
    /// Keys of the tasks it waits for.
    pub after: Vec<String>,
    /// Payload.
    pub payload: Value,
    /// The action's result once delivered.
    pub result: Option<Value>,
    /// State.
    pub status: OutboxStatus,
    /// Leases taken so far (this one included, for a leased item).
    pub attempts: u32,
    /// Next due time.
    pub next_attempt_at: Timestamp,
    /// The last failure's message.
    pub last_error: Option<String>,
    /// The lease holder.
    pub lease_owner: Option<String>,
    /// When the lease expires.
    pub lease_expires_at: Option<Timestamp>,
    /// Enqueued at.
    pub created_at: Timestamp,
    /// Delivered at.
    pub delivered_at: Option<Timestamp>,
}

/// What to do after a failed delivery.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Retry {
    /// Due again after this long.
    After(Duration),
    /// Give up: the task becomes `dead` (visible, never retried).
    Never,
}

/// Tasks per status.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OutboxCounts {
    /// Pending.
    pub pending: u64,
    /// In flight.
    pub in_flight: u64,
    /// Delivered.
    pub delivered: u64,
    /// Dead.
    pub dead: u64,
}
