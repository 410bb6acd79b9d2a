"""Selection reductions against Datashader 0.19.1 itself: ``where`` (with
every selector, a float, an int or no lookup column), ``first_n``,
``last_n``, ``max_n``, ``min_n``, ``summary`` and the categorizers
``category_codes``, ``category_modulo`` and ``category_binning`` inside
``by``. The same call on the same rows must give the same DataArray (or
Dataset): dtype, dims, coords and their dtypes, attrs, values.

The data put about 50 points on each pixel of a 10 x 10 canvas, with
small integers as float values (many ties, so the tie rules matter), NaNs
in the selector and lookup columns, points with a NaN x (they still count
in the row index) and points off the canvas. Sources: pandas, pyarrow
(one and several chunks) and a Dask DataFrame of three partitions (against
Datashader on the pandas frame, which Datashader on the Dask frame agrees
with; see DASK_CASES). Invalid uses must raise Datashader's exception type.

Datashader compiles every new reduction (about a second each), so the
reductions here are chosen to cover each feature once rather than every
combination, and Datashader's results are cached per module."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import xarray as xr

import pointillist as ds

dsh = pytest.importorskip("datashader")
dd = pytest.importorskip("dask.dataframe")

ours_rd = ds.reductions
theirs_rd = dsh.reductions


def assert_same(ours, theirs):
    """Datashader's DataArray exactly (float values within 1e-12 relative,
    NaN where NaN), coords' dtypes and values and attrs' types included."""
    assert type(ours) is xr.DataArray, type(ours)
    assert ours.dtype == theirs.dtype, (ours.dtype, theirs.dtype)
    assert ours.dims == theirs.dims, (ours.dims, theirs.dims)
    assert ours.shape == theirs.shape, (ours.shape, theirs.shape)
    assert ours.name == theirs.name, (ours.name, theirs.name)
    if ours.dtype.kind == "f":
        np.testing.assert_allclose(ours.values, theirs.values, rtol=1e-12, atol=0, equal_nan=True)
    else:
        np.testing.assert_array_equal(ours.values, theirs.values)
    xr.testing.assert_identical(ours.copy(data=theirs.values), theirs)
    assert list(ours.coords) == list(theirs.coords), (list(ours.coords), list(theirs.coords))
    for k in theirs.coords:
        assert ours.coords[k].dtype == theirs.coords[k].dtype, (
            k,
            ours.coords[k].dtype,
            theirs.coords[k].dtype,
        )
        np.testing.assert_array_equal(ours.coords[k].values, theirs.coords[k].values)
    assert ours.attrs == theirs.attrs, (ours.attrs, theirs.attrs)
    for k in theirs.attrs:
        assert type(ours.attrs[k]) is type(theirs.attrs[k]), k
    assert ours.values.flags.c_contiguous


def assert_same_result(ours, theirs):
    """A DataArray as ``assert_same``; a Dataset (from ``summary``) with the
    same variables in the same order, the same coords in the same order,
    the same attrs, and each variable the same DataArray."""
    if isinstance(theirs, xr.DataArray):
        assert_same(ours, theirs)
        return
    assert type(ours) is xr.Dataset, type(ours)
    assert list(ours.data_vars) == list(theirs.data_vars)
    assert list(ours.coords) == list(theirs.coords)
    assert dict(ours.sizes) == dict(theirs.sizes)
    assert ours.attrs == theirs.attrs
    for k in theirs.attrs:
        assert type(ours.attrs[k]) is type(theirs.attrs[k]), k
    for k in theirs.coords:
        assert ours.coords[k].dtype == theirs.coords[k].dtype, k
        np.testing.assert_array_equal(ours.coords[k].values, theirs.coords[k].values)
    for k in theirs.data_vars:
        assert_same(ours[k], theirs[k])


def _frame(seed, n):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 10, n)
    y = rng.uniform(0, 10, n)
    x[::97] = 11.5  # off the given range
    y[::89] = -0.5
    x[::53] = np.nan  # dropped, but counted in the row index
    v = rng.integers(0, 5, n).astype("float64")  # ties everywhere
    v[::7] = np.nan
    w = np.round(rng.normal(size=n), 3)
    w[::5] = np.nan
    f32 = rng.integers(0, 4, n).astype("float32")
    f32[::9] = np.nan
    u = rng.uniform(-1.6, 1.6, n)
    edges = [-1.0, -0.5, 0.0, 0.5, 1.0, -1.25, -1.5, 1.25, -0.0001]
    u[3::17] = rng.choice(edges, size=len(u[3::17]))
    u[::13] = np.nan
    frame = pd.DataFrame(
        {
            "x": x,
            "y": y,
            "v": v,
            "w": w,
            "i": rng.integers(-20, 20, n),  # int64 lookup
            "i32": rng.integers(-3, 3, n).astype("int32"),  # int selector, ties
            "f32": f32,
            "k": rng.integers(-7, 8, n),  # negative ints for category_modulo
            "k32": rng.integers(-9, 9, n).astype("int32"),
            "flag": rng.random(n) < 0.3,
            "u": u,  # category_binning: NaN, under, over, edges
            "cat": pd.Categorical(
                rng.choice(["b", "a", "c"], size=n), categories=["c", "a", "b", "unused"]
            ),
        }
    )
    frame.loc[::11, "cat"] = None  # code -1: Datashader counts it in the last category
    return frame


@pytest.fixture(scope="module")
def df():
    return _frame(11, 5000)


@pytest.fixture(scope="module")
def ddf(df):
    return dd.from_pandas(df, npartitions=3)


def _arrow_chunked(frame):
    cut = [0, 1234, 1235, 3100, len(frame)]  # one chunk of a single row
    return pa.concat_tables(
        [pa.Table.from_pandas(frame.iloc[a:b], preserve_index=False) for a, b in zip(cut, cut[1:])]
    )


OUR_SOURCES = {
    "pandas": lambda frame: frame,
    "pyarrow": lambda frame: pa.Table.from_pandas(frame, preserve_index=False),
    "pyarrow-chunked": _arrow_chunked,
}

# Float ranges: Datashader's compiled loops are then shared with "auto".
RANGES = {
    "given": dict(x_range=(0.0, 10.0), y_range=(0.0, 10.0)),
    "auto": dict(),
}

SELECTORS = {
    "first": lambda m: m.first("v"),
    "last": lambda m: m.last("v"),
    "max": lambda m: m.max("v"),
    "min": lambda m: m.min("v"),
    "first_n": lambda m: m.first_n("v", n=3),
    "last_n": lambda m: m.last_n("v", n=3),
    "max_n": lambda m: m.max_n("v", n=3),
    "min_n": lambda m: m.min_n("v", n=3),
}


def _where(sel, lookup):
    return lambda m: m.where(SELECTORS[sel](m), lookup)


REDUCTIONS = {
    # where: float lookup, int lookup (float64 out), no lookup (int64 row index, -1 empty)
    **{f"where({s},w)": _where(s, "w") for s in SELECTORS},
    **{f"where({s},i)": _where(s, "i") for s in SELECTORS},
    **{f"where({s})": _where(s, None) for s in SELECTORS},
    "where(max,f32)": lambda m: m.where(m.max("v"), "f32"),
    "where(max(i32),w)": lambda m: m.where(m.max("i32"), "w"),  # int selector, many ties
    "where(max_n10,w)": lambda m: m.where(m.max_n("v", n=10), "w"),
    # the n reductions
    **{
        f"{name}(n={n})": (lambda name, n: lambda m: getattr(m, name)("v", n=n))(name, n)
        for name in ("first_n", "last_n", "max_n", "min_n")
        for n in (1, 3, 10)
    },
    "max_n(default n)": lambda m: m.max_n("v"),  # n=1
    "last_n(default n)": lambda m: m.last_n("v"),
    "max_n(i,n=3)": lambda m: m.max_n("i", n=3),
    # by(...) of them: dims (y, x, cat[, n])
    "by(cat,max_n)": lambda m: m.by("cat", m.max_n("v", n=3)),
    "by(cat,where(max,w))": lambda m: m.by("cat", m.where(m.max("v"), "w")),
    "by(cat,where(last_n))": lambda m: m.by("cat", m.where(m.last_n("v", n=2))),
}

CATEGORIZERS = {
    "codes": lambda m: m.by(m.category_codes("cat")),
    "codes,max_n": lambda m: m.by(m.category_codes("cat"), m.max_n("v", n=3)),
    "codes,where(max,w)": lambda m: m.by(m.category_codes("cat"), m.where(m.max("v"), "w")),
    "modulo(k,3)": lambda m: m.by(m.category_modulo("k", 3)),
    "modulo(k32,4,offset=-5)": lambda m: m.by(m.category_modulo("k32", 4, offset=-5)),
    "modulo(k,3),max_n": lambda m: m.by(m.category_modulo("k", 3), m.max_n("v", n=3)),
    "modulo(flag,2)": lambda m: m.by(m.category_modulo("flag", 2)),
    "binning(u)": lambda m: m.by(m.category_binning("u", -1, 1, 4)),
    "binning(u,under=F)": lambda m: m.by(m.category_binning("u", -1, 1, 4, include_under=False)),
    "binning(u,F,F)": lambda m: m.by(
        m.category_binning("u", -1, 1, 4, include_under=False, include_over=False)
    ),
    "binning(k,int)": lambda m: m.by(m.category_binning("k", -5, 5, 4, include_over=False)),
    "binning(f32)": lambda m: m.by(m.category_binning("f32", 0.5, 2.5, 3, include_under=False)),
    "binning(u),where(last_n)": lambda m: m.by(
        m.category_binning("u", -1, 1, 2), m.where(m.last_n("v", n=2))
    ),
}

SUMMARIES = {
    # variables sorted by key (upper case first), coords x, y, then in order of appearance
    # (two where's share the selector max_n("v", 3))
    "mixed": lambda m: m.summary(
        zz=m.count(),
        a=m.where(m.max_n("v", n=3), "w"),
        b=m.where(m.max_n("v", n=3)),
        B=m.max_n("w", n=3),
        a_1=m.where(m.first("v")),
        bb=m.by("cat", m.where(m.min("v"), "i")),
        m=m.mean("w"),
    ),
    "n-reductions": lambda m: m.summary(
        p=m.first_n("v", n=2),
        q=m.last_n("w", n=2),
        r=m.where(m.last_n("v", n=2)),
        s=m.min_n("i", n=2),
    ),
}

ALL = {**REDUCTIONS, **CATEGORIZERS, **{f"summary:{k}": v for k, v in SUMMARIES.items()}}

_theirs_cache = {}


def theirs(frame_id, frame, name, ranges, shape=(10, 10)):
    """Datashader's result, computed once per (data, reduction, ranges)."""
    key = (frame_id, name, ranges, shape)
    if key not in _theirs_cache:
        canvas = dsh.Canvas(*shape, **RANGES[ranges])
        _theirs_cache[key] = canvas.points(frame, "x", "y", agg=ALL[name](theirs_rd))
    return _theirs_cache[key]


