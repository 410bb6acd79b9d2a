//! PMTiles v3: a single-file archive of map tiles.
//!
//! Layout, as in the v3 spec (<https://github.com/protomaps/PMTiles/blob/main/spec/v3/spec.md>):
//! a 127-byte header, the root directory, the JSON metadata, the leaf
//! directories and the tile data, in that order. Directories and metadata
//! are gzip-compressed (internal compression 2); tiles are stored as given.
//!
//! [`PmtilesWriter`] takes tiles in any order. Each distinct tile content is
//! appended once to a temporary data file beside the destination, so memory
//! holds only a few small integers per tile, never tile bytes. Contents are
//! de-duplicated exactly (the store shared with the MBTiles writer): a
//! 64-bit hash finds candidates, and a candidate counts as the same content
//! only when its bytes are equal, so two different tiles are never merged,
//! however unlikely a hash collision.
//!
//! [`PmtilesWriter::finish`] sorts the tiles by Hilbert tile ID, collapses
//! runs of consecutive IDs with the same content into one entry, and copies
//! each content into the archive in the order of the first tile that uses
//! it. The data section is therefore always clustered, and the archive's
//! bytes depend only on the set of tiles and the metadata, not on the order
//! they were added in. When the root directory would not fit in the first
//! 16,384 bytes, entries move into leaf directories chosen as the reference
//! Go writer does. The archive is written to a second temporary file and
//! renamed into place, so `path` never holds a half-written archive.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use flate2::write::GzEncoder;
use serde_json::{Map, Value};

pub use super::store::MetadataProblem;
use super::store::{check_archive_metadata, TileStore, MAX_ARCHIVE_ZOOM};
use super::{atomic_write, OutputError};

/// Length of the fixed header.
pub const HEADER_LEN: usize = 127;

/// Header and root directory together must stay under this many bytes.
pub const ROOT_REGION_LEN: usize = 16_384;

/// Deepest zoom a tile ID can address (x and y are `u32`).
pub const MAX_PMTILES_ZOOM: u8 = MAX_ARCHIVE_ZOOM;

/// Internal compression: gzip.
const INTERNAL_GZIP: u8 = 2;

/// Tile ID of `z/x/y` on the PMTiles Hilbert curve: all tiles of lower
/// zooms come first, then the zoom's tiles along a Hilbert curve (as the
/// reference implementations' `zxy_to_tileid` / `ZxyToID`).
///
/// `z` must be at most [`MAX_PMTILES_ZOOM`] and `x`, `y` below `2^z`.
///
/// ```
/// use pointillist::output::pmtiles::{tileid_to_zxy, zxy_to_tileid};
///
/// assert_eq!(zxy_to_tileid(0, 0, 0), 0);
/// assert_eq!(zxy_to_tileid(1, 0, 0), 1); // after zoom 0's one tile
/// assert_eq!(tileid_to_zxy(zxy_to_tileid(12, 654, 1583)), Some((12, 654, 1583)));
/// ```
pub fn zxy_to_tileid(z: u8, x: u32, y: u32) -> u64 {
    let mut acc: u64 = 0;
    for tz in 0..z {
        acc += (1u64 << tz) * (1u64 << tz);
    }
    let n: u64 = 1 << z;
    let (mut tx, mut ty) = (u64::from(x), u64::from(y));
    let mut d: u64 = 0;
    let mut s = n / 2;
    while s > 0 {
        let rx = u64::from(tx & s > 0);
        let ry = u64::from(ty & s > 0);
        d += s * s * ((3 * rx) ^ ry);
        rotate(s, &mut tx, &mut ty, rx, ry);
        s /= 2;
    }
    acc + d
}

/// `z/x/y` of a tile ID (the inverse of [`zxy_to_tileid`]); `None` for IDs
/// beyond zoom [`MAX_PMTILES_ZOOM`].
pub fn tileid_to_zxy(id: u64) -> Option<(u8, u32, u32)> {
    let mut acc: u64 = 0;
    for z in 0..=MAX_PMTILES_ZOOM {
        let num_tiles = (1u64 << z) * (1u64 << z);
        if acc + num_tiles > id {
            return Some(t_on_level(z, id - acc));
        }
        acc += num_tiles;
    }
    None
}

/// One quadrant step of the Hilbert curve. Subtractions wrap as in the Go
/// reference; only the bits below `n` are used afterwards.
fn rotate(n: u64, x: &mut u64, y: &mut u64, rx: u64, ry: u64) {
    if ry == 0 {
        if rx == 1 {
            *x = (n - 1).wrapping_sub(*x);
            *y = (n - 1).wrapping_sub(*y);
        }
        std::mem::swap(x, y);
    }
}

/// Position `pos` along zoom `z`'s Hilbert curve as `(z, x, y)`.
fn t_on_level(z: u8, pos: u64) -> (u8, u32, u32) {
    let n: u64 = 1 << z;
    let mut t = pos;
    let (mut tx, mut ty) = (0u64, 0u64);
    let mut s: u64 = 1;
    while s < n {
        let rx = 1 & (t / 2);
        let ry = 1 & (t ^ rx);
        rotate(s, &mut tx, &mut ty, rx, ry);
        tx += s * rx;
        ty += s * ry;
        t /= 4;
        s *= 2;
    }
    (z, tx as u32, ty as u32)
}

