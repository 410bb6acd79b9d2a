//! Antialiased lines: Datashader's `line_width > 0` (or `antialias=True`)
//! rasterisation, step for step.
//!
//! Responsible for turning a line's vertices into the pixels its
//! antialiased stroke covers, each with its coverage (Datashader's
//! `aa_factor`, in 0..=1) and the coverage the previous segment already
//! gave it (`prev_aa_factor`), as Datashader 0.19.1's `_full_antialias`
//! computes them: vertices are clipped to the canvas ranges with
//! Liang-Barsky, mapped to continuous pixel coordinates (pixel centres at
//! integers, no snapping), and each segment's quadrilateral, widened by
//! half the line width plus half a pixel, is scanned along its shorter
//! direction; a pixel's coverage falls off linearly with its distance from
//! the segment (round caps and joins), and a line narrower than one pixel
//! is drawn one pixel wide at lower intensity.
//!
//! Two modes, chosen by the reductions: *overwrite*, where
//! every segment draws its caps and reductions keep the largest coverage
//! (Datashader's choice when no reduction sums coverage within a line),
//! and *corrected*, where a segment skips the cap regions its neighbours
//! draw and reports, for pixels the previous segment already covered, that
//! segment's coverage, so summing reductions add only the difference.
//! [`AaLine`] walks a line vertex by vertex, knowing which segments start
//! and end a line (the first one, and those after or before a NaN vertex)
//! as Datashader does.

use super::geometry::{AxisKind, Geometry};
use super::line::{liang_barsky, LineRaster};

/// One antialiased pixel: its index (`row * width + column`), coverage and
/// the previous segment's coverage of it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct AaPixel {
    pub(crate) index: u32,
    pub(crate) value: f64,
    pub(crate) prev: f64,
}

/// The continuous mapping of the canvas for antialiased vertices: the
/// plain lines' canvas mapping, without the snap.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AaRaster {
    r: LineRaster,
    /// Datashader's `nx`/`ny` (`round((xmax - xmin) * sx)`), at most the
    /// canvas size.
    nx: i64,
    ny: i64,
    line_width: f64,
    overwrite: bool,
}

impl AaRaster {
    /// The raster of canvas `g` for lines `line_width` pixels wide (more
    /// than 0), overwriting each other's caps or corrected (see the
    /// module docs).
    pub(crate) fn new(g: &Geometry, line_width: f64, overwrite: bool) -> AaRaster {
        // Datashader's `nx = round((xmax - xmin)*sx)`: the canvas width on a
        // linear axis. On a log axis it is computed the same way (in data
        // units, as Datashader does) but never past the canvas.
        let n = |(lo, hi): (f64, f64), s: f64, size: usize| {
            let v = ((hi - lo) * s).round_ties_even();
            if v.is_finite() {
                (v as i64).clamp(0, size as i64)
            } else {
                size as i64
            }
        };
        AaRaster {
            r: LineRaster::new(g),
            nx: n(g.x.range, g.x.s, g.x.n),
            ny: n(g.y.range, g.y.s, g.y.n),
            line_width,
            overwrite,
        }
    }

    /// Datashader's `map_onto_pixel_no_snap`.
    #[inline]
    fn map(&self, x: f64, y: f64) -> (f64, f64) {
        // `log10` out of line: inlined, it was computed on linear axes too
        // (both arms of the match), a sixth of the time.
        #[cold]
        #[inline(never)]
        fn log10(v: f64) -> f64 {
            v.log10()
        }
        let m = |kind: AxisKind, v: f64| if kind == AxisKind::Log { log10(v) } else { v };
        let r = &self.r;
        (
            m(r.kx, x) * r.sx + r.tx - 0.5,
            m(r.ky, y) * r.sy + r.ty - 0.5,
        )
    }

    /// Datashader's `draw_segment` for antialiased lines: the segment
    /// `a -> b`, `m` the vertex before `a` (used only when corrected and
    /// not `start`), `start`/`end` whether a line starts or ends with it.
    pub(crate) fn segment(
        &self,
        start: bool,
        end: bool,
        a: (f64, f64),
        b: (f64, f64),
        m: (f64, f64),
        emit: &mut impl FnMut(AaPixel),
    ) {
        if a.0.is_nan() || a.1.is_nan() || b.0.is_nan() || b.1.is_nan() {
            return;
        }
        let r = &self.r;
        let Some(c) = liang_barsky(r.xmin, r.xmax, r.ymin, r.ymax, a.0, b.0, a.1, b.1) else {
            return;
        };
        let start = start || c.clipped_start;
        let (x0, y0) = self.map(c.x0, c.y0);
        let (x1, y1) = self.map(c.x1, c.y1);
        let (xm, ym) = if start {
            (0.0, 0.0)
        } else {
            self.map(m.0, m.1)
        };
        self.full_antialias(start, end, x0, x1, y0, y1, xm, ym, emit);
    }

