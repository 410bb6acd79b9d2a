//! The whole pipeline in one call: source -> aggregate -> shade -> output.
//!
//! This is what the CLI's `render` runs; library users get the same by
//! filling a [`RenderRequest`].

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::aggregate::{Aggregate, AggregateRequest, AggregationPlan};
use crate::error::Error;
use crate::output::{self, PngOptions};
use crate::shade::{self, ShadeOptions};
use crate::source::Source;

/// Everything a render needs.
#[derive(Debug, Clone)]
pub struct RenderRequest {
    /// Input files, directories or globs; empty = the embedded sample data.
    pub inputs: Vec<PathBuf>,
    /// Canvas, columns and reduction.
    pub aggregate: AggregateRequest,
    /// Colour mapping.
    pub shade: ShadeOptions,
    /// Where to write the PNG, if anywhere.
    pub png: Option<PathBuf>,
    /// Where to write the raw aggregate as `.npy`, if anywhere.
    pub save_agg: Option<PathBuf>,
    /// PNG encoder settings.
    pub png_options: PngOptions,
}

/// Wall time spent per stage.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Timings {
    /// Opening inputs, planning (auto-range, categories).
    pub plan: Duration,
    /// Decoding and aggregating (fused, in parallel).
    pub aggregate: Duration,
    /// Shading, spreading, background.
    pub shade: Duration,
    /// Encoding and writing files.
    pub write: Duration,
}

/// What a render produced.
#[derive(Debug, Clone)]
pub struct RenderOutcome {
    /// The aggregate (also written with `save_agg`).
    pub aggregate: Aggregate,
    /// Rows in the input.
    pub rows: u64,
    /// Rows in the work units actually read (row groups outside a zoomed
    /// canvas are skipped by their statistics).
    pub rows_read: u64,
    /// Things the user should know (e.g. empty input).
    pub warnings: Vec<String>,
    /// Time per stage.
    pub timings: Timings,
    /// The device that aggregated and, for `auto`, why (one line).
    pub device: String,
    /// The aggregation state's planes and memory
    /// ([`AggregationPlan::describe_memory`], one line).
    pub memory: String,
}

/// Open the request's inputs (or the embedded sample).
pub fn open_inputs(inputs: &[PathBuf]) -> Result<Source, Error> {
    Ok(if inputs.is_empty() {
        Source::sample()?
    } else {
        Source::open(inputs)?
    })
}

/// The last two stages of a render on a finished aggregate (from
/// [`render`], or merged from shards' partials): shade it when a PNG is
/// wanted, then write the PNG and/or the `.npy`, each atomically. Returns
/// the time spent shading and writing.
pub fn shade_and_write(
    aggregate: &Aggregate,
    shade_options: &ShadeOptions,
    png: Option<&Path>,
    save_agg: Option<&Path>,
    png_options: &PngOptions,
) -> Result<(Duration, Duration), Error> {
    let t0 = Instant::now();
    let image = match png {
        Some(_) => Some(shade::shade(aggregate, shade_options)?),
        None => None,
    };
    let t1 = Instant::now();
    if let Some(path) = save_agg {
        output::write_agg_npy(path, aggregate)?;
    }
    if let (Some(path), Some(img)) = (png, &image) {
        let rgba = img.to_north_up_rgba8();
        output::write_png(path, img.width, img.height, &rgba, png_options)?;
    }
    Ok((t1 - t0, t1.elapsed()))
}

/// Check that a categorical aggregate has colours for every category
/// before anything is shaded.
pub fn check_color_key(
    categories: Option<&[String]>,
    column: Option<&str>,
    shade_options: &ShadeOptions,
) -> Result<(), Error> {
    if let (Some(cats), Some(col)) = (categories, column) {
        let colors = shade_options.color_key_len();
        if cats.len() > colors {
            return Err(Error::TooFewColors {
                column: col.to_string(),
                categories: cats.len(),
                colors,
            });
        }
    }
    Ok(())
}

/// Run a render: plan and aggregate, shade, then write the outputs (each
/// atomically). Nothing is written when any step before writing fails.
pub fn render(req: &RenderRequest) -> Result<RenderOutcome, Error> {
    render_with_progress(req, &|_, _| {})
}

/// [`render`], calling `progress(rows_done_now, total_rows)` as work units
/// finish (from any thread), e.g. to drive a progress bar.
pub fn render_with_progress(
    req: &RenderRequest,
    progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<RenderOutcome, Error> {
    let t0 = Instant::now();
    let source = open_inputs(&req.inputs)?;
    let plan = AggregationPlan::new(&source, &req.aggregate)?;
    if req.png.is_some() {
        check_color_key(
            plan.categories(),
            req.aggregate.reduction.by.as_deref(),
            &req.shade,
        )?;
    }
    let t1 = Instant::now();
    let total_rows = source.num_rows();
    let units = plan.units(&source);
    let rows_read = units.iter().map(|u| u.rows as u64).sum();
    let engine = plan.choose_engine(&units)?;
    let aggregate =
        plan.run_units_on(engine.engine, &source, &units, &|n| progress(n, total_rows))?;
    let t2 = Instant::now();
    let rows = source.num_rows();
    let mut warnings = Vec::new();
    if rows == 0 {
        warnings.push(format!(
            "input {} has no rows; the image is fully transparent",
            source.files().join(", ")
        ));
    }
    let (shade_time, write_time) = shade_and_write(
        &aggregate,
        &req.shade,
        req.png.as_deref(),
        req.save_agg.as_deref(),
        &req.png_options,
    )?;
    let t3 = t2 + shade_time;
    let t4 = t3 + write_time;
    Ok(RenderOutcome {
        aggregate,
        rows,
        rows_read,
        warnings,
        device: engine.reason,
        memory: plan.describe_memory(),
        timings: Timings {
            plan: t1 - t0,
            aggregate: t2 - t1,
            shade: t3 - t2,
            write: t4 - t3,
        },
    })
}
