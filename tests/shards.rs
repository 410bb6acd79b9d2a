//! `pointillist aggregate --shard I/N` + `pointillist merge` give what
//! `pointillist render` gives for the same inputs: on every parity case
//! (Datashader's manifest) and on a 10-file input for every reduction and
//! `--by`; missing, duplicate and foreign partials are refused. All through
//! the real binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;

use arrow_array::{ArrayRef, DictionaryArray, Float32Array, Float64Array, Int32Array, RecordBatch};
use arrow_schema::{DataType, Field, Schema};
use parquet::arrow::ArrowWriter;
use parquet::file::properties::WriterProperties;
use pointillist::output::npy::{read_npy, NpyData};
use serde_json::Value;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_pointillist"))
}

fn run(mut cmd: Command) -> Output {
    let out = cmd.output().expect("run pointillist");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn fails(mut cmd: Command) -> String {
    let out = cmd.output().expect("run pointillist");
    assert!(!out.status.success(), "{cmd:?} should fail");
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    err
}

/// Flags of the canvas (for `aggregate`); the rest are shading flags (for
/// `merge`).
const CANVAS_FLAGS: &[&str] = &[
    "--x",
    "--y",
    "--width",
    "--height",
    "--agg",
    "--by",
    "--x-range",
    "--y-range",
    "--x-axis",
    "--y-axis",
    "--categories",
    "--glyph",
    "--line-width",
];

/// Split a render command line into canvas and shading arguments.
fn split_args(args: &[String]) -> (Vec<String>, Vec<String>) {
    let (mut canvas, mut shade) = (Vec::new(), Vec::new());
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        let name = a.split('=').next().unwrap_or(a);
        let takes_value = !a.contains('=')
            && args
                .get(i + 1)
                .is_some_and(|n| !n.starts_with("--") || n.parse::<f64>().is_ok());
        let mut group = vec![a.clone()];
        if takes_value {
            group.push(args[i + 1].clone());
            i += 1;
        }
        if CANVAS_FLAGS.contains(&name) {
            canvas.extend(group);
        } else {
            shade.extend(group);
        }
        i += 1;
    }
    (canvas, shade)
}

/// Compare two `.npy` files: same header, dtype and shape; integer and
/// boolean cells identical; float cells identical or within `rel`.
fn assert_same_npy(a: &Path, b: &Path, rel: f64, what: &str) {
    let read = |p: &Path| {
        read_npy(std::io::BufReader::new(
            std::fs::File::open(p).expect("npy"),
        ))
        .expect("npy")
    };
    let (x, y) = (read(a), read(b));
    assert_eq!(x.shape, y.shape, "{what}: shape");
    match (&x.data, &y.data) {
        (NpyData::F64(p), NpyData::F64(q)) => {
            for (i, (u, v)) in p.iter().zip(q).enumerate() {
                let ok = (u.is_nan() && v.is_nan())
                    || u.to_bits() == v.to_bits()
                    || (u - v).abs() <= rel * u.abs().max(v.abs());
                assert!(ok, "{what}: cell {i}: {u} vs {v}");
            }
        }
        _ => assert_eq!(
            std::fs::read(a).expect("a"),
            std::fs::read(b).expect("b"),
            "{what}: bytes"
        ),
    }
}

/// Render `inputs` with `args`, then aggregate them in `n` shards and merge;
/// both must write the same aggregate (and PNG when `png`).
fn check_shards(
    dir: &Path,
    inputs: &[PathBuf],
    args: &[String],
    n: u32,
    png: bool,
    rel: f64,
    what: &str,
) {
    let (canvas, shade) = split_args(args);
    let want_npy = dir.join("render.npy");
    let want_png = dir.join("render.png");
    let mut cmd = bin();
    cmd.arg("render").args(inputs).args(args);
    cmd.arg("--save-agg").arg(&want_npy);
    if png {
        cmd.arg("-o").arg(&want_png);
    }
    run(cmd);
    let mut parts = Vec::new();
    // Shards run in reverse, and each on its own thread count, to show that
    // neither the order nor the threads matter.
    for i in (0..n).rev() {
        let part = dir.join(format!("part-{i}.arrow"));
        let mut cmd = bin();
        cmd.arg("aggregate").args(inputs).args(&canvas);
        cmd.arg("--shard").arg(format!("{i}/{n}"));
        cmd.arg("--threads").arg((1 + i % 3).to_string());
        cmd.arg("-o").arg(&part);
        run(cmd);
        parts.push(part);
    }
    let got_npy = dir.join("merge.npy");
    let got_png = dir.join("merge.png");
    let mut cmd = bin();
    cmd.arg("merge").args(&parts).args(&shade);
    cmd.arg("--save-agg").arg(&got_npy);
    if png {
        cmd.arg("-o").arg(&got_png);
    }
    run(cmd);
    assert_same_npy(&want_npy, &got_npy, rel, what);
    if png {
        assert_eq!(
            std::fs::read(&want_png).expect("png"),
            std::fs::read(&got_png).expect("png"),
            "{what}: PNG"
        );
    }
}

