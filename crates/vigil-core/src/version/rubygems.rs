//! RubyGems versions, ordered exactly as `Gem::Version#<=>` orders them.
//!
//! Reference: RubyGems' `lib/rubygems/version.rb` (`Gem::Version`; the rules below have been
//! stable since RubyGems 2.x and were checked against RubyGems 3.3).
//!
//! Rules:
//! - Gem::Version accepts a string that, with ASCII whitespace (`[ \t\n\v\f\r]`) trimmed,
//!   matches `[0-9]+(\.[0-9a-zA-Z]+)*(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?`; the empty string is
//!   `0`. See the deviation below for what is accepted here.
//! - Each `-` reads as `.pre.` (`1.0-rc1` is `1.0.pre.rc1`).
//! - The string is cut into segments: runs of ASCII digits (numbers, compared by value at any
//!   length) and runs of ASCII letters (strings, compared byte-wise, so case-sensitively);
//!   everything else only separates. `1.0a1` is `1, 0, "a", 1`.
//! - Canonical segments: the numeric segments before the first string segment lose their
//!   trailing zeros, and so do the segments from the first string on (`1.0.0.a.0 == 1.a`).
//! - Canonical segment lists compare element by element, a missing element counting as 0; a
//!   string sorts below every number (a string segment marks a pre-release:
//!   `1.0.b1 < 1.0 < 1.0.1`).
//!
//! Canonical lists end in a non-zero element, so two versions compare equal exactly when their
//! canonical segments are the same; `Ord` is a lexicographic order over a total order on
//! segments, hence total, and `Eq` is that equality.
//!
//! Deliberate deviation: `Gem::Version.new` rejects some strings made of its own alphabet,
//! such as letters in the first dot-separated part (`1beta`) or empty parts (`1..2`), yet
//! osv-scalibr's conformance data orders them (`1beta < 1`). So any trimmed string that starts
//! with an ASCII digit and holds only ASCII letters, digits, `.` and `-` (the pattern's
//! alphabet, structure relaxed) is accepted and ordered by the same segment rules that
//! `Gem::Version` would apply to it (`1beta` is `1, "beta"`). Everything `Gem::Version` accepts
//! is ordered exactly as it orders it; other strings (`v1.0`, `1.0_1`, `1+b`) are errors.
//!
//! Cost: parsing validates in one pass and keeps the trimmed string (one allocation);
//! comparison walks both strings' canonical segments lazily, O(len(a) + len(b)), without
//! allocating. [`VersionOrder::compare_str`] validates and compares with no allocation at all.

use std::cmp::Ordering;

use super::{VersionError, VersionOrder, VersionScheme};

/// A RubyGems version.
#[derive(Clone, Debug)]
pub struct GemVersion {
    /// The input with ASCII whitespace trimmed; valid by construction.
    text: Box<str>,
}

/// Ruby's `\s`: ASCII space, tab, line feed, vertical tab, form feed, carriage return.
fn is_ruby_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\u{0b}' | '\u{0c}' | '\r')
}

/// The lenient form of `Gem::Version::VERSION_PATTERN` (see the module doc): a digit first,
/// then only ASCII alphanumerics, `.` and `-`.
fn is_valid(text: &str) -> bool {
    text.as_bytes().first().is_some_and(u8::is_ascii_digit)
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
}

/// Validates `input`, returning the trimmed text.
fn validate(input: &str) -> Result<&str, VersionError> {
    let text = input.trim_matches(is_ruby_space);
    if text.is_empty() || is_valid(text) {
        Ok(text)
    } else {
        Err(VersionError::new(
            VersionScheme::RubyGems,
            input,
            "not a RubyGems version (expected a digit first, then only ASCII letters, digits, `.` and `-`)",
        ))
    }
}

/// One segment: a number (digits without leading zeros, `""` is 0) or a string.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Segment<'a> {
    Number(&'a str),
    Word(&'a str),
}

const ZERO: Segment<'static> = Segment::Number("");

/// Strings sort below numbers; numbers by value; strings byte-wise.
fn cmp_segment(a: Segment<'_>, b: Segment<'_>) -> Ordering {
    match (a, b) {
        (Segment::Number(x), Segment::Number(y)) => x.len().cmp(&y.len()).then_with(|| x.cmp(y)),
        (Segment::Word(_), Segment::Number(_)) => Ordering::Less,
        (Segment::Number(_), Segment::Word(_)) => Ordering::Greater,
        (Segment::Word(x), Segment::Word(y)) => x.cmp(y),
    }
}

/// The raw segments of a valid version, each `-` yielding the string `pre`.
struct RawSegments<'a> {
    rest: &'a str,
}

