//! Package URLs (purl, ECMA-427).
//!
//! A purl names a package the same way across tools: `pkg:type/namespace/name@version?qualifiers#subpath`.
//! vigil uses it as the portable identity of a [`Component`] in reports (CycloneDX, SPDX, JSON)
//! and to read the `purl` fields of SBOMs and OSV records back into an [`Ecosystem`] and name.
//!
//! Follows the purl specification (ECMA-427 clause 5, "How to parse", "How to build") and the
//! registered type definitions of package-url/purl-spec; conformance-tested against that
//! repository's test suite (`tests/purl_conformance.rs`).
//!
//! # Entry points
//! - [`Purl::parse`]: the conformance parser. Percent-decodes, normalizes (type lower-cased,
//!   per-type case folding and name rules) and enforces the "shall" rules, including the
//!   registered type definitions: required or prohibited namespace, required qualifiers, permitted
//!   characters. Qualifier keys must already be lower-case (the suite's `required` group).
//! - [`Purl::parse_lenient`]: for ingesting purls written by other tools. Same normalization, but
//!   qualifier keys of any case are lower-cased (the spec's "How to parse" step, and what the
//!   suite's `recommended` group expects), surrounding whitespace is trimmed, a stray `%` is
//!   kept literally, and the type definitions' requirements are not enforced (a real-world
//!   `pkg:golang/stdlib@1.22` or a `pkg:julia/...` without `uuid` is still read).
//!   [`Purl::validate`] checks them afterwards if wanted.
//! - [`PurlBuilder`]: the `build` direction, from decoded components.
//! - `Display`: the canonical string. Every constructor normalizes, so formatting only encodes.
//! - [`Purl::for_package`], [`Purl::ecosystem`], [`Purl::package_name`],
//!   [`Component::purl`]: the mapping to and from vigil's OSV ecosystems (table below).
//!
//! # Rules in brief
//! - Parsing works right to left: `#subpath`, then `?qualifiers` (both split at the last
//!   separator), then the `pkg:` scheme (any slashes after it are ignored), the type, and the
//!   path. The version starts at the last `@` (so `pkg:brew/node@20@20.10.0` is `node@20` at
//!   `20.10.0`); the name is the last segment before it. Empty, `.` and `..` subpath segments
//!   and empty namespace segments are dropped; a qualifier with an empty value is absent.
//! - Canonical encoding keeps `A-Z a-z 0-9 . - _ ~ :` and percent-encodes every other byte of
//!   the UTF-8 text with upper-case hex (`/` inside a qualifier value becomes `%2F`, `+` becomes
//!   `%2B`, space `%20`). Qualifiers are sorted by key.
//! - Per-type normalization (from the type definitions): lower-case namespace and/or name where
//!   the definition says case-insensitive (`deb`, `apk`, `composer`, `github`, `bitbucket`,
//!   `brew`, `hex`, `oci`, …), lower-case versions where it says so (`pypi`, `huggingface`,
//!   `oci`, `vscode-extension`); `pypi` names also turn `_` into `-`; `pub` names keep only
//!   `[a-z0-9_]` (others become `_`); `cpan` namespaces (author ids) are upper-case; `mlflow` names
//!   are lower-cased for Databricks registries only; `git` keeps the host as the namespace and
//!   the repository path (which may contain `/`) as the name.
//!
//! Complexity: parsing, building and formatting are linear in the input length (plus
//! `O(q log q)` for `q` qualifiers); no recursion, no backtracking, so hostile input is bounded.
//!
//! # Deliberate deviations
//! - **Qualifier key case.** ECMA-427 says keys "shall" be lower-case and the suite's
//!   `required` group rejects `?Platform=java` (purl-spec #942/#951), while the spec's "How to
//!   parse" lower-cases keys and the `recommended` group expects that. [`Purl::parse`] follows
//!   the former, [`Purl::parse_lenient`] the latter. One `required` maven test still expects
//!   `repositorY_url` to be accepted by the strict parser (the same bug #951 fixed for `gem`);
//!   the conformance test lists it as an upstream erratum.
//! - **`git` and `golang` case.** Both definitions mark namespace and name `case_sensitive`,
//!   though a `git` test and the `golang` notes ask for lower-casing. We keep the case: Go module
//!   paths and most git hosts' repository paths are case-sensitive (`github.com/BurntSushi/toml`),
//!   and folding them would change which package is named. (One `recommended` git test fails.)
//! - **Not applied:** `hackage`'s "kebab-case" (word boundaries cannot be recovered from a name),
//!   `otp`'s case-insensitive subpath (it is a file path), `alpm`'s vercmp version
//!   normalization, and the splitting of `checksum` values into lists (kept as one string).
//! - **Lenient input.** Raw non-ASCII or other not-permitted characters in the input are
//!   accepted and percent-encoded on output, and the `pkg` scheme is matched ignoring case;
//!   the canonical output is always the strict form.
//! - **Version `@`.** As the spec says, the version starts at the last `@`, with one exception:
//!   an `@` opening a path segment before the last one is an unencoded npm scope
//!   (`pkg:npm/@babel/core`, which the `recommended` tests expect to parse), not a version.
//!   Trailing slashes are stripped before the version is split off (the spec strips them after),
//!   so `pkg:swift/github.com/Alamofire/@5.4.3` has an empty name, as a `required` test expects.
//!
//! # vigil ecosystems
//!
//! | OSV ecosystem | purl | notes |
//! |---|---|---|
//! | npm | `npm` | `@scope/name` → namespace `@scope` (written `%40scope`) |
//! | PyPI | `pypi` | lower-case, `_` → `-` |
//! | Maven | `maven` | `group:artifact` → namespace `group`; a `Maven:<url>` suffix becomes `repository_url` (not read back) |
//! | Go | `golang` | module path split at its last `/` (`stdlib` has no namespace) |
//! | crates.io, RubyGems, NuGet, Pub, Hex, CRAN, Hackage | `cargo`, `gem`, `nuget`, `pub`, `hex`, `cran`, `hackage` | |
//! | Packagist | `composer` | `vendor/name`; a `Packagist:<url>` suffix becomes `repository_url` (not read back) |
//! | Debian, Ubuntu | `deb` | namespace `debian`/`ubuntu`; release ↔ `distro` (`debian-12`, `ubuntu-22.04`); codenames and point releases read back; Ubuntu's `Pro:` and `:LTS` are dropped going out and `:LTS` is restored for April releases of even years |
//! | Alpine, Alpaquita, BellSoft Hardened Containers, Chainguard, MinimOS, Wolfi | `apk` | namespace `alpine`, `alpaquita`, `bellsoft`, `chainguard`, `minimos`, `wolfi`; release ↔ `distro` (`alpine-3.18`) |
//! | Red Hat, Rocky Linux, AlmaLinux, Mageia, openEuler, openSUSE, SUSE | `rpm` | namespace `redhat`, `rocky`, `almalinux`, `mageia`, `openeuler`, `opensuse`, `suse`; release ↔ `distro` |
//! | Bitnami, ConanCenter, Julia, SwiftURL, GitHub Actions | `bitnami`, `conan`, `julia`, `swift`, `github` | Julia purls lack the required `uuid` (unknown here); a SwiftURL's scheme and `.git` are dropped; an action's path inside its repository is the subpath |
//! | Bioconductor, GHC, Docker Hardened Images, unknown | `generic` | no purl type; [`Purl::ecosystem`] gives `None` |
//!
//! [`Component`]: crate::component::Component
//! [`Component::purl`]: crate::component::Component::purl

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use crate::component::Component;
use crate::ecosystem::{Ecosystem, EcosystemKind};

/// A package URL. Always normalized: two spellings of the same package compare equal, and
/// `Display` gives the canonical string.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Purl {
    ty: String,
    namespace: Option<String>,
    name: String,
    version: Option<String>,
    qualifiers: BTreeMap<String, String>,
    subpath: Option<String>,
}

/// The seven components of a purl, for naming what an error is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PurlComponent {
    /// `pkg:`.
    Scheme,
    /// `npm`, `maven`, …
    Type,
    /// Segments between the type and the name.
    Namespace,
    /// The package name.
    Name,
    /// After `@`.
    Version,
    /// After `?`.
    Qualifiers,
    /// After `#`.
    Subpath,
}

impl fmt::Display for PurlComponent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PurlComponent::Scheme => "scheme",
            PurlComponent::Type => "type",
            PurlComponent::Namespace => "namespace",
            PurlComponent::Name => "name",
            PurlComponent::Version => "version",
            PurlComponent::Qualifiers => "qualifiers",
            PurlComponent::Subpath => "subpath",
        })
    }
}

/// Why a purl could not be parsed or built.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PurlError {
    /// A required component is absent or empty.
    #[error("purl {component} is missing: {reason}")]
    Missing {
        /// The missing component.
        component: PurlComponent,
        /// Why it is required.
        reason: String,
    },
    /// A component is present but malformed.
    #[error("invalid purl {component}: {reason}")]
    Invalid {
        /// The malformed component.
        component: PurlComponent,
        /// What is wrong with it.
        reason: String,
    },
    /// The type's definition forbids this component.
    #[error("purl type `{ty}` does not allow a {component}")]
    Prohibited {
        /// The forbidden component.
        component: PurlComponent,
        /// The purl type.
        ty: String,
    },
}

fn missing(component: PurlComponent, reason: impl Into<String>) -> PurlError {
    PurlError::Missing {
        component,
        reason: reason.into(),
    }
}

fn invalid(component: PurlComponent, reason: impl Into<String>) -> PurlError {
    PurlError::Invalid {
        component,
        reason: reason.into(),
    }
}

