//! Tile server: XYZ PNG tiles rendered on demand over HTTP.
//!
//! Routes: `GET|HEAD /tiles/{z}/{x}/{y}.png` (and `{y}@2x.png`, 512 px over
//! the same bounds) with query overrides `agg`, `how`, `cmap`, `span`;
//! `/tilejson.json` (TileJSON 3.0); `/legend.json` (colormap or category
//! colours, and span per zoom, for the same overrides as tiles);
//! `/inspect/{z}/{x}/{y}.png?px=&py=` (the rows under a pixel, found with
//! `where`: [`tiles::inspect_pixel`]); `/health`;
//! a viewer page at `/` that needs no internet access: a colour bar from
//! `/legend.json`, controls for the overrides (a refused one shows the
//! server's reason), the cursor's lon/lat and Web Mercator metres, the
//! view and overrides in the URL hash, and an optional basemap under the
//! data ([`ServerConfig::basemap`], JSON-encoded into the page).
//!
//! Rules a tile client relies on: a strong `ETag` computed from the tile's
//! bytes and `304` on a matching `If-None-Match`; `204` for a tile with no
//! points; `Cache-Control` on tiles; CORS for any origin (preflight too);
//! `400` for a malformed or out-of-range address or override; `404` for any
//! other path (nothing is read from the file system, so there is no path
//! to traverse). Encoded tiles are kept in an LRU cache bounded in bytes,
//! with their ETag computed once as they enter it and their bytes shared
//! with every response; renders run on blocking threads, at most
//! `max_renders` at once, and concurrent requests for one uncached tile
//! wait for a single render.
//!
//! Colours are the same across a zoom level: for `linear`, `log` and `cbrt`
//! without an explicit `span`, each zoom level's span is `(nanmin, nanmax)`
//! over the zoom's tiles, computed once per zoom up to `span_max_zoom`;
//! deeper zoom levels reuse that level's span, and a `@2x` tile takes the
//! span of the next zoom (its pixels are that zoom's). `eq_hist` shares one
//! histogram per zoom in the same way (that of every non-empty cell of the
//! zoom's tiles, as `pointillist tiles` builds it), so equal counts get
//! equal colours across a zoom and neighbouring tiles have no seams.
//!
//! Low zooms, where one tile holds much of the data, come from a pyramid:
//! when the data is sorted in space (`pointillist index`), every tile of the
//! default layer at zooms up to `pyramid_max_zoom` is aggregated in the
//! background at start-up (each exactly as it would be on its own, so the
//! bytes do not change) and kept within `pyramid_bytes`; their span is over
//! those tiles. An `agg` override's levels are built the first time one of
//! its tiles at those zooms is asked for, within the same bytes; `how`,
//! `cmap` and `span` overrides shade the default layer's levels. Deeper zooms' spans are Datashader's full pass over blocks
//! of up to 16x16 tiles ([`crate::tiles::zoom_span`]), also computed in the
//! background.
//!
//! A pre-rendered archive (`.pmtiles`, `.mbtiles`) is served with the same
//! routes, headers and limits by an [`ArchiveServer`] over a
//! [`TileArchive`] ([`archive_router`], [`serve_archive`]; the `archive`
//! module says what differs).
//!
//! Embedding: build a [`TileServer`] over a [`Source`], then either mount
//! [`router`] in an axum application or let [`serve`] run it.
//!
//! ```no_run
//! use std::sync::Arc;
//!
//! use pointillist::server::{serve, shutdown_signal, ServerConfig, TileServer};
//! use pointillist::source::Source;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let server = Arc::new(TileServer::new(Source::open(&["points.parquet"])?, ServerConfig::default())?);
//! server.warm_up(); // low zooms and colour spans in the background
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! serve(listener, server, shutdown_signal()).await?;
//! # Ok(())
//! # }
//! ```

mod archive;
mod cache;
mod conn;
mod memo;

pub use archive::{
    archive_router, serve_archive, ArchiveFormat, ArchiveInfo, ArchiveProblem, ArchiveServer,
    TileArchive,
};
pub use conn::{ConnectionLimits, ConnectionStats};

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tokio::sync::Semaphore;

use crate::aggregate::{AggValues, ReductionSpec, SpecError};
use crate::shade::{self, How, ShadeError, ShadeOptions, SharedEqHist};
use crate::source::Source;
use crate::tiles::{self, Extent, TileAddressError, TileError, TileId, TileLayer};

use cache::{tile_cache, CachedTile, TileCache};
use memo::Memo;

/// The viewer page served at `/`.
const VIEWER_HTML: &str = include_str!("viewer.html");

/// Longest accepted query override value, in bytes.
const MAX_OVERRIDE_LEN: usize = 512;

/// How many distinct `agg` overrides are kept resolved (categories
/// scanned once each); further ones are answered 400.
const MAX_LAYERS: usize = 16;

