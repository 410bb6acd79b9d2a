//! Host side of the GPU path: points into the words the shaders read.
//!
//! Cells come from the CPU's own binning kernel, so the GPU never maps a
//! coordinate itself. Only points that land in a cell (with a non-NaN
//! value, where the reduction has a value column) are kept. Values become
//! 64-bit words the shaders can combine exactly with 32-bit atomics:
//!
//! - `sum`/`mean`: fixed point, `round(v * 2^k)` with `k` chosen from the
//!   column's largest magnitude ([`FixedScale`]); infinities are tagged;
//! - `min`/`max`: an order-preserving key ([`order_key`]) for `max`, its
//!   complement for `min`, so both take the largest "score" and an empty
//!   cell (all zero) is below every value;
//! - `first`/`last`: the row's position in the input as the score
//!   (complemented for `first`, plus one for `last`), the value's bits as
//!   the payload picked by the winning row;
//! - `var`/`std`: the fixed-point value and its square.

use super::super::partial::NO_CELL;
use super::super::reduction::ReductionKind;

/// High word tag of a `+inf` value in a sum chunk.
pub(super) const POS_INF_HI: u32 = 0x4000_0000;
/// High word tag of a `-inf` value in a sum chunk.
pub(super) const NEG_INF_HI: u32 = 0x8000_0000;
/// Scaled values stay below this magnitude.
const FIXED_LIMIT: f64 = 4_611_686_018_427_387_904.0; // 2^62

/// `2^e` for `-1074 <= e <= 1023`, exactly.
pub(super) fn pow2(e: i32) -> f64 {
    let e = e.clamp(-1074, 1023);
    if e >= -1022 {
        f64::from_bits(((e + 1023) as u64) << 52)
    } else {
        f64::from_bits(1u64 << (e + 1074))
    }
}

/// The power of two that scales a column's values into fixed point.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FixedScale {
    /// Values are multiplied by `2^k`.
    pub k: i32,
}

impl FixedScale {
    /// The scale for a column whose finite values have magnitude at most
    /// `max_abs`: the largest `2^k` with `max_abs * 2^k < 2^62`, so every
    /// value within 2^9 of the largest keeps all 53 bits of its mantissa.
    pub fn for_max_abs(max_abs: f64) -> FixedScale {
        if !(max_abs.is_finite() && max_abs > 0.0) {
            return FixedScale { k: 0 };
        }
        // max_abs < 2^e.
        let e = max_abs.log2().floor() as i32 + 1;
        let e = if pow2(e) <= max_abs { e + 1 } else { e };
        FixedScale {
            k: (62 - e).clamp(-1022, 1023),
        }
    }

    /// `v` scaled and rounded, as (low, high) words of an i64 (infinities
    /// tagged); `None` when its magnitude passes the column's promised
    /// maximum.
    fn encode(self, v: f64) -> Option<[u32; 2]> {
        if v == f64::INFINITY {
            return Some([0, POS_INF_HI]);
        }
        if v == f64::NEG_INFINITY {
            return Some([0, NEG_INF_HI]);
        }
        let q = self.quantize(v)? as u64;
        Some([q as u32, (q >> 32) as u32])
    }

    /// `v` (finite) scaled by `2^k` and rounded; `None` past `2^62`.
    fn quantize(self, v: f64) -> Option<i64> {
        // Two steps keep 2^k representable when k is beyond one f64 power.
        let (a, b) = (self.k / 2, self.k - self.k / 2);
        let q = (v * pow2(a) * pow2(b)).round();
        (q.abs() < FIXED_LIMIT).then_some(q as i64)
    }

    /// [`FixedScale::encode`] plus the square of the scaled value, as four
    /// more words (least significant first): what `shaders/var.wgsl` reads.
    fn encode_moments(self, v: f64) -> Option<[u32; 6]> {
        let [lo, hi] = self.encode(v)?;
        if !v.is_finite() {
            return Some([lo, hi, 0, 0, 0, 0]);
        }
        let q = self.quantize(v)?;
        let sq = (i128::from(q) * i128::from(q)) as u128;
        Some([
            lo,
            hi,
            sq as u32,
            (sq >> 32) as u32,
            (sq >> 64) as u32,
            (sq >> 96) as u32,
        ])
    }