/// At most 40 characters of `s`, for error messages about hostile input.
fn snippet(s: &str) -> String {
    match s.char_indices().nth(40) {
        Some((end, _)) => format!("{:?}…", &s[..end]),
        None => format!("{s:?}"),
    }
}

/// Whether a component must, may or must not be present.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Requirement {
    /// Must be present.
    Required,
    /// May be present.
    Optional,
    /// Must be absent.
    Prohibited,
}

/// How a component's case is normalized.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CaseRule {
    /// Kept as given.
    Sensitive,
    /// Lower-cased (Unicode, culture-invariant).
    Lower,
    /// Upper-cased (`cpan` author ids).
    Upper,
}

impl CaseRule {
    fn apply(self, s: &mut String) {
        match self {
            CaseRule::Sensitive => {}
            CaseRule::Lower => {
                if s.chars().any(|c| c.to_lowercase().ne(std::iter::once(c))) {
                    *s = s.to_lowercase();
                }
            }
            CaseRule::Upper => {
                if s.chars().any(|c| c.to_uppercase().ne(std::iter::once(c))) {
                    *s = s.to_uppercase();
                }
            }
        }
    }
}

/// The rules of one registered purl type, transcribed from its
/// `types/<type>-definition.json` in package-url/purl-spec.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TypeDefinition {
    /// The type, lower-case.
    pub ty: &'static str,
    /// Whether a namespace is required, optional or prohibited.
    pub namespace: Requirement,
    /// Case normalization of namespace segments.
    pub namespace_case: CaseRule,
    /// Case normalization of the name (before any name rule of the type).
    pub name_case: CaseRule,
    /// Case normalization of the version.
    pub version_case: CaseRule,
    /// Qualifier keys that must be present.
    pub required_qualifiers: &'static [&'static str],
}

const fn def(
    ty: &'static str,
    namespace: Requirement,
    namespace_case: CaseRule,
    name_case: CaseRule,
    version_case: CaseRule,
    required_qualifiers: &'static [&'static str],
) -> TypeDefinition {
    TypeDefinition {
        ty,
        namespace,
        namespace_case,
        name_case,
        version_case,
        required_qualifiers,
    }
}

use CaseRule::{Lower, Sensitive as Keep, Upper};
use Requirement::{Optional as Opt, Prohibited as No, Required as Req};

/// Every registered type (42), sorted by type.
pub const REGISTERED_TYPES: &[TypeDefinition] = &[
    def("alpm", Req, Lower, Lower, Keep, &[]),
    def("apk", Req, Lower, Lower, Keep, &[]),
    def("bazel", No, Keep, Keep, Keep, &[]),
    def("bitbucket", Req, Lower, Lower, Keep, &[]),
    def("bitnami", No, Keep, Lower, Keep, &[]),
    def("brew", Opt, Lower, Lower, Keep, &[]),
    def("cargo", No, Keep, Keep, Keep, &[]),
    def("chrome-extension", No, Keep, Lower, Keep, &[]),
    def("cocoapods", No, Keep, Keep, Keep, &[]),
    def("composer", Req, Lower, Lower, Keep, &[]),
    def("conan", Opt, Keep, Keep, Keep, &[]),
    def("conda", No, Keep, Keep, Keep, &[]),
    def("cpan", Opt, Upper, Keep, Keep, &[]),
    def("cran", No, Keep, Keep, Keep, &[]),
    def("deb", Req, Lower, Lower, Keep, &[]),
    def("docker", Opt, Keep, Keep, Keep, &[]),
    def("gem", No, Keep, Keep, Keep, &[]),
    def("generic", Opt, Keep, Keep, Keep, &[]),
    def("git", Req, Keep, Keep, Keep, &[]),
    def("github", Req, Lower, Lower, Keep, &[]),
    def("golang", Req, Keep, Keep, Keep, &[]),
    def("hackage", No, Keep, Keep, Keep, &[]),
    def("hex", Opt, Lower, Lower, Keep, &[]),
    def("huggingface", Req, Keep, Keep, Lower, &[]),
    def("julia", No, Keep, Keep, Keep, &["uuid"]),
    def("luarocks", Opt, Lower, Lower, Keep, &[]),
    def("maven", Req, Keep, Keep, Keep, &[]),
    def("mlflow", No, Keep, Keep, Keep, &[]),
    def("npm", Opt, Keep, Keep, Keep, &[]),
    def("nuget", No, Keep, Keep, Keep, &[]),
    def("oci", No, Keep, Lower, Lower, &[]),
    def("opam", No, Keep, Keep, Keep, &[]),
    def("otp", No, Keep, Lower, Keep, &[]),
    def("pub", No, Keep, Lower, Keep, &[]),
    def("pypi", No, Keep, Lower, Lower, &[]),
    def("qpkg", Req, Lower, Keep, Keep, &[]),
    def("rpm", Req, Lower, Keep, Keep, &[]),
    def("swid", Opt, Keep, Keep, Keep, &["tag_id"]),
    def("swift", Req, Keep, Keep, Keep, &[]),
    def("vcpkg", No, Keep, Keep, Keep, &[]),
    def("vscode-extension", Req, Lower, Lower, Lower, &[]),
    def("yocto", Opt, Lower, Keep, Keep, &[]),
];

/// The definition of a registered type (`ty` lower-case), or `None` for an unregistered one.
pub fn type_definition(ty: &str) -> Option<&'static TypeDefinition> {
    REGISTERED_TYPES
        .binary_search_by(|d| d.ty.cmp(ty))
        .ok()
        .and_then(|i| REGISTERED_TYPES.get(i))
}

// ---------------------------------------------------------------------------------------------
// Percent-encoding.

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Percent-decodes one component. `strict`: a `%` not followed by two hex digits is an error
/// (otherwise it is kept literally). The decoded bytes must be UTF-8.
fn decode(raw: &str, component: PurlComponent, strict: bool) -> Result<Cow<'_, str>, PurlError> {
    if !raw.contains('%') {
        return Ok(Cow::Borrowed(raw));
    }
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut rest = bytes;
    while let Some((&b, tail)) = rest.split_first() {
        if b == b'%' {
            let hi = tail.first().copied().and_then(hex_value);
            let lo = tail.get(1).copied().and_then(hex_value);
            if let (Some(hi), Some(lo)) = (hi, lo) {
                out.push((hi << 4) | lo);
                rest = tail.get(2..).unwrap_or_default();
                continue;
            }
            if strict {
                return Err(invalid(
                    component,
                    format!("bad percent-encoding in {}", snippet(raw)),
                ));
            }
        }
        out.push(b);
        rest = tail;
    }
    String::from_utf8(out).map(Cow::Owned).map_err(|_| {
        invalid(
            component,
            format!("{} percent-decodes to invalid UTF-8", snippet(raw)),
        )
    })
}

/// Bytes written as they are: the alphanumerics, the punctuation `.-_~`, and `:`.
fn is_unencoded(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'~' | b':')
}

/// Writes `s` percent-encoded.
fn write_encoded(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    let mut start = 0;
    for (i, b) in s.bytes().enumerate() {
        if !is_unencoded(b) {
            f.write_str(s.get(start..i).unwrap_or_default())?;
            write!(f, "%{b:02X}")?;
            start = i + 1;
        }
    }
    f.write_str(s.get(start..).unwrap_or_default())
}

/// Writes `/`-separated segments, each percent-encoded.
fn write_segments(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    for (i, segment) in s.split('/').enumerate() {
        if i > 0 {
            f.write_str("/")?;
        }
        write_encoded(f, segment)?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Component rules shared by parsing and building.

fn check_type(ty: &str) -> Result<(), PurlError> {
    let mut bytes = ty.bytes();
    match bytes.next() {
        None => Err(missing(PurlComponent::Type, "a purl needs a type")),
        Some(first) if !first.is_ascii_alphabetic() => Err(invalid(
            PurlComponent::Type,
            format!("{} must start with an ASCII letter", snippet(ty)),
        )),
        Some(_) if !bytes.all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-') => {
            Err(invalid(
                PurlComponent::Type,
                format!(
                    "{} may contain only ASCII letters, digits, '.' and '-'",
                    snippet(ty)
                ),
            ))
        }
        Some(_) => Ok(()),
    }
}

/// A qualifier key, already lower-cased where the caller allows that.
fn check_key(key: &str) -> Result<(), PurlError> {
    let mut bytes = key.bytes();
    let ok = bytes.next().is_some_and(|b| b.is_ascii_lowercase())
        && bytes.all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'_')
        });
    if ok {
        Ok(())
    } else {
        Err(invalid(
            PurlComponent::Qualifiers,
            format!(
                "key {} must be a lower-case ASCII letter followed by lower-case letters, digits, '.', '-' or '_'",
                snippet(key)
            ),
        ))
    }
}

/// Inserts a qualifier; empty values mean "absent"; a repeated key is an error.
fn insert_qualifier(
    qualifiers: &mut BTreeMap<String, String>,
    key: String,
    value: String,
) -> Result<(), PurlError> {
    if value.is_empty() {
        return Ok(());
    }
    if qualifiers.contains_key(&key) {
        return Err(invalid(
            PurlComponent::Qualifiers,
            format!("key {} appears more than once", snippet(&key)),
        ));
    }
    qualifiers.insert(key, value);
    Ok(())
}

/// Joins the non-empty segments of `s`, or `None` when there are none. `drop_dots` also drops
/// `.` and `..` (subpaths).
fn clean_segments(s: &str, drop_dots: bool) -> Option<String> {
    let joined = s
        .split('/')
        .filter(|seg| !seg.is_empty() && !(drop_dots && (*seg == "." || *seg == "..")))
        .collect::<Vec<_>>()
        .join("/");
    (!joined.is_empty()).then_some(joined)
}

