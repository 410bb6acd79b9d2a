//! Shading: turning an [`Aggregate`] into an RGBA [`Image`] exactly as
//! Datashader 0.19.1 does with `tf.shade`, then `tf.spread` / `tf.dynspread`,
//! then `tf.set_background`.
//!
//! Every step follows Datashader's (and NumPy's) arithmetic operation for
//! operation, so images match Datashader's bit for bit:
//! - 2-D aggregates go through Datashader's `_interpolate`: mask empty cells
//!   (0 for counts, `false` for `any`, NaN for floats), subtract the minimum
//!   (or clip to `span`), transform (`linear`, `log` = `log1p`, `cbrt` =
//!   `x ** (1/3)`, `eq_hist`), then `np.interp` each channel over the
//!   colormap and truncate to `u8`.
//! - Categorical (3-D) aggregates go through `_colorize`: colours mixed in
//!   `float32` weighted by each category's value above the baseline, alpha
//!   from the per-pixel total between `min_alpha` and `alpha`.
//!
//! The reference is NumPy 2.x on x86-64: its `np.interp` does not fuse
//! multiply-adds, while `color_data @ RGB` (OpenBLAS `sgemm`) does. The only
//! known source of divergence is `log1p` / `pow`, where NumPy may use SIMD
//! routines that differ from the platform libm by one ULP in rare cases (none
//! seen in the cross-checks).
//!
//! Submodules: `numeric` (NumPy's interp / linspace / histogram / sums),
//! `interpolate` (2-D), `colorize` (categorical), `composite` (`over`,
//! spreading, background), `colors` (parsing) and `colormaps` (tables).
//!
//! ```
//! use pointillist::aggregate::{aggregate, AggregateRequest};
//! use pointillist::shade::{shade, How, ShadeOptions};
//! use pointillist::source::Source;
//!
//! let agg = aggregate(&Source::sample()?, &AggregateRequest::new(64, 48))?;
//! let opts = ShadeOptions::default().with_how(How::Log).with_cmap_name("viridis")?;
//! let img = shade(&agg, &opts)?;
//! assert_eq!((img.width, img.height), (64, 48));
//! let png_rows = img.to_north_up_rgba8(); // for a PNG encoder: north up
//! assert_eq!(png_rows.len(), 64 * 48 * 4);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod colorize;
mod colormaps;
mod colors;
mod composite;
mod interpolate;
mod numeric;
mod shared_eq;

use std::fmt;
use std::str::FromStr;

use crate::aggregate::{AggValues, Aggregate};

pub use colors::{
    colormap, colormap_names, default_color_key, parse_cmap, parse_cmap_arg, parse_color, CmapArg,
};
pub use composite::{
    dynspread, dynspread_with, set_background, spread, spread_with, stack, CompositeOp, SpreadMask,
    SpreadShape,
};
pub use shared_eq::{SharedEqHist, SharedEqHistBuilder};

/// One RGBA pixel, straight (not premultiplied) alpha, like Datashader's
/// `uint32` pixels viewed as bytes.
pub type Rgba = [u8; 4];

/// A shaded image in the aggregate's orientation: row 0 is the *lowest* y
/// (south), as in Datashader's `Image.data`; use
/// [`Image::to_north_up_rgba8`] for files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// `height * width` pixels, row-major, row 0 = lowest y.
    pub pixels: Vec<Rgba>,
}

impl Image {
    /// A fully transparent image (all bytes zero, as Datashader's empty image).
    pub fn transparent(width: usize, height: usize) -> Self {
        Image {
            width,
            height,
            pixels: vec![[0; 4]; width * height],
        }
    }

    /// The pixel at `(row, col)`, row 0 = lowest y; `None` outside the image.
    pub fn pixel(&self, row: usize, col: usize) -> Option<Rgba> {
        if row < self.height && col < self.width {
            self.pixels.get(row * self.width + col).copied()
        } else {
            None
        }
    }

