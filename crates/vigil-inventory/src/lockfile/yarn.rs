//! `yarn.lock`, both Yarn classic (v1, its own format) and Yarn berry (v2+, YAML), read by one
//! line scanner: an entry starts with an unindented `"spec", "spec":` line; its fields are the
//! lines indented once (`version "1.0.0"` in v1, `version: 1.0.0` in berry). Deeper lines
//! (`dependencies:` blocks) are skipped. Linear in the file size; no YAML parser needed.
//!
//! Names: berry's `resolution: "name@npm:1.0.0"` names the real package; in v1 the first spec
//! does (`alias@npm:real@^1` names `real`). Berry's workspace root (`…@workspace:.`) and the
//! `__metadata` block are not packages. Entries without a version are skipped. yarn.lock
//! records no dev/production split (that lives in package.json), so nothing is flagged dev.

use vigil_core::{EcosystemKind, Evidence};

use crate::collector::{Collected, Collector, FilePattern, SourceFile};
use crate::error::CollectError;
use crate::lenient::split_name_at;

/// `yarn.lock`. See the module doc.
#[derive(Debug, Clone, Copy)]
pub struct YarnLockfile;

impl Collector for YarnLockfile {
    fn name(&self) -> &'static str {
        "yarn-lock"
    }

    fn evidence(&self) -> Evidence {
        Evidence::Declared
    }

    fn patterns(&self) -> &'static [FilePattern] {
        &[FilePattern::Name("yarn.lock")]
    }

    fn collect(&self, file: &SourceFile<'_>, out: &mut Collected) -> Result<(), CollectError> {
        let text = file.text("yarn.lock")?;
        let mut entry: Option<Entry<'_>> = None;
        for (index, raw) in text.lines().enumerate() {
            let line = raw.trim_end();
            if line.is_empty() || line.trim_start().starts_with('#') {
                continue;
            }
            let indent = line.len() - line.trim_start().len();
            if indent == 0 {
                if let Some(done) = entry.take() {
                    done.emit(out);
                }
                let Some(specs) = line.strip_suffix(':') else {
                    out.warn(CollectError::syntax_at(
                        "yarn.lock",
                        index + 1,
                        "expected `spec:` to start an entry",
                    ));
                    continue;
                };
                entry = Some(Entry {
                    specs,
                    line: index + 1,
                    version: None,
                    resolution: None,
                });
            } else if let Some(current) = entry.as_mut()
                && indent <= 2
            {
                let field = line.trim_start();
                let (key, value) = match field.split_once(':') {
                    Some((k, v)) if !k.contains(' ') => (k, v),
                    _ => field.split_once(' ').unwrap_or((field, "")),
                };
                let value = unquote(value.trim());
                match unquote(key) {
                    "version" => current.version = Some(value),
                    "resolution" => current.resolution = Some(value),
                    _ => {}
                }
            }
        }
        if let Some(done) = entry.take() {
            done.emit(out);
        }
        Ok(())
    }
}

struct Entry<'a> {
    specs: &'a str,
    line: usize,
    version: Option<&'a str>,
    resolution: Option<&'a str>,
}

impl Entry<'_> {
    fn emit(self, out: &mut Collected) {
        if self.specs == "__metadata" {
            return;
        }
        let Some(version) = self.version.filter(|v| !v.is_empty()) else {
            return;
        };
        let name = match self.resolution {
            Some(resolution) => {
                if resolution.ends_with("@workspace:.") {
                    return; // the project itself
                }
                split_name_at(resolution).map(|(name, _)| name)
            }
            None => {
                let first = unquote(self.specs.split(',').next().unwrap_or("").trim());
                match split_name_at(first) {
                    Some((alias, range)) => Some(
                        range
                            .strip_prefix("npm:")
                            .and_then(split_name_at)
                            .map_or(alias, |(real, _)| real),
                    ),
                    None => Some(first), // a bare `name:` key
                }
            }
        };
        match name.filter(|n| !n.is_empty()) {
            Some(name) => out.push_new(EcosystemKind::Npm, name, version, false),
            None => out.warn(CollectError::syntax_at(
                "yarn.lock",
                self.line,
                "no package name in the entry key",
            )),
        }
    }
}

fn unquote(s: &str) -> &str {
    s.strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .unwrap_or(s)
}
