//! Lines: Datashader's line glyph, one polyline down the rows (`axis=0`),
//! rasterised exactly as Datashader 0.19.1 does it.
//!
//! Responsible for turning consecutive vertices into the pixels a line
//! touches: each segment between rows `i` and `i + 1` is skipped when a
//! coordinate is NaN (a NaN vertex breaks the line), clipped to the
//! canvas ranges with Liang-Barsky, snapped to integer pixels (a vertex on
//! the upper edge lands in the last pixel) and walked with Datashader's
//! Bresenham variant. Every pixel it appends is accumulated with row `i`'s
//! value and category, so every reduction and `by` work as they do for
//! points. A segment's first pixel is appended only where a line starts
//! (the first row, the row after a NaN, or a clipped start), so pixels
//! shared by consecutive segments count once, as in Datashader.
//!
//! Work units are drawn in parallel. A unit draws the segments whose both
//! vertices it holds; the segment that crosses into it from the previous
//! unit, and the start pixel of its first segment (which depends on the
//! previous unit's last vertex), are recorded in [`LineEnds`] and drawn by
//! [`stitch`] in row order once every unit is done, so the result is the
//! same on one thread or many and however the rows are split.

use super::geometry::{AxisKind, Geometry};

/// The integer mapping of the canvas for line vertices.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LineRaster {
    pub(super) sx: f64,
    pub(super) tx: f64,
    pub(super) sy: f64,
    pub(super) ty: f64,
    pub(super) kx: AxisKind,
    pub(super) ky: AxisKind,
    pub(super) xmin: f64,
    pub(super) xmax: f64,
    pub(super) ymin: f64,
    pub(super) ymax: f64,
    xxmax: i64,
    yymax: i64,
    pub(super) width: usize,
    height: usize,
}

impl LineRaster {
    pub(crate) fn new(g: &Geometry) -> LineRaster {
        let (xmin, xmax) = g.x.range;
        let (ymin, ymax) = g.y.range;
        LineRaster {
            sx: g.x.s,
            tx: g.x.t,
            sy: g.y.s,
            ty: g.y.t,
            kx: g.x.kind,
            ky: g.y.kind,
            xmin,
            xmax,
            ymin,
            ymax,
            // Python's `round`: ties to even.
            xxmax: (g.x.kind.map(xmax) * g.x.s + g.x.t).round_ties_even() as i64,
            yymax: (g.y.kind.map(ymax) * g.y.s + g.y.t).round_ties_even() as i64,
            width: g.x.n,
            height: g.y.n,
        }
    }

    /// Datashader's `map_onto_pixel_snap`: truncate, and move a vertex on
    /// the upper edge into the last pixel. `LX`/`LY`: whether the axis is
    /// logarithmic, fixed at compile time (a runtime match let the
    /// compiler compute `log10` on both arms, a third of a linear run).
    #[inline(always)]
    fn snap<const LX: bool, const LY: bool>(&self, x: f64, y: f64) -> (i64, i64) {
        let x = if LX { x.log10() } else { x };
        let y = if LY { y.log10() } else { y };
        let xx = (x * self.sx + self.tx) as i64;
        let yy = (y * self.sy + self.ty) as i64;
        (
            if xx == self.xxmax { xx - 1 } else { xx },
            if yy == self.yymax { yy - 1 } else { yy },
        )
    }

    /// The pixel index of integer pixel `(x, y)`, `None` off the canvas.
    pub(crate) fn index(&self, (x, y): (i64, i64)) -> Option<u32> {
        if x < 0 || y < 0 || x as usize >= self.width || y as usize >= self.height {
            return None;
        }
        u32::try_from(y as usize * self.width + x as usize).ok()
    }

    /// Draw the segment `(x0, y0) -> (x1, y1)`, calling `emit` with the
    /// index (`row * width + column`) of each pixel it appends. `start`: whether a line starts at this segment
    /// (Datashader's `segment_start`), or `None` when that is not known
    /// yet. Then the start pixel is not appended where it would depend on
    /// it, and is returned instead, for the caller to append once it knows.
    pub(crate) fn segment(
        &self,
        start: Option<bool>,
        a: (f64, f64),
        b: (f64, f64),
        emit: impl FnMut(u32),
    ) -> Option<u32> {
        match (self.kx, self.ky) {
            (AxisKind::Log, AxisKind::Log) => self.segment_on::<true, true>(start, a, b, emit),
            (AxisKind::Log, _) => self.segment_on::<true, false>(start, a, b, emit),
            (_, AxisKind::Log) => self.segment_on::<false, true>(start, a, b, emit),
            _ => self.segment_on::<false, false>(start, a, b, emit),
        }
    }

