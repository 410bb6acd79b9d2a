//! Command-line arguments and their validation into library requests.
//!
//! clap parses strings; [`RenderArgs::into_plan`] turns them into a checked
//! [`RenderPlan`] before anything is read, so a bad flag fails fast with a
//! message that names it.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::parser::ValueSource;
use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use parquet::basic::{Compression, ZstdLevel};

use pointillist::aggregate::{
    AggregateRequest, AxisKind, Coord, GeometryKernel, Glyph, ReductionSpec,
};
use pointillist::index::IndexOptions;
use pointillist::output::PngOptions;
use pointillist::render::RenderRequest;
use pointillist::server::{ArchiveFormat, ServerConfig};
use pointillist::shade::{self, Dynspread, How, ShadeOptions};
use pointillist::tiles::pyramid::{PyramidOptions, PyramidOutput};
use pointillist::tiles::{self, TileLayer};
#[cfg(feature = "synth")]
use pointillist_synth::{Precision, SynthCompression, SynthOptions};

/// Turn hundreds of millions of points from Parquet into Datashader-exact images.
#[derive(Debug, Parser)]
#[command(name = "pointillist", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Aggregate points into a canvas and write a PNG and/or the raw aggregate.
    Render(Box<RenderArgs>),
    /// Aggregate one shard of the inputs (--shard I/N) into a partial
    /// aggregate file, for batch schedulers; combine them with merge.
    Aggregate(Box<AggregateArgs>),
    /// Merge partial aggregates (all shards) and write a PNG and/or .npy,
    /// as render would for the same inputs.
    Merge(Box<MergeArgs>),
    /// Write a synthetic census-like Parquet file (for demos and benchmarks).
    #[cfg(feature = "synth")]
    Synth(SynthArgs),
    /// Describe inputs: files, rows, row groups, columns and their types.
    Info(InfoArgs),
    /// Serve XYZ map tiles rendered on demand, or those of a .pmtiles or
    /// .mbtiles archive, with a viewer at /.
    Serve(Box<ServeArgs>),
    /// Rewrite inputs as one Parquet file sorted along a Hilbert curve, in
    /// small row groups, so zoomed renders and tiles read only what they show.
    Index(IndexArgs),
    /// Write a tile pyramid ({z}/{x}/{y}.png directory, .pmtiles or
    /// .mbtiles archive) with one colour scale per zoom level.
    Tiles(Box<TilesArgs>),
}

/// `pointillist tiles`.
#[derive(Debug, Args)]
pub struct TilesArgs {
    /// Parquet files, directories or globs (default: the sample data).
    pub inputs: Vec<PathBuf>,
    /// Output: a directory (must not exist or be empty) for {z}/{x}/{y}.png,
    /// or a file ending in .pmtiles (PMTiles v3) or .mbtiles (MBTiles 1.3)
    /// for one archive, which replaces any file there once complete.
    #[arg(
        short = 'o',
        long = "output",
        value_name = "DIR|OUT.pmtiles|OUT.mbtiles"
    )]
    pub output: PathBuf,
    /// The layer and its shading.
    #[command(flatten)]
    pub layer: LayerArgs,
    /// Shallowest zoom written.
    #[arg(long, default_value_t = 0, value_name = "Z")]
    pub min_zoom: u8,
    /// Deepest zoom written.
    #[arg(long, default_value_t = 8, value_name = "Z")]
    pub max_zoom: u8,
    /// Tile side in pixels: 256 or 512.
    #[arg(long, default_value_t = 256, value_name = "PX")]
    pub tile_size: usize,
    /// Memory for one zoom's tile aggregates between its two passes, in MiB.
    #[arg(long, default_value_t = 512, value_name = "MIB")]
    pub memory_mb: usize,
    /// Worker threads (default: all cores).
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
}

/// A checked `tiles` command.
#[derive(Debug)]
pub struct TilesPlan {
    /// Inputs (empty = the sample).
    pub inputs: Vec<PathBuf>,
    /// Where the pyramid goes.
    pub output: PyramidOutput,
    /// The layer.
    pub layer: TileLayer,
    /// Zooms, size and shading.
    pub options: PyramidOptions,
    /// Worker threads.
    pub threads: Option<usize>,
}

impl TilesArgs {
    /// Check the arguments.
    pub fn into_plan(self) -> Result<TilesPlan> {
        check_zooms(self.min_zoom, self.max_zoom)?;
        if self.tile_size != 256 && self.tile_size != 512 {
            bail!("--tile-size {}: use 256 or 512", self.tile_size);
        }
        if self.threads == Some(0) {
            bail!("--threads 0: give at least 1, or leave it out to use every core");
        }
        let (layer, shade) = self.layer.into_layer()?;
        Ok(TilesPlan {
            inputs: self.inputs,
            output: PyramidOutput::from_path(&self.output),
            layer,
            options: PyramidOptions::default()
                .with_zooms(self.min_zoom, self.max_zoom)
                .with_tile_size(self.tile_size)
                .with_shade(shade)
                .with_memory_bytes(self.memory_mb.saturating_mul(1 << 20)),
            threads: self.threads,
        })
    }
}

/// `--min-zoom` and `--max-zoom` name a valid, ordered range.
fn check_zooms(min_zoom: u8, max_zoom: u8) -> Result<()> {
    if max_zoom > tiles::MAX_ZOOM {
        bail!(
            "--max-zoom {max_zoom} is beyond {}; give at most {}",
            tiles::MAX_ZOOM,
            tiles::MAX_ZOOM
        );
    }
    if min_zoom > max_zoom {
        bail!("--min-zoom {min_zoom} is above --max-zoom {max_zoom}; give MIN <= MAX");
    }
    Ok(())
}

/// `pointillist index`.
#[derive(Debug, Args)]
pub struct IndexArgs {
    /// Parquet files, directories of *.parquet, or globs, read in order.
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
    /// Output Parquet file (written beside as a temp file, then renamed).
    #[arg(short = 'o', long = "output", value_name = "OUT.parquet")]
    pub output: PathBuf,
    /// Column of x coordinates.
    #[arg(long, default_value = "x", value_name = "COL")]
    pub x: String,
    /// Column of y coordinates.
    #[arg(long, default_value = "y", value_name = "COL")]
    pub y: String,
    /// Rows per output row group (smaller: finer pruning, more metadata).
    #[arg(long, default_value_t = 64 * 1024, value_name = "N")]
    pub row_group_rows: usize,
    /// Memory for sorting, in MiB; larger inputs are sorted in runs spilled
    /// to disk and merged.
    #[arg(long, default_value_t = 1024, value_name = "MIB")]
    pub memory_mb: u64,
    /// Compression: snappy, zstd, zstd:LEVEL or none.
    #[arg(long, default_value = "snappy")]
    pub compression: String,
    /// Directory for spilled runs (default: the output's directory).
    #[arg(long, value_name = "DIR")]
    pub temp_dir: Option<PathBuf>,
    /// Worker threads (default: all cores).
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
}