/// Databricks model registries compare model names ignoring case; Azure ML and others do not.
fn is_databricks(repository_url: &str) -> bool {
    let after_scheme = repository_url
        .split_once("://")
        .map_or(repository_url, |(_, rest)| rest);
    let host = after_scheme
        .split(['/', '?', '#'])
        .next()
        .unwrap_or_default();
    host.to_ascii_lowercase().contains("databricks")
}

impl Purl {
    /// Parses a purl, enforcing the specification's rules and the registered type definitions
    /// (see the module documentation). Qualifier keys must be lower-case.
    pub fn parse(input: &str) -> Result<Purl, PurlError> {
        let purl = Purl::parse_components(input, true)?;
        purl.validate()?;
        Ok(purl)
    }

    /// Parses a purl written by another tool: normalizes like [`Purl::parse`], but lower-cases
    /// qualifier keys, trims surrounding whitespace, keeps a stray `%` literally, and does not
    /// enforce the type definitions' requirements (call [`Purl::validate`] for that).
    pub fn parse_lenient(input: &str) -> Result<Purl, PurlError> {
        Purl::parse_components(input.trim(), false)
    }

    fn parse_components(input: &str, strict: bool) -> Result<Purl, PurlError> {
        let (rest, subpath) = match input.rsplit_once('#') {
            Some((rest, subpath)) => (rest, Some(subpath)),
            None => (input, None),
        };
        let (rest, qualifiers) = match rest.rsplit_once('?') {
            Some((rest, qualifiers)) => (rest, Some(qualifiers)),
            None => (rest, None),
        };
        let Some((scheme, rest)) = rest.split_once(':') else {
            return Err(missing(PurlComponent::Scheme, "a purl starts with `pkg:`"));
        };
        if !scheme.eq_ignore_ascii_case("pkg") {
            return Err(invalid(
                PurlComponent::Scheme,
                format!("{} is not `pkg`", snippet(scheme)),
            ));
        }
        let rest = rest.trim_start_matches('/');
        let (ty, path) = rest.split_once('/').unwrap_or((rest, ""));
        check_type(ty)?;
        let ty = ty.to_ascii_lowercase();

        // The version starts at the last `@`, unless that `@` opens a segment before the last
        // one: then it is an unencoded npm scope (`pkg:npm/@babel/core`) and there is no
        // version. Trailing slashes go first, so in `name/@1.0` the name is empty.
        let path = path.trim_end_matches('/');
        let last_slash = path.rfind('/');
        let (rest, raw_version) = match path.rfind('@') {
            Some(at)
                if last_slash.is_some_and(|slash| at < slash)
                    && (at == 0 || path.as_bytes().get(at - 1) == Some(&b'/')) =>
            {
                (path, None)
            }
            Some(at) => (path.get(..at).unwrap_or_default(), path.get(at + 1..)),
            None => (path, None),
        };
        let (before_name, raw_name) = match rest.rsplit_once('/') {
            Some((before, last)) => (before, last),
            None => ("", rest),
        };
        if raw_name.is_empty() {
            return Err(missing(PurlComponent::Name, "a purl needs a name"));
        }
        let name = decode(raw_name, PurlComponent::Name, strict)?.into_owned();
        let version = match raw_version {
            Some(v) => Some(decode(v, PurlComponent::Version, strict)?.into_owned()),
            None => None,
        }
        .filter(|v| !v.is_empty());

        let mut namespace_segments = Vec::new();
        for raw in before_name.split('/').filter(|s| !s.is_empty()) {
            let segment = decode(raw, PurlComponent::Namespace, strict)?;
            if segment.contains('/') {
                return Err(invalid(
                    PurlComponent::Namespace,
                    format!("segment {} contains an encoded '/'", snippet(raw)),
                ));
            }
            namespace_segments.push(segment);
        }
        let namespace = (!namespace_segments.is_empty()).then(|| namespace_segments.join("/"));

        let mut parsed_qualifiers = BTreeMap::new();
        for pair in qualifiers.unwrap_or_default().split('&') {
            if pair.is_empty() {
                continue;
            }
            let Some((key, value)) = pair.split_once('=') else {
                return Err(invalid(
                    PurlComponent::Qualifiers,
                    format!("{} is not a key=value pair", snippet(pair)),
                ));
            };
            let key = if strict {
                Cow::Borrowed(key)
            } else {
                Cow::Owned(key.to_ascii_lowercase())
            };
            check_key(&key)?;
            let value = decode(value, PurlComponent::Qualifiers, strict)?.into_owned();
            insert_qualifier(&mut parsed_qualifiers, key.into_owned(), value)?;
        }

        let mut subpath_segments = Vec::new();
        for raw in subpath.unwrap_or_default().split('/') {
            let segment = decode(raw, PurlComponent::Subpath, strict)?;
            if segment.contains('/') {
                return Err(invalid(
                    PurlComponent::Subpath,
                    format!("segment {} contains an encoded '/'", snippet(raw)),
                ));
            }
            if !segment.is_empty() && segment != "." && segment != ".." {
                subpath_segments.push(segment);
            }
        }
        let subpath = (!subpath_segments.is_empty()).then(|| subpath_segments.join("/"));

        let mut purl = Purl {
            ty,
            namespace,
            name,
            version,
            qualifiers: parsed_qualifiers,
            subpath,
        };
        purl.normalize();
        purl.check_name()?;
        Ok(purl)
    }

    /// A name is required; a `git` name of slashes alone is empty once normalized.
    fn check_name(&self) -> Result<(), PurlError> {
        if self.name.is_empty() {
            return Err(missing(PurlComponent::Name, "a purl needs a name"));
        }
        Ok(())
    }

    /// A builder for a purl of type `ty` named `name`.
    pub fn builder(ty: impl Into<String>, name: impl Into<String>) -> PurlBuilder {
        PurlBuilder::default().ty(ty).name(name)
    }

    /// Applies the type's normalization. Idempotent.
    fn normalize(&mut self) {
        if self.ty == "git" {
            // The host is the namespace; the repository path, slashes and all, is the name.
            let mut joined = self.namespace.take().unwrap_or_default();
            if !joined.is_empty() {
                joined.push('/');
            }
            joined.push_str(&self.name);
            let joined = clean_segments(&joined, false).unwrap_or_default();
            match joined.split_once('/') {
                Some((host, path)) if !host.is_empty() && !path.is_empty() => {
                    self.namespace = Some(host.to_owned());
                    self.name = path.to_owned();
                }
                _ => self.name = joined,
            }
        }
        let Some(def) = type_definition(&self.ty) else {
            return;
        };
        if let Some(namespace) = &mut self.namespace {
            def.namespace_case.apply(namespace);
        }
        def.name_case.apply(&mut self.name);
        if let Some(version) = &mut self.version {
            def.version_case.apply(version);
        }
        match def.ty {
            "pypi" if self.name.contains('_') => self.name = self.name.replace('_', "-"),
            "pub"
                if !self
                    .name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_') =>
            {
                self.name = self
                    .name
                    .chars()
                    .map(|c| {
                        if c.is_ascii_lowercase() || c.is_ascii_digit() {
                            c
                        } else {
                            '_'
                        }
                    })
                    .collect();
            }
            "mlflow"
                if self
                    .qualifiers
                    .get("repository_url")
                    .is_some_and(|url| is_databricks(url)) =>
            {
                Lower.apply(&mut self.name);
            }
            _ => {}
        }
    }

    /// Checks the registered type definition's requirements: namespace required or prohibited,
    /// required qualifiers, permitted characters. Unregistered types pass (ECMA-427 5.7: valid,
    /// with a warning the caller may give; see [`type_definition`]).
    pub fn validate(&self) -> Result<(), PurlError> {
        let Some(def) = type_definition(&self.ty) else {
            return Ok(());
        };
        match (def.namespace, &self.namespace) {
            (Requirement::Required, None) => {
                return Err(missing(
                    PurlComponent::Namespace,
                    format!("type `{}` requires a namespace", def.ty),
                ));
            }
            (Requirement::Prohibited, Some(_)) => {
                return Err(PurlError::Prohibited {
                    component: PurlComponent::Namespace,
                    ty: def.ty.to_owned(),
                });
            }
            _ => {}
        }
        for key in def.required_qualifiers {
            if !self.qualifiers.contains_key(*key) {
                return Err(missing(
                    PurlComponent::Qualifiers,
                    format!("type `{}` requires the `{key}` qualifier", def.ty),
                ));
            }
        }
        let bad_name = |reason: &str| {
            Err(invalid(
                PurlComponent::Name,
                format!("{} {reason} (type `{}`)", snippet(&self.name), def.ty),
            ))
        };
        match def.ty {
            "chrome-extension" => {
                if self.name.len() != 32 || !self.name.bytes().all(|b| (b'a'..=b'p').contains(&b)) {
                    return bad_name("is not 32 letters a-p");
                }
                if let Some(version) = &self.version {
                    let segments = version.split('.').count();
                    let digits = version
                        .split('.')
                        .all(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()));
                    if !digits || segments > 4 {
                        return Err(invalid(
                            PurlComponent::Version,
                            format!(
                                "{} is not 1 to 4 dot-separated numbers (type `chrome-extension`)",
                                snippet(version)
                            ),
                        ));
                    }
                }
            }
            "cocoapods"
                if self.name.starts_with('.')
                    || self.name.contains('+')
                    || self.name.chars().any(char::is_whitespace) =>
            {
                return bad_name("contains whitespace or '+', or starts with '.'");
            }
            "cpan" if self.name.contains("::") => {
                return bad_name("is a module name ('::'), not a distribution name");
            }
            _ => {}
        }
        Ok(())
    }

    /// The type, lower-case (`npm`, `maven`, …).
    pub fn ty(&self) -> &str {
        &self.ty
    }

    /// The decoded namespace, segments joined with `/` (`@angular`, `github.com/gorilla`).
    pub fn namespace(&self) -> Option<&str> {
        self.namespace.as_deref()
    }

    /// The decoded name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The decoded version.
    pub fn version(&self) -> Option<&str> {
        self.version.as_deref()
    }

    /// The qualifiers, keys lower-case, values decoded, sorted by key.
    pub fn qualifiers(&self) -> &BTreeMap<String, String> {
        &self.qualifiers
    }

    /// One qualifier's value.
    pub fn qualifier(&self, key: &str) -> Option<&str> {
        self.qualifiers.get(key).map(String::as_str)
    }

    /// The decoded subpath, segments joined with `/`.
    pub fn subpath(&self) -> Option<&str> {
        self.subpath.as_deref()
    }

    /// The same purl without its version (the form OSV's `affected[].package.purl` uses).
    pub fn without_version(&self) -> Purl {
        Purl {
            version: None,
            ..self.clone()
        }
    }
}

