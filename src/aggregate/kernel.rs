//! Hot loops: coordinate columns to pixel indices, straight from Arrow
//! buffers.
//!
//! Each physical type gets its own monomorphised loop over the raw value
//! slice (no per-point dispatch, no intermediate f64 copy for f32/f64
//! columns), written branch-free so the compiler can vectorise the index
//! computation. Nulls are applied afterwards from the validity bitmap. The
//! arithmetic is exactly [`Geometry`]'s: `int(v * s + t)` in f64 with the
//! upper-edge clamp; log axes take the general per-point path.

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Float32Type, Float64Type, Int16Type, Int32Type, Int64Type, Int8Type, UInt16Type, UInt32Type,
    UInt64Type, UInt8Type,
};
use arrow_array::{Array, ArrowPrimitiveType};
use arrow_schema::DataType;

use super::geometry::{AxisKind, Geometry, NO_PIXEL};

/// A number that widens to f64 the way NumPy casts it.
pub trait Widen: Copy {
    /// The value as f64 (exact for every integer up to 2^53 and every float).
    fn widen(self) -> f64;
}

macro_rules! widen {
    ($($t:ty),*) => {$(
        impl Widen for $t {
            #[inline(always)]
            fn widen(self) -> f64 {
                self as f64
            }
        }
    )*};
}
widen!(f32, f64, i8, i16, i32, i64, u8, u16, u32, u64);

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
    fn of(g: &Geometry) -> Option<Linear> {
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
    /// upper-edge rule is a `min`.
    #[inline(always)]
    fn bin_with<X: Widen, Y: Widen>(
        &self,
        xs: &[X],
        ys: &[Y],
        out: &mut [u32],
        to_int: impl Fn(f64) -> u32,
    ) {
        for ((o, x), y) in out.iter_mut().zip(xs).zip(ys) {
            let x = x.widen();
            let y = y.widen();
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
            let (cx, cy) = (to_int(fx), to_int(fy));
            *o = if inside { cy * self.w + cx } else { NO_PIXEL };
        }
    }

    /// Pixel of every point, truncating with a float-to-int conversion.
    #[inline(always)]
    pub(super) fn bin<X: Widen, Y: Widen>(&self, xs: &[X], ys: &[Y], out: &mut [u32]) {
        self.bin_with(xs, ys, out, |f| f as i32 as u32);
    }

    /// The same mapping with truncation done as `trunc` plus the 2^52 trick
    /// (for an integer-valued `0 <= t < 2^31`, the low 32 bits of
    /// `(t + 2^52).to_bits()` are `t`). With SSE4.1 or better `trunc` is one
    /// vector instruction, so the loop vectorises fully; on the SSE2
    /// baseline it would be a libm call, so [`Linear::bin`] serves there.
    #[inline(always)]
    pub(super) fn bin_trunc<X: Widen, Y: Widen>(&self, xs: &[X], ys: &[Y], out: &mut [u32]) {
        const MAGIC: f64 = 4_503_599_627_370_496.0; // 2^52
        self.bin_with(xs, ys, out, |f| (f.trunc() + MAGIC).to_bits() as u32);
    }
}

fn values<T: ArrowPrimitiveType>(a: &dyn Array) -> Option<&[T::Native]> {
    a.as_primitive_opt::<T>().map(|p| p.values().as_ref())
}

/// Set `out[i] = NO_PIXEL` wherever `a` is null.
fn mask_nulls(a: &dyn Array, out: &mut [u32]) {
    if let Some(nulls) = a.logical_nulls().filter(|n| n.null_count() > 0) {
        for (o, valid) in out.iter_mut().zip(nulls.iter()) {
            if !valid {
                *o = NO_PIXEL;
            }
        }
    }
}

/// Bin typed slices: linear fast path or the general per-point path.
fn bin_typed<X: Widen, Y: Widen>(
    g: &Geometry,
    lin: Option<Linear>,
    xs: &[X],
    ys: &[Y],
    out: &mut [u32],
) {
    match lin {
        Some(l) => super::simd::bin_linear(&l, xs, ys, out),
        None => {
            for ((o, x), y) in out.iter_mut().zip(xs).zip(ys) {
                *o = g.pixel(x.widen(), y.widen()).map_or(NO_PIXEL, |p| p as u32);
            }
        }
    }
}

