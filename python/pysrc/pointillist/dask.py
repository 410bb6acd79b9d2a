"""pointillist.dask: aggregation of Dask DataFrames and Parquet fragments on
a Dask cluster (any ``distributed.Client``, or Dask's local schedulers).

``Canvas.points(ddf, ...)`` with a ``dask.dataframe.DataFrame`` comes here,
and so does ``Canvas.points(pointillist.dask.read_parquet(paths), ...)``,
whose fragments (shares of the inputs' row groups) are read by the Rust
core on the workers. Either way:

1. On the client, ranges and categories are resolved before the map step,
   so that every partial belongs to the same plan: the canvas's ranges, or
   the data's as Datashader computes them (Dask min/max of x and y, NaN
   skipped, infinities kept, then ``maybe_expand_bounds``), or, for
   Parquet, what the single-process run uses (Parquet statistics and
   dictionary pages where they decide, else a scan). Categories are the
   Dask categorical dtype's (``ddf.categorize`` first when unknown, as
   Datashader does). For ``first``/``last``, each partition's first row in
   the whole frame comes from ``ddf.map_partitions(len)``, computed once.
2. Map: each partition (or fragment) becomes a partial aggregate in Rust
   on a worker, with the GIL released, and travels as the library's
   serialised form (the Arrow IPC bytes of ``PartialAggregate::write_ipc``).
   Empty partitions give empty partials.
3. Reduce: partials are merged by a tree of ``dask.delayed`` tasks,
   ``split_every`` at a time, in partition order (``first``/``last`` go by
   row positions, so they are exact in any order anyway).
4. The client finishes the root partial into the ``xarray.DataArray`` that
   the single-process ``Canvas.points`` returns.

Only public Dask APIs are used (``DataFrame.to_delayed``, ``dask.delayed``,
``dask.compute``), never graph internals. Each task runs the core on one
thread (``threads=``, as a Dask worker runs one task per thread).
"""

from __future__ import annotations

import os

import numpy as np

from . import _native
from . import core
from . import reductions as rd

__all__ = ["points", "lines", "geometry_lines", "read_parquet", "ParquetFragments", "DEFAULT_SPLIT_EVERY"]

#: Partials merged per task of the tree reduction, unless asked otherwise.
DEFAULT_SPLIT_EVERY = 8


class ParquetFragments:
    """Parquet inputs split into ``fragments`` shares of their row groups
    (consecutive runs of about equal rows), each read by the Rust core on a
    Dask worker. Give it to ``Canvas.points`` as the source.

    ``paths``: a path, directory or glob, or a list of them (as
    ``Canvas.points`` takes them; made absolute on the client so that
    workers find them). ``fragments``: how many map tasks (default: two per
    thread of the cluster, at most one per row group: each fragment's rows
    go into one partial, so fewer, larger fragments mean fewer canvases to
    send and merge). ``split_every``: partials merged per reduction task.
    ``threads``: the core's threads per task (default 1).
    """

    def __init__(self, paths, fragments=None, split_every=None, threads=1):
        if not core._is_path(paths):
            raise TypeError(
                "read_parquet: paths must be a str or os.PathLike, or a list of them"
            )
        if isinstance(paths, (str, os.PathLike)):
            paths = [paths]
        self.paths = [os.path.abspath(os.fspath(p)) for p in paths]
        if fragments is not None and (not isinstance(fragments, int) or fragments < 1):
            raise ValueError(f"fragments must be a positive integer, not {fragments!r}")
        self.fragments = fragments
        self.split_every = split_every
        self.threads = _threads(threads)

    def __repr__(self):
        return f"ParquetFragments({self.paths!r}, fragments={self.fragments!r})"


def read_parquet(paths, fragments=None, split_every=None, threads=1):
    """Parquet ``paths`` for ``Canvas.points`` on a Dask cluster: see
    ``ParquetFragments``."""
    return ParquetFragments(
        paths, fragments=fragments, split_every=split_every, threads=threads
    )


def _threads(n):
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"threads must be a positive integer, not {n!r}")
    return n


def _cluster_threads():
    """Threads of the current distributed cluster, else this machine's cores."""
    try:
        from distributed import get_client

        return max(1, sum(get_client().nthreads().values()))
    except (ImportError, ValueError):
        return os.cpu_count() or 1


