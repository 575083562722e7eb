//! Alpine package versions, ordered as apk-tools orders them.
//!
//! Reference: apk-tools 3 `src/version.c` (`apk version -t`) and apk-package(5). Alpine and its
//! derivatives (Wolfi, Chainguard, Alpaquita, MinimOS, …) share this ordering.
//!
//! A valid version is `number{.number}…{letter}{_suffix{number}}…{~hash}{-r#}`. It is read as a
//! sequence of tokens; two versions compare token by token, and the first difference decides:
//! - same kind: the initial number, suffix numbers and the revision compare as numbers (any
//!   length, `1-r01 = 1-r1`); a later dot-number compares as a number unless either side has a
//!   leading zero, in which case the digit strings compare bytewise (`1.05 < 1.1`, `1.0 < 1.00`,
//!   apk's Gentoo-style fractional rule); letters and hashes bytewise; suffixes by rank
//!   `alpha < beta < pre < rc < cvs < svn < git < hg < p`.
//! - different kinds (one version has ended or moved on to a later part): a pre-release suffix
//!   (`_alpha` … `_rc`) sorts first, then the end of the version, then `-r#`, `~hash`, a suffix
//!   number, a post-release suffix, a letter and a dot-number; so `1.2_rc1 < 1.2 < 1.2-r0 <
//!   1.2_p1 < 1.2a < 1.2.1`.
//!
//! Invalid versions never fail (apk itself compares them) and are totally ordered:
//! - apk-tools stops at the first invalid token and sorts it after pre-release suffixes and
//!   before the end; we do the same, and give that token a value — the rest of the text,
//!   compared bytewise — so that `.2 > .1`, `a < b` and `0.8.21.r2 > 0.8.21.r1` as the
//!   conformance data (taken from osv-scalibr, which string-compares invalid versions) expects;
//! - an invalid rest that starts at a `-` is ignored entirely (`1-ruff2 = 1--ruff1`,
//!   `1-r0-1 = 1-r0-2`), again as the data expects;
//! - leniencies where apk-tools 2 accepted what apk-tools 3 rejects and the data follows
//!   apk-tools 2: digits right after the letter continue the version as a dot-number would
//!   (`6.6.2p1 < 6.6.2p2`), and `-r` without digits is revision 0 (`1-r = 1-r0`) unless a letter
//!   follows it (`-ruff` is not a revision: `1 > 1-ruff`).
//!
//! Only the empty string is an error. Deviation: numbers are compared exactly at any length,
//! where apk-tools parses them into 64-bit integers.
//!
//! Since every token maps to a key (kind rank, value) with a total order, and versions compare
//! as the lexicographic order of their key sequences ending at the end or invalid token, the
//! ordering is total. Cost: tokens are produced lazily from the borrowed bytes, so comparison is
//! O(len(a) + len(b)) and allocation-free; parsing only copies the text.

use std::cmp::Ordering;

use super::{VersionError, VersionOrder, VersionScheme};

/// An Alpine (apk) version.
#[derive(Clone, Debug)]
pub struct AlpineVersion {
    text: Box<str>,
}

impl AlpineVersion {
    /// The version as given.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether apk-tools 3 would accept this version (`apk version -c`). Invalid versions
    /// still order, see the module documentation.
    pub fn is_valid(&self) -> bool {
        let mut tokens = Tokens::new(self.text.as_bytes());
        let mut last = None;
        for token in tokens.by_ref() {
            last = Some(token);
        }
        matches!(last, Some(Token::End)) && tokens.strictly_valid
    }
}

const PRE_SUFFIXES: [&[u8]; 4] = [b"alpha", b"beta", b"pre", b"rc"];
const POST_SUFFIXES: [&[u8]; 5] = [b"cvs", b"svn", b"git", b"hg", b"p"];

