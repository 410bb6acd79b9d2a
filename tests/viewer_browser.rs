//! End to end: the real `pointillist serve` on the embedded sample, and its
//! viewer page at `/` opened in headless Chromium (Debian's `chromium`, which
//! `.ci/run` installs). The page must report loaded tiles
//! (`data-loaded-tiles` on `<body>`), open on a view that fits the data, and
//! a screenshot of it must show many pixels in the server's colormap.
//!
//! Chromium is `$POINTILLIST_CHROMIUM`, else `chromium` or `chromium-browser`
//! on `PATH`, else `/usr/bin/chromium`. Without one the test says it was
//! skipped and passes, except under CI (`CI` set), where it fails.
//! `POINTILLIST_VIEWER_SCREENSHOT=<file>` keeps a copy of the first test's
//! screenshot, `POINTILLIST_VIEWER_SCREENSHOTS=<dir>` the second's.

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// Browser window, in CSS pixels (and screenshot pixels: scale factor 1).
const WIDTH: usize = 1024;
const HEIGHT: usize = 768;
/// Wall-clock limit for one Chromium run; it is killed after that.
const BROWSER_TIMEOUT: Duration = Duration::from_secs(60);
/// Wall-clock limit for the server to print its address.
const SERVER_TIMEOUT: Duration = Duration::from_secs(60);
/// Virtual time the page gets after loading. Chromium does not advance
/// virtual time while fetches are pending, so tile renders fit in any case.
const VIRTUAL_TIME_MS: u32 = 20_000;

fn find_chromium() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("POINTILLIST_CHROMIUM") {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .flat_map(|d| [d.join("chromium"), d.join("chromium-browser")])
        .chain([PathBuf::from("/usr/bin/chromium")])
        .find(|p| p.is_file())
}

/// `pointillist serve --port 0`, stopped with SIGTERM (then SIGKILL) on drop.
struct Server {
    child: Child,
    addr: String,
    log: Arc<Mutex<Vec<String>>>,
}

impl Server {
    fn start(dir: &Path, extra: &[&str]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_pointillist"))
            .args(["serve", "--port", "0"])
            .args(extra)
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn pointillist serve");
        let stderr = child.stderr.take().expect("server stderr");
        let log = Arc::new(Mutex::new(Vec::new()));
        let mut server = Server {
            child,
            addr: String::new(),
            log: log.clone(),
        };
        // Drain stderr on a thread so the server never blocks on it.
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                log.lock().expect("log").push(line.clone());
                let _ = tx.send(line);
            }
        });
        let deadline = Instant::now() + SERVER_TIMEOUT;
        while server.addr.is_empty() {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = match rx.recv_timeout(left) {
                Ok(line) => line,
                Err(e) => panic!("no address from the server ({e:?}): {}", server.log()),
            };
            if let Some(rest) = line.split("http://").nth(1) {
                server.addr = rest.split('/').next().unwrap_or_default().to_string();
            }
        }
        server
    }

    fn log(&self) -> String {
        self.log.lock().map(|l| l.join("\n")).unwrap_or_default()
    }

    fn get(&self, path: &str) -> (String, Vec<u8>) {
        let mut conn = std::net::TcpStream::connect(&self.addr).expect("connect");
        conn.set_read_timeout(Some(SERVER_TIMEOUT))
            .expect("timeout");
        write!(
            conn,
            "GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            self.addr
        )
        .expect("write");
        let mut raw = Vec::new();
        conn.read_to_end(&mut raw).expect("read");
        let split = raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("header end");
        let head = String::from_utf8_lossy(&raw[..split]).to_string();
        let status = head.lines().next().unwrap_or_default().to_string();
        (status, raw[split + 4..].to_vec())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(Some(_)) = self.child.try_wait() {
            return;
        }
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            match self.child.try_wait() {
                Ok(None) => thread::sleep(Duration::from_millis(50)),
                _ => return,
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Kills a whole process group on drop (Chromium and all its helpers).
struct KillGroup(u32);

impl Drop for KillGroup {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.0)])
            .stderr(Stdio::null())
            .status();
    }
}

/// Flags of every Chromium run: headless, no sandbox (containers), nothing
/// fetched but the pages under test, one CSS pixel per screen pixel.
const BROWSER_FLAGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--force-device-scale-factor=1",
];

