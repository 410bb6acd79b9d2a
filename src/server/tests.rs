use axum::body::{to_bytes, Body};
use axum::http::Request;
use tower::ServiceExt;

use super::*;

fn server() -> Arc<TileServer> {
    let config = ServerConfig {
        max_zoom: 14,
        span_max_zoom: 6,
        ..ServerConfig::default()
    };
    Arc::new(TileServer::new(Source::sample().expect("sample"), config).expect("server"))
}

async fn call(s: &Arc<TileServer>, req: Request<Body>) -> (StatusCode, HeaderMap, Vec<u8>) {
    let resp = router(s.clone()).oneshot(req).await.expect("response");
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = to_bytes(resp.into_body(), 64 << 20).await.expect("body");
    (status, headers, body.to_vec())
}

async fn get(s: &Arc<TileServer>, uri: &str) -> (StatusCode, HeaderMap, Vec<u8>) {
    call(s, Request::get(uri).body(Body::empty()).expect("request")).await
}

/// A zoom-4 tile with sample points in it, and one without.
fn full_and_empty(s: &TileServer) -> (TileId, TileId) {
    let layer = s.config.layer.clone();
    let ext = s.extent();
    let mut full = None;
    for t in tiles::tiles_covering(ext.0, ext.1, 4) {
        let agg = tiles::aggregate_tile(&s.source, &layer, t, 256).expect("tile");
        if !tiles::is_blank(&agg) {
            full = Some(t);
            break;
        }
    }
    // The South Pacific: no sample point there.
    let empty = TileId::new(4, 1, 10).expect("tile");
    (full.expect("a tile with points"), empty)
}

fn png_size(b: &[u8]) -> (u32, u32) {
    assert_eq!(&b[..8], b"\x89PNG\r\n\x1a\n");
    let w = u32::from_be_bytes([b[16], b[17], b[18], b[19]]);
    let h = u32::from_be_bytes([b[20], b[21], b[22], b[23]]);
    (w, h)
}

