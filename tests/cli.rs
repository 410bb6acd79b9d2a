//! The real `pointillist` binary in a temporary directory: the default
//! sample render, determinism, and every kind of bad input (one-line error
//! naming the input, non-zero exit, no panic, no output file left behind).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;

use arrow_array::{ArrayRef, Float64Array, Int32Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use parquet::arrow::ArrowWriter;
use pointillist::output::npy::NpyData;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_pointillist"))
}

fn run(dir: &Path, args: &[&str]) -> Output {
    bin()
        .current_dir(dir)
        .args(args)
        .output()
        .expect("run pointillist")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A small Parquet file: x, y (f64), val (f64), cat (string), n (i32).
fn write_points(path: &Path, rows: usize) {
    let schema = Arc::new(Schema::new(vec![
        Field::new("x", DataType::Float64, true),
        Field::new("y", DataType::Float64, true),
        Field::new("val", DataType::Float64, true),
        Field::new("cat", DataType::Utf8, true),
        Field::new("n", DataType::Int32, true),
    ]));
    let x: Vec<f64> = (0..rows).map(|i| (i % 17) as f64 / 16.0).collect();
    let y: Vec<f64> = (0..rows).map(|i| (i % 13) as f64 / 12.0).collect();
    let val: Vec<f64> = (0..rows).map(|i| i as f64 * 0.5).collect();
    let cats = ["a", "b", "c"];
    let cat: Vec<&str> = (0..rows).map(|i| cats[i % 3]).collect();
    let n: Vec<i32> = (0..rows).map(|i| i as i32).collect();
    let cols: Vec<ArrayRef> = vec![
        Arc::new(Float64Array::from(x)),
        Arc::new(Float64Array::from(y)),
        Arc::new(Float64Array::from(val)),
        Arc::new(StringArray::from(cat)),
        Arc::new(Int32Array::from(n)),
    ];
    let batch = RecordBatch::try_new(schema.clone(), cols).expect("batch");
    let file = std::fs::File::create(path).expect("create");
    let mut w = ArrowWriter::try_new(file, schema, None).expect("writer");
    w.write(&batch).expect("write");
    w.close().expect("close");
}

fn fixture() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path().join("points.parquet");
    write_points(&p, 1000);
    (dir, p)
}

/// The run failed cleanly: non-zero exit, one line on stderr that contains
/// every `needle`, no panic, and no file left in `dir` besides `keep`.
fn assert_clean_failure(dir: &Path, o: &Output, needles: &[&str], keep: &[&str]) {
    let err = stderr(o);
    assert!(
        !o.status.success(),
        "expected failure, got success; stderr: {err}"
    );
    assert_ne!(o.status.code(), Some(101), "panicked: {err}");
    assert!(!err.contains("panicked"), "panicked: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "not one line: {err}");
    for n in needles {
        assert!(err.contains(n), "stderr lacks '{n}': {err}");
    }
    let left: Vec<String> = std::fs::read_dir(dir)
        .expect("ls")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| !keep.contains(&n.as_str()))
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

fn png_size(path: &Path) -> (u32, u32, Vec<u8>) {
    let dec = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(path).expect("open"),
    ));
    let mut r = dec.read_info().expect("info");
    let mut buf = vec![0; r.output_buffer_size().expect("size")];
    let info = r.next_frame(&mut buf).expect("frame");
    buf.truncate(info.buffer_size());
    (info.width, info.height, buf)
}