    #[inline(always)]
    fn segment_on<const LX: bool, const LY: bool>(
        &self,
        start: Option<bool>,
        (x0, y0): (f64, f64),
        (x1, y1): (f64, f64),
        emit: impl FnMut(u32),
    ) -> Option<u32> {
        if x0.is_nan() || y0.is_nan() || x1.is_nan() || y1.is_nan() {
            return None;
        }
        let inside =
            |x: f64, y: f64| self.xmin <= x && x <= self.xmax && self.ymin <= y && y <= self.ymax;
        let (a, b, clipped, start) = if inside(x0, y0) && inside(x1, y1) {
            // Both ends on the canvas: every `_clipt` of Liang-Barsky would
            // accept and leave t0 = 0, t1 = 1 (its q is at least 0, and not
            // under p where p > 0), so the segment stays as it is, without
            // the four divisions.
            ((x0, y0), (x1, y1), false, start)
        } else {
            let c = liang_barsky(self.xmin, self.xmax, self.ymin, self.ymax, x0, x1, y0, y1)?;
            let start = if c.clipped_start { Some(true) } else { start };
            let clipped = c.clipped_start || c.clipped_end;
            ((c.x0, c.y0), (c.x1, c.y1), clipped, start)
        };
        let p = self.snap::<LX, LY>(a.0, a.1);
        let q = self.snap::<LX, LY>(b.0, b.1);
        self.walk(start, clipped, p, q, emit)
    }

    /// `(x, y)` snapped to its pixel when no segment through it needs
    /// clipping there (on linear axes, within both ranges; `None` where NaN,
    /// outside, or on a log axis): a segment between two such vertices is
    /// [`LineRaster::segment_inside`] of their pixels, each vertex snapped
    /// once for the two segments it ends.
    #[inline(always)]
    pub(crate) fn snap_inside(&self, x: f64, y: f64) -> Option<(i64, i64)> {
        let inside = self.xmin <= x && x <= self.xmax && self.ymin <= y && y <= self.ymax;
        let linear = self.kx == AxisKind::Linear && self.ky == AxisKind::Linear;
        if !(inside && linear) {
            return None;
        }
        let p = self.snap::<false, false>(x, y);
        // On the canvas (which the ranges' rounding keeps it), so that
        // every pixel between two such vertices is too.
        self.index(p).map(|_| p)
    }

    /// [`LineRaster::segment`] between two vertices snapped by
    /// [`LineRaster::snap_inside`], which is what it draws for them.
    #[inline(always)]
    pub(crate) fn segment_inside(
        &self,
        start: bool,
        (px, py): (i64, i64),
        (qx, qy): (i64, i64),
        mut emit: impl FnMut(u32),
    ) {
        // `walk` for two pixels on the canvas, unclipped: the start pixel
        // where a line starts or the segment is one pixel, then the
        // steps, each on the canvas.
        let w = self.width as i64;
        let (dx, dy) = (qx - px, qy - py);
        let (ix, iy) = (dx.signum(), dy.signum());
        let (dx, dy) = (dx.abs() * 2, dy.abs() * 2);
        let mut cell = py * w + px;
        if start || (dx | dy) == 0 {
            emit(cell as u32);
        }
        let x_major = dx >= dy;
        let (major, minor, forward) = if x_major {
            (dx, dy, ix > 0)
        } else {
            (dy, dx, iy > 0)
        };
        let (step_major, step_minor) = if x_major { (ix, iy * w) } else { (iy * w, ix) };
        let mut error = 2 * minor - major;
        for _ in 0..major / 2 {
            let k = i64::from((error > 0) | ((error == 0) & forward));
            error += 2 * minor - k * 2 * major;
            cell += step_major + k * step_minor;
            emit(cell as u32);
        }
    }

