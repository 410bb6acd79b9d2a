//! Web-map tiles: XYZ tile maths and rendering one tile.
//!
//! Tile bounds follow Datashader's `MercatorTileDefinition` exactly (origin
//! offset 20037508.34 m, initial resolution 156543.03392804097 m/px at zoom
//! 0, 256-pixel tiles, rows counted from the north in XYZ), so a tile covers
//! the same metres as Datashader's tile of the same `z/x/y`. Unlike
//! Datashader's tiler, tiles are half-open: a point on an edge shared by two
//! tiles belongs to the tile east (or north) of it, and only the world's far
//! edges (east, north) are closed, so the tiles of one zoom level count each
//! point once.
//!
//! Lines and areas ([`TileLayer::with_glyph_of`]) are clipped to each
//! tile's closed bounds, as Datashader clips them to a canvas, so a line's
//! pixels on the two sides of an edge meet; antialiased lines are drawn
//! with a margin ([`TileLayer::margin`]) and cut down to the tile, so a
//! stroke near an edge shades both tiles alike.
//!
//! A tile is an ordinary aggregation ([`crate::aggregate`]) with the tile's
//! bounds as ranges and its upper edges open, shaded ([`crate::shade`]) and
//! encoded as PNG ([`crate::output`]). [`TileLayer`] holds what stays fixed
//! across tiles (columns, reduction, categories, colours);
//! [`zoom_span`] is Datashader's full-pass colour span of one zoom level.
//! Errors are [`TileError`]s (a bad address is a [`TileAddressError`]).
//!
//! ```
//! use pointillist::shade::{How, ShadeOptions};
//! use pointillist::source::Source;
//! use pointillist::tiles::{self, TileId, TileLayer};
//!
//! // The sample data are US points in Web Mercator metres (columns x, y).
//! let source = Source::sample()?;
//! let layer = TileLayer::new().resolve(&source)?;
//! let tile = TileId::new(4, 3, 6)?; // z/x/y: the south-west US
//! let agg = tiles::aggregate_tile(&source, &layer, tile, 256)?;
//! assert!(!tiles::is_blank(&agg));
//! let png = tiles::encode_tile(&agg, &ShadeOptions::default().with_how(How::Log))?;
//! assert!(png.starts_with(b"\x89PNG"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use crate::aggregate::{
    mercator, AggError, AggValues, Aggregate, AggregateRequest, AggregationPlan, Glyph, GlyphSpec,
    ReductionSpec,
};
use std::collections::HashMap;
use std::sync::Arc;

use rayon::prelude::*;

use crate::output::{encode_png, OutputError, PngError, PngOptions};
use crate::shade::{self, ShadeError, ShadeOptions, SharedEqHist, SharedEqHistBuilder};
use crate::source::{Source, SourceError};

/// `(x_range, y_range)` in Web Mercator metres.
pub type Extent = ((f64, f64), (f64, f64));

/// Datashader's `x_origin_offset` / `y_origin_offset`, in metres.
pub const ORIGIN_OFFSET: f64 = 20_037_508.34;

/// Datashader's `initial_resolution`: metres per pixel of a 256-pixel tile
/// at zoom 0 (`2 * pi * 6378137 / 256`).
pub const INITIAL_RESOLUTION: f64 = 156_543.033_928_040_97;

/// Pixels along a tile's side that define its bounds.
pub const TILE_SIZE: u32 = 256;

/// Deepest zoom level served or written (a tile is then ~3.7 cm wide).
pub const MAX_ZOOM: u8 = 30;

/// What is wrong with a tile address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TileAddressError {
    /// A zoom level beyond [`MAX_ZOOM`].
    #[error("zoom {z} is out of range; use 0 to {MAX_ZOOM}")]
    Zoom {
        /// The zoom asked for.
        z: u32,
    },
    /// A column or row outside the zoom level's `2^z x 2^z` grid.
    #[error("tile {z}/{x}/{y} does not exist; at zoom {z} x and y run from 0 to {max}")]
    OutOfRange {
        /// Zoom.
        z: u8,
        /// Column.
        x: u64,
        /// Row.
        y: u64,
        /// Largest valid column and row.
        max: u64,
    },
}

