//! Read-only SQL for the query language.

use rusqlite::Connection;
use rusqlite::types::{Value, ValueRef};

use super::db;
use crate::error::{Result, StoreError};
use crate::query::{QueryRows, SqlValue};

/// Runs one read-only statement with bound parameters; at most `max_rows` rows.
pub(crate) fn query(
    conn: &Connection,
    sql: &str,
    params: &[SqlValue],
    max_rows: usize,
) -> Result<QueryRows> {
    let mut stmt = conn.prepare(sql).map_err(db("prepare query"))?;
    if !stmt.readonly() {
        return Err(StoreError::NotReadOnly);
    }
    let columns: Vec<String> = stmt.column_names().into_iter().map(str::to_owned).collect();
    let values = params.iter().map(|p| match p {
        SqlValue::Null => Value::Null,
        SqlValue::Integer(i) => Value::Integer(*i),
        SqlValue::Real(f) => Value::Real(*f),
        SqlValue::Text(t) => Value::Text(t.clone()),
        SqlValue::Blob(b) => Value::Blob(b.clone()),
    });
    let mut rows = stmt
        .query(rusqlite::params_from_iter(values))
        .map_err(db("run query"))?;
    let mut out = QueryRows {
        columns,
        ..QueryRows::default()
    };
    while let Some(row) = rows.next().map_err(db("run query"))? {
        if out.rows.len() >= max_rows {
            out.truncated = true;
            break;
        }
        let mut cells = Vec::with_capacity(out.columns.len());
        for i in 0..out.columns.len() {
            cells.push(match row.get_ref(i).map_err(db("run query"))? {
                ValueRef::Null => SqlValue::Null,
                ValueRef::Integer(n) => SqlValue::Integer(n),
                ValueRef::Real(f) => SqlValue::Real(f),
                ValueRef::Text(t) => SqlValue::Text(String::from_utf8_lossy(t).into_owned()),
                ValueRef::Blob(b) => SqlValue::Blob(b.to_vec()),
            });
        }
        out.rows.push(cells);
    }
    Ok(out)
}
