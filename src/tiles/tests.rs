use std::sync::Arc;

use arrow_array::{Float64Array, RecordBatch};
use arrow_schema::{DataType, Field, Schema};
use bytes::Bytes;
use parquet::arrow::ArrowWriter;

use super::*;
use crate::aggregate::PointShape;

/// An in-memory Parquet source with f64 columns `x` and `y`.
fn points(xs: &[f64], ys: &[f64]) -> Source {
    let schema = Arc::new(Schema::new(vec![
        Field::new("x", DataType::Float64, false),
        Field::new("y", DataType::Float64, false),
    ]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(Float64Array::from(xs.to_vec())),
            Arc::new(Float64Array::from(ys.to_vec())),
        ],
    )
    .expect("batch");
    let mut buf = Vec::new();
    let mut w = ArrowWriter::try_new(&mut buf, schema, None).expect("writer");
    w.write(&batch).expect("write");
    w.close().expect("close");
    Source::from_bytes(Bytes::from(buf), "points").expect("source")
}

fn count(agg: &Aggregate) -> u64 {
    match &agg.values {
        AggValues::U32(v) => v.iter().map(|&c| u64::from(c)).sum(),
        other => panic!("not a count: {other:?}"),
    }
}

#[test]
fn datashader_new_york_tile() {
    // MercatorTileDefinition(...).meters_to_tile(-8243206.93436,
    // 4968192.04221, 12) == (1205, 1540) in Datashader 0.19.
    let t = tile_of(-8243206.93436, 4968192.04221, 12).expect("inside");
    assert_eq!((t.z, t.x, t.y), (12, 1205, 1540));
    // get_tile_meters(1205, 1540, 12), bit for bit.
    let ((x0, x1), (y0, y1)) = t.bounds();
    assert_eq!(x0, -8247861.097294414);
    assert_eq!(y0, 4960457.390384041);
    assert_eq!(x1, -8238077.157673912);
    assert_eq!(y1, 4970241.330004543);
    let ((x0, x1), (y0, y1)) = TileId::new(5, 5, 11).expect("tile").bounds();
    assert_eq!(
        (x0, y0, x1, y1),
        (
            -13775786.98287836,
            5009377.088486556,
            -12523442.711454034,
            6261721.359910883
        )
    );
    let ((x0, x1), (y0, y1)) = TileId::new(0, 0, 0).expect("tile").bounds();
    assert_eq!((x0, y0), (-20037508.34, -20037508.34));
    assert_eq!((x1, y1), (20037508.345578488, 20037508.345578488));
}

#[test]
fn addresses_are_checked() {
    assert!(TileId::new(3, 7, 7).is_ok());
    assert_eq!(
        TileId::new(3, 8, 0),
        Err(TileAddressError::OutOfRange {
            z: 3,
            x: 8,
            y: 0,
            max: 7
        })
    );
    assert_eq!(TileId::new(31, 0, 0), Err(TileAddressError::Zoom { z: 31 }));
    assert!(TileId::new(30, (1 << 30) - 1, 0).is_ok());
}

#[test]
fn tile_of_agrees_with_bounds() {
    for z in [0u8, 1, 5, 12, 20, 30] {
        for &(mx, my) in &[
            (0.0, 0.0),
            (-20037508.34, -20037508.34),
            (20037508.345, 20037508.345),
            (-8243206.93436, 4968192.04221),
            (12345.678, -98765.4321),
        ] {
            let t = tile_of(mx, my, z).expect("inside the world");
            let ((x0, x1), (y0, y1)) = t.bounds();
            assert!(x0 <= mx && (mx < x1 || t.at_east_edge()), "{t} {mx}");
            assert!(y0 <= my && (my < y1 || t.at_north_edge()), "{t} {my}");
        }
    }
    assert_eq!(tile_of(-20037508.35, 0.0, 3), None);
    assert_eq!(tile_of(0.0, f64::NAN, 3), None);
}

