//! [`OsPackages`]: the OS packages owning the executables and shared libraries a process has
//! mapped — `libssl3` loaded by every TLS-speaking process, the interpreter's own package.
//!
//! The file lists come from the package manager's database, read through `/proc/PID/root`
//! (a container's own distribution, not the host's):
//! - **dpkg** (Debian, Ubuntu): `var/lib/dpkg/info/<package>[:<arch>].list`, one path a line;
//! - **apk** (Alpine, Wolfi): `lib/apk/db/installed`, `F:` directory and `R:` file lines.
//!
//! Names and versions are those `vigil-inventory`'s collectors report for the same database
//! (`dpkg-installed`, `apk-installed`), with the same ecosystem (`Debian:12`, `Alpine:v3.20`),
//! so a library's package loaded by a process and the same package found installed by a path
//! scan are one component at one location (the database file). RPM-based systems keep their
//! file lists inside the rpm database's headers; they are not resolved here yet.
//!
//! Only paths that can be mapped are indexed (shared objects, and files under `bin`, `sbin`
//! and `libexec` directories), and `/usr/lib` ≡ `/lib` (merged-`/usr` systems list either).
//! The index is built once per mount namespace, bounded ([`MAX_INDEXED`] paths, [`MAX_READ`]
//! bytes of lists), and costs a few tens of milliseconds on a desktop-sized Debian.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use vigil_core::Component;
use vigil_inventory::collect_file;
use vigil_inventory::collector::read_capped;
use vigil_inventory::installed::apk::InstalledApkPackages;
use vigil_inventory::installed::dpkg::InstalledDpkgPackages;

use crate::loaded::LoadedFile;
use crate::procfs::{Pid, ProcfsRoot};

/// Bound on paths indexed per mount namespace.
pub const MAX_INDEXED: usize = 2_000_000;
/// Bound on the bytes of file lists read per mount namespace.
pub const MAX_READ: u64 = 512 << 20;

/// An OS package a process has loaded, with the files that show it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OsLoaded {
    /// The package, as the inventory names it.
    pub component: Component,
    /// The package database, inside the process's mount namespace: the location the path
    /// scan reports for the same package.
    pub database: PathBuf,
    /// The mapped files it owns.
    pub files: Vec<PathBuf>,
}

/// One mount namespace's index.
#[derive(Debug, Default)]
struct OsIndex {
    database: PathBuf,
    /// Package name → its components (several for multi-arch installs).
    components: Vec<Vec<Component>>,
    /// Normalized path → index into `components`.
    by_path: HashMap<Box<[u8]>, u32>,
}

/// Resolves mapped files to OS packages, one index per mount namespace.
#[derive(Debug, Default)]
pub struct OsPackages {
    indexes: HashMap<Option<u64>, Arc<OsIndex>>,
}

impl OsPackages {
    /// An empty resolver.
    pub fn new() -> OsPackages {
        OsPackages::default()
    }

    /// The OS packages owning `files` (mapped by process `pid` in mount namespace `mnt`);
    /// files of no OS package are left out.
    pub fn owners(
        &mut self,
        procfs: &ProcfsRoot,
        pid: Pid,
        mnt: Option<u64>,
        files: &[LoadedFile],
    ) -> Vec<OsLoaded> {
        if files.is_empty() {
            return Vec::new();
        }
        let index = match self.indexes.get(&mnt) {
            Some(index) => index.clone(),
            None => {
                let fs_root = procfs.pid_path(pid, "root");
                let index = OsIndex::build(&fs_root);
                if index.by_path.is_empty() && !fs_root.exists() {
                    // The process went away: try again with the next one of this namespace.
                    return Vec::new();
                }
                let index = Arc::new(index);
                self.indexes.insert(mnt, index.clone());
                index
            }
        };
        let mut found: HashMap<u32, Vec<PathBuf>> = HashMap::new();
        for file in files {
            let bytes = file.path.as_os_str().as_encoded_bytes();
            if let Some(&i) = index.by_path.get(normalize(bytes).as_ref()) {
                found.entry(i).or_default().push(file.path.clone());
            }
        }
        let mut out = Vec::new();
        for (i, files) in found {
            for component in index.components.get(i as usize).into_iter().flatten() {
                out.push(OsLoaded {
                    component: component.clone(),
                    database: index.database.clone(),
                    files: files.clone(),
                });
            }
        }
        out.sort_by(|a, b| a.component.cmp(&b.component));
        out
    }
}

impl OsIndex {
    fn build(fs_root: &Path) -> OsIndex {
        let dpkg = fs_root.join("var/lib/dpkg/status");
        if dpkg.is_file() {
            return OsIndex::dpkg(fs_root, &dpkg);
        }
        let apk = fs_root.join("lib/apk/db/installed");
        if apk.is_file() {
            return OsIndex::apk(&apk);
        }
        OsIndex::default()
    }