#[test]
fn default_render_of_the_sample_writes_a_real_picture() {
    let dir = tempfile::tempdir().expect("tempdir");
    let o = run(dir.path(), &["render", "-o", "sample.png"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let (w, h, px) = png_size(&dir.path().join("sample.png"));
    assert_eq!((w, h), (800, 600));
    let opaque = px.chunks(4).filter(|p| p[3] > 0).count();
    assert!(opaque > 1000, "only {opaque} painted pixels");
    assert!(opaque < (w * h) as usize, "every pixel painted");
}

#[test]
fn output_is_byte_identical_across_runs_and_thread_counts() {
    let (dir, input) = fixture();
    let input = input.to_str().expect("utf8");
    let mut outputs = Vec::new();
    for (i, threads) in ["1", "2", "3"].iter().enumerate() {
        let png = format!("o{i}.png");
        let npy = format!("o{i}.npy");
        let o = run(
            dir.path(),
            &[
                "render",
                input,
                "-o",
                &png,
                "--save-agg",
                &npy,
                "--agg",
                "mean:val",
                "--width",
                "37",
                "--height",
                "23",
                "--threads",
                threads,
            ],
        );
        assert!(o.status.success(), "{}", stderr(&o));
        outputs.push((
            std::fs::read(dir.path().join(&png)).expect("png"),
            std::fs::read(dir.path().join(&npy)).expect("npy"),
        ));
    }
    assert!(outputs.windows(2).all(|w| w[0] == w[1]));
}

#[test]
fn multi_file_and_directory_inputs_read_in_order() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path().join("parts");
    std::fs::create_dir(&d).expect("mkdir");
    write_points(&d.join("b.parquet"), 300);
    write_points(&d.join("a.parquet"), 200);
    let o = run(
        dir.path(),
        &[
            "render",
            "parts",
            "--save-agg",
            "dir.npy",
            "--agg",
            "count",
            "--width",
            "4",
            "--height",
            "4",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let o = run(
        dir.path(),
        &[
            "render",
            "parts/a.parquet",
            "parts/b.parquet",
            "--save-agg",
            "files.npy",
            "--agg",
            "count",
            "--width",
            "4",
            "--height",
            "4",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let o = run(
        dir.path(),
        &[
            "render",
            "parts/*.parquet",
            "--save-agg",
            "glob.npy",
            "--width",
            "4",
            "--height",
            "4",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let a = std::fs::read(dir.path().join("dir.npy")).expect("npy");
    assert_eq!(a, std::fs::read(dir.path().join("files.npy")).expect("npy"));
    assert_eq!(a, std::fs::read(dir.path().join("glob.npy")).expect("npy"));
}

#[test]
fn missing_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let o = run(dir.path(), &["render", "nope.parquet", "-o", "out.png"]);
    assert_clean_failure(dir.path(), &o, &["nope.parquet"], &[]);
}

#[test]
fn not_parquet() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("bad.parquet"),
        b"this is not parquet at all",
    )
    .expect("write");
    let o = run(dir.path(), &["render", "bad.parquet", "-o", "out.png"]);
    assert_clean_failure(
        dir.path(),
        &o,
        &["bad.parquet", "Parquet"],
        &["bad.parquet"],
    );
}

#[test]
fn corrupt_parquet() {
    let (dir, input) = fixture();
    let bytes = std::fs::read(&input).expect("read");
    // Keep the footer, scramble the data pages.
    let mut bad = bytes.clone();
    for b in bad.iter_mut().skip(4).take(bytes.len() / 2) {
        *b = 0xAB;
    }
    std::fs::write(dir.path().join("corrupt.parquet"), bad).expect("write");
    let o = run(dir.path(), &["render", "corrupt.parquet", "-o", "out.png"]);
    assert_clean_failure(
        dir.path(),
        &o,
        &["corrupt.parquet"],
        &["points.parquet", "corrupt.parquet"],
    );
    // Truncated: footer gone.
    std::fs::write(dir.path().join("cut.parquet"), &bytes[..bytes.len() / 2]).expect("write");
    let o = run(dir.path(), &["render", "cut.parquet", "-o", "out.png"]);
    assert_clean_failure(
        dir.path(),
        &o,
        &["cut.parquet"],
        &["points.parquet", "corrupt.parquet", "cut.parquet"],
    );
}

#[test]
fn missing_column_lists_the_available_ones() {
    let (dir, input) = fixture();
    let o = run(
        dir.path(),
        &[
            "render",
            input.to_str().expect("utf8"),
            "--x",
            "lon",
            "-o",
            "out.png",
        ],
    );
    assert_clean_failure(
        dir.path(),
        &o,
        &["'lon'", "x, y, val, cat, n"],
        &["points.parquet"],
    );
}

#[test]
fn non_numeric_column() {
    let (dir, input) = fixture();
    let o = run(
        dir.path(),
        &[
            "render",
            input.to_str().expect("utf8"),
            "--agg",
            "sum:cat",
            "-o",
            "out.png",
        ],
    );
    assert_clean_failure(
        dir.path(),
        &o,
        &["'cat'", "not a number"],
        &["points.parquet"],
    );
}

#[test]
fn unknown_agg_cmap_and_colour_list_valid_names() {
    let (dir, input) = fixture();
    let i = input.to_str().expect("utf8");
    let o = run(
        dir.path(),
        &["render", i, "--agg", "median:val", "-o", "out.png"],
    );
    assert_clean_failure(
        dir.path(),
        &o,
        &["median:val", "count_cat:COL"],
        &["points.parquet"],
    );
    let o = run(
        dir.path(),
        &["render", i, "--cmap", "firee", "-o", "out.png"],
    );
    assert_clean_failure(dir.path(), &o, &["firee", "viridis"], &["points.parquet"]);
    let o = run(
        dir.path(),
        &["render", i, "--background", "notacolour", "-o", "out.png"],
    );
    assert_clean_failure(dir.path(), &o, &["notacolour"], &["points.parquet"]);
}

#[test]
fn bad_ranges() {
    let (dir, input) = fixture();
    let i = input.to_str().expect("utf8");
    for (flag, needle) in [
        ("--x-range=1,1", "MIN >= MAX"),
        ("--x-range=2,1", "MIN >= MAX"),
        ("--y-range=0,inf", "not finite"),
        ("--y-range=nan,1", "not finite"),
        ("--x-range=1", "MIN,MAX"),
        ("--x-range=a,b", "not a number"),
    ] {
        let o = run(dir.path(), &["render", i, flag, "-o", "out.png"]);
        assert_clean_failure(dir.path(), &o, &[needle], &["points.parquet"]);
    }
}

#[test]
fn log_axis_needs_a_positive_range() {
    let (dir, input) = fixture();
    let i = input.to_str().expect("utf8");
    let o = run(
        dir.path(),
        &[
            "render",
            i,
            "--x-axis",
            "log",
            "--x-range=0,1",
            "-o",
            "out.png",
        ],
    );
    assert_clean_failure(dir.path(), &o, &["log", "positive"], &["points.parquet"]);
    // Auto range includes 0: same error.
    let o = run(
        dir.path(),
        &["render", i, "--y-axis", "log", "-o", "out.png"],
    );
    assert_clean_failure(dir.path(), &o, &["log", "positive"], &["points.parquet"]);
}

#[test]
fn zero_and_absurd_canvases() {
    let (dir, input) = fixture();
    let i = input.to_str().expect("utf8");
    let o = run(dir.path(), &["render", i, "--width", "0", "-o", "out.png"]);
    assert_clean_failure(dir.path(), &o, &["0x600"], &["points.parquet"]);
    let o = run(
        dir.path(),
        &[
            "render", i, "--width", "200000", "--height", "200000", "-o", "out.png",
        ],
    );
    assert_clean_failure(
        dir.path(),
        &o,
        &["200000x200000", "budget"],
        &["points.parquet"],
    );
}

#[test]
fn more_categories_than_colours() {
    let (dir, input) = fixture();
    let i = input.to_str().expect("utf8");
    let o = run(
        dir.path(),
        &[
            "render",
            i,
            "--agg",
            "count_cat:cat",
            "--color-key",
            "red,blue",
            "-o",
            "out.png",
        ],
    );
    assert_clean_failure(
        dir.path(),
        &o,
        &["3 categories", "2 colours"],
        &["points.parquet"],
    );
}

#[test]
fn empty_input_writes_a_transparent_image_and_warns() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_points(&dir.path().join("empty.parquet"), 0);
    let o = run(
        dir.path(),
        &[
            "render",
            "empty.parquet",
            "-o",
            "out.png",
            "--width",
            "20",
            "--height",
            "10",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("no rows"), "{}", stderr(&o));
    let (w, h, px) = png_size(&dir.path().join("out.png"));
    assert_eq!((w, h), (20, 10));
    assert!(px.chunks(4).all(|p| p[3] == 0));
}

#[test]
fn categorical_by_and_user_categories() {
    let (dir, input) = fixture();
    let i = input.to_str().expect("utf8");
    let o = run(
        dir.path(),
        &[
            "render",
            i,
            "--agg",
            "sum:val",
            "--by",
            "cat",
            "--categories",
            "c,a",
            "--save-agg",
            "by.npy",
            "-o",
            "by.png",
            "--width",
            "5",
            "--height",
            "5",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let arr = pointillist::output::npy::read_npy(
        std::fs::File::open(dir.path().join("by.npy")).expect("open"),
    )
    .expect("npy");
    assert_eq!(arr.shape, vec![5, 5, 2]);
}

#[test]
fn nothing_to_write_is_refused() {
    let (dir, input) = fixture();
    let o = run(dir.path(), &["render", input.to_str().expect("utf8")]);
    assert_clean_failure(dir.path(), &o, &["-o"], &["points.parquet"]);
}

#[test]
fn zoomed_render_skips_row_groups_outside_the_range() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Four row groups of 250 rows, x in disjoint bands 0, 10, 20, 30 (+0..1).
    let schema = Arc::new(Schema::new(vec![
        Field::new("x", DataType::Float64, false),
        Field::new("y", DataType::Float64, false),
    ]));
    let props = parquet::file::properties::WriterProperties::builder()
        .set_max_row_group_row_count(Some(250))
        .build();
    let file = std::fs::File::create(dir.path().join("bands.parquet")).expect("create");
    let mut w = ArrowWriter::try_new(file, schema.clone(), Some(props)).expect("writer");
    let x: Vec<f64> = (0..1000)
        .map(|i| (i / 250) as f64 * 10.0 + (i % 250) as f64 / 250.0)
        .collect();
    let y: Vec<f64> = (0..1000).map(|i| (i % 7) as f64 / 7.0).collect();
    let batch = RecordBatch::try_new(
        schema,
        vec![
            Arc::new(Float64Array::from(x)) as ArrayRef,
            Arc::new(Float64Array::from(y)),
        ],
    )
    .expect("batch");
    w.write(&batch).expect("write");
    w.close().expect("close");
    let o = run(
        dir.path(),
        &[
            "render",
            "bands.parquet",
            "--x-range=9.5,11.5",
            "--y-range=0,1",
            "--width",
            "8",
            "--height",
            "4",
            "--agg",
            "count",
            "--save-agg",
            "z.npy",
            "--timings",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("rows 1000 (read 250)"),
        "{}",
        stderr(&o)
    );
    let arr = pointillist::output::npy::read_npy(
        std::fs::File::open(dir.path().join("z.npy")).expect("open"),
    )
    .expect("npy");
    let pointillist::output::npy::NpyData::U32(counts) = arr.data else {
        panic!("count is uint32");
    };
    assert_eq!(counts.iter().sum::<u32>(), 250);
}

/// GET `path` from `addr` over plain HTTP/1.1; the status line and body.
fn http_get(addr: &str, path: &str) -> (String, Vec<u8>) {
    use std::io::{Read, Write};
    let mut conn = std::net::TcpStream::connect(addr).expect("connect");
    write!(
        conn,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .expect("write");
    let mut raw = Vec::new();
    conn.read_to_end(&mut raw).expect("read");
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("header end");
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let status = head.lines().next().unwrap_or_default().to_string();
    (status, raw[split + 4..].to_vec())
}

#[test]
fn serve_answers_tiles_and_stops_on_sigterm() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    let mut child = bin()
        .args(["serve", "--port", "0", "--max-zoom", "12"])
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
    let first = lines.next().expect("a line").expect("utf8");
    let addr = first
        .split("http://")
        .nth(1)
        .and_then(|s| s.split('/').next())
        .expect("address in the first line")
        .to_string();
    assert!(addr.starts_with("127.0.0.1:"), "{first}");
    let (status, body) = http_get(&addr, "/tilejson.json");
    assert!(status.contains("200"), "{status}");
    let tj: serde_json::Value = serde_json::from_slice(&body).expect("json");
    assert_eq!(tj["maxzoom"], 12);
    // The whole world at zoom 0 holds every sample point.
    let (status, body) = http_get(&addr, "/tiles/0/0/0.png");
    assert!(status.contains("200"), "{status}");
    assert_eq!(&body[..4], b"\x89PNG");
    let (status, _) = http_get(&addr, "/tiles/13/0/0.png");
    assert!(status.contains("400"), "{status}");
    let (status, _) = http_get(&addr, "/tiles/3/0/7.png");
    assert!(status.contains("204"), "{status}");
    let ok = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(ok.success());
    let exit = child.wait().expect("wait");
    assert!(exit.success(), "{exit:?}");
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert!(rest.iter().any(|l| l.contains("stopped")), "{rest:?}");
}

#[test]
fn serve_rejects_bad_arguments() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (args, needle) in [
        (vec!["serve", "--bind", "localhost"], "--bind"),
        (vec!["serve", "--max-zoom", "31"], "--max-zoom"),
        (
            vec!["serve", "--min-zoom", "5", "--max-zoom", "4"],
            "--min-zoom",
        ),
        (vec!["serve", "--agg", "median:val"], "--agg"),
        (vec!["serve", "--x", "nope"], "nope"),
    ] {
        let o = run(dir.path(), &args);
        assert!(!o.status.success(), "{args:?}");
        let e = stderr(&o);
        assert!(e.contains(needle), "{args:?}: {e}");
        assert_eq!(e.trim().lines().count(), 1, "{e}");
    }
}

#[test]
fn serve_rejects_a_bad_basemap() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (template, why) in [
        (
            "tile.openstreetmap.org/{z}/{x}/{y}.png",
            "not an http(s) URL",
        ),
        ("ftp://tiles.test/{z}/{x}/{y}.png", "not an http(s) URL"),
        ("javascript:alert(1)//{z}/{x}/{y}", "not an http(s) URL"),
        ("https:///{z}/{x}/{y}.png", "no host"),
        ("https://tiles.test/{z}/{x}.png", "no {y}"),
        ("https://tiles.test/{z}/{x}/{y}.png\"></script>", "quote"),
        ("https://tiles.test/{z}/{x}/{y} .png", "space"),
        ("https://{s}.tiles.test/{z}/{x}/{y}.png", "{s}"),
        ("https://tiles.test/{z}/{x}/{y}.png}", "unmatched"),
    ] {
        let o = run(dir.path(), &["serve", "--port", "0", "--basemap", template]);
        assert!(!o.status.success(), "{template}");
        let e = stderr(&o);
        assert!(
            e.contains("--basemap") && e.contains(why),
            "{template}: {e}"
        );
        assert!(
            e.contains("https://tile.openstreetmap.org/{z}/{x}/{y}.png"),
            "{e}"
        );
        assert_eq!(e.trim().lines().count(), 1, "{e}");
    }
}

#[test]
fn lnglat_render_matches_a_render_of_projected_columns() {
    let dir = tempfile::tempdir().expect("tempdir");
    let lon = [-74.0, -73.99, 2.35, -122.42, 151.2];
    let lat = [40.71, 40.75, 48.86, 37.77, -33.87];
    let (mx, my): (Vec<f64>, Vec<f64>) = lon
        .iter()
        .zip(&lat)
        .map(|(&a, &b)| pointillist::aggregate::mercator::lnglat_to_meters(a, b))
        .unzip();
    let write = |name: &str, a: &[f64], b: &[f64]| {
        let schema = Arc::new(Schema::new(vec![
            Field::new("x", DataType::Float64, false),
            Field::new("y", DataType::Float64, false),
        ]));
        let cols: Vec<ArrayRef> = vec![
            Arc::new(Float64Array::from(a.to_vec())),
            Arc::new(Float64Array::from(b.to_vec())),
        ];
        let batch = RecordBatch::try_new(schema.clone(), cols).expect("batch");
        let f = std::fs::File::create(dir.path().join(name)).expect("create");
        let mut w = ArrowWriter::try_new(f, schema, None).expect("writer");
        w.write(&batch).expect("write");
        w.close().expect("close");
    };
    write("deg.parquet", &lon, &lat);
    write("met.parquet", &mx, &my);
    let a = run(
        dir.path(),
        &[
            "render",
            "deg.parquet",
            "--lnglat",
            "--save-agg",
            "a.npy",
            "--width",
            "300",
            "--height",
            "200",
        ],
    );
    assert!(a.status.success(), "{}", stderr(&a));
    let b = run(
        dir.path(),
        &[
            "render",
            "met.parquet",
            "--save-agg",
            "b.npy",
            "--width",
            "300",
            "--height",
            "200",
        ],
    );
    assert!(b.status.success(), "{}", stderr(&b));
    let read = |n: &str| std::fs::read(dir.path().join(n)).expect("npy");
    assert_eq!(read("a.npy"), read("b.npy"));
}

#[test]
fn index_then_render_gives_the_same_counts_and_refuses_bad_input() {
    let (dir, input) = fixture();
    let d = dir.path();
    let o = run(
        d,
        &[
            "index",
            input.to_str().expect("utf8"),
            "-o",
            "indexed.parquet",
            "--row-group-rows",
            "100",
            "--memory-mb",
            "1",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("indexed 1000 rows into 10 row groups"),
        "{}",
        stderr(&o)
    );
    let info = run(d, &["info", "indexed.parquet"]);
    assert!(String::from_utf8_lossy(&info.stdout).contains("row groups: 10"));
    for (file, out) in [("points.parquet", "a.npy"), ("indexed.parquet", "b.npy")] {
        let o = run(
            d,
            &[
                "render",
                file,
                "--agg",
                "count",
                "--save-agg",
                out,
                "--width",
                "40",
                "--height",
                "30",
            ],
        );
        assert!(o.status.success(), "{}", stderr(&o));
    }
    assert_eq!(
        std::fs::read(d.join("a.npy")).expect("a"),
        std::fs::read(d.join("b.npy")).expect("b")
    );
    // Overwriting the input, a missing column, a bad option: one line each.
    let o = run(d, &["index", "points.parquet", "-o", "points.parquet"]);
    assert_clean_failure(
        d,
        &o,
        &["also an input"],
        &["points.parquet", "indexed.parquet", "a.npy", "b.npy"],
    );
    let o = run(
        d,
        &["index", "points.parquet", "-o", "c.parquet", "--y", "nope"],
    );
    assert_clean_failure(
        d,
        &o,
        &["nope", "available columns"],
        &["points.parquet", "indexed.parquet", "a.npy", "b.npy"],
    );
    let o = run(
        d,
        &[
            "index",
            "points.parquet",
            "-o",
            "c.parquet",
            "--compression",
            "gzip9",
        ],
    );
    assert_clean_failure(
        d,
        &o,
        &["--compression"],
        &["points.parquet", "indexed.parquet", "a.npy", "b.npy"],
    );
}

#[test]
fn tiles_writes_a_pyramid_directory_and_a_pmtiles_archive() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let o = run(d, &["tiles", "-o", "pyr", "--max-zoom", "3"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("zoom  3:") && err.contains("wrote"), "{err}");
    let (w, h, _) = png_size(&d.join("pyr/0/0/0.png"));
    assert_eq!((w, h), (256, 256));
    assert!(d.join("pyr/metadata.json").exists());
    let o = run(
        d,
        &[
            "tiles",
            "-o",
            "pyr.pmtiles",
            "--max-zoom",
            "2",
            "--tile-size",
            "512",
            "--how",
            "eq_hist",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let bytes = std::fs::read(d.join("pyr.pmtiles")).expect("archive");
    assert_eq!(&bytes[..7], b"PMTiles");
    // Refusals: non-empty directory, bad size, span with eq_hist.
    let keep = ["pyr", "pyr.pmtiles"];
    let o = run(d, &["tiles", "-o", "pyr", "--max-zoom", "1"]);
    assert_clean_failure(d, &o, &["pyr", "not empty"], &keep);
    let o = run(d, &["tiles", "-o", "x", "--tile-size", "300"]);
    assert_clean_failure(d, &o, &["--tile-size"], &keep);
    let o = run(
        d,
        &["tiles", "-o", "x", "--how", "eq_hist", "--span", "0,5"],
    );
    assert_clean_failure(d, &o, &["--span", "eq_hist"], &keep);
    let o = run(
        d,
        &["tiles", "-o", "x", "--min-zoom", "5", "--max-zoom", "2"],
    );
    assert_clean_failure(d, &o, &["--min-zoom"], &keep);
}

/// Every `z/x/y.png` under a directory pyramid, as `((z, x, y), bytes)`.
fn pyramid_files(dir: &Path) -> Vec<((u32, u32, u32), Vec<u8>)> {
    let num = |p: &Path| -> u32 {
        p.file_stem()
            .and_then(|s| s.to_str())
            .and_then(|s| s.parse().ok())
            .expect("a number")
    };
    let mut out = Vec::new();
    for z in std::fs::read_dir(dir).expect("ls") {
        let z = z.expect("entry").path();
        if !z.is_dir() {
            continue;
        }
        for x in std::fs::read_dir(&z).expect("ls") {
            let x = x.expect("entry").path();
            for y in std::fs::read_dir(&x).expect("ls") {
                let y = y.expect("entry").path();
                out.push(((num(&z), num(&x), num(&y)), std::fs::read(&y).expect("png")));
            }
        }
    }
    out.sort();
    out
}

/// `tiles -o OUT.mbtiles`, read back with SQLite itself (not pointillist's
/// reader): one row per non-empty tile of the directory pyramid, with its
/// bytes at the TMS row, the metadata the spec asks for, and the same bytes
/// on a second run (which replaces the file).
#[test]
fn tiles_writes_an_mbtiles_archive_that_sqlite_reads() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let o = run(d, &["tiles", "-o", "pyr", "--max-zoom", "4"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let files = pyramid_files(&d.join("pyr"));
    let o = run(d, &["tiles", "-o", "a.mbtiles", "--max-zoom", "4"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains(&format!("wrote {} tiles", files.len())),
        "{}",
        stderr(&o)
    );

    let conn = rusqlite::Connection::open_with_flags(
        d.join("a.mbtiles"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .expect("open with SQLite");
    let count: i64 = conn
        .query_row("SELECT count(*) FROM tiles", [], |r| r.get(0))
        .expect("count");
    assert_eq!(count, files.len() as i64);
    for ((z, x, y), bytes) in &files {
        let row = (1u32 << z) - 1 - y;
        let got: Vec<u8> = conn
            .query_row(
                "SELECT tile_data FROM tiles WHERE zoom_level = ?1 AND tile_column = ?2 AND tile_row = ?3",
                [z, x, &row],
                |r| r.get(0),
            )
            .unwrap_or_else(|e| panic!("tile {z}/{x}/{y} at TMS row {row}: {e}"));
        assert_eq!(&got, bytes, "tile {z}/{x}/{y}");
    }
    let dup: i64 = conn
        .query_row(
            "SELECT count(*) FROM (SELECT 1 FROM tiles GROUP BY zoom_level, tile_column, tile_row HAVING count(*) > 1)",
            [],
            |r| r.get(0),
        )
        .expect("unique");
    assert_eq!(dup, 0);
    let meta: std::collections::HashMap<String, String> = conn
        .prepare("SELECT name, value FROM metadata")
        .expect("prepare")
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    for key in [
        "name",
        "format",
        "bounds",
        "center",
        "minzoom",
        "maxzoom",
        "type",
        "version",
        "description",
        "attribution",
    ] {
        assert!(meta.contains_key(key), "no {key} in {meta:?}");
    }
    assert_eq!(meta["format"], "png");
    assert_eq!(meta["type"], "overlay");
    assert_eq!(meta["minzoom"].parse::<u8>().expect("minzoom"), 0);
    assert_eq!(meta["maxzoom"].parse::<u8>().expect("maxzoom"), 4);
    let nums = |key: &str| -> Vec<f64> {
        meta[key]
            .split(',')
            .map(|v| v.parse().unwrap_or_else(|_| panic!("{key}: {}", meta[key])))
            .collect()
    };
    let b = nums("bounds");
    assert_eq!(b.len(), 4);
    assert!(
        b[0] < b[2] && b[1] < b[3] && b[0] >= -180.0 && b[3] <= 90.0,
        "{b:?}"
    );
    let c = nums("center");
    assert_eq!(c.len(), 3);
    assert!(
        b[0] <= c[0] && c[0] <= b[2] && b[1] <= c[1] && c[1] <= b[3],
        "{c:?}"
    );
    let zooms: serde_json::Value = serde_json::from_str(&meta["pointillist_zooms"]).expect("json");
    assert_eq!(zooms.as_array().map(Vec::len), Some(5));
    let dir_meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.join("pyr/metadata.json")).expect("meta"))
            .expect("json");
    assert_eq!(zooms, dir_meta["pointillist_zooms"]);
    drop(conn);

    // Byte for byte the same on a second run, and over an existing file.
    let o = run(d, &["tiles", "-o", "b.mbtiles", "--max-zoom", "4"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let a = std::fs::read(d.join("a.mbtiles")).expect("a");
    assert_eq!(a, std::fs::read(d.join("b.mbtiles")).expect("b"));
    let o = run(
        d,
        &[
            "tiles",
            "-o",
            "b.mbtiles",
            "--max-zoom",
            "4",
            "--threads",
            "1",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(a, std::fs::read(d.join("b.mbtiles")).expect("b"));
    // Nothing else was left beside them.
    let mut names: Vec<String> = std::fs::read_dir(d)
        .expect("ls")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["a.mbtiles", "b.mbtiles", "pyr"]);

    // The system's sqlite3, where there is one, reads it too.
    match Command::new("sqlite3")
        .arg(d.join("a.mbtiles"))
        .arg("PRAGMA integrity_check; SELECT count(*) FROM tiles; SELECT value FROM metadata WHERE name = 'format';")
        .output()
    {
        Ok(out) => {
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            let text = String::from_utf8_lossy(&out.stdout);
            let lines: Vec<&str> = text.lines().collect();
            assert_eq!(lines, ["ok", files.len().to_string().as_str(), "png"], "{text}");
        }
        Err(e) => eprintln!("skipping the sqlite3 check: {e}"),
    }
}

/// A GET over HTTP/1.1: the status line, the headers and the body.
fn http_get_full(addr: &str, path: &str) -> (String, String, Vec<u8>) {
    use std::io::{Read, Write};
    let mut conn = std::net::TcpStream::connect(addr).expect("connect");
    write!(
        conn,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .expect("write");
    let mut raw = Vec::new();
    conn.read_to_end(&mut raw).expect("read");
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("header end");
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let status = head.lines().next().unwrap_or_default().to_string();
    (status, head.to_lowercase(), raw[split + 4..].to_vec())
}

/// `serve OUT.pmtiles` and `serve OUT.mbtiles` answer the directory
/// pyramid's bytes, 204, 400 for an override, and TileJSON from the
/// archive; render-only flags are refused.
#[test]
fn serve_an_archive_answers_its_tiles() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    for out in ["pyr", "pyr.pmtiles", "pyr.mbtiles"] {
        let o = run(d, &["tiles", "-o", out, "--max-zoom", "3"]);
        assert!(o.status.success(), "{}", stderr(&o));
    }
    let files = pyramid_files(&d.join("pyr"));
    let ((z, x, y), want) = &files[files.len() / 2];
    let held: std::collections::HashSet<(u32, u32, u32)> = files.iter().map(|f| f.0).collect();
    let absent = (0..8)
        .flat_map(|x| (0..8).map(move |y| (3, x, y)))
        .find(|t| !held.contains(t))
        .expect("an empty zoom-3 tile");
    for archive in ["pyr.pmtiles", "pyr.mbtiles"] {
        let mut child = bin()
            .current_dir(d)
            .args(["serve", archive, "--port", "0"])
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
        let first = lines.next().expect("a line").expect("utf8");
        assert!(first.contains(archive), "{first}");
        let addr = first
            .split("http://")
            .nth(1)
            .and_then(|s| s.split('/').next())
            .expect("address in the first line")
            .to_string();
        let (status, head, body) = http_get_full(&addr, &format!("/tiles/{z}/{x}/{y}.png"));
        assert!(status.contains("200"), "{archive}: {status}");
        assert_eq!(&body, want, "{archive}");
        assert!(head.contains("etag: \""), "{head}");
        assert!(head.contains("access-control-allow-origin: *"), "{head}");
        let (status, _, _) = http_get_full(
            &addr,
            &format!("/tiles/{}/{}/{}.png", absent.0, absent.1, absent.2),
        );
        assert!(status.contains("204"), "{archive}: {status}");
        let (status, _, body) = http_get_full(&addr, &format!("/tiles/{z}/{x}/{y}.png?cmap=gray"));
        assert!(status.contains("400"), "{archive}: {status}");
        assert!(String::from_utf8_lossy(&body).contains("pre-rendered archive"));
        let (status, _, _) = http_get_full(&addr, "/tiles/4/0/0.png");
        assert!(status.contains("400"), "{archive}: {status}");
        let (status, _, body) = http_get_full(&addr, "/tilejson.json");
        assert!(status.contains("200"), "{status}");
        let tj: serde_json::Value = serde_json::from_slice(&body).expect("json");
        assert_eq!(
            (tj["minzoom"].as_u64(), tj["maxzoom"].as_u64()),
            (Some(0), Some(3))
        );
        let ok = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .expect("kill");
        assert!(ok.success());
        let exit = child.wait().expect("wait");
        assert!(exit.success(), "{exit:?}");
    }
    let keep = ["pyr", "pyr.pmtiles", "pyr.mbtiles"];
    let o = run(
        d,
        &[
            "serve",
            "pyr.pmtiles",
            "--agg",
            "sum:val",
            "--how",
            "linear",
        ],
    );
    assert_clean_failure(d, &o, &["--agg, --how", "pyr.pmtiles", "archive"], &keep);
    let o = run(d, &["serve", "pyr.mbtiles", "--max-zoom", "5"]);
    assert_clean_failure(d, &o, &["--max-zoom", "does not apply"], &keep);
    let o = run(d, &["serve", "pyr.mbtiles", "pyr.pmtiles"]);
    assert_clean_failure(d, &o, &["on its own"], &keep);
}

/// A file named .mbtiles that is not SQLite, and a truncated .pmtiles:
/// one line naming the file, non-zero exit, before listening.
#[test]
fn serve_refuses_bad_archives_in_one_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    std::fs::write(d.join("fake.mbtiles"), b"just some text, not a database").expect("write");
    let o = run(d, &["serve", "fake.mbtiles", "--port", "0"]);
    assert_clean_failure(
        d,
        &o,
        &["fake.mbtiles", "not an SQLite database"],
        &["fake.mbtiles"],
    );
    let o = run(d, &["tiles", "-o", "good.pmtiles", "--max-zoom", "2"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let bytes = std::fs::read(d.join("good.pmtiles")).expect("read");
    std::fs::write(d.join("cut.pmtiles"), &bytes[..bytes.len() * 2 / 3]).expect("write");
    let keep = ["fake.mbtiles", "good.pmtiles", "cut.pmtiles"];
    let o = run(d, &["serve", "cut.pmtiles", "--port", "0"]);
    assert_clean_failure(d, &o, &["cut.pmtiles", "truncated"], &keep);
    let o = run(d, &["serve", "missing.mbtiles", "--port", "0"]);
    assert_clean_failure(d, &o, &["missing.mbtiles"], &keep);
}

/// Whether a GPU adapter (Mesa's lavapipe in CI) can be opened; under `CI`
/// there must be one.
fn have_gpu() -> bool {
    match pointillist::aggregate::gpu::Gpu::shared() {
        Ok(_) => true,
        Err(e) => {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI must have a GPU adapter: {e}"
            );
            eprintln!("skipping the GPU half: {e}");
            false
        }
    }
}

#[test]
fn device_choice_is_validated_reported_and_exact() {
    let (dir, data) = fixture();
    let d = dir.path();
    let input = data.to_str().expect("utf8");
    // A misspelt device: a one-line error before anything is read or
    // written.
    let o = run(d, &["render", input, "-o", "x.png", "--device", "tpu"]);
    assert_clean_failure(
        d,
        &o,
        &["--device", "tpu", "cpu, gpu or auto"],
        &["points.parquet"],
    );
    // auto keeps a small job on the CPU and says why.
    let o = run(
        d,
        &[
            "render",
            input,
            "--save-agg",
            "auto.npy",
            "--device",
            "auto",
            "-v",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("device: cpu (auto: 1000 rows"),
        "{}",
        stderr(&o)
    );
    // info names the adapter, or says why there is none.
    let o = run(d, &["info", input]);
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        out.lines().any(|l| l.starts_with("gpu: ")),
        "no gpu line: {out}"
    );
    if !have_gpu() {
        assert!(out.contains("gpu: none ("), "{out}");
        return;
    }
    assert!(!out.contains("gpu: none"), "{out}");
    // Every GPU reduction, split by category, gives the CPU's aggregate:
    // the same bytes for counts, min and max, and here for sums too, since
    // halves of small integers add exactly in f64. The GPU's variance is
    // exact before one rounding; the CPU's running update rounds at every
    // point, so they agree to its rounding error.
    for agg in [
        "count",
        "any:val",
        "min:val",
        "max:n",
        "sum:val",
        "mean:n",
        "var:n",
        "first:val",
        "last:n",
    ] {
        let mut npy = Vec::new();
        for device in ["cpu", "gpu"] {
            let out = format!("{device}.npy");
            let o = run(
                d,
                &[
                    "render",
                    input,
                    "--save-agg",
                    &out,
                    "--agg",
                    agg,
                    "--by",
                    "cat",
                    "--width",
                    "7",
                    "--height",
                    "5",
                    "--device",
                    device,
                    "-v",
                ],
            );
            assert!(o.status.success(), "{agg} on {device}: {}", stderr(&o));
            assert!(
                stderr(&o).contains(&format!("device: {device}")),
                "{}",
                stderr(&o)
            );
            npy.push(std::fs::read(d.join(&out)).expect("npy"));
        }
        if agg.starts_with("var") {
            let read = |b: &[u8]| match pointillist::output::npy::read_npy(b).expect("npy").data {
                pointillist::output::npy::NpyData::F64(v) => v,
                other => panic!("{agg}: not float64: {other:?}"),
            };
            let (c, g) = (read(&npy[0]), read(&npy[1]));
            assert_eq!(c.len(), g.len());
            for (x, y) in g.iter().zip(&c) {
                assert!(
                    (x.is_nan() && y.is_nan()) || (x - y).abs() <= 1e-12 * y.abs(),
                    "{agg}: gpu {x} cpu {y}"
                );
            }
        } else {
            assert!(
                npy[0] == npy[1],
                "{agg}: GPU aggregate differs from the CPU's"
            );
        }
    }
}

/// A random-walk line of `rows` vertices (x, y, val), with NaN breaks,
/// written in row groups of `group` rows.
fn write_walk(path: &Path, rows: usize, group: usize) {
    let schema = Arc::new(Schema::new(vec![
        Field::new("x", DataType::Float64, true),
        Field::new("y", DataType::Float64, true),
        Field::new("val", DataType::Float64, true),
    ]));
    let (mut x, mut y) = (0.0f64, 0.0f64);
    let mut xs = Vec::with_capacity(rows);
    let mut ys = Vec::with_capacity(rows);
    for i in 0..rows {
        // A repeatable wander: steps of varied length and direction.
        let a = (i as f64 * 0.7).sin() * 3.0 + (i as f64 * 0.013).cos();
        x += a.cos() * (1.0 + (i % 5) as f64);
        y += a.sin() * (1.0 + (i % 3) as f64);
        let broken = i % 97 == 0 || i % 251 == 1;
        xs.push(if broken { f64::NAN } else { x });
        ys.push(y);
    }
    let val: Vec<f64> = (0..rows).map(|i| (i % 11) as f64 * 0.25).collect();
    let cols: Vec<ArrayRef> = vec![
        Arc::new(Float64Array::from(xs)),
        Arc::new(Float64Array::from(ys)),
        Arc::new(Float64Array::from(val)),
    ];
    write_columns(path, schema, cols, group);
}

/// One batch of `cols` as a Parquet file of `group`-row row groups.
fn write_columns(path: &Path, schema: Arc<Schema>, cols: Vec<ArrayRef>, group: usize) {
    let batch = RecordBatch::try_new(schema.clone(), cols).expect("batch");
    let props = parquet::file::properties::WriterProperties::builder()
        .set_max_row_group_row_count(Some(group))
        .build();
    let file = std::fs::File::create(path).expect("create");
    let mut w = ArrowWriter::try_new(file, schema, Some(props)).expect("writer");
    w.write(&batch).expect("write");
    w.close().expect("close");
}

#[test]
fn a_line_is_the_same_whatever_the_row_groups_and_threads() {
    let dir = tempfile::tempdir().expect("tempdir");
    let whole = dir.path().join("whole.parquet");
    let split = dir.path().join("split.parquet");
    write_walk(&whole, 5000, 5000);
    write_walk(&split, 5000, 333);
    for agg in ["count", "sum:val", "last:val"] {
        let mut outputs = Vec::new();
        for (input, threads) in [(&whole, "1"), (&split, "1"), (&split, "2"), (&split, "3")] {
            let npy = dir.path().join(format!("{threads}.npy"));
            let png = dir.path().join(format!("{threads}.png"));
            let o = run(
                dir.path(),
                &[
                    "render",
                    input.to_str().expect("utf8"),
                    "--glyph",
                    "line",
                    "--agg",
                    agg,
                    "--width",
                    "97",
                    "--height",
                    "61",
                    "--threads",
                    threads,
                    "-o",
                    png.to_str().expect("utf8"),
                    "--save-agg",
                    npy.to_str().expect("utf8"),
                ],
            );
            assert!(o.status.success(), "{}", stderr(&o));
            outputs.push((
                std::fs::read(&png).expect("png"),
                std::fs::read(&npy).expect("npy"),
            ));
        }
        assert!(outputs.windows(2).all(|w| w[0] == w[1]), "{agg}");
    }
}

#[test]
fn line_requests_it_cannot_draw_fail_cleanly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("walk.parquet");
    write_walk(&input, 100, 100);
    let input = input.to_str().expect("utf8");
    let o = run(
        dir.path(),
        &["render", input, "--glyph", "lines", "-o", "o.png"],
    );
    assert_clean_failure(
        dir.path(),
        &o,
        &[
            "--glyph lines",
            "points, line, row-lines, ragged-lines, area, row-areas or ragged-areas",
        ],
        &["walk.parquet"],
    );
    let o = run(
        dir.path(),
        &[
            "aggregate",
            input,
            "--glyph",
            "line",
            "--line-width",
            "1",
            "--agg",
            "first:x",
            "--shard",
            "0/2",
            "-o",
            "p.arrow",
        ],
    );
    // A shard of an antialiased line cannot take a line's largest
    // coverage over rows it does not read.
    assert_clean_failure(
        dir.path(),
        &o,
        &["first", "part of the input"],
        &["walk.parquet"],
    );
    let o = run(
        dir.path(),
        &[
            "render", input, "--glyph", "line", "--device", "gpu", "-o", "o.png",
        ],
    );
    assert_clean_failure(dir.path(), &o, &["lines", "GPU"], &["walk.parquet"]);
}

#[test]
fn row_lines_are_the_same_whatever_the_row_groups_and_threads() {
    let dir = tempfile::tempdir().expect("tempdir");
    let whole = dir.path().join("whole.parquet");
    let split = dir.path().join("split.parquet");
    write_walk(&whole, 3000, 3000);
    write_walk(&split, 3000, 250);
    let mut outputs = Vec::new();
    for (input, threads) in [(&whole, "1"), (&split, "1"), (&split, "3")] {
        let npy = dir.path().join(format!("{threads}.npy"));
        let o = run(
            dir.path(),
            &[
                "render",
                input.to_str().expect("utf8"),
                "--glyph",
                "row-lines",
                "--x",
                "x,val",
                "--y",
                "y,val",
                "--agg",
                "sum:val",
                "--width",
                "64",
                "--height",
                "48",
                "--threads",
                threads,
                "--save-agg",
                npy.to_str().expect("utf8"),
            ],
        );
        assert!(o.status.success(), "{}", stderr(&o));
        outputs.push(std::fs::read(&npy).expect("npy"));
    }
    assert!(outputs.windows(2).all(|w| w[0] == w[1]));
    let o = run(
        dir.path(),
        &[
            "render",
            "whole.parquet",
            "--glyph",
            "row-lines",
            "-o",
            "o.png",
        ],
    );
    assert_clean_failure(
        dir.path(),
        &o,
        &["row-lines", "at least two"],
        &["whole.parquet", "split.parquet", "1.npy", "3.npy"],
    );
}

/// The cells of a `.npy` file written by `--save-agg`, of dtype `descr`
/// (`<u4`, `<f4`), each `N` little-endian bytes decoded by `cell`.
fn npy_cells<T, const N: usize>(path: &Path, descr: &str, cell: fn([u8; N]) -> T) -> Vec<T> {
    let bytes = std::fs::read(path).expect("npy");
    assert_eq!(&bytes[..6], b"\x93NUMPY");
    let header = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    let head = String::from_utf8_lossy(&bytes[10..10 + header]).to_string();
    assert!(head.contains(descr), "{head}");
    bytes[10 + header..]
        .chunks_exact(N)
        .map(|c| cell(c.try_into().expect("N bytes")))
        .collect()
}

/// The values of a little-endian `u4` `.npy` file written by `--save-agg`.
fn npy_u32(path: &Path) -> Vec<u32> {
    npy_cells(path, "<u4", u32::from_le_bytes)
}

fn differ(a: &[u32], b: &[u32]) -> usize {
    a.len().abs_diff(b.len()) + a.iter().zip(b).filter(|(a, b)| a != b).count()
}

fn render_npy(dir: &Path, name: &str, args: &[&str]) -> Vec<u32> {
    let npy = dir.join(format!("{name}.npy"));
    let mut all = vec!["render"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--width", "71", "--height", "53", "--save-agg"]);
    all.push(npy.to_str().expect("utf8"));
    let o = run(dir, &all);
    assert!(o.status.success(), "{name}: {}", stderr(&o));
    npy_u32(&npy)
}

#[test]
fn lines_down_the_rows_add_up_line_by_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("walk.parquet");
    write_walk(&input, 4000, 700);
    let input = input.to_str().expect("utf8");
    let fixed = [
        "--x-range",
        "-400,300",
        "--y-range",
        "-300,300",
        "--threads",
        "2",
    ];
    let line = |name: &str, x: &str, y: &str| {
        let mut args = vec![input, "--glyph", "line", "--x", x, "--y", y];
        args.extend_from_slice(&fixed);
        render_npy(dir.path(), name, &args)
    };
    let both = line("both", "x", "y,val");
    let (a, b) = (line("a", "x", "y"), line("b", "x", "val"));
    assert!(a.iter().any(|&c| c > 0) && b.iter().any(|&c| c > 0));
    let sum: Vec<u32> = a.iter().zip(&b).map(|(a, b)| a + b).collect();
    assert!(both == sum, "{} pixels differ", differ(&both, &sum));
    let o = run(
        dir.path(),
        &[
            "render", input, "--glyph", "line", "--x", "x,x", "--y", "y,val,x", "-o", "o.png",
        ],
    );
    let keep = ["walk.parquet", "both.npy", "a.npy", "b.npy"];
    assert_clean_failure(dir.path(), &o, &["as many --x as --y"], &keep);
}

/// Rows of 5 samples as columns s0..s4 and t0..t4 (t_k = k / 2), and as
/// list columns ts and ss, with NaN samples.
fn write_series(path: &Path, rows: usize) {
    use arrow_array::builder::{Float64Builder, ListBuilder};
    use arrow_array::Array;
    let k = 5;
    let mut fields = Vec::new();
    let mut cols: Vec<ArrayRef> = Vec::new();
    let sample = |r: usize, j: usize| {
        if (r + j).is_multiple_of(37) {
            f64::NAN
        } else {
            ((r * 7 + j * 3) as f64 * 0.37).sin() * (1.0 + (r % 9) as f64)
        }
    };
    for j in 0..k {
        fields.push(Field::new(format!("s{j}"), DataType::Float64, true));
        cols.push(Arc::new(Float64Array::from(
            (0..rows).map(|r| sample(r, j)).collect::<Vec<_>>(),
        )));
        fields.push(Field::new(format!("t{j}"), DataType::Float64, true));
        cols.push(Arc::new(Float64Array::from(vec![j as f64 / 2.0; rows])));
    }
    let mut ts = ListBuilder::new(Float64Builder::new());
    let mut ss = ListBuilder::new(Float64Builder::new());
    for r in 0..rows {
        for j in 0..k {
            ts.values().append_value(j as f64 / 2.0);
            ss.values().append_value(sample(r, j));
        }
        ts.append(true);
        ss.append(true);
    }
    let (ts, ss) = (ts.finish(), ss.finish());
    fields.push(Field::new("ts", ts.data_type().clone(), true));
    cols.push(Arc::new(ts));
    fields.push(Field::new("ss", ss.data_type().clone(), true));
    cols.push(Arc::new(ss));
    let schema = Arc::new(Schema::new(fields));
    write_columns(path, schema, cols, 300);
}

#[test]
fn constant_columns_constants_and_ragged_lists_draw_the_same_lines() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("series.parquet");
    write_series(&input, 2000);
    let input = input.to_str().expect("utf8");
    let ys = "s0,s1,s2,s3,s4";
    let columns = render_npy(
        dir.path(),
        "columns",
        &[
            input,
            "--glyph",
            "row-lines",
            "--x",
            "t0,t1,t2,t3,t4",
            "--y",
            ys,
        ],
    );
    assert!(columns.iter().filter(|&&c| c > 0).count() > 500);
    let constants = render_npy(
        dir.path(),
        "constants",
        &[
            input,
            "--glyph",
            "row-lines",
            "--x-values",
            "0:2.5:0.5",
            "--y",
            ys,
        ],
    );
    let listed = render_npy(
        dir.path(),
        "listed",
        &[
            input,
            "--glyph",
            "row-lines",
            "--x-values",
            "0,0.5,1,1.5,2",
            "--y",
            ys,
        ],
    );
    let ragged = render_npy(
        dir.path(),
        "ragged",
        &[
            input,
            "--glyph",
            "ragged-lines",
            "--x",
            "ts",
            "--y",
            "ss",
            "--threads",
            "1",
        ],
    );
    for (name, other) in [
        ("constants", &constants),
        ("listed", &listed),
        ("ragged", &ragged),
    ] {
        assert!(
            &columns == other,
            "{name}: {} pixels differ",
            differ(&columns, other)
        );
    }
    // The same rows as areas: columns and ragged lists fill alike.
    let row_areas = render_npy(
        dir.path(),
        "row-areas",
        &[
            input,
            "--glyph",
            "row-areas",
            "--x",
            "t0,t1,t2,t3,t4",
            "--y",
            ys,
        ],
    );
    let ragged_areas = render_npy(
        dir.path(),
        "ragged-areas",
        &[input, "--glyph", "ragged-areas", "--x", "ts", "--y", "ss"],
    );
    assert!(row_areas.iter().filter(|&&c| c > 0).count() > 1000);
    assert!(
        row_areas == ragged_areas,
        "ragged areas: {} pixels differ",
        differ(&row_areas, &ragged_areas)
    );
    let o = run(
        dir.path(),
        &[
            "render",
            input,
            "--glyph",
            "ragged-areas",
            "--x",
            "ts",
            "--y",
            "ss",
            "--y-stack",
            "ss,ts",
            "-o",
            "x.png",
        ],
    );
    let keep = [
        "series.parquet",
        "columns.npy",
        "constants.npy",
        "listed.npy",
        "ragged.npy",
        "row-areas.npy",
        "ragged-areas.npy",
    ];
    assert_clean_failure(dir.path(), &o, &["--y-stack", "one"], &keep);
    let o = run(
        dir.path(),
        &[
            "render",
            input,
            "--glyph",
            "ragged-lines",
            "--x",
            "t0",
            "--y",
            "ss",
            "-o",
            "o.png",
        ],
    );
    assert_clean_failure(dir.path(), &o, &["t0", "list of numbers"], &keep);
    let o = run(
        dir.path(),
        &[
            "render",
            input,
            "--glyph",
            "row-lines",
            "--x-values",
            "0:1:0",
            "--y",
            ys,
            "-o",
            "o.png",
        ],
    );
    assert_clean_failure(dir.path(), &o, &["--x-values 0:1:0"], &keep);
}

#[test]
fn areas_are_the_same_whatever_the_row_groups_and_threads_and_add_up() {
    let dir = tempfile::tempdir().expect("tempdir");
    let whole = dir.path().join("whole.parquet");
    let split = dir.path().join("split.parquet");
    write_walk(&whole, 3000, 3000);
    write_walk(&split, 3000, 211);
    let fixed = ["--x-range", "-300,200", "--y-range", "-200,200"];
    let area = |name: &str, input: &Path, y: &str, more: &[&str]| {
        let mut args = vec![input.to_str().expect("utf8"), "--glyph", "area", "--x", "x"];
        args.extend_from_slice(&["--y", y]);
        args.extend_from_slice(&fixed);
        args.extend_from_slice(more);
        render_npy(dir.path(), name, &args)
    };
    let one = area("one", &whole, "y", &["--threads", "1"]);
    let filled = one.iter().filter(|&&c| c > 0).count();
    assert!(filled > 300, "{filled} pixels filled");
    assert_eq!(one, area("split", &split, "y", &["--threads", "3"]));
    // Two areas count what each counts alone.
    let both = area("both", &split, "y,val", &[]);
    let val = area("val", &whole, "val", &[]);
    let sum: Vec<u32> = one.iter().zip(&val).map(|(a, b)| a + b).collect();
    assert!(both == sum, "{} pixels differ", differ(&both, &sum));
    // Filled to a line instead of zero: no more pixels than to zero and
    // the line below, and some.
    let stacked = area("stacked", &split, "y", &["--y-stack", "val"]);
    assert!(stacked.iter().any(|&c| c > 0));
    assert!(stacked != one);
    let o = run(
        dir.path(),
        &["render", "whole.parquet", "--y-stack", "val", "-o", "o.png"],
    );
    let keep = [
        "whole.parquet",
        "split.parquet",
        "one.npy",
        "split.npy",
        "both.npy",
        "val.npy",
        "stacked.npy",
    ];
    assert_clean_failure(dir.path(), &o, &["--y-stack", "--glyph area"], &keep);
}

#[test]
fn an_area_per_row_is_the_same_from_constant_columns_or_constants() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("series.parquet");
    write_series(&input, 1500);
    let input = input.to_str().expect("utf8");
    let ys = "s0,s1,s2,s3,s4";
    let area = |name: &str, more: &[&str]| {
        let mut args = vec![input, "--glyph", "row-areas", "--y", ys];
        args.extend_from_slice(more);
        render_npy(dir.path(), name, &args)
    };
    let columns = area("columns", &["--x", "t0,t1,t2,t3,t4", "--threads", "1"]);
    let filled = columns.iter().filter(|&&c| c > 0).count();
    assert!(filled > 500, "{filled} pixels filled");
    assert_eq!(columns, area("constants", &["--x-values", "0:2.5:0.5"]));
    // Filled to another line instead of zero: a different picture.
    let stacked = area(
        "stacked",
        &["--x-values", "0:2.5:0.5", "--y-stack", "s1,s2,s3,s4,s0"],
    );
    assert!(stacked != columns && stacked.iter().any(|&c| c > 0));
    let o = run(
        dir.path(),
        &[
            "render",
            input,
            "--glyph",
            "row-areas",
            "--x-values",
            "0:2.5:0.5",
            "--y",
            ys,
            "--y-stack",
            "s1,s2",
            "-o",
            "o.png",
        ],
    );
    let keep = [
        "series.parquet",
        "columns.npy",
        "constants.npy",
        "stacked.npy",
    ];
    assert_clean_failure(dir.path(), &o, &["--y-stack", "per vertex"], &keep);
}

/// The values of a little-endian `f4` `.npy` file written by `--save-agg`.
fn npy_f32(path: &Path) -> Vec<f32> {
    npy_cells(path, "<f4", f32::from_le_bytes)
}

#[test]
fn antialiased_lines_are_the_same_from_every_layout_and_thread_count() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("series.parquet");
    write_series(&input, 2000);
    let input = input.to_str().expect("utf8");
    let ys = "s0,s1,s2,s3,s4";
    let aa = |name: &str, args: &[&str]| -> Vec<f32> {
        let npy = dir.path().join(format!("{name}.npy"));
        let mut all = vec!["render", input];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--width", "71", "--height", "53", "--save-agg"]);
        all.push(npy.to_str().expect("utf8"));
        let o = run(dir.path(), &all);
        assert!(o.status.success(), "{name}: {}", stderr(&o));
        npy_f32(&npy)
    };
    let wide = ["--line-width", "1.5"];
    let cols = [
        &["--glyph", "row-lines", "--x", "t0,t1,t2,t3,t4", "--y", ys][..],
        &wide,
    ]
    .concat();
    let columns = aa("columns", &cols);
    let covered = columns.iter().filter(|c| !c.is_nan()).count();
    assert!(covered > 500, "{covered} pixels");
    // Coverage, not counts: fractions where a stroke's edge passes.
    assert!(columns.iter().any(|&c| c > 0.0 && c.fract() != 0.0));
    let one = aa("one-thread", &[&cols[..], &["--threads", "1"]].concat());
    assert!(
        one.iter()
            .zip(&columns)
            .all(|(a, b)| a.to_bits() == b.to_bits()),
        "one thread and many differ"
    );
    let constants = aa(
        "constants",
        &[
            &["--glyph", "row-lines", "--x-values", "0:2.5:0.5", "--y", ys][..],
            &wide,
        ]
        .concat(),
    );
    let ragged = aa(
        "ragged",
        &[
            &["--glyph", "ragged-lines", "--x", "ts", "--y", "ss"][..],
            &wide,
        ]
        .concat(),
    );
    assert!(
        constants
            .iter()
            .zip(&columns)
            .all(|(a, b)| a.to_bits() == b.to_bits()),
        "constants differ from the columns"
    );
    // Ragged lists weigh rows differently in the grouping of work units,
    // so their float32 partials add up in another grouping: the same
    // coverage up to float32 rounding.
    assert!(
        ragged.iter().zip(&columns).all(|(a, b)| {
            (a.is_nan() && b.is_nan()) || (a - b).abs() <= 1e-5 * b.abs().max(1.0)
        }),
        "ragged lists differ from the columns"
    );
    // A line that does not self-intersect counts once per pixel: at most
    // the self-intersecting count, and some pixels less.
    let once = aa("once", &[&cols[..], &["--no-self-intersect"]].concat());
    assert!(once
        .iter()
        .zip(&columns)
        .all(|(a, b)| a.is_nan() == b.is_nan() && (a.is_nan() || *a <= *b + 1e-3)));
    let fewer = once.iter().zip(&columns).filter(|(a, b)| *a < *b).count();
    assert!(fewer > 0, "no pixel counted less");
    // `--antialias` is `--line-width 1`.
    let unit = aa("unit", &[&cols[..6], &["--antialias"]].concat());
    let lw1 = aa("lw1", &[&cols[..6], &["--line-width", "1"]].concat());
    assert!(unit
        .iter()
        .zip(&lw1)
        .all(|(a, b)| a.to_bits() == b.to_bits()));
    let bad = tempfile::tempdir().expect("tempdir");
    let o = run(
        bad.path(),
        &[
            "render",
            input,
            "--x",
            "s0",
            "--y",
            "s1",
            "--line-width",
            "2",
            "-o",
            "o.png",
        ],
    );
    assert_clean_failure(bad.path(), &o, &["--glyph line"], &[]);
}

/// `tiles --glyph line|area`: a track's tiles are the same bytes on one
/// thread and two, the line spans several tiles, and line flags on points
/// are refused before anything is written.
#[test]
fn tiles_draw_lines_and_areas_the_same_on_any_thread_count() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    // The walk's coordinates, as metres, wander over a few tiles of zoom 15.
    write_walk(&d.join("walk.parquet"), 3000, 400);
    for (name, glyph) in [
        ("plain", &["--glyph", "line"][..]),
        ("aa", &["--glyph", "line", "--line-width", "2"][..]),
        ("area", &["--glyph", "area"][..]),
    ] {
        let mut pyramids = Vec::new();
        for threads in ["1", "2"] {
            let out = format!("{name}-{threads}");
            let mut args = vec![
                "tiles",
                "walk.parquet",
                "-o",
                &out,
                "--min-zoom",
                "13",
                "--max-zoom",
                "15",
                "--threads",
                threads,
            ];
            args.extend_from_slice(glyph);
            let o = run(d, &args);
            assert!(o.status.success(), "{name}: {}", stderr(&o));
            pyramids.push(pyramid_files(&d.join(&out)));
        }
        assert!(
            pyramids[0].iter().filter(|((z, _, _), _)| *z == 15).count() > 2,
            "{name}: the track crosses tiles"
        );
        assert_eq!(pyramids[0], pyramids[1], "{name}: threads change the tiles");
    }
    let o = run(
        d,
        &["tiles", "walk.parquet", "-o", "x", "--line-width", "1"],
    );
    assert_clean_failure(
        d,
        &o,
        &["--line-width", "--glyph line"],
        &[
            "walk.parquet",
            "plain-1",
            "plain-2",
            "aa-1",
            "aa-2",
            "area-1",
            "area-2",
        ],
    );
}

/// WKB for a LineString (`closed`: a one-ring Polygon) through `coords`.
fn wkb(coords: &[(f64, f64)], closed: bool) -> Vec<u8> {
    let mut b = vec![1u8];
    b.extend_from_slice(&(if closed { 3u32 } else { 2 }).to_le_bytes());
    if closed {
        b.extend_from_slice(&1u32.to_le_bytes());
    }
    b.extend_from_slice(&(coords.len() as u32).to_le_bytes());
    for (x, y) in coords {
        b.extend_from_slice(&x.to_le_bytes());
        b.extend_from_slice(&y.to_le_bytes());
    }
    b
}

#[test]
fn geometry_columns_draw_the_lines_their_vertices_do() {
    use arrow_array::builder::{FixedSizeListBuilder, Float64Builder, ListBuilder};
    use arrow_array::{Array, BinaryArray};
    use parquet::file::metadata::KeyValue;
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("geo.parquet");
    let rows = 1500;
    // Row r: a 5-vertex line (one NaN vertex now and then), as lists, as
    // WKB, and as GeoArrow interleaved coordinates; and a closed square.
    let vertex = |r: usize, j: usize| -> (f64, f64) {
        if (r + j).is_multiple_of(41) {
            (f64::NAN, f64::NAN)
        } else {
            (
                j as f64 / 2.0,
                ((r * 7 + j * 3) as f64 * 0.37).sin() * (1.0 + (r % 9) as f64),
            )
        }
    };
    let mut xs = ListBuilder::new(Float64Builder::new());
    let mut ys = ListBuilder::new(Float64Builder::new());
    let mut geo = ListBuilder::new(FixedSizeListBuilder::new(Float64Builder::new(), 2));
    let mut sq_xs = ListBuilder::new(Float64Builder::new());
    let mut sq_ys = ListBuilder::new(Float64Builder::new());
    let mut lines = Vec::new();
    let mut squares = Vec::new();
    for r in 0..rows {
        let vs: Vec<(f64, f64)> = (0..5).map(|j| vertex(r, j)).collect();
        for &(x, y) in &vs {
            xs.values().append_value(x);
            ys.values().append_value(y);
            geo.values().values().append_value(x);
            geo.values().values().append_value(y);
            geo.values().append(true);
        }
        xs.append(true);
        ys.append(true);
        geo.append(true);
        lines.push(wkb(&vs, false));
        let (x0, y0) = (((r * 13) % 20) as f64 / 10.0, ((r * 29) % 17) as f64 - 8.0);
        let sq = [
            (x0, y0),
            (x0 + 0.3, y0),
            (x0 + 0.3, y0 + 2.0),
            (x0, y0 + 2.0),
            (x0, y0),
        ];
        squares.push(wkb(&sq, true));
        for (x, y) in sq {
            sq_xs.values().append_value(x);
            sq_ys.values().append_value(y);
        }
        sq_xs.append(true);
        sq_ys.append(true);
    }
    let (xs, ys, geo) = (xs.finish(), ys.finish(), geo.finish());
    let (sq_xs, sq_ys) = (sq_xs.finish(), sq_ys.finish());
    let bin =
        |v: &[Vec<u8>]| BinaryArray::from(v.iter().map(|b| Some(b.as_slice())).collect::<Vec<_>>());
    let (lines, squares) = (bin(&lines), bin(&squares));
    let schema = Arc::new(Schema::new(vec![
        Field::new("xs", xs.data_type().clone(), true),
        Field::new("ys", ys.data_type().clone(), true),
        Field::new("arrow", geo.data_type().clone(), true),
        Field::new("wkb", DataType::Binary, true),
        Field::new("squares", DataType::Binary, true),
        Field::new("sq_xs", sq_xs.data_type().clone(), true),
        Field::new("sq_ys", sq_ys.data_type().clone(), true),
        Field::new("v", DataType::Float64, true),
    ]));
    let cols: Vec<ArrayRef> = vec![
        Arc::new(xs),
        Arc::new(ys),
        Arc::new(geo),
        Arc::new(lines),
        Arc::new(squares),
        Arc::new(sq_xs),
        Arc::new(sq_ys),
        Arc::new(Float64Array::from(vec![1.0; rows])),
    ];
    let batch = RecordBatch::try_new(schema.clone(), cols).expect("batch");
    // GeoParquet's metadata, as GeoPandas writes it.
    let meta = r#"{"version": "1.1.0", "primary_column": "wkb", "columns": {"wkb": {"encoding": "WKB", "geometry_types": ["LineString"]}, "arrow": {"encoding": "linestring", "geometry_types": ["LineString"]}, "squares": {"encoding": "WKB", "geometry_types": ["Polygon"]}}}"#;
    let props = parquet::file::properties::WriterProperties::builder()
        .set_max_row_group_row_count(Some(400))
        .set_key_value_metadata(Some(vec![KeyValue::new("geo".into(), meta.to_string())]))
        .build();
    let file = std::fs::File::create(&input).expect("create");
    let mut w = ArrowWriter::try_new(file, schema, Some(props)).expect("writer");
    w.write(&batch).expect("write");
    w.close().expect("close");
    let input = input.to_str().expect("utf8");
    let draw = |name: &str, extra: &[&str]| {
        let mut args = vec![input];
        args.extend_from_slice(extra);
        render_npy(dir.path(), name, &args)
    };
    let ragged = draw(
        "ragged",
        &["--glyph", "ragged-lines", "--x", "xs", "--y", "ys"],
    );
    assert!(ragged.iter().filter(|&&c| c > 0).count() > 500);
    for (name, column, threads) in [("wkb", "wkb", "1"), ("arrow", "arrow", "3")] {
        let g = draw(
            name,
            &[
                "--glyph",
                "line",
                "--geometry",
                column,
                "--threads",
                threads,
            ],
        );
        assert!(g == ragged, "{name}: {} pixels differ", differ(&g, &ragged));
    }
    // Datashader's GeoPandas kernel leaves out each line string's first
    // pixel (but the input's first), where nothing else draws it.
    let gp = draw(
        "gp",
        &[
            "--glyph",
            "line",
            "--geometry",
            "wkb",
            "--geometry-kernel",
            "geopandas",
        ],
    );
    let fewer: u32 = ragged.iter().zip(&gp).map(|(a, b)| a - b).sum();
    assert!(ragged.iter().zip(&gp).all(|(a, b)| b <= a));
    assert!(fewer > 100 && fewer < rows as u32, "{fewer}");
    // A polygon's ring is closed: its first vertex's pixel is drawn once,
    // by the closing segment, where the same vertices as an open line
    // draw it twice.
    let range = ["--x-range", "0,2.5", "--y-range", "-9,11"];
    let ring = draw(
        "ring",
        &[&["--glyph", "line", "--geometry", "squares"][..], &range].concat(),
    );
    let open = draw(
        "open",
        &[
            &["--glyph", "ragged-lines", "--x", "sq_xs", "--y", "sq_ys"][..],
            &range,
        ]
        .concat(),
    );
    let (ring, open): (u32, u32) = (ring.iter().sum(), open.iter().sum());
    assert_eq!(open - ring, rows as u32);
    let o = run(
        dir.path(),
        &[
            "render",
            input,
            "--glyph",
            "points",
            "--geometry",
            "wkb",
            "-o",
            "x.png",
        ],
    );
    let keep = [
        "geo.parquet",
        "ragged.npy",
        "wkb.npy",
        "arrow.npy",
        "gp.npy",
        "ring.npy",
        "open.npy",
    ];
    assert_clean_failure(dir.path(), &o, &["--glyph line"], &keep);
    let o = run(
        dir.path(),
        &[
            "render",
            input,
            "--glyph",
            "line",
            "--geometry",
            "v",
            "-o",
            "x.png",
        ],
    );
    assert_clean_failure(dir.path(), &o, &["'v'", "not lines or polygons"], &keep);
}

#[test]
fn spread_takes_datashaders_shapes_and_operators() {
    // One point (x = y = 0) in the middle of a 9x9 canvas.
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("one.parquet");
    write_points(&input, 1);
    let input = input.to_str().expect("utf8");
    let painted = |extra: &[&str]| {
        let mut args = vec![
            "render",
            input,
            "--width",
            "9",
            "--height",
            "9",
            "--x-range=-1,1",
            "--y-range=-1,1",
            "--spread",
            "2",
            "-o",
            "o.png",
        ];
        args.extend_from_slice(extra);
        let o = run(dir.path(), &args);
        assert!(o.status.success(), "{}", stderr(&o));
        let (_, _, px) = png_size(&dir.path().join("o.png"));
        px.chunks(4).filter(|p| p[3] > 0).count()
    };
    // Datashader's radius-2 circle (within 2.5 of the centre) and square.
    assert_eq!(painted(&[]), 21);
    assert_eq!(painted(&["--spread-shape", "circle"]), 21);
    assert_eq!(painted(&["--spread-shape", "square"]), 25);
    assert_eq!(
        painted(&["--spread-shape", "square", "--spread-how", "add"]),
        25
    );
    let o = run(
        dir.path(),
        &[
            "render",
            input,
            "--spread",
            "1",
            "--spread-how",
            "multiply",
            "-o",
            "x.png",
        ],
    );
    assert!(!o.status.success());
    assert!(stderr(&o).contains("multiply"), "{}", stderr(&o));
    assert!(!dir.path().join("x.png").exists());
}

#[test]
fn color_baseline_reaches_the_categorical_shading() {
    let (dir, input) = fixture();
    let input = input.to_str().expect("utf8");
    let render = |extra: &[&str], out: &str| {
        let mut args = vec![
            "render",
            input,
            "--width",
            "12",
            "--height",
            "9",
            "--agg",
            "count_cat:cat",
            "-o",
            out,
        ];
        args.extend_from_slice(extra);
        run(dir.path(), &args)
    };
    assert!(render(&[], "a.png").status.success());
    assert!(render(&["--color-baseline", "0"], "b.png").status.success());
    assert!(render(&["--color-baseline", "3"], "c.png").status.success());
    let px = |f: &str| png_size(&dir.path().join(f)).2;
    // The baseline changes the colour mix (pytest checks it against
    // Datashader; 3 wraps smaller counts in uint32 as NumPy does).
    assert_ne!(px("b.png"), px("c.png"));
    let o = render(&["--color-baseline", "1.5"], "d.png");
    assert_clean_failure(
        dir.path(),
        &o,
        &["color baseline 1.5", "integer"],
        &["points.parquet", "a.png", "b.png", "c.png"],
    );
}

/// `where`, the `_n` reductions and a computed categorizer through `--agg`
/// and `--by`, checked against a brute-force pass over the fixture's rows
/// (row i lies at column i % 17 and row i % 13 of a 17x13 canvas over
/// [0, 1]^2, with val = i / 2 and n = i).
#[test]
fn selections_and_categorizers_render_from_the_cli() {
    let (dir, input) = fixture();
    let input = input.to_str().expect("utf8");
    let render = |agg: &str, by: Option<&str>, name: &str| {
        let mut args = vec![
            "render",
            input,
            "--agg",
            agg,
            "--save-agg",
            name,
            "--width",
            "17",
            "--height",
            "13",
            "--x-range",
            "0,1",
            "--y-range",
            "0,1",
        ];
        if let Some(b) = by {
            args.extend(["--by", b]);
        }
        let o = run(dir.path(), &args);
        assert!(o.status.success(), "{agg}: {}", stderr(&o));
        pointillist::output::npy::read_npy(
            std::fs::File::open(dir.path().join(name)).expect("open"),
        )
        .expect("npy")
    };
    // The rows of each pixel, in row order.
    let mut rows: Vec<Vec<usize>> = vec![Vec::new(); 17 * 13];
    for i in 0..1000 {
        rows[(i % 13) * 17 + i % 17].push(i);
    }
    let idx = render("where(max:val)", None, "w.npy");
    assert_eq!(idx.shape, vec![13, 17]);
    let NpyData::I64(idx) = idx.data else {
        panic!("row index is int64")
    };
    let want: Vec<i64> = rows
        .iter()
        .map(|r| r.last().map_or(-1, |&i| i as i64))
        .collect();
    assert_eq!(idx, want);

    let top = render("max_n:val:2", None, "m.npy");
    assert_eq!(top.shape, vec![13, 17, 2]);
    let NpyData::F64(top) = top.data else {
        panic!("max_n is float64")
    };
    for (p, r) in rows.iter().enumerate() {
        let mut vals: Vec<f64> = r.iter().map(|&i| i as f64 * 0.5).collect();
        vals.sort_by(|a, b| b.total_cmp(a));
        assert_eq!(top[2 * p], vals[0], "pixel {p}");
        assert_eq!(top[2 * p + 1], vals[1], "pixel {p}");
    }

    let first = render("where(first_n:val:3,n)", None, "f.npy");
    let NpyData::F64(first) = first.data else {
        panic!("a lookup is float64")
    };
    for (p, r) in rows.iter().enumerate() {
        for k in 0..3 {
            let want = r.get(k).map_or(f64::NAN, |&i| i as f64);
            let got = first[3 * p + k];
            assert!(
                got == want || (got.is_nan() && want.is_nan()),
                "pixel {p} slot {k}"
            );
        }
    }

    // val = i / 2 in five bins of 100: 200 rows each, none in the last
    // (NaN and clipped) category.
    let bins = render("count", Some("category_binning(val,0,500,5)"), "b.npy");
    assert_eq!(bins.shape, vec![13, 17, 6]);
    let NpyData::U32(bins) = bins.data else {
        panic!("count is uint32")
    };
    let mut per_bin = [0u32; 6];
    for (k, c) in bins.iter().enumerate() {
        per_bin[k % 6] += c;
    }
    assert_eq!(per_bin, [200, 200, 200, 200, 200, 0]);

    for (agg, needle) in [
        ("where(count)", "selector"),
        ("max_n:val:0", "at least 1"),
        ("where(max:val,val)", "same column"),
    ] {
        let o = run(
            dir.path(),
            &[
                "render", input, "--agg", agg, "-o", "bad.png", "--width", "4", "--height", "4",
            ],
        );
        let keep = ["points.parquet", "w.npy", "m.npy", "f.npy", "b.npy"];
        assert_clean_failure(dir.path(), &o, &[needle], &keep);
    }
}

/// Timestamp, date and duration columns are axes and values as their
/// count of units since the epoch: the same aggregate as the raw integers.
#[test]
fn time_columns_aggregate_as_their_counts_of_units() {
    use arrow_array::{
        Date32Array, DurationSecondArray, Int32Array as I32, Int64Array, TimestampMillisecondArray,
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let rows = 500i64;
    let ms: Vec<i64> = (0..rows)
        .map(|i| 1_700_000_000_000 + i * 3_600_000)
        .collect();
    let days: Vec<i32> = (0..rows).map(|i| 19_000 + (i / 24) as i32).collect();
    let secs: Vec<i64> = (0..rows).map(|i| i * 60).collect();
    let y: Vec<f64> = (0..rows).map(|i| (i % 7) as f64).collect();
    let cols: Vec<(&str, ArrayRef)> = vec![
        ("t", Arc::new(TimestampMillisecondArray::from(ms.clone()))),
        ("t_raw", Arc::new(Int64Array::from(ms))),
        ("d", Arc::new(Date32Array::from(days.clone()))),
        ("d_raw", Arc::new(I32::from(days))),
        ("dur", Arc::new(DurationSecondArray::from(secs.clone()))),
        ("dur_raw", Arc::new(Int64Array::from(secs))),
        ("y", Arc::new(Float64Array::from(y))),
    ];
    let batch = RecordBatch::try_from_iter(cols).expect("batch");
    let path = dir.path().join("times.parquet");
    let mut w = ArrowWriter::try_new(
        std::fs::File::create(&path).expect("create"),
        batch.schema(),
        None,
    )
    .expect("writer");
    w.write(&batch).expect("write");
    w.close().expect("close");
    let input = path.to_str().expect("utf8");
    let agg = |x: &str, agg: &str, name: &str| {
        let o = run(
            dir.path(),
            &[
                "render",
                input,
                "--x",
                x,
                "--y",
                "y",
                "--agg",
                agg,
                "--save-agg",
                name,
                "--width",
                "40",
                "--height",
                "7",
            ],
        );
        assert!(o.status.success(), "{x} {agg}: {}", stderr(&o));
        std::fs::read(dir.path().join(name)).expect("npy")
    };
    assert_eq!(agg("t", "count", "a.npy"), agg("t_raw", "count", "b.npy"));
    assert_eq!(agg("d", "count", "a.npy"), agg("d_raw", "count", "b.npy"));
    assert_eq!(
        agg("t", "max:dur", "a.npy"),
        agg("t", "max:dur_raw", "b.npy")
    );
}

#[test]
fn point_radius_draws_each_point_over_the_pixels_its_disc_covers() {
    let (dir, p) = fixture();
    let path = p.to_str().expect("utf8");
    let plain = render_npy(dir.path(), "plain", &[path]);
    let zero = render_npy(dir.path(), "zero", &[path, "--point-radius", "0"]);
    assert_eq!(plain, zero, "radius 0 is one pixel per point");
    let source = pointillist::source::Source::open(&[&p]).expect("open");
    for (r, shape) in [("1.5", "circle"), ("2", "square")] {
        let got = render_npy(
            dir.path(),
            shape,
            &[path, "--point-radius", r, "--point-shape", shape],
        );
        let req = pointillist::aggregate::AggregateRequest::new(71, 53)
            .with_point_radius(r.parse().expect("radius"))
            .with_point_shape(shape.parse().expect("shape"));
        let want = pointillist::aggregate::aggregate(&source, &req).expect("aggregate");
        let pointillist::aggregate::AggValues::U32(want) = want.values else {
            unreachable!("count is uint32")
        };
        assert_eq!(got, want, "--point-radius {r} --point-shape {shape}");
        assert!(got.iter().sum::<u32>() > 4 * plain.iter().sum::<u32>());
    }
    for (args, needle) in [
        (vec!["--point-radius", "-1"], "--point-radius"),
        (
            vec!["--point-radius", "2", "--glyph", "line"],
            "--point-radius",
        ),
        (
            vec!["--point-radius", "2", "--point-shape", "star"],
            "--point-shape",
        ),
    ] {
        let mut all = vec!["render", path, "-o", "bad.png"];
        all.extend(args);
        let o = run(dir.path(), &all);
        let keep = [
            "points.parquet",
            "plain.npy",
            "zero.npy",
            "circle.npy",
            "square.npy",
        ];
        assert_clean_failure(dir.path(), &o, &[needle], &keep);
    }
}

#[test]
fn top_categories_fold_the_rest_into_other_and_verbose_states_the_memory() {
    let (dir, p) = fixture();
    let path = p.to_str().expect("utf8");
    let all = render_npy(dir.path(), "all", &[path, "--agg", "count_cat:cat"]);
    let top = render_npy(
        dir.path(),
        "top",
        &[path, "--agg", "count_cat:cat", "--top-categories", "2"],
    );
    // a (334 rows) and b (333) are kept, c's 333 fold into (other).
    assert_eq!(top.len() / 3, all.len() / 3);
    assert_eq!(top, all, "three planes: a, b, then (other) holding c");
    let one = render_npy(
        dir.path(),
        "one",
        &[path, "--agg", "count_cat:cat", "--top-categories", "1"],
    );
    for px in 0..one.len() / 2 {
        assert_eq!(one[2 * px], all[3 * px], "a");
        assert_eq!(
            one[2 * px + 1],
            all[3 * px + 1] + all[3 * px + 2],
            "(other)"
        );
    }
    let o = run(
        dir.path(),
        &[
            "render",
            path,
            "-o",
            "v.png",
            "--agg",
            "count_cat:cat",
            "--top-categories",
            "1",
            "--verbose",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("aggregation state: 2 planes of 800x600"),
        "{}",
        stderr(&o)
    );
    // A budget too small for every category says how many fit.
    let o = run(
        dir.path(),
        &[
            "render",
            path,
            "-o",
            "big.png",
            "--agg",
            "count_cat:cat",
            "--width",
            "4000",
            "--height",
            "4000",
            "--memory-budget",
            "300",
        ],
    );
    let keep = ["points.parquet", "all.npy", "top.npy", "one.npy", "v.png"];
    assert_clean_failure(dir.path(), &o, &["--top-categories 1"], &keep);
    let o = run(
        dir.path(),
        &[
            "render",
            path,
            "-o",
            "bad.png",
            "--agg",
            "count_cat:cat",
            "--top-categories",
            "1",
            "--categories",
            "a,b",
        ],
    );
    assert_clean_failure(dir.path(), &o, &["--top-categories"], &keep);
}

#[test]
fn color_key_takes_a_named_palette() {
    let (dir, p) = fixture();
    let path = p.to_str().expect("utf8");
    let render = |name: &str, extra: &[&str]| {
        let mut args = vec!["render", path, "-o", name, "--agg", "count_cat:cat"];
        args.extend_from_slice(extra);
        let o = run(dir.path(), &args);
        assert!(o.status.success(), "{}", stderr(&o));
        std::fs::read(dir.path().join(name)).expect("png")
    };
    // Sets1to3 is the default key; glasbey another palette.
    assert_eq!(
        render("default.png", &[]),
        render("named.png", &["--color-key", "Sets1to3"])
    );
    assert_ne!(
        render("default.png", &[]),
        render("glasbey.png", &["--color-key", "glasbey"])
    );
    let o = run(
        dir.path(),
        &[
            "render",
            path,
            "-o",
            "bad.png",
            "--agg",
            "count_cat:cat",
            "--color-key",
            "nosuch",
        ],
    );
    let keep = ["points.parquet", "default.png", "named.png", "glasbey.png"];
    assert_clean_failure(dir.path(), &o, &["--color-key"], &keep);
}

#[test]
fn a_dtype_suffix_holds_the_aggregate_narrow_and_shades_the_same() {
    let (dir, p) = fixture();
    let path = p.to_str().expect("utf8");
    // 1000 points in three categories on one pixel: over 300 per
    // category, past uint8.
    let save = |name: &str, agg: &str| {
        let npy = dir.path().join(format!("{name}.npy"));
        let png = format!("{name}.png");
        let o = run(
            dir.path(),
            &[
                "render",
                path,
                "-o",
                &png,
                "--agg",
                agg,
                "--width",
                "1",
                "--height",
                "1",
                "--save-agg",
                npy.to_str().expect("utf8"),
            ],
        );
        assert!(o.status.success(), "{agg}: {}", stderr(&o));
        (npy, std::fs::read(dir.path().join(png)).expect("png"))
    };
    let (wide, wide_png) = save("wide", "count_cat:cat");
    let wide = npy_u32(&wide);
    assert!(wide.iter().any(|&c| c > 255), "{wide:?}");
    let (u8s, _) = save("u8", "count_cat:cat@uint8");
    let u8s = npy_cells(&u8s, "|u1", |b: [u8; 1]| b[0]);
    let clipped: Vec<u8> = wide.iter().map(|&c| c.min(255) as u8).collect();
    assert_eq!(u8s, clipped);
    let (u16s, u16_png) = save("u16", "count_cat:cat@uint16");
    let u16s = npy_cells(&u16s, "<u2", u16::from_le_bytes);
    assert_eq!(u16s.iter().map(|&c| u32::from(c)).collect::<Vec<_>>(), wide);
    assert_eq!(u16_png, wide_png, "the same counts shade the same");
    let (f32s, _) = save("f32", "max:val@float32");
    let (f64s, _) = save("f64", "max:val");
    let f32s = npy_cells(&f32s, "<f4", f32::from_le_bytes);
    let f64s = npy_cells(&f64s, "<f8", f64::from_le_bytes);
    for (a, b) in f32s.iter().zip(&f64s) {
        assert!(a.to_bits() == (*b as f32).to_bits(), "{a} vs {b}");
    }
    // --verbose states the narrow state.
    let o = run(
        dir.path(),
        &[
            "render",
            path,
            "-o",
            "v.png",
            "--agg",
            "count@uint8",
            "--verbose",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("1 plane of 800x600, 0.5 MiB per canvas"),
        "{}",
        stderr(&o)
    );
    let keep = [
        "points.parquet",
        "wide.npy",
        "wide.png",
        "u8.npy",
        "u8.png",
        "u16.npy",
        "u16.png",
        "f32.npy",
        "f32.png",
        "f64.npy",
        "f64.png",
        "v.png",
    ];
    for (agg, needle) in [
        (
            "mean:val@float32",
            "count (uint8, uint16, uint32) and sum, min and max",
        ),
        ("count@int4", "unknown aggregate dtype 'int4'"),
    ] {
        let o = run(dir.path(), &["render", path, "-o", "bad.png", "--agg", agg]);
        assert_clean_failure(dir.path(), &o, &[needle], &keep);
    }
}
