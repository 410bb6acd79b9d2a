//! Errors of the aggregation stage.

use crate::source::SourceError;

/// What can go wrong while planning or running an aggregation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AggError {
    /// Reading the input failed.
    #[error(transparent)]
    Source(#[from] SourceError),
    /// The GPU path failed or cannot do the request.
    #[cfg(feature = "gpu")]
    #[error(transparent)]
    Gpu(#[from] super::gpu::GpuError),
    /// [`Device::Gpu`](super::Device::Gpu) asked of a build without the
    /// `gpu` feature (never raised when it is on).
    #[error("this build of pointillist has no GPU support; rebuild it with the `gpu` Cargo feature, or use --device cpu")]
    NoGpuSupport,
    /// A zero-sized canvas.
    #[error("canvas size {width}x{height} is empty; give --width and --height of at least 1")]
    EmptyCanvas {
        /// Requested width.
        width: usize,
        /// Requested height.
        height: usize,
    },
    /// A canvas whose aggregate would not fit the memory budget.
    #[error("a {width}x{height} canvas{cats} needs {needed_mib} MiB for the aggregate, over the {budget_mib} MiB budget; use a smaller --width/--height{hint}")]
    CanvasTooLarge {
        /// Requested width.
        width: usize,
        /// Requested height.
        height: usize,
        /// " with N categories" or empty.
        cats: String,
        /// MiB the state would take.
        needed_mib: u64,
        /// The budget in MiB.
        budget_mib: u64,
        /// Extra advice.
        hint: String,
    },
    /// A range that is empty, reversed or not finite.
    #[error("{axis} range {lo},{hi} is invalid; give MIN,MAX with finite MIN < MAX")]
    BadRange {
        /// "x" or "y".
        axis: &'static str,
        /// Lower bound.
        lo: f64,
        /// Upper bound.
        hi: f64,
    },
    /// A log axis whose range includes zero or negative values.
    #[error("{axis} axis is log but its range {lo},{hi} is not positive; give --{axis}-range with 0 < MIN < MAX or use a linear axis")]
    LogRange {
        /// "x" or "y".
        axis: &'static str,
        /// Lower bound.
        lo: f64,
        /// Upper bound.
        hi: f64,
    },
    /// A reduction that needs a value column but got none.
    #[error("{reduction} needs a value column ({reduction}:COL)")]
    MissingValueColumn {
        /// The reduction's name.
        reduction: &'static str,
    },
    /// A category list given by the user that does not fit the column.
    #[error("category '{label}' is not an integer, but column '{column}' holds integers; list integer categories")]
    BadCategory {
        /// The offending label.
        label: String,
        /// The category column.
        column: String,
    },
    /// A categorical aggregation over a column with no values at all.
    #[error("category column '{column}' has no non-null values, so there are no categories to aggregate; choose another column or list --categories")]
    NoCategories {
        /// The category column.
        column: String,
    },
    /// Partial aggregates that cannot merge: made by different plans.
    #[error("cannot merge partial aggregates with different {field} ({ours} vs {theirs}); merge only partials made with the same canvas, ranges, reduction and categories")]
    MismatchedPartials {
        /// What differs (e.g. "reduction", "x range").
        field: &'static str,
        /// This side's value.
        ours: String,
        /// The other side's value.
        theirs: String,
    },
    /// A shard that is not `I/N` with `I < N`.
    #[error("shard '{given}' is not I/N with 0 <= I < N (e.g. 0/4); shards are numbered from 0")]
    BadShard {
        /// What was given.
        given: String,
    },
    /// The same shard given twice to a merge.
    #[error("shard {shard}/{count} is given twice; give each shard's partial once")]
    DuplicateShard {
        /// The shard.
        shard: u32,
        /// The shard count.
        count: u32,
    },
    /// A merge of shards with some missing.
    #[error(
        "shards {} of {count} are missing; give the partials of all {count} shards",
        join_u32(missing)
    )]
    MissingShards {
        /// The missing shard numbers.
        missing: Vec<u32>,
        /// The shard count.
        count: u32,
    },
    /// A merge of nothing.
    #[error("no partial aggregates to merge; give at least one PART.arrow")]
    NoPartials,
    /// A file or buffer that is not a partial aggregate of this format.
    #[error("not a pointillist partial aggregate: {reason}; write it with `pointillist aggregate` (or PartialAggregate::write_ipc) of a matching version")]
    BadPartial {
        /// What is wrong with it.
        reason: String,
    },
    /// Arrow IPC failed while writing or reading a partial aggregate.
    #[error("cannot read or write a partial aggregate as Arrow IPC: {source}")]
    PartialIpc {
        /// The IPC error.
        #[source]
        source: arrow_schema::ArrowError,
    },
    /// A line (`Glyph::Line`) asked of something that cannot draw one yet.
    #[error("lines cannot be drawn with {what}")]
    LineUnsupported {
        /// What was asked, and what to do instead.
        what: &'static str,
    },
    /// A sharded aggregation that would need to scan all rows to agree with
    /// the other shards on a range or on the categories.
    #[error("shards must agree on the {what} without reading each other's rows, and the input's Parquet metadata does not give it; pass {flag}")]
    ShardNeedsFlag {
        /// What is unknown ("x range", "categories of 'cat'").
        what: String,
        /// The flag to pass.
        flag: &'static str,
    },
    /// A shard asked of an in-memory aggregation, which reads every batch
    /// it is given.
    /// A reduction that cannot be computed as asked (`n` of 0, `where` of
    /// a reduction that selects no row, a selection on the GPU or on
    /// antialiased lines).
    #[error("{0}")]
    Reduction(#[from] super::reduction::SpecError),

    #[error("an in-memory aggregation reads all the batches it is given; split the batches between aggregators (Aggregator::with_first_row) instead of giving a shard")]
    ShardInMemory,
}

impl AggError {
    pub(crate) fn from_ipc(source: arrow_schema::ArrowError) -> AggError {
        AggError::PartialIpc { source }
    }
}

fn join_u32(v: &[u32]) -> String {
    v.iter().map(u32::to_string).collect::<Vec<_>>().join(", ")
}
