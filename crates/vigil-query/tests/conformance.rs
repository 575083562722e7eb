//! The conformance table: every case runs through the SQL path (compiled for SQLite and run
//! against an in-memory database whose views follow the catalogue's contract) and through the
//! in-memory evaluator, and both must give the expected rows (or the expected error).
//!
//! Cases live in `tests/conformance/*.dqlt`:
//!
//! ```text
//! ### a name
//! fetch … | …                 (one or more lines)
//! --- rows                    unordered; `--- rows ordered` compares order too
//! [{"field": value, …}, …]    JSON, one or more lines
//! --- error unknown field     the checker rejects it; the message contains the text
//! --- runtime integer overflow  both paths fail at run time with this text
//! ```
//!
//! `tests/conformance/expressions.dqlt` holds one-line cases `EXPR => JSON` (or
//! `EXPR => error TEXT`) evaluated over the security event `e1`: through SQL
//! (`fetch security.events | filter event.id == "e1" | fields v = EXPR`), through the pipeline
//! evaluator, and through `Predicate`-style evaluation of the raw record — three ways.
//!
//! The same table runs on PostgreSQL when a server answers (`VIGIL_TEST_PG`, default the local
//! `test` database); otherwise that test says it skips.

// Test helpers: a broken fixture should fail loudly.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use rusqlite::Connection;
use rusqlite::types::{Value as Sv, ValueRef};
use serde_json::Value as J;
use vigil_query::catalog::{self, DataObject};
use vigil_query::eval::{self, EvalContext, MemoryStore, RunOptions};
use vigil_query::sql::{self, CompileOptions, CompiledQuery, Dialect, SqlParam};
use vigil_query::{QueryError, QueryResult, SqlValue, Type, Value};

/// `now()` of every case: 2025-09-08T14:00:00Z.
const NOW: i64 = 1_757_340_000_000_000_000;

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/conformance")
}

fn fixture() -> serde_json::Map<String, J> {
    let text = std::fs::read_to_string(dir().join("store.json")).unwrap();
    match serde_json::from_str(&text).unwrap() {
        J::Object(m) => m,
        _ => panic!("store.json must be an object"),
    }
}

fn memory_store() -> MemoryStore {
    let mut store = MemoryStore::new();
    for (name, records) in fixture() {
        let object = catalog::object(&name).unwrap();
        store.insert(object, records.as_array().unwrap().clone());
    }
    store
}

fn to_sqlite(v: &Value) -> Sv {
    match v {
        Value::Null => Sv::Null,
        Value::Bool(b) => Sv::Integer(i64::from(*b)),
        Value::Long(n) | Value::Timestamp(n) | Value::Duration(n) => Sv::Integer(*n),
        Value::Double(x) => Sv::Real(*x),
        Value::String(s) => Sv::Text(s.clone()),
        Value::Array(_) => Sv::Text(v.to_json().to_string()),
    }
}

/// A SQLite database holding the fixture, with one view per data object as the store must
/// provide (tables `t_*` behind views `q_*`).
fn sqlite_store() -> Connection {
    let conn = Connection::open_in_memory().unwrap();
    let data = fixture();
    for object in catalog::OBJECTS {
        let table = format!("t_{}", object.view);
        let cols: Vec<String> = object
            .fields
            .iter()
            .map(|f| format!("\"{}\" {}", f.name, f.ty.sqlite_type()))
            .collect();
        conn.execute(&format!("CREATE TABLE {table} ({})", cols.join(", ")), [])
            .unwrap();
        // Each fixture row is its own narrowing key (its rowid).
        let view = match &object.narrowing {
            Some(n) => {
                let fields: Vec<String> = n.fields.iter().map(|f| format!("\"{f}\"")).collect();
                conn.execute(
                    &format!(
                        "CREATE VIEW {} AS SELECT rowid AS \"{}\", {} FROM {table}",
                        n.view,
                        n.key,
                        fields.join(", ")
                    ),
                    [],
                )
                .unwrap();
                format!(
                    "CREATE VIEW {} AS SELECT *, rowid AS \"{}\" FROM {table}",
                    object.view, n.key
                )
            }
            None => format!("CREATE VIEW {} AS SELECT * FROM {table}", object.view),
        };
        conn.execute(&view, []).unwrap();
        let marks: Vec<String> = (1..=object.fields.len()).map(|i| format!("?{i}")).collect();
        let insert = format!("INSERT INTO {table} VALUES ({})", marks.join(", "));
        for record in data
            .get(object.name)
            .and_then(J::as_array)
            .map_or(&[][..], Vec::as_slice)
        {
            let row = eval::record_to_row(object, record);
            conn.execute(
                &insert,
                rusqlite::params_from_iter(row.iter().map(to_sqlite)),
            )
            .unwrap();
        }
    }
    conn
}

