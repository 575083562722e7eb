//! Malformed input: every bad record or entry is a clear error (where and why), and the good
//! records around it are kept. A source that cannot be read at all leaves the previous intel.

use std::io::{Cursor, Write};

use serde_json::{Value, json};
use vigil_core::Ecosystem;
use vigil_intel::import::{self, SourceKind, osv_zip};
use vigil_intel::store::IntelStore;
use vigil_intel::{ImportOptions, Imported};
use zip::write::SimpleFileOptions;

fn good(id: &str, name: &str) -> Value {
    json!({
        "schema_version": "1.5.0",
        "id": id,
        "modified": "2025-01-01T00:00:00Z",
        "published": "2025-01-01T00:00:00Z",
        "aliases": ["GHSA-aaaa-bbbb-cccc"],
        "upstream": [],
        "related": [],
        "summary": "s",
        "details": "d",
        "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
        "affected": [{
            "package": {"ecosystem": "npm", "name": name, "purl": format!("pkg:npm/{name}")},
            "severity": [],
            "ranges": [{"type": "SEMVER", "repo": "https://example.invalid/r",
                        "events": [{"introduced": "1.0.0"}, {"fixed": "1.0.5"}]}],
            "versions": ["1.0.0"],
            "ecosystem_specific": {},
            "database_specific": {"cwes": [{"cweId": "CWE-506"}]}
        }],
        "references": [{"type": "WEB", "url": "https://example.invalid/"}],
        "credits": [{"name": "n", "contact": ["c"], "type": "FINDER"}],
        "database_specific": {"malicious-packages-origins": [], "iocs": {"urls": []}, "cwe_ids": []}
    })
}

/// Sets the value at a path like `affected.0.ranges.0.type`.
fn set(value: &mut Value, path: &str, new: Value) {
    let mut at = value;
    let parts: Vec<&str> = path.split('.').collect();
    for (i, part) in parts.iter().enumerate() {
        let last = i + 1 == parts.len();
        at = match part.parse::<usize>() {
            Ok(n) => &mut at[n],
            Err(_) => &mut at[*part],
        };
        if last {
            *at = new;
            return;
        }
    }
}

/// (field path, wrong value, kept?) — kept: the core accepts anything there (free-form
/// `*_specific` objects, whose malformed parts classification ignores).
const WRONG_TYPES: &[(&str, &str, bool)] = &[
    ("id", "42", false),
    ("schema_version", "1", false),
    ("modified", "1", false),
    ("published", "[]", false),
    ("withdrawn", "{}", false),
    ("aliases", "\"GHSA-x\"", false),
    ("aliases.0", "5", false),
    ("upstream", "5", false),
    ("related", "{}", false),
    ("summary", "5", false),
    ("details", "[]", false),
    ("severity", "\"high\"", false),
    ("severity.0", "1", false),
    ("severity.0.type", "3", false),
    ("severity.0.score", "9.8", false),
    ("affected", "\"npm\"", false),
    ("affected.0", "\"x\"", false),
    ("affected.0.package", "\"debug\"", false),
    ("affected.0.package.ecosystem", "1", false),
    ("affected.0.package.name", "1", false),
    ("affected.0.package.purl", "1", false),
    ("affected.0.severity", "1", false),
    ("affected.0.ranges", "{}", false),
    ("affected.0.ranges.0", "1", false),
    ("affected.0.ranges.0.type", "1", false),
    ("affected.0.ranges.0.repo", "1", false),
    ("affected.0.ranges.0.events", "\"x\"", false),
    ("affected.0.ranges.0.events.0", "1", false),
    ("affected.0.ranges.0.events.0.introduced", "0", false),
    ("affected.0.versions", "\"1.0.0\"", false),
    ("affected.0.versions.0", "1.0", false),
    ("affected.0.ecosystem_specific", "1", true),
    ("affected.0.database_specific", "\"x\"", true),
    ("references", "1", false),
    ("references.0", "\"x\"", false),
    ("references.0.type", "1", false),
    ("references.0.url", "1", false),
    ("credits", "1", false),
    ("credits.0.name", "1", false),
    ("credits.0.contact", "\"c\"", false),
    ("credits.0.type", "1", false),
    ("database_specific", "1", true),
    (
        "database_specific.malicious-packages-origins",
        "\"x\"",
        true,
    ),
    ("database_specific.iocs", "5", true),
    ("database_specific.cwe_ids", "5", true),
];

