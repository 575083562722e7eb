//! Recursive-descent parser: tokens → [`Pipeline`] / [`Expr`].
//!
//! Command arguments are first read into a uniform list (`RawArg`: positional or `name:`
//! valued, an expression, an `x = expr` assignment, an `expr asc|desc` key, a `{…}` block or a
//! `[subquery]`); each command then checks the shape it needs. That keeps the grammar small and
//! gives every command the same error messages.
//!
//! Expression precedence, loosest first: `or`, `and`, `not`, comparisons (non-associative),
//! `+ -`, `* / %`, unary `-`, primaries. Nesting is bounded ([`MAX_DEPTH`]) so hostile input
//! cannot overflow the stack here or in any later recursive pass.

use crate::ast::*;
use crate::error::{ErrorKind, QueryError, Span};
use crate::lexer::{Tok, Token, lex};

/// Tallest expression tree accepted (long `a + b + …` chains count).
pub const MAX_DEPTH: u32 = 200;

/// Deepest syntactic nesting accepted: parentheses, calls, arrays, `not`, unary minus.
pub const MAX_NEST: u32 = 40;

/// The command words, for parsing and for suggestions.
pub const COMMANDS: [&str; 13] = [
    "filter",
    "filterOut",
    "fields",
    "fieldsAdd",
    "fieldsRemove",
    "fieldsRename",
    "sort",
    "limit",
    "dedup",
    "summarize",
    "expand",
    "lookup",
    "fetch",
];

/// Parses a whole query: `fetch … | …`.
pub fn parse_pipeline(src: &str) -> Result<Pipeline, QueryError> {
    let mut p = Parser::new(src)?;
    let pipeline = p.pipeline(0)?;
    p.expect_eof()?;
    Ok(pipeline)
}

/// Parses a lone expression (a workflow trigger filter, an owner `match`).
pub fn parse_expr(src: &str) -> Result<Expr, QueryError> {
    let mut p = Parser::new(src)?;
    let e = p.expr(0)?;
    p.expect_eof()?;
    Ok(e)
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
}

/// One argument of a command, before the command checks its shape.
#[derive(Debug)]
struct RawArg {
    name: Option<Ident>,
    value: RawValue,
    span: Span,
}

#[derive(Debug)]
enum RawValue {
    Expr(Expr),
    Assign(Ident, Expr),
    Sorted(Expr, bool),
    Block(Vec<RawArg>),
    Subquery(Pipeline),
}

fn leaf(kind: ExprKind, span: Span) -> Expr {
    Expr {
        kind,
        span,
        depth: 1,
    }
}

impl Parser {
    fn new(src: &str) -> Result<Parser, QueryError> {
        Ok(Parser {
            tokens: lex(src)?,
            pos: 0,
        })
    }

    fn peek(&self) -> &Tok {
        self.peek_at(0)
    }

    fn peek_at(&self, ahead: usize) -> &Tok {
        self.tokens
            .get(self.pos + ahead)
            .or(self.tokens.last())
            .map_or(&Tok::Eof, |t| &t.tok)
    }

    fn span(&self) -> Span {
        self.tokens
            .get(self.pos)
            .or(self.tokens.last())
            .map_or(Span::default(), |t| t.span)
    }

    fn prev_span(&self) -> Span {
        self.pos
            .checked_sub(1)
            .and_then(|i| self.tokens.get(i))
            .map_or(Span::default(), |t| t.span)
    }

    fn bump(&mut self) -> Token {
        let t = self.tokens.get(self.pos).cloned().unwrap_or(Token {
            tok: Tok::Eof,
            span: self.span(),
        });
        if self.pos < self.tokens.len().saturating_sub(1) {
            self.pos += 1;
        }
        t
    }

    fn eat(&mut self, tok: &Tok) -> bool {
        if self.peek() == tok {
            self.bump();
            true
        } else {
            false
        }
    }

    fn is_keyword(&self, kw: &str) -> bool {
        matches!(self.peek(), Tok::Ident(s) if s == kw)
    }

    fn unexpected(&self, wanted: &str) -> QueryError {
        QueryError::syntax(
            self.span(),
            format!("expected {wanted}, found {}", self.peek().describe()),
        )
    }

    fn expect(&mut self, tok: &Tok, wanted: &str) -> Result<Span, QueryError> {
        if self.peek() == tok {
            Ok(self.bump().span)
        } else {
            Err(self.unexpected(wanted))
        }
    }

    fn expect_eof(&mut self) -> Result<(), QueryError> {
        match self.peek() {
            Tok::Eof => Ok(()),
            Tok::Pipe => Err(self.unexpected("the end of the expression")),
            _ => Err(self.unexpected("`|` or the end of the query")),
        }
    }

