//! `vigil findings list|ack|resolve|mute`: the finding lifecycle from the terminal, on a data
//! directory or a server. Status changes append their security event and trigger the
//! configuration's workflows exactly as the API does.

use std::io::{self, Write};
use std::sync::Arc;

use clap::{Args, Subcommand};
use serde_json::{Value, json};
use vigil_server::api::finding_json;
use vigil_server::lifecycle::{Lifecycle, LifecycleError, StatusAction, describe_from_store};
use vigil_server::outbox::StoreOutbox;
use vigil_store::{FindingFilter, FindingId, FindingStatus, Timestamp};

use super::target::{Format, Target, TargetArgs, input_error, report_client_error};
use crate::Outcome;
use crate::terminal::escape;

#[derive(Debug, Args)]
pub struct FindingsArgs {
    #[command(subcommand)]
    command: FindingsCommand,
    #[command(flatten)]
    target: TargetArgs,
}

#[derive(Debug, Subcommand)]
enum FindingsCommand {
    /// List findings (newest last).
    List {
        /// Only these statuses (NEW, ACKNOWLEDGED, RESOLVED, MUTED; repeatable).
        #[arg(long)]
        status: Vec<String>,
        /// Only on this host.
        #[arg(long)]
        host: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 1000)]
        limit: usize,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Acknowledge: someone is on it.
    Ack {
        /// Finding id.
        id: String,
    },
    /// Resolve.
    Resolve {
        /// Finding id.
        id: String,
        /// Also undo the freezes quarantine tasks applied for this finding.
        #[arg(long)]
        thaw: bool,
    },
    /// Mute, with the reason the risk is accepted.
    Mute {
        /// Finding id.
        id: String,
        /// Why.
        #[arg(long)]
        reason: String,
    },
}

pub fn run(args: FindingsArgs) -> anyhow::Result<Outcome> {
    let target = match args.target.open() {
        Ok(t) => t,
        Err(message) => return input_error(&message),
    };
    match args.command {
        FindingsCommand::List {
            status,
            host,
            limit,
            format,
        } => {
            let mut statuses = Vec::new();
            for s in status.iter().flat_map(|s| s.split(',')) {
                match FindingStatus::parse(&s.trim().to_ascii_uppercase()) {
                    Some(st) => statuses.push(st),
                    None => {
                        return input_error(&format!(
                            "--status {s:?}: use NEW, ACKNOWLEDGED, RESOLVED or MUTED"
                        ));
                    }
                }
            }
            super::target::list(
                target,
                "findings",
                format,
                |store, _| {
                    let list = store.list_findings(&FindingFilter {
                        statuses: statuses.clone(),
                        host_name: host.clone(),
                        limit,
                        ..FindingFilter::default()
                    })?;
                    let mut out = Vec::with_capacity(list.len());
                    for f in &list {
                        out.push(finding_json(f, &describe_from_store(store, f)?));
                    }
                    Ok(out)
                },
                |client| {
                    let mut params = vec![("limit", limit.to_string())];
                    if !statuses.is_empty() {
                        let s: Vec<&str> = statuses.iter().map(|s| s.as_str()).collect();
                        params.push(("status", s.join(",")));
                    }
                    if let Some(h) = &host {
                        params.push(("host", h.clone()));
                    }
                    client.findings(&params)
                },
                write_table,
            )
        }
        FindingsCommand::Ack { id } => change(target, &id, StatusAction::Acknowledge, false),
        FindingsCommand::Resolve { id, thaw } => change(target, &id, StatusAction::Resolve, thaw),
        FindingsCommand::Mute { id, reason } => match StatusAction::parse("mute", Some(reason)) {
            Ok(action) => change(target, &id, action, false),
            Err(e) => input_error(&e.to_string()),
        },
    }
}