#[test]
fn shared_edges_count_once() {
    // Points exactly on tile edges and corners at zoom 2, on the world's
    // edges, and in the middle of tiles.
    let mut xs = Vec::new();
    let mut ys = Vec::new();
    let (wlo, whi) = world_range(2);
    let edges: Vec<f64> = (0..=4)
        .map(|i| TileId::new(2, i.min(3), 0).expect("tile").bounds().0 .0)
        .chain([whi, 1.0, -7e6])
        .collect();
    for &x in &edges {
        for &y in &edges {
            xs.push(x);
            ys.push(y);
        }
    }
    xs.push(wlo);
    ys.push(whi);
    let n = xs.len() as u64;
    let source = points(&xs, &ys);
    let layer = TileLayer::new().resolve(&source).expect("layer");
    for z in 0..=3u8 {
        let side = tiles_per_side(z);
        let mut total = 0;
        for y in 0..side {
            for x in 0..side {
                let t = TileId::new(u32::from(z), x, y).expect("tile");
                total += count(&aggregate_tile(&source, &layer, t, 256).expect("tile"));
            }
        }
        assert_eq!(total, n, "zoom {z}");
    }
}

#[test]
fn a_zoom_level_sums_to_the_sample() {
    let source = Source::sample().expect("sample");
    let layer = TileLayer::new().resolve(&source).expect("layer");
    let extent = layer.data_extent(&source).expect("extent");
    let tiles = tiles_covering(extent.0, extent.1, 4);
    assert!(tiles.len() > 4, "{}", tiles.len());
    let mut total = 0;
    let mut blank = 0;
    for t in &tiles {
        let agg = aggregate_tile(&source, &layer, *t, 256).expect("tile");
        blank += usize::from(is_blank(&agg));
        total += count(&agg);
    }
    assert_eq!(total, source.num_rows());
    assert!(blank < tiles.len());
}

#[test]
fn lnglat_layers_project_like_datashader() {
    let lon = [-74.0, -73.99, 2.35, -122.42];
    let lat = [40.71, 40.75, 48.86, 37.77];
    let deg = points(&lon, &lat);
    let (mx, my): (Vec<f64>, Vec<f64>) = lon
        .iter()
        .zip(&lat)
        .map(|(&a, &b)| mercator::lnglat_to_meters(a, b))
        .unzip();
    let met = points(&mx, &my);
    let mut layer = TileLayer::new();
    layer.lnglat = true;
    let layer = layer.resolve(&deg).expect("layer");
    let plain = TileLayer::new().resolve(&met).expect("layer");
    for z in [0u8, 3, 9] {
        for (&x, &y) in mx.iter().zip(&my) {
            let t = tile_of(x, y, z).expect("inside");
            let a = aggregate_tile(&deg, &layer, t, 256).expect("deg");
            let b = aggregate_tile(&met, &plain, t, 256).expect("met");
            assert_eq!(a.values, b.values);
            assert!(count(&a) >= 1);
        }
    }
    let ((x0, x1), (y0, y1)) = layer.data_extent(&deg).expect("extent");
    assert_eq!((x0, x1), (mx[3], mx[2]));
    assert_eq!((y0, y1), (my[3], my[2]));
}

#[test]
fn zoom_span_covers_every_tile() {
    let source = Source::sample().expect("sample");
    let layer = TileLayer::new().resolve(&source).expect("layer");
    let extent = layer.data_extent(&source).expect("extent");
    let z = 3;
    let (lo, hi) = zoom_span(&source, &layer, extent, z)
        .expect("span")
        .expect("data");
    let mut max = 0.0f64;
    for t in tiles_covering(extent.0, extent.1, z) {
        let agg = aggregate_tile(&source, &layer, t, 256).expect("tile");
        if let Some((_, h)) = value_range(&agg) {
            max = max.max(h);
        }
    }
    assert_eq!(lo, 0.0);
    assert_eq!(hi, max);
}

/// An in-memory Parquet source with the f64 columns `cols`.
fn table(cols: &[(&str, Vec<f64>)]) -> Source {
    table_in_groups(cols, usize::MAX)
}

/// [`table`] in row groups of `group` rows.
fn table_in_groups(cols: &[(&str, Vec<f64>)], group: usize) -> Source {
    let schema = Arc::new(Schema::new(
        cols.iter()
            .map(|(n, _)| Field::new(*n, DataType::Float64, true))
            .collect::<Vec<_>>(),
    ));
    let arrays = cols
        .iter()
        .map(|(_, v)| Arc::new(Float64Array::from(v.clone())) as arrow_array::ArrayRef)
        .collect();
    let batch = RecordBatch::try_new(schema.clone(), arrays).expect("batch");
    let mut buf = Vec::new();
    let props = parquet::file::properties::WriterProperties::builder()
        .set_max_row_group_row_count(Some(group))
        .build();
    let mut w = ArrowWriter::try_new(&mut buf, schema, Some(props)).expect("writer");
    w.write(&batch).expect("write");
    w.close().expect("close");
    Source::from_bytes(Bytes::from(buf), "table").expect("source")
}

