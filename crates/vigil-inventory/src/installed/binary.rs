//! Executables with embedded dependency lists (ELF, i.e. Linux): Go binaries' build info
//! (`.go.buildinfo`: the main module, every dependency module with `=>` replacements applied,
//! and `stdlib` at the toolchain version) and Rust binaries built with `cargo auditable`
//! (`.dep-v0`: zlib-compressed JSON of every crate compiled in; the root crate is the binary
//! itself and is skipped; build-only crates are flagged dev).
//!
//! Claimed: regular files directly in `bin`, `sbin` and `libexec` directories — where
//! executables live — since executables have no telling name. Callers that know a path is an
//! executable (a process's `/proc/PID/exe`) call the collector directly. Non-ELF files (shell
//! scripts) and ELF files without these sections yield nothing and no error. Only a few KiB
//! are read: the ELF header, the section table and the two sections.
//!
//! Go before 1.18 stored build info behind pointers into the data segment; those binaries are
//! reported as an error (not supported yet) rather than guessed.

use std::io::Read;

use serde::Deserialize;
use vigil_core::{EcosystemKind, Evidence};

use crate::collector::{Collected, Collector, FilePattern, Input, SourceFile, open_capped};
use crate::error::CollectError;
use crate::installed::elf::ElfSections;
use crate::lenient::{LenientBool, LenientString};

/// Go and cargo-auditable executables. See the module doc.
#[derive(Debug, Clone, Copy)]
pub struct InstalledBinaries;

const BINARY_LIMIT: u64 = 4 << 30;
const BUILDINFO_LIMIT: u64 = 16 << 20;
const AUDIT_LIMIT: u64 = 16 << 20;
const AUDIT_JSON_LIMIT: u64 = 64 << 20;
const GO_MAGIC: &[u8] = b"\xff Go buildinf:";

impl Collector for InstalledBinaries {
    fn name(&self) -> &'static str {
        "binary"
    }

    fn evidence(&self) -> Evidence {
        Evidence::Installed
    }

    fn patterns(&self) -> &'static [FilePattern] {
        &[
            FilePattern::InDir("bin", ""),
            FilePattern::InDir("sbin", ""),
            FilePattern::InDir("libexec", ""),
        ]
    }

    fn size_limit(&self) -> u64 {
        BINARY_LIMIT
    }

    fn input(&self) -> Input {
        Input::Path
    }

    fn collect(&self, file: &SourceFile<'_>, out: &mut Collected) -> Result<(), CollectError> {
        let mut handle = open_capped(file.path, BINARY_LIMIT)?;
        let Some(sections) = ElfSections::read(&mut handle)? else {
            return Ok(());
        };
        if let Some(info) = sections.section(&mut handle, ".go.buildinfo", BUILDINFO_LIMIT)? {
            collect_go(&info, out)?;
        }
        if let Some(compressed) = sections.section(&mut handle, ".dep-v0", AUDIT_LIMIT)? {
            collect_cargo_auditable(&compressed, out)?;
        }
        Ok(())
    }
}

/// Parses Go 1.18+ inline build info: magic, pointer size, flags, then at offset 32 two
/// varint-prefixed strings: the Go version and the module info.
pub fn collect_go(info: &[u8], out: &mut Collected) -> Result<(), CollectError> {
    if !info.starts_with(GO_MAGIC) {
        return Err(CollectError::syntax("Go build info", "bad magic"));
    }
    let flags = info.get(15).copied().unwrap_or(0);
    if flags & 0x2 == 0 {
        return Err(CollectError::syntax(
            "Go build info",
            "Go < 1.18 pointer-based build info is not supported",
        ));
    }
    let rest = info.get(32..).unwrap_or_default();
    let (version, rest) = read_varint_string(rest)
        .ok_or_else(|| CollectError::syntax("Go build info", "truncated version"))?;
    let (modinfo, _) = read_varint_string(rest)
        .ok_or_else(|| CollectError::syntax("Go build info", "truncated module info"))?;
    let modinfo = String::from_utf8_lossy(modinfo);
    // Module info is wrapped in 16-byte sentinels.
    let modinfo = if modinfo.len() >= 33 {
        modinfo.get(16..modinfo.len() - 16).unwrap_or(&modinfo)
    } else {
        &modinfo
    };
    let mut modules: Vec<(String, String)> = Vec::new();
    for line in modinfo.lines() {
        let fields: Vec<&str> = line.split('\t').collect();
        match fields.as_slice() {
            ["mod", path, version, ..] | ["dep", path, version, ..] => {
                modules.push((path.to_string(), version.to_string()));
            }
            ["=>", path, version, ..] => {
                if let Some(last) = modules.last_mut() {
                    *last = (path.to_string(), version.to_string());
                }
            }
            ["=>", path] => {
                if let Some(last) = modules.last_mut() {
                    *last = (path.to_string(), String::new()); // a local directory
                }
            }
            _ => {}
        }
    }
    for (path, version) in modules {
        let version = if version == "(devel)" {
            ""
        } else {
            version.trim_start_matches('v')
        };
        out.push_new(EcosystemKind::Go, &path, version, false);
    }
    let go = String::from_utf8_lossy(version);
    if let Some(go) = go.strip_prefix("go") {
        let go = go.split([' ', '-', '+']).next().unwrap_or(go);
        if !go.is_empty() {
            out.push_new(EcosystemKind::Go, "stdlib", go, false);
        }
    }
    Ok(())
}

