//! Actions: what a workflow task does. One file per action, each speaking its target's real
//! wire format; this module holds what they share — where secrets come from, the HTTP client,
//! how a failed request is classified, and the context a task runs in.

pub mod email;
pub mod exec;
pub mod jira;
pub mod ownership;
pub mod quarantine;
pub mod query;
pub mod slack;
pub mod teams;
pub mod webhook;

use std::collections::HashMap;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use reqwest::{RequestBuilder, StatusCode, Url};
use serde_json::{Map, Value, json};

use crate::config::{Builder, OwnerRule, WorkflowSet, check_env_name};
use crate::error::ActionError;
use crate::rate::Rate;
use crate::template::{TemplateContext, TemplateRef, Templates};

/// The action names a task's `action` may take.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ActionKind {
    /// Signed JSON POST.
    Webhook,
    /// Slack incoming webhook.
    Slack,
    /// Microsoft Teams (Workflows) webhook with an Adaptive Card.
    Teams,
    /// Jira issue.
    Jira,
    /// SMTP mail.
    Email,
    /// A local program, event JSON on stdin.
    Exec,
    /// Resolve owners.
    Ownership,
    /// Freeze, kill or isolate the loading processes.
    Quarantine,
    /// Run a query and attach its results.
    Query,
}

impl ActionKind {
    const ALL: [ActionKind; 9] = [
        ActionKind::Webhook,
        ActionKind::Slack,
        ActionKind::Teams,
        ActionKind::Jira,
        ActionKind::Email,
        ActionKind::Exec,
        ActionKind::Ownership,
        ActionKind::Quarantine,
        ActionKind::Query,
    ];

    /// The config spelling.
    pub fn name(self) -> &'static str {
        match self {
            ActionKind::Webhook => "webhook",
            ActionKind::Slack => "slack",
            ActionKind::Teams => "teams",
            ActionKind::Jira => "jira",
            ActionKind::Email => "email",
            ActionKind::Exec => "exec",
            ActionKind::Ownership => "ownership",
            ActionKind::Quarantine => "quarantine",
            ActionKind::Query => "query",
        }
    }

    /// From the config spelling.
    pub fn parse(name: &str) -> Option<ActionKind> {
        ActionKind::ALL.into_iter().find(|k| k.name() == name)
    }

    pub(crate) fn names() -> String {
        ActionKind::ALL.map(ActionKind::name).join(", ")
    }
}

/// A configured action.
#[derive(Debug)]
pub enum Action {
    /// See [`webhook`].
    Webhook(webhook::Webhook),
    /// See [`slack`].
    Slack(slack::Slack),
    /// See [`teams`].
    Teams(teams::Teams),
    /// See [`jira`].
    Jira(jira::Jira),
    /// See [`email`].
    Email(email::Email),
    /// See [`exec`].
    Exec(exec::Exec),
    /// See [`ownership`].
    Ownership(ownership::Ownership),
    /// See [`quarantine`].
    Quarantine(quarantine::Quarantine),
    /// See [`query`].
    Query(query::QueryAction),
}

impl Action {
    pub(crate) fn build(
        kind: ActionKind,
        b: &mut Builder<'_>,
        value: toml::Value,
        path: &str,
    ) -> Option<Action> {
        Some(match kind {
            ActionKind::Webhook => Action::Webhook(webhook::Webhook::build(b, value, path)?),
            ActionKind::Slack => Action::Slack(slack::Slack::build(b, value, path)?),
            ActionKind::Teams => Action::Teams(teams::Teams::build(b, value, path)?),
            ActionKind::Jira => Action::Jira(jira::Jira::build(b, value, path)?),
            ActionKind::Email => Action::Email(email::Email::build(b, value, path)?),
            ActionKind::Exec => Action::Exec(exec::Exec::build(b, value, path)?),
            ActionKind::Ownership => {
                Action::Ownership(ownership::Ownership::build(b, value, path)?)
            }
            ActionKind::Quarantine => {
                Action::Quarantine(quarantine::Quarantine::build(b, value, path)?)
            }
            ActionKind::Query => Action::Query(query::QueryAction::build(b, value, path)?),
        })
    }

