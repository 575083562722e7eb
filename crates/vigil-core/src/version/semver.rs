//! SemVer ordering, as OSV tooling applies it to npm, crates.io, Hex, Go and the other
//! SemVer-family ecosystems.
//!
//! Reference: osv-scalibr's `semantic` package (semver-like parser + SemVer comparator), which
//! osv-scanner uses to evaluate `ECOSYSTEM`/`SEMVER` ranges. That parser is deliberately
//! lenient, and so is this one: every string is a version and [`SemVersion::parse`] never fails.
//!
//! How a string is read:
//! - one leading lowercase `v` is dropped;
//! - the *core* is the longest prefix of ASCII digits and dots; its digit runs are the numeric
//!   components (empty runs are skipped, so `1..2` is `1.2`); missing components are 0, so
//!   `1` = `1.0` = `1.0.0`;
//! - the *tail* is everything from the first other character on (`-beta.1`, `rc1` in
//!   `1.36.0rc1`, `+build`). Components past the third are appended to the tail as `.N`
//!   (so `1.2.3.4` reads as `1.2.3` with tail `.4`, i.e. a prerelease);
//! - the prerelease is the tail up to its first `+`, minus one leading `-`; the rest is build
//!   metadata, which SemVer ignores (`1.0.0+a` = `1.0.0+b`, `v1.2.3+incompatible` = `1.2.3`).
//!
//! Precedence (SemVer 2.0 §11): components by value (any length: digits are compared as
//! strings, never parsed), then no prerelease > any prerelease, then prerelease identifiers
//! (split on `.`) left to right: numeric identifiers by value and below alphanumeric ones,
//! alphanumeric identifiers bytewise (`r2 > r100 > R2`), and a shorter identifier list is
//! smaller when it is a prefix of the longer one. Like the reference (Go's `big.Int`
//! parsing), an identifier `-N` counts as the negative number −N.
//!
//! [`PubVersion`](super::pubdev::PubVersion) shares all of this and additionally orders by build
//! metadata; [`GoVersion`](super::go::GoVersion) is this ordering unchanged.
//!
//! Complexity: parsing is one O(n) scan that records offsets (the only allocation is the owned
//! copy of the text); comparing is O(len(a) + len(b)) and allocation-free, and
//! [`VersionOrder::compare_str`] compares two strings without allocating at all.
//!
//! Deviations from the reference: none intended. Equality is ordering equality, so `01.2` =
//! `1.2.0` and `1.0.0-01` = `1.0.0-1`.

use std::cmp::Ordering;
use std::fmt;

use super::{VersionError, VersionOrder};

/// A non-negative integer given by its decimal digits (ASCII digits only, leading zeros
/// stripped; `""` is zero). Orders by value without parsing, so any length works.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Digits<'a>(&'a str);

impl<'a> Digits<'a> {
    /// Wraps a run of ASCII digits.
    pub(super) fn new(digits: &'a str) -> Digits<'a> {
        Digits(digits.trim_start_matches('0'))
    }

    fn is_zero(self) -> bool {
        self.0.is_empty()
    }

    /// The canonical decimal spelling (`"0"` for zero), as Go's `%d` prints it.
    fn decimal(self) -> &'a [u8] {
        if self.0.is_empty() {
            b"0"
        } else {
            self.0.as_bytes()
        }
    }
}

impl Ord for Digits<'_> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0
            .len()
            .cmp(&other.0.len())
            .then_with(|| self.0.cmp(other.0))
    }
}

impl PartialOrd for Digits<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Whether build metadata takes part in the ordering.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum BuildMetadata {
    /// SemVer 2.0 §10: build metadata is ignored.
    Ignored,
    /// Pub: versions equal otherwise order by their build metadata, bytewise.
    Bytewise,
}

/// Where the parts of a version lie in its text; every offset is a char boundary.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Layout {
    /// Major, minor and patch as byte ranges of digits without leading zeros (empty = 0).
    core: [(usize, usize); 3],
    /// Start of the fourth digit run of the core; `tail` when there is none.
    extra: usize,
    /// Start of the tail (first byte that is neither a digit nor `.`); the text length if none.
    tail: usize,
    /// The first `+` at or after `tail`; the text length if none.
    plus: usize,
}

