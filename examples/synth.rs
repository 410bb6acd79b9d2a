//! Generates a synthetic census-like Parquet file with the generator crate
//! (`pointillist-synth`, `crates/synth`).
//!
//! ```text
//! cargo run --release --example synth -- OUT.parquet ROWS [SEED] [ROW_GROUP_ROWS]
//! ```
//!
//! `data/sample.parquet` was made with
//! `cargo run --release --example synth -- data/sample.parquet 300000 20240601 65536`
//! by model 1 of the generator; the same command now writes model 2's
//! points (other random streams, the same model), so the committed file is
//! kept as it is.

use std::error::Error;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use pointillist_synth::{write_synth, SynthOptions};

const USAGE: &str = "usage: synth OUT.parquet ROWS [SEED] [ROW_GROUP_ROWS]";

fn run() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    let out = PathBuf::from(args.next().ok_or(USAGE)?);
    let rows: u64 = args.next().ok_or(USAGE)?.replace('_', "").parse()?;
    let mut opts = SynthOptions {
        rows,
        ..SynthOptions::default()
    };
    if let Some(seed) = args.next() {
        opts.seed = seed.parse()?;
    }
    if let Some(rg) = args.next() {
        opts.row_group_rows = rg.replace('_', "").parse()?;
    }
    if args.next().is_some() {
        return Err(USAGE.into());
    }

    let start = Instant::now();
    let summary = write_synth(&out, &opts)?;
    let secs = start.elapsed().as_secs_f64();
    println!(
        "wrote {} rows in {} row groups to {} ({:.1} MB) in {:.2} s: {:.1} M rows/s on {} threads",
        summary.rows,
        summary.row_groups,
        out.display(),
        summary.bytes as f64 / 1e6,
        secs,
        summary.rows as f64 / secs / 1e6,
        rayon::current_num_threads(),
    );
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
