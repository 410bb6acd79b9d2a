"""Canvas.points against Datashader 0.19.1 itself: the same DataArray
(dims, coords and their dtypes, attrs, dtype, values; floats within a
relative 1e-9) for the same call, on pandas, pyarrow, polars and Parquet
sources, with ranges from the data and given."""

from __future__ import annotations

import threading
import time

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import xarray as xr

import pointillist as ds

dsh = pytest.importorskip("datashader")


def assert_same(ours, theirs):
    """Datashader's result, exactly; float values within 1e-9 relative."""
    assert type(ours) is xr.DataArray
    assert ours.dtype == theirs.dtype, (ours.dtype, theirs.dtype)
    assert ours.dims == theirs.dims
    assert ours.name == theirs.name
    if ours.dtype.kind == "f":
        np.testing.assert_allclose(
            ours.values, theirs.values, rtol=1e-9, atol=0, equal_nan=True
        )
        xr.testing.assert_identical(ours.copy(data=theirs.values), theirs)
    else:
        xr.testing.assert_identical(ours, theirs)
    for k in theirs.coords:
        assert ours.coords[k].dtype == theirs.coords[k].dtype, k
    assert ours.attrs == theirs.attrs
    for k in theirs.attrs:
        assert type(ours.attrs[k]) is type(theirs.attrs[k]), k
    assert ours.values.flags.c_contiguous


@pytest.fixture(scope="module")
def df():
    rng = np.random.default_rng(1)
    n = 20_000
    frame = pd.DataFrame(
        {
            "x": rng.normal(size=n),
            "y": rng.normal(size=n) * 3 + 1,
            "v": rng.normal(size=n),
            "f32": rng.normal(size=n).astype("float32"),
            "i": rng.integers(-5, 100, size=n),
            # Categories in an order of their own, one of them unused.
            "cat": pd.Categorical(
                rng.choice(["b", "a", "d", "c"], size=n),
                categories=["d", "b", "a", "c", "unused"],
            ),
            "icat": pd.Categorical(rng.choice([30, 10, 20], size=n), categories=[30, 10, 20]),
            "other": ["not needed"] * n,
        }
    )
    frame.loc[::7, "v"] = np.nan
    frame.loc[::11, "x"] = np.nan
    frame.loc[::13, "cat"] = None
    return frame


REDUCTIONS = {
    "count": lambda m: m.count(),
    "count(v)": lambda m: m.count("v"),
    "any": lambda m: m.any(),
    "any(v)": lambda m: m.any("v"),
    "sum": lambda m: m.sum("v"),
    "sum(i)": lambda m: m.sum("i"),
    "mean": lambda m: m.mean("v"),
    "mean(f32)": lambda m: m.mean("f32"),
    "min": lambda m: m.min("v"),
    "max": lambda m: m.max("v"),
    "max(i)": lambda m: m.max("i"),
    "var": lambda m: m.var("v"),
    "std": lambda m: m.std("v"),
    "std(f32)": lambda m: m.std("f32"),
    "first": lambda m: m.first("v"),
    "last": lambda m: m.last("v"),
    "count_cat": lambda m: m.count_cat("cat"),
    "count_cat(icat)": lambda m: m.count_cat("icat"),
    "by(cat)": lambda m: m.by("cat"),
    "by(cat, sum)": lambda m: m.by("cat", m.sum("v")),
    "by(cat, mean)": lambda m: m.by("cat", m.mean("v")),
    "by(cat, max)": lambda m: m.by("cat", m.max("v")),
    "by(cat, std)": lambda m: m.by("cat", m.std("v")),
    "by(cat, first)": lambda m: m.by("cat", m.first("v")),
    "by(cat, any)": lambda m: m.by("cat", m.any()),
    "by(icat, last)": lambda m: m.by("icat", m.last("v")),
}

