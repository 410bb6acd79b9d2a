//! Many categories in bounded memory (`AggregateRequest::top_categories`):
//! the kept categories are those with the most rows on the canvas, their
//! planes are the plain aggregate's, every other row (and null) lands in
//! `(other)`, the memory budget that refuses every category admits the
//! kept ones, and sharded runs fold the same way by listing `(other)` last.

use std::collections::HashMap;
use std::sync::Arc;

use arrow_array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use pointillist::aggregate::{
    aggregate, AggValues, AggregateRequest, ReductionSpec, Shard, OTHER_CATEGORY,
};
use pointillist::source::{Categorizer, Source};

const W: usize = 32;
const H: usize = 24;

/// `n` rows over 600 categories of very different sizes (category `k`
/// takes about 1/(k+1) of them), some off the canvas, some null.
fn source(n: usize) -> (Source, Vec<Option<String>>, Vec<f64>, Vec<f64>) {
    let mut state = 7u64;
    let mut next = move || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let (mut xs, mut ys, mut cats, mut ints) = (vec![], vec![], vec![], vec![]);
    for row in 0..n {
        xs.push(-0.2 + 1.4 * next());
        ys.push(next());
        // Zipf-like: k = floor(600^u) - 1 favours small k.
        let k = (600f64.powf(next()) as usize).saturating_sub(1).min(599);
        let null = row % 97 == 3;
        cats.push((!null).then(|| format!("c{k:03}")));
        ints.push((!null).then_some(k as i64 * 10));
    }
    let batch = RecordBatch::try_from_iter([
        ("x", Arc::new(Float64Array::from(xs.clone())) as ArrayRef),
        ("y", Arc::new(Float64Array::from(ys.clone())) as ArrayRef),
        ("cat", Arc::new(StringArray::from(cats.clone())) as ArrayRef),
        ("code", Arc::new(Int64Array::from(ints)) as ArrayRef),
    ])
    .expect("batch");
    let s = Source::from_batches("many", batch.schema(), vec![batch]).expect("source");
    (s, cats, xs, ys)
}

fn request(col: &str) -> AggregateRequest {
    AggregateRequest::new(W, H)
        .with_x_range(0.0, 1.0)
        .with_y_range(0.0, 1.0)
        .with_reduction(ReductionSpec::count().by(col))
}

fn counts(values: &AggValues) -> &[u32] {
    match values {
        AggValues::U32(v) => v,
        other => panic!("count is uint32, not {}", other.dtype_name()),
    }
}

#[test]
fn the_largest_categories_keep_their_planes_and_the_rest_fold_into_other() {
    let (s, cats, xs, ys) = source(40_000);
    let k = 7;
    let all = aggregate(&s, &request("cat")).expect("every category");
    let top = aggregate(&s, &request("cat").with_top_categories(k)).expect("top");
    let labels = top.categories.clone().expect("categories");
    // The k with the most rows on the canvas, in category order.
    let mut on_canvas: HashMap<&str, usize> = HashMap::new();
    for ((c, &x), &y) in cats.iter().zip(&xs).zip(&ys) {
        if let (Some(c), true) = (c, (0.0..=1.0).contains(&x) && (0.0..=1.0).contains(&y)) {
            *on_canvas.entry(c.as_str()).or_default() += 1;
        }
    }
    let mut by_size: Vec<(&str, usize)> = on_canvas.into_iter().collect();
    by_size.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let mut want: Vec<String> = by_size[..k].iter().map(|c| c.0.to_string()).collect();
    want.sort();
    want.push(OTHER_CATEGORY.to_string());
    assert_eq!(labels, want);
    // Planes: the kept ones are the plain aggregate's; (other) holds the
    // rest of each pixel's rows, nulls included.
    let every = all.categories.clone().expect("categories");
    let (a, t) = (counts(&all.values), counts(&top.values));
    let (np, kp) = (every.len(), labels.len());
    for px in 0..W * H {
        let total: u32 = a[px * np..(px + 1) * np].iter().sum();
        let mut kept = 0;
        for (j, l) in labels[..k].iter().enumerate() {
            let i = every.iter().position(|e| e == l).expect("a real category");
            assert_eq!(t[px * kp + j], a[px * np + i], "pixel {px} category {l}");
            kept += a[px * np + i];
        }
        assert_eq!(t[px * kp + k], total - kept, "pixel {px} (other)");
    }
    // More kept categories than there are: the plain aggregate.
    let wide = aggregate(&s, &request("cat").with_top_categories(np + 5)).expect("wide");
    assert_eq!(wide, all);
}