    fn ident(&mut self, wanted: &str) -> Result<Ident, QueryError> {
        match self.peek().clone() {
            Tok::Ident(name) | Tok::Quoted(name) => {
                let span = self.bump().span;
                Ok(Ident { name, span })
            }
            _ => Err(self.unexpected(wanted)),
        }
    }

    fn too_deep(&self, span: Span) -> QueryError {
        QueryError::new(ErrorKind::TooComplex, span, "query nested too deeply").with_hint(format!(
            "at most {MAX_DEPTH} levels of nesting are accepted"
        ))
    }

    fn node(&self, kind: ExprKind, span: Span, depth: u32) -> Result<Expr, QueryError> {
        if depth > MAX_DEPTH {
            return Err(self.too_deep(span));
        }
        Ok(Expr { kind, span, depth })
    }

    // ---- pipelines -------------------------------------------------------------------------

    fn pipeline(&mut self, depth: u32) -> Result<Pipeline, QueryError> {
        if depth > 8 {
            return Err(self
                .too_deep(self.span())
                .with_hint("subqueries nest at most 8 deep"));
        }
        let start = self.span();
        let word = self.ident("`fetch`")?;
        if word.name != "fetch" {
            let err = QueryError::syntax(word.span, "a query starts with `fetch`")
                .with_hint("e.g. `fetch software_components | filter name == \"debug\"`");
            return Err(err);
        }
        let object = self.ident("a data object after `fetch`")?;
        let args = if matches!(self.peek(), Tok::Pipe | Tok::Eof | Tok::RBracket) {
            Vec::new()
        } else {
            self.expect(&Tok::Comma, "`,`, `|` or the end of the query")?;
            self.args(depth)?
        };
        let mut fetch = Fetch {
            object,
            from: None,
            to: None,
            span: start.to(self.prev_span()),
        };
        for arg in args {
            match (arg.name, arg.value) {
                (Some(n), RawValue::Expr(e)) if n.name == "from" => fetch.from = Some(e),
                (Some(n), RawValue::Expr(e)) if n.name == "to" => fetch.to = Some(e),
                (Some(n), _) => {
                    return Err(QueryError::new(
                        ErrorKind::Arity,
                        n.span,
                        format!("`fetch` has no parameter `{}`", n.name),
                    )
                    .suggest(&n.name, ["from", "to"]));
                }
                (None, _) => {
                    return Err(QueryError::new(
                        ErrorKind::Arity,
                        arg.span,
                        "`fetch` takes one data object",
                    )
                    .with_hint("use `from:` and `to:` for a time window, then `| filter …`"));
                }
            }
        }
        let mut commands = Vec::new();
        while self.eat(&Tok::Pipe) {
            commands.push(self.command(depth)?);
        }
        Ok(Pipeline {
            fetch,
            commands,
            span: start.to(self.prev_span()),
        })
    }

    fn command(&mut self, depth: u32) -> Result<Command, QueryError> {
        let name = self.ident("a command after `|`")?;
        let args = self.args(depth)?;
        let span = name.span.to(self.prev_span());
        let kind = build_command(&name, args, span)?;
        Ok(Command { name, kind, span })
    }

    /// Comma-separated arguments up to `|`, `]` or the end.
    fn args(&mut self, depth: u32) -> Result<Vec<RawArg>, QueryError> {
        let mut args = Vec::new();
        if matches!(self.peek(), Tok::Pipe | Tok::Eof | Tok::RBracket) {
            return Ok(args);
        }
        loop {
            args.push(self.arg(depth)?);
            if !self.eat(&Tok::Comma) {
                break;
            }
        }
        if !matches!(self.peek(), Tok::Pipe | Tok::Eof | Tok::RBracket) {
            return Err(self.unexpected("`,`, `|` or the end of the query"));
        }
        Ok(args)
    }

    fn arg(&mut self, depth: u32) -> Result<RawArg, QueryError> {
        let start = self.span();
        let name = if matches!(self.peek(), Tok::Ident(_)) && self.peek_at(1) == &Tok::Colon {
            let n = self.ident("a parameter name")?;
            self.bump();
            Some(n)
        } else {
            None
        };
        let value = self.arg_value(depth)?;
        Ok(RawArg {
            name,
            value,
            span: start.to(self.prev_span()),
        })
    }

