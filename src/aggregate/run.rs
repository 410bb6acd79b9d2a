//! Planning and running an aggregation over a [`Source`] on all cores.
//!
//! The input is cut into work units (row groups, split at a fixed row
//! count) in row order; row groups whose statistics put them outside the
//! canvas are skipped. Two strategies keep results identical on one thread
//! or many, byte for byte:
//!
//! - `count` and `any` (also per category) are exact and commutative: each
//!   worker folds units into one canvas of its own and the canvases are
//!   summed at the end;
//! - every other reduction is order-sensitive in its last bits: units are
//!   folded into groups of consecutive units whose size depends only on the
//!   data and canvas, groups run in parallel, and their partials merge
//!   strictly in row order.
//!
//! At most one canvas per worker is alive at a time, so memory is bounded by
//! the canvas size and the thread count, never by the row count.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};

use rayon::prelude::*;

use super::antialias::{AaLine, AaPixel, AaRaster};
use super::canvas::{AggValues, Aggregate};
use super::device::Device;
use super::error::AggError;
use super::geometry::{expand_bounds, AxisKind, Geometry, NO_PIXEL};
#[cfg(feature = "gpu")]
use super::gpu::{self, FixedScale, Gpu, GpuError, GpuOptions, PointChunk};
use super::kernel;
use super::line::{
    self, GeometryKernel, LineEnds, LineRaster, PixelRun, Trapezoid, UnitLine, Vertex, VertexBase,
};
use super::mercator;
use super::partial::{pick_key, spec_state_bytes_per_cell, AaRule, Partial, NO_CELL};
use super::reduction::{AggDtype, ReductionKind, ReductionSpec, SpecError};
use super::splat::{PointShape, Splat, SplatBuf, SplatPoints};
use super::wire::{AggregateSpec, PartialAggregate, Shard, ShardCoverage};
use crate::source::{
    auto_range, decode_geometry, geometry_range, list_to_f64, numeric_to_f64, range_from_metadata,
    Categorizer, CategoryMap, GeometryBuf, GeometryKind, Source, SourceError, Unit, UnitReader,
    BATCH_ROWS, UNIT_ROWS,
};

/// Partials of finished groups waiting to be merged in group order.
#[derive(Default)]
struct OrderedMerge {
    next: usize,
    pending: BTreeMap<usize, Partial>,
    total: Option<Partial>,
    error: Option<AggError>,
    /// Merged partials, emptied, for reuse: no fresh canvas per group.
    free: Vec<Partial>,
}

/// Reusable per-worker buffers.
#[derive(Debug, Default)]
pub struct Scratch {
    pix: Vec<u32>,
    codes: Vec<u32>,
    values: Vec<f64>,
    /// The lookup column of a `where`.
    lookups: Vec<f64>,
    projected: [Vec<f64>; 2],
    /// A line's vertex coordinates: `[x, y]` per vertex (or line).
    vertices: Vec<[CoordBuf; 2]>,
    row_lines: RowLineState,
    /// Antialiased lines, two-stage: one line's partial and the cells it
    /// touched.
    aa_line: Option<Partial>,
    aa_cells: Vec<u32>,
    /// A batch of geometries.
    geometry: GeometryBuf,
    /// Points with a radius: their coordinates, and the cells they cover.
    splat_xy: [Vec<f64>; 2],
    splat: SplatBuf,
}

/// The rows of a batch handed to a kernel: consecutive from a first row,
/// or one per cell (points with a radius, which cover several cells).
#[derive(Debug, Clone, Copy)]
enum Rows<'a> {
    From(u64),
    Each(&'a [u64]),
    /// Runs of cells `(first, count)`, `stride` apart, one value each (the
    /// values given): points with a radius, for reductions that take one
    /// value per point and no row. The cells handed over are empty.
    Runs(&'a [(u32, u32)], usize),
}

impl Rows<'_> {
    /// Add the batch to `p`.
    fn accumulate(
        self,
        p: &mut Partial,
        cells: &[u32],
        values: Option<&[f64]>,
        lookups: Option<&[f64]>,
    ) {
        match self {
            Rows::From(row) => p.accumulate_with_lookup(row, cells, values, lookups),
            Rows::Each(rows) => p.accumulate_rows_with_lookup(rows, cells, values, lookups),
            Rows::Runs(runs, stride) => p.accumulate_runs(runs, stride, values),
        }
    }
}

/// Per row of a unit of row lines: what the row adds, its last vertex
/// drawn so far and whether the vertex before that one is NaN.
#[derive(Debug, Default)]
struct RowLineState {
    values: Vec<f64>,
    planes: Vec<u32>,
    prev: [Vec<f64>; 2],
    /// The last vertex's pixel where it needs no clipping
    /// ([`LineRaster::snap_inside`]), else [`NOT_SNAPPED`].
    snapped: Vec<(i64, i64)>,
    before_nan: Vec<bool>,
    /// For row areas: the last vertex's y of the line filled to.
    to: Vec<f64>,
}

/// A vertex [`LineRaster::snap_inside`] did not snap.
const NOT_SNAPPED: (i64, i64) = (i64::MIN, i64::MIN);

/// Vertices of row lines whose columns are decoded together.
const ROW_LINE_BAND: usize = 8;

/// One coordinate of a line's vertices over a batch: a column's values
/// as `f64`, one constant, or a list column's values with each row's
/// offsets.
#[derive(Debug, Default)]
pub(crate) struct CoordBuf {
    values: Vec<f64>,
    constant: Option<f64>,
    /// For lists: where each row's values start in `values` (one more than
    /// the rows).
    offsets: Vec<usize>,
}

impl CoordBuf {
    /// Row `k`'s coordinate.
    #[inline(always)]
    fn at(&self, k: usize) -> f64 {
        match self.constant {
            Some(c) => c,
            None => self.values.get(k).copied().unwrap_or(f64::NAN),
        }
    }

    /// Row `k`'s list.
    fn list(&self, k: usize) -> &[f64] {
        match (self.offsets.get(k), self.offsets.get(k + 1)) {
            (Some(&lo), Some(&hi)) => self.values.get(lo..hi).unwrap_or(&[]),
            _ => &[],
        }
    }

    /// Hold constant `coord` (a column holds nothing here), projected by
    /// `project`.
    fn set_constant(&mut self, coord: &Coord, project: Option<fn(f64) -> f64>) {
        self.values.clear();
        let c = match coord {
            Coord::Constant(v) => *v,
            Coord::Column(_) => f64::NAN,
        };
        self.constant = Some(project.map_or(c, |f| f(c)));
    }

    /// Project the coordinates.
    fn map(&mut self, project: fn(f64) -> f64) {
        self.values.iter_mut().for_each(|v| *v = project(*v));
        if let Some(c) = &mut self.constant {
            *c = project(*c);
        }
    }

    /// Take `coord` of `batch` (read from the input labelled `label`).
    fn fill(
        &mut self,
        batch: &arrow_array::RecordBatch,
        coord: &Coord,
        list: bool,
        label: &str,
    ) -> Result<(), AggError> {
        self.values.clear();
        self.constant = None;
        let name = match coord {
            Coord::Constant(v) => {
                self.constant = Some(*v);
                return Ok(());
            }
            Coord::Column(name) => name,
        };
        let a = batch_column(batch, name, label)?;
        let ok = if list {
            list_to_f64(a.as_ref(), &mut self.offsets, &mut self.values)
        } else {
            numeric_to_f64(a.as_ref(), &mut self.values)
        };
        if ok {
            return Ok(());
        }
        let (path, column, found) = (
            label.to_string(),
            name.to_string(),
            a.data_type().to_string(),
        );
        Err(if list {
            SourceError::NotNumericList {
                path,
                column,
                found,
            }
        } else {
            SourceError::NotNumeric {
                path,
                column,
                found,
            }
        }
        .into())
    }
}

/// Rows per work unit for [`Glyph::RowLines`].
const ROW_LINE_UNIT_ROWS: usize = 1 << 15;

/// Default memory budget for aggregation state (all partials in flight).
pub const DEFAULT_MEMORY_BUDGET: u64 = 4 << 30;

/// What to aggregate: canvas, columns and reduction.
///
/// Start from [`AggregateRequest::new`] and set what differs, with the
/// `with_*` builders or the public fields:
///
/// ```
/// use pointillist::aggregate::{AggregateRequest, AxisKind, ReductionSpec, ReductionKind};
///
/// let req = AggregateRequest::new(800, 600)
///     .with_columns("lon", "lat")
///     .with_x_range(-180.0, 180.0)
///     .with_y_axis(AxisKind::Linear)
///     .with_reduction(ReductionSpec::of(ReductionKind::Mean, "fare"));
/// assert_eq!(req.x_range, Some((-180.0, 180.0)));
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct AggregateRequest {
    /// Column of x coordinates.
    pub x: String,
    /// Column of y coordinates.
    pub y: String,
    /// Canvas width in pixels.
    pub width: usize,
    /// Canvas height in pixels.
    pub height: usize,
    /// x range (inclusive); `None` = from the data.
    pub x_range: Option<(f64, f64)>,
    /// y range (inclusive); `None` = from the data.
    pub y_range: Option<(f64, f64)>,
    /// x axis mapping.
    pub x_axis: AxisKind,
    /// y axis mapping.
    pub y_axis: AxisKind,
    /// The reduction.
    pub reduction: ReductionSpec,
    /// Categories in plane order for categorical reductions; `None` = the
    /// sorted distinct values of the category column.
    pub categories: Option<Vec<String>>,
    /// Bytes the aggregation state may take.
    pub memory_budget: u64,
    /// The x and y columns hold longitude and latitude in degrees: project
    /// them to Web Mercator metres ([`super::mercator`]) before binning.
    /// Ranges are then in metres.
    pub lnglat: bool,
    /// Drop points exactly on the upper x edge (`x_range.1`): for tiles,
    /// whose shared edges belong to one tile only.
    pub x_upper_open: bool,
    /// Drop points exactly on the upper y edge (`y_range.1`).
    pub y_upper_open: bool,
    /// Where to aggregate ([`Device::Cpu`] unless asked: float sums can
    /// differ from the CPU's in the last bits, see the `gpu` module).
    pub device: Device,
    /// Read only this shard's share of the input ([`Shard::owns`]), for
    /// one job of many; ranges and categories must then come from the
    /// request or from Parquet metadata that every shard reads alike.
    pub shard: Option<Shard>,
    /// What each row draws: a point, a vertex of one line, or a line.
    pub glyph: Glyph,
    /// For lines: the coordinates of each vertex of a row
    /// ([`Glyph::RowLines`], at least two) or of each line down the rows
    /// ([`Glyph::Line`], columns only). Empty: `(x, y)` alone.
    pub vertices: Vec<(Coord, Coord)>,
    /// For [`Glyph::Area`]: the column of the line each area is filled to
    /// (Datashader's `y_stack`), one per area; empty fills to `y = 0`.
    pub y_stacks: Vec<String>,
    /// For [`Glyph::RowAreas`]: each vertex's y on the line filled to
    /// (columns or constants), one per vertex; empty fills to `y = 0`.
    pub row_area_stacks: Vec<Coord>,
    /// For lines: antialiased strokes this many pixels wide (Datashader's
    /// `line_width`; `antialias=True` is 1). 0 draws Datashader's plain
    /// one-pixel lines. `count` and `any` are then `float32` coverage.
    pub line_width: f64,
    /// For antialiased `count` and `sum`: whether a line that crosses
    /// itself adds where it crosses (Datashader's `self_intersect`, true
    /// by default). False aggregates each line on its own first (its
    /// largest coverage per pixel) and then adds the lines, as `min`,
    /// `first` and `last` always do.
    pub self_intersect: bool,
    /// For lines and areas down the rows ([`Glyph::Line`], [`Glyph::Area`]):
    /// draw only the segments (trapezoids) that end at this row position or
    /// later. The rows before it lead in: a partition of a larger input,
    /// given the previous partitions' last two rows first (a Dask
    /// partition), draws the segment that crosses into it, with its start
    /// pixel where a line starts there, exactly once, and nothing the
    /// previous partition draws. 0 draws everything.
    pub draw_from_row: u64,
    /// Lines and areas down the rows: draw only the segments that end
    /// before this row position. The rows from it on trail out: a Dask
    /// partition given the next partition's first row after its own (what
    /// an antialiased segment needs to know whether it ends the line)
    /// draws none of the next partition's segments. `u64::MAX` (the
    /// default) draws to the end.
    pub draw_until_row: u64,
    /// For line geometries ([`Glyph::GeometryLines`]): which of
    /// Datashader's kernels to match (spatialpandas' by default).
    pub geometry_kernel: GeometryKernel,
    /// For points: each point covers the pixels whose centres lie within
    /// this many pixels of it ([`PointShape`] says how), for every reduction. 0
    /// (the default) is Datashader's one pixel per point.
    pub point_radius: f64,
    /// For points with a radius: a disc or a square.
    pub point_shape: PointShape,
    /// For a categorical reduction over a column with more categories than
    /// this: keep the ones with the most rows on the canvas (ties to the
    /// earlier category), in their category order, and fold the others
    /// (and nulls) into a last plane labelled [`OTHER_CATEGORY`]. Memory
    /// then grows with `top_categories + 1` planes, not with the column's
    /// categories; finding them costs one more pass over the x, y and
    /// category columns. `None` (the default) keeps every category, one
    /// plane each, as Datashader does.
    pub top_categories: Option<usize>,
}

/// The label of the plane that [`AggregateRequest::top_categories`] folds
/// the other categories into. Sharded runs, which must list their
/// categories, fold the same way by listing this label last: rows of an
/// unlisted category land in the last plane.
pub const OTHER_CATEGORY: &str = "(other)";

/// Where a coordinate of a line's vertices comes from.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Coord {
    /// A numeric column.
    Column(String),
    /// One value for every row: Datashader's `axis=1` lines with a NumPy
    /// array for x (or y), the same coordinate for each row's k-th vertex.
    Constant(f64),
}

impl Coord {
    /// The column, if the coordinate is one.
    pub fn column(&self) -> Option<&str> {
        match self {
            Coord::Column(c) => Some(c),
            Coord::Constant(_) => None,
        }
    }
}

impl From<&str> for Coord {
    fn from(c: &str) -> Coord {
        Coord::Column(c.to_string())
    }
}

impl From<f64> for Coord {
    fn from(v: f64) -> Coord {
        Coord::Constant(v)
    }
}

/// What the rows of the input draw.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Glyph {
    /// Each row is a point (Datashader's `Canvas.points`).
    #[default]
    Points,
    /// The rows are the vertices of one line, in row order, broken where
    /// x or y is NaN or null (Datashader's `Canvas.line` with `axis=0`);
    /// with several column pairs ([`AggregateRequest::with_lines`]), one
    /// such line per pair, drawn one after the other. Each segment adds
    /// its first row's value to the pixels it crosses.
    Line,
    /// Each row is one line through its vertices,
    /// [`AggregateRequest::vertices`] in order, broken
    /// where a vertex is NaN or null (Datashader's `Canvas.line` with lists
    /// of columns and `axis=1`; two vertices per row draw
    /// origin-destination segments). Each segment adds the row's value.
    /// A coordinate may be a constant shared by every row
    /// ([`Coord::Constant`]).
    RowLines,
    /// Each row is one line through the values of its lists in list
    /// columns x and y (Arrow `List`, `LargeList` or `FixedSizeList` of
    /// numbers; Datashader's ragged `axis=1` lines): vertex k is `(x[k],
    /// y[k])`, the shorter list sets how many, and a NaN or null vertex
    /// breaks the line.
    RaggedLines,
    /// The rows are the vertices of one line, in row order, and the area
    /// between it and `y = 0` (or the line through
    /// [`AggregateRequest::y_stacks`]) is filled, trapezoid by trapezoid
    /// (Datashader's `Canvas.area` with `axis=0`); a NaN or null vertex
    /// breaks it; with several column pairs
    /// ([`AggregateRequest::with_areas`]), one such area per pair. Each
    /// trapezoid adds its first row's value. Drawn on one thread, in row
    /// order.
    Area,
    /// Each row is one area: the line through its vertices
    /// ([`AggregateRequest::vertices`], columns or constants) filled to
    /// `y = 0` or to the line through [`AggregateRequest::row_area_stacks`]
    /// (Datashader's `Canvas.area` with `axis=1`). Each trapezoid adds the
    /// row's value.
    RowAreas,
    /// Each row is one area through the values of its lists in list
    /// columns x and y, filled to `y = 0` or to the list in the column
    /// [`AggregateRequest::y_stacks`] names (Datashader's `Canvas.area`
    /// with ragged `axis=1` columns); the shortest list sets how many
    /// vertices. Each trapezoid adds the row's value.
    RaggedAreas,
    /// Each row is a line geometry: a LineString, MultiLineString,
    /// Polygon or MultiPolygon (a polygon's rings drawn as closed lines) in
    /// the column [`AggregateRequest::with_geometry_lines`] names, GeoArrow
    /// or WKB (Datashader's `Canvas.line(source, geometry=...)`). Each
    /// segment adds the row's value; a NaN vertex breaks a line.
    GeometryLines,
}