fn zip_of(entries: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let opts = SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .large_file(true);
    for (name, data) in entries {
        w.start_file(name.as_str(), opts).expect("start entry");
        w.write_all(data).expect("write entry");
    }
    w.finish().expect("finish zip").into_inner()
}

fn skipped_reason<'a>(imported: &'a Imported, location_suffix: &str) -> Option<&'a str> {
    imported
        .skipped
        .iter()
        .find(|s| s.location.ends_with(location_suffix))
        .map(|s| s.reason.as_str())
}

#[test]
fn a_hostile_zip_keeps_its_good_records_and_explains_the_rest() {
    let mut entries: Vec<(String, Vec<u8>)> = Vec::new();
    let json = |v: &Value| serde_json::to_vec(v).expect("json");
    entries.push((
        "osv/good/MAL-1.json".into(),
        json(&good("MAL-1", "good-one")),
    ));
    entries.push((
        "osv/good/MAL-2.json".into(),
        json(&good("MAL-2", "good-two")),
    ));
    for (i, (path, wrong, _)) in WRONG_TYPES.iter().enumerate() {
        let mut v = good(&format!("MAL-W{i}"), &format!("wrong-{i}"));
        set(
            &mut v,
            path,
            serde_json::from_str(wrong).expect("wrong value"),
        );
        entries.push((format!("osv/wrong/{i}.json"), json(&v)));
    }
    entries.push((
        "../../escape/MAL-3.json".into(),
        json(&good("MAL-3", "escape")),
    ));
    entries.push(("/abs/MAL-4.json".into(), json(&good("MAL-4", "abs"))));
    entries.push((
        "osv/bad/invalid.json".into(),
        b"{\"id\": \"MAL-5\", ".to_vec(),
    ));
    let mut huge = good("MAL-6", "huge");
    huge["details"] = Value::String("x".repeat(10 << 20));
    entries.push(("osv/bad/huge.json".into(), json(&huge)));
    entries.push(("osv/bad/bomb.json".into(), vec![b' '; 64 << 20]));
    let mut older = good("MAL-DUP", "dup-old");
    older["modified"] = json!("2024-01-01T00:00:00Z");
    let mut newer = good("MAL-DUP", "dup-new");
    newer["modified"] = json!("2025-06-01T00:00:00Z");
    entries.push(("osv/dup/a.json".into(), json(&newer)));
    entries.push(("osv/dup/b.json".into(), json(&older)));

    let bytes = zip_of(&entries);
    let mut imported = osv_zip::read_zip_bytes(&bytes, "hostile.zip", &ImportOptions::default())
        .expect("the archive as a whole is readable");
    imported.dedup_ids();

    let kept: Vec<&str> = imported
        .records
        .iter()
        .map(|r| r.record.id.as_str())
        .collect();
    for id in ["MAL-1", "MAL-2", "MAL-DUP"] {
        assert!(kept.contains(&id), "{id} kept: {kept:?}");
    }
    for (i, (path, _, keep)) in WRONG_TYPES.iter().enumerate() {
        let id = format!("MAL-W{i}");
        let location = format!("osv/wrong/{i}.json");
        if *keep {
            assert!(kept.contains(&id.as_str()), "{path}: tolerated, kept");
        } else {
            let reason = skipped_reason(&imported, &location)
                .unwrap_or_else(|| panic!("{path}: a wrong type must be skipped"));
            assert!(
                reason.starts_with("not an OSV record: ")
                    && (reason.contains("invalid type") || reason.contains("expected")),
                "{path}: {reason}"
            );
        }
    }
    let expect = [
        ("../../escape/MAL-3.json", "climbs out with `..`"),
        ("/abs/MAL-4.json", "is absolute"),
        ("osv/bad/invalid.json", "EOF while parsing"),
        ("osv/bad/huge.json", "bound for one record"),
        ("osv/bad/bomb.json", "bound for one record"),
        ("osv/dup/b.json", "duplicate id \"MAL-DUP\""),
    ];
    for (location, reason) in expect {
        let got = skipped_reason(&imported, location)
            .unwrap_or_else(|| panic!("{location} must be reported: {:?}", imported.skipped));
        assert!(got.contains(reason), "{location}: {got}");
    }
    let dup = imported
        .records
        .iter()
        .find(|r| r.record.id == "MAL-DUP")
        .expect("dup kept");
    assert_eq!(dup.record.modified.as_deref(), Some("2025-06-01T00:00:00Z"));
    let every_skip_says_where: bool = imported
        .skipped
        .iter()
        .all(|s| s.location.starts_with("hostile.zip!") && !s.reason.is_empty());
    assert!(every_skip_says_where, "{:?}", imported.skipped);
}

