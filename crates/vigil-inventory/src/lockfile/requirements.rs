//! pip requirements files: `requirements*.txt`, `*requirements.txt`, `requirements/*.txt`.
//!
//! One requirement per logical line (`\` continues a line; `#` after whitespace starts a
//! comment). `name[extras] OP version ; markers --options`: per-requirement options and
//! environment markers are cut off; `-r FILE` / `--requirement FILE` includes are followed
//! relative to the including file (each file once, so include loops end; at most 16 deep), and
//! their packages are reported at the included file's path. Other option lines (`-c`, `-e`,
//! `--index-url`), URLs, local paths and `name @ url` direct references name no version and
//! are skipped.
//!
//! Versions: `==` and `===` pins are exact; `>=`, `<=` and `~=` report the bound they name,
//! marked not pinned (as osv-scalibr does, so a declared `>= 1.0` can still be matched by a
//! caller that wants to); `!=`, `<`, `>`, wildcards and multi-clause specifiers report an
//! empty version. Unexpanded `${VARS}` and empty pins are skipped. Files whose name contains
//! `dev` or `test` mark their packages dev-only.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use vigil_core::{Component, Ecosystem, EcosystemKind, Evidence};

use crate::collector::{Collected, Collector, FilePattern, SourceFile, read_capped};
use crate::error::CollectError;

/// requirements files. See the module doc.
#[derive(Debug, Clone, Copy)]
pub struct RequirementsFile;

/// Requirements files are small; includes are read under the same cap.
const REQUIREMENTS_LIMIT: u64 = 16 << 20;
const MAX_INCLUDE_DEPTH: usize = 16;

impl Collector for RequirementsFile {
    fn name(&self) -> &'static str {
        "requirements-txt"
    }

    fn evidence(&self) -> Evidence {
        Evidence::Declared
    }

    fn patterns(&self) -> &'static [FilePattern] {
        &[
            FilePattern::PrefixSuffix("requirements", ".txt"),
            FilePattern::Suffix("requirements.txt"),
            FilePattern::InDir("requirements", ".txt"),
        ]
    }

    fn size_limit(&self) -> u64 {
        REQUIREMENTS_LIMIT
    }

    fn collect(&self, file: &SourceFile<'_>, out: &mut Collected) -> Result<(), CollectError> {
        let text = file.text("requirements.txt")?;
        let mut visited = HashSet::new();
        visited.insert(file.path.to_path_buf());
        let path = Arc::clone(out.path());
        parse_file(text, &path, out, &mut visited, 0);
        Ok(())
    }
}

fn parse_file(
    text: &str,
    path: &Arc<Path>,
    out: &mut Collected,
    visited: &mut HashSet<PathBuf>,
    depth: usize,
) {
    let dev = path
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .is_some_and(|n| n.contains("dev") || n.contains("test"));
    let mut logical = String::new();
    let mut first_line = 0;
    for (index, raw) in text.lines().enumerate() {
        if logical.is_empty() {
            first_line = index + 1;
        }
        let line = strip_comment(raw);
        if let Some(continued) = line.trim_end().strip_suffix('\\') {
            logical.push_str(continued);
            logical.push(' ');
            continue;
        }
        logical.push_str(line);
        let statement = std::mem::take(&mut logical);
        handle_line(statement.trim(), first_line, path, dev, out, visited, depth);
    }
    if !logical.trim().is_empty() {
        handle_line(logical.trim(), first_line, path, dev, out, visited, depth);
    }
}

fn handle_line(
    line: &str,
    line_no: usize,
    path: &Arc<Path>,
    dev: bool,
    out: &mut Collected,
    visited: &mut HashSet<PathBuf>,
    depth: usize,
) {
    if line.is_empty() {
        return;
    }
    if line.starts_with('-') {
        if let Some(target) = include_target(line) {
            include(target, path, out, visited, depth);
        }
        return;
    }
    match parse_requirement(line) {
        Requirement::Package {
            name,
            version,
            pinned,
        } => {
            let component = Component::new(Ecosystem::new(EcosystemKind::PyPI), name, version);
            out.push_at(Arc::clone(path), component, dev);
            if !pinned && let Some(last) = out.packages.last_mut() {
                last.pinned = false;
            }
        }
        Requirement::Skip => {}
        Requirement::Invalid(reason) => {
            out.warn_at(
                path,
                CollectError::syntax_at("requirements.txt", line_no, reason),
            );
        }
    }
}

