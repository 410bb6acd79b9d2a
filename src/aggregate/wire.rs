//! Partial aggregates that travel: a [`Partial`] together with the plan it
//! belongs to ([`AggregateSpec`]), the share of the input it covers
//! ([`Shard`]s), and a versioned Arrow IPC form, so that threads,
//! processes, batch-scheduler array jobs and cluster workers all combine
//! the same way: accumulate -> merge -> finish.
//!
//! # The serialised form (format version 1)
//!
//! An Arrow IPC *file* (zstd-compressed buffers) holding one column per
//! plane of the reduction's state ([`super::spec_plane_names`]): `count` (`UInt32`)
//! for `count`; `any` (`Boolean`); `sum`, `min` or `max` (`Float64`, NaN
//! where empty); `sum` and `count` (`Float64`) for `mean`; `sum`, `count`
//! and `m2` (`Float64`) for `var` and `std`; `value` (`Float64`) and `row`
//! (`UInt64`, the value's row position in the whole input, null where
//! empty) for `first` and `last`. Row `i` of the file is cell `i` of the
//! canvas in Datashader's C order `(height, width[, category])`, row 0 of
//! the canvas being the lowest y; the cells may be split over several
//! record batches. Selections (`first_n` ... `max_n`, `where`) hold `n`
//! rows per cell, slot after slot: `value` (`Float64`, the selector's),
//! `row` (`UInt64`, null where empty) and `lookup` (`Float64`, the lookup
//! column's value); the spec's `reduction` is then written in `--agg`'s
//! grammar (`where(max_n:v:3,w)`), and `by` in `--by`'s (a computed
//! categorizer such as `category_modulo(i,3,0)`).
//!
//! The schema metadata holds:
//! - `pointillist.partial.version`: `"1"`;
//! - `pointillist.partial.spec`: JSON of the plan: `x`, `y`, `width`,
//!   `height`, `x_range`, `y_range` (`[lo, hi]`, exact binary64 values),
//!   `x_axis`, `y_axis` (`"linear"` / `"log"`), `x_upper_open`,
//!   `y_upper_open`, `lnglat`, `reduction` (`"mean:val"`), `by` (category
//!   column or null) and `categories` (labels in plane order, or null);
//! - `pointillist.partial.coverage`: JSON `{"rows": R, "shards": [i, ...],
//!   "shard_count": N, "input_rows": T, "input_row_groups": G}`: rows read,
//!   the shards merged into this partial (absent for a partial that is not
//!   a shard), and the size of the whole input the shards split.
//!
//! A reader refuses other versions. Partials merge only when their specs
//! are equal (ranges compared bit for bit) and, for shards, when they split
//! the same input into the same number of shards without overlapping.

use std::collections::BTreeSet;
use std::fmt;
use std::io::{Read, Seek, Write};
use std::str::FromStr;
use std::sync::Arc;

use arrow_array::{ArrayRef, RecordBatch};
use arrow_ipc::reader::FileReader;
use arrow_ipc::writer::{FileWriter, IpcWriteOptions};
use arrow_ipc::CompressionType;
use arrow_schema::{DataType, Field, Schema};
use serde_json::{json, Value};

use super::canvas::Aggregate;
use super::error::AggError;
use super::geometry::AxisKind;
use super::partial::{spec_plane_names, Partial};
use super::reduction::{AggDtype, ReductionKind, ReductionSpec};
use super::splat::PointShape;
use crate::source::Categorizer;

/// The version of the serialised form this build writes and reads.
pub const PARTIAL_FORMAT_VERSION: u32 = 1;

const KEY_VERSION: &str = "pointillist.partial.version";
const KEY_SPEC: &str = "pointillist.partial.spec";
const KEY_COVERAGE: &str = "pointillist.partial.coverage";

/// Cells per record batch in the IPC form (bounds the extra memory of
/// writing and reading).
const CELLS_PER_BATCH: usize = 1 << 20;

