//! Idle plugin instances kept for reuse.
//!
//! Instantiating a component into a fresh store costs several times what a
//! typical serializer call does, so an instance that finished a call cleanly
//! is kept and reused, but only for the same plugin version **and the same
//! academy**: whatever a call leaves in guest memory (globals, heap) can only
//! be seen by later events of the tenant that produced it. An instance that
//! trapped, ran out of time or hit its memory cap is dropped, never reused.

use std::collections::HashMap;
use std::sync::Mutex;

use wasmtime::Store;

use super::plugin::Digest;
use super::state::State;

/// Which instances may serve a call: same plugin version, same academy.
pub(crate) type WarmKey = (Digest, Option<String>);

/// An instance with the store it lives in.
pub(crate) struct Warm<I> {
    pub(crate) store: Store<State>,
    pub(crate) instance: I,
}

pub(crate) struct WarmPool<I> {
    idle: Mutex<HashMap<WarmKey, Vec<Warm<I>>>>,
    max_idle: usize,
}

impl<I> WarmPool<I> {
    /// A pool keeping at most `max_idle` instances (each holds a slot of the
    /// instance pool and its resident memory); 0 disables reuse.
    pub(crate) fn new(max_idle: usize) -> Self {
        WarmPool { idle: Mutex::default(), max_idle }
    }

    pub(crate) fn take(&self, key: &WarmKey) -> Option<Warm<I>> {
        self.lock().get_mut(key)?.pop()
    }

    /// Keeps `warm` for the next call with `key`. When the pool is full, an
    /// idle instance of another key makes room, so a busy academy does not
    /// keep others cold for ever.
    pub(crate) fn put(&self, key: WarmKey, warm: Warm<I>) {
        if self.max_idle == 0 {
            return;
        }
        let evicted = {
            let mut idle = self.lock();
            let count: usize = idle.values().map(Vec::len).sum();
            let evicted = if count >= self.max_idle { evict_one(&mut idle) } else { None };
            idle.entry(key).or_default().push(warm);
            evicted
        };
        // Dropping a store releases its slot: do it outside the lock.
        drop(evicted);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<WarmKey, Vec<Warm<I>>>> {
        self.idle.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn evict_one<I>(idle: &mut HashMap<WarmKey, Vec<Warm<I>>>) -> Option<Warm<I>> {
    let key = idle.iter().find(|(_, warm)| !warm.is_empty()).map(|(key, _)| key.clone())?;
    let warm = idle.get_mut(&key)?.pop();
    if idle.get(&key).is_some_and(Vec::is_empty) {
        idle.remove(&key);
    }
    warm
}
