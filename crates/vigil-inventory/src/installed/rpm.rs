//! RPM-based OS packages from the SQLite rpm database, `var/lib/rpm/rpmdb.sqlite` (RHEL 9+,
//! Fedora 33+, Rocky/Alma 9, Amazon Linux 2023, recent openSUSE). Each row of `Packages` is an
//! RPM header blob; its NAME, VERSION, RELEASE and EPOCH tags give the package and its
//! `[epoch:]version-release`. The older Berkeley DB `Packages` is read by
//! [`super::rpm_bdb`]; SUSE's NDB (`Packages.db`) is not read yet.
//!
//! The database is opened read-only and `immutable` (no locks, no WAL or journal files are
//! created or replayed: the scan never writes next to what it scans), with `trusted_schema`
//! off. Header blobs are parsed defensively: every offset and count is bounds-checked.
//!
//! The ecosystem comes from the root's os-release: `Red Hat`, `Rocky Linux`, `AlmaLinux`,
//! `openSUSE`, `SUSE`, with `VERSION_ID` as the release; other RPM distributions keep their
//! os-release `ID` as given.

use std::path::Path;

use vigil_core::{Component, Ecosystem, Evidence};

use crate::collector::{Collected, Collector, FilePattern, Input, SourceFile};
use crate::error::CollectError;
use crate::installed::os_release::OsRelease;

/// The SQLite rpm database. See the module doc.
#[derive(Debug, Clone, Copy)]
pub struct InstalledRpmPackages;

const RPMDB_LIMIT: u64 = 2 << 30;
/// Header blobs are tens of KiB; anything larger is not a header.
const MAX_HEADER_BYTES: usize = 64 << 20;

const TAG_NAME: u32 = 1000;
const TAG_VERSION: u32 = 1001;
const TAG_RELEASE: u32 = 1002;
const TAG_EPOCH: u32 = 1003;
const TYPE_INT32: u32 = 4;
const TYPE_STRING: u32 = 6;
const TYPE_I18NSTRING: u32 = 9;

impl Collector for InstalledRpmPackages {
    fn name(&self) -> &'static str {
        "rpm-installed"
    }

    fn evidence(&self) -> Evidence {
        Evidence::Installed
    }

    fn patterns(&self) -> &'static [FilePattern] {
        &[FilePattern::Name("rpmdb.sqlite")]
    }

    fn accepts(&self, path: &Path) -> bool {
        path.parent()
            .and_then(Path::file_name)
            .is_some_and(|p| p == "rpm")
    }

    fn size_limit(&self) -> u64 {
        RPMDB_LIMIT
    }

    fn input(&self) -> Input {
        Input::Path
    }

    fn collect(&self, file: &SourceFile<'_>, out: &mut Collected) -> Result<(), CollectError> {
        crate::collector::open_capped(file.path, RPMDB_LIMIT)?; // regular file, under the cap
        let ecosystem = rpm_ecosystem(file.path);
        let sql_error =
            |e: rusqlite::Error| CollectError::syntax("rpm sqlite database", e.to_string());
        let uri = format!("file:{}?immutable=1", percent_encode_path(file.path));
        let db = rusqlite::Connection::open_with_flags(
            uri,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY
                | rusqlite::OpenFlags::SQLITE_OPEN_URI
                | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(sql_error)?;
        db.execute_batch("PRAGMA trusted_schema = OFF; PRAGMA query_only = ON;")
            .map_err(sql_error)?;
        let mut statement = db
            .prepare("SELECT hnum, blob FROM Packages")
            .map_err(sql_error)?;
        let mut rows = statement.query([]).map_err(sql_error)?;
        while let Some(row) = rows.next().map_err(sql_error)? {
            let hnum: i64 = row.get(0).unwrap_or(-1);
            let blob: Vec<u8> = match row.get(1) {
                Ok(blob) => blob,
                Err(err) => {
                    out.warn(CollectError::field(
                        format!("Packages[{hnum}].blob"),
                        err.to_string(),
                    ));
                    continue;
                }
            };
            match parse_header(&blob) {
                Ok(Some((name, version))) => {
                    out.push(Component::new(ecosystem.clone(), &name, &version), false)
                }
                Ok(None) => {} // gpg-pubkey pseudo-packages and the like have no release
                Err(reason) => out.warn(CollectError::field(format!("Packages[{hnum}]"), reason)),
            }
        }
        Ok(())
    }
}

