//! MBTiles 1.3: map tiles in an SQLite database
//! (<https://github.com/mapbox/mbtiles-spec/blob/master/1.3/spec.md>).
//!
//! Layout, as mbutil, node-mbtiles and martin's "normalized" schema have
//! it: each distinct tile content is stored once in `images(tile_data,
//! tile_id)`, `map(zoom_level, tile_column, tile_row, tile_id)` addresses
//! it, and the spec's `tiles(zoom_level, tile_column, tile_row, tile_data)`
//! is a view joining the two. `map` has a unique index on
//! `(zoom_level, tile_column, tile_row)`, `metadata(name, value)` one on
//! `name`. Rows are TMS (`tile_row = 2^zoom - 1 - y`, counted from the
//! south); [`MbtilesWriter::add_tile`] takes XYZ rows, counted from the
//! north, as every other part of pointillist does. The database's
//! `application_id` is `0x4d504258` ("MPBX"), as the spec suggests.
//!
//! [`MbtilesWriter`] takes tiles in any order and keeps their contents in
//! a temporary file (the store the PMTiles writer uses), so memory holds a
//! few integers per tile. [`MbtilesWriter::finish`] sorts the tiles by
//! zoom, column and row, numbers the contents in order of first use, and
//! writes a fresh database in that order inside one transaction, with
//! SQLite's journal and syncs off (the database is a temporary file until
//! it is complete, so there is nothing to protect). The file's bytes
//! therefore depend only on the set of tiles, the metadata and the SQLite
//! version compiled in (rusqlite's `bundled`), not on the order the tiles
//! were added in. It is renamed over `path` only when complete, so `path`
//! never holds a half-written archive; an existing file there is replaced,
//! as for PMTiles.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rusqlite::{params, Connection, OpenFlags};
use serde_json::{Map, Value};

use super::store::{check_archive_metadata, MetadataProblem, TileStore, MAX_ARCHIVE_ZOOM};
use super::OutputError;

/// The `application_id` of an MBTiles database: "MPBX".
pub const APPLICATION_ID: i32 = 0x4d50_4258;

/// Deepest zoom an archive may hold.
pub const MAX_MBTILES_ZOOM: u8 = MAX_ARCHIVE_ZOOM;

/// What goes into the `metadata` table. Start from
/// [`MbtilesMetadata::default`] and set the fields.
///
/// ```
/// use pointillist::output::mbtiles::MbtilesMetadata;
///
/// let meta = MbtilesMetadata::default()
///     .with_name("census")
///     .with_zooms(0, 8)
///     .with_bounds([-125.0, 24.0, -66.0, 50.0]);
/// let rows = meta.rows();
/// assert_eq!(rows["bounds"], "-125,24,-66,50");
/// assert_eq!(rows["center"], "-95.5,37,0");
/// assert_eq!(rows["format"], "png");
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct MbtilesMetadata {
    /// `name`.
    pub name: String,
    /// `format`: `png`, `jpg`, `webp` or `pbf`.
    pub format: String,
    /// `minzoom`; no tile may lie below it.
    pub min_zoom: u8,
    /// `maxzoom`; no tile may lie above it.
    pub max_zoom: u8,
    /// `bounds` as `[west, south, east, north]` in degrees (as
    /// [`crate::tiles::extent_lnglat`] returns).
    pub bounds: [f64; 4],
    /// `center` as `(longitude, latitude, zoom)`; `None` for the middle of
    /// `bounds` at `min_zoom`.
    pub center: Option<(f64, f64, u8)>,
    /// `type`: `overlay` or `baselayer`.
    pub layer_type: String,
    /// `version` of the tileset (not of the spec).
    pub version: String,
    /// `description`; left out when empty.
    pub description: String,
    /// `attribution`; left out when empty.
    pub attribution: String,
    /// Further rows: strings as they are, other values as JSON text. The
    /// fields above take precedence over keys of the same name.
    pub extra: Map<String, Value>,
}