impl Glyph {
    /// The glyph's name, as the CLI spells it.
    pub fn name(self) -> &'static str {
        match self {
            Glyph::Points => "points",
            Glyph::Line => "line",
            Glyph::RowLines => "row-lines",
            Glyph::RaggedLines => "ragged-lines",
            Glyph::Area => "area",
            Glyph::RowAreas => "row-areas",
            Glyph::RaggedAreas => "ragged-areas",
            Glyph::GeometryLines => "geometry-lines",
        }
    }
}

impl AggregateRequest {
    /// A `count` over columns `x` and `y` on a `width x height` canvas with
    /// ranges from the data.
    pub fn new(width: usize, height: usize) -> AggregateRequest {
        AggregateRequest {
            x: "x".into(),
            y: "y".into(),
            width,
            height,
            x_range: None,
            y_range: None,
            x_axis: AxisKind::Linear,
            y_axis: AxisKind::Linear,
            reduction: ReductionSpec::count(),
            categories: None,
            memory_budget: DEFAULT_MEMORY_BUDGET,
            lnglat: false,
            x_upper_open: false,
            y_upper_open: false,
            device: Device::Cpu,
            shard: None,
            glyph: Glyph::Points,
            vertices: Vec::new(),
            y_stacks: Vec::new(),
            row_area_stacks: Vec::new(),
            line_width: 0.0,
            self_intersect: true,
            draw_from_row: 0,
            draw_until_row: u64::MAX,
            geometry_kernel: GeometryKernel::SpatialPandas,
            point_radius: 0.0,
            point_shape: PointShape::Circle,
            top_categories: None,
        }
    }

    /// Keep the `k` categories with the most rows on the canvas and fold
    /// the others into [`OTHER_CATEGORY`]
    /// ([`AggregateRequest::top_categories`]).
    ///
    /// ```
    /// use pointillist::aggregate::{aggregate, AggregateRequest, ReductionSpec};
    /// use pointillist::source::Source;
    ///
    /// let req = AggregateRequest::new(40, 30).with_reduction(ReductionSpec::count().by("cat"));
    /// let agg = aggregate(&Source::sample()?, &req.with_top_categories(2))?;
    /// let cats = agg.categories.expect("categorical");
    /// assert_eq!(cats.len(), 3); // the two largest of the sample's five, then "(other)"
    /// assert_eq!(cats[2], "(other)");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_top_categories(mut self, k: usize) -> Self {
        self.top_categories = Some(k);
        self
    }

    /// Points that cover every pixel whose centre lies within `radius`
    /// pixels of them ([`AggregateRequest::point_radius`]).
    ///
    /// ```
    /// use pointillist::aggregate::{aggregate, AggValues, AggregateRequest};
    /// use pointillist::source::Source;
    ///
    /// let s = Source::sample()?;
    /// let dots = aggregate(&s, &AggregateRequest::new(80, 60))?;
    /// let discs = aggregate(&s, &AggregateRequest::new(80, 60).with_point_radius(2.0))?;
    /// let (AggValues::U32(a), AggValues::U32(b)) = (&dots.values, &discs.values) else {
    ///     unreachable!("counts")
    /// };
    /// // Each point now counts in about pi r^2 = 12.6 pixels (fewer at the edges).
    /// assert!(b.iter().sum::<u32>() > 10 * a.iter().sum::<u32>());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_point_radius(mut self, radius: f64) -> Self {
        self.point_radius = radius;
        self
    }

    /// The shape of points with a radius ([`AggregateRequest::point_shape`]).
    pub fn with_point_shape(mut self, shape: PointShape) -> Self {
        self.point_shape = shape;
        self
    }

    /// Antialiased lines `width` pixels wide ([`AggregateRequest::line_width`]).
    ///
    /// ```
    /// use pointillist::aggregate::{aggregate, AggValues, AggregateRequest};
    /// use pointillist::source::Source;
    ///
    /// // The sample's rows as the vertices of one line, 2.5 pixels wide.
    /// let req = AggregateRequest::new(80, 60).with_lines(&["x"], &["y"]).with_line_width(2.5);
    /// let agg = aggregate(&Source::sample()?, &req)?;
    /// let AggValues::F32(coverage) = &agg.values else { unreachable!("float32") };
    /// assert!(coverage.iter().any(|c| c.fract() != 0.0)); // partly covered pixels
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_line_width(mut self, width: f64) -> Self {
        self.line_width = width;
        self
    }

    /// Whether antialiased `count`/`sum` add where a line crosses itself
    /// ([`AggregateRequest::self_intersect`]).
    pub fn with_self_intersect(mut self, self_intersect: bool) -> Self {
        self.self_intersect = self_intersect;
        self
    }

    /// One area per row through `vertices` in order (columns or
    /// constants), filled to `y = 0` or, where `y_stacks` is not empty, to
    /// the line through `(x_k, y_stacks[k])` (Datashader's `axis=1`
    /// areas): [`Glyph::RowAreas`].
    pub fn with_row_areas(
        mut self,
        vertices: impl IntoIterator<Item = (Coord, Coord)>,
        y_stacks: impl IntoIterator<Item = Coord>,
    ) -> Self {
        self.vertices = vertices.into_iter().collect();
        self.row_area_stacks = y_stacks.into_iter().collect();
        self.name_first_columns();
        self.glyph = Glyph::RowAreas;
        self
    }

    /// Fill the area under the line down the rows through columns `x` and
    /// `y`, to `y = 0` or to the line through column `y_stack`:
    /// [`Glyph::Area`].
    ///
    /// ```
    /// use pointillist::aggregate::{AggregateRequest, Glyph};
    ///
    /// let req = AggregateRequest::new(800, 600).with_area("t", "high", Some("low"));
    /// assert_eq!((req.glyph, req.y_stacks.len()), (Glyph::Area, 1));
    /// ```
    pub fn with_area(self, x: &str, y: &str, y_stack: Option<&str>) -> Self {
        let stacks: Vec<&str> = y_stack.into_iter().collect();
        self.with_areas(&[x], &[y], &stacks)
    }

    /// One area per column pair `(xs[k], ys[k])`, each filled to `y = 0`
    /// or, where `y_stacks` is not empty, to the line through
    /// `y_stacks[k]` (Datashader's `axis=0` areas with lists of columns):
    /// [`Glyph::Area`].
    pub fn with_areas(mut self, xs: &[&str], ys: &[&str], y_stacks: &[&str]) -> Self {
        self.vertices = column_pairs(xs, ys);
        self.name_first_columns();
        self.y_stacks = y_stacks.iter().map(|s| s.to_string()).collect();
        self.glyph = Glyph::Area;
        self
    }

    /// Draw one line per row through the vertices `(xs[k], ys[k])` (at
    /// least two; the shorter list sets how many, as `zip` does, so give
    /// lists of one length, which the CLI and Python check):
    /// [`Glyph::RowLines`].
    ///
    /// ```
    /// use pointillist::aggregate::{AggregateRequest, Glyph};
    ///
    /// let req = AggregateRequest::new(800, 600).with_row_lines(&["ox", "dx"], &["oy", "dy"]);
    /// assert_eq!(req.glyph, Glyph::RowLines);
    /// assert_eq!((req.x.as_str(), req.y.as_str()), ("ox", "oy"));
    /// ```
    pub fn with_row_lines(self, xs: &[&str], ys: &[&str]) -> Self {
        self.with_row_line_coords(column_pairs(xs, ys))
    }

    /// Draw one line per row through `vertices` in order, each coordinate
    /// a column or a constant shared by every row (at least two vertices):
    /// [`Glyph::RowLines`]. Wide time series whose columns are the samples
    /// at times `t0, t1, ...` are `(Coord::Constant(t_k), Coord::Column(y_k))`.
    ///
    /// ```
    /// use pointillist::aggregate::{AggregateRequest, Coord, Glyph};
    ///
    /// let times = [0.0, 1.0, 2.0];
    /// let series = ["s0", "s1", "s2"];
    /// let req = AggregateRequest::new(800, 600).with_row_line_coords(
    ///     times.iter().zip(series).map(|(&t, s)| (Coord::from(t), Coord::from(s))),
    /// );
    /// assert_eq!(req.vertices.len(), 3);
    /// ```
    pub fn with_row_line_coords(
        mut self,
        vertices: impl IntoIterator<Item = (Coord, Coord)>,
    ) -> Self {
        self.vertices = vertices.into_iter().collect();
        self.name_first_columns();
        self.glyph = Glyph::RowLines;
        self
    }

    /// Draw one line down the rows per column pair `(xs[k], ys[k])`, each
    /// broken where its x or y is NaN or null (Datashader's `axis=0` with
    /// lists of columns): [`Glyph::Line`].
    ///
    /// ```
    /// use pointillist::aggregate::{AggregateRequest, Glyph};
    ///
    /// let req = AggregateRequest::new(800, 600).with_lines(&["t", "t"], &["a", "b"]);
    /// assert_eq!((req.glyph, req.vertices.len()), (Glyph::Line, 2));
    /// ```
    pub fn with_lines(mut self, xs: &[&str], ys: &[&str]) -> Self {
        self.vertices = column_pairs(xs, ys);
        self.name_first_columns();
        self.glyph = Glyph::Line;
        self
    }

    /// Fill one area per row through the lists in list columns `x` and
    /// `y`, to `y = 0` or to the list in column `y_stack`:
    /// [`Glyph::RaggedAreas`].
    pub fn with_ragged_areas(mut self, x: &str, y: &str, y_stack: Option<&str>) -> Self {
        self.x = x.to_string();
        self.y = y.to_string();
        self.vertices.clear();
        self.y_stacks = y_stack.map(str::to_string).into_iter().collect();
        self.glyph = Glyph::RaggedAreas;
        self
    }

    /// Draw each row's line geometry in column `column` (GeoArrow or WKB
    /// LineString, MultiLineString, Polygon or MultiPolygon):
    /// [`Glyph::GeometryLines`].
    ///
    /// ```
    /// use pointillist::aggregate::{AggregateRequest, Glyph};
    ///
    /// let req = AggregateRequest::new(800, 600).with_geometry_lines("geometry");
    /// assert_eq!(req.glyph, Glyph::GeometryLines);
    /// ```
    pub fn with_geometry_lines(mut self, column: &str) -> Self {
        self.x = column.to_string();
        self.y = column.to_string();
        self.vertices = vec![(Coord::from(column), Coord::from(column))];
        self.glyph = Glyph::GeometryLines;
        self
    }

    /// Match Datashader's `kernel` for line geometries
    /// ([`AggregateRequest::geometry_kernel`]).
    pub fn with_geometry_kernel(mut self, kernel: GeometryKernel) -> Self {
        self.geometry_kernel = kernel;
        self
    }

    /// Draw one line per row through the lists in list columns `x` and `y`:
    /// [`Glyph::RaggedLines`].
    pub fn with_ragged_lines(mut self, x: &str, y: &str) -> Self {
        self.x = x.to_string();
        self.y = y.to_string();
        self.vertices.clear();
        self.glyph = Glyph::RaggedLines;
        self
    }

    /// `x` and `y` name the first vertex's columns, where they are columns.
    fn name_first_columns(&mut self) {
        if let Some((x, y)) = self.vertices.first() {
            if let Some(x) = x.column() {
                self.x = x.to_string();
            }
            if let Some(y) = y.column() {
                self.y = y.to_string();
            }
        }
    }

    /// Draw `glyph` for the rows (points unless asked).
    pub fn with_glyph(mut self, glyph: Glyph) -> Self {
        self.glyph = glyph;
        self
    }

    /// Take x and y from columns `x` and `y`.
    pub fn with_columns(mut self, x: &str, y: &str) -> Self {
        self.x = x.to_string();
        self.y = y.to_string();
        self
    }

    /// Cover x from `lo` to `hi` (inclusive) instead of the data's range.
    pub fn with_x_range(mut self, lo: f64, hi: f64) -> Self {
        self.x_range = Some((lo, hi));
        self
    }

    /// Cover y from `lo` to `hi` (inclusive) instead of the data's range.
    pub fn with_y_range(mut self, lo: f64, hi: f64) -> Self {
        self.y_range = Some((lo, hi));
        self
    }

    /// Map x linearly or logarithmically.
    pub fn with_x_axis(mut self, kind: AxisKind) -> Self {
        self.x_axis = kind;
        self
    }

    /// Map y linearly or logarithmically.
    pub fn with_y_axis(mut self, kind: AxisKind) -> Self {
        self.y_axis = kind;
        self
    }

    /// Compute `reduction` per pixel (and per category when it has `by`).
    pub fn with_reduction(mut self, reduction: ReductionSpec) -> Self {
        self.reduction = reduction;
        self
    }

    /// Use these categories, in plane order, instead of the column's
    /// sorted distinct values.
    pub fn with_categories<S: Into<String>>(mut self, labels: impl IntoIterator<Item = S>) -> Self {
        self.categories = Some(labels.into_iter().map(Into::into).collect());
        self
    }

    /// Let the aggregation state take at most `bytes`.
    pub fn with_memory_budget(mut self, bytes: u64) -> Self {
        self.memory_budget = bytes;
        self
    }

    /// Treat x/y as longitude/latitude and project them to Web Mercator.
    pub fn with_lnglat(mut self, lnglat: bool) -> Self {
        self.lnglat = lnglat;
        self
    }

    /// Aggregate on `device`.
    pub fn with_device(mut self, device: Device) -> Self {
        self.device = device;
        self
    }

    /// Read only `shard`'s share of the input.
    pub fn with_shard(mut self, shard: Shard) -> Self {
        self.shard = Some(shard);
        self
    }

    /// Draw only the segments of lines down the rows that end at row
    /// position `row` or later ([`AggregateRequest::draw_from_row`]).
    pub fn with_draw_from_row(mut self, row: u64) -> Self {
        self.draw_from_row = row;
        self
    }

    /// Draw only the segments of lines down the rows that end before row
    /// position `row` ([`AggregateRequest::draw_until_row`]).
    pub fn with_draw_until_row(mut self, row: u64) -> Self {
        self.draw_until_row = row;
        self
    }
}

/// What each row draws, apart from the canvas, the columns named by
/// [`AggregateRequest::x`]/[`AggregateRequest::y`] and the reduction: the
/// glyph, its vertices, the lines areas fill to, and the line width. A tile
/// layer ([`crate::tiles::TileLayer`]) keeps one to draw the same on every
/// tile.
///
/// ```
/// use pointillist::aggregate::{AggregateRequest, Glyph};
///
/// let od = AggregateRequest::new(1, 1).with_row_lines(&["ox", "dx"], &["oy", "dy"]);
/// let shape = od.glyph_spec();
/// assert_eq!(shape.glyph, Glyph::RowLines);
/// let tile = AggregateRequest::new(256, 256).with_glyph_spec(shape);
/// assert_eq!(tile.vertices.len(), 2);
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct GlyphSpec {
    /// [`AggregateRequest::glyph`].
    pub glyph: Glyph,
    /// [`AggregateRequest::vertices`].
    pub vertices: Vec<(Coord, Coord)>,
    /// [`AggregateRequest::y_stacks`].
    pub y_stacks: Vec<String>,
    /// [`AggregateRequest::row_area_stacks`].
    pub row_area_stacks: Vec<Coord>,
    /// [`AggregateRequest::line_width`].
    pub line_width: f64,
    /// [`AggregateRequest::self_intersect`].
    pub self_intersect: bool,
    /// [`AggregateRequest::geometry_kernel`].
    pub geometry_kernel: GeometryKernel,
    /// [`AggregateRequest::point_radius`].
    pub point_radius: f64,
    /// [`AggregateRequest::point_shape`].
    pub point_shape: PointShape,
}

