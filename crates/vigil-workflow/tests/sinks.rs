//! Each action against a local sink on 127.0.0.1, checking the payload's real shape.

#![allow(clippy::unwrap_used)] // test helpers: a failed setup should fail loudly

mod support;

use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use support::*;
use vigil_workflow::action::webhook;
use vigil_workflow::{ItemStatus, MemoryOutbox, Outbox};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_is_signed_keyed_and_carries_event_and_results() {
    let sink = HttpSink::ok().await;
    let set = workflows(&format!(
        r#"
[[owners]]
team = "payments"
match = 'k8s.namespace.name == "payments"'
email = "pay@example.com"
[[workflows]]
name = "wf"
tasks = [
  {{ action = "ownership" }},
  {{ action = "webhook", url = "{}/hook", secret_env = "HOOK_SECRET", headers = {{ "X-Team" = "sec" }}, headers_env = {{ Authorization = "HOOK_AUTH" }} }},
]
"#,
        sink.url
    ));
    let outbox = Arc::new(MemoryOutbox::new());
    let env = env(&[("HOOK_SECRET", "s3cret"), ("HOOK_AUTH", "Bearer abc")]);
    deliver(
        &set,
        &outbox,
        services(env),
        &[finding_event(42, "debug", "NEW")],
    )
    .await;

    let reqs = sink.requests();
    assert_eq!(reqs.len(), 1);
    let r = &reqs[0];
    assert_eq!((r.method.as_str(), r.path.as_str()), ("POST", "/hook"));
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.header("x-vigil-idempotency-key"), Some("42/wf/webhook"));
    assert_eq!(r.header("x-team"), Some("sec"));
    assert_eq!(r.header("authorization"), Some("Bearer abc"));
    let sig = r.header("x-vigil-signature").unwrap();
    assert!(sig.starts_with("sha256=") && sig.len() == 71, "{sig}");
    assert!(webhook::verify(b"s3cret", &r.body, sig));
    assert!(!webhook::verify(b"wrong", &r.body, sig));
    let body = r.json();
    assert_eq!(body["event"]["component.name"], "debug");
    assert_eq!(body["event"]["owner.team"], "payments");
    assert_eq!(
        body["tasks"]["ownership"]["email"],
        json!(["pay@example.com"])
    );
    assert_eq!(body["finding"], "42");
    assert_eq!(outbox.counts().unwrap().delivered, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_sends_blocks_with_escaped_mrkdwn() {
    let sink = HttpSink::ok().await;
    let set = workflows(
        r#"
[[workflows]]
name = "wf"
tasks = [{ action = "slack", webhook_url_env = "SLACK_URL", text = "{{ event['component.name'] }}@{{ event['component.version'] }} on {{ event['host.name'] }}" }]
"#,
    );
    let outbox = Arc::new(MemoryOutbox::new());
    let mut event = finding_event(7, "<!channel> & co", "NEW");
    event["host.name"] = json!("web-1");
    deliver(
        &set,
        &outbox,
        services(env(&[(
            "SLACK_URL",
            &format!("{}/services/T/B/X", sink.url),
        )])),
        &[event],
    )
    .await;

    let reqs = sink.requests();
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].path, "/services/T/B/X");
    let p = reqs[0].json();
    assert_eq!(
        p["text"],
        "Malicious package <!channel> & co@4.4.2: &lt;!channel&gt; &amp; co@4.4.2 on web-1"
    );
    let blocks = p["blocks"].as_array().unwrap();
    assert_eq!(blocks.len(), 3);
    assert_eq!(blocks[0]["type"], "header");
    assert_eq!(blocks[0]["text"]["type"], "plain_text");
    assert_eq!(
        blocks[0]["text"]["text"],
        "Malicious package <!channel> & co@4.4.2"
    );
    assert_eq!(blocks[1]["type"], "section");
    assert_eq!(
        blocks[1]["text"],
        json!({"type": "mrkdwn", "text": "&lt;!channel&gt; &amp; co@4.4.2 on web-1"})
    );
    let fields = blocks[1]["fields"].as_array().unwrap();
    assert!(fields.len() <= 10 && fields.len() >= 5);
    assert!(fields.iter().all(|f| f["type"] == "mrkdwn"));
    assert_eq!(
        fields[0]["text"],
        "*Package*\n&lt;!channel&gt; &amp; co@4.4.2"
    );
    assert!(
        fields
            .iter()
            .any(|f| f["text"] == "*Advisory*\nMAL-2025-46974: Malicious code in debug (npm)")
    );
    assert_eq!(blocks[2]["type"], "context");
    assert_eq!(blocks[2]["elements"][0]["type"], "mrkdwn");
    assert_eq!(
        blocks[2]["elements"][0]["text"],
        "vigil · workflow wf · finding 7"
    );
    // Nowhere in the raw body does an unescaped `<!channel>` appear inside mrkdwn.
    let raw = String::from_utf8(reqs[0].body.clone()).unwrap();
    assert_eq!(
        raw.matches("<!channel>").count(),
        2,
        "only in the plain-text header and fallback: {raw}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn teams_sends_an_adaptive_card() {
    let sink = HttpSink::start(|_, _| Reply::status(202)).await;
    let set = workflows(&format!(
        "[[workflows]]\nname = \"wf\"\ntasks = [{{ action = \"teams\", webhook_url = \"{}/workflows/x\" }}]\n",
        sink.url
    ));
    let outbox = Arc::new(MemoryOutbox::new());
    deliver(
        &set,
        &outbox,
        services(env(&[])),
        &[finding_event(8, "debug", "NEW")],
    )
    .await;
    let p = sink.requests()[0].json();
    assert_eq!(p["type"], "message");
    let att = &p["attachments"][0];
    assert_eq!(
        att["contentType"],
        "application/vnd.microsoft.card.adaptive"
    );
    let card = &att["content"];
    assert_eq!(card["type"], "AdaptiveCard");
    assert_eq!(card["version"], "1.4");
    assert_eq!(
        card["$schema"],
        "http://adaptivecards.io/schemas/adaptive-card.json"
    );
    assert_eq!(card["body"][0]["type"], "TextBlock");
    assert_eq!(card["body"][0]["text"], "Malicious package debug@4.4.2");
    assert_eq!(card["body"][0]["weight"], "Bolder");
    assert_eq!(card["body"][1]["text"], "Malicious code in debug (npm)");
    assert_eq!(card["body"][2]["type"], "FactSet");
    assert_eq!(
        card["body"][2]["facts"][0],
        json!({"title": "Package", "value": "debug@4.4.2"})
    );
    assert_eq!(card["actions"][0]["type"], "Action.OpenUrl");
    assert_eq!(
        card["actions"][0]["url"],
        "https://osv.dev/vulnerability/MAL-2025-46974"
    );
    assert_eq!(outbox.counts().unwrap().delivered, 1);
}