/// What can go wrong while aggregating, shading, encoding or writing
/// tiles.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TileError {
    /// A bad tile address or zoom.
    #[error(transparent)]
    Address(#[from] TileAddressError),
    /// Reading the input.
    #[error(transparent)]
    Source(#[from] SourceError),
    /// Planning or running a tile's aggregation.
    #[error(transparent)]
    Aggregate(#[from] AggError),
    /// Shading a tile.
    #[error(transparent)]
    Shade(#[from] ShadeError),
    /// A tile image the PNG encoder refused.
    #[error("cannot encode a tile as PNG: {0}")]
    Encode(#[source] PngError),
    /// Writing a pyramid's files.
    #[error(transparent)]
    Output(#[from] OutputError),
    /// An inspection that cannot be made ([`inspect_pixel`]).
    #[error("cannot inspect the pixel: {reason}")]
    Inspect {
        /// What is wrong.
        reason: String,
    },
}

/// One XYZ tile: zoom, column (from the west), row (from the north).
///
/// ```
/// use pointillist::tiles::{TileAddressError, TileId};
///
/// let t = TileId::new(2, 1, 3)?;
/// assert_eq!(t.to_string(), "2/1/3");
/// assert_eq!(t.parent(), TileId::new(1, 0, 1).ok());
/// assert_eq!(
///     TileId::new(2, 4, 0),
///     Err(TileAddressError::OutOfRange { z: 2, x: 4, y: 0, max: 3 })
/// );
/// # Ok::<(), TileAddressError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TileId {
    /// Zoom level.
    pub z: u8,
    /// Column, `0..2^z` from the west.
    pub x: u32,
    /// Row, `0..2^z` from the north.
    pub y: u32,
}

/// Metres per pixel at zoom `z` (Datashader's `_get_resolution`).
///
/// ```
/// use pointillist::tiles::{resolution, INITIAL_RESOLUTION};
///
/// assert_eq!(resolution(0), INITIAL_RESOLUTION);
/// assert_eq!(resolution(3), INITIAL_RESOLUTION / 8.0);
/// ```
pub fn resolution(z: u8) -> f64 {
    INITIAL_RESOLUTION / 2f64.powi(i32::from(z))
}

/// Tiles along each side of the world at zoom `z`.
pub fn tiles_per_side(z: u8) -> u64 {
    1u64 << z
}

impl TileId {
    /// A checked tile address.
    pub fn new(z: u32, x: u64, y: u64) -> Result<TileId, TileAddressError> {
        let zz = u8::try_from(z)
            .ok()
            .filter(|&z| z <= MAX_ZOOM)
            .ok_or(TileAddressError::Zoom { z })?;
        let n = tiles_per_side(zz);
        if x >= n || y >= n {
            return Err(TileAddressError::OutOfRange {
                z: zz,
                x,
                y,
                max: n - 1,
            });
        }
        Ok(TileId {
            z: zz,
            x: x as u32,
            y: y as u32,
        })
    }

    /// Row counted from the south (TMS), as Datashader computes bounds.
    fn tms_row(&self) -> u64 {
        tiles_per_side(self.z) - 1 - u64::from(self.y)
    }

    /// `(x_range, y_range)` in Web Mercator metres, as Datashader's
    /// `get_tile_meters`.
    ///
    /// ```
    /// use pointillist::tiles::{TileId, ORIGIN_OFFSET};
    ///
    /// let ((x0, x1), (y0, y1)) = TileId::new(1, 0, 0)?.bounds(); // the north-west quarter
    /// assert_eq!(x0, -ORIGIN_OFFSET);
    /// // Datashader's edges: within millimetres of the exact quarter.
    /// assert!(x1.abs() < 0.01 && y0.abs() < 0.01 && (y1 - ORIGIN_OFFSET).abs() < 0.01);
    /// # Ok::<(), pointillist::tiles::TileAddressError>(())
    /// ```
    pub fn bounds(&self) -> Extent {
        let edge = |i| tile_edge(self.z, i);
        let (x, ty) = (u64::from(self.x), self.tms_row());
        ((edge(x), edge(x + 1)), (edge(ty), edge(ty + 1)))
    }

    /// Whether the tile's east edge is the world's (closed) east edge.
    pub fn at_east_edge(&self) -> bool {
        u64::from(self.x) + 1 == tiles_per_side(self.z)
    }

    /// Whether the tile's north edge is the world's (closed) north edge.
    pub fn at_north_edge(&self) -> bool {
        self.y == 0
    }

    /// The tile one zoom level up that contains this one.
    pub fn parent(&self) -> Option<TileId> {
        (self.z > 0).then(|| TileId {
            z: self.z - 1,
            x: self.x / 2,
            y: self.y / 2,
        })
    }
}

impl std::fmt::Display for TileId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}/{}", self.z, self.x, self.y)
    }
}

/// The lower edge, in metres, of tile `i` (counted from the west, or from
/// the south) at zoom `z`: Datashader's `pixels_to_meters` of pixel
/// `i * 256`. Shared edges of neighbouring tiles are the same float.
fn tile_edge(z: u8, i: u64) -> f64 {
    (i * u64::from(TILE_SIZE)) as f64 * resolution(z) - ORIGIN_OFFSET
}

/// `(min, max)` of the world in metres at zoom `z` along one axis: the
/// lower edge of the first tile and the upper edge of the last.
pub fn world_range(z: u8) -> (f64, f64) {
    (tile_edge(z, 0), tile_edge(z, tiles_per_side(z)))
}

/// Index along one axis of the tile holding `v` (metres), counted from the
/// low end, by the half-open rule; `None` outside the world.
fn tile_index(v: f64, z: u8) -> Option<u64> {
    let (lo, hi) = world_range(z);
    if !(lo <= v && v <= hi) {
        return None;
    }
    let n = tiles_per_side(z);
    let edge = |i| tile_edge(z, i);
    let guess = ((v + ORIGIN_OFFSET) / resolution(z) / f64::from(TILE_SIZE)).floor();
    let mut i = (guess.max(0.0) as u64).min(n - 1);
    // The division can round across an edge: settle on the tile whose
    // half-open bounds (as `bounds` computes them) hold v.
    while i > 0 && v < edge(i) {
        i -= 1;
    }
    while i + 1 < n && v >= edge(i + 1) {
        i += 1;
    }
    Some(i)
}

/// The tile at zoom `z` that holds the point `(mx, my)` in metres (the one
/// whose render counts it), or `None` outside the world.
///
/// ```
/// use pointillist::aggregate::mercator::lnglat_to_meters;
/// use pointillist::tiles::{tile_of, TileId};
///
/// let (mx, my) = lnglat_to_meters(-0.1276, 51.5072); // London
/// assert_eq!(tile_of(mx, my, 10), TileId::new(10, 511, 340).ok());
/// // A point on the edge between two tiles is in the eastern one.
/// let east = TileId::new(1, 1, 0)?;
/// let ((edge, _), _) = east.bounds();
/// assert_eq!(tile_of(edge, 1.0, 1), Some(east));
/// assert_eq!(tile_of(3e7, 0.0, 1), None);
/// # Ok::<(), pointillist::tiles::TileAddressError>(())
/// ```
pub fn tile_of(mx: f64, my: f64, z: u8) -> Option<TileId> {
    let tx = tile_index(mx, z)?;
    let tms = tile_index(my, z)?;
    Some(TileId {
        z,
        x: tx as u32,
        y: (tiles_per_side(z) - 1 - tms) as u32,
    })
}

/// Every tile at zoom `z` that intersects the extent (metres), row by row
/// from the north-west; empty when the extent lies outside the world.
///
/// ```
/// use pointillist::tiles::{tiles_covering, TileId};
///
/// // A box around the origin touches the four tiles of zoom 1.
/// let tiles = tiles_covering((-1.0, 1.0), (-1.0, 1.0), 1);
/// let ids: Vec<String> = tiles.iter().map(TileId::to_string).collect();
/// assert_eq!(ids, ["1/0/0", "1/1/0", "1/0/1", "1/1/1"]);
/// ```
pub fn tiles_covering(x_range: (f64, f64), y_range: (f64, f64), z: u8) -> Vec<TileId> {
    let (wlo, whi) = world_range(z);
    let clamp = |v: f64| v.clamp(wlo, whi);
    if x_range.1 < wlo || x_range.0 > whi || y_range.1 < wlo || y_range.0 > whi {
        return Vec::new();
    }
    let (Some(nw), Some(se)) = (
        tile_of(clamp(x_range.0), clamp(y_range.1), z),
        tile_of(clamp(x_range.1), clamp(y_range.0), z),
    ) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for y in nw.y..=se.y {
        for x in nw.x..=se.x {
            out.push(TileId { z, x, y });
        }
    }
    out
}

/// What stays fixed across the tiles of one layer.
///
/// ```
/// use pointillist::aggregate::ReductionSpec;
/// use pointillist::source::Source;
/// use pointillist::tiles::TileLayer;
///
/// let layer = TileLayer::new()
///     .with_columns("x", "y")
///     .with_reduction("count_cat:cat".parse::<ReductionSpec>()?)
///     .resolve(&Source::sample()?)?; // categories read once, from the data
/// assert_eq!(layer.categories.as_ref().map(Vec::len), Some(5));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct TileLayer {
    /// Column of x (metres, or longitude with `lnglat`).
    pub x: String,
    /// Column of y (metres, or latitude with `lnglat`).
    pub y: String,
    /// x and y are longitude and latitude in degrees.
    pub lnglat: bool,
    /// The reduction.
    pub reduction: ReductionSpec,
    /// Category planes, resolved once so that every tile has the same.
    pub categories: Option<Vec<String>>,
    /// What the rows draw: points unless set ([`TileLayer::with_glyph_of`]).
    pub shape: GlyphSpec,
    /// Keep this many categories, those with the most rows in the whole
    /// data, and fold the rest into `(other)`
    /// ([`AggregateRequest::top_categories`]); resolved once, so every
    /// tile has the same planes.
    pub top_categories: Option<usize>,
}

