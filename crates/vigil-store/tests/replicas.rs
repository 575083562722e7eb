//! Several `Store`s on one database — server replicas — working at once: each piece of work
//! happens once. Runs on SQLite (where writers serialize) and PostgreSQL (where they do not).

mod common;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Barrier, Mutex};
use std::time::Duration;

use common::{at, full, instance};
use serde_json::{Map, json};
use vigil_core::Ecosystem;
use vigil_store::{
    Entity, EventInput, EventSeq, FindingFilter, FindingInput, InstanceInput, OutboxInput,
    OutboxStatus, PackageKey, SqlValue, Store,
};

/// A new store ("replica") on the database of `db`, for another thread.
fn replica(db: &common::TestDb) -> impl FnOnce() -> Store + Send + 'static {
    let (kind, location) = (db.kind, db.location.clone());
    move || common::open_at(kind, &location).expect("replica opens")
}

fn task(key: &str) -> OutboxInput {
    OutboxInput {
        finding_id: None,
        event_seq: None,
        workflow: "wf".into(),
        task: "notify".into(),
        idempotency_key: key.into(),
        subject: None,
        after: Vec::new(),
        payload: json!({"key": key}),
        not_before: at(0),
    }
}

#[test]
fn replicas_leasing_the_outbox_concurrently_deliver_each_task_once() {
    for db in common::backends() {
        const TASKS: usize = 300;
        let seed = db.open();
        seed.write(|tx| {
            for i in 0..TASKS {
                let mut t = task(&format!("k{i}"));
                // Some tasks wait for another: they must still be delivered, once.
                if i % 10 == 9 {
                    t.after = vec![format!("k{}", i - 1)];
                }
                tx.enqueue(&t, at(0))?;
            }
            Ok(())
        })
        .unwrap();

        // Replica C leases some tasks with a short lease and dies without finishing them.
        let dead = db.open();
        let abandoned: Vec<_> = dead
            .lease_due("replica-c", 20, Duration::from_secs(1), at(1))
            .unwrap()
            .into_iter()
            .map(|i| i.id)
            .collect();
        assert_eq!(abandoned.len(), 20);

        // Replicas A and B deliver everything, concurrently, well after C's leases expired.
        let delivered: Arc<Mutex<HashMap<vigil_store::OutboxId, Vec<&'static str>>>> =
            Arc::default();
        let barrier = Arc::new(Barrier::new(2));
        let workers: Vec<_> = ["replica-a", "replica-b"]
            .into_iter()
            .map(|owner| {
                let open = replica(&db);
                let barrier = Arc::clone(&barrier);
                let delivered = Arc::clone(&delivered);
                std::thread::spawn(move || {
                    let store = open();
                    barrier.wait();
                    let mut idle = 0;
                    while idle < 3 {
                        let batch = store
                            .lease_due(owner, 7, Duration::from_secs(600), at(10))
                            .unwrap();
                        if batch.is_empty() {
                            // The other replica may hold the rest, or a dependency.
                            idle += 1;
                            std::thread::sleep(Duration::from_millis(20));
                            continue;
                        }
                        idle = 0;
                        for item in batch {
                            assert_eq!(item.lease_owner.as_deref(), Some(owner));
                            // "Deliver", then complete: the lease says nobody else has it.
                            delivered
                                .lock()
                                .unwrap()
                                .entry(item.id)
                                .or_default()
                                .push(owner);
                            assert!(store.complete(item.id, owner, at(11)).unwrap());
                        }
                    }
                })
            })
            .collect();
        for w in workers {
            w.join().unwrap();
        }
        let delivered = delivered.lock().unwrap();
        assert_eq!(
            delivered.len(),
            TASKS,
            "{}: every task delivered",
            db.name()
        );
        let twice: Vec<_> = delivered.iter().filter(|(_, by)| by.len() > 1).collect();
        assert!(
            twice.is_empty(),
            "{}: delivered twice: {twice:?}",
            db.name()
        );
        assert!(abandoned.iter().all(|id| delivered.contains_key(id)));
        // The dead replica's lease was taken over: it can no longer complete.
        assert!(!dead.complete(abandoned[0], "replica-c", at(12)).unwrap());
        let counts = seed.outbox_counts().unwrap();
        assert_eq!(counts.delivered, TASKS as u64, "{}", db.name());
        assert!(
            seed.list_outbox(Some(OutboxStatus::Delivered), 1000)
                .unwrap()
                .iter()
                .all(|i| i.attempts <= 2)
        );
    }
}