/// The header's tile type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum TileType {
    /// Unknown or other.
    Unknown = 0,
    /// Mapbox Vector Tile.
    Mvt = 1,
    /// PNG (what pointillist renders).
    #[default]
    Png = 2,
    /// JPEG.
    Jpeg = 3,
    /// WebP.
    Webp = 4,
    /// AVIF.
    Avif = 5,
}

/// How the tiles themselves are compressed (the header's `TileCompression`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum TileCompression {
    /// Unknown.
    Unknown = 0,
    /// Stored as is (right for PNG).
    #[default]
    None = 1,
    /// Gzip.
    Gzip = 2,
    /// Brotli.
    Brotli = 3,
    /// Zstandard.
    Zstd = 4,
}

/// What goes into the header and the JSON metadata besides the tiles.
/// Start from [`PmtilesMetadata::default`] and set the fields.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct PmtilesMetadata {
    /// Lowest zoom level of the archive; no tile may lie below it.
    pub min_zoom: u8,
    /// Highest zoom level of the archive; no tile may lie above it.
    pub max_zoom: u8,
    /// `[west, south, east, north]` in degrees (as
    /// [`crate::tiles::extent_lnglat`] returns).
    pub bounds: [f64; 4],
    /// `(longitude, latitude, zoom)` a viewer starts at; `None` for the
    /// middle of `bounds` at `min_zoom`.
    pub center: Option<(f64, f64, u8)>,
    /// Tile type in the header.
    pub tile_type: TileType,
    /// Tile compression in the header.
    pub tile_compression: TileCompression,
    /// JSON `name`; left out when empty.
    pub name: String,
    /// JSON `description`; left out when empty.
    pub description: String,
    /// JSON `attribution`; left out when empty.
    pub attribution: String,
    /// Further JSON keys; `name`, `description` and `attribution` above
    /// take precedence when non-empty.
    pub extra: Map<String, Value>,
}

impl Default for PmtilesMetadata {
    /// PNG tiles, zoom 0 only, the whole Web Mercator world.
    fn default() -> Self {
        PmtilesMetadata {
            min_zoom: 0,
            max_zoom: 0,
            bounds: [-180.0, -85.051_128_78, 180.0, 85.051_128_78],
            center: None,
            tile_type: TileType::Png,
            tile_compression: TileCompression::None,
            name: String::new(),
            description: String::new(),
            attribution: String::new(),
            extra: Map::new(),
        }
    }
}

impl PmtilesMetadata {
    /// The JSON metadata object, keys sorted (so the bytes are stable).
    pub fn to_json(&self) -> String {
        let mut obj = self.extra.clone();
        for (key, value) in [
            ("name", &self.name),
            ("description", &self.description),
            ("attribution", &self.attribution),
        ] {
            if !value.is_empty() {
                obj.insert(key.to_string(), Value::String(value.clone()));
            }
        }
        Value::Object(obj).to_string()
    }
}

/// What [`PmtilesWriter::finish`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PmtilesSummary {
    /// The archive.
    pub path: PathBuf,
    /// Tiles addressed (sum of run lengths).
    pub addressed_tiles: u64,
    /// Directory entries pointing at tile data.
    pub tile_entries: u64,
    /// Distinct tile contents stored.
    pub tile_contents: u64,
    /// Leaf directories (0 when the root holds every entry).
    pub leaf_directories: u64,
    /// Bytes of tile data.
    pub tile_data_bytes: u64,
    /// Bytes of the whole archive.
    pub file_bytes: u64,
}

/// Why an archive cannot be written as asked.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum PmtilesProblem {
    /// `x` or `y` outside the zoom's grid, or the zoom too deep.
    #[error("tile {z}/{x}/{y} does not exist; zoom must be at most {MAX_PMTILES_ZOOM} and x, y below 2^zoom")]
    BadTile {
        /// Zoom.
        z: u8,
        /// Column.
        x: u32,
        /// Row.
        y: u32,
    },
    /// One tile longer than a directory entry can describe.
    #[error("tile {z}/{x}/{y} has {len} bytes; PMTiles tiles must be under 4 GiB")]
    TileTooLarge {
        /// Zoom.
        z: u8,
        /// Column.
        x: u32,
        /// Row.
        y: u32,
        /// Its length.
        len: usize,
    },
    /// The same tile added twice.
    #[error("tile {z}/{x}/{y} was added twice; add each tile once")]
    DuplicateTile {
        /// Zoom.
        z: u8,
        /// Column.
        x: u32,
        /// Row.
        y: u32,
    },
    /// A tile outside the metadata's zoom range.
    #[error("tile {z}/{x}/{y} lies outside the declared zoom range {min_zoom}..={max_zoom}; widen the range")]
    OutsideZoomRange {
        /// Zoom.
        z: u8,
        /// Column.
        x: u32,
        /// Row.
        y: u32,
        /// Declared lowest zoom.
        min_zoom: u8,
        /// Declared highest zoom.
        max_zoom: u8,
    },
    /// Zoom range, bounds or centre that make no sense.
    #[error("bad metadata: {0}")]
    BadMetadata(#[source] MetadataProblem),
    /// More distinct tile contents than directory entries can address.
    #[error("more than 4 billion distinct tiles; write fewer zoom levels")]
    TooManyContents,
    /// Nothing to write: PMTiles directories must not be empty.
    #[error("no tiles to write (every tile was empty); check the data extent and zoom range")]
    NoTiles,
}

