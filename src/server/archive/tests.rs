//! Archive serving: the pyramid writer's `.pmtiles` and `.mbtiles` served
//! through the routes give the directory pyramid's bytes, with the live
//! server's headers and answers; bad files are refused when opened; the
//! connection limits hold.

use std::path::Path as FsPath;

use axum::body::{to_bytes, Body};
use axum::http::{header, Request, StatusCode};
use tower::ServiceExt;

use super::*;
use crate::shade::How;
use crate::source::Source;
use crate::tiles::pyramid::{write_pyramid, PyramidOptions, PyramidOutput, PyramidSummary};
use crate::tiles::{extent_lnglat, TileLayer};

async fn call(s: &Arc<ArchiveServer>, req: Request<Body>) -> (StatusCode, HeaderMap, Vec<u8>) {
    let resp = archive_router(s.clone())
        .oneshot(req)
        .await
        .expect("response");
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = to_bytes(resp.into_body(), 64 << 20).await.expect("body");
    (status, headers, body.to_vec())
}

async fn get(s: &Arc<ArchiveServer>, uri: &str) -> (StatusCode, HeaderMap, Vec<u8>) {
    call(s, Request::get(uri).body(Body::empty()).expect("request")).await
}

fn pyramid(out: &PyramidOutput, max_zoom: u8) -> PyramidSummary {
    let opts = PyramidOptions::default()
        .with_zooms(0, max_zoom)
        .with_shade(crate::shade::ShadeOptions::default().with_how(How::Log));
    write_pyramid(
        &Source::sample().expect("sample"),
        &TileLayer::new(),
        out,
        &opts,
        &|_, _, _| {},
    )
    .expect("pyramid")
}