/// What can go wrong while starting the server or rendering for it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// Checking the layer, measuring the data, or rendering a tile or a
    /// zoom level's span.
    #[error(transparent)]
    Tile(#[from] TileError),
    /// A tile archive (`.pmtiles`, `.mbtiles`) that cannot be opened or read.
    #[error("cannot read tile archive '{path}': {source}; check the path")]
    ArchiveIo {
        /// The archive.
        path: std::path::PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A file that is not a tile archive this server can serve.
    #[error("cannot serve '{path}': {what}")]
    BadArchive {
        /// The archive.
        path: std::path::PathBuf,
        /// What is wrong with it.
        what: ArchiveProblem,
    },
    /// SQLite could not read an MBTiles archive.
    #[cfg(feature = "mbtiles")]
    #[error("cannot read MBTiles archive '{path}': {source}")]
    Sqlite {
        /// The archive.
        path: std::path::PathBuf,
        /// SQLite's error.
        #[source]
        source: rusqlite::Error,
    },
}

/// Everything the server needs besides the data.
///
/// ```
/// use pointillist::server::ServerConfig;
/// use pointillist::shade::{How, ShadeOptions};
///
/// let config = ServerConfig::default()
///     .with_zooms(0, 14)
///     .with_shade(ShadeOptions::default().with_how(How::Cbrt))
///     .with_cache_bytes(64 << 20);
/// assert_eq!(config.max_zoom, 14);
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ServerConfig {
    /// Columns, reduction and categories of the default layer.
    pub layer: TileLayer,
    /// Default shading (`span: None` = the zoom level's span).
    pub shade: ShadeOptions,
    /// Smallest zoom advertised in TileJSON.
    pub min_zoom: u8,
    /// Largest zoom advertised in TileJSON and served.
    pub max_zoom: u8,
    /// Bytes of encoded tiles kept in memory.
    pub cache_bytes: usize,
    /// Tile renders running at once.
    pub max_renders: usize,
    /// Deepest zoom whose colour span is computed by a full pass.
    pub span_max_zoom: u8,
    /// Name in TileJSON.
    pub name: String,
    /// Deepest zoom whose tiles of the default layer are all aggregated in
    /// one go and kept in memory (a low-zoom pyramid), when the data is
    /// spatially sorted enough for that to cost about one pass per zoom.
    pub pyramid_max_zoom: Option<u8>,
    /// Bytes of aggregates the pyramid may hold.
    pub pyramid_bytes: usize,
    /// XYZ URL template of a basemap the viewer draws under the data
    /// (`https://tile.openstreetmap.org/{z}/{x}/{y}.png`; `{r}` is `@2x`
    /// on high-density screens); `None` = a blank background. The page
    /// gets it JSON-encoded; callers check it is the URL they mean
    /// (`pointillist serve --basemap` takes http(s) with `{z}`, `{x}`, `{y}`).
    pub basemap: Option<String>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            layer: TileLayer::new(),
            shade: ShadeOptions {
                how: How::Log,
                ..ShadeOptions::default()
            },
            min_zoom: 0,
            max_zoom: 18,
            cache_bytes: 256 << 20,
            max_renders: std::thread::available_parallelism().map_or(2, |n| n.get()),
            span_max_zoom: 10,
            name: "pointillist".into(),
            pyramid_max_zoom: Some(6),
            pyramid_bytes: 256 << 20,
            basemap: None,
        }
    }
}

impl ServerConfig {
    /// Sets [`ServerConfig::layer`].
    #[must_use]
    pub fn with_layer(mut self, layer: TileLayer) -> Self {
        self.layer = layer;
        self
    }

    /// Sets [`ServerConfig::shade`].
    #[must_use]
    pub fn with_shade(mut self, shade: ShadeOptions) -> Self {
        self.shade = shade;
        self
    }

    /// Sets [`ServerConfig::min_zoom`] and [`ServerConfig::max_zoom`].
    #[must_use]
    pub fn with_zooms(mut self, min_zoom: u8, max_zoom: u8) -> Self {
        self.min_zoom = min_zoom;
        self.max_zoom = max_zoom;
        self
    }

    /// Sets [`ServerConfig::cache_bytes`].
    #[must_use]
    pub fn with_cache_bytes(mut self, bytes: usize) -> Self {
        self.cache_bytes = bytes;
        self
    }

    /// Sets [`ServerConfig::max_renders`].
    #[must_use]
    pub fn with_max_renders(mut self, renders: usize) -> Self {
        self.max_renders = renders;
        self
    }

    /// Sets [`ServerConfig::span_max_zoom`].
    #[must_use]
    pub fn with_span_max_zoom(mut self, z: u8) -> Self {
        self.span_max_zoom = z;
        self
    }

    /// Sets [`ServerConfig::name`].
    #[must_use]
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Sets [`ServerConfig::pyramid_max_zoom`].
    #[must_use]
    pub fn with_pyramid_max_zoom(mut self, z: Option<u8>) -> Self {
        self.pyramid_max_zoom = z;
        self
    }

    /// Sets [`ServerConfig::pyramid_bytes`].
    #[must_use]
    pub fn with_pyramid_bytes(mut self, bytes: usize) -> Self {
        self.pyramid_bytes = bytes;
        self
    }

    /// Sets [`ServerConfig::basemap`].
    #[must_use]
    pub fn with_basemap(mut self, url_template: Option<String>) -> Self {
        self.basemap = url_template;
        self
    }
}

/// A zoom level's span is kept per `agg` override and zoom.
type SpanKey = (String, u8);

/// A pyramid level: not yet looked at, held, or left to per-tile renders
/// (the data is not sorted in space, or the level did not fit; then its
/// span is kept).
#[derive(Debug, Clone)]
enum Level {
    Unknown,
    Ready(Arc<tiles::ZoomLevel>),
    Unsorted,
    OverBudget(Option<(f64, f64)>),
}

/// A level is kept only when rendering it tile by tile reads at most this
/// many times the source's row groups (i.e. the data is spatially sorted).
const PYRAMID_READ_FACTOR: usize = 4;

/// Shared state of a running server.
pub struct TileServer {
    source: Source,
    config: ServerConfig,
    extent: Extent,
    cache: TileCache,
    /// Tiles rendered (not served from the cache), for `/health`.
    rendered: std::sync::atomic::AtomicU64,
    /// Milliseconds [`TileServer::warm_up`] took, plus one (0: not done).
    warmed_ms: std::sync::atomic::AtomicU64,
    renders: Semaphore,
    /// Resolved layers by `agg` override ("" = the default).
    layers: Mutex<HashMap<String, TileLayer>>,
    /// Full-pass spans by (`agg` key, zoom).
    spans: Memo<SpanKey, Option<(f64, f64)>>,
    /// Per-zoom `eq_hist` histograms by (`agg` key, zoom).
    hists: Memo<SpanKey, Option<Arc<SharedEqHist>>>,
    /// The low-zoom pyramid of the default layer, by zoom.
    levels: Mutex<HashMap<String, Arc<[Mutex<Level>]>>>,
    /// Bytes the pyramid holds.
    pyramid_used: Mutex<usize>,
    /// Counters of the connection layer ([`serve_with`]).
    connections: Arc<ConnectionStats>,
}

impl std::fmt::Debug for TileServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TileServer")
            .field("config", &self.config)
            .field("extent", &self.extent)
            .finish_non_exhaustive()
    }
}