def points(canvas, source, x, y, agg=None, *, split_every=None, threads=None, point=None):
    """``canvas.points(source, x, y, agg)`` for a Dask DataFrame or a
    ``ParquetFragments``, on the current Dask scheduler. ``Canvas.points``
    calls this; call it directly to choose ``split_every`` or the core's
    ``threads`` per task (default 1, or the fragments'). ``point``: the
    core's ``point_radius`` and ``point_shape`` (points with a radius)."""
    if agg is None:
        agg = rd.count()
    if not isinstance(agg, rd.Reduction):
        raise TypeError(f"agg must be a Reduction, not {type(agg).__name__}")
    if not isinstance(x, str) or not isinstance(y, str):
        raise NotImplementedError(
            "Canvas.points: x and y must be column names (str) in pointillist"
        )
    canvas.validate()
    split_every = _split_every(
        split_every if split_every is not None else getattr(source, "split_every", None)
    )
    threads = _threads(
        threads if threads is not None else getattr(source, "threads", 1)
    )
    if isinstance(source, ParquetFragments):
        return _parquet_points(canvas, source, x, y, agg, split_every, threads, point=point)

    import dask.dataframe as dd

    if not isinstance(source, dd.DataFrame):
        raise NotImplementedError(
            f"Canvas.points: {type(source).__module__}.{type(source).__name__} sources are "
            "not implemented by pointillist; give a dask.dataframe.DataFrame"
        )
    return _dataframe_points(canvas, source, x, y, agg, split_every, threads, point=point)


def lines(
    canvas, source, x, y, agg, glyph, vertices, dims, *, aa=None, stacked=False,
    split_every=None, threads=None,
):
    """``canvas.line(source, ...)`` with ``axis=1`` (a line per row: lists
    of columns, constant coordinates or ragged list columns) for a Dask
    DataFrame or a ``ParquetFragments``: rows are independent, so each
    partition's partial merges with the others as for points (what
    Datashader's Dask path does for these layouts). With ``axis=0``
    (``glyph`` "line" or "area", Dask DataFrames, plain lines), each
    partition is led in by the last two rows before it and draws only the
    segments that end in it (``draw_from_row``), so the partials merged in
    order are the whole line's aggregate; a ``ParquetFragments`` fragment
    reads the row group before its own (and, antialiased, the one after)
    for the same effect. ``Canvas.line`` calls
    this with its checked layout: ``glyph`` "row-lines" or "ragged-lines",
    ``vertices`` (every vertex's ``(x, y)``, a column name or a number, or
    None), ``dims`` (the dimension names, or None for ``x`` and ``y``),
    ``aa`` (``line_width`` and ``self_intersect`` for antialiased lines:
    each partition's float32 coverage adds up in partition order, as
    Datashader combines its partitions)."""
    down = glyph in ("line", "area")
    if down and (aa or {}).get("line_width", 0) > 0:
        kind = agg._spec()[0]
        once = kind in ("count", "sum") and not aa.get("self_intersect", True)
        if kind in ("min", "first", "last") or once:
            raise NotImplementedError(
                f"Canvas.line: antialiased {kind}"
                + (" with self_intersect=False" if once else "")
                + " down the rows (axis=0) on Dask is not implemented by pointillist (a line's "
                "pixels take its largest coverage over all its partitions); use count, any, "
                "sum, mean or max, or a local DataFrame, Arrow table or Parquet path"
            )
    canvas.validate()
    split_every = _split_every(
        split_every if split_every is not None else getattr(source, "split_every", None)
    )
    threads = _threads(threads if threads is not None else getattr(source, "threads", 1))
    lines = dict(glyph=glyph, vertices=vertices, dims=dims, aa=aa or {}, stacked=stacked)
    if isinstance(source, ParquetFragments):
        return _parquet_points(canvas, source, x, y, agg, split_every, threads, lines)

    import dask.dataframe as dd

    if not isinstance(source, dd.DataFrame):
        raise NotImplementedError(
            f"Canvas.line: {type(source).__module__}.{type(source).__name__} sources are "
            "not implemented by pointillist; give a dask.dataframe.DataFrame"
        )
    return _dataframe_points(canvas, source, x, y, agg, split_every, threads, lines)


