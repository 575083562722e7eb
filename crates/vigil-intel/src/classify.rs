//! Classification: is an advisory about a *malicious* package or a *vulnerable* one, which
//! CWEs does it name, how severe is it, and which indicators of compromise does it carry.
//!
//! MALICIOUS when any of (PRODUCT.md §3):
//! - the id starts with `MAL-` (ossf/malicious-packages and OSV.dev's malware ids);
//! - CWE-506 "Embedded Malicious Code" appears in `affected[].database_specific.cwes` (objects
//!   with `cweId`, or strings) or in `database_specific.cwe_ids` / `database_specific.cwes`;
//! - GitHub marks it malware: a `database_specific.type` (or `advisory_type`) of `malware`, as
//!   GitHub's API labels malware advisories, or an ossf import origin whose source is
//!   `ghsa-malware`.
//!
//! Otherwise VULNERABILITY. A MALICIOUS advisory always lists CWE-506 (added when the source
//! omits it), so a workflow filter on `in("CWE-506", vulnerability.references.cwe)` sees every
//! malicious package, whichever signal classified it.
//!
//! Severity: the highest-rated of the record-level and package-level `severity[]` entries whose
//! score could be computed ([`crate::cvss`]); a v4 vector is kept unscored; without vectors,
//! GitHub's `database_specific.severity` label. IOCs: `database_specific.iocs` as a map of
//! string lists (`urls`, `domains`, `ips`, `strings`, … — unknown keys kept, non-strings
//! dropped).

use std::collections::BTreeMap;

use serde_json::Value;
use vigil_core::osv::{ORIGINS_KEY, OsvRecord};

use crate::advisory::{AdvisoryKind, AdvisorySeverity};
use crate::cvss::{self, Rating};

/// The CWE of embedded malicious code.
pub const CWE_MALICIOUS: &str = "CWE-506";

/// What [`classify`] found.
#[derive(Clone, Debug, PartialEq)]
pub struct Classification {
    /// MALICIOUS or VULNERABILITY.
    pub kind: AdvisoryKind,
    /// CWE ids, deduplicated; includes CWE-506 when MALICIOUS.
    pub cwes: Vec<String>,
    /// The signal that made it MALICIOUS.
    pub malicious_because: Option<&'static str>,
    /// The stated severity.
    pub severity: Option<AdvisorySeverity>,
    /// Indicators of compromise.
    pub iocs: BTreeMap<String, Vec<String>>,
}

/// Classifies a record (see the module documentation).
pub fn classify(record: &OsvRecord) -> Classification {
    let cwes = cwes_of(record);
    let malicious_because = if record.id.starts_with("MAL-") {
        Some("MAL- id")
    } else if cwes.iter().any(|c| c == CWE_MALICIOUS) {
        Some("CWE-506")
    } else if github_marks_malware(record) {
        Some("GHSA malware")
    } else {
        None
    };
    let mut cwes = cwes;
    let kind = if malicious_because.is_some() {
        if !cwes.iter().any(|c| c == CWE_MALICIOUS) {
            cwes.insert(0, CWE_MALICIOUS.to_owned());
        }
        AdvisoryKind::Malicious
    } else {
        AdvisoryKind::Vulnerability
    };
    Classification {
        kind,
        cwes,
        malicious_because,
        severity: severity_of(record),
        iocs: iocs_of(record),
    }
}

/// Every CWE id the record names, normalized to `CWE-<n>`, deduplicated in first-seen order.
pub fn cwes_of(record: &OsvRecord) -> Vec<String> {
    let mut out = Vec::new();
    let mut push = |value: &Value| {
        let text = match value {
            Value::String(s) => Some(s.as_str()),
            Value::Object(map) => ["cweId", "cwe_id", "id"]
                .iter()
                .find_map(|k| map.get(*k).and_then(Value::as_str)),
            _ => None,
        };
        if let Some(cwe) = text.and_then(normalize_cwe)
            && !out.contains(&cwe)
        {
            out.push(cwe);
        }
    };
    fn lists(specific: Option<&Value>) -> impl Iterator<Item = &Value> {
        ["cwes", "cwe_ids", "cweIds"]
            .into_iter()
            .filter_map(move |k| specific?.get(k)?.as_array())
            .flatten()
    }
    for affected in &record.affected {
        lists(affected.database_specific.as_ref()).for_each(&mut push);
    }
    lists(record.database_specific.as_ref()).for_each(&mut push);
    out
}

