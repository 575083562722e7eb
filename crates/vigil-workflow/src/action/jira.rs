//! `jira`: one issue per finding, created through the REST API, never twice.
//!
//! Every issue carries the deterministic label `vigil-<finding id>`. Before creating, the
//! action searches for it — `GET /rest/api/2/search?jql=labels = "vigil-42"` (API v3:
//! `GET /rest/api/3/search/jql`) — and when an issue exists it returns that issue instead: a
//! retry after a crash between "created" and "recorded" finds the first issue.
//! Creation is `POST /rest/api/{2|3}/issue` with `fields.project.key`, `summary`,
//! `description` (plain text in v2, an Atlassian Document in v3), `issuetype.name` and
//! `labels`. Auth: a bearer token (`token_env`, Data Center PATs), or basic auth with `user`
//! and `token_env` (Jira Cloud API tokens).
//!
//! ```toml
//! { action = "jira", url = "https://jira.example.com", project = "SEC", token_env = "JIRA_TOKEN" }
//! ```

use serde::Deserialize;
use serde_json::{Value, json};

use super::{
    TaskRun, UrlSource, facts, headline, optional_template, send, webhook::IDEMPOTENCY_HEADER,
};
use crate::config::{Builder, check_env_name};
use crate::error::ActionError;
use crate::event::{escape_control, truncate_chars};
use crate::template::{Flavor, TemplateRef};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    url: Option<String>,
    url_env: Option<String>,
    project: Option<String>,
    #[serde(default = "default_issue_type")]
    issue_type: String,
    summary: Option<String>,
    description: Option<String>,
    #[serde(default)]
    labels: Vec<String>,
    token_env: String,
    user: Option<String>,
    #[serde(default = "default_api_version")]
    api_version: u8,
}

fn default_issue_type() -> String {
    "Bug".into()
}

fn default_api_version() -> u8 {
    2
}

/// A configured Jira issue.
#[derive(Debug)]
pub struct Jira {
    pub(crate) base: UrlSource,
    project: Option<String>,
    issue_type: String,
    summary: Option<TemplateRef>,
    description: Option<TemplateRef>,
    labels: Vec<String>,
    pub(crate) token_env: String,
    user: Option<String>,
    api_version: u8,
}

/// The label that identifies a finding's issue: `vigil-` and the id with anything outside
/// `[A-Za-z0-9_.-]` replaced by `_` (Jira labels cannot contain spaces; JQL quoting stays
/// trivial).
pub fn finding_label(subject: &str) -> String {
    let id: String = subject
        .chars()
        .take(200)
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("vigil-{id}")
}

fn valid_label(l: &str) -> bool {
    !l.is_empty() && l.len() <= 255 && !l.chars().any(|c| c.is_whitespace() || c.is_control())
}

