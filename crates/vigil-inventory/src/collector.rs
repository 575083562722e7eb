//! The [`Collector`] trait: one implementation per on-disk format.
//!
//! A collector says which files it claims — file-name [`FilePattern`]s the
//! [`Registry`](crate::Registry) indexes, refined by a cheap [`Collector::accepts`] test on the
//! path — and turns one claimed file into [`FoundPackage`]s. Collectors do no walking. For
//! text formats ([`Input::Bytes`], the default) they do no reading either, except for
//! explicitly related files (a `-r` include, a parent POM, `go.sum`, `os-release`): the walker
//! reads the file under the collector's size cap and hands over the bytes. Archive and binary
//! collectors ([`Input::Path`]) open the file themselves and read only the parts they need.

use std::io::Read;
use std::path::Path;
use std::sync::Arc;

use vigil_core::{Component, Ecosystem, EcosystemKind, Evidence};

use crate::error::{CollectError, ScanError};
use crate::found::FoundPackage;

/// Default size cap for a claimed file: 64 MiB (large monorepo lockfiles reach tens of MiB).
pub const DEFAULT_SIZE_LIMIT: u64 = 64 << 20;

/// A rule on a file *name* (and its parent directory's name). Evaluated for every file the
/// walker sees, so each kind is indexed by the registry rather than tested per collector.
#[derive(Clone, Copy, Debug)]
pub enum FilePattern {
    /// The file name is exactly this (`package.json`, `Cargo.lock`).
    Name(&'static str),
    /// The file name ends with this (`.deps.json`).
    Suffix(&'static str),
    /// The file name starts with the first string and ends with the second
    /// (`requirements*.txt`).
    PrefixSuffix(&'static str, &'static str),
    /// The file sits directly in a directory with this name and ends with the suffix (empty
    /// suffix: any name) (`conda-meta/*.json`, `specifications/*.gemspec`).
    InDir(&'static str, &'static str),
}

/// A claimed file, read.
#[derive(Debug)]
pub struct SourceFile<'a> {
    /// Where it is.
    pub path: &'a Path,
    /// Its contents, at most the collector's size cap; empty for [`Input::Path`] collectors.
    pub bytes: &'a [u8],
}

/// How the walker hands a claimed file to its collector.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Input {
    /// The whole file, read into memory under the size cap (text formats).
    Bytes,
    /// Only the path: the collector opens the file and reads what it needs (archives, whose
    /// central directory and a few small entries are all that matter). The size cap still
    /// applies to the file on disk.
    Path,
}

impl SourceFile<'_> {
    /// The contents as text: a leading UTF-8 byte-order mark is dropped; invalid UTF-8 is an
    /// error naming the byte offset.
    pub fn text(&self, format: &'static str) -> Result<&str, CollectError> {
        let bytes = self
            .bytes
            .strip_prefix(b"\xEF\xBB\xBF")
            .unwrap_or(self.bytes);
        std::str::from_utf8(bytes).map_err(|e| {
            let line = 1 + bytes
                .get(..e.valid_up_to())
                .map_or(0, |b| memchr::memchr_iter(b'\n', b).count());
            CollectError::syntax_at(format, line, "invalid UTF-8")
        })
    }
}

/// One on-disk format. See the module doc.
pub trait Collector: Send + Sync {
    /// A stable short name (`npm-installed`, `package-lock`), used in reports and errors.
    fn name(&self) -> &'static str;

    /// What finding a package in this format proves.
    fn evidence(&self) -> Evidence;

    /// The file-name patterns this collector claims.
    fn patterns(&self) -> &'static [FilePattern];

    /// A second, still cheap test on the whole path once a pattern matched (parent
    /// directories, say). Must not touch the disk.
    fn accepts(&self, path: &Path) -> bool {
        let _ = path;
        true
    }

    /// The largest file this collector reads; larger files are refused with an error.
    fn size_limit(&self) -> u64 {
        DEFAULT_SIZE_LIMIT
    }

    /// How the file is handed over.
    fn input(&self) -> Input {
        Input::Bytes
    }

