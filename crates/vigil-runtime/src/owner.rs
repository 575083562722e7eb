//! Path → owning package: which package a file a process loaded belongs to.
//!
//! Two steps, kept apart on purpose:
//! 1. [`PackageSlot::locate`] looks at the path alone and finds the package *slot* it sits in:
//!    `…/node_modules/<pkg>/…` or `…/node_modules/@scope/pkg/…` (the innermost `node_modules`
//!    wins, which also covers pnpm's `.pnpm/<id>/node_modules/<pkg>`), `…/site-packages/…`
//!    (or Debian's `dist-packages`), or a `*.jar`/`*.war`/`*.ear` file. No I/O.
//! 2. A [`PackageMetadata`] reads the slot's metadata through the process's root
//!    (`/proc/PID/root`): `package.json`; the `*.dist-info` directories of the site-packages
//!    directory, indexed once by their `RECORD` files; the archive's `pom.properties`.
//!
//! The second step is the seam with `vigil-inventory`: [`InventoryMetadata`] (the default)
//! reads with the inventory's own parsers, so a package gets the same identity from a process
//! as from the on-disk scan. Tests plug in other readers through the trait.
//!
//! [`InventoryMetadata`]: crate::metadata::InventoryMetadata
//!
//! [`OwnerResolver`] caches per (mount namespace, slot): a site-packages directory is indexed
//! once however many files and processes hit it; a `package.json` is read once. Negative
//! results are cached too (a path with no owner stays cheap), except when the process's root
//! vanished mid-read. The caches are bounded ([`OwnerResolver::with_capacity`]); when full they
//! are dropped whole and rebuilt on demand — simple, and a sweep refills them in one pass.

use std::collections::HashMap;
use std::path::{Component as PathPart, Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;
use vigil_core::{Component, Ecosystem, EcosystemKind};

use crate::metadata::InventoryMetadata;

/// Where a file sits in a package layout, from its path alone.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum PackageSlot {
    /// `…/node_modules/<name>` or `…/node_modules/@scope/<name>`: the package directory.
    Npm {
        /// The package directory.
        dir: PathBuf,
    },
    /// A file under a `site-packages` or `dist-packages` directory.
    Python {
        /// The site-packages directory.
        site_packages: PathBuf,
        /// The file relative to it, `/`-separated as `RECORD` writes it.
        relative: String,
    },
    /// A Java archive.
    Jar {
        /// The archive.
        path: PathBuf,
    },
}

impl PackageSlot {
    /// Finds the slot `path` belongs to, if any.
    pub fn locate(path: &Path) -> Option<PackageSlot> {
        let parts: Vec<&std::ffi::OsStr> = path
            .components()
            .filter_map(|c| match c {
                PathPart::Normal(s) => Some(s),
                _ => None,
            })
            .collect();
        if let Some(i) = parts.iter().rposition(|p| *p == "node_modules")
            && let Some(dir) = npm_slot(&parts, i)
        {
            return Some(PackageSlot::Npm { dir });
        }
        if let Some(i) = parts
            .iter()
            .rposition(|p| *p == "site-packages" || *p == "dist-packages")
        {
            let rest = parts.get(i + 1..)?;
            if !rest.is_empty() {
                let relative = rest
                    .iter()
                    .map(|p| p.to_string_lossy())
                    .collect::<Vec<_>>()
                    .join("/");
                let site_packages = rooted(parts.get(..=i)?);
                return Some(PackageSlot::Python {
                    site_packages,
                    relative,
                });
            }
        }
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        matches!(ext.as_str(), "jar" | "war" | "ear").then(|| PackageSlot::Jar {
            path: path.to_path_buf(),
        })
    }
}

/// `node_modules` at `parts[i]`: the package directory after it, if the path goes there.
fn npm_slot(parts: &[&std::ffi::OsStr], i: usize) -> Option<PathBuf> {
    let first = parts.get(i + 1)?.to_str()?;
    if first.starts_with('.') {
        // `.bin`, `.pnpm` (its inner node_modules is found as the innermost), `.cache`.
        return None;
    }
    let end = if first.starts_with('@') {
        parts.get(i + 2)?;
        i + 2
    } else {
        i + 1
    };
    Some(rooted(parts.get(..=end)?))
}

