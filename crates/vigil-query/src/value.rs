//! Types and values of the language, and their JSON forms.
//!
//! Timestamps and durations are nanoseconds (`i64`: 1677–2262) so that the SQL path and the
//! in-memory path do the same integer arithmetic. In JSON a timestamp is an RFC 3339 string
//! (`2025-09-08T13:16:00Z`), a duration an integer number of nanoseconds.

use std::cmp::Ordering;
use std::fmt;

/// The static type of an expression or field.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Type {
    /// Only `null` (the literal, or an expression that is always null).
    Null,
    /// `true` / `false`.
    Bool,
    /// 64-bit integer.
    Long,
    /// 64-bit float.
    Double,
    /// UTF-8 text.
    String,
    /// Point in time, nanoseconds since the Unix epoch (UTC).
    Timestamp,
    /// Length of time in nanoseconds.
    Duration,
    /// Array of the element type.
    Array(Box<Type>),
}

impl Type {
    /// Is this `long` or `double`?
    pub fn is_numeric(&self) -> bool {
        matches!(self, Type::Long | Type::Double)
    }

    /// Is this an array type?
    pub fn is_array(&self) -> bool {
        matches!(self, Type::Array(_))
    }

    /// Can values of `self` and `other` be compared with `==`/`<`?
    pub fn comparable(&self, other: &Type) -> bool {
        match (self, other) {
            (Type::Null, _) | (_, Type::Null) => true,
            (Type::Array(_), _) | (_, Type::Array(_)) => false,
            (a, b) if a.is_numeric() && b.is_numeric() => true,
            (a, b) => a == b,
        }
    }

    /// The common type of two branches (`if`, `coalesce`, array elements), if any.
    pub fn unify(&self, other: &Type) -> Option<Type> {
        match (self, other) {
            (Type::Null, t) | (t, Type::Null) => Some(t.clone()),
            (Type::Long, Type::Double) | (Type::Double, Type::Long) => Some(Type::Double),
            (Type::Array(a), Type::Array(b)) => Some(Type::Array(Box::new(a.unify(b)?))),
            (a, b) if a == b => Some(a.clone()),
            _ => None,
        }
    }
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Type::Null => f.write_str("null"),
            Type::Bool => f.write_str("boolean"),
            Type::Long => f.write_str("long"),
            Type::Double => f.write_str("double"),
            Type::String => f.write_str("string"),
            Type::Timestamp => f.write_str("timestamp"),
            Type::Duration => f.write_str("duration"),
            Type::Array(t) => write!(f, "array<{t}>"),
        }
    }
}

/// A value of the language.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// Absent / unknown.
    Null,
    /// Boolean.
    Bool(bool),
    /// Integer.
    Long(i64),
    /// Float.
    Double(f64),
    /// Text.
    String(String),
    /// Nanoseconds since the Unix epoch.
    Timestamp(i64),
    /// Nanoseconds.
    Duration(i64),
    /// Array.
    Array(Vec<Value>),
}

impl Value {
    /// Is this null?
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// Reads a JSON value as a value of type `ty`. A JSON value of another shape reads as null
    /// (a record is schemaless; a field of the wrong shape is treated as absent). Timestamps
    /// accept RFC 3339 strings and integer nanoseconds.
    pub fn from_json(ty: &Type, json: &serde_json::Value) -> Value {
        use serde_json::Value as J;
        match (ty, json) {
            (Type::Bool, J::Bool(b)) => Value::Bool(*b),
            (Type::Long, J::Number(n)) => n.as_i64().map_or(Value::Null, Value::Long),
            (Type::Double, J::Number(n)) => n.as_f64().map_or(Value::Null, Value::Double),
            (Type::String, J::String(s)) => Value::String(s.clone()),
            (Type::Timestamp, J::String(s)) => {
                crate::time::parse_rfc3339(s).map_or(Value::Null, Value::Timestamp)
            }
            (Type::Timestamp, J::Number(n)) => n.as_i64().map_or(Value::Null, Value::Timestamp),
            (Type::Duration, J::Number(n)) => n.as_i64().map_or(Value::Null, Value::Duration),
            (Type::Array(elem), J::Array(items)) => {
                Value::Array(items.iter().map(|v| Value::from_json(elem, v)).collect())
            }
            _ => Value::Null,
        }
    }

