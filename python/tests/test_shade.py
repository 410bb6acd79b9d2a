"""transfer_functions against Datashader 0.19.1's: the same Image (pixels
bit for bit, dims, coords, attrs, name)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import pointillist as ds
import pointillist.transfer_functions as tf

dsh = pytest.importorskip("datashader")
dtf = pytest.importorskip("datashader.transfer_functions")


def assert_same_image(ours, theirs):
    assert isinstance(ours, tf.Image)
    assert ours.dtype == np.uint32
    assert ours.name == theirs.name
    assert ours.attrs == theirs.attrs
    xr.testing.assert_identical(xr.DataArray(ours), xr.DataArray(theirs))


@pytest.fixture(scope="module")
def aggs():
    rng = np.random.default_rng(1)
    n = 20_000
    df = pd.DataFrame(
        {
            "x": rng.normal(size=n),
            "y": rng.normal(size=n),
            "v": rng.normal(size=n),
            "cat": pd.Categorical(
                rng.choice(["b", "a", "d", "c"], size=n), categories=["d", "b", "a", "c"]
            ),
        }
    )
    makers = {
        "count": lambda m: m.count(),
        "mean": lambda m: m.mean("v"),
        "any": lambda m: m.any(),
        "count_cat": lambda m: m.count_cat("cat"),
        "by-max": lambda m: m.by("cat", m.max("v")),
    }
    return {
        k: (
            ds.Canvas(80, 60).points(df, "x", "y", f(ds)),
            dsh.Canvas(80, 60).points(df, "x", "y", f(dsh)),
        )
        for k, f in makers.items()
    }


AGGS = ["count", "mean", "any", "count_cat", "by-max"]


@pytest.mark.parametrize("how", ["eq_hist", "linear", "log", "cbrt"])
@pytest.mark.parametrize("agg", AGGS)
def test_shade_how(aggs, agg, how):
    ours, theirs = aggs[agg]
    assert_same_image(tf.shade(ours, how=how), dtf.shade(theirs, how=how))
    assert_same_image(
        tf.shade(ours, how=how, rescale_discrete_levels=True, name="x"),
        dtf.shade(theirs, how=how, rescale_discrete_levels=True, name="x"),
    )


@pytest.mark.parametrize("agg", ["count", "mean", "any"])
def test_shade_cmaps(aggs, agg):
    ours, theirs = aggs[agg]
    for kw in (
        dict(cmap="red", how="log"),
        dict(cmap=(10, 200, 30), how="linear", alpha=200, min_alpha=10),
        dict(cmap=["#000000", "white", (255, 0, 0)], how="linear"),
        dict(cmap=("black", "orange"), how="cbrt"),
    ):
        assert_same_image(tf.shade(ours, **kw), dtf.shade(theirs, **kw))


@pytest.mark.parametrize("agg", ["count", "mean"])
def test_shade_span(aggs, agg):
    ours, theirs = aggs[agg]
    assert_same_image(
        tf.shade(ours, how="linear", span=(1, 5)), dtf.shade(theirs, how="linear", span=(1, 5))
    )


@pytest.mark.parametrize("agg", ["count_cat", "by-max"])
def test_shade_color_key(aggs, agg):
    ours, theirs = aggs[agg]
    key = ["red", "green", "blue", "orange"]
    assert_same_image(
        tf.shade(ours, color_key=key, min_alpha=80), dtf.shade(theirs, color_key=key, min_alpha=80)
    )
    key = dict(zip(["a", "b", "c", "d"], ["#ff0000", "#00ff00", "#0000ff", "#ffa500"]))
    assert_same_image(tf.shade(ours, color_key=key), dtf.shade(theirs, color_key=key))


def test_spread_dynspread_background(aggs):
    ours, theirs = aggs["count"]
    a, b = tf.shade(ours), dtf.shade(theirs)
    for px in (1, 2, 3):
        assert_same_image(tf.spread(a, px), dtf.spread(b, px))
    for threshold in (0.1, 0.5, 0.9):
        assert_same_image(
            tf.dynspread(a, threshold=threshold, max_px=4),
            dtf.dynspread(b, threshold=threshold, max_px=4),
        )
    assert_same_image(tf.set_background(a, "black"), dtf.set_background(b, "black"))
    assert_same_image(
        tf.set_background(tf.spread(a, 1), "#102030"),
        dtf.set_background(dtf.spread(b, 1), "#102030"),
    )


@pytest.mark.parametrize("how", [None, "over", "add", "saturate", "source"])
def test_spread_shapes_masks_and_operators(aggs, how):
    """Square and circle masks, a custom mask (odd, off-centre true cells,
    integer cells), each image operator, on a shaded layer and on random
    RGBA pixels with every alpha: Datashader's kernel pixel for pixel."""
    ours, theirs = aggs["count"]
    a, b = tf.shade(ours, cmap=["blue", "red"]), dtf.shade(theirs, cmap=["blue", "red"])
    rng = np.random.default_rng(11)
    raw = rng.integers(0, 2**32, size=a.shape, dtype=np.uint64).astype(np.uint32)
    raw[rng.random(a.shape) < 0.8] = 0  # sparse, as spread is used
    raw[::5] &= 0x00FFFFFF  # colour without alpha: skipped
    r_ours = tf.Image(raw, coords=a.coords, dims=a.dims)
    r_theirs = dtf.Image(raw, coords=b.coords, dims=b.dims)
    custom = np.array([[0, 1, 0, 0, 0], [0, 0, 0, 0, 1], [1, 0, 1, 0, 0], [0, 0, 0, 0, 0], [0, 0, 1, 1, 0]])
    for x, y in ((a, b), (r_ours, r_theirs)):
        for shape in ("circle", "square"):
            for px in (1, 3):
                assert_same_image(
                    tf.spread(x, px, shape=shape, how=how), dtf.spread(y, px, shape=shape, how=how)
                )
        for mask in (custom, custom.astype(bool)):
            assert_same_image(tf.spread(x, mask=mask, how=how), dtf.spread(y, mask=mask, how=how))
        assert_same_image(
            tf.dynspread(x, 0.9, 3, shape="square", how=how),
            dtf.dynspread(y, 0.9, 3, shape="square", how=how),
        )