    /// Parses one claimed file. Packages pushed before an error are kept.
    fn collect(&self, file: &SourceFile<'_>, out: &mut Collected) -> Result<(), CollectError>;
}

/// Where a collector puts what it finds in one file.
#[derive(Debug)]
pub struct Collected {
    path: Arc<Path>,
    collector: &'static str,
    evidence: Evidence,
    /// Packages found so far.
    pub packages: Vec<FoundPackage>,
    /// Non-fatal problems in entries of the file (the rest of the file was still read).
    pub errors: Vec<ScanError>,
}

impl Collected {
    /// An empty collection for `path`, read by `collector`.
    pub fn new(path: Arc<Path>, collector: &dyn Collector) -> Collected {
        Collected {
            path,
            collector: collector.name(),
            evidence: collector.evidence(),
            packages: Vec::new(),
            errors: Vec::new(),
        }
    }

    /// The path being collected.
    pub fn path(&self) -> &Arc<Path> {
        &self.path
    }

    /// Records a package found in the current file. It counts as pinned when it has a
    /// version.
    pub fn push(&mut self, component: Component, dev: bool) {
        let path = Arc::clone(&self.path);
        self.push_at(path, component, dev);
    }

    /// Records a package whose version is only a constraint's bound (`>=1.0`): not pinned.
    pub fn push_constraint(&mut self, kind: EcosystemKind, name: &str, version: &str, dev: bool) {
        if name.trim().is_empty() {
            return;
        }
        self.push(Component::new(Ecosystem::new(kind), name, version), dev);
        if let Some(last) = self.packages.last_mut() {
            last.pinned = false;
        }
    }

    /// Records a package of ecosystem `kind`; empty names are ignored.
    pub fn push_new(&mut self, kind: EcosystemKind, name: &str, version: &str, dev: bool) {
        if name.trim().is_empty() {
            return;
        }
        self.push(Component::new(Ecosystem::new(kind), name, version), dev);
    }

    /// Records a package proven by another file (an included requirements file).
    pub fn push_at(&mut self, path: Arc<Path>, component: Component, dev: bool) {
        let pinned = !component.version.is_empty();
        self.packages.push(FoundPackage {
            component,
            evidence: self.evidence,
            path,
            dev,
            pinned,
            collector: self.collector,
        });
    }

    /// Records a non-fatal problem with one entry; collection of the file goes on.
    pub fn warn(&mut self, err: CollectError) {
        self.errors.push(ScanError::collect(
            self.path.to_path_buf(),
            self.collector,
            err,
        ));
    }

    /// Records a non-fatal problem with another file (an include that cannot be read).
    pub fn warn_at(&mut self, path: &Path, err: CollectError) {
        self.errors
            .push(ScanError::collect(path.to_path_buf(), self.collector, err));
    }
}

/// Reads a regular file into `buf`, refusing files over `limit` bytes. Never blocks on a FIFO
/// or device that replaced the file after the walk saw it (opened non-blocking, then checked).
pub fn read_capped(path: &Path, limit: u64, buf: &mut Vec<u8>) -> Result<(), CollectError> {
    buf.clear();
    let mut file = open_capped(path, limit)?;
    // The file may grow between metadata and read: read at most limit + 1 bytes.
    (&mut file).take(limit.saturating_add(1)).read_to_end(buf)?;
    if buf.len() as u64 > limit {
        return Err(CollectError::TooLarge {
            size: buf.len() as u64,
            limit,
        });
    }
    Ok(())
}

/// Opens a regular file of at most `limit` bytes, without blocking on FIFOs or devices.
pub fn open_capped(path: &Path, limit: u64) -> Result<std::fs::File, CollectError> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // O_NONBLOCK: opening a FIFO must not wait for a writer.
        options.custom_flags(0o4000);
    }
    let file = options.open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(CollectError::Io(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a regular file",
        )));
    }
    if meta.len() > limit {
        return Err(CollectError::TooLarge {
            size: meta.len(),
            limit,
        });
    }
    Ok(file)
}

/// Runs `collector` on the file at `path` outside a walk (tests, single-file callers).
pub fn collect_file(collector: &dyn Collector, path: &Path) -> Collected {
    let mut out = Collected::new(Arc::from(path), collector);
    let mut buf = Vec::new();
    let result = read_capped(path, collector.size_limit(), &mut buf)
        .and_then(|()| collector.collect(&SourceFile { path, bytes: &buf }, &mut out));
    if let Err(err) = result {
        out.warn(err);
    }
    out
}
