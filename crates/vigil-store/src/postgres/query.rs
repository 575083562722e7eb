//! Read-only SQL for the query language (PostgreSQL).
//!
//! The statement runs inside the read transaction, which is `READ ONLY`: anything that would
//! write fails with PostgreSQL's `read_only_sql_transaction` and is reported as
//! [`StoreError::NotReadOnly`]; several statements in one string are refused by the extended
//! protocol. Parameters are bound by the types PostgreSQL inferred for them (`SqlValue` has no
//! boolean: an integer bound to a `boolean` parameter is true when non-zero). Cells come back
//! in the SQLite backend's shapes: booleans as 0/1 integers, `jsonb`/`json` as compact JSON
//! text, `numeric` as an integer when it has no fraction and fits, else a float.

use std::error::Error;

use ::postgres::fallible_iterator::FallibleIterator;
use ::postgres::types::{FromSql, ToSql, Type};
use serde_json::Value;

use super::{Tx, pg};
use crate::error::{Result, StoreError};
use crate::query::{QueryRows, SqlValue};

type Boxed = Box<dyn ToSql + Sync>;

fn query_error(op: &'static str) -> impl Fn(::postgres::Error) -> StoreError {
    move |e| {
        if e.code() == Some(&::postgres::error::SqlState::READ_ONLY_SQL_TRANSACTION) {
            StoreError::NotReadOnly
        } else {
            pg(op)(e)
        }
    }
}

fn mismatch(value: &SqlValue, ty: &Type) -> StoreError {
    StoreError::InvalidInput {
        what: "query parameter",
        reason: format!("{value:?} cannot be bound to a parameter of type {ty}"),
    }
}

/// A parameter as the type PostgreSQL expects.
fn bind(value: &SqlValue, ty: &Type) -> Result<Boxed> {
    let text = <String as ToSql>::accepts(ty);
    let json = *ty == Type::JSON || *ty == Type::JSONB;
    Ok(match value {
        SqlValue::Null => match *ty {
            Type::BOOL => Box::new(None::<bool>),
            Type::INT2 => Box::new(None::<i16>),
            Type::INT4 => Box::new(None::<i32>),
            Type::INT8 => Box::new(None::<i64>),
            Type::FLOAT4 => Box::new(None::<f32>),
            Type::FLOAT8 => Box::new(None::<f64>),
            Type::BYTEA => Box::new(None::<Vec<u8>>),
            Type::JSON | Type::JSONB => Box::new(None::<Value>),
            _ => Box::new(None::<String>),
        },
        SqlValue::Integer(n) => match *ty {
            Type::BOOL => Box::new(*n != 0),
            Type::INT2 => Box::new(i16::try_from(*n).map_err(|_| mismatch(value, ty))?),
            Type::INT4 => Box::new(i32::try_from(*n).map_err(|_| mismatch(value, ty))?),
            Type::INT8 => Box::new(*n),
            Type::FLOAT4 => Box::new(*n as f32),
            Type::FLOAT8 => Box::new(*n as f64),
            _ if json => Box::new(Value::from(*n)),
            _ if text => Box::new(n.to_string()),
            _ => return Err(mismatch(value, ty)),
        },
        SqlValue::Real(x) => match *ty {
            Type::FLOAT4 => Box::new(*x as f32),
            Type::FLOAT8 => Box::new(*x),
            _ if json => Box::new(Value::from(*x)),
            _ if text => Box::new(x.to_string()),
            _ => return Err(mismatch(value, ty)),
        },
        SqlValue::Text(s) => {
            if json {
                Box::new(serde_json::from_str::<Value>(s).map_err(|_| mismatch(value, ty))?)
            } else if text {
                Box::new(s.clone())
            } else {
                return Err(mismatch(value, ty));
            }
        }
        SqlValue::Blob(b) => match *ty {
            Type::BYTEA => Box::new(b.clone()),
            _ => return Err(mismatch(value, ty)),
        },
    })
}

/// A `numeric` cell, decoded from PostgreSQL's binary form (base-10000 digits).
struct Numeric(SqlValue);

impl<'a> FromSql<'a> for Numeric {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn Error + Sync + Send>> {
        let word = |i: usize| -> Result<i64, Box<dyn Error + Sync + Send>> {
            let bytes: [u8; 2] = raw
                .get(i * 2..i * 2 + 2)
                .and_then(|b| b.try_into().ok())
                .ok_or("truncated numeric value")?;
            Ok(i64::from(i16::from_be_bytes(bytes)))
        };
        let ndigits = usize::try_from(word(0)?).map_err(|_| "bad numeric digit count")?;
        let weight = word(1)?;
        let sign = word(2)? as u16;
        let scale = word(3)?;
        if sign == 0xC000 {
            return Ok(Numeric(SqlValue::Real(f64::NAN)));
        }
        if sign == 0xD000 || sign == 0xF000 {
            let inf = if sign == 0xD000 {
                f64::INFINITY
            } else {
                f64::NEG_INFINITY
            };
            return Ok(Numeric(SqlValue::Real(inf)));
        }
        let negative = sign == 0x4000;
        let mut float = 0f64;
        let mut integer: Option<i128> = Some(0);
        for d in 0..ndigits {
            let digit = word(4 + d)?;
            let power = weight - d as i64;
            float += digit as f64 * 10000f64.powi(power.clamp(-400, 400) as i32);
            integer = match (integer, power) {
                (Some(acc), p) if p >= 0 => u32::try_from(p)
                    .ok()
                    .and_then(|p| 10000i128.checked_pow(p))
                    .and_then(|m| (digit as i128).checked_mul(m))
                    .and_then(|v| acc.checked_add(v)),
                (Some(acc), _) if digit == 0 => Some(acc),
                _ => None,
            };
        }
        let integer = integer
            .filter(|_| scale == 0)
            .map(|v| if negative { -v } else { v })
            .and_then(|v| i64::try_from(v).ok());
        Ok(Numeric(match integer {
            Some(n) => SqlValue::Integer(n),
            None => SqlValue::Real(if negative { -float } else { float }),
        }))
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::NUMERIC
    }
}