    /// Datashader's Bresenham walk from pixel `p` to pixel `q` (of a
    /// segment clipped or not), as [`LineRaster::segment`] describes.
    #[inline(always)]
    fn walk(
        &self,
        start: Option<bool>,
        clipped: bool,
        (mut px, mut py): (i64, i64),
        (qx, qy): (i64, i64),
        mut emit: impl FnMut(u32),
    ) -> Option<u32> {
        let dx = qx - px;
        let ix = dx.signum();
        let dx = dx.abs() * 2;
        let dy = qy - py;
        let iy = dy.signum();
        let dy = dy.abs() * 2;
        // Vertices in one pixel, unclipped: that pixel once, start or not.
        if !clipped && dx == 0 && dy == 0 {
            if let Some(i) = self.index((px, py)) {
                emit(i);
            }
            return None;
        }
        let first = self.index((px, py));
        let deferred = match start {
            Some(true) => {
                if let Some(i) = first {
                    emit(i);
                }
                None
            }
            Some(false) => None,
            None => first,
        };
        // Datashader's walk along the major axis. With both ends on the
        // canvas (clipping sees to that) so is every pixel between, and the
        // pixel index steps by itself: one column (ix) or one row (iy *
        // width) at a time, without a bounds check per pixel.
        let on_canvas = first.is_some() && self.index((qx, qy)).is_some();
        let x_major = dx >= dy;
        let (major, minor, forward) = if x_major {
            (dx, dy, ix > 0)
        } else {
            (dy, dx, iy > 0)
        };
        let w = self.width as i64;
        let (step_major, step_minor) = if x_major { (ix, iy * w) } else { (iy * w, ix) };
        let mut cell = py * w + px;
        let mut error = 2 * minor - major;
        for _ in 0..major / 2 {
            // Whether to step along the minor axis too, without a branch
            // (which way a line goes is data, and mispredicts).
            let side = (error > 0) | ((error == 0) & forward);
            let k = i64::from(side);
            error -= k * 2 * major;
            cell += k * step_minor;
            error += 2 * minor;
            cell += step_major;
            if on_canvas {
                emit(cell as u32);
            } else {
                match (x_major, side) {
                    (true, s) => (px, py) = (px + ix, if s { py + iy } else { py }),
                    (false, s) => (px, py) = (if s { px + ix } else { px }, py + iy),
                }
                if let Some(i) = self.index((px, py)) {
                    emit(i);
                }
            }
        }
        deferred
    }
}

/// Pixels in a column of a fill: `len` of them from index `first`, each
/// `step` (a canvas row, up or down) after the one before, all on the
/// canvas.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PixelRun {
    pub(crate) first: u32,
    pub(crate) step: i64,
    pub(crate) len: usize,
}

impl PixelRun {
    /// The run's pixel indices.
    pub(crate) fn pixels(self) -> impl Iterator<Item = u32> {
        (0..self.len as i64).map(move |k| (i64::from(self.first) + k * self.step) as u32)
    }
}

/// One area trapezoid: its two x coordinates and four y coordinates
/// (Datashader's `draw_trapezoid_y`: `(x0, y0)` top left, `(x0, y1)`
/// bottom left, `(x1, y2)` bottom right, `(x1, y3)` top right).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Trapezoid {
    pub(crate) x0: f64,
    pub(crate) x1: f64,
    pub(crate) y0: f64,
    pub(crate) y1: f64,
    pub(crate) y2: f64,
    pub(crate) y3: f64,
}

impl LineRaster {
    /// Datashader's `draw_trapezoid_y`, step for step: fill the trapezoid
    /// `t` column by column, between two Bresenham walks driven along x
    /// (its top and bottom edges), calling `emit` with each pixel's index.
    /// `start`: whether to fill its left edge (Datashader's
    /// `trapezoid_start`); `stacked`: leave out the bottom edge's pixels
    /// (areas filled to another line, so stacked areas do not overlap).
    pub(crate) fn trapezoid(
        &self,
        t: Trapezoid,
        start: bool,
        stacked: bool,
        emit: impl FnMut(PixelRun),
    ) {
        match (self.kx, self.ky) {
            (AxisKind::Log, AxisKind::Log) => {
                self.trapezoid_on::<true, true>(t, start, stacked, emit)
            }
            (AxisKind::Log, _) => self.trapezoid_on::<true, false>(t, start, stacked, emit),
            (_, AxisKind::Log) => self.trapezoid_on::<false, true>(t, start, stacked, emit),
            _ => self.trapezoid_on::<false, false>(t, start, stacked, emit),
        }
    }

