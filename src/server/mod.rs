//! Tile server: XYZ PNG tiles rendered on demand over HTTP.
//!
//! Routes: `GET|HEAD /tiles/{z}/{x}/{y}.png` (and `{y}@2x.png`, 512 px over
//! the same bounds) with query overrides `agg`, `how`, `cmap`, `span`;
//! `/tilejson.json` (TileJSON 3.0); `/legend.json` (colormap and span per
//! zoom); `/health`; a viewer page at `/` that needs no internet access.
//!
//! Rules a tile client relies on: a strong `ETag` computed from the tile's
//! bytes and `304` on a matching `If-None-Match`; `204` for a tile with no
//! points; `Cache-Control` on tiles; CORS for any origin (preflight too);
//! `400` for a malformed or out-of-range address or override; `404` for any
//! other path (nothing is read from the file system, so there is no path
//! to traverse). Encoded tiles are kept in an LRU cache bounded in bytes;
//! renders run on blocking threads, at most `max_renders` at once.
//!
//! Colours are the same across a zoom level: for `linear`, `log` and `cbrt`
//! without an explicit `span`, each zoom level's span is `(nanmin, nanmax)`
//! over the zoom's tiles, computed once per zoom up to `span_max_zoom`;
//! deeper zoom levels reuse that level's span, and a `@2x` tile takes the
//! span of the next zoom (its pixels are that zoom's). `eq_hist` equalises
//! each tile on its own (as Datashader's `shade` does per image).
//!
//! Low zooms, where one tile holds much of the data, come from a pyramid:
//! when the data is sorted in space (`pointillist index`), every tile of the
//! default layer at zooms up to `pyramid_max_zoom` is aggregated in the
//! background at start-up (each exactly as it would be on its own, so the
//! bytes do not change) and kept within `pyramid_bytes`; their span is over
//! those tiles. Deeper zooms' spans are Datashader's full pass over blocks
//! of up to 16x16 tiles ([`crate::tiles::zoom_span`]), also computed in the
//! background.

mod cache;

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tokio::sync::Semaphore;

use crate::aggregate::{AggValues, ReductionSpec};
use crate::error::Error;
use crate::shade::{self, How, ShadeOptions};
use crate::source::Source;
use crate::tiles::{self, Extent, TileId, TileLayer};

use cache::TileCache;

/// The viewer page served at `/`.
const VIEWER_HTML: &str = include_str!("viewer.html");

/// Longest accepted query override value, in bytes.
const MAX_OVERRIDE_LEN: usize = 512;

/// How many distinct `agg` overrides are kept resolved (categories
/// scanned once each); further ones are answered 400.
const MAX_LAYERS: usize = 16;

/// Everything the server needs besides the data.
#[derive(Debug, Clone)]
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
        }
    }
}

/// A zoom level's span is kept per `agg` override and zoom.
type SpanKey = (String, u8);

/// A pyramid level: not yet looked at, held, or left to per-tile renders.
#[derive(Debug, Clone)]
enum Level {
    Unknown,
    Ready(Arc<tiles::ZoomLevel>),
    Skipped,
}

/// A level is kept only when rendering it tile by tile reads at most this
/// many times the source's row groups (i.e. the data is spatially sorted).
const PYRAMID_READ_FACTOR: usize = 4;

/// Shared state of a running server.
pub struct TileServer {
    source: Source,
    config: ServerConfig,
    extent: Extent,
    cache: Mutex<TileCache>,
    renders: Semaphore,
    /// Resolved layers by `agg` override ("" = the default).
    layers: Mutex<HashMap<String, TileLayer>>,
    /// Full-pass spans by (`agg` key, zoom).
    spans: Mutex<HashMap<SpanKey, Option<(f64, f64)>>>,
    /// The low-zoom pyramid of the default layer, by zoom.
    levels: Vec<Mutex<Level>>,
    /// Bytes the pyramid holds.
    pyramid_used: Mutex<usize>,
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
    pub fn new(source: Source, mut config: ServerConfig) -> Result<TileServer, Error> {
        config.layer = config.layer.resolve(&source)?;
        config.max_zoom = config.max_zoom.min(tiles::MAX_ZOOM);
        config.min_zoom = config.min_zoom.min(config.max_zoom);
        let extent = config.layer.data_extent(&source)?;
        let mut layers = HashMap::new();
        layers.insert(String::new(), config.layer.clone());
        Ok(TileServer {
            source,
            extent,
            cache: Mutex::new(TileCache::new(config.cache_bytes)),
            renders: Semaphore::new(config.max_renders.max(1)),
            layers: Mutex::new(layers),
            spans: Mutex::new(HashMap::new()),
            levels: (0..=config
                .pyramid_max_zoom
                .map_or(0, |z| z.min(config.max_zoom)))
                .map(|_| Mutex::new(Level::Unknown))
                .collect(),
            pyramid_used: Mutex::new(0),
            config,
        })
    }

