//! npm packages installed in `node_modules`: `…/node_modules/<name>/package.json` and
//! `…/node_modules/@scope/<name>/package.json` — exactly the package *slots* — covering nested
//! trees, scoped packages, bundled dependencies, global prefixes and pnpm's
//! `.pnpm/<id>/node_modules/<name>` store (pnpm's top-level entries are symlinks into the
//! store and are not followed, so each package counts once).
//!
//! Other `package.json` files inside `node_modules` are not packages: `{"type":"module"}`
//! markers, test fixtures, project templates, sub-path stubs. The slot rule skips them without
//! reading them.
//!
//! Only `name` and `version` are read (the real `name`: an alias directory such as
//! `node_modules/string-width-cjs` holds `string-width`). Everything else is skipped without
//! being interpreted, so odd fields (`author` as an array) cannot make a package vanish; a
//! duplicate key takes its last value, as `JSON.parse` does. A manifest without a usable name
//! or version, a template placeholder (`<%= name %>`, `{{name}}`), a VS Code extension
//! (`engines.vscode` or `contributes`) or a Unity package (`unity`) yields nothing.
//!
//! Installed packages carry no dev/production marker themselves; after a scan,
//! [`flag_dev_from_hidden_lockfiles`] flags those that npm's hidden lockfile records as dev.

use std::ffi::OsStr;
use std::fmt;
use std::path::{Component as PathPart, Path};

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};
use vigil_core::{EcosystemKind, Evidence};

use crate::collector::{Collected, Collector, FilePattern, SourceFile, read_capped};
use crate::error::{CollectError, ScanError};
use crate::found::FoundPackage;
use crate::lockfile::package_lock::dev_install_paths;

/// `package.json` over this size is refused (real ones are kilobytes).
pub const PACKAGE_JSON_LIMIT: u64 = 16 << 20;

/// Installed npm packages. See the module doc.
#[derive(Debug, Clone, Copy)]
pub struct InstalledNpmPackages;

impl Collector for InstalledNpmPackages {
    fn name(&self) -> &'static str {
        "npm-installed"
    }

    fn evidence(&self) -> Evidence {
        Evidence::Installed
    }

    fn patterns(&self) -> &'static [FilePattern] {
        &[FilePattern::Name("package.json")]
    }

    fn accepts(&self, path: &Path) -> bool {
        is_package_slot(path)
    }

    fn size_limit(&self) -> u64 {
        PACKAGE_JSON_LIMIT
    }

    fn collect(&self, file: &SourceFile<'_>, out: &mut Collected) -> Result<(), CollectError> {
        let manifest = parse_manifest(file.bytes)?;
        if let Some((name, version)) = manifest.package() {
            out.push_new(EcosystemKind::Npm, name, version, false);
        }
        Ok(())
    }
}

/// The hidden lockfile is read only to flag dev-only packages; it is not an inventory source.
const HIDDEN_LOCKFILE_LIMIT: u64 = 256 << 20;

