"""Datashader's reductions, by name and signature.

These objects only describe what to compute; ``Canvas.points`` hands
them to the Rust core. Reductions the core does not implement yet keep
Datashader's names but raise ``NotImplementedError`` when made, naming
the missing feature.
"""

from __future__ import annotations

import builtins

import numpy as np

__all__ = [
    "Reduction",
    "count",
    "any",
    "sum",
    "mean",
    "min",
    "max",
    "var",
    "std",
    "first",
    "last",
    "by",
    "count_cat",
    "first_n",
    "last_n",
    "max_n",
    "min_n",
    "mode",
    "where",
    "summary",
    "category_codes",
    "category_modulo",
    "category_binning",
]


class Reduction:
    """Base class for per-pixel reductions."""

    #: the core's name for the operation
    _kind: str = ""
    #: whether the value column may be omitted
    _column_optional = False

    def __init__(self, column: str | None = None):
        if column is None and not self._column_optional:
            raise TypeError(f"{type(self).__name__}() needs a column name")
        if column is not None and not isinstance(column, str):
            raise NotImplementedError(
                f"{type(self).__name__}(column={column!r}): pointillist takes "
                "column names (str) only"
            )
        self.column = column

    # What the core needs: (kind, value column, category column).
    def _spec(self):
        return self._kind, self.column, None

    # Further parameters of the core (``n``, ``where``'s lookup, the dtype).
    def _extra(self):
        return {"dtype": self.dtype} if getattr(self, "dtype", None) else {}

    #: the dtypes the aggregate may be held in (``dtype=``), beyond Datashader
    _dtypes: tuple = ()

    def _set_dtype(self, dtype):
        """Check and keep ``dtype`` (None: Datashader's own)."""
        if dtype is None:
            self.dtype = None
            return
        try:
            name = np.dtype(dtype).name
        except TypeError as e:
            raise ValueError(f"{type(self).__name__}(dtype={dtype!r}): {e}") from None
        if name not in self._dtypes:
            raise ValueError(
                f"{type(self).__name__}(dtype={dtype!r}): the aggregate can be held in "
                f"{', '.join(self._dtypes)}"
            )
        self.dtype = name

    # Columns read besides the value and category columns.
    def _columns(self):
        return []

    def __repr__(self):
        return f"{type(self).__name__}({self.column!r})"

    def __eq__(self, other):
        return type(self) is type(other) and self.__dict__ == other.__dict__

    def __hash__(self):
        return hash((type(self), self.column))


class OptionalFieldReduction(Reduction):
    _column_optional = True


class count(OptionalFieldReduction):
    """Count of points per pixel (or of non-NaN values of ``column``), uint32
    (float32 coverage for antialiased lines). ``self_intersect``: whether an
    antialiased line adds where it crosses itself (ignored otherwise).

    ``dtype`` (beyond Datashader): ``"uint8"`` or ``"uint16"`` hold the
    counts in a quarter or half of the memory, saturating at 255 or 65,535
    (the uint32 counts clipped, exactly, however the data is split)."""

    _kind = "count"
    _dtypes = ("uint8", "uint16", "uint32")

    def __init__(self, column=None, self_intersect=True, dtype=None):
        super().__init__(column)
        self.self_intersect = bool(self_intersect)
        self._set_dtype(dtype)

    def __hash__(self):
        return hash((type(self), self.column, self.self_intersect, self.dtype))


class any(OptionalFieldReduction):
    """Whether any point (or non-NaN value of ``column``) falls in the pixel, bool."""

    _kind = "any"


class sum(Reduction):
    """Sum of ``column`` per pixel, float64, NaN where empty.
    ``self_intersect``: as for :class:`count`. ``dtype="float32"`` (beyond
    Datashader) holds the sums in half the memory, rounded to float32
    after each added value."""

    _kind = "sum"
    _dtypes = ("float32", "float64")

    def __init__(self, column=None, self_intersect=True, dtype=None):
        super().__init__(column)
        self.self_intersect = bool(self_intersect)
        self._set_dtype(dtype)

    def __hash__(self):
        return hash((type(self), self.column, self.self_intersect, self.dtype))


class mean(Reduction):
    """Mean of ``column`` per pixel, float64, NaN where empty."""

    _kind = "mean"


class min(Reduction):
    """Minimum of ``column`` per pixel, float64, NaN where empty.
    ``dtype="float32"`` (beyond Datashader): the float64 minimum rounded to
    float32, in half the memory."""

    _kind = "min"
    _dtypes = ("float32", "float64")

    def __init__(self, column=None, dtype=None):
        super().__init__(column)
        self._set_dtype(dtype)

    def __hash__(self):
        return hash((type(self), self.column, self.dtype))


