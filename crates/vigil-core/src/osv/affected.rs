//! Evaluating one `affected[]` entry against a version: is it affected, and why.
//!
//! Follows the OSV specification's `IsVulnerable` pseudocode (schema.md, "Evaluation"):
//!
//! - a version is affected when it is listed in `versions` **or** lies in any range;
//! - `versions`: an entry matches when it is the same string, or when both parse under the
//!   ecosystem's ordering and compare equal (`1.0` lists `1.0.0` under PEP 440);
//! - `SEMVER` ranges order with SemVer whatever the ecosystem, `ECOSYSTEM` ranges with the
//!   package ecosystem's ordering; `GIT` ranges need a commit graph and are skipped with a
//!   reason, as are range types nobody defined;
//! - events may come unsorted: they are sorted (stably) by version, `introduced: "0"` first.
//!   Walking them, `introduced <= v` opens, `fixed <= v` closes (exclusive bound),
//!   `last_affected < v` closes (inclusive bound); the state after the last event that applies
//!   to `v` decides. Several introduced/fixed pairs in one range work naturally;
//! - `limit` events cap the range: `v` must be below at least one limit (`"*"`: no cap);
//! - a version the ordering cannot parse falls back to exact string matching against
//!   `versions` and reports the parse error: it never matches a range;
//! - a range with a bound that does not parse is skipped and reported rather than guessed at
//!   (dropping a `fixed` would widen the range, dropping an `introduced` would shrink it).
//!
//! [`CompiledAffected`] does the parsing of bounds once: each range keeps its events sorted with
//! parsed versions, so evaluating a version is one parse per scheme plus a binary search per
//! range — O(log e) for e events, plus O(log n) for n listed versions. The matcher keeps
//! compiled entries and a [`QueryVersion`] per component so a version is parsed once per scheme
//! however many advisories it is checked against.

use std::cell::OnceCell;
use std::cmp::Ordering;
use std::fmt;

use super::record::{Affected, Event, RangeType};
use crate::version::{Version, VersionError, VersionScheme};

/// The number of schemes, for the per-scheme parse cache of [`QueryVersion`].
const SCHEMES: usize = VersionScheme::ALL.len();

/// A version being checked, parsed lazily (and at most once) under each scheme it meets.
#[derive(Debug)]
pub struct QueryVersion<'a> {
    raw: &'a str,
    parsed: [OnceCell<Result<Version, VersionError>>; SCHEMES],
    fallback: OnceCell<VersionError>,
}

impl<'a> QueryVersion<'a> {
    /// Wraps a version string; nothing is parsed yet.
    pub fn new(raw: &'a str) -> QueryVersion<'a> {
        QueryVersion {
            raw,
            parsed: std::array::from_fn(|_| OnceCell::new()),
            fallback: OnceCell::new(),
        }
    }

    /// Seeds the cache with a parse done elsewhere — the matcher parses a component's version
    /// once and reuses it — unless that scheme was already parsed here. The result's scheme
    /// (of the version, or of the error) picks the slot.
    pub fn with_parsed(self, parsed: Result<Version, VersionError>) -> QueryVersion<'a> {
        let scheme = match &parsed {
            Ok(version) => version.scheme(),
            Err(error) => error.scheme,
        };
        if let Some(cell) = self.parsed.get(scheme as usize) {
            // Already parsed: the cached value came from the same input, keep it.
            let _ = cell.set(parsed);
        }
        self
    }

    /// The version string as given.
    pub fn as_str(&self) -> &'a str {
        self.raw
    }

    /// The version parsed under `scheme` (cached).
    pub fn parsed(&self, scheme: VersionScheme) -> Result<&Version, &VersionError> {
        // `scheme as usize` is the declaration index, always below SCHEMES; the fallback only
        // exists so that a scheme added without updating `ALL` reads as "cannot parse".
        match self.parsed.get(scheme as usize) {
            Some(cell) => cell.get_or_init(|| scheme.parse(self.raw)).as_ref(),
            None => Err(self
                .fallback
                .get_or_init(|| VersionError::new(scheme, self.raw, "no parse slot for scheme"))),
        }
    }
}

/// Orders two versions of one scheme. Compiled bounds and query versions are parsed under
/// the same scheme by construction, so `cmp_same` always answers.
fn order(a: &Version, b: &Version) -> Ordering {
    a.cmp_same(b).unwrap_or(Ordering::Equal)
}

