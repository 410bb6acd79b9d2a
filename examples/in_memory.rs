//! Aggregate points built in memory as Arrow arrays: no Parquet, no image.
//! Run with `cargo run --release --example in_memory`.

use std::sync::Arc;

use arrow_array::{ArrayRef, Float32Array, RecordBatch};
use pointillist::aggregate::{AggValues, AggregateRequest, Aggregator};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Two Gaussian-ish blobs from a deterministic sequence, in 4 batches.
    let mut agg = Aggregator::new(AggregateRequest::new(60, 20))?;
    let mut seed = 1u64;
    let mut next = || {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 11) as f64 / (1u64 << 53) as f64
    };
    for b in 0..4 {
        let n = 50_000;
        let mut xs = Vec::with_capacity(n);
        let mut ys = Vec::with_capacity(n);
        for i in 0..n {
            let blob = if i % 3 == 0 { 2.0 } else { -1.0 };
            let s: f64 = (0..4).map(|_| next() - 0.5).sum();
            let t: f64 = (0..4).map(|_| next() - 0.5).sum();
            xs.push((blob + s) as f32);
            ys.push((t * 0.5 + f64::from(b) * 0.01) as f32);
        }
        let x: ArrayRef = Arc::new(Float32Array::from(xs));
        let y: ArrayRef = Arc::new(Float32Array::from(ys));
        agg.push(&RecordBatch::try_from_iter([("x", x), ("y", y)])?)?;
    }
    let out = agg.finish()?;
    let AggValues::U32(counts) = &out.values else {
        return Err("count gives u32 cells".into());
    };
    let total: u64 = counts.iter().map(|&c| u64::from(c)).sum();
    println!(
        "{total} points, x {:?}, y {:?}, densest pixel {}",
        out.x_range,
        out.y_range,
        counts.iter().max().copied().unwrap_or(0)
    );
    for row in (0..out.height).rev() {
        let line: String = (0..out.width)
            .map(|col| match counts[out.index(row, col, 0)] {
                0 => ' ',
                1..=199 => '.',
                200..=999 => 'o',
                _ => '@',
            })
            .collect();
        println!("{line}");
    }
    Ok(())
}
