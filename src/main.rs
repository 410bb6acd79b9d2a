//! The `pointillist` binary: parses arguments into a validated plan, calls
//! the library, and reports errors as one line with their causes.

mod cli;

use std::io::IsTerminal;
use std::process::ExitCode;

use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressStyle};

use cli::{
    AggregatePlan, Cli, Command, IndexPlan, InfoArgs, MergePlan, RenderPlan, ServePlan, TilesPlan,
};
use pointillist::aggregate::gpu;
use pointillist::render::{open_inputs, render_with_progress};
use pointillist::server::TileServer;

fn main() -> ExitCode {
    // Mesa's Vulkan drivers probe Wayland when a GPU is opened, and
    // libwayland prints "XDG_RUNTIME_DIR is invalid" to stderr where the
    // variable is unset (containers, CI, ssh). Any value silences it and
    // nothing else here reads it. Set while the process has one thread.
    if std::env::var_os("XDG_RUNTIME_DIR").is_none() {
        std::env::set_var("XDG_RUNTIME_DIR", std::env::temp_dir());
    }
    let cli = cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("pointillist: error: {}", one_line(&err));
            ExitCode::from(1)
        }
    }
}

/// The error and its causes on one line, skipping causes whose text the
/// message already contains.
fn one_line(err: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if text.is_empty() || line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line.replace('\n', " ")
}

fn run(cli: Cli) -> Result<()> {
    if matches!(
        cli.command,
        Command::Render(_) | Command::Aggregate(_) | Command::Merge(_)
    ) {
        keep_freed_memory();
    }
    match cli.command {
        Command::Render(args) => run_render(args.into_plan()?),
        Command::Aggregate(args) => run_aggregate(args.into_plan()?),
        Command::Merge(args) => run_merge(args.into_plan()?),
        #[cfg(feature = "synth")]
        Command::Synth(args) => {
            let (path, opts) = args.into_options()?;
            let summary = pointillist_synth::write_synth(&path, &opts)?;
            eprintln!(
                "wrote {} rows in {} row groups to {} ({} bytes)",
                summary.rows,
                summary.row_groups,
                path.display(),
                summary.bytes
            );
            Ok(())
        }
        Command::Info(args) => run_info(&args),
        Command::Serve(args) => run_serve(args.into_plan()?),
        Command::Index(args) => run_index(args.into_plan()?),
        Command::Tiles(args) => run_tiles(args.into_plan()?),
    }
}

/// For the one-pass commands (render, aggregate, merge): have glibc's
/// malloc keep freed memory instead of handing it back to the kernel at
/// once. The Parquet reader allocates and frees a decompression buffer per
/// page (and zstd a context per column chunk); with glibc's defaults many
/// of those go back to the kernel and fault in again, zeroed: on 100M
/// polars-written (zstd, 116K-row groups) rows that was 43% of the time in
/// the kernel, and a count render's read+aggregate took 0.89-1.99 s
/// against 0.69-0.74 s with these settings (+4 MB peak RSS; figures in
/// benches/README.md). Long-lived commands (serve) and those that keep to a
/// memory budget (index, tiles) keep the defaults, and so does anyone who
/// set `MALLOC_*_` variables.
fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let user_tuned = std::env::vars_os().any(|(k, _)| {
            k.to_str()
                .is_some_and(|k| k.starts_with("MALLOC_") && k.ends_with('_'))
        });
        if user_tuned {
            return;
        }
        #[allow(unsafe_code)]
        // SAFETY: `mallopt` only sets glibc allocator parameters (it takes
        // the allocator's own lock); no memory is touched. Called before the
        // command starts any thread.
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
            libc::mallopt(libc::M_TRIM_THRESHOLD, 256 << 20);
            libc::mallopt(libc::M_TOP_PAD, 16 << 20);
        }
    }
}

/// A pool of `threads` workers (default: one per core).
fn thread_pool(threads: Option<usize>) -> Result<rayon::ThreadPool> {
    let mut b = rayon::ThreadPoolBuilder::new();
    if let Some(n) = threads {
        b = b.num_threads(n);
    }
    b.build().context("cannot start worker threads")
}