@pytest.mark.parametrize("source", list(OUR_SOURCES))
@pytest.mark.parametrize("ranges", list(RANGES))
@pytest.mark.parametrize("name", list(ALL))
def test_matches_datashader(df, name, ranges, source):
    expected = theirs("pandas", df, name, ranges)
    ours = ds.Canvas(10, 10, **RANGES[ranges]).points(
        OUR_SOURCES[source](df), "x", "y", agg=ALL[name](ours_rd)
    )
    assert_same_result(ours, expected)


# Datashader on this Dask DataFrame gives its pandas result for all of
# these (the row index of first/last/where comes from the partitions'
# lengths) but the two summaries: in "n-reductions" its two row-index
# selectors (of last_n("w") and of where(last_n("v"))) hash alike and are
# merged, so Datashader + Dask gets "r" wrong, and "mixed" (two where's on
# one selector) fails in Datashader's Dask combine with an IndexError. So
# pointillist on Dask is compared with Datashader on pandas; Datashader is
# run on Dask (slow to compile) only in test_dask_datashader_agrees.
DASK_CASES = [
    *[f"where({s},w)" for s in SELECTORS],
    *[f"where({s})" for s in SELECTORS],
    "where(min_n,i)",
    "where(max(i32),w)",
    "where(max_n10,w)",
    "first_n(n=3)",
    "last_n(n=10)",
    "max_n(n=10)",
    "min_n(n=3)",
    "by(cat,max_n)",
    "by(cat,where(max,w))",
    "by(cat,where(last_n))",
    "modulo(k32,4,offset=-5)",
    "modulo(k,3),max_n",
    "binning(u,F,F)",
    "binning(u),where(last_n)",
    "summary:mixed",
    "summary:n-reductions",
]


