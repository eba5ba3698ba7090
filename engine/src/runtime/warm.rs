//! Idle plugin instances kept for reuse.
//!
//! Instantiating a component into a fresh store costs several times what a
//! typical serializer call does, so an instance that finished a call cleanly
//! is kept and reused, but only for the same plugin version **and the same
//! academy**: whatever a call leaves in guest memory (globals, heap) can only
//! be seen by later events of the tenant that produced it. An instance that
//! trapped, ran out of time or hit its memory cap is dropped, never reused,
//! and so is one whose linear memory grew past [`MAX_WARM_MEMORY`].

use std::collections::HashMap;
use std::sync::Mutex;

use wasmtime::Store;

use super::plugin::Digest;
use super::state::State;

/// The largest linear memory an idle instance may hold on to. The bundled
/// serializers' instances have 1.06 MiB (their stack and data) and touch
/// about 70 KiB of it; an instance whose heap grew past this bound is
/// dropped after its call rather than kept, so the idle instances of a pool
/// hold at most 1,024 × 2 MiB at the default count (the earlier default,
/// 64 instances under the 64 MiB memory cap, allowed 4 GiB).
pub(crate) const MAX_WARM_MEMORY: u64 = 2 << 20;

/// Which instances may serve a call: same plugin version, same academy.
pub(crate) type WarmKey = (Digest, Option<String>);

/// An instance with the store it lives in.
pub(crate) struct Warm<I> {
    pub(crate) store: Store<State>,
    pub(crate) instance: I,
}

pub(crate) struct WarmPool<I> {
    idle: Mutex<Idle<I>>,
    max_idle: usize,
}

/// The idle instances by key (no key without one) and how many in all.
struct Idle<I> {
    by_key: HashMap<WarmKey, Vec<Warm<I>>>,
    count: usize,
}

impl<I> WarmPool<I> {
    /// A pool keeping at most `max_idle` instances (each holds a slot of the
    /// instance pool and its resident memory); 0 disables reuse.
    pub(crate) fn new(max_idle: usize) -> Self {
        WarmPool { idle: Mutex::new(Idle { by_key: HashMap::new(), count: 0 }), max_idle }
    }

    pub(crate) fn take(&self, key: &WarmKey) -> Option<Warm<I>> {
        self.lock().take(key)
    }

    /// Keeps `warm` for the next call with `key`. When the pool is full, an
    /// idle instance of another key makes room, so a busy academy does not
    /// keep others cold for ever. An instance whose memory grew past
    /// [`MAX_WARM_MEMORY`] is dropped instead.
    pub(crate) fn put(&self, key: WarmKey, warm: Warm<I>) {
        if self.max_idle == 0 || warm.store.data().memory.peak > MAX_WARM_MEMORY {
            return;
        }
        let evicted = {
            let mut idle = self.lock();
            let evicted = if idle.count >= self.max_idle { idle.evict_one() } else { None };
            idle.by_key.entry(key).or_default().push(warm);
            idle.count += 1;
            evicted
        };
        // Dropping a store releases its slot: do it outside the lock.
        drop(evicted);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Idle<I>> {
        self.idle.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl<I> Idle<I> {
    fn take(&mut self, key: &WarmKey) -> Option<Warm<I>> {
        let instances = self.by_key.get_mut(key)?;
        let warm = instances.pop();
        if instances.is_empty() {
            self.by_key.remove(key);
        }
        self.count -= usize::from(warm.is_some());
        warm
    }

    fn evict_one(&mut self) -> Option<Warm<I>> {
        let key = self.by_key.keys().next()?.clone();
        self.take(&key)
    }
}

#[cfg(test)]
mod tests {
    use wasmtime::Engine;

    use super::*;
    use crate::runtime::Limits;

    fn warm(engine: &Engine, mark: u32) -> Warm<u32> {
        Warm { store: Store::new(engine, State::new("p".into(), &Limits::default())), instance: mark }
    }

    fn key(academy: &str) -> WarmKey {
        (Digest::of(b"plugin"), Some(academy.to_owned()))
    }

    #[test]
    fn an_instance_serves_its_own_academy_and_the_pool_stays_within_its_bound() {
        let engine = Engine::default();
        let pool = WarmPool::new(2);
        pool.put(key("a"), warm(&engine, 1));
        assert!(pool.take(&key("b")).is_none(), "never another academy's instance");
        assert_eq!(pool.take(&key("a")).map(|w| w.instance), Some(1));
        assert!(pool.take(&key("a")).is_none(), "taken once");

        for (n, academy) in ["a", "b", "c"].into_iter().enumerate() {
            pool.put(key(academy), warm(&engine, n as u32));
        }
        let kept = ["a", "b", "c"].iter().filter_map(|academy| pool.take(&key(academy))).count();
        assert_eq!(kept, 2, "the third made room by evicting one");
        assert_eq!(pool.lock().count, 0);
        assert!(pool.lock().by_key.is_empty(), "no key is left without an instance");
    }

    #[test]
    fn an_instance_that_grew_past_the_bound_is_not_kept() {
        let engine = Engine::default();
        let pool = WarmPool::new(2);
        let mut big = warm(&engine, 1);
        big.store.data_mut().memory.peak = MAX_WARM_MEMORY + 1;
        pool.put(key("a"), big);
        assert!(pool.take(&key("a")).is_none());
        let mut within = warm(&engine, 2);
        within.store.data_mut().memory.peak = MAX_WARM_MEMORY;
        pool.put(key("a"), within);
        assert_eq!(pool.take(&key("a")).map(|w| w.instance), Some(2));
    }

    #[test]
    fn no_reuse_without_room() {
        let engine = Engine::default();
        let pool = WarmPool::new(0);
        pool.put(key("a"), warm(&engine, 1));
        assert!(pool.take(&key("a")).is_none());
    }
}
