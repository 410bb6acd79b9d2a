"""A chosen aggregate dtype (``count(dtype="uint8")``, ``sum(..., dtype="float32")``,
which Datashader lacks: its #412): the aggregate is Datashader's own,
saturated (counts) or rounded (floats) to that dtype, with Datashader's
dims and coords, on pandas, Arrow and Dask, in categories and summaries,
and it shades as the wider aggregate does."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import xarray as xr

import pointillist as ds

dsh = pytest.importorskip("datashader")

W, H = 12, 9
X_RANGE, Y_RANGE = (0.0, 1.0), (0.0, 1.0)


@pytest.fixture(scope="module")
def df():
    rng = np.random.default_rng(412)
    n = 200_000
    v = rng.normal(0, 1, n) * 10.0 ** rng.integers(-3, 6, n)
    v[::11] = np.nan
    return pd.DataFrame(
        {
            # Denser towards x = 0: some pixels pass 255 points, some do not.
            "x": rng.uniform(0, 1, n) * rng.uniform(0, 1, n) * 1.1 - 0.05,
            "y": rng.uniform(-0.05, 1.05, n),
            "v": v,
            "c": pd.Categorical(rng.choice(["p", "q", "r"], n)),
        }
    )


def canvas(lib=ds, w=W, h=H):
    return lib.Canvas(plot_width=w, plot_height=h, x_range=X_RANGE, y_range=Y_RANGE)


def saturated(agg, dtype):
    top = np.iinfo(dtype).max
    return agg.copy(data=np.minimum(agg.values, top).astype(dtype))


@pytest.mark.parametrize("dtype", ["uint8", "uint16", np.uint8])
@pytest.mark.parametrize(
    "make",
    [
        lambda lib, **kw: lib.count(**kw),
        lambda lib, **kw: lib.count("v", **kw),
        lambda lib, **kw: lib.by("c", lib.count(**kw)),
    ],
    ids=["count", "count_v", "by_c"],
)
def test_narrow_counts_are_datashaders_counts_saturated(df, make, dtype):
    theirs = canvas(dsh).points(df, "x", "y", agg=make(dsh))
    assert int(theirs.values.max()) > 255, "the data saturate uint8"
    ours = canvas().points(df, "x", "y", agg=make(ds, dtype=dtype))
    assert ours.dtype == np.dtype(dtype)
    xr.testing.assert_identical(ours, saturated(theirs, np.dtype(dtype)))


def test_uint16_saturates_too(df):
    theirs = canvas(dsh, 1, 1).points(df, "x", "y", agg=dsh.count())
    ours = canvas(ds, 1, 1).points(df, "x", "y", agg=ds.count(dtype="uint16"))
    assert int(theirs.values.max()) > 65_535
    xr.testing.assert_identical(ours, saturated(theirs, np.uint16))


@pytest.mark.parametrize("name", ["min", "max"])
def test_float32_minima_and_maxima_are_datashaders_rounded(df, name):
    theirs = canvas(dsh).points(df, "x", "y", agg=getattr(dsh, name)("v"))
    ours = canvas().points(df, "x", "y", agg=getattr(ds, name)("v", dtype="float32"))
    xr.testing.assert_identical(ours, theirs.astype("float32"))


def test_float32_sums_are_close_to_datashaders(df):
    theirs = canvas(dsh).points(df, "x", "y", agg=dsh.sum("v"))
    ours = canvas().points(df, "x", "y", agg=ds.sum("v", dtype="float32"))
    assert ours.dtype == np.float32 and ours.dims == theirs.dims
    xr.testing.assert_identical(ours.coords.to_dataset(), theirs.coords.to_dataset())
    assert (np.isnan(ours.values) == np.isnan(theirs.values)).all()
    # Rounded after every add: within float32's precision of the largest
    # magnitude summed into the pixel.
    scale = canvas(dsh).points(df.assign(v=df["v"].abs()), "x", "y", agg=dsh.sum("v"))
    ok = np.isnan(theirs.values) | (
        np.abs(ours.values - theirs.values) <= 1e-5 * scale.values + 1e-30
    )
    assert ok.all()


def test_arrow_dask_and_summary_give_the_same_narrow_aggregates(df):
    dd = pytest.importorskip("dask.dataframe")
    agg = ds.by("c", ds.count(dtype="uint8"))
    local = canvas().points(df, "x", "y", agg=agg)
    table = pa.Table.from_pandas(df, preserve_index=False)
    xr.testing.assert_identical(canvas().points(table, "x", "y", agg=agg), local)
    ddf = dd.from_pandas(df, npartitions=4)
    xr.testing.assert_identical(canvas().points(ddf, "x", "y", agg=agg), local)
    # Partials of uint8 counts saturate exactly however the rows split.
    theirs = canvas(dsh).points(df, "x", "y", agg=dsh.by("c", dsh.count()))
    xr.testing.assert_identical(local, saturated(theirs, np.uint8))
    out = canvas().points(
        df, "x", "y", agg=ds.summary(n=ds.count(dtype="uint16"), m=ds.max("v", dtype="float32"))
    )
    assert out["n"].dtype == np.uint16 and out["m"].dtype == np.float32
    xr.testing.assert_identical(
        out["m"], canvas().points(df, "x", "y", agg=ds.max("v", dtype="float32")).rename("m")
    )


@pytest.mark.parametrize("how", ["linear", "log", "eq_hist", "cbrt"])
def test_narrow_counts_shade_as_the_uint32_counts_they_hold(df, how):
    wide = canvas().points(df, "x", "y", agg=ds.count())
    narrow = canvas().points(df, "x", "y", agg=ds.count(dtype="uint16"))
    np.testing.assert_array_equal(wide.values, narrow.values)  # nothing saturates
    np.testing.assert_array_equal(
        ds.tf.shade(narrow, how=how).values, ds.tf.shade(wide, how=how).values
    )
    cats = canvas().points(df, "x", "y", agg=ds.by("c", ds.count(dtype="uint16")))
    wide_cats = canvas().points(df, "x", "y", agg=ds.by("c", ds.count()))
    np.testing.assert_array_equal(
        ds.tf.shade(cats, how=how).values, ds.tf.shade(wide_cats, how=how).values
    )


@pytest.mark.parametrize(
    "make",
    [
        lambda: ds.count(dtype="float32"),
        lambda: ds.count(dtype="int8"),
        lambda: ds.sum("v", dtype="uint8"),
        lambda: ds.max("v", dtype="float16"),
        lambda: ds.count(dtype="not a dtype"),
    ],
)
def test_dtypes_a_reduction_cannot_be_held_in_raise(make):
    with pytest.raises(ValueError, match="can be held in|dtype"):
        make()


def test_reductions_with_another_dtype_are_other_reductions():
    assert ds.count(dtype="uint8") == ds.count(dtype=np.uint8)
    assert ds.count(dtype="uint8") != ds.count()
    assert len({ds.max("v"), ds.max("v", dtype="float32"), ds.max("v", dtype="float32")}) == 2
