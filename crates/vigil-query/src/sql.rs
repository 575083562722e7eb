//! The SQL compiler: [`Plan`] → one parameterized `SELECT` for SQLite or PostgreSQL.
//!
//! Hand-built rather than through sea-query: every stage becomes one CTE over the previous one
//! with generated column names (`c0…`, order keys `o0…`), and the handful of constructs we need
//! (window functions, aggregate `ORDER BY`/`FILTER`, `json_each`/`jsonb_array_elements`,
//! `LEFT JOIN` on a ranked subquery) are easier to write and review as text with a parameter
//! list than through a builder that would need raw-SQL escapes for most of them anyway.
//!
//! Invariants (tested):
//! - every value from the query is a bound parameter (`?N` / `$N::type`), never in the text;
//! - the only identifiers are catalogue views and fields (quoted) and generated names, so
//!   hostile literals or field names cannot change the shape of the SQL;
//! - the semantics match the in-memory evaluator ([`crate::eval`]) operation by operation:
//!   nulls sort last, strings compare by bytes (`COLLATE "C"` on PostgreSQL), case folding is
//!   ASCII (SQLite's `lower`, `translate` on PostgreSQL), `/` is float division with null on
//!   zero, `sort` is stable with respect to earlier sorts (earlier keys are appended).
//!
//! Row order: after `sort`, the order keys travel with the rows as hidden columns through
//! later stages (projections may drop the sorted field) and the final `SELECT` orders by them.
//! `collectArray`/`takeFirst` and `dedup`/`lookup` "first" follow that order too.
//!
//! Requires SQLite ≥ 3.44 (aggregate `ORDER BY`) and PostgreSQL ≥ 12.

use std::fmt::Write as _;

use crate::error::{ErrorKind, QueryError, Span};
use crate::plan::*;
use crate::result::{QueryResult, SqlValue, decode_value};
use crate::value::{Type, Value};

/// Target database.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    /// SQLite ≥ 3.44.
    Sqlite,
    /// PostgreSQL ≥ 12.
    Postgres,
}

/// A bound parameter.
#[derive(Clone, Debug, PartialEq)]
pub enum SqlParam {
    /// Integer (also booleans on SQLite, timestamps and durations).
    Integer(i64),
    /// Float.
    Real(f64),
    /// Text.
    Text(String),
    /// Boolean (PostgreSQL only; SQLite gets 0/1 integers).
    Bool(bool),
}

/// Compilation options.
#[derive(Clone, Copy, Debug)]
pub struct CompileOptions {
    /// Target database.
    pub dialect: Dialect,
    /// `now()`, nanoseconds since the epoch (bound as a parameter).
    pub now: i64,
    /// Records returned when the query has no `limit` (DQL's default 1000).
    pub default_limit: u64,
}

/// A compiled query: run `sql` with `params`, hand the rows to [`CompiledQuery::decode`].
#[derive(Clone, Debug)]
pub struct CompiledQuery {
    /// The SQL text.
    pub sql: String,
    /// Parameters, in placeholder order (`?1`/`$1` first).
    pub params: Vec<SqlParam>,
    /// Output columns (the SQL's columns, in order).
    pub columns: Vec<Column>,
    /// The default limit applied, if the query has no `limit` of its own. The SQL asks for one
    /// more row so [`CompiledQuery::decode`] can tell whether the limit cut the result.
    pub cap: Option<u64>,
}

/// Most parameters one query may bind (SQLite's default maximum is 32766).
pub const MAX_PARAMS: usize = 30_000;

