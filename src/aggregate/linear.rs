//! The linear-axis binning loop and the numeric types it reads: shared by
//! the kernels ([`super::kernel`]) and their AVX2 build ([`super::simd`]),
//! so that neither of those depends on the other.

use arrow_array::types::{
    Date32Type, Date64Type, DurationMicrosecondType, DurationMillisecondType,
    DurationNanosecondType, DurationSecondType, Float16Type, Float32Type, Float64Type, Int16Type,
    Int32Type, Int64Type, Int8Type, TimestampMicrosecondType, TimestampMillisecondType,
    TimestampNanosecondType, TimestampSecondType, UInt16Type, UInt32Type, UInt64Type, UInt8Type,
};
use arrow_array::ArrowPrimitiveType;

use super::geometry::{AxisKind, Geometry, NO_PIXEL};

/// An Arrow numeric type whose values widen to f64 the way NumPy casts
/// them: exact for every float (half, single, double) and every integer up
/// to 2^53. (On the Arrow type, not its native value, so that half floats,
/// whose native type comes from a crate pointillist does not name, fit.)
pub(super) trait Widen: ArrowPrimitiveType {
    /// The value as f64.
    fn widen(v: Self::Native) -> f64;
}

macro_rules! widen {
    ($($t:ty),*) => {$(
        impl Widen for $t {
            #[inline(always)]
            fn widen(v: Self::Native) -> f64 {
                v as f64
            }
        }
    )*};
}
widen!(
    Float32Type,
    Float64Type,
    Int8Type,
    Int16Type,
    Int32Type,
    Int64Type,
    UInt8Type,
    UInt16Type,
    UInt32Type,
    UInt64Type,
    TimestampSecondType,
    TimestampMillisecondType,
    TimestampMicrosecondType,
    TimestampNanosecondType,
    Date32Type,
    Date64Type,
    DurationSecondType,
    DurationMillisecondType,
    DurationMicrosecondType,
    DurationNanosecondType
);

impl Widen for Float16Type {
    #[inline(always)]
    fn widen(v: Self::Native) -> f64 {
        f64::from(v)
    }
}

/// Linear-axis constants, hoisted out of the loop.
#[derive(Debug, Clone, Copy)]
pub(super) struct Linear {
    x0: f64,
    x1: f64,
    sx: f64,
    tx: f64,
    y0: f64,
    y1: f64,
    sy: f64,
    ty: f64,
    w: u32,
    xmaxf: f64,
    ymaxf: f64,
}

impl Linear {
    pub(super) fn of(g: &Geometry) -> Option<Linear> {
        if g.x.kind != AxisKind::Linear || g.y.kind != AxisKind::Linear {
            return None;
        }
        Some(Linear {
            x0: g.x.range.0,
            x1: g.x.hi,
            sx: g.x.s,
            tx: g.x.t,
            y0: g.y.range.0,
            y1: g.y.hi,
            sy: g.y.s,
            ty: g.y.t,
            w: g.width() as u32,
            xmaxf: (g.width() - 1) as f64,
            ymaxf: (g.height() - 1) as f64,
        })
    }

    /// Pixel of every point, converting each (non-negative, integer-range)
    /// scaled coordinate to an integer with `to_int`. For an in-range value
    /// `v * s + t >= 0` exactly (rounding is monotonic and `t = -min * s`),
    /// so truncation toward zero is a plain conversion and Datashader's
    /// upper-edge rule is a `min`. `combine` turns the two truncated
    /// coordinates into the pixel index.
    #[inline(always)]
    fn bin_with<X: Widen, Y: Widen>(
        &self,
        xs: &[X::Native],
        ys: &[Y::Native],
        out: &mut [u32],
        combine: impl Fn(f64, f64) -> u32,
    ) {
        for ((o, x), y) in out.iter_mut().zip(xs).zip(ys) {
            let x = X::widen(*x);
            let y = Y::widen(*y);
            let inside = (x >= self.x0) & (x <= self.x1) & (y >= self.y0) & (y <= self.y1);
            // Out-of-range points get 0 before the conversion so that it
            // never sees NaN or a huge value; `min` is the upper-edge rule
            // (trunc(min(v, n-1)) == min(trunc(v), n-1) for integer n-1).
            let fx = if inside {
                (x * self.sx + self.tx).min(self.xmaxf)
            } else {
                0.0
            };
            let fy = if inside {
                (y * self.sy + self.ty).min(self.ymaxf)
            } else {
                0.0
            };
            let v = combine(fx, fy);
            *o = if inside { v } else { NO_PIXEL };
        }
    }

    /// Pixel of every point, truncating with a float-to-int conversion.
    #[inline(always)]
    pub(super) fn bin<X: Widen, Y: Widen>(
        &self,
        xs: &[X::Native],
        ys: &[Y::Native],
        out: &mut [u32],
    ) {
        let w = self.w;
        self.bin_with::<X, Y>(xs, ys, out, |fx, fy| {
            (fy as i32 as u32) * w + fx as i32 as u32
        });
    }

    /// The same mapping with truncation done as `trunc` plus the 2^52 trick
    /// (for an integer-valued `0 <= t < 2^32`, the low 32 bits of
    /// `(t + 2^52).to_bits()` are `t`). With SSE4.1 or better `trunc` is one
    /// vector instruction, so the loop vectorises fully; on the SSE2
    /// baseline it would be a libm call, so [`Linear::bin`] serves there.
    #[inline(always)]
    pub(super) fn bin_trunc<X: Widen, Y: Widen>(
        &self,
        xs: &[X::Native],
        ys: &[Y::Native],
        out: &mut [u32],
    ) {
        let w = self.w;
        self.bin_with::<X, Y>(xs, ys, out, |fx, fy| {
            to_u32(fy.trunc()) * w + to_u32(fx.trunc())
        });
    }

    /// [`Linear::bin_trunc`] with the index `row * width + col` formed in
    /// f64 (exact: both are integers and the index is below 2^32) and
    /// converted once, so the loop has no integer multiply: faster with
    /// AVX-512's eight f64 lanes, slower with AVX2's four (measured in
    /// `benches/kernels.rs`, `bin_linear`). The same results.
    #[inline(always)]
    pub(super) fn bin_trunc_wide<X: Widen, Y: Widen>(
        &self,
        xs: &[X::Native],
        ys: &[Y::Native],
        out: &mut [u32],
    ) {
        let w = f64::from(self.w);
        self.bin_with::<X, Y>(xs, ys, out, |fx, fy| to_u32(fy.trunc() * w + fx.trunc()));
    }
}

/// An integer-valued `0 <= t < 2^32` as u32, by the 2^52 trick.
#[inline(always)]
fn to_u32(t: f64) -> u32 {
    const MAGIC: f64 = 4_503_599_627_370_496.0; // 2^52
    (t + MAGIC).to_bits() as u32
}
