//! `bun.lock`, Bun's text lockfile: JSON with trailing commas. `packages` maps an install
//! path (`a/b` for `b` nested under `a`) to a tuple whose first element is `name@version`.
//! Git, GitHub, file and tarball specs are reported with an empty version. An entry whose
//! tuple is malformed is reported as an error; the rest of the file is still read. Dev-only
//! flags are computed from the graph: packages reachable only from the workspaces'
//! `devDependencies`.

use std::collections::{HashMap, HashSet};

use serde::Deserialize;
use vigil_core::{EcosystemKind, Evidence};

use crate::collector::{Collected, Collector, FilePattern, SourceFile};
use crate::error::CollectError;
use crate::lenient::{Entries, LenientString, split_name_at};

/// `bun.lock`. See the module doc.
#[derive(Debug, Clone, Copy)]
pub struct BunLockfile;

#[derive(Deserialize)]
struct Lock {
    #[serde(default)]
    packages: Entries<serde_json::Value>,
    #[serde(default)]
    workspaces: Entries<Workspace>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct Workspace {
    name: LenientString,
    dependencies: Entries<serde_json::Value>,
    optional_dependencies: Entries<serde_json::Value>,
    peer_dependencies: Entries<serde_json::Value>,
    dev_dependencies: Entries<serde_json::Value>,
}

impl Collector for BunLockfile {
    fn name(&self) -> &'static str {
        "bun-lock"
    }

    fn evidence(&self) -> Evidence {
        Evidence::Declared
    }

    fn patterns(&self) -> &'static [FilePattern] {
        &[FilePattern::Name("bun.lock")]
    }

    fn collect(&self, file: &SourceFile<'_>, out: &mut Collected) -> Result<(), CollectError> {
        let json = strip_trailing_commas(file.bytes);
        let lock: Lock =
            serde_json::from_slice(&json).map_err(|e| CollectError::json("bun.lock", &e))?;
        let dev_only = dev_only(&lock);
        for (key, tuple) in &lock.packages.0 {
            let spec = tuple
                .as_array()
                .and_then(|t| t.first())
                .and_then(|v| v.as_str());
            let Some((name, version)) = spec.and_then(split_name_at) else {
                out.warn(CollectError::field(
                    format!("packages.{key:?}"),
                    "first tuple element is not a \"name@version\" string",
                ));
                continue;
            };
            let version = if version.contains(':') || version.contains('/') {
                ""
            } else {
                version
            };
            out.push_new(
                EcosystemKind::Npm,
                name,
                version,
                dev_only.contains(key.as_str()),
            );
        }
        Ok(())
    }
}

/// Package keys reachable only from `devDependencies` of the workspaces. A dependency `d` of
/// the package at key `p` resolves like Node does: `p/d`, then `d` under each ancestor of `p`,
/// then the top-level `d`. Linear in the graph (times the nesting depth).
fn dev_only(lock: &Lock) -> HashSet<String> {
    let packages: HashMap<&str, &serde_json::Value> = lock
        .packages
        .0
        .iter()
        .map(|(k, v)| (k.as_str(), v))
        .collect();
    let resolve = |from: &str, dep: &str| -> Option<String> {
        let mut base = from.to_string();
        loop {
            let candidate = if base.is_empty() {
                dep.to_string()
            } else {
                format!("{base}/{dep}")
            };
            if packages.contains_key(candidate.as_str()) {
                return Some(candidate);
            }
            if base.is_empty() {
                return None;
            }
            base = parent_key(&base).to_string();
        }
    };
    let walk = |roots: Vec<(String, String)>| -> HashSet<String> {
        let mut seen = HashSet::new();
        let mut stack: Vec<String> = roots
            .iter()
            .filter_map(|(from, dep)| resolve(from, dep))
            .collect();
        while let Some(key) = stack.pop() {
            if !seen.insert(key.clone()) {
                continue;
            }
            let deps = packages
                .get(key.as_str())
                .and_then(|t| t.as_array())
                .and_then(|t| t.iter().find(|v| v.is_object()));
            for group in ["dependencies", "optionalDependencies", "peerDependencies"] {
                if let Some(map) = deps.and_then(|d| d.get(group)).and_then(|g| g.as_object()) {
                    stack.extend(map.keys().filter_map(|dep| resolve(&key, dep)));
                }
            }
        }
        seen
    };
    let (mut prod_roots, mut dev_roots) = (Vec::new(), Vec::new());
    for (_, ws) in &lock.workspaces.0 {
        let scope = ws.name.as_str().to_string();
        let groups = [
            &ws.dependencies,
            &ws.optional_dependencies,
            &ws.peer_dependencies,
        ];
        for group in groups {
            prod_roots.extend(group.0.iter().map(|(dep, _)| (scope.clone(), dep.clone())));
        }
        dev_roots.extend(
            ws.dev_dependencies
                .0
                .iter()
                .map(|(dep, _)| (scope.clone(), dep.clone())),
        );
    }
    let prod = walk(prod_roots);
    walk(dev_roots)
        .into_iter()
        .filter(|k| !prod.contains(k))
        .collect()
}

