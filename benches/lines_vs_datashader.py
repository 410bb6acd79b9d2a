"""Lines against Datashader 0.19.1, in fresh processes, at 1920x1080 with
eq_hist, count and any (Datashader's default for lines):

- `--layout walk` (default): one long polyline (`Canvas.line`, axis=0), a
  random walk of N vertices (float64 x/y, NaN breaks every 10M vertices)
  written by pyarrow with its defaults;
- `--layout od`: N origin-destination segments (`Canvas.line` with lists
  of columns and axis=1) from `benches/flights_like.py` (pandas' defaults),
  drawn in plain longitude/latitude;
- `--layout wide`: N / S time series of S samples (`--samples`, 1000 by
  default), one float64 column per sample written by pyarrow with its
  defaults, drawn with `Canvas.line(df, x=np.arange(S), y=[columns],
  axis=1)` (pointillist: `--glyph row-lines --x-values 0:S --y s0,...`).

- `--layout area`: a time series of N rows (`t` increasing, `y` a float64
  random walk crossing zero), written by pyarrow with its defaults, filled
  to y = 0 (`Canvas.area(df, "t", "y")`; pointillist `--glyph area`).

- `--layout wide-area`: the `wide` series, each row filled to y = 0
  (`Canvas.area(df, x=np.arange(S), y=[columns], axis=1)`; pointillist
  `--glyph row-areas --x-values 0:S --y s0,...`).

- `--line-width W` (lines only): antialiased lines W pixels wide on both
  sides (Datashader's `line_width=W`; pointillist `--line-width W`).

    target/py-venv/bin/python benches/lines_vs_datashader.py [--layout walk|od|wide|area|wide-area] [--vertices 100000000] [--samples 1000] [--line-width 0] [--dir /tmp/lines] [--reps 1]

Datashader's side is what a notebook does: `pd.read_parquet` of the two
columns, `Canvas.line`, `tf.shade`, `to_pil().save`. Its warm time (a
second call in the same process, numba compiled) is reported too.
pointillist's is `pointillist render FILE --glyph line`. Both aggregates
are saved and compared cell for cell (antialiased lines drawn one per row
by parallel work units add their float32 coverage in another order than
Datashader does: the largest relative difference is reported, and up to
1e-2 accepted, for pixels crossed by up to ~1e5 segments). Prints a Markdown table (wall time,
peak RSS, ratios) and writes it as JSON next to the data.
"""

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / "target" / "release" / "pointillist"

