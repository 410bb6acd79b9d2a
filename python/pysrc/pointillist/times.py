"""Time columns as axes and values (beyond Datashader, which refuses them:
"x must be real").

The core reads a timestamp or date column as its count of units (a
timestamp's own unit since the epoch, date32 days, date64 milliseconds).
Here, around it:

- a canvas range on a time axis may be given as times (``pd.Timestamp``,
  ``np.datetime64``, ``datetime``, ISO strings) as well as unit counts;
- the result's coordinate on a time axis is ``datetime64[ns]`` (pixel
  centres), and its ``x_range`` / ``y_range`` attrs are times too.

Time *value* columns (``max("t")``) stay refused on pandas and Arrow
input, as Datashader refuses them (the drop-in raises where it raises);
the CLI and the Rust API aggregate them as unit counts.
"""

from __future__ import annotations

import copy

import numpy as np

#: nanoseconds per unit
_NS = {"s": 10**9, "ms": 10**6, "us": 10**3, "ns": 1, "D": 86_400 * 10**9}


def unit_of(source, column):
    """The time unit (``"s"``, ``"ms"``, ``"us"``, ``"ns"``, ``"D"``) of
    ``column`` in ``source`` when it holds timestamps or dates, else None.
    Sources whose schema cannot be read cheaply give None."""
    if column is None or not isinstance(column, str):
        return None
    dtype = _dtype_of(source, column)
    if dtype is None:
        return None
    import pandas as pd

    if isinstance(dtype, pd.DatetimeTZDtype):
        return dtype.unit
    if isinstance(dtype, np.dtype) and dtype.kind == "M":
        return np.datetime_data(dtype)[0]
    if isinstance(dtype, pd.ArrowDtype):
        dtype = dtype.pyarrow_dtype
    try:
        import pyarrow as pa
    except ImportError:  # pragma: no cover
        return None
    if isinstance(dtype, pa.DataType):
        if pa.types.is_timestamp(dtype):
            return dtype.unit
        if pa.types.is_date32(dtype):
            return "D"
        if pa.types.is_date64(dtype):
            return "ms"
    return None


def _dtype_of(source, column):
    mod = type(source).__module__.split(".")[0]
    try:
        if mod in ("pandas", "dask", "pointillist") and hasattr(source, "dtypes"):
            return source.dtypes[column] if column in source.columns else None
        import pyarrow as pa

        if isinstance(source, (pa.Table, pa.RecordBatch)):
            i = source.schema.get_field_index(column)
            return source.schema.field(i).type if i >= 0 else None
        if isinstance(source, (str, bytes)) or hasattr(source, "__fspath__"):
            import os

            import pyarrow.parquet as pq

            path = os.fspath(source)
            if os.path.isfile(path):
                schema = pq.read_schema(path)
                i = schema.get_field_index(column)
                return schema.field(i).type if i >= 0 else None
    except Exception:  # a schema we cannot read: the core says what is wrong
        return None
    return None


def to_count(value, unit):
    """A range end given as a time (or a number: already a unit count) as
    the column's count of units."""
    if value is None or isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
        value, bool
    ):
        return value
    import pandas as pd

    try:
        ts = pd.Timestamp(value)
    except (TypeError, ValueError) as e:
        raise ValueError(f"range end {value!r} is neither a number nor a time: {e}") from None
    if ts.tzinfo is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    ns = ts.value
    return ns / _NS[unit]


def to_times(counts, unit):
    """Unit counts (float, NaN where empty) as ``datetime64[ns]``, NaT for NaN."""
    counts = np.asarray(counts, dtype="f8")
    nan = np.isnan(counts)
    ns = np.where(nan, 0.0, np.round(counts * _NS[unit])).astype("i8")
    out = ns.view("M8[ns]")
    out[nan] = np.datetime64("NaT")
    return out


def around(canvas, source, x, y, agg, run, dask=False):
    """Run ``run(canvas)`` with time ranges given as unit counts, then give
    the result time coordinates. ``run`` as is when no axis is a time."""
    ux, uy = unit_of(source, x), unit_of(source, y)
    if ux is None and uy is None:
        return run(canvas)
    inner = copy.copy(canvas)
    if ux is not None and canvas.x_range is not None:
        inner.x_range = tuple(to_count(v, ux) for v in canvas.x_range)
    if uy is not None and canvas.y_range is not None:
        inner.y_range = tuple(to_count(v, uy) for v in canvas.y_range)
    if dask:
        _dask_time_ranges(inner, source, x, y, ux, uy)
    out = run(inner)
    for dim, unit, key in ((x, ux, "x_range"), (y, uy, "y_range")):
        if unit is None:
            continue
        out = out.assign_coords({dim: to_times(out.coords[dim].values, unit)})
        out.attrs[key] = tuple(to_times([v], unit)[0] for v in out.attrs[key])
    return out


def _dask_time_ranges(canvas, ddf, x, y, ux, uy):
    """A Dask frame's time ranges (as unit counts) where the canvas has
    none: Datashader's bounds, NaT skipped, expanded where degenerate."""
    import dask

    from .core import _maybe_expand_bounds

    wanted = {}
    for axis, col, unit in (("x", x, ux), ("y", y, uy)):
        if unit is not None and getattr(canvas, f"{axis}_range") is None:
            wanted[axis] = (ddf[col].min(), ddf[col].max())
    if not wanted:
        return
    (found,) = dask.compute(wanted)
    for axis, (lo, hi) in found.items():
        unit = ux if axis == "x" else uy
        lo, hi = to_count(lo, unit), to_count(hi, unit)
        setattr(canvas, f"{axis}_range", _maybe_expand_bounds((lo, hi)))
