// min and max on the GPU (src/aggregate/gpu), exactly, on 64-bit keys.
//
// The host turns each f64 value into a u64 key whose unsigned order is the
// value's order (sign bit flipped for positives, all bits flipped for
// negatives; -0.0 is sent as +0.0). For max it sends the key, for min its
// complement, so both reductions take the largest "score". WGSL has only
// 32-bit atomics, so the 64-bit maximum is found in three passes per chunk:
//
// 1. best_high: atomicMax of the score's high word;
// 2. best_settle (per cell): where the high word changed since the last
//    chunk, the low word belongs to a smaller score: reset it;
// 3. best_low: points whose high word equals the cell's maximum take the
//    atomicMax of their low word.
//
// After pass 3 each cell holds the lexicographic (high, low) maximum over
// every chunk so far: the exact extreme, in any invocation order. An empty
// cell keeps both words at 0 (buffers start zeroed), a score no non-NaN
// value has.

struct Params {
    n: u32,
    band_start: u32,
    band_len: u32,
    row_stride: u32,
    cell_stride: u32,
    pad0: u32,
    pad1: u32,
    pad2: u32,
}

struct KeyCell {
    hi: atomic<u32>,
    lo: atomic<u32>,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> cells: array<u32>;
@group(0) @binding(2) var<storage, read> keys: array<vec2<u32>>;
@group(0) @binding(3) var<storage, read_write> best: array<KeyCell>;
@group(0) @binding(4) var<storage, read_write> settled: array<u32>;

@compute @workgroup_size(256)
fn best_high(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.y * params.row_stride + gid.x;
    if i >= params.n {
        return;
    }
    let r = cells[i] - params.band_start;
    if r >= params.band_len {
        return;
    }
    atomicMax(&best[r].hi, keys[i].y);
}

@compute @workgroup_size(256)
fn best_settle(@builtin(global_invocation_id) gid: vec3<u32>) {
    let r = gid.y * params.cell_stride + gid.x;
    if r >= params.band_len {
        return;
    }
    let hi = atomicLoad(&best[r].hi);
    if hi != settled[r] {
        atomicStore(&best[r].lo, 0u);
        settled[r] = hi;
    }
}

@compute @workgroup_size(256)
fn best_low(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.y * params.row_stride + gid.x;
    if i >= params.n {
        return;
    }
    let r = cells[i] - params.band_start;
    if r >= params.band_len {
        return;
    }
    let k = keys[i];
    if atomicLoad(&best[r].hi) == k.y {
        atomicMax(&best[r].lo, k.x);
    }
}
