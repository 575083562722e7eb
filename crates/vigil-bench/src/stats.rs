//! Small statistics over measured samples: nearest-rank percentiles, as latency figures are
//! usually quoted (p99 of 100 samples is the 99th smallest, not an interpolation).

use serde::Serialize;

/// Count, p50, p99, max and mean of a set of samples (milliseconds or any unit).
#[derive(Clone, Debug, Default, Serialize)]
pub struct Summary {
    /// Samples.
    pub count: usize,
    /// Median (nearest rank).
    pub p50: f64,
    /// 99th percentile (nearest rank).
    pub p99: f64,
    /// Smallest.
    pub min: f64,
    /// Largest.
    pub max: f64,
    /// Mean.
    pub mean: f64,
}

/// The nearest-rank percentile `p` (0–100) of `sorted` (ascending, non-empty).
fn nearest_rank(sorted: &[f64], p: f64) -> f64 {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Summarizes `samples`; all zeros when there are none.
pub fn summarize(samples: &[f64]) -> Summary {
    if samples.is_empty() {
        return Summary::default();
    }
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    Summary {
        count: sorted.len(),
        p50: round3(nearest_rank(&sorted, 50.0)),
        p99: round3(nearest_rank(&sorted, 99.0)),
        min: round3(sorted[0]),
        max: round3(sorted[sorted.len() - 1]),
        mean: round3(sorted.iter().sum::<f64>() / sorted.len() as f64),
    }
}

/// Three decimals: the JSON summary stays readable.
pub fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// A small deterministic generator (SplitMix64): reproducible fleets from `--seed` without a
/// dependency.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let samples: Vec<f64> = (1..=100).map(f64::from).collect();
        let cases = [
            (&samples[..], 50.0, 99.0),
            (&[7.0][..], 7.0, 7.0),
            (&[3.0, 1.0, 2.0][..], 2.0, 3.0),
        ];
        for (input, p50, p99) in cases {
            let s = summarize(input);
            assert_eq!((s.p50, s.p99), (p50, p99), "{input:?}");
        }
        assert_eq!(summarize(&[]).count, 0);
    }

    #[test]
    fn rng_is_reproducible_and_bounded() {
        let (mut a, mut b) = (Rng::new(7), Rng::new(7));
        for _ in 0..1000 {
            let x = a.below(13);
            assert_eq!(x, b.below(13));
            assert!(x < 13);
            let u = a.unit();
            b.unit();
            assert!((0.0..1.0).contains(&u));
        }
    }
}
