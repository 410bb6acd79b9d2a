//! Synthetic census-like points, written to Parquet deterministically and in
//! bounded memory: the data generator of `pointillist synth`, the benches
//! and the examples, kept out of the `pointillist` library.
//!
//! The generator draws points from a fixed model built from the seed:
//!
//! * **Cities** ([`SynthOptions::cities`] of them): the largest sit on real
//!   metropolitan centres, the rest cluster around those or spread over the
//!   (east-heavy) land. City `k` (0-based rank) gets a share of the urban
//!   points proportional to `1 / (k + 1)` (Zipf's law) and a spread
//!   proportional to `1 / sqrt(k + 1)` (35 km for the largest). Each city is
//!   a mixture of Gaussians sharing one elongated, rotated shape: a core,
//!   four smaller neighbourhoods off-centre and a wide suburb halo.
//! * **Rural background**: [`SynthOptions::rural_fraction`] of the points,
//!   spread over the land, denser in the east, with smooth patchy variation.
//! * **Categories** (`cat`): five values, [`CATEGORIES`]. The mix varies by
//!   region, by city and strongly by neighbourhood, so categorical renders
//!   show structure at every zoom.
//! * **Values** (`val`): log-normal and positive (median about 50,000),
//!   with a median that varies by city part and rural region.
//!
//! Coordinates are Web Mercator metres, projected with Datashader's
//! `lnglat_to_meters` ([`lnglat_to_meters`], the very function pointillist's
//! `--lnglat` uses). A coarse outline of the contiguous US (coasts and Great
//! Lakes included, about 230 vertices) keeps the points on land: city points
//! that fall into water are drawn again. Points lie within or very near
//! [`US_LNGLAT_BOUNDS`].
//!
//! # Randomness and determinism
//!
//! Random bits come from xoshiro256++ ([`rand_xoshiro::Xoshiro256PlusPlus`],
//! seeded through SplitMix64); the component, rural cell and metro choices
//! are Walker alias tables ([`rand_distr::weighted::WeightedAliasIndex`]);
//! normals are [`rand_distr::StandardNormal`] (a ziggurat); `exp`, `exp2`,
//! `sin` and `cos` are [`libm`]'s, the same on every platform.
//!
//! Rows are cut into fixed blocks of [`BLOCK_ROWS`]; block `b` draws from three
//! streams of its own seeded from `(seed, b)`, rows in order. So row `i`
//! depends only on the seed, the city count, the rural fraction and `i`:
//! never on the thread count, the batch size or the row-group size (a batch
//! that starts inside a block replays the block's earlier rows and drops
//! them). Given the same [`SynthOptions`] and crate versions (`Cargo.lock`),
//! [`write_synth`] writes byte-identical files.
//!
//! Two steps still use the platform's math library. The projection does,
//! as NumPy does, so that coordinates match Datashader's bit for bit
//! (`tan` and `ln`; `exp` and `atan` for its inverse); it runs only while
//! the model is built (the outline, the metro centres, the grids). And
//! `rand_distr`'s normal sampler does in its rare slow paths, through
//! `num-traits`, whose `std` feature the Arrow crates turn on: `exp` in the
//! wedge test (a comparison) and `ln` for the tail beyond 3.65 sd (about 1
//! draw in 4,000). A platform whose `tan`, `ln` or `exp` rounds differently
//! in the last bit there can give files that differ in the last bits.
//!
//! # Memory and speed
//!
//! Batches of [`SynthOptions::batch_rows`] rows are generated in parallel on
//! the current rayon pool while the previous batch is being encoded, and are
//! streamed to a Parquet [`ArrowWriter`]; memory is bounded by one encoded
//! row group plus a few batches plus the model (a few MiB), whatever the
//! row count.

use std::f64::consts::{LOG2_E, TAU};
use std::fmt;
use std::fs::File;
use std::io::{self, BufWriter};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use arrow_array::types::Int32Type;
use arrow_array::{
    ArrayRef, DictionaryArray, Float32Array, Float64Array, Int32Array, RecordBatch, StringArray,
};
use arrow_schema::{ArrowError, DataType, Field, Schema, SchemaRef};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::errors::ParquetError;
use parquet::file::metadata::KeyValue;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;
use rand::{Rng, RngExt, SeedableRng};
use rand_distr::weighted::WeightedAliasIndex;
use rand_distr::{Distribution, StandardNormal};
use rand_xoshiro::{SplitMix64, Xoshiro256PlusPlus};
use rayon::prelude::*;

/// Datashader's Web Mercator formulas: the source file of
/// `pointillist::aggregate::mercator`, compiled into this crate as well, so
/// the formula lives in one place while this crate does not depend on
/// `pointillist` (whose binary depends on this crate).
#[allow(dead_code)]
#[path = "../../../src/aggregate/mercator.rs"]
mod mercator;

pub use mercator::lnglat_to_meters;

/// The category labels of the `cat` column, in key order.
pub const CATEGORIES: [&str; 5] = ["asian", "black", "hispanic", "other", "white"];

/// `(lon_min, lon_max, lat_min, lat_max)` of the contiguous US, in degrees.
pub const US_LNGLAT_BOUNDS: (f64, f64, f64, f64) = (-125.0, -66.9, 24.4, 49.4);

/// Rows per RNG block: the unit of parallel work and of seeding.
pub const BLOCK_ROWS: usize = 8192;

/// Version of the model; bump whenever the output for a seed changes.
pub const MODEL_VERSION: u32 = 2;

/// Rows per chunk of [`Model::fill`]: the picks of a chunk are drawn
/// first, so that their table lookups overlap.
const FILL_CHUNK: usize = 64;
/// Tries to draw a city point on land before leaving it in the water.
const REDRAWS: usize = 32;
/// Parts of a city: a core, four neighbourhoods and a suburb halo.
const HOODS: usize = 6;
/// Index of the suburb halo among a city's [`HOODS`].
const SUBURB: usize = HOODS - 1;
/// Spread of the largest city, in metres on the ground.
const SIGMA_TOP_M: f64 = 35_000.0;
/// Smallest city spread, in metres on the ground.
const SIGMA_MIN_M: f64 = 1_200.0;
/// Suburb halo spread relative to the city core.
const SUBURB_SCALE: f64 = 2.8;
/// Log-space standard deviation of `val` around the local median.
const VAL_SIGMA: f64 = 0.55;
/// Land mask resolution (cells of about 3.2 km; the bit mask is 280 KiB).
const MASK_W: usize = 2048;
const MASK_H: usize = 1120;
/// Rural cells are `RURAL_STEP` x `RURAL_STEP` mask cells (about 12.6 km).
const RURAL_STEP: usize = 4;
const RURAL_W: usize = MASK_W / RURAL_STEP;
const RURAL_H: usize = MASK_H / RURAL_STEP;
/// Rural category and value regions are `REGION_STEP` rural cells wide
/// (about 100 km).
const REGION_STEP: usize = 8;
const REGION_W: usize = RURAL_W.div_ceil(REGION_STEP);
const REGION_H: usize = RURAL_H.div_ceil(REGION_STEP);

// ---------------------------------------------------------------------------
// Options, summary, errors
// ---------------------------------------------------------------------------

/// Floating-point type of the `x`, `y` and `val` columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Precision {
    /// `Float32` columns (the default; what Datashader users usually have).
    #[default]
    F32,
    /// `Float64` columns.
    F64,
}

impl fmt::Display for Precision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Precision::F32 => "f32",
            Precision::F64 => "f64",
        })
    }
}

impl FromStr for Precision {
    type Err = SynthError;

    /// Parses `f32`/`float32` or `f64`/`float64`.
    fn from_str(s: &str) -> Result<Self, SynthError> {
        match s.to_ascii_lowercase().as_str() {
            "f32" | "float32" | "float" => Ok(Precision::F32),
            "f64" | "float64" | "double" => Ok(Precision::F64),
            _ => Err(SynthError::InvalidOption {
                option: "precision",
                value: s.to_string(),
                expected: "f32 or f64",
            }),
        }
    }
}

/// Parquet compression codec of the output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SynthCompression {
    /// No compression.
    Uncompressed,
    /// Snappy (the default: fast, what most writers use).
    #[default]
    Snappy,
    /// Zstandard at the given level (1..=22; 3 is a good default).
    Zstd(i32),
}

impl fmt::Display for SynthCompression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SynthCompression::Uncompressed => f.write_str("uncompressed"),
            SynthCompression::Snappy => f.write_str("snappy"),
            SynthCompression::Zstd(level) => write!(f, "zstd:{level}"),
        }
    }
}

impl FromStr for SynthCompression {
    type Err = SynthError;

    /// Parses `snappy`, `zstd` (level 3), `zstd:LEVEL`, or
    /// `none`/`uncompressed`.
    fn from_str(s: &str) -> Result<Self, SynthError> {
        let bad = || SynthError::InvalidOption {
            option: "compression",
            value: s.to_string(),
            expected: "snappy, zstd, zstd:LEVEL (1-22) or uncompressed",
        };
        let lower = s.to_ascii_lowercase();
        match lower.as_str() {
            "snappy" => Ok(SynthCompression::Snappy),
            "zstd" => Ok(SynthCompression::Zstd(3)),
            "none" | "uncompressed" => Ok(SynthCompression::Uncompressed),
            other => match other.strip_prefix("zstd:") {
                Some(level) => {
                    let level: i32 = level.parse().map_err(|_| bad())?;
                    if (1..=22).contains(&level) {
                        Ok(SynthCompression::Zstd(level))
                    } else {
                        Err(bad())
                    }
                }
                None => Err(bad()),
            },
        }
    }
}

impl SynthCompression {
    /// The Parquet codec for this choice.
    pub fn to_parquet(self) -> Result<Compression, SynthError> {
        Ok(match self {
            SynthCompression::Uncompressed => Compression::UNCOMPRESSED,
            SynthCompression::Snappy => Compression::SNAPPY,
            SynthCompression::Zstd(level) => {
                let level = ZstdLevel::try_new(level).map_err(|_| SynthError::InvalidOption {
                    option: "compression",
                    value: self.to_string(),
                    expected: "a zstd level from 1 to 22",
                })?;
                Compression::ZSTD(level)
            }
        })
    }
}

