//! Data ranges of columns (for auto-ranging) and distinct categories, from
//! Parquet statistics where they can be trusted, else from a parallel scan
//! of just the column in question.

use arrow_schema::DataType;
use parquet::file::statistics::Statistics;
use rayon::prelude::*;

use super::categories::{CategoryKind, CategorySet};
use super::{decode, Source, SourceError, BATCH_ROWS, UNIT_ROWS};

/// Min and max over the finite values of `column` in every file, from row
/// group statistics when every row group has trustworthy ones, else by
/// scanning the column. `None` when the column has no finite value.
pub fn auto_range(source: &Source, column: &str) -> Result<Option<(f64, f64)>, SourceError> {
    source.check_numeric(column)?;
    if let Some(r) = range_from_statistics(source, column) {
        return Ok(r);
    }
    scan_range(source, column)
}

/// `Some(result)` when statistics decide the range, `None` when a scan is needed.
fn range_from_statistics(source: &Source, column: &str) -> Option<Option<(f64, f64)>> {
    let mut lo = f64::INFINITY;
    let mut hi = f64::NEG_INFINITY;
    for f in &source.files {
        let field = f.meta.schema().field_with_name(column).ok()?;
        let signed_or_float = matches!(
            field.data_type(),
            DataType::Int8
                | DataType::Int16
                | DataType::Int32
                | DataType::Int64
                | DataType::Float32
                | DataType::Float64
        );
        if !signed_or_float {
            return None;
        }
        let schema = f.meta.parquet_schema();
        let leaf =
            (0..schema.num_columns()).find(|&i| schema.column(i).path().string() == column)?;
        for rg in f.meta.metadata().row_groups() {
            let chunk = rg.column(leaf);
            let stats = chunk.statistics()?;
            if stats.is_min_max_deprecated() {
                return None;
            }
            let (mn, mx) = match stats {
                Statistics::Float(s) => (
                    s.min_opt().map(|v| f64::from(*v)),
                    s.max_opt().map(|v| f64::from(*v)),
                ),
                Statistics::Double(s) => (s.min_opt().copied(), s.max_opt().copied()),
                Statistics::Int32(s) => (
                    s.min_opt().map(|v| f64::from(*v)),
                    s.max_opt().map(|v| f64::from(*v)),
                ),
                Statistics::Int64(s) => (
                    s.min_opt().map(|v| *v as f64),
                    s.max_opt().map(|v| *v as f64),
                ),
                _ => return None,
            };
            match (mn, mx) {
                (Some(a), Some(b)) if a.is_finite() && b.is_finite() => {
                    lo = lo.min(a);
                    hi = hi.max(b);
                }
                (None, None) if stats.null_count_opt() == Some(rg.num_rows().max(0) as u64) => {}
                // NaN or infinite bounds, or missing ones: the finite range
                // is unknown, so scan.
                _ => return None,
            }
        }
    }
    Some(if lo <= hi { Some((lo, hi)) } else { None })
}

/// Min and max of the finite values of `column`, by reading it.
pub fn scan_range(source: &Source, column: &str) -> Result<Option<(f64, f64)>, SourceError> {
    let units = source.units(UNIT_ROWS);
    let parts: Vec<Result<(f64, f64), SourceError>> = units
        .par_iter()
        .map(|u| {
            let mut lo = f64::INFINITY;
            let mut hi = f64::NEG_INFINITY;
            let mut buf = Vec::new();
            for batch in source.read_unit(u, &[column], BATCH_ROWS)? {
                let batch = batch?;
                let Some(col) = batch.column_by_name(column) else {
                    continue;
                };
                buf.clear();
                decode::numeric_to_f64(col.as_ref(), &mut buf);
                for &v in &buf {
                    if v.is_finite() {
                        lo = lo.min(v);
                        hi = hi.max(v);
                    }
                }
            }
            Ok((lo, hi))
        })
        .collect();
    let mut lo = f64::INFINITY;
    let mut hi = f64::NEG_INFINITY;
    for p in parts {
        let (a, b) = p?;
        lo = lo.min(a);
        hi = hi.max(b);
    }
    Ok(if lo <= hi { Some((lo, hi)) } else { None })
}

