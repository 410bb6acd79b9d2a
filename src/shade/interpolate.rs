//! Datashader's `_interpolate`: shading a 2-D aggregate through a colormap
//! (or a single colour's alpha ramp).
//!
//! Counts take a lookup-table path: a cell's colour depends only on its
//! integer value, so the transform and the colour are computed once per
//! distinct value (same arithmetic, far fewer evaluations). Other aggregates,
//! and counts with a value range larger than the canvas, go cell by cell.

use rayon::prelude::*;

use super::numeric::{self, to_u8, Grid, Interp, CHUNK};
use super::{How, Image, Rgba, ShadeError, ShadeOptions};
use crate::aggregate::{AggValues, Aggregate};

/// Largest value range (after subtracting the offset) shaded through a
/// lookup table.
pub(crate) const LUT_LIMIT: usize = 1 << 22;

/// Shade a 2-D aggregate (`agg.categories` is `None`).
pub(crate) fn interpolate(agg: &Aggregate, opts: &ShadeOptions) -> Result<Image, ShadeError> {
    if let AggValues::U32(v) = &agg.values {
        if let Some(pixels) = interpolate_counts(v, opts)? {
            return Ok(Image {
                width: agg.width,
                height: agg.height,
                pixels,
            });
        }
    }
    interpolate_cells(agg, opts)
}

/// [`interpolate`] cell by cell, without lookup tables.
pub(crate) fn interpolate_cells(agg: &Aggregate, opts: &ShadeOptions) -> Result<Image, ShadeError> {
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
            rescale(opts, levels, span)
        }
        Some((lo, hi)) => (0.0, transform_scalar(opts.how, hi - lo)),
    };
    let painter = Painter::new(span, opts)?;
    let mut img = Image::transparent(agg.width, agg.height);
    if painter.grid().has_nan {
        // An infinite span end put NaN among the sample points: NumPy's
        // result then depends on where the previous cell was found, so walk
        // the cells in order as `np.interp` does.
        let mut j = 0;
        for (p, &x) in img.pixels.iter_mut().zip(&data) {
            *p = painter.paint_at(numeric::locate_seq(&painter.grid().xs, x, &mut j), x);
        }
        return Ok(img);
    }
    img.pixels
        .par_chunks_mut(CHUNK)
        .zip(data.par_chunks(CHUNK))
        .for_each(|(o, d)| {
            for (p, &x) in o.iter_mut().zip(d) {
                *p = painter.paint(x);
            }
        });
    Ok(img)
}

/// `_rescale_discrete_levels` when asked for and applicable (`eq_hist`).
fn rescale(opts: &ShadeOptions, levels: Option<usize>, span: (f64, f64)) -> (f64, f64) {
    match (opts.how, opts.rescale_discrete_levels, levels) {
        (How::EqHist, true, Some(levels)) => numeric::rescale_discrete_levels(levels, span),
        _ => span,
    }
}

