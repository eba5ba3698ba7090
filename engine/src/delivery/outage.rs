//! The dispatcher while the store refuses writes. A job whose attempt
//! cannot be recorded stays in the queue; claimed again at once, it would
//! be sent again and again (a storm: hundreds of requests per `webhook-id`
//! in seconds). So such a job stays claimed but pending — held, not
//! rescanned — and the whole dispatcher backs off, exponentially and
//! capped, until the store takes writes again; then the held jobs are let
//! go and each is attempted once more.

use std::time::Duration;

use super::claims::Claimed;
use crate::backoff::Backoff;

/// What the dispatcher's loop does next.
pub(super) enum Gate {
    /// The store refuses writes: wait this long, then look again.
    Wait(Duration),
    /// The store takes writes: these held jobs are released (when
    /// dropped), and the dispatcher goes on.
    Go(Vec<Claimed>),
}

pub(super) struct Outage {
    /// Jobs whose attempt could not be recorded, still claimed.
    held: Vec<Claimed>,
    backoff: Backoff,
}

impl Default for Outage {
    fn default() -> Self {
        Outage { held: Vec::new(), backoff: Backoff::new(Duration::from_millis(100), Duration::from_secs(5)) }
    }
}

impl Outage {
    /// The attempt of a claimed job could not be recorded: the storage
    /// refuses writes. The job stays claimed until the store takes them
    /// again.
    pub(super) fn hold(&mut self, job: Claimed) {
        self.held.push(job);
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
    use std::sync::Arc;

    use tokio::sync::Notify;

    use super::super::claims::InFlight;
    use super::*;
    use crate::store::tests::job;

    fn ids(gate: Gate) -> Vec<u64> {
        match gate {
            Gate::Go(held) => held.iter().map(Claimed::job_id).collect(),
            Gate::Wait(delay) => panic!("waits {delay:?}"),
        }
    }

    fn wait_ms(gate: Gate) -> u128 {
        match gate {
            Gate::Wait(delay) => delay.as_millis(),
            Gate::Go(_) => panic!("goes"),
        }
    }

    #[test]
    fn held_jobs_stay_claimed_until_the_store_is_back_and_the_waits_grow_until_a_record_succeeds() {
        let in_flight = InFlight::new(Arc::new(Notify::new()));
        let claim = |id| {
            let (claimed, _slot) = in_flight.claim(&crate::model::Job { id, ..job(1, 0) });
            claimed
        };
        let mut outage = Outage::default();
        assert_eq!(ids(outage.gate(true)), [0u64; 0]);
        outage.hold(claim(7));
        outage.hold(claim(9));
        let waits: Vec<u128> = (0..3).map(|_| wait_ms(outage.gate(false))).collect();
        assert_eq!(waits, [100, 200, 400]);
        assert_eq!((outage.held(), in_flight.len()), (2, 2), "still claimed");
        assert_eq!(ids(outage.gate(true)), [7, 9], "released once, when the store is back");
        assert_eq!(in_flight.len(), 0, "and no longer claimed");
        assert_eq!(ids(outage.gate(true)), [0u64; 0]);
        assert_eq!(wait_ms(outage.gate(false)), 800, "a relapse waits longer");
        outage.recorded();
        assert_eq!(wait_ms(outage.gate(false)), 100);
    }
}