impl Layout {
    /// One scan over `text`; infallible.
    fn scan(text: &str) -> Layout {
        let bytes = text.as_bytes();
        let start = usize::from(bytes.first() == Some(&b'v'));
        let mut core = [(start, start); 3];
        let mut runs = 0usize;
        let mut extra = None;
        let mut run_start = None;
        let mut tail = bytes.len();
        let mut close_run = |run: (usize, usize)| {
            if let Some(slot) = core.get_mut(runs) {
                let digits = Digits::new(text.get(run.0..run.1).unwrap_or_default());
                *slot = (run.1 - digits.0.len(), run.1);
            } else if extra.is_none() {
                extra = Some(run.0);
            }
            runs += 1;
        };
        for (i, &b) in bytes.iter().enumerate().skip(start) {
            if b.is_ascii_digit() {
                run_start.get_or_insert(i);
                continue;
            }
            if let Some(s) = run_start.take() {
                close_run((s, i));
            }
            if b != b'.' {
                tail = i;
                break;
            }
        }
        if let Some(s) = run_start {
            close_run((s, tail));
        }
        let plus = bytes
            .get(tail..)
            .and_then(|t| t.iter().position(|&b| b == b'+'))
            .map_or(bytes.len(), |p| tail + p);
        Layout {
            core,
            extra: extra.unwrap_or(tail),
            tail,
            plus,
        }
    }
}

/// A borrowed, scanned version: what every comparison works on.
#[derive(Clone, Copy)]
struct View<'a> {
    text: &'a str,
    layout: Layout,
}

/// One prerelease identifier.
#[derive(Clone, Copy)]
enum Ident<'a> {
    /// Digits with an optional leading `-` (negative unless zero).
    Number {
        negative: bool,
        magnitude: Digits<'a>,
    },
    /// Anything else, compared bytewise.
    Text(&'a str),
}

impl<'a> Ident<'a> {
    fn classify(ident: &'a str) -> Ident<'a> {
        let (negative, digits) = match ident.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, ident),
        };
        if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
            let magnitude = Digits::new(digits);
            Ident::Number {
                negative: negative && !magnitude.is_zero(),
                magnitude,
            }
        } else {
            Ident::Text(ident)
        }
    }
}

impl Ord for Ident<'_> {
    fn cmp(&self, other: &Self) -> Ordering {
        use Ident::{Number, Text};
        match (self, other) {
            (
                Number {
                    negative: na,
                    magnitude: ma,
                },
                Number {
                    negative: nb,
                    magnitude: mb,
                },
            ) => match (*na, *nb) {
                (false, false) => ma.cmp(mb),
                (true, true) => mb.cmp(ma),
                (true, false) => Ordering::Less,
                (false, true) => Ordering::Greater,
            },
            (Number { .. }, Text(_)) => Ordering::Less,
            (Text(_), Number { .. }) => Ordering::Greater,
            (Text(a), Text(b)) => a.as_bytes().cmp(b.as_bytes()),
        }
    }
}

impl PartialOrd for Ident<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Ident<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other).is_eq()
    }
}

impl Eq for Ident<'_> {}

impl<'a> View<'a> {
    fn new(text: &'a str) -> View<'a> {
        View {
            text,
            layout: Layout::scan(text),
        }
    }

    fn slice(&self, from: usize, to: usize) -> &'a str {
        self.text.get(from..to).unwrap_or_default()
    }

