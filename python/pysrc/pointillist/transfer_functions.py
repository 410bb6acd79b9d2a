"""Datashader's ``transfer_functions``, shading on pointillist's Rust core.

``shade``, ``spread``, ``dynspread``, ``set_background`` and ``stack``
(``over``, ``add``, ``saturate``, ``source``) give Datashader 0.19's
images bit for bit for what the core implements. A callable ``how``
(``how(data, mask)``, as Datashader calls it) and 2-D discrete colour keys
(``color_key`` a dict of aggregate values to colours) follow Datashader's
NumPy code here, since they call back into Python; the rest (matplotlib
colormaps, spreading non-Image arrays, stacking images on different
coordinates) raises ``NotImplementedError`` naming the missing feature.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from io import BytesIO

import numpy as np
import xarray as xr

from . import _native

__all__ = ["Image", "Images", "stack", "shade", "set_background", "spread", "dynspread"]


def _hex(c):
    return "#{:02x}{:02x}{:02x}".format(*c)


#: Datashader's default categorical colours.
Sets1to3 = [_hex(c) for c in _native.default_color_key()]


def rgb(x):
    """Datashader's ``rgb``: a colour name, ``#rrggbb`` or an RGB tuple as a tuple."""
    if isinstance(x, str):
        return _native.parse_color(x)
    if isinstance(x, tuple) and len(x) == 3:
        if min(x) < 0 or max(x) > 255:
            raise ValueError("Invalid RGB tuple")
        if not all(isinstance(v, (int, np.integer)) for v in x):
            raise NotImplementedError(
                f"RGB tuple {x!r}: pointillist takes integer channels only"
            )
        return tuple(int(v) for v in x)
    raise TypeError(f"Don't know how to convert {x} to RGB")


def uint32_to_uint8(img):
    """Cast a uint32 RGBA image to a 4-channel uint8 one."""
    return img.view(dtype=np.uint8).reshape(img.shape + (4,))


class Image(xr.DataArray):
    """An RGBA image: Datashader's ``Image``, an ``xarray.DataArray`` of
    packed uint32 pixels (row 0 = lowest y)."""

    __slots__ = ()
    __array_priority__ = 70
    border = 1

    def to_pil(self, origin="lower"):
        from PIL.Image import fromarray

        data = self.data
        arr = np.flipud(data) if origin == "lower" else data
        if len(arr.shape) == 2 and arr.dtype == np.uint32:
            arr = uint32_to_uint8(arr)
        return fromarray(arr)

    def to_bytesio(self, format="png", origin="lower"):
        fp = BytesIO()
        self.to_pil(origin).save(fp, format)
        fp.seek(0)
        return fp

    def _repr_png_(self):
        """Supports rich PNG display in a Jupyter notebook"""
        return self.to_pil()._repr_png_()

    def _repr_html_(self):
        """Supports rich HTML display in a Jupyter notebook"""
        from base64 import b64encode

        b = BytesIO()
        self.to_pil().save(b, format="png")
        blob = b64encode(b.getvalue()).decode("utf-8")
        return (
            '<img style="margin: auto; border:' + str(self.border) + 'px solid" '
            f"src='data:image/png;base64,{blob}'/>"
        )


class Images:
    """A list of HTML-representable objects to display in a table."""

    def __init__(self, *images):
        for i in images:
            assert hasattr(i, "_repr_html_")
        self.images = images
        self.num_cols = None

    def cols(self, n):
        """Set the number of columns to use in the HTML table; returns self."""
        self.num_cols = n
        return self

    def _repr_html_(self):
        htmls = []
        col = 0
        tr = """<tr style="background-color:white">"""
        for i in self.images:
            label = i.name if hasattr(i, "name") and i.name is not None else ""
            htmls.append(
                """<td style="text-align: center"><b>"""
                + label
                + f"""</b><br><br>{i._repr_html_()}</td>"""
            )
            col += 1
            if self.num_cols is not None and col >= self.num_cols:
                col = 0
                htmls.append("</tr>" + tr)
        return (
            """<table style="width:100%; text-align: center"><tbody>"""
            + tr
            + "".join(htmls)
            + """</tr></tbody></table>"""
        )


