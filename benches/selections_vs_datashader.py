"""where and the _n reductions: pointillist's Python API against Datashader
0.19.1 in one process, on the same in-memory pandas frame of N points
(normal x, y; v small integers as floats, so ties matter; w normal) at
1920x1080. Prints each tool's first call (Datashader's includes numba's
compile) and a second, warm call, and whether the aggregates are identical.

    target/py-venv/bin/python benches/selections_vs_datashader.py 10000000
"""
import time, sys
import numpy as np, pandas as pd
import datashader as dsh, datashader.reductions as dr
import pointillist as pt, pointillist.reductions as pr
n = int(sys.argv[1])
rng = np.random.default_rng(0)
df = pd.DataFrame({"x": rng.normal(size=n), "y": rng.normal(size=n), "v": rng.integers(0, 1000, n).astype("f8"), "w": rng.normal(size=n)})
kw = dict(plot_width=1920, plot_height=1080, x_range=(-4, 4), y_range=(-4, 4))
for name, a, b in [("max_n(v,3)", dr.max_n("v", 3), pr.max_n("v", 3)), ("where(max(v),w)", dr.where(dr.max("v"), "w"), pr.where(pr.max("v"), "w")), ("where(last_n(v,3))", dr.where(dr.last_n("v", 3)), pr.where(pr.last_n("v", 3)))]:
    times = {}
    for lib, agg, mod in [("datashader", a, dsh), ("pointillist", b, pt)]:
        c = mod.Canvas(**kw)
        t0 = time.perf_counter(); r1 = c.points(df, "x", "y", agg=agg); t1 = time.perf_counter()
        r2 = c.points(df, "x", "y", agg=agg); t2 = time.perf_counter()
        times[lib] = (t1 - t0, t2 - t1, r2)
    same = np.array_equal(times["datashader"][2].values, times["pointillist"][2].values, equal_nan=True)
    d, p = times["datashader"], times["pointillist"]
    print(f"{name}: datashader first {d[0]:.2f}s warm {d[1]:.2f}s | pointillist first {p[0]:.2f}s warm {p[1]:.2f}s | warm speed-up {d[1]/p[1]:.1f}x | identical {same}")