    fn component(&self, index: usize) -> Digits<'a> {
        let (from, to) = self.layout.core.get(index).copied().unwrap_or_default();
        Digits(self.slice(from, to))
    }

    /// Components past the third, in order.
    fn extras(&self) -> impl Iterator<Item = Digits<'a>> + use<'a> {
        self.slice(self.layout.extra, self.layout.tail)
            .split('.')
            .filter(|run| !run.is_empty())
            .map(Digits::new)
    }

    /// The prerelease identifiers, or `None` for a release.
    fn prerelease(&self) -> Option<impl Iterator<Item = Ident<'a>> + use<'a>> {
        let Layout {
            extra, tail, plus, ..
        } = self.layout;
        let before_plus = self.slice(tail, plus);
        let own = before_plus.strip_prefix('-').unwrap_or(before_plus);
        // Extra components join the tail after it, so a `+` in the tail cuts them off too.
        let has_extras = plus == self.text.len() && extra < tail;
        if own.is_empty() && !has_extras {
            return None;
        }
        let extras = self
            .extras()
            .filter(move |_| has_extras)
            .map(|magnitude| Ident::Number {
                negative: false,
                magnitude,
            });
        Some(own.split('.').map(Ident::classify).chain(extras))
    }

    /// The build metadata as Go's `strings.Cut(build, "+")` sees it, byte by byte: the tail
    /// after its first `+`, then the extra components as `.N`.
    fn build_bytes(&self) -> impl Iterator<Item = u8> + use<'a> {
        let has_plus = self.layout.plus < self.text.len();
        let own = self.slice(self.layout.plus.saturating_add(1), self.text.len());
        let extras = self
            .extras()
            .filter(move |_| has_plus)
            .flat_map(|d| std::iter::once(b'.').chain(d.decimal().iter().copied()));
        own.bytes().chain(extras)
    }

    fn compare(&self, other: &View<'_>, build: BuildMetadata) -> Ordering {
        (0..3)
            .map(|i| self.component(i).cmp(&other.component(i)))
            .find(|o| o.is_ne())
            .unwrap_or_else(|| match (self.prerelease(), other.prerelease()) {
                (None, None) => Ordering::Equal,
                (None, Some(_)) => Ordering::Greater,
                (Some(_), None) => Ordering::Less,
                (Some(a), Some(b)) => a.cmp(b),
            })
            .then_with(|| match build {
                BuildMetadata::Ignored => Ordering::Equal,
                BuildMetadata::Bytewise => self.build_bytes().cmp(other.build_bytes()),
            })
    }
}

/// A version of a SemVer-family ecosystem (npm, crates.io, Hex, …). Every string is one.
#[derive(Clone)]
pub struct SemVersion {
    text: Box<str>,
    layout: Layout,
}

impl SemVersion {
    /// Reads `input`; infallible (see the module doc for how odd strings are read).
    pub fn new(input: &str) -> SemVersion {
        SemVersion {
            text: input.into(),
            layout: Layout::scan(input),
        }
    }

    /// The text this version was parsed from.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    fn view(&self) -> View<'_> {
        View {
            text: &self.text,
            layout: self.layout,
        }
    }

    /// Orders two versions, with or without their build metadata.
    pub(super) fn compare_with(&self, other: &SemVersion, build: BuildMetadata) -> Ordering {
        self.view().compare(&other.view(), build)
    }

    /// Orders two version strings without allocating.
    pub(super) fn compare_str_with(a: &str, b: &str, build: BuildMetadata) -> Ordering {
        View::new(a).compare(&View::new(b), build)
    }
}

impl fmt::Debug for SemVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SemVersion").field(&self.text).finish()
    }
}

impl fmt::Display for SemVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Ord for SemVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        self.compare_with(other, BuildMetadata::Ignored)
    }
}

impl PartialOrd for SemVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for SemVersion {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other).is_eq()
    }
}

impl Eq for SemVersion {}

impl VersionOrder for SemVersion {
    fn parse(input: &str) -> Result<Self, VersionError> {
        Ok(SemVersion::new(input))
    }

