//! Query errors: one message, the span it points at, and a hint.
//!
//! Every stage (lexer, parser, checker, evaluator, result decoding) reports a [`QueryError`].
//! [`QueryError::render`] prints it like a compiler does (source line, caret span, hint) and
//! [`QueryError::to_json`] gives the structured form the HTTP API returns:
//! `{"message": …, "span": {"start": …, "end": …}, "hint": …}` with byte offsets into the query.

use std::fmt;

use serde::Serialize;

/// A half-open byte range `[start, end)` into the query text.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize)]
pub struct Span {
    /// First byte.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
}

impl Span {
    /// The span `[start, end)`.
    pub fn new(start: usize, end: usize) -> Span {
        Span { start, end }
    }

    /// The smallest span covering both.
    pub fn to(self, other: Span) -> Span {
        Span {
            start: self.start.min(other.start),
            end: self.end.max(other.end),
        }
    }
}

/// What kind of mistake an error reports; lets callers (CLI exit codes, API status) tell a bad
/// query from a failure while running it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The text does not lex or parse.
    Syntax,
    /// `fetch` names no known data object.
    UnknownObject,
    /// A field is not in scope at that point of the pipeline.
    UnknownField,
    /// No such function.
    UnknownFunction,
    /// No such command.
    UnknownCommand,
    /// Wrong number or names of arguments.
    Arity,
    /// Operand or argument types do not fit.
    Type,
    /// The query is too large (nesting, parameters).
    TooComplex,
    /// Running the query failed (integer overflow in `sum`, a malformed store value, …).
    Runtime,
}

/// A query error with the span it points at and an optional hint.
#[derive(Clone, Debug, PartialEq, thiserror::Error, Serialize)]
#[error("{message}")]
pub struct QueryError {
    /// What kind of error this is.
    #[serde(skip)]
    pub kind: ErrorKind,
    /// What is wrong, naming the offending token.
    pub message: String,
    /// Where in the query text.
    pub span: Span,
    /// How to fix it, when we know (`did you mean `name`?`).
    pub hint: Option<String>,
}

impl QueryError {
    /// An error of `kind` at `span`.
    pub fn new(kind: ErrorKind, span: Span, message: impl Into<String>) -> QueryError {
        QueryError {
            kind,
            message: message.into(),
            span,
            hint: None,
        }
    }

    /// A syntax error at `span`.
    pub fn syntax(span: Span, message: impl Into<String>) -> QueryError {
        QueryError::new(ErrorKind::Syntax, span, message)
    }

    /// Adds a hint.
    pub fn with_hint(mut self, hint: impl Into<String>) -> QueryError {
        self.hint = Some(hint.into());
        self
    }

    /// Adds `did you mean …?` when a candidate is close to `name`.
    pub fn suggest<'a>(self, name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Self {
        match nearest(name, candidates) {
            Some(best) => self.with_hint(format!("did you mean `{best}`?")),
            None => self,
        }
    }

    /// The structured form: `{"message", "span": {"start", "end"}, "hint"}`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "message": self.message,
            "span": {"start": self.span.start, "end": self.span.end},
            "hint": self.hint,
        })
    }

    /// Renders the error like a compiler: message, `line:column`, the source line with a caret
    /// span under the offending text, and the hint. Control characters of the query are escaped
    /// (the query may carry attacker-controlled package names).
    pub fn render(&self, source: &str) -> String {
        Rendered {
            error: self,
            source,
        }
        .to_string()
    }
}

struct Rendered<'a> {
    error: &'a QueryError,
    source: &'a str,
}

impl fmt::Display for Rendered<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let src = self.source;
        let start = floor_char_boundary(src, self.error.span.start.min(src.len()));
        let end = floor_char_boundary(src, self.error.span.end.clamp(start, src.len()));
        let line_start = src
            .get(..start)
            .and_then(|s| s.rfind('\n'))
            .map_or(0, |i| i + 1);
        let line_end = src
            .get(start..)
            .and_then(|s| s.find('\n'))
            .map_or(src.len(), |i| start + i);
        let line_no = src.get(..start).map_or(0, |s| s.matches('\n').count()) + 1;
        let before = src.get(line_start..start).unwrap_or("");
        let marked = src.get(start..end.min(line_end)).unwrap_or("");
        let after = src.get(end.min(line_end)..line_end).unwrap_or("");
        let column = before.chars().count() + 1;
        let (before, marked, after) = (escape(before), escape(marked), escape(after));
        let gutter = " ".repeat(line_no.to_string().len());
        writeln!(f, "error: {}", escape(&self.error.message))?;
        writeln!(f, "{gutter}--> {line_no}:{column}")?;
        writeln!(f, "{gutter} |")?;
        writeln!(f, "{line_no} | {before}{marked}{after}")?;
        let carets = "^".repeat(marked.chars().count().max(1));
        writeln!(
            f,
            "{gutter} | {}{carets}",
            " ".repeat(before.chars().count())
        )?;
        if let Some(hint) = &self.error.hint {
            writeln!(f, "{gutter} = hint: {}", escape(hint))?;
        }
        Ok(())
    }
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Escapes control characters (and the terminal-hostile bidi/format ones) so a rendered error
/// cannot drive the terminal.
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c == '\t' {
            out.push(' ');
        } else if c.is_control()
            || ('\u{200b}'..='\u{200f}').contains(&c)
            || ('\u{202a}'..='\u{202e}').contains(&c)
            || ('\u{2066}'..='\u{2069}').contains(&c)
        {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    out
}

