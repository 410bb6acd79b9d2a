//! A chosen aggregate dtype (`count@uint8`, `count@uint16`,
//! `sum/min/max@float32`): the state is held in that type, so the result is
//! the default aggregate saturated (counts) or rounded (floats), the memory
//! stated and budgeted is the narrow type's, and the result does not depend
//! on threads, on how the rows are split into partials (in memory or as
//! Arrow IPC), on shards, or on the glyph (points, points with a radius,
//! lines).

use std::sync::Arc;

use arrow_array::{ArrayRef, Float64Array, RecordBatch, StringArray};
use pointillist::aggregate::{
    aggregate, AggDtype, AggValues, Aggregate, AggregateRequest, AggregationPlan, Aggregator,
    Device, PartialAggregate, ReductionKind, ReductionSpec, Shard,
};
use pointillist::source::Source;

/// `n` points packed onto a small canvas (thousands per pixel), some off
/// it, `v` with NaN and values of many magnitudes, `c` a category.
fn batch(n: usize) -> RecordBatch {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let (mut xs, mut ys, mut vs, mut cs) = (vec![], vec![], vec![], vec![]);
    for row in 0..n {
        // Denser towards x = 0, so some pixels saturate and some do not.
        xs.push(-0.1 + 1.2 * next() * next());
        ys.push(-0.1 + 1.2 * next());
        vs.push(if row % 13 == 4 {
            f64::NAN
        } else {
            (next() - 0.3) * 10f64.powi((row % 9) as i32 - 3)
        });
        cs.push(["a", "b", "c", "d"][row % 7 % 4]);
    }
    let f = |v: Vec<f64>| -> ArrayRef { Arc::new(Float64Array::from(v)) };
    RecordBatch::try_from_iter([
        ("x", f(xs)),
        ("y", f(ys)),
        ("v", f(vs)),
        ("c", Arc::new(StringArray::from(cs)) as ArrayRef),
    ])
    .expect("batch")
}

fn source(b: &RecordBatch) -> Source {
    Source::from_batches("points", b.schema(), vec![b.clone()]).expect("source")
}

fn request(w: usize, h: usize, spec: ReductionSpec) -> AggregateRequest {
    AggregateRequest::new(w, h)
        .with_x_range(0.0, 1.0)
        .with_y_range(0.0, 1.0)
        .with_reduction(spec)
}

/// The counts of any count aggregate, widened.
fn counts(a: &Aggregate) -> Vec<u64> {
    match &a.values {
        AggValues::U32(v) => v.iter().map(|&c| c.into()).collect(),
        AggValues::U16(v) => v.iter().map(|&c| c.into()).collect(),
        AggValues::U8(v) => v.iter().map(|&c| c.into()).collect(),
        other => panic!("not a count: {}", other.dtype_name()),
    }
}

fn saturated(wide: &Aggregate, max: u64) -> Vec<u64> {
    counts(wide).into_iter().map(|c| c.min(max)).collect()
}

#[test]
fn narrow_counts_are_the_uint32_counts_saturated() {
    let b = batch(300_000);
    let s = source(&b);
    let specs = [
        ReductionSpec::count(),
        ReductionSpec::of(ReductionKind::Count, "v"),
        ReductionSpec::count().by("c"),
    ];
    // 2 x 2 pixels hold tens of thousands of points each (uint16
    // saturates in some); 12 x 9 pixels hundreds to thousands (uint8 does).
    for (w, h) in [(2, 2), (12, 9)] {
        for spec in &specs {
            let wide = aggregate(&s, &request(w, h, spec.clone())).expect("uint32");
            for (d, name, max) in [
                (AggDtype::Uint8, "uint8", 255),
                (AggDtype::Uint16, "uint16", 65_535),
            ] {
                let narrow =
                    aggregate(&s, &request(w, h, spec.clone().with_dtype(d))).expect("narrow");
                assert_eq!(narrow.values.dtype_name(), name, "{spec} {w}x{h}");
                assert_eq!(narrow.shape(), wide.shape());
                assert_eq!(narrow.categories, wide.categories);
                assert_eq!(
                    counts(&narrow),
                    saturated(&wide, max),
                    "{spec}@{name} {w}x{h}"
                );
            }
        }
    }
    // The data do saturate: some pixel of the 12 x 9 canvas is over 255
    // and some under it; some 2 x 2 pixel is over 65,535.
    let wide = counts(&aggregate(&s, &request(12, 9, ReductionSpec::count())).expect("count"));
    assert!(wide.iter().any(|&c| c > 255) && wide.iter().any(|&c| c < 255));
    let wide = counts(&aggregate(&s, &request(2, 2, ReductionSpec::count())).expect("count"));
    assert!(wide.iter().any(|&c| c > 65_535));
    // uint32 is the default dtype, spelled out.
    let spelled = ReductionSpec::count().with_dtype(AggDtype::Uint32);
    assert_eq!(
        aggregate(&s, &request(12, 9, spelled)).expect("uint32"),
        aggregate(&s, &request(12, 9, ReductionSpec::count())).expect("count")
    );
}