/// `CWE-506`, `cwe-506`, `506` → `CWE-506`; anything else → `None`.
fn normalize_cwe(text: &str) -> Option<String> {
    let text = text.trim();
    let digits = match text.get(..4) {
        Some(prefix) if prefix.eq_ignore_ascii_case("CWE-") => text.get(4..)?,
        _ => text,
    };
    (!digits.is_empty() && digits.len() <= 9 && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| format!("CWE-{digits}"))
}

fn github_marks_malware(record: &OsvRecord) -> bool {
    let Some(specific) = record.database_specific.as_ref() else {
        return false;
    };
    let typed_malware = ["type", "advisory_type"].iter().any(|k| {
        specific
            .get(*k)
            .and_then(Value::as_str)
            .is_some_and(|t| t.eq_ignore_ascii_case("malware"))
    });
    let ghsa_malware_origin = specific
        .get(ORIGINS_KEY)
        .and_then(Value::as_array)
        .is_some_and(|origins| {
            origins.iter().any(|o| {
                o.get("source")
                    .and_then(Value::as_str)
                    .is_some_and(|s| s == "ghsa-malware")
            })
        });
    typed_malware || ghsa_malware_origin
}

fn severity_of(record: &OsvRecord) -> Option<AdvisorySeverity> {
    let mut best: Option<AdvisorySeverity> = None;
    let entries = record
        .severity
        .iter()
        .chain(record.affected.iter().flat_map(|a| a.severity.iter()));
    for entry in entries {
        let vector = entry.score.trim();
        if vector.is_empty() {
            continue;
        }
        let score = cvss::base_score(vector).or_else(|| {
            // Some feeds put a bare number in `score`.
            vector
                .parse::<f64>()
                .ok()
                .filter(|s| (0.0..=10.0).contains(s))
        });
        let candidate = AdvisorySeverity {
            rating: score.map(Rating::of_score),
            score,
            system: entry.kind.clone(),
            vector: vector.to_owned(),
        };
        let better = match &best {
            None => true,
            Some(current) => match (candidate.score, current.score) {
                (Some(new), Some(old)) => new > old,
                (Some(_), None) => true,
                _ => false,
            },
        };
        if better {
            best = Some(candidate);
        }
    }
    let label = record
        .database_specific
        .as_ref()
        .and_then(|d| d.get("severity"))
        .and_then(Value::as_str);
    match (best, label.and_then(Rating::from_label)) {
        (Some(mut found), Some(rating)) if found.rating.is_none() => {
            found.rating = Some(rating);
            Some(found)
        }
        (None, Some(rating)) => Some(AdvisorySeverity {
            rating: Some(rating),
            score: None,
            system: "database_specific.severity".to_owned(),
            vector: label.unwrap_or_default().to_owned(),
        }),
        (found, _) => found,
    }
}

