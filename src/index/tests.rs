use std::collections::HashMap;
use std::fs::File;

use arrow_array::{Array, Float32Array, Float64Array, Int64Array, StringArray};
use arrow_schema::{DataType, Field, Schema};
use bytes::Bytes;
use parquet::arrow::ArrowWriter;

use super::*;
use crate::aggregate::{AggValues, AggregateRequest, AggregationPlan, ReductionSpec};

/// A Parquet file of `n` pseudo-random points with an id, a value (some
/// NaN) and a category, written with row groups of `rg` rows.
fn write_points(path: &Path, n: usize, rg: usize, seed: u64) {
    let schema = Arc::new(Schema::new(vec![
        Field::new("x", DataType::Float64, true),
        Field::new("y", DataType::Float32, false),
        Field::new("id", DataType::Int64, false),
        Field::new("cat", DataType::Utf8, false),
    ]));
    let mut s = seed;
    let mut next = move || {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((s >> 11) as f64) / ((1u64 << 53) as f64)
    };
    let mut xs = Vec::new();
    let mut ys = Vec::new();
    for i in 0..n {
        // Clusters plus a few rows with no x.
        let c = (i % 3) as f64;
        xs.push(if i % 97 == 5 {
            None
        } else {
            Some(c * 10.0 + next() * 3.0)
        });
        ys.push((c * 5.0 + next() * 2.0) as f32);
    }
    let ids: Vec<i64> = (0..n as i64).collect();
    let cats: Vec<&str> = (0..n).map(|i| ["a", "b", "c", "d"][i % 4]).collect();
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(Float64Array::from(xs)),
            Arc::new(Float32Array::from(ys)),
            Arc::new(Int64Array::from(ids)),
            Arc::new(StringArray::from(cats)),
        ],
    )
    .expect("batch");
    let props = WriterProperties::builder()
        .set_max_row_group_row_count(Some(rg))
        .build();
    let file = File::create(path).expect("create");
    let mut w = ArrowWriter::try_new(file, schema, Some(props)).expect("writer");
    w.write(&batch).expect("write");
    w.close().expect("close");
}

fn read_all(path: &Path) -> Vec<RecordBatch> {
    let source = Source::open(&[path]).expect("open");
    let names: Vec<String> = source.column_names();
    let cols: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut out = Vec::new();
    for unit in source.units(UNIT_ROWS) {
        for b in source.read_unit(&unit, &cols, BATCH_ROWS).expect("read") {
            out.push(b.expect("batch"));
        }
    }
    out
}

fn count_canvas(path: &Path, window: Option<((f64, f64), (f64, f64))>) -> (Vec<u32>, usize) {
    let source = Source::open(&[path]).expect("open");
    let mut req = AggregateRequest::new(64, 48);
    req.reduction = ReductionSpec::count();
    if let Some((xr, yr)) = window {
        req.x_range = Some(xr);
        req.y_range = Some(yr);
    }
    let plan = AggregationPlan::new(&source, &req).expect("plan");
    let units = plan.units(&source);
    let agg = plan.run_units(&source, &units, &|_| {}).expect("run");
    match agg.values {
        AggValues::U32(v) => (v, units.len()),
        other => panic!("not a count: {other:?}"),
    }
}

#[test]
fn hilbert_visits_neighbouring_cells_in_turn() {
    // Walk the curve over the top-left 64x64 corner of the grid: each key's
    // cell must be one step from the previous key's cell.
    let n = 64u32;
    let mut cells: HashMap<u32, (u32, u32)> = HashMap::new();
    for x in 0..n {
        for y in 0..n {
            cells.insert(hilbert_index(x, y), (x, y));
        }
    }
    let mut keys: Vec<u32> = cells.keys().copied().collect();
    keys.sort_unstable();
    // The corner is the curve's first n*n cells.
    assert_eq!(keys.first(), Some(&0));
    assert_eq!(keys.last(), Some(&(n * n - 1)));
    for w in keys.windows(2) {
        let (a, b) = (cells[&w[0]], cells[&w[1]]);
        let d = a.0.abs_diff(b.0) + a.1.abs_diff(b.1);
        assert_eq!(d, 1, "keys {} and {} are cells {a:?} and {b:?}", w[0], w[1]);
    }
    let max = (1u32 << HILBERT_BITS) - 1;
    let corners = [
        hilbert_index(0, 0),
        hilbert_index(0, max),
        hilbert_index(max, 0),
        hilbert_index(max, max),
    ];
    assert!(corners.contains(&u32::MAX), "the curve ends at a corner");
}

