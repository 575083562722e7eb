//! Maven `pom.xml`: the direct dependencies a POM declares, without network resolution.
//!
//! Read: `dependencies` of the project and of its `profiles` (all of them: a profile may be
//! active where the artifact is built), and plugin dependencies (build-time, flagged dev-only).
//! Versions: literal, `${property}` (from `properties`, the project's own `project.version` /
//! `project.groupId` / `project.parent.version`, recursively, depth-bounded), or from
//! `dependencyManagement` when the dependency states none; a range `[1.0,2.0)` reports its
//! lower bound, marked not pinned. A local parent POM (`relativePath`, default `../pom.xml`,
//! only when its coordinates match the `parent` element; at most 8 levels) contributes its
//! properties, managed versions and dependencies. `test` and `provided` scopes are dev-only.
//! A dependency without a `groupId` is skipped; the same `group:artifact` is reported once,
//! first declaration wins. Unresolvable versions are reported empty. Encodings: UTF-8 and
//! ISO-8859-1 / Windows-1252 declarations (transcoded).

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use quick_xml::events::Event;
use vigil_core::{EcosystemKind, Evidence};

use crate::collector::{Collected, Collector, FilePattern, SourceFile, read_capped};
use crate::error::CollectError;

/// `pom.xml`. See the module doc.
#[derive(Debug, Clone, Copy)]
pub struct MavenPom;

const POM_LIMIT: u64 = 16 << 20;
const MAX_PARENTS: usize = 8;
const MAX_INTERPOLATION_DEPTH: usize = 16;
const MAX_XML_DEPTH: usize = 256;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum DependencyKind {
    Direct,
    Managed,
    Plugin,
}

#[derive(Debug, Default, Clone)]
struct Dependency {
    group: String,
    artifact: String,
    version: String,
    scope: String,
}

#[derive(Debug, Default)]
struct Pom {
    group: String,
    artifact: String,
    version: String,
    parent_group: String,
    parent_artifact: String,
    parent_version: String,
    parent_relative_path: Option<String>,
    has_parent: bool,
    properties: Vec<(String, String)>,
    dependencies: Vec<(DependencyKind, Dependency)>,
}

impl Collector for MavenPom {
    fn name(&self) -> &'static str {
        "maven-pom"
    }

    fn evidence(&self) -> Evidence {
        Evidence::Declared
    }

    fn patterns(&self) -> &'static [FilePattern] {
        &[FilePattern::Name("pom.xml")]
    }

    fn size_limit(&self) -> u64 {
        POM_LIMIT
    }

    fn collect(&self, file: &SourceFile<'_>, out: &mut Collected) -> Result<(), CollectError> {
        let pom = parse_pom(file.bytes)?;
        let mut chain = vec![pom];
        load_parents(file.path, &mut chain, out);
        let resolved = Resolver::new(&chain);
        // Managed versions, nearest POM first (the first insertion wins). O(n) overall.
        let mut managed: HashMap<(String, String), String> = HashMap::new();
        for pom in &chain {
            for (kind, dep) in &pom.dependencies {
                if *kind == DependencyKind::Managed {
                    let key = (
                        resolved.interpolate(&dep.group),
                        resolved.interpolate(&dep.artifact),
                    );
                    managed
                        .entry(key)
                        .or_insert_with(|| resolved.interpolate(&dep.version));
                }
            }
        }
        let mut seen: HashSet<(String, String)> = HashSet::new();
        // Direct dependencies of the project first, then inherited ones.
        for pom in &chain {
            for (kind, dep) in &pom.dependencies {
                if *kind == DependencyKind::Managed {
                    continue;
                }
                let group = resolved.interpolate(&dep.group);
                let artifact = resolved.interpolate(&dep.artifact);
                if group.is_empty() || artifact.is_empty() {
                    continue;
                }
                let key = (group, artifact);
                if seen.contains(&key) {
                    continue;
                }
                let mut version = resolved.interpolate(&dep.version);
                if version.is_empty() {
                    version = managed.get(&key).cloned().unwrap_or_default();
                }
                let (version, pinned) = lower_bound(&version);
                let scope = resolved.interpolate(&dep.scope);
                let dev = *kind == DependencyKind::Plugin || scope == "test" || scope == "provided";
                let name = format!("{}:{}", key.0, key.1);
                if pinned {
                    out.push_new(EcosystemKind::Maven, &name, &version, dev);
                } else {
                    out.push_constraint(EcosystemKind::Maven, &name, &version, dev);
                }
                seen.insert(key);
            }
        }
        Ok(())
    }
}

