// Shared by every kernel of src/aggregate/gpu: the host prepends this file
// to each shader (concat! of include_str!), so the uniform block and the
// point-to-cell step are written once.
//
// Each point arrives with its cell already computed on the host by the same
// f64 kernel as the CPU path (pixel * planes + category), so every point
// lands in exactly the cell the CPU would choose. Only points that fall in
// the canvas (and have a non-NaN value, where the reduction reads one) are
// sent. The canvas may be split into bands (when it is larger than one
// storage binding): a dispatch touches only cells in
// [band_start, band_start + band_len).

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

// Band-relative cell of point i, or NOT_HERE when i is past the chunk or
// its cell is in another band.
const NOT_HERE: u32 = 0xffffffffu;

fn point_index(gid: vec3<u32>) -> u32 {
    return gid.y * params.row_stride + gid.x;
}

fn band_cell(i: u32) -> u32 {
    if i >= params.n {
        return NOT_HERE;
    }
    // Cells below the band wrap to large values and fail the test too.
    let r = cells[i] - params.band_start;
    if r >= params.band_len {
        return NOT_HERE;
    }
    return r;
}