/// Everything that must agree for two partial aggregates to merge: the
/// canvas, its ranges and axes, the columns, the reduction and the
/// categories.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct AggregateSpec {
    /// Column of x coordinates.
    pub x: String,
    /// Column of y coordinates.
    pub y: String,
    /// Canvas width in pixels.
    pub width: usize,
    /// Canvas height in pixels.
    pub height: usize,
    /// The x range the canvas covers (after auto-ranging).
    pub x_range: (f64, f64),
    /// The y range the canvas covers.
    pub y_range: (f64, f64),
    /// x axis mapping.
    pub x_axis: AxisKind,
    /// y axis mapping.
    pub y_axis: AxisKind,
    /// Whether points on the upper x edge are dropped (tiles).
    pub x_upper_open: bool,
    /// Whether points on the upper y edge are dropped.
    pub y_upper_open: bool,
    /// Whether x/y were longitude/latitude projected to Web Mercator.
    pub lnglat: bool,
    /// The reduction, with its value and category columns.
    pub reduction: ReductionSpec,
    /// Category labels in plane order, for categorical reductions.
    pub categories: Option<Vec<String>>,
    /// What each row draws ([`super::Glyph::name`]): partials of points
    /// and of lines never merge.
    pub glyph: String,
    /// Antialiased lines: their width in pixels (0: plain). Antialiased
    /// `count` and `any` partials hold float32 coverage.
    pub line_width: f64,
    /// Antialiased `count`/`sum`: whether a line adds where it crosses
    /// itself.
    pub self_intersect: bool,
    /// Points with a radius: its length in pixels (0: one pixel each).
    pub point_radius: f64,
    /// Points with a radius: their shape.
    pub point_shape: PointShape,
}

impl AggregateSpec {
    /// Number of cells (pixels x category planes).
    pub fn cells(&self) -> usize {
        self.width * self.height * self.categories.as_ref().map_or(1, Vec::len)
    }

