//! Datashader's `_colorize` and `_interpolate_alpha`: shading a categorical
//! (3-D) aggregate by mixing the category colours and deriving alpha from
//! each pixel's total.

use rayon::prelude::*;

use super::interpolate::{key_values, transform, transform_scalar, LUT_LIMIT};
use super::numeric::{self, locate, pairwise_sum_f32, pairwise_sum_f64, to_u8, Interp, CHUNK};
use super::{How, Image, Rgba, ShadeError, ShadeOptions};
use crate::aggregate::{AggValues, Aggregate};

/// Pixels per parallel work item.
const PIXELS: usize = 4096;

/// Per-pixel totals across categories, in NumPy's dtype.
enum Totals {
    /// `uint32` counts summed as `uint64`.
    U64(Vec<u64>),
    /// `nansum_missing` of `float64`: NaN where every category is NaN.
    F64(Vec<f64>),
}

/// Shade a categorical aggregate; `key` has one colour per category.
pub(crate) fn colorize(
    agg: &Aggregate,
    key: &[[u8; 3]],
    opts: &ShadeOptions,
) -> Result<Image, ShadeError> {
    colorize_with(agg, key, opts, true)
}

/// [`colorize`], optionally without the shortcuts (integer colour mixing and
/// alpha lookup tables) that reproduce the float arithmetic more cheaply.
pub(crate) fn colorize_with(
    agg: &Aggregate,
    key: &[[u8; 3]],
    opts: &ShadeOptions,
    shortcuts: bool,
) -> Result<Image, ShadeError> {
    let ncat = agg.n_planes();
    if ncat == 0 {
        return Ok(Image::transparent(agg.width, agg.height));
    }
    let npix = agg.width * agg.height;
    let rgb: Vec<[f32; 3]> = key
        .iter()
        .map(|c| [f32::from(c[0]), f32::from(c[1]), f32::from(c[2])])
        .collect();
    let mut pixels = vec![[0u8; 4]; npix];
    let totals = match &agg.values {
        AggValues::U32(v) => count_totals(v, &mut pixels, ncat, key, &rgb, opts, shortcuts)?,
        // Narrow counts mix as the uint32 counts they hold, a pixel at a
        // time (no widened copy of the planes).
        AggValues::U16(v) => count_totals(v, &mut pixels, ncat, key, &rgb, opts, shortcuts)?,
        AggValues::U8(v) => count_totals(v, &mut pixels, ncat, key, &rgb, opts, shortcuts)?,
        AggValues::I64(_) => {
            // Row indices: as float64, NaN where empty.
            let wide = Aggregate {
                values: AggValues::F64(
                    (0..agg.values.len())
                        .map(|i| agg.values.get_f64(i))
                        .collect(),
                ),
                categories: agg.categories.clone(),
                ..*agg
            };
            return colorize_with(&wide, key, opts, shortcuts);
        }
        AggValues::F32(v) => {
            // Antialiased categories: mixed in float64 (Datashader mixes
            // their float32 values in float32).
            let wide = Aggregate {
                values: AggValues::F64(v.iter().map(|&x| f64::from(x)).collect()),
                categories: agg.categories.clone(),
                ..*agg
            };
            return colorize_with(&wide, key, opts, shortcuts);
        }
        AggValues::F64(v) => {
            let (baseline, clip) = match opts.color_baseline {
                None => (
                    numeric::nan_min_max(v).map_or(f64::NAN, |(lo, _)| lo),
                    false,
                ),
                // An explicit baseline clips what falls below it to 0.
                Some(b) => (b, true),
            };
            let mut totals = vec![0.0f64; npix];
            pixels
                .par_chunks_mut(PIXELS)
                .zip(totals.par_chunks_mut(PIXELS))
                .zip(v.par_chunks(PIXELS * ncat))
                .for_each(|((px, tot), cells)| {
                    let mut cd = vec![0.0f32; ncat];
                    let mut present = vec![0.0f32; ncat];
                    let mut filled = vec![0.0f64; ncat];
                    for ((p, t), cell) in px.iter_mut().zip(tot).zip(cells.chunks_exact(ncat)) {
                        let mut any = false;
                        for k in 0..ncat {
                            let x = cell[k];
                            if x.is_nan() {
                                cd[k] = 0.0;
                                present[k] = 0.0;
                                filled[k] = 0.0;
                            } else {
                                any = true;
                                let d = x - baseline;
                                cd[k] = if clip { d.max(0.0) } else { d } as f32;
                                present[k] = 1.0;
                                filled[k] = x;
                            }
                        }
                        *t = if any {
                            pairwise_sum_f64(&filled)
                        } else {
                            f64::NAN
                        };
                        *p = mix(&cd, &present, &rgb);
                    }
                });
            Totals::F64(totals)
        }
        AggValues::Bool(_) => return Err(ShadeError::BoolCategorical),
    };
    let unsigned = matches!(
        agg.values,
        AggValues::U32(_) | AggValues::U16(_) | AggValues::U8(_)
    );
    let alpha = interpolate_alpha(totals, unsigned, opts, shortcuts)?;
    pixels
        .par_chunks_mut(PIXELS)
        .zip(alpha.par_chunks(PIXELS))
        .for_each(|(px, a)| {
            for (p, &a) in px.iter_mut().zip(a) {
                p[3] = a;
            }
        });
    Ok(Image {
        width: agg.width,
        height: agg.height,
        pixels,
    })
}

