//! PNG encoding of RGBA images: fast DEFLATE and a fixed filter so that
//! encoding is quick and output bytes are deterministic.

/// Encoder settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PngOptions {
    /// Spend more time for smaller files.
    pub small: bool,
}

/// Encode north-up RGBA8 rows as a PNG file in memory.
pub fn encode_png(
    width: usize,
    height: usize,
    rgba_north_up: &[u8],
    opts: &PngOptions,
) -> Result<Vec<u8>, String> {
    let w = u32::try_from(width).map_err(|_| format!("width {width} is too large for PNG"))?;
    let h = u32::try_from(height).map_err(|_| format!("height {height} is too large for PNG"))?;
    if rgba_north_up.len() != width * height * 4 {
        return Err(format!(
            "image buffer holds {} bytes, expected {}",
            rgba_north_up.len(),
            width * height * 4
        ));
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
        let mut writer = enc.write_header().map_err(|e| e.to_string())?;
        writer
            .write_image_data(rgba_north_up)
            .map_err(|e| e.to_string())?;
        writer.finish().map_err(|e| e.to_string())?;
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
        assert!(encode_png(2, 2, &[0; 15], &PngOptions::default()).is_err());
    }
}
