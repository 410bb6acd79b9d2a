//! In-memory Arrow input gives the aggregates Parquet input gives: every
//! parity case (Datashader's manifest) is aggregated from its Parquet file
//! and from the same rows as record batches in memory (whole, through the
//! streaming [`Aggregator`], and as partials that travel as Arrow IPC), on
//! one thread and on several.

use std::path::{Path, PathBuf};

use arrow_array::RecordBatch;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use pointillist::aggregate::{
    aggregate, AggValues, Aggregate, AggregateRequest, AggregationPlan, Aggregator, AxisKind,
    PartialAggregate, ReductionSpec,
};
use pointillist::source::Source;
use serde_json::Value;

fn parity_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/parity")
}

fn pair(s: &str) -> (f64, f64) {
    let (a, b) = s.split_once(',').expect("MIN,MAX");
    (a.parse().expect("min"), b.parse().expect("max"))
}

/// The request a manifest case's canvas flags describe.
fn request(args: &[String]) -> AggregateRequest {
    let mut req = AggregateRequest::new(1, 1);
    let mut i = 0;
    while i < args.len() {
        let (flag, inline) = match args[i].split_once('=') {
            Some((f, v)) => (f.to_string(), Some(v.to_string())),
            None => (args[i].clone(), None),
        };
        let mut value = || match &inline {
            Some(v) => v.clone(),
            None => {
                i += 1;
                args[i].clone()
            }
        };
        match flag.as_str() {
            "--x" => req.x = value(),
            "--y" => req.y = value(),
            "--width" => req.width = value().parse().expect("width"),
            "--height" => req.height = value().parse().expect("height"),
            "--agg" => req.reduction = value().parse::<ReductionSpec>().expect("agg"),
            "--x-range" => req.x_range = Some(pair(&value())),
            "--y-range" => req.y_range = Some(pair(&value())),
            "--x-axis" => req.x_axis = value().parse::<AxisKind>().expect("axis"),
            "--y-axis" => req.y_axis = value().parse::<AxisKind>().expect("axis"),
            "--dynspread" | "--rescale-discrete-levels" => {}
            _ => {
                // A shading flag and its value.
                if inline.is_none() {
                    i += 1;
                }
            }
        }
        i += 1;
    }
    req
}

/// The rows of `path` as record batches, one per row group.
fn batches_of(path: &Path) -> (arrow_schema::SchemaRef, Vec<RecordBatch>) {
    let file = std::fs::File::open(path).expect("open");
    let b = ParquetRecordBatchReaderBuilder::try_new(file).expect("parquet");
    let schema = b.schema().clone();
    let groups = b.metadata().num_row_groups();
    let mut out = Vec::new();
    for rg in 0..groups {
        let file = std::fs::File::open(path).expect("open");
        let reader = ParquetRecordBatchReaderBuilder::try_new(file)
            .expect("parquet")
            .with_row_groups(vec![rg])
            .with_batch_size(1 << 30)
            .build()
            .expect("reader");
        for batch in reader {
            out.push(batch.expect("batch"));
        }
    }
    (schema, out)
}

/// Bit-for-bit equality (NaN included), or within `rel` for floats.
fn assert_close(a: &Aggregate, b: &Aggregate, rel: f64, what: &str) {
    assert_eq!(
        (a.width, a.height, &a.categories),
        (b.width, b.height, &b.categories),
        "{what}"
    );
    assert_eq!(
        (a.x_range.0.to_bits(), a.x_range.1.to_bits()),
        (b.x_range.0.to_bits(), b.x_range.1.to_bits()),
        "{what}: x range"
    );
    assert_eq!(
        (a.y_range.0.to_bits(), a.y_range.1.to_bits()),
        (b.y_range.0.to_bits(), b.y_range.1.to_bits()),
        "{what}: y range"
    );
    match (&a.values, &b.values) {
        (AggValues::F64(p), AggValues::F64(q)) => {
            assert_eq!(p.len(), q.len(), "{what}");
            for (i, (u, v)) in p.iter().zip(q).enumerate() {
                let ok = u.to_bits() == v.to_bits()
                    || (u.is_nan() && v.is_nan())
                    || (u - v).abs() <= rel * u.abs().max(v.abs());
                assert!(ok, "{what}: cell {i}: {u} vs {v}");
            }
        }
        (p, q) => assert_eq!(p, q, "{what}"),
    }
}

fn pool(threads: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("pool")
}

