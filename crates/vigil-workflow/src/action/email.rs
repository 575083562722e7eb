//! `email`: a plain-text mail over SMTP (lettre).
//!
//! `tls = "opportunistic"` (default) upgrades with STARTTLS when the server offers it;
//! `"required"` refuses to send without STARTTLS; `"implicit"` is TLS from the first byte
//! (port 465); `"none"` is plaintext for a trusted local relay. Recipients are `to` (templates
//! allowed, e.g. `"{{ event['owner.email'] }}"`) or, when empty, the owner's addresses from an
//! earlier `ownership` task. Values in the subject and body have control characters escaped;
//! lettre encodes headers (a CRLF in a package name cannot add a header). The Message-ID is
//! derived from the idempotency key, so a retried mail can be recognised as the same one.
//!
//! ```toml
//! { action = "email", host = "smtp.example.com", from = "vigil@example.com",
//!   user = "vigil", password_env = "SMTP_PASSWORD" }
//! ```

use std::time::Duration;

use lettre::message::Mailbox;
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{TaskRun, facts, headline, optional_template};
use crate::config::{Builder, check_env_name};
use crate::error::ActionError;
use crate::event::escape_control;
use crate::template::{Flavor, TemplateRef};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    host: String,
    port: Option<u16>,
    #[serde(default = "default_tls")]
    tls: String,
    from: String,
    #[serde(default)]
    to: Vec<String>,
    subject: Option<String>,
    body: Option<String>,
    user: Option<String>,
    password_env: Option<String>,
}

