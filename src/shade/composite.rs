//! Image post-processing as in `datashader.transfer_functions` and
//! `datashader.composite`: the image operators (`over`, `add`, `saturate`,
//! `source`) and `stack`, `spread` (circle mask), `dynspread` (density
//! heuristic) and `set_background`.

use rayon::prelude::*;

use super::{Image, Rgba};

/// `c / 255` for every byte (Datashader's `extract_scaled`), computed once.
const SCALED: [f64; 256] = {
    let mut t = [0.0; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = i as f64 / 255.0;
        i += 1;
    }
    t
};

/// Datashader's `over(src, dst)` on straight-alpha pixels, in `float64` with
/// the same operation order and `uint32` truncation as its numba kernel.
#[inline]
pub(crate) fn over(src: Rgba, dst: Rgba) -> Rgba {
    let s = src.map(|c| SCALED[usize::from(c)]);
    let d = dst.map(|c| SCALED[usize::from(c)]);
    let (sa, da) = (s[3], d[3]);
    let factor = 1.0 - sa;
    let a = sa + da * factor;
    if a == 0.0 {
        return [0; 4];
    }
    let channel = |k: usize| (s[k] * sa + d[k] * da * factor) / a;
    [channel(0), channel(1), channel(2), a].map(combine)
}

/// Datashader's `add(src, dst)`: alpha is `min(1, sa + da)`.
fn add(src: Rgba, dst: Rgba) -> Rgba {
    capped_mix(src, dst, |sa, _| sa)
}

/// Datashader's `saturate(src, dst)`: the source only fills what the
/// destination's alpha leaves.
fn saturate(src: Rgba, dst: Rgba) -> Rgba {
    capped_mix(src, dst, |sa, da| f64::min(sa, 1.0 - da))
}

/// `add` and `saturate`: alpha `min(1, sa + da)`, channels
/// `(w * s + d * da) / a` with the source weight `w = weight(sa, da)`.
fn capped_mix(src: Rgba, dst: Rgba, weight: impl Fn(f64, f64) -> f64) -> Rgba {
    let s = src.map(|c| SCALED[usize::from(c)]);
    let d = dst.map(|c| SCALED[usize::from(c)]);
    let (sa, da) = (s[3], d[3]);
    let a = f64::min(1.0, sa + da);
    if a == 0.0 {
        return [0; 4];
    }
    let w = weight(sa, da);
    let channel = |k: usize| (w * s[k] + d[k] * da) / a;
    [channel(0), channel(1), channel(2), a].map(combine)
}

/// Datashader's `source(src, dst)`: the source wherever its alpha is not 0.
fn source(src: Rgba, dst: Rgba) -> Rgba {
    if src[3] != 0 {
        src
    } else {
        dst
    }
}

/// Datashader's `combine_scaled` for one channel: `min(255, uint32(v * 255))`.
fn combine(v: f64) -> u8 {
    ((v * 255.0) as u32).min(255) as u8
}

/// How [`stack`] composites one image onto the ones below it: Datashader's
/// image operators (`datashader.composite`), by the names `tf.stack(how=)`
/// takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum CompositeOp {
    /// Alpha compositing, the default.
    #[default]
    Over,
    /// Colours weighted by alpha, alphas added (capped at 1).
    Add,
    /// The upper image fills only what the lower one's alpha leaves.
    Saturate,
    /// The upper image wherever it is not fully transparent.
    Source,
}

impl CompositeOp {
    /// Every operator with its Datashader name.
    pub const ALL: [(&'static str, CompositeOp); 4] = [
        ("over", CompositeOp::Over),
        ("add", CompositeOp::Add),
        ("saturate", CompositeOp::Saturate),
        ("source", CompositeOp::Source),
    ];

    /// The operator named `name`, or `None`.
    pub fn from_name(name: &str) -> Option<CompositeOp> {
        Self::ALL
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, op)| *op)
    }

    /// `src` composited onto `dst`.
    pub fn apply(self, src: Rgba, dst: Rgba) -> Rgba {
        match self {
            CompositeOp::Over => over(src, dst),
            CompositeOp::Add => add(src, dst),
            CompositeOp::Saturate => saturate(src, dst),
            CompositeOp::Source => source(src, dst),
        }
    }
}