fn change(target: Target, id: &str, action: StatusAction, thaw: bool) -> anyhow::Result<Outcome> {
    let result = match target {
        Target::Local { store, config } => {
            let Some(finding) = id.parse::<i64>().ok().filter(|n| *n > 0).map(FindingId) else {
                return input_error(&format!("{id:?} is not a finding id"));
            };
            let workflows = Arc::new(config.workflows);
            let lifecycle = Lifecycle::new(Arc::clone(&store), Arc::clone(&workflows));
            let actor = std::env::var("USER").unwrap_or_else(|_| "cli".into());
            let outcome = match lifecycle.change(finding, &action, Some(&actor), Timestamp::now()) {
                Ok(o) => o,
                Err(LifecycleError::Store(e)) => return Err(e.into()),
                Err(e) => return input_error(&e.to_string()),
            };
            let mut thawed = Vec::new();
            if thaw {
                let services =
                    vigil_workflow::ActionServices::new(Arc::new(vigil_workflow::ProcessEnv))
                        .map_err(|e| anyhow::anyhow!(e.message))?;
                let outbox = StoreOutbox::new(Arc::clone(&store));
                thawed = vigil_workflow::thaw_finding(
                    &workflows,
                    &outbox,
                    &finding.0.to_string(),
                    &services,
                )
                .map_err(|e| anyhow::anyhow!("thaw: {}", e.message))?;
            }
            json!({
                "finding.id": finding.0.to_string(),
                "finding.status": outcome.finding.status.as_str(),
                "finding.previous_status": outcome.previous.as_str(),
                "changed": outcome.changed,
                "thawed": thawed,
            })
        }
        Target::Remote(client) => {
            let (name, body) = match &action {
                StatusAction::Acknowledge => ("ack", json!({})),
                StatusAction::Resolve => ("resolve", json!({ "thaw": thaw })),
                StatusAction::Mute { reason } => ("mute", json!({ "reason": reason })),
            };
            match client.finding_action(id, name, &body) {
                Ok(v) => v,
                Err(e) => return report_client_error(&e),
            }
        }
    };
    let status = result
        .get("finding.status")
        .and_then(Value::as_str)
        .unwrap_or("?");
    let previous = result
        .get("finding.previous_status")
        .and_then(Value::as_str)
        .unwrap_or("?");
    if result.get("changed").and_then(Value::as_bool) == Some(true) {
        println!("finding {}: {previous} → {status}", escape(id));
    } else {
        println!("finding {}: already {status}", escape(id));
    }
    if let Some(thawed) = result.get("thawed").and_then(Value::as_array)
        && !thawed.is_empty()
    {
        println!(
            "thawed: {}",
            escape(&Value::Array(thawed.clone()).to_string())
        );
    }
    Ok(Outcome::Clean)
}

/// A field of a JSON row as table text (null → empty).
pub(super) fn text(f: &Value, key: &str) -> String {
    match f.get(key) {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

fn write_table(findings: &[Value], out: &mut impl Write) -> io::Result<()> {
    let header = [
        "ID",
        "STATUS",
        "RISK",
        "ADVISORY",
        "COMPONENT",
        "WHERE",
        "EVIDENCE",
        "DETECTED",
    ];
    let rows: Vec<Vec<String>> = findings
        .iter()
        .map(|f| {
            let place = match text(f, "affected_entity.type").as_str() {
                "container" => format!(
                    "{}/{}",
                    text(f, "host.name"),
                    text(f, "affected_entity.name")
                ),
                _ => text(f, "host.name"),
            };
            [
                text(f, "finding.id"),
                text(f, "finding.status"),
                format!(
                    "{} {}",
                    text(f, "vulnerability.risk.score"),
                    text(f, "vulnerability.risk.level")
                ),
                text(f, "vulnerability.id"),
                format!(
                    "{} {}@{}",
                    text(f, "component.ecosystem"),
                    text(f, "component.name"),
                    text(f, "component.version")
                ),
                place,
                text(f, "evidence"),
                text(f, "detected_at"),
            ]
            .to_vec()
        })
        .collect();
    write_aligned(out, &header, &rows)?;
    writeln!(out, "({} findings)", rows.len())
}

/// Writes `rows` under `header` in aligned columns, every cell escaped (cells carry
/// attacker-controlled package names, paths and sink error messages).
pub(super) fn write_aligned(
    out: &mut impl Write,
    header: &[&str],
    rows: &[Vec<String>],
) -> io::Result<()> {
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|row| row.iter().map(|c| escape(c).into_owned()).collect())
        .collect();
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in &rows {
        for (w, v) in widths.iter_mut().zip(row) {
            *w = (*w).max(v.chars().count());
        }
    }
    let line = |out: &mut dyn Write, cells: &[&str]| -> io::Result<()> {
        let parts: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        writeln!(out, "{}", parts.join("  ").trim_end())
    };
    line(out, header)?;
    for row in &rows {
        line(out, &row.iter().map(String::as_str).collect::<Vec<_>>())?;
    }
    Ok(())
}