#[test]
fn index_keeps_every_row_and_sorts_along_the_curve() {
    let dir = tempfile::tempdir().expect("tmp");
    let input = dir.path().join("in.parquet");
    let out = dir.path().join("out.parquet");
    write_points(&input, 20_000, 3_000, 1);
    let source = Source::open(&[&input]).expect("open");
    let opts = IndexOptions {
        row_group_rows: 1_000,
        ..IndexOptions::default()
    };
    let summary = build_index(&source, &out, &opts).expect("index");
    assert_eq!(summary.rows, 20_000);
    assert_eq!(summary.row_groups, 20);
    assert_eq!(summary.runs, 1);

    let batches = read_all(&out);
    let indexed = Source::open(&[&out]).expect("open");
    assert_eq!(
        indexed.schema_of(0).expect("schema").fields(),
        source.schema_of(0).expect("schema").fields(),
        "columns and types are kept"
    );
    // Every id exactly once, and each row's columns travel together.
    let mut seen = vec![false; 20_000];
    let keyer = Keyer::new(summary.extent);
    let mut last_key = 0u32;
    for b in &batches {
        let ids = b
            .column_by_name("id")
            .and_then(|c| c.as_any().downcast_ref::<Int64Array>())
            .expect("ids");
        let cats = b
            .column_by_name("cat")
            .and_then(|c| c.as_any().downcast_ref::<StringArray>())
            .expect("cats");
        let xs = b
            .column_by_name("x")
            .and_then(|c| c.as_any().downcast_ref::<Float64Array>())
            .expect("xs");
        for r in 0..b.num_rows() {
            let id = ids.value(r) as usize;
            assert!(!seen[id], "row {id} written twice");
            seen[id] = true;
            assert_eq!(cats.value(r), ["a", "b", "c", "d"][id % 4]);
            assert_eq!(xs.is_null(r), id % 97 == 5);
        }
        for (r, &k) in keyer.keys(b, "x", "y").iter().enumerate() {
            assert!(k >= last_key, "keys go down at row {r}");
            last_key = k;
        }
    }
    assert!(seen.iter().all(|&s| s), "every row is written");
    // Rows with no x come last.
    let tail = batches.last().expect("batches");
    assert!(tail
        .column_by_name("x")
        .expect("x")
        .is_null(tail.num_rows() - 1));
}

#[test]
fn spilled_runs_threads_and_budgets_give_the_same_bytes() {
    let dir = tempfile::tempdir().expect("tmp");
    let input = dir.path().join("in.parquet");
    write_points(&input, 30_000, 4_000, 2);
    let source = Source::open(&[&input]).expect("open");
    let mut outputs = Vec::new();
    for (i, (budget, threads)) in [(1usize << 30, 2usize), (50_000, 1), (200_000, 3)]
        .into_iter()
        .enumerate()
    {
        let out = dir.path().join(format!("out{i}.parquet"));
        let opts = IndexOptions {
            row_group_rows: 2_000,
            memory_bytes: budget,
            ..IndexOptions::default()
        };
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("pool");
        let summary = pool
            .install(|| build_index(&source, &out, &opts))
            .expect("index");
        if budget < 1 << 20 {
            assert!(summary.runs > 1, "a small budget spills runs");
        }
        outputs.push(std::fs::read(&out).expect("read"));
    }
    assert!(outputs.windows(2).all(|w| w[0] == w[1]));
    // Spill files are gone.
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .expect("ls")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".pointillist-index"))
        .collect();
    assert!(left.is_empty(), "temporary files left: {left:?}");
}

