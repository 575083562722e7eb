//! Crash safety: a writer SIGKILLed mid-stream leaves a store that opens, passes its integrity
//! check, has every commit it acknowledged, and never half a transaction.
//!
//! The test re-runs its own binary as the writer (selected by an environment variable), kills
//! it at varying moments, and checks the file after each kill.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Map;
use vigil_store::{EventInput, EventSeq, OpenOptions, SqlValue, Store};

const CHILD_ENV: &str = "VIGIL_STORE_CRASH_WRITER";
const CHILD_KIND_ENV: &str = "VIGIL_STORE_CRASH_WRITER_KIND";

/// The writer: snapshots with churn, each committed together with one event; prints each
/// committed sequence number. Full durability: an acknowledged commit must survive.
fn writer(kind: common::Kind, location: &str) {
    let store = match kind {
        common::Kind::Sqlite => Store::open_sqlite(location, &OpenOptions::default()),
        common::Kind::Postgres => Store::open_postgres(location, &OpenOptions::default()),
    }
    .expect("writer opens");
    let start = store
        .host("crash-host")
        .expect("read host")
        .and_then(|h| h.last_sequence)
        .unwrap_or(0);
    for seq in start + 1.. {
        let version = format!("1.0.{}", seq % 3);
        let mut instances = common::many(200, &version);
        instances.truncate(150 + (seq % 50) as usize);
        let snapshot = common::full("crash-host", seq, instances);
        store
            .write(|tx| {
                tx.apply_snapshot(&snapshot, common::at(seq as i64))?;
                tx.append_event(&EventInput {
                    timestamp: common::at(seq as i64),
                    event_type: "SNAPSHOT".into(),
                    finding_id: None,
                    payload: Map::new(),
                })?;
                Ok(())
            })
            .expect("write");
        println!("{seq}");
    }
}

#[test]
fn survives_sigkill_during_writes() {
    if let Ok(location) = std::env::var(CHILD_ENV) {
        let kind = match std::env::var(CHILD_KIND_ENV).as_deref() {
            Ok("postgres") => common::Kind::Postgres,
            _ => common::Kind::Sqlite,
        };
        writer(kind, &location);
        return;
    }
    for db in common::backends() {
        drop(db.open());
        let path = &db.location;
        let exe = std::env::current_exe().unwrap();
        for round in 0..6u64 {
            let mut child = Command::new(&exe)
                .args([
                    "survives_sigkill_during_writes",
                    "--exact",
                    "--nocapture",
                    "--test-threads=1",
                ])
                .env(CHILD_ENV, path)
                .env(CHILD_KIND_ENV, db.name())
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            let stdout = child.stdout.take().unwrap();
            let (tx, rx) = mpsc::channel();
            let reader = std::thread::spawn(move || {
                for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                    if let Ok(seq) = line.trim().parse::<u64>() {
                        let _ = tx.send(seq);
                    }
                }
            });
            // Wait for a few commits, then kill at a moment that varies by round.
            let mut acknowledged = 0;
            while acknowledged < 3 {
                acknowledged = rx
                    .recv_timeout(Duration::from_secs(30))
                    .expect("writer commits");
            }
            std::thread::sleep(Duration::from_millis(7 + round * 13));
            child.kill().unwrap();
            child.wait().unwrap();
            reader.join().unwrap();
            acknowledged = rx
                .try_iter()
                .last()
                .unwrap_or(acknowledged)
                .max(acknowledged);

            let store = db
                .try_open()
                .unwrap_or_else(|e| panic!("{} round {round}: {e}", db.name()));
            store.integrity_check().unwrap();
            let host = store.host("crash-host").unwrap().unwrap();
            let last = host.last_sequence.unwrap();
            assert!(
                last >= acknowledged,
                "round {round}: acknowledged {acknowledged}, stored {last}"
            );
            // Every snapshot and its event committed together: as many events as applied snapshots.
            let snapshots = store
                .query("SELECT count(*) FROM ingest_log", &[], 1)
                .unwrap()
                .rows[0][0]
                .clone();
            let events = store.events_since(EventSeq(0), 1_000_000).unwrap().len() as i64;
            assert_eq!(snapshots, SqlValue::Integer(events), "round {round}");
            // Each present instance has exactly one open window.
            let open = store
            .query(
                "SELECT count(*) FROM component_instances ci
                 WHERE ci.gone_at IS NULL AND
                       (SELECT count(*) FROM exposure_windows w WHERE w.instance_id = ci.id AND w.to_ts IS NULL) <> 1",
                &[],
                1,
            )
            .unwrap();
            assert_eq!(open.rows[0][0], SqlValue::Integer(0), "round {round}");
        }
    }
}
