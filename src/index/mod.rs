//! Spatial index: rewrite a source as one Parquet file sorted along a
//! Hilbert curve, in small row groups with min/max statistics, so that a
//! zoomed render or a map tile reads only the row groups its window meets.
//!
//! The sort is an external merge sort: rows are read in order, keyed, and
//! gathered into runs of at most [`IndexOptions::memory_bytes`]; a run that
//! is not the whole input is sorted and spilled to an Arrow IPC file in a
//! temporary directory, and the runs are then merged. Memory therefore
//! follows the budget, not the input. The order is the stable sort of the
//! input by Hilbert key (ties keep input order), so the output is the same
//! bytes whatever the budget or thread count.
//!
//! Keys: x and y are scaled over the data's extent (from row-group
//! statistics, or a scan) onto a 2^16 x 2^16 grid and mapped to their
//! distance along the Hilbert curve; rows whose x or y is null or NaN go
//! last. Every column of the input is kept, with its type.
//!
//! Rendering the indexed file gives the same count, min, max and
//! per-category counts as the original; reductions that depend on row
//! order (first, last) follow the new order, and float sums may differ in
//! their last bits because they are added in a different order.

#[cfg(test)]
mod tests;

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::SchemaRef;
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::metadata::KeyValue;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use rayon::prelude::*;

use crate::source::{auto_range, numeric_to_f64, Source, SourceError, BATCH_ROWS, UNIT_ROWS};

/// Bits per axis of the Hilbert grid.
pub const HILBERT_BITS: u32 = 16;

/// Key of rows whose x or y is missing: after every real key.
const MISSING_KEY: u32 = u32::MAX;

/// Key-value metadata entry recording how a file was indexed.
pub const INDEX_METADATA_KEY: &str = "pointillist.index";

/// How to build an index.
///
/// ```
/// use pointillist::index::IndexOptions;
///
/// let opts = IndexOptions::default()
///     .with_columns("lon_m", "lat_m")
///     .with_row_group_rows(16 * 1024)
///     .with_memory_bytes(256 << 20);
/// assert_eq!(opts.x, "lon_m");
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct IndexOptions {
    /// Column of x coordinates.
    pub x: String,
    /// Column of y coordinates.
    pub y: String,
    /// Rows per output row group.
    pub row_group_rows: usize,
    /// Bytes of decoded rows held in memory before a run is spilled.
    pub memory_bytes: usize,
    /// Compression of the output file.
    pub compression: Compression,
    /// Where spilled runs go (default: beside the output).
    pub temp_dir: Option<PathBuf>,
}

impl Default for IndexOptions {
    fn default() -> Self {
        IndexOptions {
            x: "x".into(),
            y: "y".into(),
            row_group_rows: 64 * 1024,
            memory_bytes: 1 << 30,
            compression: Compression::SNAPPY,
            temp_dir: None,
        }
    }
}

impl IndexOptions {
    /// Sets the coordinate columns [`IndexOptions::x`] and [`IndexOptions::y`].
    #[must_use]
    pub fn with_columns(mut self, x: impl Into<String>, y: impl Into<String>) -> Self {
        self.x = x.into();
        self.y = y.into();
        self
    }

    /// Sets [`IndexOptions::row_group_rows`].
    #[must_use]
    pub fn with_row_group_rows(mut self, rows: usize) -> Self {
        self.row_group_rows = rows;
        self
    }

    /// Sets [`IndexOptions::memory_bytes`].
    #[must_use]
    pub fn with_memory_bytes(mut self, bytes: usize) -> Self {
        self.memory_bytes = bytes;
        self
    }

    /// Sets [`IndexOptions::compression`].
    #[must_use]
    pub fn with_compression(mut self, compression: Compression) -> Self {
        self.compression = compression;
        self
    }

    /// Sets [`IndexOptions::temp_dir`].
    #[must_use]
    pub fn with_temp_dir(mut self, dir: Option<PathBuf>) -> Self {
        self.temp_dir = dir;
        self
    }
}

