//! Debian-family OS packages: the dpkg database `var/lib/dpkg/status`, distroless images'
//! per-package `var/lib/dpkg/status.d/<name>` files, and OpenWrt's `usr/lib/opkg/status` (same
//! format). Paragraphs of `Field: value` lines separated by blank lines; only packages whose
//! `Status` ends in `installed` are reported (`deinstall ok config-files` is not installed). A
//! `status.d` file has no `Status` field and every package in it counts.
//!
//! The ecosystem comes from the root's os-release: `Debian:<VERSION_ID>`, `Ubuntu:<VERSION_ID>`,
//! plain `Debian` when unknown; opkg databases are `OpenWrt`.

use std::path::Path;

use vigil_core::{Component, Ecosystem, EcosystemKind, Evidence};

use crate::collector::{Collected, Collector, FilePattern, SourceFile};
use crate::error::CollectError;
use crate::installed::os_release::OsRelease;

/// dpkg and opkg status databases. See the module doc.
#[derive(Debug, Clone, Copy)]
pub struct InstalledDpkgPackages;

impl Collector for InstalledDpkgPackages {
    fn name(&self) -> &'static str {
        "dpkg-installed"
    }

    fn evidence(&self) -> Evidence {
        Evidence::Installed
    }

    fn patterns(&self) -> &'static [FilePattern] {
        &[
            FilePattern::Name("status"),
            FilePattern::InDir("status.d", ""),
        ]
    }

    fn accepts(&self, path: &Path) -> bool {
        let parent = path.parent().and_then(Path::file_name);
        if path.file_name().is_some_and(|n| n == "status")
            && parent.is_some_and(|p| p == "dpkg" || p == "opkg")
        {
            return true;
        }
        parent.is_some_and(|p| p == "status.d")
            && path.extension().is_none_or(|e| e != "md5sums")
            && path
                .parent()
                .and_then(Path::parent)
                .and_then(Path::file_name)
                .is_some_and(|g| g == "dpkg")
    }

    fn size_limit(&self) -> u64 {
        256 << 20
    }

    fn collect(&self, file: &SourceFile<'_>, out: &mut Collected) -> Result<(), CollectError> {
        let in_status_d = file
            .path
            .parent()
            .and_then(Path::file_name)
            .is_some_and(|p| p == "status.d");
        let is_opkg = file
            .path
            .parent()
            .and_then(Path::file_name)
            .is_some_and(|p| p == "opkg");
        let ecosystem = if is_opkg {
            Ecosystem::new(EcosystemKind::Other("OpenWrt".into()))
        } else {
            debian_ecosystem(file.path)
        };
        let text = String::from_utf8_lossy(file.bytes);
        let mut valid_lines = 0;
        for paragraph in paragraphs(&text, out, "dpkg status", &mut valid_lines) {
            let installed = match paragraph.get("Status") {
                Some(status) => status.split_whitespace().last() == Some("installed"),
                None => in_status_d,
            };
            if !installed {
                continue;
            }
            let (Some(name), Some(version)) = (paragraph.get("Package"), paragraph.get("Version"))
            else {
                continue;
            };
            if name.is_empty() || version.is_empty() {
                continue;
            }
            out.push(Component::new(ecosystem.clone(), name, version), false);
        }
        if valid_lines == 0 && !text.trim().is_empty() {
            return Err(CollectError::syntax(
                "dpkg status",
                "no `Field: value` lines",
            ));
        }
        Ok(())
    }
}

fn debian_ecosystem(path: &Path) -> Ecosystem {
    let release = OsRelease::for_database(path, &["var", "lib", "dpkg"]);
    match release {
        Some(r) if !r.version_id.is_empty() => {
            let base = if r.id == "ubuntu" { "Ubuntu" } else { "Debian" };
            Ecosystem::parse(&format!("{base}:{}", r.version_id))
        }
        Some(r) if r.id == "ubuntu" => Ecosystem::new(EcosystemKind::Ubuntu),
        _ => Ecosystem::new(EcosystemKind::Debian),
    }
}

/// One paragraph: its single-line fields (continuation lines are skipped).
pub struct Paragraph<'a> {
    fields: Vec<(&'a str, &'a str)>,
}

impl<'a> Paragraph<'a> {
    /// The first value of `key` (exact field name).
    pub fn get(&self, key: &str) -> Option<&'a str> {
        self.fields.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
    }
}

/// Splits a Debian-control-style text into paragraphs; lines that are neither fields nor
/// continuations are reported as errors (`format` names the file kind) and skipped.
pub fn paragraphs<'a>(
    text: &'a str,
    out: &mut Collected,
    format: &'static str,
    valid_lines: &mut usize,
) -> Vec<Paragraph<'a>> {
    let mut all = Vec::new();
    let mut current = Vec::new();
    for (index, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            if !current.is_empty() {
                all.push(Paragraph {
                    fields: std::mem::take(&mut current),
                });
            }
            continue;
        }
        if line.starts_with([' ', '\t']) {
            continue; // continuation of a multi-line field
        }
        match line.split_once(':') {
            Some((key, value)) if !key.is_empty() && !key.contains(' ') => {
                *valid_lines += 1;
                current.push((key, value.trim()));
            }
            _ => out.warn(CollectError::syntax_at(
                format,
                index + 1,
                "expected `Field: value`",
            )),
        }
    }
    if !current.is_empty() {
        all.push(Paragraph { fields: current });
    }
    all
}
