//! The syntax tree. Every node carries the [`Span`] of the text it came from, so every later
//! error (unknown field, type mismatch, runtime failure) can point at it.

use std::fmt;

use crate::error::Span;

/// A name and where it is written: a field, command, function, object or parameter name.
#[derive(Clone, Debug, PartialEq)]
pub struct Ident {
    /// The name, unquoted.
    pub name: String,
    /// Where it is written.
    pub span: Span,
}

/// `fetch OBJECT [, from:] [, to:] | command | …`
#[derive(Clone, Debug, PartialEq)]
pub struct Pipeline {
    /// The `fetch` that starts it.
    pub fetch: Fetch,
    /// The commands after it, in order.
    pub commands: Vec<Command>,
    /// The whole pipeline.
    pub span: Span,
}

/// `fetch OBJECT [, from: EXPR] [, to: EXPR]`
#[derive(Clone, Debug, PartialEq)]
pub struct Fetch {
    /// The data object (`software_components`, `dt.entity.software_component`, …).
    pub object: Ident,
    /// Start of the time window: a duration relative to now (`-2h`) or a timestamp.
    pub from: Option<Expr>,
    /// End of the time window.
    pub to: Option<Expr>,
    /// The whole `fetch` clause.
    pub span: Span,
}

/// One pipeline command.
#[derive(Clone, Debug, PartialEq)]
pub struct Command {
    /// The command word as written.
    pub name: Ident,
    /// What it does.
    pub kind: CommandKind,
    /// The command with its arguments.
    pub span: Span,
}

/// The commands of the language.
#[derive(Clone, Debug, PartialEq)]
pub enum CommandKind {
    /// `filter EXPR`: keeps records where EXPR is true.
    Filter(Expr),
    /// `filterOut EXPR`: drops records where EXPR is true (keeps false and null).
    FilterOut(Expr),
    /// `fields a, n = expr`: keeps exactly these.
    Fields(Vec<FieldItem>),
    /// `fieldsAdd a, n = expr`: adds or overwrites.
    FieldsAdd(Vec<FieldItem>),
    /// `fieldsRemove a, b`.
    FieldsRemove(Vec<Ident>),
    /// `fieldsRename new = old, …`.
    FieldsRename(Vec<(Ident, Ident)>),
    /// `sort expr [asc|desc], …`.
    Sort(Vec<SortKey>),
    /// `limit N`.
    Limit {
        /// The record count.
        count: u64,
        /// Where N is written.
        span: Span,
    },
    /// `dedup expr, … [, sort:{…}]`: first record per key.
    Dedup {
        /// Key expressions.
        keys: Vec<Expr>,
        /// Which record is first.
        sort: Vec<SortKey>,
    },
    /// `summarize [n =] agg(…), … [, by:{…}]`.
    Summarize {
        /// Aggregations.
        aggs: Vec<FieldItem>,
        /// Grouping keys.
        by: Vec<FieldItem>,
    },
    /// `expand FIELD`: one record per array element.
    Expand(Ident),
    /// `lookup [PIPELINE], sourceField: F, lookupField: G [, prefix: "p."] [, fields:{…}]`.
    Lookup(Box<Lookup>),
}

/// The arguments of `lookup`.
#[derive(Clone, Debug, PartialEq)]
pub struct Lookup {
    /// The lookup table.
    pub sub: Pipeline,
    /// Key field of the source records.
    pub source_field: Ident,
    /// Key field of the lookup records.
    pub lookup_field: Ident,
    /// Prefix of the added field names (default `lookup.`).
    pub prefix: Option<(String, Span)>,
    /// Which lookup fields to add (default: all).
    pub fields: Option<Vec<Ident>>,
}

/// `[name =] expr` in `fields`, `fieldsAdd`, `summarize` and `by:`.
#[derive(Clone, Debug, PartialEq)]
pub struct FieldItem {
    /// The explicit name, if any.
    pub name: Option<Ident>,
    /// The value.
    pub expr: Expr,
}

/// `expr [asc|desc]`.
#[derive(Clone, Debug, PartialEq)]
pub struct SortKey {
    /// The sort key.
    pub expr: Expr,
    /// Descending?
    pub descending: bool,
    /// Key and direction.
    pub span: Span,
}

/// An expression node.
#[derive(Clone, Debug, PartialEq)]
pub struct Expr {
    /// What it is.
    pub kind: ExprKind,
    /// Where it is written.
    pub span: Span,
    /// Height of the tree under this node (1 for a leaf); bounded by the parser so later
    /// recursive passes cannot overflow the stack.
    pub depth: u32,
}

