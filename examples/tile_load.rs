//! Load test for `pointillist serve`: random tiles at a concurrency,
//! cached throughput, half-open clients and malformed requests, over
//! keep-alive HTTP/1.1 on loopback, with the server's RSS sampled
//! throughout. `benches/load_test.sh` runs it against an indexed file.
//!
//! ```sh
//! pointillist serve BIG.parquet --port 8080 &
//! cargo run --release --example tile_load -- 127.0.0.1:8080 --pid $! \
//!     [--phases random,cached,half-open,fuzz] [--zooms 4-14] [--requests 100000] \
//!     [--conns 64] [--seconds 10] [--cached-tiles 2000] [--half-open 1000] [--seed 1]
//! ```
//!
//! Phases:
//! - `random`: `--requests` requests for random tiles inside the data's
//!   bounds (from `/tilejson.json`) at zooms `--zooms`, from `--conns`
//!   keep-alive connections; per-zoom and overall p50/p99/max latency.
//!   Most are uncached (a random tile at zoom 14 is rarely asked twice).
//! - `cached`: `--cached-tiles` random tiles are asked once, then
//!   re-asked from `--conns` connections for `--seconds`: tiles/s.
//! - `half-open`: `--half-open` connections each send half a request and
//!   stop; the time until the server closes each is measured while one
//!   well-behaved client keeps asking for tiles (its latency is reported).
//! - `fuzz`: malformed addresses, overrides, methods, headers and raw bytes
//!   that are not HTTP; every answer must be a 4xx (or a closed connection
//!   for bytes that are not HTTP), never a 5xx.
//!
//! Every phase counts statuses, 5xx answers and connections the server
//! dropped. The process exits non-zero when any 5xx is seen.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

struct Conn {
    r: BufReader<TcpStream>,
    w: TcpStream,
    host: String,
    req: Vec<u8>,
}

impl Conn {
    fn open(host: &str) -> Result<Conn, BoxError> {
        let s = TcpStream::connect(host)?;
        s.set_nodelay(true)?;
        s.set_read_timeout(Some(Duration::from_secs(60)))?;
        Ok(Conn {
            r: BufReader::with_capacity(64 << 10, s.try_clone()?),
            w: s,
            host: host.into(),
            req: Vec::with_capacity(256),
        })
    }

    /// `METHOD path` with `extra` header lines; the status and body.
    fn call(&mut self, method: &str, path: &str, extra: &str) -> Result<(u16, Vec<u8>), BoxError> {
        self.req.clear();
        write!(
            self.req,
            "{method} {path} HTTP/1.1\r\nHost: {}\r\n{extra}\r\n",
            self.host
        )?;
        self.w.write_all(&self.req)?;
        read_response(&mut self.r, method == "HEAD")
    }

    fn get(&mut self, path: &str) -> Result<(u16, Vec<u8>), BoxError> {
        self.call("GET", path, "")
    }
}

/// One HTTP/1.1 response with a Content-Length (or none, for 204/304/HEAD).
fn read_response(r: &mut impl BufRead, head: bool) -> Result<(u16, Vec<u8>), BoxError> {
    let mut line = String::new();
    if r.read_line(&mut line)? == 0 {
        return Err("connection closed".into());
    }
    let status: u16 = line.split(' ').nth(1).ok_or("no status")?.parse()?;
    let mut len = 0usize;
    loop {
        line.clear();
        if r.read_line(&mut line)? == 0 {
            return Err("connection closed in headers".into());
        }
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((k, v)) = l.split_once(':') {
            if k.eq_ignore_ascii_case("content-length") {
                len = v.trim().parse()?;
            } else if k.eq_ignore_ascii_case("transfer-encoding") {
                return Err("chunked responses are not expected".into());
            }
        }
    }
    if head || status == 204 || status == 304 {
        len = 0;
    }
    let mut body = vec![0u8; len];
    r.read_exact(&mut body)?;
    Ok((status, body))
}

/// A small deterministic generator (xorshift64*).
struct Rng(u64);
impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