/// Segments between points spread over the zoom-0 world, one per row.
fn od_segments(n: usize) -> Source {
    let (lo, hi) = world_range(0);
    let at = |f: f64| lo + (hi - lo) * (0.05 + 0.9 * f.fract().abs());
    let k = |i: usize, a: f64| at(i as f64 * a + 0.31);
    table(&[
        ("ox", (0..n).map(|i| k(i, 0.618_034)).collect()),
        ("oy", (0..n).map(|i| k(i, 0.414_214)).collect()),
        ("dx", (0..n).map(|i| k(i, 0.732_051)).collect()),
        ("dy", (0..n).map(|i| k(i, 0.236_068)).collect()),
    ])
}

fn od_layer(width: f64) -> TileLayer {
    let req = AggregateRequest::new(1, 1)
        .with_row_lines(&["ox", "dx"], &["oy", "dy"])
        .with_line_width(width);
    TileLayer::new().with_glyph_of(&req)
}

/// The cells of a tile's aggregate as f64, NaN and 0 alike as empty.
fn drawn(agg: &Aggregate) -> Vec<f64> {
    (0..agg.values.len())
        .map(|i| agg.values.get_f64(i))
        .map(|v| if v.is_nan() { 0.0 } else { v })
        .collect()
}

#[test]
fn a_plain_line_tile_is_datashaders_canvas_over_the_tile() {
    let source = od_segments(40);
    for layer in [
        od_layer(0.0),
        TileLayer::new().with_glyph_of(&AggregateRequest::new(1, 1).with_area("ox", "oy", None)),
    ] {
        let layer = layer.resolve(&source).expect("layer");
        for t in [(2, 1, 1), (2, 2, 1), (3, 4, 3), (1, 0, 0)] {
            let tile = TileId::new(t.0, t.1, t.2).expect("tile");
            let got = aggregate_tile(&source, &layer, tile, 64).expect("tile");
            let ((x0, x1), (y0, y1)) = tile.bounds();
            let req = layer
                .request(((x0, x1), (y0, y1)), 64)
                .with_glyph_spec(layer.shape.clone());
            let want = crate::aggregate::aggregate(&source, &req).expect("canvas");
            assert_eq!(got.values, want.values, "tile {tile}");
        }
    }
}

/// Whether the drawn pixels of one line over every tile of zoom `z`,
/// placed side by side, are one 8-connected run.
fn connected_across_tiles(source: &Source, layer: &TileLayer, z: u8, size: usize) -> bool {
    let n = tiles_per_side(z) as usize;
    let side = n * size;
    let mut on = vec![false; side * side];
    for ty in 0..n {
        for tx in 0..n {
            let tile = TileId::new(u32::from(z), tx as u64, ty as u64).expect("tile");
            let agg = aggregate_tile(source, layer, tile, size).expect("tile");
            for (i, v) in drawn(&agg).into_iter().enumerate() {
                if v > 0.0 {
                    // Row 0 of an aggregate is its south edge.
                    let (row, col) = (i / size, i % size);
                    let gy = ty * size + (size - 1 - row);
                    on[gy * side + tx * size + col] = true;
                }
            }
        }
    }
    let Some(start) = on.iter().position(|&b| b) else {
        return false;
    };
    let mut seen = vec![false; on.len()];
    let mut stack = vec![start];
    seen[start] = true;
    while let Some(p) = stack.pop() {
        let (y, x) = ((p / side) as i64, (p % side) as i64);
        for dy in -1..=1 {
            for dx in -1..=1 {
                let (ny, nx) = (y + dy, x + dx);
                if ny < 0 || nx < 0 || ny >= side as i64 || nx >= side as i64 {
                    continue;
                }
                let q = ny as usize * side + nx as usize;
                if on[q] && !seen[q] {
                    seen[q] = true;
                    stack.push(q);
                }
            }
        }
    }
    on.iter().zip(&seen).all(|(&o, &s)| !o || s)
}

