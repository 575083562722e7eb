//! # vigil-store
//!
//! Where vigil remembers: hosts, containers, processes, component instances and their exposure
//! history, advisories and the persisted matcher, findings, the append-only security-event
//! log, the workflow outbox and API tokens — behind one [`Store`] whatever the database.
//!
//! What lives here: the schema (versioned migrations, see `SCHEMA.md`), typed methods grouped by
//! concern, transactions, and the `q_*` SQL views the query language compiles to.
//!
//! What does **not** live here: business rules. The store does not decide whether a component
//! is affected, when a finding is created, re-opened or resolved, what a risk score is, or which
//! token scope allows what; it records what the detection engine, the workflow runner and the
//! server decide, atomically and durably, and answers their questions quickly.
//!
//! ## Backends
//!
//! SQLite (bundled, embedded; the default) and PostgreSQL (`postgres://…`; several server
//! replicas may share one database — see the `postgres` module docs for how each piece of work
//! happens once), two variants of a private backend enum behind the same methods: callers hold
//! a [`Store`] and a [`WriteTx`] and never name a driver type — errors carry driver errors as
//! opaque sources, parameters and results are plain Rust types, and [`Store::open`] picks the
//! backend from the location. The interface is synchronous (blocking); async callers run it on
//! a blocking thread. Each backend module holds its dialect's SQL and row reading and writing;
//! what both decide (the snapshot diff, findings' columns, the migration list, value
//! spellings) is in crate-private modules they share, so the backends cannot drift apart.
//!
//! ## Transactions
//!
//! Every write method on [`Store`] is one transaction. [`Store::write`] runs several in one —
//! a finding, its event and its outbox tasks commit together or not at all:
//!
//! ```
//! # use vigil_store::*;
//! # fn main() -> Result<()> {
//! let store = Store::open_in_memory()?;
//! let now = Timestamp::from_unix_millis(1_700_000_000_000);
//! let seq = store.write(|tx| {
//!     let event = EventInput {
//!         timestamp: now,
//!         event_type: "VULNERABILITY_FINDING".into(),
//!         finding_id: None,
//!         payload: Default::default(),
//!     };
//!     Ok(tx.append_event(&event)?.seq)
//! })?;
//! assert_eq!(store.events_since(EventSeq(0), 10)?[0].seq, seq);
//! # Ok(()) }
//! ```
//!
//! Inside a `write` closure use only the [`WriteTx`]: calling back into the same [`Store`]
//! would wait for the write lock the closure holds.
//!
//! ## Time
//!
//! [`Timestamp`]: unix milliseconds, UTC, passed in by the caller (`now`) so tests and
//! replicas control it. The query views expose nanoseconds.

mod advisory;
mod apply;
mod codec;
mod error;
mod event;
mod finding;
mod finding_rows;
mod inventory;
mod migrations;
mod outbox;
mod postgres;
mod query;
mod sqlite;
mod time;
mod token;

use std::path::Path;
use std::time::Duration;

use vigil_core::Component;

pub use advisory::{AdvisoryInput, AdvisoryKind, AdvisoryRecord, Blob, PutAdvisories};
pub use error::{Result, Source, StoreError};
pub use event::{AppendedEvent, EventInput, EventSeq, StoredEvent};
pub use finding::{
    Entity, FindingFilter, FindingId, FindingInput, FindingRecord, FindingStatus, FindingTiming,
    FindingUpsert, StatusChange,
};
pub use inventory::{
    ComponentId, ContainerInfo, ContainerKey, ContainerSummary, Exposure, ExposureWindow, HostId,
    HostInfo, HostRecord, InstanceId, InstanceInput, InstanceKey, InstanceRecord, ListeningSocket,
    PackageKey, ProcessInfo, Removals, Snapshot, SnapshotKind, SnapshotOutcome,
};
pub use outbox::{Enqueued, OutboxCounts, OutboxId, OutboxInput, OutboxItem, OutboxStatus, Retry};
pub use query::{Dialect, QueryRows, SqlValue};
pub use time::Timestamp;
pub use token::{NewToken, SECRET_PREFIX, TokenId, TokenInfo};

/// How thoroughly to check a SQLite file when opening it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IntegrityCheck {
    /// `PRAGMA quick_check`: page structure and record formats, O(database size) but cheap.
    Quick,
    /// `PRAGMA integrity_check`: also indexes against tables; slower on large stores.
    Full,
    /// No check (tests, and callers that just checked).
    Skip,
}

