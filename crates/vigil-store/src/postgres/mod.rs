//! The PostgreSQL backend: connections and their pool, migrations, error mapping; one
//! submodule per concern holds that concern's SQL (the same split as the SQLite backend).
//!
//! Selected by a `postgres://` (or `postgresql://`) location, or any libpq connection string
//! through [`crate::Store::open_postgres`]. The schema lives in the first schema of the
//! connection's `search_path` (`?options=-c%20search_path%3Dvigil` picks one), so one database
//! can hold several stores.
//!
//! # Several replicas on one database
//!
//! Several processes ("replicas") may share one database; every method is safe under that, and
//! each piece of work happens once:
//!
//! - **Migrations** run under a session advisory lock on the schema, each in its own
//!   transaction that re-checks `schema_migrations`: replicas starting together apply each
//!   migration once; a schema newer than this build is refused.
//! - **Snapshots** take a transaction-level advisory lock on their host
//!   (`pg_advisory_xact_lock`), so two replicas given snapshots of one host apply them one after
//!   the other and the second sees the first's `ingest_log` row: idempotency per
//!   (host, sequence) holds across replicas (the primary key is the backstop). Snapshots of
//!   different hosts run in parallel; the components they share are inserted with
//!   `ON CONFLICT DO NOTHING` in one sorted statement, so two of them never deadlock.
//! - **Findings** are upserted with `INSERT … ON CONFLICT DO NOTHING` on their unique key, then
//!   updated: two replicas upserting one finding create it once.
//! - **The outbox** is leased with `SELECT … FOR UPDATE SKIP LOCKED`: two replicas never lease
//!   one task (a row locked by one lease is skipped by the other, and a row leased and
//!   committed meanwhile fails the re-checked `status` condition); a lease that expired is taken
//!   over; completion and failure are fenced by the owner.
//! - **Events** stay gap-free for readers: every append takes one transaction-level advisory
//!   lock before drawing its `seq` from the sequence and holds it until commit. Sequence
//!   numbers are therefore handed out in commit order, and PostgreSQL makes a commit visible
//!   before it releases the transaction's locks, so a reader that sees `seq = n` also sees every
//!   smaller one: `events_since(cursor)` never skips an event that commits later. The lock
//!   serializes only appenders, from their append to their commit (take it last: append events
//!   after the other writes of a transaction).
//!
//! - **Detection** (matching snapshots and intel changes, auto-resolve) runs one transaction
//!   at a time across replicas: `WriteTx::lock_detection` takes a transaction-level advisory
//!   lock on the schema. The server takes it first in every detection transaction, before
//!   the host and event locks, so the lock order is always detection → host → events.
//!
//! Write transactions run at `READ COMMITTED` with those explicit locks; reads run in
//! `REPEATABLE READ READ ONLY` transactions (one consistent snapshot). A lock wait longer than
//! `busy_timeout` (`lock_timeout`), a deadlock or a serialization failure is
//! [`StoreError::Busy`]: retry the transaction.
//!
//! # Connections
//!
//! A pool of at most `max_idle_connections` connections; a caller waits up to `busy_timeout` for
//! one. Connections idle for a while are checked before reuse; broken ones are dropped.
//! Statements are prepared once per connection and cached.
//!
//! TLS (rustls) is used when the location says `sslmode=require`: the server's certificate is
//! verified (chain and host name — stricter than libpq's `require`, like its `verify-full`)
//! against the public web roots plus the PEM file named by `sslrootcert=` (libpq's parameter,
//! taken out of the location before the driver parses it; in the key=value form its value
//! cannot contain spaces). A server that offers no TLS is refused. `sslmode=prefer` (the
//! default) and `disable` connect in plain TCP: vigil never tries TLS and silently falls back,
//! so ask for it with `require`.
//!
//! # Differences from SQLite
//!
//! - PostgreSQL text cannot hold NUL characters (`\0`, also `\u0000` in JSON): such a value is
//!   refused with [`StoreError::InvalidInput`] and the transaction writes nothing.
//! - B-tree keys are limited to about 2.7 kB (after compression): a longer host name, package
//!   name or version is refused the same way. Instance paths are indexed by their MD5, so they
//!   have no such limit.
//! - An error inside a [`crate::Store::write`] closure aborts the PostgreSQL transaction even if
//!   the closure ignores it; the store then refuses to commit and returns an error instead of
//!   silently committing nothing.