class max(Reduction):
    """Maximum of ``column`` per pixel, float64, NaN where empty.
    ``dtype="float32"``: as for :class:`min`."""

    _kind = "max"
    _dtypes = ("float32", "float64")

    def __init__(self, column=None, dtype=None):
        super().__init__(column)
        self._set_dtype(dtype)

    def __hash__(self):
        return hash((type(self), self.column, self.dtype))


class var(Reduction):
    """Population variance of ``column`` per pixel, float64, NaN where empty."""

    _kind = "var"


class std(Reduction):
    """Population standard deviation of ``column`` per pixel, float64."""

    _kind = "std"


class first(Reduction):
    """First non-NaN value of ``column`` per pixel, in row order."""

    _kind = "first"


class last(Reduction):
    """Last non-NaN value of ``column`` per pixel, in row order."""

    _kind = "last"


class by(Reduction):
    """``reduction`` split by the categories of ``cat_column``: one plane
    per category, as a last dimension named after the column.

    ``top_categories=K`` (beyond Datashader, its #907): keep the K
    categories with the most rows on the canvas (ties to the earlier one),
    in category order, and fold every other row, and nulls, into a last
    category ``"(other)"``, so memory grows with K, not with the column."""

    def __init__(self, cat_column, reduction=None, top_categories=None):
        if reduction is None:
            reduction = count()
        if top_categories is not None:
            if isinstance(top_categories, bool) or not isinstance(top_categories, (int, np.integer)):
                raise TypeError(f"by(top_categories={top_categories!r}): give an integer")
            if top_categories < 1:
                raise ValueError(f"by(top_categories={top_categories}): keep at least 1 category")
            top_categories = int(top_categories)
        self.top_categories = top_categories
        self.categorizer = None
        if isinstance(cat_column, category_codes):
            self.categorizer = cat_column
            cat_column = cat_column.column
        elif not isinstance(cat_column, str):
            raise TypeError("first argument must be a column name or a CategoryPreprocess instance")
        if isinstance(reduction, by):
            raise NotImplementedError("by() of a by() reduction is not implemented by pointillist")
        if not isinstance(reduction, Reduction):
            raise TypeError(f"by(): reduction must be a Reduction, not {type(reduction).__name__}")
        self.cat_column = cat_column
        self.reduction = reduction
        self.column = cat_column  # as Datashader, for backwards compatibility
        self.val_column = reduction.column

    def _spec(self):
        kind, column, _ = self.reduction._spec()
        return kind, column, self.cat_column

    def _extra(self):
        extra = dict(self.reduction._extra())
        if self.top_categories is not None:
            extra["top_categories"] = self.top_categories
        return extra

    def _columns(self):
        return self.reduction._columns()

    def _describe(self):
        """The core's ``by`` for a computed categorizer (modulo, binning),
        None for a column's own categories."""
        return self.categorizer._describe() if self.categorizer is not None else None

    def __repr__(self):
        return f"{type(self).__name__}(column={self.column!r}, reduction={self.reduction!r})"

    def __hash__(self):
        return hash((type(self), self.cat_column, self.reduction, self.top_categories))


class count_cat(by):
    """Count per category: ``by(column, count())``."""

    def __init__(self, column):
        super().__init__(column, count())

    def __repr__(self):
        return f"count_cat(column={self.column!r})"


class _n_reduction(Reduction):
    """Base of the ``_n`` reductions: ``n`` values per pixel, a trailing
    dimension ``n``."""

    def __init__(self, column=None, n=1):
        super().__init__(column)
        if not isinstance(n, (int, np.integer)):
            raise TypeError(f"{type(self).__name__}(n={n!r}): n must be an integer")
        # Datashader clamps n below 1 to 1.
        self.n = int(n) if n >= 1 else 1

    def _extra(self):
        return dict(n=self.n)

    def __repr__(self):
        return f"{type(self).__name__}({self.column!r}, n={self.n})"

    def __hash__(self):
        return hash((type(self), self.column, self.n))


class first_n(_n_reduction):
    """The first ``n`` non-NaN values of ``column`` per pixel, in row
    order, float64, NaN where fewer."""

    _kind = "first_n"


class last_n(_n_reduction):
    """The last ``n`` non-NaN values of ``column`` per pixel, the most
    recent first."""

    _kind = "last_n"


class max_n(_n_reduction):
    """The ``n`` largest values of ``column`` per pixel, largest first
    (of equal values, the earlier row first)."""

    _kind = "max_n"


class min_n(_n_reduction):
    """The ``n`` smallest values of ``column`` per pixel, smallest first."""

    _kind = "min_n"


_SELECTORS = (first, last, max, min, first_n, last_n, max_n, min_n)


