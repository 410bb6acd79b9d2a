//! The whole pipeline from Rust: a categorical render of the sample data with
//! a custom colour key, the same as
//! `pointillist render --agg count_cat:cat --how eq_hist -o categories.png`.
//!
//! `cargo run --release --example render_png [OUT.png]`

use pointillist::aggregate::{AggregateRequest, ReductionSpec};
use pointillist::render::{render, RenderRequest};
use pointillist::shade::{parse_color, How, ShadeOptions};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "categories.png".into());
    let mut aggregate = AggregateRequest::new(900, 560);
    aggregate.reduction = ReductionSpec::count().by("cat");
    let key = ["#e41a1c", "#377eb8", "#4daf4a", "#984ea3", "#ff7f00"]
        .iter()
        .map(|c| parse_color(c))
        .collect::<Result<Vec<_>, _>>()?;
    let shade = ShadeOptions::default()
        .with_how(How::EqHist)
        .with_color_key(Some(key))
        .with_background(Some(parse_color("black")?));
    let outcome = render(&RenderRequest {
        inputs: Vec::new(), // the embedded sample
        aggregate,
        shade,
        png: Some(out.clone().into()),
        save_agg: None,
        png_options: Default::default(),
    })?;
    println!(
        "{} rows -> {out} ({}x{}, categories {:?})",
        outcome.rows,
        outcome.aggregate.width,
        outcome.aggregate.height,
        outcome.aggregate.categories.unwrap_or_default()
    );
    Ok(())
}