    /// Datashader's `_full_antialias`, the same float operations in the
    /// same order.
    #[allow(clippy::too_many_arguments)]
    fn full_antialias(
        &self,
        segment_start: bool,
        segment_end: bool,
        mut x0: f64,
        mut x1: f64,
        mut y0: f64,
        mut y1: f64,
        mut xm: f64,
        mut ym: f64,
        emit: &mut impl FnMut(AaPixel),
    ) {
        if x0 == x1 && y0 == y1 {
            return;
        }
        let mut overwrite = self.overwrite;
        let flip_xy = (x0 - x1).abs() < (y0 - y1).abs();
        if flip_xy {
            std::mem::swap(&mut x0, &mut y0);
            std::mem::swap(&mut x1, &mut y1);
            std::mem::swap(&mut xm, &mut ym);
        }
        let mut scale = 1.0;
        let mut line_width = self.line_width;
        if line_width < 1.0 {
            scale *= line_width;
            line_width = 1.0;
        }
        let aa = 1.0;
        let halfwidth = 0.5 * (line_width + aa);
        let flip_order = y1 < y0 || (y1 == y0 && x1 < x0);
        let mut alongx = x1 - x0;
        let mut alongy = y1 - y0;
        let length = (alongx * alongx + alongy * alongy).sqrt();
        alongx /= length;
        alongy /= length;
        let rightx = alongy;
        let righty = -alongx;
        // Corners: x in 0..4, y in 4..8.
        let b: [f64; 8] = if flip_order {
            [
                x1 - halfwidth * (rightx - alongx),
                x1 - halfwidth * (-rightx - alongx),
                x0 - halfwidth * (-rightx + alongx),
                x0 - halfwidth * (rightx + alongx),
                y1 - halfwidth * (righty - alongy),
                y1 - halfwidth * (-righty - alongy),
                y0 - halfwidth * (-righty + alongy),
                y0 - halfwidth * (righty + alongy),
            ]
        } else {
            [
                x0 + halfwidth * (rightx - alongx),
                x0 + halfwidth * (-rightx - alongx),
                x1 + halfwidth * (-rightx + alongx),
                x1 + halfwidth * (rightx + alongx),
                y0 + halfwidth * (righty - alongy),
                y0 + halfwidth * (-righty - alongy),
                y1 + halfwidth * (-righty + alongy),
                y1 + halfwidth * (righty + alongy),
            ]
        };
        let (mut xmax, mut ymax) = (self.nx - 1, self.ny - 1);
        if flip_xy {
            std::mem::swap(&mut xmax, &mut ymax);
        }
        if xmax < 0 || ymax < 0 {
            return;
        }
        let lowindex: usize = if flip_order {
            if x0 > x1 {
                0
            } else {
                1
            }
        } else if x1 > x0 {
            0
        } else {
            1
        };
        let (mut prev_alongx, mut prev_alongy, mut prev_length) = (0.0, 0.0, 0.0);
        let (mut prev_rightx, mut prev_righty) = (0.0, 0.0);
        if !overwrite && !segment_start {
            prev_alongx = x0 - xm;
            prev_alongy = y0 - ym;
            prev_length = (prev_alongx * prev_alongx + prev_alongy * prev_alongy).sqrt();
            if prev_length > 0.0 {
                prev_alongx /= prev_length;
                prev_alongy /= prev_length;
                prev_rightx = prev_alongy;
                prev_righty = -prev_alongx;
            } else {
                overwrite = true;
            }
        }
        let ystart = clamp_floor(b[4 + lowindex].ceil(), ymax);
        let yend = clamp_floor(b[4 + (lowindex + 2) % 4].floor(), ymax);
        let (mut ll, mut rl) = (lowindex, lowindex);
        let mut lu = (ll + 1) % 4;
        let mut ru = (rl + 3) % 4;
        let inner = 0.5 * (line_width - aa);
        for y in ystart..=yend {
            let yf = y as f64;
            if ll == lowindex && yf > b[4 + lu] {
                ll = lu;
                lu = (ll + 1) % 4;
            }
            if rl == lowindex && yf > b[4 + ru] {
                rl = ru;
                ru = (rl + 3) % 4;
            }
            let xleft = clamp_floor(
                x_intercept(yf, b[ll], b[4 + ll], b[lu], b[4 + lu]).ceil(),
                xmax,
            );
            let xright = clamp_floor(
                x_intercept(yf, b[rl], b[4 + rl], b[ru], b[4 + ru]).floor(),
                xmax,
            );
            for x in xleft..=xright {
                let xf = x as f64;
                let (dx, dy) = (xf - x0, yf - y0);
                let along = dx * alongx + dy * alongy;
                let mut prev_correction = false;
                let distance = if along < 0.0 {
                    // Before the start of the segment: a round join or cap.
                    if overwrite || segment_start || dx * prev_alongx + dy * prev_alongy > 0.0 {
                        (dx * dx + dy * dy).sqrt()
                    } else {
                        continue;
                    }
                } else if along > length {
                    // After its end.
                    if overwrite || segment_end {
                        let (ex, ey) = (xf - x1, yf - y1);
                        (ex * ex + ey * ey).sqrt()
                    } else {
                        continue;
                    }
                } else {
                    let prev_along = dx * prev_alongx + dy * prev_alongy;
                    if !overwrite
                        && !segment_start
                        && -prev_length <= prev_along
                        && prev_along <= 0.0
                        && (dx * prev_rightx + dy * prev_righty).abs() <= halfwidth
                    {
                        prev_correction = true;
                    }
                    (dx * rightx + dy * righty).abs()
                };
                let mut value = 1.0 - linearstep(inner, halfwidth, distance);
                value *= scale;
                let mut prev_value = 0.0;
                if prev_correction {
                    // The previous segment already set this pixel.
                    let prev_distance = (dx * prev_rightx + dy * prev_righty).abs();
                    prev_value = 1.0 - linearstep(inner, halfwidth, prev_distance);
                    prev_value *= scale;
                    if value <= prev_value {
                        value = 0.0;
                    }
                }
                if value > 0.0 {
                    let (xx, yy) = if flip_xy { (y, x) } else { (x, y) };
                    emit(AaPixel {
                        index: (yy as usize * self.r.width + xx as usize) as u32,
                        value,
                        prev: prev_value,
                    });
                }
            }
        }
    }
}

