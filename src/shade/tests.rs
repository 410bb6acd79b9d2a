//! Unit tests of the shading stage. Expected pixels were obtained by running
//! Datashader 0.19.1 on the same inputs (`tf.shade(...).data` viewed as RGBA).

use super::*;

const BLACK_WHITE: [[u8; 3]; 2] = [[0, 0, 0], [255, 255, 255]];
const RED: [u8; 3] = [255, 0, 0];
const BLUE: [u8; 3] = [0, 0, 255];

fn agg_2d(width: usize, height: usize, values: AggValues) -> Aggregate {
    Aggregate {
        width,
        height,
        categories: None,
        n: None,
        values,
        x_range: (0.0, 1.0),
        y_range: (0.0, 1.0),
    }
}

fn agg_cat(width: usize, height: usize, ncat: usize, values: AggValues) -> Aggregate {
    Aggregate {
        categories: Some((0..ncat).map(|c| format!("c{c}")).collect()),
        n: None,
        ..agg_2d(width, height, values)
    }
}

fn opts(how: How, cmap: &[[u8; 3]]) -> ShadeOptions {
    ShadeOptions {
        how,
        cmap: cmap.to_vec(),
        ..ShadeOptions::default()
    }
}

fn row(values: AggValues, o: &ShadeOptions) -> Vec<Rgba> {
    let n = values.len();
    shade(&agg_2d(n, 1, values), o).expect("shade").pixels
}

#[test]
fn empty_aggregates_give_fully_transparent_images() {
    let o = ShadeOptions::default();
    let cases = [
        agg_2d(4, 3, AggValues::U32(vec![0; 12])),
        agg_2d(4, 3, AggValues::F64(vec![f64::NAN; 12])),
        agg_2d(4, 3, AggValues::Bool(vec![false; 12])),
        agg_cat(4, 3, 2, AggValues::U32(vec![0; 24])),
        agg_cat(4, 3, 2, AggValues::F64(vec![f64::NAN; 24])),
        agg_cat(4, 3, 0, AggValues::U32(vec![])),
    ];
    for agg in cases {
        for how in [How::Linear, How::Log, How::Cbrt, How::EqHist] {
            let img = shade(&agg, &ShadeOptions { how, ..o.clone() }).expect("shade");
            assert_eq!((img.width, img.height), (4, 3));
            assert!(img.pixels.iter().all(|p| p[3] == 0), "{how}: {agg:?}");
        }
    }
}

#[test]
fn eq_hist_uses_the_exact_cdf_for_narrow_integer_ranges() {
    let px = row(
        AggValues::U32(vec![1, 2, 2, 3, 0]),
        &opts(How::EqHist, &BLACK_WHITE),
    );
    assert_eq!(
        px,
        vec![
            [0, 0, 0, 255],
            [170, 170, 170, 255],
            [170, 170, 170, 255],
            [255, 255, 255, 255],
            [0, 0, 0, 0]
        ]
    );
}

#[test]
fn eq_hist_bins_integer_ranges_of_65536_and_more() {
    // Range 69999 (after subtracting the minimum): 65536 bins, so 1 and 2 share a bin.
    let px = row(
        AggValues::U32(vec![1, 2, 70000, 0]),
        &opts(How::EqHist, &BLACK_WHITE),
    );
    assert_eq!(
        px,
        vec![
            [0, 0, 0, 255],
            [0, 0, 0, 255],
            [255, 255, 255, 255],
            [0, 0, 0, 0]
        ]
    );
}

#[test]
fn rescale_discrete_levels_lifts_few_levels_up_the_colormap() {
    let values = AggValues::U32(vec![1, 2, 0, 1]);
    let plain = row(values.clone(), &opts(How::EqHist, &BLACK_WHITE));
    let rescaled = row(
        values,
        &ShadeOptions {
            rescale_discrete_levels: true,
            ..opts(How::EqHist, &BLACK_WHITE)
        },
    );
    // Two levels: cdf 2/3 and 1; the span (2/3, 1) becomes (0.5, 1).
    assert_eq!(plain[0], [0, 0, 0, 255]);
    assert_eq!(rescaled[0], [84, 84, 84, 255]);
    assert_eq!(rescaled[1], [255, 255, 255, 255]);
    // Ignored for other methods, as in Datashader.
    let lin = opts(How::Linear, &BLACK_WHITE);
    let v = AggValues::U32(vec![1, 2, 0, 1]);
    assert_eq!(
        row(v.clone(), &lin),
        row(
            v,
            &ShadeOptions {
                rescale_discrete_levels: true,
                ..lin.clone()
            }
        )
    );
}