/// What a committed transaction survives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Durability {
    /// Process crash and power loss (`synchronous = FULL`: the WAL is synced at each commit).
    Full,
    /// Process crash; the last transactions may roll back on power loss
    /// (`synchronous = NORMAL`), never corrupting the file.
    Normal,
}

/// How to open a store. PostgreSQL uses `durability` (`Normal` turns `synchronous_commit`
/// off), `busy_timeout` (lock waits, and the wait for a pooled connection) and
/// `max_idle_connections` (the pool's size); its integrity is the server's business.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpenOptions {
    /// Check run at open (default [`IntegrityCheck::Quick`]).
    pub integrity_check: IntegrityCheck,
    /// Default [`Durability::Full`].
    pub durability: Durability,
    /// How long a writer waits for another's lock before [`StoreError::Busy`] (default 10 s).
    pub busy_timeout: Duration,
    /// Connections kept open for reuse (default 4).
    pub max_idle_connections: usize,
}

/// The store: one database behind typed methods.
pub struct Store {
    backend: Backend,
}

enum Backend {
    Sqlite(sqlite::SqliteStore),
    Postgres(postgres::PgStore),
}

/// An open write transaction (see [`Store::write`]).
pub struct WriteTx<'a> {
    inner: TxInner<'a>,
}

enum TxInner<'a> {
    Sqlite(&'a rusqlite::Connection),
    Postgres(&'a postgres::Tx),
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("location", &self.location())
            .finish()
    }
}

impl Store {
    /// Opens the store at `location`: a file path, `sqlite:PATH`, `sqlite::memory:` (or
    /// `:memory:`), or a PostgreSQL URL (`postgres://user@host:5432/db`; add
    /// `?options=-c%20search_path%3DSCHEMA` to keep the store in a schema of its own).
    pub fn open(location: &str) -> Result<Store> {
        if location.starts_with("postgres://") || location.starts_with("postgresql://") {
            return Store::open_postgres(location, &OpenOptions::default());
        }
        let path = location.strip_prefix("sqlite:").unwrap_or(location);
        let path = path.strip_prefix("//").unwrap_or(path);
        if path == ":memory:" {
            return Store::open_in_memory();
        }
        if path.is_empty() {
            return Err(StoreError::UnsupportedLocation {
                location: location.to_owned(),
                reason: "no database path",
            });
        }
        Store::open_sqlite(Path::new(path), &OpenOptions::default())
    }

    /// Opens (creating if needed) a SQLite store at `path`: WAL, busy timeout, foreign keys,
    /// the integrity check, then migrations. A file from a newer vigil, a damaged file or a
    /// file that is not a vigil store is refused with an error naming it.
    pub fn open_sqlite(path: impl AsRef<Path>, options: &OpenOptions) -> Result<Store> {
        Ok(Store {
            backend: Backend::Sqlite(sqlite::SqliteStore::open(path.as_ref(), options)?),
        })
    }

    /// Connects to PostgreSQL (a URL or a libpq `key=value` connection string), creates or
    /// migrates the schema in the first schema of the connection's `search_path`, and keeps a
    /// pool of connections. A schema from a newer vigil, or one holding another application's
    /// tables, is refused.
    pub fn open_postgres(url: &str, options: &OpenOptions) -> Result<Store> {
        Ok(Store {
            backend: Backend::Postgres(postgres::PgStore::open(url, options)?),
        })
    }

    /// A private in-memory SQLite store.
    pub fn open_in_memory() -> Result<Store> {
        Ok(Store {
            backend: Backend::Sqlite(sqlite::SqliteStore::open_in_memory()?),
        })
    }

    /// Where the data lives, for messages.
    pub fn location(&self) -> String {
        match &self.backend {
            Backend::Sqlite(s) => s.location(),
            Backend::Postgres(s) => s.location(),
        }
    }

    /// Whether other processes (server replicas) may write this store at the same time: true
    /// for PostgreSQL. A SQLite file has one writing server; replicas need a shared database.
    pub fn is_shared(&self) -> bool {
        matches!(self.backend, Backend::Postgres(_))
    }

    /// The SQL dialect the query views are read with.
    pub fn dialect(&self) -> Dialect {
        match &self.backend {
            Backend::Sqlite(_) => Dialect::Sqlite,
            Backend::Postgres(_) => Dialect::Postgres,
        }
    }

    /// The schema version in the database.
    pub fn schema_version(&self) -> Result<i64> {
        match &self.backend {
            Backend::Sqlite(s) => s.schema_version(),
            Backend::Postgres(s) => s.schema_version(),
        }
    }

    /// The newest schema version this build knows.
    pub fn supported_schema_version(&self) -> i64 {
        // One list of migrations serves both backends.
        migrations::latest_version()
    }

