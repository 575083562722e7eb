//! vigil-workflow's [`Outbox`] on the store's `outbox` table: what makes delivery durable.
//!
//! The detection engine does not go through this type to enqueue: it writes outbox rows in
//! the same transaction as the finding and its event ([`enqueue_in`]), so a finding, its event
//! and its notifications commit together or not at all. The dispatcher leases, completes and
//! fails through [`StoreOutbox`].

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use vigil_store::{
    EventSeq, FindingId, OutboxId, OutboxInput, OutboxStatus, Store, StoreError, Timestamp, WriteTx,
};
use vigil_workflow::outbox::{ItemId, OutboxCounts, OutboxItem};
use vigil_workflow::{ItemStatus, NewItem, Outbox, OutboxError, Retry, WorkflowSet};

/// The durable outbox.
#[derive(Clone, Debug)]
pub struct StoreOutbox {
    store: Arc<Store>,
}

impl StoreOutbox {
    /// An outbox over `store`.
    pub fn new(store: Arc<Store>) -> StoreOutbox {
        StoreOutbox { store }
    }
}

fn store_error(e: StoreError) -> OutboxError {
    OutboxError::Store(e.to_string())
}

fn row_id(id: ItemId) -> Result<OutboxId, OutboxError> {
    i64::try_from(id)
        .map(OutboxId)
        .map_err(|_| OutboxError::NotFound(id))
}

fn item_id(id: OutboxId) -> ItemId {
    u64::try_from(id.0).unwrap_or_default()
}

fn status(s: OutboxStatus) -> ItemStatus {
    match s {
        OutboxStatus::Pending => ItemStatus::Pending,
        OutboxStatus::InFlight => ItemStatus::InFlight,
        OutboxStatus::Delivered => ItemStatus::Delivered,
        OutboxStatus::Dead => ItemStatus::Dead,
    }
}

fn store_status(s: ItemStatus) -> OutboxStatus {
    match s {
        ItemStatus::Pending => OutboxStatus::Pending,
        ItemStatus::InFlight => OutboxStatus::InFlight,
        ItemStatus::Delivered => OutboxStatus::Delivered,
        ItemStatus::Dead => OutboxStatus::Dead,
    }
}

fn convert(item: vigil_store::OutboxItem) -> OutboxItem {
    OutboxItem {
        id: item_id(item.id),
        subject: item
            .subject
            .or_else(|| item.finding_id.map(|f| f.0.to_string()))
            .unwrap_or_default(),
        key: item.idempotency_key,
        workflow: item.workflow,
        task: item.task,
        after: item.after,
        payload: item.payload,
        status: status(item.status),
        attempts: item.attempts,
        next_attempt_ms: item.next_attempt_at.unix_millis(),
        last_error: item.last_error,
        result: item.result,
        lease_owner: item.lease_owner,
        lease_expires_ms: item.lease_expires_at.map(Timestamp::unix_millis),
        created_ms: item.created_at.unix_millis(),
        delivered_ms: item.delivered_at.map(Timestamp::unix_millis),
    }
}

/// The store row for a planned workflow item.
pub fn outbox_input(
    item: NewItem,
    finding: Option<FindingId>,
    event: Option<EventSeq>,
) -> OutboxInput {
    OutboxInput {
        finding_id: finding,
        event_seq: event,
        workflow: item.workflow,
        task: item.task,
        idempotency_key: item.key,
        subject: Some(item.subject),
        after: item.after,
        payload: item.payload,
        not_before: Timestamp::from_unix_millis(item.not_before_ms),
    }
}

/// Enqueues planned items inside an open transaction (the finding's and event's); returns how
/// many were new.
pub fn enqueue_in(
    tx: &mut WriteTx<'_>,
    items: Vec<NewItem>,
    finding: Option<FindingId>,
    event: Option<EventSeq>,
    now: Timestamp,
) -> vigil_store::Result<usize> {
    let mut created = 0;
    for item in items {
        if tx
            .enqueue(&outbox_input(item, finding, event), now)?
            .created
        {
            created += 1;
        }
    }
    Ok(created)
}