    fn compare_str(a: &str, b: &str) -> Result<Ordering, VersionError> {
        Ok(SemVersion::compare_str_with(a, b, BuildMetadata::Ignored))
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Realistic, collision-prone SemVer-family versions: few distinct pieces, leading zeros,
    /// `v` prefixes, extra components, hyphen-less prereleases, build metadata.
    pub(in crate::version) fn version_strategy() -> impl Strategy<Value = String> {
        let number = prop_oneof![
            Just("0"),
            Just("00"),
            Just("1"),
            Just("01"),
            Just("2"),
            Just("10"),
            Just("99999999999999999999999"),
        ];
        let ident = prop_oneof![
            Just("alpha"),
            Just("beta"),
            Just("rc"),
            Just("0"),
            Just("1"),
            Just("01"),
            Just("2"),
            Just("11"),
            Just("-1"),
            Just("-0"),
            Just("r2"),
            Just("r100"),
            Just("R2"),
            Just("x-y"),
            Just(""),
            Just("20191109021931-daa7c04131f5"),
        ];
        let separator = prop_oneof![Just("-"), Just(""), Just("--"), Just("."), Just("_")];
        let build = prop_oneof![
            Just("build"),
            Just("1"),
            Just("2"),
            Just("a.b"),
            Just("incompatible"),
            Just("")
        ];
        (
            prop_oneof![Just(""), Just("v")],
            prop::collection::vec(number, 0..6),
            prop::option::of((separator, prop::collection::vec(ident, 1..4))),
            prop::option::of(prop::collection::vec(build, 1..3)),
        )
            .prop_map(|(v, numbers, pre, build)| {
                let mut s = format!("{v}{}", numbers.join("."));
                if let Some((sep, idents)) = pre {
                    s.push_str(sep);
                    s.push_str(&idents.join("."));
                }
                if let Some(build) = build {
                    s.push('+');
                    s.push_str(&build.join("."));
                }
                s
            })
    }

    /// Checks antisymmetry, consistency with `Eq`, and transitivity over every pair and triple.
    pub(in crate::version) fn check_total_order<T: Ord + fmt::Debug>(
        items: &[T],
    ) -> Result<(), TestCaseError> {
        for a in items {
            for b in items {
                prop_assert_eq!(a.cmp(b), b.cmp(a).reverse(), "antisymmetry {:?} {:?}", a, b);
                prop_assert_eq!(a == b, a.cmp(b).is_eq(), "eq {:?} {:?}", a, b);
                for c in items {
                    if a <= b && b <= c {
                        prop_assert!(a <= c, "transitivity {:?} <= {:?} <= {:?}", a, b, c);
                    }
                }
            }
        }
        Ok(())
    }

    /// A deliberately naive, allocating model of the reference algorithm (build the component
    /// list and the build string, then split), to check the offset-based code against.
    mod model {
        use std::cmp::Ordering;

        fn normalize(digits: &str) -> String {
            let trimmed = digits.trim_start_matches('0');
            if trimmed.is_empty() {
                "0".to_owned()
            } else {
                trimmed.to_owned()
            }
        }

        fn by_value(a: &str, b: &str) -> Ordering {
            a.len().cmp(&b.len()).then_with(|| a.cmp(b))
        }

        fn parse(input: &str) -> (Vec<String>, String) {
            let text = input.strip_prefix('v').unwrap_or(input);
            let mut components = Vec::new();
            let mut current = String::new();
            let mut build = String::new();
            for (i, c) in text.char_indices() {
                if c.is_ascii_digit() {
                    current.push(c);
                    continue;
                }
                if !current.is_empty() {
                    components.push(normalize(&current));
                    current.clear();
                }
                if c != '.' {
                    build = text[i..].to_owned();
                    break;
                }
            }
            if build.is_empty() && !current.is_empty() {
                components.push(normalize(&current));
            }
            if components.len() > 3 {
                for extra in components.split_off(3) {
                    build.push('.');
                    build.push_str(&extra);
                }
            }
            (components, build)
        }

        /// `Some((negative, magnitude))` when Go's `big.Int` would read `ident` as a number.
        fn number(ident: &str) -> Option<(bool, String)> {
            let (negative, digits) = match ident.strip_prefix('-') {
                Some(rest) => (true, rest),
                None => (false, ident),
            };
            if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
                return None;
            }
            let magnitude = normalize(digits);
            Some((negative && magnitude != "0", magnitude))
        }

        fn ident_cmp(a: &str, b: &str) -> Ordering {
            match (number(a), number(b)) {
                (Some((false, x)), Some((false, y))) => by_value(&x, &y),
                (Some((true, x)), Some((true, y))) => by_value(&y, &x),
                (Some((negative, _)), Some(_)) => {
                    if negative {
                        Ordering::Less
                    } else {
                        Ordering::Greater
                    }
                }
                (Some(_), None) => Ordering::Less,
                (None, Some(_)) => Ordering::Greater,
                (None, None) => a.as_bytes().cmp(b.as_bytes()),
            }
        }

        pub(super) fn compare(a: &str, b: &str, with_build: bool) -> Ordering {
            let ((ca, ba), (cb, bb)) = (parse(a), parse(b));
            for i in 0..ca.len().max(cb.len()) {
                let zero = "0".to_owned();
                let o = by_value(ca.get(i).unwrap_or(&zero), cb.get(i).unwrap_or(&zero));
                if o.is_ne() {
                    return o;
                }
            }
            let pre = |build: &str| {
                let before = build.split('+').next().unwrap_or_default().to_owned();
                before
                    .strip_prefix('-')
                    .map(str::to_owned)
                    .unwrap_or(before)
            };
            let (pa, pb) = (pre(&ba), pre(&bb));
            let o = match (pa.is_empty(), pb.is_empty()) {
                (true, true) => Ordering::Equal,
                (true, false) => Ordering::Greater,
                (false, true) => Ordering::Less,
                (false, false) => {
                    let (ia, ib): (Vec<&str>, Vec<&str>) =
                        (pa.split('.').collect(), pb.split('.').collect());
                    ia.iter()
                        .zip(&ib)
                        .map(|(x, y)| ident_cmp(x, y))
                        .find(|o| o.is_ne())
                        .unwrap_or(ia.len().cmp(&ib.len()))
                }
            };
            if o.is_ne() || !with_build {
                return o;
            }
            let after = |build: &str| {
                build
                    .split_once('+')
                    .map(|(_, b)| b.to_owned())
                    .unwrap_or_default()
            };
            after(&ba).cmp(&after(&bb))
        }
    }