/// `[1.0,2.0)` → (`1.0`, not pinned); a plain version stays pinned when not empty.
fn lower_bound(version: &str) -> (String, bool) {
    let v = version.trim();
    if let Some(range) = v.strip_prefix(['[', '(']) {
        let low = range.split([',', ']', ')']).next().unwrap_or("").trim();
        return (low.to_string(), false);
    }
    let unresolved = v.contains("${");
    if unresolved {
        return (String::new(), false);
    }
    (v.to_string(), !v.is_empty())
}

struct Resolver<'a> {
    chain: &'a [Pom],
    /// Properties of the whole chain, nearest POM first (the first definition wins).
    properties: HashMap<&'a str, &'a str>,
}

impl<'a> Resolver<'a> {
    fn new(chain: &'a [Pom]) -> Resolver<'a> {
        let mut properties = HashMap::new();
        for pom in chain {
            for (k, v) in &pom.properties {
                properties.entry(k.as_str()).or_insert(v.as_str());
            }
        }
        Resolver { chain, properties }
    }
}

impl Resolver<'_> {
    fn property(&self, key: &str) -> Option<String> {
        let project = self.chain.first()?;
        let builtin = match key {
            "project.version" | "pom.version" | "version" => Some(&project.version),
            "project.groupId" | "pom.groupId" | "groupId" => Some(&project.group),
            "project.artifactId" | "pom.artifactId" | "artifactId" => Some(&project.artifact),
            "project.parent.version" | "parent.version" => Some(&project.parent_version),
            "project.parent.groupId" | "parent.groupId" => Some(&project.parent_group),
            _ => None,
        };
        if let Some(value) = builtin.filter(|v| !v.is_empty()) {
            return Some(value.clone());
        }
        if key == "project.version" || key == "project.groupId" {
            // Inherited from the parent when the project does not state it.
            let value = if key == "project.version" {
                &project.parent_version
            } else {
                &project.parent_group
            };
            if !value.is_empty() {
                return Some(value.clone());
            }
        }
        self.properties.get(key).map(|v| v.to_string())
    }

    /// Replaces `${name}` references, recursively; unknown ones stay as written.
    fn interpolate(&self, value: &str) -> String {
        let mut current = value.trim().to_string();
        for _ in 0..MAX_INTERPOLATION_DEPTH {
            let Some(start) = current.find("${") else {
                break;
            };
            let Some(len) = current.get(start..).and_then(|s| s.find('}')) else {
                break;
            };
            let key = current.get(start + 2..start + len).unwrap_or("");
            let Some(replacement) = self.property(key) else {
                break;
            };
            current.replace_range(start..start + len + 1, &replacement);
        }
        current
    }
}

fn load_parents(path: &Path, chain: &mut Vec<Pom>, out: &mut Collected) {
    let mut dir: PathBuf = path.parent().map(Path::to_path_buf).unwrap_or_default();
    for _ in 0..MAX_PARENTS {
        let Some(child) = chain.last() else { return };
        if !child.has_parent {
            return;
        }
        let relative = child
            .parent_relative_path
            .clone()
            .unwrap_or_else(|| "../pom.xml".into());
        if relative.trim().is_empty() {
            return; // `<relativePath/>`: the parent comes from a repository
        }
        let mut parent_path = dir.join(relative.trim());
        if parent_path.is_dir() {
            parent_path.push("pom.xml");
        }
        let (want_group, want_artifact) =
            (child.parent_group.clone(), child.parent_artifact.clone());
        let mut buf = Vec::new();
        match read_capped(&parent_path, POM_LIMIT, &mut buf) {
            Ok(()) => {}
            Err(CollectError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => return,
            Err(err) => {
                out.warn_at(&parent_path, err);
                return;
            }
        }
        let parent = match parse_pom(&buf) {
            Ok(parent) => parent,
            Err(err) => {
                out.warn_at(&parent_path, err);
                return;
            }
        };
        let group = if parent.group.is_empty() {
            &parent.parent_group
        } else {
            &parent.group
        };
        if *group != want_group || parent.artifact != want_artifact {
            return; // a different project's POM sits there
        }
        dir = parent_path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        chain.push(parent);
    }
}

/// Transcodes ISO-8859-1 / Windows-1252 declared documents to UTF-8 (byte = code point; the
/// 0x80–0x9F differences of Windows-1252 do not occur in coordinates).
fn decode(bytes: &[u8]) -> std::borrow::Cow<'_, str> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let head = &bytes[..bytes.len().min(200)];
    let head = String::from_utf8_lossy(head).to_ascii_lowercase();
    let latin1 = head.starts_with("<?xml")
        && ["iso-8859-1", "latin1", "latin-1", "windows-1252", "cp1252"]
            .iter()
            .any(|e| head.contains(e));
    if latin1 {
        return std::borrow::Cow::Owned(bytes.iter().map(|&b| char::from(b)).collect());
    }
    String::from_utf8_lossy(bytes)
}

