//! [`Sighting`]: one component at one location, with evidence and the processes that loaded
//! it — the common shape of what the path scan and the process scan find, so the two merge.
//!
//! The rule: the same component at the same location, from either side, is **one** sighting
//! with the strongest evidence (a package the path scan found `INSTALLED` and a process has
//! `LOADED` is `LOADED`), the loading processes of both, and the location as the path scan
//! wrote it (relative to the target the user gave). "Same location" compares canonical paths
//! (symlinks resolved) inside one filesystem view: this host's, or one container's (paths in
//! a container's mount namespace are not paths here; they are labelled with the container,
//! `3f2a9c0b1d2e:/app/node_modules/debug/package.json`, as `docker cp` writes them).
//!
//! Report shape ([`component_instances`]): `LOADED` sightings stay one instance per location,
//! each with exactly the processes that loaded it; `INSTALLED` and `DECLARED` ones are grouped
//! per (component, evidence, dev) with every location, as the path scan always reported them.

use std::cmp::Ordering;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use vigil_core::{Component, Evidence};
use vigil_inventory::FoundPackage;
use vigil_report::{ComponentInstance, ComponentRef, ProcessRef};

use crate::processes::Namespace;

/// Where a component was seen. Equality, hashing and order use the filesystem view and the
/// path only; [`Location::display`] is how it is shown.
#[derive(Clone, Debug)]
pub struct Location {
    /// The container's mount namespace, `None` for this host's filesystem view.
    pub namespace: Option<u64>,
    /// The path in that view (canonical once [`merge_sightings`] or the process scan made
    /// it so).
    pub path: PathBuf,
    /// The location as reported.
    pub display: String,
}

impl Location {
    /// A location in `namespace` (`None`: this host), shown as the path, prefixed with the
    /// namespace's label for a container.
    pub fn new(namespace: Option<&Namespace>, path: &Path) -> Location {
        let display = match namespace {
            Some(ns) => format!("{}:{}", ns.label, path.display()),
            None => path.display().to_string(),
        };
        Location {
            namespace: namespace.map(|n| n.mnt),
            path: path.to_path_buf(),
            display,
        }
    }

    fn key(&self) -> (Option<u64>, &Path) {
        (self.namespace, &self.path)
    }
}

impl PartialEq for Location {
    fn eq(&self, other: &Location) -> bool {
        self.key() == other.key()
    }
}

impl Eq for Location {}

impl Hash for Location {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.key().hash(state);
    }
}

impl PartialOrd for Location {
    fn partial_cmp(&self, other: &Location) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Location {
    fn cmp(&self, other: &Location) -> Ordering {
        self.key().cmp(&other.key())
    }
}

/// A component at a location. See the module doc.
#[derive(Clone, Debug)]
pub struct Sighting {
    /// The component.
    pub component: Component,
    /// The strongest evidence for it at this location.
    pub evidence: Evidence,
    /// Where.
    pub location: Location,
    /// Only a development dependency.
    pub dev: bool,
    /// The version is exact (see [`FoundPackage::pinned`]).
    pub pinned: bool,
    /// The processes that loaded it here.
    pub processes: BTreeSet<ProcessRef>,
}

impl Sighting {
    /// The path scan's view of `package`.
    pub fn from_package(package: &FoundPackage) -> Sighting {
        Sighting {
            component: package.component.clone(),
            evidence: package.evidence,
            location: Location::new(None, &package.path),
            dev: package.dev,
            pinned: package.pinned,
            processes: BTreeSet::new(),
        }
    }