    fn odd_version_strategy() -> impl Strategy<Value = String> {
        prop_oneof![version_strategy(), "[v0-9.+\\-aAr]{0,14}"]
    }

    fn cmp(a: &str, b: &str) -> Ordering {
        SemVersion::new(a).cmp(&SemVersion::new(b))
    }

    #[test]
    fn orders_case_table() {
        use Ordering::{Equal as E, Greater as G, Less as L};
        let cases = [
            ("1.0.0", "1.0.0", E),
            ("1", "1.0.0", E),
            ("1.2", "1.2.0", E),
            ("v1.2.3", "1.2.3", E),
            ("01.002.0003", "1.2.3", E),
            ("1..2", "1.2", E),
            ("", "0.0.0", E),
            ("1.2.3+build", "1.2.3", E),
            ("1.2.3+a", "1.2.3+b", E),
            ("v1.2.3+incompatible", "v1.2.3", E),
            ("1.0.0-01", "1.0.0-1", E),
            ("1.0.0-alpha", "1.0.0", L),
            ("1.0.0-alpha", "1.0.0-alpha.1", L),
            ("1.0.0-alpha.1", "1.0.0-alpha.beta", L),
            ("1.0.0-beta.2", "1.0.0-beta.11", L),
            ("1.0.0-rc.1", "1.0.0", L),
            ("1.36.0rc1", "1.36.0", L),
            ("1.36.0rc1", "1.36.0-rc1", E),
            ("1.36.0rc1", "1.36.0rc2", L),
            ("1.2.3-r2", "1.2.3-r100", G),
            ("1.2.3-r100", "1.2.3-R2", G),
            ("1.2.3-5-foo", "1.2.3-5", G),
            ("1.2.3-a.b", "1.2.3-a.5", G),
            // numeric components of any length
            (
                "99999999999999999999999999991",
                "99999999999999999999999999999",
                L,
            ),
            (
                "1.99999999999999999999999999999",
                "1.100000000000000000000000000000",
                L,
            ),
            // the fourth component and on join the prerelease
            ("1.1.3.4.5", "1.1.3.4.5", E),
            ("1.2.3.4", "1.2.3", L),
            ("1.2.3.4", "1.2.3.5", L),
            ("1.2.3.10", "1.2.3.9", G),
            ("1.2.3.04", "1.2.3.4", E),
            ("1.2.3.4-a", "1.2.3-a.4", E),
            ("1.2.3.4+b", "1.2.3", E),
            // `-N` identifiers are negative numbers, as in the reference
            ("1.0.0--1", "1.0.0-0", L),
            ("1.0.0--0", "1.0.0-0", E),
            ("1.0.0-a.-2", "1.0.0-a.-1", L),
            ("1.0.0-x.--1", "1.0.0-x.1", G),
            // Go pseudo-versions order as prereleases
            (
                "v0.0.0-20191109021931-daa7c04131f5",
                "v0.0.0-20200101000000-aaaaaaaaaaaa",
                L,
            ),
            ("v0.0.0-20191109021931-daa7c04131f5", "v0.0.1", L),
            ("v1.2.4-0.20191109021931-daa7c04131f5", "v1.2.3", G),
            ("v1.2.4-0.20191109021931-daa7c04131f5", "v1.2.4-pre", L),
            ("v1.2.4-0.20191109021931-daa7c04131f5", "v1.2.4", L),
            ("v2.0.0+incompatible", "v2.0.1", L),
            // odd text: every string is a version
            ("V1.0.0", "0.0.0", L),
            ("vv1", "0.0.0", L),
            ("latest", "0.0.1", L),
            ("1.0.0-é", "1.0.0-z", G),
            ("1.0.0-", "1.0.0", E),
            ("1.0.0-+x", "1.0.0", E),
        ];
        for (a, b, want) in cases {
            assert_eq!(cmp(a, b), want, "{a} vs {b}");
            assert_eq!(cmp(b, a), want.reverse(), "{b} vs {a}");
            assert_eq!(
                SemVersion::compare_str(a, b),
                Ok(want),
                "compare_str {a} vs {b}"
            );
        }
    }