    /// RGBA bytes with rows flipped so the first row is the top (north), as
    /// Datashader's `img.to_pil()` and PNG files expect.
    ///
    /// ```
    /// use pointillist::shade::Image;
    ///
    /// let mut img = Image::transparent(1, 2);
    /// img.pixels[0] = [255, 0, 0, 255]; // row 0: the south
    /// assert_eq!(img.to_north_up_rgba8(), vec![0, 0, 0, 0, 255, 0, 0, 255]);
    /// ```
    pub fn to_north_up_rgba8(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.pixels.len() * 4);
        if self.width == 0 {
            return out;
        }
        for row in self.pixels.chunks_exact(self.width).rev() {
            for p in row {
                out.extend_from_slice(p);
            }
        }
        out
    }

    /// The image as an [`image::RgbaImage`], north up (its first row is the
    /// highest y), as Datashader's `img.to_pil()` (the `image` feature).
    /// `None` when [`Image::pixels`] does not hold `width * height` pixels
    /// or a side does not fit in `u32`.
    ///
    /// ```
    /// use pointillist::aggregate::{aggregate, AggregateRequest};
    /// use pointillist::shade::{shade, ShadeOptions};
    /// use pointillist::source::Source;
    ///
    /// let agg = aggregate(&Source::sample()?, &AggregateRequest::new(64, 48))?;
    /// let img = shade(&agg, &ShadeOptions::default())?;
    /// let rgba = img.to_rgba_image().expect("a whole image");
    /// assert_eq!(rgba.dimensions(), (64, 48));
    /// // The RgbaImage's top-left pixel is the north-west corner: the
    /// // shaded image's last row.
    /// assert_eq!(Some(rgba.get_pixel(0, 0).0), img.pixel(47, 0));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[cfg(feature = "image")]
    pub fn to_rgba_image(&self) -> Option<image::RgbaImage> {
        let w = u32::try_from(self.width).ok()?;
        let h = u32::try_from(self.height).ok()?;
        if self.pixels.len() != self.width.checked_mul(self.height)? {
            return None;
        }
        image::RgbaImage::from_raw(w, h, self.to_north_up_rgba8())
    }
}

/// How data values are mapped onto the colormap (Datashader's `how`).
///
/// ```
/// use pointillist::shade::How;
///
/// assert_eq!("eq-hist".parse::<How>()?, How::EqHist);
/// assert_eq!(How::Cbrt.name(), "cbrt");
/// assert!("sqrt".parse::<How>().is_err());
/// # Ok::<(), pointillist::shade::ShadeError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum How {
    /// Linear in the value.
    Linear,
    /// `log1p` of the value above the minimum.
    Log,
    /// Cube root of the value above the minimum.
    Cbrt,
    /// Histogram equalisation (Datashader's default).
    #[default]
    EqHist,
}

impl How {
    /// Datashader's names, in the order they are listed to users.
    pub const NAMES: &'static [&'static str] = &["linear", "log", "cbrt", "eq_hist"];

    /// Datashader's name for this method.
    pub fn name(self) -> &'static str {
        match self {
            How::Linear => "linear",
            How::Log => "log",
            How::Cbrt => "cbrt",
            How::EqHist => "eq_hist",
        }
    }
}

impl fmt::Display for How {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for How {
    type Err = ShadeError;

    /// Datashader's names, case-insensitive; `eq-hist` is accepted too.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().replace('-', "_").as_str() {
            "linear" => Ok(How::Linear),
            "log" => Ok(How::Log),
            "cbrt" => Ok(How::Cbrt),
            "eq_hist" => Ok(How::EqHist),
            _ => Err(ShadeError::UnknownHow {
                name: s.to_string(),
                valid: How::NAMES.to_vec(),
            }),
        }
    }
}

/// `tf.dynspread` settings.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct Dynspread {
    /// Density threshold in `[0, 1]`; higher spreads more (Datashader: 0.5).
    pub threshold: f64,
    /// Largest spread in pixels (Datashader: 3).
    pub max_px: u32,
}

impl Default for Dynspread {
    fn default() -> Self {
        Dynspread {
            threshold: 0.5,
            max_px: 3,
        }
    }
}

impl Dynspread {
    /// `tf.dynspread(threshold=threshold, max_px=max_px)`.
    pub fn new(threshold: f64, max_px: u32) -> Dynspread {
        Dynspread { threshold, max_px }
    }
}