DS_SCRIPT = r"""
import resource, sys, time
t0 = time.perf_counter()
import numpy as np, pandas as pd, datashader as ds, datashader.transfer_functions as tf
path, agg, png, npy, layout, lw = sys.argv[1:7]
aa = dict(line_width=float(lw)) if float(lw) > 0 else {}
red = ds.count() if agg == "count" else ds.any()
cvs = ds.Canvas(1920, 1080)
if layout == "area":
    df = pd.read_parquet(path, columns=["t", "y"])
    draw = lambda: cvs.area(df, "t", "y", agg=red)
elif layout == "wide-area":
    df = pd.read_parquet(path)
    ys = list(df.columns)
    draw = lambda: cvs.area(df, np.arange(len(ys)), ys, agg=red, axis=1)
else:
    if layout == "wide":
        df = pd.read_parquet(path)
        ys = list(df.columns)
        xs, axis = np.arange(len(ys)), 1
    elif layout == "od":
        xs, ys, axis = ["origin_lon", "dest_lon"], ["origin_lat", "dest_lat"], 1
        df = pd.read_parquet(path, columns=xs + ys)
    else:
        xs, ys, axis = "x", "y", 0
        df = pd.read_parquet(path, columns=["x", "y"])
    draw = lambda: cvs.line(df, xs, ys, agg=red, axis=axis, **aa)
a = draw()
tf.shade(a, how="eq_hist").to_pil().save(png)
wall = time.perf_counter() - t0
t1 = time.perf_counter()
a = draw()
tf.shade(a, how="eq_hist")
warm = time.perf_counter() - t1
np.save(npy, a.values)
print(wall, warm, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def write_walk(path, n, seed=5):
    """A random walk of `n` vertices, written 10M rows at a time."""
    rng = np.random.default_rng(seed)
    schema = pa.schema([("x", pa.float64()), ("y", pa.float64())])
    chunk = 10_000_000
    x0 = y0 = 0.0
    with pq.ParquetWriter(path, schema) as w:
        for start in range(0, n, chunk):
            m = min(chunk, n - start)
            x = x0 + np.cumsum(rng.normal(size=m))
            y = y0 + np.cumsum(rng.normal(size=m))
            x0, y0 = x[-1], y[-1]
            x[0] = np.nan  # a break every chunk
            w.write_table(pa.table({"x": x, "y": y}, schema=schema))


def write_series(path, n, seed=8):
    """A time series of `n` rows: `t` increasing, `y` a random walk around
    zero, written 10M rows at a time by pyarrow with its defaults."""
    rng = np.random.default_rng(seed)
    schema = pa.schema([("t", pa.float64()), ("y", pa.float64())])
    chunk = 10_000_000
    y0 = 0.0
    with pq.ParquetWriter(path, schema) as w:
        for start in range(0, n, chunk):
            m = min(chunk, n - start)
            t = np.arange(start, start + m, dtype="f8")
            y = y0 + np.cumsum(rng.normal(size=m)) * 0.01
            y0 = y[-1]
            w.write_table(pa.table({"t": t, "y": y}, schema=schema))


def write_wide(path, n, samples, seed=3):
    """`n // samples` random-walk series of `samples` float64 samples, one
    column per sample, written by pyarrow with its defaults."""
    rng = np.random.default_rng(seed)
    series = n // samples
    names = [f"s{j}" for j in range(samples)]
    chunk = max(1, 10_000_000 // samples)
    with pq.ParquetWriter(path, pa.schema([(c, pa.float64()) for c in names])) as w:
        for start in range(0, series, chunk):
            m = min(chunk, series - start)
            walks = np.cumsum(rng.normal(size=(m, samples)), axis=1)
            w.write_table(pa.table({c: walks[:, j] for j, c in enumerate(names)}))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vertices", type=int, default=100_000_000)
    ap.add_argument("--dir", default="/tmp/lines")
    ap.add_argument("--reps", type=int, default=1)
    ap.add_argument("--layout", choices=["walk", "od", "wide", "area", "wide-area"], default="walk")
    ap.add_argument("--samples", type=int, default=1000)
    ap.add_argument("--line-width", type=float, default=0.0)
    args = ap.parse_args()
    if args.line_width > 0 and "area" in args.layout:
        sys.exit("--line-width is for lines, not areas")
    d = Path(args.dir)
    d.mkdir(parents=True, exist_ok=True)
    data = d / f"{args.layout}-{args.vertices}.parquet"
    if not data.exists():
        t = time.perf_counter()
        if args.layout == "area":
            write_series(data, args.vertices)
        elif args.layout in ("wide", "wide-area"):
            write_wide(data, args.vertices, args.samples)
        elif args.layout == "od":
            subprocess.run(
                [sys.executable, ROOT / "benches" / "flights_like.py", "--rows",
                 str(args.vertices), "-o", data],
                check=True,
            )
        else:
            write_walk(data, args.vertices)
        print(f"wrote {data} in {time.perf_counter() - t:.1f} s", file=sys.stderr)
    if args.layout == "area":
        glyph = ["--glyph", "area", "--x", "t", "--y", "y"]
    elif args.layout == "wide-area":
        names = ",".join(f"s{j}" for j in range(args.samples))
        glyph = ["--glyph", "row-areas", "--x-values", f"0:{args.samples}", "--y", names]
    elif args.layout == "wide":
        names = ",".join(f"s{j}" for j in range(args.samples))
        glyph = ["--glyph", "row-lines", "--x-values", f"0:{args.samples}", "--y", names]
    elif args.layout == "od":
        glyph = ["--glyph", "row-lines", "--x", "origin_lon,dest_lon", "--y", "origin_lat,dest_lat"]
    else:
        glyph = ["--glyph", "line"]
    if args.line_width > 0:
        glyph += ["--line-width", str(args.line_width)]
    results = []
    for agg in ["count", "any"]:
        ds_best = pt_best = None
        for _ in range(args.reps):
            p = subprocess.run(
                [sys.executable, "-c", DS_SCRIPT, data, agg, d / f"ds-{agg}.png",
                 d / f"ds-{agg}.npy", args.layout, str(args.line_width)],
                capture_output=True,
                text=True,
            )
            if p.returncode != 0:
                sys.exit(f"datashader failed: {p.stderr.strip()[-2000:]}")
            wall, warm, rss_kb = p.stdout.split()
            r = dict(wall=float(wall), warm=float(warm), rss_mb=int(rss_kb) / 1024)
            ds_best = r if ds_best is None or r["wall"] < ds_best["wall"] else ds_best
            cmd = [
                "/usr/bin/time", "-f", "%e %M", BIN, "render", data, *glyph,
                "--agg", agg, "--width", "1920", "--height", "1080",
                "-o", d / f"pt-{agg}.png", "--save-agg", d / f"pt-{agg}.npy",
            ]
            p = subprocess.run(cmd, capture_output=True, text=True)
            if p.returncode != 0:
                sys.exit(f"pointillist failed: {p.stderr.strip()}")
            wall, rss_kb = p.stderr.strip().splitlines()[-1].split()
            r = dict(wall=float(wall), rss_mb=int(rss_kb) / 1024)
            pt_best = r if pt_best is None or r["wall"] < pt_best["wall"] else pt_best
        a = np.load(d / f"ds-{agg}.npy")
        b = np.load(d / f"pt-{agg}.npy")
        same = a.shape == b.shape and a.dtype == b.dtype and np.array_equal(a, b, equal_nan=True)
        rel = 0.0
        if not same and a.shape == b.shape and a.dtype == b.dtype and a.dtype.kind == "f":
            if np.array_equal(np.isnan(a), np.isnan(b)):
                with np.errstate(invalid="ignore", divide="ignore"):
                    rel = float(np.nanmax(np.abs(a.astype("f8") - b) / np.abs(b)))
            else:
                rel = float("inf")
        # float32 coverage summed in another order: each addition rounds by
        # up to 2**-24 relative, and a pixel crossed by k segments takes k
        # of them, so pixels under ~1e5 segments may differ by ~1e-3.
        close = same or (a.dtype.kind == "f" and rel <= 1e-2)
        results.append(
            dict(agg=agg, datashader=ds_best, pointillist=pt_best, identical=bool(same),
                 max_rel_diff=rel, within_float32_order=bool(close), line_width=args.line_width)
        )
    what = {
        "od": "OD segments (axis=1)",
        "wide": f"vertices, series of {args.samples} samples (axis=1, constant x)",
        "walk": "vertices, one line (axis=0)",
        "area": "rows of a time series filled to y = 0 (area, axis=0)",
        "wide-area": f"vertices, series of {args.samples} samples filled to y = 0 (area, axis=1)",
    }[args.layout]
    aa = f", antialiased, line_width={args.line_width:g}" if args.line_width > 0 else ""
    print(f"{args.vertices:,} {what}{aa}, 1920x1080, eq_hist, fresh processes")
    print("| agg | Datashader s | Datashader warm s | RSS MB | pointillist s | RSS MB | speed-up | warm speed-up | RSS ratio | aggregate |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for r in results:
        ds_, pt = r["datashader"], r["pointillist"]
        print(
            f"| {r['agg']} | {ds_['wall']:.2f} | {ds_['warm']:.2f} | {ds_['rss_mb']:,.0f} | "
            f"{pt['wall']:.2f} | {pt['rss_mb']:,.0f} | {ds_['wall'] / pt['wall']:.1f}x | "
            f"{ds_['warm'] / pt['wall']:.1f}x | {ds_['rss_mb'] / pt['rss_mb']:.0f}x | "
            f"{'identical' if r['identical'] else 'max rel diff %.1e' % r['max_rel_diff'] if r['within_float32_order'] else 'DIFFERENT'} |"
        )
    tag = f"-aa{args.line_width:g}" if args.line_width > 0 else ""
    (d / f"results-{args.layout}-{args.vertices}{tag}.json").write_text(json.dumps(results, indent=2))
    if not all(r["within_float32_order"] for r in results):
        sys.exit("aggregates differ")


if __name__ == "__main__":
    main()
