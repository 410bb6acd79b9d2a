"""`pointillist index` against DuckDB doing the same job: an external sort of
every column of a Parquet file along a Hilbert curve over (x, y), written as
Parquet in 65,536-row groups, under the same memory budget and thread count.

    python benches/index_vs_duckdb.py --input /tmp/census-100m.parquet --memory-mb 256 --reps 3

Each run is a fresh process under `/usr/bin/time -v` (wall time, peak RSS);
the two tools alternate, and a run is repeated (at most twice) when other
processes took more than 10% of the CPUs while it ran. Prints a Markdown
table of medians and saves every measurement as JSON next to the outputs.

DuckDB's key is the same Hilbert curve pointillist uses, computed in SQL:
x and y are scaled over the data's extent (from the Parquet row-group
statistics, as pointillist does) onto a 2^16 x 2^16 grid, and the cell's
distance along the curve is walked four levels at a time through the same
1,024-entry state table (`src/index/keys.rs`), as a SQL macro. Ties are
broken by the row's position in the file (`file_row_number`), which is what
pointillist's stable sort does, so both outputs hold the same rows in the
same order (`--check` compares them). `--key morton` uses a Z-order key from
bit interleaving instead (cheaper in SQL, a different order).

Needs: `pip install duckdb==2.0.* pyarrow psutil` (the script's venv:
target/py-venv), GNU time, and a release build of pointillist.
"""

import argparse
import json
import os
import re
import shlex
import statistics
import subprocess
import sys
import time

HILBERT_BITS = 16
LEVELS = 4


def hilbert_table():
    """The 4-levels-per-lookup table of src/index/keys.rs."""
    table = []
    for entry in range(1024):
        state = entry >> 8
        xn = (entry >> 4) & 0xF
        yn = entry & 0xF
        digits = 0
        for level in range(LEVELS):
            shift = LEVELS - 1 - level
            bx = (xn >> shift) & 1
            by = (yn >> shift) & 1
            swap, flip = state & 1, (state >> 1) & 1
            cx, cy = (by, bx) if swap else (bx, by)
            rx, ry = cx ^ flip, cy ^ flip
            digits = (digits << 2) | ((3 * rx) ^ ry)
            if ry == 0:
                if rx == 1:
                    state ^= 2
                state ^= 1
        table.append(digits | (state << 8))
    return table


def hilbert_reference(x, y):
    """Wikipedia's xy2d, as hilbert_index_reference in src/index/keys.rs."""
    n = 1 << HILBERT_BITS
    d = 0
    s = n >> 1
    while s > 0:
        rx = 1 if x & s else 0
        ry = 1 if y & s else 0
        d += s * s * ((3 * rx) ^ ry)
        if ry == 0:
            if rx == 1:
                x = n - 1 - x
                y = n - 1 - y
            x, y = y, x
        s >>= 1
    return d


def extent(path, xcol, ycol):
    """x and y min/max over the row groups' statistics (pointillist's
    auto_range)."""
    import pyarrow.parquet as pq

    meta = pq.ParquetFile(path).metadata
    names = [meta.schema.column(i).name for i in range(meta.num_columns)]
    out = []
    for col in (xcol, ycol):
        i = names.index(col)
        lo = min(meta.row_group(g).column(i).statistics.min for g in range(meta.num_row_groups))
        hi = max(meta.row_group(g).column(i).statistics.max for g in range(meta.num_row_groups))
        out.append((float(lo), float(hi)))
    return out