@pytest.mark.parametrize("name", DASK_CASES)
def test_dask_matches_datashader(df, ddf, name):
    expected = theirs("pandas", df, name, "given")
    ours = ds.Canvas(10, 10, **RANGES["given"]).points(ddf, "x", "y", agg=ALL[name](ours_rd))
    assert_same_result(ours, expected)


@pytest.mark.parametrize("name", ["where(last_n)", "by(cat,where(max,w))", "summary:n-reductions"])
def test_dask_auto_ranges(df, ddf, name):
    expected = theirs("pandas", df, name, "auto")
    ours = ds.Canvas(10, 10).points(ddf, "x", "y", agg=ALL[name](ours_rd))
    assert_same_result(ours, expected)


@pytest.mark.parametrize("name", ["where(first,w)", "by(cat,where(max,w))"])
def test_dask_datashader_agrees(df, ddf, name):
    expected = theirs("dask", ddf, name, "given")
    xr.testing.assert_identical(expected, theirs("pandas", df, name, "given"))
    ours = ds.Canvas(10, 10, **RANGES["given"]).points(ddf, "x", "y", agg=ALL[name](ours_rd))
    assert_same_result(ours, expected)


SPARSE_CASES = [
    "where(max_n,w)",
    "where(first_n)",
    "where(last,i)",
    "last_n(n=10)",
    "min_n(n=3)",
    "by(cat,where(last_n))",
    "binning(u),where(last_n)",
    "summary:n-reductions",
]