fn rooted(parts: &[&std::ffi::OsStr]) -> PathBuf {
    let mut p = PathBuf::from("/");
    p.extend(parts);
    p
}

/// How the owner of a file was established.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OwnerSource {
    /// The `package.json` of the `node_modules` slot.
    PackageJson,
    /// Listed in a distribution's `*.dist-info/RECORD`.
    DistInfoRecord,
    /// Under a top-level directory a distribution owns (not listed file by file: a `.pyc`
    /// written later, or an `.egg-info` without a file list).
    DistInfoTopLevel,
    /// A `META-INF/maven/…/pom.properties` inside the archive (or an archive nested in it).
    PomProperties,
}

/// The package a file belongs to.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct Owner {
    /// The component.
    #[serde(serialize_with = "serialize_component")]
    pub component: Component,
    /// The package's root inside the process's mount namespace: the `node_modules/<pkg>`
    /// directory, the `*.dist-info` directory, or the jar.
    #[serde(serialize_with = "crate::process::serialize_path")]
    pub root: PathBuf,
    /// The file the on-disk inventory names as this package's location, inside the same
    /// mount namespace: the `package.json` of an npm slot, the `METADATA` / `PKG-INFO` of a
    /// distribution (or a distutils `*.egg-info` file itself), the archive itself. The path
    /// scan and the process scan agree on it, which is how their findings merge.
    #[serde(serialize_with = "crate::process::serialize_path")]
    pub manifest: PathBuf,
    /// How the owner was established.
    pub source: OwnerSource,
    /// Further components the same root carries: the other `pom.properties` of a shaded or
    /// fat jar (Spring Boot's `BOOT-INF/lib`). Loading the archive loads them all.
    #[serde(
        serialize_with = "serialize_components",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub bundled: Vec<Component>,
}

impl Owner {
    /// Every component at this root: [`Owner::component`], then [`Owner::bundled`].
    pub fn components(&self) -> impl Iterator<Item = &Component> {
        std::iter::once(&self.component).chain(&self.bundled)
    }
}

fn serialize_components<S: serde::Serializer>(c: &[Component], s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeSeq;
    let mut seq = s.serialize_seq(Some(c.len()))?;
    for component in c {
        seq.serialize_element(&ComponentJson(component))?;
    }
    seq.end()
}

struct ComponentJson<'a>(&'a Component);

impl Serialize for ComponentJson<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        serialize_component(self.0, s)
    }
}

fn serialize_component<S: serde::Serializer>(c: &Component, s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeStruct;
    let mut st = s.serialize_struct("Component", 3)?;
    st.serialize_field("ecosystem", &c.ecosystem.to_string())?;
    st.serialize_field("name", c.name.as_str())?;
    st.serialize_field("version", &*c.version)?;
    st.end()
}

/// One distribution of a site-packages directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Distribution {
    /// Project name as in `METADATA` (`Name:`).
    pub name: String,
    /// Version as in `METADATA` (`Version:`).
    pub version: String,
    /// The `*.dist-info` (or `*.egg-info`) directory name.
    pub info_dir: String,
    /// The metadata file, relative to site-packages (`x-1.0.dist-info/METADATA`,
    /// `x-1.0.egg-info/PKG-INFO`, or a distutils `x-1.0.egg-info` file).
    pub manifest: String,
    /// Files it installed, relative to site-packages (`RECORD`).
    pub files: Vec<String>,
    /// Top-level names it owns (`top_level.txt`, else the first path parts of `RECORD`).
    pub top_level: Vec<String>,
}