impl IndexArgs {
    /// Check the arguments and turn them into index options.
    pub fn into_plan(self) -> Result<IndexPlan> {
        let compression = parse_compression(&self.compression)
            .with_context(|| format!("--compression '{}'", self.compression))?;
        if self.row_group_rows == 0 {
            bail!("--row-group-rows 0: give at least 1");
        }
        if self.memory_mb == 0 {
            bail!("--memory-mb 0: give at least 1");
        }
        if self.threads == Some(0) {
            bail!("--threads 0: give at least 1, or leave it out to use every core");
        }
        let options = IndexOptions::default()
            .with_columns(self.x, self.y)
            .with_row_group_rows(self.row_group_rows)
            .with_memory_bytes(
                usize::try_from(self.memory_mb.saturating_mul(1 << 20)).unwrap_or(usize::MAX),
            )
            .with_compression(compression)
            .with_temp_dir(self.temp_dir);
        Ok(IndexPlan {
            inputs: self.inputs,
            output: self.output,
            options,
            threads: self.threads,
        })
    }
}

/// A checked `index` command.
#[derive(Debug)]
pub struct IndexPlan {
    /// Inputs.
    pub inputs: Vec<PathBuf>,
    /// Output file.
    pub output: PathBuf,
    /// Sorting options.
    pub options: IndexOptions,
    /// Worker threads.
    pub threads: Option<usize>,
}

/// `pointillist render`.
#[derive(Debug, Args)]
pub struct RenderArgs {
    /// Parquet files, directories of *.parquet, or globs, read in order.
    /// With none, the sample dataset shipped in data/ is used.
    pub inputs: Vec<PathBuf>,
    /// Output PNG (RGBA, north up).
    #[arg(short = 'o', long = "output", value_name = "OUT.png")]
    pub output: Option<PathBuf>,
    /// Canvas, columns, reduction and device.
    #[command(flatten)]
    pub canvas: CanvasArgs,
    /// Shading.
    #[command(flatten)]
    pub shade: ShadeArgs,
    /// Also write the raw aggregate as a NumPy .npy file.
    #[arg(long, value_name = "PATH.npy")]
    pub save_agg: Option<PathBuf>,
    /// Print time per stage to stderr.
    #[arg(long)]
    pub timings: bool,
    /// Say on stderr which device aggregated, and why.
    #[arg(short, long)]
    pub verbose: bool,
    /// No warnings on stderr.
    #[arg(short, long)]
    pub quiet: bool,
}

/// The canvas, columns, reduction and device of `render` and `aggregate`.
#[derive(Debug, Args)]
pub struct CanvasArgs {
    /// Column of x coordinates.
    #[arg(long, default_value = "x", value_name = "COL")]
    pub x: String,
    /// Column of y coordinates.
    #[arg(long, default_value = "y", value_name = "COL")]
    pub y: String,
    /// Canvas width in pixels.
    #[arg(long, default_value_t = 800, value_name = "N")]
    pub width: usize,
    /// Canvas height in pixels.
    #[arg(long, default_value_t = 600, value_name = "N")]
    pub height: usize,
    /// x range, inclusive (default: the data's range).
    #[arg(long, value_name = "MIN,MAX", allow_hyphen_values = true)]
    pub x_range: Option<String>,
    /// y range, inclusive (default: the data's range).
    #[arg(long, value_name = "MIN,MAX", allow_hyphen_values = true)]
    pub y_range: Option<String>,
    /// x and y are longitude and latitude in degrees: project them to Web
    /// Mercator metres (ranges are then in metres).
    #[arg(long)]
    pub lnglat: bool,
    /// x axis: linear or log.
    #[arg(long, default_value = "linear")]
    pub x_axis: String,
    /// y axis: linear or log.
    #[arg(long, default_value = "linear")]
    pub y_axis: String,
    /// Reduction: count | count:COL | any | any:COL | sum:COL | mean:COL |
    /// min:COL | max:COL | var:COL | std:COL | first:COL | last:COL | count_cat:COL |
    /// first_n:COL[:N] | last_n:COL[:N] | min_n:COL[:N] | max_n:COL[:N] (N values per
    /// pixel, default 1: a trailing dimension of N in --save-agg; the PNG shows the first) |
    /// where(SELECTOR) (the int64 row index of the row SELECTOR picks, -1 where empty) |
    /// where(SELECTOR,COL) (COL's value in that row). SELECTOR: first, last, min, max or
    /// an _n form, e.g. where(max:fare,tip) or where(max_n:fare:5).
    /// A dtype suffix holds the aggregate in less memory: count and count_cat:COL
    /// @uint8 or @uint16 (counts saturate at 255 or 65535), sum, min and max
    /// @float32 (e.g. count_cat:cat@uint8, sum:fare@float32).
    #[arg(long, default_value = "count", value_name = "SPEC")]
    pub agg: String,
    /// Split the reduction by the categories of COL (its distinct values), or
    /// by computed categories: category_modulo(COL,MODULO[,OFFSET]) ((COL - OFFSET)
    /// mod MODULO of an integer column: categories 0..MODULO) or
    /// category_binning(COL,LOWER,UPPER,NBINS[,INCLUDE_UNDER,INCLUDE_OVER]) (NBINS bins
    /// from LOWER to UPPER, and a last category for NaN and, unless included, values
    /// under or over), as Datashader's categorizers.
    #[arg(long, value_name = "COL")]
    pub by: Option<String>,
    /// Categories in plane order (default: the column's sorted distinct
    /// values). A last category "(other)" collects the unlisted ones.
    #[arg(long, value_name = "A,B,...")]
    pub categories: Option<String>,
    /// Keep the K categories with the most rows on the canvas (ties to the
    /// earlier one), in category order, and fold the others and nulls into a
    /// last category "(other)": memory for K + 1 planes, however many
    /// categories the column has (one more pass over the data finds them).
    #[arg(long, value_name = "K")]
    pub top_categories: Option<usize>,
    /// Memory budget for aggregation state, in MiB.
    #[arg(long, default_value_t = 4096, value_name = "MiB")]
    pub memory_budget: u64,
    /// Where to aggregate: cpu, gpu (wgpu: Vulkan, Metal or DX12), or auto
    /// (the GPU for large jobs when a hardware adapter exists). auto loads
    /// the GPU driver to look, which costs memory (75 MB for Mesa's).
    #[arg(long, default_value = "cpu", value_name = "cpu|gpu|auto")]
    pub device: String,
    /// Worker threads (default: all cores).
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// The glyph: points, lines or areas.
    #[command(flatten)]
    pub glyph: GlyphArgs,
}

