//! Fixtures shared by the store's integration tests, and the backends they run on.
//!
//! [`backends`] yields a fresh SQLite database and, when a PostgreSQL server answers, a fresh
//! PostgreSQL schema: every suite runs its cases on each. PostgreSQL is found through
//! `VIGIL_TEST_PG` (a URL or libpq connection string; default
//! `postgres://postgres@127.0.0.1:5432/test`); each [`TestDb`] creates its own schema
//! (`vigil_test_…`) and drops it when dropped, so tests run in parallel without colliding. When
//! no server answers the PostgreSQL half prints `SKIPPED: no PostgreSQL at …` and the test
//! passes — unless `VIGIL_REQUIRE_PG=1`, which makes it fail (CI sets it).
#![allow(dead_code)]

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use vigil_core::{Component, Ecosystem, Evidence};
use vigil_store::{
    Durability, HostInfo, InstanceInput, OpenOptions, Removals, Snapshot, SnapshotKind, Store,
    Timestamp,
};

/// A two-thread runtime with I/O and timers, as the server runs on, for tests that call the
/// store from async code.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// The default test server: local, trust authentication, database `test`.
pub const DEFAULT_PG: &str = "postgres://postgres@127.0.0.1:5432/test";

/// Which database a [`TestDb`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Sqlite,
    Postgres,
}

/// One fresh database for one test: a SQLite file in a temporary directory, or a PostgreSQL
/// schema of its own (dropped on drop).
pub struct TestDb {
    pub kind: Kind,
    /// The SQLite file, or the PostgreSQL connection string selecting the schema.
    pub location: String,
    dir: Option<tempfile::TempDir>,
    schema: Option<String>,
}

/// The server's connection string.
pub fn pg_url() -> String {
    std::env::var("VIGIL_TEST_PG")
        .ok()
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_PG.to_owned())
}

fn pg_required() -> bool {
    std::env::var("VIGIL_REQUIRE_PG").is_ok_and(|v| v == "1")
}

/// Whether the test server answers (checked once per test binary).
pub fn pg_available() -> bool {
    static AVAILABLE: OnceLock<bool> = OnceLock::new();
    *AVAILABLE.get_or_init(|| {
        let url = pg_url();
        let answer = url.parse::<postgres::Config>().map_err(|e| e.to_string()).and_then(|mut config| {
            config.connect_timeout(std::time::Duration::from_secs(3));
            config
                .connect(postgres::NoTls)
                .map_err(|e| match std::error::Error::source(&e) {
                    Some(cause) => format!("{e}: {cause}"),
                    None => e.to_string(),
                })
                .map(drop)
        });
        match answer {
            Ok(()) => true,
            Err(e) if pg_required() => {
                panic!("VIGIL_REQUIRE_PG=1 but no PostgreSQL at {url}: {e}")
            }
            Err(e) => {
                eprintln!(
                    "SKIPPED: no PostgreSQL at {url} ({e}); set VIGIL_TEST_PG to run the PostgreSQL half"
                );
                false
            }
        }
    })
}

/// `base` with `search_path` set to `schema` (URL or key=value form).
pub fn with_schema(base: &str, schema: &str) -> String {
    let url = base.starts_with("postgres://") || base.starts_with("postgresql://");
    if url {
        let sep = if base.contains('?') { '&' } else { '?' };
        format!("{base}{sep}options=-c%20search_path%3D{schema}")
    } else {
        format!("{base} options='-c search_path={schema}'")
    }
}

/// An admin connection to the test server (outside any store).
pub fn pg_client() -> postgres::Client {
    postgres::Client::connect(&pg_url(), postgres::NoTls).expect("connect to PostgreSQL")
}