    fn arg_value(&mut self, depth: u32) -> Result<RawValue, QueryError> {
        match self.peek() {
            Tok::LBrace => {
                self.bump();
                let mut items = Vec::new();
                if !self.eat(&Tok::RBrace) {
                    loop {
                        items.push(self.arg(depth)?);
                        if !self.eat(&Tok::Comma) {
                            break;
                        }
                    }
                    self.expect(&Tok::RBrace, "`,` or `}`")?;
                }
                Ok(RawValue::Block(items))
            }
            Tok::LBracket if matches!(self.peek_at(1), Tok::Ident(s) if s == "fetch") => {
                self.bump();
                let sub = self.pipeline(depth + 1)?;
                self.expect(&Tok::RBracket, "`]` closing the subquery")?;
                Ok(RawValue::Subquery(sub))
            }
            _ => {
                let e = self.expr(0)?;
                if self.peek() == &Tok::Assign {
                    let assign_span = self.span();
                    self.bump();
                    let ExprKind::Field(name) = e.kind else {
                        return Err(QueryError::syntax(
                            assign_span,
                            "only a field name can be assigned with `=`",
                        )
                        .with_hint("write `name = expression`; compare with `==`"));
                    };
                    let value = self.expr(0)?;
                    return Ok(RawValue::Assign(Ident { name, span: e.span }, value));
                }
                if self.is_keyword("asc") || self.is_keyword("desc") {
                    let desc = self.is_keyword("desc");
                    self.bump();
                    return Ok(RawValue::Sorted(e, desc));
                }
                Ok(RawValue::Expr(e))
            }
        }
    }

    // ---- expressions -----------------------------------------------------------------------

    fn expr(&mut self, nest: u32) -> Result<Expr, QueryError> {
        if nest > MAX_NEST {
            return Err(self.too_deep(self.span()));
        }
        self.or(nest)
    }

    fn binary(&self, op: BinaryOp, a: Expr, b: Expr) -> Result<Expr, QueryError> {
        let span = a.span.to(b.span);
        let depth = a.depth.max(b.depth) + 1;
        self.node(ExprKind::Binary(op, Box::new(a), Box::new(b)), span, depth)
    }

    fn or(&mut self, nest: u32) -> Result<Expr, QueryError> {
        let mut e = self.and(nest)?;
        while self.is_keyword("or") {
            self.bump();
            let rhs = self.and(nest)?;
            e = self.binary(BinaryOp::Or, e, rhs)?;
        }
        Ok(e)
    }

    fn and(&mut self, nest: u32) -> Result<Expr, QueryError> {
        let mut e = self.not(nest)?;
        while self.is_keyword("and") {
            self.bump();
            let rhs = self.not(nest)?;
            e = self.binary(BinaryOp::And, e, rhs)?;
        }
        Ok(e)
    }

    fn not(&mut self, nest: u32) -> Result<Expr, QueryError> {
        if nest > MAX_NEST {
            return Err(self.too_deep(self.span()));
        }
        if self.is_keyword("not") {
            let start = self.bump().span;
            let inner = self.not(nest + 1)?;
            let span = start.to(inner.span);
            let depth = inner.depth + 1;
            return self.node(ExprKind::Unary(UnaryOp::Not, Box::new(inner)), span, depth);
        }
        self.comparison(nest)
    }

    fn comparison(&mut self, nest: u32) -> Result<Expr, QueryError> {
        let e = self.additive(nest)?;
        let op = match self.peek() {
            Tok::EqEq => BinaryOp::Eq,
            Tok::NotEq => BinaryOp::Ne,
            Tok::Lt => BinaryOp::Lt,
            Tok::Le => BinaryOp::Le,
            Tok::Gt => BinaryOp::Gt,
            Tok::Ge => BinaryOp::Ge,
            _ => return Ok(e),
        };
        self.bump();
        let rhs = self.additive(nest)?;
        let e = self.binary(op, e, rhs)?;
        if matches!(
            self.peek(),
            Tok::EqEq | Tok::NotEq | Tok::Lt | Tok::Le | Tok::Gt | Tok::Ge
        ) {
            return Err(QueryError::syntax(self.span(), "comparisons do not chain")
                .with_hint("combine them with `and`: `a < b and b < c`"));
        }
        Ok(e)
    }

    fn additive(&mut self, nest: u32) -> Result<Expr, QueryError> {
        let mut e = self.multiplicative(nest)?;
        loop {
            let op = match self.peek() {
                Tok::Plus => BinaryOp::Add,
                Tok::Minus => BinaryOp::Sub,
                _ => return Ok(e),
            };
            self.bump();
            let rhs = self.multiplicative(nest)?;
            e = self.binary(op, e, rhs)?;
        }
    }

