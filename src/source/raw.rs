//! The raw page reader: flat `FLOAT` and `DOUBLE` column chunks decoded
//! page by page straight into the record batches the aggregation reads,
//! without Arrow's record reader.
//!
//! Responsible for the one shape almost every point file's coordinate and
//! value columns have: a top-level float column (required, or optional with
//! one definition level), PLAIN or dictionary-encoded data pages (v1 or
//! v2), compressed with Snappy or Zstandard or not at all. For those it
//! reads each page with one positioned read into a buffer reused for the
//! whole unit, decompresses into another reused buffer (no zeroing, one
//! Zstandard context per column rather than one per chunk) and copies the
//! values of each batch out of the page. Everything else (other types,
//! nesting, codecs, encodings, row selections) stays on Arrow's reader:
//! [`RawUnitReader::try_new`] says `None` and the caller uses it instead.
//!
//! The batches are those Arrow's reader would give for the same
//! projection: the same schema (fields in file order), the same values and
//! nulls, `batch_rows` rows each.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::sync::Arc;

use arrow_array::types::{Float32Type, Float64Type};
use arrow_array::{ArrayRef, ArrowPrimitiveType, PrimitiveArray, RecordBatch};
use arrow_buffer::{BooleanBufferBuilder, NullBuffer, ScalarBuffer};
use arrow_schema::{DataType, Schema, SchemaRef};
use bytes::Bytes;
use parquet::basic::{Compression, Encoding, Type as PhysicalType};
use parquet::errors::ParquetError;
use parquet::file::metadata::ParquetMetaData;

use super::Unit;

/// Column chunks larger than this (compressed) are left to Arrow's reader.
const MAX_CHUNK_BYTES: u64 = 1 << 30;

/// Bytes read ahead for a page header; a header that does not fit (very
/// long statistics) is read again with [`MAX_HEADER`].
const HEADER_GUESS: usize = 1024;
const MAX_HEADER: usize = 1 << 20;

type Result<T> = std::result::Result<T, ParquetError>;

fn corrupt(what: impl Into<String>) -> ParquetError {
    ParquetError::General(what.into())
}

/// Where a file's bytes come from.
#[derive(Debug)]
pub(crate) enum Input {
    /// A file on disk, read with positioned reads.
    File(File),
    /// A file held in memory.
    Bytes(Bytes),
}

impl Input {
    /// Read `len` bytes at `offset` onto the end of `buf`, fewer where the
    /// input ends first.
    fn read_at(&mut self, offset: u64, len: usize, buf: &mut Vec<u8>) -> Result<()> {
        match self {
            Input::Bytes(b) => {
                let start = usize::try_from(offset)
                    .map_err(|_| corrupt("offset past the end of the file"))?
                    .min(b.len());
                let end = start.saturating_add(len).min(b.len());
                buf.extend_from_slice(&b[start..end]);
            }
            Input::File(f) => {
                f.seek(SeekFrom::Start(offset))?;
                f.by_ref().take(len as u64).read_to_end(buf)?;
            }
        }
        Ok(())
    }
}

/// A float type the raw reader decodes.
trait RawValue: arrow_buffer::ArrowNativeType + Default {
    const SIZE: usize;
    type Arrow: ArrowPrimitiveType<Native = Self>;
    /// Append the PLAIN-encoded (little-endian) values in `bytes` to `out`.
    fn extend_plain(bytes: &[u8], out: &mut Vec<Self>);
}

impl RawValue for f32 {
    const SIZE: usize = 4;
    type Arrow = Float32Type;
    fn extend_plain(bytes: &[u8], out: &mut Vec<f32>) {
        out.extend(bytes.as_chunks::<4>().0.iter().map(|c| f32::from_le_bytes(*c)));
    }
}

impl RawValue for f64 {
    const SIZE: usize = 8;
    type Arrow = Float64Type;
    fn extend_plain(bytes: &[u8], out: &mut Vec<f64>) {
        out.extend(bytes.as_chunks::<8>().0.iter().map(|c| f64::from_le_bytes(*c)));
    }
}

// ---------------------------------------------------------------------
// Thrift compact protocol: just enough for `PageHeader`.
// ---------------------------------------------------------------------

