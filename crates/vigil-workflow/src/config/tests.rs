use super::*;
use crate::filter::StandInFilters;

const SPEC_EXAMPLE: &str = r##"
[[workflows]]
name = "malicious-package"
on = "security.events"
filter = 'event.type == "VULNERABILITY_FINDING" and in("CWE-506", vulnerability.references.cwe) and finding.status == "NEW"'
tasks = [
  { action = "ownership" },
  { action = "slack", webhook_url = "https://hooks.slack.com/services/T/B/X", text = "{{ event['component.name'] }}@{{ event['component.version'] }} on {{ event['host.name'] }}" },
  { action = "jira", url = "https://jira.example.com", project = "SEC", token_env = "JIRA_TOKEN" },
  { action = "quarantine", mode = "freeze" },
]
[[owners]]
team = "payments"
match = 'k8s.namespace.name == "payments" or startsWith(host.name, "pay-")'
slack = "#payments-sec"
email = "payments@example.com"
jira_project = "PAY"

[agent]
paths = ["/srv"]
"##;

#[test]
fn the_spec_example_is_valid() {
    let set = WorkflowSet::parse("vigil.toml", SPEC_EXAMPLE, &StandInFilters).unwrap();
    assert_eq!(set.workflows.len(), 1);
    let w = &set.workflows[0];
    let names: Vec<&str> = w.tasks.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["ownership", "slack", "jira", "quarantine"]);
    // Everything after ownership waits for it; nothing else waits.
    assert!(w.tasks[0].after.is_empty());
    for t in &w.tasks[1..] {
        assert_eq!(t.after, ["ownership"]);
    }
    assert_eq!(set.owners[0].email, ["payments@example.com"]);
    let env: std::collections::HashMap<String, String> = Default::default();
    let missing = set.missing_secrets(&env);
    assert_eq!(missing.len(), 1);
    assert_eq!(missing[0].key, "workflows[0].tasks[2].token_env");
}

fn errors(text: &str) -> Vec<(String, String)> {
    match WorkflowSet::parse("vigil.toml", text, &StandInFilters) {
        Ok(_) => Vec::new(),
        Err(e) => e.0.into_iter().map(|e| (e.key, e.reason)).collect(),
    }
}

