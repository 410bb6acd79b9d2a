//! Serving a pre-rendered archive (`pointillist serve OUT.pmtiles` or
//! `OUT.mbtiles`): the live server's routes, headers and TileJSON, with
//! tiles read from the archive instead of rendered.
//!
//! [`TileArchive`] is the tile source: a PMTiles v3 reader (with the
//! `pmtiles` feature) or an MBTiles reader (with `mbtiles`), chosen by the
//! file's extension, that checks the file when it is opened and then
//! answers "the bytes of tile z/x/y, or none". [`ArchiveServer`] serves one
//! over HTTP through [`archive_router`] or [`serve_archive`], which apply
//! the same [`ConnectionLimits`] as [`super::serve_with`].
//!
//! What differs from the live server: the zooms, bounds, centre, name and
//! attribution come from the archive; a tile the archive does not hold is
//! `204` when its zoom is within the archive's and `400` outside it; the
//! query overrides `agg`, `how`, `cmap` and `span` cannot re-render a
//! stored tile and are answered `400` saying so; `{y}@2x.png` is the
//! archive's own tile (an archive holds one tile size; TileJSON's
//! `tile_size` says which); `/legend.json` is what the pyramid writer
//! stored (layer, shading, and each zoom's span), or `404` for an archive
//! without it. Reads run on blocking threads; ETags are computed from the
//! tile bytes, as the live server's are.
//!
//! ```no_run
//! use std::sync::Arc;
//!
//! use pointillist::server::{serve_archive, shutdown_signal, ArchiveServer, ConnectionLimits, TileArchive};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let archive = TileArchive::open(std::path::Path::new("us.pmtiles"))?;
//! let server = Arc::new(ArchiveServer::new(archive));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! serve_archive(listener, server, ConnectionLimits::default(), shutdown_signal()).await?;
//! # Ok(())
//! # }
//! ```

#[cfg(feature = "mbtiles")]
mod mbtiles;
#[cfg(feature = "pmtiles")]
mod pmtiles;

use std::collections::HashMap;
use std::future::Future;
use std::path::{Path as FsPath, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};

use super::cache::CachedTile;
use super::{
    json_response, not_found, parse_number, parse_tile_file, request_host, tile_response,
    viewer_page, ConnectionLimits, ConnectionStats, Reject, ServerConfig, ServerError,
};
use crate::tiles::TileId;

/// The query parameters that re-render a live tile.
const OVERRIDES: [&str; 4] = ["agg", "how", "cmap", "span"];

/// The kind of archive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ArchiveFormat {
    /// PMTiles v3.
    Pmtiles,
    /// MBTiles (SQLite).
    Mbtiles,
}

impl ArchiveFormat {
    /// The format of `path` by its extension (either case): `.pmtiles` or
    /// `.mbtiles`.
    ///
    /// ```
    /// use std::path::Path;
    /// use pointillist::server::ArchiveFormat;
    ///
    /// assert_eq!(ArchiveFormat::of(Path::new("us.PMTiles")), Some(ArchiveFormat::Pmtiles));
    /// assert_eq!(ArchiveFormat::of(Path::new("us.mbtiles")), Some(ArchiveFormat::Mbtiles));
    /// assert_eq!(ArchiveFormat::of(Path::new("us.parquet")), None);
    /// ```
    pub fn of(path: &FsPath) -> Option<ArchiveFormat> {
        let ext = path.extension()?.to_str()?;
        if ext.eq_ignore_ascii_case("pmtiles") {
            Some(ArchiveFormat::Pmtiles)
        } else if ext.eq_ignore_ascii_case("mbtiles") {
            Some(ArchiveFormat::Mbtiles)
        } else {
            None
        }
    }

    /// `pmtiles` or `mbtiles`.
    pub fn name(self) -> &'static str {
        match self {
            ArchiveFormat::Pmtiles => "pmtiles",
            ArchiveFormat::Mbtiles => "mbtiles",
        }
    }
}

