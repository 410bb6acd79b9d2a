//! Errors of the source stage, each naming the input and what to do.

/// What can go wrong while finding and reading Parquet input.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SourceError {
    /// A path that cannot be opened or read.
    #[error("cannot read '{path}': {source}; check the path and permissions")]
    Io {
        /// The path as the user gave it.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A glob or directory that matched no file.
    #[error("no input files match '{pattern}'; give Parquet files, a directory of *.parquet files, or a glob")]
    NoFiles {
        /// The pattern as given.
        pattern: String,
    },
    /// A directory without any `*.parquet` file.
    #[error("directory '{path}' holds no *.parquet files; give files or a glob instead")]
    EmptyDirectory {
        /// The directory.
        path: String,
    },
    /// The file is not Parquet, or its footer is corrupt.
    #[error("'{path}' is not a readable Parquet file ({source}); check that it is Parquet and not truncated")]
    NotParquet {
        /// The file.
        path: String,
        /// The parser's complaint.
        #[source]
        source: parquet::errors::ParquetError,
    },
    /// A Parquet file whose data pages cannot be decoded.
    #[error("'{path}' is corrupt or uses an unsupported encoding ({source}); rewrite the file")]
    Corrupt {
        /// The file.
        path: String,
        /// The decoder's complaint.
        #[source]
        source: parquet::errors::ParquetError,
    },
    /// A malformed glob pattern, with the parser's complaint as its source.
    #[error("bad glob pattern '{pattern}': {}", .source.msg)]
    Glob {
        /// The pattern.
        pattern: String,
        /// Where and why it is malformed.
        #[source]
        source: glob::PatternError,
    },
    /// A batch that failed to decode part-way, with the decoder's error as
    /// its source.
    #[error("error reading '{path}': {source}; the file may be corrupt")]
    Decode {
        /// The file.
        path: String,
        /// The decoder's complaint.
        #[source]
        source: arrow_schema::ArrowError,
    },
    /// A work unit that names a file the source does not have (a unit of
    /// another source).
    #[error("no file with index {index} in this source; use units from the same source")]
    NoSuchFile {
        /// The unit's file index.
        index: usize,
    },
    /// A work unit that asks an in-memory input for rows it does not have
    /// (a unit of another source).
    #[error(
        "'{label}' has no rows {start}..{end} in batch {batch}; use units from the same source"
    )]
    NoSuchRows {
        /// The in-memory input's label.
        label: String,
        /// The batch asked for.
        batch: usize,
        /// First row asked for.
        start: usize,
        /// End of the rows asked for.
        end: usize,
    },
    /// A requested column that the file does not have.
    #[error("'{path}' has no column '{column}'; available columns: {}", available.join(", "))]
    MissingColumn {
        /// The file.
        path: String,
        /// The column asked for.
        column: String,
        /// The columns the file has.
        available: Vec<String>,
    },
    /// A coordinate or value column that is not a number.
    #[error("column '{column}' in '{path}' has type {found}, not a number; choose an integer or floating-point column")]
    NotNumeric {
        /// The file.
        path: String,
        /// The column.
        column: String,
        /// Its Arrow type.
        found: String,
    },
    /// A ragged line's coordinate column that is not a list of numbers.
    #[error("column '{column}' in '{path}' has type {found}, not a list of numbers; ragged lines need List<Float64> (or another list of integers or floats) columns")]
    NotNumericList {
        /// The file.
        path: String,
        /// The column.
        column: String,
        /// Its Arrow type.
        found: String,
    },
    /// A geometry column that holds no lines or polygons this reads.
    #[error("column '{column}' in '{path}' holds {found}, not lines or polygons; give a GeoArrow (geoarrow.linestring, multilinestring, polygon, multipolygon) or WKB column")]
    NotLineGeometry {
        /// The file.
        path: String,
        /// The column.
        column: String,
        /// What it holds.
        found: String,
    },
    /// A geometry that cannot be read.
    #[error("row {row} of geometry column '{column}' in '{path}' {reason}; fix or drop that row")]
    BadGeometry {
        /// The file.
        path: String,
        /// The column.
        column: String,
        /// The row, in the whole input.
        row: u64,
        /// What is wrong with it.
        reason: String,
    },
    /// A category column of a type that cannot hold categories.
    #[error("column '{column}' in '{path}' has type {found}, which cannot be used as categories; choose a string, dictionary or integer column")]
    NotCategorical {
        /// The file.
        path: String,
        /// The column.
        column: String,
        /// Its Arrow type.
        found: String,
    },
    /// A category column that is strings in one file and integers in another.
    #[error("category column '{column}' in '{path}' has a different kind (strings vs integers) than in the first file; make the inputs agree")]
    MixedCategoryTypes {
        /// The file that differs.
        path: String,
        /// The column.
        column: String,
    },
    /// An in-memory record batch whose schema differs from the first one's.
    #[error("record batch {index} of '{label}' has schema {found}, but the first batch has {expected}; give batches of one schema")]
    BatchSchema {
        /// The in-memory input's label.
        label: String,
        /// The batch's position (0-based).
        index: usize,
        /// The first batch's fields.
        expected: String,
        /// This batch's fields.
        found: String,
    },
    /// An error from the producer of an in-memory batch stream.
    #[error("cannot read record batch {index} of '{label}': {source}")]
    BatchStream {
        /// The in-memory input's label.
        label: String,
        /// The batch's position (0-based).
        index: usize,
        /// The producer's error.
        #[source]
        source: arrow_schema::ArrowError,
    },
}
