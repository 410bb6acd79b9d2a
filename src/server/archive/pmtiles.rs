//! Reading a PMTiles v3 archive for the server: the header, the root
//! directory and the JSON metadata at open, leaf directories on demand
//! (a few kept), and tiles by offset and length with positional reads, so
//! any number of requests read at once without a lock on the file.
//!
//! Everything the header points at is checked against the file's length
//! when it is opened, so a truncated archive is refused with one line
//! rather than failing tile by tile; directories (gzip or uncompressed)
//! are decoded with bounds on every count and offset.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use flate2::read::GzDecoder;
use serde_json::Value;

use super::{ArchiveInfo, ArchiveProblem};
use crate::output::pmtiles::zxy_to_tileid;
use crate::server::ServerError;

const HEADER_LEN: usize = 127;

/// Largest decompressed directory or metadata accepted (a guard against
/// a damaged or hostile archive, far above what any writer produces).
const MAX_SECTION: u64 = 256 << 20;

/// Leaf directories kept decoded.
const LEAF_CACHE: usize = 64;

/// A directory entry as the spec defines it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Entry {
    tile_id: u64,
    offset: u64,
    length: u32,
    run_length: u32,
}

/// Decoded leaf directories by `(offset, length)` in the leaf section.
type LeafCache = HashMap<(u64, u32), Arc<Vec<Entry>>>;

/// An open PMTiles archive.
#[derive(Debug)]
pub(super) struct Reader {
    path: PathBuf,
    file: File,
    gzip: bool,
    root: Vec<Entry>,
    leaves: (u64, u64),
    data: (u64, u64),
    leaf_cache: Mutex<LeafCache>,
}

fn bad(path: &Path, what: ArchiveProblem) -> ServerError {
    ServerError::BadArchive {
        path: path.to_path_buf(),
        what,
    }
}

fn io_err(path: &Path) -> impl Fn(io::Error) -> ServerError + '_ {
    move |source| ServerError::ArchiveIo {
        path: path.to_path_buf(),
        source,
    }
}

#[cfg(unix)]
fn read_at(file: &File, _path: &Path, buf: &mut [u8], offset: u64) -> io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buf, offset)
}

#[cfg(windows)]
fn read_at(file: &File, _path: &Path, mut buf: &mut [u8], mut offset: u64) -> io::Result<()> {
    use std::os::windows::fs::FileExt;
    while !buf.is_empty() {
        match file.seek_read(buf, offset) {
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => {
                buf = &mut buf[n..];
                offset += n as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(not(any(unix, windows)))]
fn read_at(_file: &File, path: &Path, buf: &mut [u8], offset: u64) -> io::Result<()> {
    use std::io::{Seek, SeekFrom};
    // No positional reads here: a handle of its own per read.
    let mut f = File::open(path)?;
    f.seek(SeekFrom::Start(offset))?;
    f.read_exact(buf)
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut v = [0u8; 8];
    v.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(v)
}

fn i32_at(b: &[u8], at: usize) -> i32 {
    let mut v = [0u8; 4];
    v.copy_from_slice(&b[at..at + 4]);
    i32::from_le_bytes(v)
}

/// Varints as the spec encodes them.
struct Varints<'a> {
    raw: &'a [u8],
    at: usize,
}

impl Varints<'_> {
    fn next(&mut self) -> Result<u64, &'static str> {
        let mut v: u64 = 0;
        for shift in (0..64).step_by(7) {
            let b = *self.raw.get(self.at).ok_or("a directory ends early")?;
            self.at += 1;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err("a directory holds an over-long number")
    }
}

/// Decode a (decompressed) directory.
fn parse_directory(raw: &[u8]) -> Result<Vec<Entry>, &'static str> {
    let mut r = Varints { raw, at: 0 };
    let n = r.next()?;
    // Every entry takes at least four bytes.
    if n > raw.len() as u64 / 4 + 1 {
        return Err("a directory claims more entries than it holds");
    }
    let n = n as usize;
    let mut entries = vec![
        Entry {
            tile_id: 0,
            offset: 0,
            length: 0,
            run_length: 0,
        };
        n
    ];
    let mut id: u64 = 0;
    for e in entries.iter_mut() {
        id = id
            .checked_add(r.next()?)
            .ok_or("a directory's tile IDs overflow")?;
        e.tile_id = id;
    }
    for e in entries.iter_mut() {
        e.run_length = u32::try_from(r.next()?).map_err(|_| "a run length is out of range")?;
    }
    for e in entries.iter_mut() {
        e.length = u32::try_from(r.next()?).map_err(|_| "a tile length is out of range")?;
    }
    for i in 0..n {
        let v = r.next()?;
        entries[i].offset = if i > 0 && v == 0 {
            let p = entries[i - 1];
            p.offset
                .checked_add(u64::from(p.length))
                .ok_or("an offset overflows")?
        } else {
            v.checked_sub(1).ok_or("an offset is missing")?
        };
    }
    Ok(entries)
}