impl fmt::Display for Purl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("pkg:")?;
        f.write_str(&self.ty)?;
        f.write_str("/")?;
        if let Some(namespace) = &self.namespace {
            write_segments(f, namespace)?;
            f.write_str("/")?;
        }
        if self.ty == "git" {
            write_segments(f, &self.name)?;
        } else {
            write_encoded(f, &self.name)?;
        }
        if let Some(version) = &self.version {
            f.write_str("@")?;
            write_encoded(f, version)?;
        }
        for (i, (key, value)) in self.qualifiers.iter().enumerate() {
            f.write_str(if i == 0 { "?" } else { "&" })?;
            f.write_str(key)?;
            f.write_str("=")?;
            write_encoded(f, value)?;
        }
        if let Some(subpath) = &self.subpath {
            f.write_str("#")?;
            write_segments(f, subpath)?;
        }
        Ok(())
    }
}

impl FromStr for Purl {
    type Err = PurlError;

    /// [`Purl::parse`].
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Purl::parse(s)
    }
}

impl serde::Serialize for Purl {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// Reads with [`Purl::parse_lenient`]: purls in SBOMs and feeds come from many tools.
impl<'de> serde::Deserialize<'de> for Purl {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <Cow<'de, str>>::deserialize(deserializer)?;
        Purl::parse_lenient(&text).map_err(serde::de::Error::custom)
    }
}

/// Builds a purl from decoded components (the spec's "How to build"): the type is lower-cased,
/// namespace and subpath are split on `/` (empty, and for subpaths `.`/`..`, segments dropped),
/// leading and trailing `/` of the name are stripped, qualifier keys are lower-cased and empty
/// values dropped, then the type's normalization and requirements apply.
#[derive(Clone, Debug, Default)]
pub struct PurlBuilder {
    ty: Option<String>,
    namespace: Option<String>,
    name: Option<String>,
    version: Option<String>,
    qualifiers: Vec<(String, String)>,
    subpath: Option<String>,
}

impl PurlBuilder {
    /// Sets the type.
    pub fn ty(mut self, ty: impl Into<String>) -> Self {
        self.ty = Some(ty.into());
        self
    }

    /// Sets the namespace (`/`-separated segments, decoded).
    pub fn namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = Some(namespace.into());
        self
    }

    /// Sets the name (decoded).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Sets the version (decoded).
    pub fn version(mut self, version: impl Into<String>) -> Self {
        self.version = Some(version.into());
        self
    }

    /// Adds a qualifier (decoded value).
    pub fn qualifier(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.qualifiers.push((key.into(), value.into()));
        self
    }

    /// Sets the subpath (`/`-separated segments, decoded).
    pub fn subpath(mut self, subpath: impl Into<String>) -> Self {
        self.subpath = Some(subpath.into());
        self
    }

    /// Normalizes and validates.
    pub fn build(self) -> Result<Purl, PurlError> {
        let ty = self.ty.unwrap_or_default();
        check_type(&ty)?;
        let name = self.name.unwrap_or_default();
        let name = name.trim_matches('/');
        if name.is_empty() {
            return Err(missing(PurlComponent::Name, "a purl needs a name"));
        }
        let mut qualifiers = BTreeMap::new();
        for (key, value) in self.qualifiers {
            let key = key.to_ascii_lowercase();
            check_key(&key)?;
            insert_qualifier(&mut qualifiers, key, value)?;
        }
        let mut purl = Purl {
            ty: ty.to_ascii_lowercase(),
            namespace: self.namespace.and_then(|ns| clean_segments(&ns, false)),
            name: name.to_owned(),
            version: self.version.filter(|v| !v.is_empty()),
            qualifiers,
            subpath: self.subpath.and_then(|s| clean_segments(&s, true)),
        };
        if purl.ty == "git" {
            purl.name = clean_segments(&purl.name, false).unwrap_or_default();
        }
        purl.normalize();
        purl.check_name()?;
        purl.validate()?;
        Ok(purl)
    }
}

// ---------------------------------------------------------------------------------------------
// vigil ecosystems.

/// Debian release codenames and their OSV release numbers.
const DEBIAN_CODENAMES: &[(&str, &str)] = &[
    ("buzz", "1.1"),
    ("rex", "1.2"),
    ("bo", "1.3"),
    ("hamm", "2.0"),
    ("slink", "2.1"),
    ("potato", "2.2"),
    ("woody", "3.0"),
    ("sarge", "3.1"),
    ("etch", "4"),
    ("lenny", "5"),
    ("squeeze", "6"),
    ("wheezy", "7"),
    ("jessie", "8"),
    ("stretch", "9"),
    ("buster", "10"),
    ("bullseye", "11"),
    ("bookworm", "12"),
    ("trixie", "13"),
    ("forky", "14"),
    ("duke", "15"),
];

/// Ubuntu release codenames and their versions.
const UBUNTU_CODENAMES: &[(&str, &str)] = &[
    ("warty", "4.10"),
    ("hoary", "5.04"),
    ("breezy", "5.10"),
    ("dapper", "6.06"),
    ("edgy", "6.10"),
    ("feisty", "7.04"),
    ("gutsy", "7.10"),
    ("hardy", "8.04"),
    ("intrepid", "8.10"),
    ("jaunty", "9.04"),
    ("karmic", "9.10"),
    ("lucid", "10.04"),
    ("maverick", "10.10"),
    ("natty", "11.04"),
    ("oneiric", "11.10"),
    ("precise", "12.04"),
    ("quantal", "12.10"),
    ("raring", "13.04"),
    ("saucy", "13.10"),
    ("trusty", "14.04"),
    ("utopic", "14.10"),
    ("vivid", "15.04"),
    ("wily", "15.10"),
    ("xenial", "16.04"),
    ("yakkety", "16.10"),
    ("zesty", "17.04"),
    ("artful", "17.10"),
    ("bionic", "18.04"),
    ("cosmic", "18.10"),
    ("disco", "19.04"),
    ("eoan", "19.10"),
    ("focal", "20.04"),
    ("groovy", "20.10"),
    ("hirsute", "21.04"),
    ("impish", "21.10"),
    ("jammy", "22.04"),
    ("kinetic", "22.10"),
    ("lunar", "23.04"),
    ("mantic", "23.10"),
    ("noble", "24.04"),
    ("oracular", "24.10"),
    ("plucky", "25.04"),
    ("questing", "25.10"),
];