#[test]
fn span_clips_values_to_the_colormap_ends() {
    let px = row(
        AggValues::F64(vec![5.0, 10.0, 15.0, 20.0, 25.0, f64::NAN]),
        &ShadeOptions {
            span: Some((10.0, 20.0)),
            ..opts(How::Linear, &BLACK_WHITE)
        },
    );
    assert_eq!(
        px,
        vec![
            [0, 0, 0, 255],
            [0, 0, 0, 255],
            [127, 127, 127, 255],
            [255, 255, 255, 255],
            [255, 255, 255, 255],
            [0, 0, 0, 0]
        ]
    );
}

#[test]
fn span_is_rejected_where_datashader_rejects_it() {
    let agg = agg_2d(2, 1, AggValues::U32(vec![1, 2]));
    let with = |how, span| ShadeOptions {
        span: Some(span),
        ..opts(how, &BLACK_WHITE)
    };
    assert_eq!(
        shade(&agg, &with(How::EqHist, (0.0, 5.0))),
        Err(ShadeError::SpanWithEqHist)
    );
    // Counts are uint32: Datashader cannot cast a negative span to it.
    assert!(matches!(
        shade(&agg, &with(How::Linear, (-1.0, 5.0))),
        Err(ShadeError::InvalidSpan {
            reason: SpanProblem::OutsideUint32,
            ..
        })
    ));
    let reversed = shade(&agg, &with(How::Linear, (5.0, 1.0))).expect_err("reversed");
    assert!(matches!(
        reversed,
        ShadeError::InvalidSpan {
            reason: SpanProblem::Reversed,
            ..
        }
    ));
    assert_eq!(
        reversed.to_string(),
        "invalid span (5, 1): the lower end must not exceed the upper end"
    );
    // Fractional ends are truncated for the offset, as NumPy's cast does.
    assert!(shade(&agg, &with(How::Linear, (0.5, 5.5))).is_ok());
}

#[test]
fn single_colour_ramps_alpha_from_min_alpha_to_alpha() {
    let values = AggValues::U32(vec![0, 1, 2, 3, 5]);
    let single = |how, min_alpha, alpha| ShadeOptions {
        single_color: Some(RED),
        min_alpha,
        alpha,
        ..opts(how, &BLACK_WHITE)
    };
    let px = row(values.clone(), &single(How::Linear, 40.0, 255));
    let alphas: Vec<u8> = px.iter().map(|p| p[3]).collect();
    assert_eq!(alphas, vec![0, 40, 93, 147, 255]);
    assert!(px.iter().all(|p| p[..3] == RED));
    let px = row(values, &single(How::Log, 0.0, 200));
    let alphas: Vec<u8> = px.iter().map(|p| p[3]).collect();
    assert_eq!(alphas, vec![0, 0, 86, 136, 200]);
    // min_alpha above alpha leaves no ramp.
    let agg = agg_2d(1, 1, AggValues::U32(vec![1]));
    assert!(matches!(
        shade(&agg, &single(How::Linear, 200.0, 100)),
        Err(ShadeError::EmptyAlphaRamp { .. })
    ));
}

#[test]
fn single_colour_with_min_alpha_equal_to_alpha_matches_datashader_quirk() {
    // A one-step alpha ramp: NumPy's one-sample interp returns that alpha
    // even for empty cells, so Datashader paints them opaque too.
    let px = row(
        AggValues::U32(vec![0, 1, 2]),
        &ShadeOptions {
            single_color: Some(RED),
            min_alpha: 255.0,
            ..opts(How::Linear, &BLACK_WHITE)
        },
    );
    assert_eq!(px, vec![[255, 0, 0, 255]; 3]);
}