/// A workflow run (one outbox item) as the API and `vigil workflows runs` show it. `action`
/// comes from the configuration in use (null when the workflow or task is no longer
/// configured); the payload and result stay out (they are the event, readable elsewhere).
pub fn run_json(item: &vigil_store::OutboxItem, workflows: &WorkflowSet) -> Value {
    let action = workflows
        .workflow(&item.workflow)
        .and_then(|w| w.task(&item.task))
        .map(|t| t.action.kind().name());
    json!({
        "id": item.id.0,
        "finding": item
            .finding_id
            .map(|f| f.0.to_string())
            .or_else(|| item.subject.clone()),
        "workflow": item.workflow,
        "task": item.task,
        "action": action,
        "status": item.status.as_str(),
        "attempts": item.attempts,
        "last_error": item.last_error,
        "next_due": (item.status == OutboxStatus::Pending)
            .then(|| item.next_attempt_at.to_rfc3339()),
        "idempotency_key": item.idempotency_key,
        "created_at": item.created_at.to_rfc3339(),
        "delivered_at": item.delivered_at.map(Timestamp::to_rfc3339),
    })
}

/// What [`retry_run`] did.
#[derive(Clone, Debug, PartialEq)]
pub enum RetryOutcome {
    /// The dead item is pending again, its attempts reset.
    Requeued(Box<vigil_store::OutboxItem>),
    /// The item is not dead (nothing to retry); its status.
    NotDead(OutboxStatus),
    /// No such item.
    NotFound,
}

/// Puts a dead-lettered run back in the queue (`POST /api/v1/workflows/runs/{id}/retry`,
/// `vigil workflows retry ID`): the operator fixed the sink, delivery starts over.
pub fn retry_run(store: &Store, id: OutboxId, now: Timestamp) -> vigil_store::Result<RetryOutcome> {
    let requeued = store.requeue(id, now)?;
    Ok(match store.outbox_item(id)? {
        None => RetryOutcome::NotFound,
        Some(item) if requeued => RetryOutcome::Requeued(Box::new(item)),
        Some(item) => RetryOutcome::NotDead(item.status),
    })
}

impl Outbox for StoreOutbox {
    fn enqueue(&self, items: Vec<NewItem>, now_ms: i64) -> Result<Vec<bool>, OutboxError> {
        let now = Timestamp::from_unix_millis(now_ms);
        self.store
            .write(|tx| {
                items
                    .into_iter()
                    .map(|item| Ok(tx.enqueue(&outbox_input(item, None, None), now)?.created))
                    .collect()
            })
            .map_err(store_error)
    }

    fn lease_due(
        &self,
        owner: &str,
        now_ms: i64,
        lease: Duration,
        limit: usize,
    ) -> Result<Vec<OutboxItem>, OutboxError> {
        self.store
            .lease_due(owner, limit, lease, Timestamp::from_unix_millis(now_ms))
            .map(|items| items.into_iter().map(convert).collect())
            .map_err(store_error)
    }

    fn complete(
        &self,
        id: ItemId,
        owner: &str,
        now_ms: i64,
        result: Value,
    ) -> Result<(), OutboxError> {
        let done = self
            .store
            .complete_with_result(
                row_id(id)?,
                owner,
                &result,
                Timestamp::from_unix_millis(now_ms),
            )
            .map_err(store_error)?;
        if done {
            Ok(())
        } else {
            Err(OutboxError::LeaseLost(id))
        }
    }