def stack(*imgs, **kwargs):
    """Combine images together, overlaying later images onto earlier ones.

    Parameters
    ----------
    imgs : iterable of Image
        The images to combine.
    how : str, optional
        The compositing operator to combine pixels. Default is `'over'`.
    """
    if not imgs:
        raise ValueError("No images passed in")
    shapes = []
    for i in imgs:
        if not isinstance(i, Image):
            raise TypeError("Expected `Image`, got: `{0}`".format(type(i)))
        elif not shapes:
            shapes.append(i.shape)
        elif shapes and i.shape not in shapes:
            raise ValueError("The stacked images must have the same shape.")
    name = kwargs.get("name", None)
    how = kwargs.get("how", "over")
    if how not in ("over", "add", "saturate", "source"):
        raise KeyError(how)
    if len(imgs) == 1:
        return imgs[0]
    first = imgs[0]
    for i in imgs[1:]:
        if not all(
            np.array_equal(first.coords[d].values, i.coords[d].values) for d in first.dims
        ):
            raise NotImplementedError(
                "transfer_functions.stack: images on different coordinates (Datashader "
                "aligns them with an outer join) are not implemented by pointillist"
            )
    h, w = first.shape
    out = _native.stack_images([_image_pixels(i) for i in imgs], h, w, how)
    return Image(out.reshape(h, w), coords=first.coords, dims=first.dims, name=name)


_SUPPORTED = (
    np.dtype("uint32"),
    np.dtype("uint16"),
    np.dtype("uint8"),
    np.dtype("bool"),
    np.dtype("float64"),
    np.dtype("float32"),
)


def _values(agg):
    data = agg.data
    if not isinstance(data, np.ndarray):
        raise NotImplementedError(
            f"shading {type(data).__name__} data is not implemented by pointillist; "
            "give a NumPy-backed DataArray"
        )
    if data.dtype not in _SUPPORTED:
        raise NotImplementedError(
            f"shading a {data.dtype} aggregate is not implemented by pointillist "
            "(uint8, uint16, uint32, bool, float64 and float32 only, the dtypes Canvas.points "
            "and Canvas.line return)"
        )
    return np.ascontiguousarray(data).ravel()


def _alpha(alpha):
    if isinstance(alpha, (int, np.integer)) or float(alpha).is_integer():
        return int(alpha)
    raise NotImplementedError(f"alpha={alpha!r}: pointillist takes an integer alpha")


def _span(span):
    if span is None:
        return None
    lo, hi = span
    return (float(lo), float(hi))


def _how(how):
    if not isinstance(how, str):
        raise ValueError(f"Unknown interpolation method: {how!r}")
    return how


def shade(
    agg,
    cmap=["lightblue", "darkblue"],  # noqa: B006 (Datashader's signature)
    color_key=Sets1to3,
    how="eq_hist",
    alpha=255,
    min_alpha=40,
    span=None,
    name=None,
    color_baseline=None,
    rescale_discrete_levels=False,
):
    """Convert a DataArray to an image by choosing an RGBA pixel color for
    each value: Datashader's ``tf.shade``, on the Rust core."""
    if not isinstance(agg, xr.DataArray):
        raise TypeError("agg must be instance of DataArray")
    name = agg.name if name is None else name
    if not ((0 <= min_alpha <= 255) and (0 <= alpha <= 255)):
        raise ValueError(f"min_alpha ({min_alpha}) and alpha ({alpha}) must be between 0 and 255")
    if rescale_discrete_levels and how != "eq_hist":
        rescale_discrete_levels = False
    if agg.ndim == 2:
        if color_key is not None and isinstance(color_key, dict):
            return _apply_discrete_colorkey(agg, color_key, alpha, name, color_baseline)
        if callable(how):
            return _interpolate_callable(
                agg, cmap, how, alpha, span, min_alpha, name, rescale_discrete_levels
            )
        return _interpolate(agg, cmap, how, alpha, span, min_alpha, name, rescale_discrete_levels)
    if agg.ndim == 3:
        return _colorize(
            agg, color_key, how, alpha, span, min_alpha, name, color_baseline,
            rescale_discrete_levels,
        )
    raise ValueError("agg must use 2D or 3D coordinates")


