//! One aggregate on the GPU: buffers, dispatches and read-back.
//!
//! The canvas is held in bands of cells, each no larger than one storage
//! binding (the adapter's `max_storage_buffer_binding_size`); points are
//! uploaded in pieces no larger than a binding either, and every piece is
//! dispatched once per band. A dispatch is split over two dimensions when
//! it needs more workgroups than one dimension allows.

use super::encode::{from_order_key, Encoding, FixedScale, PointChunk};
use super::{Gpu, GpuError};
use crate::aggregate::partial::Partial;
use crate::aggregate::reduction::ReductionKind;

/// Invocations per workgroup (the shaders' `@workgroup_size`).
const WORKGROUP: u32 = 256;
/// Bytes read back per copy.
const READBACK_BYTES: u64 = 64 << 20;

/// Tuning of the GPU path (defaults suit any adapter; tests shrink them to
/// exercise the streaming and banding).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GpuOptions {
    /// Most points uploaded per dispatch.
    pub max_chunk_points: usize,
    /// Most bytes of canvas state per band (further capped by the
    /// adapter's storage binding limit).
    pub max_band_bytes: u64,
}

impl Default for GpuOptions {
    fn default() -> Self {
        GpuOptions {
            max_chunk_points: 1 << 22,
            max_band_bytes: 1 << 30,
        }
    }
}

/// The compute pipelines, built once per device.
#[derive(Debug)]
pub(super) struct Pipelines {
    cells_layout: wgpu::BindGroupLayout,
    values_layout: wgpu::BindGroupLayout,
    order_layout: wgpu::BindGroupLayout,
    count: wgpu::ComputePipeline,
    any: wgpu::ComputePipeline,
    sum: wgpu::ComputePipeline,
    var: wgpu::ComputePipeline,
    best_high: wgpu::ComputePipeline,
    best_settle: wgpu::ComputePipeline,
    best_low: wgpu::ComputePipeline,
    order_high: wgpu::ComputePipeline,
    order_settle: wgpu::ComputePipeline,
    order_low: wgpu::ComputePipeline,
    order_pick: wgpu::ComputePipeline,
}

fn layout_entry(binding: u32, ty: wgpu::BufferBindingType) -> wgpu::BindGroupLayoutEntry {
    wgpu::BindGroupLayoutEntry {
        binding,
        visibility: wgpu::ShaderStages::COMPUTE,
        ty: wgpu::BindingType::Buffer {
            ty,
            has_dynamic_offset: false,
            min_binding_size: None,
        },
        count: None,
    }
}

