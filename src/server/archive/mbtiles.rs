//! Reading an MBTiles archive for the server: the `metadata` table at
//! open, tiles from the `tiles` table or view (TMS rows) through a small
//! pool of read-only SQLite connections, one per concurrent query, each
//! query on the caller's (blocking) thread.
//!
//! Opening checks that the file is an SQLite database with a `tiles` table
//! or view and readable `minzoom`, `maxzoom`, `bounds`, `center` and
//! `format` rows (the zooms come from the tiles themselves when the
//! metadata lacks them), so a wrong file is refused with one line.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::{Connection, ErrorCode, OpenFlags, OptionalExtension};
use serde_json::Value;

use super::{ArchiveInfo, ArchiveProblem};
use crate::server::ServerError;

/// Idle connections kept open for the next queries.
const POOL: usize = 8;

const TILE_QUERY: &str =
    "SELECT tile_data FROM tiles WHERE zoom_level = ?1 AND tile_column = ?2 AND tile_row = ?3";

/// An open MBTiles archive.
#[derive(Debug)]
pub(super) struct Reader {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

fn bad(path: &Path, what: ArchiveProblem) -> ServerError {
    ServerError::BadArchive {
        path: path.to_path_buf(),
        what,
    }
}

/// SQLite's error, except that a file that is not a database says so.
fn sql(path: &Path) -> impl Fn(rusqlite::Error) -> ServerError + '_ {
    move |source| match source.sqlite_error_code() {
        Some(ErrorCode::NotADatabase) => bad(path, ArchiveProblem::NotSqlite),
        _ => ServerError::Sqlite {
            path: path.to_path_buf(),
            source,
        },
    }
}

fn connect(path: &Path) -> Result<Connection, ServerError> {
    Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(sql(path))
}

/// `W,S,E,N` in degrees.
fn parse_bounds(text: &str) -> Option<[f64; 4]> {
    let v: Vec<f64> = text
        .split(',')
        .map(|p| p.trim().parse::<f64>())
        .collect::<Result<_, _>>()
        .ok()?;
    let [w, s, e, n] = v[..] else { return None };
    let lon = |v: f64| (-180.0..=180.0).contains(&v);
    let lat = |v: f64| (-90.0..=90.0).contains(&v);
    (lon(w) && lon(e) && lat(s) && lat(n) && w <= e && s <= n).then_some([w, s, e, n])
}

/// `lon,lat` or `lon,lat,zoom`.
fn parse_center(text: &str) -> Option<(f64, f64, Option<u8>)> {
    let parts: Vec<&str> = text.split(',').map(str::trim).collect();
    let (lon, lat, zoom) = match parts[..] {
        [lon, lat] => (lon, lat, None),
        [lon, lat, z] => (lon, lat, Some(z.parse::<f64>().ok()?)),
        _ => return None,
    };
    let lon: f64 = lon.parse().ok()?;
    let lat: f64 = lat.parse().ok()?;
    if !((-180.0..=180.0).contains(&lon) && (-90.0..=90.0).contains(&lat)) {
        return None;
    }
    let zoom = match zoom {
        Some(z) if z.is_finite() && (0.0..=f64::from(u8::MAX)).contains(&z) => Some(z as u8),
        Some(_) => return None,
        None => None,
    };
    Some((lon, lat, zoom))
}