    /// Name → slot, creating it from the collector's components of that name.
    fn slots(
        packages: Vec<vigil_inventory::FoundPackage>,
    ) -> (Vec<Vec<Component>>, HashMap<String, u32>) {
        let mut components: Vec<Vec<Component>> = Vec::new();
        let mut by_name: HashMap<String, u32> = HashMap::new();
        for p in packages {
            let name = p.component.name.as_str().to_owned();
            let slot = *by_name.entry(name).or_insert_with(|| {
                components.push(Vec::new());
                u32::try_from(components.len() - 1).unwrap_or(u32::MAX)
            });
            if let Some(list) = components.get_mut(slot as usize)
                && !list.contains(&p.component)
            {
                list.push(p.component);
            }
        }
        (components, by_name)
    }

    fn dpkg(fs_root: &Path, status: &Path) -> OsIndex {
        let (components, by_name) =
            OsIndex::slots(collect_file(&InstalledDpkgPackages, status).packages);
        let mut index = OsIndex {
            database: PathBuf::from("/var/lib/dpkg/status"),
            components,
            by_path: HashMap::new(),
        };
        let Ok(entries) = std::fs::read_dir(fs_root.join("var/lib/dpkg/info")) else {
            return index;
        };
        let mut budget = MAX_READ;
        let mut buf = Vec::new();
        for entry in entries.filter_map(|e| e.ok()) {
            let name = entry.file_name();
            let Some(stem) = name.to_str().and_then(|n| n.strip_suffix(".list")) else {
                continue;
            };
            let package = stem.split(':').next().unwrap_or(stem);
            let Some(&slot) = by_name.get(package) else {
                continue;
            };
            if read_capped(&entry.path(), budget, &mut buf).is_err() {
                continue;
            }
            budget = budget.saturating_sub(buf.len() as u64);
            for line in buf.split(|&b| b == b'\n') {
                index.add(line, slot);
            }
            if budget == 0 || index.by_path.len() >= MAX_INDEXED {
                break;
            }
        }
        index
    }

    fn apk(installed: &Path) -> OsIndex {
        let (components, by_name) =
            OsIndex::slots(collect_file(&InstalledApkPackages, installed).packages);
        let mut index = OsIndex {
            database: PathBuf::from("/lib/apk/db/installed"),
            components,
            by_path: HashMap::new(),
        };
        let mut buf = Vec::new();
        if read_capped(installed, MAX_READ, &mut buf).is_err() {
            return index;
        }
        let mut slot = None;
        let mut dir: &[u8] = b"";
        for line in buf.split(|&b| b == b'\n') {
            if line.is_empty() {
                slot = None;
                dir = b"";
            } else if let Some(name) = line.strip_prefix(b"P:") {
                slot = std::str::from_utf8(name)
                    .ok()
                    .and_then(|n| by_name.get(n))
                    .copied();
            } else if let Some(d) = line.strip_prefix(b"F:") {
                dir = d;
            } else if let (Some(file), Some(slot)) = (line.strip_prefix(b"R:"), slot) {
                let mut path = Vec::with_capacity(dir.len() + file.len() + 2);
                path.push(b'/');
                path.extend_from_slice(dir);
                if !dir.is_empty() {
                    path.push(b'/');
                }
                path.extend_from_slice(file);
                index.add(&path, slot);
            }
            if index.by_path.len() >= MAX_INDEXED {
                break;
            }
        }
        index
    }

    fn add(&mut self, path: &[u8], slot: u32) {
        if mappable(path) {
            self.by_path
                .entry(normalize(path).into_owned().into_boxed_slice())
                .or_insert(slot);
        }
    }
}

/// Whether a listed path can show up in `maps`: a shared object or an executable directory's
/// file (directories themselves end without a name we would ever look up).
fn mappable(path: &[u8]) -> bool {
    if !path.starts_with(b"/") {
        return false;
    }
    let name_start = path.iter().rposition(|&b| b == b'/').map_or(0, |i| i + 1);
    let name = path.get(name_start..).unwrap_or_default();
    let dir = path.get(..name_start).unwrap_or_default();
    memchr::memmem::find(name, b".so").is_some()
        || [&b"/bin/"[..], b"/sbin/", b"/libexec/"]
            .iter()
            .any(|d| memchr::memmem::find(dir, d).is_some())
}