    /// Folds `other` (the same component at the same location) into this one.
    pub fn absorb(&mut self, other: Sighting) {
        self.evidence = self.evidence.max(other.evidence);
        self.dev &= other.dev;
        self.pinned |= other.pinned;
        self.processes.extend(other.processes);
    }
}

/// Sightings of the path scan's packages.
pub fn path_sightings(packages: &[FoundPackage]) -> Vec<Sighting> {
    packages.iter().map(Sighting::from_package).collect()
}

/// Merges the path scan's sightings with the process scan's (see the module doc). The path
/// side's locations are made canonical only for components the process side saw (the others
/// cannot merge), so a path-only component costs nothing here. O(n) plus one `realpath` per
/// such location.
pub fn merge_sightings(paths: Vec<Sighting>, processes: Vec<Sighting>) -> Vec<Sighting> {
    let seen: HashSet<&Component> = processes.iter().map(|s| &s.component).collect();
    let mut canonical = Canonical::default();
    let mut merged: HashMap<(Component, Location), Sighting> = HashMap::new();
    let mut order = Vec::new();
    for mut sighting in paths {
        if sighting.location.namespace.is_none() && seen.contains(&sighting.component) {
            sighting.location.path = canonical.get(&sighting.location.path);
        }
        insert(&mut merged, &mut order, sighting);
    }
    for sighting in processes {
        insert(&mut merged, &mut order, sighting);
    }
    order
        .into_iter()
        .filter_map(|key| merged.remove(&key))
        .collect()
}

fn insert(
    merged: &mut HashMap<(Component, Location), Sighting>,
    order: &mut Vec<(Component, Location)>,
    sighting: Sighting,
) {
    let key = (sighting.component.clone(), sighting.location.clone());
    match merged.get_mut(&key) {
        Some(existing) => existing.absorb(sighting),
        None => {
            order.push(key.clone());
            merged.insert(key, sighting);
        }
    }
}

/// `realpath` with a cache; a path that cannot be resolved (gone, unreadable) stays as it is,
/// made absolute.
#[derive(Debug, Default)]
pub(crate) struct Canonical {
    cache: HashMap<PathBuf, PathBuf>,
}

impl Canonical {
    pub(crate) fn get(&mut self, path: &Path) -> PathBuf {
        if let Some(hit) = self.cache.get(path) {
            return hit.clone();
        }
        let resolved = std::fs::canonicalize(path)
            .or_else(|_| std::path::absolute(path))
            .unwrap_or_else(|_| path.to_path_buf());
        self.cache.insert(path.to_path_buf(), resolved.clone());
        resolved
    }
}

/// The report's component instances (see the module doc for the grouping).
pub fn component_instances(sightings: &[Sighting]) -> Vec<ComponentInstance> {
    type Group<'a> = (&'a Component, Evidence, bool);
    let mut grouped: HashMap<Group<'_>, BTreeSet<&str>> = HashMap::new();
    let mut loaded: HashMap<(&Component, &str), (bool, BTreeSet<&ProcessRef>)> = HashMap::new();
    for s in sightings {
        if s.evidence == Evidence::Loaded {
            let entry = loaded
                .entry((&s.component, s.location.display.as_str()))
                .or_insert((true, BTreeSet::new()));
            entry.0 &= s.dev;
            entry.1.extend(&s.processes);
        } else {
            grouped
                .entry((&s.component, s.evidence, s.dev))
                .or_default()
                .insert(s.location.display.as_str());
        }
    }
    let mut out: Vec<ComponentInstance> = grouped
        .into_iter()
        .map(
            |((component, evidence, dev), locations)| ComponentInstance {
                component: ComponentRef::new(component),
                evidence,
                locations: locations.into_iter().map(str::to_owned).collect(),
                dev,
                processes: Vec::new(),
            },
        )
        .collect();
    out.extend(
        loaded.into_iter().map(
            |((component, location), (dev, processes))| ComponentInstance {
                component: ComponentRef::new(component),
                evidence: Evidence::Loaded,
                locations: vec![location.to_owned()],
                dev,
                processes: processes.into_iter().cloned().collect(),
            },
        ),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_core::Ecosystem;

    fn sighting(name: &str, evidence: Evidence, path: &str, pids: &[u32]) -> Sighting {
        Sighting {
            component: Component::new(Ecosystem::parse("npm"), name, "1.0.0"),
            evidence,
            location: Location::new(None, Path::new(path)),
            dev: false,
            pinned: true,
            processes: pids
                .iter()
                .map(|&pid| ProcessRef {
                    pid,
                    exe: Some("/usr/bin/node".into()),
                    container_id: None,
                })
                .collect(),
        }
    }

    #[test]
    fn same_component_same_place_merges_to_the_strongest() {
        let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let dir = tmp.path().join("node_modules/a");
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(dir.join("package.json"), "{}").unwrap_or_else(|e| panic!("{e}"));
        // The path scan wrote the path through a `..` detour; the process side is canonical.
        let detour = tmp
            .path()
            .join("node_modules/../node_modules/a/package.json");
        let canonical =
            std::fs::canonicalize(dir.join("package.json")).unwrap_or_else(|e| panic!("{e}"));
        let paths = vec![
            sighting("a", Evidence::Installed, &detour.to_string_lossy(), &[]),
            sighting("b", Evidence::Installed, "/elsewhere/b/package.json", &[]),
        ];
        let processes = vec![
            sighting("a", Evidence::Loaded, &canonical.to_string_lossy(), &[42]),
            sighting("a", Evidence::Loaded, &canonical.to_string_lossy(), &[43]),
            sighting("a", Evidence::Installed, "/other/a/package.json", &[]),
        ];
        let merged = merge_sightings(paths, processes);
        let got: Vec<(String, Evidence, String, Vec<u32>)> = merged
            .iter()
            .map(|s| {
                (
                    s.component.name.as_str().to_owned(),
                    s.evidence,
                    s.location.display.clone(),
                    s.processes.iter().map(|p| p.pid).collect(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                (
                    "a".to_owned(),
                    Evidence::Loaded,
                    detour.display().to_string(),
                    vec![42, 43]
                ),
                (
                    "b".to_owned(),
                    Evidence::Installed,
                    "/elsewhere/b/package.json".to_owned(),
                    vec![]
                ),
                (
                    "a".to_owned(),
                    Evidence::Installed,
                    "/other/a/package.json".to_owned(),
                    vec![]
                ),
            ]
        );
    }

    #[test]
    fn loaded_instances_stay_per_location() {
        let sightings = vec![
            sighting("a", Evidence::Loaded, "/x/a/package.json", &[1]),
            sighting("a", Evidence::Loaded, "/y/a/package.json", &[2]),
            sighting("a", Evidence::Installed, "/z/a/package.json", &[]),
            sighting("a", Evidence::Installed, "/w/a/package.json", &[]),
        ];
        let mut got: Vec<(Evidence, Vec<String>, Vec<u32>)> = component_instances(&sightings)
            .into_iter()
            .map(|i| {
                (
                    i.evidence,
                    i.locations,
                    i.processes.iter().map(|p| p.pid).collect(),
                )
            })
            .collect();
        got.sort();
        assert_eq!(
            got,
            [
                (
                    Evidence::Installed,
                    vec![
                        "/w/a/package.json".to_owned(),
                        "/z/a/package.json".to_owned()
                    ],
                    vec![]
                ),
                (
                    Evidence::Loaded,
                    vec!["/x/a/package.json".to_owned()],
                    vec![1]
                ),
                (
                    Evidence::Loaded,
                    vec!["/y/a/package.json".to_owned()],
                    vec![2]
                ),
            ]
        );
    }

    #[test]
    fn container_locations_never_merge_with_host_paths() {
        let ns = Namespace {
            mnt: 4026532000,
            label: "3f2a9c0b1d2e".into(),
        };
        let inside = Location::new(Some(&ns), Path::new("/app/node_modules/a/package.json"));
        let host = Location::new(None, Path::new("/app/node_modules/a/package.json"));
        assert_ne!(inside, host);
        assert_eq!(
            inside.display,
            "3f2a9c0b1d2e:/app/node_modules/a/package.json"
        );
    }
}
