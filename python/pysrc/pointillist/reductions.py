"""Datashader's reductions, by name and signature.

These objects only describe what to compute; ``Canvas.points`` hands
them to the Rust core. Reductions the core does not implement yet keep
Datashader's names but raise ``NotImplementedError`` when made, naming
the missing feature.
"""

from __future__ import annotations

import builtins

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
    antialiased line adds where it crosses itself (ignored otherwise)."""

    _kind = "count"

    def __init__(self, column=None, self_intersect=True):
        super().__init__(column)
        self.self_intersect = bool(self_intersect)

    def __hash__(self):
        return hash((type(self), self.column, self.self_intersect))


class any(OptionalFieldReduction):
    """Whether any point (or non-NaN value of ``column``) falls in the pixel, bool."""

    _kind = "any"


class sum(Reduction):
    """Sum of ``column`` per pixel, float64, NaN where empty.
    ``self_intersect``: as for :class:`count`."""

    _kind = "sum"

    def __init__(self, column=None, self_intersect=True):
        super().__init__(column)
        self.self_intersect = bool(self_intersect)

    def __hash__(self):
        return hash((type(self), self.column, self.self_intersect))


class mean(Reduction):
    """Mean of ``column`` per pixel, float64, NaN where empty."""

    _kind = "mean"


class min(Reduction):
    """Minimum of ``column`` per pixel, float64, NaN where empty."""

    _kind = "min"


class max(Reduction):
    """Maximum of ``column`` per pixel, float64, NaN where empty."""

    _kind = "max"


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
    per category, as a last dimension named after the column."""

    def __init__(self, cat_column, reduction=None):
        if reduction is None:
            reduction = count()
        if not isinstance(cat_column, str):
            raise NotImplementedError(
                f"by({cat_column!r}): categorizers (category_codes, category_modulo, "
                "category_binning) are not implemented by pointillist; give a column name"
            )
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

    def __repr__(self):
        return f"{type(self).__name__}(column={self.column!r}, reduction={self.reduction!r})"

    def __hash__(self):
        return hash((type(self), self.cat_column, self.reduction))


class count_cat(by):
    """Count per category: ``by(column, count())``."""

    def __init__(self, column):
        super().__init__(column, count())

    def __repr__(self):
        return f"count_cat(column={self.column!r})"


def _not_implemented(name, what):
    def __init__(self, *args, **kwargs):
        raise NotImplementedError(f"{name}: {what} is not implemented by pointillist yet")

    return type(name, (Reduction,), {"__init__": __init__, "__doc__": f"Not implemented: {what}."})


first_n = _not_implemented("first_n", "the first_n reduction (n first values per pixel)")
last_n = _not_implemented("last_n", "the last_n reduction (n last values per pixel)")
max_n = _not_implemented("max_n", "the max_n reduction (n largest values per pixel)")
min_n = _not_implemented("min_n", "the min_n reduction (n smallest values per pixel)")
mode = _not_implemented("mode", "the mode reduction")
where = _not_implemented("where", "the where reduction (a value from the row selected by another)")
summary = _not_implemented("summary", "summary (several reductions in one pass, as an xarray.Dataset)")
category_codes = _not_implemented("category_codes", "categorizer objects")
category_modulo = _not_implemented("category_modulo", "the category_modulo categorizer")
category_binning = _not_implemented("category_binning", "the category_binning categorizer")

# Keep the builtins reachable for the package's own code.
_builtins = builtins