    fn multiplicative(&mut self, nest: u32) -> Result<Expr, QueryError> {
        let mut e = self.unary(nest)?;
        loop {
            let op = match self.peek() {
                Tok::Star => BinaryOp::Mul,
                Tok::Slash => BinaryOp::Div,
                Tok::Percent => BinaryOp::Rem,
                _ => return Ok(e),
            };
            self.bump();
            let rhs = self.unary(nest)?;
            e = self.binary(op, e, rhs)?;
        }
    }

    fn unary(&mut self, nest: u32) -> Result<Expr, QueryError> {
        if nest > MAX_NEST {
            return Err(self.too_deep(self.span()));
        }
        if self.peek() == &Tok::Minus {
            let start = self.bump().span;
            // Fold `-literal` so `-2h` and `-5` are literals (and i64::MIN is writable).
            match self.peek().clone() {
                Tok::Duration(n) => {
                    let span = start.to(self.bump().span);
                    return Ok(leaf(ExprKind::Duration(n.saturating_neg()), span));
                }
                Tok::Long(n) => {
                    let span = start.to(self.bump().span);
                    return Ok(leaf(ExprKind::Long(-n), span));
                }
                Tok::Double(x) => {
                    let span = start.to(self.bump().span);
                    if x == 9_223_372_036_854_775_808.0 {
                        return Ok(leaf(ExprKind::Long(i64::MIN), span));
                    }
                    return Ok(leaf(ExprKind::Double(-x), span));
                }
                _ => {}
            }
            let inner = self.unary(nest + 1)?;
            let span = start.to(inner.span);
            let depth = inner.depth + 1;
            return self.node(ExprKind::Unary(UnaryOp::Neg, Box::new(inner)), span, depth);
        }
        self.primary(nest)
    }

    fn primary(&mut self, nest: u32) -> Result<Expr, QueryError> {
        let tok = self.peek().clone();
        let span = self.span();
        match tok {
            Tok::Long(n) => {
                self.bump();
                Ok(leaf(ExprKind::Long(n), span))
            }
            Tok::Double(x) => {
                self.bump();
                Ok(leaf(ExprKind::Double(x), span))
            }
            Tok::Duration(n) => {
                self.bump();
                Ok(leaf(ExprKind::Duration(n), span))
            }
            Tok::Str(s) => {
                self.bump();
                Ok(leaf(ExprKind::Str(s), span))
            }
            Tok::Quoted(name) => {
                self.bump();
                Ok(leaf(ExprKind::Field(name), span))
            }
            Tok::Ident(name) => {
                self.bump();
                if self.peek() == &Tok::LParen {
                    return self.call(Ident { name, span }, nest);
                }
                let kind = match name.as_str() {
                    "true" => ExprKind::Bool(true),
                    "false" => ExprKind::Bool(false),
                    "null" => ExprKind::Null,
                    "and" | "or" | "not" => {
                        return Err(QueryError::syntax(
                            span,
                            format!("expected a value, found `{name}`"),
                        )
                        .with_hint(format!("a field named `{name}` must be quoted: `{name}`")));
                    }
                    _ => ExprKind::Field(name),
                };
                Ok(leaf(kind, span))
            }
            Tok::LParen => {
                self.bump();
                let mut e = self.expr(nest + 1)?;
                let end = self.expect(&Tok::RParen, "`)`")?;
                e.span = span.to(end);
                Ok(e)
            }
            Tok::LBracket => {
                self.bump();
                let mut items = Vec::new();
                let mut depth = 1;
                if self.peek() != &Tok::RBracket {
                    loop {
                        let e = self.expr(nest + 1)?;
                        depth = depth.max(e.depth + 1);
                        items.push(e);
                        if !self.eat(&Tok::Comma) {
                            break;
                        }
                    }
                }
                let end = self.expect(&Tok::RBracket, "`,` or `]`")?;
                self.node(ExprKind::Array(items), span.to(end), depth)
            }
            _ => Err(self.unexpected("a value")),
        }
    }

    fn call(&mut self, name: Ident, nest: u32) -> Result<Expr, QueryError> {
        self.expect(&Tok::LParen, "`(`")?;
        let mut args = Vec::new();
        let mut depth = 1;
        if self.peek() != &Tok::RParen {
            loop {
                let arg_name =
                    if matches!(self.peek(), Tok::Ident(_)) && self.peek_at(1) == &Tok::Colon {
                        let n = self.ident("a parameter name")?;
                        self.bump();
                        Some(n)
                    } else {
                        None
                    };
                let value = self.expr(nest + 1)?;
                depth = depth.max(value.depth + 1);
                args.push(CallArg {
                    name: arg_name,
                    value,
                });
                if !self.eat(&Tok::Comma) {
                    break;
                }
            }
        }
        let end = self.expect(&Tok::RParen, "`,` or `)`")?;
        let span = name.span.to(end);
        self.node(ExprKind::Call { name, args }, span, depth)
    }
}