/// `a/@s/b/c` → `a/@s/b`; `a` → ``. Scoped names (`@s/b`) are one step.
fn parent_key(key: &str) -> &str {
    let Some(cut) = key.rfind('/') else { return "" };
    let parent = key.get(..cut).unwrap_or("");
    // `…/@scope/name`: the slash belonged to the scoped name; cut before the scope.
    match parent.rfind('/') {
        Some(i) if parent.get(i + 1..).is_some_and(|s| s.starts_with('@')) => {
            parent.get(..i).unwrap_or("")
        }
        None if parent.starts_with('@') => "",
        _ => parent,
    }
}

/// Drops commas that are followed (after whitespace) by `}` or `]`, outside strings. Linear.
pub fn strip_trailing_commas(bytes: &[u8]) -> Vec<u8> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut out = Vec::with_capacity(bytes.len());
    let mut in_string = false;
    let mut escaped = false;
    for (i, &b) in bytes.iter().enumerate() {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
        } else if b == b'"' {
            in_string = true;
        } else if b == b',' {
            let next = bytes
                .get(i + 1..)
                .and_then(|rest| rest.iter().find(|c| !c.is_ascii_whitespace()));
            if matches!(next, Some(b'}') | Some(b']')) {
                continue;
            }
        }
        out.push(b);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parent_keys() {
        assert_eq!(parent_key("a"), "");
        assert_eq!(parent_key("a/b"), "a");
        assert_eq!(parent_key("@s/a"), "");
        assert_eq!(parent_key("@s/a/b"), "@s/a");
        assert_eq!(parent_key("a/@s/b"), "a");
        assert_eq!(parent_key("a/@s/b/c"), "a/@s/b");
    }

    #[test]
    fn dev_flags() {
        let lock = r#"{"lockfileVersion": 0, "workspaces": {"": {"name": "app",
            "dependencies": {"a": "^1"}, "devDependencies": {"b": "^1"}}},
          "packages": {
            "a": ["a@1.0.0", "", {"dependencies": {"shared": "^1"}}, "sha"],
            "b": ["b@1.0.0", "", {"dependencies": {"shared": "^2", "only-dev": "^1"}}, "sha"],
            "b/shared": ["shared@2.0.0", "", {}, "sha"],
            "shared": ["shared@1.0.0", "", {}, "sha"],
            "only-dev": ["only-dev@1.0.0", "", {}, "sha"],
          }}"#;
        let path = std::path::Path::new("/x/bun.lock");
        let mut out = Collected::new(std::sync::Arc::from(path), &BunLockfile);
        BunLockfile
            .collect(
                &SourceFile {
                    path,
                    bytes: lock.as_bytes(),
                },
                &mut out,
            )
            .unwrap_or_else(|e| panic!("{e}"));
        let got: Vec<String> = out
            .packages
            .iter()
            .map(|p| format!("{}{}", p.component, if p.dev { " dev" } else { "" }))
            .collect();
        assert_eq!(
            got,
            [
                "npm:a@1.0.0",
                "npm:b@1.0.0 dev",
                "npm:shared@2.0.0 dev",
                "npm:shared@1.0.0",
                "npm:only-dev@1.0.0 dev"
            ]
        );
    }

    #[test]
    fn trailing_commas() {
        let cases = [
            (r#"{"a": [1, 2, ], }"#, r#"{"a": [1, 2 ] }"#),
            (r#"{"a": ",}"}"#, r#"{"a": ",}"}"#),
            (r#"{"a": "\",]",}"#, r#"{"a": "\",]"}"#),
        ];
        for (input, want) in cases {
            assert_eq!(
                String::from_utf8_lossy(&strip_trailing_commas(input.as_bytes())),
                want
            );
        }
    }
}
