//! Java archives: `*.jar`, `*.war`, `*.ear` (and Jenkins `*.hpi` / `*.jpi`). Maven builds embed
//! `META-INF/maven/<groupId>/<artifactId>/pom.properties` (`groupId`, `artifactId`,
//! `version`) for the artifact itself and, in shaded / uber jars, for every artifact folded
//! into it; each one is reported as `groupId:artifactId`. Archives nested inside (Spring Boot
//! `BOOT-INF/lib/*.jar`, `WEB-INF/lib/*.jar`, EAR modules) are opened too, up to depth 3 and
//! 64 MiB each, and reported at the outer archive's path.
//!
//! The archive is not read into memory: the collector seeks through the central directory and
//! inflates only `pom.properties` entries (at most 64 KiB each) and nested archives, so a
//! zip bomb cannot exhaust memory. Jars without `pom.properties` (non-Maven builds) yield
//! nothing; guessing coordinates from file names or manifests is left out deliberately — a
//! wrong `group:artifact` would match the wrong advisories.

use std::io::{Cursor, Read, Seek};

use vigil_core::{EcosystemKind, Evidence};

use crate::collector::{Collected, Collector, FilePattern, Input, SourceFile, open_capped};
use crate::error::CollectError;

/// Java archives. See the module doc.
#[derive(Debug, Clone, Copy)]
pub struct InstalledJavaArchives;

/// Archives on disk up to 2 GiB are opened (only small parts are read).
const ARCHIVE_LIMIT: u64 = 2 << 30;
const NESTED_LIMIT: u64 = 64 << 20;
const PROPERTIES_LIMIT: u64 = 64 << 10;
const MAX_NESTING: usize = 3;
/// Archives with more entries than this are read only up to it.
const MAX_ENTRIES: usize = 500_000;

const ARCHIVE_SUFFIXES: [&str; 5] = [".jar", ".war", ".ear", ".hpi", ".jpi"];

impl Collector for InstalledJavaArchives {
    fn name(&self) -> &'static str {
        "java-archive"
    }

    fn evidence(&self) -> Evidence {
        Evidence::Installed
    }

    fn patterns(&self) -> &'static [FilePattern] {
        &[
            FilePattern::Suffix(".jar"),
            FilePattern::Suffix(".war"),
            FilePattern::Suffix(".ear"),
            FilePattern::Suffix(".hpi"),
            FilePattern::Suffix(".jpi"),
        ]
    }

    fn size_limit(&self) -> u64 {
        ARCHIVE_LIMIT
    }

    fn input(&self) -> Input {
        Input::Path
    }

    fn collect(&self, file: &SourceFile<'_>, out: &mut Collected) -> Result<(), CollectError> {
        let archive = open_capped(file.path, ARCHIVE_LIMIT)?;
        collect_archive(archive, out, 0)
    }
}

fn zip_error(err: zip::result::ZipError) -> CollectError {
    CollectError::syntax("zip archive", err.to_string())
}

fn collect_archive<R: Read + Seek>(
    reader: R,
    out: &mut Collected,
    depth: usize,
) -> Result<(), CollectError> {
    let mut archive = zip::ZipArchive::new(reader).map_err(zip_error)?;
    let mut properties = Vec::new();
    let mut nested = Vec::new();
    for index in 0..archive.len().min(MAX_ENTRIES) {
        let Some(Ok(name)) = archive.name_for_index(index) else {
            continue;
        };
        if name.starts_with("META-INF/maven/") && name.ends_with("/pom.properties") {
            properties.push(index);
        } else if depth < MAX_NESTING && ARCHIVE_SUFFIXES.iter().any(|s| name.ends_with(s)) {
            nested.push(index);
        }
    }
    for index in properties {
        let name = entry_name(&archive, index);
        let mut entry = match archive.by_index(index) {
            Ok(entry) => entry,
            Err(err) => {
                out.warn(zip_error(err));
                continue;
            }
        };
        let mut text = String::new();
        if let Err(err) = (&mut entry)
            .take(PROPERTIES_LIMIT)
            .read_to_string(&mut text)
        {
            out.warn(CollectError::field(name, format!("unreadable: {err}")));
            continue;
        }
        let (group, artifact, version) = parse_pom_properties(&text);
        match (group, artifact, version) {
            (Some(g), Some(a), Some(v)) => {
                out.push_new(EcosystemKind::Maven, &format!("{g}:{a}"), v, false)
            }
            _ => out.warn(CollectError::field(
                name,
                "missing groupId, artifactId or version",
            )),
        }
    }
    for index in nested {
        let name = entry_name(&archive, index);
        let mut entry = match archive.by_index(index) {
            Ok(entry) => entry,
            Err(err) => {
                out.warn(zip_error(err));
                continue;
            }
        };
        if entry.size() > NESTED_LIMIT {
            out.warn(CollectError::field(
                name,
                format!(
                    "nested archive of {} bytes is over the {NESTED_LIMIT}-byte limit; not read",
                    entry.size()
                ),
            ));
            continue;
        }
        let mut bytes = Vec::new();
        if let Err(err) = (&mut entry).take(NESTED_LIMIT).read_to_end(&mut bytes) {
            out.warn(CollectError::field(name, format!("unreadable: {err}")));
            continue;
        }
        drop(entry);
        if let Err(err) = collect_archive(Cursor::new(bytes), out, depth + 1) {
            out.warn(CollectError::field(name, err.to_string()));
        }
    }
    Ok(())
}

