"""``Canvas``: Datashader's canvas, aggregating on pointillist's Rust core.

``Canvas.points`` returns the ``xarray.DataArray`` that Datashader 0.19
returns for the same call: the same dims, coords, attrs, dtype and
values (floats within the core's summation-order rounding).
"""

from __future__ import annotations

import builtins
import sys
import math
import numbers
import os

import numpy as np
import xarray as xr

from . import _native
from . import reductions as rd

__all__ = ["Canvas", "LinearAxis", "LogAxis"]


class Axis:
    """Datashader's axis maths: ``s = n / (mapper(max) - mapper(min))``,
    ``t = -mapper(min) * s``; pixel centres at ``inverse((i + 0.5 - t) / s)``."""

    name = ""

    def compute_scale_and_translate(self, range, n):
        start, end = map(self.mapper, range)
        s = n / (end - start)
        t = -start * s
        return s, t

    def compute_index(self, st, n):
        px = np.arange(n) + 0.5
        s, t = st
        return self.inverse_mapper((px - t) / s)

    def validate(self, range):
        pass


class LinearAxis(Axis):
    name = "linear"

    @staticmethod
    def mapper(val):
        # Datashader's mapper is a numba identity: scalars come back as
        # Python numbers (a float32 as a float64), so the scale is float64.
        return val if isinstance(val, int) else float(val)

    @staticmethod
    def inverse_mapper(val):
        return val


class LogAxis(Axis):
    name = "log"

    @staticmethod
    def mapper(val):
        return math.log10(float(val))

    @staticmethod
    def inverse_mapper(val):
        # numba's `10 ** array`: the C library's pow, element by element.
        return np.array([10.0 ** float(v) for v in np.asarray(val).ravel()]).reshape(
            np.shape(val)
        )

    def validate(self, range):
        if range is None:
            return
        if range[0] <= 0 or range[1] <= 0:
            raise ValueError("Range values must be >0 for logarithmic axes")


_axis_lookup = {"linear": LinearAxis(), "log": LogAxis()}


def _point_params(radius, shape):
    """The core's parameters for points with a radius (checked here so the
    error names the keyword)."""
    try:
        r = float(radius)
    except (TypeError, ValueError):
        raise TypeError(f"radius must be a number of pixels, not {type(radius).__name__}") from None
    if not (np.isfinite(r) and r >= 0):
        raise ValueError(f"radius={radius!r}: give 0 (one pixel per point) or a radius in pixels")
    if shape not in ("circle", "square"):
        raise ValueError(f"shape={shape!r}: use 'circle' or 'square'")
    return dict(point_radius=r, point_shape=shape) if r > 0 else {}


