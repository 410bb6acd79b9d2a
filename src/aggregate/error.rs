//! Errors of the aggregation stage.

use crate::source::SourceError;

/// What can go wrong while planning or running an aggregation.
#[derive(Debug, thiserror::Error)]
pub enum AggError {
    /// Reading the input failed.
    #[error(transparent)]
    Source(#[from] SourceError),
    /// The GPU path failed or cannot do the request.
    #[error(transparent)]
    Gpu(#[from] super::gpu::GpuError),
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
}
