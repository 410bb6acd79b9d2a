//! pointillist: Parquet points to Datashader-exact aggregates and images.
//!
//! Data flows one way: [`source`] (Parquet) -> [`aggregate`] -> [`shade`] ->
//! [`output`] (PNG, `.npy`). Each stage uses only the stages before it.

pub mod aggregate;
pub mod synth;