/// A database the compiled SQL runs on.
trait Backend {
    fn dialect(&self) -> Dialect;
    fn run(&mut self, q: &CompiledQuery) -> Result<QueryResult, String>;
    /// Cases this backend is known to answer differently, and why (documented deviations).
    fn skip(&self, _case: &Case) -> Option<&'static str> {
        None
    }
}

impl Backend for Connection {
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    fn run(&mut self, q: &CompiledQuery) -> Result<QueryResult, String> {
        run_sqlite(self, q)
    }
}

fn run_sqlite(conn: &Connection, q: &CompiledQuery) -> Result<QueryResult, String> {
    let params: Vec<Sv> = q
        .params
        .iter()
        .map(|p| match p {
            SqlParam::Integer(n) => Sv::Integer(*n),
            SqlParam::Real(x) => Sv::Real(*x),
            SqlParam::Text(s) => Sv::Text(s.clone()),
            SqlParam::Bool(b) => Sv::Integer(i64::from(*b)),
        })
        .collect();
    let mut stmt = conn
        .prepare(&q.sql)
        .map_err(|e| format!("prepare: {e}\n{}", q.sql))?;
    let n = stmt.column_count();
    let mut rows = stmt
        .query(rusqlite::params_from_iter(params))
        .map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(|e| e.to_string())? {
        let mut r = Vec::new();
        for i in 0..n {
            r.push(match row.get_ref(i).map_err(|e| e.to_string())? {
                ValueRef::Null => SqlValue::Null,
                ValueRef::Integer(n) => SqlValue::Integer(n),
                ValueRef::Real(x) => SqlValue::Real(x),
                ValueRef::Text(t) => SqlValue::Text(String::from_utf8_lossy(t).into_owned()),
                ValueRef::Blob(_) => return Err("blob".into()),
            });
        }
        out.push(r);
    }
    q.decode(out).map_err(|e| e.message)
}

/// Numbers compare with a relative tolerance (SQLite and Rust may round sums differently).
fn json_eq(a: &J, b: &J) -> bool {
    match (a, b) {
        (J::Number(x), J::Number(y)) => {
            let (x, y) = (
                x.as_f64().unwrap_or(f64::NAN),
                y.as_f64().unwrap_or(f64::NAN),
            );
            x == y || (x - y).abs() <= 1e-9 * x.abs().max(y.abs())
        }
        (J::Array(x), J::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| json_eq(a, b))
        }
        (J::Object(x), J::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

fn rows_eq(a: &[J], b: &[J], ordered: bool) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let (mut a, mut b) = (a.to_vec(), b.to_vec());
    if !ordered {
        a.sort_by_key(|r| r.to_string());
        b.sort_by_key(|r| r.to_string());
    }
    a.iter().zip(&b).all(|(x, y)| json_eq(x, y))
}

#[derive(Debug)]
enum Expect {
    Rows { rows: Vec<J>, ordered: bool },
    Error(String),
    Runtime(String),
}

#[derive(Debug)]
struct Case {
    file: String,
    name: String,
    query: String,
    expect: Expect,
}

fn parse_cases(file: &str, text: &str) -> Vec<Case> {
    let mut cases = Vec::new();
    for block in text.split("\n### ").skip(1) {
        let (name, rest) = block.split_once('\n').unwrap_or((block, ""));
        let (query, expect) = rest
            .split_once("\n--- ")
            .unwrap_or_else(|| panic!("{file}: case {name:?} has no `---` line"));
        let (kind, body) = expect.split_once('\n').unwrap_or((expect, ""));
        let kind = kind.trim();
        let expect = if let Some(msg) = kind.strip_prefix("error ") {
            Expect::Error(msg.to_string())
        } else if let Some(msg) = kind.strip_prefix("runtime ") {
            Expect::Runtime(msg.to_string())
        } else {
            let ordered = match kind {
                "rows" => false,
                "rows ordered" => true,
                other => panic!("{file}: case {name:?}: unknown expectation {other:?}"),
            };
            let rows: Vec<J> = serde_json::from_str(body.trim())
                .unwrap_or_else(|e| panic!("{file}: case {name:?}: bad JSON: {e}"));
            Expect::Rows { rows, ordered }
        };
        cases.push(Case {
            file: file.to_string(),
            name: name.trim().to_string(),
            query: query.trim().to_string(),
            expect,
        });
    }
    cases
}

fn expression_cases(text: &str) -> Vec<Case> {
    let mut cases = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (expr, want) = line
            .rsplit_once(" => ")
            .unwrap_or_else(|| panic!("expressions: no ` => ` in {line:?}"));
        let expect = if let Some(msg) = want.strip_prefix("error ") {
            Expect::Error(msg.to_string())
        } else {
            let v: J = serde_json::from_str(want)
                .unwrap_or_else(|e| panic!("expressions: bad JSON in {line:?}: {e}"));
            Expect::Rows {
                rows: vec![serde_json::json!({ "v": v })],
                ordered: true,
            }
        };
        cases.push(Case {
            file: "expressions.dqlt".into(),
            name: expr.to_string(),
            query: format!("fetch security.events | filter event.id == \"e1\" | fields v = {expr}"),
            expect,
        });
    }
    cases
}