#[test]
fn float32_minima_and_maxima_are_the_float64_ones_rounded_and_sums_are_close() {
    let b = batch(60_000);
    let s = source(&b);
    for kind in [ReductionKind::Min, ReductionKind::Max, ReductionKind::Sum] {
        for by in [false, true] {
            let mut spec = ReductionSpec::of(kind, "v");
            if by {
                spec = spec.by("c");
            }
            let wide = aggregate(&s, &request(40, 30, spec.clone())).expect("float64");
            let narrow = aggregate(&s, &request(40, 30, spec.with_dtype(AggDtype::Float32)))
                .expect("float32");
            let (AggValues::F64(w), AggValues::F32(n)) = (&wide.values, &narrow.values) else {
                panic!(
                    "{kind:?}: {} and {}",
                    wide.values.dtype_name(),
                    narrow.values.dtype_name()
                );
            };
            assert_eq!(w.len(), n.len());
            for (&w, &n) in w.iter().zip(n) {
                assert_eq!(w.is_nan(), n.is_nan(), "{kind:?}: empty cells stay NaN");
                if w.is_nan() {
                    continue;
                }
                if kind == ReductionKind::Sum {
                    // Rounded after every add: within a few float32 ulps
                    // of the cell's largest magnitude per add.
                    let scale = w.abs().max(1e3);
                    assert!((f64::from(n) - w).abs() <= 1e-4 * scale, "sum {w} vs {n}");
                } else {
                    assert_eq!(n, w as f32, "{kind:?} rounds the float64 result");
                }
            }
        }
    }
}

