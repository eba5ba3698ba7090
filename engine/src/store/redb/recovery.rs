//! The storage watcher: one thread that measures the free space under the
//! data directory a few times a second (for the disk-space guard and the
//! metrics), and that heals the store after a storage failure by
//! re-opening the database, without a restart.
//!
//! A re-open waits until there is room again (the guard's floor, and at
//! least [`REOPEN_HEADROOM`]): redb re-opens a full disk happily, and the
//! next commit would fail at once, so the engine would flap between
//! outages and re-send its deliveries at each. Attempts that fail anyway
//! (an I/O error that is not about space) back off, 100 ms to 5 s.

use std::path::Path;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use super::{RedbStore, StoreError};
use crate::backoff::Backoff;
use crate::store::space::{Space, SpaceFloor};

/// How often free space is measured: a `statvfs(2)`, cheap, but not
/// something to do on every request.
const MEASURE_EVERY: Duration = Duration::from_millis(250);

/// The least free space a re-open waits for, whatever the floor (which
/// may be off): room for the re-open's own repair and the first commits.
pub const REOPEN_HEADROOM: u64 = 1 << 20;

/// Starts the watcher; it ends when the store is dropped.
pub fn watch(store: &Arc<RedbStore>, floor: SpaceFloor) {
    let dir = store.path().parent().unwrap_or(Path::new(".")).to_owned();
    let mut watcher = Watcher {
        store: Arc::downgrade(store),
        floor,
        reopen: Backoff::new(Duration::from_millis(100), Duration::from_secs(5)),
        next_reopen: Instant::now(),
        unmeasurable: false,
    };
    // Once before serving, so the guard holds from the first request.
    watcher.measure(store, &dir);
    let spawned = std::thread::Builder::new().name("wasmhook-storage".into()).spawn(move || {
        loop {
            let Some(store) = watcher.store.upgrade() else { return };
            let space = watcher.measure(&store, &dir);
            if store.health().outage().is_some() {
                watcher.heal(&store, space);
            }
            let wait = match store.health().outage() {
                Some(_) => MEASURE_EVERY.min(watcher.next_reopen.saturating_duration_since(Instant::now())),
                None => MEASURE_EVERY,
            };
            drop(store);
            std::thread::sleep(wait.max(Duration::from_millis(10)));
        }
    });
    if let Err(error) = spawned {
        tracing::error!(%error, "no storage watcher: the store will not heal after a storage failure");
    }
}

struct Watcher {
    store: Weak<RedbStore>,
    floor: SpaceFloor,
    reopen: Backoff,
    next_reopen: Instant,
    /// Whether the last measure failed (logged once).
    unmeasurable: bool,
}

impl Watcher {
    /// Measures the free space and hands the guard's verdict to the store.
    fn measure(&mut self, store: &RedbStore, dir: &Path) -> Option<Space> {
        match Space::of(dir) {
            Ok(space) => {
                self.unmeasurable = false;
                store.health().measured(space, space.below(self.floor));
                Some(space)
            }
            Err(error) => {
                if !std::mem::replace(&mut self.unmeasurable, true) {
                    tracing::warn!(dir = %dir.display(), %error, "cannot measure the free space under the data directory");
                }
                None
            }
        }
    }

    /// Re-opens the store when there is room again and the back-off allows.
    fn heal(&mut self, store: &RedbStore, space: Option<Space>) {
        let room = space.is_none_or(|space| space.free >= self.floor.bytes_on(space.total).max(REOPEN_HEADROOM));
        if !room || Instant::now() < self.next_reopen {
            return;
        }
        match store.recover() {
            Ok(()) => self.reopen.reset(),
            Err(error) => {
                let delay = self.reopen.next_delay();
                tracing::warn!(%error, retry_in_ms = delay.as_millis() as u64, "the store could not be re-opened");
                self.next_reopen = Instant::now() + delay;
            }
        }
    }
}

impl RedbStore {
    /// Re-opens the database after a storage failure and rebuilds the
    /// caches from it: a commit reported as failed may still have reached
    /// the file, and the caches must show what the file holds.
    fn recover(&self) -> Result<(), StoreError> {
        self.db.reopen()?;
        self.tokens.clear();
        self.reload_hooks()?;
        self.db.health.recovered();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::Unavailable;
    use super::*;
    use crate::model::{Role, Scope};

    #[test]
    fn a_reopen_keeps_what_was_committed_and_rebuilds_the_caches() {
        let dir = tempfile::tempdir().unwrap();
        let store = RedbStore::open(dir.path(), crate::store::tests::keyring()).unwrap();
        let hook = store.create_hook(crate::store::tests::new_hook(None), Default::default()).unwrap();
        let token = store.create_token(&[1; 32], "t".into(), Role::Service).unwrap();
        assert_eq!(store.token(&[1; 32]).unwrap(), Some(token.clone()), "cached");
        let in_flight = store.db.begin_read().unwrap();
        store.db.health.failed(&Unavailable::Closed);

        store.recover().unwrap();
        assert!(store.health().outage().is_none());
        // A read transaction begun before the re-open is refused, as the
        // storage refusing, and does not keep the old database open.
        let error = StoreError::from(in_flight.open_table(super::super::tables::HOOKS).unwrap_err());
        assert!(matches!(error.unavailable(), Some(Unavailable::Closed)), "{error:?}");
        assert_eq!(store.hook(&Scope::All, hook.id).unwrap().map(|h| h.id), Some(hook.id));
        assert_eq!(store.token(&[1; 32]).unwrap(), Some(token));
        assert!(store.revoke_token(1).unwrap(), "writes go to the new database");
        assert_eq!(store.token(&[1; 32]).unwrap(), None);
    }
}