/// A file like pyarrow's: a `dictionary<int8, string>` column whose row
/// groups each carry their own dictionary (different values, different
/// orders). Spilling many runs must keep the column's type and give the
/// bytes of the unspilled run.
#[test]
fn row_groups_with_their_own_dictionaries_spill_and_merge() {
    use arrow_array::types::Int8Type;
    use arrow_array::{DictionaryArray, Int8Array};
    let dir = tempfile::tempdir().expect("tmp");
    let input = dir.path().join("dict.parquet");
    let dict_type = DataType::Dictionary(Box::new(DataType::Int8), Box::new(DataType::Utf8));
    let schema = Arc::new(Schema::new(vec![
        Field::new("x", DataType::Float64, false),
        Field::new("y", DataType::Float64, false),
        Field::new("cat", dict_type.clone(), true),
    ]));
    // Sixteen row groups, each with 40 of 60 labels in an order of its own:
    // more values over a run's batches than int8 keys can index, so Arrow
    // merges dictionaries, and every sorted chunk gets a dictionary of its
    // own.
    let dictionaries: Vec<Vec<String>> = (0..16)
        .map(|g| {
            (0..40)
                .map(|k| format!("c{}", (k * 7 + g * 13) % 60))
                .collect()
        })
        .collect();
    let props = WriterProperties::builder()
        .set_max_row_group_row_count(Some(10_000))
        .build();
    let mut w = ArrowWriter::try_new(
        File::create(&input).expect("create"),
        schema.clone(),
        Some(props),
    )
    .expect("writer");
    for (g, dict) in dictionaries.iter().enumerate() {
        // Runs of several row groups: more rows than one spilled batch.
        let n = 10_000;
        let xs: Vec<f64> = (0..n)
            .map(|i| ((i * 7919 + g * 31) % 1000) as f64)
            .collect();
        let ys: Vec<f64> = (0..n).map(|i| ((i * 104_729 + g) % 997) as f64).collect();
        let keys: Vec<Option<i8>> = (0..n)
            .map(|i| (i % 11 != 3).then_some(((i * 13) % dict.len()) as i8))
            .collect();
        let cats = DictionaryArray::<Int8Type>::try_new(
            Int8Array::from(keys),
            Arc::new(StringArray::from(dict.clone())),
        )
        .expect("dictionary");
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(Float64Array::from(xs)),
                Arc::new(Float64Array::from(ys)),
                Arc::new(cats),
            ],
        )
        .expect("batch");
        w.write(&batch).expect("write");
        w.flush().expect("row group");
    }
    w.close().expect("close");
    let source = Source::open(&[&input]).expect("open");
    assert_eq!(source.num_row_groups(), 16);
    let mut outputs = Vec::new();
    for (i, budget) in [1usize << 30, 6_000_000].into_iter().enumerate() {
        let out = dir.path().join(format!("out{i}.parquet"));
        let opts = IndexOptions {
            row_group_rows: 10_000,
            memory_bytes: budget,
            ..IndexOptions::default()
        };
        let summary = build_index(&source, &out, &opts).expect("index");
        if budget < 1 << 30 {
            assert!(summary.runs > 1, "a small budget spills runs");
        }
        outputs.push(std::fs::read(&out).expect("read"));
        let indexed = Source::open(&[&out]).expect("open output");
        assert_eq!(
            indexed
                .schema_of(0)
                .expect("schema")
                .field_with_name("cat")
                .expect("cat")
                .data_type(),
            &dict_type
        );
    }
    assert!(
        outputs[0] == outputs[1],
        "spilled and unspilled outputs differ"
    );
    // Per-category counts survive the sort.
    let counts = |path: &Path| {
        let s = Source::open(&[path]).expect("open");
        let req = AggregateRequest::new(10, 10)
            .with_columns("x", "y")
            .with_reduction(ReductionSpec::count().by("cat"));
        let agg = AggregationPlan::new(&s, &req)
            .expect("plan")
            .run(&s)
            .expect("run");
        match agg.values {
            AggValues::U32(v) => (agg.categories, v),
            other => panic!("unexpected values {other:?}"),
        }
    };
    assert_eq!(counts(&input), counts(&dir.path().join("out1.parquet")));
}

