//! The outbox seam: durable, at-least-once delivery of workflow tasks.
//!
//! One item per (finding, workflow, task), keyed by its [idempotency key](idempotency_key):
//! enqueuing a known key does nothing, so a finding never notifies a sink twice however often
//! its event is seen. Workers *lease* due items; a lease names its owner and expires, so a
//! worker killed mid-delivery loses its items to the next one after the lease — the only
//! state is in the outbox, which is what makes the dispatcher restart-safe. Completion and
//! failure are fenced by the lease owner.
//!
//! An item may wait for others (`after`): it is not due while any of them is pending or in
//! flight. Finished items keep their result, which dependants read (`tasks.ownership.team`).
//!
//! [`MemoryOutbox`] is the reference implementation for tests; the store-backed one (the
//! `outbox` table of `vigil-store`) implements the same trait.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Duration;

use serde_json::Value;

use crate::error::OutboxError;

/// An item's id within its outbox.
pub type ItemId = u64;

/// The idempotency key of (subject, workflow, task): the three parts percent-encoded (every
/// byte outside `[A-Za-z0-9._-]`) and joined with `/` — readable (`42/malicious-package/slack`),
/// unambiguous, and safe in an HTTP header.
pub fn idempotency_key(subject: &str, workflow: &str, task: &str) -> String {
    let mut out = String::with_capacity(subject.len() + workflow.len() + task.len() + 2);
    for (i, part) in [subject, workflow, task].into_iter().enumerate() {
        if i > 0 {
            out.push('/');
        }
        for b in part.bytes() {
            if b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-') {
                out.push(char::from(b));
            } else {
                let _ = write!(out, "%{b:02X}");
            }
        }
    }
    out
}

/// An item to enqueue.
#[derive(Clone, Debug, PartialEq)]
pub struct NewItem {
    /// Unique per delivery; see [`idempotency_key`].
    pub key: String,
    /// The finding (or event) id it is about.
    pub subject: String,
    /// Workflow name.
    pub workflow: String,
    /// Task name.
    pub task: String,
    /// Keys of the items that must finish first.
    pub after: Vec<String>,
    /// What the worker needs: `{"event": {...}}`.
    pub payload: Value,
    /// Not due before (unix ms).
    pub not_before_ms: i64,
}

/// An item's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ItemStatus {
    /// Waiting to be due.
    Pending,
    /// Leased by a worker.
    InFlight,
    /// Done.
    Delivered,
    /// Given up on: visible, never retried unless requeued.
    Dead,
}

impl ItemStatus {
    /// `pending`, `in_flight`, `delivered`, `dead` (the store's spelling).
    pub fn as_str(self) -> &'static str {
        match self {
            ItemStatus::Pending => "pending",
            ItemStatus::InFlight => "in_flight",
            ItemStatus::Delivered => "delivered",
            ItemStatus::Dead => "dead",
        }
    }

    /// Delivered or dead.
    pub fn is_finished(self) -> bool {
        matches!(self, ItemStatus::Delivered | ItemStatus::Dead)
    }
}

/// An item as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct OutboxItem {
    /// Id.
    pub id: ItemId,
    /// Idempotency key.
    pub key: String,
    /// The finding (or event) id.
    pub subject: String,
    /// Workflow name.
    pub workflow: String,
    /// Task name.
    pub task: String,
    /// Keys of the items it waits for.
    pub after: Vec<String>,
    /// Payload.
    pub payload: Value,
    /// State.
    pub status: ItemStatus,
    /// Leases taken so far (including the current one), minus releases.
    pub attempts: u32,
    /// Due at (unix ms).
    pub next_attempt_ms: i64,
    /// The last failure.
    pub last_error: Option<String>,
    /// The action's result once delivered.
    pub result: Option<Value>,
    /// Lease holder.
    pub lease_owner: Option<String>,
    /// Lease expiry (unix ms).
    pub lease_expires_ms: Option<i64>,
    /// Enqueued at (unix ms).
    pub created_ms: i64,
    /// Delivered at (unix ms).
    pub delivered_ms: Option<i64>,
}

/// What to do after a failed attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Retry {
    /// Due again after this long.
    After(Duration),
    /// Dead-letter it.
    Never,
}

/// Items per status.
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

/// The durable queue behind the dispatcher. Every method is one short transaction; times are
/// passed in (unix ms) so tests control them and replicas agree on whose clock counts.
pub trait Outbox: Send + Sync {
    /// Enqueues items atomically (all of one event's tasks or none); returns, per item,
    /// whether it was new (false: its key was already known, nothing changed).
    fn enqueue(&self, items: Vec<NewItem>, now_ms: i64) -> Result<Vec<bool>, OutboxError>;