impl Jira {
    pub(crate) fn build(b: &mut Builder<'_>, value: toml::Value, path: &str) -> Option<Jira> {
        let raw: Raw = b.deserialize(value, path)?;
        let base = UrlSource::build(
            b,
            raw.url.as_deref(),
            raw.url_env.as_deref(),
            path,
            ("url", "url_env"),
            true,
        );
        check_env_name(b, &raw.token_env, &format!("{path}.token_env"));
        if !matches!(raw.api_version, 2 | 3) {
            b.error(format!("{path}.api_version"), "must be 2 or 3");
        }
        for (i, l) in raw.labels.iter().enumerate() {
            if !valid_label(l) {
                b.error(
                    format!("{path}.labels[{i}]"),
                    "a Jira label cannot be empty or contain spaces",
                );
            }
        }
        if let Some(p) = &raw.project
            && (p.is_empty() || !p.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_'))
        {
            b.error(
                format!("{path}.project"),
                format!("`{p}` is not a Jira project key"),
            );
        }
        Some(Jira {
            base: base?,
            project: raw.project,
            issue_type: raw.issue_type,
            summary: optional_template(
                b,
                raw.summary.as_deref(),
                &format!("{path}.summary"),
                Flavor::Plain,
            ),
            description: optional_template(
                b,
                raw.description.as_deref(),
                &format!("{path}.description"),
                Flavor::Plain,
            ),
            labels: raw.labels,
            token_env: raw.token_env,
            user: raw.user,
            api_version: raw.api_version,
        })
    }

    fn endpoint(base: &reqwest::Url, path: &[&str]) -> Result<reqwest::Url, ActionError> {
        let mut url = base.clone();
        url.set_query(None);
        url.set_fragment(None);
        {
            let mut segs = url
                .path_segments_mut()
                .map_err(|_| ActionError::permanent("jira url cannot be a base"))?;
            segs.pop_if_empty();
            for p in path {
                segs.push(p);
            }
        }
        Ok(url)
    }

    fn authorize(&self, request: reqwest::RequestBuilder, token: &str) -> reqwest::RequestBuilder {
        match &self.user {
            Some(user) => request.basic_auth(user, Some(token)),
            None => request.bearer_auth(token),
        }
    }

    /// The create-issue body for this run.
    pub fn issue(&self, run: &TaskRun<'_>, label: &str) -> Result<Value, ActionError> {
        let project = match &self.project {
            Some(p) => p.clone(),
            None => run
                .event
                .get("owner.jira_project")
                .and_then(Value::as_str)
                .filter(|p| {
                    !p.is_empty() && p.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_')
                })
                .map(str::to_owned)
                .ok_or_else(|| {
                    ActionError::permanent("no `project` and the owner has no jira_project")
                })?,
        };
        let summary = match &self.summary {
            Some(t) => run.render(t)?,
            None => escape_control(&headline(run.event)),
        };
        // Jira rejects summaries over 255 characters and with line breaks.
        let summary = truncate_chars(&summary.replace(['\n', '\r'], " "), 255);
        let description = match &self.description {
            Some(t) => run.render(t)?,
            None => {
                let mut d = String::new();
                for (label, value) in facts(run.event) {
                    d.push_str(&format!("{label}: {}\n", escape_control(&value)));
                }
                d.push_str(&format!(
                    "\nFinding {} — reported by vigil (workflow {}).",
                    escape_control(run.subject),
                    run.workflow
                ));
                d
            }
        };
        let description = if self.api_version == 3 {
            json!({
                "type": "doc",
                "version": 1,
                "content": description.split("\n\n").map(|para| json!({
                    "type": "paragraph",
                    "content": [{ "type": "text", "text": if para.is_empty() { " " } else { para } }],
                })).collect::<Vec<_>>(),
            })
        } else {
            Value::String(description)
        };
        let mut labels = vec![label.to_owned(), "vigil".to_owned()];
        labels.extend(self.labels.iter().cloned());
        Ok(json!({
            "fields": {
                "project": { "key": project },
                "summary": summary,
                "description": description,
                "issuetype": { "name": self.issue_type },
                "labels": labels,
            }
        }))
    }

    pub(crate) async fn run(&self, run: &TaskRun<'_>) -> Result<Value, ActionError> {
        let base = self.base.resolve(run)?;
        let token = run.secret(&self.token_env)?;
        let label = finding_label(run.subject);
        let v = if self.api_version == 3 { "3" } else { "2" };
        let search_path: &[&str] = if self.api_version == 3 {
            &["rest", "api", "3", "search", "jql"]
        } else {
            &["rest", "api", "2", "search"]
        };
        let mut search = Self::endpoint(&base, search_path)?;
        search
            .query_pairs_mut()
            .append_pair("jql", &format!("labels = \"{label}\""))
            .append_pair("maxResults", "1")
            .append_pair("fields", "key");
        let found = send(
            self.authorize(run.services.http.get(search), &token)
                .header(reqwest::header::ACCEPT, "application/json"),
            "jira search",
        )
        .await?
        .json();
        if let Some(issue) = found
            .get("issues")
            .and_then(Value::as_array)
            .and_then(|a| a.first())
        {
            let key = issue.get("key").cloned().unwrap_or(Value::Null);
            return Ok(
                json!({ "key": key, "id": issue.get("id").cloned().unwrap_or(Value::Null), "created": false, "label": label }),
            );
        }
        let body = serde_json::to_vec(&self.issue(run, &label)?)
            .map_err(|e| ActionError::permanent(format!("jira issue: {e}")))?;
        let created = send(
            self.authorize(
                run.services
                    .http
                    .post(Self::endpoint(&base, &["rest", "api", v, "issue"])?),
                &token,
            )
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(reqwest::header::ACCEPT, "application/json")
            .header(IDEMPOTENCY_HEADER, run.idempotency_key)
            .body(body),
            "jira create",
        )
        .await?
        .json();
        let key = created
            .get("key")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let browse = Self::endpoint(&base, &["browse", &key])
            .map(|u| u.to_string())
            .ok();
        Ok(json!({
            "key": key,
            "id": created.get("id").cloned().unwrap_or(Value::Null),
            "url": browse,
            "created": true,
            "label": label,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_deterministic_and_safe() {
        assert_eq!(finding_label("42"), "vigil-42");
        assert_eq!(finding_label("a b\"c"), "vigil-a_b_c");
    }
}