/// A cursor over thrift compact-protocol bytes.
struct Thrift<'a> {
    buf: &'a [u8],
    pos: usize,
}

/// The header ran past the bytes given (read more and try again).
const TRUNCATED: &str = "page header truncated";

impl Thrift<'_> {
    fn byte(&mut self) -> Result<u8> {
        let b = *self.buf.get(self.pos).ok_or_else(|| corrupt(TRUNCATED))?;
        self.pos += 1;
        Ok(b)
    }

    fn varint(&mut self) -> Result<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(corrupt("page header: varint too long"))
    }

    fn zigzag(&mut self) -> Result<i64> {
        let v = self.varint()?;
        Ok((v >> 1) as i64 ^ -((v & 1) as i64))
    }

    fn i32(&mut self) -> Result<i32> {
        i32::try_from(self.zigzag()?).map_err(|_| corrupt("page header: i32 out of range"))
    }

    /// The next field's (id, type), or `None` at the struct's end.
    fn field(&mut self, last: &mut i16) -> Result<Option<(i16, u8)>> {
        let b = self.byte()?;
        if b == 0 {
            return Ok(None);
        }
        let ty = b & 0x0f;
        let delta = b >> 4;
        let id = if delta == 0 {
            i16::try_from(self.zigzag()?).map_err(|_| corrupt("page header: bad field id"))?
        } else {
            last.checked_add(i16::from(delta))
                .ok_or_else(|| corrupt("page header: bad field id"))?
        };
        *last = id;
        Ok(Some((id, ty)))
    }

    /// Skip a value of compact type `ty` (booleans in a struct field carry
    /// their value in the type and have no bytes).
    fn skip(&mut self, ty: u8, depth: u8) -> Result<()> {
        if depth > 16 {
            return Err(corrupt("page header nested too deeply"));
        }
        match ty {
            1 | 2 => {}
            3 => {
                self.byte()?;
            }
            4..=6 => {
                self.varint()?;
            }
            7 => self.advance(8)?,
            8 => {
                let n = self.len()?;
                self.advance(n)?;
            }
            9 | 10 => {
                let h = self.byte()?;
                let n = match h >> 4 {
                    15 => self.len()?,
                    n => usize::from(n),
                };
                let elem = h & 0x0f;
                for _ in 0..n {
                    if elem == 1 || elem == 2 {
                        self.byte()?;
                    } else {
                        self.skip(elem, depth + 1)?;
                    }
                }
            }
            11 => {
                let n = self.len()?;
                if n > 0 {
                    let kv = self.byte()?;
                    for _ in 0..n {
                        for t in [kv >> 4, kv & 0x0f] {
                            if t == 1 || t == 2 {
                                self.byte()?;
                            } else {
                                self.skip(t, depth + 1)?;
                            }
                        }
                    }
                }
            }
            12 => {
                let mut last = 0;
                while let Some((_, t)) = self.field(&mut last)? {
                    self.skip(t, depth + 1)?;
                }
            }
            t => return Err(corrupt(format!("page header: unknown thrift type {t}"))),
        }
        Ok(())
    }

    fn len(&mut self) -> Result<usize> {
        usize::try_from(self.varint()?).map_err(|_| corrupt("page header: bad length"))
    }

    fn advance(&mut self, n: usize) -> Result<()> {
        let end = self.pos.checked_add(n).ok_or_else(|| corrupt(TRUNCATED))?;
        if end > self.buf.len() {
            return Err(corrupt(TRUNCATED));
        }
        self.pos = end;
        Ok(())
    }
}

/// The parts of a Parquet `PageHeader` the reader uses.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct PageHeader {
    /// 0 data page, 1 index page, 2 dictionary page, 3 data page v2.
    kind: i32,
    uncompressed: i32,
    compressed: i32,
    num_values: i32,
    encoding: i32,
    /// v1: the definition levels' encoding.
    def_encoding: i32,
    /// v2 only.
    num_nulls: i32,
    def_bytes: i32,
    rep_bytes: i32,
    is_compressed: bool,
}

const DATA_PAGE: i32 = 0;
const DICTIONARY_PAGE: i32 = 2;
const DATA_PAGE_V2: i32 = 3;
const PLAIN: i32 = 0;
const PLAIN_DICTIONARY: i32 = 2;
const RLE: i32 = 3;
const RLE_DICTIONARY: i32 = 8;