fn parity_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/parity")
}

#[test]
fn shards_merge_to_the_render_of_every_parity_case() {
    let text = std::fs::read_to_string(parity_dir().join("manifest.json")).expect("manifest");
    let manifest: Value = serde_json::from_str(&text).expect("json");
    let dir = tempfile::tempdir().expect("tmp");
    let mut checked = 0;
    for case in manifest["cases"].as_array().expect("cases") {
        let name = case["name"].as_str().expect("name");
        let inputs: Vec<PathBuf> = case["inputs"]
            .as_array()
            .expect("inputs")
            .iter()
            .map(|i| parity_dir().join(i.as_str().expect("input")))
            .collect();
        let args: Vec<String> = case["cli"]
            .as_array()
            .expect("cli")
            .iter()
            .map(|a| a.as_str().expect("arg").to_string())
            .collect();
        let png = case.get("shade").is_some();
        for n in [1, 3] {
            check_shards(
                dir.path(),
                &inputs,
                &args,
                n,
                png,
                1e-12,
                &format!("{name} in {n}"),
            );
        }
        checked += 1;
    }
    assert!(checked >= 30, "only {checked} cases");
}

/// Ten Parquet files of uneven sizes and row groups: f32 x/y, a value
/// column with NaNs, an i32 column and a dictionary category column.
fn ten_files(dir: &Path) -> Vec<PathBuf> {
    let schema = Arc::new(Schema::new(vec![
        Field::new("x", DataType::Float32, true),
        Field::new("y", DataType::Float32, true),
        Field::new("val", DataType::Float64, true),
        Field::new("i", DataType::Int32, true),
        Field::new(
            "cat",
            DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8)),
            true,
        ),
    ]));
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut paths = Vec::new();
    let mut row = 0i32;
    for f in 0..10 {
        let path = dir.join(format!("part-{f:02}.parquet"));
        let props = WriterProperties::builder()
            .set_max_row_group_row_count(Some(700 + 300 * (f % 3)))
            .build();
        let file = std::fs::File::create(&path).expect("create");
        let mut w = ArrowWriter::try_new(file, schema.clone(), Some(props)).expect("writer");
        let n = 1500 + 400 * f;
        let mut xs = Vec::new();
        let mut ys = Vec::new();
        let mut vals = Vec::new();
        let mut ints = Vec::new();
        let mut cats = Vec::new();
        for _ in 0..n {
            let r = next();
            xs.push(((r % 10_000) as f32 / 10_000.0) * 4.0 - 2.0);
            ys.push((((r >> 16) % 10_000) as f32 / 10_000.0) * 2.0 - 1.0);
            vals.push(if r % 13 == 0 {
                f64::NAN
            } else {
                ((r >> 32) % 100_000) as f64 / 7.0 - 3000.0
            });
            ints.push(row);
            row += 1;
            cats.push(["a", "b", "c", "d"][((r >> 40) % 4) as usize]);
        }
        let cat: DictionaryArray<arrow_array::types::Int32Type> = cats.into_iter().collect();
        let columns: Vec<ArrayRef> = vec![
            Arc::new(Float32Array::from(xs)),
            Arc::new(Float32Array::from(ys)),
            Arc::new(Float64Array::from(vals)),
            Arc::new(Int32Array::from(ints)),
            Arc::new(cat),
        ];
        w.write(&RecordBatch::try_new(schema.clone(), columns).expect("batch"))
            .expect("write");
        w.close().expect("close");
        paths.push(path);
    }
    paths
}

