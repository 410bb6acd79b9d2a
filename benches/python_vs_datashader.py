"""The same notebook code with `import datashader as ds` and with
`import pointillist as ds`, side by side in one process, warm: in-memory
pandas points (float32 x/y/val, a 5-category categorical) aggregated at
1920x1080, with the canvas's ranges left to the data (auto) or given, and
then also shaded with eq_hist.

    target/py-venv/bin/python benches/python_vs_datashader.py [--rows 100000000] [--reps 3]

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
    args = ap.parse_args()
    import datashader as dsh
    import datashader.transfer_functions as dtf
    import pointillist as pl
    import pointillist.transfer_functions as ptf

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


if __name__ == "__main__":
    main()
