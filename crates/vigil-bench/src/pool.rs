//! Where the simulated fleet's packages come from: real (ecosystem, name, version) triples.
//!
//! Clean packages are read from the benchmark corpus (`../shared/bench/make-corpus.sh`): the
//! npm app's `package-lock.json` (every installed package, nested versions included) and the
//! venv's `*.dist-info/METADATA`. Malicious ones are read from an OSV intel source (the 33k
//! `malicious-packages-osv.zip`): a MALICIOUS advisory's first listed version, kept only when
//! vigil's own matcher (built from the same records) says it matches — a record whose ranges
//! were refined away would plant a package that rightly yields no finding.

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::{Context, Result, bail};
use serde_json::Value;
use vigil_core::Ecosystem;
use vigil_intel::advisory::RecordOrigin;
use vigil_intel::import::read_source;
use vigil_intel::{Advisory, AdvisoryKind, ImportOptions, IndexBuilder, SourceKind};

/// One package version.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Package {
    /// OSV ecosystem (`npm`, `PyPI`).
    pub ecosystem: String,
    /// Name as published.
    pub name: String,
    /// Version.
    pub version: String,
}

/// The clean packages of the corpus: npm-app's lockfile and the venv's distributions.
pub fn corpus_packages(corpus: &Path) -> Result<Vec<Package>> {
    let mut out = BTreeSet::new();
    let lock = corpus.join("npm-app").join("package-lock.json");
    let text = std::fs::read_to_string(&lock).with_context(|| {
        format!(
            "{}: cannot read (build the corpus with ../shared/bench/make-corpus.sh)",
            lock.display()
        )
    })?;
    let json: Value =
        serde_json::from_str(&text).with_context(|| format!("{}: not JSON", lock.display()))?;
    let Some(packages) = json.get("packages").and_then(Value::as_object) else {
        bail!(
            "{}: no `packages` object (lockfileVersion ≥ 2 expected)",
            lock.display()
        );
    };
    for (key, entry) in packages {
        let Some((_, slot)) = key.rsplit_once("node_modules/") else {
            continue; // the root project
        };
        if entry.get("link").and_then(Value::as_bool) == Some(true) {
            continue;
        }
        let name = entry.get("name").and_then(Value::as_str).unwrap_or(slot);
        if let Some(version) = entry.get("version").and_then(Value::as_str) {
            out.insert(Package {
                ecosystem: "npm".into(),
                name: name.into(),
                version: version.into(),
            });
        }
    }
    // The venv is optional: a corpus built for npm only still makes a fleet.
    let lib = corpus.join("venv").join("lib");
    if let Ok(pythons) = std::fs::read_dir(&lib) {
        for python in pythons.flatten() {
            let site = python.path().join("site-packages");
            let Ok(entries) = std::fs::read_dir(&site) else {
                continue;
            };
            for entry in entries.flatten() {
                if !entry.file_name().to_string_lossy().ends_with(".dist-info") {
                    continue;
                }
                let Ok(metadata) = std::fs::read_to_string(entry.path().join("METADATA")) else {
                    continue;
                };
                let field = |key: &str| {
                    metadata
                        .lines()
                        .take_while(|l| !l.is_empty())
                        .find_map(|l| l.strip_prefix(key).map(str::trim).map(str::to_owned))
                };
                if let (Some(name), Some(version)) = (field("Name:"), field("Version:")) {
                    out.insert(Package {
                        ecosystem: "PyPI".into(),
                        name,
                        version,
                    });
                }
            }
        }
    }
    if out.is_empty() {
        bail!("{}: no packages found in the corpus", corpus.display());
    }
    Ok(out.into_iter().collect())
}

/// One (ecosystem, name, version) per MALICIOUS npm or PyPI advisory of `source` that vigil's
/// matcher confirms, at most one version per package name.
pub fn malicious_packages(source: &Path) -> Result<Vec<Package>> {
    let kind = if source.extension().is_some_and(|e| e == "zip") {
        SourceKind::OsvZip
    } else if source.is_dir() {
        SourceKind::OsvDir
    } else {
        SourceKind::OsvJson
    };
    let imported = read_source(source, kind, &ImportOptions::default())
        .with_context(|| format!("{}: cannot read the intel", source.display()))?;
    let advisories: Vec<Advisory> = imported
        .records
        .iter()
        .map(|r| {
            Advisory::from_record(
                &r.record,
                RecordOrigin {
                    source: "vigil-bench".into(),
                    location: r.location.clone(),
                    line: r.line,
                },
            )
        })
        .collect();
    let confirmed = malicious_of(advisories);
    if confirmed.is_empty() {
        bail!(
            "{}: no malicious npm or PyPI version to plant",
            source.display()
        );
    }
    Ok(confirmed)
}

/// One confirmed malicious (ecosystem, name, version) per package name of `advisories`.
pub fn malicious_of(advisories: Vec<Advisory>) -> Vec<Package> {
    let mut candidates = BTreeSet::new();
    for a in &advisories {
        if a.kind != AdvisoryKind::Malicious || a.is_withdrawn() {
            continue;
        }
        for set in &a.affected {
            if set.ecosystem != "npm" && set.ecosystem != "PyPI" {
                continue;
            }
            if let Some(version) = set.versions.first() {
                candidates.insert(Package {
                    ecosystem: set.ecosystem.clone(),
                    name: set.name.clone(),
                    version: version.clone(),
                });
            }
        }
    }
    let mut builder = IndexBuilder::new();
    builder.extend(advisories);
    let index = builder.build();
    let mut names = BTreeSet::new();
    candidates
        .into_iter()
        .filter(|p| {
            !index
                .lookup(&Ecosystem::parse(&p.ecosystem), &p.name, &p.version)
                .is_empty()
        })
        .filter(|p| names.insert((p.ecosystem.clone(), p.name.clone())))
        .collect()
}