/// The lookup-table path for counts; `None` when the value range is too
/// large for a table (the caller then shades cell by cell).
fn interpolate_counts(v: &[u32], opts: &ShadeOptions) -> Result<Option<Vec<Rgba>>, ShadeError> {
    let Some((min, max)) = v
        .par_chunks(CHUNK)
        .map(|c| {
            c.iter()
                .filter(|&&x| x != 0)
                .fold(None, |acc: Option<(u32, u32)>, &x| match acc {
                    None => Some((x, x)),
                    Some((lo, hi)) => Some((lo.min(x), hi.max(x))),
                })
        })
        .reduce(
            || None,
            |a, b| match (a, b) {
                (Some((l1, h1)), Some((l2, h2))) => Some((l1.min(l2), h1.max(h2))),
                (a, None) => a,
                (None, b) => b,
            },
        )
    else {
        return Ok(Some(vec![[0; 4]; v.len()]));
    };
    // `np.array(span, dtype=uint32)` and numba's casts in `masked_clip_2d`
    // (the span was validated to fit uint32).
    let (offset, clip) = match opts.span {
        None => (min, None),
        Some((lo, hi)) => (lo as u32, Some((lo, hi, lo as u32, hi as u32))),
    };
    let clip = move |x: u32| match clip {
        None => x,
        Some((lo, hi, lo_v, hi_v)) => {
            let xf = f64::from(x);
            if xf < lo {
                lo_v
            } else if xf > hi {
                hi_v
            } else {
                x
            }
        }
    };
    let key = move |x: u32| (x != 0).then(|| clip(x).wrapping_sub(offset) as usize);
    // Keys lie between those of `min` and `max` (clipping is monotonic).
    let size = clip(max).wrapping_sub(offset) as usize + 1;
    if size > LUT_LIMIT || size > v.len() {
        return Ok(None);
    }
    let counts = numeric::key_histogram(v, size, key);
    let (values, levels) = key_values(&counts, opts.how, true)?;
    let span = match opts.span {
        None => match numeric::nan_min_max(&values) {
            Some(span) => rescale(opts, levels, span),
            None => return Ok(Some(vec![[0; 4]; v.len()])),
        },
        Some((lo, hi)) => (0.0, transform_scalar(opts.how, hi - lo)),
    };
    let painter = Painter::new(span, opts)?;
    if painter.grid().has_nan {
        return Ok(None);
    }
    let lut: Vec<Rgba> = values.par_iter().map(|&x| painter.paint(x)).collect();
    let masked = painter.paint(f64::NAN);
    let mut pixels = vec![[0; 4]; v.len()];
    pixels
        .par_chunks_mut(CHUNK)
        .zip(v.par_chunks(CHUNK))
        .for_each(|(o, c)| {
            for (p, &x) in o.iter_mut().zip(c) {
                *p = key(x).map_or(masked, |k| lut[k]);
            }
        });
    Ok(Some(pixels))
}

/// The transformed value of every integer key present in `counts` (NaN for
/// absent keys), and for `eq_hist` the number of discrete levels. `integer`
/// is the NumPy dtype kind, as for [`numeric::eq_hist`].
pub(crate) fn key_values(
    counts: &[u64],
    how: How,
    integer: bool,
) -> Result<(Vec<f64>, Option<usize>), ShadeError> {
    let present = |k: usize| counts[k] > 0;
    match how {
        How::EqHist => {
            let Some((eq, levels)) = numeric::eq_hist_keys(counts, integer)? else {
                return Ok((vec![f64::NAN; counts.len()], Some(0)));
            };
            let values = (0..counts.len())
                .into_par_iter()
                .map(|k| {
                    if present(k) {
                        eq.eval(k as f64)
                    } else {
                        f64::NAN
                    }
                })
                .collect();
            Ok((values, Some(levels)))
        }
        _ => {
            let values = (0..counts.len())
                .into_par_iter()
                .map(|k| {
                    if present(k) {
                        transform_scalar(how, k as f64)
                    } else {
                        f64::NAN
                    }
                })
                .collect();
            Ok((values, None))
        }
    }
}

