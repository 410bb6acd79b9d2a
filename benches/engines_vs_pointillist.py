#!/usr/bin/env python3
"""`pointillist render` against DuckDB 2.0 and Polars 2.1 producing the same
aggregate canvas from the same Parquet file.

    target/py-venv/bin/python benches/engines_vs_pointillist.py \\
        --data /tmp/w10/pyarrow-f32.parquet --data /tmp/w10/duckdb-f32.parquet \\
        --pointillist target/release/pointillist --reps 3 --aggs count,mean,count_cat \\
        --out /tmp/evp

Every measurement is a fresh process under `/usr/bin/time -v` (wall time
around the child, peak RSS from "Maximum resident set size"): pointillist
writing only the aggregate (`--save-agg canvas.npy`, no PNG), or this script's
`worker` subcommand, which starts Python, imports the engine, runs the query,
scatters the grouped result into a NumPy canvas and writes it with `np.save`.
All three get the same thread count (`--threads`, default: the CPUs this
process may use) and the same explicit x and y ranges, computed before any
timing as pointillist computes its default ranges (min and max of the finite
values of x and y). The engines alternate their order from one repetition to
the next; before each timed run the script waits (up to --max-wait s) until
other processes use under 10% of the CPUs, notes the load average and that
share, and repeats (at most twice) a run during which others took more than
10% of the CPUs. The helpers for that come from benches/compare_datashader.py.

The binning is Datashader's (datashader/core.py `compute_scale_and_translate`,
datashader/glyphs/points.py `_perform_extend_points`), which pointillist
implements: with range (x0, x1) and W pixels, sx = W / (x1 - x0) and
tx = -x0 * sx in float64; a point is kept when x0 <= x <= x1 and
y0 <= y <= y1 (x widened to float64 first, as numba does for a float32
column), its column is int(x * sx + tx) (truncation; the value is >= 0 for
kept points, so floor is the same), and a column >= W becomes W - 1 (the
upper edge). The same for y and H. Row 0 of the canvas is the lowest y, as in
Datashader and pointillist's .npy. In SQL (DuckDB; sx, tx... are bound as
DOUBLE parameters, so no decimal literal is re-rounded):

    WITH p AS (SELECT CAST(x AS DOUBLE) AS xd, CAST(y AS DOUBLE) AS yd
               FROM read_parquet($path)),
         b AS (SELECT least(CAST(floor(xd * $sx + $tx) AS INTEGER), W - 1) AS xi,
                      least(CAST(floor(yd * $sy + $ty) AS INTEGER), H - 1) AS yi
               FROM p WHERE xd BETWEEN $x0 AND $x1 AND yd BETWEEN $y0 AND $y1)
    SELECT yi, xi, count(*) AS n FROM b GROUP BY ALL

mean adds `CAST(val AS DOUBLE) AS v` and `WHERE NOT isnan(v)` (Datashader's
mean skips NaN values; SQL's avg skips NULLs) and selects `avg(v)`; count_cat
groups by yi, xi, cat (NULL categories dropped) and numbers the categories in
sorted order, pointillist's default. Polars does the same as a lazy query:

    pl.scan_parquet(path)
      .with_columns(xd=pl.col("x").cast(pl.Float64), yd=pl.col("y").cast(pl.Float64))
      .filter(xd.is_between(x0, x1) & yd.is_between(y0, y1))
      .with_columns(xi=(xd * sx + tx).floor().cast(pl.Int32).clip(upper_bound=W - 1),
                    yi=...)
      .group_by("yi", "xi").agg(n=pl.len())
      .collect()

(the cast to Float64 comes first: Polars would otherwise compute
`f32_column * python_float` in float32). mean uses
`pl.col("val").cast(pl.Float64).mean()` (Polars' mean of a Float32 column is
Float32). The canvas: count uint32 (0 where empty), mean float64 (NaN where
empty), count_cat (H, W, ncat) uint32 with the categories sorted.

Checks: count and count_cat canvases must equal pointillist's exactly; mean
must have NaN in the same cells and agree within a relative 1e-12 elsewhere
(the summation order differs). Once per file (untimed) pointillist also runs
without --x-range/--y-range, to check that the ranges given to everyone are
the ones pointillist picks by itself.

Prints a Markdown table of medians and writes every measurement to
OUT/engines_vs_pointillist.json.
"""

from __future__ import annotations

import time

T_PROCESS = time.perf_counter()

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import shlex  # noqa: E402
import signal  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

