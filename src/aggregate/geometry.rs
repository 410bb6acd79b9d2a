//! Canvas geometry: which pixel each point falls in, exactly as Datashader
//! maps it.
//!
//! For each axis, `s = n / (mapper(max) - mapper(min))` and
//! `t = -mapper(min) * s`, all in f64. A point is kept when
//! `min <= v <= max` (in data units) on both axes; its bin is
//! `int(mapper(v) * s + t)` (truncation toward zero, as Python's `int`), and
//! a bin `>= n` (a point on the upper edge) moves into the last bin. NaN and
//! out-of-range points are dropped. The mapper is the identity for linear
//! axes and `log10` for log axes.

use std::fmt;
use std::str::FromStr;

/// Marker for a point that falls in no pixel.
pub const NO_PIXEL: u32 = u32::MAX;

/// How data values map onto an axis.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum AxisKind {
    /// Identity mapping.
    #[default]
    Linear,
    /// Base-10 logarithm; the range must be positive.
    Log,
}

impl AxisKind {
    pub(crate) fn map(self, v: f64) -> f64 {
        match self {
            AxisKind::Linear => v,
            AxisKind::Log => v.log10(),
        }
    }
}

impl FromStr for AxisKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "linear" => Ok(AxisKind::Linear),
            "log" => Ok(AxisKind::Log),
            other => Err(format!("unknown axis type '{other}'; use linear or log")),
        }
    }
}

impl fmt::Display for AxisKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AxisKind::Linear => "linear",
            AxisKind::Log => "log",
        })
    }
}

/// Datashader's rule for a range computed from data: no finite data gives
/// (-1, 1); a single value `v` gives (v - 1, v + 1).
pub fn expand_bounds(bounds: Option<(f64, f64)>) -> (f64, f64) {
    match bounds {
        Some((lo, hi)) if lo.is_finite() && hi.is_finite() => {
            if lo == hi {
                (lo - 1.0, lo + 1.0)
            } else {
                (lo, hi)
            }
        }
        _ => (-1.0, 1.0),
    }
}

/// The largest float below `v` (`f64::next_down`, which needs Rust 1.86).
fn next_down(v: f64) -> f64 {
    if v.is_nan() || v == f64::NEG_INFINITY {
        v
    } else if v == 0.0 {
        -f64::from_bits(1)
    } else if v > 0.0 {
        f64::from_bits(v.to_bits() - 1)
    } else {
        f64::from_bits(v.to_bits() + 1)
    }
}

/// One axis of the canvas, with its precomputed scale and translation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AxisMap {
    /// Number of bins.
    pub n: usize,
    /// Data range: `range.0` is always included; `range.1` too unless the
    /// axis is half-open ([`AxisMap::half_open`]).
    pub range: (f64, f64),
    /// Largest value kept: `range.1`, or the float just below it on a
    /// half-open axis.
    pub hi: f64,
    /// Mapping kind.
    pub kind: AxisKind,
    /// Scale `s`.
    pub s: f64,
    /// Translation `t`.
    pub t: f64,
}

impl AxisMap {
    /// Build the mapping of `range` onto `n` bins.
    pub fn new(n: usize, range: (f64, f64), kind: AxisKind) -> AxisMap {
        let start = kind.map(range.0);
        let end = kind.map(range.1);
        let s = n as f64 / (end - start);
        let t = -start * s;
        AxisMap {
            n,
            range,
            hi: range.1,
            kind,
            s,
            t,
        }
    }

    /// The same mapping with the upper edge excluded: a point at exactly
    /// `range.1` belongs to the next tile, not this one. Scale and
    /// translation do not change, so every kept point gets the same bin.
    pub fn half_open(self) -> AxisMap {
        AxisMap {
            hi: next_down(self.range.1),
            ..self
        }
    }

    /// The bin of value `v`, or `None` when it is NaN or out of range.
    #[inline(always)]
    pub fn bin(&self, v: f64) -> Option<usize> {
        if !(self.range.0 <= v && v <= self.hi) {
            return None;
        }
        let b = (self.kind.map(v) * self.s + self.t) as i64;
        let n = self.n as i64;
        if b >= n {
            Some(self.n - 1)
        } else if b >= 0 {
            Some(b as usize)
        } else if b >= -n {
            // Datashader indexes with a negative bin, which NumPy wraps.
            // Only reachable through rounding in exotic ranges.
            Some((b + n) as usize)
        } else {
            None
        }
    }

    /// Centre of bin `i` in data units (Datashader's coordinate labels).
    pub fn bin_center(&self, i: usize) -> f64 {
        let a = (i as f64 + 0.5 - self.t) / self.s;
        match self.kind {
            AxisKind::Linear => a,
            AxisKind::Log => 10f64.powf(a),
        }
    }
}