/// What [`build_index`] wrote.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct IndexSummary {
    /// Rows written.
    pub rows: u64,
    /// Row groups written.
    pub row_groups: usize,
    /// Sorted runs (1 = sorted in memory, no spill).
    pub runs: usize,
    /// Bytes of the output file.
    pub bytes: u64,
    /// The x and y extent the keys were scaled over, if any row had both.
    pub extent: Option<((f64, f64), (f64, f64))>,
}

/// Errors of the index stage.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IndexError {
    /// Reading the input.
    #[error(transparent)]
    Source(#[from] SourceError),
    /// Inputs whose schemas differ cannot go into one file.
    #[error("'{path}' has columns {found}, unlike the first input's {expected}; index files with the same columns together")]
    SchemaMismatch {
        /// The differing input.
        path: String,
        /// The first input's columns.
        expected: String,
        /// This input's columns.
        found: String,
    },
    /// [`IndexOptions::row_group_rows`] is 0.
    #[error("--row-group-rows must be at least 1")]
    ZeroRowGroupRows,
    /// A source without files.
    #[error("no input files")]
    NoInputs,
    /// The output path is one of the inputs.
    #[error("the output '{path}' is also an input; write the index to a new file")]
    OutputIsInput {
        /// The path.
        path: PathBuf,
    },
    /// File-system trouble with the output or the spill files.
    #[error("cannot write '{path}': {source}; check the directory exists and has free space")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Arrow refused a batch, or a spilled run could not be read back.
    #[error("cannot write '{path}': {source}")]
    Arrow {
        /// The file being written or read back.
        path: PathBuf,
        /// Arrow's complaint.
        #[source]
        source: arrow_schema::ArrowError,
    },
    /// The Parquet writer refused a batch or the footer.
    #[error("cannot write '{path}': {source}")]
    Parquet {
        /// The file being written.
        path: PathBuf,
        /// The writer's complaint.
        #[source]
        source: parquet::errors::ParquetError,
    },
    /// A spilled run read back without its sort-key column.
    #[error("cannot write '{path}': spilled run lost its key column")]
    LostKeyColumn {
        /// The spilled run.
        path: PathBuf,
    },
}