/// Reads package metadata at a slot. `fs_path` is the slot as seen from *this* process
/// (already prefixed with `/proc/PID/root`).
pub trait PackageMetadata {
    /// `(name, version)` from the `package.json` in `dir`.
    fn npm_package(&self, dir: &Path) -> Option<(String, String)>;
    /// Every distribution installed in the site-packages directory `dir`.
    fn python_distributions(&self, dir: &Path) -> Vec<Distribution>;
    /// `(group:artifact, version)` of every Maven artifact the archive at `path` carries,
    /// the archive's own first when it says which that is.
    fn jar(&self, path: &Path) -> Vec<(String, String)>;
}

/// A site-packages directory, indexed for lookups by relative path.
#[derive(Debug, Default)]
pub struct SitePackagesIndex {
    owners: Vec<Arc<Owner>>,
    by_file: HashMap<Box<str>, usize>,
    by_top_level: HashMap<Box<str>, usize>,
    by_info_dir: HashMap<Box<str>, usize>,
}

impl SitePackagesIndex {
    /// Indexes `distributions` of the site-packages directory at `site_packages` (the path
    /// inside the process's mount namespace).
    pub fn new(site_packages: &Path, distributions: Vec<Distribution>) -> SitePackagesIndex {
        let mut index = SitePackagesIndex::default();
        for d in distributions {
            let i = index.owners.len();
            index.owners.push(Arc::new(Owner {
                component: Component::new(Ecosystem::new(EcosystemKind::PyPI), &d.name, &d.version),
                root: site_packages.join(&d.info_dir),
                manifest: site_packages.join(&d.manifest),
                source: OwnerSource::DistInfoRecord,
                bundled: Vec::new(),
            }));
            for f in d.files {
                index.by_file.entry(f.into()).or_insert(i);
            }
            for t in d.top_level {
                index.by_top_level.entry(t.into()).or_insert(i);
            }
            index.by_info_dir.insert(d.info_dir.into(), i);
        }
        index
    }

    /// The owner of `relative` and how it was found.
    pub fn lookup(&self, relative: &str) -> Option<(Arc<Owner>, OwnerSource)> {
        if let Some(&i) = self.by_file.get(relative) {
            return Some((self.owners.get(i)?.clone(), OwnerSource::DistInfoRecord));
        }
        let first = relative.split('/').next()?;
        if let Some(&i) = self.by_info_dir.get(first) {
            return Some((self.owners.get(i)?.clone(), OwnerSource::DistInfoRecord));
        }
        // `pkg/...` or a single-module distribution `mod.py` / `mod.cpython-311-x86_64-linux-gnu.so`.
        let module = first.split('.').next().unwrap_or(first);
        let &i = self
            .by_top_level
            .get(first)
            .or_else(|| self.by_top_level.get(module))?;
        Some((self.owners.get(i)?.clone(), OwnerSource::DistInfoTopLevel))
    }

    /// Number of distributions.
    pub fn len(&self) -> usize {
        self.owners.len()
    }

    /// Whether no distribution was found.
    pub fn is_empty(&self) -> bool {
        self.owners.is_empty()
    }
}

/// Cache key: the mount namespace a path is interpreted in (`None` when unknown) and the slot.
type Key = (Option<u64>, PathBuf);

/// Resolves loaded paths to their owning packages, with per-slot caches.
#[derive(Debug)]
pub struct OwnerResolver<M: PackageMetadata = InventoryMetadata> {
    metadata: M,
    capacity: usize,
    npm: HashMap<Key, Option<Arc<Owner>>>,
    jars: HashMap<Key, Option<Arc<Owner>>>,
    site_packages: HashMap<Key, Arc<SitePackagesIndex>>,
}

impl Default for OwnerResolver<InventoryMetadata> {
    fn default() -> Self {
        OwnerResolver::new(InventoryMetadata)
    }
}

impl<M: PackageMetadata> OwnerResolver<M> {
    /// A resolver reading metadata with `metadata`, caching up to 100k slots per kind.
    pub fn new(metadata: M) -> OwnerResolver<M> {
        OwnerResolver::with_capacity(metadata, 100_000)
    }