impl CompiledQuery {
    /// Decodes the rows the store returned into a result, applying the default limit.
    pub fn decode(&self, rows: Vec<Vec<SqlValue>>) -> Result<QueryResult, QueryError> {
        let mut rows = rows;
        let truncated = self.cap.is_some_and(|cap| rows.len() as u64 > cap);
        if let (true, Some(cap)) = (truncated, self.cap) {
            rows.truncate(usize::try_from(cap).unwrap_or(usize::MAX));
        }
        let records = rows
            .into_iter()
            .map(|row| {
                row.into_iter()
                    .zip(&self.columns)
                    .map(|(v, c)| decode_value(&c.ty, v))
                    .collect::<Result<Vec<_>, _>>()
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(QueryResult {
            columns: self.columns.clone(),
            records,
            truncated,
        })
    }
}

/// Compiles a checked plan.
pub fn compile(plan: &Plan, options: &CompileOptions) -> Result<CompiledQuery, QueryError> {
    let mut c = Compiler {
        d: options.dialect,
        now: options.now,
        params: Vec::new(),
        ctes: Vec::new(),
        next_order: 0,
    };
    let rel = c.plan(plan)?;
    let cap = (!plan.has_limit).then_some(options.default_limit);
    let mut sql = String::from("WITH ");
    sql.push_str(&c.ctes.join(",\n"));
    sql.push_str("\nSELECT ");
    let cols: Vec<String> = rel
        .types
        .iter()
        .enumerate()
        .map(|(i, ty)| match (c.d, ty) {
            (Dialect::Postgres, Type::Array(_)) => format!("CAST(c{i} AS TEXT)"),
            _ => format!("c{i}"),
        })
        .collect();
    sql.push_str(if cols.is_empty() { "NULL" } else { "" });
    sql.push_str(&cols.join(", "));
    let _ = write!(sql, " FROM {}", rel.name);
    sql.push_str(&c.order_by(&rel.order, ""));
    if let Some(cap) = cap {
        let p = c.param(SqlParam::Integer(
            i64::try_from(cap.saturating_add(1)).unwrap_or(i64::MAX),
        ));
        let _ = write!(sql, " LIMIT {p}");
    }
    if c.params.len() > MAX_PARAMS {
        return Err(QueryError::new(
            ErrorKind::TooComplex,
            Span::default(),
            format!(
                "the query binds {} values, at most {MAX_PARAMS} are allowed",
                c.params.len()
            ),
        ));
    }
    Ok(CompiledQuery {
        sql,
        params: c.params,
        columns: plan.columns.clone(),
        cap,
    })
}

/// Whether `e` reads no input column other than `cols`.
fn reads_only(e: &TExpr, cols: &[usize]) -> bool {
    match &e.kind {
        TKind::Lit(_) | TKind::Now => true,
        TKind::Col(i) => cols.contains(i),
        TKind::Not(a) | TKind::Neg(a) => reads_only(a, cols),
        TKind::And(a, b) | TKind::Or(a, b) | TKind::Cmp(_, a, b) | TKind::Arith(_, a, b) => {
            reads_only(a, cols) && reads_only(b, cols)
        }
        TKind::Array(items) | TKind::Call(_, items) => items.iter().all(|x| reads_only(x, cols)),
    }
}

/// Quotes an identifier (only ever catalogue names).
fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

struct Compiler {
    d: Dialect,
    now: i64,
    params: Vec<SqlParam>,
    ctes: Vec<String>,
    next_order: usize,
}

/// A hidden order key column.
#[derive(Clone, Debug)]
struct OrderKey {
    col: String,
    desc: bool,
    string: bool,
}

/// A relation built so far: a CTE with columns `c0..` plus order keys.
#[derive(Clone, Debug)]
struct Rel {
    name: String,
    types: Vec<Type>,
    order: Vec<OrderKey>,
}

impl Rel {
    /// `c0, c1, …, o3, o4` (optionally qualified).
    fn pass(&self, q: &str) -> Vec<String> {
        (0..self.types.len())
            .map(|i| format!("{q}c{i}"))
            .chain(self.order.iter().map(|o| format!("{q}{}", o.col)))
            .collect()
    }
}

const UPPER: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const LOWER: &str = "abcdefghijklmnopqrstuvwxyz";

impl Compiler {
    fn param(&mut self, p: SqlParam) -> String {
        let p = match (self.d, p) {
            (Dialect::Sqlite, SqlParam::Bool(b)) => SqlParam::Integer(i64::from(b)),
            (_, p) => p,
        };
        let cast = match &p {
            SqlParam::Integer(_) => "bigint",
            SqlParam::Real(_) => "double precision",
            SqlParam::Text(_) => "text",
            SqlParam::Bool(_) => "boolean",
        };
        self.params.push(p);
        let n = self.params.len();
        match self.d {
            Dialect::Sqlite => format!("?{n}"),
            Dialect::Postgres => format!("${n}::{cast}"),
        }
    }

    fn cte(&mut self, body: String) -> String {
        let name = format!("s{}", self.ctes.len());
        self.ctes.push(format!("{name} AS ({body})"));
        name
    }

    fn order_key(&mut self) -> String {
        let n = self.next_order;
        self.next_order += 1;
        format!("o{n}")
    }

    fn collate(&self, string: bool) -> &'static str {
        if string && self.d == Dialect::Postgres {
            " COLLATE \"C\""
        } else {
            ""
        }
    }

    fn order_list(&self, keys: &[OrderKey], q: &str) -> String {
        keys.iter()
            .map(|k| {
                format!(
                    "{q}{}{} {} NULLS LAST",
                    k.col,
                    self.collate(k.string),
                    if k.desc { "DESC" } else { "ASC" }
                )
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn order_by(&self, keys: &[OrderKey], q: &str) -> String {
        if keys.is_empty() {
            String::new()
        } else {
            format!(" ORDER BY {}", self.order_list(keys, q))
        }
    }

    /// A grouping key: arrays are JSON text in SQLite, normalized so `[1,2]` and `[1, 2]`
    /// group together (PostgreSQL's `jsonb` is canonical already).
    fn group_key(&self, sql: String, ty: &Type) -> String {
        if ty.is_array() && self.d == Dialect::Sqlite {
            format!("json({sql})")
        } else {
            sql
        }
    }

    fn lower(&self, e: &str) -> String {
        match self.d {
            Dialect::Sqlite => format!("lower({e})"),
            Dialect::Postgres => format!("translate({e}, '{UPPER}', '{LOWER}')"),
        }
    }

    // ---- plans -----------------------------------------------------------------------------

    fn plan(&mut self, plan: &Plan) -> Result<Rel, QueryError> {
        let object = plan.object;
        let cols: Vec<String> = object
            .fields
            .iter()
            .enumerate()
            .map(|(i, f)| format!("{} AS c{i}", quote(f.name)))
            .collect();
        let mut conds = Vec::new();
        if let Some(from) = &plan.from {
            let b = self.expr(from, "")?;
            conds.push(format!("{} >= {b}", quote(object.window.1)));
        }
        if let Some(to) = &plan.to {
            let b = self.expr(to, "")?;
            conds.push(format!("{} < {b}", quote(object.window.0)));
        }
        let stages = self.narrow(plan, &mut conds)?;
        let mut body = format!("SELECT {} FROM {}", cols.join(", "), quote(object.view));
        if !conds.is_empty() {
            let _ = write!(body, " WHERE {}", conds.join(" AND "));
        }
        let mut rel = Rel {
            name: self.cte(body),
            types: object.fields.iter().map(|f| f.ty.ty()).collect(),
            order: Vec::new(),
        };
        for stage in stages {
            rel = self.stage(stage, rel)?;
        }
        Ok(rel)
    }

    /// Moves the filters right after `fetch` that read only the object's [`Narrowing`] fields
    /// into a key condition on the smaller view (`"$component" IN (SELECT … FROM q_components
    /// WHERE …)`): the same rows, found through an index instead of a scan of every instance.
    /// Returns the stages left to compile.
    fn narrow<'p>(
        &mut self,
        plan: &'p Plan,
        conds: &mut Vec<String>,
    ) -> Result<&'p [Stage], QueryError> {
        let object = plan.object;
        let Some(narrowing) = &object.narrowing else {
            return Ok(&plan.stages);
        };
        let fields: Vec<usize> = narrowing
            .fields
            .iter()
            .filter_map(|f| object.position(f))
            .collect();
        let mut stages = plan.stages.as_slice();
        let mut pushed = Vec::new();
        while let Some((Stage::Filter { pred, negate }, rest)) = stages.split_first() {
            if !reads_only(pred, &fields) {
                break;
            }
            pushed.push(self.filter_cond(pred, *negate)?);
            stages = rest;
        }
        if !pushed.is_empty() {
            let cols: Vec<String> = fields
                .iter()
                .filter_map(|&i| {
                    object
                        .fields
                        .get(i)
                        .map(|f| format!("{} AS c{i}", quote(f.name)))
                })
                .collect();
            let key = quote(narrowing.key);
            conds.push(format!(
                "{key} IN (SELECT k FROM (SELECT {key} AS k, {} FROM {}) AS n WHERE {})",
                cols.join(", "),
                quote(narrowing.view),
                pushed.join(" AND ")
            ));
        }
        Ok(stages)
    }

    /// The condition of `filter` (`filterOut`: where the predicate is not true).
    fn filter_cond(&mut self, pred: &TExpr, negate: bool) -> Result<String, QueryError> {
        let p = self.expr(pred, "")?;
        Ok(if negate {
            format!("({p}) IS NOT TRUE")
        } else {
            p
        })
    }

    fn stage(&mut self, stage: &Stage, rel: Rel) -> Result<Rel, QueryError> {
        Ok(match stage {
            Stage::Filter { pred, negate } => {
                let cond = self.filter_cond(pred, *negate)?;
                let body = format!(
                    "SELECT {} FROM {} WHERE {cond}",
                    rel.pass("").join(", "),
                    rel.name
                );
                Rel {
                    name: self.cte(body),
                    ..rel
                }
            }
            Stage::Project(exprs) => {
                let mut cols = Vec::new();
                for (i, e) in exprs.iter().enumerate() {
                    cols.push(format!("{} AS c{i}", self.expr(e, "")?));
                }
                cols.extend(rel.order.iter().map(|o| o.col.clone()));
                let body = format!(
                    "SELECT {} FROM {}",
                    if cols.is_empty() {
                        "NULL AS c".into()
                    } else {
                        cols.join(", ")
                    },
                    rel.name
                );
                Rel {
                    name: self.cte(body),
                    types: exprs.iter().map(|e| e.ty.clone()).collect(),
                    order: rel.order,
                }
            }
            Stage::Sort(specs) => {
                let mut cols = rel.pass("");
                let mut order = Vec::new();
                for s in specs {
                    let col = self.order_key();
                    cols.push(format!("{} AS {col}", self.expr(&s.expr, "")?));
                    order.push(OrderKey {
                        col,
                        desc: s.desc,
                        string: s.expr.ty == Type::String,
                    });
                }
                // Stable: earlier order keys break ties.
                order.extend(rel.order.iter().cloned());
                let body = format!("SELECT {} FROM {}", cols.join(", "), rel.name);
                Rel {
                    name: self.cte(body),
                    types: rel.types,
                    order,
                }
            }
            Stage::Limit(n) => {
                let p = self.param(SqlParam::Integer(i64::try_from(*n).unwrap_or(i64::MAX)));
                let body = format!(
                    "SELECT {} FROM {}{} LIMIT {p}",
                    rel.pass("").join(", "),
                    rel.name,
                    self.order_by(&rel.order, "")
                );
                Rel {
                    name: self.cte(body),
                    ..rel
                }
            }
            Stage::Dedup { keys, order } => {
                let mut cols = rel.pass("");
                for (i, k) in keys.iter().enumerate() {
                    let key = self.expr(k, "")?;
                    cols.push(format!("{} AS d{i}", self.group_key(key, &k.ty)));
                }
                let mut window_order = Vec::new();
                for (i, s) in order.iter().enumerate() {
                    cols.push(format!("{} AS ds{i}", self.expr(&s.expr, "")?));
                    window_order.push(OrderKey {
                        col: format!("ds{i}"),
                        desc: s.desc,
                        string: s.expr.ty == Type::String,
                    });
                }
                window_order.extend(rel.order.iter().cloned());
                let pre = self.cte(format!("SELECT {} FROM {}", cols.join(", "), rel.name));
                let partition: Vec<String> = (0..keys.len()).map(|i| format!("d{i}")).collect();
                let ranked = self.cte(format!(
                    "SELECT {}, ROW_NUMBER() OVER (PARTITION BY {}{}) AS rn FROM {pre}",
                    rel.pass("").join(", "),
                    partition.join(", "),
                    self.order_by(&window_order, "")
                ));
                let body = format!(
                    "SELECT {} FROM {ranked} WHERE rn = 1",
                    rel.pass("").join(", ")
                );
                Rel {
                    name: self.cte(body),
                    ..rel
                }
            }
            Stage::Summarize { groups, aggs } => self.summarize(groups, aggs, rel)?,
            Stage::Expand { col, elem } => {
                let mut cols = Vec::new();
                let value = match self.d {
                    Dialect::Sqlite => "e.value".to_string(),
                    Dialect::Postgres => match elem {
                        Type::String => "(e.v #>> '{}')".to_string(),
                        Type::Long | Type::Timestamp | Type::Duration => {
                            "CAST(e.v #>> '{}' AS BIGINT)".to_string()
                        }
                        Type::Double => "CAST(e.v #>> '{}' AS DOUBLE PRECISION)".to_string(),
                        Type::Bool => "CAST(e.v #>> '{}' AS BOOLEAN)".to_string(),
                        _ => "NULL".to_string(),
                    },
                };
                for i in 0..rel.types.len() {
                    cols.push(if i == *col {
                        format!("{value} AS c{i}")
                    } else {
                        format!("p.c{i}")
                    });
                }
                cols.extend(rel.order.iter().map(|o| format!("p.{}", o.col)));
                let mut order = rel.order.clone();
                if !order.is_empty() {
                    let k = self.order_key();
                    let idx = if self.d == Dialect::Sqlite {
                        "e.key"
                    } else {
                        "e.i"
                    };
                    cols.push(format!("{idx} AS {k}"));
                    order.push(OrderKey {
                        col: k,
                        desc: false,
                        string: false,
                    });
                }
                let join = match self.d {
                    Dialect::Sqlite => format!("{} AS p, json_each(p.c{col}) AS e", rel.name),
                    Dialect::Postgres => format!(
                        "{} AS p CROSS JOIN LATERAL jsonb_array_elements(p.c{col}) WITH ORDINALITY AS e(v, i)",
                        rel.name
                    ),
                };
                let mut types = rel.types;
                if let Some(t) = types.get_mut(*col) {
                    *t = elem.clone();
                }
                Rel {
                    name: self.cte(format!("SELECT {} FROM {join}", cols.join(", "))),
                    types,
                    order,
                }
            }
            Stage::Lookup(l) => {
                let sub = self.plan(&l.sub)?;
                let mut cols = vec![format!("c{} AS k", l.lookup_key)];
                for (j, t) in l.take.iter().enumerate() {
                    cols.push(format!("c{t} AS t{j}"));
                }
                let ranked = self.cte(format!(
                    "SELECT {}, ROW_NUMBER() OVER (PARTITION BY c{}{}) AS rn FROM {} WHERE c{} IS NOT NULL",
                    cols.join(", "),
                    l.lookup_key,
                    self.order_by(&sub.order, ""),
                    sub.name,
                    l.lookup_key
                ));
                let n = rel.types.len();
                let mut out: Vec<String> = (0..n).map(|i| format!("p.c{i}")).collect();
                for j in 0..l.take.len() {
                    out.push(format!("l.t{j} AS c{}", n + j));
                }
                out.extend(rel.order.iter().map(|o| format!("p.{}", o.col)));
                let body = format!(
                    "SELECT {} FROM {} AS p LEFT JOIN {ranked} AS l ON l.k = p.c{} AND l.rn = 1",
                    out.join(", "),
                    rel.name,
                    l.source_key
                );
                let mut types = rel.types;
                types.extend(
                    l.take
                        .iter()
                        .map(|&t| sub.types.get(t).cloned().unwrap_or(Type::Null)),
                );
                Rel {
                    name: self.cte(body),
                    types,
                    order: rel.order,
                }
            }
        })
    }

    fn summarize(&mut self, groups: &[TExpr], aggs: &[Agg], rel: Rel) -> Result<Rel, QueryError> {
        let mut cols = Vec::new();
        for (i, g) in groups.iter().enumerate() {
            let key = self.expr(g, "")?;
            cols.push(format!("{} AS g{i}", self.group_key(key, &g.ty)));
        }
        for (i, a) in aggs.iter().enumerate() {
            if let Some(arg) = &a.arg {
                cols.push(format!("{} AS a{i}", self.expr(arg, "")?));
            }
        }
        cols.extend(rel.order.iter().map(|o| o.col.clone()));
        let pre = self.cte(format!(
            "SELECT {} FROM {}",
            if cols.is_empty() {
                "NULL AS x".into()
            } else {
                cols.join(", ")
            },
            rel.name
        ));
        let mut out: Vec<String> = (0..groups.len()).map(|i| format!("g{i} AS c{i}")).collect();
        for (i, a) in aggs.iter().enumerate() {
            out.push(format!(
                "{} AS c{}",
                self.aggregate(a, i, &rel.order),
                groups.len() + i
            ));
        }
        let mut body = format!("SELECT {} FROM {pre}", out.join(", "));
        if !groups.is_empty() {
            let keys: Vec<String> = (0..groups.len()).map(|i| format!("g{i}")).collect();
            let _ = write!(body, " GROUP BY {}", keys.join(", "));
        }
        Ok(Rel {
            name: self.cte(body),
            types: groups
                .iter()
                .map(|g| g.ty.clone())
                .chain(aggs.iter().map(|a| a.ty.clone()))
                .collect(),
            order: Vec::new(),
        })
    }

    fn aggregate(&self, agg: &Agg, i: usize, order: &[OrderKey]) -> String {
        let a = format!("a{i}");
        let aty = agg.arg.as_ref().map_or(Type::Null, |x| x.ty.clone());
        let pg = self.d == Dialect::Postgres;
        let empty_array = if pg { "'[]'::jsonb" } else { "'[]'" };
        if aty == Type::Null && agg.func != AggFunc::Count {
            return match agg.func {
                AggFunc::CountIf | AggFunc::CountDistinct => "0".into(),
                AggFunc::CollectArray | AggFunc::CollectDistinct => empty_array.into(),
                _ => "NULL".into(),
            };
        }
        let string = aty == Type::String;
        let coll = self.collate(string);
        let within = self.order_by(order, "");
        match agg.func {
            AggFunc::Count => "COUNT(*)".into(),
            AggFunc::CountIf => format!("COUNT(CASE WHEN {a} THEN 1 END)"),
            AggFunc::CountDistinct => format!("COUNT(DISTINCT {a})"),
            AggFunc::Min | AggFunc::Max | AggFunc::TakeMax => {
                let max = agg.func != AggFunc::Min;
                match (pg, &aty) {
                    (true, Type::Bool) => {
                        format!("{}({a})", if max { "bool_or" } else { "bool_and" })
                    }
                    _ => format!("{}({a}{coll})", if max { "MAX" } else { "MIN" }),
                }
            }
            AggFunc::Sum => match (pg, &aty) {
                (true, Type::Long | Type::Duration) => format!("CAST(SUM({a}) AS BIGINT)"),
                _ => format!("SUM({a})"),
            },
            AggFunc::Avg => {
                if pg {
                    format!("CAST(AVG({a}) AS DOUBLE PRECISION)")
                } else {
                    format!("AVG({a})")
                }
            }
            AggFunc::CollectDistinct => {
                if pg {
                    format!(
                        "COALESCE(jsonb_agg(DISTINCT {a}{coll} ORDER BY {a}{coll}) FILTER (WHERE {a} IS NOT NULL), {empty_array})"
                    )
                } else {
                    format!(
                        "json_group_array(DISTINCT {a} ORDER BY {a}) FILTER (WHERE {a} IS NOT NULL)"
                    )
                }
            }
            AggFunc::CollectArray => {
                if pg {
                    format!(
                        "COALESCE(jsonb_agg({a}{within}) FILTER (WHERE {a} IS NOT NULL), {empty_array})"
                    )
                } else {
                    format!("json_group_array({a}{within}) FILTER (WHERE {a} IS NOT NULL)")
                }
            }
            AggFunc::TakeFirst => {
                if pg {
                    format!("(array_agg({a}{within}))[1]")
                } else {
                    format!("(json_group_array({a}{within}) ->> '$[0]')")
                }
            }
        }
    }

    // ---- expressions -----------------------------------------------------------------------

    fn lit(&mut self, v: &Value) -> String {
        match v {
            Value::Null => "NULL".into(),
            Value::Bool(b) => self.param(SqlParam::Bool(*b)),
            Value::Long(n) | Value::Timestamp(n) | Value::Duration(n) => {
                self.param(SqlParam::Integer(*n))
            }
            Value::Double(x) => self.param(SqlParam::Real(*x)),
            Value::String(s) => self.param(SqlParam::Text(s.clone())),
            Value::Array(items) => {
                let parts: Vec<String> = items.iter().map(|i| self.lit(i)).collect();
                self.array_sql(&parts)
            }
        }
    }

    fn array_sql(&self, parts: &[String]) -> String {
        match self.d {
            Dialect::Sqlite => format!("json_array({})", parts.join(", ")),
            Dialect::Postgres => format!("jsonb_build_array({})", parts.join(", ")),
        }
    }

    /// Compiles an expression; columns are `{q}c{i}`.
    fn expr(&mut self, e: &TExpr, q: &str) -> Result<String, QueryError> {
        Ok(match &e.kind {
            TKind::Lit(v) => self.lit(v),
            TKind::Col(i) => format!("{q}c{i}"),
            TKind::Now => self.param(SqlParam::Integer(self.now)),
            TKind::Array(items) => {
                let mut parts = Vec::new();
                for i in items {
                    parts.push(self.expr(i, q)?);
                }
                self.array_sql(&parts)
            }
            TKind::Not(a) => format!("(NOT {})", self.expr(a, q)?),
            TKind::Neg(a) => format!("(- {})", self.expr(a, q)?),
            TKind::And(a, b) => format!("({} AND {})", self.expr(a, q)?, self.expr(b, q)?),
            TKind::Or(a, b) => format!("({} OR {})", self.expr(a, q)?, self.expr(b, q)?),
            TKind::Cmp(op, a, b) => {
                let string = a.ty == Type::String || b.ty == Type::String;
                let ordering = !matches!(op, CmpOp::Eq | CmpOp::Ne);
                let coll = if ordering { self.collate(string) } else { "" };
                let sym = match op {
                    CmpOp::Eq => "=",
                    CmpOp::Ne => "<>",
                    CmpOp::Lt => "<",
                    CmpOp::Le => "<=",
                    CmpOp::Gt => ">",
                    CmpOp::Ge => ">=",
                };
                format!("({}{coll} {sym} {})", self.expr(a, q)?, self.expr(b, q)?)
            }
            TKind::Arith(op, a, b) => {
                let (x, y) = (self.expr(a, q)?, self.expr(b, q)?);
                let real = match self.d {
                    Dialect::Sqlite => "REAL",
                    Dialect::Postgres => "DOUBLE PRECISION",
                };
                match op {
                    ArithOp::Add => format!("({x} + {y})"),
                    ArithOp::Sub => format!("({x} - {y})"),
                    ArithOp::Mul => format!("({x} * {y})"),
                    ArithOp::Div => {
                        format!("(CAST({x} AS {real}) / NULLIF(CAST({y} AS {real}), 0))")
                    }
                    ArithOp::Rem => format!("({x} % NULLIF({y}, 0))"),
                }
            }
            TKind::Call(func, args) => self.call(func, args, q)?,
        })
    }

    fn call(&mut self, func: &Func, args: &[TExpr], q: &str) -> Result<String, QueryError> {
        let mut a = Vec::with_capacity(args.len());
        for x in args {
            a.push(self.expr(x, q)?);
        }
        let arg = |i: usize| a.get(i).cloned().unwrap_or_else(|| "NULL".into());
        let pg = self.d == Dialect::Postgres;
        Ok(match func {
            Func::Contains { ci } | Func::StartsWith { ci } | Func::EndsWith { ci } => {
                let (mut s, mut t) = (arg(0), arg(1));
                if *ci {
                    s = self.lower(&s);
                    t = self.lower(&t);
                }
                let find = if pg { "strpos" } else { "instr" };
                match func {
                    Func::Contains { .. } => format!("({find}({s}, {t}) > 0)"),
                    Func::StartsWith { .. } => format!("({find}({s}, {t}) = 1)"),
                    _ if pg => format!("(right({s}, length({t})) = {t})"),
                    _ => format!("(substr({s}, length({s}) - length({t}) + 1) = {t})"),
                }
            }
            Func::MatchesValue { pattern } => {
                let mut like = String::new();
                for c in pattern.chars() {
                    match c {
                        '*' => like.push('%'),
                        '%' | '_' | '\\' => {
                            like.push('\\');
                            like.push(c);
                        }
                        c => like.push(c.to_ascii_lowercase()),
                    }
                }
                let p = self.param(SqlParam::Text(like));
                let test = |this: &Self, v: &str| format!("{} LIKE {p} ESCAPE '\\'", this.lower(v));
                self.any_string(args.first(), &arg(0), test)
            }
            Func::MatchesPhrase { phrase } => {
                let lowered = phrase.to_ascii_lowercase();
                let pattern = if pg {
                    // Explicit classes: PostgreSQL ranges follow the collation.
                    let boundary = "[^abcdefghijklmnopqrstuvwxyz0123456789]";
                    let mut r = String::from(boundary);
                    for c in lowered.chars() {
                        if c.is_ascii_punctuation() || c == ' ' {
                            r.push('\\');
                        }
                        r.push(c);
                    }
                    r.push_str(boundary);
                    r
                } else {
                    let mut g = String::from("*[^a-z0-9]");
                    for c in lowered.chars() {
                        match c {
                            '*' => g.push_str("[*]"),
                            '?' => g.push_str("[?]"),
                            '[' => g.push_str("[[]"),
                            c => g.push(c),
                        }
                    }
                    g.push_str("[^a-z0-9]*");
                    g
                };
                let p = self.param(SqlParam::Text(pattern));
                let test = |this: &Self, v: &str| {
                    let padded = format!("(' ' || {} || ' ')", this.lower(v));
                    if this.d == Dialect::Postgres {
                        format!("{padded} ~ {p}")
                    } else {
                        format!("{padded} GLOB {p}")
                    }
                };
                self.any_string(args.first(), &arg(0), test)
            }
            Func::Lower => self.lower(&arg(0)),
            Func::Upper => match self.d {
                Dialect::Sqlite => format!("upper({})", arg(0)),
                Dialect::Postgres => format!("translate({}, '{LOWER}', '{UPPER}')", arg(0)),
            },
            Func::Concat => {
                let mut parts = Vec::new();
                for (x, sql) in args.iter().zip(&a) {
                    parts.push(match x.ty {
                        Type::Null => continue,
                        Type::Bool => format!("COALESCE(CASE WHEN {sql} THEN 'true' WHEN NOT {sql} THEN 'false' END, '')"),
                        Type::Long => format!("COALESCE(CAST({sql} AS TEXT), '')"),
                        _ => format!("COALESCE({sql}, '')"),
                    });
                }
                if parts.is_empty() {
                    "''".into()
                } else {
                    format!("({})", parts.join(" || "))
                }
            }
            Func::IsNull => format!("({} IS NULL)", arg(0)),
            Func::IsNotNull => format!("({} IS NOT NULL)", arg(0)),
            Func::Coalesce => {
                if a.len() == 1 {
                    format!("({})", arg(0))
                } else {
                    format!("COALESCE({})", a.join(", "))
                }
            }
            Func::If => format!("(CASE WHEN {} THEN {} ELSE {} END)", arg(0), arg(1), arg(2)),
            Func::InList => {
                let items = a.get(1..).unwrap_or_default().join(", ");
                format!("({} IN ({items}))", arg(0))
            }
            Func::InArray => {
                let (v, arr) = (arg(0), arg(1));
                let exists = if pg {
                    format!(
                        "EXISTS (SELECT 1 FROM jsonb_array_elements({arr}) AS e(x) WHERE e.x = to_jsonb({v}))"
                    )
                } else {
                    format!("EXISTS (SELECT 1 FROM json_each({arr}) WHERE value = {v})")
                };
                format!("(CASE WHEN {v} IS NULL OR {arr} IS NULL THEN NULL ELSE {exists} END)")
            }
        })
    }

    /// A string predicate on a string, or on any element of an array of strings.
    fn any_string(
        &self,
        arg: Option<&TExpr>,
        sql: &str,
        test: impl Fn(&Self, &str) -> String,
    ) -> String {
        let is_array = arg.is_some_and(|a| a.ty.is_array());
        if !is_array {
            return format!("({})", test(self, sql));
        }
        let (from, elem) = match self.d {
            Dialect::Sqlite => (format!("json_each({sql})"), "value".to_string()),
            Dialect::Postgres => (
                format!("jsonb_array_elements_text({sql}) AS e(v)"),
                "e.v".to_string(),
            ),
        };
        format!(
            "(CASE WHEN {sql} IS NULL THEN NULL ELSE EXISTS (SELECT 1 FROM {from} WHERE {}) END)",
            test(self, &elem)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sql(src: &str, dialect: Dialect) -> String {
        let plan = crate::prepare(src).unwrap_or_else(|e| panic!("{}", e.render(src)));
        let options = CompileOptions {
            dialect,
            now: 0,
            default_limit: 1000,
        };
        compile(&plan, &options)
            .unwrap_or_else(|e| panic!("{}", e.render(src)))
            .sql
    }

    /// Which filters run on `q_components`: only leading ones that read component fields.
    /// (That the rows are the same is the conformance table's job: its fixture gives every row
    /// a key of its own.)
    #[test]
    fn leading_component_filters_run_on_the_components() {
        // (query, pushed into q_components, filter stages left on the instances)
        let cases = [
            (
                r#"fetch dt.entity.software_component | filter contains(softwareComponentShortName, "debug") | fieldsAdd softwareComponentType"#,
                true,
                0,
            ),
            (
                r#"fetch software_components | filter name == "x" | filterOut ecosystem == "npm" or startsWith(purl, "pkg:") | filter matchesValue(version, "1.*")"#,
                true,
                0,
            ),
            (
                r#"fetch software_components | filter name == "x" | filter host.name == "a""#,
                true,
                1,
            ),
            (
                r#"fetch software_components | filter host.name == "a" | filter name == "x""#,
                false,
                2,
            ),
            (
                r#"fetch software_components | filter contains(name, "a") or host.name == "b""#,
                false,
                1,
            ),
            (
                r#"fetch software_components | fields name | filter name == "x""#,
                false,
                1,
            ),
            (r#"fetch advisories | filter name == "x""#, false, 1),
        ];
        for (src, pushed, left) in cases {
            for dialect in [Dialect::Sqlite, Dialect::Postgres] {
                let sql = sql(src, dialect);
                assert_eq!(
                    sql.contains(r#""$component" IN (SELECT k FROM (SELECT "$component" AS k"#),
                    pushed,
                    "{dialect:?} {src}\n{sql}"
                );
                let filters = sql.matches(" WHERE ").count() - usize::from(pushed) * 2;
                assert_eq!(filters, left, "{dialect:?} {src}\n{sql}");
            }
        }
    }
}