mod events;
mod findings;
mod intel;
mod inventory;
mod outbox;
mod query;
mod tokens;

pub(crate) use events::*;
pub(crate) use findings::*;
pub(crate) use intel::*;
pub(crate) use inventory::*;
pub(crate) use outbox::*;
pub(crate) use query::*;
pub(crate) use tokens::*;

use std::cell::{RefCell, RefMut};
use std::collections::HashMap;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use ::postgres::config::Host;
use ::postgres::config::SslMode;
use ::postgres::error::SqlState;
use ::postgres::types::{FromSql, ToSql};
use ::postgres::{Client, Config, NoTls, Row, Statement};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::error::{Result, StoreError};
use crate::migrations;
use crate::time::Timestamp;
use crate::{Durability, OpenOptions};

/// What `schema_migrations` carries as its table comment: marks a schema as a vigil store
/// (SQLite's `application_id`), so another application's `schema_migrations` is not mistaken
/// for ours.
const MARKER: &str = "vigil store";

/// How long a replica waits for another's migrations before giving up.
const MIGRATION_LOCK_TIMEOUT: Duration = Duration::from_secs(300);

/// A pooled connection idle longer than this is checked before reuse.
const CHECK_AFTER_IDLE: Duration = Duration::from_secs(30);

/// Prepared statements kept per connection before the cache is cleared.
const STATEMENT_CACHE: usize = 256;

/// A parameter of a statement.
pub(crate) type Param<'a> = &'a (dyn ToSql + Sync);

/// One connection with its statement cache.
pub(crate) struct Conn {
    client: Client,
    statements: HashMap<String, Statement>,
    last_used: Instant,
    /// A statement failed inside the current transaction (PostgreSQL has aborted it).
    failed: bool,
}

impl Conn {
    fn new(client: Client) -> Conn {
        Conn {
            client,
            statements: HashMap::new(),
            last_used: Instant::now(),
            failed: false,
        }
    }

    fn statement(&mut self, op: &'static str, sql: &str) -> Result<Statement> {
        if let Some(statement) = self.statements.get(sql) {
            return Ok(statement.clone());
        }
        let statement = match self.client.prepare(sql) {
            Ok(statement) => statement,
            Err(e) => {
                self.failed = true;
                return Err(pg(op)(e));
            }
        };
        if self.statements.len() >= STATEMENT_CACHE {
            self.statements.clear();
        }
        self.statements.insert(sql.to_owned(), statement.clone());
        Ok(statement)
    }

    fn check<T>(&mut self, op: &'static str, result: Result<T, ::postgres::Error>) -> Result<T> {
        result.map_err(|e| {
            self.failed = true;
            pg(op)(e)
        })
    }