// ---- command shapes ------------------------------------------------------------------------

fn arity(span: Span, msg: impl Into<String>) -> QueryError {
    QueryError::new(ErrorKind::Arity, span, msg)
}

fn no_param(cmd: &str, name: &Ident, allowed: &[&str]) -> QueryError {
    let err = arity(
        name.span,
        format!("`{cmd}` has no parameter `{}`", name.name),
    );
    if allowed.is_empty() {
        err
    } else {
        err.suggest(&name.name, allowed.iter().copied())
    }
}

/// Positional arguments of a command that takes no named parameters.
fn positional(cmd: &str, args: Vec<RawArg>) -> Result<Vec<RawArg>, QueryError> {
    for a in &args {
        if let Some(n) = &a.name {
            return Err(no_param(cmd, n, &[]));
        }
    }
    Ok(args)
}

fn plain_expr(cmd: &str, arg: RawArg) -> Result<Expr, QueryError> {
    match arg.value {
        RawValue::Expr(e) => Ok(e),
        _ => Err(QueryError::syntax(
            arg.span,
            format!("`{cmd}` expects an expression here"),
        )),
    }
}

fn field_name(cmd: &str, arg: RawArg) -> Result<Ident, QueryError> {
    match arg.value {
        RawValue::Expr(Expr {
            kind: ExprKind::Field(name),
            span,
            ..
        }) => Ok(Ident { name, span }),
        _ => Err(
            QueryError::syntax(arg.span, format!("`{cmd}` expects a field name here"))
                .with_hint("quote unusual names with backticks: `my field`"),
        ),
    }
}

fn field_item(cmd: &str, arg: RawArg) -> Result<FieldItem, QueryError> {
    match arg.value {
        RawValue::Expr(expr) => Ok(FieldItem { name: None, expr }),
        RawValue::Assign(name, expr) => Ok(FieldItem {
            name: Some(name),
            expr,
        }),
        _ => Err(QueryError::syntax(
            arg.span,
            format!("`{cmd}` expects `field`, `name = expression` or an expression"),
        )),
    }
}

fn sort_key(arg: RawArg) -> Result<SortKey, QueryError> {
    let span = arg.span;
    match arg.value {
        RawValue::Expr(expr) => Ok(SortKey {
            expr,
            descending: false,
            span,
        }),
        RawValue::Sorted(expr, descending) => Ok(SortKey {
            expr,
            descending,
            span,
        }),
        _ => Err(QueryError::syntax(span, "expected `expression [asc|desc]`")),
    }
}

fn one<T>(cmd: &str, span: Span, mut items: Vec<T>) -> Result<T, QueryError> {
    if items.len() != 1 {
        return Err(arity(
            span,
            format!("`{cmd}` takes exactly one argument, found {}", items.len()),
        ));
    }
    items
        .pop()
        .ok_or_else(|| arity(span, format!("`{cmd}` takes one argument")))
}

fn nonempty(cmd: &str, span: Span, len: usize) -> Result<(), QueryError> {
    if len == 0 {
        Err(arity(span, format!("`{cmd}` needs at least one argument")))
    } else {
        Ok(())
    }
}

