//! Points with a radius (`AggregateRequest::point_radius`): every reduction
//! sees each point once in every pixel whose centre lies within the radius
//! (or in the pixel Datashader puts it in), checked against a brute-force
//! pass written from that definition; radius 0 is the plain aggregate; the
//! result does not depend on the thread count, on how the input is split
//! into partials, or on whether it is read from memory or from Parquet.

use std::sync::Arc;

use arrow_array::{ArrayRef, Float64Array, RecordBatch, StringArray};
use pointillist::aggregate::{
    aggregate, AggValues, Aggregate, AggregateRequest, Aggregator, Device, Lookup, PointShape,
    ReductionKind, ReductionSpec,
};
use pointillist::source::Source;

const W: usize = 20;
const H: usize = 16;
const RANGE: (f64, f64) = (0.0, 10.0);

/// `n` points around and a little beyond the canvas, from a fixed LCG.
/// `v` holds small integers (exact float sums) with some NaN, `u` is unique
/// per row (no ties for the selections), `w` is looked up, `c` a category.
fn batch(n: usize) -> RecordBatch {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut cols: [Vec<f64>; 5] = Default::default();
    let mut cats = Vec::new();
    for row in 0..n {
        let x = -1.5 + 13.0 * next();
        let y = -1.5 + 13.0 * next();
        let v = if row % 17 == 5 {
            f64::NAN
        } else {
            (row % 23) as f64
        };
        // A few points exactly on pixel edges and on the upper range edge.
        let x = if row % 101 == 0 { 5.0 } else { x };
        let y = if row % 103 == 0 { 10.0 } else { y };
        cols[0].push(x);
        cols[1].push(y);
        cols[2].push(v);
        cols[3].push(row as f64 * 0.25 + (row % 7) as f64);
        cols[4].push((row % 11) as f64 - 3.0);
        cats.push(["a", "b", "c"][row % 3]);
    }
    let f = |v: &Vec<f64>| -> ArrayRef { Arc::new(Float64Array::from(v.clone())) };
    RecordBatch::try_from_iter([
        ("x", f(&cols[0])),
        ("y", f(&cols[1])),
        ("v", f(&cols[2])),
        ("u", f(&cols[3])),
        ("w", f(&cols[4])),
        ("c", Arc::new(StringArray::from(cats)) as ArrayRef),
    ])
    .expect("batch")
}

fn column(b: &RecordBatch, name: &str) -> Vec<f64> {
    let a = b.column_by_name(name).expect("column");
    let a = a.as_any().downcast_ref::<Float64Array>().expect("f64");
    a.values().to_vec()
}

/// Datashader's bin of `v` on an axis of `n` bins over RANGE.
fn own_bin(v: f64, n: usize) -> Option<usize> {
    if !(RANGE.0..=RANGE.1).contains(&v) {
        return None;
    }
    let s = n as f64 / (RANGE.1 - RANGE.0);
    let b = (v * s + -RANGE.0 * s) as usize;
    Some(b.min(n - 1))
}

/// The pixels (row-major, row 0 lowest y) a point covers, by definition.
fn covered(x: f64, y: f64, r: f64, shape: PointShape) -> Vec<usize> {
    let (fx, fy) = (x * W as f64 / 10.0, y * H as f64 / 10.0);
    let mut out = Vec::new();
    for j in 0..H {
        for i in 0..W {
            let (dx, dy) = (i as f64 + 0.5 - fx, j as f64 + 0.5 - fy);
            let inside = match shape {
                PointShape::Square => dx.abs() <= r && dy.abs() <= r,
                _ => dx * dx + dy * dy <= r * r,
            };
            if inside {
                out.push(j * W + i);
            }
        }
    }
    if let (Some(i), Some(j)) = (own_bin(x, W), own_bin(y, H)) {
        if !out.contains(&(j * W + i)) {
            out.push(j * W + i);
        }
    }
    out
}

/// Per cell, the rows covering it in row order.
fn rows_per_cell(b: &RecordBatch, r: f64, shape: PointShape, planes: usize) -> Vec<Vec<usize>> {
    let (xs, ys) = (column(b, "x"), column(b, "y"));
    let mut cells = vec![Vec::new(); W * H * planes];
    for row in 0..xs.len() {
        for p in covered(xs[row], ys[row], r, shape) {
            let plane = if planes > 1 { row % 3 } else { 0 };
            cells[p * planes + plane].push(row);
        }
    }
    cells
}

fn request(r: f64, shape: PointShape, reduction: ReductionSpec) -> AggregateRequest {
    AggregateRequest::new(W, H)
        .with_x_range(RANGE.0, RANGE.1)
        .with_y_range(RANGE.0, RANGE.1)
        .with_point_radius(r)
        .with_point_shape(shape)
        .with_reduction(reduction)
}