/// Everything [`shade`] needs: the arguments of `tf.shade` plus the
/// post-processing steps the CLI applies.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ShadeOptions {
    /// Value-to-colour mapping.
    pub how: How,
    /// Colormap for 2-D aggregates, as Datashader's list form
    /// `cmap=[c0, c1, ...]`: values are interpolated across the colours. A
    /// one-element list is what Datashader does with a list of one colour:
    /// every non-empty pixel gets that colour at full `alpha`.
    pub cmap: Vec<[u8; 3]>,
    /// Datashader's string form `cmap='<colour>'`: one colour whose alpha
    /// ramps from `min_alpha` to `alpha` with the value. Overrides `cmap`
    /// when set.
    pub single_color: Option<[u8; 3]>,
    /// Data values mapped to the ends of the colormap (not with `eq_hist`).
    pub span: Option<(f64, f64)>,
    /// Alpha of non-empty pixels (maximum alpha for single colours and
    /// categorical aggregates).
    pub alpha: u8,
    /// Lowest alpha of non-empty pixels for single colours and categorical
    /// aggregates, in `[0, 255]`.
    pub min_alpha: f64,
    /// Colours of the categories in category order; `None` = Datashader's
    /// default `Sets1to3` (22 colours). Ignored for 2-D aggregates.
    pub color_key: Option<Vec<[u8; 3]>>,
    /// With `eq_hist`: push few-valued data to the top of the colormap.
    pub rescale_discrete_levels: bool,
    /// Categorical aggregates: the value subtracted from every category
    /// before the colours are mixed (Datashader's `color_baseline`).
    /// `None`: the aggregate's smallest value. Given, float aggregates
    /// clip what falls below it to 0, and `uint32` ones subtract it in
    /// `uint32` arithmetic (wrapping), as NumPy does.
    pub color_baseline: Option<f64>,
    /// `tf.spread(img, px)` after shading.
    pub spread: Option<u32>,
    /// The mask `spread` and `dynspread` spread over (Datashader's
    /// `shape=`, circle by default).
    pub spread_shape: SpreadShape,
    /// How `spread` and `dynspread` composite a pixel onto its
    /// neighbours (Datashader's `how=`, `over` by default).
    pub spread_how: CompositeOp,
    /// `tf.dynspread(img, threshold, max_px)` after shading (and after
    /// `spread` if both are given).
    pub dynspread: Option<Dynspread>,
    /// `tf.set_background(img, colour)` last.
    pub background: Option<[u8; 3]>,
}

impl Default for ShadeOptions {
    /// Datashader's `shade()` defaults, except `how = eq_hist` and
    /// `cmap = fire` (pointillist's CLI defaults).
    fn default() -> Self {
        ShadeOptions {
            how: How::EqHist,
            cmap: colormap("fire").unwrap_or_default(),
            single_color: None,
            span: None,
            alpha: 255,
            min_alpha: 40.0,
            color_key: None,
            rescale_discrete_levels: false,
            color_baseline: None,
            spread: None,
            spread_shape: SpreadShape::Circle,
            spread_how: CompositeOp::Over,
            dynspread: None,
            background: None,
        }
    }
}

/// Builder-style setters, one per field, for chaining from
/// [`ShadeOptions::default`].
///
/// ```
/// use pointillist::shade::{How, ShadeOptions};
///
/// let opts = ShadeOptions::default()
///     .with_how(How::Linear)
///     .with_span(Some((0.0, 100.0)))
///     .with_cmap_name("kbc")?
///     .with_background(Some([0, 0, 0]));
/// assert_eq!(opts.how, How::Linear);
/// # Ok::<(), pointillist::shade::ShadeError>(())
/// ```
impl ShadeOptions {
    /// Sets [`ShadeOptions::how`].
    #[must_use]
    pub fn with_how(mut self, how: How) -> Self {
        self.how = how;
        self
    }

    /// Sets [`ShadeOptions::cmap`] (and clears `single_color`).
    #[must_use]
    pub fn with_cmap(mut self, cmap: Vec<[u8; 3]>) -> Self {
        self.cmap = cmap;
        self.single_color = None;
        self
    }

    /// Sets the colormap from a name or a colour list as the CLI's
    /// `--cmap` reads it ([`parse_cmap_arg`]): `"fire"`, `"#ff0000,blue"`,
    /// or one colour name for Datashader's single-colour alpha ramp.
    pub fn with_cmap_name(mut self, cmap: &str) -> Result<Self, ShadeError> {
        let arg = parse_cmap_arg(cmap)?;
        self.cmap = arg.colors;
        self.single_color = arg.single_color;
        Ok(self)
    }

