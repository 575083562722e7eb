//! Lexer: query text → tokens with byte spans.
//!
//! Identifiers may be dotted (`k8s.namespace.name` is one token: dots bind without spaces) or
//! backtick-quoted (`` `weird name` ``, escapes `` \` `` and `\\`). Keywords (`and`, `true`, …)
//! are plain identifiers here; the parser gives them meaning, so a backtick-quoted `` `and` `` is
//! always a field. Strings are double-quoted with `\" \\ \n \r \t \0 \uXXXX \u{X…}` escapes.
//! Numbers are integers, decimals or exponents; an integer directly followed by a unit
//! (`ns us ms s m h d w`) is a duration literal. `//` and `/* */` are comments.
//!
//! One pass, O(n) in the length of the query.

use crate::error::{QueryError, Span};

/// A lexical token.
#[derive(Clone, Debug, PartialEq)]
pub enum Tok {
    /// A bare identifier, possibly dotted (`event.type`).
    Ident(String),
    /// A backtick-quoted identifier.
    Quoted(String),
    /// A string literal, escapes resolved.
    Str(String),
    /// An integer literal that fits in i64.
    Long(i64),
    /// A decimal literal (or an integer too large for i64).
    Double(f64),
    /// A duration literal in nanoseconds.
    Duration(i64),
    /// Punctuation and operators.
    Pipe,
    Comma,
    Colon,
    LParen,
    RParen,
    LBracket,
    RBracket,
    LBrace,
    RBrace,
    Assign,
    EqEq,
    NotEq,
    Lt,
    Le,
    Gt,
    Ge,
    Plus,
    Minus,
    Star,
    Slash,
    Percent,
    /// End of input.
    Eof,
}

impl Tok {
    /// How the token reads in an error message.
    pub fn describe(&self) -> String {
        match self {
            Tok::Ident(s) => format!("`{s}`"),
            Tok::Quoted(s) => format!("`{s}`"),
            Tok::Str(_) => "a string".into(),
            Tok::Long(_) | Tok::Double(_) => "a number".into(),
            Tok::Duration(_) => "a duration".into(),
            Tok::Eof => "the end of the query".into(),
            other => format!("`{}`", other.symbol()),
        }
    }

    fn symbol(&self) -> &'static str {
        match self {
            Tok::Pipe => "|",
            Tok::Comma => ",",
            Tok::Colon => ":",
            Tok::LParen => "(",
            Tok::RParen => ")",
            Tok::LBracket => "[",
            Tok::RBracket => "]",
            Tok::LBrace => "{",
            Tok::RBrace => "}",
            Tok::Assign => "=",
            Tok::EqEq => "==",
            Tok::NotEq => "!=",
            Tok::Lt => "<",
            Tok::Le => "<=",
            Tok::Gt => ">",
            Tok::Ge => ">=",
            Tok::Plus => "+",
            Tok::Minus => "-",
            Tok::Star => "*",
            Tok::Slash => "/",
            Tok::Percent => "%",
            _ => "?",
        }
    }
}

/// A token and where it is.
#[derive(Clone, Debug, PartialEq)]
pub struct Token {
    /// The token.
    pub tok: Tok,
    /// Its bytes in the query.
    pub span: Span,
}

const NANOS_PER_UNIT: [(&str, i64); 8] = [
    ("ns", 1),
    ("us", 1_000),
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
    ("m", 60_000_000_000),
    ("h", 3_600_000_000_000),
    ("d", 86_400_000_000_000),
    ("w", 604_800_000_000_000),
];

/// Splits `src` into tokens, ending with [`Tok::Eof`].
pub fn lex(src: &str) -> Result<Vec<Token>, QueryError> {
    let mut lexer = Lexer {
        src,
        bytes: src.as_bytes(),
        pos: 0,
        out: Vec::new(),
    };
    lexer.run()?;
    Ok(lexer.out)
}

struct Lexer<'a> {
    src: &'a str,
    bytes: &'a [u8],
    pos: usize,
    out: Vec<Token>,
}

fn is_ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_' || b == b'$'
}

fn is_ident_continue(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$'
}