/// `tf.stack(*imgs, how=...)`: the images composited bottom (first) to top
/// (last) with `op`, pixel by pixel, as Datashader reduces them (the
/// accumulated image is each step's `dst`). `None` when there is no image
/// or their sizes differ.
///
/// ```
/// use pointillist::shade::{stack, CompositeOp, Image};
///
/// let mut below = Image::transparent(2, 1);
/// below.pixels = vec![[0, 0, 255, 255], [0, 0, 255, 255]];
/// let mut above = Image::transparent(2, 1);
/// above.pixels[1] = [255, 0, 0, 255];
/// let out = stack(&[&below, &above], CompositeOp::Over).expect("same size");
/// assert_eq!(out.pixels, vec![[0, 0, 255, 255], [255, 0, 0, 255]]);
/// assert!(stack(&[&below, &Image::transparent(1, 1)], CompositeOp::Over).is_none());
/// ```
pub fn stack(images: &[&Image], op: CompositeOp) -> Option<Image> {
    let (first, rest) = images.split_first()?;
    if rest
        .iter()
        .any(|i| i.width != first.width || i.height != first.height)
    {
        return None;
    }
    let mut out = (*first).clone();
    for img in rest {
        out.pixels
            .par_iter_mut()
            .zip(img.pixels.par_iter())
            .for_each(|(d, &s)| *d = op.apply(s, *d));
    }
    Some(out)
}

/// Which shape `tf.spread` spreads a pixel over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum SpreadShape {
    /// Datashader's `_circle_mask(r)`: offsets within `r + 0.5` of the
    /// centre (the default).
    #[default]
    Circle,
    /// Datashader's `_square_mask(px)`: the whole `2 px + 1` square.
    Square,
}

impl SpreadShape {
    /// The shape named `name` (`"circle"` or `"square"`), or `None`.
    pub fn from_name(name: &str) -> Option<SpreadShape> {
        match name {
            "circle" => Some(SpreadShape::Circle),
            "square" => Some(SpreadShape::Square),
            _ => None,
        }
    }
}

/// The mask `tf.spread` spreads each pixel over: a square of odd side,
/// centred on the pixel, true where it spreads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpreadMask {
    side: usize,
    on: Vec<bool>,
}

impl SpreadMask {
    /// The mask of `shape` with radius `px` (side `2 px + 1`).
    pub fn new(shape: SpreadShape, px: u32) -> SpreadMask {
        let r = i64::from(px);
        let on = (-r..=r)
            .flat_map(|y| {
                (-r..=r).map(move |x| match shape {
                    SpreadShape::Circle => (((x * x + y * y) as f64).sqrt()) <= r as f64 + 0.5,
                    SpreadShape::Square => true,
                })
            })
            .collect();
        SpreadMask {
            side: 2 * px as usize + 1,
            on,
        }
    }

    /// A mask of `side x side` cells in row-major order (Datashader's
    /// `mask=` array); `None` unless `side` is odd and `on` holds
    /// `side * side` cells.
    pub fn from_cells(side: usize, on: Vec<bool>) -> Option<SpreadMask> {
        (side % 2 == 1 && side.checked_mul(side) == Some(on.len()))
            .then_some(SpreadMask { side, on })
    }

    /// Cells per side.
    pub fn side(&self) -> usize {
        self.side
    }
}

/// `tf.spread(img, px)` with the default circle mask and `over`: every
/// non-transparent pixel is composited over its neighbourhood, in row-major
/// order starting at row 0. `px = 0` returns the image unchanged.
///
/// ```
/// use pointillist::shade::{spread, Image};
///
/// let mut img = Image::transparent(5, 5);
/// img.pixels[2 * 5 + 2] = [255, 0, 0, 255]; // the centre
/// let out = spread(&img, 1);
/// let lit = out.pixels.iter().filter(|p| p[3] > 0).count();
/// assert_eq!(lit, 9); // a radius-1 circle mask is the 3x3 block
/// ```
pub fn spread(img: &Image, px: u32) -> Image {
    if px == 0 {
        return img.clone();
    }
    spread_with(
        img,
        &SpreadMask::new(SpreadShape::Circle, px),
        CompositeOp::Over,
    )
}

