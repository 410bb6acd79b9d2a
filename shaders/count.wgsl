// count and any on the GPU (src/aggregate/gpu), after common.wgsl.

@group(0) @binding(2) var<storage, read_write> canvas: array<atomic<u32>>;

// Exact and order-free: integer increments commute, so the result does not
// depend on the order in which invocations run.
@compute @workgroup_size(256)
fn count_points(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = point_index(gid);
    let r = band_cell(i);
    if r == NOT_HERE {
        return;
    }
    atomicAdd(&canvas[r], 1u);
}

// Any point in the cell: 1. The load first keeps hot cells from serialising
// on atomic writes.
@compute @workgroup_size(256)
fn any_point(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = point_index(gid);
    let r = band_cell(i);
    if r == NOT_HERE {
        return;
    }
    if atomicLoad(&canvas[r]) == 0u {
        atomicStore(&canvas[r], 1u);
    }
}