class Canvas:
    """An abstract canvas representing the space in which to bin.

    Parameters
    ----------
    plot_width, plot_height : int, optional
        Width and height of the output aggregate in pixels.
    x_range, y_range : tuple, optional
        A tuple representing the bounds inclusive space ``[min, max]`` along
        the axis.
    x_axis_type, y_axis_type : str, optional
        The type of the axis. Valid options are ``'linear'`` [default], and
        ``'log'``.
    """

    def __init__(
        self,
        plot_width=600,
        plot_height=600,
        x_range=None,
        y_range=None,
        x_axis_type="linear",
        y_axis_type="linear",
    ):
        self.plot_width = plot_width
        self.plot_height = plot_height
        self.x_range = None if x_range is None else tuple(x_range)
        self.y_range = None if y_range is None else tuple(y_range)
        self.x_axis = _axis_lookup[x_axis_type]
        self.y_axis = _axis_lookup[y_axis_type]

    def validate_ranges(self, x_range, y_range):
        self.x_axis.validate(x_range)
        self.y_axis.validate(y_range)

    def validate_size(self, width, height):
        if width <= 0 or height <= 0:
            raise ValueError("Invalid size: plot_width and plot_height must be bigger than 0")

    def validate(self):
        """Check that parameter settings are valid for this object"""
        self.validate_ranges(self.x_range, self.y_range)
        self.validate_size(self.plot_width, self.plot_height)

    def points(self, source, x=None, y=None, agg=None, geometry=None, *, radius=0, shape="circle"):
        """Compute a reduction by pixel, mapping data to pixels as points.

        Parameters
        ----------
        source : pandas.DataFrame, pyarrow.Table / RecordBatch /
            RecordBatchReader, polars.DataFrame, any object with
            ``__arrow_c_stream__``, or a Parquet path (str or os.PathLike,
            or a list of them; directories and globs are read in order by
            the core)
        x, y : str
            Column names for the x and y coordinates of each point.
        agg : Reduction, optional
            Reduction to compute. Default is ``count()``.
        geometry : str
            Not implemented by pointillist (spatialpandas / geopandas
            geometry columns).
        radius : float, optional
            pointillist only: points with a size. Each point covers every
            pixel whose centre lies within ``radius`` pixels of its exact
            position (and the pixel Datashader puts it in), inside the
            aggregation: ``count`` counts the points covering a pixel,
            ``mean``, ``max``, ``first``, ``where`` ... pick among them, and
            categories keep their plane (unlike ``tf.spread``, which smears
            the shaded image). Points just off the canvas reach its edge.
            0 (the default) is Datashader's one pixel per point.
        shape : {"circle", "square"}, optional
            With ``radius``: pixel centres within the radius, or within it
            on both axes.
        """
        if geometry is not None:
            raise NotImplementedError(
                "Canvas.points(geometry=...): geometry columns (spatialpandas, "
                "geopandas) are not implemented by pointillist"
            )
        if x is None or y is None:
            raise ValueError(
                "Point coordinates may be specified by providing both the x and y "
                f"arguments. Received:\n    x: {x!r}\n    y: {y!r}"
            )
        if not isinstance(x, str) or not isinstance(y, str):
            raise NotImplementedError(
                "Canvas.points: x and y must be column names (str) in pointillist"
            )
        if agg is None:
            agg = rd.count()
        point = _point_params(radius, shape)
        if isinstance(agg, rd.summary):
            return _summary(
                agg, source, lambda s, a: self.points(s, x, y, agg=a, radius=radius, shape=shape)
            )
        if not isinstance(agg, rd.Reduction):
            raise TypeError(f"agg must be a Reduction, not {type(agg).__name__}")
        # Time columns as axes and values (pointillist/times.py).
        from . import times as _times

        return _times.around(
            self, source, x, y, agg, lambda c: c._points(source, x, y, agg, point), _is_dask(source)
        )

    def _points(self, source, x, y, agg, point):
        self.validate()
        if _is_dask(source):
            # Dask DataFrames and pointillist.dask.read_parquet(...): partials
            # on the workers, merged in a tree (pointillist/dask.py).
            from . import dask as _dask

            return _dask.points(self, source, x, y, agg, point=point)
        return self._aggregate(source, x, y, agg, "points", aa=point)

    def _aggregate(self, source, x, y, agg, glyph, vertices=None, dims=None, stacked=False, aa=None):
        """Aggregate a local source (not Dask) with glyph ``points``,
        ``line``, ``row-lines`` or ``ragged-lines`` (``vertices``: every
        vertex, or line, as ``(x, y)``, each a column name or a number;
        ``x`` and ``y``: the first vertex's columns, None where constant;
        ``dims``: the x and y dimension names, the columns' by default)."""
        kind, column, cat_column = agg._spec()
        vertices = vertices or [(x, y)]
        extra = [c for pair in vertices for c in pair if isinstance(c, str)] + agg._columns()
        # A computed categorizer (category_modulo, category_binning): the
        # core codes a plain numeric column, categories 0, 1, ...
        derived = agg._describe() if isinstance(agg, rd.by) else None
        if derived is not None:
            extra.append(cat_column)
            _check_categorizer(source, agg)
        _check_value_dtypes(source, [column] + agg._columns())
        prepared = _prepare_source(
            source, x, y, column, None if derived is not None else cat_column, extra
        )
        if derived is not None:
            prepared.int_categories = True
        x_range, y_range = self.x_range, self.y_range
        if prepared.table is not None:
            # Datashader's bounds of in-memory data: NaN skipped, infinities
            # kept, then (-1, 1) or (v - 1, v + 1) where degenerate (over all
            # the vertex columns and constants of lines). Giving them to
            # the core also lets it aggregate batch by batch.
            t = prepared.table
            if x_range is None:
                x_range = _vertex_bounds(t, [v[0] for v in vertices])
            if y_range is None:
                y_range = _vertex_bounds(t, [v[1] for v in vertices])
        # Datashader's check (and message) for log axes over the data's bounds.
        self.validate_ranges(x_range, y_range)
        params = self._params(x or "", y or "", kind, column, cat_column, prepared.labels, x_range, y_range)
        params.update(agg._extra())
        if derived is not None:
            params["by"] = derived
        if aa:
            params.update(aa)
        _layout_params(params, glyph, vertices, stacked)
        if prepared.paths is not None:
            out = _native.aggregate_parquet(prepared.paths, params)
        else:
            out = _native.aggregate_stream(prepared.stream, params)
        dx, dy = dims or (x, y)
        return self._data_array(out, dx, dy, cat_column, prepared, x_range, y_range)

    def _params(self, x, y, kind, column, cat_column, labels, x_range, y_range):
        """The dict every native entry point takes (``Params`` in
        ``src/lib.rs``), for this canvas."""
        return dict(
            x=x,
            y=y,
            width=int(self.plot_width),
            height=int(self.plot_height),
            reduction=kind,
            column=column,
            by=cat_column,
            categories=labels,
            x_range=_float_range(x_range),
            y_range=_float_range(y_range),
            x_axis=self.x_axis.name,
            y_axis=self.y_axis.name,
        )

    def _data_array(self, out, x, y, cat_column, prepared, x_range, y_range):
        # Datashader's own ranges: the canvas's tuple as given, or the data's.
        x_range = x_range or tuple(out["x_range"])
        y_range = y_range or tuple(out["y_range"])
        self.validate_ranges(x_range, y_range)
        width, height = self.plot_width, self.plot_height
        x_st = self.x_axis.compute_scale_and_translate(x_range, width)
        y_st = self.y_axis.compute_scale_and_translate(y_range, height)
        x_axis = self.x_axis.compute_index(x_st, width)
        y_axis = self.y_axis.compute_index(y_st, height)
        values = out["values"].reshape(out["shape"])
        coords = dict([(x, x_axis), (y, y_axis)])
        dims = [y, x]
        if cat_column is not None:
            dims.append(cat_column)
            got = list(out["categories"])
            if prepared.coords is not None and got != list(prepared.labels or got):
                # Top categories: the kept ones, then "(other)".
                by_label = dict(zip(prepared.labels, prepared.coords))
                coords[cat_column] = [by_label.get(c, c) for c in got]
            elif prepared.coords is not None:
                coords[cat_column] = prepared.coords
            elif prepared.int_categories:
                coords[cat_column] = [int(c) for c in out["categories"]]
            else:
                coords[cat_column] = list(out["categories"])
        if out.get("n") is not None:
            # Datashader's trailing dimension of the _n reductions.
            dims.append("n")
            coords["n"] = np.arange(out["n"])
        return xr.DataArray(
            values, coords=coords, dims=dims, attrs=dict(x_range=x_range, y_range=y_range)
        )

    def line(
        self,
        source,
        x=None,
        y=None,
        agg=None,
        axis=0,
        geometry=None,
        line_width=0,
        antialias=False,
    ):
        """Compute a reduction by pixel, mapping data to pixels as a line.

        Datashader's line layouts, drawn with its clipping and Bresenham
        rasterisation, so the aggregate is Datashader's to the bit (float
        sums within summation-order rounding):

        - ``axis=0``, ``x`` and ``y`` column names: the rows are the
          vertices of one line, in row order; a NaN (or null) x or y breaks
          it. Each segment adds its first row's value to every pixel it
          crosses.
        - ``axis=0``, lists of columns (a single name on one side is
          shared): one such line per column pair, drawn in turn.
        - ``axis=1``, lists of columns: each row is one line through them
          (``x=['ox', 'dx'], y=['oy', 'dy']`` draws origin-destination
          segments); one side may be a NumPy array of constants shared by
          every row (``x=np.arange(n)`` with ``n`` y columns: wide time
          series).
        - ``axis=1``, two column names: each row is one line through the
          values of ragged list columns (Datashader's ``RaggedArray``, or
          Arrow ``List`` columns).

        Parameters
        ----------
        source : as for :meth:`points` (a pandas DataFrame, an Arrow table
            or stream, a polars DataFrame, or Parquet paths), in row order
        x, y : str, list of str, or numpy.ndarray (axis=1)
        agg : Reduction, optional
            Reduction to compute. Default is ``any()``, as in Datashader.
        axis : 0 or 1
        line_width : float, optional
            Datashader's antialiased lines, this many pixels wide (0, the
            default, draws plain one-pixel lines). ``count`` and ``any``
            are then float32 coverage; ``count`` and ``sum`` take
            ``self_intersect=False`` to count a line once where it crosses
            itself. ``var`` and ``std`` raise ``NotImplementedError``, as in
            Datashader.
        antialias : bool, optional
            ``True`` is ``line_width=1``; do not give both.
        geometry : str, optional
            The column of line geometries of a spatialpandas or GeoPandas
            GeoDataFrame, or of their Dask frames (spatialpandas'
            ``DaskGeoDataFrame``, ``dask_geopandas.GeoDataFrame``), in place
            of ``x`` and ``y``: LineString,
            MultiLineString, Polygon or MultiPolygon (a polygon's rings are
            drawn as closed lines), drawn as Datashader draws that source,
            each kernel's way of flagging line starts and ends included
            (its GeoPandas kernel leaves out the first pixel of every line
            string but the first it draws: datashader#1509).
        """
        if (geometry is None and (x is None or y is None)) or (
            geometry is not None and (x is not None or y is not None)
        ):
            raise ValueError(
                "\nLine coordinates may be specified by providing both the x and y arguments, or by\n"
                f"providing the geometry argument. Received:\n    x: {x!r}\n    y: {y!r}\n"
                f"    geometry: {geometry!r}\n"
            )
        if line_width is None:
            line_width = 0
        if antialias and line_width != 0:
            raise ValueError(
                "Do not specify values for both the line_width and \n"
                "antialias keyword arguments; use line_width instead."
            )
        if antialias:
            line_width = 1.0
        if geometry is not None:
            return self._geometry_lines(source, geometry, agg, line_width)
        if x is None or y is None:
            raise ValueError(
                "Line coordinates may be specified by providing both the x and y "
                f"arguments. Received:\n    x: {x!r}\n    y: {y!r}"
            )
        orig_x, orig_y = x, y
        x, y = _broadcast_column_specifications(x, y)
        seq = lambda v: isinstance(v, (list, tuple))  # noqa: E731
        name = lambda v: isinstance(v, (str, numbers.Number)) and not isinstance(v, bool)  # noqa: E731
        invalid = ValueError(
            f"\nInvalid combination of x and y arguments to Canvas.line when axis={axis}.\n"
            f"    Received:\n        x: {orig_x!r}\n        y: {orig_y!r}\n"
            "See docstring for more information on valid usage"
        )
        if axis == 0:
            if name(x) and name(y):
                glyph, vertices, dims = "line", None, None
            elif seq(x) and seq(y):
                glyph, vertices, dims = "line", list(zip(x, y)), ("x", "y")
                if len(x) != len(y):
                    raise ValueError(
                        f"x and y coordinate lengths do not match: {len(x)} != {len(y)}"
                    )
            else:
                raise invalid
        elif axis == 1:
            dims = ("x", "y")
            if seq(x) and seq(y):
                glyph = "row-lines"
            elif isinstance(x, np.ndarray) and seq(y):
                glyph = "row-lines"
                x = [float(v) for v in np.asarray(x, dtype="f8").ravel()]
            elif seq(x) and isinstance(y, np.ndarray):
                glyph = "row-lines"
                y = [float(v) for v in np.asarray(y, dtype="f8").ravel()]
            elif name(x) and name(y):
                glyph, dims = "ragged-lines", None
            else:
                raise invalid
            if glyph == "row-lines":
                if len(x) != len(y):
                    raise ValueError(
                        f"x and y coordinate lengths do not match: {len(x)} != {len(y)}"
                    )
                if len(x) < 2:
                    raise ValueError("a line per row needs at least two vertices")
                vertices = list(zip(x, y))
            else:
                vertices = None
        else:
            raise ValueError(
                f"\nThe axis argument to Canvas.line must be 0 or 1\n    Received: {axis}"
            )
        for v in vertices or [(x, y)]:
            for c in v:
                if not isinstance(c, (str, float)):
                    raise NotImplementedError(
                        f"Canvas.line: column {c!r}: pointillist takes string column names"
                    )
        if agg is None:
            agg = rd.any()
        if isinstance(agg, rd.summary):
            return _summary(
                agg,
                source,
                lambda s, a: self.line(s, x, y, a, axis, geometry, line_width, antialias),
            )
        if not isinstance(agg, rd.Reduction):
            raise TypeError(f"agg must be a Reduction, not {type(agg).__name__}")
        # As in Datashader, a width of 0 or less draws plain lines.
        line_width = builtins.max(float(line_width), 0.0)
        inner = agg.reduction if isinstance(agg, rd.by) else agg
        if line_width > 0:
            # Datashader's reductions for antialiased lines.
            if not isinstance(inner, (rd.any, rd.count, rd.max, rd.min, rd.sum, rd.mean, rd.first, rd.last)):
                raise NotImplementedError(f"{type(inner)} reduction not implemented for antialiased lines")
        _no_lookup_on_lines(inner)
        self.validate()
        first = vertices[0] if vertices else (x, y)
        fx, fy = (c if isinstance(c, str) else None for c in first)
        aa = dict(line_width=line_width, self_intersect=getattr(inner, "self_intersect", True))
        if _is_dask(source):
            # A line per row (axis=1): partials on the workers, as for
            # points (pointillist/dask.py).
            from . import dask as _dask

            return _dask.lines(self, source, fx, fy, agg, glyph, vertices, dims, aa=aa)
        return self._aggregate(source, fx, fy, agg, glyph, vertices, dims, aa=aa)

    def _geometry_lines(self, source, geometry, agg, line_width):
        """``Canvas.line(source, geometry=...)``: the rows Datashader draws,
        in its order, with its bounds, as one Arrow table for the core."""
        if agg is None:
            agg = rd.any()
        if not isinstance(agg, rd.Reduction):
            raise TypeError(f"agg must be a Reduction, not {type(agg).__name__}")
        line_width = builtins.max(float(line_width), 0.0)
        inner = agg.reduction if isinstance(agg, rd.by) else agg
        if line_width > 0 and not isinstance(
            inner, (rd.any, rd.count, rd.max, rd.min, rd.sum, rd.mean, rd.first, rd.last)
        ):
            raise NotImplementedError(f"{type(inner)} reduction not implemented for antialiased lines")
        _no_lookup_on_lines(inner)
        self.validate()
        kind, column, cat_column = agg._spec()
        aa = dict(line_width=line_width, self_intersect=getattr(inner, "self_intersect", True))
        if _is_dask(source):
            # spatialpandas.dask and dask_geopandas: a partial per partition
            # on the workers, merged in a tree (pointillist/dask.py).
            from . import dask as _dask

            return _dask.geometry_lines(self, source, geometry, agg, aa)
        if _is_path(source):
            # GeoParquet (WKB or GeoArrow) read by the core itself: no GEOS
            # objects, bounded memory; drawn with the spatialpandas kernel
            # (every line string's first pixel), as the CLI's default.
            prepared = _prepare_source(source, None, None, column, cat_column)
            params = self._params(
                geometry, geometry, kind, column, cat_column, prepared.labels,
                self.x_range, self.y_range,
            )
            params.update(agg._extra())
            params.update(glyph="geometry-lines", geometry_kernel="spatialpandas", **aa)
            out = _native.aggregate_parquet(prepared.paths, params)
            return self._data_array(out, "x", "y", cat_column, prepared, self.x_range, self.y_range)
        needed = [geometry] + [c for c in (column, cat_column) if c is not None]
        rows, geom, gkernel, bounds = _geometry_source(
            source, geometry, self.x_range, self.y_range, needed
        )
        others = [c for c in dict.fromkeys((column, cat_column)) if c is not None]
        if geometry in others:
            raise ValueError(f"column {geometry!r} is the geometry, not a value or category column")
        import pandas as pd

        _check_columns(rows.columns, others)
        plain = pd.DataFrame({c: rows[c].reset_index(drop=True) for c in others})
        prepared = _prepare_pandas(plain, others, cat_column)
        table = prepared.stream.append_column(geom[0], geom[1]) if others else _pa_table(geom)
        prepared.stream = table
        x_range = self.x_range if self.x_range is not None else bounds[0]
        y_range = self.y_range if self.y_range is not None else bounds[1]
        self.validate_ranges(x_range, y_range)
        params = self._params(geometry, geometry, kind, column, cat_column, prepared.labels, x_range, y_range)
        params.update(agg._extra())
        params.update(glyph="geometry-lines", geometry_kernel=gkernel, **aa)
        out = _native.aggregate_stream(table, params)
        return self._data_array(out, "x", "y", cat_column, prepared, x_range, y_range)

    def area(self, source, x, y, agg=None, axis=0, y_stack=None):
        """Compute a reduction by pixel, mapping data to pixels as a filled
        area region (Datashader's ``Canvas.area``).

        pointillist fills Datashader's ``axis=0`` areas: the rows are the
        vertices of a line, in row order (a NaN vertex breaks it), and the
        region between it and ``y = 0`` (or the line through column
        ``y_stack``) is filled with Datashader's trapezoid scan, so the
        aggregate is Datashader's to the bit. Lists of columns (a name
        against a list is shared) fill one area per pair, in turn. Each
        trapezoid adds its first row's value. ``any()`` by default, as in
        Datashader. ``axis=1`` fills an area per row through lists of
        columns, a NumPy array on one side, or ragged list columns
        (Datashader's ``RaggedArray`` or Arrow lists; ``y_stack`` then a
        list column too, the shortest list setting the vertices). Dask
        DataFrames too: areas down the rows with each partition led in by
        the rows before it, areas per row partition by partition.
        """
        if agg is None:
            agg = rd.any()
        if isinstance(agg, rd.summary):
            return _summary(agg, source, lambda s, a: self.area(s, x, y, a, axis, y_stack))
        if not isinstance(agg, rd.Reduction):
            raise TypeError(f"agg must be a Reduction, not {type(agg).__name__}")
        if axis not in (0, 1):
            raise ValueError(f"\nThe axis argument to Canvas.area must be 0 or 1\n    Received: {axis}")
        _no_lookup_on_lines(agg.reduction if isinstance(agg, rd.by) else agg)
        orig = (x, y, y_stack)
        x, y, y_stack = _broadcast_column_specifications(x, y, y_stack)
        seq = lambda v: isinstance(v, (list, tuple))  # noqa: E731
        if axis == 1:
            return self._row_areas(source, x, y, agg, y_stack, orig)
        if isinstance(x, str) and isinstance(y, str) and (y_stack is None or isinstance(y_stack, str)):
            xs, ys, stacks, dims = [x], [y], None if y_stack is None else [y_stack], None
        elif seq(x) and seq(y) and (y_stack is None or seq(y_stack)):
            xs, ys, stacks, dims = list(x), list(y), None if y_stack is None else list(y_stack), ("x", "y")
            if len(xs) != len(ys) or (stacks is not None and len(stacks) != len(xs)):
                raise ValueError(
                    f"x, y and y_stack lengths do not match: {len(xs)}, {len(ys)}"
                    + ("" if stacks is None else f", {len(stacks)}")
                )
        else:
            raise ValueError(
                "\nInvalid combination of x, y, and y_stack arguments to Canvas.area when axis=0.\n"
                f"    Received:\n        x: {orig[0]!r}\n        y: {orig[1]!r}\n"
                f"        y_stack: {orig[2]!r}\nSee docstring for more information on valid usage"
            )
        for c in xs + ys + (stacks or []):
            if not isinstance(c, str):
                raise NotImplementedError(
                    f"Canvas.area: column {c!r}: pointillist takes string column names"
                )
        return self._fill(source, agg, "area", xs, ys, stacks, dims)

    def _fill(self, source, agg, glyph, xs, ys, stacks, dims):
        """Aggregate checked areas (``glyph`` "area" or "row-areas"): each
        vertex (or line) ``(xs[k], ys[k])``, filled to ``stacks[k]`` (None:
        to y = 0)."""
        for c in xs + ys + (stacks or []):
            if not isinstance(c, (str, float)):
                raise NotImplementedError(
                    f"Canvas.area: column {c!r}: pointillist takes string column names"
                )
        self.validate()
        # Each vertex (or line), then its y on the line filled to.
        vertices = []
        for k in range(len(xs)):
            vertices.append((xs[k], ys[k]))
            vertices.append((xs[k], stacks[k] if stacks is not None else 0.0))
        fx, fy = (c if isinstance(c, str) else None for c in vertices[0])
        if _is_dask(source):
            # Areas down the rows: each partition led in by the rows before
            # it; an area per row: rows are independent (pointillist/dask.py).
            from . import dask as _dask

            return _dask.lines(
                self, source, fx, fy, agg, glyph, vertices, dims, stacked=stacks is not None
            )
        return self._aggregate(
            source, fx, fy, agg, glyph, vertices, dims, stacked=stacks is not None
        )

    def _row_areas(self, source, x, y, agg, y_stack, orig):
        """``Canvas.area(axis=1)``: an area per row through lists of
        columns, or a NumPy array of constants on one side (``y_stack``
        then of ``y``'s form)."""
        seq = lambda v: isinstance(v, (list, tuple))  # noqa: E731
        arr = lambda v: isinstance(v, np.ndarray)  # noqa: E731
        consts = lambda v: [float(c) for c in np.asarray(v, dtype="f8").ravel()]  # noqa: E731
        stack_ok = y_stack is None or (seq(y_stack) if seq(y) else arr(y_stack))
        if seq(x) and seq(y) and stack_ok:
            xs, ys = list(x), list(y)
        elif arr(x) and seq(y) and stack_ok:
            xs, ys = consts(x), list(y)
        elif seq(x) and arr(y) and stack_ok:
            xs, ys = list(x), consts(y)
        elif isinstance(x, str) and isinstance(y, str) and (y_stack is None or isinstance(y_stack, str)):
            return self._fill(source, agg, "ragged-areas", [x], [y], None if y_stack is None else [y_stack], None)
        else:
            raise ValueError(
                "\nInvalid combination of x and y arguments to Canvas.area when axis=1.\n"
                f"    Received:\n        x: {orig[0]!r}\n        y: {orig[1]!r}\n"
                "See docstring for more information on valid usage"
            )
        stacks = None
        if y_stack is not None:
            stacks = list(y_stack) if seq(y_stack) else consts(y_stack)
        if len(xs) != len(ys) or (stacks is not None and len(stacks) != len(ys)):
            raise ValueError("x, y and y_stack coordinate lengths do not match")
        if len(xs) < 2:
            raise ValueError("an area per row needs at least two vertices")
        return self._fill(source, agg, "row-areas", xs, ys, stacks, ("x", "y"))

    def trimesh(self, *args, **kwargs):
        raise NotImplementedError("Canvas.trimesh: trimeshes are not implemented by pointillist")

    def polygons(self, *args, **kwargs):
        raise NotImplementedError("Canvas.polygons: polygons are not implemented by pointillist")

    def quadmesh(self, *args, **kwargs):
        raise NotImplementedError("Canvas.quadmesh: quadmeshes are not implemented by pointillist")

    def raster(self, *args, **kwargs):
        raise NotImplementedError("Canvas.raster: rasters are not implemented by pointillist")