@pytest.mark.parametrize("baseline", [0, 2, 7, -3, 1.5, -0.5, 100.0])
def test_color_baseline(aggs, baseline):
    """Categorical shading with an explicit colour baseline: uint32 counts
    (integer baselines, wrapping in uint32 below it as NumPy does) and
    float64 maxima (clipped at 0 below it), against Datashader."""
    for key in ("count_cat", "by-max"):
        ours, theirs = aggs[key]
        if ours.dtype.kind == "u" and isinstance(baseline, float):
            with pytest.raises(TypeError):
                dtf.shade(theirs, color_baseline=baseline)
            with pytest.raises(TypeError):
                tf.shade(ours, color_baseline=baseline)
            continue
        for how in ("eq_hist", "log"):
            assert_same_image(
                tf.shade(ours, how=how, color_baseline=baseline),
                dtf.shade(theirs, how=how, color_baseline=baseline),
            )


def test_spread_errors_as_datashader(aggs):
    img = tf.shade(aggs["count"][0])
    for kw, err in (
        (dict(shape="hexagon"), KeyError),
        (dict(how="multiply"), ValueError),
        (dict(mask=np.ones((2, 2), dtype=bool)), ValueError),
        (dict(mask=np.ones((3, 5), dtype=bool)), ValueError),
    ):
        with pytest.raises(err):
            tf.spread(img, 1, **kw)
        with pytest.raises(err):
            dtf.spread(img, 1, **kw)


@pytest.mark.parametrize("how", ["over", "add", "saturate", "source"])
def test_stack(aggs, how):
    """Shaded layers (alpha ramps, spread, backgrounds) and random RGBA
    pixels with every alpha, stacked with each operator, as Datashader's."""
    pairs = [
        (tf.shade(aggs[k][0], cmap=c), dtf.shade(aggs[k][1], cmap=c))
        for k, c in [("count", "red"), ("mean", ["blue", "yellow"]), ("any", "green")]
    ]
    pairs.append((tf.spread(pairs[0][0], 2), dtf.spread(pairs[0][1], 2)))
    pairs.append(
        (tf.set_background(pairs[2][0], "white"), dtf.set_background(pairs[2][1], "white"))
    )
    rng = np.random.default_rng(7)
    raw = rng.integers(0, 2**32, size=pairs[0][0].shape, dtype=np.uint64).astype(np.uint32)
    raw[::3] &= 0x00FFFFFF  # some fully transparent pixels
    pairs.append(
        (
            tf.Image(raw, coords=pairs[0][0].coords, dims=pairs[0][0].dims),
            dtf.Image(raw, coords=pairs[0][1].coords, dims=pairs[0][1].dims),
        )
    )
    ours = [p[0] for p in pairs]
    theirs = [p[1] for p in pairs]
    assert_same_image(tf.stack(*ours, how=how), dtf.stack(*theirs, how=how))
    assert_same_image(
        tf.stack(*ours[::-1], how=how, name="s"), dtf.stack(*theirs[::-1], how=how, name="s")
    )
    assert tf.stack(ours[0]) is ours[0]