    /// Leases up to `limit` due items for `owner` until `now + lease`: pending items due by
    /// now whose `after` items are all finished (or unknown), and in-flight items whose lease
    /// expired (their worker died). Each lease counts as an attempt. Oldest due first.
    fn lease_due(
        &self,
        owner: &str,
        now_ms: i64,
        lease: Duration,
        limit: usize,
    ) -> Result<Vec<OutboxItem>, OutboxError>;

    /// Marks a leased item delivered with its result. [`OutboxError::LeaseLost`] when
    /// `owner` no longer holds it.
    fn complete(
        &self,
        id: ItemId,
        owner: &str,
        now_ms: i64,
        result: Value,
    ) -> Result<(), OutboxError>;

    /// Records a failed attempt: due again later, or dead.
    fn fail(
        &self,
        id: ItemId,
        owner: &str,
        now_ms: i64,
        error: &str,
        retry: Retry,
    ) -> Result<(), OutboxError>;

    /// Gives a leased item back without counting the attempt (a rate limit said "not yet").
    fn release(&self, id: ItemId, owner: &str, not_before_ms: i64) -> Result<(), OutboxError>;

    /// The items with these keys (unknown keys are left out).
    fn get_by_keys(&self, keys: &[String]) -> Result<Vec<OutboxItem>, OutboxError>;

    /// Items, newest first, optionally of one status (for `vigil workflows runs`).
    fn list(
        &self,
        status: Option<ItemStatus>,
        limit: usize,
    ) -> Result<Vec<OutboxItem>, OutboxError>;

    /// Puts a dead item back in the queue with its attempts reset (an operator fixed the sink).
    fn requeue(&self, id: ItemId, now_ms: i64) -> Result<(), OutboxError>;

    /// Items per status.
    fn counts(&self) -> Result<OutboxCounts, OutboxError>;
}

/// An outbox in memory: for tests and for `vigil scan`-style one-shot runs. Operations are
/// linear in the number of items.
#[derive(Debug, Default)]
pub struct MemoryOutbox {
    inner: Mutex<Memory>,
}

#[derive(Debug, Default)]
struct Memory {
    items: Vec<OutboxItem>,
    by_key: HashMap<String, usize>,
}

impl MemoryOutbox {
    /// An empty outbox.
    pub fn new() -> MemoryOutbox {
        MemoryOutbox::default()
    }

    fn with<T>(
        &self,
        f: impl FnOnce(&mut Memory) -> Result<T, OutboxError>,
    ) -> Result<T, OutboxError> {
        let mut guard = self
            .inner
            .lock()
            .map_err(|_| OutboxError::Store("memory outbox lock poisoned".into()))?;
        f(&mut guard)
    }
}

impl Memory {
    fn leased_mut(&mut self, id: ItemId, owner: &str) -> Result<&mut OutboxItem, OutboxError> {
        let item = usize::try_from(id)
            .ok()
            .and_then(|i| self.items.get_mut(i))
            .ok_or(OutboxError::NotFound(id))?;
        if item.status != ItemStatus::InFlight || item.lease_owner.as_deref() != Some(owner) {
            return Err(OutboxError::LeaseLost(id));
        }
        Ok(item)
    }

    fn blocked(&self, item: &OutboxItem) -> bool {
        item.after.iter().any(|k| {
            self.by_key
                .get(k)
                .and_then(|&i| self.items.get(i))
                .is_some_and(|dep| !dep.status.is_finished())
        })
    }
}

impl Outbox for MemoryOutbox {
    fn enqueue(&self, items: Vec<NewItem>, now_ms: i64) -> Result<Vec<bool>, OutboxError> {
        self.with(|m| {
            let mut created = Vec::with_capacity(items.len());
            for new in items {
                if m.by_key.contains_key(&new.key) {
                    created.push(false);
                    continue;
                }
                let id = m.items.len() as ItemId;
                m.by_key.insert(new.key.clone(), m.items.len());
                m.items.push(OutboxItem {
                    id,
                    key: new.key,
                    subject: new.subject,
                    workflow: new.workflow,
                    task: new.task,
                    after: new.after,
                    payload: new.payload,
                    status: ItemStatus::Pending,
                    attempts: 0,
                    next_attempt_ms: new.not_before_ms,
                    last_error: None,
                    result: None,
                    lease_owner: None,
                    lease_expires_ms: None,
                    created_ms: now_ms,
                    delivered_ms: None,
                });
                created.push(true);
            }
            Ok(created)
        })
    }

