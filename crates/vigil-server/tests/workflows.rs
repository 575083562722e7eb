//! The running dispatcher delivers what detection enqueues: a snapshot with a malicious package
//! → finding → event → outbox → webhook, with the ownership task's result folded into the
//! event the webhook sees, once per finding; a sink that refuses leaves a dead letter that the
//! runs API lists and its retry delivers.
//!
//! Every test runs on SQLite and, when PostgreSQL answers, on PostgreSQL (a schema of its own,
//! through the store's test backends; `VIGIL_REQUIRE_PG=1` makes its absence a failure).
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../vigil-store/tests/common/mod.rs"]
mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use vigil_server::config::Config;
use vigil_server::service::{self, Options, Service};

/// Runs `body(backend name, [store] section)` once per backend, each on a fresh runtime. The
/// test databases are made and dropped outside the runtime: the store's test helpers use the
/// synchronous PostgreSQL client, which runs a runtime of its own that cannot start inside
/// another.
fn each_backend<F, Fut>(body: F)
where
    F: Fn(&'static str, String) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    for db in common::backends() {
        let runtime = common::runtime();
        runtime.block_on(body(db.name(), db.store_section()));
        drop(runtime);
        drop(db);
    }
}

/// A delivery as the sink saw it.
struct Received {
    at: Instant,
    key: String,
    body: Value,
}