/// What the rows draw (`render`, `aggregate`, `tiles` and `serve`).
#[derive(Debug, Args)]
pub struct GlyphArgs {
    /// What the rows draw: points (one per row); line: the rows are the
    /// vertices of one line in row order, broken where x or y is NaN or
    /// null, each segment adding its first row's value to every pixel it
    /// crosses (Datashader's Canvas.line with axis=0), one line per column
    /// pair with --x X1,X2,... --y Y1,Y2,... (a single column on one side
    /// is shared: --x t --y a,b); row-lines: each row is one line through
    /// the columns --x X1,X2,... --y Y1,Y2,... (axis=1; --x ox,dx --y oy,dy
    /// draws origin-destination segments; --x-values or --y-values give
    /// constants instead); ragged-lines: each row is one line through the
    /// lists in list columns --x and --y; area: the line down the rows
    /// through --x and --y, filled to y = 0 or to the line through
    /// --y-stack (Datashader's Canvas.area with axis=0); row-areas: each
    /// row is one area through the columns of --x and --y (or
    /// --x-values/--y-values), filled to y = 0 or to one --y-stack column
    /// per vertex (axis=1); ragged-areas: each row is one area through the
    /// lists in list columns --x and --y, filled to y = 0 or to the list in
    /// --y-stack.
    #[arg(
        long,
        default_value = "points",
        value_name = "points|line|row-lines|ragged-lines|area|row-areas|ragged-areas"
    )]
    pub glyph: String,
    /// For --glyph area: the column of the line the area is filled to
    /// (default: y = 0); one per area with several (--y a,b --y-stack c,d).
    #[arg(long, value_name = "COL[,COL...]")]
    pub y_stack: Option<String>,
    /// For row-lines: the x of each vertex, shared by every row, in place
    /// of --x columns (wide time series: one --y column per sample). A
    /// list V1,V2,... or START:STOP[:STEP] (NumPy's arange: 0:1000 is 0 to
    /// 999).
    #[arg(
        long,
        value_name = "V,V,...|START:STOP[:STEP]",
        allow_hyphen_values = true
    )]
    pub x_values: Option<String>,
    /// For row-lines: the y of each vertex, shared by every row, in place
    /// of --y columns (as --x-values).
    #[arg(
        long,
        value_name = "V,V,...|START:STOP[:STEP]",
        allow_hyphen_values = true
    )]
    pub y_values: Option<String>,
    /// For line glyphs: antialiased lines this many pixels wide
    /// (Datashader's line_width; 0, the default, draws plain one-pixel
    /// lines). count and any are then float32 coverage.
    #[arg(long, value_name = "PIXELS", default_value_t = 0.0)]
    pub line_width: f64,
    /// Antialiased lines one pixel wide: --line-width 1 (Datashader's
    /// antialias=True).
    #[arg(long, conflicts_with = "line_width")]
    pub antialias: bool,
    /// For points: each point covers every pixel whose centre lies within
    /// this many pixels of it, inside the aggregation (every --agg sees
    /// the point in each pixel it covers; 0, the default, is Datashader's
    /// one pixel per point). Drawn on the CPU.
    #[arg(
        long,
        value_name = "PIXELS",
        default_value_t = 0.0,
        allow_hyphen_values = true
    )]
    pub point_radius: f64,
    /// With --point-radius: circle (pixel centres within the radius) or
    /// square (within it on both axes).
    #[arg(long, value_name = "SHAPE", default_value = "circle")]
    pub point_shape: String,
    /// With --line-width: count (and sum) a line once where it crosses
    /// itself (Datashader's self_intersect=False): each line is aggregated
    /// on its own, its largest coverage per pixel, and the lines added.
    #[arg(long)]
    pub no_self_intersect: bool,
    /// With --glyph line: each row is the line geometry in this column
    /// (Datashader's Canvas.line(geometry=...)): GeoParquet's WKB or
    /// GeoArrow LineString, MultiLineString, Polygon or MultiPolygon (a
    /// polygon's rings are drawn as closed lines), in place of --x and --y.
    #[arg(long, value_name = "COL")]
    pub geometry: Option<String>,
    /// With --geometry: which of Datashader 0.19.1's geometry kernels to
    /// match: spatialpandas (every line string's first pixel drawn) or
    /// geopandas (its GeoPandas path, which leaves out the first pixel of
    /// every line string but the input's first; datashader#1509).
    #[arg(
        long,
        value_name = "spatialpandas|geopandas",
        default_value = "spatialpandas"
    )]
    pub geometry_kernel: String,
}

/// Datashader's broadcasting of column lists: a list of one column is
/// shared by every line (or area) of the longest; whether all then have
/// that length.
fn broadcast(lists: &mut [&mut Vec<String>]) -> bool {
    let n = lists.iter().map(|l| l.len()).max().unwrap_or(0);
    for l in lists.iter_mut() {
        if l.len() == 1 {
            let one = l[0].clone();
            **l = vec![one; n];
        }
    }
    lists.iter().all(|l| l.len() == n)
}

/// Constant coordinates from `--x-values`/`--y-values`: a list, or
/// `START:STOP[:STEP]` as NumPy's `arange` (STOP excluded).
fn parse_values(flag: &str, s: &str) -> Result<Vec<f64>> {
    let num = |v: &str| {
        v.trim().parse::<f64>().map_err(|_| {
            anyhow::anyhow!(
                "--{flag} {s}: '{v}' is not a number; give V,V,... or START:STOP[:STEP]"
            )
        })
    };
    if s.contains(':') {
        let parts: Vec<&str> = s.split(':').collect();
        let (start, stop, step) = match parts.as_slice() {
            [a, b] => (num(a)?, num(b)?, 1.0),
            [a, b, c] => (num(a)?, num(b)?, num(c)?),
            _ => bail!("--{flag} {s}: give START:STOP or START:STOP:STEP"),
        };
        let n = ((stop - start) / step).ceil();
        if !(step != 0.0 && n.is_finite() && (0.0..=1e7).contains(&n)) {
            bail!("--{flag} {s}: START:STOP:STEP must give 0 to 10 million values");
        }
        return Ok((0..n as usize).map(|i| start + i as f64 * step).collect());
    }
    s.split(',').map(num).collect()
}

/// The shading flags of `render` and `merge`.
#[derive(Debug, Args)]
pub struct ShadeArgs {
    /// Shading: linear, log, cbrt or eq_hist.
    #[arg(long, default_value = "eq_hist")]
    pub how: String,
    /// Colormap name, or colours: NAME | COLOR,COLOR,...
    #[arg(long, default_value = "fire", value_name = "NAME|COLORS")]
    pub cmap: String,
    /// Data values mapped to the ends of the colormap.
    #[arg(long, value_name = "MIN,MAX", allow_hyphen_values = true)]
    pub span: Option<String>,
    /// Alpha of the densest pixels (0-255).
    #[arg(long, default_value_t = 255, value_name = "N")]
    pub alpha: u32,
    /// Alpha of the least dense non-empty pixels (0-255).
    #[arg(long, default_value_t = 40.0, value_name = "N")]
    pub min_alpha: f64,
    /// Colours of the categories, in category order, or a named palette
    /// (glasbey: 256 distinct colours; Sets1to3, the default; any colormap
    /// name).
    #[arg(long, value_name = "COLOR,COLOR,...")]
    pub color_key: Option<String>,
    /// Categorical aggregates: subtract V from every category before the
    /// colours mix (Datashader's color_baseline; default: the smallest
    /// value). Integers only for counts.
    #[arg(long, value_name = "V", allow_negative_numbers = true)]
    pub color_baseline: Option<f64>,
    /// Rescale eq_hist levels when there are few distinct values.
    #[arg(long)]
    pub rescale_discrete_levels: bool,
    /// Spread each pixel by PX pixels.
    #[arg(long, value_name = "PX")]
    pub spread: Option<u32>,
    /// The mask --spread and --dynspread spread over: circle (default) or
    /// square (Datashader's shape=).
    #[arg(long, value_name = "SHAPE", value_parser = ["circle", "square"])]
    pub spread_shape: Option<String>,
    /// How --spread and --dynspread composite a pixel onto its neighbours:
    /// over (default), add, saturate or source (Datashader's how=).
    #[arg(long, value_name = "OP", value_parser = ["over", "add", "saturate", "source"])]
    pub spread_how: Option<String>,
    /// Spread pixels adaptively until the image is dense enough.
    #[arg(long)]
    pub dynspread: bool,
    /// dynspread density threshold (0-1); implies --dynspread.
    #[arg(long, value_name = "F")]
    pub dynspread_threshold: Option<f64>,
    /// dynspread maximum spread in pixels; implies --dynspread.
    #[arg(long, value_name = "N")]
    pub dynspread_max_px: Option<u32>,
    /// Background colour behind the image.
    #[arg(long, value_name = "COLOR")]
    pub background: Option<String>,
}