    #[test]
    fn hostile_inputs_are_bounded() {
        let long = "9".repeat(10_000);
        let many = "1.".repeat(10_000);
        let dots = ".".repeat(10_000);
        let idents = "-a".to_owned() + &".1".repeat(10_000);
        for s in [&long, &many, &dots, &idents] {
            assert_eq!(cmp(s, s), Ordering::Equal);
            assert_ne!(cmp(s, "1.0.0"), Ordering::Equal);
        }
    }

    proptest! {
        #[test]
        fn parse_never_panics(s in any::<String>(), t in any::<String>()) {
            let (a, b) = (SemVersion::new(&s), SemVersion::new(&t));
            prop_assert_eq!(a.cmp(&b), b.cmp(&a).reverse());
            prop_assert_eq!(SemVersion::compare_str(&s, &t), Ok(a.cmp(&b)));
            prop_assert_eq!(a.compare_with(&b, BuildMetadata::Bytewise), b.compare_with(&a, BuildMetadata::Bytewise).reverse());
        }

        #[test]
        fn agrees_with_naive_model(a in odd_version_strategy(), b in odd_version_strategy()) {
            let (va, vb) = (SemVersion::new(&a), SemVersion::new(&b));
            prop_assert_eq!(va.cmp(&vb), model::compare(&a, &b, false), "{:?} vs {:?}", a, b);
            prop_assert_eq!(
                va.compare_with(&vb, BuildMetadata::Bytewise),
                model::compare(&a, &b, true),
                "{:?} vs {:?} with build", a, b
            );
        }

        #[test]
        fn total_order(items in prop::collection::vec(version_strategy(), 1..10)) {
            let parsed: Vec<SemVersion> = items.iter().map(|s| SemVersion::new(s)).collect();
            check_total_order(&parsed)?;
            for (a, pa) in items.iter().zip(&parsed) {
                for (b, pb) in items.iter().zip(&parsed) {
                    prop_assert_eq!(SemVersion::compare_str(a, b), Ok(pa.cmp(pb)));
                }
            }
        }
    }
}