/// XML element names start with a letter or `_`; `<${x}.version>` is not one.
fn is_xml_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_alphabetic() || c == '_')
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | ':'))
}

fn parse_pom(bytes: &[u8]) -> Result<Pom, CollectError> {
    let text = decode(bytes);
    let mut reader = quick_xml::Reader::from_str(&text);
    let mut pom = Pom::default();
    let mut stack: Vec<String> = Vec::new();
    let mut buf = String::new();
    let mut current: Option<(DependencyKind, usize, Dependency)> = None;
    let mut saw_project = false;
    loop {
        let event = reader.read_event().map_err(|e| {
            let line = 1 + text
                .get(
                    ..usize::try_from(reader.error_position())
                        .unwrap_or(0)
                        .min(text.len()),
                )
                .map_or(0, |s| s.matches('\n').count());
            CollectError::syntax_at("pom.xml", line, e.to_string())
        })?;
        match event {
            Event::Start(e) => {
                let name = e.local_name().as_ref().to_string();
                if !is_xml_name(&name) {
                    return Err(CollectError::syntax(
                        "pom.xml",
                        format!("invalid element name {name:?}"),
                    ));
                }
                if stack.is_empty() {
                    if name != "project" {
                        return Err(CollectError::syntax(
                            "pom.xml",
                            format!("root element is <{name}>, not <project>"),
                        ));
                    }
                    saw_project = true;
                }
                if stack.len() >= MAX_XML_DEPTH {
                    return Err(CollectError::syntax(
                        "pom.xml",
                        "elements nested too deeply",
                    ));
                }
                stack.push(name);
                buf.clear();
                let n = stack.len();
                if n >= 2
                    && stack.get(n - 1).is_some_and(|s| s == "dependency")
                    && stack.get(n - 2).is_some_and(|s| s == "dependencies")
                {
                    let kind = if stack.iter().any(|s| s == "dependencyManagement") {
                        DependencyKind::Managed
                    } else if stack.iter().any(|s| s == "plugin" || s == "extension") {
                        DependencyKind::Plugin
                    } else {
                        DependencyKind::Direct
                    };
                    current = Some((kind, n, Dependency::default()));
                }
            }
            Event::Text(t) => buf.push_str(&t.xml10_content()),
            Event::CData(t) => buf.push_str(&t.xml10_content()),
            Event::GeneralRef(r) => {
                let name = r.as_ref().to_string();
                buf.push_str(match name.as_str() {
                    "amp" => "&",
                    "lt" => "<",
                    "gt" => ">",
                    "quot" => "\"",
                    "apos" => "'",
                    _ => "",
                });
            }
            Event::End(_) => {
                let n = stack.len();
                let value = buf.trim().to_string();
                buf.clear();
                if let Some((kind, depth, dep)) = current.as_mut() {
                    if n == *depth + 1 {
                        match stack.last().map(String::as_str) {
                            Some("groupId") => dep.group = value.clone(),
                            Some("artifactId") => dep.artifact = value.clone(),
                            Some("version") => dep.version = value.clone(),
                            Some("scope") => dep.scope = value.clone(),
                            _ => {}
                        }
                    } else if n == *depth {
                        let kind = *kind;
                        let dep = std::mem::take(dep);
                        pom.dependencies.push((kind, dep));
                        current = None;
                    }
                }
                let path: Vec<&str> = stack.iter().map(String::as_str).collect();
                match path.as_slice() {
                    ["project", "groupId"] => pom.group = value,
                    ["project", "artifactId"] => pom.artifact = value,
                    ["project", "version"] => pom.version = value,
                    ["project", "parent"] => pom.has_parent = true,
                    ["project", "parent", "groupId"] => pom.parent_group = value,
                    ["project", "parent", "artifactId"] => pom.parent_artifact = value,
                    ["project", "parent", "version"] => pom.parent_version = value,
                    ["project", "parent", "relativePath"] => pom.parent_relative_path = Some(value),
                    ["project", "properties", key]
                    | ["project", "profiles", "profile", "properties", key] => {
                        pom.properties.push((key.to_string(), value));
                    }
                    _ => {}
                }
                stack.pop();
            }
            Event::Empty(e) => {
                let name = e.local_name();
                if stack.len() == 2
                    && stack.first().is_some_and(|s| s == "project")
                    && stack.get(1).is_some_and(|s| s == "parent")
                    && name.as_ref() == "relativePath"
                {
                    pom.parent_relative_path = Some(String::new());
                }
                if stack.is_empty() && name.as_ref() == "project" {
                    saw_project = true;
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !saw_project {
        return Err(CollectError::syntax("pom.xml", "no <project> element"));
    }
    Ok(pom)
}