impl Reader {
    /// Open `path` read-only and read its metadata.
    pub(super) fn open(path: &Path) -> Result<(Reader, ArchiveInfo), ServerError> {
        // SQLite's own "unable to open" says less than the OS does.
        std::fs::File::open(path).map_err(|source| ServerError::ArchiveIo {
            path: path.to_path_buf(),
            source,
        })?;
        let err = sql(path);
        let conn = connect(path)?;
        let kind: Option<String> = conn
            .query_row(
                "SELECT type FROM sqlite_master WHERE name = 'tiles' AND type IN ('table', 'view')",
                [],
                |r| r.get(0),
            )
            .optional()
            .map_err(&err)?;
        if kind.is_none() {
            return Err(bad(path, ArchiveProblem::NoTilesTable));
        }
        let has_metadata: bool = conn
            .query_row(
                "SELECT count(*) > 0 FROM sqlite_master WHERE name = 'metadata'",
                [],
                |r| r.get(0),
            )
            .map_err(&err)?;
        let mut meta: HashMap<String, String> = HashMap::new();
        if has_metadata {
            let mut stmt = conn
                .prepare("SELECT name, value FROM metadata")
                .map_err(&err)?;
            let rows = stmt
                .query_map([], |r| {
                    Ok((
                        r.get::<_, Option<String>>(0)?,
                        r.get::<_, Option<String>>(1)?,
                    ))
                })
                .map_err(&err)?;
            for row in rows {
                if let (Some(k), Some(v)) = row.map_err(&err)? {
                    meta.insert(k, v);
                }
            }
        }
        // Checks that the query compiles against this `tiles`.
        conn.prepare(TILE_QUERY).map_err(&err)?;
        let bad_meta = |key: &str, value: &str| {
            bad(
                path,
                ArchiveProblem::BadMetadata {
                    key: key.to_string(),
                    value: value.to_string(),
                },
            )
        };
        let zoom = |key: &str| -> Result<Option<u8>, ServerError> {
            match meta.get(key) {
                None => Ok(None),
                Some(v) => match v.trim().parse::<u8>() {
                    Ok(z) if z <= crate::tiles::MAX_ZOOM => Ok(Some(z)),
                    _ => Err(bad_meta(key, v)),
                },
            }
        };
        let (min_zoom, max_zoom) = match (zoom("minzoom")?, zoom("maxzoom")?) {
            (Some(a), Some(b)) => (a, b),
            (a, b) => {
                // Not in the metadata: the tiles' own range.
                let (lo, hi): (Option<i64>, Option<i64>) = conn
                    .query_row(
                        "SELECT min(zoom_level), max(zoom_level) FROM tiles",
                        [],
                        |r| Ok((r.get(0)?, r.get(1)?)),
                    )
                    .map_err(&err)?;
                let (Some(lo), Some(hi)) = (lo, hi) else {
                    return Err(bad(path, ArchiveProblem::Empty));
                };
                let ok = |z: i64| {
                    u8::try_from(z)
                        .ok()
                        .filter(|&z| z <= crate::tiles::MAX_ZOOM)
                };
                match (ok(lo), ok(hi)) {
                    (Some(lo), Some(hi)) => (a.unwrap_or(lo), b.unwrap_or(hi)),
                    _ => {
                        return Err(bad(
                            path,
                            ArchiveProblem::Zooms {
                                min_zoom: lo,
                                max_zoom: hi,
                            },
                        ))
                    }
                }
            }
        };
        if min_zoom > max_zoom {
            return Err(bad(
                path,
                ArchiveProblem::Zooms {
                    min_zoom: i64::from(min_zoom),
                    max_zoom: i64::from(max_zoom),
                },
            ));
        }
        let bounds = match meta.get("bounds") {
            None => [-180.0, -85.051_128_78, 180.0, 85.051_128_78],
            Some(v) => parse_bounds(v).ok_or_else(|| bad_meta("bounds", v))?,
        };
        let center = match meta.get("center") {
            None => (
                (bounds[0] + bounds[2]) / 2.0,
                (bounds[1] + bounds[3]) / 2.0,
                min_zoom,
            ),
            Some(v) => {
                let (lon, lat, z) = parse_center(v).ok_or_else(|| bad_meta("center", v))?;
                (lon, lat, z.unwrap_or(min_zoom).clamp(min_zoom, max_zoom))
            }
        };
        let content_type = match meta.get("format").map(|f| f.trim().to_ascii_lowercase()) {
            None => "image/png",
            Some(f) => match f.as_str() {
                "png" => "image/png",
                "jpg" | "jpeg" => "image/jpeg",
                "webp" => "image/webp",
                "avif" => "image/avif",
                "pbf" | "mvt" => {
                    return Err(bad(path, ArchiveProblem::TileType("vector (pbf)".into())))
                }
                _ => return Err(bad(path, ArchiveProblem::TileType(format!("'{f}'")))),
            },
        };
        let json = |key: &str| meta.get(key).and_then(|v| serde_json::from_str(v).ok());
        let info = ArchiveInfo {
            format: super::ArchiveFormat::Mbtiles,
            name: meta.get("name").cloned(),
            description: meta.get("description").cloned(),
            attribution: meta.get("attribution").cloned(),
            min_zoom,
            max_zoom,
            bounds,
            center,
            content_type,
            tiles: None,
            tile_size: meta.get("tile_size").and_then(|v| v.trim().parse().ok()),
            legend: json("pointillist_legend").filter(Value::is_object),
            zooms: json("pointillist_zooms").filter(Value::is_array),
        };
        let reader = Reader {
            path: path.to_path_buf(),
            idle: Mutex::new(vec![conn]),
        };
        Ok((reader, info))
    }

    /// Tile `z/x/y` (XYZ), or `None` when the archive does not hold it.
    /// Blocks on SQLite: call it from a blocking thread.
    pub(super) fn tile(&self, z: u8, x: u32, y: u32) -> Result<Option<Vec<u8>>, ServerError> {
        let conn = super::super::lock(&self.idle).pop();
        let conn = match conn {
            Some(c) => c,
            None => connect(&self.path)?,
        };
        let row = ((1u64 << z) - 1 - u64::from(y)) as i64;
        let got: Option<Option<Vec<u8>>> = conn
            .query_row(TILE_QUERY, rusqlite::params![z, x, row], |r| r.get(0))
            .optional()
            .map_err(sql(&self.path))?;
        let mut idle = super::super::lock(&self.idle);
        if idle.len() < POOL {
            idle.push(conn);
        }
        Ok(got.flatten().filter(|b| !b.is_empty()))
    }
}