/// `tf.spread(img, mask=..., how=...)`: every non-transparent pixel is
/// composited with `op` onto each output pixel its `mask` covers (a pixel
/// still fully zero takes it as it is), source pixels in row-major order,
/// as Datashader's image kernel does.
///
/// ```
/// use pointillist::shade::{spread_with, CompositeOp, Image, SpreadMask, SpreadShape};
///
/// let mut img = Image::transparent(5, 5);
/// img.pixels[2 * 5 + 2] = [255, 0, 0, 255];
/// let out = spread_with(&img, &SpreadMask::new(SpreadShape::Square, 2), CompositeOp::Add);
/// assert!(out.pixels.iter().all(|p| p[3] == 255)); // the 5x5 square
/// ```
pub fn spread_with(img: &Image, mask: &SpreadMask, op: CompositeOp) -> Image {
    if img.pixels.is_empty() {
        return img.clone();
    }
    let w = mask.side;
    let extra = w / 2;
    let (m, n) = (img.height, img.width);
    // Mask offsets per mask row, relative to the centre column.
    let offsets: Vec<Vec<isize>> = mask
        .on
        .chunks(w)
        .map(|r| {
            r.iter()
                .enumerate()
                .filter(|(_, &on)| on)
                .map(|(j, _)| j as isize - extra as isize)
                .collect()
        })
        .collect();
    // Columns of the non-transparent pixels of each row.
    let lit: Vec<Vec<usize>> = img
        .pixels
        .par_chunks(n)
        .map(|r| (0..n).filter(|&x| r[x][3] != 0).collect())
        .collect();
    let mut out = vec![[0u8; 4]; m * n];
    // Datashader scatters each source pixel over the mask in row-major source
    // order. Output rows are independent: row `row` receives source rows
    // `row - extra ..= row + extra` (mask row i maps source row y to y + i -
    // extra), visited here in ascending source order, so every output pixel
    // sees its contributions in Datashader's order.
    out.par_chunks_mut(n).enumerate().for_each(|(row, line)| {
        for i in (0..w).rev() {
            let Some(y) = (row + extra).checked_sub(i).filter(|&y| y < m) else {
                continue;
            };
            let src = &img.pixels[y * n..(y + 1) * n];
            for &x in &lit[y] {
                let el = src[x];
                for &dj in &offsets[i] {
                    let col = x as isize + dj;
                    if col < 0 || col >= n as isize {
                        continue;
                    }
                    let o = &mut line[col as usize];
                    *o = if *o == [0; 4] { el } else { op.apply(el, *o) };
                }
            }
        }
    });
    Image {
        width: n,
        height: m,
        pixels: out,
    }
}

/// Summed-area table of "alpha != 0", `(height + 1) x (width + 1)`.
fn lit_table(img: &Image) -> Vec<u32> {
    let (m, n) = (img.height, img.width);
    let mut sat = vec![0u32; (m + 1) * (n + 1)];
    for y in 0..m {
        let mut run = 0u32;
        for x in 0..n {
            run += u32::from(img.pixels[y * n + x][3] != 0);
            sat[(y + 1) * (n + 1) + x + 1] = sat[y * (n + 1) + x + 1] + run;
        }
    }
    sat
}

