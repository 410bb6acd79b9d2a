//! The pyramid writer: every non-empty tile of zooms `min..=max` over the
//! data, rendered with one colour scale per zoom level and written as a
//! `{z}/{x}/{y}.png` directory, a PMTiles archive or an MBTiles archive.
//!
//! Each tile is [`aggregate_tile`]'s half-open canvas, so a point on a
//! shared edge is in exactly one tile and the tiles of a zoom sum to the
//! point count. Per zoom, the scale comes from every tile of that zoom:
//! for `linear`, `log` and `cbrt` without an explicit span, the span is
//! `(nanmin, nanmax)` over the tiles (the full pass Datashader makes); for
//! `eq_hist`, one histogram of every tile's cells ([`SharedEqHist`]).
//! Categorical aggregates are coloured tile by tile, as the server does.
//! Tile aggregates are kept between the scale pass and the render pass
//! while they fit in the memory budget, and recomputed otherwise.

use std::fs;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::{
    aggregate_tile, aggregate_tiles, encode_image, encode_tile, extent_lnglat, is_blank,
    tiles_covering, value_range, widen,
};
use super::{Extent, TileAddressError, TileError, TileId, TileLayer};
use crate::aggregate::{AggValues, Aggregate};
use crate::output::OutputError;
#[cfg(feature = "mbtiles")]
use crate::output::{MbtilesMetadata, MbtilesWriter};
#[cfg(feature = "pmtiles")]
use crate::output::{PmtilesMetadata, PmtilesProblem, PmtilesWriter};
use crate::shade::{How, ShadeOptions, SharedEqHist, SharedEqHistBuilder};
use crate::source::Source;

/// Where a pyramid goes.
///
/// ```
/// use std::path::Path;
/// use pointillist::tiles::pyramid::PyramidOutput;
///
/// let archive = PyramidOutput::from_path(Path::new("us.pmtiles"));
/// assert!(matches!(archive, PyramidOutput::Pmtiles(_)));
/// let sqlite = PyramidOutput::from_path(Path::new("us.MBTiles"));
/// assert!(matches!(sqlite, PyramidOutput::Mbtiles(_)));
/// assert!(matches!(PyramidOutput::from_path(Path::new("tiles/")), PyramidOutput::Directory(_)));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PyramidOutput {
    /// A directory of `{z}/{x}/{y}.png` plus `metadata.json`.
    Directory(PathBuf),
    /// One PMTiles v3 archive (with the `pmtiles` feature; without it,
    /// writing one is [`OutputError::NoPmtiles`]).
    Pmtiles(PathBuf),
    /// One MBTiles 1.3 archive (with the `mbtiles` feature; without it,
    /// writing one is [`OutputError::NoMbtiles`]).
    Mbtiles(PathBuf),
}

impl PyramidOutput {
    /// A `.pmtiles` path is a PMTiles archive, a `.mbtiles` path an
    /// MBTiles archive (either case); anything else a directory.
    pub fn from_path(path: &Path) -> PyramidOutput {
        let ext = |name: &str| {
            path.extension()
                .is_some_and(|e| e.eq_ignore_ascii_case(name))
        };
        if ext("pmtiles") {
            PyramidOutput::Pmtiles(path.to_path_buf())
        } else if ext("mbtiles") {
            PyramidOutput::Mbtiles(path.to_path_buf())
        } else {
            PyramidOutput::Directory(path.to_path_buf())
        }
    }

    /// The path written.
    pub fn path(&self) -> &Path {
        match self {
            PyramidOutput::Directory(p) | PyramidOutput::Pmtiles(p) | PyramidOutput::Mbtiles(p) => {
                p
            }
        }
    }
}