impl TileServer {
    /// Check the layer against the data and measure the data's extent.
    ///
    /// ```
    /// use pointillist::server::{ServerConfig, TileServer};
    /// use pointillist::source::Source;
    ///
    /// let server = TileServer::new(Source::sample()?, ServerConfig::default())?;
    /// let ((x0, x1), _) = server.extent(); // Web Mercator metres
    /// assert!(x0 < x1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(source: Source, mut config: ServerConfig) -> Result<TileServer, ServerError> {
        config.layer = config.layer.resolve(&source)?;
        config.max_zoom = config.max_zoom.min(tiles::MAX_ZOOM);
        config.min_zoom = config.min_zoom.min(config.max_zoom);
        let extent = config.layer.data_extent(&source)?;
        let mut layers = HashMap::new();
        layers.insert(String::new(), config.layer.clone());
        Ok(TileServer {
            source,
            extent,
            cache: tile_cache(config.cache_bytes),
            rendered: std::sync::atomic::AtomicU64::new(0),
            warmed_ms: std::sync::atomic::AtomicU64::new(0),
            renders: Semaphore::new(config.max_renders.max(1)),
            layers: Mutex::new(layers),
            spans: Memo::new(),
            hists: Memo::new(),
            levels: Mutex::new(HashMap::new()),
            pyramid_used: Mutex::new(0),
            connections: Arc::default(),
            config,
        })
    }

    /// The pyramid level of zoom `z` (default layer, 256 px), computing it
    /// on first use; `None` past the pyramid's zoom, over its byte budget,
    /// or when the data is not sorted in space. Callers for the same zoom
    /// wait for one computation.
    pub fn level(&self, z: u8) -> Result<Option<Arc<tiles::ZoomLevel>>, ServerError> {
        self.layer_level("", &self.config.layer, z)
    }

    /// The pyramid level of zoom `z` for layer key `agg` (see
    /// [`TileServer::level`]): an `agg` override's levels are built the
    /// first time one of their tiles is asked for, within the same bytes.
    fn layer_level(
        &self,
        agg: &str,
        layer: &TileLayer,
        z: u8,
    ) -> Result<Option<Arc<tiles::ZoomLevel>>, ServerError> {
        Ok(match self.level_state(agg, layer, z)? {
            Level::Ready(l) => Some(l),
            _ => None,
        })
    }

    /// What became of zoom `z`'s pyramid level (`Unknown` past the
    /// pyramid's zooms), computing it on first use.
    fn level_state(&self, agg: &str, layer: &TileLayer, z: u8) -> Result<Level, ServerError> {
        let Some(max) = self.config.pyramid_max_zoom else {
            return Ok(Level::Unknown);
        };
        let max = max.min(self.config.max_zoom);
        if z > max {
            return Ok(Level::Unknown);
        }
        let slots = lock(&self.levels)
            .entry(agg.to_string())
            .or_insert_with(|| (0..=max).map(|_| Mutex::new(Level::Unknown)).collect())
            .clone();
        let Some(slot) = slots.get(usize::from(z)) else {
            return Ok(Level::Unknown);
        };
        let mut slot = lock(slot);
        if !matches!(&*slot, Level::Unknown) {
            return Ok(slot.clone());
        }
        let (reads, all) = tiles::zoom_reads(&self.source, layer, self.extent, z)?;
        if reads > PYRAMID_READ_FACTOR * all.max(1) + 16 {
            *slot = Level::Unsorted;
            return Ok(Level::Unsorted);
        }
        let level = tiles::aggregate_zoom(&self.source, layer, self.extent, z, 256)?;
        let mut used = lock(&self.pyramid_used);
        if *used + level.bytes > self.config.pyramid_bytes {
            *slot = Level::OverBudget(level.span);
            return Ok(slot.clone());
        }
        *used += level.bytes;
        *slot = Level::Ready(Arc::new(level));
        Ok(slot.clone())
    }

    /// The zooms whose pyramid levels are held, for the default layer.
    fn pyramid_zooms(&self) -> Vec<u8> {
        let Some(slots) = lock(&self.levels).get("").cloned() else {
            return Vec::new();
        };
        (0u8..)
            .zip(slots.iter())
            .filter(|(_, l)| matches!(l.try_lock().as_deref(), Ok(Level::Ready(_))))
            .map(|(z, _)| z)
            .collect()
    }

    /// Compute the pyramid's levels in the background, shallowest first, so
    /// that low-zoom tiles are ready before anyone asks.
    pub fn warm_up(self: &Arc<Self>) -> std::thread::JoinHandle<()> {
        let server = Arc::clone(self);
        std::thread::spawn(move || {
            let started = std::time::Instant::now();
            let c = &server.config;
            // Levels (which bring their spans), then the full-pass spans
            // (or histograms, for `eq_hist`) of the zooms below them.
            let last = c.span_max_zoom.max(c.pyramid_max_zoom.unwrap_or(0));
            let eq = c.shade.how == How::EqHist;
            for z in c.min_zoom..=last.min(c.max_zoom) {
                let done = if eq {
                    server.zoom_eq_hist("", &c.layer, z).map(drop)
                } else {
                    server.zoom_span("", &c.layer, z).map(drop)
                };
                if done.is_err() {
                    break;
                }
            }
            let ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX - 1);
            server
                .warmed_ms
                .store(ms + 1, std::sync::atomic::Ordering::Relaxed);
        })
    }

    /// The data's extent in Web Mercator metres.
    pub fn extent(&self) -> Extent {
        self.extent
    }

    /// The layer for an `agg` override (resolved once and kept).
    fn layer(&self, agg: &str) -> Result<TileLayer, Reject> {
        if let Some(l) = lock(&self.layers).get(agg) {
            return Ok(l.clone());
        }
        if lock(&self.layers).len() >= MAX_LAYERS {
            return Err(Reject::TooManyLayers);
        }
        let reduction: ReductionSpec = agg.parse().map_err(|source| Reject::BadAgg {
            agg: agg.to_string(),
            source,
        })?;
        let mut layer = self.config.layer.clone();
        if layer.reduction.by != reduction.by {
            layer.categories = None;
        }
        layer.reduction = reduction;
        let layer = layer
            .resolve(&self.source)
            .map_err(|source| Reject::AggLayer {
                agg: agg.to_string(),
                source,
            })?;
        lock(&self.layers).insert(agg.to_string(), layer.clone());
        Ok(layer)
    }

    /// The span of zoom `z` for layer key `agg` (computed once).
    fn zoom_span(
        &self,
        agg: &str,
        layer: &TileLayer,
        z: u8,
    ) -> Result<Option<(f64, f64)>, ServerError> {
        let z = z.min(self.config.span_max_zoom);
        self.spans.get_or_try(&(agg.to_string(), z), || {
            // A pyramid level's span is over the tiles it shows.
            match self.level_state(agg, layer, z)? {
                Level::Ready(level) => return Ok(level.span),
                Level::OverBudget(span) => return Ok(span),
                Level::Unknown | Level::Unsorted => {}
            }
            Ok(tiles::zoom_span(&self.source, layer, self.extent, z)?)
        })
    }

    /// The `eq_hist` histogram shared by the tiles of zoom `z` for layer
    /// key `agg` (computed once; zooms past `span_max_zoom` use that
    /// zoom's), as the pyramid writer builds it.
    fn zoom_eq_hist(
        &self,
        agg: &str,
        layer: &TileLayer,
        z: u8,
    ) -> Result<Option<Arc<SharedEqHist>>, ServerError> {
        let z = z.min(self.config.span_max_zoom);
        self.hists.get_or_try(&(agg.to_string(), z), || {
            let eq = match self.layer_level(agg, layer, z)? {
                Some(level) => level.eq_hist()?,
                None => tiles::zoom_eq_hist(&self.source, layer, self.extent, z)?,
            };
            Ok(eq.map(Arc::new))
        })
    }

    /// Render one tile: `Ok(None)` when no point falls in it.
    fn render(&self, req: &TileRequest) -> Result<Option<Vec<u8>>, ServerError> {
        let from_level = if req.size == 256 {
            self.layer_level(&req.agg_key, &req.layer, req.tile.z)?
        } else {
            None
        };
        let agg = match &from_level {
            Some(level) => match level.tile(req.tile.x, req.tile.y) {
                Some(a) => a.clone(),
                None => return Ok(None),
            },
            None => Arc::new(tiles::aggregate_tile(
                &self.source,
                &req.layer,
                req.tile,
                req.size,
            )?),
        };
        if tiles::is_blank(&agg) {
            return Ok(None);
        }
        let mut opts = req.shade.clone();
        let categorical = agg.categories.is_some();
        let bool_agg = matches!(agg.values, AggValues::Bool(_));
        // A 512-pixel tile has the pixels of the four 256-pixel tiles of
        // the next zoom, so it takes that zoom's span or histogram.
        let z = if req.size > 256 {
            req.tile.z.saturating_add(1).min(tiles::MAX_ZOOM)
        } else {
            req.tile.z
        };
        if opts.span.is_none() && !categorical && !bool_agg {
            if opts.how == How::EqHist {
                if let Some(eq) = self.zoom_eq_hist(&req.agg_key, &req.layer, z)? {
                    let img = eq.shade(&agg, &opts).map_err(TileError::from)?;
                    return Ok(Some(tiles::encode_image(&img)?));
                }
            } else {
                opts.span = self.zoom_span(&req.agg_key, &req.layer, z)?;
            }
        }
        Ok(Some(tiles::encode_tile(&agg, &opts)?))
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Why a request is refused: the status, and (as `Display`) the one-line
/// reason sent as the body.
#[derive(Debug, thiserror::Error)]
enum Reject {
    /// A zoom, column or row that is not a decimal number.
    #[error("tile {what} '{}' is not a whole number", .value.escape_debug())]
    NotANumber {
        /// `zoom`, `column` or `row`.
        what: &'static str,
        /// What was given.
        value: String,
    },
    /// A file name other than `{y}.png` or `{y}@2x.png`.
    #[error("'{}' is not a tile name; use {{y}}.png or {{y}}@2x.png", .file.escape_debug())]
    TileName {
        /// What was given.
        file: String,
    },
    /// An address outside the tile grid.
    #[error(transparent)]
    Address(#[from] TileAddressError),
    /// A zoom deeper than the server serves.
    #[error("zoom {z} is beyond this server's max zoom {max_zoom}")]
    BeyondMaxZoom {
        /// The zoom asked for.
        z: u8,
        /// [`ServerConfig::max_zoom`].
        max_zoom: u8,
    },
    /// A zoom shallower than an archive holds.
    #[error("zoom {z} is below this archive's min zoom {min_zoom}")]
    BelowMinZoom {
        /// The zoom asked for.
        z: u8,
        /// [`ArchiveInfo::min_zoom`].
        min_zoom: u8,
    },
    /// A query override asked of a pre-rendered archive.
    #[error("'{key}' cannot apply to a pre-rendered archive: its tiles are stored as rendered; drop '{key}', or serve the Parquet data to choose agg, how, cmap and span")]
    ArchiveOverride {
        /// The override.
        key: &'static str,
    },
    /// An archive that could not be read.
    #[error("cannot read the tile: {source}")]
    Archive {
        /// Why.
        #[source]
        source: ServerError,
    },
    /// `/legend.json` of an archive that stores none.
    #[error("this archive holds no legend (pointillist's pyramid writer stores one); see /tilejson.json")]
    NoLegend,
    /// An over-long query value.
    #[error("query parameter '{key}' is longer than {MAX_OVERRIDE_LEN} bytes")]
    OverrideTooLong {
        /// The parameter.
        key: String,
    },
    /// More distinct `agg` overrides than are kept.
    #[error(
        "too many different agg overrides (at most {MAX_LAYERS}); use one of those already served"
    )]
    TooManyLayers,
    /// An `agg` override that does not parse.
    #[error("agg '{agg}': {source}")]
    BadAgg {
        /// What was given.
        agg: String,
        /// Why it does not parse.
        #[source]
        source: SpecError,
    },
    /// An `agg` override that does not fit the data.
    #[error("agg '{agg}': {source}")]
    AggLayer {
        /// What was given.
        agg: String,
        /// Why the layer cannot be made.
        #[source]
        source: TileError,
    },
    /// A `how` override that does not parse.
    #[error("how '{value}': {source}")]
    BadHow {
        /// What was given.
        value: String,
        /// Why it does not parse.
        #[source]
        source: ShadeError,
    },
    /// A `cmap` override that does not parse.
    #[error("cmap '{value}': {source}")]
    BadCmap {
        /// What was given.
        value: String,
        /// Why it does not parse.
        #[source]
        source: ShadeError,
    },
    /// A `span` override that is not two ordered finite numbers.
    #[error("span '{value}' must be two finite numbers LO,HI with LO < HI")]
    BadSpan {
        /// What was given.
        value: String,
    },
    /// A `legend.json?z=` that is not a served zoom.
    #[error("z '{value}' must be a zoom from 0 to {max_zoom}")]
    BadLegendZoom {
        /// What was given.
        value: String,
        /// [`ServerConfig::max_zoom`].
        max_zoom: u8,
    },
    /// The render pool is closed.
    #[error("the server is shutting down")]
    ShuttingDown,
    /// A tile render that failed.
    #[error("cannot render tile: {source}")]
    Render {
        /// Why.
        #[source]
        source: ServerError,
    },
    /// A tile render that panicked or was cancelled.
    #[error("the tile render failed")]
    RenderAborted {
        /// The task's fate.
        #[source]
        source: tokio::task::JoinError,
    },
    /// A zoom level's span that could not be computed.
    #[error("cannot compute the span of zoom {z}: {source}")]
    Span {
        /// The zoom.
        z: u8,
        /// Why.
        #[source]
        source: ServerError,
    },
    /// Any path that is not a route.
    #[error("inspect: {what}")]
    BadInspect { what: String },
    #[error("inspect: {source}")]
    Inspect {
        #[source]
        source: TileError,
    },
    #[error("not found; tiles are at /tiles/{{z}}/{{x}}/{{y}}.png, metadata at /tilejson.json")]
    NotFound,
}

