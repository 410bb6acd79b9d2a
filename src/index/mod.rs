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

mod encode;
mod keys;
mod run;
mod spill;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use parquet::basic::Compression;
use parquet::file::metadata::KeyValue;
use parquet::file::properties::{EnabledStatistics, WriterProperties};

pub use keys::{hilbert_index, HILBERT_BITS};

use crate::source::{auto_range, Source, SourceError, UnitReader, BATCH_ROWS, UNIT_ROWS};
use keys::Keyer;
use run::{Run, SharedDictionaries, SortScratch, MAX_BATCH_ROWS, SORT_BYTES_PER_ROW};
use spill::{spill_run, InMemory, Merge, SpillTimes, SpilledRun};

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
    let started = Instant::now();
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

    let file = tmp.as_file().try_clone().map_err(io_err)?;
    let out_rows = opts.row_group_rows.clamp(1, BATCH_ROWS);
    let mut output = encode::Output::new(
        file,
        out,
        &schema,
        writer_properties(opts, &schema, extent),
        opts.row_group_rows,
        out_rows,
    )?;
    let col_refs: Vec<&str> = columns.iter().map(String::as_str).collect();
    let mut reader = RunReader {
        source,
        units: source.units(UNIT_ROWS).into_iter(),
        current: None,
        columns: &col_refs,
        shared: &shared,
        keyer,
        x: &opts.x,
        y: &opts.y,
        schema: &schema,
        out: out.to_path_buf(),
        finished: false,
        busy: Duration::ZERO,
    };
    let mut timings = Timings::default();

    // Phase 1: read in row order and cut into runs by memory. The first
    // run may take the whole share of the budget the sort has: if the input
    // ends there it is sorted and written without spilling.
    let sort_bytes = opts.memory_bytes / 10 * SORT_SHARE_TENTHS;
    let first = reader.read(sort_bytes)?;
    let mut spilled: Vec<SpilledRun> = Vec::new();
    let n_runs;
    if reader.finished {
        n_runs = 1;
        timings.read = reader.busy;
        let groups = groups_per_chunk(
            opts.memory_bytes.saturating_sub(first.bytes) / 3,
            opts.memory_bytes / 16,
            &first,
            opts.row_group_rows,
        );
        let t = Instant::now();
        let mut scratch = SortScratch::default();
        let mut rows = InMemory::new(&first, &mut scratch);
        (timings.gather, timings.encode) = output.write_all(&mut rows, groups)?;
        timings.write = t.elapsed();
    } else {
        // Otherwise runs of half the budget: one is sorted and spilled
        // while the next is read.
        let half = (sort_bytes / 2).max(1);
        let row_bytes = data_bytes_per_row(&first);
        let est_runs = usize::try_from(source.num_rows())
            .unwrap_or(usize::MAX)
            .div_ceil((first.rows / 2).max(1))
            .max(2);
        // The merge holds a batch or two of every run.
        let spill_rows =
            (opts.memory_bytes / 8 / est_runs / row_bytes.max(1)).clamp(1024, BATCH_ROWS);
        let mut scratch = SortScratch::default();
        let mut spill_busy = Duration::ZERO;
        let spill_one = |run: &Run, scratch: &mut SortScratch, n: usize| {
            let t = Instant::now();
            let s = spill_run(run, scratch, &schema, spill.path(), n, spill_rows);
            (s, t.elapsed())
        };
        let mut add = |s: Result<(SpilledRun, SpillTimes), IndexError>,
                       t: Duration,
                       spilled: &mut Vec<SpilledRun>|
         -> Result<(), IndexError> {
            let (s, times) = s?;
            spilled.push(s);
            spill_busy += t;
            timings.sort += times.sort;
            timings.spill_gather += times.gather;
            timings.spill_write += times.write;
            Ok(())
        };
        let (a, b) = first.split_in_two();
        let (s, t) = spill_one(&a, &mut scratch, 0);
        add(s, t, &mut spilled)?;
        drop(a);
        let mut full = Some(b);
        loop {
            let n = spilled.len();
            let (done, next) = rayon::join(
                || full.take().map(|run| spill_one(&run, &mut scratch, n)),
                || {
                    if reader.finished {
                        Ok(None)
                    } else {
                        reader.read(half).map(Some)
                    }
                },
            );
            if let Some((s, t)) = done {
                add(s, t, &mut spilled)?;
            }
            match next? {
                Some(run) if run.rows > 0 => full = Some(run),
                _ => break,
            }
        }
        drop(scratch);
        n_runs = spilled.len();
        timings.read = reader.busy;
        timings.spill = spill_busy;
        timings.phase1 = started.elapsed();

        // Phase 2: merge the runs.
        let row_bytes = row_bytes + 4;
        let groups =
            (opts.memory_bytes / 16 / (opts.row_group_rows.saturating_mul(row_bytes)).max(1))
                .clamp(1, 16);
        let t = Instant::now();
        let mut merge = Merge::open(&spilled, &shared)?;
        (timings.gather, timings.encode) = output.write_all(&mut merge, groups)?;
        timings.write = t.elapsed();
    }
    let meta = output.finish()?;
    let bytes = tmp.as_file().metadata().map_err(io_err)?.len();
    tmp.persist(out).map_err(|e| IndexError::Io {
        path: out.to_path_buf(),
        source: e.error,
    })?;
    drop(spill);
    timings.total = started.elapsed();
    if std::env::var_os("POINTILLIST_INDEX_TIMINGS").is_some() {
        eprintln!(
            "index timings: total {:.2} s; runs formed in {:.2} s: read+key {:.2} s while sort+spill {:.2} s (sort {:.2}, gather {:.2}, write {:.2}); written in {:.2} s: {} {:.2} s while encode+write {:.2} s; {} runs",
            timings.total.as_secs_f64(),
            timings.phase1.as_secs_f64(),
            timings.read.as_secs_f64(),
            timings.spill.as_secs_f64(),
            timings.sort.as_secs_f64(),
            timings.spill_gather.as_secs_f64(),
            timings.spill_write.as_secs_f64(),
            timings.write.as_secs_f64(),
            if n_runs > 1 { "merge" } else { "sort+gather" },
            timings.gather.as_secs_f64(),
            timings.encode.as_secs_f64(),
            n_runs
        );
    }
    Ok(IndexSummary {
        rows: meta.file_metadata().num_rows().max(0) as u64,
        row_groups: meta.num_row_groups(),
        runs: n_runs,
        bytes,
        extent,
    })
}