impl Default for GlyphSpec {
    /// Points.
    fn default() -> Self {
        AggregateRequest::new(1, 1).glyph_spec()
    }
}

impl AggregateRequest {
    /// What this request draws ([`GlyphSpec`]).
    pub fn glyph_spec(&self) -> GlyphSpec {
        GlyphSpec {
            glyph: self.glyph,
            vertices: self.vertices.clone(),
            y_stacks: self.y_stacks.clone(),
            row_area_stacks: self.row_area_stacks.clone(),
            line_width: self.line_width,
            self_intersect: self.self_intersect,
            geometry_kernel: self.geometry_kernel,
            point_radius: self.point_radius,
            point_shape: self.point_shape,
        }
    }

    /// Draw what `spec` says (the glyph, vertices, stacks and line width;
    /// [`AggregateRequest::x`] and [`AggregateRequest::y`] are kept).
    pub fn with_glyph_spec(mut self, spec: GlyphSpec) -> Self {
        self.glyph = spec.glyph;
        self.vertices = spec.vertices;
        self.y_stacks = spec.y_stacks;
        self.row_area_stacks = spec.row_area_stacks;
        self.line_width = spec.line_width;
        self.self_intersect = spec.self_intersect;
        self.geometry_kernel = spec.geometry_kernel;
        self.point_radius = spec.point_radius;
        self.point_shape = spec.point_shape;
        if spec.glyph == Glyph::GeometryLines {
            if let Some(c) = self.vertices.first().and_then(|v| v.0.column()) {
                (self.x, self.y) = (c.to_string(), c.to_string());
            }
        }
        self
    }
}

/// Where a plan runs, once chosen ([`AggregationPlan::choose_engine`]).
///
/// An engine can also be made directly: [`Engine::Cpu`], or
/// [`Engine::Gpu`] on pointillist's device ([`Gpu::shared`]) or on one the
/// caller opened ([`Gpu::from_wgpu`]).
#[derive(Debug, Clone)]
pub enum Engine {
    /// The CPU kernels on the current rayon pool.
    Cpu,
    /// The GPU (with the `gpu` feature).
    #[cfg(feature = "gpu")]
    Gpu(std::sync::Arc<Gpu>),
}

/// The engine chosen for a run, and why, for `--verbose`.
#[derive(Debug, Clone)]
pub struct EngineChoice {
    /// The engine.
    pub engine: Engine,
    /// One line: the device used and, for `auto`, the reason.
    pub reason: String,
}

/// A validated aggregation: ranges and categories resolved.
#[derive(Debug, Clone)]
pub struct AggregationPlan {
    x: String,
    y: String,
    geometry: Geometry,
    kind: ReductionKind,
    value: Option<String>,
    by: Option<(String, CategoryMap)>,
    workers: usize,
    lnglat: bool,
    device: Device,
    spec: AggregateSpec,
    shard: Option<Shard>,
    glyph: Glyph,
    /// Every vertex (row lines) or line (lines down the rows): `(x, y)`
    /// alone for points and ragged lines; for areas, each vertex (or line)
    /// then what it is filled to.
    vertices: Vec<(Coord, Coord)>,
    /// Areas filled to another line (Datashader's `y_stack`), whose bottom
    /// edge's pixels are left to the area below.
    stacked: bool,
    /// Antialiased lines: their width in pixels (0: plain lines).
    line_width: f64,
    /// [`AggregateRequest::draw_from_row`].
    draw_from_row: u64,
    /// [`AggregateRequest::draw_until_row`].
    draw_until_row: u64,
    /// Antialiased lines aggregated line by line, then combined
    /// (Datashader's two-stage aggregation).
    aa_two_stage: bool,
    /// Antialiased segments each draw their caps, reductions keeping the
    /// largest coverage (Datashader's `overwrite`, when no reduction sums
    /// coverage within a line).
    aa_overwrite: bool,
    /// For line geometries: what the column holds, per file.
    geometry_kinds: Vec<GeometryKind>,
    geometry_kernel: GeometryKernel,
    /// Points with a radius.
    splat: Option<Splat>,
}

/// Columns `(xs[k], ys[k])` as vertex coordinates (the shorter list sets
/// how many, as `zip` does).
/// Datashader's `two_stage_agg` for antialiased lines: `min`, `first` and
/// `last` (and `count`/`sum` that do not self-intersect) aggregate line by
/// line, a pixel taking a line's largest coverage.
fn aa_two_stage(kind: ReductionKind, self_intersect: bool) -> bool {
    match kind {
        ReductionKind::Min | ReductionKind::First | ReductionKind::Last => true,
        ReductionKind::Count | ReductionKind::Sum => !self_intersect,
        _ => false,
    }
}

/// Advice for a canvas over the budget: a narrower dtype for reductions
/// that take one ([`AggDtype`]) and are held wider.
fn narrow_hint(spec: &ReductionSpec) -> String {
    let narrower = match spec.kind {
        ReductionKind::Count if spec.narrow_dtype() != Some(AggDtype::Uint8) => {
            match spec.narrow_dtype() {
                Some(_) => Some(AggDtype::Uint8),
                None => Some(AggDtype::Uint16),
            }
        }
        ReductionKind::Sum | ReductionKind::Min | ReductionKind::Max
            if spec.narrow_dtype().is_none() && spec.lookup.is_none() =>
        {
            Some(AggDtype::Float32)
        }
        _ => None,
    };
    narrower.map_or_else(String::new, |d| {
        let or = if spec.by.is_some() { "," } else { " or" };
        format!("{or} a {d} aggregate (end --agg in @{d})")
    })
}

/// The labels of the `k` categories of `map` with the most rows on the
/// canvas of `req` (ties to the earlier category), in `map`'s order: a
/// `count` by category on a 1 x 1 canvas over the same ranges, with one
/// more plane that catches the nulls so they count for no category.
fn largest_categories(
    source: &Source,
    req: &AggregateRequest,
    col: &str,
    map: &CategoryMap,
    k: usize,
) -> Result<Vec<String>, AggError> {
    let mut count = req.clone();
    (count.width, count.height) = (1, 1);
    count.top_categories = None;
    count.point_radius = 0.0;
    count.line_width = 0.0;
    count.device = Device::Cpu;
    count.reduction = ReductionSpec::count().by(col);
    count.categories = Some(map.labels().to_vec());
    let mut plan = AggregationPlan::new(source, &count)?;
    if let Some((_, m)) = &mut plan.by {
        *m = map.clone().with_catch_all(String::new());
        plan.spec.categories = Some(m.labels().to_vec());
    }
    let agg = plan.run(source)?;
    let AggValues::U32(rows) = agg.values else {
        return Ok(map.labels()[..k].to_vec());
    };
    let mut order: Vec<usize> = (0..map.len()).collect();
    order.sort_by(|&a, &b| rows[b].cmp(&rows[a]).then(a.cmp(&b)));
    let mut kept: Vec<usize> = order.into_iter().take(k).collect();
    kept.sort_unstable();
    Ok(kept.into_iter().map(|i| map.labels()[i].clone()).collect())
}

fn column_pairs(xs: &[&str], ys: &[&str]) -> Vec<(Coord, Coord)> {
    xs.iter()
        .zip(ys)
        .map(|(&x, &y)| (x.into(), y.into()))
        .collect()
}

fn check_range(axis: &'static str, r: (f64, f64), kind: AxisKind) -> Result<(), AggError> {
    let (lo, hi) = r;
    if !(lo.is_finite() && hi.is_finite() && lo < hi) {
        return Err(AggError::BadRange { axis, lo, hi });
    }
    if kind == AxisKind::Log && lo <= 0.0 {
        return Err(AggError::LogRange { axis, lo, hi });
    }
    Ok(())
}

/// The canvas range of `axis` over `coords` (several for lines:
/// Datashader's lowest minimum and highest maximum of the columns and
/// constants, NaN skipped, then expanded where degenerate).
fn resolve_range(
    source: &Source,
    axis: &'static str,
    coords: &[&Coord],
    given: Option<(f64, f64)>,
    kind: AxisKind,
    project: mercator::Projection,
    sharded: bool,
) -> Result<(f64, f64), AggError> {
    let r = match given {
        Some(r) => r,
        None => {
            let mut data: Option<(f64, f64)> = None;
            for coord in coords {
                let column = match coord {
                    Coord::Column(c) => c,
                    Coord::Constant(v) => {
                        if !v.is_nan() {
                            data = Some(data.map_or((*v, *v), |(lo, hi)| (lo.min(*v), hi.max(*v))));
                        }
                        continue;
                    }
                };
                let r = if sharded {
                    // Every shard must find the same range without reading
                    // rows: Parquet statistics or nothing.
                    range_from_metadata(source, column)?.ok_or_else(|| {
                        AggError::ShardNeedsFlag {
                            what: format!("{axis} range"),
                            flag: if axis == "x" {
                                "--x-range MIN,MAX"
                            } else {
                                "--y-range MIN,MAX"
                            },
                        }
                    })?
                } else {
                    auto_range(source, column)?
                };
                data = match (data, r) {
                    (Some(a), Some(b)) => Some((a.0.min(b.0), a.1.max(b.1))),
                    (a, b) => a.or(b),
                };
            }
            // The projections are increasing: the range of the projected
            // values is the projection of the range.
            expand_bounds(data.map(|(lo, hi)| (project(lo), project(hi))))
        }
    };
    check_range(axis, r, kind)?;
    Ok(r)
}

impl AggregationPlan {
    /// How many segments of lines down the rows are drawn, from the one
    /// whose first row is one before [`AggregateRequest::draw_from_row`]
    /// to the last that ends before [`AggregateRequest::draw_until_row`].
    fn segment_rows(&self) -> u64 {
        self.draw_until_row
            .saturating_sub(1)
            .saturating_sub(self.draw_from_row.saturating_sub(1))
    }