/// What an archive says about itself.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ArchiveInfo {
    /// PMTiles or MBTiles.
    pub format: ArchiveFormat,
    /// `name`, if the metadata has one.
    pub name: Option<String>,
    /// `description`, if any.
    pub description: Option<String>,
    /// `attribution`, if any.
    pub attribution: Option<String>,
    /// Shallowest zoom held.
    pub min_zoom: u8,
    /// Deepest zoom held.
    pub max_zoom: u8,
    /// `[west, south, east, north]` in degrees.
    pub bounds: [f64; 4],
    /// `(longitude, latitude, zoom)` a viewer starts at.
    pub center: (f64, f64, u8),
    /// `Content-Type` of the tiles (`image/png` for pointillist's).
    pub content_type: &'static str,
    /// Tiles addressed, where the archive records it (PMTiles' header).
    pub tiles: Option<u64>,
    /// Tile side in pixels, where the archive records it (pointillist's).
    pub tile_size: Option<u64>,
    /// The layer and shading the pyramid writer stored (`agg`, `how`,
    /// `cmap`, `categories`).
    pub legend: Option<Value>,
    /// The pyramid writer's per-zoom `{zoom, tiles, span}` list.
    pub zooms: Option<Value>,
}

/// Why a file cannot be served as an archive.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ArchiveProblem {
    /// Neither `.pmtiles` nor `.mbtiles`.
    #[error("it is neither a .pmtiles nor a .mbtiles file; give a tile archive, or Parquet data to render")]
    UnknownExtension,
    /// A format this build cannot read.
    #[error("this build of pointillist cannot read {format} archives; rebuild it with the `{format}` Cargo feature")]
    NoSupport {
        /// The Cargo feature (and format) missing.
        format: &'static str,
    },
    /// A `.pmtiles` file without the PMTiles magic bytes.
    #[error("it is not a PMTiles archive (no 'PMTiles' magic bytes); give a file written by `pointillist tiles -o OUT.pmtiles`")]
    NotPmtiles,
    /// A PMTiles version other than 3.
    #[error(
        "it is PMTiles version {0}; only version 3 is read, so convert it with the pmtiles tool"
    )]
    PmtilesVersion(u8),
    /// A file shorter than its header says.
    #[error("it is {len} bytes but its header points at byte {needed}; the archive is truncated, so write it again")]
    Truncated {
        /// The file's length.
        len: u64,
        /// The end of the section the header points at.
        needed: u64,
    },
    /// Directories compressed with something other than gzip or nothing.
    #[error("its directories use compression {0}; only gzip (2) and none (1) are read")]
    Compression(u8),
    /// Compressed tiles, which a raster server cannot send as images.
    #[error("its tiles are compressed (type {0}); only uncompressed image tiles are served")]
    TileCompression(u8),
    /// Tiles that are not raster images.
    #[error("its tiles are {0}, not raster images (png, jpg, webp, avif); serve it with a vector tile server")]
    TileType(String),
    /// A directory, the metadata or an offset that does not decode.
    #[error("it is damaged: {0}; write it again")]
    Damaged(&'static str),
    /// A `.mbtiles` file that is not an SQLite database.
    #[error("it is not an SQLite database, so not MBTiles; give a file written by `pointillist tiles -o OUT.mbtiles`")]
    NotSqlite,
    /// An SQLite database without a `tiles` table or view.
    #[error("it is an SQLite database without a 'tiles' table or view, so not MBTiles; give a file written by `pointillist tiles -o OUT.mbtiles`")]
    NoTilesTable,
    /// A metadata value that does not parse.
    #[error("its metadata '{key}' is '{value}', which does not parse; fix or remove that row")]
    BadMetadata {
        /// The metadata name.
        key: String,
        /// Its value.
        value: String,
    },
    /// A zoom range out of order or beyond the deepest zoom.
    #[error("its zooms {min_zoom}..{max_zoom} are not an ordered range within 0..30")]
    Zooms {
        /// Lowest zoom given.
        min_zoom: i64,
        /// Highest zoom given.
        max_zoom: i64,
    },
    /// An MBTiles archive with no tile and no zooms in its metadata.
    #[error("it holds no tiles; write it again from data with points in it")]
    Empty,
}

/// The reader behind a [`TileArchive`].
#[derive(Debug)]
enum Reader {
    #[cfg(feature = "pmtiles")]
    Pmtiles(pmtiles::Reader),
    #[cfg(feature = "mbtiles")]
    Mbtiles(mbtiles::Reader),
}

/// An open tile archive: see the module documentation.
#[derive(Debug)]
pub struct TileArchive {
    path: PathBuf,
    info: ArchiveInfo,
    reader: Reader,
}

