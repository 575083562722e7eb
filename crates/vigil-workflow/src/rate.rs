//! Per-sink rate limits (token buckets) and retry backoff.
//!
//! A sink is a destination (one Slack webhook, one Jira, one SMTP relay): every task posting
//! to it shares one bucket, so fifty new findings become fifty Slack messages at Slack's pace
//! (1/s per webhook) rather than fifty 429s. Buckets live in the dispatcher's memory: after a
//! restart they start full, which at worst allows one burst.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

/// A rate: `count` events per `per`, with bursts up to `count` (at least 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rate {
    /// Events per period.
    pub count: u32,
    /// The period.
    pub per: Duration,
}

impl Rate {
    /// `N/s`, `N/min` (or `N/m`), `N/h`.
    pub fn parse(text: &str) -> Option<Rate> {
        let (n, unit) = text.trim().split_once('/')?;
        let count: u32 = n.trim().parse().ok().filter(|&c| c > 0)?;
        let per = match unit.trim() {
            "s" | "sec" => Duration::from_secs(1),
            "m" | "min" => Duration::from_secs(60),
            "h" | "hour" => Duration::from_secs(3600),
            _ => return None,
        };
        Some(Rate { count, per })
    }

    /// `count` per second.
    pub const fn per_second(count: u32) -> Rate {
        Rate {
            count,
            per: Duration::from_secs(1),
        }
    }
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    last_ms: i64,
}

/// Token buckets by sink key.
#[derive(Debug, Default)]
pub struct RateLimiter {
    buckets: HashMap<String, Bucket>,
}

impl RateLimiter {
    /// An empty limiter.
    pub fn new() -> RateLimiter {
        RateLimiter::default()
    }

    /// Takes a token for `key` at `now_ms`, or says how long until one is available.
    pub fn try_take(&mut self, key: &str, rate: Rate, now_ms: i64) -> Result<(), Duration> {
        let capacity = f64::from(rate.count.max(1));
        let per_ms = capacity / (rate.per.as_millis().max(1) as f64);
        let bucket = self.buckets.entry(key.to_owned()).or_insert(Bucket {
            tokens: capacity,
            last_ms: now_ms,
        });
        let elapsed = now_ms.saturating_sub(bucket.last_ms).max(0) as f64;
        bucket.tokens = (bucket.tokens + elapsed * per_ms).min(capacity);
        bucket.last_ms = bucket.last_ms.max(now_ms);
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            let missing = 1.0 - bucket.tokens;
            Err(Duration::from_millis((missing / per_ms).ceil() as u64))
        }
    }
}

/// How long to wait before attempt `attempt + 1` after `attempt` failures: `base · 2^(attempt-1)`
/// capped at `cap`, then "equal jitter" — uniformly in `[d/2, d]` — so a sink that comes back
/// is not hit by every retry at the same instant, yet never retried sooner than half the
/// schedule. `seed` decorrelates items (their idempotency key).
pub fn backoff(attempt: u32, base: Duration, cap: Duration, seed: &str) -> Duration {
    let exp = attempt.saturating_sub(1).min(32);
    let full = base
        .checked_mul(1u32 << exp.min(31))
        .unwrap_or(cap)
        .min(cap);
    let half = full / 2;
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write(seed.as_bytes());
    hasher.write_u32(attempt);
    let fraction = (hasher.finish() % 10_000) as f64 / 10_000.0;
    half + half.mul_f64(fraction)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_parse() {
        let cases: &[(&str, Option<(u32, u64)>)] = &[
            ("1/s", Some((1, 1))),
            ("30/min", Some((30, 60))),
            ("500 / h", Some((500, 3600))),
            ("0/s", None),
            ("1/week", None),
            ("fast", None),
        ];
        for (text, want) in cases {
            let got = Rate::parse(text).map(|r| (r.count, r.per.as_secs()));
            assert_eq!(got, *want, "{text}");
        }
    }

    #[test]
    fn bucket_allows_burst_then_paces() {
        let mut l = RateLimiter::new();
        let r = Rate::per_second(2);
        assert!(l.try_take("s", r, 0).is_ok());
        assert!(l.try_take("s", r, 0).is_ok());
        let wait = l.try_take("s", r, 0).unwrap_err();
        assert_eq!(wait, Duration::from_millis(500));
        assert!(l.try_take("s", r, 500).is_ok());
        assert!(l.try_take("other", r, 500).is_ok());
        // A clock going backwards does not mint tokens.
        assert!(l.try_take("s", r, 0).is_err());
    }

    #[test]
    fn backoff_grows_is_capped_and_jittered() {
        let base = Duration::from_secs(2);
        let cap = Duration::from_secs(600);
        for attempt in 1..40 {
            let d = backoff(attempt, base, cap, "k");
            let full = base
                .checked_mul(1 << (attempt - 1).min(31))
                .unwrap_or(cap)
                .min(cap);
            assert!(d >= full / 2 && d <= full, "attempt {attempt}: {d:?}");
        }
        assert!(backoff(u32::MAX, base, cap, "k") <= cap);
    }
}