#[test]
fn a_budget_too_small_for_every_category_names_the_way_out_and_admits_the_top_ones() {
    let (s, ..) = source(5_000);
    // Each plane of this canvas takes 32 x 24 x 4 bytes; two states.
    let budget = 2 * (W * H * 4) as u64 * 40;
    let e = aggregate(&s, &request("cat").with_memory_budget(budget)).expect_err("too big");
    let msg = e.to_string();
    assert!(msg.contains("--top-categories 39"), "{msg}");
    let top = request("cat")
        .with_memory_budget(budget)
        .with_top_categories(39);
    let agg = aggregate(&s, &top).expect("fits");
    assert_eq!(agg.categories.map(|c| c.len()), Some(40));
}

#[test]
fn integer_categories_fold_and_sharded_runs_fold_by_listing_other_last() {
    let (s, ..) = source(20_000);
    let top = aggregate(&s, &request("code").with_top_categories(4)).expect("top");
    let labels = top.categories.clone().expect("categories");
    assert_eq!(labels.len(), 5);
    assert!(
        labels[..4].iter().all(|l| l.parse::<i64>().is_ok()),
        "{labels:?}"
    );
    assert_eq!(labels[4], OTHER_CATEGORY);
    // Shards: given the same list, each shard's partial merges into the
    // same aggregate; asking shards to find the top categories is refused.
    let listed = request("code").with_categories(labels.clone());
    let whole = aggregate(&s, &listed).expect("listed");
    assert_eq!(whole, top);
    let shard = Shard::new(0, 2).expect("shard");
    let e = aggregate(
        &s,
        &request("code").with_top_categories(4).with_shard(shard),
    )
    .expect_err("shards must list");
    assert!(e.to_string().contains("(other)"), "{e}");
    // Refusals: 0 kept, no categories, computed categories.
    let (_, modulo) = Categorizer::parse_by("category_modulo(code,7)").expect("modulo");
    for (req, needle) in [
        (request("cat").with_top_categories(0), "at least 1"),
        (
            AggregateRequest::new(W, H).with_top_categories(3),
            "no categories",
        ),
        (
            request("code")
                .with_reduction(ReductionSpec::count().by_categorizer("code", modulo))
                .with_top_categories(3),
            "computed",
        ),
    ] {
        let e = aggregate(&s, &req).expect_err("refused");
        assert!(e.to_string().contains(needle), "{e}");
    }
}

#[test]
fn an_aggregator_fed_in_batches_finds_the_top_categories_over_all_of_them() {
    let (s, ..) = source(30_000);
    let whole = aggregate(&s, &request("cat").with_top_categories(5)).expect("whole");
    // The same rows pushed in small batches, with the category list given
    // as candidates: the largest are still chosen over every batch.
    let (_, cats, xs, ys) = source(30_000);
    let labels: Vec<String> = {
        let mut l: Vec<String> = cats.iter().flatten().cloned().collect();
        l.sort();
        l.dedup();
        l
    };
    let mut agg = pointillist::aggregate::Aggregator::new(
        request("cat")
            .with_categories(labels)
            .with_top_categories(5),
    )
    .expect("aggregator");
    for at in (0..xs.len()).step_by(4096) {
        let end = (at + 4096).min(xs.len());
        let batch = RecordBatch::try_from_iter([
            (
                "x",
                Arc::new(Float64Array::from(xs[at..end].to_vec())) as ArrayRef,
            ),
            (
                "y",
                Arc::new(Float64Array::from(ys[at..end].to_vec())) as ArrayRef,
            ),
            (
                "cat",
                Arc::new(StringArray::from(cats[at..end].to_vec())) as ArrayRef,
            ),
        ])
        .expect("batch");
        agg.push(&batch).expect("push");
    }
    assert_eq!(agg.finish().expect("finish"), whole);
}
