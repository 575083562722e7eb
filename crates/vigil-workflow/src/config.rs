//! The `[[workflows]]`, `[[owners]]` and `[delivery]` sections of vigil's TOML configuration,
//! parsed and validated at start.
//!
//! Validation collects every problem in the file, each as `file: key.path: reason`
//! (`vigil.toml: workflows[0].tasks[2].webhook_url: not a URL: ...`): unknown keys are errors
//! (a misspelt `webhok_url` must not silently disable a notification), as are unknown actions,
//! missing fields, bad URLs, duplicate names, filters that do not compile and templates with
//! syntax errors. Secrets are never required inline: every credential has an `*_env` form
//! naming an environment variable, read when a task runs.
//!
//! Other top-level tables (`[agent]`, `[server]` …) belong to other parts of vigil and are left
//! alone here.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde::Deserialize;

use crate::action::{Action, ActionKind, EnvSource};
use crate::error::{ConfigError, ConfigErrors};
use crate::filter::{FilterCompiler, TriggerFilter};
use crate::rate::Rate;
use crate::template::Templates;

/// The event source workflows trigger on (the only one so far).
pub const SECURITY_EVENTS: &str = "security.events";

/// Every workflow and owner rule of one configuration, ready to run.
#[derive(Debug)]
pub struct WorkflowSet {
    /// The file it came from.
    pub file: String,
    /// Workflows in file order.
    pub workflows: Vec<Workflow>,
    /// Owner rules in file order.
    pub owners: Vec<OwnerRule>,
    /// Delivery tuning.
    pub delivery: DeliverySettings,
    pub(crate) templates: Templates,
}

/// One `[[workflows]]` entry.
#[derive(Debug)]
pub struct Workflow {
    /// Unique name; part of every idempotency key, so renaming a workflow re-notifies.
    pub name: String,
    /// The event source (`security.events`).
    pub on: String,
    /// The filter's source text, when there is one.
    pub filter_source: Option<String>,
    pub(crate) filter: Option<Box<dyn TriggerFilter>>,
    /// Tasks in order.
    pub tasks: Vec<Task>,
}

impl Workflow {
    /// Does this workflow trigger on `event`? No filter means every event.
    pub fn matches(&self, event: &serde_json::Value) -> bool {
        self.filter.as_ref().is_none_or(|f| f.matches(event))
    }

    /// The task called `name`.
    pub fn task(&self, name: &str) -> Option<&Task> {
        self.tasks.iter().find(|t| t.name == name)
    }
}

/// One task of a workflow.
#[derive(Debug)]
pub struct Task {
    /// Unique within the workflow (default: the action's name); part of the idempotency key.
    pub name: String,
    /// Tasks (by name) that must be finished — delivered or dead — before this one runs, and
    /// whose results it sees as `tasks.NAME`: the explicit `after` list plus every earlier
    /// `ownership` and `query` task. Notifications and containment never wait for each
    /// other, so a Slack outage cannot delay a freeze.
    pub after: Vec<String>,
    /// Overrides the action's default rate limit.
    pub rate_limit: Option<Rate>,
    /// Overrides `delivery.max_attempts`.
    pub max_attempts: Option<u32>,
    /// What it does.
    pub action: Action,
}

/// One `[[owners]]` entry: a team, the events it owns, and how to reach it.
#[derive(Debug)]
pub struct OwnerRule {
    /// The team's name (also matched against `owner`/`team` labels).
    pub team: String,
    /// The `match` expression's source.
    pub match_source: Option<String>,
    pub(crate) matcher: Option<Box<dyn TriggerFilter>>,
    /// Slack channel (informational; `#payments-sec`).
    pub slack: Option<String>,
    /// Environment variable holding the team's Slack incoming-webhook URL.
    pub slack_webhook_url_env: Option<String>,
    /// Mail addresses.
    pub email: Vec<String>,
    /// Jira project key.
    pub jira_project: Option<String>,
    /// Microsoft Teams channel (informational).
    pub teams: Option<String>,
    /// Environment variable holding the team's Teams Workflows webhook URL.
    pub teams_webhook_url_env: Option<String>,
}

impl OwnerRule {
    /// Does the rule's `match` hold for `event`? A rule without one matches only by label.
    pub fn matches(&self, event: &serde_json::Value) -> bool {
        self.matcher.as_ref().is_some_and(|m| m.matches(event))
    }
}

