//! End to end: the real `pointillist serve` on the embedded sample, and its
//! viewer page at `/` opened in headless Chromium (Debian's `chromium`, which
//! `.ci/run` installs). The page must report loaded tiles
//! (`data-loaded-tiles` on `<body>`), open on a view that fits the data, and
//! a screenshot of it must show many pixels in the server's colormap.
//!
//! Chromium is `$POINTILLIST_CHROMIUM`, else `chromium` or `chromium-browser`
//! on `PATH`, else `/usr/bin/chromium`. Without one the test says it was
//! skipped and passes, except under CI (`CI` set), where it fails.
//! `POINTILLIST_VIEWER_SCREENSHOT=<file>` keeps a copy of the screenshot.

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
    fn start(dir: &Path) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_pointillist"))
            .args(["serve", "--port", "0"])
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

/// Run headless Chromium on `url` with a fresh profile and `extra` flags;
/// its stdout. Killed (with its helpers) after [`BROWSER_TIMEOUT`].
fn chromium(bin: &Path, extra: &[String], url: &str) -> String {
    let profile = tempfile::tempdir().expect("profile dir");
    let mut child = Command::new(bin)
        .args([
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
        ])
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
fn decode_rgb(path: &Path) -> (usize, usize, Vec<[u8; 3]>) {
    let file = std::fs::File::open(path).expect("open screenshot");
    let mut dec = png::Decoder::new(BufReader::new(file));
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

#[test]
fn viewer_draws_tiles_in_headless_chromium() {
    let Some(bin) = find_chromium() else {
        if std::env::var_os("CI").is_some() {
            panic!(
                "no Chromium found (POINTILLIST_CHROMIUM, chromium on PATH, /usr/bin/chromium); \
                 CI must run the viewer test: install Debian's chromium (.ci/run does)"
            );
        }
        eprintln!(
            "viewer_draws_tiles_in_headless_chromium: SKIPPED, no Chromium found \
             (set POINTILLIST_CHROMIUM or install Debian's chromium)"
        );
        return;
    };
    let started = Instant::now();
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path());
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
    let (w, h, px) = decode_rgb(&shot);
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