fn default_tls() -> String {
    "opportunistic".into()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TlsMode {
    Opportunistic,
    Required,
    Implicit,
    None,
}

/// A configured mail.
#[derive(Debug)]
pub struct Email {
    pub(crate) host: String,
    pub(crate) port: u16,
    tls: TlsMode,
    from: Mailbox,
    to: Vec<TemplateRef>,
    subject: Option<TemplateRef>,
    body: Option<TemplateRef>,
    user: Option<String>,
    pub(crate) password_env: Option<String>,
}

impl Email {
    pub(crate) fn build(b: &mut Builder<'_>, value: toml::Value, path: &str) -> Option<Email> {
        let raw: Raw = b.deserialize(value, path)?;
        let tls = match raw.tls.as_str() {
            "opportunistic" => TlsMode::Opportunistic,
            "required" => TlsMode::Required,
            "implicit" => TlsMode::Implicit,
            "none" => TlsMode::None,
            other => {
                b.error(
                    format!("{path}.tls"),
                    format!("unknown tls mode `{other}` (opportunistic, required, implicit, none)"),
                );
                TlsMode::Required
            }
        };
        if raw.host.is_empty() || raw.host.contains(['/', ' ', '@']) {
            b.error(format!("{path}.host"), "must be a host name or address");
        }
        let from = match raw.from.parse::<Mailbox>() {
            Ok(m) => Some(m),
            Err(e) => {
                b.error(format!("{path}.from"), format!("not a mail address: {e}"));
                None
            }
        };
        if let Some(p) = &raw.password_env {
            check_env_name(b, p, &format!("{path}.password_env"));
        }
        if raw.password_env.is_some() != raw.user.is_some() {
            b.error(
                format!("{path}.user"),
                "`user` and `password_env` go together",
            );
        }
        let to = raw
            .to
            .iter()
            .enumerate()
            .filter_map(|(i, t)| b.template(t, &format!("{path}.to[{i}]"), Flavor::Plain))
            .collect();
        let port = raw.port.unwrap_or(match tls {
            TlsMode::Implicit => 465,
            TlsMode::None => 25,
            _ => 587,
        });
        Some(Email {
            host: raw.host,
            port,
            tls,
            from: from?,
            to,
            subject: optional_template(
                b,
                raw.subject.as_deref(),
                &format!("{path}.subject"),
                Flavor::Plain,
            ),
            body: optional_template(
                b,
                raw.body.as_deref(),
                &format!("{path}.body"),
                Flavor::Plain,
            ),
            user: raw.user,
            password_env: raw.password_env,
        })
    }

    fn recipients(&self, run: &TaskRun<'_>) -> Result<Vec<Mailbox>, ActionError> {
        let mut texts = Vec::new();
        for t in &self.to {
            texts.push(run.render(t)?);
        }
        if texts.iter().all(|t| t.trim().is_empty()) {
            texts.clear();
            match run.event.get("owner.email") {
                Some(Value::String(s)) => texts.push(s.clone()),
                Some(Value::Array(items)) => {
                    texts.extend(items.iter().filter_map(Value::as_str).map(str::to_owned));
                }
                _ => {}
            }
        }
        let mut out = Vec::new();
        for t in texts
            .iter()
            .flat_map(|t| t.split(','))
            .map(str::trim)
            .filter(|t| !t.is_empty())
        {
            out.push(t.parse::<Mailbox>().map_err(|e| {
                ActionError::permanent(format!("recipient `{}`: {e}", escape_control(t)))
            })?);
        }
        if out.is_empty() {
            return Err(ActionError::permanent(
                "no recipients: `to` is empty and the owner has no email",
            ));
        }
        Ok(out)
    }

    /// The message for this run.
    pub fn message(&self, run: &TaskRun<'_>) -> Result<Message, ActionError> {
        let subject = match &self.subject {
            Some(t) => run.render(t)?,
            None => format!("[vigil] {}", escape_control(&headline(run.event))),
        };
        let body = match &self.body {
            Some(t) => run.render(t)?,
            None => {
                let mut d = format!("{}\n\n", escape_control(&headline(run.event)));
                for (label, value) in facts(run.event) {
                    d.push_str(&format!("{label}: {}\n", escape_control(&value)));
                }
                d.push_str(&format!(
                    "\nFinding {} — workflow {}.\n",
                    escape_control(run.subject),
                    run.workflow
                ));
                d
            }
        };
        let mut builder = Message::builder()
            .from(self.from.clone())
            .subject(subject.replace(['\r', '\n'], " "))
            .message_id(Some(format!(
                "<{}@vigil>",
                run.idempotency_key.replace(['/', '%'], ".")
            )))
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("X-Vigil-Idempotency-Key"),
                run.idempotency_key.to_owned(),
            ))
            .header(ContentType::TEXT_PLAIN);
        for r in self.recipients(run)? {
            builder = builder.to(r);
        }
        builder
            .body(body)
            .map_err(|e| ActionError::permanent(format!("email: {e}")))
    }

    pub(crate) async fn run(&self, run: &TaskRun<'_>) -> Result<Value, ActionError> {
        let message = self.message(run)?;
        let tls_params = || {
            TlsParameters::new(self.host.clone())
                .map_err(|e| ActionError::permanent(format!("email tls: {e}")))
        };
        let tls = match self.tls {
            TlsMode::Opportunistic => Tls::Opportunistic(tls_params()?),
            TlsMode::Required => Tls::Required(tls_params()?),
            TlsMode::Implicit => Tls::Wrapper(tls_params()?),
            TlsMode::None => Tls::None,
        };
        let mut transport =
            AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(self.host.clone())
                .port(self.port)
                .tls(tls)
                .timeout(Some(Duration::from_secs(30)));
        if let (Some(user), Some(var)) = (&self.user, &self.password_env) {
            transport = transport.credentials(Credentials::new(user.clone(), run.secret(var)?));
        }
        let response = transport.build().send(message).await.map_err(|e| {
            let message = format!("smtp {}:{}: {e}", self.host, self.port);
            if e.is_permanent() {
                ActionError::permanent(message)
            } else {
                ActionError::retryable(message)
            }
        })?;
        Ok(json!({ "code": response.code().to_string() }))
    }
}