fn run_aggregate(plan: AggregatePlan) -> Result<()> {
    let pool = thread_pool(plan.threads)?;
    let source = open_inputs(&plan.inputs)?;
    let started = std::time::Instant::now();
    let part = pool.install(|| -> Result<_> {
        let p = pointillist::aggregate::AggregationPlan::new(&source, &plan.request)?;
        if plan.verbose {
            let units = p.units(&source);
            eprintln!("device: {}", p.choose_engine(&units)?.reason);
            eprintln!("{}", p.describe_memory());
        }
        Ok(p.run_partial(&source)?)
    })?;
    pointillist::output::write_partial(&plan.output, &part)?;
    let shard = plan
        .request
        .shard
        .map_or_else(|| "all rows".to_string(), |s| format!("shard {s}"));
    eprintln!(
        "aggregated {} rows ({shard}) in {:.2} s: {}",
        part.rows(),
        started.elapsed().as_secs_f64(),
        plan.output.display()
    );
    Ok(())
}

fn run_merge(plan: MergePlan) -> Result<()> {
    let mut parts = Vec::with_capacity(plan.parts.len());
    for path in &plan.parts {
        let file = std::fs::File::open(path)
            .with_context(|| format!("cannot open partial aggregate '{}'", path.display()))?;
        let part =
            pointillist::aggregate::PartialAggregate::read_ipc(std::io::BufReader::new(file))
                .with_context(|| format!("'{}'", path.display()))?;
        parts.push(part);
    }
    let total = pointillist::aggregate::merge_shards(parts)?;
    let rows = total.rows();
    let by = total.spec().reduction.by.clone();
    let aggregate = total.finish();
    if plan.png.is_some() {
        pointillist::render::check_color_key(
            aggregate.categories.as_deref(),
            by.as_deref(),
            &plan.shade,
        )?;
    }
    pointillist::render::shade_and_write(
        &aggregate,
        &plan.shade,
        plan.png.as_deref(),
        plan.save_agg.as_deref(),
        &pointillist::output::PngOptions::default(),
    )?;
    eprintln!(
        "merged {} partial{} ({rows} rows)",
        plan.parts.len(),
        if plan.parts.len() == 1 { "" } else { "s" }
    );
    Ok(())
}

fn run_index(plan: IndexPlan) -> Result<()> {
    let pool = thread_pool(plan.threads)?;
    let source = pointillist::source::Source::open(&plan.inputs)?;
    let started = std::time::Instant::now();
    let summary =
        pool.install(|| pointillist::index::build_index(&source, &plan.output, &plan.options))?;
    eprintln!(
        "indexed {} rows into {} row groups of up to {} rows ({} sorted run{}) in {:.1} s: {} ({} bytes)",
        summary.rows,
        summary.row_groups,
        plan.options.row_group_rows,
        summary.runs,
        if summary.runs == 1 { "" } else { "s" },
        started.elapsed().as_secs_f64(),
        plan.output.display(),
        summary.bytes
    );
    Ok(())
}

fn run_tiles(plan: TilesPlan) -> Result<()> {
    let pool = thread_pool(plan.threads)?;
    let source = open_inputs(&plan.inputs)?;
    let started = std::time::Instant::now();
    let bar = if std::io::stderr().is_terminal() {
        let bar = ProgressBar::new(0);
        if let Ok(style) = ProgressStyle::with_template("zoom {msg} {wide_bar} {pos}/{len} tiles") {
            bar.set_style(style);
        }
        bar
    } else {
        ProgressBar::hidden()
    };
    let progress = |z: u8, done: usize, total: usize| {
        bar.set_message(z.to_string());
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    };
    let summary = pool.install(|| {
        pointillist::tiles::pyramid::write_pyramid(
            &source,
            &plan.layer,
            &plan.output,
            &plan.options,
            &progress,
        )
    });
    bar.finish_and_clear();
    let summary = summary?;
    for z in &summary.zooms {
        let span = z
            .span
            .map_or_else(|| "per tile".to_string(), |(a, b)| format!("{a}..{b}"));
        eprintln!(
            "zoom {:>2}: {} of {} tiles have data; span {span}",
            z.z, z.written, z.covering
        );
    }
    eprintln!(
        "wrote {} tiles ({} bytes of PNG) to {} in {:.1} s",
        summary.tiles,
        summary.png_bytes,
        plan.output.path().display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn run_serve(plan: ServePlan) -> Result<()> {
    if let Some(path) = &plan.archive {
        return run_serve_archive(path, plan.config.basemap.clone(), plan.addr, plan.limits);
    }
    if let Some(n) = plan.threads {
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global()
            .context("cannot start the thread pool")?;
    }
    let source = open_inputs(&plan.inputs)?;
    let rows = source.num_rows();
    let server = std::sync::Arc::new(TileServer::new(source, plan.config)?);
    // Low-zoom levels are computed in the background; tiles that need one
    // before it is ready wait for it.
    let _warm = server.warm_up();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(plan.addr)
            .await
            .with_context(|| {
                format!(
                    "cannot listen on {}; choose another --port or --bind",
                    plan.addr
                )
            })?;
        let addr = listener.local_addr().context("cannot read the bound address")?;
        eprintln!("serving {rows} rows at http://{addr}/ (viewer); tiles at http://{addr}/tiles/{{z}}/{{x}}/{{y}}.png, TileJSON at http://{addr}/tilejson.json; Ctrl-C stops");
        pointillist::server::serve_with(
            listener,
            server,
            plan.limits,
            pointillist::server::shutdown_signal(),
        )
        .await
        .context("the server failed")?;
        eprintln!("stopped");
        Ok(())
    })
}