#[test]
fn the_same_records_in_a_directory_behave_the_same() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    std::fs::create_dir_all(root.join("osv")).expect("mkdir");
    let write = |name: &str, bytes: &[u8]| std::fs::write(root.join("osv").join(name), bytes);
    write(
        "good.json",
        &serde_json::to_vec(&good("MAL-1", "a")).expect("json"),
    )
    .expect("w");
    write("invalid.json", b"[{\"id\": 1}, ").expect("w");
    let mut huge = good("MAL-6", "huge");
    huge["details"] = Value::String("x".repeat(10 << 20));
    write("huge.json", &serde_json::to_vec(&huge).expect("json")).expect("w");
    let imported = import::read_source(root, SourceKind::OsvDir, &ImportOptions::default())
        .expect("tree reads");
    assert_eq!(imported.records.len(), 1);
    assert!(skipped_reason(&imported, "invalid.json").is_some_and(|r| r.contains("EOF")));
    assert!(
        skipped_reason(&imported, "huge.json").is_some_and(|r| r.contains("bound for one record"))
    );
}

#[test]
fn an_unreadable_source_keeps_the_previous_intel() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = IntelStore::new(&dir.path().join("data"));
    let good_zip = zip_of(&[(
        "MAL-1.json".into(),
        serde_json::to_vec(&good("MAL-1", "kept-pkg")).expect("json"),
    )]);
    let path = dir.path().join("feed.zip");
    std::fs::write(&path, &good_zip).expect("write");
    store
        .import(&path, None, &ImportOptions::default())
        .expect("good import");

    // Truncated: the central directory is gone.
    std::fs::write(&path, &good_zip[..good_zip.len() / 2]).expect("write");
    let err = store
        .import(&path, None, &ImportOptions::default())
        .expect_err("a truncated zip is refused")
        .to_string();
    assert!(
        err.contains("feed.zip") && err.contains("not a readable zip"),
        "{err}"
    );

    // A zip bomb beyond the total bound is refused as a whole.
    let bomb = zip_of(&[
        ("a.json".into(), vec![b' '; 6 << 20]),
        ("b.json".into(), vec![b' '; 6 << 20]),
    ]);
    std::fs::write(&path, &bomb).expect("write");
    let options = ImportOptions {
        max_total_bytes: 8 << 20,
        ..ImportOptions::default()
    };
    let err = store
        .import(&path, None, &options)
        .expect_err("a bomb is refused")
        .to_string();
    assert!(err.contains("zip bomb"), "{err}");

    let loaded = store.load().expect("loads");
    let npm = Ecosystem::parse("npm");
    assert_eq!(
        loaded.index.lookup(&npm, "kept-pkg", "1.0.0").len(),
        1,
        "the good intel is still there"
    );
}
