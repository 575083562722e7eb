//! `vigil intel` as a user runs it: import, status, show, exit codes, escaping.

use std::io::{Cursor, Write};

use assert_cmd::Command;

fn vigil(data: &std::path::Path) -> Command {
    let mut cmd = Command::cargo_bin("vigil").expect("vigil binary is built for integration tests");
    cmd.env("VIGIL_DATA_DIR", data);
    cmd
}

fn osv_zip(records: &[&str]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for (i, r) in records.iter().enumerate() {
        w.start_file(
            format!("osv/{i}.json"),
            zip::write::SimpleFileOptions::default(),
        )
        .expect("entry");
        w.write_all(r.as_bytes()).expect("write");
    }
    w.finish().expect("zip").into_inner()
}

#[test]
fn import_status_show_round_trip() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let list = dir.path().join("incident.txt");
    std::fs::write(
        &list,
        "# responders' list\nleft-pad@1.3.0\nevil\u{1b}[2J@1.0\n",
    )
    .expect("write");
    let zip = dir.path().join("feed.zip");
    std::fs::write(
        &zip,
        osv_zip(&[
            r#"{"id":"GHSA-test-0001","summary":"bad \u009b31m thing","database_specific":{"cwe_ids":["CWE-79"]},"severity":[{"type":"CVSS_V3","score":"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],"affected":[{"package":{"ecosystem":"PyPI","name":"Some_Lib"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"2.0"}]}]}]}"#,
            r#"{"id": 5}"#,
        ]),
    )
    .expect("write");

    let out = vigil(&data)
        .args(["intel", "import"])
        .arg(&list)
        .arg(&zip)
        .output()
        .expect("runs");
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stdout.contains("imported incident (list)"), "{stdout}");
    assert!(stdout.contains("imported feed (osv-zip)"), "{stdout}");
    assert!(stderr.contains("incident.txt:3"), "{stderr}");
    assert!(stderr.contains("feed.zip!osv/1.json"), "{stderr}");
    assert!(!stderr.contains('\u{1b}'), "escaped: {stderr:?}");

    let out = vigil(&data)
        .args(["intel", "status", "--format", "json"])
        .output()
        .expect("runs");
    assert!(out.status.success());
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).expect("status JSON");
    assert_eq!(status["counts"]["by_ecosystem"]["PyPI"]["vulnerability"], 1);
    assert!(status["counts"]["by_ecosystem"]["npm"]["malicious"].as_u64() >= Some(37));
    let names: Vec<&str> = status["sources"]
        .as_array()
        .expect("sources")
        .iter()
        .filter_map(|s| s["name"].as_str())
        .collect();
    assert_eq!(names, ["baseline", "incident", "feed"]);
    assert_eq!(status["sources"][2]["skipped_total"], 1);
    assert!(status["sources"][1]["imported_age_seconds"].is_i64());

    let table = vigil(&data)
        .args(["intel", "status"])
        .output()
        .expect("runs");
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(text.contains("PyPI") && text.contains("baseline"), "{text}");

    let out = vigil(&data)
        .args(["intel", "show", "GHSA-test-0001"])
        .output()
        .expect("runs");
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!stdout.contains('\u{9b}'), "C1 escaped: {stdout:?}");
    let record: serde_json::Value = serde_json::from_str(&stdout).expect("record JSON");
    assert_eq!(record["summary"], "bad \u{9b}31m thing");
    assert!(String::from_utf8_lossy(&out.stderr).contains("VULNERABILITY"));

    vigil(&data)
        .args(["intel", "show", "CUSTOM-incident-1"])
        .assert()
        .success();
    vigil(&data)
        .args(["intel", "show", "MAL-0000-nothing"])
        .assert()
        .code(2);
    vigil(&data)
        .args(["intel", "import"])
        .arg(dir.path().join("missing.zip"))
        .assert()
        .code(2);
    vigil(&data)
        .args(["intel", "import", "--name", "x"])
        .arg(&list)
        .arg(&zip)
        .assert()
        .code(2);
}

#[test]
fn sync_to_an_unreachable_feed_warns_and_exits_2() {
    let dir = tempfile::tempdir().expect("tempdir");
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/all.zip", closed.local_addr().expect("addr"));
    drop(closed);
    let out = vigil(dir.path())
        .args(["intel", "sync", "--no-proxy", "--feed"])
        .arg(format!("local={url}"))
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "one line per feed: {stderr}");
    assert!(
        stderr.contains("feed local") && stderr.contains("previous intel kept"),
        "{stderr}"
    );
}