    /// The pyramid level of zoom `z` (default layer, 256 px), computing it
    /// on first use; `None` past the pyramid's zoom, over its byte budget,
    /// or when the data is not sorted in space. Callers for the same zoom
    /// wait for one computation.
    pub fn level(&self, z: u8) -> Result<Option<Arc<tiles::ZoomLevel>>, Error> {
        let Some(max) = self.config.pyramid_max_zoom else {
            return Ok(None);
        };
        if z > max {
            return Ok(None);
        }
        let Some(slot) = self.levels.get(usize::from(z)) else {
            return Ok(None);
        };
        let mut slot = lock(slot);
        match &*slot {
            Level::Ready(l) => return Ok(Some(l.clone())),
            Level::Skipped => return Ok(None),
            Level::Unknown => {}
        }
        let layer = &self.config.layer;
        let (reads, all) = tiles::zoom_reads(&self.source, layer, self.extent, z)?;
        if reads > PYRAMID_READ_FACTOR * all.max(1) + 16 {
            *slot = Level::Skipped;
            return Ok(None);
        }
        let level = tiles::aggregate_zoom(&self.source, layer, self.extent, z, 256)?;
        lock(&self.spans).insert((String::new(), z), level.span);
        let mut used = lock(&self.pyramid_used);
        if *used + level.bytes > self.config.pyramid_bytes {
            *slot = Level::Skipped;
            return Ok(None);
        }
        *used += level.bytes;
        let level = Arc::new(level);
        *slot = Level::Ready(level.clone());
        Ok(Some(level))
    }

    /// The zooms whose pyramid levels are held.
    fn pyramid_zooms(&self) -> Vec<u8> {
        (0u8..)
            .zip(&self.levels)
            .filter(|(_, l)| matches!(l.try_lock().as_deref(), Ok(Level::Ready(_))))
            .map(|(z, _)| z)
            .collect()
    }