/// Run headless Chromium on `url` with a fresh profile and `extra` flags;
/// its stdout. Killed (with its helpers) after [`BROWSER_TIMEOUT`].
fn chromium(bin: &Path, extra: &[String], url: &str) -> String {
    let profile = tempfile::tempdir().expect("profile dir");
    let mut child = Command::new(bin)
        .args(BROWSER_FLAGS)
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("--window-size={WIDTH},{HEIGHT}"))
        .arg(format!("--virtual-time-budget={VIRTUAL_TIME_MS}"))
        .args(extra)
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
    let group = KillGroup(child.id());
    let reader = |mut r: Box<dyn Read + Send>| {
        thread::spawn(move || {
            let mut v = Vec::new();
            let _ = r.read_to_end(&mut v);
            String::from_utf8_lossy(&v).into_owned()
        })
    };
    let out = reader(Box::new(child.stdout.take().expect("stdout")));
    let err = reader(Box::new(child.stderr.take().expect("stderr")));
    let deadline = Instant::now() + BROWSER_TIMEOUT;
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break Some(s),
            Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(50)),
            _ => break None,
        }
    };
    // Ends the browser on a timeout, and any helper left behind otherwise,
    // so that the pipes close and the readers finish.
    drop(group);
    let _ = child.kill();
    let _ = child.wait();
    let out = out.join().expect("stdout reader");
    let err = err.join().expect("stderr reader");
    let tail: String = {
        let lines: Vec<&str> = err.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    };
    match status {
        None => panic!("chromium ran past {BROWSER_TIMEOUT:?} and was killed; stderr:\n{tail}"),
        Some(s) if !s.success() => panic!("chromium failed ({s}); stderr:\n{tail}"),
        Some(_) => out,
    }
}

/// The number after `marker` in `html` (digits up to the first non-digit).
fn number_after(html: &str, marker: &str) -> Option<u64> {
    let rest = &html[html.find(marker)? + marker.len()..];
    let end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    rest[..end].parse().ok()
}

/// Decode a PNG to width, height and 8-bit RGB pixels.
fn decode_rgb(png_bytes: &[u8]) -> (usize, usize, Vec<[u8; 3]>) {
    let mut dec = png::Decoder::new(std::io::Cursor::new(png_bytes));
    dec.set_transformations(png::Transformations::normalize_to_color8());
    let mut r = dec.read_info().expect("png header");
    let mut buf = vec![0; r.output_buffer_size().expect("png size")];
    let info = r.next_frame(&mut buf).expect("png frame");
    let (w, h) = (info.width as usize, info.height as usize);
    let px: Vec<[u8; 3]> = match r.output_color_type().0 {
        png::ColorType::Rgb => buf.chunks_exact(3).map(|p| [p[0], p[1], p[2]]).collect(),
        png::ColorType::Rgba => buf.chunks_exact(4).map(|p| [p[0], p[1], p[2]]).collect(),
        png::ColorType::Grayscale => buf.iter().map(|&g| [g, g, g]).collect(),
        png::ColorType::GrayscaleAlpha => buf.chunks_exact(2).map(|p| [p[0]; 3]).collect(),
        other => panic!("unexpected screenshot colour type {other:?}"),
    };
    (w, h, px[..w * h].to_vec())
}

fn parse_hex(c: &str) -> [u8; 3] {
    let c = c.trim_start_matches('#');
    let b = |i: usize| u8::from_str_radix(&c[i..i + 2], 16).expect("hex colour");
    [b(0), b(2), b(4)]
}

/// Chromium, or `None` (the test is skipped) outside CI without one.
fn chromium_or_skip(test: &str) -> Option<PathBuf> {
    let bin = find_chromium();
    if bin.is_none() {
        if std::env::var_os("CI").is_some() {
            panic!(
                "no Chromium found (POINTILLIST_CHROMIUM, chromium on PATH, /usr/bin/chromium); \
                 CI must run the viewer test: install Debian's chromium (.ci/run does)"
            );
        }
        eprintln!(
            "{test}: SKIPPED, no Chromium found \
             (set POINTILLIST_CHROMIUM or install Debian's chromium)"
        );
    }
    bin
}