#[test]
fn infinite_values_shade_like_datashader() {
    // Span (0, inf): NaN sample points, order-dependent lookups in NumPy.
    let nan = f64::NAN;
    let px = row(
        AggValues::F64(vec![1.0, f64::INFINITY, 2.0, 3.0, nan, 4.0]),
        &opts(
            How::Linear,
            &[
                [0, 0, 0],
                [255, 255, 255],
                [255, 0, 0],
                [0, 255, 0],
                [0, 0, 255],
                [128, 128, 128],
            ],
        ),
    );
    assert_eq!(
        px,
        vec![
            [0, 0, 0, 255],
            [128, 128, 128, 255],
            [255, 255, 255, 255],
            [0, 0, 0, 255],
            [0, 0, 0, 0],
            [0, 0, 0, 255]
        ]
    );
    let agg = agg_2d(2, 1, AggValues::F64(vec![1.0, f64::INFINITY]));
    assert!(matches!(
        shade(&agg, &opts(How::EqHist, &BLACK_WHITE)),
        Err(ShadeError::NonFiniteEqHist { .. })
    ));
}

#[test]
fn a_list_of_one_colour_paints_every_value_opaque() {
    let px = row(
        AggValues::U32(vec![0, 1, 2, 3, 5]),
        &opts(How::Linear, &[RED]),
    );
    assert_eq!(px[0][3], 0);
    assert!(px[1..].iter().all(|p| *p == [255, 0, 0, 255]));
}

#[test]
fn bool_aggregates_take_the_top_colour() {
    let px = row(
        AggValues::Bool(vec![true, false, true]),
        &opts(How::EqHist, &BLACK_WHITE),
    );
    assert_eq!(
        px,
        vec![[255, 255, 255, 255], [0, 0, 0, 0], [255, 255, 255, 255]]
    );
}

#[test]
fn categories_mix_colours_by_count_and_alpha_follows_totals() {
    let agg = agg_cat(4, 1, 2, AggValues::U32(vec![1, 1, 3, 1, 0, 0, 0, 2]));
    let o = ShadeOptions {
        how: How::Linear,
        color_key: Some(vec![RED, BLUE]),
        ..ShadeOptions::default()
    };
    let px = shade(&agg, &o).expect("shade").pixels;
    assert_eq!(px[0], [127, 0, 127, 40]);
    assert_eq!(px[1], [191, 0, 63, 255]);
    assert_eq!(px[2][3], 0);
    assert_eq!(px[3], [0, 0, 255, 40]);
}

#[test]
fn float_categories_mix_above_the_baseline() {
    // The baseline is the global minimum (1.0): a pixel at the baseline in
    // every present category gets the plain mean of their colours.
    let nan = f64::NAN;
    let agg = agg_cat(
        4,
        1,
        2,
        AggValues::F64(vec![1.0, 1.0, 3.0, nan, nan, nan, 1.0, 2.0]),
    );
    let o = ShadeOptions {
        how: How::Linear,
        color_key: Some(vec![RED, BLUE]),
        ..ShadeOptions::default()
    };
    let px = shade(&agg, &o).expect("shade").pixels;
    assert_eq!(px[0], [127, 0, 127, 40]);
    assert_eq!(px[1], [255, 0, 0, 255]);
    assert_eq!(px[2][3], 0);
    assert_eq!(px[3], [0, 0, 255, 255]);
}

#[test]
fn categorical_needs_enough_colours() {
    let agg = agg_cat(1, 1, 3, AggValues::U32(vec![1, 2, 3]));
    let o = ShadeOptions {
        color_key: Some(vec![RED, BLUE]),
        ..ShadeOptions::default()
    };
    assert_eq!(
        shade(&agg, &o),
        Err(ShadeError::TooFewColors {
            categories: 3,
            colors: 2
        })
    );
    // The default key (Sets1to3) has 22 colours.
    assert_eq!(ShadeOptions::default().color_key_len(), 22);
    assert!(shade(&agg, &ShadeOptions::default()).is_ok());
    let bools = agg_cat(1, 1, 2, AggValues::Bool(vec![true, false]));
    assert_eq!(
        shade(&bools, &ShadeOptions::default()),
        Err(ShadeError::BoolCategorical)
    );
}

