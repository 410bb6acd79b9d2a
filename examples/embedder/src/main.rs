//! An embedder's program: points built in memory as an Arrow record batch,
//! aggregated by `pointillist` (without its default features), the counts
//! read back with no image. Run with
//! `cargo run --release -p pointillist-embedder-example`.

use std::sync::Arc;

use arrow_array::{ArrayRef, Float64Array, RecordBatch, StringArray};
use pointillist::aggregate::{AggValues, AggregateRequest, Aggregator, ReductionSpec};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // A spiral of 100,000 points with a value and a category.
    let n = 100_000;
    let t: Vec<f64> = (0..n).map(|i| i as f64 / n as f64 * 20.0).collect();
    let x: ArrayRef = Arc::new(Float64Array::from_iter_values(
        t.iter().map(|t| t * t.cos()),
    ));
    let y: ArrayRef = Arc::new(Float64Array::from_iter_values(
        t.iter().map(|t| t * t.sin()),
    ));
    let v: ArrayRef = Arc::new(Float64Array::from(t.clone()));
    let c: ArrayRef = Arc::new(StringArray::from_iter_values((0..n).map(|i| {
        if i % 3 == 0 {
            "even"
        } else {
            "odd"
        }
    })));
    let batch = RecordBatch::try_from_iter([("x", x), ("y", y), ("t", v), ("kind", c)])?;

    // Counts on a 40x20 canvas, ranges from the data.
    let mut counts = Aggregator::new(AggregateRequest::new(40, 20))?;
    counts.push(&batch)?;
    let agg = counts.finish()?;
    let AggValues::U32(cells) = &agg.values else {
        return Err("count gives u32 cells".into());
    };
    println!(
        "{} points on a {}x{} canvas over x {:?}, y {:?}; busiest pixel holds {}",
        cells.iter().map(|&c| u64::from(c)).sum::<u64>(),
        agg.width,
        agg.height,
        agg.x_range,
        agg.y_range,
        cells.iter().max().copied().unwrap_or(0)
    );
    // A text picture of the counts, north up.
    for row in (0..agg.height).rev() {
        let line: String = (0..agg.width)
            .map(|col| match cells[agg.index(row, col, 0)] {
                0 => ' ',
                1..=99 => '.',
                100..=299 => 'o',
                _ => '#',
            })
            .collect();
        println!("|{line}|");
    }

    // The mean of `t` per category, streamed with fixed ranges.
    let req = AggregateRequest::new(8, 4)
        .with_x_range(-20.0, 20.0)
        .with_y_range(-20.0, 20.0)
        .with_reduction("mean:t".parse::<ReductionSpec>()?.by("kind"));
    let mut means = Aggregator::new(req)?;
    means.push(&batch)?;
    let by_kind = means.finish()?;
    println!(
        "mean t per pixel and kind: shape {:?}, categories {:?}",
        by_kind.shape(),
        by_kind.categories
    );
    Ok(())
}