/// One token. Variants are declared in ascending order of rank: when two versions hold tokens
/// of different kinds at the same position, the lower rank sorts first.
#[derive(Clone, Copy, Debug)]
enum Token<'a> {
    /// `_alpha`, `_beta`, `_pre`, `_rc`: index into [`PRE_SUFFIXES`].
    PreSuffix(usize),
    /// Unparseable rest of the version (`-` alone when it started at a `-`).
    Invalid(&'a [u8]),
    End,
    /// `-r` digits (may be empty: 0).
    Revision(&'a [u8]),
    /// `~` hex digits.
    Hash(&'a [u8]),
    /// Digits after a suffix.
    SuffixNumber(&'a [u8]),
    /// `_cvs` … `_p`: index into [`POST_SUFFIXES`].
    PostSuffix(usize),
    Letter(u8),
    /// Digits after a `.` (or, leniently, after the letter).
    Digits(&'a [u8]),
    /// The leading digits.
    Initial(&'a [u8]),
}

impl Token<'_> {
    fn rank(&self) -> u8 {
        match self {
            Token::PreSuffix(_) => 0,
            Token::Invalid(_) => 1,
            Token::End => 2,
            Token::Revision(_) => 3,
            Token::Hash(_) => 4,
            Token::SuffixNumber(_) => 5,
            Token::PostSuffix(_) => 6,
            Token::Letter(_) => 7,
            Token::Digits(_) => 8,
            Token::Initial(_) => 9,
        }
    }

    /// Position in the grammar `number{.number}…{letter}{_suffix{number}}…{~hash}{-r#}`; a
    /// token may only follow tokens of an earlier or the same stage, as in apk-tools.
    fn stage(&self) -> u8 {
        match self {
            Token::Initial(_) => 0,
            Token::Digits(_) => 1,
            Token::Letter(_) => 2,
            Token::PreSuffix(_) | Token::PostSuffix(_) => 3,
            Token::SuffixNumber(_) => 4,
            Token::Hash(_) => 5,
            Token::Revision(_) => 6,
            Token::End => 7,
            Token::Invalid(_) => 8,
        }
    }

    /// Whether the comparison stops after this token.
    fn is_last(&self) -> bool {
        matches!(self, Token::Invalid(_) | Token::End)
    }
}

fn cmp_tokens(a: &Token<'_>, b: &Token<'_>) -> Ordering {
    match (a, b) {
        (Token::PreSuffix(x), Token::PreSuffix(y))
        | (Token::PostSuffix(x), Token::PostSuffix(y)) => x.cmp(y),
        (Token::Letter(x), Token::Letter(y)) => x.cmp(y),
        (Token::Invalid(x), Token::Invalid(y)) | (Token::Hash(x), Token::Hash(y)) => x.cmp(y),
        (Token::Initial(x), Token::Initial(y))
        | (Token::Revision(x), Token::Revision(y))
        | (Token::SuffixNumber(x), Token::SuffixNumber(y)) => cmp_numbers(x, y),
        (Token::Digits(x), Token::Digits(y)) => {
            if x.first() == Some(&b'0') || y.first() == Some(&b'0') {
                x.cmp(y)
            } else {
                cmp_numbers(x, y)
            }
        }
        (Token::End, Token::End) => Ordering::Equal,
        _ => a.rank().cmp(&b.rank()),
    }
}

/// Compares digit strings as unbounded numbers (`""` is 0).
fn cmp_numbers(a: &[u8], b: &[u8]) -> Ordering {
    let a = strip_zeros(a);
    let b = strip_zeros(b);
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

fn strip_zeros(digits: &[u8]) -> &[u8] {
    let zeros = digits.iter().take_while(|&&c| c == b'0').count();
    digits.get(zeros..).unwrap_or_default()
}

/// The lazy tokenizer; yields tokens up to and including `End` or `Invalid`.
struct Tokens<'a> {
    rest: &'a [u8],
    /// The previous token, `None` before the first one.
    prev: Option<Token<'a>>,
    done: bool,
    /// False once a leniency beyond apk-tools 3 was used.
    strictly_valid: bool,
}

impl<'a> Tokens<'a> {
    fn new(text: &'a [u8]) -> Tokens<'a> {
        Tokens {
            rest: text,
            prev: None,
            done: false,
            strictly_valid: true,
        }
    }

    /// Splits off the leading run of bytes matching `pred`.
    fn take(&mut self, skip: usize, pred: impl Fn(u8) -> bool) -> &'a [u8] {
        let rest = self.rest.get(skip..).unwrap_or_default();
        let n = rest.iter().take_while(|&&c| pred(c)).count();
        let (run, rest) = rest.split_at(n);
        self.rest = rest;
        run
    }

    fn invalid(&mut self) -> Token<'a> {
        let tail = if self.rest.first() == Some(&b'-') {
            self.rest.get(..1).unwrap_or_default()
        } else {
            self.rest
        };
        Token::Invalid(tail)
    }

    fn next_token(&mut self) -> Token<'a> {
        let Some(prev) = self.prev else {
            let digits = self.take(0, |c| c.is_ascii_digit());
            return if digits.is_empty() {
                self.invalid()
            } else {
                Token::Initial(digits)
            };
        };
        let Some(&c) = self.rest.first() else {
            return Token::End;
        };
        let stage = prev.stage();
        let after_number = stage <= 1;
        match c {
            b'a'..=b'z' if after_number => {
                self.rest = self.rest.get(1..).unwrap_or_default();
                Token::Letter(c)
            }
            b'.' if after_number => {
                let before = self.rest;
                let digits = self.take(1, |c| c.is_ascii_digit());
                if digits.is_empty() {
                    self.rest = before;
                    self.invalid()
                } else {
                    Token::Digits(digits)
                }
            }
            b'0'..=b'9' if matches!(prev, Token::PreSuffix(_) | Token::PostSuffix(_)) => {
                Token::SuffixNumber(self.take(0, |c| c.is_ascii_digit()))
            }
            b'0'..=b'9' if matches!(prev, Token::Letter(_)) => {
                // apk-tools 2 reads digits after the letter as a further number.
                self.strictly_valid = false;
                Token::Digits(self.take(0, |c| c.is_ascii_digit()))
            }
            b'_' if stage <= 4 => {
                let before = self.rest;
                let name = self.take(1, |c| c.is_ascii_lowercase());
                if let Some(i) = PRE_SUFFIXES.iter().position(|s| *s == name) {
                    Token::PreSuffix(i)
                } else if let Some(i) = POST_SUFFIXES.iter().position(|s| *s == name) {
                    Token::PostSuffix(i)
                } else {
                    self.rest = before;
                    self.invalid()
                }
            }
            b'~' if stage < 5 => {
                let before = self.rest;
                let hash = self.take(1, |c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c));
                if hash.is_empty() {
                    self.rest = before;
                    self.invalid()
                } else {
                    Token::Hash(hash)
                }
            }
            b'-' if stage < 6 => {
                // `-r` starts the revision, but not when a word follows (`-ruff`).
                if self.rest.get(1) != Some(&b'r')
                    || self.rest.get(2).is_some_and(u8::is_ascii_alphabetic)
                {
                    return self.invalid();
                }
                let digits = self.take(2, |c| c.is_ascii_digit());
                if digits.is_empty() {
                    self.strictly_valid = false;
                }
                Token::Revision(digits)
            }
            _ => self.invalid(),
        }
    }
}

impl<'a> Iterator for Tokens<'a> {
    type Item = Token<'a>;

    fn next(&mut self) -> Option<Token<'a>> {
        if self.done {
            return None;
        }
        let token = self.next_token();
        self.done = token.is_last();
        self.prev = Some(token);
        Some(token)
    }
}