fn run(b: &RecordBatch, req: &AggregateRequest) -> Aggregate {
    let s = Source::from_batches("points", b.schema(), vec![b.clone()]).expect("source");
    aggregate(&s, req).expect("aggregate")
}

fn f64s(a: &Aggregate) -> Vec<f64> {
    match &a.values {
        AggValues::F64(v) => v.clone(),
        AggValues::U32(v) => v.iter().map(|&c| f64::from(c)).collect(),
        AggValues::I64(v) => v.iter().map(|&c| c as f64).collect(),
        other => panic!("unexpected dtype {}", other.dtype_name()),
    }
}

fn same(a: &[f64], b: &[f64]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| x == y || (x.is_nan() && y.is_nan()))
}

#[test]
fn every_reduction_sees_each_point_in_every_pixel_it_covers() {
    let b = batch(3000);
    let (v, u, w) = (column(&b, "v"), column(&b, "u"), column(&b, "w"));
    for (r, shape) in [
        (0.5, PointShape::Circle),
        (1.0, PointShape::Circle),
        (2.3, PointShape::Circle),
        (1.5, PointShape::Square),
    ] {
        let cells = rows_per_cell(&b, r, shape, 1);
        let valued = |c: &Vec<usize>| -> Vec<usize> {
            c.iter().copied().filter(|&k| !v[k].is_nan()).collect()
        };
        type Reference<'a> = Box<dyn Fn(&Vec<usize>) -> f64 + 'a>;
        let cases: Vec<(ReductionSpec, Reference)> = vec![
            (ReductionSpec::count(), Box::new(|c| c.len() as f64)),
            (
                ReductionSpec::of(ReductionKind::Count, "v"),
                Box::new(|c| valued(c).len() as f64),
            ),
            (
                ReductionSpec::of(ReductionKind::Sum, "v"),
                Box::new(|c| {
                    let k = valued(c);
                    if k.is_empty() {
                        f64::NAN
                    } else {
                        k.iter().map(|&k| v[k]).sum()
                    }
                }),
            ),
            (
                ReductionSpec::of(ReductionKind::Mean, "v"),
                Box::new(|c| {
                    let k = valued(c);
                    k.iter().map(|&k| v[k]).sum::<f64>() / k.len() as f64
                }),
            ),
            (
                ReductionSpec::of(ReductionKind::Max, "v"),
                Box::new(|c| valued(c).iter().map(|&k| v[k]).fold(f64::NAN, f64::max)),
            ),
            (
                ReductionSpec::of(ReductionKind::Min, "v"),
                Box::new(|c| valued(c).iter().map(|&k| v[k]).fold(f64::NAN, f64::min)),
            ),
            (
                ReductionSpec::of(ReductionKind::First, "v"),
                Box::new(|c| valued(c).first().map_or(f64::NAN, |&k| v[k])),
            ),
            (
                ReductionSpec::of(ReductionKind::Last, "v"),
                Box::new(|c| valued(c).last().map_or(f64::NAN, |&k| v[k])),
            ),
            (
                ReductionSpec::of(ReductionKind::Max, "u").with_lookup(Lookup::Column("w".into())),
                Box::new(|c| {
                    let best = c.iter().copied().max_by(|&a, &b| u[a].total_cmp(&u[b]));
                    best.map_or(f64::NAN, |k| w[k])
                }),
            ),
            (
                ReductionSpec::of(ReductionKind::Min, "u").with_lookup(Lookup::RowIndex),
                Box::new(|c| {
                    let best = c.iter().copied().min_by(|&a, &b| u[a].total_cmp(&u[b]));
                    best.map_or(-1.0, |k| k as f64)
                }),
            ),
        ];
        for (spec, reference) in cases {
            let name = spec.to_string();
            let got = f64s(&run(&b, &request(r, shape, spec)));
            let want: Vec<f64> = cells.iter().map(&reference).collect();
            assert!(same(&got, &want), "{name} at radius {r} {shape}");
        }
        // max_n: the three largest u per cell, largest first.
        let got = f64s(&run(
            &b,
            &request(r, shape, ReductionSpec::of_n(ReductionKind::MaxN, "u", 3)),
        ));
        for (cell, c) in cells.iter().enumerate() {
            let mut top: Vec<f64> = c.iter().map(|&k| u[k]).collect();
            top.sort_by(|a, b| b.total_cmp(a));
            top.resize(3, f64::NAN);
            assert!(
                same(&got[cell * 3..cell * 3 + 3], &top),
                "max_n cell {cell}"
            );
        }
        // Categories keep their plane.
        let got = f64s(&run(&b, &request(r, shape, ReductionSpec::count().by("c"))));
        let want: Vec<f64> = rows_per_cell(&b, r, shape, 3)
            .iter()
            .map(|c| c.len() as f64)
            .collect();
        assert_eq!(got, want, "count by c at radius {r}");
    }
}

