//! Hostile package names reach every sink as data: JSON-encoded by serde, escaped for
//! mrkdwn and plain text, never through a shell.

#![allow(clippy::unwrap_used)] // test helpers: a failed setup should fail loudly

mod support;

use std::sync::Arc;

use serde_json::{Value, json};
use support::*;
use vigil_workflow::event::escape_control;
use vigil_workflow::{ItemStatus, MemoryOutbox, Outbox};

const HOSTILE: [&str; 6] = [
    "$(touch x)",
    "; rm -rf ~",
    "`touch y`",
    "\u{1b}[31mred\u{1b}[0m\u{1b}]0;pwned\u{7}",
    "a\r\nBcc: evil@example.com\r\n\r\nforged body",
    "<!channel> <https://evil.example|click> \u{202e}fdp.exe",
];

/// Every string in a JSON value.
fn strings(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Array(a) => a.iter().for_each(|x| strings(x, out)),
        Value::Object(o) => o.values().for_each(|x| strings(x, out)),
        _ => {}
    }
}

fn no_raw_controls(s: &str) -> bool {
    !s.chars()
        .any(|c| (c.is_control() && c != '\n') || ('\u{202a}'..='\u{202e}').contains(&c))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_names_trigger_nothing_and_arrive_escaped_everywhere() {
    let work = tempfile::tempdir().unwrap();
    let stdin_dir = work.path().join("stdin");
    std::fs::create_dir(&stdin_dir).unwrap();
    let script = work.path().join("handler.sh");
    // Stores its stdin; a shell anywhere in the path would run `touch x` in `work`.
    std::fs::write(
        &script,
        format!("#!/bin/sh\ncat > {}/$$.json\n", stdin_dir.display()),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();

    let hook = HttpSink::ok().await;
    let slack = HttpSink::ok().await;
    let teams = HttpSink::ok().await;
    let jira_issues = Arc::new(std::sync::Mutex::new(0usize));
    let counter = Arc::clone(&jira_issues);
    let jira = HttpSink::start(move |r, _| {
        if r.method == "GET" {
            Reply::json(200, json!({"issues": []}))
        } else {
            *counter.lock().unwrap() += 1;
            Reply::json(201, json!({"id": "1", "key": "SEC-1"}))
        }
    })
    .await;
    let smtp = SmtpSink::start().await;
    let config = format!(
        r#"{FAST_DELIVERY}
[[workflows]]
name = "all-sinks"
filter = 'in("CWE-506", vulnerability.references.cwe)'
tasks = [
  {{ action = "webhook", url = "{hook}/h" }},
  {{ action = "slack", webhook_url = "{slack}/s", rate_limit = "100/s", text = "{{{{ event['component.name'] }}}} on {{{{ event['host.name'] }}}}" }},
  {{ action = "teams", webhook_url = "{teams}/t" }},
  {{ action = "jira", url = "{jira}", project = "SEC", token_env = "T", summary = "{{{{ event['component.name'] }}}}" }},
  {{ action = "email", host = "127.0.0.1", port = {port}, tls = "none", from = "vigil@example.com", to = ["sec@example.com"], subject = "pkg {{{{ event['component.name'] }}}}" }},
  {{ action = "exec", argv = ["{script}"], cwd = "{cwd}" }},
]
"#,
        hook = hook.url,
        slack = slack.url,
        teams = teams.url,
        jira = jira.url,
        port = smtp.port,
        script = script.display(),
        cwd = work.path().display(),
    );
    let set = workflows(&config);
    let outbox = Arc::new(MemoryOutbox::new());
    let events: Vec<Value> = HOSTILE
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let mut e = finding_event(100 + i as u64, name, "NEW");
            e["host.name"] = json!(format!("host{name}"));
            e
        })
        .collect();
    deliver(&set, &outbox, services(env(&[("T", "t")])), &events).await;
    let counts = outbox.counts().unwrap();
    assert_eq!(
        counts.delivered as usize,
        HOSTILE.len() * 6,
        "{:?}",
        outbox.list(Some(ItemStatus::Dead), 10)
    );

    // Nothing was executed: no `x` or `y` anywhere we ran, nothing deleted.
    for dir in [work.path().to_path_buf(), std::env::current_dir().unwrap()] {
        assert!(
            !dir.join("x").exists() && !dir.join("y").exists(),
            "{}",
            dir.display()
        );
    }
    assert!(script.exists());

    // exec: the names arrive only as JSON on stdin, intact.
    let mut seen = Vec::new();
    for entry in std::fs::read_dir(&stdin_dir).unwrap() {
        let doc: Value =
            serde_json::from_slice(&std::fs::read(entry.unwrap().path()).unwrap()).unwrap();
        seen.push(doc["event"]["component.name"].as_str().unwrap().to_owned());
    }
    seen.sort();
    let mut want: Vec<String> = HOSTILE.iter().map(|s| s.to_string()).collect();
    want.sort();
    assert_eq!(seen, want);

    // Webhook: raw bytes have no control characters (serde escapes them); the values
    // round-trip exactly.
    let mut names = Vec::new();
    for r in hook.requests() {
        assert!(
            !r.body.iter().any(|b| *b < 0x20),
            "raw control byte in webhook body"
        );
        names.push(
            r.json()["event"]["component.name"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    names.sort();
    assert_eq!(names, want);

    // Slack, Teams, Jira: every string is free of raw controls and bidi overrides; mrkdwn has
    // no live `<` or `&`-entities the name did not produce.
    for sink in [&slack, &teams, &jira] {
        for r in sink.requests().iter().filter(|r| r.method == "POST") {
            assert!(!r.body.iter().any(|b| *b < 0x20));
            let mut all = Vec::new();
            strings(&r.json(), &mut all);
            for s in &all {
                assert!(no_raw_controls(s), "{s:?}");
            }
        }
    }
    for r in slack.requests() {
        let p = r.json();
        let section = p["blocks"][1]["text"]["text"].as_str().unwrap();
        assert!(
            !section.contains('<') && !section.contains('>'),
            "{section}"
        );
        for f in p["blocks"][1]["fields"].as_array().unwrap() {
            let t = f["text"].as_str().unwrap();
            assert!(!t.contains('<'), "{t}");
        }
    }
    let slack_texts: Vec<String> = slack
        .requests()
        .iter()
        .map(|r| {
            r.json()["blocks"][1]["text"]["text"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert!(slack_texts.contains(&"\\u{1b}[31mred\\u{1b}[0m\\u{1b}]0;pwned\\u{7} on host\\u{1b}[31mred\\u{1b}[0m\\u{1b}]0;pwned\\u{7}".to_owned()), "{slack_texts:?}");
    assert!(slack_texts.contains(&"$(touch x) on host$(touch x)".to_owned()));
    assert_eq!(*jira_issues.lock().unwrap(), HOSTILE.len());

    // Mail: no injected header, no raw escape, the name visible in escaped form.
    let mails = smtp.mails();
    assert_eq!(mails.len(), HOSTILE.len());
    for m in &mails {
        assert!(!m.data.contains('\u{1b}'));
        assert!(
            !m.data
                .lines()
                .any(|l| l.to_ascii_lowercase().starts_with("bcc:")),
            "{}",
            m.data
        );
        assert_eq!(m.to, ["<sec@example.com>"]);
    }
    assert!(
        mails.iter().any(|m| m
            .data
            .contains("Subject: pkg a\\r\\nBcc: evil@example.com\\r\\n\\r\\nforged body")),
        "{:?}",
        mails.iter().map(|m| &m.data).collect::<Vec<_>>()
    );
    // And the terminal helper the CLI uses.
    assert_eq!(
        escape_control(HOSTILE[3]),
        "\\u{1b}[31mred\\u{1b}[0m\\u{1b}]0;pwned\\u{7}"
    );
}
