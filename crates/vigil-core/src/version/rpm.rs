//! RPM package versions (`[epoch:]version[-release]`), ordered as rpm orders them.
//!
//! Reference: rpm's `rpmvercmp` (`rpmio/rpmvercmp.c`) and `parseEVR` (`lib/rpmds.c`), the
//! ordering of Red Hat, AlmaLinux, Rocky Linux, SUSE, openSUSE, Mageia and openEuler.
//!
//! Parsing, as `parseEVR` does it: a run of leading digits followed by `:` is the epoch (absent:
//! 0); the release is everything after the *last* `-`; the version is what remains. Anything
//! else is accepted, as rpm accepts it: `a:1` has no epoch (its version is `a:1`), nor has
//! `4.m+e1:1`, and `1:-2` has an empty version. Only the empty string is an error.
//!
//! `rpmvercmp`: each string is read as a sequence of segments — maximal runs of ASCII digits or
//! of ASCII letters, plus the single characters `~` and `^` — and every other byte (including
//! all non-ASCII bytes) only separates. Segments compare pairwise: `~` sorts before anything,
//! even the end of the string (`1.0~rc1 < 1.0`); the end sorts next; then `^`, which therefore
//! sorts after the end but before any further segment (`1.0 < 1.0^git1 < 1.0.1`); then letter
//! runs (bytewise); then digit runs (as unbounded numbers, leading zeros ignored). Hence
//! `1.0 = 1_0`, `1.0001 = 1.1`, `1.0a < 1.0.1`.
//!
//! Versions compare by epoch (numerically), then version, then release. Deliberate deviation:
//! rpm skips the release comparison when either side has none, which is not a total order
//! (`1` would equal both `1-1` and `1-2`); we sort a missing release before every release,
//! `1 < 1-0 < 1-1`, as the conformance data (osv-scalibr) expects.
//! Checked against rpm 4.18 (`rpm.vercmp`, and `rpm.ver` for EVRs that both have a release)
//! on random pairs: same order everywhere.
//!
//! Cost: comparison is O(len(a) + len(b)) over borrowed bytes, no allocation; parsing copies
//! the text once; [`VersionOrder::compare_str`] does not allocate.

use std::cmp::Ordering;

use super::{VersionError, VersionOrder, VersionScheme};

/// An RPM version (epoch, version, release).
#[derive(Clone, Debug)]
pub struct RpmVersion {
    text: Box<str>,
    layout: Layout,
}

/// Byte offsets of the parts of an EVR string.
#[derive(Clone, Copy, Debug)]
struct Layout {
    /// End of the epoch digits (0: no epoch); the version starts after the colon.
    epoch_end: usize,
    version: (usize, usize),
    /// Start of the release, `None` when there is no `-`.
    release: Option<usize>,
}

#[derive(Clone, Copy, Debug)]
struct Parts<'a> {
    epoch: &'a [u8],
    version: &'a [u8],
    release: Option<&'a [u8]>,
}

impl Layout {
    fn parts(self, text: &str) -> Parts<'_> {
        let bytes = text.as_bytes();
        Parts {
            epoch: bytes.get(..self.epoch_end).unwrap_or_default(),
            version: bytes
                .get(self.version.0..self.version.1)
                .unwrap_or_default(),
            release: self
                .release
                .map(|start| bytes.get(start..).unwrap_or_default()),
        }
    }
}

impl RpmVersion {
    /// The epoch digits (`""` when absent, which orders as 0).
    pub fn epoch(&self) -> &str {
        self.text.get(..self.layout.epoch_end).unwrap_or_default()
    }

    /// The version part.
    pub fn version(&self) -> &str {
        let (start, end) = self.layout.version;
        self.text.get(start..end).unwrap_or_default()
    }

    /// The release part, if any.
    pub fn release(&self) -> Option<&str> {
        self.layout
            .release
            .map(|start| self.text.get(start..).unwrap_or_default())
    }
}

fn split(text: &str) -> Result<Layout, &'static str> {
    let bytes = text.as_bytes();
    if bytes.is_empty() {
        return Err("version is empty");
    }
    let digits = bytes.iter().take_while(|c| c.is_ascii_digit()).count();
    let (epoch_end, version_start) = if bytes.get(digits) == Some(&b':') {
        (digits, digits + 1)
    } else {
        (0, 0)
    };
    let rest = bytes.get(version_start..).unwrap_or_default();
    let (version_end, release) = match rest.iter().rposition(|&c| c == b'-') {
        Some(hyphen) => (version_start + hyphen, Some(version_start + hyphen + 1)),
        None => (bytes.len(), None),
    };
    Ok(Layout {
        epoch_end,
        version: (version_start, version_end),
        release,
    })
}

