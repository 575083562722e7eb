//! Time to detect, acknowledge and resolve, per finding and aggregated.
//!
//! - **MTTD** (detect): `detected_at − max(first sighting of any of its instances, advisory
//!   published)` — how long vigil took once both the component and the knowledge that it is
//!   bad existed. Clamped at zero (clock skew between agents and server).
//! - **MTTA** (acknowledge): `acknowledged_at − detected_at`.
//! - **MTTI** (intervene): `resolved_at − detected_at` — until the component was gone (or a
//!   person resolved it).
//!
//! `acknowledged_at` / `resolved_at` are the current cycle's (a re-opened finding starts a new
//! one), so a finding that came back counts from its original detection. O(n log n) in the
//! number of findings.

use serde::Serialize;
use vigil_store::{FindingTiming, Timestamp};

/// One finding's figures, in seconds.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FindingMttx {
    /// The finding.
    #[serde(rename = "finding.id")]
    pub id: String,
    /// Its status.
    pub status: String,
    /// Time to detect.
    pub mttd_seconds: Option<f64>,
    /// Time to acknowledge.
    pub mtta_seconds: Option<f64>,
    /// Time to intervene (resolve).
    pub mtti_seconds: Option<f64>,
}

/// Figures over many findings, in seconds.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Aggregate {
    /// Findings with a value.
    pub count: usize,
    /// Mean.
    pub mean_seconds: Option<f64>,
    /// Median.
    pub p50_seconds: Option<f64>,
    /// 90th percentile.
    pub p90_seconds: Option<f64>,
    /// Largest.
    pub max_seconds: Option<f64>,
}

/// All figures.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Mttx {
    /// Findings considered.
    pub findings: usize,
    /// Time to detect.
    pub mttd: Aggregate,
    /// Time to acknowledge.
    pub mtta: Aggregate,
    /// Time to intervene.
    pub mtti: Aggregate,
    /// Per finding (at most the number asked for, oldest first).
    pub per_finding: Vec<FindingMttx>,
}

fn seconds(later: Timestamp, earlier: Timestamp) -> f64 {
    (later.unix_millis().saturating_sub(earlier.unix_millis())).max(0) as f64 / 1000.0
}

/// Figures of one finding.
pub fn of_finding(t: &FindingTiming) -> FindingMttx {
    let start = match (t.first_seen, t.advisory_published) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    };
    FindingMttx {
        id: t.id.0.to_string(),
        status: t.status.as_str().to_owned(),
        mttd_seconds: start.map(|s| seconds(t.detected_at, s)),
        mtta_seconds: t.acknowledged_at.map(|a| seconds(a, t.detected_at)),
        mtti_seconds: t.resolved_at.map(|r| seconds(r, t.detected_at)),
    }
}

fn aggregate(mut values: Vec<f64>) -> Aggregate {
    if values.is_empty() {
        return Aggregate::default();
    }
    values.sort_by(f64::total_cmp);
    let n = values.len();
    let at = |q: f64| {
        let i = ((q * n as f64).ceil() as usize).clamp(1, n) - 1;
        values.get(i).copied()
    };
    Aggregate {
        count: n,
        mean_seconds: Some(values.iter().sum::<f64>() / n as f64),
        p50_seconds: at(0.5),
        p90_seconds: at(0.9),
        max_seconds: values.last().copied(),
    }
}

/// Figures over `timings`, with at most `per_finding` per-finding entries.
pub fn compute(timings: &[FindingTiming], per_finding: usize) -> Mttx {
    let each: Vec<FindingMttx> = timings.iter().map(of_finding).collect();
    let pick = |f: fn(&FindingMttx) -> Option<f64>| each.iter().filter_map(f).collect();
    Mttx {
        findings: each.len(),
        mttd: aggregate(pick(|m| m.mttd_seconds)),
        mtta: aggregate(pick(|m| m.mtta_seconds)),
        mtti: aggregate(pick(|m| m.mtti_seconds)),
        per_finding: each.iter().take(per_finding).cloned().collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_store::{FindingId, FindingStatus};

    fn at(s: i64) -> Timestamp {
        Timestamp::from_unix_millis(s * 1000)
    }

    #[test]
    fn figures_per_finding_and_aggregated() {
        let t = |id,
                 detected,
                 ack: Option<i64>,
                 res: Option<i64>,
                 seen: Option<i64>,
                 published: Option<i64>| FindingTiming {
            id: FindingId(id),
            status: FindingStatus::New,
            detected_at: at(detected),
            acknowledged_at: ack.map(at),
            resolved_at: res.map(at),
            first_seen: seen.map(at),
            advisory_published: published.map(at),
        };
        let timings = vec![
            // Installed long before the advisory: counts from publication.
            t(1, 110, Some(170), Some(1110), Some(0), Some(100)),
            // Advisory known, package appears: counts from first sighting.
            t(2, 52, None, None, Some(50), Some(0)),
            // Clock skew: never negative.
            t(3, 10, None, None, Some(20), None),
            t(4, 10, None, None, None, None),
        ];
        let m = compute(&timings, 2);
        assert_eq!(m.findings, 4);
        assert_eq!(m.per_finding.len(), 2);
        assert_eq!(m.per_finding[0].mttd_seconds, Some(10.0));
        assert_eq!(m.per_finding[0].mtta_seconds, Some(60.0));
        assert_eq!(m.per_finding[0].mtti_seconds, Some(1000.0));
        assert_eq!(of_finding(&timings[1]).mttd_seconds, Some(2.0));
        assert_eq!(of_finding(&timings[2]).mttd_seconds, Some(0.0));
        assert_eq!(of_finding(&timings[3]).mttd_seconds, None);
        assert_eq!(m.mttd.count, 3);
        assert_eq!(m.mttd.mean_seconds, Some(4.0));
        assert_eq!(m.mttd.p50_seconds, Some(2.0));
        assert_eq!(m.mttd.max_seconds, Some(10.0));
        assert_eq!(m.mtta.count, 1);
        assert_eq!(compute(&[], 10), Mttx::default());
    }
}