def duckdb_sql(a):
    (x0, x1), (y0, y1) = extent(a.input, a.x, a.y)
    cells = float(1 << HILBERT_BITS)
    sx = cells / (x1 - x0) if x1 > x0 else 0.0
    sy = cells / (y1 - y0) if y1 > y0 else 0.0
    # Same float steps as Keyer::key: (v - lo) * scale, truncated, clamped.
    qx = f"least(greatest(floor(({a.x} - {x0!r}) * {sx!r}), 0), 65535)::UINTEGER"
    qy = f"least(greatest(floor(({a.y} - {y0!r}) * {sy!r}), 0), 65535)::UINTEGER"
    setup = []
    if a.key == "hilbert":
        table = ", ".join(str(v) for v in hilbert_table())
        setup.append(f"CREATE MACRO hl(i) AS ([{table}]::USMALLINT[])[i + 1]")
        # One lookup: (state, x nibble, y nibble) -> digits | next state << 8.
        setup.append(
            "CREATE MACRO hstep(e, qx, qy, sh) AS "
            "hl(((e >> 8) << 8) | (((qx >> sh) & 15) << 4) | ((qy >> sh) & 15))"
        )
        # Unrolled: four lookups, each feeding the next its state.
        e1 = "hstep(0::UINTEGER, qx, qy, 12)::UINTEGER"
        e2 = f"hstep({e1}, qx, qy, 8)::UINTEGER"
        e3 = f"hstep({e2}, qx, qy, 4)::UINTEGER"
        e4 = f"hstep({e3}, qx, qy, 0)::UINTEGER"
        setup.append(
            "CREATE MACRO hilbert(qx, qy) AS "
            f"((({e1} & 255) << 24) | (({e2} & 255) << 16) | (({e3} & 255) << 8) | ({e4} & 255))"
        )
        key = f"hilbert({qx}, {qy})"
    else:
        setup.append(
            "CREATE MACRO part1by1(v) AS ("
            "((((((v | (v << 8)) & 16711935) | (((v | (v << 8)) & 16711935) << 4)) & 252645135)"
            " | (((((v | (v << 8)) & 16711935) | (((v | (v << 8)) & 16711935) << 4)) & 252645135) << 2))"
            " & 858993459)"
            ")"
        )
        setup.append("CREATE MACRO spread(v) AS ((part1by1(v) | (part1by1(v) << 1)) & 1431655765)")
        key = f"(spread({qx}::UBIGINT) | (spread({qy}::UBIGINT) << 1))"
    # Rows whose x or y is missing go last (NULL keys sort last), as in pointillist.
    query = (
        f"COPY (SELECT * EXCLUDE (file_row_number) FROM read_parquet('{a.input}', file_row_number = true) "
        f"ORDER BY {key} NULLS LAST, file_row_number) "
        f"TO '{a.output}' (FORMAT parquet, ROW_GROUP_SIZE 65536)"
    )
    return setup, query


def run_duckdb(a):
    """The DuckDB side, in this (fresh) process."""
    import duckdb

    con = duckdb.connect()
    con.execute(f"SET memory_limit = '{a.memory_mb}MB'")
    con.execute(f"SET threads = {a.threads}")
    con.execute(f"SET temp_directory = '{a.temp_dir}'")
    setup, query = duckdb_sql(a)
    for s in setup:
        con.execute(s)
    t = time.time()
    con.execute(query)
    print(f"duckdb: {time.time() - t:.2f} s in the query", file=sys.stderr)


def cpu_stat():
    with open("/proc/stat") as f:
        v = list(map(int, f.readline().split()[1:]))
    return sum(v), v[3] + v[4]


def timed(cmd, env=None):
    t0, i0 = cpu_stat()
    w0 = time.time()
    r = subprocess.run(["/usr/bin/time", "-v"] + cmd, capture_output=True, text=True, env=env)
    wall = time.time() - w0
    t1, i1 = cpu_stat()
    err = r.stderr

    def field(k):
        m = re.search(k + r": (.*)", err)
        return m.group(1) if m else "0"

    user = float(field(r"User time \(seconds\)"))
    sys_ = float(field(r"System time \(seconds\)"))
    busy = ((t1 - t0) - (i1 - i0)) / os.sysconf("SC_CLK_TCK")
    return {
        "rc": r.returncode,
        "wall_s": round(wall, 2),
        "peak_rss_mb": round(int(field(r"Maximum resident set size \(kbytes\)")) / 1024, 1),
        "user_s": user,
        "sys_s": sys_,
        # CPU the rest of the machine used meanwhile, as a share of it.
        "others_share": round(max(0.0, busy - user - sys_) / (wall * os.cpu_count()), 3),
        "stderr_tail": err.strip().splitlines()[-25:],
    }