impl Default for MbtilesMetadata {
    /// PNG overlay tiles, zoom 0 only, the whole Web Mercator world.
    fn default() -> Self {
        MbtilesMetadata {
            name: String::new(),
            format: "png".into(),
            min_zoom: 0,
            max_zoom: 0,
            bounds: [-180.0, -85.051_128_78, 180.0, 85.051_128_78],
            center: None,
            layer_type: "overlay".into(),
            version: "1".into(),
            description: String::new(),
            attribution: String::new(),
            extra: Map::new(),
        }
    }
}

impl MbtilesMetadata {
    /// Sets [`MbtilesMetadata::name`].
    #[must_use]
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Sets [`MbtilesMetadata::min_zoom`] and [`MbtilesMetadata::max_zoom`].
    #[must_use]
    pub fn with_zooms(mut self, min_zoom: u8, max_zoom: u8) -> Self {
        self.min_zoom = min_zoom;
        self.max_zoom = max_zoom;
        self
    }

    /// Sets [`MbtilesMetadata::bounds`].
    #[must_use]
    pub fn with_bounds(mut self, bounds: [f64; 4]) -> Self {
        self.bounds = bounds;
        self
    }

    /// Sets [`MbtilesMetadata::center`].
    #[must_use]
    pub fn with_center(mut self, center: Option<(f64, f64, u8)>) -> Self {
        self.center = center;
        self
    }

    /// The `metadata` table's rows, by name.
    pub fn rows(&self) -> BTreeMap<String, String> {
        let mut rows: BTreeMap<String, String> = self
            .extra
            .iter()
            .map(|(k, v)| {
                let text = match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                (k.clone(), text)
            })
            .collect();
        let [w, s, e, n] = self.bounds;
        let (lon, lat, zoom) = self
            .center
            .unwrap_or(((w + e) / 2.0, (s + n) / 2.0, self.min_zoom));
        for (key, value) in [
            ("name", self.name.clone()),
            ("format", self.format.clone()),
            ("minzoom", self.min_zoom.to_string()),
            ("maxzoom", self.max_zoom.to_string()),
            ("bounds", format!("{w},{s},{e},{n}")),
            ("center", format!("{lon},{lat},{zoom}")),
            ("type", self.layer_type.clone()),
            ("version", self.version.clone()),
            ("description", self.description.clone()),
            ("attribution", self.attribution.clone()),
        ] {
            if !value.is_empty() || matches!(key, "name" | "format") {
                rows.insert(key.to_string(), value);
            }
        }
        rows
    }
}

/// What [`MbtilesWriter::finish`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct MbtilesSummary {
    /// The archive.
    pub path: PathBuf,
    /// Tiles addressed (rows of `map`).
    pub tiles: u64,
    /// Distinct tile contents stored (rows of `images`).
    pub tile_contents: u64,
    /// Bytes of distinct tile contents.
    pub tile_data_bytes: u64,
    /// Bytes of the whole database.
    pub file_bytes: u64,
}

/// Why an MBTiles archive cannot be written as asked.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum MbtilesProblem {
    /// `x` or `y` outside the zoom's grid, or the zoom too deep.
    #[error("tile {z}/{x}/{y} does not exist; zoom must be at most {MAX_MBTILES_ZOOM} and x, y below 2^zoom")]
    BadTile {
        /// Zoom.
        z: u8,
        /// Column.
        x: u32,
        /// Row (XYZ).
        y: u32,
    },
    /// One tile longer than the store takes.
    #[error("tile {z}/{x}/{y} has {len} bytes; tiles must be under 4 GiB")]
    TileTooLarge {
        /// Zoom.
        z: u8,
        /// Column.
        x: u32,
        /// Row (XYZ).
        y: u32,
        /// Its length.
        len: usize,
    },
    /// The same tile added twice.
    #[error("tile {z}/{x}/{y} was added twice; add each tile once")]
    DuplicateTile {
        /// Zoom.
        z: u8,
        /// Column.
        x: u32,
        /// Row (XYZ).
        y: u32,
    },
    /// A tile outside the metadata's zoom range.
    #[error("tile {z}/{x}/{y} lies outside the declared zoom range {min_zoom}..={max_zoom}; widen the range")]
    OutsideZoomRange {
        /// Zoom.
        z: u8,
        /// Column.
        x: u32,
        /// Row (XYZ).
        y: u32,
        /// Declared lowest zoom.
        min_zoom: u8,
        /// Declared highest zoom.
        max_zoom: u8,
    },
    /// Zoom range, bounds or centre that make no sense.
    #[error("bad metadata: {0}")]
    BadMetadata(#[source] MetadataProblem),
    /// More distinct tile contents than the store numbers.
    #[error("more than 4 billion distinct tiles; write fewer zoom levels")]
    TooManyContents,
    /// Nothing to write.
    #[error("no tiles to write (every tile was empty); check the data extent and zoom range")]
    NoTiles,
}

