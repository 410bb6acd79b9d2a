"""Points with a radius (``Canvas.points(..., radius=, shape=)``, which
Datashader lacks): radius 0 is Datashader's own aggregate; a radius puts
each point in every pixel whose centre lies within it (plus the pixel
Datashader puts it in), checked against a NumPy pass written from that
definition, on pandas and on Dask, for counts, values, selections and
categories."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import pointillist as ds

dsh = pytest.importorskip("datashader")

W, H = 30, 20
X_RANGE, Y_RANGE = (0.0, 3.0), (0.0, 2.0)


@pytest.fixture(scope="module")
def df():
    rng = np.random.default_rng(11)
    n = 4000
    v = rng.integers(0, 50, n).astype("float64")
    v[::13] = np.nan
    return pd.DataFrame(
        {
            "x": rng.uniform(-0.3, 3.3, n),
            "y": rng.uniform(-0.3, 2.3, n),
            "v": v,
            "u": rng.permutation(n).astype("float64"),
            "c": pd.Categorical(rng.choice(["p", "q", "r"], n)),
        }
    )


def covering(df, radius, shape):
    """Per pixel (row-major, row 0 lowest y), the rows covering it."""
    x, y = df["x"].to_numpy(), df["y"].to_numpy()
    sx, sy = W / (X_RANGE[1] - X_RANGE[0]), H / (Y_RANGE[1] - Y_RANGE[0])
    fx, fy = x * sx - X_RANGE[0] * sx, y * sy - Y_RANGE[0] * sy
    # Datashader's own pixel of each point.
    inside = (x >= X_RANGE[0]) & (x <= X_RANGE[1]) & (y >= Y_RANGE[0]) & (y <= Y_RANGE[1])
    own_i = np.minimum(np.trunc(fx), W - 1)
    own_j = np.minimum(np.trunc(fy), H - 1)
    cells = [[] for _ in range(W * H)]
    ci, cj = np.meshgrid(np.arange(W) + 0.5, np.arange(H) + 0.5)
    for k in range(len(x)):
        dx, dy = ci - fx[k], cj - fy[k]
        if shape == "circle":
            hit = dx * dx + dy * dy <= radius * radius
        else:
            hit = (np.abs(dx) <= radius) & (np.abs(dy) <= radius)
        if inside[k]:
            hit[int(own_j[k]), int(own_i[k])] = True
        for p in np.flatnonzero(hit.ravel()):
            cells[p].append(k)
    return cells


def canvas():
    return ds.Canvas(plot_width=W, plot_height=H, x_range=X_RANGE, y_range=Y_RANGE)


def reference(df, cells, name):
    v, u = df["v"].to_numpy(), df["u"].to_numpy()
    out = np.full(W * H, np.nan)
    for p, rows in enumerate(cells):
        rows = np.asarray(rows, dtype=int)
        vals = v[rows][~np.isnan(v[rows])] if len(rows) else np.array([])
        if name == "count":
            out[p] = len(rows)
        elif name == "sum":
            out[p] = vals.sum() if len(vals) else np.nan
        elif name == "mean":
            out[p] = vals.mean() if len(vals) else np.nan
        elif name == "max":
            out[p] = vals.max() if len(vals) else np.nan
        elif name == "first":
            ok = rows[~np.isnan(v[rows])] if len(rows) else rows
            out[p] = v[ok[0]] if len(ok) else np.nan
        elif name == "where_max_u":
            out[p] = rows[np.argmax(u[rows])] if len(rows) else -1
    return out.reshape(H, W)


REDUCTIONS = {
    "count": lambda: ds.count(),
    "sum": lambda: ds.sum("v"),
    "mean": lambda: ds.mean("v"),
    "max": lambda: ds.max("v"),
    "first": lambda: ds.first("v"),
    "where_max_u": lambda: ds.where(ds.max("u")),
}


@pytest.mark.parametrize("name", sorted(REDUCTIONS))
def test_radius_zero_is_datashaders_aggregate(df, name):
    agg = REDUCTIONS[name]()
    theirs = dsh.Canvas(plot_width=W, plot_height=H, x_range=X_RANGE, y_range=Y_RANGE).points(
        df, "x", "y", agg=getattr(dsh, type(agg).__name__)(*_args(agg))
    )
    ours = canvas().points(df, "x", "y", agg=agg, radius=0)
    xr.testing.assert_identical(ours, theirs)


def _args(agg):
    """Datashader's reduction of the same kind and arguments."""
    if isinstance(agg, ds.where):
        return (dsh.max("u"),)
    return () if agg.column is None else (agg.column,)


@pytest.mark.parametrize("radius,shape", [(1.0, "circle"), (2.2, "circle"), (1.5, "square")])
@pytest.mark.parametrize("name", sorted(REDUCTIONS))
def test_each_point_counts_in_every_pixel_it_covers(df, radius, shape, name):
    cells = covering(df, radius, shape)
    ours = canvas().points(df, "x", "y", agg=REDUCTIONS[name](), radius=radius, shape=shape)
    plain = canvas().points(df, "x", "y", agg=REDUCTIONS[name]())
    assert ours.dtype == plain.dtype and ours.dims == plain.dims
    xr.testing.assert_identical(ours.coords.to_dataset(), plain.coords.to_dataset())
    np.testing.assert_array_equal(ours.values, reference(df, cells, name).astype(ours.dtype))


def test_categories_keep_their_plane_and_dask_partitions_agree(df):
    dd = pytest.importorskip("dask.dataframe")
    cells = covering(df, 1.7, "circle")
    codes = df["c"].cat.codes.to_numpy()
    want = np.zeros((H, W, 3), dtype="uint32")
    for p, rows in enumerate(cells):
        for k in rows:
            want[p // W, p % W, codes[k]] += 1
    ours = canvas().points(df, "x", "y", agg=ds.count_cat("c"), radius=1.7)
    np.testing.assert_array_equal(ours.values, want)
    assert list(ours.coords["c"].values) == ["p", "q", "r"]
    ddf = dd.from_pandas(df, npartitions=3)
    for agg in (ds.count_cat("c"), ds.max("v"), ds.where(ds.max("u"))):
        local = canvas().points(df, "x", "y", agg=agg, radius=1.7)
        spread = canvas().points(ddf, "x", "y", agg=agg, radius=1.7)
        xr.testing.assert_identical(spread, local)


def test_a_summary_takes_the_radius(df):
    out = canvas().points(df, "x", "y", agg=ds.summary(n=ds.count(), m=ds.max("v")), radius=2)
    cells = covering(df, 2, "circle")
    np.testing.assert_array_equal(out["n"].values, reference(df, cells, "count"))
    np.testing.assert_array_equal(out["m"].values, reference(df, cells, "max"))


@pytest.mark.parametrize(
    "kw,exc",
    [
        (dict(radius=-1), ValueError),
        (dict(radius=float("nan")), ValueError),
        (dict(radius="big"), TypeError),
        (dict(radius=1, shape="star"), ValueError),
    ],
)
def test_bad_radius_and_shape_raise(df, kw, exc):
    with pytest.raises(exc):
        canvas().points(df, "x", "y", **kw)