/// No content yet (in `finish`'s bookkeeping).
const NONE: u32 = u32::MAX;

/// A directory entry as the spec defines it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Entry {
    tile_id: u64,
    offset: u64,
    length: u32,
    run_length: u32,
}

/// How directories are split; the defaults are the Go reference writer's.
#[derive(Debug, Clone, Copy)]
struct DirLimits {
    /// The compressed root directory must be shorter than this.
    root_bytes: usize,
    /// Try a root-only directory only below this many entries.
    root_only_max_entries: usize,
    /// Smallest number of entries per leaf directory.
    min_leaf_entries: usize,
}

const DEFAULT_LIMITS: DirLimits = DirLimits {
    root_bytes: ROOT_REGION_LEN - HEADER_LEN,
    root_only_max_entries: 16_384,
    min_leaf_entries: 4096,
};

/// Writes a PMTiles v3 archive; see the module documentation.
///
/// ```
/// use pointillist::output::pmtiles::{PmtilesMetadata, PmtilesWriter};
///
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("tiles.pmtiles");
/// let mut w = PmtilesWriter::create(&path)?;
/// w.add_tile(1, 1, 0, b"north-east tile bytes")?;
/// w.add_tile(0, 0, 0, b"world tile bytes")?;
/// w.add_tile(1, 0, 0, b"north-east tile bytes")?; // same bytes: stored once
/// let mut meta = PmtilesMetadata::default();
/// meta.max_zoom = 1;
/// meta.name = "example".into();
/// let summary = w.finish(&meta)?;
/// assert_eq!((summary.addressed_tiles, summary.tile_contents), (3, 2));
/// assert!(std::fs::read(&path)?.starts_with(b"PMTiles\x03"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct PmtilesWriter {
    path: PathBuf,
    /// Distinct contents, in a temporary file deleted with the writer.
    store: TileStore,
    /// `(tile ID, content index)` per tile, in add order.
    tiles: Vec<(u64, u32)>,
}

fn io_error(path: &Path) -> impl Fn(io::Error) -> OutputError + '_ {
    move |source| OutputError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn problem(path: &Path, what: PmtilesProblem) -> OutputError {
    OutputError::Pmtiles {
        path: path.to_path_buf(),
        what,
    }
}

impl PmtilesWriter {
    /// Start an archive at `path`. Nothing appears at `path` until
    /// [`finish`](Self::finish) succeeds; tile data goes to a temporary
    /// file in the same directory meanwhile.
    pub fn create(path: &Path) -> Result<Self, OutputError> {
        let store = TileStore::create(path, ".tiles.tmp").map_err(io_error(path))?;
        Ok(PmtilesWriter {
            path: path.to_path_buf(),
            store,
            tiles: Vec::new(),
        })
    }

    /// Tiles added so far.
    pub fn tile_count(&self) -> usize {
        self.tiles.len()
    }

    /// Add tile `z/x/y` (XYZ, rows from the north). Tiles may come in any
    /// order; an empty `bytes` adds nothing. Identical contents are stored
    /// once.
    pub fn add_tile(&mut self, z: u8, x: u32, y: u32, bytes: &[u8]) -> Result<(), OutputError> {
        if z > MAX_PMTILES_ZOOM || u64::from(x) >= 1u64 << z || u64::from(y) >= 1u64 << z {
            return Err(problem(&self.path, PmtilesProblem::BadTile { z, x, y }));
        }
        if bytes.is_empty() {
            return Ok(());
        }
        let len = u32::try_from(bytes.len()).map_err(|_| {
            problem(
                &self.path,
                PmtilesProblem::TileTooLarge {
                    z,
                    x,
                    y,
                    len: bytes.len(),
                },
            )
        })?;
        let content = self
            .store
            .intern(bytes, len)
            .map_err(io_error(&self.path))?
            .ok_or_else(|| problem(&self.path, PmtilesProblem::TooManyContents))?;
        self.tiles.push((zxy_to_tileid(z, x, y), content));
        Ok(())
    }

    /// Write the archive and move it to `path`.
    pub fn finish(self, meta: &PmtilesMetadata) -> Result<PmtilesSummary, OutputError> {
        self.finish_with(meta, DEFAULT_LIMITS)
    }

