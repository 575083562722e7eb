//! The [`Registry`]: every collector, indexed by the file names it claims.
//!
//! The walker asks the registry about every file it sees, so the lookup must not loop over
//! collectors: exact names and `InDir` directory names are hash lookups, and the few suffix /
//! prefix rules are byte comparisons. Cost per file: one hash of the name, one hash of the
//! parent's name, and a handful of `ends_with` — O(1) in the number of collectors.
//!
//! Adding an ecosystem: write its collector in one file and add one line to
//! [`Registry::with_default_collectors`].

use std::collections::HashMap;
use std::path::Path;

use crate::collector::{Collector, FilePattern};
use crate::installed;
use crate::lockfile;

/// Index into the registry's collector list.
type Slot = u16;

/// All collectors of a scan, indexed by claimed file names.
pub struct Registry {
    collectors: Vec<Box<dyn Collector>>,
    by_name: HashMap<&'static [u8], Vec<Slot>>,
    by_dir: HashMap<&'static [u8], Vec<(&'static [u8], Slot)>>,
    suffixes: Vec<(&'static [u8], Slot)>,
    prefix_suffixes: Vec<(&'static [u8], &'static [u8], Slot)>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.collectors.iter().map(|c| c.name()))
            .finish()
    }
}

impl Default for Registry {
    fn default() -> Self {
        Registry::with_default_collectors()
    }
}

impl Registry {
    /// A registry with no collectors.
    pub fn empty() -> Registry {
        Registry {
            collectors: Vec::new(),
            by_name: HashMap::new(),
            by_dir: HashMap::new(),
            suffixes: Vec::new(),
            prefix_suffixes: Vec::new(),
        }
    }

    /// Every collector this crate ships. One line per format.
    pub fn with_default_collectors() -> Registry {
        let mut r = Registry::empty();
        // Installed trees and OS package databases (evidence INSTALLED).
        r.register(Box::new(installed::npm::InstalledNpmPackages));
        r.register(Box::new(installed::python::InstalledPythonDistributions));
        r.register(Box::new(installed::conda::InstalledCondaPackages));
        r.register(Box::new(lockfile::composer::InstalledComposerPackages));
        r.register(Box::new(installed::dpkg::InstalledDpkgPackages));
        r.register(Box::new(installed::apk::InstalledApkPackages));
        r.register(Box::new(installed::rpm::InstalledRpmPackages));
        r.register(Box::new(installed::rpm_bdb::InstalledRpmBdbPackages));
        r.register(Box::new(installed::gem::InstalledGems));
        r.register(Box::new(installed::dotnet::InstalledDotnetPackages));
        r.register(Box::new(installed::nuspec::InstalledNugetPackages));
        r.register(Box::new(installed::java_archive::InstalledJavaArchives));
        r.register(Box::new(installed::binary::InstalledBinaries));
        // Lockfiles and manifests (evidence DECLARED).
        r.register(Box::new(lockfile::package_lock::NpmLockfile));
        r.register(Box::new(lockfile::yarn::YarnLockfile));
        r.register(Box::new(lockfile::pnpm::PnpmLockfile));
        r.register(Box::new(lockfile::bun::BunLockfile));
        r.register(Box::new(lockfile::requirements::RequirementsFile));
        r.register(Box::new(lockfile::python_locks::PoetryLockfile));
        r.register(Box::new(lockfile::python_locks::UvLockfile));
        r.register(Box::new(lockfile::python_locks::PdmLockfile));
        r.register(Box::new(lockfile::python_locks::PipfileLockfile));
        r.register(Box::new(lockfile::cargo::CargoLockfile));
        r.register(Box::new(lockfile::gomod::GoModFile));
        r.register(Box::new(lockfile::gemfile::GemfileLockfile));
        r.register(Box::new(lockfile::composer::ComposerLockfile));
        r.register(Box::new(lockfile::nuget::NugetLockfile));
        r.register(Box::new(lockfile::gradle::GradleLockfile));
        r.register(Box::new(lockfile::pom::MavenPom));
        r
    }

    /// Adds a collector and indexes its patterns.
    pub fn register(&mut self, collector: Box<dyn Collector>) {
        let slot = Slot::try_from(self.collectors.len()).unwrap_or(Slot::MAX);
        for pattern in collector.patterns() {
            match *pattern {
                FilePattern::Name(name) => {
                    self.by_name.entry(name.as_bytes()).or_default().push(slot);
                }
                FilePattern::Suffix(suffix) => self.suffixes.push((suffix.as_bytes(), slot)),
                FilePattern::PrefixSuffix(prefix, suffix) => {
                    self.prefix_suffixes
                        .push((prefix.as_bytes(), suffix.as_bytes(), slot));
                }
                FilePattern::InDir(dir, suffix) => self
                    .by_dir
                    .entry(dir.as_bytes())
                    .or_default()
                    .push((suffix.as_bytes(), slot)),
            }
        }
        self.collectors.push(collector);
    }

    /// The collectors, in registration order.
    pub fn collectors(&self) -> impl Iterator<Item = &dyn Collector> {
        self.collectors.iter().map(|c| c.as_ref())
    }

    /// The collector called `name`.
    pub fn get(&self, name: &str) -> Option<&dyn Collector> {
        self.collectors().find(|c| c.name() == name)
    }

    /// Calls `f` for each collector that claims the file at `path`, whose name is `file_name`
    /// and whose parent directory is named `parent_name`. See the module doc for the cost.
    pub fn for_each_claimant(
        &self,
        path: &Path,
        file_name: &[u8],
        parent_name: &[u8],
        mut f: impl FnMut(&dyn Collector),
    ) {
        let mut call = |slot: Slot| {
            if let Some(c) = self.collectors.get(usize::from(slot))
                && c.accepts(path)
            {
                f(c.as_ref());
            }
        };
        if let Some(slots) = self.by_name.get(file_name) {
            slots.iter().copied().for_each(&mut call);
        }
        for &(suffix, slot) in &self.suffixes {
            if file_name.ends_with(suffix) && file_name.len() > suffix.len() {
                call(slot);
            }
        }
        for &(prefix, suffix, slot) in &self.prefix_suffixes {
            if file_name.len() >= prefix.len() + suffix.len()
                && file_name.starts_with(prefix)
                && file_name.ends_with(suffix)
            {
                call(slot);
            }
        }
        if !self.by_dir.is_empty()
            && let Some(rules) = self.by_dir.get(parent_name)
        {
            for &(suffix, slot) in rules {
                if file_name.ends_with(suffix) {
                    call(slot);
                }
            }
        }
    }
}
