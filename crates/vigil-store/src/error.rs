//! The store's errors. Opening errors name the file; operation errors name the operation.
//! Database-driver errors are carried as opaque sources so callers never depend on a driver.

use std::path::PathBuf;

/// Boxed driver error.
pub type Source = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Anything the store can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database could not be opened or configured.
    #[error("{}: cannot open the store: {source}", path.display())]
    Open {
        /// The database file.
        path: PathBuf,
        /// Why.
        #[source]
        source: Source,
    },
    /// The file exists but is not a SQLite database (or is encrypted, or truncated in its
    /// header).
    #[error(
        "{}: not a vigil store (not a SQLite database, or its header is damaged); move it aside or point the store elsewhere",
        path.display()
    )]
    NotADatabase {
        /// The file.
        path: PathBuf,
    },
    /// The integrity check at open found damage.
    #[error(
        "{}: the store failed its integrity check: {detail}; restore it from a backup or move it aside",
        path.display()
    )]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What SQLite reported (first lines).
        detail: String,
    },
    /// The database was written by a newer vigil.
    #[error(
        "{}: the store's schema is version {found}, newer than this vigil understands (up to {supported}); run the vigil that wrote it, or a newer one",
        path.display()
    )]
    SchemaTooNew {
        /// The file.
        path: PathBuf,
        /// The schema version recorded in the file.
        found: i64,
        /// The newest version this binary knows.
        supported: i64,
    },
    /// A migration failed; the store is left at the previous version.
    #[error("{}: migration {version} ({name}) failed: {source}", path.display())]
    Migration {
        /// The file.
        path: PathBuf,
        /// The migration's version.
        version: i64,
        /// The migration's name.
        name: &'static str,
        /// Why.
        #[source]
        source: Source,
    },
    /// A database operation failed.
    #[error("store: {op} failed: {source}")]
    Database {
        /// What the store was doing.
        op: &'static str,
        /// Why.
        #[source]
        source: Source,
    },
    /// The database was locked by another writer for longer than the busy timeout.
    #[error("store: {op}: the database stayed locked by another writer past the busy timeout")]
    Busy {
        /// What the store was doing.
        op: &'static str,
    },
    /// A stored value could not be decoded (JSON column, enum spelling, …).
    #[error("store: {table}.{column} of row {row}: {reason}")]
    BadValue {
        /// The table.
        table: &'static str,
        /// The column.
        column: &'static str,
        /// The row's key.
        row: String,
        /// What was wrong.
        reason: String,
    },
    /// An argument could not be stored (a number out of the database's range, …).
    #[error("store: {what}: {reason}")]
    InvalidInput {
        /// The argument.
        what: &'static str,
        /// What was wrong.
        reason: String,
    },
    /// A referenced row does not exist.
    #[error("store: {what} {id} does not exist")]
    NotFound {
        /// The kind of row.
        what: &'static str,
        /// Its key.
        id: String,
    },
    /// `query` was given a statement that could write.
    #[error("store: query refused: only read-only statements run through query()")]
    NotReadOnly,
    /// The store location names a backend this build does not have.
    #[error("store: {location:?}: {reason}")]
    UnsupportedLocation {
        /// The location as given.
        location: String,
        /// Why it cannot be opened.
        reason: &'static str,
    },
    /// The operating system's random source failed (creating a token).
    #[error("store: the system random source failed: {0}")]
    Random(String),
}

/// The store's result type.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;