impl TileLayer {
    /// A `count` layer over columns `x` and `y` in metres.
    pub fn new() -> TileLayer {
        TileLayer {
            x: "x".into(),
            y: "y".into(),
            lnglat: false,
            reduction: ReductionSpec::count(),
            categories: None,
            shape: GlyphSpec::default(),
            top_categories: None,
        }
    }

    /// Sets [`TileLayer::top_categories`].
    #[must_use]
    pub fn with_top_categories(mut self, k: Option<usize>) -> Self {
        self.top_categories = k;
        self
    }

    /// Draw what `req` draws: its columns and [`GlyphSpec`] (lines, areas,
    /// their vertices, stacks and line width). The layer keeps its own
    /// reduction, categories and `lnglat`; `req`'s canvas is not used.
    ///
    /// ```
    /// use pointillist::aggregate::{AggregateRequest, Glyph};
    /// use pointillist::tiles::TileLayer;
    ///
    /// // Origin-destination segments, antialiased.
    /// let od = AggregateRequest::new(1, 1)
    ///     .with_row_lines(&["ox", "dx"], &["oy", "dy"])
    ///     .with_line_width(1.0);
    /// let layer = TileLayer::new().with_lnglat(true).with_glyph_of(&od);
    /// assert_eq!(layer.shape.glyph, Glyph::RowLines);
    /// assert_eq!((layer.x.as_str(), layer.y.as_str()), ("ox", "oy"));
    /// ```
    #[must_use]
    pub fn with_glyph_of(mut self, req: &AggregateRequest) -> Self {
        self.x = req.x.clone();
        self.y = req.y.clone();
        self.shape = req.glyph_spec();
        self
    }

