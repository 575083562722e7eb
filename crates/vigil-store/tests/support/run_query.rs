//! Runs a query-language query on a store the way the server does (prepare, compile for the
//! store's dialect, run with the parameters, decode), for `tests/views.rs` and the benches
//! (included by path: both are test-only code and cannot share a module otherwise). A failure
//! panics naming the query.

use vigil_query::QueryResult;
use vigil_query::sql::{CompileOptions, Dialect as QueryDialect, SqlParam, compile};
use vigil_store::{Dialect, SqlValue, Store};

/// `query` on `store` with `now` (Unix ns) as the query's `now()`, at most `max_rows` rows.
/// The views hold no blobs: one is a failure.
pub fn run_query(store: &Store, query: &str, now: i64, max_rows: usize) -> QueryResult {
    let plan = vigil_query::prepare(query).unwrap_or_else(|e| panic!("{query}: {e:?}"));
    let dialect = match store.dialect() {
        Dialect::Sqlite => QueryDialect::Sqlite,
        Dialect::Postgres => QueryDialect::Postgres,
    };
    let options = CompileOptions {
        dialect,
        now,
        default_limit: 1000,
    };
    let compiled = compile(&plan, &options).unwrap_or_else(|e| panic!("{query}: {e:?}"));
    let params: Vec<SqlValue> = compiled
        .params
        .iter()
        .map(|p| match p {
            SqlParam::Integer(n) => SqlValue::Integer(*n),
            SqlParam::Real(x) => SqlValue::Real(*x),
            SqlParam::Text(s) => SqlValue::Text(s.clone()),
            SqlParam::Bool(b) => SqlValue::Integer(i64::from(*b)),
        })
        .collect();
    let rows = store
        .query(&compiled.sql, &params, max_rows)
        .unwrap_or_else(|e| panic!("{query}: {e}\n{}", compiled.sql));
    let rows = rows
        .rows
        .into_iter()
        .map(|row| {
            row.into_iter()
                .map(|cell| match cell {
                    SqlValue::Null => vigil_query::SqlValue::Null,
                    SqlValue::Integer(n) => vigil_query::SqlValue::Integer(n),
                    SqlValue::Real(x) => vigil_query::SqlValue::Real(x),
                    SqlValue::Text(t) => vigil_query::SqlValue::Text(t),
                    SqlValue::Blob(b) => panic!("{query}: blob {b:?}"),
                })
                .collect()
        })
        .collect();
    compiled
        .decode(rows)
        .unwrap_or_else(|e| panic!("{query}: {e:?}"))
}