fn cell(row: &::postgres::Row, i: usize, ty: &Type) -> Result<SqlValue> {
    let decode = pg("run query");
    let value = match *ty {
        Type::BOOL => row
            .try_get::<_, Option<bool>>(i)
            .map(|v| v.map(|b| SqlValue::Integer(i64::from(b)))),
        Type::INT2 => row
            .try_get::<_, Option<i16>>(i)
            .map(|v| v.map(|n| SqlValue::Integer(n.into()))),
        Type::INT4 => row
            .try_get::<_, Option<i32>>(i)
            .map(|v| v.map(|n| SqlValue::Integer(n.into()))),
        Type::INT8 => row
            .try_get::<_, Option<i64>>(i)
            .map(|v| v.map(SqlValue::Integer)),
        Type::OID => row
            .try_get::<_, Option<u32>>(i)
            .map(|v| v.map(|n| SqlValue::Integer(n.into()))),
        Type::FLOAT4 => row
            .try_get::<_, Option<f32>>(i)
            .map(|v| v.map(|x| SqlValue::Real(x.into()))),
        Type::FLOAT8 => row
            .try_get::<_, Option<f64>>(i)
            .map(|v| v.map(SqlValue::Real)),
        Type::NUMERIC => row.try_get::<_, Option<Numeric>>(i).map(|v| v.map(|n| n.0)),
        Type::BYTEA => row
            .try_get::<_, Option<Vec<u8>>>(i)
            .map(|v| v.map(SqlValue::Blob)),
        Type::JSON | Type::JSONB => row
            .try_get::<_, Option<Value>>(i)
            .map(|v| v.map(|json| SqlValue::Text(json.to_string()))),
        _ if <String as FromSql>::accepts(ty) => row
            .try_get::<_, Option<String>>(i)
            .map(|v| v.map(SqlValue::Text)),
        _ => {
            return Err(StoreError::Database {
                op: "run query",
                source: format!(
                    "column {i} has type {ty}, which query() does not decode; cast it to text"
                )
                .into(),
            });
        }
    };
    Ok(value.map_err(decode)?.unwrap_or(SqlValue::Null))
}

/// Runs one read-only statement with bound parameters; at most `max_rows` rows.
pub(crate) fn query(tx: &Tx, sql: &str, params: &[SqlValue], max_rows: usize) -> Result<QueryRows> {
    let mut guard = tx.conn()?;
    let c = &mut *guard;
    let statement = match c.client.prepare(sql) {
        Ok(statement) => statement,
        Err(e) => {
            c.failed = true;
            return Err(query_error("prepare query")(e));
        }
    };
    if statement.params().len() != params.len() {
        return Err(StoreError::InvalidInput {
            what: "query parameters",
            reason: format!(
                "the statement takes {} parameters, {} given",
                statement.params().len(),
                params.len()
            ),
        });
    }
    let bound: Vec<Boxed> = params
        .iter()
        .zip(statement.params())
        .map(|(value, ty)| bind(value, ty))
        .collect::<Result<_>>()?;
    let columns: Vec<String> = statement
        .columns()
        .iter()
        .map(|c| c.name().to_owned())
        .collect();
    let types: Vec<Type> = statement
        .columns()
        .iter()
        .map(|c| c.type_().clone())
        .collect();
    let mut out = QueryRows {
        columns,
        ..QueryRows::default()
    };
    let result = c
        .client
        .query_raw(&statement, bound.iter().map(|b| b.as_ref()));
    let mut rows = match result {
        Ok(rows) => rows,
        Err(e) => {
            c.failed = true;
            return Err(query_error("run query")(e));
        }
    };
    loop {
        let row = match rows.next() {
            Ok(Some(row)) => row,
            Ok(None) => break,
            Err(e) => {
                c.failed = true;
                return Err(query_error("run query")(e));
            }
        };
        if out.rows.len() >= max_rows {
            out.truncated = true;
            break;
        }
        let mut cells = Vec::with_capacity(types.len());
        for (i, ty) in types.iter().enumerate() {
            cells.push(cell(&row, i, ty)?);
        }
        out.rows.push(cells);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numeric(words: &[i16]) -> SqlValue {
        let raw: Vec<u8> = words.iter().flat_map(|w| w.to_be_bytes()).collect();
        Numeric::from_sql(&Type::NUMERIC, &raw).unwrap().0
    }

    #[test]
    fn numerics_decode() {
        // 12345678 = [1234][5678], weight 1.
        assert_eq!(
            numeric(&[2, 1, 0, 0, 1234, 5678]),
            SqlValue::Integer(12_345_678)
        );
        // -1.5 = [1][5000], weight 0, scale 1.
        assert_eq!(numeric(&[2, 0, 0x4000, 1, 1, 5000]), SqlValue::Real(-1.5));
        // 0.
        assert_eq!(numeric(&[0, 0, 0, 0]), SqlValue::Integer(0));
        // Truncated input is an error, not a panic.
        assert!(Numeric::from_sql(&Type::NUMERIC, &[0, 2, 0]).is_err());
        assert!(Numeric::from_sql(&Type::NUMERIC, &[0, 5, 0, 0, 0, 0, 0, 0, 0, 1]).is_err());
    }
}