/// Largest per-pixel weight (sum of baseline-subtracted counts) for which
/// every `float32` product and partial sum of the mixing is an exact integer
/// (`255 * weight < 2^24`), so integer arithmetic gives NumPy's bits.
const EXACT_WEIGHT: u64 = (1 << 24) / 255;

/// The colours and per-pixel totals of a count by category (`uint32`, or
/// the narrow counts of `uint8`/`uint16`, each read as the `uint32` it
/// holds).
fn count_totals<T: Copy + Into<u32> + Sync>(
    v: &[T],
    pixels: &mut [Rgba],
    ncat: usize,
    key: &[[u8; 3]],
    rgb: &[[f32; 3]],
    opts: &ShadeOptions,
    shortcuts: bool,
) -> Result<Totals, ShadeError> {
    // Datashader subtracts the baseline in the aggregate's dtype:
    // uint32 arithmetic, which wraps below an explicit baseline.
    let baseline = match opts.color_baseline {
        None => v.par_iter().map(|&x| x.into()).min().unwrap_or(0),
        Some(b) if b.fract() == 0.0 && b.abs() < 4_294_967_296.0 => {
            (b as i64).rem_euclid(1 << 32) as u32
        }
        Some(baseline) => return Err(ShadeError::InvalidColorBaseline { baseline }),
    };
    let npix = pixels.len();
    let mut totals = vec![0u64; npix];
    pixels
        .par_chunks_mut(PIXELS)
        .zip(totals.par_chunks_mut(PIXELS))
        .zip(v.par_chunks(PIXELS * ncat))
        .for_each(|((px, tot), cells)| {
            let mut cd = vec![0.0f32; ncat];
            let present = vec![1.0f32; ncat];
            let mut wide = vec![0u32; ncat];
            for ((p, t), cell) in px.iter_mut().zip(tot).zip(cells.chunks_exact(ncat)) {
                for (w, &x) in wide.iter_mut().zip(cell) {
                    *w = x.into();
                }
                let cell = &wide[..];
                *t = cell.iter().map(|&x| u64::from(x)).sum();
                let weight: u64 = cell
                    .iter()
                    .map(|&x| u64::from(x.wrapping_sub(baseline)))
                    .sum();
                *p = if shortcuts && weight <= EXACT_WEIGHT {
                    mix_exact(cell, baseline, weight, key)
                } else {
                    for (d, &x) in cd.iter_mut().zip(cell) {
                        *d = x.wrapping_sub(baseline) as f32;
                    }
                    mix(&cd, &present, rgb)
                };
            }
        });
    Ok(Totals::U64(totals))
}