    /// Which action this is.
    pub fn kind(&self) -> ActionKind {
        match self {
            Action::Webhook(_) => ActionKind::Webhook,
            Action::Slack(_) => ActionKind::Slack,
            Action::Teams(_) => ActionKind::Teams,
            Action::Jira(_) => ActionKind::Jira,
            Action::Email(_) => ActionKind::Email,
            Action::Exec(_) => ActionKind::Exec,
            Action::Ownership(_) => ActionKind::Ownership,
            Action::Quarantine(_) => ActionKind::Quarantine,
            Action::Query(_) => ActionKind::Query,
        }
    }

    /// Runs one attempt.
    pub async fn run(&self, run: &TaskRun<'_>) -> Result<Value, ActionError> {
        match self {
            Action::Webhook(a) => a.run(run).await,
            Action::Slack(a) => a.run(run).await,
            Action::Teams(a) => a.run(run).await,
            Action::Jira(a) => a.run(run).await,
            Action::Email(a) => a.run(run).await,
            Action::Exec(a) => a.run(run).await,
            Action::Ownership(a) => a.run(run),
            Action::Quarantine(a) => a.run(run),
            Action::Query(a) => a.run(run).await,
        }
    }

    /// The sink this action delivers to, for rate limiting: tasks sharing a destination
    /// share a bucket. `None` for local actions.
    pub fn sink(&self) -> Option<String> {
        let dest = match self {
            Action::Webhook(a) => a.url.describe(),
            Action::Slack(a) => a
                .webhook
                .as_ref()
                .map_or("owner".into(), UrlSource::describe),
            Action::Teams(a) => a
                .webhook
                .as_ref()
                .map_or("owner".into(), UrlSource::describe),
            Action::Jira(a) => a.base.describe(),
            Action::Email(a) => format!("{}:{}", a.host, a.port),
            Action::Exec(_) | Action::Ownership(_) | Action::Quarantine(_) | Action::Query(_) => {
                return None;
            }
        };
        Some(format!("{}:{dest}", self.kind().name()))
    }

    /// The default rate limit of the sink: Slack allows one message per second per webhook;
    /// the others are conservative defaults for shared services.
    pub fn default_rate(&self) -> Option<Rate> {
        match self.kind() {
            ActionKind::Slack => Some(Rate::per_second(1)),
            ActionKind::Teams => Some(Rate::per_second(4)),
            ActionKind::Jira => Some(Rate::per_second(5)),
            ActionKind::Email => Some(Rate::per_second(5)),
            ActionKind::Webhook => Some(Rate::per_second(20)),
            _ => None,
        }
    }

    /// `(config field, environment variable)` for every secret the action reads.
    pub fn secret_envs(&self) -> Vec<(&'static str, &str)> {
        fn url<'a>(
            out: &mut Vec<(&'static str, &'a str)>,
            field: &'static str,
            u: Option<&'a UrlSource>,
        ) {
            if let Some(UrlSource::Env(v)) = u {
                out.push((field, v.as_str()));
            }
        }
        let mut out = Vec::new();
        match self {
            Action::Webhook(a) => {
                url(&mut out, "url_env", Some(&a.url));
                if let Some(s) = &a.secret_env {
                    out.push(("secret_env", s.as_str()));
                }
                for (_, var) in &a.headers_env {
                    out.push(("headers_env", var.as_str()));
                }
            }
            Action::Slack(a) => url(&mut out, "webhook_url_env", a.webhook.as_ref()),
            Action::Teams(a) => url(&mut out, "webhook_url_env", a.webhook.as_ref()),
            Action::Jira(a) => {
                url(&mut out, "url_env", Some(&a.base));
                out.push(("token_env", a.token_env.as_str()));
            }
            Action::Email(a) => {
                if let Some(p) = &a.password_env {
                    out.push(("password_env", p.as_str()));
                }
            }
            _ => {}
        }
        out
    }
}

/// Where a process's environment comes from: the real one, or a map in tests (editing the
/// process environment is `unsafe` in Rust 2024 and racy in a multi-threaded server).
pub trait EnvSource: Send + Sync {
    /// The variable's value, `None` when unset or not UTF-8.
    fn get(&self, name: &str) -> Option<String>;
}