    fn trapezoid_on<const LX: bool, const LY: bool>(
        &self,
        t: Trapezoid,
        start: bool,
        stacked: bool,
        mut emit: impl FnMut(PixelRun),
    ) {
        let Some((t, clipped_start, clipped_end)) = self.clip_trapezoid(t) else {
            return;
        };
        let (mut x0i, mut y0i) = self.snap::<LX, LY>(t.x0, t.y0);
        let (_, mut y1i) = self.snap::<LX, LY>(t.x0, t.y1);
        let (x1i, y2i) = self.snap::<LX, LY>(t.x1, t.y2);
        let (_, y3i) = self.snap::<LX, LY>(t.x1, t.y3);
        let (xmaxi, ymaxi) = self.snap::<LX, LY>(self.xmax, self.ymax);
        let sign = |d: i64| i64::from(d > 0) - i64::from(d < 0);
        let dx = x1i - x0i;
        let ix = sign(dx);
        let dy0 = y3i - y0i;
        let iy0 = sign(dy0);
        let dy1 = y2i - y1i;
        let iy1 = sign(dy1);
        // One column of the fill: from `ya` towards `yb` at `x` (the bin
        // on the bottom edge too unless stacked), clamped to the canvas.
        let mut column = |x: i64, ya: i64, yb: i64| {
            let out = (ya < 0 && yb <= 0) || (ya > ymaxi && yb >= ymaxi);
            if out || x < 0 || x > xmaxi {
                return;
            }
            let y_start = ya.min(ymaxi).max(0);
            let mut y_stop = yb.min(ymaxi + 1).max(-1);
            if y_start == y_stop && !stacked {
                if let Some(first) = self.index((x, y_start)) {
                    emit(PixelRun {
                        first,
                        step: 0,
                        len: 1,
                    });
                }
                return;
            }
            let iy = sign(y_stop - y_start);
            if !stacked && (-1..=ymaxi + 1).contains(&(y_stop + iy)) {
                y_stop += iy;
            }
            // Every pixel from y_start up to (not including) y_stop is on
            // the canvas: both ends are clamped to it, and so is x. The
            // pixel index steps by a row at a time.
            let (Some(first), Some(_)) = (self.index((x, y_start)), self.index((x, y_stop - iy)))
            else {
                return;
            };
            emit(PixelRun {
                first,
                step: iy * self.width as i64,
                len: (y_stop - y_start).unsigned_abs() as usize,
            });
        };
        if start || clipped_start {
            column(x0i, y0i, y1i);
        }
        if dx == 0 && !(clipped_start || clipped_end) {
            column(x1i, y3i, y2i);
            return;
        }
        // Both edges walked with x as the driving axis, each stepping y as
        // often as it needs per column.
        let dx = dx.abs() * 2;
        let dy0 = dy0.abs() * 2;
        let dy1 = dy1.abs() * 2;
        let mut error0 = 2 * dy0 - dx;
        let mut error1 = 2 * dy1 - dx;
        while x0i != x1i {
            while error0 >= 0 && (error0 != 0 || ix > 0) {
                error0 -= 2 * dx;
                y0i += iy0;
            }
            error0 += 2 * dy0;
            while error1 >= 0 && (error1 != 0 || ix > 0) {
                error1 -= 2 * dx;
                y1i += iy1;
            }
            error1 += 2 * dy1;
            x0i += ix;
            column(x0i, y0i, y1i);
        }
    }

    /// Datashader's `_skip_or_clip_trapezoid_y`: `None` where it skips the
    /// trapezoid (a NaN corner, wholly above or below the canvas, or outside
    /// it in x), else the trapezoid clipped to the x range and whether its
    /// start or end was clipped.
    fn clip_trapezoid(&self, t: Trapezoid) -> Option<(Trapezoid, bool, bool)> {
        let Trapezoid {
            mut x0,
            mut x1,
            mut y0,
            mut y1,
            mut y2,
            mut y3,
        } = t;
        if [x0, x1, y0, y1, y2, y3].iter().any(|v| v.is_nan()) {
            return None;
        }
        let (ymin, ymax) = (self.ymin, self.ymax);
        if (y0 > ymax && y1 > ymax && y2 > ymax && y3 > ymax)
            || (y0 < ymin && y1 < ymin && y2 < ymin && y3 < ymin)
        {
            return None;
        }
        let dx = x1 - x0;
        let dy0 = y3 - y0;
        let dy1 = y2 - y1;
        let (t0, t1, a) = clipt(-dx, x0 - self.xmin, 0.0, 1.0);
        let (t0, t1, b) = clipt(dx, self.xmax - x0, t0, t1);
        if !(a && b) {
            return None;
        }
        let clipped_end = t1 < 1.0;
        if clipped_end {
            x1 = x0 + t1 * dx;
            y2 = y1 + t1 * dy1;
            y3 = y0 + t1 * dy0;
        }
        let clipped_start = t0 > 0.0;
        if clipped_start {
            x0 += t0 * dx;
            y0 += t0 * dy0;
            y1 += t0 * dy1;
        }
        let t = Trapezoid {
            x0,
            x1,
            y0,
            y1,
            y2,
            y3,
        };
        Some((t, clipped_start, clipped_end))
    }
}

/// A segment clipped to the canvas.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Clipped {
    pub(crate) x0: f64,
    pub(crate) x1: f64,
    pub(crate) y0: f64,
    pub(crate) y1: f64,
    pub(crate) clipped_start: bool,
    pub(crate) clipped_end: bool,
}