fn tile_of(lon: f64, lat: f64, z: u32) -> (u64, u64) {
    let n = (1u64 << z) as f64;
    let lat = lat.clamp(-85.0511, 85.0511).to_radians();
    let x = ((lon + 180.0) / 360.0 * n).floor();
    let y = ((1.0 - (lat.tan() + 1.0 / lat.cos()).ln() / std::f64::consts::PI) / 2.0 * n).floor();
    (x.clamp(0.0, n - 1.0) as u64, y.clamp(0.0, n - 1.0) as u64)
}

/// A random tile inside `bounds` (lon/lat) at a zoom in `zooms`.
fn random_tile(rng: &mut Rng, bounds: &[f64; 4], zooms: (u32, u32)) -> (u32, String) {
    let z = zooms.0 + rng.below(u64::from(zooms.1 - zooms.0 + 1)) as u32;
    let lon = bounds[0] + (bounds[2] - bounds[0]) * rng.unit();
    let lat = bounds[1] + (bounds[3] - bounds[1]) * rng.unit();
    let (x, y) = tile_of(lon, lat, z);
    (z, format!("/tiles/{z}/{x}/{y}.png"))
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// What a phase saw.
#[derive(Default)]
struct Tally {
    statuses: BTreeMap<u16, u64>,
    dropped: u64,
    latencies_ms: Vec<(u32, f64)>,
}

impl Tally {
    fn merge(&mut self, o: Tally) {
        for (k, v) in o.statuses {
            *self.statuses.entry(k).or_default() += v;
        }
        self.dropped += o.dropped;
        self.latencies_ms.extend(o.latencies_ms);
    }
    fn five_xx(&self) -> u64 {
        self.statuses.range(500..600).map(|(_, v)| v).sum()
    }
    fn statuses(&self) -> String {
        let s: Vec<String> = self
            .statuses
            .iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect();
        s.join(", ")
    }
}

/// The server's resident memory, sampled every 250 ms.
struct RssSampler {
    stop: Arc<AtomicBool>,
    samples: Arc<Mutex<Vec<(f64, u64)>>>,
    handle: Option<std::thread::JoinHandle<()>>,
}

fn rss_kb(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = s.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

impl RssSampler {
    fn start(pid: Option<u32>) -> RssSampler {
        let stop = Arc::new(AtomicBool::new(false));
        let samples = Arc::new(Mutex::new(Vec::new()));
        let handle = pid.map(|pid| {
            let (stop, samples) = (stop.clone(), samples.clone());
            std::thread::spawn(move || {
                let t0 = Instant::now();
                while !stop.load(Ordering::Relaxed) {
                    if let Some(kb) = rss_kb(pid) {
                        if let Ok(mut s) = samples.lock() {
                            s.push((t0.elapsed().as_secs_f64(), kb));
                        }
                    }
                    std::thread::sleep(Duration::from_millis(250));
                }
            })
        });
        RssSampler {
            stop,
            samples,
            handle,
        }
    }

    fn now_mb(&self) -> Option<f64> {
        let s = self.samples.lock().ok()?;
        s.last().map(|&(_, kb)| kb as f64 / 1024.0)
    }

    fn finish(mut self) -> Vec<(f64, u64)> {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
        self.samples.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

struct Args {
    host: String,
    pid: Option<u32>,
    phases: Vec<String>,
    zooms: (u32, u32),
    requests: u64,
    conns: usize,
    seconds: f64,
    cached_tiles: usize,
    half_open: usize,
    seed: u64,
}

fn parse_args() -> Result<Args, BoxError> {
    let mut it = std::env::args().skip(1);
    let host = it.next().ok_or(
        "usage: tile_load HOST:PORT [--pid PID] [--phases random,cached,half-open,fuzz] \
         [--zooms A-B] [--requests N] [--conns N] [--seconds S] [--cached-tiles N] \
         [--half-open N] [--seed N]",
    )?;
    let mut a = Args {
        host,
        pid: None,
        phases: ["random", "cached", "half-open", "fuzz"]
            .map(String::from)
            .to_vec(),
        zooms: (4, 14),
        requests: 100_000,
        conns: 64,
        seconds: 10.0,
        cached_tiles: 2000,
        half_open: 1000,
        seed: 1,
    };
    while let Some(flag) = it.next() {
        let v = it.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--pid" => a.pid = Some(v.parse()?),
            "--phases" => a.phases = v.split(',').map(String::from).collect(),
            "--zooms" => {
                let (x, y) = v.split_once('-').ok_or("--zooms A-B")?;
                a.zooms = (x.parse()?, y.parse()?);
                if a.zooms.0 > a.zooms.1 || a.zooms.1 > 24 {
                    return Err("--zooms A-B needs A <= B <= 24".into());
                }
            }
            "--requests" => a.requests = v.parse()?,
            "--conns" => a.conns = v.parse::<usize>()?.max(1),
            "--seconds" => a.seconds = v.parse()?,
            "--cached-tiles" => a.cached_tiles = v.parse::<usize>()?.max(1),
            "--half-open" => a.half_open = v.parse()?,
            "--seed" => a.seed = v.parse()?,
            _ => return Err(format!("unknown flag {flag}").into()),
        }
    }
    Ok(a)
}

fn bounds(host: &str) -> Result<[f64; 4], BoxError> {
    let mut c = Conn::open(host)?;
    let (st, tj) = c.get("/tilejson.json")?;
    if st != 200 {
        return Err(format!("/tilejson.json answered {st}").into());
    }
    let tj = String::from_utf8(tj)?;
    let b: Vec<f64> = tj
        .split("\"bounds\":[")
        .nth(1)
        .and_then(|s| s.split(']').next())
        .ok_or("no bounds in tilejson")?
        .split(',')
        .map(|s| s.trim().parse())
        .collect::<Result<_, _>>()?;
    b.try_into().map_err(|_| "bounds is not 4 numbers".into())
}

/// The next request of connection `i`: its zoom (for the latency table)
/// and path, or `None` to stop.
type NextTile = Arc<dyn Fn(usize, &mut Rng) -> Option<(u32, String)> + Send + Sync>;

/// Send `next`'s paths from `conns` connections until it returns `None`.
fn hammer(host: &str, conns: usize, next: NextTile, seed: u64, keep_latency: bool) -> Tally {
    let handles: Vec<_> = (0..conns)
        .map(|i| {
            let host = host.to_string();
            let next = next.clone();
            std::thread::spawn(move || {
                let mut t = Tally::default();
                let mut rng = Rng::new(seed.wrapping_add(i as u64 + 1));
                let mut c = Conn::open(&host).ok();
                while let Some((z, path)) = next(i, &mut rng) {
                    let conn = match c.as_mut() {
                        Some(c) => c,
                        None => match Conn::open(&host) {
                            Ok(n) => c.insert(n),
                            Err(_) => {
                                t.dropped += 1;
                                std::thread::sleep(Duration::from_millis(10));
                                continue;
                            }
                        },
                    };
                    let t0 = Instant::now();
                    match conn.get(&path) {
                        Ok((st, _)) => {
                            *t.statuses.entry(st).or_default() += 1;
                            if keep_latency {
                                t.latencies_ms.push((z, t0.elapsed().as_secs_f64() * 1e3));
                            }
                        }
                        Err(_) => {
                            t.dropped += 1;
                            c = None;
                        }
                    }
                }
                t
            })
        })
        .collect();
    let mut all = Tally::default();
    for h in handles {
        if let Ok(t) = h.join() {
            all.merge(t);
        }
    }
    all
}

fn latency_table(t: &Tally) {
    let mut by_zoom: BTreeMap<u32, Vec<f64>> = BTreeMap::new();
    let mut all: Vec<f64> = Vec::with_capacity(t.latencies_ms.len());
    for &(z, ms) in &t.latencies_ms {
        by_zoom.entry(z).or_default().push(ms);
        all.push(ms);
    }
    println!("| zoom | requests | p50 ms | p99 ms | max ms |");
    println!("|---:|---:|---:|---:|---:|");
    for (z, v) in by_zoom.iter_mut() {
        v.sort_by(f64::total_cmp);
        println!(
            "| {z} | {} | {:.1} | {:.1} | {:.1} |",
            v.len(),
            pct(v, 0.5),
            pct(v, 0.99),
            pct(v, 1.0)
        );
    }
    all.sort_by(f64::total_cmp);
    println!(
        "| all | {} | {:.1} | {:.1} | {:.1} |",
        all.len(),
        pct(&all, 0.5),
        pct(&all, 0.99),
        pct(&all, 1.0)
    );
}

fn phase_random(a: &Args, b: [f64; 4]) -> Tally {
    let left = Arc::new(AtomicU64::new(a.requests));
    let zooms = a.zooms;
    let next = Arc::new(move |_: usize, rng: &mut Rng| {
        left.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
            .ok()?;
        Some(random_tile(rng, &b, zooms))
    });
    let t0 = Instant::now();
    let t = hammer(&a.host, a.conns, next, a.seed, true);
    let secs = t0.elapsed().as_secs_f64();
    println!(
        "\n### random tiles: {} requests, zooms {}-{}, {} connections\n",
        a.requests, a.zooms.0, a.zooms.1, a.conns
    );
    latency_table(&t);
    println!(
        "\n{:.1} s, {:.0} requests/s; statuses {}; 5xx: {}; dropped connections: {}",
        secs,
        t.latencies_ms.len() as f64 / secs,
        t.statuses(),
        t.five_xx(),
        t.dropped
    );
    t
}

fn phase_cached(a: &Args, b: [f64; 4]) -> Tally {
    let mut rng = Rng::new(a.seed ^ 0xcafe);
    let paths: Arc<Vec<String>> = Arc::new(
        (0..a.cached_tiles)
            .map(|_| random_tile(&mut rng, &b, a.zooms).1)
            .collect(),
    );
    // Ask each once (they render and enter the cache).
    let warm = {
        let paths = paths.clone();
        let i = Arc::new(AtomicU64::new(0));
        Arc::new(move |_: usize, _: &mut Rng| {
            let k = i.fetch_add(1, Ordering::Relaxed) as usize;
            paths.get(k).map(|p| (0, p.clone()))
        })
    };
    let mut t = hammer(&a.host, a.conns.min(8), warm, a.seed, false);
    let stop = Instant::now() + Duration::from_secs_f64(a.seconds);
    let next = {
        let paths = paths.clone();
        Arc::new(move |_: usize, rng: &mut Rng| {
            if Instant::now() >= stop {
                return None;
            }
            let k = rng.below(paths.len() as u64) as usize;
            Some((0, paths[k].clone()))
        })
    };
    let t0 = Instant::now();
    let hot = hammer(&a.host, a.conns, next, a.seed, false);
    let secs = t0.elapsed().as_secs_f64();
    let n: u64 = hot.statuses.values().sum();
    println!(
        "\n### cached tiles: {} tiles asked once, then re-asked from {} connections for {:.0} s\n",
        a.cached_tiles, a.conns, a.seconds
    );
    println!(
        "{n} responses in {secs:.1} s = **{:.0} tiles/s**; statuses {}; 5xx: {}; dropped: {}",
        n as f64 / secs,
        hot.statuses(),
        hot.five_xx(),
        hot.dropped
    );
    t.merge(hot);
    t
}

fn phase_half_open(a: &Args, b: [f64; 4], rss: &RssSampler) -> Result<Tally, BoxError> {
    // Open them all, each with half a request line and header.
    let t_open = Instant::now();
    let mut socks = Vec::with_capacity(a.half_open);
    for i in 0..a.half_open {
        let mut s = TcpStream::connect(&a.host)?;
        s.write_all(
            format!(
                "GET /tiles/5/{}/12.png HTTP/1.1\r\nHost: x\r\nX-Slow",
                i % 32
            )
            .as_bytes(),
        )?;
        socks.push(s);
    }
    let opened_in = t_open.elapsed().as_secs_f64();
    let rss_open = rss.now_mb();
    // Meanwhile a good client keeps asking for tiles.
    let stop = Arc::new(AtomicBool::new(false));
    let good = {
        let (stop, host, zooms) = (stop.clone(), a.host.clone(), a.zooms);
        let seed = a.seed;
        std::thread::spawn(move || {
            let next = Arc::new(move |_: usize, rng: &mut Rng| {
                (!stop.load(Ordering::Relaxed)).then(|| random_tile(rng, &b, zooms))
            });
            hammer(&host, 1, next, seed ^ 0xbeef, true)
        })
    };
    // Each half-open connection: when the server closes it.
    let watchers: Vec<_> = socks
        .into_iter()
        .map(|mut s| {
            std::thread::Builder::new()
                .stack_size(64 << 10)
                .spawn(move || -> Option<f64> {
                    s.set_read_timeout(Some(Duration::from_secs(120))).ok()?;
                    let mut buf = [0u8; 1024];
                    loop {
                        match s.read(&mut buf) {
                            Ok(0) | Err(_) => return Some(t_open.elapsed().as_secs_f64()),
                            Ok(_) => {}
                        }
                    }
                })
        })
        .collect::<Result<_, _>>()?;
    let mut closed: Vec<f64> = watchers
        .into_iter()
        .filter_map(|h| h.join().ok().flatten())
        .collect();
    stop.store(true, Ordering::Relaxed);
    let good = good.join().map_err(|_| "the good client panicked")?;
    closed.sort_by(f64::total_cmp);
    println!(
        "\n### half-open clients: {} connections each sent half a request\n",
        a.half_open
    );
    println!(
        "opened in {opened_in:.2} s (server RSS then: {}); closed by the server: {} of {}, \
         the first after {:.1} s, the median {:.1} s, the last {:.1} s after the first opened",
        rss_open.map_or("n/a".into(), |m| format!("{m:.0} MB")),
        closed.len(),
        a.half_open,
        pct(&closed, 0.0),
        pct(&closed, 0.5),
        pct(&closed, 1.0)
    );
    let mut lat: Vec<f64> = good.latencies_ms.iter().map(|&(_, ms)| ms).collect();
    lat.sort_by(f64::total_cmp);
    println!(
        "meanwhile one client got {} tiles: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms; statuses {}; dropped {}",
        lat.len(),
        pct(&lat, 0.5),
        pct(&lat, 0.99),
        pct(&lat, 1.0),
        good.statuses(),
        good.dropped
    );
    Ok(good)
}

fn phase_fuzz(a: &Args) -> Tally {
    let long = "9".repeat(400);
    let mut paths: Vec<(String, String, String)> = Vec::new();
    let mut add = |m: &str, p: String, h: &str| paths.push((m.into(), p, h.into()));
    for p in [
        "/tiles/99/0/0.png".to_string(),
        "/tiles/-1/0/0.png".into(),
        "/tiles/3/8/0.png".into(),
        "/tiles/3/0/8.png".into(),
        format!("/tiles/{long}/0/0.png"),
        "/tiles/3/1/1.jpg".into(),
        "/tiles/3/1/1@3x.png".into(),
        "/tiles/3/1/.png".into(),
        "/tiles/3/x/1.png".into(),
        "/tiles/3/1/1.png?how=nope".into(),
        "/tiles/3/1/1.png?cmap=%00%ff".into(),
        "/tiles/3/1/1.png?agg=mean:nosuchcolumn".into(),
        "/tiles/3/1/1.png?agg=count_cat:".into(),
        "/tiles/3/1/1.png?agg=%E2%98%83".into(),
        "/tiles/3/1/1.png?span=1".into(),
        "/tiles/3/1/1.png?span=nan,inf".into(),
        "/tiles/3/1/1.png?span=5,1".into(),
        format!("/tiles/3/1/1.png?agg={}", "x".repeat(5000)),
        "/legend.json?z=99".into(),
        "/legend.json?z=-1".into(),
        "/../../etc/passwd".into(),
        "/tiles/../../etc/passwd".into(),
        "/%2e%2e/%2e%2e/etc/passwd".into(),
        "/nosuchpath".into(),
    ] {
        add("GET", p, "");
    }
    for m in ["POST", "PUT", "DELETE", "PATCH", "TRACE", "BREW"] {
        add(m, "/tiles/3/1/1.png".into(), "Content-Length: 0\r\n");
    }
    for h in [
        "If-None-Match: garbage\r\n",
        "If-None-Match: \"\r\n",
        "If-None-Match: W/\"x\", *, \"\"\r\n",
        "Range: bytes=99999-0\r\n",
        "Accept-Encoding: \u{7f}\r\n",
    ] {
        add("GET", "/tiles/3/1/3.png".into(), h);
    }
    let mut rng = Rng::new(a.seed ^ 0xf00d);
    let mut t = Tally::default();
    let mut c: Option<Conn> = None;
    for _round in 0..60 {
        for (m, p, h) in &paths {
            let conn = match c.as_mut() {
                Some(c) => c,
                None => match Conn::open(&a.host) {
                    Ok(n) => c.insert(n),
                    Err(_) => {
                        t.dropped += 1;
                        continue;
                    }
                },
            };
            match conn.call(m, p, h) {
                Ok((st, _)) => *t.statuses.entry(st).or_default() += 1,
                Err(_) => {
                    t.dropped += 1;
                    c = None;
                }
            }
        }
        // Bytes that are not HTTP: a 400 or a closed connection, no 5xx.
        let mut junk = vec![0u8; 64 + rng.below(512) as usize];
        for b in junk.iter_mut() {
            *b = rng.next() as u8;
        }
        junk.extend_from_slice(b"\r\n\r\n");
        if let Ok(mut s) = TcpStream::connect(&a.host) {
            let _ = s.set_read_timeout(Some(Duration::from_secs(20)));
            if s.write_all(&junk).is_ok() {
                let mut r = BufReader::new(s);
                match read_response(&mut r, false) {
                    Ok((st, _)) => *t.statuses.entry(st).or_default() += 1,
                    Err(_) => t.dropped += 1,
                }
            }
        }
    }
    let n: u64 = t.statuses.values().sum::<u64>() + t.dropped;
    println!("\n### malformed requests: {n}\n");
    println!(
        "statuses {}; 5xx: {}; connections closed without an answer: {}",
        t.statuses(),
        t.five_xx(),
        t.dropped
    );
    t
}

fn main() -> Result<(), BoxError> {
    let a = parse_args()?;
    let b = bounds(&a.host)?;
    let rss = RssSampler::start(a.pid);
    let t0 = Instant::now();
    let mut five_xx = 0;
    let mut marks = Vec::new();
    for phase in &a.phases {
        let t = match phase.as_str() {
            "random" => phase_random(&a, b),
            "cached" => phase_cached(&a, b),
            "half-open" => phase_half_open(&a, b, &rss)?,
            "fuzz" => phase_fuzz(&a),
            other => return Err(format!("unknown phase '{other}'").into()),
        };
        five_xx += t.five_xx();
        marks.push((phase.clone(), t0.elapsed().as_secs_f64(), rss.now_mb()));
    }
    let samples = rss.finish();
    if !samples.is_empty() {
        let mb = |kb: u64| kb as f64 / 1024.0;
        let max = samples.iter().map(|s| s.1).max().unwrap_or(0);
        println!(
            "\n### server RSS\n\nfirst sample {:.0} MB, peak {:.0} MB, last {:.0} MB ({} samples over {:.0} s)",
            mb(samples[0].1),
            mb(max),
            mb(samples[samples.len() - 1].1),
            samples.len(),
            samples[samples.len() - 1].0
        );
        let marks: Vec<String> = marks
            .iter()
            .map(|(p, t, m)| {
                format!(
                    "after {p} ({t:.0} s): {}",
                    m.map_or("n/a".into(), |m| format!("{m:.0} MB"))
                )
            })
            .collect();
        println!("{}", marks.join("; "));
        // A coarse series: one sample per tenth of the run.
        let step = (samples.len() / 10).max(1);
        let series: Vec<String> = samples
            .iter()
            .step_by(step)
            .map(|&(t, kb)| format!("{t:.0} s: {:.0}", mb(kb)))
            .collect();
        println!("series (MB): {}", series.join(", "));
    }
    if five_xx > 0 {
        return Err(format!("{five_xx} responses were 5xx").into());
    }
    Ok(())
}
