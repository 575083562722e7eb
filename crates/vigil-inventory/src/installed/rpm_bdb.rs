//! RPM-based OS packages from the Berkeley DB rpm database, `var/lib/rpm/Packages` (RHEL/CentOS
//! 7–8, Amazon Linux 2, UBI 8, SLES 12–15). The file is a Berkeley DB *hash* database whose
//! values are RPM header blobs (parsed like the SQLite database's, see [`super::rpm`]).
//!
//! Read without libdb, page by page: the metadata page (page 0) gives the byte order, page
//! size and last page; every hash page's values are either stored on the page
//! (`H_KEYDATA`) or in a chain of overflow pages (`H_OFFPAGE`). Every offset, length and chain
//! is bounds-checked: chains are at most as long as the file has pages and a value at most
//! 64 MiB. Only the file is read: no environment, locks or logs.

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use vigil_core::{Component, Evidence};

use crate::collector::{Collected, Collector, FilePattern, Input, SourceFile, open_capped};
use crate::error::CollectError;
use crate::installed::rpm::{parse_header, rpm_ecosystem};

/// The Berkeley DB rpm database. See the module doc.
#[derive(Debug, Clone, Copy)]
pub struct InstalledRpmBdbPackages;

const PACKAGES_LIMIT: u64 = 2 << 30;
const HASH_MAGIC: u32 = 0x0006_1561;
const PAGE_HEADER: usize = 26;
const PAGE_HASH_UNSORTED: u8 = 2;
const PAGE_HASH: u8 = 13;
const ITEM_KEYDATA: u8 = 1;
const ITEM_OFFPAGE: u8 = 3;
const MAX_VALUE: usize = 64 << 20;

impl Collector for InstalledRpmBdbPackages {
    fn name(&self) -> &'static str {
        "rpm-bdb-installed"
    }

    fn evidence(&self) -> Evidence {
        Evidence::Installed
    }

    fn patterns(&self) -> &'static [FilePattern] {
        &[FilePattern::InDir("rpm", "Packages")]
    }

    fn accepts(&self, path: &Path) -> bool {
        path.file_name().is_some_and(|n| n == "Packages")
    }

    fn size_limit(&self) -> u64 {
        PACKAGES_LIMIT
    }

    fn input(&self) -> Input {
        Input::Path
    }

    fn collect(&self, file: &SourceFile<'_>, out: &mut Collected) -> Result<(), CollectError> {
        let mut db = open_capped(file.path, PACKAGES_LIMIT)?;
        let ecosystem = rpm_ecosystem(file.path);
        let mut meta = [0u8; 72];
        db.read_exact(&mut meta)
            .map_err(|_| CollectError::syntax("Berkeley DB", "shorter than a metadata page"))?;
        let order = ByteOrder::detect(&meta).ok_or_else(|| {
            CollectError::syntax("Berkeley DB", "not a Berkeley DB hash database")
        })?;
        let page_size = order.u32(&meta, 20) as usize;
        if !(512..=65_536).contains(&page_size) || !page_size.is_power_of_two() {
            return Err(CollectError::syntax(
                "Berkeley DB",
                format!("implausible page size {page_size}"),
            ));
        }
        let last_page = order.u32(&meta, 32);
        let file_pages = db.metadata()?.len() / page_size as u64;
        let last_page = u64::from(last_page).min(file_pages.saturating_sub(1));
        let mut page = vec![0u8; page_size];
        // Overflow pages read in total: a healthy file reads each about once; a crafted one
        // with chains shared by many items must not turn the scan quadratic.
        let mut budget = last_page.saturating_mul(4).saturating_add(1024);
        for page_no in 1..=last_page {
            read_page(&mut db, page_no, &mut page)?;
            let page_type = page.get(25).copied().unwrap_or(0);
            if page_type != PAGE_HASH && page_type != PAGE_HASH_UNSORTED {
                continue;
            }
            let entries = usize::from(order.u16(&page, 20));
            if budget == 0 {
                return Err(CollectError::syntax(
                    "Berkeley DB",
                    "read budget exhausted; file looks crafted",
                ));
            }
            // Items pair up: even indexes are keys, odd ones their values.
            for value_index in (1..entries).step_by(2) {
                match self.value(&mut db, &page, value_index, order, last_page, &mut budget) {
                    Ok(Some(blob)) => match parse_header(&blob) {
                        Ok(Some((name, version))) => {
                            out.push(Component::new(ecosystem.clone(), &name, &version), false)
                        }
                        Ok(None) => {}
                        Err(reason) => out.warn(CollectError::field(
                            format!("page {page_no} item {value_index}"),
                            reason,
                        )),
                    },
                    Ok(None) => {}
                    Err(err) => out.warn(err),
                }
            }
        }
        Ok(())
    }
}

