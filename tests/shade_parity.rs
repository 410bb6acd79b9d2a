//! Shading-only parity with Datashader 0.19.1: for every manifest case with a
//! `shade` key, shade Datashader's own aggregate (`expected_agg`) with the
//! case's options and compare with Datashader's PNG (`expected_png`):
//! bit-identical, except that fully transparent pixels are equal whatever
//! their colour.

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use pointillist::aggregate::Aggregate;
use pointillist::output::npy::read_npy;
use pointillist::shade::{self, Dynspread, How, ShadeOptions};
use serde_json::Value;

fn parity_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/parity")
}

fn pair(v: &Value) -> Option<(f64, f64)> {
    let a = v.as_array()?;
    Some((a.first()?.as_f64()?, a.get(1)?.as_f64()?))
}

fn colors(v: &Value) -> Vec<[u8; 3]> {
    v.as_array()
        .expect("colour list")
        .iter()
        .map(|c| shade::parse_color(c.as_str().expect("colour string")).expect("colour"))
        .collect()
}

/// The case's `shade` options as `ShadeOptions`.
fn options(s: &Value) -> ShadeOptions {
    let mut o = ShadeOptions::default()
        .with_how(
            s["how"]
                .as_str()
                .expect("how")
                .parse::<How>()
                .expect("how name"),
        )
        .with_alpha(u8::try_from(s["alpha"].as_u64().expect("alpha")).expect("alpha <= 255"))
        .with_min_alpha(s["min_alpha"].as_f64().expect("min_alpha"))
        .with_span(pair(&s["span"]))
        .with_rescale_discrete_levels(s["rescale_discrete_levels"].as_bool().unwrap_or(false))
        .with_spread(
            s["spread"]
                .as_u64()
                .map(|p| u32::try_from(p).expect("spread px")),
        )
        .with_dynspread(
            pair(&s["dynspread"])
                .map(|(threshold, max_px)| Dynspread::new(threshold, max_px as u32)),
        )
        .with_background(
            s["background"]
                .as_str()
                .map(|c| shade::parse_color(c).expect("background")),
        );
    match &s["cmap"] {
        Value::String(name) => o.cmap = shade::parse_cmap(name).expect("cmap name"),
        Value::Array(_) => o.cmap = colors(&s["cmap"]),
        _ => {}
    }
    if !s["color_key"].is_null() {
        o.color_key = Some(colors(&s["color_key"]));
    }
    o
}

fn load_agg(case: &Value, dir: &Path) -> Aggregate {
    let path = dir.join(case["expected_agg"].as_str().expect("expected_agg"));
    let arr = read_npy(BufReader::new(File::open(&path).expect("open .npy"))).expect("read .npy");
    let (height, width) = (arr.shape[0], arr.shape[1]);
    let categories = case["categories"].as_array().map(|c| {
        c.iter()
            .map(|s| s.as_str().expect("category").to_string())
            .collect::<Vec<_>>()
    });
    if let Some(c) = &categories {
        assert_eq!(arr.shape.len(), 3);
        assert_eq!(arr.shape[2], c.len());
    }
    Aggregate {
        width,
        height,
        categories,
        n: None,
        values: arr.into_agg_values().expect("aggregate dtype"),
        x_range: pair(&case["x_range_used"]).expect("x_range_used"),
        y_range: pair(&case["y_range_used"]).expect("y_range_used"),
    }
}

/// Datashader's PNG as north-up RGBA bytes.
fn load_png(path: &Path) -> (usize, usize, Vec<u8>) {
    let mut dec = png::Decoder::new(BufReader::new(File::open(path).expect("open .png")));
    dec.set_transformations(png::Transformations::EXPAND);
    let mut reader = dec.read_info().expect("png header");
    let mut buf = vec![0; reader.output_buffer_size().expect("png size")];
    let info = reader.next_frame(&mut buf).expect("png data");
    buf.truncate(info.buffer_size());
    assert_eq!(info.bit_depth, png::BitDepth::Eight);
    let rgba = match info.color_type {
        png::ColorType::Rgba => buf,
        png::ColorType::Rgb => buf
            .chunks_exact(3)
            .flat_map(|p| [p[0], p[1], p[2], 255])
            .collect(),
        other => panic!("unexpected PNG colour type {other:?}"),
    };
    (info.width as usize, info.height as usize, rgba)
}

/// Pixels that differ by more than one level in some channel, ignoring pixels
/// transparent in both images, with the first few for the report; and the
/// number of (non-transparent) pixels that differ at all.
fn mismatches(ours: &[u8], theirs: &[u8], width: usize) -> (usize, Vec<String>, usize) {
    let mut n = 0;
    let mut inexact = 0;
    let mut examples = Vec::new();
    for (i, (a, b)) in ours.chunks_exact(4).zip(theirs.chunks_exact(4)).enumerate() {
        if a[3] == 0 && b[3] == 0 {
            continue;
        }
        inexact += usize::from(a != b);
        if a.iter().zip(b).any(|(x, y)| x.abs_diff(*y) > 1) {
            n += 1;
            if examples.len() < 5 {
                examples.push(format!(
                    "(row {} from top, col {}): ours {a:?}, datashader {b:?}",
                    i / width,
                    i % width
                ));
            }
        }
    }
    (n, examples, inexact)
}