/// How to render a pyramid.
///
/// ```
/// use pointillist::shade::{How, ShadeOptions};
/// use pointillist::tiles::pyramid::PyramidOptions;
///
/// let opts = PyramidOptions::default()
///     .with_zooms(2, 6)
///     .with_shade(ShadeOptions::default().with_how(How::EqHist))
///     .with_name("census");
/// assert_eq!((opts.min_zoom, opts.max_zoom, opts.tile_size), (2, 6, 256));
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PyramidOptions {
    /// Shallowest zoom.
    pub min_zoom: u8,
    /// Deepest zoom.
    pub max_zoom: u8,
    /// Tile side in pixels (256, or 512 for high-DPI tiles).
    pub tile_size: usize,
    /// Shading (`span: None` = each zoom's own span).
    pub shade: ShadeOptions,
    /// Bytes of tile aggregates kept between the two passes of a zoom.
    pub memory_bytes: usize,
    /// Name in the metadata.
    pub name: String,
}

impl Default for PyramidOptions {
    fn default() -> Self {
        PyramidOptions {
            min_zoom: 0,
            max_zoom: 8,
            tile_size: 256,
            shade: ShadeOptions {
                how: How::Log,
                ..ShadeOptions::default()
            },
            memory_bytes: 512 << 20,
            name: "pointillist".into(),
        }
    }
}

impl PyramidOptions {
    /// Sets [`PyramidOptions::min_zoom`] and [`PyramidOptions::max_zoom`].
    #[must_use]
    pub fn with_zooms(mut self, min_zoom: u8, max_zoom: u8) -> Self {
        self.min_zoom = min_zoom;
        self.max_zoom = max_zoom;
        self
    }

    /// Sets [`PyramidOptions::tile_size`].
    #[must_use]
    pub fn with_tile_size(mut self, size: usize) -> Self {
        self.tile_size = size;
        self
    }

    /// Sets [`PyramidOptions::shade`].
    #[must_use]
    pub fn with_shade(mut self, shade: ShadeOptions) -> Self {
        self.shade = shade;
        self
    }

    /// Sets [`PyramidOptions::memory_bytes`].
    #[must_use]
    pub fn with_memory_bytes(mut self, bytes: usize) -> Self {
        self.memory_bytes = bytes;
        self
    }

    /// Sets [`PyramidOptions::name`].
    #[must_use]
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }
}

/// What one zoom level got.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ZoomSummary {
    /// The zoom.
    pub z: u8,
    /// Tiles over the data's extent.
    pub covering: usize,
    /// Non-empty tiles written.
    pub written: usize,
    /// The colour span (`eq_hist`: the equalised span), if any.
    pub span: Option<(f64, f64)>,
}

/// What [`write_pyramid`] wrote.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct PyramidSummary {
    /// Per zoom, shallowest first.
    pub zooms: Vec<ZoomSummary>,
    /// Tiles written in all.
    pub tiles: usize,
    /// Bytes of PNG written (before PMTiles de-duplication).
    pub png_bytes: u64,
}

/// The colour scale of one zoom level.
enum Scale {
    /// Shade each tile with these options (span fixed or per tile).
    Options(ShadeOptions),
    /// One histogram for the zoom.
    Shared(SharedEqHist),
}