/// A Jira that remembers its issues and answers label searches.
async fn fake_jira() -> (HttpSink, Arc<Mutex<Vec<Value>>>) {
    fake_jira_as("2", "Bearer jira-token").await
}

async fn fake_jira_as(
    version: &'static str,
    auth: &'static str,
) -> (HttpSink, Arc<Mutex<Vec<Value>>>) {
    let search = if version == "3" {
        "/rest/api/3/search/jql"
    } else {
        "/rest/api/2/search"
    };
    let create = if version == "3" {
        "/rest/api/3/issue"
    } else {
        "/rest/api/2/issue"
    };
    let issues: Arc<Mutex<Vec<Value>>> = Arc::default();
    let store = Arc::clone(&issues);
    let sink = HttpSink::start(move |r, _| {
        if r.header("authorization") != Some(auth) {
            return Reply::status(401);
        }
        match (r.method.as_str(), r.path.as_str()) {
            ("GET", p) if p == search => {
                let jql = url_decode(&r.query);
                let found: Vec<Value> =
                    store
                        .lock()
                        .unwrap()
                        .iter()
                        .filter(|i| {
                            i["fields"]["labels"].as_array().unwrap().iter().any(|l| {
                                jql.contains(&format!("labels = \"{}\"", l.as_str().unwrap()))
                            })
                        })
                        .map(|i| json!({"id": i["id"], "key": i["key"]}))
                        .collect();
                Reply::json(
                    200,
                    json!({"startAt": 0, "maxResults": 1, "total": found.len(), "issues": found}),
                )
            }
            ("POST", p) if p == create => {
                let mut body = r.json();
                let mut s = store.lock().unwrap();
                let n = s.len() + 1;
                body["id"] = json!(format!("{}", 10000 + n));
                body["key"] = json!(format!("SEC-{n}"));
                s.push(body);
                Reply::json(
                    201,
                    json!({"id": format!("{}", 10000 + n), "key": format!("SEC-{n}"), "self": "x"}),
                )
            }
            _ => Reply::status(404),
        }
    })
    .await;
    (sink, issues)
}