/// Parse a page header at the start of `buf`: the header and its length.
fn parse_header(buf: &[u8]) -> Result<(PageHeader, usize)> {
    let mut t = Thrift { buf, pos: 0 };
    let mut h = PageHeader {
        is_compressed: true,
        ..PageHeader::default()
    };
    let mut last = 0;
    while let Some((id, ty)) = t.field(&mut last)? {
        match (id, ty) {
            (1, 5) => h.kind = t.i32()?,
            (2, 5) => h.uncompressed = t.i32()?,
            (3, 5) => h.compressed = t.i32()?,
            (5 | 7 | 8, 12) => {
                let mut last = 0;
                while let Some((f, fty)) = t.field(&mut last)? {
                    match (id, f, fty) {
                        (_, 1, 5) => h.num_values = t.i32()?,
                        (5 | 7, 2, 5) => h.encoding = t.i32()?,
                        (5, 3, 5) => h.def_encoding = t.i32()?,
                        (8, 2, 5) => h.num_nulls = t.i32()?,
                        (8, 4, 5) => h.encoding = t.i32()?,
                        (8, 5, 5) => h.def_bytes = t.i32()?,
                        (8, 6, 5) => h.rep_bytes = t.i32()?,
                        (8, 7, 1 | 2) => h.is_compressed = fty == 1,
                        (_, _, fty) => t.skip(fty, 1)?,
                    }
                }
            }
            (_, ty) => t.skip(ty, 0)?,
        }
    }
    if h.compressed < 0 || h.uncompressed < 0 || h.num_values < 0 {
        return Err(corrupt("page header with a negative size"));
    }
    Ok((h, t.pos))
}

// ---------------------------------------------------------------------
// The RLE / bit-packed hybrid (definition levels, dictionary indices).
// ---------------------------------------------------------------------

/// A resumable decoder of Parquet's RLE / bit-packing hybrid over
/// `buf[pos..end]` of a buffer the caller passes in each call.
#[derive(Debug, Default)]
struct Hybrid {
    pos: usize,
    end: usize,
    bit_width: u32,
    /// Values left in the current RLE run, and its value.
    rle_left: usize,
    rle_value: u32,
    /// Groups of 8 left in the current bit-packed run.
    groups_left: usize,
    /// The current unpacked group, and how much of it is used.
    group: [u32; 8],
    group_at: usize,
}

impl Hybrid {
    fn new(pos: usize, end: usize, bit_width: u32) -> Result<Hybrid> {
        if bit_width > 32 {
            return Err(corrupt(format!("bit width {bit_width} past 32")));
        }
        Ok(Hybrid {
            pos,
            end,
            bit_width,
            group_at: 8,
            ..Hybrid::default()
        })
    }

