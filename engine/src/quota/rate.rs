//! Per-token rate limits: one token bucket per API token (by its sha256),
//! in memory. A bucket holds up to `burst` tokens and refills at
//! `per_second`; a request spends one token per unit (an event, a write).
//! A request larger than the burst (a big batch) passes when the bucket is
//! full and leaves it in debt, so it is neither refused forever nor free.
//!
//! Memory stays bounded: buckets exist only for tokens that authenticated,
//! and a bucket idle long enough to be full again is the same as no bucket,
//! so a sweep (at most once a minute, on the request path) drops those.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::{Limit, Refused};

/// How often idle buckets are looked for.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// A rate and its burst, both at least 1 (the configuration checks it;
/// a rate of 0 there means no limit, i.e. no `RateLimit`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub per_second: u32,
    pub burst: u32,
}

/// The buckets of one kind of request (ingested events, API writes).
#[derive(Debug)]
pub struct TokenBuckets {
    limit: Limit,
    rate: Option<RateLimit>,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    buckets: HashMap<[u8; 32], Bucket>,
    swept: Instant,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    /// Negative after a request larger than the burst.
    tokens: f64,
    at: Instant,
}

impl Bucket {
    /// The bucket refilled up to `now`.
    fn refilled(self, rate: RateLimit, now: Instant) -> Bucket {
        let earned = now.saturating_duration_since(self.at).as_secs_f64() * f64::from(rate.per_second);
        Bucket { tokens: (self.tokens + earned).min(f64::from(rate.burst)), at: now }
    }
}

impl TokenBuckets {
    /// Buckets enforcing `rate` (`None`: every request passes) for `limit`.
    pub fn new(limit: Limit, rate: Option<RateLimit>) -> TokenBuckets {
        let state = State { buckets: HashMap::new(), swept: Instant::now() };
        TokenBuckets { limit, rate, state: Mutex::new(state) }
    }

    /// Spends `units` of `token`'s bucket, or refuses with when to retry.
    pub fn take(&self, token: &[u8; 32], units: u64) -> Result<(), Refused> {
        self.take_at(token, units, Instant::now())
    }

    /// How many buckets are held (tests of the sweep).
    #[cfg(test)]
    fn len(&self) -> usize {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).buckets.len()
    }

    fn take_at(&self, token: &[u8; 32], units: u64, now: Instant) -> Result<(), Refused> {
        let Some(rate) = self.rate else { return Ok(()) };
        let burst = f64::from(rate.burst);
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if now.saturating_duration_since(state.swept) >= SWEEP_EVERY {
            state.buckets.retain(|_, bucket| bucket.refilled(rate, now).tokens < burst);
            state.swept = now;
        }
        let bucket = state.buckets.entry(*token).or_insert(Bucket { tokens: burst, at: now });
        *bucket = bucket.refilled(rate, now);
        let needed = (units as f64).min(burst);
        if bucket.tokens >= needed {
            bucket.tokens -= units as f64;
            return Ok(());
        }
        let wait = Duration::from_secs_f64((needed - bucket.tokens) / f64::from(rate.per_second));
        drop(state);
        let retry_after =
            Duration::from_secs(wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(Duration::from_secs(1));
        let what = match self.limit {
            Limit::IngestEvents => "events",
            _ => "API writes",
        };
        Err(Refused {
            limit: self.limit,
            detail: format!(
                "Rate limit {} exceeded: this token may send {} {what} per second (bursts of {}); retry in {} s.",
                self.limit.key(),
                rate.per_second,
                rate.burst,
                retry_after.as_secs()
            ),
            retry_after: Some(retry_after),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: [u8; 32] = [1; 32];
    const B: [u8; 32] = [2; 32];

    fn buckets(per_second: u32, burst: u32) -> TokenBuckets {
        TokenBuckets::new(Limit::IngestEvents, Some(RateLimit { per_second, burst }))
    }

    #[test]
    fn a_burst_passes_then_the_rate_applies_per_token() {
        let limiter = buckets(2, 4);
        let t0 = Instant::now();
        for _ in 0..4 {
            limiter.take_at(&A, 1, t0).unwrap();
        }
        let refused = limiter.take_at(&A, 1, t0).unwrap_err();
        assert_eq!(refused.limit, Limit::IngestEvents);
        assert_eq!(refused.retry_after, Some(Duration::from_secs(1)), "half a second, rounded up");
        assert!(refused.detail.contains("rate_limits.ingest_events_per_second"), "{}", refused.detail);
        limiter.take_at(&B, 4, t0).expect("another token has its own bucket");
        limiter.take_at(&A, 1, t0 + Duration::from_millis(500)).expect("one token earned in 0.5 s");
        limiter.take_at(&A, 1, t0 + Duration::from_millis(500)).unwrap_err();
    }

    #[test]
    fn a_request_larger_than_the_burst_passes_on_a_full_bucket_and_leaves_a_debt() {
        let limiter = buckets(10, 5);
        let t0 = Instant::now();
        limiter.take_at(&A, 25, t0).expect("a full bucket lets a big batch through");
        let refused = limiter.take_at(&A, 1, t0).unwrap_err();
        assert_eq!(refused.retry_after, Some(Duration::from_secs(3)), "20 in debt + 1, at 10/s: 2.1 s");
        limiter.take_at(&A, 1, t0 + Duration::from_millis(2200)).unwrap();
    }

    #[test]
    fn no_rate_means_no_limit() {
        let limiter = TokenBuckets::new(Limit::ApiWrites, None);
        for _ in 0..10_000 {
            limiter.take(&A, 1_000).unwrap();
        }
        assert_eq!(limiter.len(), 0);
    }

    #[test]
    fn idle_buckets_are_swept() {
        let limiter = buckets(1, 2);
        let t0 = Instant::now();
        limiter.take_at(&A, 1, t0).unwrap();
        limiter.take_at(&B, 2, t0 + Duration::from_secs(59)).unwrap();
        assert_eq!(limiter.len(), 2);
        // At the sweep A is full again (dropped); B spent its burst 1 s ago.
        limiter.take_at(&B, 0, t0 + Duration::from_secs(60)).unwrap();
        assert_eq!(limiter.len(), 1);
    }
}