#[test]
fn shards_of_ten_files_merge_to_the_render_for_every_reduction() {
    let dir = tempfile::tempdir().expect("tmp");
    let inputs = ten_files(dir.path());
    let work = dir.path().join("work");
    std::fs::create_dir(&work).expect("mkdir");
    let aggs = [
        ("count", 0.0),
        ("count:val", 0.0),
        ("any", 0.0),
        ("any:val", 0.0),
        ("sum:val", 1e-12),
        ("mean:val", 1e-12),
        ("min:val", 0.0),
        ("max:val", 0.0),
        ("var:val", 1e-12),
        ("std:val", 1e-12),
        ("first:i", 0.0),
        ("last:i", 0.0),
        ("first:val", 0.0),
        ("last:val", 0.0),
        ("count_cat:cat", 0.0),
    ];
    for (agg, rel) in aggs {
        for n in [2, 7, 16] {
            let args: Vec<String> = ["--width", "37", "--height", "23", "--agg", agg]
                .map(String::from)
                .to_vec();
            check_shards(
                &work,
                &inputs,
                &args,
                n,
                rel == 0.0,
                rel,
                &format!("{agg} in {n}"),
            );
        }
    }
    for agg in ["mean:val", "max:val", "first:val", "count"] {
        let args: Vec<String> = [
            "--width",
            "19",
            "--height",
            "11",
            "--agg",
            agg,
            "--by",
            "cat",
            "--x-range=-1,1.5",
        ]
        .map(String::from)
        .to_vec();
        check_shards(
            &work,
            &inputs,
            &args,
            4,
            false,
            1e-12,
            &format!("{agg} by cat"),
        );
    }
}

#[test]
fn missing_duplicate_and_foreign_shards_are_refused() {
    let dir = tempfile::tempdir().expect("tmp");
    let inputs = ten_files(dir.path());
    let part = |name: &str, shard: &str, extra: &[&str]| {
        let p = dir.path().join(name);
        let mut cmd = bin();
        cmd.arg("aggregate").args(&inputs).args(["--shard", shard]);
        cmd.args(["--width", "10", "--height", "10", "--agg", "mean:val"]);
        cmd.args(extra).arg("-o").arg(&p);
        run(cmd);
        p
    };
    let p0 = part("p0.arrow", "0/3", &[]);
    let p1 = part("p1.arrow", "1/3", &[]);
    let p2 = part("p2.arrow", "2/3", &[]);
    let other = part("other.arrow", "2/3", &["--x-range=-1,1"]);
    let out = dir.path().join("out.npy");
    let merge = |parts: &[&PathBuf]| {
        let mut cmd = bin();
        cmd.arg("merge").args(parts).arg("--save-agg").arg(&out);
        cmd
    };
    let err = fails(merge(&[&p0, &p2]));
    assert!(err.contains("shards 1 of 3 are missing"), "{err}");
    let err = fails(merge(&[&p0, &p1, &p1, &p2]));
    assert!(err.contains("twice"), "{err}");
    let err = fails(merge(&[&p0, &p1, &other]));
    assert!(err.contains("x range"), "{err}");
    let garbage = dir.path().join("garbage.arrow");
    std::fs::write(&garbage, b"not a partial").expect("write");
    let err = fails(merge(&[&p0, &garbage]));
    assert!(err.contains("garbage.arrow"), "{err}");
    assert!(!out.exists(), "nothing written on error");
    run(merge(&[&p2, &p0, &p1]));
    assert!(out.exists());
    let err = fails({
        let mut cmd = bin();
        cmd.arg("aggregate")
            .args(&inputs)
            .args(["--shard", "3/3", "-o"]);
        cmd.arg(dir.path().join("x.arrow"));
        cmd
    });
    assert!(err.contains("3/3"), "{err}");
}

