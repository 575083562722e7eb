//! # vigil-query
//!
//! vigil's query language: a DQL-compatible subset of pipe queries (PRODUCT.md §4), used by
//! `vigil query`, `POST /api/v1/query` and the workflows' trigger filters.
//!
//! ```text
//! text ──lexer──► tokens ──parser──► ast ──check──► Plan ──sql::compile──► SQL + params ─► store
//!                                                      └──eval::run────► rows in memory
//! ```
//!
//! - [`parse_pipeline`] / [`parse_expr`]: syntax, with a span on every node;
//! - [`check`] / [`check_expr`]: names, scopes and types against the [`catalog`], errors with
//!   nearest-name hints; the resulting [`Plan`] is all either back end sees;
//! - [`sql::compile`]: one parameterized `SELECT` for SQLite or PostgreSQL over the views the
//!   store provides (the contract is in [`catalog`]);
//! - [`eval`]: the same semantics in memory — one event for a trigger ([`Predicate`]), or a
//!   whole pipeline over records ([`eval::run`]);
//! - [`QueryError`]: message + span + hint, rendered like a compiler or as JSON.
//!
//! What this crate is not: a store. It never opens a database; it produces SQL and decodes the
//! rows a store hands back ([`sql::CompiledQuery::decode`]).
//!
//! The parser is hand-written recursive descent rather than chumsky + ariadne: the grammar is
//! small (one precedence ladder, a dozen command shapes), a hand-written parser gives exact
//! spans and tailored messages ("comparisons do not chain", "did you mean `filter`?") without
//! fighting a combinator library's error type, it is faster to compile on a 2-core machine,
//! and it lets us bound nesting explicitly so hostile input never overflows the stack.
//! Error rendering (source line, caret span, hint) is ~60 lines and needs no crate either.
//!
//! Deliberate deviations from DQL (each so that SQLite, PostgreSQL and memory agree exactly):
//! case-insensitive matching and `lower`/`upper` fold ASCII only; `collectDistinct` returns its
//! values in ascending order; `matchesPhrase` matches the phrase between non-alphanumeric
//! characters rather than with DQL's tokenizer; `expand` drops records whose array is null or
//! empty; nulls sort last in both directions.

pub mod ast;
pub mod catalog;
pub mod check;
pub mod error;
pub mod eval;
pub mod lexer;
pub mod parser;
pub mod plan;
pub mod result;
pub mod sql;
pub mod time;
pub mod value;

pub use check::{check, check_expr};
pub use error::{ErrorKind, QueryError, Span};
pub use parser::{parse_expr, parse_pipeline};
pub use plan::{Column, Plan};
pub use result::{QueryResult, SqlValue};
pub use value::{Type, Value};

use catalog::DataObject;

/// Parses and checks a query.
pub fn prepare(src: &str) -> Result<Plan, QueryError> {
    check(&parse_pipeline(src)?)
}

/// A checked boolean expression over the records of one data object: a workflow trigger
/// (`event.type == "VULNERABILITY_FINDING" and …` over `security.events`) or an owner rule.
#[derive(Clone, Debug)]
pub struct Predicate {
    expr: plan::TExpr,
    object: &'static DataObject,
}

impl Predicate {
    /// Parses and checks `src` against `object`'s fields; it must be boolean.
    pub fn new(src: &str, object: &'static DataObject) -> Result<Predicate, QueryError> {
        let ast = parse_expr(src)?;
        let expr = check_expr(&ast, object)?;
        if !matches!(expr.ty, Type::Bool | Type::Null) {
            return Err(QueryError::new(
                ErrorKind::Type,
                ast.span,
                format!("a filter must be a boolean condition, found {}", expr.ty),
            ));
        }
        Ok(Predicate { expr, object })
    }

    /// The condition's value for one record (true, false, or null when unknown).
    pub fn eval(&self, record: &serde_json::Value, now: i64) -> Result<Value, QueryError> {
        eval::eval_record(&self.expr, self.object, record, &eval::EvalContext { now })
    }

    /// Does the record match (is the condition true, not false or null)?
    pub fn matches(&self, record: &serde_json::Value, now: i64) -> Result<bool, QueryError> {
        Ok(self.eval(record, now)? == Value::Bool(true))
    }
}
