//! This engine's traffic over the last hour, minute by minute: events taken
//! by the ingest, delivery attempts made, and how many of them succeeded or
//! failed (`GET /v1/admin/activity`, the console's chart).
//!
//! Kept in memory, in a ring of [`MINUTES`] one-minute slots keyed by the
//! minute's number (minutes since the Unix epoch): minute `m` lives in slot
//! `m % MINUTES`. Each counter carries the minute it counts in its upper 32
//! bits, so a slot last written an hour or more ago reads as zero and is
//! restarted by its next write, without a lock or a sweeping task: the hot
//! paths (every ingested event, every attempt) pay one compare-and-swap.
//!
//! The counts are this engine's, since it started: they are not stored.
//! With several engines on one PostgreSQL database each reports its own
//! traffic; the whole is their sum. They are counted where the Prometheus
//! series are (`crate::metrics::event_ingested`,
//! `crate::metrics::delivery_attempted`), so the two agree: an event is
//! counted once the ingest decided its outcome (whatever it is, follow-up
//! events included; before the commit, so the events of a request refused
//! after they were prepared, by an idempotency conflict or a failed commit,
//! still count; an id already stored, answered its first record, does
//! not), an attempt once it is recorded; an attempt that ends without a
//! request (inactive hook, cancelled by its transformer) is not one.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::time::Time;

/// How many minutes are kept: one hour.
pub const MINUTES: usize = 60;

/// Counts above this in one minute and one slot stay at it (the lower 32
/// bits hold the count).
const MAX_COUNT: u64 = u32::MAX as u64;

/// The process's counts: one engine runs in one process (tests that start
/// several engines start several processes).
static ACTIVITY: Activity = Activity::new();

/// The activity of this engine.
pub fn global() -> &'static Activity {
    &ACTIVITY
}

/// `events` were taken by the ingest now.
pub fn events_ingested(events: u64) {
    ACTIVITY.count(Counter::Events, minute_now(), events);
}

/// A delivery attempt was made now and recorded.
pub fn delivery_attempted(succeeded: bool) {
    let minute = minute_now();
    ACTIVITY.count(Counter::Deliveries, minute, 1);
    ACTIVITY.count(if succeeded { Counter::Delivered } else { Counter::Failed }, minute, 1);
}

/// The number of the current minute.
pub fn minute_now() -> u64 {
    Time::now().as_second().max(0) as u64 / 60
}

/// What one minute counts.
#[derive(Debug, Clone, Copy)]
enum Counter {
    Events,
    Deliveries,
    Delivered,
    Failed,
}

/// One minute's traffic.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Minute {
    /// Minutes since the Unix epoch.
    pub minute: u64,
    pub events: u64,
    pub deliveries: u64,
    pub delivered: u64,
    pub failed: u64,
}

impl Minute {
    /// When the minute started.
    pub fn start(&self) -> Time {
        Time::from_second((self.minute * 60) as i64)
    }
}

/// The ring of the last [`MINUTES`] minutes.
pub struct Activity {
    /// Per slot: events, deliveries, delivered, failed; each `minute << 32 | count`.
    slots: [[AtomicU64; 4]; MINUTES],
}

impl Default for Activity {
    fn default() -> Self {
        Activity::new()
    }
}

impl Activity {
    pub const fn new() -> Activity {
        Activity { slots: [const { [const { AtomicU64::new(0) }; 4] }; MINUTES] }
    }

    /// Adds `n` to `counter` in `minute`, restarting the slot's counter if
    /// it held an older minute. A minute older than the slot's is dropped
    /// (a write that raced past the hour: it would only erase newer counts).
    fn count(&self, counter: Counter, minute: u64, n: u64) {
        let cell = &self.slots[minute as usize % MINUTES][counter as usize];
        let tag = minute & u64::from(u32::MAX);
        let _ = cell.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |value| {
            let (held, count) = (value >> 32, value & MAX_COUNT);
            match held.cmp(&tag) {
                std::cmp::Ordering::Equal => Some(tag << 32 | (count + n).min(MAX_COUNT)),
                std::cmp::Ordering::Less => Some(tag << 32 | n.min(MAX_COUNT)),
                std::cmp::Ordering::Greater => None,
            }
        });
    }

    /// What `counter` holds for `minute`: zero if its slot holds another.
    fn read(&self, counter: Counter, minute: u64) -> u64 {
        let value = self.slots[minute as usize % MINUTES][counter as usize].load(Ordering::Relaxed);
        if value >> 32 == minute & u64::from(u32::MAX) { value & MAX_COUNT } else { 0 }
    }

    /// The [`MINUTES`] minutes up to and including `now` (a minute number),
    /// oldest first.
    pub fn last_hour(&self, now: u64) -> Vec<Minute> {
        let first = now.saturating_sub(MINUTES as u64 - 1);
        (first..=now)
            .map(|minute| Minute {
                minute,
                events: self.read(Counter::Events, minute),
                deliveries: self.read(Counter::Deliveries, minute),
                delivered: self.read(Counter::Delivered, minute),
                failed: self.read(Counter::Failed, minute),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2025-11-24T16:00:00Z, a minute number.
    const NOW: u64 = 29_400_000;

    #[test]
    fn counts_land_in_their_minute_and_the_hour_reads_oldest_first() {
        let activity = Activity::new();
        activity.count(Counter::Events, NOW, 3);
        activity.count(Counter::Events, NOW, 2);
        activity.count(Counter::Deliveries, NOW, 1);
        activity.count(Counter::Delivered, NOW, 1);
        activity.count(Counter::Failed, NOW - 59, 4);
        let hour = activity.last_hour(NOW);
        assert_eq!(hour.len(), MINUTES);
        assert_eq!(hour[0], Minute { minute: NOW - 59, failed: 4, ..Minute::default() });
        assert_eq!(hour[59], Minute { minute: NOW, events: 5, deliveries: 1, delivered: 1, failed: 0 });
        assert!(hour[1..59].iter().all(|m| (m.events, m.deliveries, m.delivered, m.failed) == (0, 0, 0, 0)));
        assert!(hour.windows(2).all(|w| w[1].minute == w[0].minute + 1));
    }

    #[test]
    fn a_slot_from_an_hour_ago_reads_as_zero_and_restarts() {
        let activity = Activity::new();
        activity.count(Counter::Events, NOW - 60, 7);
        // Same slot, an hour later: the old minute is not read as this one.
        assert_eq!(activity.last_hour(NOW)[59].events, 0);
        assert_eq!(activity.last_hour(NOW - 1)[0].events, 7, "still in the hour before");
        activity.count(Counter::Events, NOW, 1);
        assert_eq!(activity.last_hour(NOW)[59].events, 1, "restarted, not 7 + 1");
        // A late write for the old minute does not erase the new one.
        activity.count(Counter::Events, NOW - 60, 5);
        assert_eq!(activity.last_hour(NOW)[59].events, 1);
    }

    #[test]
    fn counts_from_many_threads_add_up() {
        let activity = Activity::new();
        std::thread::scope(|scope| {
            for _ in 0..4 {
                scope.spawn(|| (0..10_000).for_each(|_| activity.count(Counter::Deliveries, NOW, 1)));
            }
        });
        assert_eq!(activity.last_hour(NOW)[59].deliveries, 40_000);
    }

    #[test]
    fn minutes_start_on_the_minute() {
        let minute = Minute { minute: NOW, ..Minute::default() };
        assert_eq!(minute.start().as_second(), NOW as i64 * 60);
        assert_eq!(minute.start().to_string(), "2025-11-24T16:00:00Z");
    }
}