fn strip_zeros(digits: &[u8]) -> &[u8] {
    let zeros = digits.iter().take_while(|&&c| c == b'0').count();
    digits.get(zeros..).unwrap_or_default()
}

fn cmp_numbers(a: &[u8], b: &[u8]) -> Ordering {
    let (a, b) = (strip_zeros(a), strip_zeros(b));
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// One `rpmvercmp` segment. Variants are in ascending order of rank; `None` (the end of the
/// string) ranks between `Tilde` and `Caret`.
#[derive(Clone, Copy, Debug)]
enum Segment<'a> {
    Tilde,
    Caret,
    Alpha(&'a [u8]),
    Digits(&'a [u8]),
}

/// Splits off the next segment of `s`, skipping separators; `None` at the end.
fn next_segment<'a>(s: &mut &'a [u8]) -> Option<Segment<'a>> {
    let skip = s
        .iter()
        .take_while(|&&c| !c.is_ascii_alphanumeric() && c != b'~' && c != b'^')
        .count();
    let rest = s.get(skip..).unwrap_or_default();
    let &first = rest.first()?;
    let (segment, len) = match first {
        b'~' => (Segment::Tilde, 1),
        b'^' => (Segment::Caret, 1),
        c if c.is_ascii_digit() => {
            let n = rest.iter().take_while(|c| c.is_ascii_digit()).count();
            (Segment::Digits(rest.get(..n).unwrap_or_default()), n)
        }
        _ => {
            let n = rest.iter().take_while(|c| c.is_ascii_alphabetic()).count();
            (Segment::Alpha(rest.get(..n).unwrap_or_default()), n)
        }
    };
    *s = rest.get(len..).unwrap_or_default();
    Some(segment)
}

fn rank(segment: Option<&Segment<'_>>) -> u8 {
    match segment {
        Some(Segment::Tilde) => 0,
        None => 1,
        Some(Segment::Caret) => 2,
        Some(Segment::Alpha(_)) => 3,
        Some(Segment::Digits(_)) => 4,
    }
}

/// `rpmvercmp` over byte slices: O(len(a) + len(b)), no allocation.
fn rpmvercmp(mut a: &[u8], mut b: &[u8]) -> Ordering {
    loop {
        let x = next_segment(&mut a);
        let y = next_segment(&mut b);
        let order = match (&x, &y) {
            (None, None) => return Ordering::Equal,
            (Some(Segment::Alpha(s)), Some(Segment::Alpha(t))) => s.cmp(t),
            (Some(Segment::Digits(s)), Some(Segment::Digits(t))) => cmp_numbers(s, t),
            _ => rank(x.as_ref()).cmp(&rank(y.as_ref())),
        };
        if order.is_ne() {
            return order;
        }
    }
}

fn compare_parts(a: &Parts<'_>, b: &Parts<'_>) -> Ordering {
    cmp_numbers(a.epoch, b.epoch)
        .then_with(|| rpmvercmp(a.version, b.version))
        .then_with(|| match (a.release, b.release) {
            (Some(x), Some(y)) => rpmvercmp(x, y),
            (x, y) => x.is_some().cmp(&y.is_some()),
        })
}

fn error(input: &str, reason: &'static str) -> VersionError {
    VersionError::new(VersionScheme::Rpm, input, reason)
}

impl Ord for RpmVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        compare_parts(
            &self.layout.parts(&self.text),
            &other.layout.parts(&other.text),
        )
    }
}

impl PartialOrd for RpmVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for RpmVersion {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other).is_eq()
    }
}

impl Eq for RpmVersion {}

