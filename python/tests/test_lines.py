"""Canvas.line (axis=0) against Datashader 0.19.1 itself: the same DataArray
for the same call, on pandas, Arrow and Parquet sources, for every
reduction, with lines broken by NaN, clipped by the canvas, ending on its
upper edges, and split across batches, row groups and files."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import pointillist as ds
from test_points import assert_same

dsh = pytest.importorskip("datashader")


@pytest.fixture(scope="module")
def walk():
    """A random walk of 3,000 vertices with NaN breaks (single and double,
    in x only and in y only), NaN values, categories, and vertices exactly
    on the range's upper edges."""
    rng = np.random.default_rng(7)
    n = 3_000
    x = np.cumsum(rng.normal(size=n))
    y = np.cumsum(rng.normal(size=n))
    x[[40, 41, 700, 1500]] = np.nan
    y[[41, 1000, 2999]] = np.nan
    x[[5, 6]] = x[~np.isnan(x)].max()  # on the upper x edge
    y[900] = y[~np.isnan(y)].max()  # on the upper y edge
    frame = pd.DataFrame(
        {
            "x": x,
            "y": y,
            "v": rng.gamma(2.0, size=n),
            "f32": rng.normal(size=n).astype("float32"),
            "i": rng.integers(-5, 100, size=n),
            "cat": pd.Categorical(rng.choice(["b", "a", "c"], size=n), categories=["c", "a", "b"]),
        }
    )
    frame.loc[::9, "v"] = np.nan
    return frame


REDUCTIONS = {
    "count": lambda m: m.count(),
    "count(v)": lambda m: m.count("v"),
    "any": lambda m: m.any(),
    "sum": lambda m: m.sum("v"),
    "sum(i)": lambda m: m.sum("i"),
    "mean": lambda m: m.mean("v"),
    "min": lambda m: m.min("v"),
    "max(f32)": lambda m: m.max("f32"),
    "var": lambda m: m.var("v"),
    "std": lambda m: m.std("v"),
    "first": lambda m: m.first("v"),
    "last": lambda m: m.last("v"),
    "count_cat": lambda m: m.count_cat("cat"),
    "by(cat, sum)": lambda m: m.by("cat", m.sum("v")),
}

RANGES = {
    "auto": dict(),
    # Cuts the walk: segments leave and re-enter the canvas.
    "clipped": dict(x_range=(-20.0, 15.0), y_range=(-30.0, 10.0)),
}


def chunked(frame, size):
    return pa.Table.from_batches(
        pa.Table.from_pandas(frame, preserve_index=False).to_batches(max_chunksize=size)
    )


SOURCES = {
    "pandas": lambda frame, tmp: frame,
    "pyarrow-batches": lambda frame, tmp: chunked(frame, 97),
}


@pytest.mark.parametrize("source", list(SOURCES))
@pytest.mark.parametrize("ranges", list(RANGES))
@pytest.mark.parametrize("reduction", list(REDUCTIONS))
def test_lines_match_datashader(walk, source, ranges, reduction, tmp_path):
    make = REDUCTIONS[reduction]
    ours = ds.Canvas(61, 43, **RANGES[ranges]).line(
        SOURCES[source](walk, tmp_path), "x", "y", agg=make(ds)
    )
    theirs = dsh.Canvas(61, 43, **RANGES[ranges]).line(walk, "x", "y", agg=make(dsh))
    assert_same(ours, theirs)


@pytest.mark.parametrize("reduction", ["count", "sum", "last", "count_cat"])
@pytest.mark.parametrize("ranges", list(RANGES))
def test_parquet_row_groups_and_files_stitch(walk, reduction, ranges, tmp_path):
    """Segments that cross row groups and files, with a one-row file and a
    NaN on each side of a boundary, are drawn once, as in one DataFrame."""
    frame = walk.copy()
    frame.loc[[299, 300], "x"] = np.nan  # around a row-group boundary
    pieces = [frame.iloc[:1000], frame.iloc[1000:1001], frame.iloc[1001:]]
    paths = []
    for k, piece in enumerate(pieces):
        p = tmp_path / f"part{k}.parquet"
        pq.write_table(pa.Table.from_pandas(piece, preserve_index=False), p, row_group_size=150)
        paths.append(str(p))
    make = REDUCTIONS[reduction]
    theirs = dsh.Canvas(61, 43, **RANGES[ranges]).line(frame, "x", "y", agg=make(dsh))
    ours = ds.Canvas(61, 43, **RANGES[ranges]).line(paths, "x", "y", agg=make(ds))
    if reduction == "count_cat":
        # Parquet's categories come back in the file's dictionary order,
        # as pandas reads them; compare the planes by label.
        ours = ours.sel(cat=list(theirs.coords["cat"].values))
        np.testing.assert_array_equal(ours.values, theirs.values)
    else:
        assert_same(ours, theirs)


