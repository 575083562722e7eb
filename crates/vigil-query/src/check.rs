//! The checker: syntax tree → [`Plan`], or an error with a span and a hint.
//!
//! It resolves data objects, fields (with the object's Dynatrace aliases), functions and
//! aggregations against the catalogue, tracks which fields are in scope after every command,
//! types every expression, and reports unknown names with the nearest valid one. Everything
//! both back ends need to agree on is decided here.
//!
//! Cost: linear in the size of the query times the number of fields in scope.

use crate::ast::{self, BinaryOp, CallArg, CommandKind, Expr, ExprKind, FieldItem, Ident, UnaryOp};
use crate::catalog::{self, DataObject};
use crate::error::{ErrorKind, QueryError, Span};
use crate::parser::COMMANDS;
use crate::plan::*;
use crate::value::{Type, Value};

/// Scalar function names, for lookup and suggestions.
pub const FUNCTIONS: [&str; 15] = [
    "in",
    "contains",
    "startsWith",
    "endsWith",
    "matchesValue",
    "matchesPhrase",
    "lower",
    "upper",
    "concat",
    "isNull",
    "isNotNull",
    "coalesce",
    "if",
    "now",
    "array",
];

/// Aggregation names.
pub const AGGREGATIONS: [(&str, AggFunc); 11] = [
    ("count", AggFunc::Count),
    ("countIf", AggFunc::CountIf),
    ("countDistinct", AggFunc::CountDistinct),
    ("min", AggFunc::Min),
    ("max", AggFunc::Max),
    ("sum", AggFunc::Sum),
    ("avg", AggFunc::Avg),
    ("collectDistinct", AggFunc::CollectDistinct),
    ("collectArray", AggFunc::CollectArray),
    ("takeFirst", AggFunc::TakeFirst),
    ("takeMax", AggFunc::TakeMax),
];

/// Checks a whole pipeline.
pub fn check(pipeline: &ast::Pipeline) -> Result<Plan, QueryError> {
    check_pipeline(pipeline)
}

/// Checks a lone expression against the fields of `object` (a workflow trigger filter over
/// `security.events`). The expression sees the object's fields in catalogue order.
pub fn check_expr(expr: &Expr, object: &'static DataObject) -> Result<TExpr, QueryError> {
    Scope::of(object).expr(expr)
}

#[derive(Clone)]
struct Scope {
    object: &'static DataObject,
    cols: Vec<Column>,
    /// Catalogue fields dropped by earlier commands, for a better hint.
    dropped: Vec<String>,
}

fn type_err(span: Span, msg: impl Into<String>) -> QueryError {
    QueryError::new(ErrorKind::Type, span, msg)
}

fn arity(span: Span, msg: impl Into<String>) -> QueryError {
    QueryError::new(ErrorKind::Arity, span, msg)
}

fn texpr(kind: TKind, ty: Type, span: Span) -> TExpr {
    TExpr { kind, ty, span }
}

fn lit(v: Value, ty: Type, span: Span) -> TExpr {
    texpr(TKind::Lit(v), ty, span)
}

/// The column name of an unnamed item: a field keeps its name, anything else is its text.
fn item_name(item: &FieldItem) -> String {
    match (&item.name, &item.expr.kind) {
        (Some(n), _) => n.name.clone(),
        (None, ExprKind::Field(f)) => f.clone(),
        (None, _) => item.expr.to_string(),
    }
}

