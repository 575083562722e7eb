//! Debian package versions (`[epoch:]upstream[-revision]`), ordered as dpkg orders them.
//!
//! Reference: dpkg's `parseversion` and `verrevcmp` (`lib/dpkg/parsehelp.c`, `lib/dpkg/version.c`)
//! and deb-version(7). Ubuntu and every other dpkg-based ecosystem share this ordering.
//!
//! Parsing, as dpkg does it:
//! - leading and trailing blanks (space, tab) are dropped; blanks inside are an error;
//! - the epoch is everything before the *first* `:`: a decimal number (optionally signed, as
//!   `strtol` reads it) from 0 to `i32::MAX`; without a colon the epoch is 0;
//! - the revision is everything after the *last* `-` (absent: empty, which orders like `0`);
//! - the upstream version is what remains between them.
//!
//! Strictness: dpkg reports some defects as errors (empty version, bad epoch, empty revision,
//! embedded blanks) and others only as warnings (upstream not starting with a digit, characters
//! outside Debian policy's sets). Outside its lax mode — that is, for every version it takes into
//! a package it builds or installs — dpkg turns those warnings into errors too; only its reader
//! of old databases and `dpkg --compare-versions` let them through. We take the strict side: an
//! upstream version must start with a digit and use only `[A-Za-z0-9.+~:-]`, a revision only
//! `[A-Za-z0-9.+~]`, so garbage (`1.2.3-not-a-debian:version!@#$`) is an error rather than
//! silently ordered. Checked against `dpkg --compare-versions` 1.21 on random pairs: same order,
//! and an error exactly where dpkg warns or fails.
//!
//! Ordering: epochs numerically, then upstream, then revision, each with `verrevcmp`: the string
//! alternates non-digit runs, compared character by character with `~` before the end of the run,
//! the end before letters, letters (ASCII order) before everything else; and digit runs,
//! compared as unbounded numbers (so `1.0 = 1.00` and `1.0-0 = 1.0`: `Eq` is this ordering's
//! equality, not string equality).
//!
//! Cost: parsing validates in O(n) and allocates once to keep the text; comparison is
//! allocation-free and O(len(a) + len(b)) over the borrowed bytes, and
//! [`VersionOrder::compare_str`] parses both sides without allocating at all.

use std::cmp::Ordering;

use super::{VersionError, VersionOrder, VersionScheme};

/// A Debian (dpkg) version.
#[derive(Clone, Debug)]
pub struct DebianVersion {
    /// The version as given.
    input: Box<str>,
    layout: Layout,
}

/// A validated version borrowed from its text.
#[derive(Clone, Copy, Debug)]
struct Parts<'a> {
    epoch: u32,
    upstream: &'a [u8],
    revision: &'a [u8],
}

impl DebianVersion {
    /// The epoch (0 when absent).
    pub fn epoch(&self) -> u32 {
        self.layout.epoch
    }

    /// The upstream version.
    pub fn upstream(&self) -> &str {
        let (start, end) = self.layout.upstream;
        self.input.get(start..end).unwrap_or_default()
    }

    /// The Debian revision (`""` when absent).
    pub fn revision(&self) -> &str {
        let (_, end) = self.layout.text;
        self.input
            .get(self.layout.revision..end)
            .unwrap_or_default()
    }

    fn parts(&self) -> Parts<'_> {
        self.layout.parts(&self.input)
    }
}

fn is_blank(c: u8) -> bool {
    c == b' ' || c == b'\t'
}

/// Where the parts of a version lie in its input, as byte offsets.
#[derive(Clone, Copy, Debug)]
struct Layout {
    /// The input less surrounding blanks.
    text: (usize, usize),
    epoch: u32,
    upstream: (usize, usize),
    /// Start of the revision; `text.1` when there is none.
    revision: usize,
}

impl Layout {
    fn parts(self, input: &str) -> Parts<'_> {
        let bytes = input.as_bytes();
        Parts {
            epoch: self.epoch,
            upstream: bytes
                .get(self.upstream.0..self.upstream.1)
                .unwrap_or_default(),
            revision: bytes.get(self.revision..self.text.1).unwrap_or_default(),
        }
    }
}

