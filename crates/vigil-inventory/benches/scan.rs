//! Walker and collector benchmarks on a synthetic tree: `cargo bench -p vigil-inventory`.
//! For real trees use `examples/scan_tree.rs` on the bench corpus (see its doc).

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use vigil_inventory::installed::npm::parse_manifest;
use vigil_inventory::{Registry, ScanOptions, scan};

fn main() {
    divan::main();
}

/// 2,000 packages (1,000 top-level, each with one nested dependency and 40 other files), kept
/// for the whole run.
fn tree() -> &'static Path {
    static TREE: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    let (_, path) = TREE.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().to_path_buf();
        for i in 0..1000 {
            let pkg = root.join(format!("node_modules/pkg-{i}"));
            let nested = pkg.join(format!("node_modules/dep-{i}"));
            fs::create_dir_all(pkg.join("lib")).expect("mkdir");
            fs::create_dir_all(&nested).expect("mkdir");
            fs::write(
                pkg.join("package.json"),
                format!(r#"{{"name":"pkg-{i}","version":"1.0.{i}","main":"lib/index.js"}}"#),
            )
            .expect("write");
            fs::write(
                nested.join("package.json"),
                format!(r#"{{"name":"dep-{i}","version":"2.0.{i}"}}"#),
            )
            .expect("write");
            for f in 0..40 {
                fs::write(
                    pkg.join(format!("lib/file-{f}.js")),
                    "module.exports = 1;\n",
                )
                .expect("write");
            }
        }
        (dir, root)
    });
    path
}

#[divan::bench]
fn scan_synthetic_node_modules(bencher: divan::Bencher) {
    let root = tree().to_path_buf();
    let registry = Registry::default();
    let options = ScanOptions::default();
    bencher.bench(|| {
        let report = scan(std::slice::from_ref(&root), &registry, &options).expect("scan");
        assert_eq!(report.packages.len(), 2000);
        report
    });
}

#[divan::bench]
fn parse_package_json(bencher: divan::Bencher) {
    let json =
        br#"{"name":"@scope/some-package","version":"4.4.3","description":"x","author":["a","b"],
        "dependencies":{"a":"^1.0.0","b":"^2.0.0"},"scripts":{"test":"jest"},"files":["lib","dist"],
        "repository":{"type":"git","url":"https://example.com/x.git"},"keywords":["a","b","c"]}"#;
    bencher.bench(|| parse_manifest(divan::black_box(json)).map(|m| m.name.is_some()));
}