/// What to generate and how to write it.
#[derive(Debug, Clone, PartialEq)]
pub struct SynthOptions {
    /// Number of rows (points) to write; 0 writes a valid empty file.
    pub rows: u64,
    /// Seed of the model and of every row.
    pub seed: u64,
    /// Float type of `x`, `y` and `val`.
    pub precision: Precision,
    /// Rows per Parquet row group (default 1 Mi rows = 1,048,576).
    pub row_group_rows: usize,
    /// Parquet compression (default snappy).
    pub compression: SynthCompression,
    /// Rows per generated Arrow batch (default 64 Ki); also the memory bound.
    pub batch_rows: usize,
    /// Number of city centres (default 2,000; at most 1,000,000).
    pub cities: usize,
    /// Fraction of the points in the rural background, in `[0, 1]`
    /// (default 0.15).
    pub rural_fraction: f64,
}

impl Default for SynthOptions {
    fn default() -> Self {
        SynthOptions {
            rows: 10_000_000,
            seed: 0,
            precision: Precision::F32,
            row_group_rows: 1 << 20,
            compression: SynthCompression::Snappy,
            batch_rows: 1 << 16,
            cities: 2_000,
            rural_fraction: 0.15,
        }
    }
}

impl SynthOptions {
    /// Checks every option, naming the first bad one.
    pub fn validate(&self) -> Result<(), SynthError> {
        let bad = |option, value: String, expected| {
            Err(SynthError::InvalidOption {
                option,
                value,
                expected,
            })
        };
        if self.row_group_rows == 0 {
            return bad("row_group_rows", "0".into(), "at least 1 row per row group");
        }
        if self.batch_rows == 0 || self.batch_rows > 1 << 26 {
            return bad(
                "batch_rows",
                self.batch_rows.to_string(),
                "between 1 and 67,108,864 rows per batch",
            );
        }
        if self.cities == 0 || self.cities > 1_000_000 {
            return bad(
                "cities",
                self.cities.to_string(),
                "between 1 and 1,000,000 cities",
            );
        }
        if !(0.0..=1.0).contains(&self.rural_fraction) {
            return bad(
                "rural_fraction",
                self.rural_fraction.to_string(),
                "a fraction between 0 and 1",
            );
        }
        self.compression.to_parquet()?;
        Ok(())
    }

    /// One-line description stored in the file's key-value metadata.
    fn describe(&self) -> String {
        format!(
            "model={MODEL_VERSION} seed={} rows={} precision={} cities={} rural_fraction={}",
            self.seed, self.rows, self.precision, self.cities, self.rural_fraction
        )
    }
}

/// What [`write_synth`] wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SynthSummary {
    /// Rows written.
    pub rows: u64,
    /// Size of the finished file in bytes.
    pub bytes: u64,
    /// Number of row groups in the file.
    pub row_groups: usize,
}

