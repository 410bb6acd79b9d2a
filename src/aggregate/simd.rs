//! CPU-specific builds of the hot binning loop, chosen at run time.
//!
//! The x86-64 baseline (SSE2) has no 32-bit multiply and only 2-lane f64
//! vectors, so the same safe loop compiled for AVX2 bins about 1.4x faster
//! (`benches/kernels.rs`, `bin_linear`). This is the crate's only `unsafe`:
//! calling a `#[target_feature]` function, after checking that the CPU has
//! the feature. Every other CPU runs the identical safe loop.
#![allow(unsafe_code)]

use super::kernel::{Linear, Widen};

/// Bin points on linear axes with the best loop this CPU supports.
#[inline]
pub(super) fn bin_linear<X: Widen, Y: Widen>(l: &Linear, xs: &[X], ys: &[Y], out: &mut [u32]) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: `bin_linear_avx2` only needs AVX2, which the CPU has
        // (checked on the line above).
        unsafe { bin_linear_avx2(l, xs, ys, out) };
        return;
    }
    l.bin(xs, ys, out);
}

/// The mapping of [`Linear::bin`] written with `trunc` (see
/// [`Linear::bin_trunc`]), compiled with AVX2 enabled. No fused multiply-add:
/// Rust never contracts `x * s + t`, so results are bit-identical to the
/// baseline build.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn bin_linear_avx2<X: Widen, Y: Widen>(l: &Linear, xs: &[X], ys: &[Y], out: &mut [u32]) {
    l.bin_trunc(xs, ys, out);
}