/// `serve OUT.pmtiles|OUT.mbtiles`: the archive's tiles as they are.
fn run_serve_archive(
    path: &std::path::Path,
    basemap: Option<String>,
    addr: std::net::SocketAddr,
    limits: pointillist::server::ConnectionLimits,
) -> Result<()> {
    let archive = pointillist::server::TileArchive::open(path)?;
    let info = archive.info().clone();
    let server = std::sync::Arc::new(pointillist::server::ArchiveServer::with_basemap(
        archive, basemap,
    ));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| {
            format!("cannot listen on {addr}; choose another --port or --bind")
        })?;
        let addr = listener.local_addr().context("cannot read the bound address")?;
        eprintln!(
            "serving {} archive {} (zooms {}-{}) at http://{addr}/ (viewer); tiles at http://{addr}/tiles/{{z}}/{{x}}/{{y}}.png, TileJSON at http://{addr}/tilejson.json; Ctrl-C stops",
            info.format.name(),
            path.display(),
            info.min_zoom,
            info.max_zoom
        );
        pointillist::server::serve_archive(
            listener,
            server,
            limits,
            pointillist::server::shutdown_signal(),
        )
        .await
        .context("the server failed")?;
        eprintln!("stopped");
        Ok(())
    })
}

fn run_render(plan: RenderPlan) -> Result<()> {
    if let Some(n) = plan.threads {
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global()
            .context("cannot start the thread pool")?;
    }
    // A progress bar only for a person watching a terminal.
    let bar = (!plan.quiet && std::io::stderr().is_terminal()).then(|| {
        let bar = ProgressBar::new(0);
        bar.set_style(
            ProgressStyle::with_template(
                "{bar:40} {percent:>3}% {human_pos}/{human_len} rows, eta {eta}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar
    });
    let outcome = render_with_progress(&plan.request, &|n, total| {
        if let Some(bar) = &bar {
            bar.set_length(total);
            bar.inc(n);
        }
    });
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let outcome = outcome?;
    if !plan.quiet {
        for w in &outcome.warnings {
            eprintln!("pointillist: warning: {w}");
        }
    }
    if plan.verbose {
        eprintln!("pointillist: device: {}", outcome.device);
        eprintln!("pointillist: {}", outcome.memory);
    }
    if plan.timings {
        let t = &outcome.timings;
        let ms = |d: std::time::Duration| d.as_secs_f64() * 1e3;
        eprintln!(
            "rows {} (read {})  plan {:.1} ms  read+aggregate {:.1} ms  shade {:.1} ms  encode+write {:.1} ms",
            outcome.rows,
            outcome.rows_read,
            ms(t.plan),
            ms(t.aggregate),
            ms(t.shade),
            ms(t.write)
        );
    }
    Ok(())
}

fn run_info(args: &InfoArgs) -> Result<()> {
    let source = open_inputs(&args.inputs)?;
    println!("files: {}", source.files().len());
    for f in source.files() {
        println!("  {f}");
    }
    println!("rows: {}", source.num_rows());
    println!("row groups: {}", source.units(usize::MAX).len());
    match gpu::probe() {
        Ok(a) => println!("gpu: {a}"),
        Err(e) => println!("gpu: none ({e})"),
    }
    println!("columns:");
    if let Some(schema) = source.schema_of(0) {
        for field in schema.fields() {
            println!("  {}: {}", field.name(), field.data_type());
        }
    }
    Ok(())
}