/// Datashader's `_rgb_density(img, px)`: the fraction of non-transparent
/// pixels with another non-transparent pixel within the `(2 px + 1)^2`
/// square around them; infinite for an empty image. `sat` is
/// [`lit_table`]`(img)`.
fn rgb_density(img: &Image, sat: &[u32], px: usize) -> f64 {
    let (m, n) = (img.height, img.width);
    let (cnt, has) = (0..m)
        .into_par_iter()
        .map(|y| {
            let (y0, y1) = (y.saturating_sub(px), (y + px + 1).min(m));
            let mut cnt = 0u64;
            let mut has = 0u64;
            for x in 0..n {
                if img.pixels[y * n + x][3] == 0 {
                    continue;
                }
                cnt += 1;
                let (x0, x1) = (x.saturating_sub(px), (x + px + 1).min(n));
                let neighbors = sat[y1 * (n + 1) + x1] + sat[y0 * (n + 1) + x0]
                    - sat[y0 * (n + 1) + x1]
                    - sat[y1 * (n + 1) + x0];
                if neighbors > 1 {
                    has += 1;
                }
            }
            (cnt, has)
        })
        .reduce(|| (0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
    if cnt == 0 {
        f64::INFINITY
    } else {
        has as f64 / cnt as f64
    }
}

/// `tf.dynspread(img, threshold, max_px)`: spread by the largest
/// `px <= max_px` for which the density at every step up to `px` stays at or
/// below `threshold` (density measured with a `2 * px` window). `threshold`
/// should lie in `[0, 1]` ([`super::shade`] checks it).
///
/// ```
/// use pointillist::shade::{dynspread, Image};
///
/// // One lit pixel in an empty image: sparse, so it spreads to max_px.
/// let mut img = Image::transparent(9, 9);
/// img.pixels[4 * 9 + 4] = [0, 0, 255, 255];
/// let out = dynspread(&img, 0.5, 2);
/// assert!(out.pixels.iter().filter(|p| p[3] > 0).count() > 9);
/// ```
pub fn dynspread(img: &Image, threshold: f64, max_px: u32) -> Image {
    dynspread_with(
        img,
        threshold,
        max_px,
        SpreadShape::Circle,
        CompositeOp::Over,
    )
}

/// `tf.dynspread(img, threshold, max_px, shape, how)`: [`dynspread`]'s
/// spread (the density does not depend on the shape) with `shape`'s mask
/// and `op`.
pub fn dynspread_with(
    img: &Image,
    threshold: f64,
    max_px: u32,
    shape: SpreadShape,
    op: CompositeOp,
) -> Image {
    let sat = if max_px > 0 {
        lit_table(img)
    } else {
        Vec::new()
    };
    let mut px_ = 0;
    for px in 1..=max_px {
        px_ = px;
        if rgb_density(img, &sat, 2 * px as usize) > threshold {
            px_ = px - 1;
            break;
        }
    }
    if px_ >= 1 {
        spread_with(img, &SpreadMask::new(shape, px_), op)
    } else {
        img.clone()
    }
}

/// `tf.set_background(img, colour)`: every pixel composited `over` an opaque
/// background. With the background fixed, each output channel depends only
/// on the pixel's channel and alpha, so `over` is tabulated once.
///
/// ```
/// use pointillist::shade::{set_background, Image};
///
/// let img = set_background(&Image::transparent(2, 1), [255, 255, 255]);
/// assert!(img.pixels.iter().all(|&p| p == [255, 255, 255, 255]));
/// ```
pub fn set_background(img: &Image, rgb: [u8; 3]) -> Image {
    let bg = [rgb[0], rgb[1], rgb[2], 255];
    // table[k][a * 256 + c]: channel k (alpha for k = 3) of over([c..], bg).
    let table: Vec<Vec<u8>> = (0..4)
        .map(|k| {
            (0..256 * 256)
                .map(|i| {
                    let (a, c) = ((i >> 8) as u8, (i & 255) as u8);
                    let mut src = [0, 0, 0, a];
                    if k < 3 {
                        src[k] = c;
                    }
                    over(src, bg)[k]
                })
                .collect()
        })
        .collect();
    let mut out = img.clone();
    out.pixels.par_chunks_mut(1 << 14).for_each(|c| {
        for p in c {
            let a = usize::from(p[3]) << 8;
            *p = [
                table[0][a | usize::from(p[0])],
                table[1][a | usize::from(p[1])],
                table[2][a | usize::from(p[2])],
                table[3][a],
            ];
        }
    });
    out
}
