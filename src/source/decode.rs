//! Decoding Arrow arrays into the flat buffers the aggregation kernels use.

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Date32Type, Date64Type, DurationMicrosecondType, DurationMillisecondType,
    DurationNanosecondType, DurationSecondType, Float16Type, Float32Type, Float64Type, Int16Type,
    Int32Type, Int64Type, Int8Type, TimestampMicrosecondType, TimestampMillisecondType,
    TimestampNanosecondType, TimestampSecondType, UInt16Type, UInt32Type, UInt64Type, UInt8Type,
};
use arrow_array::{Array, ArrowPrimitiveType, PrimitiveArray};
use arrow_schema::DataType;
use arrow_schema::TimeUnit;

/// Whether a column of this type holds integers.
pub(crate) fn is_integer(dt: &DataType) -> bool {
    matches!(
        dt,
        DataType::Int8
            | DataType::Int16
            | DataType::Int32
            | DataType::Int64
            | DataType::UInt8
            | DataType::UInt16
            | DataType::UInt32
            | DataType::UInt64
    )
}

/// Whether a column of this type can be read as numbers: integers,
/// floats, and times (timestamps, dates and durations, read as their
/// count of units: timestamps since the epoch in their own unit, `Date32`
/// in days, `Date64` in milliseconds), which Datashader refuses.
pub fn is_numeric(dt: &DataType) -> bool {
    is_integer(dt)
        || matches!(
            dt,
            DataType::Float16
                | DataType::Float32
                | DataType::Float64
                | DataType::Timestamp(_, _)
                | DataType::Date32
                | DataType::Date64
                | DataType::Duration(_)
        )
}

fn extend_primitive<T, F>(array: &PrimitiveArray<T>, out: &mut Vec<f64>, conv: F)
where
    T: ArrowPrimitiveType,
    F: Fn(T::Native) -> f64,
{
    let values = array.values();
    match array.nulls().filter(|n| n.null_count() > 0) {
        None => out.extend(values.iter().map(|v| conv(*v))),
        Some(nulls) => {
            out.extend(
                values
                    .iter()
                    .zip(nulls.iter())
                    .map(|(v, valid)| if valid { conv(*v) } else { f64::NAN }),
            )
        }
    }
}

/// Append the values of a numeric Arrow array to `out` as `f64`, nulls as
/// NaN. Returns `false` (appending nothing) when the array is not numeric.
pub fn numeric_to_f64(array: &dyn Array, out: &mut Vec<f64>) -> bool {
    out.reserve(array.len());
    macro_rules! prim {
        ($t:ty, $conv:expr) => {
            match array.as_primitive_opt::<$t>() {
                Some(a) => {
                    extend_primitive(a, out, $conv);
                    true
                }
                None => false,
            }
        };
    }
    match array.data_type() {
        DataType::Float64 => prim!(Float64Type, |v| v),
        DataType::Float32 => prim!(Float32Type, f64::from),
        DataType::Float16 => prim!(Float16Type, f64::from),
        DataType::Int8 => prim!(Int8Type, f64::from),
        DataType::Int16 => prim!(Int16Type, f64::from),
        DataType::Int32 => prim!(Int32Type, f64::from),
        DataType::Int64 => prim!(Int64Type, |v| v as f64),
        DataType::UInt8 => prim!(UInt8Type, f64::from),
        DataType::UInt16 => prim!(UInt16Type, f64::from),
        DataType::UInt32 => prim!(UInt32Type, f64::from),
        DataType::UInt64 => prim!(UInt64Type, |v| v as f64),
        // Times as their count of units (what Parquet statistics hold too).
        DataType::Timestamp(TimeUnit::Second, _) => prim!(TimestampSecondType, |v| v as f64),
        DataType::Timestamp(TimeUnit::Millisecond, _) => {
            prim!(TimestampMillisecondType, |v| v as f64)
        }
        DataType::Timestamp(TimeUnit::Microsecond, _) => {
            prim!(TimestampMicrosecondType, |v| v as f64)
        }
        DataType::Timestamp(TimeUnit::Nanosecond, _) => {
            prim!(TimestampNanosecondType, |v| v as f64)
        }
        DataType::Date32 => prim!(Date32Type, f64::from),
        DataType::Date64 => prim!(Date64Type, |v| v as f64),
        DataType::Duration(TimeUnit::Second) => prim!(DurationSecondType, |v| v as f64),
        DataType::Duration(TimeUnit::Millisecond) => prim!(DurationMillisecondType, |v| v as f64),
        DataType::Duration(TimeUnit::Microsecond) => prim!(DurationMicrosecondType, |v| v as f64),
        DataType::Duration(TimeUnit::Nanosecond) => prim!(DurationNanosecondType, |v| v as f64),
        _ => false,
    }
}