/// Tenths of [`IndexOptions::memory_bytes`] the rows being sorted may
/// take (counted as their Arrow buffers plus the sort's 20 bytes a row).
/// The rest is the reader's and writer's buffers and what the allocator
/// keeps of freed memory: two threads sorting and reading leave it holes
/// of both.
const SORT_SHARE_TENTHS: usize = 7;

/// Where the time went (printed with `POINTILLIST_INDEX_TIMINGS` set).
#[derive(Debug, Default)]
struct Timings {
    /// Reading, decoding, re-keying dictionaries and computing keys.
    read: Duration,
    /// Sorting runs and writing them out (concurrent with `read`).
    spill: Duration,
    /// Of `spill`: sorting, gathering the sorted rows, writing them.
    sort: Duration,
    spill_gather: Duration,
    spill_write: Duration,
    /// Of `write`: merging (or gathering the sorted run) and, concurrently,
    /// encoding and writing the output.
    gather: Duration,
    encode: Duration,
    /// Until every run was spilled.
    phase1: Duration,
    /// Sorting in memory or merging, and encoding and writing the output.
    write: Duration,
    total: Duration,
}

/// Row groups to gather before encoding them together: as many as fit in
/// `room` bytes (or at least `floor`), 1 to 16.
fn groups_per_chunk(room: usize, floor: usize, run: &Run, row_group_rows: usize) -> usize {
    let group = row_group_rows
        .saturating_mul(data_bytes_per_row(run))
        .max(1);
    (room.max(floor) / group).clamp(1, 16)
}

/// Decoded bytes per row of `run`'s data (without the sort's share).
fn data_bytes_per_row(run: &Run) -> usize {
    (run.bytes / run.rows.max(1))
        .saturating_sub(SORT_BYTES_PER_ROW)
        .max(1)
}

/// Rows per data page of the output.
const PAGE_ROWS: usize = 8192;

/// The output's writer settings.
fn writer_properties(
    opts: &IndexOptions,
    schema: &SchemaRef,
    extent: Option<((f64, f64), (f64, f64))>,
) -> WriterProperties {
    let mut props = WriterProperties::builder()
        .set_compression(opts.compression)
        .set_max_row_group_row_count(Some(opts.row_group_rows))
        .set_statistics_enabled(EnabledStatistics::Page)
        // Pages of a few thousand rows, each with its min and max in the
        // page index: a zoomed-in tile decodes only the pages it shows
        // (`Source::unit_row_runs`), not its whole row groups.
        .set_data_page_row_count_limit(PAGE_ROWS)
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
    props.build()
}

/// Reads the input in row order into runs: decoded, dictionaries re-keyed,
/// keys computed.
struct RunReader<'a> {
    source: &'a Source,
    units: std::vec::IntoIter<crate::source::Unit>,
    current: Option<UnitReader>,
    columns: &'a [&'a str],
    shared: &'a SharedDictionaries,
    keyer: Keyer,
    x: &'a str,
    y: &'a str,
    schema: &'a SchemaRef,
    out: PathBuf,
    /// The input has no more rows.
    finished: bool,
    /// Time spent reading.
    busy: Duration,
}

impl RunReader<'_> {
    fn next_batch(&mut self) -> Result<Option<RecordBatch>, IndexError> {
        loop {
            if let Some(r) = self.current.as_mut() {
                match r.next() {
                    Some(b) => return Ok(Some(b?)),
                    None => self.current = None,
                }
            }
            match self.units.next() {
                Some(u) => {
                    self.current = Some(self.source.read_unit(&u, self.columns, BATCH_ROWS)?)
                }
                None => return Ok(None),
            }
        }
    }

    /// The next run of at least `budget` bytes, or the rest of the input.
    fn read(&mut self, budget: usize) -> Result<Run, IndexError> {
        let started = Instant::now();
        let out = self.out.clone();
        let arrow_err = |source| IndexError::Arrow {
            path: out.clone(),
            source,
        };
        let mut run = Run::default();
        while run.bytes < budget {
            let Some(batch) = self.next_batch()? else {
                self.finished = true;
                break;
            };
            let columns = self.shared.apply(batch.columns()).map_err(arrow_err)?;
            let batch =
                RecordBatch::try_new(Arc::clone(self.schema), columns).map_err(arrow_err)?;
            let mut at = 0;
            while at < batch.num_rows() {
                let len = (batch.num_rows() - at).min(MAX_BATCH_ROWS);
                let piece = batch.slice(at, len);
                let mut keys = Vec::with_capacity(len);
                self.keyer.keys_into(&piece, self.x, self.y, &mut keys);
                run.push(piece, keys);
                at += len;
            }
        }
        self.busy += started.elapsed();
        Ok(run)
    }
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
