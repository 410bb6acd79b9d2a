"""Canvas.line(source, geometry=...) against Datashader 0.19.1 itself, on
GeoPandas and spatialpandas GeoDataFrames: LineString, MultiLineString,
Polygon and MultiPolygon columns (a polygon's rings drawn as closed lines),
with NaN vertices, missing geometries, clipping ranges, every reduction
Datashader allows, plain and antialiased. The two sources go through
Datashader's two kernels, which flag line starts differently
(datashader#1509): each is matched as it is."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import pointillist as ds
from test_lines import REDUCTIONS
from test_points import assert_same

dsh = pytest.importorskip("datashader")
gpd = pytest.importorskip("geopandas")
shapely = pytest.importorskip("shapely")
spd = pytest.importorskip("spatialpandas")


def _frame(geoms, rng):
    n = len(geoms)
    return gpd.GeoDataFrame(
        {
            "v": rng.normal(size=n),
            "i": rng.integers(-5, 5, size=n),
            "f32": rng.normal(size=n).astype("f4"),
            "cat": pd.Categorical(rng.choice(["a", "b", "c"], size=n)),
        },
        geometry=geoms,
    )


@pytest.fixture(scope="module")
def frames():
    """Lines (single, multi, with a NaN vertex, two-vertex segments, a
    missing row) and polygons (with holes, multi polygons)."""
    rng = np.random.default_rng(7)
    lines = []
    for k in range(400):
        n = int(rng.integers(2, 9))
        pts = rng.uniform(-10, 10, size=(n, 2))
        if k % 37 == 5 and n > 3:
            pts[n // 2] = np.nan
        if k % 4 == 1:
            lines.append(shapely.MultiLineString([pts, rng.uniform(-12, 12, size=(3, 2))]))
        elif k % 53 == 9:
            lines.append(None)
        else:
            lines.append(shapely.LineString(pts))
    polys = []
    for k in range(120):
        c = rng.uniform(-8, 8, size=2)
        r = rng.uniform(0.5, 3)
        t = np.sort(rng.uniform(0, 2 * np.pi, size=int(rng.integers(3, 9))))
        ring = np.c_[c[0] + r * np.cos(t), c[1] + r * np.sin(t)]
        hole = np.c_[c[0] + 0.3 * r * np.cos(t), c[1] + 0.3 * r * np.sin(t)]
        p = shapely.Polygon(ring, [hole[::-1]] if k % 3 == 0 else None)
        polys.append(shapely.MultiPolygon([p, shapely.Polygon(ring + 9)]) if k % 5 == 0 else p)
    out = {"lines": _frame(lines, rng), "polygons": _frame(polys, rng)}
    # The spatialpandas frames are built once: converting is most of a case's time.
    out.update({("spatialpandas", k): spd.GeoDataFrame(g) for k, g in list(out.items())})
    return out


def source(frames, shape, kind):
    if kind == "spatialpandas":
        return frames[(kind, shape)]
    return frames[shape]


RANGES = {"auto": {}, "clipped": dict(x_range=(-6.0, 7.0), y_range=(-5.0, 8.0))}
PLAIN = [r for r in REDUCTIONS]
AA = ["count", "any", "sum", "mean", "min", "max(f32)", "first", "last", "count_cat"]


# Every reduction on the whole extent; clipping (which only decides which
# segments and pixels are kept, the same for every reduction) on a few.
PLAIN_CASES = [(r, "auto") for r in PLAIN] + [
    (r, "clipped") for r in ("count", "sum", "first", "count_cat")
]
# Every reduction at width 1 on lines; polygons (the same segments, closed)
# and the wider kernel on two. (Most of a case's time is Datashader
# compiling its kernel for that geometry type and reduction.)
AA_CASES = (
    [(r, 1.0, "lines") for r in AA]
    + [(r, 1.0, "polygons") for r in ("count", "first")]
    + [(r, 2.5, "lines") for r in ("count", "max(f32)")]
)


@pytest.mark.parametrize("kind", ["geopandas", "spatialpandas"])
@pytest.mark.parametrize("shape", ["lines", "polygons"])
@pytest.mark.parametrize("reduction,rng_name", PLAIN_CASES)
def test_plain_geometry_lines_match_datashader(frames, kind, shape, rng_name, reduction):
    src = source(frames, shape, kind)
    kw = dict(plot_width=83, plot_height=61, **RANGES[rng_name])
    theirs = dsh.Canvas(**kw).line(src, geometry="geometry", agg=REDUCTIONS[reduction](dsh))
    ours = ds.Canvas(**kw).line(src, geometry="geometry", agg=REDUCTIONS[reduction](ds))
    assert_same(ours, theirs)


@pytest.mark.parametrize("kind", ["geopandas", "spatialpandas"])
@pytest.mark.parametrize("reduction,width,shape", AA_CASES)
def test_antialiased_geometry_lines_match_datashader(frames, kind, shape, width, reduction):
    src = source(frames, shape, kind)
    kw = dict(plot_width=83, plot_height=61)
    theirs = dsh.Canvas(**kw).line(
        src, geometry="geometry", agg=REDUCTIONS[reduction](dsh), line_width=width
    )
    ours = ds.Canvas(**kw).line(
        src, geometry="geometry", agg=REDUCTIONS[reduction](ds), line_width=width
    )
    assert_same(ours, theirs)


@pytest.mark.parametrize("reduction", ["count", "sum"])
def test_antialiased_geometry_lines_without_self_intersection(frames, reduction):
    src = frames["lines"]
    make = lambda m: getattr(m, reduction)(*(["v"] if reduction == "sum" else []), self_intersect=False)  # noqa: E731
    theirs = dsh.Canvas(70, 50).line(src, geometry="geometry", agg=make(dsh), antialias=True)
    ours = ds.Canvas(70, 50).line(src, geometry="geometry", agg=make(ds), antialias=True)
    assert_same(ours, theirs)


@pytest.mark.parametrize("columns", [["geometry", "v"], None])
def test_a_spatial_index_sets_the_order_spatialpandas_draws_in(frames, columns):
    # With only the columns it needs, Datashader keeps the R-tree and draws
    # the rows it finds, in its order; with more, its column selection
    # drops the tree and rows go in order.
    g = frames["lines"] if columns is None else frames["lines"][columns]
    src = spd.GeoDataFrame(g)
    src["geometry"].array.sindex  # built
    for make in (lambda m: m.first("v"), lambda m: m.last("v"), lambda m: m.count()):
        kw = dict(plot_width=50, plot_height=40, x_range=(-4.0, 6.0), y_range=(-3.0, 5.0))
        theirs = dsh.Canvas(**kw).line(src, geometry="geometry", agg=make(dsh))
        ours = ds.Canvas(**kw).line(src, geometry="geometry", agg=make(ds))
        assert_same(ours, theirs)


@pytest.mark.parametrize("reduction", ["count", "first", "count_cat"])
def test_line_strings_only_match_datashader(frames, reduction):
    # A column of line strings alone (NaN vertices and missing rows kept)
    # reaches the core by pointillist's own path, not to_ragged_array's.
    g = frames["lines"]
    keep = g.geometry.isna() | (g.geometry.geom_type == "LineString")
    src = g[keep.to_numpy()]
    present = src.geometry.notna()
    assert (~present).any() and (src.geometry[present].geom_type == "LineString").all()
    assert np.isnan(shapely.get_coordinates(src.geometry[present].array)).any()
    for lw in (0, 1.0):
        kw = dict(plot_width=83, plot_height=61)
        make = REDUCTIONS[reduction]
        theirs = dsh.Canvas(**kw).line(src, geometry="geometry", agg=make(dsh), line_width=lw)
        ours = ds.Canvas(**kw).line(src, geometry="geometry", agg=make(ds), line_width=lw)
        assert_same(ours, theirs)


@pytest.mark.parametrize("encoding", ["WKB", "geoarrow"])
@pytest.mark.parametrize("shape", ["lines", "polygons"])
def test_geoparquet_paths_draw_as_spatialpandas_does(frames, shape, encoding, tmp_path):
    # A GeoParquet file written by GeoPandas, read by the core (no GEOS),
    # is the spatialpandas frame of the same rows.
    g = frames[shape]
    path = tmp_path / "g.parquet"
    g.to_parquet(path, geometry_encoding=encoding)
    src = frames[("spatialpandas", shape)]
    for make, lw in ((REDUCTIONS["count"], 0), (REDUCTIONS["first"], 0), (REDUCTIONS["sum"], 1.0)):
        kw = dict(plot_width=83, plot_height=61)
        theirs = dsh.Canvas(**kw).line(src, geometry="geometry", agg=make(dsh), line_width=lw)
        ours = ds.Canvas(**kw).line(str(path), geometry="geometry", agg=make(ds), line_width=lw)
        assert_same(ours, theirs)


def test_rings_draw_as_closed_lines():
    rings = spd.GeoSeries(
        spd.geometry.RingArray([[0, 0, 4, 0, 4, 3, 0, 3, 0, 0], [1, 1, 2, 2, 1, 2, 1, 1]])
    )
    src = spd.GeoDataFrame({"geometry": rings, "v": [1.0, 2.0]})
    for make in (lambda m: m.count(), lambda m: m.sum("v")):
        theirs = dsh.Canvas(20, 15).line(src, geometry="geometry", agg=make(dsh))
        ours = ds.Canvas(20, 15).line(src, geometry="geometry", agg=make(ds))
        assert_same(ours, theirs)


def test_bad_geometry_arguments_raise_as_datashader_does(frames):
    g = frames["lines"]
    cvs = ds.Canvas(10, 10)
    with pytest.raises(ValueError, match="geometry argument"):
        cvs.line(g, x="v", y="v", geometry="geometry")
    with pytest.raises(ValueError, match="source must be an instance"):
        cvs.line(pd.DataFrame({"geometry": [1.0]}), geometry="geometry")
    points = gpd.GeoDataFrame(geometry=[shapely.Point(0, 0), shapely.Point(1, 1)])
    with pytest.raises(ValueError, match="LINESTRING, MULTILINESTRING"):
        cvs.line(points, geometry="geometry")
    with pytest.raises(NotImplementedError, match="antialiased"):
        cvs.line(g, geometry="geometry", agg=ds.var("v"), line_width=1)


# --- Dask: spatialpandas.dask.DaskGeoDataFrame and dask_geopandas ---------


@pytest.fixture(scope="module")
def dask_frames(frames):
    """The frames sorted by their geometries' left edge and cut into four
    partitions, so that clipping ranges leave some partitions (or rows)
    out, as Datashader's ``cx_partitions`` / ``cx`` do."""
    dd = pytest.importorskip("dask.dataframe")
    dgpd = pytest.importorskip("dask_geopandas")
    out = {}
    for shape in ("lines", "polygons"):
        g = frames[shape]
        order = np.argsort(g.geometry.bounds["minx"].fillna(0).to_numpy(), kind="stable")
        g = g.iloc[order].reset_index(drop=True)
        # dask-geopandas' `cx` runs GEOS predicates, which refuse NaN
        # vertices (Datashader fails on them too): those lines are left out.
        coords = g.geometry.get_coordinates(index_parts=False)
        has_nan = coords.isna().any(axis=1).groupby(level=0).any()
        clean = g[~has_nan.reindex(g.index, fill_value=False).to_numpy()]
        dg = dgpd.from_geopandas(clean.reset_index(drop=True), npartitions=4)
        dg.calculate_spatial_partitions()  # what `cx` (and so Datashader) needs
        out[("geopandas", shape)] = dg
        out[("spatialpandas", shape)] = dd.from_pandas(spd.GeoDataFrame(g), npartitions=4)
    return out