#[test]
fn a_line_is_continuous_across_tile_edges() {
    let (lo, hi) = world_range(0);
    let span = hi - lo;
    // Steep, shallow, diagonal and axis-parallel segments, some ending
    // exactly on a tile edge.
    let cases = [
        (0.10, 0.20, 0.90, 0.70),
        (0.05, 0.51, 0.95, 0.49),
        (0.48, 0.02, 0.53, 0.97),
        (0.125, 0.125, 0.875, 0.875),
        (0.25, 0.30, 0.25, 0.80),
        (0.20, 0.375, 0.70, 0.375),
        (0.5, 0.1, 0.9, 0.5),
    ];
    for (ox, oy, dx, dy) in cases {
        let source = table(&[
            ("ox", vec![lo + ox * span]),
            ("oy", vec![lo + oy * span]),
            ("dx", vec![lo + dx * span]),
            ("dy", vec![lo + dy * span]),
        ]);
        for width in [0.0, 1.0, 3.0] {
            let layer = od_layer(width).resolve(&source).expect("layer");
            for z in [1, 2, 3] {
                assert!(
                    connected_across_tiles(&source, &layer, z, 32),
                    "segment {ox},{oy} -> {dx},{dy} width {width} breaks at zoom {z}"
                );
            }
        }
    }
}

#[test]
fn antialiased_tiles_match_one_canvas_over_them() {
    // Two tiles side by side shade as one canvas over both would: the
    // stroke of a line near their shared edge reaches into both.
    let source = od_segments(60);
    for width in [1.0, 2.5] {
        let layer = od_layer(width).resolve(&source).expect("layer");
        let (a, b) = (
            TileId::new(2, 1, 1).expect("tile"),
            TileId::new(2, 2, 1).expect("tile"),
        );
        let size = 64;
        let (ta, tb) = (
            drawn(&aggregate_tile(&source, &layer, a, size).expect("a")),
            drawn(&aggregate_tile(&source, &layer, b, size).expect("b")),
        );
        let ((x0, _), (y0, y1)) = a.bounds();
        let ((_, x1), _) = b.bounds();
        let both = aggregate_bounds(
            &source,
            &layer,
            ((x0, x1), (y0, y1)),
            (2 * size, size),
            (true, true),
        )
        .expect("both");
        let both = drawn(&both);
        let mut worst = 0f64;
        let mut covered = 0;
        for row in 0..size {
            for col in 0..2 * size {
                let tile = if col < size { &ta } else { &tb };
                let got = tile[row * size + col % size];
                let want = both[row * 2 * size + col];
                worst = worst.max((got - want).abs());
                covered += usize::from(want > 0.0);
            }
        }
        assert!(covered > 100, "the lines cross the tiles");
        assert!(
            worst < 1e-4,
            "width {width}: tiles differ from one canvas by {worst}"
        );
    }
}

#[test]
fn line_layers_write_pyramids() {
    let source = od_segments(200);
    let layer = od_layer(1.0);
    let dir = tempfile::tempdir().expect("dir");
    let out = pyramid::PyramidOutput::Directory(dir.path().join("t"));
    let opts = pyramid::PyramidOptions::default()
        .with_zooms(0, 2)
        .with_tile_size(64);
    let summary =
        pyramid::write_pyramid(&source, &layer, &out, &opts, &|_, _, _| {}).expect("pyramid");
    assert_eq!(summary.zooms.len(), 3);
    assert!(summary.zooms.iter().all(|z| z.written > 0));
    // A line layer with a reduction it cannot take fails before writing.
    let bad = layer.with_reduction("var:ox".parse().expect("spec"));
    let out = pyramid::PyramidOutput::Directory(dir.path().join("bad"));
    let err = pyramid::write_pyramid(&source, &bad, &out, &opts, &|_, _, _| {}).expect_err("var");
    assert!(err.to_string().contains("antialiasing"), "{err}");
    assert!(!dir.path().join("bad").exists());
}

