//! The GPU path of the aggregation stage: wgpu compute shaders behind a
//! safe facade.
//!
//! Everything that touches wgpu lives in this module. [`Gpu`] is the
//! device (one per process, [`Gpu::shared`]); [`GpuCanvas`] is one
//! aggregate being built on it: [`GpuCanvas::accumulate`] streams chunks of
//! points in, [`GpuCanvas::finish`] reads the canvas back as a
//! [`Partial`](super::Partial), which merges and finalizes through the same
//! contract as the CPU's partials.
//!
//! What runs where, and why the results are exact:
//!
//! - the host computes each point's cell with the CPU's own f64 kernel, so
//!   every point lands in the pixel Datashader gives it (WGSL has no f64);
//! - `count`, `any` and the per-category forms are integer atomics: exact;
//! - `min`/`max` take the minimum of 64-bit order-preserving keys in three
//!   32-bit atomic passes (`shaders/minmax.wgsl`): exact;
//! - `sum`/`mean` add 96-bit fixed-point values (`shaders/sum.wgsl`): each
//!   value is rounded to a multiple of `2^-k`, where `2^k` scales the
//!   column's largest magnitude `M` (from statistics) just under `2^62`, so
//!   it is off by at most `2^-63 M`; the sum of those is exact and rounded
//!   once to f64. The CPU adds in f64 in row order, rounding at every step
//!   (error up to about `n 2^-53 M`), so the two agree to within the CPU's
//!   own rounding error. One difference by design: a cell with both `+inf`
//!   and `-inf` is NaN on the GPU, while the CPU, like Datashader, restarts
//!   the sum from the next finite value (NaN marks an empty cell there).
//!   `min`/`max` of a cell holding both zeros gives `+0.0` on the GPU and
//!   whichever came first on the CPU; they compare equal.
//! - `var`/`std` add the same fixed-point values and their squares
//!   (`shaders/var.wgsl`: 96- and 160-bit integers); the host forms
//!   `n * S2 - S1^2` exactly and rounds once, so there is no cancellation
//!   (a cell with an infinity is NaN);
//! - `first`/`last` take the first or last row of each cell by the same
//!   three-pass 64-bit maximum on the row's position in the input, then
//!   copy that row's value: exact.
//!
//! All of these combine by commutative integer operations, so the result
//! does not depend on the order chunks or invocations run in: it is the
//! same bytes on every run.

mod canvas;
mod encode;

use std::fmt;
use std::sync::{Arc, Mutex, OnceLock};

pub use canvas::{GpuCanvas, GpuOptions};
pub use encode::{Encoding, FixedScale, PointChunk};

/// The wgpu this module is built on, for callers that open their own
/// device ([`Gpu::from_wgpu`]): its types are the ones `from_wgpu` takes.
pub use wgpu;

pub use super::device::{Device, AUTO_MIN_ROWS};
use super::reduction::ReductionKind;

/// Errors of the GPU path.
#[derive(Debug, Clone, thiserror::Error)]
pub enum GpuError {
    /// No adapter could be found.
    #[error("no GPU adapter found ({reason}); install a Vulkan, Metal or DX12 driver (on Debian, mesa-vulkan-drivers gives a software one) or use --device cpu")]
    NoAdapter {
        /// What wgpu said.
        reason: String,
    },
    /// The adapter refused to open a device.
    /// A reduction the GPU kernels do not compute.
    #[error("{reduction} is not computed on the GPU; use --device cpu")]
    Unsupported {
        /// The reduction asked for.
        reduction: &'static str,
    },
    #[error("GPU adapter {adapter} refused to open a device: {message}; use --device cpu")]
    RequestDevice {
        /// The adapter's name.
        adapter: String,
        /// What wgpu said.
        message: String,
    },
    /// The canvas does not fit the device.
    #[error("the GPU ({adapter}) could not hold a {needed_mib} MiB canvas; use a smaller canvas or --device cpu")]
    OutOfMemory {
        /// The adapter's name.
        adapter: String,
        /// MiB the canvas needs.
        needed_mib: u64,
    },
    /// The device failed while running (validation error, device lost,
    /// timeout).
    #[error("the GPU ({adapter}) failed: {message}; use --device cpu")]
    Failed {
        /// The adapter's name.
        adapter: String,
        /// What wgpu said.
        message: String,
    },
    /// A value larger than the column's statistics promised.
    #[error("column '{column}' holds {value}, beyond the largest magnitude its statistics give; rewrite the file with correct statistics or use --device cpu")]
    ValueOutOfRange {
        /// The value column.
        column: String,
        /// The value.
        value: f64,
    },
}