    /// Compute the pyramid's levels in the background, shallowest first, so
    /// that low-zoom tiles are ready before anyone asks.
    pub fn warm_up(self: &Arc<Self>) -> std::thread::JoinHandle<()> {
        let server = Arc::clone(self);
        std::thread::spawn(move || {
            let c = &server.config;
            // Levels (which bring their spans), then the full-pass spans of
            // the zooms below them.
            let last = c.span_max_zoom.max(c.pyramid_max_zoom.unwrap_or(0));
            for z in c.min_zoom..=last.min(c.max_zoom) {
                if server.zoom_span("", &c.layer, z).is_err() {
                    break;
                }
            }
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
            return Err(Reject::bad(format!(
                "too many different agg overrides (at most {MAX_LAYERS}); use one of those already served"
            )));
        }
        let reduction: ReductionSpec = agg
            .parse()
            .map_err(|e| Reject::bad(format!("agg '{agg}': {e}")))?;
        let mut layer = self.config.layer.clone();
        if layer.reduction.by != reduction.by {
            layer.categories = None;
        }
        layer.reduction = reduction;
        let layer = layer
            .resolve(&self.source)
            .map_err(|e| Reject::bad(format!("agg '{agg}': {e}")))?;
        lock(&self.layers).insert(agg.to_string(), layer.clone());
        Ok(layer)
    }

    /// The span of zoom `z` for layer key `agg` (computed once).
    fn zoom_span(&self, agg: &str, layer: &TileLayer, z: u8) -> Result<Option<(f64, f64)>, Error> {
        let z = z.min(self.config.span_max_zoom);
        let key = (agg.to_string(), z);
        if let Some(s) = lock(&self.spans).get(&key) {
            return Ok(*s);
        }
        if agg.is_empty() {
            // A pyramid level's span is over the tiles it shows.
            if let Some(level) = self.level(z)? {
                return Ok(level.span);
            }
            if let Some(s) = lock(&self.spans).get(&key) {
                return Ok(*s);
            }
        }
        let span = tiles::zoom_span(&self.source, layer, self.extent, z)?;
        lock(&self.spans).insert(key, span);
        Ok(span)
    }

    /// Render one tile: `Ok(None)` when no point falls in it.
    fn render(&self, req: &TileRequest) -> Result<Option<Vec<u8>>, Error> {
        let from_level = if req.agg_key.is_empty() && req.size == 256 {
            self.level(req.tile.z)?
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
        if opts.span.is_none() && opts.how != How::EqHist && !categorical && !bool_agg {
            // A 512-pixel tile has the pixels of the four 256-pixel tiles
            // of the next zoom, so it takes that zoom's span.
            let z = if req.size > 256 {
                req.tile.z.saturating_add(1).min(tiles::MAX_ZOOM)
            } else {
                req.tile.z
            };
            opts.span = self.zoom_span(&req.agg_key, &req.layer, z)?;
        }
        tiles::encode_tile(&agg, &opts).map(Some)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A request refused with a status and a one-line reason.
#[derive(Debug)]
struct Reject {
    status: StatusCode,
    message: String,
}

impl Reject {
    fn bad(message: String) -> Reject {
        Reject {
            status: StatusCode::BAD_REQUEST,
            message,
        }
    }
}

impl IntoResponse for Reject {
    fn into_response(self) -> Response {
        let mut r = (self.status, format!("{}\n", self.message)).into_response();
        cors(r.headers_mut());
        r
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

fn parse_number(what: &str, s: &str) -> Result<u64, Reject> {
    if s.is_empty() || s.len() > 10 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Reject::bad(format!(
            "tile {what} '{}' is not a whole number",
            s.escape_debug()
        )));
    }
    s.parse()
        .map_err(|_| Reject::bad(format!("tile {what} '{s}' is not a whole number")))
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
        let (y, size) = parse_tile_file(file).ok_or_else(|| {
            Reject::bad(format!(
                "'{}' is not a tile name; use {{y}}.png or {{y}}@2x.png",
                file.escape_debug()
            ))
        })?;
        let z32 = u32::try_from(z).unwrap_or(u32::MAX);
        let tile = TileId::new(z32, x, y).map_err(|e| Reject::bad(e.to_string()))?;
        if tile.z > self.config.max_zoom {
            return Err(Reject::bad(format!(
                "zoom {} is beyond this server's max zoom {}",
                tile.z, self.config.max_zoom
            )));
        }
        for (k, v) in query {
            if v.len() > MAX_OVERRIDE_LEN {
                return Err(Reject::bad(format!(
                    "query parameter '{k}' is longer than {MAX_OVERRIDE_LEN} bytes"
                )));
            }
        }
        let agg_key = query.get("agg").map_or("", |s| s.trim()).to_string();
        let layer = self.layer(&agg_key)?;
        let mut shade = self.config.shade.clone();
        if let Some(h) = query.get("how") {
            shade.how = h
                .parse()
                .map_err(|e| Reject::bad(format!("how '{h}': {e}")))?;
        }
        if let Some(c) = query.get("cmap") {
            let arg =
                shade::parse_cmap_arg(c).map_err(|e| Reject::bad(format!("cmap '{c}': {e}")))?;
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
                _ => {
                    return Err(Reject::bad(format!(
                        "span '{s}' must be two finite numbers LO,HI with LO < HI"
                    )))
                }
            }
        }
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
}

/// Add the CORS headers every response carries.
fn cors(h: &mut HeaderMap) {
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    h.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static("ETag"),
    );
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
    let req = match server.tile_request(&z, &x, &file, &query) {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    let cached = lock(&server.cache).get(&req.cache_key);
    let bytes = match cached {
        Some(b) => b,
        None => {
            let Ok(_permit) = server.renders.acquire().await else {
                return Reject {
                    status: StatusCode::SERVICE_UNAVAILABLE,
                    message: "the server is shutting down".into(),
                }
                .into_response();
            };
            let s = server.clone();
            let key = req.cache_key.clone();
            let rendered = tokio::task::spawn_blocking(move || s.render(&req)).await;
            match rendered {
                Ok(Ok(tile)) => {
                    let b: Arc<[u8]> = tile.unwrap_or_default().into();
                    lock(&server.cache).put(key, b.clone());
                    b
                }
                Ok(Err(e)) => {
                    return Reject {
                        status: StatusCode::INTERNAL_SERVER_ERROR,
                        message: format!("cannot render tile: {e}"),
                    }
                    .into_response()
                }
                Err(_) => {
                    return Reject {
                        status: StatusCode::INTERNAL_SERVER_ERROR,
                        message: "the tile render failed".into(),
                    }
                    .into_response()
                }
            }
        }
    };
    let mut h = HeaderMap::new();
    cors(&mut h);
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(TILE_CACHE_CONTROL),
    );
    if bytes.is_empty() {
        return (StatusCode::NO_CONTENT, h).into_response();
    }
    let tag = etag(&bytes);
    if let Ok(v) = HeaderValue::from_str(&tag) {
        h.insert(header::ETAG, v);
    }
    if none_match(&headers, &tag) {
        return (StatusCode::NOT_MODIFIED, h).into_response();
    }
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("image/png"));
    if method == Method::HEAD {
        h.insert(header::CONTENT_LENGTH, HeaderValue::from(bytes.len()));
        return (StatusCode::OK, h).into_response();
    }
    (StatusCode::OK, h, bytes.to_vec()).into_response()
}

fn json_response(value: serde_json::Value) -> Response {
    let mut h = HeaderMap::new();
    cors(&mut h);
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    (StatusCode::OK, h, value.to_string()).into_response()
}

async fn tilejson(State(server): State<Arc<TileServer>>, headers: HeaderMap) -> Response {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            !h.is_empty()
                && h.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b))
        })
        .unwrap_or("127.0.0.1");
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

