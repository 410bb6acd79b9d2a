//! PNG encoding of RGBA images: fast DEFLATE and a fixed filter so that
//! encoding is quick and output bytes are deterministic.

/// Encoder settings.
///
/// ```
/// use pointillist::output::PngOptions;
///
/// let opts = PngOptions::default().with_small(true);
/// assert!(opts.small);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct PngOptions {
    /// Spend more time for smaller files.
    pub small: bool,
    /// No row filter: for images with large flat or transparent areas (map
    /// tiles), both faster and smaller. On 256 px tiles of 100M census-like
    /// points: 0.17 ms and 17.8 KB a tile, against 0.41 ms and 22.6 KB with
    /// the adaptive filter.
    pub unfiltered: bool,
}

impl PngOptions {
    /// Sets [`PngOptions::small`].
    #[must_use]
    pub fn with_small(mut self, small: bool) -> Self {
        self.small = small;
        self
    }

    /// Sets [`PngOptions::unfiltered`].
    #[must_use]
    pub fn with_unfiltered(mut self, unfiltered: bool) -> Self {
        self.unfiltered = unfiltered;
        self
    }
}

/// Why an image cannot be encoded as PNG.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PngError {
    /// A side longer than PNG allows.
    #[error("{side} {len} is too large for PNG")]
    TooLarge {
        /// `"width"` or `"height"`.
        side: &'static str,
        /// Its length in pixels.
        len: usize,
    },
    /// A buffer that is not `width * height` RGBA pixels.
    #[error("image buffer holds {got} bytes, expected {expected}")]
    BufferSize {
        /// Bytes given.
        got: usize,
        /// Bytes `width * height * 4`.
        expected: usize,
    },
    /// The encoder failed.
    #[error("{0}")]
    Encoder(#[source] png::EncodingError),
}

/// Encode north-up RGBA8 rows as a PNG file in memory.
///
/// ```
/// use pointillist::output::{encode_png, PngError, PngOptions};
///
/// // 2x1: a red pixel, then a transparent one.
/// let png = encode_png(2, 1, &[255, 0, 0, 255, 0, 0, 0, 0], &PngOptions::default())?;
/// assert!(png.starts_with(b"\x89PNG"));
/// assert!(matches!(
///     encode_png(2, 2, &[0; 4], &PngOptions::default()),
///     Err(PngError::BufferSize { got: 4, expected: 16 })
/// ));
/// # Ok::<(), PngError>(())
/// ```
pub fn encode_png(
    width: usize,
    height: usize,
    rgba_north_up: &[u8],
    opts: &PngOptions,
) -> Result<Vec<u8>, PngError> {
    let too_large = |side, len| PngError::TooLarge { side, len };
    let w = u32::try_from(width).map_err(|_| too_large("width", width))?;
    let h = u32::try_from(height).map_err(|_| too_large("height", height))?;
    let expected = width
        .checked_mul(height)
        .and_then(|n| n.checked_mul(4))
        .ok_or(too_large("width", width))?;
    if rgba_north_up.len() != expected {
        return Err(PngError::BufferSize {
            got: rgba_north_up.len(),
            expected,
        });
    }
    let mut out = Vec::with_capacity(rgba_north_up.len() / 4 + 1024);
    {
        let mut enc = png::Encoder::new(&mut out, w, h);
        enc.set_color(png::ColorType::Rgba);
        enc.set_depth(png::BitDepth::Eight);
        if opts.small {
            enc.set_compression(png::Compression::Balanced);
        } else {
            enc.set_compression(png::Compression::Fast);
        }
        if opts.unfiltered {
            enc.set_filter(png::Filter::NoFilter);
        }
        let mut writer = enc.write_header().map_err(PngError::Encoder)?;
        writer
            .write_image_data(rgba_north_up)
            .map_err(PngError::Encoder)?;
        writer.finish().map_err(PngError::Encoder)?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_a_decoder() {
        let (w, h) = (3usize, 2usize);
        let px: Vec<u8> = (0..(w * h * 4) as u32).map(|v| (v * 7) as u8).collect();
        let bytes = encode_png(w, h, &px, &PngOptions::default()).expect("encode");
        let dec = png::Decoder::new(std::io::Cursor::new(bytes));
        let mut r = dec.read_info().expect("info");
        let mut buf = vec![0; r.output_buffer_size().expect("size")];
        let info = r.next_frame(&mut buf).expect("frame");
        assert_eq!((info.width, info.height), (3, 2));
        assert_eq!(&buf[..info.buffer_size()], &px[..]);
    }

    #[test]
    fn wrong_buffer_size_is_an_error() {
        let e = encode_png(2, 2, &[0; 15], &PngOptions::default()).expect_err("15 bytes");
        assert!(matches!(
            e,
            PngError::BufferSize {
                got: 15,
                expected: 16
            }
        ));
        assert_eq!(e.to_string(), "image buffer holds 15 bytes, expected 16");
    }
}
