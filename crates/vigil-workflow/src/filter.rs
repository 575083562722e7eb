//! The trigger-filter seam: workflow `filter`s and owner `match`es are expressions in the query
//! language, evaluated against one security event.
//!
//! This crate does not parse the query language; [`FilterCompiler`] is implemented over
//! `vigil-query`'s in-memory evaluator (`Predicate` over `security.events`) where the binary
//! wires things together. [`StandInFilters`] is a deliberately tiny subset used by this crate's
//! tests and as a fallback; it is not the product's filter language.

use std::fmt;
use std::ops::Range;

use serde_json::Value;

/// A compiled condition over one event.
pub trait TriggerFilter: Send + Sync + fmt::Debug {
    /// Is the condition true for this event? False and null (unknown) both mean "no".
    fn matches(&self, event: &Value) -> bool;
}

/// Compiles filter source text; errors point at the offending span.
pub trait FilterCompiler: Send + Sync {
    /// Compiles `source` or says where and why it is wrong.
    fn compile(&self, source: &str) -> Result<Box<dyn TriggerFilter>, FilterError>;
}

/// A filter that does not compile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FilterError {
    /// What is wrong.
    pub message: String,
    /// Byte range in the source.
    pub span: Range<usize>,
    /// How to fix it, when known (`did you mean ...`).
    pub hint: Option<String>,
}

impl FilterError {
    /// Renders the error with the source line and a caret under the span:
    /// ```text
    /// expected a value at 14..16
    ///   event.type == and x
    ///                 ^^^
    /// ```
    pub fn render(&self, source: &str) -> String {
        let start = self.span.start.min(source.len());
        let end = self.span.end.clamp(start, source.len());
        let line_start = source
            .get(..start)
            .and_then(|s| s.rfind('\n'))
            .map_or(0, |i| i + 1);
        let line_end = source
            .get(start..)
            .and_then(|s| s.find('\n'))
            .map_or(source.len(), |i| start + i);
        let line = source.get(line_start..line_end).unwrap_or("");
        let pad = source
            .get(line_start..start)
            .map_or(0, |s| s.chars().count());
        let width = source
            .get(start..end.min(line_end))
            .map_or(1, |s| s.chars().count().max(1));
        let mut out = format!("{} (at {}..{})", self.message, start, end);
        if let Some(hint) = &self.hint {
            out.push_str("; ");
            out.push_str(hint);
        }
        out.push_str("\n    ");
        out.push_str(line);
        out.push_str("\n    ");
        out.push_str(&" ".repeat(pad));
        out.push_str(&"^".repeat(width));
        out
    }
}

/// A stand-in for the query language: `==`, `!=`, `and`, `or`, `not`, parentheses,
/// `in("x", field)` (array membership or equality), `startsWith(field, "x")`,
/// `contains(field, "x")`, string/number/boolean literals and flat dotted field names.
/// Comparisons with a missing field are false (null), as in DQL.
#[derive(Clone, Copy, Debug, Default)]
pub struct StandInFilters;

impl FilterCompiler for StandInFilters {
    fn compile(&self, source: &str) -> Result<Box<dyn TriggerFilter>, FilterError> {
        let tokens = lex(source)?;
        let mut parser = Parser {
            tokens,
            pos: 0,
            depth: 0,
            end: source.len(),
        };
        let expr = parser.or()?;
        if let Some(t) = parser.tokens.get(parser.pos) {
            return Err(FilterError {
                message: format!("unexpected `{}`", t.text),
                span: t.span.clone(),
                hint: Some("expected `and`, `or` or the end of the filter".into()),
            });
        }
        Ok(Box::new(StandInFilter(expr)))
    }
}

#[derive(Debug)]
struct StandInFilter(Expr);

impl TriggerFilter for StandInFilter {
    fn matches(&self, event: &Value) -> bool {
        self.0.eval(event) == Some(true)
    }
}

