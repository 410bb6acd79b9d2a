"""Time columns as axes (Datashader refuses them: "x must be real", its
#270): a timestamp or date axis bins each point where Datashader bins the
same column as its integer count of units, ranges may be given as times,
and the coordinate and range attrs come back as ``datetime64[ns]``; on
pandas, Arrow, Parquet and Dask alike."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import xarray as xr

import pointillist as ds

dsh = pytest.importorskip("datashader")

NS = {"s": 10**9, "ms": 10**6, "us": 10**3, "ns": 1}


@pytest.fixture(scope="module")
def df():
    rng = np.random.default_rng(270)
    n = 5000
    t = pd.Timestamp("2024-03-01") + pd.to_timedelta(rng.uniform(0, 90, n), unit="D")
    return pd.DataFrame({"t": t, "y": rng.normal(size=n), "v": rng.uniform(0, 1, n)})


def as_counts(df, unit):
    """The frame with ``t`` as its integer count of ``unit`` (what the core reads)."""
    t = df["t"].astype(f"datetime64[{unit}]")
    return df.assign(t=t.astype("int64").astype("float64")), t


def times(values, unit):
    return (np.asarray(values, dtype="f8") * NS[unit]).round().astype("i8").view("M8[ns]")


@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns"])
@pytest.mark.parametrize("ranged", [False, True])
def test_a_time_axis_bins_as_datashader_bins_its_unit_counts(df, unit, ranged):
    counts, t = as_counts(df, unit)
    frame = df.assign(t=t)
    lo, hi = pd.Timestamp("2024-03-20"), pd.Timestamp("2024-05-02 06:30")
    num_range = None
    if ranged:
        num_range = tuple(pd.Timestamp(v).value / NS[unit] for v in (lo, hi))
    theirs = dsh.Canvas(40, 10, x_range=num_range).points(counts, "t", "y", agg=dsh.mean("v"))
    ours = ds.Canvas(40, 10, x_range=(lo, hi) if ranged else None).points(
        frame, "t", "y", agg=ds.mean("v")
    )
    np.testing.assert_array_equal(ours.values, theirs.values)
    assert ours.dims == theirs.dims
    assert ours.coords["t"].dtype == np.dtype("M8[ns]")
    np.testing.assert_array_equal(ours.coords["t"].values, times(theirs.coords["t"].values, unit))
    np.testing.assert_array_equal(ours.coords["y"].values, theirs.coords["y"].values)
    assert ours.attrs["x_range"] == tuple(times(theirs.attrs["x_range"], unit))


def test_ranges_take_times_strings_datetimes_and_unit_counts(df):
    t = df["t"].astype("datetime64[us]")
    frame = df.assign(t=t)
    lo, hi = "2024-04-01", "2024-04-15T12:00"
    want = ds.Canvas(20, 8, x_range=(pd.Timestamp(lo), pd.Timestamp(hi))).points(frame, "t", "y")
    for given in [
        (lo, hi),
        (np.datetime64(lo), np.datetime64(hi)),
        (pd.Timestamp(lo).to_pydatetime(), pd.Timestamp(hi).to_pydatetime()),
        (pd.Timestamp(lo).value / 1000, pd.Timestamp(hi).value / 1000),
    ]:
        xr.testing.assert_identical(ds.Canvas(20, 8, x_range=given).points(frame, "t", "y"), want)
    assert int(want.sum()) == int(frame["t"].between(pd.Timestamp(lo), pd.Timestamp(hi)).sum())


def test_arrow_parquet_dask_and_both_axes_agree(df, tmp_path):
    dd = pytest.importorskip("dask.dataframe")
    frame = df.assign(t=df["t"].astype("datetime64[ms]"), u=df["t"] + pd.Timedelta("1D"))
    agg = ds.by("k", ds.count())
    frame["k"] = pd.Categorical(np.where(frame["v"] > 0.5, "hi", "lo"))
    local = ds.Canvas(12, 9).points(frame, "t", "u", agg=agg)
    assert local.coords["u"].dtype == np.dtype("M8[ns]")
    table = pa.Table.from_pandas(frame, preserve_index=False)
    xr.testing.assert_identical(ds.Canvas(12, 9).points(table, "t", "u", agg=agg), local)
    path = tmp_path / "times.parquet"
    frame.to_parquet(path)
    xr.testing.assert_identical(ds.Canvas(12, 9).points(str(path), "t", "u", agg=agg), local)
    ddf = dd.from_pandas(frame, npartitions=3)
    xr.testing.assert_identical(ds.Canvas(12, 9).points(ddf, "t", "u", agg=agg), local)


def test_dates_and_time_zones(df):
    # An Arrow date32 column bins by days; a zoned timestamp by UTC.
    days = pa.table({"d": pa.array(df["t"].dt.date, pa.date32()), "y": df["y"]})
    ours = ds.Canvas(30, 5).points(days, "d", "y")
    day_counts = pd.DataFrame(
        {"d": (df["t"].dt.normalize().astype("datetime64[s]").astype("int64") // 86400).astype("f8"),
         "y": df["y"]}
    )
    theirs = dsh.Canvas(30, 5).points(day_counts, "d", "y")
    np.testing.assert_array_equal(ours.values, theirs.values)
    np.testing.assert_array_equal(
        ours.coords["d"].values,
        (theirs.coords["d"].values * 86400e9).round().astype("i8").view("M8[ns]"),
    )
    zoned = df.assign(t=df["t"].dt.tz_localize("UTC").dt.tz_convert("Europe/Paris"))
    naive_utc = df.assign(t=zoned["t"].dt.tz_convert("UTC").dt.tz_localize(None))
    xr.testing.assert_identical(
        ds.Canvas(20, 5).points(zoned, "t", "y"), ds.Canvas(20, 5).points(naive_utc, "t", "y")
    )


def test_time_values_are_refused_as_datashader_refuses_them(df):
    with pytest.raises(ValueError):
        ds.Canvas(10, 10).points(df.assign(x=df["v"]), "x", "y", agg=ds.max("t"))
    with pytest.raises(ValueError, match="neither a number nor a time"):
        ds.Canvas(10, 10, x_range=("soon", "later")).points(df, "t", "y")
