//! What a scan finds: a component at a path, with evidence.

use std::path::Path;
use std::sync::Arc;

use vigil_core::{Component, Evidence};

/// One component instance found on disk.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct FoundPackage {
    /// Ecosystem, name (the real `name` field, not the directory name) and version.
    pub component: Component,
    /// [`Evidence::Installed`] for installed trees and OS package databases,
    /// [`Evidence::Declared`] for lockfiles and manifests.
    pub evidence: Evidence,
    /// The file that proves it: the installed package's `package.json` / `METADATA` /
    /// `*.gemspec` / OS database, or — for declared packages — the lockfile or manifest.
    pub path: Arc<Path>,
    /// Declared only for development (a lockfile's dev/test groups). Flagged, never dropped.
    pub dev: bool,
    /// The version is exact: installed, or pinned by a lockfile. False when a manifest states
    /// only a constraint (`requests>=2.0` in requirements.txt reports `2.0`, the bound it
    /// names) or no version at all (empty `version`).
    pub pinned: bool,
    /// The collector that produced it (`npm-installed`, `package-lock`, …).
    pub collector: &'static str,
}

impl FoundPackage {
    /// True when this package came from a lockfile or manifest rather than an installed tree.
    pub fn is_declared(&self) -> bool {
        self.evidence == Evidence::Declared
    }
}

/// Sorts by (path, component) and merges duplicates: the same component at the same path
/// appears once; it stays `dev` only if every occurrence was dev-only. O(n log n).
pub fn dedup_packages(packages: &mut Vec<FoundPackage>) {
    packages.sort_unstable_by(|a, b| {
        (&a.path, &a.component, a.evidence).cmp(&(&b.path, &b.component, b.evidence))
    });
    packages.dedup_by(|later, kept| {
        let same = later.path == kept.path
            && later.component == kept.component
            && later.evidence == kept.evidence;
        if same {
            kept.dev &= later.dev;
            kept.pinned |= later.pinned;
        }
        same
    });
}
