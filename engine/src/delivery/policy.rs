//! What an attempt decides, as plain functions of the model: whether it
//! succeeded, whether and when the delivery is tried again, and the rule
//! under which it deactivates its hook. The store records these decisions;
//! the one rule that needs the hook's stats as they are at commit time
//! (`model::HookStats::count`) it applies inside its transaction.

use std::time::Duration;

use super::RetryPolicy;
use crate::model::{Deactivation, HookSettings, NextStep};

/// What the receiver answered, as far as the decision goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Answer {
    /// `None`: no answer (connection refused, timeout, …).
    pub status: Option<u16>,
    /// The receiver's `Retry-After`, in seconds.
    pub retry_after: Option<Duration>,
}

impl Answer {
    /// A 2xx answer delivers; anything else fails.
    pub fn succeeded(&self) -> bool {
        self.status.is_some_and(|status| (200..300).contains(&status))
    }

    /// When a failure deactivates the hook: `410 Gone` at once, or the
    /// hook's own threshold of consecutive failures.
    pub fn deactivation(&self, hook: &HookSettings) -> Deactivation {
        Deactivation { gone: self.status == Some(410), after_failures: hook.auto_disable_after_failures }
    }

    /// What follows attempt number `attempt` (1 for the first) made at
    /// `now_ms`: done after a success or once the hook's `max_retries` (or
    /// the schedule's length) are used, else a retry after the schedule's
    /// delay, jittered, or the receiver's `Retry-After` within the cap.
    pub fn next_step(&self, retry: &RetryPolicy, hook: &HookSettings, attempt: u32, now_ms: u64) -> NextStep {
        if self.succeeded() {
            return NextStep::Finish;
        }
        retry
            .next_delay(attempt, hook.max_retries, self.retry_after)
            .map_or(NextStep::Finish, |delay| NextStep::Retry { due_ms: now_ms + delay.as_millis() as u64 })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::tests::new_hook;

    const NOW: u64 = 1_000_000;

    fn failed(status: Option<u16>) -> Answer {
        Answer { status, retry_after: None }
    }

    fn retry_in_ms(step: NextStep) -> Option<u64> {
        match step {
            NextStep::Retry { due_ms } => Some(due_ms - NOW),
            NextStep::Finish => None,
        }
    }

    #[test]
    fn failures_follow_the_schedule_within_the_jitter_then_finish() {
        let (retry, hook) = (RetryPolicy::default(), new_hook(None).settings);
        for (attempt, base_s) in [(1, 60), (2, 300), (3, 900), (4, 3600)] {
            let delay = retry_in_ms(failed(Some(500)).next_step(&retry, &hook, attempt, NOW)).unwrap();
            assert!((base_s * 900..=base_s * 1100).contains(&delay), "attempt {attempt}: {delay} ms");
        }
        assert_eq!(failed(None).next_step(&retry, &hook, 5, NOW), NextStep::Finish, "out of retries");
    }

    #[test]
    fn a_success_finishes_and_max_retries_caps_the_schedule() {
        let retry = RetryPolicy::default();
        let mut hook = new_hook(None).settings;
        let ok = Answer { status: Some(204), retry_after: None };
        assert!(ok.succeeded());
        assert_eq!(ok.next_step(&retry, &hook, 1, NOW), NextStep::Finish);
        hook.max_retries = Some(1);
        assert!(retry_in_ms(failed(Some(500)).next_step(&retry, &hook, 1, NOW)).is_some());
        assert_eq!(failed(Some(500)).next_step(&retry, &hook, 2, NOW), NextStep::Finish);
        hook.max_retries = Some(0);
        assert_eq!(failed(Some(500)).next_step(&retry, &hook, 1, NOW), NextStep::Finish, "no retry at all");
    }

    #[test]
    fn retry_after_is_obeyed_up_to_the_cap_but_never_shortens_the_schedule() {
        let retry = RetryPolicy { schedule: vec![Duration::from_secs(10)], max_retry_after: Duration::from_secs(60) };
        let hook = new_hook(None).settings;
        let asking = |secs| Answer { status: Some(429), retry_after: Some(Duration::from_secs(secs)) };
        assert_eq!(retry_in_ms(asking(30).next_step(&retry, &hook, 1, NOW)), Some(30_000));
        assert_eq!(retry_in_ms(asking(3600).next_step(&retry, &hook, 1, NOW)), Some(60_000), "capped");
        let short = retry_in_ms(asking(1).next_step(&retry, &hook, 1, NOW)).unwrap();
        assert!((9_000..=11_000).contains(&short), "the schedule's delay stands: {short}");
    }

    #[test]
    fn gone_deactivates_at_once_other_failures_by_the_hook_s_threshold() {
        let mut hook = new_hook(None).settings;
        hook.auto_disable_after_failures = Some(5);
        assert_eq!(failed(Some(410)).deactivation(&hook), Deactivation { gone: true, after_failures: Some(5) });
        assert_eq!(failed(Some(500)).deactivation(&hook), Deactivation { gone: false, after_failures: Some(5) });
        assert!(!failed(Some(301)).succeeded() && !failed(None).succeeded());
    }
}