def _interpolate(agg, cmap, how, alpha, span, min_alpha, name, rescale_discrete_levels):
    how = _how(how)
    values = _values(agg)
    if values.dtype == np.bool_:
        mask = ~values
    elif values.dtype.kind == "u":
        mask = values == 0
    else:
        mask = np.isnan(values)
    if mask.all():
        return Image(
            np.zeros(shape=agg.data.shape, dtype=np.uint32),
            coords=agg.coords, dims=agg.dims, attrs=agg.attrs, name=name,
        )
    if isinstance(cmap, Iterator):
        cmap = list(cmap)
    if isinstance(cmap, tuple) and isinstance(cmap[0], str):
        cmap = list(cmap)
    if isinstance(cmap, list):
        colors, single = [rgb(c) for c in cmap], None
    elif isinstance(cmap, (str, tuple)):
        single = rgb(cmap)
        colors = [single]
    elif callable(cmap):
        raise NotImplementedError(
            "shade(cmap=<matplotlib Colormap>): callable colormaps are not implemented by "
            "pointillist; give a list of colours"
        )
    else:
        raise TypeError(
            "Expected `cmap` of `matplotlib.colors.Colormap`, "
            f"`list`, `str`, or `tuple`; got: '{type(cmap)}'"
        )
    h, w = agg.shape
    out = _native.shade_values(
        values, h, w, None, how, colors, single, _span(span), _alpha(alpha),
        float(min_alpha), None, bool(rescale_discrete_levels),
    )
    return Image(out.reshape(h, w), coords=agg.coords, dims=agg.dims, name=name)


def _colorize(agg, color_key, how, alpha, span, min_alpha, name, color_baseline,
              rescale_discrete_levels):
    if callable(how):
        # The colours do not depend on `how`: the core's, with the alpha
        # of Datashader's `_interpolate_alpha` calling `how`.
        img = _colorize(agg, color_key, "linear", alpha, span, min_alpha, name,
                        color_baseline, rescale_discrete_levels)
        if agg.shape[-1] == 0:
            return img
        data = np.asarray(agg.data)
        total = _nansum_missing(data)
        a = _interpolate_alpha(data, total, np.isnan(total), how, alpha, span, min_alpha,
                               rescale_discrete_levels)
        rgba = img.data.copy().view(np.uint8).reshape(a.shape + (4,))
        rgba[..., 3] = a
        return img.copy(data=rgba.view(np.uint32).reshape(a.shape))
    how = _how(how)
    cats = agg.indexes[agg.dims[-1]]
    coords = dict([(agg.dims[1], agg.coords[agg.dims[1]]), (agg.dims[0], agg.coords[agg.dims[0]])])
    if not len(cats):
        return Image(np.zeros(agg.shape[0:2], dtype=np.uint32), dims=agg.dims[:-1],
                     coords=coords, name=name)
    if color_key is None:
        raise ValueError("Color key must be provided, with at least as many " +
                         "colors as there are categorical fields")
    if not isinstance(color_key, dict):
        color_key = dict(zip(cats, color_key))
    if len(color_key) < len(cats):
        raise ValueError(f"Insufficient colors provided ({len(color_key)}) for the categorical "
                         f"fields available ({len(cats)})")
    colors = [rgb(color_key[c]) for c in cats]
    values = _values(agg)
    baseline = None
    if color_baseline is not None:
        baseline = _color_baseline(color_baseline, values.dtype)
    h, w, n = agg.shape
    out = _native.shade_values(
        values, h, w, n, how, [], None, _span(span), _alpha(alpha), float(min_alpha),
        colors, bool(rescale_discrete_levels), baseline,
    )
    return Image(out.reshape(h, w), dims=agg.dims[:-1], coords=coords, name=name)