    /// The first field in which `other` differs: (name, ours, theirs).
    fn difference(&self, other: &AggregateSpec) -> Option<(&'static str, String, String)> {
        let bits = |r: (f64, f64)| (r.0.to_bits(), r.1.to_bits());
        let pair = |r: (f64, f64)| format!("{:?},{:?}", r.0, r.1);
        let cats = |c: &Option<Vec<String>>| {
            c.as_ref()
                .map_or_else(|| "none".to_string(), |c| c.join(","))
        };
        let checks: [(&'static str, bool, String, String); 17] = [
            (
                "point radius",
                self.point_radius.to_bits() == other.point_radius.to_bits(),
                self.point_radius.to_string(),
                other.point_radius.to_string(),
            ),
            (
                "point shape",
                self.point_shape == other.point_shape,
                self.point_shape.to_string(),
                other.point_shape.to_string(),
            ),
            (
                "glyph",
                self.glyph == other.glyph,
                self.glyph.clone(),
                other.glyph.clone(),
            ),
            (
                "line width",
                self.line_width.to_bits() == other.line_width.to_bits(),
                self.line_width.to_string(),
                other.line_width.to_string(),
            ),
            (
                "self_intersect",
                self.self_intersect == other.self_intersect,
                self.self_intersect.to_string(),
                other.self_intersect.to_string(),
            ),
            (
                "reduction",
                self.reduction == other.reduction,
                self.reduction.to_string(),
                other.reduction.to_string(),
            ),
            (
                "canvas size",
                (self.width, self.height) == (other.width, other.height),
                format!("{}x{}", self.width, self.height),
                format!("{}x{}", other.width, other.height),
            ),
            (
                "x range",
                bits(self.x_range) == bits(other.x_range),
                pair(self.x_range),
                pair(other.x_range),
            ),
            (
                "y range",
                bits(self.y_range) == bits(other.y_range),
                pair(self.y_range),
                pair(other.y_range),
            ),
            (
                "x axis",
                self.x_axis == other.x_axis,
                self.x_axis.to_string(),
                other.x_axis.to_string(),
            ),
            (
                "y axis",
                self.y_axis == other.y_axis,
                self.y_axis.to_string(),
                other.y_axis.to_string(),
            ),
            (
                "x column",
                self.x == other.x,
                self.x.clone(),
                other.x.clone(),
            ),
            (
                "y column",
                self.y == other.y,
                self.y.clone(),
                other.y.clone(),
            ),
            (
                "categories",
                self.categories == other.categories,
                cats(&self.categories),
                cats(&other.categories),
            ),
            (
                "lnglat projection",
                self.lnglat == other.lnglat,
                self.lnglat.to_string(),
                other.lnglat.to_string(),
            ),
            (
                "upper x edge",
                self.x_upper_open == other.x_upper_open,
                self.x_upper_open.to_string(),
                other.x_upper_open.to_string(),
            ),
            (
                "upper y edge",
                self.y_upper_open == other.y_upper_open,
                self.y_upper_open.to_string(),
                other.y_upper_open.to_string(),
            ),
        ];
        checks
            .into_iter()
            .find(|c| !c.1)
            .map(|(name, _, ours, theirs)| (name, ours, theirs))
    }

    fn to_json(&self) -> Value {
        json!({
            "x": self.x,
            "y": self.y,
            "width": self.width,
            "height": self.height,
            "x_range": [self.x_range.0, self.x_range.1],
            "y_range": [self.y_range.0, self.y_range.1],
            "x_axis": self.x_axis.to_string(),
            "y_axis": self.y_axis.to_string(),
            "x_upper_open": self.x_upper_open,
            "y_upper_open": self.y_upper_open,
            "lnglat": self.lnglat,
            "reduction": reduction_json(&self.reduction),
            "by": self.reduction.by_description(),
            "categories": self.categories,
            "glyph": self.glyph,
            "line_width": self.line_width,
            "self_intersect": self.self_intersect,
            "point_radius": self.point_radius,
            "point_shape": self.point_shape.to_string(),
        })
    }

    fn from_json(v: &Value) -> Result<AggregateSpec, String> {
        let s = |k: &str| {
            v.get(k)
                .and_then(Value::as_str)
                .map(str::to_string)
                .ok_or_else(|| format!("spec field '{k}' is missing or not a string"))
        };
        let n = |k: &str| {
            v.get(k)
                .and_then(Value::as_u64)
                .and_then(|n| usize::try_from(n).ok())
                .ok_or_else(|| format!("spec field '{k}' is missing or not a size"))
        };
        let b = |k: &str| {
            v.get(k)
                .and_then(Value::as_bool)
                .ok_or_else(|| format!("spec field '{k}' is missing or not a boolean"))
        };
        let range = |k: &str| {
            let r = v.get(k).and_then(Value::as_array);
            match r.map(|r| r.iter().map(Value::as_f64).collect::<Vec<_>>()) {
                Some(r) if r.len() == 2 && r.iter().all(Option::is_some) => {
                    Ok((r[0].unwrap_or_default(), r[1].unwrap_or_default()))
                }
                _ => Err(format!("spec field '{k}' is not [lo, hi]")),
            }
        };
        let axis = |k: &str| s(k).and_then(|a| a.parse::<AxisKind>());
        let mut reduction: ReductionSpec = s("reduction")?
            .parse()
            .map_err(|e: super::reduction::SpecError| e.message)?;
        match v.get("by") {
            None | Some(Value::Null) => reduction.by = None,
            Some(Value::String(b)) => {
                let (column, c) = Categorizer::parse_by(b)?;
                reduction = reduction.by_categorizer(&column, c);
            }
            Some(_) => return Err("spec field 'by' is not a string".into()),
        };
        let categories = match v.get("categories") {
            None | Some(Value::Null) => None,
            Some(Value::Array(a)) => Some(
                a.iter()
                    .map(|c| c.as_str().map(str::to_string))
                    .collect::<Option<Vec<_>>>()
                    .ok_or("spec field 'categories' holds a non-string")?,
            ),
            Some(_) => return Err("spec field 'categories' is not a list".into()),
        };
        Ok(AggregateSpec {
            x: s("x")?,
            y: s("y")?,
            width: n("width")?,
            height: n("height")?,
            x_range: range("x_range")?,
            y_range: range("y_range")?,
            x_axis: axis("x_axis")?,
            y_axis: axis("y_axis")?,
            x_upper_open: b("x_upper_open")?,
            y_upper_open: b("y_upper_open")?,
            lnglat: b("lnglat")?,
            reduction,
            categories,
            // Absent in partials written before lines had them: points.
            glyph: match v.get("glyph") {
                None | Some(Value::Null) => "points".into(),
                Some(_) => s("glyph")?,
            },
            line_width: match v.get("line_width") {
                None | Some(Value::Null) => 0.0,
                Some(w) => w
                    .as_f64()
                    .filter(|w| w.is_finite() && *w >= 0.0)
                    .ok_or("spec field 'line_width' is not a width")?,
            },
            self_intersect: match v.get("self_intersect") {
                None | Some(Value::Null) => true,
                Some(_) => b("self_intersect")?,
            },
            // Absent in partials written before points had a size.
            point_radius: match v.get("point_radius") {
                None | Some(Value::Null) => 0.0,
                Some(w) => w
                    .as_f64()
                    .filter(|w| w.is_finite() && *w >= 0.0)
                    .ok_or("spec field 'point_radius' is not a radius")?,
            },
            point_shape: match v.get("point_shape") {
                None | Some(Value::Null) => PointShape::Circle,
                Some(_) => s("point_shape")?.parse()?,
            },
        })
    }
}

/// The reduction without its category column (`by` is stored apart).
fn reduction_json(r: &ReductionSpec) -> String {
    // The `--agg` grammar, without the category column (a field of its own).
    ReductionSpec {
        by: None,
        ..r.clone()
    }
    .to_string()
}

/// One share of an input split for separate jobs: shard `index` of `count`
/// (0-based), written `I/N`.
///
/// ```
/// use pointillist::aggregate::Shard;
///
/// let s: Shard = "2/8".parse()?;
/// assert_eq!((s.index, s.count), (2, 8));
/// assert!("8/8".parse::<Shard>().is_err());
/// # Ok::<(), pointillist::aggregate::AggError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Shard {
    /// This shard, `0..count`.
    pub index: u32,
    /// How many shards split the input.
    pub count: u32,
}

