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
//! - [`check()`] / [`check_expr`]: names, scopes and types against the [`catalog`], errors with
//!   nearest-name hints; the resulting [`Plan`] is all either back end sees;
//! - [`sql::compile`]: one parameterized `SELECT` for SQLite or PostgreSQL over the views the
//!   store provides (the contract is in [`catalog`]);
//! - [`eval`]: the same semantics in memory — one event for a trigger ([`Predicate`]), or a
//!   whole pipeline over records ([`eval::run`]);
//! - [`QueryError`]: message + span + hint, rendered like a compiler or as JSON.
//!
//! What this crate is not: a store. It never opens a database; it produces SQL and decodes the
//! rows a store hands back. The seam: the store provides one view per data object (contract in
//! [`catalog`]), runs [`sql::CompiledQuery::sql`] with its bound
//! [`params`](sql::CompiledQuery::params), hands the rows back as [`SqlValue`]s to
//! [`sql::CompiledQuery::decode`] and gets a [`QueryResult`] (with `truncated` set when the
//! default limit cut it).
//!
//! ```
//! use vigil_query::sql::{self, CompileOptions, Dialect, SqlParam};
//! use vigil_query::{SqlValue, Value};
//!
//! let plan = vigil_query::prepare(r#"fetch software_components | filter name == "debug" | fields host.name"#)?;
//! let q = sql::compile(&plan, &CompileOptions { dialect: Dialect::Sqlite, now: 0, default_limit: 1000 })?;
//! assert!(q.sql.contains(r#"FROM "q_software_components""#));
//! assert_eq!(q.params[0], SqlParam::Text("debug".into()));
//! // … the store runs q.sql with q.params …
//! let result = q.decode(vec![vec![SqlValue::Text("web-1".into())]])?;
//! assert_eq!(result.records, [[Value::String("web-1".into())]]);
//! assert!(!result.truncated);
//! # Ok::<(), vigil_query::QueryError>(())
//! ```
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn predicates_for_workflows_and_owners() {
        let trigger = Predicate::new(
            r#"event.type == "VULNERABILITY_FINDING" and in("CWE-506", vulnerability.references.cwe) and finding.status == "NEW""#,
            &catalog::SECURITY_EVENTS,
        )
        .unwrap();
        let owner = Predicate::new(
            r#"k8s.namespace.name == "payments" or startsWith(host.name, "pay-")"#,
            &catalog::SECURITY_EVENTS,
        )
        .unwrap();
        let event = json!({"event.type": "VULNERABILITY_FINDING", "vulnerability.references.cwe": ["CWE-506"], "finding.status": "NEW", "host.name": "pay-db-1"});
        assert!(trigger.matches(&event, 0).unwrap());
        assert!(owner.matches(&event, 0).unwrap());
        let other = json!({"host.name": "web-1"});
        assert!(!trigger.matches(&other, 0).unwrap());
        assert_eq!(owner.eval(&other, 0).unwrap(), Value::Null);
        let err = Predicate::new("host.name", &catalog::SECURITY_EVENTS).unwrap_err();
        assert!(err.message.contains("boolean condition"));
        let err = Predicate::new("hostname == \"x\"", &catalog::SECURITY_EVENTS).unwrap_err();
        assert_eq!(err.hint.as_deref(), Some("did you mean `host.name`?"));
    }

    proptest! {
        /// Any token soup that parses also checks, compiles and runs without panicking.
        #[test]
        fn whole_pipeline_never_panics(parts in proptest::collection::vec(prop_oneof![
            Just("fetch"), Just("software_components"), Just("security.events"), Just("|"), Just("filter"),
            Just("fields"), Just("fieldsAdd"), Just("summarize"), Just("sort"), Just("dedup"), Just("expand"),
            Just("limit"), Just("lookup"), Just("[fetch hosts]"), Just("sourceField:"), Just("lookupField:"),
            Just("host.name"), Just("name"), Just("process.pids"), Just("dev"), Just("last_seen"),
            Just("count()"), Just("by:{name}"), Just("("), Just(")"), Just(","), Just("="), Just("=="),
            Just("<"), Just("+"), Just("/"), Just("-"), Just("and"), Just("or"), Just("not"), Just("null"),
            Just("1"), Just("0"), Just("2.5"), Just("-2h"), Just("\"x\""), Just("lower"), Just("in"),
            Just("contains"), Just("coalesce"), Just("if"), Just("now()"), Just("desc"), Just("9223372036854775807"),
        ], 1..30)) {
            let src = parts.join(" ");
            if let Ok(plan) = prepare(&src) {
                for dialect in [sql::Dialect::Sqlite, sql::Dialect::Postgres] {
                    let _ = sql::compile(&plan, &sql::CompileOptions { dialect, now: 0, default_limit: 10 });
                }
                let mut store = eval::MemoryStore::new();
                store.insert(&catalog::SOFTWARE_COMPONENTS, vec![json!({"name": "a", "process.pids": [1, 2], "dev": true}), json!({})]);
                store.insert(&catalog::SECURITY_EVENTS, vec![json!({"host.name": "h"}), json!({"host.name": null})]);
                store.insert(&catalog::HOSTS, vec![json!({"host.name": "h"})]);
                let _ = eval::run(&plan, &store, &eval::RunOptions::at(0));
            }
        }
    }
}
