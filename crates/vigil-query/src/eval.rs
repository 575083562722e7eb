//! The in-memory evaluator: runs a checked expression over one record (a workflow trigger on
//! one security event), or a whole [`Plan`] over records held in memory (tests, small data).
//!
//! Semantics are those of the SQL the compiler emits, decided once in the checker and mirrored
//! here operation by operation; the conformance table runs every case through both paths.
//! DQL null semantics: an operation on null is null, comparisons with null are null, `and`/`or`
//! are three-valued, `filter` keeps only rows whose condition is true. Case folding is ASCII.
//!
//! Cost: an expression is O(size of the expression × size of the values it touches); a
//! pipeline is O(rows × stages) plus O(rows log rows) per `sort`/`dedup`, hashing for
//! `summarize`, `dedup` and `lookup`.

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap};

use crate::catalog::DataObject;
use crate::error::{ErrorKind, QueryError, Span};
use crate::plan::*;
use crate::result::QueryResult;
use crate::value::{Type, Value};

/// What an evaluation needs from outside: the clock.
#[derive(Clone, Copy, Debug)]
pub struct EvalContext {
    /// `now()`, nanoseconds since the epoch.
    pub now: i64,
}

/// Records of each data object, as JSON objects with flat dotted keys
/// (`{"event.type": …, "vulnerability.references.cwe": [...]}`); nested objects are read too
/// (`{"event": {"type": …}}`).
#[derive(Clone, Debug, Default)]
pub struct MemoryStore {
    records: BTreeMap<&'static str, Vec<serde_json::Value>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    /// Adds records of `object`.
    pub fn insert(&mut self, object: &'static DataObject, records: Vec<serde_json::Value>) {
        self.records.entry(object.name).or_default().extend(records);
    }

    /// The records of `object`.
    pub fn records(&self, object: &DataObject) -> &[serde_json::Value] {
        self.records.get(object.name).map_or(&[], Vec::as_slice)
    }
}

/// Reads a record into the layout of `object`'s fields.
pub fn record_to_row(object: &DataObject, record: &serde_json::Value) -> Vec<Value> {
    object
        .fields
        .iter()
        .map(|f| {
            lookup_json(record, f.name).map_or(Value::Null, |v| Value::from_json(&f.ty.ty(), v))
        })
        .collect()
}

/// `record[name]`, else the nested path `record[a][b]…` for `name = "a.b…"`.
fn lookup_json<'a>(record: &'a serde_json::Value, name: &str) -> Option<&'a serde_json::Value> {
    if let Some(v) = record.get(name) {
        return Some(v);
    }
    let mut cur = record;
    for part in name.split('.') {
        cur = cur.get(part)?;
    }
    Some(cur)
}

/// Evaluates `e` over one record of the object it was checked against.
pub fn eval_record(
    e: &TExpr,
    object: &DataObject,
    record: &serde_json::Value,
    ctx: &EvalContext,
) -> Result<Value, QueryError> {
    eval(e, &record_to_row(object, record), ctx)
}

/// Evaluates `e` over a row of its input layout.
pub fn eval(e: &TExpr, row: &[Value], ctx: &EvalContext) -> Result<Value, QueryError> {
    Ok(match &e.kind {
        TKind::Lit(v) => v.clone(),
        TKind::Col(i) => row.get(*i).cloned().unwrap_or(Value::Null),
        TKind::Now => Value::Timestamp(ctx.now),
        TKind::Array(items) => {
            let elem = match &e.ty {
                Type::Array(t) => (**t).clone(),
                _ => Type::Null,
            };
            Value::Array(
                items
                    .iter()
                    .map(|i| eval(i, row, ctx).map(|v| v.coerce(&elem)))
                    .collect::<Result<_, _>>()?,
            )
        }
        TKind::Not(a) => match eval(a, row, ctx)? {
            Value::Bool(b) => Value::Bool(!b),
            _ => Value::Null,
        },
        TKind::And(a, b) => {
            let (x, y) = (truth(&eval(a, row, ctx)?), truth(&eval(b, row, ctx)?));
            match (x, y) {
                (Some(false), _) | (_, Some(false)) => Value::Bool(false),
                (Some(true), Some(true)) => Value::Bool(true),
                _ => Value::Null,
            }
        }
        TKind::Or(a, b) => {
            let (x, y) = (truth(&eval(a, row, ctx)?), truth(&eval(b, row, ctx)?));
            match (x, y) {
                (Some(true), _) | (_, Some(true)) => Value::Bool(true),
                (Some(false), Some(false)) => Value::Bool(false),
                _ => Value::Null,
            }
        }
        TKind::Cmp(op, a, b) => compare(*op, &eval(a, row, ctx)?, &eval(b, row, ctx)?),
        TKind::Neg(a) => match eval(a, row, ctx)? {
            Value::Long(n) => n
                .checked_neg()
                .map_or(Value::Double(-(n as f64)), Value::Long),
            Value::Double(x) => Value::Double(-x),
            Value::Duration(n) => Value::Duration(n.saturating_neg()),
            _ => Value::Null,
        },
        TKind::Arith(op, a, b) => match arith(*op, eval(a, row, ctx)?, eval(b, row, ctx)?) {
            // SQLite turns a NaN result (inf - inf) into NULL.
            Value::Double(x) if x.is_nan() => Value::Null,
            v => v,
        },
        TKind::Call(func, args) => call(func, args, &e.ty, row, ctx)?,
    })
}

