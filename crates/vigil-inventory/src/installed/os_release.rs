//! Which distribution release an OS package database belongs to, from the `os-release` file of
//! the same root (`<root>/etc/os-release`, else `<root>/usr/lib/os-release`). OS advisories are
//! per release (`Debian:12`, `Alpine:v3.18`), so the package database alone is not enough.

use std::path::{Component, Path, PathBuf};

use crate::collector::read_capped;

/// `os-release` is a few hundred bytes.
const OS_RELEASE_LIMIT: u64 = 64 << 10;

/// `ID` and `VERSION_ID` of an os-release file.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct OsRelease {
    /// `ID` (`debian`, `ubuntu`, `alpine`).
    pub id: String,
    /// `VERSION_ID` (`12`, `22.04`, `3.18.4`).
    pub version_id: String,
}

impl OsRelease {
    /// Parses `KEY=value` lines (values optionally quoted).
    pub fn parse(text: &str) -> OsRelease {
        let mut release = OsRelease::default();
        for line in text.lines() {
            let Some((key, value)) = line.split_once('=') else {
                continue;
            };
            let value = value.trim().trim_matches(['"', '\'']).to_string();
            match key.trim() {
                "ID" => release.id = value,
                "VERSION_ID" => release.version_id = value,
                _ => {}
            }
        }
        release
    }

    /// Reads the os-release of the filesystem root that holds `database`, where `database`
    /// lies under `<root>/<marker…>` (e.g. `var/lib/dpkg`). `None` when there is none.
    pub fn for_database(database: &Path, marker: &[&str]) -> Option<OsRelease> {
        let root = root_of(database, marker)?;
        let mut buf = Vec::new();
        for candidate in ["etc/os-release", "usr/lib/os-release"] {
            if read_capped(&root.join(candidate), OS_RELEASE_LIMIT, &mut buf).is_ok() {
                return Some(OsRelease::parse(&String::from_utf8_lossy(&buf)));
            }
        }
        None
    }
}

/// The directory above the last occurrence of `marker` (a run of path components).
fn root_of(path: &Path, marker: &[&str]) -> Option<PathBuf> {
    let parts: Vec<Component<'_>> = path.components().collect();
    let n = marker.len();
    (0..parts.len().saturating_sub(n)).rev().find_map(|i| {
        let window = parts.get(i..i + n)?;
        let matches = window.iter().zip(marker).all(|(c, m)| c.as_os_str() == *m);
        matches.then(|| parts.get(..i).map(|p| p.iter().collect::<PathBuf>()))?
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_finds_roots() {
        let r =
            OsRelease::parse("PRETTY_NAME=\"Debian GNU/Linux 12\"\nID=debian\nVERSION_ID=\"12\"\n");
        assert_eq!(r.id, "debian");
        assert_eq!(r.version_id, "12");
        assert_eq!(
            root_of(
                Path::new("/img/var/lib/dpkg/status"),
                &["var", "lib", "dpkg"]
            ),
            Some(PathBuf::from("/img"))
        );
        assert_eq!(
            root_of(Path::new("/var/lib/dpkg/status"), &["var", "lib", "dpkg"]),
            Some(PathBuf::from("/"))
        );
        assert_eq!(root_of(Path::new("status"), &["var", "lib", "dpkg"]), None);
    }
}
