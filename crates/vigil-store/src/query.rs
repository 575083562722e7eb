//! Running the query language's compiled SQL: read-only statements over the `q_*` views, with
//! parameters, returning plain values. The SQL dialect to compile for is [`Dialect`].

/// Which SQL the store speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Dialect {
    /// SQLite 3.45+ (JSON functions, `RETURNING`).
    Sqlite,
    /// PostgreSQL 14+.
    Postgres,
}

/// A SQL value: a query parameter or a result cell.
#[derive(Clone, Debug, PartialEq)]
pub enum SqlValue {
    /// NULL.
    Null,
    /// An integer.
    Integer(i64),
    /// A float.
    Real(f64),
    /// Text.
    Text(String),
    /// Bytes.
    Blob(Vec<u8>),
}

/// The rows of a query.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct QueryRows {
    /// Column names, in order.
    pub columns: Vec<String>,
    /// Rows of cells, one per column.
    pub rows: Vec<Vec<SqlValue>>,
    /// More rows existed past the limit.
    pub truncated: bool,
}