/// Render the pyramid of `layer` over `source` to `out`. Nothing appears at
/// the destination until every tile is written; a directory destination
/// must not exist yet or be empty. `progress(z, done, total)` is called as
/// tiles are rendered.
///
/// ```
/// use pointillist::source::Source;
/// use pointillist::tiles::pyramid::{write_pyramid, PyramidOptions, PyramidOutput};
/// use pointillist::tiles::TileLayer;
///
/// let dir = tempfile::tempdir()?;
/// let out = PyramidOutput::Directory(dir.path().join("tiles"));
/// let opts = PyramidOptions::default().with_zooms(0, 2).with_tile_size(64);
/// let summary = write_pyramid(&Source::sample()?, &TileLayer::new(), &out, &opts, &|_, _, _| {})?;
/// assert_eq!(summary.zooms.len(), 3);
/// assert!(dir.path().join("tiles/0/0/0.png").exists());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn write_pyramid(
    source: &Source,
    layer: &TileLayer,
    out: &PyramidOutput,
    opts: &PyramidOptions,
    progress: &(dyn Fn(u8, usize, usize) + Sync),
) -> Result<PyramidSummary, TileError> {
    if opts.min_zoom > opts.max_zoom || opts.max_zoom > super::MAX_ZOOM {
        return Err(TileError::Address(TileAddressError::Zoom {
            z: u32::from(opts.max_zoom),
        }));
    }
    let layer = layer.clone().resolve(source)?;
    let extent = layer.data_extent(source)?;
    let mut sink = Sink::create(out)?;
    let mut zooms = Vec::new();
    let mut total = 0usize;
    let mut png_bytes = 0u64;
    for z in opts.min_zoom..=opts.max_zoom {
        // Points with a radius reach tiles next to the data's extent.
        let r = layer.shape.point_radius;
        let pad = if r > 0.0 {
            let (lo, hi) = super::world_range(z);
            let pixel = (hi - lo) / (super::tiles_per_side(z) as f64 * opts.tile_size as f64);
            (r.ceil() + 1.0) * pixel
        } else {
            0.0
        };
        let ((x0, x1), (y0, y1)) = extent;
        let covering = tiles_covering((x0 - pad, x1 + pad), (y0 - pad, y1 + pad), z);
        let (scale, kept) = zoom_scale(source, &layer, &covering, opts)?;
        let span = match &scale {
            Scale::Options(o) => o.span,
            Scale::Shared(eq) => Some(eq.span()),
        };
        let mut written = 0usize;
        // Render in chunks so that memory stays bounded and writes keep order.
        let chunk = 64;
        for (ci, tiles) in covering.chunks(chunk).enumerate() {
            let rendered: Vec<Option<(TileId, Vec<u8>)>> = tiles
                .par_iter()
                .enumerate()
                .map(|(i, &t)| {
                    let fresh;
                    let agg = match kept.as_ref().and_then(|k| k[ci * chunk + i].as_ref()) {
                        Some(a) => a,
                        None if kept.is_some() => return Ok(None),
                        None => {
                            fresh = aggregate_tile(source, &layer, t, opts.tile_size)?;
                            &fresh
                        }
                    };
                    if is_blank(agg) {
                        return Ok(None);
                    }
                    let png = match &scale {
                        Scale::Options(o) => encode_tile(agg, o)?,
                        Scale::Shared(eq) => encode_image(&eq.shade(agg, &opts.shade)?)?,
                    };
                    Ok(Some((t, png)))
                })
                .collect::<Result<_, TileError>>()?;
            for (t, png) in rendered.into_iter().flatten() {
                png_bytes += png.len() as u64;
                sink.add(t, &png)?;
                written += 1;
            }
            progress(
                z,
                (ci * chunk + tiles.len()).min(covering.len()),
                covering.len(),
            );
        }
        total += written;
        zooms.push(ZoomSummary {
            z,
            covering: covering.len(),
            written,
            span,
        });
    }
    sink.finish(extent, opts, &layer, &zooms)?;
    Ok(PyramidSummary {
        zooms,
        tiles: total,
        png_bytes,
    })
}