impl Shard {
    /// Shard `index` of `count`; fails unless `index < count`.
    pub fn new(index: u32, count: u32) -> Result<Shard, AggError> {
        if index >= count {
            return Err(AggError::BadShard {
                given: format!("{index}/{count}"),
            });
        }
        Ok(Shard { index, count })
    }

    /// Whether the row group that starts at row `start` of an input of
    /// `total` rows belongs to this shard: shards take consecutive runs of
    /// row groups holding about `total / count` rows each.
    pub fn owns(&self, start: u64, total: u64) -> bool {
        let owner = if total == 0 {
            0
        } else {
            (u128::from(start) * u128::from(self.count) / u128::from(total)) as u32
        };
        owner == self.index
    }
}

impl FromStr for Shard {
    type Err = AggError;

    fn from_str(s: &str) -> Result<Shard, AggError> {
        let bad = || AggError::BadShard {
            given: s.to_string(),
        };
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let i: u32 = i.trim().parse().map_err(|_| bad())?;
        let n: u32 = n.trim().parse().map_err(|_| bad())?;
        Shard::new(i, n).map_err(|_| bad())
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// Which shards of which input a partial covers.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ShardCoverage {
    /// The shards merged in, sorted.
    pub shards: BTreeSet<u32>,
    /// How many shards split the input.
    pub count: u32,
    /// Rows of the whole input (all shards).
    pub input_rows: u64,
    /// Row groups of the whole input.
    pub input_row_groups: u64,
}

impl ShardCoverage {
    /// Whether every shard `0..count` is covered.
    pub fn is_complete(&self) -> bool {
        self.shards.len() == self.count as usize && self.shards.iter().copied().eq(0..self.count)
    }

    /// The shards `0..count` not covered.
    pub fn missing(&self) -> Vec<u32> {
        (0..self.count)
            .filter(|i| !self.shards.contains(i))
            .collect()
    }
}

/// A partial aggregate with its plan: what a shard, a worker or a process
/// hands on to be merged with the others and finished.
///
/// ```
/// use std::sync::Arc;
/// use arrow_array::{Float64Array, RecordBatch};
/// use arrow_schema::{DataType, Field, Schema};
/// use pointillist::aggregate::{AggValues, AggregateRequest, Aggregator, PartialAggregate};
///
/// let schema = Arc::new(Schema::new(vec![
///     Field::new("x", DataType::Float64, false),
///     Field::new("y", DataType::Float64, false),
/// ]));
/// let batch = |xs: Vec<f64>| {
///     let ys = xs.clone();
///     RecordBatch::try_new(
///         schema.clone(),
///         vec![Arc::new(Float64Array::from(xs)), Arc::new(Float64Array::from(ys))],
///     )
/// };
/// let req = AggregateRequest::new(2, 2).with_x_range(0.0, 1.0).with_y_range(0.0, 1.0);
/// // Two workers, each with its own rows.
/// let mut a = Aggregator::new(req.clone())?;
/// a.push(&batch(vec![0.1, 0.2])?)?;
/// let mut b = Aggregator::new(req)?;
/// b.push(&batch(vec![0.9])?)?;
/// // Partials travel as bytes (Arrow IPC) and merge on the other side.
/// let bytes = b.finish_partial()?.to_ipc_bytes()?;
/// let mut total = a.finish_partial()?;
/// total.merge(PartialAggregate::from_ipc_bytes(&bytes)?)?;
/// assert_eq!(total.finish().values, AggValues::U32(vec![2, 0, 0, 1]));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct PartialAggregate {
    spec: AggregateSpec,
    partial: Partial,
    rows: u64,
    coverage: Option<ShardCoverage>,
}