    /// A full integrity check (for SQLite `PRAGMA integrity_check`; for PostgreSQL, that the
    /// store answers and its schema is there).
    pub fn integrity_check(&self) -> Result<()> {
        match &self.backend {
            Backend::Sqlite(s) => s.integrity_check(),
            Backend::Postgres(s) => s.integrity_check(),
        }
    }

    /// Runs `f` in one write transaction: everything it does commits together when it returns
    /// `Ok`, and nothing does when it returns `Err`.
    pub fn write<T>(&self, f: impl FnOnce(&mut WriteTx<'_>) -> Result<T>) -> Result<T> {
        match &self.backend {
            Backend::Sqlite(s) => s.write(|conn| {
                f(&mut WriteTx {
                    inner: TxInner::Sqlite(conn),
                })
            }),
            Backend::Postgres(s) => s.write(|tx| {
                f(&mut WriteTx {
                    inner: TxInner::Postgres(tx),
                })
            }),
        }
    }

    /// Runs `sqlite` or `pg`, whichever fits the backend, on one consistent read snapshot.
    fn read<T>(
        &self,
        sqlite: impl FnOnce(&rusqlite::Connection) -> Result<T>,
        pg: impl FnOnce(&postgres::Tx) -> Result<T>,
    ) -> Result<T> {
        match &self.backend {
            Backend::Sqlite(s) => s.read(sqlite),
            Backend::Postgres(s) => s.read(pg),
        }
    }

    // ----- inventory -----

    /// Inserts or refreshes a host.
    pub fn upsert_host(&self, host: &HostInfo, now: Timestamp) -> Result<HostId> {
        self.write(|tx| tx.upsert_host(host, now))
    }

    /// Applies an agent snapshot (see [`WriteTx::apply_snapshot`]).
    pub fn apply_snapshot(&self, snapshot: &Snapshot, now: Timestamp) -> Result<SnapshotOutcome> {
        self.write(|tx| tx.apply_snapshot(snapshot, now))
    }

    /// A host by name.
    pub fn host(&self, name: &str) -> Result<Option<HostRecord>> {
        self.read(|c| sqlite::host(c, name), |t| postgres::host(t, name))
    }

    /// Every host, by name.
    pub fn hosts(&self) -> Result<Vec<HostRecord>> {
        self.read(sqlite::hosts, postgres::hosts)
    }

    /// A component's row id, if any instance of it was ever stored.
    pub fn component_id(&self, component: &Component) -> Result<Option<ComponentId>> {
        self.read(
            |c| sqlite::component_id(c, component),
            |t| postgres::component_id(t, component),
        )
    }

    /// Present instances, on every host, of the packages `keys` name (all versions). An
    /// advisory ecosystem without a release (`Debian`) covers every release (`Debian:12`).
    pub fn instances_for_keys(&self, keys: &[PackageKey]) -> Result<Vec<InstanceRecord>> {
        self.read(
            |c| sqlite::instances_for_keys(c, keys),
            |t| postgres::instances_for_keys(t, keys),
        )
    }

    /// Instances of one component on one entity (the host itself, or a container), present
    /// only or with the gone ones: the instances a finding is about.
    pub fn component_instances(
        &self,
        component: ComponentId,
        entity: Entity,
        include_gone: bool,
    ) -> Result<Vec<InstanceRecord>> {
        self.read(
            |c| sqlite::component_instances(c, component, entity, include_gone),
            |t| postgres::component_instances(t, component, entity, include_gone),
        )
    }

    /// Instances on one host, present only or with the gone ones.
    pub fn instances_on_host(
        &self,
        host: HostId,
        include_gone: bool,
    ) -> Result<Vec<InstanceRecord>> {
        self.read(
            |c| sqlite::instances_on_host(c, host, include_gone),
            |t| postgres::instances_on_host(t, host, include_gone),
        )
    }

    /// Were we exposed, when, where: every instance ever stored of a package (optionally one
    /// version), present or gone, with its windows of presence.
    pub fn exposures(&self, key: &PackageKey, version: Option<&str>) -> Result<Vec<Exposure>> {
        self.read(
            |c| sqlite::exposures(c, key, version),
            |t| postgres::exposures(t, key, version),
        )
    }

    /// Forgets (host, sequence) dedup entries applied before `before`, keeping each host's
    /// latest. Only prune past the longest an agent may hold a snapshot in its spool.
    pub fn prune_ingest_log(&self, before: Timestamp) -> Result<u64> {
        self.write(|tx| match tx.inner {
            TxInner::Sqlite(c) => sqlite::prune_ingest_log(c, before),
            TxInner::Postgres(t) => postgres::prune_ingest_log(t, before),
        })
    }

    // ----- intel -----

    /// Stores advisories (see [`WriteTx::put_advisories`]).
    pub fn put_advisories(
        &self,
        advisories: &[AdvisoryInput<'_>],
        now: Timestamp,
    ) -> Result<PutAdvisories> {
        self.write(|tx| tx.put_advisories(advisories, now))
    }

    /// One advisory.
    pub fn advisory(&self, id: &str) -> Result<Option<AdvisoryRecord>> {
        self.read(|c| sqlite::advisory(c, id), |t| postgres::advisory(t, id))
    }

    /// Every advisory in id order, one at a time.
    pub fn for_each_advisory(&self, mut f: impl FnMut(AdvisoryRecord) -> Result<()>) -> Result<()> {
        match &self.backend {
            Backend::Sqlite(s) => s.read(|c| sqlite::for_each_advisory(c, &mut f)),
            Backend::Postgres(s) => s.read(|t| postgres::for_each_advisory(t, &mut f)),
        }
    }

    /// Ids of the advisories naming any of these packages (keys of components: the
    /// advisory's ecosystem must cover the key's).
    pub fn advisory_ids_for_keys(&self, keys: &[PackageKey]) -> Result<Vec<String>> {
        self.read(
            |c| sqlite::advisory_ids_for_keys(c, keys),
            |t| postgres::advisory_ids_for_keys(t, keys),
        )
    }

    /// Writes a blob (the persisted matcher, one per source).
    pub fn put_blob(&self, key: &str, bytes: &[u8], now: Timestamp) -> Result<()> {
        self.write(|tx| tx.put_blob(key, bytes, now))
    }

    /// Reads a blob.
    pub fn get_blob(&self, key: &str) -> Result<Option<Blob>> {
        self.read(|c| sqlite::get_blob(c, key), |t| postgres::get_blob(t, key))
    }

    /// Deletes a blob; whether it existed.
    pub fn delete_blob(&self, key: &str) -> Result<bool> {
        self.write(|tx| tx.delete_blob(key))
    }

    // ----- findings -----

    /// Creates or refreshes a finding (see [`WriteTx::upsert_finding`]).
    pub fn upsert_finding(&self, input: &FindingInput, now: Timestamp) -> Result<FindingUpsert> {
        self.write(|tx| tx.upsert_finding(input, now))
    }

    /// Sets a finding's status (see [`WriteTx::set_finding_status`]).
    pub fn set_finding_status(
        &self,
        id: FindingId,
        status: FindingStatus,
        mute_reason: Option<&str>,
        now: Timestamp,
    ) -> Result<Option<StatusChange>> {
        self.write(|tx| tx.set_finding_status(id, status, mute_reason, now))
    }

    /// Sets or clears a finding's owning team; whether it exists.
    pub fn set_finding_owner(
        &self,
        id: FindingId,
        team: Option<&str>,
        now: Timestamp,
    ) -> Result<bool> {
        self.write(|tx| tx.set_finding_owner(id, team, now))
    }

    /// One finding.
    pub fn finding(&self, id: FindingId) -> Result<Option<FindingRecord>> {
        self.read(|c| sqlite::finding(c, id), |t| postgres::finding(t, id))
    }

    /// The finding for (advisory, component, entity).
    pub fn find_finding(
        &self,
        advisory_id: &str,
        component_id: ComponentId,
        entity: Entity,
    ) -> Result<Option<FindingRecord>> {
        self.read(
            |c| sqlite::find_finding(c, advisory_id, component_id, entity),
            |t| postgres::find_finding(t, advisory_id, component_id, entity),
        )
    }

    /// Findings matching a filter, in id order.
    pub fn list_findings(&self, filter: &FindingFilter) -> Result<Vec<FindingRecord>> {
        self.read(
            |c| sqlite::list_findings(c, filter),
            |t| postgres::list_findings(t, filter),
        )
    }

    /// The timestamps of every finding that time-to-detect/acknowledge/resolve figures are
    /// computed from, in id order.
    pub fn finding_timings(&self) -> Result<Vec<FindingTiming>> {
        self.read(sqlite::finding_timings, postgres::finding_timings)
    }

    /// Findings not `RESOLVED` whose component is gone from their entity since `cutoff` or
    /// earlier (auto-resolve candidates: pass `now - grace period`).
    pub fn findings_gone_since(&self, cutoff: Timestamp) -> Result<Vec<FindingRecord>> {
        self.read(
            |c| sqlite::findings_gone_since(c, cutoff),
            |t| postgres::findings_gone_since(t, cutoff),
        )
    }

    // ----- events -----

    /// Appends a security event.
    pub fn append_event(&self, event: &EventInput) -> Result<AppendedEvent> {
        self.write(|tx| tx.append_event(event))
    }

    /// Events with a sequence number above `after` (`EventSeq(0)`: from the start), oldest
    /// first, at most `limit`.
    pub fn events_since(&self, after: EventSeq, limit: usize) -> Result<Vec<StoredEvent>> {
        self.read(
            |c| sqlite::events_since(c, after, limit),
            |t| postgres::events_since(t, after, limit),
        )
    }

    /// The newest event's sequence number (`EventSeq(0)` when none).
    pub fn last_event_seq(&self) -> Result<EventSeq> {
        self.read(sqlite::last_event_seq, postgres::last_event_seq)
    }

    // ----- outbox -----

    /// Enqueues a workflow task (see [`WriteTx::enqueue`]).
    pub fn enqueue(&self, task: &OutboxInput, now: Timestamp) -> Result<Enqueued> {
        self.write(|tx| tx.enqueue(task, now))
    }

    /// Leases up to `n` due tasks to `owner` for `lease`: pending ones whose time has come and
    /// in-flight ones whose lease expired. Two owners never hold one task.
    pub fn lease_due(
        &self,
        owner: &str,
        n: usize,
        lease: Duration,
        now: Timestamp,
    ) -> Result<Vec<OutboxItem>> {
        self.write(|tx| match tx.inner {
            TxInner::Sqlite(c) => sqlite::lease_due(c, owner, n, lease, now),
            TxInner::Postgres(t) => postgres::lease_due(t, owner, n, lease, now),
        })
    }

    /// Marks a task delivered; false when `owner` no longer holds its lease.
    pub fn complete(&self, id: OutboxId, owner: &str, now: Timestamp) -> Result<bool> {
        self.write(|tx| match tx.inner {
            TxInner::Sqlite(c) => sqlite::complete(c, id, owner, None, now),
            TxInner::Postgres(t) => postgres::complete(t, id, owner, None, now),
        })
    }

    /// Marks a task delivered and keeps its result (read by the tasks that wait for it);
    /// false when `owner` no longer holds its lease.
    pub fn complete_with_result(
        &self,
        id: OutboxId,
        owner: &str,
        result: &serde_json::Value,
        now: Timestamp,
    ) -> Result<bool> {
        self.write(|tx| match tx.inner {
            TxInner::Sqlite(c) => sqlite::complete(c, id, owner, Some(result), now),
            TxInner::Postgres(t) => postgres::complete(t, id, owner, Some(result), now),
        })
    }

    /// Gives a leased task back without counting the attempt (a rate limit said "not yet"):
    /// pending again, due at `not_before`. False when `owner` no longer holds its lease.
    pub fn release(
        &self,
        id: OutboxId,
        owner: &str,
        not_before: Timestamp,
        now: Timestamp,
    ) -> Result<bool> {
        self.write(|tx| match tx.inner {
            TxInner::Sqlite(c) => sqlite::release(c, id, owner, not_before, now),
            TxInner::Postgres(t) => postgres::release(t, id, owner, not_before, now),
        })
    }

    /// Puts a dead task back in the queue with its attempts reset (an operator fixed the
    /// sink); false when the task is not dead.
    pub fn requeue(&self, id: OutboxId, now: Timestamp) -> Result<bool> {
        self.write(|tx| match tx.inner {
            TxInner::Sqlite(c) => sqlite::requeue(c, id, now),
            TxInner::Postgres(t) => postgres::requeue(t, id, now),
        })
    }

    /// The tasks with these idempotency keys, in the order asked; unknown keys are left out.
    pub fn outbox_by_keys(&self, keys: &[String]) -> Result<Vec<OutboxItem>> {
        self.read(
            |c| sqlite::outbox_by_keys(c, keys),
            |t| postgres::outbox_by_keys(t, keys),
        )
    }

    /// Tasks newest first, of one status or all.
    pub fn list_outbox(
        &self,
        status: Option<OutboxStatus>,
        limit: usize,
    ) -> Result<Vec<OutboxItem>> {
        self.list_outbox_for(status, None, limit)
    }

    /// Tasks newest first, of one status or all, of one finding or all (the workflow runs
    /// of `vigil workflows runs`).
    pub fn list_outbox_for(
        &self,
        status: Option<OutboxStatus>,
        finding: Option<FindingId>,
        limit: usize,
    ) -> Result<Vec<OutboxItem>> {
        self.read(
            |c| sqlite::list_outbox(c, status, finding, limit),
            |t| postgres::list_outbox(t, status, finding, limit),
        )
    }

    /// Records a failed delivery; false when `owner` no longer holds the lease.
    pub fn fail(
        &self,
        id: OutboxId,
        owner: &str,
        error: &str,
        retry: Retry,
        now: Timestamp,
    ) -> Result<bool> {
        self.write(|tx| match tx.inner {
            TxInner::Sqlite(c) => sqlite::fail(c, id, owner, error, retry, now),
            TxInner::Postgres(t) => postgres::fail(t, id, owner, error, retry, now),
        })
    }

    /// Tasks per status.
    pub fn outbox_counts(&self) -> Result<OutboxCounts> {
        self.read(sqlite::outbox_counts, postgres::outbox_counts)
    }

    /// Tasks in one status (e.g. the dead ones), oldest first.
    pub fn outbox_items(&self, status: OutboxStatus, limit: usize) -> Result<Vec<OutboxItem>> {
        self.read(
            |c| sqlite::outbox_items(c, status, limit),
            |t| postgres::outbox_items(t, status, limit),
        )
    }

    /// One task.
    pub fn outbox_item(&self, id: OutboxId) -> Result<Option<OutboxItem>> {
        self.read(
            |c| sqlite::outbox_item(c, id),
            |t| postgres::outbox_item(t, id),
        )
    }

    // ----- tokens -----

    /// Creates an API token; the secret is in the result and nowhere else.
    pub fn create_token(&self, name: &str, scopes: &[String], now: Timestamp) -> Result<NewToken> {
        self.write(|tx| match tx.inner {
            TxInner::Sqlite(c) => sqlite::create_token(c, name, scopes, now),
            TxInner::Postgres(t) => postgres::create_token(t, name, scopes, now),
        })
    }

    /// The live token whose secret this is (refreshing its `last_used_at`, at most once a
    /// minute); `None` for an unknown or revoked secret.
    pub fn verify_token(&self, secret: &str, now: Timestamp) -> Result<Option<TokenInfo>> {
        let found = self.read(
            |c| sqlite::find_token(c, secret, now),
            |t| postgres::find_token(t, secret, now),
        )?;
        let Some((mut info, stale)) = found else {
            return Ok(None);
        };
        if stale {
            self.write(|tx| match tx.inner {
                TxInner::Sqlite(c) => sqlite::touch_token(c, info.id, now),
                TxInner::Postgres(t) => postgres::touch_token(t, info.id, now),
            })?;
            info.last_used_at = Some(now);
        }
        Ok(Some(info))
    }

    /// Revokes a token; whether it was live.
    pub fn revoke_token(&self, id: TokenId, now: Timestamp) -> Result<bool> {
        self.write(|tx| match tx.inner {
            TxInner::Sqlite(c) => sqlite::revoke_token(c, id, now),
            TxInner::Postgres(t) => postgres::revoke_token(t, id, now),
        })
    }

    /// Every token (never secrets).
    pub fn tokens(&self) -> Result<Vec<TokenInfo>> {
        self.read(sqlite::tokens, postgres::tokens)
    }

    /// One token.
    pub fn token(&self, id: TokenId) -> Result<Option<TokenInfo>> {
        self.read(|c| sqlite::token(c, id), |t| postgres::token(t, id))
    }

    // ----- query -----

    /// Runs one read-only SQL statement (the query language's compiled output, in
    /// [`Store::dialect`]) with bound parameters; at most `max_rows` rows. Statements that
    /// could write are refused.
    pub fn query(&self, sql: &str, params: &[SqlValue], max_rows: usize) -> Result<QueryRows> {
        self.read(
            |c| sqlite::query(c, sql, params, max_rows),
            |t| postgres::query(t, sql, params, max_rows),
        )
    }
}

impl WriteTx<'_> {
    /// Inserts or refreshes a host; `last_seen` only moves forward.
    pub fn upsert_host(&mut self, host: &HostInfo, now: Timestamp) -> Result<HostId> {
        match self.inner {
            TxInner::Sqlite(c) => sqlite::upsert_host(c, host, now),
            TxInner::Postgres(t) => postgres::upsert_host(t, host, now),
        }
    }

    /// Applies an agent snapshot, at most once per (host, sequence): a repeat returns
    /// `duplicate` and changes nothing. Returns the instances that are new (or back), changed
    /// and gone, so detection looks at only those. A full snapshot marks everything it does not
    /// list gone; exposure windows open and close accordingly.
    pub fn apply_snapshot(
        &mut self,
        snapshot: &Snapshot,
        now: Timestamp,
    ) -> Result<SnapshotOutcome> {
        match self.inner {
            TxInner::Sqlite(c) => sqlite::apply_snapshot(c, snapshot, now),
            TxInner::Postgres(t) => postgres::apply_snapshot(t, snapshot, now),
        }
    }

    /// Stores advisories, rewriting only those whose record or classification changed, and
    /// says which ids are new and which changed (the keys detection must re-match).
    pub fn put_advisories(
        &mut self,
        advisories: &[AdvisoryInput<'_>],
        now: Timestamp,
    ) -> Result<PutAdvisories> {
        match self.inner {
            TxInner::Sqlite(c) => sqlite::put_advisories(c, advisories, now),
            TxInner::Postgres(t) => postgres::put_advisories(t, advisories, now),
        }
    }

    /// Marks the advisories `ids` as vanished from the intel at `now`: kept for the findings
    /// that name them, no longer listed by `fetch advisories` nor matched by key. Returns the
    /// ids that were current. [`WriteTx::put_advisories`] makes one current again.
    pub fn remove_advisories(&mut self, ids: &[String], now: Timestamp) -> Result<Vec<String>> {
        match self.inner {
            TxInner::Sqlite(c) => sqlite::remove_advisories(c, ids, now),
            TxInner::Postgres(t) => postgres::remove_advisories(t, ids, now),
        }
    }

    /// Ids of the current (not removed) advisories of the mirror, sorted.
    pub fn current_advisory_ids(&mut self) -> Result<Vec<String>> {
        match self.inner {
            TxInner::Sqlite(c) => sqlite::current_advisory_ids(c),
            TxInner::Postgres(t) => postgres::current_advisory_ids(t),
        }
    }

    /// Writes a blob.
    pub fn put_blob(&mut self, key: &str, bytes: &[u8], now: Timestamp) -> Result<()> {
        match self.inner {
            TxInner::Sqlite(c) => sqlite::put_blob(c, key, bytes, now),
            TxInner::Postgres(t) => postgres::put_blob(t, key, bytes, now),
        }
    }

    /// Deletes a blob; whether it existed.
    pub fn delete_blob(&mut self, key: &str) -> Result<bool> {
        match self.inner {
            TxInner::Sqlite(c) => sqlite::delete_blob(c, key),
            TxInner::Postgres(t) => postgres::delete_blob(t, key),
        }
    }

    /// Takes the store-wide detection lock until this transaction ends: detection (ingest,
    /// intel rematch, auto-resolve) runs one transaction at a time across every process
    /// sharing the store, so no snapshot is matched against intel that a concurrent rematch
    /// has already replaced. PostgreSQL: a transaction-level advisory lock on the schema,
    /// waited for up to the busy timeout ([`StoreError::Busy`] after). SQLite: nothing to do,
    /// its write transactions are already exclusive. Take it first in the transaction.
    pub fn lock_detection(&mut self) -> Result<()> {
        match self.inner {
            TxInner::Sqlite(_) => Ok(()),
            TxInner::Postgres(t) => postgres::lock_detection(t),
        }
    }

    /// Reads a blob, as this transaction sees it.
    pub fn get_blob(&mut self, key: &str) -> Result<Option<Blob>> {
        match self.inner {
            TxInner::Sqlite(c) => sqlite::get_blob(c, key),
            TxInner::Postgres(t) => postgres::get_blob(t, key),
        }
    }

    /// One advisory of the mirror, as this transaction sees it.
    pub fn advisory(&mut self, id: &str) -> Result<Option<AdvisoryRecord>> {
        match self.inner {
            TxInner::Sqlite(c) => sqlite::advisory(c, id),
            TxInner::Postgres(t) => postgres::advisory(t, id),
        }
    }

    /// Present instances of the packages `keys` name, as this transaction sees them (see
    /// [`Store::instances_for_keys`]).
    pub fn instances_for_keys(&mut self, keys: &[PackageKey]) -> Result<Vec<InstanceRecord>> {
        match self.inner {
            TxInner::Sqlite(c) => sqlite::instances_for_keys(c, keys),
            TxInner::Postgres(t) => postgres::instances_for_keys(t, keys),
        }
    }

    /// Findings matching a filter, as this transaction sees them.
    pub fn list_findings(&mut self, filter: &FindingFilter) -> Result<Vec<FindingRecord>> {
        match self.inner {
            TxInner::Sqlite(c) => sqlite::list_findings(c, filter),
            TxInner::Postgres(t) => postgres::list_findings(t, filter),
        }
    }

    /// Creates the finding for (advisory, component, entity) with status `NEW`, or refreshes
    /// its details leaving status alone. Never duplicates, even under concurrent writers.
    pub fn upsert_finding(
        &mut self,
        input: &FindingInput,
        now: Timestamp,
    ) -> Result<FindingUpsert> {
        match self.inner {
            TxInner::Sqlite(c) => sqlite::upsert_finding(c, input, now),
            TxInner::Postgres(t) => postgres::upsert_finding(t, input, now),
        }
    }

    /// Sets a finding's status; `None` when it does not exist. `acknowledged_at` and
    /// `resolved_at` record when it last entered those statuses; `NEW` (re-open) clears both;
    /// `mute_reason` is kept only while `MUTED`. Setting the current status is a no-op (check
    /// [`StatusChange::changed`] before appending an event).
    pub fn set_finding_status(
        &mut self,
        id: FindingId,
        status: FindingStatus,
        mute_reason: Option<&str>,
        now: Timestamp,
    ) -> Result<Option<StatusChange>> {
        match self.inner {
            TxInner::Sqlite(c) => sqlite::set_finding_status(c, id, status, mute_reason, now),
            TxInner::Postgres(t) => postgres::set_finding_status(t, id, status, mute_reason, now),
        }
    }

    /// Sets or clears a finding's owning team; whether it exists.
    pub fn set_finding_owner(
        &mut self,
        id: FindingId,
        team: Option<&str>,
        now: Timestamp,
    ) -> Result<bool> {
        match self.inner {
            TxInner::Sqlite(c) => sqlite::set_finding_owner(c, id, team, now),
            TxInner::Postgres(t) => postgres::set_finding_owner(t, id, team, now),
        }
    }

    /// Instances of one component on one entity, as this transaction sees them (see
    /// [`Store::component_instances`]).
    pub fn component_instances(
        &mut self,
        component: ComponentId,
        entity: Entity,
        include_gone: bool,
    ) -> Result<Vec<InstanceRecord>> {
        match self.inner {
            TxInner::Sqlite(c) => sqlite::component_instances(c, component, entity, include_gone),
            TxInner::Postgres(t) => {
                postgres::component_instances(t, component, entity, include_gone)
            }
        }
    }

    /// One finding, as this transaction sees it.
    pub fn finding(&mut self, id: FindingId) -> Result<Option<FindingRecord>> {
        match self.inner {
            TxInner::Sqlite(c) => sqlite::finding(c, id),
            TxInner::Postgres(t) => postgres::finding(t, id),
        }
    }

    /// The finding for (advisory, component, entity), as this transaction sees it.
    pub fn find_finding(
        &mut self,
        advisory_id: &str,
        component_id: ComponentId,
        entity: Entity,
    ) -> Result<Option<FindingRecord>> {
        match self.inner {
            TxInner::Sqlite(c) => sqlite::find_finding(c, advisory_id, component_id, entity),
            TxInner::Postgres(t) => postgres::find_finding(t, advisory_id, component_id, entity),
        }
    }

    /// Appends a security event; the store assigns its sequence number and id.
    pub fn append_event(&mut self, event: &EventInput) -> Result<AppendedEvent> {
        match self.inner {
            TxInner::Sqlite(c) => sqlite::append_event(c, event),
            TxInner::Postgres(t) => postgres::append_event(t, event),
        }
    }

    /// The start times of the live processes `pids` on host `host`, as the agent reported
    /// them; pids without a live process row are left out. Events carry them so a quarantine
    /// never signals a pid reused since detection.
    pub fn process_start_times(
        &mut self,
        host: &str,
        pids: &[u32],
    ) -> Result<Vec<(u32, Timestamp)>> {
        match self.inner {
            TxInner::Sqlite(c) => sqlite::process_start_times(c, host, pids),
            TxInner::Postgres(t) => postgres::process_start_times(t, host, pids),
        }
    }

    /// Enqueues a workflow task, or finds the one already enqueued under its idempotency key.
    pub fn enqueue(&mut self, task: &OutboxInput, now: Timestamp) -> Result<Enqueued> {
        match self.inner {
            TxInner::Sqlite(c) => sqlite::enqueue(c, task, now),
            TxInner::Postgres(t) => postgres::enqueue(t, task, now),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_store_can_be_shared_between_threads() {
        fn shared<T: Send + Sync>() {}
        shared::<super::Store>();
    }
}
