//! The delivery engine: events in, outbox items out ([`plan`], [`trigger`]), and the
//! [`Dispatcher`] that leases due items, runs their actions and records the outcome.
//!
//! Restart safety comes from keeping no state outside the outbox: a dispatcher holds only
//! leases, which expire. Killed mid-delivery, its items are taken over after `delivery.lease`
//! and delivered again with the same idempotency key — at-least-once delivery, exactly-once
//! effect at every sink that honours the key (Jira through its label search).
//!
//! Failures retry with exponential backoff and jitter up to `delivery.backoff_cap`; after
//! `max_attempts`, or at once for a permanent error, the item is dead-lettered — visible in
//! the outbox with its last error, never silently dropped.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Map, Value, json};

use crate::action::{ActionServices, TaskRun};
use crate::config::WorkflowSet;
use crate::error::{ActionError, OutboxError};
use crate::event::{extend, subject_id};
use crate::outbox::{NewItem, Outbox, OutboxItem, Retry, idempotency_key};
use crate::rate::{RateLimiter, backoff};

/// A clock in unix milliseconds.
pub trait Clock: Send + Sync {
    /// Now.
    fn now_ms(&self) -> i64;
}

/// The system clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
    }
}

/// The outbox items an event calls for: one per task of every matching workflow. Events
/// without a finding or event id trigger nothing (there would be no idempotency key).
pub fn plan(set: &WorkflowSet, event: &Value, now_ms: i64) -> Vec<NewItem> {
    let Some(subject) = subject_id(event) else {
        return Vec::new();
    };
    let mut items = Vec::new();
    for workflow in set.workflows.iter().filter(|w| w.matches(event)) {
        for task in &workflow.tasks {
            items.push(NewItem {
                key: idempotency_key(&subject, &workflow.name, &task.name),
                subject: subject.clone(),
                workflow: workflow.name.clone(),
                task: task.name.clone(),
                after: task
                    .after
                    .iter()
                    .map(|dep| idempotency_key(&subject, &workflow.name, dep))
                    .collect(),
                payload: json!({ "event": event }),
                not_before_ms: now_ms,
            });
        }
    }
    items
}

/// What [`trigger`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Triggered {
    /// Items newly enqueued.
    pub enqueued: usize,
    /// Items already known (the finding had been handled).
    pub duplicates: usize,
}

/// Enqueues the items an event calls for, atomically.
pub fn trigger(
    set: &WorkflowSet,
    outbox: &dyn Outbox,
    event: &Value,
    now_ms: i64,
) -> Result<Triggered, OutboxError> {
    let items = plan(set, event, now_ms);
    if items.is_empty() {
        return Ok(Triggered::default());
    }
    let created = outbox.enqueue(items, now_ms)?;
    let enqueued = created.iter().filter(|c| **c).count();
    Ok(Triggered {
        enqueued,
        duplicates: created.len() - enqueued,
    })
}

/// Undoes the freezes of every `quarantine` task delivered for `subject` (a finding id):
/// what `vigil findings resolve ID --thaw` runs. Returns one thaw report per task.
pub fn thaw_finding(
    set: &WorkflowSet,
    outbox: &dyn Outbox,
    subject: &str,
    services: &ActionServices,
) -> Result<Vec<Value>, ActionError> {
    let keys: Vec<String> = set
        .workflows
        .iter()
        .flat_map(|w| {
            w.tasks
                .iter()
                .filter(|t| t.action.kind() == crate::action::ActionKind::Quarantine)
                .map(|t| idempotency_key(subject, &w.name, &t.name))
        })
        .collect();
    let items = outbox
        .get_by_keys(&keys)
        .map_err(|e| ActionError::retryable(e.to_string()))?;
    let mut reports = Vec::new();
    for item in items {
        if let Some(result) = &item.result
            && (result.get("mode").and_then(Value::as_str) == Some("freeze")
                || result.get("nftables_table").is_some())
        {
            let mut report = crate::action::quarantine::thaw(result, services)?;
            if let Some(obj) = report.as_object_mut() {
                obj.insert("workflow".into(), Value::String(item.workflow.clone()));
                obj.insert("task".into(), Value::String(item.task.clone()));
            }
            reports.push(report);
        }
    }
    Ok(reports)
}

/// What one [`Dispatcher::run_once`] pass did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DispatchReport {
    /// Items leased.
    pub leased: usize,
    /// Delivered.
    pub delivered: usize,
    /// Failed, to be retried.
    pub retried: usize,
    /// Dead-lettered.
    pub dead: usize,
    /// Given back because of a rate limit.
    pub deferred: usize,
    /// Finished after another worker took the lease over (result discarded).
    pub lost: usize,
}