/// [`mix`] for counts whose weighted sums are exact in `float32`: sums in
/// integers, one `float32` division per channel as NumPy does.
#[inline]
fn mix_exact(cell: &[u32], baseline: u32, weight: u64, key: &[[u8; 3]]) -> Rgba {
    let mut out = [0u8; 4];
    if weight == 0 {
        // No colour mass: the plain mean of all (present) category colours.
        let n = cell.len() as f32;
        for (k, o) in out.iter_mut().take(3).enumerate() {
            let s: u32 = key.iter().map(|c| u32::from(c[k])).sum();
            *o = to_u8(f64::from(s as f32 / n));
        }
        return out;
    }
    for (k, o) in out.iter_mut().take(3).enumerate() {
        let s: u64 = cell
            .iter()
            .zip(key)
            .map(|(&x, c)| u64::from(x.wrapping_sub(baseline)) * u64::from(c[k]))
            .sum();
        *o = to_u8(f64::from(s as f32 / weight as f32));
    }
    out
}

/// One pixel's colour: `float32` weighted mean of the key colours by the
/// baseline-subtracted values (`color_data @ RGB / total`); where the total is
/// zero, the plain mean of the colours of the non-NaN categories.
///
/// NumPy hands `color_data @ RGB` to OpenBLAS's `sgemm`, whose kernels on
/// x86-64 with FMA accumulate over the categories in order with fused
/// multiply-adds; `mul_add` reproduces that bit for bit (exact anyway when the
/// weighted sums stay below 2^24, e.g. for counts up to ~65000 / categories).
#[inline]
fn mix(cd: &[f32], present: &[f32], rgb: &[[f32; 3]]) -> Rgba {
    let total = pairwise_sum_f32(cd);
    let (weights, denom) = if total == 0.0 {
        (present, pairwise_sum_f32(present))
    } else {
        (cd, total)
    };
    let mut out = [0u8; 4];
    for k in 0..3 {
        let mut s = 0.0f32;
        for (w, c) in weights.iter().zip(rgb) {
            s = w.mul_add(c[k], s);
        }
        out[k] = to_u8(f64::from(s / denom));
    }
    out
}

/// Datashader's `_interpolate_alpha`: alpha from the per-pixel totals.
/// `unsigned` says the aggregate was `uint32` (for the span's dtype cast).
fn interpolate_alpha(
    totals: Totals,
    unsigned: bool,
    opts: &ShadeOptions,
    lut: bool,
) -> Result<Vec<u8>, ShadeError> {
    let n = match &totals {
        Totals::U64(t) => t.len(),
        Totals::F64(t) => t.len(),
    };
    if let (true, None, Totals::U64(t)) = (lut, opts.span, &totals) {
        if let Some(alpha) = alpha_lut(t, opts)? {
            return Ok(alpha);
        }
    }
    let (scaled, norm_span) = match opts.span {
        None => {
            // (offset-subtracted totals, NaN where masked; integer dtype?)
            let (data, integer) = match totals {
                Totals::U64(t) => {
                    let Some(min) = t.par_iter().copied().min() else {
                        return Ok(vec![0; n]);
                    };
                    if min == 0 {
                        // Zero totals are masked; offset = smallest positive.
                        let Some(offset) = t.par_iter().copied().filter(|&x| x > 0).min() else {
                            return Ok(vec![0; n]);
                        };
                        let d = t
                            .par_iter()
                            .map(|&x| {
                                if x == 0 {
                                    f64::NAN
                                } else {
                                    (x as f64) - (offset as f64)
                                }
                            })
                            .collect();
                        (d, false)
                    } else {
                        (t.par_iter().map(|&x| (x - min) as f64).collect(), true)
                    }
                }
                Totals::F64(t) => {
                    let Some((min, _)) = numeric::nan_min_max(&t) else {
                        return Ok(vec![0; n]);
                    };
                    (t.par_iter().map(|&x| x - min).collect(), false)
                }
            };
            let (scaled, levels) = transform(opts.how, data, integer)?;
            let Some(span) = numeric::nan_min_max(&scaled) else {
                return Ok(vec![0; n]);
            };
            let span = match (opts.how, opts.rescale_discrete_levels, levels) {
                (How::EqHist, true, Some(levels)) => numeric::rescale_discrete_levels(levels, span),
                _ => span,
            };
            (scaled, span)
        }
        Some((lo, hi)) => {
            // `np.array(span, dtype=data.dtype)[0]`.
            let offset = if unsigned { f64::from(lo as u32) } else { lo };
            let clip = |x: f64| {
                if x < lo {
                    lo
                } else if x > hi {
                    hi
                } else {
                    x
                }
            };
            let data: Vec<f64> = match totals {
                Totals::U64(t) => {
                    if t.par_iter().any(|&x| x == 0) {
                        // Zeros masked, totals become float64, then clipped.
                        t.par_iter()
                            .map(|&x| {
                                if x == 0 {
                                    f64::NAN
                                } else {
                                    clip(x as f64) - offset
                                }
                            })
                            .collect()
                    } else {
                        // Stays uint64: numba's clip casts the bounds.
                        let (lo_v, hi_v, off) = (lo as u64, hi as u64, lo as u32);
                        t.par_iter()
                            .map(|&x| {
                                let xf = x as f64;
                                let c = if xf < lo {
                                    lo_v
                                } else if xf > hi {
                                    hi_v
                                } else {
                                    x
                                };
                                c.wrapping_sub(u64::from(off)) as f64
                            })
                            .collect()
                    }
                }
                Totals::F64(t) => t.par_iter().map(|&x| clip(x) - offset).collect(),
            };
            let (scaled, _) = transform(opts.how, data, false)?;
            (scaled, (0.0, transform_scalar(opts.how, hi - lo)))
        }
    };
    let ramp = AlphaRamp::new(norm_span, opts);
    let mut out = vec![0u8; n];
    out.par_chunks_mut(CHUNK)
        .zip(scaled.par_chunks(CHUNK))
        .for_each(|(o, s)| {
            for (o, &x) in o.iter_mut().zip(s) {
                *o = ramp.alpha(x);
            }
        });
    Ok(out)
}

