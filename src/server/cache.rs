//! A least-recently-used cache of encoded tiles, bounded by their bytes.
//!
//! An empty value stands for an empty tile (answered 204) and is charged a
//! small fixed cost so that many of them stay bounded too.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// Bytes charged per entry on top of its value (key, bookkeeping).
const ENTRY_OVERHEAD: usize = 128;

/// Encoded tiles by key, evicting the least recently used past a byte cap.
/// An encoded tile as the cache holds it: the bytes (shared with every
/// response, never copied) and the strong ETag computed once, when the tile
/// entered the cache. Empty bytes: a tile without points (204).
#[derive(Debug, Clone)]
pub struct CachedTile {
    pub bytes: bytes::Bytes,
    pub etag: Arc<str>,
}

impl CachedTile {
    pub fn new(bytes: Vec<u8>) -> CachedTile {
        let etag = super::etag(&bytes).into();
        CachedTile {
            bytes: bytes.into(),
            etag,
        }
    }
}

#[derive(Debug)]
pub struct TileCache {
    cap: usize,
    used: usize,
    tick: u64,
    entries: HashMap<String, (CachedTile, u64)>,
    order: BTreeMap<u64, String>,
}

impl TileCache {
    /// An empty cache that holds at most `cap` bytes.
    pub fn new(cap: usize) -> TileCache {
        TileCache {
            cap,
            used: 0,
            tick: 0,
            entries: HashMap::new(),
            order: BTreeMap::new(),
        }
    }

    fn cost(key: &str, value: &CachedTile) -> usize {
        key.len() + value.bytes.len() + value.etag.len() + ENTRY_OVERHEAD
    }

    /// The value of `key`, marking it as recently used.
    pub fn get(&mut self, key: &str) -> Option<CachedTile> {
        self.tick += 1;
        let tick = self.tick;
        let (value, used) = self.entries.get_mut(key)?;
        let old = std::mem::replace(used, tick);
        let value = value.clone();
        if let Some(k) = self.order.remove(&old) {
            self.order.insert(tick, k);
        }
        Some(value)
    }

    /// Insert (or replace) `key`; values larger than the whole cache are
    /// not kept.
    pub fn put(&mut self, key: String, value: CachedTile) {
        let cost = Self::cost(&key, &value);
        if let Some((old, t)) = self.entries.remove(&key) {
            self.used -= Self::cost(&key, &old);
            self.order.remove(&t);
        }
        if cost > self.cap {
            return;
        }
        while self.used + cost > self.cap {
            let Some((_, k)) = self.order.pop_first() else {
                break;
            };
            if let Some((v, _)) = self.entries.remove(&k) {
                self.used -= Self::cost(&k, &v);
            }
        }
        self.tick += 1;
        self.order.insert(self.tick, key.clone());
        self.entries.insert(key, (value, self.tick));
        self.used += cost;
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Bytes charged for the entries.
    pub fn bytes(&self) -> usize {
        self.used
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(n: usize) -> CachedTile {
        CachedTile::new(vec![7u8; n])
    }

    #[test]
    fn evicts_least_recently_used_within_the_cap() {
        let cap = 3 * TileCache::cost("a", &v(1000));
        let mut c = TileCache::new(cap);
        c.put("a".into(), v(1000));
        c.put("b".into(), v(1000));
        c.put("c".into(), v(1000));
        assert_eq!(c.len(), 3);
        assert!(c.get("a").is_some()); // a is now the most recent
        c.put("d".into(), v(1000)); // evicts b
        assert!(c.get("b").is_none());
        assert!(c.get("a").is_some() && c.get("c").is_some() && c.get("d").is_some());
        assert!(c.bytes() <= cap);
        // Too large to keep at all.
        c.put("huge".into(), v(cap));
        assert!(c.get("huge").is_none());
        // Replacing a key does not double-charge it.
        c.put("a".into(), v(10));
        assert_eq!(c.len(), 3);
        assert!(c.bytes() <= cap);
        for i in 0..10_000 {
            c.put(format!("k{i}"), v(0));
        }
        assert!(c.bytes() <= cap);
    }
}