impl TileArchive {
    /// Open the archive at `path` (PMTiles or MBTiles, by the extension)
    /// and check it: a file that is missing, truncated, damaged or of
    /// another kind is an error naming it.
    // Without either format's feature every arm returns an error.
    #[cfg_attr(
        not(any(feature = "pmtiles", feature = "mbtiles")),
        allow(unreachable_code)
    )]
    pub fn open(path: &FsPath) -> Result<TileArchive, ServerError> {
        let bad = |what| ServerError::BadArchive {
            path: path.to_path_buf(),
            what,
        };
        let (reader, info) = match ArchiveFormat::of(path) {
            #[cfg(feature = "pmtiles")]
            Some(ArchiveFormat::Pmtiles) => {
                let (r, info) = pmtiles::Reader::open(path)?;
                (Reader::Pmtiles(r), info)
            }
            #[cfg(feature = "mbtiles")]
            Some(ArchiveFormat::Mbtiles) => {
                let (r, info) = mbtiles::Reader::open(path)?;
                (Reader::Mbtiles(r), info)
            }
            #[allow(unreachable_patterns)]
            Some(f) => return Err(bad(ArchiveProblem::NoSupport { format: f.name() })),
            None => return Err(bad(ArchiveProblem::UnknownExtension)),
        };
        Ok(TileArchive {
            path: path.to_path_buf(),
            info,
            reader,
        })
    }

    /// The file.
    pub fn path(&self) -> &FsPath {
        &self.path
    }

    /// What the archive says about itself.
    pub fn info(&self) -> &ArchiveInfo {
        &self.info
    }

    /// The bytes of tile `z/x/y` (XYZ, rows from the north), or `None`
    /// when the archive does not hold it. Reads the file: call it from a
    /// blocking thread in async code.
    pub fn tile(&self, tile: TileId) -> Result<Option<Vec<u8>>, ServerError> {
        match &self.reader {
            #[cfg(feature = "pmtiles")]
            Reader::Pmtiles(r) => r.tile(tile.z, tile.x, tile.y),
            #[cfg(feature = "mbtiles")]
            Reader::Mbtiles(r) => r.tile(tile.z, tile.x, tile.y),
            #[allow(unreachable_patterns)]
            _ => {
                let _ = tile;
                Ok(None)
            }
        }
    }
}

/// Shared state of a server over one [`TileArchive`].
#[derive(Debug)]
pub struct ArchiveServer {
    archive: TileArchive,
    /// The viewer page, made once.
    page: String,
    /// Tiles answered with bytes, for `/health`.
    served: AtomicU64,
    /// Counters of the connection layer.
    connections: Arc<ConnectionStats>,
}

impl ArchiveServer {
    /// Serve `archive`, with a viewer on a blank background.
    pub fn new(archive: TileArchive) -> ArchiveServer {
        ArchiveServer::with_basemap(archive, None)
    }

    /// Serve `archive`, with a viewer that draws the XYZ basemap
    /// `url_template` under it (as [`ServerConfig::basemap`]).
    pub fn with_basemap(archive: TileArchive, url_template: Option<String>) -> ArchiveServer {
        let page = viewer_page(&ServerConfig::default().with_basemap(url_template), true);
        ArchiveServer {
            archive,
            page,
            served: AtomicU64::new(0),
            connections: Arc::default(),
        }
    }

    /// The archive served.
    pub fn archive(&self) -> &TileArchive {
        &self.archive
    }

    /// The tile at a request's path, checked against the archive's zooms.
    fn tile_id(&self, z: &str, x: &str, file: &str) -> Result<TileId, Reject> {
        let z = parse_number("zoom", z)?;
        let x = parse_number("column", x)?;
        // `@2x` asks for 512 px; an archive has one size, and that is it.
        let (y, _size) = parse_tile_file(file).ok_or_else(|| Reject::TileName {
            file: file.to_string(),
        })?;
        let tile = TileId::new(u32::try_from(z).unwrap_or(u32::MAX), x, y)?;
        let info = &self.archive.info;
        if tile.z > info.max_zoom {
            return Err(Reject::BeyondMaxZoom {
                z: tile.z,
                max_zoom: info.max_zoom,
            });
        }
        if tile.z < info.min_zoom {
            return Err(Reject::BelowMinZoom {
                z: tile.z,
                min_zoom: info.min_zoom,
            });
        }
        Ok(tile)
    }
}

/// `400` for the first override in `query`, which an archive cannot apply.
fn refuse_overrides(query: &HashMap<String, String>) -> Result<(), Reject> {
    match OVERRIDES.iter().find(|k| query.contains_key(**k)) {
        Some(key) => Err(Reject::ArchiveOverride { key }),
        None => Ok(()),
    }
}