RANGES = {
    "auto": dict(),
    "given": dict(x_range=(-1, 2), y_range=(-2.5, 4.0)),
    "x-only": dict(x_range=(-0.5, 0.5)),
}

SOURCES = {
    "pandas": lambda frame: frame,
    "pyarrow": lambda frame: pa.Table.from_pandas(frame, preserve_index=False),
    "pyarrow-chunked": lambda frame: pa.concat_tables(
        [
            pa.Table.from_pandas(frame.iloc[:7000], preserve_index=False),
            pa.Table.from_pandas(frame.iloc[7000:], preserve_index=False),
        ]
    ),
}


@pytest.mark.parametrize("source", list(SOURCES))
@pytest.mark.parametrize("ranges", list(RANGES))
@pytest.mark.parametrize("reduction", list(REDUCTIONS))
def test_points_match_datashader(df, source, ranges, reduction):
    make = REDUCTIONS[reduction]
    ours = ds.Canvas(37, 23, **RANGES[ranges]).points(
        SOURCES[source](df), "x", "y", agg=make(ds)
    )
    theirs = dsh.Canvas(37, 23, **RANGES[ranges]).points(df, "x", "y", agg=make(dsh))
    assert_same(ours, theirs)


def test_default_canvas_and_agg(df):
    assert_same(ds.Canvas().points(df, "x", "y"), dsh.Canvas().points(df, "x", "y"))


def test_column_names_become_dims(df):
    frame = df.rename(columns={"x": "lon", "y": "lat", "cat": "kind"})
    ours = ds.Canvas(20, 10).points(frame, "lon", "lat", ds.count_cat("kind"))
    theirs = dsh.Canvas(20, 10).points(frame, "lon", "lat", dsh.count_cat("kind"))
    assert ours.dims == ("lat", "lon", "kind")
    assert_same(ours, theirs)


@pytest.mark.parametrize("axes", [("log", "linear"), ("linear", "log"), ("log", "log")])
def test_log_axes(df, axes):
    frame = df.assign(x=np.abs(df.x) + 0.01, y=np.abs(df.y) + 0.01)
    kw = dict(x_axis_type=axes[0], y_axis_type=axes[1])
    assert_same(
        ds.Canvas(30, 20, **kw).points(frame, "x", "y", ds.mean("v")),
        dsh.Canvas(30, 20, **kw).points(frame, "x", "y", dsh.mean("v")),
    )
    kw.update(x_range=(0.1, 3), y_range=(0.05, 10))
    assert_same(
        ds.Canvas(30, 20, **kw).points(frame, "x", "y"),
        dsh.Canvas(30, 20, **kw).points(frame, "x", "y"),
    )


def test_log_axis_needs_positive_data(df):
    with pytest.raises(ValueError, match="Range values must be >0 for logarithmic axes"):
        dsh.Canvas(5, 5, x_axis_type="log").points(df, "x", "y")
    with pytest.raises(ValueError, match="Range values must be >0 for logarithmic axes"):
        ds.Canvas(5, 5, x_axis_type="log").points(df, "x", "y")


def test_integer_and_float32_coordinates():
    rng = np.random.default_rng(2)
    frame = pd.DataFrame(
        {
            "x": rng.integers(0, 50, size=3000),
            "y": rng.normal(size=3000).astype("float32"),
        }
    )
    assert_same(ds.Canvas(13, 7).points(frame, "x", "y"), dsh.Canvas(13, 7).points(frame, "x", "y"))


