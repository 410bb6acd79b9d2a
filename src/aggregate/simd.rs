//! CPU-specific builds of hot loops, chosen at run time.
//!
//! - Binning: the x86-64 baseline (SSE2) has no 32-bit multiply, only
//!   2-lane f64 vectors and no vector truncation, so the loop compiled for
//!   AVX2 (with `trunc`) bins about 2x faster (`benches/kernels.rs`,
//!   `bin_linear`). The kernel hands its loop over as a [`TwoBuilds`], so
//!   this module knows nothing of binning.
//! - `mean`: its 16-byte cells make a 1920x1080 canvas 33 MB, past the L3
//!   cache, so each point waits on memory; prefetching the cell of the point
//!   48 ahead hides part of that (10-15% on this machine; 16 to 96 ahead
//!   measured within noise of each other).
//!
//! This is the crate's only `unsafe`: calling a `#[target_feature]`
//! function, after checking that the CPU has the feature. Every other CPU
//! runs the identical safe loop, and both give bit-identical results.
#![allow(unsafe_code)]

/// A loop with two builds: the portable one, and one written for AVX2.
/// The caller (the binning kernel) implements it; this module only picks
/// the build the CPU can run, so it depends on nothing of the caller's.
pub(super) trait TwoBuilds {
    /// The loop for any CPU.
    fn portable(self);
    /// The loop as it should be compiled with AVX2 enabled. It must give
    /// bit-identical results to [`TwoBuilds::portable`]; implementations
    /// are `#[inline(always)]` so that they are compiled inside the
    /// AVX2-enabled caller.
    fn avx2(self);
}

/// Run `job` with the best build this CPU supports.
#[inline]
pub(super) fn best_build(job: impl TwoBuilds) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: `run_avx2` only needs AVX2, which the CPU has (checked on
        // the line above).
        unsafe { run_avx2(job) };
        return;
    }
    job.portable();
}

/// [`TwoBuilds::avx2`], compiled with AVX2 enabled. No fused multiply-add:
/// Rust never contracts `x * s + t`, so results are bit-identical to the
/// baseline build.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn run_avx2(job: impl TwoBuilds) {
    job.avx2();
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