#[test]
fn errors_name_the_key_and_reason() {
    let wf = |tasks: &str| format!("[[workflows]]\nname = \"w\"\ntasks = [{tasks}]\n");
    let cases: Vec<(String, &str, &str)> = vec![
        (wf(r#"{ action = "slak" }"#), "workflows[0].tasks[0].action", "unknown action `slak`"),
        (wf(r#"{ name = "x" }"#), "workflows[0].tasks[0].action", "missing field `action`"),
        (wf(r#"{ action = "slack", webhok_url = "https://x" }"#), "workflows[0].tasks[0].webhok_url", "unknown field `webhok_url`"),
        (wf(r#"{ action = "ownership" }, { action = "webhook", url = "ftp://x" }"#), "workflows[0].tasks[1].url", "scheme `ftp`"),
        (wf(r#"{ action = "webhook", url = "not a url" }"#), "workflows[0].tasks[0].url", "not a URL"),
        (wf(r#"{ action = "webhook" }"#), "workflows[0].tasks[0].url", "missing field `url`"),
        (wf(r#"{ action = "webhook", url = "https://a", url_env = "B" }"#), "workflows[0].tasks[0].url", "not both"),
        (wf(r#"{ action = "jira", url = "https://j" }"#), "workflows[0].tasks[0]", "missing field `token_env`"),
        (wf(r#"{ action = "jira", url = "https://j", token_env = "has space" }"#), "workflows[0].tasks[0].token_env", "not an environment variable name"),
        (wf(r#"{ action = "exec", argv = ["sh", "-c", "x"] }"#), "workflows[0].tasks[0].argv[0]", "absolute path"),
        (wf(r#"{ action = "exec", argv = [] }"#), "workflows[0].tasks[0].argv", "must name a program"),
        (wf(r#"{ action = "quarantine", mode = "nuke" }"#), "workflows[0].tasks[0].mode", "unknown mode"),
        (wf(r#"{ action = "slack", webhook_url_env = "S", text = "{{ event[ }}" }"#), "workflows[0].tasks[0].text", "template syntax"),
        (wf(r#"{ action = "slack", webhook_url_env = "S" }, { action = "slack", webhook_url_env = "T" }"#), "workflows[0].tasks[1].name", "duplicate task name `slack`"),
        (wf(r#"{ action = "slack", webhook_url_env = "S", after = ["jira"] }"#), "workflows[0].tasks[0].after[0]", "no earlier task named `jira`"),
        (wf(r#"{ action = "slack", webhook_url_env = "S", rate_limit = "fast" }"#), "workflows[0].tasks[0].rate_limit", "not a rate"),
        (wf(r#"{ action = "email", host = "h", from = "nobody", tls = "maybe" }"#), "workflows[0].tasks[0].tls", "unknown tls mode"),
        (wf(r#"{ action = "email", host = "h", from = "nobody" }"#), "workflows[0].tasks[0].from", "not a mail address"),
        (wf(r#"{ action = "webhook", url = "https://x", headers = { "X-Vigil-Signature" = "forged" } }"#), "workflows[0].tasks[0].headers.X-Vigil-Signature", "set by vigil"),
        (wf(""), "workflows[0].tasks", "at least one task"),
        ("[[workflows]]\nname = \"w\"\nfilter = 'event.type == '\ntasks = [{ action = \"ownership\" }]".into(), "workflows[0].filter", "expected a value"),
        ("[[workflows]]\nname = \"w\"\non = \"logs\"\ntasks = [{ action = \"ownership\" }]".into(), "workflows[0].on", "unknown event source"),
        ("[[workflows]]\nname = \"w\"\ntriggers = 1\ntasks = [{ action = \"ownership\" }]".into(), "workflows[0].triggers", "unknown field `triggers`"),
        ("[[workflows]]\nname = \"w\"\ntasks = [{ action = \"ownership\" }]\n[[workflows]]\nname = \"w\"\ntasks = [{ action = \"ownership\" }]".into(), "workflows[1].name", "duplicate workflow name `w`"),
        ("[[workflows]]\ntasks = [{ action = \"ownership\" }]".into(), "workflows[0]", "missing field `name`"),
        ("[[owners]]\nteam = \"t\"\nmatch = 'a =='\n".into(), "owners[0].match", "expected a value"),
        ("[[owners]]\nteam = \"t\"\nemail = [\"ok@example.com\", \"bad\"]\n".into(), "owners[0].email[1]", "not a mail address"),
        ("[[owners]]\nteam = \"t\"\nslak = \"#x\"\n".into(), "owners[0].slak", "unknown field `slak`"),
        ("[[owner]]\nteam = \"t\"\n".into(), "owner", "did you mean `[[owners]]`"),
        ("[delivery]\nlease = \"10s\"\ntask_timeout = \"30s\"\n".into(), "delivery.lease", "longer than delivery.task_timeout"),
        ("[delivery]\nbackoff_base = \"soon\"\n".into(), "delivery.backoff_base", "not a duration"),
        ("[[workflows]\nname = 1".into(), "", "not valid TOML"),
    ];
    for (text, key, reason) in &cases {
        let errs = errors(text);
        assert!(
            errs.iter().any(|(k, r)| k == key && r.contains(reason)),
            "want {key}: {reason}\n got {errs:?}\n for {text}"
        );
    }
}

#[test]
fn every_error_is_reported_not_just_the_first() {
    let text = r#"
[[workflows]]
name = "a"
tasks = [{ action = "slak" }, { action = "webhook", url = "ftp://x" }]
[[owners]]
team = "t"
bogus = 1
"#;
    assert_eq!(errors(text).len(), 3);
}

#[test]
fn display_is_file_key_reason() {
    let e = WorkflowSet::parse(
        "/etc/vigil.toml",
        "[[workflows]]\nname = \"w\"\ntasks = [{ action = \"slak\" }]",
        &StandInFilters,
    )
    .unwrap_err();
    assert!(
        e.to_string()
            .starts_with("/etc/vigil.toml: workflows[0].tasks[0].action: unknown action `slak`"),
        "{e}"
    );
}

#[test]
fn durations() {
    let cases: &[(&str, Option<u64>)] = &[
        ("500ms", Some(500)),
        ("30s", Some(30_000)),
        ("5m", Some(300_000)),
        ("2h", Some(7_200_000)),
        ("10", Some(10_000)),
        ("1x", None),
        ("", None),
        ("99999999999999999999d", None),
    ];
    for (t, want) in cases {
        assert_eq!(
            parse_duration(t).map(|d| d.as_millis() as u64),
            *want,
            "{t}"
        );
    }
}
