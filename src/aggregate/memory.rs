//! In-memory input: an [`Aggregator`] fed Arrow record batches (or
//! arrays) one at a time, from an iterator or from a `RecordBatchReader`,
//! planned like a Parquet input (auto range, categories, the memory budget,
//! all cores) and finished as an [`Aggregate`] or as a
//! [`PartialAggregate`] to merge with others.

use std::sync::Arc;

use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{ArrowError, DataType, Field, Schema, SchemaRef};

use super::canvas::Aggregate;
use super::error::AggError;
use super::line::GeometryKernel;
use super::partial::Partial;
use super::run::{AggregateRequest, AggregationPlan, Coord, Glyph};
use super::wire::PartialAggregate;
use crate::source::{check_batch_schema, Source, SourceError, UNIT_ROWS};

/// Aggregates Arrow record batches held in memory.
///
/// Batches are shared with the caller, never copied. How they are read
/// depends on what the request leaves open:
///
/// - when it gives both ranges (and the categories of a categorical
///   reduction), batches are aggregated as they come, on all cores, a few
///   million rows at a time, so the aggregator holds at most that many
///   rows whatever the input size;
/// - otherwise the ranges (and categories) come from the data, as for a
///   Parquet input, so the batches are kept (shared) until
///   [`Aggregator::finish`] plans and runs over all of them. A line
///   ([`Glyph::Line`](super::Glyph::Line)) always is, since it runs on
///   through every batch.
///
/// Rows are positioned in push order (what `first` and `last` go by),
/// starting at [`Aggregator::with_first_row`] (0 by default). The result is
/// the one the same rows in a Parquet file give.
///
/// ```
/// use std::sync::Arc;
/// use arrow_array::{ArrayRef, Float32Array, RecordBatch};
/// use pointillist::aggregate::{AggValues, AggregateRequest, Aggregator};
///
/// let mut agg = Aggregator::new(AggregateRequest::new(4, 1))?;
/// let x: ArrayRef = Arc::new(Float32Array::from(vec![0.0, 1.0, 2.0, 3.0, 3.0]));
/// let y: ArrayRef = Arc::new(Float32Array::from(vec![0.0; 5]));
/// agg.push(&RecordBatch::try_from_iter([("x", x), ("y", y)])?)?;
/// let out = agg.finish()?;
/// assert_eq!(out.x_range, (0.0, 3.0));
/// assert_eq!(out.values, AggValues::U32(vec![1, 1, 1, 2]));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Aggregator {
    req: AggregateRequest,
    label: String,
    schema: Option<SchemaRef>,
    /// Batches not yet aggregated, in order.
    held: Vec<RecordBatch>,
    held_rows: usize,
    /// Row position of the first held row.
    next_row: u64,
    /// Rows pushed so far.
    rows: u64,
    /// Batches pushed so far.
    batches: usize,
    /// The plan and running total, when the request fixes everything the
    /// plan needs up front.
    streaming: Option<(AggregationPlan, Partial)>,
}

impl Aggregator {
    /// An aggregator for `req`, with the request's basic checks done now
    /// (canvas size, ranges); column checks happen on the first batch.
    pub fn new(req: AggregateRequest) -> Result<Aggregator, AggError> {
        if req.width == 0 || req.height == 0 {
            return Err(AggError::EmptyCanvas {
                width: req.width,
                height: req.height,
            });
        }
        if req.shard.is_some() {
            return Err(AggError::ShardInMemory);
        }
        Ok(Aggregator {
            req,
            label: "in-memory batches".into(),
            schema: None,
            held: Vec::new(),
            held_rows: 0,
            next_row: 0,
            rows: 0,
            batches: 0,
            streaming: None,
        })
    }

    /// Name the input in error messages.
    pub fn with_label(mut self, label: &str) -> Aggregator {
        self.label = label.to_string();
        self
    }

    /// Position the first pushed row at row `row` of a larger input (for
    /// one partition of many), so that `first`/`last` of partials merge
    /// right. Call before pushing.
    pub fn with_first_row(mut self, row: u64) -> Aggregator {
        if self.rows == 0 {
            self.next_row = row;
        }
        self
    }

    /// Rows pushed so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Whether the request fixes everything the plan needs, so batches are
    /// aggregated as they come.
    fn streams(&self) -> bool {
        // A line runs on through every batch: draw it in one run; so does
        // the numbering of vertices Datashader's GeoPandas kernel goes by.
        let numbered = self.req.glyph == Glyph::GeometryLines
            && self.req.geometry_kernel == GeometryKernel::GeoPandas;
        // The largest categories come from all the rows.
        let top = self.req.top_categories.is_some();
        !(matches!(self.req.glyph, Glyph::Line | Glyph::Area) || numbered || top)
            && self.req.x_range.is_some()
            && self.req.y_range.is_some()
            && (self.req.reduction.by.is_none()
                || self.req.categories.is_some()
                // A computed categorizer knows its categories up front.
                || self.req.reduction.categorizer.count().is_some())
    }

    /// Add one batch (shared, not copied). It must have the first batch's
    /// columns and types.
    pub fn push(&mut self, batch: &RecordBatch) -> Result<(), AggError> {
        let schema = self.schema.get_or_insert_with(|| batch.schema()).clone();
        // Check the schema now, so the error names the batch.
        check_batch_schema(&self.label, &schema, self.batches, batch)?;
        self.batches += 1;
        self.rows += batch.num_rows() as u64;
        if batch.num_rows() == 0 {
            return Ok(());
        }
        self.held_rows += batch.num_rows();
        self.held.push(batch.clone());
        let flush_rows = UNIT_ROWS * rayon::current_num_threads().max(1);
        if self.streams() && self.held_rows >= flush_rows {
            self.flush()?;
        }
        Ok(())
    }