ENGINES = ("pointillist", "duckdb", "polars")
AGGS = ("count", "mean", "count_cat")
PT_AGG = {"count": "count", "mean": "mean:val", "count_cat": "count_cat:cat"}
REL_TOL = 1e-12


# ---------------------------------------------------------------------------
# Worker: one DuckDB or Polars run in this (fresh) process
# ---------------------------------------------------------------------------


def duckdb_canvas(a, p):
    import duckdb
    import numpy as np  # noqa: F401  (fetchnumpy needs it; its import is part of the run)

    t_import = time.perf_counter()
    con = duckdb.connect(config={"threads": a.threads})
    W, H = a.width, a.height
    cols = ["CAST(x AS DOUBLE) AS xd", "CAST(y AS DOUBLE) AS yd"]
    where = "xd BETWEEN $x0 AND $x1 AND yd BETWEEN $y0 AND $y1"
    if a.agg == "mean":
        cols.append("CAST(val AS DOUBLE) AS v")
        where += " AND NOT isnan(v)"
    elif a.agg == "count_cat":
        cols.append("CAST(cat AS VARCHAR) AS cat")
        where += " AND cat IS NOT NULL"
    extra = {"count": "", "mean": ", v", "count_cat": ", cat"}[a.agg]
    binned = (
        f"WITH p AS (SELECT {', '.join(cols)} FROM read_parquet($path)), "
        f"b AS (SELECT least(CAST(floor(xd * $sx + $tx) AS INTEGER), {W - 1}) AS xi, "
        f"least(CAST(floor(yd * $sy + $ty) AS INTEGER), {H - 1}) AS yi{extra} "
        f"FROM p WHERE {where}) "
    )
    t0 = time.perf_counter()
    info = {}
    if a.agg == "count":
        sql = binned + "SELECT yi, xi, count(*) AS n FROM b GROUP BY ALL"
        r = con.execute(sql, p).fetchnumpy()
    elif a.agg == "mean":
        sql = binned + "SELECT yi, xi, avg(v) AS n FROM b GROUP BY ALL"
        r = con.execute(sql, p).fetchnumpy()
    else:
        sql = binned + "SELECT yi, xi, cat, count(*) AS n FROM b GROUP BY ALL"
        con.execute("CREATE TEMP TABLE g AS " + sql, p)
        cats = [c for (c,) in con.execute("SELECT DISTINCT cat FROM g ORDER BY cat").fetchall()]
        r = con.execute(
            "SELECT g.yi, g.xi, c.ci, g.n FROM g JOIN "
            "(SELECT cat, CAST(row_number() OVER (ORDER BY cat) - 1 AS INTEGER) AS ci "
            " FROM (SELECT DISTINCT cat FROM g)) c USING (cat)"
        ).fetchnumpy()
        info["categories"] = cats
    t_query = time.perf_counter()
    info["sql"] = sql
    return r, t_import, t0, t_query, info


def polars_canvas(a, p):
    import numpy as np  # noqa: F401
    import polars as pl

    t_import = time.perf_counter()
    W, H = a.width, a.height
    xd, yd = pl.col("xd"), pl.col("yd")
    lf = pl.scan_parquet(a.data).with_columns(
        xd=pl.col("x").cast(pl.Float64), yd=pl.col("y").cast(pl.Float64)
    )
    keep = xd.is_between(p["x0"], p["x1"]) & yd.is_between(p["y0"], p["y1"])
    if a.agg == "mean":
        lf = lf.with_columns(v=pl.col("val").cast(pl.Float64))
        keep = keep & pl.col("v").is_not_nan()
    elif a.agg == "count_cat":
        keep = keep & pl.col("cat").is_not_null()
    lf = lf.filter(keep).with_columns(
        xi=(xd * p["sx"] + p["tx"]).floor().cast(pl.Int32).clip(upper_bound=W - 1),
        yi=(yd * p["sy"] + p["ty"]).floor().cast(pl.Int32).clip(upper_bound=H - 1),
    )
    info = {}
    t0 = time.perf_counter()
    if a.agg == "count":
        df = lf.group_by("yi", "xi").agg(n=pl.len()).collect(engine=a.polars_engine)
    elif a.agg == "mean":
        df = lf.group_by("yi", "xi").agg(n=pl.col("v").mean()).collect(engine=a.polars_engine)
    else:
        df = lf.group_by("yi", "xi", "cat").agg(n=pl.len()).collect(engine=a.polars_engine)
        cat = df["cat"].cast(pl.String)
        info["categories"] = cat.unique().sort().to_list()
        df = df.with_columns(ci=(cat.rank("dense") - 1).cast(pl.Int32))
    r = {c: df[c].to_numpy() for c in df.columns if c != "cat"}
    t_query = time.perf_counter()
    info["plan"] = lf.explain() if a.explain else None
    return r, t_import, t0, t_query, info