/// Datashader's `_clipt`.
fn clipt(p: f64, q: f64, t0: f64, t1: f64) -> (f64, f64, bool) {
    let (mut t0, mut t1, mut accept) = (t0, t1, true);
    if p < 0.0 && q < 0.0 {
        let r = q / p;
        if r > t1 {
            accept = false;
        } else if r > t0 {
            t0 = r;
        }
    } else if p > 0.0 && q < p {
        let r = q / p;
        if r < t0 {
            accept = false;
        } else if r < t1 {
            t1 = r;
        }
    } else if q < 0.0 {
        accept = false;
    }
    (t0, t1, accept)
}

/// Datashader's `_liang_barsky`, step for step (the same float
/// operations in the same order); `None` when the segment is skipped.
#[allow(clippy::too_many_arguments)]
pub(crate) fn liang_barsky(
    xmin: f64,
    xmax: f64,
    ymin: f64,
    ymax: f64,
    x0: f64,
    x1: f64,
    y0: f64,
    y1: f64,
) -> Option<Clipped> {
    let mut skip = (x0 < xmin && x1 < xmin)
        || (x0 > xmax && x1 > xmax)
        || (y0 < ymin && y1 < ymin)
        || (y0 > ymax && y1 > ymax);
    let (t0, t1) = (0.0, 1.0);
    let dx1 = x1 - x0;
    let (t0, t1, a) = clipt(-dx1, x0 - xmin, t0, t1);
    skip |= !a;
    let (t0, t1, a) = clipt(dx1, xmax - x0, t0, t1);
    skip |= !a;
    let dy1 = y1 - y0;
    let (t0, t1, a) = clipt(-dy1, y0 - ymin, t0, t1);
    skip |= !a;
    let (t0, t1, a) = clipt(dy1, ymax - y0, t0, t1);
    skip |= !a;
    if skip {
        return None;
    }
    let (mut cx0, mut cx1, mut cy0, mut cy1) = (x0, x1, y0, y1);
    let clipped_end = t1 < 1.0;
    if clipped_end {
        cx1 = x0 + t1 * dx1;
        cy1 = y0 + t1 * dy1;
    }
    let clipped_start = t0 > 0.0;
    if clipped_start {
        cx0 = x0 + t0 * dx1;
        cy0 = y0 + t0 * dy1;
    }
    Some(Clipped {
        x0: cx0,
        x1: cx1,
        y0: cy0,
        y1: cy1,
        clipped_start,
        clipped_end,
    })
}

/// Draw one row's line through `vertices` in order (Datashader's axis=1
/// lines): a line starts at the first vertex and after each NaN one.
pub(crate) fn row_line(
    r: &LineRaster,
    vertices: impl IntoIterator<Item = (f64, f64)>,
    mut emit: impl FnMut(u32),
) {
    let mut it = vertices.into_iter();
    let Some(mut a) = it.next() else { return };
    let mut start = true;
    for b in it {
        r.segment(Some(start), a, b, &mut emit);
        start = a.0.is_nan() || a.1.is_nan();
        a = b;
    }
}

/// One row's ragged area (Datashader's `AreaToZeroAxis1Ragged` and
/// `AreaToLineAxis1Ragged`): the trapezoids between consecutive vertices
/// of lists `x` and `y`, filled to `y = 0` or to list `to`, the shortest
/// list setting how many. A trapezoid starts an area at the first vertex
/// or after a NaN one; with `to`, Datashader's test of the line filled to
/// looks at the trapezoid's own first `to` value (its `y1_flat[j] - 1`,
/// NaN exactly when that value is), and so does this.
pub(crate) fn ragged_area(
    r: &LineRaster,
    x: &[f64],
    y: &[f64],
    to: Option<&[f64]>,
    mut emit: impl FnMut(PixelRun),
) {
    let n = to.map_or(x.len().min(y.len()), |t| x.len().min(y.len()).min(t.len()));
    for j in 0..n.saturating_sub(1) {
        let (y1, y2) = to.map_or((0.0, 0.0), |t| (t[j], t[j + 1]));
        let start =
            j == 0 || x[j - 1].is_nan() || y[j - 1].is_nan() || to.is_some_and(|t| t[j].is_nan());
        let t = Trapezoid {
            x0: x[j],
            x1: x[j + 1],
            y0: y[j],
            y1,
            y2,
            y3: y[j + 1],
        };
        r.trapezoid(t, start, to.is_some(), &mut emit);
    }
}