/// An `affected` entry with every bound and listed version parsed once.
#[derive(Clone, Debug)]
pub struct CompiledAffected {
    scheme: VersionScheme,
    /// Listed versions, sorted and deduplicated, for exact-string binary search.
    listed_exact: Vec<Box<str>>,
    /// Listed versions that parse under `scheme`, sorted by its ordering.
    listed_parsed: Vec<(Version, Box<str>)>,
    ranges: Vec<CompiledRange>,
}

#[derive(Clone, Debug)]
struct CompiledRange {
    index: usize,
    kind: RangeType,
    body: RangeBody,
}

#[derive(Clone, Debug)]
enum RangeBody {
    Ordered {
        scheme: VersionScheme,
        /// Non-limit events, stably sorted by bound.
        events: Vec<Bound>,
        /// The highest limit, when the range has limits and none is `*`.
        limit: Option<(Version, Box<str>)>,
    },
    Skipped(SkipReason),
}

#[derive(Clone, Debug)]
struct Bound {
    at: BoundAt,
    event: Event,
}

#[derive(Clone, Debug)]
enum BoundAt {
    /// `introduced: "0"`: before every version.
    Zero,
    Version(Version),
}

impl BoundAt {
    fn cmp_version(&self, v: &Version) -> Ordering {
        match self {
            BoundAt::Zero => Ordering::Less,
            BoundAt::Version(at) => order(at, v),
        }
    }
}

fn cmp_bounds(a: &BoundAt, b: &BoundAt) -> Ordering {
    match (a, b) {
        (BoundAt::Zero, BoundAt::Zero) => Ordering::Equal,
        (BoundAt::Zero, _) => Ordering::Less,
        (_, BoundAt::Zero) => Ordering::Greater,
        (BoundAt::Version(a), BoundAt::Version(b)) => order(a, b),
    }
}

/// Why a range was not evaluated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SkipReason {
    /// GIT ranges are commit ranges: they need the repository's commit graph, so they never
    /// match a version string (the record's `versions` list carries their tags).
    Git,
    /// A range type the OSV spec does not define (or none): no ordering is known for it.
    UnknownType(String),
    /// A bound of the range does not parse under the range's ordering.
    UnparseableBound {
        /// The event whose version failed.
        event: Event,
        /// Why.
        error: VersionError,
    },
    /// The version being checked does not parse under the range's ordering.
    UnparseableVersion(VersionError),
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SkipReason::Git => f.write_str("GIT range skipped: commit ranges need the repository"),
            SkipReason::UnknownType(t) => write!(f, "range type {t:?} is unknown; skipped"),
            SkipReason::UnparseableBound { event, error } => {
                write!(f, "skipped: bound {event} does not parse ({error})")
            }
            SkipReason::UnparseableVersion(error) => {
                write!(f, "skipped: the version does not parse ({error})")
            }
        }
    }
}

/// How a version stands against one range.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RangeOutcome {
    /// Inside: the last event at or below the version is this `introduced`.
    Inside {
        /// The opening `introduced` version (`"0"`: from the beginning).
        introduced: String,
        /// The next closing event above it (`fixed` or `last_affected`), if any.
        until: Option<Event>,
    },
    /// Outside, with the event that puts it there.
    Outside(NotInRange),
    /// Not evaluated.
    Skipped(SkipReason),
}

/// Why a version is outside a range.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NotInRange {
    /// Below the first `introduced`.
    BeforeIntroduced(String),
    /// The range has no `introduced` event at all, so nothing is inside it.
    NoIntroduced,
    /// At or above this `fixed`, with no later `introduced` at or below the version.
    Fixed(String),
    /// Above this `last_affected`, with no later `introduced` at or below the version.
    AfterLastAffected(String),
    /// Not below the range's highest `limit`.
    AtOrAboveLimit(String),
}

/// One range's verdict, with its position in `affected.ranges`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RangeEvaluation {
    /// Index into `affected.ranges`.
    pub index: usize,
    /// The range type.
    pub kind: RangeType,
    /// The verdict.
    pub outcome: RangeOutcome,
}

/// How a listed version matched.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListedMatch {
    /// The `versions` entry that matched.
    pub entry: String,
    /// `true`: same string; `false`: equal under the ecosystem's ordering only.
    pub exact: bool,
}