fn build_command(name: &Ident, args: Vec<RawArg>, span: Span) -> Result<CommandKind, QueryError> {
    let cmd = name.name.as_str();
    Ok(match cmd {
        "filter" | "filterOut" => {
            let arg = one(cmd, span, positional(cmd, args)?)?;
            let e = plain_expr(cmd, arg)?;
            if cmd == "filter" {
                CommandKind::Filter(e)
            } else {
                CommandKind::FilterOut(e)
            }
        }
        "fields" | "fieldsAdd" => {
            let args = positional(cmd, args)?;
            nonempty(cmd, span, args.len())?;
            let items = args
                .into_iter()
                .map(|a| field_item(cmd, a))
                .collect::<Result<Vec<_>, _>>()?;
            if cmd == "fields" {
                CommandKind::Fields(items)
            } else {
                CommandKind::FieldsAdd(items)
            }
        }
        "fieldsRemove" => {
            let args = positional(cmd, args)?;
            nonempty(cmd, span, args.len())?;
            CommandKind::FieldsRemove(
                args.into_iter()
                    .map(|a| field_name(cmd, a))
                    .collect::<Result<_, _>>()?,
            )
        }
        "fieldsRename" => {
            let args = positional(cmd, args)?;
            nonempty(cmd, span, args.len())?;
            let mut pairs = Vec::new();
            for a in args {
                match a.value {
                    RawValue::Assign(
                        new,
                        Expr {
                            kind: ExprKind::Field(old),
                            span,
                            ..
                        },
                    ) => pairs.push((new, Ident { name: old, span })),
                    _ => {
                        return Err(QueryError::syntax(
                            a.span,
                            "`fieldsRename` expects `newName = oldName`",
                        ));
                    }
                }
            }
            CommandKind::FieldsRename(pairs)
        }
        "sort" => {
            let args = positional(cmd, args)?;
            nonempty(cmd, span, args.len())?;
            CommandKind::Sort(args.into_iter().map(sort_key).collect::<Result<_, _>>()?)
        }
        "limit" => {
            let arg = one(cmd, span, positional(cmd, args)?)?;
            let arg_span = arg.span;
            match plain_expr(cmd, arg)?.kind {
                ExprKind::Long(n) if n >= 0 => CommandKind::Limit {
                    count: n.unsigned_abs(),
                    span: arg_span,
                },
                _ => {
                    return Err(QueryError::new(
                        ErrorKind::Type,
                        arg_span,
                        "`limit` expects a non-negative whole number",
                    ));
                }
            }
        }
        "dedup" => {
            let mut keys = Vec::new();
            let mut sort = Vec::new();
            for a in args {
                match (&a.name, a.value) {
                    (None, RawValue::Expr(e)) => keys.push(e),
                    (Some(n), RawValue::Block(items)) if n.name == "sort" => {
                        sort = items.into_iter().map(sort_key).collect::<Result<_, _>>()?;
                    }
                    (Some(n), RawValue::Sorted(e, desc)) if n.name == "sort" => {
                        sort.push(SortKey {
                            expr: e,
                            descending: desc,
                            span: a.span,
                        })
                    }
                    (Some(n), RawValue::Expr(e)) if n.name == "sort" => sort.push(SortKey {
                        expr: e,
                        descending: false,
                        span: a.span,
                    }),
                    (Some(n), _) => return Err(no_param(cmd, n, &["sort"])),
                    (None, _) => {
                        return Err(QueryError::syntax(
                            a.span,
                            "`dedup` expects key expressions",
                        ));
                    }
                }
            }
            nonempty(cmd, span, keys.len())?;
            CommandKind::Dedup { keys, sort }
        }
        "summarize" => {
            let mut aggs = Vec::new();
            let mut by = Vec::new();
            for a in args {
                match (&a.name, a.value) {
                    (Some(n), RawValue::Block(items)) if n.name == "by" => {
                        by = items
                            .into_iter()
                            .map(|i| field_item(cmd, i))
                            .collect::<Result<_, _>>()?;
                    }
                    (Some(n), RawValue::Expr(e)) if n.name == "by" => {
                        by.push(FieldItem {
                            name: None,
                            expr: e,
                        });
                    }
                    (Some(n), _) => return Err(no_param(cmd, n, &["by"])),
                    (None, value) => aggs.push(field_item(
                        cmd,
                        RawArg {
                            name: None,
                            value,
                            span: a.span,
                        },
                    )?),
                }
            }
            if aggs.is_empty() && by.is_empty() {
                return Err(arity(
                    span,
                    "`summarize` needs an aggregation such as `count()`",
                ));
            }
            CommandKind::Summarize { aggs, by }
        }
        "expand" => {
            let arg = one(cmd, span, positional(cmd, args)?)?;
            CommandKind::Expand(field_name(cmd, arg)?)
        }
        "lookup" => build_lookup(args, span)?,
        "fetch" => {
            return Err(
                QueryError::syntax(name.span, "`fetch` can only start a query")
                    .with_hint("use `lookup [fetch …]` to join another data object"),
            );
        }
        _ => {
            return Err(QueryError::new(
                ErrorKind::UnknownCommand,
                name.span,
                format!("unknown command `{cmd}`"),
            )
            .suggest(cmd, COMMANDS.iter().copied()));
        }
    })
}

