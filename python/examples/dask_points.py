"""Canvas.points of a Dask DataFrame and of Parquet fragments on a local
two-process Dask cluster: each partition (or share of the row groups) is
aggregated by pointillist's Rust core on a worker, the partials are merged
in a tree, and the client finishes the DataArray.

    python examples/dask_points.py

`bash .ci/test` runs it after the Python tests.
"""

import logging
import os
import tempfile

import numpy as np
import pandas as pd


def main():
    import dask.dataframe as dd
    from distributed import Client, LocalCluster

    import pointillist as ds
    import pointillist.dask as pdask

    rng = np.random.default_rng(0)
    n = 200_000
    df = pd.DataFrame(
        {
            "x": rng.normal(size=n),
            "y": rng.normal(size=n),
            "v": rng.normal(size=n),
            "cat": pd.Categorical(rng.choice(["a", "b", "c"], size=n)),
        }
    )
    # Scripts that start worker processes need the __main__ guard below.
    with LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
        silence_logs=logging.ERROR,
    ) as cluster, Client(cluster):
        ddf = dd.from_pandas(df, npartitions=8).persist()
        cvs = ds.Canvas(plot_width=400, plot_height=300)
        counts = cvs.points(ddf, "x", "y", ds.count_cat("cat"))
        print(counts.dims, counts.shape, int(counts.sum()))
        # The same aggregate, merged 2 partials at a time.
        last = pdask.points(cvs, ddf, "x", "y", ds.last("v"), split_every=2)
        print("last: NaN cells", int(np.isnan(last.values).sum()))

        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "points.parquet")
            df.to_parquet(path, row_group_size=20_000)
            # Ten row groups: ten fragments, read by the core on the workers.
            means = cvs.points(pdask.read_parquet(path), "x", "y", ds.mean("v"))
            print(means.dims, means.attrs)


if __name__ == "__main__":
    main()
