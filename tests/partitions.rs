//! Lines and areas down the rows split into partitions (as Dask splits a
//! frame): each partition, given the previous partitions' last two rows
//! first and drawn from its own first row
//! ([`AggregateRequest::draw_from_row`]), gives a partial; merged in order,
//! the partials are the aggregate of the whole input, for every reduction
//! and however the rows are cut, NaN breaks at the cuts included.
//! Antialiased lines also take the next partition's first row after their
//! own and stop before it ([`AggregateRequest::draw_until_row`]).

use std::sync::Arc;

use arrow_array::{ArrayRef, Float64Array, RecordBatch};
use pointillist::aggregate::{AggregateRequest, Aggregator, PartialAggregate, ReductionSpec};

/// A wandering line with NaN breaks (some at and next to the cuts), a
/// lower line for areas and a value column.
fn walk(n: usize, nan_rows: &[usize]) -> RecordBatch {
    let (mut x, mut y) = (0.0f64, 0.0f64);
    let (mut xs, mut ys, mut lows, mut vs) = (vec![], vec![], vec![], vec![]);
    for i in 0..n {
        let a = (i as f64 * 0.7).sin() * 3.0;
        x += a.cos() * (1.0 + (i % 5) as f64);
        y += a.sin() * (1.0 + (i % 3) as f64);
        let broken = nan_rows.contains(&i);
        xs.push(if broken { f64::NAN } else { x });
        ys.push(y);
        lows.push(y - 3.0 - (i % 7) as f64);
        vs.push(if i % 9 == 0 {
            f64::NAN
        } else {
            (i % 11) as f64 * 0.25
        });
    }
    let col = |v: Vec<f64>| Arc::new(Float64Array::from(v)) as ArrayRef;
    RecordBatch::try_from_iter([
        ("x", col(xs)),
        ("y", col(ys)),
        ("low", col(lows)),
        ("v", col(vs)),
    ])
    .expect("batch")
}

fn partial(req: &AggregateRequest, batch: &RecordBatch, first_row: u64) -> PartialAggregate {
    let mut agg = Aggregator::new(req.clone())
        .expect("aggregator")
        .with_first_row(first_row);
    agg.push(batch).expect("push");
    agg.finish_partial().expect("partial")
}

#[test]
fn partitions_with_two_lead_rows_add_up_to_the_whole_line() {
    let n = 600;
    // Partition starts; one-row partitions, NaN at a cut, on the row
    // before one, and a line that starts on a partition's last row.
    let cuts = [0usize, 1, 2, 50, 51, 200, 201, 202, 350, 599];
    let batch = walk(n, &[49, 199, 200, 348, 349, 351, 400]);
    let bounds: Vec<(usize, usize)> = cuts
        .iter()
        .zip(cuts.iter().skip(1).chain([&n]))
        .map(|(&a, &b)| (a, b))
        .collect();
    let base = AggregateRequest::new(61, 47)
        .with_x_range(-300.0, 200.0)
        .with_y_range(-250.0, 150.0);
    let reductions = [
        "count", "any", "sum:v", "min:v", "max:v", "mean:v", "first:v", "last:v",
    ];
    let glyphs = [
        base.clone().with_lines(&["x"], &["y"]),
        base.clone().with_lines(&["x", "x"], &["y", "low"]),
        base.clone().with_area("x", "y", None),
        base.clone().with_area("x", "y", Some("low")),
    ];
    for glyph in &glyphs {
        for spec in reductions {
            let req = glyph
                .clone()
                .with_reduction(spec.parse::<ReductionSpec>().expect("spec"));
            let whole = partial(&req, &batch, 0).finish();
            let mut merged: Option<PartialAggregate> = None;
            for &(a, b) in &bounds {
                let lead = a.min(2);
                let rows = batch.slice(a - lead, b - a + lead);
                let part = partial(
                    &req.clone().with_draw_from_row(a as u64),
                    &rows,
                    (a - lead) as u64,
                );
                match &mut merged {
                    Some(m) => m.merge(part).expect("merge"),
                    None => merged = Some(part),
                }
            }
            let parts = merged.expect("partials").finish();
            if spec.starts_with("sum") || spec.starts_with("mean") {
                // Float sums: each partition adds its own pixels first,
                // then the partials add up (as Datashader's Dask chunks
                // do), so only the last bits may differ.
                for i in 0..whole.values.len() {
                    let (w, p) = (whole.values.get_f64(i), parts.values.get_f64(i));
                    assert!(
                        (w.is_nan() && p.is_nan()) || (w - p).abs() <= 1e-12 * w.abs(),
                        "{:?} {spec}: cell {i}: {w} against {p}",
                        glyph.glyph
                    );
                }
                continue;
            }
            // Exact, NaN (an empty cell) equal to NaN.
            let off = (0..whole.values.len())
                .filter(|&i| {
                    let (w, p) = (whole.values.get_f64(i), parts.values.get_f64(i));
                    !(w == p || (w.is_nan() && p.is_nan()))
                })
                .count();
            assert_eq!(
                off, 0,
                "{:?} {spec}: {off} cells differ from the whole",
                glyph.glyph
            );
        }
    }
    // Without the lead rows the segments across the cuts go missing.
    let req = glyphs[0].clone();
    let whole = partial(&req, &batch, 0).finish();
    let mut merged: Option<PartialAggregate> = None;
    for &(a, b) in &bounds {
        let part = partial(&req, &batch.slice(a, b - a), a as u64);
        match &mut merged {
            Some(m) => m.merge(part).expect("merge"),
            None => merged = Some(part),
        }
    }
    assert!(whole.values != merged.expect("partials").finish().values);
}

