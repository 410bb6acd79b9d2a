//! Turning user text into colours: colour names and hex codes (as
//! `datashader.colors.rgb` reads them), named colormaps, and comma-separated
//! colour lists.

use super::colormaps::{COLOR_NAMES, NAMES, TABLES};
use super::ShadeError;

/// The colours of a named colormap or palette (`fire`, `viridis`, `glasbey`,
/// `Sets1to3`, ...), matched case-insensitively; `None` if unknown.
///
/// ```
/// use pointillist::shade::colormap;
///
/// let fire = colormap("Fire").expect("a colorcet map");
/// assert_eq!(fire.len(), 256);
/// assert_eq!(fire[255], [255, 255, 255]);
/// assert!(colormap("no-such-map").is_none());
/// ```
pub fn colormap(name: &str) -> Option<Vec<[u8; 3]>> {
    let name = name.trim();
    TABLES
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, colors)| colors.to_vec())
}

/// Names of all colormaps and palettes [`colormap`] knows, for listings.
///
/// ```
/// use pointillist::shade::{colormap, colormap_names};
///
/// assert!(colormap_names().contains(&"viridis"));
/// assert!(colormap_names().iter().all(|n| colormap(n).is_some()));
/// ```
pub fn colormap_names() -> &'static [&'static str] {
    NAMES
}

/// Datashader's default `color_key`: `datashader.colors.Sets1to3` (22 colours).
///
/// ```
/// assert_eq!(pointillist::shade::default_color_key().len(), 22);
/// ```
pub fn default_color_key() -> &'static [[u8; 3]] {
    TABLES
        .iter()
        .find(|(n, _)| *n == "Sets1to3")
        .map_or(&[], |(_, c)| c)
}

/// One colour: a name from Datashader's `color_lookup` (the CSS names; matched
/// case-insensitively) or `#rrggbb`. Like Datashader, `#rgb` shorthand is not
/// accepted.
///
/// ```
/// use pointillist::shade::{parse_color, ShadeError};
///
/// assert_eq!(parse_color("DarkOrange")?, [255, 140, 0]);
/// assert_eq!(parse_color("#1f77b4")?, [0x1f, 0x77, 0xb4]);
/// assert!(matches!(parse_color("#fff"), Err(ShadeError::InvalidHexColor { .. })));
/// # Ok::<(), ShadeError>(())
/// ```
pub fn parse_color(s: &str) -> Result<[u8; 3], ShadeError> {
    let t = s.trim();
    if let Some(hex) = t.strip_prefix('#') {
        let b = hex.as_bytes();
        if b.len() != 6 || !b.iter().all(u8::is_ascii_hexdigit) {
            return Err(ShadeError::InvalidHexColor {
                input: t.to_string(),
            });
        }
        let byte = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16);
        return match (byte(0), byte(2), byte(4)) {
            (Ok(r), Ok(g), Ok(b)) => Ok([r, g, b]),
            _ => Err(ShadeError::InvalidHexColor {
                input: t.to_string(),
            }),
        };
    }
    COLOR_NAMES
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(t))
        .map(|&(_, c)| c)
        .ok_or_else(|| ShadeError::UnknownColor {
            name: t.to_string(),
        })
}

/// A colormap given as text: a colormap name (`fire`), or one or more colours
/// separated by commas (`#ff0000,#00ff00`, `red,blue`, `#000000`). Names of
/// colormaps win over colour names (`gray` is colorcet's gray ramp, not the
/// CSS colour). The result is Datashader's list form: a single colour gives a
/// one-element list (every non-empty pixel in that colour at full alpha).
///
/// ```
/// use pointillist::shade::parse_cmap;
///
/// assert_eq!(parse_cmap("red, #0000ff")?, vec![[255, 0, 0], [0, 0, 255]]);
/// assert_eq!(parse_cmap("gray")?.len(), 256); // the colormap, not the colour
/// assert!(parse_cmap("nonsense").is_err());
/// # Ok::<(), pointillist::shade::ShadeError>(())
/// ```
pub fn parse_cmap(s: &str) -> Result<Vec<[u8; 3]>, ShadeError> {
    let t = s.trim();
    if t.contains(',') {
        return t.split(',').map(parse_color).collect();
    }
    if let Some(c) = colormap(t) {
        return Ok(c);
    }
    match parse_color(t) {
        Ok(c) => Ok(vec![c]),
        Err(ShadeError::InvalidHexColor { input }) => Err(ShadeError::InvalidHexColor { input }),
        Err(_) => Err(ShadeError::UnknownColormap {
            name: t.to_string(),
            valid: NAMES.to_vec(),
        }),
    }
}

