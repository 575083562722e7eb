//! Findings: one advisory × one component × one entity (a host, or a container on it).
//!
//! The store keeps findings unique on that triple and records status changes with their
//! timestamps; *when* a finding is created, re-opened or resolved is the detection engine's
//! decision, not the store's.

use vigil_core::{Component, Evidence};

use crate::inventory::{ComponentId, ContainerKey, ContainerSummary, HostId};
use crate::time::Timestamp;

/// A finding's row id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FindingId(pub i64);

/// Where a finding is: a host (instances on the host itself) or a container.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Entity {
    /// Instances outside any container on this host.
    Host(HostId),
    /// Instances inside this container.
    Container(ContainerKey),
}

impl Entity {
    /// `host` or `container`, as in `affected_entity.type`.
    pub fn type_name(self) -> &'static str {
        match self {
            Entity::Host(_) => "host",
            Entity::Container(_) => "container",
        }
    }
}

/// A finding's lifecycle status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FindingStatus {
    /// Detected, nobody has looked yet.
    New,
    /// Someone is on it.
    Acknowledged,
    /// Fixed or gone.
    Resolved,
    /// Accepted, with a reason.
    Muted,
}

impl FindingStatus {
    /// Every status.
    pub const ALL: [FindingStatus; 4] = [
        FindingStatus::New,
        FindingStatus::Acknowledged,
        FindingStatus::Resolved,
        FindingStatus::Muted,
    ];

    /// `NEW`, `ACKNOWLEDGED`, `RESOLVED`, `MUTED`.
    pub fn as_str(self) -> &'static str {
        match self {
            FindingStatus::New => "NEW",
            FindingStatus::Acknowledged => "ACKNOWLEDGED",
            FindingStatus::Resolved => "RESOLVED",
            FindingStatus::Muted => "MUTED",
        }
    }

    /// The status spelled `text`.
    pub fn parse(text: &str) -> Option<FindingStatus> {
        FindingStatus::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

/// What the detection engine knows about a finding. Creating one sets status `NEW` and
/// `detected_at`; updating one refreshes everything here and leaves status alone.
#[derive(Clone, Debug, PartialEq)]
pub struct FindingInput {
    /// The advisory id.
    pub advisory_id: String,
    /// The advisory's aliases.
    pub aliases: Vec<String>,
    /// The component.
    pub component_id: ComponentId,
    /// Where.
    pub entity: Entity,
    /// Risk score, 0–10.
    pub risk_score: f64,
    /// Risk level (`CRITICAL`, `HIGH`, …).
    pub risk_level: String,
    /// The strongest evidence among its instances.
    pub evidence: Evidence,
    /// The paths of its instances.
    pub locations: Vec<String>,
    /// The processes loading it.
    pub pids: Vec<u32>,
}

/// A finding as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct FindingRecord {
    /// Row id.
    pub id: FindingId,
    /// The advisory id.
    pub advisory_id: String,
    /// The advisory's aliases.
    pub aliases: Vec<String>,
    /// The component's row id.
    pub component_id: ComponentId,
    /// The component.
    pub component: Component,
    /// Its purl.
    pub purl: String,
    /// Where.
    pub entity: Entity,
    /// The host (the container's host for a container finding).
    pub host_id: HostId,
    /// The host's name.
    pub host_name: String,
    /// The container, for a container finding.
    pub container: Option<ContainerSummary>,
    /// Status.
    pub status: FindingStatus,
    /// Why it is muted.
    pub mute_reason: Option<String>,
    /// Risk score, 0–10.
    pub risk_score: f64,
    /// Risk level.
    pub risk_level: String,
    /// Strongest evidence.
    pub evidence: Evidence,
    /// Paths.
    pub locations: Vec<String>,
    /// Loading processes.
    pub pids: Vec<u32>,
    /// The owning team, once assigned.
    pub owner_team: Option<String>,
    /// When it was first detected.
    pub detected_at: Timestamp,
    /// When it last became `ACKNOWLEDGED` in its current cycle.
    pub acknowledged_at: Option<Timestamp>,
    /// When it last became `RESOLVED` in its current cycle.
    pub resolved_at: Option<Timestamp>,
    /// Last change of any kind.
    pub updated_at: Timestamp,
}

/// The result of [`crate::WriteTx::upsert_finding`].
#[derive(Clone, Debug, PartialEq)]
pub struct FindingUpsert {
    /// A new finding (status `NEW`) rather than an update of an existing one.
    pub created: bool,
    /// The finding after the write; for an update its status is unchanged, so a `RESOLVED`
    /// finding whose component is back tells the engine to re-open it.
    pub finding: FindingRecord,
}

/// The result of [`crate::WriteTx::set_finding_status`].
#[derive(Clone, Debug, PartialEq)]
pub struct StatusChange {
    /// The status before.
    pub previous: FindingStatus,
    /// The finding after (unchanged when `previous` equals the requested status).
    pub finding: FindingRecord,
}

impl StatusChange {
    /// Whether the status actually changed.
    pub fn changed(&self) -> bool {
        self.previous != self.finding.status
    }
}

/// Which findings [`crate::Store::list_findings`] returns, in id order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FindingFilter {
    /// Only these statuses (all when empty).
    pub statuses: Vec<FindingStatus>,
    /// Only on this host (by name).
    pub host_name: Option<String>,
    /// Only this advisory.
    pub advisory_id: Option<String>,
    /// Only ids greater than this (paging).
    pub after: Option<FindingId>,
    /// At most this many.
    pub limit: usize,
}

impl Default for FindingFilter {
    fn default() -> Self {
        FindingFilter {
            statuses: Vec::new(),
            host_name: None,
            advisory_id: None,
            after: None,
            limit: 1000,
        }
    }
}

/// The instants a finding's time-to-detect, -acknowledge and -resolve are computed from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FindingTiming {
    /// The finding.
    pub id: FindingId,
    /// Its status now.
    pub status: FindingStatus,
    /// When it was first detected.
    pub detected_at: Timestamp,
    /// When it last became `ACKNOWLEDGED` (in its current cycle).
    pub acknowledged_at: Option<Timestamp>,
    /// When it last became `RESOLVED` (in its current cycle).
    pub resolved_at: Option<Timestamp>,
    /// The earliest first sighting of any of its instances (present or gone).
    pub first_seen: Option<Timestamp>,
    /// Its advisory's publication time, when the store knows the advisory and it says.
    pub advisory_published: Option<Timestamp>,
}
