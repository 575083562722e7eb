//! The append-only event log, the outbox's leases, and hashed tokens.

mod common;

use std::collections::HashSet;
use std::sync::{Arc, Barrier};
use std::time::Duration;

use common::at;
use serde_json::{Map, Value, json};
use vigil_store::{EventInput, EventSeq, OutboxInput, OutboxStatus, Retry, SqlValue};

fn payload(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

fn event(seconds: i64, host: &str) -> EventInput {
    EventInput {
        timestamp: at(seconds),
        event_type: "VULNERABILITY_FINDING".into(),
        finding_id: None,
        payload: payload(json!({
            "finding.status": "NEW",
            "vulnerability.id": "MAL-2025-47141",
            "vulnerability.aliases": ["GHSA-aaaa-bbbb-cccc"],
            "vulnerability.kind": "MALICIOUS",
            "vulnerability.title": "Malicious code in @ctrl/tinycolor",
            "vulnerability.references.cwe": ["CWE-506"],
            "vulnerability.risk.score": 10.0,
            "vulnerability.risk.level": "CRITICAL",
            "component.ecosystem": "npm",
            "component.name": "@ctrl/tinycolor",
            "component.version": "4.1.1",
            "component.purl": "pkg:npm/%40ctrl/tinycolor@4.1.1",
            "evidence": "LOADED",
            "affected_entity.id": "1",
            "affected_entity.type": "host",
            "affected_entity.name": host,
            "host.name": host,
            "container.id": null,
            "container.image": null,
            "k8s.namespace.name": null,
            "k8s.workload.name": null,
            "process.pids": [101, 202],
            "locations": ["/app/node_modules/@ctrl/tinycolor"],
            "owner.team": "payments",
        })),
    }
}

#[test]
fn events_are_appended_in_order_and_read_back() {
    common::each(|_db, store| {
        let a = store.append_event(&event(1, "web-1")).unwrap();
        let b = store.append_event(&event(2, "web-2")).unwrap();
        assert!(b.seq > a.seq);
        assert_ne!(a.event_id, b.event_id);
        assert_eq!(a.event_id.len(), 32);
        let all = store.events_since(EventSeq(0), 10).unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].payload, event(1, "web-1").payload);
        assert_eq!(store.events_since(a.seq, 10).unwrap().len(), 1);
        assert_eq!(store.events_since(EventSeq(0), 1).unwrap().len(), 1);
        assert_eq!(store.last_event_seq().unwrap(), b.seq);

        let rows = store
        .query(
            r#"SELECT "timestamp", "event.type", "host.name", "vulnerability.references.cwe",
                      "vulnerability.risk.score", "process.pids", "container.id", "owner.team", "event.id"
               FROM q_security_events WHERE "host.name" = $1"#,
            &[SqlValue::Text("web-2".into())],
            10,
        )
        .unwrap();
        assert_eq!(
            rows.rows,
            vec![vec![
                SqlValue::Integer(at(2).unix_nanos()),
                SqlValue::Text("VULNERABILITY_FINDING".into()),
                SqlValue::Text("web-2".into()),
                SqlValue::Text(r#"["CWE-506"]"#.into()),
                SqlValue::Real(10.0),
                SqlValue::Text("[101,202]".into()),
                SqlValue::Null,
                SqlValue::Text("payments".into()),
                SqlValue::Text(b.event_id.clone()),
            ]]
        );
    });
}

