//! Hilbert keys: coordinates scaled onto the 2^16 x 2^16 grid and mapped to
//! their distance along the curve.

use arrow_array::{Array, RecordBatch};
use rayon::prelude::*;

use crate::source::numeric_to_f64;

/// Bits per axis of the Hilbert grid.
pub const HILBERT_BITS: u32 = 16;

/// Key of rows whose x or y is missing: after every real key.
pub(super) const MISSING_KEY: u32 = u32::MAX;

/// Levels of the curve one table lookup walks.
const LEVELS_PER_STEP: u32 = 4;

/// The curve's walk as a state machine, four levels per lookup.
///
/// The classic algorithm (`xy2d`) looks at one bit of x and y per level,
/// from the top, and after each level swaps and/or reflects the remaining
/// bits. Swap and reflect-both commute and are their own inverses, so the
/// transform accumulated so far is one of four states (bit 0: swapped,
/// bit 1: reflected). Entry `state << 8 | x_nibble << 4 | y_nibble` holds
/// the four levels' base-4 digits (8 bits) and the state after them (bits
/// 8-9). Built at compile time from the per-level rule, so it is the same
/// curve as [`hilbert_index_reference`] walks bit by bit.
const HILBERT_TABLE: [u16; 1024] = build_table();

const fn build_table() -> [u16; 1024] {
    let mut table = [0u16; 1024];
    let mut entry = 0usize;
    while entry < 1024 {
        let mut state = (entry >> 8) as u32;
        let xn = ((entry >> 4) & 0xF) as u32;
        let yn = (entry & 0xF) as u32;
        let mut digits = 0u32;
        let mut level = 0;
        while level < LEVELS_PER_STEP {
            let shift = LEVELS_PER_STEP - 1 - level;
            let bx = (xn >> shift) & 1;
            let by = (yn >> shift) & 1;
            let (swap, flip) = (state & 1, (state >> 1) & 1);
            let (cx, cy) = if swap == 1 { (by, bx) } else { (bx, by) };
            let (rx, ry) = (cx ^ flip, cy ^ flip);
            digits = (digits << 2) | ((3 * rx) ^ ry);
            if ry == 0 {
                if rx == 1 {
                    state ^= 2;
                }
                state ^= 1;
            }
            level += 1;
        }
        table[entry] = (digits | (state << 8)) as u16;
        entry += 1;
    }
    table
}

/// Distance of cell `(x, y)` along the Hilbert curve filling the
/// 2^[`HILBERT_BITS`] square grid. Bits above the grid's are ignored.
///
/// ```
/// use pointillist::index::hilbert_index;
///
/// // The curve starts at the south-west cell and ends at the south-east one.
/// assert_eq!(hilbert_index(0, 0), 0);
/// let max = (1u32 << 16) - 1;
/// assert_eq!(hilbert_index(max, 0), u32::MAX);
/// ```
#[inline]
pub fn hilbert_index(x: u32, y: u32) -> u32 {
    let mut state = 0usize;
    let mut d = 0u32;
    let mut shift = HILBERT_BITS;
    while shift > 0 {
        shift -= LEVELS_PER_STEP;
        let xn = ((x >> shift) & 0xF) as usize;
        let yn = ((y >> shift) & 0xF) as usize;
        let e = u32::from(HILBERT_TABLE[(state << 8) | (xn << 4) | yn]);
        d = (d << (2 * LEVELS_PER_STEP)) | (e & 0xFF);
        state = (e >> 8) as usize;
    }
    d
}

/// The bit-by-bit walk [`hilbert_index`] replaces (Wikipedia's `xy2d`),
/// kept to check the table against.
#[cfg(test)]
pub(super) fn hilbert_index_reference(mut x: u32, mut y: u32) -> u32 {
    let n: u32 = 1 << HILBERT_BITS;
    x &= n - 1;
    y &= n - 1;
    let mut d: u32 = 0;
    let mut s = n >> 1;
    while s > 0 {
        let rx = u32::from(x & s != 0);
        let ry = u32::from(y & s != 0);
        d = d.wrapping_add(s.wrapping_mul(s).wrapping_mul((3 * rx) ^ ry));
        if ry == 0 {
            if rx == 1 {
                x = (n - 1) - x;
                y = (n - 1) - y;
            }
            std::mem::swap(&mut x, &mut y);
        }
        s >>= 1;
    }
    d
}

