// var and std on the GPU (src/aggregate/gpu, after common.wgsl),
// exactly, from integer moments.
//
// As for sum (sum.wgsl), the host scales each value by 2^k into a 62-bit
// integer q; it also sends q*q, a 124-bit unsigned integer. Each cell holds
// S1 = sum of q (96-bit two's complement), S2 = sum of q*q (160-bit
// unsigned) and n, all added word by word with 32-bit atomics and explicit
// carries, so they are exact in any order. The host then forms
// n*S2 - S1*S1 (= n^2 times the variance of the q, exactly, as an integer)
// and rounds once: no cancellation, unlike a running sum of squares in
// floating point. Infinities are tagged as in sum.wgsl and make the cell NaN.

// Words per cell: S1 (3), S2 (5), n (1).
const CELL_WORDS: u32 = 9u;
// Words per point: q (2: lo, hi), q*q (4, least significant first).
const POINT_WORDS: u32 = 6u;

@group(0) @binding(2) var<storage, read> vals: array<u32>;
@group(0) @binding(3) var<storage, read_write> acc: array<atomic<u32>>;
@group(0) @binding(4) var<storage, read_write> flags: array<atomic<u32>>;

// Add v to word w; 1 when the word wrapped (a carry into the next word).
fn add_word(w: u32, v: u32) -> u32 {
    if v == 0u {
        return 0u;
    }
    let o = atomicAdd(&acc[w], v);
    return select(0u, 1u, o + v < o);
}

@compute @workgroup_size(256)
fn var_moments(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = point_index(gid);
    let r = band_cell(i);
    if r == NOT_HERE {
        return;
    }
    let p = i * POINT_WORDS;
    let b = r * CELL_WORDS;
    let hi = vals[p + 1u];
    let tag = hi >> 30u;
    if tag == 1u || tag == 2u {
        atomicOr(&flags[r], tag);
    } else {
        // S1 += q (sign-extended to 96 bits).
        let c1 = add_word(b, vals[p]);
        let c2 = add_word(b + 1u, hi) + add_word(b + 1u, c1);
        let ext = select(0u, 0xffffffffu, (hi & 0x80000000u) != 0u);
        add_word(b + 2u, ext + c2);
        // S2 += q*q (unsigned, 128 bits into 160).
        var c = add_word(b + 3u, vals[p + 2u]);
        c = add_word(b + 4u, vals[p + 3u]) + add_word(b + 4u, c);
        c = add_word(b + 5u, vals[p + 4u]) + add_word(b + 5u, c);
        c = add_word(b + 6u, vals[p + 5u]) + add_word(b + 6u, c);
        add_word(b + 7u, c);
    }
    atomicAdd(&acc[b + 8u], 1u);
}