def _apply_discrete_colorkey(agg, color_key, alpha, name, color_baseline):
    """Datashader's 2-D ``color_key`` dict: each cell equal to a key takes
    its colour (opaque at ``alpha``), every other cell is transparent; an
    explicit ``color_baseline`` below 1 leaves the keyed cells black, as
    its arithmetic does."""
    data_in = np.asarray(agg.data)
    cats = color_key.keys()
    colors = [rgb(color_key[c]) for c in cats]
    rs, gs, bs = map(np.array, zip(*colors))
    data = np.empty_like(data_in) * np.nan
    r = np.zeros_like(data, dtype=np.uint8)
    g = np.zeros_like(data, dtype=np.uint8)
    b = np.zeros_like(data, dtype=np.uint8)
    r2, g2, b2 = np.zeros_like(r), np.zeros_like(g), np.zeros_like(b)
    for i, c in enumerate(cats):
        value_mask = data_in == c
        data[value_mask] = 1
        r2[value_mask] = rs[i]
        g2[value_mask] = gs[i]
        b2[value_mask] = bs[i]
    color_data = data.copy()
    with np.errstate(invalid="ignore"), _all_nan_quiet():
        baseline = np.nanmin(color_data) if color_baseline is None else color_baseline
        if baseline > 0:
            color_data -= baseline
        elif baseline < 0:
            color_data += -baseline
        if color_data.dtype.kind != "u" and color_baseline is not None:
            color_data[color_data < 0] = 0
    color_data[np.isnan(data)] = 0
    if not color_data.any():
        r[:], g[:], b[:] = r2, g2, b2
    missing = color_data == 0
    r, g, b = np.where(missing, r2, r), np.where(missing, g2, g), np.where(missing, b2, b)
    a = np.where(np.isnan(data), 0, alpha).astype(np.uint8)
    values = np.dstack([r, g, b, a]).view(np.uint32).reshape(a.shape)
    return Image(values, dims=agg.dims, coords=agg.coords, name=name)


@contextlib.contextmanager
def _all_nan_quiet():
    """Datashader's silence over all-NaN reductions."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", r"All-NaN (slice|axis) encountered")
        yield


def _masked_clip_2d(data, mask, lower, upper):
    """Datashader's ``masked_clip_2d``: clip the unmasked cells in place."""
    keep = ~mask
    data[keep & (data < lower)] = lower
    data[keep & (data > upper)] = upper


def _nansum_missing(data):
    """Datashader's ``nansum_missing`` over the category axis: NaN where
    every category is NaN (its summation order too)."""
    array = data.transpose(2, 0, 1)
    missing = np.isnan(array)
    set_to_zero = missing & ~np.all(missing, axis=0)
    return np.where(set_to_zero, 0, array).sum(axis=0)


def _interpolate_callable(agg, cmap, how, alpha, span, min_alpha, name,
                          rescale_discrete_levels):
    """Datashader's ``_interpolate`` with a callable ``how(data, mask)``,
    for list and single-colour colormaps."""
    data = np.array(agg.data, copy=True)
    if np.issubdtype(data.dtype, np.bool_):
        mask = ~data
        data = data.astype(np.int8)
    elif data.dtype.kind == "u":
        mask = data == 0
    else:
        mask = np.isnan(data)
    if mask.all():
        return Image(np.zeros(shape=agg.data.shape, dtype=np.uint32), coords=agg.coords,
                     dims=agg.dims, attrs=agg.attrs, name=name)
    if span is None:
        offset = np.nanmin(data[~mask])
    else:
        offset = np.array(span, dtype=data.dtype)[0]
        _masked_clip_2d(data, mask, *span)
    data -= offset
    with np.errstate(invalid="ignore", divide="ignore"):
        data = how(data, mask)
        discrete_levels = None
        if isinstance(data, (list, tuple)):
            data, discrete_levels = data
        if span is None:
            masked = np.where(~mask, data, np.nan)
            span = np.nanmin(masked), np.nanmax(masked)
            if rescale_discrete_levels and discrete_levels is not None:
                span = _rescale_discrete_levels(discrete_levels, span)
        else:
            span = how([0, span[1] - span[0]], 0)
    if isinstance(cmap, Iterator):
        cmap = list(cmap)
    if isinstance(cmap, tuple) and isinstance(cmap[0], str):
        cmap = list(cmap)
    if isinstance(cmap, list):
        rspan, gspan, bspan = np.array(list(zip(*map(rgb, cmap))))
        span = np.linspace(span[0], span[1], len(cmap))
        r = np.nan_to_num(np.interp(data, span, rspan, left=255), copy=False).astype(np.uint8)
        g = np.nan_to_num(np.interp(data, span, gspan, left=255), copy=False).astype(np.uint8)
        b = np.nan_to_num(np.interp(data, span, bspan, left=255), copy=False).astype(np.uint8)
        a = np.where(np.isnan(data), 0, alpha).astype(np.uint8)
    elif isinstance(cmap, (str, tuple)):
        color = rgb(cmap)
        aspan = np.arange(min_alpha, alpha + 1)
        span = np.linspace(span[0], span[1], len(aspan))
        r = np.full(data.shape, color[0], dtype=np.uint8)
        g = np.full(data.shape, color[1], dtype=np.uint8)
        b = np.full(data.shape, color[2], dtype=np.uint8)
        a = np.nan_to_num(np.interp(data, span, aspan, left=0, right=255),
                          copy=False).astype(np.uint8)
    elif callable(cmap):
        raise NotImplementedError(
            "shade(cmap=<matplotlib Colormap>): callable colormaps are not implemented by "
            "pointillist; give a list of colours"
        )
    else:
        raise TypeError("Expected `cmap` of `matplotlib.colors.Colormap`, "
                        f"`list`, `str`, or `tuple`; got: '{type(cmap)}'")
    img = np.dstack([r, g, b, a]).view(np.uint32).reshape(data.shape)
    return Image(img, coords=agg.coords, dims=agg.dims, name=name)