#[test]
fn drawing_from_a_later_row_is_refused_where_it_cannot_be_exact() {
    let batch = walk(10, &[]);
    for req in [
        // A line's largest coverage over all its rows (antialiased `min`).
        AggregateRequest::new(8, 8)
            .with_lines(&["x"], &["y"])
            .with_line_width(1.0)
            .with_reduction("min:v".parse::<ReductionSpec>().expect("spec")),
        AggregateRequest::new(8, 8),
    ] {
        let req = req
            .with_x_range(-50.0, 50.0)
            .with_y_range(-50.0, 50.0)
            .with_draw_from_row(3);
        let mut agg = Aggregator::new(req).expect("aggregator").with_first_row(1);
        let err = agg
            .push(&batch)
            .and_then(|()| agg.finish_partial().map(|_| ()))
            .expect_err("refused");
        assert!(err.to_string().contains("row"), "{err}");
    }
}

#[test]
fn antialiased_partitions_led_in_and_trailing_out_add_up_to_the_whole_line() {
    let n = 400;
    let cuts = [0usize, 1, 97, 98, 230, 231, 399];
    // NaN breaks away from the cuts (the cuts in the middle of lines, at
    // sharp turns: where a wrongly capped end shows), and one just before
    // the cut at 231.
    let batch = walk(n, &[50, 229, 300]);
    let bounds: Vec<(usize, usize)> = cuts
        .iter()
        .zip(cuts.iter().skip(1).chain([&n]))
        .map(|(&a, &b)| (a, b))
        .collect();
    // Zoomed in on the cuts at rows 97 and 230: segments a pixel or two
    // long, so a wrongly drawn cap shows.
    let base = AggregateRequest::new(61, 47)
        .with_x_range(-185.0, -65.0)
        .with_y_range(-75.0, -15.0)
        .with_line_width(2.0);
    for glyph in [
        base.clone().with_lines(&["x"], &["y"]),
        base.clone().with_lines(&["x", "x"], &["y", "low"]),
    ] {
        for spec in ["count", "any", "sum:v", "max:v"] {
            let req = glyph
                .clone()
                .with_reduction(spec.parse::<ReductionSpec>().expect("spec"));
            let whole = partial(&req, &batch, 0).finish();
            let run = |trail: usize| {
                let mut merged: Option<PartialAggregate> = None;
                for &(a, b) in &bounds {
                    let lead = a.min(2);
                    let end = (b + trail).min(n);
                    let rows = batch.slice(a - lead, end - (a - lead));
                    let part = partial(
                        &req.clone()
                            .with_draw_from_row(a as u64)
                            .with_draw_until_row(b as u64),
                        &rows,
                        (a - lead) as u64,
                    );
                    match &mut merged {
                        Some(m) => m.merge(part).expect("merge"),
                        None => merged = Some(part),
                    }
                }
                merged.expect("partials").finish()
            };
            let parts = run(1);
            // Coverage sums (count: float32) add up partition by
            // partition instead of row by row: only the last bits differ.
            let tol = if spec == "count" { 1e-5 } else { 1e-12 };
            let off = |other: &pointillist::aggregate::Aggregate| {
                (0..whole.values.len())
                    .filter(|&i| {
                        let (w, p) = (whole.values.get_f64(i), other.values.get_f64(i));
                        !((w.is_nan() && p.is_nan()) || (w - p).abs() <= tol * w.abs())
                    })
                    .count()
            };
            assert_eq!(off(&parts), 0, "{:?} {spec}", glyph.vertices);
            if spec == "count" {
                // Without the trailing row a partition's last segment is
                // drawn as the line's end, with its cap.
                assert!(off(&run(0)) > 0, "{:?} {spec}", glyph.vertices);
            }
        }
    }
}