macro_rules! dispatch_y {
    ($g:expr, $lin:expr, $xs:expr, $ya:expr, $out:expr) => {
        match $ya.data_type() {
            DataType::Float32 => {
                values::<Float32Type>($ya).map(|ys| bin_typed($g, $lin, $xs, ys, $out))
            }
            DataType::Float64 => {
                values::<Float64Type>($ya).map(|ys| bin_typed($g, $lin, $xs, ys, $out))
            }
            DataType::Int8 => values::<Int8Type>($ya).map(|ys| bin_typed($g, $lin, $xs, ys, $out)),
            DataType::Int16 => {
                values::<Int16Type>($ya).map(|ys| bin_typed($g, $lin, $xs, ys, $out))
            }
            DataType::Int32 => {
                values::<Int32Type>($ya).map(|ys| bin_typed($g, $lin, $xs, ys, $out))
            }
            DataType::Int64 => {
                values::<Int64Type>($ya).map(|ys| bin_typed($g, $lin, $xs, ys, $out))
            }
            DataType::UInt8 => {
                values::<UInt8Type>($ya).map(|ys| bin_typed($g, $lin, $xs, ys, $out))
            }
            DataType::UInt16 => {
                values::<UInt16Type>($ya).map(|ys| bin_typed($g, $lin, $xs, ys, $out))
            }
            DataType::UInt32 => {
                values::<UInt32Type>($ya).map(|ys| bin_typed($g, $lin, $xs, ys, $out))
            }
            DataType::UInt64 => {
                values::<UInt64Type>($ya).map(|ys| bin_typed($g, $lin, $xs, ys, $out))
            }
            _ => None,
        }
    };
}

/// The pixel index (`row * width + col`, row 0 = lowest y) of every row of
/// the coordinate arrays, or [`NO_PIXEL`] where the point is null, NaN or
/// out of range. Returns the name of the offending axis (`"x"` or `"y"`)
/// when a column is not numeric.
pub fn bin_arrays(
    g: &Geometry,
    xa: &dyn Array,
    ya: &dyn Array,
    out: &mut Vec<u32>,
) -> Result<(), &'static str> {
    let n = xa.len().min(ya.len());
    out.clear();
    out.resize(n, NO_PIXEL);
    let lin = Linear::of(g);
    let o = out.as_mut_slice();
    let done = match xa.data_type() {
        DataType::Float32 => {
            values::<Float32Type>(xa).and_then(|xs| dispatch_y!(g, lin, xs, ya, o))
        }
        DataType::Float64 => {
            values::<Float64Type>(xa).and_then(|xs| dispatch_y!(g, lin, xs, ya, o))
        }
        DataType::Int8 => values::<Int8Type>(xa).and_then(|xs| dispatch_y!(g, lin, xs, ya, o)),
        DataType::Int16 => values::<Int16Type>(xa).and_then(|xs| dispatch_y!(g, lin, xs, ya, o)),
        DataType::Int32 => values::<Int32Type>(xa).and_then(|xs| dispatch_y!(g, lin, xs, ya, o)),
        DataType::Int64 => values::<Int64Type>(xa).and_then(|xs| dispatch_y!(g, lin, xs, ya, o)),
        DataType::UInt8 => values::<UInt8Type>(xa).and_then(|xs| dispatch_y!(g, lin, xs, ya, o)),
        DataType::UInt16 => values::<UInt16Type>(xa).and_then(|xs| dispatch_y!(g, lin, xs, ya, o)),
        DataType::UInt32 => values::<UInt32Type>(xa).and_then(|xs| dispatch_y!(g, lin, xs, ya, o)),
        DataType::UInt64 => values::<UInt64Type>(xa).and_then(|xs| dispatch_y!(g, lin, xs, ya, o)),
        _ => return Err("x"),
    };
    if done.is_none() {
        return Err(if crate::source::is_numeric_type(xa.data_type()) {
            "y"
        } else {
            "x"
        });
    }
    mask_nulls(xa, o);
    mask_nulls(ya, o);
    Ok(())
}

