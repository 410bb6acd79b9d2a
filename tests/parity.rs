//! Datashader parity: every case in `tests/parity/manifest.json` (produced
//! by Datashader 0.19.1 itself) is run through the real `pointillist render`
//! binary, on one thread and on several, and compared with Datashader's
//! aggregate and image.

use std::path::{Path, PathBuf};
use std::process::Command;

use pointillist::aggregate::gpu::Gpu;
use pointillist::output::npy::{read_npy, NpyArray, NpyData};
use serde_json::Value;

fn parity_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/parity")
}

fn load_manifest() -> Vec<Value> {
    let text = std::fs::read_to_string(parity_dir().join("manifest.json")).expect("manifest");
    let m: Value = serde_json::from_str(&text).expect("manifest json");
    m["cases"].as_array().expect("cases").clone()
}

fn read_npy_file(path: &Path) -> NpyArray {
    let f = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    read_npy(std::io::BufReader::new(f)).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn decode_png(path: &Path) -> (u32, u32, Vec<u8>) {
    let f = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut dec = png::Decoder::new(std::io::BufReader::new(f));
    dec.set_transformations(png::Transformations::EXPAND);
    let mut r = dec.read_info().expect("png info");
    let mut buf = vec![0; r.output_buffer_size().expect("png size")];
    let info = r.next_frame(&mut buf).expect("png frame");
    buf.truncate(info.buffer_size());
    assert_eq!(info.color_type, png::ColorType::Rgba, "{}", path.display());
    (info.width, info.height, buf)
}

/// Run one case on `device` (cpu or gpu); returns (npy bytes, png bytes if
/// any).
fn run_case_on(
    case: &Value,
    dir: &Path,
    threads: usize,
    device: &str,
) -> Result<(Vec<u8>, Option<Vec<u8>>), String> {
    let npy = dir.join(format!("agg-{device}-{threads}.npy"));
    let png = dir.join(format!("img-{device}-{threads}.png"));
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pointillist"));
    cmd.arg("render");
    for input in case["inputs"].as_array().expect("inputs") {
        cmd.arg(parity_dir().join(input.as_str().expect("input")));
    }
    for a in case["cli"].as_array().expect("cli") {
        cmd.arg(a.as_str().expect("cli arg"));
    }
    cmd.arg("--save-agg").arg(&npy);
    let shaded = case.get("shade").is_some();
    if shaded {
        cmd.arg("-o").arg(&png);
    }
    cmd.arg("--threads").arg(threads.to_string());
    cmd.arg("--device").arg(device);
    let out = cmd.output().map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!(
            "exit {:?}: {}",
            out.status.code(),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let npy_bytes = std::fs::read(&npy).map_err(|e| e.to_string())?;
    let png_bytes = if shaded {
        Some(std::fs::read(&png).map_err(|e| e.to_string())?)
    } else {
        None
    };
    Ok((npy_bytes, png_bytes))
}

fn compare_agg(case: &Value, got: &NpyArray, expected: &NpyArray) -> Result<(), String> {
    let shape: Vec<usize> = case["agg_shape"]
        .as_array()
        .expect("agg_shape")
        .iter()
        .map(|v| v.as_u64().expect("dim") as usize)
        .collect();
    if got.shape != shape || expected.shape != shape {
        return Err(format!("shape {:?}, expected {:?}", got.shape, shape));
    }
    match (&got.data, &expected.data) {
        (NpyData::U32(a), NpyData::U32(b)) => {
            if let Some(i) = (0..a.len()).find(|&i| a[i] != b[i]) {
                return Err(format!("uint32 cell {i}: {} != {}", a[i], b[i]));
            }
        }
        (NpyData::Bool(a), NpyData::Bool(b)) => {
            if let Some(i) = (0..a.len()).find(|&i| a[i] != b[i]) {
                return Err(format!("bool cell {i}: {} != {}", a[i], b[i]));
            }
        }
        (NpyData::F64(a), NpyData::F64(b)) => {
            for (i, (&x, &y)) in a.iter().zip(b).enumerate() {
                let ok = if y.is_nan() {
                    x.is_nan()
                } else {
                    !x.is_nan() && (x - y).abs() <= 1e-9 * y.abs().max(f64::MIN_POSITIVE)
                };
                if !ok {
                    return Err(format!("float64 cell {i}: {x} != {y}"));
                }
            }
        }
        _ => {
            return Err(format!(
                "dtype differs from Datashader's {}",
                case["agg_dtype"]
            ))
        }
    }
    Ok(())
}

/// `got` against Datashader's PNG: every channel within `tolerance` levels
/// (0: bit-identical), fully transparent pixels skipped.
fn compare_png(got: &Path, expected: &Path, tolerance: u8) -> Result<(), String> {
    let (w1, h1, a) = decode_png(got);
    let (w2, h2, b) = decode_png(expected);
    if (w1, h1) != (w2, h2) {
        return Err(format!("image {w1}x{h1}, expected {w2}x{h2}"));
    }
    for (i, (p, q)) in a.chunks(4).zip(b.chunks(4)).enumerate() {
        if p[3] == 0 && q[3] == 0 {
            continue;
        }
        if p.iter().zip(q).any(|(x, y)| x.abs_diff(*y) > tolerance) {
            let (x, y) = (i as u32 % w1, i as u32 / w1);
            return Err(format!(
                "pixel ({x},{y}) from the top: {p:?}, expected {q:?}"
            ));
        }
    }
    Ok(())
}

/// Run `case` on `device` with one thread and with four: the outputs must
/// be the same bytes, and match Datashader's aggregate and image.
fn check_case(case: &Value, dir: &Path, device: &str) -> Result<(), String> {
    let (npy1, png1) = run_case_on(case, dir, 1, device)?;
    let (npy4, png4) = run_case_on(case, dir, 4, device)?;
    if npy1 != npy4 || png1 != png4 {
        return Err("1-thread and 4-thread outputs differ".to_string());
    }
    let expected = read_npy_file(&parity_dir().join(case["expected_agg"].as_str().expect("agg")));
    let got = read_npy(std::io::Cursor::new(&npy1)).map_err(|e| e.to_string())?;
    compare_agg(case, &got, &expected)?;
    if let Some(png) = case.get("expected_png").and_then(Value::as_str) {
        // The CPU path's images are Datashader's bit for bit; the GPU's
        // float sums round differently (within 1e-9 relative), which may
        // move a pixel by one level.
        let tolerance = if device == "cpu" { 0 } else { 1 };
        compare_png(
            &dir.join(format!("img-{device}-1.png")),
            &parity_dir().join(png),
            tolerance,
        )?;
    }
    Ok(())
}

/// Every case on `device`; fails listing each case that does not match.
fn check_all_cases(device: &str) {
    let cases = load_manifest();
    assert!(!cases.is_empty(), "manifest has no cases");
    let mut failures = Vec::new();
    for case in &cases {
        let name = case["name"].as_str().expect("name");
        let dir = tempfile::tempdir().expect("tempdir");
        if let Err(e) = check_case(case, dir.path(), device) {
            failures.push(format!("{name}: {e}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} parity cases failed on the {device}:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn every_manifest_case_matches_datashader_on_one_and_many_threads() {
    check_all_cases("cpu");
}

/// The same cases with `--device gpu`: the GPU path (on Mesa's software
/// Vulkan driver in CI) against Datashader's aggregates and images: integer
/// and boolean cells exact, float64 cells within 1e-9 relative (as on the
/// CPU), images within one level per channel (the CPU's must be
/// bit-identical). The GPU's counts,
/// min, max, first and last are exact; its sums, means and variances are
/// exact integer sums of the values in fixed point, rounded once, so they
/// differ from Datashader's sequential f64 arithmetic by that arithmetic's
/// rounding error, far below 1e-9 on these cases.
#[test]
fn every_manifest_case_matches_datashader_on_the_gpu() {
    if let Err(e) = Gpu::shared() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must run the GPU tests: {e} (.ci/run installs mesa-vulkan-drivers)"
        );
        eprintln!("skipping the GPU parity cases: {e}");
        return;
    }
    check_all_cases("gpu");
}