#[tokio::test]
async fn tiles_etags_and_conditional_requests() {
    let s = server();
    let (full, empty) = full_and_empty(&s);
    let uri = format!("/tiles/{full}.png");
    let (st, h, body) = get(&s, &uri).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(h[header::CONTENT_TYPE], "image/png");
    assert_eq!(h[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");
    assert!(h[header::CACHE_CONTROL]
        .to_str()
        .expect("ascii")
        .contains("max-age"));
    assert_eq!(png_size(&body), (256, 256));
    let tag = h[header::ETAG].to_str().expect("ascii").to_string();
    assert!(tag.starts_with('"') && tag.ends_with('"'), "strong: {tag}");
    assert_eq!(tag, etag(&body));

    // Same bytes again (from the cache), same tag.
    let (_, h2, body2) = get(&s, &uri).await;
    assert_eq!(body2, body);
    assert_eq!(h2[header::ETAG], tag.as_str());

    for inm in [
        tag.clone(),
        format!("W/{tag}"),
        format!("\"x\", {tag}"),
        "*".into(),
    ] {
        let req = Request::get(&uri)
            .header(header::IF_NONE_MATCH, inm.as_str())
            .body(Body::empty())
            .expect("request");
        let (st, h, body) = call(&s, req).await;
        assert_eq!(st, StatusCode::NOT_MODIFIED, "{inm}");
        assert!(body.is_empty());
        assert_eq!(h[header::ETAG], tag.as_str());
    }
    let req = Request::get(&uri)
        .header(header::IF_NONE_MATCH, "\"other\"")
        .body(Body::empty())
        .expect("request");
    assert_eq!(call(&s, req).await.0, StatusCode::OK);

    // HEAD: headers, no body.
    let req = Request::head(&uri).body(Body::empty()).expect("request");
    let (st, h, body) = call(&s, req).await;
    assert_eq!(st, StatusCode::OK);
    assert!(body.is_empty());
    assert_eq!(h[header::ETAG], tag.as_str());

    // High-DPI: 512 pixels over the same bounds.
    let (st, _, body) = get(&s, &format!("/tiles/{full}@2x.png")).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(png_size(&body), (512, 512));

    // Empty tile: 204 with CORS, no body.
    let (st, h, body) = get(&s, &format!("/tiles/{empty}.png")).await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    assert!(body.is_empty());
    assert_eq!(h[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");

    // A second server renders the same bytes (deterministic output).
    let (_, _, again) = get(&server(), &uri).await;
    assert_eq!(again, body2);
}

#[tokio::test]
async fn overrides_change_the_tile_and_are_checked() {
    let s = server();
    let (full, _) = full_and_empty(&s);
    let base = get(&s, &format!("/tiles/{full}.png")).await.2;
    for q in [
        "how=eq_hist",
        "how=linear&cmap=viridis",
        "cmap=red",
        "span=0,5",
        "agg=count_cat:cat",
    ] {
        let (st, _, body) = get(&s, &format!("/tiles/{full}.png?{q}")).await;
        assert_eq!(st, StatusCode::OK, "{q}");
        assert_ne!(body, base, "{q}");
    }
    // Unknown parameters (cache busters) are ignored.
    assert_eq!(get(&s, &format!("/tiles/{full}.png?v=3")).await.2, base);
    for q in [
        "how=sideways",
        "cmap=nosuchmap",
        "span=5,1",
        "span=1",
        "span=0,inf",
        "agg=median:val",
        "agg=mean:nosuchcolumn",
    ] {
        let (st, h, body) = get(&s, &format!("/tiles/{full}.png?{q}")).await;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{q}");
        assert_eq!(h[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");
        let msg = String::from_utf8(body).expect("utf8");
        assert_eq!(msg.trim().lines().count(), 1, "{msg}");
    }
    let long = "x".repeat(MAX_OVERRIDE_LEN + 1);
    let (st, _, _) = get(&s, &format!("/tiles/{full}.png?cmap={long}")).await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn bad_addresses_and_unknown_paths() {
    let s = server();
    for uri in [
        "/tiles/31/0/0.png",
        "/tiles/15/0/0.png", // beyond max zoom 14
        "/tiles/2/4/0.png",
        "/tiles/2/0/4.png",
        "/tiles/2/-1/0.png",
        "/tiles/2/0/abc.png",
        "/tiles/2/0/0.jpg",
        "/tiles/2/0/0@3x.png",
        "/tiles/x/0/0.png",
        "/tiles/99999999999999999999/0/0.png",
        "/tiles/2/0/.png",
    ] {
        let (st, _, body) = get(&s, uri).await;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{uri}");
        assert!(!body.is_empty());
    }
    for uri in [
        "/nope",
        "/tiles/2/0",
        "/tiles/2/0/0/0.png",
        "/tiles/../../etc/passwd",
        "/tiles/%2e%2e/%2e%2e/etc/passwd",
        "/..%2f..%2fetc%2fpasswd",
        "/viewer.html",
    ] {
        let (st, h, _) = get(&s, uri).await;
        assert!(
            st == StatusCode::NOT_FOUND || st == StatusCode::BAD_REQUEST,
            "{uri}: {st}"
        );
        assert_eq!(h[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");
    }
    let req = Request::post("/tiles/0/0/0.png")
        .body(Body::empty())
        .expect("request");
    assert_eq!(call(&s, req).await.0, StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn metadata_viewer_health_and_preflight() {
    let s = server();
    let req = Request::get("/tilejson.json")
        .header(header::HOST, "example.test:9000")
        .body(Body::empty())
        .expect("request");
    let (st, h, body) = call(&s, req).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(h[header::CONTENT_TYPE], "application/json");
    let tj: serde_json::Value = serde_json::from_slice(&body).expect("json");
    assert_eq!(tj["tilejson"], "3.0.0");
    assert_eq!(tj["scheme"], "xyz");
    assert_eq!(
        tj["tiles"][0],
        "http://example.test:9000/tiles/{z}/{x}/{y}.png"
    );
    assert_eq!(tj["minzoom"], 0);
    assert_eq!(tj["maxzoom"], 14);
    let b: Vec<f64> = tj["bounds"]
        .as_array()
        .expect("bounds")
        .iter()
        .map(|v| v.as_f64().expect("number"))
        .collect();
    // The sample is census-like points over the contiguous US.
    assert!(
        b[0] < -100.0 && b[2] > -80.0 && b[1] > 20.0 && b[3] < 55.0,
        "{b:?}"
    );

    let (st, _, body) = get(&s, "/legend.json?z=3").await;
    assert_eq!(st, StatusCode::OK);
    let lg: serde_json::Value = serde_json::from_slice(&body).expect("json");
    assert_eq!(lg["how"], "log");
    assert_eq!(lg["agg"], "count");
    assert_eq!(lg["cmap"][0].as_str().map(str::len), Some(7));
    let z3 = &lg["zooms"][3];
    assert_eq!(z3["zoom"], 3);
    assert_eq!(z3["computed"], true);
    assert_eq!(z3["span"][0], 0.0);
    assert!(z3["span"][1].as_f64().expect("max") >= 1.0);
    assert_eq!(
        get(&s, "/legend.json?z=99").await.0,
        StatusCode::BAD_REQUEST
    );

    let (st, h, body) = get(&s, "/").await;
    assert_eq!(st, StatusCode::OK);
    assert!(h[header::CONTENT_TYPE]
        .to_str()
        .expect("ascii")
        .starts_with("text/html"));
    let html = String::from_utf8(body).expect("utf8");
    assert!(html.contains("/tilejson.json") && html.contains("/tiles/"));
    assert!(
        !html.contains("https://") && !html.contains("http://"),
        "no CDN"
    );
    assert!(!html.contains(r#""archive":true"#), "overrides are offered");

    let (st, _, body) = get(&s, "/health").await;
    assert_eq!(st, StatusCode::OK);
    let hv: serde_json::Value = serde_json::from_slice(&body).expect("json");
    assert_eq!(hv["status"], "ok");
    assert_eq!(hv["rows"], s.source.num_rows());

    let req = Request::options("/tiles/1/0/0.png")
        .header(header::ORIGIN, "http://elsewhere.test")
        .header(header::ACCESS_CONTROL_REQUEST_METHOD, "GET")
        .body(Body::empty())
        .expect("request");
    let (st, h, _) = call(&s, req).await;
    assert!(st.is_success(), "{st}");
    assert_eq!(h[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");
    assert_eq!(h[header::ACCESS_CONTROL_MAX_AGE], "86400");
    assert!(h[header::ACCESS_CONTROL_ALLOW_METHODS]
        .to_str()
        .expect("ascii")
        .contains("GET"));
}

#[tokio::test]
async fn cache_stays_within_its_bytes() {
    let config = ServerConfig {
        cache_bytes: 40_000,
        span_max_zoom: 4,
        ..ServerConfig::default()
    };
    let s = Arc::new(TileServer::new(Source::sample().expect("sample"), config).expect("server"));
    let ext = s.extent();
    for t in tiles::tiles_covering(ext.0, ext.1, 5) {
        let (st, _, _) = get(&s, &format!("/tiles/{t}.png")).await;
        assert!(st == StatusCode::OK || st == StatusCode::NO_CONTENT);
        s.cache.run_pending_tasks().await;
        assert!(s.cache.weighted_size() <= 40_000);
    }
    assert!(s.cache.entry_count() >= 1);
}

#[tokio::test]
async fn serves_over_tcp_and_shuts_down_gracefully() {
    use std::io::{Read, Write};
    let s = server();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(serve(listener, s, async {
        let _ = rx.await;
    }));
    let out = tokio::task::spawn_blocking(move || {
        let mut conn = std::net::TcpStream::connect(addr).expect("connect");
        conn.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .expect("write");
        let mut out = String::new();
        conn.read_to_string(&mut out).expect("read");
        out
    })
    .await
    .expect("client");
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");
    assert!(out.contains("\"status\":\"ok\""));
    tx.send(()).expect("signal");
    task.await.expect("join").expect("clean shutdown");
}

/// The sample, indexed (`pointillist index`) into row groups of 4096 rows.
fn indexed_sample() -> Source {
    static FILE: std::sync::OnceLock<(tempfile::TempDir, std::path::PathBuf)> =
        std::sync::OnceLock::new();
    let (_, path) = FILE.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("indexed.parquet");
        let opts = crate::index::IndexOptions {
            row_group_rows: 4096,
            ..crate::index::IndexOptions::default()
        };
        crate::index::build_index(&Source::sample().expect("sample"), &path, &opts).expect("index");
        (dir, path)
    });
    Source::open(&[path]).expect("open")
}

fn pyramid_server(pyramid: Option<u8>, span: Option<(f64, f64)>, bytes: usize) -> Arc<TileServer> {
    let mut config = ServerConfig {
        max_zoom: 14,
        span_max_zoom: 6,
        pyramid_max_zoom: pyramid,
        pyramid_bytes: bytes,
        ..ServerConfig::default()
    };
    config.shade.span = span;
    Arc::new(TileServer::new(indexed_sample(), config).expect("server"))
}

#[tokio::test]
async fn pyramid_tiles_are_the_tile_by_tile_renders() {
    let span = Some((0.0, 40.0));
    let with = pyramid_server(Some(4), span, 256 << 20);
    let without = pyramid_server(None, span, 256 << 20);
    let ext = with.extent();
    let mut compared = 0;
    for z in 0..=4u8 {
        assert!(with.level(z).expect("level").is_some(), "zoom {z} is held");
        assert!(without.level(z).expect("level").is_none());
        for t in tiles::tiles_covering(ext.0, ext.1, z) {
            let uri = format!("/tiles/{t}.png");
            let (a_status, _, a) = get(&with, &uri).await;
            let (b_status, _, b) = get(&without, &uri).await;
            assert_eq!(a_status, b_status, "{uri}");
            assert_eq!(a, b, "{uri}");
            compared += usize::from(a_status == StatusCode::OK);
        }
    }
    assert!(compared >= 10, "only {compared} non-empty tiles compared");
    // The unsorted sample would read every row group for every tile: no level.
    let unsorted = server();
    assert!(unsorted.level(4).expect("level").is_none());
    let (_, _, health) = get(&with, "/health").await;
    let health: serde_json::Value = serde_json::from_slice(&health).expect("json");
    assert_eq!(health["pyramid_zooms"], serde_json::json!([0, 1, 2, 3, 4]));
}

#[test]
fn pyramid_span_is_over_every_tile_of_the_zoom() {
    let s = pyramid_server(Some(3), None, 256 << 20);
    let level = s.level(3).expect("level").expect("held");
    let ext = s.extent();
    let mut lo = f64::INFINITY;
    let mut hi = f64::NEG_INFINITY;
    for t in tiles::tiles_covering(ext.0, ext.1, 3) {
        let agg = tiles::aggregate_tile(&s.source, &s.config.layer, t, 256).expect("tile");
        if let Some((a, b)) = tiles::value_range(&agg) {
            lo = lo.min(a);
            hi = hi.max(b);
        }
        assert_eq!(
            level.tile(t.x, t.y).map(|a| a.values.clone()),
            (!tiles::is_blank(&agg)).then_some(agg.values),
            "tile {t}"
        );
    }
    assert_eq!(level.span, Some((lo, hi)));
    assert!(hi > 1.0);
    // The span a tile is shaded with is the level's.
    assert_eq!(
        s.zoom_span("", &s.config.layer, 3).expect("span"),
        Some((lo, hi))
    );
}

#[test]
fn pyramid_respects_its_byte_budget_but_keeps_the_span() {
    let s = pyramid_server(Some(4), None, 300 << 10);
    // Zoom 0 is one 256x256 count tile (256 KiB); zoom 1 does not fit next to it.
    assert!(s.level(0).expect("level").is_some());
    assert!(s.level(1).expect("level").is_none());
    let span = s.zoom_span("", &s.config.layer, 1).expect("span");
    let direct = tiles::zoom_span(&s.source, &s.config.layer, s.extent(), 1).expect("span");
    assert!(span.is_some() && direct.is_some());
    assert!(*lock(&s.pyramid_used) <= 300 << 10);
}

/// Over real TCP: clients that send half a request are dropped after the
/// header timeout, and so is an idle keep-alive client (the timer runs
/// while the connection waits for its next request); a whole request is
/// answered meanwhile; `/health` counts it all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_half_open_and_idle_clients_are_dropped() {
    use std::time::{Duration, Instant};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    let s = server();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let limits = ConnectionLimits::default()
        .with_header_timeout(Duration::from_millis(400))
        .with_idle_timeout(Duration::from_millis(800))
        .with_request_timeout(Duration::from_secs(20))
        .with_max_connections(64);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(serve_with(listener, s.clone(), limits, async move {
        let _ = stopped.await;
    }));

    // Read until the server closes the connection; the time it took.
    async fn until_closed(c: &mut TcpStream) -> (Duration, Vec<u8>) {
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

    // Twenty clients that send half a request.
    let mut half = Vec::new();
    for _ in 0..20 {
        let mut c = TcpStream::connect(addr).await.expect("connect");
        c.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n")
            .await
            .expect("write");
        half.push(c);
    }
    // Meanwhile a whole request is answered at once.
    let mut ok = TcpStream::connect(addr).await.expect("connect");
    ok.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("write");
    let mut buf = [0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(5), ok.read(&mut buf))
        .await
        .expect("answered while others stall")
        .expect("read");
    assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
    for c in &mut half {
        let (took, _) = until_closed(c).await;
        assert!(took < Duration::from_secs(3), "half-open kept {took:?}");
    }
    // The answered keep-alive connection, now idle, is closed too.
    let (took, _) = until_closed(&mut ok).await;
    assert!(took < Duration::from_secs(3), "idle kept {took:?}");

    // The server's task records a drop just after the client sees the
    // close: ask /health until it has (a few seconds at most).
    let mut conns = serde_json::Value::Null;
    for _ in 0..100 {
        let mut c = TcpStream::connect(addr).await.expect("connect");
        c.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .expect("write");
        let (_, body) = until_closed(&mut c).await;
        let text = String::from_utf8_lossy(&body);
        let json: serde_json::Value =
            serde_json::from_str(text.split("\r\n\r\n").nth(1).expect("body")).expect("json");
        conns = json["connections"].clone();
        if conns["dropped_header_timeout"].as_u64() >= Some(21) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        conns["dropped_header_timeout"].as_u64() >= Some(21),
        "{conns}"
    );
    assert!(conns["accepted"].as_u64() >= Some(22), "{conns}");
    let _ = stop.send(());
    task.await.expect("join").expect("serve");
}

/// Sixteen concurrent requests for one uncached tile: one render, the same
/// bytes and ETag for all; the cached tile is then served without one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_for_one_tile_render_it_once() {
    let s = server();
    let (full, _) = full_and_empty(&s);
    let uri = format!("/tiles/{}/{}/{}.png?how=linear", full.z, full.x, full.y);
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let (s, uri) = (s.clone(), uri.clone());
        tasks.push(tokio::spawn(async move { get(&s, &uri).await }));
    }
    let mut seen = Vec::new();
    for t in tasks {
        let (status, headers, body) = t.await.expect("join");
        assert_eq!(status, StatusCode::OK);
        seen.push((headers.get(header::ETAG).cloned(), body));
    }
    assert!(seen.windows(2).all(|w| w[0] == w[1]));
    let rendered = || s.rendered.load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(rendered(), 1, "one render for sixteen requests");
    let (status, _, body) = get(&s, &uri).await;
    assert_eq!((status, body), (StatusCode::OK, seen[0].1.clone()));
    assert_eq!(rendered(), 1, "served from the cache");
}

fn decode_rgba(png: &[u8]) -> Vec<[u8; 4]> {
    let mut d = png::Decoder::new(std::io::Cursor::new(png));
    d.set_transformations(png::Transformations::EXPAND | png::Transformations::ALPHA);
    let mut r = d.read_info().expect("png");
    let mut buf = vec![0; r.output_buffer_size().expect("size")];
    let info = r.next_frame(&mut buf).expect("frame");
    buf.truncate(info.buffer_size());
    let (w, h) = (info.width as usize, info.height as usize);
    assert_eq!(buf.len(), w * h * 4, "RGBA");
    buf.chunks_exact(4)
        .map(|p| [p[0], p[1], p[2], p[3]])
        .collect()
}

/// Served `eq_hist` tiles of one zoom share one histogram: a count has one
/// colour across every tile of the zoom, and the tiles are the pyramid
/// writer's (`pointillist tiles`) byte for byte, whether the zoom comes
/// from the held pyramid (sorted data) or from the full pass over blocks
/// (unsorted data, or deeper zooms).
#[tokio::test]
async fn served_eq_hist_shares_one_histogram_per_zoom() {
    use crate::tiles::pyramid::{write_pyramid, PyramidOptions, PyramidOutput};
    let dir = tempfile::tempdir().expect("tmp");
    let dest = dir.path().join("pyr");
    let eq = ShadeOptions::default().with_how(How::EqHist);
    let opts = PyramidOptions {
        min_zoom: 0,
        max_zoom: 5,
        shade: eq.clone(),
        ..PyramidOptions::default()
    };
    let layer = TileLayer::new();
    let sorted = indexed_sample();
    let out = PyramidOutput::Directory(dest.clone());
    write_pyramid(&sorted, &layer, &out, &opts, &|_, _, _| {}).expect("pyramid");
    let config = ServerConfig {
        max_zoom: 14,
        span_max_zoom: 6,
        shade: eq,
        ..ServerConfig::default()
    };
    let held = config.clone().with_pyramid_max_zoom(Some(3));
    let held = Arc::new(TileServer::new(sorted, held).expect("server"));
    let sample = Source::sample().expect("sample");
    let unsorted = Arc::new(TileServer::new(sample, config).expect("server"));
    let mut seams = 0;
    let mut compared = 0;
    for z in 0..=5u8 {
        let mut colour_of: HashMap<u32, [u8; 4]> = HashMap::new();
        let mut tiles_with_shared_counts = 0;
        for t in tiles::tiles_covering(held.extent().0, held.extent().1, z) {
            let uri = format!("/tiles/{t}.png");
            let (st, _, a) = get(&held, &uri).await;
            let (st2, _, b) = get(&unsorted, &uri).await;
            let file = dest.join(format!("{}/{}/{}.png", t.z, t.x, t.y));
            if st == StatusCode::NO_CONTENT {
                assert_eq!(st2, StatusCode::NO_CONTENT, "{uri}");
                assert!(!file.exists(), "{uri}");
                continue;
            }
            assert_eq!(st, StatusCode::OK, "{uri}");
            let want = std::fs::read(&file).expect("pyramid tile");
            assert_eq!(a, want, "{uri}: held pyramid vs tiles writer");
            assert_eq!(b, want, "{uri}: full pass vs tiles writer");
            compared += 1;
            // One colour per count across the zoom's tiles.
            let agg =
                tiles::aggregate_tile(&held.source, &held.config.layer, t, 256).expect("tile");
            let AggValues::U32(counts) = &agg.values else {
                panic!("count aggregate");
            };
            let pixels = decode_rgba(&a);
            // Rows of the PNG run north to south, as the aggregate's rows
            // are flipped for images.
            let w = agg.width;
            let mut shared = false;
            for (i, &c) in counts.iter().enumerate().filter(|(_, &c)| c > 0) {
                let (row, col) = (i / w, i % w);
                let px = pixels[(agg.height - 1 - row) * w + col];
                if let Some(before) = colour_of.insert(c, px) {
                    assert_eq!(before, px, "{uri}: count {c} has two colours at zoom {z}");
                    shared = true;
                }
            }
            tiles_with_shared_counts += usize::from(shared);
            // Equalised on its own, the tile would differ (the seams).
            let own = tiles::encode_tile(&agg, &held.config.shade).expect("encode");
            seams += usize::from(own != a);
        }
        if z >= 2 {
            assert!(
                tiles_with_shared_counts >= 2,
                "zoom {z}: counts shared across tiles"
            );
        }
    }
    assert!(compared >= 20, "only {compared} tiles compared");
    assert!(
        seams > 0,
        "per-tile equalisation would have matched everywhere"
    );
    // The legend gives the values at the colormap's ends: the zoom's
    // smallest and largest non-zero counts.
    let (mut lo, mut hi) = (u32::MAX, 0u32);
    for t in tiles::tiles_covering(held.extent().0, held.extent().1, 4) {
        let agg = tiles::aggregate_tile(&held.source, &held.config.layer, t, 256).expect("tile");
        if let AggValues::U32(v) = &agg.values {
            for &c in v.iter().filter(|&&c| c > 0) {
                (lo, hi) = (lo.min(c), hi.max(c));
            }
        }
    }
    for s in [&held, &unsorted] {
        let (st, _, body) = get(s, "/legend.json?z=4").await;
        assert_eq!(st, StatusCode::OK);
        let lg: serde_json::Value = serde_json::from_slice(&body).expect("json");
        assert_eq!(lg["how"], "eq_hist");
        let zoom = &lg["zooms"][4];
        assert_eq!(zoom["computed"], true);
        assert_eq!(
            zoom["value_range"],
            serde_json::json!([f64::from(lo), f64::from(hi)])
        );
    }
}

/// An `agg` override at the pyramid's zooms is served from a level of its
/// own, built on its first tile and held within the same bytes, and gives
/// the tile-by-tile renders' bytes; `how`/`cmap` overrides share the
/// default layer's levels.
#[tokio::test]
async fn agg_overrides_get_levels_of_their_own() {
    let with = pyramid_server(Some(3), None, 256 << 20);
    let without = pyramid_server(None, None, 256 << 20);
    let ext = with.extent();
    let mut compared = 0;
    for q in ["agg=sum:val", "agg=count_cat:cat", "how=cbrt&cmap=viridis"] {
        for z in 0..=3u8 {
            for t in tiles::tiles_covering(ext.0, ext.1, z) {
                let uri = format!("/tiles/{t}.png?{q}");
                let (a_status, _, a) = get(&with, &uri).await;
                let (b_status, _, b) = get(&without, &uri).await;
                assert_eq!(a_status, b_status, "{uri}");
                assert_eq!(a, b, "{uri}");
                compared += usize::from(a_status == StatusCode::OK);
            }
        }
    }
    assert!(compared >= 20, "only {compared} non-empty tiles compared");
    let held: Vec<String> = lock(&with.levels).keys().cloned().collect();
    for key in ["", "sum:val", "count_cat:cat"] {
        assert!(
            held.iter().any(|k| k == key),
            "no levels for '{key}': {held:?}"
        );
        let layer = with.layer(key).expect("layer");
        for z in 0..=3u8 {
            assert!(
                with.layer_level(key, &layer, z).expect("level").is_some(),
                "'{key}' zoom {z} is held"
            );
        }
    }
    assert!(*lock(&with.pyramid_used) <= 256 << 20);
    assert!(lock(&without.levels).is_empty());
}

#[tokio::test]
async fn legend_takes_the_tiles_overrides() {
    let s = server();
    let json = |b: &[u8]| -> serde_json::Value { serde_json::from_slice(b).expect("json") };
    let hex = |c: [u8; 3]| format!("#{:02x}{:02x}{:02x}", c[0], c[1], c[2]);

    let (st, _, body) = get(&s, "/legend.json?z=3&how=linear&cmap=viridis").await;
    assert_eq!(st, StatusCode::OK);
    let lg = json(&body);
    assert_eq!(lg["how"], "linear");
    let viridis = shade::colormap("viridis").expect("viridis");
    assert_eq!(lg["cmap"][0], hex(viridis[0]));
    assert_eq!(lg["cmap"][255], hex(viridis[255]));
    assert_eq!(lg["single_color"], serde_json::Value::Null);
    // The same span the tiles of zoom 3 get (the default layer's).
    let span = s.zoom_span("", &s.config.layer, 3).expect("span");
    let (lo, hi) = span.expect("the sample has points");
    assert_eq!(lg["zooms"][3]["span"], serde_json::json!([lo, hi]));

    // An `agg` override: its own layer's span; a fixed span as given.
    let lg = json(&get(&s, "/legend.json?z=2&agg=sum:val").await.2);
    assert_eq!(lg["agg"], "sum:val");
    let layer = s.layer("sum:val").expect("layer");
    let (lo, hi) = s
        .zoom_span("sum:val", &layer, 2)
        .expect("span")
        .expect("points");
    assert_eq!(lg["zooms"][2]["span"], serde_json::json!([lo, hi]));
    assert!(hi > 1e6, "sums of values, not counts: {hi}");
    let lg = json(&get(&s, "/legend.json?span=1,50&cmap=red").await.2);
    assert_eq!(lg["zooms"][9]["span"], serde_json::json!([1.0, 50.0]));
    assert_eq!(lg["single_color"], "#ff0000");

    // Categories come with their colours (Sets1to3 in category order).
    let lg = json(&get(&s, "/legend.json?z=4&agg=count_cat:cat").await.2);
    assert_eq!(
        lg["categories"],
        serde_json::json!(["asian", "black", "hispanic", "other", "white"])
    );
    let key: Vec<String> = shade::default_color_key()[..5]
        .iter()
        .map(|&c| hex(c))
        .collect();
    assert_eq!(lg["category_colors"], serde_json::json!(key));

    // Refused as tiles are, with the same one-line reason.
    for q in [
        "how=sideways",
        "cmap=nosuchmap",
        "span=5,1",
        "agg=mean:nosuchcolumn",
    ] {
        let (st, _, body) = get(&s, &format!("/legend.json?{q}")).await;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{q}");
        let msg = String::from_utf8(body).expect("utf8");
        let (full, _) = full_and_empty(&s);
        let tile = get(&s, &format!("/tiles/{full}.png?{q}")).await.2;
        assert_eq!(msg, String::from_utf8(tile).expect("utf8"), "{q}");
    }
}

#[tokio::test]
async fn viewer_page_carries_the_basemap_safely() {
    // Without a basemap: the page as built, no internet address in it.
    let (_, _, body) = get(&server(), "/").await;
    let html = String::from_utf8(body).expect("utf8");
    assert!(html.contains(VIEWER_CONFIG), "the settings placeholder");
    assert!(!html.contains("http://") && !html.contains("https://"));

    let tricky = "https://tiles.test/{z}/{x}/{y}.png?a=1&b=</script><script>alert(1)</script>";
    let config = ServerConfig::default()
        .with_zooms(0, 8)
        .with_basemap(Some(tricky.to_string()));
    let s = Arc::new(TileServer::new(Source::sample().expect("sample"), config).expect("server"));
    let (st, _, body) = get(&s, "/").await;
    assert_eq!(st, StatusCode::OK);
    let html = String::from_utf8(body).expect("utf8");
    assert!(!html.contains(VIEWER_CONFIG));
    assert_eq!(
        html.matches("</script>").count(),
        VIEWER_HTML.matches("</script>").count()
    );
    assert!(!html.contains("alert(1)</script>"));
    // The element's text is JSON that gives back the template.
    let open = r#"<script id="viewer-config" type="application/json">"#;
    let start = html.find(open).expect("settings element") + open.len();
    let text = &html[start..start + html[start..].find("</script>").expect("its end")];
    let settings: serde_json::Value = serde_json::from_str(text).expect("json");
    assert_eq!(settings["basemap"], tricky);
}

#[tokio::test]
async fn line_layers_serve_tiles() {
    // The sample's rows as one antialiased track through its points.
    let req = crate::aggregate::AggregateRequest::new(1, 1)
        .with_lines(&["x"], &["y"])
        .with_line_width(1.5);
    let config = ServerConfig {
        max_zoom: 8,
        span_max_zoom: 3,
        layer: TileLayer::new().with_glyph_of(&req),
        ..ServerConfig::default()
    };
    let s = Arc::new(TileServer::new(Source::sample().expect("sample"), config).expect("server"));
    let (full, empty) = full_and_empty(&s);
    let (st, h, body) = get(&s, &format!("/tiles/{full}.png")).await;
    assert_eq!(st, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    assert_eq!(h[header::CONTENT_TYPE], "image/png");
    assert_eq!(png_size(&body), (256, 256));
    let (st, _, body) = get(&s, &format!("/tiles/{full}@2x.png")).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(png_size(&body), (512, 512));
    // The served tile is the layer's tile, shaded.
    let agg = tiles::aggregate_tile(&s.source, &s.config.layer, full, 256).expect("tile");
    assert!(matches!(agg.values, crate::aggregate::AggValues::F32(_)));
    let (st, _, _) = get(&s, &format!("/tiles/{empty}.png")).await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    // Reductions antialiased lines cannot take are bad requests.
    let (st, _, body) = get(&s, &format!("/tiles/{full}.png?agg=var:val")).await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert!(
        String::from_utf8_lossy(&body).contains("antialiasing"),
        "{}",
        String::from_utf8_lossy(&body)
    );
    let (st, _, _) = get(&s, &format!("/tiles/{full}.png?agg=max:val")).await;
    assert_eq!(st, StatusCode::OK);
}

#[tokio::test]
async fn inspect_lists_the_rows_under_a_pixel() {
    let s = server();
    let (t, _) = full_and_empty(&s);
    let counts = tiles::aggregate_tile(&s.source, &s.config.layer, t, 256).expect("tile");
    // The busiest pixel (row 0 of the aggregate is the south edge).
    let (cell, most) = (0..counts.values.len())
        .map(|i| (i, counts.values.get_f64(i) as u64))
        .max_by_key(|&(i, c)| (c, std::cmp::Reverse(i)))
        .expect("cells");
    let (px, py) = (cell % 256, 255 - cell / 256);
    let uri = format!("/inspect/{t}.png?px={px}&py={py}&n=5");
    let (st, h, body) = get(&s, &uri).await;
    assert_eq!(st, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    assert_eq!(h[header::CONTENT_TYPE], "application/json");
    let v: serde_json::Value = serde_json::from_slice(&body).expect("json");
    assert_eq!(v["count"], most);
    assert_eq!(v["selected_by"], "where(first_n:x:5)");
    let rows = v["rows"].as_array().expect("rows");
    assert_eq!(rows.len() as u64, most.min(5));
    // The first rows in the pixel, in row order, and every one inside it.
    let ((x0, x1), (y0, y1)) = t.bounds();
    let (w, hgt) = ((x1 - x0) / 256.0, (y1 - y0) / 256.0);
    let (lo_x, lo_y) = (x0 + px as f64 * w, y1 - (py + 1) as f64 * hgt);
    let mut last = None;
    for r in rows {
        let row = r["row"].as_u64().expect("row");
        assert!(last < Some(row), "rows in order");
        last = Some(row);
        let (x, y) = (r["x"].as_f64().expect("x"), r["y"].as_f64().expect("y"));
        assert!(
            x >= lo_x - 1e-6 * w && x <= lo_x + w * (1.0 + 1e-6),
            "x {x}"
        );
        assert!(
            y >= lo_y - 1e-6 * hgt && y <= lo_y + hgt * (1.0 + 1e-6),
            "y {y}"
        );
    }
    // With agg=max:val the rows are the largest values, largest first, and
    // the first is the pixel's max.
    let layer = s.layer("max:val").expect("layer");
    let max = tiles::aggregate_tile(&s.source, &layer, t, 256).expect("tile");
    let (_, _, body) = get(&s, &format!("{uri}&agg=max:val&columns=val,cat")).await;
    let v: serde_json::Value = serde_json::from_slice(&body).expect("json");
    assert_eq!(v["selected_by"], "where(max_n:val:5)", "{v}");
    let vals: Vec<f64> = v["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| r["val"].as_f64().unwrap_or_else(|| panic!("val: {v}")))
        .collect();
    assert_eq!(vals.first().copied(), Some(max.values.get_f64(cell)));
    assert!(vals.windows(2).all(|p| p[0] >= p[1]), "{vals:?}");
    assert!(v["rows"][0]["cat"].is_string());
    // Bad requests are the client's.
    for bad in [
        format!("/inspect/{t}.png?py=1"),
        format!("/inspect/{t}.png?px=999&py=1"),
        format!("/inspect/{t}.png?px=a&py=1"),
        format!("/inspect/{t}.png?px=1&py=1&columns=nope"),
        format!("/inspect/{t}.png?px=1&py=1&agg=median:val"),
        "/inspect/99/0/0.png?px=1&py=1".to_string(),
    ] {
        let (st, _, body) = get(&s, &bad).await;
        assert_eq!(
            st,
            StatusCode::BAD_REQUEST,
            "{bad}: {}",
            String::from_utf8_lossy(&body)
        );
    }
}