#[test]
fn indexed_file_renders_the_same_counts_and_prunes_row_groups() {
    let dir = tempfile::tempdir().expect("tmp");
    let input = dir.path().join("in.parquet");
    let out = dir.path().join("out.parquet");
    write_points(&input, 40_000, 40_000, 3);
    let source = Source::open(&[&input]).expect("open");
    let opts = IndexOptions {
        row_group_rows: 1_000,
        ..IndexOptions::default()
    };
    build_index(&source, &out, &opts).expect("index");
    let (a, _) = count_canvas(&input, None);
    let (b, _) = count_canvas(&out, None);
    assert_eq!(a, b, "whole-extent counts are unchanged");
    // A window on one cluster reads a fraction of the indexed row groups.
    let window = Some(((0.5, 2.0), (0.5, 1.5)));
    let (a, units_before) = count_canvas(&input, window);
    let (b, units_after) = count_canvas(&out, window);
    assert_eq!(a, b, "zoomed counts are unchanged");
    assert_eq!(units_before, 1);
    assert!(
        units_after < 40 / 3,
        "the window reads {units_after} of 40 row groups"
    );
}

#[test]
fn mismatched_inputs_and_overwriting_an_input_are_refused() {
    let dir = tempfile::tempdir().expect("tmp");
    let a = dir.path().join("a.parquet");
    write_points(&a, 100, 100, 4);
    let source = Source::open(&[&a]).expect("open");
    let err = build_index(&source, &a, &IndexOptions::default()).expect_err("overwrite");
    assert!(matches!(err, IndexError::OutputIsInput { .. }), "{err}");

    let b = dir.path().join("b.parquet");
    let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Float64, false)]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![Arc::new(Float64Array::from(vec![1.0]))],
    )
    .expect("batch");
    let mut w =
        ArrowWriter::try_new(File::create(&b).expect("create"), schema, None).expect("writer");
    w.write(&batch).expect("write");
    w.close().expect("close");
    let both = Source::open(&[&a, &b]).expect("open");
    let out = dir.path().join("out.parquet");
    let err = build_index(&both, &out, &IndexOptions::default()).expect_err("mismatch");
    let msg = err.to_string();
    assert!(
        msg.contains("b.parquet") && msg.contains("same columns"),
        "{msg}"
    );
    assert!(!out.exists(), "no output after an error");

    let no_y = IndexOptions {
        y: "nope".into(),
        ..IndexOptions::default()
    };
    let err = build_index(&source, &out, &no_y).expect_err("missing column");
    assert!(err.to_string().contains("nope"), "{err}");
    assert!(!out.exists());
}

#[test]
fn empty_input_gives_an_empty_file_with_the_columns() {
    let dir = tempfile::tempdir().expect("tmp");
    let a = dir.path().join("a.parquet");
    write_points(&a, 0, 100, 5);
    let source = Source::open(&[&a]).expect("open");
    let out = dir.path().join("out.parquet");
    let s = build_index(&source, &out, &IndexOptions::default()).expect("index");
    assert_eq!(s.rows, 0);
    let indexed =
        Source::from_bytes(Bytes::from(std::fs::read(&out).expect("read")), "out").expect("open");
    assert_eq!(indexed.num_rows(), 0);
    assert_eq!(indexed.column_names().len(), 4);
}

