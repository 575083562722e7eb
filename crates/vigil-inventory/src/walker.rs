//! The parallel walker: lists every file under the roots and hands the claimed ones to their
//! collectors.
//!
//! Built on `ignore`'s `WalkParallel` with **all** filtering off: no `.gitignore`, hidden files
//! included — packages live in ignored and hidden directories (`node_modules`, `.venv`,
//! `.pnpm`). Symlinks are not followed unless asked; when followed, `ignore` detects loops
//! (reported as errors). Errors — permission denied, files vanishing mid-scan, parse failures —
//! are collected, never fatal.
//!
//! Cost: one `readdir` per directory, one registry lookup per file (see
//! [`Registry`]), and open + fstat + read only for claimed files. Results are
//! kept per worker thread and merged once at the end; memory is bounded by the packages found
//! plus one read buffer per thread (each at most the largest size cap).

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ignore::{WalkBuilder, WalkState};
use vigil_core::Evidence;

use crate::collector::{Collected, Input, SourceFile, read_capped};
use crate::error::{ScanError, ScanErrorKind};
use crate::found::{FoundPackage, dedup_packages};
use crate::registry::Registry;

/// Read buffers above this size are released after use, so one huge lockfile does not pin
/// memory for the rest of the scan.
const KEEP_BUFFER_BYTES: usize = 4 << 20;

/// Live counters of a running scan, for a progress display polled from another thread.
/// Workers publish in batches (every 4,096 entries and when they finish), so reading is cheap
/// and the counters lag by at most a batch per worker.
#[derive(Debug, Default)]
pub struct ScanProgress {
    /// Directories entered so far.
    pub dirs: AtomicU64,
    /// Non-directory entries seen so far.
    pub files: AtomicU64,
    /// Packages found so far (before de-duplication).
    pub packages: AtomicU64,
}

/// How to walk.
#[derive(Clone, Debug, Default)]
pub struct ScanOptions {
    /// Follow symbolic links (with loop detection). Off by default: a link may lead out of
    /// the tree, and pnpm's `node_modules/<name>` links would double-count the store.
    pub follow_symlinks: bool,
    /// Glob patterns of paths to skip, gitignore-style (`**/fixtures`, `*.tmp`, `/build`).
    pub excludes: Vec<String>,
    /// Worker threads; 0 picks the number of CPUs.
    pub threads: usize,
    /// Do not descend deeper than this many levels below a root.
    pub max_depth: Option<usize>,
    /// Also read lockfiles and manifests that sit inside installed or cached package trees
    /// (`node_modules`, `site-packages`, `dist-packages`, `vendor`, `.cargo/registry`, Go's
    /// `pkg/mod`). Off by default: those are files a
    /// package published (its own development lockfile), not a description of anything
    /// installed or declared by the project, and they would add hundreds of phantom
    /// DECLARED packages per application.
    pub declared_in_package_trees: bool,
    /// Counters to publish progress to while scanning.
    pub progress: Option<Arc<ScanProgress>>,
    /// Also walk kernel pseudo-filesystems (procfs, sysfs and friends). Off by default: a
    /// scan of `/` (or of a host root mounted at `/host`) would otherwise crawl `/proc` — every
    /// process's view of the filesystem — and `/sys`, which hold no packages.
    pub include_pseudo_filesystems: bool,
}

/// Counters of one scan.
#[derive(Clone, Debug, Default)]
pub struct ScanStats {
    /// Directories entered.
    pub dirs: u64,
    /// Non-directory entries seen.
    pub files: u64,
    /// Files handed to a collector.
    pub claimed: u64,
    /// Wall time of the scan.
    pub elapsed: Duration,
}

/// Everything one scan found.
#[derive(Debug, Default)]
pub struct ScanReport {
    /// Packages, sorted by path then component; the same component at the same path once.
    pub packages: Vec<FoundPackage>,
    /// Non-fatal errors, sorted by path.
    pub errors: Vec<ScanError>,
    /// Counters.
    pub stats: ScanStats,
}

/// A scan could not start (as opposed to errors met while scanning, which are reported).
#[derive(Debug, thiserror::Error)]
pub enum ScanSetupError {
    /// An `--exclude` pattern is not a valid glob.
    #[error("invalid exclude pattern {pattern:?}: {reason}")]
    Exclude {
        /// The pattern as given.
        pattern: String,
        /// Why it is invalid.
        reason: String,
    },
}

