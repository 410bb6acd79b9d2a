//! CPU-specific builds of hot loops, chosen at run time.
//!
//! - Binning: the x86-64 baseline (SSE2) has no 32-bit multiply, only
//!   2-lane f64 vectors and no vector truncation, so the loop compiled for
//!   AVX2 (with `trunc`) bins about 2x faster (`benches/kernels.rs`,
//!   `bin_linear`). The loop itself lives in `linear.rs`, which both this
//!   module and the kernels use, so neither depends on the other.
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
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: `bin_linear_avx2` only needs AVX2, which the CPU has
        // (checked on the line above).
        unsafe { bin_linear_avx2::<X, Y>(l, xs, ys, out) };
        return;
    }
    l.bin::<X, Y>(xs, ys, out);
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
