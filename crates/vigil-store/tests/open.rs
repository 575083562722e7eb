//! Opening a store: migrations, reopen, refusals with clear errors.

mod common;

use std::io::{Seek, SeekFrom, Write};

use vigil_store::{IntegrityCheck, OpenOptions, Store, StoreError};

#[test]
fn migrates_an_empty_file_and_reopens() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vigil.db");
    let store = Store::open_sqlite(&path, &OpenOptions::default()).unwrap();
    assert_eq!(
        store.schema_version().unwrap(),
        store.supported_schema_version()
    );
    store
        .upsert_host(&common::host("web-1"), common::at(0))
        .unwrap();
    drop(store);

    let store = Store::open_sqlite(&path, &OpenOptions::default()).unwrap();
    assert_eq!(
        store.schema_version().unwrap(),
        store.supported_schema_version()
    );
    assert_eq!(store.hosts().unwrap().len(), 1);
    store.integrity_check().unwrap();

    drop(store);
    let conn = rusqlite::Connection::open(&path).unwrap();
    let journal: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(journal, "wal");
    let app_id: i64 = conn
        .query_row("PRAGMA application_id", [], |r| r.get(0))
        .unwrap();
    assert_eq!(app_id, 0x5649_474C);
}

#[test]
fn every_migration_is_recorded_once() {
    common::each(|_db, store| {
        let rows = store
            .query(
                "SELECT version, name FROM schema_migrations ORDER BY version",
                &[],
                100,
            )
            .unwrap();
        let versions: Vec<_> = rows.rows.iter().map(|r| r[0].clone()).collect();
        assert_eq!(
            versions,
            (1..=store.supported_schema_version())
                .map(vigil_store::SqlValue::Integer)
                .collect::<Vec<_>>()
        );
    });
}

#[test]
fn refuses_a_store_from_a_newer_vigil() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vigil.db");
    drop(Store::open_sqlite(&path, &OpenOptions::default()).unwrap());
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute(
        "INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'future', 0)",
        [],
    )
    .unwrap();
    drop(conn);

    let err = Store::open_sqlite(&path, &OpenOptions::default()).unwrap_err();
    assert!(
        matches!(err, StoreError::SchemaTooNew { found: 999, .. }),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(message.contains("vigil.db"), "{message}");
    assert!(message.contains("999"), "{message}");
    assert!(message.contains("newer"), "{message}");
}

#[test]
fn refuses_a_file_that_is_not_a_database() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.db");
    std::fs::write(&path, "this is not a database, just some text that is long enough to fill a header block........................................").unwrap();
    let err = Store::open_sqlite(&path, &OpenOptions::default()).unwrap_err();
    assert!(matches!(err, StoreError::NotADatabase { .. }), "{err:?}");
    assert!(err.to_string().contains("notes.db"), "{err}");
}

#[test]
fn refuses_a_sqlite_database_of_another_application() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("other.db");
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch("CREATE TABLE notes (body TEXT); INSERT INTO notes VALUES ('hi');")
        .unwrap();
    drop(conn);
    let err = Store::open_sqlite(&path, &OpenOptions::default()).unwrap_err();
    assert!(matches!(err, StoreError::NotADatabase { .. }), "{err:?}");
    // And nothing was added to it.
    let conn = rusqlite::Connection::open(&path).unwrap();
    let tables: i64 = conn
        .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
        .unwrap();
    assert_eq!(tables, 1);
}