    /// The JSON form: timestamps as RFC 3339 strings, durations as integer nanoseconds,
    /// non-finite doubles as null.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match self {
            Value::Null => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Long(n) | Value::Duration(n) => J::from(*n),
            Value::Double(x) => serde_json::Number::from_f64(*x).map_or(J::Null, J::Number),
            Value::String(s) => J::String(s.clone()),
            Value::Timestamp(t) => J::String(crate::time::format_rfc3339(*t)),
            Value::Array(items) => J::Array(items.iter().map(Value::to_json).collect()),
        }
    }

    /// Converts to type `ty` where the language converts implicitly (long → double where a
    /// double is expected); other values are returned unchanged.
    pub fn coerce(self, ty: &Type) -> Value {
        match (self, ty) {
            (Value::Long(n), Type::Double) => Value::Double(n as f64),
            (Value::Array(items), Type::Array(elem)) => {
                Value::Array(items.into_iter().map(|v| v.coerce(elem)).collect())
            }
            (v, _) => v,
        }
    }

    /// Total order used by `sort`, `min`/`max` and `collectDistinct`: numbers numerically,
    /// strings by bytes (SQLite's `BINARY`, PostgreSQL's `"C"` collation), `false < true`.
    /// Values of different kinds (which the checker never lets meet) order by kind.
    pub fn total_cmp(&self, other: &Value) -> Ordering {
        match (self, other) {
            (Value::Null, Value::Null) => Ordering::Equal,
            (Value::Bool(a), Value::Bool(b)) => a.cmp(b),
            (Value::Long(a), Value::Long(b))
            | (Value::Timestamp(a), Value::Timestamp(b))
            | (Value::Duration(a), Value::Duration(b)) => a.cmp(b),
            (Value::Long(a), Value::Double(b)) => cmp_long_double(*a, *b),
            (Value::Double(a), Value::Long(b)) => cmp_long_double(*b, *a).reverse(),
            // -0.0 == 0.0 as in SQL; NaN (which SQL never produces) after every number.
            (Value::Double(a), Value::Double(b)) => a
                .partial_cmp(b)
                .unwrap_or_else(|| a.is_nan().cmp(&b.is_nan())),
            (Value::String(a), Value::String(b)) => a.as_bytes().cmp(b.as_bytes()),
            (Value::Array(a), Value::Array(b)) => {
                for (x, y) in a.iter().zip(b) {
                    let o = x.total_cmp(y);
                    if o != Ordering::Equal {
                        return o;
                    }
                }
                a.len().cmp(&b.len())
            }
            (a, b) => a.rank().cmp(&b.rank()),
        }
    }

    fn rank(&self) -> u8 {
        match self {
            Value::Null => 0,
            Value::Bool(_) => 1,
            Value::Long(_) | Value::Double(_) => 2,
            Value::String(_) => 3,
            Value::Timestamp(_) => 4,
            Value::Duration(_) => 5,
            Value::Array(_) => 6,
        }
    }

    /// Equality for grouping (`summarize by`, `dedup`, `countDistinct`, lookup keys): nulls
    /// are equal to each other here, `1 == 1.0`, `-0.0 == 0.0`.
    pub fn group_eq(&self, other: &Value) -> bool {
        self.total_cmp(other) == Ordering::Equal
            || matches!((self, other), (Value::Double(a), Value::Double(b)) if a == b)
    }

    /// A key that is equal exactly when [`Value::group_eq`] holds, for hashing.
    pub fn group_key(&self, out: &mut Vec<u8>) {
        match self {
            Value::Null => out.push(0),
            Value::Bool(b) => out.extend([1, u8::from(*b)]),
            Value::Long(n) => number_key(*n as f64, Some(*n), out),
            Value::Double(x) => number_key(*x, None, out),
            Value::String(s) => {
                out.push(3);
                out.extend((s.len() as u64).to_le_bytes());
                out.extend(s.as_bytes());
            }
            Value::Timestamp(t) => {
                out.push(4);
                out.extend(t.to_le_bytes());
            }
            Value::Duration(d) => {
                out.push(5);
                out.extend(d.to_le_bytes());
            }
            Value::Array(items) => {
                out.push(6);
                out.extend((items.len() as u64).to_le_bytes());
                for v in items {
                    v.group_key(out);
                }
            }
        }
    }
}