/// `pointillist aggregate`: one shard's partial aggregate.
#[derive(Debug, Args)]
pub struct AggregateArgs {
    /// Parquet files, directories of *.parquet, or globs, read in order
    /// (every shard must be given the same inputs). With none, the sample.
    pub inputs: Vec<PathBuf>,
    /// Aggregate only shard I of N (0-based): a deterministic share of the
    /// inputs' row groups. Ranges and categories must then come from the
    /// flags or from Parquet statistics and dictionaries.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<String>,
    /// Output: the partial aggregate as Arrow IPC (for `pointillist merge`).
    #[arg(short = 'o', long = "output", value_name = "PART.arrow")]
    pub output: PathBuf,
    /// Canvas, columns, reduction and device.
    #[command(flatten)]
    pub canvas: CanvasArgs,
    /// Say on stderr which device aggregated, and why.
    #[arg(short, long)]
    pub verbose: bool,
}

/// `pointillist merge`: partial aggregates into one image or aggregate.
#[derive(Debug, Args)]
pub struct MergeArgs {
    /// Partial aggregates written by `pointillist aggregate` (all shards of
    /// one split, in any order).
    #[arg(required = true, value_name = "PART.arrow")]
    pub parts: Vec<PathBuf>,
    /// Output PNG (RGBA, north up).
    #[arg(short = 'o', long = "output", value_name = "OUT.png")]
    pub output: Option<PathBuf>,
    /// Also write the merged aggregate as a NumPy .npy file.
    #[arg(long, value_name = "PATH.npy")]
    pub save_agg: Option<PathBuf>,
    /// Shading.
    #[command(flatten)]
    pub shade: ShadeArgs,
}

/// A checked `aggregate` command.
#[derive(Debug)]
pub struct AggregatePlan {
    /// Inputs (empty = the sample).
    pub inputs: Vec<PathBuf>,
    /// What to aggregate (with the shard).
    pub request: AggregateRequest,
    /// Where the partial goes.
    pub output: PathBuf,
    /// Thread pool size.
    pub threads: Option<usize>,
    /// Say which device aggregated.
    pub verbose: bool,
}

/// A checked `merge` command.
#[derive(Debug)]
pub struct MergePlan {
    /// The partials.
    pub parts: Vec<PathBuf>,
    /// Output PNG.
    pub png: Option<PathBuf>,
    /// Output `.npy`.
    pub save_agg: Option<PathBuf>,
    /// Shading.
    pub shade: ShadeOptions,
}

impl AggregateArgs {
    /// Check the arguments.
    pub fn into_plan(self) -> Result<AggregatePlan> {
        let threads = self.canvas.threads;
        let mut request = self.canvas.into_request()?;
        if let Some(s) = &self.shard {
            request.shard = Some(s.parse().map_err(|e| anyhow::anyhow!("--shard: {e}"))?);
        }
        if self.output.extension().and_then(|e| e.to_str()) == Some("png") {
            bail!(
                "-o {}: aggregate writes a partial aggregate (Arrow IPC), not an image; name it PART.arrow and render it with pointillist merge",
                self.output.display()
            );
        }
        Ok(AggregatePlan {
            inputs: self.inputs,
            request,
            output: self.output,
            threads,
            verbose: self.verbose,
        })
    }
}

impl MergeArgs {
    /// Check the arguments.
    pub fn into_plan(self) -> Result<MergePlan> {
        if self.output.is_none() && self.save_agg.is_none() {
            bail!("nothing to write: give -o OUT.png and/or --save-agg PATH.npy");
        }
        Ok(MergePlan {
            parts: self.parts,
            png: self.output,
            save_agg: self.save_agg,
            shade: self.shade.into_options()?,
        })
    }
}

/// `pointillist synth`.
#[cfg(feature = "synth")]
#[derive(Debug, Args)]
pub struct SynthArgs {
    /// Output Parquet file.
    #[arg(short = 'o', long = "output", value_name = "OUT.parquet")]
    pub output: PathBuf,
    /// Number of rows.
    #[arg(long, default_value_t = 1_000_000)]
    pub rows: u64,
    /// Random seed (same seed and options give the same file).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Write x, y and val as float64 instead of float32.
    #[arg(long)]
    pub f64: bool,
    /// Rows per row group.
    #[arg(long, default_value_t = 1 << 20)]
    pub row_group_rows: usize,
    /// Compression: snappy, zstd or none.
    #[arg(long, default_value = "snappy")]
    pub compression: String,
}

/// `pointillist info`.
#[derive(Debug, Args)]
pub struct InfoArgs {
    /// Parquet files, directories or globs (default: the sample data).
    pub inputs: Vec<PathBuf>,
}

/// Columns, reduction and shading of a tile layer (`serve` and `tiles`).
#[derive(Debug, Args)]
pub struct LayerArgs {
    /// Column of x coordinates (Web Mercator metres, or longitude with
    /// --lnglat); columns X1,X2,... for lines and areas, as for render.
    #[arg(long, default_value = "x", value_name = "COL")]
    pub x: String,
    /// Column of y coordinates (Web Mercator metres, or latitude with
    /// --lnglat); columns Y1,Y2,... for lines and areas, as for render.
    #[arg(long, default_value = "y", value_name = "COL")]
    pub y: String,
    /// The glyph: points, lines or areas, as for render. Each tile draws
    /// the lines clipped to it, so a line is continuous across tile edges.
    #[command(flatten)]
    pub glyph: GlyphArgs,
    /// x and y are longitude and latitude in degrees.
    #[arg(long)]
    pub lnglat: bool,
    /// Reduction (as for render); served tiles may override it with ?agg=.
    #[arg(long, default_value = "count", value_name = "SPEC")]
    pub agg: String,
    /// Categories in plane order (default: the column's sorted distinct
    /// values). A last category "(other)" collects the unlisted ones.
    #[arg(long, value_name = "A,B,...")]
    pub categories: Option<String>,
    /// Keep the K categories with the most rows in the data (ties to the
    /// earlier one), in category order, and fold the others and nulls into a
    /// last category "(other)": memory for K + 1 planes, however many
    /// categories the column has (one more pass over the data finds them).
    #[arg(long, value_name = "K")]
    pub top_categories: Option<usize>,
    /// Shading: linear, log, cbrt or eq_hist.
    #[arg(long, default_value = "log")]
    pub how: String,
    /// Colormap name, or colours: NAME | COLOR,COLOR,...
    #[arg(long, default_value = "fire", value_name = "NAME|COLORS")]
    pub cmap: String,
    /// Fixed span for every zoom (default: each zoom level's full-pass span).
    #[arg(long, value_name = "MIN,MAX", allow_hyphen_values = true)]
    pub span: Option<String>,
}

