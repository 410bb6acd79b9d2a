//! Points with a size: each point adds to every pixel its disc (or square)
//! covers, inside the aggregation.
//!
//! Datashader draws a point into one pixel and leaves size to
//! `tf.spread`, which smears the shaded picture after the fact (so a `mean`
//! or `max` of spread points is a blend of pixels, not of points). Here a
//! point of radius `r` pixels is a glyph: with its exact position on the
//! canvas `(fx, fy) = (mapper(x) * s + t, mapper(y) * s + t)` (the value
//! Datashader truncates to find its pixel), it covers pixel `(i, j)` when
//! the pixel's centre `(i + 0.5, j + 0.5)` lies within `r` of it (a
//! [`PointShape::Circle`]) or within `r` on both axes (a
//! [`PointShape::Square`]), and always covers the pixel Datashader puts it
//! in. Every reduction then sees the point once in each pixel it covers, so
//! `count` counts the points whose disc covers a pixel, `mean` averages
//! their values, `max` and `first` pick among them, categories keep their
//! plane, and partials merge as for plain points. Points off the canvas by
//! less than `r` still reach its edge pixels, so tiles join without seams.
//! Radius 0 is Datashader's one pixel per point.

use std::fmt;
use std::str::FromStr;

use super::geometry::{AxisKind, AxisMap, Geometry};
use super::partial::NO_CELL;

/// Which pixels around a point with a radius it covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum PointShape {
    /// The pixels whose centres lie within the radius (a disc).
    #[default]
    Circle,
    /// The pixels whose centres lie within the radius on both axes.
    Square,
}

impl FromStr for PointShape {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "circle" => Ok(PointShape::Circle),
            "square" => Ok(PointShape::Square),
            other => Err(format!(
                "unknown point shape '{other}'; use circle or square"
            )),
        }
    }
}

impl fmt::Display for PointShape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PointShape::Circle => "circle",
            PointShape::Square => "square",
        })
    }
}

/// A point glyph with a size: its radius in pixels and its shape.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Splat {
    pub(crate) radius: f64,
    pub(crate) shape: PointShape,
}

/// The points of one batch, expanded to one entry per covered cell.
#[derive(Debug, Default)]
pub(crate) struct SplatBuf {
    pub(crate) rows: Vec<u64>,
    pub(crate) cells: Vec<u32>,
    pub(crate) values: Vec<f64>,
    pub(crate) lookups: Vec<f64>,
    /// Runs of cells ([`Splat::expand_runs`]), the point of each (its
    /// index in the batch) and its value.
    pub(crate) runs: Vec<(u32, u32)>,
    pub(crate) run_points: Vec<u32>,
    pub(crate) run_values: Vec<f64>,
}

/// A batch of points to splat: the cell Datashader puts each in (with its
/// category plane, or [`NO_CELL`]), its plane when it falls off the canvas
/// (`planes`; `None` without categories) and its raw coordinates (projected
/// when the input is longitude/latitude).
pub(crate) struct SplatPoints<'a> {
    pub(crate) first_row: u64,
    pub(crate) own: &'a [u32],
    pub(crate) xs: &'a [f64],
    pub(crate) ys: &'a [f64],
    pub(crate) planes: Option<(&'a [u32], u32)>,
    pub(crate) values: Option<&'a [f64]>,
    pub(crate) lookups: Option<&'a [f64]>,
    /// Whether the reduction goes by row (`first`, `last`, selections):
    /// only then are rows written out.
    pub(crate) rows: bool,
}

/// The range of bins `[lo, hi]` whose centres lie within `r` of position
/// `f` on an axis of `n` bins, or `None` when there is none.
#[inline]
fn span(f: f64, r: f64, n: usize) -> Option<(usize, usize)> {
    let lo = (f - 0.5 - r).ceil();
    let hi = (f - 0.5 + r).floor().min(n as f64 - 1.0);
    let lo = lo.max(0.0);
    (lo <= hi).then_some((lo as usize, hi as usize))
}

/// Position of `v` on `axis` in pixels (NaN when it has none).
#[inline]
fn position(axis: &AxisMap, v: f64) -> f64 {
    // `log10` out of line: inlined, the compiler computes it on linear
    // axes too and keeps the result only for log ones (most of a point's
    // cost, more where the log of a negative value raises its error).
    #[inline(never)]
    fn log10(v: f64) -> f64 {
        v.log10()
    }
    let m = if axis.kind == AxisKind::Log {
        log10(v)
    } else {
        v
    };
    m * axis.s + axis.t
}

