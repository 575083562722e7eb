//! Installed RubyGems: `specifications/<name>-<version>.gemspec` under a gem home
//! (`/usr/lib/ruby/gems/3.1.0`, `vendor/bundle/ruby/3.1.0`, `~/.gem/ruby/…`). The stub
//! gemspec RubyGems writes is Ruby code; the `name` and `version` assignments
//! (`s.name = "rake".freeze`, `s.version = "13.0.6"`) are read textually — the code is never
//! run — with the file name as the fallback (split at the last `-` followed by a digit).

use std::path::Path;

use vigil_core::{EcosystemKind, Evidence};

use crate::collector::{Collected, Collector, FilePattern, SourceFile};
use crate::error::CollectError;

/// Installed gems. See the module doc.
#[derive(Debug, Clone, Copy)]
pub struct InstalledGems;

impl Collector for InstalledGems {
    fn name(&self) -> &'static str {
        "gem-installed"
    }

    fn evidence(&self) -> Evidence {
        Evidence::Installed
    }

    fn patterns(&self) -> &'static [FilePattern] {
        &[FilePattern::InDir("specifications", ".gemspec")]
    }

    fn size_limit(&self) -> u64 {
        4 << 20
    }

    fn collect(&self, file: &SourceFile<'_>, out: &mut Collected) -> Result<(), CollectError> {
        let text = String::from_utf8_lossy(file.bytes);
        let (mut name, mut version) = (None, None);
        for line in text.lines() {
            let line = line.trim();
            if name.is_none() {
                name = assignment(line, "name");
            }
            if version.is_none() {
                version = assignment(line, "version");
            }
        }
        let from_file = file_name_parts(file.path);
        let name = name.or(from_file.map(|(n, _)| n.to_string()));
        let version = version.or(from_file.map(|(_, v)| v.to_string()));
        match (name, version) {
            (Some(name), Some(version)) => {
                out.push_new(EcosystemKind::RubyGems, &name, &version, false);
                Ok(())
            }
            _ => Err(CollectError::field(
                "name/version",
                "no `s.name` / `s.version` and no <name>-<version> file name",
            )),
        }
    }
}

/// `s.name = "rake".freeze`, `spec.version = Gem::Version.new("1.0")` → the quoted value.
fn assignment(line: &str, field: &str) -> Option<String> {
    let (lhs, rhs) = line.split_once('=')?;
    let lhs = lhs.trim();
    let (_, attr) = lhs.rsplit_once('.')?;
    if attr != field || rhs.starts_with('=') {
        return None;
    }
    let quote_start = rhs.find(['"', '\''])?;
    let quote = rhs.as_bytes().get(quote_start).copied()?;
    let rest = rhs.get(quote_start + 1..)?;
    let end = rest.find(char::from(quote))?;
    let value = rest.get(..end)?.trim();
    (!value.is_empty()).then(|| value.to_string())
}

fn file_name_parts(path: &Path) -> Option<(&str, &str)> {
    let stem = path.file_name()?.to_str()?.strip_suffix(".gemspec")?;
    let split = stem
        .char_indices()
        .filter(|&(i, c)| {
            c == '-'
                && stem
                    .get(i + 1..)
                    .is_some_and(|r| r.starts_with(|d: char| d.is_ascii_digit()))
        })
        .map(|(i, _)| i)
        .next_back()?;
    Some((stem.get(..split)?, stem.get(split + 1..)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assignments_and_file_names() {
        assert_eq!(
            assignment("s.name = \"rake\".freeze", "name").as_deref(),
            Some("rake")
        );
        assert_eq!(
            assignment("s.version = \"13.0.6\"", "version").as_deref(),
            Some("13.0.6")
        );
        assert_eq!(
            assignment("spec.version = Gem::Version.new('1.0')", "version").as_deref(),
            Some("1.0")
        );
        assert_eq!(
            assignment("s.required_rubygems_version = \">= 0\"", "version"),
            None
        );
        assert_eq!(assignment("s.name == x", "name"), None);
        assert_eq!(
            file_name_parts(Path::new("/g/specifications/net-imap-0.2.3.gemspec")),
            Some(("net-imap", "0.2.3"))
        );
        assert_eq!(
            file_name_parts(Path::new("/g/specifications/x.gemspec")),
            None
        );
    }
}