/// Writes an MBTiles archive; see the module documentation.
///
/// ```
/// use pointillist::output::mbtiles::{MbtilesMetadata, MbtilesWriter};
///
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("tiles.mbtiles");
/// let mut w = MbtilesWriter::create(&path)?;
/// w.add_tile(1, 1, 0, b"north-east tile bytes")?;
/// w.add_tile(0, 0, 0, b"world tile bytes")?;
/// w.add_tile(1, 0, 0, b"north-east tile bytes")?; // same bytes: stored once
/// let summary = w.finish(&MbtilesMetadata::default().with_name("example").with_zooms(0, 1))?;
/// assert_eq!((summary.tiles, summary.tile_contents), (3, 2));
/// assert!(std::fs::read(&path)?.starts_with(b"SQLite format 3\0"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct MbtilesWriter {
    path: PathBuf,
    /// Distinct contents, in a temporary file deleted with the writer.
    store: TileStore,
    /// `(zoom, column, TMS row, content index)` per tile, in add order.
    tiles: Vec<(u8, u32, u32, u32)>,
}

fn problem(path: &Path, what: MbtilesProblem) -> OutputError {
    OutputError::Mbtiles {
        path: path.to_path_buf(),
        what,
    }
}

fn io_error(path: &Path) -> impl Fn(std::io::Error) -> OutputError + '_ {
    move |source| OutputError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn sql_error(path: &Path) -> impl Fn(rusqlite::Error) -> OutputError + '_ {
    move |source| OutputError::Sqlite {
        path: path.to_path_buf(),
        source,
    }
}

/// SQLite's page size. A tile larger than a page spills into overflow
/// pages, and its last one is on average half empty: on the sample's zooms
/// 0-8 (902 tiles, 5.3 MB of PNG), 4096-byte pages made a 6.2 MB database,
/// 2048-byte ones 5.7 MB (1024: 5.6 MB, but reads took 40% longer).
const PAGE_SIZE: u32 = 2048;

/// The schema: normalized tables, the spec's `tiles` view, and the indexes
/// created after the rows (one sorted build each).
const SCHEMA: &str = "
CREATE TABLE metadata (name TEXT, value TEXT);
CREATE TABLE images (tile_data BLOB, tile_id TEXT);
CREATE TABLE map (zoom_level INTEGER, tile_column INTEGER, tile_row INTEGER, tile_id TEXT);
CREATE VIEW tiles AS
    SELECT map.zoom_level AS zoom_level, map.tile_column AS tile_column,
           map.tile_row AS tile_row, images.tile_data AS tile_data
    FROM map JOIN images ON images.tile_id = map.tile_id;
";

const INDEXES: &str = "
CREATE UNIQUE INDEX name ON metadata (name);
CREATE UNIQUE INDEX images_id ON images (tile_id);
CREATE UNIQUE INDEX map_index ON map (zoom_level, tile_column, tile_row);
";

impl MbtilesWriter {
    /// Start an archive at `path`. Nothing appears at `path` until
    /// [`finish`](Self::finish) succeeds; tile data goes to a temporary
    /// file in the same directory meanwhile.
    pub fn create(path: &Path) -> Result<Self, OutputError> {
        let store = TileStore::create(path, ".tiles.tmp").map_err(io_error(path))?;
        Ok(MbtilesWriter {
            path: path.to_path_buf(),
            store,
            tiles: Vec::new(),
        })
    }

    /// Tiles added so far.
    pub fn tile_count(&self) -> usize {
        self.tiles.len()
    }