/// `n` npm packages shared by every host (`shared-0…`) plus a few of the host's own.
fn host_instances(host: &str, n: usize, version: &str, reverse: bool) -> Vec<InstanceInput> {
    let mut list: Vec<InstanceInput> = (0..n)
        .map(|i| {
            instance(
                "npm",
                &format!("shared-{i}"),
                version,
                &format!("/srv/{host}/node_modules/shared-{i}"),
            )
        })
        .chain((0..5).map(|i| {
            instance(
                "npm",
                &format!("{host}-own-{i}"),
                "1.0.0",
                &format!("/srv/{host}/node_modules/own-{i}"),
            )
        }))
        .collect();
    // Replicas insert the shared components in opposite orders: they must not deadlock.
    if reverse {
        list.reverse();
    }
    list
}

#[test]
fn replicas_applying_snapshots_and_matching_never_duplicate() {
    for db in common::backends() {
        const HOSTS_PER_REPLICA: usize = 3;
        const ROUNDS: u64 = 4;
        let barrier = Arc::new(Barrier::new(2));
        let replicas: Vec<_> = (0..2)
            .map(|r| {
                let open = replica(&db);
                let barrier = Arc::clone(&barrier);
                std::thread::spawn(move || {
                    let store = open();
                    barrier.wait();
                    for round in 1..=ROUNDS {
                        for h in 0..HOSTS_PER_REPLICA {
                            let host = format!("r{r}-host-{h}");
                            // Versions churn between rounds: new components every time.
                            let version = format!("1.0.{}", round % 2);
                            let snapshot =
                                full(&host, round, host_instances(&host, 60, &version, r == 1));
                            let outcome =
                                store.apply_snapshot(&snapshot, at(round as i64)).unwrap();
                            assert!(!outcome.duplicate);
                        }
                    }
                    store
                })
            })
            .collect();
        let stores: Vec<Store> = replicas.into_iter().map(|r| r.join().unwrap()).collect();

        // Components are shared, never duplicated.
        let components = stores[0]
            .query(
                "SELECT count(*), count(DISTINCT ecosystem || '/' || name_key || '@' || version) FROM components",
                &[],
                1,
            )
            .unwrap();
        assert_eq!(
            components.rows[0][0],
            components.rows[0][1],
            "{}",
            db.name()
        );
        assert_eq!(
            components.rows[0][0],
            SqlValue::Integer(2 * 60 + 2 * HOSTS_PER_REPLICA as i64 * 5),
            "{}",
            db.name()
        );

        // An agent retrying the same snapshot on both replicas at once: applied once.
        let retry = full(
            "r0-host-0",
            ROUNDS + 1,
            host_instances("r0-host-0", 60, "2.0.0", false),
        );
        let barrier = Arc::new(Barrier::new(2));
        let outcomes: Vec<_> = (0..2)
            .map(|_| {
                let open = replica(&db);
                let barrier = Arc::clone(&barrier);
                let retry = retry.clone();
                std::thread::spawn(move || {
                    let store = open();
                    barrier.wait();
                    store.apply_snapshot(&retry, at(100)).unwrap()
                })
            })
            .collect::<Vec<_>>()
            .into_iter()
            .map(|t| t.join().unwrap())
            .collect();
        assert_eq!(
            outcomes.iter().filter(|o| !o.duplicate).count(),
            1,
            "{}: one replica applied it, the other saw a duplicate",
            db.name()
        );
        assert_eq!(
            outcomes.iter().map(|o| o.new.len()).sum::<usize>(),
            60,
            "{}",
            db.name()
        );

        // A new advisory names ten shared packages; both replicas' matchers react to it at
        // once and upsert the same findings.
        let keys: Vec<PackageKey> = (0..10)
            .map(|i| PackageKey::new(Ecosystem::parse("npm"), &format!("shared-{i}")))
            .collect();
        let barrier = Arc::new(Barrier::new(2));
        let matchers: Vec<_> = (0..2)
            .map(|r| {
                let open = replica(&db);
                let barrier = Arc::clone(&barrier);
                let keys = keys.clone();
                std::thread::spawn(move || {
                    let store = open();
                    let mut instances = store.instances_for_keys(&keys).unwrap();
                    if r == 1 {
                        instances.reverse();
                    }
                    barrier.wait();
                    let mut created = 0;
                    for inst in &instances {
                        let entity = match &inst.container {
                            Some(c) => Entity::Container(c.key),
                            None => Entity::Host(inst.host_id),
                        };
                        let input = FindingInput {
                            advisory_id: "MAL-2025-0001".into(),
                            aliases: vec![],
                            component_id: inst.component_id,
                            entity,
                            risk_score: 10.0,
                            risk_level: "CRITICAL".into(),
                            evidence: inst.evidence,
                            locations: vec![inst.path.clone()],
                            pids: vec![],
                        };
                        let upsert = store.upsert_finding(&input, at(200)).unwrap();
                        if upsert.created {
                            created += 1;
                            store
                                .append_event(&EventInput {
                                    timestamp: at(200),
                                    event_type: "VULNERABILITY_FINDING".into(),
                                    finding_id: Some(upsert.finding.id),
                                    payload: Map::new(),
                                })
                                .unwrap();
                        }
                    }
                    (created, instances.len())
                })
            })
            .collect();
        let results: Vec<(usize, usize)> =
            matchers.into_iter().map(|m| m.join().unwrap()).collect();
        let expected = results[0].1;
        assert!(expected > 0);
        assert_eq!(
            results.iter().map(|r| r.0).sum::<usize>(),
            expected,
            "{}: each finding created by exactly one replica",
            db.name()
        );
        let findings = stores[0]
            .list_findings(&FindingFilter {
                limit: 10_000,
                ..FindingFilter::default()
            })
            .unwrap();
        assert_eq!(findings.len(), expected, "{}", db.name());
        let distinct: HashSet<_> = findings
            .iter()
            .map(|f| (f.advisory_id.clone(), f.component_id, f.entity))
            .collect();
        assert_eq!(distinct.len(), expected);
        assert_eq!(
            stores[1].events_since(EventSeq(0), 10_000).unwrap().len(),
            expected,
            "{}: one creation event per finding",
            db.name()
        );
    }
}