/// The longest a dispatcher waits in-process for a rate-limit token before giving the item
/// back to the outbox with a later due time.
const MAX_RATE_WAIT: Duration = Duration::from_secs(2);

/// Leases due outbox items and delivers them.
pub struct Dispatcher {
    set: Arc<WorkflowSet>,
    outbox: Arc<dyn Outbox>,
    services: ActionServices,
    clock: Arc<dyn Clock>,
    worker: String,
    limiter: Mutex<RateLimiter>,
    wake: tokio::sync::Notify,
}

enum Outcome {
    Delivered,
    Retried,
    Dead,
    Deferred,
    Lost,
}

impl Dispatcher {
    /// A dispatcher called `worker` (unique per process: host and pid, say).
    pub fn new(
        set: Arc<WorkflowSet>,
        outbox: Arc<dyn Outbox>,
        services: ActionServices,
        clock: Arc<dyn Clock>,
        worker: impl Into<String>,
    ) -> Arc<Dispatcher> {
        Arc::new(Dispatcher {
            set,
            outbox,
            services,
            clock,
            worker: worker.into(),
            limiter: Mutex::new(RateLimiter::new()),
            wake: tokio::sync::Notify::new(),
        })
    }

    /// Wakes an idle [`run_until`](Dispatcher::run_until) now instead of at its next poll:
    /// call it after [`trigger`] enqueued something, for sub-poll-interval latency.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Leases one batch of due items and delivers them concurrently.
    pub async fn run_once(self: &Arc<Self>) -> Result<DispatchReport, OutboxError> {
        let now = self.clock.now_ms();
        let d = &self.set.delivery;
        let (worker, lease, concurrency) = (self.worker.clone(), d.lease, d.concurrency);
        let items = self
            .outbox_call(move |o| o.lease_due(&worker, now, lease, concurrency))
            .await?;
        let mut report = DispatchReport {
            leased: items.len(),
            ..DispatchReport::default()
        };
        let mut running = tokio::task::JoinSet::new();
        for item in items {
            let me = Arc::clone(self);
            running.spawn(async move { me.deliver(item).await });
        }
        while let Some(joined) = running.join_next().await {
            match joined {
                Ok(Ok(Outcome::Delivered)) => report.delivered += 1,
                Ok(Ok(Outcome::Retried)) => report.retried += 1,
                Ok(Ok(Outcome::Dead)) => report.dead += 1,
                Ok(Ok(Outcome::Deferred)) => report.deferred += 1,
                Ok(Ok(Outcome::Lost)) => report.lost += 1,
                // A store error or a panicking action: the lease expires and the item is
                // retried by whoever leases it next.
                Ok(Err(_)) | Err(_) => report.retried += 1,
            }
        }
        Ok(report)
    }