#[test]
fn viewer_draws_tiles_in_headless_chromium() {
    let Some(bin) = chromium_or_skip("viewer_draws_tiles_in_headless_chromium") else {
        return;
    };
    let started = Instant::now();
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path(), &[]);
    let url = format!("http://{}/", server.addr);

    // (a) The page's own count of tiles that arrived with pixels.
    let dom = chromium(&bin, &["--dump-dom".to_string()], &url);
    let body = &dom[dom.find("<body").expect("a <body> in the DOM dump")..];
    let loaded = number_after(body, "data-loaded-tiles=\"").expect("data-loaded-tiles on <body>");
    assert!(
        loaded > 0,
        "the viewer loaded no tiles; server log:\n{}\nDOM:\n{body}",
        server.log()
    );
    // The sample (the contiguous US, about 57 degrees of longitude) fits a
    // 1024-pixel-wide window at zoom 4 (653 px), not at zoom 5 (1306 px).
    let zoom = number_after(&dom, "id=\"zval\">").expect("the zoom readout");
    assert_eq!(zoom, 4, "the initial view should fit the data's bounds");

    // (b) A screenshot: count pixels that have a colour of the colormap.
    let (status, legend) = server.get("/legend.json");
    assert!(status.contains("200"), "{status}");
    let legend: serde_json::Value = serde_json::from_slice(&legend).expect("legend json");
    let cmap: Vec<[u8; 3]> = legend["cmap"]
        .as_array()
        .expect("cmap list")
        .iter()
        .map(|c| parse_hex(c.as_str().expect("colour string")))
        .collect();
    assert!(cmap.len() >= 64, "{} colours", cmap.len());
    // Skip the darkest sixteenth (near the #111 page background) and allow
    // a difference of 2 per channel; the page's own UI is grey and white.
    let mut wanted = HashSet::new();
    for c in &cmap[cmap.len() / 16..] {
        for d in 0..125u8 {
            let off: [u8; 3] = [d % 5, d / 5 % 5, d / 25];
            let near = |i: usize| u8::try_from(i16::from(c[i]) + i16::from(off[i]) - 2).ok();
            if let (Some(r), Some(g), Some(b)) = (near(0), near(1), near(2)) {
                wanted.insert([r, g, b]);
            }
        }
    }
    let shot = dir.path().join("viewer.png");
    chromium(&bin, &[format!("--screenshot={}", shot.display())], &url);
    if let Some(keep) = std::env::var_os("POINTILLIST_VIEWER_SCREENSHOT") {
        std::fs::copy(&shot, &keep).expect("copy the screenshot");
    }
    let (w, h, px) = decode_rgb(&std::fs::read(&shot).expect("read the screenshot"));
    assert_eq!((w, h), (WIDTH, HEIGHT), "screenshot size");
    // The middle half of the window in each direction: clear of the zoom
    // buttons (top left) and the info box with its orange links (bottom left).
    let (x0, x1, y0, y1) = (w / 4, 3 * w / 4, h / 4, 3 * h / 4);
    let area = (x1 - x0) * (y1 - y0);
    let drawn = (y0..y1)
        .flat_map(|y| (x0..x1).map(move |x| y * w + x))
        .filter(|&i| wanted.contains(&px[i]))
        .count();
    eprintln!(
        "viewer test: {loaded} tiles loaded, zoom {zoom}, {drawn} of {area} middle pixels \
         in the colormap, {:.1} s",
        started.elapsed().as_secs_f64()
    );
    // The sample covers about a fifth of the middle at zoom 4; a page
    // without tiles has none at all.
    assert!(
        drawn * 50 >= area,
        "only {drawn} of {area} pixels in the middle of the screenshot have colormap colours; \
         server log:\n{}",
        server.log()
    );
}

/// Headless Chromium driven over the DevTools protocol on a pipe
/// (`--remote-debugging-pipe`: JSON messages ending in NUL, commands on
/// the browser's fd 3 and answers on its fd 4, which `sh` connects to two
/// FIFOs), attached to one page. Killed with its helpers on drop.
struct Devtools {
    child: Child,
    group: Option<KillGroup>,
    to_browser: std::fs::File,
    from_browser: mpsc::Receiver<serde_json::Value>,
    id: u64,
    session: Option<String>,
    stderr: PathBuf,
    /// Screenshots taken (for `POINTILLIST_VIEWER_SCREENSHOTS`).
    shots: usize,
    _dirs: (tempfile::TempDir, tempfile::TempDir),
}