/// The process environment.
#[derive(Clone, Copy, Debug, Default)]
pub struct ProcessEnv;

impl EnvSource for ProcessEnv {
    fn get(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
}

impl EnvSource for HashMap<String, String> {
    fn get(&self, name: &str) -> Option<String> {
        HashMap::get(self, name).cloned()
    }
}

/// A boxed future, for trait objects.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The query seam: runs a pipeline (the `query` action) against the store. Implemented over
/// `vigil-query` + `vigil-store` where the binary wires things.
pub trait QueryRunner: Send + Sync {
    /// Runs `query`, returning its records.
    fn run<'a>(&'a self, query: &'a str) -> BoxFuture<'a, Result<Vec<Value>, String>>;
}

/// What actions use besides their configuration.
#[derive(Clone)]
pub struct ActionServices {
    /// The HTTP client: no redirects (a task talks to its configured URL only), timeouts.
    pub http: reqwest::Client,
    /// Secrets and exec's environment allowlist.
    pub env: Arc<dyn EnvSource>,
    /// The query seam, when wired.
    pub query: Option<Arc<dyn QueryRunner>>,
    /// `/proc` (or a fixture).
    pub proc_root: PathBuf,
    /// The cgroup v2 mount (`/sys/fs/cgroup`).
    pub cgroup_root: PathBuf,
}

impl std::fmt::Debug for ActionServices {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ActionServices")
            .field("proc_root", &self.proc_root)
            .field("cgroup_root", &self.cgroup_root)
            .finish_non_exhaustive()
    }
}

impl ActionServices {
    /// Services over the real environment, `/proc` and `/sys/fs/cgroup`.
    pub fn new(env: Arc<dyn EnvSource>) -> Result<ActionServices, ActionError> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(30))
            .user_agent(concat!("vigil/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ActionError::permanent(format!("HTTP client: {e}")))?;
        Ok(ActionServices {
            http,
            env,
            query: None,
            proc_root: PathBuf::from("/proc"),
            cgroup_root: cgroup2_root(),
        })
    }
}

/// Where cgroup v2 is mounted: `/sys/fs/cgroup` on a unified host, `/sys/fs/cgroup/unified`
/// on a hybrid (v1 + v2) one.
fn cgroup2_root() -> PathBuf {
    let unified = PathBuf::from("/sys/fs/cgroup");
    if unified.join("cgroup.controllers").is_file() {
        return unified;
    }
    let hybrid = unified.join("unified");
    if hybrid.join("cgroup.controllers").is_file() {
        return hybrid;
    }
    unified
}

/// One attempt of one task.
pub struct TaskRun<'a> {
    /// The event, with fields added by the tasks this one ran after (`owner.team`).
    pub event: &'a Value,
    /// Results of the tasks this one ran after, by name.
    pub tasks: &'a Map<String, Value>,
    /// Workflow name.
    pub workflow: &'a str,
    /// Task name.
    pub task: &'a str,
    /// The finding (or event) id.
    pub subject: &'a str,
    /// This delivery's idempotency key.
    pub idempotency_key: &'a str,
    /// The configuration (templates, owner rules).
    pub set: &'a WorkflowSet,
    /// Shared services.
    pub services: &'a ActionServices,
}

impl TaskRun<'_> {
    pub(crate) fn templates(&self) -> &Templates {
        &self.set.templates
    }

    /// Renders a template over this run's context.
    pub fn render(&self, template: &TemplateRef) -> Result<String, ActionError> {
        self.templates().render(
            template,
            &TemplateContext {
                event: self.event,
                tasks: self.tasks,
                workflow: self.workflow,
                finding: self.subject,
            },
        )
    }

    /// The JSON document HTTP and exec sinks receive: the event and the results it saw.
    pub fn document(&self) -> Value {
        json!({
            "workflow": self.workflow,
            "task": self.task,
            "finding": self.subject,
            "idempotency_key": self.idempotency_key,
            "event": self.event,
            "tasks": self.tasks,
        })
    }

    /// The owner rule of the event's primary team (set by an earlier `ownership` task).
    pub fn owner(&self) -> Option<&OwnerRule> {
        let team = self.event.get("owner.team")?.as_str()?;
        self.set.owner(team)
    }

    /// A secret from the environment.
    pub fn secret(&self, var: &str) -> Result<String, ActionError> {
        self.services.env.get(var).ok_or_else(|| {
            ActionError::retryable(format!("environment variable `{var}` is not set"))
        })
    }
}