impl LayerArgs {
    /// Check the layer's arguments: the layer and the default shading.
    pub fn into_layer(self) -> Result<(TileLayer, ShadeOptions)> {
        let reduction: ReductionSpec = self
            .agg
            .parse()
            .map_err(|e| anyhow::anyhow!("--agg: {e}"))?;
        let how: How = self
            .how
            .parse()
            .map_err(|e| anyhow::anyhow!("--how: {e}"))?;
        let cmap = shade::parse_cmap_arg(&self.cmap).map_err(|e| anyhow::anyhow!("--cmap: {e}"))?;
        let span = self
            .span
            .as_deref()
            .map(|s| parse_pair("span", s))
            .transpose()?;
        if span.is_some() && how == How::EqHist {
            bail!("--span cannot be used with --how eq_hist; drop one of them");
        }
        let shape = self.glyph.into_request(1, 1, self.x, self.y)?;
        let mut layer = TileLayer::new().with_glyph_of(&shape);
        layer.lnglat = self.lnglat;
        layer.reduction = reduction;
        layer.categories = self.categories.as_deref().map(parse_list);
        if self.top_categories.is_some() && layer.categories.is_some() {
            bail!("--top-categories chooses the categories: drop --categories, or list the kept ones then (other)");
        }
        layer = layer.with_top_categories(self.top_categories);
        let mut shade = ShadeOptions::default();
        shade.how = how;
        shade.cmap = cmap.colors;
        shade.single_color = cmap.single_color;
        shade.span = span;
        Ok((layer, shade))
    }
}

/// Parse the process's arguments (exiting with clap's message when they do
/// not parse), noting which of `serve`'s flags were given: an archive
/// takes only some of them.
pub fn parse() -> Cli {
    let command = Cli::command();
    let matches = command.clone().get_matches();
    let mut cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    if let (Command::Serve(args), Some(("serve", m)), Some(serve)) = (
        &mut cli.command,
        matches.subcommand(),
        command.find_subcommand("serve"),
    ) {
        // Arguments only: not the groups that flattened structs make.
        args.given = serve
            .get_arguments()
            .map(|a| a.get_id().as_str())
            .filter(|id| m.value_source(id) == Some(ValueSource::CommandLine))
            .map(str::to_string)
            .collect();
    }
    cli
}

/// The flags of `serve` that apply to an archive (the rest shape renders).
const ARCHIVE_SERVE_FLAGS: [&str; 8] = [
    "inputs",
    "port",
    "bind",
    "header_timeout",
    "idle_timeout",
    "request_timeout",
    "max_connections",
    "basemap",
];

/// `pointillist serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Parquet files, directories or globs (default: the sample data), or
    /// one .pmtiles or .mbtiles archive to serve as written.
    pub inputs: Vec<PathBuf>,
    /// TCP port (0 = any free port; the address is printed).
    #[arg(long, default_value_t = 8080, value_name = "N")]
    pub port: u16,
    /// Address to listen on. The default serves this machine only.
    #[arg(long, default_value = "127.0.0.1", value_name = "IP")]
    pub bind: String,
    /// The layer and its shading.
    #[command(flatten)]
    pub layer: LayerArgs,
    /// Smallest zoom advertised.
    #[arg(long, default_value_t = 0, value_name = "Z")]
    pub min_zoom: u8,
    /// Largest zoom served.
    #[arg(long, default_value_t = 18, value_name = "Z")]
    pub max_zoom: u8,
    /// Deepest zoom whose colour span comes from a full pass; deeper zooms
    /// reuse it. Default: 10 for points; 5 for lines and areas, whose full
    /// pass draws every line at the zoom's resolution and so costs about
    /// twice as much per zoom level.
    #[arg(long, value_name = "Z")]
    pub span_max_zoom: Option<u8>,
    /// Memory for cached tiles, in MiB.
    #[arg(long, default_value_t = 256, value_name = "MiB")]
    pub cache_mb: usize,
    /// Deepest zoom whose tile aggregates are all computed at start-up and
    /// kept (when the data is spatially sorted, e.g. by `pointillist index`).
    #[arg(long, default_value_t = 6, value_name = "Z")]
    pub pyramid_max_zoom: u8,
    /// Memory for those aggregates, in MiB (0 turns the pyramid off).
    #[arg(long, default_value_t = 256, value_name = "MiB")]
    pub pyramid_mb: usize,
    /// Tile renders at once (default: the number of cores).
    #[arg(long, value_name = "N")]
    pub max_renders: Option<usize>,
    /// Worker threads for aggregation (default: all cores).
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// Seconds for a request's headers to arrive before the connection is dropped.
    #[arg(long, default_value_t = 10.0, value_name = "S")]
    pub header_timeout: f64,
    /// Seconds a connection may send and receive nothing before it is dropped.
    #[arg(long, default_value_t = 60.0, value_name = "S")]
    pub idle_timeout: f64,
    /// Seconds for one response before it is answered 503 (Retry-After: 1).
    #[arg(long, default_value_t = 30.0, value_name = "S")]
    pub request_timeout: f64,
    /// Connections served at once; more wait in the listen backlog.
    #[arg(long, default_value_t = 1024, value_name = "N")]
    pub max_connections: usize,
    /// Basemap the viewer draws under the data: an http(s) XYZ URL template
    /// with {z}, {x} and {y} (and {r} for @2x), e.g.
    /// https://tile.openstreetmap.org/{z}/{x}/{y}.png (default: none).
    #[arg(long, value_name = "URL_TEMPLATE")]
    pub basemap: Option<String>,
    /// The flags given on the command line, by id ([`parse`] fills it).
    #[arg(skip)]
    pub given: Vec<String>,
}

/// A validated `serve`.
#[derive(Debug)]
pub struct ServePlan {
    /// Inputs (empty = the sample).
    pub inputs: Vec<PathBuf>,
    /// Where to listen.
    pub addr: std::net::SocketAddr,
    /// The server's settings.
    pub config: ServerConfig,
    /// Thread pool size.
    pub threads: Option<usize>,
    /// Connection limits.
    pub limits: pointillist::server::ConnectionLimits,
    /// A `.pmtiles` or `.mbtiles` archive to serve instead of rendering
    /// (`inputs` is then that one path).
    pub archive: Option<PathBuf>,
}

/// `--FLAG S` as a positive, finite duration.
fn seconds(flag: &str, s: f64) -> Result<std::time::Duration> {
    if !(s.is_finite() && s > 0.0 && s < 1e9) {
        bail!("--{flag} {s}: give a positive number of seconds, e.g. --{flag} 10");
    }
    Ok(std::time::Duration::from_secs_f64(s))
}

/// `--basemap`: an http(s) URL with a host, `{z}`, `{x}` and `{y}`, no
/// other `{...}` than `{r}`, and no spaces, quotes or angle brackets.
fn check_basemap(t: &str) -> Result<String> {
    let fail = |why: &str| {
        anyhow::anyhow!(
            "--basemap '{}' {why}; give an http(s) URL template such as \
             https://tile.openstreetmap.org/{{z}}/{{x}}/{{y}}.png",
            t.escape_debug()
        )
    };
    let rest = t
        .strip_prefix("https://")
        .or_else(|| t.strip_prefix("http://"))
        .ok_or_else(|| fail("is not an http(s) URL"))?;
    if rest.is_empty() || rest.starts_with(['/', '{']) {
        return Err(fail("has no host"));
    }
    if t.chars()
        .any(|c| c.is_whitespace() || c.is_control() || "\"'<>\\`".contains(c))
    {
        return Err(fail("has a space, quote, backslash or angle bracket"));
    }
    for p in ["{z}", "{x}", "{y}"] {
        if !t.contains(p) {
            return Err(fail(&format!("has no {p}")));
        }
    }
    let mut left = t;
    while let Some(i) = left.find('{') {
        let end = left[i..].find('}').map_or(left.len(), |j| i + j + 1);
        if !matches!(&left[i..end], "{z}" | "{x}" | "{y}" | "{r}") {
            return Err(fail(&format!(
                "has {}, which is not one of {{z}}, {{x}}, {{y}}, {{r}}",
                &left[i..end]
            )));
        }
        left = &left[end..];
    }
    // Every `{` began a placeholder, so any other `}` is a stray one.
    if t.matches('{').count() != t.matches('}').count() {
        return Err(fail("has an unmatched brace"));
    }
    Ok(t.to_string())
}

