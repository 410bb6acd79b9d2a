// min, max, first and last on the GPU (src/aggregate/gpu, after
// common.wgsl), exactly, on 64-bit keys.
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

struct KeyCell {
    hi: atomic<u32>,
    lo: atomic<u32>,
}

@group(0) @binding(2) var<storage, read> keys: array<vec2<u32>>;
@group(0) @binding(3) var<storage, read_write> best: array<KeyCell>;
@group(0) @binding(4) var<storage, read_write> settled: array<u32>;

@compute @workgroup_size(256)
fn best_high(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = point_index(gid);
    let r = band_cell(i);
    if r == NOT_HERE {
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
    let i = point_index(gid);
    let r = band_cell(i);
    if r == NOT_HERE {
        return;
    }
    let k = keys[i];
    if atomicLoad(&best[r].hi) == k.y {
        atomicMax(&best[r].lo, k.x);
    }
}

// first and last reuse the three passes above with unique scores: the
// row's position in the input (complemented for first, plus one for last),
// so the best score is the first or last non-NaN row of the cell. A
// fourth pass copies that one row's value; a cell whose best score came
// from an earlier chunk finds no match and keeps its value.
@group(0) @binding(5) var<storage, read> payload: array<vec2<u32>>;
@group(0) @binding(6) var<storage, read_write> picked: array<vec2<u32>>;

@compute @workgroup_size(256)
fn best_pick(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = point_index(gid);
    let r = band_cell(i);
    if r == NOT_HERE {
        return;
    }
    let k = keys[i];
    if atomicLoad(&best[r].hi) == k.y && atomicLoad(&best[r].lo) == k.x {
        picked[r] = payload[i];
    }
}