def _no_lookup_on_lines(inner):
    if isinstance(inner, rd.where) and inner.column is not None:
        raise NotImplementedError(
            f"where(..., {inner.column!r}) on lines and areas: a lookup column is not "
            "implemented by pointillist there; give lookup_column=None for the row index"
        )


def _check_value_dtypes(frame, columns):
    """Datashader's check of value and lookup columns: datetimes are not
    numbers to it (the core reads them as their count of units, for Rust
    and CLI users; the drop-in refuses them as Datashader does)."""
    import pyarrow as pa

    for c in columns:
        if c is None:
            continue
        if type(frame).__module__.split(".")[0] in ("pandas", "dask") and c in getattr(
            frame, "columns", ()
        ):
            if getattr(frame[c].dtype, "kind", None) in ("m", "M"):
                raise ValueError("input must be numeric")
        elif isinstance(frame, pa.Table) and c in frame.column_names:
            t = frame.schema.field(c).type
            if pa.types.is_temporal(t):
                raise ValueError("input must be numeric")


def _check_categorizer(frame, agg):
    """Datashader's dtype checks of a computed categorizer on a pandas (or
    Dask) frame, where pandas dtypes say more than Arrow's: category_modulo
    takes integer and bool columns only (not a categorical of integers),
    category_binning no categorical or datetime column."""
    column = agg.cat_column
    if type(frame).__module__.split(".")[0] not in ("pandas", "dask") or column not in getattr(
        frame, "columns", ()
    ):
        return
    import pandas as pd

    dt = frame[column].dtype
    categorical = isinstance(dt, pd.CategoricalDtype)
    kind = getattr(dt, "kind", None)
    if isinstance(agg.categorizer, rd.category_binning):
        if categorical or kind in ("m", "M"):
            raise TypeError(f"category_binning: column '{column}' of dtype {dt} is not numeric")
    elif categorical or kind not in ("b", "i", "u"):
        raise ValueError("input must be an integer column")


