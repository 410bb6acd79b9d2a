//! Page pruning: which rows of a unit can hold values in given ranges,
//! from the Parquet page index (the column index's per-page min/max and
//! the offset index's page row offsets) where a file has one, so that a
//! zoomed-in read (a map tile) decodes only the pages it can use. Files
//! written by `pointillist index` carry one; others are read whole.

use parquet::file::page_index::column_index::ColumnIndexMetaData;

use super::range::ranged_leaf;
use super::{Source, SourceFile, Unit};

/// A half-open run of rows `[start, end)`.
type Run = (usize, usize);

/// Whether a page whose values lie in `[min, max]` can hold a wanted value.
pub type PageTest<'a> = &'a dyn Fn(f64, f64) -> bool;

impl Source {
    /// The runs of rows of `unit`, as `(offset within the unit, rows)` in
    /// row order, on pages where every `(column, test)` passes for the
    /// page's min and max of that column (pages without statistics pass;
    /// pages of nulls only fail, since a null never lands in a pixel).
    /// `None` when the unit's file has no page index for one of the
    /// columns, or the source is in memory: read the whole unit then.
    pub fn unit_row_runs(
        &self,
        unit: &Unit,
        tests: &[(&str, PageTest<'_>)],
    ) -> Option<Vec<(usize, usize)>> {
        if self.memory.is_some() {
            return None;
        }
        let f = self.files.get(unit.file)?;
        let rg_rows = usize::try_from(
            f.meta
                .metadata()
                .row_groups()
                .get(unit.row_group)?
                .num_rows(),
        )
        .ok()?;
        let mut runs: Vec<Run> = vec![(unit.offset, unit.offset + unit.rows)];
        for (column, test) in tests {
            let kept = column_runs(f, unit.row_group, rg_rows, column, *test)?;
            runs = intersect(&runs, &kept);
        }
        Some(
            runs.into_iter()
                .map(|(s, e)| (s - unit.offset, e - s))
                .collect(),
        )
    }
}

/// The runs of row group `rg`'s rows on pages of `column` that pass `test`.
fn column_runs(
    f: &SourceFile,
    rg: usize,
    rg_rows: usize,
    column: &str,
    test: PageTest<'_>,
) -> Option<Vec<Run>> {
    let leaf = ranged_leaf(f, column)?;
    let md = f.meta.metadata();
    let provider = md.page_index()?;
    let index = provider.column_index(rg, leaf)?;
    let offsets = provider.offset_index(rg, leaf)?;
    let pages = offsets.page_locations();
    let keep = |i: usize| -> Option<bool> {
        macro_rules! page {
            ($ix:expr) => {{
                if $ix.is_null_page(i) {
                    return Some(false);
                }
                match ($ix.min_value(i), $ix.max_value(i)) {
                    (Some(lo), Some(hi)) => test(f64::from(*lo), f64::from(*hi)),
                    _ => true,
                }
            }};
        }
        Some(match index {
            ColumnIndexMetaData::DOUBLE(ix) => page!(ix),
            ColumnIndexMetaData::FLOAT(ix) => page!(ix),
            ColumnIndexMetaData::INT32(ix) => page!(ix),
            // Other types (and an absent index): no pruning on this column.
            _ => return None,
        })
    };
    let mut runs: Vec<Run> = Vec::new();
    for (i, page) in pages.iter().enumerate() {
        let start = usize::try_from(page.first_row_index).ok()?;
        let end = match pages.get(i + 1) {
            Some(next) => usize::try_from(next.first_row_index).ok()?,
            None => rg_rows,
        };
        if start >= end || !keep(i)? {
            continue;
        }
        match runs.last_mut() {
            Some(last) if last.1 == start => last.1 = end,
            _ => runs.push((start, end)),
        }
    }
    Some(runs)
}

/// The rows in both sorted lists of disjoint runs.
fn intersect(a: &[Run], b: &[Run]) -> Vec<Run> {
    let (mut i, mut j) = (0, 0);
    let mut out: Vec<Run> = Vec::new();
    while i < a.len() && j < b.len() {
        let s = a[i].0.max(b[j].0);
        let e = a[i].1.min(b[j].1);
        if s < e {
            match out.last_mut() {
                Some(last) if last.1 == s => last.1 = e,
                _ => out.push((s, e)),
            }
        }
        if a[i].1 < b[j].1 {
            i += 1;
        } else {
            j += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intersects_runs() {
        assert_eq!(
            intersect(&[(0, 10)], &[(2, 4), (6, 12)]),
            vec![(2, 4), (6, 10)]
        );
        assert_eq!(intersect(&[(0, 5), (5, 9)], &[(0, 9)]), vec![(0, 9)]);
        assert_eq!(intersect(&[(0, 3)], &[(3, 6)]), vec![]);
        assert_eq!(intersect(&[], &[(0, 6)]), vec![]);
    }
}

#[cfg(test)]
mod read_tests {
    use std::sync::Arc;

    use crate::aggregate::{AggValues, ReductionSpec};
    use crate::source::{Source, BATCH_ROWS};
    use crate::tiles::{self, TileLayer};

    fn bits(v: &AggValues) -> Vec<u64> {
        match v {
            AggValues::U32(v) => v.iter().map(|&x| u64::from(x)).collect(),
            AggValues::F64(v) => v.iter().map(|x| x.to_bits()).collect(),
            AggValues::Bool(v) => v.iter().map(|&x| u64::from(x)).collect(),
            AggValues::F32(v) => v.iter().map(|x| u64::from(x.to_bits())).collect(),
            AggValues::I64(v) => v.iter().map(|&x| x as u64).collect(),
            AggValues::U8(v) => v.iter().map(|&x| u64::from(x)).collect(),
            AggValues::U16(v) => v.iter().map(|&x| u64::from(x)).collect(),
        }
    }

    /// Tiles read from a file with a page index (sorted by x, pages of
    /// 2048 rows, so zoomed tiles read only some pages) equal the same rows
    /// read whole from memory, for order-free and row-order reductions
    /// alike (`first`/`last` keep each row's position across skipped pages).
    #[test]
    fn pruned_pages_give_the_whole_reads_aggregates() {
        use arrow_array::Array;
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("paged.parquet");
        let sample = Source::sample().expect("sample");
        let cols = ["x", "y", "val", "cat"];
        let mut parts = Vec::new();
        for u in sample.units(crate::source::UNIT_ROWS) {
            for b in sample.read_unit(&u, &cols, BATCH_ROWS).expect("read") {
                parts.push(b.expect("batch"));
            }
        }
        let schema = parts[0].schema();
        let all = arrow_select::concat::concat_batches(&schema, &parts).expect("concat");
        let x = all
            .column_by_name("x")
            .and_then(|c| {
                c.as_any()
                    .downcast_ref::<arrow_array::Float32Array>()
                    .cloned()
            })
            .expect("float32 x");
        let mut order: Vec<u32> = (0..x.len() as u32).collect();
        order.sort_by(|&a, &b| x.value(a as usize).total_cmp(&x.value(b as usize)));
        let order = arrow_array::UInt32Array::from(order);
        let sorted = arrow_select::take::take_record_batch(&all, &order).expect("take");
        let props = parquet::file::properties::WriterProperties::builder()
            .set_max_row_group_row_count(Some(50_000))
            .set_data_page_row_count_limit(2048)
            .set_write_batch_size(512)
            .set_statistics_enabled(parquet::file::properties::EnabledStatistics::Page)
            .build();
        let out = std::fs::File::create(&path).expect("create");
        let mut w = parquet::arrow::ArrowWriter::try_new(out, schema, Some(props)).expect("writer");
        w.write(&sorted).expect("write");
        w.close().expect("close");
        let file = Source::open(&[&path]).expect("open");
        // The same rows, in the same order, as batches in memory.
        let mut batches = Vec::new();
        let all = ["x", "y", "val", "cat"];
        for u in file.units(crate::source::UNIT_ROWS) {
            for b in file.read_unit(&u, &all, BATCH_ROWS).expect("read") {
                batches.push(b.expect("batch"));
            }
        }
        let schema = Arc::new(batches[0].schema().as_ref().clone());
        let memory = Source::from_batches("memory", schema, batches).expect("memory");
        let mut pruned_units = 0;
        let mut compared = 0;
        for agg in ["count", "sum:val", "first:val", "last:val", "count_cat:cat"] {
            let layer = TileLayer::new()
                .with_reduction(agg.parse::<ReductionSpec>().expect("agg"))
                .resolve(&file)
                .expect("layer");
            let ext = layer.data_extent(&file).expect("extent");
            for z in [6u8, 8, 10] {
                let covering = tiles::tiles_covering(ext.0, ext.1, z);
                let step = (covering.len() / 25).max(1);
                for t in covering.into_iter().step_by(step) {
                    let a = tiles::aggregate_tile(&file, &layer, t, 64).expect("file tile");
                    let b = tiles::aggregate_tile(&memory, &layer, t, 64).expect("memory tile");
                    assert_eq!(bits(&a.values), bits(&b.values), "{agg} tile {t}");
                    compared += usize::from(!tiles::is_blank(&a));
                    if agg == "count" {
                        let bounds = t.bounds();
                        let (x0, x1) = bounds.0;
                        let (y0, y1) = bounds.1;
                        let on_x = |lo: f64, hi: f64| !(hi < x0 || lo > x1);
                        let on_y = |lo: f64, hi: f64| !(hi < y0 || lo > y1);
                        for u in file.units(crate::source::UNIT_ROWS) {
                            let runs = file
                                .unit_row_runs(&u, &[("x", &on_x), ("y", &on_y)])
                                .expect("the index writes a page index");
                            let rows: usize = runs.iter().map(|r| r.1).sum();
                            pruned_units += usize::from(rows < u.rows);
                        }
                    }
                }
            }
        }
        assert!(compared >= 20, "only {compared} non-empty tiles compared");
        assert!(pruned_units > 0, "no page was ever skipped");
        // Memory sources have no page index.
        let u = memory.units(crate::source::UNIT_ROWS)[0];
        assert!(memory.unit_row_runs(&u, &[]).is_none());
    }
}

#[cfg(test)]
mod index_tests {
    use crate::index::{build_index, IndexOptions};
    use crate::source::{Source, UNIT_ROWS};

    /// `pointillist index` writes pages small enough, with a page index,
    /// for a zoomed window to skip most of a row group.
    #[test]
    fn indexed_files_have_pages_to_skip() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("indexed.parquet");
        build_index(
            &Source::sample().expect("sample"),
            &path,
            &IndexOptions::default(),
        )
        .expect("index");
        let file = Source::open(&[&path]).expect("open");
        // A 40 km box in the middle of the data.
        let (x0, x1) = crate::source::auto_range(&file, "x")
            .expect("x range")
            .expect("points");
        let (y0, y1) = crate::source::auto_range(&file, "y")
            .expect("y range")
            .expect("points");
        let (mx, my) = ((x0 + x1) / 2.0, (y0 + y1) / 2.0);
        let on_x = |lo: f64, hi: f64| !(hi < mx - 2e4 || lo > mx + 2e4);
        let on_y = |lo: f64, hi: f64| !(hi < my - 2e4 || lo > my + 2e4);
        let mut kept = 0;
        let mut all = 0;
        for u in file.units(UNIT_ROWS) {
            let runs = file
                .unit_row_runs(&u, &[("x", &on_x), ("y", &on_y)])
                .expect("a page index");
            kept += runs.iter().map(|r| r.1).sum::<usize>();
            all += u.rows;
        }
        assert!(kept * 4 < all, "kept {kept} of {all} rows");
    }
}
