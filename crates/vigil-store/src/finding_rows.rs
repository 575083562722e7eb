//! Findings as both backends store them: the entity and status columns, the checked and
//! encoded columns of an upsert, when a status change writes nothing, and the errors when a
//! finding cannot be read back. `sqlite/findings.rs` and `postgres/findings.rs` keep the SQL
//! and the row reading; what is decided about the values is decided here, once.

use crate::codec::{bad_value, normalize_pids, to_json};
use crate::error::{Result, StoreError};
use crate::finding::{Entity, FindingId, FindingInput, FindingRecord, FindingStatus};
use crate::inventory::{ContainerKey, HostId};

/// An entity's `(entity_type, entity_id)` columns.
pub(crate) fn entity_columns(entity: Entity) -> (&'static str, i64) {
    match entity {
        Entity::Host(HostId(id)) | Entity::Container(ContainerKey(id)) => (entity.type_name(), id),
    }
}

/// The entity of finding `finding` from its `(entity_type, entity_id)` columns.
pub(crate) fn entity_from(finding: i64, entity_type: &str, entity_id: i64) -> Result<Entity> {
    match entity_type {
        "host" => Ok(Entity::Host(HostId(entity_id))),
        "container" => Ok(Entity::Container(ContainerKey(entity_id))),
        other => Err(bad_value(
            "findings",
            "entity_type",
            finding,
            format!("unknown entity type {other:?}"),
        )),
    }
}

/// The status of finding `finding` from its column.
pub(crate) fn status_from(finding: i64, text: &str) -> Result<FindingStatus> {
    FindingStatus::parse(text).ok_or_else(|| {
        bad_value(
            "findings",
            "status",
            finding,
            format!("unknown status {text:?}"),
        )
    })
}

/// Refuses a risk score the columns cannot order or compare (NaN, infinities).
pub(crate) fn check_risk_score(input: &FindingInput) -> Result<()> {
    if input.risk_score.is_finite() {
        return Ok(());
    }
    Err(StoreError::InvalidInput {
        what: "risk score",
        reason: format!("{} is not a finite number", input.risk_score),
    })
}

/// The columns an upsert writes that are not the input's plain values.
pub(crate) struct UpsertColumns {
    pub(crate) entity_type: &'static str,
    pub(crate) entity_id: i64,
    /// JSON array.
    pub(crate) aliases: String,
    /// JSON array.
    pub(crate) locations: String,
    /// JSON array, sorted and unique.
    pub(crate) pids: String,
}

impl UpsertColumns {
    /// The columns of `input`.
    pub(crate) fn of(input: &FindingInput) -> Result<UpsertColumns> {
        let (entity_type, entity_id) = entity_columns(input.entity);
        Ok(UpsertColumns {
            entity_type,
            entity_id,
            aliases: to_json("finding aliases", &input.aliases)?,
            locations: to_json("finding locations", &input.locations)?,
            pids: to_json("finding pids", &normalize_pids(&input.pids))?,
        })
    }

    /// The error when the finding just upserted cannot be read back.
    pub(crate) fn missing(&self, input: &FindingInput) -> StoreError {
        StoreError::NotFound {
            what: "finding",
            id: format!(
                "{} × {} × {} {}",
                input.advisory_id, input.component_id.0, self.entity_type, self.entity_id
            ),
        }
    }
}

/// Whether setting `status` (and `mute_reason`) on `before` changes nothing: the same status,
/// and for `MUTED` the same reason. Such a change writes nothing.
pub(crate) fn sets_nothing(
    before: &FindingRecord,
    status: FindingStatus,
    mute_reason: Option<&str>,
) -> bool {
    before.status == status
        && (status != FindingStatus::Muted || before.mute_reason.as_deref() == mute_reason)
}

/// The error when finding `id` cannot be read back after its status changed.
pub(crate) fn missing_after_update(id: FindingId) -> StoreError {
    StoreError::NotFound {
        what: "finding",
        id: id.0.to_string(),
    }
}