    fn lease_due(
        &self,
        owner: &str,
        now_ms: i64,
        lease: Duration,
        limit: usize,
    ) -> Result<Vec<OutboxItem>, OutboxError> {
        self.with(|m| {
            let mut due: Vec<(i64, usize)> = m
                .items
                .iter()
                .enumerate()
                .filter(|(_, it)| match it.status {
                    ItemStatus::Pending => it.next_attempt_ms <= now_ms && !m.blocked(it),
                    ItemStatus::InFlight => it.lease_expires_ms.is_some_and(|e| e <= now_ms),
                    _ => false,
                })
                .map(|(i, it)| (it.next_attempt_ms, i))
                .collect();
            due.sort_unstable();
            due.truncate(limit);
            let expires =
                now_ms.saturating_add(i64::try_from(lease.as_millis()).unwrap_or(i64::MAX));
            let mut out = Vec::with_capacity(due.len());
            for (_, i) in due {
                if let Some(it) = m.items.get_mut(i) {
                    it.status = ItemStatus::InFlight;
                    it.attempts = it.attempts.saturating_add(1);
                    it.lease_owner = Some(owner.to_owned());
                    it.lease_expires_ms = Some(expires);
                    out.push(it.clone());
                }
            }
            Ok(out)
        })
    }

    fn complete(
        &self,
        id: ItemId,
        owner: &str,
        now_ms: i64,
        result: Value,
    ) -> Result<(), OutboxError> {
        self.with(|m| {
            let it = m.leased_mut(id, owner)?;
            it.status = ItemStatus::Delivered;
            it.result = Some(result);
            it.delivered_ms = Some(now_ms);
            it.lease_owner = None;
            it.lease_expires_ms = None;
            Ok(())
        })
    }