impl Reject {
    /// The HTTP status of the answer.
    fn status(&self) -> StatusCode {
        match self {
            Reject::NotFound | Reject::NoLegend => StatusCode::NOT_FOUND,
            Reject::ShuttingDown => StatusCode::SERVICE_UNAVAILABLE,
            Reject::Render { .. }
            | Reject::RenderAborted { .. }
            | Reject::Span { .. }
            | Reject::Archive { .. } => StatusCode::INTERNAL_SERVER_ERROR,
            Reject::NotANumber { .. }
            | Reject::TileName { .. }
            | Reject::Address(_)
            | Reject::BeyondMaxZoom { .. }
            | Reject::BelowMinZoom { .. }
            | Reject::ArchiveOverride { .. }
            | Reject::OverrideTooLong { .. }
            | Reject::TooManyLayers
            | Reject::BadAgg { .. }
            | Reject::AggLayer { .. }
            | Reject::BadHow { .. }
            | Reject::BadCmap { .. }
            | Reject::BadSpan { .. }
            | Reject::BadInspect { .. }
            | Reject::BadLegendZoom { .. } => StatusCode::BAD_REQUEST,
            // A bad column or agg is the request's; reading the data, ours.
            Reject::Inspect {
                source: TileError::Source(crate::source::SourceError::MissingColumn { .. }),
            }
            | Reject::Inspect {
                source: TileError::Aggregate(_) | TileError::Inspect { .. },
            } => StatusCode::BAD_REQUEST,
            Reject::Inspect { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl Reject {
    /// The answer: the status and the message, one line.
    fn response(&self) -> Response {
        (self.status(), format!("{self}\n")).into_response()
    }
}

impl IntoResponse for Reject {
    fn into_response(self) -> Response {
        self.response()
    }
}

/// One tile to render, with its overrides resolved.
struct TileRequest {
    tile: TileId,
    size: usize,
    layer: TileLayer,
    agg_key: String,
    shade: ShadeOptions,
    cache_key: String,
}

/// Parse `{y}.png` / `{y}@2x.png`.
fn parse_tile_file(file: &str) -> Option<(u64, usize)> {
    let stem = file.strip_suffix(".png")?;
    let (num, size) = match stem.strip_suffix("@2x") {
        Some(n) => (n, 512),
        None => (stem, 256),
    };
    if num.is_empty() || num.len() > 10 || !num.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((num.parse().ok()?, size))
}

fn parse_number(what: &'static str, s: &str) -> Result<u64, Reject> {
    let not_a_number = || Reject::NotANumber {
        what,
        value: s.to_string(),
    };
    if s.is_empty() || s.len() > 10 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(not_a_number());
    }
    s.parse().map_err(|_| not_a_number())
}

impl TileServer {
    /// Turn a tile path and its query into a [`TileRequest`].
    fn tile_request(
        &self,
        z: &str,
        x: &str,
        file: &str,
        query: &HashMap<String, String>,
    ) -> Result<TileRequest, Reject> {
        let z = parse_number("zoom", z)?;
        let x = parse_number("column", x)?;
        let (y, size) = parse_tile_file(file).ok_or_else(|| Reject::TileName {
            file: file.to_string(),
        })?;
        let z32 = u32::try_from(z).unwrap_or(u32::MAX);
        let tile = TileId::new(z32, x, y)?;
        if tile.z > self.config.max_zoom {
            return Err(Reject::BeyondMaxZoom {
                z: tile.z,
                max_zoom: self.config.max_zoom,
            });
        }
        let (agg_key, layer, shade) = self.overrides(query)?;
        let mut keys: Vec<(&String, &String)> = query
            .iter()
            .filter(|(k, _)| matches!(k.as_str(), "agg" | "how" | "cmap" | "span"))
            .collect();
        keys.sort();
        let cache_key = format!("{tile}@{size}?{keys:?}");
        Ok(TileRequest {
            tile,
            size,
            layer,
            agg_key,
            shade,
            cache_key,
        })
    }

    /// The `agg` key, layer and shading that a query's `agg`, `how`,
    /// `cmap` and `span` overrides ask for (tiles and the legend alike).
    fn overrides(
        &self,
        query: &HashMap<String, String>,
    ) -> Result<(String, TileLayer, ShadeOptions), Reject> {
        for (k, v) in query {
            if v.len() > MAX_OVERRIDE_LEN {
                return Err(Reject::OverrideTooLong { key: k.clone() });
            }
        }
        let agg_key = query.get("agg").map_or("", |s| s.trim()).to_string();
        let layer = self.layer(&agg_key)?;
        let mut shade = self.config.shade.clone();
        if let Some(h) = query.get("how") {
            shade.how = h.parse().map_err(|source| Reject::BadHow {
                value: h.clone(),
                source,
            })?;
        }
        if let Some(c) = query.get("cmap") {
            let arg = shade::parse_cmap_arg(c).map_err(|source| Reject::BadCmap {
                value: c.clone(),
                source,
            })?;
            shade.cmap = arg.colors;
            shade.single_color = arg.single_color;
        }
        if let Some(s) = query.get("span") {
            let parts: Vec<&str> = s.split(',').map(str::trim).collect();
            let nums: Vec<f64> = parts.iter().filter_map(|p| p.parse().ok()).collect();
            match nums[..] {
                [lo, hi] if parts.len() == 2 && lo.is_finite() && hi.is_finite() && lo < hi => {
                    shade.span = Some((lo, hi));
                }
                _ => return Err(Reject::BadSpan { value: s.clone() }),
            }
        }
        Ok((agg_key, layer, shade))
    }
}

/// A strong ETag for `bytes`: 64-bit FNV-1a and the length.
fn etag(bytes: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("\"{h:016x}-{:x}\"", bytes.len())
}

/// Whether `If-None-Match` lists `tag` (or `*`), by the weak comparison
/// RFC 9110 prescribes for this header.
fn none_match(headers: &HeaderMap, tag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().trim_start_matches("W/"))
        .any(|t| t == "*" || t == tag)
}

const TILE_CACHE_CONTROL: &str = "public, max-age=3600";

async fn tile_handler(
    State(server): State<Arc<TileServer>>,
    Path((z, x, file)): Path<(String, String, String)>,
    Query(query): Query<HashMap<String, String>>,
    method: Method,
    headers: HeaderMap,
) -> Response {
    // An `agg` override not seen yet resolves its layer, which can scan the
    // data (categories, ranges): that runs on a blocking thread, never on
    // the async workers that answer everyone else.
    let agg_key = query.get("agg").map_or("", |a| a.trim());
    let known = lock(&server.layers).contains_key(agg_key);
    let req = if known {
        server.tile_request(&z, &x, &file, &query)
    } else {
        let s = server.clone();
        match tokio::task::spawn_blocking(move || s.tile_request(&z, &x, &file, &query)).await {
            Ok(r) => r,
            Err(source) => return Reject::RenderAborted { source }.into_response(),
        }
    };
    let req = match req {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    let tile = match server.cache.get(&req.cache_key).await {
        Some(t) => t,
        None => {
            // One render per uncached tile, however many ask at once: the
            // first request renders, the others wait for it (a failed
            // render is not kept, and the next request tries again).
            let s = server.clone();
            let key = req.cache_key.clone();
            let rendered = server
                .cache
                .try_get_with(key, async move {
                    let Ok(_permit) = s.renders.acquire().await else {
                        return Err(Reject::ShuttingDown);
                    };
                    let r = s.clone();
                    match tokio::task::spawn_blocking(move || r.render(&req)).await {
                        Ok(Ok(tile)) => {
                            s.rendered
                                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            Ok(CachedTile::new(tile.unwrap_or_default()))
                        }
                        Ok(Err(source)) => Err(Reject::Render { source }),
                        Err(source) => Err(Reject::RenderAborted { source }),
                    }
                })
                .await;
            match rendered {
                Ok(t) => t,
                Err(reject) => return reject.response(),
            }
        }
    };
    tile_response(tile, "image/png", &method, &headers)
}

/// A tile's answer (live or from an archive): `204` when it is empty,
/// else its bytes with their `ETag` (`304` when `If-None-Match` lists it),
/// `Cache-Control` and CORS, and for `HEAD` the length without the body.
fn tile_response(
    tile: CachedTile,
    content_type: &'static str,
    method: &Method,
    headers: &HeaderMap,
) -> Response {
    let bytes = tile.bytes;
    let mut h = HeaderMap::new();
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(TILE_CACHE_CONTROL),
    );
    if bytes.is_empty() {
        return (StatusCode::NO_CONTENT, h).into_response();
    }
    let tag = tile.etag;
    if let Ok(v) = HeaderValue::from_str(&tag) {
        h.insert(header::ETAG, v);
    }
    if none_match(headers, &tag) {
        return (StatusCode::NOT_MODIFIED, h).into_response();
    }
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if method == Method::HEAD {
        h.insert(header::CONTENT_LENGTH, HeaderValue::from(bytes.len()));
        return (StatusCode::OK, h).into_response();
    }
    (StatusCode::OK, h, bytes).into_response()
}

fn json_response(value: serde_json::Value) -> Response {
    let mut h = HeaderMap::new();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    (StatusCode::OK, h, value.to_string()).into_response()
}

/// The request's `Host` for TileJSON's tile URL, when it is a plain host
/// name or address with a port; else `127.0.0.1`.
fn request_host(headers: &HeaderMap) -> &str {
    headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            !h.is_empty()
                && h.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b))
        })
        .unwrap_or("127.0.0.1")
}