#[test]
fn narrow_aggregates_do_not_depend_on_threads_partials_ipc_or_shards() {
    let b = batch(50_000);
    let s = source(&b);
    for spec in [
        ReductionSpec::count().by("c").with_dtype(AggDtype::Uint8),
        ReductionSpec::count().with_dtype(AggDtype::Uint16),
        ReductionSpec::of(ReductionKind::Max, "v").with_dtype(AggDtype::Float32),
        ReductionSpec::of(ReductionKind::Sum, "v").with_dtype(AggDtype::Float32),
    ] {
        let req = request(12, 9, spec.clone());
        let whole = aggregate(&s, &req).expect("aggregate");
        let one = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .expect("pool")
            .install(|| aggregate(&s, &req).expect("one thread"));
        assert_eq!(
            format!("{one:?}"),
            format!("{whole:?}"),
            "{spec}: one thread"
        );
        // Two partials of consecutive rows, the second through Arrow IPC.
        let mut a = Aggregator::new(req.clone()).expect("aggregator");
        a.push(&b.slice(0, 20_000)).expect("push");
        let mut c = Aggregator::new(req.clone())
            .expect("aggregator")
            .with_first_row(20_000);
        c.push(&b.slice(20_000, 30_000)).expect("push");
        let second = c.finish_partial().expect("partial");
        let bytes = second.to_ipc_bytes().expect("ipc");
        let second = PartialAggregate::from_ipc_bytes(&bytes).expect("read back");
        assert_eq!(
            second.spec().reduction,
            spec,
            "the dtype travels in the spec"
        );
        let mut merged = a.finish_partial().expect("partial");
        merged.merge(second).expect("merge");
        let merged = merged.finish();
        if spec.kind == ReductionKind::Sum {
            // float32 sums round in merge order: close, not identical.
            let (AggValues::F32(m), AggValues::F32(w)) = (&merged.values, &whole.values) else {
                panic!("float32")
            };
            for (m, w) in m.iter().zip(w) {
                assert!(
                    m == w || (m - w).abs() <= 1e-4 * w.abs().max(1e3),
                    "{m} vs {w}"
                );
            }
        } else {
            assert_eq!(
                format!("{merged:?}"),
                format!("{whole:?}"),
                "{spec}: partials"
            );
        }
    }
    // Shards of a Parquet file in row groups, merged in reverse.
    let dir = std::env::temp_dir().join(format!("agg-dtype-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("points.parquet");
    let file = std::fs::File::create(&path).expect("file");
    let props = parquet::file::properties::WriterProperties::builder()
        .set_max_row_group_row_count(Some(4000))
        .build();
    let mut wr = parquet::arrow::ArrowWriter::try_new(file, b.schema(), Some(props)).expect("w");
    wr.write(&b).expect("write");
    wr.close().expect("close");
    let file = Source::open(&[&path]).expect("open");
    let req = request(12, 9, ReductionSpec::count().with_dtype(AggDtype::Uint8));
    let whole = aggregate(&file, &req).expect("whole file");
    let mut parts = (0..3u32).rev().map(|i| {
        let shard = req.clone().with_shard(Shard::new(i, 3).expect("shard"));
        AggregationPlan::new(&file, &shard)
            .and_then(|p| p.run_partial(&file))
            .expect("shard")
    });
    let mut total = parts.next().expect("a shard");
    for p in parts {
        total.merge(p).expect("merge");
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(total.finish(), whole, "shards");
    assert_eq!(whole, aggregate(&s, &req).expect("memory"), "Parquet");
}

#[test]
fn narrow_counts_of_points_with_a_radius_and_of_lines_saturate_the_same_way() {
    let b = batch(40_000);
    let s = source(&b);
    let radius = |spec: ReductionSpec| request(12, 9, spec).with_point_radius(1.5);
    let wide = aggregate(&s, &radius(ReductionSpec::count().by("c"))).expect("radius");
    let narrow = aggregate(
        &s,
        &radius(ReductionSpec::count().by("c").with_dtype(AggDtype::Uint8)),
    )
    .expect("radius uint8");
    assert_eq!(counts(&narrow), saturated(&wide, 255));
    let lines = |spec: ReductionSpec| request(12, 9, spec).with_lines(&["x"], &["y"]);
    let wide = aggregate(&s, &lines(ReductionSpec::count())).expect("lines");
    assert!(counts(&wide).iter().any(|&c| c > 255), "lines saturate");
    for (d, max) in [(AggDtype::Uint8, 255), (AggDtype::Uint16, 65_535)] {
        let narrow =
            aggregate(&s, &lines(ReductionSpec::count().with_dtype(d))).expect("lines narrow");
        assert_eq!(counts(&narrow), saturated(&wide, max), "lines {d}");
    }
}

#[test]
fn the_narrow_state_is_what_is_stated_and_budgeted() {
    let b = batch(1000);
    let s = source(&b);
    let spec = ReductionSpec::count().by("c");
    let plan = |spec: ReductionSpec, budget: u64| {
        AggregationPlan::new(&s, &request(1024, 1024, spec).with_memory_budget(budget))
    };
    let wide = plan(spec.clone(), 1 << 30).expect("fits");
    let narrow = plan(spec.clone().with_dtype(AggDtype::Uint8), 1 << 30).expect("fits");
    // 1024 x 1024 x 4 categories: 16 MiB as uint32, 4 MiB as uint8.
    assert_eq!(wide.canvas_state_bytes(), 4 * narrow.canvas_state_bytes());
    assert_eq!(narrow.canvas_state_bytes(), 1024 * 1024 * 4);
    assert!(
        narrow.describe_memory().contains("4.0 MiB per canvas"),
        "{}",
        narrow.describe_memory()
    );
    // A budget that refuses the uint32 canvas (two states: 32 MiB) takes
    // the uint8 one, and the refusal says so.
    let e = plan(spec.clone(), 20 << 20).expect_err("over the budget");
    assert!(e.to_string().contains("@uint16"), "{e}");
    plan(spec.with_dtype(AggDtype::Uint8), 20 << 20).expect("uint8 fits");
    let sum = ReductionSpec::of(ReductionKind::Sum, "v");
    let e = AggregationPlan::new(&s, &request(2048, 2048, sum).with_memory_budget(40 << 20))
        .expect_err("over the budget");
    assert!(e.to_string().contains("@float32"), "{e}");
}

#[test]
fn dtypes_that_cannot_hold_a_reduction_are_refused_with_the_choices() {
    for (spec, want) in [
        ("mean:v@float32", "only count"),
        ("count@float32", "count takes uint8, uint16, uint32"),
        ("sum:v@uint8", "sum takes float32, float64"),
        ("where(max:v)@float32", "only count"),
        ("max_n:v:2@float32", "only count"),
        ("count@int8", "unknown aggregate dtype"),
    ] {
        let e = spec.parse::<ReductionSpec>().expect_err(spec);
        assert!(e.message.contains(want), "{spec}: {e}");
    }
    // Every accepted spelling writes back as it parses.
    for spec in [
        "count@uint8",
        "count:v@uint16",
        "count_cat:c@uint8",
        "sum:v@float32",
        "min:v@float32",
        "max:v@float64",
    ] {
        let parsed: ReductionSpec = spec.parse().expect(spec);
        assert_eq!(parsed.to_string(), spec);
        assert_eq!(parsed.to_string().parse::<ReductionSpec>(), Ok(parsed));
    }
    let b = batch(100);
    let s = source(&b);
    let narrow = ReductionSpec::count().with_dtype(AggDtype::Uint8);
    let e =
        aggregate(&s, &request(8, 8, narrow.clone()).with_device(Device::Gpu)).expect_err("GPU");
    assert!(e.to_string().contains("CPU only"), "{e}");
    let auto = aggregate(&s, &request(8, 8, narrow.clone()).with_device(Device::Auto));
    assert_eq!(
        auto.expect("auto"),
        aggregate(&s, &request(8, 8, narrow.clone())).expect("cpu")
    );
    let aa = request(8, 8, narrow)
        .with_lines(&["x"], &["y"])
        .with_line_width(1.0);
    let e = aggregate(&s, &aa).expect_err("antialiased");
    assert!(e.to_string().contains("float32 coverage"), "{e}");
}
