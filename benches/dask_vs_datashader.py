"""Datashader + Dask against pointillist + Dask on one Parquet file, each
on its own fresh ``LocalCluster(n_workers=2, threads_per_worker=1,
processes=True)``: wall time of ``Canvas.points`` + ``tf.shade`` per call
(best of the repetitions, after one warm-up run), and the workers' memory.

    target/py-venv/bin/python benches/dask_vs_datashader.py --parquet /tmp/points.parquet [--rows 100000000] [--reps 2]

The file is written with pandas' defaults (pyarrow, snappy, 1Mi-row row
groups) from the same data as ``benches/python_vs_datashader.py`` when it
does not exist. Datashader reads it with ``dask.dataframe.read_parquet``
(one partition per row group); pointillist with
``pointillist.dask.read_parquet`` (fragments of row groups decoded by the
Rust core on the workers). Both leave the ranges to the data. Memory: each
worker's peak RSS (over the whole life of the fresh worker process) and its rise above the worker's RSS once the library is imported
and before any work (``VmHWM`` and ``VmRSS`` of ``/proc/self/status``). Prints a Markdown table and checks that both give
the same aggregate.
"""

import argparse
import logging
import os
import sys
import time

import numpy as np
import xarray as xr


def _rss_now():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _rss_peak():
    # VmHWM: the peak of this process's own memory map. (`ru_maxrss` also
    # counts the forked parent's pages before exec: a worker spawned by a
    # large client would report the client's size.)
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def _import(name):
    __import__(name)
    return _rss_now()


def run(lib, path, reps):
    from distributed import Client, LocalCluster

    if lib == "datashader":
        import dask.dataframe as dd
        import datashader as ds
        import datashader.transfer_functions as tf

        module = "datashader"
    else:
        import pointillist as ds
        import pointillist.dask as pdask
        import pointillist.transfer_functions as tf

        module = "pointillist"
    calls = [
        ("count", ["x", "y"], lambda: ds.count()),
        ("mean(val)", ["x", "y", "val"], lambda: ds.mean("val")),
        ("count_cat(cat)", ["x", "y", "cat"], lambda: ds.count_cat("cat")),
    ]
    out = {}
    with LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
        silence_logs=logging.ERROR,
    ) as cluster, Client(cluster) as client:
        idle = client.run(_import, module)
        for name, cols, make in calls:
            cvs = ds.Canvas(plot_width=1920, plot_height=1080)

            def call():
                if lib == "datashader":
                    src = dd.read_parquet(path, columns=cols)
                else:
                    src = pdask.read_parquet(path)
                agg = cvs.points(src, "x", "y", agg=make())
                if name.startswith("count_cat"):
                    tf.shade(agg, how="eq_hist")
                else:
                    tf.shade(agg, cmap=["lightblue", "darkblue"], how="eq_hist")
                return agg

            call()  # warm: numba compiles on the workers, imports, page cache
            times = []
            agg = None
            for _ in range(reps):
                t = time.perf_counter()
                agg = call()
                times.append(time.perf_counter() - t)
            out[name] = (min(times), agg)
        peak = client.run(_rss_peak)
    rise = max(peak[w] - idle[w] for w in peak)
    return out, max(peak.values()), rise


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--parquet", required=True, metavar="PATH")
    ap.add_argument("--rows", type=int, default=100_000_000)
    ap.add_argument("--reps", type=int, default=2)
    args = ap.parse_args()
    path = os.path.abspath(args.parquet)
    if not os.path.exists(path):
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        from python_vs_datashader import data

        data(args.rows).to_parquet(path)
    import pyarrow.parquet as pq

    meta = pq.ParquetFile(path).metadata
    print(
        f"{meta.num_rows:,} rows in {path} ({os.path.getsize(path) / 1e9:.2f} GB, "
        f"{meta.num_row_groups} row groups); LocalCluster(n_workers=2, "
        f"threads_per_worker=1, processes=True); best of {args.reps}, warm\n"
    )
    ds_out, ds_peak, ds_rise = run("datashader", path, args.reps)
    pl_out, pl_peak, pl_rise = run("pointillist", path, args.reps)
    print("| call + shade | Datashader + Dask | pointillist + Dask | speed-up |")
    print("|---|---:|---:|---:|")
    for name in ds_out:
        (td, ad), (tp, ap_) = ds_out[name], pl_out[name]
        if name.startswith("mean"):
            xr.testing.assert_allclose(ad, ap_, rtol=1e-9)
        else:
            xr.testing.assert_identical(ad, ap_)
        print(f"| {name} | {td:.2f} s | {tp:.2f} s | {td / tp:.1f}x |")
    mb = 1 << 20
    print()
    print("| worker memory (largest of the 2) | Datashader + Dask | pointillist + Dask | ratio |")
    print("|---|---:|---:|---:|")
    print(
        f"| peak RSS | {ds_peak / mb:,.0f} MB | {pl_peak / mb:,.0f} MB | "
        f"{ds_peak / pl_peak:.1f}x |"
    )
    print(
        f"| rise over the idle worker | {ds_rise / mb:,.0f} MB | {pl_rise / mb:,.0f} MB | "
        f"{ds_rise / max(pl_rise, 1):.1f}x |"
    )


if __name__ == "__main__":
    main()