def geometry_lines(canvas, source, geometry, agg, aa, *, split_every=None, threads=None):
    """``canvas.line(source, geometry=...)`` for a spatialpandas
    ``DaskGeoDataFrame`` or a ``dask_geopandas.GeoDataFrame``, as Datashader
    draws them: the partitions (spatialpandas: ``cx_partitions``) or rows
    (dask-geopandas: ``cx``) over the canvas's ranges, the bounds of what is
    left (``total_bounds``) where the canvas has none, then each partition
    drawn by its library's kernel as a frame of its own (the GeoPandas
    kernel numbers vertices from the partition's first row) and the
    partials merged in partition order. ``aa``: ``line_width`` and
    ``self_intersect``."""
    import dask

    kernel = core._geometry_kernel_of(source)
    kind, column, cat_column = agg._spec()
    core._check_geometry_column(source, geometry, kernel)
    others = [c for c in dict.fromkeys((column, cat_column)) if c is not None]
    if geometry in others:
        raise ValueError(f"column {geometry!r} is the geometry, not a value or category column")
    core._check_columns(source.columns, others)
    split_every = _split_every(split_every)
    threads = _threads(threads if threads is not None else 1)

    xr_ = canvas.x_range if canvas.x_range is not None else (None, None)
    yr_ = canvas.y_range if canvas.y_range is not None else (None, None)
    if kernel == "spatialpandas":
        source = source.cx_partitions[slice(*xr_), slice(*yr_)]
    else:
        source = source.cx[slice(*xr_), slice(*yr_)]
    ddf = source[[geometry] + others]

    ddf, labels, coords = _categories(ddf, cat_column)

    wanted = {}
    if canvas.x_range is None or canvas.y_range is None:
        wanted["bounds"] = source[geometry].total_bounds
    if kind in ("first", "last"):
        wanted["lens"] = ddf.map_partitions(len)
    found = dask.compute(wanted)[0] if wanted else {}
    x_range, y_range = canvas.x_range, canvas.y_range
    if "bounds" in found:
        tb = [float(v) for v in np.asarray(found["bounds"], dtype="f8")]
        if x_range is None:
            x_range = _expand((tb[0], tb[2]))
        if y_range is None:
            y_range = _expand((tb[1], tb[3]))
    if "lens" in found:
        _, offsets = _row_offsets(found["lens"])
    else:
        offsets = [0] * ddf.npartitions
    canvas.validate_ranges(x_range, y_range)

    params = canvas._params(geometry, geometry, kind, column, cat_column, labels, x_range, y_range)
    params.update(agg._extra())
    params.update(glyph="geometry-lines", geometry_kernel=kernel, threads=threads, **aa)
    parts = ddf.to_delayed()
    if len(parts) != len(offsets):
        raise RuntimeError(
            f"pointillist.dask: {len(parts)} delayed partitions for {len(offsets)} lengths"
        )
    leaf = dask.delayed(_geometry_partition_partial, pure=True)
    leaves = [
        leaf(p, geometry, others, kernel, params, int(off)) for p, off in zip(parts, offsets)
    ]
    (blob,) = dask.compute(_tree(leaves, split_every))
    out = _native.finish_partial(blob)
    prepared = core._Prepared(labels=labels, coords=coords)
    return canvas._data_array(out, "x", "y", cat_column, prepared, x_range, y_range)


def _line_params(params, lines):
    """Add a line layout (from ``lines``) to the core's parameters."""
    if lines is None:
        return params
    params.update(lines.get("aa", {}))
    return core._layout_params(
        params, lines["glyph"], lines["vertices"], lines.get("stacked", False)
    )


def _coord_bounds(ddf, coords, ragged):
    """Delayed (min, max) pieces of the columns among ``coords`` (their
    flat values for ragged list columns) and the constants' own."""
    pieces = []
    for c in coords:
        if not isinstance(c, str):
            if not np.isnan(c):
                pieces.append((c, c))
        elif ragged:
            pieces.append(ddf[c].map_partitions(_flat_bounds, meta=(c, "object")))
        else:
            pieces.append((ddf[c].min(), ddf[c].max()))
    return pieces


def _flat_bounds(col):
    """A ragged partition's (nanmin, nanmax) of all its values."""
    import pandas as pd

    flat = np.asarray(col.array.flat_array, dtype="f8")
    flat = flat[~np.isnan(flat)]
    if len(flat) == 0:
        return pd.Series([(np.nan, np.nan)], dtype=object)
    return pd.Series([(flat.min(), flat.max())], dtype=object)


