//! The delivery engine end to end: triggering, idempotency, retries, dead letters, rate
//! limits, dependencies and restart safety.

#![allow(clippy::unwrap_used)] // test helpers: a failed setup should fail loudly

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use support::*;
use vigil_workflow::{Dispatcher, ItemStatus, MemoryOutbox, Outbox, SystemClock, trigger};

/// The §7 workflow, pointed at local sinks.
fn spec_workflow(slack: &str, hook: &str) -> String {
    format!(
        r##"{FAST_DELIVERY}
[[workflows]]
name = "malicious-package"
on = "security.events"
filter = 'event.type == "VULNERABILITY_FINDING" and in("CWE-506", vulnerability.references.cwe) and finding.status == "NEW"'
tasks = [
  {{ action = "ownership" }},
  {{ action = "slack", webhook_url = "{slack}/services/T/B/X", text = "{{{{ event['component.name'] }}}}@{{{{ event['component.version'] }}}} on {{{{ event['host.name'] }}}}" }},
  {{ action = "webhook", url = "{hook}/hook" }},
  {{ action = "quarantine", mode = "freeze" }},
]
[[owners]]
team = "payments"
match = 'k8s.namespace.name == "payments" or startsWith(host.name, "pay-")'
slack = "#payments-sec"
email = "payments@example.com"
jira_project = "PAY"
"##
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cwe506_workflow_fires_once_per_new_malicious_finding() {
    let slack = HttpSink::ok().await;
    let hook = HttpSink::ok().await;
    let set = workflows(&spec_workflow(&slack.url, &hook.url));
    let outbox = Arc::new(MemoryOutbox::new());
    let now = now_ms();

    let new1 = finding_event(1, "debug", "NEW");
    let mut rereported = finding_event(1, "debug", "NEW");
    rereported["event.id"] = json!("ev-1-again");
    let acked = finding_event(1, "debug", "ACKNOWLEDGED");
    let mut acked_as_finding = finding_event(1, "debug", "ACKNOWLEDGED");
    acked_as_finding["event.type"] = json!("VULNERABILITY_FINDING");
    let mut vuln = finding_event(2, "lodash", "NEW");
    vuln["vulnerability.kind"] = json!("VULNERABILITY");
    vuln["vulnerability.references.cwe"] = json!(["CWE-1321"]);
    let new3 = finding_event(3, "chalk", "NEW");

    let cases = [
        (&new1, 4, 0),
        (&rereported, 0, 4),
        (&acked, 0, 0),
        (&acked_as_finding, 0, 0),
        (&vuln, 0, 0),
        (&new3, 4, 0),
        (&new3, 0, 4),
    ];
    for (event, enqueued, duplicates) in cases {
        let t = trigger(&set, outbox.as_ref(), event, now).unwrap();
        assert_eq!(
            (t.enqueued, t.duplicates),
            (enqueued, duplicates),
            "{}",
            event["event.id"]
        );
    }
    let dispatcher = Dispatcher::new(
        Arc::clone(&set),
        outbox.clone() as Arc<dyn Outbox>,
        services(env(&[])),
        Arc::new(SystemClock),
        "w",
    );
    drain(&dispatcher, &outbox).await;
    // Re-reported after delivery: still nothing new.
    let t = trigger(&set, outbox.as_ref(), &rereported, now_ms()).unwrap();
    assert_eq!(t.enqueued, 0);
    drain(&dispatcher, &outbox).await;

    for sink in [&slack, &hook] {
        let reqs = sink.requests();
        assert_eq!(reqs.len(), 2, "one per new malicious finding");
        assert_eq!(sink.unique_deliveries(), 2);
    }
    let texts: Vec<String> = slack
        .requests()
        .iter()
        .map(|r| {
            r.json()["blocks"][1]["text"]["text"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert!(texts.contains(&"debug@4.4.2 on pay-01".to_owned()));
    assert!(texts.contains(&"chalk@4.4.2 on pay-01".to_owned()));
    assert_eq!(outbox.counts().unwrap().delivered, 8);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_back_off_and_then_deliver() {
    let hook = HttpSink::start(|_, i| {
        if i < 2 {
            Reply::status(503)
        } else {
            Reply::ok()
        }
    })
    .await;
    let set = workflows(&format!(
        "{FAST_DELIVERY}[[workflows]]\nname = \"wf\"\ntasks = [{{ action = \"webhook\", url = \"{}/h\" }}]\n",
        hook.url
    ));
    let outbox = Arc::new(MemoryOutbox::new());
    deliver(
        &set,
        &outbox,
        services(env(&[])),
        &[finding_event(1, "debug", "NEW")],
    )
    .await;
    let reqs = hook.requests();
    assert_eq!(reqs.len(), 3);
    // Backoff base 20 ms, doubling, equal jitter: at least 10 ms, then 20 ms apart.
    assert!(reqs[1].at - reqs[0].at >= Duration::from_millis(10));
    assert!(reqs[2].at - reqs[1].at >= Duration::from_millis(20));
    let done = outbox.list(Some(ItemStatus::Delivered), 1).unwrap();
    assert_eq!(done[0].attempts, 3);
    assert_eq!(hook.unique_deliveries(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_is_honoured() {
    let hook = HttpSink::start(|_, i| {
        if i == 0 {
            Reply {
                headers: vec![("retry-after", "1".into())],
                ..Reply::status(429)
            }
        } else {
            Reply::ok()
        }
    })
    .await;
    let set = workflows(&format!(
        "{FAST_DELIVERY}[[workflows]]\nname = \"wf\"\ntasks = [{{ action = \"webhook\", url = \"{}/h\" }}]\n",
        hook.url
    ));
    let outbox = Arc::new(MemoryOutbox::new());
    deliver(
        &set,
        &outbox,
        services(env(&[])),
        &[finding_event(1, "debug", "NEW")],
    )
    .await;
    let reqs = hook.requests();
    assert_eq!(reqs.len(), 2);
    assert!(
        reqs[1].at - reqs[0].at >= Duration::from_millis(990),
        "{:?}",
        reqs[1].at - reqs[0].at
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn persistent_failures_are_dead_lettered_and_visible() {
    let hook = HttpSink::start(|_, _| Reply::status(500)).await;
    let bad = HttpSink::start(|_, _| Reply::status(400)).await;
    let ok = HttpSink::ok().await;
    let set = workflows(&format!(
        "{FAST_DELIVERY}[[workflows]]\nname = \"wf\"\ntasks = [\n{{ action = \"webhook\", name = \"flaky\", url = \"{}/h\", max_attempts = 3 }},\n{{ action = \"webhook\", name = \"rejects\", url = \"{}/h\" }},\n{{ action = \"webhook\", name = \"after\", url = \"{}/h\", after = [\"flaky\", \"rejects\"] }},\n]\n",
        hook.url, bad.url, ok.url
    ));
    let outbox = Arc::new(MemoryOutbox::new());
    deliver(
        &set,
        &outbox,
        services(env(&[])),
        &[finding_event(1, "debug", "NEW")],
    )
    .await;
    assert_eq!(hook.requests().len(), 3);
    assert_eq!(bad.requests().len(), 1, "a 400 is not retried");
    let dead = outbox.list(Some(ItemStatus::Dead), 10).unwrap();
    assert_eq!(dead.len(), 2);
    let flaky = dead.iter().find(|d| d.task == "flaky").unwrap();
    assert!(
        flaky
            .last_error
            .as_deref()
            .unwrap()
            .contains("gave up after 3 attempts"),
        "{:?}",
        flaky.last_error
    );
    assert!(flaky.last_error.as_deref().unwrap().contains("500"));
    // Tasks waiting on dead ones still run.
    assert_eq!(ok.requests().len(), 1);
    // An operator requeues after fixing the sink: delivered again (same key).
    outbox.requeue(flaky.id, now_ms()).unwrap();
    assert_eq!(outbox.counts().unwrap().pending, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sink_is_rate_limited() {
    let hook = HttpSink::ok().await;
    let set = workflows(&format!(
        "{FAST_DELIVERY}[[workflows]]\nname = \"a\"\ntasks = [{{ action = \"webhook\", url = \"{0}/h\", rate_limit = \"4/s\" }}]\n[[workflows]]\nname = \"b\"\ntasks = [{{ action = \"webhook\", url = \"{0}/h\", rate_limit = \"4/s\" }}]\n",
        hook.url
    ));
    let outbox = Arc::new(MemoryOutbox::new());
    let events: Vec<_> = (1..=4).map(|i| finding_event(i, "debug", "NEW")).collect();
    let started = Instant::now();
    deliver(&set, &outbox, services(env(&[])), &events).await;
    // 8 deliveries to one URL shared by two workflows: a burst of 4, then 4 per second.
    let reqs = hook.requests();
    assert_eq!(reqs.len(), 8);
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "{:?}",
        started.elapsed()
    );
    let mut times: Vec<Instant> = reqs.iter().map(|r| r.at).collect();
    times.sort();
    // Token bucket: any stretch of dt seconds holds at most 4 (burst) + 4·dt deliveries.
    for i in 0..times.len() {
        for j in i + 1..times.len() {
            let dt = (times[j] - times[i]).as_secs_f64();
            let allowed = 4.0 + 4.0 * dt + 0.1;
            assert!(
                (j - i + 1) as f64 <= allowed,
                "{} deliveries in {dt:.3}s",
                j - i + 1
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dispatcher_killed_mid_delivery_is_taken_over_and_each_sink_gets_one_delivery() {
    // The webhook hangs on its first request, long enough for us to kill the dispatcher.
    let hook = HttpSink::start(|_, i| {
        if i == 0 {
            Reply {
                delay: Duration::from_secs(30),
                ..Reply::ok()
            }
        } else {
            Reply::ok()
        }
    })
    .await;
    let slack = HttpSink::ok().await;
    let set = workflows(&format!(
        "[delivery]\nlease = \"1s\"\ntask_timeout = \"900ms\"\npoll_interval = \"20ms\"\nbackoff_base = \"20ms\"\nbackoff_cap = \"50ms\"\n[[workflows]]\nname = \"wf\"\ntasks = [{{ action = \"webhook\", url = \"{}/h\" }}, {{ action = \"slack\", webhook_url = \"{}/s\" }}]\n",
        hook.url, slack.url
    ));
    let outbox = Arc::new(MemoryOutbox::new());
    for i in 1..=3 {
        trigger(
            &set,
            outbox.as_ref(),
            &finding_event(i, "debug", "NEW"),
            now_ms(),
        )
        .unwrap();
    }
    let first = Dispatcher::new(
        Arc::clone(&set),
        outbox.clone() as Arc<dyn Outbox>,
        services(env(&[])),
        Arc::new(SystemClock),
        "worker-a",
    );
    let running = tokio::spawn(async move { first.run_until(std::future::pending()).await });
    let deadline = Instant::now() + Duration::from_secs(5);
    while hook.requests().is_empty() {
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    running.abort(); // killed mid-delivery: the request is out, its outcome never recorded
    let _ = running.await;
    assert!(outbox.counts().unwrap().in_flight >= 1);

    let second = Dispatcher::new(
        Arc::clone(&set),
        outbox.clone() as Arc<dyn Outbox>,
        services(env(&[])),
        Arc::new(SystemClock),
        "worker-b",
    );
    drain(&second, &outbox).await;

    assert_eq!(outbox.counts().unwrap().delivered, 6);
    assert!(
        hook.requests().len() >= 4,
        "the interrupted delivery was retried"
    );
    assert_eq!(
        hook.unique_deliveries(),
        3,
        "one per finding at a sink that honours the key"
    );
    assert_eq!(slack.unique_deliveries(), 3);
    // Every retry carried the same key as the interrupted attempt.
    let first_key = hook.requests()[0]
        .header("x-vigil-idempotency-key")
        .unwrap()
        .to_owned();
    assert_eq!(
        hook.requests()
            .iter()
            .filter(|r| r.header("x-vigil-idempotency-key") == Some(&first_key))
            .count(),
        2
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn items_of_a_removed_task_are_dead_lettered_with_a_reason() {
    let hook = HttpSink::ok().await;
    let old = workflows(&format!(
        "[[workflows]]\nname = \"wf\"\ntasks = [{{ action = \"webhook\", url = \"{}/h\" }}]\n",
        hook.url
    ));
    let outbox = Arc::new(MemoryOutbox::new());
    trigger(
        &old,
        outbox.as_ref(),
        &finding_event(1, "debug", "NEW"),
        now_ms(),
    )
    .unwrap();
    let new = workflows(&format!(
        "[[workflows]]\nname = \"wf\"\ntasks = [{{ action = \"webhook\", name = \"renamed\", url = \"{}/h\" }}]\n",
        hook.url
    ));
    let d = Dispatcher::new(
        new,
        outbox.clone() as Arc<dyn Outbox>,
        services(env(&[])),
        Arc::new(SystemClock),
        "w",
    );
    drain(&d, &outbox).await;
    let dead = outbox.list(Some(ItemStatus::Dead), 1).unwrap();
    assert!(
        dead[0]
            .last_error
            .as_deref()
            .unwrap()
            .contains("no longer configured")
    );
    assert!(hook.requests().is_empty());
}

/// Trigger → webhook received, for 100 findings one after another, with the dispatcher woken
/// by the trigger (the server's path). Prints p50/p99; holds the §8 "about a second" promise
/// with a wide margin.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trigger_to_webhook_latency() {
    let hook = HttpSink::ok().await;
    let set = workflows(&format!(
        "[delivery]\npoll_interval = \"500ms\"\n[[workflows]]\nname = \"wf\"\ntasks = [{{ action = \"webhook\", url = \"{}/h\", rate_limit = \"1000/s\" }}]\n",
        hook.url
    ));
    let outbox = Arc::new(MemoryOutbox::new());
    let dispatcher = Dispatcher::new(
        Arc::clone(&set),
        outbox.clone() as Arc<dyn Outbox>,
        services(env(&[])),
        Arc::new(SystemClock),
        "w",
    );
    let d = Arc::clone(&dispatcher);
    let running = tokio::spawn(async move { d.run_until(std::future::pending()).await });
    let mut latencies = Vec::new();
    for i in 1..=100u64 {
        let sent = Instant::now();
        trigger(
            &set,
            outbox.as_ref(),
            &finding_event(i, "debug", "NEW"),
            now_ms(),
        )
        .unwrap();
        dispatcher.wake();
        let deadline = sent + Duration::from_secs(5);
        while hook.requests().len() < i as usize {
            assert!(Instant::now() < deadline, "finding {i} not delivered");
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
        latencies.push(hook.requests()[i as usize - 1].at - sent);
    }
    running.abort();
    latencies.sort();
    let p50 = latencies[49];
    let p99 = latencies[98];
    eprintln!(
        "trigger -> webhook received over 100 findings: p50 {p50:?}, p99 {p99:?}, max {:?}",
        latencies[99]
    );
    assert!(p99 < Duration::from_millis(500), "p99 {p99:?}");
}