impl PartialAggregate {
    /// Wrap a partial made by a plan with `spec`; `rows` is the number of
    /// input rows it read.
    pub(crate) fn new(
        spec: AggregateSpec,
        partial: Partial,
        rows: u64,
        coverage: Option<ShardCoverage>,
    ) -> PartialAggregate {
        PartialAggregate {
            spec,
            partial,
            rows,
            coverage,
        }
    }

    /// The plan this partial belongs to.
    pub fn spec(&self) -> &AggregateSpec {
        &self.spec
    }

    /// Input rows read into this partial (all merged parts).
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// The shards this partial covers, when it was made by shards.
    pub fn coverage(&self) -> Option<&ShardCoverage> {
        self.coverage.as_ref()
    }

    /// Absorb `other`, a partial of the same plan over other rows.
    /// Refused ([`AggError::MismatchedPartials`]) when the specs differ, or
    /// when shards of different splits or the same shard twice would be
    /// merged; `self` is then unchanged.
    pub fn merge(&mut self, other: PartialAggregate) -> Result<(), AggError> {
        if let Some((field, ours, theirs)) = self.spec.difference(&other.spec) {
            return Err(AggError::MismatchedPartials {
                field,
                ours,
                theirs,
            });
        }
        let coverage = match (&self.coverage, &other.coverage) {
            (None, None) => None,
            (Some(a), Some(b)) => {
                let split = |c: &ShardCoverage| {
                    format!(
                        "{} shards of {} rows in {} row groups",
                        c.count, c.input_rows, c.input_row_groups
                    )
                };
                if (a.count, a.input_rows, a.input_row_groups)
                    != (b.count, b.input_rows, b.input_row_groups)
                {
                    return Err(AggError::MismatchedPartials {
                        field: "input split",
                        ours: split(a),
                        theirs: split(b),
                    });
                }
                if let Some(dup) = a.shards.intersection(&b.shards).next() {
                    return Err(AggError::DuplicateShard {
                        shard: *dup,
                        count: a.count,
                    });
                }
                let mut c = a.clone();
                c.shards.extend(b.shards.iter().copied());
                Some(c)
            }
            (a, b) => {
                let what = |c: &Option<ShardCoverage>| {
                    if c.is_some() {
                        "a shard".to_string()
                    } else {
                        "not a shard".to_string()
                    }
                };
                return Err(AggError::MismatchedPartials {
                    field: "sharding",
                    ours: what(a),
                    theirs: what(b),
                });
            }
        };
        self.partial.merge(other.partial)?;
        self.rows += other.rows;
        self.coverage = coverage;
        Ok(())
    }

    /// The finished aggregate.
    pub fn finish(self) -> Aggregate {
        Aggregate {
            width: self.spec.width,
            height: self.spec.height,
            categories: self.spec.categories.clone(),
            n: self
                .spec
                .reduction
                .kind
                .is_n()
                .then_some(self.spec.reduction.n),
            values: self.partial.finalize(),
            x_range: self.spec.x_range,
            y_range: self.spec.y_range,
        }
    }

