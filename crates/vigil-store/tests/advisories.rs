//! Advisories and blobs.

mod common;

use common::at;
use vigil_core::Ecosystem;
use vigil_core::osv::OsvRecord;
use vigil_store::{AdvisoryInput, AdvisoryKind, PackageKey, SqlValue};

fn record(id: &str, modified: &str, packages: &[(&str, &str)]) -> OsvRecord {
    let affected: Vec<_> = packages
        .iter()
        .map(|(eco, name)| {
            serde_json::json!({
                "package": {"ecosystem": eco, "name": name},
                "versions": ["1.0.0", "1.0.1"],
            })
        })
        .collect();
    serde_json::from_value(serde_json::json!({
        "id": id,
        "modified": modified,
        "published": "2025-09-15T10:00:00Z",
        "aliases": ["GHSA-aaaa-bbbb-cccc"],
        "summary": format!("Malicious code in {}", packages.first().map_or("", |p| p.1)),
        "affected": affected,
    }))
    .expect("valid OSV record")
}

fn input(record: &OsvRecord) -> AdvisoryInput<'_> {
    AdvisoryInput {
        record,
        kind: AdvisoryKind::Malicious,
        cwes: vec!["CWE-506".into()],
        severity: Some("10.0 CRITICAL".into()),
        source: "ossf-malicious".into(),
    }
}

#[test]
fn put_advisories_reports_inserted_updated_unchanged() {
    common::each(|_db, store| {
        let a = record(
            "MAL-1",
            "2025-09-16T00:00:00Z",
            &[("npm", "@ctrl/tinycolor")],
        );
        let b = record(
            "MAL-2",
            "2025-09-16T00:00:00Z",
            &[("PyPI", "Evil_Pkg"), ("npm", "evil")],
        );
        let first = store
            .put_advisories(&[input(&a), input(&b)], at(0))
            .unwrap();
        assert_eq!(first.inserted, vec!["MAL-1", "MAL-2"]);

        let a2 = record(
            "MAL-1",
            "2025-09-17T00:00:00Z",
            &[("npm", "@ctrl/tinycolor")],
        );
        let second = store
            .put_advisories(&[input(&a2), input(&b)], at(10))
            .unwrap();
        assert_eq!(second.updated, vec!["MAL-1"]);
        assert_eq!(second.unchanged, 1);
        assert!(second.inserted.is_empty());

        let stored = store.advisory("MAL-1").unwrap().unwrap();
        assert_eq!(stored.record, a2);
        assert_eq!(stored.kind, AdvisoryKind::Malicious);
        assert_eq!((stored.imported_at, stored.updated_at), (at(0), at(10)));
        assert!(store.advisory("MAL-404").unwrap().is_none());

        let key = PackageKey::new(Ecosystem::parse("PyPI"), "evil-pkg");
        assert_eq!(store.advisory_ids_for_keys(&[key]).unwrap(), vec!["MAL-2"]);
        let mut seen = Vec::new();
        store
            .for_each_advisory(|a| {
                seen.push(a.record.id);
                Ok(())
            })
            .unwrap();
        assert_eq!(seen, ["MAL-1", "MAL-2"]);

        let rows = store
            .query(
                r#"SELECT "id", "ecosystem", "name", "cwes", "kind", "modified", "versions"
               FROM q_advisories ORDER BY "id", "name""#,
                &[],
                10,
            )
            .unwrap();
        assert_eq!(rows.rows.len(), 3);
        assert_eq!(rows.rows[0][3], SqlValue::Text(r#"["CWE-506"]"#.into()));
        assert_eq!(
            rows.rows[0][5],
            SqlValue::Integer(
                vigil_store::Timestamp::parse_rfc3339("2025-09-17T00:00:00Z")
                    .unwrap()
                    .unix_nanos()
            )
        );
        assert_eq!(rows.rows[1][2], SqlValue::Text("Evil_Pkg".into()));
        assert_eq!(
            rows.rows[1][6],
            SqlValue::Text(r#"["1.0.0","1.0.1"]"#.into())
        );
    });
}

/// An advisory that vanishes from the intel stays for its findings, out of the current set;
/// putting it again makes it current.
#[test]
fn removed_advisories_leave_the_current_set_and_come_back() {
    common::each(|_db, store| {
        let a = record("MAL-1", "2025-09-16T00:00:00Z", &[("npm", "evil")]);
        let b = record("MAL-2", "2025-09-16T00:00:00Z", &[("npm", "evil")]);
        store
            .put_advisories(&[input(&a), input(&b)], at(0))
            .unwrap();
        let key = PackageKey::new(Ecosystem::parse("npm"), "evil");
        let listed = |store: &vigil_store::Store| -> Vec<SqlValue> {
            store
                .query(r#"SELECT "id" FROM q_advisories ORDER BY "id""#, &[], 10)
                .unwrap()
                .rows
                .into_iter()
                .map(|r| r[0].clone())
                .collect()
        };

        let removed = store
            .write(|tx| tx.remove_advisories(&["MAL-1".into(), "MAL-404".into()], at(5)))
            .unwrap();
        assert_eq!(removed, ["MAL-1"]);
        // Twice: nothing more to mark.
        let again = store
            .write(|tx| tx.remove_advisories(&["MAL-1".into()], at(6)))
            .unwrap();
        assert!(again.is_empty());
        assert_eq!(
            store.write(|tx| tx.current_advisory_ids()).unwrap(),
            ["MAL-2"]
        );
        assert_eq!(
            store
                .advisory_ids_for_keys(std::slice::from_ref(&key))
                .unwrap(),
            ["MAL-2"]
        );
        assert_eq!(listed(&store), [SqlValue::Text("MAL-2".into())]);
        let kept = store.advisory("MAL-1").unwrap().unwrap();
        assert_eq!(kept.removed_at, Some(at(5)));

        // Back, unchanged: current again, and reported as a change (it must be matched).
        let back = store.put_advisories(&[input(&a)], at(9)).unwrap();
        assert_eq!(
            (back.inserted.len() + back.updated.len(), back.unchanged),
            (1, 0)
        );
        assert_eq!(store.advisory("MAL-1").unwrap().unwrap().removed_at, None);
        assert_eq!(
            store.advisory_ids_for_keys(&[key]).unwrap(),
            ["MAL-1", "MAL-2"]
        );
        assert_eq!(listed(&store).len(), 2);
    });
}

#[test]
fn blobs_round_trip() {
    common::each(|_db, store| {
        assert!(store.get_blob("matcher/ossf").unwrap().is_none());
        let bytes: Vec<u8> = (0..=255u8).cycle().take(100_000).collect();
        store.put_blob("matcher/ossf", &bytes, at(1)).unwrap();
        store.put_blob("matcher/ossf", &bytes[..10], at(2)).unwrap();
        let blob = store.get_blob("matcher/ossf").unwrap().unwrap();
        assert_eq!(blob.bytes, &bytes[..10]);
        assert_eq!(blob.updated_at, at(2));
        store.put_blob("empty", &[], at(3)).unwrap();
        assert_eq!(
            store.get_blob("empty").unwrap().unwrap().bytes,
            Vec::<u8>::new()
        );
        assert!(store.delete_blob("empty").unwrap());
        assert!(!store.delete_blob("empty").unwrap());
    });
}