/// One vertex of the line, with what its row adds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Vertex {
    /// Row position in the whole input.
    pub(crate) row: u64,
    pub(crate) x: f64,
    pub(crate) y: f64,
    /// The row's value (NaN where missing or not used).
    pub(crate) value: f64,
    /// The row's plane (0 without categories).
    pub(crate) plane: u32,
}

impl Vertex {
    fn is_nan(&self) -> bool {
        self.x.is_nan() || self.y.is_nan()
    }
}

/// What a unit leaves for [`stitch`]: its first and last vertices, whether
/// the vertex before its last one is NaN, and the start pixel of its first
/// segment, which is appended only if a line starts there.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct LineEnds {
    pub(crate) first: Vertex,
    pub(crate) last: Vertex,
    /// `None` when the unit has one row.
    pub(crate) before_last_nan: Option<bool>,
    pub(crate) deferred: Option<u32>,
}

/// Draws the segments of one unit, batch after batch, carrying the last
/// vertices across batches.
#[derive(Debug)]
pub(crate) struct UnitLine {
    /// The unit's first vertex and the last one pushed (meaningful once
    /// `seen` is at least 1; plain fields, not options, on the hot path).
    first: Vertex,
    prev: Vertex,
    /// Vertices pushed so far, capped at 2: 0 none, 1 only `first`, 2 more.
    seen: u8,
    /// Whether the vertex before `prev` is NaN (when `seen` is 2).
    before_prev_nan: bool,
    deferred: Option<u32>,
}

impl UnitLine {
    pub(crate) fn new() -> UnitLine {
        let none = Vertex {
            row: 0,
            x: f64::NAN,
            y: f64::NAN,
            value: f64::NAN,
            plane: 0,
        };
        UnitLine {
            first: none,
            prev: none,
            seen: 0,
            before_prev_nan: false,
            deferred: None,
        }
    }

    /// Add the next vertex, calling `emit(vertex of the segment's first
    /// row, pixel)` for each pixel the segment it closes appends.
    pub(crate) fn push(&mut self, r: &LineRaster, v: Vertex, mut emit: impl FnMut(&Vertex, u32)) {
        let prev = self.prev;
        if self.seen == 2 {
            let start = Some(self.before_prev_nan);
            r.segment(start, (prev.x, prev.y), (v.x, v.y), |p| emit(&prev, p));
        } else if self.seen == 1 {
            // The unit's first segment: the first row of the input starts
            // the line; otherwise that depends on the previous unit.
            let start = (prev.row == 0).then_some(true);
            self.deferred = r.segment(start, (prev.x, prev.y), (v.x, v.y), |p| emit(&prev, p));
            self.seen = 2;
        } else {
            self.first = v;
            self.seen = 1;
        }
        self.before_prev_nan = prev.is_nan();
        self.prev = v;
    }

    /// The unit's ends, `None` for a unit without rows.
    pub(crate) fn ends(&self) -> Option<LineEnds> {
        (self.seen > 0).then_some(LineEnds {
            first: self.first,
            last: self.prev,
            before_last_nan: (self.seen == 2).then_some(self.before_prev_nan),
            deferred: self.deferred,
        })
    }
}

/// Draw, in row order, what the units left: the segment from each unit's
/// last vertex to the next unit's first, and each unit's deferred start
/// pixel where a line does start there. `ends` in row order; `emit` as in
/// [`UnitLine::push`].
pub(crate) fn stitch(
    r: &LineRaster,
    ends: impl IntoIterator<Item = LineEnds>,
    mut emit: impl FnMut(&Vertex, u32),
) {
    // The last vertex so far, and whether the one before it is NaN (true
    // where there is none: a line starts at the input's first row).
    let mut last: Option<(Vertex, bool)> = None;
    for e in ends {
        // The first vertex of the input starts the line, as does one after
        // a NaN vertex.
        let starts = last.is_none_or(|(l, _)| l.is_nan());
        if let Some((l, before_nan)) = last {
            let start = l.row == 0 || before_nan;
            let _ = r.segment(Some(start), (l.x, l.y), (e.first.x, e.first.y), |p| {
                emit(&l, p)
            });
        }
        if let (Some(p), true) = (e.deferred, starts) {
            emit(&e.first, p);
        }
        let before_nan = match e.before_last_nan {
            Some(nan) => nan,
            // One row: the vertex before it is the previous unit's last.
            None => last.is_none_or(|(l, _)| l.is_nan()),
        };
        last = Some((e.last, before_nan));
    }
}