def worker(a):
    os.environ.setdefault("POLARS_MAX_THREADS", str(a.threads))
    t_start = time.perf_counter()
    x0, x1 = a.x_range
    y0, y1 = a.y_range
    # Datashader's compute_scale_and_translate, in float64.
    sx = a.width / (x1 - x0)
    tx = -x0 * sx
    sy = a.height / (y1 - y0)
    ty = -y0 * sy
    p = {"path": a.data, "x0": x0, "x1": x1, "y0": y0, "y1": y1,
         "sx": sx, "tx": tx, "sy": sy, "ty": ty}
    fn = duckdb_canvas if a.engine == "duckdb" else polars_canvas
    r, t_import, t0, t_query, info = fn(a, p)
    import numpy as np

    H, W = a.height, a.width
    yi, xi, n = r["yi"], r["xi"], r["n"]
    if a.agg == "count":
        canvas = np.zeros((H, W), dtype=np.uint32)
        canvas[yi, xi] = n
    elif a.agg == "mean":
        canvas = np.full((H, W), np.nan, dtype=np.float64)
        canvas[yi, xi] = n
    else:
        ncat = len(info["categories"])
        canvas = np.zeros((H, W, ncat), dtype=np.uint32)
        canvas[yi, xi, r["ci"]] = n
    t_scatter = time.perf_counter()
    np.save(a.out, canvas)
    t_save = time.perf_counter()
    version = None
    if a.engine == "duckdb":
        import duckdb

        version = duckdb.__version__
    else:
        import polars

        version = polars.__version__
    out = {
        "engine": a.engine,
        "version": version,
        "groups": int(len(n)),
        "points": int(n.sum()) if a.agg != "mean" else None,
        "import_s": t_import - t_start,
        "query_s": t_query - t0,
        "scatter_s": t_scatter - t_query,
        "save_s": t_save - t_scatter,
        "process_s": t_save - T_PROCESS,
        "threads": a.threads,
        "params": p,
        **info,
    }
    print(json.dumps(out))


# ---------------------------------------------------------------------------
# Orchestrator
# ---------------------------------------------------------------------------


def data_range(path: str, col: str) -> tuple[float, float]:
    """Min and max of the finite values of `col` (as float64): the range
    pointillist picks when none is given."""
    import numpy as np
    import pyarrow.parquet as pq

    lo, hi = np.inf, -np.inf
    for batch in pq.ParquetFile(path).iter_batches(columns=[col], batch_size=1 << 20):
        v = batch.column(0).to_numpy(zero_copy_only=False).astype(np.float64, copy=False)
        v = v[np.isfinite(v)]
        if v.size:
            lo, hi = min(lo, float(v.min())), max(hi, float(v.max()))
    if not np.isfinite(lo):
        raise SystemExit(f"{path}: column {col} has no finite value")
    return lo, hi


def compare_canvas(agg: str, ref_path: Path, other_path: Path) -> dict:
    import numpy as np

    a, b = np.load(ref_path), np.load(other_path)
    out = {"shape": list(b.shape), "dtype": str(b.dtype), "ref_shape": list(a.shape),
           "ref_dtype": str(a.dtype)}
    if a.shape != b.shape:
        out.update(identical=False, reason=f"shapes differ: {a.shape} vs {b.shape}")
        return out
    if agg == "mean":
        na, nb = np.isnan(a), np.isnan(b)
        nan_mismatch = int((na != nb).sum())
        both = ~na & ~nb
        diff = np.abs(a[both] - b[both])
        scale = np.abs(a[both])
        rel = np.divide(diff, scale, out=np.zeros_like(diff), where=scale > 0)
        rel = np.where((scale == 0) & (diff > 0), np.inf, rel)
        max_rel = float(rel.max()) if rel.size else 0.0
        out.update(
            nan_mismatch=nan_mismatch,
            nonempty=int(both.sum()),
            cells_differing=int((diff > 0).sum()),
            max_rel_diff=max_rel,
            bit_identical=bool(nan_mismatch == 0 and np.array_equal(a[both], b[both])),
            identical=bool(nan_mismatch == 0 and max_rel <= REL_TOL),
        )
        return out
    equal = a.dtype == b.dtype and np.array_equal(a, b)
    out.update(
        identical=bool(equal),
        cells_differing=int((a != b).sum()),
        total_ref=int(a.sum(dtype=np.uint64)),
        total=int(b.sum(dtype=np.uint64)),
    )
    if a.dtype != b.dtype:
        out["reason"] = f"dtypes differ: {a.dtype} vs {b.dtype}"
    return out