fn all_cases() -> Vec<Case> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "dqlt"))
        .collect();
    files.sort();
    let mut cases = Vec::new();
    for f in files {
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&f).unwrap();
        if name == "expressions.dqlt" {
            cases.extend(expression_cases(&text));
        } else {
            cases.extend(parse_cases(&name, &format!("\n{text}")));
        }
    }
    cases
}

fn options(dialect: Dialect) -> CompileOptions {
    CompileOptions {
        dialect,
        now: NOW,
        default_limit: 1000,
    }
}

/// Runs one case; `Err` says what differed.
fn run_case(case: &Case, db: &mut dyn Backend, store: &MemoryStore) -> Result<(), String> {
    let plan = match vigil_query::prepare(&case.query) {
        Ok(plan) => plan,
        Err(e) => {
            return match &case.expect {
                Expect::Error(msg) if e.message.contains(msg.as_str()) => {
                    check_error_shape(&case.query, &e)
                }
                _ => Err(format!("unexpected error: {}", e.render(&case.query))),
            };
        }
    };
    if let Expect::Error(msg) = &case.expect {
        return Err(format!("expected error {msg:?}, the query was accepted"));
    }
    let compiled = sql::compile(&plan, &options(db.dialect())).map_err(|e| e.message)?;
    // Both dialects must compile every accepted query, even where only one runs.
    sql::compile(&plan, &options(Dialect::Postgres)).map_err(|e| e.message)?;
    let via_sql = db.run(&compiled);
    let via_memory = eval::run(&plan, store, &RunOptions::at(NOW)).map_err(|e| e.message);
    match &case.expect {
        Expect::Runtime(msg) => {
            for (path, r) in [("sql", &via_sql), ("memory", &via_memory)] {
                match r {
                    Err(e)
                        if e.contains(msg.as_str())
                            || (path == "sql" && db.dialect() == Dialect::Postgres) => {}
                    Err(e) => return Err(format!("{path}: wrong error {e:?}")),
                    Ok(r) => {
                        return Err(format!(
                            "{path}: expected an error, got {:?}",
                            r.records_json()
                        ));
                    }
                }
            }
            Ok(())
        }
        Expect::Rows { rows, ordered } => {
            let a = via_sql.map_err(|e| format!("sql failed: {e}\n{}", compiled.sql))?;
            let b = via_memory.map_err(|e| format!("memory failed: {e}"))?;
            let (ja, jb) = (a.records_json(), b.records_json());
            if !rows_eq(&ja, &jb, *ordered) {
                return Err(format!(
                    "SQL and memory disagree\n  sql:    {}\n  memory: {}\n{}",
                    J::Array(ja),
                    J::Array(jb),
                    compiled.sql
                ));
            }
            if a.columns != b.columns {
                return Err(format!(
                    "columns differ: {:?} vs {:?}",
                    a.columns, b.columns
                ));
            }
            if !rows_eq(&ja, rows, *ordered) {
                return Err(format!(
                    "unexpected rows\n  got:  {}\n  want: {}",
                    J::Array(ja),
                    J::Array(rows.clone())
                ));
            }
            if case.file == "expressions.dqlt" {
                check_single_record(case, store, rows)?;
            }
            Ok(())
        }
        Expect::Error(_) => unreachable!("handled above"),
    }
}

fn check_error_shape(query: &str, e: &QueryError) -> Result<(), String> {
    if e.span.start > e.span.end || e.span.end > query.len() {
        return Err(format!("error span {:?} out of the query", e.span));
    }
    let json = e.to_json();
    if json["message"] != J::String(e.message.clone()) || !json["span"]["start"].is_u64() {
        return Err(format!("bad JSON form {json}"));
    }
    let rendered = e.render(query);
    if !rendered.contains('^') {
        return Err(format!("rendering has no caret:\n{rendered}"));
    }
    Ok(())
}

/// The third way for expression cases: evaluate over the raw JSON record, as a trigger does.
fn check_single_record(case: &Case, store: &MemoryStore, rows: &[J]) -> Result<(), String> {
    let object: &DataObject = &catalog::SECURITY_EVENTS;
    let record = store
        .records(object)
        .iter()
        .find(|r| r["event.id"] == "e1")
        .ok_or("no e1")?;
    let ast = vigil_query::parse_expr(&case.name).map_err(|e| e.message)?;
    let t = vigil_query::check_expr(&ast, object).map_err(|e| e.message)?;
    let v =
        eval::eval_record(&t, object, record, &EvalContext { now: NOW }).map_err(|e| e.message)?;
    let got = serde_json::json!({ "v": v.coerce(&t.ty).to_json() });
    match rows.first() {
        Some(want) if json_eq(&got, want) => Ok(()),
        _ => Err(format!("single-record evaluation gave {got}")),
    }
}