fn check_pipeline(p: &ast::Pipeline) -> Result<Plan, QueryError> {
    let object = catalog::object(&p.fetch.object.name).ok_or_else(|| {
        QueryError::new(
            ErrorKind::UnknownObject,
            p.fetch.object.span,
            format!("unknown data object `{}`", p.fetch.object.name),
        )
        .suggest(&p.fetch.object.name, catalog::object_names())
        .with_default_hint(|| {
            format!(
                "data objects: {}",
                catalog::OBJECTS
                    .iter()
                    .map(|o| o.name)
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })
    })?;
    let empty = Scope {
        object,
        cols: Vec::new(),
        dropped: Vec::new(),
    };
    let bound = |e: &Option<Expr>| -> Result<Option<TExpr>, QueryError> {
        let Some(e) = e else { return Ok(None) };
        if let ExprKind::Str(s) = &e.kind {
            let t = crate::time::parse_rfc3339(s).ok_or_else(|| {
                type_err(e.span, "not an RFC 3339 timestamp")
                    .with_hint("e.g. \"2025-09-08T13:00:00Z\", or a duration like -2h")
            })?;
            return Ok(Some(lit(Value::Timestamp(t), Type::Timestamp, e.span)));
        }
        let t = empty.expr(e)?;
        match t.ty {
            Type::Timestamp => Ok(Some(t)),
            Type::Duration => {
                let now = texpr(TKind::Now, Type::Timestamp, e.span);
                Ok(Some(texpr(
                    TKind::Arith(ArithOp::Add, Box::new(now), Box::new(t)),
                    Type::Timestamp,
                    e.span,
                )))
            }
            ref other => Err(type_err(
                e.span,
                format!("a time bound must be a duration or a timestamp, found {other}"),
            )
            .with_hint("e.g. from: -2h, to: now() - 1h, from: \"2025-09-08T00:00:00Z\"")),
        }
    };
    let from = bound(&p.fetch.from)?;
    let to = bound(&p.fetch.to)?;
    let mut scope = Scope::of(object);
    let mut stages = Vec::new();
    let mut has_limit = false;
    for cmd in &p.commands {
        if let CommandKind::Limit { .. } = cmd.kind {
            has_limit = true;
        }
        scope.command(cmd, &mut stages)?;
    }
    Ok(Plan {
        object,
        from,
        to,
        stages,
        columns: scope.cols,
        has_limit,
    })
}

trait DefaultHint {
    fn with_default_hint(self, f: impl FnOnce() -> String) -> Self;
}

impl DefaultHint for QueryError {
    fn with_default_hint(self, f: impl FnOnce() -> String) -> Self {
        if self.hint.is_some() {
            self
        } else {
            self.with_hint(f())
        }
    }
}

impl Scope {
    fn of(object: &'static DataObject) -> Scope {
        Scope {
            object,
            cols: object
                .fields
                .iter()
                .map(|f| Column {
                    name: f.name.to_string(),
                    ty: f.ty.ty(),
                })
                .collect(),
            dropped: Vec::new(),
        }
    }

    fn find(&self, name: &str) -> Option<usize> {
        self.cols.iter().position(|c| c.name == name)
    }

    /// Resolves a field name (or an alias of the object's fields) to a column.
    fn resolve(&self, name: &str, span: Span) -> Result<usize, QueryError> {
        if let Some(i) = self.find(name) {
            return Ok(i);
        }
        if let Some(i) = self.object.resolve_alias(name).and_then(|t| self.find(t)) {
            return Ok(i);
        }
        let err = QueryError::new(
            ErrorKind::UnknownField,
            span,
            format!("unknown field `{}`", crate::error::escape(name)),
        );
        if self.dropped.iter().any(|d| d == name) {
            return Err(err.with_hint(format!(
                "`{name}` was removed by an earlier command of the pipeline"
            )));
        }
        let aliases = self
            .object
            .field_aliases
            .iter()
            .filter(|(_, t)| self.find(t).is_some())
            .map(|(a, _)| *a);
        let names: Vec<&str> = self
            .cols
            .iter()
            .map(|c| c.name.as_str())
            .chain(aliases)
            .collect();
        Err(err.suggest(name, names))
    }

    fn drop_names(&mut self, kept: &[Column]) {
        for c in &self.cols {
            if !kept.iter().any(|k| k.name == c.name) {
                self.dropped.push(c.name.clone());
            }
        }
        self.dropped.retain(|d| !kept.iter().any(|k| &k.name == d));
    }

    fn col(&self, i: usize, span: Span) -> TExpr {
        let ty = self.cols.get(i).map_or(Type::Null, |c| c.ty.clone());
        texpr(TKind::Col(i), ty, span)
    }

    // ---- commands ----------------------------------------------------------------------------

    fn command(&mut self, cmd: &ast::Command, stages: &mut Vec<Stage>) -> Result<(), QueryError> {
        match &cmd.kind {
            CommandKind::Filter(e) | CommandKind::FilterOut(e) => {
                let pred = self.predicate(e, &cmd.name.name)?;
                stages.push(Stage::Filter {
                    pred,
                    negate: matches!(cmd.kind, CommandKind::FilterOut(_)),
                });
            }
            CommandKind::Fields(items) => {
                let mut exprs = Vec::new();
                let mut cols: Vec<Column> = Vec::new();
                for item in items {
                    let e = self.expr(&item.expr)?;
                    push_named(&mut exprs, &mut cols, item_name(item), e);
                }
                self.drop_names(&cols);
                self.cols = cols;
                stages.push(Stage::Project(exprs));
            }
            CommandKind::FieldsAdd(items) => {
                let mut exprs: Vec<TExpr> = (0..self.cols.len())
                    .map(|i| self.col(i, cmd.span))
                    .collect();
                let mut cols = self.cols.clone();
                for item in items {
                    let e = self.expr(&item.expr)?;
                    push_named(&mut exprs, &mut cols, item_name(item), e);
                }
                self.cols = cols;
                stages.push(Stage::Project(exprs));
            }
            CommandKind::FieldsRemove(names) => {
                let mut remove = Vec::new();
                for n in names {
                    let i = self.find(&n.name).ok_or_else(|| self.unknown_direct(n))?;
                    remove.push(i);
                }
                let keep: Vec<usize> = (0..self.cols.len())
                    .filter(|i| !remove.contains(i))
                    .collect();
                let cols: Vec<Column> = keep
                    .iter()
                    .filter_map(|&i| self.cols.get(i).cloned())
                    .collect();
                let exprs = keep.iter().map(|&i| self.col(i, cmd.span)).collect();
                self.drop_names(&cols);
                self.cols = cols;
                stages.push(Stage::Project(exprs));
            }
            CommandKind::FieldsRename(pairs) => {
                let mut exprs: Vec<TExpr> = (0..self.cols.len())
                    .map(|i| self.col(i, cmd.span))
                    .collect();
                let mut cols = self.cols.clone();
                for (new, old) in pairs {
                    let i = cols
                        .iter()
                        .position(|c| c.name == old.name)
                        .ok_or_else(|| self.unknown_direct(old))?;
                    // A field already called `new` is overwritten.
                    if let Some(j) = cols
                        .iter()
                        .position(|c| c.name == new.name)
                        .filter(|&j| j != i)
                    {
                        cols.remove(j);
                        exprs.remove(j);
                    }
                    let i = cols.iter().position(|c| c.name == old.name).unwrap_or(i);
                    if let Some(c) = cols.get_mut(i) {
                        c.name.clone_from(&new.name);
                    }
                }
                self.drop_names(&cols);
                self.cols = cols;
                stages.push(Stage::Project(exprs));
            }
            CommandKind::Sort(keys) => {
                let specs = self.sort_specs(keys)?;
                stages.push(Stage::Sort(specs));
            }
            CommandKind::Limit { count, .. } => stages.push(Stage::Limit(*count)),
            CommandKind::Dedup { keys, sort } => {
                let keys = keys
                    .iter()
                    .map(|k| self.expr(k))
                    .collect::<Result<Vec<_>, _>>()?;
                let order = self.sort_specs(sort)?;
                stages.push(Stage::Dedup { keys, order });
            }
            CommandKind::Summarize { aggs, by } => self.summarize(aggs, by, stages)?,
            CommandKind::Expand(field) => {
                let col = self.resolve(&field.name, field.span)?;
                let ty = self
                    .cols
                    .get(col)
                    .map(|c| c.ty.clone())
                    .unwrap_or(Type::Null);
                let Type::Array(elem) = ty else {
                    return Err(type_err(
                        field.span,
                        format!("`expand` needs an array field, `{}` is {ty}", field.name),
                    ));
                };
                if let Some(c) = self.cols.get_mut(col) {
                    c.ty = (*elem).clone();
                }
                stages.push(Stage::Expand { col, elem: *elem });
            }
            CommandKind::Lookup(l) => self.lookup(l, cmd.span, stages)?,
        }
        Ok(())
    }

    fn unknown_direct(&self, n: &Ident) -> QueryError {
        match self.resolve(&n.name, n.span) {
            Ok(_) => QueryError::new(
                ErrorKind::UnknownField,
                n.span,
                format!("`{}` is an alias, not a field of the records", n.name),
            )
            .with_hint(format!(
                "use the field it stands for: `{}`",
                self.object.resolve_alias(&n.name).unwrap_or_default()
            )),
            Err(e) => e,
        }
    }

    fn predicate(&self, e: &Expr, cmd: &str) -> Result<TExpr, QueryError> {
        let t = self.expr(e)?;
        if !matches!(t.ty, Type::Bool | Type::Null) {
            return Err(type_err(
                e.span,
                format!("`{cmd}` needs a boolean condition, found {}", t.ty),
            )
            .with_hint("compare it: `field == \"value\"`, or test it: `isNotNull(field)`"));
        }
        Ok(t)
    }

    fn sort_specs(&self, keys: &[ast::SortKey]) -> Result<Vec<SortSpec>, QueryError> {
        keys.iter()
            .map(|k| {
                let expr = self.expr(&k.expr)?;
                if expr.ty.is_array() {
                    return Err(type_err(k.expr.span, "cannot sort by an array"));
                }
                Ok(SortSpec {
                    expr,
                    desc: k.descending,
                })
            })
            .collect()
    }

    fn summarize(
        &mut self,
        aggs: &[FieldItem],
        by: &[FieldItem],
        stages: &mut Vec<Stage>,
    ) -> Result<(), QueryError> {
        let mut groups = Vec::new();
        let mut cols: Vec<Column> = Vec::new();
        for item in by {
            let e = self.expr(&item.expr)?;
            let name = item_name(item);
            if cols.iter().any(|c| c.name == name) {
                return Err(
                    type_err(item.expr.span, format!("duplicate group field `{name}`"))
                        .with_hint("name it: `by:{other = expression}`"),
                );
            }
            cols.push(Column {
                name,
                ty: e.ty.clone(),
            });
            groups.push(e);
        }
        let mut out = Vec::new();
        for item in aggs {
            let agg = self.aggregation(&item.expr)?;
            let name = item_name(item);
            if cols.iter().any(|c| c.name == name) {
                return Err(
                    type_err(item.expr.span, format!("duplicate field `{name}`"))
                        .with_hint("name it: `other = count()`"),
                );
            }
            cols.push(Column {
                name,
                ty: agg.ty.clone(),
            });
            out.push(agg);
        }
        self.drop_names(&cols);
        self.cols = cols;
        stages.push(Stage::Summarize { groups, aggs: out });
        Ok(())
    }

    fn aggregation(&self, e: &Expr) -> Result<Agg, QueryError> {
        let ExprKind::Call { name, args } = &e.kind else {
            return Err(
                type_err(e.span, "`summarize` takes aggregations such as `count()`")
                    .with_hint("compute other values afterwards with `fieldsAdd`"),
            );
        };
        let Some(func) = AGGREGATIONS
            .iter()
            .find(|(n, _)| *n == name.name)
            .map(|(_, f)| *f)
        else {
            let err = if FUNCTIONS.contains(&name.name.as_str()) {
                type_err(name.span, format!("`{}` is not an aggregation", name.name))
            } else {
                QueryError::new(
                    ErrorKind::UnknownFunction,
                    name.span,
                    format!("unknown aggregation `{}`", name.name),
                )
            };
            return Err(err.suggest(&name.name, AGGREGATIONS.iter().map(|(n, _)| *n)));
        };
        if let Some(named) = args.iter().find_map(|a| a.name.as_ref()) {
            return Err(arity(
                named.span,
                format!("`{}` has no parameter `{}`", name.name, named.name),
            ));
        }
        let want = usize::from(func != AggFunc::Count);
        if args.len() != want {
            return Err(arity(
                e.span,
                format!(
                    "`{}` takes {want} argument{}, found {}",
                    name.name,
                    if want == 1 { "" } else { "s" },
                    args.len()
                ),
            ));
        }
        let arg = match args.first() {
            Some(a) => Some(self.expr(&a.value)?),
            None => None,
        };
        let aty = arg.as_ref().map_or(Type::Null, |a| a.ty.clone());
        let span = args.first().map_or(e.span, |a| a.value.span);
        let scalar = |what: &str| -> Result<(), QueryError> {
            if aty.is_array() {
                Err(
                    type_err(span, format!("`{}` needs {what}, found {aty}", name.name))
                        .with_hint("`expand` the array first"),
                )
            } else {
                Ok(())
            }
        };
        let ty = match func {
            AggFunc::Count | AggFunc::CountDistinct => {
                scalar("a scalar")?;
                Type::Long
            }
            AggFunc::CountIf => {
                if !matches!(aty, Type::Bool | Type::Null) {
                    return Err(type_err(
                        span,
                        format!("`countIf` needs a boolean condition, found {aty}"),
                    ));
                }
                Type::Long
            }
            AggFunc::Min | AggFunc::Max | AggFunc::TakeMax | AggFunc::TakeFirst => {
                scalar("a scalar")?;
                aty
            }
            AggFunc::Sum => {
                if !(aty.is_numeric() || matches!(aty, Type::Duration | Type::Null)) {
                    return Err(type_err(span, format!("`sum` needs numbers, found {aty}")));
                }
                aty
            }
            AggFunc::Avg => {
                if !(aty.is_numeric() || aty == Type::Null) {
                    return Err(type_err(span, format!("`avg` needs numbers, found {aty}")));
                }
                Type::Double
            }
            AggFunc::CollectDistinct | AggFunc::CollectArray => {
                scalar("scalar values")?;
                Type::Array(Box::new(aty))
            }
        };
        Ok(Agg { func, arg, ty })
    }

    fn lookup(
        &mut self,
        l: &ast::Lookup,
        span: Span,
        stages: &mut Vec<Stage>,
    ) -> Result<(), QueryError> {
        let sub = check_pipeline(&l.sub)?;
        let source_key = self.resolve(&l.source_field.name, l.source_field.span)?;
        let sub_scope = Scope {
            object: sub.object,
            cols: sub.columns.clone(),
            dropped: Vec::new(),
        };
        let lookup_key = sub_scope.resolve(&l.lookup_field.name, l.lookup_field.span)?;
        let sty = self
            .cols
            .get(source_key)
            .map(|c| c.ty.clone())
            .unwrap_or(Type::Null);
        let lty = sub
            .columns
            .get(lookup_key)
            .map(|c| c.ty.clone())
            .unwrap_or(Type::Null);
        if !sty.comparable(&lty) || sty.is_array() || lty.is_array() {
            return Err(type_err(
                l.lookup_field.span,
                format!("lookup keys do not match: source is {sty}, lookup is {lty}"),
            ));
        }
        let take: Vec<usize> = match &l.fields {
            Some(fields) => fields
                .iter()
                .map(|f| sub_scope.resolve(&f.name, f.span))
                .collect::<Result<_, _>>()?,
            None => (0..sub.columns.len()).collect(),
        };
        let prefix = l.prefix.as_ref().map_or("lookup.", |(p, _)| p.as_str());
        let added: Vec<Column> = take
            .iter()
            .filter_map(|&i| sub.columns.get(i))
            .map(|c| Column {
                name: format!("{prefix}{}", c.name),
                ty: c.ty.clone(),
            })
            .collect();
        let old = self.cols.len();
        stages.push(Stage::Lookup(Box::new(LookupPlan {
            sub,
            source_key,
            lookup_key,
            take,
        })));
        // Added fields overwrite same-named ones: drop the old columns.
        let overwritten: Vec<usize> = (0..old)
            .filter(|&i| {
                self.cols
                    .get(i)
                    .is_some_and(|c| added.iter().any(|a| a.name == c.name))
            })
            .collect();
        let mut cols = self.cols.clone();
        cols.extend(added);
        if !overwritten.is_empty() {
            let keep: Vec<usize> = (0..cols.len())
                .filter(|i| !overwritten.contains(i))
                .collect();
            let exprs = keep
                .iter()
                .map(|&i| {
                    texpr(
                        TKind::Col(i),
                        cols.get(i).map_or(Type::Null, |c| c.ty.clone()),
                        span,
                    )
                })
                .collect();
            cols = keep.iter().filter_map(|&i| cols.get(i).cloned()).collect();
            stages.push(Stage::Project(exprs));
        }
        self.cols = cols;
        Ok(())
    }

    // ---- expressions -------------------------------------------------------------------------

    fn expr(&self, e: &Expr) -> Result<TExpr, QueryError> {
        let span = e.span;
        Ok(match &e.kind {
            ExprKind::Null => lit(Value::Null, Type::Null, span),
            ExprKind::Bool(b) => lit(Value::Bool(*b), Type::Bool, span),
            ExprKind::Long(n) => lit(Value::Long(*n), Type::Long, span),
            ExprKind::Double(x) => lit(Value::Double(*x), Type::Double, span),
            ExprKind::Str(s) => lit(Value::String(s.clone()), Type::String, span),
            ExprKind::Duration(n) => lit(Value::Duration(*n), Type::Duration, span),
            ExprKind::Field(name) => {
                let i = self.resolve(name, span)?;
                self.col(i, span)
            }
            ExprKind::Array(items) => self.array(items, span)?,
            ExprKind::Unary(UnaryOp::Not, inner) => {
                let t = self.expr(inner)?;
                if !matches!(t.ty, Type::Bool | Type::Null) {
                    return Err(type_err(
                        inner.span,
                        format!("`not` needs a boolean, found {}", t.ty),
                    ));
                }
                texpr(TKind::Not(Box::new(t)), Type::Bool, span)
            }
            ExprKind::Unary(UnaryOp::Neg, inner) => {
                let t = self.expr(inner)?;
                if !(t.ty.is_numeric() || matches!(t.ty, Type::Duration | Type::Null)) {
                    return Err(type_err(inner.span, format!("cannot negate {}", t.ty)));
                }
                let ty = t.ty.clone();
                texpr(TKind::Neg(Box::new(t)), ty, span)
            }
            ExprKind::Binary(op, a, b) => self.binary(*op, a, b, span)?,
            ExprKind::Call { name, args } => self.call(name, args, span)?,
        })
    }

    fn array(&self, items: &[Expr], span: Span) -> Result<TExpr, QueryError> {
        let mut elem = Type::Null;
        let mut out = Vec::new();
        for item in items {
            let t = self.expr(item)?;
            if t.ty.is_array() {
                return Err(type_err(item.span, "arrays cannot nest"));
            }
            elem = elem.unify(&t.ty).ok_or_else(|| {
                type_err(
                    item.span,
                    format!("array elements must share a type: {elem} and {}", t.ty),
                )
            })?;
            out.push(t);
        }
        Ok(texpr(TKind::Array(out), Type::Array(Box::new(elem)), span))
    }

    fn binary(&self, op: BinaryOp, a: &Expr, b: &Expr, span: Span) -> Result<TExpr, QueryError> {
        let ta = self.expr(a)?;
        let tb = self.expr(b)?;
        let mismatch = || {
            type_err(
                span,
                format!("cannot apply `{}` to {} and {}", op.symbol(), ta.ty, tb.ty),
            )
        };
        match op {
            BinaryOp::And | BinaryOp::Or => {
                for (t, e) in [(&ta, a), (&tb, b)] {
                    if !matches!(t.ty, Type::Bool | Type::Null) {
                        return Err(type_err(
                            e.span,
                            format!("`{}` needs booleans, found {}", op.symbol(), t.ty),
                        ));
                    }
                }
                let (a, b) = (Box::new(ta), Box::new(tb));
                let kind = if op == BinaryOp::And {
                    TKind::And(a, b)
                } else {
                    TKind::Or(a, b)
                };
                Ok(texpr(kind, Type::Bool, span))
            }
            op if op.is_comparison() => {
                if ta.ty.is_array() || tb.ty.is_array() {
                    return Err(mismatch().with_hint(
                        "arrays are not compared; test membership with `in(value, array)`",
                    ));
                }
                if !ta.ty.comparable(&tb.ty) {
                    return Err(mismatch());
                }
                let cop = match op {
                    BinaryOp::Eq => CmpOp::Eq,
                    BinaryOp::Ne => CmpOp::Ne,
                    BinaryOp::Lt => CmpOp::Lt,
                    BinaryOp::Le => CmpOp::Le,
                    BinaryOp::Gt => CmpOp::Gt,
                    _ => CmpOp::Ge,
                };
                Ok(texpr(
                    TKind::Cmp(cop, Box::new(ta), Box::new(tb)),
                    Type::Bool,
                    span,
                ))
            }
            _ => {
                use Type::*;
                let aop = match op {
                    BinaryOp::Add => ArithOp::Add,
                    BinaryOp::Sub => ArithOp::Sub,
                    BinaryOp::Mul => ArithOp::Mul,
                    BinaryOp::Div => ArithOp::Div,
                    _ => ArithOp::Rem,
                };
                let ty = match (aop, &ta.ty, &tb.ty) {
                    (_, Array(_), _) | (_, _, Array(_)) => None,
                    (ArithOp::Div, x, y)
                        if (x.is_numeric() || *x == Null) && (y.is_numeric() || *y == Null) =>
                    {
                        Some(Double)
                    }
                    (ArithOp::Rem, Long | Null, Long | Null) => Some(Long),
                    (ArithOp::Rem | ArithOp::Div, _, _) => None,
                    (_, Null, Null) => Some(Null),
                    (_, Long, Long) | (_, Long, Null) | (_, Null, Long) => Some(Long),
                    (_, x, y)
                        if (x.is_numeric() || *x == Null) && (y.is_numeric() || *y == Null) =>
                    {
                        Some(Double)
                    }
                    (ArithOp::Add, Timestamp, Duration | Null)
                    | (ArithOp::Add, Duration | Null, Timestamp)
                    | (ArithOp::Sub, Timestamp, Duration)
                    | (ArithOp::Sub, Null, Duration) => Some(Timestamp),
                    (ArithOp::Sub, Timestamp, Timestamp | Null) => Some(Duration),
                    (ArithOp::Add | ArithOp::Sub, Duration, Duration | Null)
                    | (ArithOp::Add, Null, Duration)
                    | (ArithOp::Mul, Duration, Long | Null)
                    | (ArithOp::Mul, Long | Null, Duration) => Some(Duration),
                    _ => None,
                };
                let Some(ty) = ty else {
                    let err = mismatch();
                    return Err(if ta.ty == String || tb.ty == String {
                        err.with_hint("join strings with `concat(a, b)`")
                    } else {
                        err
                    });
                };
                Ok(texpr(
                    TKind::Arith(aop, Box::new(ta), Box::new(tb)),
                    ty,
                    span,
                ))
            }
        }
    }

    fn call(&self, name: &Ident, args: &[CallArg], span: Span) -> Result<TExpr, QueryError> {
        let fname = name.name.as_str();
        if AGGREGATIONS.iter().any(|(n, _)| *n == fname) {
            return Err(type_err(
                name.span,
                format!("`{fname}` is an aggregation and can only be used in `summarize`"),
            )
            .with_hint(format!("e.g. `| summarize {fname}(…), by:{{field}}`")));
        }
        if !FUNCTIONS.contains(&fname) {
            let err = QueryError::new(
                ErrorKind::UnknownFunction,
                name.span,
                format!("unknown function `{}`", crate::error::escape(fname)),
            );
            let err = if COMMANDS.contains(&fname) {
                err.with_hint(format!("`{fname}` is a command: write it after `|`"))
            } else {
                err.suggest(
                    fname,
                    FUNCTIONS
                        .iter()
                        .copied()
                        .chain(AGGREGATIONS.iter().map(|(n, _)| *n)),
                )
            };
            return Err(err);
        }
        // Named parameters each function accepts.
        let allowed: &[&str] = match fname {
            "contains" | "startsWith" | "endsWith" => &["caseSensitive"],
            "if" => &["else"],
            _ => &[],
        };
        let mut positional = Vec::new();
        let mut named: Vec<(&Ident, &Expr)> = Vec::new();
        for a in args {
            match &a.name {
                Some(n) if allowed.contains(&n.name.as_str()) => {
                    if named.iter().any(|(m, _)| m.name == n.name) {
                        return Err(arity(n.span, format!("`{}` given twice", n.name)));
                    }
                    named.push((n, &a.value));
                }
                Some(n) => {
                    let err = arity(n.span, format!("`{fname}` has no parameter `{}`", n.name));
                    return Err(if allowed.is_empty() {
                        err
                    } else {
                        err.suggest(&n.name, allowed.iter().copied())
                    });
                }
                None => {
                    if !named.is_empty() {
                        return Err(arity(
                            a.value.span,
                            "positional arguments go before named ones",
                        ));
                    }
                    positional.push(&a.value);
                }
            }
        }
        let count = |min: usize, max: usize| -> Result<(), QueryError> {
            let n = positional.len();
            if n < min || n > max {
                let want = if min == max {
                    format!("{min}")
                } else if max == usize::MAX {
                    format!("at least {min}")
                } else {
                    format!("{min} to {max}")
                };
                return Err(arity(
                    span,
                    format!(
                        "`{fname}` takes {want} argument{}, found {n}",
                        if want == "1" { "" } else { "s" }
                    ),
                ));
            }
            Ok(())
        };
        let string_arg = |e: &Expr, what: &str| -> Result<TExpr, QueryError> {
            let t = self.expr(e)?;
            if !matches!(t.ty, Type::String | Type::Null) {
                return Err(type_err(
                    e.span,
                    format!("`{fname}` needs {what} string, found {}", t.ty),
                ));
            }
            Ok(t)
        };
        let literal_string = |e: &Expr, what: &str| -> Result<String, QueryError> {
            match &e.kind {
                ExprKind::Str(s) => Ok(s.clone()),
                _ => Err(type_err(
                    e.span,
                    format!("`{fname}` needs the {what} as a string literal"),
                )),
            }
        };
        let bool_literal = |e: &Expr| -> Result<bool, QueryError> {
            match e.kind {
                ExprKind::Bool(b) => Ok(b),
                _ => Err(type_err(e.span, "`caseSensitive` takes `true` or `false`")),
            }
        };
        let arg = |i: usize| {
            positional
                .get(i)
                .copied()
                .ok_or_else(|| arity(span, "missing argument"))
        };
        match fname {
            "contains" | "startsWith" | "endsWith" => {
                count(2, 3)?;
                let a = string_arg(arg(0)?, "a")?;
                let b = string_arg(arg(1)?, "a")?;
                let cs = match (positional.get(2), named.first()) {
                    (Some(_), Some((n, _))) => {
                        return Err(arity(n.span, "`caseSensitive` given twice"));
                    }
                    (Some(e), None) | (None, Some((_, e))) => bool_literal(e)?,
                    (None, None) => true,
                };
                let ci = !cs;
                let func = match fname {
                    "contains" => Func::Contains { ci },
                    "startsWith" => Func::StartsWith { ci },
                    _ => Func::EndsWith { ci },
                };
                Ok(texpr(TKind::Call(func, vec![a, b]), Type::Bool, span))
            }
            "matchesValue" | "matchesPhrase" => {
                count(2, 2)?;
                let v = self.expr(arg(0)?)?;
                let ok = matches!(&v.ty, Type::String | Type::Null)
                    || matches!(&v.ty, Type::Array(e) if matches!(**e, Type::String | Type::Null));
                if !ok {
                    return Err(type_err(
                        v.span,
                        format!(
                            "`{fname}` needs a string or an array of strings, found {}",
                            v.ty
                        ),
                    ));
                }
                let p = literal_string(arg(1)?, "pattern")?;
                let func = if fname == "matchesValue" {
                    Func::MatchesValue { pattern: p }
                } else {
                    Func::MatchesPhrase { phrase: p }
                };
                Ok(texpr(TKind::Call(func, vec![v]), Type::Bool, span))
            }
            "lower" | "upper" => {
                count(1, 1)?;
                let a = string_arg(arg(0)?, "a")?;
                let func = if fname == "lower" {
                    Func::Lower
                } else {
                    Func::Upper
                };
                Ok(texpr(TKind::Call(func, vec![a]), Type::String, span))
            }
            "concat" => {
                count(1, usize::MAX)?;
                let mut out = Vec::new();
                for e in &positional {
                    let t = self.expr(e)?;
                    if !matches!(t.ty, Type::String | Type::Long | Type::Bool | Type::Null) {
                        return Err(type_err(
                            e.span,
                            format!("`concat` joins strings, longs and booleans, found {}", t.ty),
                        ));
                    }
                    out.push(t);
                }
                Ok(texpr(TKind::Call(Func::Concat, out), Type::String, span))
            }
            "isNull" | "isNotNull" => {
                count(1, 1)?;
                let a = self.expr(arg(0)?)?;
                let func = if fname == "isNull" {
                    Func::IsNull
                } else {
                    Func::IsNotNull
                };
                Ok(texpr(TKind::Call(func, vec![a]), Type::Bool, span))
            }
            "coalesce" => {
                count(1, usize::MAX)?;
                let mut ty = Type::Null;
                let mut out = Vec::new();
                for e in &positional {
                    let t = self.expr(e)?;
                    ty = ty.unify(&t.ty).ok_or_else(|| {
                        type_err(
                            e.span,
                            format!("`coalesce` arguments must share a type: {ty} and {}", t.ty),
                        )
                    })?;
                    out.push(t);
                }
                Ok(texpr(TKind::Call(Func::Coalesce, out), ty, span))
            }
            "if" => {
                let else_named = named.first().map(|(_, e)| *e);
                count(2, if else_named.is_some() { 2 } else { 3 })?;
                let cond = self.expr(arg(0)?)?;
                if !matches!(cond.ty, Type::Bool | Type::Null) {
                    return Err(type_err(
                        cond.span,
                        format!("`if` needs a boolean condition, found {}", cond.ty),
                    ));
                }
                let then = self.expr(arg(1)?)?;
                let els = match else_named.or_else(|| positional.get(2).copied()) {
                    Some(e) => self.expr(e)?,
                    None => lit(Value::Null, Type::Null, span),
                };
                let ty = then.ty.unify(&els.ty).ok_or_else(|| {
                    type_err(
                        els.span,
                        format!(
                            "`if` branches must share a type: {} and {}",
                            then.ty, els.ty
                        ),
                    )
                })?;
                Ok(texpr(
                    TKind::Call(Func::If, vec![cond, then, els]),
                    ty,
                    span,
                ))
            }
            "now" => {
                count(0, 0)?;
                Ok(texpr(TKind::Now, Type::Timestamp, span))
            }
            "array" => {
                let items: Vec<Expr> = positional.iter().map(|e| (*e).clone()).collect();
                self.array(&items, span)
            }
            _ => {
                // "in"
                count(2, usize::MAX)?;
                let v = self.expr(arg(0)?)?;
                if v.ty.is_array() {
                    return Err(
                        type_err(v.span, "`in` looks for a scalar value, found an array")
                            .with_hint("write `in(value, arrayField)`"),
                    );
                }
                let mut items = Vec::new();
                for e in positional.iter().skip(1) {
                    let t = self.expr(e)?;
                    match (&t.kind, &t.ty) {
                        // `in(x, array(…))` / `in(x, [...])`: the literal's items.
                        (TKind::Array(elems), _) => items.extend(elems.iter().cloned()),
                        (_, Type::Array(elem)) if positional.len() == 2 => {
                            if !v.ty.comparable(elem) {
                                return Err(type_err(
                                    span,
                                    format!("`in` compares {} with elements of {}", v.ty, t.ty),
                                ));
                            }
                            return Ok(texpr(
                                TKind::Call(Func::InArray, vec![v, t]),
                                Type::Bool,
                                span,
                            ));
                        }
                        (_, Type::Array(_)) => {
                            return Err(type_err(
                                t.span,
                                "`in` takes either one array or a list of values",
                            ));
                        }
                        _ => items.push(t),
                    }
                }
                for t in &items {
                    if !v.ty.comparable(&t.ty) {
                        return Err(type_err(
                            t.span,
                            format!("`in` compares {} with {}", v.ty, t.ty),
                        ));
                    }
                }
                let mut all = vec![v];
                all.extend(items);
                Ok(texpr(TKind::Call(Func::InList, all), Type::Bool, span))
            }
        }
    }
}

/// Appends `name = e` to a layout, replacing a same-named column in place.
fn push_named(exprs: &mut Vec<TExpr>, cols: &mut Vec<Column>, name: String, e: TExpr) {
    let col = Column {
        name,
        ty: e.ty.clone(),
    };
    match cols.iter().position(|c| c.name == col.name) {
        Some(i) => {
            if let (Some(slot), Some(c)) = (exprs.get_mut(i), cols.get_mut(i)) {
                *slot = e;
                *c = col;
            }
        }
        None => {
            exprs.push(e);
            cols.push(col);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parser::{parse_expr, parse_pipeline};

    fn plan(src: &str) -> Result<Plan, QueryError> {
        check(&parse_pipeline(src)?)
    }

    #[test]
    fn seed_query_checks_with_dynatrace_names() {
        let p = plan("fetch dt.entity.software_component\n| filter contains(softwareComponentShortName, \"debug\")\n| fieldsAdd softwareComponentType, packageName, softwareComponentVersion").unwrap();
        let names: Vec<&str> = p.columns.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(
            &names[names.len() - 3..],
            [
                "softwareComponentType",
                "packageName",
                "softwareComponentVersion"
            ]
        );
        assert!(names.contains(&"name") && names.contains(&"k8s.namespace.name"));
    }

    #[test]
    fn workflow_filter_checks_against_security_events() {
        let e = parse_expr(r#"event.type == "VULNERABILITY_FINDING" and in("CWE-506", vulnerability.references.cwe) and finding.status == "NEW""#).unwrap();
        let t = check_expr(&e, &catalog::SECURITY_EVENTS).unwrap();
        assert_eq!(t.ty, Type::Bool);
    }

    #[test]
    fn errors_name_the_problem_and_suggest() {
        for (src, kind, msg, at, hint) in [
            (
                "fetch software_component",
                ErrorKind::UnknownObject,
                "unknown data object",
                "software_component",
                Some("did you mean `software_components`?"),
            ),
            (
                "fetch nothing_like_it",
                ErrorKind::UnknownObject,
                "unknown data object",
                "nothing_like_it",
                Some(
                    "data objects: software_components, hosts, containers, processes, advisories, findings, security.events",
                ),
            ),
            (
                "fetch software_components | filter nmae == \"x\"",
                ErrorKind::UnknownField,
                "unknown field `nmae`",
                "nmae",
                Some("did you mean `name`?"),
            ),
            (
                "fetch software_components | filter packageNme == \"x\"",
                ErrorKind::UnknownField,
                "unknown field",
                "packageNme",
                Some("did you mean `packageName`?"),
            ),
            (
                "fetch software_components | fields name | filter version == \"1\"",
                ErrorKind::UnknownField,
                "unknown field `version`",
                "version",
                Some("`version` was removed by an earlier command of the pipeline"),
            ),
            (
                "fetch software_components | filter contans(name, \"x\")",
                ErrorKind::UnknownFunction,
                "unknown function `contans`",
                "contans",
                Some("did you mean `contains`?"),
            ),
            (
                "fetch software_components | filter lower(name, 1) == \"x\"",
                ErrorKind::Arity,
                "takes 1 argument, found 2",
                "lower(name, 1)",
                None,
            ),
            (
                "fetch software_components | filter name == 1",
                ErrorKind::Type,
                "cannot apply `==` to string and long",
                "name == 1",
                None,
            ),
            (
                "fetch software_components | filter name",
                ErrorKind::Type,
                "needs a boolean condition, found string",
                "name",
                None,
            ),
            (
                "fetch software_components | fields x = name + \"a\"",
                ErrorKind::Type,
                "cannot apply `+`",
                "name + \"a\"",
                Some("join strings with `concat(a, b)`"),
            ),
            (
                "fetch software_components | filter count() > 1",
                ErrorKind::Type,
                "only be used in `summarize`",
                "count",
                None,
            ),
            (
                "fetch software_components | summarize cont()",
                ErrorKind::UnknownFunction,
                "unknown aggregation `cont`",
                "cont",
                Some("did you mean `count`?"),
            ),
            (
                "fetch software_components | summarize lower(name)",
                ErrorKind::Type,
                "not an aggregation",
                "lower",
                None,
            ),
            (
                "fetch software_components | summarize count() + 1",
                ErrorKind::Type,
                "takes aggregations",
                "count() + 1",
                None,
            ),
            (
                "fetch software_components | expand name",
                ErrorKind::Type,
                "needs an array field",
                "name",
                None,
            ),
            (
                "fetch software_components | filter matchesValue(name, name)",
                ErrorKind::Type,
                "string literal",
                "name",
                None,
            ),
            (
                "fetch software_components | filter contains(name, \"x\", caseSensitiv: false)",
                ErrorKind::Arity,
                "no parameter `caseSensitiv`",
                "caseSensitiv",
                Some("did you mean `caseSensitive`?"),
            ),
            (
                "fetch software_components | filter process.pids == 1",
                ErrorKind::Type,
                "cannot apply `==`",
                "process.pids == 1",
                None,
            ),
            (
                "fetch software_components | filter in(name, process.pids)",
                ErrorKind::Type,
                "`in` compares string",
                "in(name, process.pids)",
                None,
            ),
            (
                "fetch software_components, from: \"yesterday\"",
                ErrorKind::Type,
                "RFC 3339",
                "\"yesterday\"",
                None,
            ),
            (
                "fetch software_components, from: 5",
                ErrorKind::Type,
                "duration or a timestamp",
                "5",
                None,
            ),
            (
                "fetch software_components, from: name",
                ErrorKind::UnknownField,
                "unknown field",
                "name",
                None,
            ),
            (
                "fetch software_components | lookup [fetch hosts], sourceField: name, lookupField: host.nam",
                ErrorKind::UnknownField,
                "unknown field `host.nam`",
                "host.nam",
                Some("did you mean `host.name`?"),
            ),
            (
                "fetch software_components | lookup [fetch processes], sourceField: name, lookupField: process.pid",
                ErrorKind::Type,
                "lookup keys do not match",
                "process.pid",
                None,
            ),
            (
                "fetch software_components | fieldsRemove packageName",
                ErrorKind::UnknownField,
                "is an alias",
                "packageName",
                None,
            ),
            (
                "fetch software_components | summarize count(), count()",
                ErrorKind::Type,
                "duplicate field `count()`",
                "count()",
                None,
            ),
            (
                "fetch software_components | filter sort(name)",
                ErrorKind::UnknownFunction,
                "unknown function",
                "sort",
                Some("`sort` is a command: write it after `|`"),
            ),
            (
                "fetch software_components | sort process.pids",
                ErrorKind::Type,
                "cannot sort by an array",
                "process.pids",
                None,
            ),
            (
                "fetch software_components | fields x = if(dev, 1, \"a\")",
                ErrorKind::Type,
                "branches must share a type",
                "\"a\"",
                None,
            ),
            (
                "fetch software_components | fields x = concat(name, 1.5)",
                ErrorKind::Type,
                "`concat` joins",
                "1.5",
                None,
            ),
            (
                "fetch software_components | filter now() > 5",
                ErrorKind::Type,
                "cannot apply `>` to timestamp and long",
                "now() > 5",
                None,
            ),
        ] {
            let err = plan(src).unwrap_err();
            assert_eq!(err.kind, kind, "{src}: {err:?}");
            assert!(err.message.contains(msg), "{src}: {}", err.message);
            assert_eq!(&src[err.span.start..err.span.end], at, "{src}");
            if hint.is_some() {
                assert_eq!(err.hint.as_deref(), hint, "{src}");
            }
        }
    }

    #[test]
    fn scoping_follows_the_pipeline() {
        let cols = |src: &str| -> Vec<String> {
            plan(src)
                .unwrap()
                .columns
                .into_iter()
                .map(|c| c.name)
                .collect()
        };
        assert_eq!(
            cols("fetch hosts | fields host.name, n = 1, lower(os.name)"),
            ["host.name", "n", "lower(os.name)"]
        );
        assert_eq!(
            cols("fetch hosts | fields host.name, arch | fieldsRename a = arch"),
            ["host.name", "a"]
        );
        assert_eq!(
            cols("fetch hosts | fields host.name, arch | fieldsRename host.name = arch"),
            ["host.name"]
        );
        assert_eq!(
            cols("fetch hosts | fields host.name, arch | fieldsAdd arch = 1, x = 2"),
            ["host.name", "arch", "x"]
        );
        assert_eq!(
            cols("fetch hosts | fields host.name, arch | fieldsRemove arch"),
            ["host.name"]
        );
        assert_eq!(
            cols(
                "fetch software_components | summarize count(), n = countDistinct(name), by:{ecosystem, ns = k8s.namespace.name}"
            ),
            ["ecosystem", "ns", "count()", "n"]
        );
        assert_eq!(
            cols(
                "fetch software_components | fields name | lookup [fetch advisories | fields name, id], sourceField: name, lookupField: name"
            ),
            ["name", "lookup.name", "lookup.id"]
        );
        assert_eq!(
            cols(
                "fetch software_components | fields name, id = 1 | lookup [fetch advisories | fields name, id], sourceField: name, lookupField: name, prefix: \"\", fields: {id}"
            ),
            ["name", "id"]
        );
        assert_eq!(
            cols("fetch software_components | fields packageName, softwareComponentVersion"),
            ["packageName", "softwareComponentVersion"]
        );
    }
}