impl<'a> Iterator for RawSegments<'a> {
    type Item = Segment<'a>;

    fn next(&mut self) -> Option<Segment<'a>> {
        loop {
            let first = *self.rest.as_bytes().first()?;
            let kind: fn(&u8) -> bool = if first.is_ascii_digit() {
                u8::is_ascii_digit
            } else if first.is_ascii_alphabetic() {
                u8::is_ascii_alphabetic
            } else {
                self.rest = self.rest.get(1..).unwrap_or_default();
                if first == b'-' {
                    return Some(Segment::Word("pre"));
                }
                continue;
            };
            let len = self
                .rest
                .bytes()
                .position(|b| !kind(&b))
                .unwrap_or(self.rest.len());
            let (run, rest) = self.rest.split_at_checked(len).unwrap_or((self.rest, ""));
            self.rest = rest;
            return Some(if first.is_ascii_digit() {
                Segment::Number(run.trim_start_matches('0'))
            } else {
                Segment::Word(run)
            });
        }
    }
}

/// The canonical segments, lazily: zeros right before the first string segment (or the end)
/// are dropped. Trailing zeros of the string part are kept, which is harmless: comparison pads
/// with zeros.
struct CanonicalSegments<'a> {
    raw: RawSegments<'a>,
    /// Zeros still to emit before `held`.
    zeros: usize,
    held: Option<Segment<'a>>,
    in_strings: bool,
}

impl<'a> CanonicalSegments<'a> {
    fn new(text: &'a str) -> CanonicalSegments<'a> {
        CanonicalSegments {
            raw: RawSegments { rest: text },
            zeros: 0,
            held: None,
            in_strings: false,
        }
    }
}

impl<'a> Iterator for CanonicalSegments<'a> {
    type Item = Segment<'a>;

    fn next(&mut self) -> Option<Segment<'a>> {
        if self.zeros > 0 {
            self.zeros -= 1;
            return Some(ZERO);
        }
        if let Some(held) = self.held.take() {
            return Some(held);
        }
        let segment = self.raw.next()?;
        if self.in_strings {
            return Some(segment);
        }
        if let Segment::Word(_) = segment {
            self.in_strings = true;
            return Some(segment);
        }
        if segment != ZERO {
            return Some(segment);
        }
        // A run of zeros in the numeric part: kept only if a non-zero number follows.
        let mut zeros = 1;
        loop {
            match self.raw.next() {
                None => return None,
                Some(ZERO) => zeros += 1,
                Some(word @ Segment::Word(_)) => {
                    self.in_strings = true;
                    return Some(word);
                }
                Some(number) => {
                    self.zeros = zeros - 1;
                    self.held = Some(number);
                    return Some(ZERO);
                }
            }
        }
    }
}

/// Compares two valid, trimmed version strings.
fn cmp_text(a: &str, b: &str) -> Ordering {
    if a == b {
        return Ordering::Equal;
    }
    let mut left = CanonicalSegments::new(a);
    let mut right = CanonicalSegments::new(b);
    loop {
        let ordering = match (left.next(), right.next()) {
            (None, None) => return Ordering::Equal,
            (x, y) => cmp_segment(x.unwrap_or(ZERO), y.unwrap_or(ZERO)),
        };
        if ordering.is_ne() {
            return ordering;
        }
    }
}

impl Ord for GemVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        cmp_text(&self.text, &other.text)
    }
}

impl PartialOrd for GemVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for GemVersion {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other).is_eq()
    }
}

impl Eq for GemVersion {}

impl VersionOrder for GemVersion {
    fn parse(input: &str) -> Result<Self, VersionError> {
        validate(input).map(|text| GemVersion { text: text.into() })
    }