/// The full verdict of one `affected` entry for one version, with the reasons.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AffectedMatch {
    /// The version checked.
    pub version: String,
    /// The ecosystem ordering used for `versions` and `ECOSYSTEM` ranges.
    pub scheme: VersionScheme,
    /// The `versions` entry that matched, if any.
    pub listed: Option<ListedMatch>,
    /// Every range, in record order.
    pub ranges: Vec<RangeEvaluation>,
    /// The version did not parse under the ecosystem ordering: only exact strings were
    /// compared against `versions`.
    pub version_error: Option<VersionError>,
}

impl AffectedMatch {
    /// Whether the version is affected (listed, or inside some range).
    pub fn is_affected(&self) -> bool {
        self.listed.is_some() || self.matching_range().is_some()
    }

    /// The reason in one line, for reports: `version 4.4.2 is listed` or
    /// `version 4.1.1 is in SEMVER range introduced 4.1.1, last_affected 4.1.2`; `None` when
    /// not affected.
    pub fn summary(&self) -> Option<String> {
        if let Some(listed) = &self.listed {
            return Some(if listed.exact {
                format!("version {} is listed", self.version)
            } else {
                format!("version {} is listed as {}", self.version, listed.entry)
            });
        }
        let range = self.matching_range()?;
        let RangeOutcome::Inside { introduced, until } = &range.outcome else {
            return None;
        };
        let from = if introduced == "0" {
            "every version".to_owned()
        } else {
            format!("introduced {introduced}")
        };
        Some(match until {
            Some(event) => format!(
                "version {} is in {} range {from}, {} {}",
                self.version,
                range.kind.as_str(),
                event.key(),
                event.version()
            ),
            None => format!(
                "version {} is in {} range {from}, not fixed",
                self.version,
                range.kind.as_str()
            ),
        })
    }

    /// The first range the version is inside.
    pub fn matching_range(&self) -> Option<&RangeEvaluation> {
        self.ranges
            .iter()
            .find(|r| matches!(r.outcome, RangeOutcome::Inside { .. }))
    }

    /// Ranges that were not evaluated, with why.
    pub fn skipped(&self) -> impl Iterator<Item = (usize, &SkipReason)> {
        self.ranges.iter().filter_map(|r| match &r.outcome {
            RangeOutcome::Skipped(reason) => Some((r.index, reason)),
            _ => None,
        })
    }
}

impl fmt::Display for AffectedMatch {
    /// One line per fact: the verdict, then the listed match, then each range.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verdict = if self.is_affected() {
            "affected"
        } else {
            "not affected"
        };
        write!(f, "{:?}: {verdict}", self.version)?;
        if let Some(error) = &self.version_error {
            write!(
                f,
                "\n  version does not parse: {error}; compared as exact string only"
            )?;
        }
        match &self.listed {
            Some(ListedMatch { entry, exact: true }) => {
                write!(f, "\n  listed in versions as {entry:?}")?
            }
            Some(ListedMatch {
                entry,
                exact: false,
            }) => {
                write!(
                    f,
                    "\n  equals listed version {entry:?} under {}",
                    self.scheme
                )?;
            }
            None => write!(f, "\n  not listed in versions")?,
        }
        for range in &self.ranges {
            write!(f, "\n  range #{} ({}): ", range.index, range.kind)?;
            match &range.outcome {
                RangeOutcome::Inside { introduced, until } => {
                    write!(f, "inside: introduced {introduced:?}")?;
                    match until {
                        Some(event) => write!(f, ", until {event}")?,
                        None => write!(f, ", no fix")?,
                    }
                }
                RangeOutcome::Outside(why) => match why {
                    NotInRange::BeforeIntroduced(v) => {
                        write!(f, "outside: before introduced {v:?}")?
                    }
                    NotInRange::NoIntroduced => {
                        write!(f, "outside: the range has no introduced event")?
                    }
                    NotInRange::Fixed(v) => write!(f, "outside: fixed in {v:?}")?,
                    NotInRange::AfterLastAffected(v) => {
                        write!(f, "outside: after last_affected {v:?}")?
                    }
                    NotInRange::AtOrAboveLimit(v) => write!(f, "outside: at or above limit {v:?}")?,
                },
                RangeOutcome::Skipped(reason) => write!(f, "{reason}")?,
            }
        }
        Ok(())
    }
}

impl Affected {
    /// The ordering of the package's ecosystem (generic when the entry has no package).
    pub fn ecosystem_scheme(&self) -> VersionScheme {
        self.package
            .as_ref()
            .map_or(VersionScheme::Generic, |p| p.ecosystem.version_scheme())
    }