def test_stack_errors(aggs):
    img = tf.shade(aggs["count"][0])
    with pytest.raises(ValueError, match="No images"):
        tf.stack()
    with pytest.raises(TypeError, match="Expected `Image`"):
        tf.stack(img, np.zeros(3))
    small = tf.shade(ds.Canvas(5, 5).points(pd.DataFrame({"x": [0.0], "y": [0.0]}), "x", "y"))
    with pytest.raises(ValueError, match="same shape"):
        tf.stack(img, small)
    with pytest.raises(KeyError):
        tf.stack(img, img, how="multiply")


def test_empty_aggregate():
    empty = pd.DataFrame({"x": np.array([], "f8"), "y": np.array([], "f8")})
    assert_same_image(
        tf.shade(ds.Canvas(5, 5).points(empty, "x", "y")),
        dtf.shade(dsh.Canvas(5, 5).points(empty, "x", "y")),
    )


def test_png_output(aggs):
    pytest.importorskip("PIL")
    ours, theirs = aggs["count"]
    a, b = tf.shade(ours), dtf.shade(theirs)
    assert a.to_pil().tobytes() == b.to_pil().tobytes()
    assert a.to_bytesio().getvalue()[:8] == b"\x89PNG\r\n\x1a\n"
    assert a._repr_png_()[:8] == b"\x89PNG\r\n\x1a\n"
    assert a._repr_html_().startswith("<img")
    assert "<table" in tf.Images(a, tf.spread(a)).cols(1)._repr_html_()


def test_not_implemented_is_named(aggs):
    ours, _ = aggs["count"]
    img = tf.shade(ours)
    with pytest.raises(NotImplementedError, match="non-Image"):
        tf.spread(ours, 1)
    with pytest.raises(NotImplementedError, match="colormap"):
        tf.shade(ours, cmap=lambda v, bytes=True: v)
    with pytest.raises(NotImplementedError, match="int64"):
        tf.shade(ours.astype("int64"))


# A callable `how(data, mask)` and 2-D discrete colour keys, as Datashader
# calls and applies them.


def _sqrt(data, mask):
    return np.where(mask, np.nan, np.sqrt(data))


def _ranked(data, mask):
    """An eq_hist-like interpolator that returns discrete levels too."""
    out = np.where(mask, np.nan, data.astype("float64"))
    values = np.unique(out[~np.isnan(out)])
    ranks = np.searchsorted(values, out).astype("float64")
    return np.where(mask, np.nan, ranks), len(values)


@pytest.mark.parametrize("agg", AGGS)
@pytest.mark.parametrize(
    "kw",
    [
        dict(how=_sqrt),
        dict(how=_sqrt, span=(1, 6)),
        dict(how=_ranked, rescale_discrete_levels=True),
        dict(how=lambda d, m: np.log1p(d), cmap="red", min_alpha=20),
        dict(how=_sqrt, alpha=120, color_baseline=0),
    ],
    ids=["sqrt", "sqrt-span", "levels", "log1p-single", "alpha-baseline"],
)
def test_a_callable_how_is_called_as_datashader_calls_it(aggs, agg, kw):
    ours, theirs = aggs[agg]
    if ours.ndim == 2:
        kw = {k: v for k, v in kw.items() if k != "color_baseline"}
    assert_same_image(tf.shade(ours, **kw), dtf.shade(theirs, **kw))


@pytest.mark.parametrize(
    "key",
    [
        {1: "red", 2: "#00ff00", 5: (0, 0, 255)},
        {3: "orange"},
        {0: "black", 1: "white"},
        {99999: "red"},
    ],
    ids=["three", "one", "zero-key", "no-match"],
)
@pytest.mark.parametrize("baseline", [None, 0, 2, -1, 0.5])
@pytest.mark.parametrize("alpha", [255, 90])
def test_a_2d_colour_key_dict_colours_the_cells_equal_to_its_keys(aggs, key, baseline, alpha):
    ours, theirs = aggs["count"]
    assert_same_image(
        tf.shade(ours, color_key=key, color_baseline=baseline, alpha=alpha, name="k"),
        dtf.shade(theirs, color_key=key, color_baseline=baseline, alpha=alpha, name="k"),
    )


def test_a_2d_colour_key_dict_on_floats(aggs):
    ours, theirs = aggs["mean"]
    # Keys that occur (rounded means) and ones that do not.
    o, t = ours.copy(data=np.round(ours.values)), theirs.copy(data=np.round(theirs.values))
    key = {0.0: "red", 1.0: "blue", -1.0: "green", 7.5: "white"}
    for baseline in (None, 0, 3):
        assert_same_image(
            tf.shade(o, color_key=key, color_baseline=baseline),
            dtf.shade(t, color_key=key, color_baseline=baseline),
        )