    /// `x * 2^-k` for an f64 `x` computed from scaled integers, taking
    /// the two-step route for large `k`.
    fn unscale(self, x: f64, times: i32) -> f64 {
        let mut x = x;
        for _ in 0..times {
            let (a, b) = (-self.k / 2, -self.k - (-self.k / 2));
            x = x * pow2(a) * pow2(b);
        }
        x
    }

    /// A 96-bit two's complement sum back to f64 (one rounding).
    pub fn decode(self, words: [u32; 3]) -> f64 {
        self.unscale(sum96(words) as f64, 1)
    }

    /// `[sum, n, m2]` of a cell (the CPU's `var` state) from its exact
    /// moments: `s1` (96-bit sum of scaled values), `s2` (160-bit sum of
    /// their squares) and `n`. `n * s2 - s1^2` is formed exactly, so the
    /// only roundings are its conversion to f64 and the division by `n`.
    pub fn decode_moments(self, s1: [u32; 3], s2: [u32; 5], n: u32) -> [f64; 3] {
        let s1 = sum96(s1);
        let sum = self.unscale(s1 as f64, 1);
        if n == 0 {
            return [0.0, 0.0, 0.0];
        }
        let mut ns2 = U256::from_words(&s2);
        ns2.mul_small(n);
        let a = s1.unsigned_abs();
        let mut sq = U256::from_u128(a);
        sq.mul_u128(a);
        let d = ns2.sub(&sq);
        // m2 = sum of squared deviations = (n s2 - s1^2) / n, unscaled twice.
        let m2 = self.unscale(d.to_f64() / f64::from(n), 2);
        [sum, f64::from(n), m2]
    }
}

/// The 96-bit two's complement integer in three words.
fn sum96(words: [u32; 3]) -> i128 {
    let raw = (u128::from(words[2]) << 64) | (u128::from(words[1]) << 32) | u128::from(words[0]);
    ((raw << 32) as i128) >> 32
}

/// Just enough unsigned 256-bit arithmetic for [`FixedScale::decode_moments`]:
/// four 64-bit limbs, least significant first.
#[derive(Debug, Clone, Copy, PartialEq)]
struct U256([u64; 4]);

impl U256 {
    fn from_words(w: &[u32; 5]) -> U256 {
        let limb = |i: usize| {
            let lo = w.get(2 * i).copied().unwrap_or(0);
            let hi = w.get(2 * i + 1).copied().unwrap_or(0);
            u64::from(lo) | (u64::from(hi) << 32)
        };
        U256([limb(0), limb(1), limb(2), 0])
    }

    fn from_u128(v: u128) -> U256 {
        U256([v as u64, (v >> 64) as u64, 0, 0])
    }

    fn mul_small(&mut self, m: u32) {
        let mut carry = 0u128;
        for l in &mut self.0 {
            let p = u128::from(*l) * u128::from(m) + carry;
            *l = p as u64;
            carry = p >> 64;
        }
    }

    /// `self * m` for `self < 2^128` (the square of a 94-bit sum fits).
    fn mul_u128(&mut self, m: u128) {
        let a = [self.0[0], self.0[1]];
        let b = [m as u64, (m >> 64) as u64];
        let mut out = [0u64; 4];
        for (i, &x) in a.iter().enumerate() {
            let mut carry = 0u128;
            for (j, &y) in b.iter().enumerate() {
                let t = u128::from(out[i + j]) + u128::from(x) * u128::from(y) + carry;
                out[i + j] = t as u64;
                carry = t >> 64;
            }
            out[i + 2] = carry as u64;
        }
        self.0 = out;
    }

    /// `self - other`, or zero when `other` is larger (which exact
    /// moments never give: `n s2 >= s1^2` by Cauchy-Schwarz).
    fn sub(&self, other: &U256) -> U256 {
        let mut out = [0u64; 4];
        let mut borrow = false;
        for (i, o) in out.iter_mut().enumerate() {
            let (d, b1) = self.0[i].overflowing_sub(other.0[i]);
            let (d, b2) = d.overflowing_sub(u64::from(borrow));
            *o = d;
            borrow = b1 || b2;
        }
        if borrow {
            U256([0; 4])
        } else {
            U256(out)
        }
    }