def _summary(agg, source, run):
    """Datashader's ``summary``: an ``xarray.Dataset`` of each named
    reduction's DataArray (keys sorted), with the ranges' attrs. Each
    reduction is its own pass over ``source`` (a one-shot Arrow stream is
    read into a Table first, so it can be read again)."""
    ns = set()
    for v in agg.values:
        inner = v.reduction if isinstance(v, rd.by) else v
        inner = inner.selector if isinstance(inner, rd.where) else inner
        if isinstance(inner, rd._n_reduction):
            ns.add(inner.n)
    if len(ns) > 1:
        raise ValueError("Using multiple FloatingNReductions with different n values is not supported")
    mod = type(source).__module__.split(".")[0]
    if mod != "pandas" and not _is_path(source) and not _is_dask(source):
        import pyarrow as pa

        if hasattr(source, "__arrow_c_stream__") and not isinstance(source, pa.Table):
            source = pa.table(source)
    data = {key: run(source, red) for key, red in zip(agg.keys, agg.values)}
    first = data[agg.keys[0]]
    attrs = {a: first.attrs[a] for a in ("x_range", "y_range")}
    return xr.Dataset(data, attrs=attrs)


def _layout_params(params, glyph, vertices, stacked):
    """Add a checked line or area layout to the core's parameters:
    ``glyph``, and ``vertices`` (every vertex, or line, as ``(x, y)``; for
    areas each followed by its point on the line filled to), ``stacked``
    (areas: filled to a line rather than to zero)."""
    params["glyph"] = glyph
    if vertices is None:
        return params
    if glyph == "ragged-areas":
        # The list columns and the list filled to (a 0.0 for the range).
        params["y_stacks"] = [vertices[1][1]] if stacked else []
    elif glyph == "area":
        # Each area's line and the line it is filled to, in turn.
        params["vertices"] = [tuple(v) for v in vertices[::2]]
        params["y_stacks"] = [v[1] for v in vertices[1::2] if isinstance(v[1], str)]
    elif glyph == "row-areas":
        # Each vertex, then its y on the line filled to (0: to zero).
        params["vertices"] = [
            tuple(c if isinstance(c, str) else float(c) for c in v) for v in vertices[::2]
        ]
        stacks = [v[1] for v in vertices[1::2]]
        params["row_area_stacks"] = stacks if stacked else []
    elif glyph in ("line", "row-lines"):
        params["vertices"] = [
            tuple(c if isinstance(c, str) else float(c) for c in v) for v in vertices
        ]
    return params


