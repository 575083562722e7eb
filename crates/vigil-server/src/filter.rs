//! Workflow trigger filters and owner `match` rules in the real query language: vigil-workflow's
//! [`FilterCompiler`] seam implemented with [`vigil_query::Predicate`] over the
//! `security.events` object, so a filter means exactly what the same expression means in
//! `vigil query 'fetch security.events | filter …'`.

use vigil_query::{Predicate, catalog};
use vigil_workflow::{FilterCompiler, FilterError, TriggerFilter};

/// Compiles filters as `security.events` predicates.
#[derive(Clone, Copy, Debug, Default)]
pub struct QueryFilters;

#[derive(Debug)]
struct EventPredicate(Predicate);

impl TriggerFilter for EventPredicate {
    fn matches(&self, event: &serde_json::Value) -> bool {
        let now = vigil_store::Timestamp::now().unix_nanos();
        // A runtime error (an overflow in arithmetic) is "unknown": the event does not match.
        self.0.matches(event, now).unwrap_or(false)
    }
}

impl FilterCompiler for QueryFilters {
    fn compile(&self, source: &str) -> Result<Box<dyn TriggerFilter>, FilterError> {
        match Predicate::new(source, &catalog::SECURITY_EVENTS) {
            Ok(p) => Ok(Box::new(EventPredicate(p))),
            Err(e) => Err(FilterError {
                message: e.message,
                span: e.span.start..e.span.end,
                hint: e.hint,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn product_filters_compile_and_match() {
        let cases: &[(&str, serde_json::Value, bool)] = &[
            (
                r#"event.type == "VULNERABILITY_FINDING" and in("CWE-506", vulnerability.references.cwe) and finding.status == "NEW""#,
                json!({"event.type": "VULNERABILITY_FINDING", "vulnerability.references.cwe": ["CWE-506"], "finding.status": "NEW"}),
                true,
            ),
            (
                r#"k8s.namespace.name == "payments" or startsWith(host.name, "pay-")"#,
                json!({"host.name": "pay-db-1"}),
                true,
            ),
            (
                r#"vulnerability.risk.score >= 9"#,
                json!({"vulnerability.risk.score": 7.5}),
                false,
            ),
            (r#"isNull(container.id)"#, json!({}), true),
        ];
        for (src, event, want) in cases {
            let f = QueryFilters.compile(src).unwrap();
            assert_eq!(f.matches(event), *want, "{src}");
        }
    }

    #[test]
    fn errors_point_at_the_span_with_a_hint() {
        let err = QueryFilters.compile(r#"hostname == "x""#).err().unwrap();
        assert_eq!(err.span, 0..8);
        assert_eq!(err.hint.as_deref(), Some("did you mean `host.name`?"));
    }
}
