//! Source stage: columnar points from Parquet files or from Arrow record
//! batches in memory.
//!
//! Responsible for finding the input files (paths, directories, globs),
//! reading their metadata once, checking that the requested columns exist with
//! usable types, and streaming only the projected columns row group by row
//! group, so memory never grows with the row count. Row order is file order,
//! then row order within each file; that order defines `first` and `last`.
//!
//! An in-memory input ([`Source::from_batches`]) is read the same way: each
//! record batch plays the part of a row group, batches are sliced (never
//! copied) into work units, and row order is batch order.
//!
//! Decoding helpers turn Arrow arrays into the two shapes the aggregation
//! stage consumes: numeric columns as `f64` with nulls as NaN, and category
//! columns as `u32` codes into a sorted category list.

mod categories;
mod decode;
mod error;
mod geometry;
mod pages;
mod range;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::{RecordBatch, RecordBatchReader};
use arrow_schema::{DataType, SchemaRef};
use bytes::Bytes;
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder, RowSelection,
    RowSelector,
};
use parquet::arrow::ProjectionMask;

pub use categories::{Categorizer, CategoryKind, CategoryMap};
pub use decode::{is_numeric as is_numeric_type, is_numeric_list, list_to_f64, numeric_to_f64};
pub use error::SourceError;
pub(crate) use geometry::{decode_geometry, GeometryBuf, GeometryDecodeError, GeometryKind};

/// The sample dataset shipped in `data/`, embedded in the library so that
/// `pointillist render` with no input shows a real picture anywhere.
pub const SAMPLE_PARQUET: &[u8] = include_bytes!("../../data/sample.parquet");

/// Label used for the embedded sample in messages.
pub const SAMPLE_LABEL: &str = "<embedded sample data/sample.parquet>";

/// Rows per work unit: row groups larger than this are split so that work
/// spreads over threads. Fixed (not derived from the thread count) so that
/// results do not depend on how many threads run.
pub const UNIT_ROWS: usize = 1 << 20;

/// Rows per decoded record batch.
pub const BATCH_ROWS: usize = 64 * 1024;

#[derive(Debug, Clone)]
enum Backing {
    Path(PathBuf),
    Memory(Bytes),
}

#[derive(Debug, Clone)]
struct SourceFile {
    backing: Backing,
    label: String,
    meta: ArrowReaderMetadata,
    /// `meta` with every string column read as `Dictionary(Int32, _)`, made
    /// on first use by [`Source::read_unit_runs_dictionary`].
    dict_meta: std::sync::OnceLock<Option<ArrowReaderMetadata>>,
}

impl SourceFile {
    /// The reader metadata that reads string columns as dictionaries
    /// (Parquet's dictionary pages then give the keys without decoding a
    /// string per row); `meta` itself when there is no plain string column
    /// or the hint cannot be applied.
    fn dictionary_meta(&self) -> &ArrowReaderMetadata {
        self.dict_meta
            .get_or_init(|| {
                let schema = self.meta.schema();
                let mut changed = false;
                let fields: Vec<arrow_schema::FieldRef> = schema
                    .fields()
                    .iter()
                    .map(|f| match f.data_type() {
                        DataType::Utf8 | DataType::LargeUtf8 => {
                            changed = true;
                            Arc::new(f.as_ref().clone().with_data_type(DataType::Dictionary(
                                Box::new(DataType::Int32),
                                Box::new(f.data_type().clone()),
                            )))
                        }
                        _ => f.clone(),
                    })
                    .collect();
                if !changed {
                    return None;
                }
                let hinted = Arc::new(arrow_schema::Schema::new_with_metadata(
                    fields,
                    schema.metadata().clone(),
                ));
                ArrowReaderMetadata::try_new(
                    self.meta.metadata().clone(),
                    reader_options().with_schema(hinted),
                )
                .ok()
            })
            .as_ref()
            .unwrap_or(&self.meta)
    }
}

/// One slice of the input read as a unit of work: `rows` rows of row group
/// `row_group` of file `file`, starting `offset` rows into that row group.
/// Units are listed in row order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unit {
    /// Index of the file in [`Source::files`] order.
    pub file: usize,
    /// Row group within the file.
    pub row_group: usize,
    /// First row within the row group.
    pub offset: usize,
    /// Number of rows.
    pub rows: usize,
    /// Global index of the unit's first row in the whole input.
    pub first_row: u64,
}

