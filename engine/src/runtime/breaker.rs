//! The circuit breaker of a plugin version: after `failures` consecutive
//! calls that trapped, ran out of time or memory, its calls are refused at
//! once for a cool-down rather than burning a CPU on each event. After the
//! cool-down the next call is let through; one more failure opens it again.
//! Activating or uploading a version closes it.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// When a breaker opens and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerConfig {
    /// Consecutive failures that open it; 0 never opens it.
    pub failures: u32,
    pub cool_down: Duration,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        BreakerConfig { failures: 5, cool_down: Duration::from_secs(60) }
    }
}

#[derive(Debug, Default)]
pub(crate) struct Breaker {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    consecutive_failures: u32,
    open_until: Option<Instant>,
}

/// A snapshot of a breaker.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BreakerView {
    pub open: bool,
    pub consecutive_failures: u32,
    /// Milliseconds until calls are let through again.
    pub retry_in_ms: Option<u64>,
}

impl Breaker {
    /// `Err(remaining cool-down, failures)` while the breaker is open.
    pub(crate) fn admit(&self) -> Result<(), (Duration, u32)> {
        let state = self.lock();
        match state.open_until {
            Some(until) if until > Instant::now() => Err((until - Instant::now(), state.consecutive_failures)),
            _ => Ok(()),
        }
    }

    /// Counts a call's outcome: `failed` is a trap, a timeout or a memory
    /// bomb, not an error the plugin chose to return.
    pub(crate) fn record(&self, failed: bool, config: &BreakerConfig) {
        let mut state = self.lock();
        if !failed {
            *state = State::default();
            return;
        }
        state.consecutive_failures = state.consecutive_failures.saturating_add(1);
        if config.failures > 0 && state.consecutive_failures >= config.failures {
            state.open_until = Some(Instant::now() + config.cool_down);
        }
    }

    pub(crate) fn reset(&self) {
        *self.lock() = State::default();
    }

    pub(crate) fn view(&self) -> BreakerView {
        let state = self.lock();
        let remaining = state.open_until.and_then(|until| until.checked_duration_since(Instant::now()));
        BreakerView {
            open: remaining.is_some(),
            consecutive_failures: state.consecutive_failures,
            retry_in_ms: remaining.map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_consecutive_failures_and_closes_on_success_or_reset() {
        let config = BreakerConfig { failures: 2, cool_down: Duration::from_secs(3600) };
        let breaker = Breaker::default();
        breaker.record(true, &config);
        breaker.record(false, &config);
        breaker.record(true, &config);
        assert!(breaker.admit().is_ok(), "a success in between starts the count again");
        breaker.record(true, &config);
        assert_eq!(breaker.admit().map_err(|(_, n)| n), Err(2));
        assert!(breaker.view().open);
        breaker.reset();
        assert!(breaker.admit().is_ok());
    }

    #[test]
    fn after_the_cool_down_one_call_goes_through() {
        let config = BreakerConfig { failures: 1, cool_down: Duration::ZERO };
        let breaker = Breaker::default();
        breaker.record(true, &config);
        assert!(breaker.admit().is_ok());
    }
}
