//! GPU against CPU on the same points. These run on whatever adapter
//! exists (Mesa's lavapipe in CI) and skip, saying so, where there is none;
//! under `CI` a missing adapter fails instead.

use super::*;
use crate::aggregate::{AggValues, Partial, NO_CELL};

fn gpu() -> Option<Arc<Gpu>> {
    skip_unless_ci(Gpu::shared())
}

/// `Ok`'s value, or `None` after saying why the test skips; under `CI` a
/// missing adapter fails instead.
fn skip_unless_ci<T, E: std::fmt::Display>(r: Result<T, E>) -> Option<T> {
    match r {
        Ok(g) => Some(g),
        Err(e) => {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI must run the GPU tests: {e}"
            );
            eprintln!("skipping: {e}");
            None
        }
    }
}

/// Tiny limits: many bands and many pieces per chunk.
const SMALL: GpuOptions = GpuOptions {
    max_chunk_points: 1000,
    max_band_bytes: 4096,
};

/// Deterministic pseudo-random points over `cells` cells: some dropped,
/// some NaN, repeated values and both zeros.
fn points(n: usize, cells: u32, seed: u64) -> (Vec<u32>, Vec<f64>) {
    let mut s = seed;
    let mut next = || {
        s = s
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        s >> 33
    };
    let mut cs = Vec::with_capacity(n);
    let mut vs = Vec::with_capacity(n);
    for _ in 0..n {
        let r = next();
        cs.push(if r % 17 == 0 {
            NO_CELL
        } else {
            (next() % u64::from(cells)) as u32
        });
        let v = match r % 11 {
            0 => f64::NAN,
            1 => -0.0,
            2 => 0.0,
            3 => 2.5,
            _ => (next() as f64 / (1u64 << 31) as f64 - 0.5) * 1e3,
        };
        vs.push(v);
    }
    (cs, vs)
}

fn cpu(kind: ReductionKind, cells: usize, cs: &[u32], vs: Option<&[f64]>) -> AggValues {
    let mut p = Partial::new(kind, cells);
    p.accumulate(0, cs, vs);
    p.finalize()
}

fn on_gpu(
    g: &Gpu,
    kind: ReductionKind,
    cells: usize,
    cs: &[u32],
    vs: Option<&[f64]>,
    options: GpuOptions,
) -> AggValues {
    let scale = FixedScale::for_max_abs(
        vs.unwrap_or(&[])
            .iter()
            .filter(|v| v.is_finite())
            .fold(0.0f64, |m, v| m.max(v.abs())),
    );
    let mut canvas = g.canvas(kind, cells, scale, options).expect("canvas");
    let mut chunk = PointChunk::default();
    // Uneven chunks, as units of the input would give.
    for (i, range) in [0..1234, 1234..1300, 1300..cs.len()]
        .into_iter()
        .enumerate()
    {
        chunk.clear();
        let range = range.start.min(cs.len())..range.end.min(cs.len());
        chunk
            .push(
                canvas.encoding(),
                range.start as u64,
                &cs[range.clone()],
                vs.map(|v| &v[range]),
            )
            .expect("in range");
        canvas
            .accumulate(&chunk)
            .unwrap_or_else(|e| panic!("chunk {i}: {e}"));
    }
    canvas.finish().expect("finish").finalize()
}

fn assert_close(kind: ReductionKind, got: &AggValues, want: &AggValues, rel: f64) {
    match (got, want) {
        (AggValues::F64(a), AggValues::F64(b)) => {
            assert_eq!(a.len(), b.len());
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                let ok = if y.is_nan() {
                    x.is_nan()
                } else {
                    *x == *y || (x - y).abs() <= rel * y.abs()
                };
                assert!(ok, "{kind:?} cell {i}: gpu {x} cpu {y}");
            }
        }
        _ => assert_eq!(got, want, "{kind:?}"),
    }
}

#[test]
fn every_gpu_reduction_matches_the_cpu_across_bands_and_pieces() {
    let Some(g) = gpu() else { return };
    let cells = 3 * 700; // 700 pixels x 3 category planes
    let (cs, vs) = points(20_000, cells as u32, 7);
    for kind in [
        ReductionKind::Count,
        ReductionKind::Any,
        ReductionKind::Sum,
        ReductionKind::Mean,
        ReductionKind::Min,
        ReductionKind::Max,
        ReductionKind::Var,
        ReductionKind::Std,
        ReductionKind::First,
        ReductionKind::Last,
    ] {
        let canvas = g
            .canvas(kind, cells, FixedScale { k: 0 }, SMALL)
            .expect("canvas");
        assert!(canvas.bands() > 1, "{kind:?}: {} band", canvas.bands());
        drop(canvas);
        // Exact reductions must be identical; sums and variances agree to
        // the CPU's own rounding (the GPU's are exact up to the scaling).
        let rel = match kind {
            ReductionKind::Sum | ReductionKind::Mean => 1e-12,
            ReductionKind::Var | ReductionKind::Std => 1e-10,
            _ => 0.0,
        };
        for vals in [None, Some(vs.as_slice())] {
            if vals.is_none() && kind.needs_column() {
                continue;
            }
            let want = cpu(kind, cells, &cs, vals);
            let got = on_gpu(&g, kind, cells, &cs, vals, SMALL);
            assert_close(kind, &got, &want, rel);
            // The default limits (one band, one piece) give the same bytes.
            let whole = on_gpu(&g, kind, cells, &cs, vals, GpuOptions::default());
            assert_eq!(format!("{got:?}"), format!("{whole:?}"), "{kind:?}");
        }
    }
}