/// Datashader's `_clamp(math.ceil(v) or math.floor(v), 0, hi)` of an
/// already rounded `v`.
#[inline]
fn clamp_floor(v: f64, hi: i64) -> i64 {
    if v.is_nan() {
        return 0;
    }
    (v.clamp(i64::MIN as f64, i64::MAX as f64) as i64).clamp(0, hi)
}

/// Datashader's `_linearstep`.
#[inline]
fn linearstep(edge0: f64, edge1: f64, x: f64) -> f64 {
    ((x - edge0) / (edge1 - edge0)).clamp(0.0, 1.0)
}

/// Datashader's `_x_intercept`: where the edge `(cx0, cy0) -> (cx1, cy1)`
/// crosses height `y` (its right end when it is horizontal).
#[inline]
fn x_intercept(y: f64, cx0: f64, cy0: f64, cx1: f64, cy1: f64) -> f64 {
    if cy0 == cy1 {
        return cx1;
    }
    let frac = (y - cy0) / (cy1 - cy0);
    cx0 + frac * (cx1 - cx0)
}

/// A line walked vertex by vertex, drawing each segment once the vertex
/// after it is known (whether that one is NaN says whether the segment
/// ends the line), as Datashader's `perform_extend_line` does for the
/// segment between rows `i` and `i + 1`. Each vertex carries `T` (what its
/// row adds); a segment's pixels are emitted with its first vertex's.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AaLine<T: Copy> {
    /// The vertex before `a` (NaN when there is none).
    m: (f64, f64),
    a: (f64, f64),
    b: (f64, f64),
    pa: Option<T>,
    pb: Option<T>,
    /// Vertices seen so far (up to 3).
    seen: u8,
}

impl<T: Copy> Default for AaLine<T> {
    fn default() -> Self {
        AaLine::new()
    }
}

impl<T: Copy> AaLine<T> {
    pub(crate) fn new() -> AaLine<T> {
        let nan = (f64::NAN, f64::NAN);
        AaLine {
            m: nan,
            a: nan,
            b: nan,
            pa: None,
            pb: None,
            seen: 0,
        }
    }

