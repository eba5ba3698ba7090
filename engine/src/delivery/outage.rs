//! The dispatcher while the store refuses writes. A job whose attempt
//! cannot be recorded stays in the queue; claimed again at once, it would
//! be sent again and again (a storm: hundreds of requests per `webhook-id`
//! in seconds). So such a job stays claimed but pending — held, not
//! rescanned — and the whole dispatcher backs off, exponentially and
//! capped, until the store takes writes again; then the held jobs are let
//! go and each is attempted once more.

use std::time::Duration;

use crate::backoff::Backoff;

/// What the dispatcher's loop does next.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Gate {
    /// The store refuses writes: wait this long, then look again.
    Wait(Duration),
    /// The store takes writes: release these held jobs, and go on.
    Go(Vec<u64>),
}

pub(super) struct Outage {
    /// Jobs whose attempt could not be recorded.
    held: Vec<u64>,
    backoff: Backoff,
}

impl Default for Outage {
    fn default() -> Self {
        Outage { held: Vec::new(), backoff: Backoff::new(Duration::from_millis(100), Duration::from_secs(5)) }
    }
}

impl Outage {
    /// The attempt of job `id` could not be recorded: the storage refuses
    /// writes. The job stays claimed until the store takes them again.
    pub(super) fn hold(&mut self, id: u64) {
        self.held.push(id);
    }

    /// An attempt was recorded: the store works.
    pub(super) fn recorded(&mut self) {
        self.backoff.reset();
    }

    /// Before claiming jobs: whether the store takes writes (`writable`).
    pub(super) fn gate(&mut self, writable: bool) -> Gate {
        if writable { Gate::Go(std::mem::take(&mut self.held)) } else { Gate::Wait(self.backoff.next_delay()) }
    }

    /// Jobs held now (claimed, but no attempt running).
    pub(super) fn held(&self) -> usize {
        self.held.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn held_jobs_wait_for_the_store_and_the_waits_grow_until_a_record_succeeds() {
        let mut outage = Outage::default();
        assert_eq!(outage.gate(true), Gate::Go(vec![]));
        outage.hold(7);
        outage.hold(9);
        let waits: Vec<Gate> = (0..3).map(|_| outage.gate(false)).collect();
        assert_eq!(waits, [100, 200, 400].map(|ms| Gate::Wait(Duration::from_millis(ms))));
        assert_eq!(outage.held(), 2);
        assert_eq!(outage.gate(true), Gate::Go(vec![7, 9]), "released once, when the store is back");
        assert_eq!(outage.gate(true), Gate::Go(vec![]));
        assert_eq!(outage.gate(false), Gate::Wait(Duration::from_millis(800)), "a relapse waits longer");
        outage.recorded();
        assert_eq!(outage.gate(false), Gate::Wait(Duration::from_millis(100)));
    }
}