def check_same_order(a_path, b_path, columns):
    """Whether two files hold the same rows in the same order (a column at a
    time; dictionary columns compared as their strings)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    def plain(col):
        if pa.types.is_dictionary(col.type):
            col = col.cast(col.type.value_type)
        if pa.types.is_string(col.type):
            col = col.cast(pa.large_string())
        return col

    for c in columns:
        ca = plain(pq.read_table(a_path, columns=[c]).column(0))
        cb = plain(pq.read_table(b_path, columns=[c]).column(0))
        if not ca.equals(cb):
            print(f"column {c} differs", file=sys.stderr)
            return False
    return True


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--input", required=True)
    ap.add_argument("--memory-mb", type=int, default=256)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--key", choices=["hilbert", "morton"], default="hilbert")
    ap.add_argument("--x", default="x")
    ap.add_argument("--y", default="y")
    ap.add_argument("--out-dir", default="/tmp/pointillist-index-bench")
    ap.add_argument("--pointillist", default=None, help="the binary (default: target/release/pointillist)")
    ap.add_argument("--check", action="store_true", help="compare the two outputs' row order (Hilbert key)")
    ap.add_argument("--max-others", type=float, default=0.10, help="repeat a run when others used more of the CPUs")
    # Internal: the DuckDB side in a fresh process.
    ap.add_argument("--duckdb-run", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--output", help=argparse.SUPPRESS)
    ap.add_argument("--temp-dir", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.duckdb_run:
        run_duckdb(a)
        return
    # The SQL walk's table against the bit-by-bit walk.
    table = hilbert_table()
    for x, y in [(0, 0), (65535, 0), (1, 0), (12345, 54321), (40000, 3), (65535, 65535)]:
        e, d = 0, 0
        for sh in (12, 8, 4, 0):
            e = table[((e >> 8) << 8) | (((x >> sh) & 15) << 4) | ((y >> sh) & 15)]
            d = (d << 8) | (e & 255)
        assert d == hilbert_reference(x, y), (x, y)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    binary = a.pointillist or os.path.join(
        os.environ.get("CARGO_TARGET_DIR", os.path.join(root, "target")), "release", "pointillist"
    )
    os.makedirs(a.out_dir, exist_ok=True)
    tmp = os.path.join(a.out_dir, "tmp")
    os.makedirs(tmp, exist_ok=True)
    outs = {
        "pointillist": os.path.join(a.out_dir, "pointillist.parquet"),
        "duckdb": os.path.join(a.out_dir, f"duckdb-{a.key}.parquet"),
    }
    cmds = {
        "pointillist": [
            binary, "index", a.input, "-o", outs["pointillist"], "--memory-mb", str(a.memory_mb),
            "--threads", str(a.threads), "--temp-dir", tmp,
        ],
        "duckdb": [
            sys.executable, os.path.abspath(__file__), "--duckdb-run", "--input", a.input,
            "--output", outs["duckdb"], "--memory-mb", str(a.memory_mb), "--threads", str(a.threads),
            "--temp-dir", tmp, "--key", a.key, "--x", a.x, "--y", a.y,
        ],
    }
    # The input in the page cache for both.
    with open(a.input, "rb") as f:
        while f.read(1 << 24):
            pass
    results = {k: [] for k in cmds}
    for rep in range(a.reps):
        order = list(cmds) if rep % 2 == 0 else list(cmds)[::-1]
        for name in order:
            for attempt in range(3):
                if os.path.exists(outs[name]):
                    os.remove(outs[name])
                r = timed(cmds[name])
                r["bytes"] = os.path.getsize(outs[name]) if os.path.exists(outs[name]) else 0
                r["attempt"] = attempt
                print(name, json.dumps({k: v for k, v in r.items() if k != "stderr_tail"}), flush=True)
                if r["rc"] != 0:
                    print("\n".join(r["stderr_tail"]), file=sys.stderr)
                    sys.exit(f"{name} failed: {shlex.join(cmds[name])}")
                if r["others_share"] <= a.max_others or attempt == 2:
                    results[name].append(r)
                    break
    same = None
    if a.check and a.key == "hilbert":
        import pyarrow.parquet as pq

        cols = [f.name for f in pq.read_schema(a.input)]
        same = check_same_order(outs["pointillist"], outs["duckdb"], cols)
    rows = []
    for name, rs in results.items():
        rows.append(
            (
                name,
                statistics.median(r["wall_s"] for r in rs),
                statistics.median(r["peak_rss_mb"] for r in rs),
                statistics.median(r["user_s"] + r["sys_s"] for r in rs),
                rs[-1]["bytes"],
                max(r["others_share"] for r in rs),
            )
        )
    print()
    print(f"input {a.input}, --memory-mb {a.memory_mb}, {a.threads} threads, {a.reps} runs each, key {a.key}")
    print()
    print("| tool | wall (median) | peak RSS | CPU (user+sys) | output | others' CPU share (worst) |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, wall, rss, cpu, size, others in rows:
        print(f"| {name} | {wall:.1f} s | {rss:.0f} MB | {cpu:.1f} s | {size / 1e6:,.0f} MB | {others:.0%} |")
    if same is not None:
        print()
        print(f"same rows in the same order: {same}")
    with open(os.path.join(a.out_dir, f"results-{a.key}-{int(time.time())}.json"), "w") as f:
        json.dump({"args": vars(a), "results": results, "same_order": same}, f, indent=1)


if __name__ == "__main__":
    main()