/// Write `source` to `out`, sorted along a Hilbert curve over
/// `opts.x`/`opts.y`. The file appears at `out` only when complete.
///
/// ```
/// use pointillist::index::{build_index, IndexOptions};
/// use pointillist::source::Source;
///
/// let dir = tempfile::tempdir()?;
/// let out = dir.path().join("sample.indexed.parquet");
/// let opts = IndexOptions::default().with_row_group_rows(32 * 1024);
/// let summary = build_index(&Source::sample()?, &out, &opts)?;
/// assert_eq!(summary.rows, 300_000);
/// assert_eq!(summary.row_groups, 10); // 300,000 rows in groups of 32,768
/// assert_eq!(Source::open(&[&out])?.num_rows(), 300_000);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn build_index(
    source: &Source,
    out: &Path,
    opts: &IndexOptions,
) -> Result<IndexSummary, IndexError> {
    if opts.row_group_rows == 0 {
        return Err(IndexError::ZeroRowGroupRows);
    }
    if let Ok(canon_out) = out.canonicalize() {
        for f in source.files() {
            if Path::new(f).canonicalize().ok().as_ref() == Some(&canon_out) {
                return Err(IndexError::OutputIsInput {
                    path: out.to_path_buf(),
                });
            }
        }
    }
    let schema = common_schema(source)?;
    source.check_numeric(&opts.x)?;
    source.check_numeric(&opts.y)?;
    let xr = auto_range(source, &opts.x)?;
    let yr = auto_range(source, &opts.y)?;
    let extent = xr.zip(yr);
    let keyer = Keyer::new(extent);
    let columns: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
    let shared = SharedDictionaries::new(source, &schema)?;

    let dir = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let spill_dir = opts.temp_dir.clone().unwrap_or_else(|| dir.clone());
    let spill = tempfile::Builder::new()
        .prefix(".pointillist-index-")
        .tempdir_in(&spill_dir)
        .map_err(|source| IndexError::Io {
            path: spill_dir.clone(),
            source,
        })?;
    let mut builder = tempfile::Builder::new();
    builder.prefix(".pointillist-index-").suffix(".tmp");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // Like File::create: 0666 minus the umask, not tempfile's 0600.
        builder.permissions(std::fs::Permissions::from_mode(0o666));
    }
    let tmp = builder.tempfile_in(&dir).map_err(|source| IndexError::Io {
        path: dir.clone(),
        source,
    })?;
    let io_err = |source| IndexError::Io {
        path: out.to_path_buf(),
        source,
    };
    let arrow_err = |source| IndexError::Arrow {
        path: out.to_path_buf(),
        source,
    };
    let parquet_err = |source| IndexError::Parquet {
        path: out.to_path_buf(),
        source,
    };

    // Phase 1: read in row order, cut into runs by memory, sort each run.
    let mut runs: Vec<PathBuf> = Vec::new();
    let mut run = Run::default();
    let col_refs: Vec<&str> = columns.iter().map(String::as_str).collect();
    for unit in source.units(UNIT_ROWS) {
        for batch in source.read_unit(&unit, &col_refs, BATCH_ROWS)? {
            let batch = batch?;
            let columns = shared.apply(batch.columns()).map_err(arrow_err)?;
            let batch = RecordBatch::try_new(Arc::clone(&schema), columns).map_err(arrow_err)?;
            let keys = keyer.keys(&batch, &opts.x, &opts.y);
            run.push(batch, keys);
            if run.bytes >= opts.memory_bytes {
                let full = std::mem::take(&mut run);
                runs.push(spill_run(full, &schema, spill.path(), runs.len())?);
            }
        }
    }

    let mut props = WriterProperties::builder()
        .set_compression(opts.compression)
        .set_max_row_group_row_count(Some(opts.row_group_rows))
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_key_value_metadata(Some(vec![KeyValue::new(
            INDEX_METADATA_KEY.to_string(),
            describe(opts, extent),
        )]));
    // Floats rarely repeat: dictionary pages would only be tried and dropped.
    for f in schema.fields() {
        if matches!(
            f.data_type(),
            arrow_schema::DataType::Float16
                | arrow_schema::DataType::Float32
                | arrow_schema::DataType::Float64
        ) {
            props = props.set_column_dictionary_enabled(
                parquet::schema::types::ColumnPath::from(f.name().as_str()),
                false,
            );
        }
    }
    let props = props.build();
    let file = tmp.as_file().try_clone().map_err(io_err)?;
    let sink = BufWriter::with_capacity(1 << 20, file);
    let mut writer =
        ArrowWriter::try_new(sink, Arc::clone(&schema), Some(props)).map_err(parquet_err)?;
    let out_rows = opts.row_group_rows.clamp(1, BATCH_ROWS);
    let n_runs;
    if runs.is_empty() {
        // Everything fitted in memory: sort and write directly.
        n_runs = 1;
        for chunk in run.sorted_chunks(out_rows) {
            let (batch, _) = chunk.map_err(arrow_err)?;
            writer.write(&batch).map_err(parquet_err)?;
        }
    } else {
        if run.rows > 0 {
            runs.push(spill_run(run, &schema, spill.path(), runs.len())?);
        }
        n_runs = runs.len();
        merge_runs(&runs, out_rows, |batch| {
            writer.write(&batch).map_err(parquet_err)
        })?;
    }
    let meta = writer.finish().map_err(parquet_err)?;
    drop(writer);
    let bytes = tmp.as_file().metadata().map_err(io_err)?.len();
    tmp.persist(out).map_err(|e| IndexError::Io {
        path: out.to_path_buf(),
        source: e.error,
    })?;
    Ok(IndexSummary {
        rows: meta.file_metadata().num_rows().max(0) as u64,
        row_groups: meta.num_row_groups(),
        runs: n_runs,
        bytes,
        extent,
    })
}

