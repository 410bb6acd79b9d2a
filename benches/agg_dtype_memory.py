"""Peak memory and time of a count by category with a chosen aggregate
dtype, against Datashader's uint32, each case in a fresh process.

    target/py-venv/bin/python benches/agg_dtype_memory.py FILE.parquet [CAT_COLUMN]

FILE is read with pandas first (its own memory is reported apart); then one
aggregation of x, y by CAT_COLUMN (default ``cat``) on a 1920x1080 canvas
over (-4, 4) x (-4, 4), then tf.shade. Prints one row per case: wall
seconds for aggregate + shade, and the peak RSS the aggregation added
above what was resident before it (the loaded frame; Linux's
``/proc/self/clear_refs`` resets the peak).
"""

from __future__ import annotations

import json
import subprocess
import sys

CASES = [
    ("datashader", "uint32"),
    ("pointillist", None),
    ("pointillist", "uint16"),
    ("pointillist", "uint8"),
]

CHILD = r"""
import json, sys, time
import pandas as pd

def status(field):
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024  # MB

lib, dtype, path, cat = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
import colorcet
if lib == "datashader":
    import datashader as ds
else:
    import pointillist as ds
df = pd.read_parquet(path)
df[cat] = df[cat].astype("category")
cvs = ds.Canvas(plot_width=1920, plot_height=1080, x_range=(-4, 4), y_range=(-4, 4))
count = ds.count() if dtype in ("None", "uint32") else ds.count(dtype=dtype)
# One warm-up on a slice (Datashader compiles its kernels on first use).
cvs.points(df.head(1000), "x", "y", agg=ds.by(cat, count))
# Linux: reset the peak RSS (VmHWM) to what is resident now.
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")
base = status("VmRSS")
t = time.perf_counter()
agg = cvs.points(df, "x", "y", agg=ds.by(cat, count))
img = ds.tf.shade(agg, color_key=colorcet.glasbey[: agg.shape[2]])
wall = time.perf_counter() - t
peak = status("VmHWM")
print(json.dumps(dict(dtype=str(agg.dtype), wall=wall, added_mb=peak - base)))
"""


def main():
    path = sys.argv[1]
    cat = sys.argv[2] if len(sys.argv) > 2 else "cat"
    print("| library | dtype | aggregate + shade | peak RSS above the frame |")
    print("|---|---|---:|---:|")
    for lib, dtype in CASES:
        out = subprocess.run(
            [sys.executable, "-c", CHILD, lib, str(dtype), path, cat],
            capture_output=True,
            text=True,
        )
        if out.returncode != 0:
            sys.exit(f"{lib} {dtype}: {out.stderr.strip()}")
        r = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"| {lib} | {r['dtype']} | {r['wall']:.2f} s | {r['added_mb']:.0f} MB |")


if __name__ == "__main__":
    main()