    /// Sets [`ShadeOptions::single_color`].
    #[must_use]
    pub fn with_single_color(mut self, color: Option<[u8; 3]>) -> Self {
        self.single_color = color;
        self
    }

    /// Sets [`ShadeOptions::span`].
    #[must_use]
    pub fn with_span(mut self, span: Option<(f64, f64)>) -> Self {
        self.span = span;
        self
    }

    /// Sets [`ShadeOptions::alpha`].
    #[must_use]
    pub fn with_alpha(mut self, alpha: u8) -> Self {
        self.alpha = alpha;
        self
    }

    /// Sets [`ShadeOptions::min_alpha`].
    #[must_use]
    pub fn with_min_alpha(mut self, min_alpha: f64) -> Self {
        self.min_alpha = min_alpha;
        self
    }

    /// Sets [`ShadeOptions::color_key`].
    #[must_use]
    pub fn with_color_key(mut self, color_key: Option<Vec<[u8; 3]>>) -> Self {
        self.color_key = color_key;
        self
    }

    /// Sets [`ShadeOptions::rescale_discrete_levels`].
    #[must_use]
    pub fn with_rescale_discrete_levels(mut self, rescale: bool) -> Self {
        self.rescale_discrete_levels = rescale;
        self
    }

    /// Sets [`ShadeOptions::spread`].
    #[must_use]
    pub fn with_spread(mut self, px: Option<u32>) -> Self {
        self.spread = px;
        self
    }

    /// Sets [`ShadeOptions::color_baseline`].
    #[must_use]
    pub fn with_color_baseline(mut self, baseline: Option<f64>) -> Self {
        self.color_baseline = baseline;
        self
    }

    /// Sets [`ShadeOptions::spread_shape`] and [`ShadeOptions::spread_how`].
    #[must_use]
    pub fn with_spread_mask(mut self, shape: SpreadShape, how: CompositeOp) -> Self {
        self.spread_shape = shape;
        self.spread_how = how;
        self
    }

    /// Sets [`ShadeOptions::dynspread`].
    #[must_use]
    pub fn with_dynspread(mut self, dynspread: Option<Dynspread>) -> Self {
        self.dynspread = dynspread;
        self
    }

    /// Sets [`ShadeOptions::background`].
    #[must_use]
    pub fn with_background(mut self, rgb: Option<[u8; 3]>) -> Self {
        self.background = rgb;
        self
    }

    /// The categorical colours in use (the key, or Datashader's `Sets1to3`).
    pub fn color_key_colors(&self) -> &[[u8; 3]] {
        match &self.color_key {
            Some(k) => k,
            None => default_color_key(),
        }
    }

    /// How many categories the colour key can colour.
    pub fn color_key_len(&self) -> usize {
        self.color_key_colors().len()
    }
}

/// Why a span is rejected, and what to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SpanProblem {
    /// An end is NaN or infinite.
    #[error("both ends must be finite numbers")]
    NotFinite,
    /// `lo > hi`.
    #[error("the lower end must not exceed the upper end")]
    Reversed,
    /// Outside what a `uint32` aggregate can hold.
    #[error("a count (uint32) aggregate needs a span within 0 to 4294967295")]
    OutsideUint32,
    /// Outside the `int8` range Datashader casts a `bool` span to.
    #[error("an 'any' (bool) aggregate needs a span within -128 to 127")]
    OutsideBool,
}

