//! A minimal ELF section reader: finds a named section in an ELF file (32/64-bit, little or
//! big endian) through its section header table, reading only the header, the table, the
//! section-name table and the wanted section — never the whole binary. Used by the binary
//! collector to reach `.go.buildinfo` and `.dep-v0`.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};

use crate::error::CollectError;

/// Section tables beyond this many entries are not believed.
const MAX_SECTIONS: u64 = 65_535;
/// Section-name tables are a few KiB.
const MAX_SHSTRTAB: u64 = 1 << 20;

/// The parsed section header table of one ELF file.
#[derive(Debug)]
pub struct ElfSections {
    sections: Vec<(String, u64, u64)>,
}

impl ElfSections {
    /// Reads the section table. `Ok(None)` when the file is not ELF.
    pub fn read(file: &mut File) -> Result<Option<ElfSections>, CollectError> {
        let mut ident = [0u8; 64];
        let n = read_up_to(file, &mut ident)?;
        if n < 52 || ident.get(..4) != Some(b"\x7fELF") {
            return Ok(None);
        }
        let wide = match ident.get(4) {
            Some(1) => false,
            Some(2) => true,
            _ => return Err(CollectError::syntax("ELF", "unknown ELF class")),
        };
        let little = match ident.get(5) {
            Some(1) => true,
            Some(2) => false,
            _ => return Err(CollectError::syntax("ELF", "unknown ELF data encoding")),
        };
        let rd = Reader { little };
        let (shoff, shentsize, mut shnum, shstrndx) = if wide {
            (
                rd.u64(&ident, 0x28),
                rd.u16(&ident, 0x3A),
                rd.u16(&ident, 0x3C),
                rd.u16(&ident, 0x3E),
            )
        } else {
            (
                rd.u32(&ident, 0x20),
                rd.u16(&ident, 0x2E),
                rd.u16(&ident, 0x30),
                rd.u16(&ident, 0x32),
            )
        };
        let entry_size = if wide { 64 } else { 40 };
        if shoff == 0 || shentsize < entry_size {
            return Ok(Some(ElfSections {
                sections: Vec::new(),
            }));
        }
        let parse = |buf: &[u8]| -> (u64, u64, u64) {
            if wide {
                (rd.u32(buf, 0), rd.u64(buf, 24), rd.u64(buf, 32))
            } else {
                (rd.u32(buf, 0), rd.u32(buf, 16), rd.u32(buf, 20))
            }
        };
        let stride = u64::from(shentsize);
        if shnum == 0 {
            // More sections than fit in e_shnum: the count is in section 0's sh_size.
            let first = read_at(file, shoff, stride)?;
            let (_, _, size) = parse(&first);
            shnum = u16::try_from(size.min(MAX_SECTIONS)).unwrap_or(u16::MAX);
        }
        // The whole table in one read (at most 65,535 entries of a few dozen bytes).
        let table = read_at(file, shoff, u64::from(shnum).saturating_mul(stride))?;
        let raw: Vec<(u64, u64, u64)> = table
            .chunks_exact(usize::from(shentsize))
            .map(parse)
            .collect();
        let Some(&(_, str_offset, str_size)) = raw.get(usize::from(shstrndx)) else {
            return Err(CollectError::syntax(
                "ELF",
                "section-name table index out of range",
            ));
        };
        let names = read_at(file, str_offset, str_size.min(MAX_SHSTRTAB))?;
        let sections = raw
            .into_iter()
            .map(|(name, offset, size)| {
                let name = usize::try_from(name)
                    .ok()
                    .and_then(|start| names.get(start..))
                    .map(|rest| {
                        let end = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
                        String::from_utf8_lossy(rest.get(..end).unwrap_or_default()).into_owned()
                    })
                    .unwrap_or_default();
                (name, offset, size)
            })
            .collect();
        Ok(Some(ElfSections { sections }))
    }

    /// The contents of section `name`, if present and at most `limit` bytes.
    pub fn section(
        &self,
        file: &mut File,
        name: &str,
        limit: u64,
    ) -> Result<Option<Vec<u8>>, CollectError> {
        let Some(&(_, offset, size)) = self.sections.iter().find(|(n, _, _)| n == name) else {
            return Ok(None);
        };
        if size > limit {
            return Err(CollectError::field(
                name,
                format!("section of {size} bytes is over the {limit}-byte limit"),
            ));
        }
        read_at(file, offset, size).map(Some)
    }
}

fn read_up_to(file: &mut File, buf: &mut [u8]) -> Result<usize, CollectError> {
    let mut filled = 0;
    while filled < buf.len() {
        let Some(rest) = buf.get_mut(filled..) else {
            break;
        };
        match file.read(rest)? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}

fn read_at(file: &mut File, offset: u64, size: u64) -> Result<Vec<u8>, CollectError> {
    file.seek(SeekFrom::Start(offset))?;
    let mut buf = Vec::new();
    file.take(size).read_to_end(&mut buf)?;
    Ok(buf)
}

#[derive(Clone, Copy)]
struct Reader {
    little: bool,
}

impl Reader {
    fn bytes<const N: usize>(self, buf: &[u8], at: usize) -> [u8; N] {
        let mut out = [0u8; N];
        if let Some(src) = buf.get(at..at + N) {
            out.copy_from_slice(src);
        }
        out
    }
    fn u16(self, buf: &[u8], at: usize) -> u16 {
        let b = self.bytes::<2>(buf, at);
        if self.little {
            u16::from_le_bytes(b)
        } else {
            u16::from_be_bytes(b)
        }
    }
    fn u32(self, buf: &[u8], at: usize) -> u64 {
        let b = self.bytes::<4>(buf, at);
        u64::from(if self.little {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        })
    }
    fn u64(self, buf: &[u8], at: usize) -> u64 {
        let b = self.bytes::<8>(buf, at);
        if self.little {
            u64::from_le_bytes(b)
        } else {
            u64::from_be_bytes(b)
        }
    }
}
