//! pointillist: Parquet points to Datashader-exact aggregates and images.
//!
//! Data flows one way: [`source`] (Parquet) -> [`aggregate`] (on the CPU,
//! or on a GPU through [`aggregate::gpu`]) -> [`shade`] -> [`output`] (PNG,
//! `.npy`, PMTiles), with [`tiles`] and [`server`] on top. Each stage uses
//! only the stages before it. The GPU path, the server and the PMTiles
//! writer are Cargo features (`gpu`, `server`, `pmtiles`; on by default,
//! see the README's "Features").
//! [`render`] runs the whole pipeline, and the `pointillist` binary only
//! turns command-line arguments into a [`render::RenderRequest`].
//!
//! ```no_run
//! use pointillist::aggregate::{aggregate, AggregateRequest, AggValues};
//! use pointillist::source::Source;
//!
//! let source = Source::open(&["points.parquet"])?;
//! let agg = aggregate(&source, &AggregateRequest::new(800, 600))?;
//! if let AggValues::U32(counts) = &agg.values {
//!     println!("{} points binned", counts.iter().map(|&c| u64::from(c)).sum::<u64>());
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod aggregate;
pub mod error;
pub mod index;
pub mod output;
pub mod render;
#[cfg(feature = "server")]
pub mod server;
pub mod shade;
pub mod source;
pub mod tiles;

pub use error::Error;