def _union(pieces):
    """The lowest minimum and highest maximum of computed (min, max) pieces."""
    import pandas as pd

    lo, hi = np.inf, -np.inf
    for piece in pieces:
        if isinstance(piece, pd.Series):
            parts = list(piece)
        else:
            parts = [piece]
        for a, b in parts:
            if not (pd.isna(a) or pd.isna(b)):
                lo, hi = min(lo, a), max(hi, b)
    if lo > hi:
        return (np.nan, np.nan)
    return (lo, hi)


def _split_every(n):
    if n is None:
        return DEFAULT_SPLIT_EVERY
    if isinstance(n, bool) or not isinstance(n, int) or n < 2:
        raise ValueError(f"split_every must be an integer of at least 2, not {n!r}")
    return n


def _dataframe_points(canvas, ddf, x, y, agg, split_every, threads, lines=None, point=None):
    import dask

    kind, column, cat_column = agg._spec()
    vertices = (lines or {}).get("vertices") or [(x, y)]
    extra = [c for v in vertices for c in v if isinstance(c, str)] + agg._columns()
    cols = core._needed(x, y, column, cat_column)
    cols += [c for c in dict.fromkeys(extra) if c not in cols]
    core._check_columns(ddf.columns, cols)
    ddf = ddf[cols]
    core._check_value_dtypes(ddf, [column] + agg._columns())

    derived = agg._describe() if isinstance(agg, rd.by) else None
    if derived is None:
        ddf, labels, coords = _categories(ddf, cat_column)
    else:
        # category_modulo / category_binning: coded by the core, 0, 1, ...
        core._check_categorizer(ddf, agg)
        labels = coords = None

    # One pass on the cluster for what the plan needs: the data's ranges
    # where the canvas has none, partition lengths for first/last.
    x_range, y_range = canvas.x_range, canvas.y_range
    wanted = {}
    ragged = lines is not None and lines["glyph"] in ("ragged-lines", "ragged-areas")
    if x_range is None:
        wanted["x"] = _coord_bounds(ddf, [v[0] for v in vertices], ragged)
    if y_range is None:
        wanted["y"] = _coord_bounds(ddf, [v[1] for v in vertices], ragged)
    down = lines is not None and lines["glyph"] in ("line", "area")
    if kind in ("first", "last") or set(agg._extra()) - {"dtype"} or down:
        # Rows positioned in the whole frame: first/last, the _n
        # reductions and where (whose ties, and row index, go by row).
        wanted["lens"] = ddf.map_partitions(len)
    if down:
        # Each partition's last two rows lead the next one in.
        wanted["tails"] = ddf.map_partitions(lambda df: df.tail(2))
    antialiased = down and lines["aa"].get("line_width", 0) > 0
    if antialiased:
        # And an antialiased segment needs the row after it (whether it
        # ends the line): each partition trails out into the next one's
        # first row.
        wanted["heads"] = ddf.map_partitions(lambda df: df.head(1))
    if wanted:
        (found,) = dask.compute(wanted)
        if "x" in found:
            x_range = _expand(_union(found["x"]))
        if "y" in found:
            y_range = _expand(_union(found["y"]))
    if "lens" in wanted:
        lens, offsets = _row_offsets(found["lens"])
    else:
        offsets = [0] * ddf.npartitions
    canvas.validate_ranges(x_range, y_range)

    params = canvas._params(x or "", y or "", kind, column, cat_column, labels, x_range, y_range)
    params.update(agg._extra())
    if derived is not None:
        params["by"] = derived
    top = params.pop("top_categories", None)
    if top is not None and derived is None and top < len(labels):
        if lines is not None:
            raise NotImplementedError(
                "by(top_categories=...) of lines on Dask is not implemented by pointillist; "
                "compute the frame, or list the categories to keep"
            )
        labels, coords = _top_categories(ddf, x, y, cat_column, labels, coords, top, x_range, y_range)
        params["categories"] = labels
    elif top is not None:
        params["top_categories"] = top
    params = _line_params(params, lines)
    params.update(point or {})
    params["threads"] = threads
    parts = ddf.to_delayed()
    if len(parts) != len(offsets):
        raise RuntimeError(
            f"pointillist.dask: {len(parts)} delayed partitions for {len(offsets)} lengths"
        )
    if down:
        leaf = dask.delayed(_led_partition_partial, pure=True)
        leads = _leads(found["tails"], lens)
        trails = _trails(found["heads"], lens) if antialiased else [None] * len(parts)
        leaves = [
            leaf(lead, p, cols, params, int(off), trail, int(n) if antialiased else None)
            for lead, p, off, trail, n in zip(leads, parts, offsets, trails, lens)
        ]
    else:
        leaf = dask.delayed(_partition_partial, pure=True)
        leaves = [leaf(p, cols, params, int(off)) for p, off in zip(parts, offsets)]
    (blob,) = dask.compute(_tree(leaves, split_every))
    out = _native.finish_partial(blob)
    prepared = core._Prepared(labels=labels, coords=coords, int_categories=derived is not None)
    dx, dy = (lines or {}).get("dims") or (x, y)
    return canvas._data_array(out, dx, dy, cat_column, prepared, x_range, y_range)