def _pa_table(geom):
    import pyarrow as pa

    field, array = geom
    return pa.Table.from_arrays([array], schema=pa.schema([field]))


_NOT_A_GEO_SOURCE = (
    "source must be an instance of spatialpandas.GeoDataFrame, "
    "spatialpandas.dask.DaskGeoDataFrame, geopandas.GeoDataFrame, or "
    "dask_geopandas.GeoDataFrame. Received objects of type {}"
)


def _geometry_source(source, geometry, x_range, y_range, needed=()):
    """Datashader's rows and bounds for ``Canvas.line(source,
    geometry=...)``: ``(rows, (field, array), kernel, (x_bounds,
    y_bounds))``, the geometries as a GeoArrow array (its extension name
    on the field) in the order Datashader draws them: a GeoPandas source
    filtered and ordered by its spatial index as Datashader queries it; a
    spatialpandas one in row order, or in its R-tree's order where it has
    built one and Datashader keeps it (when the frame holds no column
    beyond ``needed``: Datashader's column selection drops the index)."""
    kernel = _geometry_kernel_of(source)
    if kernel == "geopandas":
        import shapely

        xr_ = x_range if x_range is not None else (-np.inf, np.inf)
        yr_ = y_range if y_range is not None else (-np.inf, np.inf)
        query = source.sindex.query(shapely.box(xr_[0], yr_[0], xr_[1], yr_[1]))
        rows = source.iloc[query]
        _check_geometry_column(rows, geometry, kernel)
        tb = rows[geometry].total_bounds
        bounds = (_maybe_expand_bounds((tb[0], tb[2])), _maybe_expand_bounds((tb[1], tb[3])))
        return rows, _geometry_arrow(rows, geometry, kernel), kernel, bounds

    _check_geometry_column(source, geometry, kernel)
    garr = source[geometry].array
    bounds = (
        _maybe_expand_bounds(garr.total_bounds_x),
        _maybe_expand_bounds(garr.total_bounds_y),
    )
    rows = source
    if garr._sindex is not None and all(c in needed for c in source.columns):
        # Datashader draws the rows its R-tree finds over the canvas.
        xb = x_range if x_range is not None else bounds[0]
        yb = y_range if y_range is not None else bounds[1]
        order = garr.sindex.intersects((xb[0], yb[0], xb[1], yb[1]))
        rows = source.iloc[np.asarray(order, dtype=np.int64)]
    return rows, _geometry_arrow(rows, geometry, kernel), kernel, bounds


