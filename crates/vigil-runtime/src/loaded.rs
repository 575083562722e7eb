//! What a process has loaded *now*: files mapped into its memory (`/proc/PID/maps`) and files
//! it holds open (`/proc/PID/fd`). Both are snapshots; files opened and closed between sweeps
//! (a Python `import` of a pure-Python module, node's `require`) are only seen by the fanotify
//! watcher.
//!
//! Paths are as the process sees them, inside its mount namespace; read them through
//! `/proc/PID/root` (see [`crate::owner::OwnerResolver`]).
//!
//! **Reading is not loading.** A scanner (syft, trivy, vigil itself), a backup agent or
//! `grep -r` opens package files without running them. So a file held open (or seen opened by
//! the watcher) counts as evidence that a process *loaded* its package only when
//! - it is not package metadata ([`is_package_metadata`]: `package.json`, a `*.dist-info`
//!   or `*.egg-info` file — what installers and scanners read), and
//! - the process can run that ecosystem's code ([`Runs`]): it has mapped the interpreter
//!   (`node`, `python3.11`, `java`) or an embedded runtime library (`libpython3.11.so` in
//!   uwsgi or Apache's mod_wsgi, `libnode.so`, `libjvm.so`).
//!
//! A file *mapped* into memory is always a load: mapping is how native code is run.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;

use crate::error::Unreadable;
use crate::procfs::{Pid, ProcfsRoot, path_from_bytes, strip_deleted};

/// How a file was seen in a process.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LoadedVia {
    /// Mapped into memory (`.so`, `.node`, extension modules, mmapped jars).
    Mapped,
    /// Held open through a file descriptor.
    Open,
    /// Seen being opened by the fanotify watcher.
    Observed,
}

/// A file a process has loaded.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct LoadedFile {
    /// The path inside the process's mount namespace.
    #[serde(serialize_with = "crate::process::serialize_path")]
    pub path: PathBuf,
    /// How it was seen (the strongest: mapped over open).
    pub via: LoadedVia,
    /// The file was deleted or replaced since it was loaded (` (deleted)` in the kernel's
    /// view): the process runs code no longer on disk.
    pub deleted: bool,
}

/// Parses `/proc/PID/maps`: one file per distinct path, in first-seen order. Anonymous and
/// pseudo mappings (`[heap]`, `[stack]`, `[vdso]`, `[anon:…]`) are skipped.
///
/// A line is `start-end perms offset major:minor inode   path`; the path is everything after
/// the fifth field and may contain spaces; the kernel escapes `\n` in it as `\012` and appends
/// ` (deleted)` for unlinked files.
pub fn parse_maps(bytes: &[u8]) -> Vec<(PathBuf, bool)> {
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for line in bytes.split(|&b| b == b'\n') {
        let Some(path) = maps_path(line) else {
            continue;
        };
        if !path.starts_with(b"/") || !seen.insert(path.to_vec()) {
            continue;
        }
        let unescaped = unescape_newlines(path);
        out.push(strip_deleted(path_from_bytes(unescaped)));
    }
    out
}

/// The path column of one maps line, if any.
fn maps_path(line: &[u8]) -> Option<&[u8]> {
    let mut rest = line;
    for _ in 0..5 {
        let start = rest.iter().position(|&b| b != b' ')?;
        rest = rest.get(start..)?;
        let end = rest.iter().position(|&b| b == b' ')?;
        rest = rest.get(end..)?;
    }
    let start = rest.iter().position(|&b| b != b' ')?;
    rest.get(start..).filter(|p| !p.is_empty())
}

fn unescape_newlines(path: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(path.len());
    let mut i = 0;
    while let Some(&b) = path.get(i) {
        if path.get(i..i + 4) == Some(b"\\012") {
            out.push(b'\n');
            i += 4;
        } else {
            out.push(b);
            i += 1;
        }
    }
    out
}

/// Whether `path` is package metadata rather than package content: a `package.json`, or a
/// file of a `*.dist-info` / `*.egg-info` / `EGG-INFO` directory (or a distutils
/// `*.egg-info` file). Installers, resolvers and scanners read these; opening one is not
/// running the package.
pub fn is_package_metadata(path: &std::path::Path) -> bool {
    if path.file_name().is_some_and(|n| n == "package.json") {
        return true;
    }
    path.components().any(|c| {
        let c = c.as_os_str().as_encoded_bytes();
        c.ends_with(b".dist-info") || c.ends_with(b".egg-info") || c == b"EGG-INFO"
    })
}

/// Which ecosystems' code a process can run, judged from the files it has mapped: the
/// interpreter executable or an embedded runtime library. See the module doc.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Runs {
    /// Node.js (npm packages): `node`, `nodejs`, `bun`, `deno`, or `libnode.so`.
    pub node: bool,
    /// Python (PyPI packages): `python3.11`, `pypy3`, or `libpython3.11.so`.
    pub python: bool,
    /// A JVM (Maven archives): `java`, or `libjvm.so`.
    pub java: bool,
}