    /// Sets the coordinate columns [`TileLayer::x`] and [`TileLayer::y`].
    #[must_use]
    pub fn with_columns(mut self, x: impl Into<String>, y: impl Into<String>) -> Self {
        self.x = x.into();
        self.y = y.into();
        self
    }

    /// Sets [`TileLayer::lnglat`].
    #[must_use]
    pub fn with_lnglat(mut self, lnglat: bool) -> Self {
        self.lnglat = lnglat;
        self
    }

    /// Sets [`TileLayer::reduction`].
    #[must_use]
    pub fn with_reduction(mut self, reduction: ReductionSpec) -> Self {
        self.reduction = reduction;
        self
    }

    /// Sets [`TileLayer::categories`].
    #[must_use]
    pub fn with_categories(mut self, categories: Option<Vec<String>>) -> Self {
        self.categories = categories;
        self
    }

    /// Check the layer against `source` and resolve its categories (from
    /// the data when not given), so that each tile does not.
    pub fn resolve(mut self, source: &Source) -> Result<TileLayer, TileError> {
        let mut req = self.request(((0.0, 1.0), (0.0, 1.0)), 1);
        req.categories = self.categories.clone();
        if self.top_categories.is_some() {
            // The largest categories over all the data.
            (req.x_range, req.y_range) = (None, None);
            req.top_categories = self.top_categories;
        }
        let plan = AggregationPlan::new(source, &req)?;
        self.categories = plan.categories().map(<[String]>::to_vec);
        Ok(self)
    }

    /// The aggregation of a `size x size` canvas over `bounds`.
    fn request(&self, bounds: Extent, size: usize) -> AggregateRequest {
        let mut req = self.unranged(size, size);
        req.reduction = self.reduction.clone();
        req.categories = self.categories.clone();
        req.x_range = Some(bounds.0);
        req.y_range = Some(bounds.1);
        req
    }

    /// The layer's columns and glyph on a `width x height` canvas, ranges
    /// from the data, counting.
    fn unranged(&self, width: usize, height: usize) -> AggregateRequest {
        let mut req = AggregateRequest::new(width, height).with_glyph_spec(self.shape.clone());
        req.x = self.x.clone();
        req.y = self.y.clone();
        req.lnglat = self.lnglat;
        req
    }

    /// Pixels drawn around each tile and then cut off: an antialiased
    /// line's stroke reaches `line_width / 2` pixels from it, so a line
    /// just outside a tile still shades the tile's edge, as it does its
    /// neighbour's, and the stroke's clipped ends fall outside the tile.
    /// Points with a radius need none: they reach the tile from outside it
    /// on their own ([`AggregateRequest::point_radius`]).
    pub fn margin(&self) -> usize {
        let w = self.shape.line_width;
        if w > 0.0 {
            (w / 2.0).ceil() as usize + 2
        } else {
            0
        }
    }

    /// The extent of the data in metres, from statistics where they exist.
    ///
    /// ```
    /// use pointillist::source::Source;
    /// use pointillist::tiles::TileLayer;
    ///
    /// let ((x0, x1), (y0, y1)) = TileLayer::new().data_extent(&Source::sample()?)?;
    /// assert!(x0 < x1 && y0 < y1 && x1 < 0.0); // the US: west of Greenwich
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn data_extent(&self, source: &Source) -> Result<Extent, TileError> {
        let req = self.unranged(1, 1);
        let plan = AggregationPlan::new(source, &req)?;
        let g = plan.geometry();
        Ok((g.x.range, g.y.range))
    }
}