/// Compares two version texts; O(len(a) + len(b)), no allocation.
fn compare_text(a: &[u8], b: &[u8]) -> Ordering {
    let mut x = Tokens::new(a);
    let mut y = Tokens::new(b);
    loop {
        match (x.next(), y.next()) {
            (Some(s), Some(t)) => {
                let order = cmp_tokens(&s, &t);
                if order.is_ne() || s.is_last() {
                    return order;
                }
            }
            // Unreachable: both sequences end with End or Invalid, compared above.
            _ => return Ordering::Equal,
        }
    }
}

impl Ord for AlpineVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        compare_text(self.text.as_bytes(), other.text.as_bytes())
    }
}

impl PartialOrd for AlpineVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for AlpineVersion {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other).is_eq()
    }
}

impl Eq for AlpineVersion {}

fn check(input: &str) -> Result<(), VersionError> {
    if input.is_empty() {
        Err(VersionError::new(
            VersionScheme::Alpine,
            input,
            "version is empty",
        ))
    } else {
        Ok(())
    }
}

impl VersionOrder for AlpineVersion {
    fn parse(input: &str) -> Result<Self, VersionError> {
        check(input)?;
        Ok(AlpineVersion { text: input.into() })
    }

    fn compare_str(a: &str, b: &str) -> Result<Ordering, VersionError> {
        check(a)?;
        check(b)?;
        Ok(compare_text(a.as_bytes(), b.as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn parse(s: &str) -> AlpineVersion {
        match AlpineVersion::parse(s) {
            Ok(v) => v,
            Err(e) => panic!("{s:?} should parse: {e}"),
        }
    }

    #[test]
    fn orders_like_apk_tools() {
        use Ordering::{Equal, Greater, Less};
        let cases = [
            // Valid versions, as apk-tools 3 orders them.
            ("1.2.3", "1.2.3", Equal),
            ("1.2", "1.2.0", Less),
            ("1.2", "1.10", Less),
            ("1.05", "1.1", Less),
            ("1.0", "1.00", Less),
            ("1.01", "1.001", Greater),
            ("007", "7", Equal),
            ("1.2_rc1", "1.2", Less),
            ("1.2_alpha", "1.2_beta", Less),
            ("1.2_pre2", "1.2_rc1", Less),
            ("1.2", "1.2-r0", Less),
            ("1.2-r0", "1.2~abc", Less),
            ("1.2~abc-r5", "1.2~abd", Less),
            ("1.2-r9", "1.2_cvs", Less),
            ("1.2_cvs", "1.2_svn", Less),
            ("1.2_hg", "1.2_p", Less),
            ("1.2_p", "1.2_p1", Less),
            ("1.2_p9", "1.2a", Less),
            ("1.2a", "1.2b", Less),
            ("1.2z", "1.2.0", Less),
            ("1.2_alpha_pre2", "1.2_alpha", Less),
            ("1.2_p1-r1", "1.2_p1-r01", Equal),
            ("1-r10", "1-r9", Greater),
            (
                "1.99999999999999999999999",
                "1.99999999999999999999998",
                Greater,
            ),
            // Invalid versions: apk-tools 3 stops at the invalid token and sorts it just
            // above pre-release suffixes.
            ("1.2_blah", "1.2", Less),
            ("1.2_blah", "1.2_rc", Greater),
            ("1.2.", "1.2", Less),
            ("1.2A", "1.2", Less),
            ("1.2ab", "1.2a", Less),
            ("1.2ab", "1.2", Greater),
            (".1", "0", Less),
            // ... and here the conformance data fixes the rest: tails compare bytewise, text
            // after `-` is ignored, `-r` alone is r0, digits may follow the letter.
            (".2", ".1", Greater),
            ("a", "b", Less),
            ("0.8.21.r2", "0.8.21.r1", Greater),
            ("1-ruff2", "1--ruff1", Equal),
            ("1-r0-1", "1-r-2", Equal),
            ("1-r-0", "1-r0", Less),
            ("1", "1-ruff", Greater),
            ("1-r", "1-r0", Equal),
            ("6.6.2p1", "6.6.2p2", Less),
            ("6.6.2p1", "6.6.2_p2", Greater),
            ("6.6.2p1", "6.6.2.1", Less),
        ];
        for (a, b, want) in cases {
            assert_eq!(parse(a).cmp(&parse(b)), want, "{a} vs {b}");
            assert_eq!(parse(b).cmp(&parse(a)), want.reverse(), "{b} vs {a}");
            assert_eq!(
                AlpineVersion::compare_str(a, b),
                Ok(want),
                "{a} vs {b} (str)"
            );
        }
    }

    #[test]
    fn tells_valid_from_lenient() {
        let cases = [
            ("1", true),
            ("1.2.3a_alpha2_p1~0abc-r12", true),
            ("0.1.0_alpha_pre2", true),
            ("1.2_blah", false),
            ("1-r", false),
            ("6.6.2p1", false),
            ("1~ABC", false),
            ("a", false),
            ("1.", false),
            ("1-r0-1", false),
        ];
        for (input, valid) in cases {
            assert_eq!(parse(input).is_valid(), valid, "{input}");
        }
    }

    #[test]
    fn only_the_empty_string_is_an_error() {
        let err = AlpineVersion::parse("").expect_err("empty");
        assert_eq!(err.scheme, VersionScheme::Alpine);
        assert!(AlpineVersion::compare_str("1", "").is_err());
        assert!(AlpineVersion::parse("!@#$ garbage").is_ok());
    }

    #[test]
    fn compares_huge_numbers_exactly() {
        let big = "9".repeat(10_000);
        let bigger = format!("1{}", "0".repeat(10_000));
        let padded = format!("{}{big}", "0".repeat(10_000));
        let a = format!("1.{big}");
        let b = format!("1.{bigger}");
        assert_eq!(AlpineVersion::compare_str(&a, &b), Ok(Ordering::Less));
        assert_eq!(AlpineVersion::compare_str(&b, &a), Ok(Ordering::Greater));
        assert_eq!(
            AlpineVersion::compare_str(&big, &padded),
            Ok(Ordering::Equal)
        );
    }

    /// Collision-prone Alpine versions, valid and invalid.
    fn version() -> impl Strategy<Value = String> {
        let first = prop::sample::select(vec!["0", "1", "2", "01", "10", "", "."]);
        let piece = prop::sample::select(vec![
            ".0", ".1", ".01", ".00", ".2", ".", "a", "b", "p", "A", "1", "_alpha", "_rc", "_p",
            "_cvs", "_foo", "_", "2", "~ab", "~0f", "~", "-r", "-r0", "-r1", "-r01", "-", "-ruff",
            "r",
        ]);
        (first, prop::collection::vec(piece, 0..6))
            .prop_map(|(first, rest)| format!("{first}{}", rest.concat()))
            .prop_filter("non-empty", |s| !s.is_empty())
    }

    proptest! {
        #[test]
        fn parse_never_panics(s in any::<String>()) {
            let parsed = AlpineVersion::parse(&s);
            prop_assert_eq!(parsed.is_ok(), !s.is_empty());
            if let Ok(v) = parsed {
                let _ = v.is_valid();
                prop_assert_eq!(v.cmp(&v), Ordering::Equal);
            }
        }

        #[test]
        fn order_is_total(a in version(), b in version(), c in version()) {
            let (x, y, z) = (parse(&a), parse(&b), parse(&c));
            prop_assert_eq!(x.cmp(&y), y.cmp(&x).reverse());
            prop_assert_eq!(x == y, x.cmp(&y).is_eq());
            prop_assert_eq!(AlpineVersion::compare_str(&a, &b), Ok(x.cmp(&y)));
            if x <= y && y <= z {
                prop_assert!(x <= z, "{} <= {} <= {}", a, b, c);
            }
            if x >= y && y >= z {
                prop_assert!(x >= z, "{} >= {} >= {}", a, b, c);
            }
        }
    }
}