def _rescale_discrete_levels(discrete_levels, span):
    """Datashader's lower-span rescale for few discrete levels."""
    if discrete_levels is None:
        raise ValueError("interpolator did not return a valid discrete_levels")
    m = -0.5 / 98.0
    c = 1.5 - 2 * m
    multiple = m * discrete_levels + c
    if multiple > 1:
        lower_span = max(span[1] - multiple * (span[1] - span[0]), 0)
        span = (lower_span, 1)
    return span


def _interpolate_alpha(data, total, mask, how, alpha, span, min_alpha,
                       rescale_discrete_levels):
    """Datashader's ``_interpolate_alpha`` with a callable ``how``."""
    if span is None:
        with _all_nan_quiet():
            offset = np.nanmin(total)
        if total.dtype.kind == "u" and offset == 0:
            mask = mask | (total == 0)
            if not np.all(mask):
                offset = total[total > 0].min()
            total = np.where(~mask, total, np.nan)
        a_scaled = how(total - offset, mask)
        discrete_levels = None
        if isinstance(a_scaled, (list, tuple)):
            a_scaled, discrete_levels = a_scaled
        with _all_nan_quiet():
            norm_span = [np.nanmin(a_scaled).item(), np.nanmax(a_scaled).item()]
        if rescale_discrete_levels and discrete_levels is not None:
            norm_span = _rescale_discrete_levels(discrete_levels, norm_span)
    else:
        offset = np.array(span, dtype=data.dtype)[0]
        if total.dtype.kind == "u" and np.nanmin(total) == 0:
            mask = mask | (total <= 0)
            total = np.where(~mask, total, np.nan)
        _masked_clip_2d(total, mask, *span)
        a_scaled = how(total - offset, mask)
        if isinstance(a_scaled, (list, tuple)):
            a_scaled = a_scaled[0]
        norm_span = how([0, span[1] - span[0]], 0)
        if isinstance(norm_span, (list, tuple)):
            norm_span = norm_span[0]
    norm_span = np.hstack(norm_span)
    a_float = np.interp(a_scaled, norm_span, np.array([min_alpha, alpha]), left=0, right=255)
    return np.nan_to_num(a_float, copy=False).astype(np.uint8)


def _color_baseline(baseline, dtype):
    """``color_baseline`` as the core takes it, after NumPy's checks of
    Datashader's in-place subtraction: a ``uint32`` aggregate takes only
    integers that fit (``uint32`` arithmetic), a float one any number."""
    if dtype.kind == "u":
        if isinstance(baseline, (float, np.floating)):
            raise TypeError(
                "Cannot cast ufunc 'subtract' output from dtype('float64') to dtype('uint32') "
                "with casting rule 'same_kind'"
            )
        b = int(baseline)
        if not -(2**32) < b < 2**32:
            raise OverflowError(f"Python integer {abs(b)} out of bounds for uint32")
        return float(b)
    return float(baseline)


