//! GPU against CPU: the same aggregation on both engines, side by side in
//! one process, plus the GPU kernels alone on data already on the device.
//!
//! ```sh
//! cargo run --release --example gpu_bench -- FILE.parquet [--agg SPEC] [--width N] [--height N]
//!     [--runs N] [--resident-points N] [--peak-gbs GB/S]
//! ```
//!
//! 1. End to end (`render`'s aggregation: read, bin, aggregate): each
//!    engine `--runs` times (default 3), alternating, median reported in
//!    points/s. The aggregates are compared: identical for counts, min and
//!    max; the largest relative difference for sums and means.
//! 2. Resident: `--resident-points` (default 16M) uniformly spread cells of
//!    the same canvas are uploaded once, then the kernels run over them 10
//!    times. Points/s and the input bytes read per second (4 bytes of cell
//!    plus the encoded value: 8 bytes for sum, mean, min, max; 16 for first
//!    and last; 24 for var and std) are reported, and with `--peak-gbs` (the device's memory bandwidth, e.g.
//!    3350 for an H100 SXM) the fraction of it. The atomics' own traffic
//!    to the canvas is not counted, so this understates the memory traffic.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use pointillist::aggregate::gpu::{FixedScale, Gpu, GpuOptions, PointChunk};
use pointillist::aggregate::{
    AggValues, AggregateRequest, AggregationPlan, Engine, ReductionKind, ReductionSpec,
};
use pointillist::source::Source;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

struct Args {
    path: PathBuf,
    agg: ReductionSpec,
    width: usize,
    height: usize,
    runs: usize,
    resident: usize,
    peak_gbs: Option<f64>,
}

fn parse_args() -> Result<Args, BoxError> {
    let mut it = std::env::args().skip(1);
    let mut a = Args {
        path: PathBuf::new(),
        agg: ReductionSpec::count(),
        width: 1920,
        height: 1080,
        runs: 3,
        resident: 16 << 20,
        peak_gbs: None,
    };
    let mut path = None;
    while let Some(arg) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--agg" => a.agg = value()?.parse().map_err(|e| format!("--agg: {e}"))?,
            "--width" => a.width = value()?.parse()?,
            "--height" => a.height = value()?.parse()?,
            "--runs" => a.runs = value()?.parse()?,
            "--resident-points" => a.resident = value()?.parse()?,
            "--peak-gbs" => a.peak_gbs = Some(value()?.parse()?),
            p if !p.starts_with("--") => path = Some(PathBuf::from(p)),
            other => return Err(format!("unknown option {other}").into()),
        }
    }
    a.path = path.ok_or("give a Parquet file")?;
    Ok(a)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn max_rel_diff(a: &AggValues, b: &AggValues) -> Option<f64> {
    match (a, b) {
        (AggValues::F64(x), AggValues::F64(y)) => Some(
            x.iter()
                .zip(y)
                .filter(|(p, q)| !(p.is_nan() && q.is_nan()))
                .map(|(p, q)| if p == q { 0.0 } else { (p - q).abs() / q.abs() })
                .fold(0.0, f64::max),
        ),
        _ => None,
    }
}

fn main() -> Result<(), BoxError> {
    let args = parse_args()?;
    let gpu = Gpu::shared()?;
    println!("adapter: {}", gpu.adapter());
    let source = Source::open(std::slice::from_ref(&args.path))?;
    let mut req = AggregateRequest::new(args.width, args.height);
    req.reduction = args.agg.clone();
    let plan = AggregationPlan::new(&source, &req)?;
    let units = plan.units(&source);
    let rows: u64 = units.iter().map(|u| u.rows as u64).sum();
    println!(
        "input: {} ({rows} rows), --agg {} on {}x{}",
        args.path.display(),
        args.agg,
        args.width,
        args.height
    );

    // 1. End to end, alternating engines.
    let mut times = [Vec::new(), Vec::new()];
    let mut results = [None, None];
    for _ in 0..args.runs.max(1) {
        for (i, engine) in [Engine::Cpu, Engine::Gpu(gpu.clone())]
            .into_iter()
            .enumerate()
        {
            let t = Instant::now();
            let agg = plan.run_units_on(engine, &source, &units, &|_| {})?;
            times[i].push(t.elapsed());
            results[i] = Some(agg.values);
        }
    }
    let [cpu_t, gpu_t] = times.map(median);
    let rate = |d: Duration| rows as f64 / d.as_secs_f64() / 1e6;
    println!(
        "end to end: cpu {:.3} s ({:.0} M points/s), gpu {:.3} s ({:.0} M points/s), gpu/cpu time {:.2}",
        cpu_t.as_secs_f64(),
        rate(cpu_t),
        gpu_t.as_secs_f64(),
        rate(gpu_t),
        gpu_t.as_secs_f64() / cpu_t.as_secs_f64()
    );
    if let [Some(c), Some(g)] = &results {
        match max_rel_diff(g, c) {
            Some(d) => println!("aggregates: largest relative difference {d:.3e}"),
            None => println!("aggregates identical: {}", c == g),
        }
    }

    // 2. Resident data: kernels only.
    let kind = args.agg.kind;
    let cells = plan.cells();
    let mut canvas = gpu.canvas(
        kind,
        cells,
        FixedScale::for_max_abs(1.0),
        GpuOptions {
            max_chunk_points: args.resident,
            ..GpuOptions::default()
        },
    )?;
    let mut chunk = PointChunk::default();
    let mut s = 0x9e37_79b9_7f4a_7c15u64;
    let mut cs = Vec::with_capacity(args.resident);
    let mut vs = Vec::with_capacity(args.resident);
    for _ in 0..args.resident {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        cs.push((s % cells as u64) as u32);
        vs.push((s >> 11) as f64 / (1u64 << 53) as f64 - 0.5);
    }
    let with_values = kind != ReductionKind::Count && kind != ReductionKind::Any;
    chunk
        .push(
            canvas.encoding(),
            0,
            &cs,
            with_values.then_some(vs.as_slice()),
        )
        .map_err(|v| format!("value {v} out of range"))?;
    canvas.accumulate(&chunk)?;
    canvas.sync()?;
    let reps = 10;
    let t = Instant::now();
    let mut points = 0;
    for _ in 0..reps {
        points += canvas.replay()?;
    }
    canvas.sync()?;
    let secs = t.elapsed().as_secs_f64();
    let bytes_per_point = canvas.encoding().bytes_per_point() as f64;
    let gbs = points as f64 * bytes_per_point / secs / 1e9;
    print!(
        "resident: {points} points in {secs:.3} s: {:.0} M points/s, {gbs:.1} GB/s of input",
        points as f64 / secs / 1e6
    );
    match args.peak_gbs {
        Some(peak) => println!(", {:.0}% of {peak} GB/s", 100.0 * gbs / peak),
        None => println!(),
    }
    Ok(())
}