#[test]
fn events_cannot_be_updated_or_deleted() {
    common::each(|db, store| {
        store.append_event(&event(1, "web-1")).unwrap();
        drop(store);
        // Not even with a SQL shell on the database.
        let update = db.raw("UPDATE security_events SET event_type = 'FORGED'");
        assert!(update.unwrap_err().contains("append-only"));
        let delete = db.raw("DELETE FROM security_events");
        assert!(delete.unwrap_err().contains("append-only"));
        if db.kind == common::Kind::Postgres {
            let truncate = db.raw("TRUNCATE security_events CASCADE");
            assert!(truncate.unwrap_err().contains("append-only"));
        }

        // And through the store: query() refuses anything that writes.
        let store = db.open();
        let count = store
            .query("SELECT count(*) FROM security_events", &[], 1)
            .unwrap();
        assert_eq!(count.rows, vec![vec![SqlValue::Integer(1)]]);
        for sql in [
            "DELETE FROM security_events",
            "UPDATE hosts SET name = 'x'",
            "INSERT INTO blobs (key, bytes, updated_at) VALUES ('k', '', 0)",
        ] {
            assert!(
                matches!(
                    store.query(sql, &[], 1),
                    Err(vigil_store::StoreError::NotReadOnly)
                ),
                "{sql}"
            );
        }
        assert!(
            store
                .query("SELECT 1; DELETE FROM security_events", &[], 1)
                .is_err()
        );
        assert_eq!(store.events_since(EventSeq(0), 10).unwrap().len(), 1);
    });
}

#[test]
fn exposure_history_cannot_be_deleted() {
    common::each(|db, store| {
        store
            .apply_snapshot(&common::full("web-1", 1, common::many(1, "1.0.0")), at(0))
            .unwrap();
        drop(store);
        let err = db.raw("DELETE FROM exposure_windows").unwrap_err();
        assert!(err.contains("history"), "{err}");
        if db.kind == common::Kind::Postgres {
            let err = db.raw("TRUNCATE exposure_windows").unwrap_err();
            assert!(err.contains("history"), "{err}");
        }
    });
}

fn task(key: &str, due: i64) -> OutboxInput {
    OutboxInput {
        finding_id: None,
        event_seq: None,
        workflow: "malicious-package".into(),
        task: "slack".into(),
        idempotency_key: key.into(),
        subject: None,
        after: Vec::new(),
        payload: json!({"text": key}),
        not_before: at(due),
    }
}

#[test]
fn enqueue_is_idempotent_per_key() {
    common::each(|_db, store| {
        let a = store.enqueue(&task("f1/wf/slack", 0), at(0)).unwrap();
        let b = store.enqueue(&task("f1/wf/slack", 0), at(5)).unwrap();
        assert!(a.created && !b.created);
        assert_eq!(a.id, b.id);
        assert_eq!(store.outbox_counts().unwrap().pending, 1);
    });
}

#[test]
fn leases_are_exclusive_expire_and_fence() {
    common::each(|_db, store| {
        for i in 0..5 {
            store.enqueue(&task(&format!("k{i}"), i), at(0)).unwrap();
        }
        store.enqueue(&task("later", 1000), at(0)).unwrap();
        let lease = Duration::from_secs(30);

        let a = store.lease_due("worker-a", 3, lease, at(10)).unwrap();
        let b = store.lease_due("worker-b", 10, lease, at(10)).unwrap();
        assert_eq!(a.len(), 3);
        assert_eq!(
            b.len(),
            2,
            "only what a did not take, and not the later one"
        );
        let ids: HashSet<_> = a.iter().chain(&b).map(|i| i.id).collect();
        assert_eq!(ids.len(), 5);
        assert!(
            a.iter()
                .all(|i| i.status == OutboxStatus::InFlight && i.attempts == 1)
        );
        assert_eq!(a[0].lease_expires_at, Some(at(40)));

        assert!(store.complete(a[0].id, "worker-a", at(11)).unwrap());
        assert!(
            !store.complete(a[0].id, "worker-a", at(12)).unwrap(),
            "already delivered"
        );
        assert!(
            !store.complete(b[0].id, "worker-a", at(12)).unwrap(),
            "not a's lease"
        );
        assert!(
            store
                .fail(
                    a[1].id,
                    "worker-a",
                    "HTTP 503",
                    Retry::After(Duration::from_secs(60)),
                    at(12)
                )
                .unwrap()
        );
        assert!(
            store
                .fail(a[2].id, "worker-a", "HTTP 400", Retry::Never, at(12))
                .unwrap()
        );

        // Nothing is due for a while: b's leases are live, the retry waits.
        assert!(
            store
                .lease_due("worker-c", 10, lease, at(20))
                .unwrap()
                .is_empty()
        );
        // b dies; after its lease expires c takes its tasks, and b can no longer complete them.
        let c = store.lease_due("worker-c", 10, lease, at(41)).unwrap();
        assert_eq!(
            c.iter().map(|i| i.id).collect::<HashSet<_>>(),
            b.iter().map(|i| i.id).collect()
        );
        assert!(c.iter().all(|i| i.attempts == 2));
        assert!(!store.complete(b[0].id, "worker-b", at(42)).unwrap());
        assert!(store.complete(c[0].id, "worker-c", at(42)).unwrap());
        // The retried one comes back after its backoff, with its error.
        let retry = store.lease_due("worker-c", 10, lease, at(72)).unwrap();
        let retried = retry.iter().find(|i| i.id == a[1].id).unwrap();
        assert_eq!(retried.last_error.as_deref(), Some("HTTP 503"));

        let counts = store.outbox_counts().unwrap();
        assert_eq!((counts.delivered, counts.dead), (2, 1));
        let dead = store.outbox_items(OutboxStatus::Dead, 10).unwrap();
        assert_eq!(dead[0].last_error.as_deref(), Some("HTTP 400"));
    });
}

