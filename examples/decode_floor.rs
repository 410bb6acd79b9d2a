//! The decode floor: how fast can arrow-rs alone read the x and y columns of
//! a Parquet file? This is the lower bound for any render that has to look at
//! every point, and the reference the benchmark compares
//! `pointillist render --agg count` against (`benches/compare_datashader.sh`).
//!
//! It decodes only the projected `x` and `y` columns with
//! `ParquetRecordBatchReaderBuilder` (projection mask on the two columns),
//! one row group per rayon task over all cores, in 64K-row batches, and sums
//! every value so the decoding cannot be optimised away. Nothing else: no
//! range planning, no binning, no shading.
//!
//! ```sh
//! cargo run --release --example decode_floor -- FILE.parquet [--x COL] [--y COL] [--threads N]
//! ```
//!
//! Prints one line on stdout:
//! `decode_floor rows=N row_groups=G threads=T seconds=S rows_per_s=R checksum=C`
//! (`seconds` from opening the file to the last batch, metadata included).

use std::fs::File;
use std::path::PathBuf;
use std::time::Instant;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float32Type, Float64Type};
use arrow_array::{Array, RecordBatch};
use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ParquetRecordBatchReaderBuilder};
use parquet::arrow::ProjectionMask;
use rayon::prelude::*;

/// Rows per decoded batch (the same as pointillist's reader).
const BATCH_ROWS: usize = 64 * 1024;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

struct Args {
    path: PathBuf,
    x: String,
    y: String,
    threads: Option<usize>,
}

fn parse_args() -> Result<Args, BoxError> {
    let usage = "usage: decode_floor FILE.parquet [--x COL] [--y COL] [--threads N]";
    let mut path = None;
    let mut x = "x".to_string();
    let mut y = "y".to_string();
    let mut threads = None;
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = |flag: &str| {
            it.next()
                .ok_or_else(|| format!("{flag} needs a value; {usage}"))
        };
        match a.as_str() {
            "--x" => x = value("--x")?,
            "--y" => y = value("--y")?,
            "--threads" => {
                let v = value("--threads")?;
                let n: usize = v
                    .parse()
                    .map_err(|_| format!("--threads '{v}' is not a number; {usage}"))?;
                if n == 0 {
                    return Err(format!("--threads 0: give at least 1; {usage}").into());
                }
                threads = Some(n);
            }
            "-h" | "--help" => {
                println!("{usage}");
                std::process::exit(0);
            }
            s if s.starts_with('-') => return Err(format!("unknown flag {s}; {usage}").into()),
            s if path.is_none() => path = Some(PathBuf::from(s)),
            s => return Err(format!("unexpected argument {s}; {usage}").into()),
        }
    }
    let path = path.ok_or(usage)?;
    Ok(Args {
        path,
        x,
        y,
        threads,
    })
}

/// Sum of a float column's values, in eight independent lanes so that the
/// loop vectorises and costs next to nothing beside the decoding.
fn touch(array: &dyn Array, column: &str) -> Result<f64, BoxError> {
    fn lanes<T: Copy + Into<f64>>(values: &[T]) -> f64 {
        let mut acc = [0.0f64; 8];
        let chunks = values.chunks_exact(8);
        let rest = chunks.remainder();
        for c in chunks {
            for (a, v) in acc.iter_mut().zip(c) {
                *a += (*v).into();
            }
        }
        acc.iter().sum::<f64>() + rest.iter().map(|v| (*v).into()).sum::<f64>()
    }
    if let Some(a) = array.as_primitive_opt::<Float32Type>() {
        Ok(lanes(a.values()))
    } else if let Some(a) = array.as_primitive_opt::<Float64Type>() {
        Ok(lanes(a.values()))
    } else {
        Err(format!(
            "column {column} is {}, not float32 or float64",
            array.data_type()
        )
        .into())
    }
}

fn column<'a>(batch: &'a RecordBatch, name: &str) -> Result<&'a dyn Array, BoxError> {
    batch
        .column_by_name(name)
        .map(|c| c.as_ref())
        .ok_or_else(|| format!("batch has no column {name}").into())
}

fn main() {
    if let Err(e) = run() {
        eprintln!("decode_floor: error: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), BoxError> {
    let args = parse_args()?;
    if let Some(n) = args.threads {
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global()?;
    }
    let t0 = Instant::now();
    let file =
        File::open(&args.path).map_err(|e| format!("cannot open {}: {e}", args.path.display()))?;
    let meta = ArrowReaderMetadata::load(&file, Default::default())?;
    let schema = meta.schema();
    let mut roots = Vec::new();
    for name in [&args.x, &args.y] {
        let idx = schema
            .index_of(name)
            .map_err(|_| format!("{} has no column {name}", args.path.display()))?;
        roots.push(idx);
    }
    let mask = ProjectionMask::roots(meta.parquet_schema(), roots);
    let row_groups = meta.metadata().num_row_groups();

    let per_group: Vec<(u64, f64)> = (0..row_groups)
        .into_par_iter()
        .map(|rg| -> Result<(u64, f64), BoxError> {
            let file = File::open(&args.path)?;
            let reader = ParquetRecordBatchReaderBuilder::new_with_metadata(file, meta.clone())
                .with_projection(mask.clone())
                .with_row_groups(vec![rg])
                .with_batch_size(BATCH_ROWS)
                .build()?;
            let mut rows = 0u64;
            let mut sum = 0.0f64;
            for batch in reader {
                let batch = batch?;
                rows += batch.num_rows() as u64;
                sum += touch(column(&batch, &args.x)?, &args.x)?;
                sum += touch(column(&batch, &args.y)?, &args.y)?;
            }
            Ok((rows, sum))
        })
        .collect::<Result<_, _>>()?;
    let seconds = t0.elapsed().as_secs_f64();

    let rows: u64 = per_group.iter().map(|(r, _)| r).sum();
    let checksum: f64 = per_group.iter().map(|(_, s)| s).sum();
    println!(
        "decode_floor rows={rows} row_groups={row_groups} threads={} seconds={seconds:.4} rows_per_s={:.0} checksum={checksum:e}",
        rayon::current_num_threads(),
        rows as f64 / seconds.max(1e-12),
    );
    Ok(())
}