fn image(width: usize, height: usize, set: &[(usize, usize, Rgba)]) -> Image {
    let mut img = Image::transparent(width, height);
    for &(r, c, p) in set {
        img.pixels[r * width + c] = p;
    }
    img
}

#[test]
fn spread_paints_a_circle_and_composites_later_pixels_over_earlier() {
    let one = spread(&image(7, 7, &[(3, 3, [9, 9, 9, 255])]), 2);
    let painted = one.pixels.iter().filter(|p| p[3] != 0).count();
    assert_eq!(painted, 21, "radius-2 circle mask: 5x5 minus the corners");
    assert_eq!(one.pixel(1, 3), Some([9, 9, 9, 255]));
    assert_eq!(one.pixel(1, 1).map(|p| p[3]), Some(0));
    assert_eq!(one.pixel(7, 0), None);
    // Half-transparent red then blue on one row: blue (later) over red.
    let two = spread(
        &image(5, 5, &[(2, 2, [255, 0, 0, 128]), (2, 3, [0, 0, 255, 128])]),
        1,
    );
    assert_eq!(
        two.pixels[10..15],
        [
            [0, 0, 0, 0],
            [255, 0, 0, 128],
            [84, 0, 170, 191],
            [84, 0, 170, 191],
            [0, 0, 255, 128]
        ]
    );
    assert_eq!(spread(&two, 0), two);
}

#[test]
fn dynspread_spreads_sparse_images_and_leaves_dense_ones() {
    let sparse = image(40, 40, &[(5, 5, [1, 2, 3, 255]), (30, 30, [1, 2, 3, 255])]);
    // Isolated points: density 0 at every step, so spread by max_px.
    assert_eq!(dynspread(&sparse, 0.5, 3), spread(&sparse, 3));
    assert_eq!(dynspread(&sparse, 0.5, 0), sparse);
    // Every pixel has a neighbour: density 1 > threshold, no spreading.
    let dense = image(4, 1, &[(0, 0, [1, 1, 1, 255]), (0, 1, [1, 1, 1, 255])]);
    assert_eq!(dynspread(&dense, 0.5, 3), dense);
    // Threshold 1 is never exceeded.
    assert_eq!(dynspread(&dense, 1.0, 2), spread(&dense, 2));
    // Empty image: infinite density, unchanged.
    let empty = Image::transparent(3, 3);
    assert_eq!(dynspread(&empty, 0.5, 3), empty);
}

#[test]
fn background_goes_under_every_pixel() {
    let img = image(3, 1, &[(0, 1, [0, 0, 255, 128]), (0, 2, [0, 255, 0, 255])]);
    let out = set_background(&img, [255, 255, 255]);
    assert_eq!(
        out.pixels,
        vec![[255, 255, 255, 255], [127, 127, 255, 255], [0, 255, 0, 255]]
    );
}

#[test]
fn shade_applies_spread_then_background() {
    let agg = agg_2d(5, 5, {
        let mut v = vec![0; 25];
        v[12] = 4;
        AggValues::U32(v)
    });
    let o = ShadeOptions {
        spread: Some(1),
        background: Some([0, 0, 0]),
        ..opts(How::Linear, &BLACK_WHITE)
    };
    let img = shade(&agg, &o).expect("shade");
    assert!(img.pixels.iter().all(|p| p[3] == 255));
    // The radius-1 circle mask covers the full 3x3 neighbourhood.
    let white = img.pixels.iter().filter(|p| **p == [255; 4]).count();
    assert_eq!(white, 9);
}

#[test]
fn north_up_output_flips_rows() {
    let img = image(2, 2, &[(0, 0, [1, 0, 0, 255]), (1, 1, [2, 0, 0, 255])]);
    let bytes = img.to_north_up_rgba8();
    assert_eq!(bytes.len(), 16);
    assert_eq!(&bytes[4..8], &[2, 0, 0, 255]);
    assert_eq!(&bytes[8..12], &[1, 0, 0, 255]);
}