/// Walks `roots` and runs every claiming collector of `registry` on what it finds.
pub fn scan(
    roots: &[PathBuf],
    registry: &Registry,
    options: &ScanOptions,
) -> Result<ScanReport, ScanSetupError> {
    let started = Instant::now();
    let sink = Sink::default();
    for root in roots {
        walk_root(root, registry, options, &sink)?;
    }
    let mut packages = sink
        .packages
        .into_inner()
        .unwrap_or_else(|p| p.into_inner());
    let mut errors = sink.errors.into_inner().unwrap_or_else(|p| p.into_inner());
    errors.extend(crate::installed::npm::flag_dev_from_hidden_lockfiles(
        &mut packages,
    ));
    dedup_packages(&mut packages);
    errors.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(ScanReport {
        packages,
        errors,
        stats: ScanStats {
            dirs: sink.dirs.load(Ordering::Relaxed),
            files: sink.files.load(Ordering::Relaxed),
            claimed: sink.claimed.load(Ordering::Relaxed),
            elapsed: started.elapsed(),
        },
    })
}

#[derive(Default)]
struct Sink {
    packages: Mutex<Vec<FoundPackage>>,
    errors: Mutex<Vec<ScanError>>,
    dirs: AtomicU64,
    files: AtomicU64,
    claimed: AtomicU64,
}

fn walk_root(
    root: &Path,
    registry: &Registry,
    options: &ScanOptions,
    sink: &Sink,
) -> Result<(), ScanSetupError> {
    let mut builder = WalkBuilder::new(root);
    builder
        .standard_filters(false)
        .hidden(false)
        .parents(false)
        .ignore(false)
        .git_ignore(false)
        .git_global(false)
        .git_exclude(false)
        .require_git(false)
        .follow_links(options.follow_symlinks)
        .max_depth(options.max_depth)
        .threads(options.threads);
    if !options.include_pseudo_filesystems {
        builder.filter_entry(|entry| {
            !(entry.file_type().is_some_and(|t| t.is_dir()) && is_pseudo_filesystem(entry.path()))
        });
    }
    if !options.excludes.is_empty() {
        let mut overrides = ignore::overrides::OverrideBuilder::new(root);
        for pattern in &options.excludes {
            overrides
                .add(&format!("!{pattern}"))
                .map_err(|e| ScanSetupError::Exclude {
                    pattern: pattern.clone(),
                    reason: e.to_string(),
                })?;
        }
        let overrides = overrides.build().map_err(|e| ScanSetupError::Exclude {
            pattern: options.excludes.join(" "),
            reason: e.to_string(),
        })?;
        builder.overrides(overrides);
    }
    builder.build_parallel().run(|| {
        let mut worker = Worker::new(registry, sink, options);
        Box::new(move |entry| {
            worker.visit(entry);
            WalkState::Continue
        })
    });
    Ok(())
}

/// Per-thread state: results are merged into the sink when the worker is dropped.
struct Worker<'a> {
    registry: &'a Registry,
    sink: &'a Sink,
    buf: Vec<u8>,
    declared_in_package_trees: bool,
    progress: Option<Arc<ScanProgress>>,
    /// Counts already published to `progress`.
    published: (u64, u64, u64),
    packages: Vec<FoundPackage>,
    errors: Vec<ScanError>,
    dirs: u64,
    files: u64,
    claimed: u64,
}

impl<'a> Worker<'a> {
    fn new(registry: &'a Registry, sink: &'a Sink, options: &ScanOptions) -> Worker<'a> {
        Worker {
            registry,
            sink,
            buf: Vec::new(),
            declared_in_package_trees: options.declared_in_package_trees,
            progress: options.progress.clone(),
            published: (0, 0, 0),
            packages: Vec::new(),
            errors: Vec::new(),
            dirs: 0,
            files: 0,
            claimed: 0,
        }
    }

    fn visit(&mut self, entry: Result<ignore::DirEntry, ignore::Error>) {
        if self.progress.is_some() && (self.dirs + self.files).is_multiple_of(4096) {
            self.publish();
        }
        let entry = match entry {
            Ok(entry) => entry,
            Err(err) => {
                self.errors.push(walk_error(err));
                return;
            }
        };
        let Some(file_type) = entry.file_type() else {
            return; // stdin; never produced for path roots
        };
        if file_type.is_dir() {
            self.dirs += 1;
            return;
        }
        self.files += 1;
        // Only regular files are read (with follow_links, file_type is the target's). A symlink
        // we do not follow is never read: it may point out of the tree.
        if !file_type.is_file() {
            return;
        }
        let path = entry.path();
        let file_name = entry.file_name().as_bytes();
        let parent_name = path
            .parent()
            .and_then(Path::file_name)
            .map_or(&b""[..], OsStr::as_bytes);
        let registry = self.registry;
        let mut shared_path: Option<Arc<Path>> = None;
        let mut in_package_tree: Option<bool> = None;
        registry.for_each_claimant(path, file_name, parent_name, |collector| {
            if collector.evidence() == Evidence::Declared
                && !self.declared_in_package_trees
                && *in_package_tree.get_or_insert_with(|| is_in_package_tree(path))
            {
                return;
            }
            self.claimed += 1;
            let arc = shared_path.get_or_insert_with(|| Arc::from(path)).clone();
            let mut out = Collected::new(arc, collector);
            self.buf.clear();
            let read = match collector.input() {
                Input::Bytes => read_capped(path, collector.size_limit(), &mut self.buf),
                Input::Path => Ok(()),
            };
            let result = read.and_then(|()| {
                collector.collect(
                    &SourceFile {
                        path,
                        bytes: &self.buf,
                    },
                    &mut out,
                )
            });
            if let Err(err) = result {
                out.warn(err);
            }
            if self.buf.capacity() > KEEP_BUFFER_BYTES {
                self.buf = Vec::new();
            }
            self.packages.append(&mut out.packages);
            self.errors.append(&mut out.errors);
        });
    }
}