/// Record batches held in memory (shared, not copied), read as one table.
#[derive(Debug, Clone)]
struct MemoryTable {
    label: String,
    schema: SchemaRef,
    batches: Vec<RecordBatch>,
    /// Row position of the first row in the whole input.
    first_row: u64,
}

/// A set of Parquet files, or of in-memory record batches, read as one
/// table in row order.
#[derive(Debug, Clone)]
pub struct Source {
    files: Vec<SourceFile>,
    memory: Option<MemoryTable>,
}

/// Check that batch `index` of in-memory input `label` has `schema`'s
/// fields (names and types; metadata may differ).
pub fn check_batch_schema(
    label: &str,
    schema: &arrow_schema::Schema,
    index: usize,
    batch: &RecordBatch,
) -> Result<(), SourceError> {
    let found = batch.schema();
    let same = found.fields().len() == schema.fields().len()
        && found
            .fields()
            .iter()
            .zip(schema.fields())
            .all(|(a, e)| a.name() == e.name() && a.data_type() == e.data_type());
    if same {
        return Ok(());
    }
    Err(SourceError::BatchSchema {
        label: label.to_string(),
        index,
        expected: fields_of(schema),
        found: fields_of(&found),
    })
}

/// The fields of a schema (names and types, no metadata), for messages and
/// comparisons.
fn fields_of(schema: &arrow_schema::Schema) -> String {
    let fields: Vec<String> = schema
        .fields()
        .iter()
        .map(|f| format!("{}: {}", f.name(), f.data_type()))
        .collect();
    format!("[{}]", fields.join(", "))
}

/// How every file's footer is read: with its page index where it has one
/// (for [`Source::unit_row_runs`]).
fn reader_options() -> ArrowReaderOptions {
    ArrowReaderOptions::new()
        .with_page_index_policy(parquet::file::metadata::PageIndexPolicy::Optional)
}

impl Source {
    /// Open inputs given as file paths, directories (their `*.parquet` files,
    /// sorted by name) or glob patterns (matches sorted by name). Reads each
    /// file's footer once.
    pub fn open<P: AsRef<Path>>(inputs: &[P]) -> Result<Source, SourceError> {
        let paths = resolve_inputs(inputs)?;
        let mut files = Vec::with_capacity(paths.len());
        for path in paths {
            let label = path.display().to_string();
            let file = File::open(&path).map_err(|source| SourceError::Io {
                path: label.clone(),
                source,
            })?;
            let meta = ArrowReaderMetadata::load(&file, reader_options()).map_err(|source| {
                SourceError::NotParquet {
                    path: label.clone(),
                    source,
                }
            })?;
            files.push(SourceFile {
                backing: Backing::Path(path),
                label,
                meta,
                dict_meta: Default::default(),
            });
        }
        Ok(Source {
            files,
            memory: None,
        })
    }