impl Pipelines {
    pub(super) fn new(device: &wgpu::Device) -> Pipelines {
        use wgpu::BufferBindingType::{Storage, Uniform};
        let ro = Storage { read_only: true };
        let rw = Storage { read_only: false };
        let layout = |label: &str, kinds: &[wgpu::BufferBindingType]| {
            let entries: Vec<_> = (0u32..)
                .zip(kinds)
                .map(|(binding, &ty)| layout_entry(binding, ty))
                .collect();
            device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
                label: Some(label),
                entries: &entries,
            })
        };
        // params, cells, canvas.
        let cells_layout = layout("pointillist cells layout", &[Uniform, ro, rw]);
        // params, cells, values, canvas, auxiliary word.
        let values_kinds = [Uniform, ro, ro, rw, rw];
        let values_layout = layout("pointillist values layout", &values_kinds);
        // The same, plus first/last's payloads and picked values.
        let order_layout = layout(
            "pointillist first/last layout",
            &[&values_kinds[..], &[ro, rw]].concat(),
        );
        // Each kernel file follows common.wgsl (uniforms, point -> cell).
        macro_rules! module {
            ($file:literal) => {
                device.create_shader_module(wgpu::ShaderModuleDescriptor {
                    label: Some(concat!("pointillist ", $file)),
                    source: wgpu::ShaderSource::Wgsl(
                        concat!(
                            include_str!("../../../shaders/common.wgsl"),
                            include_str!(concat!("../../../shaders/", $file))
                        )
                        .into(),
                    ),
                })
            };
        }
        let count_module = module!("count.wgsl");
        let sum_module = module!("sum.wgsl");
        let var_module = module!("var.wgsl");
        let minmax_module = module!("minmax.wgsl");
        let cells_pl = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some("pointillist cells pipeline layout"),
            bind_group_layouts: &[Some(&cells_layout)],
            immediate_size: 0,
        });
        let values_pl = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some("pointillist values pipeline layout"),
            bind_group_layouts: &[Some(&values_layout)],
            immediate_size: 0,
        });
        let order_pl = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some("pointillist first/last pipeline layout"),
            bind_group_layouts: &[Some(&order_layout)],
            immediate_size: 0,
        });
        let pipeline = |label: &str,
                        layout: &wgpu::PipelineLayout,
                        module: &wgpu::ShaderModule,
                        entry: &str| {
            device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: Some(label),
                layout: Some(layout),
                module,
                entry_point: Some(entry),
                compilation_options: Default::default(),
                cache: None,
            })
        };
        Pipelines {
            count: pipeline(
                "pointillist count",
                &cells_pl,
                &count_module,
                "count_points",
            ),
            any: pipeline("pointillist any", &cells_pl, &count_module, "any_point"),
            sum: pipeline("pointillist sum", &values_pl, &sum_module, "sum_values"),
            var: pipeline(
                "pointillist var moments",
                &values_pl,
                &var_module,
                "var_moments",
            ),
            best_high: pipeline(
                "pointillist min/max high words",
                &values_pl,
                &minmax_module,
                "best_high",
            ),
            best_settle: pipeline(
                "pointillist min/max settle",
                &values_pl,
                &minmax_module,
                "best_settle",
            ),
            best_low: pipeline(
                "pointillist min/max low words",
                &values_pl,
                &minmax_module,
                "best_low",
            ),
            order_high: pipeline(
                "pointillist first/last high words",
                &order_pl,
                &minmax_module,
                "best_high",
            ),
            order_settle: pipeline(
                "pointillist first/last settle",
                &order_pl,
                &minmax_module,
                "best_settle",
            ),
            order_low: pipeline(
                "pointillist first/last low words",
                &order_pl,
                &minmax_module,
                "best_low",
            ),
            order_pick: pipeline(
                "pointillist first/last pick",
                &order_pl,
                &minmax_module,
                "best_pick",
            ),
            cells_layout,
            values_layout,
            order_layout,
        }
    }
}

/// Which shaders a reduction uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    Count,
    Any,
    Sum,
    Var,
    Best,
    Order,
}

impl Family {
    /// Bytes of the main state per cell.
    fn state_bytes(self) -> u64 {
        match self {
            Family::Count | Family::Any => 4,
            Family::Sum => 16,
            Family::Var => 36,
            Family::Best | Family::Order => 8,
        }
    }
}

/// What a kernel's invocations run over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Over {
    /// One invocation per uploaded point.
    Points,
    /// One invocation per cell of the band.
    Cells,
}

impl Pipelines {
    /// The kernels each chunk runs through for `family`, in order.
    fn steps(&self, family: Family) -> Vec<(&wgpu::ComputePipeline, Over)> {
        use Over::{Cells, Points};
        match family {
            Family::Count => vec![(&self.count, Points)],
            Family::Any => vec![(&self.any, Points)],
            Family::Sum => vec![(&self.sum, Points)],
            Family::Var => vec![(&self.var, Points)],
            Family::Best => vec![
                (&self.best_high, Points),
                (&self.best_settle, Cells),
                (&self.best_low, Points),
            ],
            Family::Order => vec![
                (&self.order_high, Points),
                (&self.order_settle, Cells),
                (&self.order_low, Points),
                (&self.order_pick, Points),
            ],
        }
    }
}

/// The uniform block of every shader (`Params` in `shaders/*.wgsl`).
#[derive(Debug, Clone, Copy)]
struct Params {
    n: u32,
    band_start: u32,
    band_len: u32,
    row_stride: u32,
    cell_stride: u32,
}

impl Params {
    fn bytes(&self) -> [u8; 32] {
        let mut b = [0u8; 32];
        for (i, v) in [
            self.n,
            self.band_start,
            self.band_len,
            self.row_stride,
            self.cell_stride,
        ]
        .into_iter()
        .enumerate()
        {
            b[4 * i..4 * i + 4].copy_from_slice(&v.to_le_bytes());
        }
        b
    }
}