@pytest.mark.parametrize("source", ["pandas", "pyarrow-chunked"])
@pytest.mark.parametrize("name", SPARSE_CASES)
def test_sparse_canvas(df, name, source):
    """About 4 points a pixel on 40 x 30: n slots left empty (NaN, or -1
    for row indexes) and empty pixels."""
    expected = theirs("pandas", df, name, "given", shape=(40, 30))
    ours = ds.Canvas(40, 30, **RANGES["given"]).points(
        OUR_SOURCES[source](df), "x", "y", agg=ALL[name](ours_rd)
    )
    assert_same_result(ours, expected)


def test_small_frame_known_values():
    """The worked example of the semantics: ties go to the earliest row,
    NaN selector values are skipped, NaN lookup values are returned, max_n
    is descending, min_n ascending, last_n most recent first, empty pixels
    NaN (-1 for row indexes), int lookups become float64."""
    frame = pd.DataFrame(
        {
            "x": [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 1.6, 1.7],
            "y": [0.1] * 8,
            "v": [1.0, 3.0, np.nan, 3.0, 2.0, 1.0, 5.0, np.nan],
            "w": [10.0, 20.0, 30.0, np.nan, 50.0, 60.0, 70.0, 80.0],
            "i": np.arange(1, 9, dtype="int64"),
        }
    )
    nan3 = [np.nan] * 3
    none3 = [-1, -1, -1]
    expect = {
        "where(max,w)": (lambda m: m.where(m.max("v"), "w"), [[20.0, 70.0, np.nan]]),
        "where(min)": (lambda m: m.where(m.min("v")), [[0, 6, -1]]),
        "where(last)": (lambda m: m.where(m.last("v")), [[5, 6, -1]]),
        "where(first,i)": (lambda m: m.where(m.first("v"), "i"), [[1.0, 7.0, np.nan]]),
        "max_n": (lambda m: m.max_n("v", n=3), [[[3.0, 3.0, 2.0], [5.0, np.nan, np.nan], nan3]]),
        "min_n": (lambda m: m.min_n("v", n=3), [[[1.0, 1.0, 2.0], [5.0, np.nan, np.nan], nan3]]),
        "first_n": (
            lambda m: m.first_n("v", n=3),
            [[[1.0, 3.0, 3.0], [5.0, np.nan, np.nan], nan3]],
        ),
        "last_n": (lambda m: m.last_n("v", n=3), [[[1.0, 2.0, 3.0], [5.0, np.nan, np.nan], nan3]]),
        "where(max_n,w)": (
            lambda m: m.where(m.max_n("v", n=3), "w"),
            [[[20.0, np.nan, 50.0], [70.0, np.nan, np.nan], nan3]],
        ),
        "where(min_n)": (lambda m: m.where(m.min_n("v", n=3)), [[[0, 5, 4], [6, -1, -1], none3]]),
        "where(last_n)": (lambda m: m.where(m.last_n("v", n=3)), [[[5, 4, 3], [6, -1, -1], none3]]),
    }
    kw = dict(x_range=(0.0, 3.0), y_range=(0.0, 1.0))
    for name, (make, values) in expect.items():
        reference = dsh.Canvas(3, 1, **kw).points(frame, "x", "y", agg=make(theirs_rd))
        np.testing.assert_array_equal(reference.values, np.array(values), err_msg=name)
        ours = ds.Canvas(3, 1, **kw).points(frame, "x", "y", agg=make(ours_rd))
        assert_same(ours, reference)
        if "_n" in name:
            assert ours.dims == ("y", "x", "n")
            assert ours.coords["n"].dtype == np.int64
        row_index = name.startswith("where") and "," not in name
        assert ours.dtype == (np.int64 if row_index else np.float64), name


