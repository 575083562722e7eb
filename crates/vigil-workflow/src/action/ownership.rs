//! `ownership`: who owns the affected workload, and how to reach them.
//!
//! Teams come from two places, most specific first:
//! 1. `owner` / `team` labels and annotations on the pod, container or host present in the
//!    event — the objects `k8s.pod.labels`, `k8s.pod.annotations`, `container.labels`,
//!    `host.labels` (keys `owner`, `team`, or any prefixed `…/owner`, `…/team` such as
//!    `app.kubernetes.io/team`);
//! 2. `[[owners]]` rules whose `match` expression holds for the event, in file order.
//!
//! The first team is the primary owner. Contacts come from the `[[owners]]` entry of that
//! team, whether it matched by rule or was named by a label. The result is
//! `{"team", "teams", "sources", "slack", "email", "jira_project", "teams_channel",
//! "event": {"owner.team", "owner.teams", "owner.slack", "owner.email", "owner.jira_project"}}`;
//! the dispatcher adds `event` to the event later tasks see.

use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::TaskRun;
use crate::config::Builder;
use crate::error::ActionError;

/// Where labels are looked for.
pub const LABEL_FIELDS: [&str; 4] = [
    "k8s.pod.labels",
    "k8s.pod.annotations",
    "container.labels",
    "host.labels",
];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    #[serde(default = "yes")]
    labels: bool,
}

fn yes() -> bool {
    true
}

/// The configured ownership step.
#[derive(Debug)]
pub struct Ownership {
    labels: bool,
}

fn is_owner_key(key: &str) -> bool {
    let last = key.rsplit('/').next().unwrap_or(key);
    matches!(last, "owner" | "team")
}

impl Ownership {
    pub(crate) fn build(b: &mut Builder<'_>, value: toml::Value, path: &str) -> Option<Ownership> {
        let raw: Raw = b.deserialize(value, path)?;
        Some(Ownership { labels: raw.labels })
    }

    pub(crate) fn run(&self, run: &TaskRun<'_>) -> Result<Value, ActionError> {
        let event = run.event;
        let mut teams: Vec<String> = Vec::new();
        let mut sources: Vec<Value> = Vec::new();
        if self.labels {
            for field in LABEL_FIELDS {
                let Some(Value::Object(labels)) = event.get(field) else {
                    continue;
                };
                for (key, value) in labels {
                    let Some(team) = value.as_str().map(str::trim) else {
                        continue;
                    };
                    if is_owner_key(key)
                        && !team.is_empty()
                        && team.len() <= 128
                        && !teams.iter().any(|t| t == team)
                    {
                        teams.push(team.to_owned());
                        sources.push(json!({ "team": team, "from": format!("{field}/{key}") }));
                    }
                }
            }
        }
        for rule in &run.set.owners {
            if rule.matches(event) && !teams.contains(&rule.team) {
                teams.push(rule.team.clone());
                sources.push(json!({ "team": rule.team, "from": "owners rule" }));
            }
        }
        let primary = teams.first().cloned();
        let rule = primary.as_deref().and_then(|t| run.set.owner(t));
        let slack = rule.and_then(|r| r.slack.clone());
        let email: Vec<String> = rule.map(|r| r.email.clone()).unwrap_or_default();
        let jira_project = rule.and_then(|r| r.jira_project.clone());
        let teams_channel = rule.and_then(|r| r.teams.clone());
        let mut additions = Map::new();
        additions.insert("owner.team".into(), json!(primary));
        additions.insert("owner.teams".into(), json!(teams));
        additions.insert("owner.slack".into(), json!(slack));
        additions.insert("owner.email".into(), json!(email));
        additions.insert("owner.jira_project".into(), json!(jira_project));
        Ok(json!({
            "team": primary,
            "teams": teams,
            "sources": sources,
            "slack": slack,
            "email": email,
            "jira_project": jira_project,
            "teams_channel": teams_channel,
            "event": additions,
        }))
    }
}