def _geometry_kernel_of(source):
    """Which of Datashader's line kernels draws a frame's geometries:
    "geopandas" (a GeoPandas or dask-geopandas GeoDataFrame) or
    "spatialpandas" (a spatialpandas GeoDataFrame or DaskGeoDataFrame);
    anything else is refused with Datashader's message."""
    mod = type(source).__module__.split(".")[0]
    if mod in ("geopandas", "dask_geopandas"):
        import geopandas

        kinds = [geopandas.GeoDataFrame]
        if mod == "dask_geopandas":
            import dask_geopandas

            kinds.append(dask_geopandas.GeoDataFrame)
        if isinstance(source, tuple(kinds)):
            return "geopandas"
    if mod == "spatialpandas":
        import spatialpandas
        import spatialpandas.dask

        if isinstance(source, (spatialpandas.GeoDataFrame, spatialpandas.dask.DaskGeoDataFrame)):
            return "spatialpandas"
    raise ValueError(_NOT_A_GEO_SOURCE.format(type(source)))


def _check_geometry_column(frame, geometry, kernel):
    """Datashader's checks of the geometry column (a frame or its meta)."""
    if geometry not in frame.columns:
        raise ValueError("specified column not found")
    dtype = frame[geometry].dtype
    if kernel == "geopandas":
        import geopandas

        if not isinstance(dtype, geopandas.array.GeometryDtype):
            raise ValueError(
                f"{geometry} must be an array with one of the following types: GeometryDtype"
            )
        return
    from spatialpandas.geometry import (
        LineDtype, MultiLineDtype, MultiPolygonDtype, PolygonDtype, RingDtype,
    )

    if not isinstance(dtype, (LineDtype, MultiLineDtype, RingDtype, PolygonDtype, MultiPolygonDtype)):
        raise ValueError(
            f"{geometry} must be an array with one of the following types: LineDtype, "
            "MultiLineDtype, RingDtype, PolygonDtype, MultiPolygonDtype"
        )


def _geometry_arrow(rows, geometry, kernel):
    """A frame's geometry column, in its row order, as ``(field, array)``:
    a GeoArrow array with its extension name on the field. A frame with no
    geometry at all (no rows, or every one missing) gives null line
    strings."""
    import pyarrow as pa

    def field(array, name):
        return pa.field(geometry, array.type, metadata={b"ARROW:extension:name": name.encode()})

    if kernel == "geopandas":
        import shapely

        col = np.asarray(rows[geometry].array)
        types = shapely.get_type_id(col)
        present = types >= 0
        if not present.any():
            return _null_lines(field, len(col))
        G = shapely.GeometryType
        if np.all(types[present] == G.LINESTRING):
            # Line strings only (roads, tracks): their x, y and counts
            # straight from GEOS, several times faster than
            # ``to_ragged_array``'s checks; the same vertices.
            counts = shapely.get_num_coordinates(col)
            offsets = np.zeros(len(col) + 1, dtype=np.int64)
            np.cumsum(counts, out=offsets[1:])
            _check_offsets(offsets[-1])
            coords = shapely.get_coordinates(col)
            points = pa.FixedSizeListArray.from_arrays(pa.array(coords.ravel()), 2)
            arr = pa.ListArray.from_arrays(
                pa.array(offsets.astype(np.int32)),
                points,
                mask=None if present.all() else pa.array(~present),
            )
            return field(arr, "geoarrow.linestring"), arr
        # z is never drawn: leaving it out spares GEOS a pass.
        gtype, coords, offsets = shapely.to_ragged_array(col, include_z=False)
        _check_offsets(len(coords))
        if gtype not in (G.LINESTRING, G.MULTILINESTRING, G.MULTIPOLYGON, G.POLYGON):
            raise ValueError(
                "Canvas.line supports GeoPandas geometry types of LINESTRING, MULTILINESTRING, "
                f"MULTIPOLYGON and POLYGON, not {repr(gtype)}"
            )
        dim = coords.shape[1]
        arr = pa.FixedSizeListArray.from_arrays(pa.array(np.ascontiguousarray(coords).ravel()), dim)
        for o in offsets:
            arr = pa.ListArray.from_arrays(pa.array(np.asarray(o, dtype=np.int32)), arr)
        name = {
            G.LINESTRING: "geoarrow.linestring",
            G.MULTILINESTRING: "geoarrow.multilinestring",
            G.POLYGON: "geoarrow.polygon",
            G.MULTIPOLYGON: "geoarrow.multipolygon",
        }[gtype]
        return field(arr, name), arr

    from spatialpandas.geometry import (
        LineArray, MultiLineArray, MultiPolygonArray, PolygonArray, RingArray,
    )

    garr = rows[geometry].array
    # Subclasses first (a RingArray is a LineArray).
    kinds = (
        (RingArray, "geoarrow.polygon"),
        (PolygonArray, "geoarrow.polygon"),
        (MultiPolygonArray, "geoarrow.multipolygon"),
        (MultiLineArray, "geoarrow.multilinestring"),
        (LineArray, "geoarrow.linestring"),
    )
    name = next((n for t, n in kinds if isinstance(garr, t)), None)
    if name is None:
        raise ValueError(
            f"{geometry} must be an array with one of the following types: LineDtype, "
            "MultiLineDtype, RingDtype, PolygonDtype, MultiPolygonDtype"
        )
    arr = pa.array(garr)
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if isinstance(garr, RingArray):
        # A ring per row: a polygon of one ring.
        n = len(arr)
        arr = pa.ListArray.from_arrays(
            pa.array(np.arange(n + 1, dtype=np.int32)), arr, mask=pa.array(np.asarray(garr.isna()))
        )
    return field(arr, name), arr


