//! `vigil workflows runs|retry`: the workflow outbox from the terminal — what was delivered,
//! what is pending, what was dead-lettered and why — and putting a dead run back in the queue
//! once its sink is fixed. On a data directory or a server, like `vigil findings`.

use std::io::{self, Write};

use clap::{Args, Subcommand};
use serde_json::Value;
use vigil_server::outbox::{RetryOutcome, retry_run, run_json};
use vigil_store::{FindingId, OutboxId, OutboxStatus, Timestamp};

use super::findings::{text, write_aligned};
use super::target::{Format, Target, TargetArgs, input_error, report_client_error};
use crate::Outcome;
use crate::terminal::escape;

#[derive(Debug, Args)]
pub struct WorkflowsArgs {
    #[command(subcommand)]
    command: WorkflowsCommand,
    #[command(flatten)]
    target: TargetArgs,
}

#[derive(Debug, Subcommand)]
enum WorkflowsCommand {
    /// List workflow runs (outbox items), newest first.
    Runs {
        /// Only this status: pending, in_flight, delivered, dead.
        #[arg(long)]
        status: Option<String>,
        /// Only the runs of this finding.
        #[arg(long)]
        finding: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 1000)]
        limit: usize,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Put a dead run back in the queue (attempts reset).
    Retry {
        /// Run id (the ID column of `vigil workflows runs`).
        id: String,
    },
}

fn positive(text: &str) -> Option<i64> {
    text.trim().parse::<i64>().ok().filter(|n| *n > 0)
}

pub fn run(args: WorkflowsArgs) -> anyhow::Result<Outcome> {
    let target = match args.target.open() {
        Ok(t) => t,
        Err(message) => return input_error(&message),
    };
    match args.command {
        WorkflowsCommand::Runs {
            status,
            finding,
            limit,
            format,
        } => {
            let status = match status.as_deref().map(str::trim) {
                None | Some("") => None,
                Some(s) => match OutboxStatus::parse(&s.to_ascii_lowercase()) {
                    Some(st) => Some(st),
                    None => {
                        return input_error(&format!(
                            "--status {s:?}: use pending, in_flight, delivered or dead"
                        ));
                    }
                },
            };
            let finding = match finding.as_deref() {
                None => None,
                Some(f) => match positive(f) {
                    Some(n) => Some(n),
                    None => return input_error(&format!("--finding {f:?} is not a finding id")),
                },
            };
            super::target::list(
                target,
                "runs",
                format,
                |store, config| {
                    Ok(store
                        .list_outbox_for(status, finding.map(FindingId), limit)?
                        .iter()
                        .map(|item| run_json(item, &config.workflows))
                        .collect())
                },
                |client| {
                    let mut params = vec![("limit", limit.to_string())];
                    if let Some(s) = status {
                        params.push(("status", s.as_str().to_owned()));
                    }
                    if let Some(f) = finding {
                        params.push(("finding", f.to_string()));
                    }
                    client.workflow_runs(&params)
                },
                write_table,
            )
        }
        WorkflowsCommand::Retry { id } => {
            let Some(n) = positive(&id) else {
                return input_error(&format!("{id:?} is not a run id"));
            };
            let run = match target {
                Target::Local { store, config } => {
                    match retry_run(&store, OutboxId(n), Timestamp::now())? {
                        RetryOutcome::Requeued(item) => run_json(&item, &config.workflows),
                        RetryOutcome::NotDead(status) => {
                            return input_error(&format!(
                                "run {n} is {}, not dead: only dead runs are retried",
                                status.as_str()
                            ));
                        }
                        RetryOutcome::NotFound => {
                            return input_error(&format!("run {n} does not exist"));
                        }
                    }
                }
                Target::Remote(client) => match client.retry_run(&n.to_string()) {
                    Ok(v) => v,
                    Err(e) => return report_client_error(&e),
                },
            };
            println!(
                "run {n} ({}/{}, finding {}): dead → {}",
                escape(&text(&run, "workflow")),
                escape(&text(&run, "task")),
                escape(&text(&run, "finding")),
                escape(&text(&run, "status")),
            );
            Ok(Outcome::Clean)
        }
    }
}

/// Longest error message shown in the table (the JSON output has all of it).
const ERROR_WIDTH: usize = 60;

fn write_table(runs: &[Value], out: &mut impl Write) -> io::Result<()> {
    let header = [
        "ID", "STATUS", "FINDING", "WORKFLOW", "TASK", "ACTION", "ATTEMPTS", "NEXT DUE", "ERROR",
    ];
    let rows: Vec<Vec<String>> = runs
        .iter()
        .map(|r| {
            let mut error: String = text(r, "last_error")
                .chars()
                .map(|c| if c == '\n' { ' ' } else { c })
                .collect();
            if error.chars().count() > ERROR_WIDTH {
                error = error.chars().take(ERROR_WIDTH - 1).collect::<String>() + "…";
            }
            vec![
                text(r, "id"),
                text(r, "status"),
                text(r, "finding"),
                text(r, "workflow"),
                text(r, "task"),
                text(r, "action"),
                text(r, "attempts"),
                text(r, "next_due"),
                error,
            ]
        })
        .collect();
    write_aligned(out, &header, &rows)?;
    writeln!(out, "({} runs)", rows.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_table_escapes_what_sinks_and_packages_put_in_a_run() {
        // (field, hostile value, what must not reach the terminal)
        let table: [(&str, &str, &str); 4] = [
            (
                "last_error",
                "webhook: HTTP 400: \u{1b}[31mred\u{1b}[0m",
                "\u{1b}",
            ),
            ("last_error", "slack: HTTP 400: \u{202e}gnp.exe", "\u{202e}"),
            ("finding", "7\u{7}", "\u{7}"),
            ("last_error", "two\rlines", "\r"),
        ];
        for (field, value, raw) in table {
            let mut run = json!({
                "id": 1, "status": "dead", "finding": "7", "workflow": "w", "task": "t",
                "action": "webhook", "attempts": 1, "next_due": null, "last_error": null,
            });
            run[field] = json!(value);
            let mut out = Vec::new();
            write_table(&[run], &mut out).unwrap();
            let out = String::from_utf8(out).unwrap();
            assert!(!out.contains(raw), "{field} {value:?}: {out:?}");
            assert!(out.contains("(1 runs)"), "{out}");
        }
    }

    #[test]
    fn long_errors_are_cut_in_the_table_only() {
        let run = json!({"id": 1, "status": "dead", "last_error": "x".repeat(500)});
        let mut out = Vec::new();
        write_table(&[run], &mut out).unwrap();
        let out = String::from_utf8(out).unwrap();
        assert!(
            out.contains(&format!("{}…", "x".repeat(ERROR_WIDTH - 1))),
            "{out}"
        );
        assert!(!out.contains(&"x".repeat(ERROR_WIDTH + 1)), "{out}");
    }
}