    /// A source over record batches already in memory (from DataFusion,
    /// Polars, Flight, an IPC stream, ...), read in batch order. The batches
    /// are shared, not copied; each one is a "row group" of the input, cut
    /// into work units like a Parquet row group. Every batch must have
    /// `schema`'s fields (names and types; metadata may differ).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use arrow_array::{Float64Array, RecordBatch};
    /// use arrow_schema::{DataType, Field, Schema};
    /// use pointillist::source::Source;
    ///
    /// let schema = Arc::new(Schema::new(vec![
    ///     Field::new("x", DataType::Float64, false),
    ///     Field::new("y", DataType::Float64, false),
    /// ]));
    /// let batch = RecordBatch::try_new(
    ///     schema.clone(),
    ///     vec![
    ///         Arc::new(Float64Array::from(vec![0.0, 1.0, 2.0])),
    ///         Arc::new(Float64Array::from(vec![5.0, 6.0, 7.0])),
    ///     ],
    /// )?;
    /// let source = Source::from_batches("points", schema, vec![batch])?;
    /// assert_eq!(source.num_rows(), 3);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_batches(
        label: &str,
        schema: SchemaRef,
        batches: Vec<RecordBatch>,
    ) -> Result<Source, SourceError> {
        Source::from_batches_at(label, schema, batches, 0)
    }

    /// [`Source::from_batches`] for batches that are a later part of a
    /// larger input: their first row is row `first_row` of the whole input
    /// (the position that `first`/`last` and partials go by).
    pub fn from_batches_at(
        label: &str,
        schema: SchemaRef,
        batches: Vec<RecordBatch>,
        first_row: u64,
    ) -> Result<Source, SourceError> {
        for (index, b) in batches.iter().enumerate() {
            check_batch_schema(label, &schema, index, b)?;
        }
        Ok(Source {
            files: Vec::new(),
            memory: Some(MemoryTable {
                label: label.to_string(),
                schema,
                batches,
                first_row,
            }),
        })
    }

    /// A source over every batch of `reader` (an Arrow IPC stream, a
    /// DataFusion or Flight stream, ...), gathered in memory in order.
    pub fn from_reader(label: &str, reader: impl RecordBatchReader) -> Result<Source, SourceError> {
        let schema = reader.schema();
        let mut batches = Vec::new();
        for (index, b) in reader.enumerate() {
            batches.push(b.map_err(|source| SourceError::BatchStream {
                label: label.to_string(),
                index,
                source,
            })?);
        }
        Source::from_batches(label, schema, batches)
    }

    /// Whether the input is record batches in memory rather than Parquet.
    pub fn is_in_memory(&self) -> bool {
        self.memory.is_some()
    }

    /// A source over Parquet bytes held in memory.
    pub fn from_bytes(bytes: Bytes, label: &str) -> Result<Source, SourceError> {
        let meta = ArrowReaderMetadata::load(&bytes, reader_options()).map_err(|source| {
            SourceError::NotParquet {
                path: label.to_string(),
                source,
            }
        })?;
        Ok(Source {
            files: vec![SourceFile {
                backing: Backing::Memory(bytes),
                label: label.to_string(),
                meta,
                dict_meta: Default::default(),
            }],
            memory: None,
        })
    }

    /// The sample dataset embedded in the binary (see `data/README.md`).
    pub fn sample() -> Result<Source, SourceError> {
        Source::from_bytes(Bytes::from_static(SAMPLE_PARQUET), SAMPLE_LABEL)
    }

    /// The input files, as labels (paths), in row order.
    pub fn files(&self) -> Vec<&str> {
        match &self.memory {
            Some(m) => vec![m.label.as_str()],
            None => self.files.iter().map(|f| f.label.as_str()).collect(),
        }
    }

    /// Total number of rows over all files (or batches).
    pub fn num_rows(&self) -> u64 {
        if let Some(m) = &self.memory {
            return m.batches.iter().map(|b| b.num_rows() as u64).sum();
        }
        self.files
            .iter()
            .map(|f| f.meta.metadata().file_metadata().num_rows().max(0) as u64)
            .sum()
    }

    /// Number of row groups (batches, for an in-memory input) over all
    /// files: the units that [`Source::units`] splits further.
    pub fn num_row_groups(&self) -> usize {
        match &self.memory {
            Some(m) => m.batches.len(),
            None => self
                .files
                .iter()
                .map(|f| f.meta.metadata().num_row_groups())
                .sum(),
        }
    }

    /// Column names of the first file, in schema order.
    pub fn column_names(&self) -> Vec<String> {
        if let Some(m) = &self.memory {
            return m.schema.fields().iter().map(|f| f.name().clone()).collect();
        }
        self.files
            .first()
            .map(|f| {
                f.meta
                    .schema()
                    .fields()
                    .iter()
                    .map(|fl| fl.name().clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The Arrow data type of `column` in every file, checking it exists.
    fn column_types(&self, column: &str) -> Result<Vec<DataType>, SourceError> {
        if let Some(m) = &self.memory {
            return match m.schema.field_with_name(column) {
                Ok(field) => Ok(vec![field.data_type().clone()]),
                Err(_) => Err(SourceError::MissingColumn {
                    path: m.label.clone(),
                    column: column.to_string(),
                    available: self.column_names(),
                }),
            };
        }
        self.files
            .iter()
            .map(|f| {
                let schema = f.meta.schema();
                match schema.field_with_name(column) {
                    Ok(field) => Ok(field.data_type().clone()),
                    Err(_) => Err(SourceError::MissingColumn {
                        path: f.label.clone(),
                        column: column.to_string(),
                        available: schema.fields().iter().map(|fl| fl.name().clone()).collect(),
                    }),
                }
            })
            .collect()
    }

    /// Check that `column` exists in every file with a numeric type
    /// (integer or floating point).
    pub fn check_numeric(&self, column: &str) -> Result<(), SourceError> {
        let types = self.column_types(column)?;
        for (label, dt) in self.files().into_iter().zip(types) {
            if !decode::is_numeric(&dt) {
                return Err(SourceError::NotNumeric {
                    path: label.to_string(),
                    column: column.to_string(),
                    found: dt.to_string(),
                });
            }
        }
        Ok(())
    }

    /// Check that `column` exists in every file (of any type).
    pub fn check_column(&self, column: &str) -> Result<(), SourceError> {
        self.column_types(column).map(|_| ())
    }

    /// Check that `column` exists in every file as integers or booleans
    /// (what `category_modulo` takes).
    pub fn check_integer(&self, column: &str) -> Result<(), SourceError> {
        let types = self.column_types(column)?;
        for (label, dt) in self.files().into_iter().zip(types) {
            let ok = decode::is_integer(&dt)
                || dt == DataType::Boolean
                || matches!(&dt, DataType::Dictionary(_, v) if decode::is_integer(v));
            if !ok {
                return Err(SourceError::NotNumeric {
                    path: label.to_string(),
                    column: column.to_string(),
                    found: format!("{dt} (category_modulo needs an integer column)"),
                });
            }
        }
        Ok(())
    }

    /// Check that `column` exists in every file as lists of numbers (one
    /// ragged line per row).
    pub fn check_numeric_list(&self, column: &str) -> Result<(), SourceError> {
        let types = self.column_types(column)?;
        for (label, dt) in self.files().into_iter().zip(types) {
            if !decode::is_numeric_list(&dt) {
                return Err(SourceError::NotNumericList {
                    path: label.to_string(),
                    column: column.to_string(),
                    found: dt.to_string(),
                });
            }
        }
        Ok(())
    }

    /// What geometry column `column` holds in each file (in
    /// [`Source::files`] order): lines or polygons, GeoArrow or WKB.
    pub(crate) fn check_geometry(&self, column: &str) -> Result<Vec<GeometryKind>, SourceError> {
        self.column_types(column)?;
        let not = |path: &str, found: String| SourceError::NotLineGeometry {
            path: path.to_string(),
            column: column.to_string(),
            found,
        };
        if let Some(m) = &self.memory {
            let field = m
                .schema
                .field_with_name(column)
                .map_err(|_| not(&m.label, "nothing".into()))?;
            let geo = m.schema.metadata().get("geo").map(String::as_str);
            return Ok(vec![
                geometry::geometry_kind(field, geo).map_err(|f| not(&m.label, f))?
            ]);
        }
        self.files
            .iter()
            .map(|f| {
                let schema = f.meta.schema();
                let field = schema
                    .field_with_name(column)
                    .map_err(|_| not(&f.label, "nothing".into()))?;
                let kv = f.meta.metadata().file_metadata().key_value_metadata();
                let geo = kv
                    .and_then(|kv| kv.iter().find(|e| e.key == "geo"))
                    .and_then(|e| e.value.as_deref());
                geometry::geometry_kind(field, geo).map_err(|found| not(&f.label, found))
            })
            .collect()
    }

    /// The error for a batch of geometry column `column` of file `file`,
    /// whose first row is `first_row` in the whole input, that did not
    /// decode.
    pub(crate) fn geometry_error(
        &self,
        file: usize,
        column: &str,
        first_row: u64,
        e: GeometryDecodeError,
    ) -> SourceError {
        let (path, column) = (self.file_label(file).to_string(), column.to_string());
        match e {
            GeometryDecodeError::Type(found) => SourceError::NotLineGeometry {
                path,
                column,
                found: format!("type {found}"),
            },
            GeometryDecodeError::Row { row, reason } => SourceError::BadGeometry {
                path,
                column,
                row: first_row + row as u64,
                reason,
            },
        }
    }

    /// Check that `column` can serve as a category column in every file and
    /// say whether it holds strings or integers.
    pub fn check_category(&self, column: &str) -> Result<CategoryKind, SourceError> {
        let types = self.column_types(column)?;
        let mut kind: Option<CategoryKind> = None;
        for (label, dt) in self.files().into_iter().zip(types) {
            let k = CategoryKind::of(&dt).ok_or_else(|| SourceError::NotCategorical {
                path: label.to_string(),
                column: column.to_string(),
                found: dt.to_string(),
            })?;
            match kind {
                None => kind = Some(k),
                Some(prev) if prev != k => {
                    return Err(SourceError::MixedCategoryTypes {
                        path: label.to_string(),
                        column: column.to_string(),
                    })
                }
                Some(_) => {}
            }
        }
        kind.ok_or(SourceError::NoFiles {
            pattern: String::new(),
        })
    }

    /// The work units over the whole input, in row order. Row groups larger
    /// than `max_rows` are split into pieces of at most `max_rows`.
    pub fn units(&self, max_rows: usize) -> Vec<Unit> {
        let max_rows = max_rows.max(1);
        let mut units = Vec::new();
        let mut first_row = self.memory.as_ref().map_or(0, |m| m.first_row);
        let groups: Vec<Vec<usize>> = match &self.memory {
            Some(m) => vec![m.batches.iter().map(RecordBatch::num_rows).collect()],
            None => self
                .files
                .iter()
                .map(|f| {
                    f.meta
                        .metadata()
                        .row_groups()
                        .iter()
                        .map(|rg| rg.num_rows().max(0) as usize)
                        .collect()
                })
                .collect(),
        };
        for (fi, f) in groups.iter().enumerate() {
            for (ri, &n) in f.iter().enumerate() {
                let mut offset = 0;
                while offset < n {
                    let rows = (n - offset).min(max_rows);
                    units.push(Unit {
                        file: fi,
                        row_group: ri,
                        offset,
                        rows,
                        first_row,
                    });
                    offset += rows;
                    first_row += rows as u64;
                }
            }
        }
        units
    }

    /// Stream the rows of `unit`, projected on `columns`, as record batches of
    /// at most `batch_rows` rows. Each batch holds the named columns, looked
    /// up by name.
    pub fn read_unit(
        &self,
        unit: &Unit,
        columns: &[&str],
        batch_rows: usize,
    ) -> Result<UnitReader, SourceError> {
        self.read_unit_runs(unit, columns, batch_rows, None)
    }

    /// Rows `rows` (positions in the whole input; any order, repeats
    /// allowed) of `columns`, each as a one-row batch with its position,
    /// in row order. Rows past the end are left out. Only the row groups
    /// that hold them are read, and within those only the pages that do
    /// where the file has a page index.
    pub fn read_rows(
        &self,
        rows: &[u64],
        columns: &[&str],
    ) -> Result<Vec<(u64, arrow_array::RecordBatch)>, SourceError> {
        let mut wanted: Vec<u64> = rows.to_vec();
        wanted.sort_unstable();
        wanted.dedup();
        let mut out = Vec::with_capacity(wanted.len());
        if wanted.is_empty() {
            return Ok(out);
        }
        for unit in self.units(UNIT_ROWS) {
            let end = unit.first_row + unit.rows as u64;
            let lo = wanted.partition_point(|&r| r < unit.first_row);
            let hi = wanted.partition_point(|&r| r < end);
            if lo == hi {
                continue;
            }
            let inside = &wanted[lo..hi];
            let runs: Vec<(usize, usize)> = inside
                .iter()
                .map(|&r| ((r - unit.first_row) as usize, 1))
                .collect();
            let mut next = inside.iter();
            for batch in self.read_unit_runs(&unit, columns, BATCH_ROWS, Some(&runs))? {
                let batch = batch?;
                for i in 0..batch.num_rows() {
                    if let Some(&row) = next.next() {
                        out.push((row, batch.slice(i, 1)));
                    }
                }
            }
        }
        Ok(out)
    }

    /// [`Source::read_unit`], reading only `runs` of the unit's rows
    /// (`(offset within the unit, rows)`, in order, disjoint; from
    /// [`Source::unit_row_runs`]); the batches hold the runs' rows one after
    /// the other. `None` reads the whole unit. Pages outside the runs are
    /// not decoded where the file has a page index.
    pub fn read_unit_runs(
        &self,
        unit: &Unit,
        columns: &[&str],
        batch_rows: usize,
        runs: Option<&[(usize, usize)]>,
    ) -> Result<UnitReader, SourceError> {
        self.read_unit_as(unit, columns, batch_rows, runs, false)
    }

    /// [`Source::read_unit_runs`], with plain string columns of Parquet
    /// files read as `Dictionary(Int32, Utf8)`: where their pages are
    /// dictionary-encoded (DuckDB's and Spark's category columns, which
    /// carry no Arrow schema), a batch then shares the chunk's dictionary
    /// and category codes come from its few entries, not a string lookup
    /// per row. In-memory inputs are returned as they are.
    pub fn read_unit_runs_dictionary(
        &self,
        unit: &Unit,
        columns: &[&str],
        batch_rows: usize,
        runs: Option<&[(usize, usize)]>,
    ) -> Result<UnitReader, SourceError> {
        self.read_unit_as(unit, columns, batch_rows, runs, true)
    }

    fn read_unit_as(
        &self,
        unit: &Unit,
        columns: &[&str],
        batch_rows: usize,
        runs: Option<&[(usize, usize)]>,
        dictionary: bool,
    ) -> Result<UnitReader, SourceError> {
        if let Some(m) = &self.memory {
            return m.read_unit(unit, columns, batch_rows);
        }
        let f = self
            .files
            .get(unit.file)
            .ok_or(SourceError::NoSuchFile { index: unit.file })?;
        let schema = f.meta.schema();
        let mut indices = Vec::with_capacity(columns.len());
        for c in columns {
            let idx = schema.index_of(c).map_err(|_| SourceError::MissingColumn {
                path: f.label.clone(),
                column: (*c).to_string(),
                available: schema.fields().iter().map(|fl| fl.name().clone()).collect(),
            })?;
            if !indices.contains(&idx) {
                indices.push(idx);
            }
        }
        let mask = ProjectionMask::roots(f.meta.parquet_schema(), indices);
        let rg_rows = f
            .meta
            .metadata()
            .row_group(unit.row_group)
            .num_rows()
            .max(0) as usize;
        let whole = [(0, unit.rows)];
        let runs = runs.unwrap_or(&whole);
        let selection = if runs == whole && unit.offset == 0 && unit.rows == rg_rows {
            None
        } else {
            let mut sel = Vec::with_capacity(2 * runs.len() + 1);
            let mut at = 0;
            for &(start, rows) in runs {
                let start = unit.offset + start;
                if start > at {
                    sel.push(RowSelector::skip(start - at));
                }
                sel.push(RowSelector::select(rows));
                at = start + rows;
            }
            Some(RowSelection::from(sel))
        };
        let read_err = |source: parquet::errors::ParquetError| SourceError::Corrupt {
            path: f.label.clone(),
            source,
        };
        fn build<T: parquet::file::reader::ChunkReader + 'static>(
            input: T,
            meta: &ArrowReaderMetadata,
            mask: ProjectionMask,
            row_group: usize,
            batch_rows: usize,
            selection: Option<RowSelection>,
        ) -> parquet::errors::Result<parquet::arrow::arrow_reader::ParquetRecordBatchReader>
        {
            let mut b = ParquetRecordBatchReaderBuilder::new_with_metadata(input, meta.clone())
                .with_projection(mask)
                .with_row_groups(vec![row_group])
                .with_batch_size(batch_rows.max(1));
            if let Some(s) = selection {
                b = b.with_row_selection(s);
            }
            b.build()
        }
        let meta = if dictionary {
            f.dictionary_meta()
        } else {
            &f.meta
        };
        let reader = match &f.backing {
            Backing::Path(p) => {
                let file = File::open(p).map_err(|source| SourceError::Io {
                    path: f.label.clone(),
                    source,
                })?;
                build(file, meta, mask, unit.row_group, batch_rows, selection)
            }
            Backing::Memory(bytes) => build(
                bytes.clone(),
                meta,
                mask,
                unit.row_group,
                batch_rows,
                selection,
            ),
        }
        .map_err(read_err)?;
        Ok(UnitReader {
            inner: Reader::Parquet(reader),
            label: f.label.clone(),
        })
    }

    /// Label (path) of file `index`.
    pub fn file_label(&self, index: usize) -> &str {
        if let Some(m) = &self.memory {
            return &m.label;
        }
        self.files.get(index).map_or("?", |f| f.label.as_str())
    }

    /// The Arrow schema of file `index`.
    pub fn schema_of(&self, index: usize) -> Option<&SchemaRef> {
        if let Some(m) = &self.memory {
            return (index == 0).then_some(&m.schema);
        }
        self.files.get(index).map(|f| f.meta.schema())
    }
}

impl MemoryTable {
    /// The rows of `unit` (a slice of one batch), projected on `columns`,
    /// in slices of at most `batch_rows` rows. Nothing is copied.
    fn read_unit(
        &self,
        unit: &Unit,
        columns: &[&str],
        batch_rows: usize,
    ) -> Result<UnitReader, SourceError> {
        let missing = |column: &str| SourceError::MissingColumn {
            path: self.label.clone(),
            column: column.to_string(),
            available: self
                .schema
                .fields()
                .iter()
                .map(|f| f.name().clone())
                .collect(),
        };
        let batch = self
            .batches
            .get(unit.row_group)
            .filter(|b| unit.offset + unit.rows <= b.num_rows())
            .ok_or_else(|| SourceError::NoSuchRows {
                label: self.label.clone(),
                batch: unit.row_group,
                start: unit.offset,
                end: unit.offset + unit.rows,
            })?;
        let mut indices = Vec::with_capacity(columns.len());
        for c in columns {
            let idx = self.schema.index_of(c).map_err(|_| missing(c))?;
            if !indices.contains(&idx) {
                indices.push(idx);
            }
        }
        let projected = batch
            .project(&indices)
            .map_err(|source| SourceError::Decode {
                path: self.label.clone(),
                source,
            })?;
        let step = batch_rows.max(1);
        let slices: Vec<RecordBatch> = (unit.offset..unit.offset + unit.rows)
            .step_by(step)
            .map(|start| projected.slice(start, step.min(unit.offset + unit.rows - start)))
            .collect();
        Ok(UnitReader {
            inner: Reader::Memory(slices.into_iter()),
            label: self.label.clone(),
        })
    }
}

#[derive(Debug)]
enum Reader {
    Parquet(parquet::arrow::arrow_reader::ParquetRecordBatchReader),
    Memory(std::vec::IntoIter<RecordBatch>),
}

/// Record batches of one work unit, in row order.
#[derive(Debug)]
pub struct UnitReader {
    inner: Reader,
    label: String,
}

impl Iterator for UnitReader {
    type Item = Result<RecordBatch, SourceError>;

    fn next(&mut self) -> Option<Self::Item> {
        match &mut self.inner {
            Reader::Memory(it) => it.next().map(Ok),
            Reader::Parquet(r) => r.next().map(|r| {
                r.map_err(|source| SourceError::Decode {
                    path: self.label.clone(),
                    source,
                })
            }),
        }
    }
}

/// Append `found`, sorted by name, or fail with `empty` when there is none.
fn push_sorted(
    out: &mut Vec<PathBuf>,
    mut found: Vec<PathBuf>,
    empty: impl FnOnce() -> SourceError,
) -> Result<(), SourceError> {
    if found.is_empty() {
        return Err(empty());
    }
    found.sort();
    out.extend(found);
    Ok(())
}

/// Expand the user's inputs into an ordered list of files.
fn resolve_inputs<P: AsRef<Path>>(inputs: &[P]) -> Result<Vec<PathBuf>, SourceError> {
    let mut out = Vec::new();
    for input in inputs {
        let p = input.as_ref();
        let s = p.to_string_lossy();
        if p.is_dir() {
            let found: Vec<PathBuf> = std::fs::read_dir(p)
                .map_err(|source| SourceError::Io {
                    path: s.to_string(),
                    source,
                })?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|q| {
                    q.is_file()
                        && q.extension()
                            .is_some_and(|e| e.eq_ignore_ascii_case("parquet"))
                })
                .collect();
            push_sorted(&mut out, found, || SourceError::EmptyDirectory {
                path: s.to_string(),
            })?;
        } else if p.exists() {
            out.push(p.to_path_buf());
        } else if s.contains(['*', '?', '[']) {
            let entries = glob::glob(&s).map_err(|source| SourceError::Glob {
                pattern: s.to_string(),
                source,
            })?;
            let found: Vec<PathBuf> = entries
                .filter_map(Result::ok)
                .filter(|q| q.is_file())
                .collect();
            push_sorted(&mut out, found, || SourceError::NoFiles {
                pattern: s.to_string(),
            })?;
        } else {
            return Err(SourceError::Io {
                path: s.to_string(),
                source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"),
            });
        }
    }
    if out.is_empty() {
        return Err(SourceError::NoFiles {
            pattern: String::new(),
        });
    }
    Ok(out)
}

pub use pages::PageTest;
pub(crate) use range::geometry_range;
pub use range::{auto_range, nan_min_max, range_from_metadata};

/// Shared handle used by the aggregation stage.
pub type SharedSource = Arc<Source>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_is_readable() {
        let s = Source::sample().expect("sample");
        assert!(s.num_rows() > 0);
        assert!(s.column_names().iter().any(|c| c == "x"));
        assert!(s.schema_of(0).is_some());
    }

    #[test]
    fn units_cover_every_row_once_in_order() {
        let s = Source::sample().expect("sample");
        let units = s.units(1000);
        let mut next = 0u64;
        for u in &units {
            assert_eq!(u.first_row, next);
            assert!(u.rows <= 1000 && u.rows > 0);
            next += u.rows as u64;
        }
        assert_eq!(next, s.num_rows());
    }

    /// A plain string column of a file without an Arrow schema (as DuckDB
    /// writes them), with dictionary or plain pages: read as a dictionary,
    /// the rows code exactly as the plain read does.
    #[test]
    fn string_columns_read_as_dictionaries_code_the_same() {
        use arrow_array::{Array, ArrayRef, StringArray};
        use parquet::arrow::arrow_writer::ArrowWriterOptions;
        use parquet::arrow::ArrowWriter;
        use parquet::file::properties::WriterProperties;

        use super::categories::{CategoryKind, CategoryMap};

        let labels = ["pear", "apple", "fig", "kiwi"];
        let cat: ArrayRef = Arc::new(StringArray::from(
            (0..5000)
                .map(|i| (i % 7 != 3).then(|| labels[(i * 31 + i / 100) % 4]))
                .collect::<Vec<_>>(),
        ));
        let schema = Arc::new(arrow_schema::Schema::new(vec![arrow_schema::Field::new(
            "cat",
            DataType::Utf8,
            true,
        )]));
        let batch = RecordBatch::try_new(schema.clone(), vec![cat]).expect("batch");
        let map = CategoryMap::new(
            CategoryKind::Strings,
            vec!["apple".into(), "fig".into(), "pear".into()],
        )
        .expect("map");
        for dictionary in [true, false] {
            let props = WriterProperties::builder()
                .set_dictionary_enabled(dictionary)
                .set_max_row_group_row_count(Some(1500))
                .build();
            let opts = ArrowWriterOptions::new()
                .with_properties(props)
                .with_skip_arrow_metadata(true);
            let mut buf = Vec::new();
            let mut w =
                ArrowWriter::try_new_with_options(&mut buf, schema.clone(), opts).expect("writer");
            w.write(&batch).expect("write");
            w.close().expect("close");
            let s = Source::from_bytes(Bytes::from(buf), "strings").expect("source");
            let units = s.units(UNIT_ROWS);
            assert_eq!(units.len(), 4);
            let (mut plain, mut dict) = (Vec::new(), Vec::new());
            let mut codes = Vec::new();
            for u in &units {
                for b in s.read_unit_runs(u, &["cat"], 512, None).expect("read") {
                    let b = b.expect("batch");
                    assert_eq!(b.column(0).data_type(), &DataType::Utf8);
                    assert!(map.codes(b.column(0).as_ref(), &mut codes));
                    plain.extend_from_slice(&codes);
                }
                for b in s
                    .read_unit_runs_dictionary(u, &["cat"], 512, None)
                    .expect("read")
                {
                    let b = b.expect("batch");
                    assert!(matches!(b.column(0).data_type(), DataType::Dictionary(..)));
                    assert!(map.codes(b.column(0).as_ref(), &mut codes));
                    dict.extend_from_slice(&codes);
                }
            }
            assert_eq!(plain.len(), 5000);
            assert_eq!(plain, dict, "dictionary pages: {dictionary}");
            assert!(plain.contains(&CategoryMap::NONE) && plain.contains(&2));
        }
    }

    #[test]
    fn missing_file_is_a_clear_error() {
        let err = Source::open(&["/nonexistent/x.parquet"]).expect_err("must fail");
        let msg = err.to_string();
        assert!(msg.contains("/nonexistent/x.parquet"), "{msg}");
    }
}