#[test]
fn memory_equals_parquet_on_every_parity_case() {
    let text = std::fs::read_to_string(parity_dir().join("manifest.json")).expect("manifest");
    let manifest: Value = serde_json::from_str(&text).expect("json");
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
        let req = request(&args);
        assert_eq!(inputs.len(), 1, "{name}");
        let (schema, batches) = batches_of(&inputs[0]);
        for threads in [1, 3] {
            pool(threads).install(|| {
                let what = format!("{name} on {threads} threads");
                let want = aggregate(&Source::open(&inputs).expect("open"), &req).expect("parquet");
                // The same batches as a source: the same units, so the same
                // bits, floats included.
                let mem =
                    Source::from_batches(name, schema.clone(), batches.clone()).expect("memory");
                let got = aggregate(&mem, &req).expect("memory");
                assert_close(&want, &got, 0.0, &what);
                // Pushed one batch at a time, in pieces of 777 rows.
                let mut agg = Aggregator::new(req.clone()).expect("aggregator");
                for b in &batches {
                    let mut start = 0;
                    while start < b.num_rows() {
                        let len = 777.min(b.num_rows() - start);
                        agg.push(&b.slice(start, len)).expect("push");
                        start += len;
                    }
                }
                let got = agg.finish().expect("finish");
                assert_close(&want, &got, 1e-12, &format!("{what}, pushed"));
                // Two halves on two aggregators, through Arrow IPC.
                let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
                let cut = rows / 3;
                let all = arrow_select::concat::concat_batches(&schema, &batches).expect("concat");
                let plan_req = {
                    // Partials must share ranges and categories: take them
                    // from the Parquet plan, as a caller would.
                    let plan = AggregationPlan::new(&Source::open(&inputs).expect("open"), &req)
                        .expect("plan");
                    let mut r = req.clone();
                    r.x_range = Some(plan.geometry().x.range);
                    r.y_range = Some(plan.geometry().y.range);
                    r.categories = plan.categories().map(<[String]>::to_vec);
                    r
                };
                let mut a = Aggregator::new(plan_req.clone()).expect("a");
                a.push(&all.slice(0, cut)).expect("push");
                let mut b = Aggregator::new(plan_req)
                    .expect("b")
                    .with_first_row(cut as u64);
                b.push(&all.slice(cut, rows - cut)).expect("push");
                let bytes = b.finish_partial().expect("b").to_ipc_bytes().expect("ipc");
                let mut total = a.finish_partial().expect("a");
                total
                    .merge(PartialAggregate::from_ipc_bytes(&bytes).expect("read"))
                    .expect("merge");
                assert_close(&want, &total.finish(), 1e-12, &format!("{what}, partials"));
            });
        }
        checked += 1;
    }
    assert!(checked >= 30, "only {checked} cases");
}

#[test]
fn bad_batches_get_errors_that_name_them() {
    use std::sync::Arc;

    use arrow_array::{ArrayRef, Float64Array, StringArray};
    let x: ArrayRef = Arc::new(Float64Array::from(vec![1.0, 2.0]));
    let s: ArrayRef = Arc::new(StringArray::from(vec!["a", "b"]));
    let mut agg = Aggregator::new(AggregateRequest::new(4, 4)).expect("agg");
    agg.push_columns([("x", x.clone()), ("y", x.clone())])
        .expect("first");
    let e = agg
        .push_columns([("x", x.clone()), ("y", s.clone())])
        .expect_err("y changed type");
    assert!(e.to_string().contains("batch 1"), "{e}");
    let mut agg = Aggregator::new(AggregateRequest::new(4, 4)).expect("agg");
    agg.push_columns([("x", x.clone()), ("z", x)])
        .expect("push");
    let e = agg.finish().expect_err("no y");
    assert!(e.to_string().contains("no column 'y'"), "{e}");
    let mut agg = Aggregator::new(AggregateRequest::new(4, 4)).expect("agg");
    agg.push_columns([("x", s.clone()), ("y", s)])
        .expect("push");
    let e = agg.finish().expect_err("strings");
    assert!(e.to_string().contains("not a number"), "{e}");
}

#[test]
fn an_empty_aggregator_gives_an_empty_canvas() {
    let agg = Aggregator::new(AggregateRequest::new(3, 2)).expect("agg");
    let out = agg.finish().expect("finish");
    assert_eq!(out.values, AggValues::U32(vec![0; 6]));
}
