//! The server's cache of encoded tiles: a [`moka`] cache weighted by the
//! bytes each entry holds, so that it stays within `cache_bytes`, and whose
//! `try_get_with` runs one render per missing key however many requests
//! ask for it at once (a failed render is not kept).
//!
//! An empty value stands for an empty tile (answered 204) and is charged a
//! small fixed cost so that many of them stay bounded too.

use std::sync::Arc;

/// Bytes charged per entry on top of its value (key, bookkeeping).
const ENTRY_OVERHEAD: usize = 128;

/// An encoded tile as the cache holds it: the bytes (shared with every
/// response, never copied) and the strong ETag computed once, when the tile
/// entered the cache. Empty bytes: a tile without points (204).
#[derive(Debug, Clone)]
pub struct CachedTile {
    pub bytes: bytes::Bytes,
    pub etag: Arc<str>,
}

impl CachedTile {
    pub fn new(mut bytes: Vec<u8>) -> CachedTile {
        // The encoder reserves room for a poorly compressible tile (about
        // three times a typical one): give the rest back, or the cache's
        // weight (its length) would understate its memory threefold.
        bytes.shrink_to_fit();
        let etag = super::etag(&bytes).into();
        CachedTile {
            bytes: bytes.into(),
            etag,
        }
    }
}

/// Encoded tiles by request key.
pub type TileCache = moka::future::Cache<String, CachedTile>;

/// The bytes an entry is charged.
fn cost(key: &str, value: &CachedTile) -> u32 {
    let n = key.len() + value.bytes.len() + value.etag.len() + ENTRY_OVERHEAD;
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// An empty cache that holds at most `cap` bytes.
pub fn tile_cache(cap: usize) -> TileCache {
    moka::future::Cache::builder()
        .name("tiles")
        .max_capacity(u64::try_from(cap).unwrap_or(u64::MAX))
        .weigher(|k: &String, v: &CachedTile| cost(k, v))
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(n: usize) -> CachedTile {
        CachedTile::new(vec![7u8; n])
    }

    #[tokio::test]
    async fn stays_within_its_bytes() {
        let cap = 3 * cost("a", &v(1000)) as usize;
        let c = tile_cache(cap);
        for i in 0..200 {
            c.insert(format!("k{i}"), v(1000)).await;
            c.run_pending_tasks().await;
            assert!(c.weighted_size() <= cap as u64);
        }
        assert!(c.entry_count() >= 1);
        // Too large to keep at all.
        c.insert("huge".into(), v(cap)).await;
        c.run_pending_tasks().await;
        assert!(c.get("huge").await.is_none());
        assert!(c.weighted_size() <= cap as u64);
    }
}