impl InstalledRpmBdbPackages {
    /// The value item `index` of a hash page: on the page, or gathered from overflow pages.
    fn value<R: Read + Seek>(
        &self,
        db: &mut R,
        page: &[u8],
        index: usize,
        order: ByteOrder,
        last_page: u64,
        budget: &mut u64,
    ) -> Result<Option<Vec<u8>>, CollectError> {
        let bad = |what: &str| {
            CollectError::syntax("Berkeley DB", format!("hash page item {index}: {what}"))
        };
        let offset = usize::from(order.u16(page, PAGE_HEADER + 2 * index));
        // Items are packed from the end of the page down: an item ends where the previous
        // index's item starts.
        let end = if index == 0 {
            page.len()
        } else {
            usize::from(order.u16(page, PAGE_HEADER + 2 * (index - 1)))
        };
        let item = page
            .get(offset..end.max(offset))
            .ok_or_else(|| bad("offset out of the page"))?;
        match item.first().copied() {
            Some(ITEM_KEYDATA) => Ok(Some(item.get(1..).unwrap_or_default().to_vec())),
            Some(ITEM_OFFPAGE) => {
                let mut next = u64::from(order.u32(item, 4));
                let length = order.u32(item, 8) as usize;
                if length > MAX_VALUE {
                    return Err(bad("value over 64 MiB"));
                }
                let mut value = Vec::with_capacity(length);
                let mut overflow = vec![0u8; page.len()];
                let mut hops = 0;
                while next != 0 {
                    hops += 1;
                    if next > last_page || hops > last_page {
                        return Err(bad("overflow chain leaves the file or loops"));
                    }
                    if *budget == 0 {
                        return Err(bad(
                            "overflow pages read more than 4 times over; file looks crafted",
                        ));
                    }
                    *budget -= 1;
                    read_page(db, next, &mut overflow)?;
                    next = u64::from(order.u32(&overflow, 16));
                    let used = if next == 0 {
                        usize::from(order.u16(&overflow, 22))
                    } else {
                        overflow.len() - PAGE_HEADER
                    };
                    let chunk = overflow
                        .get(PAGE_HEADER..PAGE_HEADER + used)
                        .ok_or_else(|| bad("overflow page length out of range"))?;
                    value.extend_from_slice(chunk);
                    if value.len() > MAX_VALUE {
                        return Err(bad("value over 64 MiB"));
                    }
                }
                value.truncate(length);
                Ok(Some(value))
            }
            _ => Ok(None), // duplicates and other item kinds are not used by rpm
        }
    }
}

fn read_page<R: Read + Seek>(
    db: &mut R,
    page_no: u64,
    page: &mut [u8],
) -> Result<(), CollectError> {
    db.seek(SeekFrom::Start(page_no.saturating_mul(page.len() as u64)))?;
    db.read_exact(page)?;
    Ok(())
}

/// Berkeley DB writes integers in the creating machine's byte order; the magic tells which.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ByteOrder {
    Little,
    Big,
}

impl ByteOrder {
    fn detect(meta: &[u8]) -> Option<ByteOrder> {
        let raw: [u8; 4] = meta.get(12..16)?.try_into().ok()?;
        if u32::from_le_bytes(raw) == HASH_MAGIC {
            Some(ByteOrder::Little)
        } else if u32::from_be_bytes(raw) == HASH_MAGIC {
            Some(ByteOrder::Big)
        } else {
            None
        }
    }

    fn u16(self, buf: &[u8], at: usize) -> u16 {
        let raw: [u8; 2] = buf
            .get(at..at + 2)
            .and_then(|b| b.try_into().ok())
            .unwrap_or_default();
        match self {
            ByteOrder::Little => u16::from_le_bytes(raw),
            ByteOrder::Big => u16::from_be_bytes(raw),
        }
    }

    fn u32(self, buf: &[u8], at: usize) -> u32 {
        let raw: [u8; 4] = buf
            .get(at..at + 4)
            .and_then(|b| b.try_into().ok())
            .unwrap_or_default();
        match self {
            ByteOrder::Little => u32::from_le_bytes(raw),
            ByteOrder::Big => u32::from_be_bytes(raw),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture() -> Vec<u8> {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/rpm-bdb/Packages");
        std::fs::read(path).unwrap_or_else(|e| panic!("{e}"))
    }

    fn collect_bytes(bytes: &[u8]) -> Collected {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("Packages");
        std::fs::write(&path, bytes).unwrap_or_else(|e| panic!("{e}"));
        crate::collect_file(&InstalledRpmBdbPackages, &path)
    }

    #[test]
    fn reads_a_real_berkeley_db_hash_file() {
        let out = collect_bytes(&fixture());
        assert!(out.errors.is_empty(), "{:?}", out.errors);
        let mut got: Vec<String> = out
            .packages
            .iter()
            .map(|p| format!("{}@{}", p.component.name, p.component.version))
            .collect();
        got.sort();
        assert_eq!(
            got,
            [
                "bash@5.1.8-9.el8",
                "openssl-libs@1:1.1.1k-7.el8",
                "tiny@1.0-1",
                "zlib@1.2.11-40.el8"
            ]
        );
        let not_bdb = collect_bytes(
            b"definitely not a database, but long enough to hold a metadata page header......",
        );
        assert!(not_bdb.packages.is_empty() && not_bdb.errors.len() == 1);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 64, ..Default::default() })]
        #[test]
        fn corrupted_files_never_panic(flips in proptest::collection::vec((0usize..32768, proptest::prelude::any::<u8>()), 1..32)) {
            let mut bytes = fixture();
            for (at, value) in flips {
                let len = bytes.len();
                if let Some(b) = bytes.get_mut(at % len) {
                    *b = value;
                }
            }
            let _ = collect_bytes(&bytes);
        }
    }
}