def _check_offsets(n):
    """GeoArrow's 32-bit list offsets hold up to 2**31 - 1 coordinates."""
    if n > np.iinfo(np.int32).max:
        raise ValueError(
            f"{n} coordinates in one geometry column: more than a 32-bit GeoArrow array holds; "
            "split the frame (or use Dask) so each part has fewer than 2**31"
        )


def _null_lines(field, n):
    """``n`` missing GeoArrow line strings."""
    import pyarrow as pa

    points = pa.FixedSizeListArray.from_arrays(pa.array([], type=pa.float64()), 2)
    arr = pa.ListArray.from_arrays(
        pa.array(np.zeros(n + 1, dtype=np.int32)), points, mask=pa.array(np.ones(n, dtype=bool))
    )
    return field(arr, "geoarrow.linestring"), arr


def _is_dask(source):
    """Whether ``source`` is a Dask collection (a Dask DataFrame, or one of
    its subclasses: spatialpandas' DaskGeoDataFrame, dask-geopandas') or
    pointillist.dask's reader."""
    if type(source).__module__ == "pointillist.dask":
        return True
    if type(source).__module__.split(".")[0] == "dask":
        return True
    dd = sys.modules.get("dask.dataframe")
    return dd is not None and isinstance(source, dd.DataFrame)


def _float_range(r):
    if r is None:
        return None
    lo, hi = r
    return (float(lo), float(hi))


class _Prepared:
    """A source made ready for the core: an Arrow stream or Parquet paths,
    the category labels to pass (None: the core's own), and the category
    coordinate Datashader would give (None: the core's labels)."""

    def __init__(self, stream=None, paths=None, labels=None, coords=None, int_categories=False):
        self.stream = stream
        self.paths = paths
        self.labels = labels
        self.coords = coords
        self.int_categories = int_categories

    @property
    def table(self):
        """The stream when it is a pyarrow Table (whose ranges Python can read)."""
        import pyarrow as pa

        return self.stream if isinstance(self.stream, pa.Table) else None


def _is_path(source):
    if isinstance(source, (str, os.PathLike)):
        return True
    return (
        isinstance(source, (list, tuple))
        and len(source) > 0
        and all(isinstance(s, (str, os.PathLike)) for s in source)
    )


def _needed(x, y, column, cat_column):
    cols = []
    for c in (x, y, column, cat_column):
        if c is not None and c not in cols:
            cols.append(c)
    return cols


def _prepare_source(source, x, y, column, cat_column, extra=()):
    cols = _needed(x, y, column, cat_column)
    cols += [c for c in dict.fromkeys(extra) if c not in cols]
    if _is_path(source):
        paths = [os.fspath(source)] if isinstance(source, (str, os.PathLike)) else [
            os.fspath(s) for s in source
        ]
        return _prepare_parquet(paths, cat_column)

    mod = type(source).__module__.split(".")[0]
    if mod == "pandas":
        return _prepare_pandas(source, cols, cat_column)
    if mod in ("dask", "dask_cudf", "cudf", "spatialpandas", "geopandas"):
        raise NotImplementedError(
            f"Canvas.points: {type(source).__module__}.{type(source).__name__} sources "
            "are not implemented by pointillist yet"
        )
    if isinstance(source, (xr.DataArray, xr.Dataset)):
        raise NotImplementedError(
            "Canvas.points: xarray sources are not implemented by pointillist yet"
        )

    import pyarrow as pa

    if isinstance(source, pa.RecordBatch):
        source = pa.Table.from_batches([source])
    elif mod == "polars" and hasattr(source, "__arrow_c_stream__"):
        source = pa.table(source)
    if isinstance(source, pa.Table):
        _check_columns(source.column_names, cols)
        table = source.select(cols)
        labels = coords = None
        int_categories = False
        if cat_column is not None:
            labels, coords = _arrow_categories(table.column(cat_column), cat_column)
            int_categories = pa.types.is_integer(table.schema.field(cat_column).type)
        return _Prepared(
            stream=table, labels=labels, coords=coords, int_categories=int_categories
        )
    if hasattr(source, "__arrow_c_stream__"):
        if cat_column is not None:
            # Categories as ``read_pandas`` gives them (the dictionaries
            # unified in order of appearance) need every batch first: the
            # stream becomes a Table (the core would hold its batches until
            # it knew the categories anyway).
            return _prepare_source(pa.table(source), x, y, column, cat_column, extra)
        # A stream (pyarrow.RecordBatchReader, ...): read once by the core.
        return _Prepared(stream=source)
    raise ValueError(
        "source must be a pandas DataFrame, a pyarrow Table, RecordBatch or "
        "RecordBatchReader, a polars DataFrame, an object with __arrow_c_stream__, "
        f"or a Parquet path; got {type(source).__name__}"
    )


