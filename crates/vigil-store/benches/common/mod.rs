//! Where the benchmarks' stores live: SQLite files and, when a server answers, PostgreSQL
//! schemas of their own (`VIGIL_TEST_PG`, default `postgres://postgres@127.0.0.1:5432/test`),
//! dropped afterwards.
#![allow(dead_code)]

#[path = "../../tests/support/run_query.rs"]
mod run_query;

use std::sync::atomic::{AtomicU64, Ordering};

use vigil_store::{Durability, OpenOptions, Store};

/// Where a benchmark's store lives.
#[derive(Clone, Copy, Debug)]
pub enum Target {
    Sqlite(Durability),
    Postgres(Durability),
}

pub fn pg_url() -> String {
    std::env::var("VIGIL_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// Every target; the PostgreSQL ones only when a server answers.
pub fn targets() -> Vec<Target> {
    let mut out = vec![
        Target::Sqlite(Durability::Full),
        Target::Sqlite(Durability::Normal),
    ];
    match postgres::Client::connect(&pg_url(), postgres::NoTls) {
        Ok(_) => out.extend([
            Target::Postgres(Durability::Full),
            Target::Postgres(Durability::Normal),
        ]),
        Err(e) => eprintln!(
            "SKIPPED PostgreSQL benchmarks: no PostgreSQL at {}: {e}",
            pg_url()
        ),
    }
    out
}

/// A store and what to clean up after it.
pub struct Bench {
    store: Option<Store>,
    _dir: Option<tempfile::TempDir>,
    schema: Option<String>,
}

impl Drop for Bench {
    fn drop(&mut self) {
        drop(self.store.take());
        if let Some(schema) = &self.schema {
            drop_schema(schema);
        }
    }
}

/// Drops a benchmark's PostgreSQL schema.
pub fn drop_schema(schema: &str) {
    if let Ok(mut client) = postgres::Client::connect(&pg_url(), postgres::NoTls) {
        let _ = client.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"));
    }
}

impl Bench {
    /// The PostgreSQL schema, if any.
    pub fn schema(&self) -> Option<&str> {
        self.schema.as_deref()
    }

    pub fn store(&self) -> &Store {
        self.store.as_ref().expect("open store")
    }
}

/// A SQLite store at `path` (kept afterwards: the caller owns the file).
pub fn open_sqlite_at(path: &std::path::Path, durability: Durability) -> Bench {
    let options = OpenOptions {
        durability,
        ..OpenOptions::default()
    };
    Bench {
        store: Some(Store::open_sqlite(path, &options).expect("open")),
        _dir: None,
        schema: None,
    }
}

pub fn open(target: Target) -> Bench {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    match target {
        Target::Sqlite(durability) => {
            let dir = tempfile::tempdir().expect("temp dir");
            let options = OpenOptions {
                durability,
                ..OpenOptions::default()
            };
            let store = Store::open_sqlite(dir.path().join("bench.db"), &options).expect("open");
            Bench {
                store: Some(store),
                _dir: Some(dir),
                schema: None,
            }
        }
        Target::Postgres(durability) => {
            let schema = format!(
                "vigil_bench_{}_{}",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::Relaxed)
            );
            let mut client =
                postgres::Client::connect(&pg_url(), postgres::NoTls).expect("connect");
            client
                .batch_execute(&format!("CREATE SCHEMA {schema}"))
                .expect("create schema");
            let sep = if pg_url().contains('?') { '&' } else { '?' };
            let url = format!("{}{sep}options=-c%20search_path%3D{schema}", pg_url());
            let mut bench = Bench {
                store: None,
                _dir: None,
                schema: Some(schema),
            };
            let options = OpenOptions {
                durability,
                ..OpenOptions::default()
            };
            bench.store = Some(Store::open_postgres(&url, &options).expect("open"));
            bench
        }
    }
}

/// Runs one query the way the server does (prepare, compile for the store's dialect, run,
/// decode) and returns the number of records.
pub fn run(store: &Store, query: &str) -> usize {
    run_query::run_query(store, query, 1_700_000_060_000_000_000, 100_000)
        .records
        .len()
}