    /// Runs a (cached) statement and returns its rows.
    pub(crate) fn query(
        &mut self,
        op: &'static str,
        sql: &str,
        params: &[Param<'_>],
    ) -> Result<Vec<Row>> {
        let statement = self.statement(op, sql)?;
        let result = self.client.query(&statement, params);
        self.check(op, result)
    }

    /// Runs a (cached) statement expected to return at most one row.
    pub(crate) fn query_opt(
        &mut self,
        op: &'static str,
        sql: &str,
        params: &[Param<'_>],
    ) -> Result<Option<Row>> {
        Ok(self.query(op, sql, params)?.into_iter().next())
    }

    /// Runs a (cached) statement expected to return exactly one row.
    pub(crate) fn query_one(
        &mut self,
        op: &'static str,
        sql: &str,
        params: &[Param<'_>],
    ) -> Result<Row> {
        self.query_opt(op, sql, params)?
            .ok_or_else(|| StoreError::Database {
                op,
                source: "the statement returned no row".into(),
            })
    }

    /// Runs a (cached) statement; the number of rows it changed.
    pub(crate) fn execute(
        &mut self,
        op: &'static str,
        sql: &str,
        params: &[Param<'_>],
    ) -> Result<u64> {
        let statement = self.statement(op, sql)?;
        let result = self.client.execute(&statement, params);
        self.check(op, result)
    }

    /// Runs a statement that is not worth caching (built per call).
    pub(crate) fn query_uncached(
        &mut self,
        op: &'static str,
        sql: &str,
        params: &[Param<'_>],
    ) -> Result<Vec<Row>> {
        let result = self.client.query(sql, params);
        self.check(op, result)
    }

    fn batch(&mut self, op: &'static str, sql: &str) -> Result<()> {
        let result = self.client.batch_execute(sql);
        self.check(op, result)
    }
}

/// An open transaction on one connection, handed to the per-concern functions. The
/// connection sits in a `RefCell` so a transaction can be shared as `&Tx`; every function
/// borrows it once, at its start, and never calls back into another borrowing function.
pub(crate) struct Tx {
    conn: RefCell<Conn>,
}

impl Tx {
    /// The connection, for the duration of one function.
    pub(crate) fn conn(&self) -> Result<RefMut<'_, Conn>> {
        self.conn
            .try_borrow_mut()
            .map_err(|_| StoreError::InvalidInput {
                what: "transaction",
                reason: "the connection is already in use by this transaction".into(),
            })
    }
}

struct PoolState {
    idle: Vec<Conn>,
    open: usize,
}

impl Drop for Pool {
    /// Closes the idle connections on a thread of their own: the synchronous client closes
    /// through a runtime of its own, which panics when the store's last owner is dropped on
    /// an async runtime's thread (a server shutting down).
    fn drop(&mut self) {
        let idle = std::mem::take(
            &mut self
                .state
                .get_mut()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .idle,
        );
        if !idle.is_empty() {
            let _ = std::thread::spawn(move || drop(idle)).join();
        }
    }
}

/// A small blocking pool: at most `max` connections open; callers wait up to `wait` for one.
struct Pool {
    config: Config,
    /// Set for `sslmode=require`.
    tls: Option<MakeRustlsConnect>,
    setup: String,
    state: Mutex<PoolState>,
    available: Condvar,
    max: usize,
    wait: Duration,
}

impl Pool {
    fn lock(&self) -> MutexGuard<'_, PoolState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn connect(&self) -> Result<Conn> {
        let client = match &self.tls {
            Some(tls) => self.config.connect(tls.clone()),
            None => self.config.connect(NoTls),
        }
        .map_err(|e| StoreError::Database {
            op: "connect",
            source: with_causes(&e).into(),
        })?;
        let mut conn = Conn::new(client);
        conn.batch("configure connection", &self.setup)?;
        Ok(conn)
    }

    /// A connection: an idle one (checked when it idled long), a new one while under `max`, or
    /// the next one given back.
    fn take(&self) -> Result<Conn> {
        let deadline = Instant::now() + self.wait;
        let mut state = self.lock();
        loop {
            if let Some(mut conn) = state.idle.pop() {
                drop(state);
                let healthy = !conn.client.is_closed()
                    && (conn.last_used.elapsed() < CHECK_AFTER_IDLE
                        || conn
                            .client
                            .is_valid(self.wait.max(Duration::from_secs(1)))
                            .is_ok());
                if healthy {
                    return Ok(conn);
                }
                state = self.lock();
                state.open = state.open.saturating_sub(1);
                continue;
            }
            if state.open < self.max {
                state.open += 1;
                drop(state);
                return self.connect().inspect_err(|_| self.forget());
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(StoreError::Busy {
                    op: "wait for a database connection",
                });
            }
            state = self
                .available
                .wait_timeout(state, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// Returns a connection that finished its transaction cleanly.
    fn give_back(&self, mut conn: Conn) {
        if conn.client.is_closed() {
            self.forget();
            return;
        }
        conn.last_used = Instant::now();
        conn.failed = false;
        self.lock().idle.push(conn);
        self.available.notify_one();
    }

    /// Counts out a connection that was dropped (broken, or in an unknown state).
    fn forget(&self) {
        let mut state = self.lock();
        state.open = state.open.saturating_sub(1);
        drop(state);
        self.available.notify_one();
    }
}

/// Counts a taken connection out of the pool if it is not given back (an error path, or a
/// panic in a caller's closure).
struct Taken<'a> {
    pool: &'a Pool,
    settled: bool,
}

impl Taken<'_> {
    fn give_back(mut self, conn: Conn) {
        self.settled = true;
        self.pool.give_back(conn);
    }
}

impl Drop for Taken<'_> {
    fn drop(&mut self) {
        if !self.settled {
            self.pool.forget();
        }
    }
}

/// A PostgreSQL store.
pub(crate) struct PgStore {
    location: String,
    pool: Box<Pool>,
}

impl PgStore {
    /// Connects, migrates, and keeps the connection for the pool. `options`: `busy_timeout`
    /// bounds lock waits and the wait for a pooled connection; `max_idle_connections` is the
    /// pool's size; `Durability::Normal` turns `synchronous_commit` off (a crash of the
    /// database server may lose the last commits, never corrupts); the integrity check is
    /// PostgreSQL's own business.
    pub(crate) fn open(url: &str, options: &OpenOptions) -> Result<PgStore> {
        let (url, root_cert) = take_sslrootcert(url);
        let url = url.as_str();
        let mut config = Config::from_str(url).map_err(|e| StoreError::Open {
            path: PathBuf::from(redact(url)),
            source: Box::new(e),
        })?;
        let location = describe(&config);
        let tls = match config.get_ssl_mode() {
            SslMode::Require => Some(tls_connector(root_cert.as_deref(), &location)?),
            _ => {
                // Never try TLS and fall back silently: plain unless `require` was asked for.
                config.ssl_mode(SslMode::Disable);
                None
            }
        };
        if config.get_application_name().is_none() {
            config.application_name("vigil");
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(options.busy_timeout.max(Duration::from_secs(1)));
        }
        let mut setup = format!(
            "SET lock_timeout = {}; SET TIME ZONE 'UTC';",
            millis(options.busy_timeout).max(1)
        );
        if options.durability == Durability::Normal {
            setup.push_str(" SET synchronous_commit = off;");
        }
        let pool = Pool {
            config,
            tls,
            setup,
            state: Mutex::new(PoolState {
                idle: Vec::new(),
                open: 1,
            }),
            available: Condvar::new(),
            max: options.max_idle_connections.max(1),
            wait: options.busy_timeout,
        };
        let mut conn = pool.connect().map_err(|e| match e {
            StoreError::Database { source, .. } => StoreError::Open {
                path: PathBuf::from(&location),
                source,
            },
            other => other,
        })?;
        migrate(&mut conn, &location, options.busy_timeout)?;
        pool.give_back(conn);
        Ok(PgStore {
            location,
            pool: Box::new(pool),
        })
    }

    /// Where the data lives, without the password.
    pub(crate) fn location(&self) -> String {
        self.location.clone()
    }

    fn run<T>(
        &self,
        begin: &'static str,
        op: &'static str,
        f: impl FnOnce(&Tx) -> Result<T>,
    ) -> Result<T> {
        let mut conn = self.pool.take()?;
        let taken = Taken {
            pool: &self.pool,
            settled: false,
        };
        conn.batch(op, begin)?;
        let tx = Tx {
            conn: RefCell::new(conn),
        };
        let out = f(&tx);
        let mut conn = tx.conn.into_inner();
        match out {
            Ok(value) if !conn.failed => {
                conn.batch("commit", "COMMIT")?;
                taken.give_back(conn);
                Ok(value)
            }
            Ok(_) => {
                if conn.batch("roll back", "ROLLBACK").is_ok() {
                    taken.give_back(conn);
                }
                Err(StoreError::InvalidInput {
                    what: "transaction",
                    reason: "a statement failed inside it and PostgreSQL aborted it; nothing was committed".into(),
                })
            }
            Err(e) => {
                if conn.batch("roll back", "ROLLBACK").is_ok() {
                    taken.give_back(conn);
                }
                Err(e)
            }
        }
    }

    /// Runs `f` in a write transaction; commits when it returns `Ok`.
    pub(crate) fn write<T>(&self, f: impl FnOnce(&Tx) -> Result<T>) -> Result<T> {
        self.run("BEGIN", "begin write", f)
    }

    /// Runs `f` in a read-only transaction on one consistent snapshot.
    pub(crate) fn read<T>(&self, f: impl FnOnce(&Tx) -> Result<T>) -> Result<T> {
        self.run(
            "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
            "begin read",
            f,
        )
    }

    /// The schema version recorded in the database.
    pub(crate) fn schema_version(&self) -> Result<i64> {
        self.read(|tx| current_version(&mut *tx.conn()?))
    }

    /// PostgreSQL checks its own pages; this checks that the store answers and its schema is
    /// there.
    pub(crate) fn integrity_check(&self) -> Result<()> {
        self.read(|tx| {
            let mut c = tx.conn()?;
            let version = current_version(&mut c)?;
            if version < 1 {
                return Err(StoreError::Corrupt {
                    path: PathBuf::from(&self.location),
                    detail: "schema_migrations is missing".into(),
                });
            }
            c.query("integrity check", "SELECT 1 FROM hosts LIMIT 1", &[])?;
            Ok(())
        })
    }
}

fn current_version(c: &mut Conn) -> Result<i64> {
    let row = c.query_one(
        "read schema version",
        "SELECT to_regclass(format('%I.schema_migrations', current_schema())) IS NOT NULL",
        &[],
    )?;
    if !get::<bool>(&row, 0)? {
        return Ok(0);
    }
    let row = c.query_one(
        "read schema version",
        "SELECT coalesce(max(version), 0)::bigint FROM schema_migrations",
        &[],
    )?;
    get(&row, 0)
}

/// Brings the schema up to the latest version under a session advisory lock on the schema;
/// refuses a schema from a newer build and a schema that holds something else.
fn migrate(c: &mut Conn, location: &str, lock_timeout: Duration) -> Result<()> {
    let schema: Option<String> = get(
        &c.query_one("read schema", "SELECT current_schema()::text", &[])?,
        0,
    )?;
    if schema.is_none() {
        return Err(StoreError::UnsupportedLocation {
            location: location.to_owned(),
            reason: "no schema to create the store in: the search_path names no existing schema",
        });
    }
    c.batch(
        "wait for migrations",
        &format!(
            "SET lock_timeout = {}",
            millis(MIGRATION_LOCK_TIMEOUT).max(1)
        ),
    )?;
    c.query(
        "wait for migrations",
        "SELECT pg_advisory_lock(hashtextextended('vigil/migrate/' || current_schema(), 0))",
        &[],
    )?;
    let result = migrate_locked(c, location);
    let unlocked = c
        .query(
            "release migration lock",
            "SELECT pg_advisory_unlock(hashtextextended('vigil/migrate/' || current_schema(), 0))",
            &[],
        )
        .and_then(|_| {
            c.batch(
                "configure connection",
                &format!("SET lock_timeout = {}", millis(lock_timeout).max(1)),
            )
        });
    c.failed = false;
    result?;
    unlocked
}

fn migrate_locked(c: &mut Conn, location: &str) -> Result<()> {
    let path = || PathBuf::from(location);
    let row = c.query_one(
        "inspect schema",
        "SELECT to_regclass(format('%I.schema_migrations', current_schema())) IS NOT NULL,
                obj_description(to_regclass(format('%I.schema_migrations', current_schema())), 'pg_class'),
                (SELECT count(*) FROM pg_class k JOIN pg_namespace n ON n.oid = k.relnamespace
                 WHERE n.nspname = current_schema() AND k.relkind IN ('r', 'p', 'v', 'm', 'f'))",
        &[],
    )?;
    let has_migrations: bool = get(&row, 0)?;
    let marker: Option<String> = get(&row, 1)?;
    let relations: i64 = get(&row, 2)?;
    let ours = has_migrations && marker.as_deref() == Some(MARKER);
    if (has_migrations && !ours) || (!has_migrations && relations > 0) {
        return Err(StoreError::UnsupportedLocation {
            location: location.to_owned(),
            reason: "the schema holds tables that are not a vigil store; point the store at an empty database or schema (search_path)",
        });
    }
    let found = current_version(c)?;
    for m in migrations::pending(migrations::POSTGRES, found, &path())? {
        let applied_at = Timestamp::now().unix_millis();
        let mut run = || -> Result<()> {
            c.batch("migrate", "BEGIN")?;
            c.batch(
                "migrate",
                &format!(
                    "CREATE TABLE IF NOT EXISTS schema_migrations (
                        version BIGINT PRIMARY KEY,
                        name TEXT NOT NULL,
                        applied_at BIGINT NOT NULL
                    );
                    COMMENT ON TABLE schema_migrations IS '{MARKER}';"
                ),
            )?;
            let done = c
                .query_uncached(
                    "migrate",
                    "SELECT 1 FROM schema_migrations WHERE version = $1",
                    &[&m.version],
                )?
                .into_iter()
                .next()
                .is_some();
            if !done {
                c.batch("migrate", m.sql)?;
                c.query_uncached(
                    "migrate",
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
                    &[&m.version, &m.name, &applied_at],
                )?;
            }
            c.batch("migrate", "COMMIT")
        };
        if let Err(e) = run() {
            let _ = c.client.batch_execute("ROLLBACK");
            c.failed = false;
            let source: crate::error::Source = match e {
                StoreError::Database { source, .. } => source,
                other => Box::new(other),
            };
            return Err(StoreError::Migration {
                path: path(),
                version: m.version,
                name: m.name,
                source,
            });
        }
    }
    // Statements prepared before the migrations may describe old shapes.
    c.statements.clear();
    Ok(())
}

/// `postgres://user@host:port/db` (and the `options`, which pick the schema), never the
/// password: for messages.
fn describe(config: &Config) -> String {
    let user = config.get_user().unwrap_or("");
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .enumerate()
        .map(|(i, host)| {
            let name = match host {
                Host::Tcp(name) => name.clone(),
                Host::Unix(path) => path.display().to_string(),
            };
            match config.get_ports().get(i).or(config.get_ports().first()) {
                Some(port) => format!("{name}:{port}"),
                None => name,
            }
        })
        .collect();
    let mut out = format!("postgres://{user}@{}", hosts.join(","));
    if let Some(db) = config.get_dbname() {
        out.push('/');
        out.push_str(db);
    }
    if let Some(options) = config.get_options() {
        out.push_str(&format!(" (options {options:?})"));
    }
    out
}

/// Takes libpq's `sslrootcert=PATH` out of a location (the driver does not know it): the
/// location without it, and the path.
fn take_sslrootcert(url: &str) -> (String, Option<PathBuf>) {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let Some((base, query)) = url.split_once('?') else {
            return (url.to_owned(), None);
        };
        let mut path = None;
        let kept: Vec<&str> = query
            .split('&')
            .filter(|pair| match pair.strip_prefix("sslrootcert=") {
                Some(value) => {
                    path = Some(PathBuf::from(percent_decode(value)));
                    false
                }
                None => true,
            })
            .collect();
        let url = if kept.is_empty() {
            base.to_owned()
        } else {
            format!("{base}?{}", kept.join("&"))
        };
        return (url, path);
    }
    let mut path = None;
    let kept: Vec<&str> = url
        .split_whitespace()
        .filter(|word| match word.strip_prefix("sslrootcert=") {
            Some(value) => {
                path = Some(PathBuf::from(value.trim_matches('\'')));
                false
            }
            None => true,
        })
        .collect();
    if path.is_none() {
        return (url.to_owned(), None);
    }
    (kept.join(" "), path)
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The rustls connector for `sslmode=require`: the public web roots plus `root_cert`'s.
fn tls_connector(root_cert: Option<&std::path::Path>, location: &str) -> Result<MakeRustlsConnect> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let refuse = |reason: String| StoreError::Open {
        path: PathBuf::from(location),
        source: reason.into(),
    };
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = root_cert {
        let certs = CertificateDer::pem_file_iter(path)
            .map_err(|e| refuse(format!("sslrootcert {}: {e}", path.display())))?;
        let mut added = 0;
        for cert in certs {
            let cert = cert.map_err(|e| refuse(format!("sslrootcert {}: {e}", path.display())))?;
            roots
                .add(cert)
                .map_err(|e| refuse(format!("sslrootcert {}: {e}", path.display())))?;
            added += 1;
        }
        if added == 0 {
            return Err(refuse(format!(
                "sslrootcert {}: no PEM certificate in it",
                path.display()
            )));
        }
    }
    let config = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| refuse(format!("TLS setup: {e}")))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(MakeRustlsConnect::new(config))
}