def _image_pixels(img):
    if not isinstance(img, Image):
        raise TypeError(f"Expected `Image`, got: `{type(img)}`")
    if img.ndim != 2 or img.dtype != np.uint32:
        raise NotImplementedError("pointillist spreads 2-D uint32 RGBA images only")
    return np.ascontiguousarray(img.data).ravel()


def set_background(img, color=None, name=None):
    """Return a new image, with the background set to `color`."""
    if not isinstance(img, Image):
        raise TypeError(f"Expected `Image`, got: `{type(img)}`")
    name = img.name if name is None else name
    if color is None:
        return img
    h, w = img.shape
    out = _native.set_background_image(_image_pixels(img), h, w, rgb(color))
    return Image(out.reshape(h, w), coords=img.coords, dims=img.dims, name=name)


_IMAGE_OPERATORS = ("over", "add", "saturate", "source")


def _spread_how(how, is_image):
    """Datashader's default operator (``over`` for images) and its check."""
    if not is_image:
        raise NotImplementedError(
            "spreading a non-Image DataArray (the 'add' operator on aggregates) is not "
            "implemented by pointillist"
        )
    how = "over" if how is None else how
    if how not in _IMAGE_OPERATORS:
        ops = ", ".join(repr(o) for o in _IMAGE_OPERATORS)
        raise ValueError(f"Operator {how!r} not one of the supported image operators: {ops}")
    return how


def spread(img, px=1, shape="circle", how=None, mask=None, name=None):
    """Spread pixels in an image: Datashader's ``tf.spread``. ``shape``
    ``'circle'`` or ``'square'`` (``2 px + 1`` on a side), or ``mask`` (a
    square boolean array of odd side, spread from its centre to where it
    is true); ``how`` any image operator (``over`` by default, ``add``,
    ``saturate``, ``source``), each later source pixel composited onto
    what the earlier ones left, as Datashader's kernel does."""
    if not isinstance(img, xr.DataArray):
        raise TypeError(f"Expected `xr.DataArray`, got: `{type(img)}`")
    is_image = isinstance(img, Image)
    name = img.name if name is None else name
    if mask is None:
        if not isinstance(px, int) or px < 0:
            raise ValueError("``px`` must be an integer >= 0")
        if px == 0:
            return img
        if shape not in ("circle", "square"):
            raise KeyError(shape)
        cells = None
    else:
        if not (
            isinstance(mask, np.ndarray)
            and mask.ndim == 2
            and mask.shape[0] == mask.shape[1]
            and mask.shape[0] % 2 == 1
        ):
            raise ValueError(
                "mask must be a square 2 dimensional ndarray with odd dimensions."
            )
        cells = (int(mask.shape[0]), [bool(v) for v in np.asarray(mask).ravel()])
    how = _spread_how(how, is_image)
    h, w = img.shape[:2]
    out = _native.spread_image(_image_pixels(img), h, w, int(px), shape, how, cells)
    return img.__class__(out.reshape(h, w), dims=img.dims, coords=img.coords, name=name)


def dynspread(img, threshold=0.5, max_px=3, shape="circle", how=None, name=None):
    """Spread pixels in an image dynamically based on the image density:
    Datashader's ``tf.dynspread``, with ``spread``'s shapes and operators."""
    is_image = isinstance(img, Image)
    if not 0 <= threshold <= 1:
        raise ValueError("threshold must be in [0, 1]")
    if not isinstance(max_px, int) or max_px < 0:
        raise ValueError("max_px must be >= 0")
    h, w = img.shape[:2]
    if not is_image:
        _spread_how(how, is_image)
    pixels = _image_pixels(img)
    # Datashader checks the shape and operator only when it spreads.
    known = shape in ("circle", "square") and (how is None or how in _IMAGE_OPERATORS)
    out = _native.dynspread_image(
        pixels, h, w, float(threshold), max_px,
        shape if known else "circle", (how or "over") if known else "over",
    )
    if np.array_equal(out, pixels):
        # Datashader returns the image itself when it spreads by 0 pixels.
        return img
    if not known:
        if shape not in ("circle", "square"):
            raise KeyError(shape)
        _spread_how(how, is_image)
    return img.__class__(out.reshape(h, w), dims=img.dims, coords=img.coords, name=name)