/// The zoom's colour scale, and the tile aggregates (`None` = blank) when
/// they fitted in the memory budget.
#[allow(clippy::type_complexity)]
fn zoom_scale(
    source: &Source,
    layer: &TileLayer,
    covering: &[TileId],
    opts: &PyramidOptions,
) -> Result<(Scale, Option<Vec<Option<Aggregate>>>), TileError> {
    let categorical = layer.reduction.by.is_some() || layer.categories.is_some();
    let eq = opts.shade.how == How::EqHist && !categorical;
    let needs_pass = !categorical && (eq || opts.shade.span.is_none());
    if !needs_pass {
        return Ok((Scale::Options(opts.shade.clone()), None));
    }
    // One pass over the tiles: ranges, integer histogram, and the
    // aggregates while they fit.
    let mut kept: Option<Vec<Option<Aggregate>>> = Some(Vec::with_capacity(covering.len()));
    let mut kept_bytes = 0usize;
    let mut range: Option<(f64, f64)> = None;
    let mut integer: Option<SharedEqHistBuilder> = None;
    let mut is_float = false;
    let mut is_bool = false;
    for tiles in covering.chunks(64) {
        for agg in aggregate_tiles(source, layer, tiles, opts.tile_size)? {
            match &agg.values {
                AggValues::U32(_) | AggValues::U8(_) | AggValues::U16(_) => {
                    if eq {
                        integer
                            .get_or_insert_with(SharedEqHistBuilder::integer)
                            .add(&agg)?;
                    }
                }
                AggValues::F64(_) | AggValues::F32(_) | AggValues::I64(_) => is_float = true,
                AggValues::Bool(_) => is_bool = true,
            }
            if let Some(r) = value_range(&agg) {
                range = widen(range, r);
            }
            if let Some(k) = kept.as_mut() {
                if is_blank(&agg) {
                    k.push(None);
                } else {
                    kept_bytes += agg.values.len() * agg.values.cell_bytes();
                    if kept_bytes > opts.memory_bytes {
                        kept = None;
                    } else {
                        k.push(Some(agg));
                    }
                }
            }
        }
    }
    if is_bool {
        let mut o = opts.shade.clone();
        if !eq && o.span.is_none() {
            o.span = Some((0.0, 1.0));
        }
        return Ok((Scale::Options(o), kept));
    }
    if !eq {
        let mut o = opts.shade.clone();
        o.span = range;
        return Ok((Scale::Options(o), kept));
    }
    let builder = if is_float {
        let Some(r) = range else {
            return Ok((Scale::Options(opts.shade.clone()), kept));
        };
        // Float bins need the range first: a second pass over the cells.
        let mut b = SharedEqHistBuilder::float(r);
        match &kept {
            Some(k) => {
                for agg in k.iter().flatten() {
                    b.add(agg)?;
                }
            }
            None => {
                for tiles in covering.chunks(64) {
                    for agg in &aggregate_tiles(source, layer, tiles, opts.tile_size)? {
                        b.add(agg)?;
                    }
                }
            }
        }
        Some(b)
    } else {
        integer
    };
    match builder
        .map(SharedEqHistBuilder::finish)
        .transpose()?
        .flatten()
    {
        Some(shared) => Ok((Scale::Shared(shared), kept)),
        None => Ok((Scale::Options(opts.shade.clone()), kept)),
    }
}

/// The destination being filled.
enum Sink {
    Directory {
        tmp: tempfile::TempDir,
        dest: PathBuf,
    },
    #[cfg(feature = "pmtiles")]
    Pmtiles(PmtilesWriter, PathBuf),
    #[cfg(feature = "mbtiles")]
    Mbtiles(MbtilesWriter),
}

