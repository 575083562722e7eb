//! The schema migrations of both backends, listed once: a version and a name mean the same
//! step on SQLite and on PostgreSQL, each with the SQL of its dialect
//! (`migrations/sqlite/`, `migrations/postgres/`). The backends apply them their own way
//! (`sqlite/mod.rs`, `postgres/mod.rs`); which ones a schema still needs is decided here.

use std::path::Path;

use crate::error::{Result, StoreError};

/// One schema migration: applied in order, each in its own transaction.
pub(crate) struct Migration {
    pub(crate) version: i64,
    pub(crate) name: &'static str,
    pub(crate) sql: &'static str,
}

/// Both dialects' lists from one list of (version, name, file), so neither can gain or lose a
/// step alone.
macro_rules! migrations {
    ($($version:literal $name:literal $file:literal;)*) => {
        /// Every SQLite migration, oldest first.
        pub(crate) const SQLITE: &[Migration] = &[$(
            Migration {
                version: $version,
                name: $name,
                sql: include_str!(concat!("../migrations/sqlite/", $file)),
            },
        )*];

        /// Every PostgreSQL migration, oldest first.
        pub(crate) const POSTGRES: &[Migration] = &[$(
            Migration {
                version: $version,
                name: $name,
                sql: include_str!(concat!("../migrations/postgres/", $file)),
            },
        )*];
    };
}

// Append only: a released migration never changes.
migrations! {
    1 "schema" "0001_schema.sql";
    2 "query_views" "0002_query_views.sql";
    3 "outbox_dependencies" "0003_outbox_dependencies.sql";
    4 "query_scale" "0004_query_scale.sql";
    5 "advisory_removal" "0005_advisory_removal.sql";
}

/// The newest schema version this build knows.
pub(crate) fn latest_version() -> i64 {
    SQLITE.last().map_or(0, |m| m.version)
}

/// The migrations of `all` a schema at version `found` still needs, oldest first. A schema
/// from a newer build (at `path`) is refused.
pub(crate) fn pending(
    all: &'static [Migration],
    found: i64,
    path: &Path,
) -> Result<impl Iterator<Item = &'static Migration> + use<>> {
    let supported = latest_version();
    if found > supported {
        return Err(StoreError::SchemaTooNew {
            path: path.to_path_buf(),
            found,
            supported,
        });
    }
    Ok(all.iter().filter(move |m| m.version > found))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_numbered_in_order_and_named_uniquely() {
        for list in [SQLITE, POSTGRES] {
            for (i, m) in list.iter().enumerate() {
                assert_eq!(m.version, i as i64 + 1, "{}", m.name);
                assert!(!m.sql.trim().is_empty(), "{}", m.name);
                assert_eq!(list.iter().filter(|o| o.name == m.name).count(), 1);
            }
            assert_eq!(list.last().map(|m| m.version), Some(latest_version()));
        }
    }

    #[test]
    fn a_newer_schema_is_refused() {
        let path = Path::new("store");
        assert_eq!(pending(SQLITE, 0, path).unwrap().count(), SQLITE.len());
        assert_eq!(
            pending(POSTGRES, 2, path).unwrap().next().unwrap().version,
            3
        );
        assert_eq!(pending(SQLITE, latest_version(), path).unwrap().count(), 0);
        assert!(matches!(
            pending(SQLITE, latest_version() + 1, path),
            Err(StoreError::SchemaTooNew { .. })
        ));
    }
}