/// The Arrow schema shared by every input (field names and types; field
/// and schema metadata may differ).
fn common_schema(source: &Source) -> Result<SchemaRef, IndexError> {
    let first = source.schema_of(0).ok_or(IndexError::NoInputs)?;
    let describe = |s: &SchemaRef| {
        s.fields()
            .iter()
            .map(|f| format!("{}: {}", f.name(), f.data_type()))
            .collect::<Vec<_>>()
            .join(", ")
    };
    for i in 1..source.files().len() {
        if let Some(s) = source.schema_of(i) {
            let same = s.fields().len() == first.fields().len()
                && s.fields().iter().zip(first.fields().iter()).all(|(a, b)| {
                    a.name() == b.name()
                        && a.data_type() == b.data_type()
                        && (a.is_nullable() || !b.is_nullable())
                });
            if !same {
                return Err(IndexError::SchemaMismatch {
                    path: source.file_label(i).to_string(),
                    expected: format!("({})", describe(first)),
                    found: format!("({})", describe(s)),
                });
            }
        }
    }
    Ok(Arc::new(arrow_schema::Schema::new(first.fields().clone())))
}

/// The `pointillist.index` metadata value.
fn describe(opts: &IndexOptions, extent: Option<((f64, f64), (f64, f64))>) -> String {
    let ext = match extent {
        Some(((x0, x1), (y0, y1))) => serde_json::json!([x0, y0, x1, y1]),
        None => serde_json::Value::Null,
    };
    serde_json::json!({
        "curve": "hilbert",
        "bits": HILBERT_BITS,
        "x": opts.x,
        "y": opts.y,
        "extent": ext,
        "row_group_rows": opts.row_group_rows,
    })
    .to_string()
}

/// Maps coordinates to Hilbert keys over a fixed extent.
#[derive(Debug, Clone, Copy)]
struct Keyer {
    x0: f64,
    y0: f64,
    sx: f64,
    sy: f64,
}

impl Keyer {
    fn new(extent: Option<((f64, f64), (f64, f64))>) -> Keyer {
        let cells = f64::from(1u32 << HILBERT_BITS);
        let scale = |lo: f64, hi: f64| if hi > lo { cells / (hi - lo) } else { 0.0 };
        match extent {
            Some(((x0, x1), (y0, y1))) => Keyer {
                x0,
                y0,
                sx: scale(x0, x1),
                sy: scale(y0, y1),
            },
            None => Keyer {
                x0: 0.0,
                y0: 0.0,
                sx: 0.0,
                sy: 0.0,
            },
        }
    }

    /// One key per row of `batch`.
    fn keys(&self, batch: &RecordBatch, x: &str, y: &str) -> Vec<u32> {
        let mut xs = Vec::new();
        let mut ys = Vec::new();
        let column = |name: &str, out: &mut Vec<f64>| {
            if let Some(a) = batch.column_by_name(name) {
                numeric_to_f64(a.as_ref(), out);
                // Nulls become NaN so they key as missing.
                if a.null_count() > 0 {
                    for (i, v) in out.iter_mut().enumerate() {
                        if a.is_null(i) {
                            *v = f64::NAN;
                        }
                    }
                }
            } else {
                out.clear();
                out.resize(batch.num_rows(), f64::NAN);
            }
        };
        column(x, &mut xs);
        column(y, &mut ys);
        let max = f64::from((1u32 << HILBERT_BITS) - 1);
        let k = *self;
        xs.par_iter()
            .zip(ys.par_iter())
            .with_min_len(4096)
            .map(|(&xv, &yv)| {
                if !(xv.is_finite() && yv.is_finite()) {
                    return MISSING_KEY;
                }
                // Clamped: values outside the statistics' extent (which
                // cannot happen for trusted statistics) still get a key.
                let qx = ((xv - k.x0) * k.sx).floor().clamp(0.0, max) as u32;
                let qy = ((yv - k.y0) * k.sy).floor().clamp(0.0, max) as u32;
                hilbert_index(qx, qy)
            })
            .collect()
    }
}