impl Sink {
    fn create(out: &PyramidOutput) -> Result<Sink, TileError> {
        let io = |path: &Path, source| {
            TileError::Output(OutputError::Io {
                path: path.to_path_buf(),
                source,
            })
        };
        match out {
            #[cfg(feature = "pmtiles")]
            PyramidOutput::Pmtiles(p) => Ok(Sink::Pmtiles(PmtilesWriter::create(p)?, p.clone())),
            #[cfg(not(feature = "pmtiles"))]
            PyramidOutput::Pmtiles(p) => Err(TileError::Output(OutputError::NoPmtiles {
                path: p.clone(),
            })),
            #[cfg(feature = "mbtiles")]
            PyramidOutput::Mbtiles(p) => Ok(Sink::Mbtiles(MbtilesWriter::create(p)?)),
            #[cfg(not(feature = "mbtiles"))]
            PyramidOutput::Mbtiles(p) => Err(TileError::Output(OutputError::NoMbtiles {
                path: p.clone(),
            })),
            PyramidOutput::Directory(dest) => {
                if dest.exists() {
                    let empty = fs::read_dir(dest)
                        .map_err(|e| io(dest, e))?
                        .next()
                        .is_none();
                    if !empty {
                        return Err(TileError::Output(OutputError::NotEmpty {
                            path: dest.clone(),
                        }));
                    }
                }
                let parent = match dest.parent() {
                    Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
                    _ => PathBuf::from("."),
                };
                let tmp = tempfile::Builder::new()
                    .prefix(".pointillist-tiles-")
                    .tempdir_in(&parent)
                    .map_err(|e| io(&parent, e))?;
                Ok(Sink::Directory {
                    tmp,
                    dest: dest.clone(),
                })
            }
        }
    }

    fn add(&mut self, t: TileId, png: &[u8]) -> Result<(), TileError> {
        match self {
            #[cfg(feature = "pmtiles")]
            Sink::Pmtiles(w, _) => Ok(w.add_tile(t.z, t.x, t.y, png)?),
            #[cfg(feature = "mbtiles")]
            Sink::Mbtiles(w) => Ok(w.add_tile(t.z, t.x, t.y, png)?),
            Sink::Directory { tmp, .. } => {
                let dir = tmp.path().join(t.z.to_string()).join(t.x.to_string());
                let path = dir.join(format!("{}.png", t.y));
                fs::create_dir_all(&dir)
                    .and_then(|()| fs::write(&path, png))
                    .map_err(|source| TileError::Output(OutputError::Io { path, source }))
            }
        }
    }

