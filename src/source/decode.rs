//! Decoding Arrow arrays into the flat buffers the aggregation kernels use.

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Float16Type, Float32Type, Float64Type, Int16Type, Int32Type, Int64Type, Int8Type, UInt16Type,
    UInt32Type, UInt64Type, UInt8Type,
};
use arrow_array::{Array, ArrowPrimitiveType, PrimitiveArray};
use arrow_schema::DataType;

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

/// Whether a column of this type can be read as numbers.
pub fn is_numeric(dt: &DataType) -> bool {
    is_integer(dt)
        || matches!(
            dt,
            DataType::Float16 | DataType::Float32 | DataType::Float64
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
        _ => false,
    }
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
    fn strings_are_not_numeric() {
        let a = StringArray::from(vec!["a"]);
        let mut out = Vec::new();
        assert!(!numeric_to_f64(&a, &mut out));
        assert!(out.is_empty());
    }
}