class where(Reduction):
    """The value of ``lookup_column`` in the row ``selector`` picks per
    pixel (float64, NaN where empty), or that row's index in the input
    (int64, -1 where empty) when ``lookup_column`` is None. ``selector``:
    ``first``, ``last``, ``max``, ``min`` or their ``_n`` forms (then a
    trailing dimension ``n``)."""

    def __init__(self, selector, lookup_column=None):
        if not isinstance(selector, _SELECTORS):
            raise TypeError(
                "selector can only be a first, first_n, last, last_n, "
                "max, max_n, min or min_n reduction"
            )
        if lookup_column is not None and not isinstance(lookup_column, str):
            raise NotImplementedError(
                f"where(lookup_column={lookup_column!r}): pointillist takes column names (str) only"
            )
        self.selector = selector
        self.column = lookup_column
        self.lookup_column = lookup_column

    def _spec(self):
        kind, column, _ = self.selector._spec()
        return kind, column, None

    def _extra(self):
        extra = dict(self.selector._extra())
        if self.column is None:
            extra["row_index"] = True
        else:
            extra["lookup"] = self.column
        return extra

    def _columns(self):
        return [self.column] if self.column is not None else []

    def __repr__(self):
        return f"where({self.selector!r}, {self.column!r})"

    def __hash__(self):
        return hash((type(self), self.selector, self.column))


class summary:
    """Several reductions in one call, as an ``xarray.Dataset`` with one
    variable per keyword, in keyword order."""

    def __init__(self, **kwargs):
        # Datashader's order: the keys sorted.
        ks, vs = zip(*sorted(kwargs.items()))
        for v in vs:
            if not isinstance(v, Reduction):
                raise TypeError(f"summary: {v!r} is not a Reduction")
        self.keys = ks
        self.values = vs

    def __hash__(self):
        return hash((type(self), tuple(self.keys), tuple(self.values)))

    def __eq__(self, other):
        return type(self) is type(other) and self.keys == other.keys and self.values == other.values

    def __repr__(self):
        inner = ", ".join(f"{k}={v!r}" for k, v in zip(self.keys, self.values))
        return f"summary({inner})"


def _not_implemented(name, what):
    def __init__(self, *args, **kwargs):
        raise NotImplementedError(f"{name}: {what} is not implemented by pointillist yet")

    return type(name, (Reduction,), {"__init__": __init__, "__doc__": f"Not implemented: {what}."})


mode = _not_implemented("mode", "the mode reduction (raster downsampling comes with the grids issue)")
class category_codes:
    """The categories of a pandas categorical column, in their order
    (unused ones kept): what ``by(column)`` does."""

    def __init__(self, column):
        if not isinstance(column, str):
            raise NotImplementedError(
                f"{type(self).__name__}({column!r}): pointillist takes column names (str) only"
            )
        self.column = column

    @property
    def cat_column(self):
        return self.column

    # The core's description (``Categorizer::parse_by``), None for the
    # column's own categories.
    def _describe(self):
        return None

    def __eq__(self, other):
        return type(self) is type(other) and self.__dict__ == other.__dict__

    def __hash__(self):
        return hash((type(self),) + tuple(sorted(self.__dict__.items())))

    def __repr__(self):
        return f"{type(self).__name__}({self.column!r})"


class category_modulo(category_codes):
    """Categories ``(column - offset) % modulo`` of an integer column:
    ``0 .. modulo - 1``."""

    def __init__(self, column, modulo, offset=0):
        super().__init__(column)
        self.offset = offset
        self.modulo = modulo

    def _describe(self):
        for name, v in (("modulo", self.modulo), ("offset", self.offset)):
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool):
                raise NotImplementedError(
                    f"category_modulo({name}={v!r}): pointillist takes integers only"
                )
        if self.modulo < 1:
            # Datashader finds no categories and fails on the empty shape.
            raise NotImplementedError(
                f"category_modulo: modulo {self.modulo} gives no categories; give at least 1"
            )
        return f"category_modulo({self.column},{int(self.modulo)},{int(self.offset)})"


class category_binning(category_modulo):
    """Categories by binning ``column``: ``nbins`` bins from ``lower`` to
    ``upper``, and a last category (``nbins``) for NaN and for values under
    (unless ``include_under``) or over (unless ``include_over``) the bins."""

    def __init__(self, column, lower, upper, nbins, include_under=True, include_over=True):
        super().__init__(column, nbins + 1)
        self.bin0 = lower
        self.binsize = (upper - lower) / float(nbins)
        self.nbins = nbins
        self.bin_under = 0 if include_under else nbins
        self.bin_over = nbins - 1 if include_over else nbins
        self._args = (float(lower), float(upper), int(nbins), bool(include_under), bool(include_over))

    def _describe(self):
        lower, upper, nbins, under, over = self._args
        if nbins < 1:
            raise ValueError(f"category_binning: nbins must be at least 1, not {nbins}")
        return (
            f"category_binning({self.column},{lower!r},{upper!r},{nbins},"
            f"{str(under).lower()},{str(over).lower()})"
        )

# Keep the builtins reachable for the package's own code.
_builtins = builtins
