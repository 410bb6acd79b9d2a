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

- `--layout geometry`: N vertices in road-like LineStrings of 2 to 30
  vertices (short random walks over a 100 km square, in metres), a
  GeoDataFrame written by GeoPandas' `to_parquet` with its defaults
  (GeoParquet, WKB); Datashader reads it with `geopandas.read_parquet` and
  draws `Canvas.line(gdf, geometry="geometry")`; pointillist renders the
  file (`--glyph line --geometry geometry --geometry-kernel geopandas`),
  and its Python API is timed on the notebook's path too (the same
  script with `import pointillist as ds`).

- `--line-width W` (lines only): antialiased lines W pixels wide on both
  sides (Datashader's `line_width=W`; pointillist `--line-width W`).

    target/py-venv/bin/python benches/lines_vs_datashader.py [--layout walk|od|wide|area|wide-area|geometry] [--vertices 100000000] [--samples 1000] [--line-width 0] [--dir /tmp/lines] [--reps 1]

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
import importlib
import numpy as np, pandas as pd
path, agg, png, npy, layout, lw, lib = sys.argv[1:8]
ds = importlib.import_module(lib)
tf = importlib.import_module(lib + ".transfer_functions")
aa = dict(line_width=float(lw)) if float(lw) > 0 else {}
red = ds.count() if agg == "count" else ds.any()
cvs = ds.Canvas(1920, 1080)
if layout == "geometry":
    import geopandas
    df = geopandas.read_parquet(path)
    draw = lambda: cvs.line(df, geometry="geometry", agg=red, **aa)
elif layout == "area":
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


def write_roads(path, n, seed=11):
    """About `n` vertices as LineStrings of 2 to 30 vertices (random walks
    of ~50 m steps from uniform starts over a 100 km square), written by
    GeoPandas' `to_parquet` with its defaults (GeoParquet, WKB)."""
    import geopandas
    import shapely

    rng = np.random.default_rng(seed)
    sizes = []
    total = 0
    while total < n:
        k = int(rng.integers(2, 31))
        sizes.append(k)
        total += k
    sizes = np.array(sizes)
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    steps = rng.normal(scale=50.0, size=(offsets[-1], 2))
    starts = rng.uniform(0, 100_000, size=(len(sizes), 2))
    steps[offsets[:-1]] = starts
    # Cumulative sums restarted at each line's first vertex.
    xy = np.cumsum(steps, axis=0)
    xy -= np.repeat(np.concatenate([[[0, 0]], xy[offsets[1:-1] - 1]]), sizes, axis=0)
    lines = shapely.from_ragged_array(shapely.GeometryType.LINESTRING, xy, (offsets,))
    gdf = geopandas.GeoDataFrame({"id": np.arange(len(sizes))}, geometry=lines, crs="EPSG:3857")
    gdf.to_parquet(path)


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


def run_notebook(lib, data, agg, d, args):
    """DS_SCRIPT in a fresh process with `lib` as `ds`: wall, warm, RSS."""
    tag = "ds" if lib == "datashader" else "py"
    p = subprocess.run(
        [sys.executable, "-c", DS_SCRIPT, data, agg, d / f"{tag}-{agg}.png",
         d / f"{tag}-{agg}.npy", args.layout, str(args.line_width), lib],
        capture_output=True,
        text=True,
    )
    if p.returncode != 0:
        sys.exit(f"{lib} failed: {p.stderr.strip()[-2000:]}")
    wall, warm, rss_kb = p.stdout.split()
    return dict(wall=float(wall), warm=float(warm), rss_mb=int(rss_kb) / 1024)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vertices", type=int, default=100_000_000)
    ap.add_argument("--dir", default="/tmp/lines")
    ap.add_argument("--reps", type=int, default=1)
    ap.add_argument("--layout", choices=["walk", "od", "wide", "area", "wide-area", "geometry"], default="walk")
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
        elif args.layout == "geometry":
            write_roads(data, args.vertices)
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
    elif args.layout == "geometry":
        glyph = ["--glyph", "line", "--geometry", "geometry", "--geometry-kernel", "geopandas"]
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
        ds_best = pt_best = py_best = None
        for _ in range(args.reps):
            r = run_notebook("datashader", data, agg, d, args)
            ds_best = r if ds_best is None or r["wall"] < ds_best["wall"] else ds_best
            if args.layout == "geometry":
                r = run_notebook("pointillist", data, agg, d, args)
                py_best = r if py_best is None or r["wall"] < py_best["wall"] else py_best
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
        close = same or (a.dtype.kind == "f" and rel <= 1e-2) or args.layout == "geometry"
        python = None
        if py_best is not None:
            # The Python API on the notebook's path: the same GeoDataFrame,
            # Datashader's row order (its spatial index query).
            c = np.load(d / f"py-{agg}.npy")
            py_best["identical"] = bool(np.array_equal(a, c, equal_nan=True))
            python = py_best
        if not same and args.layout == "geometry" and a.shape == b.shape:
            # The GeoPandas kernel skips some lines' start pixels depending
            # on where each line's vertices fall in the input's order
            # (datashader#1509), and Datashader draws in its spatial index's
            # order, not the file's: count the pixels that differ.
            rel = float(np.count_nonzero(a != b))
        results.append(
            dict(agg=agg, datashader=ds_best, pointillist=pt_best, python=python,
                 identical=bool(same),
                 max_rel_diff=rel, within_float32_order=bool(close), line_width=args.line_width)
        )
    what = {
        "od": "OD segments (axis=1)",
        "wide": f"vertices, series of {args.samples} samples (axis=1, constant x)",
        "walk": "vertices, one line (axis=0)",
        "area": "rows of a time series filled to y = 0 (area, axis=0)",
        "geometry": "vertices in LineStrings from GeoParquet (GeoPandas kernel)",
        "wide-area": f"vertices, series of {args.samples} samples filled to y = 0 (area, axis=1)",
    }[args.layout]
    aa = f", antialiased, line_width={args.line_width:g}" if args.line_width > 0 else ""
    print(f"{args.vertices:,} {what}{aa}, 1920x1080, eq_hist, fresh processes")
    print("| agg | Datashader s | Datashader warm s | RSS MB | pointillist s | RSS MB | speed-up | warm speed-up | RSS ratio | aggregate |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for r in results:
        ds_, pt = r["datashader"], r["pointillist"]
        if r["python"] is not None:
            py = r["python"]
            print(
                f"| {r['agg']} (Python API) | {ds_['wall']:.2f} | {ds_['warm']:.2f} | {ds_['rss_mb']:,.0f} | "
                f"{py['wall']:.2f} (warm {py['warm']:.2f}) | {py['rss_mb']:,.0f} | {ds_['wall'] / py['wall']:.1f}x | "
                f"{ds_['warm'] / py['warm']:.1f}x (warm to warm) | {ds_['rss_mb'] / py['rss_mb']:.1f}x | "
                f"{'identical' if py['identical'] else 'DIFFERENT'} |"
            )
        if args.layout == "geometry" and not r["identical"]:
            print(
                f"| {r['agg']} (CLI) | {ds_['wall']:.2f} | {ds_['warm']:.2f} | {ds_['rss_mb']:,.0f} | "
                f"{pt['wall']:.2f} | {pt['rss_mb']:,.0f} | {ds_['wall'] / pt['wall']:.1f}x | "
                f"{ds_['warm'] / pt['wall']:.1f}x | {ds_['rss_mb'] / pt['rss_mb']:.0f}x | "
                f"{int(r['max_rel_diff'])} pixels differ (file order, not the spatial index's) |"
            )
            continue
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
