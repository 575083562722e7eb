//! `vigil version compare ECOSYSTEM [A B]`.
//!
//! With two versions, prints `<`, `=` or `>`. Without, reads `A B` pairs from stdin, one per
//! line, and prints one result per line: the batch form is what scripts and the conformance
//! runner use, so it streams with buffered I/O and reuses its line buffer. A line that cannot be
//! compared prints `!`, its reason goes to stderr with the line number, and the command goes on
//! and exits 2 at the end. Blank lines are echoed as blank lines so output stays aligned.

use std::cmp::Ordering;
use std::io::{self, BufRead, BufWriter, Write};

use anyhow::Context;
use clap::Subcommand;
use vigil_core::{Ecosystem, VersionScheme};

use crate::Outcome;
use crate::terminal::escape;

#[derive(Debug, Subcommand)]
pub enum VersionCommand {
    /// Compare two versions (or pairs read from stdin) under an ecosystem's ordering.
    Compare {
        /// OSV ecosystem name: npm, PyPI, Maven, Go, crates.io, RubyGems, NuGet, Packagist,
        /// Debian, Alpine, Red Hat, Pub, Hex, CRAN, … (release suffixes such as Debian:12 are
        /// accepted; unknown names use the generic ordering).
        ecosystem: String,
        /// First version; with B. Without both, pairs are read from stdin.
        a: Option<String>,
        /// Second version.
        b: Option<String>,
    },
}

pub fn run(command: VersionCommand) -> anyhow::Result<Outcome> {
    match command {
        VersionCommand::Compare { ecosystem, a, b } => {
            let scheme = Ecosystem::parse(&ecosystem).version_scheme();
            match (a, b) {
                (Some(a), Some(b)) => compare_one(scheme, &a, &b),
                (None, None) => compare_stream(scheme, io::stdin().lock(), io::stdout().lock()),
                _ => {
                    eprintln!(
                        "vigil: usage: vigil version compare ECOSYSTEM [A B] (give both versions, or none to read pairs from stdin)"
                    );
                    Ok(Outcome::InputError)
                }
            }
        }
    }
}

fn symbol(ordering: Ordering) -> &'static str {
    match ordering {
        Ordering::Less => "<",
        Ordering::Equal => "=",
        Ordering::Greater => ">",
    }
}

fn compare_one(scheme: VersionScheme, a: &str, b: &str) -> anyhow::Result<Outcome> {
    match scheme.compare(a, b) {
        Ok(ordering) => {
            println!("{}", symbol(ordering));
            Ok(Outcome::Clean)
        }
        Err(err) => {
            println!("!");
            eprintln!("vigil: {}", escape(&err.to_string()));
            Ok(Outcome::InputError)
        }
    }
}

/// Compares every line of `input`; see the module docs for the line protocol.
fn compare_stream(
    scheme: VersionScheme,
    mut input: impl BufRead,
    output: impl Write,
) -> anyhow::Result<Outcome> {
    let mut out = BufWriter::with_capacity(64 * 1024, output);
    let mut line = Vec::with_capacity(256);
    let mut line_no = 0u64;
    let mut failed = false;
    loop {
        line.clear();
        if input
            .read_until(b'\n', &mut line)
            .context("reading stdin")?
            == 0
        {
            break;
        }
        line_no += 1;
        let result = match std::str::from_utf8(&line) {
            Err(_) => Err("not valid UTF-8".to_string()),
            Ok(text) => {
                let mut fields = text.split_whitespace();
                match (fields.next(), fields.next(), fields.next()) {
                    (None, _, _) => {
                        out.write_all(b"\n")?;
                        continue;
                    }
                    (Some(a), Some(b), None) => scheme.compare(a, b).map_err(|e| e.to_string()),
                    _ => Err("expected two whitespace-separated versions".to_string()),
                }
            }
        };
        match result {
            Ok(ordering) => out.write_all(symbol(ordering).as_bytes())?,
            Err(reason) => {
                failed = true;
                out.write_all(b"!")?;
                // Keep stdout and stderr in step for a reader watching both.
                out.flush()?;
                eprintln!("vigil: stdin line {line_no}: {}", escape(&reason));
            }
        }
        out.write_all(b"\n")?;
    }
    out.flush().context("writing results")?;
    Ok(if failed {
        Outcome::InputError
    } else {
        Outcome::Clean
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_keeps_one_line_per_input_line() {
        let input = b"1.0.0 2.0.0\n\n2.0.0 1.0.0\n1.0.0 1.0.0\nonly-one\n" as &[u8];
        let mut output = Vec::new();
        let outcome = compare_stream(VersionScheme::Generic, input, &mut output).unwrap();
        assert_eq!(String::from_utf8(output).unwrap(), "<\n\n>\n=\n!\n");
        assert_eq!(outcome, Outcome::InputError);
    }
}