/// Cells `[start, start + len)` of the canvas.
#[derive(Debug)]
struct Band {
    start: u32,
    len: u32,
    params: wgpu::Buffer,
    state: wgpu::Buffer,
    /// Sum, var: infinity flags; min, max, first, last: settled high words.
    aux: Option<wgpu::Buffer>,
    /// First, last: the value of the winning row.
    picked: Option<wgpu::Buffer>,
    bind_group: wgpu::BindGroup,
    /// Workgroups of a per-cell pass over the band.
    cell_dims: (u32, u32),
}

/// An aggregate being built on the GPU (see the module docs).
#[derive(Debug)]
pub struct GpuCanvas<'g> {
    gpu: &'g Gpu,
    kind: ReductionKind,
    family: Family,
    encoding: Encoding,
    cells: usize,
    chunk_cap: usize,
    cells_buf: wgpu::Buffer,
    words_buf: Option<wgpu::Buffer>,
    payload_buf: Option<wgpu::Buffer>,
    bands: Vec<Band>,
    /// The kernels a chunk runs through, in order.
    steps: Vec<(&'g wgpu::ComputePipeline, Over)>,
    /// Points in the upload buffers.
    resident: usize,
    last_submission: Option<wgpu::SubmissionIndex>,
}

impl<'g> GpuCanvas<'g> {
    pub(super) fn new(
        gpu: &'g Gpu,
        kind: ReductionKind,
        cells: usize,
        scale: FixedScale,
        options: GpuOptions,
    ) -> Result<GpuCanvas<'g>, GpuError> {
        let encoding = Encoding::for_kind(kind, scale).ok_or(GpuError::Unsupported {
            reduction: kind.name(),
        })?;
        let family = match kind {
            ReductionKind::Count => Family::Count,
            ReductionKind::Any => Family::Any,
            ReductionKind::Sum | ReductionKind::Mean => Family::Sum,
            ReductionKind::Var | ReductionKind::Std => Family::Var,
            ReductionKind::First | ReductionKind::Last => Family::Order,
            ReductionKind::Min | ReductionKind::Max => Family::Best,
            _ => {
                return Err(GpuError::Unsupported {
                    reduction: kind.name(),
                })
            }
        };
        let device = &gpu.device;
        let binding = gpu.max_binding_bytes();
        // Bands hold whole cells and stay within one binding.
        let band_bytes = options
            .max_band_bytes
            .min(binding)
            .max(family.state_bytes());
        let band_cells = (band_bytes / family.state_bytes()).max(1) as usize;
        let wpp = encoding.words_per_point() as u64;
        let needs_words = wpp > 0;
        let chunk_cap = options
            .max_chunk_points
            .min((binding / (4 * wpp.max(1))) as usize)
            .max(1);
        let picks = family == Family::Order;
        // State, the auxiliary word, and first/last's picked values.
        let cell_bytes = family.state_bytes() + 4 + if picks { 8 } else { 0 };
        let needed_mib = (cells as u64 * cell_bytes) >> 20;
        let scope = device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
        let storage = |label: &str, size: u64, usage: wgpu::BufferUsages| {
            device.create_buffer(&wgpu::BufferDescriptor {
                label: Some(label),
                size: size.max(4),
                usage,
                mapped_at_creation: false,
            })
        };
        let upload = wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST;
        let state_usage = wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC;
        let cells_buf = storage("pointillist point cells", 4 * chunk_cap as u64, upload);
        let words_buf = needs_words.then(|| {
            storage(
                "pointillist point values",
                4 * wpp * chunk_cap as u64,
                upload,
            )
        });
        let payload_buf =
            picks.then(|| storage("pointillist point payloads", 8 * chunk_cap as u64, upload));
        let layouts = &gpu.pipelines;
        let mut bands = Vec::new();
        let mut start = 0usize;
        while start < cells.max(1) {
            let len = band_cells.min(cells.max(1) - start);
            let params = storage(
                "pointillist band params",
                32,
                wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            );
            let state = storage(
                "pointillist canvas band",
                len as u64 * family.state_bytes(),
                state_usage,
            );
            let aux = (family != Family::Count && family != Family::Any).then(|| {
                storage(
                    if matches!(family, Family::Sum | Family::Var) {
                        "pointillist infinity flags band"
                    } else {
                        "pointillist settled high words band"
                    },
                    len as u64 * 4,
                    state_usage,
                )
            });
            let picked = picks.then(|| {
                storage(
                    "pointillist picked values band",
                    len as u64 * 8,
                    state_usage,
                )
            });
            // Bindings 0-1 (params, cells) always; then either the canvas
            // alone (count, any) or values, canvas and auxiliary word; then
            // first/last's payloads and picked values.
            let mut entries = vec![entry(0, &params), entry(1, &cells_buf)];
            match (&words_buf, &aux) {
                (Some(words), Some(aux)) => {
                    entries.extend([entry(2, words), entry(3, &state), entry(4, aux)])
                }
                _ => entries.push(entry(2, &state)),
            }
            if let (Some(payload), Some(picked)) = (&payload_buf, &picked) {
                entries.extend([entry(5, payload), entry(6, picked)]);
            }
            let (layout, label) = match family {
                Family::Count | Family::Any => {
                    (&layouts.cells_layout, "pointillist band bindings (cells)")
                }
                Family::Order => (
                    &layouts.order_layout,
                    "pointillist band bindings (first/last)",
                ),
                Family::Sum | Family::Var | Family::Best => {
                    (&layouts.values_layout, "pointillist band bindings (values)")
                }
            };
            let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
                label: Some(label),
                layout,
                entries: &entries,
            });
            bands.push(Band {
                start: start as u32,
                len: len as u32,
                params,
                state,
                aux,
                picked,
                bind_group,
                cell_dims: gpu.dims(len),
            });
            start += len;
        }
        if pollster::block_on(scope.pop()).is_some() {
            return Err(GpuError::OutOfMemory {
                adapter: gpu.summary.name.clone(),
                needed_mib,
            });
        }
        gpu.check()?;
        Ok(GpuCanvas {
            gpu,
            kind,
            family,
            encoding,
            cells,
            chunk_cap,
            cells_buf,
            words_buf,
            payload_buf,
            bands,
            steps: gpu.pipelines.steps(family),
            resident: 0,
            last_submission: None,
        })
    }

    /// The encoding [`PointChunk::push`] must use for this canvas.
    pub fn encoding(&self) -> Encoding {
        self.encoding
    }

    /// Number of bands the canvas is held in.
    pub fn bands(&self) -> usize {
        self.bands.len()
    }

    /// Add a chunk of points (encoded with [`GpuCanvas::encoding`]). The
    /// chunk is uploaded in pieces of at most the chunk capacity; at most
    /// two pieces are in flight, so host memory stays bounded.
    pub fn accumulate(&mut self, chunk: &PointChunk) -> Result<(), GpuError> {
        let n = chunk.len();
        let wpp = self.encoding.words_per_point();
        let mut at = 0;
        while at < n {
            let end = (at + self.chunk_cap).min(n);
            self.dispatch_piece(
                &chunk.cells[at..end],
                chunk.words.get(wpp * at..wpp * end).unwrap_or(&[]),
                chunk.payload.get(2 * at..2 * end).unwrap_or(&[]),
            )?;
            at = end;
        }
        Ok(())
    }

    fn dispatch_piece(
        &mut self,
        cells: &[u32],
        words: &[u32],
        payload: &[u32],
    ) -> Result<(), GpuError> {
        let queue = &self.gpu.queue;
        queue.write_buffer(&self.cells_buf, 0, &words_to_bytes(cells));
        if let Some(wb) = &self.words_buf {
            queue.write_buffer(wb, 0, &words_to_bytes(words));
        }
        if let Some(pb) = &self.payload_buf {
            queue.write_buffer(pb, 0, &words_to_bytes(payload));
        }
        self.resident = cells.len();
        self.dispatch()
    }

    /// Run the kernels again over the points of the last piece, which are
    /// still on the device: no upload. This adds those points a second
    /// time; it exists to measure kernel throughput on resident data
    /// (`examples/gpu_bench.rs`). Returns the number of points run.
    pub fn replay(&mut self) -> Result<usize, GpuError> {
        self.dispatch()?;
        Ok(self.resident)
    }

    /// Block until every dispatch so far has run.
    pub fn sync(&mut self) -> Result<(), GpuError> {
        self.gpu.wait(self.last_submission.take())?;
        self.gpu.check()
    }

    /// Dispatch the kernels over the `resident` points in the upload
    /// buffers, once per band.
    fn dispatch(&mut self) -> Result<(), GpuError> {
        let gpu = self.gpu;
        let queue = &gpu.queue;
        let n = self.resident;
        let (gx, gy) = gpu.dims(n);
        for band in &self.bands {
            let p = Params {
                n: n as u32,
                band_start: band.start,
                band_len: band.len,
                row_stride: gx * WORKGROUP,
                cell_stride: band.cell_dims.0 * WORKGROUP,
            };
            queue.write_buffer(&band.params, 0, &p.bytes());
        }
        let mut encoder = gpu
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("pointillist accumulate"),
            });
        {
            let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some("pointillist accumulate pass"),
                timestamp_writes: None,
            });
            for band in &self.bands {
                pass.set_bind_group(0, &band.bind_group, &[]);
                for &(pipeline, over) in &self.steps {
                    pass.set_pipeline(pipeline);
                    let (x, y) = match over {
                        Over::Points => (gx, gy),
                        Over::Cells => band.cell_dims,
                    };
                    pass.dispatch_workgroups(x, y, 1);
                }
            }
        }
        let index = queue.submit([encoder.finish()]);
        // Keep one piece in flight while the next is prepared.
        if let Some(prev) = self.last_submission.replace(index) {
            gpu.wait(Some(prev))?;
        }
        gpu.check()
    }

    /// Wait for the GPU, read the canvas back and return it as a partial
    /// of the aggregation contract.
    pub fn finish(self) -> Result<Partial, GpuError> {
        let gpu = self.gpu;
        let cells = self.cells;
        Ok(match self.family {
            Family::Count => Partial::from_counts(self.read_state()?),
            Family::Any => {
                Partial::from_any(self.read_state()?.into_iter().map(|v| v != 0).collect())
            }
            Family::Sum => {
                let words = self.read_state()?;
                let flags = self.read_aux()?;
                let Encoding::Fixed(scale) = self.encoding else {
                    return Err(gpu.failed("sum canvas without a fixed-point scale"));
                };
                let cell = |i: usize| -> (f64, u32) {
                    let w = &words[4 * i..4 * i + 4];
                    let n = w[3];
                    let v = match flags[i] {
                        1 => f64::INFINITY,
                        2 => f64::NEG_INFINITY,
                        3 => f64::NAN,
                        _ => scale.decode([w[0], w[1], w[2]]),
                    };
                    (v, n)
                };
                if self.kind == ReductionKind::Mean {
                    Partial::from_means(
                        (0..cells)
                            .map(|i| match cell(i) {
                                (_, 0) => [0.0, 0.0],
                                (v, n) => [v, f64::from(n)],
                            })
                            .collect(),
                    )
                } else {
                    Partial::from_sums(
                        (0..cells)
                            .map(|i| match cell(i) {
                                (_, 0) => f64::NAN,
                                (v, _) => v,
                            })
                            .collect(),
                    )
                }
            }
            Family::Var => {
                let words = self.read_state()?;
                let flags = self.read_aux()?;
                let Encoding::Moments(scale) = self.encoding else {
                    return Err(gpu.failed("var canvas without a fixed-point scale"));
                };
                let cells = (0..cells)
                    .map(|i| {
                        let w = &words[9 * i..9 * i + 9];
                        let n = w[8];
                        if n > 0 && flags[i] != 0 {
                            // An infinity makes the deviations undefined.
                            return [f64::NAN, f64::from(n), f64::NAN];
                        }
                        scale.decode_moments([w[0], w[1], w[2]], [w[3], w[4], w[5], w[6], w[7]], n)
                    })
                    .collect();
                Partial::from_var(self.kind, cells)
            }
            Family::Order => {
                let words = self.read_state()?;
                let picked = self.read_bands(2, |b| b.picked.as_ref())?;
                let last = self.kind == ReductionKind::Last;
                let picks = (0..cells)
                    .map(|i| {
                        let score = (u64::from(words[2 * i]) << 32) | u64::from(words[2 * i + 1]);
                        if score == 0 {
                            None
                        } else {
                            // Scores: `!row` for first, `row + 1` for last.
                            let row = if last { score - 1 } else { !score };
                            let bits =
                                u64::from(picked[2 * i]) | (u64::from(picked[2 * i + 1]) << 32);
                            Some((row, f64::from_bits(bits)))
                        }
                    })
                    .collect();
                Partial::from_order(self.kind, picks)
            }
            Family::Best => {
                let words = self.read_state()?;
                let min = self.kind == ReductionKind::Min;
                let values = (0..cells)
                    .map(|i| {
                        let score = (u64::from(words[2 * i]) << 32) | u64::from(words[2 * i + 1]);
                        if score == 0 {
                            f64::NAN
                        } else if min {
                            from_order_key(!score)
                        } else {
                            from_order_key(score)
                        }
                    })
                    .collect();
                Partial::from_extrema(self.kind, values)
            }
        })
    }

    /// One buffer of every band (chosen by `buffer`), concatenated as u32
    /// words: `words_per_cell` per cell of the canvas.
    fn read_bands(
        &self,
        words_per_cell: usize,
        buffer: impl Fn(&Band) -> Option<&wgpu::Buffer>,
    ) -> Result<Vec<u32>, GpuError> {
        let mut out = Vec::with_capacity(self.cells * words_per_cell);
        for b in self.bands.iter().filter_map(&buffer) {
            self.gpu.read_buffer(b, &mut out)?;
        }
        out.truncate(self.cells * words_per_cell);
        Ok(out)
    }

    /// The main state of every band.
    fn read_state(&self) -> Result<Vec<u32>, GpuError> {
        self.read_bands((self.family.state_bytes() / 4) as usize, |b| Some(&b.state))
    }

    /// The auxiliary word of every band.
    fn read_aux(&self) -> Result<Vec<u32>, GpuError> {
        self.read_bands(1, |b| b.aux.as_ref())
    }
}