/// What can go wrong while generating or writing synthetic data.
#[derive(Debug, thiserror::Error)]
pub enum SynthError {
    /// An option out of range.
    #[error("invalid synth option {option} '{value}'; give {expected}")]
    InvalidOption {
        /// The option's name (as in [`SynthOptions`]).
        option: &'static str,
        /// The value given.
        value: String,
        /// What is accepted.
        expected: &'static str,
    },
    /// The temporary output file could not be created.
    #[error("cannot create a temporary file in '{}': {source}; check that the directory exists and is writable", dir.display())]
    CreateTemp {
        /// The destination directory.
        dir: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// Opening or measuring the temporary output file failed.
    #[error("cannot write '{}': {source}; check free disk space and permissions", path.display())]
    Io {
        /// The destination path.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// The Parquet writer failed.
    #[error("cannot write Parquet to '{}': {source}; check free disk space (no partial file is left)", path.display())]
    Parquet {
        /// The destination path.
        path: PathBuf,
        /// The Parquet error.
        #[source]
        source: ParquetError,
    },
    /// The finished temporary file could not be renamed into place.
    #[error("cannot move the finished file to '{}': {source}; check that the destination is writable and not a directory", path.display())]
    Persist {
        /// The destination path.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// An Arrow batch could not be assembled (a bug).
    #[error("cannot assemble a synthetic Arrow batch: {source}; this is a bug in pointillist, please report it")]
    Arrow {
        /// The Arrow error.
        #[source]
        source: ArrowError,
    },
}

// ---------------------------------------------------------------------------
// Random numbers
// ---------------------------------------------------------------------------

/// The random generator of every stream.
type Stream = Xoshiro256PlusPlus;

/// Domain of the model's stream.
const MODEL_DOMAIN: u64 = 0x0DE1_5EED_0000_0002;
/// Domain of the blocks' streams.
const BLOCK_DOMAIN: u64 = 0x5EED_B10C_0000_0001;

/// The key of a family (`domain`) of streams of a seed: SplitMix64's output
/// for `seed ^ domain`.
fn stream_key(seed: u64, domain: u64) -> u64 {
    SplitMix64::seed_from_u64(seed ^ domain).next_u64()
}

/// Stream `index` of the family with key `key`. SplitMix64 first mixes
/// `key + index` into a seed, so neighbouring indices give unrelated
/// streams; [`SeedableRng::seed_from_u64`] then fills xoshiro's state from
/// it with SplitMix64 again.
fn stream(key: u64, index: u64) -> Stream {
    let seed = SplitMix64::seed_from_u64(key.wrapping_add(index)).next_u64();
    Stream::seed_from_u64(seed)
}

/// A standard normal deviate.
#[inline(always)]
fn normal(rng: &mut Stream) -> f64 {
    StandardNormal.sample(rng)
}

/// A uniform in `[0, 1)` (53 random bits).
#[inline(always)]
fn uniform(rng: &mut Stream) -> f64 {
    rng.random::<f64>()
}

/// A Walker alias table over non-negative weights with a positive, finite
/// sum (the model only builds such).
fn alias_table(weights: Vec<f64>) -> WeightedAliasIndex<f64> {
    WeightedAliasIndex::new(weights).expect("model weights are finite, non-negative, not all zero")
}

// ---------------------------------------------------------------------------
// Projection
// ---------------------------------------------------------------------------

/// Longitude and latitude in degrees of Web Mercator metres.
fn lnglat_of(x: f64, y: f64) -> (f64, f64) {
    mercator::meters_to_lnglat(x, y)
}

/// Cosine of an angle in degrees.
fn cos_deg(deg: f64) -> f64 {
    libm::cos(deg.to_radians())
}

/// `(x_min, x_max, y_min, y_max)` in Web Mercator metres of
/// [`US_LNGLAT_BOUNDS`]: a good default extent for rendering the data.
pub fn us_extent_meters() -> (f64, f64, f64, f64) {
    let (lon0, lon1, lat0, lat1) = US_LNGLAT_BOUNDS;
    let (x0, y0) = lnglat_to_meters(lon0, lat0);
    let (x1, y1) = lnglat_to_meters(lon1, lat1);
    (x0, x1, y0, y1)
}

// ---------------------------------------------------------------------------
// Geography
// ---------------------------------------------------------------------------

/// A coarse outline of the contiguous US, `(lon, lat)`, clockwise from Cape
/// Flattery. The Great Lakes, Long Island Sound and Cape Cod Bay are outside.
const US_OUTLINE: &[(f64, f64)] = &[
    (-124.73, 48.38),
    (-123.40, 48.10),
    (-122.75, 49.00),
    (-95.15, 49.00),
    (-95.15, 49.38),
    (-94.83, 49.32),
    (-94.64, 48.72),
    (-93.80, 48.52),
    (-93.08, 48.63),
    (-92.00, 48.35),
    (-91.40, 48.05),
    (-90.80, 48.10),
    (-89.60, 48.00),
    // Lake Superior, south shore
    (-92.10, 46.78),
    (-92.05, 46.70),
    (-91.40, 46.78),
    (-91.10, 46.86),
    (-90.75, 46.95),
    (-90.88, 46.60),
    (-90.40, 46.58),
    (-89.30, 46.87),
    (-88.40, 47.25),
    (-87.85, 47.47),
    (-88.25, 47.10),
    (-88.45, 46.78),
    (-87.40, 46.55),
    (-86.65, 46.42),
    (-85.98, 46.67),
    (-84.96, 46.77),
    (-84.60, 46.45),
    (-84.35, 46.50),
    (-84.10, 46.20),
    (-83.90, 45.98),
    (-84.72, 45.87),
    // Lake Michigan
    (-86.25, 45.95),
    (-87.05, 45.75),
    (-87.60, 45.10),
    (-88.00, 44.52),
    (-86.90, 45.28),
    (-87.50, 44.46),
    (-87.65, 44.10),
    (-87.70, 43.75),
    (-87.90, 43.04),
    (-87.62, 41.88),
    (-87.52, 41.70),
    (-87.30, 41.62),
    (-86.90, 41.72),
    (-86.48, 42.10),
    (-86.27, 42.40),
    (-86.20, 42.78),
    (-86.35, 43.25),
    (-86.45, 43.95),
    (-86.25, 44.50),
    (-85.75, 45.02),
    (-85.27, 45.32),
    (-84.95, 45.40),
    (-84.73, 45.78),
    // Lake Huron
    (-84.47, 45.65),
    (-83.80, 45.42),
    (-83.43, 45.06),
    (-83.33, 44.42),
    (-83.50, 44.25),
    (-83.90, 43.60),
    (-83.30, 43.97),
    (-82.95, 44.07),
    (-82.42, 43.00),
    (-82.50, 42.60),
    (-83.05, 42.33),
    (-83.15, 42.05),
    (-83.45, 41.70),
    // Lake Erie
    (-82.70, 41.45),
    (-81.70, 41.50),
    (-80.50, 41.95),
    (-80.10, 42.15),
    (-79.35, 42.50),
    (-78.90, 42.88),
    (-79.06, 43.26),
    // Lake Ontario and the St. Lawrence
    (-78.00, 43.37),
    (-77.60, 43.25),
    (-77.00, 43.27),
    (-76.50, 43.46),
    (-76.20, 43.55),
    (-76.20, 43.95),
    (-76.33, 44.10),
    (-75.50, 44.70),
    (-74.90, 45.00),
    (-71.50, 45.01),
    // Maine
    (-71.08, 45.30),
    (-70.85, 45.23),
    (-70.30, 45.90),
    (-70.00, 46.60),
    (-69.23, 47.45),
    (-68.30, 47.36),
    (-67.80, 47.07),
    (-67.78, 45.94),
    (-67.43, 45.60),
    (-67.20, 45.16),
    (-66.98, 44.90),
    // Atlantic coast
    (-67.50, 44.50),
    (-68.20, 44.30),
    (-68.80, 44.40),
    (-69.80, 43.80),
    (-70.20, 43.65),
    (-70.60, 43.10),
    (-70.80, 42.70),
    (-70.60, 42.65),
    (-70.95, 42.45),
    (-71.00, 42.30),
    (-70.65, 41.95),
    (-70.50, 41.77),
    (-70.05, 41.76),
    (-70.08, 41.93),
    (-70.22, 42.07),
    (-70.00, 42.05),
    (-69.93, 41.80),
    (-69.95, 41.67),
    (-70.65, 41.53),
    (-71.10, 41.50),
    (-71.40, 41.45),
    (-72.10, 41.30),
    (-72.90, 41.25),
    (-73.65, 40.98),
    (-73.80, 40.80),
    // Long Island
    (-73.40, 40.92),
    (-72.60, 40.98),
    (-72.25, 41.12),
    (-71.86, 41.07),
    (-72.50, 40.82),
    (-73.60, 40.58),
    (-73.95, 40.57),
    (-74.00, 40.45),
    (-74.10, 39.75),
    (-74.95, 38.93),
    (-75.10, 38.78),
    (-75.08, 38.35),
    (-75.35, 37.90),
    (-75.97, 37.12),
    (-75.98, 36.90),
    (-75.75, 36.20),
    (-75.50, 35.25),
    (-76.50, 34.70),
    (-77.90, 33.90),
    (-79.20, 33.20),
    (-80.90, 32.10),
    (-81.40, 30.70),
    (-81.30, 29.90),
    (-80.60, 28.40),
    (-80.05, 26.70),
    (-80.15, 25.75),
    (-80.40, 25.20),
    (-81.10, 25.15),
    // Gulf coast
    (-81.80, 26.10),
    (-82.65, 27.50),
    (-82.75, 28.90),
    (-83.70, 29.90),
    (-84.35, 30.05),
    (-85.35, 29.70),
    (-86.50, 30.40),
    (-88.00, 30.45),
    (-89.60, 30.18),
    (-89.40, 30.05),
    (-89.15, 29.40),
    (-89.20, 29.05),
    (-90.10, 29.10),
    (-91.30, 29.30),
    (-92.30, 29.55),
    (-93.85, 29.70),
    (-94.75, 29.35),
    (-95.35, 28.95),
    (-96.30, 28.40),
    (-97.20, 27.65),
    (-97.30, 26.90),
    (-97.15, 25.95),
    // Rio Grande and the Mexican border
    (-97.50, 25.90),
    (-98.30, 26.10),
    (-99.10, 26.45),
    (-99.50, 27.50),
    (-100.30, 28.25),
    (-100.60, 28.90),
    (-100.90, 29.35),
    (-101.40, 29.77),
    (-102.30, 29.88),
    (-102.70, 29.70),
    (-103.15, 28.97),
    (-103.70, 29.20),
    (-104.40, 29.60),
    (-104.70, 30.00),
    (-105.00, 30.70),
    (-106.00, 31.40),
    (-106.50, 31.78),
    (-108.20, 31.78),
    (-108.20, 31.33),
    (-111.07, 31.33),
    (-114.81, 32.49),
    (-114.72, 32.72),
    (-117.12, 32.54),
    // Pacific coast
    (-117.25, 32.85),
    (-117.40, 33.20),
    (-117.90, 33.60),
    (-118.30, 33.72),
    (-118.50, 34.00),
    (-118.80, 34.02),
    (-119.25, 34.15),
    (-119.70, 34.40),
    (-120.47, 34.45),
    (-120.64, 34.58),
    (-120.62, 35.15),
    (-120.90, 35.45),
    (-121.30, 35.65),
    (-121.90, 36.30),
    (-121.95, 36.58),
    (-121.80, 36.80),
    (-122.00, 36.95),
    (-122.40, 37.20),
    (-122.50, 37.70),
    (-122.95, 38.00),
    (-123.10, 38.30),
    (-123.70, 38.95),
    (-123.80, 39.45),
    (-124.10, 40.00),
    (-124.40, 40.44),
    (-124.15, 40.80),
    (-124.10, 41.50),
    (-124.20, 42.00),
    (-124.55, 42.84),
    (-124.35, 43.40),
    (-124.10, 44.00),
    (-124.05, 44.80),
    (-123.95, 45.60),
    (-123.95, 46.25),
    (-124.05, 46.70),
    (-124.20, 47.30),
    (-124.70, 48.00),
];

/// Large metropolitan centres `(lon, lat, relative size)`, largest first;
/// they take the top Zipf ranks.
const METROS: &[(f64, f64, f64)] = &[
    (-74.00, 40.71, 19.5),  // New York
    (-118.24, 34.05, 13.0), // Los Angeles
    (-87.63, 41.88, 9.5),   // Chicago
    (-96.80, 32.78, 7.6),   // Dallas
    (-95.37, 29.76, 7.1),   // Houston
    (-77.04, 38.90, 6.3),   // Washington
    (-75.16, 39.95, 6.2),   // Philadelphia
    (-80.19, 25.76, 6.1),   // Miami
    (-84.39, 33.75, 6.0),   // Atlanta
    (-71.06, 42.36, 4.9),   // Boston
    (-112.07, 33.45, 4.9),  // Phoenix
    (-122.42, 37.77, 4.7),  // San Francisco
    (-117.40, 33.95, 4.6),  // Riverside
    (-83.05, 42.33, 4.3),   // Detroit
    (-122.33, 47.61, 4.0),  // Seattle
    (-93.27, 44.98, 3.6),   // Minneapolis
    (-117.16, 32.72, 3.3),  // San Diego
    (-82.46, 27.95, 3.2),   // Tampa
    (-104.99, 39.74, 2.9),  // Denver
    (-90.20, 38.63, 2.8),   // St. Louis
    (-76.61, 39.29, 2.8),   // Baltimore
    (-80.84, 35.23, 2.7),   // Charlotte
    (-81.38, 28.54, 2.7),   // Orlando
    (-98.49, 29.42, 2.6),   // San Antonio
    (-122.68, 45.52, 2.5),  // Portland
    (-121.49, 38.58, 2.4),  // Sacramento
    (-79.99, 40.44, 2.4),   // Pittsburgh
    (-97.74, 30.27, 2.3),   // Austin
    (-115.14, 36.17, 2.3),  // Las Vegas
    (-84.51, 39.10, 2.2),   // Cincinnati
    (-94.58, 39.10, 2.2),   // Kansas City
    (-83.00, 39.96, 2.1),   // Columbus
    (-86.16, 39.77, 2.1),   // Indianapolis
    (-81.69, 41.50, 2.1),   // Cleveland
    (-121.89, 37.34, 2.0),  // San Jose
    (-86.78, 36.16, 2.0),   // Nashville
    (-76.00, 36.85, 1.8),   // Virginia Beach
    (-71.41, 41.82, 1.7),   // Providence
    (-81.66, 30.33, 1.6),   // Jacksonville
    (-87.91, 43.04, 1.6),   // Milwaukee
    (-78.64, 35.78, 1.4),   // Raleigh
    (-97.52, 35.47, 1.4),   // Oklahoma City
    (-90.05, 35.15, 1.3),   // Memphis
    (-85.76, 38.25, 1.3),   // Louisville
    (-111.89, 40.76, 1.3),  // Salt Lake City
    (-90.07, 29.95, 1.3),   // New Orleans
    (-78.88, 42.89, 1.1),   // Buffalo
    (-86.80, 33.52, 1.1),   // Birmingham
    (-110.97, 32.22, 1.0),  // Tucson
    (-95.94, 41.26, 0.95),  // Omaha
    (-106.65, 35.08, 0.9),  // Albuquerque
    (-106.49, 31.76, 0.87), // El Paso
    (-116.20, 43.62, 0.75), // Boise
    (-117.43, 47.66, 0.6),  // Spokane
];

/// Smooth bump of width `s` degrees around `(lon0, lat0)`.
fn bump(lon: f64, lat: f64, lon0: f64, lat0: f64, s: f64) -> f64 {
    let d2 = (lon - lon0) * (lon - lon0) + (lat - lat0) * (lat - lat0);
    libm::exp(-d2 / (2.0 * s * s))
}

/// Logistic function.
fn logistic(t: f64) -> f64 {
    1.0 / (1.0 + libm::exp(-t))
}

/// The regional category mix at `(lon, lat)`, in [`CATEGORIES`] order.
fn region_mix(lon: f64, lat: f64) -> [f64; 5] {
    let asian = 0.05
        * (1.0
            + 3.0 * libm::exp(-((lon + 121.8) / 3.0) * ((lon + 121.8) / 3.0))
            + 1.5 * bump(lon, lat, -74.0, 40.7, 2.0));
    let black = 0.12
        * (0.3 + 0.7 * logistic((lon + 100.0) / 3.0))
        * (1.0
            + 2.2 * bump(lon, lat, -86.5, 32.5, 5.0)
            + 1.0 * bump(lon, lat, -77.0, 38.8, 2.5)
            + 0.6 * bump(lon, lat, -83.0, 42.3, 1.5));
    let hispanic = 0.17
        * (1.0
            + 2.5 * bump(lon, lat, -106.0, 31.5, 6.0)
            + 1.5 * bump(lon, lat, -98.5, 27.5, 3.0)
            + 1.2 * bump(lon, lat, -80.3, 25.9, 1.5)
            + 1.2 * bump(lon, lat, -118.0, 34.0, 3.0));
    let other = 0.035
        * (1.0 + 2.5 * bump(lon, lat, -109.0, 35.8, 2.5) + 1.2 * bump(lon, lat, -101.0, 45.5, 3.0));
    let white = 0.6
        * (1.0 + 0.7 * bump(lon, lat, -90.0, 45.0, 6.0) + 0.5 * bump(lon, lat, -82.0, 38.5, 3.0));
    normalize([asian, black, hispanic, other, white])
}

/// Scales non-negative weights to sum to one.
fn normalize<const N: usize>(w: [f64; N]) -> [f64; N] {
    let total: f64 = w.iter().sum();
    let mut out = w;
    for v in &mut out {
        *v /= total;
    }
    out
}

/// Cumulative probabilities of an `N + 1`-way distribution (`p` sums to
/// one; the last, 1, is implied), as 32-bit thresholds.
fn cumulative<const N: usize>(p: &[f64]) -> [u32; N] {
    let mut out = [0; N];
    let mut acc = 0.0;
    for (slot, &q) in out.iter_mut().zip(p) {
        acc += q;
        *slot = (acc * 4294967296.0).round().clamp(0.0, u32::MAX as f64) as u32;
    }
    out
}

/// The outcome of 32 uniform random bits under cumulative thresholds
/// (inversion: a handful of comparisons, no table).
#[inline(always)]
fn pick<const N: usize>(cdf: &[u32; N], u: u32) -> usize {
    cdf.iter().map(|&t| (u >= t) as usize).sum()
}

/// A uniform in `[0, 1)` from 32 random bits.
#[inline(always)]
fn unit(bits: u32) -> f64 {
    bits as f64 * (1.0 / 4294967296.0)
}

/// Perturbs a distribution by independent log-normal factors of log-sd `s`.
fn perturb(p: [f64; 5], s: f64, rng: &mut Stream) -> [f64; 5] {
    let mut out = p;
    for v in &mut out {
        *v *= libm::exp(s * normal(rng));
    }
    normalize(out)
}

/// An axis-aligned grid over the Web Mercator US bounding box.
#[derive(Debug, Clone, Copy)]
struct GridSpec {
    w: usize,
    h: usize,
    x0: f64,
    y0: f64,
    dx: f64,
    dy: f64,
    inv_dx: f64,
    inv_dy: f64,
}

impl GridSpec {
    fn new(w: usize, h: usize) -> Self {
        let (lon0, lon1, lat0, lat1) = US_LNGLAT_BOUNDS;
        let (x0, y0) = lnglat_to_meters(lon0, lat0);
        let (x1, y1) = lnglat_to_meters(lon1, lat1);
        let (dx, dy) = ((x1 - x0) / w as f64, (y1 - y0) / h as f64);
        GridSpec {
            w,
            h,
            x0,
            y0,
            dx,
            dy,
            inv_dx: 1.0 / dx,
            inv_dy: 1.0 / dy,
        }
    }

    /// The cell index of a point, if it is on the grid.
    #[inline(always)]
    fn cell(&self, x: f64, y: f64) -> Option<usize> {
        let fx = (x - self.x0) * self.inv_dx;
        let fy = (y - self.y0) * self.inv_dy;
        if fx >= 0.0 && fy >= 0.0 && fx < self.w as f64 && fy < self.h as f64 {
            Some(fy as usize * self.w + fx as usize)
        } else {
            None
        }
    }

    /// Column and row of a cell index.
    #[inline(always)]
    fn col_row(&self, cell: usize) -> (usize, usize) {
        (cell % self.w, cell / self.w)
    }

    /// Centre of a cell.
    #[inline(always)]
    fn centre(&self, col: usize, row: usize) -> (f64, f64) {
        (
            self.x0 + (col as f64 + 0.5) * self.dx,
            self.y0 + (row as f64 + 0.5) * self.dy,
        )
    }
}

/// Which points are on land: a bit per grid cell (is the cell centre inside
/// [`US_OUTLINE`]?), refined exactly against the outline's edges in the
/// cells the outline crosses, so coasts are straight at any zoom.
#[derive(Debug, Clone)]
struct LandMask {
    grid: GridSpec,
    /// Cell centre inside the outline.
    inside: Vec<u64>,
    /// Cell crossed by the outline (conservatively).
    boundary: Vec<u64>,
    /// The boundary cells, sorted, and the edges crossing each:
    /// `edge_ids[edge_start[k]..edge_start[k + 1]]` for `boundary_cells[k]`.
    /// The boundary cells of grid row `r` are
    /// `boundary_cells[row_start[r]..row_start[r + 1]]`.
    boundary_cells: Vec<u32>,
    row_start: Vec<u32>,
    edge_start: Vec<u32>,
    edge_ids: Vec<u32>,
    /// Outline edges in Web Mercator metres, `[xa, ya, xb, yb]`.
    edges: Vec<[f64; 4]>,
}

/// Reads bit `idx` of a bit set.
#[inline(always)]
fn bit(set: &[u64], idx: usize) -> bool {
    set[idx / 64] >> (idx % 64) & 1 == 1
}

/// Sets bit `idx` of a bit set.
fn set_bit(set: &mut [u64], idx: usize) {
    set[idx / 64] |= 1 << (idx % 64);
}

/// Whether segments `p`-`q` and `a`-`b` cross (touching does not count).
#[inline(always)]
fn segments_cross(p: (f64, f64), q: (f64, f64), e: &[f64; 4]) -> bool {
    let orient = |o: (f64, f64), u: (f64, f64), v: (f64, f64)| {
        (u.0 - o.0) * (v.1 - o.1) - (u.1 - o.1) * (v.0 - o.0)
    };
    let (a, b) = ((e[0], e[1]), (e[2], e[3]));
    orient(p, q, a) * orient(p, q, b) < 0.0 && orient(a, b, p) * orient(a, b, q) < 0.0
}

/// Whether segment `e` meets the box `[x0, x1] x [y0, y1]` (Liang–Barsky).
fn segment_meets_box(e: &[f64; 4], x0: f64, x1: f64, y0: f64, y1: f64) -> bool {
    let (dx, dy) = (e[2] - e[0], e[3] - e[1]);
    let (mut t0, mut t1) = (0.0f64, 1.0f64);
    for (p, q) in [
        (-dx, e[0] - x0),
        (dx, x1 - e[0]),
        (-dy, e[1] - y0),
        (dy, y1 - e[1]),
    ] {
        if p == 0.0 {
            if q < 0.0 {
                return false;
            }
        } else if p < 0.0 {
            t0 = t0.max(q / p);
        } else {
            t1 = t1.min(q / p);
        }
    }
    t0 <= t1
}

impl LandMask {
    fn build(grid: GridSpec) -> Self {
        let verts: Vec<(f64, f64)> = US_OUTLINE
            .iter()
            .map(|&(lon, lat)| lnglat_to_meters(lon, lat))
            .collect();
        let edges: Vec<[f64; 4]> = (0..verts.len())
            .map(|i| {
                let (a, b) = (verts[i], verts[(i + 1) % verts.len()]);
                [a.0, a.1, b.0, b.1]
            })
            .collect();
        let words = (grid.w * grid.h).div_ceil(64);

        // Cell centres inside, by scanlines (even-odd rule).
        let mut inside = vec![0u64; words];
        let mut crossings = Vec::new();
        for row in 0..grid.h {
            let yc = grid.y0 + (row as f64 + 0.5) * grid.dy;
            crossings.clear();
            for e in &edges {
                if (e[1] > yc) != (e[3] > yc) {
                    crossings.push(e[0] + (yc - e[1]) * (e[2] - e[0]) / (e[3] - e[1]));
                }
            }
            crossings.sort_by(f64::total_cmp);
            for pair in crossings.chunks_exact(2) {
                // Cells whose centre lies in [pair[0], pair[1]).
                let first = ((pair[0] - grid.x0) / grid.dx - 0.5).clamp(-1.0, grid.w as f64);
                let last = ((pair[1] - grid.x0) / grid.dx - 0.5).clamp(-1.0, grid.w as f64);
                let (first, last) = (first as i64 + 1, last as i64 + 1);
                for col in first.max(0)..last.min(grid.w as i64) {
                    set_bit(&mut inside, row * grid.w + col as usize);
                }
            }
        }

        // Cells each edge touches: among the 3 x 3 neighbourhoods of samples
        // every half cell along it (which contain them all), those whose box
        // (slightly enlarged) the edge meets.
        let mut pairs: Vec<(u32, u32)> = Vec::new();
        let step = 0.5 * grid.dx.min(grid.dy);
        for (k, e) in edges.iter().enumerate() {
            let length = ((e[2] - e[0]) * (e[2] - e[0]) + (e[3] - e[1]) * (e[3] - e[1])).sqrt();
            let n = (length / step).ceil().max(1.0) as usize;
            for t in 0..=n {
                let f = t as f64 / n as f64;
                let x = e[0] + (e[2] - e[0]) * f;
                let y = e[1] + (e[3] - e[1]) * f;
                let col = ((x - grid.x0) * grid.inv_dx).floor() as i64;
                let row = ((y - grid.y0) * grid.inv_dy).floor() as i64;
                for r in row - 1..=row + 1 {
                    for c in col - 1..=col + 1 {
                        if r < 0 || c < 0 || r as usize >= grid.h || c as usize >= grid.w {
                            continue;
                        }
                        let (cx, cy) = grid.centre(c as usize, r as usize);
                        let (hx, hy) = (0.501 * grid.dx, 0.501 * grid.dy);
                        if segment_meets_box(e, cx - hx, cx + hx, cy - hy, cy + hy) {
                            pairs.push(((r as usize * grid.w + c as usize) as u32, k as u32));
                        }
                    }
                }
            }
        }
        pairs.sort_unstable();
        pairs.dedup();
        let mut boundary = vec![0u64; words];
        let mut boundary_cells = Vec::new();
        let mut edge_start = Vec::new();
        let mut edge_ids = Vec::with_capacity(pairs.len());
        for &(cell, edge) in &pairs {
            if boundary_cells.last() != Some(&cell) {
                set_bit(&mut boundary, cell as usize);
                boundary_cells.push(cell);
                edge_start.push(edge_ids.len() as u32);
            }
            edge_ids.push(edge);
        }
        edge_start.push(edge_ids.len() as u32);
        let row_start = (0..=grid.h)
            .map(|r| boundary_cells.partition_point(|&c| (c as usize) < r * grid.w) as u32)
            .collect();
        LandMask {
            grid,
            inside,
            boundary,
            boundary_cells,
            row_start,
            edge_start,
            edge_ids,
            edges,
        }
    }

    /// Is `(x, y)` on land?
    #[inline(always)]
    fn contains(&self, x: f64, y: f64) -> bool {
        let Some(idx) = self.grid.cell(x, y) else {
            return false;
        };
        let inside = bit(&self.inside, idx);
        if bit(&self.boundary, idx) {
            self.refine(idx, x, y, inside)
        } else {
            inside
        }
    }

    /// The exact answer in a boundary cell: the centre's, flipped by each
    /// edge between the centre and the point.
    fn refine(&self, idx: usize, x: f64, y: f64, centre_inside: bool) -> bool {
        let row = idx / self.grid.w;
        let (lo, hi) = (
            self.row_start[row] as usize,
            self.row_start[row + 1] as usize,
        );
        let Ok(k) = self.boundary_cells[lo..hi].binary_search(&(idx as u32)) else {
            return centre_inside;
        };
        let k = lo + k;
        let (from, to) = (self.edge_start[k] as usize, self.edge_start[k + 1] as usize);
        let col = idx % self.grid.w;
        let centre = self.grid.centre(col, row);
        let mut inside = centre_inside;
        for &e in &self.edge_ids[from..to] {
            if segments_cross(centre, (x, y), &self.edges[e as usize]) {
                inside = !inside;
            }
        }
        inside
    }

    /// Is the box `[x0, x1] x [y0, y1]` surely all land?
    fn all_land(&self, x0: f64, x1: f64, y0: f64, y1: f64) -> bool {
        let g = &self.grid;
        let (Some(a), Some(b)) = (g.cell(x0, y0), g.cell(x1, y1)) else {
            return false;
        };
        let ((c0, r0), (c1, r1)) = (g.col_row(a), g.col_row(b));
        (r0..=r1).all(|r| {
            (c0..=c1).all(|c| {
                let idx = r * g.w + c;
                bit(&self.inside, idx) && !bit(&self.boundary, idx)
            })
        })
    }

    /// Number of land cells (by centre) in a `step` x `step` block.
    fn land_cells(&self, col0: usize, row0: usize, step: usize) -> usize {
        let mut land = 0;
        for r in row0..row0 + step {
            for c in col0..col0 + step {
                land += bit(&self.inside, r * self.grid.w + c) as usize;
            }
        }
        land
    }
}

/// One part of a city: a Gaussian blob with its own category mix.
#[derive(Debug, Clone, Copy)]
struct Hood {
    /// Centre, offset from the city centre, in metres.
    ox: f64,
    oy: f64,
    /// Spread relative to the city's.
    scale: f64,
    /// Cumulative category probabilities.
    cdf: [u32; 4],
    /// Base-2 logarithm of the median of `val`.
    log2_median: f64,
}

/// One city: a mixture of Gaussian [`Hood`]s sharing a shape.
#[derive(Debug, Clone)]
struct City {
    cx: f64,
    cy: f64,
    /// Offset = `(a[0] z1 + a[1] z2, a[2] z1 + a[3] z2)` for standard normals.
    a: [f64; 4],
    /// Cumulative probabilities of the hoods.
    pick: [u32; HOODS - 1],
    /// Whether points may fall off land (else the mask lookup is skipped).
    coastal: bool,
    hoods: [Hood; HOODS],
}

/// The fixed model: cities, rural cells and their mixes.
#[derive(Debug, Clone)]
struct Model {
    mask: LandMask,
    /// Component `i < cities.len()` is a city, `cities.len()` is rural.
    components: WeightedAliasIndex<f64>,
    cities: Vec<City>,
    rural_grid: GridSpec,
    /// Chooses a cell of `rural_grid` (index `row * RURAL_W + col`) by its
    /// weight (0 for cells without land).
    rural: WeightedAliasIndex<f64>,
    region_cdf: Vec<[u32; 4]>,
    /// Base-2 logarithm of the median of `val` per rural region.
    region_log2_median: Vec<f64>,
}

/// What the first pass of [`Model::fill`] chose for a row.
#[derive(Debug, Clone, Copy)]
enum Pick {
    /// A point of the city with this index.
    City(u32),
    /// A point in the rural cell with this index (`row * RURAL_W + col`).
    Rural(u32),
}

/// One generated row, before conversion to the output float type.
#[derive(Debug, Clone, Copy, Default)]
struct Point {
    x: f64,
    y: f64,
    cat: i32,
    val: f64,
}

impl Model {
    fn build(seed: u64, n_cities: usize, rural_fraction: f64) -> Self {
        let mut rng = stream(stream_key(seed, MODEL_DOMAIN), 0);
        let mask = LandMask::build(GridSpec::new(MASK_W, MASK_H));
        let rural_grid = GridSpec::new(RURAL_W, RURAL_H);

        // Low-frequency multiplicative noise over the regions.
        let noise: Vec<f64> = (0..REGION_W * REGION_H)
            .map(|_| libm::exp(0.6 * normal(&mut rng)))
            .collect();

        // Rural cells: weight = land fraction x east-west density x noise.
        let mut rural_weights = vec![0.0; RURAL_W * RURAL_H];
        for row in 0..RURAL_H {
            for col in 0..RURAL_W {
                let land = mask.land_cells(col * RURAL_STEP, row * RURAL_STEP, RURAL_STEP);
                if land == 0 {
                    continue;
                }
                let (x, y) = rural_grid.centre(col, row);
                let (lon, lat) = lnglat_of(x, y);
                let density = (0.08 + logistic((lon + 99.0) / 3.5))
                    * (1.0 + 0.3 * logistic((lat - 36.0) / 4.0))
                    * bilinear(
                        &noise,
                        REGION_W,
                        REGION_H,
                        (col as f64 + 0.5) / REGION_STEP as f64 - 0.5,
                        (row as f64 + 0.5) / REGION_STEP as f64 - 0.5,
                    );
                rural_weights[row * RURAL_W + col] = land as f64 * density;
            }
        }
        let rural = alias_table(rural_weights);

        // Rural category mixes and value medians per region.
        let mut region_cdf = Vec::with_capacity(REGION_W * REGION_H);
        let mut region_log2_median = Vec::with_capacity(REGION_W * REGION_H);
        let half = REGION_STEP as f64 * 0.5;
        for row in 0..REGION_H {
            for col in 0..REGION_W {
                let (lon, lat) = lnglat_of(
                    rural_grid.x0 + ((col * REGION_STEP) as f64 + half) * rural_grid.dx,
                    rural_grid.y0 + ((row * REGION_STEP) as f64 + half) * rural_grid.dy,
                );
                let mix = perturb(region_mix(lon, lat), 0.35, &mut rng);
                region_cdf.push(cumulative(&mix));
                region_log2_median.push((10.4 + 0.2 * normal(&mut rng)) * LOG2_E);
            }
        }

        // Cities.
        let hubs = alias_table(METROS.iter().map(|m| m.2).collect());
        let mut cities = Vec::with_capacity(n_cities);
        let mut weights = Vec::with_capacity(n_cities + 1);
        for rank in 0..n_cities {
            let (lon, lat) = match METROS.get(rank) {
                Some(&(lon, lat, _)) => (lon, lat),
                None => place_city(&mask, &rural_grid, &rural, &hubs, &mut rng),
            };
            let (cx, cy) = lnglat_to_meters(lon, lat);
            let stretch = 1.0 / cos_deg(lat);
            let sigma = (SIGMA_TOP_M / ((rank + 1) as f64).sqrt()).max(SIGMA_MIN_M) * stretch;
            let aspect = libm::exp(0.25 * normal(&mut rng));
            let (s, c) = libm::sincos(TAU * uniform(&mut rng));
            let (sa, sb) = (sigma * aspect, sigma / aspect);
            let a = [c * sa, -s * sb, s * sa, c * sb];
            let base = perturb(region_mix(lon, lat), 0.5, &mut rng);
            let city_mu = 10.8 + 0.25 * normal(&mut rng);
            let mut hood_weights = [0.0; HOODS];
            let mut hoods = [Hood {
                ox: 0.0,
                oy: 0.0,
                scale: 1.0,
                cdf: [0; 4],
                log2_median: 0.0,
            }; HOODS];
            for (h, (hood, weight)) in hoods.iter_mut().zip(hood_weights.iter_mut()).enumerate() {
                let (mix_sd, scale, w) = match h {
                    0 => (0.4, 1.0, 0.35),
                    SUBURB => (0.3, SUBURB_SCALE, 0.2 + 0.25 * uniform(&mut rng)),
                    _ => (
                        1.1,
                        0.3 + 0.25 * uniform(&mut rng),
                        0.08 * libm::exp(0.5 * normal(&mut rng)),
                    ),
                };
                if h != 0 && h != SUBURB {
                    // A neighbourhood centre on land, within the city.
                    for _ in 0..REDRAWS {
                        let (z1, z2) = (normal(&mut rng), normal(&mut rng));
                        let (ox, oy) =
                            (0.9 * (a[0] * z1 + a[1] * z2), 0.9 * (a[2] * z1 + a[3] * z2));
                        if mask.contains(cx + ox, cy + oy) {
                            (hood.ox, hood.oy) = (ox, oy);
                            break;
                        }
                    }
                }
                hood.scale = scale;
                hood.cdf = cumulative(&perturb(base, mix_sd, &mut rng));
                hood.log2_median = (city_mu + 0.3 * normal(&mut rng)) * LOG2_E;
                *weight = w;
            }
            // Normals beyond 8 (norm of the pair) have probability ~1e-14.
            let ax = (a[0] * a[0] + a[1] * a[1]).sqrt();
            let ay = (a[2] * a[2] + a[3] * a[3]).sqrt();
            let rx = hoods
                .iter()
                .map(|h| h.ox.abs() + 8.0 * h.scale * ax)
                .fold(0.0, f64::max);
            let ry = hoods
                .iter()
                .map(|h| h.oy.abs() + 8.0 * h.scale * ay)
                .fold(0.0, f64::max);
            let coastal = !mask.all_land(cx - rx, cx + rx, cy - ry, cy + ry);
            cities.push(City {
                cx,
                cy,
                a,
                pick: cumulative(&normalize(hood_weights)),
                coastal,
                hoods,
            });
            weights.push(1.0 / (rank + 1) as f64);
        }
        let urban: f64 = weights.iter().sum();
        for w in &mut weights {
            *w *= (1.0 - rural_fraction) / urban;
        }
        weights.push(rural_fraction);
        let components = alias_table(weights);

        Model {
            mask,
            components,
            cities,
            rural_grid,
            rural,
            region_cdf,
            region_log2_median,
        }
    }

    /// Draws the rows `first .. first + x.len()` (all within one block) into
    /// the output slices.
    ///
    /// A block has three streams, each read row after row: `components`
    /// chooses each row's city or the rural background, `cells` each rural
    /// row's cell, `shapes` everything else. So the rows can be drawn in
    /// chunks whose choices come first (their table lookups then overlap)
    /// without the chunking changing any value. The rows of a block are
    /// drawn from its start; rows before `first` are drawn and dropped, so
    /// a row's values never depend on where a batch starts.
    fn fill<T: OutFloat>(
        &self,
        key: u64,
        first: u64,
        x: &mut [T],
        y: &mut [T],
        cat: &mut [i32],
        val: &mut [T],
    ) {
        let block = first / BLOCK_ROWS as u64;
        let mut components = stream(key, 3 * block);
        let mut cells = stream(key, 3 * block + 1);
        let mut shapes = stream(key, 3 * block + 2);
        let rural_id = self.cities.len() as u32;
        let mut chosen = [Pick::City(0); FILL_CHUNK];
        let mut rural_rows = [0u8; FILL_CHUNK];
        let mut points = [Point::default(); FILL_CHUNK];
        let mut row = block * BLOCK_ROWS as u64;
        let end = first + x.len() as u64;
        while row < end {
            let n = FILL_CHUNK.min((end - row) as usize);
            // Loops of independent table lookups, whose cache misses
            // overlap: each row's component, then each rural row's cell.
            let mut n_rural = 0;
            for (j, p) in chosen[..n].iter_mut().enumerate() {
                let component = self.components.sample(&mut components) as u32;
                *p = Pick::City(component);
                rural_rows[n_rural] = j as u8;
                n_rural += (component == rural_id) as usize;
            }
            for &j in &rural_rows[..n_rural] {
                chosen[j as usize] = Pick::Rural(self.rural.sample(&mut cells) as u32);
            }
            for (point, &p) in points[..n].iter_mut().zip(&chosen[..n]) {
                *point = self.point(p, &mut shapes);
            }
            // Keep the rows at or after `first`.
            let skip = first.saturating_sub(row) as usize;
            let at = (row + skip as u64 - first) as usize;
            for (k, point) in points[skip.min(n)..n].iter().enumerate() {
                x[at + k] = T::from_f64(point.x);
                y[at + k] = T::from_f64(point.y);
                cat[at + k] = point.cat;
                val[at + k] = T::from_f64(point.val);
            }
            row += n as u64;
        }
    }

    /// One row of city or rural cell `p`, drawing from `rng`.
    #[inline(always)]
    fn point(&self, p: Pick, rng: &mut Stream) -> Point {
        let (x, y, cat, log2_median) = match p {
            Pick::City(i) => {
                let city = &self.cities[i as usize];
                // 32 bits pick the hood, 32 the category.
                let look = rng.next_u64();
                let hood = &city.hoods[pick(&city.pick, look as u32)];
                let (z1, z2) = (normal(rng), normal(rng));
                let ox = hood.ox + hood.scale * (city.a[0] * z1 + city.a[1] * z2);
                let oy = hood.oy + hood.scale * (city.a[2] * z1 + city.a[3] * z2);
                let (mut x, mut y) = (city.cx + ox, city.cy + oy);
                if city.coastal && !self.mask.contains(x, y) {
                    (x, y) = self.redraw_on_land(city, hood, rng, (x, y));
                }
                (x, y, pick(&hood.cdf, (look >> 32) as u32), hood.log2_median)
            }
            Pick::Rural(id) => {
                let (col, cell_row) = rural_cell(id as usize);
                let g = &self.rural_grid;
                let (cx, cy) = g.centre(col, cell_row);
                let place = rng.next_u64();
                let ux = (unit((place >> 32) as u32) - 0.5) * g.dx;
                let uy = (unit(place as u32) - 0.5) * g.dy;
                // In a coastal cell, try the point's mirror images.
                let (x, y) = [(ux, uy), (-ux, -uy), (-ux, uy), (ux, -uy)]
                    .into_iter()
                    .map(|(dx, dy)| (cx + dx, cy + dy))
                    .find(|&(x, y)| self.mask.contains(x, y))
                    .unwrap_or((cx + ux, cy + uy));
                // Dither the region by up to half a region each way: a
                // stochastic bilinear blend of the regions' mixes.
                // 16 bits each way, and 32 for the category.
                let look = rng.next_u64();
                let (jx, jy) = (unit((look as u32) << 16), unit(look as u32 & 0xFFFF_0000));
                let step = REGION_STEP as f64;
                let rx = ((col as f64 + 0.5) / step + jx - 0.5).max(0.0) as usize;
                let ry = ((cell_row as f64 + 0.5) / step + jy - 0.5).max(0.0) as usize;
                let region = ry.min(REGION_H - 1) * REGION_W + rx.min(REGION_W - 1);
                let cat = pick(&self.region_cdf[region], (look >> 32) as u32);
                (x, y, cat, self.region_log2_median[region])
            }
        };
        Point {
            x,
            y,
            cat: cat as i32,
            // Log-normal: `exp(mu + VAL_SIGMA z)`, as a power of 2 (libm's
            // `exp2` is about twice as fast as its `exp`).
            val: libm::exp2(log2_median + (VAL_SIGMA * LOG2_E) * normal(rng)),
        }
    }
}

/// Bilinear interpolation of a `w` x `h` lattice at `(u, v)` in lattice
/// units, clamped at the edges.
fn bilinear(lattice: &[f64], w: usize, h: usize, u: f64, v: f64) -> f64 {
    let u = u.clamp(0.0, (w - 1) as f64);
    let v = v.clamp(0.0, (h - 1) as f64);
    let (i, j) = (
        (u as usize).min(w.saturating_sub(2)),
        (v as usize).min(h.saturating_sub(2)),
    );
    let (i1, j1) = ((i + 1).min(w - 1), (j + 1).min(h - 1));
    let (tu, tv) = (u - i as f64, v - j as f64);
    let at = |c: usize, r: usize| lattice[r * w + c];
    let top = at(i, j) * (1.0 - tu) + at(i1, j) * tu;
    let bottom = at(i, j1) * (1.0 - tu) + at(i1, j1) * tu;
    top * (1.0 - tv) + bottom * tv
}

impl Model {
    /// A point of `hood` that fell into the sea or a lake is drawn again
    /// (rejection sampling: the hood's Gaussian restricted to land), up to
    /// [`REDRAWS`] times; failing that it goes to the hood's centre if that
    /// is on land.
    #[cold]
    #[inline(never)]
    fn redraw_on_land(
        &self,
        city: &City,
        hood: &Hood,
        rng: &mut Stream,
        wet: (f64, f64),
    ) -> (f64, f64) {
        for _ in 0..REDRAWS {
            let (z1, z2) = (normal(rng), normal(rng));
            let x = city.cx + hood.ox + hood.scale * (city.a[0] * z1 + city.a[1] * z2);
            let y = city.cy + hood.oy + hood.scale * (city.a[2] * z1 + city.a[3] * z2);
            if self.mask.contains(x, y) {
                return (x, y);
            }
        }
        let centre = (city.cx + hood.ox, city.cy + hood.oy);
        if self.mask.contains(centre.0, centre.1) {
            centre
        } else {
            wet
        }
    }
}

/// Column and row of a rural cell index.
fn rural_cell(index: usize) -> (usize, usize) {
    (index % RURAL_W, index / RURAL_W)
}

/// Places one non-metro city: near a metro (55%) or anywhere on weighted
/// land (45%), always on land. Returns `(lon, lat)`.
fn place_city(
    mask: &LandMask,
    rural_grid: &GridSpec,
    rural: &WeightedAliasIndex<f64>,
    hubs: &WeightedAliasIndex<f64>,
    rng: &mut Stream,
) -> (f64, f64) {
    for _ in 0..32 {
        let (x, y) = if rng.random_bool(0.55) {
            let (lon, lat, _) = METROS[hubs.sample(rng)];
            let (dlon, dlat) = (normal(rng), normal(rng));
            lnglat_to_meters(lon + 1.8 * dlon, lat + 1.3 * dlat)
        } else {
            let (col, row) = rural_cell(rural.sample(rng));
            (
                rural_grid.x0 + (col as f64 + uniform(rng)) * rural_grid.dx,
                rural_grid.y0 + (row as f64 + uniform(rng)) * rural_grid.dy,
            )
        };
        if mask.contains(x, y) {
            return lnglat_of(x, y);
        }
    }
    // A rural cell holds some land; use its centre whatever the mask says.
    let (col, row) = rural_cell(rural.sample(rng));
    let (x, y) = rural_grid.centre(col, row);
    lnglat_of(x, y)
}

// ---------------------------------------------------------------------------
// Arrow batches
// ---------------------------------------------------------------------------

/// The float types the columns can be written as.
trait OutFloat: Copy + Default + Send + Sync + 'static {
    fn from_f64(v: f64) -> Self;
    fn into_array(v: Vec<Self>) -> ArrayRef;
    /// The spare vectors of this type.
    fn spares(spare: &mut Spare) -> &mut Vec<Vec<Self>>;
}

/// Column vectors of written batches, reused for later batches so that
/// fresh memory need not be faulted in again and again.
#[derive(Debug, Default)]
struct Spare {
    f32: Vec<Vec<f32>>,
    f64: Vec<Vec<f64>>,
    i32: Vec<Vec<i32>>,
}

impl Spare {
    /// At most this many vectors of each type are kept.
    const KEEP: usize = 8;

    /// A vector of `len` default values, reusing a spare one if any.
    fn take<T: Copy + Default>(pool: &mut Vec<Vec<T>>, len: usize) -> Vec<T> {
        let mut v = pool.pop().unwrap_or_default();
        v.clear();
        v.resize(len, T::default());
        v
    }

    /// Takes back the column vectors of a batch nobody else holds.
    fn recycle(&mut self, batch: RecordBatch) {
        let (_, columns, _) = batch.into_parts();
        for column in columns {
            let data = column.to_data();
            drop(column);
            let Some(buffer) = data.buffers().first().cloned() else {
                continue;
            };
            let data_type = data.data_type().clone();
            drop(data);
            match data_type {
                DataType::Float32 if self.f32.len() < Self::KEEP => {
                    if let Ok(v) = buffer.into_vec() {
                        self.f32.push(v);
                    }
                }
                DataType::Float64 if self.f64.len() < Self::KEEP => {
                    if let Ok(v) = buffer.into_vec() {
                        self.f64.push(v);
                    }
                }
                DataType::Dictionary(_, _) if self.i32.len() < Self::KEEP => {
                    if let Ok(v) = buffer.into_vec() {
                        self.i32.push(v);
                    }
                }
                _ => {}
            }
        }
    }
}

impl OutFloat for f32 {
    #[inline(always)]
    fn from_f64(v: f64) -> Self {
        v as f32
    }
    fn into_array(v: Vec<Self>) -> ArrayRef {
        Arc::new(Float32Array::from(v))
    }
    fn spares(spare: &mut Spare) -> &mut Vec<Vec<Self>> {
        &mut spare.f32
    }
}

impl OutFloat for f64 {
    #[inline(always)]
    fn from_f64(v: f64) -> Self {
        v
    }
    fn into_array(v: Vec<Self>) -> ArrayRef {
        Arc::new(Float64Array::from(v))
    }
    fn spares(spare: &mut Spare) -> &mut Vec<Vec<Self>> {
        &mut spare.f64
    }
}

/// The Arrow schema of the generated data: `x`, `y` (float), `cat`
/// (`Dictionary(Int32, Utf8)`), `val` (float); no nulls.
pub fn synth_schema(precision: Precision) -> SchemaRef {
    let float = match precision {
        Precision::F32 => DataType::Float32,
        Precision::F64 => DataType::Float64,
    };
    let cat = DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8));
    Arc::new(Schema::new(vec![
        Field::new("x", float.clone(), false),
        Field::new("y", float.clone(), false),
        Field::new("cat", cat, false),
        Field::new("val", float, false),
    ]))
}

