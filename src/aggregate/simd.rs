//! CPU-specific builds of hot loops, chosen at run time.
//!
//! - Binning: the x86-64 baseline (SSE2) has no 32-bit multiply, only
//!   2-lane f64 vectors and no vector truncation, so the loop compiled for
//!   AVX2 (with `trunc`) bins about 2x faster, and the one compiled for
//!   AVX-512 (eight f64 lanes, mask registers) about 2x faster again
//!   (`benches/kernels.rs`, `bin_linear`). The loop itself lives in
//!   `linear.rs`, which both this module and the kernels use, so neither
//!   depends on the other.
//! - `mean`: its 16-byte cells make a 1920x1080 canvas 33 MB, past the L3
//!   cache, so each point waits on memory; prefetching the cell of the point
//!   48 ahead hides part of that (10-15% on this machine; 16 to 96 ahead
//!   measured within noise of each other).
//!
//! This is the crate's only `unsafe`: calling a `#[target_feature]`
//! function, after checking that the CPU has the feature. Every other CPU
//! runs the identical safe loop, and both give bit-identical results.
#![allow(unsafe_code)]

use super::linear::{Linear, Widen};

/// Bin points on linear axes with the best loop this CPU supports.
#[inline]
pub(super) fn bin_linear<X: Widen, Y: Widen>(
    l: &Linear,
    xs: &[X::Native],
    ys: &[Y::Native],
    out: &mut [u32],
) {
    #[cfg(target_arch = "x86_64")]
    if has_avx512() {
        // SAFETY: `bin_linear_avx512` only needs AVX-512 F, DQ, VL and BW,
        // which the CPU has (`has_avx512`, on the line above).
        unsafe { bin_linear_avx512::<X, Y>(l, xs, ys, out) };
        return;
    }
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: `bin_linear_avx2` only needs AVX2, which the CPU has
        // (checked on the line above).
        unsafe { bin_linear_avx2::<X, Y>(l, xs, ys, out) };
        return;
    }
    l.bin::<X, Y>(xs, ys, out);
}

/// Whether the CPU has the AVX-512 subsets [`bin_linear_avx512`] is built
/// for (F, DQ, VL, BW).
#[cfg(target_arch = "x86_64")]
fn has_avx512() -> bool {
    std::arch::is_x86_feature_detected!("avx512f")
        && std::arch::is_x86_feature_detected!("avx512dq")
        && std::arch::is_x86_feature_detected!("avx512vl")
        && std::arch::is_x86_feature_detected!("avx512bw")
}

/// The mapping of [`Linear::bin`] written with `trunc` (see
/// [`Linear::bin_trunc`]), compiled with AVX2 enabled. No fused multiply-add:
/// Rust never contracts `x * s + t`, so results are bit-identical to the
/// baseline build. (The slices are this function's own arguments, so the
/// compiler knows `out` aliases neither input and vectorises the loop; a
/// loop handed over inside a struct ran 2-3x slower.)
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn bin_linear_avx2<X: Widen, Y: Widen>(
    l: &Linear,
    xs: &[X::Native],
    ys: &[Y::Native],
    out: &mut [u32],
) {
    l.bin_trunc::<X, Y>(xs, ys, out);
}

/// The mapping of [`Linear::bin_trunc_wide`] compiled for AVX-512: eight
/// f64 lanes per instruction and mask registers for the range test, about
/// 2x the AVX2 loop on data in cache (`benches/kernels.rs`, `bin_linear`);
/// exact integer arithmetic, so the same results.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512dq,avx512vl,avx512bw")]
fn bin_linear_avx512<X: Widen, Y: Widen>(
    l: &Linear,
    xs: &[X::Native],
    ys: &[Y::Native],
    out: &mut [u32],
) {
    l.bin_trunc_wide::<X, Y>(xs, ys, out);
}

/// Add `values[i]` to the `[sum, count]` cell `cells[i]` of every point
/// (skipping [`NO_CELL`](super::partial::NO_CELL) and NaN), in order.
pub(super) fn accumulate_mean(state: &mut [[f64; 2]], cells: &[u32], values: &[f64]) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: `accumulate_mean_prefetch` only needs SSE and AVX2, which
        // the CPU has (checked on the line above).
        unsafe { accumulate_mean_prefetch(state, cells, values) };
        return;
    }
    for (&i, &v) in cells.iter().zip(values) {
        add_mean(state, i, v);
    }
}

#[inline(always)]
fn add_mean(state: &mut [[f64; 2]], i: u32, v: f64) {
    if v.is_nan() {
        return;
    }
    if let Some(c) = state.get_mut(i as usize) {
        c[0] += v;
        c[1] += 1.0;
    }
}

