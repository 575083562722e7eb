//! `vigil version compare` as a user runs it: arguments, stdin batches, exit codes.

use assert_cmd::Command;

fn vigil() -> Command {
    Command::cargo_bin("vigil").expect("vigil binary is built for integration tests")
}

#[test]
fn single_pair_prints_symbol() {
    // (ecosystem, a, b, expected stdout)
    let cases = [
        ("npm", "4.4.2", "4.4.3", "<\n"),
        ("npm", "4.4.2", "4.4.2", "=\n"),
        ("PyPI", "2.0", "2.0.0", "=\n"),
        ("PyPI", "1.0rc1", "1.0", "<\n"),
        ("Debian", "1:1.0", "2.0", ">\n"),
        ("Debian:12", "1.0~rc1", "1.0", "<\n"),
        ("Maven", "1.0-SNAPSHOT", "1.0", "<\n"),
        ("Some New Ecosystem", "1.10", "1.9", ">\n"),
    ];
    for (eco, a, b, want) in cases {
        vigil()
            .args(["version", "compare", eco, a, b])
            .assert()
            .success()
            .stdout(want);
    }
}

#[test]
fn stdin_batch_reports_bad_lines_and_exits_2() {
    let input = "1.0.0 1.0.1\n1:2.0 1:1.0\nnot-a-version! 1.0\n\n1.0 1.0\nonly-one-field\n";
    let assert = vigil()
        .args(["version", "compare", "Debian"])
        .write_stdin(input)
        .assert()
        .code(2)
        .stdout("<\n>\n!\n\n=\n!\n");
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
    assert!(stderr.contains("line 3"), "{stderr}");
    assert!(stderr.contains("line 6"), "{stderr}");
}

#[test]
fn stdin_batch_all_good_exits_0() {
    vigil()
        .args(["version", "compare", "npm"])
        .write_stdin("1.0.0 2.0.0\n  2.0.0\t1.0.0  \n")
        .assert()
        .success()
        .stdout("<\n>\n");
}

#[test]
fn one_version_only_is_a_usage_error() {
    vigil()
        .args(["version", "compare", "npm", "1.0.0"])
        .assert()
        .code(2);
}

#[test]
fn control_characters_in_errors_are_escaped() {
    let assert = vigil()
        .args(["version", "compare", "Debian", "1.0", "\u{1b}[2J!!"])
        .assert()
        .code(2);
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
    assert!(!stderr.contains('\u{1b}'), "{stderr:?}");
}

#[test]
fn unknown_subcommand_is_a_usage_error() {
    vigil().arg("frobnicate").assert().code(2);
}