impl ServeArgs {
    /// Validate every argument and build the plan.
    pub fn into_plan(self) -> Result<ServePlan> {
        let archive = self.archive()?;
        let ip: std::net::IpAddr = self.bind.parse().map_err(|_| {
            anyhow::anyhow!(
                "--bind '{}' is not an IP address; give e.g. 127.0.0.1 or 0.0.0.0",
                self.bind
            )
        })?;
        check_zooms(self.min_zoom, self.max_zoom)?;
        if self.threads == Some(0) || self.max_renders == Some(0) {
            bail!("--threads and --max-renders need at least 1");
        }
        let (layer, shade) = self.layer.into_layer()?;
        let mut config = ServerConfig::default();
        config.layer = layer;
        config.shade = shade;
        config.min_zoom = self.min_zoom;
        config.max_zoom = self.max_zoom;
        config.span_max_zoom = self.span_max_zoom.unwrap_or(
            if config.layer.shape.glyph == pointillist::aggregate::Glyph::Points {
                10
            } else {
                5
            },
        );
        config.cache_bytes = self.cache_mb.saturating_mul(1 << 20);
        config.pyramid_max_zoom = (self.pyramid_mb > 0).then_some(self.pyramid_max_zoom);
        config.pyramid_bytes = self.pyramid_mb.saturating_mul(1 << 20);
        if let Some(n) = self.max_renders {
            config.max_renders = n;
        }
        if self.max_connections == 0 {
            bail!("--max-connections needs at least 1");
        }
        config.basemap = self.basemap.as_deref().map(check_basemap).transpose()?;
        let limits = pointillist::server::ConnectionLimits::default()
            .with_header_timeout(seconds("header-timeout", self.header_timeout)?)
            .with_idle_timeout(seconds("idle-timeout", self.idle_timeout)?)
            .with_request_timeout(seconds("request-timeout", self.request_timeout)?)
            .with_max_connections(self.max_connections);
        Ok(ServePlan {
            inputs: self.inputs,
            addr: std::net::SocketAddr::new(ip, self.port),
            config,
            threads: self.threads,
            limits,
            archive,
        })
    }

    /// The archive to serve, when the one input is a `.pmtiles` or
    /// `.mbtiles` file, after checking that no flag was given that only a
    /// render uses.
    fn archive(&self) -> Result<Option<PathBuf>> {
        let archives: Vec<&PathBuf> = self
            .inputs
            .iter()
            .filter(|p| ArchiveFormat::of(p).is_some())
            .collect();
        let path = match (archives.as_slice(), self.inputs.len()) {
            ([], _) => return Ok(None),
            ([one], 1) => *one,
            ([one, ..], _) => bail!(
                "'{}' is a tile archive, which serve takes on its own; give it alone, or only Parquet inputs",
                one.display()
            ),
        };
        let flags: Vec<String> = self
            .given
            .iter()
            .filter(|id| !ARCHIVE_SERVE_FLAGS.contains(&id.as_str()))
            .map(|id| format!("--{}", id.replace('_', "-")))
            .collect();
        if !flags.is_empty() {
            bail!(
                "{} {} not apply to an archive: '{}' holds tiles already rendered; drop {}, or serve the Parquet data to choose them",
                flags.join(", "),
                if flags.len() == 1 { "does" } else { "do" },
                path.display(),
                if flags.len() == 1 { "it" } else { "them" },
            );
        }
        Ok(Some(path.clone()))
    }
}

/// A validated render, plus the CLI-only settings.
#[derive(Debug)]
pub struct RenderPlan {
    /// What the library runs.
    pub request: RenderRequest,
    /// Thread pool size.
    pub threads: Option<usize>,
    /// Print stage timings.
    pub timings: bool,
    /// Say which device aggregated.
    pub verbose: bool,
    /// Silence warnings.
    pub quiet: bool,
}

/// Parse `MIN,MAX` into two finite numbers with MIN < MAX.
fn parse_pair(flag: &str, s: &str) -> Result<(f64, f64)> {
    let parts: Vec<&str> = s.split(',').map(str::trim).collect();
    let [a, b] = parts.as_slice() else {
        bail!("--{flag} '{s}' is not MIN,MAX; write it as --{flag}=MIN,MAX");
    };
    let lo: f64 = a.parse().with_context(|| {
        format!("--{flag} '{s}': '{a}' is not a number; write --{flag}=MIN,MAX")
    })?;
    let hi: f64 = b.parse().with_context(|| {
        format!("--{flag} '{s}': '{b}' is not a number; write --{flag}=MIN,MAX")
    })?;
    if !(lo.is_finite() && hi.is_finite()) {
        bail!("--{flag} {s} has a bound that is not finite; give finite MIN,MAX");
    }
    if lo >= hi {
        bail!("--{flag} {s} has MIN >= MAX; give MIN < MAX");
    }
    Ok((lo, hi))
}

fn parse_list(s: &str) -> Vec<String> {
    s.split(',').map(|c| c.trim().to_string()).collect()
}

impl CanvasArgs {
    /// Validate the canvas flags into a library request.
    pub fn into_request(self) -> Result<AggregateRequest> {
        let x_axis: AxisKind = self
            .x_axis
            .parse()
            .map_err(|e| anyhow::anyhow!("--x-axis: {e}"))?;
        let y_axis: AxisKind = self
            .y_axis
            .parse()
            .map_err(|e| anyhow::anyhow!("--y-axis: {e}"))?;
        let x_range = self
            .x_range
            .as_deref()
            .map(|s| parse_pair("x-range", s))
            .transpose()?;
        let y_range = self
            .y_range
            .as_deref()
            .map(|s| parse_pair("y-range", s))
            .transpose()?;
        let mut reduction: ReductionSpec = self
            .agg
            .parse()
            .map_err(|e| anyhow::anyhow!("--agg: {e}"))?;
        if let Some(by) = &self.by {
            if reduction.by.is_some() {
                bail!("--agg {} already splits by category; drop --by {by} or use --agg count --by {by}", self.agg);
            }
            let (column, categorizer) =
                pointillist::source::Categorizer::parse_by(by).map_err(anyhow::Error::msg)?;
            reduction = reduction.by_categorizer(&column, categorizer);
        }
        if self.width == 0 || self.height == 0 {
            bail!(
                "canvas size {}x{} is empty; give --width and --height of at least 1",
                self.width,
                self.height
            );
        }
        if self.threads == Some(0) {
            bail!("--threads 0: give at least 1 thread, or leave it out to use all cores");
        }
        let mut aggregate = self
            .glyph
            .into_request(self.width, self.height, self.x, self.y)?;
        aggregate.x_range = x_range;
        aggregate.y_range = y_range;
        aggregate.x_axis = x_axis;
        aggregate.y_axis = y_axis;
        aggregate.lnglat = self.lnglat;
        if self.lnglat && (x_axis != AxisKind::Linear || y_axis != AxisKind::Linear) {
            bail!("--lnglat projects to Web Mercator metres; drop --x-axis/--y-axis log");
        }
        aggregate.categories = self.categories.as_deref().map(parse_list);
        if aggregate.categories.is_some() && reduction.by.is_none() {
            bail!("--categories needs a categorical aggregation: --agg count_cat:COL or --by COL");
        }
        if self.top_categories.is_some() && aggregate.categories.is_some() {
            bail!("--top-categories chooses the categories: drop --categories, or list the kept ones then (other)");
        }
        aggregate.top_categories = self.top_categories;
        aggregate.reduction = reduction;
        aggregate.memory_budget = self.memory_budget.saturating_mul(1 << 20);
        aggregate.device = self
            .device
            .parse()
            .map_err(|e| anyhow::anyhow!("--device: {e}"))?;

        Ok(aggregate)
    }
}

