//! # vigil-workflow
//!
//! What happens after a finding: response workflows. A security event (PRODUCT.md §5, a JSON
//! object with flat dotted keys) is matched against the `[[workflows]]` of the configuration;
//! every matching workflow's tasks are put in a durable outbox, one item per
//! (finding, workflow, task); a dispatcher delivers them — to Slack, Teams, Jira, mail, a
//! signed webhook or a local program — resolves owners, and contains workloads.
//!
//! Where to start reading:
//! - [`config`]: the TOML sections, validated at start with `file: key.path: reason` errors;
//! - [`engine`]: [`plan`]/[`trigger`] (event → outbox items) and the [`Dispatcher`];
//! - [`action`]: one file per action, each speaking its target's real wire format;
//! - [`outbox`]: the [`Outbox`] seam (store-backed in `vigil-store`, [`MemoryOutbox`] here);
//! - [`filter`]: the [`FilterCompiler`] seam through which `vigil-query` evaluates trigger
//!   filters and owner `match` expressions;
//! - [`template`]: minijinja templates with per-sink escaping of inserted values;
//! - [`event`]: reading events and escaping their attacker-controlled strings.
//!
//! Invariants: an event value never reaches a shell, never becomes a program argument, and
//! never enters a structured payload except through serde; the same finding never notifies a
//! sink twice (idempotency keys in the outbox, label search in Jira); secrets are read from
//! the environment when a task runs and never appear in errors.
//!
//! What does **not** live here: parsing the query language (`vigil-query`), storing the outbox
//! (`vigil-store`), deciding when findings change (`vigil-server`).

pub mod action;
pub mod config;
pub mod engine;
pub mod error;
pub mod event;
pub mod filter;
pub mod outbox;
pub mod rate;
pub mod template;

pub use action::{Action, ActionKind, ActionServices, EnvSource, ProcessEnv, QueryRunner, TaskRun};
pub use config::{DeliverySettings, OwnerRule, Task, Workflow, WorkflowSet};
pub use engine::{
    Clock, DispatchReport, Dispatcher, SystemClock, Triggered, plan, thaw_finding, trigger,
};
pub use error::{ActionError, ConfigError, ConfigErrors, OutboxError};
pub use filter::{FilterCompiler, FilterError, StandInFilters, TriggerFilter};
pub use outbox::{ItemStatus, MemoryOutbox, NewItem, Outbox, OutboxItem, Retry, idempotency_key};
