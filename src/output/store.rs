//! What the archive writers (PMTiles, MBTiles) share: the check of an
//! archive's zoom range, bounds and centre, and the store of the distinct
//! tile contents being written, kept on disk rather than in memory.
//!
//! Each distinct content is appended once to a temporary file beside the
//! destination, so memory holds only a few small integers per content.
//! Contents are de-duplicated exactly: a 64-bit hash finds candidates, and a
//! candidate counts as the same content only when its length matches and
//! its bytes, read back from the temporary file, are equal, so two
//! different tiles are never merged, however unlikely a hash collision.
//! The temporary file is deleted when the store is closed or dropped.

use std::collections::HashMap;
use std::fs::File;
use std::hash::Hasher;
use std::io::{self, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::Path;

/// Deepest zoom an archive may hold (x and y are `u32`).
pub(crate) const MAX_ARCHIVE_ZOOM: u8 = 31;

/// What is wrong with an archive's metadata (PMTiles or MBTiles).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum MetadataProblem {
    /// `min_zoom > max_zoom`, or `max_zoom` past zoom 31.
    #[error("zoom range {min_zoom}..={max_zoom} is empty or deeper than {MAX_ARCHIVE_ZOOM}")]
    ZoomRange {
        /// Declared lowest zoom.
        min_zoom: u8,
        /// Declared highest zoom.
        max_zoom: u8,
    },
    /// Bounds that are not `[west, south, east, north]` in degrees.
    #[error("bounds [{}, {}, {}, {}] are not [west, south, east, north] in degrees", .bounds[0], .bounds[1], .bounds[2], .bounds[3])]
    Bounds {
        /// The bounds given.
        bounds: [f64; 4],
    },
    /// A centre that is not a longitude and latitude.
    #[error("centre ({lon}, {lat}) is not a longitude, latitude")]
    Center {
        /// Longitude given.
        lon: f64,
        /// Latitude given.
        lat: f64,
    },
}

/// An ordered zoom range of at most [`MAX_ARCHIVE_ZOOM`], bounds
/// `[west, south, east, north]` in degrees, and a centre (if any) that is a
/// longitude and latitude.
pub(crate) fn check_archive_metadata(
    min_zoom: u8,
    max_zoom: u8,
    bounds: [f64; 4],
    center: Option<(f64, f64, u8)>,
) -> Result<(), MetadataProblem> {
    if min_zoom > max_zoom || max_zoom > MAX_ARCHIVE_ZOOM {
        return Err(MetadataProblem::ZoomRange { min_zoom, max_zoom });
    }
    let [w, s, e, n] = bounds;
    let lon_ok = |v: f64| v.is_finite() && (-180.0..=180.0).contains(&v);
    let lat_ok = |v: f64| v.is_finite() && (-90.0..=90.0).contains(&v);
    if !(lon_ok(w) && lon_ok(e) && lat_ok(s) && lat_ok(n) && w <= e && s <= n) {
        return Err(MetadataProblem::Bounds { bounds });
    }
    if let Some((lon, lat, _)) = center {
        if !(lon_ok(lon) && lat_ok(lat)) {
            return Err(MetadataProblem::Center { lon, lat });
        }
    }
    Ok(())
}

/// Where one distinct content sits in the temporary file.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Content {
    /// Offset in the temporary file.
    pub tmp_offset: u64,
    /// Length in bytes (> 0).
    pub len: u32,
    /// Next content with the same hash, or `NONE`.
    next: u32,
}

/// No content: the end of a hash chain. Also the one index never handed out.
const NONE: u32 = u32::MAX;

/// Distinct tile contents in a temporary file; see the module documentation.
#[derive(Debug)]
pub(crate) struct TileStore {
    /// Distinct contents, appended; deleted when the store is dropped.
    data_file: tempfile::NamedTempFile,
    data: BufWriter<File>,
    /// A second handle on the data file, with its own position, for reads.
    reader: File,
    data_len: u64,
    contents: Vec<Content>,
    /// Content hash -> most recent content with that hash.
    by_hash: HashMap<u64, u32>,
    scratch: Vec<u8>,
}

fn content_hash(bytes: &[u8]) -> u64 {
    // SipHash with fixed keys: deterministic within a build, which is all
    // it needs to be, since equality is always checked byte for byte.
    let mut h = std::hash::DefaultHasher::new();
    h.write(bytes);
    h.finish()
}