    /// Write the serialised form (see the [module docs](self)) to `w`.
    pub fn write_ipc<W: Write>(&self, w: W) -> Result<(), AggError> {
        let kind = self.spec.reduction.kind;
        let selection = self.spec.reduction.selection().is_some();
        let narrow = self.spec.reduction.narrow_dtype();
        let names = spec_plane_names(&self.spec.reduction);
        let fields: Vec<Field> = names
            .iter()
            .map(|&n| {
                let aa = self.spec.line_width > 0.0;
                let dt = match (kind, n) {
                    (_, "row") => DataType::UInt64,
                    _ if selection => DataType::Float64,
                    _ if narrow == Some(AggDtype::Uint8) => DataType::UInt8,
                    _ if narrow == Some(AggDtype::Uint16) => DataType::UInt16,
                    _ if narrow == Some(AggDtype::Float32) => DataType::Float32,
                    (ReductionKind::Count | ReductionKind::Any, _) if aa => DataType::Float32,
                    (ReductionKind::Count, _) => DataType::UInt32,
                    (ReductionKind::Any, _) => DataType::Boolean,
                    _ => DataType::Float64,
                };
                Field::new(n, dt, n == "row")
            })
            .collect();
        let mut coverage = json!({ "rows": self.rows });
        if let Some(c) = &self.coverage {
            coverage["shards"] = json!(c.shards.iter().collect::<Vec<_>>());
            coverage["shard_count"] = json!(c.count);
            coverage["input_rows"] = json!(c.input_rows);
            coverage["input_row_groups"] = json!(c.input_row_groups);
        }
        let metadata: std::collections::HashMap<String, String> = [
            (KEY_VERSION.to_string(), PARTIAL_FORMAT_VERSION.to_string()),
            (KEY_SPEC.to_string(), self.spec.to_json().to_string()),
            (KEY_COVERAGE.to_string(), coverage.to_string()),
        ]
        .into_iter()
        .collect();
        let schema = Arc::new(Schema::new_with_metadata(fields, metadata));
        let options = IpcWriteOptions::default()
            .try_with_compression(Some(CompressionType::LZ4_FRAME))
            .map_err(AggError::from_ipc)?;
        let mut writer =
            FileWriter::try_new_with_options(w, &schema, options).map_err(AggError::from_ipc)?;
        let cells = self.partial.cells();
        let mut start = 0;
        while start < cells || (start == 0 && cells == 0) {
            let end = (start + CELLS_PER_BATCH).min(cells);
            let columns: Vec<ArrayRef> = self.partial.planes(start..end);
            let batch =
                RecordBatch::try_new(schema.clone(), columns).map_err(AggError::from_ipc)?;
            writer.write(&batch).map_err(AggError::from_ipc)?;
            if cells == 0 {
                break;
            }
            start = end;
        }
        writer.finish().map_err(AggError::from_ipc)?;
        Ok(())
    }

    /// The serialised form as bytes.
    pub fn to_ipc_bytes(&self) -> Result<Vec<u8>, AggError> {
        let mut out = Vec::new();
        self.write_ipc(&mut out)?;
        Ok(out)
    }

    /// Read the serialised form from `r`, checking its version, its spec
    /// and that it holds exactly one value per cell.
    pub fn read_ipc<R: Read + Seek>(r: R) -> Result<PartialAggregate, AggError> {
        let bad = |reason: String| AggError::BadPartial { reason };
        let reader = FileReader::try_new(r, None).map_err(AggError::from_ipc)?;
        let schema = reader.schema();
        let meta = schema.metadata();
        match meta.get(KEY_VERSION) {
            Some(v) if v == &PARTIAL_FORMAT_VERSION.to_string() => {}
            Some(v) => {
                return Err(bad(format!(
                "it is format version {v}, and this build reads version {PARTIAL_FORMAT_VERSION}"
            )))
            }
            None => return Err(bad("it has no pointillist.partial.version metadata".into())),
        }
        let json = |key: &str| -> Result<Value, AggError> {
            let text = meta
                .get(key)
                .ok_or_else(|| bad(format!("it has no {key} metadata")))?;
            serde_json::from_str(text).map_err(|e| bad(format!("its {key} is not JSON: {e}")))
        };
        let spec = AggregateSpec::from_json(&json(KEY_SPEC)?).map_err(bad)?;
        let cov = json(KEY_COVERAGE)?;
        let rows = cov.get("rows").and_then(Value::as_u64).unwrap_or(0);
        let coverage = match cov.get("shards").and_then(Value::as_array) {
            None => None,
            Some(shards) => {
                let num = |k: &str| {
                    cov.get(k)
                        .and_then(Value::as_u64)
                        .ok_or_else(|| bad(format!("its coverage has no {k}")))
                };
                let count = u32::try_from(num("shard_count")?)
                    .map_err(|_| bad("its shard_count is too large".into()))?;
                let shards = shards
                    .iter()
                    .map(|s| s.as_u64().and_then(|s| u32::try_from(s).ok()))
                    .collect::<Option<BTreeSet<u32>>>()
                    .filter(|s| s.iter().all(|&i| i < count))
                    .ok_or_else(|| bad("its shard list is not shard numbers".into()))?;
                Some(ShardCoverage {
                    shards,
                    count,
                    input_rows: num("input_rows")?,
                    input_row_groups: num("input_row_groups")?,
                })
            }
        };
        let kind = spec.reduction.kind;
        let names = spec_plane_names(&spec.reduction);
        let found: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        if found != names {
            return Err(bad(format!(
                "its columns are [{}], and a {} partial has [{}]",
                found.join(", "),
                kind.name(),
                names.join(", ")
            )));
        }
        let cells = spec.cells();
        let mut partial = if spec.line_width > 0.0 && spec.reduction.selection().is_none() {
            Partial::with_capacity_antialiased(kind, cells)
        } else {
            Partial::with_capacity_for_spec(&spec.reduction, cells)
        };
        for batch in reader {
            let batch = batch.map_err(AggError::from_ipc)?;
            partial.extend_from_planes(batch.columns()).map_err(bad)?;
            if partial.cells() > cells {
                break;
            }
        }
        if partial.cells() != cells {
            return Err(bad(format!(
                "it holds {} cells, and its canvas has {cells}",
                partial.cells()
            )));
        }
        Ok(PartialAggregate {
            spec,
            partial,
            rows,
            coverage,
        })
    }