fn entry(binding: u32, buffer: &wgpu::Buffer) -> wgpu::BindGroupEntry<'_> {
    wgpu::BindGroupEntry {
        binding,
        resource: buffer.as_entire_binding(),
    }
}

fn words_to_bytes(words: &[u32]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 * words.len());
    for w in words {
        out.extend_from_slice(&w.to_le_bytes());
    }
    out
}

impl Gpu {
    /// Workgroups for `n` invocations: along x up to the per-dimension
    /// limit, the rest along y.
    fn dims(&self, n: usize) -> (u32, u32) {
        let groups = n.div_ceil(WORKGROUP as usize).max(1);
        let max = self.limits.max_compute_workgroups_per_dimension.max(1) as usize;
        let gx = groups.min(max);
        (gx as u32, groups.div_ceil(gx) as u32)
    }

    /// Block until `submission` (or everything submitted) has run.
    fn wait(&self, submission: Option<wgpu::SubmissionIndex>) -> Result<(), GpuError> {
        self.device
            .poll(wgpu::PollType::Wait {
                submission_index: submission,
                timeout: None,
            })
            .map_err(|e| self.failed(e.to_string()))?;
        Ok(())
    }

    /// Append the contents of `buffer` (as little-endian u32 words) to
    /// `out`, copying through a mappable buffer in pieces.
    fn read_buffer(&self, buffer: &wgpu::Buffer, out: &mut Vec<u32>) -> Result<(), GpuError> {
        let size = buffer.size();
        let piece = size.min(READBACK_BYTES);
        let staging = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("pointillist read-back"),
            size: piece,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let mut at = 0;
        while at < size {
            let len = piece.min(size - at);
            let mut encoder = self
                .device
                .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                    label: Some("pointillist read-back copy"),
                });
            encoder.copy_buffer_to_buffer(buffer, at, &staging, 0, len);
            let index = self.queue.submit([encoder.finish()]);
            let (tx, rx) = std::sync::mpsc::channel();
            staging.map_async(wgpu::MapMode::Read, 0..len, move |r| {
                // The receiver outlives the wait below; a failed send only
                // means the caller already gave up.
                let _ = tx.send(r);
            });
            self.wait(Some(index))?;
            match rx.recv() {
                Ok(Ok(())) => {}
                Ok(Err(e)) => return Err(self.failed(format!("read-back: {e}"))),
                Err(_) => return Err(self.failed("read-back never completed")),
            }
            {
                let view = staging
                    .get_mapped_range(0..len)
                    .map_err(|e| self.failed(format!("read-back: {e}")))?;
                out.extend(
                    view.chunks_exact(4)
                        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]])),
                );
            }
            staging.unmap();
            at += len;
        }
        self.check()
    }
}