impl GlyphArgs {
    /// Validate the glyph flags into a request for a `width x height`
    /// canvas drawing them through columns `x` and `y` (lists for lines
    /// and areas).
    pub fn into_request(
        self,
        width: usize,
        height: usize,
        x: String,
        y: String,
    ) -> Result<AggregateRequest> {
        let glyph = match self.glyph.as_str() {
            "points" | "point" => Glyph::Points,
            "line" => Glyph::Line,
            "row-lines" => Glyph::RowLines,
            "ragged-lines" => Glyph::RaggedLines,
            "area" => Glyph::Area,
            "row-areas" => Glyph::RowAreas,
            "ragged-areas" => Glyph::RaggedAreas,
            g => {
                bail!("--glyph {g}: give points, line, row-lines, ragged-lines, area, row-areas or ragged-areas")
            }
        };
        if self.y_stack.is_some()
            && !matches!(glyph, Glyph::Area | Glyph::RowAreas | Glyph::RaggedAreas)
        {
            bail!("--y-stack is the lower line of an area: add --glyph area, row-areas or ragged-areas");
        }
        if (self.x_values.is_some() || self.y_values.is_some())
            && !matches!(glyph, Glyph::RowLines | Glyph::RowAreas)
        {
            bail!("--x-values and --y-values are constants of row-lines and row-areas: add --glyph row-lines");
        }
        let glyph = match (&self.geometry, glyph) {
            (Some(_), Glyph::Line) => Glyph::GeometryLines,
            (Some(g), other) => bail!(
                "--geometry {g} draws lines: use --glyph line (not {})",
                other.name()
            ),
            (None, g) => g,
        };
        let kernel = match self.geometry_kernel.as_str() {
            "spatialpandas" => GeometryKernel::SpatialPandas,
            "geopandas" => GeometryKernel::GeoPandas,
            k => bail!("--geometry-kernel {k}: give spatialpandas or geopandas"),
        };
        let mut aggregate = AggregateRequest::new(width, height)
            .with_glyph(glyph)
            .with_geometry_kernel(kernel);
        let coords = |flag: &str, cols: &str, values: &Option<String>| -> Result<Vec<Coord>> {
            Ok(match values {
                Some(v) => parse_values(flag, v)?
                    .into_iter()
                    .map(Coord::Constant)
                    .collect(),
                None => parse_list(cols).into_iter().map(Coord::Column).collect(),
            })
        };
        match glyph {
            Glyph::RowLines | Glyph::RowAreas => {
                let xs = coords("x-values", &x, &self.x_values)?;
                let ys = coords("y-values", &y, &self.y_values)?;
                if xs.len() != ys.len() || xs.len() < 2 {
                    bail!(
                        "--glyph row-lines: give as many x as y coordinates, at least two of each (found {} and {}), e.g. --x ox,dx --y oy,dy",
                        xs.len(),
                        ys.len()
                    );
                }
                if self.x_values.is_some() && self.y_values.is_some() {
                    bail!("--x-values with --y-values draws the same line for every row: give --x or --y columns");
                }
                if glyph == Glyph::RowAreas {
                    let stacks: Vec<Coord> = match &self.y_stack {
                        Some(s) => parse_list(s).into_iter().map(Coord::Column).collect(),
                        None => Vec::new(),
                    };
                    if !stacks.is_empty() && stacks.len() != xs.len() {
                        bail!(
                            "--glyph row-areas: give one --y-stack column per vertex ({} for {} vertices)",
                            stacks.len(),
                            xs.len()
                        );
                    }
                    aggregate = aggregate.with_row_areas(xs.into_iter().zip(ys), stacks);
                } else {
                    aggregate = aggregate.with_row_line_coords(xs.into_iter().zip(ys));
                }
            }
            Glyph::Line => {
                let (mut xs, mut ys) = (parse_list(&x), parse_list(&y));
                if !broadcast(&mut [&mut xs, &mut ys]) {
                    bail!(
                        "--glyph line: give as many --x as --y columns, or one on a side (--x {} --y {}), e.g. --x t --y a,b",
                        x,
                        y
                    );
                }
                let xs: Vec<&str> = xs.iter().map(String::as_str).collect();
                let ys: Vec<&str> = ys.iter().map(String::as_str).collect();
                aggregate = aggregate.with_lines(&xs, &ys);
            }
            Glyph::RaggedLines => aggregate = aggregate.with_ragged_lines(&x, &y),
            Glyph::GeometryLines => {
                let g = self.geometry.as_deref().unwrap_or_default();
                aggregate = aggregate.with_geometry_lines(g);
            }
            Glyph::RaggedAreas => {
                let stack = self.y_stack.as_deref();
                if stack.is_some_and(|s| s.contains(',')) {
                    bail!("--glyph ragged-areas fills each row to one list column: give one --y-stack column");
                }
                aggregate = aggregate.with_ragged_areas(&x, &y, stack);
            }
            Glyph::Area => {
                let (mut xs, mut ys) = (parse_list(&x), parse_list(&y));
                let mut stacks = self.y_stack.as_deref().map(parse_list).unwrap_or_default();
                let fits = if stacks.is_empty() {
                    broadcast(&mut [&mut xs, &mut ys])
                } else {
                    broadcast(&mut [&mut xs, &mut ys, &mut stacks])
                };
                if !fits {
                    bail!(
                        "--glyph area: give as many --x, --y (and --y-stack) columns, or one on a side (--x {} --y {}), e.g. --x t --y a,b",
                        x,
                        y
                    );
                }
                let xs: Vec<&str> = xs.iter().map(String::as_str).collect();
                let ys: Vec<&str> = ys.iter().map(String::as_str).collect();
                let stacks: Vec<&str> = stacks.iter().map(String::as_str).collect();
                aggregate = aggregate.with_areas(&xs, &ys, &stacks);
            }
            _ => {
                aggregate.x = x;
                aggregate.y = y;
            }
        }
        if !(self.line_width.is_finite() && self.line_width >= 0.0) {
            bail!(
                "--line-width {}: give 0 (plain lines) or a positive width in pixels",
                self.line_width
            );
        }
        let line_width = if self.antialias { 1.0 } else { self.line_width };
        if line_width > 0.0
            && !matches!(
                glyph,
                Glyph::Line | Glyph::RowLines | Glyph::RaggedLines | Glyph::GeometryLines
            )
        {
            bail!("--line-width and --antialias draw lines: add --glyph line, row-lines or ragged-lines");
        }
        if self.no_self_intersect && line_width == 0.0 {
            bail!(
                "--no-self-intersect is for antialiased lines: add --line-width W or --antialias"
            );
        }
        aggregate.line_width = line_width;
        aggregate.self_intersect = !self.no_self_intersect;
        if !(self.point_radius.is_finite() && self.point_radius >= 0.0) {
            bail!(
                "--point-radius {}: give 0 (one pixel per point) or a radius in pixels",
                self.point_radius
            );
        }
        if self.point_radius > 0.0 && glyph != Glyph::Points {
            bail!("--point-radius sizes points: drop it for --glyph {}, or use --line-width for lines", glyph.name());
        }
        aggregate.point_radius = self.point_radius;
        aggregate.point_shape = self
            .point_shape
            .parse()
            .map_err(|e| anyhow::anyhow!("--point-shape: {e}"))?;
        Ok(aggregate)
    }
}