#[test]
fn a_corrupted_file_fails_with_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vigil.db");
    {
        let store = Store::open_sqlite(&path, &OpenOptions::default()).unwrap();
        let instances = common::many(500, "1.0.0");
        store
            .apply_snapshot(&common::full("web-1", 1, instances), common::at(0))
            .unwrap();
    }
    // Fold the WAL into the main file so the damage below hits live pages.
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .unwrap();
    drop(conn);
    let len = std::fs::metadata(&path).unwrap().len();
    assert!(len > 16 * 4096, "database unexpectedly small: {len}");
    let mut file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    // Scribble over pages in the middle of the file, sparing the header page.
    for page in [3u64, 5, 8, 13] {
        file.seek(SeekFrom::Start(page * 4096 + 8)).unwrap();
        file.write_all(&[0xA5; 2000]).unwrap();
    }
    drop(file);

    let err = Store::open_sqlite(&path, &OpenOptions::default()).unwrap_err();
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains("vigil.db"), "{message}");
    assert!(message.contains("integrity"), "{message}");

    // Skipping the check opens it (the caller asked for that).
    let skip = OpenOptions {
        integrity_check: IntegrityCheck::Skip,
        ..OpenOptions::default()
    };
    if let Ok(store) = Store::open_sqlite(&path, &skip) {
        assert!(store.integrity_check().is_err());
    }
}

#[test]
fn open_understands_locations() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.db");
    let store = Store::open(&format!("sqlite:{}", path.display())).unwrap();
    assert!(store.location().ends_with("a.db"));
    assert!(path.exists());
    assert_eq!(store.dialect(), vigil_store::Dialect::Sqlite);

    let memory = Store::open("sqlite::memory:").unwrap();
    assert_eq!(memory.location(), ":memory:");
    assert_eq!(
        memory.schema_version().unwrap(),
        memory.supported_schema_version()
    );

    // A PostgreSQL URL selects that backend; nothing listens on port 1. The message names the
    // server, never the password.
    let err = Store::open("postgres://vigil:s3cret@127.0.0.1:1/test").unwrap_err();
    assert!(matches!(err, StoreError::Open { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains("127.0.0.1:1"), "{message}");
    assert!(!message.contains("s3cret"), "{message}");
    assert!(Store::open("postgresql://[::1/x").is_err());
    assert!(Store::open("sqlite:").is_err());
}

#[test]
fn two_stores_open_one_fresh_file_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("race.db");
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let path = path.clone();
            std::thread::spawn(move || {
                Store::open_sqlite(&path, &OpenOptions::default()).map(|_| ())
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap().unwrap();
    }
    let store = Store::open_sqlite(&path, &OpenOptions::default()).unwrap();
    assert_eq!(
        store.schema_version().unwrap(),
        store.supported_schema_version()
    );
}

#[test]
fn several_processes_open_one_fresh_postgres_schema_at_once() {
    let Some(db) = common::TestDb::postgres() else {
        return;
    };
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let location = db.location.clone();
            std::thread::spawn(move || common::open_at(common::Kind::Postgres, &location).map(drop))
        })
        .collect();
    for h in handles {
        h.join().unwrap().unwrap();
    }
    let store = db.open();
    assert_eq!(store.dialect(), vigil_store::Dialect::Postgres);
    assert_eq!(
        store.schema_version().unwrap(),
        store.supported_schema_version()
    );
    store.integrity_check().unwrap();
    assert!(!store.location().contains("password"));
}

#[test]
fn a_postgres_store_reopens_with_its_data() {
    let Some(db) = common::TestDb::postgres() else {
        return;
    };
    let store = db.open();
    store
        .upsert_host(&common::host("web-1"), common::at(0))
        .unwrap();
    drop(store);
    let store = db.open();
    assert_eq!(store.hosts().unwrap().len(), 1);
    assert_eq!(
        store.schema_version().unwrap(),
        store.supported_schema_version()
    );
}