    fn varint(&mut self, buf: &[u8]) -> Result<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            if self.pos >= self.end {
                break;
            }
            let b = buf[self.pos];
            self.pos += 1;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(corrupt("RLE data ends inside a run header"))
    }

    /// Start the next run.
    fn next_run(&mut self, buf: &[u8]) -> Result<()> {
        if self.pos >= self.end {
            return Err(corrupt("RLE data ends before its values"));
        }
        let h = self.varint(buf)?;
        let count = usize::try_from(h >> 1).map_err(|_| corrupt("RLE run too long"))?;
        if h & 1 == 1 {
            self.groups_left = count;
        } else {
            let nbytes = self.bit_width.div_ceil(8) as usize;
            let bytes = buf
                .get(self.pos..self.pos + nbytes)
                .filter(|_| self.pos + nbytes <= self.end)
                .ok_or_else(|| corrupt("RLE data ends inside a run value"))?;
            let mut v = 0u32;
            for (i, &b) in bytes.iter().enumerate() {
                v |= u32::from(b) << (8 * i);
            }
            self.pos += nbytes;
            self.rle_left = count;
            self.rle_value = v;
        }
        Ok(())
    }

    /// Unpack the next group of 8 bit-packed values (a last group cut short
    /// by the end of the data reads as zeros).
    fn unpack(&mut self, buf: &[u8]) {
        let w = self.bit_width as usize;
        let mut bytes = [0u8; 40];
        let take = w.min(self.end.saturating_sub(self.pos));
        bytes[..take].copy_from_slice(&buf[self.pos..self.pos + take]);
        self.pos += take;
        let mask = if w == 32 { u64::from(u32::MAX) } else { (1u64 << w) - 1 };
        for (j, g) in self.group.iter_mut().enumerate() {
            let bit = j * w;
            let at = bit / 8;
            let mut word = [0u8; 8];
            word.copy_from_slice(&bytes[at..at + 8]);
            *g = ((u64::from_le_bytes(word) >> (bit % 8)) & mask) as u32;
        }
        self.group_at = 0;
        self.groups_left -= 1;
    }

    /// Fill `out` with the next `out.len()` values.
    fn fill(&mut self, buf: &[u8], out: &mut [u32]) -> Result<()> {
        let mut i = 0;
        while i < out.len() {
            if self.rle_left > 0 {
                let k = self.rle_left.min(out.len() - i);
                out[i..i + k].fill(self.rle_value);
                self.rle_left -= k;
                i += k;
            } else if self.group_at < 8 {
                let k = (8 - self.group_at).min(out.len() - i);
                out[i..i + k].copy_from_slice(&self.group[self.group_at..self.group_at + k]);
                self.group_at += k;
                i += k;
            } else if self.groups_left > 0 && out.len() - i >= 8 && self.bit_width > 0 {
                // Whole groups straight into `out`, while 8 bytes can be
                // loaded past each value's first bit.
                let w = self.bit_width as usize;
                let room = self.end.min(buf.len()).saturating_sub(self.pos + 8) / w;
                let k = self.groups_left.min((out.len() - i) / 8).min(room);
                if k == 0 {
                    self.unpack(buf);
                    continue;
                }
                let mask = if w == 32 { u64::from(u32::MAX) } else { (1u64 << w) - 1 };
                let src = &buf[self.pos..self.pos + k * w + 8];
                for (j, o) in out[i..i + 8 * k].iter_mut().enumerate() {
                    let bit = j * w;
                    let word = src[bit / 8..bit / 8 + 8]
                        .as_chunks::<8>()
                        .0
                        .first()
                        .map_or(0, |b| u64::from_le_bytes(*b));
                    *o = ((word >> (bit % 8)) & mask) as u32;
                }
                self.pos += k * w;
                self.groups_left -= k;
                i += 8 * k;
            } else if self.groups_left > 0 {
                if self.bit_width == 0 {
                    self.group = [0; 8];
                    self.group_at = 0;
                    self.groups_left -= 1;
                } else {
                    self.unpack(buf);
                }
            } else {
                self.next_run(buf)?;
            }
        }
        Ok(())
    }

    /// Whether the data starts with one RLE run of `value` at least `n`
    /// long (a column without nulls: every definition level is 1).
    fn starts_with_run(&self, buf: &[u8], value: u32, n: usize) -> bool {
        let mut probe = Hybrid { ..*self };
        probe.next_run(buf).is_ok() && probe.rle_left >= n && probe.rle_value == value
    }
}

// ---------------------------------------------------------------------
// One column chunk.
// ---------------------------------------------------------------------

enum Codec {
    None,
    Snappy(snap::raw::Decoder),
    Zstd(Box<zstd::bulk::Decompressor<'static>>),
}

impl std::fmt::Debug for Codec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Codec::None => "None",
            Codec::Snappy(_) => "Snappy",
            Codec::Zstd(_) => "Zstd",
        })
    }
}

impl Codec {
    fn new(c: Compression) -> Option<Codec> {
        match c {
            Compression::UNCOMPRESSED => Some(Codec::None),
            Compression::SNAPPY => Some(Codec::Snappy(snap::raw::Decoder::new())),
            Compression::ZSTD(_) => zstd::bulk::Decompressor::new()
                .ok()
                .map(|d| Codec::Zstd(Box::new(d))),
            _ => None,
        }
    }

