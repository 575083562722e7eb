//! `query`: runs a query-language pipeline and attaches its records to the finding as
//! evidence (the task's result; later tasks see it as `tasks.NAME.records`).
//!
//! The query is a template in the query flavor: every value inserted from the event becomes a
//! quoted literal (`filter name == {{ event['component.name'] }}` renders
//! `filter name == "debug"`), so a package called `x" or true or "` stays a string.
//! Running is the [`QueryRunner`](super::QueryRunner) seam's job.
//!
//! ```toml
//! { action = "query", query = 'fetch software_components | filter name == {{ event["component.name"] }} | limit 100' }
//! ```

use serde::Deserialize;
use serde_json::{Value, json};

use super::TaskRun;
use crate::config::Builder;
use crate::error::ActionError;
use crate::template::{Flavor, TemplateRef};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    query: String,
    #[serde(default = "default_max")]
    max_records: usize,
}

fn default_max() -> usize {
    100
}

/// A configured query.
#[derive(Debug)]
pub struct QueryAction {
    query: TemplateRef,
    max_records: usize,
}

impl QueryAction {
    pub(crate) fn build(
        b: &mut Builder<'_>,
        value: toml::Value,
        path: &str,
    ) -> Option<QueryAction> {
        let raw: Raw = b.deserialize(value, path)?;
        if raw.max_records == 0 || raw.max_records > 10_000 {
            b.error(format!("{path}.max_records"), "must be between 1 and 10000");
        }
        let query = b.template(&raw.query, &format!("{path}.query"), Flavor::Query)?;
        Some(QueryAction {
            query,
            max_records: raw.max_records,
        })
    }

    pub(crate) async fn run(&self, run: &TaskRun<'_>) -> Result<Value, ActionError> {
        let runner =
            run.services.query.as_ref().ok_or_else(|| {
                ActionError::permanent("no query runner is wired into this process")
            })?;
        let query = run.render(&self.query)?;
        let mut records = runner
            .run(&query)
            .await
            .map_err(|e| ActionError::permanent(format!("query: {e}")))?;
        let truncated = records.len() > self.max_records;
        records.truncate(self.max_records);
        Ok(json!({ "query": query, "records": records, "truncated": truncated }))
    }
}
