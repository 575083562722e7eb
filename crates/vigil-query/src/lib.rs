//! # vigil-query
//!
//! vigil's query language: a DQL-compatible subset of pipe queries (PRODUCT.md §4), used by
//! `vigil query`, `POST /api/v1/query` and the workflows' trigger filters.
//!
//! The parser is hand-written recursive descent rather than chumsky + ariadne: the grammar is
//! small (one precedence ladder, a dozen command shapes), a hand-written parser gives exact
//! spans and tailored messages ("comparisons do not chain", "did you mean `filter`?") without
//! fighting a combinator library's error type, it is faster to compile on a 2-core machine,
//! and it lets us bound nesting explicitly so hostile input never overflows the stack.
//! Error rendering (source line, caret span, hint) is ~60 lines and needs no crate either.
pub mod ast;
pub mod catalog;
pub mod check;
pub mod error;
pub mod lexer;
pub mod parser;
pub mod plan;
pub mod time;
pub mod value;

pub use check::{check, check_expr};
pub use error::{ErrorKind, QueryError, Span};
pub use parser::{parse_expr, parse_pipeline};
pub use plan::{Column, Plan};
pub use value::{Type, Value};