impl Reader {
    /// Open `path`, check its header against its length, and read the root
    /// directory and the metadata.
    pub(super) fn open(path: &Path) -> Result<(Reader, ArchiveInfo), ServerError> {
        let io = io_err(path);
        let file = File::open(path).map_err(&io)?;
        let len = file.metadata().map_err(&io)?.len();
        let mut h = [0u8; HEADER_LEN];
        if len < HEADER_LEN as u64 {
            if len >= 7 {
                read_at(&file, path, &mut h[..7], 0).map_err(&io)?;
            }
            if len < 7 || &h[..7] != b"PMTiles" {
                return Err(bad(path, ArchiveProblem::NotPmtiles));
            }
            return Err(bad(
                path,
                ArchiveProblem::Truncated {
                    len,
                    needed: HEADER_LEN as u64,
                },
            ));
        }
        read_at(&file, path, &mut h, 0).map_err(&io)?;
        if &h[..7] != b"PMTiles" {
            return Err(bad(path, ArchiveProblem::NotPmtiles));
        }
        if h[7] != 3 {
            return Err(bad(path, ArchiveProblem::PmtilesVersion(h[7])));
        }
        let section = |at: usize| (u64_at(&h, at), u64_at(&h, at + 8));
        let (root, metadata, leaves, data) = (section(8), section(24), section(40), section(56));
        for (offset, length) in [root, metadata, leaves, data] {
            let end = offset.saturating_add(length);
            if end > len {
                return Err(bad(path, ArchiveProblem::Truncated { len, needed: end }));
            }
        }
        let gzip = match h[97] {
            1 => false,
            2 => true,
            other => return Err(bad(path, ArchiveProblem::Compression(other))),
        };
        if !matches!(h[98], 0 | 1) {
            return Err(bad(path, ArchiveProblem::TileCompression(h[98])));
        }
        let content_type = match h[99] {
            2 => "image/png",
            3 => "image/jpeg",
            4 => "image/webp",
            5 => "image/avif",
            1 => return Err(bad(path, ArchiveProblem::TileType("vector (MVT)".into()))),
            _ => {
                return Err(bad(
                    path,
                    ArchiveProblem::TileType("of unknown type".into()),
                ))
            }
        };
        let (min_zoom, max_zoom) = (h[100], h[101]);
        if min_zoom > max_zoom || max_zoom > crate::tiles::MAX_ZOOM {
            return Err(bad(
                path,
                ArchiveProblem::Zooms {
                    min_zoom: i64::from(min_zoom),
                    max_zoom: i64::from(max_zoom),
                },
            ));
        }
        let e7 = |at: usize| f64::from(i32_at(&h, at)) / 1e7;
        let bounds = [e7(102), e7(106), e7(110), e7(114)];
        let center = (e7(119), e7(123), h[118].clamp(min_zoom, max_zoom));

        let mut reader = Reader {
            path: path.to_path_buf(),
            file,
            gzip,
            root: Vec::new(),
            leaves,
            data,
            leaf_cache: Mutex::new(HashMap::new()),
        };
        reader.root = reader.directory(root.0, root.1)?;
        let meta: Value = if metadata.1 == 0 {
            Value::Object(Default::default())
        } else {
            serde_json::from_slice(&reader.section(metadata.0, metadata.1)?)
                .map_err(|_| bad(path, ArchiveProblem::Damaged("the metadata is not JSON")))?
        };
        let text = |key: &str| meta.get(key).and_then(Value::as_str).map(str::to_string);
        let info = ArchiveInfo {
            format: super::ArchiveFormat::Pmtiles,
            name: text("name"),
            description: text("description"),
            attribution: text("attribution"),
            min_zoom,
            max_zoom,
            bounds,
            center,
            content_type,
            tiles: Some(u64_at(&h, 72)).filter(|&n| n > 0),
            tile_size: meta.get("tile_size").and_then(Value::as_u64),
            legend: meta.get("pointillist_legend").cloned(),
            zooms: meta.get("pointillist_zooms").cloned(),
        };
        Ok((reader, info))
    }