/// A built model plus what is needed to emit batches of it.
#[derive(Debug)]
struct Generator {
    model: Model,
    key: u64,
    precision: Precision,
    schema: SchemaRef,
    dictionary: ArrayRef,
}

impl Generator {
    fn new(opts: &SynthOptions) -> Result<Self, SynthError> {
        opts.validate()?;
        Ok(Generator {
            model: Model::build(opts.seed, opts.cities, opts.rural_fraction),
            key: stream_key(opts.seed, BLOCK_DOMAIN),
            precision: opts.precision,
            schema: synth_schema(opts.precision),
            dictionary: Arc::new(StringArray::from(CATEGORIES.to_vec())),
        })
    }

    /// Rows `first .. first + len`, generated in parallel on the current
    /// rayon pool, one task per (part of a) block.
    fn batch(&self, first: u64, len: usize, spare: &mut Spare) -> Result<RecordBatch, SynthError> {
        match self.precision {
            Precision::F32 => self.batch_of::<f32>(first, len, spare),
            Precision::F64 => self.batch_of::<f64>(first, len, spare),
        }
    }

    fn batch_of<T: OutFloat>(
        &self,
        first: u64,
        len: usize,
        spare: &mut Spare,
    ) -> Result<RecordBatch, SynthError> {
        let mut x = Spare::take(T::spares(spare), len);
        let mut y = Spare::take(T::spares(spare), len);
        let mut cat = Spare::take(&mut spare.i32, len);
        let mut val = Spare::take(T::spares(spare), len);
        // Cut at block boundaries so each piece starts one block stream.
        let mut pieces = Vec::with_capacity(len / BLOCK_ROWS + 2);
        {
            let (mut xs, mut ys, mut cs, mut vs) =
                (&mut x[..], &mut y[..], &mut cat[..], &mut val[..]);
            let mut row = first;
            while !xs.is_empty() {
                let to_boundary = BLOCK_ROWS - (row % BLOCK_ROWS as u64) as usize;
                let n = to_boundary.min(xs.len());
                let (xa, xb) = xs.split_at_mut(n);
                let (ya, yb) = ys.split_at_mut(n);
                let (ca, cb) = cs.split_at_mut(n);
                let (va, vb) = vs.split_at_mut(n);
                pieces.push((row, xa, ya, ca, va));
                (xs, ys, cs, vs) = (xb, yb, cb, vb);
                row += n as u64;
            }
        }
        pieces
            .into_par_iter()
            .for_each(|(row, xa, ya, ca, va)| self.model.fill(self.key, row, xa, ya, ca, va));
        let keys = Int32Array::from(cat);
        let cat = DictionaryArray::<Int32Type>::try_new(keys, Arc::clone(&self.dictionary))
            .map_err(|source| SynthError::Arrow { source })?;
        RecordBatch::try_new(
            Arc::clone(&self.schema),
            vec![
                T::into_array(x),
                T::into_array(y),
                Arc::new(cat),
                T::into_array(val),
            ],
        )
        .map_err(|source| SynthError::Arrow { source })
    }
}

