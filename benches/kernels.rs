//! Criterion benchmarks of the aggregation kernels, from the innermost loop
//! out: binning coordinates to pixels (`bin_linear`), folding pixel indices
//! into a canvas (`accumulate`), the whole parallel aggregation over an
//! in-memory Parquet file (`aggregate_end_to_end`) and, for comparison,
//! decoding the same Parquet columns without aggregating (`decode_only`).
//!
//! Every group reports points per second. The data are synthetic census-like
//! points (`pointillist_synth`), so pixel access patterns are realistic
//! (dense cities, sparse countryside). Run with
//! `cargo bench --bench kernels` (add a filter such as `-- accumulate` to run
//! one group).

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float32Type, Float64Type, Int32Type};
use arrow_array::{Array, ArrayRef, RecordBatch};
use bytes::Bytes;
use criterion::{
    criterion_group, criterion_main, BenchmarkId, Criterion, SamplingMode, Throughput,
};
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder,
};
use parquet::arrow::ProjectionMask;
use rayon::prelude::*;

use pointillist::aggregate::{
    bin_arrays, AggregateRequest, AggregationPlan, AxisKind, Geometry, Partial, ReductionKind,
    ReductionSpec, NO_CELL, NO_PIXEL,
};
use pointillist::source::Source;
use pointillist_synth::{synth_batches, us_extent_meters, write_synth, Precision, SynthOptions};

/// Canvas sizes benchmarked: a small plot, a full-HD screen and a big tile.
const CANVASES: [(usize, usize); 3] = [(800, 600), (1920, 1080), (4096, 4096)];
/// Rows per Arrow batch, as the aggregation reads them.
const BATCH: usize = 64 * 1024;
/// Points folded per `accumulate` iteration (one work unit's worth).
const ACC_POINTS: usize = 1 << 20;
/// Rows of the in-memory Parquet file for the end-to-end groups.
const E2E_ROWS: u64 = 4 << 20;
/// Row-group size of that file: 16 row groups, so both cores get work.
const E2E_ROW_GROUP: usize = 256 * 1024;
/// Number of categories of the synthetic `cat` column.
const CATS: u32 = 5;

fn us_ranges() -> ((f64, f64), (f64, f64)) {
    let (x0, x1, y0, y1) = us_extent_meters();
    ((x0, x1), (y0, y1))
}

fn geometry(w: usize, h: usize) -> Geometry {
    let (xr, yr) = us_ranges();
    Geometry::new(w, h, xr, yr, AxisKind::Linear, AxisKind::Linear)
}

fn synth(rows: u64, precision: Precision) -> Vec<RecordBatch> {
    let opts = SynthOptions {
        rows,
        seed: 7,
        precision,
        batch_rows: BATCH,
        ..SynthOptions::default()
    };
    synth_batches(&opts)
        .expect("synth options are valid")
        .collect::<Result<Vec<_>, _>>()
        .expect("synthetic batches")
}

fn column(batch: &RecordBatch, name: &str) -> ArrayRef {
    Arc::clone(batch.column_by_name(name).expect("synthetic column"))
}

/// `bin_arrays` on one 64K-row batch (inputs and output stay in cache).
fn bench_bin_linear(c: &mut Criterion) {
    let f32_batch = synth(BATCH as u64, Precision::F32).remove(0);
    let f64_batch = synth(BATCH as u64, Precision::F64).remove(0);
    let mut out = Vec::with_capacity(BATCH);

    let mut g = c.benchmark_group("bin_linear");
    g.throughput(Throughput::Elements(BATCH as u64));
    let mut cases: Vec<(&str, &RecordBatch, (usize, usize))> =
        CANVASES.iter().map(|&wh| ("f32", &f32_batch, wh)).collect();
    cases.push(("f64", &f64_batch, (1920, 1080)));
    for (ty, batch, (w, h)) in cases {
        let geom = geometry(w, h);
        let (x, y) = (column(batch, "x"), column(batch, "y"));
        g.bench_function(BenchmarkId::new(ty, format!("{w}x{h}")), |b| {
            b.iter(|| {
                bin_arrays(&geom, x.as_ref(), y.as_ref(), &mut out).expect("numeric columns");
                black_box(&out);
            })
        });
    }
    g.finish();
}

/// Pixel indices, category codes and values of `ACC_POINTS` synthetic points.
struct Points {
    batches: Vec<RecordBatch>,
}

impl Points {
    fn new() -> Points {
        Points {
            batches: synth(ACC_POINTS as u64, Precision::F32),
        }
    }

    fn pixels(&self, w: usize, h: usize) -> Vec<u32> {
        let geom = geometry(w, h);
        let mut all = Vec::with_capacity(ACC_POINTS);
        let mut pix = Vec::with_capacity(BATCH);
        for b in &self.batches {
            bin_arrays(
                &geom,
                column(b, "x").as_ref(),
                column(b, "y").as_ref(),
                &mut pix,
            )
            .expect("numeric columns");
            all.extend_from_slice(&pix);
        }
        all
    }

