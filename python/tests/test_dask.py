"""pointillist.dask on a real distributed cluster (two worker processes):
``Canvas.points`` of Dask DataFrames (empty partitions included) and of
Parquet fragments read by the Rust core on the workers, against the
single-process pointillist run on the same rows and against Datashader +
Dask. Counts, any, min, max, first, last and categorical planes exactly;
float sums within 1e-9 relative."""

from __future__ import annotations

import logging
import sys

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import xarray as xr

dask = pytest.importorskip("dask")
dd = pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("distributed")

import pointillist as ds  # noqa: E402
import pointillist.dask as pdask  # noqa: E402
from pointillist import _native  # noqa: E402

dsh = pytest.importorskip("datashader")


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
        silence_logs=logging.ERROR,
    )
    c = distributed.Client(cluster, set_as_default=True)
    try:
        yield c
    finally:
        c.close()
        cluster.close()


def assert_same(ours, theirs, exact=None):
    """The same DataArray (dims, coords and their dtypes, attrs, dtype);
    values identical (NaN where NaN) unless floats of a sum, then within a
    relative 1e-9."""
    assert type(ours) is xr.DataArray
    assert ours.dtype == theirs.dtype, (ours.dtype, theirs.dtype)
    assert ours.dims == theirs.dims
    assert ours.name == theirs.name
    if exact is None:
        exact = ours.dtype.kind != "f"
    if exact:
        np.testing.assert_array_equal(ours.values, theirs.values)
        xr.testing.assert_identical(ours.copy(data=theirs.values), theirs)
    else:
        np.testing.assert_allclose(ours.values, theirs.values, rtol=1e-9, atol=0, equal_nan=True)
        xr.testing.assert_identical(ours.copy(data=theirs.values), theirs)
    for k in theirs.coords:
        assert ours.coords[k].dtype == theirs.coords[k].dtype, k
        np.testing.assert_array_equal(ours.coords[k].values, theirs.coords[k].values)
    assert ours.attrs == theirs.attrs
    assert ours.values.flags.c_contiguous


@pytest.fixture(scope="module")
def df():
    rng = np.random.default_rng(7)
    n = 12_000
    frame = pd.DataFrame(
        {
            "x": rng.normal(size=n),
            "y": rng.normal(size=n) * 3 + 1,
            "v": rng.normal(size=n),
            "i": rng.integers(-5, 100, size=n),
            "cat": pd.Categorical(
                rng.choice(["b", "a", "d", "c"], size=n),
                categories=["d", "b", "a", "c", "unused"],
            ),
            "icat": pd.Categorical(rng.choice([30, 10, 20], size=n), categories=[30, 10, 20]),
        }
    )
    frame.loc[::7, "v"] = np.nan
    frame.loc[::11, "x"] = np.nan
    frame.loc[::13, "cat"] = None
    return frame


# Partition boundaries with empty partitions at the start, in the middle
# (several in a row) and at the end.
CUTS = [0, 0, 1500, 1500, 1500, 4000, 4001, 9000, 12_000, 12_000]


def with_empty_partitions(frame):
    chunks = [frame.iloc[a:b] for a, b in zip(CUTS[:-1], CUTS[1:])]
    ddf = dd.from_delayed([dask.delayed(c) for c in chunks], meta=frame.iloc[:0])
    assert ddf.npartitions == len(chunks)
    return ddf


REDUCTIONS = {
    "count": lambda m: m.count(),
    "count(v)": lambda m: m.count("v"),
    "any": lambda m: m.any(),
    "sum": lambda m: m.sum("v"),
    "sum(i)": lambda m: m.sum("i"),
    "mean": lambda m: m.mean("v"),
    "min": lambda m: m.min("v"),
    "max": lambda m: m.max("v"),
    "max(i)": lambda m: m.max("i"),
    "var": lambda m: m.var("v"),
    "std": lambda m: m.std("v"),
    "first": lambda m: m.first("v"),
    "last": lambda m: m.last("v"),
    "count_cat": lambda m: m.count_cat("cat"),
    "count_cat(icat)": lambda m: m.count_cat("icat"),
    "by(cat, sum)": lambda m: m.by("cat", m.sum("v")),
    "by(cat, first)": lambda m: m.by("cat", m.first("v")),
    "by(icat, last)": lambda m: m.by("icat", m.last("v")),
}