#[test]
fn events_appended_by_replicas_are_read_without_gaps() {
    for db in common::backends() {
        const PER_WRITER: usize = 60;
        let done = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let writers: Vec<_> = (0..3)
            .map(|w| {
                let open = replica(&db);
                let done = Arc::clone(&done);
                std::thread::spawn(move || {
                    let store = open();
                    for i in 0..PER_WRITER {
                        store
                            .write(|tx| {
                                tx.append_event(&EventInput {
                                    timestamp: at(i as i64),
                                    event_type: format!("writer-{w}"),
                                    finding_id: None,
                                    payload: Map::new(),
                                })?;
                                // Commit a little after drawing the sequence number: the
                                // window in which a later number could commit first.
                                if i % 3 == 0 {
                                    std::thread::sleep(Duration::from_millis(2));
                                }
                                Ok(())
                            })
                            .unwrap();
                    }
                    done.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                })
            })
            .collect();
        // A follower reads concurrently with a cursor, as a workflow runner does.
        let follower = {
            let open = replica(&db);
            let done = Arc::clone(&done);
            std::thread::spawn(move || {
                let store = open();
                let mut seen = Vec::new();
                let mut cursor = EventSeq(0);
                loop {
                    let finished = done.load(std::sync::atomic::Ordering::SeqCst) == 3;
                    let batch = store.events_since(cursor, 7).unwrap();
                    if let Some(last) = batch.last() {
                        cursor = last.seq;
                    }
                    let empty = batch.is_empty();
                    seen.extend(batch.into_iter().map(|e| e.seq));
                    if finished && empty {
                        break;
                    }
                }
                seen
            })
        };
        for w in writers {
            w.join().unwrap();
        }
        let seen = follower.join().unwrap();
        let all: Vec<EventSeq> = db
            .open()
            .events_since(EventSeq(0), 100_000)
            .unwrap()
            .into_iter()
            .map(|e| e.seq)
            .collect();
        assert_eq!(all.len(), 3 * PER_WRITER);
        assert_eq!(
            seen,
            all,
            "{}: the follower saw every event, in order",
            db.name()
        );
    }
}