    /// `pixel * CATS + code`, as the planner builds them for `count_cat`.
    fn cat_cells(&self, pixels: &[u32]) -> Vec<u32> {
        let codes = self.batches.iter().flat_map(|b| {
            let cat = column(b, "cat");
            let keys: Vec<i32> = cat.as_dictionary::<Int32Type>().keys().values().to_vec();
            keys
        });
        pixels
            .iter()
            .zip(codes)
            .map(|(&p, code)| {
                if p == NO_PIXEL {
                    NO_CELL
                } else {
                    p * CATS + code as u32
                }
            })
            .collect()
    }

    fn values(&self) -> Vec<f64> {
        self.batches
            .iter()
            .flat_map(|b| {
                let v = column(b, "val");
                let v: Vec<f64> = v
                    .as_primitive::<Float32Type>()
                    .values()
                    .iter()
                    .map(|&v| f64::from(v))
                    .collect();
                v
            })
            .collect()
    }
}

/// One `accumulate` case: reduction, canvas cells, cell per point, values.
struct AccCase<'a> {
    name: &'static str,
    kind: ReductionKind,
    cells: usize,
    idx: &'a [u32],
    vals: Option<&'a [f64]>,
}

/// `Partial::accumulate` of 1 Mi precomputed cells (one work unit) into a
/// canvas built once; `partial_new` is the canvas allocation (cells/s).
///
/// Note on `partial_new`: glibc serves a freed block of up to 32 MiB again
/// from its heap (already faulted in), so below that size the loop measures
/// writing warm memory; above it every call maps fresh pages and pays a page
/// fault per 4 KiB, which is what a one-shot render pays for every canvas.
fn bench_accumulate(c: &mut Criterion) {
    let points = Points::new();
    let values = points.values();
    let mut g = c.benchmark_group("accumulate");
    g.throughput(Throughput::Elements(ACC_POINTS as u64));
    for (w, h) in CANVASES {
        let pixels = points.pixels(w, h);
        let cat_cells = points.cat_cells(&pixels);
        let px = w * h;
        let cases = [
            AccCase {
                name: "count",
                kind: ReductionKind::Count,
                cells: px,
                idx: &pixels,
                vals: None,
            },
            AccCase {
                name: "mean",
                kind: ReductionKind::Mean,
                cells: px,
                idx: &pixels,
                vals: Some(&values),
            },
            AccCase {
                name: "count_cat",
                kind: ReductionKind::Count,
                cells: px * CATS as usize,
                idx: &cat_cells,
                vals: None,
            },
        ];
        for AccCase {
            name,
            kind,
            cells,
            idx,
            vals,
        } in cases
        {
            let mut p = Partial::new(kind, cells);
            g.bench_function(BenchmarkId::new(name, format!("{w}x{h}")), |b| {
                b.iter(|| {
                    p.accumulate(0, black_box(idx), vals);
                })
            });
            black_box(&p);
        }
    }
    g.finish();

    let mut g = c.benchmark_group("partial_new");
    g.sample_size(10);
    for (w, h) in CANVASES {
        let cases = [
            ("count", ReductionKind::Count, w * h),
            ("mean", ReductionKind::Mean, w * h),
            ("count_cat", ReductionKind::Count, w * h * CATS as usize),
        ];
        for (name, kind, cells) in cases {
            g.throughput(Throughput::Elements(cells as u64));
            g.bench_function(BenchmarkId::new(name, format!("{w}x{h}")), |b| {
                b.iter(|| black_box(Partial::new(kind, cells)))
            });
        }
    }
    g.finish();
}

/// An in-memory Parquet file of `E2E_ROWS` synthetic rows, written exactly
/// as `pointillist synth` writes it (snappy, page statistics, dictionary
/// `cat`), with 256 Ki-row row groups.
fn e2e_bytes() -> Bytes {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("bench.parquet");
    let opts = SynthOptions {
        rows: E2E_ROWS,
        seed: 7,
        row_group_rows: E2E_ROW_GROUP,
        ..SynthOptions::default()
    };
    write_synth(&path, &opts).expect("write synthetic Parquet");
    Bytes::from(std::fs::read(&path).expect("read synthetic Parquet back"))
}

