//! Aggregation: binning points into canvases with Datashader's reductions.

mod canvas;

pub use canvas::{AggValues, Aggregate};