    /// Add named columns as one batch (e.g. `[("x", xs), ("y", ys)]`).
    pub fn push_columns<'a>(
        &mut self,
        columns: impl IntoIterator<Item = (&'a str, ArrayRef)>,
    ) -> Result<(), AggError> {
        let batch =
            RecordBatch::try_from_iter(columns).map_err(|source| SourceError::BatchStream {
                label: self.label.clone(),
                index: self.batches,
                source,
            })?;
        self.push(&batch)
    }

    /// Add every batch of `batches`: an iterator, or a `RecordBatchReader`
    /// (an Arrow IPC stream, a DataFusion or Flight stream). The first
    /// error of the stream stops it and is returned.
    pub fn extend<I>(&mut self, batches: I) -> Result<(), AggError>
    where
        I: IntoIterator<Item = Result<RecordBatch, ArrowError>>,
    {
        for b in batches {
            let b = b.map_err(|source| SourceError::BatchStream {
                label: self.label.clone(),
                index: self.batches,
                source,
            })?;
            self.push(&b)?;
        }
        Ok(())
    }

    /// The held batches as a source, positioned after the rows already
    /// aggregated.
    fn take_held(&mut self) -> Result<Source, AggError> {
        let schema = self.schema.clone().unwrap_or_else(|| self.empty_schema());
        let batches = std::mem::take(&mut self.held);
        let source = Source::from_batches_at(&self.label, schema, batches, self.next_row)?;
        self.next_row += self.held_rows as u64;
        self.held_rows = 0;
        Ok(source)
    }

    /// Aggregate the held batches into the running total (streaming mode).
    fn flush(&mut self) -> Result<(), AggError> {
        let source = self.take_held()?;
        let (plan, total) = match self.streaming.take() {
            Some(s) => s,
            None => {
                let plan = AggregationPlan::new(&source, &self.req)?;
                let total = plan.new_partial();
                (plan, total)
            }
        };
        let units = plan.units(&source);
        let engine = plan.choose_engine(&units)?.engine;
        let part = plan.partial_on(engine, &source, &units, &|_| {})?;
        let mut total = total;
        total.merge(part)?;
        self.streaming = Some((plan, total));
        Ok(())
    }

    /// A schema for an input that received no batch: the request's columns
    /// as float64 (utf8 for categories), so that an empty input gives an
    /// empty canvas.
    fn empty_schema(&self) -> SchemaRef {
        // Every vertex column (lists of floats for ragged lines).
        let coord = if matches!(self.req.glyph, Glyph::RaggedLines | Glyph::RaggedAreas) {
            DataType::new_list(DataType::Float64, true)
        } else if self.req.glyph == Glyph::GeometryLines {
            DataType::Binary
        } else {
            DataType::Float64
        };
        let mut fields = vec![Field::new(&self.req.x, coord.clone(), true)];
        if self.req.y != self.req.x {
            fields.push(Field::new(&self.req.y, coord.clone(), true));
        }
        let vertices = self.req.vertices.iter().flat_map(|(x, y)| [x, y]);
        let stacks = self.req.row_area_stacks.iter();
        for c in vertices.chain(stacks).filter_map(Coord::column) {
            if fields.iter().all(|f| f.name() != c) {
                fields.push(Field::new(c, coord.clone(), true));
            }
        }
        if let Some(v) = &self.req.reduction.column {
            if fields.iter().all(|f| f.name() != v) {
                fields.push(Field::new(v, DataType::Float64, true));
            }
        }
        if let Some(b) = &self.req.reduction.by {
            if fields.iter().all(|f| f.name() != b) {
                fields.push(Field::new(b, DataType::Utf8, true));
            }
        }
        Arc::new(Schema::new(fields))
    }

    /// Plan (if not done yet) and aggregate everything pushed.
    fn finish_parts(mut self) -> Result<(AggregationPlan, Partial, u64), AggError> {
        if self.streams() {
            if !self.held.is_empty() || self.streaming.is_none() {
                self.flush()?;
            }
            let rows = self.rows;
            let (plan, total) = self.streaming.take().ok_or(AggError::NoPartials)?;
            return Ok((plan, total, rows));
        }
        let rows = self.rows;
        let source = self.take_held()?;
        let plan = AggregationPlan::new(&source, &self.req)?;
        let units = plan.units(&source);
        let engine = plan.choose_engine(&units)?.engine;
        let total = plan.partial_on(engine, &source, &units, &|_| {})?;
        Ok((plan, total, rows))
    }

    /// Aggregate what was pushed and finish it.
    pub fn finish(self) -> Result<Aggregate, AggError> {
        let (plan, total, _) = self.finish_parts()?;
        Ok(plan.finish(total))
    }

    /// Aggregate what was pushed and keep it as a partial, to merge with
    /// the partials of other aggregators (other partitions, processes or
    /// machines) and finish there.
    pub fn finish_partial(self) -> Result<PartialAggregate, AggError> {
        let (plan, total, rows) = self.finish_parts()?;
        Ok(PartialAggregate::new(
            plan.spec().clone(),
            total,
            rows,
            None,
        ))
    }
}