/// `AggregationPlan::new(..).run(..)` over the in-memory file, on the
/// global rayon pool (all cores).
fn bench_end_to_end(c: &mut Criterion, bytes: &Bytes) {
    let source = Source::from_bytes(bytes.clone(), "<bench>").expect("valid Parquet");
    let (xr, yr) = us_ranges();
    let mut g = c.benchmark_group("aggregate_end_to_end");
    g.throughput(Throughput::Elements(E2E_ROWS));
    g.sample_size(10);
    g.sampling_mode(SamplingMode::Flat);
    g.measurement_time(Duration::from_secs(5));
    let specs = [
        ("count", ReductionSpec::count()),
        ("mean_val", ReductionSpec::of(ReductionKind::Mean, "val")),
        ("count_cat", ReductionSpec::count().by("cat")),
    ];
    for (w, h) in CANVASES {
        for (name, spec) in &specs {
            let req = AggregateRequest::new(w, h)
                .with_x_range(xr.0, xr.1)
                .with_y_range(yr.0, yr.1)
                .with_reduction(spec.clone());
            g.bench_function(BenchmarkId::new(*name, format!("{w}x{h}")), |b| {
                b.iter(|| {
                    let plan = AggregationPlan::new(&source, &req).expect("valid request");
                    black_box(plan.run(&source).expect("aggregation"))
                })
            });
        }
    }
    g.finish();

    // The planning share of the above (column checks, category discovery
    // from the dictionary pages for count_cat); elements are still points.
    let mut g = c.benchmark_group("plan_only");
    g.throughput(Throughput::Elements(E2E_ROWS));
    for (name, spec) in &specs {
        let req = AggregateRequest::new(1920, 1080)
            .with_x_range(xr.0, xr.1)
            .with_y_range(yr.0, yr.1)
            .with_reduction(spec.clone());
        g.bench_function(BenchmarkId::new(*name, "1920x1080"), |b| {
            b.iter(|| black_box(AggregationPlan::new(&source, &req).expect("valid request")))
        });
    }
    g.finish();
}

/// Sum of `values` in eight independent lanes, so that the loop vectorises
/// and costs next to nothing beside the decoding (a plain serial f64 sum is
/// latency-bound and would cost as much as the decoding itself).
fn lanes<T: Copy + Into<f64>>(values: &[T]) -> f64 {
    let mut acc = [0.0f64; 8];
    let chunks = values.chunks_exact(8);
    let rest = chunks.remainder();
    for c in chunks {
        for (a, &v) in acc.iter_mut().zip(c) {
            *a += v.into();
        }
    }
    acc.iter().sum::<f64>() + rest.iter().map(|&v| v.into()).sum::<f64>()
}

/// Sum of every value, so the decoded buffers are really read.
fn touch(a: &dyn Array) -> f64 {
    if let Some(p) = a.as_primitive_opt::<Float32Type>() {
        lanes(p.values())
    } else if let Some(p) = a.as_primitive_opt::<Float64Type>() {
        lanes(p.values())
    } else if let Some(d) = a.as_dictionary_opt::<Int32Type>() {
        lanes(d.keys().values())
    } else {
        a.len() as f64
    }
}

/// Decode the projected columns of one row group in 64 Ki-row batches.
fn decode_row_group(bytes: &Bytes, meta: &ArrowReaderMetadata, rg: usize, cols: &[usize]) -> f64 {
    let mask = ProjectionMask::roots(meta.parquet_schema(), cols.iter().copied());
    let reader = ParquetRecordBatchReaderBuilder::new_with_metadata(bytes.clone(), meta.clone())
        .with_projection(mask)
        .with_row_groups(vec![rg])
        .with_batch_size(BATCH)
        .build()
        .expect("reader");
    let mut acc = 0.0;
    for batch in reader {
        let batch = batch.expect("decoded batch");
        for col in batch.columns() {
            acc += touch(col.as_ref());
        }
    }
    acc
}

/// Parquet decoding alone of the columns each reduction reads, the way the
/// aggregation reads them (one reader per row group, 64 Ki-row batches), on
/// all cores (`*_par`) and on one (`xy_1thread`).
fn bench_decode_only(c: &mut Criterion, bytes: &Bytes) {
    let meta = ArrowReaderMetadata::load(bytes, ArrowReaderOptions::new()).expect("metadata");
    let schema = meta.schema().clone();
    let idx = |n: &str| schema.index_of(n).expect("synthetic column");
    let (x, y, cat, val) = (idx("x"), idx("y"), idx("cat"), idx("val"));
    let groups = meta.metadata().num_row_groups();
    let mut g = c.benchmark_group("decode_only");
    g.throughput(Throughput::Elements(E2E_ROWS));
    g.sample_size(10);
    g.sampling_mode(SamplingMode::Flat);
    g.measurement_time(Duration::from_secs(5));
    let cases: [(&str, Vec<usize>); 3] = [
        ("xy_par", vec![x, y]),
        ("xy_val_par", vec![x, y, val]),
        ("xy_cat_par", vec![x, y, cat]),
    ];
    for (name, cols) in &cases {
        g.bench_function(*name, |b| {
            b.iter(|| {
                let s: f64 = (0..groups)
                    .into_par_iter()
                    .map(|rg| decode_row_group(bytes, &meta, rg, cols))
                    .sum();
                black_box(s)
            })
        });
    }
    g.bench_function("xy_1thread", |b| {
        b.iter(|| {
            let s: f64 = (0..groups)
                .map(|rg| decode_row_group(bytes, &meta, rg, &[x, y]))
                .sum();
            black_box(s)
        })
    });
    g.finish();
}

fn bench_file_groups(c: &mut Criterion) {
    let bytes = e2e_bytes();
    bench_end_to_end(c, &bytes);
    bench_decode_only(c, &bytes);
}

fn config() -> Criterion {
    Criterion::default()
        .without_plots()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(20)
}

criterion_group! {
    name = kernels;
    config = config();
    targets = bench_bin_linear, bench_accumulate, bench_file_groups
}
criterion_main!(kernels);
