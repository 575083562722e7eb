//! [`RuntimeKind`]: which language runtime a process is, so the right package resolvers run.
//!
//! Classification is by executable file name (`python3.11`, `node`, `php-fpm8.2`, …), falling
//! back to `argv[0]` and then `comm` when the executable link is unreadable. A native binary is
//! checked once for a `.go.buildinfo` ELF section: Go binaries carry their module list there,
//! which is what the Go resolver reads later. That check reads only the ELF and section headers
//! (bounded, a few KiB) and is cached per (device, inode) by the caller.

use std::io::{Read, Seek, SeekFrom};

use serde::Serialize;

/// The language runtime of a process.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RuntimeKind {
    /// Node.js and node-compatible runtimes (bun, deno) that resolve `node_modules`.
    Node,
    /// CPython, PyPy.
    Python,
    /// A JVM.
    Java,
    /// .NET (`dotnet` host).
    Dotnet,
    /// Ruby (MRI).
    Ruby,
    /// PHP (cli, fpm, cgi).
    Php,
    /// A Go binary (has `.go.buildinfo`).
    Go,
    /// Anything else with an executable.
    Native,
}

impl RuntimeKind {
    /// Lower-case name used in JSON and queries.
    pub fn as_str(self) -> &'static str {
        match self {
            RuntimeKind::Node => "node",
            RuntimeKind::Python => "python",
            RuntimeKind::Java => "java",
            RuntimeKind::Dotnet => "dotnet",
            RuntimeKind::Ruby => "ruby",
            RuntimeKind::Php => "php",
            RuntimeKind::Go => "go",
            RuntimeKind::Native => "native",
        }
    }

    /// Classifies an executable by its file name (no directory). `None` when the name does
    /// not name an interpreter; the caller then checks for Go or settles on native.
    pub fn from_exe_name(name: &str) -> Option<RuntimeKind> {
        // `python3.11`, `python3.11d`, `ruby3.1`, `php8.2`, `php-fpm8.2`: a base name followed
        // by an optional version made of digits and dots, optionally a one-letter ABI suffix.
        fn versioned(name: &str, base: &str) -> bool {
            let Some(rest) = name.strip_prefix(base) else {
                return false;
            };
            let rest = rest.strip_suffix(['m', 'd', 't', 'u']).unwrap_or(rest);
            rest.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        }
        let kind = match name {
            "node" | "nodejs" | "bun" | "deno" => RuntimeKind::Node,
            "java" | "javaw" => RuntimeKind::Java,
            "dotnet" => RuntimeKind::Dotnet,
            _ if versioned(name, "python") || versioned(name, "pypy") => RuntimeKind::Python,
            _ if versioned(name, "ruby") => RuntimeKind::Ruby,
            _ if versioned(name, "php")
                || versioned(name, "php-fpm")
                || versioned(name, "php-cgi")
                || versioned(name, "php-cli") =>
            {
                RuntimeKind::Php
            }
            _ => return None,
        };
        Some(kind)
    }
}

/// Upper bounds on what [`has_go_buildinfo`] reads from a hostile ELF.
const MAX_SECTIONS: u64 = 4096;
const MAX_SHSTRTAB: u64 = 1 << 20;

/// Whether `elf` is an ELF file with a `.go.buildinfo` section. Any malformed or truncated
/// input is simply "no".
pub fn has_go_buildinfo<R: Read + Seek>(elf: &mut R) -> bool {
    go_buildinfo_section(elf).unwrap_or(false)
}