def _categories(ddf, cat_column):
    """``(ddf, labels, coords)``: the Dask categorical dtype's categories
    for ``cat_column`` (None: no categories). As Datashader does: unknown
    categories are found first (a pass on the cluster) and every partition
    is given that dtype. (Keeping ``categorize``'s frame would leave an
    expression that Dask's optimiser fails to project the range pass
    through.)"""
    import pandas as pd

    if cat_column is None:
        return ddf, None, None
    if not isinstance(ddf[cat_column].dtype, pd.CategoricalDtype):
        raise ValueError("input must be categorical")
    if not ddf[cat_column].cat.known:
        dtype = ddf.categorize(columns=[cat_column], index=False)[cat_column].dtype
        ddf = ddf.assign(**{cat_column: ddf[cat_column].astype(dtype)})
    categories = np.array(ddf[cat_column].cat.categories)
    if categories.dtype.kind == "U":
        categories = categories.astype("object")
    coords = list(categories)
    return ddf, core._labels_of(coords, cat_column), coords


def _top_categories(ddf, x, y, cat_column, labels, coords, k, x_range, y_range):
    """The core's top categories over a Dask frame, found on the cluster:
    the ``k`` categories with the most points on the canvas (inside both
    inclusive ranges; ties to the earlier category), in category order,
    then "(other)", which the core fills with every other row and null."""
    import dask

    def on_canvas(df):
        xs, ys = df[x].to_numpy("f8", na_value=np.nan), df[y].to_numpy("f8", na_value=np.nan)
        inside = (xs >= x_range[0]) & (xs <= x_range[1]) & (ys >= y_range[0]) & (ys <= y_range[1])
        codes = df[cat_column].cat.codes.to_numpy()[inside]
        counts = np.bincount(codes[codes >= 0], minlength=len(labels))
        return [counts]

    parts = ddf[[x, y, cat_column]].to_delayed()
    (counts,) = dask.compute([dask.delayed(on_canvas, pure=True)(p) for p in parts])
    total = np.sum([c[0] for c in counts], axis=0) if counts else np.zeros(len(labels), int)
    order = sorted(range(len(labels)), key=lambda i: (-int(total[i]), i))
    kept = sorted(order[:k])
    other = "(other)"
    return [labels[i] for i in kept] + [other], [coords[i] for i in kept] + [other]


def _row_offsets(lens):
    """Each partition's first row in the whole frame, from their lengths."""
    lens = np.asarray(lens, dtype=np.int64)
    return lens, np.concatenate([[0], np.cumsum(lens)[:-1]]).tolist()


def _leads(tails, lens):
    """For each partition, the last two rows of all the partitions before
    it, from the concatenated ``tail(2)`` of each and their lengths."""
    out, seen, at = [], [], 0
    for n in lens:
        out.append(tails.iloc[seen[-2:]])
        k = int(min(n, 2))
        seen.extend(range(at, at + k))
        at += k
    return out


def _trails(heads, lens):
    """For each partition, the first row of the partitions after it (an
    empty frame for the last), from the concatenated ``head(1)`` of each
    and their lengths."""
    starts = np.concatenate([[0], np.cumsum(np.minimum(lens, 1))]).astype(np.int64)
    out = []
    for i in range(len(lens)):
        later = [int(starts[j]) for j in range(i + 1, len(lens)) if lens[j] > 0]
        out.append(heads.iloc[later[:1]])
    return out


def _expand(bounds):
    """Datashader's ``maybe_expand_bounds`` of a computed (min, max); NaN
    (every value missing, or no rows) gives (-1, 1)."""
    import pandas as pd

    lo, hi = (np.nan if pd.isna(v) else v for v in bounds)
    return core._maybe_expand_bounds((lo, hi))