    /// Validate `req` against `source`: columns exist with usable types,
    /// ranges are valid (computed from the data where not given), categories
    /// are known, and the state fits the memory budget.
    ///
    /// ```
    /// use pointillist::aggregate::{AggregateRequest, AggregationPlan, ReductionSpec};
    /// use pointillist::source::Source;
    ///
    /// let source = Source::sample()?;
    /// let req = AggregateRequest::new(80, 60).with_reduction(ReductionSpec::count().by("cat"));
    /// let plan = AggregationPlan::new(&source, &req)?;
    /// assert_eq!(plan.categories().map(<[String]>::len), Some(5));
    /// let agg = plan.run(&source)?;
    /// assert_eq!(agg.shape(), vec![60, 80, 5]);
    /// # Ok::<(), pointillist::aggregate::AggError>(())
    /// ```
    pub fn new(source: &Source, req: &AggregateRequest) -> Result<AggregationPlan, AggError> {
        let vertices = match req.glyph {
            Glyph::Points | Glyph::RaggedLines => Vec::new(),
            Glyph::GeometryLines => {
                let c = req
                    .vertices
                    .first()
                    .and_then(|v| v.0.column())
                    .unwrap_or(req.x.as_str());
                vec![(Coord::from(c), Coord::from(c))]
            }
            // The line, and the one it is filled to (y = 0 by default).
            // Each area's line, then the one it is filled to (y = 0 by
            // default): two pairs per area.
            Glyph::Area => {
                let single = [(Coord::from(req.x.as_str()), Coord::from(req.y.as_str()))];
                let lines = if req.vertices.is_empty() {
                    &single[..]
                } else {
                    &req.vertices[..]
                };
                let mut v = Vec::new();
                for (k, (x, y)) in lines.iter().enumerate() {
                    let to = req
                        .y_stacks
                        .get(k)
                        .map_or(Coord::Constant(0.0), |s| s.as_str().into());
                    v.push((x.clone(), y.clone()));
                    v.push((x.clone(), to));
                }
                v
            }
            Glyph::RowAreas => {
                let mut v = Vec::new();
                for (k, (x, y)) in req.vertices.iter().enumerate() {
                    let to = req
                        .row_area_stacks
                        .get(k)
                        .cloned()
                        .unwrap_or(Coord::Constant(0.0));
                    v.push((x.clone(), y.clone()));
                    v.push((x.clone(), to));
                }
                v
            }
            // The lists, then the lists filled to (or y = 0).
            Glyph::RaggedAreas => {
                let (x, y) = (Coord::from(req.x.as_str()), Coord::from(req.y.as_str()));
                let to = req
                    .y_stacks
                    .first()
                    .map_or(Coord::Constant(0.0), |s| s.as_str().into());
                vec![(x.clone(), y), (x, to)]
            }
            _ => req.vertices.clone(),
        };
        let vertices = if vertices.is_empty() {
            vec![(Coord::Column(req.x.clone()), Coord::Column(req.y.clone()))]
        } else {
            vertices
        };
        let constant = vertices
            .iter()
            .any(|(x, y)| x.column().is_none() || y.column().is_none());
        let unsupported = match req.glyph {
            Glyph::Points => None,
            _ if req.device == Device::Gpu => Some(
                "the GPU (--device gpu): lines are drawn on the CPU; use --device cpu or auto",
            ),
            Glyph::RowLines if vertices.len() < 2 => {
                Some("one vertex per row: give at least two x and two y columns")
            }
            Glyph::RowAreas if vertices.len() < 4 => {
                Some("one vertex per row: give at least two x and two y columns")
            }
            Glyph::RowAreas
                if !req.row_area_stacks.is_empty()
                    && req.row_area_stacks.len() != req.vertices.len() =>
            {
                Some("an area per row with as many y_stack coordinates as vertices")
            }
            Glyph::Line if constant => Some(
                "a constant coordinate for lines down the rows: give columns, or draw one line per row",
            ),
            _ if req.line_width.is_nan() || req.line_width < 0.0 => Some(
                "a negative or NaN line width: give 0 (plain lines) or a positive width in pixels",
            ),
            Glyph::Area | Glyph::RowAreas | Glyph::RaggedAreas if req.line_width > 0.0 => {
                Some("a line width for areas: areas are filled, not stroked; leave it at 0")
            }
            Glyph::Line
                if (req.draw_from_row > 0 || req.draw_until_row < u64::MAX || req.shard.is_some())
                    && req.line_width > 0.0
                    && aa_two_stage(req.reduction.kind, req.self_intersect) =>
            {
                Some(
                    "antialiased min, first, last, or count/sum that do not self-intersect, down the rows from part of the input (a partition): a line's pixels take its largest coverage over all its rows; draw the whole input in one run",
                )
            }
            _ if req.line_width > 0.0
                && matches!(req.reduction.kind, ReductionKind::Var | ReductionKind::Std) =>
            {
                Some("antialiasing and var or std (Datashader has neither): use line width 0")
            }
            _ => None,
        };
        if !(req.point_radius.is_finite() && req.point_radius >= 0.0) {
            return Err(AggError::LineUnsupported {
                what: "a negative, NaN or infinite point radius: give 0 (one pixel per point) or a radius in pixels",
            });
        }
        match (req.top_categories, &req.reduction.by) {
            (Some(0), _) => {
                return Err(AggError::Reduction(SpecError {
                    message: "top categories 0: keep at least 1 (the rest fold into (other))"
                        .into(),
                }))
            }
            (Some(_), None) => {
                return Err(AggError::Reduction(SpecError {
                    message: format!(
                        "top categories for {}: it has no categories; give a categorical reduction (count_cat, by)",
                        req.reduction
                    ),
                }))
            }
            (Some(_), Some(col)) if req.reduction.categorizer != Categorizer::Values => {
                return Err(AggError::Reduction(SpecError {
                    message: format!(
                        "top categories for {}: its categories are computed; ask for fewer of them",
                        req.reduction.categorizer.describe(col)
                    ),
                }))
            }
            (Some(_), Some(col)) if req.shard.is_some() => {
                return Err(AggError::ShardNeedsFlag {
                    what: format!("the largest categories of column '{col}'"),
                    flag: "--categories A,B,...,(other) (the kept ones, then (other))",
                })
            }
            _ => {}
        }
        if req.point_radius > 0.0 && req.glyph != Glyph::Points {
            return Err(AggError::LineUnsupported {
                what:
                    "a point radius for a line or area: give --line-width for lines, or draw points",
            });
        }
        if req.point_radius > 0.0 && req.device == Device::Gpu {
            return Err(AggError::LineUnsupported {
                what: "points with a radius on the GPU (--device gpu): they are drawn on the CPU; use --device cpu or auto",
            });
        }
        if req.glyph == Glyph::Points && req.line_width > 0.0 {
            return Err(AggError::LineUnsupported {
                what: "a line width for points: give a line glyph, or leave it at 0",
            });
        }
        if let Some(what) = unsupported {
            return Err(AggError::LineUnsupported { what });
        }
        if (req.draw_from_row > 0 || req.draw_until_row < u64::MAX)
            && !matches!(req.glyph, Glyph::Line | Glyph::Area)
        {
            return Err(AggError::LineUnsupported {
                what:
                    "a first row to draw from for a glyph other than lines and areas down the rows",
            });
        }
        if req.width == 0 || req.height == 0 {
            return Err(AggError::EmptyCanvas {
                width: req.width,
                height: req.height,
            });
        }
        if let Some(r) = req.x_range {
            check_range("x", r, req.x_axis)?;
        }
        if let Some(r) = req.y_range {
            check_range("y", r, req.y_axis)?;
        }
        let geometry_kinds = match (req.glyph, vertices.first().and_then(|v| v.0.column())) {
            (Glyph::GeometryLines, Some(c)) => source.check_geometry(c)?,
            _ => Vec::new(),
        };
        for c in vertices
            .iter()
            .flat_map(|(x, y)| [x, y])
            .filter_map(Coord::column)
        {
            if req.glyph == Glyph::GeometryLines {
                continue;
            }
            if matches!(req.glyph, Glyph::RaggedLines | Glyph::RaggedAreas) {
                source.check_numeric_list(c)?;
            } else {
                source.check_numeric(c)?;
            }
        }
        let kind = req.reduction.kind;
        req.reduction.validate()?;
        let selection = req.reduction.selection().is_some();
        let refuse = |message: String| -> Result<(), AggError> {
            Err(AggError::Reduction(super::reduction::SpecError { message }))
        };
        if selection && req.line_width > 0.0 {
            refuse(format!(
                "{}: antialiased lines keep one coverage per pixel, not ranked rows; use line width 0",
                req.reduction
            ))?;
        }
        if selection && req.device == Device::Gpu {
            refuse(format!(
                "{} runs on the CPU only; use --device cpu or auto",
                req.reduction
            ))?;
        }
        if let Some(d) = req.reduction.narrow_dtype() {
            if req.device == Device::Gpu {
                refuse(format!(
                    "{}: a {d} aggregate is made on the CPU only; use --device cpu or auto, or drop @{d}",
                    req.reduction
                ))?;
            }
            if req.line_width > 0.0 && kind == ReductionKind::Count {
                refuse(format!(
                    "{}: antialiased lines count float32 coverage, not integers; drop @{d} or use line width 0",
                    req.reduction
                ))?;
            }
        }
        if let Some(c) = req.reduction.lookup_column() {
            if req.glyph != Glyph::Points {
                refuse(format!(
                    "{}: a lookup column is taken for points only; drop it to get the row index",
                    req.reduction
                ))?;
            }
            source.check_numeric(c)?;
        }
        let value = req.reduction.column.clone();
        match &value {
            Some(c) => source.check_numeric(c)?,
            None if kind.needs_column() => {
                return Err(AggError::MissingValueColumn {
                    reduction: kind.name(),
                })
            }
            None => {}
        }
        let by = match &req.reduction.by {
            None => None,
            Some(col) if req.reduction.categorizer != Categorizer::Values => {
                let c = req.reduction.categorizer;
                c.validate()
                    .map_err(|message| AggError::Reduction(SpecError { message }))?;
                if req.categories.is_some() {
                    return Err(AggError::Reduction(SpecError {
                        message: format!(
                            "{}: its categories are 0, 1, ...; drop the category list",
                            c.describe(col)
                        ),
                    }));
                }
                if matches!(c, Categorizer::Modulo { .. }) {
                    source.check_integer(col)?;
                } else {
                    source.check_numeric(col)?;
                }
                let map = CategoryMap::derived(c).ok_or_else(|| {
                    AggError::Reduction(SpecError {
                        message: format!("{}: not a categorizer", c.describe(col)),
                    })
                })?;
                Some((col.clone(), map))
            }
            Some(col) => {
                let ckind = source.check_category(col)?;
                let labels = match &req.categories {
                    Some(l) => l.clone(),
                    None if req.shard.is_some() => source
                        .categories_from_metadata(col)?
                        .ok_or_else(|| AggError::ShardNeedsFlag {
                            what: format!("categories of column '{col}'"),
                            flag: "--categories A,B,...",
                        })?,
                    None => source.distinct_categories(col)?,
                };
                // A list ending in "(other)" (what top categories give, and
                // what sharded runs list to fold the same way): a plane
                // that the unlisted categories land in, whatever the
                // column's type.
                let listed = match labels.split_last() {
                    Some((last, rest)) if last == OTHER_CATEGORY => rest,
                    _ => &labels[..],
                };
                let map = CategoryMap::new(ckind, listed.to_vec()).map_err(|label| {
                    AggError::BadCategory {
                        label,
                        column: col.clone(),
                    }
                })?;
                let map = if listed.len() < labels.len() {
                    map.with_catch_all(OTHER_CATEGORY.to_string())
                } else {
                    map
                };
                let map = match req.top_categories {
                    Some(k) if k < map.len() => {
                        let kept = largest_categories(source, req, col, &map, k)?;
                        CategoryMap::new(ckind, kept)
                            .map_err(|label| AggError::BadCategory {
                                label,
                                column: col.clone(),
                            })?
                            .with_catch_all(OTHER_CATEGORY.to_string())
                    }
                    _ => map,
                };
                Some((col.clone(), map))
            }
        };
        // Datashader's `two_stage_agg`: `min`, `first` and `last` (and
        // `count`/`sum` that do not self-intersect) aggregate line by line;
        // segments draw their caps over each other unless a reduction sums
        // coverage within a line (`count`, `sum`, `mean` self-intersecting).
        let aa_two_stage = aa_two_stage(kind, req.self_intersect);
        let aa_overwrite = aa_two_stage || matches!(kind, ReductionKind::Any | ReductionKind::Max);
        let planes = by.as_ref().map_or(1, |(_, m)| m.len());
        let cells = req.width as u128 * req.height as u128 * planes as u128;
        let state = cells * spec_state_bytes_per_cell(&req.reduction) as u128;
        let too_large = |needed: u128| AggError::CanvasTooLarge {
            width: req.width,
            height: req.height,
            cats: if by.is_some() {
                format!(" with {planes} categories")
            } else {
                String::new()
            },
            needed_mib: (needed >> 20).min(u64::MAX as u128) as u64,
            budget_mib: req.memory_budget >> 20,
            hint: narrow_hint(&req.reduction)
                + &match &by {
                    None => String::new(),
                    // How many planes fit: two states of width x height x k.
                    Some(_) => {
                        let plane = 2 * (state / planes.max(1) as u128).max(1);
                        let fit = (u128::from(req.memory_budget) / plane).min(usize::MAX as u128);
                        if fit >= 2 && req.reduction.categorizer == Categorizer::Values {
                            format!(
                            ", or keep the largest categories (--top-categories {}: {} planes with (other))",
                            fit - 1,
                            fit
                        )
                        } else {
                            " or fewer categories".into()
                        }
                    }
                },
        };
        // Two states at least: the running total and one unit's partial.
        if cells >= u128::from(NO_CELL) || 2 * state > u128::from(req.memory_budget) {
            return Err(too_large(2 * state));
        }
        // One canvas per worker plus the running total must fit the budget.
        let fit = (u128::from(req.memory_budget) / state.max(1)).saturating_sub(1) as usize;
        let workers = rayon::current_num_threads().clamp(1, fit.max(1));

        let (px, py) = mercator::projections(req.lnglat);
        let sharded = req.shard.is_some();
        let xs: Vec<&Coord> = vertices.iter().map(|v| &v.0).collect();
        let ys: Vec<&Coord> = vertices.iter().map(|v| &v.1).collect();
        let (x_range, y_range) = match vertices.first().and_then(|v| v.0.column()) {
            Some(col) if req.glyph == Glyph::GeometryLines => {
                let data = if req.x_range.is_some() && req.y_range.is_some() {
                    [None, None]
                } else if sharded {
                    return Err(AggError::ShardNeedsFlag {
                        what: "x and y ranges of a geometry column".into(),
                        flag: "--x-range MIN,MAX --y-range MIN,MAX",
                    });
                } else {
                    geometry_range(source, col, &geometry_kinds)?
                };
                let resolve = |axis,
                               given: Option<(f64, f64)>,
                               d: Option<(f64, f64)>,
                               kind,
                               p: mercator::Projection| {
                    let r =
                        given.unwrap_or_else(|| expand_bounds(d.map(|(lo, hi)| (p(lo), p(hi)))));
                    check_range(axis, r, kind).map(|()| r)
                };
                (
                    resolve("x", req.x_range, data[0], req.x_axis, px)?,
                    resolve("y", req.y_range, data[1], req.y_axis, py)?,
                )
            }
            _ => (
                resolve_range(source, "x", &xs, req.x_range, req.x_axis, px, sharded)?,
                resolve_range(source, "y", &ys, req.y_range, req.y_axis, py, sharded)?,
            ),
        };
        let mut geometry = Geometry::new(
            req.width, req.height, x_range, y_range, req.x_axis, req.y_axis,
        );
        if req.x_upper_open {
            geometry.x = geometry.x.half_open();
        }
        if req.y_upper_open {
            geometry.y = geometry.y.half_open();
        }
        let spec = AggregateSpec {
            x: req.x.clone(),
            y: req.y.clone(),
            width: req.width,
            height: req.height,
            x_range,
            y_range,
            x_axis: req.x_axis,
            y_axis: req.y_axis,
            x_upper_open: req.x_upper_open,
            y_upper_open: req.y_upper_open,
            lnglat: req.lnglat,
            reduction: req.reduction.clone(),
            categories: by.as_ref().map(|(_, m)| m.labels().to_vec()),
            glyph: req.glyph.name().to_string(),
            line_width: req.line_width,
            // Only a two-stage count or sum tells it apart.
            self_intersect: req.self_intersect || req.line_width == 0.0,
            point_radius: req.point_radius,
            point_shape: req.point_shape,
        };
        let mut plan = AggregationPlan {
            x: req.x.clone(),
            y: req.y.clone(),
            geometry,
            lnglat: req.lnglat,
            kind,
            value,
            by,
            workers,
            device: req.device,
            spec,
            shard: req.shard,
            glyph: req.glyph,
            vertices,
            stacked: match req.glyph {
                Glyph::Area => !req.y_stacks.is_empty(),
                Glyph::RowAreas => !req.row_area_stacks.is_empty(),
                Glyph::RaggedAreas => !req.y_stacks.is_empty(),
                _ => false,
            },
            line_width: req.line_width,
            draw_from_row: req.draw_from_row,
            draw_until_row: req.draw_until_row,
            aa_two_stage,
            aa_overwrite,
            geometry_kinds,
            geometry_kernel: req.geometry_kernel,
            splat: (req.point_radius > 0.0).then_some(Splat {
                radius: req.point_radius,
                shape: req.point_shape,
            }),
        };
        if plan.shard_reads_neighbours() {
            // A shard of a line down the rows draws the segments that end
            // in its own rows, as a Dask partition does.
            let (from, until) = plan.shard_rows(source);
            plan.draw_from_row = plan.draw_from_row.max(from);
            plan.draw_until_row = plan.draw_until_row.min(until);
        }
        Ok(plan)
    }

    /// Whether this plan is a shard of lines or areas down the rows: it
    /// reads the unit before its own (whose last rows lead the line into
    /// its first row) and, antialiased, the unit after (whose first row
    /// says whether its last segment ends the line), and draws only the
    /// segments that end in its own rows.
    fn shard_reads_neighbours(&self) -> bool {
        self.shard.is_some() && matches!(self.glyph, Glyph::Line | Glyph::Area)
    }

    /// The rows of the units this plan's shard owns, as `[from, until)`
    /// (empty when it owns none).
    fn shard_rows(&self, source: &Source) -> (u64, u64) {
        let all = source.units(self.unit_rows());
        let base = all.first().map_or(0, |u| u.first_row);
        let total = source.num_rows();
        let mut owned = all.iter().filter(|u| self.owns(u, base, total));
        match (owned.next(), owned.next_back()) {
            (Some(a), Some(b)) => (a.first_row, b.first_row + b.rows as u64),
            (Some(a), None) => (a.first_row, a.first_row + a.rows as u64),
            _ => (0, 0),
        }
    }

    /// Whether unit `u` is this plan's shard's (every unit without one).
    fn owns(&self, u: &Unit, base: u64, total: u64) -> bool {
        self.shard
            .is_none_or(|s| s.owns(u.first_row - u.offset as u64 - base, total))
    }

    /// What a partial of this plan must agree on to merge with another.
    pub fn spec(&self) -> &AggregateSpec {
        &self.spec
    }

    /// Run the plan over `source` (this plan's shard of it, when it has
    /// one) and keep the result as a [`PartialAggregate`], to be merged with
    /// others and finished elsewhere.
    ///
    /// ```
    /// use pointillist::aggregate::{merge_shards, AggregateRequest, AggregationPlan, Shard};
    /// use pointillist::source::Source;
    ///
    /// let source = Source::sample()?;
    /// // Two jobs, each reading its half of the row groups.
    /// let parts = (0..2)
    ///     .map(|i| {
    ///         let req = AggregateRequest::new(80, 60).with_shard(Shard::new(i, 2)?);
    ///         AggregationPlan::new(&source, &req)?.run_partial(&source)
    ///     })
    ///     .collect::<Result<Vec<_>, _>>()?;
    /// let whole = merge_shards(parts)?;
    /// assert_eq!(whole.rows(), source.num_rows());
    /// # Ok::<(), pointillist::aggregate::AggError>(())
    /// ```
    pub fn run_partial(&self, source: &Source) -> Result<PartialAggregate, AggError> {
        let units = self.units(source);
        let choice = self.choose_engine(&units)?;
        let partial = self.partial_on(choice.engine, source, &units, &|_| {})?;
        let base = source
            .units(self.unit_rows())
            .first()
            .map_or(0, |u| u.first_row);
        let rows = units
            .iter()
            .filter(|u| self.owns(u, base, source.num_rows()))
            .map(|u| u.rows as u64)
            .sum();
        let coverage = self.shard.map(|s| ShardCoverage {
            shards: [s.index].into_iter().collect(),
            count: s.count,
            input_rows: source.num_rows(),
            input_row_groups: source.num_row_groups() as u64,
        });
        Ok(PartialAggregate::new(
            self.spec.clone(),
            partial,
            rows,
            coverage,
        ))
    }

    /// The canvas geometry (ranges after auto-ranging).
    pub fn geometry(&self) -> &Geometry {
        &self.geometry
    }

    /// Category labels in plane order, for categorical reductions.
    pub fn categories(&self) -> Option<&[String]> {
        self.by.as_ref().map(|(_, m)| m.labels())
    }

    /// Number of cells (pixels x planes).
    pub fn cells(&self) -> usize {
        self.geometry.width()
            * self.geometry.height()
            * self.by.as_ref().map_or(1, |(_, m)| m.len())
    }

    /// The x and y data ranges of the points that can reach the canvas:
    /// its own, widened for points with a radius.
    fn reach(&self) -> ((f64, f64), (f64, f64)) {
        let g = &self.geometry;
        match &self.splat {
            Some(s) => (s.reach(&g.x), s.reach(&g.y)),
            None => (g.x.range, g.y.range),
        }
    }

    /// Bytes of aggregation state on one canvas (cells x state per cell).
    pub fn canvas_state_bytes(&self) -> u64 {
        (self.cells() as u64).saturating_mul(spec_state_bytes_per_cell(&self.spec.reduction) as u64)
    }