/// The candidate nearest to `name` by edit distance, when it is close enough to be a plausible
/// typo (distance ≤ max(1, len/3), or equal ignoring case). Work is bounded: names longer than
/// 64 bytes are not compared.
pub(crate) fn nearest<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    if name.len() > 64 {
        return None;
    }
    let limit = (name.chars().count() / 3).max(1);
    let mut best: Option<(usize, &str)> = None;
    for cand in candidates {
        let d = if cand.eq_ignore_ascii_case(name) {
            0
        } else {
            if cand.len().abs_diff(name.len()) > limit || cand.len() > 64 {
                continue;
            }
            edit_distance(&name.to_ascii_lowercase(), &cand.to_ascii_lowercase())
        };
        if d <= limit && best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, cand));
        }
    }
    best.map(|(_, c)| c)
}

/// Edit distance with adjacent transpositions (optimal string alignment) over chars:
/// `nmae` is one edit from `name`. O(len(a)·len(b)) time and space; callers bound the lengths.
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let w = b.len() + 1;
    let mut d = vec![0usize; (a.len() + 1) * w];
    let at = |i: usize, j: usize| i * w + j;
    for i in 0..=a.len() {
        d[at(i, 0)] = i;
    }
    for j in 0..=b.len() {
        d[at(0, j)] = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[at(i - 1, j)] + 1)
                .min(d[at(i, j - 1)] + 1)
                .min(d[at(i - 1, j - 1)] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[at(i - 2, j - 2)] + 1);
            }
            d[at(i, j)] = v;
        }
    }
    d[at(a.len(), b.len())]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distances() {
        for (a, b, d) in [
            ("", "", 0),
            ("name", "name", 0),
            ("nmae", "name", 1),
            ("nam", "name", 1),
            ("kitten", "sitting", 3),
            ("filtr", "filter", 1),
        ] {
            assert_eq!(edit_distance(a, b), d, "{a} {b}");
        }
    }

    #[test]
    fn suggestions() {
        let names = ["name", "version", "ecosystem", "host.name"];
        for (input, want) in [
            ("nme", Some("name")),
            ("Name", Some("name")),
            ("verison", Some("version")),
            ("hostname", Some("host.name")),
            ("zzzzzz", None),
        ] {
            assert_eq!(nearest(input, names), want, "{input}");
        }
    }

    #[test]
    fn renders_caret_under_span() {
        let src = "fetch software_components\n| filter nmae == \"x\"";
        let at = src.find("nmae").unwrap();
        let err = QueryError::new(
            ErrorKind::UnknownField,
            Span::new(at, at + 4),
            "unknown field `nmae`",
        )
        .with_hint("did you mean `name`?");
        let out = err.render(src);
        assert_eq!(
            out,
            "error: unknown field `nmae`\n --> 2:10\n  |\n2 | | filter nmae == \"x\"\n  |          ^^^^\n  = hint: did you mean `name`?\n"
        );
        let json = err.to_json();
        assert_eq!(json["span"]["start"], at);
        assert_eq!(json["hint"], "did you mean `name`?");
    }

    #[test]
    fn render_escapes_control_characters_and_survives_bad_spans() {
        let src = "filter name == \"\u{1b}[31m\"";
        let err = QueryError::syntax(Span::new(15, 999), "bad");
        let out = err.render(src);
        assert!(!out.contains('\u{1b}'));
        let err = QueryError::syntax(Span::new(999, 3), "bad");
        let _ = err.render(src);
        let _ = err.render("é");
        let _ = QueryError::syntax(Span::new(1, 1), "x").render("é");
    }
}