@pytest.mark.parametrize("n", [0, -3, True, np.int64(3)])
def test_n_is_clamped_like_datashader(df, n):
    # Datashader takes n < 1 as 1 (no error); True is 1, numpy ints are fine.
    for name in ("max_n", "first_n", "last_n", "min_n"):
        expected = dsh.Canvas(10, 10).points(df, "x", "y", agg=getattr(theirs_rd, name)("v", n=n))
        ours = ds.Canvas(10, 10).points(df, "x", "y", agg=getattr(ours_rd, name)("v", n=n))
        assert_same(ours, expected)
    make = lambda m: m.where(m.max_n("v", n=n), "w")  # noqa: E731
    expected = dsh.Canvas(10, 10).points(df, "x", "y", agg=make(theirs_rd))
    ours = ds.Canvas(10, 10).points(df, "x", "y", agg=make(ours_rd))
    assert_same(ours, expected)


def test_row_index_is_positional(df):
    """The row index of where(...) counts rows from 0 in the frame's order,
    whatever its pandas index."""
    shuffled = df.set_index(pd.Index(np.random.default_rng(5).permutation(len(df)) * 3 + 7))
    for make in (lambda m: m.where(m.max("v")), lambda m: m.where(m.last_n("v", n=3))):
        expected = dsh.Canvas(10, 10).points(df, "x", "y", agg=make(theirs_rd))
        again = dsh.Canvas(10, 10).points(shuffled, "x", "y", agg=make(theirs_rd))
        xr.testing.assert_identical(again, expected)
        assert_same(ds.Canvas(10, 10).points(shuffled, "x", "y", agg=make(ours_rd)), expected)


def test_category_binning_edges_and_infinities():
    """index = int((value - lower) / binsize), truncated toward zero: a value
    less than one bin under ``lower`` truncates to bin 0 (not under); ``upper``
    itself is over; +inf and -inf both cast to the most negative int64, so
    both land in the *under* plane; NaN in the last plane."""
    frame = pd.DataFrame(
        {
            "x": np.linspace(0.05, 0.95, 10),
            "y": np.full(10, 0.5),
            "u": [np.inf, -np.inf, 1.0, 0.9999, -1.0001, -1.4999, -1.5, -1.50001, np.nan, -1.0],
        }
    )
    counts = {}
    kw = dict(x_range=(0.0, 1.0), y_range=(0.0, 1.0))
    for under in (True, False):
        for over in (True, False):
            make = lambda m: m.by(  # noqa: E731
                m.category_binning("u", -1, 1, 4, include_under=under, include_over=over)
            )
            expected = dsh.Canvas(1, 1, **kw).points(frame, "x", "y", agg=make(theirs_rd))
            counts[under, over] = expected.values[0, 0].tolist()
            for source in OUR_SOURCES.values():
                ours = ds.Canvas(1, 1, **kw).points(source(frame), "x", "y", agg=make(ours_rd))
                assert_same(ours, expected)
    assert counts[True, True] == [7, 0, 0, 2, 1]
    assert counts[False, False] == [3, 0, 0, 1, 6]