    /// Parses every bound once; see [`CompiledAffected`].
    pub fn compile(&self) -> CompiledAffected {
        CompiledAffected::new(self)
    }

    /// Evaluates `version` with the reasons. Compiles on every call: keep a
    /// [`CompiledAffected`] when checking many versions.
    pub fn evaluate(&self, version: &str) -> AffectedMatch {
        self.compile().evaluate(&QueryVersion::new(version))
    }

    /// Whether `version` is affected. Compiles on every call, like [`Affected::evaluate`].
    pub fn is_affected(&self, version: &str) -> bool {
        self.compile().is_affected(&QueryVersion::new(version))
    }
}

impl CompiledAffected {
    /// Compiles `affected`: parses listed versions and range bounds under their orderings.
    pub fn new(affected: &Affected) -> CompiledAffected {
        let scheme = affected.ecosystem_scheme();
        let mut listed_exact: Vec<Box<str>> = affected
            .versions
            .iter()
            .map(|v| v.as_str().into())
            .collect();
        listed_exact.sort_unstable();
        listed_exact.dedup();
        let mut listed_parsed: Vec<(Version, Box<str>)> = listed_exact
            .iter()
            .filter_map(|v| scheme.parse(v).ok().map(|parsed| (parsed, v.clone())))
            .collect();
        listed_parsed.sort_by(|a, b| order(&a.0, &b.0));
        let ranges = affected
            .ranges
            .iter()
            .enumerate()
            .map(|(index, range)| CompiledRange {
                index,
                kind: range.kind.clone(),
                body: compile_range(&range.kind, &range.events, scheme),
            })
            .collect();
        CompiledAffected {
            scheme,
            listed_exact,
            listed_parsed,
            ranges,
        }
    }

    /// The ecosystem ordering of the entry.
    pub fn scheme(&self) -> VersionScheme {
        self.scheme
    }

    /// Fast path: whether `version` is affected, stopping at the first match.
    pub fn is_affected(&self, version: &QueryVersion<'_>) -> bool {
        self.listed(version).is_some()
            || self
                .ranges
                .iter()
                .any(|range| matches!(range.evaluate(version), RangeOutcome::Inside { .. }))
    }

    /// The full verdict with reasons.
    pub fn evaluate(&self, version: &QueryVersion<'_>) -> AffectedMatch {
        AffectedMatch {
            version: version.as_str().to_owned(),
            scheme: self.scheme,
            listed: self.listed(version),
            ranges: self
                .ranges
                .iter()
                .map(|range| RangeEvaluation {
                    index: range.index,
                    kind: range.kind.clone(),
                    outcome: range.evaluate(version),
                })
                .collect(),
            version_error: version.parsed(self.scheme).err().cloned(),
        }
    }

    fn listed(&self, version: &QueryVersion<'_>) -> Option<ListedMatch> {
        let raw = version.as_str();
        if let Ok(i) = self
            .listed_exact
            .binary_search_by(|entry| (**entry).cmp(raw))
        {
            let entry = self.listed_exact.get(i)?;
            return Some(ListedMatch {
                entry: entry.to_string(),
                exact: true,
            });
        }
        if self.listed_parsed.is_empty() {
            return None;
        }
        let parsed = version.parsed(self.scheme).ok()?;
        let i = self
            .listed_parsed
            .binary_search_by(|(entry, _)| order(entry, parsed))
            .ok()?;
        self.listed_parsed.get(i).map(|(_, entry)| ListedMatch {
            entry: entry.to_string(),
            exact: false,
        })
    }
}