impl Default for TileLayer {
    fn default() -> Self {
        TileLayer::new()
    }
}

/// The aggregate of one tile, `size` pixels square (256, or 512 for
/// high-DPI tiles over the same bounds), half-open on its shared edges.
///
/// ```
/// use pointillist::source::Source;
/// use pointillist::tiles::{aggregate_tile, TileId, TileLayer};
///
/// let source = Source::sample()?;
/// let layer = TileLayer::new().resolve(&source)?;
/// // The four tiles of zoom 1 count every point once between them.
/// let mut total = 0u64;
/// for (x, y) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
///     let agg = aggregate_tile(&source, &layer, TileId::new(1, x, y)?, 64)?;
///     total += (0..agg.values.len()).map(|i| agg.values.get_f64(i) as u64).sum::<u64>();
/// }
/// assert_eq!(total, 300_000);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn aggregate_tile(
    source: &Source,
    layer: &TileLayer,
    tile: TileId,
    size: usize,
) -> Result<Aggregate, TileError> {
    let open = (!tile.at_east_edge(), !tile.at_north_edge());
    aggregate_bounds(source, layer, tile.bounds(), (size, size), open)
}

/// The aggregate of a `width x height` canvas over `bounds` (a tile, or a
/// block of tiles), whose upper edges are `open` (x, y) when they are
/// shared with other tiles.
///
/// A point on a shared edge belongs to one tile only. A line is clipped to
/// the tile's closed bounds, as Datashader clips it to a canvas, so that
/// its pixels on either side of the edge meet; antialiased lines are drawn
/// on a canvas [`TileLayer::margin`] pixels larger on each side and cut
/// down to the tile.
fn aggregate_bounds(
    source: &Source,
    layer: &TileLayer,
    bounds: Extent,
    (width, height): (usize, usize),
    open: (bool, bool),
) -> Result<Aggregate, TileError> {
    let margin = layer.margin();
    let ((x0, x1), (y0, y1)) = bounds;
    let m = margin as f64;
    let (px, py) = ((x1 - x0) / width as f64, (y1 - y0) / height as f64);
    let grown = ((x0 - m * px, x1 + m * px), (y0 - m * py, y1 + m * py));
    let mut req = layer.request(grown, width + 2 * margin);
    req.height = height + 2 * margin;
    if layer.shape.glyph == Glyph::Points {
        (req.x_upper_open, req.y_upper_open) = open;
    }
    let plan = AggregationPlan::new(source, &req)?;
    let units = plan.units(source);
    let agg = plan.run_units(source, &units, &|_| {})?;
    Ok(if margin == 0 {
        agg
    } else {
        crop(&agg, margin, (width, height), bounds)
    })
}

/// The `width x height` pixels of `agg` inside a border `margin` wide, as
/// an aggregate over `bounds`.
fn crop(
    agg: &Aggregate,
    margin: usize,
    (width, height): (usize, usize),
    bounds: Extent,
) -> Aggregate {
    let cut = |planes: usize| {
        (margin..margin + height).map(move |row| {
            let start = (row * agg.width + margin) * planes;
            start..start + width * planes
        })
    };
    let p = agg.n_planes() * agg.n.unwrap_or(1);
    let values = match &agg.values {
        AggValues::U32(v) => AggValues::U32(cut(p).flat_map(|r| v[r].iter().copied()).collect()),
        AggValues::Bool(v) => AggValues::Bool(cut(p).flat_map(|r| v[r].iter().copied()).collect()),
        AggValues::F64(v) => AggValues::F64(cut(p).flat_map(|r| v[r].iter().copied()).collect()),
        AggValues::F32(v) => AggValues::F32(cut(p).flat_map(|r| v[r].iter().copied()).collect()),
        AggValues::I64(v) => AggValues::I64(cut(p).flat_map(|r| v[r].iter().copied()).collect()),
        AggValues::U8(v) => AggValues::U8(cut(p).flat_map(|r| v[r].iter().copied()).collect()),
        AggValues::U16(v) => AggValues::U16(cut(p).flat_map(|r| v[r].iter().copied()).collect()),
    };
    Aggregate {
        width,
        height,
        categories: agg.categories.clone(),
        n: agg.n,
        values,
        x_range: bounds.0,
        y_range: bounds.1,
    }
}