/// [`bin_arrays`] for longitude/latitude columns: each point is projected
/// to Web Mercator metres ([`super::mercator`]) into `projected` first
/// (nulls become NaN, which no range keeps), then binned on `g`, whose
/// ranges are in metres.
pub fn bin_lnglat(
    g: &Geometry,
    xa: &dyn Array,
    ya: &dyn Array,
    out: &mut Vec<u32>,
    projected: &mut [Vec<f64>; 2],
) -> Result<(), &'static str> {
    let [xs, ys] = projected;
    xs.clear();
    ys.clear();
    if !crate::source::numeric_to_f64(xa, xs) {
        return Err("x");
    }
    if !crate::source::numeric_to_f64(ya, ys) {
        return Err("y");
    }
    for v in xs.iter_mut() {
        *v = super::mercator::lng_to_x(*v);
    }
    for v in ys.iter_mut() {
        *v = super::mercator::lat_to_y(*v);
    }
    let n = xs.len().min(ys.len());
    out.clear();
    out.resize(n, NO_PIXEL);
    bin_typed(g, Linear::of(g), &xs[..n], &ys[..n], out);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{Float32Array, Float64Array, Int64Array};

    fn reference(g: &Geometry, xs: &[f64], ys: &[f64]) -> Vec<u32> {
        let mut v = Vec::new();
        g.bin_points(xs, ys, &mut v);
        v
    }

    #[test]
    fn fast_path_matches_the_reference_mapping() {
        let g = Geometry::new(
            444,
            77,
            (-9.433050469559873, 7.283893957798323),
            (-1.0, 1.0),
            AxisKind::Linear,
            AxisKind::Linear,
        );
        let mut xs = vec![
            2.313991560475615,
            -9.433050469559873,
            7.283893957798323,
            f64::NAN,
            8.0,
            -10.0,
        ];
        let mut ys = vec![0.0, -1.0, 1.0, 0.5, 0.5, 0.5];
        for i in 0..2000 {
            let t = i as f64 / 1999.0;
            xs.push(-9.5 + 17.0 * t);
            ys.push(-1.05 + 2.1 * (1.0 - t));
        }
        let expected = reference(&g, &xs, &ys);
        let mut got = Vec::new();
        bin_arrays(
            &g,
            &Float64Array::from(xs.clone()),
            &Float64Array::from(ys.clone()),
            &mut got,
        )
        .expect("numeric");
        assert_eq!(got, expected);
        // f32 columns widen exactly.
        let xs32: Vec<f32> = xs.iter().map(|&v| v as f32).collect();
        let ys32: Vec<f32> = ys.iter().map(|&v| v as f32).collect();
        let widened: Vec<f64> = xs32.iter().map(|&v| f64::from(v)).collect();
        let widened_y: Vec<f64> = ys32.iter().map(|&v| f64::from(v)).collect();
        bin_arrays(
            &g,
            &Float32Array::from(xs32),
            &Float32Array::from(ys32),
            &mut got,
        )
        .expect("numeric");
        assert_eq!(got, reference(&g, &widened, &widened_y));
    }

    #[test]
    fn nulls_are_dropped_and_log_axes_use_the_general_path() {
        let g = Geometry::new(
            4,
            4,
            (1.0, 10_000.0),
            (0.0, 4.0),
            AxisKind::Log,
            AxisKind::Linear,
        );
        let xa = Int64Array::from(vec![Some(1), None, Some(10), Some(10_000), Some(0)]);
        let ya = Float64Array::from(vec![0.5, 0.5, 1.5, 4.0, 1.0]);
        let mut got = Vec::new();
        bin_arrays(&g, &xa, &ya, &mut got).expect("numeric");
        assert_eq!(got, vec![0, NO_PIXEL, 4 + 1, 12 + 3, NO_PIXEL]);
    }

    #[test]
    fn non_numeric_columns_are_named() {
        let g = Geometry::new(
            2,
            2,
            (0.0, 1.0),
            (0.0, 1.0),
            AxisKind::Linear,
            AxisKind::Linear,
        );
        let s = arrow_array::StringArray::from(vec!["a"]);
        let f = Float64Array::from(vec![0.5]);
        let mut out = Vec::new();
        assert_eq!(bin_arrays(&g, &s, &f, &mut out), Err("x"));
        assert_eq!(bin_arrays(&g, &f, &s, &mut out), Err("y"));
    }
}