fn run_table(db: &mut dyn Backend) {
    let cases = all_cases();
    let store = memory_store();
    let mut failures = Vec::new();
    let mut skipped = 0;
    let mut per_file: std::collections::BTreeMap<String, (usize, usize)> = Default::default();
    for case in &cases {
        if let Some(why) = db.skip(case) {
            println!("skip [{}] {}: {why}", case.file, case.name);
            skipped += 1;
            continue;
        }
        let entry = per_file.entry(case.file.clone()).or_default();
        entry.0 += 1;
        if let Err(why) = run_case(case, db, &store) {
            entry.1 += 1;
            failures.push(format!(
                "[{}] {}\n  {}\n  {why}",
                case.file, case.name, case.query
            ));
        }
    }
    let label = format!("{:?}", db.dialect());
    for (file, (n, failed)) in &per_file {
        println!("{label} {file}: {n} cases, {failed} failed");
    }
    println!(
        "{label} total: {} cases, {} failed, {skipped} skipped",
        cases.len(),
        failures.len()
    );
    assert!(cases.len() >= 150, "only {} cases", cases.len());
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

#[test]
fn conformance_table_sqlite() {
    run_table(&mut sqlite_store());
}

#[test]
fn conformance_table_postgres() {
    let Some(mut pg) = PgStore::connect() else {
        return;
    };
    run_table(&mut pg);
}

/// The fixture in a PostgreSQL schema of its own, views per the catalogue's contract. Runs
/// against `VIGIL_TEST_PG` (default `host=127.0.0.1 user=postgres dbname=test`); says so and
/// skips when no server answers.
struct PgStore {
    client: postgres::Client,
    schema: String,
}

impl PgStore {
    fn connect() -> Option<PgStore> {
        let url = std::env::var("VIGIL_TEST_PG")
            .unwrap_or_else(|_| "host=127.0.0.1 user=postgres dbname=test".into());
        let mut client = match postgres::Client::connect(&url, postgres::NoTls) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("SKIP PostgreSQL conformance: cannot connect to {url:?}: {e}");
                return None;
            }
        };
        let schema = format!(
            "vigil_query_test_{}_{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.subsec_nanos())
        );
        client
            .batch_execute(&format!(
                "CREATE SCHEMA {schema}; SET search_path TO {schema}"
            ))
            .unwrap();
        let data = fixture();
        for object in catalog::OBJECTS {
            let table = format!("t_{}", object.view);
            let cols: Vec<String> = object
                .fields
                .iter()
                .map(|f| format!("\"{}\" {}", f.name, f.ty.postgres_type()))
                .collect();
            // Each fixture row is its own narrowing key (a serial column after the fields).
            let mut ddl = match &object.narrowing {
                Some(n) => {
                    let fields: Vec<String> = n.fields.iter().map(|f| format!("\"{f}\"")).collect();
                    format!(
                        "CREATE TABLE {table} ({}, \"{key}\" bigserial); CREATE VIEW {} AS SELECT \"{key}\", {} FROM {table};",
                        cols.join(", "),
                        n.view,
                        fields.join(", "),
                        key = n.key
                    )
                }
                None => format!("CREATE TABLE {table} ({});", cols.join(", ")),
            };
            ddl.push_str(&format!(
                "CREATE VIEW {} AS SELECT * FROM {table}",
                object.view
            ));
            client.batch_execute(&ddl).unwrap();
            let marks: Vec<String> = object
                .fields
                .iter()
                .enumerate()
                .map(|(i, f)| match f.ty.postgres_type() {
                    "jsonb" => format!("${}::text::jsonb", i + 1),
                    t => format!("${}::{t}", i + 1),
                })
                .collect();
            let insert = client
                .prepare(&format!(
                    "INSERT INTO {table} VALUES ({})",
                    marks.join(", ")
                ))
                .unwrap();
            for record in data
                .get(object.name)
                .and_then(J::as_array)
                .map_or(&[][..], Vec::as_slice)
            {
                let row = eval::record_to_row(object, record);
                let params: Vec<Box<dyn postgres::types::ToSql + Sync>> = row
                    .iter()
                    .zip(object.fields)
                    .map(|(v, f)| -> Box<dyn postgres::types::ToSql + Sync> {
                        match (f.ty.postgres_type(), v) {
                            ("bigint", Value::Long(n) | Value::Timestamp(n)) => Box::new(Some(*n)),
                            ("bigint", _) => Box::new(None::<i64>),
                            ("double precision", Value::Double(x)) => Box::new(Some(*x)),
                            ("double precision", _) => Box::new(None::<f64>),
                            ("boolean", Value::Bool(b)) => Box::new(Some(*b)),
                            ("boolean", _) => Box::new(None::<bool>),
                            (_, Value::String(s)) => Box::new(Some(s.clone())),
                            (_, Value::Array(_)) => Box::new(Some(v.to_json().to_string())),
                            _ => Box::new(None::<String>),
                        }
                    })
                    .collect();
                let refs: Vec<&(dyn postgres::types::ToSql + Sync)> =
                    params.iter().map(|b| b.as_ref()).collect();
                client.execute(&insert, &refs).unwrap();
            }
        }
        Some(PgStore { client, schema })
    }
}

