//! # vigil-server
//!
//! The continuously running half of vigil: the HTTP API agents report to and people query,
//! the detection engine that turns snapshots and intel changes into findings, the finding
//! lifecycle with its append-only security events, and the metrics that say how fast all of
//! that is.
//!
//! ```text
//! agent snapshot ─► snapshot (decode, validate) ─► engine::Detector::ingest ─┐
//! intel import / sync ─► intel::IntelState (diff) ─► Detector::use_index ────┤ one transaction each:
//!                                                                            ▼ finding + event + outbox
//!                         vigil-workflow Dispatcher ◄── outbox::StoreOutbox ◄── store
//! ```
//!
//! Where to start reading: [`engine`] (what is detected when, and the transaction boundaries),
//! then [`api`] (routes, scopes), [`snapshot`] (the wire format, documented for agent authors
//! in `docs/agent-api.md`), [`service`] (how `vigil serve` / `vigil up` wire it all).
//!
//! What does **not** live here: matching itself (`vigil-intel`'s index), persistence
//! (`vigil-store`), the query language (`vigil-query`), delivering notifications
//! (`vigil-workflow`), walking disks (`vigil-inventory`). This crate decides *when*: when a
//! finding is created, re-opened or resolved, and what event that is.

pub mod agent;
pub mod api;
pub mod client;
pub mod config;
pub mod engine;
pub mod event;
pub mod filter;
pub mod intel;
pub mod lifecycle;
pub mod metrics;
pub mod mttx;
pub mod outbox;
pub mod query;
pub mod remote;
pub mod save;
pub mod service;
pub mod snapshot;

pub use engine::{DetectionSettings, Detector, FindingChanges, IngestReport, IntelReport};
pub use filter::QueryFilters;
pub use lifecycle::{Lifecycle, LifecycleError, StatusAction};
pub use outbox::StoreOutbox;
