//! The catalogue: which data objects a query can `fetch`, their fields and types — and so the
//! contract with the store.
//!
//! # The SQL view contract
//!
//! For every [`DataObject`] the store provides one SQL view named [`DataObject::view`]
//! (`q_software_components`, `q_security_events`, …) whose columns are named exactly like the
//! fields (`"k8s.namespace.name"`, quoted) and encoded per [`FieldType`]:
//!
//! | field type | SQLite column | PostgreSQL column |
//! |---|---|---|
//! | `string` | `TEXT` | `text` |
//! | `long` | `INTEGER` | `bigint` |
//! | `double` | `REAL` | `double precision` |
//! | `boolean` | `INTEGER` 0/1 | `boolean` |
//! | `timestamp` | `INTEGER` ns since epoch, UTC | `bigint` ns since epoch, UTC |
//! | `array<…>` | `TEXT` holding a JSON array | `jsonb` array |
//!
//! Absent values are SQL `NULL`. Columns may appear in any order and extra columns are
//! ignored; a missing column makes the query fail in the store. The compiler only ever names
//! these views and columns (quoted), never anything user-written. An object with a
//! [`Narrowing`] also needs its view and key column (`q_components`, `"$component"`).
//!
//! Timestamps are integers so both databases and the in-memory evaluator do the same exact
//! arithmetic (`last_seen > now() - 2h`); a PostgreSQL store keeping `timestamptz` converts in
//! its view: `(extract(epoch from t) * 1e9)::bigint` (µs precision).

use crate::value::Type;

/// Type of a catalogue field (a `const`-friendly subset of [`Type`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldType {
    /// Text.
    String,
    /// Integer.
    Long,
    /// Float.
    Double,
    /// Boolean.
    Bool,
    /// Nanoseconds since the epoch.
    Timestamp,
    /// Array of strings.
    StringArray,
    /// Array of integers.
    LongArray,
}

impl FieldType {
    /// The language type.
    pub fn ty(self) -> Type {
        match self {
            FieldType::String => Type::String,
            FieldType::Long => Type::Long,
            FieldType::Double => Type::Double,
            FieldType::Bool => Type::Bool,
            FieldType::Timestamp => Type::Timestamp,
            FieldType::StringArray => Type::Array(Box::new(Type::String)),
            FieldType::LongArray => Type::Array(Box::new(Type::Long)),
        }
    }

    /// Column type in a SQLite table/view backing this field.
    pub fn sqlite_type(self) -> &'static str {
        match self {
            FieldType::String | FieldType::StringArray | FieldType::LongArray => "TEXT",
            FieldType::Long | FieldType::Bool | FieldType::Timestamp => "INTEGER",
            FieldType::Double => "REAL",
        }
    }

    /// Column type in a PostgreSQL table/view backing this field.
    pub fn postgres_type(self) -> &'static str {
        match self {
            FieldType::String => "text",
            FieldType::Long | FieldType::Timestamp => "bigint",
            FieldType::Double => "double precision",
            FieldType::Bool => "boolean",
            FieldType::StringArray | FieldType::LongArray => "jsonb",
        }
    }
}

/// One field of a data object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Field {
    /// The field (and view column) name.
    pub name: &'static str,
    /// Its type.
    pub ty: FieldType,
}

/// A data object: what `fetch NAME` reads.
#[derive(Debug, PartialEq, Eq)]
pub struct DataObject {
    /// The canonical name (`software_components`).
    pub name: &'static str,
    /// Other names `fetch` accepts (`dt.entity.software_component`).
    pub aliases: &'static [&'static str],
    /// The SQL view the store provides.
    pub view: &'static str,
    /// Fields, in output order.
    pub fields: &'static [Field],
    /// Field aliases: `(alias, field)`, resolved wherever the field is in scope.
    pub field_aliases: &'static [(&'static str, &'static str)],
    /// The fields bounding a record in time, `(start, end)`: `fetch …, from: F, to: T` keeps
    /// records with `end >= F` and `start < T` (the same field twice for point events).
    pub window: (&'static str, &'static str),
    /// Where filters on some fields can run on a smaller relation, if anywhere.
    pub narrowing: Option<Narrowing>,
}

/// A smaller relation for filters on some fields of a data object: component instances
/// (millions) share few components (thousands), so `filter contains(name, "debug")` right
/// after `fetch` runs on the components and selects instances by key through an index.
///
/// The store provides [`Narrowing::view`] with one row per key, the column [`Narrowing::key`]
/// and the [`Narrowing::fields`] encoded like the object's; the object's view carries the same
/// `key` column (an extra column, which no query can name: keys start with `$`). A filter whose
/// predicate reads only these fields keeps exactly the rows whose key the same filter keeps in
/// the smaller view, so the compiler may move it there.
#[derive(Debug, PartialEq, Eq)]
pub struct Narrowing {
    /// The view with one row per key (`q_components`).
    pub view: &'static str,
    /// The key column, in both views.
    pub key: &'static str,
    /// The object's fields the smaller view has.
    pub fields: &'static [&'static str],
}