/// What can go wrong while shading. Messages are one line, name the bad
/// input and say what to do.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ShadeError {
    /// A colormap name that is not in [`colormap_names`].
    #[error("unknown colormap '{name}'; valid names: {}; or give colours as #rrggbb or names, separated by commas", .valid.join(", "))]
    UnknownColormap {
        /// What was given.
        name: String,
        /// The known names.
        valid: Vec<&'static str>,
    },
    /// A colour name Datashader does not know.
    #[error(
        "unknown colour '{name}'; use a CSS colour name (e.g. 'red', 'darkorange') or #rrggbb"
    )]
    UnknownColor {
        /// What was given.
        name: String,
    },
    /// A malformed hex colour.
    #[error("invalid hex colour '{input}'; use #rrggbb with six hex digits (Datashader does not accept #rgb)")]
    InvalidHexColor {
        /// What was given.
        input: String,
    },
    /// An unknown `how`.
    #[error("unknown shading method '{name}'; valid methods: {}", .valid.join(", "))]
    UnknownHow {
        /// What was given.
        name: String,
        /// The known methods.
        valid: Vec<&'static str>,
    },
    /// A colormap without colours.
    #[error("the colormap has no colours; give a colormap name or at least one colour")]
    EmptyColormap,
    /// Fewer key colours than categories.
    #[error("the aggregate has {categories} categories but the color key has only {colors} colours; give at least {categories} colours")]
    TooFewColors {
        /// Categories in the aggregate.
        categories: usize,
        /// Colours in the key.
        colors: usize,
    },
    /// A span that cannot be used.
    #[error("invalid span ({lo}, {hi}): {reason}")]
    InvalidSpan {
        /// Lower end.
        lo: f64,
        /// Upper end.
        hi: f64,
        /// Why it is rejected and what to do.
        reason: SpanProblem,
    },
    /// A colour baseline a `uint32` aggregate cannot subtract.
    #[error("color baseline {baseline} for a count aggregate (uint32): give an integer between -4294967295 and 4294967295")]
    InvalidColorBaseline {
        /// What was given.
        baseline: f64,
    },
    /// `span` together with `eq_hist`.
    #[error("span cannot be used with how=eq_hist (Datashader does not support it); drop the span or use linear, log or cbrt")]
    SpanWithEqHist,
    /// `min_alpha` outside `[0, 255]`.
    #[error("min_alpha ({min_alpha}) must be between 0 and 255")]
    InvalidMinAlpha {
        /// What was given.
        min_alpha: f64,
    },
    /// A single-colour ramp with `min_alpha > alpha`.
    #[error("single-colour shading needs min_alpha ({min_alpha}) <= alpha ({alpha}); lower min_alpha or raise alpha")]
    EmptyAlphaRamp {
        /// Lowest alpha.
        min_alpha: f64,
        /// Highest alpha.
        alpha: u8,
    },
    /// A dynspread threshold outside `[0, 1]`.
    #[error("dynspread threshold ({threshold}) must be between 0 and 1")]
    InvalidThreshold {
        /// What was given.
        threshold: f64,
    },
    /// `eq_hist` on infinite values.
    #[error("eq_hist cannot equalise an aggregate whose values span [{lo}, {hi}] (not finite); use linear, log or cbrt")]
    NonFiniteEqHist {
        /// Smallest value.
        lo: f64,
        /// Largest value.
        hi: f64,
    },
    /// `eq_hist` on a value range too narrow for 65536 distinct bins.
    #[error("eq_hist cannot make 65536 distinct bins for values in [{lo}, {hi}] (NumPy refuses too); use linear, log or cbrt")]
    EqHistRangeTooNarrow {
        /// Smallest value.
        lo: f64,
        /// Largest value.
        hi: f64,
    },
    /// A categorical boolean aggregate.
    #[error("categorical shading of a boolean ('any') aggregate is not supported (Datashader fails on it too); use a count aggregate")]
    BoolCategorical,
    /// The values do not fit the declared shape.
    #[error("aggregate has {got} values but its shape {width}x{height}x{planes} needs {expected}")]
    ShapeMismatch {
        /// Width.
        width: usize,
        /// Height.
        height: usize,
        /// Category planes.
        planes: usize,
        /// Values needed.
        expected: usize,
        /// Values present.
        got: usize,
    },
}