def _prepare_parquet(paths, cat_column):
    """Parquet paths, read by the core. A category column's categories are
    those of ``pd.read_parquet`` (the dictionary pages' values in order of
    first appearance, integers as integers); where a chunk is not wholly
    dictionary-encoded (``read_parquet`` would give no categorical), the
    core's sorted distinct values."""
    if cat_column is None:
        return _Prepared(paths=paths)
    labels, is_int = _native.parquet_categories(paths, cat_column)
    coords = None
    if labels is not None:
        coords = [int(c) for c in labels] if is_int else list(labels)
    return _Prepared(paths=paths, labels=labels, coords=coords, int_categories=is_int)


def _check_columns(available, cols):
    for c in cols:
        if c not in available:
            raise ValueError("specified column not found")


def _labels_of(categories, column):
    """Core labels for Datashader's category values (str or int only)."""
    labels = []
    for c in categories:
        if isinstance(c, str):
            labels.append(c)
        elif isinstance(c, (int, np.integer)) and not isinstance(c, (bool, np.bool_)):
            labels.append(str(int(c)))
        else:
            raise NotImplementedError(
                f"categories of column '{column}' are {type(c).__name__}: pointillist "
                "implements string and integer categories only"
            )
    return labels


def _prepare_pandas(df, cols, cat_column):
    import pandas as pd
    import pyarrow as pa

    if not isinstance(df, pd.DataFrame):
        raise NotImplementedError(
            f"Canvas.points: pandas {type(df).__name__} sources are not implemented; "
            "give a DataFrame"
        )
    _check_columns(df.columns, cols)
    labels = coords = None
    if cat_column is not None:
        col = df[cat_column]
        if not isinstance(col.dtype, pd.CategoricalDtype):
            raise ValueError("input must be categorical")
        # Datashader's categories: np.array of the pandas categories, as a list.
        categories = np.array(col.cat.categories)
        if categories.dtype.kind == "U":
            categories = categories.astype("object")
        coords = list(categories)
        labels = _labels_of(coords, cat_column)
    table = pa.table({c: _pandas_column(df[c]) for c in cols})
    return _Prepared(stream=table, labels=labels, coords=coords)


def _pandas_column(col):
    """A pandas column as Arrow: NumPy numbers shared as they are (NaN
    stays NaN, which the core drops), categoricals as dictionaries over
    their codes, anything else through pyarrow's pandas conversion (NA
    becomes null)."""
    import pandas as pd
    import pyarrow as pa

    if isinstance(col.dtype, np.dtype) and col.dtype.kind in "fiu":
        return pa.array(col.to_numpy(), from_pandas=False)
    if type(col.dtype).__name__ == "RaggedDtype":
        # Datashader's RaggedArray: its flat values under Arrow list offsets.
        arr = col.array
        flat = np.asarray(arr.flat_array)
        offsets = np.append(np.asarray(arr.start_indices, dtype=np.int64), len(flat))
        return pa.LargeListArray.from_arrays(pa.array(offsets), pa.array(flat))
    if isinstance(col.dtype, pd.CategoricalDtype):
        # The codes shared as they are (pandas' codes are always within the
        # categories); only a column with missing values (-1) pays for a
        # validity bitmap.
        codes = col.cat.codes.to_numpy()
        dictionary = pa.array(np.asarray(col.cat.categories), from_pandas=True)
        if len(codes) and codes.min() < 0:
            return pa.DictionaryArray.from_arrays(
                pa.array(codes), dictionary, from_pandas=True, safe=False
            )
        return pa.DictionaryArray.from_arrays(pa.array(codes), dictionary, safe=False)
    return pa.Array.from_pandas(col)


def _maybe_expand_bounds(bounds):
    minval, maxval = bounds
    if not (np.isfinite(minval) and np.isfinite(maxval)):
        minval, maxval = -1.0, 1.0
    elif minval == maxval:
        minval, maxval = minval - 1, minval + 1
    return minval, maxval


def _broadcast_column_specifications(*args):
    """Datashader's: a column name against a list becomes a list of it."""
    lengths = {len(a) for a in args if isinstance(a, (list, tuple))}
    if len(lengths) != 1:
        return args
    n = lengths.pop()
    return tuple(
        (arg,) * n if isinstance(arg, (numbers.Number, str)) else arg for arg in args
    )


def _vertex_bounds(table, coords):
    """Datashader's bounds over lines' vertex columns and constants."""
    columns = [table.column(c) for c in coords if isinstance(c, str)]
    constants = [c for c in coords if not isinstance(c, str)]
    if constants and not columns:
        values = np.asarray(constants, dtype="f8")
        if np.isnan(values).all():
            return _maybe_expand_bounds((np.nan, np.nan))
        return _maybe_expand_bounds((np.nanmin(values), np.nanmax(values)))
    bounds = _data_bounds(columns, constants)
    return bounds


def _data_bounds(columns, constants=()):
    """Datashader's ``_compute_bounds`` of Arrow columns (NaN and nulls
    skipped, infinities kept; the lowest minimum and highest maximum of
    several) and ``maybe_expand_bounds``; None when a column is not
    numeric (the core then names the problem)."""
    import pyarrow as pa

    if not isinstance(columns, list):
        columns = [columns]
    lo, hi = math.inf, -math.inf
    for c in constants:
        if not math.isnan(c):
            lo, hi = min(lo, c), max(hi, c)
    for chunked in columns:
        t = chunked.type
        if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
            # Ragged lines: the bounds of all the lists' values.
            chunked = pa.chunked_array([c.flatten() for c in chunked.chunks], t.value_type)
            t = t.value_type
        if not (pa.types.is_integer(t) or pa.types.is_floating(t)):
            return None
        for chunk in chunked.chunks:
            # NumPy's nanmin / nanmax, by the core on all cores (GIL released).
            bounds = _native.nan_min_max(chunk)
            if bounds is None:
                continue
            lo = min(lo, bounds[0])
            hi = max(hi, bounds[1])
    return _maybe_expand_bounds((lo, hi))



def _arrow_categories(chunked, column):
    """Categories of an Arrow column: a dictionary column's dictionary (all
    chunks unified, as ``to_pandas`` does); otherwise the core's."""
    import pyarrow as pa

    if pa.types.is_dictionary(chunked.type):
        if chunked.num_chunks == 0:
            return None, None
        unified = chunked.unify_dictionaries()
        dictionary = unified.chunk(0).dictionary
        coords = list(dictionary.to_numpy(zero_copy_only=False))
        if dictionary.type in (pa.string(), pa.large_string(), pa.string_view()):
            coords = [str(c) for c in coords]
        return _labels_of(coords, column), coords
    return None, None