/// Distance of cell `(x, y)` along the Hilbert curve filling the
/// 2^[`HILBERT_BITS`] square grid.
///
/// ```
/// use pointillist::index::hilbert_index;
///
/// // The curve starts at the south-west cell and ends at the south-east one.
/// assert_eq!(hilbert_index(0, 0), 0);
/// let max = (1u32 << 16) - 1;
/// assert_eq!(hilbert_index(max, 0), u32::MAX);
/// ```
pub fn hilbert_index(mut x: u32, mut y: u32) -> u32 {
    let n: u32 = 1 << HILBERT_BITS;
    let mut d: u32 = 0;
    let mut s = n >> 1;
    while s > 0 {
        let rx = u32::from(x & s != 0);
        let ry = u32::from(y & s != 0);
        d = d.wrapping_add(s.wrapping_mul(s).wrapping_mul((3 * rx) ^ ry));
        if ry == 0 {
            if rx == 1 {
                x = (n - 1) - x;
                y = (n - 1) - y;
            }
            std::mem::swap(&mut x, &mut y);
        }
        s >>= 1;
    }
    d
}

/// Decoded rows in input order with their keys.
#[derive(Debug, Default)]
struct Run {
    batches: Vec<RecordBatch>,
    keys: Vec<Vec<u32>>,
    rows: usize,
    bytes: usize,
}

impl Run {
    fn push(&mut self, batch: RecordBatch, keys: Vec<u32>) {
        self.rows += batch.num_rows();
        // The batch, its keys, and its share of the sort's (key, batch, row)
        // entries.
        self.bytes += batch.get_array_memory_size() + keys.len() * (4 + 12);
        self.batches.push(batch);
        self.keys.push(keys);
    }

    /// `(key, batch, row)` of every row, sorted by key then input order.
    fn order(&self) -> Vec<(u32, u32, u32)> {
        let mut entries: Vec<(u32, u32, u32)> = Vec::with_capacity(self.rows);
        for (b, keys) in self.keys.iter().enumerate() {
            entries.extend(
                keys.iter()
                    .enumerate()
                    .map(|(r, &k)| (k, b as u32, r as u32)),
            );
        }
        // (batch, row) is unique, so the unstable sort is deterministic.
        entries.par_sort_unstable();
        entries
    }

    /// The sorted rows in batches of at most `chunk` rows, with their keys.
    fn sorted_chunks(
        &self,
        chunk: usize,
    ) -> impl Iterator<Item = Result<(RecordBatch, Vec<u32>), arrow_schema::ArrowError>> + '_ {
        let order = self.order();
        let n = order.len();
        (0..n.div_ceil(chunk)).map(move |i| {
            let part = &order[i * chunk..((i + 1) * chunk).min(n)];
            let idx: Vec<(usize, usize)> = part
                .iter()
                .map(|&(_, b, r)| (b as usize, r as usize))
                .collect();
            let keys = part.iter().map(|&(k, _, _)| k).collect();
            Ok((gather(&self.batches, &idx)?, keys))
        })
    }
}

/// One dictionary per string dictionary column, shared by every batch.
///
/// Writers such as pyarrow give each row group a dictionary of its own.
/// Rows of many row groups then meet in one sorted batch, where Arrow's
/// `interleave` has to merge the dictionaries (approximately: duplicates can
/// stay, and an `int8` key overflowed), and a spilled run's batches differ
/// in dictionary. So each batch is re-keyed on read into the column's
/// values over the whole input, in order of first appearance (from the
/// Parquet dictionary pages): every array of the column then shares one
/// dictionary, sorting moves keys only, and the output keeps the column's
/// type. Columns whose dictionary pages do not list their values, or
/// whose union does not fit the key type, stay as they are read.
struct SharedDictionaries {
    /// Column index, the shared values and their positions.
    columns: Vec<(usize, ArrayRef, std::collections::HashMap<String, usize>)>,
}