/// A URL given inline (`url = "https://..."`) or through an environment variable
/// (`url_env = "SLACK_WEBHOOK"`) because the URL itself is a secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UrlSource {
    /// In the config.
    Inline(Url),
    /// In this environment variable.
    Env(String),
}

impl UrlSource {
    /// Reads `inline_key` / `env_key` (exactly one must be given when `required`).
    pub(crate) fn build(
        b: &mut Builder<'_>,
        inline: Option<&str>,
        env: Option<&str>,
        path: &str,
        (inline_key, env_key): (&str, &str),
        required: bool,
    ) -> Option<UrlSource> {
        match (inline, env) {
            (Some(_), Some(_)) => {
                b.error(
                    format!("{path}.{inline_key}"),
                    format!("give `{inline_key}` or `{env_key}`, not both"),
                );
                None
            }
            (Some(u), None) => match parse_http_url(u) {
                Ok(url) => Some(UrlSource::Inline(url)),
                Err(reason) => {
                    b.error(format!("{path}.{inline_key}"), reason);
                    None
                }
            },
            (None, Some(var)) => {
                check_env_name(b, var, &format!("{path}.{env_key}"));
                Some(UrlSource::Env(var.to_owned()))
            }
            (None, None) => {
                if required {
                    b.error(
                        format!("{path}.{inline_key}"),
                        format!("missing field `{inline_key}` (or `{env_key}` naming an environment variable)"),
                    );
                }
                None
            }
        }
    }

    /// The URL (reading the environment now).
    pub fn resolve(&self, run: &TaskRun<'_>) -> Result<Url, ActionError> {
        match self {
            UrlSource::Inline(u) => Ok(u.clone()),
            UrlSource::Env(var) => {
                let text = run.secret(var)?;
                parse_http_url(&text).map_err(|reason| {
                    ActionError::permanent(format!("environment variable `{var}`: {reason}"))
                })
            }
        }
    }

    /// A label for rate-limit buckets; never printed.
    fn describe(&self) -> String {
        match self {
            UrlSource::Inline(u) => u.as_str().to_owned(),
            UrlSource::Env(v) => format!("env:{v}"),
        }
    }
}

/// An absolute `http`/`https` URL with a host.
pub(crate) fn parse_http_url(text: &str) -> Result<Url, String> {
    let url = Url::parse(text).map_err(|e| format!("not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("scheme `{}` is not http or https", url.scheme()));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("URL has no host".into());
    }
    Ok(url)
}

/// The longest response body kept (for error messages and results).
const MAX_RESPONSE_BYTES: usize = 64 * 1024;

/// A response that came back 2xx.
#[derive(Debug)]
pub struct HttpResponse {
    /// The status.
    pub status: StatusCode,
    /// The body, cut at 64 KiB.
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// The body as JSON, `Null` when it is not.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

/// Sends a request and classifies the outcome: 2xx is success; connection failures,
/// timeouts, 408, 425, 429 and 5xx are worth retrying; other statuses are permanent.
pub(crate) async fn send(request: RequestBuilder, what: &str) -> Result<HttpResponse, ActionError> {
    let mut response = request.send().await.map_err(|e| {
        // reqwest errors carry the URL, which may embed a secret (Slack webhooks): drop it.
        ActionError::retryable(format!("{what}: {}", e.without_url()))
    })?;
    let status = response.status();
    // Seconds only: the HTTP-date form is rare on webhooks and not worth a date parser.
    let retry_after = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(|s| Duration::from_secs(s.min(3600)));
    let mut body = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                let room = MAX_RESPONSE_BYTES.saturating_sub(body.len());
                body.extend_from_slice(chunk.get(..room.min(chunk.len())).unwrap_or(&[]));
                if room <= chunk.len() {
                    break;
                }
            }
            Ok(None) => break,
            Err(e) if status.is_success() => {
                return Err(ActionError::retryable(format!(
                    "{what}: {}",
                    e.without_url()
                )));
            }
            Err(_) => break,
        }
    }
    if status.is_success() {
        return Ok(HttpResponse { status, body });
    }
    let snippet = crate::event::escape_control(&String::from_utf8_lossy(
        body.get(..body.len().min(300)).unwrap_or(&[]),
    ));
    let message = format!("{what}: HTTP {status}: {snippet}");
    let retry = status.is_server_error() || matches!(status.as_u16(), 408 | 425 | 429);
    Err(if retry {
        ActionError {
            retry_after,
            ..ActionError::retryable(message)
        }
    } else {
        ActionError::permanent(message)
    })
}