impl Devtools {
    fn start(bin: &Path) -> Devtools {
        let profile = tempfile::tempdir().expect("profile dir");
        let pipes = tempfile::tempdir().expect("pipe dir");
        let (to, from) = (pipes.path().join("to"), pipes.path().join("from"));
        let stderr = pipes.path().join("stderr");
        let made = Command::new("mkfifo")
            .arg(&to)
            .arg(&from)
            .status()
            .expect("run mkfifo");
        assert!(made.success(), "mkfifo failed");
        let child = Command::new("sh")
            .arg("-c")
            .arg(r#"exec "$0" "$@" 3<"$POINTILLIST_CDP_TO" 4>"$POINTILLIST_CDP_FROM""#)
            .arg(bin)
            .args(BROWSER_FLAGS)
            .arg("--remote-debugging-pipe")
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg(format!("--window-size={WIDTH},{HEIGHT}"))
            .env("POINTILLIST_CDP_TO", &to)
            .env("POINTILLIST_CDP_FROM", &from)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&stderr).expect("stderr file"))
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        let group = KillGroup(child.id());
        // Opening a FIFO waits for its other end: on a thread, so that a
        // browser that never starts fails the test instead of hanging it.
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            let ends = std::fs::OpenOptions::new()
                .write(true)
                .open(&to)
                .and_then(|w| std::fs::File::open(&from).map(|r| (w, r)));
            let _ = tx.send(ends);
        });
        let (to_browser, reader) = match rx.recv_timeout(BROWSER_TIMEOUT) {
            Ok(Ok(ends)) => ends,
            other => panic!(
                "chromium did not open its DevTools pipes ({other:?}); stderr:\n{}",
                std::fs::read_to_string(&stderr).unwrap_or_default()
            ),
        };
        let (tx, from_browser) = mpsc::channel();
        thread::spawn(move || {
            let mut r = BufReader::new(reader);
            loop {
                let mut buf = Vec::new();
                match r.read_until(0, &mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
                if buf.last() == Some(&0) {
                    buf.pop();
                }
                if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&buf) {
                    if tx.send(v).is_err() {
                        break;
                    }
                }
            }
        });
        let mut page = Devtools {
            child,
            group: Some(group),
            to_browser,
            from_browser,
            id: 0,
            session: None,
            stderr,
            shots: 0,
            _dirs: (profile, pipes),
        };
        let target = page.call(
            "Target.createTarget",
            serde_json::json!({ "url": "about:blank" }),
        );
        let attached = page.call(
            "Target.attachToTarget",
            serde_json::json!({ "targetId": target["targetId"], "flatten": true }),
        );
        page.session = Some(
            attached["sessionId"]
                .as_str()
                .expect("a session id")
                .to_string(),
        );
        page.call(
            "Emulation.setDeviceMetricsOverride",
            serde_json::json!({
                "width": WIDTH, "height": HEIGHT, "deviceScaleFactor": 1, "mobile": false,
            }),
        );
        page
    }

    fn stderr_tail(&self) -> String {
        let all = std::fs::read_to_string(&self.stderr).unwrap_or_default();
        let lines: Vec<&str> = all.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    /// Send one command (to the page, once attached) and wait for its result.
    fn call(&mut self, method: &str, params: serde_json::Value) -> serde_json::Value {
        self.id += 1;
        let mut msg = serde_json::json!({ "id": self.id, "method": method, "params": params });
        if let Some(s) = &self.session {
            msg["sessionId"] = serde_json::json!(s);
        }
        let mut bytes = msg.to_string().into_bytes();
        bytes.push(0);
        if let Err(e) = self
            .to_browser
            .write_all(&bytes)
            .and_then(|()| self.to_browser.flush())
        {
            panic!("cannot send {method}: {e}; stderr:\n{}", self.stderr_tail());
        }
        let deadline = Instant::now() + BROWSER_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let m = match self.from_browser.recv_timeout(left) {
                Ok(m) => m,
                Err(e) => panic!(
                    "no answer to {method} ({e:?}); stderr:\n{}",
                    self.stderr_tail()
                ),
            };
            if m["id"] == self.id {
                if let Some(e) = m.get("error") {
                    panic!("{method}: {e}");
                }
                return m["result"].clone();
            }
        }
    }

    /// The value of a JavaScript expression in the page (promises awaited).
    fn eval(&mut self, js: &str) -> serde_json::Value {
        let r = self.call(
            "Runtime.evaluate",
            serde_json::json!({ "expression": js, "returnByValue": true, "awaitPromise": true }),
        );
        if let Some(ex) = r.get("exceptionDetails") {
            panic!("{js}: {ex}");
        }
        r["result"]["value"].clone()
    }

    fn text(&mut self, js: &str) -> String {
        self.eval(js).as_str().unwrap_or_default().to_string()
    }

    /// Wait until `js` is true in the page.
    fn wait(&mut self, what: &str, js: &str) {
        let deadline = Instant::now() + BROWSER_TIMEOUT;
        while Instant::now() < deadline {
            if self.eval(js) == serde_json::Value::Bool(true) {
                return;
            }
            thread::sleep(Duration::from_millis(100));
        }
        let state = self.eval(
            "JSON.stringify({viewer: window.pointillistViewer, hash: location.hash, \
             error: document.getElementById('error').textContent, \
             legend: document.body.dataset.legend})",
        );
        panic!("timed out waiting for {what}: {state}");
    }

    fn navigate(&mut self, url: &str) {
        // From a blank page, so that a URL differing only in its hash from
        // the last one is a fresh load (as opening a shared link is).
        self.call("Page.navigate", serde_json::json!({ "url": "about:blank" }));
        self.wait("about:blank", "location.href === 'about:blank'");
        self.call("Page.navigate", serde_json::json!({ "url": url }));
    }

    fn screenshot(&mut self) -> (usize, usize, Vec<[u8; 3]>) {
        let shot = self.call(
            "Page.captureScreenshot",
            serde_json::json!({ "format": "png" }),
        );
        let png = base64_decode(shot["data"].as_str().expect("screenshot data"));
        if let Some(dir) = std::env::var_os("POINTILLIST_VIEWER_SCREENSHOTS") {
            self.shots += 1;
            let path = Path::new(&dir).join(format!("viewer-{}.png", self.shots));
            std::fs::write(&path, &png).expect("keep the screenshot");
        }
        decode_rgb(&png)
    }

    fn click(&mut self, x: f64, y: f64) {
        for kind in ["mousePressed", "mouseReleased"] {
            self.call(
                "Input.dispatchMouseEvent",
                serde_json::json!({ "type": kind, "x": x, "y": y, "button": "left", "clickCount": 1 }),
            );
        }
    }

    fn mouse_move(&mut self, x: f64, y: f64) {
        self.call(
            "Input.dispatchMouseEvent",
            serde_json::json!({ "type": "mouseMoved", "x": x, "y": y }),
        );
    }
}