# Reductions of float sums (within 1e-9 relative); the others are exact.
ROUNDED = {"sum", "mean", "var", "std", "by(cat, sum)"}

GIVEN = dict(x_range=(-1, 2), y_range=(-2.5, 4.0))


def datashader_dask(ddf, reduction, **ranges):
    """Datashader + Dask's result (on the synchronous scheduler: the values
    do not depend on where they are computed)."""
    with dask.config.set(scheduler="sync"):
        return dsh.Canvas(37, 23, **ranges).points(
            ddf, "x", "y", agg=REDUCTIONS[reduction](dsh)
        )


@pytest.mark.parametrize("ranges", ["auto", "given"])
@pytest.mark.parametrize("reduction", list(REDUCTIONS))
def test_empty_partitions_match_single_process(client, df, reduction, ranges):
    kw = GIVEN if ranges == "given" else {}
    ddf = with_empty_partitions(df)
    ours = ds.Canvas(37, 23, **kw).points(ddf, "x", "y", agg=REDUCTIONS[reduction](ds))
    single = ds.Canvas(37, 23, **kw).points(df, "x", "y", agg=REDUCTIONS[reduction](ds))
    assert_same(ours, single, exact=reduction not in ROUNDED)


@pytest.mark.parametrize("reduction", list(REDUCTIONS))
def test_empty_partitions_match_datashader(client, df, reduction):
    # Datashader's own bounds fail on empty partitions (NumPy's nanmin of
    # nothing), so it gets both ranges here; see the next test for bounds.
    ddf = with_empty_partitions(df)
    ours = ds.Canvas(37, 23, **GIVEN).points(ddf, "x", "y", agg=REDUCTIONS[reduction](ds))
    assert_same(ours, datashader_dask(ddf, reduction, **GIVEN), exact=reduction not in ROUNDED)


@pytest.mark.parametrize("reduction", list(REDUCTIONS))
def test_data_ranges_match_datashader(client, df, reduction):
    ddf = dd.from_pandas(df, npartitions=5)
    ours = ds.Canvas(37, 23).points(ddf, "x", "y", agg=REDUCTIONS[reduction](ds))
    theirs = datashader_dask(ddf, reduction)
    assert_same(ours, theirs, exact=reduction not in ROUNDED)
    for k in ("x_range", "y_range"):
        assert [type(v) for v in ours.attrs[k]] == [type(v) for v in theirs.attrs[k]]


@pytest.mark.parametrize("split_every", [2, 3, 8, 64])
@pytest.mark.parametrize("reduction", ["count", "sum", "first", "last", "by(cat, first)"])
def test_tree_shapes(client, df, reduction, split_every):
    ddf = dd.from_pandas(df, npartitions=17)
    make = REDUCTIONS[reduction]
    ours = pdask.points(ds.Canvas(37, 23), ddf, "x", "y", make(ds), split_every=split_every)
    single = ds.Canvas(37, 23).points(df, "x", "y", make(ds))
    assert_same(ours, single, exact=reduction not in ROUNDED)


def test_one_partition_and_all_empty(client, df):
    one = dd.from_pandas(df, npartitions=1)
    assert_same(
        ds.Canvas(20, 10).points(one, "x", "y", ds.last("v")),
        ds.Canvas(20, 10).points(df, "x", "y", ds.last("v")),
    )
    empty = with_empty_partitions(df.iloc[:0])
    for make in (REDUCTIONS["count"], REDUCTIONS["first"], REDUCTIONS["count_cat"]):
        assert_same(
            ds.Canvas(5, 4).points(empty, "x", "y", make(ds)),
            ds.Canvas(5, 4).points(df.iloc[:0], "x", "y", make(ds)),
        )