def canvas_word(c: dict | None) -> str:
    if c is None:
        return "reference"
    if not c["identical"]:
        return "NO (" + c.get("reason", f"{c.get('cells_differing', '?')} cells differ") + ")"
    if "max_rel_diff" in c:
        if c["bit_identical"]:
            return "yes (bit-identical)"
        return f"yes (max rel diff {c['max_rel_diff']:.1e})"
    return "yes (exact)"


def orchestrate(a) -> int:
    here = Path(__file__).resolve().parent
    sys.path.insert(0, str(here))
    import compare_datashader as cd  # timed(), wait_quiet(), ... (stdlib only)

    signal.signal(signal.SIGTERM, cd._on_term)
    signal.signal(signal.SIGHUP, cd._on_term)
    outdir = Path(a.out).resolve()
    outdir.mkdir(parents=True, exist_ok=True)
    py = sys.executable
    me = str(Path(__file__).resolve())
    pt = str(Path(a.pointillist).resolve())
    threads = a.threads or len(os.sched_getaffinity(0))
    aggs = [s.strip() for s in a.aggs.split(",") if s.strip()]
    for s in aggs:
        if s not in AGGS:
            raise SystemExit(f"unknown aggregation {s!r}: use {', '.join(AGGS)}")
    engines = [e.strip() for e in a.engines.split(",") if e.strip()]
    if "pointillist" not in engines:
        raise SystemExit("--engines must include pointillist (the reference canvas)")

    def log(msg):
        print(msg, file=sys.stderr, flush=True)

    try:
        v = subprocess.run(
            [py, "-c", "import json, duckdb, polars, numpy, pyarrow; print(json.dumps("
             "{m.__name__: m.__version__ for m in (duckdb, polars, numpy, pyarrow)}))"],
            capture_output=True, text=True, check=True,
        )
        versions = json.loads(v.stdout)
    except (subprocess.CalledProcessError, ValueError) as e:
        raise SystemExit(f"cannot import duckdb/polars/numpy/pyarrow in {py}: {e}")
    meta = {
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "command": " ".join(shlex.quote(x) for x in [sys.executable] + sys.argv),
        "threads": threads,
        "width": a.width,
        "height": a.height,
        "reps": a.reps,
        "warmup": a.warmup,
        "polars_engine": a.polars_engine,
        "machine": cd.machine_info(),
        "loadavg_start": cd.loadavg(),
        "versions": versions,
        "pointillist": {"binary": pt, **cd.git_info(here.parent)},
        "noisy_share": cd.NOISY_SHARE,
    }
    m = meta["machine"]
    log(f"machine: {m['nproc']} cores, {m['cpu_model']}, {m['mem_total_gib']} GiB; "
        f"load average {meta['loadavg_start']}; {threads} threads for every engine")
    log(f"versions: {versions}")

    def measured(cmd, env=None):
        """A timed run on a quiet machine (see the module docstring)."""
        discarded = []
        while True:
            waited = cd.wait_quiet(a.max_wait)
            load = cd.loadavg()
            if env is not None:
                old = {k: os.environ.get(k) for k in env}
                os.environ.update(env)
            try:
                r = cd.timed(cmd, outdir, a.timeout)
            finally:
                if env is not None:
                    for k, val in old.items():
                        if val is None:
                            os.environ.pop(k, None)
                        else:
                            os.environ[k] = val
            r["waited_s"] = waited
            r["loadavg_before"] = load
            share = r.get("foreign_share")
            if a.max_wait <= 0 or share is None or share < cd.NOISY_SHARE or len(discarded) >= 2:
                if discarded:
                    r["discarded_noisy"] = discarded
                return r
            log(f"    (other processes took {100 * share:.0f}% of the CPUs during that run; "
                "repeating it)")
            discarded.append({"wall_s": r["wall_s"], "foreign_share": share})

    def pt_cmd(data, agg, npy, ranges=True):
        cmd = [pt, "render", data, "--save-agg", str(npy), "--width", str(a.width),
               "--height", str(a.height), "--agg", PT_AGG[agg], "--threads", str(threads),
               "--timings", "--quiet"]
        if ranges:
            (x0, x1), (y0, y1) = ranges
            cmd += [f"--x-range={x0!r},{x1!r}", f"--y-range={y0!r},{y1!r}"]
        return cmd

    def worker_cmd(engine, data, agg, npy, ranges):
        (x0, x1), (y0, y1) = ranges
        return [py, me, "worker", "--engine", engine, "--data", data, "--agg", agg,
                "--out", str(npy), "--width", str(a.width), "--height", str(a.height),
                "--x-range", repr(x0), repr(x1), "--y-range", repr(y0), repr(y1),
                "--threads", str(threads), "--polars-engine", a.polars_engine]

    def run(engine, data, agg, npy, ranges):
        if engine == "pointillist":
            r = measured(pt_cmd(data, agg, npy, ranges))
            t = cd.parse_pt_timings(r["stderr"])
            r["timings"] = t
            r["query_s"] = t.get("read+aggregate")
            r["stdout"] = r["stdout"][-2000:]
        else:
            r = measured(worker_cmd(engine, data, agg, npy, ranges),
                         env={"POLARS_MAX_THREADS": str(threads)})
            try:
                r["internal"] = json.loads(r["stdout"].strip().splitlines()[-1])
            except (ValueError, IndexError):
                raise SystemExit(f"{engine} worker printed no JSON:\n{r['stdout'][-1000:]}"
                                 f"\n{r['stderr'][-2000:]}")
            r["query_s"] = r["internal"]["query_s"]
            del r["stdout"]
        r["stderr"] = r["stderr"][-2000:]
        return r

    results = {"meta": meta, "files": {}}
    rows = []
    for data in a.data:
        data = str(Path(data).resolve())
        log(f"file {data} ({os.path.getsize(data) / 2**20:,.0f} MiB)")
        # Warm the page cache so that no engine pays for the disk.
        with open(data, "rb") as f:
            while f.read(1 << 24):
                pass
        ranges = (data_range(data, "x"), data_range(data, "y"))
        log(f"  x range {ranges[0]!r}, y range {ranges[1]!r}")
        fres = {"bytes": os.path.getsize(data), "x_range": ranges[0], "y_range": ranges[1],
                "aggs": {}}
        results["files"][data] = fres
        stem = Path(data).stem
        # Untimed: pointillist with its own default ranges must give the same
        # canvas as with the ranges given to every engine.
        auto_npy = outdir / f"{stem}-count-pointillist-autorange.npy"
        given_npy = outdir / f"{stem}-count-pointillist-given.npy"
        cd.timed(pt_cmd(data, "count", auto_npy, ranges=None), outdir, a.timeout)
        cd.timed(pt_cmd(data, "count", given_npy, ranges), outdir, a.timeout)
        fres["range_check"] = compare_canvas("count", auto_npy, given_npy)
        log(f"  pointillist's own ranges give the same canvas as the given ones: "
            f"{fres['range_check']['identical']}")
        auto_npy.unlink(missing_ok=True)
        given_npy.unlink(missing_ok=True)

        for agg in aggs:
            log(f"  {agg}")
            npys = {e: outdir / f"{stem}-{agg}-{e}.npy" for e in engines}
            for _ in range(a.warmup):
                for e in engines:
                    run(e, data, agg, npys[e], ranges)
            runs = {e: [] for e in engines}
            for i in range(a.reps):
                k = i % len(engines)
                order = engines[k:] + engines[:k]
                for e in order:
                    r = run(e, data, agg, npys[e], ranges)
                    runs[e].append(r)
                    log(f"    rep {i + 1}/{a.reps} {e}: {r['wall_s']:.2f} s "
                        f"(query {r['query_s'] if r['query_s'] is None else round(r['query_s'], 3)} s), "
                        f"{r['rss_mb']:,.0f} MB"
                        + (f", others {100 * r['foreign_share']:.0f}% of CPUs"
                           if "foreign_share" in r else ""))
            checks = {e: compare_canvas(agg, npys["pointillist"], npys[e])
                      for e in engines if e != "pointillist"}
            summ = {}
            for e in engines:
                rs = runs[e]
                shares = [r["foreign_share"] for r in rs if "foreign_share" in r]
                qs = [r["query_s"] for r in rs if r["query_s"] is not None]
                summ[e] = {
                    "wall_s": statistics.median(r["wall_s"] for r in rs),
                    "query_s": statistics.median(qs) if qs else None,
                    "rss_mb": statistics.median(r["rss_mb"] for r in rs),
                    "max_foreign_share": max(shares) if shares else None,
                    "runs": rs,
                }
                if e != "pointillist":
                    summ[e]["canvas_check"] = checks[e]
                    log(f"    {e} canvas vs pointillist: {canvas_word(checks[e])}")
            others = [e for e in engines if e != "pointillist"]
            best = min(others, key=lambda e: summ[e]["wall_s"]) if others else None
            speedup = summ[best]["wall_s"] / summ["pointillist"]["wall_s"] if best else None
            fres["aggs"][agg] = {"engines": summ, "faster_engine": best,
                                 "speedup_over_faster": speedup}
            for e in engines:
                s = summ[e]
                if e == "pointillist":
                    sp = f"**{speedup:.1f}x** (vs {best})" if best else "—"
                else:
                    sp = f"{s['wall_s'] / summ['pointillist']['wall_s']:.1f}x"
                rows.append([Path(data).name, agg, e, cd.fmt_s(s["wall_s"]), cd.fmt_s(s["query_s"]),
                             cd.fmt_mb(s["rss_mb"]), sp,
                             canvas_word(checks.get(e)) if e != "pointillist" else "reference",
                             "—" if s["max_foreign_share"] is None
                             else f"{100 * s['max_foreign_share']:.0f}%"])
            (outdir / "engines_vs_pointillist.json").write_text(json.dumps(results, indent=1))

    meta["loadavg_end"] = cd.loadavg()
    head = ["file", "agg", "engine", "wall s (median)", "query s (in-process)", "peak RSS MB",
            "pointillist faster by", "canvas = pointillist's", "others' CPU share (max)"]
    table = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    table += ["| " + " | ".join(r) + " |" for r in rows]
    results["table"] = "\n".join(table)
    (outdir / "engines_vs_pointillist.json").write_text(json.dumps(results, indent=1))
    print(results["table"])
    bad = [(f, g, e) for f, fr in results["files"].items() for g, ar in fr["aggs"].items()
           for e, s in ar["engines"].items() if "canvas_check" in s and not s["canvas_check"]["identical"]]
    bad += [(f, "range", "pointillist") for f, fr in results["files"].items()
            if not fr["range_check"]["identical"]]
    for f, g, e in bad:
        log(f"MISMATCH: {Path(f).name} {g} {e}")
    log(f"raw numbers: {outdir / 'engines_vs_pointillist.json'}")
    return 1 if bad else 0


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "worker":
        ap = argparse.ArgumentParser(prog="engines_vs_pointillist.py worker")
        ap.add_argument("--engine", choices=["duckdb", "polars"], required=True)
        ap.add_argument("--data", required=True)
        ap.add_argument("--agg", choices=AGGS, required=True)
        ap.add_argument("--out", required=True)
        ap.add_argument("--width", type=int, default=1920)
        ap.add_argument("--height", type=int, default=1080)
        ap.add_argument("--x-range", type=float, nargs=2, required=True)
        ap.add_argument("--y-range", type=float, nargs=2, required=True)
        ap.add_argument("--threads", type=int, required=True)
        ap.add_argument("--polars-engine", default="auto")
        ap.add_argument("--explain", action="store_true", help="record Polars' plan")
        worker(ap.parse_args(sys.argv[2:]))
        return 0
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", action="append", required=True, help="Parquet file (repeatable)")
    ap.add_argument("--pointillist", default="target/release/pointillist")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1,
                    help="untimed runs of each engine before each file/agg's repetitions")
    ap.add_argument("--aggs", default="count,mean,count_cat")
    ap.add_argument("--engines", default="pointillist,duckdb,polars")
    ap.add_argument("--out", default="/tmp/engines_vs_pointillist")
    ap.add_argument("--width", type=int, default=1920)
    ap.add_argument("--height", type=int, default=1080)
    ap.add_argument("--threads", type=int, default=0,
                    help="threads for every engine (default: the CPUs this process may use)")
    ap.add_argument("--polars-engine", default="auto", choices=["auto", "streaming", "in-memory"])
    ap.add_argument("--max-wait", type=float, default=120,
                    help="seconds to wait for a quiet machine before each run (0: never wait)")
    ap.add_argument("--timeout", type=float, default=1800)
    return orchestrate(ap.parse_args())


if __name__ == "__main__":
    sys.exit(main())