impl Runs {
    /// From the paths a process has mapped.
    pub fn from_mapped<'a>(paths: impl IntoIterator<Item = &'a std::path::Path>) -> Runs {
        let mut runs = Runs::default();
        for path in paths {
            let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            match crate::kind::RuntimeKind::from_exe_name(name) {
                Some(crate::kind::RuntimeKind::Node) => runs.node = true,
                Some(crate::kind::RuntimeKind::Python) => runs.python = true,
                Some(crate::kind::RuntimeKind::Java) => runs.java = true,
                _ if name.starts_with("libpython") || name.starts_with("libpypy") => {
                    runs.python = true
                }
                _ if name.starts_with("libnode.so") => runs.node = true,
                _ if name == "libjvm.so" => runs.java = true,
                _ => {}
            }
        }
        runs
    }

    /// Reads `/proc/PID/maps` of `pid`; nothing when it cannot be read.
    pub fn of(procfs: &ProcfsRoot, pid: Pid) -> Runs {
        procfs
            .read(pid, "maps")
            .map(|maps| {
                let mapped = parse_maps(&maps);
                Runs::from_mapped(mapped.iter().map(|(p, _)| p.as_path()))
            })
            .unwrap_or_default()
    }

    /// Whether code of `ecosystem` can run in the process. Ecosystems without a runtime of
    /// their own here (native libraries of any kind) always can.
    pub fn runs(&self, ecosystem: &vigil_core::Ecosystem) -> bool {
        use vigil_core::EcosystemKind;
        match ecosystem.kind() {
            EcosystemKind::Npm => self.node,
            EcosystemKind::PyPI => self.python,
            EcosystemKind::Maven => self.java,
            _ => true,
        }
    }
}