@pytest.mark.parametrize(
    "frame",
    [
        pd.DataFrame({"x": [1.0, 1.0, 1.0], "y": [2.0, 2.0, 3.0]}),  # one value: (v-1, v+1)
        pd.DataFrame({"x": [np.nan, np.nan, np.nan], "y": [1.0, 2.0, 3.0]}),  # (-1, 1)
        # Datashader keeps infinities in the bounds, so they become (-1, 1).
        pd.DataFrame({"x": [0.0, 1.0, np.inf], "y": [0.0, -np.inf, 2.0]}),
        pd.DataFrame({"x": [3, 7, 5], "y": np.array([0.5, 1.5, 1.0], dtype="float32")}),
    ],
    ids=["single-value", "all-nan", "infinite", "int-and-float32"],
)
def test_degenerate_ranges(client, frame):
    ddf = dd.from_pandas(frame, npartitions=2)
    ours = ds.Canvas(5, 4).points(ddf, "x", "y")
    assert_same(ours, ds.Canvas(5, 4).points(frame, "x", "y"))
    with dask.config.set(scheduler="sync"):
        assert_same(ours, dsh.Canvas(5, 4).points(ddf, "x", "y"))


@pytest.mark.parametrize("axes", [("log", "linear"), ("log", "log")])
def test_log_axes(client, df, axes):
    frame = df.assign(x=np.abs(df.x) + 0.01, y=np.abs(df.y) + 0.01)
    ddf = with_empty_partitions(frame)
    kw = dict(x_axis_type=axes[0], y_axis_type=axes[1])
    assert_same(
        ds.Canvas(30, 20, **kw).points(ddf, "x", "y", ds.max("v")),
        ds.Canvas(30, 20, **kw).points(frame, "x", "y", ds.max("v")),
    )
    with pytest.raises(ValueError, match="Range values must be >0"):
        ds.Canvas(30, 20, **kw).points(with_empty_partitions(df), "x", "y")


def test_unknown_categories_are_found_first(client, df):
    ddf = dd.from_pandas(df, npartitions=4)
    unknown = ddf.assign(cat=ddf["cat"].cat.as_unknown())
    assert not unknown["cat"].cat.known
    ours = ds.Canvas(20, 10).points(unknown, "x", "y", ds.count_cat("cat"))
    with dask.config.set(scheduler="sync"):
        theirs = dsh.Canvas(20, 10).points(unknown, "x", "y", dsh.count_cat("cat"))
    assert_same(ours, theirs)


def test_errors(client, df):
    ddf = dd.from_pandas(df, npartitions=3)
    with pytest.raises(ValueError, match="specified column not found"):
        ds.Canvas(5, 5).points(ddf, "x", "nope")
    with pytest.raises(ValueError, match="input must be categorical"):
        ds.Canvas(5, 5).points(ddf, "x", "y", ds.count_cat("v"))
    with pytest.raises(NotImplementedError, match="give a dask.dataframe.DataFrame"):
        ds.Canvas(5, 5).points(ddf["x"], "x", "y")
    with pytest.raises(ValueError, match="split_every"):
        pdask.points(ds.Canvas(5, 5), ddf, "x", "y", split_every=1)


def test_work_runs_on_the_workers(client, df):
    ddf = dd.from_pandas(df, npartitions=6)
    ds.Canvas(20, 10).points(ddf, "x", "y", ds.mean("v"))
    loaded = client.run(lambda: "pointillist._native" in sys.modules)
    assert len(loaded) == 2 and any(loaded.values()), loaded


# --- Native partials -----------------------------------------------------


def _params(**kw):
    p = dict(
        x="x", y="y", width=9, height=7, reduction="first", column="v",
        x_range=(-2.0, 2.0), y_range=(-5.0, 7.0),
    )
    p.update(kw)
    return p


@pytest.mark.parametrize("reduction", ["first", "last", "count", "max"])
def test_native_merge_in_any_order(df, reduction):
    """Partials positioned by their global first row merge to the same
    cells in any order, and equal the single-process aggregate."""
    params = _params(reduction=reduction, column=None if reduction == "count" else "v")
    table = pa.Table.from_pandas(df[["x", "y", "v"]], preserve_index=False)
    parts = [
        _native.partial_from_stream(table.slice(a, b - a), params, first_row=a)
        for a, b in zip(CUTS[:-1], CUTS[1:])
    ]
    whole = _native.aggregate_stream(table, params)
    for order in (parts, parts[::-1], parts[1::2] + parts[::2]):
        out = _native.finish_partial(_native.merge_partials(order))
        np.testing.assert_array_equal(out["values"], whole["values"])
        assert out["rows"] == len(df)
    info = _native.partial_info(parts[2])
    assert info["rows"] == CUTS[3] - CUTS[2]
    assert info["cells"] == 9 * 7