#[cfg(feature = "image")]
#[test]
fn rgba_images_are_north_up() {
    // 3 wide, 2 high; row 0 is the south.
    let img = image(
        3,
        2,
        &[(0, 0, [10, 20, 30, 255]), (1, 2, [200, 100, 50, 128])],
    );
    let rgba = img.to_rgba_image().expect("whole image");
    assert_eq!(rgba.dimensions(), (3, 2));
    // image's (x, y) has y counted from the top: the south-west pixel is
    // at the bottom left, the north-east one at the top right.
    assert_eq!(rgba.get_pixel(0, 1).0, [10, 20, 30, 255]);
    assert_eq!(rgba.get_pixel(2, 0).0, [200, 100, 50, 128]);
    assert_eq!(rgba.get_pixel(0, 0).0, [0, 0, 0, 0]);
    assert_eq!(rgba.into_raw(), img.to_north_up_rgba8());
    let mut broken = img.clone();
    broken.pixels.pop();
    assert!(broken.to_rgba_image().is_none());
}

#[test]
fn how_names_parse_and_list_the_valid_ones() {
    assert_eq!("eq_hist".parse::<How>(), Ok(How::EqHist));
    assert_eq!("EQ-HIST".parse::<How>(), Ok(How::EqHist));
    assert_eq!("cbrt".parse::<How>(), Ok(How::Cbrt));
    let e = "sqrt".parse::<How>().expect_err("unknown");
    assert_eq!(
        e.to_string(),
        "unknown shading method 'sqrt'; valid methods: linear, log, cbrt, eq_hist"
    );
    assert_eq!(How::Log.to_string(), "log");
}

#[test]
fn same_output_regardless_of_thread_count() {
    let n = 300 * 200;
    let values: Vec<u32> = (0..n as u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 20) % 97)
        .collect();
    let agg = agg_2d(300, 200, AggValues::U32(values));
    let o = ShadeOptions {
        dynspread: Some(Dynspread::default()),
        ..ShadeOptions::default()
    };
    let run = |threads| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("pool")
            .install(|| shade(&agg, &o).expect("shade"))
    };
    assert_eq!(run(1), run(4));
}

/// Pseudo-random counts with empty cells and a long tail.
fn random_counts(n: usize, seed: u64, scale: u64) -> Vec<u32> {
    let mut s = seed;
    (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let r = s >> 33;
            if r.is_multiple_of(3) {
                0
            } else {
                ((r % scale) * (r % scale) / (1 + r % 89)) as u32
            }
        })
        .collect()
}

#[test]
fn lookup_tables_reproduce_cell_by_cell_shading() {
    for (seed, scale) in [(1, 30), (2, 300), (3, 3000)] {
        let agg = agg_2d(
            200,
            150,
            AggValues::U32(random_counts(200 * 150, seed, scale)),
        );
        for how in [How::Linear, How::Log, How::Cbrt, How::EqHist] {
            for (single, span, rescale) in [
                (None, None, false),
                (None, None, true),
                (Some(RED), None, false),
                (None, Some((3.0, 400.5)), false),
                (Some(BLUE), Some((0.5, 40.0)), false),
            ] {
                if how == How::EqHist && span.is_some() {
                    continue;
                }
                let o = ShadeOptions {
                    how,
                    single_color: single,
                    span,
                    rescale_discrete_levels: rescale,
                    ..ShadeOptions::default()
                };
                let fast = shade(&agg, &o).expect("shade");
                let slow = interpolate::interpolate_cells(&agg, &o).expect("shade");
                assert_eq!(fast, slow, "{how} {single:?} {span:?} {rescale}");
            }
        }
    }
}

#[test]
fn categorical_shortcuts_reproduce_float_mixing() {
    for (ncat, scale) in [(3, 20), (5, 3000), (9, 60000)] {
        let values = random_counts(120 * 80 * ncat, ncat as u64, scale);
        let agg = agg_cat(120, 80, ncat, AggValues::U32(values));
        for how in [How::Linear, How::Log, How::Cbrt, How::EqHist] {
            for rescale in [false, true] {
                let o = ShadeOptions {
                    how,
                    rescale_discrete_levels: rescale,
                    ..ShadeOptions::default()
                };
                let key = o.color_key_colors();
                let fast = colorize::colorize_with(&agg, &key[..ncat], &o, true).expect("shade");
                let slow = colorize::colorize_with(&agg, &key[..ncat], &o, false).expect("shade");
                assert_eq!(fast, slow, "{ncat} categories, {how}, rescale {rescale}");
            }
        }
    }
}