    /// The memory this plan's aggregation state takes at most, in one line
    /// for `--verbose`: its planes, the bytes of one canvas, and the
    /// canvases held at once (one per worker and the running total).
    pub fn describe_memory(&self) -> String {
        let mib = |b: u64| b as f64 / f64::from(1u32 << 20);
        let canvas = self.canvas_state_bytes();
        let planes = self.by.as_ref().map_or(1, |(_, m)| m.len());
        let held = self.workers as u64 + 1;
        format!(
            "aggregation state: {planes} plane{} of {}x{}, {:.1} MiB per canvas, at most {:.1} MiB ({held} canvases: {} worker{} and the total)",
            if planes == 1 { "" } else { "s" },
            self.geometry.width(),
            self.geometry.height(),
            mib(canvas),
            mib(canvas.saturating_mul(held)),
            self.workers,
            if self.workers == 1 { "" } else { "s" },
        )
    }

    /// A fresh, empty partial for this plan.
    pub fn new_partial(&self) -> Partial {
        if self.line_width > 0.0 && self.spec.reduction.selection().is_none() {
            Partial::new_antialiased(self.kind, self.cells())
        } else {
            Partial::for_spec(&self.spec.reduction, self.cells())
        }
    }

    /// The columns a unit must read.
    fn columns(&self) -> Vec<&str> {
        let mut cols = Vec::new();
        let coords = self.vertices.iter().flat_map(|(x, y)| [x, y]);
        for c in coords
            .filter_map(Coord::column)
            .chain(self.value.as_deref())
            .chain(self.spec.reduction.lookup_column())
            .chain(self.by.as_ref().map(|(c, _)| c.as_str()))
        {
            if !cols.contains(&c) {
                cols.push(c);
            }
        }
        cols
    }

    /// Accumulate the rows of `unit`, in order, into `p`. Points only: a
    /// line's segments cross from one unit into the next, so a line is
    /// drawn by running the whole plan ([`AggregationPlan::run`]).
    pub fn accumulate_unit(
        &self,
        source: &Source,
        unit: &Unit,
        p: &mut Partial,
        scratch: &mut Scratch,
    ) -> Result<(), AggError> {
        if self.glyph != Glyph::Points {
            return Err(AggError::LineUnsupported {
                what: "accumulate_unit: a line crosses between units; run the whole plan",
            });
        }
        self.for_each_batch(source, unit, scratch, |rows, cells, values, lookups| {
            rows.accumulate(p, cells, values, lookups)
        })
    }

    /// How a unit's batches are read: a string category column through its
    /// Parquet dictionary.
    fn reader(&self) -> ReadUnit {
        if self.by.as_ref().is_some_and(|(_, m)| !m.is_derived()) {
            Source::read_unit_runs_dictionary
        } else {
            Source::read_unit_runs
        }
    }

    /// How many lines run down the rows (0 but for [`Glyph::Line`]).
    fn lines_down_rows(&self) -> usize {
        if self.glyph == Glyph::Line {
            self.vertices.len()
        } else {
            0
        }
    }

    /// Category planes per pixel (1 without categories).
    fn planes(&self) -> u32 {
        self.by.as_ref().map_or(1, |(_, m)| m.len() as u32)
    }

    /// Accumulate `unit` into `p`: its points, or the segments of a line
    /// that lie within it (then with what it leaves for the stitch).
    fn unit_into(
        &self,
        source: &Source,
        unit: &Unit,
        base: VertexBase,
        p: &mut Partial,
        scratch: &mut Scratch,
    ) -> Result<Vec<Option<LineEnds>>, AggError> {
        if self.glyph == Glyph::GeometryLines {
            self.geometry_lines_into(source, unit, base, p, scratch)?;
            return Ok(Vec::new());
        }
        if self.line_width > 0.0 {
            self.aa_rows_into(source, unit, p, scratch)?;
            return Ok(Vec::new());
        }
        let r = LineRaster::new(&self.geometry);
        let mut px = LinePixels::new(self);
        let vertex = row_vertex;
        match self.glyph {
            Glyph::RowLines | Glyph::RowAreas => {
                self.row_lines_into(source, unit, &r, &mut px, p, scratch)?
            }
            Glyph::RaggedLines => {
                self.for_each_vertex_batch(
                    source,
                    unit,
                    BATCH_ROWS,
                    scratch,
                    |first_row, rows, vs, values, codes| {
                        let [xs, ys] = &vs[0];
                        for k in 0..rows {
                            let v = vertex(first_row + k as u64, k, values, codes);
                            let (x, y) = (xs.list(k), ys.list(k));
                            let pairs = x.iter().zip(y).map(|(&x, &y)| (x, y));
                            line::row_line(&r, pairs, |pixel| px.push(&v, pixel, p));
                        }
                    },
                )?;
            }
            Glyph::RaggedAreas => {
                let stacked = self.stacked;
                self.for_each_vertex_batch(
                    source,
                    unit,
                    BATCH_ROWS,
                    scratch,
                    |first_row, rows, vs, values, codes| {
                        let ([xs, ys], to) = (&vs[0], &vs[1][1]);
                        for k in 0..rows {
                            let v = vertex(first_row + k as u64, k, values, codes);
                            let (x, y) = (xs.list(k), ys.list(k));
                            let to = if stacked { to.list(k) } else { &[] };
                            line::ragged_area(&r, x, y, stacked.then_some(to), |run| {
                                px.push_run(&v, run, p)
                            });
                        }
                    },
                )?;
            }
            Glyph::Line => {
                let mut lines: Vec<UnitLine> =
                    self.vertices.iter().map(|_| UnitLine::new()).collect();
                self.for_each_vertex_batch(
                    source,
                    unit,
                    BATCH_ROWS,
                    scratch,
                    |first_row, _, vs, values, codes| {
                        // Line after line, each keyed after the ones before it
                        // for first/last (Datashader draws them in turn).
                        for (j, (line, [xs, ys])) in lines.iter_mut().zip(vs).enumerate() {
                            px.key_offset = line_key_offset(j);
                            for (k, (&x, &y)) in xs.values.iter().zip(&ys.values).enumerate() {
                                let v = Vertex {
                                    x,
                                    y,
                                    ..vertex(first_row + k as u64, k, values, codes)
                                };
                                line.push(&r, v, |v, pixel| px.push(v, pixel, p));
                            }
                        }
                    },
                )?;
                px.flush(p);
                return Ok(lines.iter().map(UnitLine::ends).collect());
            }
            _ => {
                self.for_each_batch(source, unit, scratch, |rows, cells, values, lookups| {
                    rows.accumulate(p, cells, values, lookups)
                })?;
                return Ok(Vec::new());
            }
        }
        px.flush(p);
        Ok(Vec::new())
    }

    /// Fill an area down the rows (Datashader's `AreaToZeroAxis0` and
    /// `AreaToLineAxis0`): the units in row order on this thread, each
    /// trapezoid between consecutive rows, its left edge filled where the
    /// area starts (the first row, or after a NaN vertex).
    fn area_partial(
        &self,
        source: &Source,
        units: &[Unit],
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<Partial, AggError> {
        let r = LineRaster::new(&self.geometry);
        let mut p = self.new_partial();
        let mut px = LinePixels::new(self);
        let mut scratch = Scratch::default();
        let areas = self.vertices.len() / 2;
        // Per area: the previous row's corners and what it adds, and
        // whether its next trapezoid starts it.
        let mut prev: Vec<Option<(f64, f64, f64, Vertex)>> = vec![None; areas];
        let mut start = vec![true; areas];
        for u in units {
            self.for_each_vertex_batch(
                source,
                u,
                BATCH_ROWS,
                &mut scratch,
                |first_row, rows, vs, values, codes| {
                    for (j, pair) in vs.chunks_exact(2).enumerate() {
                        let ([xs, ys], to) = (&pair[0], &pair[1][1]);
                        let stacked = self.stacked;
                        // Area after area, each keyed after the ones before it
                        // for first/last (Datashader fills them in turn).
                        px.key_offset = line_key_offset(j);
                        for k in 0..rows {
                            let (x, y, y_to) = (xs.at(k), ys.at(k), to.at(k));
                            let v = Vertex {
                                row: first_row + k as u64,
                                x,
                                y,
                                value: values.map_or(f64::NAN, |v| v[k]),
                                plane: codes.map_or(0, |c| c[k]),
                            };
                            if let Some((x0, y0, y1, pv)) = prev[j] {
                                let t = Trapezoid {
                                    x0,
                                    x1: x,
                                    y0,
                                    y1,
                                    y2: y_to,
                                    y3: y,
                                };
                                r.trapezoid(t, start[j], stacked, |run| {
                                    px.push_run(&pv, run, &mut p)
                                });
                                start[j] = x0.is_nan() || y0.is_nan() || y1.is_nan();
                            }
                            prev[j] = Some((x, y, y_to, v));
                        }
                    }
                },
            )?;
            progress(u.rows as u64);
        }
        px.flush(&mut p);
        Ok(p)
    }

    /// How this plan's antialiased pixels go into a partial.
    fn aa_sink(&self) -> AaSink {
        AaSink {
            planes: self.planes(),
            with_value: self.value.is_some(),
            last: self.kind == ReductionKind::Last,
            rule: if self.aa_two_stage {
                AaRule::Max
            } else {
                AaRule::Add
            },
        }
    }

    /// Antialiased lines down the rows (Datashader's `LineAxis0` and
    /// `LinesAxis0Multi` with `line_width > 0`): line after line, each
    /// through the units in row order on this thread, walked vertex by
    /// vertex (a line's columns are read once per line, so coverage adds
    /// up in Datashader's order, to the bit). Lines that self-intersect go
    /// straight into the partial; otherwise each line is aggregated on its
    /// own and then merged in, as Datashader's second stage does.
    fn aa_lines_partial(
        &self,
        source: &Source,
        units: &[Unit],
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<Partial, AggError> {
        let r = AaRaster::new(&self.geometry, self.line_width, self.aa_overwrite);
        let own = self.aa_two_stage && self.vertices.len() > 1;
        let sink = self.aa_sink();
        let mut total = self.new_partial();
        let mut part = own.then(|| self.new_partial());
        let mut scratch = Scratch::default();
        for (j, vertex) in self.vertices.iter().enumerate() {
            let one = AggregationPlan {
                vertices: vec![vertex.clone()],
                ..self.clone()
            };
            let p = part.as_mut().unwrap_or(&mut total);
            let key = sink.key(line_key_offset(j));
            // Only the segments that end in [draw_from_row, draw_until_row).
            let (from_row, span) = (self.draw_from_row.saturating_sub(1), self.segment_rows());
            let mut emit = |v: &Vertex, px: AaPixel| {
                if v.row.wrapping_sub(from_row) < span {
                    sink.add(p, v, px, key);
                }
            };
            let mut line: AaLine<Vertex> = AaLine::new();
            for u in units {
                one.for_each_vertex_batch(
                    source,
                    u,
                    BATCH_ROWS,
                    &mut scratch,
                    |first_row, rows, vs, values, codes| {
                        let [xs, ys] = &vs[0];
                        for k in 0..rows {
                            let v = row_vertex(first_row + k as u64, k, values, codes);
                            line.push(&r, (xs.at(k), ys.at(k)), v, &mut emit);
                        }
                    },
                )?;
                if j == 0 {
                    progress(u.rows as u64);
                }
            }
            line.finish(&r, &mut emit);
            if let Some(p) = &mut part {
                total.merge_and_reset(p)?;
            }
        }
        Ok(total)
    }

    /// Antialiased lines one per row (Datashader's axis=1 layouts and
    /// ragged lines with `line_width > 0`): each row's line walked vertex
    /// by vertex, in row order. Rows are decoded a few at a time, all
    /// their vertices together, so memory stays at about a million
    /// coordinates whatever the table's width. Two-stage reductions draw
    /// each row into a partial of its own and fold the cells it touched
    /// into `p`, as Datashader's second stage does.
    fn aa_rows_into(
        &self,
        source: &Source,
        unit: &Unit,
        p: &mut Partial,
        scratch: &mut Scratch,
    ) -> Result<(), AggError> {
        let r = AaRaster::new(&self.geometry, self.line_width, self.aa_overwrite);
        let ragged = self.glyph == Glyph::RaggedLines;
        let batch_rows = if ragged {
            BATCH_ROWS
        } else {
            ((1usize << 20) / self.vertices.len().max(1)).clamp(64, BATCH_ROWS)
        };
        let mut line_p = scratch.aa_line.take().filter(|l| l.cells() == self.cells());
        if self.aa_two_stage && line_p.is_none() {
            line_p = Some(self.new_partial());
        }
        let mut cells = std::mem::take(&mut scratch.aa_cells);
        let sink = self.aa_sink();
        let result = self.for_each_vertex_batch(
            source,
            unit,
            batch_rows,
            scratch,
            |first_row, rows, vs, values, codes| {
                for k in 0..rows {
                    let row = first_row + k as u64;
                    let v = row_vertex(row, k, values, codes);
                    let mut line: AaLine<Vertex> = AaLine::new();
                    let target = match &mut line_p {
                        Some(l) => l,
                        None => &mut *p,
                    };
                    let two_stage = self.aa_two_stage;
                    let key = sink.key(row);
                    let mut emit = |v: &Vertex, px: AaPixel| {
                        let cell = sink.add(target, v, px, key);
                        if two_stage {
                            cells.push(cell);
                        }
                    };
                    if ragged {
                        let [xs, ys] = &vs[0];
                        for (&x, &y) in xs.list(k).iter().zip(ys.list(k)) {
                            line.push(&r, (x, y), v, &mut emit);
                        }
                    } else {
                        for [xs, ys] in vs {
                            line.push(&r, (xs.at(k), ys.at(k)), v, &mut emit);
                        }
                    }
                    line.finish(&r, &mut emit);
                    if let Some(l) = &mut line_p {
                        p.fold_cells(l, &cells);
                        cells.clear();
                    }
                }
            },
        );
        scratch.aa_line = line_p;
        scratch.aa_cells = cells;
        result
    }

    /// Draw the row lines of `unit` a few vertices at a time: the
    /// segments into vertex `j` for every row of the unit, then those into
    /// vertex `j + 1`, carrying each row's last vertex (and whether the
    /// one before it was NaN) from one vertex to the next. Only a band of
    /// [`ROW_LINE_BAND`] vertices' columns is decoded at a time, so a wide
    /// table (a column per sample of a time series) costs memory for a few
    /// columns, not for all of them, and each column's values are walked
    /// in order.
    fn row_lines_into(
        &self,
        source: &Source,
        unit: &Unit,
        r: &LineRaster,
        px: &mut LinePixels,
        p: &mut Partial,
        scratch: &mut Scratch,
    ) -> Result<(), AggError> {
        let label = source.file_label(unit.file);
        let rows = unit.rows;
        let Scratch {
            codes,
            values,
            vertices,
            row_lines,
            ..
        } = scratch;
        // What each row adds: its value and plane, read first.
        let RowLineState {
            values: row_values,
            planes: row_planes,
            prev,
            snapped,
            before_nan,
            to: to_prev,
        } = row_lines;
        let areas = self.glyph == Glyph::RowAreas;
        row_values.clear();
        row_planes.clear();
        let mut cols: Vec<&str> = self.value.iter().map(String::as_str).collect();
        cols.extend(self.by.as_ref().map(|(c, _)| c.as_str()));
        if !cols.is_empty() {
            for batch in self.reader()(source, unit, &cols, BATCH_ROWS, None)? {
                let batch = batch?;
                if let Some(v) = batch_values(&batch, self.value.as_deref(), label, values)? {
                    row_values.extend_from_slice(v);
                }
                if let Some((c, map)) = &self.by {
                    batch_codes(&batch, c, map, label, codes)?;
                    // As for points: a null or unlisted category goes to
                    // the last plane (NumPy's index -1).
                    let none_plane = (map.len() as u32).saturating_sub(1);
                    row_planes.extend(codes.iter().map(|&c| {
                        if c == CategoryMap::NONE {
                            none_plane
                        } else {
                            c
                        }
                    }));
                }
            }
        }
        let [px_prev, py_prev] = prev;
        px_prev.clear();
        px_prev.resize(rows, f64::NAN);
        py_prev.clear();
        py_prev.resize(rows, f64::NAN);
        before_nan.clear();
        before_nan.resize(rows, false);
        snapped.clear();
        snapped.resize(rows, NOT_SNAPPED);
        to_prev.clear();
        to_prev.resize(rows, f64::NAN);
        vertices.resize_with(ROW_LINE_BAND, Default::default);
        let first_row = unit.first_row;
        for (b, band) in self.vertices.chunks(ROW_LINE_BAND).enumerate() {
            let mut cols: Vec<&str> = Vec::new();
            for c in band
                .iter()
                .flat_map(|(x, y)| [x, y])
                .filter_map(Coord::column)
            {
                if !cols.contains(&c) {
                    cols.push(c);
                }
            }
            // Each batch of the band's columns: the segments into each of
            // its vertices, vertex after vertex, for the batch's rows.
            let mut draw = |at: usize, n: usize, bufs: &[[CoordBuf; 2]]| {
                // Row after row, through the band's vertices: a row's
                // pixels in the band are next to each other on the canvas.
                for k in 0..n {
                    let g = at + k;
                    let v = Vertex {
                        row: first_row + g as u64,
                        x: f64::NAN,
                        y: f64::NAN,
                        value: row_values.get(g).copied().unwrap_or(f64::NAN),
                        plane: row_planes.get(g).copied().unwrap_or(0),
                    };
                    if areas {
                        // Vertex pairs: each vertex's (x, y), then its y on
                        // the line filled to; a trapezoid between vertices.
                        let (mut a, mut a_to, mut nan) =
                            ((px_prev[g], py_prev[g]), to_prev[g], before_nan[g]);
                        for (t, pair) in bufs.chunks_exact(2).enumerate() {
                            let j = (b * ROW_LINE_BAND) / 2 + t;
                            let ([xs, ys], to) = (&pair[0], &pair[1][1]);
                            let (x, y, y_to) = (xs.at(k), ys.at(k), to.at(k));
                            if j > 0 {
                                let start = j == 1 || nan;
                                let t = Trapezoid {
                                    x0: a.0,
                                    x1: x,
                                    y0: a.1,
                                    y1: a_to,
                                    y2: y_to,
                                    y3: y,
                                };
                                r.trapezoid(t, start, self.stacked, |run| px.push_run(&v, run, p));
                                nan = a.0.is_nan() || a.1.is_nan() || a_to.is_nan();
                            }
                            (a, a_to) = ((x, y), y_to);
                        }
                        (px_prev[g], py_prev[g], to_prev[g], before_nan[g]) = (a.0, a.1, a_to, nan);
                        continue;
                    }
                    let (mut a, mut from, mut nan) =
                        ((px_prev[g], py_prev[g]), snapped[g], before_nan[g]);
                    for (t, [xs, ys]) in bufs.iter().enumerate() {
                        let j = b * ROW_LINE_BAND + t;
                        let here = (xs.at(k), ys.at(k));
                        let to = r.snap_inside(here.0, here.1);
                        if j > 0 {
                            let start = j == 1 || nan;
                            let emit = |pixel| px.push(&v, pixel, p);
                            match to {
                                Some(to) if from != NOT_SNAPPED => {
                                    r.segment_inside(start, from, to, emit)
                                }
                                _ => {
                                    r.segment(Some(start), a, here, emit);
                                }
                            }
                            nan = a.0.is_nan() || a.1.is_nan();
                        }
                        a = here;
                        from = to.unwrap_or(NOT_SNAPPED);
                    }
                    (px_prev[g], py_prev[g], snapped[g], before_nan[g]) = (a.0, a.1, from, nan);
                }
            };
            let bufs = &mut vertices[..band.len()];
            if cols.is_empty() {
                // Constants only: the same vertices for every row.
                for ((xc, yc), [xs, ys]) in band.iter().zip(bufs.iter_mut()) {
                    xs.set_constant(
                        xc,
                        self.lnglat.then_some(mercator::lng_to_x as fn(f64) -> f64),
                    );
                    ys.set_constant(
                        yc,
                        self.lnglat.then_some(mercator::lat_to_y as fn(f64) -> f64),
                    );
                }
                draw(0, rows, bufs);
                continue;
            }
            let mut at = 0;
            for batch in self.reader()(source, unit, &cols, BATCH_ROWS, None)? {
                let batch = batch?;
                for ((xc, yc), [xs, ys]) in band.iter().zip(bufs.iter_mut()) {
                    xs.fill(&batch, xc, false, label)?;
                    ys.fill(&batch, yc, false, label)?;
                    if self.lnglat {
                        xs.map(mercator::lng_to_x);
                        ys.map(mercator::lat_to_y);
                    }
                }
                let n = batch.num_rows().min(rows - at);
                draw(at, n, bufs);
                at += n;
            }
        }
        Ok(())
    }

    /// Read `unit` batch by batch, in row order, for lines: each batch's
    /// first row and row count, the x and y of each vertex as `f64` (NaN
    /// where null; projected to Web Mercator metres for lng/lat; lists
    /// with their offsets for ragged lines), its values and its category
    /// planes.
    fn for_each_vertex_batch(
        &self,
        source: &Source,
        unit: &Unit,
        batch_rows: usize,
        scratch: &mut Scratch,
        mut f: impl FnMut(u64, usize, &[[CoordBuf; 2]], Option<&[f64]>, Option<&[u32]>),
    ) -> Result<(), AggError> {
        let mut row = unit.first_row;
        let cols = self.columns();
        let label = source.file_label(unit.file);
        let Scratch {
            codes,
            values,
            vertices,
            ..
        } = scratch;
        vertices.resize_with(self.vertices.len(), Default::default);
        let ragged = matches!(self.glyph, Glyph::RaggedLines | Glyph::RaggedAreas);
        for batch in self.reader()(source, unit, &cols, batch_rows, None)? {
            let batch = batch?;
            for ((xc, yc), [xs, ys]) in self.vertices.iter().zip(vertices.iter_mut()) {
                for (coord, out) in [(xc, &mut *xs), (yc, &mut *ys)] {
                    out.fill(&batch, coord, ragged, label)?;
                }
                if self.lnglat {
                    xs.map(mercator::lng_to_x);
                    ys.map(mercator::lat_to_y);
                }
            }
            let planes = self.batch_planes(&batch, label, codes)?;
            let vals = batch_values(&batch, self.value.as_deref(), label, values)?;
            f(row, batch.num_rows(), vertices, vals, planes);
            row += batch.num_rows() as u64;
        }
        Ok(())
    }

    /// Each row's category plane, `None` without categories. As for
    /// points, a null or unlisted category goes to the last plane (NumPy's
    /// index -1).
    fn batch_planes<'a>(
        &self,
        batch: &arrow_array::RecordBatch,
        label: &str,
        codes: &'a mut Vec<u32>,
    ) -> Result<Option<&'a [u32]>, AggError> {
        let Some((c, map)) = &self.by else {
            return Ok(None);
        };
        batch_codes(batch, c, map, label, codes)?;
        let none_plane = (map.len() as u32).saturating_sub(1);
        for code in codes.iter_mut() {
            if *code == CategoryMap::NONE {
                *code = none_plane;
            }
        }
        Ok(Some(codes.as_slice()))
    }

