//! Package names and their per-ecosystem normalization.
//!
//! Two spellings name the same package when their *keys* are equal. Matching (intel against
//! inventory) always goes through the key; output always shows the name as it was found.
//!
//! | ecosystem | key |
//! |---|---|
//! | PyPI | PEP 503: lower-case, runs of `-` `_` `.` become one `-` |
//! | NuGet, Packagist, Hex, Pub | ASCII lower-case (these registries are case-insensitive) |
//! | crates.io | ASCII lower-case, `_` → `-` (crates.io refuses names differing only so) |
//! | Maven | `group:artifact`; a `/` separator (purl style) becomes `:` |
//! | npm, Go, RubyGems, OS packages, unknown | as given: case-sensitive |
//!
//! Surrounding whitespace is never part of a name.

use std::borrow::Cow;
use std::fmt;

use crate::ecosystem::EcosystemKind;

/// A package name as found, with its normalized matching key.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PackageName {
    key: Box<str>,
    name: Box<str>,
}

impl PackageName {
    /// Names `name` in `ecosystem`.
    pub fn new(ecosystem: &EcosystemKind, name: &str) -> PackageName {
        let name = name.trim();
        PackageName {
            key: normalize_name(ecosystem, name).into(),
            name: name.into(),
        }
    }

    /// The name as it was found.
    pub fn as_str(&self) -> &str {
        &self.name
    }

    /// The normalized key two spellings of one package share.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The npm scope (`ctrl` for `@ctrl/tinycolor`), if the name has one.
    pub fn npm_scope(&self) -> Option<&str> {
        self.name
            .strip_prefix('@')?
            .split_once('/')
            .map(|(scope, _)| scope)
    }
}

impl fmt::Display for PackageName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

/// The matching key of `name` in `ecosystem` (see the module table). Borrows when the name is
/// already normalized, which is the common case.
pub fn normalize_name<'a>(ecosystem: &EcosystemKind, name: &'a str) -> Cow<'a, str> {
    let name = name.trim();
    match ecosystem {
        EcosystemKind::PyPI => normalize_pep503(name),
        EcosystemKind::NuGet
        | EcosystemKind::Packagist
        | EcosystemKind::Hex
        | EcosystemKind::Pub => lower_ascii(name),
        EcosystemKind::CratesIo => {
            if name.bytes().any(|b| b.is_ascii_uppercase() || b == b'_') {
                Cow::Owned(name.to_ascii_lowercase().replace('_', "-"))
            } else {
                Cow::Borrowed(name)
            }
        }
        EcosystemKind::Maven => {
            if name.contains('/') && !name.contains(':') {
                Cow::Owned(name.replacen('/', ":", 1))
            } else {
                Cow::Borrowed(name)
            }
        }
        _ => Cow::Borrowed(name),
    }
}

fn lower_ascii(name: &str) -> Cow<'_, str> {
    if name.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(name.to_ascii_lowercase())
    } else {
        Cow::Borrowed(name)
    }
}

/// PEP 503: `re.sub(r"[-_.]+", "-", name).lower()`.
fn normalize_pep503(name: &str) -> Cow<'_, str> {
    let is_sep = |b: u8| matches!(b, b'-' | b'_' | b'.');
    let bytes = name.as_bytes();
    let already = !bytes
        .iter()
        .any(|b| b.is_ascii_uppercase() || matches!(b, b'_' | b'.'))
        && !bytes.windows(2).any(|w| w[0] == b'-' && w[1] == b'-');
    if already {
        return Cow::Borrowed(name);
    }
    let mut out = String::with_capacity(name.len());
    let mut in_sep = false;
    for c in name.chars() {
        if c.is_ascii() && is_sep(c as u8) {
            if !in_sep {
                out.push('-');
            }
            in_sep = true;
        } else {
            out.push(c.to_ascii_lowercase());
            in_sep = false;
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_per_ecosystem() {
        use EcosystemKind as E;
        let cases: &[(E, &str, &str)] = &[
            (E::PyPI, "Django", "django"),
            (E::PyPI, "zope.interface", "zope-interface"),
            (E::PyPI, "Foo__Bar-.baz", "foo-bar-baz"),
            (E::PyPI, "typing-extensions", "typing-extensions"),
            (E::PyPI, "  requests  ", "requests"),
            (E::NuGet, "Newtonsoft.Json", "newtonsoft.json"),
            (E::Packagist, "Symfony/Console", "symfony/console"),
            (E::CratesIo, "Serde_JSON", "serde-json"),
            (
                E::Maven,
                "org.apache.logging.log4j:log4j-core",
                "org.apache.logging.log4j:log4j-core",
            ),
            (
                E::Maven,
                "org.apache.logging.log4j/log4j-core",
                "org.apache.logging.log4j:log4j-core",
            ),
            (E::Npm, "@Ctrl/TinyColor", "@Ctrl/TinyColor"),
            (
                E::Go,
                "github.com/BurntSushi/toml",
                "github.com/BurntSushi/toml",
            ),
            (E::Debian, "libssl3", "libssl3"),
        ];
        for (eco, name, key) in cases {
            assert_eq!(normalize_name(eco, name), *key, "{eco} {name}");
            assert_eq!(PackageName::new(eco, name).key(), *key, "{eco} {name}");
        }
    }

    #[test]
    fn npm_scope() {
        let scoped = PackageName::new(&EcosystemKind::Npm, "@ctrl/tinycolor");
        assert_eq!(scoped.npm_scope(), Some("ctrl"));
        assert_eq!(
            PackageName::new(&EcosystemKind::Npm, "debug").npm_scope(),
            None
        );
    }

    proptest::proptest! {
        #[test]
        fn normalization_is_idempotent(name in "\\PC{0,24}") {
            for kind in EcosystemKind::KNOWN {
                let once = normalize_name(kind, &name).into_owned();
                proptest::prop_assert_eq!(normalize_name(kind, &once), once.as_str());
            }
        }
    }
}