/// `/usr/lib/x` → `/lib/x` (and bin, sbin, lib32, lib64): merged-`/usr` systems map one and
/// list the other.
fn normalize(path: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    const MERGED: [&[u8]; 5] = [
        b"/usr/lib/",
        b"/usr/lib64/",
        b"/usr/lib32/",
        b"/usr/bin/",
        b"/usr/sbin/",
    ];
    if MERGED.iter().any(|m| path.starts_with(m)) {
        std::borrow::Cow::Borrowed(path.get(4..).unwrap_or(path))
    } else {
        std::borrow::Cow::Borrowed(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::loaded::LoadedVia;

    fn file(path: &str) -> LoadedFile {
        LoadedFile {
            path: path.into(),
            via: LoadedVia::Mapped,
            deleted: false,
        }
    }

    fn write(root: &Path, rel: &str, text: &str) {
        let path = root.join(rel);
        std::fs::create_dir_all(path.parent().unwrap_or(root)).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(path, text).unwrap_or_else(|e| panic!("{e}"));
    }

    /// A procfs with process 9's root at `root`.
    fn procfs(tmp: &Path) -> (ProcfsRoot, PathBuf) {
        let root = tmp.join("9/root");
        std::fs::create_dir_all(&root).unwrap_or_else(|e| panic!("{e}"));
        (ProcfsRoot::new(tmp), root)
    }

    #[test]
    fn dpkg_lists_resolve_mapped_files() {
        let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let (procfs, root) = procfs(tmp.path());
        write(&root, "etc/os-release", "ID=debian\nVERSION_ID=\"12\"\n");
        write(
            &root,
            "var/lib/dpkg/status",
            "Package: libssl3\nStatus: install ok installed\nArchitecture: amd64\nVersion: 3.0.15-1~deb12u1\n\n\
             Package: libc6\nStatus: install ok installed\nVersion: 2.36-9+deb12u9\n\n\
             Package: gone\nStatus: deinstall ok config-files\nVersion: 1\n",
        );
        write(
            &root,
            "var/lib/dpkg/info/libssl3:amd64.list",
            "/.\n/usr\n/usr/lib/x86_64-linux-gnu\n/usr/lib/x86_64-linux-gnu/libssl.so.3\n/usr/share/doc/libssl3/copyright\n",
        );
        // Listed under /lib, mapped under /usr/lib (merged /usr).
        write(
            &root,
            "var/lib/dpkg/info/libc6:amd64.list",
            "/lib/x86_64-linux-gnu/libc.so.6\n/sbin/ldconfig\n",
        );
        write(&root, "var/lib/dpkg/info/gone.list", "/usr/lib/gone.so\n");
        let mut os = OsPackages::new();
        let got = os.owners(
            &procfs,
            9,
            Some(1),
            &[
                file("/usr/lib/x86_64-linux-gnu/libssl.so.3"),
                file("/usr/lib/x86_64-linux-gnu/libc.so.6"),
                file("/usr/lib/gone.so"),
                file("/opt/app/libown.so"),
            ],
        );
        let got: Vec<String> = got
            .iter()
            .map(|o| format!("{} {} {}", o.component, o.database.display(), o.files.len()))
            .collect();
        assert_eq!(
            got,
            [
                "Debian:12:libc6@2.36-9+deb12u9 /var/lib/dpkg/status 1",
                "Debian:12:libssl3@3.0.15-1~deb12u1 /var/lib/dpkg/status 1",
            ]
        );
    }

    #[test]
    fn apk_database_resolves_mapped_files() {
        let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let (procfs, root) = procfs(tmp.path());
        write(&root, "etc/os-release", "ID=alpine\nVERSION_ID=3.20.3\n");
        write(
            &root,
            "lib/apk/db/installed",
            "P:musl\nV:1.2.5-r0\nF:lib\nR:ld-musl-x86_64.so.1\nR:libc.musl-x86_64.so.1\n\n\
             P:libcrypto3\nV:3.3.2-r0\nF:usr/lib\nR:libcrypto.so.3\n",
        );
        let mut os = OsPackages::new();
        let got = os.owners(
            &procfs,
            9,
            None,
            &[
                file("/lib/ld-musl-x86_64.so.1"),
                file("/usr/lib/libcrypto.so.3"),
            ],
        );
        let got: Vec<String> = got.iter().map(|o| o.component.to_string()).collect();
        assert_eq!(
            got,
            [
                "Alpine:v3.20:libcrypto3@3.3.2-r0",
                "Alpine:v3.20:musl@1.2.5-r0"
            ]
        );
    }

    #[test]
    fn mappable_paths() {
        let cases: &[(&str, bool)] = &[
            ("/usr/lib/x86_64-linux-gnu/libssl.so.3", true),
            ("/usr/bin/python3.11", true),
            ("/usr/lib/jvm/java-17/bin/java", true),
            ("/usr/libexec/git-core/git", true),
            ("/usr/share/doc/x/copyright", false),
            ("/usr/lib/x86_64-linux-gnu", false),
            ("relative.so", false),
        ];
        for (path, want) in cases {
            assert_eq!(mappable(path.as_bytes()), *want, "{path}");
        }
    }
}