    /// Add tile `z/x/y` (XYZ, rows from the north; stored as TMS). Tiles
    /// may come in any order; an empty `bytes` adds nothing. Identical
    /// contents are stored once.
    pub fn add_tile(&mut self, z: u8, x: u32, y: u32, bytes: &[u8]) -> Result<(), OutputError> {
        if z > MAX_MBTILES_ZOOM || u64::from(x) >= 1u64 << z || u64::from(y) >= 1u64 << z {
            return Err(problem(&self.path, MbtilesProblem::BadTile { z, x, y }));
        }
        if bytes.is_empty() {
            return Ok(());
        }
        let len = u32::try_from(bytes.len()).map_err(|_| {
            problem(
                &self.path,
                MbtilesProblem::TileTooLarge {
                    z,
                    x,
                    y,
                    len: bytes.len(),
                },
            )
        })?;
        let content = self
            .store
            .intern(bytes, len)
            .map_err(io_error(&self.path))?
            .ok_or_else(|| problem(&self.path, MbtilesProblem::TooManyContents))?;
        let tms_row = ((1u64 << z) - 1 - u64::from(y)) as u32;
        self.tiles.push((z, x, tms_row, content));
        Ok(())
    }

    /// Write the database and move it to `path`.
    pub fn finish(mut self, meta: &MbtilesMetadata) -> Result<MbtilesSummary, OutputError> {
        let path = self.path.clone();
        check_archive_metadata(meta.min_zoom, meta.max_zoom, meta.bounds, meta.center)
            .map_err(|m| problem(&path, MbtilesProblem::BadMetadata(m)))?;
        let mut tiles = std::mem::take(&mut self.tiles);
        tiles.sort_unstable();
        let xyz = |&(z, x, row, _): &(u8, u32, u32, u32)| {
            (z, x, ((1u64 << z) - 1 - u64::from(row)) as u32)
        };
        let (Some(first), Some(last)) = (tiles.first(), tiles.last()) else {
            return Err(problem(&path, MbtilesProblem::NoTiles));
        };
        for t in [first, last] {
            let (z, x, y) = xyz(t);
            if z < meta.min_zoom || z > meta.max_zoom {
                return Err(problem(
                    &path,
                    MbtilesProblem::OutsideZoomRange {
                        z,
                        x,
                        y,
                        min_zoom: meta.min_zoom,
                        max_zoom: meta.max_zoom,
                    },
                ));
            }
        }
        for pair in tiles.windows(2) {
            if (pair[0].0, pair[0].1, pair[0].2) == (pair[1].0, pair[1].1, pair[1].2) {
                let (z, x, y) = xyz(&pair[0]);
                return Err(problem(&path, MbtilesProblem::DuplicateTile { z, x, y }));
            }
        }
        // Contents numbered in order of first use.
        const NONE: u32 = u32::MAX;
        let mut id_of = vec![NONE; self.store.len()];
        let mut order: Vec<u32> = Vec::new();
        for &(_, _, _, content) in &tiles {
            let id = &mut id_of[content as usize];
            if *id == NONE {
                *id = order.len() as u32;
                order.push(content);
            }
        }

        let err = io_error(&path);
        let sql = sql_error(&path);
        let tmp = super::temp_file_beside(&path, ".tmp")
            .map_err(&err)?
            .into_temp_path();
        let mut conn = Connection::open_with_flags(
            &tmp,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(&sql)?;
        conn.pragma_update(None, "page_size", PAGE_SIZE)
            .and_then(|()| {
                conn.pragma_update_and_check(None, "journal_mode", "OFF", |r| r.get::<_, String>(0))
            })
            .and_then(|_| conn.pragma_update(None, "synchronous", "OFF"))
            .and_then(|()| conn.pragma_update(None, "temp_store", "MEMORY"))
            .and_then(|()| conn.pragma_update(None, "application_id", APPLICATION_ID))
            .map_err(&sql)?;
        let tx = conn.transaction().map_err(&sql)?;
        tx.execute_batch(SCHEMA).map_err(&sql)?;
        {
            let mut insert = tx
                .prepare("INSERT INTO metadata (name, value) VALUES (?1, ?2)")
                .map_err(&sql)?;
            for (name, value) in meta.rows() {
                insert.execute(params![name, value]).map_err(&sql)?;
            }
            let mut insert = tx
                .prepare("INSERT INTO images (tile_data, tile_id) VALUES (?1, ?2)")
                .map_err(&sql)?;
            let mut failed: Option<rusqlite::Error> = None;
            let mut next_id = 0u32;
            let copied = self.store.for_each_content(&order, |bytes| {
                let id = next_id.to_string();
                next_id += 1;
                insert.execute(params![bytes, id]).map(drop).map_err(|e| {
                    failed = Some(e);
                    std::io::Error::other("SQLite refused a tile")
                })
            });
            if let Some(e) = failed {
                return Err(sql(e));
            }
            copied.map_err(&err)?;
            let mut insert = tx
                .prepare(
                    "INSERT INTO map (zoom_level, tile_column, tile_row, tile_id) \
                     VALUES (?1, ?2, ?3, ?4)",
                )
                .map_err(&sql)?;
            for &(z, x, row, content) in &tiles {
                let id = id_of[content as usize].to_string();
                insert.execute(params![z, x, row, id]).map_err(&sql)?;
            }
        }
        tx.execute_batch(INDEXES).map_err(&sql)?;
        tx.commit().map_err(&sql)?;
        conn.close().map_err(|(_, e)| sql(e))?;
        let file_bytes = std::fs::metadata(&tmp).map_err(&err)?.len();
        tmp.persist(&path).map_err(|e| err(e.error))?;
        let tile_data_bytes = order
            .iter()
            .map(|&c| u64::from(self.store.content(c).len))
            .sum();
        // Remove the temporary data file now rather than at drop.
        self.store.close().map_err(&err)?;
        Ok(MbtilesSummary {
            path: self.path,
            tiles: tiles.len() as u64,
            tile_contents: order.len() as u64,
            tile_data_bytes,
            file_bytes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(max_zoom: u8) -> MbtilesMetadata {
        let mut m = MbtilesMetadata::default()
            .with_name("test")
            .with_zooms(0, max_zoom)
            .with_bounds([-122.5, 37.25, -121.75, 38.0]);
        m.description = "a test".into();
        m.extra.insert("tile_size".into(), Value::from(256));
        m.extra.insert("name".into(), Value::from("overridden"));
        m
    }

    /// Tiles over zooms 0..=4: distinct ones, and a shared "ocean" tile.
    fn sample_tiles() -> Vec<(u8, u32, u32, Vec<u8>)> {
        let mut tiles = Vec::new();
        for z in 0..=4u8 {
            let n = 1u32 << z;
            for x in 0..n {
                for y in 0..n {
                    if (x + 2 * y) % 5 == 1 {
                        continue; // absent
                    }
                    let bytes = if (x + y) % 3 == 0 {
                        b"ocean".to_vec()
                    } else {
                        format!("tile {z}/{x}/{y}").into_bytes()
                    };
                    tiles.push((z, x, y, bytes));
                }
            }
        }
        tiles
    }

    fn write(path: &Path, tiles: &[(u8, u32, u32, Vec<u8>)]) -> MbtilesSummary {
        let mut w = MbtilesWriter::create(path).expect("create");
        for (z, x, y, b) in tiles {
            w.add_tile(*z, *x, *y, b).expect("add");
        }
        w.finish(&meta(4)).expect("finish")
    }

    #[test]
    fn tiles_read_back_through_the_view_in_tms_rows_and_bytes_are_order_free() {
        let dir = tempfile::tempdir().expect("tempdir");
        let tiles = sample_tiles();
        let a = dir.path().join("a.mbtiles");
        let summary = write(&a, &tiles);
        assert_eq!(summary.tiles, tiles.len() as u64);
        let distinct: std::collections::HashSet<&Vec<u8>> = tiles.iter().map(|t| &t.3).collect();
        assert_eq!(summary.tile_contents, distinct.len() as u64);

        let conn = Connection::open_with_flags(&a, OpenFlags::SQLITE_OPEN_READ_ONLY).expect("open");
        let n: i64 = conn
            .query_row("SELECT count(*) FROM tiles", [], |r| r.get(0))
            .expect("count");
        assert_eq!(n, tiles.len() as i64);
        for (z, x, y, bytes) in &tiles {
            let row = (1u32 << z) - 1 - y;
            let got: Vec<u8> = conn
                .query_row(
                    "SELECT tile_data FROM tiles WHERE zoom_level = ?1 AND tile_column = ?2 AND tile_row = ?3",
                    params![z, x, row],
                    |r| r.get(0),
                )
                .expect("tile");
            assert_eq!(&got, bytes, "{z}/{x}/{y}");
        }
        let images: i64 = conn
            .query_row("SELECT count(*) FROM images", [], |r| r.get(0))
            .expect("images");
        assert_eq!(images, distinct.len() as i64);
        let app: i32 = conn
            .query_row("PRAGMA application_id", [], |r| r.get(0))
            .expect("id");
        assert_eq!(app, APPLICATION_ID);
        let rows: BTreeMap<String, String> = conn
            .prepare("SELECT name, value FROM metadata")
            .expect("prepare")
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("rows");
        assert_eq!(rows["name"], "test");
        assert_eq!(rows["format"], "png");
        assert_eq!(rows["minzoom"], "0");
        assert_eq!(rows["maxzoom"], "4");
        assert_eq!(rows["bounds"], "-122.5,37.25,-121.75,38");
        assert_eq!(rows["center"], "-122.125,37.625,0");
        assert_eq!(rows["type"], "overlay");
        assert_eq!(rows["tile_size"], "256");
        assert_eq!(rows["description"], "a test");
        assert!(!rows.contains_key("attribution"));
        drop(conn);

        // Reversed add order: the same bytes.
        let b = dir.path().join("b.mbtiles");
        let mut reversed = tiles.clone();
        reversed.reverse();
        write(&b, &reversed);
        assert_eq!(std::fs::read(&a).expect("a"), std::fs::read(&b).expect("b"));
        // Only the two archives are left.
        assert_eq!(std::fs::read_dir(dir.path()).expect("ls").count(), 2);
    }

    #[test]
    fn bad_tiles_and_metadata_are_refused_and_leave_nothing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("bad.mbtiles");
        let mut w = MbtilesWriter::create(&path).expect("create");
        let e = w.add_tile(2, 4, 0, b"x").expect_err("x beyond the grid");
        assert!(e.to_string().contains("2/4/0 does not exist"), "{e}");
        w.add_tile(3, 1, 1, b"x").expect("add");
        let e = w.finish(&meta(2)).expect_err("zoom 3 beyond 2");
        assert!(
            e.to_string().contains("outside the declared zoom range"),
            "{e}"
        );

        let mut w = MbtilesWriter::create(&path).expect("create");
        w.add_tile(1, 1, 1, b"x").expect("add");
        w.add_tile(1, 1, 1, b"y").expect("add");
        let e = w.finish(&meta(2)).expect_err("twice");
        assert!(e.to_string().contains("1/1/1 was added twice"), "{e}");

        let w = MbtilesWriter::create(&path).expect("create");
        let e = w.finish(&meta(2)).expect_err("nothing");
        assert!(e.to_string().contains("no tiles"), "{e}");

        let mut w = MbtilesWriter::create(&path).expect("create");
        w.add_tile(0, 0, 0, b"x").expect("add");
        let e = w
            .finish(&meta(2).with_bounds([10.0, 0.0, 5.0, 1.0]))
            .expect_err("bounds");
        assert!(e.to_string().contains("bounds"), "{e}");

        let mut w = MbtilesWriter::create(&path).expect("create");
        w.add_tile(0, 0, 0, b"x").expect("add");
        drop(w);
        assert_eq!(std::fs::read_dir(dir.path()).expect("ls").count(), 0);
    }

    #[test]
    fn an_existing_file_is_replaced_whole() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("r.mbtiles");
        std::fs::write(&path, b"not a database").expect("write");
        let mut w = MbtilesWriter::create(&path).expect("create");
        w.add_tile(0, 0, 0, b"world").expect("add");
        w.finish(&meta(0)).expect("finish");
        let conn = Connection::open(&path).expect("open");
        let got: Vec<u8> = conn
            .query_row("SELECT tile_data FROM tiles", [], |r| r.get(0))
            .expect("tile");
        assert_eq!(got, b"world");
    }
}