    /// [`AggregationPlan::for_each_vertex_batch`] for line geometries:
    /// each batch's first row, its geometries (projected for lng/lat), its
    /// values and its category planes.
    fn for_each_geometry_batch(
        &self,
        source: &Source,
        unit: &Unit,
        scratch: &mut Scratch,
        mut f: impl FnMut(u64, &GeometryBuf, Option<&[f64]>, Option<&[u32]>),
    ) -> Result<(), AggError> {
        let mut row = unit.first_row;
        let cols = self.columns();
        let label = source.file_label(unit.file);
        let column = self.x.as_str();
        let kind = self.geometry_kind(unit.file);
        let Scratch {
            codes,
            values,
            geometry,
            ..
        } = scratch;
        for batch in self.reader()(source, unit, &cols, BATCH_ROWS, None)? {
            let batch = batch?;
            let a = batch_column(&batch, column, label)?;
            decode_geometry(a.as_ref(), kind, geometry)
                .map_err(|e| source.geometry_error(unit.file, column, row, e))?;
            if self.lnglat {
                geometry.map(mercator::lng_to_x, mercator::lat_to_y);
            }
            let planes = self.batch_planes(&batch, label, codes)?;
            let vals = batch_values(&batch, self.value.as_deref(), label, values)?;
            f(row, geometry, vals, planes);
            row += batch.num_rows() as u64;
        }
        Ok(())
    }

    /// What the geometry column of file `file` holds.
    fn geometry_kind(&self, file: usize) -> GeometryKind {
        self.geometry_kinds
            .get(file)
            .or(self.geometry_kinds.first())
            .copied()
            .unwrap_or(GeometryKind::Wkb)
    }

    /// For [`GeometryKernel::GeoPandas`]: where each of `units` starts
    /// among the vertices of the whole input (every row before it, read),
    /// in `units` order; empty for other plans.
    fn vertex_bases(&self, source: &Source, units: &[Unit]) -> Result<Vec<VertexBase>, AggError> {
        if !(self.glyph == Glyph::GeometryLines
            && self.geometry_kernel == GeometryKernel::GeoPandas)
        {
            return Ok(Vec::new());
        }
        // Vertices and the last one of every unit of the input, in order.
        let all = source.units(self.unit_rows());
        // Each unit's first row, vertices and last vertex.
        type Count = Result<(u64, u64, Option<(f64, f64)>), AggError>;
        let counts: Vec<Count> = all
            .par_iter()
            .map(|u| {
                let mut scratch = Scratch::default();
                let (mut n, mut last) = (0u64, None);
                self.for_each_geometry_batch(source, u, &mut scratch, |_, g, _, _| {
                    n += g.xs.len() as u64;
                    if let (Some(&x), Some(&y)) = (g.xs.last(), g.ys.last()) {
                        last = Some((x, y));
                    }
                })?;
                Ok((u.first_row, n, last))
            })
            .collect();
        let mut starts = BTreeMap::new();
        let mut base = VertexBase::default();
        for c in counts {
            let (first_row, n, last) = c?;
            starts.insert(first_row, base);
            base.index += n;
            if let Some(l) = last {
                base.before = l;
            }
        }
        Ok(units
            .iter()
            .map(|u| starts.get(&u.first_row).copied().unwrap_or_default())
            .collect())
    }

    /// Line geometries ([`Glyph::GeometryLines`]) of `unit`, row by row in
    /// order, each part's segments as Datashader's kernel flags them
    /// ([`line::geometry_segments`]): plain, or antialiased (a two-stage
    /// reduction draws each row into a partial of its own and folds the
    /// cells it touched into `p`, as Datashader's second stage does).
    fn geometry_lines_into(
        &self,
        source: &Source,
        unit: &Unit,
        base: VertexBase,
        p: &mut Partial,
        scratch: &mut Scratch,
    ) -> Result<(), AggError> {
        let kernel = self.geometry_kernel;
        let plain = LineRaster::new(&self.geometry);
        let aa = (self.line_width > 0.0)
            .then(|| AaRaster::new(&self.geometry, self.line_width, self.aa_overwrite));
        let mut px = LinePixels::new(self);
        let mut line_p = scratch.aa_line.take().filter(|l| l.cells() == self.cells());
        if aa.is_some() && self.aa_two_stage && line_p.is_none() {
            line_p = Some(self.new_partial());
        }
        let mut cells = std::mem::take(&mut scratch.aa_cells);
        let sink = self.aa_sink();
        let two_stage = self.aa_two_stage;
        let mut base = base;
        let result =
            self.for_each_geometry_batch(source, unit, scratch, |first_row, g, values, codes| {
                for k in 0..g.num_rows() {
                    let row = first_row + k as u64;
                    let v = row_vertex(row, k, values, codes);
                    let Some(r) = &aa else {
                        for j in g.row_parts(k) {
                            line::geometry_segments(g, j, kernel, base, |s| {
                                plain.segment(Some(s.start), s.a, s.b, |pixel| {
                                    px.push(&v, pixel, p)
                                });
                            });
                        }
                        continue;
                    };
                    let target = match &mut line_p {
                        Some(l) => l,
                        None => &mut *p,
                    };
                    let key = sink.key(row);
                    let mut emit = |a: AaPixel| {
                        let cell = sink.add(target, &v, a, key);
                        if two_stage {
                            cells.push(cell);
                        }
                    };
                    for j in g.row_parts(k) {
                        line::geometry_segments(g, j, kernel, base, |s| {
                            r.segment(s.start, s.end, s.a, s.b, s.m, &mut emit);
                        });
                    }
                    if let Some(l) = &mut line_p {
                        p.fold_cells(l, &cells);
                        cells.clear();
                    }
                }
                base.index += g.xs.len() as u64;
                if let (Some(&x), Some(&y)) = (g.xs.last(), g.ys.last()) {
                    base.before = (x, y);
                }
            });
        px.flush(p);
        scratch.aa_line = line_p;
        scratch.aa_cells = cells;
        result
    }

