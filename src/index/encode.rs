//! Writing the sorted rows: row groups encoded in parallel, appended to the
//! file in order.
//!
//! The bytes are those [`parquet::arrow::ArrowWriter`] writes for the same
//! batches: its row-group writer is the same column writers fed the same
//! slices (batches of `min(row_group_rows, BATCH_ROWS)` rows, cut at row
//! group boundaries), only several row groups are encoded at once, and the
//! next rows are gathered while the previous ones are encoded.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use parquet::arrow::arrow_writer::{compute_leaves, ArrowColumnChunk, ArrowRowGroupWriterFactory};
use parquet::arrow::ArrowWriter;
use parquet::errors::ParquetError;
use parquet::file::metadata::ParquetMetaData;
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use rayon::prelude::*;

use super::spill::SortedRows;
use super::IndexError;

/// The output file being written.
pub(super) struct Output {
    writer: SerializedFileWriter<BufWriter<File>>,
    factory: ArrowRowGroupWriterFactory,
    schema: SchemaRef,
    row_group_rows: usize,
    piece_rows: usize,
    path: PathBuf,
}

/// Rows of one row group, as the slices the writer is given.
type Group = Vec<RecordBatch>;

impl Output {
    /// A writer of `schema` into `file` (reported as `path`), with row
    /// groups of `row_group_rows` given in pieces of `piece_rows`.
    pub(super) fn new(
        file: File,
        path: &Path,
        schema: &SchemaRef,
        props: WriterProperties,
        row_group_rows: usize,
        piece_rows: usize,
    ) -> Result<Output, IndexError> {
        let parquet_err = |source| IndexError::Parquet {
            path: path.to_path_buf(),
            source,
        };
        let sink = BufWriter::with_capacity(1 << 20, file);
        // ArrowWriter's own set-up (the Parquet schema, the encoded Arrow
        // schema in the footer), then its parts.
        let (writer, factory) = ArrowWriter::try_new(sink, SchemaRef::clone(schema), Some(props))
            .and_then(ArrowWriter::into_serialized_writer)
            .map_err(parquet_err)?;
        Ok(Output {
            writer,
            factory,
            schema: SchemaRef::clone(schema),
            row_group_rows: row_group_rows.max(1),
            piece_rows: piece_rows.max(1),
            path: path.to_path_buf(),
        })
    }

    fn parquet_err(path: &Path) -> impl Fn(ParquetError) -> IndexError + '_ {
        move |source| IndexError::Parquet {
            path: path.to_path_buf(),
            source,
        }
    }

    /// Write every row of `rows`, `groups_per_chunk` row groups at a time:
    /// one chunk is encoded while the next is gathered. Returns the time
    /// spent gathering and encoding (concurrently).
    pub(super) fn write_all(
        &mut self,
        rows: &mut dyn SortedRows,
        groups_per_chunk: usize,
    ) -> Result<(Duration, Duration), IndexError> {
        let mut gathering = Duration::ZERO;
        let mut encoding = Duration::ZERO;
        let mut cutter = Cutter {
            row_group_rows: self.row_group_rows,
            piece_rows: self.piece_rows,
            carry: None,
        };
        let mut pending: Vec<Group> = Vec::new();
        loop {
            let groups = std::mem::take(&mut pending);
            let ((written, te), (next, tg)) = rayon::join(
                || {
                    let t = Instant::now();
                    (self.write_groups(groups), t.elapsed())
                },
                || {
                    let t = Instant::now();
                    (
                        cutter.next_chunk(rows, groups_per_chunk.max(1)),
                        t.elapsed(),
                    )
                },
            );
            encoding += te;
            gathering += tg;
            written?;
            pending = next?;
            if pending.is_empty() {
                return Ok((gathering, encoding));
            }
        }
    }

    /// Encode `groups` in parallel and append them in order.
    fn write_groups(&mut self, groups: Vec<Group>) -> Result<(), IndexError> {
        if groups.is_empty() {
            return Ok(());
        }
        let first = self.writer.flushed_row_groups().len();
        let factory = &self.factory;
        let schema = &self.schema;
        let encoded: Vec<Result<Vec<ArrowColumnChunk>, ParquetError>> = groups
            .into_par_iter()
            .enumerate()
            .map(|(i, pieces)| encode_group(factory, schema, first + i, &pieces))
            .collect();
        let err = Output::parquet_err(&self.path);
        for chunks in encoded {
            let chunks = chunks.map_err(&err)?;
            let mut rg = self.writer.next_row_group().map_err(&err)?;
            for c in chunks {
                c.append_to_row_group(&mut rg).map_err(&err)?;
            }
            rg.close().map_err(&err)?;
        }
        Ok(())
    }

    /// Write the footer.
    pub(super) fn finish(mut self) -> Result<ParquetMetaData, IndexError> {
        self.writer
            .finish()
            .map_err(Output::parquet_err(&self.path))
    }
}

/// Encode one row group, given as the pieces ArrowWriter would be given.
fn encode_group(
    factory: &ArrowRowGroupWriterFactory,
    schema: &SchemaRef,
    index: usize,
    pieces: &[RecordBatch],
) -> Result<Vec<ArrowColumnChunk>, ParquetError> {
    let mut writers = factory.create_column_writers(index)?;
    for piece in pieces {
        let mut w = writers.iter_mut();
        for (field, column) in schema.fields().iter().zip(piece.columns()) {
            for leaf in compute_leaves(field.as_ref(), column)? {
                w.next()
                    .ok_or_else(|| ParquetError::General("more leaves than column writers".into()))?
                    .write(&leaf)?;
            }
        }
    }
    writers.into_iter().map(|w| w.close()).collect()
}

/// Cuts the sorted rows into row groups the way ArrowWriter does: batches
/// of `piece_rows` rows, split where a row group ends.
struct Cutter {
    row_group_rows: usize,
    piece_rows: usize,
    /// The rest of a batch whose start ended the previous row group.
    carry: Option<RecordBatch>,
}

impl Cutter {
    /// The next row group; empty at the end.
    fn next_group(&mut self, rows: &mut dyn SortedRows) -> Result<Group, IndexError> {
        let mut pieces = Vec::new();
        let mut n = 0;
        if let Some(c) = self.carry.take() {
            n += c.num_rows();
            pieces.push(c);
        }
        while n < self.row_group_rows {
            let Some(b) = rows.next_batch(self.piece_rows)? else {
                break;
            };
            let need = self.row_group_rows - n;
            if b.num_rows() > need {
                pieces.push(b.slice(0, need));
                self.carry = Some(b.slice(need, b.num_rows() - need));
                n += need;
            } else {
                n += b.num_rows();
                pieces.push(b);
            }
        }
        Ok(pieces)
    }

    /// The next at most `groups` row groups.
    fn next_chunk(
        &mut self,
        rows: &mut dyn SortedRows,
        groups: usize,
    ) -> Result<Vec<Group>, IndexError> {
        let mut out = Vec::with_capacity(groups);
        while out.len() < groups {
            let g = self.next_group(rows)?;
            if g.is_empty() {
                break;
            }
            out.push(g);
        }
        Ok(out)
    }
}