/// `[delivery]`: retry, lease and concurrency tuning.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeliverySettings {
    /// Attempts before an item is dead-lettered (default 8).
    pub max_attempts: u32,
    /// First retry delay (default 2 s); doubles per attempt, with jitter.
    pub backoff_base: Duration,
    /// Longest retry delay (default 10 min).
    pub backoff_cap: Duration,
    /// How long a worker holds an item before another may take it over (default 2 min).
    /// Longer than `task_timeout`, so a live worker never loses an item it is delivering.
    pub lease: Duration,
    /// Longest a single task may run (default 60 s).
    pub task_timeout: Duration,
    /// Items delivered at once (default 8).
    pub concurrency: usize,
    /// How often an idle dispatcher looks for due items (default 500 ms).
    pub poll_interval: Duration,
}

impl Default for DeliverySettings {
    fn default() -> Self {
        DeliverySettings {
            max_attempts: 8,
            backoff_base: Duration::from_secs(2),
            backoff_cap: Duration::from_secs(600),
            lease: Duration::from_secs(120),
            task_timeout: Duration::from_secs(60),
            concurrency: 8,
            poll_interval: Duration::from_millis(500),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWorkflow {
    name: String,
    #[serde(default = "default_on")]
    on: String,
    filter: Option<String>,
    tasks: Vec<toml::Table>,
}

fn default_on() -> String {
    SECURITY_EVENTS.to_owned()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOwner {
    team: String,
    #[serde(rename = "match")]
    match_: Option<String>,
    slack: Option<String>,
    slack_webhook_url_env: Option<String>,
    #[serde(default)]
    email: OneOrMany,
    jira_project: Option<String>,
    teams: Option<String>,
    teams_webhook_url_env: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(untagged)]
enum OneOrMany {
    #[default]
    None,
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    fn into_vec(self) -> Vec<String> {
        match self {
            OneOrMany::None => Vec::new(),
            OneOrMany::One(s) => vec![s],
            OneOrMany::Many(v) => v,
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawDelivery {
    max_attempts: Option<u32>,
    backoff_base: Option<String>,
    backoff_cap: Option<String>,
    lease: Option<String>,
    task_timeout: Option<String>,
    concurrency: Option<usize>,
    poll_interval: Option<String>,
}

/// What building a part of the configuration needs: where errors go and where templates and
/// filters are compiled.
pub(crate) struct Builder<'a> {
    pub file: &'a str,
    pub errors: Vec<ConfigError>,
    pub templates: Templates,
    pub filters: &'a dyn FilterCompiler,
}

impl Builder<'_> {
    pub fn error(&mut self, key: impl Into<String>, reason: impl Into<String>) {
        self.errors.push(ConfigError::new(self.file, key, reason));
    }

    /// Deserializes `value` into `T`, reporting failures at `path` + the inner key path.
    pub fn deserialize<T: for<'de> Deserialize<'de>>(
        &mut self,
        value: toml::Value,
        path: &str,
    ) -> Option<T> {
        match serde_path_to_error::deserialize::<_, T>(value) {
            Ok(v) => Some(v),
            Err(e) => {
                let inner = e.path().to_string();
                let message = e.inner().to_string();
                let mut key = join_path(path, if inner == "." { "" } else { &inner });
                // serde names the unknown key in the message; put it in the path too.
                if let Some(rest) = message.strip_prefix("unknown field `")
                    && let Some(end) = rest.find('`')
                    && let Some(name) = rest.get(..end)
                    && !key.ends_with(name)
                {
                    key = join_path(&key, name);
                }
                self.error(key, message);
                None
            }
        }
    }

    /// Compiles a filter, reporting errors with a caret under the span.
    pub fn filter(&mut self, source: &str, key: &str) -> Option<Box<dyn TriggerFilter>> {
        match self.filters.compile(source) {
            Ok(f) => Some(f),
            Err(e) => {
                self.error(key, e.render(source));
                None
            }
        }
    }

    /// Compiles a template.
    pub fn template(
        &mut self,
        source: &str,
        key: &str,
        flavor: crate::template::Flavor,
    ) -> Option<crate::template::TemplateRef> {
        match self.templates.add(key, source, flavor) {
            Ok(t) => Some(t),
            Err(e) => {
                self.error(key, format!("template syntax: {e}"));
                None
            }
        }
    }

    /// Parses a duration setting.
    pub fn duration(&mut self, text: Option<&str>, key: &str, default: Duration) -> Duration {
        match text {
            None => default,
            Some(t) => match parse_duration(t) {
                Some(d) => d,
                None => {
                    self.error(
                        key,
                        format!("`{t}` is not a duration (use e.g. `500ms`, `30s`, `5m`, `1h`)"),
                    );
                    default
                }
            },
        }
    }
}

pub(crate) fn join_path(prefix: &str, inner: &str) -> String {
    match (prefix.is_empty(), inner.is_empty()) {
        (_, true) => prefix.to_owned(),
        (true, false) => inner.to_owned(),
        (false, false) if inner.starts_with('[') => format!("{prefix}{inner}"),
        (false, false) => format!("{prefix}.{inner}"),
    }
}

/// `500ms`, `30s`, `5m`, `2h`, `1d`; a bare number is seconds.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let n: u64 = digits.parse().ok()?;
    let millis = match unit.trim() {
        "ms" => Some(n),
        "" | "s" => n.checked_mul(1000),
        "m" | "min" => n.checked_mul(60_000),
        "h" => n.checked_mul(3_600_000),
        "d" => n.checked_mul(86_400_000),
        _ => None,
    }?;
    Some(Duration::from_millis(millis))
}

/// Names used in keys and templates: letters, digits, `_`, `-`, `.`; 1–64 characters.
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

impl WorkflowSet {
    /// Parses and validates a whole configuration file's text. `file` names it in errors.
    pub fn parse(
        file: &str,
        text: &str,
        filters: &dyn FilterCompiler,
    ) -> Result<WorkflowSet, ConfigErrors> {
        let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
            ConfigErrors(vec![ConfigError::new(
                file,
                "",
                format!("not valid TOML: {}", e.to_string().trim_end()),
            )])
        })?;
        WorkflowSet::from_table(file, &table, filters)
    }

    /// Validates an already parsed document (the CLI parses the file once for all sections).
    pub fn from_table(
        file: &str,
        table: &toml::Table,
        filters: &dyn FilterCompiler,
    ) -> Result<WorkflowSet, ConfigErrors> {
        let mut b = Builder {
            file,
            errors: Vec::new(),
            templates: Templates::new(),
            filters,
        };
        for (near, meant) in [("workflow", "workflows"), ("owner", "owners")] {
            if table.contains_key(near) {
                b.error(
                    near,
                    format!("unknown section; did you mean `[[{meant}]]`?"),
                );
            }
        }
        let delivery = build_delivery(&mut b, table.get("delivery"));
        let owners = match table.get("owners") {
            None => Vec::new(),
            Some(toml::Value::Array(items)) => items
                .iter()
                .enumerate()
                .filter_map(|(i, v)| build_owner(&mut b, v.clone(), &format!("owners[{i}]")))
                .collect(),
            Some(_) => {
                b.error("owners", "must be an array of tables (`[[owners]]`)");
                Vec::new()
            }
        };
        let mut seen_teams = BTreeSet::new();
        for (i, o) in owners.iter().enumerate() {
            if !seen_teams.insert(o.team.clone()) {
                b.error(
                    format!("owners[{i}].team"),
                    format!("duplicate team `{}`", o.team),
                );
            }
        }
        let workflows = match table.get("workflows") {
            None => Vec::new(),
            Some(toml::Value::Array(items)) => items
                .iter()
                .enumerate()
                .filter_map(|(i, v)| build_workflow(&mut b, v.clone(), &format!("workflows[{i}]")))
                .collect::<Vec<_>>(),
            Some(_) => {
                b.error("workflows", "must be an array of tables (`[[workflows]]`)");
                Vec::new()
            }
        };
        let mut seen = BTreeMap::new();
        for (i, w) in workflows.iter().enumerate() {
            if let Some(first) = seen.insert(w.name.clone(), i) {
                b.error(
                    format!("workflows[{i}].name"),
                    format!(
                        "duplicate workflow name `{}` (first used by workflows[{first}])",
                        w.name
                    ),
                );
            }
        }
        if b.errors.is_empty() {
            Ok(WorkflowSet {
                file: file.to_owned(),
                workflows,
                owners,
                delivery,
                templates: b.templates,
            })
        } else {
            Err(ConfigErrors(b.errors))
        }
    }

    /// The workflow called `name`.
    pub fn workflow(&self, name: &str) -> Option<&Workflow> {
        self.workflows.iter().find(|w| w.name == name)
    }

    /// The owner rule for `team`.
    pub fn owner(&self, team: &str) -> Option<&OwnerRule> {
        self.owners.iter().find(|o| o.team == team)
    }

    /// Environment variables the configuration names that are not set, as errors the CLI
    /// may report at start (tasks would fail — and retry — until they are set).
    pub fn missing_secrets(&self, env: &dyn EnvSource) -> Vec<ConfigError> {
        let mut out = Vec::new();
        for (i, w) in self.workflows.iter().enumerate() {
            for (j, t) in w.tasks.iter().enumerate() {
                for (field, var) in t.action.secret_envs() {
                    if env.get(var).is_none() {
                        out.push(ConfigError::new(
                            &self.file,
                            format!("workflows[{i}].tasks[{j}].{field}"),
                            format!("environment variable `{var}` is not set"),
                        ));
                    }
                }
            }
        }
        out
    }
}

fn build_delivery(b: &mut Builder<'_>, value: Option<&toml::Value>) -> DeliverySettings {
    let d = DeliverySettings::default();
    let Some(value) = value else { return d };
    let Some(raw) = b.deserialize::<RawDelivery>(value.clone(), "delivery") else {
        return d;
    };
    let settings = DeliverySettings {
        max_attempts: raw.max_attempts.unwrap_or(d.max_attempts),
        backoff_base: b.duration(
            raw.backoff_base.as_deref(),
            "delivery.backoff_base",
            d.backoff_base,
        ),
        backoff_cap: b.duration(
            raw.backoff_cap.as_deref(),
            "delivery.backoff_cap",
            d.backoff_cap,
        ),
        lease: b.duration(raw.lease.as_deref(), "delivery.lease", d.lease),
        task_timeout: b.duration(
            raw.task_timeout.as_deref(),
            "delivery.task_timeout",
            d.task_timeout,
        ),
        concurrency: raw.concurrency.unwrap_or(d.concurrency),
        poll_interval: b.duration(
            raw.poll_interval.as_deref(),
            "delivery.poll_interval",
            d.poll_interval,
        ),
    };
    if settings.max_attempts == 0 {
        b.error("delivery.max_attempts", "must be at least 1");
    }
    if settings.concurrency == 0 || settings.concurrency > 1024 {
        b.error("delivery.concurrency", "must be between 1 and 1024");
    }
    if settings.lease <= settings.task_timeout {
        b.error(
            "delivery.lease",
            format!(
                "must be longer than delivery.task_timeout ({:?}), or a slow task is delivered twice",
                settings.task_timeout
            ),
        );
    }
    if settings.backoff_cap < settings.backoff_base {
        b.error(
            "delivery.backoff_cap",
            "must not be shorter than delivery.backoff_base",
        );
    }
    settings
}

fn build_owner(b: &mut Builder<'_>, value: toml::Value, path: &str) -> Option<OwnerRule> {
    let raw: RawOwner = b.deserialize(value, path)?;
    if raw.team.trim().is_empty() {
        b.error(format!("{path}.team"), "must not be empty");
    }
    let matcher = raw
        .match_
        .as_deref()
        .and_then(|m| b.filter(m, &format!("{path}.match")));
    for (field, var) in [
        ("slack_webhook_url_env", &raw.slack_webhook_url_env),
        ("teams_webhook_url_env", &raw.teams_webhook_url_env),
    ] {
        if let Some(var) = var {
            check_env_name(b, var, &format!("{path}.{field}"));
        }
    }
    let email = raw.email.into_vec();
    for (i, e) in email.iter().enumerate() {
        if e.parse::<lettre::Address>().is_err() {
            b.error(
                format!("{path}.email[{i}]"),
                format!("`{e}` is not a mail address"),
            );
        }
    }
    Some(OwnerRule {
        team: raw.team,
        match_source: raw.match_,
        matcher,
        slack: raw.slack,
        slack_webhook_url_env: raw.slack_webhook_url_env,
        email,
        jira_project: raw.jira_project,
        teams: raw.teams,
        teams_webhook_url_env: raw.teams_webhook_url_env,
    })
}

/// Environment variable names: `[A-Za-z_][A-Za-z0-9_]*`.
pub(crate) fn check_env_name(b: &mut Builder<'_>, name: &str, key: &str) {
    let ok = name
        .bytes()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == b'_')
        && name.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_');
    if !ok {
        b.error(key, format!("`{name}` is not an environment variable name"));
    }
}

fn build_workflow(b: &mut Builder<'_>, value: toml::Value, path: &str) -> Option<Workflow> {
    let raw: RawWorkflow = b.deserialize(value, path)?;
    if !valid_name(&raw.name) {
        b.error(
            format!("{path}.name"),
            format!(
                "`{}` is not a valid name (1-64 of letters, digits, `_`, `-`, `.`)",
                crate::event::escape_control(&raw.name)
            ),
        );
    }
    if raw.on != SECURITY_EVENTS {
        b.error(
            format!("{path}.on"),
            format!(
                "unknown event source `{}`; workflows trigger on `{SECURITY_EVENTS}`",
                raw.on
            ),
        );
    }
    let filter = raw
        .filter
        .as_deref()
        .and_then(|f| b.filter(f, &format!("{path}.filter")));
    if raw.tasks.is_empty() {
        b.error(
            format!("{path}.tasks"),
            "a workflow needs at least one task",
        );
    }
    let mut tasks: Vec<Task> = Vec::new();
    for (j, table) in raw.tasks.into_iter().enumerate() {
        let tpath = format!("{path}.tasks[{j}]");
        if let Some(task) = build_task(b, table, &tpath, &tasks) {
            if tasks.iter().any(|t| t.name == task.name) {
                b.error(
                    format!("{tpath}.name"),
                    format!(
                        "duplicate task name `{}` in this workflow; give one of them `name = \"...\"`",
                        task.name
                    ),
                );
            }
            tasks.push(task);
        }
    }
    Some(Workflow {
        name: raw.name,
        on: raw.on,
        filter_source: raw.filter,
        filter,
        tasks,
    })
}

fn build_task(
    b: &mut Builder<'_>,
    mut table: toml::Table,
    path: &str,
    earlier: &[Task],
) -> Option<Task> {
    let action_name = match table.remove("action") {
        Some(toml::Value::String(s)) => s,
        Some(_) => {
            b.error(format!("{path}.action"), "must be a string");
            return None;
        }
        None => {
            b.error(
                format!("{path}.action"),
                format!("missing field `action` (one of {})", ActionKind::names()),
            );
            return None;
        }
    };
    let Some(kind) = ActionKind::parse(&action_name) else {
        b.error(
            format!("{path}.action"),
            format!(
                "unknown action `{action_name}` (one of {})",
                ActionKind::names()
            ),
        );
        return None;
    };
    let name = match table.remove("name") {
        Some(toml::Value::String(s)) => s,
        Some(_) => {
            b.error(format!("{path}.name"), "must be a string");
            kind.name().to_owned()
        }
        None => kind.name().to_owned(),
    };
    if !valid_name(&name) {
        b.error(
            format!("{path}.name"),
            "not a valid task name (1-64 of letters, digits, `_`, `-`, `.`)",
        );
    }
    let mut after: Vec<String> = Vec::new();
    match table.remove("after") {
        None => {}
        Some(toml::Value::Array(items)) => {
            for (k, item) in items.iter().enumerate() {
                match item.as_str() {
                    Some(dep) if earlier.iter().any(|t| t.name == dep) => {
                        after.push(dep.to_owned());
                    }
                    Some(dep) => b.error(
                        format!("{path}.after[{k}]"),
                        format!("no earlier task named `{dep}` (a task may only run after tasks listed before it)"),
                    ),
                    None => b.error(format!("{path}.after[{k}]"), "must be a task name"),
                }
            }
        }
        Some(_) => b.error(format!("{path}.after"), "must be an array of task names"),
    }
    for t in earlier {
        if matches!(t.action.kind(), ActionKind::Ownership | ActionKind::Query)
            && !after.contains(&t.name)
        {
            after.push(t.name.clone());
        }
    }
    let rate_limit = match table.remove("rate_limit") {
        None => None,
        Some(toml::Value::String(s)) => match Rate::parse(&s) {
            Some(r) => Some(r),
            None => {
                b.error(
                    format!("{path}.rate_limit"),
                    format!("`{s}` is not a rate (use e.g. `1/s`, `30/min`, `500/h`)"),
                );
                None
            }
        },
        Some(_) => {
            b.error(format!("{path}.rate_limit"), "must be a string like `1/s`");
            None
        }
    };
    let max_attempts = match table.remove("max_attempts") {
        None => None,
        Some(toml::Value::Integer(n)) if (1..=1000).contains(&n) => u32::try_from(n).ok(),
        Some(_) => {
            b.error(
                format!("{path}.max_attempts"),
                "must be an integer from 1 to 1000",
            );
            None
        }
    };
    let action = Action::build(kind, b, toml::Value::Table(table), path)?;
    Some(Task {
        name,
        after,
        rate_limit,
        max_attempts,
        action,
    })
}

#[cfg(test)]
mod tests;