/// Whether a column of this type holds lists of numbers (Arrow `List`,
/// `LargeList` or `FixedSizeList` of a numeric type): one ragged line per
/// row.
pub fn is_numeric_list(dt: &DataType) -> bool {
    match dt {
        DataType::List(f) | DataType::LargeList(f) | DataType::FixedSizeList(f, _) => {
            is_numeric(f.data_type())
        }
        _ => false,
    }
}

/// A list array's rows as `f64`: each row's values appended to `out`
/// (NaN where null), with `offsets` (one more than the rows) marking where
/// each row starts in `out`. A null row is empty. `false` when `array` is
/// not a list of numbers.
pub fn list_to_f64(array: &dyn Array, offsets: &mut Vec<usize>, out: &mut Vec<f64>) -> bool {
    offsets.clear();
    out.clear();
    if !is_numeric_list(array.data_type()) {
        return false;
    }
    // The child array converted once, then each row's span of it.
    let (child, spans): (&dyn Array, Vec<(usize, usize)>) = match array.data_type() {
        DataType::List(_) => {
            let a = array.as_list::<i32>();
            let o = a.value_offsets();
            let spans = o.windows(2).map(|w| (w[0] as usize, w[1] as usize));
            (a.values().as_ref(), spans.collect())
        }
        DataType::LargeList(_) => {
            let a = array.as_list::<i64>();
            let o = a.value_offsets();
            let spans = o.windows(2).map(|w| (w[0] as usize, w[1] as usize));
            (a.values().as_ref(), spans.collect())
        }
        _ => {
            let a = array.as_fixed_size_list();
            let n = a.value_length().max(0) as usize;
            let first = a.offset() * n;
            let spans = (0..a.len()).map(|i| (first + i * n, first + (i + 1) * n));
            (a.values().as_ref(), spans.collect())
        }
    };
    let mut flat = Vec::new();
    if !numeric_to_f64(child, &mut flat) {
        return false;
    }
    offsets.reserve(spans.len() + 1);
    offsets.push(0);
    for (i, (lo, hi)) in spans.into_iter().enumerate() {
        if array.is_valid(i) {
            out.extend_from_slice(flat.get(lo..hi).unwrap_or(&[]));
        }
        offsets.push(out.len());
    }
    true
}

/// The numbers of a numeric or list-of-numbers array, flattened, as `f64`
/// (for ranges); `false` when it holds neither.
pub fn flat_to_f64(array: &dyn Array, out: &mut Vec<f64>) -> bool {
    if is_numeric_list(array.data_type()) {
        let mut offsets = Vec::new();
        return list_to_f64(array, &mut offsets, out);
    }
    numeric_to_f64(array, out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{Float32Array, Int64Array, StringArray};

    #[test]
    fn nulls_become_nan_and_ints_convert() {
        let a = Int64Array::from(vec![Some(3), None, Some(-7)]);
        let mut out = Vec::new();
        assert!(numeric_to_f64(&a, &mut out));
        assert_eq!(out[0], 3.0);
        assert!(out[1].is_nan());
        assert_eq!(out[2], -7.0);
    }

    #[test]
    fn f32_widens_exactly() {
        let a = Float32Array::from(vec![0.1f32, f32::NAN]);
        let mut out = Vec::new();
        assert!(numeric_to_f64(&a, &mut out));
        assert_eq!(out[0], f64::from(0.1f32));
        assert!(out[1].is_nan());
    }

    #[test]
    fn list_rows_flatten_with_offsets_and_null_rows_are_empty() {
        use arrow_array::types::Int32Type;
        use arrow_array::ListArray;
        let a = ListArray::from_iter_primitive::<Int32Type, _, _>(vec![
            Some(vec![Some(1), None, Some(3)]),
            None,
            Some(vec![]),
            Some(vec![Some(4), Some(5)]),
        ]);
        let sliced = a.slice(1, 3);
        let (mut offsets, mut out) = (Vec::new(), Vec::new());
        assert!(list_to_f64(&a, &mut offsets, &mut out));
        assert_eq!(offsets, vec![0, 3, 3, 3, 5]);
        assert_eq!(out[0], 1.0);
        assert!(out[1].is_nan());
        assert_eq!(&out[2..], &[3.0, 4.0, 5.0]);
        assert!(list_to_f64(&sliced, &mut offsets, &mut out));
        assert_eq!((offsets, out), (vec![0, 0, 0, 2], vec![4.0, 5.0]));
        assert!(!list_to_f64(
            &Int64Array::from(vec![1]),
            &mut Vec::new(),
            &mut Vec::new()
        ));
    }

    #[test]
    fn strings_are_not_numeric() {
        let a = StringArray::from(vec!["a"]);
        let mut out = Vec::new();
        assert!(!numeric_to_f64(&a, &mut out));
        assert!(out.is_empty());
    }
}