def test_native_refusals(df):
    table = pa.Table.from_pandas(df[["x", "y", "v"]], preserve_index=False)
    a = _native.partial_from_stream(table, _params())
    b = _native.partial_from_stream(table, _params(x_range=(-2.0, 2.5)))
    with pytest.raises(ValueError, match="x range"):
        _native.merge_partials([a, b])
    with pytest.raises(ValueError, match="x_range and y_range"):
        _native.partial_from_stream(table, _params(x_range=None))
    with pytest.raises(ValueError, match="no partial"):
        _native.merge_partials([])
    with pytest.raises(ValueError, match="partial aggregate"):
        _native.finish_partial(b"not a partial")


# --- Parquet fragments read by the core on the workers --------------------


@pytest.fixture(scope="module")
def parquet_path(tmp_path_factory, df):
    path = tmp_path_factory.mktemp("dask") / "points.parquet"
    table = pa.Table.from_pandas(df, preserve_index=False)
    pq.write_table(table, path, row_group_size=1000)  # 12 row groups
    assert pq.ParquetFile(path).metadata.num_row_groups == 12
    return path


@pytest.mark.parametrize("fragments", [None, 1, 5, 30])
@pytest.mark.parametrize("ranges", ["auto", "given"])
@pytest.mark.parametrize(
    "reduction", ["count", "any", "sum", "mean", "min", "max", "first", "last", "count_cat",
                  "by(cat, first)", "count_cat(icat)"]
)
def test_parquet_fragments_match_single_process(
    client, parquet_path, reduction, ranges, fragments
):
    kw = GIVEN if ranges == "given" else {}
    make = REDUCTIONS[reduction]
    source = pdask.read_parquet(parquet_path, fragments=fragments, split_every=3)
    ours = ds.Canvas(37, 23, **kw).points(source, "x", "y", make(ds))
    single = ds.Canvas(37, 23, **kw).points(str(parquet_path), "x", "y", make(ds))
    if len(ours.dims) == 3:
        # Single-process categories are pandas' (dictionary order), Dask's
        # are sorted, as with Datashader: the same planes, reordered.
        cat = ours.dims[2]
        assert sorted(single.coords[cat].values.tolist()) == ours.coords[cat].values.tolist()
        single = single.sel({cat: ours.coords[cat].values})
    assert_same(ours, single, exact=reduction not in ROUNDED)


def test_parquet_fragments_match_datashader(client, parquet_path, df):
    for reduction in ("count", "mean", "max", "first", "last"):
        ours = ds.Canvas(37, 23).points(pdask.read_parquet(parquet_path), "x", "y",
                                        REDUCTIONS[reduction](ds))
        theirs = dsh.Canvas(37, 23).points(df, "x", "y", REDUCTIONS[reduction](dsh))
        # The core's ranges come from Parquet statistics here: the same
        # values as Datashader's, as Python floats.
        assert_same(ours, theirs, exact=reduction not in ROUNDED)


def test_parquet_fragment_categories_match_datashader(client, parquet_path):
    """Categories of a Parquet dictionary column as Datashader + Dask find
    them (``dd.read_parquet``, then ``categorize``): sorted, unlike
    ``pd.read_parquet``'s dictionary order."""
    import dask.dataframe as dd

    for reduction in ("count_cat", "by(cat, first)"):
        ours = ds.Canvas(37, 23).points(
            pdask.read_parquet(parquet_path, fragments=4), "x", "y", REDUCTIONS[reduction](ds)
        )
        theirs = dsh.Canvas(37, 23).points(
            dd.read_parquet(parquet_path), "x", "y", REDUCTIONS[reduction](dsh)
        )
        assert_same(ours, theirs, exact=True)


