//! Hot loops: coordinate columns to pixel indices, straight from Arrow
//! buffers.
//!
//! Each physical type gets its own monomorphised loop over the raw value
//! slice (no per-point dispatch, no intermediate f64 copy for f32/f64
//! columns), written branch-free so the compiler can vectorise the index
//! computation. Nulls are applied afterwards from the validity bitmap. The
//! arithmetic is exactly [`Geometry`]'s: `int(v * s + t)` in f64 with the
//! upper-edge clamp; log axes take the general per-point path. Every
//! numeric Arrow type is read: the integers, `Float16` (half precision,
//! widened exactly), `Float32` and `Float64`.

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Date32Type, Date64Type, DurationMicrosecondType, DurationMillisecondType,
    DurationNanosecondType, DurationSecondType, Float16Type, Float32Type, Float64Type, Int16Type,
    Int32Type, Int64Type, Int8Type, TimestampMicrosecondType, TimestampMillisecondType,
    TimestampNanosecondType, TimestampSecondType, UInt16Type, UInt32Type, UInt64Type, UInt8Type,
};
use arrow_array::{Array, ArrowPrimitiveType};
use arrow_schema::{DataType, TimeUnit};

use super::geometry::{Geometry, NO_PIXEL};
use super::linear::{Linear, Widen};
use super::simd;

/// The coordinate column that the kernels could not read as numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NotNumeric {
    /// The x column.
    #[error("the x column is not numeric")]
    X,
    /// The y column.
    #[error("the y column is not numeric")]
    Y,
}

/// `$body` with the type `$t` bound to the Arrow type of the numeric data
/// type `$dt`, as `Some($body)`; `None` for any other data type.
macro_rules! with_numeric {
    ($dt:expr, $t:ident => $body:expr) => {
        match $dt {
            DataType::Float16 => {
                type $t = Float16Type;
                Some($body)
            }
            DataType::Float32 => {
                type $t = Float32Type;
                Some($body)
            }
            DataType::Float64 => {
                type $t = Float64Type;
                Some($body)
            }
            DataType::Int8 => {
                type $t = Int8Type;
                Some($body)
            }
            DataType::Int16 => {
                type $t = Int16Type;
                Some($body)
            }
            DataType::Int32 => {
                type $t = Int32Type;
                Some($body)
            }
            DataType::Int64 => {
                type $t = Int64Type;
                Some($body)
            }
            DataType::UInt8 => {
                type $t = UInt8Type;
                Some($body)
            }
            DataType::UInt16 => {
                type $t = UInt16Type;
                Some($body)
            }
            DataType::UInt32 => {
                type $t = UInt32Type;
                Some($body)
            }
            DataType::UInt64 => {
                type $t = UInt64Type;
                Some($body)
            }
            // Times as their count of units since the epoch.
            DataType::Timestamp(TimeUnit::Second, _) => {
                type $t = TimestampSecondType;
                Some($body)
            }
            DataType::Timestamp(TimeUnit::Millisecond, _) => {
                type $t = TimestampMillisecondType;
                Some($body)
            }
            DataType::Timestamp(TimeUnit::Microsecond, _) => {
                type $t = TimestampMicrosecondType;
                Some($body)
            }
            DataType::Timestamp(TimeUnit::Nanosecond, _) => {
                type $t = TimestampNanosecondType;
                Some($body)
            }
            DataType::Date32 => {
                type $t = Date32Type;
                Some($body)
            }
            DataType::Date64 => {
                type $t = Date64Type;
                Some($body)
            }
            DataType::Duration(TimeUnit::Second) => {
                type $t = DurationSecondType;
                Some($body)
            }
            DataType::Duration(TimeUnit::Millisecond) => {
                type $t = DurationMillisecondType;
                Some($body)
            }
            DataType::Duration(TimeUnit::Microsecond) => {
                type $t = DurationMicrosecondType;
                Some($body)
            }
            DataType::Duration(TimeUnit::Nanosecond) => {
                type $t = DurationNanosecondType;
                Some($body)
            }
            _ => None,
        }
    };
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
    xs: &[X::Native],
    ys: &[Y::Native],
    out: &mut [u32],
) {
    match lin {
        Some(lin) => simd::bin_linear::<X, Y>(&lin, xs, ys, out),
        None => {
            for ((o, &x), &y) in out.iter_mut().zip(xs).zip(ys) {
                *o = g
                    .pixel(X::widen(x), Y::widen(y))
                    .map_or(NO_PIXEL, |p| p as u32);
            }
        }
    }
}