    /// Decompress `input` onto the end of `out`, which then grows by
    /// exactly `size` bytes.
    fn decompress(&mut self, input: &[u8], size: usize, out: &mut Vec<u8>) -> Result<()> {
        let start = out.len();
        match self {
            Codec::None => {
                if input.len() != size {
                    return Err(corrupt("uncompressed page of the wrong size"));
                }
                out.extend_from_slice(input);
            }
            Codec::Snappy(d) => {
                // Only the part of the buffer not yet used is zeroed.
                out.resize(start + size, 0);
                let n = d
                    .decompress(input, &mut out[start..])
                    .map_err(|e| ParquetError::External(Box::new(e)))?;
                if n != size {
                    return Err(corrupt("snappy page of the wrong size"));
                }
            }
            Codec::Zstd(d) => {
                out.reserve(size);
                let n = d.decompress_to_buffer(input, out)?;
                if n != size {
                    return Err(corrupt("zstd page of the wrong size"));
                }
            }
        }
        Ok(())
    }
}

/// Where the current page's values are.
#[derive(Debug)]
enum Values {
    /// PLAIN: the next value's byte offset in the page buffer.
    Plain(usize),
    /// Dictionary indices.
    Dict(Hybrid),
}

#[derive(Debug)]
struct Cursor<T> {
    /// Next page header's offset in the file, and the chunk's end.
    pos: u64,
    end: u64,
    codec: Codec,
    optional: bool,
    /// The current page's compressed bytes, and its decompressed bytes.
    raw: Vec<u8>,
    body: usize,
    page: Vec<u8>,
    dict: Vec<T>,
    /// Rows left on the current page.
    rows_left: usize,
    /// The current page's definition levels (empty when all are 1).
    levels: Vec<u32>,
    level_at: usize,
    values: Values,
    indices: Vec<u32>,
    scratch: Vec<T>,
}

impl<T: RawValue> Cursor<T> {
    fn new(pos: u64, end: u64, codec: Codec, optional: bool) -> Cursor<T> {
        Cursor {
            pos,
            end,
            codec,
            optional,
            raw: Vec::new(),
            body: 0,
            page: Vec::new(),
            dict: Vec::new(),
            rows_left: 0,
            levels: Vec::new(),
            level_at: 0,
            values: Values::Plain(0),
            indices: Vec::new(),
            scratch: Vec::new(),
        }
    }

    /// Read the next page header: the header and where its body starts.
    fn read_header(&mut self, input: &mut Input) -> Result<(PageHeader, u64)> {
        if self.pos >= self.end {
            return Err(corrupt("column chunk ends before the row group's rows"));
        }
        let left = usize::try_from(self.end - self.pos).unwrap_or(usize::MAX);
        let mut guess = HEADER_GUESS.min(left);
        let (h, len) = loop {
            self.raw.clear();
            input.read_at(self.pos, guess, &mut self.raw)?;
            match parse_header(&self.raw) {
                Ok(r) => break r,
                Err(ParquetError::General(m)) if m == TRUNCATED && guess < MAX_HEADER.min(left) => {
                    guess = MAX_HEADER.min(left);
                }
                Err(e) => return Err(e),
            }
        };
        let start = self.pos + len as u64;
        if start + h.compressed as u64 > self.end {
            return Err(corrupt("page runs past its column chunk"));
        }
        Ok((h, start))
    }

    /// Read the next page header, and its body into `raw[body..]`, placed
    /// so that decompressing it into `page` is not a 4K-aliased copy.
    ///
    /// Snappy copies its literals with `memcpy` (`rep movsb`). When the
    /// source and the destination sit at nearly the same offset within a
    /// 4 KiB page, every store looks like it may alias the next loads and
    /// the copy runs several times slower: two reused buffers from the
    /// allocator did exactly that (16 bytes apart), and decompressing ran
    /// at 2 GB/s instead of over 10. Half a page apart it does not happen.
    fn read_page(&mut self, input: &mut Input) -> Result<PageHeader> {
        let (h, start) = self.read_header(input)?;
        let body = h.compressed as usize;
        // Reserve first: the addresses must not move after this.
        self.page.clear();
        self.page.reserve(h.uncompressed as usize);
        self.raw.clear();
        self.raw.reserve(body + 4096);
        let (dst, src) = (self.page.as_ptr() as usize, self.raw.as_ptr() as usize);
        self.body = (dst + 2048).wrapping_sub(src) % 4096;
        self.raw.resize(self.body, 0);
        input.read_at(start, body, &mut self.raw)?;
        if self.raw.len() != self.body + body {
            return Err(corrupt("file ends inside a page"));
        }
        self.pos = start + body as u64;
        Ok(h)
    }