impl SharedDictionaries {
    fn new(source: &Source, schema: &SchemaRef) -> Result<SharedDictionaries, IndexError> {
        use arrow_schema::DataType;
        let mut columns = Vec::new();
        for (i, f) in schema.fields().iter().enumerate() {
            let DataType::Dictionary(key, value) = f.data_type() else {
                continue;
            };
            if value.as_ref() != &DataType::Utf8 {
                continue;
            }
            let Ok(Some(labels)) = source.categories_in_dictionary_order(f.name()) else {
                continue;
            };
            let capacity: u64 = match key.as_ref() {
                DataType::Int8 => i8::MAX as u64,
                DataType::UInt8 => u8::MAX as u64,
                DataType::Int16 => i16::MAX as u64,
                DataType::UInt16 => u16::MAX as u64,
                _ => i32::MAX as u64,
            };
            if labels.len() as u64 > capacity + 1 {
                continue;
            }
            let positions = labels
                .iter()
                .enumerate()
                .map(|(k, l)| (l.clone(), k))
                .collect();
            let values: ArrayRef = Arc::new(arrow_array::StringArray::from(labels));
            columns.push((i, values, positions));
        }
        Ok(SharedDictionaries { columns })
    }

    /// `columns` with every shared dictionary column re-keyed.
    fn apply(&self, columns: &[ArrayRef]) -> Result<Vec<ArrayRef>, arrow_schema::ArrowError> {
        let mut out = columns.to_vec();
        for (i, values, positions) in &self.columns {
            if let Some(c) = out.get_mut(*i) {
                *c = rekey(c.as_ref(), values, positions)?;
            }
        }
        Ok(out)
    }
}

/// `array` (a dictionary of strings) over the dictionary `values`, whose
/// value -> position map is `positions`.
fn rekey(
    array: &dyn Array,
    values: &ArrayRef,
    positions: &std::collections::HashMap<String, usize>,
) -> Result<ArrayRef, arrow_schema::ArrowError> {
    use arrow_array::cast::AsArray;
    use arrow_array::types::ArrowDictionaryKeyType;
    use arrow_array::types::{
        Int16Type, Int32Type, Int64Type, Int8Type, UInt16Type, UInt32Type, UInt64Type, UInt8Type,
    };
    use arrow_array::{DictionaryArray, PrimitiveArray};
    use arrow_schema::ArrowError;
    fn go<K: ArrowDictionaryKeyType>(
        d: &DictionaryArray<K>,
        values: &ArrayRef,
        positions: &std::collections::HashMap<String, usize>,
    ) -> Result<ArrayRef, ArrowError> {
        let local = d.values().as_string_opt::<i32>().ok_or_else(|| {
            ArrowError::InvalidArgumentError("dictionary values are not strings".into())
        })?;
        // Local key -> shared key, for the values this batch's dictionary has.
        let table: Vec<Option<K::Native>> = local
            .iter()
            .map(|v| {
                v.and_then(|v| positions.get(v))
                    .and_then(|&p| <K::Native as arrow_buffer::ArrowNativeType>::from_usize(p))
            })
            .collect();
        let keys: PrimitiveArray<K> = d
            .keys()
            .iter()
            .map(|k| {
                k.and_then(arrow_buffer::ArrowNativeType::to_usize)
                    .and_then(|k| table.get(k).copied().flatten())
            })
            .collect();
        if keys.null_count() != d.null_count() {
            let missing = d
                .keys()
                .iter()
                .zip(keys.iter())
                .filter(|(a, b)| a.is_some() && b.is_none())
                .count();
            return Err(ArrowError::InvalidArgumentError(format!(
                "{missing} values are not in the column's dictionary pages"
            )));
        }
        Ok(Arc::new(DictionaryArray::<K>::try_new(
            keys,
            Arc::clone(values),
        )?))
    }
    macro_rules! keyed {
        ($($t:ty),*) => {$(
            if let Some(d) = array.as_dictionary_opt::<$t>() {
                return go(d, values, positions);
            }
        )*};
    }
    keyed!(
        Int8Type, Int16Type, Int32Type, Int64Type, UInt8Type, UInt16Type, UInt32Type, UInt64Type
    );
    Err(ArrowError::InvalidArgumentError(
        "not a dictionary column".into(),
    ))
}