fn compile_range(kind: &RangeType, events: &[Event], ecosystem: VersionScheme) -> RangeBody {
    let scheme = match kind {
        RangeType::Semver => VersionScheme::SemVer,
        RangeType::Ecosystem => ecosystem,
        RangeType::Git => return RangeBody::Skipped(SkipReason::Git),
        RangeType::Other(name) => return RangeBody::Skipped(SkipReason::UnknownType(name.clone())),
    };
    let mut bounds = Vec::with_capacity(events.len());
    let mut limit: Option<(Version, Box<str>)> = None;
    let mut unlimited = false;
    for event in events {
        let text = event.version();
        if let Event::Limit(_) = event {
            if text.contains('*') {
                unlimited = true;
                continue;
            }
        } else if let Event::Introduced(_) = event
            && text == "0"
        {
            bounds.push(Bound {
                at: BoundAt::Zero,
                event: event.clone(),
            });
            continue;
        }
        let parsed = match scheme.parse(text) {
            Ok(parsed) => parsed,
            Err(error) => {
                return RangeBody::Skipped(SkipReason::UnparseableBound {
                    event: event.clone(),
                    error,
                });
            }
        };
        match event {
            Event::Limit(_) => {
                let higher = limit
                    .as_ref()
                    .is_none_or(|(cap, _)| order(&parsed, cap).is_gt());
                if higher {
                    limit = Some((parsed, text.into()));
                }
            }
            _ => bounds.push(Bound {
                at: BoundAt::Version(parsed),
                event: event.clone(),
            }),
        }
    }
    // Stable: events at equal versions keep their record order, as the spec's `sorted` would.
    bounds.sort_by(|a, b| cmp_bounds(&a.at, &b.at));
    RangeBody::Ordered {
        scheme,
        events: bounds,
        limit: if unlimited { None } else { limit },
    }
}

impl CompiledRange {
    fn evaluate(&self, version: &QueryVersion<'_>) -> RangeOutcome {
        let (scheme, events, limit) = match &self.body {
            RangeBody::Ordered {
                scheme,
                events,
                limit,
            } => (*scheme, events, limit),
            RangeBody::Skipped(reason) => return RangeOutcome::Skipped(reason.clone()),
        };
        let v = match version.parsed(scheme) {
            Ok(v) => v,
            Err(error) => {
                return RangeOutcome::Skipped(SkipReason::UnparseableVersion(error.clone()));
            }
        };
        if let Some((cap, text)) = limit
            && order(v, cap).is_ge()
        {
            return RangeOutcome::Outside(NotInRange::AtOrAboveLimit(text.to_string()));
        }
        match last_applicable(events, v) {
            Some((
                i,
                Bound {
                    event: Event::Introduced(introduced),
                    ..
                },
            )) => RangeOutcome::Inside {
                introduced: introduced.clone(),
                until: events
                    .iter()
                    .skip(i + 1)
                    .find(|b| matches!(b.event, Event::Fixed(_) | Event::LastAffected(_)))
                    .map(|b| b.event.clone()),
            },
            Some((
                _,
                Bound {
                    event: Event::Fixed(fixed),
                    ..
                },
            )) => RangeOutcome::Outside(NotInRange::Fixed(fixed.clone())),
            Some((
                _,
                Bound {
                    event: Event::LastAffected(last),
                    ..
                },
            )) => RangeOutcome::Outside(NotInRange::AfterLastAffected(last.clone())),
            // Limits are not kept among the events; treat defensively as "not inside".
            Some((
                _,
                Bound {
                    event: Event::Limit(_),
                    ..
                },
            ))
            | None => RangeOutcome::Outside(
                match events
                    .iter()
                    .find(|b| matches!(b.event, Event::Introduced(_)))
                {
                    Some(first) => NotInRange::BeforeIntroduced(first.event.version().to_owned()),
                    None => NotInRange::NoIntroduced,
                },
            ),
        }
    }
}