fn truth(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        _ => None,
    }
}

fn compare(op: CmpOp, a: &Value, b: &Value) -> Value {
    let ord = match (a, b) {
        (Value::Null, _) | (_, Value::Null) => return Value::Null,
        (Value::Long(_) | Value::Double(_), Value::Long(_) | Value::Double(_))
        | (Value::String(_), Value::String(_))
        | (Value::Bool(_), Value::Bool(_))
        | (Value::Timestamp(_), Value::Timestamp(_))
        | (Value::Duration(_), Value::Duration(_)) => a.total_cmp(b),
        _ => return Value::Null,
    };
    // NaN never equals anything (SQLite has no NaN; it cannot arise from stored data).
    if matches!(a, Value::Double(x) if x.is_nan()) || matches!(b, Value::Double(x) if x.is_nan()) {
        return Value::Null;
    }
    Value::Bool(match op {
        CmpOp::Eq => ord == Ordering::Equal,
        CmpOp::Ne => ord != Ordering::Equal,
        CmpOp::Lt => ord == Ordering::Less,
        CmpOp::Le => ord != Ordering::Greater,
        CmpOp::Gt => ord == Ordering::Greater,
        CmpOp::Ge => ord != Ordering::Less,
    })
}

fn as_f64(v: &Value) -> Option<f64> {
    match v {
        Value::Long(n) => Some(*n as f64),
        Value::Double(x) => Some(*x),
        _ => None,
    }
}

/// Integer arithmetic overflows into a double, like SQLite.
fn int_op(
    a: i64,
    b: i64,
    checked: fn(i64, i64) -> Option<i64>,
    float: fn(f64, f64) -> f64,
) -> Value {
    checked(a, b).map_or_else(|| Value::Double(float(a as f64, b as f64)), Value::Long)
}

/// Timestamp/duration arithmetic saturates (SQLite's overflow to double, read back as i64).
fn time_op(
    a: i64,
    b: i64,
    checked: fn(i64, i64) -> Option<i64>,
    float: fn(f64, f64) -> f64,
) -> i64 {
    checked(a, b).unwrap_or_else(|| float(a as f64, b as f64) as i64)
}