@pytest.mark.parametrize(
    "frame",
    [
        pd.DataFrame({"x": [1.0, 1.0], "y": [2.0, 2.0]}),  # one value: (v-1, v+1)
        pd.DataFrame({"x": [np.nan, np.nan], "y": [1.0, 2.0]}),  # no finite x: (-1, 1)
        pd.DataFrame({"x": np.array([], dtype="f8"), "y": np.array([], dtype="f8")}),
        # Datashader keeps infinities in the bounds, so they become (-1, 1).
        pd.DataFrame({"x": [0.0, 1.0, np.inf, 0.5], "y": [0.0, -np.inf, 2.0, 0.5]}),
    ],
    ids=["single-value", "all-nan", "empty", "infinite"],
)
@pytest.mark.parametrize("source", list(SOURCES))
def test_degenerate_ranges(frame, source):
    assert_same(
        ds.Canvas(5, 4).points(SOURCES[source](frame), "x", "y"),
        dsh.Canvas(5, 4).points(frame, "x", "y"),
    )


def test_arrow_nulls_are_dropped():
    table = pa.table({"x": pa.array([1, None, 3, 4], pa.int32()), "y": [0.5, 0.25, None, 0.0]})
    theirs = dsh.Canvas(4, 3).points(table.to_pandas(), "x", "y", dsh.count())
    assert_same(ds.Canvas(4, 3).points(table, "x", "y", ds.count()), theirs)


def test_polars(df):
    pl = pytest.importorskip("polars")
    frame = pl.from_pandas(df[["x", "y", "v", "cat"]])
    for make in (REDUCTIONS["mean"], REDUCTIONS["count_cat"]):
        ours = ds.Canvas(25, 15).points(frame, "x", "y", make(ds))
        theirs = dsh.Canvas(25, 15).points(frame.to_pandas(), "x", "y", make(dsh))
        assert_same(ours, theirs)


def test_record_batch_reader_streams(df):
    table = pa.Table.from_pandas(df[["x", "y", "v"]], preserve_index=False)
    reader = pa.RecordBatchReader.from_batches(table.schema, table.to_batches(max_chunksize=3000))
    kw = dict(x_range=(-2, 2), y_range=(-5, 7))
    assert_same(
        ds.Canvas(31, 17, **kw).points(reader, "x", "y", ds.sum("v")),
        dsh.Canvas(31, 17, **kw).points(df, "x", "y", dsh.sum("v")),
    )


def test_record_batch(df):
    batch = pa.RecordBatch.from_pandas(df[["x", "y", "v"]], preserve_index=False)
    assert_same(
        ds.Canvas(31, 17).points(batch, "x", "y", ds.max("v")),
        dsh.Canvas(31, 17).points(df, "x", "y", dsh.max("v")),
    )


def test_parquet_path(df, tmp_path):
    path = tmp_path / "points.parquet"
    pq.write_table(
        pa.Table.from_pandas(df[["x", "y", "v", "i"]], preserve_index=False),
        path,
        row_group_size=4096,
    )
    for make in (REDUCTIONS["count"], REDUCTIONS["mean"], REDUCTIONS["last"]):
        theirs = dsh.Canvas(29, 19).points(df, "x", "y", make(dsh))
        assert_same(ds.Canvas(29, 19).points(str(path), "x", "y", make(ds)), theirs)
        assert_same(ds.Canvas(29, 19).points(path, "x", "y", make(ds)), theirs)
        assert_same(ds.Canvas(29, 19).points([path], "x", "y", make(ds)), theirs)


def test_parquet_and_stream_categories_are_read_parquets(df, tmp_path):
    """A dictionary column of a Parquet file (or of a stream) gets the
    categories ``pd.read_parquet`` (``read_pandas``) gives it: the
    dictionary's values in order of appearance, not sorted."""
    path = tmp_path / "cats.parquet"
    df[["x", "y", "v", "cat"]].to_parquet(path, row_group_size=3000)
    read = pd.read_parquet(path)
    assert list(read["cat"].cat.categories) != sorted(read["cat"].cat.categories)
    for make in (REDUCTIONS["count_cat"], REDUCTIONS["by(cat, max)"]):
        theirs = dsh.Canvas(29, 19).points(read, "x", "y", make(dsh))
        assert_same(ds.Canvas(29, 19).points(path, "x", "y", make(ds)), theirs)
        reader = pq.ParquetFile(path).iter_batches(batch_size=2500)
        stream = pa.RecordBatchReader.from_batches(pq.read_schema(path), reader)
        assert_same(ds.Canvas(29, 19).points(stream, "x", "y", make(ds)), theirs)