    fn fail(
        &self,
        id: ItemId,
        owner: &str,
        now_ms: i64,
        error: &str,
        retry: Retry,
    ) -> Result<(), OutboxError> {
        self.with(|m| {
            let it = m.leased_mut(id, owner)?;
            it.last_error = Some(error.to_owned());
            it.lease_owner = None;
            it.lease_expires_ms = None;
            match retry {
                Retry::After(d) => {
                    it.status = ItemStatus::Pending;
                    it.next_attempt_ms =
                        now_ms.saturating_add(i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
                }
                Retry::Never => it.status = ItemStatus::Dead,
            }
            Ok(())
        })
    }

    fn release(&self, id: ItemId, owner: &str, not_before_ms: i64) -> Result<(), OutboxError> {
        self.with(|m| {
            let it = m.leased_mut(id, owner)?;
            it.status = ItemStatus::Pending;
            it.attempts = it.attempts.saturating_sub(1);
            it.next_attempt_ms = not_before_ms;
            it.lease_owner = None;
            it.lease_expires_ms = None;
            Ok(())
        })
    }

    fn get_by_keys(&self, keys: &[String]) -> Result<Vec<OutboxItem>, OutboxError> {
        self.with(|m| {
            Ok(keys
                .iter()
                .filter_map(|k| m.by_key.get(k).and_then(|&i| m.items.get(i)).cloned())
                .collect())
        })
    }

    fn list(
        &self,
        status: Option<ItemStatus>,
        limit: usize,
    ) -> Result<Vec<OutboxItem>, OutboxError> {
        self.with(|m| {
            Ok(m.items
                .iter()
                .rev()
                .filter(|it| status.is_none_or(|s| it.status == s))
                .take(limit)
                .cloned()
                .collect())
        })
    }

    fn requeue(&self, id: ItemId, now_ms: i64) -> Result<(), OutboxError> {
        self.with(|m| {
            let it = usize::try_from(id)
                .ok()
                .and_then(|i| m.items.get_mut(i))
                .ok_or(OutboxError::NotFound(id))?;
            if it.status == ItemStatus::Dead {
                it.status = ItemStatus::Pending;
                it.attempts = 0;
                it.next_attempt_ms = now_ms;
            }
            Ok(())
        })
    }

    fn counts(&self) -> Result<OutboxCounts, OutboxError> {
        self.with(|m| {
            let mut c = OutboxCounts::default();
            for it in &m.items {
                match it.status {
                    ItemStatus::Pending => c.pending += 1,
                    ItemStatus::InFlight => c.in_flight += 1,
                    ItemStatus::Delivered => c.delivered += 1,
                    ItemStatus::Dead => c.dead += 1,
                }
            }
            Ok(c)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn item(key: &str, after: &[&str]) -> NewItem {
        NewItem {
            key: key.into(),
            subject: "1".into(),
            workflow: "w".into(),
            task: key.into(),
            after: after.iter().map(|s| s.to_string()).collect(),
            payload: json!({}),
            not_before_ms: 0,
        }
    }

    const LEASE: Duration = Duration::from_millis(1000);

    proptest::proptest! {
        #[test]
        fn keys_are_injective_and_header_safe(a in ".{0,12}", b in ".{0,12}", c in ".{0,12}", d in ".{0,12}") {
            let k1 = idempotency_key(&a, &b, &c);
            let k2 = idempotency_key(&b, &a, &d);
            proptest::prop_assert!(k1.bytes().all(|x| x.is_ascii_graphic()));
            proptest::prop_assert!(reqwest::header::HeaderValue::from_str(&k1).is_ok());
            proptest::prop_assert_eq!(k1 == k2, (a == b) && (c == d));
        }
    }

    #[test]
    fn keys_are_readable_and_header_safe() {
        assert_eq!(
            idempotency_key("42", "malicious-package", "slack"),
            "42/malicious-package/slack"
        );
        assert_eq!(idempotency_key("a/b", "w x", "\n"), "a%2Fb/w%20x/%0A");
    }

    #[test]
    fn enqueue_is_idempotent() {
        let o = MemoryOutbox::new();
        assert_eq!(
            o.enqueue(vec![item("a", &[]), item("b", &[])], 0).unwrap(),
            vec![true, true]
        );
        assert_eq!(
            o.enqueue(vec![item("a", &[]), item("c", &[])], 1).unwrap(),
            vec![false, true]
        );
        assert_eq!(o.counts().unwrap().pending, 3);
    }

    #[test]
    fn leases_expire_and_are_fenced() {
        let o = MemoryOutbox::new();
        o.enqueue(vec![item("a", &[])], 0).unwrap();
        let got = o.lease_due("w1", 0, LEASE, 10).unwrap();
        assert_eq!(got.len(), 1);
        assert!(o.lease_due("w2", 999, LEASE, 10).unwrap().is_empty());
        let again = o.lease_due("w2", 1000, LEASE, 10).unwrap();
        assert_eq!(again.len(), 1);
        assert_eq!(again[0].attempts, 2);
        assert_eq!(
            o.complete(0, "w1", 1001, json!(1)),
            Err(OutboxError::LeaseLost(0))
        );
        o.complete(0, "w2", 1001, json!({"ok": true})).unwrap();
        assert_eq!(o.counts().unwrap().delivered, 1);
        assert!(o.lease_due("w3", 99_999, LEASE, 10).unwrap().is_empty());
    }

    #[test]
    fn failures_back_off_then_die_and_can_be_requeued() {
        let o = MemoryOutbox::new();
        o.enqueue(vec![item("a", &[])], 0).unwrap();
        o.lease_due("w", 0, LEASE, 1).unwrap();
        o.fail(0, "w", 10, "boom", Retry::After(Duration::from_millis(90)))
            .unwrap();
        assert!(o.lease_due("w", 99, LEASE, 1).unwrap().is_empty());
        assert_eq!(o.lease_due("w", 100, LEASE, 1).unwrap().len(), 1);
        o.fail(0, "w", 100, "boom", Retry::Never).unwrap();
        assert_eq!(o.counts().unwrap().dead, 1);
        assert_eq!(
            o.list(Some(ItemStatus::Dead), 10).unwrap()[0]
                .last_error
                .as_deref(),
            Some("boom")
        );
        o.requeue(0, 200).unwrap();
        assert_eq!(o.lease_due("w", 200, LEASE, 1).unwrap()[0].attempts, 1);
    }

    #[test]
    fn dependants_wait_for_their_dependencies() {
        let o = MemoryOutbox::new();
        o.enqueue(
            vec![
                item("own", &[]),
                item("slack", &["own"]),
                item("x", &["unknown"]),
            ],
            0,
        )
        .unwrap();
        let first: Vec<String> = o
            .lease_due("w", 0, LEASE, 10)
            .unwrap()
            .into_iter()
            .map(|i| i.key)
            .collect();
        assert_eq!(first, vec!["own", "x"]);
        assert!(o.lease_due("w", 0, LEASE, 10).unwrap().is_empty());
        o.complete(0, "w", 1, json!({"team": "t"})).unwrap();
        let next = o.lease_due("w", 1, LEASE, 10).unwrap();
        assert_eq!(next[0].key, "slack");
        assert_eq!(
            o.get_by_keys(&["own".into()]).unwrap()[0].result,
            Some(json!({"team": "t"}))
        );
        o.release(next[0].id, "w", 500).unwrap();
        assert!(o.lease_due("w", 499, LEASE, 10).unwrap().is_empty());
        assert_eq!(o.lease_due("w", 500, LEASE, 10).unwrap()[0].attempts, 1);
    }
}