#[test]
fn sums_are_exact_where_f64_addition_rounds() {
    let Some(g) = gpu() else { return };
    // In f64, 1e16 + 1 rounds back to 1e16: the CPU's running sum loses
    // the 1. Fixed point does not.
    let cs = [0, 0, 0, 1, 1];
    let vs = [1e16, 1.0, -1e16, 0.1, 0.2];
    let got = on_gpu(&g, ReductionKind::Sum, 2, &cs, Some(&vs), SMALL);
    let AggValues::F64(v) = got else {
        panic!("sum is float64")
    };
    assert_eq!(v[0], 1.0);
    // The price: every value is rounded to a multiple of 2^-k, here 2^-8
    // (1e16 * 2^8 < 2^62), so a cell's error is at most half that per value.
    let k = FixedScale::for_max_abs(1e16).k;
    assert_eq!(k, 8);
    assert!(
        (v[1] - 0.3).abs() <= 2.0 * 0.5 * encode::pow2(-k),
        "{}",
        v[1]
    );
}

#[test]
fn infinities_and_empty_cells_follow_the_cpu() {
    let Some(g) = gpu() else { return };
    let inf = f64::INFINITY;
    // (Cell 2 ends in NaN on both. Were a finite value to follow, the
    // CPU, like Datashader, would restart its sum from it, since NaN marks
    // an empty cell there; the GPU stays NaN. See the module docs.)
    let cs = [0, 0, 1, 1, 2, 2, 2];
    let vs = [inf, 5.0, -inf, 1.0, 3.0, inf, -inf];
    for kind in [
        ReductionKind::Sum,
        ReductionKind::Mean,
        ReductionKind::Min,
        ReductionKind::Max,
        ReductionKind::Count,
    ] {
        let want = cpu(kind, 4, &cs, Some(&vs));
        let got = on_gpu(&g, kind, 4, &cs, Some(&vs), SMALL);
        assert_close(kind, &got, &want, 0.0);
    }
}

#[test]
fn variance_is_exact_where_f64_moments_cancel() {
    let Some(g) = gpu() else { return };
    // Values 1e8 + {0.25, 0.5, 0.75, 1}: a sum of squares in f64 loses the
    // spread entirely; integer moments keep it. Population variance 0.078125.
    let vs = [1e8 + 0.25, 1e8 + 0.5, 1e8 + 0.75, 1e8 + 1.0, 3.0];
    let cs = [0, 0, 0, 0, 1];
    let got = on_gpu(&g, ReductionKind::Var, 3, &cs, Some(&vs), SMALL);
    let AggValues::F64(v) = got else {
        panic!("var is float64")
    };
    assert_eq!(v[0], 0.078125);
    assert_eq!(v[1], 0.0);
    assert!(v[2].is_nan());
    let cpu_var = cpu(ReductionKind::Var, 3, &cs, Some(&vs));
    assert_close(ReductionKind::Var, &AggValues::F64(v), &cpu_var, 1e-9);
    // Any infinity makes the cell NaN on the GPU.
    let vs = [1.0, f64::INFINITY, 2.0];
    let got = on_gpu(&g, ReductionKind::Std, 1, &[0, 0, 0], Some(&vs), SMALL);
    let AggValues::F64(v) = got else {
        panic!("std is float64")
    };
    assert!(v[0].is_nan());
}

#[test]
fn a_callers_own_wgpu_device_aggregates_like_the_cpu() {
    use crate::aggregate::{AggregateRequest, AggregationPlan, Engine, ReductionSpec};
    use crate::source::Source;

    // The caller's device: its own instance and adapter, opened with
    // wgpu's default limits (not the adapter's, as `Gpu::new` asks for).
    let mut desc = wgpu::InstanceDescriptor::new_without_display_handle();
    desc.backends = wgpu::Backends::PRIMARY;
    let instance = wgpu::Instance::new(desc.with_env());
    let options = wgpu::RequestAdapterOptions::default();
    let Some(adapter) = skip_unless_ci(pollster::block_on(instance.request_adapter(&options)))
    else {
        return;
    };
    let (device, queue) =
        pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor::default()))
            .expect("the adapter opens a device with the default limits");
    let g = Gpu::from_wgpu(&adapter.get_info(), device.clone(), queue.clone()).expect("from_wgpu");
    assert_eq!(g.adapter(), &AdapterSummary::from_info(&adapter.get_info()));
    let limits = device.limits();
    assert_eq!(
        g.max_binding_bytes(),
        limits
            .max_storage_buffer_binding_size
            .min(limits.max_buffer_size)
    );
    let g = Arc::new(g);

    let source = Source::sample().expect("sample");
    for spec in [
        ReductionSpec::count(),
        ReductionSpec::count().by("cat"),
        ReductionSpec::of(ReductionKind::Max, "val"),
        ReductionSpec::of(ReductionKind::First, "val").by("cat"),
        ReductionSpec::of(ReductionKind::Mean, "val"),
    ] {
        let mut req = AggregateRequest::new(300, 200);
        req.reduction = spec.clone();
        let plan = AggregationPlan::new(&source, &req).expect("plan");
        let units = plan.units(&source);
        let cpu = plan
            .run_units_on(Engine::Cpu, &source, &units, &|_| {})
            .expect("cpu");
        let gpu = plan
            .run_units_on(Engine::Gpu(g.clone()), &source, &units, &|_| {})
            .unwrap_or_else(|e| panic!("{spec:?} on the caller's device: {e}"));
        let rel = if spec.kind == ReductionKind::Mean {
            1e-9
        } else {
            0.0
        };
        assert_close(spec.kind, &gpu.values, &cpu.values, rel);
        assert_eq!(gpu.categories, cpu.categories);
    }
    // The caller's handles still work after pointillist used the device.
    let buffer = device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("caller's buffer"),
        size: 16,
        usage: wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    queue.write_buffer(&buffer, 0, &[0; 16]);
    queue.submit([]);
}