/// Maps coordinates to Hilbert keys over a fixed extent.
#[derive(Debug, Clone, Copy)]
pub(super) struct Keyer {
    x0: f64,
    y0: f64,
    sx: f64,
    sy: f64,
}

impl Keyer {
    pub(super) fn new(extent: Option<((f64, f64), (f64, f64))>) -> Keyer {
        let cells = f64::from(1u32 << HILBERT_BITS);
        let scale = |lo: f64, hi: f64| if hi > lo { cells / (hi - lo) } else { 0.0 };
        match extent {
            Some(((x0, x1), (y0, y1))) => Keyer {
                x0,
                y0,
                sx: scale(x0, x1),
                sy: scale(y0, y1),
            },
            None => Keyer {
                x0: 0.0,
                y0: 0.0,
                sx: 0.0,
                sy: 0.0,
            },
        }
    }

    /// The key of one point.
    #[inline]
    fn key(&self, xv: f64, yv: f64) -> u32 {
        if !(xv.is_finite() && yv.is_finite()) {
            return MISSING_KEY;
        }
        // `floor` then clamp to [0, max], without a call to libm's floor: a
        // float-to-int cast truncates, which is floor for the non-negative
        // values, and saturates negative ones to 0. Values outside the
        // statistics' extent (which cannot happen for trusted statistics)
        // still get a key.
        let max = (1u32 << HILBERT_BITS) - 1;
        let qx = (((xv - self.x0) * self.sx) as u32).min(max);
        let qy = (((yv - self.y0) * self.sy) as u32).min(max);
        hilbert_index(qx, qy)
    }

    /// One key per row of `batch`, appended to `out`.
    pub(super) fn keys_into(&self, batch: &RecordBatch, x: &str, y: &str, out: &mut Vec<u32>) {
        let n = batch.num_rows();
        let start = out.len();
        out.resize(start + n, MISSING_KEY);
        let out = &mut out[start..];
        let xa = batch.column_by_name(x);
        let ya = batch.column_by_name(y);
        // The common case needs no conversion: f64 columns without nulls.
        fn plain(a: Option<&arrow_array::ArrayRef>) -> Option<&[f64]> {
            a.and_then(|a| a.as_any().downcast_ref::<arrow_array::Float64Array>())
                .filter(|a| a.null_count() == 0)
                .map(|a| &a.values()[..])
        }
        let converted;
        let (xs, ys) = match (plain(xa), plain(ya)) {
            (Some(xs), Some(ys)) => (xs, ys),
            _ => {
                converted = (to_f64(xa, n), to_f64(ya, n));
                (&converted.0[..], &converted.1[..])
            }
        };
        let k = *self;
        out.par_chunks_mut(16 * 1024)
            .zip(xs.par_chunks(16 * 1024).zip(ys.par_chunks(16 * 1024)))
            .for_each(|(o, (xs, ys))| {
                for ((o, &xv), &yv) in o.iter_mut().zip(xs).zip(ys) {
                    *o = k.key(xv, yv);
                }
            });
    }

    /// One key per row of `batch`.
    #[cfg(test)]
    pub(super) fn keys(&self, batch: &RecordBatch, x: &str, y: &str) -> Vec<u32> {
        let mut out = Vec::new();
        self.keys_into(batch, x, y, &mut out);
        out
    }
}

/// A column as f64, nulls (and a missing column) as NaN so they key as
/// missing.
fn to_f64(a: Option<&arrow_array::ArrayRef>, n: usize) -> Vec<f64> {
    let mut out = Vec::with_capacity(n);
    match a {
        Some(a) => {
            numeric_to_f64(a.as_ref(), &mut out);
            if a.null_count() > 0 {
                for (i, v) in out.iter_mut().enumerate() {
                    if a.is_null(i) {
                        *v = f64::NAN;
                    }
                }
            }
            out.resize(n, f64::NAN);
        }
        None => out.resize(n, f64::NAN),
    }
    out
}