async fn tile(
    State(server): State<Arc<ArchiveServer>>,
    Path((z, x, file)): Path<(String, String, String)>,
    Query(query): Query<HashMap<String, String>>,
    method: Method,
    headers: HeaderMap,
) -> Response {
    let tile = match refuse_overrides(&query).and_then(|()| server.tile_id(&z, &x, &file)) {
        Ok(t) => t,
        Err(e) => return e.into_response(),
    };
    let s = server.clone();
    let bytes = match tokio::task::spawn_blocking(move || s.archive.tile(tile)).await {
        Ok(Ok(b)) => b.unwrap_or_default(),
        Ok(Err(source)) => return Reject::Archive { source }.into_response(),
        Err(source) => return Reject::RenderAborted { source }.into_response(),
    };
    if !bytes.is_empty() {
        server.served.fetch_add(1, Ordering::Relaxed);
    }
    let content_type = server.archive.info.content_type;
    tile_response(CachedTile::new(bytes), content_type, &method, &headers)
}

async fn tilejson(State(server): State<Arc<ArchiveServer>>, headers: HeaderMap) -> Response {
    let host = request_host(&headers);
    let info = &server.archive.info;
    let name = info.name.clone().unwrap_or_else(|| {
        server.archive.path.file_stem().map_or_else(
            || "pointillist".into(),
            |s| s.to_string_lossy().into_owned(),
        )
    });
    let (lon, lat, zoom) = info.center;
    let mut tj = json!({
        "tilejson": "3.0.0",
        "name": name,
        "scheme": "xyz",
        "tiles": [format!("http://{host}/tiles/{{z}}/{{x}}/{{y}}.png")],
        "minzoom": info.min_zoom,
        "maxzoom": info.max_zoom,
        "bounds": info.bounds,
        "center": [lon, lat, zoom],
        "attribution": info.attribution.as_deref().unwrap_or("rendered by pointillist"),
    });
    if let Some(d) = &info.description {
        tj["description"] = json!(d);
    }
    if let Some(size) = info.tile_size {
        tj["tile_size"] = json!(size);
    }
    json_response(tj)
}

async fn legend(
    State(server): State<Arc<ArchiveServer>>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if let Err(e) = refuse_overrides(&query) {
        return e.into_response();
    }
    let info = &server.archive.info;
    let Some(Value::Object(legend)) = &info.legend else {
        return Reject::NoLegend.into_response();
    };
    let mut out = legend.clone();
    // The live server's shape: one entry per zoom, every span known.
    let zooms: Vec<Value> = info
        .zooms
        .as_ref()
        .and_then(Value::as_array)
        .map(|zs| {
            zs.iter()
                .map(|z| {
                    json!({
                        "zoom": z.get("zoom"),
                        "span": z.get("span"),
                        "span_from_zoom": z.get("zoom"),
                        "computed": true,
                        "tiles": z.get("tiles"),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    out.insert("zooms".into(), Value::Array(zooms));
    out.insert("archive".into(), json!(info.format.name()));
    json_response(Value::Object(out))
}

async fn health(State(server): State<Arc<ArchiveServer>>) -> Response {
    let info = &server.archive.info;
    json_response(json!({
        "status": "ok",
        "archive": server.archive.path.display().to_string(),
        "format": info.format.name(),
        "minzoom": info.min_zoom,
        "maxzoom": info.max_zoom,
        "tiles": info.tiles,
        "tiles_served": server.served.load(Ordering::Relaxed),
        "connections": server.connections.to_json(),
    }))
}

async fn viewer(State(server): State<Arc<ArchiveServer>>) -> Response {
    let mut h = HeaderMap::new();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    (StatusCode::OK, h, server.page.clone()).into_response()
}

/// The HTTP routes over an archive: those of [`super::router`], to serve
/// with [`serve_archive`] or to mount in a larger axum application.
pub fn archive_router(server: Arc<ArchiveServer>) -> Router {
    super::with_cors(archive_routes(server))
}

/// The routes, without the CORS layer.
fn archive_routes(server: Arc<ArchiveServer>) -> Router {
    Router::new()
        .route("/", get(viewer))
        .route("/tiles/{z}/{x}/{file}", get(tile))
        .route("/tilejson.json", get(tilejson))
        .route("/legend.json", get(legend))
        .route("/health", get(health))
        .fallback(not_found)
        .with_state(server)
}

/// Serve `server` on `listener` until `shutdown` resolves, with the same
/// connection limits, request deadline and counters as
/// [`super::serve_with`].
pub async fn serve_archive(
    listener: tokio::net::TcpListener,
    server: Arc<ArchiveServer>,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let stats = Arc::clone(&server.connections);
    super::serve_app(listener, archive_routes(server), stats, limits, shutdown).await
}

#[cfg(all(test, feature = "pmtiles", feature = "mbtiles"))]
mod tests;