/// Which of Datashader 0.19.1's two kernels for line geometries
/// (`Canvas.line(source, geometry=...)`) to match. They differ only in
/// which segments count as a line's start and end, which decides whether a
/// line's first pixel is drawn and, antialiased, its caps and joins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum GeometryKernel {
    /// spatialpandas geometry (`LineAxis1Geometry`): every line string
    /// starts at its first vertex and ends at its last, a polygon's rings
    /// are closed (their first pixel drawn once, by the closing segment),
    /// and a NaN vertex breaks a line.
    #[default]
    SpatialPandas,
    /// GeoPandas geometry (`LineAxis1GeoPandas`), as 0.19.1 draws it: it
    /// compares vertex offsets with positions in the flat x, y array (two
    /// numbers per vertex), so only the input's very first line string
    /// starts at its first vertex, the others' first pixels are left to the
    /// segments before them, and ends are found at half the offsets
    /// (datashader#1509, fixed after 0.19.1). Vertices are numbered from
    /// the input's first row.
    GeoPandas,
}

/// One segment of a geometry line, with Datashader's flags: `a -> b`, `m`
/// the vertex before `a` (for antialiased joins), and whether a line
/// starts or ends with it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct GeomSegment {
    pub(crate) a: (f64, f64),
    pub(crate) b: (f64, f64),
    pub(crate) m: (f64, f64),
    pub(crate) start: bool,
    pub(crate) end: bool,
}

/// Where a batch's first vertex sits in the input, for
/// [`GeometryKernel::GeoPandas`]: its index among all vertices from the
/// input's first row, and the vertex before it (NaN where none).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct VertexBase {
    pub(crate) index: u64,
    pub(crate) before: (f64, f64),
}

impl Default for VertexBase {
    fn default() -> Self {
        VertexBase {
            index: 0,
            before: (f64::NAN, f64::NAN),
        }
    }
}

