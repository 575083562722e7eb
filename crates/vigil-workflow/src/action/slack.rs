//! `slack`: an incoming-webhook message with Block Kit blocks.
//!
//! Wire format (POST, JSON): `{"text": <fallback, mrkdwn>, "blocks": [header, section, context]}`
//! — a `header` block (plain_text, at most 150 characters), a `section` with the text and up
//! to ten mrkdwn `fields` (Package, Advisory, Risk, Host, …), and a `context` line naming the
//! finding. Every value from the event is mrkdwn-escaped (`&<>`, so `<!channel>` or a forged
//! link cannot be injected) with control characters made visible, then JSON-encoded by serde.
//!
//! The webhook URL is itself a secret: `webhook_url_env` is preferred. Without one, the
//! owner's `slack_webhook_url_env` (from an earlier `ownership` task) is used.
//!
//! ```toml
//! { action = "slack", webhook_url_env = "SLACK_WEBHOOK",
//!   text = "{{ event['component.name'] }}@{{ event['component.version'] }} on {{ event['host.name'] }}" }
//! ```

use serde::Deserialize;
use serde_json::{Value, json};

use super::{
    TaskRun, UrlSource, facts, headline, optional_template, send, webhook::IDEMPOTENCY_HEADER,
};
use crate::config::Builder;
use crate::error::ActionError;
use crate::event::{escape_control, escape_mrkdwn, subject_id, text, truncate_chars};
use crate::template::{Flavor, TemplateRef};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    webhook_url: Option<String>,
    webhook_url_env: Option<String>,
    text: Option<String>,
    title: Option<String>,
    channel: Option<String>,
}

/// A configured Slack message.
#[derive(Debug)]
pub struct Slack {
    pub(crate) webhook: Option<UrlSource>,
    text: Option<TemplateRef>,
    title: Option<TemplateRef>,
    channel: Option<TemplateRef>,
}

impl Slack {
    pub(crate) fn build(b: &mut Builder<'_>, value: toml::Value, path: &str) -> Option<Slack> {
        let raw: Raw = b.deserialize(value, path)?;
        let webhook = UrlSource::build(
            b,
            raw.webhook_url.as_deref(),
            raw.webhook_url_env.as_deref(),
            path,
            ("webhook_url", "webhook_url_env"),
            false,
        );
        Some(Slack {
            webhook,
            text: optional_template(
                b,
                raw.text.as_deref(),
                &format!("{path}.text"),
                Flavor::Mrkdwn,
            ),
            title: optional_template(
                b,
                raw.title.as_deref(),
                &format!("{path}.title"),
                Flavor::Plain,
            ),
            channel: optional_template(
                b,
                raw.channel.as_deref(),
                &format!("{path}.channel"),
                Flavor::Plain,
            ),
        })
    }

    /// The message body for this run.
    pub fn payload(&self, run: &TaskRun<'_>) -> Result<Value, ActionError> {
        let event = run.event;
        let title = match &self.title {
            Some(t) => run.render(t)?,
            None => escape_control(&headline(event)),
        };
        let body = match &self.text {
            Some(t) => run.render(t)?,
            None => default_text(event),
        };
        let fields: Vec<Value> = facts(event)
            .into_iter()
            .take(10)
            .map(|(label, value)| {
                json!({
                    "type": "mrkdwn",
                    "text": truncate_chars(&format!("*{label}*\n{}", escape_mrkdwn(&value)), 2000),
                })
            })
            .collect();
        let mut context = format!("vigil · workflow {}", escape_mrkdwn(run.workflow));
        if let Some(id) = subject_id(event) {
            context.push_str(&format!(" · finding {}", escape_mrkdwn(&id)));
        }
        let mut section = json!({
            "type": "section",
            "text": { "type": "mrkdwn", "text": truncate_chars(&body, 3000) },
        });
        if !fields.is_empty()
            && let Some(obj) = section.as_object_mut()
        {
            obj.insert("fields".into(), Value::Array(fields));
        }
        let mut payload = json!({
            "text": truncate_chars(&format!("{title}: {body}"), 3000),
            "blocks": [
                { "type": "header", "text": { "type": "plain_text", "text": truncate_chars(&title, 150), "emoji": true } },
                section,
                { "type": "context", "elements": [ { "type": "mrkdwn", "text": truncate_chars(&context, 2000) } ] },
            ],
        });
        if let Some(c) = &self.channel {
            let channel = run.render(c)?;
            if !channel.is_empty()
                && let Some(obj) = payload.as_object_mut()
            {
                obj.insert("channel".into(), Value::String(channel));
            }
        }
        Ok(payload)
    }

    pub(crate) async fn run(&self, run: &TaskRun<'_>) -> Result<Value, ActionError> {
        let url = match &self.webhook {
            Some(w) => w.resolve(run)?,
            None => {
                let var = run
                    .owner()
                    .and_then(|o| o.slack_webhook_url_env.clone())
                    .ok_or_else(|| {
                        ActionError::permanent(
                            "no webhook_url/webhook_url_env and the owner has no slack_webhook_url_env",
                        )
                    })?;
                UrlSource::Env(var).resolve(run)?
            }
        };
        let body = serde_json::to_vec(&self.payload(run)?)
            .map_err(|e| ActionError::permanent(format!("slack payload: {e}")))?;
        let response = send(
            run.services
                .http
                .post(url)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .header(IDEMPOTENCY_HEADER, run.idempotency_key)
                .body(body),
            "slack",
        )
        .await?;
        Ok(json!({ "status": response.status.as_u16() }))
    }
}

fn default_text(event: &Value) -> String {
    let mut s = String::new();
    if let Some(title) = text(event, "vulnerability.title") {
        s.push_str(&escape_mrkdwn(&title));
    }
    match (text(event, "host.name"), text(event, "evidence")) {
        (Some(h), Some(e)) => s.push_str(&format!(
            "\n*{}* on `{}`",
            escape_mrkdwn(&e),
            escape_mrkdwn(&h)
        )),
        (Some(h), None) => s.push_str(&format!("\non `{}`", escape_mrkdwn(&h))),
        _ => {}
    }
    if s.is_empty() {
        s.push_str("New security finding");
    }
    s
}
