//! `bun.lock`, Bun's text lockfile: JSON with trailing commas. `packages` maps an install
//! path (`a/b` for `b` nested under `a`) to a tuple whose first element is `name@version`.
//! Git, GitHub, file and tarball specs are reported with an empty version. An entry whose
//! tuple is malformed is reported as an error; the rest of the file is still read. Dev-only
//! flags need the dependency graph and are not computed.

use serde::Deserialize;
use vigil_core::{EcosystemKind, Evidence};

use crate::collector::{Collected, Collector, FilePattern, SourceFile};
use crate::error::CollectError;
use crate::lenient::{Entries, split_name_at};

/// `bun.lock`. See the module doc.
#[derive(Debug, Clone, Copy)]
pub struct BunLockfile;

#[derive(Deserialize)]
struct Lock {
    #[serde(default)]
    packages: Entries<serde_json::Value>,
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
        for (key, tuple) in lock.packages.0 {
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
            out.push_new(EcosystemKind::Npm, name, version, false);
        }
        Ok(())
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