/// The segments of part `j` of `buf` with both ends finite, in order, as
/// Datashader's geometry line kernels flag them (`kernel`; `base` places
/// the batch in the input).
pub(crate) fn geometry_segments(
    buf: &crate::source::GeometryBuf,
    j: usize,
    kernel: GeometryKernel,
    base: VertexBase,
    mut f: impl FnMut(GeomSegment),
) {
    let (vs, closed) = buf.part(j);
    let (s, e) = (vs.start, vs.end);
    let vtx = |i: usize| (buf.xs[i], buf.ys[i]);
    // Vertex `i` counted from the batch's first, which may be before it.
    let before = |i: usize| if i == 0 { base.before } else { vtx(i - 1) };
    let finite = |p: (f64, f64)| p.0.is_finite() && p.1.is_finite();
    if e < s + 2 || e > buf.xs.len() {
        return;
    }
    for v in s..e - 1 {
        let (a, b) = (vtx(v), vtx(v + 1));
        if !(finite(a) && finite(b)) {
            continue;
        }
        let seg = match kernel {
            GeometryKernel::SpatialPandas => GeomSegment {
                a,
                b,
                start: (v == s && !closed) || (v > s && !finite(vtx(v - 1))),
                end: (!closed && v + 2 == e) || (v + 2 < e && !finite(vtx(v + 2))),
                m: if v == s && closed {
                    vtx(e - 2)
                } else {
                    before(v)
                },
            },
            GeometryKernel::GeoPandas => {
                // Datashader's `k` (twice the vertex index) against the
                // vertex offsets `start1`, `stop1`.
                let (k, s1, e1) = (
                    2 * (base.index + v as u64),
                    base.index + s as u64,
                    base.index + e as u64,
                );
                let m = if k == s1 && closed {
                    // `values[stop1 - 4]`, `values[stop1 - 3]`: numbers of
                    // the flat x, y array, not a vertex.
                    let flat = |i: u64| -> f64 {
                        let Some(local) = i.checked_sub(2 * base.index) else {
                            return f64::NAN;
                        };
                        let p = vtx((local / 2) as usize);
                        if local % 2 == 0 {
                            p.0
                        } else {
                            p.1
                        }
                    };
                    match e1.checked_sub(4) {
                        Some(i) => (flat(i), flat(i + 1)),
                        None => (f64::NAN, f64::NAN),
                    }
                } else {
                    before(v)
                };
                GeomSegment {
                    a,
                    b,
                    start: (k == s1 && !closed) || (k > s1 && !finite(before(v))),
                    end: (!closed && k + 4 == e1)
                        || (k + 4 < e1 && !finite(vtx((v + 2).min(buf.xs.len() - 1)))),
                    m,
                }
            }
        };
        f(seg);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raster(w: usize, h: usize, xr: (f64, f64), yr: (f64, f64)) -> LineRaster {
        LineRaster::new(&Geometry::new(
            w,
            h,
            xr,
            yr,
            AxisKind::Linear,
            AxisKind::Linear,
        ))
    }

    fn draw(r: &LineRaster, start: bool, a: (f64, f64), b: (f64, f64)) -> Vec<(i64, i64)> {
        let mut v = Vec::new();
        let w = r.width as u32;
        r.segment(Some(start), a, b, |p| {
            v.push(((p % w) as i64, (p / w) as i64))
        });
        v
    }

    #[test]
    fn a_horizontal_segment_covers_every_pixel_once() {
        let r = raster(10, 10, (0.0, 10.0), (0.0, 10.0));
        let px = draw(&r, true, (0.5, 2.5), (9.5, 2.5));
        assert_eq!(px, (0..10).map(|x| (x, 2)).collect::<Vec<_>>());
        // Not a line start: the first pixel belongs to the segment before.
        let px = draw(&r, false, (0.5, 2.5), (9.5, 2.5));
        assert_eq!(px, (1..10).map(|x| (x, 2)).collect::<Vec<_>>());
    }

    #[test]
    fn nan_vertices_skip_the_segment_and_one_pixel_segments_count_once() {
        let r = raster(4, 4, (0.0, 4.0), (0.0, 4.0));
        assert!(draw(&r, true, (f64::NAN, 1.0), (2.0, 2.0)).is_empty());
        assert_eq!(draw(&r, false, (1.2, 1.2), (1.7, 1.4)), vec![(1, 1)]);
    }

    #[test]
    fn the_upper_edge_snaps_into_the_last_pixel_and_clipping_starts_a_line() {
        let r = raster(4, 4, (0.0, 4.0), (0.0, 4.0));
        assert_eq!(draw(&r, false, (3.5, 0.5), (4.0, 0.5)), vec![(3, 0)]);
        // From outside the canvas: clipped, so its first pixel is drawn.
        let px = draw(&r, false, (-2.0, 0.5), (1.5, 0.5));
        assert_eq!(px, vec![(0, 0), (1, 0)]);
        // Wholly outside: nothing.
        assert!(draw(&r, true, (-2.0, 5.0), (-1.0, 6.0)).is_empty());
    }

    #[test]
    fn liang_barsky_leaves_segments_on_the_canvas_as_they_are() {
        // The fast path in `segment_on` relies on this, edges included.
        let (lo, hi) = (-3.0, 5.0);
        let vals = [lo, -2.999, -1.0, 0.0, 0.3, 4.999_999, hi];
        for &x0 in &vals {
            for &y0 in &vals {
                for &x1 in &vals {
                    for &y1 in &vals {
                        let c = liang_barsky(lo, hi, lo, hi, x0, x1, y0, y1);
                        let same = Clipped {
                            x0,
                            x1,
                            y0,
                            y1,
                            clipped_start: false,
                            clipped_end: false,
                        };
                        assert_eq!(c, Some(same), "{x0} {y0} -> {x1} {y1}");
                    }
                }
            }
        }
    }

    #[test]
    fn stitching_units_draws_what_one_unit_would() {
        let r = raster(16, 16, (0.0, 16.0), (0.0, 16.0));
        let pts = [
            (0.5, 0.5),
            (5.5, 3.5),
            (f64::NAN, 1.0),
            (2.5, 9.5),
            (12.5, 14.5),
            (15.5, 0.5),
            (3.5, 3.5),
            (3.6, 3.4),
            (9.5, 1.5),
        ];
        let verts: Vec<Vertex> = pts
            .iter()
            .enumerate()
            .map(|(i, &(x, y))| Vertex {
                row: i as u64,
                x,
                y,
                value: i as f64,
                plane: 0,
            })
            .collect();
        let run = |splits: &[usize]| {
            let mut out: Vec<(u64, u32)> = Vec::new();
            let mut ends = Vec::new();
            let mut at = 0;
            for &end in splits.iter().chain(std::iter::once(&verts.len())) {
                let mut u = UnitLine::new();
                for v in &verts[at..end] {
                    u.push(&r, *v, |v, p| out.push((v.row, p)));
                }
                ends.extend(u.ends());
                at = end;
            }
            stitch(&r, ends, |v, p| out.push((v.row, p)));
            out.sort();
            out
        };
        let whole = run(&[]);
        assert!(!whole.is_empty());
        for splits in [&[1][..], &[2], &[3], &[1, 2, 3], &[4, 5, 7], &[8]] {
            assert_eq!(run(splits), whole, "split at {splits:?}");
        }
    }
}