/// Rows `(batch, row)` of `batches`, in that order, as one batch.
fn gather(
    batches: &[RecordBatch],
    idx: &[(usize, usize)],
) -> Result<RecordBatch, arrow_schema::ArrowError> {
    let Some(first) = batches.first() else {
        return Err(arrow_schema::ArrowError::InvalidArgumentError(
            "no batches to gather from".into(),
        ));
    };
    let schema = first.schema();
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(schema.fields().len());
    let mut arrays: Vec<&dyn Array> = Vec::with_capacity(batches.len());
    for c in 0..schema.fields().len() {
        arrays.clear();
        arrays.extend(batches.iter().map(|b| b.column(c).as_ref()));
        columns.push(arrow_select::interleave::interleave(&arrays, idx)?);
    }
    RecordBatch::try_new(schema, columns)
}

/// Name of the key column in spilled runs.
const KEY_COLUMN: &str = "__pointillist_hilbert_key";

/// The schema of spilled runs: the data's, plus the key.
fn spill_schema(schema: &SchemaRef) -> SchemaRef {
    let mut fields: Vec<arrow_schema::FieldRef> = schema.fields().iter().cloned().collect();
    fields.push(Arc::new(arrow_schema::Field::new(
        KEY_COLUMN,
        arrow_schema::DataType::UInt32,
        false,
    )));
    Arc::new(arrow_schema::Schema::new(fields))
}

/// Sort `run` and write it to an Arrow IPC file in `dir`.
fn spill_run(run: Run, schema: &SchemaRef, dir: &Path, n: usize) -> Result<PathBuf, IndexError> {
    let path = dir.join(format!("run-{n:05}.arrow"));
    let io_err = |source| IndexError::Io {
        path: path.clone(),
        source,
    };
    let arrow_err = |source| IndexError::Arrow {
        path: path.clone(),
        source,
    };
    let file = File::create(&path).map_err(io_err)?;
    let spill = spill_schema(schema);
    let mut writer =
        arrow_ipc::writer::StreamWriter::try_new(BufWriter::with_capacity(1 << 20, file), &spill)
            .map_err(arrow_err)?;
    for chunk in run.sorted_chunks(BATCH_ROWS) {
        let (batch, keys) = chunk.map_err(arrow_err)?;
        let mut columns = batch.columns().to_vec();
        columns.push(Arc::new(arrow_array::UInt32Array::from(keys)));
        let batch = RecordBatch::try_new(Arc::clone(&spill), columns).map_err(arrow_err)?;
        writer.write(&batch).map_err(arrow_err)?;
    }
    writer.finish().map_err(arrow_err)?;
    Ok(path)
}

/// One spilled run being merged.
struct RunCursor {
    reader: arrow_ipc::reader::StreamReader<BufReader<File>>,
    /// Slot of the current batch in the merge's batch list.
    slot: usize,
    keys: arrow_array::UInt32Array,
    row: usize,
    path: PathBuf,
}

