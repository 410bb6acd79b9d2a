//! Aggregation stage: binning points into canvases with Datashader's
//! reductions, on all cores.
//!
//! [`aggregate`] plans ([`AggregationPlan`]) and runs a request
//! ([`AggregateRequest`]); the accumulate -> merge -> finalize contract is
//! [`Partial`]; pixel mapping is [`Geometry`]; the result is an
//! [`Aggregate`]. The CPU kernels live here; the GPU path is [`gpu`].

mod canvas;
mod error;
mod geometry;
pub mod gpu;
mod kernel;
pub mod mercator;
mod partial;
mod reduction;
mod run;
mod simd;

pub use canvas::{AggValues, Aggregate};
pub use error::AggError;
pub use geometry::{expand_bounds, AxisKind, AxisMap, Geometry, NO_PIXEL};
pub use gpu::Device;
pub use kernel::bin_arrays;
pub use partial::{state_bytes_per_cell, Partial, NO_CELL};
pub use reduction::{ReductionKind, ReductionSpec, SpecError, SPEC_HELP};
pub use run::{
    aggregate, AggregateRequest, AggregationPlan, Engine, EngineChoice, Scratch,
    DEFAULT_MEMORY_BUDGET,
};
