//! Version comparison throughput per scheme (`cargo bench -p vigil-core --bench version_compare`).
//!
//! Pairs are generated deterministically in realistic shapes for each ecosystem, so runs are
//! comparable across machines and commits. One iteration compares one batch of pairs; divan
//! reports time per batch, and `items` throughput gives pairs per second.

use divan::counter::ItemsCount;
use vigil_core::VersionScheme;

const BATCH: usize = 4096;

/// A tiny deterministic generator (xorshift): benches must not depend on a RNG crate's stream.
struct Gen(u64);

impl Gen {
    fn next(&mut self, bound: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % bound
    }
}

fn version(scheme: VersionScheme, g: &mut Gen) -> String {
    let (a, b, c) = (g.next(30), g.next(40), g.next(60));
    let pre = g.next(6);
    match scheme {
        VersionScheme::SemVer => match pre {
            0 => format!("{a}.{b}.{c}-beta.{}", g.next(10)),
            1 => format!("{a}.{b}.{c}-rc.1"),
            _ => format!("{a}.{b}.{c}"),
        },
        VersionScheme::Pep440 => match pre {
            0 => format!("{a}.{b}.{c}rc{}", g.next(4)),
            1 => format!("{a}.{b}.post{}", g.next(4)),
            2 => format!("{a}.{b}"),
            _ => format!("{a}.{b}.{c}"),
        },
        VersionScheme::Debian => match pre {
            0 => format!("{}:{a}.{b}.{c}-{}", g.next(3), g.next(9)),
            1 => format!("{a}.{b}~rc{}-{}", g.next(4), g.next(9)),
            2 => format!("{a}.{b}.{c}+dfsg-{}ubuntu{}", g.next(9), g.next(5)),
            _ => format!("{a}.{b}.{c}-{}", g.next(9)),
        },
        _ => format!("{a}.{b}.{c}"),
    }
}

fn pairs(scheme: VersionScheme) -> Vec<(String, String)> {
    let mut g = Gen(0x9E37_79B9_7F4A_7C15);
    (0..BATCH)
        .map(|_| (version(scheme, &mut g), version(scheme, &mut g)))
        .collect()
}

#[divan::bench(args = [VersionScheme::SemVer, VersionScheme::Pep440, VersionScheme::Debian, VersionScheme::Maven, VersionScheme::Rpm, VersionScheme::Alpine, VersionScheme::Generic])]
fn compare(bencher: divan::Bencher, scheme: VersionScheme) {
    let pairs = pairs(scheme);
    bencher.counter(ItemsCount::new(pairs.len())).bench(|| {
        pairs
            .iter()
            .filter(|(a, b)| {
                scheme
                    .compare(divan::black_box(a), divan::black_box(b))
                    .is_ok_and(|o| o.is_lt())
            })
            .count()
    });
}

#[divan::bench(args = [VersionScheme::SemVer, VersionScheme::Pep440, VersionScheme::Debian])]
fn compare_preparsed(bencher: divan::Bencher, scheme: VersionScheme) {
    let parsed: Vec<_> = pairs(scheme)
        .iter()
        .filter_map(|(a, b)| Some((scheme.parse(a).ok()?, scheme.parse(b).ok()?)))
        .collect();
    bencher.counter(ItemsCount::new(parsed.len())).bench(|| {
        parsed
            .iter()
            .filter(|(a, b)| {
                divan::black_box(a)
                    .cmp_same(divan::black_box(b))
                    .is_some_and(|o| o.is_lt())
            })
            .count()
    });
}

fn main() {
    divan::main();
}
