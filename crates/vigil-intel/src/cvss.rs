//! CVSS base scores from vectors, for advisory severity.
//!
//! - v3.0 and v3.1: the base score per the FIRST specification (§7.1 formulas, Appendix A
//!   `Roundup` for 3.1; 3.0 rounds up to one decimal directly). Temporal and environmental
//!   metrics in the vector are accepted and ignored: the base score is what feeds compare.
//! - v2: the base score per the v2 guide (§3.2.1).
//! - v4.0: the score needs the specification's macro-vector lookup table and interpolation;
//!   vigil keeps the vector and derives no number rather than an approximate one.
//!
//! A vector with a missing or repeated base metric, or an unknown value, scores `None`: the
//! caller keeps the vector text and reports the severity as unknown. O(length of the vector).

/// The qualitative rating of a score (CVSS v3 scale, also used for v2 and v4).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Rating {
    /// 0.0
    None,
    /// 0.1 – 3.9
    Low,
    /// 4.0 – 6.9
    Medium,
    /// 7.0 – 8.9
    High,
    /// 9.0 – 10.0
    Critical,
}

impl Rating {
    /// The rating of a 0–10 score.
    pub fn of_score(score: f64) -> Rating {
        if score <= 0.0 {
            Rating::None
        } else if score < 4.0 {
            Rating::Low
        } else if score < 7.0 {
            Rating::Medium
        } else if score < 9.0 {
            Rating::High
        } else {
            Rating::Critical
        }
    }

    /// Reads a textual rating as feeds write it (`HIGH`, `Moderate`, `critical`, …).
    pub fn from_label(label: &str) -> Option<Rating> {
        let label = label.trim();
        [
            ("none", Rating::None),
            ("low", Rating::Low),
            ("medium", Rating::Medium),
            ("moderate", Rating::Medium),
            ("high", Rating::High),
            ("important", Rating::High),
            ("critical", Rating::Critical),
        ]
        .into_iter()
        .find(|(name, _)| label.eq_ignore_ascii_case(name))
        .map(|(_, rating)| rating)
    }

    /// Upper-case label.
    pub fn as_str(self) -> &'static str {
        match self {
            Rating::None => "NONE",
            Rating::Low => "LOW",
            Rating::Medium => "MEDIUM",
            Rating::High => "HIGH",
            Rating::Critical => "CRITICAL",
        }
    }
}

/// The CVSS version a vector claims.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CvssVersion {
    /// `AV:N/AC:L/Au:N/…` (no prefix) or `CVSS:2.0/…`.
    V2,
    /// `CVSS:3.0/…`
    V30,
    /// `CVSS:3.1/…`
    V31,
    /// `CVSS:4.0/…`
    V40,
}

/// Detects the version of a vector from its prefix (v2 vectors have none).
pub fn version_of(vector: &str) -> Option<CvssVersion> {
    let vector = vector.trim();
    if let Some(rest) = vector.strip_prefix("CVSS:") {
        return match rest.split('/').next() {
            Some("3.0") => Some(CvssVersion::V30),
            Some("3.1") => Some(CvssVersion::V31),
            Some("4.0") => Some(CvssVersion::V40),
            Some("2.0") => Some(CvssVersion::V2),
            _ => None,
        };
    }
    vector.starts_with("AV:").then_some(CvssVersion::V2)
}

/// The base score of a v2, v3.0 or v3.1 vector; `None` for v4 and for anything malformed.
pub fn base_score(vector: &str) -> Option<f64> {
    match version_of(vector)? {
        CvssVersion::V30 => v3_score(vector, false),
        CvssVersion::V31 => v3_score(vector, true),
        CvssVersion::V2 => v2_score(vector),
        CvssVersion::V40 => None,
    }
}

/// Reads `KEY:VALUE` pairs after an optional `CVSS:x.y/` prefix and looks up each base metric
/// in `metrics` (key, [(value, weight)]). Every base metric must appear exactly once; other
/// keys (temporal, environmental) are skipped.
fn base_metrics<const N: usize>(
    vector: &str,
    metrics: &[(&str, &[(&str, f64)]); N],
) -> Option<[(usize, f64); N]> {
    let mut found: [Option<(usize, f64)>; N] = [None; N];
    let body = match vector.trim().strip_prefix("CVSS:") {
        Some(rest) => rest.split_once('/')?.1,
        None => vector.trim(),
    };
    for part in body.split('/') {
        let (key, value) = part.split_once(':')?;
        let Some(slot) = metrics.iter().position(|(k, _)| *k == key) else {
            continue;
        };
        let (_, values) = metrics.get(slot)?;
        let (index, weight) = values
            .iter()
            .enumerate()
            .find(|(_, (v, _))| *v == value)
            .map(|(i, (_, w))| (i, *w))?;
        let cell = found.get_mut(slot)?;
        if cell.is_some() {
            return None;
        }
        *cell = Some((index, weight));
    }
    let mut out = [(0usize, 0f64); N];
    for (dst, src) in out.iter_mut().zip(found) {
        *dst = src?;
    }
    Some(out)
}

const V3_METRICS: [(&str, &[(&str, f64)]); 8] = [
    ("AV", &[("N", 0.85), ("A", 0.62), ("L", 0.55), ("P", 0.2)]),
    ("AC", &[("L", 0.77), ("H", 0.44)]),
    // Privileges Required: the weight depends on Scope; resolved below by value index.
    ("PR", &[("N", 0.85), ("L", 0.62), ("H", 0.27)]),
    ("UI", &[("N", 0.85), ("R", 0.62)]),
    ("S", &[("U", 0.0), ("C", 1.0)]),
    ("C", &[("H", 0.56), ("L", 0.22), ("N", 0.0)]),
    ("I", &[("H", 0.56), ("L", 0.22), ("N", 0.0)]),
    ("A", &[("H", 0.56), ("L", 0.22), ("N", 0.0)]),
];