    fn finish(
        self,
        extent: Extent,
        opts: &PyramidOptions,
        layer: &TileLayer,
        zooms: &[ZoomSummary],
    ) -> Result<(), TileError> {
        let bounds = extent_lnglat(extent);
        let spans: serde_json::Value = zooms
            .iter()
            .map(|z| {
                serde_json::json!({
                    "zoom": z.z,
                    "tiles": z.written,
                    "span": z.span.map(|(a, b)| [a, b]),
                })
            })
            .collect();
        let description = format!(
            "{} of {}, {} shading, tiles {} px",
            layer.reduction,
            if layer.lnglat {
                "longitude/latitude"
            } else {
                "Web Mercator points"
            },
            opts.shade.how.name(),
            opts.tile_size
        );
        // What a legend needs: the layer and its shading (the spans are
        // per zoom, above).
        let hex = |rgb: &[u8; 3]| format!("#{:02x}{:02x}{:02x}", rgb[0], rgb[1], rgb[2]);
        let category_colors = layer.categories.as_ref().map(|cats| {
            let key = opts.shade.color_key_colors();
            key.iter().take(cats.len()).map(hex).collect::<Vec<_>>()
        });
        let legend = serde_json::json!({
            "agg": layer.reduction.to_string(),
            "how": opts.shade.how.name(),
            "cmap": opts.shade.cmap.iter().map(hex).collect::<Vec<_>>(),
            "single_color": opts.shade.single_color.as_ref().map(hex),
            "categories": layer.categories,
            "category_colors": category_colors,
        });
        match self {
            #[cfg(feature = "pmtiles")]
            Sink::Pmtiles(w, path) => {
                if w.tile_count() == 0 {
                    return Err(TileError::Output(OutputError::Pmtiles {
                        path,
                        what: PmtilesProblem::NoTiles,
                    }));
                }
                let mut extra = serde_json::Map::new();
                extra.insert("pointillist_zooms".into(), spans);
                extra.insert("pointillist_legend".into(), legend);
                extra.insert("tile_size".into(), opts.tile_size.into());
                let meta = PmtilesMetadata {
                    min_zoom: opts.min_zoom,
                    max_zoom: opts.max_zoom,
                    bounds,
                    center: None,
                    name: opts.name.clone(),
                    description,
                    attribution: "rendered by pointillist".into(),
                    extra,
                    ..PmtilesMetadata::default()
                };
                w.finish(&meta)?;
                Ok(())
            }
            #[cfg(feature = "mbtiles")]
            Sink::Mbtiles(w) => {
                let mut meta = MbtilesMetadata::default()
                    .with_name(opts.name.clone())
                    .with_zooms(opts.min_zoom, opts.max_zoom)
                    .with_bounds(bounds);
                meta.description = description;
                meta.attribution = "rendered by pointillist".into();
                meta.extra.insert("pointillist_zooms".into(), spans);
                meta.extra.insert("pointillist_legend".into(), legend);
                meta.extra.insert("tile_size".into(), opts.tile_size.into());
                w.finish(&meta)?;
                Ok(())
            }
            Sink::Directory { tmp, dest } => {
                let meta = serde_json::json!({
                    "tilejson": "3.0.0",
                    "name": opts.name,
                    "description": description,
                    "scheme": "xyz",
                    "tiles": ["{z}/{x}/{y}.png"],
                    "minzoom": opts.min_zoom,
                    "maxzoom": opts.max_zoom,
                    "bounds": bounds,
                    "tile_size": opts.tile_size,
                    "pointillist_zooms": spans,
                    "pointillist_legend": legend,
                });
                let path = tmp.path().join("metadata.json");
                fs::write(&path, meta.to_string())
                    .map_err(|source| TileError::Output(OutputError::Io { path, source }))?;
                if dest.exists() {
                    // Checked empty at the start.
                    let _ = fs::remove_dir(&dest);
                }
                let kept = tmp.keep();
                #[cfg(unix)]
                {
                    use std::os::unix::fs::PermissionsExt;
                    // A normal directory, not tempfile's private 0700 one.
                    let _ = fs::set_permissions(&kept, fs::Permissions::from_mode(0o755));
                }
                fs::rename(&kept, &dest).map_err(|source| {
                    let _ = fs::remove_dir_all(&kept);
                    TileError::Output(OutputError::Io { path: dest, source })
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shade::Rgba;

    fn sample() -> Source {
        Source::sample().expect("sample")
    }

    fn opts(how: How, max_zoom: u8) -> PyramidOptions {
        PyramidOptions {
            min_zoom: 0,
            max_zoom,
            shade: ShadeOptions {
                how,
                ..ShadeOptions::default()
            },
            ..PyramidOptions::default()
        }
    }

    fn decode(png: &[u8]) -> Vec<u8> {
        let mut r = png::Decoder::new(std::io::Cursor::new(png))
            .read_info()
            .expect("png");
        let mut buf = vec![0; r.output_buffer_size().expect("size")];
        let info = r.next_frame(&mut buf).expect("frame");
        buf.truncate(info.buffer_size());
        buf
    }

    #[test]
    fn directory_pyramid_holds_every_non_empty_tile_with_the_zoom_span() {
        let dir = tempfile::tempdir().expect("tmp");
        let dest = dir.path().join("pyr");
        let source = sample();
        let layer = TileLayer::new();
        let o = opts(How::Log, 3);
        let out = PyramidOutput::from_path(&dest);
        let summary = write_pyramid(&source, &layer, &out, &o, &|_, _, _| {}).expect("pyramid");
        let extent = layer.data_extent(&source).expect("extent");
        let mut files = 0;
        for z in 0..=3u8 {
            let zs = &summary.zooms[usize::from(z)];
            // The zoom's span is over all of its tiles.
            let mut span: Option<(f64, f64)> = None;
            let covering = tiles_covering(extent.0, extent.1, z);
            let aggs: Vec<_> = covering
                .iter()
                .map(|&t| (t, aggregate_tile(&source, &layer, t, 256).expect("tile")))
                .collect();
            for (_, a) in &aggs {
                if let Some((lo, hi)) = value_range(a) {
                    span = Some(span.map_or((lo, hi), |(x, y)| (x.min(lo), y.max(hi))));
                }
            }
            assert_eq!(zs.span, span, "zoom {z}");
            let mut shade = o.shade.clone();
            shade.span = span;
            for (t, a) in &aggs {
                let path = dest.join(format!("{}/{}/{}.png", t.z, t.x, t.y));
                if is_blank(a) {
                    assert!(!path.exists(), "empty tile {t} written");
                } else {
                    let want = encode_tile(a, &shade).expect("encode");
                    assert_eq!(std::fs::read(&path).expect("tile"), want, "tile {t}");
                    files += 1;
                }
            }
        }
        assert_eq!(files, summary.tiles);
        let meta: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dest.join("metadata.json")).expect("meta"))
                .expect("json");
        assert_eq!(meta["maxzoom"], 3);
        assert_eq!(meta["tiles"][0], "{z}/{x}/{y}.png");
        // Nothing else was left beside it.
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .expect("ls")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("pyr")]);
        // A second run into the same directory is refused and changes nothing.
        let err = write_pyramid(&source, &layer, &out, &o, &|_, _, _| {}).expect_err("exists");
        assert!(err.to_string().contains("not empty"), "{err}");
    }

    #[test]
    fn points_with_a_radius_reach_tiles_beside_the_data() {
        // Two points just east of the z1 tiles' shared edge (x = 0): their
        // discs cross into the western tiles, which hold no data.
        let batch = arrow_array::RecordBatch::try_from_iter([
            (
                "x",
                std::sync::Arc::new(arrow_array::Float64Array::from(vec![10.0, 2.0e6]))
                    as arrow_array::ArrayRef,
            ),
            (
                "y",
                std::sync::Arc::new(arrow_array::Float64Array::from(vec![3.0e6, 4.0e6])) as _,
            ),
        ])
        .expect("batch");
        let source = Source::from_batches("two", batch.schema(), vec![batch]).expect("source");
        let req = crate::aggregate::AggregateRequest::new(1, 1).with_point_radius(4.0);
        let layer = TileLayer::new().with_glyph_of(&req);
        let dir = tempfile::tempdir().expect("tmp");
        let dest = dir.path().join("pyr");
        let out = PyramidOutput::from_path(&dest);
        write_pyramid(&source, &layer, &out, &opts(How::Linear, 1), &|_, _, _| {})
            .expect("pyramid");
        // Tile (1, 0, 0) is west of x = 0 and north of the equator.
        assert!(
            dest.join("1/0/0.png").exists(),
            "the western tile a disc reaches"
        );
        assert!(dest.join("1/1/0.png").exists());
    }

    #[test]
    fn eq_hist_gives_equal_counts_equal_colours_across_tiles() {
        let dir = tempfile::tempdir().expect("tmp");
        let dest = dir.path().join("eq");
        let source = sample();
        let layer = TileLayer::new();
        let o = opts(How::EqHist, 4);
        let out = PyramidOutput::Directory(dest.clone());
        write_pyramid(&source, &layer, &out, &o, &|_, _, _| {}).expect("pyramid");
        let extent = layer.data_extent(&source).expect("extent");
        // Colour of each count value, over every tile of zoom 4.
        let mut colour_of: std::collections::HashMap<u32, Rgba> = Default::default();
        let mut tiles_seen = std::collections::HashMap::<u32, usize>::new();
        let mut checked = 0;
        for t in tiles_covering(extent.0, extent.1, 4) {
            let agg = aggregate_tile(&source, &layer, t, 256).expect("tile");
            let AggValues::U32(v) = &agg.values else {
                panic!("count")
            };
            if is_blank(&agg) {
                continue;
            }
            let png = std::fs::read(dest.join(format!("4/{}/{}.png", t.x, t.y))).expect("png");
            let rgba = decode(&png);
            for row in 0..256 {
                for col in 0..256 {
                    let c = v[row * 256 + col];
                    if c == 0 {
                        continue;
                    }
                    // Aggregates are south-up, images north-up.
                    let i = ((255 - row) * 256 + col) * 4;
                    let px = [rgba[i], rgba[i + 1], rgba[i + 2], rgba[i + 3]];
                    match colour_of.get(&c) {
                        Some(seen) => {
                            assert_eq!(*seen, px, "count {c} in tile {t}");
                            checked += 1;
                        }
                        None => {
                            colour_of.insert(c, px);
                        }
                    }
                    *tiles_seen.entry(c).or_default() += 1;
                }
            }
        }
        assert!(checked > 1000, "only {checked} repeated values compared");
        // Denser pixels are never darker in the colormap's order: the
        // highest count is at the top of the colormap.
        let top = colour_of.keys().max().copied().expect("values");
        let fire_top = crate::shade::colormap("fire").expect("fire");
        let last = fire_top.last().expect("colour");
        assert_eq!(&colour_of[&top][..3], &last[..]);
    }

    #[cfg(not(feature = "pmtiles"))]
    #[test]
    fn without_the_pmtiles_feature_an_archive_is_a_typed_error() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("t.pmtiles");
        let e = write_pyramid(
            &sample(),
            &TileLayer::new(),
            &PyramidOutput::from_path(&path),
            &opts(How::Log, 2),
            &|_, _, _| {},
        )
        .expect_err("no PMTiles writer in this build");
        assert!(
            matches!(e, TileError::Output(OutputError::NoPmtiles { .. })),
            "{e:?}"
        );
        assert!(e.to_string().contains("`pmtiles` Cargo feature"), "{e}");
        assert!(!path.exists());
    }