/// Shade an aggregate as the CLI does: `tf.shade`, then `tf.spread` and/or
/// `tf.dynspread`, then `tf.set_background`.
///
/// Differences from Datashader are limited to errors: options Datashader
/// would only reject once it meets data (e.g. `span` with `eq_hist`) are
/// rejected even for an empty aggregate.
///
/// ```
/// use pointillist::aggregate::{aggregate, AggregateRequest, ReductionSpec};
/// use pointillist::shade::{shade, ShadeError, ShadeOptions};
/// use pointillist::source::Source;
///
/// let source = Source::sample()?;
/// let agg = aggregate(&source, &AggregateRequest::new(100, 60))?;
/// let img = shade(&agg, &ShadeOptions::default())?; // eq_hist on fire
/// assert_eq!(img.pixels.len(), 100 * 60);
///
/// // Categories are mixed by the colour key (Datashader's Sets1to3 by default).
/// let mut req = AggregateRequest::new(100, 60);
/// req.reduction = "count_cat:cat".parse::<ReductionSpec>()?;
/// let cats = shade(&aggregate(&source, &req)?, &ShadeOptions::default())?;
/// assert!(cats.pixels.iter().any(|p| p[3] > 0));
///
/// // Options Datashader refuses are refused up front.
/// let bad = ShadeOptions::default().with_span(Some((0.0, 10.0))); // with eq_hist
/// assert_eq!(shade(&agg, &bad), Err(ShadeError::SpanWithEqHist));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn shade(agg: &Aggregate, opts: &ShadeOptions) -> Result<Image, ShadeError> {
    if let Some(plain) = agg.shadeable() {
        return shade(&plain, opts);
    }
    validate(agg, opts)?;
    let mut img = match &agg.categories {
        None => interpolate::interpolate(agg, opts)?,
        Some(cats) => {
            let key = opts.color_key_colors();
            if !cats.is_empty() && key.len() < cats.len() {
                return Err(ShadeError::TooFewColors {
                    categories: cats.len(),
                    colors: key.len(),
                });
            }
            colorize::colorize(agg, &key[..cats.len().min(key.len())], opts)?
        }
    };
    if let Some(px) = opts.spread.filter(|&px| px > 0) {
        img = spread_with(
            &img,
            &SpreadMask::new(opts.spread_shape, px),
            opts.spread_how,
        );
    }
    if let Some(d) = opts.dynspread {
        img = dynspread_with(
            &img,
            d.threshold,
            d.max_px,
            opts.spread_shape,
            opts.spread_how,
        );
    }
    if let Some(bg) = opts.background {
        img = set_background(&img, bg);
    }
    Ok(img)
}

/// Checks Datashader makes up front (or would make on the data).
fn validate(agg: &Aggregate, opts: &ShadeOptions) -> Result<(), ShadeError> {
    let expected = agg
        .width
        .checked_mul(agg.height)
        .and_then(|n| n.checked_mul(agg.n_planes()))
        .unwrap_or(usize::MAX);
    if agg.values.len() != expected {
        return Err(ShadeError::ShapeMismatch {
            width: agg.width,
            height: agg.height,
            planes: agg.n_planes(),
            expected,
            got: agg.values.len(),
        });
    }
    if !(0.0..=255.0).contains(&opts.min_alpha) {
        return Err(ShadeError::InvalidMinAlpha {
            min_alpha: opts.min_alpha,
        });
    }
    if let Some((lo, hi)) = opts.span {
        if opts.how == How::EqHist {
            return Err(ShadeError::SpanWithEqHist);
        }
        if !(lo.is_finite() && hi.is_finite()) {
            return Err(ShadeError::InvalidSpan {
                lo,
                hi,
                reason: SpanProblem::NotFinite,
            });
        }
        if lo > hi {
            return Err(ShadeError::InvalidSpan {
                lo,
                hi,
                reason: SpanProblem::Reversed,
            });
        }
        // Datashader converts the span to the aggregate's dtype.
        let limits = match agg.values {
            // Narrow counts shade as uint32 (`Aggregate::shadeable`).
            AggValues::U32(_) | AggValues::U8(_) | AggValues::U16(_) => {
                Some((0.0, f64::from(u32::MAX), SpanProblem::OutsideUint32))
            }
            AggValues::Bool(_) => Some((-128.0, 127.0, SpanProblem::OutsideBool)),
            AggValues::F64(_) | AggValues::F32(_) | AggValues::I64(_) => None,
        };
        if let Some((min, max, reason)) = limits {
            if lo.trunc() < min || hi.trunc() > max {
                return Err(ShadeError::InvalidSpan { lo, hi, reason });
            }
        }
    }
    if agg.categories.is_none() && opts.single_color.is_none() && opts.cmap.is_empty() {
        return Err(ShadeError::EmptyColormap);
    }
    if let Some(d) = opts.dynspread {
        if !(0.0..=1.0).contains(&d.threshold) {
            return Err(ShadeError::InvalidThreshold {
                threshold: d.threshold,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
