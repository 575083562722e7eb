//! Prints the SQL (SQLite and PostgreSQL) and parameters a query compiles to, or its error:
//! `cargo run -p vigil-query --example show_sql -- 'fetch software_components | …'`.

use vigil_query::sql::{CompileOptions, Dialect, compile};

fn main() {
    let src = std::env::args().nth(1).unwrap_or_default();
    let plan = match vigil_query::prepare(&src) {
        Ok(p) => p,
        Err(e) => {
            eprint!("{}", e.render(&src));
            std::process::exit(2);
        }
    };
    for dialect in [Dialect::Sqlite, Dialect::Postgres] {
        let options = CompileOptions {
            dialect,
            now: 0,
            default_limit: 1000,
        };
        match compile(&plan, &options) {
            Ok(q) => println!("-- {dialect:?}\n{}\n-- params: {:?}\n", q.sql, q.params),
            Err(e) => eprint!("{}", e.render(&src)),
        }
    }
}