/// The server calls the (blocking) store from an async runtime through `spawn_blocking`; the
/// PostgreSQL driver runs its own small runtime inside, which must not clash with the caller's.
#[test]
fn the_store_works_from_an_async_runtimes_blocking_threads() {
    for db in common::backends() {
        let runtime = common::runtime();
        let store = Arc::new(db.open());
        let hosts = runtime.block_on(async {
            let tasks: Vec<_> = (0..8)
                .map(|i| {
                    let store = Arc::clone(&store);
                    tokio::task::spawn_blocking(move || {
                        store
                            .apply_snapshot(
                                &full(&format!("async-{i}"), 1, common::many(20, "1.0.0")),
                                at(i),
                            )
                            .map(|o| o.new.len())
                    })
                })
                .collect();
            let mut total = 0;
            for t in tasks {
                total += t.await.unwrap().unwrap();
            }
            total
        });
        assert_eq!(hosts, 160, "{}", db.name());
        assert_eq!(store.hosts().unwrap().len(), 8);
    }
}

/// The detection lock orders whole transactions across replicas: a counter read and written
/// back (with a pause between, where a concurrent writer would interleave) by many replicas'
/// threads loses no increment. Without the lock PostgreSQL's READ COMMITTED would let two
/// transactions read the same value.
#[test]
fn the_detection_lock_serializes_detection_transactions_across_replicas() {
    for db in common::backends() {
        const THREADS: usize = 4;
        const ROUNDS: usize = 10;
        let seed = db.open();
        seed.put_blob("counter", &0u64.to_le_bytes(), at(0))
            .unwrap();
        let barrier = Arc::new(Barrier::new(THREADS));
        let workers: Vec<_> = (0..THREADS)
            .map(|_| {
                let open = replica(&db);
                let barrier = Arc::clone(&barrier);
                std::thread::spawn(move || {
                    let store = open();
                    barrier.wait();
                    for _ in 0..ROUNDS {
                        store
                            .write(|tx| {
                                tx.lock_detection()?;
                                let blob = tx.get_blob("counter")?.unwrap();
                                let n = u64::from_le_bytes(blob.bytes.try_into().unwrap());
                                std::thread::sleep(Duration::from_millis(2));
                                tx.put_blob("counter", &(n + 1).to_le_bytes(), at(1))
                            })
                            .unwrap();
                    }
                })
            })
            .collect();
        for w in workers {
            w.join().unwrap();
        }
        let blob = seed.get_blob("counter").unwrap().unwrap();
        assert_eq!(
            u64::from_le_bytes(blob.bytes.try_into().unwrap()),
            (THREADS * ROUNDS) as u64,
            "{}: an increment was lost",
            db.name()
        );
    }
}