impl Drop for Devtools {
    fn drop(&mut self) {
        drop(self.group.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn base64_decode(s: &str) -> Vec<u8> {
    let val = |c: u8| -> u32 {
        match c {
            b'A'..=b'Z' => u32::from(c - b'A'),
            b'a'..=b'z' => u32::from(c - b'a') + 26,
            b'0'..=b'9' => u32::from(c - b'0') + 52,
            b'+' => 62,
            b'/' => 63,
            _ => panic!("not base64: {c}"),
        }
    };
    let bytes: Vec<u8> = s.bytes().filter(|&c| c != b'=').collect();
    let mut out = Vec::with_capacity(bytes.len() * 3 / 4);
    for chunk in bytes.chunks(4) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &c)| n | val(c) << (18 - 6 * i));
        for i in 0..chunk.len() - 1 {
            out.push((n >> (16 - 8 * i)) as u8);
        }
    }
    out
}

/// The basemap colour: not in `fire`, `viridis` or the page's greys.
const BASE_RGB: [u8; 3] = [40, 90, 200];

/// A local XYZ host for the basemap: every `/base/{z}/{x}/{y}.png` is one
/// opaque 256 px tile of [`BASE_RGB`]; the paths asked for are recorded.
struct BasemapHost {
    addr: String,
    paths: Arc<Mutex<Vec<String>>>,
}