impl Lexer<'_> {
    fn peek(&self, ahead: usize) -> Option<u8> {
        self.bytes.get(self.pos + ahead).copied()
    }

    fn push(&mut self, tok: Tok, start: usize) {
        self.out.push(Token {
            tok,
            span: Span::new(start, self.pos),
        });
    }

    fn run(&mut self) -> Result<(), QueryError> {
        while let Some(b) = self.peek(0) {
            let start = self.pos;
            match b {
                b' ' | b'\t' | b'\r' | b'\n' => self.pos += 1,
                b'/' if self.peek(1) == Some(b'/') => {
                    while self.peek(0).is_some_and(|b| b != b'\n') {
                        self.pos += 1;
                    }
                }
                b'/' if self.peek(1) == Some(b'*') => {
                    match self.src.get(self.pos + 2..).and_then(|s| s.find("*/")) {
                        Some(i) => self.pos += 2 + i + 2,
                        None => {
                            return Err(QueryError::syntax(
                                Span::new(start, start + 2),
                                "unterminated comment",
                            )
                            .with_hint("close it with `*/`"));
                        }
                    }
                }
                b'"' => self.string()?,
                b'`' => self.quoted_ident()?,
                b'\'' => {
                    return Err(QueryError::syntax(
                        Span::new(start, start + 1),
                        "single quotes do not delimit strings",
                    )
                    .with_hint("use double quotes: \"text\""));
                }
                b'0'..=b'9' => self.number()?,
                b if is_ident_start(b) => self.ident(),
                _ => self.punct()?,
            }
        }
        let end = self.src.len();
        self.out.push(Token {
            tok: Tok::Eof,
            span: Span::new(end, end),
        });
        Ok(())
    }

    fn punct(&mut self) -> Result<(), QueryError> {
        let start = self.pos;
        let two = |a: u8, b: u8| self.peek(0) == Some(a) && self.peek(1) == Some(b);
        let (tok, len) = if two(b'=', b'=') {
            (Tok::EqEq, 2)
        } else if two(b'!', b'=') {
            (Tok::NotEq, 2)
        } else if two(b'<', b'=') {
            (Tok::Le, 2)
        } else if two(b'>', b'=') {
            (Tok::Ge, 2)
        } else if two(b'<', b'>') {
            (Tok::NotEq, 2)
        } else {
            let tok = match self.peek(0) {
                Some(b'|') => Tok::Pipe,
                Some(b',') => Tok::Comma,
                Some(b':') => Tok::Colon,
                Some(b'(') => Tok::LParen,
                Some(b')') => Tok::RParen,
                Some(b'[') => Tok::LBracket,
                Some(b']') => Tok::RBracket,
                Some(b'{') => Tok::LBrace,
                Some(b'}') => Tok::RBrace,
                Some(b'=') => Tok::Assign,
                Some(b'<') => Tok::Lt,
                Some(b'>') => Tok::Gt,
                Some(b'+') => Tok::Plus,
                Some(b'-') => Tok::Minus,
                Some(b'*') => Tok::Star,
                Some(b'/') => Tok::Slash,
                Some(b'%') => Tok::Percent,
                _ => {
                    let c = self.src.get(start..).and_then(|s| s.chars().next());
                    let len = c.map_or(1, char::len_utf8);
                    let shown = c.map_or_else(String::new, |c| c.escape_default().to_string());
                    return Err(QueryError::syntax(
                        Span::new(start, start + len),
                        format!("unexpected character `{shown}`"),
                    ));
                }
            };
            (tok, 1)
        };
        self.pos += len;
        self.push(tok, start);
        Ok(())
    }

    fn ident(&mut self) {
        let start = self.pos;
        loop {
            while self.peek(0).is_some_and(is_ident_continue) {
                self.pos += 1;
            }
            // A dot glued to identifier characters on both sides continues the name.
            if self.peek(0) == Some(b'.') && self.peek(1).is_some_and(is_ident_continue) {
                self.pos += 1;
            } else {
                break;
            }
        }
        let text = self
            .src
            .get(start..self.pos)
            .unwrap_or_default()
            .to_string();
        self.push(Tok::Ident(text), start);
    }

    fn quoted_ident(&mut self) -> Result<(), QueryError> {
        let start = self.pos;
        self.pos += 1;
        let mut text = String::new();
        loop {
            let rest = self.src.get(self.pos..).unwrap_or_default();
            let Some(c) = rest.chars().next() else {
                return Err(QueryError::syntax(
                    Span::new(start, self.pos),
                    "unterminated quoted name",
                )
                .with_hint("close it with a backtick"));
            };
            self.pos += c.len_utf8();
            match c {
                '`' => break,
                '\\' if matches!(self.peek(0), Some(b'`' | b'\\')) => {
                    text.push(char::from(self.peek(0).unwrap_or(b'\\')));
                    self.pos += 1;
                }
                c => text.push(c),
            }
        }
        if text.is_empty() {
            return Err(QueryError::syntax(
                Span::new(start, self.pos),
                "empty quoted name",
            ));
        }
        self.push(Tok::Quoted(text), start);
        Ok(())
    }

    fn string(&mut self) -> Result<(), QueryError> {
        let start = self.pos;
        self.pos += 1;
        let mut text = String::new();
        loop {
            let rest = self.src.get(self.pos..).unwrap_or_default();
            let Some(c) = rest.chars().next() else {
                return Err(
                    QueryError::syntax(Span::new(start, self.pos), "unterminated string")
                        .with_hint("close it with a double quote"),
                );
            };
            let at = self.pos;
            self.pos += c.len_utf8();
            match c {
                '"' => break,
                '\\' => text.push(self.escape(at)?),
                c => text.push(c),
            }
        }
        self.push(Tok::Str(text), start);
        Ok(())
    }

    fn escape(&mut self, at: usize) -> Result<char, QueryError> {
        let c = self.peek(0);
        self.pos += 1;
        Ok(match c {
            Some(b'"') => '"',
            Some(b'\\') => '\\',
            Some(b'/') => '/',
            Some(b'n') => '\n',
            Some(b'r') => '\r',
            Some(b't') => '\t',
            Some(b'0') => '\0',
            Some(b'u') => {
                let (digits, braced) = if self.peek(0) == Some(b'{') {
                    self.pos += 1;
                    let rest = self.src.get(self.pos..).unwrap_or_default();
                    let n = rest.find('}').filter(|&n| (1..=6).contains(&n));
                    let Some(n) = n else {
                        return Err(self.bad_escape(at));
                    };
                    (rest.get(..n).unwrap_or_default(), n + 1)
                } else {
                    let rest = self.src.get(self.pos..self.pos + 4);
                    let Some(rest) = rest else {
                        return Err(self.bad_escape(at));
                    };
                    (rest, 4)
                };
                let code = u32::from_str_radix(digits, 16)
                    .ok()
                    .and_then(char::from_u32);
                let Some(code) = code.filter(|_| digits.bytes().all(|b| b.is_ascii_hexdigit()))
                else {
                    return Err(self.bad_escape(at));
                };
                self.pos += braced;
                code
            }
            _ => {
                // Step back onto a char boundary before reporting.
                self.pos -= 1;
                return Err(self.bad_escape(at));
            }
        })
    }

    fn bad_escape(&self, at: usize) -> QueryError {
        QueryError::syntax(
            Span::new(at, (at + 2).min(self.src.len())),
            "invalid escape in string",
        )
        .with_hint(r#"valid escapes: \" \\ \n \r \t \0 \uXXXX \u{X…}"#)
    }

    fn number(&mut self) -> Result<(), QueryError> {
        let start = self.pos;
        let digits = |lx: &mut Self| {
            while lx.peek(0).is_some_and(|b| b.is_ascii_digit() || b == b'_') {
                lx.pos += 1;
            }
        };
        digits(self);
        let mut is_float = false;
        if self.peek(0) == Some(b'.') && self.peek(1).is_some_and(|b| b.is_ascii_digit()) {
            is_float = true;
            self.pos += 1;
            digits(self);
        }
        if matches!(self.peek(0), Some(b'e' | b'E')) {
            let sign = usize::from(matches!(self.peek(1), Some(b'+' | b'-')));
            if self.peek(1 + sign).is_some_and(|b| b.is_ascii_digit()) {
                is_float = true;
                self.pos += 1 + sign;
                digits(self);
            }
        }
        let text: String = self
            .src
            .get(start..self.pos)
            .unwrap_or_default()
            .chars()
            .filter(|&c| c != '_')
            .collect();
        // A unit glued to an integer makes a duration.
        let unit_start = self.pos;
        while self.peek(0).is_some_and(is_ident_continue) {
            self.pos += 1;
        }
        let unit = self.src.get(unit_start..self.pos).unwrap_or_default();
        if !unit.is_empty() {
            let per = NANOS_PER_UNIT
                .iter()
                .find(|(u, _)| *u == unit)
                .map(|(_, n)| *n);
            let Some(per) = per else {
                return Err(QueryError::syntax(
                    Span::new(start, self.pos),
                    format!(
                        "invalid number or duration `{}`",
                        crate::error::escape(self.src.get(start..self.pos).unwrap_or_default())
                    ),
                )
                .with_hint("duration units are ns, us, ms, s, m, h, d, w (e.g. `30m`, `-2h`)"));
            };
            let n = if is_float {
                None
            } else {
                text.parse::<i64>().ok()
            };
            let Some(nanos) = n.and_then(|n| n.checked_mul(per)) else {
                return Err(QueryError::syntax(
                    Span::new(start, self.pos),
                    "duration out of range",
                )
                .with_hint("a duration is a whole number of units up to about 292 years"));
            };
            self.push(Tok::Duration(nanos), start);
            return Ok(());
        }
        let tok = match (is_float, text.parse::<i64>()) {
            (false, Ok(n)) => Tok::Long(n),
            _ => Tok::Double(text.parse::<f64>().unwrap_or(f64::INFINITY)),
        };
        self.push(tok, start);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn toks(src: &str) -> Vec<Tok> {
        lex(src).unwrap().into_iter().map(|t| t.tok).collect()
    }

    #[test]
    fn tokens() {
        let id = |s: &str| Tok::Ident(s.into());
        let cases: Vec<(&str, Vec<Tok>)> = vec![
            (
                "k8s.namespace.name",
                vec![id("k8s.namespace.name"), Tok::Eof],
            ),
            (
                "-2h",
                vec![Tok::Minus, Tok::Duration(7_200_000_000_000), Tok::Eof],
            ),
            (
                "30m 7d 100ms 1_000",
                vec![
                    Tok::Duration(1_800_000_000_000),
                    Tok::Duration(604_800_000_000_000),
                    Tok::Duration(100_000_000),
                    Tok::Long(1000),
                    Tok::Eof,
                ],
            ),
            (
                "1.5 2e3 1e-2",
                vec![
                    Tok::Double(1.5),
                    Tok::Double(2000.0),
                    Tok::Double(0.01),
                    Tok::Eof,
                ],
            ),
            ("99999999999999999999", vec![Tok::Double(1e20), Tok::Eof]),
            (
                r#""a\"b\\c\n\u0041\u{1F600}""#,
                vec![Tok::Str("a\"b\\c\nA😀".into()), Tok::Eof],
            ),
            (
                "`weird name` `a\\`b`",
                vec![
                    Tok::Quoted("weird name".into()),
                    Tok::Quoted("a`b".into()),
                    Tok::Eof,
                ],
            ),
            (
                "a==b!=c<=d>=e<f>g=h",
                vec![
                    id("a"),
                    Tok::EqEq,
                    id("b"),
                    Tok::NotEq,
                    id("c"),
                    Tok::Le,
                    id("d"),
                    Tok::Ge,
                    id("e"),
                    Tok::Lt,
                    id("f"),
                    Tok::Gt,
                    id("g"),
                    Tok::Assign,
                    id("h"),
                    Tok::Eof,
                ],
            ),
            (
                "a // comment\n| b /* c */ ",
                vec![id("a"), Tok::Pipe, id("b"), Tok::Eof],
            ),
        ];
        for (src, want) in cases {
            assert_eq!(toks(src), want, "{src}");
        }
    }

    #[test]
    fn errors() {
        for (src, msg) in [
            ("\"abc", "unterminated string"),
            ("'abc'", "single quotes"),
            ("`abc", "unterminated quoted name"),
            ("``", "empty quoted name"),
            ("\"\\q\"", "invalid escape"),
            ("\"\\u12\"", "invalid escape"),
            ("\"\\u{110000}\"", "invalid escape"),
            ("5x", "invalid number"),
            ("99999999999w", "out of range"),
            ("a # b", "unexpected character"),
            ("/* x", "unterminated comment"),
            ("é", "unexpected character"),
        ] {
            let err = lex(src).unwrap_err();
            assert!(err.message.contains(msg), "{src}: {}", err.message);
            assert!(
                err.span.end <= src.len() && err.span.start <= err.span.end,
                "{src}"
            );
        }
    }

    proptest! {
        #[test]
        fn never_panics(s in any::<String>()) {
            if let Ok(tokens) = lex(&s) {
                for t in tokens {
                    prop_assert!(t.span.start <= t.span.end && t.span.end <= s.len());
                }
            }
        }
    }
}