/// A local webhook sink at `http://ADDR/hook`: answers 400 (a permanent failure, so the item
/// is dead-lettered at once) while `refuse` is set, 200 otherwise.
async fn sink(
    refuse: Arc<AtomicBool>,
) -> (std::net::SocketAddr, mpsc::UnboundedReceiver<Received>) {
    let (tx, rx) = mpsc::unbounded_channel::<Received>();
    let app = axum::Router::new().route(
        "/hook",
        post(move |headers: HeaderMap, body: axum::body::Bytes| {
            let tx = tx.clone();
            let refuse = Arc::clone(&refuse);
            async move {
                if refuse.load(Ordering::SeqCst) {
                    return (StatusCode::BAD_REQUEST, "no such channel");
                }
                let key = headers
                    .get("x-vigil-idempotency-key")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                let _ = tx.send(Received {
                    at: Instant::now(),
                    key,
                    body: serde_json::from_slice(&body).unwrap(),
                });
                (StatusCode::OK, "ok")
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (addr, rx)
}

async fn start(store: &str, dir: &std::path::Path, config: &str) -> Service {
    let config = Config::parse("test.toml", &format!("{config}{store}")).unwrap();
    service::start(Options {
        data_dir: dir.join("data"),
        config,
        listen: Some("127.0.0.1:0".into()),
        local_agent: None,
        log: Arc::new(|_| {}),
    })
    .await
    .unwrap()
}

fn snapshot(sequence: u64) -> String {
    json!({
        "host": {"name": "pay-api-1"}, "sequence": sequence, "kind": "full",
        "instances": [{"ecosystem": "npm", "name": "chalk", "version": "5.6.1",
                       "path": "/srv/node_modules/chalk", "evidence": "LOADED", "pids": [4242]}]
    })
    .to_string()
}

/// The `malicious-package` workflow (new CWE-506 findings) running `tasks` (a TOML array).
fn workflow(tasks: &str) -> String {
    format!(
        r#"
[[workflows]]
name = "malicious-package"
filter = '{MALICIOUS_FILTER}'
tasks = {tasks}
"#
    )
}

/// POSTs snapshot `sequence` to the server at `base`; whether it was accepted.
async fn send_snapshot(http: &reqwest::Client, base: &str, token: &str, sequence: u64) -> bool {
    http.post(format!("{base}/api/v1/inventory"))
        .bearer_auth(token)
        .body(snapshot(sequence))
        .send()
        .await
        .is_ok_and(|r| r.status().is_success())
}

/// The sink's next delivery, within 5 s (`what` names it in the failure).
async fn next_delivery(rx: &mut mpsc::UnboundedReceiver<Received>, what: &str) -> Received {
    tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .unwrap_or_else(|_| panic!("{what} not delivered within 5 s"))
        .unwrap()
}

/// Asserts the sink receives nothing more within `quiet`.
async fn no_second_delivery(
    rx: &mut mpsc::UnboundedReceiver<Received>,
    quiet: Duration,
    backend: &str,
) {
    assert!(
        tokio::time::timeout(quiet, rx.recv()).await.is_err(),
        "{backend}: delivered twice"
    );
}

const MALICIOUS_FILTER: &str = r#"event.type == "VULNERABILITY_FINDING" and in("CWE-506", vulnerability.references.cwe) and finding.status == "NEW""#;

#[test]
fn a_finding_reaches_the_webhook_about_a_second_or_less_after_its_snapshot() {
    each_backend(|backend, store| async move {
        let (sink_addr, mut rx) = sink(Arc::new(AtomicBool::new(false))).await;
        let dir = tempfile::tempdir().unwrap();
        let service = start(
            &store,
            dir.path(),
            &format!(
                r#"{}
[[owners]]
team = "payments"
match = 'startsWith(host.name, "pay-")'
"#,
                workflow(&format!(
                    r#"[
  {{ action = "ownership" }},
  {{ action = "webhook", url = "http://{sink_addr}/hook" }},
]"#
                ))
            ),
        )
        .await;
        let token = service.admin_token.clone().unwrap();
        let http = reqwest::Client::new();
        let base = format!("http://{}", service.listen);
        let sent = Instant::now();
        assert!(send_snapshot(&http, &base, &token, 1).await, "{backend}");
        let got = next_delivery(&mut rx, &format!("{backend}: webhook")).await;
        let latency = got.at.duration_since(sent);
        eprintln!(
            "FIGURE {backend}: snapshot sent → webhook delivered: {} ms",
            latency.as_millis()
        );
        assert!(
            latency < Duration::from_millis(1500),
            "{backend}: {latency:?}"
        );
        let body = got.body;
        assert_eq!(body["event"]["component.name"], "chalk", "{backend}");
        assert_eq!(body["event"]["owner.team"], "payments", "{backend}");
        assert_eq!(body["event"]["process.pids"], json!([4242]), "{backend}");
        assert_eq!(body["workflow"], "malicious-package", "{backend}");

        // The same finding seen again notifies nobody twice.
        for sequence in 2..4 {
            assert!(
                send_snapshot(&http, &base, &token, sequence).await,
                "{backend}"
            );
        }
        no_second_delivery(&mut rx, Duration::from_millis(800), backend).await;
        let counts = {
            let store = Arc::clone(service.detector.store());
            tokio::task::spawn_blocking(move || store.outbox_counts().unwrap())
                .await
                .unwrap()
        };
        assert_eq!(
            (counts.delivered, counts.pending, counts.dead),
            (2, 0, 0),
            "{backend}"
        );
        service.shutdown();
        service.wait().await;
    });
}

/// `method path` with the admin token (a POST carries an empty JSON object); (status, body).
async fn call(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    method: reqwest::Method,
    path: &str,
) -> (u16, Value) {
    let mut request = http
        .request(method.clone(), format!("{base}{path}"))
        .bearer_auth(token);
    if method == reqwest::Method::POST {
        request = request.body("{}");
    }
    let r = request.send().await.unwrap();
    (
        r.status().as_u16(),
        serde_json::from_str(&r.text().await.unwrap()).unwrap(),
    )
}

async fn get(http: &reqwest::Client, base: &str, token: &str, path: &str) -> (u16, Value) {
    call(http, base, token, reqwest::Method::GET, path).await
}

async fn send_post(http: &reqwest::Client, base: &str, token: &str, path: &str) -> (u16, Value) {
    call(http, base, token, reqwest::Method::POST, path).await
}

#[test]
fn a_refused_delivery_is_a_dead_letter_the_runs_api_lists_and_retry_delivers() {
    each_backend(|backend, store| async move {
        let refuse = Arc::new(AtomicBool::new(true));
        let (sink_addr, mut rx) = sink(Arc::clone(&refuse)).await;
        let dir = tempfile::tempdir().unwrap();
        let service = start(
            &store,
            dir.path(),
            &workflow(&format!(
                r#"[{{ name = "notify", action = "webhook", url = "http://{sink_addr}/hook" }}]"#
            )),
        )
        .await;
        let token = service.admin_token.clone().unwrap();
        let base = format!("http://{}", service.listen);
        let http = reqwest::Client::new();
        assert!(send_snapshot(&http, &base, &token, 1).await, "{backend}");

        // The refusal dead-letters the run at once (400 is permanent).
        let deadline = Instant::now() + Duration::from_secs(5);
        let dead = loop {
            let (status, body) =
                get(&http, &base, &token, "/api/v1/workflows/runs?status=dead").await;
            assert_eq!(status, 200, "{backend}: {body}");
            if let Some(run) = body["runs"].as_array().and_then(|r| r.first()) {
                break run.clone();
            }
            assert!(
                Instant::now() < deadline,
                "{backend}: no dead letter within 5 s"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        let finding = dead["finding"].as_str().unwrap().to_owned();
        assert_eq!(dead["workflow"], "malicious-package", "{backend}");
        assert_eq!(dead["task"], "notify", "{backend}");
        assert_eq!(dead["action"], "webhook", "{backend}");
        assert_eq!(dead["attempts"], 1, "{backend}");
        assert_eq!(dead["next_due"], Value::Null, "{backend}");
        assert_eq!(
            dead["idempotency_key"],
            format!("{finding}/malicious-package/notify"),
            "{backend}"
        );
        let error = dead["last_error"].as_str().unwrap_or_default();
        assert!(
            error.contains("400") && error.contains("no such channel"),
            "{backend}: {error}"
        );
        let id = dead["id"].as_i64().unwrap();

        // Filters: by finding, by status; bad parameters are 400.
        let table: [(&str, u16, usize); 6] = [
            ("", 200, 1),
            (&format!("?finding={finding}"), 200, 1),
            (&format!("?finding={finding}&status=delivered"), 200, 0),
            ("?finding=999999", 200, 0),
            ("?status=lost", 400, 0),
            ("?finding=x", 400, 0),
        ];
        for (query, want, n) in table {
            let (status, body) = get(
                &http,
                &base,
                &token,
                &format!("/api/v1/workflows/runs{query}"),
            )
            .await;
            assert_eq!(status, want, "{backend} {query}: {body}");
            if want == 200 {
                assert_eq!(
                    body["runs"].as_array().unwrap().len(),
                    n,
                    "{backend} {query}"
                );
            } else {
                assert!(body["message"].is_string(), "{backend} {query}: {body}");
            }
        }

        // Retry of an unknown run is 404; of a dead one, delivers once the sink is fixed.
        let (status, _) =
            send_post(&http, &base, &token, "/api/v1/workflows/runs/999999/retry").await;
        assert_eq!(status, 404, "{backend}");
        refuse.store(false, Ordering::SeqCst);
        let (status, run) = send_post(
            &http,
            &base,
            &token,
            &format!("/api/v1/workflows/runs/{id}/retry"),
        )
        .await;
        assert_eq!(status, 200, "{backend}: {run}");
        assert_eq!(
            (run["status"].as_str(), run["attempts"].as_i64()),
            (Some("pending"), Some(0)),
            "{backend}"
        );
        let got = next_delivery(&mut rx, &format!("{backend}: retried run")).await;
        assert_eq!(
            got.key,
            format!("{finding}/malicious-package/notify"),
            "{backend}"
        );
        // Delivered now; retrying it again is a conflict, not a second delivery.
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let (_, body) = get(&http, &base, &token, "/api/v1/workflows/runs").await;
            if body["runs"][0]["status"] == "delivered" {
                assert!(
                    body["runs"][0]["delivered_at"].is_string(),
                    "{backend}: {body}"
                );
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{backend}: not marked delivered: {body}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let (status, body) = send_post(
            &http,
            &base,
            &token,
            &format!("/api/v1/workflows/runs/{id}/retry"),
        )
        .await;
        assert_eq!(status, 409, "{backend}: {body}");
        no_second_delivery(&mut rx, Duration::from_millis(700), backend).await;
        service.shutdown();
        service.wait().await;
    });
}