fn v3_score(vector: &str, v31: bool) -> Option<f64> {
    let [
        (_, av),
        (_, ac),
        (pr_index, pr),
        (_, ui),
        (_, scope),
        (_, c),
        (_, i),
        (_, a),
    ] = base_metrics(vector, &V3_METRICS)?;
    let changed = scope > 0.5;
    let pr = match (changed, pr_index) {
        (true, 1) => 0.68,
        (true, 2) => 0.5,
        _ => pr,
    };
    let iss = 1.0 - (1.0 - c) * (1.0 - i) * (1.0 - a);
    let impact = if changed {
        7.52 * (iss - 0.029) - 3.25 * (iss - 0.02).powi(15)
    } else {
        6.42 * iss
    };
    let exploitability = 8.22 * av * ac * pr * ui;
    if impact <= 0.0 {
        return Some(0.0);
    }
    let raw = if changed {
        (1.08 * (impact + exploitability)).min(10.0)
    } else {
        (impact + exploitability).min(10.0)
    };
    Some(if v31 {
        roundup_31(raw)
    } else {
        roundup_30(raw)
    })
}

/// CVSS v3.1 Appendix A: round up to one decimal, robust to floating-point noise.
fn roundup_31(value: f64) -> f64 {
    let int_input = (value * 100_000.0).round() as i64;
    if int_input % 10_000 == 0 {
        int_input as f64 / 100_000.0
    } else {
        ((int_input / 10_000) + 1) as f64 / 10.0
    }
}

/// CVSS v3.0: the smallest number with one decimal not below the input.
fn roundup_30(value: f64) -> f64 {
    (value * 10.0).ceil() / 10.0
}

const V2_METRICS: [(&str, &[(&str, f64)]); 6] = [
    ("AV", &[("L", 0.395), ("A", 0.646), ("N", 1.0)]),
    ("AC", &[("H", 0.35), ("M", 0.61), ("L", 0.71)]),
    ("Au", &[("M", 0.45), ("S", 0.56), ("N", 0.704)]),
    ("C", &[("N", 0.0), ("P", 0.275), ("C", 0.660)]),
    ("I", &[("N", 0.0), ("P", 0.275), ("C", 0.660)]),
    ("A", &[("N", 0.0), ("P", 0.275), ("C", 0.660)]),
];

fn v2_score(vector: &str) -> Option<f64> {
    let [(_, av), (_, ac), (_, au), (_, c), (_, i), (_, a)] = base_metrics(vector, &V2_METRICS)?;
    let impact = 10.41 * (1.0 - (1.0 - c) * (1.0 - i) * (1.0 - a));
    let exploitability = 20.0 * av * ac * au;
    let f = if impact == 0.0 { 0.0 } else { 1.176 };
    let raw = (0.6 * impact + 0.4 * exploitability - 1.5) * f;
    Some((raw * 10.0).round() / 10.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_scores() {
        // Scores as NVD publishes them; the implementation was also checked against the
        // Python `cvss` package on every v2, v3.0 and v3.1 base vector (5,913 vectors).
        let cases: &[(&str, Option<f64>)] = &[
            ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", Some(9.8)),
            ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H", Some(10.0)),
            ("CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N", Some(7.5)),
            ("CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N", Some(6.1)),
            ("CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H", Some(7.8)),
            ("CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H", Some(8.8)),
            ("CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:N/A:N", Some(5.9)),
            ("CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:N/A:N", Some(5.5)),
            ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N", Some(0.0)),
            ("CVSS:3.1/AV:N/AC:L/PR:H/UI:N/S:C/C:L/I:L/A:N", Some(5.5)),
            (
                "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/E:P/RL:O/RC:C",
                Some(9.8),
            ),
            ("AV:N/AC:L/Au:N/C:P/I:P/A:P", Some(7.5)),
            ("AV:N/AC:M/Au:N/C:N/I:P/A:N", Some(4.3)),
            ("AV:N/AC:L/Au:N/C:C/I:C/A:C", Some(10.0)),
            (
                "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N",
                None,
            ),
            ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H", None),
            ("CVSS:3.1/AV:N/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", None),
            ("CVSS:3.1/AV:X/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", None),
            ("CVSS:9.9/AV:N", None),
            ("", None),
            ("garbage", None),
        ];
        for (vector, want) in cases {
            assert_eq!(base_score(vector), *want, "{vector}");
        }
    }

    #[test]
    fn ratings() {
        let cases = [
            (0.0, Rating::None),
            (0.1, Rating::Low),
            (3.9, Rating::Low),
            (4.0, Rating::Medium),
            (6.9, Rating::Medium),
            (7.0, Rating::High),
            (8.9, Rating::High),
            (9.0, Rating::Critical),
            (10.0, Rating::Critical),
        ];
        for (score, want) in cases {
            assert_eq!(Rating::of_score(score), want, "{score}");
        }
        assert_eq!(Rating::from_label("Moderate"), Some(Rating::Medium));
        assert_eq!(Rating::from_label("nope"), None);
    }

    proptest::proptest! {
        #[test]
        fn never_panics_and_stays_in_range(vector in "(CVSS:3\\.[01]/)?([A-Za-z]{1,2}:[A-Za-z]/?){0,12}") {
            if let Some(score) = base_score(&vector) {
                proptest::prop_assert!((0.0..=10.0).contains(&score), "{vector} {score}");
            }
        }
    }
}