def test_category_modulo_small_ints_wrap():
    """Datashader subtracts the offset in the column's own dtype: a uint8
    column wraps around (1 - 5 is 252) before the (Python, non-negative)
    modulo."""
    frame = pd.DataFrame(
        {
            "x": np.linspace(0.05, 0.95, 10),
            "y": np.full(10, 0.5),
            "u8": np.arange(10, dtype="uint8"),
            "i8": np.arange(-5, 5, dtype="int8"),
        }
    )
    kw = dict(x_range=(0.0, 1.0), y_range=(0.0, 1.0))
    for make, values in (
        (lambda m: m.by(m.category_modulo("u8", 3, offset=5)), [4, 3, 3]),
        (lambda m: m.by(m.category_modulo("i8", 3, offset=-2)), [4, 3, 3]),
    ):
        expected = dsh.Canvas(1, 1, **kw).points(frame, "x", "y", agg=make(theirs_rd))
        assert expected.values[0, 0].tolist() == values
        for source in OUR_SOURCES.values():
            ours = ds.Canvas(1, 1, **kw).points(source(frame), "x", "y", agg=make(ours_rd))
            assert_same(ours, expected)


def test_categorizer_coords(df):
    kw = RANGES["given"]
    canvas = ds.Canvas(10, 10, **kw)
    mod = canvas.points(df, "x", "y", agg=ours_rd.by(ours_rd.category_modulo("k", 3)))
    assert mod.dims == ("y", "x", "k")
    assert mod.coords["k"].dtype == np.int64 and mod.coords["k"].values.tolist() == [0, 1, 2]
    binned = canvas.points(df, "x", "y", agg=ours_rd.by(ours_rd.category_binning("u", -1, 1, 4)))
    assert binned.dims == ("y", "x", "u")
    assert binned.coords["u"].values.tolist() == [0, 1, 2, 3, 4]
    nby = canvas.points(df, "x", "y", agg=ours_rd.by("cat", ours_rd.max_n("v", n=3)))
    assert nby.dims == ("y", "x", "cat", "n")
    assert nby.coords["cat"].values.tolist() == ["c", "a", "b", "unused"]