impl DataObject {
    /// A field by name (aliases not resolved).
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// The field an alias stands for.
    pub fn resolve_alias(&self, name: &str) -> Option<&'static str> {
        self.field_aliases
            .iter()
            .find(|(a, _)| *a == name)
            .map(|(_, f)| *f)
    }

    /// Position of a field.
    pub fn position(&self, name: &str) -> Option<usize> {
        self.fields.iter().position(|f| f.name == name)
    }
}

/// Looks a data object up by name or alias.
pub fn object(name: &str) -> Option<&'static DataObject> {
    OBJECTS
        .iter()
        .copied()
        .find(|o| o.name == name || o.aliases.contains(&name))
}

/// All names `fetch` accepts, for suggestions.
pub fn object_names() -> impl Iterator<Item = &'static str> {
    OBJECTS
        .iter()
        .flat_map(|o| std::iter::once(o.name).chain(o.aliases.iter().copied()))
}

macro_rules! fields {
    ($($name:literal : $ty:ident),* $(,)?) => {
        &[$(Field { name: $name, ty: FieldType::$ty }),*]
    };
}

/// Every data object.
pub static OBJECTS: [&DataObject; 7] = [
    &SOFTWARE_COMPONENTS,
    &HOSTS,
    &CONTAINERS,
    &PROCESSES,
    &ADVISORIES,
    &FINDINGS,
    &SECURITY_EVENTS,
];

/// One row per component instance: a component at a location with its evidence.
pub static SOFTWARE_COMPONENTS: DataObject = DataObject {
    name: "software_components",
    aliases: &["dt.entity.software_component"],
    view: "q_software_components",
    fields: fields![
        "ecosystem": String,
        "name": String,
        "version": String,
        "purl": String,
        "evidence": String,
        "host.name": String,
        "container.id": String,
        "container.image": String,
        "k8s.namespace.name": String,
        "k8s.workload.name": String,
        "path": String,
        "process.pids": LongArray,
        "first_seen": Timestamp,
        "last_seen": Timestamp,
        "dev": Bool,
    ],
    field_aliases: &[
        ("softwareComponentShortName", "name"),
        ("packageName", "name"),
        ("softwareComponentVersion", "version"),
        ("softwareComponentType", "ecosystem"),
    ],
    window: ("first_seen", "last_seen"),
    narrowing: Some(Narrowing {
        view: "q_components",
        key: "$component",
        fields: &["ecosystem", "name", "version", "purl"],
    }),
};

/// One row per host running an agent (or recorded by `vigil scan --save`).
pub static HOSTS: DataObject = DataObject {
    name: "hosts",
    aliases: &["dt.entity.host"],
    view: "q_hosts",
    fields: fields![
        "host.id": String,
        "host.name": String,
        "os.name": String,
        "os.version": String,
        "arch": String,
        "agent.version": String,
        "first_seen": Timestamp,
        "last_seen": Timestamp,
    ],
    field_aliases: &[],
    window: ("first_seen", "last_seen"),
    narrowing: None,
};

/// One row per container seen on a host.
pub static CONTAINERS: DataObject = DataObject {
    name: "containers",
    aliases: &["dt.entity.container"],
    view: "q_containers",
    fields: fields![
        "container.id": String,
        "container.name": String,
        "container.image": String,
        "container.image.digest": String,
        "host.name": String,
        "k8s.namespace.name": String,
        "k8s.pod.name": String,
        "k8s.workload.name": String,
        "k8s.workload.kind": String,
        "first_seen": Timestamp,
        "last_seen": Timestamp,
    ],
    field_aliases: &[],
    window: ("first_seen", "last_seen"),
    narrowing: None,
};

/// One row per process (pid + start time) seen on a host.
pub static PROCESSES: DataObject = DataObject {
    name: "processes",
    aliases: &["dt.entity.process"],
    view: "q_processes",
    fields: fields![
        "process.pid": Long,
        "process.start_time": Timestamp,
        "process.executable": String,
        "process.command_line": String,
        "process.user": String,
        "host.name": String,
        "container.id": String,
        "listening_ports": LongArray,
        "last_seen": Timestamp,
    ],
    field_aliases: &[],
    window: ("process.start_time", "last_seen"),
    narrowing: None,
};

