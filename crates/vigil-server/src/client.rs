//! A small blocking client for the API, for `vigil query|findings|token --server URL` (and
//! any tool that wants one). Bodies are JSON in and out; an error answer keeps the server's
//! `{"message", "span", "hint"}` so callers can render query errors like local ones.

use std::time::Duration;

use serde_json::{Value, json};

/// A failed call.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server answered with an error status.
    #[error("server answered {status}: {message}")]
    Api {
        /// HTTP status.
        status: u16,
        /// The server's message.
        message: String,
        /// The whole error body (`span`, `hint` for query errors).
        body: Value,
    },
    /// The server could not be reached, or answered something that is not JSON.
    #[error("{0}")]
    Transport(String),
}

/// A client for one server.
#[derive(Debug, Clone)]
pub struct Client {
    base: String,
    token: Option<String>,
    http: reqwest::blocking::Client,
}

impl Client {
    /// A client for `base` (`http://127.0.0.1:7800`), authenticating with `token`.
    pub fn new(base: &str, token: Option<String>) -> Result<Client, ClientError> {
        let http = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(120))
            .connect_timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("vigil/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ClientError::Transport(e.to_string()))?;
        Ok(Client {
            base: base.trim_end_matches('/').to_owned(),
            token,
            http,
        })
    }

    fn send(&self, request: reqwest::blocking::RequestBuilder) -> Result<Value, ClientError> {
        let request = match &self.token {
            Some(t) => request.bearer_auth(t),
            None => request,
        };
        let response = request
            .send()
            .map_err(|e| ClientError::Transport(format!("{}: {e}", self.base)))?;
        let status = response.status();
        let text = response
            .text()
            .map_err(|e| ClientError::Transport(e.to_string()))?;
        let body: Value = serde_json::from_str(&text).map_err(|_| {
            ClientError::Transport(format!(
                "{}: answered {status} with a body that is not JSON",
                self.base
            ))
        })?;
        if status.is_success() {
            Ok(body)
        } else {
            Err(ClientError::Api {
                status: status.as_u16(),
                message: body
                    .get("message")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned(),
                body,
            })
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// `POST /api/v1/query`.
    pub fn query(&self, query: &str) -> Result<Value, ClientError> {
        self.send(
            self.http
                .post(self.url("/api/v1/query"))
                .header("content-type", "application/json")
                .body(json!({ "query": query }).to_string()),
        )
    }

    /// `GET /api/v1/findings` with query parameters.
    pub fn findings(&self, params: &[(&str, String)]) -> Result<Value, ClientError> {
        self.send(self.http.get(self.url("/api/v1/findings")).query(params))
    }

    /// `POST /api/v1/findings/{id}/{action}`.
    pub fn finding_action(
        &self,
        id: &str,
        action: &str,
        body: &Value,
    ) -> Result<Value, ClientError> {
        let id: String = id.chars().filter(char::is_ascii_alphanumeric).collect();
        self.send(
            self.http
                .post(self.url(&format!("/api/v1/findings/{id}/{action}")))
                .header("content-type", "application/json")
                .body(body.to_string()),
        )
    }

    /// `GET /api/v1/workflows/runs` with query parameters.
    pub fn workflow_runs(&self, params: &[(&str, String)]) -> Result<Value, ClientError> {
        self.send(
            self.http
                .get(self.url("/api/v1/workflows/runs"))
                .query(params),
        )
    }

    /// `POST /api/v1/workflows/runs/{id}/retry`.
    pub fn retry_run(&self, id: &str) -> Result<Value, ClientError> {
        let id: String = id.chars().filter(char::is_ascii_alphanumeric).collect();
        self.send(
            self.http
                .post(self.url(&format!("/api/v1/workflows/runs/{id}/retry")))
                .header("content-type", "application/json")
                .body("{}"),
        )
    }

    /// `POST /api/v1/tokens`.
    pub fn create_token(&self, name: &str, scopes: &[String]) -> Result<Value, ClientError> {
        self.send(
            self.http
                .post(self.url("/api/v1/tokens"))
                .header("content-type", "application/json")
                .body(json!({ "name": name, "scopes": scopes }).to_string()),
        )
    }

    /// `POST /api/v1/intel`.
    pub fn import_intel(
        &self,
        body: Vec<u8>,
        name: Option<&str>,
        kind: Option<&str>,
    ) -> Result<Value, ClientError> {
        let mut params = Vec::new();
        if let Some(n) = name {
            params.push(("name", n.to_owned()));
        }
        if let Some(k) = kind {
            params.push(("kind", k.to_owned()));
        }
        self.send(
            self.http
                .post(self.url("/api/v1/intel"))
                .query(&params)
                .body(body),
        )
    }

    /// `POST /api/v1/inventory` of a gzip-compressed snapshot body.
    pub fn post_inventory(&self, gzipped: Vec<u8>) -> Result<Value, ClientError> {
        self.send(
            self.http
                .post(self.url("/api/v1/inventory"))
                .header("content-type", "application/json")
                .header("content-encoding", "gzip")
                .body(gzipped),
        )
    }

    /// `GET` of any API path, as JSON.
    pub fn get(&self, path: &str) -> Result<Value, ClientError> {
        self.send(self.http.get(self.url(path)))
    }
}
