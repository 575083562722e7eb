//! # vigil-testkit
//!
//! Test support shared by every vigil crate, and nothing else: it is only ever a
//! dev-dependency. Today it owns one question — *where is the shared test data?*
//!
//! Conformance vectors, real OSV intel and the benchmark corpus live in a `shared/` folder
//! beside the project checkout (`../shared` from the repository root). They are public data
//! with their own licences and are never committed here. Tests that need them call
//! [`shared_path`]; when the data is absent the test prints one `SKIPPED:` line and passes, so a
//! bare clone builds green. Set `VIGIL_SHARED_DIR` to point elsewhere, and
//! `VIGIL_REQUIRE_SHARED=1` to turn a missing folder into a failure.
//!
//! [`standin`] holds the harmless stand-in packages and child-process helpers the runtime
//! tests share.

pub mod standin;

use std::path::{Path, PathBuf};

/// The shared data folder: `VIGIL_SHARED_DIR`, else `../shared` beside the repository root.
pub fn shared_dir() -> PathBuf {
    std::env::var_os("VIGIL_SHARED_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared"))
}

/// `relative` inside the shared data folder, when it exists. Otherwise prints
/// `SKIPPED: <what>: …` and returns `None` — or panics when `VIGIL_REQUIRE_SHARED` is set.
pub fn shared_path(relative: &str, what: &str) -> Option<PathBuf> {
    let path = shared_dir().join(relative);
    if path.exists() {
        return Some(path);
    }
    let message = format!(
        "SKIPPED: {what}: no shared test data at {} (set VIGIL_SHARED_DIR)",
        path.display()
    );
    assert!(
        std::env::var_os("VIGIL_REQUIRE_SHARED").is_none(),
        "{message}; VIGIL_REQUIRE_SHARED is set"
    );
    eprintln!("{message}");
    None
}