impl Splat {
    /// Data ranges of the points that can reach the canvas: its own ranges
    /// widened by the radius (and one pixel for rounding).
    pub(crate) fn reach(&self, axis: &AxisMap) -> (f64, f64) {
        let pad = (self.radius.ceil() + 1.0) / axis.s;
        let (lo, hi) = (axis.kind.map(axis.range.0), axis.kind.map(axis.range.1));
        let unmap = |v: f64| match axis.kind {
            AxisKind::Linear => v,
            AxisKind::Log => 10f64.powf(v),
        };
        (unmap(lo - pad), unmap(hi + pad))
    }

    /// How many points to expand at once: about a million cells, the
    /// bounding square of each point's disc.
    pub(crate) fn points_per_chunk(&self) -> usize {
        let side = 2.0 * self.radius.ceil() + 1.0;
        ((1u64 << 20) as f64 / (side * side)).clamp(1.0, (1u64 << 20) as f64) as usize
    }

    /// Expand `pts` into `out`'s cells: every cell each point covers, in
    /// row order (the runs of [`Splat::expand_runs`], cell by cell), with
    /// each cell's row (when `pts.rows`), value and lookup.
    pub(crate) fn expand(&self, g: &Geometry, pts: &SplatPoints<'_>, out: &mut SplatBuf) {
        self.runs(g, pts, out, true);
        out.rows.clear();
        out.cells.clear();
        out.values.clear();
        out.lookups.clear();
        let stride = pts.planes.map_or(1, |(_, n)| n);
        for (&(start, len), &k) in out.runs.iter().zip(&out.run_points) {
            let k = k as usize;
            out.cells.extend((0..len).map(|i| start + i * stride));
            let end = out.cells.len();
            if pts.rows {
                out.rows.resize(end, pts.first_row + k as u64);
            }
            if let Some(v) = pts.values {
                out.values.resize(end, v[k]);
            }
            if let Some(v) = pts.lookups {
                out.lookups.resize(end, v[k]);
            }
        }
    }

    /// The cells each point of `pts` covers as runs in `out.runs`: its disc
    /// rows as `(first cell, cells)` (cells a category-plane stride apart),
    /// and its own pixel as a run of one where the disc leaves it out, with
    /// the point of each run (`out.run_points`, for [`Splat::expand`]) and its value
    /// (`out.run_values`, when the points have values). A cell is in at
    /// most one run per point, and gets the points in row order.
    pub(crate) fn expand_runs(&self, g: &Geometry, pts: &SplatPoints<'_>, out: &mut SplatBuf) {
        self.runs(g, pts, out, false);
    }

    /// [`Splat::expand_runs`], filling `out.run_points` only when `points`.
    fn runs(&self, g: &Geometry, pts: &SplatPoints<'_>, out: &mut SplatBuf, points: bool) {
        out.runs.clear();
        out.run_points.clear();
        out.run_values.clear();
        let (w, h) = (g.width(), g.height());
        let r = self.radius;
        let r2 = r * r;
        for (k, &own) in pts.own.iter().enumerate() {
            let (plane, planes) = match pts.planes {
                Some((_, 0)) => continue,
                Some((codes, planes)) => {
                    let c = codes[k];
                    (if c < planes { c } else { planes - 1 }, planes)
                }
                None => (0, 1),
            };
            let before = out.runs.len();
            let (oi, oj) = match own {
                NO_CELL => (usize::MAX, usize::MAX),
                c => {
                    let pixel = (c / planes) as usize;
                    (pixel % w, pixel / w)
                }
            };
            let mut own_covered = own == NO_CELL;
            let fx = position(&g.x, pts.xs[k]);
            let fy = position(&g.y, pts.ys[k]);
            let spans = (fx.is_finite() && fy.is_finite())
                .then(|| span(fx, r, w).zip(span(fy, r, h)))
                .flatten();
            if let Some(((i0, i1), (j0, j1))) = spans {
                for j in j0..=j1 {
                    let dy = j as f64 + 0.5 - fy;
                    let run = match self.shape {
                        PointShape::Square => Some((i0, i1)),
                        PointShape::Circle => disc_row(fx, dy, r2, i0, i1),
                    };
                    let Some((a, b)) = run else { continue };
                    own_covered |= j == oj && (a..=b).contains(&oi);
                    out.runs
                        .push((((j * w + a) as u32) * planes + plane, (b - a + 1) as u32));
                }
            }
            if !own_covered {
                out.runs.push((own, 1));
            }
            let end = out.runs.len();
            if points {
                out.run_points.resize(end, k as u32);
            }
            if let Some(v) = pts.values {
                out.run_values
                    .resize(out.run_values.len() + end - before, v[k]);
            }
        }
    }
}