    /// A resolver whose caches hold at most `capacity` slots each.
    pub fn with_capacity(metadata: M, capacity: usize) -> OwnerResolver<M> {
        OwnerResolver {
            metadata,
            capacity: capacity.max(1),
            npm: HashMap::new(),
            jars: HashMap::new(),
            site_packages: HashMap::new(),
        }
    }

    /// The owner of `path` (as seen inside mount namespace `mnt`), reading metadata under
    /// `fs_root` (`/proc/PID/root` of a process in that namespace).
    pub fn resolve(&mut self, fs_root: &Path, mnt: Option<u64>, path: &Path) -> Option<Arc<Owner>> {
        match PackageSlot::locate(path)? {
            PackageSlot::Npm { dir } => {
                let key = (mnt, dir);
                if let Some(hit) = self.npm.get(&key) {
                    return hit.clone();
                }
                let owner =
                    self.metadata
                        .npm_package(&under(fs_root, &key.1))
                        .map(|(name, version)| {
                            Arc::new(Owner {
                                component: Component::new(
                                    Ecosystem::new(EcosystemKind::Npm),
                                    &name,
                                    &version,
                                ),
                                root: key.1.clone(),
                                manifest: key.1.join("package.json"),
                                source: OwnerSource::PackageJson,
                                bundled: Vec::new(),
                            })
                        });
                remember(&mut self.npm, self.capacity, fs_root, key, owner.clone());
                owner
            }
            PackageSlot::Python {
                site_packages,
                relative,
            } => {
                let key = (mnt, site_packages);
                let index = match self.site_packages.get(&key) {
                    Some(index) => index.clone(),
                    None => {
                        let dists = self.metadata.python_distributions(&under(fs_root, &key.1));
                        let index = Arc::new(SitePackagesIndex::new(&key.1, dists));
                        if index.is_empty() && !fs_root.exists() {
                            return None;
                        }
                        if self.site_packages.len() >= self.capacity {
                            self.site_packages.clear();
                        }
                        self.site_packages.insert(key, index.clone());
                        index
                    }
                };
                let (owner, source) = index.lookup(&relative)?;
                if owner.source == source {
                    Some(owner)
                } else {
                    Some(Arc::new(Owner {
                        source,
                        ..(*owner).clone()
                    }))
                }
            }
            PackageSlot::Jar { path } => {
                let key = (mnt, path);
                if let Some(hit) = self.jars.get(&key) {
                    return hit.clone();
                }
                let maven = Ecosystem::new(EcosystemKind::Maven);
                let mut components = self
                    .metadata
                    .jar(&under(fs_root, &key.1))
                    .into_iter()
                    .map(|(name, version)| Component::new(maven.clone(), &name, &version));
                let owner = components.next().map(|component| {
                    Arc::new(Owner {
                        component,
                        root: key.1.clone(),
                        manifest: key.1.clone(),
                        source: OwnerSource::PomProperties,
                        bundled: components.collect(),
                    })
                });
                remember(&mut self.jars, self.capacity, fs_root, key, owner.clone());
                owner
            }
        }
    }

    /// Drops every cached slot (e.g. after packages were reinstalled).
    pub fn clear(&mut self) {
        self.npm.clear();
        self.jars.clear();
        self.site_packages.clear();
    }
}

/// Caches `owner`, except a miss caused by the process (and its root) going away.
fn remember(
    cache: &mut HashMap<Key, Option<Arc<Owner>>>,
    capacity: usize,
    fs_root: &Path,
    key: Key,
    owner: Option<Arc<Owner>>,
) {
    if owner.is_none() && !fs_root.exists() {
        return;
    }
    if cache.len() >= capacity {
        cache.clear();
    }
    cache.insert(key, owner);
}

