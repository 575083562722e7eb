//! `go.mod`: `require`d modules (direct and `// indirect`), after `replace` directives, plus a
//! `stdlib` pseudo-module at the `toolchain` (or else `go`) version so Go standard-library
//! advisories can match. Versions lose their `v` prefix (`v1.2.3` → `1.2.3`, OSV's spelling).
//! A replacement by a local path reports that path with an empty version.
//!
//! Before Go 1.17, `go.mod` lists only direct dependencies; for those files the sibling
//! `go.sum` (`x.sum` beside `x.mod`) is read too and every module with a content hash is
//! added. Hand-written parser: line-oriented, blocks `(` … `)`, `//` comments, quoted paths.

use std::path::Path;

use vigil_core::{EcosystemKind, Evidence};

use crate::collector::{Collected, Collector, FilePattern, SourceFile, read_capped};
use crate::error::CollectError;

/// `go.mod`. See the module doc.
#[derive(Debug, Clone, Copy)]
pub struct GoModFile;

const GO_SUM_LIMIT: u64 = 64 << 20;

#[derive(Debug, Default)]
struct GoMod {
    go: Option<String>,
    toolchain: Option<String>,
    requires: Vec<(String, String)>,
    /// (old path, old version if any, new path, new version if any)
    replaces: Vec<(String, Option<String>, String, Option<String>)>,
}

impl Collector for GoModFile {
    fn name(&self) -> &'static str {
        "go-mod"
    }

    fn evidence(&self) -> Evidence {
        Evidence::Declared
    }

    fn patterns(&self) -> &'static [FilePattern] {
        &[FilePattern::Name("go.mod")]
    }

    fn collect(&self, file: &SourceFile<'_>, out: &mut Collected) -> Result<(), CollectError> {
        let text = file.text("go.mod")?;
        let mut gomod = parse(text)?;
        if gomod.go.as_deref().is_some_and(before_go_1_17) {
            add_go_sum(file.path, &mut gomod, out);
        }
        for (path, version) in &gomod.requires {
            let (path, version) = replace(&gomod, path, version);
            out.push_new(
                EcosystemKind::Go,
                path,
                version.trim_start_matches('v'),
                false,
            );
        }
        let stdlib = gomod
            .toolchain
            .as_deref()
            .and_then(|t| t.strip_prefix("go"))
            .map(|t| t.split(['-', '+']).next().unwrap_or(t))
            .or(gomod.go.as_deref());
        if let Some(version) = stdlib {
            out.push_new(EcosystemKind::Go, "stdlib", version, false);
        }
        Ok(())
    }
}

fn before_go_1_17(go: &str) -> bool {
    let mut parts = go.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    let major = parts.next().unwrap_or(0);
    let minor = parts.next().unwrap_or(0);
    major == 1 && minor < 17
}

fn replace<'a>(gomod: &'a GoMod, path: &'a str, version: &'a str) -> (&'a str, &'a str) {
    for (old, old_version, new, new_version) in &gomod.replaces {
        if old == path && old_version.as_deref().is_none_or(|v| v == version) {
            if new.starts_with("./") || new.starts_with("../") || new.starts_with('/') {
                return (new, "");
            }
            return (new, new_version.as_deref().unwrap_or(version));
        }
    }
    (path, version)
}

fn add_go_sum(mod_path: &Path, gomod: &mut GoMod, out: &mut Collected) {
    let sum_path = mod_path.with_extension("sum");
    let mut buf = Vec::new();
    match read_capped(&sum_path, GO_SUM_LIMIT, &mut buf) {
        Ok(()) => {}
        Err(CollectError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => return,
        Err(err) => {
            out.warn_at(&sum_path, err);
            return;
        }
    }
    let text = String::from_utf8_lossy(&buf);
    let mut known: std::collections::HashSet<(String, String)> =
        gomod.requires.iter().cloned().collect();
    for line in text.lines() {
        let mut fields = line.split_whitespace();
        let (Some(path), Some(version)) = (fields.next(), fields.next()) else {
            continue;
        };
        if version.ends_with("/go.mod") {
            continue; // only the go.mod hash: the module's code is not used
        }
        let entry = (path.to_string(), version.to_string());
        if known.insert(entry.clone()) {
            gomod.requires.push(entry);
        }
    }
}

fn parse(text: &str) -> Result<GoMod, CollectError> {
    let mut gomod = GoMod::default();
    let mut block: Option<String> = None;
    let mut saw_directive = false;
    for (index, raw) in text.lines().enumerate() {
        let line = raw.split("//").next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let tokens: Vec<&str> = line
            .split_whitespace()
            .map(|t| t.trim_matches('"'))
            .collect();
        if let Some(verb) = block.as_deref() {
            if line == ")" {
                block = None;
                continue;
            }
            let verb = verb.to_string();
            apply(&mut gomod, &verb, &tokens, index + 1)?;
            continue;
        }
        let Some((&verb, args)) = tokens.split_first() else {
            continue;
        };
        if !matches!(
            verb,
            "module"
                | "go"
                | "toolchain"
                | "require"
                | "replace"
                | "exclude"
                | "retract"
                | "godebug"
                | "tool"
                | "ignore"
        ) {
            return Err(CollectError::syntax_at(
                "go.mod",
                index + 1,
                format!("unknown directive {verb:?}"),
            ));
        }
        saw_directive = true;
        if args == ["("] {
            block = Some(verb.to_string());
            continue;
        }
        apply(&mut gomod, verb, args, index + 1)?;
    }
    if !saw_directive && !text.trim().is_empty() {
        return Err(CollectError::syntax("go.mod", "no directives"));
    }
    Ok(gomod)
}

fn apply(gomod: &mut GoMod, verb: &str, args: &[&str], line: usize) -> Result<(), CollectError> {
    match verb {
        "go" => gomod.go = args.first().map(|s| s.to_string()),
        "toolchain" => gomod.toolchain = args.first().map(|s| s.to_string()),
        "require" => match args {
            [path, version, ..] => gomod.requires.push((path.to_string(), version.to_string())),
            _ => {
                return Err(CollectError::syntax_at(
                    "go.mod",
                    line,
                    "require needs a path and a version",
                ));
            }
        },
        "replace" => {
            let Some(arrow) = args.iter().position(|a| *a == "=>") else {
                return Err(CollectError::syntax_at(
                    "go.mod",
                    line,
                    "replace without `=>`",
                ));
            };
            let (left, right) = args.split_at(arrow);
            let right = right.get(1..).unwrap_or_default();
            match (left, right) {
                ([old, rest @ ..], [new, new_rest @ ..]) => gomod.replaces.push((
                    old.to_string(),
                    rest.first().map(|v| v.to_string()),
                    new.to_string(),
                    new_rest.first().map(|v| v.to_string()),
                )),
                _ => {
                    return Err(CollectError::syntax_at(
                        "go.mod",
                        line,
                        "replace needs a module on each side",
                    ));
                }
            }
        }
        _ => {}
    }
    Ok(())
}