async fn legend(
    State(server): State<Arc<TileServer>>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let c = &server.config;
    let hex = |rgb: &[u8; 3]| format!("#{:02x}{:02x}{:02x}", rgb[0], rgb[1], rgb[2]);
    // `?z=N` computes that zoom's span now; the others are listed as known.
    if let Some(z) = query.get("z") {
        let z = match z.parse::<u8>() {
            Ok(z) if z <= c.max_zoom => z,
            _ => {
                return Reject::bad(format!("z '{z}' must be a zoom from 0 to {}", c.max_zoom))
                    .into_response()
            }
        };
        let s = server.clone();
        let layer = c.layer.clone();
        let done = tokio::task::spawn_blocking(move || s.zoom_span("", &layer, z)).await;
        if let Ok(Err(e)) = done {
            return Reject {
                status: StatusCode::INTERNAL_SERVER_ERROR,
                message: format!("cannot compute the span of zoom {z}: {e}"),
            }
            .into_response();
        }
    }
    let spans = lock(&server.spans).clone();
    let zooms: Vec<serde_json::Value> = (c.min_zoom..=c.max_zoom)
        .map(|z| {
            let from = z.min(c.span_max_zoom);
            let span = c
                .shade
                .span
                .map(Some)
                .or_else(|| spans.get(&(String::new(), from)).copied());
            serde_json::json!({
                "zoom": z,
                "span": span.flatten().map(|(lo, hi)| [lo, hi]),
                "span_from_zoom": from,
                "computed": span.is_some(),
            })
        })
        .collect();
    json_response(serde_json::json!({
        "agg": c.layer.reduction.to_string(),
        "how": c.shade.how.name(),
        "cmap": c.shade.cmap.iter().map(hex).collect::<Vec<_>>(),
        "categories": c.layer.categories,
        "zooms": zooms,
    }))
}

async fn health(State(server): State<Arc<TileServer>>) -> Response {
    let (tiles, bytes) = {
        let cache = lock(&server.cache);
        (cache.len(), cache.bytes())
    };
    json_response(serde_json::json!({
        "status": "ok",
        "rows": server.source.num_rows(),
        "cached_tiles": tiles,
        "cached_bytes": bytes,
        "pyramid_zooms": server.pyramid_zooms(),
        "pyramid_bytes": *lock(&server.pyramid_used),
    }))
}

async fn viewer() -> Response {
    let mut h = HeaderMap::new();
    cors(&mut h);
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    (StatusCode::OK, h, VIEWER_HTML).into_response()
}

async fn preflight() -> Response {
    let mut h = HeaderMap::new();
    cors(&mut h);
    h.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, HEAD, OPTIONS"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("*"),
    );
    h.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("86400"),
    );
    (StatusCode::NO_CONTENT, h).into_response()
}

async fn not_found(method: Method) -> Response {
    if method == Method::OPTIONS {
        return preflight().await;
    }
    Reject {
        status: StatusCode::NOT_FOUND,
        message: "not found; tiles are at /tiles/{z}/{x}/{y}.png, metadata at /tilejson.json"
            .into(),
    }
    .into_response()
}

/// The HTTP routes over a server's state.
pub fn router(server: Arc<TileServer>) -> Router {
    Router::new()
        .route("/", get(viewer).options(preflight))
        .route(
            "/tiles/{z}/{x}/{file}",
            get(tile_handler).options(preflight),
        )
        .route("/tilejson.json", get(tilejson).options(preflight))
        .route("/legend.json", get(legend).options(preflight))
        .route("/health", get(health).options(preflight))
        .fallback(not_found)
        .with_state(server)
}

/// Serve `server` on `listener` until `shutdown` resolves, then finish the
/// requests in flight.
pub async fn serve(
    listener: tokio::net::TcpListener,
    server: Arc<TileServer>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(server))
        .with_graceful_shutdown(shutdown)
        .await
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