#[test]
fn shading_matches_datashader() {
    let dir = parity_dir();
    let manifest: Value = serde_json::from_reader(BufReader::new(
        File::open(dir.join("manifest.json")).expect("tests/parity/manifest.json"),
    ))
    .expect("manifest JSON");
    let cases = manifest["cases"].as_array().expect("cases");
    let mut checked = 0;
    let mut failures = Vec::new();
    for case in cases.iter().filter(|c| !c["shade"].is_null()) {
        let name = case["name"].as_str().expect("name");
        let agg = load_agg(case, &dir);
        let img = shade::shade(&agg, &options(&case["shade"]))
            .unwrap_or_else(|e| panic!("{name}: shade failed: {e}"));
        let ours = img.to_north_up_rgba8();
        let png_path = dir.join(case["expected_png"].as_str().expect("expected_png"));
        let (w, h, theirs) = load_png(&png_path);
        assert_eq!((w, h), (img.width, img.height), "{name}: image size");
        let (bad, examples, inexact) = mismatches(&ours, &theirs, w);
        // Bit-identical: not one pixel may differ, not even by one level.
        if inexact > 0 {
            failures.push(format!(
                "{name}: {inexact} pixels not bit-identical, {bad} of them by more than one level{}{}",
                if examples.is_empty() { "" } else { ", e.g. " },
                examples.join("; ")
            ));
        }
        checked += 1;
    }
    assert!(checked > 0, "no shading cases in the manifest");
    assert!(
        failures.is_empty(),
        "{} of {checked} shading cases differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
    eprintln!("{checked} shading cases match Datashader bit for bit");
}

/// Cross-check against cases made by running real Datashader on random
/// aggregates (a throwaway script writes `cases.json`, `NAME.agg.npy` and
/// `NAME.rgba.npy` = `img.data` as `uint8` RGBA, row 0 = lowest y, into
/// `$SHADE_XCHECK_DIR`). Reports every pixel that is not bit-identical.
#[test]
#[ignore = "needs $SHADE_XCHECK_DIR with cases made by Datashader"]
fn crosscheck_random_cases_against_datashader() {
    let Some(dir) = std::env::var_os("SHADE_XCHECK_DIR").map(PathBuf::from) else {
        panic!("set SHADE_XCHECK_DIR");
    };
    let cases: Value = serde_json::from_reader(BufReader::new(
        File::open(dir.join("cases.json")).expect("cases.json"),
    ))
    .expect("cases JSON");
    let mut failures = Vec::new();
    let mut inexact_cases = 0;
    let cases = cases.as_array().expect("case list");
    for case in cases {
        let name = case["name"].as_str().expect("name");
        let s = &case["shade"];
        let mut opts = options(s);
        if let Some(n) = s["cmap_name"].as_str() {
            opts.cmap = shade::colormap(n).expect("known colormap");
        }
        opts.single_color = s["single_color"]
            .as_str()
            .map(|c| shade::parse_color(c).expect("colour"));
        let read = |key: &str| {
            read_npy(BufReader::new(
                File::open(dir.join(case[key].as_str().expect("file"))).expect("open"),
            ))
            .expect("npy")
        };
        let arr = read("agg");
        let categories = case["categories"].as_array().map(|c| {
            c.iter()
                .map(|s| s.as_str().expect("category").to_string())
                .collect::<Vec<_>>()
        });
        let agg = Aggregate {
            width: arr.shape[1],
            height: arr.shape[0],
            categories,
            n: None,
            values: arr.into_agg_values().expect("aggregate dtype"),
            x_range: (0.0, 1.0),
            y_range: (0.0, 1.0),
        };
        let result = shade::shade(&agg, &opts);
        if let Some(theirs) = case["error"].as_str() {
            match result {
                Err(e) => eprintln!("{name}: both fail (datashader: {theirs}; ours: {e})"),
                Ok(_) => failures.push(format!("{name}: datashader fails ({theirs}), we do not")),
            }
            continue;
        }
        let img = match result {
            Ok(img) => img,
            Err(e) => {
                failures.push(format!("{name}: error {e}"));
                continue;
            }
        };
        let expected = match read("expected").data {
            pointillist::output::npy::NpyData::U8(v) => v,
            other => panic!("{name}: expected uint8 RGBA, got {}", other.descr()),
        };
        let ours: Vec<u8> = img.pixels.iter().flatten().copied().collect();
        let (bad, examples, inexact) = mismatches(&ours, &expected, img.width);
        if inexact > 0 {
            inexact_cases += 1;
            eprintln!("{name}: {inexact} pixels not bit-identical, {bad} off by more than one");
        }
        if bad > 0 {
            failures.push(format!(
                "{name}: {bad} pixels off, e.g. {}",
                examples.join("; ")
            ));
        }
    }
    eprintln!(
        "{} cases, {} not bit-identical, {} failing",
        cases.len(),
        inexact_cases,
        failures.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// `write_npy` reproduces NumPy's own `.npy` files byte for byte (every
/// `expected_agg` in the manifest: uint32, float64, bool; 2-D and 3-D).
#[test]
fn npy_writer_reproduces_numpys_files() {
    let dir = parity_dir();
    let manifest: Value = serde_json::from_reader(BufReader::new(
        File::open(dir.join("manifest.json")).expect("tests/parity/manifest.json"),
    ))
    .expect("manifest JSON");
    let cases = manifest["cases"].as_array().expect("cases");
    for case in cases {
        let path = dir.join(case["expected_agg"].as_str().expect("expected_agg"));
        let original = std::fs::read(&path).expect("read .npy");
        let agg = load_agg(case, &dir);
        let mut written = Vec::new();
        pointillist::output::npy::write_npy(&mut written, &agg).expect("write");
        assert!(
            written == original,
            "{}: written .npy differs from NumPy's",
            case["name"]
        );
    }
}
