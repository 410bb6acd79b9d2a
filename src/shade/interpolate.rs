//! Datashader's `_interpolate`: shading a 2-D aggregate through a colormap
//! (or a single colour's alpha ramp).

use rayon::prelude::*;

use super::numeric::{self, locate, to_u8, Interp, CHUNK};
use super::{How, Image, Rgba, ShadeError, ShadeOptions};
use crate::aggregate::{AggValues, Aggregate};

/// Shade a 2-D aggregate (`agg.categories` is `None`).
pub(crate) fn interpolate(agg: &Aggregate, opts: &ShadeOptions) -> Result<Image, ShadeError> {
    let Some((data, integer)) = offset_data(&agg.values, opts.span) else {
        // Everything masked: Datashader returns an all-zero image.
        return Ok(Image::transparent(agg.width, agg.height));
    };
    let (data, levels) = transform(opts.how, data, integer)?;
    let span = match opts.span {
        None => {
            let Some(span) = numeric::nan_min_max(&data) else {
                return Ok(Image::transparent(agg.width, agg.height));
            };
            match (opts.how, opts.rescale_discrete_levels, levels) {
                (How::EqHist, true, Some(levels)) => numeric::rescale_discrete_levels(levels, span),
                _ => span,
            }
        }
        Some((lo, hi)) => (0.0, transform_scalar(opts.how, hi - lo)),
    };
    let mut img = Image::transparent(agg.width, agg.height);
    match opts.single_color {
        None => colormap_pixels(&data, span, &opts.cmap, opts.alpha, &mut img.pixels),
        Some(color) => alpha_ramp_pixels(
            &data,
            span,
            color,
            opts.alpha,
            opts.min_alpha,
            &mut img.pixels,
        )?,
    }
    Ok(img)
}

/// The masked, offset (or clipped) data as `f64` with NaN for masked cells,
/// and whether NumPy's array had an integer dtype (for `eq_hist`). `None`
/// when every cell is masked.
fn offset_data(values: &AggValues, span: Option<(f64, f64)>) -> Option<(Vec<f64>, bool)> {
    match values {
        AggValues::U32(v) => {
            let min = v
                .par_chunks(CHUNK)
                .map(|c| c.iter().copied().filter(|&x| x != 0).min())
                .reduce(|| None, |a, b| a.into_iter().chain(b).min())?;
            let mut out = vec![0.0; v.len()];
            match span {
                None => par_map(v, &mut out, |x| {
                    if x == 0 {
                        f64::NAN
                    } else {
                        f64::from(x - min)
                    }
                }),
                Some((lo, hi)) => {
                    // `np.array(span, dtype=uint32)[0]`, and numba's casts in
                    // `masked_clip_2d` (validated in range beforehand).
                    let offset = lo as u32;
                    let (lo_v, hi_v) = (lo as u32, hi as u32);
                    par_map(v, &mut out, |x| {
                        if x == 0 {
                            return f64::NAN;
                        }
                        let xf = f64::from(x);
                        let c = if xf < lo {
                            lo_v
                        } else if xf > hi {
                            hi_v
                        } else {
                            x
                        };
                        f64::from(c.wrapping_sub(offset))
                    })
                }
            }
            Some((out, true))
        }
        AggValues::Bool(v) => {
            if !v.iter().any(|&b| b) {
                return None;
            }
            // Cast to int8: every unmasked cell is 1.
            let d = match span {
                None => 0.0,
                Some((lo, hi)) => {
                    let offset = lo as i8;
                    let c = if 1.0 < lo {
                        lo as i8
                    } else if 1.0 > hi {
                        hi as i8
                    } else {
                        1
                    };
                    f64::from(c.wrapping_sub(offset))
                }
            };
            Some((
                v.iter().map(|&b| if b { d } else { f64::NAN }).collect(),
                true,
            ))
        }
        AggValues::F64(v) => {
            let (min, _) = numeric::nan_min_max(v)?;
            let mut out = vec![0.0; v.len()];
            match span {
                None => par_map(v, &mut out, |x| x - min),
                Some((lo, hi)) => par_map(v, &mut out, |x| {
                    let c = if x < lo {
                        lo
                    } else if x > hi {
                        hi
                    } else {
                        x
                    };
                    c - lo
                }),
            }
            Some((out, false))
        }
    }
}

