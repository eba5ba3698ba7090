//! When to try a failed delivery again: exponential backoff from a schedule
//! (seed 004: 1 min, 5 min, 15 min, 1 h after the immediate first attempt,
//! then give up), with jitter so retries of many deliveries spread out, and
//! the receiver's `Retry-After` honoured within bounds.

use std::time::Duration;

/// The retry schedule and its bounds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Delay before retry n+1; its length is the default number of retries.
    pub schedule: Vec<Duration>,
    /// Longest `Retry-After` obeyed.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        let minutes = |m: u64| Duration::from_secs(60 * m);
        RetryPolicy { schedule: vec![minutes(1), minutes(5), minutes(15), minutes(60)], max_retry_after: minutes(60) }
    }
}

impl RetryPolicy {
    /// The delay before the next attempt, after `attempts` attempts failed,
    /// or `None` when the delivery has used its `max_retries`.
    pub fn next_delay(
        &self,
        attempts: u32,
        max_retries: Option<u32>,
        retry_after: Option<Duration>,
    ) -> Option<Duration> {
        let max_retries = max_retries.map_or(self.schedule.len(), |m| m as usize);
        let retry = attempts as usize; // retries made so far + 1
        if retry > max_retries || self.schedule.is_empty() {
            return None;
        }
        let base = self.schedule[(retry - 1).min(self.schedule.len() - 1)];
        let delay = jitter(base);
        Some(match retry_after {
            Some(asked) => delay.max(asked.min(self.max_retry_after)),
            None => delay,
        })
    }
}

/// `delay` ± 10 %, so deliveries that failed together do not retry together.
fn jitter(delay: Duration) -> Duration {
    let mut byte = [0u8; 1];
    let _ = getrandom::fill(&mut byte);
    let factor = 0.9 + 0.2 * (f64::from(byte[0]) / 255.0);
    delay.mul_f64(factor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_the_schedule_then_gives_up() {
        let policy = RetryPolicy::default();
        let secs = |attempts| policy.next_delay(attempts, None, None).map(|d| d.as_secs());
        for (attempts, base) in [(1, 60), (2, 300), (3, 900), (4, 3600)] {
            let delay = secs(attempts).unwrap();
            assert!((base * 9 / 10..=base * 11 / 10).contains(&delay), "{attempts}: {delay}");
        }
        assert_eq!(secs(5), None);
        assert_eq!(policy.next_delay(2, Some(1), None), None, "per-hook max_retries");
        assert_eq!(policy.next_delay(1, Some(0), None), None);
    }

    #[test]
    fn retry_after_is_honoured_within_bounds() {
        let policy = RetryPolicy { schedule: vec![Duration::from_millis(10)], max_retry_after: Duration::from_secs(5) };
        assert_eq!(policy.next_delay(1, None, Some(Duration::from_secs(2))), Some(Duration::from_secs(2)));
        assert_eq!(policy.next_delay(1, None, Some(Duration::from_secs(999))), Some(Duration::from_secs(5)));
    }
}