/// Every `z/x/y.png` of a directory pyramid.
fn directory_tiles(dir: &FsPath) -> Vec<(TileId, Vec<u8>)> {
    let mut out = Vec::new();
    for z in std::fs::read_dir(dir).expect("ls") {
        let z = z.expect("entry").path();
        if !z.is_dir() {
            continue;
        }
        for x in std::fs::read_dir(&z).expect("ls") {
            let x = x.expect("entry").path();
            for y in std::fs::read_dir(&x).expect("ls") {
                let y = y.expect("entry").path();
                let num = |p: &FsPath| -> u64 {
                    p.file_stem()
                        .and_then(|s| s.to_str())
                        .and_then(|s| s.parse().ok())
                        .expect("number")
                };
                let t = TileId::new(num(&z) as u32, num(&x), num(&y)).expect("tile");
                out.push((t, std::fs::read(&y).expect("png")));
            }
        }
    }
    out.sort_by_key(|(t, _)| (t.z, t.x, t.y));
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn archives_serve_the_directory_pyramids_bytes_with_the_live_headers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let summary = pyramid(&PyramidOutput::Directory(d.join("pyr")), 3);
    let want = directory_tiles(&d.join("pyr"));
    assert_eq!(want.len(), summary.tiles);
    let held: std::collections::HashSet<TileId> = want.iter().map(|(t, _)| *t).collect();
    let bounds = extent_lnglat(
        TileLayer::new()
            .data_extent(&Source::sample().expect("sample"))
            .expect("extent"),
    );
    for name in ["pyr.pmtiles", "pyr.mbtiles"] {
        let path = d.join(name);
        pyramid(&PyramidOutput::from_path(&path), 3);
        let archive = TileArchive::open(&path).expect("open");
        let info = archive.info().clone();
        assert_eq!((info.min_zoom, info.max_zoom), (0, 3), "{name}");
        assert_eq!(info.content_type, "image/png");
        assert_eq!(info.tile_size, Some(256));
        if info.format == ArchiveFormat::Pmtiles {
            assert_eq!(info.tiles, Some(summary.tiles as u64));
        }
        let s = Arc::new(ArchiveServer::new(archive));

        // Every tile: the directory's bytes, with a strong ETag of them.
        for (t, bytes) in &want {
            let uri = format!("/tiles/{}/{}/{}.png", t.z, t.x, t.y);
            let (st, h, body) = get(&s, &uri).await;
            assert_eq!(st, StatusCode::OK, "{name} {uri}");
            assert_eq!(&body, bytes, "{name} {uri}");
            assert_eq!(h[header::CONTENT_TYPE], "image/png");
            assert_eq!(h[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");
            assert!(h[header::CACHE_CONTROL]
                .to_str()
                .expect("ascii")
                .contains("max-age"));
            assert_eq!(h[header::ETAG], super::super::etag(bytes).as_str());
        }
        // Conditional and HEAD requests; @2x is the archive's own tile.
        let (t, bytes) = &want[want.len() / 2];
        let uri = format!("/tiles/{}/{}/{}.png", t.z, t.x, t.y);
        let tag = super::super::etag(bytes);
        for inm in [tag.clone(), format!("W/{tag}"), "*".into()] {
            let req = Request::get(&uri)
                .header(header::IF_NONE_MATCH, inm.as_str())
                .body(Body::empty())
                .expect("request");
            let (st, h, body) = call(&s, req).await;
            assert_eq!(st, StatusCode::NOT_MODIFIED, "{inm}");
            assert!(body.is_empty());
            assert_eq!(h[header::ETAG], tag.as_str());
        }
        let (st, h, body) = call(&s, Request::head(&uri).body(Body::empty()).expect("r")).await;
        assert_eq!(st, StatusCode::OK);
        assert!(body.is_empty());
        assert_eq!(h[header::CONTENT_LENGTH], bytes.len().to_string().as_str());
        let (st, _, body) = get(&s, &format!("/tiles/{}/{}/{}@2x.png", t.z, t.x, t.y)).await;
        assert_eq!((st, &body), (StatusCode::OK, bytes));

        // A tile the archive lacks, inside its zooms: 204.
        let absent = (0..8u64)
            .flat_map(|x| (0..8u64).map(move |y| (x, y)))
            .map(|(x, y)| TileId::new(3, x, y).expect("tile"))
            .find(|t| !held.contains(t))
            .expect("an empty zoom-3 tile");
        let (st, h, body) = get(&s, &format!("/tiles/{absent}.png")).await;
        assert_eq!(st, StatusCode::NO_CONTENT, "{name} {absent}");
        assert!(body.is_empty());
        assert_eq!(h[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");

        // Overrides cannot re-render: 400 saying so; so are bad addresses.
        for q in ["agg=sum:val", "how=linear", "cmap=gray", "span=0,5"] {
            let (st, _, body) = get(&s, &format!("{uri}?{q}")).await;
            assert_eq!(st, StatusCode::BAD_REQUEST, "{q}");
            let text = String::from_utf8_lossy(&body);
            assert!(text.contains("pre-rendered archive"), "{text}");
            assert_eq!(text.trim_end().lines().count(), 1);
        }
        let (st, _, body) = get(&s, &format!("{uri}?v=2")).await;
        assert_eq!(
            (st, &body),
            (StatusCode::OK, bytes),
            "other keys are ignored"
        );
        for bad in [
            "/tiles/4/0/0.png",
            "/tiles/2/4/0.png",
            "/tiles/a/0/0.png",
            "/tiles/1/0/0.jpg",
            "/tiles/31/0/0.png",
        ] {
            let (st, h, _) = get(&s, bad).await;
            assert_eq!(st, StatusCode::BAD_REQUEST, "{bad}");
            assert_eq!(h[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");
        }
        assert_eq!(get(&s, "/nope").await.0, StatusCode::NOT_FOUND);

        // TileJSON from the archive's metadata.
        let req = Request::get("/tilejson.json")
            .header(header::HOST, "maps.example:9000")
            .body(Body::empty())
            .expect("request");
        let (st, _, body) = call(&s, req).await;
        assert_eq!(st, StatusCode::OK);
        let tj: Value = serde_json::from_slice(&body).expect("json");
        assert_eq!(tj["tilejson"], "3.0.0");
        assert_eq!(tj["scheme"], "xyz");
        assert_eq!(tj["minzoom"], 0);
        assert_eq!(tj["maxzoom"], 3);
        assert_eq!(
            tj["tiles"][0],
            "http://maps.example:9000/tiles/{z}/{x}/{y}.png"
        );
        assert_eq!(tj["name"], "pointillist");
        assert_eq!(tj["attribution"], "rendered by pointillist");
        for (i, b) in bounds.iter().enumerate() {
            let got = tj["bounds"][i].as_f64().expect("number");
            // PMTiles keeps degrees to 1e-7.
            assert!((got - b).abs() < 1e-7, "{name} bounds[{i}] {got} vs {b}");
        }
        let centre = |i: usize| tj["center"][i].as_f64().expect("number");
        assert!((centre(0) - (bounds[0] + bounds[2]) / 2.0).abs() < 1e-6);
        assert!((centre(1) - (bounds[1] + bounds[3]) / 2.0).abs() < 1e-6);

        // The legend the pyramid stored: its spans per zoom.
        let (st, _, body) = get(&s, "/legend.json").await;
        assert_eq!(st, StatusCode::OK);
        let legend: Value = serde_json::from_slice(&body).expect("json");
        assert_eq!(legend["agg"], "count");
        assert_eq!(legend["how"], "log");
        assert_eq!(legend["cmap"].as_array().map(Vec::len), Some(256));
        // The live legend's keys, for the viewer's colour bar.
        for key in ["single_color", "categories", "category_colors"] {
            assert!(
                legend.get(key).is_some_and(Value::is_null),
                "{key}: {legend}"
            );
        }
        let zooms = legend["zooms"].as_array().expect("zooms");
        assert_eq!(zooms.len(), summary.zooms.len());
        for (got, z) in zooms.iter().zip(&summary.zooms) {
            assert_eq!(got["zoom"], z.z);
            assert_eq!(got["tiles"], z.written);
            let span = z.span.expect("a count has a span");
            assert_eq!(got["span"], json!([span.0, span.1]));
        }
        assert_eq!(
            get(&s, "/legend.json?how=eq_hist").await.0,
            StatusCode::BAD_REQUEST
        );

        // Health, viewer, preflight.
        let (st, _, body) = get(&s, "/health").await;
        assert_eq!(st, StatusCode::OK);
        let h: Value = serde_json::from_slice(&body).expect("json");
        assert_eq!(h["status"], "ok");
        assert_eq!(h["format"], info.format.name());
        assert!(h["tiles_served"].as_u64() > Some(want.len() as u64));
        let (st, h, body) = get(&s, "/").await;
        assert_eq!(st, StatusCode::OK);
        assert!(h[header::CONTENT_TYPE]
            .to_str()
            .expect("ascii")
            .starts_with("text/html"));
        assert!(String::from_utf8_lossy(&body).contains("tilejson.json"));
        // The viewer hides the override controls for an archive.
        assert!(String::from_utf8_lossy(&body).contains(r#"{"archive":true}"#));
        let req = Request::options(&uri)
            .header(header::ORIGIN, "http://elsewhere.example")
            .header(header::ACCESS_CONTROL_REQUEST_METHOD, "GET")
            .body(Body::empty())
            .expect("request");
        let (st, h, _) = call(&s, req).await;
        assert!(st.is_success(), "{st}");
        assert_eq!(h[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");
    }
}

/// A file that is missing, of the wrong kind, truncated or damaged is
/// refused when opened, with a message naming it and what to do.
#[test]
fn bad_archives_are_refused_when_opened() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let open = |name: &str| {
        let e = TileArchive::open(&d.join(name)).expect_err(name);
        let text = e.to_string();
        assert!(text.contains(name), "{text}");
        assert!(!text.contains('\n'), "{text}");
        (e, text)
    };

    let (e, _) = open("missing.pmtiles");
    assert!(matches!(e, ServerError::ArchiveIo { .. }), "{e:?}");
    let (e, _) = open("missing.mbtiles");
    assert!(matches!(e, ServerError::ArchiveIo { .. }), "{e:?}");

    std::fs::write(d.join("text.mbtiles"), b"hello, this is not SQLite at all").expect("write");
    let (e, text) = open("text.mbtiles");
    assert!(
        matches!(
            e,
            ServerError::BadArchive {
                what: ArchiveProblem::NotSqlite,
                ..
            }
        ),
        "{e:?}"
    );
    assert!(text.contains("not an SQLite database"), "{text}");

    let conn = rusqlite::Connection::open(d.join("other.mbtiles")).expect("sqlite");
    conn.execute_batch("CREATE TABLE things (a INTEGER); INSERT INTO things VALUES (1);")
        .expect("table");
    drop(conn);
    let (e, _) = open("other.mbtiles");
    assert!(
        matches!(
            e,
            ServerError::BadArchive {
                what: ArchiveProblem::NoTilesTable,
                ..
            }
        ),
        "{e:?}"
    );

    std::fs::write(d.join("text.pmtiles"), b"not a pmtiles archive").expect("write");
    let (e, _) = open("text.pmtiles");
    assert!(
        matches!(
            e,
            ServerError::BadArchive {
                what: ArchiveProblem::NotPmtiles,
                ..
            }
        ),
        "{e:?}"
    );

    // A real archive, then cut short, then with its root directory spoilt.
    let path = d.join("good.pmtiles");
    let mut w = crate::output::PmtilesWriter::create(&path).expect("create");
    w.add_tile(0, 0, 0, b"world tile").expect("add");
    w.add_tile(1, 1, 0, b"a tile").expect("add");
    let meta = crate::output::PmtilesMetadata {
        max_zoom: 1,
        ..Default::default()
    };
    w.finish(&meta).expect("finish");
    let good = std::fs::read(&path).expect("read");
    let a = TileArchive::open(&path).expect("open");
    let t = |z, x, y| TileId::new(z, x, y).expect("tile");
    assert_eq!(a.tile(t(1, 1, 0)).expect("read"), Some(b"a tile".to_vec()));
    assert_eq!(a.tile(t(1, 0, 0)).expect("read"), None);
    for cut in [good.len() - 3, 150, 100] {
        std::fs::write(d.join("cut.pmtiles"), &good[..cut]).expect("write");
        let (e, text) = open("cut.pmtiles");
        assert!(
            matches!(
                e,
                ServerError::BadArchive {
                    what: ArchiveProblem::Truncated { .. },
                    ..
                }
            ),
            "{cut}: {e:?}"
        );
        assert!(text.contains("truncated"), "{text}");
    }
    let mut spoilt = good.clone();
    for b in &mut spoilt[127..137] {
        *b ^= 0x5a;
    }
    std::fs::write(d.join("spoilt.pmtiles"), &spoilt).expect("write");
    let (e, _) = open("spoilt.pmtiles");
    assert!(
        matches!(
            e,
            ServerError::BadArchive {
                what: ArchiveProblem::Damaged(_),
                ..
            }
        ),
        "{e:?}"
    );
    let mut v2 = good;
    v2[7] = 2;
    std::fs::write(d.join("v2.pmtiles"), &v2).expect("write");
    let (e, _) = open("v2.pmtiles");
    assert!(
        matches!(
            e,
            ServerError::BadArchive {
                what: ArchiveProblem::PmtilesVersion(2),
                ..
            }
        ),
        "{e:?}"
    );

    let e = TileArchive::open(&d.join("x.parquet")).expect_err("not an archive");
    assert!(
        matches!(
            e,
            ServerError::BadArchive {
                what: ArchiveProblem::UnknownExtension,
                ..
            }
        ),
        "{e:?}"
    );
}

/// `serve_archive` applies the connection limits: half-open clients are
/// dropped after the header timeout and counted, while a tile is answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_archive_applies_the_connection_limits() {
    use std::time::{Duration, Instant};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("small.mbtiles");
    let mut w = crate::output::MbtilesWriter::create(&path).expect("create");
    w.add_tile(0, 0, 0, b"world tile").expect("add");
    w.finish(&crate::output::MbtilesMetadata::default())
        .expect("finish");
    let s = Arc::new(ArchiveServer::new(TileArchive::open(&path).expect("open")));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let limits = ConnectionLimits::default()
        .with_header_timeout(Duration::from_millis(300))
        .with_idle_timeout(Duration::from_millis(600))
        .with_max_connections(16);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(serve_archive(listener, s.clone(), limits, async move {
        let _ = stopped.await;
    }));

    async fn read_all(c: &mut TcpStream) -> (Duration, Vec<u8>) {
        let t = Instant::now();
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            match tokio::time::timeout(Duration::from_secs(10), c.read(&mut buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) => return (t.elapsed(), got),
                Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
                Err(_) => panic!("the server kept the connection open for 10 s"),
            }
        }
    }

    let mut half = Vec::new();
    for _ in 0..5 {
        let mut c = TcpStream::connect(addr).await.expect("connect");
        c.write_all(b"GET /tiles/0/0/0.png HTTP/1.1\r\nHost: x\r\n")
            .await
            .expect("write");
        half.push(c);
    }
    let mut ok = TcpStream::connect(addr).await.expect("connect");
    ok.write_all(b"GET /tiles/0/0/0.png HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .expect("write");
    let (_, resp) = read_all(&mut ok).await;
    assert!(
        resp.starts_with(b"HTTP/1.1 200"),
        "{:?}",
        String::from_utf8_lossy(&resp)
    );
    assert!(resp.ends_with(b"world tile"));
    for c in &mut half {
        let (took, _) = read_all(c).await;
        assert!(took < Duration::from_secs(3), "half-open kept {took:?}");
    }
    let mut conns = Value::Null;
    for _ in 0..100 {
        let mut c = TcpStream::connect(addr).await.expect("connect");
        c.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .expect("write");
        let (_, body) = read_all(&mut c).await;
        let text = String::from_utf8_lossy(&body);
        let json: Value =
            serde_json::from_str(text.split("\r\n\r\n").nth(1).expect("body")).expect("json");
        conns = json["connections"].clone();
        if conns["dropped_header_timeout"].as_u64() >= Some(5) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        conns["dropped_header_timeout"].as_u64() >= Some(5),
        "{conns}"
    );
    let _ = stop.send(());
    task.await.expect("join").expect("serve");
}