/// The last event (in sorted order) that changes the state for `v`: every event below `v`
/// applies; at `v` itself `introduced` and `fixed` apply but `last_affected` does not (it is an
/// inclusive bound). Binary search over the sorted events plus a scan of the ties at `v`.
fn last_applicable<'e>(events: &'e [Bound], v: &Version) -> Option<(usize, &'e Bound)> {
    let below = events.partition_point(|b| b.at.cmp_version(v).is_lt());
    let at_v = events
        .iter()
        .enumerate()
        .skip(below)
        .take_while(|(_, b)| b.at.cmp_version(v).is_eq())
        .filter(|(_, b)| matches!(b.event, Event::Introduced(_) | Event::Fixed(_)))
        .last();
    at_v.or_else(|| {
        let i = below.checked_sub(1)?;
        events.get(i).map(|b| (i, b))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Ecosystem;
    use crate::osv::record::{Package, Range};

    fn entry(ecosystem: &str, events: &[Event], versions: &[&str]) -> Affected {
        Affected {
            package: Some(Package {
                ecosystem: Ecosystem::parse(ecosystem),
                name: "p".into(),
                purl: None,
            }),
            ranges: vec![Range {
                kind: RangeType::Ecosystem,
                events: events.to_vec(),
                ..Range::default()
            }],
            versions: versions.iter().map(|v| v.to_string()).collect(),
            ..Affected::default()
        }
    }

    /// The spec's pseudocode, literally: sort, then walk every event.
    fn reference(events: &[Event], v: &str, scheme: VersionScheme) -> bool {
        let cmp = |a: &str, b: &str| scheme.compare(a, b).unwrap_or(Ordering::Equal);
        let limits: Vec<&str> = events
            .iter()
            .filter(|e| matches!(e, Event::Limit(_)))
            .map(Event::version)
            .collect();
        if !limits.is_empty() && !limits.iter().any(|l| l.contains('*') || cmp(v, l).is_lt()) {
            return false;
        }
        let mut sorted: Vec<&Event> = events
            .iter()
            .filter(|e| !matches!(e, Event::Limit(_)))
            .collect();
        sorted.sort_by(|a, b| match (a, b) {
            (Event::Introduced(x), Event::Introduced(y)) if x == "0" && y == "0" => Ordering::Equal,
            (Event::Introduced(x), _) if x == "0" => Ordering::Less,
            (_, Event::Introduced(y)) if y == "0" => Ordering::Greater,
            _ => cmp(a.version(), b.version()),
        });
        let mut vulnerable = false;
        for e in sorted {
            match e {
                Event::Introduced(x) if x == "0" || cmp(v, x).is_ge() => vulnerable = true,
                Event::Fixed(x) if cmp(v, x).is_ge() => vulnerable = false,
                Event::LastAffected(x) if cmp(v, x).is_gt() => vulnerable = false,
                _ => {}
            }
        }
        vulnerable
    }

    #[test]
    fn binary_search_agrees_with_the_pseudocode_on_ties_and_mixes() {
        use Event::{Fixed as F, Introduced as I, LastAffected as L, Limit as Lim};
        let s = |v: &str| v.to_string();
        let timelines: Vec<Vec<Event>> = vec![
            vec![I(s("0"))],
            vec![I(s("1.0")), F(s("1.0"))],
            vec![F(s("1.0")), I(s("1.0"))],
            vec![I(s("1.0")), L(s("1.0"))],
            vec![L(s("1.0")), I(s("1.0")), F(s("2.0"))],
            vec![I(s("2.0")), F(s("3.0")), I(s("0")), F(s("1.0"))],
            vec![I(s("1.0")), L(s("1.5")), I(s("1.2")), F(s("1.3"))],
            vec![I(s("0")), Lim(s("2.0")), Lim(s("1.5"))],
            vec![I(s("0")), Lim(s("1.0")), Lim(s("*"))],
            vec![F(s("1.0"))],
            vec![],
        ];
        let probes = [
            "0", "0.5", "1.0", "1.1", "1.2", "1.3", "1.5", "1.6", "2.0", "2.5", "3.0", "4",
        ];
        for events in &timelines {
            let compiled = entry("Maven", events, &[]).compile();
            for v in probes {
                let q = QueryVersion::new(v);
                let want = reference(events, v, compiled.scheme());
                assert_eq!(compiled.is_affected(&q), want, "{events:?} @ {v}");
                assert_eq!(
                    compiled.evaluate(&q).is_affected(),
                    want,
                    "{events:?} @ {v}"
                );
            }
        }
    }

    #[test]
    fn explains_listed_and_range_verdicts() {
        use Event::{Fixed as F, Introduced as I};
        let a = entry("PyPI", &[I("2.0".into()), F("2.1".into())], &["1.0"]);
        let m = a.evaluate("1.0.0");
        assert_eq!(
            m.listed,
            Some(ListedMatch {
                entry: "1.0".into(),
                exact: false
            })
        );
        assert_eq!(
            m.ranges[0].outcome,
            RangeOutcome::Outside(NotInRange::BeforeIntroduced("2.0".into()))
        );
        let m = a.evaluate("2.0.5");
        assert_eq!(
            m.ranges[0].outcome,
            RangeOutcome::Inside {
                introduced: "2.0".into(),
                until: Some(F("2.1".into()))
            }
        );
        assert!(m.to_string().contains("until fixed \"2.1\""), "{m}");
        assert_eq!(
            a.evaluate("2.1").ranges[0].outcome,
            RangeOutcome::Outside(NotInRange::Fixed("2.1".into()))
        );
    }
}
