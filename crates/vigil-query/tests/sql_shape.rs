//! Hostile literals and field names never change the shape of the SQL: for every query
//! template, the SQL text compiled with a hostile value in a literal or in a user-chosen field
//! name is byte-identical to the one compiled with a harmless value; only the parameters
//! differ. Both dialects.

use proptest::prelude::*;
use vigil_query::sql::{CompileOptions, Dialect, SqlParam, compile};

const TEMPLATES: [&str; 12] = [
    r#"fetch software_components | filter name == "{S}""#,
    r#"fetch software_components | filter contains(name, "{S}", caseSensitive: false) or startsWith(path, "{S}") or endsWith(purl, "{S}")"#,
    r#"fetch software_components | filter matchesValue(name, "{S}") | fields name"#,
    r#"fetch advisories | filter matchesPhrase(summary, "{S}") or matchesValue(aliases, "{S}")"#,
    r#"fetch software_components | filter in(name, "{S}", "b") or in("{S}", [name, path])"#,
    r#"fetch software_components | fieldsAdd `{N}` = concat(name, "{S}") | fields `{N}`"#,
    r#"fetch software_components | fields `{N}` = name | sort `{N}` desc | summarize c = count(), by:{`{N}`}"#,
    r#"fetch software_components | summarize `{N}` = countIf(name == "{S}"), by:{k = lower("{S}")}"#,
    r#"fetch software_components | fieldsRename `{N}` = name | dedup `{N}`, sort:{version}"#,
    r#"fetch software_components | lookup [fetch advisories | filter id != "{S}"], sourceField: name, lookupField: name, prefix: "lk.{S}.""#,
    r#"fetch security.events, from: "2025-09-08T00:00:00Z" | filter `event.type` == "{S}" | fields `{N}` = if(true, "{S}", else: "x")"#,
    r#"fetch software_components | fieldsAdd `{N}` = 1 | expand process.pids | limit 5"#,
];

/// Escapes a value for a string literal (`"…"`) of the query language.
fn string_literal(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

/// Escapes a value for a backtick-quoted name.
fn quoted_name(s: &str) -> String {
    s.replace('\\', "\\\\").replace('`', "\\`")
}

/// The name is prefixed so it never collides with a fixed name of the template.
fn instantiate(template: &str, s: &str, n: &str) -> String {
    template
        .replace("{S}", &string_literal(s))
        .replace("{N}", &quoted_name(&format!("n:{n}")))
}

fn compile_all(src: &str) -> Vec<(String, Vec<SqlParam>)> {
    let plan = vigil_query::prepare(src).unwrap_or_else(|e| panic!("{}", e.render(src)));
    [Dialect::Sqlite, Dialect::Postgres]
        .into_iter()
        .map(|dialect| {
            let q = compile(
                &plan,
                &CompileOptions {
                    dialect,
                    now: 0,
                    default_limit: 1000,
                },
            )
            .unwrap_or_else(|e| panic!("{}", e.render(src)));
            (q.sql, q.params)
        })
        .collect()
}

const HOSTILE: [&str; 14] = [
    "'",
    "\"",
    "'; DROP TABLE q_software_components; --",
    "\" OR 1=1 --",
    "x\"; DELETE FROM t; /*",
    "*/ SELECT 1 /*",
    "-- comment",
    ";",
    "\0",
    "a\0b",
    "é ✓ 😀 \u{202e}rtl",
    "`",
    "\\",
    "?1 $1 :name @p",
];

#[test]
fn hostile_values_do_not_change_the_sql() {
    for template in TEMPLATES {
        let baseline = compile_all(&instantiate(template, "plain", "plain"));
        for hostile in HOSTILE {
            let src = instantiate(template, hostile, hostile);
            let compiled = compile_all(&src);
            for ((sql, params), (base_sql, base_params)) in compiled.iter().zip(&baseline) {
                assert_eq!(sql, base_sql, "{src}");
                assert_eq!(params.len(), base_params.len(), "{src}");
                if hostile.len() >= 3 {
                    assert!(
                        !sql.contains(hostile),
                        "{src}: the value leaked into the SQL"
                    );
                }
            }
        }
    }
}

proptest! {
    #[test]
    fn arbitrary_values_do_not_change_the_sql(s in any::<String>(), n in "\\PC{1,20}", t in 0..TEMPLATES.len()) {
        let template = TEMPLATES[t];
        let baseline = compile_all(&instantiate(template, "plain", "plain"));
        let compiled = compile_all(&instantiate(template, &s, &n));
        for ((sql, params), (base_sql, base_params)) in compiled.iter().zip(&baseline) {
            prop_assert_eq!(sql, base_sql);
            prop_assert_eq!(params.len(), base_params.len());
        }
    }
}