/// Flags installed npm packages as dev-only where npm's hidden lockfile
/// (`<project>/node_modules/.package-lock.json`, written by npm 7+ on every install) marks
/// their install path `dev: true`. The package list itself always comes from the
/// `package.json` files; the hidden lockfile only annotates. One read per project root that
/// has installed packages; a missing or unreadable hidden lockfile changes nothing (errors are
/// returned for the report, except a missing file).
pub fn flag_dev_from_hidden_lockfiles(packages: &mut [FoundPackage]) -> Vec<ScanError> {
    use std::collections::{HashMap, HashSet};
    use std::path::PathBuf;

    // (project root, install path) for each installed npm package, e.g.
    // (/app, node_modules/a/node_modules/b).
    fn split(path: &Path) -> Option<(PathBuf, String)> {
        let dir = path.parent()?;
        let parts: Vec<_> = dir.components().collect();
        let first = parts.iter().position(|c| c.as_os_str() == "node_modules")?;
        let root: PathBuf = parts.get(..first)?.iter().collect();
        let rest: PathBuf = parts.get(first..)?.iter().collect();
        Some((root, rest.to_str()?.to_string()))
    }
    let mut errors = Vec::new();
    let mut by_root: HashMap<PathBuf, Option<HashSet<String>>> = HashMap::new();
    for package in packages
        .iter_mut()
        .filter(|p| p.collector == "npm-installed")
    {
        let Some((root, install_path)) = split(&package.path) else {
            continue;
        };
        let dev_paths = by_root.entry(root).or_insert_with_key(|root| {
            let lockfile = root.join("node_modules/.package-lock.json");
            let mut buf = Vec::new();
            match read_capped(&lockfile, HIDDEN_LOCKFILE_LIMIT, &mut buf)
                .and_then(|()| dev_install_paths(&buf))
            {
                Ok(paths) => Some(paths),
                Err(CollectError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => None,
                Err(err) => {
                    errors.push(ScanError::collect(lockfile, "npm-installed", err));
                    None
                }
            }
        });
        if dev_paths
            .as_ref()
            .is_some_and(|d| d.contains(&install_path))
        {
            package.dev = true;
        }
    }
    errors
}

/// True for `…/node_modules/<name>/package.json` and `…/node_modules/@scope/<name>/package.json`,
/// where `<name>` does not start with `.` (`.bin`, `.pnpm`, `.cache` are not packages).
pub fn is_package_slot(path: &Path) -> bool {
    let mut parts = path.components().rev();
    if parts.next() != Some(PathPart::Normal(OsStr::new("package.json"))) {
        return false;
    }
    let Some(PathPart::Normal(dir)) = parts.next() else {
        return false;
    };
    let dir = dir.as_encoded_bytes();
    if dir.first().is_none_or(|&b| b == b'.' || b == b'@') {
        return false;
    }
    match parts.next() {
        Some(PathPart::Normal(p)) if p == "node_modules" => true,
        Some(PathPart::Normal(p)) if p.as_encoded_bytes().first() == Some(&b'@') && p.len() > 1 => {
            matches!(parts.next(), Some(PathPart::Normal(p)) if p == "node_modules")
        }
        _ => false,
    }
}

/// The few fields of a `package.json` that matter here.
#[derive(Debug, Default)]
pub struct Manifest {
    /// `name`, when it is a string.
    pub name: Option<String>,
    /// `version`, when it is a string.
    pub version: Option<String>,
    /// `engines` is an object with a `vscode` key, or there is a `contributes` key: a VS Code
    /// extension.
    pub vscode_extension: bool,
    /// A top-level `unity` key: a Unity package manifest.
    pub unity_package: bool,
}

impl Manifest {
    /// The npm package this manifest describes: a valid name and version, not a template,
    /// not a VS Code extension or Unity package.
    pub fn package(&self) -> Option<(&str, &str)> {
        if self.vscode_extension || self.unity_package {
            return None;
        }
        let name = self.name.as_deref()?.trim();
        let version = self.version.as_deref()?.trim();
        (is_valid_name(name) && is_plausible_version(version)).then_some((name, version))
    }
}

/// Parses a `package.json` (leading BOM allowed), reading only the fields of [`Manifest`].
pub fn parse_manifest(bytes: &[u8]) -> Result<Manifest, CollectError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let manifest = de
        .deserialize_map(ManifestVisitor)
        .and_then(|m| de.end().map(|()| m))
        .map_err(|e| CollectError::json("package.json", &e))?;
    Ok(manifest)
}

struct ManifestVisitor;