#[derive(Debug)]
enum Expr {
    Field(String),
    Lit(Value),
    Eq(Box<Expr>, Box<Expr>, bool),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    In(Box<Expr>, Box<Expr>),
    StartsWith(Box<Expr>, Box<Expr>),
    Contains(Box<Expr>, Box<Expr>),
}

impl Expr {
    fn value<'a>(&'a self, event: &'a Value) -> Option<&'a Value> {
        match self {
            Expr::Field(name) => event.get(name).filter(|v| !v.is_null()),
            Expr::Lit(v) => Some(v),
            _ => None,
        }
    }

    /// Three-valued: `None` is null.
    fn eval(&self, event: &Value) -> Option<bool> {
        match self {
            Expr::Field(_) | Expr::Lit(_) => self.value(event).and_then(Value::as_bool),
            Expr::Eq(a, b, equal) => {
                let (a, b) = (a.value(event)?, b.value(event)?);
                Some((a == b) == *equal)
            }
            Expr::And(a, b) => match (a.eval(event), b.eval(event)) {
                (Some(false), _) | (_, Some(false)) => Some(false),
                (Some(true), Some(true)) => Some(true),
                _ => None,
            },
            Expr::Or(a, b) => match (a.eval(event), b.eval(event)) {
                (Some(true), _) | (_, Some(true)) => Some(true),
                (Some(false), Some(false)) => Some(false),
                _ => None,
            },
            Expr::Not(a) => a.eval(event).map(|b| !b),
            Expr::In(needle, hay) => {
                let needle = needle.value(event)?;
                match hay.value(event)? {
                    Value::Array(items) => Some(items.contains(needle)),
                    other => Some(other == needle),
                }
            }
            Expr::StartsWith(s, p) => Some(
                s.value(event)?
                    .as_str()?
                    .starts_with(p.value(event)?.as_str()?),
            ),
            Expr::Contains(s, p) => Some(
                s.value(event)?
                    .as_str()?
                    .contains(p.value(event)?.as_str()?),
            ),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Kind {
    Ident,
    Str(String),
    Num(f64),
    Op,
}

#[derive(Debug, Clone)]
struct Token {
    kind: Kind,
    text: String,
    span: Range<usize>,
}

fn lex(source: &str) -> Result<Vec<Token>, FilterError> {
    let mut tokens = Vec::new();
    let mut chars = source.char_indices().peekable();
    while let Some(&(start, c)) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == '"' || c == '\'' {
            chars.next();
            let mut text = String::new();
            let mut closed = false;
            while let Some((_, d)) = chars.next() {
                match d {
                    '\\' => {
                        if let Some((_, e)) = chars.next() {
                            text.push(e);
                        }
                    }
                    d if d == c => {
                        closed = true;
                        break;
                    }
                    d => text.push(d),
                }
            }
            let end = chars.peek().map_or(source.len(), |&(i, _)| i);
            if !closed {
                return Err(FilterError {
                    message: "unterminated string".into(),
                    span: start..end,
                    hint: None,
                });
            }
            tokens.push(Token {
                kind: Kind::Str(text),
                text: source.get(start..end).unwrap_or("").into(),
                span: start..end,
            });
        } else if c.is_ascii_alphabetic() || c == '_' {
            let mut end = start;
            while let Some(&(i, d)) = chars.peek() {
                if d.is_ascii_alphanumeric() || d == '_' || d == '.' {
                    end = i + d.len_utf8();
                    chars.next();
                } else {
                    break;
                }
            }
            tokens.push(Token {
                kind: Kind::Ident,
                text: source.get(start..end).unwrap_or("").into(),
                span: start..end,
            });
        } else if c.is_ascii_digit() || c == '-' {
            let mut end = start;
            while let Some(&(i, d)) = chars.peek() {
                if d.is_ascii_digit() || d == '.' || (i == start && d == '-') {
                    end = i + 1;
                    chars.next();
                } else {
                    break;
                }
            }
            let text = source.get(start..end).unwrap_or("");
            let n = text.parse::<f64>().map_err(|_| FilterError {
                message: format!("bad number `{text}`"),
                span: start..end,
                hint: None,
            })?;
            tokens.push(Token {
                kind: Kind::Num(n),
                text: text.into(),
                span: start..end,
            });
        } else {
            chars.next();
            let two = source.get(start..start + 2);
            let (text, len) = match (c, two) {
                (_, Some("==")) => ("==", 2),
                (_, Some("!=")) => ("!=", 2),
                ('(' | ')' | ',', _) => (source.get(start..start + 1).unwrap_or(""), 1),
                _ => {
                    return Err(FilterError {
                        message: format!("unexpected character `{}`", c.escape_debug()),
                        span: start..start + c.len_utf8(),
                        hint: None,
                    });
                }
            };
            if len == 2 {
                chars.next();
            }
            tokens.push(Token {
                kind: Kind::Op,
                text: text.into(),
                span: start..start + len,
            });
        }
    }
    Ok(tokens)
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
    depth: usize,
    end: usize,
}

impl Parser {
    fn peek_text(&self) -> Option<&str> {
        self.tokens.get(self.pos).map(|t| t.text.as_str())
    }

    fn error_here(&self, message: &str) -> FilterError {
        let span = self
            .tokens
            .get(self.pos)
            .map_or(self.end..self.end, |t| t.span.clone());
        FilterError {
            message: message.into(),
            span,
            hint: None,
        }
    }

    fn expect(&mut self, text: &str) -> Result<(), FilterError> {
        if self.peek_text() == Some(text) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.error_here(&format!("expected `{text}`")))
        }
    }