#[test]
fn two_owners_on_two_connections_never_lease_the_same_task() {
    for db in common::backends() {
        let seed = db.open();
        seed.write(|tx| {
            for i in 0..200 {
                tx.enqueue(&task(&format!("k{i}"), 0), at(0))?;
            }
            Ok(())
        })
        .unwrap();
        drop(seed);
        let barrier = Arc::new(Barrier::new(2));
        let workers: Vec<_> = ["a", "b"]
            .into_iter()
            .map(|owner| {
                let (kind, location) = (db.kind, db.location.clone());
                let barrier = Arc::clone(&barrier);
                std::thread::spawn(move || {
                    let store = common::open_at(kind, &location).unwrap();
                    barrier.wait();
                    let mut got = Vec::new();
                    loop {
                        let batch = store
                            .lease_due(owner, 7, Duration::from_secs(600), at(1))
                            .unwrap();
                        if batch.is_empty() {
                            break;
                        }
                        got.extend(batch.into_iter().map(|i| i.id));
                    }
                    got
                })
            })
            .collect();
        let results: Vec<Vec<_>> = workers.into_iter().map(|w| w.join().unwrap()).collect();
        let total: usize = results.iter().map(Vec::len).sum();
        let unique: HashSet<_> = results.iter().flatten().collect();
        assert_eq!(total, 200, "{}", db.name());
        assert_eq!(unique.len(), 200, "{}", db.name());
    }
}

#[test]
fn tokens_are_stored_hashed() {
    common::each(|db, store| {
        let scopes = vec!["read".to_owned(), "ingest".to_owned()];
        let token = store.create_token("ci", &scopes, at(0)).unwrap();
        assert!(token.secret.starts_with(vigil_store::SECRET_PREFIX));
        assert!(!format!("{token:?}").contains(&token.secret));

        let info = store.verify_token(&token.secret, at(10)).unwrap().unwrap();
        assert_eq!(info.name, "ci");
        assert_eq!(info.scopes, scopes);
        assert_eq!(info.last_used_at, Some(at(10)));
        // Within a minute no write; after, refreshed.
        store.verify_token(&token.secret, at(20)).unwrap().unwrap();
        assert_eq!(
            store.token(token.id).unwrap().unwrap().last_used_at,
            Some(at(10))
        );
        store.verify_token(&token.secret, at(100)).unwrap().unwrap();
        assert_eq!(
            store.token(token.id).unwrap().unwrap().last_used_at,
            Some(at(100))
        );

        let mut wrong = token.secret.clone();
        wrong.pop();
        wrong.push('x');
        assert!(store.verify_token(&wrong, at(30)).unwrap().is_none());
        assert!(store.verify_token("", at(30)).unwrap().is_none());
        assert!(
            store
                .verify_token(&token.secret.to_uppercase(), at(30))
                .unwrap()
                .is_none()
        );

        // The secret is nowhere in the database: not in any column, not in the file's bytes.
        let rows = store.query("SELECT * FROM api_tokens", &[], 10).unwrap();
        for cell in rows.rows.iter().flatten() {
            if let SqlValue::Text(text) = cell {
                assert!(
                    !text.contains(&token.secret[4..]),
                    "secret stored in {text}"
                );
            }
        }
        drop(store);
        for entry in db
            .dir()
            .map(|d| std::fs::read_dir(d).unwrap())
            .into_iter()
            .flatten()
        {
            let bytes = std::fs::read(entry.unwrap().path()).unwrap();
            let needle = &token.secret.as_bytes()[4..];
            assert!(!bytes.windows(needle.len()).any(|w| w == needle));
        }

        let store = db.open();
        assert!(
            store
                .verify_token(&token.secret, at(200))
                .unwrap()
                .is_some()
        );
        assert!(store.revoke_token(token.id, at(300)).unwrap());
        assert!(
            store
                .verify_token(&token.secret, at(301))
                .unwrap()
                .is_none()
        );
        assert!(!store.revoke_token(token.id, at(302)).unwrap());
        assert_eq!(store.tokens().unwrap()[0].revoked_at, Some(at(300)));
    });
}