fn unique_schema() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!(
        "vigil_test_{}_{}_{nanos}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// Test stores open with these (no fsync per commit: tests do not cut power).
pub fn test_options() -> OpenOptions {
    OpenOptions {
        durability: Durability::Normal,
        ..OpenOptions::default()
    }
}

impl TestDb {
    pub fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("temp dir");
        let location = dir.path().join("vigil.db").display().to_string();
        TestDb {
            kind: Kind::Sqlite,
            location,
            dir: Some(dir),
            schema: None,
        }
    }

    /// A fresh, empty schema, or `None` (having said why) when no server answers.
    pub fn postgres() -> Option<TestDb> {
        if !pg_available() {
            return None;
        }
        let schema = unique_schema();
        pg_client()
            .batch_execute(&format!("CREATE SCHEMA {schema}"))
            .expect("create test schema");
        Some(TestDb {
            kind: Kind::Postgres,
            location: with_schema(&pg_url(), &schema),
            dir: None,
            schema: Some(schema),
        })
    }

    /// A new [`Store`] on this database (another "process" or "replica" when called twice).
    pub fn open(&self) -> Store {
        self.try_open()
            .unwrap_or_else(|e| panic!("{}: {e}", self.name()))
    }

    pub fn try_open(&self) -> vigil_store::Result<Store> {
        open_at(self.kind, &self.location)
    }

    /// `sqlite` or `postgres`, for messages.
    pub fn name(&self) -> &'static str {
        match self.kind {
            Kind::Sqlite => "sqlite",
            Kind::Postgres => "postgres",
        }
    }

    /// The `[store]` section of a vigil configuration putting a server on this database;
    /// empty for SQLite (the data directory's own file is the SQLite backend).
    pub fn store_section(&self) -> String {
        match self.kind {
            Kind::Sqlite => String::new(),
            Kind::Postgres => format!("\n[store]\nurl = {:?}\n", self.location),
        }
    }

    /// The SQLite file's directory.
    pub fn dir(&self) -> Option<&std::path::Path> {
        self.dir.as_ref().map(|d| d.path())
    }

    /// Runs SQL directly on the database, bypassing the store (what an operator with a SQL
    /// shell could do); the error text on failure.
    pub fn raw(&self, sql: &str) -> Result<(), String> {
        match self.kind {
            Kind::Sqlite => rusqlite::Connection::open(&self.location)
                .and_then(|c| c.execute_batch(sql))
                .map_err(|e| e.to_string()),
            Kind::Postgres => {
                let mut client = pg_client();
                let schema = self.schema.as_deref().unwrap_or("public");
                client
                    .batch_execute(&format!("SET search_path TO {schema}"))
                    .map_err(|e| e.to_string())?;
                client.batch_execute(sql).map_err(|e| {
                    e.as_db_error()
                        .map_or_else(|| e.to_string(), |d| format!("{e}: {}", d.message()))
                })
            }
        }
    }
}

/// Opens the store of a [`TestDb`] from its kind and location (also used by child processes).
pub fn open_at(kind: Kind, location: &str) -> vigil_store::Result<Store> {
    match kind {
        Kind::Sqlite => Store::open_sqlite(location, &test_options()),
        Kind::Postgres => Store::open_postgres(location, &test_options()),
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some(schema) = &self.schema
            && let Ok(mut client) = postgres::Client::connect(&pg_url(), postgres::NoTls)
        {
            let _ = client.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"));
        }
    }
}

/// A fresh database on every backend available: SQLite always, PostgreSQL when it answers.
pub fn backends() -> Vec<TestDb> {
    let mut out = vec![TestDb::sqlite()];
    out.extend(TestDb::postgres());
    out
}

/// A timestamp `seconds` after an arbitrary fixed origin.
pub fn at(seconds: i64) -> Timestamp {
    Timestamp::from_unix_millis(1_700_000_000_000 + seconds * 1000)
}

pub fn host(name: &str) -> HostInfo {
    HostInfo {
        name: name.to_owned(),
        os_name: Some("Debian GNU/Linux".into()),
        os_version: Some("12".into()),
        arch: Some("x86_64".into()),
        agent_version: Some("0.1.0".into()),
        labels: Default::default(),
    }
}

pub fn instance(ecosystem: &str, name: &str, version: &str, path: &str) -> InstanceInput {
    InstanceInput {
        component: Component::new(Ecosystem::parse(ecosystem), name, version),
        purl: None,
        container_id: None,
        path: path.to_owned(),
        evidence: Evidence::Installed,
        dev: false,
        pids: Vec::new(),
    }
}

pub fn full(host_name: &str, sequence: u64, instances: Vec<InstanceInput>) -> Snapshot {
    Snapshot {
        host: host(host_name),
        sequence,
        kind: SnapshotKind::Full,
        containers: Vec::new(),
        processes: Vec::new(),
        instances,
    }
}

pub fn delta(
    host_name: &str,
    sequence: u64,
    instances: Vec<InstanceInput>,
    removals: Removals,
) -> Snapshot {
    Snapshot {
        kind: SnapshotKind::Delta(removals),
        ..full(host_name, sequence, instances)
    }
}

/// A store in a fresh temporary directory.
pub fn temp_store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open_sqlite(dir.path().join("vigil.db"), &OpenOptions::default())
        .expect("open store");
    (dir, store)
}

/// Runs `test` on a fresh store of every backend, saying which one failed.
pub fn each(test: impl Fn(&TestDb, Store)) {
    for db in backends() {
        let store = db.open();
        eprintln!("-- {}", db.name());
        test(&db, store);
    }
}

/// `n` npm instances named `pkg-0` … at version `version`.
pub fn many(n: usize, version: &str) -> Vec<InstanceInput> {
    (0..n)
        .map(|i| {
            instance(
                "npm",
                &format!("pkg-{i}"),
                version,
                &format!("/srv/app/node_modules/pkg-{i}"),
            )
        })
        .collect()
}