def test_integer_and_float32_vertices():
    frame = pd.DataFrame(
        {
            "x": np.array([0, 3, 9, 9, 2, 7], dtype="int64"),
            "y": np.array([0.5, 4.25, 1.0, 8.0, 8.0, 0.0], dtype="float32"),
        }
    )
    for w, h in [(10, 9), (3, 2), (1, 1)]:
        assert_same(ds.Canvas(w, h).line(frame, "x", "y"), dsh.Canvas(w, h).line(frame, "x", "y"))


def test_default_canvas_and_a_single_vertex(walk):
    assert_same(ds.Canvas().line(walk, "x", "y"), dsh.Canvas().line(walk, "x", "y"))
    one = walk.iloc[:1]
    assert_same(
        ds.Canvas(5, 5, x_range=(-1, 1), y_range=(-1, 1)).line(one, "x", "y"),
        dsh.Canvas(5, 5, x_range=(-1, 1), y_range=(-1, 1)).line(one, "x", "y"),
    )


@pytest.mark.parametrize("axes", [("log", "linear"), ("linear", "log")])
def test_log_axes(axes):
    rng = np.random.default_rng(3)
    frame = pd.DataFrame({"x": np.exp(rng.normal(size=500)), "y": np.exp(rng.normal(size=500))})
    kw = dict(x_axis_type=axes[0], y_axis_type=axes[1])
    assert_same(
        ds.Canvas(30, 20, **kw).line(frame, "x", "y"),
        dsh.Canvas(30, 20, **kw).line(frame, "x", "y"),
    )


@pytest.fixture(scope="module")
def flights():
    """Origin-destination rows (plus a stop-over vertex), with NaN
    vertices, values and categories."""
    rng = np.random.default_rng(11)
    n = 4_000
    frame = pd.DataFrame(
        {
            "ox": rng.normal(size=n),
            "oy": rng.normal(size=n),
            "mx": rng.normal(size=n) * 0.5,
            "my": rng.normal(size=n) * 0.5,
            "dx": rng.normal(size=n) * 2,
            "dy": rng.normal(size=n) * 2,
            "v": rng.gamma(2.0, size=n),
            "cat": pd.Categorical(rng.choice(["b", "a", "c"], size=n)),
        }
    )
    frame.loc[::17, "mx"] = np.nan
    frame.loc[::29, "dy"] = np.nan
    frame.loc[::7, "v"] = np.nan
    return frame


ROW_LAYOUTS = {
    "od": (["ox", "dx"], ["oy", "dy"]),
    "via": (["ox", "mx", "dx"], ["oy", "my", "dy"]),
}


@pytest.mark.parametrize("layout", list(ROW_LAYOUTS))
@pytest.mark.parametrize("source", ["pandas", "pyarrow-batches", "parquet"])
@pytest.mark.parametrize("ranges", list(RANGES))
@pytest.mark.parametrize("reduction", ["count", "sum", "mean", "last", "count_cat", "any"])
def test_a_line_per_row_matches_datashader(flights, layout, source, ranges, reduction, tmp_path):
    xs, ys = ROW_LAYOUTS[layout]
    make = REDUCTIONS[reduction]
    if source == "parquet":
        src = tmp_path / "flights.parquet"
        pq.write_table(pa.Table.from_pandas(flights, preserve_index=False), src, row_group_size=500)
        src = str(src)
    elif source == "pyarrow-batches":
        src = chunked(flights, 333)
    else:
        src = flights
    rng = dict(x_range=(-2.0, 1.5), y_range=(-1.0, 3.0)) if ranges == "clipped" else {}
    ours = ds.Canvas(61, 43, **rng).line(src, xs, ys, agg=make(ds), axis=1)
    theirs = dsh.Canvas(61, 43, **rng).line(flights, xs, ys, agg=make(dsh), axis=1)
    if reduction == "count_cat" and source == "parquet":
        ours = ours.sel(cat=list(theirs.coords["cat"].values))
        np.testing.assert_array_equal(ours.values, theirs.values)
    else:
        assert_same(ours, theirs)


def test_layouts_not_implemented_are_named(walk):
    cvs = ds.Canvas(10, 10)
    with pytest.raises(ValueError, match="lengths do not match"):
        cvs.line(walk, ["x", "x"], ["y"], axis=1)
    with pytest.raises(NotImplementedError, match="antialiased lines"):
        cvs.line(walk, "x", "y", agg=ds.var("v"), line_width=1)
    with pytest.raises(ValueError, match="source must be an instance of spatialpandas"):
        cvs.line(walk, geometry="g")
    with pytest.raises(ValueError, match="both the x and y"):
        cvs.line(walk, "x")
    with pytest.raises(ValueError, match="column not found"):
        cvs.line(walk, "x", "nope")