def test_parquet_plan(parquet_path, df):
    plan = _native.parquet_plan(
        [str(parquet_path)],
        dict(x="x", y="y", width=10, height=10, reduction="count", by="cat"),
    )
    assert plan["rows"] == len(df) and plan["row_groups"] == 12
    # The Parquet dictionary holds all the pandas categories, sorted by the core.
    assert plan["categories"] == sorted(df["cat"].cat.categories)
    lo, hi = np.nanmin(df.x), np.nanmax(df.x)
    assert tuple(plan["x_range"]) == (lo, hi)


def test_parquet_missing_shard_is_refused(parquet_path):
    params = _params(reduction="count", column=None)
    paths = [str(parquet_path)]
    parts = [_native.partial_from_parquet(paths, i, 3, params) for i in (0, 2)]
    with pytest.raises(ValueError, match="missing"):
        _native.finish_partial(_native.merge_partials(parts))
    with pytest.raises(ValueError, match="given twice"):
        _native.merge_partials([parts[0], parts[0]])


# --- Lines, one per row (axis=1) -------------------------------------------


@pytest.fixture(scope="module")
def od():
    """Origin-destination rows with a stop-over vertex, NaN vertices,
    values and categories."""
    rng = np.random.default_rng(17)
    n = 3_000
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
    frame.loc[::13, "v"] = np.nan
    return frame


LINE_LAYOUTS = {
    "od": lambda: (["ox", "dx"], ["oy", "dy"]),
    "via": lambda: (["ox", "mx", "dx"], ["oy", "my", "dy"]),
    "constant-x": lambda: (np.array([0.0, 1.0, 2.5]), ["oy", "my", "dy"]),
}

LINE_REDUCTIONS = ["count", "sum", "last", "count_cat"]


@pytest.mark.parametrize("layout", list(LINE_LAYOUTS))
@pytest.mark.parametrize("reduction", LINE_REDUCTIONS)
def test_row_lines_on_dask_match_datashader(client, od, layout, reduction):
    x, y = LINE_LAYOUTS[layout]()
    ddf = dd.from_pandas(od, npartitions=4)
    make = REDUCTIONS[reduction]
    ours = ds.Canvas(41, 29).line(ddf, x, y, agg=make(ds), axis=1)
    theirs = dsh.Canvas(41, 29).line(ddf, x, y, agg=make(dsh), axis=1)
    local = ds.Canvas(41, 29).line(od, x, y, agg=make(ds), axis=1)
    assert_same(ours, theirs)
    assert_same(ours, local)
    # An empty partition too (which Datashader's range pass fails on:
    # NumPy's nanmin of nothing).
    with_empty = dd.concat([ddf, dd.from_pandas(od.iloc[:0], npartitions=1)])
    assert_same(ds.Canvas(41, 29).line(with_empty, x, y, agg=make(ds), axis=1), local)


def test_ragged_lines_on_dask_match_single_process(client):
    rng = np.random.default_rng(4)
    xs = [np.cumsum(rng.normal(size=int(rng.integers(0, 30)))) for _ in range(400)]
    ys = [np.cumsum(rng.normal(size=len(x))) for x in xs]
    frame = pd.DataFrame(
        {
            "xs": pd.array(xs, dtype="Ragged[float64]"),
            "ys": pd.array(ys, dtype="Ragged[float64]"),
            "v": rng.gamma(2.0, size=400),
        }
    )
    ddf = dd.from_pandas(frame, npartitions=3)
    for make in (lambda m: m.count(), lambda m: m.sum("v"), lambda m: m.any()):
        ours = ds.Canvas(43, 31).line(ddf, "xs", "ys", agg=make(ds), axis=1)
        local = ds.Canvas(43, 31).line(frame, "xs", "ys", agg=make(ds), axis=1)
        theirs = dsh.Canvas(43, 31).line(frame, "xs", "ys", agg=make(dsh), axis=1)
        assert_same(ours, local)
        assert_same(ours, theirs)


def test_row_lines_from_parquet_fragments(client, od, tmp_path):
    path = tmp_path / "od.parquet"
    pq.write_table(pa.Table.from_pandas(od, preserve_index=False), path, row_group_size=400)
    for reduction in ("count", "sum", "last"):
        make = REDUCTIONS[reduction]
        ours = ds.Canvas(41, 29).line(
            pdask.read_parquet(str(path), fragments=3), ["ox", "dx"], ["oy", "dy"],
            agg=make(ds), axis=1,
        )
        local = ds.Canvas(41, 29).line(str(path), ["ox", "dx"], ["oy", "dy"], agg=make(ds), axis=1)
        assert_same(ours, local)