/// 2^63 as a float: the first double above every i64.
const TWO_POW_63: f64 = 9_223_372_036_854_775_808u64 as f64;

fn number_key(x: f64, exact: Option<i64>, out: &mut Vec<u8>) {
    out.push(2);
    // Integral values key by their integer so that 1 and 1.0 group together.
    let int = exact.or_else(|| {
        (x.fract() == 0.0 && (-TWO_POW_63..TWO_POW_63).contains(&x)).then_some(x as i64)
    });
    match int {
        Some(n) => {
            out.push(0);
            out.extend(n.to_le_bytes());
        }
        None => {
            out.push(1);
            out.extend(x.to_bits().to_le_bytes());
        }
    }
}

/// Compares an integer with a float exactly (as SQLite does), NaN last.
fn cmp_long_double(a: i64, b: f64) -> Ordering {
    if b.is_nan() {
        return Ordering::Less;
    }
    if b >= TWO_POW_63 {
        return Ordering::Less;
    }
    if b < -TWO_POW_63 {
        return Ordering::Greater;
    }
    let bi = b.trunc() as i64;
    match a.cmp(&bi) {
        Ordering::Equal => 0.0f64.partial_cmp(&b.fract()).unwrap_or(Ordering::Equal),
        o => o,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_round_trips_by_type() {
        let arr = Type::Array(Box::new(Type::String));
        for (ty, input, want) in [
            (Type::String, json!("x"), Value::String("x".into())),
            (Type::String, json!(1), Value::Null),
            (Type::Long, json!(5), Value::Long(5)),
            (Type::Long, json!(5.5), Value::Null),
            (Type::Double, json!(5), Value::Double(5.0)),
            (Type::Bool, json!(true), Value::Bool(true)),
            (
                Type::Timestamp,
                json!("1970-01-01T00:00:01Z"),
                Value::Timestamp(1_000_000_000),
            ),
            (Type::Timestamp, json!("garbage"), Value::Null),
            (
                arr.clone(),
                json!(["a", 1]),
                Value::Array(vec![Value::String("a".into()), Value::Null]),
            ),
            (arr, json!("a"), Value::Null),
        ] {
            assert_eq!(Value::from_json(&ty, &input), want, "{ty} {input}");
        }
        assert_eq!(
            Value::Timestamp(1_500_000_000).to_json(),
            json!("1970-01-01T00:00:01.5Z")
        );
        assert_eq!(Value::Double(f64::NAN).to_json(), json!(null));
    }

    #[test]
    fn orders_numbers_across_kinds() {
        use Ordering::*;
        for (a, b, want) in [
            (Value::Long(1), Value::Double(1.0), Equal),
            (Value::Double(-0.0), Value::Double(0.0), Equal),
            (Value::Long(1), Value::Double(1.5), Less),
            (Value::Long(2), Value::Double(1.5), Greater),
            (Value::Long(-1), Value::Double(-0.5), Less),
            (Value::Long(i64::MAX), Value::Double(9.3e18), Less),
            (Value::Long(i64::MIN), Value::Double(-9.3e18), Greater),
            (Value::String("B".into()), Value::String("a".into()), Less),
        ] {
            assert_eq!(a.total_cmp(&b), want, "{a:?} {b:?}");
            assert_eq!(b.total_cmp(&a), want.reverse(), "{a:?} {b:?}");
        }
        let key = |v: &Value| {
            let mut k = Vec::new();
            v.group_key(&mut k);
            k
        };
        assert_eq!(key(&Value::Long(1)), key(&Value::Double(1.0)));
        assert_eq!(key(&Value::Double(0.0)), key(&Value::Double(-0.0)));
        assert_ne!(
            key(&Value::String("a".into())),
            key(&Value::String("b".into()))
        );
    }
}