#[test]
fn shards_refuse_ranges_and_categories_only_a_scan_could_give() {
    let dir = tempfile::tempdir().expect("tmp");
    // No statistics and plain (not dictionary) strings.
    let schema = Arc::new(Schema::new(vec![
        Field::new("x", DataType::Float64, false),
        Field::new("y", DataType::Float64, false),
        Field::new("c", DataType::Utf8, false),
    ]));
    let path = dir.path().join("nostats.parquet");
    let props = WriterProperties::builder()
        .set_statistics_enabled(parquet::file::properties::EnabledStatistics::None)
        .set_dictionary_enabled(false)
        .build();
    let mut w = ArrowWriter::try_new(
        std::fs::File::create(&path).expect("create"),
        schema.clone(),
        Some(props),
    )
    .expect("writer");
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Float64Array::from(vec![0.0, 1.0, 2.0])),
        Arc::new(Float64Array::from(vec![0.0, 1.0, 2.0])),
        Arc::new(arrow_array::StringArray::from(vec!["a", "b", "a"])),
    ];
    w.write(&RecordBatch::try_new(schema, columns).expect("batch"))
        .expect("write");
    w.close().expect("close");
    let out = dir.path().join("p.arrow");
    let agg = |extra: &[&str]| {
        let mut cmd = bin();
        cmd.arg("aggregate")
            .arg(&path)
            .args(["--shard", "0/2", "-o"]);
        cmd.arg(&out).args(extra);
        cmd
    };
    let err = fails(agg(&[]));
    assert!(err.contains("--x-range"), "{err}");
    let err = fails(agg(&["--x-range=0,2"]));
    assert!(err.contains("--y-range"), "{err}");
    let err = fails(agg(&[
        "--x-range=0,2",
        "--y-range=0,2",
        "--agg",
        "count_cat:c",
    ]));
    assert!(err.contains("--categories"), "{err}");
    assert!(!out.exists());
    run(agg(&[
        "--x-range=0,2",
        "--y-range=0,2",
        "--agg",
        "count_cat:c",
        "--categories",
        "a,b",
    ]));
    assert!(out.exists());
}

#[test]
fn partial_files_are_the_same_bytes_on_one_thread_or_many() {
    let dir = tempfile::tempdir().expect("tmp");
    let inputs = ten_files(dir.path());
    for agg in ["mean:val", "var:val", "first:val", "count_cat:cat"] {
        let mut files = Vec::new();
        for threads in [1, 4] {
            let p = dir.path().join(format!("p-{threads}.arrow"));
            let mut cmd = bin();
            cmd.arg("aggregate")
                .args(&inputs)
                .args(["--shard", "1/3", "--agg", agg]);
            cmd.args(["--width", "64", "--height", "48", "--threads"]);
            cmd.arg(threads.to_string()).arg("-o").arg(&p);
            run(cmd);
            files.push(std::fs::read(&p).expect("read"));
        }
        assert_eq!(files[0], files[1], "{agg}");
    }
}

#[test]
fn shards_of_lines_and_areas_down_the_rows_merge_to_the_render() {
    // The ten files' rows as one line (and area) down the rows: each shard
    // reads the row group before its own (and, antialiased, the one after)
    // and draws the segments that end in its rows, so the segments across
    // shard and file boundaries are drawn once.
    let dir = tempfile::tempdir().expect("tmp");
    let inputs = ten_files(dir.path());
    let work = dir.path().join("work");
    std::fs::create_dir(&work).expect("mkdir");
    let cases: [(&[&str], &str, f64); 9] = [
        (&["--glyph", "line"], "count", 0.0),
        (&["--glyph", "line"], "sum:val", 1e-12),
        (&["--glyph", "line"], "first:i", 0.0),
        (&["--glyph", "line"], "last:val", 0.0),
        (&["--glyph", "line"], "count_cat:cat", 0.0),
        (&["--glyph", "area"], "count", 0.0),
        (&["--glyph", "area"], "max:val", 0.0),
        (&["--glyph", "line", "--line-width", "1.5"], "any", 0.0),
        (
            &["--glyph", "line", "--line-width", "1.5"],
            "sum:val",
            1e-12,
        ),
    ];
    for (glyph, agg, rel) in cases {
        for n in [3, 16] {
            let mut args: Vec<String> = ["--width", "41", "--height", "29", "--agg", agg]
                .map(String::from)
                .to_vec();
            args.extend(glyph.iter().map(|s| s.to_string()));
            let what = format!("{glyph:?} {agg} in {n}");
            check_shards(&work, &inputs, &args, n, false, rel, &what);
        }
    }
    // What a shard cannot split exactly is refused: an antialiased line's
    // pixels take its largest coverage over all its rows for `min`.
    let err = fails({
        let mut cmd = bin();
        cmd.arg("aggregate").args(&inputs);
        cmd.args(["--glyph", "line", "--line-width", "1", "--agg", "min:val"]);
        cmd.args(["--shard", "0/2", "-o"])
            .arg(work.join("min.arrow"));
        cmd
    });
    assert!(err.contains("min"), "{err}");
}