impl ShadeArgs {
    /// Validate the shading flags.
    pub fn into_options(self) -> Result<ShadeOptions> {
        let how: How = self
            .how
            .parse()
            .map_err(|e| anyhow::anyhow!("--how: {e}"))?;
        // One named colour (not a colormap) is Datashader's `cmap='red'`: an
        // alpha ramp. Anything else is a list of colours, like `cmap=[...]`
        // (so `--cmap '#ff0000'` is a one-colour list, painted opaque).
        let shade::CmapArg {
            colors: cmap,
            single_color,
            ..
        } = shade::parse_cmap_arg(&self.cmap).map_err(|e| anyhow::anyhow!("--cmap: {e}"))?;
        let span = self
            .span
            .as_deref()
            .map(|s| parse_pair("span", s))
            .transpose()?;
        if self.alpha > 255 {
            bail!("--alpha {} is out of range; give 0 to 255", self.alpha);
        }
        if !(0.0..=255.0).contains(&self.min_alpha) {
            bail!(
                "--min-alpha {} is out of range; give 0 to 255",
                self.min_alpha
            );
        }
        let color_key = self
            .color_key
            .as_deref()
            .map(|s| match shade::colormap(s.trim()) {
                // A named palette: glasbey (256 distinct colours), Sets1to3,
                // Category10, ... (any colormap name).
                Some(palette) if !s.contains(',') => Ok(palette),
                _ => parse_list(s)
                    .iter()
                    .map(|c| shade::parse_color(c))
                    .collect::<Result<Vec<_>, _>>(),
            })
            .transpose()
            .map_err(|e| anyhow::anyhow!("--color-key: {e}"))?;
        let background = self
            .background
            .as_deref()
            .map(shade::parse_color)
            .transpose()
            .map_err(|e| anyhow::anyhow!("--background: {e}"))?;
        let dynspread = if self.dynspread
            || self.dynspread_threshold.is_some()
            || self.dynspread_max_px.is_some()
        {
            let threshold = self.dynspread_threshold.unwrap_or(0.5);
            if !(0.0..=1.0).contains(&threshold) {
                bail!("--dynspread-threshold {threshold} is out of range; give 0 to 1");
            }
            Some(Dynspread::new(
                threshold,
                self.dynspread_max_px.unwrap_or(3),
            ))
        } else {
            None
        };
        let mut shade_opts = ShadeOptions::default();
        shade_opts.how = how;
        shade_opts.cmap = cmap;
        shade_opts.single_color = single_color;
        shade_opts.span = span;
        shade_opts.alpha = self.alpha as u8;
        shade_opts.min_alpha = self.min_alpha;
        shade_opts.rescale_discrete_levels = self.rescale_discrete_levels;
        shade_opts.spread = self.spread;
        if let Some(b) = self.color_baseline {
            if !b.is_finite() {
                bail!("--color-baseline {b}: give a finite number");
            }
            shade_opts.color_baseline = Some(b);
        }
        if let Some(name) = &self.spread_shape {
            shade_opts.spread_shape = shade::SpreadShape::from_name(name)
                .with_context(|| format!("--spread-shape {name}: give circle or square"))?;
        }
        if let Some(name) = &self.spread_how {
            shade_opts.spread_how = shade::CompositeOp::from_name(name).with_context(|| {
                format!("--spread-how {name}: give over, add, saturate or source")
            })?;
        }
        shade_opts.dynspread = dynspread;
        shade_opts.background = background;
        if color_key.is_some() {
            shade_opts.color_key = color_key;
        }
        Ok(shade_opts)
    }
}

impl RenderArgs {
    /// Validate every argument and build the plan.
    pub fn into_plan(self) -> Result<RenderPlan> {
        if self.output.is_none() && self.save_agg.is_none() {
            bail!("nothing to write: give -o OUT.png and/or --save-agg PATH.npy");
        }
        let threads = self.canvas.threads;
        let aggregate = self.canvas.into_request()?;
        let shade_opts = self.shade.into_options()?;
        Ok(RenderPlan {
            request: RenderRequest {
                inputs: self.inputs,
                aggregate,
                shade: shade_opts,
                png: self.output,
                save_agg: self.save_agg,
                png_options: PngOptions::default(),
            },
            threads,
            timings: self.timings,
            verbose: self.verbose,
            quiet: self.quiet,
        })
    }
}

/// A Parquet codec: `snappy`, `zstd` (level 3), `zstd:LEVEL` (1-22), or
/// `none`/`uncompressed`.
fn parse_compression(text: &str) -> Result<Compression> {
    let expected = "give snappy, zstd, zstd:LEVEL (1-22) or uncompressed";
    Ok(match text.to_ascii_lowercase().as_str() {
        "snappy" => Compression::SNAPPY,
        "none" | "uncompressed" => Compression::UNCOMPRESSED,
        other => {
            let level = match other.strip_prefix("zstd") {
                Some("") => Some(3),
                Some(rest) => rest.strip_prefix(':').and_then(|l| l.parse::<i32>().ok()),
                None => None,
            };
            let level = level
                .and_then(|l| ZstdLevel::try_new(l).ok())
                .with_context(|| format!("unknown compression '{text}'; {expected}"))?;
            Compression::ZSTD(level)
        }
    })
}

#[cfg(feature = "synth")]
impl SynthArgs {
    /// Validate into generator options.
    pub fn into_options(self) -> Result<(PathBuf, SynthOptions)> {
        let compression = match self.compression.as_str() {
            "snappy" => SynthCompression::Snappy,
            "zstd" => SynthCompression::Zstd(3),
            "none" | "uncompressed" => SynthCompression::Uncompressed,
            other => bail!("--compression '{other}' is unknown; use snappy, zstd or none"),
        };
        if self.row_group_rows == 0 {
            bail!("--row-group-rows 0: give at least 1");
        }
        let opts = SynthOptions {
            rows: self.rows,
            seed: self.seed,
            precision: if self.f64 {
                Precision::F64
            } else {
                Precision::F32
            },
            row_group_rows: self.row_group_rows,
            compression,
            ..SynthOptions::default()
        };
        Ok((self.output, opts))
    }
}