fn arith(op: ArithOp, a: Value, b: Value) -> Value {
    use Value::*;
    let add = |x: f64, y: f64| x + y;
    let sub = |x: f64, y: f64| x - y;
    let mul = |x: f64, y: f64| x * y;
    match (op, &a, &b) {
        (_, Null, _) | (_, _, Null) => Null,
        (ArithOp::Div, _, _) => match (as_f64(&a), as_f64(&b)) {
            (Some(x), Some(y)) => {
                if y == 0.0 {
                    Null
                } else {
                    Double(x / y)
                }
            }
            _ => Null,
        },
        (ArithOp::Rem, Long(x), Long(y)) => {
            if *y == 0 {
                Null
            } else {
                Long(x.wrapping_rem(*y))
            }
        }
        (ArithOp::Add, Long(x), Long(y)) => int_op(*x, *y, i64::checked_add, add),
        (ArithOp::Sub, Long(x), Long(y)) => int_op(*x, *y, i64::checked_sub, sub),
        (ArithOp::Mul, Long(x), Long(y)) => int_op(*x, *y, i64::checked_mul, mul),
        (ArithOp::Add, Timestamp(t), Duration(d)) | (ArithOp::Add, Duration(d), Timestamp(t)) => {
            Timestamp(time_op(*t, *d, i64::checked_add, add))
        }
        (ArithOp::Sub, Timestamp(t), Duration(d)) => {
            Timestamp(time_op(*t, *d, i64::checked_sub, sub))
        }
        (ArithOp::Sub, Timestamp(x), Timestamp(y)) => {
            Duration(time_op(*x, *y, i64::checked_sub, sub))
        }
        (ArithOp::Add, Duration(x), Duration(y)) => {
            Duration(time_op(*x, *y, i64::checked_add, add))
        }
        (ArithOp::Sub, Duration(x), Duration(y)) => {
            Duration(time_op(*x, *y, i64::checked_sub, sub))
        }
        (ArithOp::Mul, Duration(x), Long(y)) | (ArithOp::Mul, Long(y), Duration(x)) => {
            Duration(time_op(*x, *y, i64::checked_mul, mul))
        }
        (op, _, _) => match (as_f64(&a), as_f64(&b)) {
            (Some(x), Some(y)) => Double(match op {
                ArithOp::Add => x + y,
                ArithOp::Sub => x - y,
                _ => x * y,
            }),
            _ => Null,
        },
    }
}

fn lower(s: &str, ci: bool) -> std::borrow::Cow<'_, str> {
    if ci {
        std::borrow::Cow::Owned(s.to_ascii_lowercase())
    } else {
        std::borrow::Cow::Borrowed(s)
    }
}

fn call(
    func: &Func,
    args: &[TExpr],
    ty: &Type,
    row: &[Value],
    ctx: &EvalContext,
) -> Result<Value, QueryError> {
    let arg = |i: usize| -> Result<Value, QueryError> {
        match args.get(i) {
            Some(a) => eval(a, row, ctx),
            None => Ok(Value::Null),
        }
    };
    Ok(match func {
        Func::Contains { ci } | Func::StartsWith { ci } | Func::EndsWith { ci } => {
            let (Value::String(a), Value::String(b)) = (arg(0)?, arg(1)?) else {
                return Ok(Value::Null);
            };
            let (a, b) = (lower(&a, *ci), lower(&b, *ci));
            Value::Bool(match func {
                Func::Contains { .. } => a.contains(&*b),
                Func::StartsWith { .. } => a.starts_with(&*b),
                _ => a.ends_with(&*b),
            })
        }
        Func::MatchesValue { pattern } => any_string(arg(0)?, |s| wildcard_match(pattern, s)),
        Func::MatchesPhrase { phrase } => any_string(arg(0)?, |s| phrase_match(phrase, s)),
        Func::Lower | Func::Upper => match arg(0)? {
            Value::String(s) if *func == Func::Lower => Value::String(s.to_ascii_lowercase()),
            Value::String(s) => Value::String(s.to_ascii_uppercase()),
            _ => Value::Null,
        },
        Func::Concat => {
            let mut out = String::new();
            for i in 0..args.len() {
                match arg(i)? {
                    Value::String(s) => out.push_str(&s),
                    Value::Long(n) => out.push_str(&n.to_string()),
                    Value::Bool(b) => out.push_str(if b { "true" } else { "false" }),
                    _ => {}
                }
            }
            Value::String(out)
        }
        Func::IsNull => Value::Bool(arg(0)?.is_null()),
        Func::IsNotNull => Value::Bool(!arg(0)?.is_null()),
        Func::Coalesce => {
            for i in 0..args.len() {
                let v = arg(i)?;
                if !v.is_null() {
                    return Ok(v.coerce(ty));
                }
            }
            Value::Null
        }
        Func::If => {
            let v = if truth(&arg(0)?) == Some(true) {
                arg(1)?
            } else {
                arg(2)?
            };
            v.coerce(ty)
        }
        Func::InList => {
            let v = arg(0)?;
            if v.is_null() {
                return Ok(Value::Null);
            }
            let mut saw_null = false;
            for i in 1..args.len() {
                match compare(CmpOp::Eq, &v, &arg(i)?) {
                    Value::Bool(true) => return Ok(Value::Bool(true)),
                    Value::Bool(false) => {}
                    _ => saw_null = true,
                }
            }
            if saw_null {
                Value::Null
            } else {
                Value::Bool(false)
            }
        }
        Func::InArray => {
            let (v, arr) = (arg(0)?, arg(1)?);
            let Value::Array(items) = arr else {
                return Ok(Value::Null);
            };
            if v.is_null() {
                return Ok(Value::Null);
            }
            Value::Bool(
                items
                    .iter()
                    .any(|x| compare(CmpOp::Eq, &v, x) == Value::Bool(true)),
            )
        }
    })
}