#[test]
fn dependants_wait_keep_results_release_requeue_and_list() {
    common::each(|_db, store| {
        let lease = Duration::from_secs(30);
        let mut slack = task("f1/wf/slack", 0);
        slack.subject = Some("1".into());
        slack.after = vec!["f1/wf/ownership".into()];
        let mut orphan = task("f1/wf/x", 0);
        orphan.after = vec!["never-enqueued".into()];
        store.enqueue(&slack, at(0)).unwrap();
        store.enqueue(&orphan, at(0)).unwrap();
        store.enqueue(&task("f1/wf/ownership", 0), at(0)).unwrap();

        // The dependant waits; an unknown dependency does not block.
        let first: Vec<String> = store
            .lease_due("w", 10, lease, at(1))
            .unwrap()
            .into_iter()
            .map(|i| i.idempotency_key)
            .collect();
        assert_eq!(first, vec!["f1/wf/x", "f1/wf/ownership"]);
        let x = store.outbox_by_keys(&["f1/wf/x".into()]).unwrap();
        assert!(store.complete(x[0].id, "w", at(1)).unwrap());
        let owner = store.outbox_by_keys(&["f1/wf/ownership".into()]).unwrap();
        assert!(
            store
                .complete_with_result(owner[0].id, "w", &json!({"team": "payments"}), at(2))
                .unwrap()
        );
        let next = store.lease_due("w", 10, lease, at(3)).unwrap();
        assert_eq!(next.len(), 1);
        assert_eq!(next[0].idempotency_key, "f1/wf/slack");
        assert_eq!(next[0].subject.as_deref(), Some("1"));
        assert_eq!(next[0].after, vec!["f1/wf/ownership".to_string()]);
        let got = store
            .outbox_by_keys(&["f1/wf/ownership".into(), "nope".into(), "f1/wf/x".into()])
            .unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].result, Some(json!({"team": "payments"})));

        // Release gives the attempt back and defers; fenced by the owner.
        assert!(!store.release(next[0].id, "other", at(100), at(4)).unwrap());
        assert!(store.release(next[0].id, "w", at(100), at(4)).unwrap());
        assert!(store.lease_due("w", 10, lease, at(99)).unwrap().is_empty());
        let again = store.lease_due("w", 10, lease, at(100)).unwrap();
        assert_eq!(again[0].attempts, 1);

        // Dead items can be requeued with their attempts reset; others cannot.
        assert!(
            store
                .fail(again[0].id, "w", "HTTP 400", Retry::Never, at(101))
                .unwrap()
        );
        assert!(!store.requeue(owner[0].id, at(102)).unwrap());
        assert!(store.requeue(again[0].id, at(102)).unwrap());
        let requeued = store.lease_due("w", 10, lease, at(102)).unwrap();
        assert_eq!(requeued[0].attempts, 1);

        let all = store.list_outbox(None, 10).unwrap();
        assert_eq!(all.len(), 3);
        assert!(all.windows(2).all(|w| w[0].id > w[1].id), "newest first");
        let delivered = store
            .list_outbox(Some(OutboxStatus::Delivered), 10)
            .unwrap();
        assert_eq!(delivered.len(), 2);
    });
}