    fn finish_with(
        mut self,
        meta: &PmtilesMetadata,
        limits: DirLimits,
    ) -> Result<PmtilesSummary, OutputError> {
        let path = self.path.clone();
        let err = io_error(&path);
        check_metadata(meta).map_err(|m| problem(&path, PmtilesProblem::BadMetadata(m)))?;
        if self.tiles.is_empty() {
            return Err(problem(&path, PmtilesProblem::NoTiles));
        }

        let mut tiles = std::mem::take(&mut self.tiles);
        tiles.sort_unstable_by_key(|&(id, _)| id);
        let zxy = |id: u64| tileid_to_zxy(id).unwrap_or((0, 0, 0));
        for pair in tiles.windows(2) {
            if pair[0].0 == pair[1].0 {
                let (z, x, y) = zxy(pair[0].0);
                return Err(problem(&path, PmtilesProblem::DuplicateTile { z, x, y }));
            }
        }
        for &(id, _) in [tiles[0], tiles[tiles.len() - 1]].iter() {
            let (z, x, y) = zxy(id);
            if z < meta.min_zoom || z > meta.max_zoom {
                return Err(problem(
                    &path,
                    PmtilesProblem::OutsideZoomRange {
                        z,
                        x,
                        y,
                        min_zoom: meta.min_zoom,
                        max_zoom: meta.max_zoom,
                    },
                ));
            }
        }

        // Lay contents out in order of first use by tile ID, and build the
        // run-length-encoded entries.
        let mut final_offset = vec![u64::MAX; self.store.len()];
        let mut order: Vec<u32> = Vec::new();
        let mut data_len: u64 = 0;
        let mut entries: Vec<Entry> = Vec::new();
        let mut last_content = NONE;
        for &(id, content) in &tiles {
            let c = self.store.content(content);
            let slot = &mut final_offset[content as usize];
            if *slot == u64::MAX {
                *slot = data_len;
                data_len += u64::from(c.len);
                order.push(content);
            }
            let offset = *slot;
            match entries.last_mut() {
                Some(e)
                    if last_content == content
                        && e.tile_id + u64::from(e.run_length) == id
                        && e.run_length < u32::MAX =>
                {
                    e.run_length += 1;
                }
                _ => entries.push(Entry {
                    tile_id: id,
                    offset,
                    length: c.len,
                    run_length: 1,
                }),
            }
            last_content = content;
        }
        let addressed = tiles.len() as u64;
        drop(tiles);
        drop(final_offset);

        let (root, leaves, num_leaves) = optimize_directories(&entries, limits).map_err(&err)?;
        let metadata = gzip(meta.to_json().as_bytes()).map_err(&err)?;

        let root_offset = HEADER_LEN as u64;
        let metadata_offset = root_offset + root.len() as u64;
        let leaf_offset = metadata_offset + metadata.len() as u64;
        let data_offset = leaf_offset + leaves.len() as u64;
        let (center_lon, center_lat, center_zoom) = meta.center.unwrap_or((
            (meta.bounds[0] + meta.bounds[2]) / 2.0,
            (meta.bounds[1] + meta.bounds[3]) / 2.0,
            meta.min_zoom,
        ));
        let e7 = |v: f64| (v * 1e7).round() as i32;

        let mut header = Vec::with_capacity(HEADER_LEN);
        header.extend_from_slice(b"PMTiles");
        header.push(3);
        for v in [
            root_offset,
            root.len() as u64,
            metadata_offset,
            metadata.len() as u64,
            leaf_offset,
            leaves.len() as u64,
            data_offset,
            data_len,
            addressed,
            entries.len() as u64,
            order.len() as u64,
        ] {
            header.extend_from_slice(&v.to_le_bytes());
        }
        header.push(1); // clustered: contents follow tile-ID order
        header.push(INTERNAL_GZIP);
        header.push(meta.tile_compression as u8);
        header.push(meta.tile_type as u8);
        header.push(meta.min_zoom);
        header.push(meta.max_zoom);
        for v in meta.bounds {
            header.extend_from_slice(&e7(v).to_le_bytes());
        }
        header.push(center_zoom);
        header.extend_from_slice(&e7(center_lon).to_le_bytes());
        header.extend_from_slice(&e7(center_lat).to_le_bytes());
        debug_assert_eq!(header.len(), HEADER_LEN);

        let store = &mut self.store;
        atomic_write(&path, |w| {
            w.write_all(&header)?;
            w.write_all(&root)?;
            w.write_all(&metadata)?;
            w.write_all(&leaves)?;
            store.for_each_content(&order, |bytes| w.write_all(bytes))
        })?;
        // Remove the temporary data file now rather than at drop.
        self.store.close().map_err(&err)?;

        Ok(PmtilesSummary {
            path: path.clone(),
            addressed_tiles: addressed,
            tile_entries: entries.len() as u64,
            tile_contents: order.len() as u64,
            leaf_directories: num_leaves as u64,
            tile_data_bytes: data_len,
            file_bytes: data_offset + data_len,
        })
    }
}

fn check_metadata(meta: &PmtilesMetadata) -> Result<(), MetadataProblem> {
    check_archive_metadata(meta.min_zoom, meta.max_zoom, meta.bounds, meta.center)
}

fn gzip(bytes: &[u8]) -> io::Result<Vec<u8>> {
    // flate2 writes a fixed gzip header (mtime 0), so output is stable.
    let mut enc = GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(bytes)?;
    enc.finish()
}