/// A string predicate over a string (null → null) or an array of strings (any element; a
/// null array → null, null elements never match).
fn any_string(v: Value, pred: impl Fn(&str) -> bool) -> Value {
    match v {
        Value::String(s) => Value::Bool(pred(&s)),
        Value::Array(items) => Value::Bool(
            items
                .iter()
                .any(|x| matches!(x, Value::String(s) if pred(s))),
        ),
        _ => Value::Null,
    }
}

/// `matchesValue`: the whole value against a pattern where `*` matches any run of characters,
/// ASCII case-insensitive (SQLite `LIKE` with `%` for `*`). Iterative with one backtrack point:
/// O(len(pattern) × len(value)) worst case.
pub(crate) fn wildcard_match(pattern: &str, value: &str) -> bool {
    let p: Vec<char> = pattern.chars().map(|c| c.to_ascii_lowercase()).collect();
    let v: Vec<char> = value.chars().map(|c| c.to_ascii_lowercase()).collect();
    let (mut pi, mut vi) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while vi < v.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some((pi, vi));
                pi += 1;
            }
            Some(c) if Some(c) == v.get(vi) => {
                pi += 1;
                vi += 1;
            }
            _ => match star {
                Some((sp, sv)) => {
                    pi = sp + 1;
                    vi = sv + 1;
                    star = Some((sp, sv + 1));
                }
                None => return false,
            },
        }
    }
    p.get(pi..)
        .is_some_and(|rest| rest.iter().all(|&c| c == '*'))
}

fn is_word(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit()
}

/// `matchesPhrase`: the phrase occurs in the value with a non-alphanumeric character (or the
/// value's edge) on both sides, ASCII case-insensitive. O(len(value) × len(phrase)).
pub(crate) fn phrase_match(phrase: &str, value: &str) -> bool {
    let p: Vec<char> = phrase.chars().map(|c| c.to_ascii_lowercase()).collect();
    let padded: Vec<char> = std::iter::once(' ')
        .chain(value.chars().map(|c| c.to_ascii_lowercase()))
        .chain(std::iter::once(' '))
        .collect();
    let n = p.len();
    (0..padded.len()).any(|i| {
        padded.get(i).is_some_and(|&c| !is_word(c))
            && padded
                .get(i + 1..i + 1 + n)
                .is_some_and(|w| w == p.as_slice())
            && padded.get(i + 1 + n).is_some_and(|&c| !is_word(c))
    })
}

// ---- pipelines -------------------------------------------------------------------------------

/// Options for running a query.
#[derive(Clone, Copy, Debug)]
pub struct RunOptions {
    /// `now()`, nanoseconds since the epoch.
    pub now: i64,
    /// Records returned when the query has no `limit` of its own (DQL's default: 1000).
    pub default_limit: u64,
}

impl RunOptions {
    /// Default limit 1000 at time `now`.
    pub fn at(now: i64) -> RunOptions {
        RunOptions {
            now,
            default_limit: 1000,
        }
    }
}

/// Runs a plan over the records of a [`MemoryStore`].
pub fn run(
    plan: &Plan,
    store: &MemoryStore,
    options: &RunOptions,
) -> Result<QueryResult, QueryError> {
    let ctx = EvalContext { now: options.now };
    let mut rows = run_plan(plan, store, &ctx)?;
    let truncated = !plan.has_limit && rows.len() as u64 > options.default_limit;
    if truncated {
        rows.truncate(usize::try_from(options.default_limit).unwrap_or(usize::MAX));
    }
    let records = rows
        .into_iter()
        .map(|r| {
            r.into_iter()
                .zip(&plan.columns)
                .map(|(v, c)| v.coerce(&c.ty))
                .collect()
        })
        .collect();
    Ok(QueryResult {
        columns: plan.columns.clone(),
        records,
        truncated,
    })
}

type Row = Vec<Value>;

fn runtime(span: Span, msg: &str) -> QueryError {
    QueryError::new(ErrorKind::Runtime, span, msg)
}