    /// Runs until `shutdown` resolves: a pass, then a pause of `poll_interval` when there
    /// was nothing to do. Outbox errors are retried after the pause.
    pub async fn run_until(self: &Arc<Self>, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            let busy = matches!(self.run_once().await, Ok(r) if r.leased > 0);
            if !busy {
                tokio::select! {
                    () = &mut shutdown => return,
                    () = self.wake.notified() => {}
                    () = tokio::time::sleep(self.set.delivery.poll_interval) => {}
                }
            } else if futures_ready(&mut shutdown).await {
                return;
            }
        }
    }

    /// Runs an outbox call on a blocking thread. Outboxes are synchronous (SQLite; the
    /// synchronous PostgreSQL client, which drives a runtime of its own and panics when called
    /// on one of this runtime's workers), and a store round trip must not stall the workers
    /// that deliver.
    async fn outbox_call<T: Send + 'static>(
        &self,
        f: impl FnOnce(&dyn Outbox) -> Result<T, OutboxError> + Send + 'static,
    ) -> Result<T, OutboxError> {
        let outbox = Arc::clone(&self.outbox);
        tokio::task::spawn_blocking(move || f(outbox.as_ref()))
            .await
            .map_err(|e| OutboxError::Store(format!("outbox call failed: {e}")))?
    }

    async fn deliver(&self, item: OutboxItem) -> Result<Outcome, OutboxError> {
        let Some(workflow) = self.set.workflow(&item.workflow) else {
            return self
                .finish(
                    &item,
                    Err(ActionError::permanent(format!(
                        "workflow `{}` is no longer configured",
                        item.workflow
                    ))),
                    1,
                )
                .await;
        };
        let Some(task) = workflow.task(&item.task) else {
            return self
                .finish(
                    &item,
                    Err(ActionError::permanent(format!(
                        "task `{}` is no longer configured",
                        item.task
                    ))),
                    1,
                )
                .await;
        };
        let max_attempts = task.max_attempts.unwrap_or(self.set.delivery.max_attempts);

        // Waiting for a token happens under the lease: never so long that the lease could
        // expire before the task's own timeout has run out.
        let d = &self.set.delivery;
        let max_wait = MAX_RATE_WAIT.min(d.lease.saturating_sub(d.task_timeout) / 2);
        if let (Some(sink), Some(rate)) = (
            task.action.sink(),
            task.rate_limit.or(task.action.default_rate()),
        ) {
            loop {
                let wait = match self.limiter.lock() {
                    Ok(mut l) => l.try_take(&sink, rate, self.clock.now_ms()),
                    Err(_) => Ok(()),
                };
                match wait {
                    Ok(()) => break,
                    Err(w) if w <= max_wait => tokio::time::sleep(w).await,
                    Err(w) => {
                        let not_before = self
                            .clock
                            .now_ms()
                            .saturating_add(i64::try_from(w.as_millis()).unwrap_or(i64::MAX));
                        let (id, worker) = (item.id, self.worker.clone());
                        let released = self
                            .outbox_call(move |o| o.release(id, &worker, not_before))
                            .await;
                        return match released {
                            Ok(()) => Ok(Outcome::Deferred),
                            Err(OutboxError::LeaseLost(_)) => Ok(Outcome::Lost),
                            Err(e) => Err(e),
                        };
                    }
                }
            }
        }

        // Results and event additions of the tasks this one runs after.
        let mut event = item.payload.get("event").cloned().unwrap_or(Value::Null);
        let mut tasks = Map::new();
        if !task.after.is_empty() {
            let after = item.after.clone();
            for dep in self.outbox_call(move |o| o.get_by_keys(&after)).await? {
                if let Some(result) = dep.result {
                    if let Some(Value::Object(additions)) = result.get("event") {
                        extend(&mut event, additions);
                    }
                    tasks.insert(dep.task.clone(), result);
                }
            }
        }
        let run = TaskRun {
            event: &event,
            tasks: &tasks,
            workflow: &item.workflow,
            task: &item.task,
            subject: &item.subject,
            idempotency_key: &item.key,
            set: &self.set,
            services: &self.services,
        };
        let outcome =
            match tokio::time::timeout(self.set.delivery.task_timeout, task.action.run(&run)).await
            {
                Ok(r) => r,
                Err(_) => Err(ActionError::retryable(format!(
                    "timed out after {:?}",
                    self.set.delivery.task_timeout
                ))),
            };
        self.finish(&item, outcome, max_attempts).await
    }

    async fn finish(
        &self,
        item: &OutboxItem,
        outcome: Result<Value, ActionError>,
        max_attempts: u32,
    ) -> Result<Outcome, OutboxError> {
        let now = self.clock.now_ms();
        let (id, worker) = (item.id, self.worker.clone());
        let result = match outcome {
            Ok(value) => self
                .outbox_call(move |o| o.complete(id, &worker, now, value))
                .await
                .map(|()| Outcome::Delivered),
            Err(e) if e.retryable && item.attempts < max_attempts => {
                let d = &self.set.delivery;
                let delay = backoff(item.attempts, d.backoff_base, d.backoff_cap, &item.key)
                    .max(e.retry_after.unwrap_or_default());
                self.outbox_call(move |o| o.fail(id, &worker, now, &e.message, Retry::After(delay)))
                    .await
                    .map(|()| Outcome::Retried)
            }
            Err(e) => {
                let message = if e.retryable {
                    format!("{} (gave up after {} attempts)", e.message, item.attempts)
                } else {
                    e.message
                };
                self.outbox_call(move |o| o.fail(id, &worker, now, &message, Retry::Never))
                    .await
                    .map(|()| Outcome::Dead)
            }
        };
        match result {
            Err(OutboxError::LeaseLost(_)) => Ok(Outcome::Lost),
            other => other,
        }
    }
}

/// Has `shutdown` resolved already? (Polls it once without waiting.)
async fn futures_ready<F: std::future::Future<Output = ()> + Unpin>(shutdown: &mut F) -> bool {
    tokio::select! {
        biased;
        () = shutdown => true,
        () = std::future::ready(()) => false,
    }
}
