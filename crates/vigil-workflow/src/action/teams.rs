//! `teams`: a Microsoft Teams message through a Workflows (Power Automate) webhook, carrying an
//! Adaptive Card 1.4.
//!
//! Wire format (POST, JSON), the shape the "Post to a channel when a webhook request is
//! received" workflow expects:
//! ```json
//! {"type":"message","attachments":[{"contentType":"application/vnd.microsoft.card.adaptive",
//!   "contentUrl":null,"content":{"$schema":"http://adaptivecards.io/schemas/adaptive-card.json",
//!   "type":"AdaptiveCard","version":"1.4","body":[TextBlock title, TextBlock text, FactSet],
//!   "actions":[Action.OpenUrl to the advisory]}}]}
//! ```
//! Event values are control-escaped and JSON-encoded by serde; the advisory link is built only
//! from an id made of safe characters.

use serde::Deserialize;
use serde_json::{Value, json};

use super::{
    TaskRun, UrlSource, facts, headline, optional_template, send, webhook::IDEMPOTENCY_HEADER,
};
use crate::config::Builder;
use crate::error::ActionError;
use crate::event::{escape_control, text, truncate_chars};
use crate::template::{Flavor, TemplateRef};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    webhook_url: Option<String>,
    webhook_url_env: Option<String>,
    title: Option<String>,
    text: Option<String>,
}

/// A configured Teams message.
#[derive(Debug)]
pub struct Teams {
    pub(crate) webhook: Option<UrlSource>,
    title: Option<TemplateRef>,
    text: Option<TemplateRef>,
}

impl Teams {
    pub(crate) fn build(b: &mut Builder<'_>, value: toml::Value, path: &str) -> Option<Teams> {
        let raw: Raw = b.deserialize(value, path)?;
        let webhook = UrlSource::build(
            b,
            raw.webhook_url.as_deref(),
            raw.webhook_url_env.as_deref(),
            path,
            ("webhook_url", "webhook_url_env"),
            false,
        );
        Some(Teams {
            webhook,
            title: optional_template(
                b,
                raw.title.as_deref(),
                &format!("{path}.title"),
                Flavor::Plain,
            ),
            text: optional_template(
                b,
                raw.text.as_deref(),
                &format!("{path}.text"),
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
        let body_text = match &self.text {
            Some(t) => run.render(t)?,
            None => escape_control(
                &text(event, "vulnerability.title")
                    .unwrap_or_else(|| "New security finding".into()),
            ),
        };
        let facts: Vec<Value> = facts(event)
            .into_iter()
            .map(|(label, value)| json!({ "title": label, "value": truncate_chars(&escape_control(&value), 1000) }))
            .collect();
        let mut body = vec![
            json!({ "type": "TextBlock", "text": truncate_chars(&title, 300), "weight": "Bolder", "size": "Medium", "wrap": true, "style": "heading" }),
            json!({ "type": "TextBlock", "text": truncate_chars(&body_text, 4000), "wrap": true }),
        ];
        if !facts.is_empty() {
            body.push(json!({ "type": "FactSet", "facts": facts }));
        }
        let mut actions = Vec::new();
        if let Some(id) = text(event, "vulnerability.id").filter(|id| {
            !id.is_empty()
                && id.len() <= 100
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b':'))
        }) {
            actions.push(json!({
                "type": "Action.OpenUrl",
                "title": "Advisory",
                "url": format!("https://osv.dev/vulnerability/{id}"),
            }));
        }
        Ok(json!({
            "type": "message",
            "attachments": [{
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": null,
                "content": {
                    "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                    "type": "AdaptiveCard",
                    "version": "1.4",
                    "body": body,
                    "actions": actions,
                },
            }],
        }))
    }

    pub(crate) async fn run(&self, run: &TaskRun<'_>) -> Result<Value, ActionError> {
        let url = match &self.webhook {
            Some(w) => w.resolve(run)?,
            None => {
                let var = run
                    .owner()
                    .and_then(|o| o.teams_webhook_url_env.clone())
                    .ok_or_else(|| {
                        ActionError::permanent(
                            "no webhook_url/webhook_url_env and the owner has no teams_webhook_url_env",
                        )
                    })?;
                UrlSource::Env(var).resolve(run)?
            }
        };
        let body = serde_json::to_vec(&self.payload(run)?)
            .map_err(|e| ActionError::permanent(format!("teams payload: {e}")))?;
        let response = send(
            run.services
                .http
                .post(url)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .header(IDEMPOTENCY_HEADER, run.idempotency_key)
                .body(body),
            "teams",
        )
        .await?;
        Ok(json!({ "status": response.status.as_u16() }))
    }
}
