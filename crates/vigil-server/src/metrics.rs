//! Operational counters and the Prometheus text exposition (`GET /metrics`).
//!
//! Counters are process-local atomics (they restart at zero with the process, as Prometheus
//! expects); gauges that describe the store — findings per status, outbox items per status,
//! MTTx — are read from the store at scrape time, so several replicas report the same values.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::mttx::Mttx;

/// Upper bounds (seconds) of the detection-latency histogram buckets.
const BUCKETS: [f64; 10] = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0];

/// A latency histogram.
#[derive(Debug, Default)]
pub struct Histogram {
    buckets: [AtomicU64; 10],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

impl Histogram {
    /// Records one observation.
    pub fn observe(&self, d: Duration) {
        let secs = d.as_secs_f64();
        for (bound, bucket) in BUCKETS.iter().zip(&self.buckets) {
            if secs <= *bound {
                bucket.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_micros.fetch_add(
            u64::try_from(d.as_micros()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
    }

    fn render(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        for (bound, bucket) in BUCKETS.iter().zip(&self.buckets) {
            let _ = writeln!(
                out,
                "{name}_bucket{{le=\"{bound}\"}} {}",
                bucket.load(Ordering::Relaxed)
            );
        }
        let count = self.count.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {count}");
        let _ = writeln!(
            out,
            "{name}_sum {}",
            self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6
        );
        let _ = writeln!(out, "{name}_count {count}");
    }
}

/// The server's counters.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Snapshots applied.
    pub snapshots_applied: AtomicU64,
    /// Snapshots already applied before (same host and sequence).
    pub snapshots_duplicate: AtomicU64,
    /// Snapshots refused (bad encoding, size, JSON, validation).
    pub snapshots_rejected: AtomicU64,
    /// Component instances that appeared.
    pub instances_new: AtomicU64,
    /// Component instances that changed.
    pub instances_changed: AtomicU64,
    /// Component instances that went away.
    pub instances_gone: AtomicU64,
    /// Findings created.
    pub findings_created: AtomicU64,
    /// Findings re-opened because their component came back.
    pub findings_reopened: AtomicU64,
    /// Findings resolved automatically after the grace period.
    pub findings_auto_resolved: AtomicU64,
    /// Status changes made by people (ack, resolve, mute).
    pub status_changes: AtomicU64,
    /// Security events appended.
    pub events: AtomicU64,
    /// Workflow tasks enqueued.
    pub tasks_enqueued: AtomicU64,
    /// Intel reloads that changed something.
    pub intel_reloads: AtomicU64,
    /// Queries run through the API.
    pub queries: AtomicU64,
    /// Requests refused for authentication or scope.
    pub auth_failures: AtomicU64,
    /// Time from receiving a snapshot to its findings, events and tasks being committed.
    pub ingest_latency: Histogram,
    /// Time from new intel being in use to its findings being committed.
    pub intel_latency: Histogram,
    requests: Mutex<BTreeMap<(String, u16), u64>>,
}

/// Store-side values read at scrape time.
#[derive(Debug, Default)]
pub struct Gauges {
    /// Findings per status.
    pub findings: Vec<(String, u64)>,
    /// Outbox items per status.
    pub outbox: Vec<(&'static str, u64)>,
    /// Advisories in the matcher.
    pub advisories: usize,
    /// Time-to-X figures.
    pub mttx: Mttx,
}

impl Metrics {
    /// Counts one HTTP request.
    pub fn request(&self, route: &str, status: u16) {
        if let Ok(mut r) = self.requests.lock() {
            *r.entry((route.to_owned(), status)).or_default() += 1;
        }
    }

    /// The Prometheus text exposition.
    pub fn render(&self, gauges: &Gauges) -> String {
        let mut out = String::new();
        let counters: [(&str, &str, &AtomicU64); 15] = [
            (
                "vigil_snapshots_applied_total",
                "Agent snapshots applied.",
                &self.snapshots_applied,
            ),
            (
                "vigil_snapshots_duplicate_total",
                "Agent snapshots received again (same host and sequence) and ignored.",
                &self.snapshots_duplicate,
            ),
            (
                "vigil_snapshots_rejected_total",
                "Agent snapshots refused as malformed or too large.",
                &self.snapshots_rejected,
            ),
            (
                "vigil_instances_new_total",
                "Component instances that appeared.",
                &self.instances_new,
            ),
            (
                "vigil_instances_changed_total",
                "Component instances whose evidence or processes changed.",
                &self.instances_changed,
            ),
            (
                "vigil_instances_gone_total",
                "Component instances that went away.",
                &self.instances_gone,
            ),
            (
                "vigil_findings_created_total",
                "Findings created.",
                &self.findings_created,
            ),
            (
                "vigil_findings_reopened_total",
                "Findings re-opened because their component came back.",
                &self.findings_reopened,
            ),
            (
                "vigil_findings_auto_resolved_total",
                "Findings resolved after their component was gone for the grace period.",
                &self.findings_auto_resolved,
            ),
            (
                "vigil_finding_status_changes_total",
                "Finding status changes made through the API or CLI.",
                &self.status_changes,
            ),
            (
                "vigil_security_events_total",
                "Security events appended.",
                &self.events,
            ),
            (
                "vigil_workflow_tasks_enqueued_total",
                "Workflow tasks enqueued in the outbox.",
                &self.tasks_enqueued,
            ),
            (
                "vigil_intel_reloads_total",
                "Intel reloads that changed the matcher.",
                &self.intel_reloads,
            ),
            ("vigil_queries_total", "Queries run.", &self.queries),
            (
                "vigil_auth_failures_total",
                "Requests refused for a missing, wrong or insufficient token.",
                &self.auth_failures,
            ),
        ];
        for (name, help, value) in counters {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
                value.load(Ordering::Relaxed)
            );
        }
        self.ingest_latency.render(
            &mut out,
            "vigil_ingest_detection_seconds",
            "From a snapshot received to its findings, events and workflow tasks committed.",
        );
        self.intel_latency.render(
            &mut out,
            "vigil_intel_detection_seconds",
            "From new intel in use to its findings, events and workflow tasks committed.",
        );
        let _ = writeln!(
            out,
            "# HELP vigil_findings Findings by status.\n# TYPE vigil_findings gauge"
        );
        for (status, n) in &gauges.findings {
            let _ = writeln!(out, "vigil_findings{{status=\"{status}\"}} {n}");
        }
        let _ = writeln!(
            out,
            "# HELP vigil_outbox_items Workflow outbox items by status.\n# TYPE vigil_outbox_items gauge"
        );
        for (status, n) in &gauges.outbox {
            let _ = writeln!(out, "vigil_outbox_items{{status=\"{status}\"}} {n}");
        }
        let _ = writeln!(
            out,
            "# HELP vigil_intel_advisories Advisories in the matcher.\n# TYPE vigil_intel_advisories gauge\nvigil_intel_advisories {}",
            gauges.advisories
        );
        for (name, help, agg) in [
            (
                "vigil_mttd_seconds",
                "Time to detect: detection minus the later of first sighting and advisory publication.",
                &gauges.mttx.mttd,
            ),
            (
                "vigil_mtta_seconds",
                "Time to acknowledge a finding.",
                &gauges.mttx.mtta,
            ),
            (
                "vigil_mtti_seconds",
                "Time to intervene: detection to resolution.",
                &gauges.mttx.mtti,
            ),
        ] {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
            for (stat, v) in [
                ("mean", agg.mean_seconds),
                ("p50", agg.p50_seconds),
                ("p90", agg.p90_seconds),
                ("max", agg.max_seconds),
            ] {
                if let Some(v) = v {
                    let _ = writeln!(out, "{name}{{stat=\"{stat}\"}} {v}");
                }
            }
            let _ = writeln!(out, "{name}_count {}", agg.count);
        }
        let _ = writeln!(
            out,
            "# HELP vigil_http_requests_total HTTP requests by route and status.\n# TYPE vigil_http_requests_total counter"
        );
        if let Ok(r) = self.requests.lock() {
            for ((route, status), n) in r.iter() {
                let _ = writeln!(
                    out,
                    "vigil_http_requests_total{{route=\"{route}\",status=\"{status}\"}} {n}"
                );
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_valid_exposition_lines() {
        let m = Metrics::default();
        m.snapshots_applied.fetch_add(3, Ordering::Relaxed);
        m.ingest_latency.observe(Duration::from_millis(3));
        m.request("/api/v1/query", 200);
        let text = m.render(&Gauges {
            findings: vec![("NEW".into(), 2)],
            outbox: vec![("pending", 1)],
            advisories: 36,
            mttx: Mttx::default(),
        });
        assert!(text.contains("vigil_snapshots_applied_total 3\n"));
        assert!(text.contains("vigil_ingest_detection_seconds_bucket{le=\"0.005\"} 1\n"));
        assert!(text.contains("vigil_ingest_detection_seconds_bucket{le=\"0.001\"} 0\n"));
        assert!(text.contains("vigil_findings{status=\"NEW\"} 2\n"));
        assert!(
            text.contains("vigil_http_requests_total{route=\"/api/v1/query\",status=\"200\"} 1\n")
        );
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let (_, value) = line.rsplit_once(' ').unwrap();
            assert!(value.parse::<f64>().is_ok(), "{line}");
        }
    }
}