/// `-r FILE`, `-rFILE`, `--requirement FILE`, `--requirement=FILE`.
fn include_target(line: &str) -> Option<&str> {
    let rest = line
        .strip_prefix("--requirement")
        .or_else(|| line.strip_prefix("-r"))?;
    let rest = rest.strip_prefix('=').unwrap_or(rest).trim();
    (!rest.is_empty()).then_some(rest)
}

fn include(
    target: &str,
    from: &Path,
    out: &mut Collected,
    visited: &mut HashSet<PathBuf>,
    depth: usize,
) {
    let base = from.parent().unwrap_or(Path::new(""));
    let path = base.join(target);
    if depth >= MAX_INCLUDE_DEPTH || !visited.insert(path.clone()) {
        return; // already read (an include loop) or too deep
    }
    let mut buf = Vec::new();
    if let Err(err) = read_capped(&path, REQUIREMENTS_LIMIT, &mut buf) {
        out.warn_at(&path, err);
        return;
    }
    let Ok(text) = std::str::from_utf8(&buf) else {
        out.warn_at(
            &path,
            CollectError::syntax("requirements.txt", "invalid UTF-8"),
        );
        return;
    };
    let path: Arc<Path> = Arc::from(path.as_path());
    parse_file(text, &path, out, visited, depth + 1);
}

/// Cuts a `#` comment that starts the line or follows whitespace.
fn strip_comment(line: &str) -> &str {
    let bytes = line.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'#' && (i == 0 || bytes.get(i - 1).is_some_and(u8::is_ascii_whitespace)) {
            return line.get(..i).unwrap_or(line);
        }
    }
    line
}

/// What one requirement line says.
#[derive(Debug, PartialEq, Eq)]
enum Requirement<'a> {
    Package {
        name: &'a str,
        version: &'a str,
        pinned: bool,
    },
    Skip,
    Invalid(&'static str),
}