    /// Rounded to the nearest f64: the top 128 bits, with a sticky bit
    /// standing for any set bit below them, convert with one rounding.
    fn to_f64(self) -> f64 {
        let Some(top) = (0..4).rev().find(|&i| self.0[i] != 0) else {
            return 0.0;
        };
        if top <= 1 {
            return ((u128::from(self.0[1]) << 64) | u128::from(self.0[0])) as f64;
        }
        // Left-align the top limb, fill from the limbs below.
        let lz = self.0[top].leading_zeros();
        let wide = |i: usize| self.0.get(i).copied().unwrap_or(0);
        let mut bits = (u128::from(wide(top)) << 64) | u128::from(wide(top - 1));
        let next = wide(top - 2);
        let mut sticky = (0..top - 2).any(|i| self.0[i] != 0);
        if lz > 0 {
            bits = (bits << lz) | u128::from(next >> (64 - lz));
            sticky |= next << lz != 0;
        } else {
            sticky |= next != 0;
        }
        if sticky {
            bits |= 1;
        }
        // `bits` is the value shifted right by 64 * (top - 1) - lz.
        (bits as f64) * pow2(64 * (top as i32 - 1) - lz as i32)
    }
}

/// The order-preserving key of a non-NaN `v`: unsigned order of keys is
/// the numeric order of values, with -0.0 taken as +0.0.
pub fn order_key(v: f64) -> u64 {
    let bits = (v + 0.0).to_bits();
    if bits >> 63 == 1 {
        !bits
    } else {
        bits | 1 << 63
    }
}

/// The value of a key made by [`order_key`].
pub fn from_order_key(key: u64) -> f64 {
    if key >> 63 == 1 {
        f64::from_bits(key & !(1 << 63))
    } else {
        f64::from_bits(!key)
    }
}

/// What the shaders need per point for one reduction.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Encoding {
    /// Cells only (`count`, `any`, with or without a value column).
    Cells,
    /// Cells and fixed-point values (`sum`, `mean`).
    Fixed(FixedScale),
    /// Cells and complemented keys (`min`).
    MinKey,
    /// Cells and keys (`max`).
    MaxKey,
    /// Cells, fixed-point values and their squares (`var`, `std`).
    Moments(FixedScale),
    /// Cells, complemented row positions and values (`first`).
    FirstRow,
    /// Cells, row positions plus one and values (`last`).
    LastRow,
}

impl Encoding {
    /// The encoding for `kind` (`None` for the `_n` reductions, which run
    /// on the CPU only).
    pub fn for_kind(kind: ReductionKind, scale: FixedScale) -> Option<Encoding> {
        Some(match kind {
            ReductionKind::Count | ReductionKind::Any => Encoding::Cells,
            ReductionKind::Sum | ReductionKind::Mean => Encoding::Fixed(scale),
            ReductionKind::Min => Encoding::MinKey,
            ReductionKind::Max => Encoding::MaxKey,
            ReductionKind::Var | ReductionKind::Std => Encoding::Moments(scale),
            ReductionKind::First => Encoding::FirstRow,
            ReductionKind::Last => Encoding::LastRow,
            ReductionKind::FirstN
            | ReductionKind::LastN
            | ReductionKind::MinN
            | ReductionKind::MaxN => return None,
        })
    }

    /// Bytes uploaded per point: its cell, its words and, for first/last,
    /// the value picked.
    pub fn bytes_per_point(self) -> usize {
        let payload = matches!(self, Encoding::FirstRow | Encoding::LastRow);
        4 * (1 + self.words_per_point() + if payload { 2 } else { 0 })
    }

    /// 32-bit words uploaded per point besides its cell.
    pub fn words_per_point(self) -> usize {
        match self {
            Encoding::Cells => 0,
            Encoding::Fixed(_)
            | Encoding::MinKey
            | Encoding::MaxKey
            | Encoding::FirstRow
            | Encoding::LastRow => 2,
            Encoding::Moments(_) => 6,
        }
    }
}

/// Kept points of part of the input, ready to upload.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PointChunk {
    /// Cell of each kept point.
    pub cells: Vec<u32>,
    /// [`Encoding::words_per_point`] words per kept point.
    pub words: Vec<u32>,
    /// `first`/`last` only: the value's bits, two words per kept point.
    pub payload: Vec<u32>,
}