/// `out[i] = f(v[i])` in parallel chunks.
fn par_map<T: Copy + Sync>(v: &[T], out: &mut [f64], f: impl Fn(T) -> f64 + Sync) {
    out.par_chunks_mut(CHUNK)
        .zip(v.par_chunks(CHUNK))
        .for_each(|(o, v)| {
            for (o, &x) in o.iter_mut().zip(v) {
                *o = f(x);
            }
        });
}

/// Datashader's `how` on one value (`log1p`, `x ** (1/3)`, identity).
#[inline]
pub(crate) fn transform_scalar(how: How, x: f64) -> f64 {
    match how {
        How::Linear | How::EqHist => x,
        How::Log => x.ln_1p(),
        How::Cbrt => x.powf(1.0 / 3.0),
    }
}

/// Apply `how` to offset data (NaN = masked). Returns the transformed data
/// and, for `eq_hist`, the number of discrete levels.
pub(crate) fn transform(
    how: How,
    mut data: Vec<f64>,
    integer: bool,
) -> Result<(Vec<f64>, Option<usize>), ShadeError> {
    match how {
        How::EqHist => {
            let (out, levels) = numeric::eq_hist(&data, integer)?;
            Ok((out, Some(levels)))
        }
        How::Linear => Ok((data, None)),
        How::Log | How::Cbrt => {
            data.par_chunks_mut(CHUNK).for_each(|c| {
                for x in c {
                    *x = transform_scalar(how, *x);
                }
            });
            Ok((data, None))
        }
    }
}

/// The list-of-colours path: `np.interp` of each channel over
/// `np.linspace(span[0], span[1], len(cmap))`, `left=255`, then `uint8`.
fn colormap_pixels(data: &[f64], span: (f64, f64), cmap: &[[u8; 3]], alpha: u8, out: &mut [Rgba]) {
    let xs = numeric::linspace(span.0, span.1, cmap.len());
    let channel = |k: usize| {
        Interp::new(
            &xs,
            cmap.iter().map(|c| f64::from(c[k])).collect(),
            Some(255.0),
            None,
        )
    };
    let (tr, tg, tb) = (channel(0), channel(1), channel(2));
    out.par_chunks_mut(CHUNK)
        .zip(data.par_chunks(CHUNK))
        .for_each(|(o, d)| {
            for (p, &x) in o.iter_mut().zip(d) {
                let pos = locate(&xs, x);
                *p = [
                    to_u8(tr.at(pos, &xs, x)),
                    to_u8(tg.at(pos, &xs, x)),
                    to_u8(tb.at(pos, &xs, x)),
                    if x.is_nan() { 0 } else { alpha },
                ];
            }
        });
}

/// The single-colour path: alpha interpolated over
/// `np.arange(min_alpha, alpha + 1)`, `left=0`, `right=255`; RGB constant.
fn alpha_ramp_pixels(
    data: &[f64],
    span: (f64, f64),
    color: [u8; 3],
    alpha: u8,
    min_alpha: f64,
    out: &mut [Rgba],
) -> Result<(), ShadeError> {
    let aspan = arange(min_alpha, f64::from(alpha) + 1.0);
    if aspan.is_empty() {
        return Err(ShadeError::EmptyAlphaRamp { min_alpha, alpha });
    }
    let xs = numeric::linspace(span.0, span.1, aspan.len());
    let table = Interp::new(&xs, aspan, Some(0.0), Some(255.0));
    out.par_chunks_mut(CHUNK)
        .zip(data.par_chunks(CHUNK))
        .for_each(|(o, d)| {
            for (p, &x) in o.iter_mut().zip(d) {
                let a = to_u8(table.at(locate(&xs, x), &xs, x));
                *p = [color[0], color[1], color[2], a];
            }
        });
    Ok(())
}

/// `np.arange(start, stop)` with step 1.
fn arange(start: f64, stop: f64) -> Vec<f64> {
    let n = (stop - start).ceil();
    if n.is_nan() || n <= 0.0 {
        return Vec::new();
    }
    (0..n as usize).map(|i| start + i as f64).collect()
}