impl Source {
    /// The distinct non-null values of category column `column` over the
    /// whole input, sorted (strings by code point, integers numerically).
    pub fn distinct_categories(&self, column: &str) -> Result<Vec<String>, SourceError> {
        let kind: CategoryKind = self.check_category(column)?;
        let units = self.units(UNIT_ROWS);
        let parts: Vec<Result<CategorySet, SourceError>> = units
            .par_iter()
            .map(|u| {
                let mut set = CategorySet::default();
                for batch in self.read_unit(u, &[column], BATCH_ROWS)? {
                    let batch = batch?;
                    if let Some(col) = batch.column_by_name(column) {
                        set.add(col.as_ref());
                    }
                }
                Ok(set)
            })
            .collect();
        let mut all = CategorySet::default();
        for p in parts {
            all.merge(p?);
        }
        Ok(all.into_labels(kind))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::{ArrayRef, Float32Array, Int64Array, RecordBatch};
    use arrow_schema::{Field, Schema};
    use bytes::Bytes;
    use parquet::arrow::ArrowWriter;
    use parquet::file::properties::{EnabledStatistics, WriterProperties};

    use super::*;

    fn parquet(cols: Vec<(&str, ArrayRef)>, stats: bool, rows_per_group: usize) -> Source {
        let schema = Arc::new(Schema::new(
            cols.iter()
                .map(|(n, a)| Field::new(*n, a.data_type().clone(), true))
                .collect::<Vec<_>>(),
        ));
        let batch = RecordBatch::try_new(schema.clone(), cols.into_iter().map(|c| c.1).collect())
            .expect("batch");
        let props = WriterProperties::builder()
            .set_statistics_enabled(if stats {
                EnabledStatistics::Chunk
            } else {
                EnabledStatistics::None
            })
            .set_max_row_group_row_count(Some(rows_per_group))
            .build();
        let mut buf = Vec::new();
        let mut w = ArrowWriter::try_new(&mut buf, schema, Some(props)).expect("writer");
        w.write(&batch).expect("write");
        w.close().expect("close");
        Source::from_bytes(Bytes::from(buf), "test").expect("source")
    }

    #[test]
    fn statistics_and_scan_agree() {
        let v: ArrayRef = Arc::new(Float32Array::from(vec![
            Some(3.5),
            None,
            Some(-1.25),
            Some(f32::NAN),
            Some(7.0),
        ]));
        for stats in [true, false] {
            let s = parquet(vec![("v", v.clone())], stats, 2);
            assert_eq!(auto_range(&s, "v").expect("range"), Some((-1.25, 7.0)));
            assert_eq!(scan_range(&s, "v").expect("scan"), Some((-1.25, 7.0)));
        }
    }

    #[test]
    fn infinities_are_ignored() {
        let v: ArrayRef = Arc::new(Float32Array::from(vec![
            f32::NEG_INFINITY,
            2.0,
            4.0,
            f32::INFINITY,
        ]));
        let s = parquet(vec![("v", v)], true, 10);
        assert_eq!(auto_range(&s, "v").expect("range"), Some((2.0, 4.0)));
    }

    #[test]
    fn all_null_has_no_range() {
        let v: ArrayRef = Arc::new(Int64Array::from(vec![None, None, None]));
        let s = parquet(vec![("v", v)], true, 2);
        assert_eq!(auto_range(&s, "v").expect("range"), None);
    }

    #[test]
    fn integer_statistics_are_used() {
        let v: ArrayRef = Arc::new(Int64Array::from(vec![5, -9, 12]));
        let s = parquet(vec![("v", v)], true, 2);
        assert!(range_from_statistics(&s, "v").is_some());
        assert_eq!(auto_range(&s, "v").expect("range"), Some((-9.0, 12.0)));
    }
}
