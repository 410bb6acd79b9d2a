//! Aggregate only: bin the sample data (or a Parquet file given as the first
//! argument) into a 64x48 count canvas and read the counts, no image.
//!
//! `cargo run --release --example aggregate_counts [FILE.parquet]`

use pointillist::aggregate::{aggregate, AggValues, AggregateRequest};
use pointillist::source::Source;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let source = match std::env::args().nth(1) {
        Some(path) => Source::open(&[path])?,
        None => Source::sample()?,
    };
    let agg = aggregate(&source, &AggregateRequest::new(64, 48))?;
    let AggValues::U32(counts) = &agg.values else {
        return Err("count aggregates are uint32".into());
    };
    let total: u64 = counts.iter().map(|&c| u64::from(c)).sum();
    let (densest, max) = counts
        .iter()
        .enumerate()
        .max_by_key(|(_, &c)| c)
        .map(|(i, &c)| (i, c))
        .unwrap_or((0, 0));
    println!(
        "{} rows, {} points on the canvas over x {:?}, y {:?}",
        source.num_rows(),
        total,
        agg.x_range,
        agg.y_range
    );
    println!(
        "densest pixel: row {} (from the bottom), column {}, {} points",
        densest / agg.width,
        densest % agg.width,
        max
    );
    Ok(())
}