@pytest.fixture(scope="module")
def track():
    """A 3,000-row walk with NaN breaks (some where partitions meet, one
    starting a line on a partition's last row), a lower line, values."""
    rng = np.random.default_rng(41)
    n = 3000
    x = np.cumsum(rng.normal(size=n))
    y = np.cumsum(rng.normal(size=n))
    low = y - np.abs(rng.normal(size=n)) * 3
    for i in (499, 998, 1000, 1500, 1501, 2222):
        x[i] = np.nan
    v = rng.gamma(2.0, size=n)
    v[::13] = np.nan
    return pd.DataFrame({"x": x, "y": y, "low": low, "v": v})


@pytest.mark.parametrize("reduction", ["count", "any", "sum", "min", "first", "last"])
@pytest.mark.parametrize("glyph", ["line", "lines", "area", "area-stacked"])
def test_lines_and_areas_down_the_rows_on_dask_match_datashader(client, track, glyph, reduction):
    make = REDUCTIONS[reduction]
    # Unequal partitions, two of them a row or two long.
    ddf = dd.from_pandas(track, npartitions=1).repartition(
        divisions=[0, 500, 501, 999, 1001, 1002, 1501, 2999]
    )
    draw = {
        "line": lambda m, src, agg: m.Canvas(43, 31).line(src, "x", "y", agg=agg),
        "lines": lambda m, src, agg: m.Canvas(43, 31).line(src, ["x", "x"], ["y", "low"], agg=agg),
        "area": lambda m, src, agg: m.Canvas(43, 31).area(src, "x", "y", agg=agg),
        "area-stacked": lambda m, src, agg: m.Canvas(43, 31).area(src, "x", "y", agg=agg, y_stack="low"),
    }[glyph]
    ours = draw(ds, ddf, make(ds))
    theirs = draw(dsh, track, make(dsh))
    local = draw(ds, track, make(ds))
    if reduction == "sum":
        # Each partition adds its pixels first, then the partials add up.
        for other in (theirs, local):
            np.testing.assert_allclose(ours.values, other.values, rtol=1e-12, equal_nan=True)
    else:
        assert_same(ours, theirs)
        assert_same(ours, local)


# Partitions cut at NaN breaks (and one- or two-row partitions), or in the
# middle of a line, where a partition's last segment is not the line's end.
AA_CUTS = {
    "nan": [0, 500, 501, 999, 1001, 1002, 1501, 2999],
    "mid": [0, 250, 251, 700, 1200, 1800, 2500, 2999],
}


@pytest.mark.parametrize(
    "glyph,reduction,cuts",
    [("line", r, c) for r in ("count", "any", "sum", "max") for c in AA_CUTS]
    + [("lines", r, "mid") for r in ("count", "max")],
)
def test_antialiased_lines_down_the_rows_on_dask_match_datashader(client, track, glyph, reduction, cuts):
    # Each partition is led in by the two rows before it and trails out
    # into the row after it (which says whether its last segment ends the
    # line), and draws the segments that end in it.
    make = REDUCTIONS[reduction]
    ddf = dd.from_pandas(track, npartitions=1).repartition(divisions=AA_CUTS[cuts])
    draw = {
        "line": lambda m, src, agg: m.Canvas(43, 31).line(src, "x", "y", agg=agg, line_width=1.5),
        "lines": lambda m, src, agg: m.Canvas(43, 31).line(
            src, ["x", "x"], ["y", "low"], agg=agg, line_width=1
        ),
    }[glyph]
    ours = draw(ds, ddf, make(ds))
    # Datashader's own Dask path draws each partition from the previous
    # one's last row with plot_start=False, which is not its pandas result:
    # the pandas result is the reference, as for plain lines.
    theirs = draw(dsh, track, make(dsh))
    local = draw(ds, track, make(ds))
    if reduction in ("count", "sum"):
        # Coverage (float32 for count) adds up partition by partition, not
        # row by row: within a few roundings of each pixel's sum.
        rtol = 1e-5 if ours.dtype == np.float32 else 1e-12
        for other in (theirs, local):
            assert ours.dtype == other.dtype
            np.testing.assert_allclose(ours.values, other.values, rtol=rtol, equal_nan=True)
    else:
        assert_same(ours, theirs)
        assert_same(ours, local)