    fn fail(
        &self,
        id: ItemId,
        owner: &str,
        now_ms: i64,
        error: &str,
        retry: Retry,
    ) -> Result<(), OutboxError> {
        let retry = match retry {
            Retry::After(d) => vigil_store::Retry::After(d),
            Retry::Never => vigil_store::Retry::Never,
        };
        let done = self
            .store
            .fail(
                row_id(id)?,
                owner,
                error,
                retry,
                Timestamp::from_unix_millis(now_ms),
            )
            .map_err(store_error)?;
        if done {
            Ok(())
        } else {
            Err(OutboxError::LeaseLost(id))
        }
    }

    fn release(&self, id: ItemId, owner: &str, not_before_ms: i64) -> Result<(), OutboxError> {
        let done = self
            .store
            .release(
                row_id(id)?,
                owner,
                Timestamp::from_unix_millis(not_before_ms),
                Timestamp::now(),
            )
            .map_err(store_error)?;
        if done {
            Ok(())
        } else {
            Err(OutboxError::LeaseLost(id))
        }
    }

    fn get_by_keys(&self, keys: &[String]) -> Result<Vec<OutboxItem>, OutboxError> {
        self.store
            .outbox_by_keys(keys)
            .map(|items| items.into_iter().map(convert).collect())
            .map_err(store_error)
    }

    fn list(
        &self,
        status: Option<ItemStatus>,
        limit: usize,
    ) -> Result<Vec<OutboxItem>, OutboxError> {
        self.store
            .list_outbox(status.map(store_status), limit)
            .map(|items| items.into_iter().map(convert).collect())
            .map_err(store_error)
    }

    fn requeue(&self, id: ItemId, now_ms: i64) -> Result<(), OutboxError> {
        let row = row_id(id)?;
        if self
            .store
            .requeue(row, Timestamp::from_unix_millis(now_ms))
            .map_err(store_error)?
        {
            return Ok(());
        }
        // Not dead: a no-op, as in the reference outbox; unknown: an error.
        match self.store.outbox_item(row).map_err(store_error)? {
            Some(_) => Ok(()),
            None => Err(OutboxError::NotFound(id)),
        }
    }

    fn counts(&self) -> Result<OutboxCounts, OutboxError> {
        let c = self.store.outbox_counts().map_err(store_error)?;
        Ok(OutboxCounts {
            pending: c.pending,
            in_flight: c.in_flight,
            delivered: c.delivered,
            dead: c.dead,
        })
    }
}

#[cfg(test)]
mod tests {
    //! The store outbox behaves like vigil-workflow's reference `MemoryOutbox` on the same
    //! operation sequences.

    use super::*;
    use serde_json::json;
    use vigil_workflow::MemoryOutbox;

    fn item(key: &str, after: &[&str], due: i64) -> NewItem {
        NewItem {
            key: key.into(),
            subject: "7".into(),
            workflow: "w".into(),
            task: key.into(),
            after: after.iter().map(|s| s.to_string()).collect(),
            payload: json!({"event": {"finding.id": "7"}}),
            not_before_ms: due,
        }
    }

    #[derive(Clone, Debug)]
    enum Op {
        Enqueue(Vec<(u8, Vec<u8>, i64)>),
        Lease(u8, i64, usize),
        Complete(u8, u8, i64),
        Fail(u8, u8, i64, bool),
        Release(u8, u8, i64),
        Requeue(u8, i64),
    }

    fn key(k: u8) -> String {
        format!("k{}", k % 6)
    }

    type View = (String, ItemStatus, u32, Option<Value>, Vec<String>);

    fn view(items: Vec<OutboxItem>) -> Vec<View> {
        let mut v: Vec<_> = items
            .into_iter()
            .map(|i| (i.key, i.status, i.attempts, i.result, i.after))
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }

    fn op() -> impl proptest::strategy::Strategy<Value = Op> {
        use proptest::prelude::*;
        let owner = 0u8..2;
        prop_oneof![
            proptest::collection::vec(
                (0u8..6, proptest::collection::vec(0u8..6, 0..2), 0i64..50),
                1..4
            )
            .prop_map(Op::Enqueue),
            (owner.clone(), 0i64..3000).prop_map(|(o, t)| Op::Lease(o, t, 10)),
            (0u8..6, owner.clone(), 0i64..3000).prop_map(|(k, o, t)| Op::Complete(k, o, t)),
            (0u8..6, owner.clone(), 0i64..3000, any::<bool>())
                .prop_map(|(k, o, t, r)| Op::Fail(k, o, t, r)),
            (0u8..6, owner, 0i64..3000).prop_map(|(k, o, t)| Op::Release(k, o, t)),
            (0u8..6, 0i64..3000).prop_map(|(k, t)| Op::Requeue(k, t)),
        ]
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
        #[test]
        fn agrees_with_the_reference_outbox(ops in proptest::collection::vec(op(), 1..25)) {
            let store = StoreOutbox::new(Arc::new(Store::open_in_memory().unwrap()));
            let memory = MemoryOutbox::new();
            let lease = Duration::from_millis(1000);
            let owners = ["a", "b"];
            let mut clock = 0i64;
            for op in ops {
                // Time only moves forward, as it does for a real dispatcher.
                let mut at = |t: i64| { clock = clock.max(t); clock };
                match op {
                    Op::Enqueue(items) => {
                        let items: Vec<NewItem> = items.iter().map(|(k, after, due)| {
                            let after: Vec<String> = after.iter().map(|a| key(*a)).filter(|a| *a != key(*k)).collect();
                            let after: Vec<&str> = after.iter().map(String::as_str).collect();
                            item(&key(*k), &after, *due)
                        }).collect();
                        let now = at(0);
                        proptest::prop_assert_eq!(store.enqueue(items.clone(), now).unwrap(), memory.enqueue(items, now).unwrap());
                    }
                    Op::Lease(o, t, n) => {
                        let now = at(t);
                        let a = store.lease_due(owners[o as usize], now, lease, n).unwrap();
                        let b = memory.lease_due(owners[o as usize], now, lease, n).unwrap();
                        proptest::prop_assert_eq!(view(a), view(b));
                    }
                    Op::Complete(k, o, t) | Op::Fail(k, o, t, _) | Op::Release(k, o, t) => {
                        let now = at(t);
                        let (Some(si), Some(mi)) = (
                            store.get_by_keys(&[key(k)]).unwrap().pop(),
                            memory.get_by_keys(&[key(k)]).unwrap().pop(),
                        ) else { continue };
                        let owner = owners[o as usize];
                        let (a, b) = match op {
                            Op::Complete(..) => (
                                store.complete(si.id, owner, now, json!({"n": k})),
                                memory.complete(mi.id, owner, now, json!({"n": k})),
                            ),
                            Op::Fail(_, _, _, retry) => {
                                let r = if retry { Retry::After(Duration::from_millis(100)) } else { Retry::Never };
                                (store.fail(si.id, owner, now, "boom", r), memory.fail(mi.id, owner, now, "boom", r))
                            }
                            _ => (store.release(si.id, owner, now + 50), memory.release(mi.id, owner, now + 50)),
                        };
                        proptest::prop_assert_eq!(a.is_ok(), b.is_ok());
                    }
                    Op::Requeue(k, t) => {
                        let now = at(t);
                        if let (Some(si), Some(mi)) = (
                            store.get_by_keys(&[key(k)]).unwrap().pop(),
                            memory.get_by_keys(&[key(k)]).unwrap().pop(),
                        ) {
                            proptest::prop_assert_eq!(store.requeue(si.id, now).is_ok(), memory.requeue(mi.id, now).is_ok());
                        }
                    }
                }
                proptest::prop_assert_eq!(store.counts().unwrap(), memory.counts().unwrap());
                let keys: Vec<String> = (0..6).map(key).collect();
                proptest::prop_assert_eq!(view(store.get_by_keys(&keys).unwrap()), view(memory.get_by_keys(&keys).unwrap()));
            }
        }
    }
}
