//! Exponential back-off, capped: how long to wait before trying again
//! something that keeps failing for a cause outside the engine (the store
//! refusing writes), so that the retries cost little and do not hammer it.

use std::time::Duration;

/// The delays of consecutive waits: `first`, twice that, four times… up to
/// `max`; back to `first` after [`reset`](Backoff::reset).
#[derive(Debug, Clone)]
pub struct Backoff {
    first: Duration,
    max: Duration,
    /// Waits since the last reset.
    waits: u32,
}

impl Backoff {
    pub const fn new(first: Duration, max: Duration) -> Backoff {
        Backoff { first, max, waits: 0 }
    }

    /// The next delay to wait, each one twice the previous, capped.
    pub fn next_delay(&mut self) -> Duration {
        let delay = self.first.saturating_mul(1 << self.waits.min(16)).min(self.max);
        self.waits = self.waits.saturating_add(1);
        delay
    }

    /// What failed works again: the next wait is the first one.
    pub fn reset(&mut self) {
        self.waits = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_up_to_the_cap_and_start_over_after_a_reset() {
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
        let delays: Vec<u64> = (0..9).map(|_| backoff.next_delay().as_millis() as u64).collect();
        assert_eq!(delays, [100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000]);
        for _ in 0..100 {
            assert_eq!(backoff.next_delay(), Duration::from_secs(5), "no overflow however long it lasts");
        }
        backoff.reset();
        assert_eq!(backoff.next_delay(), Duration::from_millis(100));
    }
}
