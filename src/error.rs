//! The library's top-level error: one variant per stage, plus plan checks
//! that span stages.

use crate::aggregate::AggError;
use crate::index::IndexError;
use crate::output::OutputError;
#[cfg(feature = "server")]
use crate::server::ServerError;
use crate::shade::ShadeError;
use crate::source::SourceError;
use crate::tiles::TileError;

/// Any error of the library, by stage. Each stage has its own error type
/// (which keeps its causes as [`std::error::Error::source`]); this one
/// wraps them all, so that one `?` serves a whole pipeline.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
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
    /// Rendering or writing map tiles.
    #[error(transparent)]
    Tile(#[from] TileError),
    /// Building a spatial index.
    #[error(transparent)]
    Index(#[from] IndexError),
    /// Starting the tile server.
    #[cfg(feature = "server")]
    #[error(transparent)]
    Server(#[from] ServerError),
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