#[test]
fn hilbert_table_walks_the_same_curve_as_the_bit_by_bit_walk() {
    // Every cell of a 256x256 window at each corner and the centre, and a
    // million pseudo-random cells.
    let max = (1u32 << HILBERT_BITS) - 1;
    let mut s = 7u64;
    let mut next = move || {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (s >> 32) as u32
    };
    for (x0, y0) in [
        (0, 0),
        (max - 255, 0),
        (0, max - 255),
        (max - 255, max - 255),
        (32_640, 32_640),
    ] {
        for x in x0..=x0 + 255 {
            for y in y0..=y0 + 255 {
                assert_eq!(
                    hilbert_index(x, y),
                    keys::hilbert_index_reference(x, y),
                    "cell ({x}, {y})"
                );
            }
        }
    }
    for _ in 0..1_000_000 {
        let (x, y) = (next() & max, next() & max);
        assert_eq!(
            hilbert_index(x, y),
            keys::hilbert_index_reference(x, y),
            "cell ({x}, {y})"
        );
    }
}

#[test]
fn keys_scale_clamp_and_mark_missing_like_floor_and_clamp() {
    let extent = Some(((-10.0, 30.0), (5.0, 6.0)));
    let keyer = Keyer::new(extent);
    let cells = f64::from(1u32 << HILBERT_BITS);
    let max = f64::from((1u32 << HILBERT_BITS) - 1);
    let expected = |x: f64, y: f64| -> u32 {
        if !(x.is_finite() && y.is_finite()) {
            return u32::MAX;
        }
        let qx = ((x + 10.0) * (cells / 40.0)).floor().clamp(0.0, max) as u32;
        let qy = ((y - 5.0) * (cells / 1.0)).floor().clamp(0.0, max) as u32;
        keys::hilbert_index_reference(qx, qy)
    };
    let xs = vec![
        -10.0,
        30.0,
        -11.0,
        31.0,
        0.0,
        1e300,
        -1e300,
        f64::NAN,
        f64::INFINITY,
        29.999_999,
        -9.999_9,
        12.345,
    ];
    let ys = vec![
        5.0,
        6.0,
        4.0,
        7.0,
        5.5,
        5.5,
        5.5,
        5.5,
        5.5,
        5.999_999_9,
        5.000_001,
        f64::NEG_INFINITY,
    ];
    let schema = Arc::new(Schema::new(vec![
        Field::new("x", DataType::Float64, true),
        Field::new("y", DataType::Float32, true),
    ]));
    // y as f32 with a null: the converted path; then both as f64.
    let ys32: Vec<Option<f32>> = ys
        .iter()
        .enumerate()
        .map(|(i, &v)| (i != 4).then_some(v as f32))
        .collect();
    let batch = RecordBatch::try_new(
        schema,
        vec![
            Arc::new(Float64Array::from(xs.clone())),
            Arc::new(Float32Array::from(ys32.clone())),
        ],
    )
    .expect("batch");
    let got = keyer.keys(&batch, "x", "y");
    for (i, (&x, y)) in xs.iter().zip(&ys32).enumerate() {
        let y = y.map_or(f64::NAN, f64::from);
        assert_eq!(got[i], expected(x, y), "row {i}: ({x}, {y})");
    }
    let schema = Arc::new(Schema::new(vec![
        Field::new("x", DataType::Float64, false),
        Field::new("y", DataType::Float64, false),
    ]));
    let batch = RecordBatch::try_new(
        schema,
        vec![
            Arc::new(Float64Array::from(xs.clone())),
            Arc::new(Float64Array::from(ys.clone())),
        ],
    )
    .expect("batch");
    let got = keyer.keys(&batch, "x", "y");
    for (i, (&x, &y)) in xs.iter().zip(&ys).enumerate() {
        assert_eq!(got[i], expected(x, y), "row {i}: ({x}, {y})");
    }
    // A column that is not there keys every row as missing.
    assert!(keyer
        .keys(&batch, "x", "nope")
        .iter()
        .all(|&k| k == u32::MAX));
}

#[test]
fn radix_sort_is_a_stable_sort_by_key() {
    let mut s = 11u64;
    let mut next = move || {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        s >> 33
    };
    for (n, key_bits) in [
        (0usize, 32u32),
        (1, 32),
        (1000, 3),
        (100_000, 32),
        (100_000, 12),
        (70_000, 0),
    ] {
        // Low halves in increasing order, so stability is visible.
        let v: Vec<u64> = (0..n as u64)
            .map(|i| {
                let key = if key_bits == 0 {
                    5
                } else {
                    next() & ((1u64 << key_bits) - 1)
                };
                (key << 32) | i
            })
            .collect();
        let mut expected = v.clone();
        expected.sort_by_key(|e| e >> 32);
        let mut got = v;
        run::radix_sort_by_high_half(&mut got, &mut Vec::new());
        assert!(got == expected, "n {n}, {key_bits}-bit keys");
    }
}

