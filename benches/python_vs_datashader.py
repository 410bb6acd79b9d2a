"""The same notebook code with `import datashader as ds` and with
`import pointillist as ds`, side by side in one process, warm: in-memory
pandas points (float32 x/y/val, a 5-category categorical) aggregated at
1920x1080, with the canvas's ranges left to the data (auto) or given, and
then also shaded with eq_hist.

    target/py-venv/bin/python benches/python_vs_datashader.py [--rows 100000000] [--reps 3]
    target/py-venv/bin/python benches/python_vs_datashader.py --parquet /tmp/points.parquet

(`bash .ci/test` makes that venv with both packages.) Prints a Markdown
table of the best wall time of each library per call and the ratio, and
checks that both give the same aggregate.
"""

import argparse
import time

import numpy as np
import pandas as pd
import xarray as xr


def data(rows, seed=42):
    rng = np.random.default_rng(seed)
    centres = rng.uniform(-1.0, 1.0, size=(64, 2))
    which = rng.integers(0, len(centres), size=rows)
    xy = centres[which] + rng.normal(scale=0.05, size=(rows, 2))
    return pd.DataFrame(
        {
            "x": xy[:, 0].astype(np.float32),
            "y": xy[:, 1].astype(np.float32),
            "val": rng.random(rows, dtype=np.float32),
            "cat": pd.Categorical.from_codes(
                rng.integers(0, 5, size=rows, dtype=np.int8), list("abcde")
            ),
        }
    )


def best(f, reps):
    times = []
    out = None
    for _ in range(reps):
        t = time.perf_counter()
        out = f()
        times.append(time.perf_counter() - t)
    return min(times), out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=100_000_000)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument(
        "--parquet",
        metavar="PATH",
        help="instead: write the same data with pandas' defaults (df.to_parquet) to PATH "
        "unless it exists, then time a warm Datashader pd.read_parquet + points + shade "
        "against pointillist's points(PATH) + shade",
    )
    args = ap.parse_args()
    import datashader as dsh
    import datashader.transfer_functions as dtf
    import pointillist as pl
    import pointillist.transfer_functions as ptf

    if args.parquet:
        return parquet(args, dsh, dtf, pl, ptf)
    df = data(args.rows)
    print(f"{args.rows:,} rows in memory; best of {args.reps}, warm\n")
    print("| call | ranges | Datashader 0.19.1 | pointillist | speed-up |")
    print("|---|---|---:|---:|---:|")
    ranges = {"auto": {}, "given": dict(x_range=(-1.3, 1.3), y_range=(-1.3, 1.3))}
    for name, make in [
        ("count", lambda m: m.count()),
        ("mean(val)", lambda m: m.mean("val")),
        ("count_cat(cat)", lambda m: m.count_cat("cat")),
    ]:
        for rname, rng in ranges.items():
            for shade in (False, True):
                results = {}
                for label, ds, tf in [("datashader", dsh, dtf), ("pointillist", pl, ptf)]:
                    cvs = ds.Canvas(plot_width=1920, plot_height=1080, **rng)

                    def call():
                        agg = cvs.points(df, "x", "y", agg=make(ds))
                        if not shade:
                            pass
                        elif name.startswith("count_cat"):
                            tf.shade(agg, how="eq_hist")
                        else:
                            tf.shade(agg, cmap=["lightblue", "darkblue"], how="eq_hist")
                        return agg

                    call()  # warm: numba compiles, pages fault in
                    results[label] = best(call, args.reps)
                (td, ad), (tp, ap_) = results["datashader"], results["pointillist"]
                if name.startswith("mean"):
                    xr.testing.assert_allclose(ad, ap_, rtol=1e-9)
                else:
                    xr.testing.assert_identical(ad, ap_)
                what = f"{name} + shade" if shade else name
                print(
                    f"| {what} | {rname} | {td:.3f} s | {tp:.3f} s | {td / tp:.1f}x |",
                    flush=True,
                )


def parquet(args, dsh, dtf, pl, ptf):
    import os

    import pyarrow.parquet as pq

    path = args.parquet
    if not os.path.exists(path):
        data(args.rows).to_parquet(path)  # pandas' defaults: pyarrow, snappy
    meta = pq.ParquetFile(path).metadata
    print(
        f"{meta.num_rows:,} rows in {path} ({os.path.getsize(path) / 1e9:.2f} GB, "
        f"{meta.num_row_groups} row groups, written by {meta.created_by}); "
        f"best of {args.reps}, warm, file in the page cache\n"
    )
    print("| call | Datashader 0.19.1: read_parquet + points + shade | pointillist: points(path) + shade | speed-up |")
    print("|---|---:|---:|---:|")
    for name, cols, make in [
        ("count", ["x", "y"], lambda m: m.count()),
        ("mean(val)", ["x", "y", "val"], lambda m: m.mean("val")),
        ("count_cat(cat)", ["x", "y", "cat"], lambda m: m.count_cat("cat")),
    ]:
        results = {}
        for label, ds, tf in [("datashader", dsh, dtf), ("pointillist", pl, ptf)]:
            cvs = ds.Canvas(plot_width=1920, plot_height=1080)

            def call():
                src = pd.read_parquet(path, columns=cols) if label == "datashader" else path
                agg = cvs.points(src, "x", "y", agg=make(ds))
                if name.startswith("count_cat"):
                    img = tf.shade(agg, how="eq_hist")
                else:
                    img = tf.shade(agg, cmap=["lightblue", "darkblue"], how="eq_hist")
                return agg, img

            call()
            results[label] = best(call, args.reps)
        (td, (ad, ai)), (tp, (ap_, pi)) = results["datashader"], results["pointillist"]
        if name.startswith("mean"):
            xr.testing.assert_allclose(ad, ap_, rtol=1e-9)
        else:
            xr.testing.assert_identical(ad, ap_)
        diff = np.abs(ai.data.view(np.uint8).astype(int) - pi.data.view(np.uint8).astype(int))
        print(
            f"| {name} + shade | {td:.3f} s | {tp:.3f} s | {td / tp:.1f}x |"
            f" (image: max channel difference {diff.max()})",
            flush=True,
        )


if __name__ == "__main__":
    main()