INVALID = {
    # where's selector must be first/first_n/last/last_n/max/max_n/min/min_n
    "where(count())": (lambda m: m.where(m.count()), TypeError),
    "where(count(v),w)": (lambda m: m.where(m.count("v"), "w"), TypeError),
    "where(sum)": (lambda m: m.where(m.sum("v"), "w"), TypeError),
    "where(mean)": (lambda m: m.where(m.mean("v")), TypeError),
    "where(any)": (lambda m: m.where(m.any("v")), TypeError),
    "where(where)": (lambda m: m.where(m.where(m.max("v"), "w")), TypeError),
    "where(by)": (lambda m: m.where(m.by("cat", m.max("v")), "w"), TypeError),
    "where(str)": (lambda m: m.where("v", "w"), TypeError),
    "where same column": (lambda m: m.where(m.max("v"), "v"), ValueError),
    "where(max_n) same column": (lambda m: m.where(m.max_n("w", n=2), "w"), ValueError),
    "where bool lookup": (lambda m: m.where(m.max("v"), "flag"), ValueError),
    "where categorical lookup": (lambda m: m.where(m.max("v"), "cat"), ValueError),
    "where datetime lookup": (lambda m: m.where(m.max("v"), "t"), ValueError),
    "where(max(bool))": (lambda m: m.where(m.max("flag"), "w"), ValueError),
    "where(first(datetime))": (lambda m: m.where(m.first("t"), "w"), ValueError),
    "max_n(bool)": (lambda m: m.max_n("flag", n=2), ValueError),
    "first_n(categorical)": (lambda m: m.first_n("cat", n=2), ValueError),
    "last_n(datetime)": (lambda m: m.last_n("t", n=2), ValueError),
    "max_n(n=2.5)": (lambda m: m.max_n("v", n=2.5), TypeError),
    "min_n(n=None)": (lambda m: m.min_n("v", n=None), TypeError),
    # summary
    "summary()": (lambda m: m.summary(), ValueError),
    "summary different n": (
        lambda m: m.summary(a=m.max_n("v", n=2), b=m.min_n("v", n=3)),
        ValueError,
    ),
    "summary where different n": (
        lambda m: m.summary(a=m.where(m.max_n("v", n=2), "w"), b=m.first_n("v", n=3)),
        ValueError,
    ),
    "summary(summary)": (lambda m: m.summary(a=m.summary(b=m.count())), TypeError),
    "summary positional": (lambda m: m.summary(m.count()), TypeError),
    # by
    "by(123)": (lambda m: m.by(123), TypeError),
    "by(cat, by)": (lambda m: m.by("cat", m.by("cat2")), NotImplementedError),
    # categorizers on the wrong dtypes
    "codes(int)": (lambda m: m.by(m.category_codes("k")), ValueError),
    "codes(float)": (lambda m: m.by(m.category_codes("v"), m.max_n("w", n=2)), ValueError),
    "modulo(float)": (lambda m: m.by(m.category_modulo("v", 3)), ValueError),
    "modulo(float32)": (lambda m: m.by(m.category_modulo("f32", 3)), ValueError),
    "modulo(categorical)": (lambda m: m.by(m.category_modulo("cat", 3)), ValueError),
    "modulo(datetime)": (lambda m: m.by(m.category_modulo("t", 3)), ValueError),
    "modulo(k,0)": (lambda m: m.by(m.category_modulo("k", 0)), NotImplementedError),
    "modulo(k,-3)": (lambda m: m.by(m.category_modulo("k", -3)), NotImplementedError),
    "binning(categorical)": (lambda m: m.by(m.category_binning("cat", 0, 1, 2)), TypeError),
    "binning(datetime)": (lambda m: m.by(m.category_binning("t", 0, 1, 2)), TypeError),
    "binning(nbins=0)": (lambda m: m.by(m.category_binning("u", 0, 1, 0)), ZeroDivisionError),
}


@pytest.fixture(scope="module")
def df_invalid(df):
    return df.iloc[:500].assign(
        t=pd.date_range("2020-01-01", periods=500, freq="h"),
        cat2=pd.Categorical(np.where(np.arange(500) % 3 == 0, "p", "q")),
    )


@pytest.mark.parametrize("name", list(INVALID))
def test_invalid_raises_like_datashader(df_invalid, name):
    make, exc = INVALID[name]
    with pytest.raises(exc):
        dsh.Canvas(6, 6).points(df_invalid, "x", "y", agg=make(theirs_rd))
    with pytest.raises(exc):
        ds.Canvas(6, 6).points(df_invalid, "x", "y", agg=make(ours_rd))


LINE_CASES = {
    "max_n(v,3)": lambda m: m.max_n("v", 3),
    "first_n(v,2)": lambda m: m.first_n("v", 2),
    "where(max(v))": lambda m: m.where(m.max("v")),
    "where(last_n(v,2))": lambda m: m.where(m.last_n("v", 2)),
    "by(cat,min_n(v,2))": lambda m: m.by("cat", m.min_n("v", 2)),
}


@pytest.fixture(scope="module")
def walk():
    rng = np.random.default_rng(3)
    n = 400
    return pd.DataFrame(
        {
            "x": rng.random(n),
            "y": rng.random(n),
            "v": rng.integers(0, 4, n).astype(float),
            "cat": pd.Categorical(rng.choice(["a", "b"], n)),
        }
    )


@pytest.mark.parametrize("name", list(LINE_CASES))
def test_line_axis0_matches_datashader(walk, name):
    """A line down the rows: each segment's pixels take the row's value and
    position, ranked as for points."""
    make = LINE_CASES[name]
    theirs = dsh.Canvas(30, 20).line(walk, "x", "y", agg=make(theirs_rd))
    ours = ds.Canvas(30, 20).line(walk, "x", "y", agg=make(ours_rd))
    assert_same(ours, theirs)


def test_line_lookup_column_is_named_as_not_implemented(walk):
    with pytest.raises(NotImplementedError, match="lookup"):
        ds.Canvas(30, 20).line(walk, "x", "y", agg=ours_rd.where(ours_rd.max("v"), "cat"))