fn parse_requirement(line: &str) -> Requirement<'_> {
    // Per-requirement options start at the first whitespace followed by `-`.
    let line = line
        .char_indices()
        .find(|&(i, c)| {
            c.is_whitespace()
                && line
                    .get(i + 1..)
                    .is_some_and(|r| r.trim_start().starts_with('-'))
        })
        .map_or(line, |(i, _)| line.get(..i).unwrap_or(line));
    let line = line.split(';').next().unwrap_or(line).trim();
    if line.contains("://") || line.contains(" @ ") || line.starts_with(['.', '/', '~']) {
        return Requirement::Skip;
    }
    let name_len = line
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
        .unwrap_or(line.len());
    let Some(name) = line
        .get(..name_len)
        .filter(|n| n.starts_with(|c: char| c.is_ascii_alphanumeric()))
    else {
        return Requirement::Invalid("no project name");
    };
    let mut rest = line.get(name_len..).unwrap_or("").trim_start();
    if let Some(extras) = rest.strip_prefix('[') {
        let Some(end) = extras.find(']') else {
            return Requirement::Invalid("unclosed extras `[`");
        };
        rest = extras.get(end + 1..).unwrap_or("").trim_start();
    }
    if rest.is_empty() {
        return Requirement::Package {
            name,
            version: "",
            pinned: false,
        };
    }
    if rest.contains(',') {
        return Requirement::Package {
            name,
            version: "",
            pinned: false,
        };
    }
    const OPERATORS: [(&str, bool, bool); 8] = [
        // (operator, reports its version, exact)
        ("===", true, true),
        ("==", true, true),
        ("~=", true, false),
        (">=", true, false),
        ("<=", true, false),
        ("!=", false, false),
        (">", false, false),
        ("<", false, false),
    ];
    let Some(&(op, reports, exact)) = OPERATORS.iter().find(|(op, _, _)| rest.starts_with(op))
    else {
        return Requirement::Invalid("expected a version operator after the name");
    };
    let version = rest.get(op.len()..).unwrap_or("").trim();
    if version.is_empty() || version.contains("${") {
        return Requirement::Skip;
    }
    if !reports || version.contains('*') {
        return Requirement::Package {
            name,
            version: "",
            pinned: false,
        };
    }
    Requirement::Package {
        name,
        version,
        pinned: exact,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requirements() {
        use Requirement::{Package as P, Skip};
        let cases: &[(&str, Requirement<'_>)] = &[
            (
                "nltk==3.2.2",
                P {
                    name: "nltk",
                    version: "3.2.2",
                    pinned: true,
                },
            ),
            (
                "yolo===1.0",
                P {
                    name: "yolo",
                    version: "1.0",
                    pinned: true,
                },
            ),
            (
                "newspaper3k>=0.2.2",
                P {
                    name: "newspaper3k",
                    version: "0.2.2",
                    pinned: false,
                },
            ),
            (
                "asdf==0.7.*",
                P {
                    name: "asdf",
                    version: "",
                    pinned: false,
                },
            ),
            (
                "qwerty   == 0.1",
                P {
                    name: "qwerty",
                    version: "0.1",
                    pinned: true,
                },
            ),
            (
                "pyjwt [crypto] == 2.1.0",
                P {
                    name: "pyjwt",
                    version: "2.1.0",
                    pinned: true,
                },
            ),
            (
                "coverage != 3.5",
                P {
                    name: "coverage",
                    version: "",
                    pinned: false,
                },
            ),
            (
                "requests [security] >= 2.8.1, == 2.8.* ",
                P {
                    name: "requests",
                    version: "",
                    pinned: false,
                },
            ),
            (
                "foo5==1.0; python_version < \"2.7\" --hash=sha256:123",
                P {
                    name: "foo5",
                    version: "1.0",
                    pinned: true,
                },
            ),
            (
                "foo6==1.0 --hash=sha256:123 trailing",
                P {
                    name: "foo6",
                    version: "1.0",
                    pinned: true,
                },
            ),
            (
                "foo7==1.0 stays --hash=sha256:123",
                P {
                    name: "foo7",
                    version: "1.0 stays",
                    pinned: true,
                },
            ),
            (
                "foo17--hash==1.0",
                P {
                    name: "foo17--hash",
                    version: "1.0",
                    pinned: true,
                },
            ),
            (
                "foo14==1.0 -C bar",
                P {
                    name: "foo14",
                    version: "1.0",
                    pinned: true,
                },
            ),
            ("foo10== --hash=sha256:123", Skip),
            ("qwert==${MY_VARIABLE_1}", Skip),
            ("asdf==", Skip),
            (
                "urllib3 @ https://github.com/u/u/archive/refs/tags/1.26.8.zip",
                Skip,
            ),
            ("./downloads/numpy-1.9.2-cp34-none-win32.whl", Skip),
            (
                "PyCrypto",
                P {
                    name: "PyCrypto",
                    version: "",
                    pinned: false,
                },
            ),
        ];
        for (line, want) in cases {
            assert_eq!(&parse_requirement(line), want, "{line}");
        }
        assert!(matches!(
            parse_requirement("==1.0"),
            Requirement::Invalid(_)
        ));
        assert!(matches!(
            parse_requirement("asdf 1.0"),
            Requirement::Invalid(_)
        ));
    }

    #[test]
    fn comments_and_includes() {
        assert_eq!(strip_comment("requests ==1.0 # pin"), "requests ==1.0 ");
        assert_eq!(strip_comment("# x"), "");
        assert_eq!(
            strip_comment("foo11==1.0 --hash=sha256:x_;#"),
            "foo11==1.0 --hash=sha256:x_;#"
        );
        assert_eq!(include_target("-r other.txt"), Some("other.txt"));
        assert_eq!(include_target("--requirement=a.txt"), Some("a.txt"));
        assert_eq!(include_target("-c constraints.txt"), None);
    }

    proptest::proptest! {
        #[test]
        fn never_panics(s in "\\PC*") {
            let _ = parse_requirement(&s);
            let _ = strip_comment(&s);
        }
    }
}