#[test]
fn line_tiles_skip_row_groups_whose_lines_are_all_beyond_one_edge() {
    // Segments sorted west to east, in row groups of 50: a tile reads only
    // the groups that reach it, and draws what reading them all draws.
    let (lo, hi) = world_range(0);
    let n = 1000;
    let x: Vec<f64> = (0..n)
        .map(|i| lo + (hi - lo) * (i as f64 + 0.5) / n as f64)
        .collect();
    let cols = [
        ("ox", x.clone()),
        (
            "oy",
            (0..n)
                .map(|i| lo + (hi - lo) * ((i * 37 % 101) as f64 / 101.0))
                .collect(),
        ),
        ("dx", x.iter().map(|v| v + (hi - lo) * 0.01).collect()),
        (
            "dy",
            (0..n)
                .map(|i| lo + (hi - lo) * ((i * 53 % 97) as f64 / 97.0))
                .collect(),
        ),
    ];
    let (grouped, whole) = (table_in_groups(&cols, 50), table(&cols));
    for glyph in [
        AggregateRequest::new(1, 1).with_row_lines(&["ox", "dx"], &["oy", "dy"]),
        AggregateRequest::new(1, 1)
            .with_row_lines(&["ox", "dx"], &["oy", "dy"])
            .with_line_width(2.0),
        AggregateRequest::new(1, 1).with_row_areas(
            [("ox", "oy"), ("dx", "dy")].map(|(x, y)| {
                (
                    crate::aggregate::Coord::Column(x.into()),
                    crate::aggregate::Coord::Column(y.into()),
                )
            }),
            [],
        ),
    ] {
        let layer = TileLayer::new()
            .with_glyph_of(&glyph)
            .resolve(&grouped)
            .expect("layer");
        for t in [(2, 1, 1), (3, 6, 2), (1, 0, 1)] {
            let tile = TileId::new(t.0, t.1, t.2).expect("tile");
            let got = aggregate_tile(&grouped, &layer, tile, 64).expect("grouped");
            let want = aggregate_tile(&whole, &layer, tile, 64).expect("whole");
            // Antialiased coverage adds in float32 and the row groups
            // group the additions differently: equal within its rounding.
            let (g, w) = (drawn(&got), drawn(&want));
            let off = g
                .iter()
                .zip(&w)
                .filter(|(a, b)| (*a - *b).abs() > 1e-5 * b.abs())
                .count();
            assert_eq!(off, 0, "{:?} tile {tile}: {off} cells differ", glyph.glyph);
            if !matches!(got.values, AggValues::F32(_)) {
                assert!(got.values == want.values, "{:?} tile {tile}", glyph.glyph);
            }
            let req = layer.request(tile.bounds(), 64);
            let plan = AggregationPlan::new(&grouped, &req).expect("plan");
            let read = plan.units(&grouped).len();
            assert!(
                read < 20 && read > 0,
                "{:?} tile {tile} reads {read} of 20 groups",
                glyph.glyph
            );
        }
    }
}

#[test]
fn points_with_a_radius_join_across_tile_edges() {
    // Points scattered over the world, some on the tiles' shared edges.
    let (lo, hi) = world_range(0);
    let n = 400;
    let at = |i: usize, a: f64| lo + (hi - lo) * (i as f64 * a + 0.13).fract();
    let mut xs: Vec<f64> = (0..n).map(|i| at(i, 0.618_034)).collect();
    let ys: Vec<f64> = (0..n).map(|i| at(i, 0.414_214)).collect();
    xs[0] = 0.0;
    xs[1] = 0.0;
    let source = table(&[("x", xs), ("y", ys)]);
    let size = 32;
    for (radius, shape) in [(2.5, PointShape::Circle), (1.0, PointShape::Square)] {
        let req = AggregateRequest::new(1, 1)
            .with_point_radius(radius)
            .with_point_shape(shape);
        let layer = TileLayer::new()
            .with_glyph_of(&req)
            .resolve(&source)
            .expect("layer");
        // The four zoom-1 tiles side by side are the zoom-0 tile at twice
        // the size: every disc that crosses an edge is in both tiles.
        let whole = aggregate_tile(
            &source,
            &layer,
            TileId::new(0, 0, 0).expect("tile"),
            2 * size,
        )
        .expect("tile");
        let mut stitched = vec![0.0; 4 * size * size];
        for ty in 0..2u64 {
            for tx in 0..2u64 {
                let tile = TileId::new(1, tx, ty).expect("tile");
                let agg = aggregate_tile(&source, &layer, tile, size).expect("tile");
                for (i, v) in drawn(&agg).into_iter().enumerate() {
                    // Row 0 of an aggregate is its south edge; tile row 0
                    // is the north one.
                    let (row, col) = (i / size, i % size);
                    let gy = (1 - ty as usize) * size + row;
                    stitched[gy * 2 * size + tx as usize * size + col] = v;
                }
            }
        }
        assert_eq!(stitched, drawn(&whole), "radius {radius} {shape}");
        let total: f64 = stitched.iter().sum();
        // A disc covers about its area in pixels: pi r^2, or (2r)^2.
        assert!(total > 3.0 * n as f64, "{total}");
    }
}