/// `inner` (absolute, inside a mount namespace) under `root`.
fn under(root: &Path, inner: &Path) -> PathBuf {
    root.join(inner.strip_prefix("/").unwrap_or(inner))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_from_paths() {
        let npm = |d: &str| Some(PackageSlot::Npm { dir: d.into() });
        let py = |sp: &str, rel: &str| {
            Some(PackageSlot::Python {
                site_packages: sp.into(),
                relative: rel.into(),
            })
        };
        let jar = |p: &str| Some(PackageSlot::Jar { path: p.into() });
        let cases: &[(&str, Option<PackageSlot>)] = &[
            (
                "/app/node_modules/debug/src/index.js",
                npm("/app/node_modules/debug"),
            ),
            (
                "/app/node_modules/@ctrl/tinycolor/dist/index.js",
                npm("/app/node_modules/@ctrl/tinycolor"),
            ),
            (
                "/app/node_modules/a/node_modules/b/index.js",
                npm("/app/node_modules/a/node_modules/b"),
            ),
            (
                "/app/node_modules/.pnpm/debug@4.4.2/node_modules/debug/src/index.js",
                npm("/app/node_modules/.pnpm/debug@4.4.2/node_modules/debug"),
            ),
            ("/app/node_modules/.bin/tsc", None),
            ("/app/node_modules/@scope", None),
            (
                "/app/node_modules/sharp/build/Release/sharp.node",
                npm("/app/node_modules/sharp"),
            ),
            (
                "/usr/lib/python3/dist-packages/yaml/__init__.py",
                py("/usr/lib/python3/dist-packages", "yaml/__init__.py"),
            ),
            (
                "/venv/lib/python3.11/site-packages/six.py",
                py("/venv/lib/python3.11/site-packages", "six.py"),
            ),
            ("/venv/lib/python3.11/site-packages", None),
            (
                "/opt/app/lib/jackson-databind-2.15.2.jar",
                jar("/opt/app/lib/jackson-databind-2.15.2.jar"),
            ),
            ("/opt/app/app.WAR", jar("/opt/app/app.WAR")),
            ("/usr/lib/x86_64-linux-gnu/libc.so.6", None),
            (
                "relative/node_modules/x/y.js",
                npm("/relative/node_modules/x"),
            ),
            ("", None),
        ];
        for (path, want) in cases {
            assert_eq!(PackageSlot::locate(Path::new(path)), *want, "{path:?}");
        }
    }

    #[test]
    fn site_packages_lookup() {
        let dist = |name: &str, files: &[&str], top: &[&str]| Distribution {
            name: name.into(),
            version: "1.0".into(),
            info_dir: format!("{name}-1.0.dist-info"),
            manifest: format!("{name}-1.0.dist-info/METADATA"),
            files: files.iter().map(|s| s.to_string()).collect(),
            top_level: top.iter().map(|s| s.to_string()).collect(),
        };
        let index = SitePackagesIndex::new(
            Path::new("/sp"),
            vec![
                dist("alpha", &["alpha/__init__.py", "alpha/x.py"], &["alpha"]),
                dist("six", &["six.py"], &["six"]),
                dist("ext", &["_ext.cpython-311-x86_64-linux-gnu.so"], &["_ext"]),
            ],
        );
        let cases: &[(&str, Option<(&str, OwnerSource)>)] = &[
            ("alpha/x.py", Some(("alpha", OwnerSource::DistInfoRecord))),
            (
                "alpha/__pycache__/x.cpython-311.pyc",
                Some(("alpha", OwnerSource::DistInfoTopLevel)),
            ),
            ("six.py", Some(("six", OwnerSource::DistInfoRecord))),
            ("__pycache__/six.cpython-311.pyc", None),
            (
                "_ext.cpython-311-x86_64-linux-gnu.so",
                Some(("ext", OwnerSource::DistInfoRecord)),
            ),
            (
                "alpha-1.0.dist-info/METADATA",
                Some(("alpha", OwnerSource::DistInfoRecord)),
            ),
            ("beta/__init__.py", None),
        ];
        for (rel, want) in cases {
            let got = index.lookup(rel);
            let got = got.as_ref().map(|(o, s)| (o.component.name.as_str(), *s));
            assert_eq!(got, *want, "{rel}");
        }
    }

    proptest::proptest! {
        #[test]
        fn parsers_never_panic(s in "\\PC{0,200}") {
            let _ = PackageSlot::locate(Path::new(&s));
        }
    }
}