/// `np.interp(a_scaled, norm_span, [min_alpha, alpha], left=0, right=255)`
/// then `uint8`.
struct AlphaRamp {
    xs: [f64; 2],
    table: Interp,
}

impl AlphaRamp {
    fn new(norm_span: (f64, f64), opts: &ShadeOptions) -> Self {
        let xs = [norm_span.0, norm_span.1];
        let table = Interp::new(
            &xs,
            vec![opts.min_alpha, f64::from(opts.alpha)],
            Some(0.0),
            Some(255.0),
        );
        AlphaRamp { xs, table }
    }

    #[inline]
    fn alpha(&self, x: f64) -> u8 {
        to_u8(self.table.at(locate(&self.xs, x), &self.xs, x))
    }
}

/// Alpha from `uint64` totals without a span through a lookup table over the
/// distinct totals; `None` when their range is too large for a table.
fn alpha_lut(t: &[u64], opts: &ShadeOptions) -> Result<Option<Vec<u8>>, ShadeError> {
    let Some(max) = t.par_iter().copied().max() else {
        return Ok(Some(Vec::new()));
    };
    let min = t.par_iter().copied().min().unwrap_or(0);
    // With empty pixels, zeros are masked, the offset is the smallest
    // positive total and NumPy's array turns float64 (binned eq_hist).
    let (offset, integer) = if min == 0 {
        match t.par_iter().copied().filter(|&x| x > 0).min() {
            Some(m) => (m, false),
            None => return Ok(Some(vec![0; t.len()])),
        }
    } else {
        (min, true)
    };
    let size = usize::try_from(max - offset)
        .unwrap_or(usize::MAX)
        .saturating_add(1);
    if size > LUT_LIMIT || size > t.len() {
        return Ok(None);
    }
    let key = move |x: u64| (x != 0).then(|| (x - offset) as usize);
    let counts = numeric::key_histogram(t, size, key);
    let (values, levels) = key_values(&counts, opts.how, integer)?;
    let Some(span) = numeric::nan_min_max(&values) else {
        return Ok(Some(vec![0; t.len()]));
    };
    let span = match (opts.how, opts.rescale_discrete_levels, levels) {
        (How::EqHist, true, Some(levels)) => numeric::rescale_discrete_levels(levels, span),
        _ => span,
    };
    let ramp = AlphaRamp::new(span, opts);
    let lut: Vec<u8> = values.iter().map(|&x| ramp.alpha(x)).collect();
    let masked = ramp.alpha(f64::NAN);
    let mut out = vec![0u8; t.len()];
    out.par_chunks_mut(CHUNK)
        .zip(t.par_chunks(CHUNK))
        .for_each(|(o, c)| {
            for (o, &x) in o.iter_mut().zip(c) {
                *o = key(x).map_or(masked, |k| lut[k]);
            }
        });
    Ok(Some(out))
}