/// Splits and validates `input` the way dpkg's strict parser does.
fn split(input: &str) -> Result<Layout, &'static str> {
    let bytes = input.as_bytes();
    let start = bytes
        .iter()
        .position(|&c| !is_blank(c))
        .ok_or("version string is empty")?;
    let end = bytes
        .iter()
        .rposition(|&c| !is_blank(c))
        .map_or(start, |i| i + 1);
    let text = bytes.get(start..end).unwrap_or_default();
    if text.iter().copied().any(is_blank) {
        return Err("version string has embedded spaces");
    }

    let (epoch, upstream_start) = match text.iter().position(|&c| c == b':') {
        Some(colon) => {
            let epoch = parse_epoch(text.get(..colon).unwrap_or_default())?;
            if colon + 1 == text.len() {
                return Err("nothing after colon in version number");
            }
            (epoch, start + colon + 1)
        }
        None => (0, start),
    };
    let rest = bytes.get(upstream_start..end).unwrap_or_default();
    let (upstream_end, revision) = match rest.iter().rposition(|&c| c == b'-') {
        Some(hyphen) if upstream_start + hyphen + 1 == end => {
            return Err("revision number is empty");
        }
        Some(hyphen) => (upstream_start + hyphen, upstream_start + hyphen + 1),
        None => (end, end),
    };
    let layout = Layout {
        text: (start, end),
        epoch,
        upstream: (upstream_start, upstream_end),
        revision,
    };

    let Parts {
        upstream, revision, ..
    } = layout.parts(input);
    let Some((&first, tail)) = upstream.split_first() else {
        return Err("version number is empty");
    };
    if !first.is_ascii_digit() {
        return Err("version number does not start with digit");
    }
    if !tail
        .iter()
        .all(|&c| c.is_ascii_alphanumeric() || b".-+~:".contains(&c))
    {
        return Err("invalid character in version number");
    }
    if !revision
        .iter()
        .all(|&c| c.is_ascii_alphanumeric() || b".+~".contains(&c))
    {
        return Err("invalid character in revision number");
    }
    Ok(layout)
}

/// Reads an epoch as dpkg does with `strtol`: optional sign, at least one digit, no other text.
fn parse_epoch(text: &[u8]) -> Result<u32, &'static str> {
    let (negative, digits) = match text.split_first() {
        Some((b'-', rest)) => (true, rest),
        Some((b'+', rest)) => (false, rest),
        _ => (false, text),
    };
    if digits.is_empty() {
        return Err("epoch in version is empty");
    }
    if !digits.iter().all(u8::is_ascii_digit) {
        return Err("epoch in version is not number");
    }
    let significant = strip_zeros(digits);
    if negative && !significant.is_empty() {
        return Err("epoch in version is negative");
    }
    // i32::MAX has 10 digits: anything longer is too big, and 10 digits fit in a u64.
    if significant.len() > 10 {
        return Err("epoch in version is too big");
    }
    let value = significant
        .iter()
        .fold(0u64, |acc, &d| acc * 10 + u64::from(d - b'0'));
    u32::try_from(value)
        .ok()
        .filter(|&v| v <= i32::MAX as u32)
        .ok_or("epoch in version is too big")
}

fn strip_zeros(digits: &[u8]) -> &[u8] {
    let zeros = digits.iter().take_while(|&&c| c == b'0').count();
    digits.get(zeros..).unwrap_or_default()
}

/// dpkg's weight of one character of a non-digit run; `None` is the end of the run.
fn weight(c: Option<u8>) -> i32 {
    match c {
        None => 0,
        Some(b'~') => -1,
        Some(c) if c.is_ascii_digit() => 0,
        Some(c) if c.is_ascii_alphabetic() => i32::from(c),
        Some(c) => i32::from(c) + 256,
    }
}

fn take_digits(s: &[u8]) -> (&[u8], &[u8]) {
    let n = s.iter().take_while(|c| c.is_ascii_digit()).count();
    s.split_at(n)
}

/// dpkg's `verrevcmp` over byte slices: O(len(a) + len(b)), no allocation.
fn verrevcmp(mut a: &[u8], mut b: &[u8]) -> Ordering {
    while !a.is_empty() || !b.is_empty() {
        // Non-digit run, character by character; the run's end weighs 0.
        loop {
            let (x, y) = (a.first().copied(), b.first().copied());
            let x_text = x.is_some_and(|c| !c.is_ascii_digit());
            let y_text = y.is_some_and(|c| !c.is_ascii_digit());
            if !x_text && !y_text {
                break;
            }
            let order = weight(x).cmp(&weight(y));
            if order.is_ne() {
                return order;
            }
            // Equal non-zero weights: both sides hold a character here.
            a = a.get(1..).unwrap_or_default();
            b = b.get(1..).unwrap_or_default();
        }
        // Digit run, as an unbounded number.
        let (x, rest_a) = take_digits(a);
        let (y, rest_b) = take_digits(b);
        let (x, y) = (strip_zeros(x), strip_zeros(y));
        let order = x.len().cmp(&y.len()).then_with(|| x.cmp(y));
        if order.is_ne() {
            return order;
        }
        a = rest_a;
        b = rest_b;
    }
    Ordering::Equal
}