impl Drop for PgStore {
    fn drop(&mut self) {
        let _ = self
            .client
            .batch_execute(&format!("DROP SCHEMA {} CASCADE", self.schema));
    }
}

impl Backend for PgStore {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    fn skip(&self, case: &Case) -> Option<&'static str> {
        if case.query.contains("\\u0000") {
            return Some("PostgreSQL text cannot hold NUL characters");
        }
        if case.name == "9223372036854775807 + 1" {
            return Some(
                "PostgreSQL raises `bigint out of range` where SQLite and memory overflow into a double",
            );
        }
        None
    }

    fn run(&mut self, q: &CompiledQuery) -> Result<QueryResult, String> {
        use postgres::types::Type as Pg;
        let params: Vec<Box<dyn postgres::types::ToSql + Sync>> = q
            .params
            .iter()
            .map(|p| -> Box<dyn postgres::types::ToSql + Sync> {
                match p {
                    SqlParam::Integer(n) => Box::new(*n),
                    SqlParam::Real(x) => Box::new(*x),
                    SqlParam::Text(s) => Box::new(s.clone()),
                    SqlParam::Bool(b) => Box::new(*b),
                }
            })
            .collect();
        let refs: Vec<&(dyn postgres::types::ToSql + Sync)> =
            params.iter().map(|b| b.as_ref()).collect();
        let rows = self.client.query(&q.sql, &refs).map_err(|e| {
            format!(
                "{e}: {}",
                e.as_db_error()
                    .map_or(String::new(), |d| d.message().to_string())
            )
        })?;
        let mut out = Vec::new();
        for row in rows {
            let mut r = Vec::new();
            for (i, col) in row.columns().iter().enumerate() {
                let ty = col.type_().clone();
                let v = if ty == Pg::INT8 {
                    row.get::<_, Option<i64>>(i)
                        .map_or(SqlValue::Null, SqlValue::Integer)
                } else if ty == Pg::INT4 {
                    row.get::<_, Option<i32>>(i)
                        .map_or(SqlValue::Null, |n| SqlValue::Integer(n.into()))
                } else if ty == Pg::FLOAT8 {
                    row.get::<_, Option<f64>>(i)
                        .map_or(SqlValue::Null, SqlValue::Real)
                } else if ty == Pg::BOOL {
                    row.get::<_, Option<bool>>(i)
                        .map_or(SqlValue::Null, SqlValue::Bool)
                } else if ty == Pg::TEXT {
                    row.get::<_, Option<String>>(i)
                        .map_or(SqlValue::Null, SqlValue::Text)
                } else {
                    return Err(format!("unexpected column type {ty}"));
                };
                r.push(v);
            }
            out.push(r);
        }
        q.decode(out).map_err(|e| e.message)
    }
}

#[test]
fn default_limit_is_reported_when_it_cuts() {
    let conn = sqlite_store();
    let store = memory_store();
    for (query, cap, rows, truncated) in [
        ("fetch software_components", 3, 3, true),
        ("fetch software_components", 11, 11, false),
        ("fetch software_components", 20, 11, false),
        ("fetch software_components | limit 5", 3, 5, false),
        (
            "fetch software_components | sort name | fields name",
            2,
            2,
            true,
        ),
    ] {
        let plan = vigil_query::prepare(query).unwrap();
        let compiled = sql::compile(
            &plan,
            &CompileOptions {
                default_limit: cap,
                ..options(Dialect::Sqlite)
            },
        )
        .unwrap();
        let a = run_sqlite(&conn, &compiled).unwrap();
        let b = eval::run(
            &plan,
            &store,
            &RunOptions {
                now: NOW,
                default_limit: cap,
            },
        )
        .unwrap();
        for r in [&a, &b] {
            assert_eq!(r.records.len(), rows, "{query} cap {cap}");
            assert_eq!(r.truncated, truncated, "{query} cap {cap}");
        }
        assert_eq!(a.to_json()["truncated"], J::Bool(truncated));
    }
}