fn read_varint_string(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    let mut len: u64 = 0;
    for (i, &b) in bytes.iter().take(10).enumerate() {
        len |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            let len = usize::try_from(len).ok()?;
            let rest = bytes.get(i + 1..)?;
            return Some((rest.get(..len)?, rest.get(len..)?));
        }
    }
    None
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct AuditInfo {
    packages: Vec<AuditPackage>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct AuditPackage {
    name: LenientString,
    version: LenientString,
    kind: LenientString,
    root: LenientBool,
}

/// Parses cargo-auditable's `.dep-v0`: zlib-compressed JSON, inflated to at most 64 MiB.
pub fn collect_cargo_auditable(compressed: &[u8], out: &mut Collected) -> Result<(), CollectError> {
    let mut json = Vec::new();
    flate2::read::ZlibDecoder::new(compressed)
        .take(AUDIT_JSON_LIMIT)
        .read_to_end(&mut json)
        .map_err(|e| CollectError::syntax("cargo-auditable data", e.to_string()))?;
    let info: AuditInfo = serde_json::from_slice(&json)
        .map_err(|e| CollectError::json("cargo-auditable JSON", &e))?;
    for package in info.packages {
        if package.root.0 {
            continue;
        }
        let Some(name) = package.name.non_empty() else {
            continue;
        };
        let dev = package.kind.as_str() == "build";
        out.push_new(EcosystemKind::CratesIo, name, package.version.as_str(), dev);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::path::Path;
    use std::sync::Arc;

    use super::*;

    fn collected() -> Collected {
        Collected::new(Arc::from(Path::new("/bin/x")), &InstalledBinaries)
    }

    fn varint_string(s: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut n = s.len();
        loop {
            let b = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                out.push(b);
                break;
            }
            out.push(b | 0x80);
        }
        out.extend_from_slice(s);
        out
    }

    fn go_buildinfo(version: &str, modinfo: &str) -> Vec<u8> {
        let mut info = GO_MAGIC.to_vec();
        info.push(8);
        info.push(2);
        info.resize(32, 0);
        info.extend(varint_string(version.as_bytes()));
        let wrapped = format!("{}{}{}", "0".repeat(16), modinfo, "1".repeat(16));
        info.extend(varint_string(wrapped.as_bytes()));
        info
    }

    #[test]
    fn go_build_info() {
        let info = go_buildinfo(
            "go1.22.1",
            "path\texample.com/cmd\nmod\texample.com/cmd\t(devel)\t\ndep\tgithub.com/pkg/errors\tv0.9.1\th1:x\ndep\tgolang.org/x/net\tv0.1.0\th1:y\n=>\texample.com/fork/net\tv0.2.0\th1:z\n",
        );
        let mut out = collected();
        collect_go(&info, &mut out).unwrap_or_else(|e| panic!("{e}"));
        let got: Vec<String> = out
            .packages
            .iter()
            .map(|p| p.component.to_string())
            .collect();
        assert_eq!(
            got,
            [
                "Go:example.com/cmd@",
                "Go:github.com/pkg/errors@0.9.1",
                "Go:example.com/fork/net@0.2.0",
                "Go:stdlib@1.22.1"
            ]
        );
    }

    #[test]
    fn cargo_auditable() {
        let json = br#"{"packages":[{"name":"app","version":"0.1.0","source":"local","root":true},
            {"name":"serde","version":"1.0.190","source":"crates.io"},
            {"name":"cc","version":"1.0.83","source":"crates.io","kind":"build"}]}"#;
        let mut encoder =
            flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all(json).unwrap_or_else(|e| panic!("{e}"));
        let compressed = encoder.finish().unwrap_or_else(|e| panic!("{e}"));
        let mut out = collected();
        collect_cargo_auditable(&compressed, &mut out).unwrap_or_else(|e| panic!("{e}"));
        let got: Vec<(String, bool)> = out
            .packages
            .iter()
            .map(|p| (p.component.to_string(), p.dev))
            .collect();
        assert_eq!(
            got,
            [
                ("crates.io:serde@1.0.190".to_string(), false),
                ("crates.io:cc@1.0.83".to_string(), true)
            ]
        );
    }

    #[test]
    fn real_elf_without_sections_and_scripts_yield_nothing() {
        // This test binary itself is ELF on Linux; it has neither section.
        if let Ok(exe) = std::env::current_exe() {
            let out = crate::collect_file(&InstalledBinaries, &exe);
            assert!(out.errors.is_empty(), "{:?}", out.errors);
        }
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let script = dir.path().join("run.sh");
        std::fs::write(&script, "#!/bin/sh\necho hi\n").unwrap_or_else(|e| panic!("{e}"));
        let out = crate::collect_file(&InstalledBinaries, &script);
        assert!(out.packages.is_empty() && out.errors.is_empty());
    }

    /// A minimal ELF64 little-endian file with the given named sections.
    fn elf(sections: &[(&str, Vec<u8>)]) -> Vec<u8> {
        let mut names = vec![0u8];
        let mut name_offsets = Vec::new();
        for (name, _) in sections {
            name_offsets.push(names.len() as u32);
            names.extend_from_slice(name.as_bytes());
            names.push(0);
        }
        let shstrtab_name = names.len() as u32;
        names.extend_from_slice(b".shstrtab\0");
        let mut data = vec![0u8; 64];
        let mut headers = vec![[0u8; 64]]; // the null section
        let mut push_section = |data: &mut Vec<u8>, name: u32, bytes: &[u8]| {
            let offset = data.len() as u64;
            data.extend_from_slice(bytes);
            let mut h = [0u8; 64];
            h[0..4].copy_from_slice(&name.to_le_bytes());
            h[24..32].copy_from_slice(&offset.to_le_bytes());
            h[32..40].copy_from_slice(&(bytes.len() as u64).to_le_bytes());
            headers.push(h);
        };
        for ((_, bytes), name) in sections.iter().zip(&name_offsets) {
            push_section(&mut data, *name, bytes);
        }
        push_section(&mut data, shstrtab_name, &names);
        let shoff = data.len() as u64;
        for h in &headers {
            data.extend_from_slice(h);
        }
        data[0..4].copy_from_slice(b"\x7fELF");
        data[4] = 2; // 64-bit
        data[5] = 1; // little endian
        data[0x28..0x30].copy_from_slice(&shoff.to_le_bytes());
        data[0x3A..0x3C].copy_from_slice(&64u16.to_le_bytes());
        data[0x3C..0x3E].copy_from_slice(&(headers.len() as u16).to_le_bytes());
        data[0x3E..0x40].copy_from_slice(&((headers.len() - 1) as u16).to_le_bytes());
        data
    }

    #[test]
    fn go_and_rust_sections_in_an_elf_file() {
        let info = go_buildinfo(
            "go1.23.3",
            "path\tx\nmod\tx\t(devel)\t\ndep\tgithub.com/a/b\tv1.2.3\th1:x\n",
        );
        let mut encoder =
            flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        encoder
            .write_all(br#"{"packages":[{"name":"serde","version":"1.0.0","source":"crates.io"}]}"#)
            .unwrap_or_else(|e| panic!("{e}"));
        let audit = encoder.finish().unwrap_or_else(|e| panic!("{e}"));
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("tool");
        std::fs::write(
            &path,
            elf(&[
                (".text", vec![0x90; 16]),
                (".go.buildinfo", info),
                (".dep-v0", audit),
            ]),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let out = crate::collect_file(&InstalledBinaries, &path);
        assert!(out.errors.is_empty(), "{:?}", out.errors);
        let got: Vec<String> = out
            .packages
            .iter()
            .map(|p| p.component.to_string())
            .collect();
        assert_eq!(
            got,
            [
                "Go:x@",
                "Go:github.com/a/b@1.2.3",
                "Go:stdlib@1.23.3",
                "crates.io:serde@1.0.0"
            ]
        );
    }

    proptest::proptest! {
        #[test]
        fn corrupted_elf_never_panics(flips in proptest::collection::vec((0usize..2048, proptest::prelude::any::<u8>()), 1..8)) {
            let mut bytes = elf(&[(".go.buildinfo", go_buildinfo("go1.22", "dep\ta\tv1\t\n"))]);
            for (at, value) in flips {
                let len = bytes.len();
                if let Some(b) = bytes.get_mut(at % len) {
                    *b = value;
                }
            }
            let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
            let path = dir.path().join("tool");
            std::fs::write(&path, bytes).unwrap_or_else(|e| panic!("{e}"));
            let _ = crate::collect_file(&InstalledBinaries, &path);
        }
    }

    proptest::proptest! {
        #[test]
        fn never_panics(bytes in proptest::prelude::any::<Vec<u8>>()) {
            let mut out = collected();
            let mut info = GO_MAGIC.to_vec();
            info.extend_from_slice(&bytes);
            let _ = collect_go(&info, &mut out);
            let _ = collect_cargo_auditable(&bytes, &mut out);
            let _ = read_varint_string(&bytes);
        }
    }
}