/// The pixel index (`row * width + col`, row 0 = lowest y) of every row of
/// the coordinate arrays, or [`NO_PIXEL`] where the point is null, NaN or
/// out of range. Fails, naming the axis, when a column is not numeric.
///
/// ```
/// use arrow_array::{Float32Array, Int32Array};
/// use pointillist::aggregate::{bin_arrays, AxisKind, Geometry, NotNumeric, NO_PIXEL};
///
/// // A 2x2 canvas over [0, 2] x [0, 2].
/// let g = Geometry::new(2, 2, (0.0, 2.0), (0.0, 2.0), AxisKind::Linear, AxisKind::Linear);
/// let xs = Float32Array::from(vec![0.5, 1.5, 3.0]);
/// let ys = Int32Array::from(vec![0, 2, 1]);
/// let mut pixels = Vec::new();
/// bin_arrays(&g, &xs, &ys, &mut pixels)?;
/// assert_eq!(pixels, vec![0, 3, NO_PIXEL]); // row 1 is the upper one
///
/// let names = arrow_array::StringArray::from(vec!["a", "b", "c"]);
/// assert_eq!(bin_arrays(&g, &xs, &names, &mut pixels), Err(NotNumeric::Y));
/// # Ok::<(), NotNumeric>(())
/// ```
pub fn bin_arrays(
    g: &Geometry,
    xa: &dyn Array,
    ya: &dyn Array,
    out: &mut Vec<u32>,
) -> Result<(), NotNumeric> {
    let n = xa.len().min(ya.len());
    // Every element is written below: only grow (no memset of the reused
    // part of the buffer, which cost ~10% of the loop on cached data).
    out.truncate(n);
    out.resize(n, NO_PIXEL);
    let lin = Linear::of(g);
    let o = out.as_mut_slice();
    let done = with_numeric!(xa.data_type(), X => {
        values::<X>(xa).and_then(|xs| {
            with_numeric!(ya.data_type(), Y => {
                values::<Y>(ya).map(|ys| bin_typed::<X, Y>(g, lin, xs, ys, o))
            })
            .flatten()
        })
    })
    .flatten();
    if done.is_none() {
        return Err(if crate::source::is_numeric_type(xa.data_type()) {
            NotNumeric::Y
        } else {
            NotNumeric::X
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
) -> Result<(), NotNumeric> {
    let [xs, ys] = projected;
    xs.clear();
    ys.clear();
    if !crate::source::numeric_to_f64(xa, xs) {
        return Err(NotNumeric::X);
    }
    if !crate::source::numeric_to_f64(ya, ys) {
        return Err(NotNumeric::Y);
    }
    for v in xs.iter_mut() {
        *v = super::mercator::lng_to_x(*v);
    }
    for v in ys.iter_mut() {
        *v = super::mercator::lat_to_y(*v);
    }
    let n = xs.len().min(ys.len());
    // Every element is written below: only grow (no memset of the reused
    // part of the buffer, which cost ~10% of the loop on cached data).
    out.truncate(n);
    out.resize(n, NO_PIXEL);
    bin_typed::<Float64Type, Float64Type>(g, Linear::of(g), &xs[..n], &ys[..n], out);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::AxisKind;

    /// Arrow's half-precision float (`half::f16`).
    type F16 = <Float16Type as ArrowPrimitiveType>::Native;
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
    fn float16_columns_bin_like_their_f32_values() {
        let g = Geometry::new(
            16,
            8,
            (-4.0, 4.0),
            (0.0, 1.0),
            AxisKind::Linear,
            AxisKind::Linear,
        );
        let xs: Vec<F16> = (0..200)
            .map(|i| F16::from_f32(i as f32 / 20.0 - 5.0))
            .collect();
        let ys: Vec<F16> = (0..200)
            .map(|i| F16::from_f32((i % 11) as f32 / 10.0))
            .collect();
        let wide = |v: &[F16]| v.iter().map(|&h| f64::from(h)).collect::<Vec<_>>();
        let mut got = Vec::new();
        bin_arrays(
            &g,
            &arrow_array::Float16Array::from(xs.clone()),
            &arrow_array::Float16Array::from(ys.clone()),
            &mut got,
        )
        .expect("numeric");
        assert_eq!(got, reference(&g, &wide(&xs), &wide(&ys)));
        // Mixed with another type, and on a log axis (the general path).
        let lg = Geometry::new(
            4,
            4,
            (0.5, 8.0),
            (0.0, 1.0),
            AxisKind::Log,
            AxisKind::Linear,
        );
        bin_arrays(
            &lg,
            &arrow_array::Float16Array::from(xs.clone()),
            &Float64Array::from(wide(&ys)),
            &mut got,
        )
        .expect("numeric");
        assert_eq!(got, reference(&lg, &wide(&xs), &wide(&ys)));
    }

    /// A Float16 coordinate or value column read from Parquet aggregates
    /// exactly as the same values stored as Float32.
    #[test]
    fn float16_parquet_columns_aggregate_like_float32() {
        use std::sync::Arc;

        use arrow_array::{ArrayRef, Float16Array, RecordBatch};
        use arrow_schema::{Field, Schema};
        use parquet::arrow::ArrowWriter;

        use crate::aggregate::{aggregate, AggValues, AggregateRequest, ReductionSpec};
        use crate::source::Source;

        let n = 5000;
        let half = |v: f32| F16::from_f32(v);
        let x16: Vec<Option<F16>> = (0..n)
            .map(|i| (i % 97 != 0).then(|| half(((i * 37) % 1001) as f32 / 100.0 - 5.0)))
            .collect();
        let y16: Vec<Option<F16>> = (0..n)
            .map(|i| {
                Some(if i % 89 == 0 {
                    F16::NAN
                } else {
                    half(((i * 53) % 707) as f32 / 7.0)
                })
            })
            .collect();
        let v16: Vec<Option<F16>> = (0..n).map(|i| Some(half((i % 13) as f32 * 0.25))).collect();
        let to32 = |v: &[Option<F16>]| -> ArrayRef {
            Arc::new(Float32Array::from(
                v.iter().map(|o| o.map(f32::from)).collect::<Vec<_>>(),
            ))
        };
        let cols: Vec<(&str, ArrayRef)> = vec![
            ("x16", Arc::new(Float16Array::from(x16.clone()))),
            ("y16", Arc::new(Float16Array::from(y16.clone()))),
            ("v16", Arc::new(Float16Array::from(v16.clone()))),
            ("x32", to32(&x16)),
            ("y32", to32(&y16)),
            ("v32", to32(&v16)),
        ];
        let schema = Arc::new(Schema::new(
            cols.iter()
                .map(|(name, a)| Field::new(*name, a.data_type().clone(), true))
                .collect::<Vec<_>>(),
        ));
        let batch = RecordBatch::try_new(schema.clone(), cols.into_iter().map(|c| c.1).collect())
            .expect("batch");
        let mut buf = Vec::new();
        let mut w = ArrowWriter::try_new(&mut buf, schema, None).expect("writer");
        w.write(&batch).expect("write");
        w.close().expect("close");
        let source = Source::from_bytes(bytes::Bytes::from(buf), "f16").expect("source");
        source.check_numeric("x16").expect("Float16 is numeric");

        let run = |x: &str, y: &str, reduction: Option<&str>| {
            let mut req = AggregateRequest::new(40, 30);
            req.x = x.into();
            req.y = y.into();
            if let Some(r) = reduction {
                req.reduction = r.parse::<ReductionSpec>().expect("spec");
            }
            aggregate(&source, &req).expect("aggregate")
        };
        let half_counts = run("x16", "y16", None);
        let single_counts = run("x32", "y32", None);
        assert_eq!(half_counts.x_range, single_counts.x_range);
        assert_eq!(half_counts.y_range, single_counts.y_range);
        assert_eq!(half_counts.values, single_counts.values);
        let AggValues::U32(counts) = &half_counts.values else {
            panic!("count is uint32");
        };
        let binned: u64 = counts.iter().map(|&c| u64::from(c)).sum();
        assert!(binned > 4000, "{binned} of {n} points binned");

        let half_sums = run("x16", "y16", Some("sum:v16"));
        let single_sums = run("x32", "y32", Some("sum:v32"));
        let bits = |v: &AggValues| match v {
            AggValues::F64(v) => v.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
            other => panic!("sum is float64, got {}", other.dtype_name()),
        };
        assert_eq!(bits(&half_sums.values), bits(&single_sums.values));
        assert!(bits(&half_sums.values)
            .iter()
            .any(|&b| !f64::from_bits(b).is_nan()));
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
        assert_eq!(bin_arrays(&g, &s, &f, &mut out), Err(NotNumeric::X));
        assert_eq!(bin_arrays(&g, &f, &s, &mut out), Err(NotNumeric::Y));
    }
}
