//! `Gemfile.lock` (and `gems.locked`): the `specs:` of every `GEM`, `GIT`, `PATH` and
//! `PLUGIN SOURCE` section — gems at four spaces of indent, `name (version)`; their own
//! dependencies (six spaces) are constraints and are skipped. A platform suffix is dropped
//! (`nokogiri (1.13.3-x86_64-linux)` → `1.13.3`).

use vigil_core::{EcosystemKind, Evidence};

use crate::collector::{Collected, Collector, FilePattern, SourceFile};
use crate::error::CollectError;

/// `Gemfile.lock`. See the module doc.
#[derive(Debug, Clone, Copy)]
pub struct GemfileLockfile;

impl Collector for GemfileLockfile {
    fn name(&self) -> &'static str {
        "gemfile-lock"
    }

    fn evidence(&self) -> Evidence {
        Evidence::Declared
    }

    fn patterns(&self) -> &'static [FilePattern] {
        &[
            FilePattern::Name("Gemfile.lock"),
            FilePattern::Name("gems.locked"),
        ]
    }

    fn collect(&self, file: &SourceFile<'_>, out: &mut Collected) -> Result<(), CollectError> {
        let text = file.text("Gemfile.lock")?;
        let mut in_source = false;
        let mut in_specs = false;
        for (index, raw) in text.lines().enumerate() {
            let line = raw.trim_end();
            if line.is_empty() {
                continue;
            }
            let indent = line.len() - line.trim_start().len();
            if indent == 0 {
                in_source = matches!(line, "GEM" | "GIT" | "PATH" | "PLUGIN SOURCE");
                in_specs = false;
                continue;
            }
            if !in_source {
                continue;
            }
            if indent == 2 {
                in_specs = line.trim() == "specs:";
                continue;
            }
            if !in_specs || indent != 4 {
                continue;
            }
            let spec = line.trim();
            let Some((name, rest)) = spec.split_once(" (") else {
                out.warn(CollectError::syntax_at(
                    "Gemfile.lock",
                    index + 1,
                    "expected `name (version)`",
                ));
                continue;
            };
            let version = rest.strip_suffix(')').unwrap_or(rest);
            let version = version.split('-').next().unwrap_or(version);
            out.push_new(EcosystemKind::RubyGems, name, version, false);
        }
        Ok(())
    }
}