fn url_decode(s: &str) -> String {
    let bytes = s.replace('+', " ").into_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            out.push(
                u8::from_str_radix(std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap(), 16).unwrap(),
            );
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jira_searches_before_creating_and_never_duplicates() {
    let (sink, issues) = fake_jira().await;
    let config = format!(
        r#"
[[owners]]
team = "payments"
match = 'k8s.namespace.name == "payments"'
jira_project = "PAY"
[[workflows]]
name = "wf"
tasks = [{{ action = "ownership" }}, {{ action = "jira", url = "{}", token_env = "JIRA_TOKEN", labels = ["supply-chain"] }}]
[[workflows]]
name = "other"
tasks = [{{ action = "jira", url = "{}", project = "SEC", token_env = "JIRA_TOKEN" }}]
"#,
        sink.url, sink.url
    );
    let set = workflows(&config);
    let outbox = Arc::new(MemoryOutbox::new());
    let env = env(&[("JIRA_TOKEN", "jira-token")]);
    deliver(
        &set,
        &outbox,
        services(env.clone()),
        &[finding_event(42, "debug", "NEW")],
    )
    .await;

    // Two workflows, one finding: one issue. The second found the first's label.
    let all = issues.lock().unwrap().clone();
    assert_eq!(all.len(), 1, "{all:?}");
    let fields = &all[0]["fields"];
    assert!(fields["project"]["key"] == "PAY" || fields["project"]["key"] == "SEC");
    assert_eq!(fields["summary"], "Malicious package debug@4.4.2");
    assert_eq!(fields["issuetype"]["name"], "Bug");
    assert!(
        fields["description"]
            .as_str()
            .unwrap()
            .contains("Advisory: MAL-2025-46974")
    );
    let labels = fields["labels"].as_array().unwrap();
    assert!(labels.contains(&json!("vigil-42")));
    assert!(labels.contains(&json!("vigil")));
    let reqs = sink.requests();
    let searches = reqs.iter().filter(|r| r.method == "GET").count();
    let creates = reqs.iter().filter(|r| r.method == "POST").count();
    assert_eq!((searches, creates), (2, 1));
    assert!(
        url_decode(&reqs[0].query).contains("jql=labels = \"vigil-42\""),
        "{}",
        reqs[0].query
    );
    let results: Vec<Value> = outbox
        .list(Some(ItemStatus::Delivered), 10)
        .unwrap()
        .into_iter()
        .filter_map(|i| i.result)
        .collect();
    assert!(
        results
            .iter()
            .any(|r| r["created"] == json!(true) && r["key"] == "SEC-1")
    );
    assert!(
        results
            .iter()
            .any(|r| r["created"] == json!(false) && r["key"] == "SEC-1")
    );

    // A fresh outbox (state lost) still does not create a second issue.
    let outbox2 = Arc::new(MemoryOutbox::new());
    deliver(
        &set,
        &outbox2,
        services(env),
        &[finding_event(42, "debug", "NEW")],
    )
    .await;
    assert_eq!(issues.lock().unwrap().len(), 1);
    assert_eq!(outbox2.counts().unwrap().delivered, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jira_cloud_v3_uses_basic_auth_the_jql_endpoint_and_adf() {
    // base64("me@example.com:cloud-token")
    let (sink, issues) = fake_jira_as("3", "Basic bWVAZXhhbXBsZS5jb206Y2xvdWQtdG9rZW4=").await;
    let set = workflows(&format!(
        "[[workflows]]\nname = \"wf\"\ntasks = [{{ action = \"jira\", url = \"{}/\", project = \"SEC\", api_version = 3, user = \"me@example.com\", token_env = \"JIRA_TOKEN\", issue_type = \"Task\" }}]\n",
        sink.url
    ));
    let outbox = Arc::new(MemoryOutbox::new());
    deliver(
        &set,
        &outbox,
        services(env(&[("JIRA_TOKEN", "cloud-token")])),
        &[finding_event(77, "debug", "NEW")],
    )
    .await;
    let all = issues.lock().unwrap().clone();
    assert_eq!(all.len(), 1, "{:?}", outbox.list(None, 3));
    let f = &all[0]["fields"];
    assert_eq!(f["issuetype"]["name"], "Task");
    assert_eq!(f["description"]["type"], "doc");
    assert_eq!(f["description"]["version"], 1);
    assert_eq!(f["description"]["content"][0]["type"], "paragraph");
    assert!(
        f["description"]["content"][0]["content"][0]["text"]
            .as_str()
            .unwrap()
            .contains("Package: debug@4.4.2")
    );
    assert!(f["labels"].as_array().unwrap().contains(&json!("vigil-77")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jira_rejecting_the_token_is_dead_lettered_at_once() {
    let (sink, _) = fake_jira().await;
    let set = workflows(&format!(
        "{FAST_DELIVERY}[[workflows]]\nname = \"wf\"\ntasks = [{{ action = \"jira\", url = \"{}\", project = \"SEC\", token_env = \"JIRA_TOKEN\" }}]\n",
        sink.url
    ));
    let outbox = Arc::new(MemoryOutbox::new());
    deliver(
        &set,
        &outbox,
        services(env(&[("JIRA_TOKEN", "wrong")])),
        &[finding_event(1, "debug", "NEW")],
    )
    .await;
    let dead = outbox.list(Some(ItemStatus::Dead), 10).unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].attempts, 1);
    assert!(
        dead[0].last_error.as_deref().unwrap().contains("401"),
        "{:?}",
        dead[0].last_error
    );
    assert!(!dead[0].last_error.as_deref().unwrap().contains("wrong"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn email_goes_through_smtp_with_headers_and_body() {
    let smtp = SmtpSink::start().await;
    let set = workflows(&format!(
        r#"
[[owners]]
team = "payments"
match = 'k8s.namespace.name == "payments"'
email = ["pay@example.com", "oncall@example.com"]
[[workflows]]
name = "wf"
tasks = [{{ action = "ownership" }}, {{ action = "email", host = "127.0.0.1", port = {}, tls = "opportunistic", from = "vigil <vigil@example.com>", subject = "[vigil] {{{{ event['component.name'] }}}} owned by {{{{ tasks.ownership.team }}}}" }}]
"#,
        smtp.port
    ));
    let outbox = Arc::new(MemoryOutbox::new());
    deliver(
        &set,
        &outbox,
        services(env(&[])),
        &[finding_event(5, "debug", "NEW")],
    )
    .await;
    let mails = smtp.mails();
    assert_eq!(mails.len(), 1, "{:?}", outbox.list(None, 10));
    let m = &mails[0];
    assert_eq!(m.from, "<vigil@example.com>");
    assert_eq!(m.to, ["<pay@example.com>", "<oncall@example.com>"]);
    assert!(
        m.data
            .contains("Subject: [vigil] debug owned by payments\r\n"),
        "{}",
        m.data
    );
    assert!(
        m.data.contains("From: vigil <vigil@example.com>\r\n"),
        "{}",
        m.data
    );
    assert!(
        m.data
            .contains("To: pay@example.com, oncall@example.com\r\n"),
        "{}",
        m.data
    );
    assert!(
        m.data.contains("X-Vigil-Idempotency-Key: 5/wf/email\r\n"),
        "{}",
        m.data
    );
    assert!(
        m.data.contains("Message-ID: <5.wf.email@vigil>\r\n"),
        "{}",
        m.data
    );
    assert!(
        m.data
            .contains("Content-Type: text/plain; charset=utf-8\r\n"),
        "{}",
        m.data
    );
    assert!(m.data.contains("Package: debug@4.4.2"), "{}", m.data);
    assert!(m.data.contains("Owner: payments"), "{}", m.data);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn email_required_tls_refuses_a_server_without_starttls() {
    let smtp = SmtpSink::start().await;
    let set = workflows(&format!(
        "{FAST_DELIVERY}[[workflows]]\nname = \"wf\"\ntasks = [{{ action = \"email\", host = \"127.0.0.1\", port = {}, tls = \"required\", from = \"vigil@example.com\", to = [\"a@example.com\"], max_attempts = 1 }}]\n",
        smtp.port
    ));
    let outbox = Arc::new(MemoryOutbox::new());
    deliver(
        &set,
        &outbox,
        services(env(&[])),
        &[finding_event(5, "debug", "NEW")],
    )
    .await;
    assert!(smtp.mails().is_empty());
    assert_eq!(outbox.counts().unwrap().dead, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ownership_from_labels_and_rules_feeds_later_tasks() {
    let sink = HttpSink::ok().await;
    let set = workflows(&format!(
        r##"
[[owners]]
team = "platform"
match = 'startsWith(host.name, "pay-")'
slack = "#platform"
[[owners]]
team = "payments"
slack = "#payments-sec"
email = "payments@example.com"
jira_project = "PAY"
[[workflows]]
name = "wf"
tasks = [{{ action = "ownership" }}, {{ action = "webhook", url = "{}/h" }}]
"##,
        sink.url
    ));
    let outbox = Arc::new(MemoryOutbox::new());
    deliver(
        &set,
        &outbox,
        services(env(&[])),
        &[finding_event(3, "debug", "NEW")],
    )
    .await;
    let body = sink.requests()[0].json();
    let own = &body["tasks"]["ownership"];
    // The pod label names the team; the rule adds a second one.
    assert_eq!(own["team"], "payments");
    assert_eq!(own["teams"], json!(["payments", "platform"]));
    assert_eq!(
        own["sources"][0]["from"],
        "k8s.pod.labels/app.kubernetes.io/team"
    );
    assert_eq!(body["event"]["owner.team"], "payments");
    assert_eq!(body["event"]["owner.slack"], "#payments-sec");
    assert_eq!(
        body["event"]["owner.email"],
        json!(["payments@example.com"])
    );
    assert_eq!(body["event"]["owner.jira_project"], "PAY");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_gets_the_event_on_stdin_with_a_cleared_environment() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let script = dir.path().join("handler.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\ncat > {}\nenv > {}.env\necho '{{\"isolated\": true}}'\n",
            out.display(),
            out.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let set = workflows(&format!(
        "[[workflows]]\nname = \"wf\"\ntasks = [{{ action = \"exec\", argv = [\"{}\"], env = [\"KEEP\"] }}]\n",
        script.display()
    ));
    let outbox = Arc::new(MemoryOutbox::new());
    deliver(
        &set,
        &outbox,
        services(env(&[("KEEP", "1"), ("SECRET", "no")])),
        &[finding_event(9, "debug", "NEW")],
    )
    .await;
    let stdin: Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(stdin["event"]["component.name"], "debug");
    assert_eq!(stdin["idempotency_key"], "9/wf/exec");
    let env_text = std::fs::read_to_string(dir.path().join("out.env")).unwrap();
    assert!(env_text.contains("KEEP=1"));
    assert!(env_text.contains("VIGIL_IDEMPOTENCY_KEY=9/wf/exec"));
    assert!(!env_text.contains("SECRET"));
    let done = outbox.list(Some(ItemStatus::Delivered), 1).unwrap();
    assert_eq!(
        done[0].result.as_ref().unwrap()["stdout"],
        json!({"isolated": true})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_is_killed_on_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("slow.sh");
    let marker = dir.path().join("survived");
    std::fs::write(
        &script,
        format!("#!/bin/sh\nsleep 3\ntouch {}\n", marker.display()),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let set = workflows(&format!(
        "{FAST_DELIVERY}[[workflows]]\nname = \"wf\"\ntasks = [{{ action = \"exec\", argv = [\"{}\"], timeout = \"200ms\", max_attempts = 1 }}]\n",
        script.display()
    ));
    let outbox = Arc::new(MemoryOutbox::new());
    let started = std::time::Instant::now();
    deliver(
        &set,
        &outbox,
        services(env(&[])),
        &[finding_event(9, "debug", "NEW")],
    )
    .await;
    assert!(started.elapsed() < std::time::Duration::from_secs(2));
    let dead = outbox.list(Some(ItemStatus::Dead), 1).unwrap();
    assert!(dead[0].last_error.as_deref().unwrap().contains("timed out"));
    tokio::time::sleep(std::time::Duration::from_millis(3500)).await;
    assert!(
        !marker.exists(),
        "the whole process group is killed, sleep's parent included"
    );
}

struct FakeQueries;

impl vigil_workflow::QueryRunner for FakeQueries {
    fn run<'a>(
        &'a self,
        query: &'a str,
    ) -> vigil_workflow::action::BoxFuture<'a, Result<Vec<Value>, String>> {
        Box::pin(async move { Ok((0..3).map(|i| json!({"query": query, "i": i})).collect()) })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_results_are_attached_with_quoted_literals() {
    let sink = HttpSink::ok().await;
    let set = workflows(&format!(
        r#"
[[workflows]]
name = "wf"
tasks = [
  {{ action = "query", name = "spread", query = 'fetch software_components | filter name == {{{{ event["component.name"] }}}}', max_records = 2 }},
  {{ action = "webhook", url = "{}/h" }},
]
"#,
        sink.url
    ));
    let outbox = Arc::new(MemoryOutbox::new());
    let mut s = services(env(&[]));
    s.query = Some(Arc::new(FakeQueries));
    deliver(
        &set,
        &outbox,
        s,
        &[finding_event(4, "x\" or true or \"", "NEW")],
    )
    .await;
    let body = sink.requests()[0].json();
    let spread = &body["tasks"]["spread"];
    assert_eq!(
        spread["query"],
        r#"fetch software_components | filter name == "x\" or true or \"""#
    );
    assert_eq!(spread["records"].as_array().unwrap().len(), 2);
    assert_eq!(spread["truncated"], true);
}