impl TileStore {
    /// An empty store whose temporary file is `.NAME.XXXX{suffix}` beside
    /// `path`.
    pub fn create(path: &Path, suffix: &str) -> io::Result<TileStore> {
        let data_file = super::temp_file_beside(path, suffix)?;
        let data = BufWriter::with_capacity(1 << 20, data_file.as_file().try_clone()?);
        let reader = data_file.reopen()?;
        Ok(TileStore {
            data_file,
            data,
            reader,
            data_len: 0,
            contents: Vec::new(),
            by_hash: HashMap::new(),
            scratch: Vec::new(),
        })
    }

    /// Distinct contents stored.
    pub fn len(&self) -> usize {
        self.contents.len()
    }

    /// Content `index` (as [`intern`](Self::intern) returned it).
    pub fn content(&self, index: u32) -> Content {
        self.contents[index as usize]
    }

    /// Index of the content equal to `bytes` (non-empty, `len` bytes),
    /// storing it if new; `None` when more than `u32::MAX - 1` distinct
    /// contents would be stored.
    pub fn intern(&mut self, bytes: &[u8], len: u32) -> io::Result<Option<u32>> {
        let hash = content_hash(bytes);
        let head = self.by_hash.get(&hash).copied().unwrap_or(NONE);
        let mut candidate = head;
        while candidate != NONE {
            let c = self.contents[candidate as usize];
            if c.len == len {
                self.data.flush()?;
                self.scratch.resize(bytes.len(), 0);
                self.reader.seek(SeekFrom::Start(c.tmp_offset))?;
                self.reader.read_exact(&mut self.scratch)?;
                if self.scratch == bytes {
                    return Ok(Some(candidate));
                }
            }
            candidate = c.next;
        }
        let Some(index) = u32::try_from(self.contents.len())
            .ok()
            .filter(|&i| i != NONE)
        else {
            return Ok(None);
        };
        self.data.write_all(bytes)?;
        self.contents.push(Content {
            tmp_offset: self.data_len,
            len,
            next: head,
        });
        self.data_len += u64::from(len);
        self.by_hash.insert(hash, index);
        Ok(Some(index))
    }

    /// Call `each` with the bytes of every content in `order`, reading the
    /// temporary file forwards where `order` allows (it is fastest when
    /// `order` follows the order the contents were stored in).
    pub fn for_each_content(
        &mut self,
        order: &[u32],
        mut each: impl FnMut(&[u8]) -> io::Result<()>,
    ) -> io::Result<()> {
        self.data.flush()?;
        let mut reader = BufReader::with_capacity(1 << 20, &self.reader);
        reader.seek(SeekFrom::Start(0))?;
        let mut pos: u64 = 0;
        let mut buf = Vec::new();
        for &content in order {
            let c = self.contents[content as usize];
            if c.tmp_offset != pos {
                reader.seek_relative(c.tmp_offset as i64 - pos as i64)?;
            }
            buf.resize(c.len as usize, 0);
            reader.read_exact(&mut buf)?;
            each(&buf)?;
            pos = c.tmp_offset + u64::from(c.len);
        }
        Ok(())
    }

    /// Delete the temporary file now rather than at drop.
    pub fn close(self) -> io::Result<()> {
        drop(self.data);
        drop(self.reader);
        self.data_file.close()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_collisions_do_not_merge_different_tiles() {
        // Force every content into one hash chain and check the chain walk.
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("c.pmtiles");
        let mut s = TileStore::create(&path, ".tiles.tmp").expect("create");
        let a = s.intern(b"abcd", 4).expect("a").expect("room");
        // Pretend "wxyz" collided with "abcd": put it under abcd's hash.
        let h = content_hash(b"abcd");
        s.by_hash.insert(content_hash(b"wxyz"), a);
        let b = s.intern(b"wxyz", 4).expect("b").expect("room");
        assert_ne!(a, b);
        s.by_hash.insert(h, b);
        assert_eq!(s.intern(b"abcd", 4).expect("a again"), Some(a));
        assert_eq!(s.intern(b"wxyz", 4).expect("b again"), Some(b));
        assert_eq!(s.len(), 2);
        // Read back in any order.
        let mut seen = Vec::new();
        s.for_each_content(&[b, a, b], |c| {
            seen.push(c.to_vec());
            Ok(())
        })
        .expect("read");
        assert_eq!(seen, [&b"wxyz"[..], b"abcd", b"wxyz"]);
        s.close().expect("close");
        assert_eq!(std::fs::read_dir(dir.path()).expect("ls").count(), 0);
    }
}
