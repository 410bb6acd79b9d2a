//! One `eq_hist` for many images: the histogram of every non-empty cell of
//! a set of aggregates (e.g. all tiles of a zoom level), so that equal
//! values get equal colours in every image and neighbouring tiles match.
//!
//! The map is Datashader's `eq_hist` applied to the union of the cells:
//! values are offset by the smallest one; integer aggregates whose range is
//! below 65536 use the exact per-value cdf, others the 65536-bin histogram.
//! An image is then shaded by replacing each value with its equalised value
//! and interpolating linearly between the smallest equalised value and 1.

use std::collections::BTreeMap;

use super::numeric::{self, EqHist};
use super::{How, ShadeError, ShadeOptions};
use crate::aggregate::{AggValues, Aggregate};

/// Largest integer value range histogrammed value by value before the
/// builder falls back to 65536 bins.
const EXACT_KEYS: u64 = 1 << 24;

/// Integer values counted in a direct table by the builder.
const DENSE_KEYS: usize = 1 << 16;

/// Collects the cells of many aggregates. Integer (count) aggregates need
/// one pass; float aggregates need their overall `(min, max)` up front
/// (e.g. from [`crate::tiles::value_range`]), as NumPy's bins do.
///
/// ```
/// use pointillist::aggregate::{aggregate, AggregateRequest};
/// use pointillist::shade::{SharedEqHistBuilder, ShadeOptions};
/// use pointillist::source::Source;
///
/// // Two halves of the data, one colour scale.
/// let source = Source::sample()?;
/// let halves: Vec<_> = [(-1.4e7, -1.07e7), (-1.07e7, -7.4e6)]
///     .into_iter()
///     .map(|x_range| {
///         let mut req = AggregateRequest::new(64, 64);
///         req.x_range = Some(x_range);
///         req.y_range = Some((2.8e6, 6.4e6));
///         aggregate(&source, &req)
///     })
///     .collect::<Result<_, _>>()?;
/// let mut builder = SharedEqHistBuilder::integer();
/// for agg in &halves {
///     builder.add(agg)?;
/// }
/// let eq = builder.finish()?.expect("some cell is non-empty");
/// let west = eq.shade(&halves[0], &ShadeOptions::default())?;
/// assert_eq!(west.pixels.len(), 64 * 64);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum SharedEqHistBuilder {
    /// Counts per distinct integer value: `dense[v]` for `v < DENSE_KEYS`
    /// (a direct table, so that a canvas of millions of cells costs one
    /// increment each), the rest in `sparse`.
    Integer {
        /// Cells per value, for the small values.
        dense: Vec<u64>,
        /// Cells per value, for the values past `dense`.
        sparse: BTreeMap<u32, u64>,
    },
    /// 65536 equal bins over the float range.
    Float {
        /// Smallest value.
        lo: f64,
        /// Largest value.
        hi: f64,
        /// Cells per bin.
        hist: Vec<u64>,
    },
}

impl SharedEqHistBuilder {
    /// A builder for `count`-like (u32) aggregates.
    pub fn integer() -> Self {
        SharedEqHistBuilder::Integer {
            dense: vec![0; DENSE_KEYS],
            sparse: BTreeMap::new(),
        }
    }

    /// A builder for float aggregates whose non-NaN values lie in `range`.
    pub fn float(range: (f64, f64)) -> Self {
        SharedEqHistBuilder::Float {
            lo: range.0,
            hi: range.1,
            hist: vec![0; numeric::EQ_HIST_BINS],
        }
    }