    fn compare_str(a: &str, b: &str) -> Result<Ordering, VersionError> {
        Ok(cmp_text(validate(a)?, validate(b)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn parse(input: &str) -> GemVersion {
        match GemVersion::parse(input) {
            Ok(version) => version,
            Err(err) => panic!("{input:?} should parse: {err}"),
        }
    }

    #[test]
    fn orders_like_gem_version() {
        use Ordering::{Equal, Greater, Less};
        // Checked against RubyGems 3.3 (`Gem::Version#<=>`), except the lenient `1beta` row.
        let cases = [
            ("1.0", "1.0.0", Equal),
            ("1.2.3", "1.2.3.0.0", Equal),
            ("", "0", Equal),
            (" 0.0 ", "0", Equal),
            ("\u{0b}1\t", "1", Equal),
            ("007", "7", Equal),
            ("1.0.0.a.0", "1.a", Equal),
            ("1.0.a.0.1", "1.a.0.1", Equal),
            ("1.0a1", "1.0.a.1", Equal),
            ("1.0-rc1", "1.0.pre.rc1", Equal),
            ("1.0-1", "1.0", Less),
            ("1.0-1", "1.0.a", Greater),
            ("1--", "1.pre.pre", Equal),
            ("1.A", "1.a", Less),
            ("1.0.0.1", "1.0.0.1.a", Greater),
            ("2.0.0.rc1", "2.0.0.pre", Greater),
            ("1.0.b1", "1.0", Less),
            ("1.0", "1.0.1", Less),
            ("10.a", "9", Greater),
            ("3.10", "3.9", Greater),
            (
                "99999999999999999999999",
                "99999999999999999999998",
                Greater,
            ),
            (
                "1.99999999999999999999999",
                "1.100000000000000000000000",
                Less,
            ),
            ("1beta", "1", Less),
            ("1beta", "1.beta", Equal),
        ];
        for (a, b, want) in cases {
            assert_eq!(parse(a).cmp(&parse(b)), want, "{a:?} vs {b:?}");
            assert_eq!(parse(b).cmp(&parse(a)), want.reverse(), "{b:?} vs {a:?}");
            assert_eq!(GemVersion::compare_str(a, b), Ok(want), "{a:?} vs {b:?}");
        }
    }

    #[test]
    fn rejects_non_versions() {
        for input in [
            "v1.0",
            "a1",
            "1_0",
            "1+b",
            "1 2",
            "1.0-x86_64",
            "-1",
            ".1",
            "1.ü",
        ] {
            assert!(GemVersion::parse(input).is_err(), "{input:?}");
            assert!(GemVersion::compare_str(input, "1").is_err(), "{input:?}");
        }
    }

    #[test]
    fn hostile_input_is_bounded() {
        let long = "9".repeat(10_000);
        let longer = format!("1{}", "0".repeat(10_000));
        assert_eq!(parse(&long).cmp(&parse(&longer)), Ordering::Less);
        let zeros = format!("1{}.a", ".0".repeat(50_000));
        assert_eq!(parse(&zeros).cmp(&parse("1.a")), Ordering::Equal);
    }

    /// Realistic, collision-prone versions, including RubyGems' `-` and lenient shapes.
    fn version() -> impl Strategy<Value = String> {
        prop_oneof![
            4 => "(0|1|2|00|10)(\\.(0|1|2|00|a|b|A|rc|pre|0a|1b)){0,4}(-(a|1|0|rc|b)(\\.(0|1|a)){0,2})?",
            1 => "[0-2][0-2a-cA.-]{0,6}",
        ]
    }

    proptest! {
        #[test]
        fn parse_never_panics(input in any::<String>()) {
            let _ = GemVersion::parse(&input);
            let _ = GemVersion::compare_str(&input, "1.0");
        }

        #[test]
        fn parse_accepts_generated_versions(input in version()) {
            prop_assert!(GemVersion::parse(&input).is_ok());
        }

        #[test]
        fn order_is_antisymmetric_and_consistent_with_eq(a in version(), b in version()) {
            let (x, y) = (parse(&a), parse(&b));
            prop_assert_eq!(x.cmp(&y), y.cmp(&x).reverse());
            prop_assert_eq!(x == y, x.cmp(&y).is_eq());
            prop_assert_eq!(GemVersion::compare_str(&a, &b), Ok(x.cmp(&y)));
        }

        #[test]
        fn order_is_transitive(versions in proptest::collection::vec(version(), 3..10)) {
            let parsed: Vec<GemVersion> = versions.iter().map(|v| parse(v)).collect();
            for a in &parsed {
                for b in parsed.iter().filter(|b| a <= *b) {
                    for c in parsed.iter().filter(|c| b <= *c) {
                        prop_assert!(a <= c, "{:?} <= {:?} <= {:?}", a, b, c);
                    }
                }
            }
        }
    }
}