/// SQLite URIs need `%`, `?` and `#` escaped in the path.
fn percent_encode_path(path: &Path) -> String {
    let mut out = String::new();
    for b in path.as_os_str().as_encoded_bytes() {
        match b {
            b'%' | b'?' | b'#' => out.push_str(&format!("%{b:02X}")),
            0x20..=0x7e => out.push(char::from(*b)),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// The RPM distribution (and release) of the root that holds `path`.
pub fn rpm_ecosystem(path: &Path) -> Ecosystem {
    let release = OsRelease::for_database(path, &["var", "lib", "rpm"])
        .or_else(|| OsRelease::for_database(path, &["usr", "lib", "sysimage", "rpm"]));
    let Some(release) = release else {
        return Ecosystem::parse("Red Hat");
    };
    let base = match release.id.as_str() {
        "rhel" | "centos" | "fedora" | "amzn" | "" => "Red Hat",
        "rocky" => "Rocky Linux",
        "almalinux" => "AlmaLinux",
        "opensuse" | "opensuse-leap" | "opensuse-tumbleweed" => "openSUSE",
        "sles" | "sled" => "SUSE",
        "openEuler" | "openeuler" => "openEuler",
        "mageia" => "Mageia",
        other => other,
    };
    if release.version_id.is_empty() {
        Ecosystem::parse(base)
    } else {
        Ecosystem::parse(&format!("{base}:{}", release.version_id))
    }
}

/// NAME and `[EPOCH:]VERSION-RELEASE` of an RPM header blob (the rpmdb form: no lead magic;
/// `il`, `dl`, then `il` 16-byte index entries, then `dl` bytes of data). `Ok(None)` when the
/// header has no name, version or release.
pub fn parse_header(blob: &[u8]) -> Result<Option<(String, String)>, String> {
    let be32 = |at: usize| -> Option<u32> {
        blob.get(at..at + 4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    };
    let il = be32(0).ok_or("header shorter than 8 bytes")? as usize;
    let dl = be32(4).ok_or("header shorter than 8 bytes")? as usize;
    let data_start = il
        .checked_mul(16)
        .and_then(|n| n.checked_add(8))
        .filter(|&n| n <= blob.len() && n <= MAX_HEADER_BYTES)
        .ok_or("index larger than the header")?;
    let data = blob
        .get(data_start..data_start.saturating_add(dl))
        .ok_or("data store larger than the header")?;
    let (mut name, mut version, mut release, mut epoch) = (None, None, None, None);
    for i in 0..il {
        let at = 8 + i * 16;
        let (Some(tag), Some(kind), Some(offset)) = (be32(at), be32(at + 4), be32(at + 8)) else {
            return Err("truncated index entry".into());
        };
        let offset = offset as usize;
        let string = || -> Option<String> {
            let rest = data.get(offset..)?;
            let end = rest.iter().position(|&b| b == 0)?;
            Some(String::from_utf8_lossy(rest.get(..end)?).into_owned())
        };
        match (tag, kind) {
            (TAG_NAME, TYPE_STRING | TYPE_I18NSTRING) => name = string(),
            (TAG_VERSION, TYPE_STRING) => version = string(),
            (TAG_RELEASE, TYPE_STRING) => release = string(),
            (TAG_EPOCH, TYPE_INT32) => {
                epoch = data
                    .get(offset..offset + 4)
                    .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
            }
            _ => {}
        }
    }
    let (Some(name), Some(version), Some(release)) = (name, version, release) else {
        return Ok(None);
    };
    let full = match epoch {
        Some(epoch) if epoch > 0 => format!("{epoch}:{version}-{release}"),
        _ => format!("{version}-{release}"),
    };
    Ok(Some((name, full)))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// An rpmdb header blob with the given string tags and an optional epoch.
    pub(crate) fn header(name: &str, version: &str, release: &str, epoch: Option<u32>) -> Vec<u8> {
        let mut data = Vec::new();
        let mut index = Vec::new();
        for (tag, value) in [
            (TAG_NAME, name),
            (TAG_VERSION, version),
            (TAG_RELEASE, release),
        ] {
            index.push((tag, TYPE_STRING, data.len() as u32));
            data.extend_from_slice(value.as_bytes());
            data.push(0);
        }
        if let Some(epoch) = epoch {
            while data.len() % 4 != 0 {
                data.push(0);
            }
            index.push((TAG_EPOCH, TYPE_INT32, data.len() as u32));
            data.extend_from_slice(&epoch.to_be_bytes());
        }
        let mut blob = Vec::new();
        blob.extend_from_slice(&(index.len() as u32).to_be_bytes());
        blob.extend_from_slice(&(data.len() as u32).to_be_bytes());
        for (tag, kind, offset) in index {
            blob.extend_from_slice(&tag.to_be_bytes());
            blob.extend_from_slice(&kind.to_be_bytes());
            blob.extend_from_slice(&offset.to_be_bytes());
            blob.extend_from_slice(&1u32.to_be_bytes());
        }
        blob.extend_from_slice(&data);
        blob
    }

    #[test]
    fn headers_and_database() {
        assert_eq!(
            parse_header(&header("openssl-libs", "3.0.7", "27.el9", Some(1))),
            Ok(Some(("openssl-libs".into(), "1:3.0.7-27.el9".into())))
        );
        assert_eq!(
            parse_header(&header("bash", "5.1.8", "9.el9", None)),
            Ok(Some(("bash".into(), "5.1.8-9.el9".into())))
        );
        assert!(parse_header(b"\xff\xff\xff\xff\0\0\0\0").is_err());

        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let root = dir.path();
        std::fs::create_dir_all(root.join("etc")).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(
            root.join("etc/os-release"),
            "ID=\"rocky\"\nVERSION_ID=\"9.3\"\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        std::fs::create_dir_all(root.join("var/lib/rpm")).unwrap_or_else(|e| panic!("{e}"));
        let db_path = root.join("var/lib/rpm/rpmdb.sqlite");
        let db = rusqlite::Connection::open(&db_path).unwrap_or_else(|e| panic!("{e}"));
        db.execute_batch(
            "CREATE TABLE Packages (hnum INTEGER PRIMARY KEY AUTOINCREMENT, blob BLOB NOT NULL)",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        for blob in [header("bash", "5.1.8", "9.el9", None), b"garbage".to_vec()] {
            db.execute("INSERT INTO Packages (blob) VALUES (?1)", [blob])
                .unwrap_or_else(|e| panic!("{e}"));
        }
        drop(db);
        let out = crate::collect_file(&InstalledRpmPackages, &db_path);
        let got: Vec<String> = out
            .packages
            .iter()
            .map(|p| p.component.to_string())
            .collect();
        assert_eq!(got, ["Rocky Linux:9.3:bash@5.1.8-9.el9"]);
        assert_eq!(out.errors.len(), 1, "{:?}", out.errors);
        // Nothing was written next to the database.
        let names: Vec<_> = std::fs::read_dir(root.join("var/lib/rpm"))
            .unwrap_or_else(|e| panic!("{e}"))
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(names.len(), 1, "{names:?}");
    }

    proptest::proptest! {
        #[test]
        fn never_panics(bytes in proptest::prelude::any::<Vec<u8>>()) {
            let _ = parse_header(&bytes);
        }
    }
}