def test_antialiased_lines_down_the_rows_on_dask_refuse_what_cannot_split(client, od, track, tmp_path):
    ddf = dd.from_pandas(track, npartitions=2)
    # A line's largest coverage over all its rows: not a sum of partitions.
    for agg in (ds.min("v"), ds.first("v"), ds.count(self_intersect=False)):
        with pytest.raises(NotImplementedError, match="axis=0"):
            ds.Canvas(10, 10).line(ddf, "x", "y", agg=agg, line_width=1)
    path = tmp_path / "track.parquet"
    pq.write_table(pa.Table.from_pandas(track, preserve_index=False), path)
    with pytest.raises(NotImplementedError, match="axis=0"):
        ds.Canvas(10, 10).line(pdask.read_parquet(str(path)), "x", "y", agg=ds.last("v"), line_width=1)


@pytest.mark.parametrize("reduction", ["count", "sum", "first"])
def test_lines_and_areas_down_the_rows_from_parquet_fragments(client, track, reduction, tmp_path):
    # Each fragment (a share of the row groups, read by the core on a
    # worker) reads the row group before its own, and antialiased the one
    # after, and draws the segments that end in its rows.
    path = tmp_path / "track.parquet"
    pq.write_table(pa.Table.from_pandas(track, preserve_index=False), path, row_group_size=250)
    make = REDUCTIONS[reduction]
    draws = {
        "line": lambda src: ds.Canvas(43, 31).line(src, "x", "y", agg=make(ds)),
        "area": lambda src: ds.Canvas(43, 31).area(src, "x", "y", agg=make(ds), y_stack="low"),
    }
    if reduction != "first":
        draws["antialiased"] = lambda src: ds.Canvas(43, 31).line(
            src, "x", "y", agg=make(ds), line_width=1.5
        )
    for name, draw in draws.items():
        local = draw(str(path))
        for fragments in (2, 5):
            ours = draw(pdask.read_parquet(str(path), fragments=fragments))
            if ours.dtype.kind == "f":
                rtol = 1e-5 if ours.dtype == np.float32 else 1e-12
                np.testing.assert_allclose(ours.values, local.values, rtol=rtol, equal_nan=True)
                xr.testing.assert_identical(ours.copy(data=local.values), local)
            else:
                assert_same(ours, local)


@pytest.mark.parametrize("reduction", ["count", "count-once", "min", "last"])
def test_antialiased_row_lines_on_dask_match_datashader(client, od, reduction):
    make = {
        "count": lambda m: m.count(),
        "count-once": lambda m: m.count(self_intersect=False),
        "min": lambda m: m.min("v"),
        "last": lambda m: m.last("v"),
    }[reduction]
    x, y = LINE_LAYOUTS["via"]()
    ddf = dd.from_pandas(od, npartitions=4)
    ours = ds.Canvas(41, 29).line(ddf, x, y, agg=make(ds), axis=1, line_width=2)
    # Datashader's Dask path turns antialiased `first`/`last` into a
    # row-index lookup of the plain value (not its pandas result, the
    # value times the coverage); pointillist gives the pandas result on
    # Dask too.
    on = od if reduction == "last" else ddf
    theirs = dsh.Canvas(41, 29).line(on, x, y, agg=make(dsh), axis=1, line_width=2)
    local = ds.Canvas(41, 29).line(od, x, y, agg=make(ds), axis=1, line_width=2)
    # Partitions add their float32 coverage in partition order, as
    # Datashader's combine does; within a partition the rows in turn.
    rtol = 1e-5 if ours.dtype == np.float32 else 1e-12
    for other in (theirs, local):
        assert ours.dtype == other.dtype
        np.testing.assert_allclose(ours.values, other.values, rtol=rtol, atol=0, equal_nan=True)