/// The two axes of a canvas.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Geometry {
    /// Horizontal axis (columns).
    pub x: AxisMap,
    /// Vertical axis (rows, row 0 = lowest y).
    pub y: AxisMap,
}

impl Geometry {
    /// Canvas of `width x height` pixels over the given ranges.
    pub fn new(
        width: usize,
        height: usize,
        x_range: (f64, f64),
        y_range: (f64, f64),
        x_axis: AxisKind,
        y_axis: AxisKind,
    ) -> Geometry {
        Geometry {
            x: AxisMap::new(width, x_range, x_axis),
            y: AxisMap::new(height, y_range, y_axis),
        }
    }

    /// Width in pixels.
    pub fn width(&self) -> usize {
        self.x.n
    }

    /// Height in pixels.
    pub fn height(&self) -> usize {
        self.y.n
    }

    /// Pixel index `row * width + col` of one point, or `None` when dropped.
    #[inline(always)]
    pub fn pixel(&self, x: f64, y: f64) -> Option<usize> {
        let c = self.x.bin(x)?;
        let r = self.y.bin(y)?;
        Some(r * self.x.n + c)
    }

    /// Write the pixel index of every point to `out` (cleared first), with
    /// [`NO_PIXEL`] for dropped points.
    pub fn bin_points(&self, xs: &[f64], ys: &[f64], out: &mut Vec<u32>) {
        out.clear();
        out.extend(xs.iter().zip(ys).map(|(&x, &y)| match self.pixel(x, y) {
            Some(p) => p as u32,
            None => NO_PIXEL,
        }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upper_edge_lands_in_last_bin() {
        let a = AxisMap::new(3, (0.0, 3.0), AxisKind::Linear);
        assert_eq!(a.bin(3.0), Some(2));
        assert_eq!(a.bin(0.0), Some(0));
        assert_eq!(a.bin(2.999_999), Some(2));
        assert_eq!(a.bin(1.0), Some(1));
    }

    #[test]
    fn half_open_axis_drops_only_the_upper_edge() {
        let a = AxisMap::new(4, (0.0, 1.0), AxisKind::Linear).half_open();
        assert_eq!(a.bin(1.0), None);
        assert_eq!(a.bin(1.0f64.next_down()), Some(3));
        assert_eq!(a.bin(0.0), Some(0));
        assert_eq!(a.bin(0.5), Some(2));
        assert_eq!(next_down(1.0), 1.0 - f64::EPSILON / 2.0);
        assert_eq!(next_down(-1.0), -1.0 - f64::EPSILON);
        assert!(next_down(0.0) < 0.0);
    }

    #[test]
    fn out_of_range_and_nan_are_dropped() {
        let a = AxisMap::new(10, (0.0, 1.0), AxisKind::Linear);
        assert_eq!(a.bin(-1e-300), None);
        assert_eq!(a.bin(1.000_000_000_1), None);
        assert_eq!(a.bin(f64::NAN), None);
        assert_eq!(a.bin(f64::INFINITY), None);
    }

    #[test]
    fn mapping_uses_x_times_s_plus_t() {
        // Here x * s + t is exactly 312.0 while (x - min) * s rounds to
        // 311.99999999999994: Datashader's formula puts the point in bin 312.
        let a = AxisMap::new(
            444,
            (-9.433050469559873, 7.283893957798323),
            AxisKind::Linear,
        );
        let x = 2.313991560475615;
        assert!(((x - a.range.0) * a.s) < 312.0);
        assert_eq!(a.bin(x), Some(312));
    }

    #[test]
    fn log_axis_maps_decades() {
        let a = AxisMap::new(2, (1.0, 100.0), AxisKind::Log);
        assert_eq!(a.bin(1.0), Some(0));
        assert_eq!(a.bin(9.99), Some(0));
        assert_eq!(a.bin(10.0), Some(1));
        assert_eq!(a.bin(100.0), Some(1));
        assert_eq!(a.bin(0.5), None);
    }

    #[test]
    fn expand_bounds_follows_datashader() {
        assert_eq!(expand_bounds(None), (-1.0, 1.0));
        assert_eq!(expand_bounds(Some((2.0, 2.0))), (1.0, 3.0));
        assert_eq!(expand_bounds(Some((0.0, 5.0))), (0.0, 5.0));
        assert_eq!(expand_bounds(Some((f64::NEG_INFINITY, 5.0))), (-1.0, 1.0));
    }

    #[test]
    fn pixel_rows_start_at_lowest_y() {
        let g = Geometry::new(
            4,
            2,
            (0.0, 4.0),
            (0.0, 2.0),
            AxisKind::Linear,
            AxisKind::Linear,
        );
        assert_eq!(g.pixel(0.5, 0.5), Some(0));
        assert_eq!(g.pixel(3.5, 1.5), Some(7));
    }
}