fn write_varint(out: &mut Vec<u8>, mut v: u64) {
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// A directory, serialized as the spec says and gzip-compressed.
fn serialize_directory(entries: &[Entry]) -> io::Result<Vec<u8>> {
    let mut raw = Vec::with_capacity(entries.len() * 5 + 10);
    write_varint(&mut raw, entries.len() as u64);
    let mut last_id = 0;
    for e in entries {
        write_varint(&mut raw, e.tile_id - last_id);
        last_id = e.tile_id;
    }
    for e in entries {
        write_varint(&mut raw, u64::from(e.run_length));
    }
    for e in entries {
        write_varint(&mut raw, u64::from(e.length));
    }
    for (i, e) in entries.iter().enumerate() {
        let contiguous = i > 0 && {
            let p = &entries[i - 1];
            e.offset == p.offset + u64::from(p.length)
        };
        write_varint(&mut raw, if contiguous { 0 } else { e.offset + 1 });
    }
    gzip(&raw)
}

/// Root directory bytes, leaf directory bytes and number of leaves, as the
/// reference Go writer chooses them: everything in the root when it fits,
/// otherwise a root of leaf pointers with the smallest leaf size (growing
/// by 1.2x from `max(min_leaf_entries, entries / 3500)`) whose root fits.
fn optimize_directories(
    entries: &[Entry],
    limits: DirLimits,
) -> io::Result<(Vec<u8>, Vec<u8>, usize)> {
    if entries.len() < limits.root_only_max_entries {
        let root = serialize_directory(entries)?;
        if root.len() < limits.root_bytes {
            return Ok((root, Vec::new(), 0));
        }
    }
    let mut leaf_size = (entries.len() as f64 / 3500.0).max(limits.min_leaf_entries as f64);
    loop {
        let size = (leaf_size as usize).max(1);
        let mut root_entries = Vec::new();
        let mut leaves = Vec::new();
        for chunk in entries.chunks(size) {
            let leaf = serialize_directory(chunk)?;
            root_entries.push(Entry {
                tile_id: chunk[0].tile_id,
                offset: leaves.len() as u64,
                length: u32::try_from(leaf.len()).map_err(io::Error::other)?,
                run_length: 0,
            });
            leaves.extend_from_slice(&leaf);
        }
        let root = serialize_directory(&root_entries)?;
        if root.len() < limits.root_bytes || root_entries.len() == 1 {
            return Ok((root, leaves, root_entries.len()));
        }
        leaf_size *= 1.2;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::read::GzDecoder;
    use std::collections::HashMap;
    use std::io::Read;

    /// A minimal PMTiles v3 reader, independent of the writer's code paths.
    struct Archive {
        bytes: Vec<u8>,
    }

    #[derive(Debug, PartialEq)]
    struct Header {
        root: (u64, u64),
        metadata: (u64, u64),
        leaves: (u64, u64),
        data: (u64, u64),
        addressed: u64,
        entries: u64,
        contents: u64,
        clustered: u8,
        internal: u8,
        tile_compression: u8,
        tile_type: u8,
        min_zoom: u8,
        max_zoom: u8,
        bounds_e7: [i32; 4],
        center_zoom: u8,
        center_e7: [i32; 2],
    }

    impl Archive {
        fn open(path: &Path) -> Archive {
            Archive {
                bytes: std::fs::read(path).expect("read archive"),
            }
        }

        fn u64_at(&self, at: usize) -> u64 {
            u64::from_le_bytes(self.bytes[at..at + 8].try_into().expect("8 bytes"))
        }

        fn i32_at(&self, at: usize) -> i32 {
            i32::from_le_bytes(self.bytes[at..at + 4].try_into().expect("4 bytes"))
        }

        fn header(&self) -> Header {
            assert_eq!(&self.bytes[0..7], b"PMTiles");
            assert_eq!(self.bytes[7], 3);
            let b = &self.bytes;
            Header {
                root: (self.u64_at(8), self.u64_at(16)),
                metadata: (self.u64_at(24), self.u64_at(32)),
                leaves: (self.u64_at(40), self.u64_at(48)),
                data: (self.u64_at(56), self.u64_at(64)),
                addressed: self.u64_at(72),
                entries: self.u64_at(80),
                contents: self.u64_at(88),
                clustered: b[96],
                internal: b[97],
                tile_compression: b[98],
                tile_type: b[99],
                min_zoom: b[100],
                max_zoom: b[101],
                bounds_e7: [
                    self.i32_at(102),
                    self.i32_at(106),
                    self.i32_at(110),
                    self.i32_at(114),
                ],
                center_zoom: b[118],
                center_e7: [self.i32_at(119), self.i32_at(123)],
            }
        }

        fn gunzip(&self, offset: u64, len: u64) -> Vec<u8> {
            let mut out = Vec::new();
            GzDecoder::new(&self.bytes[offset as usize..(offset + len) as usize])
                .read_to_end(&mut out)
                .expect("gunzip");
            out
        }

        fn directory(&self, offset: u64, len: u64) -> Vec<Entry> {
            let raw = self.gunzip(offset, len);
            let mut at = 0;
            let mut next = || {
                let (mut v, mut shift) = (0u64, 0);
                loop {
                    let b = raw[at];
                    at += 1;
                    v |= u64::from(b & 0x7f) << shift;
                    shift += 7;
                    if b & 0x80 == 0 {
                        return v;
                    }
                }
            };
            let n = next() as usize;
            assert!(n > 0, "directories must be non-empty");
            let mut entries = vec![
                Entry {
                    tile_id: 0,
                    offset: 0,
                    length: 0,
                    run_length: 0
                };
                n
            ];
            let mut id = 0;
            for e in entries.iter_mut() {
                id += next();
                e.tile_id = id;
            }
            for e in entries.iter_mut() {
                e.run_length = next() as u32;
            }
            for e in entries.iter_mut() {
                e.length = next() as u32;
                assert!(e.length > 0);
            }
            for i in 0..n {
                let v = next();
                entries[i].offset = if i > 0 && v == 0 {
                    entries[i - 1].offset + u64::from(entries[i - 1].length)
                } else {
                    v - 1
                };
            }
            assert_eq!(at, raw.len(), "trailing bytes in directory");
            entries
        }

        fn metadata(&self) -> Value {
            let h = self.header();
            serde_json::from_slice(&self.gunzip(h.metadata.0, h.metadata.1)).expect("json")
        }

        /// Every tile entry, root and leaves, in order, plus the leaf count.
        fn all_entries(&self) -> (Vec<Entry>, usize) {
            let h = self.header();
            let mut out = Vec::new();
            let mut leaves = 0;
            for e in self.directory(h.root.0, h.root.1) {
                if e.run_length == 0 {
                    leaves += 1;
                    let leaf = self.directory(h.leaves.0 + e.offset, u64::from(e.length));
                    assert_eq!(leaf[0].tile_id, e.tile_id);
                    assert!(leaf.iter().all(|l| l.run_length > 0));
                    out.extend(leaf);
                } else {
                    out.push(e);
                }
            }
            (out, leaves)
        }

        /// The reference reader's lookup: binary search, follow leaves.
        fn get(&self, z: u8, x: u32, y: u32) -> Option<&[u8]> {
            let h = self.header();
            let id = zxy_to_tileid(z, x, y);
            let (mut off, mut len) = (h.root.0, h.root.1);
            for _depth in 0..4 {
                let dir = self.directory(off, len);
                let i = dir.partition_point(|e| e.tile_id <= id);
                if i == 0 {
                    return None;
                }
                let e = dir[i - 1];
                if e.run_length == 0 {
                    off = h.leaves.0 + e.offset;
                    len = u64::from(e.length);
                    continue;
                }
                if id - e.tile_id >= u64::from(e.run_length) {
                    return None;
                }
                let start = (h.data.0 + e.offset) as usize;
                return Some(&self.bytes[start..start + e.length as usize]);
            }
            panic!("directory too deep");
        }
    }

    fn meta(min_zoom: u8, max_zoom: u8) -> PmtilesMetadata {
        let mut extra = Map::new();
        extra.insert("type".into(), Value::String("overlay".into()));
        extra.insert("name".into(), Value::String("overridden".into()));
        PmtilesMetadata {
            min_zoom,
            max_zoom,
            bounds: [-122.5, 37.25, -121.75, 38.0],
            center: None,
            name: "test".into(),
            description: "a test".into(),
            attribution: String::new(),
            extra,
            ..PmtilesMetadata::default()
        }
    }

    /// About 1,200 tiles over zooms 0..=5: distinct tiles, a shared
    /// "ocean" tile, and every tile of zoom 5 with y >= 24 the same (runs).
    fn sample_tiles() -> Vec<(u8, u32, u32, Vec<u8>)> {
        let mut tiles = Vec::new();
        for z in 0..=5u8 {
            let n = 1u32 << z;
            for x in 0..n {
                for y in 0..n {
                    if (x + y) % 7 == 3 {
                        continue; // absent
                    }
                    let bytes = if z == 5 && y >= 24 {
                        b"same-run".to_vec()
                    } else if (x * 3 + y) % 5 == 0 {
                        b"ocean".to_vec()
                    } else {
                        format!("tile {z}/{x}/{y}").into_bytes()
                    };
                    tiles.push((z, x, y, bytes));
                }
            }
        }
        tiles
    }

    /// Deterministic shuffle (xorshift), for add-order tests.
    fn shuffled<T: Clone>(items: &[T], seed: u64) -> Vec<T> {
        let mut v = items.to_vec();
        let mut s = seed | 1;
        for i in (1..v.len()).rev() {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            v.swap(i, (s % (i as u64 + 1)) as usize);
        }
        v
    }

    fn write(
        path: &Path,
        tiles: &[(u8, u32, u32, Vec<u8>)],
        meta: &PmtilesMetadata,
        limits: DirLimits,
    ) -> PmtilesSummary {
        let mut w = PmtilesWriter::create(path).expect("create");
        for (z, x, y, b) in tiles {
            w.add_tile(*z, *x, *y, b).expect("add");
        }
        w.finish_with(meta, limits).expect("finish")
    }

    fn check_readback(a: &Archive, tiles: &[(u8, u32, u32, Vec<u8>)], max_zoom: u8) {
        let present: HashMap<(u8, u32, u32), &Vec<u8>> =
            tiles.iter().map(|(z, x, y, b)| ((*z, *x, *y), b)).collect();
        for z in 0..=max_zoom {
            for x in 0..1u32 << z {
                for y in 0..1u32 << z {
                    assert_eq!(
                        a.get(z, x, y),
                        present.get(&(z, x, y)).map(|b| b.as_slice()),
                        "tile {z}/{x}/{y}"
                    );
                }
            }
        }
        assert_eq!(a.get(max_zoom + 1, 0, 0), None);
    }

    /// Offsets in tile-ID order either continue the data or point back.
    fn check_clustered(a: &Archive) {
        let h = a.header();
        assert_eq!(h.clustered, 1);
        let (entries, _) = a.all_entries();
        let mut end = 0;
        for e in &entries {
            assert!(e.offset <= end, "entry {e:?} skips ahead of {end}");
            if e.offset == end {
                end += u64::from(e.length);
            }
        }
        assert_eq!(end, h.data.1);
    }

    #[test]
    fn tile_ids_match_the_reference() {
        // Values from the reference implementations' tests (Go tile_id_test.go,
        // Python test_tile.py).
        assert_eq!(zxy_to_tileid(0, 0, 0), 0);
        assert_eq!(zxy_to_tileid(1, 0, 0), 1);
        assert_eq!(zxy_to_tileid(1, 0, 1), 2);
        assert_eq!(zxy_to_tileid(1, 1, 1), 3);
        assert_eq!(zxy_to_tileid(1, 1, 0), 4);
        assert_eq!(zxy_to_tileid(2, 0, 0), 5);
        assert_eq!(tileid_to_zxy(0), Some((0, 0, 0)));
        assert_eq!(tileid_to_zxy(1), Some((1, 0, 0)));
        assert_eq!(tileid_to_zxy(19_078_479), Some((12, 3423, 1763)));
        assert_eq!(zxy_to_tileid(12, 3423, 1763), 19_078_479);
    }

    #[test]
    fn tile_ids_round_trip() {
        for z in 0..=8u8 {
            let first = zxy_to_tileid(z, 0, 0);
            let mut seen = vec![false; 1 << (2 * z)];
            for x in 0..1u32 << z {
                for y in 0..1u32 << z {
                    let id = zxy_to_tileid(z, x, y);
                    assert_eq!(tileid_to_zxy(id), Some((z, x, y)));
                    seen[(id - first) as usize] = true;
                }
            }
            assert!(seen.iter().all(|&s| s), "zoom {z} ids are not a bijection");
        }
        // Extremes, as the Go tests: every corner of every zoom.
        for z in 0..=MAX_PMTILES_ZOOM {
            let d = ((1u64 << z) - 1) as u32;
            for (x, y) in [(0, 0), (d, 0), (0, d), (d, d)] {
                assert_eq!(tileid_to_zxy(zxy_to_tileid(z, x, y)), Some((z, x, y)));
            }
        }
        let last = zxy_to_tileid(31, 0, 0) + (1u64 << 62) - 1;
        assert_eq!(tileid_to_zxy(last).map(|t| t.0), Some(31));
        assert_eq!(tileid_to_zxy(last + 1), None);
    }

    #[test]
    fn varints_match_the_reference() {
        let mut out = Vec::new();
        for v in [0, 1, 127, 624_485] {
            write_varint(&mut out, v);
        }
        assert_eq!(out, b"\x00\x01\x7f\xe5\x8e\x26");
    }

    #[test]
    fn archive_reads_back() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("out.pmtiles");
        let tiles = sample_tiles();
        let m = meta(0, 5);
        let summary = write(&path, &shuffled(&tiles, 7), &m, DEFAULT_LIMITS);
        let a = Archive::open(&path);
        let h = a.header();

        // Expected counts, computed independently from the tile list.
        let mut by_id: Vec<(u64, &Vec<u8>)> = tiles
            .iter()
            .map(|(z, x, y, b)| (zxy_to_tileid(*z, *x, *y), b))
            .collect();
        by_id.sort();
        let runs = 1 + by_id
            .windows(2)
            .filter(|w| !(w[1].0 == w[0].0 + 1 && w[1].1 == w[0].1))
            .count();
        let distinct: std::collections::HashSet<&Vec<u8>> = by_id.iter().map(|t| t.1).collect();
        assert!(tiles.len() > 1000);
        assert!(runs < tiles.len() && distinct.len() < runs);
        assert_eq!(h.addressed, tiles.len() as u64);
        assert_eq!(h.entries, runs as u64);
        assert_eq!(h.contents, distinct.len() as u64);
        assert_eq!(
            h.data.1,
            distinct.iter().map(|b| b.len() as u64).sum::<u64>()
        );
        assert_eq!(
            (
                summary.addressed_tiles,
                summary.tile_entries,
                summary.tile_contents
            ),
            (h.addressed, h.entries, h.contents)
        );
        assert_eq!(summary.leaf_directories, 0);
        assert_eq!(summary.file_bytes, a.bytes.len() as u64);

        // Layout: sections in order, root within the first 16 KiB.
        assert_eq!(h.root.0, 127);
        assert!(h.root.0 + h.root.1 < ROOT_REGION_LEN as u64);
        assert_eq!(h.metadata.0, h.root.0 + h.root.1);
        assert_eq!(h.leaves, (h.metadata.0 + h.metadata.1, 0));
        assert_eq!(h.data.0, h.leaves.0 + h.leaves.1);
        assert_eq!(h.data.0 + h.data.1, a.bytes.len() as u64);

        // Header fields.
        assert_eq!((h.internal, h.tile_compression, h.tile_type), (2, 1, 2));
        assert_eq!((h.min_zoom, h.max_zoom), (0, 5));
        assert_eq!(
            h.bounds_e7,
            [-1_225_000_000, 372_500_000, -1_217_500_000, 380_000_000]
        );
        assert_eq!(h.center_zoom, 0);
        assert_eq!(h.center_e7, [-1_221_250_000, 376_250_000]);

        // JSON metadata: explicit fields win over `extra`; empty ones omitted.
        let json = a.metadata();
        assert_eq!(json["name"], "test");
        assert_eq!(json["description"], "a test");
        assert_eq!(json["type"], "overlay");
        assert!(json.get("attribution").is_none());

        check_clustered(&a);
        check_readback(&a, &tiles, 5);

        // The temporary data file is gone; only the archive remains.
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .expect("ls")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("out.pmtiles")]);
    }

    #[test]
    fn add_order_does_not_change_the_bytes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let tiles = sample_tiles();
        let m = meta(0, 5);
        let p1 = dir.path().join("a.pmtiles");
        let p2 = dir.path().join("b.pmtiles");
        let p3 = dir.path().join("c.pmtiles");
        write(&p1, &tiles, &m, DEFAULT_LIMITS);
        write(&p2, &shuffled(&tiles, 12345), &m, DEFAULT_LIMITS);
        let mut reversed = tiles.clone();
        reversed.reverse();
        write(&p3, &reversed, &m, DEFAULT_LIMITS);
        let b1 = std::fs::read(&p1).expect("read");
        assert_eq!(b1, std::fs::read(&p2).expect("read"));
        assert_eq!(b1, std::fs::read(&p3).expect("read"));
    }

    /// 20,000 distinct tiles: more entries than the reference writer puts
    /// in a root-only directory, so entries go to leaves of 4096.
    #[test]
    fn many_tiles_use_leaf_directories() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("big.pmtiles");
        let mut tiles = Vec::new();
        for z in 0..=8u8 {
            for x in 0..1u32 << z {
                for y in 0..1u32 << z {
                    if tiles.len() < 20_000 {
                        let id = tiles.len() as u32;
                        tiles.push((z, x, y, id.to_le_bytes().to_vec()));
                    }
                }
            }
        }
        let summary = write(&path, &shuffled(&tiles, 99), &meta(0, 8), DEFAULT_LIMITS);
        assert_eq!(summary.leaf_directories, 5);
        let a = Archive::open(&path);
        let h = a.header();
        assert!(h.leaves.1 > 0);
        assert!(h.root.0 + h.root.1 < ROOT_REGION_LEN as u64);
        assert_eq!(
            (h.addressed, h.entries, h.contents),
            (20_000, 20_000, 20_000)
        );
        let (entries, leaves) = a.all_entries();
        assert_eq!(leaves, 5);
        assert_eq!(entries.len(), 20_000);
        check_clustered(&a);
        for (z, x, y, b) in shuffled(&tiles, 5).iter().take(2000) {
            assert_eq!(a.get(*z, *x, *y), Some(b.as_slice()));
        }
        // Absent tiles at zoom 8 (beyond the first 20,000 ids).
        let missing = tileid_to_zxy(25_000).expect("id");
        assert_eq!(a.get(missing.0, missing.1, missing.2), None);
    }

    /// A tiny root limit forces many small leaves and the leaf-size search.
    #[test]
    fn small_root_limit_reads_back_through_leaves() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("leaves.pmtiles");
        let tiles = sample_tiles();
        let limits = DirLimits {
            root_bytes: 80,
            root_only_max_entries: 16_384,
            min_leaf_entries: 8,
        };
        let summary = write(&path, &tiles, &meta(0, 5), limits);
        assert!(summary.leaf_directories > 2, "{summary:?}");
        let a = Archive::open(&path);
        let h = a.header();
        assert!(h.root.1 < 80);
        let (_, leaves) = a.all_entries();
        assert_eq!(leaves as u64, summary.leaf_directories);
        check_clustered(&a);
        check_readback(&a, &tiles, 5);
    }

    #[test]
    fn bad_input_is_refused_and_leaves_nothing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("bad.pmtiles");

        let mut w = PmtilesWriter::create(&path).expect("create");
        assert!(matches!(
            w.add_tile(2, 4, 0, b"x"),
            Err(OutputError::Pmtiles {
                what: PmtilesProblem::BadTile { .. },
                ..
            })
        ));
        w.add_tile(2, 1, 1, b"").expect("empty tile is skipped");
        assert_eq!(w.tile_count(), 0);
        let e = w.finish(&meta(0, 5)).expect_err("no tiles");
        assert!(e.to_string().contains("bad.pmtiles"), "{e}");
        assert!(matches!(
            e,
            OutputError::Pmtiles {
                what: PmtilesProblem::NoTiles,
                ..
            }
        ));

        let mut w = PmtilesWriter::create(&path).expect("create");
        w.add_tile(3, 1, 1, b"a").expect("add");
        w.add_tile(3, 1, 1, b"b").expect("add");
        assert!(matches!(
            w.finish(&meta(0, 5)),
            Err(OutputError::Pmtiles {
                what: PmtilesProblem::DuplicateTile { z: 3, x: 1, y: 1 },
                ..
            })
        ));

        let mut w = PmtilesWriter::create(&path).expect("create");
        w.add_tile(6, 1, 1, b"a").expect("add");
        assert!(matches!(
            w.finish(&meta(0, 5)),
            Err(OutputError::Pmtiles {
                what: PmtilesProblem::OutsideZoomRange { z: 6, .. },
                ..
            })
        ));

        let mut w = PmtilesWriter::create(&path).expect("create");
        w.add_tile(0, 0, 0, b"a").expect("add");
        let bad = PmtilesMetadata {
            bounds: [10.0, 0.0, -10.0, 1.0],
            ..meta(0, 5)
        };
        assert!(matches!(
            w.finish(&bad),
            Err(OutputError::Pmtiles {
                what: PmtilesProblem::BadMetadata(_),
                ..
            })
        ));

        // A writer dropped without finishing leaves nothing either.
        let mut w = PmtilesWriter::create(&path).expect("create");
        w.add_tile(0, 0, 0, b"a").expect("add");
        drop(w);

        assert_eq!(std::fs::read_dir(dir.path()).expect("ls").count(), 0);
    }
}
