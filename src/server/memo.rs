//! Values computed at most once per key: the first caller computes, callers
//! for the same key meanwhile wait for it (on their blocking threads), and
//! a failed computation is not kept, so the next caller tries again. The
//! server keeps its per-zoom colour spans and histograms here.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// One slot per key; a slot's lock is held while its value is computed.
pub(crate) struct Memo<K, V> {
    slots: Mutex<HashMap<K, Arc<Mutex<Option<V>>>>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl<K: Eq + Hash + Clone, V: Clone> Memo<K, V> {
    pub(crate) fn new() -> Self {
        Memo {
            slots: Mutex::new(HashMap::new()),
        }
    }

    /// The value for `key`, computing it with `f` unless it is known; a
    /// caller for a key being computed waits for that computation.
    pub(crate) fn get_or_try<E>(&self, key: &K, f: impl FnOnce() -> Result<V, E>) -> Result<V, E> {
        let slot = lock(&self.slots).entry(key.clone()).or_default().clone();
        let mut value = lock(&slot);
        if let Some(v) = &*value {
            return Ok(v.clone());
        }
        let v = f()?;
        *value = Some(v.clone());
        Ok(v)
    }

    /// The value for `key` if it is known now (never waits).
    pub(crate) fn known(&self, key: &K) -> Option<V> {
        let slot = lock(&self.slots).get(key)?.clone();
        let value = slot.try_lock().ok()?;
        value.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn computes_once_and_forgets_failures() {
        let memo: Memo<u8, u32> = Memo::new();
        assert_eq!(memo.get_or_try(&1, || Err::<u32, &str>("no")), Err("no"));
        assert_eq!(memo.known(&1), None);
        assert_eq!(memo.get_or_try(&1, || Ok::<_, ()>(7)), Ok(7));
        assert_eq!(memo.get_or_try(&1, || Ok::<_, ()>(8)), Ok(7));
        assert_eq!(memo.known(&1), Some(7));
    }

    #[test]
    fn concurrent_callers_wait_for_one_computation() {
        let memo: Arc<Memo<u8, u32>> = Arc::new(Memo::new());
        let calls = Arc::new(std::sync::atomic::AtomicU32::new(0));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let (memo, calls) = (memo.clone(), calls.clone());
                std::thread::spawn(move || {
                    memo.get_or_try(&3, || {
                        calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        std::thread::sleep(std::time::Duration::from_millis(50));
                        Ok::<_, ()>(42)
                    })
                })
            })
            .collect();
        for t in threads {
            assert_eq!(t.join().expect("join"), Ok(42));
        }
        assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 1);
    }
}
