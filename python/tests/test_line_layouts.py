"""Canvas.line's other layouts against Datashader 0.19.1 itself: several
lines down the rows (axis=0 with lists of columns), a line per row with
constant x or y arrays (axis=1 with a NumPy array), and a line per row
through ragged list columns (axis=1 with Datashader's RaggedArray or Arrow
list columns), on pandas, Arrow and Parquet sources."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import pointillist as ds
from test_lines import REDUCTIONS, chunked
from test_points import assert_same

dsh = pytest.importorskip("datashader")


def sources(frame, tmp_path, row_group_size=150):
    """The frame as each kind of source pointillist reads."""
    path = tmp_path / "frame.parquet"
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path, row_group_size=row_group_size)
    return {
        "pandas": frame,
        "pyarrow-batches": chunked(frame, 97),
        "parquet": str(path),
    }


# Every reduction on pandas; on Arrow batches and Parquet (where batch and
# row-group boundaries come in), the ones that differ in how they combine.
FEW = ["count", "sum", "last", "count_cat"]


def cases(reductions, sources=("pandas", "pyarrow-batches", "parquet")):
    return [(s, r) for s in sources for r in reductions if s == "pandas" or r in FEW]


def check(ours, theirs, reduction, source):
    if reduction == "count_cat" and source == "parquet":
        # Parquet's categories come in the order the file's dictionary has.
        ours = ours.sel(cat=list(theirs.coords["cat"].values))
        np.testing.assert_array_equal(ours.values, theirs.values)
    else:
        assert_same(ours, theirs)


@pytest.fixture(scope="module")
def walks():
    """Three random walks sharing a time column, and two with their own x,
    with NaN breaks in each (on both sides of row-group boundaries),
    values and categories."""
    rng = np.random.default_rng(21)
    n = 1_200
    frame = pd.DataFrame(
        {
            "t": np.arange(n, dtype="f8") / 40.0,
            "a": np.cumsum(rng.normal(size=n)),
            "b": np.cumsum(rng.normal(size=n)),
            "c": np.cumsum(rng.normal(size=n)) * 0.5,
            "x1": np.cumsum(rng.normal(size=n)) * 0.3,
            "x2": np.cumsum(rng.normal(size=n)) * 0.3,
            "v": rng.gamma(2.0, size=n),
            "f32": rng.normal(size=n).astype("float32"),
            "i": rng.integers(-5, 100, size=n),
            "cat": pd.Categorical(rng.choice(["b", "a", "c"], size=n), categories=["c", "a", "b"]),
        }
    )
    frame.loc[[149, 150, 700], "a"] = np.nan
    frame.loc[[300, 301, 302], "b"] = np.nan
    frame.loc[[0, 450], "x2"] = np.nan
    frame.loc[::11, "v"] = np.nan
    return frame


MULTI = {
    # A shared x column: Datashader broadcasts the name against the list.
    "shared-x": ("t", ["a", "b", "c"]),
    "pairs": (["x1", "x2"], ["a", "b"]),
}


@pytest.mark.parametrize("layout", list(MULTI))
@pytest.mark.parametrize("source,reduction", cases(list(REDUCTIONS)))
@pytest.mark.parametrize("ranges", ["auto", "clipped"])
def test_several_lines_down_the_rows(walks, layout, source, ranges, reduction, tmp_path):
    x, y = MULTI[layout]
    make = REDUCTIONS[reduction]
    rng = dict(x_range=(2.0, 20.0), y_range=(-15.0, 10.0)) if ranges == "clipped" else {}
    if layout == "pairs" and ranges == "clipped":
        rng = dict(x_range=(-5.0, 3.0), y_range=(-15.0, 10.0))
    src = sources(walks, tmp_path)[source]
    ours = ds.Canvas(61, 43, **rng).line(src, x, y, agg=make(ds))
    theirs = dsh.Canvas(61, 43, **rng).line(walks, x, y, agg=make(dsh))
    check(ours, theirs, reduction, source)


@pytest.fixture(scope="module")
def wide():
    """Wide time series: 400 rows of 30 samples (columns s0..s29), NaN
    samples (breaking lines), values and categories."""
    rng = np.random.default_rng(5)
    n, k = 400, 30
    samples = np.cumsum(rng.normal(size=(n, k)), axis=1)
    samples[::13, 7] = np.nan
    samples[5, :] = np.nan
    frame = pd.DataFrame({f"s{j}": samples[:, j] for j in range(k)})
    frame["v"] = rng.gamma(2.0, size=n)
    frame.loc[::9, "v"] = np.nan
    frame["cat"] = pd.Categorical(rng.choice(["b", "a", "c"], size=n))
    return frame


CONSTANT = {
    "x-array": lambda cols: (np.linspace(0.0, 3.0, len(cols)), cols),
    # A NaN constant breaks every row's line there.
    "x-array-nan": lambda cols: (np.where(np.arange(len(cols)) == 12, np.nan, np.arange(len(cols)) * 1.0), cols),
    "y-array": lambda cols: (cols, np.sin(np.arange(len(cols)) / 4.0)),
}


@pytest.mark.parametrize("layout", list(CONSTANT))
@pytest.mark.parametrize(
    "source,reduction",
    cases(["count", "any", "sum", "mean", "min", "last", "count_cat", "by(cat, sum)"]),
)
@pytest.mark.parametrize("ranges", ["auto", "clipped"])
def test_a_line_per_row_with_constant_coordinates(wide, layout, source, ranges, reduction, tmp_path):
    cols = [f"s{j}" for j in range(30)]
    x, y = CONSTANT[layout](cols)
    make = REDUCTIONS[reduction]
    rng = {}
    if ranges == "clipped":
        rng = dict(x_range=(0.5, 2.0), y_range=(-4.0, 6.0)) if layout != "y-array" else dict(
            x_range=(-4.0, 6.0), y_range=(-0.5, 0.8)
        )
    src = sources(wide, tmp_path, row_group_size=64)[source]
    ours = ds.Canvas(57, 41, **rng).line(src, x, y, agg=make(ds), axis=1)
    theirs = dsh.Canvas(57, 41, **rng).line(wide, x, y, agg=make(dsh), axis=1)
    check(ours, theirs, reduction, source)


@pytest.fixture(scope="module")
def ragged():
    """300 trajectories of 0 to 40 vertices, x and y lists of different
    lengths in some rows (the shorter sets the count), NaN vertices."""
    rng = np.random.default_rng(9)
    xs, ys = [], []
    for r in range(300):
        n = int(rng.integers(0, 40))
        x = np.cumsum(rng.normal(size=n)) + rng.normal() * 5
        y = np.cumsum(rng.normal(size=n)) + rng.normal() * 5
        if r % 17 == 3 and n > 4:
            x[n // 2] = np.nan
        if r % 23 == 0:
            y = y[: max(n - 3, 0)]
        xs.append(x)
        ys.append(y)
    v = rng.gamma(2.0, size=300)
    v[::7] = np.nan
    cat = pd.Categorical(rng.choice(["b", "a", "c"], size=300))
    return xs, ys, v, cat


def ragged_pandas(xs, ys, v, cat):
    return pd.DataFrame(
        {
            "xs": pd.array(xs, dtype="Ragged[float64]"),
            "ys": pd.array(ys, dtype="Ragged[float64]"),
            "v": v,
            "cat": cat,
        }
    )


def ragged_arrow(xs, ys, v, cat, large=False):
    typ = pa.large_list(pa.float64()) if large else pa.list_(pa.float64())
    return pa.table(
        {
            "xs": pa.array([list(x) for x in xs], type=typ),
            "ys": pa.array([list(y) for y in ys], type=typ),
            "v": pa.array(v),
            "cat": pa.DictionaryArray.from_arrays(
                pa.array(cat.codes.astype("int32")), pa.array(list(cat.categories))
            ),
        }
    )


@pytest.mark.parametrize("source", ["pandas-ragged", "arrow-list", "arrow-large-list", "parquet"])
@pytest.mark.parametrize("ranges", ["auto", "clipped"])
@pytest.mark.parametrize("reduction", ["count", "any", "sum", "first", "last", "count_cat"])
def test_a_line_per_row_through_ragged_lists(ragged, source, ranges, reduction, tmp_path):
    make = REDUCTIONS[reduction]
    frame = ragged_pandas(*ragged)
    if source == "pandas-ragged":
        src = frame
    elif source == "parquet":
        src = str(tmp_path / "ragged.parquet")
        pq.write_table(ragged_arrow(*ragged), src, row_group_size=70)
    else:
        src = chunked_table(ragged_arrow(*ragged, large=source == "arrow-large-list"), 64)
    rng = dict(x_range=(-8.0, 6.0), y_range=(-5.0, 9.0)) if ranges == "clipped" else {}
    ours = ds.Canvas(53, 47, **rng).line(src, "xs", "ys", agg=make(ds), axis=1)
    theirs = dsh.Canvas(53, 47, **rng).line(frame, "xs", "ys", agg=make(dsh), axis=1)
    check(ours, theirs, reduction, "parquet" if source != "pandas-ragged" else source)


def chunked_table(table, size):
    return pa.Table.from_batches(table.to_batches(max_chunksize=size))


def test_invalid_layouts_are_named(walks, wide):
    cvs = ds.Canvas(10, 10)
    with pytest.raises(ValueError, match="lengths do not match"):
        cvs.line(walks, ["t", "t"], ["a", "b", "c"])
    with pytest.raises(ValueError, match="Invalid combination"):
        cvs.line(walks, np.arange(3.0), ["a", "b", "c"])
    with pytest.raises(ValueError, match="lengths do not match"):
        cvs.line(wide, np.arange(3.0), ["s0", "s1"], axis=1)
    with pytest.raises(ValueError, match="axis argument"):
        cvs.line(walks, "t", "a", axis=2)
    # A plain column where ragged lists are wanted names the column.
    with pytest.raises(ValueError, match="list of numbers"):
        cvs.line(walks, "t", "a", axis=1)
