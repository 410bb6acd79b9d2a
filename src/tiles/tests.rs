use std::sync::Arc;

use arrow_array::{Float64Array, RecordBatch};
use arrow_schema::{DataType, Field, Schema};
use bytes::Bytes;
use parquet::arrow::ArrowWriter;

use super::*;

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