/// Whether no point landed in the aggregate (every cell empty): such a tile
/// is not written (and the server answers 204).
pub fn is_blank(agg: &Aggregate) -> bool {
    match &agg.values {
        AggValues::U32(v) => v.iter().all(|&c| c == 0),
        AggValues::Bool(v) => v.iter().all(|&b| !b),
        AggValues::F64(v) => v.iter().all(|c| c.is_nan()),
        AggValues::F32(v) => v.iter().all(|c| c.is_nan()),
        AggValues::I64(v) => v.iter().all(|&r| r < 0),
        AggValues::U8(v) => v.iter().all(|&c| c == 0),
        AggValues::U16(v) => v.iter().all(|&c| c == 0),
    }
}

/// `(nanmin, nanmax)` over the cells of `agg` (Datashader's per-super-tile
/// statistics), or `None` when every cell is NaN.
///
/// ```
/// use pointillist::aggregate::{aggregate, AggregateRequest};
/// use pointillist::source::Source;
/// use pointillist::tiles::value_range;
///
/// let agg = aggregate(&Source::sample()?, &AggregateRequest::new(50, 30))?;
/// let (lo, hi) = value_range(&agg).expect("a count has no NaN");
/// assert_eq!(lo, 0.0); // empty count cells are 0
/// assert!(hi > 1.0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn value_range(agg: &Aggregate) -> Option<(f64, f64)> {
    let mut lo = f64::INFINITY;
    let mut hi = f64::NEG_INFINITY;
    for i in 0..agg.values.len() {
        let v = agg.values.get_f64(i);
        if !v.is_nan() {
            lo = lo.min(v);
            hi = hi.max(v);
        }
    }
    (lo <= hi).then_some((lo, hi))
}

/// `span` grown to include `range` (a span over several aggregates).
pub(crate) fn widen(span: Option<(f64, f64)>, range: (f64, f64)) -> Option<(f64, f64)> {
    Some(span.map_or(range, |(lo, hi)| (lo.min(range.0), hi.max(range.1))))
}

/// Shade `agg` and encode it as PNG bytes (north up).
pub fn encode_tile(agg: &Aggregate, opts: &ShadeOptions) -> Result<Vec<u8>, TileError> {
    encode_image(&shade::shade(agg, opts)?)
}

/// Encode a shaded tile as PNG bytes (north up).
pub fn encode_image(img: &shade::Image) -> Result<Vec<u8>, TileError> {
    let rgba = img.to_north_up_rgba8();
    // Tiles are mostly flat or transparent: unfiltered rows are faster to
    // encode and smaller.
    let opts = PngOptions::default().with_unfiltered(true);
    encode_png(img.width, img.height, &rgba, &opts).map_err(TileError::Encode)
}

/// The aggregates of `tiles`, in order, computed in parallel.
pub fn aggregate_tiles(
    source: &Source,
    layer: &TileLayer,
    tiles: &[TileId],
    size: usize,
) -> Result<Vec<Aggregate>, TileError> {
    tiles
        .par_iter()
        .map(|&t| aggregate_tile(source, layer, t, size))
        .collect()
}

/// Largest side, in tiles, of the blocks [`zoom_span`] aggregates at once
/// (Datashader's super tiles are 16 tiles, 4096 pixels, wide).
const BLOCK_TILES: u64 = 16;

/// Datashader's full-pass colour span of zoom level `z` over the data's
/// extent: `(nanmin, nanmax)` over the aggregates of every tile that
/// intersects it (empty cells of a count are 0, so the minimum is usually
/// 0). Computed block by block (at most 16x16 tiles per canvas); `None`
/// when there is no data. Boolean aggregates give `(0, 1)`.
///
/// ```
/// use pointillist::source::Source;
/// use pointillist::tiles::{zoom_span, TileLayer};
///
/// let source = Source::sample()?;
/// let layer = TileLayer::new().resolve(&source)?;
/// let extent = layer.data_extent(&source)?;
/// let (lo, hi) = zoom_span(&source, &layer, extent, 3)?.expect("there is data");
/// assert_eq!(lo, 0.0);
/// assert!(hi >= 1.0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn zoom_span(
    source: &Source,
    layer: &TileLayer,
    extent: Extent,
    z: u8,
) -> Result<Option<(f64, f64)>, TileError> {
    let mut span: Option<(f64, f64)> = None;
    let mut boolean = false;
    for_each_block(source, layer, extent, z, &mut |agg| {
        if matches!(agg.values, AggValues::Bool(_)) {
            boolean = true;
            return Ok(false);
        }
        if let Some(r) = value_range(agg) {
            span = widen(span, r);
        }
        Ok(true)
    })?;
    Ok(if boolean { Some((0.0, 1.0)) } else { span })
}