    /// The segment `a -> b`: a line starts with it at its first vertex or
    /// after a NaN one.
    fn draw(&self, r: &AaRaster, end: bool, emit: &mut impl FnMut(&T, AaPixel)) {
        let Some(pa) = &self.pa else { return };
        let start = self.seen < 3 || self.m.0.is_nan() || self.m.1.is_nan();
        r.segment(start, end, self.a, self.b, self.m, &mut |px| emit(pa, px));
    }

    /// The next vertex: draws the segment that ends at the previous one.
    #[inline]
    pub(crate) fn push(
        &mut self,
        r: &AaRaster,
        v: (f64, f64),
        payload: T,
        emit: &mut impl FnMut(&T, AaPixel),
    ) {
        if self.seen >= 2 {
            self.draw(r, v.0.is_nan() || v.1.is_nan(), emit);
        }
        self.m = self.a;
        self.a = self.b;
        self.b = v;
        self.pa = self.pb;
        self.pb = Some(payload);
        self.seen = (self.seen + 1).min(3);
    }

    /// The line is over: draws its last segment and starts afresh.
    pub(crate) fn finish(&mut self, r: &AaRaster, emit: &mut impl FnMut(&T, AaPixel)) {
        if self.seen >= 2 {
            self.draw(r, true, emit);
        }
        *self = AaLine::new();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raster(w: usize, h: usize, lw: f64, overwrite: bool) -> AaRaster {
        let g = Geometry::new(
            w,
            h,
            (0.0, w as f64),
            (0.0, h as f64),
            AxisKind::Linear,
            AxisKind::Linear,
        );
        AaRaster::new(&g, lw, overwrite)
    }

    fn pixels(r: &AaRaster, vs: &[(f64, f64)]) -> Vec<AaPixel> {
        let mut out = Vec::new();
        let mut line = AaLine::new();
        let mut emit = |_: &(), p| out.push(p);
        for &v in vs {
            line.push(r, v, (), &mut emit);
        }
        line.finish(r, &mut emit);
        out
    }

    #[test]
    fn a_horizontal_line_covers_its_row_fully_and_its_neighbours_by_distance() {
        // Through pixel centres of row 5 (y = 5.5 in data units).
        let r = raster(20, 11, 1.0, true);
        let px = pixels(&r, &[(2.5, 5.5), (15.5, 5.5)]);
        let on_row: Vec<_> = px.iter().filter(|p| p.index / 20 == 5).collect();
        assert!(on_row.iter().all(|p| p.value == 1.0 && p.prev == 0.0));
        // Columns 2..=15 along the segment, plus the round caps: distance
        // 1 from the ends gives 0, so the caps add nothing in row 5.
        assert_eq!(on_row.len(), 14);
        // Rows 4 and 6 are a whole pixel away: coverage 0, not drawn.
        assert!(px.iter().all(|p| p.index / 20 == 5));
    }

    #[test]
    fn a_thin_line_is_one_pixel_wide_at_lower_intensity() {
        let r = raster(20, 11, 0.25, true);
        let px = pixels(&r, &[(2.5, 5.5), (15.5, 5.5)]);
        assert!(!px.is_empty());
        assert!(px.iter().all(|p| p.value == 0.25));
    }

    #[test]
    fn corrected_joins_report_the_previous_segments_coverage() {
        let r = raster(30, 30, 2.0, false);
        let px = pixels(&r, &[(3.2, 3.1), (15.3, 14.7), (27.1, 4.9)]);
        // Some pixel at the join is drawn by both segments, the second
        // time with the first one's coverage to subtract.
        assert!(px.iter().any(|p| p.prev > 0.0 && p.value > p.prev));
        // Every reported coverage is in (0, 1].
        assert!(px.iter().all(|p| p.value > 0.0 && p.value <= 1.0));
    }

    #[test]
    fn nan_vertices_break_the_line_and_segments_off_canvas_draw_nothing() {
        let r = raster(20, 20, 1.0, false);
        let nan = f64::NAN;
        assert!(pixels(&r, &[(1.5, 1.5), (nan, 3.0), (5.5, 5.5)]).is_empty());
        assert!(pixels(&r, &[(-10.0, -5.0), (-1.0, -3.0)]).is_empty());
        let one = pixels(&r, &[(1.5, 1.5), (8.5, 1.5)]);
        let broken = pixels(&r, &[(1.5, 1.5), (8.5, 1.5), (nan, nan), (1.5, 10.5)]);
        assert_eq!(&broken[..one.len()], &one[..]);
    }
}