/// One row per advisory × affected package.
pub static ADVISORIES: DataObject = DataObject {
    name: "advisories",
    aliases: &[],
    view: "q_advisories",
    fields: fields![
        "id": String,
        "aliases": StringArray,
        "kind": String,
        "summary": String,
        "cwes": StringArray,
        "severity": String,
        "ecosystem": String,
        "name": String,
        "versions": StringArray,
        "source": String,
        "published": Timestamp,
        "modified": Timestamp,
        "withdrawn": Timestamp,
    ],
    field_aliases: &[],
    window: ("modified", "modified"),
    narrowing: None,
};

/// One row per finding (advisory × component × entity), with its lifecycle.
pub static FINDINGS: DataObject = DataObject {
    name: "findings",
    aliases: &[],
    view: "q_findings",
    fields: fields![
        "finding.id": String,
        "finding.status": String,
        "finding.mute_reason": String,
        "vulnerability.id": String,
        "vulnerability.aliases": StringArray,
        "vulnerability.kind": String,
        "vulnerability.title": String,
        "vulnerability.references.cwe": StringArray,
        "vulnerability.risk.score": Double,
        "vulnerability.risk.level": String,
        "component.ecosystem": String,
        "component.name": String,
        "component.version": String,
        "component.purl": String,
        "evidence": String,
        "affected_entity.id": String,
        "affected_entity.type": String,
        "affected_entity.name": String,
        "host.name": String,
        "container.id": String,
        "container.image": String,
        "k8s.namespace.name": String,
        "k8s.workload.name": String,
        "process.pids": LongArray,
        "locations": StringArray,
        "owner.team": String,
        "detected_at": Timestamp,
        "acknowledged_at": Timestamp,
        "resolved_at": Timestamp,
    ],
    field_aliases: &[],
    window: ("detected_at", "detected_at"),
    narrowing: None,
};

/// The append-only security event log (finding creations and status changes), PRODUCT.md §5.
pub static SECURITY_EVENTS: DataObject = DataObject {
    name: "security.events",
    aliases: &["events"],
    view: "q_security_events",
    fields: fields![
        "timestamp": Timestamp,
        "event.id": String,
        "event.type": String,
        "finding.id": String,
        "finding.status": String,
        "vulnerability.id": String,
        "vulnerability.aliases": StringArray,
        "vulnerability.kind": String,
        "vulnerability.title": String,
        "vulnerability.references.cwe": StringArray,
        "vulnerability.risk.score": Double,
        "vulnerability.risk.level": String,
        "component.ecosystem": String,
        "component.name": String,
        "component.version": String,
        "component.purl": String,
        "evidence": String,
        "affected_entity.id": String,
        "affected_entity.type": String,
        "affected_entity.name": String,
        "host.name": String,
        "container.id": String,
        "container.image": String,
        "k8s.namespace.name": String,
        "k8s.workload.name": String,
        "process.pids": LongArray,
        "locations": StringArray,
        "owner.team": String,
    ],
    field_aliases: &[],
    window: ("timestamp", "timestamp"),
    narrowing: None,
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogue_is_consistent() {
        let mut names = std::collections::HashSet::new();
        for o in OBJECTS {
            assert!(object(o.name).is_some_and(|x| std::ptr::eq(x, o)));
            for a in o.aliases {
                assert!(names.insert(*a), "duplicate object name {a}");
            }
            assert!(names.insert(o.name));
            let mut fields = std::collections::HashSet::new();
            for f in o.fields {
                assert!(
                    fields.insert(f.name),
                    "{}: duplicate field {}",
                    o.name,
                    f.name
                );
                assert!(!f.name.contains('"'));
            }
            for (alias, target) in o.field_aliases {
                assert!(o.field(target).is_some(), "{alias} → {target}");
                assert!(o.field(alias).is_none());
            }
            assert_eq!(
                o.field(o.window.0).map(|f| f.ty),
                Some(FieldType::Timestamp)
            );
            assert_eq!(
                o.field(o.window.1).map(|f| f.ty),
                Some(FieldType::Timestamp)
            );
            assert!(o.view.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'));
        }
        assert_eq!(
            object("dt.entity.software_component").map(|o| o.name),
            Some("software_components")
        );
    }

    #[test]
    fn security_events_have_the_product_fields() {
        for f in [
            "timestamp",
            "event.id",
            "event.type",
            "finding.id",
            "finding.status",
            "vulnerability.id",
            "vulnerability.aliases",
            "vulnerability.kind",
            "vulnerability.title",
            "vulnerability.references.cwe",
            "vulnerability.risk.score",
            "vulnerability.risk.level",
            "component.ecosystem",
            "component.name",
            "component.version",
            "component.purl",
            "evidence",
            "affected_entity.id",
            "affected_entity.type",
            "affected_entity.name",
            "host.name",
            "container.id",
            "container.image",
            "k8s.namespace.name",
            "k8s.workload.name",
            "process.pids",
            "locations",
            "owner.team",
        ] {
            assert!(SECURITY_EVENTS.field(f).is_some(), "{f}");
        }
    }
}
