//! Time shading (eq_hist, the default colormap) and PNG encoding of the
//! 1920x1080 aggregate of a real file, best of `reps` runs each, so that
//! they can be measured (and profiled) apart from reading. Columns `x`,
//! `y`, `val` and `cat`, ranges from the data.
//!
//! ```sh
//! cargo run --release --example shade_profile -- FILE.parquet count|mean|count_cat [reps]
//! ```

use std::time::Instant;

use pointillist::aggregate::{aggregate, AggregateRequest, ReductionKind, ReductionSpec};
use pointillist::output::{encode_png, PngOptions};
use pointillist::shade::{shade, How, ShadeOptions};
use pointillist::source::Source;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        eprintln!("usage: shade_profile FILE.parquet count|mean|count_cat [reps]");
        std::process::exit(2);
    }
    let src = Source::open(&[args[1].as_str()]).expect("open");
    let spec = match args[2].as_str() {
        "count" => ReductionSpec::count(),
        "mean" => ReductionSpec::of(ReductionKind::Mean, "val"),
        _ => ReductionSpec::count().by("cat"),
    };
    let reps: usize = args.get(3).and_then(|r| r.parse().ok()).unwrap_or(20);
    let req = AggregateRequest::new(1920, 1080).with_reduction(spec);
    let t = Instant::now();
    let agg = aggregate(&src, &req).expect("aggregate");
    eprintln!("aggregate {:.1} ms", t.elapsed().as_secs_f64() * 1e3);
    let opts = ShadeOptions::default().with_how(How::EqHist);
    let mut best = f64::MAX;
    let mut img = None;
    for _ in 0..reps {
        let t = Instant::now();
        img = Some(shade(&agg, &opts).expect("shade"));
        best = best.min(t.elapsed().as_secs_f64());
    }
    eprintln!("shade best of {reps}: {:.2} ms", best * 1e3);
    let img = img.expect("image");
    let rgba = img.to_north_up_rgba8();
    let mut best = f64::MAX;
    let mut len = 0;
    for _ in 0..reps {
        let t = Instant::now();
        len = encode_png(img.width, img.height, &rgba, &PngOptions::default())
            .expect("png")
            .len();
        best = best.min(t.elapsed().as_secs_f64());
    }
    eprintln!(
        "png best of {reps}: {:.2} ms, {} KiB",
        best * 1e3,
        len >> 10
    );
}