impl RunCursor {
    /// Load the next non-empty batch into `slots`; false at the end.
    fn advance(&mut self, slots: &mut Vec<RecordBatch>) -> Result<bool, IndexError> {
        for batch in self.reader.by_ref() {
            let batch = batch.map_err(|source| IndexError::Arrow {
                path: self.path.clone(),
                source,
            })?;
            if batch.num_rows() == 0 {
                continue;
            }
            let last = batch.num_columns() - 1;
            let keys = batch
                .column(last)
                .as_any()
                .downcast_ref::<arrow_array::UInt32Array>()
                .cloned()
                .ok_or_else(|| IndexError::LostKeyColumn {
                    path: self.path.clone(),
                })?;
            self.keys = keys;
            self.row = 0;
            self.slot = slots.len();
            slots.push(
                batch
                    .project(&(0..last).collect::<Vec<_>>())
                    .map_err(|source| IndexError::Arrow {
                        path: self.path.clone(),
                        source,
                    })?,
            );
            return Ok(true);
        }
        Ok(false)
    }
}

/// k-way merge of sorted runs; ties go to the earlier run (input order).
/// Calls `emit` with batches of `chunk` rows (the last may be shorter).
fn merge_runs(
    runs: &[PathBuf],
    chunk: usize,
    mut emit: impl FnMut(RecordBatch) -> Result<(), IndexError>,
) -> Result<(), IndexError> {
    let mut slots: Vec<RecordBatch> = Vec::new();
    let mut cursors: Vec<RunCursor> = Vec::with_capacity(runs.len());
    let mut heap: BinaryHeap<Reverse<(u32, usize)>> = BinaryHeap::new();
    for (i, path) in runs.iter().enumerate() {
        let file = File::open(path).map_err(|source| IndexError::Io {
            path: path.clone(),
            source,
        })?;
        let reader = arrow_ipc::reader::StreamReader::try_new(BufReader::new(file), None).map_err(
            |source| IndexError::Arrow {
                path: path.clone(),
                source,
            },
        )?;
        let mut c = RunCursor {
            reader,
            slot: 0,
            keys: arrow_array::UInt32Array::from(Vec::<u32>::new()),
            row: 0,
            path: path.clone(),
        };
        if c.advance(&mut slots)? {
            heap.push(Reverse((c.keys.value(0), i)));
        }
        cursors.push(c);
    }
    let mut idx: Vec<(usize, usize)> = Vec::with_capacity(chunk);
    let flush = |idx: &mut Vec<(usize, usize)>,
                 slots: &mut Vec<RecordBatch>,
                 cursors: &mut [RunCursor],
                 emit: &mut dyn FnMut(RecordBatch) -> Result<(), IndexError>|
     -> Result<(), IndexError> {
        if idx.is_empty() {
            return Ok(());
        }
        let batch = gather(slots, idx).map_err(|source| IndexError::Arrow {
            path: PathBuf::from("<merge>"),
            source,
        })?;
        idx.clear();
        // Keep only the batches the cursors still point into.
        let mut kept = Vec::with_capacity(cursors.len());
        for c in cursors.iter_mut() {
            if c.slot < slots.len() {
                kept.push(slots[c.slot].clone());
                c.slot = kept.len() - 1;
            }
        }
        *slots = kept;
        emit(batch)
    };
    while let Some(Reverse((_, run))) = heap.pop() {
        // Take rows from this run while they sort before the next run's head.
        let limit = heap.peek().map(|Reverse(top)| *top);
        loop {
            let c = &mut cursors[run];
            idx.push((c.slot, c.row));
            c.row += 1;
            if idx.len() >= chunk {
                flush(&mut idx, &mut slots, &mut cursors, &mut emit)?;
            }
            let c = &mut cursors[run];
            if c.row >= c.keys.len() {
                if c.advance(&mut slots)? {
                    heap.push(Reverse((c.keys.value(0), run)));
                }
                break;
            }
            let next = (c.keys.value(c.row), run);
            if limit.is_some_and(|l| next > l) {
                heap.push(Reverse(next));
                break;
            }
        }
    }
    flush(&mut idx, &mut slots, &mut cursors, &mut emit)
}