    /// Read `unit` batch by batch, in row order, and hand each batch's
    /// first row (its position in the whole input), cells (pixel, times the
    /// plane count plus the category for categorical reductions; [`NO_CELL`]
    /// where the point is dropped) and values (NaN where missing) to `f`.
    fn for_each_batch(
        &self,
        source: &Source,
        unit: &Unit,
        scratch: &mut Scratch,
        mut f: impl FnMut(Rows<'_>, &[u32], Option<&[f64]>, Option<&[f64]>),
    ) -> Result<(), AggError> {
        let mut row = unit.first_row;
        let cols = self.columns();
        let label = source.file_label(unit.file);
        let not_numeric = |column: &str, found: String| SourceError::NotNumeric {
            path: label.to_string(),
            column: column.to_string(),
            found,
        };
        let Scratch {
            pix,
            codes,
            values,
            lookups,
            projected,
            splat_xy,
            splat: splat_buf,
            ..
        } = scratch;
        // Only the pages whose x and y can fall on the canvas (where the
        // file has a page index); a batch then holds several runs of rows,
        // each handed to `f` with its own first row.
        let g = &self.geometry;
        let (px, py) = mercator::projections(self.lnglat);
        let (x_reach, y_reach) = self.reach();
        let on_x = |lo: f64, hi: f64| !(px(hi) < x_reach.0 || px(lo) > x_reach.1);
        let on_y = |lo: f64, hi: f64| !(py(hi) < y_reach.0 || py(lo) > y_reach.1);
        let runs = source.unit_row_runs(unit, &[(&self.x, &on_x), (&self.y, &on_y)]);
        let runs = runs.filter(|r| r.as_slice() != [(0, unit.rows)]);
        if runs.as_ref().is_some_and(Vec::is_empty) {
            return Ok(());
        }
        // Points with a radius: whether their rows are needed per cell.
        let by_row = self.spec.reduction.selection().is_some()
            || matches!(self.kind, ReductionKind::First | ReductionKind::Last);
        // The others take runs of cells (one value per point).
        let by_runs = !by_row;
        // The run being handed out, and how many of its rows already were.
        let (mut run, mut done) = (0usize, 0usize);
        for batch in self.reader()(source, unit, &cols, BATCH_ROWS, runs.as_deref())? {
            let batch = batch?;
            let col = |name: &str| batch_column(&batch, name, label);
            let xa = col(&self.x)?;
            let ya = col(&self.y)?;
            let binned = if self.lnglat {
                kernel::bin_lnglat(&self.geometry, xa.as_ref(), ya.as_ref(), pix, projected)
            } else {
                kernel::bin_arrays(&self.geometry, xa.as_ref(), ya.as_ref(), pix)
            };
            if let Err(axis) = binned {
                let (name, arr) = if axis == kernel::NotNumeric::X {
                    (&self.x, &xa)
                } else {
                    (&self.y, &ya)
                };
                return Err(not_numeric(name, arr.data_type().to_string()).into());
            }
            let mut planes = None;
            if let Some((c, map)) = &self.by {
                batch_codes(&batch, c, map, label, codes)?;
                let planes = *planes.insert(map.len() as u32);
                // Datashader codes a null (or unlisted) category as -1, and
                // NumPy's indexing sends -1 to the last plane: do the same.
                let none_plane = planes.saturating_sub(1);
                for (p, &code) in pix.iter_mut().zip(codes.iter()) {
                    *p = if *p == NO_PIXEL || planes == 0 {
                        NO_CELL
                    } else if code == CategoryMap::NONE {
                        *p * planes + none_plane
                    } else {
                        *p * planes + code
                    };
                }
            }
            let vals = batch_values(&batch, self.value.as_deref(), label, values)?;
            let lookup = self.spec.reduction.lookup_column();
            let looks = batch_values(&batch, lookup, label, lookups)?;
            if self.splat.is_some() {
                let [sx, sy] = splat_xy;
                for (v, a, p) in [(&mut *sx, &xa, px), (&mut *sy, &ya, py)] {
                    v.clear();
                    // Checked numeric by bin_arrays above.
                    numeric_to_f64(a.as_ref(), v);
                    if self.lnglat {
                        v.iter_mut().for_each(|x| *x = p(*x));
                    }
                }
            }
            // Hand rows `r` (from row `first`) to `f`, each point's cells
            // expanded when points have a radius.
            let mut emit = |first: u64, r: std::ops::Range<usize>| {
                let cells = &pix[r.clone()];
                let vals = vals.map(|v| &v[r.clone()]);
                let looks = looks.map(|v| &v[r.clone()]);
                let Some(splat) = &self.splat else {
                    return f(Rows::From(first), cells, vals, looks);
                };
                // A few points at a time, so that the expanded cells stay
                // around a million whatever the radius.
                let step = splat.points_per_chunk();
                for at in (r.start..r.end).step_by(step) {
                    let c = at..(at + step).min(r.end);
                    let local = c.start - r.start..c.end - r.start;
                    let pts = SplatPoints {
                        first_row: first + local.start as u64,
                        own: &cells[local.clone()],
                        xs: &splat_xy[0][c.clone()],
                        ys: &splat_xy[1][c.clone()],
                        planes: planes.map(|n| (&codes[c.clone()], n)),
                        values: vals.map(|v| &v[local.clone()]),
                        lookups: looks.map(|v| &v[local.clone()]),
                        rows: by_row,
                    };
                    let b = &mut *splat_buf;
                    if by_runs {
                        splat.expand_runs(g, &pts, b);
                        let stride = planes.map_or(1, |n| n as usize);
                        let values = vals.map(|_| b.run_values.as_slice());
                        f(Rows::Runs(&b.runs, stride), &[], values, None);
                        continue;
                    }
                    splat.expand(g, &pts, b);
                    f(
                        // Reductions that do not go by row ignore it.
                        if by_row {
                            Rows::Each(&b.rows)
                        } else {
                            Rows::From(first)
                        },
                        &b.cells,
                        vals.map(|_| b.values.as_slice()),
                        looks.map(|_| b.lookups.as_slice()),
                    );
                }
            };
            let Some(runs) = &runs else {
                emit(row, 0..pix.len());
                row += pix.len() as u64;
                continue;
            };
            let mut at = 0;
            while at < pix.len() {
                let Some(&(start, rows)) = runs.get(run) else {
                    break;
                };
                let take = (rows - done).min(pix.len() - at);
                let first = unit.first_row + (start + done) as u64;
                emit(first, at..at + take);
                at += take;
                done += take;
                if done == rows {
                    (run, done) = (run + 1, 0);
                }
            }
        }
        Ok(())
    }

    /// Run the aggregation over the whole source.
    pub fn run(&self, source: &Source) -> Result<Aggregate, AggError> {
        self.run_with_progress(source, &|_| {})
    }

    /// Run the aggregation, calling `progress` with the number of rows of
    /// each finished work unit (from any thread).
    pub fn run_with_progress(
        &self,
        source: &Source,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<Aggregate, AggError> {
        self.run_units(source, &self.units(source), progress)
    }

    /// Run the aggregation over `units` (from [`AggregationPlan::units`]),
    /// for callers that also want to know what will be read.
    pub fn run_units(
        &self,
        source: &Source,
        units: &[Unit],
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<Aggregate, AggError> {
        let choice = self.choose_engine(units)?;
        self.run_units_on(choice.engine, source, units, progress)
    }

    /// Pick the engine for reading `units`, following the request's
    /// [`Device`]: `cpu` and `gpu` as asked (`gpu` fails without an
    /// adapter); `auto` takes the GPU only when the units hold at least
    /// [`AUTO_MIN_ROWS`](super::AUTO_MIN_ROWS) rows and the adapter is real
    /// hardware (a software rasteriser is slower than the CPU kernels).
    /// Without the `gpu` feature, `gpu` is [`AggError::NoGpuSupport`] and
    /// `auto` the CPU.
    pub fn choose_engine(&self, units: &[Unit]) -> Result<EngineChoice, AggError> {
        let cpu = |reason: String| EngineChoice {
            engine: Engine::Cpu,
            reason,
        };
        #[cfg(feature = "gpu")]
        let on_gpu = |g: std::sync::Arc<Gpu>, how: &str| EngineChoice {
            reason: format!("gpu{how}: {}", g.adapter()),
            engine: Engine::Gpu(g),
        };
        if self.glyph != Glyph::Points {
            return Ok(cpu("cpu (lines are drawn on the CPU)".into()));
        }
        if self.splat.is_some() {
            return Ok(cpu("cpu (points with a radius are drawn on the CPU)".into()));
        }
        if self.spec.reduction.selection().is_some() || self.spec.reduction.narrow_dtype().is_some()
        {
            return Ok(cpu(format!(
                "cpu ({} runs on the CPU)",
                self.spec.reduction
            )));
        }
        match self.device {
            Device::Cpu => Ok(cpu("cpu".into())),
            #[cfg(not(feature = "gpu"))]
            Device::Gpu => Err(AggError::NoGpuSupport),
            #[cfg(not(feature = "gpu"))]
            Device::Auto => {
                let _ = units;
                Ok(cpu(format!("cpu (auto: {})", AggError::NoGpuSupport)))
            }
            #[cfg(feature = "gpu")]
            Device::Gpu => Ok(on_gpu(Gpu::shared()?, "")),
            #[cfg(feature = "gpu")]
            Device::Auto => {
                let rows: u64 = units.iter().map(|u| u.rows as u64).sum();
                if rows < gpu::AUTO_MIN_ROWS {
                    return Ok(cpu(format!(
                        "cpu (auto: {rows} rows to read, under the {} that pay for a GPU)",
                        gpu::AUTO_MIN_ROWS
                    )));
                }
                // Probe first: opening a device and compiling its kernels
                // costs memory that a CPU run should not pay.
                match gpu::probe() {
                    Err(e) => Ok(cpu(format!("cpu (auto: {e})"))),
                    Ok(a) if a.software => Ok(cpu(format!(
                        "cpu (auto: the only adapter, {a}, is slower than the CPU kernels)"
                    ))),
                    Ok(_) => match Gpu::shared() {
                        Ok(g) => Ok(on_gpu(g, " (auto)")),
                        Err(e) => Ok(cpu(format!("cpu (auto: {e})"))),
                    },
                }
            }
        }
    }

    /// [`AggregationPlan::run_units`] on a chosen engine.
    pub fn run_units_on(
        &self,
        engine: Engine,
        source: &Source,
        units: &[Unit],
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<Aggregate, AggError> {
        Ok(self.finish(self.partial_on(engine, source, units, progress)?))
    }

    /// [`AggregationPlan::run_units_on`], stopping before the partial is
    /// finalized.
    pub fn partial_on(
        &self,
        engine: Engine,
        source: &Source,
        units: &[Unit],
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<Partial, AggError> {
        if self.glyph == Glyph::Area {
            return self.area_partial(source, units, progress);
        }
        if self.line_width > 0.0 && self.glyph == Glyph::Line {
            return self.aa_lines_partial(source, units, progress);
        }
        let lines = self.lines_down_rows();
        let ends: Ends = Mutex::new(vec![None; units.len() * lines]);
        let bases = self.vertex_bases(source, units)?;
        let total = match engine {
            #[cfg(feature = "gpu")]
            Engine::Gpu(g) => Some(self.run_gpu(&g, source, units, progress)?),
            // Antialiased coverage adds in float32: in row order too.
            Engine::Cpu if self.kind.is_exact_commutative() && self.line_width == 0.0 => {
                self.run_per_worker(source, units, &bases, &ends, progress)?
            }
            Engine::Cpu => self.run_ordered(source, units, &bases, &ends, progress)?,
        };
        let mut total = total.unwrap_or_else(|| self.new_partial());
        if lines > 0 {
            // What crosses between units, in row order, after all of them,
            // line after line.
            let ends = ends.into_inner().unwrap_or_else(|p| p.into_inner());
            let r = LineRaster::new(&self.geometry);
            let mut px = LinePixels::new(self);
            for j in 0..lines {
                px.key_offset = line_key_offset(j);
                let of_line = ends.iter().skip(j).step_by(lines).flatten().copied();
                line::stitch(&r, of_line, |v, pixel| px.push(v, pixel, &mut total));
            }
            px.flush(&mut total);
        }
        Ok(total)
    }

    /// The GPU path: workers on the rayon pool read and bin units (the
    /// same kernels as the CPU path) into chunks of kept points; one thread
    /// feeds them to the device through a bounded queue, so memory stays at
    /// a few chunks whatever the input size. Every GPU reduction combines
    /// by commutative integer operations, so the order in which chunks
    /// arrive does not change the result.
    #[cfg(feature = "gpu")]
    fn run_gpu(
        &self,
        g: &Gpu,
        source: &Source,
        units: &[Unit],
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<Partial, AggError> {
        if self.splat.is_some() {
            return Err(AggError::LineUnsupported {
                what: "points with a radius on the GPU: they are drawn on the CPU; use Engine::Cpu",
            });
        }
        let scale = match (&self.kind, &self.value) {
            (
                ReductionKind::Sum | ReductionKind::Mean | ReductionKind::Var | ReductionKind::Std,
                Some(col),
            ) => {
                let max_abs =
                    auto_range(source, col)?.map_or(0.0, |(lo, hi)| lo.abs().max(hi.abs()));
                FixedScale::for_max_abs(max_abs)
            }
            _ => FixedScale { k: 0 },
        };
        let mut canvas = g.canvas(self.kind, self.cells(), scale, GpuOptions::default())?;
        let encoding = canvas.encoding();
        let workers = rayon::current_num_threads().clamp(1, units.len().max(1));
        let (tx, rx) = std::sync::mpsc::sync_channel::<PointChunk>(workers + 1);
        let pool: Mutex<Vec<PointChunk>> = Mutex::default();
        let take = || pool.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let next = AtomicUsize::new(0);
        let failed = AtomicBool::new(false);
        let (produced, fed) = std::thread::scope(|s| {
            let feeder = s.spawn(|| -> Result<(), GpuError> {
                for chunk in rx {
                    canvas.accumulate(&chunk)?;
                    pool.lock().unwrap_or_else(|p| p.into_inner()).push(chunk);
                }
                Ok(())
            });
            let produced = (0..workers).into_par_iter().try_for_each(|_| {
                let mut scratch = Scratch::default();
                while let Some((_, u)) = next_unit(units, &next, &failed) {
                    let mut chunk = take().unwrap_or_default();
                    chunk.clear();
                    let mut too_large = None;
                    let read =
                        self.for_each_batch(source, u, &mut scratch, |rows, cells, values, _| {
                            // Plans with a radius run on the CPU (see
                            // `run_gpu`'s check), so rows are consecutive.
                            if let (None, Rows::From(row)) = (too_large, rows) {
                                too_large = chunk.push(encoding, row, cells, values).err();
                            }
                        });
                    let result = read.and_then(|()| match too_large {
                        Some(value) => Err(AggError::from(GpuError::ValueOutOfRange {
                            column: self.value.clone().unwrap_or_default(),
                            value,
                        })),
                        None => Ok(()),
                    });
                    if let Err(e) = result {
                        failed.store(true, Ordering::Relaxed);
                        return Err(e);
                    }
                    if tx.send(chunk).is_err() {
                        // The feeder stopped on a GPU error, reported below.
                        break;
                    }
                    progress(u.rows as u64);
                }
                Ok(())
            });
            drop(tx);
            let fed = feeder.join().unwrap_or_else(|_| {
                Err(GpuError::Failed {
                    adapter: g.adapter().name.clone(),
                    message: "the GPU feeder thread panicked".into(),
                })
            });
            (produced, fed)
        });
        fed?;
        produced?;
        Ok(canvas.finish()?)
    }

    /// The work units that can hold points inside the canvas, in row
    /// order: row groups whose x or y statistics lie wholly outside the
    /// ranges are skipped, since every one of their points would be dropped.
    ///
    /// With a [`Shard`], only the units of the shard's row groups: each
    /// row group goes to the shard [`Shard::owns`] names from the row
    /// group's first row, so shards split the input into consecutive runs
    /// of about equal rows, the same way in every job.
    pub fn units(&self, source: &Source) -> Vec<Unit> {
        let g = &self.geometry;
        let (px, py) = mercator::projections(self.lnglat);
        let all = source.units(self.unit_rows());
        let base = all.first().map_or(0, |u| u.first_row);
        let total = source.num_rows();
        let mut keep: Vec<bool> = all.iter().map(|u| self.owns(u, base, total)).collect();
        if self.shard_reads_neighbours() {
            if let (Some(a), Some(b)) =
                (keep.iter().position(|&k| k), keep.iter().rposition(|&k| k))
            {
                if a > 0 {
                    keep[a - 1] = true;
                }
                if self.line_width > 0.0 && b + 1 < keep.len() {
                    keep[b + 1] = true;
                }
            }
        }
        all.into_iter()
            .zip(keep)
            .filter_map(|(u, k)| k.then_some(u))
            .filter(|u| {
                let range = |col: &str, project: mercator::Projection| {
                    source
                        .row_group_range(u.file, u.row_group, col)
                        .map(|(lo, hi)| (project(lo), project(hi)))
                };
                let outside = |lohi: Option<(f64, f64)>, r: (f64, f64)| {
                    lohi.is_some_and(|(lo, hi)| hi < r.0 || lo > r.1)
                };
                match self.glyph {
                    Glyph::Points => {
                        let (xr, yr) = self.reach();
                        !(outside(range(&self.x, px), xr) || outside(range(&self.y, py), yr))
                    }
                    // A segment can cross the canvas with both ends outside
                    // it, but not when every vertex of every row is beyond
                    // the same edge. An area also fills down to its stack,
                    // so only its x says.
                    Glyph::RowLines | Glyph::RowAreas => {
                        // The range over every vertex's coordinate, or
                        // None when a column has no statistics.
                        let union =
                            |side: fn(&(Coord, Coord)) -> &Coord, project: mercator::Projection| {
                                let mut all: Option<(f64, f64)> = None;
                                for v in &self.vertices {
                                    let r = match side(v) {
                                        Coord::Column(col) => range(col, project)?,
                                        Coord::Constant(c) => (project(*c), project(*c)),
                                    };
                                    all = Some(all.map_or(r, |a| (a.0.min(r.0), a.1.max(r.1))));
                                }
                                all
                            };
                        let xs = union(|v| &v.0, px);
                        let ys = (self.glyph == Glyph::RowLines)
                            .then(|| union(|v| &v.1, py))
                            .flatten();
                        !(outside(xs, g.x.range) || outside(ys, g.y.range))
                    }
                    // Lines down the rows join one unit to the next, and
                    // list columns have no statistics here.
                    _ => true,
                }
            })
            .collect()
    }

    /// Rows per work unit. A row of row lines draws hundreds of pixels, not
    /// one: smaller units, so that even one row group spreads over every
    /// core (the size is fixed, so the result still never depends on
    /// threads).
    fn unit_rows(&self) -> usize {
        if !matches!(
            self.glyph,
            Glyph::RowLines
                | Glyph::RaggedLines
                | Glyph::RowAreas
                | Glyph::RaggedAreas
                | Glyph::GeometryLines
        ) {
            return UNIT_ROWS;
        }
        if self.line_width > 0.0 {
            // An antialiased vertex covers tens of pixels: units of about
            // a million vertices.
            ((1usize << 20) / self.vertices.len().max(16)).clamp(64, ROW_LINE_UNIT_ROWS)
        } else {
            ROW_LINE_UNIT_ROWS
        }
    }

    /// Count and `any` (per category or not) are exact and commutative, so
    /// each worker folds whole units into its own canvas and the canvases
    /// merge in any order: one canvas per worker, not per unit.
    fn run_per_worker(
        &self,
        source: &Source,
        units: &[Unit],
        bases: &[VertexBase],
        ends: &Ends,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<Option<Partial>, AggError> {
        let workers = self.workers.min(units.len()).max(1);
        let next = AtomicUsize::new(0);
        let failed = AtomicBool::new(false);
        let parts: Vec<Result<Partial, AggError>> = (0..workers)
            .into_par_iter()
            .map(|_| {
                let mut p = self.new_partial();
                let mut scratch = Scratch::default();
                while let Some((i, u)) = next_unit(units, &next, &failed) {
                    let base = bases.get(i).copied().unwrap_or_default();
                    match self.unit_into(source, u, base, &mut p, &mut scratch) {
                        Ok(e) => store_ends(ends, i, e),
                        Err(e) => {
                            failed.store(true, Ordering::Relaxed);
                            return Err(e);
                        }
                    }
                    progress(u.rows as u64);
                }
                Ok(p)
            })
            .collect();
        let mut acc: Option<Partial> = None;
        for p in parts {
            let p = p?;
            match &mut acc {
                None => acc = Some(p),
                Some(a) => a.merge(p)?,
            }
        }
        Ok(acc)
    }

    /// Order-sensitive reductions (float sums, min/max with signed zeros,
    /// first/last) fold consecutive units into groups whose size depends
    /// only on the data and the canvas, never on the thread count; groups
    /// run in parallel and merge strictly in row order.
    fn run_ordered(
        &self,
        source: &Source,
        units: &[Unit],
        bases: &[VertexBase],
        ends: &Ends,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<Option<Partial>, AggError> {
        // Enough rows per group to amortise a canvas allocation and merge.
        // At most about 16 groups (so few merges), and enough rows per group
        // to amortise a canvas reset and merge; never thread-dependent.
        // A row of a line per row weighs its vertices (an antialiased one
        // its pixels, tens per vertex) against a point's one pixel.
        let weight = match self.glyph {
            Glyph::RowLines
            | Glyph::RowAreas
            | Glyph::RaggedLines
            | Glyph::RaggedAreas
            | Glyph::GeometryLines => {
                let per_row = if matches!(
                    self.glyph,
                    Glyph::RaggedLines | Glyph::RaggedAreas | Glyph::GeometryLines
                ) {
                    16
                } else {
                    self.vertices.len()
                };
                per_row * if self.line_width > 0.0 { 64 } else { 4 }
            }
            _ => 1,
        };
        let all_rows: usize = units.iter().map(|u| u.rows * weight).sum();
        let group_rows = (4 * self.cells()).max(UNIT_ROWS).max(all_rows.div_ceil(16));
        // Each group with the index of its first unit.
        let mut groups: Vec<(usize, &[Unit])> = Vec::new();
        let mut start = 0;
        let mut rows = 0;
        for (i, u) in units.iter().enumerate() {
            rows += u.rows * weight;
            if rows >= group_rows {
                groups.push((start, &units[start..=i]));
                start = i + 1;
                rows = 0;
            }
        }
        if start < units.len() {
            groups.push((start, &units[start..]));
        }
        // Workers take groups in order; finished partials wait in a small
        // reorder buffer and merge strictly in group order. A worker does
        // not start a group more than `workers` ahead of the next one to
        // merge, so at most about two canvases per worker are alive.
        let workers = self.workers.min(groups.len()).max(1);
        let next_group = AtomicUsize::new(0);
        let merge = Mutex::new(OrderedMerge::default());
        let advanced = Condvar::new();
        let lock = || {
            merge
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
        };
        (0..workers).into_par_iter().for_each(|_| {
            let mut scratch = Scratch::default();
            loop {
                let gi = next_group.fetch_add(1, Ordering::Relaxed);
                let Some(&(first, group)) = groups.get(gi) else {
                    break;
                };
                {
                    let mut st = lock();
                    while gi > st.next + workers && st.error.is_none() {
                        st = advanced
                            .wait(st)
                            .unwrap_or_else(|poisoned| poisoned.into_inner());
                    }
                    if st.error.is_some() {
                        break;
                    }
                }
                let mut p = lock().free.pop().unwrap_or_else(|| self.new_partial());
                let mut result = Ok(());
                for (k, u) in group.iter().enumerate() {
                    let base = bases.get(first + k).copied().unwrap_or_default();
                    result = self
                        .unit_into(source, u, base, &mut p, &mut scratch)
                        .map(|e| store_ends(ends, first + k, e));
                    if result.is_err() {
                        break;
                    }
                    progress(u.rows as u64);
                }
                let mut st = lock();
                match result {
                    Err(e) => {
                        st.error.get_or_insert(e);
                        advanced.notify_all();
                        break;
                    }
                    Ok(()) => {
                        st.pending.insert(gi, p);
                        let st = &mut *st;
                        while let Some(p) = st.pending.remove(&st.next) {
                            match &mut st.total {
                                None => st.total = Some(p),
                                Some(t) => {
                                    let mut p = p;
                                    if let Err(e) = t.merge_and_reset(&mut p) {
                                        st.error.get_or_insert(e);
                                    }
                                    st.free.push(p);
                                }
                            }
                            st.next += 1;
                        }
                        advanced.notify_all();
                    }
                }
            }
        });
        let st = merge
            .into_inner()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        match st.error {
            Some(e) => Err(e),
            None => Ok(st.total),
        }
    }

    /// Turn the merged partial into the finished aggregate.
    pub fn finish(&self, total: Partial) -> Aggregate {
        Aggregate {
            width: self.geometry.width(),
            height: self.geometry.height(),
            categories: self.categories().map(<[String]>::to_vec),
            n: self.kind.is_n().then_some(self.spec.reduction.n),
            values: total.finalize(),
            x_range: self.geometry.x.range,
            y_range: self.geometry.y.range,
        }
    }
}

/// The next unit a worker should take from the shared counter `next`, or
/// `None` when all are taken or another worker failed.
fn next_unit<'a>(
    units: &'a [Unit],
    next: &AtomicUsize,
    failed: &AtomicBool,
) -> Option<(usize, &'a Unit)> {
    let i = next.fetch_add(1, Ordering::Relaxed);
    let u = units.get(i)?;
    (!failed.load(Ordering::Relaxed)).then_some((i, u))
}

/// How [`AggregationPlan::reader`] reads a unit's batches.
type ReadUnit = fn(
    &Source,
    &Unit,
    &[&str],
    usize,
    Option<&[(usize, usize)]>,
) -> Result<UnitReader, SourceError>;

/// Column `name` of `batch`, read from the input labelled `label`.
fn batch_column<'b>(
    batch: &'b arrow_array::RecordBatch,
    name: &str,
    label: &str,
) -> Result<&'b arrow_array::ArrayRef, SourceError> {
    batch
        .column_by_name(name)
        .ok_or_else(|| SourceError::MissingColumn {
            path: label.to_string(),
            column: name.to_string(),
            available: batch
                .schema()
                .fields()
                .iter()
                .map(|f| f.name().clone())
                .collect(),
        })
}

/// The codes of category column `name` of `batch` under `map`, in `codes`.
fn batch_codes(
    batch: &arrow_array::RecordBatch,
    name: &str,
    map: &CategoryMap,
    label: &str,
    codes: &mut Vec<u32>,
) -> Result<(), AggError> {
    let a = batch_column(batch, name, label)?;
    if !map.codes(a.as_ref(), codes) {
        return Err(SourceError::NotCategorical {
            path: label.to_string(),
            column: name.to_string(),
            found: a.data_type().to_string(),
        }
        .into());
    }
    Ok(())
}

/// The value column `name` of `batch` as `f64` (NaN where null), in
/// `values`; `None` without a value column.
fn batch_values<'v>(
    batch: &arrow_array::RecordBatch,
    name: Option<&str>,
    label: &str,
    values: &'v mut Vec<f64>,
) -> Result<Option<&'v [f64]>, AggError> {
    let Some(name) = name else { return Ok(None) };
    let a = batch_column(batch, name, label)?;
    values.clear();
    if !numeric_to_f64(a.as_ref(), values) {
        return Err(SourceError::NotNumeric {
            path: label.to_string(),
            column: name.to_string(),
            found: a.data_type().to_string(),
        }
        .into());
    }
    Ok(Some(values.as_slice()))
}

/// What each unit of lines down the rows left for [`line::stitch`]: the
/// ends of line `j` in unit `i` at `i * lines + j`.
type Ends = Mutex<Vec<Option<LineEnds>>>;

fn store_ends(ends: &Ends, unit: usize, e: Vec<Option<LineEnds>>) {
    if e.is_empty() {
        return;
    }
    let mut slots = ends.lock().unwrap_or_else(|p| p.into_inner());
    let at = unit * e.len();
    for (slot, e) in slots.iter_mut().skip(at).zip(e) {
        *slot = e;
    }
}

/// Added to the rows of line `j` of several down the rows, for the
/// `first`/`last` keys: Datashader draws the lines one after the other, so
/// every row of line `j` comes before any of line `j + 1` (rows stay below
/// 2^40, a trillion).
fn line_key_offset(j: usize) -> u64 {
    (j as u64) << 40
}

/// Row `row`'s vertex (at position `k` of its batch), with what the row
/// adds: its value and category plane; x and y are the caller's.
fn row_vertex(row: u64, k: usize, values: Option<&[f64]>, codes: Option<&[u32]>) -> Vertex {
    Vertex {
        row,
        x: f64::NAN,
        y: f64::NAN,
        value: values.map_or(f64::NAN, |v| v[k]),
        plane: codes.map_or(0, |c| c[k]),
    }
}

/// How antialiased pixels go into a partial, fixed for a plan.
#[derive(Debug, Clone, Copy)]
struct AaSink {
    planes: u32,
    with_value: bool,
    last: bool,
    rule: AaRule,
}

impl AaSink {
    /// The pick key of line `line` (its position among the lines) for
    /// `first`/`last`.
    fn key(&self, line: u64) -> u64 {
        pick_key(line, self.last)
    }

    /// Add pixel `px` of a segment of vertex `v`'s row, of the line with
    /// pick key `key`; its cell.
    #[inline(always)]
    fn add(&self, p: &mut Partial, v: &Vertex, px: AaPixel, key: u64) -> u32 {
        let cell = px.index.wrapping_mul(self.planes).wrapping_add(v.plane);
        // Any number where the reduction has no column.
        let field = if self.with_value { v.value } else { 0.0 };
        p.aa_append(cell as usize, field, px.value, px.prev, key, self.rule);
        cell
    }
}

/// Pixels a line appends, buffered before they go into a partial: their
/// cells, and their rows and values where the reduction uses them.
#[derive(Debug)]
struct LinePixels {
    planes: u32,
    /// Pixels of segments whose first row is before it are not drawn
    /// (one before [`AggregateRequest::draw_from_row`]).
    from_row: u64,
    /// How many first rows from `from_row` on are drawn (up to one before
    /// [`AggregateRequest::draw_until_row`]): one unsigned comparison per
    /// pixel tests both ends.
    row_span: u64,
    /// Added to the rows pushed ([`line_key_offset`]).
    key_offset: u64,
    with_rows: bool,
    with_values: bool,
    /// Count straight into the partial's counts instead of buffering.
    direct: bool,
    /// Pixels buffered.
    len: usize,
    /// [`LinePixels::FLUSH`] slots each (rows and values only where used):
    /// fixed buffers written by index, so the hot loop has no capacity
    /// check and no reload of a `Vec`'s length.
    cells: Box<[u32]>,
    rows: Box<[u64]>,
    values: Box<[f64]>,
}

impl LinePixels {
    /// Pixels buffered before a flush.
    const FLUSH: usize = 1 << 14;

    fn new(plan: &AggregationPlan) -> LinePixels {
        let with_rows = matches!(plan.kind, ReductionKind::First | ReductionKind::Last)
            || plan.spec.reduction.selection().is_some();
        let with_values = plan.value.is_some();
        let slots = |used: bool| if used { Self::FLUSH } else { 0 };
        LinePixels {
            planes: plan.planes(),
            from_row: plan.draw_from_row.saturating_sub(1),
            row_span: plan.segment_rows(),
            key_offset: 0,
            with_rows,
            with_values,
            // Counted straight into a `uint32` count (or an `any`); narrow
            // counts go by the buffer.
            direct: matches!(plan.kind, ReductionKind::Count | ReductionKind::Any)
                && !with_values
                && plan.spec.reduction.narrow_dtype().is_none(),
            len: 0,
            cells: vec![0; Self::FLUSH].into_boxed_slice(),
            rows: vec![0; slots(with_rows)].into_boxed_slice(),
            values: vec![0.0; slots(with_values)].into_boxed_slice(),
        }
    }

    /// Add pixel `pixel` (its index) of a segment of vertex `v`'s row to `p`, now or at
    /// the next flush (which comes by itself when the buffer is full, so
    /// it stays small however many pixels a segment covers).
    #[inline(always)]
    fn push(&mut self, v: &Vertex, pixel: u32, p: &mut Partial) {
        if self.planes == 0 || v.row.wrapping_sub(self.from_row) >= self.row_span {
            return;
        }
        // No overflow: the plan keeps pixels times planes under `NO_CELL`.
        let cell = pixel.wrapping_mul(self.planes).wrapping_add(v.plane);
        if self.direct {
            if let Some(c) = p.counts_mut() {
                if let Some(c) = c.get_mut(cell as usize) {
                    *c = c.wrapping_add(1);
                }
                return;
            }
            if let Some(a) = p.anys_mut().and_then(|a| a.get_mut(cell as usize)) {
                *a = true;
            }
            return;
        }
        if self.len >= Self::FLUSH {
            self.flush_full(p);
        }
        let at = self.len;
        if let Some(c) = self.cells.get_mut(at) {
            *c = cell;
        }
        if self.with_rows {
            if let Some(r) = self.rows.get_mut(at) {
                *r = v.row + self.key_offset;
            }
        }
        if self.with_values {
            if let Some(x) = self.values.get_mut(at) {
                *x = v.value;
            }
        }
        self.len = at + 1;
    }

    /// Add a column of pixels, all at once where the partial is counted
    /// (or marked) straight.
    #[inline(always)]
    fn push_run(&mut self, v: &Vertex, run: PixelRun, p: &mut Partial) {
        if v.row.wrapping_sub(self.from_row) >= self.row_span {
            return;
        }
        if self.direct && self.planes == 1 {
            let (first, step) = (i64::from(run.first), run.step);
            if let Some(c) = p.counts_mut() {
                for k in 0..run.len as i64 {
                    if let Some(c) = c.get_mut((first + k * step) as usize) {
                        *c = c.wrapping_add(1);
                    }
                }
                return;
            }
            if let Some(a) = p.anys_mut() {
                for k in 0..run.len as i64 {
                    if let Some(a) = a.get_mut((first + k * step) as usize) {
                        *a = true;
                    }
                }
                return;
            }
        }
        for pixel in run.pixels() {
            self.push(v, pixel, p);
        }
    }

    /// [`LinePixels::flush`] from the hot loop, kept out of it.
    #[cold]
    #[inline(never)]
    fn flush_full(&mut self, p: &mut Partial) {
        self.flush(p);
    }

    fn flush(&mut self, p: &mut Partial) {
        let n = self.len;
        let cells = &self.cells[..n];
        let values = self.with_values.then(|| &self.values[..n]);
        if self.with_rows {
            p.accumulate_rows(&self.rows[..n], cells, values);
        } else {
            p.accumulate(0, cells, values);
        }
        self.len = 0;
    }
}

/// Plan and run `req` over `source`.
///
/// ```
/// use pointillist::aggregate::{aggregate, AggValues, AggregateRequest};
/// use pointillist::source::Source;
///
/// let source = Source::sample()?;
/// let agg = aggregate(&source, &AggregateRequest::new(80, 60))?;
/// let AggValues::U32(counts) = &agg.values else { unreachable!("count is u32") };
/// assert_eq!(counts.iter().map(|&c| u64::from(c)).sum::<u64>(), source.num_rows());
/// # Ok::<(), pointillist::aggregate::AggError>(())
/// ```
pub fn aggregate(source: &Source, req: &AggregateRequest) -> Result<Aggregate, AggError> {
    AggregationPlan::new(source, req)?.run(source)
}