/// The masked, offset (or clipped) data as `f64` with NaN for masked cells,
/// and whether NumPy's array had an integer dtype (for `eq_hist`). `None`
/// when every cell is masked.
fn offset_data(values: &AggValues, span: Option<(f64, f64)>) -> Option<(Vec<f64>, bool)> {
    match values {
        // Narrow counts shade as the uint32 counts they hold.
        AggValues::U8(v) => {
            offset_data(&AggValues::U32(v.iter().map(|&x| x.into()).collect()), span)
        }
        AggValues::U16(v) => {
            offset_data(&AggValues::U32(v.iter().map(|&x| x.into()).collect()), span)
        }
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
        AggValues::I64(_) => {
            // Row indices: as float64, NaN where empty.
            let wide = (0..values.len()).map(|i| values.get_f64(i)).collect();
            offset_data(&AggValues::F64(wide), span)
        }
        AggValues::F32(v) => {
            // NumPy subtracts the offset (and clips) in float32.
            let (min, _) =
                v.iter()
                    .filter(|x| !x.is_nan())
                    .fold(None, |m: Option<(f32, f32)>, &x| {
                        Some(m.map_or((x, x), |(lo, hi)| (lo.min(x), hi.max(x))))
                    })?;
            let mut out = vec![0.0; v.len()];
            match span {
                None => par_map(v, &mut out, |x| f64::from(x - min)),
                Some((lo, hi)) => {
                    let (lo, hi) = (lo as f32, hi as f32);
                    par_map(v, &mut out, |x| f64::from(x.clamp(lo, hi) - lo))
                }
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

/// Colours a transformed value, as the end of `_interpolate` does.
#[derive(Debug)]
enum Painter {
    /// The list-of-colours path: `np.interp` of each channel over
    /// `np.linspace(span[0], span[1], len(cmap))` with `left=255`, then
    /// `uint8`; alpha `alpha` where the value is not NaN.
    Colormap {
        grid: Grid,
        channels: [Interp; 3],
        alpha: u8,
    },
    /// The single-colour path: alpha interpolated over
    /// `np.arange(min_alpha, alpha + 1)` with `left=0`, `right=255`.
    AlphaRamp {
        grid: Grid,
        table: Interp,
        color: [u8; 3],
    },
}

impl Painter {
    fn new(span: (f64, f64), opts: &ShadeOptions) -> Result<Self, ShadeError> {
        match opts.single_color {
            None => {
                let cmap = &opts.cmap;
                if cmap.is_empty() {
                    return Err(ShadeError::EmptyColormap);
                }
                let grid = Grid::linspace(span.0, span.1, cmap.len());
                let channel = |k: usize| {
                    Interp::new(
                        &grid.xs,
                        cmap.iter().map(|c| f64::from(c[k])).collect(),
                        Some(255.0),
                        None,
                    )
                };
                let channels = [channel(0), channel(1), channel(2)];
                Ok(Painter::Colormap {
                    grid,
                    channels,
                    alpha: opts.alpha,
                })
            }
            Some(color) => {
                let aspan = arange(opts.min_alpha, f64::from(opts.alpha) + 1.0);
                if aspan.is_empty() {
                    return Err(ShadeError::EmptyAlphaRamp {
                        min_alpha: opts.min_alpha,
                        alpha: opts.alpha,
                    });
                }
                let grid = Grid::linspace(span.0, span.1, aspan.len());
                let table = Interp::new(&grid.xs, aspan, Some(0.0), Some(255.0));
                Ok(Painter::AlphaRamp { grid, table, color })
            }
        }
    }

    /// The sample points values are located among.
    fn grid(&self) -> &Grid {
        match self {
            Painter::Colormap { grid, .. } | Painter::AlphaRamp { grid, .. } => grid,
        }
    }

    /// The pixel for value `x` (grids without NaN).
    #[inline]
    fn paint(&self, x: f64) -> Rgba {
        self.paint_at(self.grid().locate(x), x)
    }

    /// The pixel for value `x` found at `pos` among the sample points.
    #[inline]
    fn paint_at(&self, pos: numeric::Pos, x: f64) -> Rgba {
        match self {
            Painter::Colormap {
                grid,
                channels,
                alpha,
            } => {
                let xs = &grid.xs;
                [
                    to_u8(channels[0].at(pos, xs, x)),
                    to_u8(channels[1].at(pos, xs, x)),
                    to_u8(channels[2].at(pos, xs, x)),
                    if x.is_nan() { 0 } else { *alpha },
                ]
            }
            Painter::AlphaRamp { grid, table, color } => {
                let a = to_u8(table.at(pos, &grid.xs, x));
                [color[0], color[1], color[2], a]
            }
        }
    }
}

/// `np.arange(start, stop)` with step 1.
fn arange(start: f64, stop: f64) -> Vec<f64> {
    let n = (stop - start).ceil();
    if n.is_nan() || n <= 0.0 {
        return Vec::new();
    }
    (0..n as usize).map(|i| start + i as f64).collect()
}
