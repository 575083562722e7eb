//! `webhook`: POSTs the event and earlier results as JSON, signed.
//!
//! Wire format: `Content-Type: application/json`, body
//! `{"workflow","task","finding","idempotency_key","event":{...},"tasks":{...}}`, and
//! - `X-Vigil-Signature: sha256=<hex HMAC-SHA256 of the exact body bytes>` with the secret
//!   from `secret_env` (GitHub's scheme; receivers verify before parsing);
//! - `X-Vigil-Idempotency-Key: <finding>/<workflow>/<task>` — the same on every retry, so a
//!   receiver that dedups on it sees each delivery once even when vigil retries after a crash;
//! - configured `headers` (literal) and `headers_env` (value from an environment variable).
//!
//! ```toml
//! { action = "webhook", url = "https://soar.example.com/hook", secret_env = "VIGIL_HOOK_SECRET",
//!   headers = { "X-Team" = "sec" }, headers_env = { Authorization = "SOAR_AUTH" } }
//! ```

use std::collections::BTreeMap;

use hmac::{KeyInit, Mac};
use reqwest::header::{HeaderName, HeaderValue};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{TaskRun, UrlSource, send};
use crate::config::{Builder, check_env_name};
use crate::error::ActionError;

/// The signature header.
pub const SIGNATURE_HEADER: &str = "x-vigil-signature";
/// The idempotency header (sent by every HTTP action).
pub const IDEMPOTENCY_HEADER: &str = "x-vigil-idempotency-key";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    url: Option<String>,
    url_env: Option<String>,
    secret_env: Option<String>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    #[serde(default)]
    headers_env: BTreeMap<String, String>,
}

/// A configured webhook.
#[derive(Debug)]
pub struct Webhook {
    pub(crate) url: UrlSource,
    pub(crate) secret_env: Option<String>,
    headers: Vec<(HeaderName, HeaderValue)>,
    pub(crate) headers_env: Vec<(HeaderName, String)>,
}

fn header_name(b: &mut Builder<'_>, name: &str, key: &str) -> Option<HeaderName> {
    match HeaderName::from_bytes(name.as_bytes()) {
        Ok(h) => {
            let reserved = matches!(
                h.as_str(),
                "content-type" | "content-length" | "host" | "transfer-encoding"
            ) || h.as_str().starts_with("x-vigil-");
            if reserved {
                b.error(key, format!("header `{name}` is set by vigil"));
                None
            } else {
                Some(h)
            }
        }
        Err(_) => {
            b.error(key, format!("`{name}` is not a valid HTTP header name"));
            None
        }
    }
}

impl Webhook {
    pub(crate) fn build(b: &mut Builder<'_>, value: toml::Value, path: &str) -> Option<Webhook> {
        let raw: Raw = b.deserialize(value, path)?;
        let url = UrlSource::build(
            b,
            raw.url.as_deref(),
            raw.url_env.as_deref(),
            path,
            ("url", "url_env"),
            true,
        );
        if let Some(s) = &raw.secret_env {
            check_env_name(b, s, &format!("{path}.secret_env"));
        }
        let mut headers = Vec::new();
        for (name, value) in &raw.headers {
            let key = format!("{path}.headers.{name}");
            if let Some(h) = header_name(b, name, &key) {
                match HeaderValue::from_str(value) {
                    Ok(v) => headers.push((h, v)),
                    Err(_) => b.error(key, "header value has characters HTTP does not allow"),
                }
            }
        }
        let mut headers_env = Vec::new();
        for (name, var) in &raw.headers_env {
            let key = format!("{path}.headers_env.{name}");
            if let Some(h) = header_name(b, name, &key) {
                check_env_name(b, var, &key);
                headers_env.push((h, var.clone()));
            }
        }
        Some(Webhook {
            url: url?,
            secret_env: raw.secret_env,
            headers,
            headers_env,
        })
    }

    pub(crate) async fn run(&self, run: &TaskRun<'_>) -> Result<Value, ActionError> {
        let url = self.url.resolve(run)?;
        let body = serde_json::to_vec(&run.document())
            .map_err(|e| ActionError::permanent(format!("webhook body: {e}")))?;
        let mut request = run
            .services
            .http
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(IDEMPOTENCY_HEADER, run.idempotency_key);
        if let Some(var) = &self.secret_env {
            let secret = run.secret(var)?;
            request = request.header(SIGNATURE_HEADER, sign(secret.as_bytes(), &body));
        }
        for (name, value) in &self.headers {
            request = request.header(name, value);
        }
        for (name, var) in &self.headers_env {
            let value = HeaderValue::from_str(&run.secret(var)?).map_err(|_| {
                ActionError::permanent(format!(
                    "environment variable `{var}` is not a valid header value"
                ))
            })?;
            request = request.header(name, value);
        }
        let response = send(request.body(body), "webhook").await?;
        Ok(json!({ "status": response.status.as_u16(), "response": response.json() }))
    }
}

/// `sha256=<hex HMAC-SHA256(secret, body)>`.
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    let mut mac = <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(secret)
        .unwrap_or_else(|_| <hmac::Hmac<sha2::Sha256> as KeyInit>::new(&Default::default()));
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    let mut out = String::with_capacity(7 + 64);
    out.push_str("sha256=");
    for byte in digest {
        out.push(char::from(HEX[usize::from(byte >> 4)]));
        out.push(char::from(HEX[usize::from(byte & 0xf)]));
    }
    out
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Checks a signature header against a body in constant time (for receivers and tests).
pub fn verify(secret: &[u8], body: &[u8], header: &str) -> bool {
    let expected = sign(secret, body);
    expected.len() == header.len()
        && expected
            .bytes()
            .zip(header.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc4231_case_2() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        assert_eq!(
            sign(b"Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert!(verify(
            b"Jefe",
            b"what do ya want for nothing?",
            &sign(b"Jefe", b"what do ya want for nothing?")
        ));
        assert!(!verify(
            b"Jefe",
            b"what do ya want for nothing!",
            &sign(b"Jefe", b"what do ya want for nothing?")
        ));
    }
}