/// Aggregate zoom level `z` over `extent` in blocks of up to 16x16 tiles,
/// and hand each block to `f` until it returns `false`. A block's cells
/// are its tiles' cells; for lines, except along the tiles' shared edges,
/// where each tile clips the lines that cross them (one read of the data
/// per block, not per tile).
fn for_each_block(
    source: &Source,
    layer: &TileLayer,
    extent: Extent,
    z: u8,
    f: &mut dyn FnMut(&Aggregate) -> Result<bool, TileError>,
) -> Result<(), TileError> {
    let tiles = tiles_covering(extent.0, extent.1, z);
    let (Some(first), Some(last)) = (tiles.first(), tiles.last()) else {
        return Ok(());
    };
    let mut by = u64::from(first.y);
    while by <= u64::from(last.y) {
        let ey = (by + BLOCK_TILES - 1).min(u64::from(last.y));
        let mut bx = u64::from(first.x);
        while bx <= u64::from(last.x) {
            let ex = (bx + BLOCK_TILES - 1).min(u64::from(last.x));
            let nw = TileId::new(u32::from(z), bx, by)?;
            let se = TileId::new(u32::from(z), ex, ey)?;
            let ((x0, _), (_, y1)) = nw.bounds();
            let ((_, x1), (y0, _)) = se.bounds();
            let w = ((ex - bx + 1) * u64::from(TILE_SIZE)) as usize;
            let h = ((ey - by + 1) * u64::from(TILE_SIZE)) as usize;
            let open = (!se.at_east_edge(), !nw.at_north_edge());
            let agg = aggregate_bounds(source, layer, ((x0, x1), (y0, y1)), (w, h), open)?;
            if !f(&agg)? {
                return Ok(());
            }
            bx = ex + 1;
        }
        by = ey + 1;
    }
    Ok(())
}

/// One `eq_hist` for every tile of zoom level `z` over `extent`: the
/// histogram of every non-empty cell of the zoom's tiles, as the pyramid
/// writer builds it ([`pyramid::write_pyramid`]), so that equal values get
/// equal colours across the zoom. Computed over blocks of tiles, as
/// [`zoom_span`]; float aggregates take a second pass (their bins need the
/// range first). `None` when no cell is non-empty or the aggregate is
/// boolean (shaded per tile).
///
/// ```
/// use pointillist::shade::ShadeOptions;
/// use pointillist::source::Source;
/// use pointillist::tiles::{self, TileId, TileLayer};
///
/// let source = Source::sample()?;
/// let layer = TileLayer::new().resolve(&source)?;
/// let eq = tiles::zoom_eq_hist(&source, &layer, layer.data_extent(&source)?, 3)?
///     .expect("the sample has points");
/// let agg = tiles::aggregate_tile(&source, &layer, TileId::new(3, 1, 3)?, 256)?;
/// let img = eq.shade(&agg, &ShadeOptions::default())?;
/// assert_eq!(img.pixels.len(), 256 * 256);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn zoom_eq_hist(
    source: &Source,
    layer: &TileLayer,
    extent: Extent,
    z: u8,
) -> Result<Option<SharedEqHist>, TileError> {
    eq_hist_over(&mut |f| for_each_block(source, layer, extent, z, f))
}

/// A visit of a set of aggregates, each handed to the callback until it
/// returns `false`; it may be called twice.
type Visit<'a> =
    dyn FnMut(&mut dyn FnMut(&Aggregate) -> Result<bool, TileError>) -> Result<(), TileError> + 'a;

/// The shared `eq_hist` of the aggregates `visit` hands over: integer
/// aggregates in one visit; float ones in two (range, then bins).
fn eq_hist_over(visit: &mut Visit<'_>) -> Result<Option<SharedEqHist>, TileError> {
    let mut integer = SharedEqHistBuilder::integer();
    let mut range: Option<(f64, f64)> = None;
    let (mut float, mut boolean) = (false, false);
    visit(&mut |agg| {
        match &agg.values {
            AggValues::U32(_) | AggValues::U8(_) | AggValues::U16(_) => integer.add(agg)?,
            AggValues::F64(_) | AggValues::F32(_) | AggValues::I64(_) => {
                float = true;
                if let Some(r) = value_range(agg) {
                    range = widen(range, r);
                }
            }
            AggValues::Bool(_) => {
                boolean = true;
                return Ok(false);
            }
        }
        Ok(true)
    })?;
    if boolean {
        return Ok(None);
    }
    let builder = if float {
        let Some(r) = range else {
            return Ok(None);
        };
        let mut b = SharedEqHistBuilder::float(r);
        visit(&mut |agg| {
            b.add(agg)?;
            Ok(true)
        })?;
        b
    } else {
        integer
    };
    Ok(builder.finish()?)
}