    /// [`PartialAggregate::read_ipc`] from bytes.
    pub fn from_ipc_bytes(bytes: &[u8]) -> Result<PartialAggregate, AggError> {
        PartialAggregate::read_ipc(std::io::Cursor::new(bytes))
    }
}

/// Merge shard partials into the whole: refused when a shard is missing or
/// given twice, or when they come from different plans or splits. The
/// partials are merged in shard order, whatever order they come in, so the
/// result is the same bytes every time.
pub fn merge_shards(mut parts: Vec<PartialAggregate>) -> Result<PartialAggregate, AggError> {
    parts.sort_by_key(|p| {
        p.coverage
            .as_ref()
            .and_then(|c| c.shards.first().copied())
            .unwrap_or(0)
    });
    let mut it = parts.into_iter();
    let mut total = it.next().ok_or(AggError::NoPartials)?;
    for p in it {
        total.merge(p)?;
    }
    if let Some(c) = &total.coverage {
        if !c.is_complete() {
            return Err(AggError::MissingShards {
                missing: c.missing(),
                count: c.count,
            });
        }
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(kind: ReductionKind) -> AggregateSpec {
        AggregateSpec {
            x: "x".into(),
            y: "y".into(),
            width: 3,
            height: 2,
            x_range: (0.1, 0.7),
            y_range: (-1.0, 1.0 + f64::EPSILON),
            x_axis: AxisKind::Linear,
            y_axis: AxisKind::Log,
            x_upper_open: false,
            y_upper_open: true,
            lnglat: false,
            reduction: if kind.needs_column() {
                ReductionSpec::of(kind, "v")
            } else {
                ReductionSpec::count().with_kind(kind)
            },
            categories: None,
            glyph: "points".into(),
            line_width: 0.0,
            self_intersect: true,
            point_radius: 0.0,
            point_shape: PointShape::Circle,
        }
    }

    fn partial_of(kind: ReductionKind, first_row: u64) -> Partial {
        let mut p = Partial::new(kind, 6);
        p.accumulate(
            first_row,
            &[0, 5, 5, 2, super::super::NO_CELL],
            Some(&[1.5, -2.0, 0.1, f64::NAN, 9.0]),
        );
        p
    }

    #[test]
    fn antialiased_partials_round_trip_and_keep_to_their_width() {
        use super::super::partial::AaRule;
        for kind in [
            ReductionKind::Count,
            ReductionKind::Any,
            ReductionKind::Last,
        ] {
            let mut p = Partial::new_antialiased(kind, 6);
            p.aa_append(1, 2.5, 0.75, 0.0, 3, AaRule::Add);
            p.aa_append(4, 1.0, 0.3, 0.1, 3, AaRule::Add);
            let mut s = spec(kind);
            s.glyph = "row-lines".into();
            s.line_width = 1.5;
            let p = PartialAggregate::new(s.clone(), p, 5, None);
            let back =
                PartialAggregate::from_ipc_bytes(&p.to_ipc_bytes().expect("write")).expect("read");
            assert_eq!(back.spec(), p.spec(), "{kind:?}");
            assert_eq!(
                format!("{:?}", back.partial),
                format!("{:?}", p.partial),
                "{kind:?}"
            );
            let mut plain = s.clone();
            plain.line_width = 0.0;
            let plain = PartialAggregate::new(plain, Partial::new(kind, 6), 5, None);
            let mut back = back;
            let e = back.merge(plain).expect_err("plain and antialiased");
            assert!(e.to_string().contains("line width"), "{e}");
        }
    }

    #[test]
    fn every_reduction_round_trips_through_ipc() {
        for kind in ReductionKind::ALL.map(|(_, k)| k) {
            let p = PartialAggregate::new(spec(kind), partial_of(kind, 7), 5, None);
            let back =
                PartialAggregate::from_ipc_bytes(&p.to_ipc_bytes().expect("write")).expect("read");
            assert_eq!(back.spec(), p.spec(), "{kind:?}");
            assert_eq!(back.rows(), 5);
            assert_eq!(
                format!("{:?}", back.partial),
                format!("{:?}", p.partial),
                "{kind:?}"
            );
        }
    }

    #[test]
    fn categorical_specs_round_trip() {
        let mut s = spec(ReductionKind::Count);
        s.reduction = ReductionSpec::count().by("cat");
        s.categories = Some(vec!["a".into(), "b, c".into()]);
        let mut p = Partial::new(ReductionKind::Count, 12);
        p.accumulate(0, &[11, 0], None);
        let p = PartialAggregate::new(s, p, 2, None);
        let back =
            PartialAggregate::from_ipc_bytes(&p.to_ipc_bytes().expect("write")).expect("read");
        assert_eq!(back.spec(), p.spec());
        assert_eq!(back.finish().values, p.finish().values);
    }

    #[test]
    fn partials_of_other_plans_are_refused() {
        let kind = ReductionKind::Sum;
        let mut a = PartialAggregate::new(spec(kind), partial_of(kind, 0), 5, None);
        let mut other = spec(kind);
        other.x_range.1 = f64::from_bits(other.x_range.1.to_bits() + 1);
        let e = a
            .merge(PartialAggregate::new(other, partial_of(kind, 5), 5, None))
            .expect_err("x range differs in the last bit");
        assert!(e.to_string().contains("x range"), "{e}");
        let e = a
            .merge(PartialAggregate::new(
                spec(ReductionKind::Mean),
                partial_of(ReductionKind::Mean, 5),
                5,
                None,
            ))
            .expect_err("reduction");
        assert!(e.to_string().contains("reduction"), "{e}");
        assert_eq!(a.rows(), 5);
    }

    #[test]
    fn shards_merge_once_each_and_all_must_be_there() {
        let kind = ReductionKind::First;
        let shard = |i: u32, row: u64| {
            PartialAggregate::new(
                spec(kind),
                partial_of(kind, row),
                5,
                Some(ShardCoverage {
                    shards: [i].into_iter().collect(),
                    count: 3,
                    input_rows: 15,
                    input_row_groups: 3,
                }),
            )
        };
        let whole = merge_shards(vec![shard(2, 10), shard(0, 0), shard(1, 5)]).expect("all");
        assert_eq!(whole.rows(), 15);
        assert!(whole.coverage().is_some_and(ShardCoverage::is_complete));
        let e = merge_shards(vec![shard(0, 0), shard(2, 10)]).expect_err("missing");
        assert!(e.to_string().contains("1"), "{e}");
        let e = merge_shards(vec![shard(0, 0), shard(1, 5), shard(1, 5), shard(2, 10)])
            .expect_err("duplicate");
        assert!(e.to_string().contains("twice"), "{e}");
    }

    #[test]
    fn other_versions_and_garbage_are_refused() {
        let kind = ReductionKind::Count;
        let p = PartialAggregate::new(spec(kind), partial_of(kind, 0), 5, None);
        let bytes = p.to_ipc_bytes().expect("write");
        assert!(PartialAggregate::from_ipc_bytes(&bytes[..bytes.len() / 2]).is_err());
        assert!(PartialAggregate::from_ipc_bytes(b"not arrow").is_err());
    }

    #[test]
    fn shard_shares_are_contiguous_and_cover_everything_once() {
        let starts: Vec<u64> = (0..10).map(|i| i * 100).collect();
        for count in 1..=12 {
            let mut owners = Vec::new();
            for &s in &starts {
                let owned: Vec<u32> = (0..count)
                    .filter(|&i| Shard::new(i, count).expect("shard").owns(s, 1000))
                    .collect();
                assert_eq!(owned.len(), 1, "{count}: {s}");
                owners.push(owned[0]);
            }
            assert!(owners.windows(2).all(|w| w[0] <= w[1]), "{owners:?}");
        }
    }
}