    /// `length` bytes at `offset`, decompressed when directories are gzip.
    fn section(&self, offset: u64, length: u64) -> Result<Vec<u8>, ServerError> {
        let io = io_err(&self.path);
        if length > MAX_SECTION {
            return Err(bad(
                &self.path,
                ArchiveProblem::Damaged("a directory is implausibly large"),
            ));
        }
        let mut raw = vec![0u8; length as usize];
        read_at(&self.file, &self.path, &mut raw, offset).map_err(&io)?;
        if !self.gzip {
            return Ok(raw);
        }
        let mut out = Vec::new();
        GzDecoder::new(raw.as_slice())
            .take(MAX_SECTION + 1)
            .read_to_end(&mut out)
            .map_err(|_| {
                bad(
                    &self.path,
                    ArchiveProblem::Damaged("a directory does not decompress"),
                )
            })?;
        if out.len() as u64 > MAX_SECTION {
            return Err(bad(
                &self.path,
                ArchiveProblem::Damaged("a directory is implausibly large"),
            ));
        }
        Ok(out)
    }

    fn directory(&self, offset: u64, length: u64) -> Result<Vec<Entry>, ServerError> {
        let raw = self.section(offset, length)?;
        parse_directory(&raw).map_err(|what| bad(&self.path, ArchiveProblem::Damaged(what)))
    }

    /// Leaf directory at `offset` (within the leaf section), cached.
    fn leaf(&self, offset: u64, length: u32) -> Result<Arc<Vec<Entry>>, ServerError> {
        let key = (offset, length);
        if let Some(d) = super::super::lock(&self.leaf_cache).get(&key) {
            return Ok(d.clone());
        }
        let end = offset.checked_add(u64::from(length));
        if end.is_none_or(|e| e > self.leaves.1) {
            return Err(bad(
                &self.path,
                ArchiveProblem::Damaged("a leaf directory lies outside its section"),
            ));
        }
        let dir = Arc::new(self.directory(self.leaves.0 + offset, u64::from(length))?);
        let mut cache = super::super::lock(&self.leaf_cache);
        if cache.len() >= LEAF_CACHE {
            cache.clear();
        }
        cache.insert(key, dir.clone());
        Ok(dir)
    }

    /// Tile `z/x/y` (XYZ), or `None` when the archive does not hold it.
    pub(super) fn tile(&self, z: u8, x: u32, y: u32) -> Result<Option<Vec<u8>>, ServerError> {
        let id = zxy_to_tileid(z, x, y);
        let mut leaf: Option<Arc<Vec<Entry>>> = None;
        // The spec allows a root and up to three levels of leaves.
        for _depth in 0..4 {
            let dir: &[Entry] = leaf.as_deref().map_or(&self.root, |d| d.as_slice());
            let i = dir.partition_point(|e| e.tile_id <= id);
            let Some(&e) = i.checked_sub(1).and_then(|i| dir.get(i)) else {
                return Ok(None);
            };
            if e.run_length == 0 {
                leaf = Some(self.leaf(e.offset, e.length)?);
                continue;
            }
            if id - e.tile_id >= u64::from(e.run_length) {
                return Ok(None);
            }
            let end = e.offset.checked_add(u64::from(e.length));
            if end.is_none_or(|end| end > self.data.1) {
                return Err(bad(
                    &self.path,
                    ArchiveProblem::Damaged("a tile lies outside the data section"),
                ));
            }
            let mut buf = vec![0u8; e.length as usize];
            read_at(&self.file, &self.path, &mut buf, self.data.0 + e.offset)
                .map_err(io_err(&self.path))?;
            return Ok(Some(buf));
        }
        Err(bad(
            &self.path,
            ArchiveProblem::Damaged("leaf directories nest too deep"),
        ))
    }
}