impl PointChunk {
    /// Number of points.
    pub fn len(&self) -> usize {
        self.cells.len()
    }

    /// True when no point is kept.
    pub fn is_empty(&self) -> bool {
        self.cells.is_empty()
    }

    /// Drop every point, keeping the memory.
    pub fn clear(&mut self) {
        self.cells.clear();
        self.words.clear();
        self.payload.clear();
    }

    /// Append the points of one batch whose first row is row `first_row`
    /// of the input: `cells[i]` (or [`NO_CELL`]) and, with a value column,
    /// `values[i]` (NaN = missing). Returns the first value that does not
    /// fit the fixed-point scale, if any.
    pub fn push(
        &mut self,
        enc: Encoding,
        first_row: u64,
        cells: &[u32],
        values: Option<&[f64]>,
    ) -> Result<(), f64> {
        match (enc, values) {
            (_, None) => {
                self.cells
                    .extend(cells.iter().copied().filter(|&c| c != NO_CELL));
            }
            (Encoding::Cells, Some(values)) => {
                self.cells.extend(
                    cells
                        .iter()
                        .zip(values)
                        .filter(|(&c, v)| c != NO_CELL && !v.is_nan())
                        .map(|(&c, _)| c),
                );
            }
            (Encoding::Fixed(scale), Some(values)) => {
                self.push_words(cells, values, |v| scale.encode(v).ok_or(v))?;
            }
            (Encoding::MinKey, Some(values)) => {
                self.push_words(cells, values, |v| Ok(split(!order_key(v))))?;
            }
            (Encoding::MaxKey, Some(values)) => {
                self.push_words(cells, values, |v| Ok(split(order_key(v))))?;
            }
            (Encoding::Moments(scale), Some(values)) => {
                self.push_words(cells, values, |v| scale.encode_moments(v).ok_or(v))?;
            }
            (Encoding::FirstRow | Encoding::LastRow, Some(values)) => {
                let first = enc == Encoding::FirstRow;
                for (row, (&c, &v)) in (first_row..).zip(cells.iter().zip(values)) {
                    if c == NO_CELL || v.is_nan() {
                        continue;
                    }
                    // Last takes row + 1 so that no score is 0, the empty mark.
                    let score = if first { !row } else { row + 1 };
                    self.cells.push(c);
                    self.words.extend_from_slice(&split(score));
                    self.payload.extend_from_slice(&split(v.to_bits()));
                }
            }
        }
        Ok(())
    }

    fn push_words<const W: usize>(
        &mut self,
        cells: &[u32],
        values: &[f64],
        word: impl Fn(f64) -> Result<[u32; W], f64>,
    ) -> Result<(), f64> {
        for (&c, &v) in cells.iter().zip(values) {
            if c == NO_CELL || v.is_nan() {
                continue;
            }
            let w = word(v)?;
            self.cells.push(c);
            self.words.extend_from_slice(&w);
        }
        Ok(())
    }
}