/// Every non-empty tile aggregate of one zoom level, each computed by
/// [`aggregate_tile`] (so a tile is the same whether it comes from here or
/// is rendered on its own), with the level's colour span.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ZoomLevel {
    /// The zoom level.
    pub z: u8,
    /// Tile side in pixels.
    pub size: usize,
    /// Non-empty tiles by `(x, y)`.
    pub tiles: HashMap<(u32, u32), Arc<Aggregate>>,
    /// `(nanmin, nanmax)` over every tile covering the data (empty count
    /// cells are 0, so blank tiles count as 0); `(0, 1)` for booleans.
    pub span: Option<(f64, f64)>,
    /// Bytes held by the aggregates.
    pub bytes: usize,
}

impl ZoomLevel {
    /// The aggregate of tile `(x, y)`, or `None` when it has no points.
    pub fn tile(&self, x: u32, y: u32) -> Option<&Arc<Aggregate>> {
        self.tiles.get(&(x, y))
    }

    /// The level's shared `eq_hist`, over its tiles ([`zoom_eq_hist`]).
    pub fn eq_hist(&self) -> Result<Option<SharedEqHist>, TileError> {
        eq_hist_over(&mut |f| {
            for agg in self.tiles.values() {
                if !f(agg)? {
                    break;
                }
            }
            Ok(())
        })
    }
}

/// How many row-group reads rendering every tile of zoom `z` over
/// `extent` one by one would take (row groups are pruned by their
/// statistics), and how many row groups the source has. On a spatially
/// sorted file the first is close to the second; on an unsorted one it is
/// the second times the number of tiles.
pub fn zoom_reads(
    source: &Source,
    layer: &TileLayer,
    extent: Extent,
    z: u8,
) -> Result<(usize, usize), TileError> {
    let all = source.units(crate::source::UNIT_ROWS).len();
    let mut reads = 0usize;
    for tile in tiles_covering(extent.0, extent.1, z) {
        let mut req = layer.request(tile.bounds(), TILE_SIZE as usize);
        req.x_upper_open = !tile.at_east_edge();
        req.y_upper_open = !tile.at_north_edge();
        let plan = AggregationPlan::new(source, &req)?;
        reads += plan.units(source).len();
    }
    Ok((reads, all))
}

/// Aggregate every tile of zoom `z` that covers `extent`, tile by tile
/// (tiles in parallel), keeping the non-empty ones.
///
/// ```
/// use pointillist::source::Source;
/// use pointillist::tiles::{aggregate_zoom, TileLayer};
///
/// let source = Source::sample()?;
/// let layer = TileLayer::new().resolve(&source)?;
/// let level = aggregate_zoom(&source, &layer, layer.data_extent(&source)?, 2, 32)?;
/// assert!(!level.tiles.is_empty());
/// assert_eq!(level.span.map(|s| s.0), Some(0.0));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn aggregate_zoom(
    source: &Source,
    layer: &TileLayer,
    extent: Extent,
    z: u8,
    size: usize,
) -> Result<ZoomLevel, TileError> {
    let covering = tiles_covering(extent.0, extent.1, z);
    let aggs = aggregate_tiles(source, layer, &covering, size)?;
    let mut span: Option<(f64, f64)> = None;
    let mut tiles = HashMap::new();
    let mut bytes = 0usize;
    for (t, agg) in covering.into_iter().zip(aggs) {
        if matches!(agg.values, AggValues::Bool(_)) {
            span = Some((0.0, 1.0));
        } else if let Some(r) = value_range(&agg) {
            span = widen(span, r);
        }
        if !is_blank(&agg) {
            bytes += agg.values.len() * agg.values.cell_bytes();
            tiles.insert((t.x, t.y), Arc::new(agg));
        }
    }
    Ok(ZoomLevel {
        z,
        size,
        tiles,
        span,
        bytes,
    })
}

/// `(west, south, east, north)` in degrees of an extent in metres, clamped
/// to the Web Mercator world (for TileJSON `bounds`).
///
/// ```
/// use pointillist::tiles::{extent_lnglat, world_range};
///
/// let world = world_range(0);
/// let [w, s, e, n] = extent_lnglat((world, world));
/// assert!((w + 180.0).abs() < 1e-6 && (e - 180.0).abs() < 1e-6);
/// assert!((n - 85.051_128_78).abs() < 1e-6 && s < -85.0);
/// ```
pub fn extent_lnglat(extent: Extent) -> [f64; 4] {
    let (lo, hi) = world_range(0);
    let c = |v: f64| v.clamp(lo, hi);
    let (w, s) = mercator::meters_to_lnglat(c(extent.0 .0), c(extent.1 .0));
    let (e, n) = mercator::meters_to_lnglat(c(extent.0 .1), c(extent.1 .1));
    [
        w.max(-180.0),
        s.max(-85.051_128_78),
        e.min(180.0),
        n.min(85.051_128_78),
    ]
}

mod inspect;
pub mod pyramid;

pub use inspect::{inspect_pixel, CellValue, PixelRows, MAX_INSPECT_ROWS};

#[cfg(test)]
mod tests;
