"""Canvas.area (axis=0) against Datashader 0.19.1 itself: the region
under one line down the rows, filled to y = 0 or to a y_stack line, for
every reduction, on pandas, Arrow and Parquet sources, with NaN breaks,
lines crossing zero and their stack, and clipped ranges."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import pointillist as ds
from test_line_layouts import cases
from test_lines import REDUCTIONS, chunked
from test_points import assert_same

dsh = pytest.importorskip("datashader")


@pytest.fixture(scope="module")
def series():
    """1,500 rows: a time column (mostly increasing, with a step back),
    a random walk crossing zero, a stack line it crosses, NaN breaks in
    each, values and categories."""
    rng = np.random.default_rng(13)
    n = 1_500
    t = np.arange(n, dtype="f8") / 10.0
    t[700:705] -= 3.0  # a step back in x
    y = np.cumsum(rng.normal(size=n)) * 0.4
    low = y - np.abs(rng.normal(size=n)) * 2 + rng.normal(size=n)
    y[[100, 101, 600]] = np.nan
    low[[300, 1200]] = np.nan
    t[[900]] = np.nan
    frame = pd.DataFrame(
        {
            "t": t,
            "y": y,
            "low": low,
            "v": rng.gamma(2.0, size=n),
            "f32": rng.normal(size=n).astype("float32"),
            "i": rng.integers(-5, 100, size=n),
            "cat": pd.Categorical(rng.choice(["b", "a", "c"], size=n), categories=["c", "a", "b"]),
        }
    )
    frame.loc[::7, "v"] = np.nan
    return frame


RANGES = {
    "auto": {},
    # Cuts the area in x and in y (above, below and through zero).
    "clipped": dict(x_range=(20.0, 110.0), y_range=(-4.0, 3.0)),
}


@pytest.mark.parametrize("stack", [None, "low"])
@pytest.mark.parametrize("source,reduction", cases(list(REDUCTIONS)))
@pytest.mark.parametrize("ranges", list(RANGES))
def test_areas_match_datashader(series, stack, source, ranges, reduction, tmp_path):
    make = REDUCTIONS[reduction]
    if source == "parquet":
        src = str(tmp_path / "series.parquet")
        pq.write_table(pa.Table.from_pandas(series, preserve_index=False), src, row_group_size=200)
    elif source == "pyarrow-batches":
        src = chunked(series, 97)
    else:
        src = series
    ours = ds.Canvas(61, 43, **RANGES[ranges]).area(src, "t", "y", agg=make(ds), y_stack=stack)
    theirs = dsh.Canvas(61, 43, **RANGES[ranges]).area(series, "t", "y", agg=make(dsh), y_stack=stack)
    if reduction == "count_cat" and source == "parquet":
        ours = ours.sel(cat=list(theirs.coords["cat"].values))
        np.testing.assert_array_equal(ours.values, theirs.values)
    else:
        assert_same(ours, theirs)


MULTI = {
    "to-zero": ("t", ["y", "low"], None),
    "stacked": (["t", "t"], ["y", "low"], ["low", "y"]),
}


@pytest.mark.parametrize("layout", list(MULTI))
@pytest.mark.parametrize("source", ["pandas", "parquet"])
@pytest.mark.parametrize("reduction", ["count", "any", "sum", "max(f32)", "first", "last", "count_cat"])
def test_several_areas_down_the_rows(series, layout, source, reduction, tmp_path):
    x, y, stack = MULTI[layout]
    make = REDUCTIONS[reduction]
    src = series
    if source == "parquet":
        src = str(tmp_path / "series.parquet")
        pq.write_table(pa.Table.from_pandas(series, preserve_index=False), src, row_group_size=300)
    ours = ds.Canvas(53, 37).area(src, x, y, agg=make(ds), y_stack=stack)
    theirs = dsh.Canvas(53, 37).area(series, x, y, agg=make(dsh), y_stack=stack)
    if reduction == "count_cat" and source == "parquet":
        ours = ours.sel(cat=list(theirs.coords["cat"].values))
        np.testing.assert_array_equal(ours.values, theirs.values)
    else:
        assert_same(ours, theirs)


def test_default_reduction_and_layouts_not_implemented(series):
    ours = ds.Canvas(30, 20).area(series, "t", "y")
    theirs = dsh.Canvas(30, 20).area(series, "t", "y")
    assert_same(ours, theirs)
    with pytest.raises(ValueError, match="do not match"):
        ds.Canvas(30, 20).area(series, ["t", "t"], ["y", "low", "y"])
    # Plain columns where ragged lists are wanted name the column.
    with pytest.raises(ValueError, match="list of numbers"):
        ds.Canvas(30, 20).area(series, "t", "y", axis=1)
    with pytest.raises(ValueError, match="column not found"):
        ds.Canvas(30, 20).area(series, "t", "nope")


@pytest.fixture(scope="module")
def wide_rows():
    """300 rows of 12 samples (columns s0..s11) and a lower band
    (l0..l11) they cross in places, NaN samples, values and categories."""
    rng = np.random.default_rng(29)
    n, k = 300, 12
    s = np.cumsum(rng.normal(size=(n, k)), axis=1)
    low = s - np.abs(rng.normal(size=(n, k))) * 2 + rng.normal(size=(n, k)) * 0.5
    s[::11, 4] = np.nan
    low[::13, 7] = np.nan
    frame = pd.DataFrame({f"s{j}": s[:, j] for j in range(k)})
    for j in range(k):
        frame[f"l{j}"] = low[:, j]
    for j in range(k):
        frame[f"x{j}"] = j + rng.normal(size=n) * 0.2
    frame["v"] = rng.gamma(2.0, size=n)
    frame.loc[::9, "v"] = np.nan
    frame["cat"] = pd.Categorical(rng.choice(["b", "a", "c"], size=n))
    return frame


def row_area_layouts():
    s = [f"s{j}" for j in range(12)]
    low = [f"l{j}" for j in range(12)]
    xs = [f"x{j}" for j in range(12)]
    t = np.arange(12, dtype="f8") * 0.5
    return {
        "lists": (xs, s, None),
        "lists-stacked": (xs, s, low),
        "x-array": (t, s, None),
        "x-array-stacked": (t, s, low),
        "y-array": (xs, np.sin(t), None),
        "y-array-stacked": (xs, np.sin(t), np.sin(t) - 1.5),
    }


@pytest.mark.parametrize("layout", list(row_area_layouts()))
@pytest.mark.parametrize(
    "source,reduction", cases(["count", "sum", "last", "count_cat"], ("pandas", "parquet"))
)
@pytest.mark.parametrize("ranges", ["auto", "clipped"])
def test_an_area_per_row_matches_datashader(wide_rows, layout, source, ranges, reduction, tmp_path):
    x, y, stack = row_area_layouts()[layout]
    make = REDUCTIONS[reduction]
    src = wide_rows
    if source == "parquet":
        src = str(tmp_path / "rows.parquet")
        pq.write_table(pa.Table.from_pandas(wide_rows, preserve_index=False), src, row_group_size=64)
    rng = dict(x_range=(1.0, 4.5), y_range=(-3.0, 2.0)) if ranges == "clipped" else {}
    ours = ds.Canvas(47, 39, **rng).area(src, x, y, agg=make(ds), axis=1, y_stack=stack)
    theirs = dsh.Canvas(47, 39, **rng).area(wide_rows, x, y, agg=make(dsh), axis=1, y_stack=stack)
    if reduction == "count_cat" and source == "parquet":
        ours = ours.sel(cat=list(theirs.coords["cat"].values))
        np.testing.assert_array_equal(ours.values, theirs.values)
    else:
        assert_same(ours, theirs)


@pytest.fixture(scope="module")
def ragged_rows():
    """250 rows of ragged lists: x, y and a lower line, 0 to 14 vertices,
    the lists of a row sometimes of different lengths (the shortest
    counts), NaN vertices in each, values and categories."""
    rng = np.random.default_rng(31)
    n = 250
    xs, ys, lows = [], [], []
    for i in range(n):
        k = int(rng.integers(0, 15))
        x = np.sort(rng.normal(size=k) * 3)
        y = np.cumsum(rng.normal(size=k))
        low = y - np.abs(rng.normal(size=k)) * 2
        if i % 17 == 3 and k > 2:
            x[1] = np.nan
        if i % 19 == 5 and k > 3:
            y[2] = np.nan
        if i % 23 == 7 and k > 4:
            low[3] = np.nan
        if i % 29 == 2 and k > 1:
            low = low[:-1]
        xs.append(x)
        ys.append(y)
        lows.append(low)
    v = rng.gamma(2.0, size=n)
    v[::9] = np.nan
    cat = pd.Categorical(rng.choice(["b", "a", "c"], size=n))
    return xs, ys, lows, v, cat


def ragged_area_frame(xs, ys, lows, v, cat):
    return pd.DataFrame(
        {
            "xs": pd.array(xs, dtype="Ragged[float64]"),
            "ys": pd.array(ys, dtype="Ragged[float64]"),
            "lows": pd.array(lows, dtype="Ragged[float64]"),
            "v": v,
            "cat": cat,
        }
    )


def ragged_area_table(xs, ys, lows, v, cat):
    lists = lambda vs: pa.array([list(a) for a in vs], type=pa.list_(pa.float64()))  # noqa: E731
    return pa.table(
        {
            "xs": lists(xs),
            "ys": lists(ys),
            "lows": lists(lows),
            "v": pa.array(v),
            "cat": pa.DictionaryArray.from_arrays(
                pa.array(cat.codes.astype("int32")), pa.array(list(cat.categories))
            ),
        }
    )


@pytest.mark.parametrize("stack", [None, "lows"])
@pytest.mark.parametrize("source", ["pandas-ragged", "arrow-batches", "parquet"])
@pytest.mark.parametrize("ranges", ["auto", "clipped"])
@pytest.mark.parametrize("reduction", ["count", "any", "sum", "min", "std", "first", "last", "count_cat"])
def test_an_area_per_row_through_ragged_lists(ragged_rows, stack, source, ranges, reduction, tmp_path):
    make = REDUCTIONS[reduction]
    frame = ragged_area_frame(*ragged_rows)
    if source == "pandas-ragged":
        src = frame
    elif source == "parquet":
        src = str(tmp_path / "ragged.parquet")
        pq.write_table(ragged_area_table(*ragged_rows), src, row_group_size=70)
    else:
        table = ragged_area_table(*ragged_rows)
        src = pa.Table.from_batches(table.to_batches(max_chunksize=64))
    rng = dict(x_range=(-4.0, 3.0), y_range=(-3.0, 2.5)) if ranges == "clipped" else {}
    ours = ds.Canvas(41, 37, **rng).area(src, "xs", "ys", agg=make(ds), axis=1, y_stack=stack)
    theirs = dsh.Canvas(41, 37, **rng).area(frame, "xs", "ys", agg=make(dsh), axis=1, y_stack=stack)
    if reduction == "count_cat" and source != "pandas-ragged":
        ours = ours.sel(cat=list(theirs.coords["cat"].values))
        np.testing.assert_array_equal(ours.values, theirs.values)
    else:
        assert_same(ours, theirs)


# --- Areas per row on Dask: rows are independent, so each partition's
# partial merges with the others (Datashader's Dask path does the same).


@pytest.mark.parametrize(
    "layout", ["lists-stacked", "x-array", "y-array-stacked", "ragged", "ragged-stacked"]
)
@pytest.mark.parametrize("reduction", ["count", "sum", "last", "count_cat"])
def test_an_area_per_row_on_dask_matches_datashader(wide_rows, ragged_rows, layout, reduction):
    dask = pytest.importorskip("dask")
    dd = pytest.importorskip("dask.dataframe")
    make = REDUCTIONS[reduction]
    if layout.startswith("ragged"):
        frame = ragged_area_frame(*ragged_rows)
        x, y, stack = "xs", "ys", ("lows" if layout == "ragged-stacked" else None)
    else:
        frame = wide_rows
        x, y, stack = row_area_layouts()[layout]
    # Unequal partitions, one of a single row.
    ddf = dd.from_pandas(frame, npartitions=3)
    ddf = ddf.repartition(divisions=[0, 1, 90, len(frame) - 1])
    with dask.config.set(scheduler="sync"):
        ours = ds.Canvas(47, 39).area(ddf, x, y, agg=make(ds), axis=1, y_stack=stack)
        theirs = dsh.Canvas(47, 39).area(ddf, x, y, agg=make(dsh), axis=1, y_stack=stack)
    assert_same(ours, theirs)