    /// Load the next data page (reading a dictionary page on the way).
    fn next_page(&mut self, input: &mut Input) -> Result<()> {
        loop {
            let h = self.read_page(input)?;
            match h.kind {
                DICTIONARY_PAGE => {
                    if h.encoding != PLAIN && h.encoding != PLAIN_DICTIONARY {
                        return Err(corrupt("dictionary page not PLAIN-encoded"));
                    }
                    self.page.clear();
                    self.codec
                        .decompress(&self.raw[self.body..], h.uncompressed as usize, &mut self.page)?;
                    let n = h.num_values as usize;
                    if self.page.len() < n * T::SIZE {
                        return Err(corrupt("dictionary page shorter than its values"));
                    }
                    self.dict.clear();
                    T::extend_plain(&self.page[..n * T::SIZE], &mut self.dict);
                }
                DATA_PAGE => {
                    self.page.clear();
                    self.codec
                        .decompress(&self.raw[self.body..], h.uncompressed as usize, &mut self.page)?;
                    let mut at = 0;
                    let rows = h.num_values as usize;
                    let mut all_valid = true;
                    if self.optional {
                        if h.def_encoding != RLE {
                            return Err(corrupt("definition levels not RLE-encoded"));
                        }
                        let len = self
                            .page
                            .get(..4)
                            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
                            .ok_or_else(|| corrupt("data page without its levels"))?;
                        if 4 + len > self.page.len() {
                            return Err(corrupt("definition levels run past their page"));
                        }
                        all_valid = self.levels(4, 4 + len, rows)?;
                        at = 4 + len;
                    }
                    self.start_values(h.encoding, at, rows, all_valid)?;
                    return Ok(());
                }
                DATA_PAGE_V2 => {
                    if h.rep_bytes != 0 {
                        return Err(corrupt("repetition levels in a flat column"));
                    }
                    let raw = &self.raw[self.body..];
                    let levels = usize::try_from(h.def_bytes)
                        .ok()
                        .filter(|&l| l <= raw.len())
                        .ok_or_else(|| corrupt("definition levels run past their page"))?;
                    self.page.clear();
                    self.page.extend_from_slice(&raw[..levels]);
                    let size = (h.uncompressed as usize)
                        .checked_sub(levels)
                        .ok_or_else(|| corrupt("page smaller than its levels"))?;
                    if h.is_compressed {
                        self.codec
                            .decompress(&raw[levels..], size, &mut self.page)?;
                    } else {
                        Codec::None.decompress(&raw[levels..], size, &mut self.page)?;
                    }
                    let rows = h.num_values as usize;
                    let all_valid = if self.optional && h.num_nulls != 0 {
                        self.levels(0, levels, rows)?
                    } else {
                        if h.num_nulls != 0 {
                            return Err(corrupt("nulls in a required column"));
                        }
                        true
                    };
                    self.start_values(h.encoding, levels, rows, all_valid)?;
                    return Ok(());
                }
                // Index pages (and kinds a later format adds) hold no rows.
                _ => {}
            }
        }
    }

    /// Decode the definition levels in `page[start..end]` for `rows` rows;
    /// `true` when all are 1 (no nulls on the page).
    fn levels(&mut self, start: usize, end: usize, rows: usize) -> Result<bool> {
        let h = Hybrid::new(start, end, 1)?;
        self.levels.clear();
        self.level_at = 0;
        if h.starts_with_run(&self.page, 1, rows) {
            return Ok(true);
        }
        let mut h = h;
        self.levels.resize(rows, 0);
        h.fill(&self.page, &mut self.levels)?;
        Ok(false)
    }

    fn start_values(&mut self, encoding: i32, at: usize, rows: usize, all_valid: bool) -> Result<()> {
        if all_valid {
            self.levels.clear();
        }
        self.rows_left = rows;
        self.values = match encoding {
            PLAIN => Values::Plain(at),
            PLAIN_DICTIONARY | RLE_DICTIONARY => {
                let w = *self
                    .page
                    .get(at)
                    .ok_or_else(|| corrupt("dictionary page without its bit width"))?;
                Values::Dict(Hybrid::new(at + 1, self.page.len(), u32::from(w))?)
            }
            e => return Err(corrupt(format!("unsupported data page encoding {e}"))),
        };
        Ok(())
    }

