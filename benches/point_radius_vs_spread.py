"""Points with a size: pointillist's radius inside the aggregation against
what Datashader users do today (aggregate one pixel per point, shade, then
``tf.spread`` the image), on the same in-memory pandas frame read from a
Parquet file written by pandas with its defaults (``df.to_parquet``), at
1920x1080. Each pipeline runs twice in one process; the table shows the
warm (second) call, so Datashader's numba compile is left out. The two
pictures differ by design (spread smears shaded pixels; a radius puts
each point in every pixel it covers), so only time is compared; the
pointillist radius-0 row is the cost of a radius on its own.

    target/py-venv/bin/python benches/point_radius_vs_spread.py FILE.parquet
"""
import sys
import time

import pandas as pd

import datashader as dsh
import datashader.transfer_functions as dtf
import pointillist as pt
import pointillist.transfer_functions as ptf

df = pd.read_parquet(sys.argv[1], columns=["x", "y", "val"])
x0, x1 = float(df["x"].min()), float(df["x"].max())
y0, y1 = float(df["y"].min()), float(df["y"].max())
kw = dict(plot_width=1920, plot_height=1080, x_range=(x0, x1), y_range=(y0, y1))


def timed(f):
    f()
    t0 = time.perf_counter()
    f()
    return time.perf_counter() - t0


print(f"{len(df):,} rows from {sys.argv[1]}")
for r in (1, 2, 4):
    for name, agg_d, agg_p in (("count", dsh.count(), pt.count()), ("mean(val)", dsh.mean("val"), pt.mean("val"))):
        d = timed(lambda: dtf.spread(dtf.shade(dsh.Canvas(**kw).points(df, "x", "y", agg_d)), px=r, shape="circle"))
        s = timed(lambda: ptf.spread(ptf.shade(pt.Canvas(**kw).points(df, "x", "y", agg_p)), px=r, shape="circle"))
        p = timed(lambda: ptf.shade(pt.Canvas(**kw).points(df, "x", "y", agg_p, radius=r)))
        print(
            f"r={r} {name}: datashader points+shade+spread {d:.2f}s | pointillist same {s:.2f}s | "
            f"pointillist radius={r} + shade {p:.2f}s | radius vs datashader {d / p:.1f}x"
        )