fn lookup<'a>(table: &'a [(&str, &'a str)], key: &str) -> Option<&'a str> {
    table
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(key))
        .map(|(_, value)| *value)
}

/// The leading `parts` dot-separated numbers of `s` (`12.4.1` → `12.4` for 2), if any.
fn leading_numbers(s: &str, parts: usize) -> Option<&str> {
    let mut end = 0;
    for (i, segment) in s.split('.').take(parts).enumerate() {
        if segment.is_empty() || !segment.bytes().all(|b| b.is_ascii_digit()) {
            break;
        }
        end += segment.len() + usize::from(i > 0);
    }
    (end > 0).then(|| s.get(..end)).flatten()
}

/// OS-package purl namespaces per ecosystem.
const OS_NAMESPACES: &[(EcosystemKind, &str, &str)] = &[
    (EcosystemKind::Debian, "deb", "debian"),
    (EcosystemKind::Ubuntu, "deb", "ubuntu"),
    (EcosystemKind::Alpine, "apk", "alpine"),
    (EcosystemKind::Alpaquita, "apk", "alpaquita"),
    (EcosystemKind::BellSoft, "apk", "bellsoft"),
    (EcosystemKind::Chainguard, "apk", "chainguard"),
    (EcosystemKind::MinimOs, "apk", "minimos"),
    (EcosystemKind::Wolfi, "apk", "wolfi"),
    (EcosystemKind::RedHat, "rpm", "redhat"),
    (EcosystemKind::RockyLinux, "rpm", "rocky"),
    (EcosystemKind::AlmaLinux, "rpm", "almalinux"),
    (EcosystemKind::Mageia, "rpm", "mageia"),
    (EcosystemKind::OpenEuler, "rpm", "openeuler"),
    (EcosystemKind::OpenSuse, "rpm", "opensuse"),
    (EcosystemKind::Suse, "rpm", "suse"),
];

/// Other spellings of OS namespaces seen in the wild, read back only.
const OS_NAMESPACE_ALIASES: &[(&str, &str, EcosystemKind)] = &[
    ("rpm", "rhel", EcosystemKind::RedHat),
    ("rpm", "rocky-linux", EcosystemKind::RockyLinux),
    ("rpm", "alma", EcosystemKind::AlmaLinux),
    ("rpm", "sles", EcosystemKind::Suse),
    ("rpm", "sle", EcosystemKind::Suse),
    ("rpm", "opensuse-leap", EcosystemKind::OpenSuse),
    ("rpm", "opensuse-tumbleweed", EcosystemKind::OpenSuse),
];

/// The `distro` qualifier for an OS ecosystem release.
fn distro_for_release(kind: &EcosystemKind, namespace: &str, release: &str) -> String {
    let release = match kind {
        EcosystemKind::Ubuntu => {
            let release = release.strip_prefix("Pro:").unwrap_or(release);
            release.strip_suffix(":LTS").unwrap_or(release)
        }
        EcosystemKind::Alpine => release.strip_prefix('v').unwrap_or(release),
        _ => release,
    };
    format!("{namespace}-{release}")
}

/// The OSV release suffix for a `distro` qualifier (inverse of [`distro_for_release`], also
/// reading codenames and point releases).
fn release_for_distro(kind: &EcosystemKind, namespace: &str, distro: &str) -> Option<String> {
    let bare = distro
        .get(..namespace.len() + 1)
        .filter(|prefix| {
            prefix.ends_with('-') && prefix[..namespace.len()].eq_ignore_ascii_case(namespace)
        })
        .map_or(distro, |_| &distro[namespace.len() + 1..]);
    if bare.is_empty() {
        return None;
    }
    let release = match kind {
        EcosystemKind::Debian => {
            let numbered = lookup(DEBIAN_CODENAMES, bare).unwrap_or(bare);
            match leading_numbers(numbered, 1) {
                // Debian 4 and later are named by their major number (`Debian:12`).
                Some(major) if major.parse::<u32>().is_ok_and(|m| m >= 4) => major.to_owned(),
                _ => numbered.to_owned(),
            }
        }
        EcosystemKind::Ubuntu => {
            if bare.contains(':') {
                bare.to_owned()
            } else {
                let version = lookup(UBUNTU_CODENAMES, bare).unwrap_or(bare);
                let version = leading_numbers(version, 2).unwrap_or(version);
                // LTS releases: April of even years (and 6.06).
                let lts = match version.split_once('.') {
                    Some((year, "04")) => year.parse::<u32>().is_ok_and(|y| y % 2 == 0),
                    _ => version == "6.06",
                };
                if lts {
                    format!("{version}:LTS")
                } else {
                    version.to_owned()
                }
            }
        }
        EcosystemKind::Alpine => {
            let bare = bare.strip_prefix('v').unwrap_or(bare);
            match leading_numbers(bare, 2) {
                Some(version) if version.contains('.') => format!("v{version}"),
                _ => bare.to_owned(),
            }
        }
        _ => bare.to_owned(),
    };
    Some(release)
}

/// Splits `s` at its first `/` (`(None, s)` without one).
fn split_first_slash(s: &str) -> (Option<&str>, &str) {
    match s.split_once('/') {
        Some((head, tail)) => (Some(head), tail),
        None => (None, s),
    }
}

/// Splits `s` at its last `/` (`(None, s)` without one).
fn split_last_slash(s: &str) -> (Option<&str>, &str) {
    match s.rsplit_once('/') {
        Some((head, tail)) => (Some(head), tail),
        None => (None, s),
    }
}

impl Purl {
    /// The purl of `name` at `version` in an OSV `ecosystem` (see the module table). Never
    /// fails: the result always formats, and reads back with [`Purl::parse_lenient`]; it can
    /// miss what a type requires when vigil does not know it (a Julia `uuid`, a Go `stdlib`
    /// namespace), so [`Purl::parse`] may reject those. An empty version gives no version.
    pub fn for_package(ecosystem: &Ecosystem, name: &str, version: &str) -> Purl {
        let name = name.trim();
        let version = version.trim();
        let mut purl = Purl {
            ty: String::new(),
            namespace: None,
            name: String::new(),
            version: (!version.is_empty()).then(|| version.to_owned()),
            qualifiers: BTreeMap::new(),
            subpath: None,
        };
        let (ty, namespace, short_name): (&str, Option<&str>, &str) = match ecosystem.kind() {
            EcosystemKind::Npm => match name.strip_prefix('@').and_then(|n| n.split_once('/')) {
                Some(_) => {
                    let (scope, rest) = split_first_slash(name);
                    ("npm", scope, rest)
                }
                None => ("npm", None, name),
            },
            EcosystemKind::PyPI => ("pypi", None, name),
            EcosystemKind::Maven => {
                let (group, artifact) = match name.split_once(':') {
                    Some((group, artifact)) => (Some(group), artifact),
                    None => split_first_slash(name),
                };
                if let Some(url) = ecosystem.release() {
                    purl.qualifiers
                        .insert("repository_url".to_owned(), url.to_owned());
                }
                ("maven", group, artifact)
            }
            EcosystemKind::Go => {
                let (path, last) = split_last_slash(name);
                ("golang", path, last)
            }
            EcosystemKind::CratesIo => ("cargo", None, name),
            EcosystemKind::RubyGems => ("gem", None, name),
            EcosystemKind::NuGet => ("nuget", None, name),
            EcosystemKind::Packagist => {
                if let Some(url) = ecosystem.release() {
                    purl.qualifiers
                        .insert("repository_url".to_owned(), url.to_owned());
                }
                let (vendor, package) = split_first_slash(name);
                ("composer", vendor, package)
            }
            EcosystemKind::Pub => ("pub", None, name),
            EcosystemKind::Hex => ("hex", None, name),
            EcosystemKind::Cran => ("cran", None, name),
            EcosystemKind::Hackage => ("hackage", None, name),
            EcosystemKind::Bitnami => ("bitnami", None, name),
            EcosystemKind::ConanCenter => ("conan", None, name),
            EcosystemKind::Julia => ("julia", None, name),
            EcosystemKind::SwiftUrl => {
                // The OSV name is a Git URL; the purl is host/owner + repository.
                let url = name.split_once("://").map_or(name, |(_, rest)| rest);
                let url = url.trim_end_matches('/');
                let url = url.strip_suffix(".git").unwrap_or(url);
                let (path, last) = split_last_slash(url);
                ("swift", path, last)
            }
            EcosystemKind::GitHubActions => {
                // `owner/repo[/path/to/action]`.
                let (owner, rest) = split_first_slash(name);
                let (repo, path) = match rest.split_once('/') {
                    Some((repo, path)) => (repo, Some(path)),
                    None => (rest, None),
                };
                purl.subpath = path.and_then(|p| clean_segments(p, true));
                ("github", owner, repo)
            }
            kind => match OS_NAMESPACES.iter().find(|(k, _, _)| k == kind) {
                Some((_, ty, namespace)) => {
                    if let Some(release) = ecosystem.release() {
                        purl.qualifiers.insert(
                            "distro".to_owned(),
                            distro_for_release(kind, namespace, release),
                        );
                    }
                    (ty, Some(namespace), name)
                }
                // Bioconductor, GHC, Docker Hardened Images and unknown ecosystems.
                None => ("generic", None, name),
            },
        };
        purl.ty = ty.to_owned();
        purl.namespace = namespace.and_then(|ns| clean_segments(ns, false));
        purl.name = short_name.trim_matches('/').to_owned();
        purl.normalize();
        purl
    }

    /// The OSV ecosystem this purl's package belongs to, with the release suffix when a
    /// `distro` qualifier gives it (`Debian:12`, `Ubuntu:22.04:LTS`, `Alpine:v3.18`); `None` for
    /// types and OS vendors without one (`generic`, `docker`, `pkg:deb/kali/…`, …).
    pub fn ecosystem(&self) -> Option<Ecosystem> {
        let kind = match self.ty.as_str() {
            "npm" => EcosystemKind::Npm,
            "pypi" => EcosystemKind::PyPI,
            "maven" => EcosystemKind::Maven,
            "golang" => EcosystemKind::Go,
            "cargo" => EcosystemKind::CratesIo,
            "gem" => EcosystemKind::RubyGems,
            "nuget" => EcosystemKind::NuGet,
            "composer" => EcosystemKind::Packagist,
            "pub" => EcosystemKind::Pub,
            "hex" => EcosystemKind::Hex,
            "cran" => EcosystemKind::Cran,
            "hackage" => EcosystemKind::Hackage,
            "bitnami" => EcosystemKind::Bitnami,
            "conan" => EcosystemKind::ConanCenter,
            "julia" => EcosystemKind::Julia,
            "swift" => EcosystemKind::SwiftUrl,
            "github" => EcosystemKind::GitHubActions,
            "deb" | "apk" | "rpm" => {
                let namespace = self.namespace.as_deref()?;
                let kind = OS_NAMESPACES
                    .iter()
                    .find(|(_, ty, ns)| *ty == self.ty && ns.eq_ignore_ascii_case(namespace))
                    .map(|(kind, _, _)| kind)
                    .or_else(|| {
                        OS_NAMESPACE_ALIASES
                            .iter()
                            .find(|(ty, ns, _)| {
                                *ty == self.ty && ns.eq_ignore_ascii_case(namespace)
                            })
                            .map(|(_, _, kind)| kind)
                    })?
                    .clone();
                let release = self
                    .qualifier("distro")
                    .and_then(|distro| release_for_distro(&kind, namespace, distro));
                return Some(match release {
                    Some(release) => Ecosystem::parse(&format!("{}:{release}", kind.as_str())),
                    None => Ecosystem::new(kind),
                });
            }
            _ => return None,
        };
        Some(Ecosystem::new(kind))
    }

    /// The package name as vigil and OSV spell it: `@ctrl/tinycolor`,
    /// `org.apache.logging.log4j:log4j-core`, `github.com/foo/bar`, `symfony/console`; for OS
    /// packages the name alone (the namespace is the distribution).
    pub fn package_name(&self) -> String {
        match (self.ty.as_str(), &self.namespace) {
            ("maven", Some(group)) => format!("{group}:{}", self.name),
            ("deb" | "apk" | "rpm" | "alpm" | "hex", _) | (_, None) => self.name.clone(),
            ("github", Some(owner)) => match &self.subpath {
                Some(path) => format!("{owner}/{}/{path}", self.name),
                None => format!("{owner}/{}", self.name),
            },
            (_, Some(namespace)) => format!("{namespace}/{}", self.name),
        }
    }
}

impl Component {
    /// This component's purl ([`Purl::for_package`]).
    pub fn purl(&self) -> Purl {
        Purl::for_package(&self.ecosystem, self.name.as_str(), &self.version)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_and_formats_canonically() {
        // (input, canonical form)
        let cases = [
            (
                "pkg:npm/%40angular/animation@12.3.1",
                "pkg:npm/%40angular/animation@12.3.1",
            ),
            ("pkg:npm/@babel/core@7.0.0", "pkg:npm/%40babel/core@7.0.0"),
            (
                "pkg://maven/org.apache.commons/io/",
                "pkg:maven/org.apache.commons/io",
            ),
            (
                "pkg:PYPI/Django_package@1.11.1.DEV1",
                "pkg:pypi/django-package@1.11.1.dev1",
            ),
            (
                "pkg:deb/Debian/attr@1:2.4.47-2%2bb1?distro=jessie&arch=amd64",
                "pkg:deb/debian/attr@1:2.4.47-2%2Bb1?arch=amd64&distro=jessie",
            ),
            ("pkg:brew/node@20@20.10.0", "pkg:brew/node%4020@20.10.0"),
            (
                "pkg:golang/google.golang.org/genproto#/googleapis/./api/../annotations/",
                "pkg:golang/google.golang.org/genproto#googleapis/api/annotations",
            ),
            (
                "pkg:generic/x?download_url=https://a.example/b%20c&checksum=sha1:ab%2Ccd",
                "pkg:generic/x?checksum=sha1:ab%2Ccd&download_url=https:%2F%2Fa.example%2Fb%20c",
            ),
            (
                "pkg:git/codeberg.org/forgejo/forgejo@a72d#options/x.md",
                "pkg:git/codeberg.org/forgejo/forgejo@a72d#options/x.md",
            ),
            ("pkg:pub/Flutter-Foo@1.0", "pkg:pub/flutter_foo@1.0"),
            (
                "pkg:cpan/drolsky/DateTime@1.55",
                "pkg:cpan/DROLSKY/DateTime@1.55",
            ),
            ("pkg:npm/foo@?a=", "pkg:npm/foo"),
            ("pkg:generic/caf%C3%A9@1", "pkg:generic/caf%C3%A9@1"),
            ("pkg:generic/café@1", "pkg:generic/caf%C3%A9@1"),
            (
                "pkg:unregistered-type.x/A/B@C",
                "pkg:unregistered-type.x/A/B@C",
            ),
        ];
        for (input, canonical) in cases {
            let purl = Purl::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(purl.to_string(), canonical, "{input}");
            assert_eq!(Purl::parse(canonical).as_ref(), Ok(&purl), "{canonical}");
        }
    }

    #[test]
    fn decodes_components() {
        let purl = Purl::parse("pkg:maven/my%20group/art@1.0%20Final?k=a%2Fb#sub%20dir/f")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(purl.ty(), "maven");
        assert_eq!(purl.namespace(), Some("my group"));
        assert_eq!(purl.name(), "art");
        assert_eq!(purl.version(), Some("1.0 Final"));
        assert_eq!(purl.qualifier("k"), Some("a/b"));
        assert_eq!(purl.subpath(), Some("sub dir/f"));
        assert_eq!(
            purl.without_version().to_string(),
            "pkg:maven/my%20group/art?k=a%2Fb#sub%20dir/f"
        );
    }

    #[test]
    fn rejects_invalid_purls() {
        use PurlComponent as C;
        // (input, component the error names)
        let cases = [
            ("npm/foo@1", C::Scheme),
            ("pkg%3Anpm/foo", C::Scheme),
            ("http:npm/foo", C::Scheme),
            ("pkg:3npm/foo", C::Type),
            ("pkg:n&m/foo", C::Type),
            ("pkg:/", C::Type),
            ("pkg:npm", C::Name),
            ("pkg:npm/@1.0", C::Name),
            ("pkg:swift/github.com/Alamofire/@5.4.3", C::Name),
            ("pkg:npm/foo?Key=v", C::Qualifiers),
            ("pkg:npm/foo?in%20production=true", C::Qualifiers),
            ("pkg:npm/foo?a=1&a=2", C::Qualifiers),
            ("pkg:npm/foo?novalue", C::Qualifiers),
            ("pkg:npm/foo@1%", C::Version),
            ("pkg:npm/foo@1%ff", C::Version),
            ("pkg:npm/a%2Fb/foo", C::Namespace),
            ("pkg:npm/foo#a%2Fb", C::Subpath),
            ("pkg:git/%2F%2F", C::Name),
            ("pkg:swift/Alamofire@5.4.3", C::Namespace),
            ("pkg:otp/ns/hex@2.1.1", C::Namespace),
            ("pkg:julia/Dates", C::Qualifiers),
            ("pkg:cpan/URI::PackageURL", C::Name),
            ("pkg:chrome-extension/dogs", C::Name),
            (
                "pkg:chrome-extension/dlpngalgnefjeiefhmpklpfiohadpglk@1.2.3-beta",
                C::Version,
            ),
            ("pkg:cocoapods/.hidden", C::Name),
        ];
        for (input, component) in cases {
            let err = match Purl::parse(input) {
                Ok(purl) => panic!("{input}: parsed as {purl}"),
                Err(err) => err,
            };
            let got = match &err {
                PurlError::Missing { component, .. }
                | PurlError::Invalid { component, .. }
                | PurlError::Prohibited { component, .. } => *component,
            };
            assert_eq!(got, component, "{input}: {err}");
        }
    }

    #[test]
    fn lenient_parsing_accepts_what_tools_write() {
        // (input, canonical form)
        let cases = [
            (
                "pkg:gem/jruby-launcher@1.1.2?Platform=java",
                "pkg:gem/jruby-launcher@1.1.2?platform=java",
            ),
            ("  pkg:npm/foo@1  ", "pkg:npm/foo@1"),
            ("pkg:generic/foo@100%", "pkg:generic/foo@100%25"),
            ("pkg:golang/stdlib@1.22.1", "pkg:golang/stdlib@1.22.1"),
            ("pkg:julia/Dates@1.9.0", "pkg:julia/Dates@1.9.0"),
            ("PKG:npm/foo", "pkg:npm/foo"),
        ];
        for (input, canonical) in cases {
            let purl = Purl::parse_lenient(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(purl.to_string(), canonical, "{input}");
        }
        assert!(Purl::parse_lenient("pkg:golang/stdlib").is_ok_and(|p| p.validate().is_err()));
    }

    #[test]
    fn builds_from_components() {
        let purl = Purl::builder("Maven", "/batik-anim/")
            .namespace("/org.apache.xmlgraphics/")
            .version("1.9.1")
            .qualifier("Type", "pom")
            .qualifier("classifier", "")
            .qualifier("repository_url", "repo.spring.io/release")
            .subpath("./a//b/../")
            .build();
        assert_eq!(
            purl.map(|p| p.to_string()),
            Ok("pkg:maven/org.apache.xmlgraphics/batik-anim@1.9.1?repository_url=repo.spring.io%2Frelease&type=pom#a/b".to_owned())
        );
        let git = Purl::builder("git", "forgejo/forgejo")
            .namespace("codeberg.org")
            .build();
        assert_eq!(
            git.map(|p| p.to_string()),
            Ok("pkg:git/codeberg.org/forgejo/forgejo".to_owned())
        );
        let git = Purl::builder("git", "forgejo")
            .namespace("codeberg.org/forgejo")
            .build();
        assert_eq!(
            git.map(|p| p.name().to_owned()),
            Ok("forgejo/forgejo".to_owned())
        );
        let mlflow = |url: &str| {
            Purl::builder("mlflow", "CreditFraud")
                .qualifier("repository_url", url)
                .build()
                .map(|p| p.name().to_owned())
        };
        assert_eq!(
            mlflow("https://adb-1.0.azuredatabricks.net/api"),
            Ok("creditfraud".to_owned())
        );
        assert_eq!(
            mlflow("https://westus2.api.azureml.ms/mlflow"),
            Ok("CreditFraud".to_owned())
        );
        assert!(PurlBuilder::default().name("x").build().is_err());
        assert!(Purl::builder("npm", "").build().is_err());
        assert!(
            Purl::builder("vcpkg", "asio")
                .namespace("boost")
                .build()
                .is_err()
        );
        assert!(
            Purl::builder("npm", "x")
                .qualifier("in production", "true")
                .build()
                .is_err()
        );
    }

    #[test]
    fn every_registered_type_is_listed_once_in_order() {
        assert_eq!(REGISTERED_TYPES.len(), 42);
        assert!(REGISTERED_TYPES.windows(2).all(|w| w[0].ty < w[1].ty));
        for def in REGISTERED_TYPES {
            assert_eq!(type_definition(def.ty), Some(def));
        }
        assert_eq!(type_definition("nope"), None);
    }

    fn eco(name: &str) -> Ecosystem {
        Ecosystem::parse(name)
    }

    #[test]
    fn maps_ecosystems_to_purls() {
        // (ecosystem, name, version, purl)
        let cases = [
            (
                "npm",
                "@ctrl/tinycolor",
                "4.1.1",
                "pkg:npm/%40ctrl/tinycolor@4.1.1",
            ),
            ("npm", "lodash", "4.17.21", "pkg:npm/lodash@4.17.21"),
            ("PyPI", "Flask_Login", "0.6.3", "pkg:pypi/flask-login@0.6.3"),
            (
                "Maven",
                "org.apache.logging.log4j:log4j-core",
                "2.14.1",
                "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1",
            ),
            (
                "Maven:https://maven.google.com",
                "androidx.core:core",
                "1.0",
                "pkg:maven/androidx.core/core@1.0?repository_url=https:%2F%2Fmaven.google.com",
            ),
            (
                "Go",
                "github.com/BurntSushi/toml",
                "v1.3.2",
                "pkg:golang/github.com/BurntSushi/toml@v1.3.2",
            ),
            ("Go", "stdlib", "1.22.1", "pkg:golang/stdlib@1.22.1"),
            (
                "crates.io",
                "serde_json",
                "1.0.0",
                "pkg:cargo/serde_json@1.0.0",
            ),
            ("RubyGems", "rails", "7.0.0", "pkg:gem/rails@7.0.0"),
            (
                "NuGet",
                "Newtonsoft.Json",
                "13.0.1",
                "pkg:nuget/Newtonsoft.Json@13.0.1",
            ),
            (
                "Packagist",
                "Symfony/Console",
                "6.0.0",
                "pkg:composer/symfony/console@6.0.0",
            ),
            ("Pub", "http", "1.0.0", "pkg:pub/http@1.0.0"),
            ("Hex", "Phoenix", "1.7.0", "pkg:hex/phoenix@1.7.0"),
            ("CRAN", "ggplot2", "3.4.0", "pkg:cran/ggplot2@3.4.0"),
            ("Hackage", "aeson", "2.1.0.0", "pkg:hackage/aeson@2.1.0.0"),
            (
                "Debian:12",
                "libssl3",
                "3.0.11-1~deb12u2",
                "pkg:deb/debian/libssl3@3.0.11-1~deb12u2?distro=debian-12",
            ),
            (
                "Debian",
                "curl",
                "7.88.1-10",
                "pkg:deb/debian/curl@7.88.1-10",
            ),
            (
                "Ubuntu:22.04:LTS",
                "openssl",
                "3.0.2-0ubuntu1",
                "pkg:deb/ubuntu/openssl@3.0.2-0ubuntu1?distro=ubuntu-22.04",
            ),
            (
                "Ubuntu:Pro:18.04:LTS",
                "curl",
                "1",
                "pkg:deb/ubuntu/curl@1?distro=ubuntu-18.04",
            ),
            (
                "Alpine:v3.18",
                "musl",
                "1.2.4-r2",
                "pkg:apk/alpine/musl@1.2.4-r2?distro=alpine-3.18",
            ),
            ("Wolfi", "glibc", "2.38-r1", "pkg:apk/wolfi/glibc@2.38-r1"),
            (
                "Alpaquita:stream",
                "zlib",
                "1.3-r0",
                "pkg:apk/alpaquita/zlib@1.3-r0?distro=alpaquita-stream",
            ),
            (
                "Red Hat",
                "openssl",
                "1:3.0.7-24.el9",
                "pkg:rpm/redhat/openssl@1:3.0.7-24.el9",
            ),
            (
                "Rocky Linux:9",
                "bash",
                "5.1.8-6.el9",
                "pkg:rpm/rocky/bash@5.1.8-6.el9?distro=rocky-9",
            ),
            (
                "openSUSE:Leap 15.5",
                "vim",
                "9.0",
                "pkg:rpm/opensuse/vim@9.0?distro=opensuse-Leap%2015.5",
            ),
            (
                "SwiftURL",
                "https://github.com/apple/swift-nio.git",
                "2.0.0",
                "pkg:swift/github.com/apple/swift-nio@2.0.0",
            ),
            (
                "GitHub Actions",
                "actions/checkout",
                "v4",
                "pkg:github/actions/checkout@v4",
            ),
            (
                "GitHub Actions",
                "github/codeql-action/init",
                "v3",
                "pkg:github/github/codeql-action@v3#init",
            ),
            (
                "Bitnami",
                "WordPress",
                "6.2.0",
                "pkg:bitnami/wordpress@6.2.0",
            ),
            ("ConanCenter", "openssl", "3.0.3", "pkg:conan/openssl@3.0.3"),
            ("Julia", "Dates", "1.9.0", "pkg:julia/Dates@1.9.0"),
            (
                "Bioconductor",
                "limma",
                "3.50.0",
                "pkg:generic/limma@3.50.0",
            ),
            ("Fancy New", "thing", "", "pkg:generic/thing"),
        ];
        for (ecosystem, name, version, want) in cases {
            let purl = Purl::for_package(&eco(ecosystem), name, version);
            assert_eq!(purl.to_string(), want, "{ecosystem} {name}");
            assert_eq!(Purl::parse_lenient(want).as_ref(), Ok(&purl), "{want}");
        }
        let component = Component::new(eco("npm"), "@ctrl/tinycolor", "4.1.1");
        assert_eq!(
            component.purl().to_string(),
            "pkg:npm/%40ctrl/tinycolor@4.1.1"
        );
    }

    #[test]
    fn maps_purls_to_ecosystems() {
        // (purl, ecosystem, package name)
        let cases: &[(&str, Option<&str>, &str)] = &[
            (
                "pkg:npm/%40ctrl/tinycolor@4.1.1",
                Some("npm"),
                "@ctrl/tinycolor",
            ),
            ("pkg:pypi/flask-login", Some("PyPI"), "flask-login"),
            (
                "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1",
                Some("Maven"),
                "org.apache.logging.log4j:log4j-core",
            ),
            (
                "pkg:golang/github.com/foo/bar@v1.0.0",
                Some("Go"),
                "github.com/foo/bar",
            ),
            ("pkg:cargo/serde", Some("crates.io"), "serde"),
            ("pkg:gem/rails", Some("RubyGems"), "rails"),
            (
                "pkg:nuget/Newtonsoft.Json",
                Some("NuGet"),
                "Newtonsoft.Json",
            ),
            (
                "pkg:composer/symfony/console",
                Some("Packagist"),
                "symfony/console",
            ),
            ("pkg:pub/http", Some("Pub"), "http"),
            ("pkg:hex/acme/foo", Some("Hex"), "foo"),
            ("pkg:cran/A3", Some("CRAN"), "A3"),
            ("pkg:hackage/aeson", Some("Hackage"), "aeson"),
            (
                "pkg:deb/debian/curl@7.50.3-1?arch=i386&distro=jessie",
                Some("Debian:8"),
                "curl",
            ),
            (
                "pkg:deb/debian/curl?distro=debian-12.4",
                Some("Debian:12"),
                "curl",
            ),
            (
                "pkg:deb/debian/curl?distro=bookworm",
                Some("Debian:12"),
                "curl",
            ),
            ("pkg:deb/debian/curl?distro=sid", Some("Debian:sid"), "curl"),
            ("pkg:deb/debian/curl", Some("Debian"), "curl"),
            (
                "pkg:deb/ubuntu/dpkg?distro=ubuntu-22.04",
                Some("Ubuntu:22.04:LTS"),
                "dpkg",
            ),
            (
                "pkg:deb/ubuntu/dpkg?distro=jammy",
                Some("Ubuntu:22.04:LTS"),
                "dpkg",
            ),
            (
                "pkg:deb/ubuntu/dpkg?distro=ubuntu-23.10",
                Some("Ubuntu:23.10"),
                "dpkg",
            ),
            ("pkg:deb/kali/curl", None, "curl"),
            (
                "pkg:apk/alpine/curl@7.83.0-r0?distro=alpine-3.18.4",
                Some("Alpine:v3.18"),
                "curl",
            ),
            (
                "pkg:apk/alpine/curl?distro=3.20.1",
                Some("Alpine:v3.20"),
                "curl",
            ),
            ("pkg:apk/wolfi/glibc", Some("Wolfi"), "glibc"),
            ("pkg:apk/openwrt/curl", None, "curl"),
            ("pkg:rpm/redhat/openssl", Some("Red Hat"), "openssl"),
            ("pkg:rpm/rhel/openssl", Some("Red Hat"), "openssl"),
            (
                "pkg:rpm/rocky/bash?distro=rocky-9",
                Some("Rocky Linux:9"),
                "bash",
            ),
            (
                "pkg:rpm/opensuse/vim?distro=opensuse-Leap%2015.5",
                Some("openSUSE:Leap 15.5"),
                "vim",
            ),
            ("pkg:rpm/fedora/curl", None, "curl"),
            (
                "pkg:swift/github.com/apple/swift-nio",
                Some("SwiftURL"),
                "github.com/apple/swift-nio",
            ),
            (
                "pkg:github/actions/checkout@v4",
                Some("GitHub Actions"),
                "actions/checkout",
            ),
            (
                "pkg:github/github/codeql-action@v3#init",
                Some("GitHub Actions"),
                "github/codeql-action/init",
            ),
            ("pkg:bitnami/wordpress", Some("Bitnami"), "wordpress"),
            ("pkg:conan/openssl", Some("ConanCenter"), "openssl"),
            (
                "pkg:julia/Dates?uuid=ade2ca70-3891-5945-98fb-dc099432e06a",
                Some("Julia"),
                "Dates",
            ),
            ("pkg:generic/openssl@1.1.10g", None, "openssl"),
            ("pkg:docker/library/debian", None, "library/debian"),
        ];
        for (input, ecosystem, name) in cases {
            let purl = Purl::parse_lenient(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(purl.ecosystem(), ecosystem.map(eco), "{input}");
            assert_eq!(purl.package_name(), *name, "{input}");
        }
    }

    #[test]
    fn ecosystem_mapping_round_trips() {
        // (ecosystem, name): for_package, then back.
        let cases = [
            ("npm", "@ctrl/tinycolor"),
            ("npm", "left-pad"),
            ("PyPI", "requests"),
            ("Maven", "org.apache.logging.log4j:log4j-core"),
            ("Go", "github.com/foo/bar/v2"),
            ("crates.io", "serde"),
            ("RubyGems", "rails"),
            ("NuGet", "Newtonsoft.Json"),
            ("Packagist", "symfony/console"),
            ("Pub", "http"),
            ("Hex", "phoenix"),
            ("CRAN", "ggplot2"),
            ("Hackage", "aeson"),
            ("Debian:12", "curl"),
            ("Debian:sid", "curl"),
            ("Ubuntu:22.04:LTS", "curl"),
            ("Ubuntu:23.10", "curl"),
            ("Alpine:v3.18", "curl"),
            ("Alpaquita:stream", "curl"),
            ("BellSoft Hardened Containers:23", "curl"),
            ("Chainguard", "curl"),
            ("MinimOS", "curl"),
            ("Wolfi", "curl"),
            ("Red Hat:enterprise_linux:9::appstream", "openssl"),
            ("Rocky Linux:9", "bash"),
            ("AlmaLinux:8", "bash"),
            ("Mageia:9", "bash"),
            ("openEuler:22.03-LTS", "bash"),
            ("openSUSE:Leap 15.5", "vim"),
            ("SUSE:Linux Enterprise Server 15 SP5", "vim"),
            ("Bitnami", "wordpress"),
            ("ConanCenter", "openssl"),
            ("Julia", "Dates"),
            ("SwiftURL", "github.com/apple/swift-nio"),
            ("GitHub Actions", "actions/checkout"),
        ];
        for (ecosystem, name) in cases {
            let purl = Purl::for_package(&eco(ecosystem), name, "1.0");
            let text = purl.to_string();
            let back = Purl::parse_lenient(&text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(back.ecosystem(), Some(eco(ecosystem)), "{ecosystem} {text}");
            assert_eq!(back.package_name(), name, "{ecosystem} {text}");
            assert_eq!(back.version(), Some("1.0"));
        }
    }

    #[test]
    fn errors_name_component_and_reason() {
        let err = Purl::parse("pkg:swift/Alamofire@5.4.3").err();
        assert_eq!(
            err.map(|e| e.to_string()).as_deref(),
            Some("purl namespace is missing: type `swift` requires a namespace")
        );
        let err = Purl::parse(&format!("pkg:npm/foo?{}=1", "K".repeat(1000))).err();
        assert!(err.is_some_and(|e| e.to_string().len() < 200));
    }

    #[test]
    fn serde_uses_the_canonical_string() {
        let purl = Purl::parse("pkg:npm/%40a/b@1").unwrap_or_else(|e| panic!("{e}"));
        let json = serde_json::to_string(&purl).unwrap_or_default();
        assert_eq!(json, "\"pkg:npm/%40a/b@1\"");
        let back: Result<Purl, _> = serde_json::from_str("\"pkg:npm/@a/b@1?Foo=x\"");
        assert_eq!(
            back.map(|p| p.to_string()).ok().as_deref(),
            Some("pkg:npm/%40a/b@1?foo=x")
        );
    }

    /// A piece of a component: plain text, percent escapes (valid or not), separators, case and
    /// a little non-ASCII, mixed so that normalization and encoding collide.
    fn chunk() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            3 => "[a-zA-Z0-9._~-]{1,4}",
            2 => prop::sample::select(vec![
                "%2F", "%2f", "%40", "%c3%a9", "%25", "%", "%zz", "%ff", "@", "/", ":", "+", " ",
                "é", "İ", "Σ", "ß", ".", "..", "_", "A_B", "::", "=", "&",
            ])
            .prop_map(str::to_owned),
        ];
        prop::collection::vec(piece, 1..4).prop_map(|pieces| pieces.concat())
    }

    /// Purl-shaped text, valid often enough to exercise formatting.
    fn purl_text() -> impl Strategy<Value = String> {
        let scheme = prop::sample::select(vec!["pkg:", "pkg:", "pkg://", "PKG:/", "pkg"]);
        let ty = prop::sample::select(vec![
            "npm",
            "maven",
            "Maven",
            "pypi",
            "git",
            "deb",
            "golang",
            "pub",
            "mlflow",
            "cpan",
            "generic",
            "swid",
            "julia",
            "github",
            "chrome-extension",
            "cocoapods",
            "x.y-z",
            "3x",
        ]);
        let key = prop::sample::select(vec![
            "arch",
            "Arch",
            "repository_url",
            "tag_id",
            "uuid",
            "distro",
            "a.b-c_d",
            "1bad",
            "",
            "in%20production",
        ]);
        let value = prop_oneof![
            chunk(),
            Just("https://adb-1.azuredatabricks.net/api".to_owned()),
            Just(String::new()),
        ];
        (
            scheme,
            ty,
            prop::collection::vec(chunk(), 1..4),
            prop::option::of(chunk()),
            prop::collection::vec((key, value), 0..3),
            prop::option::of(prop::collection::vec(chunk(), 0..3)),
        )
            .prop_map(|(scheme, ty, path, version, qualifiers, subpath)| {
                let mut text = format!("{scheme}{ty}/{}", path.join("/"));
                if let Some(version) = version {
                    text.push('@');
                    text.push_str(&version);
                }
                for (i, (key, value)) in qualifiers.iter().enumerate() {
                    text.push(if i == 0 { '?' } else { '&' });
                    text.push_str(&format!("{key}={value}"));
                }
                if let Some(subpath) = subpath {
                    text.push('#');
                    text.push_str(&subpath.join("/"));
                }
                text
            })
    }

    fn assert_stable(purl: &Purl) {
        let text = purl.to_string();
        let strict = Purl::parse(&text);
        let lenient = Purl::parse_lenient(&text);
        assert_eq!(lenient.as_ref(), Ok(purl), "{text}");
        if purl.validate().is_ok() {
            assert_eq!(strict.as_ref(), Ok(purl), "{text}");
        }
        assert_eq!(lenient.map(|p| p.to_string()), Ok(text.clone()), "{text}");
    }

    proptest! {
        #[test]
        fn parse_never_panics(input in any::<String>()) {
            let _ = Purl::parse(&input);
            let _ = Purl::parse_lenient(&input);
        }

        #[test]
        fn parsed_purls_format_stably(input in purl_text()) {
            for purl in [Purl::parse(&input), Purl::parse_lenient(&input)].iter().flatten() {
                assert_stable(purl);
            }
        }

        #[test]
        fn parsed_purls_format_stably_from_any_string(input in "pkg:\\PC{0,40}") {
            if let Ok(purl) = Purl::parse_lenient(&input) {
                assert_stable(&purl);
            }
        }

        #[test]
        fn built_purls_format_stably(
            ty in prop::sample::select(vec!["npm", "maven", "pypi", "git", "deb", "golang", "pub", "mlflow", "cpan", "generic", "Swid", "x-y.z"]),
            namespace in prop::option::of("[a-zA-Z0-9@/. %+é-]{0,12}"),
            name in "[a-zA-Z0-9@/._ %+:é-]{0,12}",
            version in prop::option::of("[a-zA-Z0-9@/.: %+-]{0,8}"),
            qualifiers in prop::collection::vec(("[a-zA-Z][a-z0-9._-]{0,5}", "[a-zA-Z0-9/:@&=?# %,-]{0,8}"), 0..4),
            subpath in prop::option::of("[a-zA-Z0-9/. %+-]{0,12}"),
        ) {
            let mut builder = Purl::builder(ty, name);
            if let Some(ns) = namespace { builder = builder.namespace(ns); }
            if let Some(v) = version { builder = builder.version(v); }
            for (k, v) in qualifiers { builder = builder.qualifier(k, v); }
            if let Some(s) = subpath { builder = builder.subpath(s); }
            if let Ok(purl) = builder.build() {
                assert_stable(&purl);
            }
        }

        #[test]
        fn for_package_formats_stably(
            ecosystem in prop::sample::select(vec![
                "npm", "PyPI", "Maven", "Go", "crates.io", "Packagist", "Pub", "Hex", "Debian:12",
                "Ubuntu:22.04:LTS", "Alpine:v3.18", "Red Hat", "SwiftURL", "GitHub Actions", "Other",
            ]),
            name in "[a-zA-Z0-9@/._:%+ é-]{0,16}",
            version in "[a-zA-Z0-9.:~+ -]{0,8}",
        ) {
            let purl = Purl::for_package(&eco(ecosystem), &name, &version);
            if !purl.name().is_empty() {
                assert_stable(&purl);
            }
        }
    }
}
