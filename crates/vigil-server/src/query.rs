//! Running query-language pipelines against the store: parse, check, compile to parameterized
//! SQL for the store's dialect, run read-only, decode. Used by `POST /api/v1/query`,
//! `vigil query` on a data directory, and the workflows' `query` action ([`StoreQueryRunner`]).

use std::sync::Arc;

use serde_json::Value;
use vigil_query::sql::{self, CompileOptions, SqlParam};
use vigil_query::{QueryError, QueryResult};
use vigil_store::{Dialect, Store, StoreError, Timestamp};
use vigil_workflow::QueryRunner;
use vigil_workflow::action::BoxFuture;

/// Records returned when a query has no `limit` (DQL's default).
pub const DEFAULT_LIMIT: u64 = 1000;
/// The most rows any query may return, whatever its `limit` says.
pub const MAX_ROWS: usize = 1_000_000;

/// Why a query did not run.
#[derive(Debug, thiserror::Error)]
pub enum QueryFailure {
    /// The query is wrong: message, span and hint for the user.
    #[error("{0}")]
    Query(#[from] QueryError),
    /// The store failed.
    #[error("{0}")]
    Store(#[from] StoreError),
}

/// Runs `src` against `store` with `now()` = `now`.
pub fn run_query(
    store: &Store,
    src: &str,
    now: Timestamp,
    default_limit: u64,
) -> Result<QueryResult, QueryFailure> {
    let plan = vigil_query::prepare(src)?;
    let dialect = match store.dialect() {
        Dialect::Sqlite => sql::Dialect::Sqlite,
        Dialect::Postgres => sql::Dialect::Postgres,
    };
    let compiled = sql::compile(
        &plan,
        &CompileOptions {
            dialect,
            now: now.unix_nanos(),
            default_limit,
        },
    )?;
    let params: Vec<vigil_store::SqlValue> = compiled
        .params
        .iter()
        .map(|p| match p {
            SqlParam::Integer(n) => vigil_store::SqlValue::Integer(*n),
            SqlParam::Real(x) => vigil_store::SqlValue::Real(*x),
            SqlParam::Text(t) => vigil_store::SqlValue::Text(t.clone()),
            SqlParam::Bool(b) => vigil_store::SqlValue::Integer(i64::from(*b)),
        })
        .collect();
    let rows = store.query(&compiled.sql, &params, MAX_ROWS)?;
    let rows = rows
        .rows
        .into_iter()
        .map(|row| {
            row.into_iter()
                .map(|v| match v {
                    vigil_store::SqlValue::Null => vigil_query::SqlValue::Null,
                    vigil_store::SqlValue::Integer(n) => vigil_query::SqlValue::Integer(n),
                    vigil_store::SqlValue::Real(x) => vigil_query::SqlValue::Real(x),
                    vigil_store::SqlValue::Text(t) => vigil_query::SqlValue::Text(t),
                    vigil_store::SqlValue::Blob(b) => {
                        vigil_query::SqlValue::Text(String::from_utf8_lossy(&b).into_owned())
                    }
                })
                .collect()
        })
        .collect();
    Ok(compiled.decode(rows)?)
}

/// The workflows' `query` action over the store.
#[derive(Clone)]
pub struct StoreQueryRunner {
    store: Arc<Store>,
}

impl StoreQueryRunner {
    /// A runner over `store`.
    pub fn new(store: Arc<Store>) -> StoreQueryRunner {
        StoreQueryRunner { store }
    }
}

impl QueryRunner for StoreQueryRunner {
    fn run<'a>(&'a self, query: &'a str) -> BoxFuture<'a, Result<Vec<Value>, String>> {
        let store = Arc::clone(&self.store);
        let query = query.to_owned();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || {
                run_query(&store, &query, Timestamp::now(), DEFAULT_LIMIT)
                    .map(|r| r.records_json())
                    .map_err(|e| e.to_string())
            })
            .await
            .map_err(|e| format!("query task failed: {e}"))?
        })
    }
}
