//! Query results, and the decoding of raw SQL rows into them.

use crate::error::{ErrorKind, QueryError, Span};
use crate::plan::Column;
use crate::value::{Type, Value};

/// A scalar as a database driver returns it. Array columns arrive as JSON text on both
/// dialects (the compiler casts `jsonb` to text in the final `SELECT`).
#[derive(Clone, Debug, PartialEq)]
pub enum SqlValue {
    /// SQL `NULL`.
    Null,
    /// Integer (SQLite stores booleans and timestamps as integers).
    Integer(i64),
    /// Float.
    Real(f64),
    /// Text.
    Text(String),
    /// Boolean (PostgreSQL).
    Bool(bool),
}

/// The answer to a query: `{columns, records}` plus whether the default limit cut it.
#[derive(Clone, Debug, PartialEq)]
pub struct QueryResult {
    /// Output columns, in order.
    pub columns: Vec<Column>,
    /// One value per column per record.
    pub records: Vec<Vec<Value>>,
    /// True when the query had no `limit` and more records than the default limit existed.
    pub truncated: bool,
}

impl QueryResult {
    /// Records as JSON objects keyed by column name.
    pub fn records_json(&self) -> Vec<serde_json::Value> {
        self.records
            .iter()
            .map(|r| {
                serde_json::Value::Object(
                    self.columns
                        .iter()
                        .zip(r)
                        .map(|(c, v)| (c.name.clone(), v.to_json()))
                        .collect(),
                )
            })
            .collect()
    }

    /// `{"columns": [{"name", "type"}], "records": [...], "truncated": bool}`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "columns": self.columns.iter().map(|c| serde_json::json!({"name": c.name, "type": c.ty.to_string()})).collect::<Vec<_>>(),
            "records": self.records_json(),
            "truncated": self.truncated,
        })
    }
}

fn bad(ty: &Type, v: &SqlValue) -> QueryError {
    QueryError::new(
        ErrorKind::Runtime,
        Span::default(),
        format!("the store returned {v:?} for a {ty} column"),
    )
}

/// Decodes one raw value of a column of type `ty`.
pub fn decode_value(ty: &Type, v: SqlValue) -> Result<Value, QueryError> {
    Ok(match (ty, v) {
        (_, SqlValue::Null) => Value::Null,
        (Type::Null, _) => Value::Null,
        (Type::Bool, SqlValue::Bool(b)) => Value::Bool(b),
        (Type::Bool, SqlValue::Integer(n)) => Value::Bool(n != 0),
        (Type::Long, SqlValue::Integer(n)) => Value::Long(n),
        // Integer arithmetic that overflowed in SQLite comes back as a float.
        (Type::Long | Type::Double, SqlValue::Real(x)) => Value::Double(x),
        (Type::Double, SqlValue::Integer(n)) => Value::Double(n as f64),
        (Type::String, SqlValue::Text(s)) => Value::String(s),
        (Type::Timestamp, SqlValue::Integer(n)) => Value::Timestamp(n),
        (Type::Timestamp, SqlValue::Real(x)) => Value::Timestamp(x as i64),
        (Type::Duration, SqlValue::Integer(n)) => Value::Duration(n),
        (Type::Duration, SqlValue::Real(x)) => Value::Duration(x as i64),
        (Type::Array(elem), SqlValue::Text(s)) => {
            let json: serde_json::Value =
                serde_json::from_str(&s).map_err(|_| bad(ty, &SqlValue::Text(s.clone())))?;
            let serde_json::Value::Array(items) = json else {
                return Err(bad(ty, &SqlValue::Text(s)));
            };
            Value::Array(items.iter().map(|i| element(elem, i)).collect())
        }
        (ty, v) => return Err(bad(ty, &v)),
    })
}

/// An element of a JSON array column: timestamps and booleans are stored as integers there.
fn element(ty: &Type, v: &serde_json::Value) -> Value {
    match (ty, v) {
        (Type::Timestamp, serde_json::Value::Number(n)) => {
            n.as_i64().map_or(Value::Null, Value::Timestamp)
        }
        (Type::Bool, serde_json::Value::Number(n)) => {
            n.as_i64().map_or(Value::Null, |n| Value::Bool(n != 0))
        }
        (Type::Long, serde_json::Value::Number(n)) if n.as_i64().is_none() => {
            n.as_f64().map_or(Value::Null, Value::Double)
        }
        _ => Value::from_json(ty, v),
    }
}
