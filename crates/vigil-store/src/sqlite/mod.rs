//! The SQLite backend: connections, pragmas, migrations and the integrity check; one submodule
//! per concern holds that concern's SQL.
//!
//! Connections: a file store keeps a small pool of connections (WAL lets readers run beside
//! the one writer); an in-memory store has exactly one connection, shared under a mutex.
//! Every write runs in a `BEGIN IMMEDIATE` transaction, so a writer takes the write lock up
//! front and waits for it (busy timeout) instead of failing on a lock upgrade; two processes
//! or two `Store` values on one file are therefore safe, only serialized.

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

use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use rusqlite::{Connection, ErrorCode, OpenFlags, OptionalExtension, TransactionBehavior};

use crate::error::{Result, StoreError};
use crate::migrations::{self, Migration};
use crate::time::Timestamp;
use crate::{Durability, IntegrityCheck, OpenOptions};

/// `PRAGMA application_id` of a vigil store: "VIGL".
const APPLICATION_ID: i64 = 0x5649_474C;

enum Connections {
    Memory(Mutex<Connection>),
    File {
        idle: Mutex<Vec<Connection>>,
        max_idle: usize,
    },
}

/// A SQLite store.
pub(crate) struct SqliteStore {
    path: Option<PathBuf>,
    options: OpenOptions,
    connections: Connections,
    /// Writers of this process queue here before `BEGIN IMMEDIATE`. SQLite has one writer at
    /// a time anyway, but its busy handler polls with growing sleeps, so under steady ingest a
    /// small writer (the workflow outbox marking a delivery) could lose the race for seconds;
    /// waiting on a lock instead hands the write lock over as soon as it is free. Other
    /// processes on the same file still meet the busy handler.
    writer: Mutex<()>,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path`: pragmas, integrity check, migrations.
    pub(crate) fn open(path: &Path, options: &OpenOptions) -> Result<SqliteStore> {
        let conn = open_connection(path, options)?;
        check_integrity(&conn, path, options.integrity_check)?;
        migrate(&conn, path)?;
        Ok(SqliteStore {
            path: Some(path.to_path_buf()),
            options: options.clone(),
            connections: Connections::File {
                idle: Mutex::new(vec![conn]),
                max_idle: options.max_idle_connections.max(1),
            },
            writer: Mutex::new(()),
        })
    }

    /// A private in-memory database (tests, one-shot scans).
    pub(crate) fn open_in_memory() -> Result<SqliteStore> {
        let path = Path::new(":memory:");
        let conn = Connection::open_in_memory().map_err(|e| open_error(path, e))?;
        let options = OpenOptions::default();
        configure(&conn, &options).map_err(|e| open_error(path, e))?;
        migrate(&conn, path)?;
        Ok(SqliteStore {
            path: None,
            options,
            connections: Connections::Memory(Mutex::new(conn)),
            writer: Mutex::new(()),
        })
    }

    /// Where the database lives (`:memory:` for an in-memory one).
    pub(crate) fn location(&self) -> String {
        match &self.path {
            Some(path) => path.display().to_string(),
            None => ":memory:".to_owned(),
        }
    }

    /// Runs `f` on a connection of the pool.
    fn with_connection<T>(&self, f: impl FnOnce(&mut Connection) -> Result<T>) -> Result<T> {
        match &self.connections {
            Connections::Memory(conn) => {
                let mut conn = conn.lock().unwrap_or_else(PoisonError::into_inner);
                f(&mut conn)
            }
            Connections::File { idle, max_idle } => {
                let taken = idle.lock().unwrap_or_else(PoisonError::into_inner).pop();
                let mut conn = match taken {
                    Some(conn) => conn,
                    None => {
                        let path = self.path.as_deref().unwrap_or(Path::new(":memory:"));
                        open_connection(path, &self.options)?
                    }
                };
                let out = f(&mut conn);
                let mut idle = idle.lock().unwrap_or_else(PoisonError::into_inner);
                if idle.len() < *max_idle {
                    idle.push(conn);
                }
                out
            }
        }
    }

    /// Runs `f` in a write transaction (`BEGIN IMMEDIATE`); commits when it returns `Ok`.
    pub(crate) fn write<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let _one_writer = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        self.with_connection(|conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(db("begin write"))?;
            let out = f(&tx)?;
            tx.commit().map_err(db("commit"))?;
            Ok(out)
        })
    }

    /// Runs `f` in a read transaction: one consistent snapshot of the database.
    pub(crate) fn read<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        self.with_connection(|conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Deferred)
                .map_err(db("begin read"))?;
            let out = f(&tx)?;
            tx.finish().map_err(db("end read"))?;
            Ok(out)
        })
    }

    /// The schema version recorded in the database.
    pub(crate) fn schema_version(&self) -> Result<i64> {
        self.read(current_version)
    }

    /// The full `PRAGMA integrity_check`.
    pub(crate) fn integrity_check(&self) -> Result<()> {
        let path = self
            .path
            .clone()
            .unwrap_or_else(|| PathBuf::from(":memory:"));
        self.with_connection(|conn| check_integrity(conn, &path, IntegrityCheck::Full))
    }
}

fn open_connection(path: &Path, options: &OpenOptions) -> Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(|e| open_error(path, e))?;
    // The busy timeout first: reading the journal mode needs a shared lock, and another
    // process holding the file (a second server, `vigil scan --save` beside `vigil up`) must
    // make this open wait, not fail with "database is locked".
    conn.busy_timeout(options.busy_timeout)
        .map_err(|e| open_error(path, e))?;
    // WAL is a property of the file: set once, kept by every later connection. An in-memory
    // database answers `memory`, which is fine.
    conn.query_row("PRAGMA journal_mode = WAL", [], |row| {
        row.get::<_, String>(0)
    })
    .map_err(|e| open_error(path, e))?;
    configure(&conn, options).map_err(|e| open_error(path, e))?;
    Ok(conn)
}

/// Per-connection settings.
fn configure(conn: &Connection, options: &OpenOptions) -> rusqlite::Result<()> {
    conn.busy_timeout(options.busy_timeout)?;
    conn.set_prepared_statement_cache_capacity(64);
    let synchronous = match options.durability {
        Durability::Full => "FULL",
        Durability::Normal => "NORMAL",
    };
    conn.execute_batch(&format!(
        "PRAGMA foreign_keys = ON; PRAGMA synchronous = {synchronous}; PRAGMA temp_store = MEMORY;"
    ))?;
    let fk: i64 = conn.query_row("PRAGMA foreign_keys", [], |row| row.get(0))?;
    if fk != 1 {
        return Err(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_MISUSE),
            Some("this SQLite build cannot enforce foreign keys".to_owned()),
        ));
    }
    Ok(())
}

fn open_error(path: &Path, error: rusqlite::Error) -> StoreError {
    match error.sqlite_error_code() {
        Some(ErrorCode::NotADatabase) => StoreError::NotADatabase {
            path: path.to_path_buf(),
        },
        Some(ErrorCode::DatabaseCorrupt) => StoreError::Corrupt {
            path: path.to_path_buf(),
            detail: error.to_string(),
        },
        _ => StoreError::Open {
            path: path.to_path_buf(),
            source: Box::new(error),
        },
    }
}

fn check_integrity(conn: &Connection, path: &Path, check: IntegrityCheck) -> Result<()> {
    let pragma = match check {
        IntegrityCheck::Skip => return Ok(()),
        IntegrityCheck::Quick => "PRAGMA quick_check(20)",
        IntegrityCheck::Full => "PRAGMA integrity_check(20)",
    };
    let lines: Vec<String> = (|| {
        let mut stmt = conn.prepare(pragma)?;
        let rows = stmt.query_map([], |row| row.get::<_, String>(0))?;
        rows.collect::<rusqlite::Result<Vec<String>>>()
    })()
    .map_err(|e| match open_error(path, e) {
        StoreError::Open { path, source } => StoreError::Corrupt {
            path,
            detail: source.to_string(),
        },
        other => other,
    })?;
    if lines.len() == 1 && lines.first().is_some_and(|l| l == "ok") {
        return Ok(());
    }
    let mut detail = lines.iter().take(5).cloned().collect::<Vec<_>>().join("; ");
    if lines.len() > 5 {
        detail.push_str(&format!("; and {} more", lines.len() - 5));
    }
    Err(StoreError::Corrupt {
        path: path.to_path_buf(),
        detail,
    })
}

fn current_version(conn: &Connection) -> Result<i64> {
    let exists: bool = conn
        .query_row(
            "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations')",
            [],
            |row| row.get(0),
        )
        .map_err(db("read schema version"))?;
    if !exists {
        return Ok(0);
    }
    conn.query_row(
        "SELECT coalesce(max(version), 0) FROM schema_migrations",
        [],
        |row| row.get(0),
    )
    .map_err(db("read schema version"))
}

/// Brings the schema up to the latest version; refuses a database from a newer build and a
/// SQLite file that belongs to something else.
fn migrate(conn: &Connection, path: &Path) -> Result<()> {
    let migration_error = |m: &Migration, e: rusqlite::Error| StoreError::Migration {
        path: path.to_path_buf(),
        version: m.version,
        name: m.name,
        source: Box::new(e),
    };
    let app_id: i64 = conn
        .query_row("PRAGMA application_id", [], |row| row.get(0))
        .map_err(|e| open_error(path, e))?;
    let found = current_version(conn)?;
    if app_id != APPLICATION_ID && app_id != 0 {
        return Err(StoreError::NotADatabase {
            path: path.to_path_buf(),
        });
    }
    if found == 0 {
        let tables: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'",
                [],
                |row| row.get(0),
            )
            .map_err(|e| open_error(path, e))?;
        if tables > 0 && app_id != APPLICATION_ID {
            return Err(StoreError::NotADatabase {
                path: path.to_path_buf(),
            });
        }
    }
    for m in migrations::pending(migrations::SQLITE, found, path)? {
        let applied_at = Timestamp::now().unix_millis();
        let run = || -> rusqlite::Result<()> {
            // Immediate: two processes opening a fresh file at once serialize here, and the
            // second sees the first's work below.
            conn.execute_batch("BEGIN IMMEDIATE")?;
            let result = (|| {
                conn.execute_batch(
                    "CREATE TABLE IF NOT EXISTS schema_migrations (
                        version INTEGER PRIMARY KEY,
                        name TEXT NOT NULL,
                        applied_at INTEGER NOT NULL
                    )",
                )?;
                let done: Option<i64> = conn
                    .query_row(
                        "SELECT version FROM schema_migrations WHERE version = ?1",
                        [m.version],
                        |row| row.get(0),
                    )
                    .optional()?;
                if done.is_none() {
                    conn.execute_batch(m.sql)?;
                    conn.execute(
                        "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?1, ?2, ?3)",
                        rusqlite::params![m.version, m.name, applied_at],
                    )?;
                    conn.execute_batch(&format!("PRAGMA application_id = {APPLICATION_ID}"))?;
                }
                Ok(())
            })();
            match result {
                Ok(()) => conn.execute_batch("COMMIT"),
                Err(e) => {
                    // The migration's own error is the one worth reporting.
                    let _ = conn.execute_batch("ROLLBACK");
                    Err(e)
                }
            }
        };
        run().map_err(|e| migration_error(m, e))?;
    }
    Ok(())
}

/// Maps a driver error to [`StoreError`], naming the operation.
pub(crate) fn db(op: &'static str) -> impl Fn(rusqlite::Error) -> StoreError {
    move |error| match error.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => StoreError::Busy { op },
        _ => StoreError::Database {
            op,
            source: Box::new(error),
        },
    }
}

impl Default for OpenOptions {
    fn default() -> Self {
        OpenOptions {
            integrity_check: IntegrityCheck::Quick,
            durability: Durability::Full,
            busy_timeout: Duration::from_secs(10),
            max_idle_connections: 4,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_errors_are_told_apart() {
        let busy = rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY),
            None,
        );
        assert!(matches!(db("x")(busy), StoreError::Busy { op: "x" }));
        let other = rusqlite::Error::QueryReturnedNoRows;
        assert!(matches!(
            db("x")(other),
            StoreError::Database { op: "x", .. }
        ));
    }
}
