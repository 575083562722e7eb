//! The checked plan: what the checker hands to both back ends (the SQL compiler and the
//! in-memory evaluator), so that they cannot disagree about names, types or scoping.
//!
//! A plan is a source (a data object and its time window) and a list of stages. Every stage
//! maps rows of a known layout to rows of a new layout; expressions refer to input columns by
//! position ([`TKind::Col`]). Names only exist in [`Plan::columns`] (the final layout), so the
//! SQL never contains a user-written name.

use crate::catalog::DataObject;
use crate::error::Span;
use crate::value::{Type, Value};

/// A checked query.
#[derive(Clone, Debug)]
pub struct Plan {
    /// The data object fetched; the first layout is its fields in catalogue order.
    pub object: &'static DataObject,
    /// `from:` bound (a timestamp-typed expression), if any.
    pub from: Option<TExpr>,
    /// `to:` bound, if any.
    pub to: Option<TExpr>,
    /// Stages in order.
    pub stages: Vec<Stage>,
    /// Names and types of the output columns.
    pub columns: Vec<Column>,
    /// Whether the pipeline has its own top-level `limit` (then no default cap applies).
    pub has_limit: bool,
}

/// A named, typed output column.
#[derive(Clone, Debug, PartialEq)]
pub struct Column {
    /// The field name shown to the user.
    pub name: String,
    /// Its type.
    pub ty: Type,
}

/// One step of the pipeline.
#[derive(Clone, Debug)]
pub enum Stage {
    /// Keeps rows where `pred` is true (`negate`: where it is not true — `filterOut`).
    Filter {
        /// Predicate.
        pred: TExpr,
        /// `filterOut`.
        negate: bool,
    },
    /// New layout: one expression per output column.
    Project(Vec<TExpr>),
    /// Stable sort.
    Sort(Vec<SortSpec>),
    /// First N rows.
    Limit(u64),
    /// First row (by `order`, else by input order) per distinct key.
    Dedup {
        /// Key expressions.
        keys: Vec<TExpr>,
        /// Which row is first.
        order: Vec<SortSpec>,
    },
    /// Groups and aggregates; output layout = groups ++ aggs.
    Summarize {
        /// Group key expressions.
        groups: Vec<TExpr>,
        /// Aggregations.
        aggs: Vec<Agg>,
    },
    /// One row per element of the array in column `col` (rows with null or empty arrays go);
    /// the column takes the element's value.
    Expand {
        /// Column to expand.
        col: usize,
        /// Element type.
        elem: Type,
    },
    /// Left join with the first matching row of a subquery; output = input ++ `take`.
    Lookup(Box<LookupPlan>),
}

/// The join of a `lookup`.
#[derive(Clone, Debug)]
pub struct LookupPlan {
    /// The lookup table.
    pub sub: Plan,
    /// Key column in the input.
    pub source_key: usize,
    /// Key column in the subquery's output.
    pub lookup_key: usize,
    /// Subquery columns appended to each row.
    pub take: Vec<usize>,
}

/// `expr asc|desc`. Nulls sort last in both directions.
#[derive(Clone, Debug)]
pub struct SortSpec {
    /// Key.
    pub expr: TExpr,
    /// Descending?
    pub desc: bool,
}

/// An aggregation of `summarize`.
#[derive(Clone, Debug)]
pub struct Agg {
    /// Which.
    pub func: AggFunc,
    /// Its argument (none for `count()`).
    pub arg: Option<TExpr>,
    /// Result type.
    pub ty: Type,
}

/// Aggregation functions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AggFunc {
    /// Rows.
    Count,
    /// Rows where the argument is true.
    CountIf,
    /// Distinct non-null values.
    CountDistinct,
    /// Smallest non-null value.
    Min,
    /// Largest non-null value.
    Max,
    /// Sum of non-null values (null when none).
    Sum,
    /// Mean of non-null values (null when none).
    Avg,
    /// Distinct non-null values as an array, ascending.
    CollectDistinct,
    /// Non-null values as an array, in row order.
    CollectArray,
    /// The value of the first row (in row order; may be null).
    TakeFirst,
    /// Largest non-null value.
    TakeMax,
}

/// A typed expression.
#[derive(Clone, Debug)]
pub struct TExpr {
    /// What it computes.
    pub kind: TKind,
    /// Its type.
    pub ty: Type,
    /// Where it is written.
    pub span: Span,
}

/// Typed expression forms.
#[derive(Clone, Debug)]
pub enum TKind {
    /// A constant.
    Lit(Value),
    /// Input column by position.
    Col(usize),
    /// `now()`: the query's evaluation time.
    Now,
    /// `[a, b]`.
    Array(Vec<TExpr>),
    /// `not x`.
    Not(Box<TExpr>),
    /// `-x`.
    Neg(Box<TExpr>),
    /// `a and b`.
    And(Box<TExpr>, Box<TExpr>),
    /// `a or b`.
    Or(Box<TExpr>, Box<TExpr>),
    /// Comparison.
    Cmp(CmpOp, Box<TExpr>, Box<TExpr>),
    /// Arithmetic.
    Arith(ArithOp, Box<TExpr>, Box<TExpr>),
    /// A scalar function.
    Call(Func, Vec<TExpr>),
}

/// Comparison operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// Arithmetic operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArithOp {
    Add,
    Sub,
    Mul,
    Div,
    Rem,
}

/// Scalar functions, with their compile-time arguments resolved.
#[derive(Clone, Debug, PartialEq)]
pub enum Func {
    /// `contains(s, sub)`; `ci`: ASCII case-insensitive.
    Contains { ci: bool },
    /// `startsWith(s, prefix)`.
    StartsWith { ci: bool },
    /// `endsWith(s, suffix)`.
    EndsWith { ci: bool },
    /// `matchesValue(s|array, "pat*tern")`: whole value, `*` wildcard, ASCII case-insensitive.
    MatchesValue { pattern: String },
    /// `matchesPhrase(s|array, "phrase")`: the phrase bounded by non-alphanumerics,
    /// ASCII case-insensitive.
    MatchesPhrase { phrase: String },
    /// `lower(s)` (ASCII).
    Lower,
    /// `upper(s)` (ASCII).
    Upper,
    /// `concat(a, …)`: nulls count as empty.
    Concat,
    /// `isNull(x)`.
    IsNull,
    /// `isNotNull(x)`.
    IsNotNull,
    /// `coalesce(a, …)`.
    Coalesce,
    /// `if(cond, then, else)`: a null condition takes the else branch.
    If,
    /// `in(x, a, b, …)`: SQL `IN` semantics (null when no match and x or any item is null).
    InList,
    /// `in(x, array)`: null when x or the array is null, else whether an element equals x.
    InArray,
}
