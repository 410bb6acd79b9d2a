// count and any on the GPU (src/aggregate/gpu).
//
// Each point arrives with its cell already computed on the host by the same
// f64 kernel as the CPU path (pixel * planes + category), so every point
// lands in exactly the cell the CPU would choose. Only points that fall in
// the canvas (and, for count:COL / any:COL, have a non-NaN value) are sent.
// The canvas may be split into bands (when it is larger than one storage
// binding): a dispatch touches only cells in [band_start, band_start +
// band_len).

struct Params {
    // Points in this chunk.
    n: u32,
    // First canvas cell held by the bound band.
    band_start: u32,
    // Cells in the bound band.
    band_len: u32,
    // Invocations per dispatch row (workgroups along x * 256).
    row_stride: u32,
    // Invocations per dispatch row of a per-cell pass.
    cell_stride: u32,
    pad0: u32,
    pad1: u32,
    pad2: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> cells: array<u32>;
@group(0) @binding(2) var<storage, read_write> canvas: array<atomic<u32>>;

// Exact and order-free: integer increments commute, so the result does not
// depend on the order in which invocations run.
@compute @workgroup_size(256)
fn count_points(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.y * params.row_stride + gid.x;
    if i >= params.n {
        return;
    }
    // Cells below the band wrap to large values and fail the test too.
    let r = cells[i] - params.band_start;
    if r >= params.band_len {
        return;
    }
    atomicAdd(&canvas[r], 1u);
}

// Any point in the cell: 1. The load first keeps hot cells from serialising
// on atomic writes.
@compute @workgroup_size(256)
fn any_point(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.y * params.row_stride + gid.x;
    if i >= params.n {
        return;
    }
    let r = cells[i] - params.band_start;
    if r >= params.band_len {
        return;
    }
    if atomicLoad(&canvas[r]) == 0u {
        atomicStore(&canvas[r], 1u);
    }
}