fn entry_name<R: Read + Seek>(archive: &zip::ZipArchive<R>, index: usize) -> String {
    match archive.name_for_index(index) {
        Some(Ok(name)) => name.into_owned(),
        _ => format!("entry #{index}"),
    }
}

/// `key=value` lines (`#` comments); the first of each key wins.
fn parse_pom_properties(text: &str) -> (Option<&str>, Option<&str>, Option<&str>) {
    let (mut group, mut artifact, mut version) = (None, None, None);
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with(['#', '!']) {
            continue;
        }
        let Some((key, value)) = line.split_once(['=', ':']) else {
            continue;
        };
        let value = value.trim();
        if value.is_empty() {
            continue;
        }
        let slot = match key.trim() {
            "groupId" => &mut group,
            "artifactId" => &mut artifact,
            "version" => &mut version,
            _ => continue,
        };
        slot.get_or_insert(value);
    }
    (group, artifact, version)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn jar(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
        for (name, data) in entries {
            writer
                .start_file(*name, zip::write::SimpleFileOptions::default())
                .unwrap_or_else(|e| panic!("{e}"));
            writer.write_all(data).unwrap_or_else(|e| panic!("{e}"));
        }
        writer
            .finish()
            .unwrap_or_else(|e| panic!("{e}"))
            .into_inner()
    }

    #[test]
    fn reads_pom_properties_and_nested_jars() {
        let inner = jar(&[(
            "META-INF/maven/org.apache.logging.log4j/log4j-core/pom.properties",
            b"#Generated\nversion=2.14.1\ngroupId=org.apache.logging.log4j\nartifactId=log4j-core\n",
        )]);
        let outer = jar(&[
            (
                "META-INF/maven/com.example/app/pom.properties",
                b"groupId=com.example\nartifactId=app\nversion=1.0.0\n",
            ),
            ("BOOT-INF/lib/log4j-core-2.14.1.jar", &inner),
            ("META-INF/maven/bad/pom.properties", b"groupId=x\n"),
        ]);
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("app.jar");
        std::fs::write(&path, outer).unwrap_or_else(|e| panic!("{e}"));
        let out = crate::collect_file(&InstalledJavaArchives, &path);
        let got: Vec<String> = out
            .packages
            .iter()
            .map(|p| p.component.to_string())
            .collect();
        assert_eq!(
            got,
            [
                "Maven:com.example:app@1.0.0",
                "Maven:org.apache.logging.log4j:log4j-core@2.14.1"
            ]
        );
        assert_eq!(out.errors.len(), 1, "{:?}", out.errors);

        std::fs::write(&path, b"not a zip").unwrap_or_else(|e| panic!("{e}"));
        let out = crate::collect_file(&InstalledJavaArchives, &path);
        assert!(out.packages.is_empty());
        assert_eq!(out.errors.len(), 1);
    }

    proptest::proptest! {
        #[test]
        fn corrupted_archives_never_panic(flips in proptest::collection::vec((0usize..4096, proptest::prelude::any::<u8>()), 0..16), junk in proptest::prelude::any::<Vec<u8>>()) {
            let inner = jar(&[("META-INF/maven/g/a/pom.properties", b"groupId=g\nartifactId=a\nversion=1\n")]);
            let mut bytes = jar(&[("META-INF/maven/g/b/pom.properties", b"groupId=g\nartifactId=b\nversion=2\n"), ("lib/a.jar", &inner)]);
            for (at, value) in flips {
                let len = bytes.len();
                if let Some(b) = bytes.get_mut(at % len) {
                    *b = value;
                }
            }
            let path = std::path::Path::new("/x.jar");
            let mut out = Collected::new(std::sync::Arc::from(path), &InstalledJavaArchives);
            let _ = collect_archive(Cursor::new(bytes), &mut out, 0);
            let _ = collect_archive(Cursor::new(junk), &mut out, 0);
        }
    }
}