/// Compiles an optional template field.
pub(crate) fn optional_template(
    b: &mut Builder<'_>,
    source: Option<&str>,
    key: &str,
    flavor: crate::template::Flavor,
) -> Option<TemplateRef> {
    source.and_then(|s| b.template(s, key, flavor))
}

/// A short human headline for an event: `Malicious package debug@4.4.2`.
pub(crate) fn headline(event: &Value) -> String {
    use crate::event::text;
    let kind = match text(event, "vulnerability.kind").as_deref() {
        Some("MALICIOUS") => "Malicious package",
        Some("VULNERABILITY") => "Vulnerable package",
        _ => "Finding",
    };
    match (
        text(event, "component.name"),
        text(event, "component.version"),
    ) {
        (Some(n), Some(v)) => format!("{kind} {n}@{v}"),
        (Some(n), None) => format!("{kind} {n}"),
        _ => match text(event, "vulnerability.id") {
            Some(id) => format!("{kind} {id}"),
            None => kind.to_owned(),
        },
    }
}

/// The facts every notification shows, in order, as (label, text) for fields that are present.
pub(crate) fn facts(event: &Value) -> Vec<(&'static str, String)> {
    use crate::event::text;
    let mut out = Vec::new();
    let mut push = |label: &'static str, value: Option<String>| {
        if let Some(v) = value.filter(|v| !v.is_empty()) {
            out.push((label, v));
        }
    };
    push(
        "Package",
        match (
            text(event, "component.name"),
            text(event, "component.version"),
        ) {
            (Some(n), Some(v)) => Some(format!("{n}@{v}")),
            (n, _) => n,
        },
    );
    push("Ecosystem", text(event, "component.ecosystem"));
    push(
        "Advisory",
        match (
            text(event, "vulnerability.id"),
            text(event, "vulnerability.title"),
        ) {
            (Some(id), Some(t)) => Some(format!("{id}: {t}")),
            (id, _) => id,
        },
    );
    push(
        "Risk",
        match (
            text(event, "vulnerability.risk.score"),
            text(event, "vulnerability.risk.level"),
        ) {
            (Some(s), Some(l)) => Some(format!("{s} ({l})")),
            (s, l) => s.or(l),
        },
    );
    push("Host", text(event, "host.name"));
    push(
        "Container",
        match (text(event, "container.image"), text(event, "container.id")) {
            (Some(i), _) => Some(i),
            (None, id) => id,
        },
    );
    push(
        "Workload",
        match (
            text(event, "k8s.namespace.name"),
            text(event, "k8s.workload.name"),
        ) {
            (Some(ns), Some(w)) => Some(format!("{ns}/{w}")),
            (ns, w) => ns.or(w),
        },
    );
    push("Evidence", text(event, "evidence"));
    push("Processes", event.get("process.pids").and_then(pid_list));
    push("Owner", text(event, "owner.team"));
    out
}

fn pid_list(value: &Value) -> Option<String> {
    let items = value.as_array()?;
    let pids: Vec<String> = items
        .iter()
        .filter_map(|p| match p {
            Value::Number(n) => Some(n.to_string()),
            Value::Object(o) => o.get("pid").map(ToString::to_string),
            _ => None,
        })
        .collect();
    (!pids.is_empty()).then(|| pids.join(", "))
}
