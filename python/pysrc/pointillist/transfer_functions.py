"""Datashader's ``transfer_functions`` names.

Shading is not wired to the Rust core's shader yet: every function raises
``NotImplementedError`` naming the missing feature, never a silent
fallback.
"""

from __future__ import annotations

__all__ = ["shade", "spread", "dynspread", "set_background", "stack", "Image", "Images"]


def _missing(what):
    raise NotImplementedError(f"{what} is not implemented by pointillist's Python package yet")


def shade(agg, *args, **kwargs):
    _missing("transfer_functions.shade (shading an aggregate to an image)")


def spread(img, *args, **kwargs):
    _missing("transfer_functions.spread")


def dynspread(img, *args, **kwargs):
    _missing("transfer_functions.dynspread")


def set_background(img, *args, **kwargs):
    _missing("transfer_functions.set_background")


def stack(*imgs, **kwargs):
    _missing("transfer_functions.stack")


class Image:
    def __init__(self, *args, **kwargs):
        _missing("transfer_functions.Image (an RGBA xarray.DataArray)")


class Images:
    def __init__(self, *args, **kwargs):
        _missing("transfer_functions.Images")