/// [`accumulate_mean`] with a prefetch of the cell `AHEAD` points ahead.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn accumulate_mean_prefetch(state: &mut [[f64; 2]], cells: &[u32], values: &[f64]) {
    use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
    const AHEAD: usize = 48;
    for (k, (&i, &v)) in cells.iter().zip(values).enumerate() {
        if let Some(ahead) = cells.get(k + AHEAD).and_then(|&j| state.get(j as usize)) {
            _mm_prefetch::<_MM_HINT_T0>(ahead.as_ptr().cast());
        }
        add_mean(state, i, v);
    }
}

/// Add one to the count cell of every point (skipping
/// [`NO_CELL`](super::partial::NO_CELL)), prefetching the cell `AHEAD`
/// points ahead as [`accumulate_mean`] does: a 1920x1080 canvas of u32
/// counts is 8 MB (41 MB with five categories), past this machine's 4 MB
/// L2, so each point otherwise waits on the L3.
pub(super) fn accumulate_count(counts: &mut [u32], cells: &[u32]) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: `accumulate_count_prefetch` only needs SSE and AVX2, which
        // the CPU has (checked on the line above).
        unsafe { accumulate_count_prefetch(counts, cells) };
        return;
    }
    for &i in cells {
        if let Some(c) = counts.get_mut(i as usize) {
            *c = c.wrapping_add(1);
        }
    }
}

/// [`accumulate_count`] with a prefetch of the cell `AHEAD` points ahead.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn accumulate_count_prefetch(counts: &mut [u32], cells: &[u32]) {
    use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
    const AHEAD: usize = 96;
    for (k, &i) in cells.iter().enumerate() {
        if let Some(ahead) = cells.get(k + AHEAD).and_then(|&j| counts.get(j as usize)) {
            _mm_prefetch::<_MM_HINT_T0>(std::ptr::from_ref(ahead).cast());
        }
        if let Some(c) = counts.get_mut(i as usize) {
            *c = c.wrapping_add(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::geometry::{AxisKind, Geometry};
    use arrow_array::types::{Float32Type, Float64Type};

    /// Every build of the loop this CPU can run gives the baseline's
    /// pixels, edges, NaN and out-of-range points included.
    #[test]
    fn every_cpu_build_bins_like_the_baseline() {
        let g = Geometry::new(
            1920,
            1080,
            (-1.3, 1.7),
            (-2.0, 0.5),
            AxisKind::Linear,
            AxisKind::Linear,
        );
        let l = Linear::of(&g).expect("linear");
        let mut xs = vec![-1.3, 1.7, f64::NAN, 1.7000001, -1.31, 0.0, f64::INFINITY];
        let mut ys = vec![-2.0, 0.5, 0.0, 0.0, 0.0, f64::NAN, 0.0];
        for i in 0..5000u32 {
            let t = f64::from(i) / 4999.0;
            xs.push(-1.4 + 3.2 * t);
            ys.push(0.6 - 2.7 * ((t * 7.0) % 1.0));
        }
        let mut want = vec![0; xs.len()];
        l.bin::<Float64Type, Float64Type>(&xs, &ys, &mut want);
        assert!(want.contains(&NO_PIXEL_CHECK) && want.iter().any(|&p| p != NO_PIXEL_CHECK));
        let mut got = vec![7; xs.len()];
        bin_linear::<Float64Type, Float64Type>(&l, &xs, &ys, &mut got);
        assert_eq!(got, want);
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx2") {
                got.fill(7);
                // SAFETY: AVX2 checked on the line above.
                unsafe { bin_linear_avx2::<Float64Type, Float64Type>(&l, &xs, &ys, &mut got) };
                assert_eq!(got, want, "avx2");
            }
            if has_avx512() {
                got.fill(7);
                // SAFETY: the AVX-512 features checked on the line above.
                unsafe { bin_linear_avx512::<Float64Type, Float64Type>(&l, &xs, &ys, &mut got) };
                assert_eq!(got, want, "avx512");
            }
        }
        let xs32: Vec<f32> = xs.iter().map(|&v| v as f32).collect();
        let ys32: Vec<f32> = ys.iter().map(|&v| v as f32).collect();
        l.bin::<Float32Type, Float32Type>(&xs32, &ys32, &mut want);
        bin_linear::<Float32Type, Float32Type>(&l, &xs32, &ys32, &mut got);
        assert_eq!(got, want, "f32");
    }

    const NO_PIXEL_CHECK: u32 = crate::aggregate::geometry::NO_PIXEL;
}