fn go_buildinfo_section<R: Read + Seek>(elf: &mut R) -> Option<bool> {
    let mut ident = [0u8; 64];
    elf.read_exact(&mut ident).ok()?;
    if ident.get(..4)? != b"\x7fELF" {
        return Some(false);
    }
    let class64 = match ident.get(4)? {
        1 => false,
        2 => true,
        _ => return Some(false),
    };
    let little = match ident.get(5)? {
        1 => true,
        2 => false,
        _ => return Some(false),
    };
    let u16_at = |b: &[u8], at: usize| -> Option<u64> {
        let s: [u8; 2] = b.get(at..at + 2)?.try_into().ok()?;
        Some(u64::from(if little {
            u16::from_le_bytes(s)
        } else {
            u16::from_be_bytes(s)
        }))
    };
    let u32_at = |b: &[u8], at: usize| -> Option<u64> {
        let s: [u8; 4] = b.get(at..at + 4)?.try_into().ok()?;
        Some(u64::from(if little {
            u32::from_le_bytes(s)
        } else {
            u32::from_be_bytes(s)
        }))
    };
    let u64_at = |b: &[u8], at: usize| -> Option<u64> {
        let s: [u8; 8] = b.get(at..at + 8)?.try_into().ok()?;
        Some(if little {
            u64::from_le_bytes(s)
        } else {
            u64::from_be_bytes(s)
        })
    };
    // e_shoff, e_shentsize, e_shnum, e_shstrndx.
    let (shoff, shentsize, shnum, shstrndx) = if class64 {
        (
            u64_at(&ident, 0x28)?,
            u16_at(&ident, 0x3A)?,
            u16_at(&ident, 0x3C)?,
            u16_at(&ident, 0x3E)?,
        )
    } else {
        (
            u32_at(&ident, 0x20)?,
            u16_at(&ident, 0x2E)?,
            u16_at(&ident, 0x30)?,
            u16_at(&ident, 0x32)?,
        )
    };
    let min_entsize = if class64 { 0x40 } else { 0x28 };
    // Real section headers are exactly the minimum size; a larger one is tolerated up to 4x,
    // which keeps the table read below 1 MiB whatever the header claims.
    if shoff == 0
        || shnum == 0
        || shnum > MAX_SECTIONS
        || shentsize < min_entsize
        || shentsize > 4 * min_entsize
    {
        return Some(false);
    }
    let table_len = shentsize.checked_mul(shnum)?;
    let mut table = vec![0u8; usize::try_from(table_len).ok()?];
    elf.seek(SeekFrom::Start(shoff)).ok()?;
    elf.read_exact(&mut table).ok()?;
    let entsize = usize::try_from(shentsize).ok()?;
    // (sh_name, sh_offset, sh_size) of section `i`.
    let section = |i: u64| -> Option<(u64, u64, u64)> {
        let base = usize::try_from(i).ok()?.checked_mul(entsize)?;
        if class64 {
            Some((
                u32_at(&table, base)?,
                u64_at(&table, base + 0x18)?,
                u64_at(&table, base + 0x20)?,
            ))
        } else {
            Some((
                u32_at(&table, base)?,
                u32_at(&table, base + 0x10)?,
                u32_at(&table, base + 0x14)?,
            ))
        }
    };
    let (_, str_off, str_size) = section(shstrndx)?;
    if str_size > MAX_SHSTRTAB {
        return Some(false);
    }
    let mut names = vec![0u8; usize::try_from(str_size).ok()?];
    elf.seek(SeekFrom::Start(str_off)).ok()?;
    elf.read_exact(&mut names).ok()?;
    const WANT: &[u8] = b".go.buildinfo\0";
    Some((0..shnum).any(|i| {
        section(i)
            .and_then(|(name, _, _)| names.get(usize::try_from(name).ok()?..))
            .is_some_and(|n| n.starts_with(WANT))
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    #[test]
    fn exe_names_classify() {
        let cases: &[(&str, Option<RuntimeKind>)] = &[
            ("node", Some(RuntimeKind::Node)),
            ("nodejs", Some(RuntimeKind::Node)),
            ("bun", Some(RuntimeKind::Node)),
            ("python", Some(RuntimeKind::Python)),
            ("python3", Some(RuntimeKind::Python)),
            ("python3.11", Some(RuntimeKind::Python)),
            ("python3.13t", Some(RuntimeKind::Python)),
            ("python3.7m", Some(RuntimeKind::Python)),
            ("pypy3", Some(RuntimeKind::Python)),
            ("python-config", None),
            ("java", Some(RuntimeKind::Java)),
            ("dotnet", Some(RuntimeKind::Dotnet)),
            ("ruby", Some(RuntimeKind::Ruby)),
            ("ruby3.1", Some(RuntimeKind::Ruby)),
            ("rubocop", None),
            ("php", Some(RuntimeKind::Php)),
            ("php8.2", Some(RuntimeKind::Php)),
            ("php-fpm8.2", Some(RuntimeKind::Php)),
            ("php-fpm", Some(RuntimeKind::Php)),
            ("phpstorm", None),
            ("bash", None),
            ("", None),
        ];
        for (name, want) in cases {
            assert_eq!(RuntimeKind::from_exe_name(name), *want, "{name:?}");
        }
    }

    /// A minimal little-endian ELF64 with a section-name table holding `names`, one section
    /// per name.
    fn elf64(names: &[&str]) -> Vec<u8> {
        let mut strtab = vec![0u8];
        let mut offsets = Vec::new();
        for n in names {
            offsets.push(strtab.len() as u32);
            strtab.extend_from_slice(n.as_bytes());
            strtab.push(0);
        }
        let shstr_name = strtab.len() as u32;
        strtab.extend_from_slice(b".shstrtab\0");
        let str_off = 64u64;
        let shoff = str_off + strtab.len() as u64;
        let shnum = names.len() as u16 + 1;
        let mut out = vec![0u8; 64];
        out[..4].copy_from_slice(b"\x7fELF");
        out[4] = 2;
        out[5] = 1;
        out[0x28..0x30].copy_from_slice(&shoff.to_le_bytes());
        out[0x3A..0x3C].copy_from_slice(&0x40u16.to_le_bytes());
        out[0x3C..0x3E].copy_from_slice(&shnum.to_le_bytes());
        out[0x3E..0x40].copy_from_slice(&(shnum - 1).to_le_bytes());
        out.extend_from_slice(&strtab);
        let mut entry = |name: u32, off: u64, size: u64| {
            let mut e = vec![0u8; 0x40];
            e[..4].copy_from_slice(&name.to_le_bytes());
            e[0x18..0x20].copy_from_slice(&off.to_le_bytes());
            e[0x20..0x28].copy_from_slice(&size.to_le_bytes());
            out.extend_from_slice(&e);
        };
        for o in &offsets {
            entry(*o, 0, 0);
        }
        entry(shstr_name, str_off, strtab.len() as u64);
        out
    }

    #[test]
    fn go_buildinfo_detected_from_section_headers() {
        let cases: &[(&[&str], bool)] = &[
            (&[".text", ".go.buildinfo", ".data"], true),
            (&[".text", ".data"], false),
            (&[".go.buildinfoX"], false),
            (&[], false),
        ];
        for (names, want) in cases {
            let elf = elf64(names);
            assert_eq!(has_go_buildinfo(&mut Cursor::new(elf)), *want, "{names:?}");
        }
    }

    #[test]
    fn go_check_on_real_binaries() {
        // This test binary is Rust, not Go; /bin/sh is not Go either.
        let me = std::env::current_exe().unwrap();
        let mut f = std::fs::File::open(me).unwrap();
        assert!(!has_go_buildinfo(&mut f));
    }

    proptest::proptest! {
        #[test]
        fn go_check_never_panics(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512)) {
            let _ = has_go_buildinfo(&mut Cursor::new(bytes));
        }

        #[test]
        fn go_check_survives_corrupted_headers(
            at in 0usize..200, byte in proptest::prelude::any::<u8>()
        ) {
            let mut elf = elf64(&[".go.buildinfo"]);
            if let Some(b) = elf.get_mut(at) { *b = byte; }
            let _ = has_go_buildinfo(&mut Cursor::new(elf));
        }
    }
}
