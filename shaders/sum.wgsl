// sum and mean on the GPU (src/aggregate/gpu, after common.wgsl),
// exactly, in 96-bit fixed point.
//
// The host scales every value of the column by 2^k, where k makes the
// column's largest magnitude just under 2^62, rounds it to an integer and
// sends it as a 64-bit two's complement pair (lo, hi). Each cell holds a
// 96-bit two's complement sum in three 32-bit words plus the number of
// values. Adding is done word by word with atomics; the carry out of each
// word is detected from the value the atomic returned and added to the next
// word. Integer addition commutes, so the final words are the exact sum of
// the scaled values whatever order the invocations run in: the result is
// deterministic, and up to the scaling the only rounding is the final
// conversion to f64 on the host. 2^32 values of magnitude < 2^62 sum to
// less than 2^94, so the 96-bit sum cannot overflow while the count (u32)
// does not.
//
// Infinities cannot be scaled: the host marks +inf with hi = 0x40000000 and
// -inf with hi = 0x80000000 (patterns no scaled value has, since scaled
// values lie in [-2^62, 2^62)); they set bits in a flags word.

struct SumCell {
    w0: atomic<u32>,
    w1: atomic<u32>,
    w2: atomic<u32>,
    n: atomic<u32>,
}

@group(0) @binding(2) var<storage, read> vals: array<vec2<u32>>;
@group(0) @binding(3) var<storage, read_write> sums: array<SumCell>;
@group(0) @binding(4) var<storage, read_write> flags: array<atomic<u32>>;

const POS_INF_FLAG: u32 = 1u;
const NEG_INF_FLAG: u32 = 2u;

@compute @workgroup_size(256)
fn sum_values(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = point_index(gid);
    let r = band_cell(i);
    if r == NOT_HERE {
        return;
    }
    let v = vals[i];
    let tag = v.y >> 30u;
    if tag == 1u {
        atomicOr(&flags[r], POS_INF_FLAG);
    } else if tag == 2u {
        atomicOr(&flags[r], NEG_INF_FLAG);
    } else {
        // Word 0.
        var carry1 = 0u;
        if v.x != 0u {
            let o0 = atomicAdd(&sums[r].w0, v.x);
            if o0 + v.x < o0 {
                carry1 = 1u;
            }
        }
        // Word 1: the value's high word, then the carry from word 0.
        var carry2 = 0u;
        if v.y != 0u {
            let o1 = atomicAdd(&sums[r].w1, v.y);
            if o1 + v.y < o1 {
                carry2 += 1u;
            }
        }
        if carry1 != 0u {
            let o1 = atomicAdd(&sums[r].w1, 1u);
            if o1 == 0xffffffffu {
                carry2 += 1u;
            }
        }
        // Word 2: the sign extension of the 64-bit value plus the carries
        // (mod 2^32: the carry out of the top word is dropped, as in any
        // two's complement addition).
        let ext = select(0u, 0xffffffffu, (v.y & 0x80000000u) != 0u);
        let add2 = ext + carry2;
        if add2 != 0u {
            atomicAdd(&sums[r].w2, add2);
        }
    }
    atomicAdd(&sums[r].n, 1u);
}