fn iocs_of(record: &OsvRecord) -> BTreeMap<String, Vec<String>> {
    let mut out = BTreeMap::new();
    let Some(Value::Object(iocs)) = record
        .database_specific
        .as_ref()
        .and_then(|d| d.get("iocs"))
    else {
        return out;
    };
    for (key, value) in iocs {
        let values: Vec<String> = match value {
            Value::Array(items) => items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
            Value::String(s) => vec![s.clone()],
            _ => Vec::new(),
        };
        if !values.is_empty() {
            out.insert(key.clone(), values);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(json: &str) -> OsvRecord {
        serde_json::from_str(json).expect("test record parses")
    }

    #[test]
    fn classifies_by_each_signal() {
        // (record, kind, because, cwes)
        let cases: &[(&str, AdvisoryKind, Option<&str>, &[&str])] = &[
            (
                r#"{"id":"MAL-2025-1"}"#,
                AdvisoryKind::Malicious,
                Some("MAL- id"),
                &["CWE-506"],
            ),
            (
                r#"{"id":"GHSA-x","affected":[{"database_specific":{"cwes":[{"cweId":"CWE-506"}]}}]}"#,
                AdvisoryKind::Malicious,
                Some("CWE-506"),
                &["CWE-506"],
            ),
            (
                r#"{"id":"GHSA-y","database_specific":{"cwe_ids":["CWE-79","CWE-506"]}}"#,
                AdvisoryKind::Malicious,
                Some("CWE-506"),
                &["CWE-79", "CWE-506"],
            ),
            (
                r#"{"id":"GHSA-z","database_specific":{"type":"MALWARE","cwe_ids":["CWE-912"]}}"#,
                AdvisoryKind::Malicious,
                Some("GHSA malware"),
                &["CWE-506", "CWE-912"],
            ),
            (
                r#"{"id":"OSV-1","database_specific":{"malicious-packages-origins":[{"source":"ghsa-malware"}]}}"#,
                AdvisoryKind::Malicious,
                Some("GHSA malware"),
                &["CWE-506"],
            ),
            (
                r#"{"id":"GHSA-v","database_specific":{"cwe_ids":["CWE-79", "cwe-79", "79", "junk", 5]}}"#,
                AdvisoryKind::Vulnerability,
                None,
                &["CWE-79"],
            ),
            (
                r#"{"id":"CVE-2021-44228","database_specific":null}"#,
                AdvisoryKind::Vulnerability,
                None,
                &[],
            ),
        ];
        for (json, kind, because, cwes) in cases {
            let c = classify(&record(json));
            assert_eq!(c.kind, *kind, "{json}");
            assert_eq!(c.malicious_because, *because, "{json}");
            assert_eq!(c.cwes, *cwes, "{json}");
        }
    }

    #[test]
    fn severity_prefers_the_highest_computable_score() {
        let r = record(
            r#"{"id":"GHSA-a","severity":[
                {"type":"CVSS_V4","score":"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"},
                {"type":"CVSS_V3","score":"CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N"}],
              "affected":[{"severity":[{"type":"CVSS_V3","score":"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}]}]}"#,
        );
        let s = classify(&r).severity.expect("severity");
        assert_eq!(s.score, Some(9.8));
        assert_eq!(s.rating, Some(Rating::Critical));

        let v4_only = record(
            r#"{"id":"GHSA-b","severity":[{"type":"CVSS_V4","score":"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"}],
               "database_specific":{"severity":"HIGH"}}"#,
        );
        let s = classify(&v4_only).severity.expect("severity");
        assert_eq!((s.score, s.rating), (None, Some(Rating::High)));
        assert!(s.vector.starts_with("CVSS:4.0/"));

        let label = record(r#"{"id":"GHSA-c","database_specific":{"severity":"MODERATE"}}"#);
        assert_eq!(
            classify(&label).severity.and_then(|s| s.rating),
            Some(Rating::Medium)
        );
    }

    #[test]
    fn keeps_iocs() {
        let r = record(
            r#"{"id":"MAL-1","database_specific":{"iocs":{"urls":["https://evil.example/x"],"domains":["evil.example"],"ips":[1, "192.0.2.1"],"odd":{}}}}"#,
        );
        let iocs = classify(&r).iocs;
        assert_eq!(iocs.get("urls").map(Vec::len), Some(1));
        assert_eq!(iocs.get("ips").cloned(), Some(vec!["192.0.2.1".to_owned()]));
        assert!(!iocs.contains_key("odd"));
    }
}
