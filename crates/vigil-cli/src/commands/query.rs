//! `vigil query 'PIPELINE' [--format table|json|csv]`: runs a query on a data directory or a
//! server. A wrong query is printed like a compiler error (source line, caret, hint) and
//! exits 2.

use std::io::{self, BufWriter, Write};

use clap::{Args, ValueEnum};
use serde_json::{Value, json};
use vigil_query::{ErrorKind, QueryError, Span};
use vigil_server::client::ClientError;
use vigil_server::query::{DEFAULT_LIMIT, QueryFailure, run_query};
use vigil_store::Timestamp;

use super::target::{Target, TargetArgs, report_client_error};
use crate::Outcome;
use crate::terminal::escape;

#[derive(Debug, Args)]
pub struct QueryArgs {
    /// The pipeline: `fetch OBJECT | command | …`.
    query: String,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    #[command(flatten)]
    target: TargetArgs,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Format {
    Table,
    Json,
    Csv,
}

pub fn run(args: QueryArgs) -> anyhow::Result<Outcome> {
    let target = match args.target.open() {
        Ok(t) => t,
        Err(message) => {
            eprintln!("vigil: {}", escape(&message));
            return Ok(Outcome::InputError);
        }
    };
    let result = match target {
        Target::Local { store, .. } => {
            let started = std::time::Instant::now();
            match run_query(&store, &args.query, Timestamp::now(), DEFAULT_LIMIT) {
                Ok(r) => {
                    let mut v = r.to_json();
                    if let Some(o) = v.as_object_mut() {
                        o.insert(
                            "took_ms".into(),
                            json!(started.elapsed().as_secs_f64() * 1000.0),
                        );
                    }
                    v
                }
                Err(QueryFailure::Query(e)) => {
                    eprint!("{}", e.render(&args.query));
                    return Ok(Outcome::InputError);
                }
                Err(QueryFailure::Store(e)) => return Err(e.into()),
            }
        }
        Target::Remote(client) => match client.query(&args.query) {
            Ok(v) => v,
            Err(ClientError::Api {
                status: 400, body, ..
            }) if body.get("span").is_some_and(|s| !s.is_null()) => {
                eprint!("{}", remote_error(&body).render(&args.query));
                return Ok(Outcome::InputError);
            }
            Err(e) => return report_client_error(&e),
        },
    };
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    match args.format {
        Format::Json => writeln!(out, "{}", serde_json::to_string_pretty(&result)?)?,
        Format::Csv => write_csv(&result, &mut out)?,
        Format::Table => write_table(&result, &mut out)?,
    }
    out.flush()?;
    if result.get("truncated").and_then(Value::as_bool) == Some(true) {
        eprintln!("vigil: more records exist; add `| limit N` to see more than {DEFAULT_LIMIT}");
    }
    Ok(Outcome::Clean)
}

/// A server's `{message, span, hint}` as a query error, to render like a local one.
fn remote_error(body: &Value) -> QueryError {
    let n = |k: &str| {
        body.pointer(&format!("/span/{k}"))
            .and_then(Value::as_u64)
            .and_then(|n| usize::try_from(n).ok())
            .unwrap_or(0)
    };
    let mut e = QueryError::new(
        ErrorKind::Syntax,
        Span::new(n("start"), n("end")),
        body.get("message")
            .and_then(Value::as_str)
            .unwrap_or("query error"),
    );
    if let Some(hint) = body.get("hint").and_then(Value::as_str) {
        e = e.with_hint(hint);
    }
    e
}

fn columns(result: &Value) -> Vec<String> {
    result
        .get("columns")
        .and_then(Value::as_array)
        .map(|cols| {
            cols.iter()
                .filter_map(|c| c.get("name").and_then(Value::as_str).map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn records(result: &Value) -> &[Value] {
    result
        .get("records")
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

fn cell(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

fn write_table(result: &Value, out: &mut impl Write) -> io::Result<()> {
    let cols = columns(result);
    let rows: Vec<Vec<String>> = records(result)
        .iter()
        .map(|r| {
            cols.iter()
                .map(|c| escape(&cell(r.get(c))).into_owned())
                .collect()
        })
        .collect();
    let mut widths: Vec<usize> = cols.iter().map(|c| c.chars().count()).collect();
    for row in &rows {
        for (w, v) in widths.iter_mut().zip(row) {
            *w = (*w).max(v.chars().count().min(80));
        }
    }
    let line = |out: &mut dyn Write, values: &[String]| -> io::Result<()> {
        let parts: Vec<String> = values
            .iter()
            .zip(&widths)
            .map(|(v, w)| {
                let v: String = v.chars().take(80).collect();
                format!("{v:<w$}")
            })
            .collect();
        writeln!(out, "{}", parts.join("  ").trim_end())
    };
    line(out, &cols)?;
    line(
        out,
        &widths.iter().map(|w| "-".repeat(*w)).collect::<Vec<_>>(),
    )?;
    for row in &rows {
        line(out, row)?;
    }
    writeln!(out, "({} records)", rows.len())
}

fn csv_field(text: &str) -> String {
    // Control characters (an attacker's package name) are escaped here as everywhere else.
    let text = escape(text);
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.into_owned()
    }
}

fn write_csv(result: &Value, out: &mut impl Write) -> io::Result<()> {
    let cols = columns(result);
    writeln!(
        out,
        "{}",
        cols.iter()
            .map(|c| csv_field(c))
            .collect::<Vec<_>>()
            .join(",")
    )?;
    for r in records(result) {
        let fields: Vec<String> = cols.iter().map(|c| csv_field(&cell(r.get(c)))).collect();
        writeln!(out, "{}", fields.join(","))?;
    }
    Ok(())
}