/// A parsed `--cmap` argument: what goes into [`super::ShadeOptions`]'s
/// `cmap` and `single_color`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct CmapArg {
    /// The colour list (one colour for a single colour).
    pub colors: Vec<[u8; 3]>,
    /// Set for Datashader's `cmap='<colour>'` alpha ramp.
    pub single_color: Option<[u8; 3]>,
}

/// A `--cmap` argument as Datashader reads `cmap=`: one named colour that is
/// not a colormap is the alpha ramp of `cmap='red'` (returned as the single
/// colour); anything else (a colormap name, `#rrggbb`, a comma list) is a
/// list of colours, like `cmap=[...]`.
///
/// ```
/// use pointillist::shade::parse_cmap_arg;
///
/// let ramp = parse_cmap_arg("red")?; // Datashader's cmap='red'
/// assert_eq!(ramp.single_color, Some([255, 0, 0]));
/// let list = parse_cmap_arg("#ff0000")?; // cmap=['#ff0000']
/// assert_eq!((list.colors, list.single_color), (vec![[255, 0, 0]], None));
/// # Ok::<(), pointillist::shade::ShadeError>(())
/// ```
pub fn parse_cmap_arg(s: &str) -> Result<CmapArg, ShadeError> {
    let t = s.trim();
    if !t.contains(',') && !t.starts_with('#') && colormap(t).is_none() {
        if let Ok(c) = parse_color(t) {
            return Ok(CmapArg {
                colors: vec![c],
                single_color: Some(c),
            });
        }
    }
    Ok(CmapArg {
        colors: parse_cmap(s)?,
        single_color: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colormaps_are_colorcets_and_case_insensitive() {
        let fire = colormap("Fire").expect("fire");
        assert_eq!(fire.len(), 256);
        assert_eq!(fire[0], [0, 0, 0]);
        assert_eq!(fire[255], [255, 255, 255]);
        assert_eq!(colormap("sets1to3").expect("Sets1to3").len(), 22);
        assert_eq!(default_color_key()[0], [0xe4, 0x1a, 0x1c]);
        for name in [
            "fire", "bmy", "bgy", "bgyw", "kbc", "kb", "blues", "gray", "dimgray", "rainbow",
            "coolwarm", "bkr", "viridis", "inferno", "magma", "plasma", "glasbey", "Sets1to3",
        ] {
            assert!(colormap(name).is_some(), "{name}");
            assert!(colormap_names().contains(&name), "{name}");
        }
        // Datashader's viridis is int(x * 256) of matplotlib's data.
        assert_eq!(colormap("viridis").expect("viridis")[0], [68, 1, 84]);
        assert!(colormap("fir").is_none());
    }

    #[test]
    fn colors_parse_like_datashader_rgb() {
        assert_eq!(parse_color("#FF8c00").expect("hex"), [255, 140, 0]);
        assert_eq!(parse_color("darkorange").expect("name"), [255, 140, 0]);
        assert_eq!(parse_color("DarkOrange").expect("name"), [255, 140, 0]);
        assert_eq!(parse_color("sage").expect("name"), [0x87, 0xae, 0x73]);
        assert!(matches!(
            parse_color("#f80"),
            Err(ShadeError::InvalidHexColor { .. })
        ));
        assert!(matches!(
            parse_color("#gg0000"),
            Err(ShadeError::InvalidHexColor { .. })
        ));
        let e = parse_color("redd").expect_err("unknown");
        assert!(e.to_string().contains("'redd'"), "{e}");
    }

    #[test]
    fn cmap_text_forms() {
        assert_eq!(parse_cmap("fire").expect("fire").len(), 256);
        assert_eq!(
            parse_cmap("#ffc0cb, #ff0000").expect("list"),
            vec![[255, 192, 203], [255, 0, 0]]
        );
        assert_eq!(
            parse_cmap("red,blue").expect("names"),
            vec![[255, 0, 0], [0, 0, 255]]
        );
        assert_eq!(parse_cmap("#000000").expect("one"), vec![[0, 0, 0]]);
        assert_eq!(parse_cmap("gray").expect("gray").len(), 256);
        let e = parse_cmap("fir").expect_err("unknown");
        let msg = e.to_string();
        assert!(msg.contains("'fir'") && msg.contains("fire"), "{msg}");
        assert!(!msg.contains('\n'));
        assert!(parse_cmap("red,").is_err());
    }
}