impl BasemapHost {
    fn start() -> BasemapHost {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind basemap host");
        let addr = listener.local_addr().expect("basemap address").to_string();
        let mut tile = Vec::new();
        {
            let mut enc = png::Encoder::new(&mut tile, 256, 256);
            enc.set_color(png::ColorType::Rgb);
            enc.set_depth(png::BitDepth::Eight);
            let mut w = enc.write_header().expect("png header");
            w.write_image_data(&BASE_RGB.repeat(256 * 256))
                .expect("png data");
        }
        let tile = Arc::new(tile);
        let paths = Arc::new(Mutex::new(Vec::new()));
        let seen = paths.clone();
        thread::spawn(move || {
            for conn in listener.incoming().map_while(Result::ok) {
                let (tile, seen) = (tile.clone(), seen.clone());
                thread::spawn(move || {
                    let mut conn = conn;
                    let mut r = BufReader::new(conn.try_clone().expect("clone stream"));
                    let mut line = String::new();
                    if r.read_line(&mut line).is_err() {
                        return;
                    }
                    // The rest of the head.
                    let mut h = String::new();
                    while r.read_line(&mut h).is_ok_and(|n| n > 2) {
                        h.clear();
                    }
                    let path = line.split(' ').nth(1).unwrap_or_default().to_string();
                    seen.lock().expect("paths").push(path.clone());
                    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
                    let ok = parts.len() == 4
                        && parts[0] == "base"
                        && parts[1..3].iter().all(|p| p.parse::<u32>().is_ok())
                        && parts[3]
                            .strip_suffix(".png")
                            .is_some_and(|y| y.parse::<u32>().is_ok());
                    let _ = if ok {
                        write!(
                            conn,
                            "HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nContent-Length: {}\r\n\
                             Connection: close\r\n\r\n",
                            tile.len()
                        )
                        .and_then(|()| conn.write_all(&tile))
                    } else {
                        write!(
                            conn,
                            "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                        )
                    };
                });
            }
        });
        BasemapHost { addr, paths }
    }

    fn paths(&self) -> Vec<String> {
        self.paths.lock().map(|p| p.clone()).unwrap_or_default()
    }
}

/// Whether two colours differ by at most `tol` in every channel.
fn near(a: [u8; 3], b: [u8; 3], tol: u8) -> bool {
    (0..3).all(|i| a[i].abs_diff(b[i]) <= tol)
}

/// The colours of `legend.json` (with `query`) on `server`.
fn legend_colors(server: &Server, query: &str) -> (serde_json::Value, Vec<[u8; 3]>) {
    let (status, body) = server.get(&format!("/legend.json{query}"));
    assert!(status.contains("200"), "legend.json{query}: {status}");
    let legend: serde_json::Value = serde_json::from_slice(&body).expect("legend json");
    let cmap = legend["cmap"]
        .as_array()
        .expect("cmap list")
        .iter()
        .map(|c| parse_hex(c.as_str().expect("colour string")))
        .collect();
    (legend, cmap)
}

/// Check the legend's colour bar in a screenshot: each of its 256 columns
/// is `cmap` interpolated there (as `np.interp` over `linspace(0, 1, n)`),
/// from the first colour to the last; nothing covers it.
fn assert_bar_is(page: &mut Devtools, name: &str, cmap: &[[u8; 3]]) {
    // The canvas's content box: 256 CSS pixels inside a 1 px border.
    let r = page.eval(
        "(function () { var r = document.getElementById('legend-bar').getBoundingClientRect(); \
         return [r.left, r.top, r.width, r.height]; })()",
    );
    let r: Vec<usize> = r
        .as_array()
        .expect("a rectangle")
        .iter()
        .map(|v| v.as_f64().expect("a number").round() as usize)
        .collect();
    assert_eq!(r[2], 258, "the bar is 256 px wide inside its border: {r:?}");
    let (w, _, px) = page.screenshot();
    let y = r[1] + r[3] / 2;
    let n = cmap.len();
    let bad: Vec<(usize, [u8; 3], [u8; 3])> = (0..256)
        .filter_map(|i| {
            let f = i as f64 / 255.0 * (n - 1) as f64;
            let k = (f.floor() as usize).min(n.saturating_sub(2));
            let u = f - k as f64;
            let (a, b) = (cmap[k], cmap[(k + 1).min(n - 1)]);
            let want: [u8; 3] = std::array::from_fn(|j| {
                (f64::from(a[j]) + (f64::from(b[j]) - f64::from(a[j])) * u) as u8
            });
            let got = px[y * w + r[0] + 1 + i];
            (!near(got, want, 2)).then_some((i, got, want))
        })
        .collect();
    assert!(
        bad.is_empty(),
        "{} of 256 bar columns are not {name} (column, drawn, wanted): {:?}",
        bad.len(),
        &bad[..bad.len().min(8)]
    );
}

/// The numbers in `text`, in order.
fn numbers(text: &str) -> Vec<f64> {
    text.split(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-' || c == 'e'))
        .filter_map(|t| t.parse().ok())
        .collect()
}

#[test]
fn viewer_legend_controls_cursor_and_basemap() {
    let Some(bin) = chromium_or_skip("viewer_legend_controls_cursor_and_basemap") else {
        return;
    };
    let started = Instant::now();
    let host = BasemapHost::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let template = format!("http://{}/base/{{z}}/{{x}}/{{y}}.png", host.addr);
    let server = Server::start(dir.path(), &["--basemap", &template]);
    let url = format!("http://{}/", server.addr);
    let mut page = Devtools::start(&bin);
    page.navigate(&url);
    let settled = "window.pointillistViewer && window.pointillistViewer.settled \
                   && document.body.dataset.loadedTiles > 0";
    page.wait(
        "data tiles, basemap tiles and the colour bar",
        &format!(
            "{settled} && document.body.dataset.basemapTiles > 0 \
             && document.body.dataset.legend === 'bar'"
        ),
    );
    let zoom = page.eval("window.pointillistViewer.zoom").as_u64();
    assert_eq!(zoom, Some(4), "the view fits the data");

    // (a) The basemap's tiles were asked for at the view's zoom, and drawn
    // under the data: the middle of the screen shows both the basemap
    // colour (opaque tiles, wherever there is no data) and colormap colours
    // (which an opaque layer on top would hide).
    let asked = host.paths();
    assert!(
        asked.iter().any(|p| p.starts_with("/base/4/")),
        "basemap requests: {asked:?}"
    );
    let (_, fire) = legend_colors(&server, "");
    let (w, h, px) = page.screenshot();
    assert_eq!((w, h), (WIDTH, HEIGHT), "screenshot size");
    let (x0, x1, y0, y1) = (w / 4, 3 * w / 4, h / 4, 3 * h / 4);
    let middle: Vec<[u8; 3]> = (y0..y1)
        .flat_map(|y| (x0..x1).map(move |x| y * w + x))
        .map(|i| px[i])
        .collect();
    let base = middle.iter().filter(|&&p| near(p, BASE_RGB, 2)).count();
    let bright: HashSet<[u8; 3]> = fire[fire.len() / 16..].iter().copied().collect();
    let data = middle.iter().filter(|p| bright.contains(*p)).count();
    let blank = middle.iter().filter(|&&p| near(p, [0x11; 3], 2)).count();
    eprintln!(
        "basemap test: {base} basemap, {data} colormap, {blank} blank of {} middle pixels",
        middle.len()
    );
    assert!(base * 4 >= middle.len(), "basemap pixels: {base}");
    assert!(
        data * 50 >= middle.len(),
        "data pixels over the basemap: {data}"
    );
    assert_eq!(blank, 0, "the basemap covers the background");

    // (b) The colour bar: the colormap along it, and ticks from the
    // zoom's span (log: the middle tick is expm1(log1p(hi - lo) / 2)).
    assert_bar_is(&mut page, "fire", &fire);
    let (z4, _) = legend_colors(&server, "?z=4");
    let span = &z4["zooms"][4]["span"];
    let (lo, hi) = (span[0].as_f64().expect("lo"), span[1].as_f64().expect("hi"));
    let ticks = numbers(&page.text(
        "Array.prototype.map.call(document.querySelectorAll('#legend-ticks span'), \
         function (s) { return s.textContent; }).join(' ')",
    ));
    assert_eq!(ticks.len(), 3, "{ticks:?}");
    let mid = lo + ((hi - lo).ln_1p() / 2.0).exp_m1();
    for (t, want) in ticks.iter().zip([lo, mid, hi]) {
        assert!(
            (t - want).abs() <= 0.01 * want.abs() + 0.5,
            "ticks {ticks:?} for span {lo}..{hi}"
        );
    }

    // (c) The cursor's coordinates: at the middle of the window, the middle
    // of the data's bounds; 128 px right, 128 / 256 / 2^4 of the world.
    let (_, tj) = server.get("/tilejson.json");
    let tj: serde_json::Value = serde_json::from_slice(&tj).expect("tilejson");
    let b: Vec<f64> = tj["bounds"]
        .as_array()
        .expect("bounds")
        .iter()
        .map(|v| v.as_f64().expect("number"))
        .collect();
    let mut cursor = |x: f64, y: f64| {
        page.mouse_move(x, y);
        let pos = numbers(&page.text("document.getElementById('pos').textContent"));
        let merc = numbers(&page.text("document.getElementById('merc').textContent"));
        assert_eq!((pos.len(), merc.len()), (2, 2), "{pos:?} {merc:?}");
        (pos[0], pos[1], merc[0], merc[1])
    };
    let (lon, lat, mx, my) = cursor(512.0, 384.0);
    let px_deg = 360.0 / 256.0 / 16.0;
    assert!(
        (lon - (b[0] + b[2]) / 2.0).abs() <= px_deg,
        "lon {lon}, bounds {b:?}"
    );
    assert!(lat > b[1] && lat < b[3], "lat {lat}, bounds {b:?}");
    const R: f64 = 6_378_137.0;
    assert!(
        (mx - R * lon.to_radians()).abs() < 2.0,
        "x {mx} for lon {lon}"
    );
    let y_of = |lat: f64| {
        R * (std::f64::consts::FRAC_PI_4 + lat.to_radians() / 2.0)
            .tan()
            .ln()
    };
    assert!((my - y_of(lat)).abs() < 2.0, "y {my} for lat {lat}");
    let (lon2, lat2, _, _) = cursor(640.0, 384.0);
    assert!(
        ((lon2 - lon) - 128.0 * px_deg).abs() < 1e-4,
        "{lon} -> {lon2}"
    );
    assert!((lat2 - lat).abs() < 1e-9, "{lat} -> {lat2}");

    // (c2) A click inspects the pixel under it: the panel lists the rows
    // /inspect gives for that tile and pixel.
    page.click(600.0, 420.0);
    page.wait(
        "the inspect panel",
        "!document.getElementById('inspect').hidden && window.pointillistViewer.inspected \
         && window.pointillistViewer.inspected.rows.length === \
            Math.min(10, window.pointillistViewer.inspected.count) \
         && / rows? at \\d+\\/\\d+\\/\\d+ pixel /.test(document.getElementById('inspect-title').textContent)",
    );

    // (d) The how control: tiles are asked for with how=linear, drawn, and
    // the state is in the hash; the legend follows.
    page.eval(
        "(function () { var s = document.getElementById('how'); s.value = 'linear'; \
         s.dispatchEvent(new Event('change', { bubbles: true })); return true; })()",
    );
    page.wait(
        "tiles drawn with how=linear",
        &format!(
            "{settled} && Array.prototype.some.call(document.querySelectorAll('#tiles img'), \
             function (i) {{ return /\\/tiles\\/4\\/\\d+\\/\\d+\\.png\\?how=linear$/.test(i.src) \
             && i.naturalWidth > 0; }}) \
             && /(^#|&)how=linear(&|$)/.test(location.hash) \
             && / linear$/.test(document.getElementById('legend-title').textContent)"
        ),
    );

    // (e) A refused override shows the server's reason, not broken tiles.
    page.eval(
        "(function () { var a = document.getElementById('agg'); a.value = 'mean:nope'; \
         a.dispatchEvent(new Event('change', { bubbles: true })); return true; })()",
    );
    page.wait(
        "the server's reason for a bad agg",
        "!document.getElementById('error').hidden && \
         /HTTP 400: agg 'mean:nope'/.test(document.getElementById('error').textContent)",
    );

    // (f) A shared link: view and overrides from the hash, the colour bar
    // in the overriding colormap.
    page.navigate(&format!("{url}#z=5&lon=-98&lat=38&how=cbrt&cmap=viridis"));
    page.wait(
        "the view of the hash",
        &format!(
            "{settled} && window.pointillistViewer.zoom === 5 \
             && document.getElementById('how').value === 'cbrt' \
             && document.getElementById('cmap').value === 'viridis' \
             && document.body.dataset.legend === 'bar' \
             && / cbrt$/.test(document.getElementById('legend-title').textContent) \
             && performance.getEntriesByType('resource').some(function (e) {{ \
                  return /\\/tiles\\/5\\/\\d+\\/\\d+\\.png\\?how=cbrt&cmap=viridis$/.test(e.name); }})"
        ),
    );
    let (_, viridis) = legend_colors(&server, "?cmap=viridis");
    assert_bar_is(&mut page, "viridis", &viridis);

    // (g) A categorical layer: swatches with the category names and colours.
    page.navigate(&format!("{url}#agg=count_cat:cat"));
    page.wait(
        "category swatches",
        &format!("{settled} && document.body.dataset.legend === 'categories'"),
    );
    let (cat, _) = legend_colors(&server, "?agg=count_cat:cat");
    let names: Vec<&str> = cat["categories"]
        .as_array()
        .expect("categories")
        .iter()
        .map(|c| c.as_str().expect("name"))
        .collect();
    assert_eq!(names, ["asian", "black", "hispanic", "other", "white"]);
    let rows = page.eval(
        "Array.prototype.map.call(document.querySelectorAll('#legend-cats div'), function (d) { \
         return [d.textContent, getComputedStyle(d.firstChild).backgroundColor]; })",
    );
    let rows = rows.as_array().expect("swatch rows");
    assert_eq!(rows.len(), names.len(), "{rows:?}");
    for (i, row) in rows.iter().enumerate() {
        assert_eq!(row[0], names[i], "{rows:?}");
        let c = parse_hex(cat["category_colors"][i].as_str().expect("colour"));
        assert_eq!(
            row[1],
            format!("rgb({}, {}, {})", c[0], c[1], c[2]),
            "{rows:?}"
        );
    }
    eprintln!(
        "viewer controls test: {:.1} s",
        started.elapsed().as_secs_f64()
    );
}