/// An iterator over the generated rows as Arrow batches of at most
/// [`SynthOptions::batch_rows`] rows; see [`synth_batches`].
#[derive(Debug)]
pub struct SynthBatches {
    generator: Generator,
    next_row: u64,
    rows: u64,
    batch_rows: usize,
}

impl SynthBatches {
    /// The schema of every batch.
    pub fn schema(&self) -> SchemaRef {
        Arc::clone(&self.generator.schema)
    }
}

impl Iterator for SynthBatches {
    type Item = Result<RecordBatch, SynthError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.next_row >= self.rows {
            return None;
        }
        let len = (self.rows - self.next_row).min(self.batch_rows as u64) as usize;
        let first = self.next_row;
        self.next_row += len as u64;
        Some(self.generator.batch(first, len, &mut Spare::default()))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = (self.rows - self.next_row).div_ceil(self.batch_rows as u64);
        let left = usize::try_from(left).unwrap_or(usize::MAX);
        (left, Some(left))
    }
}

/// The generated rows as Arrow batches, without writing anything: builds the
/// model (a few tens of milliseconds) and then generates each batch on
/// demand, in parallel on the current rayon pool. The rows are the same as
/// those [`write_synth`] writes.
pub fn synth_batches(opts: &SynthOptions) -> Result<SynthBatches, SynthError> {
    Ok(SynthBatches {
        generator: Generator::new(opts)?,
        next_row: 0,
        rows: opts.rows,
        batch_rows: opts.batch_rows,
    })
}