DASK_CASES = [
    (r, "auto") for r in ("count", "any", "sum", "min", "first", "last", "count_cat")
] + [(r, "clipped") for r in ("count", "first", "count_cat")]


@pytest.mark.parametrize("kind", ["geopandas", "spatialpandas"])
@pytest.mark.parametrize("shape", ["lines", "polygons"])
@pytest.mark.parametrize("reduction,rng_name", DASK_CASES)
def test_dask_geometry_lines_match_datashader(dask_frames, kind, shape, reduction, rng_name):
    dask = pytest.importorskip("dask")
    src = dask_frames[(kind, shape)]
    kw = dict(plot_width=83, plot_height=61, **RANGES[rng_name])
    with dask.config.set(scheduler="sync"):
        theirs = dsh.Canvas(**kw).line(src, geometry="geometry", agg=REDUCTIONS[reduction](dsh))
        ours = ds.Canvas(**kw).line(src, geometry="geometry", agg=REDUCTIONS[reduction](ds))
    assert_same(ours, theirs)


@pytest.mark.parametrize("kind", ["geopandas", "spatialpandas"])
@pytest.mark.parametrize("reduction", ["count", "max(f32)"])
def test_dask_antialiased_geometry_lines_match_datashader(dask_frames, kind, reduction):
    dask = pytest.importorskip("dask")
    src = dask_frames[(kind, "lines")]
    kw = dict(plot_width=83, plot_height=61)
    with dask.config.set(scheduler="sync"):
        theirs = dsh.Canvas(**kw).line(
            src, geometry="geometry", agg=REDUCTIONS[reduction](dsh), line_width=1.5
        )
        ours = ds.Canvas(**kw).line(
            src, geometry="geometry", agg=REDUCTIONS[reduction](ds), line_width=1.5
        )
    if reduction == "count":
        # float32 coverage: partitions add up in partition order as
        # Datashader's combine does, but not with its roundings; pixels are
        # crossed by a few lines here, so within a few float32 roundings
        # (the bound test_antialias.py justifies).
        assert ours.dtype == theirs.dtype == np.float32
        np.testing.assert_allclose(ours.values, theirs.values, rtol=1e-5, atol=0, equal_nan=True)
        xr.testing.assert_identical(ours.copy(data=theirs.values), theirs)
        return
    assert_same(ours, theirs)