    #[cfg(not(feature = "mbtiles"))]
    #[test]
    fn without_the_mbtiles_feature_an_archive_is_a_typed_error() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("t.mbtiles");
        let e = write_pyramid(
            &sample(),
            &TileLayer::new(),
            &PyramidOutput::from_path(&path),
            &opts(How::Log, 2),
            &|_, _, _| {},
        )
        .expect_err("no MBTiles writer in this build");
        assert!(
            matches!(e, TileError::Output(OutputError::NoMbtiles { .. })),
            "{e:?}"
        );
        assert!(e.to_string().contains("`mbtiles` Cargo feature"), "{e}");
        assert!(!path.exists());
    }

    #[cfg(feature = "pmtiles")]
    #[test]
    fn pmtiles_archive_addresses_every_tile_and_is_deterministic() {
        let dir = tempfile::tempdir().expect("tmp");
        let source = sample();
        let layer = TileLayer::new();
        let o = opts(How::Log, 5);
        let mut archives = Vec::new();
        for threads in [1, 2] {
            let path = dir.path().join(format!("t{threads}.pmtiles"));
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .expect("pool");
            let s = pool
                .install(|| {
                    write_pyramid(
                        &source,
                        &layer,
                        &PyramidOutput::from_path(&path),
                        &o,
                        &|_, _, _| {},
                    )
                })
                .expect("pyramid");
            assert!(s.tiles > 30);
            let bytes = std::fs::read(&path).expect("read");
            // Header: addressed tiles at byte 72, zooms at 100 and 101.
            let addressed = u64::from_le_bytes(bytes[72..80].try_into().expect("8 bytes"));
            assert_eq!(addressed, s.tiles as u64);
            assert_eq!((bytes[100], bytes[101]), (0, 5));
            archives.push(std::fs::read(&path).expect("read"));
        }
        assert_eq!(archives[0], archives[1], "same bytes on 1 and 2 threads");
        assert_eq!(&archives[0][..7], b"PMTiles");
        assert_eq!(archives[0][7], 3);
    }
}