fn split(k: u64) -> [u32; 2] {
    [k as u32, (k >> 32) as u32]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_order_like_values() {
        let mut vals = vec![
            f64::NEG_INFINITY,
            -1e300,
            -2.5,
            -f64::MIN_POSITIVE,
            -0.0,
            0.0,
            f64::from_bits(1),
            1.0,
            1.0 + f64::EPSILON,
            3e200,
            f64::INFINITY,
        ];
        let keys: Vec<u64> = vals.iter().map(|&v| order_key(v)).collect();
        for w in keys.windows(2) {
            assert!(w[0] <= w[1], "{w:?}");
        }
        // -0.0 and 0.0 share a key; every other neighbour is strictly ordered.
        assert_eq!(keys[4], keys[5]);
        vals[4] = 0.0;
        for (&v, &k) in vals.iter().zip(&keys) {
            assert_eq!(from_order_key(k).to_bits(), v.to_bits());
        }
        // No non-NaN score (key or complement) is the empty marker 0.
        assert!(keys.iter().all(|&k| k != 0 && !k != 0));
    }

    #[test]
    fn fixed_point_sums_are_exact_for_values_near_the_maximum() {
        let vals: [f64; 6] = [1.5, -0.25, 1e3, -999.125, 0.1, 7.0];
        let max_abs = vals.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        let scale = FixedScale::for_max_abs(max_abs);
        let mut total: i128 = 0;
        for &v in &vals {
            let [lo, hi] = scale.encode(v).expect("in range");
            total += i128::from(((u64::from(hi) << 32) | u64::from(lo)) as i64);
        }
        let t = total as u128;
        let words = [t as u32, (t >> 32) as u32, (t >> 64) as u32];
        let got = scale.decode(words);
        let exact = 1.5 - 0.25 + 1e3 - 999.125 + 0.1 + 7.0;
        assert!(
            (got - exact).abs() <= 1e-15 * exact.abs(),
            "{got} vs {exact}"
        );
    }

    #[test]
    fn scale_keeps_the_largest_value_below_two_to_the_62() {
        for m in [
            1.0,
            0.75,
            1e-300,
            3e300,
            123456.0,
            f64::MAX,
            f64::from_bits(1),
        ] {
            let scale = FixedScale::for_max_abs(m);
            assert!(scale.encode(m).is_some(), "{m}");
            assert!(scale.encode(-m).is_some(), "{m}");
        }
        // Far past the promised maximum: refused rather than wrapped.
        assert_eq!(FixedScale::for_max_abs(1.0).encode(1e6), None);
        assert_eq!(FixedScale::for_max_abs(0.0).k, 0);
    }

    #[test]
    fn wide_integers_convert_with_one_rounding() {
        // 2^130 + 2^77 + 1: the +1 is a sticky bit that rounds a tie up.
        let v = U256([1, 1 << 13, 4, 0]);
        let want = 2f64.powi(130) + 2f64.powi(78);
        assert_eq!(v.to_f64(), want);
        assert_eq!(U256([0, 0, 4, 0]).to_f64(), 2f64.powi(130));
        assert_eq!(U256([5, 0, 0, 0]).to_f64(), 5.0);
        let mut m = U256::from_u128(u128::MAX);
        m.mul_u128(u128::MAX);
        // (2^128 - 1)^2 = 2^256 - 2^129 + 1.
        assert_eq!(m, U256([1, 0, u64::MAX - 1, u64::MAX]));
        assert_eq!(
            m.sub(&U256([2, 0, 0, 0])),
            U256([u64::MAX, u64::MAX, u64::MAX - 2, u64::MAX])
        );
    }

    #[test]
    fn moments_give_the_exact_variance() {
        let vals: [f64; 4] = [1e8 + 0.25, 1e8 + 0.5, 1e8 + 0.75, 1e8 + 1.0];
        let scale = FixedScale::for_max_abs(1e8 + 1.0);
        let (mut s1, mut s2) = (0i128, 0u128);
        for &v in &vals {
            let q = scale.quantize(v).expect("in range");
            s1 += i128::from(q);
            s2 += (i128::from(q) * i128::from(q)) as u128;
        }
        let s1w = [s1 as u32, (s1 >> 32) as u32, (s1 >> 64) as u32];
        let s2w = [
            s2 as u32,
            (s2 >> 32) as u32,
            (s2 >> 64) as u32,
            (s2 >> 96) as u32,
            0,
        ];
        let [sum, n, m2] = scale.decode_moments(s1w, s2w, 4);
        assert_eq!(n, 4.0);
        assert_eq!(sum, 4e8 + 2.5);
        assert_eq!(m2 / n, 0.078125);
    }

    #[test]
    fn chunks_keep_only_binned_non_nan_points() {
        let mut c = PointChunk::default();
        let cells = [3, NO_CELL, 5, 7];
        let vals = [1.0, 2.0, f64::NAN, -4.0];
        c.push(Encoding::Cells, 0, &cells, None).expect("cells");
        assert_eq!(c.cells, vec![3, 5, 7]);
        c.clear();
        c.push(Encoding::Cells, 0, &cells, Some(&vals))
            .expect("cells");
        assert_eq!(c.cells, vec![3, 7]);
        c.clear();
        c.push(Encoding::MaxKey, 0, &cells, Some(&vals))
            .expect("keys");
        assert_eq!(c.cells, vec![3, 7]);
        assert_eq!(c.words.len(), 4);
        let k = (u64::from(c.words[3]) << 32) | u64::from(c.words[2]);
        assert_eq!(from_order_key(k), -4.0);
    }
}
