"""Many categories in bounded memory (``by(..., top_categories=K)``, which
Datashader lacks: its #907): the K categories with the most points on the
canvas keep Datashader's own planes, in category order, and a last plane
``"(other)"`` holds the rest, on pandas, Arrow, Parquet and Dask alike."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import xarray as xr

import pointillist as ds

dsh = pytest.importorskip("datashader")

W, H = 16, 12
RANGES = dict(x_range=(0.0, 1.0), y_range=(0.0, 1.0))


@pytest.fixture(scope="module")
def df():
    rng = np.random.default_rng(907)
    n = 30_000
    # 300 categories of very different sizes, some rows off the canvas,
    # some null; category 7 is large but mostly off the canvas.
    k = np.minimum((300 ** rng.uniform(0, 1, n)).astype(int) - 1, 299)
    x = rng.uniform(-0.2, 1.2, n)
    x[k == 7] += 5.0 * (rng.uniform(0, 1, (k == 7).sum()) < 0.9)
    cats = pd.Categorical.from_codes(k, [f"c{i:03d}" for i in range(300)])
    cats[::101] = np.nan
    return pd.DataFrame({"x": x, "y": rng.uniform(0, 1, n), "v": rng.normal(0, 1, n), "c": cats})


def brute_top(df, k):
    inside = df["x"].between(*RANGES["x_range"]) & df["y"].between(*RANGES["y_range"])
    counts = df.loc[inside, "c"].value_counts(sort=False).reindex(df["c"].cat.categories)
    order = sorted(range(len(counts)), key=lambda i: (-int(counts.iloc[i]), i))
    return [counts.index[i] for i in sorted(order[:k])]


@pytest.mark.parametrize("k", [1, 5, 20])
@pytest.mark.parametrize("reduction", ["count", "sum", "max"])
def test_the_kept_planes_are_datashaders_and_other_holds_the_rest(df, k, reduction):
    make = lambda lib: lib.count() if reduction == "count" else getattr(lib, reduction)("v")
    ours = ds.Canvas(W, H, **RANGES).points(df, "x", "y", agg=ds.by("c", make(ds), top_categories=k))
    theirs = dsh.Canvas(W, H, **RANGES).points(df, "x", "y", agg=dsh.by("c", make(dsh)))
    kept = brute_top(df, k)
    assert list(ours.coords["c"].values) == kept + ["(other)"]
    xr.testing.assert_identical(ours.sel(c=kept), theirs.sel(c=kept))
    rest = df[~df["c"].isin(kept)].assign(c="r")
    rest_agg = dsh.Canvas(W, H, **RANGES).points(rest, "x", "y", agg=make(dsh))
    np.testing.assert_array_equal(ours.sel(c="(other)").values, rest_agg.values)


def test_arrow_parquet_and_dask_keep_the_same_categories(df, tmp_path):
    dd = pytest.importorskip("dask.dataframe")
    agg = ds.by("c", ds.count(), top_categories=8)
    local = ds.Canvas(W, H, **RANGES).points(df, "x", "y", agg=agg)
    table = pa.Table.from_pandas(df, preserve_index=False)
    xr.testing.assert_identical(ds.Canvas(W, H, **RANGES).points(table, "x", "y", agg=agg), local)
    path = tmp_path / "cats.parquet"
    df.to_parquet(path)
    xr.testing.assert_identical(ds.Canvas(W, H, **RANGES).points(str(path), "x", "y", agg=agg), local)
    ddf = dd.from_pandas(df, npartitions=4)
    xr.testing.assert_identical(ds.Canvas(W, H, **RANGES).points(ddf, "x", "y", agg=agg), local)
    # A category that is large overall but mostly off the canvas is not kept.
    assert "c007" not in list(local.coords["c"].values)


def test_more_kept_than_there_are_is_every_category(df):
    agg = ds.by("c", ds.count(), top_categories=1000)
    ours = ds.Canvas(W, H, **RANGES).points(df, "x", "y", agg=agg)
    theirs = dsh.Canvas(W, H, **RANGES).points(df, "x", "y", agg=dsh.by("c", dsh.count()))
    xr.testing.assert_identical(ours, theirs)


@pytest.mark.parametrize("bad,exc", [(0, ValueError), (-2, ValueError), (2.5, TypeError), (True, TypeError)])
def test_bad_top_categories_raise(bad, exc):
    with pytest.raises(exc):
        ds.by("c", ds.count(), top_categories=bad)