fn run_plan(plan: &Plan, store: &MemoryStore, ctx: &EvalContext) -> Result<Vec<Row>, QueryError> {
    let object = plan.object;
    let (start, end) = (
        object.position(object.window.0).unwrap_or(0),
        object.position(object.window.1).unwrap_or(0),
    );
    let from = plan.from.as_ref().map(|e| eval(e, &[], ctx)).transpose()?;
    let to = plan.to.as_ref().map(|e| eval(e, &[], ctx)).transpose()?;
    let mut rows: Vec<Row> = Vec::new();
    for record in store.records(object) {
        let row = record_to_row(object, record);
        let in_window = |i: usize, op: CmpOp, bound: &Option<Value>| {
            bound.as_ref().is_none_or(|b| {
                compare(op, row.get(i).unwrap_or(&Value::Null), b) == Value::Bool(true)
            })
        };
        if in_window(end, CmpOp::Ge, &from) && in_window(start, CmpOp::Lt, &to) {
            rows.push(row);
        }
    }
    for stage in &plan.stages {
        rows = run_stage(stage, rows, store, ctx)?;
    }
    Ok(rows)
}

/// Orders two sort keys: nulls last in both directions.
fn cmp_keys(a: &[Value], b: &[Value], specs: &[SortSpec]) -> Ordering {
    for ((x, y), spec) in a.iter().zip(b).zip(specs) {
        let o = match (x.is_null(), y.is_null()) {
            (true, true) => Ordering::Equal,
            (true, false) => Ordering::Greater,
            (false, true) => Ordering::Less,
            _ if spec.desc => x.total_cmp(y).reverse(),
            _ => x.total_cmp(y),
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    Ordering::Equal
}

fn eval_all(exprs: &[TExpr], row: &[Value], ctx: &EvalContext) -> Result<Vec<Value>, QueryError> {
    exprs.iter().map(|e| eval(e, row, ctx)).collect()
}

fn sort_keys(
    specs: &[SortSpec],
    row: &[Value],
    ctx: &EvalContext,
) -> Result<Vec<Value>, QueryError> {
    specs.iter().map(|s| eval(&s.expr, row, ctx)).collect()
}

fn key_bytes(values: &[Value]) -> Vec<u8> {
    let mut k = Vec::new();
    for v in values {
        v.group_key(&mut k);
    }
    k
}

fn run_stage(
    stage: &Stage,
    rows: Vec<Row>,
    store: &MemoryStore,
    ctx: &EvalContext,
) -> Result<Vec<Row>, QueryError> {
    Ok(match stage {
        Stage::Filter { pred, negate } => {
            let mut out = Vec::with_capacity(rows.len());
            for row in rows {
                let keep = eval(pred, &row, ctx)? == Value::Bool(true);
                if keep != *negate {
                    out.push(row);
                }
            }
            out
        }
        Stage::Project(exprs) => rows
            .iter()
            .map(|row| eval_all(exprs, row, ctx))
            .collect::<Result<_, _>>()?,
        Stage::Sort(specs) => {
            let mut keyed = rows
                .into_iter()
                .map(|row| Ok((sort_keys(specs, &row, ctx)?, row)))
                .collect::<Result<Vec<_>, QueryError>>()?;
            keyed.sort_by(|(a, _), (b, _)| cmp_keys(a, b, specs));
            keyed.into_iter().map(|(_, row)| row).collect()
        }
        Stage::Limit(n) => {
            let mut rows = rows;
            rows.truncate(usize::try_from(*n).unwrap_or(usize::MAX));
            rows
        }
        Stage::Dedup { keys, order } => {
            // Best row per key (by `order`, ties by input order), output in input order.
            let mut best: HashMap<Vec<u8>, (usize, Vec<Value>)> = HashMap::new();
            for (i, row) in rows.iter().enumerate() {
                let k = key_bytes(&eval_all(keys, row, ctx)?);
                let sk = sort_keys(order, row, ctx)?;
                match best.get_mut(&k) {
                    Some(cur) => {
                        if cmp_keys(&sk, &cur.1, order) == Ordering::Less {
                            *cur = (i, sk);
                        }
                    }
                    None => {
                        best.insert(k, (i, sk));
                    }
                }
            }
            let mut keep: Vec<usize> = best.into_values().map(|(i, _)| i).collect();
            keep.sort_unstable();
            let mut rows: Vec<Option<Row>> = rows.into_iter().map(Some).collect();
            keep.iter()
                .filter_map(|&i| rows.get_mut(i).and_then(Option::take))
                .collect()
        }
        Stage::Summarize { groups, aggs } => summarize(groups, aggs, &rows, ctx)?,
        Stage::Expand { col, .. } => {
            let mut out = Vec::new();
            for row in rows {
                let Some(Value::Array(items)) = row.get(*col) else {
                    continue;
                };
                for item in items.clone() {
                    let mut r = row.clone();
                    if let Some(slot) = r.get_mut(*col) {
                        *slot = item;
                    }
                    out.push(r);
                }
            }
            out
        }
        Stage::Lookup(l) => {
            let sub = run_plan(&l.sub, store, ctx)?;
            let mut first: HashMap<Vec<u8>, usize> = HashMap::new();
            for (i, r) in sub.iter().enumerate() {
                match r.get(l.lookup_key) {
                    None | Some(Value::Null) => {}
                    Some(k) => {
                        first.entry(key_bytes(std::slice::from_ref(k))).or_insert(i);
                    }
                }
            }
            rows.into_iter()
                .map(|mut row| {
                    let hit = match row.get(l.source_key) {
                        None | Some(Value::Null) => None,
                        Some(k) => first
                            .get(&key_bytes(std::slice::from_ref(k)))
                            .and_then(|&i| sub.get(i)),
                    };
                    for &c in &l.take {
                        row.push(hit.and_then(|h| h.get(c)).cloned().unwrap_or(Value::Null));
                    }
                    row
                })
                .collect()
        }
    })
}

fn summarize(
    groups: &[TExpr],
    aggs: &[Agg],
    rows: &[Row],
    ctx: &EvalContext,
) -> Result<Vec<Row>, QueryError> {
    // Group rows by key, in order of first appearance.
    let mut index: HashMap<Vec<u8>, usize> = HashMap::new();
    let mut keyed: Vec<(Vec<Value>, Vec<usize>)> = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        let key = eval_all(groups, row, ctx)?;
        let k = key_bytes(&key);
        match index.get(&k) {
            Some(&g) => {
                if let Some(group) = keyed.get_mut(g) {
                    group.1.push(i);
                }
            }
            None => {
                index.insert(k, keyed.len());
                keyed.push((key, vec![i]));
            }
        }
    }
    if groups.is_empty() && keyed.is_empty() {
        keyed.push((Vec::new(), Vec::new()));
    }
    let mut out = Vec::with_capacity(keyed.len());
    for (key, members) in keyed {
        let mut row = key;
        for agg in aggs {
            let values = match &agg.arg {
                Some(a) => members
                    .iter()
                    .filter_map(|&i| rows.get(i))
                    .map(|r| eval(a, r, ctx))
                    .collect::<Result<Vec<_>, _>>()?,
                None => Vec::new(),
            };
            row.push(aggregate(agg, members.len(), values)?);
        }
        out.push(row);
    }
    Ok(out)
}

fn aggregate(agg: &Agg, count: usize, values: Vec<Value>) -> Result<Value, QueryError> {
    let span = agg.arg.as_ref().map_or(Span::default(), |a| a.span);
    let non_null = || values.iter().filter(|v| !v.is_null());
    Ok(match agg.func {
        AggFunc::Count => Value::Long(i64::try_from(count).unwrap_or(i64::MAX)),
        AggFunc::CountIf => {
            Value::Long(values.iter().filter(|v| **v == Value::Bool(true)).count() as i64)
        }
        AggFunc::CountDistinct => {
            let mut seen = std::collections::HashSet::new();
            for v in non_null() {
                seen.insert(key_bytes(std::slice::from_ref(v)));
            }
            Value::Long(seen.len() as i64)
        }
        AggFunc::Min => non_null()
            .min_by(|a, b| a.total_cmp(b))
            .cloned()
            .unwrap_or(Value::Null),
        AggFunc::Max | AggFunc::TakeMax => non_null()
            .max_by(|a, b| a.total_cmp(b))
            .cloned()
            .unwrap_or(Value::Null),
        AggFunc::Sum | AggFunc::Avg => {
            let mut int: Option<i64> = Some(0);
            let mut float = Sum::default();
            let mut n = 0usize;
            let mut any_double = false;
            let mut duration = false;
            for v in non_null() {
                n += 1;
                match v {
                    Value::Long(x) | Value::Duration(x) => {
                        duration |= matches!(v, Value::Duration(_));
                        int = int.and_then(|s| s.checked_add(*x));
                        float.add(*x as f64);
                    }
                    Value::Double(x) => {
                        any_double = true;
                        float.add(*x);
                    }
                    _ => {}
                }
            }
            if n == 0 {
                Value::Null
            } else if agg.func == AggFunc::Avg {
                Value::Double(float.total() / n as f64)
            } else if any_double {
                Value::Double(float.total())
            } else {
                let Some(s) = int else {
                    return Err(runtime(span, "integer overflow in `sum`"));
                };
                if duration {
                    Value::Duration(s)
                } else {
                    Value::Long(s)
                }
            }
        }
        AggFunc::CollectDistinct => {
            let mut items: Vec<Value> = non_null().cloned().collect();
            items.sort_by(|a, b| a.total_cmp(b));
            items.dedup_by(|a, b| a.group_eq(b));
            Value::Array(items)
        }
        AggFunc::CollectArray => Value::Array(non_null().cloned().collect()),
        AggFunc::TakeFirst => values.into_iter().next().unwrap_or(Value::Null),
    })
}

/// Kahan–Babuška–Neumaier summation, as SQLite's `sum`/`avg` do for floats.
#[derive(Default)]
struct Sum {
    sum: f64,
    err: f64,
}

impl Sum {
    fn add(&mut self, x: f64) {
        let t = self.sum + x;
        if self.sum.abs() >= x.abs() {
            self.err += (self.sum - t) + x;
        } else {
            self.err += (x - t) + self.sum;
        }
        self.sum = t;
    }

    fn total(&self) -> f64 {
        self.sum + self.err
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::SECURITY_EVENTS;
    use crate::{check_expr, parse_expr};
    use serde_json::json;

    #[test]
    fn wildcards() {
        for (p, v, want) in [
            ("debug", "debug", true),
            ("debug", "DEBUG", true),
            ("debug", "debug-js", false),
            ("deb*", "debug", true),
            ("*bug", "debug", true),
            ("*", "", true),
            ("", "", true),
            ("", "x", false),
            ("d*g", "dg", true),
            ("d*b*g", "dbxbxg", true),
            (
                "a*a*a*a*b",
                "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                false,
            ),
            ("%", "x", false),
            ("_", "x", false),
            ("é*", "É", false),
        ] {
            assert_eq!(wildcard_match(p, v), want, "{p} {v}");
        }
    }

    #[test]
    fn phrases() {
        for (p, v, want) in [
            ("debug", "debug", true),
            ("debug", "the Debug module", true),
            ("debug", "debugger", false),
            ("debug", "node_modules/debug/index.js", true),
            ("debug", "x-debug-y", true),
            (
                "embedded malicious",
                "CWE-506 Embedded Malicious Code",
                true,
            ),
            ("", "a b", false),
            ("", "a  b", true),
            ("a", "éaé", true),
        ] {
            assert_eq!(phrase_match(p, v), want, "{p} {v}");
        }
    }

    #[test]
    fn workflow_trigger_on_one_event() {
        let src = r#"event.type == "VULNERABILITY_FINDING" and in("CWE-506", vulnerability.references.cwe) and finding.status == "NEW""#;
        let e = check_expr(&parse_expr(src).unwrap(), &SECURITY_EVENTS).unwrap();
        let ctx = EvalContext { now: 0 };
        let hit = json!({"event.type": "VULNERABILITY_FINDING", "vulnerability.references.cwe": ["CWE-506"], "finding.status": "NEW"});
        let nested = json!({"event": {"type": "VULNERABILITY_FINDING"}, "vulnerability": {"references": {"cwe": ["CWE-79", "CWE-506"]}}, "finding.status": "NEW"});
        let other = json!({"event.type": "VULNERABILITY_FINDING", "vulnerability.references.cwe": ["CWE-79"], "finding.status": "NEW"});
        let missing = json!({"event.type": "VULNERABILITY_FINDING", "finding.status": "NEW"});
        let wrong_status =
            json!({"event.type": "VULNERABILITY_FINDING", "finding.status": "RESOLVED"});
        for (rec, want) in [
            (hit, Value::Bool(true)),
            (nested, Value::Bool(true)),
            (other, Value::Bool(false)),
            (missing, Value::Null),
            (wrong_status, Value::Bool(false)),
        ] {
            assert_eq!(
                eval_record(&e, &SECURITY_EVENTS, &rec, &ctx).unwrap(),
                want,
                "{rec}"
            );
        }
    }
}