impl<'de> Visitor<'de> for ManifestVisitor {
    type Value = Manifest;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Manifest, A::Error> {
        let mut m = Manifest::default();
        while let Some(key) = map.next_key::<KeyName>()? {
            match key {
                KeyName::Name => m.name = map.next_value::<MaybeString>()?.0,
                KeyName::Version => m.version = map.next_value::<MaybeString>()?.0,
                KeyName::Engines => m.vscode_extension |= map.next_value::<HasVscode>()?.0,
                KeyName::Unity => {
                    map.next_value::<IgnoredAny>()?;
                    m.unity_package = true;
                }
                KeyName::Contributes => {
                    map.next_value::<IgnoredAny>()?;
                    m.vscode_extension = true;
                }
                KeyName::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(m)
    }
}

/// The keys we look at; anything else is skipped without allocating.
enum KeyName {
    Name,
    Version,
    Engines,
    Unity,
    Contributes,
    Other,
}

impl<'de> de::Deserialize<'de> for KeyName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = KeyName;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a key")
            }
            fn visit_str<E: de::Error>(self, key: &str) -> Result<KeyName, E> {
                Ok(match key {
                    "name" => KeyName::Name,
                    "version" => KeyName::Version,
                    "engines" => KeyName::Engines,
                    "unity" => KeyName::Unity,
                    "contributes" => KeyName::Contributes,
                    _ => KeyName::Other,
                })
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

/// A string value, or `None` for any other JSON type (a numeric `version` is not a version).
struct MaybeString(Option<String>);

impl<'de> de::Deserialize<'de> for MaybeString {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = MaybeString;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<MaybeString, E> {
                Ok(MaybeString(Some(v.to_owned())))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<MaybeString, E> {
                Ok(MaybeString(None))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<MaybeString, E> {
                Ok(MaybeString(None))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<MaybeString, E> {
                Ok(MaybeString(None))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<MaybeString, E> {
                Ok(MaybeString(None))
            }
            fn visit_unit<E: de::Error>(self) -> Result<MaybeString, E> {
                Ok(MaybeString(None))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<MaybeString, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(MaybeString(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<MaybeString, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(MaybeString(None))
            }
        }
        d.deserialize_any(V)
    }
}

/// `engines` is an object with a `vscode` key.
struct HasVscode(bool);

impl<'de> de::Deserialize<'de> for HasVscode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = HasVscode;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<HasVscode, A::Error> {
                let mut found = false;
                while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                    found |= key == "vscode";
                    map.next_value::<IgnoredAny>()?;
                }
                Ok(HasVscode(found))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<HasVscode, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(HasVscode(false))
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<HasVscode, E> {
                Ok(HasVscode(false))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<HasVscode, E> {
                Ok(HasVscode(false))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<HasVscode, E> {
                Ok(HasVscode(false))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<HasVscode, E> {
                Ok(HasVscode(false))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<HasVscode, E> {
                Ok(HasVscode(false))
            }
            fn visit_unit<E: de::Error>(self) -> Result<HasVscode, E> {
                Ok(HasVscode(false))
            }
        }
        d.deserialize_any(V)
    }
}

/// npm package names: at most 214 bytes of URL-safe characters (`A-Z a-z 0-9 - . _ ~ ! * ' ( )`,
/// upper case allowed for legacy names), not starting with `.` or `_`; scoped names are
/// `@scope/name` with both parts so formed. Rejects template placeholders and paths.
pub fn is_valid_name(name: &str) -> bool {
    fn part_ok(part: &str) -> bool {
        !part.is_empty()
            && !part.starts_with(['.', '_'])
            && part
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._~!*'()".contains(&b))
    }
    if name.is_empty() || name.len() > 214 {
        return false;
    }
    match name.strip_prefix('@') {
        Some(scoped) => {
            matches!(scoped.split_once('/'), Some((scope, rest)) if part_ok(scope) && part_ok(rest))
        }
        None => part_ok(name),
    }
}

/// A version string worth reporting: non-empty, at most 256 bytes, starts with an ASCII
/// letter or digit, no whitespace or template characters (`<%= version %>`, `{{version}}`,
/// `${version}`).
pub fn is_plausible_version(version: &str) -> bool {
    version.len() <= 256
        && version
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphanumeric())
        && !version
            .bytes()
            .any(|b| b.is_ascii_whitespace() || b.is_ascii_control() || b"<>{}$%\"\\`".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slot_rule() {
        let cases = [
            ("/a/node_modules/debug/package.json", true),
            ("node_modules/debug/package.json", true),
            ("/a/node_modules/@ctrl/tinycolor/package.json", true),
            ("/a/node_modules/x/node_modules/y/package.json", true),
            (
                "/a/node_modules/.pnpm/a@1.0.0/node_modules/a/package.json",
                true,
            ),
            (
                "/a/node_modules/.pnpm/a@1.0.0/node_modules/@s/a/package.json",
                true,
            ),
            ("/a/package.json", false),
            ("/a/node_modules/package.json", false),
            ("/a/node_modules/@ctrl/package.json", false),
            ("/a/node_modules/.bin/package.json", false),
            ("/a/node_modules/.pnpm/package.json", false),
            ("/a/node_modules/x/dist/esm/package.json", false),
            ("/a/node_modules/x/files/package.json", false),
            ("/a/node_modules/@/x/package.json", false),
            ("/a/node_modules/x/package.json.bak", false),
            ("/a/node_modules/x/sub/node_modules/package.json", false),
        ];
        for (path, want) in cases {
            assert_eq!(is_package_slot(Path::new(path)), want, "{path}");
        }
    }

    #[test]
    fn manifests() {
        // (json, expected package)
        let cases: &[(&str, Option<(&str, &str)>)] = &[
            (
                r#"{"name":"debug","version":"4.4.3"}"#,
                Some(("debug", "4.4.3")),
            ),
            (
                r#"{"name":"toposort-class","author":["a","b"],"version":"1.0.1"}"#,
                Some(("toposort-class", "1.0.1")),
            ),
            (
                r#"{"name":"a","version":"1.0.0","name":"b"}"#,
                Some(("b", "1.0.0")),
            ),
            (
                "\u{feff}{\"name\":\"bom\",\"version\":\"1.0.0\"}",
                Some(("bom", "1.0.0")),
            ),
            (
                r#"{"name":"@ctrl/tinycolor","version":"4.1.1"}"#,
                Some(("@ctrl/tinycolor", "4.1.1")),
            ),
            (r#"{"type":"module"}"#, None),
            (r#"{"name":"<%= name %>","version":"0.0.0"}"#, None),
            (r#"{"name":"{{name}}","version":"1.0.0"}"#, None),
            (r#"{"name":"x","version":"<%= version %>"}"#, None),
            (r#"{"name":"x","version":1}"#, None),
            (r#"{"name":"","version":"1.0.0"}"#, None),
            (r#"{"name":"x","version":""}"#, None),
            (
                r#"{"name":"ext","version":"1.0.0","engines":{"vscode":"*"}}"#,
                None,
            ),
            (
                r#"{"name":"x","version":"1.0.0","engines":["node >= 0.2.0"]}"#,
                Some(("x", "1.0.0")),
            ),
            (
                r#"{"name":"org.khronos.unitygltf","version":"2.13.0","unity":"2020.3"}"#,
                None,
            ),
            (
                r#"{"name":"x","version":"1.0.0","nested":{"name":"y","version":"2"}}"#,
                Some(("x", "1.0.0")),
            ),
        ];
        for (json, want) in cases {
            let m = parse_manifest(json.as_bytes()).unwrap_or_default();
            assert_eq!(m.package(), *want, "{json}");
        }
    }

    #[test]
    fn rejects_non_objects_and_garbage_with_position() {
        for bad in ["", "[]", "null", "{\"name\":", "{} x", "\u{0}"] {
            let err = parse_manifest(bad.as_bytes());
            assert!(err.is_err(), "{bad:?}");
        }
        let Err(CollectError::Syntax { line, .. }) = parse_manifest(b"{\n\"name\": x}") else {
            panic!("expected a syntax error");
        };
        assert_eq!(line, Some(2));
    }

    proptest::proptest! {
        #[test]
        fn never_panics(s in proptest::prelude::any::<Vec<u8>>()) {
            let _ = parse_manifest(&s);
        }

        #[test]
        fn name_check_never_panics(s in "\\PC*") {
            let _ = is_valid_name(&s);
            let _ = is_plausible_version(&s);
        }
    }
}