#[test]
fn seed_query_returns_debug_components_with_dynatrace_names() {
    let src = "fetch dt.entity.software_component\n| filter contains(softwareComponentShortName, \"debug\")\n| fieldsAdd softwareComponentType, packageName, softwareComponentVersion";
    let plan = vigil_query::prepare(src).unwrap();
    let compiled = sql::compile(&plan, &options(Dialect::Sqlite)).unwrap();
    let result = run_sqlite(&sqlite_store(), &compiled).unwrap();
    let mut names: Vec<String> = result
        .records_json()
        .iter()
        .map(|r| {
            assert_eq!(r["packageName"], r["name"]);
            assert_eq!(r["softwareComponentVersion"], r["version"]);
            assert_eq!(r["softwareComponentType"], r["ecosystem"]);
            format!(
                "{}@{}",
                r["packageName"].as_str().unwrap(),
                r["version"].as_str().unwrap()
            )
        })
        .collect();
    names.sort();
    assert_eq!(names, ["debug-js@1.0.0", "debug@4.3.4", "debug@4.4.2"]);
    assert!(!result.truncated);
}

#[test]
fn the_tallest_accepted_expression_runs_everywhere() {
    // MAX_DEPTH-high trees must get through the checker, both back ends and SQLite's own
    // expression-depth limit.
    let sum = vec!["1"; 150].join(" + ");
    let nested = format!("{}true{}", "not (".repeat(18), ")".repeat(18));
    for expr in [sum.as_str(), nested.as_str()] {
        let query = format!("fetch security.events | fields v = {expr} | limit 1");
        let plan = vigil_query::prepare(&query).unwrap();
        let compiled = sql::compile(&plan, &options(Dialect::Sqlite)).unwrap();
        let a = run_sqlite(&sqlite_store(), &compiled).unwrap();
        let b = eval::run(&plan, &memory_store(), &RunOptions::at(NOW)).unwrap();
        assert_eq!(a.records, b.records);
    }
}

#[test]
fn types_survive_the_sql_round_trip() {
    let plan = vigil_query::prepare("fetch software_components | filter name == \"debug\" and version == \"4.4.2\" | fields dev, process.pids, last_seen, name, d = last_seen - first_seen, x = 1.5").unwrap();
    let compiled = sql::compile(&plan, &options(Dialect::Sqlite)).unwrap();
    let r = run_sqlite(&sqlite_store(), &compiled).unwrap();
    let types: Vec<Type> = r.columns.iter().map(|c| c.ty.clone()).collect();
    assert_eq!(
        types,
        [
            Type::Bool,
            Type::Array(Box::new(Type::Long)),
            Type::Timestamp,
            Type::String,
            Type::Duration,
            Type::Double
        ]
    );
    assert_eq!(
        r.records,
        [[
            Value::Bool(false),
            Value::Array(vec![Value::Long(101), Value::Long(102)]),
            Value::Timestamp(NOW - 3_600_000_000_000),
            Value::String("debug".into()),
            Value::Duration(3 * 3_600_000_000_000),
            Value::Double(1.5),
        ]]
    );
}

/// Random well-typed expressions over the security events, through SQLite (and PostgreSQL when
/// it answers) and the evaluator: the two paths must agree on every event.
mod differential {
    use super::*;
    use proptest::prelude::*;

    fn string_expr() -> impl Strategy<Value = String> {
        let leaf = prop_oneof![
            Just("component.name".to_string()),
            Just("host.name".to_string()),
            Just("finding.status".to_string()),
            Just("k8s.namespace.name".to_string()),
            Just("owner.team".to_string()),
            Just("vulnerability.title".to_string()),
            Just("\"debug\"".to_string()),
            Just("\"\"".to_string()),
            Just("\"Web-1\"".to_string()),
            Just("\"a b\"".to_string()),
            Just("if(false, \"x\")".to_string()),
        ];
        leaf.prop_recursive(3, 16, 3, |inner| {
            prop_oneof![
                inner.clone().prop_map(|s| format!("lower({s})")),
                inner.clone().prop_map(|s| format!("upper({s})")),
                (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("concat({a}, {b})")),
                (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("coalesce({a}, {b})")),
                (bool_leaf(), inner.clone(), inner)
                    .prop_map(|(c, a, b)| format!("if({c}, {a}, {b})")),
            ]
        })
    }

    fn number_expr() -> impl Strategy<Value = String> {
        let leaf = prop_oneof![
            Just("vulnerability.risk.score".to_string()),
            (-3i64..10).prop_map(|n| format!("({n})")),
            prop_oneof![Just("0.5"), Just("2.5"), Just("0.0")].prop_map(String::from),
            Just("if(false, 1)".to_string()),
        ];
        leaf.prop_recursive(3, 16, 2, |inner| {
            prop_oneof![
                (
                    inner.clone(),
                    inner.clone(),
                    prop_oneof![Just("+"), Just("-"), Just("*"), Just("/")]
                )
                    .prop_map(|(a, b, op)| format!("({a} {op} {b})")),
                inner.clone().prop_map(|a| format!("-({a})")),
                (inner.clone(), inner).prop_map(|(a, b)| format!("coalesce({a}, {b})")),
            ]
        })
    }

