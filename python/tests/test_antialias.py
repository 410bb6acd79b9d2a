"""Antialiased lines (``line_width > 0`` and ``antialias=True``) against
Datashader 0.19.1 itself: every line layout, every reduction Datashader
allows with antialiasing (with ``self_intersect=False`` for count and sum,
so both its one- and two-stage accumulation), thin and wide lines, clipped
ranges, and Arrow and Parquet sources.

Exactness: on a pandas source the coverage is Datashader's to the bit, as
it is for lines down the rows from any source (drawn in row order on one
thread). Lines one per row are drawn by work units in parallel when the
input has several batches or row groups, and the units' partials add up in
row order; Datashader adds each row into one float32 (count) or float64
(sum, mean) canvas in turn. Both round every addition, so a pixel crossed
by k rows can differ by about k float32 (or float64) roundings: relative
2**-24 per addition for float32. Those sources are compared with
``rtol=1e-5`` for float32 (room for ~160 additions per pixel) and 1e-12
for float64; everything else, and every NaN, exactly."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import pointillist as ds
from test_line_layouts import chunked_table, ragged_arrow, ragged_pandas, sources
from test_points import assert_same

dsh = pytest.importorskip("datashader")

# Every reduction Datashader draws antialiased (those pointillist has).
AA = {
    "count": lambda m: m.count(),
    "count(v)": lambda m: m.count("v"),
    "any": lambda m: m.any(),
    "sum": lambda m: m.sum("v"),
    "mean": lambda m: m.mean("v"),
    "min": lambda m: m.min("v"),
    "max": lambda m: m.max("v"),
    "first": lambda m: m.first("v"),
    "last": lambda m: m.last("v"),
    "count-once": lambda m: m.count(self_intersect=False),
    "sum-once": lambda m: m.sum("v", self_intersect=False),
    "count_cat": lambda m: m.count_cat("cat"),
    "by(cat, max)": lambda m: m.by("cat", m.max("v")),
}
# Summing reductions one- and two-stage, and one order-dependent one.
FEW = ["count", "count-once", "sum", "last"]


def check(ours, theirs, exact=True):
    if not exact:
        assert ours.dtype == theirs.dtype
        rtol = 1e-5 if ours.dtype == np.float32 else 1e-12
        np.testing.assert_allclose(ours.values, theirs.values, rtol=rtol, atol=0, equal_nan=True)
        xr.testing.assert_identical(ours.copy(data=theirs.values), theirs)
        return
    np.testing.assert_array_equal(ours.values, theirs.values)
    assert_same(ours, theirs)


@pytest.fixture(scope="module")
def walk():
    """A 2,000-vertex random walk that crosses itself, with NaN breaks
    (one on a row-group boundary), values (some NaN) and categories."""
    rng = np.random.default_rng(31)
    n = 2_000
    frame = pd.DataFrame(
        {
            "x": np.cumsum(rng.normal(size=n)),
            "y": np.cumsum(rng.normal(size=n)),
            "x2": np.cumsum(rng.normal(size=n)),
            "y2": np.cumsum(rng.normal(size=n)),
            "v": rng.uniform(-1.0, 3.0, size=n),
            "cat": pd.Categorical(rng.choice(["b", "a", "c"], size=n), categories=["c", "a", "b"]),
        }
    )
    frame.loc[[150, 151, 700, 1333], "y"] = np.nan
    frame.loc[[400], "x2"] = np.nan
    frame.loc[::11, "v"] = np.nan
    return frame


WIDTHS = {"antialias": dict(antialias=True), "2.5": dict(line_width=2.5), "0.4": dict(line_width=0.4)}
# Datashader compiles its kernels for each width: every reduction at one
# width, the summing ones at the others (wider than a pixel, one pixel,
# and thinner: one pixel at lower intensity).
WIDE = 2.5


@pytest.mark.parametrize(
    "reduction,width",
    [(r, "2.5") for r in AA] + [(r, w) for r in ["count", "sum-once", "any"] for w in ["antialias", "0.4"]],
)
def test_an_antialiased_line_matches_datashader(walk, reduction, width):
    make = AA[reduction]
    ours = ds.Canvas(83, 61).line(walk, "x", "y", agg=make(ds), **WIDTHS[width])
    theirs = dsh.Canvas(83, 61).line(walk, "x", "y", agg=make(dsh), **WIDTHS[width])
    check(ours, theirs)


@pytest.mark.parametrize("source", ["pyarrow-batches", "parquet"])
@pytest.mark.parametrize("reduction", FEW)
def test_a_line_across_batches_and_row_groups_is_exact(walk, source, reduction, tmp_path):
    make = AA[reduction]
    src = sources(walk, tmp_path, row_group_size=150)[source]
    rng = dict(x_range=(-20.0, 15.0), y_range=(-30.0, 10.0))
    ours = ds.Canvas(83, 61, **rng).line(src, "x", "y", agg=make(ds), line_width=WIDE)
    theirs = dsh.Canvas(83, 61, **rng).line(walk, "x", "y", agg=make(dsh), line_width=WIDE)
    check(ours, theirs)


@pytest.fixture(scope="module")
def rows():
    """600 rows of 12 samples (wide time series, columns s0..s11) and of
    origin-via-destination segments, NaN samples, values, categories."""
    rng = np.random.default_rng(7)
    n, k = 600, 12
    samples = np.cumsum(rng.normal(size=(n, k)), axis=1)
    samples[::13, 5] = np.nan
    frame = pd.DataFrame({f"s{j}": samples[:, j] for j in range(k)})
    for c in ["ox", "oy", "mx", "my", "dx", "dy"]:
        frame[c] = rng.uniform(0.0, 10.0, size=n)
    frame.loc[::17, "my"] = np.nan
    frame["v"] = rng.uniform(-1.0, 3.0, size=n)
    frame.loc[::9, "v"] = np.nan
    frame["cat"] = pd.Categorical(rng.choice(["b", "a", "c"], size=n))
    return frame


SAMPLES = [f"s{j}" for j in range(12)]
LAYOUTS = {
    "lines-down": (dict(x=["ox", "mx", "dx"], y=["oy", "my", "dy"], axis=0)),
    "od": dict(x=["ox", "mx", "dx"], y=["oy", "my", "dy"], axis=1),
    "x-array": dict(x=np.arange(12.0) / 2, y=SAMPLES, axis=1),
    "y-array": dict(x=SAMPLES, y=np.sin(np.arange(12.0)), axis=1),
}


@pytest.mark.parametrize("layout", list(LAYOUTS))
@pytest.mark.parametrize("reduction", ["count", "sum-once", "min", "count_cat"])
def test_antialiased_layouts_match_datashader(rows, layout, reduction):
    make = AA[reduction]
    kw = LAYOUTS[layout]
    ours = ds.Canvas(67, 49).line(rows, agg=make(ds), line_width=WIDE, **kw)
    theirs = dsh.Canvas(67, 49).line(rows, agg=make(dsh), line_width=WIDE, **kw)
    check(ours, theirs)


@pytest.mark.parametrize("source", ["pyarrow-batches", "parquet"])
@pytest.mark.parametrize("reduction", ["count", "sum-once", "count_cat"])
def test_lines_per_row_from_several_units(rows, source, reduction, tmp_path):
    make = AA[reduction]
    src = sources(rows, tmp_path, row_group_size=64)[source]
    kw = LAYOUTS["x-array"]
    ours = ds.Canvas(67, 49, y_range=(-6.0, 5.0)).line(src, agg=make(ds), line_width=WIDE, **kw)
    theirs = dsh.Canvas(67, 49, y_range=(-6.0, 5.0)).line(rows, agg=make(dsh), line_width=WIDE, **kw)
    if reduction == "count_cat" and source == "parquet":
        ours = ours.sel(cat=list(theirs.coords["cat"].values))
    check(ours, theirs, exact=False)


@pytest.mark.parametrize("source", ["pandas-ragged", "arrow-list"])
@pytest.mark.parametrize("reduction", ["count", "sum-once", "last"])
def test_antialiased_ragged_lines_match_datashader(source, reduction):
    rng = np.random.default_rng(9)
    xs, ys = [], []
    for r in range(200):
        n = int(rng.integers(0, 25))
        x, y = np.cumsum(rng.normal(size=n)), np.cumsum(rng.normal(size=n))
        if r % 17 == 3 and n > 4:
            x[n // 2] = np.nan
        xs.append(x)
        ys.append(y)
    v = rng.uniform(-1.0, 3.0, size=200)
    cat = pd.Categorical(rng.choice(["b", "a"], size=200))
    frame = ragged_pandas(xs, ys, v, cat)
    src = frame if source == "pandas-ragged" else chunked_table(ragged_arrow(xs, ys, v, cat), 500)
    make = AA[reduction]
    ours = ds.Canvas(53, 47).line(src, "xs", "ys", agg=make(ds), axis=1, line_width=WIDE)
    theirs = dsh.Canvas(53, 47).line(frame, "xs", "ys", agg=make(dsh), axis=1, line_width=WIDE)
    check(ours, theirs)


def test_antialiased_aggregates_shade_as_datashader_does(walk):
    ours = ds.Canvas(83, 61).line(walk, "x", "y", agg=ds.count(), antialias=True)
    theirs = dsh.Canvas(83, 61).line(walk, "x", "y", agg=dsh.count(), antialias=True)
    for how in ["linear", "log", "eq_hist"]:
        a = ds.tf.shade(ours, how=how).values
        b = dsh.transfer_functions.shade(theirs, how=how).values
        # Datashader offsets and scales float32 coverage in float32 in
        # places; colour channels may then differ by one level.
        diff = np.abs(a.view(np.uint8).astype(int) - b.view(np.uint8).astype(int))
        assert diff.max() <= 1, how
        assert (a == b).mean() > 0.99, how


def test_what_datashader_refuses_is_refused(walk):
    cvs = ds.Canvas(40, 30)
    for agg in [ds.var("v"), ds.std("v")]:
        with pytest.raises(NotImplementedError, match="reduction not implemented for antialiased lines"):
            cvs.line(walk, "x", "y", agg=agg, line_width=1)
    with pytest.raises(ValueError, match="Do not specify values for both the line_width"):
        cvs.line(walk, "x", "y", line_width=2, antialias=True)
    # A width of 0 or less, as in Datashader, draws plain lines.
    plain = cvs.line(walk, "x", "y", agg=ds.count())
    assert plain.dtype == np.uint32
    for w in [0, -1.5]:
        np.testing.assert_array_equal(cvs.line(walk, "x", "y", agg=ds.count(), line_width=w).values, plain.values)