fn build_lookup(args: Vec<RawArg>, span: Span) -> Result<CommandKind, QueryError> {
    const PARAMS: [&str; 4] = ["sourceField", "lookupField", "prefix", "fields"];
    let mut sub = None;
    let mut source_field = None;
    let mut lookup_field = None;
    let mut prefix = None;
    let mut fields = None;
    for a in args {
        let arg_span = a.span;
        match (a.name, a.value) {
            (None, RawValue::Subquery(p)) if sub.is_none() => sub = Some(p),
            (Some(n), RawValue::Expr(e)) if n.name == "sourceField" || n.name == "lookupField" => {
                let id = field_name(
                    "lookup",
                    RawArg {
                        name: None,
                        value: RawValue::Expr(e),
                        span: arg_span,
                    },
                )?;
                if n.name == "sourceField" {
                    source_field = Some(id);
                } else {
                    lookup_field = Some(id);
                }
            }
            (
                Some(n),
                RawValue::Expr(Expr {
                    kind: ExprKind::Str(s),
                    span,
                    ..
                }),
            ) if n.name == "prefix" => prefix = Some((s, span)),
            (Some(n), RawValue::Block(items)) if n.name == "fields" => {
                fields = Some(
                    items
                        .into_iter()
                        .map(|i| field_name("lookup", i))
                        .collect::<Result<_, _>>()?,
                );
            }
            (Some(n), _) if PARAMS.contains(&n.name.as_str()) => {
                return Err(QueryError::syntax(
                    arg_span,
                    format!("bad value for `lookup` parameter `{}`", n.name),
                )
                .with_hint(
                    "sourceField:/lookupField: take a field name, prefix: a string, fields: {a, b}",
                ));
            }
            (Some(n), _) => return Err(no_param("lookup", &n, &PARAMS)),
            (None, _) => {
                return Err(QueryError::syntax(
                    arg_span,
                    "`lookup` expects one subquery `[fetch …]`",
                ));
            }
        }
    }
    let missing = |what: &str| {
        arity(span, format!("`lookup` needs {what}"))
            .with_hint("lookup [fetch advisories], sourceField: name, lookupField: name")
    };
    let sub = sub.ok_or_else(|| missing("a subquery `[fetch …]`"))?;
    let source_field = source_field.ok_or_else(|| missing("`sourceField:`"))?;
    let lookup_field = lookup_field.ok_or_else(|| missing("`lookupField:`"))?;
    Ok(CommandKind::Lookup(Box::new(Lookup {
        sub,
        source_field,
        lookup_field,
        prefix,
        fields,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SEED: &str = "fetch dt.entity.software_component\n| filter contains(softwareComponentShortName, \"debug\")\n| fieldsAdd softwareComponentType, packageName, softwareComponentVersion";

    #[test]
    fn seed_query_parses_verbatim() {
        let p = parse_pipeline(SEED).unwrap();
        assert_eq!(p.fetch.object.name, "dt.entity.software_component");
        assert_eq!(p.commands.len(), 2);
        let CommandKind::FieldsAdd(items) = &p.commands[1].kind else {
            panic!("{:?}", p.commands[1]);
        };
        assert_eq!(items.len(), 3);
        assert_eq!(
            &SEED[p.commands[0].span.start..p.commands[0].span.end],
            "filter contains(softwareComponentShortName, \"debug\")"
        );
    }

    #[test]
    fn workflow_filter_parses() {
        let src = r#"event.type == "VULNERABILITY_FINDING" and in("CWE-506", vulnerability.references.cwe) and finding.status == "NEW""#;
        let e = parse_expr(src).unwrap();
        assert_eq!(
            e.to_string(),
            r#"((event.type == "VULNERABILITY_FINDING") and in("CWE-506", vulnerability.references.cwe)) and (finding.status == "NEW")"#
        );
        assert_eq!(e.span, Span::new(0, src.len()));
    }

    #[test]
    fn expressions_print_canonically() {
        for (src, want) in [
            ("a + b * c", "a + (b * c)"),
            ("(a + b) * c", "(a + b) * c"),
            ("not a == b or c", "not (a == b) or c"),
            ("-2h", "-2h"),
            ("- x", "-x"),
            ("[1, 2.5, \"x\"]", "[1, 2.5, \"x\"]"),
            ("`weird name` == null", "`weird name` == null"),
            ("`and`", "`and`"),
            (
                "contains(a, \"b\", caseSensitive: false)",
                "contains(a, \"b\", caseSensitive: false)",
            ),
            ("a <> b", "a != b"),
            ("-9223372036854775808", "-9223372036854775808"),
        ] {
            assert_eq!(parse_expr(src).unwrap().to_string(), want, "{src}");
        }
    }

    #[test]
    fn commands_parse() {
        let src = r#"fetch security.events, from:-2h, to: now()
            | filterOut isNull(host.name)
            | fields a = lower(x), b, count()
            | fieldsRemove b
            | fieldsRename c = a
            | sort c desc, d asc, e
            | limit 10
            | dedup c, d, sort:{e desc}
            | summarize n = count(), countIf(x > 1), by:{c, k = lower(d)}
            | expand process.pids
            | lookup [fetch hosts | filter true], sourceField: host.name, lookupField: host.name, prefix: "h."
        "#;
        let p = parse_pipeline(src).unwrap();
        assert!(p.fetch.from.is_some() && p.fetch.to.is_some());
        assert_eq!(p.commands.len(), 10);
        let CommandKind::Summarize { aggs, by } = &p.commands[7].kind else {
            panic!()
        };
        assert_eq!(aggs.len(), 2);
        assert_eq!(by[1].name.as_ref().unwrap().name, "k");
        let CommandKind::Lookup(l) = &p.commands[9].kind else {
            panic!()
        };
        assert_eq!(l.prefix.as_ref().unwrap().0, "h.");
        assert_eq!(l.sub.commands.len(), 1);
        for c in &p.commands {
            assert!(c.span.end <= src.len() && c.span.start < c.span.end);
        }
    }

    #[test]
    fn syntax_errors_point_at_the_problem() {
        for (src, msg, at) in [
            ("filter x", "starts with `fetch`", "filter"),
            ("fetch", "expected a data object", ""),
            (
                "fetch hosts | filtr x == 1",
                "unknown command `filtr`",
                "filtr",
            ),
            ("fetch hosts | filter x ==", "expected a value", ""),
            ("fetch hosts | filter (x == 1", "expected `)`", ""),
            (
                "fetch hosts | filter a < b < c",
                "comparisons do not chain",
                "<",
            ),
            ("fetch hosts | limit -1", "non-negative", "-1"),
            ("fetch hosts | limit x", "non-negative", "x"),
            (
                "fetch hosts | filter a, b",
                "exactly one argument",
                "filter a, b",
            ),
            ("fetch hosts | fields 1 = a", "only a field name", "="),
            ("fetch hosts | sort", "at least one", "sort"),
            (
                "fetch hosts | summarize count(), bye:{a}",
                "no parameter `bye`",
                "bye",
            ),
            ("fetch hosts, form:-2h", "no parameter `form`", "form"),
            (
                "fetch hosts | lookup [fetch hosts]",
                "needs `sourceField:`",
                "lookup [fetch hosts]",
            ),
            ("fetch hosts | fetch hosts", "can only start", "fetch"),
            ("fetch hosts | filter and", "expected a value", "and"),
            ("fetch hosts x", "`,`, `|` or the end", "x"),
            ("fetch hosts | fieldsRename a", "newName = oldName", "a"),
        ] {
            let err = parse_pipeline(src).unwrap_err();
            assert!(err.message.contains(msg), "{src}: {}", err.message);
            if !at.is_empty() {
                assert_eq!(&src[err.span.start..err.span.end], at, "{src}");
            }
        }
        let err = parse_pipeline("fetch hosts | filtr x").unwrap_err();
        assert_eq!(err.hint.as_deref(), Some("did you mean `filter`?"));
    }

    #[test]
    fn nesting_is_bounded() {
        let deep = format!("{}1{}", "(".repeat(5000), ")".repeat(5000));
        assert!(
            parse_expr(&deep)
                .unwrap_err()
                .message
                .contains("too deeply")
        );
        let long = vec!["a"; 5000].join(" + ");
        assert!(
            parse_expr(&long)
                .unwrap_err()
                .message
                .contains("too deeply")
        );
        let nots = format!("{}x", "not ".repeat(5000));
        assert!(parse_expr(&nots).is_err());
        let negs = format!("{}x", "-".repeat(5000));
        assert!(parse_expr(&negs).is_err());
        let arrays = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
        assert!(parse_expr(&arrays).is_err());
        let calls = format!("{}x{}", "lower(".repeat(5000), ")".repeat(5000));
        assert!(parse_expr(&calls).is_err());
        let ok = vec!["a"; 150].join(" + ");
        assert!(parse_expr(&ok).is_ok());
        let subs = format!("fetch hosts{}", "| lookup [fetch hosts".repeat(20));
        assert!(parse_pipeline(&subs).is_err());
    }

    proptest! {
        #[test]
        fn never_panics(s in any::<String>()) {
            let _ = parse_pipeline(&s);
            let _ = parse_expr(&s);
        }

        #[test]
        fn never_panics_on_query_like_text(parts in proptest::collection::vec(prop_oneof![
            Just("fetch"), Just("hosts"), Just("|"), Just("filter"), Just("("), Just(")"), Just("["), Just("]"),
            Just("{"), Just("}"), Just(","), Just(":"), Just("="), Just("=="), Just("and"), Just("not"), Just("-"),
            Just("2h"), Just("\"x\""), Just("sort"), Just("desc"), Just("by"), Just("lookup"), Just("summarize"),
            Just("count"), Just("a.b"), Just("`q`"), Just("1.5"),
        ], 0..40)) {
            let s = parts.join(" ");
            let _ = parse_pipeline(&s);
            let _ = parse_expr(&s);
        }
    }
}