impl Worker<'_> {
    /// Adds what this worker counted since the last call to the shared progress counters.
    fn publish(&mut self) {
        let Some(progress) = &self.progress else {
            return;
        };
        let now = (self.dirs, self.files, self.packages.len() as u64);
        progress
            .dirs
            .fetch_add(now.0 - self.published.0, Ordering::Relaxed);
        progress
            .files
            .fetch_add(now.1 - self.published.1, Ordering::Relaxed);
        progress
            .packages
            .fetch_add(now.2.saturating_sub(self.published.2), Ordering::Relaxed);
        self.published = now;
    }
}

impl Drop for Worker<'_> {
    fn drop(&mut self) {
        self.publish();
        self.sink.dirs.fetch_add(self.dirs, Ordering::Relaxed);
        self.sink.files.fetch_add(self.files, Ordering::Relaxed);
        self.sink.claimed.fetch_add(self.claimed, Ordering::Relaxed);
        if !self.packages.is_empty() {
            let mut all = self.sink.packages.lock().unwrap_or_else(|p| p.into_inner());
            all.append(&mut self.packages);
        }
        if !self.errors.is_empty() {
            let mut all = self.sink.errors.lock().unwrap_or_else(|p| p.into_inner());
            all.append(&mut self.errors);
        }
    }
}

/// True for the mount point of a kernel pseudo-filesystem. Only directories named like their
/// usual mount points (`proc`, `sys`, `kernel`, `debug`, `tracing`, `cgroup`, `security`) pay
/// for the `statfs` call, so the check costs nothing on ordinary trees.
pub fn is_pseudo_filesystem(dir: &Path) -> bool {
    const PSEUDO: [i64; 8] = [
        0x9fa0,      // procfs
        0x6265_6572, // sysfs
        0x0027_e0eb, // cgroup
        0x6367_7270, // cgroup2
        0x6462_6720, // debugfs
        0x7472_6163, // tracefs
        0x7363_6673, // securityfs
        0xcafe_4a11, // bpf
    ];
    let named = dir.file_name().is_some_and(|n| {
        [
            "proc", "sys", "kernel", "debug", "tracing", "cgroup", "security", "bpf",
        ]
        .iter()
        .any(|p| n == *p)
    });
    named
        && rustix::fs::statfs(dir).is_ok_and(|fs| {
            #[allow(clippy::unnecessary_cast)] // f_type's width differs across targets
            let kind = fs.f_type as i64;
            PSEUDO.contains(&kind)
        })
}

/// True when a directory above the file is an installed or cached package tree:
/// `node_modules`, `site-packages`, `dist-packages`, `vendor`, Cargo's `.cargo/registry` and
/// `.cargo/git` sources, and Go's module cache `pkg/mod`. Lockfiles and manifests there were
/// published by the packages themselves.
fn is_in_package_tree(path: &Path) -> bool {
    let Some(dir) = path.parent() else {
        return false;
    };
    let mut previous: Option<&OsStr> = None;
    dir.components().any(|c| {
        let c = c.as_os_str();
        let hit = c == "node_modules"
            || c == "site-packages"
            || c == "dist-packages"
            || c == "vendor"
            || (previous.is_some_and(|p| p == ".cargo") && (c == "registry" || c == "git"))
            || (previous.is_some_and(|p| p == "pkg") && c == "mod");
        previous = Some(c);
        hit
    })
}

/// Flattens `ignore`'s nested error into a path and a reason.
fn walk_error(err: ignore::Error) -> ScanError {
    let mut path = PathBuf::new();
    let mut err = err;
    loop {
        match err {
            ignore::Error::WithPath {
                path: p,
                err: inner,
            } => {
                path = p;
                err = *inner;
            }
            ignore::Error::WithDepth { err: inner, .. }
            | ignore::Error::WithLineNumber { err: inner, .. } => {
                err = *inner;
            }
            ignore::Error::Loop { ancestor, child } => {
                return ScanError {
                    path: child,
                    collector: None,
                    kind: ScanErrorKind::Loop(ancestor),
                };
            }
            ignore::Error::Io(io) => {
                return ScanError {
                    path,
                    collector: None,
                    kind: ScanErrorKind::Walk(io),
                };
            }
            other => {
                return ScanError {
                    path,
                    collector: None,
                    kind: ScanErrorKind::Other(other.to_string()),
                };
            }
        }
    }
}