impl VersionOrder for RpmVersion {
    fn parse(input: &str) -> Result<Self, VersionError> {
        let layout = split(input).map_err(|reason| error(input, reason))?;
        Ok(RpmVersion {
            text: input.into(),
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

    fn parse(s: &str) -> RpmVersion {
        match RpmVersion::parse(s) {
            Ok(v) => v,
            Err(e) => panic!("{s:?} should parse: {e}"),
        }
    }

    #[test]
    fn orders_like_rpmvercmp() {
        use Ordering::{Equal, Greater, Less};
        let cases = [
            ("1.0", "1.0", Equal),
            ("1.0", "1_0", Equal),
            ("1.0", "1..0", Equal),
            ("1.0001", "1.1", Equal),
            ("1.0", "1.0.1", Less),
            ("1.9", "1.10", Less),
            ("1.0a", "1.0.1", Less),
            ("1.0", "1.0a", Less),
            ("1.a", "1.1", Less),
            ("1.0~rc1", "1.0", Less),
            ("1.0~rc1~git", "1.0~rc1", Less),
            ("1.0", "1.0^", Less),
            ("1.0^git1", "1.0.1", Less),
            ("1.0^git1", "1.0^git2", Less),
            ("1.0^git1~pre", "1.0^git1", Less),
            ("1.1.α", "1.1.β", Equal),
            ("1.1.α", "1.1.a", Less),
            ("A", "a", Less),
            (
                "99999999999999999999999",
                "99999999999999999999998",
                Greater,
            ),
            // Epochs: leading digits then `:`; missing is 0.
            ("1:1.0", "2.0", Greater),
            ("0:1.0", "1.0", Equal),
            ("01:1.0", "1:1.0", Equal),
            (":1.0", "0:1.0", Equal),
            ("a:1", "b:1", Less),
            ("1.m+e2:1", "4.m+e1:1", Less),
            // Releases: after the last `-`; a missing release sorts first.
            ("1.0-1", "1.0-2", Less),
            ("1.0-1.el7", "1.0-1.el8", Less),
            ("1.0", "1.0-0", Less),
            ("1.0", "1.0-", Less),
            ("1.0-", "1.0-0", Less),
            ("1.0-1.", "1.0-1", Equal),
            ("1-2-3", "1-2-4", Less),
            ("1-3-1", "1-2-4", Greater),
            ("1:-1", "0:-2", Greater),
        ];
        for (a, b, want) in cases {
            assert_eq!(parse(a).cmp(&parse(b)), want, "{a} vs {b}");
            assert_eq!(parse(b).cmp(&parse(a)), want.reverse(), "{b} vs {a}");
            assert_eq!(RpmVersion::compare_str(a, b), Ok(want), "{a} vs {b} (str)");
        }
    }

    #[test]
    fn splits_epoch_version_release() {
        let cases = [
            ("1:2.0-3.el9", "1", "2.0", Some("3.el9")),
            ("2.0", "", "2.0", None),
            ("2.0-", "", "2.0", Some("")),
            ("a:1-2", "", "a:1", Some("2")),
            ("1-2-3", "", "1-2", Some("3")),
            ("5:", "5", "", None),
        ];
        for (input, epoch, version, release) in cases {
            let v = parse(input);
            assert_eq!(
                (v.epoch(), v.version(), v.release()),
                (epoch, version, release)
            );
        }
    }

    #[test]
    fn only_the_empty_string_is_an_error() {
        let err = RpmVersion::parse("").expect_err("empty");
        assert_eq!(err.scheme, VersionScheme::Rpm);
        assert!(RpmVersion::compare_str("", "1").is_err());
    }

    #[test]
    fn compares_huge_numbers_exactly() {
        let big = "9".repeat(10_000);
        let bigger = format!("1{}", "0".repeat(10_000));
        let padded = format!("{}{big}", "0".repeat(10_000));
        let a = format!("1.{big}");
        let b = format!("1.{bigger}");
        assert_eq!(RpmVersion::compare_str(&a, &b), Ok(Ordering::Less));
        assert_eq!(RpmVersion::compare_str(&b, &a), Ok(Ordering::Greater));
        assert_eq!(RpmVersion::compare_str(&big, &padded), Ok(Ordering::Equal));
    }

    /// Collision-prone RPM versions: few distinct pieces, separators, `~`, `^`, non-ASCII.
    fn version() -> impl Strategy<Value = String> {
        let epoch = prop::sample::select(vec!["", "", "0:", "1:", "01:", ":"]);
        let piece = prop::sample::select(vec![
            "0", "1", "2", "10", "01", "a", "b", "Z", "rc", "~", "^", ".", "_", "+", "α", ":",
        ]);
        let part = prop::collection::vec(piece, 1..6).prop_map(|p| p.concat());
        (epoch, part.clone(), prop::option::of(part)).prop_map(|(epoch, version, release)| {
            match release {
                Some(release) => format!("{epoch}{version}-{release}"),
                None => format!("{epoch}{version}"),
            }
        })
    }

    proptest! {
        #[test]
        fn parse_never_panics(s in any::<String>()) {
            let parsed = RpmVersion::parse(&s);
            prop_assert_eq!(parsed.is_ok(), !s.is_empty());
            prop_assert_eq!(RpmVersion::compare_str(&s, &s).ok(), parsed.ok().map(|_| Ordering::Equal));
        }

        #[test]
        fn order_is_total(a in version(), b in version(), c in version()) {
            let (x, y, z) = (parse(&a), parse(&b), parse(&c));
            prop_assert_eq!(x.cmp(&y), y.cmp(&x).reverse());
            prop_assert_eq!(x == y, x.cmp(&y).is_eq());
            prop_assert_eq!(RpmVersion::compare_str(&a, &b), Ok(x.cmp(&y)));
            if x <= y && y <= z {
                prop_assert!(x <= z, "{} <= {} <= {}", a, b, c);
            }
            if x >= y && y >= z {
                prop_assert!(x >= z, "{} >= {} >= {}", a, b, c);
            }
        }
    }
}
