//! Aggregation stage: binning points into canvases with Datashader's
//! reductions, on all cores.
//!
//! [`aggregate`] plans ([`AggregationPlan`]) and runs a request
//! ([`AggregateRequest`]); the accumulate -> merge -> finalize contract is
//! [`Partial`]; pixel mapping is [`Geometry`]; the result is an
//! [`Aggregate`]. In-memory Arrow input goes through [`Aggregator`];
//! partials travel between processes as [`PartialAggregate`]s
//! ([`wire`]). The CPU kernels live here; the GPU path is [`gpu`] (with
//! the `gpu` feature). [`Device`] says where a request runs, in every build.

mod antialias;
mod canvas;
mod device;
mod error;
mod geometry;
#[cfg(feature = "gpu")]
pub mod gpu;
mod kernel;
mod line;
mod linear;
mod memory;
pub mod mercator;
#[cfg(feature = "ndarray")]
pub mod ndarray_view;
mod partial;
mod reduction;
mod run;
mod select;
mod simd;
mod splat;
pub mod wire;

pub use canvas::{AggValues, Aggregate};
pub use device::{Device, AUTO_MIN_ROWS};
pub use error::AggError;
pub use geometry::{expand_bounds, AxisKind, AxisMap, Geometry, NO_PIXEL};
pub use kernel::{bin_arrays, NotNumeric};
pub use line::GeometryKernel;
pub use memory::Aggregator;
pub use partial::{
    plane_names, spec_plane_names, spec_state_bytes_per_cell, state_bytes_per_cell, Partial,
    NO_CELL,
};
pub use reduction::{
    AggDtype, Lookup, ReductionKind, ReductionSpec, SpecError, DEFAULT_N, SPEC_HELP,
};
pub use run::{
    aggregate, AggregateRequest, AggregationPlan, Coord, Engine, EngineChoice, Glyph, GlyphSpec,
    Scratch, DEFAULT_MEMORY_BUDGET, OTHER_CATEGORY,
};
pub use select::{SelectOrder, SelectOutput};
pub use splat::PointShape;
pub use wire::{
    merge_shards, AggregateSpec, PartialAggregate, Shard, ShardCoverage, PARTIAL_FORMAT_VERSION,
};
