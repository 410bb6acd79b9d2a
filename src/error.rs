//! The library's top-level error: one variant per stage, plus plan checks
//! that span stages.

use crate::aggregate::AggError;
use crate::output::OutputError;
use crate::shade::ShadeError;
use crate::source::SourceError;
use crate::tiles::TileError;

/// Any error of a render, by stage.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Finding or reading the input.
    #[error(transparent)]
    Source(#[from] SourceError),
    /// Planning or running the aggregation.
    #[error(transparent)]
    Aggregate(#[from] AggError),
    /// Shading the aggregate.
    #[error(transparent)]
    Shade(#[from] ShadeError),
    /// Writing outputs.
    #[error(transparent)]
    Output(#[from] OutputError),
    /// A bad tile address.
    #[error(transparent)]
    Tile(#[from] TileError),
    /// A tile image the PNG encoder refused.
    #[error("cannot encode a tile as PNG: {message}")]
    TileEncode {
        /// The encoder's complaint.
        message: String,
    },
    /// A categorical render with more categories than key colours.
    #[error("{categories} categories in column '{column}' but only {colors} colours in the color key; give --color-key with at least {categories} colours")]
    TooFewColors {
        /// The category column.
        column: String,
        /// Number of categories.
        categories: usize,
        /// Number of colours in the key.
        colors: usize,
    },
}