def test_arrow_string_categories_are_sorted():
    # Datashader needs a pandas categorical; a plain Arrow string column
    # gets the core's categories: the sorted distinct values.
    table = pa.table({"x": [0.0, 1.0, 2.0], "y": [0.0, 1.0, 2.0], "c": ["b", "a", "b"]})
    out = ds.Canvas(3, 3).points(table, "x", "y", ds.count_cat("c"))
    assert list(out.coords["c"].values) == ["a", "b"]
    assert out.values[:, :, 1].sum() == 2


def test_pandas_needs_categorical_like_datashader(df):
    with pytest.raises(ValueError, match="input must be categorical"):
        ds.Canvas(5, 5).points(df.assign(s=df.cat.astype(str)), "x", "y", ds.count_cat("s"))


def test_missing_column(df):
    with pytest.raises(ValueError, match="specified column not found"):
        ds.Canvas(5, 5).points(df, "x", "nope")


def test_gil_is_released():
    rng = np.random.default_rng(3)
    n = 20_000_000
    table = pa.table({"x": rng.random(n), "y": rng.random(n), "v": rng.random(n)})
    canvas = ds.Canvas(1000, 1000, x_range=(0, 1), y_range=(0, 1))
    canvas.points(table, "x", "y", ds.var("v"))  # warm up
    stamps = []
    done = threading.Event()

    def tick():
        while not done.is_set():
            stamps.append(time.perf_counter())
            time.sleep(0.001)

    worker = threading.Thread(target=tick)
    worker.start()
    time.sleep(0.02)
    t0 = time.perf_counter()
    canvas.points(table, "x", "y", ds.var("v"))
    t1 = time.perf_counter()
    done.set()
    worker.join()
    inside = [t for t in stamps if t0 <= t <= t1]
    gaps = np.diff([t0, *inside, t1])
    # Holding the GIL would stall the ticker for the whole call.
    assert gaps.max() < max(0.5 * (t1 - t0), 0.05), (gaps.max(), t1 - t0)


def test_not_implemented_is_named(df):
    with pytest.raises(NotImplementedError, match="mode"):
        ds.mode("v")
    with pytest.raises(NotImplementedError, match="lookup"):
        ds.Canvas().line(df, "x", "y", agg=ds.where(ds.max("v"), "f32"))
    with pytest.raises(NotImplementedError, match="antialiased lines"):
        ds.Canvas().line(df, "x", "y", agg=ds.std("v"), antialias=True)
    with pytest.raises(NotImplementedError, match="geometry"):
        ds.Canvas().points(df, geometry="g")
    with pytest.raises(NotImplementedError, match="dask|xarray"):
        ds.Canvas().points(xr.Dataset({"x": ("i", [1.0])}), "x", "x")


def test_lnglat_to_meters():
    from datashader.utils import lnglat_to_meters as theirs

    from pointillist.utils import lnglat_to_meters

    lon = np.array([-74.0, 0.0, 179.9])
    lat = np.array([40.71, 0.0, -85.0])
    for a, b in zip(lnglat_to_meters(lon, lat), theirs(lon, lat)):
        np.testing.assert_array_equal(a, b)
    assert lnglat_to_meters(-74, 40.71) == theirs(-74, 40.71)


def test_package_does_not_import_datashader():
    import subprocess
    import sys

    code = (
        "import sys, pointillist, pointillist.transfer_functions, pointillist.utils;"
        "import pandas as pd;"
        "pointillist.Canvas(4, 4).points(pd.DataFrame({'x': [0.0, 1.0], 'y': [0.0, 1.0]}), 'x', 'y');"
        "assert 'datashader' not in sys.modules, 'datashader imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