    /// Append the next `n` non-null values of the page to `out`.
    fn take(&mut self, n: usize, out: &mut Vec<T>) -> Result<()> {
        match &mut self.values {
            Values::Plain(at) => {
                let end = *at + n * T::SIZE;
                let bytes = self
                    .page
                    .get(*at..end)
                    .ok_or_else(|| corrupt("data page shorter than its values"))?;
                T::extend_plain(bytes, out);
                *at = end;
            }
            Values::Dict(h) => {
                self.indices.resize(n, 0);
                h.fill(&self.page, &mut self.indices)?;
                let dict = self.dict.as_slice();
                // One check for the batch, then a gather whose bounds
                // checks never fail.
                if self.indices.iter().any(|&i| i as usize >= dict.len()) {
                    return Err(corrupt("dictionary index out of range"));
                }
                out.extend(self.indices.iter().map(|&i| dict[i as usize]));
            }
        }
        Ok(())
    }

    /// Append the next `n` rows to `out`, with their validity to `nulls`
    /// (made, all valid so far, at the first null).
    fn fill(
        &mut self,
        input: &mut Input,
        n: usize,
        out: &mut Vec<T>,
        nulls: &mut Option<BooleanBufferBuilder>,
    ) -> Result<()> {
        let mut need = n;
        while need > 0 {
            if self.rows_left == 0 {
                self.next_page(input)?;
                continue;
            }
            let k = need.min(self.rows_left);
            if self.levels.is_empty() {
                self.take(k, out)?;
                if let Some(b) = nulls {
                    b.append_n(k, true);
                }
            } else {
                let lv = &self.levels[self.level_at..self.level_at + k];
                let valid = lv.iter().filter(|&&l| l == 1).count();
                let mut vals = std::mem::take(&mut self.scratch);
                vals.clear();
                self.take(valid, &mut vals)?;
                let lv = &self.levels[self.level_at..self.level_at + k];
                let b = nulls.get_or_insert_with(|| {
                    let mut b = BooleanBufferBuilder::new(out.capacity().max(out.len() + k));
                    b.append_n(out.len(), true);
                    b
                });
                let mut it = vals.iter();
                for &l in lv {
                    let v = if l == 1 { it.next().copied() } else { None };
                    out.push(v.unwrap_or_default());
                    b.append(v.is_some());
                }
                self.scratch = vals;
                self.level_at += k;
            }
            self.rows_left -= k;
            need -= k;
        }
        Ok(())
    }

    /// Skip `n` rows: data pages that end before them are passed over
    /// unread, and only the page the skip ends on is decoded.
    fn skip(&mut self, input: &mut Input, mut n: usize) -> Result<()> {
        let mut sink = Vec::new();
        let mut nulls = None;
        while n > 0 {
            if self.rows_left == 0 {
                let at = self.pos;
                let (h, start) = self.read_header(input)?;
                let rows = h.num_values as usize;
                if matches!(h.kind, DATA_PAGE | DATA_PAGE_V2) && rows <= n {
                    self.pos = start + h.compressed as u64;
                    n -= rows;
                } else {
                    self.pos = at;
                    self.next_page(input)?;
                }
                continue;
            }
            let k = n.min(self.rows_left);
            sink.clear();
            self.fill(input, k, &mut sink, &mut nulls)?;
            nulls = None;
            n -= k;
        }
        Ok(())
    }
}

#[derive(Debug)]
enum Column {
    F32(Cursor<f32>),
    F64(Cursor<f64>),
}

impl Column {
    fn next_array(&mut self, input: &mut Input, n: usize) -> Result<ArrayRef> {
        fn array<T: RawValue>(
            c: &mut Cursor<T>,
            input: &mut Input,
            n: usize,
        ) -> Result<ArrayRef> {
            let mut out = Vec::with_capacity(n);
            let mut nulls = None;
            c.fill(input, n, &mut out, &mut nulls)?;
            let nulls = nulls.map(|mut b| NullBuffer::new(b.finish()));
            Ok(Arc::new(PrimitiveArray::<T::Arrow>::new(
                ScalarBuffer::from(out),
                nulls,
            )))
        }
        match self {
            Column::F32(c) => array(c, input, n),
            Column::F64(c) => array(c, input, n),
        }
    }