#[test]
fn refuses_a_postgres_schema_from_a_newer_vigil() {
    let Some(db) = common::TestDb::postgres() else {
        return;
    };
    drop(db.open());
    db.raw("INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'future', 0)")
        .unwrap();
    let err = db.try_open().unwrap_err();
    assert!(
        matches!(err, StoreError::SchemaTooNew { found: 999, .. }),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(
        message.contains("999") && message.contains("newer"),
        "{message}"
    );
    assert!(message.contains("127.0.0.1"), "{message}");
}

#[test]
fn refuses_a_postgres_schema_of_another_application() {
    let Some(db) = common::TestDb::postgres() else {
        return;
    };
    db.raw("CREATE TABLE notes (body TEXT); INSERT INTO notes VALUES ('hi')")
        .unwrap();
    let err = db.try_open().unwrap_err();
    assert!(
        matches!(err, StoreError::UnsupportedLocation { .. }),
        "{err:?}"
    );
    // Another tool's `schema_migrations` is not ours either.
    let Some(other) = common::TestDb::postgres() else {
        return;
    };
    other
        .raw("CREATE TABLE schema_migrations (version BIGINT PRIMARY KEY, dirty BOOLEAN)")
        .unwrap();
    let err = other.try_open().unwrap_err();
    assert!(
        matches!(err, StoreError::UnsupportedLocation { .. }),
        "{err:?}"
    );
    // And nothing was added to either.
    db.raw("DO $$ BEGIN IF (SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()) <> 1 THEN RAISE EXCEPTION 'tables added'; END IF; END $$")
        .unwrap();
}

#[test]
fn refuses_a_search_path_naming_no_schema() {
    if !common::pg_available() {
        return;
    }
    let location = common::with_schema(&common::pg_url(), "vigil_no_such_schema_here");
    let err = common::open_at(common::Kind::Postgres, &location).unwrap_err();
    assert!(
        matches!(err, StoreError::UnsupportedLocation { .. }),
        "{err:?}"
    );
}

/// `sslmode=require` connects over TLS, verifying the server's certificate against the
/// `sslrootcert` file, and refuses a certificate it cannot verify. The server under test is
/// `VIGIL_TEST_PG_TLS` (default: the local test server by the name its certificate carries,
/// `localhost`, with Debian's self-signed `ssl-cert-snakeoil` as the root); skipped when that
/// server does not offer TLS.
#[test]
fn sslmode_require_connects_over_verified_tls() {
    if !common::pg_available() {
        return;
    }
    let base = std::env::var("VIGIL_TEST_PG_TLS").unwrap_or_else(|_| {
        "postgres://postgres@localhost:5432/test?sslmode=require&sslrootcert=/etc/ssl/certs/ssl-cert-snakeoil.pem".to_owned()
    });
    const SNAKEOIL: &str = "/etc/ssl/certs/ssl-cert-snakeoil.pem";
    if std::env::var_os("VIGIL_TEST_PG_TLS").is_none() && !std::path::Path::new(SNAKEOIL).exists() {
        eprintln!("SKIPPED: no {SNAKEOIL} to trust (set VIGIL_TEST_PG_TLS)");
        return;
    }
    let mut client = common::pg_client();
    let offers_tls = client
        .query_one("SHOW ssl", &[])
        .is_ok_and(|row| row.get::<_, String>(0) == "on");
    if !offers_tls {
        eprintln!("SKIPPED: the test PostgreSQL offers no TLS (ssl = off)");
        return;
    }
    let schema = format!("vigil_test_tls_{}", std::process::id());
    client
        .batch_execute(&format!(
            "DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"
        ))
        .unwrap();
    let opened = Store::open(&common::with_schema(&base, &schema));
    let tls_in_use = opened.as_ref().ok().map(|store| {
        store
            .query(
                "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
                &[],
                1,
            )
            .map(|rows| format!("{:?}", rows.rows))
    });
    // Without the root, the self-signed certificate is refused (no silent downgrade).
    let untrusted = Store::open(&common::with_schema(
        base.split("&sslrootcert=").next().unwrap_or(&base),
        &schema,
    ));
    let versions = opened
        .as_ref()
        .ok()
        .map(|store| (store.schema_version(), store.supported_schema_version()));
    drop(opened);
    let _ = client.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"));
    let (version, supported) = versions.expect("the store opens over TLS");
    assert_eq!(version.unwrap(), supported);
    let tls = tls_in_use.unwrap().unwrap();
    // The view's boolean comes back as SQLite-style 1 or as true.
    assert!(
        tls == "[[Integer(1)]]" || tls.contains("true"),
        "pg_stat_ssl: {tls}"
    );
    let err = untrusted.unwrap_err().to_string();
    eprintln!("without sslrootcert: {err}");
    assert!(err.contains("certificate"), "{err}");
}