/// The columns `[a, b]` within `[i0, i1]` of one pixel row (`dy` from the
/// point) whose centres lie in the disc `dx^2 + dy^2 <= r2`: from the
/// square root, then moved to where the exact test says (a row of a disc
/// is one run).
fn disc_row(fx: f64, dy: f64, r2: f64, i0: usize, i1: usize) -> Option<(usize, usize)> {
    let rem = r2 - dy * dy;
    if rem < 0.0 {
        return None;
    }
    let inside = |i: usize| {
        let dx = i as f64 + 0.5 - fx;
        dx * dx + dy * dy <= r2
    };
    let hw = rem.sqrt();
    let clamp = |v: f64| (v.max(i0 as f64).min(i1 as f64)) as usize;
    let (mut a, mut b) = (
        clamp((fx - 0.5 - hw).ceil()),
        clamp((fx - 0.5 + hw).floor()),
    );
    while a > i0 && inside(a - 1) {
        a -= 1;
    }
    while a <= b && !inside(a) {
        a += 1;
    }
    while b < i1 && inside(b + 1) {
        b += 1;
    }
    while b >= a && !inside(b) {
        if b == 0 {
            return None;
        }
        b -= 1;
    }
    (a <= b && inside(a)).then_some((a, b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cells(splat: Splat, g: &Geometry, x: f64, y: f64) -> Vec<u32> {
        let own = [g.pixel(x, y).map_or(NO_CELL, |p| p as u32)];
        let pts = SplatPoints {
            first_row: 0,
            own: &own,
            xs: &[x],
            ys: &[y],
            planes: None,
            values: None,
            lookups: None,
            rows: true,
        };
        let mut out = SplatBuf::default();
        splat.expand(g, &pts, &mut out);
        let mut c = out.cells;
        c.sort_unstable();
        c
    }

    fn geometry() -> Geometry {
        Geometry::new(
            10,
            10,
            (0.0, 10.0),
            (0.0, 10.0),
            AxisKind::Linear,
            AxisKind::Linear,
        )
    }

    #[test]
    fn a_disc_covers_the_pixel_centres_within_its_radius() {
        let g = geometry();
        let circle = |r| Splat {
            radius: r,
            shape: PointShape::Circle,
        };
        // At a pixel centre, radius 1: the pixel and its four neighbours.
        assert_eq!(cells(circle(1.0), &g, 4.5, 4.5), vec![34, 43, 44, 45, 54]);
        // Radius 0 and tiny radii: the point's own pixel only.
        assert_eq!(cells(circle(0.0), &g, 4.2, 4.9), vec![44]);
        assert_eq!(cells(circle(0.3), &g, 4.9, 4.9), vec![44]);
        // At a pixel corner, radius 0.75: the four pixels around it.
        assert_eq!(cells(circle(0.75), &g, 5.0, 5.0), vec![44, 45, 54, 55]);
        // Square radius 1 at a centre: the 3 x 3 block.
        let square = Splat {
            radius: 1.0,
            shape: PointShape::Square,
        };
        assert_eq!(cells(square, &g, 4.5, 4.5).len(), 9);
    }

    #[test]
    fn points_off_the_canvas_reach_its_edge() {
        let g = geometry();
        let circle = Splat {
            radius: 1.0,
            shape: PointShape::Circle,
        };
        // Half a pixel left of the canvas, in front of pixel (0, 4).
        assert_eq!(cells(circle, &g, -0.4, 4.5), vec![40]);
        // Too far.
        assert!(cells(circle, &g, -1.6, 4.5).is_empty());
        let (lo, hi) = circle.reach(&g.x);
        assert!(lo <= -2.0 && hi >= 12.0);
    }
}