/// Files `pid` has mapped or open now: maps first, then regular-file fd targets, one entry
/// per path (mapped wins over open).
pub fn loaded_files(procfs: &ProcfsRoot, pid: Pid) -> Result<Vec<LoadedFile>, Unreadable> {
    let mut files: BTreeMap<PathBuf, LoadedFile> = BTreeMap::new();
    // Either source alone is still worth reporting (fds may be denied where maps are not);
    // only when both fail is the process unreadable.
    let (maps, fds) = match (procfs.read(pid, "maps"), procfs.list(pid, "fd")) {
        (Err(e), Err(_)) => return Err(e),
        (maps, fds) => (maps.ok(), fds.ok()),
    };
    if let Some(maps) = &maps {
        for (path, deleted) in parse_maps(maps) {
            files.entry(path.clone()).or_insert(LoadedFile {
                path,
                via: LoadedVia::Mapped,
                deleted,
            });
        }
    }
    if let Some(fds) = fds {
        for fd in fds {
            let Some(fd) = fd.to_str() else { continue };
            let Ok(target) = procfs.readlink(pid, &format!("fd/{fd}")) else {
                continue;
            };
            // `socket:[…]`, `pipe:[…]`, `anon_inode:…` are not files.
            if !target.as_os_str().as_encoded_bytes().starts_with(b"/") {
                continue;
            }
            let (path, deleted) = strip_deleted(target);
            files.entry(path.clone()).or_insert(LoadedFile {
                path,
                via: LoadedVia::Open,
                deleted,
            });
        }
    }
    Ok(files.into_values().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_lines() {
        let maps = b"55d0c0a00000-55d0c0a28000 r--p 00000000 fd:01 1835013                    /usr/bin/python3.11\n\
55d0c0a28000-55d0c0b00000 r-xp 00028000 fd:01 1835013                    /usr/bin/python3.11\n\
55d0c1000000-55d0c1200000 rw-p 00000000 00:00 0                          [heap]\n\
7f1a2b000000-7f1a2b021000 rw-p 00000000 00:00 0 \n\
7f1a2c000000-7f1a2c010000 r-xp 00000000 fd:01 2000001                    /srv/app/site-packages/fast_ext/_speedups.cpython-311-x86_64-linux-gnu.so\n\
7f1a2d000000-7f1a2d010000 r-xp 00000000 fd:01 2000002                    /opt/my app/lib with space.so\n\
7f1a2e000000-7f1a2e010000 r-xp 00000000 fd:01 2000003                    /opt/new\\012line.so (deleted)\n\
7f1a2f000000-7f1a2f010000 rw-s 00000000 00:01 4000                       /memfd:wasm (deleted)\n\
7ffc00000000-7ffc00021000 rw-p 00000000 00:00 0                          [stack]\n\
7ffc00100000-7ffc00102000 r-xp 00000000 00:00 0                          [vdso]\n\
garbage\n";
        let got: Vec<(String, bool)> = parse_maps(maps)
            .into_iter()
            .map(|(p, d)| (p.to_string_lossy().into_owned(), d))
            .collect();
        let want: Vec<(String, bool)> = [
            ("/usr/bin/python3.11", false),
            (
                "/srv/app/site-packages/fast_ext/_speedups.cpython-311-x86_64-linux-gnu.so",
                false,
            ),
            ("/opt/my app/lib with space.so", false),
            ("/opt/new\nline.so", true),
            ("/memfd:wasm", true),
        ]
        .iter()
        .map(|(p, d)| (p.to_string(), *d))
        .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn metadata_is_not_content() {
        let cases = [
            ("/app/node_modules/debug/package.json", true),
            ("/app/node_modules/debug/src/package.json", true),
            ("/app/node_modules/debug/src/index.js", false),
            ("/sp/requests-2.32.3.dist-info/METADATA", true),
            ("/sp/requests-2.32.3.dist-info/RECORD", true),
            ("/sp/old-1.0.egg-info/PKG-INFO", true),
            ("/sp/pycups-2.0.1.egg-info", true),
            ("/sp/x.egg/EGG-INFO/PKG-INFO", true),
            ("/sp/requests/__init__.py", false),
            ("/opt/app.jar", false),
        ];
        for (path, want) in cases {
            assert_eq!(
                is_package_metadata(std::path::Path::new(path)),
                want,
                "{path}"
            );
        }
    }

    #[test]
    fn runtimes_from_mapped_files() {
        let cases: &[(&[&str], Runs)] = &[
            (
                &["/usr/bin/node", "/usr/lib/x86_64-linux-gnu/libc.so.6"],
                Runs {
                    node: true,
                    python: false,
                    java: false,
                },
            ),
            (
                &["/root/.pyenv/versions/3.11.7/bin/python3.11"],
                Runs {
                    node: false,
                    python: true,
                    java: false,
                },
            ),
            // uwsgi / Apache mod_wsgi embed Python; a JVM maps libjvm.
            (
                &[
                    "/usr/bin/uwsgi",
                    "/usr/lib/x86_64-linux-gnu/libpython3.11.so.1.0",
                ],
                Runs {
                    node: false,
                    python: true,
                    java: false,
                },
            ),
            (
                &[
                    "/usr/lib/jvm/java-17/bin/java",
                    "/usr/lib/jvm/java-17/lib/server/libjvm.so",
                ],
                Runs {
                    node: false,
                    python: false,
                    java: true,
                },
            ),
            (
                &["/usr/lib/libnode.so.109"],
                Runs {
                    node: true,
                    python: false,
                    java: false,
                },
            ),
            // A scanner (a Go binary) runs none of them.
            (&["/usr/local/bin/syft"], Runs::default()),
        ];
        for (paths, want) in cases {
            let got = Runs::from_mapped(paths.iter().map(std::path::Path::new));
            assert_eq!(got, *want, "{paths:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn maps_never_panics(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400)) {
            let _ = parse_maps(&bytes);
        }
    }
}

/// A package a process has loaded, with the files that show it.
#[derive(Clone, Debug, Serialize)]
pub struct LoadedPackage {
    /// The owning package.
    pub owner: std::sync::Arc<crate::owner::Owner>,
    /// The files of it the process has mapped or open.
    pub files: Vec<LoadedFile>,
}

/// The packages `pid` (in mount namespace `mnt`) has loaded now, each with its files, in
/// order of package root. Files no package owns (the interpreter, libc) are left out; see
/// [`loaded_snapshot`] for them. Open files count only as the module doc says (not metadata,
/// and only in a process that can run the package).
pub fn loaded_packages<M: crate::owner::PackageMetadata>(
    procfs: &ProcfsRoot,
    pid: Pid,
    mnt: Option<u64>,
    resolver: &mut crate::owner::OwnerResolver<M>,
) -> Result<Vec<LoadedPackage>, Unreadable> {
    loaded_snapshot(procfs, pid, mnt, resolver).map(|(packages, _)| packages)
}

/// [`loaded_packages`], plus the mapped files no language package owns — the executable,
/// libc, `libssl.so.3` — for the OS package resolver ([`crate::OsPackages`]). One read of
/// `maps` and `fd` serves both.
pub fn loaded_snapshot<M: crate::owner::PackageMetadata>(
    procfs: &ProcfsRoot,
    pid: Pid,
    mnt: Option<u64>,
    resolver: &mut crate::owner::OwnerResolver<M>,
) -> Result<(Vec<LoadedPackage>, Vec<LoadedFile>), Unreadable> {
    let files = loaded_files(procfs, pid)?;
    let runs = Runs::from_mapped(
        files
            .iter()
            .filter(|f| f.via == LoadedVia::Mapped)
            .map(|f| f.path.as_path()),
    );
    let fs_root = procfs.pid_path(pid, "root");
    let mut by_root: BTreeMap<PathBuf, LoadedPackage> = BTreeMap::new();
    let mut unowned = Vec::new();
    for file in files {
        if file.via != LoadedVia::Mapped && is_package_metadata(&file.path) {
            continue;
        }
        let Some(owner) = resolver.resolve(&fs_root, mnt, &file.path) else {
            if file.via == LoadedVia::Mapped {
                unowned.push(file);
            }
            continue;
        };
        by_root
            .entry(owner.root.clone())
            .or_insert_with(|| LoadedPackage {
                owner,
                files: Vec::new(),
            })
            .files
            .push(file);
    }
    let packages = by_root
        .into_values()
        .filter(|p| {
            runs.runs(&p.owner.component.ecosystem)
                || p.files.iter().any(|f| f.via == LoadedVia::Mapped)
        })
        .collect();
    Ok((packages, unowned))
}