def _parquet_points(canvas, frags, x, y, agg, split_every, threads, lines=None, point=None):
    import dask

    kind, column, cat_column = agg._spec()
    # Categories as ``dd.read_parquet`` + ``categorize`` give them (sorted;
    # pandas' ``read_parquet``, and so the single-process path, keeps the
    # dictionary's order instead).
    derived = agg._describe() if isinstance(agg, rd.by) else None
    is_int = derived is not None or (
        cat_column is not None and _native.parquet_categories(frags.paths, cat_column)[1]
    )
    prepared = core._Prepared(paths=frags.paths, int_categories=is_int)
    params = canvas._params(
        x or "", y or "", kind, column, cat_column, None, canvas.x_range, canvas.y_range
    )
    params.update(agg._extra())
    if derived is not None:
        params["by"] = derived
    params = _line_params(params, lines)
    params.update(point or {})
    # On the client: ranges and categories as the single-process run finds
    # them (Parquet statistics and dictionary pages, else a scan), so that
    # every fragment belongs to the same plan.
    plan = _native.parquet_plan(frags.paths, params)
    params.update(
        x_range=tuple(plan["x_range"]),
        y_range=tuple(plan["y_range"]),
        categories=plan["categories"],
    )
    params["threads"] = threads
    count = frags.fragments or min(2 * _cluster_threads(), int(plan["row_groups"]))
    count = max(1, count)
    leaf = dask.delayed(_fragment_partial, pure=True)
    leaves = [leaf(frags.paths, i, count, params) for i in range(count)]
    (blob,) = dask.compute(_tree(leaves, split_every))
    out = _native.finish_partial(blob)
    dx, dy = (lines or {}).get("dims") or (x, y)
    return canvas._data_array(
        out, dx, dy, cat_column, prepared, canvas.x_range, canvas.y_range
    )


def _tree(nodes, split_every):
    """Merge delayed partials ``split_every`` at a time, level by level,
    keeping their order; the root is a delayed partial."""
    import dask

    merge = dask.delayed(_merge, pure=True)
    nodes = list(nodes)
    if not nodes:
        raise ValueError("pointillist.dask: nothing to aggregate (no partitions)")
    while len(nodes) > 1:
        nodes = [
            merge(*nodes[i : i + split_every]) if len(nodes[i : i + split_every]) > 1
            else nodes[i]
            for i in range(0, len(nodes), split_every)
        ]
    return nodes[0]


# --- Tasks run on the workers -------------------------------------------


def _partition_partial(df, cols, params, first_row):
    """One pandas partition's partial, as IPC bytes."""
    import pyarrow as pa

    table = pa.table({c: core._pandas_column(df[c]) for c in cols})
    return _native.partial_from_stream(table, params, first_row=first_row)


def _geometry_partition_partial(df, geometry, others, kernel, params, first_row):
    """One GeoPandas or spatialpandas partition's partial of its line
    geometries (and the value and category columns ``others``), as IPC
    bytes."""
    import pyarrow as pa

    field, array = core._geometry_arrow(df, geometry, kernel)
    cols = [core._pandas_column(df[c]) for c in others]
    fields = [pa.field(c, a.type) for c, a in zip(others, cols)]
    table = pa.Table.from_arrays(cols + [array], schema=pa.schema(fields + [field]))
    return _native.partial_from_stream(table, params, first_row=first_row)


def _led_partition_partial(lead, df, cols, params, first_row, trail=None, rows=None):
    """A partition of a line (or area) down the rows, led in by the last
    rows before it (``lead``): it draws the segments that end in it, so the
    partials merged in order are the whole line's aggregate. Antialiased
    lines also trail out into the next row (``trail``) and stop at the
    partition's end (its ``rows``)."""
    import pandas as pd

    params = dict(params, draw_from_row=first_row)
    frames = [lead[cols]] if len(lead) else []
    frames.append(df[cols])
    if rows is not None:
        params["draw_until_row"] = first_row + rows
        if trail is not None and len(trail):
            frames.append(trail[cols])
    if len(frames) > 1:
        df = pd.concat(frames, ignore_index=True)
    return _partition_partial(df, cols, params, first_row - len(lead))


def _fragment_partial(paths, index, count, params):
    """Parquet fragment ``index`` of ``count``'s partial, as IPC bytes."""
    return _native.partial_from_parquet(paths, index, count, params)


def _merge(*partials):
    """Partials merged in the order given, as IPC bytes."""
    return _native.merge_partials(list(partials))