    /// Add the non-empty cells of `agg` (zero counts and NaN are empty).
    pub fn add(&mut self, agg: &Aggregate) -> Result<(), ShadeError> {
        match (self, &agg.values) {
            (SharedEqHistBuilder::Integer { dense, sparse }, AggValues::U32(v)) => {
                for &x in v {
                    match dense.get_mut(x as usize) {
                        Some(c) => *c += 1,
                        None => *sparse.entry(x).or_insert(0) += 1,
                    }
                }
            }
            (SharedEqHistBuilder::Integer { dense, .. }, AggValues::U8(v)) => {
                for &x in v {
                    if let Some(c) = dense.get_mut(usize::from(x)) {
                        *c += 1;
                    }
                }
            }
            (SharedEqHistBuilder::Integer { dense, sparse }, AggValues::U16(v)) => {
                for &x in v {
                    match dense.get_mut(usize::from(x)) {
                        Some(c) => *c += 1,
                        None => *sparse.entry(u32::from(x)).or_insert(0) += 1,
                    }
                }
            }
            (SharedEqHistBuilder::Float { lo, hi, hist }, AggValues::F64(v)) => {
                let bins = numeric::Bins::new(0.0, *hi - *lo)?;
                for &x in v.iter().filter(|x| !x.is_nan()) {
                    let d = (x - *lo).clamp(0.0, *hi - *lo);
                    hist[bins.bin(d)] += 1;
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// The equaliser, or `None` when no cell was added.
    pub fn finish(self) -> Result<Option<SharedEqHist>, ShadeError> {
        match self {
            SharedEqHistBuilder::Integer { dense, mut sparse } => {
                // Zero counts are empty cells.
                let mut map: BTreeMap<u32, u64> = (1u32..)
                    .zip(dense.iter().skip(1))
                    .filter(|&(_, &c)| c > 0)
                    .map(|(v, &c)| (v, c))
                    .collect();
                map.append(&mut sparse);
                let (Some((&lo, _)), Some((&hi, _))) =
                    (map.first_key_value(), map.last_key_value())
                else {
                    return Ok(None);
                };
                let range = u64::from(hi - lo);
                let eq = if range < EXACT_KEYS {
                    let mut counts = vec![0u64; range as usize + 1];
                    for (&v, &c) in &map {
                        counts[(v - lo) as usize] = c;
                    }
                    numeric::eq_hist_keys(&counts, true)?.map(|(eq, _)| eq)
                } else {
                    let bins = numeric::Bins::new(0.0, f64::from(hi - lo))?;
                    let mut hist = vec![0u64; numeric::EQ_HIST_BINS];
                    for (&v, &c) in &map {
                        hist[bins.bin(f64::from(v - lo))] += c;
                    }
                    Some(bins.equalizer(&hist).0)
                };
                Ok(eq.map(|eq| SharedEqHist::new(eq, f64::from(lo), f64::from(hi))))
            }
            SharedEqHistBuilder::Float { lo, hi, hist } => {
                if hist.iter().all(|&c| c == 0) {
                    return Ok(None);
                }
                let bins = numeric::Bins::new(0.0, hi - lo)?;
                Ok(Some(SharedEqHist::new(bins.equalizer(&hist).0, lo, hi)))
            }
        }
    }
}

/// The equalised-value map shared by a set of images.
#[derive(Debug, Clone)]
pub struct SharedEqHist {
    eq: EqHist,
    lo: f64,
    hi: f64,
    span: (f64, f64),
}

impl SharedEqHist {
    fn new(eq: EqHist, lo: f64, hi: f64) -> SharedEqHist {
        let bottom = eq.eval(0.0);
        let top = eq.eval(hi - lo);
        SharedEqHist {
            eq,
            lo,
            hi,
            span: (bottom, top),
        }
    }

    /// The smallest and largest equalised values (the colormap's ends).
    pub fn span(&self) -> (f64, f64) {
        self.span
    }

    /// The smallest and largest data values histogrammed (shaded with the
    /// colormap's ends).
    pub fn value_range(&self) -> (f64, f64) {
        (self.lo, self.hi)
    }

    /// Shade a non-categorical `agg` with this map: each cell's value is
    /// equalised, then coloured linearly over [`SharedEqHist::span`].
    pub fn shade(&self, agg: &Aggregate, opts: &ShadeOptions) -> Result<super::Image, ShadeError> {
        let eval = |x: f64| self.eq.eval((x - self.lo).clamp(0.0, self.hi - self.lo));
        let values: Vec<f64> = match &agg.values {
            AggValues::U32(v) => v
                .iter()
                .map(|&x| if x == 0 { f64::NAN } else { eval(f64::from(x)) })
                .collect(),
            AggValues::U8(_) | AggValues::U16(_) => (0..agg.values.len())
                .map(|i| match agg.values.get_f64(i) {
                    0.0 => f64::NAN,
                    x => eval(x),
                })
                .collect(),
            AggValues::F64(v) => v
                .iter()
                .map(|&x| if x.is_nan() { f64::NAN } else { eval(x) })
                .collect(),
            AggValues::F32(v) => v
                .iter()
                .map(|&x| {
                    if x.is_nan() {
                        f64::NAN
                    } else {
                        eval(f64::from(x))
                    }
                })
                .collect(),
            AggValues::I64(_) => (0..agg.values.len())
                .map(|i| {
                    let x = agg.values.get_f64(i);
                    if x.is_nan() {
                        f64::NAN
                    } else {
                        eval(x)
                    }
                })
                .collect(),
            AggValues::Bool(_) => return super::shade(agg, opts),
        };
        let eq_agg = Aggregate {
            width: agg.width,
            height: agg.height,
            categories: None,
            n: None,
            values: AggValues::F64(values),
            x_range: agg.x_range,
            y_range: agg.y_range,
        };
        let mut o = opts.clone();
        o.how = How::Linear;
        o.rescale_discrete_levels = false;
        o.span = (self.span.0 < self.span.1).then_some(self.span);
        super::shade(&eq_agg, &o)
    }
}
