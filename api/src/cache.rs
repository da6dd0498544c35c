//! Hot reads cached in memory (moka) and invalidated by events.
//!
//! The live task invalidates an entry only once the read models include the
//! event, so a refill reads fresh rows. One race is left: a load that read the
//! table *before* the event and finishes *after* the invalidation would put a
//! stale value back. Each cache therefore has a generation that invalidation
//! bumps under a write lock; a load stores its value only if the generation
//! it started with is still current.
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::RwLock;
use std::time::Duration;

use moka::sync::Cache;

pub struct Cached<K, V> {
    cache: Cache<K, V>,
    generation: AtomicU64,
    lock: RwLock<()>,
}

impl<K, V> Cached<K, V>
where
    K: Hash + Eq + Send + Sync + Clone + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// `ttl` bounds how stale an entry can be if an invalidation is ever missed.
    pub fn new(capacity: u64, ttl: Duration) -> Self {
        Cached {
            cache: Cache::builder().max_capacity(capacity).time_to_live(ttl).build(),
            generation: AtomicU64::new(0),
            lock: RwLock::new(()),
        }
    }

    pub fn get(&self, key: &K) -> Option<V> {
        self.cache.get(key)
    }

    /// The cached value, or `load`'s (stored unless an invalidation ran meanwhile).
    pub async fn get_or_load<E, F, Fut>(&self, key: K, load: F) -> Result<V, E>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<V, E>>,
    {
        if let Some(v) = self.cache.get(&key) {
            return Ok(v);
        }
        let started = self.generation.load(Ordering::SeqCst);
        let value = load().await?;
        let _shared = self.lock.read().unwrap_or_else(|p| p.into_inner());
        if self.generation.load(Ordering::SeqCst) == started {
            self.cache.insert(key, value.clone());
        }
        Ok(value)
    }

    pub fn invalidate(&self, key: &K) {
        let _exclusive = self.lock.write().unwrap_or_else(|p| p.into_inner());
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.cache.invalidate(key);
    }

    pub fn invalidate_all(&self) {
        let _exclusive = self.lock.write().unwrap_or_else(|p| p.into_inner());
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.cache.invalidate_all();
    }

    pub fn entry_count(&self) -> u64 {
        self.cache.run_pending_tasks();
        self.cache.entry_count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_value_loaded_across_an_invalidation_is_not_kept() {
        let c: Cached<u8, u32> = Cached::new(10, Duration::from_secs(60));
        let v: Result<u32, ()> = c
            .get_or_load(1, || async {
                // The event lands while this load is reading the old row.
                c.invalidate(&1);
                Ok(7)
            })
            .await;
        assert_eq!(v, Ok(7), "the caller still gets what it read");
        assert_eq!(c.get(&1), None, "but it is not cached");
        let v: Result<u32, ()> = c.get_or_load(1, || async { Ok(8) }).await;
        assert_eq!(v, Ok(8));
        assert_eq!(c.get(&1), Some(8));
    }

    #[tokio::test]
    async fn errors_are_not_cached_and_invalidate_all_clears() {
        let c: Cached<u8, u32> = Cached::new(10, Duration::from_secs(60));
        let e: Result<u32, &str> = c.get_or_load(1, || async { Err("db down") }).await;
        assert!(e.is_err());
        assert_eq!(c.get(&1), None);
        let _: Result<u32, ()> = c.get_or_load(1, || async { Ok(1) }).await;
        let _: Result<u32, ()> = c.get_or_load(2, || async { Ok(2) }).await;
        assert_eq!(c.entry_count(), 2);
        c.invalidate_all();
        assert_eq!(c.get(&1), None);
        assert_eq!(c.get(&2), None);
    }
}