/// Rows handed out from a list of batches, for the writer tests.
struct Batches(std::collections::VecDeque<RecordBatch>);

impl spill::SortedRows for Batches {
    fn next_batch(&mut self, rows: usize) -> Result<Option<RecordBatch>, IndexError> {
        let Some(b) = self.0.pop_front() else {
            return Ok(None);
        };
        assert!(b.num_rows() <= rows);
        Ok(Some(b))
    }
}

#[test]
fn parallel_row_groups_are_the_bytes_arrow_writer_writes() {
    // Row groups larger than a batch (split across pieces) and smaller;
    // a dictionary column, a nullable one, and a last short group.
    use arrow_array::types::Int8Type;
    use arrow_array::{DictionaryArray, Int8Array};
    let dict_type = DataType::Dictionary(Box::new(DataType::Int8), Box::new(DataType::Utf8));
    let schema = Arc::new(Schema::new(vec![
        Field::new("x", DataType::Float64, true),
        Field::new("id", DataType::Int64, false),
        Field::new("cat", dict_type, true),
    ]));
    let labels: arrow_array::ArrayRef = Arc::new(StringArray::from(vec!["p", "q", "r"]));
    let n = 300_000usize;
    let dir = tempfile::tempdir().expect("tmp");
    for (rg_rows, threads) in [(100_000usize, 3usize), (20_000, 2), (65_536, 1)] {
        let piece = rg_rows.min(BATCH_ROWS);
        let batches: Vec<RecordBatch> = (0..n.div_ceil(piece))
            .map(|b| {
                let rows = (b * piece..((b + 1) * piece).min(n)).collect::<Vec<_>>();
                let xs: Vec<Option<f64>> = rows
                    .iter()
                    .map(|&i| (i % 13 != 0).then_some((i as f64).sqrt()))
                    .collect();
                let keys: Vec<Option<i8>> = rows
                    .iter()
                    .map(|&i| (i % 7 != 1).then_some((i % 3) as i8))
                    .collect();
                RecordBatch::try_new(
                    schema.clone(),
                    vec![
                        Arc::new(Float64Array::from(xs)),
                        Arc::new(Int64Array::from_iter_values(rows.iter().map(|&i| i as i64))),
                        Arc::new(
                            DictionaryArray::<Int8Type>::try_new(
                                Int8Array::from(keys),
                                labels.clone(),
                            )
                            .expect("dict"),
                        ),
                    ],
                )
                .expect("batch")
            })
            .collect();
        let opts = IndexOptions::default().with_row_group_rows(rg_rows);
        let props = writer_properties(&opts, &schema, None);
        let a = dir.path().join(format!("arrow-{rg_rows}.parquet"));
        let mut w = ArrowWriter::try_new(
            File::create(&a).expect("create"),
            schema.clone(),
            Some(props.clone()),
        )
        .expect("writer");
        for b in &batches {
            w.write(b).expect("write");
        }
        w.close().expect("close");
        let b = dir.path().join(format!("ours-{rg_rows}.parquet"));
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("pool");
        let mut out = encode::Output::new(
            File::create(&b).expect("create"),
            &b,
            &schema,
            props,
            rg_rows,
            piece,
        )
        .expect("output");
        pool.install(|| out.write_all(&mut Batches(batches.into()), 4))
            .expect("write");
        let meta = out.finish().expect("finish");
        assert_eq!(meta.num_row_groups(), n.div_ceil(rg_rows));
        assert!(
            std::fs::read(&a).expect("read") == std::fs::read(&b).expect("read"),
            "row groups of {rg_rows} rows differ from ArrowWriter's"
        );
    }
}