    fn skip(&mut self, input: &mut Input, n: usize) -> Result<()> {
        match self {
            Column::F32(c) => c.skip(input, n),
            Column::F64(c) => c.skip(input, n),
        }
    }
}

/// Record batches of some float columns of one row group, read by the raw
/// page reader.
#[derive(Debug)]
pub(crate) struct RawUnitReader {
    input: Input,
    schema: SchemaRef,
    columns: Vec<Column>,
    rows_left: usize,
    batch_rows: usize,
}

impl RawUnitReader {
    /// A reader of `unit`'s rows for the top-level columns `roots` (indices into `schema`, the file's
    /// Arrow schema), when every one of them is a flat float column this
    /// reader decodes; `None` to use Arrow's reader instead.
    pub(crate) fn try_new(
        meta: &ParquetMetaData,
        schema: &Schema,
        open: impl FnOnce() -> std::io::Result<Input>,
        unit: &Unit,
        roots: &[usize],
        batch_rows: usize,
    ) -> Option<Result<RawUnitReader>> {
        let rg = meta.row_groups().get(unit.row_group)?;
        let descr = meta.file_metadata().schema_descr();
        let mut roots = roots.to_vec();
        roots.sort_unstable();
        let mut columns = Vec::with_capacity(roots.len());
        for &root in &roots {
            let field = schema.fields().get(root)?;
            // The leaf of a top-level primitive column has the column's
            // own name as its whole path.
            let leaf = (0..descr.num_columns()).find(|&i| {
                let c = descr.column(i);
                c.path().parts().len() == 1 && c.path().parts()[0] == *field.name()
            })?;
            let c = descr.column(leaf);
            let chunk = rg.columns().get(leaf)?;
            if c.max_rep_level() != 0 || c.max_def_level() > 1 {
                return None;
            }
            if !chunk.encodings().all(|e| {
                matches!(
                    e,
                    Encoding::PLAIN | Encoding::PLAIN_DICTIONARY | Encoding::RLE_DICTIONARY
                ) || (e == Encoding::RLE)
            }) {
                return None;
            }
            let codec = Codec::new(chunk.compression())?;
            let (start, len) = chunk.byte_range();
            if len > MAX_CHUNK_BYTES {
                return None;
            }
            let optional = c.max_def_level() == 1;
            columns.push(match (c.physical_type(), field.data_type()) {
                (PhysicalType::FLOAT, DataType::Float32) => {
                    Column::F32(Cursor::new(start, start + len, codec, optional))
                }
                (PhysicalType::DOUBLE, DataType::Float64) => {
                    Column::F64(Cursor::new(start, start + len, codec, optional))
                }
                _ => return None,
            });
        }
        let schema = match schema.project(&roots) {
            Ok(s) => Arc::new(s),
            Err(_) => return None,
        };
        let input = match open() {
            Ok(i) => i,
            Err(e) => return Some(Err(e.into())),
        };
        let mut r = RawUnitReader {
            input,
            schema,
            columns,
            rows_left: unit.rows,
            batch_rows: batch_rows.max(1),
        };
        if unit.offset > 0 {
            for c in &mut r.columns {
                if let Err(e) = c.skip(&mut r.input, unit.offset) {
                    return Some(Err(e));
                }
            }
        }
        Some(Ok(r))
    }

    fn next_batch(&mut self) -> Result<RecordBatch> {
        let n = self.rows_left.min(self.batch_rows);
        let mut arrays = Vec::with_capacity(self.columns.len());
        for c in &mut self.columns {
            arrays.push(c.next_array(&mut self.input, n)?);
        }
        self.rows_left -= n;
        Ok(RecordBatch::try_new(self.schema.clone(), arrays)?)
    }
}

impl Iterator for RawUnitReader {
    type Item = Result<RecordBatch>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rows_left == 0 {
            return None;
        }
        let r = self.next_batch();
        if r.is_err() {
            self.rows_left = 0;
        }
        Some(r)
    }
}