    fn bool_leaf() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("true".to_string()),
            Just("false".to_string()),
            Just("null".to_string()),
            Just("isNull(k8s.namespace.name)".to_string()),
            Just("in(\"CWE-506\", vulnerability.references.cwe)".to_string()),
            Just("(finding.status == \"NEW\")".to_string()),
        ]
    }

    fn bool_expr() -> impl Strategy<Value = String> {
        let cmp = prop_oneof![
            Just("=="),
            Just("!="),
            Just("<"),
            Just("<="),
            Just(">"),
            Just(">=")
        ];
        let leaf = prop_oneof![
            bool_leaf(),
            (string_expr(), string_expr(), cmp.clone())
                .prop_map(|(a, b, op)| format!("({a} {op} {b})")),
            (number_expr(), number_expr(), cmp).prop_map(|(a, b, op)| format!("({a} {op} {b})")),
            (
                string_expr(),
                string_expr(),
                prop_oneof![Just("contains"), Just("startsWith"), Just("endsWith")],
                any::<bool>()
            )
                .prop_map(|(a, b, f, cs)| format!("{f}({a}, {b}, caseSensitive: {cs})")),
            (
                string_expr(),
                prop_oneof![Just("*bug*"), Just("DEBUG"), Just("web-*"), Just("*")]
            )
                .prop_map(|(a, p)| format!("matchesValue({a}, \"{p}\")")),
            (
                string_expr(),
                prop_oneof![Just("debug"), Just("code"), Just("a b"), Just("")]
            )
                .prop_map(|(a, p)| format!("matchesPhrase({a}, \"{p}\")")),
            (string_expr(), string_expr(), string_expr())
                .prop_map(|(a, b, c)| format!("in({a}, {b}, {c})")),
            string_expr().prop_map(|a| format!("in({a}, locations)")),
            number_expr().prop_map(|a| format!("isNull({a})")),
        ];
        leaf.prop_recursive(3, 12, 2, |inner| {
            prop_oneof![
                (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a} and {b})")),
                (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a} or {b})")),
                inner.prop_map(|a| format!("not ({a})")),
            ]
        })
    }

    fn any_expr() -> impl Strategy<Value = String> {
        prop_oneof![bool_expr(), string_expr(), number_expr()]
    }

    fn agree(db: &mut dyn Backend, store: &MemoryStore, expr: &str) -> Result<(), TestCaseError> {
        let query = format!("fetch security.events | fields id = event.id, v = {expr} | sort id");
        let plan =
            vigil_query::prepare(&query).map_err(|e| TestCaseError::fail(e.render(&query)))?;
        let compiled = sql::compile(&plan, &options(db.dialect()))
            .map_err(|e| TestCaseError::fail(e.message))?;
        let a = db
            .run(&compiled)
            .map_err(|e| TestCaseError::fail(format!("{e}\n{query}")))?;
        let b = eval::run(&plan, store, &RunOptions::at(NOW))
            .map_err(|e| TestCaseError::fail(e.message))?;
        let (ja, jb) = (a.records_json(), b.records_json());
        prop_assert!(
            rows_eq(&ja, &jb, true),
            "{:?}: {query}\n sql:    {}\n memory: {}",
            db.dialect(),
            J::Array(ja.clone()),
            J::Array(jb.clone())
        );
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]
        #[test]
        fn sql_and_memory_agree_on_random_expressions(exprs in proptest::collection::vec(any_expr(), 4)) {
            thread_local! {
                static DBS: std::cell::RefCell<(Connection, Option<PgStore>, MemoryStore)> =
                    std::cell::RefCell::new((sqlite_store(), PgStore::connect(), memory_store()));
            }
            DBS.with(|dbs| -> Result<(), TestCaseError> {
                let mut dbs = dbs.borrow_mut();
                let (conn, pg, store) = &mut *dbs;
                for e in &exprs {
                    agree(conn, store, e)?;
                    if let Some(pg) = pg.as_mut() {
                        agree(pg, store, e)?;
                    }
                }
                Ok(())
            })?;
        }
    }
}

/// Random pipelines over the component instances: filters, computed fields, sorts with
/// limits, dedups and a final summarize, through SQLite (and PostgreSQL) and memory. Every
/// order-dependent step is made deterministic with the unique `purl` as the last sort key.
mod pipelines {
    use super::*;
    use proptest::prelude::*;

    fn string_expr() -> impl Strategy<Value = String> {
        let leaf = prop_oneof![
            Just("name".to_string()),
            Just("version".to_string()),
            Just("ecosystem".to_string()),
            Just("evidence".to_string()),
            Just("host.name".to_string()),
            Just("k8s.namespace.name".to_string()),
            Just("\"debug\"".to_string()),
            Just("\"\"".to_string()),
        ];
        leaf.prop_recursive(2, 8, 2, |inner| {
            prop_oneof![
                inner.clone().prop_map(|s| format!("lower({s})")),
                (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("concat({a}, {b})")),
                (inner.clone(), inner).prop_map(|(a, b)| format!("coalesce({a}, {b})")),
            ]
        })
    }