/// A location for an error message when it could not even be parsed: the scheme and what
/// follows the last `@`, so a password never shows.
fn redact(url: &str) -> String {
    match (url.split_once("://"), url.rsplit_once('@')) {
        (Some((scheme, _)), Some((_, rest))) => format!("{scheme}://…@{rest}"),
        _ if url.contains("password") => "<connection string>".to_owned(),
        _ => url.to_owned(),
    }
}

/// An error's message followed by its causes' (the driver's top-level message alone, "error
/// connecting to server", does not say why).
fn with_causes(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut cause = error.source();
    while let Some(c) = cause {
        message.push_str(": ");
        message.push_str(&c.to_string());
        cause = c.source();
    }
    message
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

/// Maps a driver error to [`StoreError`], naming the operation.
pub(crate) fn pg(op: &'static str) -> impl Fn(::postgres::Error) -> StoreError {
    move |error| {
        let code = error.code().cloned();
        match code {
            Some(c)
                if c == SqlState::T_R_DEADLOCK_DETECTED
                    || c == SqlState::T_R_SERIALIZATION_FAILURE
                    || c == SqlState::LOCK_NOT_AVAILABLE
                    || c == SqlState::QUERY_CANCELED =>
            {
                StoreError::Busy { op }
            }
            Some(c)
                if c == SqlState::CHARACTER_NOT_IN_REPERTOIRE
                    || c == SqlState::UNTRANSLATABLE_CHARACTER
                    || c == SqlState::PROGRAM_LIMIT_EXCEEDED =>
            {
                let message = error
                    .as_db_error()
                    .map_or_else(|| error.to_string(), |db| db.message().to_owned());
                StoreError::InvalidInput {
                    what: op,
                    reason: format!(
                        "PostgreSQL cannot store this value ({message}); NUL characters and very long keys are refused"
                    ),
                }
            }
            _ => StoreError::Database {
                op,
                source: Box::new(error),
            },
        }
    }
}

/// Reads column `idx`, mapping driver errors.
pub(crate) fn get<'a, T: FromSql<'a>>(row: &'a Row, idx: usize) -> Result<T> {
    row.try_get(idx).map_err(pg("decode row"))
}

/// A `usize` limit as a bigint.
pub(crate) fn limit(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Pids as PostgreSQL prints a `jsonb` array of them (`[1, 2]`), so a stored array compares
/// equal as text.
pub(crate) fn pids_text(pids: &[u32]) -> String {
    crate::codec::pids_array(pids, ", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sslrootcert_is_taken_out_of_the_location() {
        for (location, rest, path) in [
            (
                "postgres://u@h/db?sslmode=require&sslrootcert=%2Fetc%2Fca.pem",
                "postgres://u@h/db?sslmode=require",
                Some("/etc/ca.pem"),
            ),
            (
                "postgres://u@h/db?sslrootcert=/ca.pem",
                "postgres://u@h/db",
                Some("/ca.pem"),
            ),
            (
                "postgres://u@h/db?sslmode=require",
                "postgres://u@h/db?sslmode=require",
                None,
            ),
            (
                "host=h sslmode=require sslrootcert='/ca.pem' user=u",
                "host=h sslmode=require user=u",
                Some("/ca.pem"),
            ),
            ("host=h user=u", "host=h user=u", None),
        ] {
            let (got, got_path) = take_sslrootcert(location);
            assert_eq!(got, rest, "{location}");
            assert_eq!(
                got_path.as_deref(),
                path.map(std::path::Path::new),
                "{location}"
            );
        }
    }

    #[test]
    fn locations_never_show_passwords() {
        let config = Config::from_str("postgres://alice:s3cret@db.example:6543/vigil").unwrap();
        let shown = describe(&config);
        assert_eq!(shown, "postgres://alice@db.example:6543/vigil");
        assert!(!redact("postgres://alice:s3cret@db.example/vigil").contains("s3cret"));
        assert!(!redact("host=x password=s3cret").contains("s3cret"));
    }

    #[test]
    fn pids_print_like_jsonb() {
        assert_eq!(pids_text(&[]), "[]");
        assert_eq!(pids_text(&[1, 22]), "[1, 22]");
    }
}