fn compare_parts(a: &Parts<'_>, b: &Parts<'_>) -> Ordering {
    a.epoch
        .cmp(&b.epoch)
        .then_with(|| verrevcmp(a.upstream, b.upstream))
        .then_with(|| verrevcmp(a.revision, b.revision))
}

fn error(input: &str, reason: &'static str) -> VersionError {
    VersionError::new(VersionScheme::Debian, input, reason)
}

impl Ord for DebianVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        compare_parts(&self.parts(), &other.parts())
    }
}

impl PartialOrd for DebianVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for DebianVersion {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other).is_eq()
    }
}

impl Eq for DebianVersion {}

impl VersionOrder for DebianVersion {
    fn parse(input: &str) -> Result<Self, VersionError> {
        let layout = split(input).map_err(|reason| error(input, reason))?;
        Ok(DebianVersion {
            input: input.into(),
            layout,
        })
    }

    fn compare_str(a: &str, b: &str) -> Result<Ordering, VersionError> {
        let x = split(a).map_err(|reason| error(a, reason))?;
        let y = split(b).map_err(|reason| error(b, reason))?;
        Ok(compare_parts(&x.parts(a), &y.parts(b)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn parse(s: &str) -> DebianVersion {
        match DebianVersion::parse(s) {
            Ok(v) => v,
            Err(e) => panic!("{s:?} should parse: {e}"),
        }
    }

    #[test]
    fn orders_like_dpkg() {
        use Ordering::{Equal, Greater, Less};
        let cases = [
            ("1.0", "1.0", Equal),
            ("1.0", "1.00", Equal),
            ("1.0", "1.0-0", Equal),
            ("1.0", "0:1.0", Equal),
            (" 1.0\t", "1.0", Equal),
            ("01:1.0", "1:1.0", Equal),
            ("1.0~rc1", "1.0", Less),
            ("1.0~~", "1.0~", Less),
            ("1.0~", "1.0", Less),
            ("1.0", "1.0a", Less),
            ("1.0a", "1.0+", Less),
            ("1.0+", "1.0.", Less),
            ("1.0", "1.0+b1", Less),
            ("1.0", "1.0.1", Less),
            ("1.9", "1.10", Less),
            ("1:0.1", "2.0", Greater),
            ("1.2.3-1~deb7u1", "1.2.3-1", Less),
            (
                "2.7.4+reloaded2-13ubuntu1",
                "2.7.4+reloaded2-13+deb9u1",
                Less,
            ),
            ("1.0-1-1", "1.0-1-2", Less),
            ("1.0-1-1", "1.0-2", Greater),
            ("1:2:3", "1:2:4", Less),
            ("1.0-A", "1.0-a", Less),
            (
                "123456789012345678901234567890",
                "123456789012345678901234567891",
                Less,
            ),
            ("1.000000000000000000000000000002", "1.2", Equal),
            ("2147483647:0", "2147483646:9", Greater),
            ("+1:2", "1:2", Equal),
            ("-0:2", "2", Equal),
        ];
        for (a, b, want) in cases {
            assert_eq!(parse(a).cmp(&parse(b)), want, "{a} vs {b}");
            assert_eq!(parse(b).cmp(&parse(a)), want.reverse(), "{b} vs {a}");
            assert_eq!(
                DebianVersion::compare_str(a, b),
                Ok(want),
                "{a} vs {b} (str)"
            );
        }
    }

    #[test]
    fn rejects_what_strict_dpkg_rejects() {
        let cases = [
            ("", "version string is empty"),
            (" \t", "version string is empty"),
            ("1 0", "version string has embedded spaces"),
            (":1", "epoch in version is empty"),
            ("+:1", "epoch in version is empty"),
            ("a:1", "epoch in version is not number"),
            (
                "1.2.3-not-a-debian:version!@#$",
                "epoch in version is not number",
            ),
            ("-1:1", "epoch in version is negative"),
            ("2147483648:1", "epoch in version is too big"),
            ("99999999999999999999:1", "epoch in version is too big"),
            ("1:", "nothing after colon in version number"),
            ("1.0-", "revision number is empty"),
            ("-1", "version number is empty"),
            ("1:-1", "version number is empty"),
            ("a1", "version number does not start with digit"),
            ("~1", "version number does not start with digit"),
            ("1_0", "invalid character in version number"),
            ("1.0é", "invalid character in version number"),
            ("1.0-a_b", "invalid character in revision number"),
            ("1.0-1:2", "epoch in version is not number"),
            ("1:1.0-1:2", "invalid character in revision number"),
        ];
        for (input, reason) in cases {
            let err = DebianVersion::parse(input).expect_err(input);
            assert_eq!(err.reason, reason, "{input:?}");
            assert_eq!(err.scheme, VersionScheme::Debian);
            assert!(
                DebianVersion::compare_str("1.0", input).is_err(),
                "{input:?}"
            );
            assert!(
                DebianVersion::compare_str(input, "1.0").is_err(),
                "{input:?}"
            );
        }
    }

    #[test]
    fn exposes_its_parts() {
        let cases = [
            ("1:2.0-3", 1, "2.0", "3"),
            ("2.0", 0, "2.0", ""),
            (" 7:1-2-3 ", 7, "1-2", "3"),
            ("0:1:2", 0, "1:2", ""),
        ];
        for (input, epoch, upstream, revision) in cases {
            let v = parse(input);
            assert_eq!(
                (v.epoch(), v.upstream(), v.revision()),
                (epoch, upstream, revision)
            );
        }
    }

    #[test]
    fn compares_huge_numbers_exactly() {
        let big = "9".repeat(10_000);
        let bigger = format!("1{}", "0".repeat(10_000));
        let padded = format!("{}{big}", "0".repeat(10_000));
        let a = format!("1.{big}");
        let b = format!("1.{bigger}");
        assert_eq!(DebianVersion::compare_str(&a, &b), Ok(Ordering::Less));
        assert_eq!(DebianVersion::compare_str(&b, &a), Ok(Ordering::Greater));
        assert_eq!(
            DebianVersion::compare_str(&big, &padded),
            Ok(Ordering::Equal)
        );
    }

    /// Collision-prone Debian versions: few distinct pieces, so equal and near-equal values are
    /// common.
    fn version() -> impl Strategy<Value = String> {
        let epoch = prop::sample::select(vec!["", "", "0:", "1:", "01:", "2:"]);
        let first = prop::sample::select(vec!["0", "1", "2", "10", "01", "00"]);
        let piece = prop::sample::select(vec![
            "0", "1", "2", "9", "10", "01", "00", "a", "b", "Z", "~", "~~", "+", ".", "rc",
        ]);
        let upstream = (first, prop::collection::vec(piece.clone(), 0..6));
        let revision = prop::option::of(prop::collection::vec(piece, 1..4));
        (epoch, upstream, revision).prop_map(|(epoch, (first, rest), revision)| {
            let mut s = format!("{epoch}{first}{}", rest.concat());
            if let Some(revision) = revision {
                s.push('-');
                s.push_str(&revision.concat());
            }
            s
        })
    }

    proptest! {
        #[test]
        fn parse_never_panics(s in any::<String>()) {
            let parsed = DebianVersion::parse(&s);
            prop_assert_eq!(DebianVersion::compare_str(&s, &s).is_ok(), parsed.is_ok());
        }

        #[test]
        fn generated_versions_parse(s in version()) {
            prop_assert!(DebianVersion::parse(&s).is_ok(), "{}", s);
        }

        #[test]
        fn order_is_total(a in version(), b in version(), c in version()) {
            let (x, y, z) = (parse(&a), parse(&b), parse(&c));
            prop_assert_eq!(x.cmp(&y), y.cmp(&x).reverse());
            prop_assert_eq!(x == y, x.cmp(&y).is_eq());
            prop_assert_eq!(DebianVersion::compare_str(&a, &b), Ok(x.cmp(&y)));
            if x <= y && y <= z {
                prop_assert!(x <= z, "{} <= {} <= {}", a, b, c);
            }
            if x >= y && y >= z {
                prop_assert!(x >= z, "{} >= {} >= {}", a, b, c);
            }
        }
    }
}