/// `GET /inspect/{z}/{x}/{y}.png?px=I&py=J[&n=N][&columns=A,B][&agg=...]`:
/// what lies under pixel `(I, J)` (from the top left) of that tile, as
/// JSON: `count` (rows in the pixel), `selected_by` (the `where` that
/// picked the rows), `rows` (each `{"row": position, COLUMN: value, ...}`,
/// at most `n`, 10 by default, 100 at most) and `columns`. Built on
/// [`tiles::inspect_pixel`]; it runs on the render threads, within their
/// limit.
async fn inspect(
    State(server): State<Arc<TileServer>>,
    Path((z, x, file)): Path<(String, String, String)>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let number = |key: &str, default: Option<usize>| -> Result<usize, Reject> {
        match query.get(key) {
            None => default.ok_or_else(|| Reject::BadInspect {
                what: format!("give the pixel as ?px=COLUMN&py=ROW ({key} is missing)"),
            }),
            Some(v) => v.trim().parse().map_err(|_| Reject::BadInspect {
                what: format!("{key} '{}' is not a whole number", v.escape_debug()),
            }),
        }
    };
    let parsed = (|| {
        let px = number("px", None)?;
        let py = number("py", None)?;
        let n = number("n", Some(10))?;
        let columns: Vec<String> = query
            .get("columns")
            .map(|c| {
                c.split(',')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        if columns.len() > 32 {
            return Err(Reject::BadInspect {
                what: "at most 32 columns".into(),
            });
        }
        Ok((px, py, n, columns))
    })();
    let (px, py, n, columns) = match parsed {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let Ok(_permit) = server.renders.acquire().await else {
        return Reject::ShuttingDown.into_response();
    };
    let s = server.clone();
    let found = tokio::task::spawn_blocking(move || {
        let req = s.tile_request(&z, &x, &file, &query)?;
        tiles::inspect_pixel(
            &s.source,
            &req.layer,
            req.tile,
            req.size,
            (px, py),
            n,
            &columns,
        )
        .map_err(|source| Reject::Inspect { source })
    })
    .await;
    let found = match found {
        Ok(Ok(f)) => f,
        Ok(Err(e)) => return e.into_response(),
        Err(source) => return Reject::RenderAborted { source }.into_response(),
    };
    let rows: Vec<serde_json::Value> = found
        .rows
        .iter()
        .zip(&found.values)
        .map(|(row, values)| {
            let mut o = serde_json::Map::new();
            o.insert("row".into(), (*row).into());
            for (c, v) in found.columns.iter().zip(values) {
                let v = match v {
                    tiles::CellValue::Number(x) => serde_json::json!(x),
                    tiles::CellValue::Text(t) => serde_json::json!(t),
                    tiles::CellValue::Bool(b) => serde_json::json!(b),
                    _ => serde_json::Value::Null,
                };
                o.insert(c.clone(), v);
            }
            serde_json::Value::Object(o)
        })
        .collect();
    json_response(serde_json::json!({
        "count": found.count,
        "selected_by": found.selected_by,
        "columns": found.columns,
        "rows": rows,
    }))
}

async fn tilejson(State(server): State<Arc<TileServer>>, headers: HeaderMap) -> Response {
    let host = request_host(&headers);
    let c = &server.config;
    let b = tiles::extent_lnglat(server.extent);
    let center_zoom = c.min_zoom.max(2).min(c.max_zoom);
    json_response(serde_json::json!({
        "tilejson": "3.0.0",
        "name": c.name,
        "scheme": "xyz",
        "tiles": [format!("http://{host}/tiles/{{z}}/{{x}}/{{y}}.png")],
        "minzoom": c.min_zoom,
        "maxzoom": c.max_zoom,
        "bounds": b,
        "center": [(b[0] + b[2]) / 2.0, (b[1] + b[3]) / 2.0, center_zoom],
        "attribution": "rendered by pointillist",
    }))
}

impl TileServer {
    /// `/legend.json`: the colours and spans of the layer and shading that
    /// the query's `agg`, `how`, `cmap` and `span` overrides ask for, as
    /// tiles with the same query get them; `?z=N` computes that zoom's
    /// span first.
    fn legend_json(&self, query: &HashMap<String, String>) -> Result<serde_json::Value, Reject> {
        let c = &self.config;
        let hex = |rgb: &[u8; 3]| format!("#{:02x}{:02x}{:02x}", rgb[0], rgb[1], rgb[2]);
        let z = match query.get("z") {
            None => None,
            Some(v) => match v.parse::<u8>() {
                Ok(z) if z <= c.max_zoom => Some(z),
                _ => {
                    return Err(Reject::BadLegendZoom {
                        value: v.clone(),
                        max_zoom: c.max_zoom,
                    })
                }
            },
        };
        let (agg_key, layer, shade) = self.overrides(query)?;
        // Only what the tiles would use: no span for a fixed span or
        // categories; the zoom's histogram for `eq_hist`.
        let eq = shade.how == How::EqHist;
        let zoomed = shade.span.is_none() && layer.categories.is_none();
        if let Some(z) = z.filter(|_| zoomed) {
            let done = if eq {
                self.zoom_eq_hist(&agg_key, &layer, z).map(drop)
            } else {
                self.zoom_span(&agg_key, &layer, z).map(drop)
            };
            done.map_err(|source| Reject::Span { z, source })?;
        }
        let zooms: Vec<serde_json::Value> = (c.min_zoom..=c.max_zoom)
            .map(|z| {
                let from = z.min(c.span_max_zoom);
                if eq && zoomed {
                    // The values at the colormap's ends (equalised between).
                    let known = self.hists.known(&(agg_key.clone(), from));
                    return serde_json::json!({
                        "zoom": z,
                        "span": null,
                        "value_range": known.clone().flatten().map(|h| {
                            let (lo, hi) = h.value_range();
                            [lo, hi]
                        }),
                        "span_from_zoom": from,
                        "computed": known.is_some(),
                    });
                }
                let span = shade
                    .span
                    .map(Some)
                    .or_else(|| self.spans.known(&(agg_key.clone(), from)));
                serde_json::json!({
                    "zoom": z,
                    "span": span.flatten().map(|(lo, hi)| [lo, hi]),
                    "span_from_zoom": from,
                    "computed": span.is_some(),
                })
            })
            .collect();
        let category_colors = layer.categories.as_ref().map(|cats| {
            let key = shade.color_key_colors();
            key.iter().take(cats.len()).map(hex).collect::<Vec<_>>()
        });
        Ok(serde_json::json!({
            "agg": layer.reduction.to_string(),
            "how": shade.how.name(),
            "cmap": shade.cmap.iter().map(hex).collect::<Vec<_>>(),
            "single_color": shade.single_color.as_ref().map(hex),
            "categories": layer.categories,
            "category_colors": category_colors,
            "zooms": zooms,
        }))
    }
}

async fn legend(
    State(server): State<Arc<TileServer>>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    // An `agg` override can resolve a layer (a scan of the data) and `?z=`
    // can compute a span: both on a blocking thread.
    let s = server.clone();
    match tokio::task::spawn_blocking(move || s.legend_json(&query)).await {
        Ok(Ok(v)) => json_response(v),
        Ok(Err(reject)) => reject.into_response(),
        Err(source) => Reject::RenderAborted { source }.into_response(),
    }
}

async fn health(State(server): State<Arc<TileServer>>) -> Response {
    server.cache.run_pending_tasks().await;
    let (tiles, bytes) = (server.cache.entry_count(), server.cache.weighted_size());
    json_response(serde_json::json!({
        "status": "ok",
        "rows": server.source.num_rows(),
        "cached_tiles": tiles,
        "cached_bytes": bytes,
        "pyramid_zooms": server.pyramid_zooms(),
        "pyramid_bytes": *lock(&server.pyramid_used),
        "tiles_rendered": server.rendered.load(std::sync::atomic::Ordering::Relaxed),
        "warm_up_seconds": match server.warmed_ms.load(std::sync::atomic::Ordering::Relaxed) {
            0 => serde_json::Value::Null,
            ms => serde_json::json!((ms - 1) as f64 / 1000.0),
        },
        "connections": server.connections.to_json(),
    }))
}

/// The viewer page's settings element; the server puts its settings in
/// place of the empty object.
const VIEWER_CONFIG: &str = r#"<script id="viewer-config" type="application/json">{}</script>"#;

/// The viewer page for `config`: the basemap template, and for an archive
/// (`archive`: tiles already rendered) that overrides do not apply, as
/// JSON with `<`, `>` and `&` escaped so that nothing in it can end the
/// script.
fn viewer_page(config: &ServerConfig, archive: bool) -> String {
    if config.basemap.is_none() && !archive {
        return VIEWER_HTML.to_string();
    }
    let mut settings = serde_json::Map::new();
    if let Some(basemap) = &config.basemap {
        settings.insert("basemap".into(), basemap.clone().into());
    }
    if archive {
        settings.insert("archive".into(), true.into());
    }
    let json = serde_json::Value::Object(settings)
        .to_string()
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026");
    let element = VIEWER_CONFIG.replacen("{}", &json, 1);
    VIEWER_HTML.replacen(VIEWER_CONFIG, &element, 1)
}

async fn viewer(State(server): State<Arc<TileServer>>) -> Response {
    let mut h = HeaderMap::new();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    (StatusCode::OK, h, viewer_page(&server.config, false)).into_response()
}

async fn not_found() -> Response {
    Reject::NotFound.into_response()
}

/// The HTTP routes over a server's state, to serve with [`serve`] or to
/// mount in a larger axum application.
///
/// ```
/// use std::sync::Arc;
///
/// use pointillist::server::{router, ServerConfig, TileServer};
/// use pointillist::source::Source;
///
/// let server = TileServer::new(Source::sample()?, ServerConfig::default())?;
/// let app: axum::Router = axum::Router::new().nest("/map", router(Arc::new(server)));
/// # let _ = app;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn router(server: Arc<TileServer>) -> Router {
    with_cors(routes(server))
}

/// The routes, without the CORS layer.
fn routes(server: Arc<TileServer>) -> Router {
    Router::new()
        .route("/", get(viewer))
        .route("/tiles/{z}/{x}/{file}", get(tile_handler))
        .route("/tilejson.json", get(tilejson))
        .route("/legend.json", get(legend))
        .route("/inspect/{z}/{x}/{file}", get(inspect))
        .route("/health", get(health))
        .fallback(not_found)
        .with_state(server)
}

/// CORS for any origin on every answer (errors and timeouts included),
/// with `ETag` readable by scripts, and preflights answered for a day.
fn with_cors(app: Router) -> Router {
    use tower_http::cors::{Any, CorsLayer};
    app.layer(
        CorsLayer::new()
            .allow_origin(Any)
            .allow_methods([Method::GET, Method::HEAD, Method::OPTIONS])
            .allow_headers(Any)
            .expose_headers([header::ETAG])
            .max_age(std::time::Duration::from_secs(86_400)),
    )
}

/// Serve `server` on `listener` until `shutdown` resolves, then finish the
/// requests in flight, with the default [`ConnectionLimits`].
pub async fn serve(
    listener: tokio::net::TcpListener,
    server: Arc<TileServer>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(listener, server, ConnectionLimits::default(), shutdown).await
}

/// [`serve`] with chosen [`ConnectionLimits`]: slow, half-open and idle
/// clients are dropped, at most `max_connections` are served at once, and
/// a response not ready within `request_timeout` is a `503`. `/health`
/// reports the counts under `connections`.
pub async fn serve_with(
    listener: tokio::net::TcpListener,
    server: Arc<TileServer>,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let stats = Arc::clone(&server.connections);
    serve_app(listener, routes(server), stats, limits, shutdown).await
}

/// Serve `app` (the live or an archive's routes, without CORS) under
/// `limits`, with the request deadline inside the CORS layer (so that a
/// timed-out answer carries CORS too), counting into `stats`.
async fn serve_app(
    listener: tokio::net::TcpListener,
    app: Router,
    stats: Arc<ConnectionStats>,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let timeout = limits.request_timeout;
    let app = with_cors(app.layer(axum::middleware::from_fn_with_state(
        (timeout, Arc::clone(&stats)),
        request_deadline,
    )));
    conn::serve_connections(listener, app, limits, stats, shutdown).await
}

/// The request timeout: `503` with `Retry-After` when the response is not
/// ready in time (a render keeps running on its blocking thread and fills
/// the cache for the retry).
async fn request_deadline(
    State((timeout, stats)): State<(std::time::Duration, Arc<ConnectionStats>)>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    match tokio::time::timeout(timeout, next.run(req)).await {
        Ok(r) => r,
        Err(_) => {
            stats.request_timed_out();
            let mut h = HeaderMap::new();
            h.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            (
                StatusCode::SERVICE_UNAVAILABLE,
                h,
                "the response was not ready within the request timeout; retry\n",
            )
                .into_response()
        }
    }
}

/// Resolves on SIGINT (Ctrl-C) or, on Unix, SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

#[cfg(test)]
mod tests;