/// What the adapter is, for messages and `--verbose`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdapterSummary {
    /// The adapter's name (e.g. `NVIDIA H100`, `llvmpipe (LLVM 15.0.6, 256 bits)`).
    pub name: String,
    /// The backend (`Vulkan`, `Metal`, `Dx12`, `Gl`).
    pub backend: String,
    /// Whether this is a software rasteriser running on the CPU (Mesa's
    /// lavapipe, WARP, SwiftShader).
    pub software: bool,
    /// The driver and its version, where the backend says.
    pub driver: String,
}

impl AdapterSummary {
    /// The summary of what wgpu says about an adapter.
    pub fn from_info(info: &wgpu::AdapterInfo) -> AdapterSummary {
        AdapterSummary {
            name: info.name.clone(),
            backend: format!("{:?}", info.backend),
            software: info.device_type == wgpu::DeviceType::Cpu,
            driver: [info.driver.as_str(), info.driver_info.as_str()]
                .iter()
                .filter(|s| !s.is_empty())
                .copied()
                .collect::<Vec<_>>()
                .join(" "),
        }
    }
}

impl fmt::Display for AdapterSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}", self.name, self.backend)?;
        if !self.driver.is_empty() {
            write!(f, ", {}", self.driver)?;
        }
        if self.software {
            f.write_str(", software")?;
        }
        f.write_str(")")
    }
}

/// Errors raised by wgpu outside a call (validation, device loss), kept
/// until the next check.
type ErrorSink = Arc<Mutex<Option<String>>>;

/// An open GPU device with the aggregation pipelines.
///
/// Either pointillist's own ([`Gpu::shared`], [`Gpu::new`]) or one made
/// from a device the caller opened ([`Gpu::from_wgpu`]). Run a plan on it
/// with [`Engine::Gpu`](super::Engine::Gpu) and
/// [`AggregationPlan::run_units_on`](super::AggregationPlan::run_units_on).
#[derive(Debug)]
pub struct Gpu {
    device: wgpu::Device,
    queue: wgpu::Queue,
    summary: AdapterSummary,
    limits: wgpu::Limits,
    errors: ErrorSink,
    pipelines: canvas::Pipelines,
}

static SHARED: OnceLock<Result<Arc<Gpu>, GpuError>> = OnceLock::new();
static PROBED: OnceLock<Result<Probe, GpuError>> = OnceLock::new();

/// The best adapter, found but not opened: enough to decide whether to use
/// it, without the memory and time a device and its pipelines cost.
#[derive(Debug)]
struct Probe {
    adapter: wgpu::Adapter,
    summary: AdapterSummary,
}

impl Probe {
    fn new() -> Result<Probe, GpuError> {
        let mut desc = wgpu::InstanceDescriptor::new_without_display_handle();
        desc.backends = wgpu::Backends::PRIMARY;
        let instance = wgpu::Instance::new(desc.with_env());
        let adapter = pollster::block_on(instance.request_adapter(&wgpu::RequestAdapterOptions {
            power_preference: wgpu::PowerPreference::HighPerformance,
            ..Default::default()
        }))
        .map_err(|e| GpuError::NoAdapter {
            reason: e.to_string(),
        })?;
        let summary = AdapterSummary::from_info(&adapter.get_info());
        Ok(Probe { adapter, summary })
    }

    /// The process-wide probe, made on first use.
    fn shared() -> Result<&'static Probe, GpuError> {
        PROBED
            .get_or_init(Probe::new)
            .as_ref()
            .map_err(Clone::clone)
    }
}

/// What the best adapter is, without opening it (no device, no shaders
/// compiled): what `auto` and `pointillist info` need.
pub fn probe() -> Result<&'static AdapterSummary, GpuError> {
    Probe::shared().map(|p| &p.summary)
}

impl Gpu {
    /// Open the best adapter (high performance first; the backends can be
    /// narrowed with `WGPU_BACKEND`, e.g. `vulkan`).
    pub fn new() -> Result<Gpu, GpuError> {
        Gpu::open(&Probe::new()?)
    }