// ---------------------------------------------------------------------------
// Writing
// ---------------------------------------------------------------------------

/// The Parquet writer properties used by [`write_synth`].
fn writer_properties(opts: &SynthOptions) -> Result<WriterProperties, SynthError> {
    Ok(WriterProperties::builder()
        .set_compression(opts.compression.to_parquet()?)
        .set_max_row_group_row_count(Some(opts.row_group_rows))
        // Random floats do not dictionary-encode; only `cat` should.
        .set_dictionary_enabled(false)
        .set_column_dictionary_enabled(ColumnPath::from("cat"), true)
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_key_value_metadata(Some(vec![KeyValue::new(
            "pointillist.synth".to_string(),
            opts.describe(),
        )]))
        .build())
}

/// Generates `opts.rows` synthetic points and writes them to a Parquet file
/// at `path`.
///
/// The data goes to a hidden temporary file (`.pointillist-synth-*.tmp`) in
/// the destination directory, renamed over `path` (replacing any file there)
/// only once complete, so `path` never holds a partial file; on error the
/// temporary file is removed. The file is not fsynced. Memory stays bounded
/// whatever the row count; work runs on the current rayon pool (use
/// `ThreadPool::install` to choose the thread count; the output does not
/// depend on it).
///
/// The file has row groups of [`SynthOptions::row_group_rows`] rows, the
/// chosen compression, page-level statistics (min/max) and column indexes
/// for every column, dictionary encoding for `cat` only (plain encoding for
/// the floats), and a `pointillist.synth` key-value entry recording the
/// model version, seed and options.
pub fn write_synth(path: &Path, opts: &SynthOptions) -> Result<SynthSummary, SynthError> {
    let generator = Generator::new(opts)?;
    let props = writer_properties(opts)?;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut builder = tempfile::Builder::new();
    builder.prefix(".pointillist-synth-").suffix(".tmp");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // Like File::create: 0666 minus the umask, not tempfile's 0600.
        builder.permissions(std::fs::Permissions::from_mode(0o666));
    }
    let tmp = builder
        .tempfile_in(&dir)
        .map_err(|source| SynthError::CreateTemp {
            dir: dir.clone(),
            source,
        })?;
    let io_err = |source| SynthError::Io {
        path: path.to_path_buf(),
        source,
    };
    let pq_err = |source| SynthError::Parquet {
        path: path.to_path_buf(),
        source,
    };
    let file: File = tmp.as_file().try_clone().map_err(io_err)?;
    let sink = BufWriter::with_capacity(1 << 20, file);
    let mut writer =
        ArrowWriter::try_new(sink, Arc::clone(&generator.schema), Some(props)).map_err(pq_err)?;

    // Pipeline: encode batch i on this thread while the pool generates i + 1.
    let batch_rows = opts.batch_rows as u64;
    let range = |first: u64| {
        (first < opts.rows).then(|| (first, (opts.rows - first).min(batch_rows) as usize))
    };
    let mut spare = Spare::default();
    let mut pending = range(0)
        .map(|(f, n)| generator.batch(f, n, &mut spare))
        .transpose()?;
    let mut next_first = batch_rows.min(opts.rows);
    while let Some(current) = pending.take() {
        let upcoming = range(next_first);
        let (written, generated) = rayon::join(
            || writer.write(&current),
            || {
                upcoming
                    .map(|(f, n)| generator.batch(f, n, &mut spare))
                    .transpose()
            },
        );
        written.map_err(pq_err)?;
        spare.recycle(current);
        pending = generated?;
        next_first = next_first.saturating_add(batch_rows).min(opts.rows);
    }
    let metadata = writer.finish().map_err(pq_err)?;
    drop(writer);
    let bytes = tmp.as_file().metadata().map_err(io_err)?.len();
    tmp.persist(path).map_err(|e| SynthError::Persist {
        path: path.to_path_buf(),
        source: e.error,
    })?;
    Ok(SynthSummary {
        rows: opts.rows,
        bytes,
        row_groups: metadata.num_row_groups(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::Array;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    use std::error::Error;

    type TestResult = Result<(), Box<dyn Error>>;

    fn small(rows: u64) -> SynthOptions {
        SynthOptions {
            rows,
            seed: 42,
            row_group_rows: 20_000,
            batch_rows: 7_000,
            cities: 300,
            ..SynthOptions::default()
        }
    }

    fn pool(threads: usize) -> Result<rayon::ThreadPool, Box<dyn Error>> {
        Ok(rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()?)
    }

    #[test]
    fn spare_vectors_are_recycled() -> TestResult {
        let generator = Generator::new(&small(10_000))?;
        let mut spare = Spare::default();
        let batch = generator.batch(0, 10_000, &mut spare)?;
        let again = generator.batch(0, 10_000, &mut Spare::default())?;
        spare.recycle(batch);
        assert_eq!((spare.f32.len(), spare.i32.len()), (3, 1));
        let reused = generator.batch(0, 10_000, &mut spare)?;
        assert_eq!((spare.f32.len(), spare.i32.len()), (0, 0));
        assert_eq!(reused, again);
        Ok(())
    }

    /// Even-odd ray casting against the whole outline.
    fn brute_force_inside(x: f64, y: f64) -> bool {
        let verts: Vec<(f64, f64)> = US_OUTLINE
            .iter()
            .map(|&(lo, la)| lnglat_to_meters(lo, la))
            .collect();
        let mut inside = false;
        for i in 0..verts.len() {
            let ((xa, ya), (xb, yb)) = (verts[i], verts[(i + 1) % verts.len()]);
            if (ya > y) != (yb > y) && x < xa + (y - ya) * (xb - xa) / (yb - ya) {
                inside = !inside;
            }
        }
        inside
    }

    #[test]
    fn land_mask_matches_the_outline() {
        let mask = LandMask::build(GridSpec::new(MASK_W, MASK_H));
        let g = mask.grid;
        let mut rng = Stream::seed_from_u64(3);
        let mut land = 0;
        for _ in 0..20_000 {
            let x = g.x0 + rng.random::<f64>() * g.dx * g.w as f64;
            let y = g.y0 + rng.random::<f64>() * g.dy * g.h as f64;
            let want = brute_force_inside(x, y);
            assert_eq!(mask.contains(x, y), want, "({x}, {y})");
            land += want as usize;
        }
        assert!((9_000..16_000).contains(&land), "{land}");
        // Points within a few cells of the outline, where refinement works.
        for _ in 0..50_000 {
            let e = mask.edges[(rng.next_u64() % mask.edges.len() as u64) as usize];
            let t = rng.random::<f64>();
            let x = e[0] + (e[2] - e[0]) * t + (rng.random::<f64>() - 0.5) * 4.0 * g.dx;
            let y = e[1] + (e[3] - e[1]) * t + (rng.random::<f64>() - 0.5) * 4.0 * g.dy;
            assert_eq!(mask.contains(x, y), brute_force_inside(x, y), "({x}, {y})");
        }
        let at = |lon, lat| {
            let (x, y) = lnglat_to_meters(lon, lat);
            mask.contains(x, y)
        };
        assert!(at(-98.0, 38.5) && at(-74.0, 40.75) && at(-122.3, 47.6));
        assert!(!at(-87.0, 43.5) && !at(-70.0, 38.0) && !at(-90.0, 27.0) && !at(-100.0, 50.0));
    }

    #[test]
    fn points_are_on_land() -> TestResult {
        let generator = Generator::new(&small(0))?;
        let batch = generator.batch(0, 50_000, &mut Spare::default())?;
        let x = batch
            .column(0)
            .as_any()
            .downcast_ref::<Float32Array>()
            .ok_or("x")?;
        let y = batch
            .column(1)
            .as_any()
            .downcast_ref::<Float32Array>()
            .ok_or("y")?;
        let wet = (0..batch.num_rows())
            .filter(|&i| !brute_force_inside(x.value(i) as f64, y.value(i) as f64))
            .count();
        // Only rounding to f32 may push a point just off the coast.
        assert!(wet < 25, "{wet} of 50000 points off land");
        Ok(())
    }

    #[test]
    fn same_seed_same_bytes_any_thread_count() -> TestResult {
        let dir = tempfile::tempdir()?;
        let opts = small(50_000);
        let a = dir.path().join("a.parquet");
        let b = dir.path().join("b.parquet");
        let c = dir.path().join("c.parquet");
        pool(1)?.install(|| write_synth(&a, &opts))?;
        pool(4)?.install(|| write_synth(&b, &opts))?;
        pool(3)?.install(|| {
            write_synth(
                &c,
                &SynthOptions {
                    seed: 43,
                    ..opts.clone()
                },
            )
        })?;
        let (a, b, c) = (std::fs::read(a)?, std::fs::read(b)?, std::fs::read(c)?);
        assert!(a == b, "1 thread and 4 threads wrote different files");
        assert!(a != c, "different seeds wrote the same file");
        Ok(())
    }

    /// A 64-bit mix for hashing values (SplitMix64's output function).
    fn mix(v: u64) -> u64 {
        SplitMix64::seed_from_u64(v).next_u64()
    }

    /// Pins the generated values: if this fails, the model changed, so bump
    /// [`MODEL_VERSION`] and update the hash here.
    #[test]
    fn values_are_pinned() -> TestResult {
        let opts = SynthOptions {
            precision: Precision::F64,
            ..small(0)
        };
        let generator = Generator::new(&opts)?;
        let batch = generator.batch(1_000_000, 20_000, &mut Spare::default())?;
        let mut hash = 0u64;
        for i in [0, 1, 3] {
            let col = batch
                .column(i)
                .as_any()
                .downcast_ref::<Float64Array>()
                .ok_or("f64")?;
            for v in col.values() {
                hash = mix(hash ^ v.to_bits());
            }
        }
        let cat = batch
            .column(2)
            .as_any()
            .downcast_ref::<DictionaryArray<Int32Type>>()
            .ok_or("cat")?;
        for &k in cat.keys().values() {
            hash = mix(hash ^ k as u64);
        }
        assert_eq!(hash, 9689068275830946878, "model version {MODEL_VERSION}");
        Ok(())
    }

    #[test]
    fn rows_do_not_depend_on_batching() -> TestResult {
        let one: Vec<RecordBatch> = synth_batches(&SynthOptions {
            batch_rows: 50_000,
            ..small(20_000)
        })?
        .collect::<Result<_, _>>()?;
        let many: Vec<RecordBatch> = synth_batches(&SynthOptions {
            batch_rows: 3_333,
            ..small(20_000)
        })?
        .collect::<Result<_, _>>()?;
        let one = column_bits(&one)?;
        let many = column_bits(&many)?;
        assert_eq!(one, many);
        Ok(())
    }

    /// Concatenates batches column by column (keys for `cat`).
    fn column_bits(batches: &[RecordBatch]) -> Result<Vec<Vec<u64>>, Box<dyn Error>> {
        let mut cols = vec![Vec::new(); 4];
        for b in batches {
            for (i, col) in cols.iter_mut().enumerate() {
                let a = b.column(i);
                if let Some(f) = a.as_any().downcast_ref::<Float32Array>() {
                    col.extend(f.values().iter().map(|v| v.to_bits() as u64));
                } else if let Some(d) = a.as_any().downcast_ref::<DictionaryArray<Int32Type>>() {
                    col.extend(d.keys().values().iter().map(|&k| k as u64));
                } else {
                    return Err("unexpected column type".into());
                }
            }
        }
        Ok(cols)
    }

    #[test]
    fn file_has_schema_rows_and_plausible_values() -> TestResult {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("s.parquet");
        let opts = small(45_000);
        let summary = write_synth(&path, &opts)?;
        assert_eq!(summary.rows, 45_000);
        assert_eq!(summary.row_groups, 3);
        assert_eq!(summary.bytes, std::fs::metadata(&path)?.len());

        let builder = ParquetRecordBatchReaderBuilder::try_new(File::open(&path)?)?;
        let meta = builder.metadata().clone();
        assert_eq!(
            builder.schema().fields(),
            synth_schema(Precision::F32).fields()
        );
        assert_eq!(meta.file_metadata().num_rows(), 45_000);
        for rg in meta.row_groups() {
            for col in rg.columns() {
                let stats = col.statistics().ok_or("no statistics")?;
                assert!(stats.min_bytes_opt().is_some() && stats.max_bytes_opt().is_some());
            }
            let cat = rg.column(2);
            assert!(
                cat.dictionary_page_offset().is_some(),
                "cat is not dictionary-encoded"
            );
        }

        let (x0, x1, y0, y1) = us_extent_meters();
        let (mx, my) = (0.05 * (x1 - x0), 0.05 * (y1 - y0));
        let mut counts = [0usize; 5];
        let mut rows = 0;
        let mut inside = 0;
        let mut vals = Vec::new();
        for batch in builder.build()? {
            let batch = batch?;
            let x = batch
                .column(0)
                .as_any()
                .downcast_ref::<Float32Array>()
                .ok_or("x")?;
            let y = batch
                .column(1)
                .as_any()
                .downcast_ref::<Float32Array>()
                .ok_or("y")?;
            let cat = batch
                .column(2)
                .as_any()
                .downcast_ref::<DictionaryArray<Int32Type>>()
                .ok_or("cat")?;
            let v = batch
                .column(3)
                .as_any()
                .downcast_ref::<Float32Array>()
                .ok_or("val")?;
            let labels = cat
                .values()
                .as_any()
                .downcast_ref::<StringArray>()
                .ok_or("labels")?;
            for i in 0..batch.num_rows() {
                let (px, py) = (x.value(i) as f64, y.value(i) as f64);
                assert!(
                    px > x0 - mx && px < x1 + mx && py > y0 - my && py < y1 + my,
                    "({px}, {py})"
                );
                inside += (px >= x0 && px <= x1 && py >= y0 && py <= y1) as usize;
                let label = labels.value(cat.keys().value(i) as usize);
                let k = CATEGORIES
                    .iter()
                    .position(|&c| c == label)
                    .ok_or("unknown label")?;
                counts[k] += 1;
                assert!(v.value(i) > 0.0 && v.value(i).is_finite());
                vals.push(v.value(i));
            }
            rows += batch.num_rows();
        }
        assert_eq!(rows, 45_000);
        assert!(
            inside as f64 > 0.999 * rows as f64,
            "{inside} of {rows} inside the box"
        );
        assert!(
            counts.iter().all(|&c| c > 100),
            "every category is used: {counts:?}"
        );
        // Log-normal values with a median about 50,000.
        vals.sort_by(f32::total_cmp);
        let median = vals[vals.len() / 2];
        assert!((35_000.0..70_000.0).contains(&median), "median {median}");
        Ok(())
    }

    #[test]
    fn batches_are_bounded_and_cover_all_rows() -> TestResult {
        let opts = SynthOptions {
            batch_rows: 4_096,
            ..small(30_001)
        };
        let mut total = 0;
        let mut it = synth_batches(&opts)?;
        assert_eq!(it.size_hint(), (8, Some(8)));
        for batch in &mut it {
            let batch = batch?;
            assert!(batch.num_rows() <= 4_096 && batch.num_rows() > 0);
            total += batch.num_rows();
        }
        assert_eq!(total, 30_001);
        Ok(())
    }

    #[test]
    fn f64_precision_and_zstd() -> TestResult {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("d.parquet");
        let opts = SynthOptions {
            precision: Precision::F64,
            compression: SynthCompression::Zstd(3),
            ..small(5_000)
        };
        write_synth(&path, &opts)?;
        let builder = ParquetRecordBatchReaderBuilder::try_new(File::open(&path)?)?;
        assert_eq!(
            builder.schema().fields(),
            synth_schema(Precision::F64).fields()
        );
        let rows: usize = builder
            .build()?
            .map(|b| b.map(|b| b.num_rows()))
            .sum::<Result<_, _>>()?;
        assert_eq!(rows, 5_000);
        Ok(())
    }

    #[test]
    fn empty_file_and_bad_options() -> TestResult {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("e.parquet");
        let summary = write_synth(&path, &small(0))?;
        assert_eq!((summary.rows, summary.row_groups), (0, 0));
        let bad = SynthOptions {
            row_group_rows: 0,
            ..small(10)
        };
        let err = write_synth(&dir.path().join("f.parquet"), &bad)
            .err()
            .ok_or("no error")?;
        assert!(err.to_string().contains("row_group_rows"));
        let missing = dir.path().join("no/such/dir/g.parquet");
        let err = write_synth(&missing, &small(10)).err().ok_or("no error")?;
        assert!(matches!(err, SynthError::CreateTemp { .. }), "{err}");
        // No temporary files are left behind.
        let left: Vec<_> = std::fs::read_dir(dir.path())?.collect();
        assert_eq!(left.len(), 1);
        assert!("zstd:7".parse::<SynthCompression>()? == SynthCompression::Zstd(7));
        assert!("zstd:0".parse::<SynthCompression>().is_err());
        assert!("f64".parse::<Precision>()? == Precision::F64);
        Ok(())
    }
}
