//! Whether the store takes writes, and why not: an outage (the storage
//! failed a write, until the database is re-opened) or free space below
//! the guard's floor. Each change is logged once, with its reason; its
//! state is a plain [`HealthView`] that the metrics read when scraped (the
//! store knows no exporter); `/readyz` and every refused write say why.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

use super::error::Unavailable;
use super::space::{LowSpace, Space};

/// The store's health, shared by everyone who writes.
pub struct Health {
    /// Where the store is, for the log lines: redb's file, or the
    /// PostgreSQL server and database (never its password).
    location: String,
    /// Read on every write without taking the lock: whether there is no
    /// outage and no shortage of space.
    clear: AtomicBool,
    /// Write transactions the storage failed or that were given up since
    /// the store was opened.
    failed_commits: AtomicU64,
    state: Mutex<State>,
    /// Notified when an outage ends, so the dispatcher resumes at once.
    back: tokio::sync::Notify,
}

#[derive(Default)]
struct State {
    outage: Option<Outage>,
    low_space: Option<LowSpace>,
    /// Free bytes at the latest measure, if one was taken.
    free: Option<u64>,
}

/// The store's health as numbers, for the metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HealthView {
    /// No outage (low space alone does not count).
    pub available: bool,
    pub failed_commits: u64,
    /// Free bytes at the latest measure, if one was taken.
    pub free_bytes: Option<u64>,
    /// Free space is below the floor.
    pub space_low: bool,
}

/// The storage failed: writes are refused until the database is re-opened.
struct Outage {
    since: Instant,
    why: Unavailable,
}

impl Health {
    pub(super) fn new(location: impl Into<String>) -> Health {
        Health {
            location: location.into(),
            clear: AtomicBool::new(true),
            failed_commits: AtomicU64::new(0),
            state: Mutex::default(),
            back: tokio::sync::Notify::new(),
        }
    }

    /// The storage failed with `why`: an outage starts, unless one is on.
    pub(super) fn failed(&self, why: &Unavailable) {
        let mut state = self.lock();
        if state.outage.is_some() {
            return;
        }
        tracing::error!(
            store = %self.location, reason = %why,
            "the store refuses writes: writes answer 503 storage-unavailable and deliveries pause until it is re-opened"
        );
        state.outage = Some(Outage { since: Instant::now(), why: why.clone() });
        self.clear.store(false, Ordering::Release);
    }

    /// The database was re-opened: the outage is over.
    pub(super) fn recovered(&self) {
        let mut state = self.lock();
        let Some(outage) = state.outage.take() else { return };
        tracing::info!(
            store = %self.location, reason = %outage.why, outage_ms = outage.since.elapsed().as_millis() as u64,
            "the store takes writes again"
        );
        self.clear.store(state.low_space.is_none(), Ordering::Release);
        self.back.notify_waiters();
    }

    /// Completes when the current outage ends (taken before checking for
    /// one, so an end in between is not missed once awaited).
    pub fn recovered_notified(&self) -> tokio::sync::futures::Notified<'_> {
        self.back.notified()
    }

    /// The latest measure of the space under the data directory, and the
    /// guard's verdict on it.
    pub(super) fn measured(&self, space: Space, low_space: Option<LowSpace>) {
        let mut state = self.lock();
        state.free = Some(space.free);
        match (&state.low_space, &low_space) {
            (None, Some(low)) => tracing::warn!(
                store = %self.location, free_bytes = low.free, floor_bytes = low.floor,
                "free space is below the floor: ingest and other writes that grow the store answer 503 storage-unavailable"
            ),
            (Some(_), None) => tracing::info!(
                store = %self.location, free_bytes = space.free,
                "free space is back above the floor: writes that grow the store are accepted again"
            ),
            _ => {}
        }
        state.low_space = low_space;
        self.clear.store(state.outage.is_none() && state.low_space.is_none(), Ordering::Release);
    }

    /// Why the store takes no writes now, if it does not.
    pub fn outage(&self) -> Option<Unavailable> {
        if self.clear.load(Ordering::Acquire) {
            return None;
        }
        self.lock().outage.as_ref().map(|outage| outage.why.clone())
    }

    /// Why a write that grows the store is refused now, if it is: an
    /// outage, or free space below the floor.
    pub fn refusal(&self) -> Option<Unavailable> {
        if self.clear.load(Ordering::Acquire) {
            return None;
        }
        let state = self.lock();
        match (&state.outage, state.low_space) {
            (Some(outage), _) => Some(outage.why.clone()),
            (None, Some(low)) => Some(low.into()),
            (None, None) => None,
        }
    }

    /// A write transaction failed or was given up.
    pub(super) fn commit_failed(&self) {
        self.failed_commits.fetch_add(1, Ordering::Relaxed);
    }

    /// The health now, as numbers.
    pub fn view(&self) -> HealthView {
        let state = self.lock();
        HealthView {
            available: state.outage.is_none(),
            failed_commits: self.failed_commits.load(Ordering::Relaxed),
            free_bytes: state.free,
            space_low: state.low_space.is_some(),
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
    fn an_outage_refuses_every_write_and_low_space_only_growth() {
        let health = Health::new("store.redb");
        assert!(health.outage().is_none() && health.refusal().is_none());

        let low = LowSpace { free: 1, floor: 2 };
        health.measured(Space { free: 1, total: 100 }, Some(low));
        assert!(health.outage().is_none(), "deliveries and deletions still go");
        assert!(matches!(health.refusal(), Some(Unavailable::LowSpace(l)) if l == low));

        health.failed(&Unavailable::Closed);
        health.failed(&Unavailable::LowSpace(low)); // an outage on: the first reason stays
        assert!(matches!(health.outage(), Some(Unavailable::Closed)));
        assert!(matches!(health.refusal(), Some(Unavailable::Closed)), "the outage is the reason given");

        health.measured(Space { free: 50, total: 100 }, None);
        assert!(health.outage().is_some(), "space alone does not end an outage");
        health.recovered();
        assert!(health.outage().is_none() && health.refusal().is_none());
    }
}