#[test]
fn radius_zero_is_the_plain_aggregate_and_a_radius_grows_it() {
    let b = batch(2000);
    for spec in [
        ReductionSpec::count(),
        ReductionSpec::of(ReductionKind::Mean, "v"),
        ReductionSpec::of(ReductionKind::Last, "v"),
    ] {
        let zero = run(&b, &request(0.0, PointShape::Circle, spec.clone()));
        let base = AggregateRequest::new(W, H)
            .with_x_range(RANGE.0, RANGE.1)
            .with_y_range(RANGE.0, RANGE.1)
            .with_reduction(spec);
        let plain = run(&b, &base);
        assert_eq!(zero.values.dtype_name(), plain.values.dtype_name());
        assert!(same(&f64s(&zero), &f64s(&plain)));
    }
    let counts = |r| match run(&b, &request(r, PointShape::Circle, ReductionSpec::count())).values {
        AggValues::U32(c) => c.iter().map(|&c| u64::from(c)).sum::<u64>(),
        _ => unreachable!("count is uint32"),
    };
    assert!(counts(0.0) < counts(1.0) && counts(1.0) < counts(3.0));
}

#[test]
fn splatted_aggregates_do_not_depend_on_threads_partials_or_the_reader() {
    let b = batch(6000);
    let spec = ReductionSpec::of(ReductionKind::Sum, "u");
    let req = request(1.7, PointShape::Circle, spec).with_x_range(0.0, 10.0);
    let whole = run(&b, &req);
    let one = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("pool")
        .install(|| run(&b, &req));
    assert_eq!(one, whole, "one thread");
    // Two partials of consecutive rows, merged.
    let (first, second) = (b.slice(0, 2500), b.slice(2500, 3500));
    let mut a = Aggregator::new(req.clone()).expect("aggregator");
    a.push(&first).expect("push");
    let mut c = Aggregator::new(req.clone())
        .expect("aggregator")
        .with_first_row(2500);
    c.push(&second).expect("push");
    let mut merged = a.finish_partial().expect("partial");
    merged
        .merge(c.finish_partial().expect("partial"))
        .expect("merge");
    let merged = merged.finish();
    let (AggValues::F64(m), AggValues::F64(w)) = (&merged.values, &whole.values) else {
        unreachable!("sums are float64")
    };
    // Float sums merge up to rounding; these values are exact in f64.
    assert!(same(m, w));
    // Parquet.
    let dir = std::env::temp_dir().join(format!("splat-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("points.parquet");
    let file = std::fs::File::create(&path).expect("file");
    let props = parquet::file::properties::WriterProperties::builder()
        .set_max_row_group_row_count(Some(1000))
        .build();
    let mut wr = parquet::arrow::ArrowWriter::try_new(file, b.schema(), Some(props)).expect("w");
    wr.write(&b).expect("write");
    wr.close().expect("close");
    let from_file = aggregate(&Source::open(&[&path]).expect("open"), &req).expect("aggregate");
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(from_file, whole, "from Parquet");
}

#[test]
fn bad_radii_are_refused_with_their_reason() {
    let b = batch(10);
    let s = Source::from_batches("points", b.schema(), vec![b.clone()]).expect("source");
    for r in [-1.0, f64::NAN, f64::INFINITY] {
        let e = aggregate(&s, &request(r, PointShape::Circle, ReductionSpec::count()))
            .expect_err("refused");
        assert!(e.to_string().contains("point radius"), "{e}");
    }
    let lines = AggregateRequest::new(W, H)
        .with_lines(&["x"], &["y"])
        .with_point_radius(2.0);
    let e = aggregate(&s, &lines).expect_err("refused");
    assert!(e.to_string().contains("point radius"), "{e}");
    // The GPU draws one pixel per point: asked for, it is refused; auto
    // runs on the CPU.
    let gpu = request(2.0, PointShape::Circle, ReductionSpec::count());
    let e = aggregate(&s, &gpu.clone().with_device(Device::Gpu)).expect_err("refused");
    assert!(e.to_string().contains("radius"), "{e}");
    let auto = aggregate(&s, &gpu.clone().with_device(Device::Auto)).expect("auto");
    assert_eq!(auto, aggregate(&s, &gpu).expect("cpu"));
}