    fn or(&mut self) -> Result<Expr, FilterError> {
        let mut left = self.and()?;
        while self.peek_text() == Some("or") {
            self.pos += 1;
            left = Expr::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, FilterError> {
        let mut left = self.unary()?;
        while self.peek_text() == Some("and") {
            self.pos += 1;
            left = Expr::And(Box::new(left), Box::new(self.unary()?));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Expr, FilterError> {
        let mut nots = 0usize;
        while self.peek_text() == Some("not") {
            self.pos += 1;
            nots += 1;
        }
        if nots > 0 {
            let mut e = self.unary()?;
            if nots % 2 == 1 {
                e = Expr::Not(Box::new(e));
            } else {
                e = Expr::Not(Box::new(Expr::Not(Box::new(e))));
            }
            return Ok(e);
        }
        let left = self.atom()?;
        match self.peek_text() {
            Some(op @ ("==" | "!=")) => {
                let equal = op == "==";
                self.pos += 1;
                let right = self.atom()?;
                Ok(Expr::Eq(Box::new(left), Box::new(right), equal))
            }
            _ => Ok(left),
        }
    }

    fn atom(&mut self) -> Result<Expr, FilterError> {
        self.depth += 1;
        if self.depth > 64 {
            return Err(self.error_here("filter nested too deeply"));
        }
        let result = self.atom_inner();
        self.depth -= 1;
        result
    }

    fn atom_inner(&mut self) -> Result<Expr, FilterError> {
        let Some(token) = self.tokens.get(self.pos).cloned() else {
            return Err(self.error_here("expected a value"));
        };
        self.pos += 1;
        match token.kind {
            Kind::Str(s) => Ok(Expr::Lit(Value::String(s))),
            Kind::Num(n) => Ok(Expr::Lit(
                serde_json::Number::from_f64(n).map_or(Value::Null, Value::Number),
            )),
            Kind::Op if token.text == "(" => {
                let e = self.or()?;
                self.expect(")")?;
                Ok(e)
            }
            Kind::Ident if self.peek_text() == Some("(") => {
                self.pos += 1;
                let a = self.or()?;
                self.expect(",")?;
                let b = self.or()?;
                self.expect(")")?;
                let (a, b) = (Box::new(a), Box::new(b));
                match token.text.as_str() {
                    "in" => Ok(Expr::In(a, b)),
                    "startsWith" => Ok(Expr::StartsWith(a, b)),
                    "contains" => Ok(Expr::Contains(a, b)),
                    other => Err(FilterError {
                        message: format!("unknown function `{other}`"),
                        span: token.span,
                        hint: Some("the stand-in knows in, startsWith, contains".into()),
                    }),
                }
            }
            Kind::Ident => match token.text.as_str() {
                "true" => Ok(Expr::Lit(Value::Bool(true))),
                "false" => Ok(Expr::Lit(Value::Bool(false))),
                "and" | "or" | "not" => Err(FilterError {
                    message: format!("expected a value, found `{}`", token.text),
                    span: token.span,
                    hint: None,
                }),
                _ => Ok(Expr::Field(token.text)),
            },
            Kind::Op => Err(FilterError {
                message: format!("expected a value, found `{}`", token.text),
                span: token.span,
                hint: None,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn stand_in_table() {
        let event = json!({
            "event.type": "VULNERABILITY_FINDING",
            "finding.status": "NEW",
            "vulnerability.references.cwe": ["CWE-506"],
            "host.name": "pay-01",
            "risk": 9.5,
        });
        let cases: &[(&str, bool)] = &[
            (r#"event.type == "VULNERABILITY_FINDING""#, true),
            (r#"event.type != "VULNERABILITY_FINDING""#, false),
            (
                r#"event.type == "VULNERABILITY_FINDING" and in("CWE-506", vulnerability.references.cwe) and finding.status == "NEW""#,
                true,
            ),
            (r#"in("CWE-79", vulnerability.references.cwe)"#, false),
            (
                r#"k8s.namespace.name == "payments" or startsWith(host.name, "pay-")"#,
                true,
            ),
            (r#"k8s.namespace.name == "payments""#, false),
            (r#"not (k8s.namespace.name == "payments")"#, false),
            (r#"not finding.status == "ACKNOWLEDGED""#, true),
            ("risk == 9.5", true),
            (r#"contains(host.name, "y-0")"#, true),
        ];
        for (src, want) in cases {
            let f = StandInFilters.compile(src).unwrap();
            assert_eq!(f.matches(&event), *want, "{src}");
        }
    }

    #[test]
    fn stand_in_errors_have_spans() {
        let cases: &[(&str, Range<usize>)] = &[
            ("event.type == ", 14..14),
            ("event.type == and", 14..17),
            (r#"event.type == "x"#, 14..16),
            ("a == b b", 7..8),
            ("frobnicate(a, b)", 0..10),
            ("a = b", 2..3),
        ];
        for (src, span) in cases {
            let e = StandInFilters.compile(src).unwrap_err();
            assert_eq!(&e.span, span, "{src}: {e:?}");
            assert!(!e.render(src).is_empty());
        }
    }

    proptest::proptest! {
        #[test]
        fn compiling_and_matching_never_panic(src in ".{0,80}", key in "[a-z.]{1,12}", value in ".{0,20}") {
            if let Ok(f) = StandInFilters.compile(&src) {
                let _ = f.matches(&json!({ key: value }));
                let _ = f.matches(&json!(null));
            } else if let Err(e) = StandInFilters.compile(&src) {
                let _ = e.render(&src);
            }
        }

        #[test]
        fn structured_filters_never_panic(
            parts in proptest::collection::vec(proptest::sample::select(vec![
                "a", "b.c", "==", "!=", "and", "or", "not", "(", ")", ",", "in", "startsWith", "\"x\"", "1", "-2.5", "true",
            ]), 0..24)
        ) {
            let src = parts.join(" ");
            if let Ok(f) = StandInFilters.compile(&src) {
                let _ = f.matches(&json!({"a": "x", "b.c": ["x"]}));
            }
        }
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let src = format!("{}a{}", "(".repeat(10_000), ")".repeat(10_000));
        assert!(StandInFilters.compile(&src).is_err());
        let src = format!("{}a == 1", "not ".repeat(10_001));
        let f = StandInFilters.compile(&src).unwrap();
        assert!(f.matches(&json!({"a": 2})));
    }
}
