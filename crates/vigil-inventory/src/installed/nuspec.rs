//! NuGet packages installed in a global packages folder (`~/.nuget/packages`, or a
//! `packages/` folder set by `NUGET_PACKAGES`): `<id>/<version>/<id>.nuspec`, whose
//! `package/metadata` holds `id` and `version`. Only that layout is claimed — the file stem
//! names its grandparent directory — so `.nuspec` templates in source trees (with `$version$`
//! tokens) are not read; a value with a `$` token is skipped anyway.

use std::path::Path;

use quick_xml::events::Event;
use vigil_core::{EcosystemKind, Evidence};

use crate::collector::{Collected, Collector, FilePattern, SourceFile};
use crate::error::CollectError;

/// Installed NuGet packages. See the module doc.
#[derive(Debug, Clone, Copy)]
pub struct InstalledNugetPackages;

impl Collector for InstalledNugetPackages {
    fn name(&self) -> &'static str {
        "nuget-installed"
    }

    fn evidence(&self) -> Evidence {
        Evidence::Installed
    }

    fn patterns(&self) -> &'static [FilePattern] {
        &[FilePattern::Suffix(".nuspec")]
    }

    fn accepts(&self, path: &Path) -> bool {
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().to_ascii_lowercase());
        let id_dir = path
            .parent()
            .and_then(Path::parent)
            .and_then(Path::file_name)
            .map(|s| s.to_string_lossy().to_ascii_lowercase());
        stem.is_some() && stem == id_dir
    }

    fn size_limit(&self) -> u64 {
        4 << 20
    }

    fn collect(&self, file: &SourceFile<'_>, out: &mut Collected) -> Result<(), CollectError> {
        let text = String::from_utf8_lossy(
            file.bytes
                .strip_prefix(b"\xEF\xBB\xBF")
                .unwrap_or(file.bytes),
        );
        let mut reader = quick_xml::Reader::from_str(&text);
        let mut stack: Vec<String> = Vec::new();
        let (mut id, mut version) = (String::new(), String::new());
        loop {
            match reader
                .read_event()
                .map_err(|e| CollectError::syntax("nuspec", e.to_string()))?
            {
                Event::Start(e) => {
                    if stack.len() >= 64 {
                        return Err(CollectError::syntax("nuspec", "elements nested too deeply"));
                    }
                    stack.push(e.local_name().as_ref().to_string());
                }
                Event::End(_) => {
                    stack.pop();
                }
                Event::Text(t) => {
                    let path: Vec<&str> = stack.iter().map(String::as_str).collect();
                    match path.as_slice() {
                        ["package", "metadata", "id"] => id.push_str(&t.xml10_content()),
                        ["package", "metadata", "version"] => version.push_str(&t.xml10_content()),
                        _ => {}
                    }
                }
                Event::Eof => break,
                _ => {}
            }
        }
        let (id, version) = (id.trim(), version.trim());
        if id.is_empty() || version.is_empty() {
            return Err(CollectError::field(
                "metadata/id, metadata/version",
                "missing",
            ));
        }
        if !id.contains('$') && !version.contains('$') {
            out.push_new(EcosystemKind::NuGet, id, version, false);
        }
        Ok(())
    }
}