/// Expression forms.
#[derive(Clone, Debug, PartialEq)]
pub enum ExprKind {
    /// `null`
    Null,
    /// `true` / `false`
    Bool(bool),
    /// An integer.
    Long(i64),
    /// A decimal.
    Double(f64),
    /// A string.
    Str(String),
    /// A duration in nanoseconds (`30m`).
    Duration(i64),
    /// A field reference (dotted or backtick-quoted).
    Field(String),
    /// `[a, b]` (also `array(a, b)`, which parses as a call).
    Array(Vec<Expr>),
    /// `not x`, `-x`.
    Unary(UnaryOp, Box<Expr>),
    /// `a op b`.
    Binary(BinaryOp, Box<Expr>, Box<Expr>),
    /// `f(args)`.
    Call {
        /// Function name.
        name: Ident,
        /// Arguments, positional and named.
        args: Vec<CallArg>,
    },
}

/// A function argument, positional or `name: value`.
#[derive(Clone, Debug, PartialEq)]
pub struct CallArg {
    /// `name:` when named.
    pub name: Option<Ident>,
    /// The value.
    pub value: Expr,
}

/// Prefix operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnaryOp {
    /// `not`
    Not,
    /// `-`
    Neg,
}

/// Infix operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinaryOp {
    Or,
    And,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Add,
    Sub,
    Mul,
    Div,
    Rem,
}

impl BinaryOp {
    /// The operator as written.
    pub fn symbol(self) -> &'static str {
        match self {
            BinaryOp::Or => "or",
            BinaryOp::And => "and",
            BinaryOp::Eq => "==",
            BinaryOp::Ne => "!=",
            BinaryOp::Lt => "<",
            BinaryOp::Le => "<=",
            BinaryOp::Gt => ">",
            BinaryOp::Ge => ">=",
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Mul => "*",
            BinaryOp::Div => "/",
            BinaryOp::Rem => "%",
        }
    }

    /// Is this a comparison (`==` … `>=`)?
    pub fn is_comparison(self) -> bool {
        matches!(
            self,
            BinaryOp::Eq | BinaryOp::Ne | BinaryOp::Lt | BinaryOp::Le | BinaryOp::Gt | BinaryOp::Ge
        )
    }
}

/// Canonical text of an expression; names the columns of unnamed `fields`/`summarize` items
/// (`count()`, `lower(name)`), as DQL does.
impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ExprKind::Null => f.write_str("null"),
            ExprKind::Bool(b) => write!(f, "{b}"),
            ExprKind::Long(n) => write!(f, "{n}"),
            ExprKind::Double(x) => write!(f, "{x:?}"),
            ExprKind::Str(s) => write!(f, "{s:?}"),
            ExprKind::Duration(n) => write!(f, "{}", format_duration(*n)),
            ExprKind::Field(name) => {
                if is_plain_name(name) {
                    f.write_str(name)
                } else {
                    write!(f, "`{}`", name.replace('\\', "\\\\").replace('`', "\\`"))
                }
            }
            ExprKind::Array(items) => {
                f.write_str("[")?;
                for (i, e) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{e}")?;
                }
                f.write_str("]")
            }
            ExprKind::Unary(op, e) => {
                f.write_str(if *op == UnaryOp::Not { "not " } else { "-" })?;
                if matches!(e.kind, ExprKind::Binary(..)) {
                    write!(f, "({e})")
                } else {
                    write!(f, "{e}")
                }
            }
            ExprKind::Binary(op, a, b) => {
                let paren = |e: &Expr| matches!(e.kind, ExprKind::Binary(..));
                let side = |f: &mut fmt::Formatter<'_>, e: &Expr| {
                    if paren(e) {
                        write!(f, "({e})")
                    } else {
                        write!(f, "{e}")
                    }
                };
                side(f, a)?;
                write!(f, " {} ", op.symbol())?;
                side(f, b)
            }
            ExprKind::Call { name, args } => {
                write!(f, "{}(", name.name)?;
                for (i, a) in args.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    if let Some(n) = &a.name {
                        write!(f, "{}: ", n.name)?;
                    }
                    write!(f, "{}", a.value)?;
                }
                f.write_str(")")
            }
        }
    }
}

/// Is `name` writable without backticks (a dotted identifier that is not a keyword)?
pub fn is_plain_name(name: &str) -> bool {
    const KEYWORDS: [&str; 7] = ["and", "or", "not", "true", "false", "null", "xor"];
    !KEYWORDS.contains(&name)
        && name.split('.').all(|part| {
            let mut bytes = part.bytes();
            bytes
                .next()
                .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_' || b == b'$')
                && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'$')
        })
}

fn format_duration(nanos: i64) -> String {
    for (unit, per) in [
        ("d", 86_400_000_000_000),
        ("h", 3_600_000_000_000),
        ("m", 60_000_000_000),
        ("s", 1_000_000_000),
        ("ms", 1_000_000),
        ("us", 1_000),
    ] {
        if nanos != 0 && nanos % per == 0 {
            return format!("{}{unit}", nanos / per);
        }
    }
    format!("{nanos}ns")
}