    fn bool_expr() -> impl Strategy<Value = String> {
        let leaf = prop_oneof![
            Just("dev".to_string()),
            Just("isNull(container.id)".to_string()),
            Just("in(101, process.pids)".to_string()),
            Just("last_seen > now() - 2h".to_string()),
            (
                string_expr(),
                string_expr(),
                prop_oneof![Just("=="), Just("!="), Just("<")]
            )
                .prop_map(|(a, b, op)| format!("{a} {op} {b}")),
            (
                string_expr(),
                prop_oneof![Just("deb"), Just("-"), Just("a")]
            )
                .prop_map(|(a, p)| format!("contains({a}, \"{p}\", caseSensitive: false)")),
            (
                string_expr(),
                prop_oneof![Just("*debug*"), Just("npm"), Just("*1")]
            )
                .prop_map(|(a, p)| format!("matchesValue({a}, \"{p}\")")),
        ];
        leaf.prop_recursive(2, 6, 2, |inner| {
            prop_oneof![
                (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a}) and ({b})")),
                (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a}) or ({b})")),
                inner.prop_map(|a| format!("not ({a})")),
            ]
        })
    }

    fn stage() -> impl Strategy<Value = String> {
        prop_oneof![
            bool_expr().prop_map(|b| format!("filter {b}")),
            bool_expr().prop_map(|b| format!("filterOut {b}")),
            (string_expr(), 0..3usize).prop_map(|(s, i)| format!("fieldsAdd x{i} = {s}")),
            (string_expr(), any::<bool>(), 0..8u64).prop_map(|(s, d, n)| format!(
                "sort {s}{}, purl | limit {n}",
                if d { " desc" } else { "" }
            )),
            (string_expr(), any::<bool>()).prop_map(|(s, d)| format!(
                "dedup {s}, sort:{{purl{}}}",
                if d { " desc" } else { "" }
            )),
        ]
    }

    fn tail() -> impl Strategy<Value = String> {
        prop_oneof![
            Just(String::new()),
            (string_expr(), string_expr()).prop_map(|(k, v)| format!(
                "| summarize n = count(), c = countDistinct({v}), lo = min({v}), hi = max({v}), all = collectDistinct({v}), by:{{k = {k}}}"
            )),
            (string_expr(), string_expr(), any::<bool>()).prop_map(|(k, v, d)| format!(
                "| sort purl{} | summarize first = takeFirst({v}), list = collectArray({v}), by:{{k = {k}}}",
                if d { " desc" } else { "" }
            )),
            string_expr().prop_map(|k| format!(
                "| summarize pids = collectDistinct(purl), loaded = countIf(evidence == \"LOADED\"), by:{{k = {k}}}"
            )),
            Just("| lookup [fetch hosts | sort host.id desc], sourceField: host.name, lookupField: host.name".to_string()),
        ]
    }

    fn agree(db: &mut dyn Backend, store: &MemoryStore, query: &str) -> Result<(), TestCaseError> {
        let plan = vigil_query::prepare(query).map_err(|e| TestCaseError::fail(e.render(query)))?;
        let compiled = sql::compile(&plan, &options(db.dialect()))
            .map_err(|e| TestCaseError::fail(e.message))?;
        let a = db
            .run(&compiled)
            .map_err(|e| TestCaseError::fail(format!("{e}\n{query}\n{}", compiled.sql)))?;
        let b = eval::run(&plan, store, &RunOptions::at(NOW))
            .map_err(|e| TestCaseError::fail(e.message))?;
        let (ja, jb) = (a.records_json(), b.records_json());
        prop_assert!(
            rows_eq(&ja, &jb, false),
            "{:?}: {query}\n sql:    {}\n memory: {}",
            db.dialect(),
            J::Array(ja.clone()),
            J::Array(jb.clone())
        );
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]
        #[test]
        fn sql_and_memory_agree_on_random_pipelines(stages in proptest::collection::vec(stage(), 0..4), tail in tail()) {
            thread_local! {
                static DBS: std::cell::RefCell<(Connection, Option<PgStore>, MemoryStore)> =
                    std::cell::RefCell::new((sqlite_store(), PgStore::connect(), memory_store()));
            }
            let mut query = String::from("fetch software_components");
            for s in &stages {
                query.push_str(" | ");
                query.push_str(s);
            }
            query.push(' ');
            query.push_str(&tail);
            DBS.with(|dbs| -> Result<(), TestCaseError> {
                let mut dbs = dbs.borrow_mut();
                let (conn, pg, store) = &mut *dbs;
                agree(conn, store, &query)?;
                if let Some(pg) = pg.as_mut() {
                    agree(pg, store, &query)?;
                }
                Ok(())
            })?;
        }
    }
}
