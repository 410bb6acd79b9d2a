//! Criterion benchmarks of shading aggregates into RGBA images (`shade`)
//! and of encoding those images as PNG (`encode_png`), in pixels per second.
//!
//! The aggregates come from synthetic census-like points
//! (`pointillist_synth`) over the contiguous US, so their sparsity is
//! realistic (most pixels empty, dense cities); they are built once, outside
//! the timing loop. Run with `cargo bench --bench shade`.

use std::hint::black_box;
use std::time::Duration;

use bytes::Bytes;
use criterion::{
    criterion_group, criterion_main, BenchmarkId, Criterion, SamplingMode, Throughput,
};

use pointillist::aggregate::{
    aggregate, AggValues, Aggregate, AggregateRequest, ReductionKind, ReductionSpec,
};
use pointillist::output::{encode_png, PngOptions};
use pointillist::shade::{shade, How, ShadeOptions};
use pointillist::source::Source;
use pointillist_synth::{us_extent_meters, write_synth, SynthOptions};

/// Canvas sizes benchmarked.
const CANVASES: [(usize, usize); 2] = [(1920, 1080), (4096, 4096)];
/// Points behind the aggregates.
const ROWS: u64 = 8 << 20;

/// The synthetic points as an in-memory Parquet source.
fn source() -> Source {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("bench.parquet");
    let opts = SynthOptions {
        rows: ROWS,
        seed: 7,
        row_group_rows: 256 * 1024,
        ..SynthOptions::default()
    };
    write_synth(&path, &opts).expect("write synthetic Parquet");
    let bytes = Bytes::from(std::fs::read(&path).expect("read synthetic Parquet back"));
    Source::from_bytes(bytes, "<bench>").expect("valid Parquet")
}

fn agg(source: &Source, w: usize, h: usize, spec: ReductionSpec) -> Aggregate {
    let (x0, x1, y0, y1) = us_extent_meters();
    let req = AggregateRequest::new(w, h)
        .with_x_range(x0, x1)
        .with_y_range(y0, y1)
        .with_reduction(spec);
    aggregate(source, &req).expect("aggregation")
}

/// Share of pixels with at least one point.
fn occupancy(a: &Aggregate) -> f64 {
    let px = a.width * a.height;
    let planes = a.n_planes();
    let filled = match &a.values {
        AggValues::U32(v) => v
            .chunks_exact(planes)
            .filter(|c| c.iter().any(|&n| n > 0))
            .count(),
        other => (0..px).filter(|&i| !other.get_f64(i).is_nan()).count(),
    };
    filled as f64 / px as f64
}

fn bench_shade(c: &mut Criterion) {
    let source = source();
    let mut g = c.benchmark_group("shade");
    g.sample_size(10);
    g.sampling_mode(SamplingMode::Flat);
    g.measurement_time(Duration::from_secs(4));
    let mut images = Vec::new();
    for (w, h) in CANVASES {
        let count = agg(&source, w, h, ReductionSpec::count());
        let mean = agg(&source, w, h, ReductionSpec::of(ReductionKind::Mean, "val"));
        let cats = agg(&source, w, h, ReductionSpec::count().by("cat"));
        eprintln!(
            "{w}x{h}: {:.1}% of pixels hold points",
            100.0 * occupancy(&count)
        );
        let with_how = |how| ShadeOptions::default().with_how(how);
        let cases = [
            ("count_eq_hist_fire", &count, with_how(How::EqHist)),
            ("count_linear", &count, with_how(How::Linear)),
            ("count_log", &count, with_how(How::Log)),
            ("mean_eq_hist", &mean, with_how(How::EqHist)),
            ("count_cat_eq_hist", &cats, with_how(How::EqHist)),
        ];
        g.throughput(Throughput::Elements((w * h) as u64));
        for (name, a, opts) in cases {
            g.bench_function(BenchmarkId::new(name, format!("{w}x{h}")), |b| {
                b.iter(|| black_box(shade(a, &opts).expect("shade")))
            });
            if name == "count_eq_hist_fire" || name == "count_cat_eq_hist" {
                images.push((name, shade(a, &opts).expect("shade")));
            }
        }
    }
    g.finish();

    let mut g = c.benchmark_group("encode_png");
    g.sample_size(10);
    g.sampling_mode(SamplingMode::Flat);
    g.measurement_time(Duration::from_secs(4));
    for (name, img) in &images {
        let rgba = img.to_north_up_rgba8();
        let (w, h) = (img.width, img.height);
        let size = encode_png(w, h, &rgba, &PngOptions::default())
            .expect("png")
            .len();
        eprintln!("{name} {w}x{h}: PNG of {} KiB", size >> 10);
        g.throughput(Throughput::Elements((w * h) as u64));
        g.bench_function(BenchmarkId::new(*name, format!("{w}x{h}")), |b| {
            b.iter(|| black_box(encode_png(w, h, &rgba, &PngOptions::default()).expect("png")))
        });
    }
    g.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .without_plots()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(10)
}

criterion_group! {
    name = shade_benches;
    config = config();
    targets = bench_shade
}
criterion_main!(shade_benches);