    /// Open a device on a probed adapter.
    fn open(probe: &Probe) -> Result<Gpu, GpuError> {
        let Probe { adapter, summary } = probe;
        // Ask for everything the adapter can do: the defaults cap a storage
        // binding at 128 MiB, which would split canvases needlessly.
        let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
            label: Some("pointillist aggregation device"),
            required_features: wgpu::Features::empty(),
            required_limits: adapter.limits(),
            ..Default::default()
        }))
        .map_err(|e| GpuError::RequestDevice {
            adapter: summary.name.clone(),
            message: e.to_string(),
        })?;
        Gpu::with_device(summary.clone(), device, queue)
    }

    /// Aggregate on a device the caller opened, e.g. one its renderer
    /// already uses; `info` is its adapter's [`wgpu::Adapter::get_info`].
    ///
    /// The device needs no optional features; canvases and chunks are cut
    /// to fit its limits ([`wgpu::Device::limits`]), so a device opened
    /// with the adapter's limits (as [`Gpu::new`] does) holds larger
    /// bands than one opened with the defaults. This compiles the
    /// aggregation kernels on the device, and installs an uncaptured-error
    /// handler and a device-lost callback on it (replacing any the caller
    /// set) so that wgpu errors come back as [`GpuError`]s instead of
    /// panics. The device and queue are handles: keep clones to go on using
    /// them.
    ///
    /// ```no_run
    /// use std::sync::Arc;
    /// use pointillist::aggregate::gpu::{wgpu, Gpu};
    /// use pointillist::aggregate::{AggregateRequest, AggregationPlan, Engine};
    /// use pointillist::source::Source;
    ///
    /// // The caller's own device (here opened just for this).
    /// let instance = wgpu::Instance::default();
    /// let adapter =
    ///     pollster::block_on(instance.request_adapter(&wgpu::RequestAdapterOptions::default()))?;
    /// let (device, queue) =
    ///     pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor::default()))?;
    ///
    /// let gpu = Arc::new(Gpu::from_wgpu(&adapter.get_info(), device.clone(), queue.clone())?);
    /// let source = Source::open(&["points.parquet"])?;
    /// let plan = AggregationPlan::new(&source, &AggregateRequest::new(800, 600))?;
    /// let units = plan.units(&source);
    /// let agg = plan.run_units_on(Engine::Gpu(gpu), &source, &units, &|_| {})?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_wgpu(
        info: &wgpu::AdapterInfo,
        device: wgpu::Device,
        queue: wgpu::Queue,
    ) -> Result<Gpu, GpuError> {
        Gpu::with_device(AdapterSummary::from_info(info), device, queue)
    }

    /// Install the error handlers and compile the kernels on an open
    /// device.
    fn with_device(
        summary: AdapterSummary,
        device: wgpu::Device,
        queue: wgpu::Queue,
    ) -> Result<Gpu, GpuError> {
        let limits = device.limits();
        let errors: ErrorSink = Arc::default();
        let sink = errors.clone();
        device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
            let mut slot = sink.lock().unwrap_or_else(|p| p.into_inner());
            slot.get_or_insert_with(|| e.to_string());
        }));
        let sink = errors.clone();
        device.set_device_lost_callback(move |reason, message| {
            let mut slot = sink.lock().unwrap_or_else(|p| p.into_inner());
            slot.get_or_insert_with(|| format!("device lost ({reason:?}): {message}"));
        });
        let pipelines = canvas::Pipelines::new(&device);
        let gpu = Gpu {
            device,
            queue,
            summary,
            limits,
            errors,
            pipelines,
        };
        gpu.check()?;
        Ok(gpu)
    }

    /// The process-wide device, opened on first use. The outcome (device or
    /// error) is kept: adapters do not come and go within a run.
    pub fn shared() -> Result<Arc<Gpu>, GpuError> {
        SHARED
            .get_or_init(|| Gpu::open(Probe::shared()?).map(Arc::new))
            .clone()
    }

    /// What the adapter is.
    pub fn adapter(&self) -> &AdapterSummary {
        &self.summary
    }

    /// The largest storage binding, in bytes.
    pub fn max_binding_bytes(&self) -> u64 {
        self.limits
            .max_storage_buffer_binding_size
            .min(self.limits.max_buffer_size)
    }

    /// A new, empty canvas of `cells` cells for `kind` (values scaled by
    /// `scale` for sum/mean).
    pub fn canvas(
        &self,
        kind: ReductionKind,
        cells: usize,
        scale: FixedScale,
        options: GpuOptions,
    ) -> Result<GpuCanvas<'_>, GpuError> {
        GpuCanvas::new(self, kind, cells, scale, options)
    }

    /// An error wgpu reported since the last check, if any.
    fn check(&self) -> Result<(), GpuError> {
        let taken = self.errors.lock().unwrap_or_else(|p| p.into_inner()).take();
        match taken {
            Some(message) => Err(self.failed(message)),
            None => Ok(()),
        }
    }

    fn failed(&self, message: impl Into<String>) -> GpuError {
        GpuError::Failed {
            adapter: self.summary.name.clone(),
            message: message.into(),
        }
    }
}

#[cfg(test)]
mod tests;
