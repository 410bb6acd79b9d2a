//! Load generator for `pointillist serve`: latency of uncached tiles and
//! throughput of cached ones, over keep-alive HTTP/1.1 on loopback.
//!
//! ```sh
//! pointillist serve BIG.parquet --port 8080 &
//! cargo run --release --example tile_load -- 127.0.0.1:8080 [--zooms 4-14] [--tiles 50] [--conns 8] [--seconds 5]
//! ```
//!
//! Phase 1 requests `--tiles` random tiles per zoom level (inside the
//! data's bounds from `/tilejson.json`, never asked before, one at a time)
//! and prints p50/p99/max per zoom. Phase 2 re-requests those tiles from
//! `--conns` connections for `--seconds` and prints tiles/s.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

struct Conn {
    r: BufReader<TcpStream>,
    w: TcpStream,
    host: String,
}

impl Conn {
    fn open(host: &str) -> Result<Conn, BoxError> {
        let s = TcpStream::connect(host)?;
        s.set_nodelay(true)?;
        Ok(Conn {
            r: BufReader::new(s.try_clone()?),
            w: s,
            host: host.into(),
        })
    }

    /// GET `path`; the status code and body length.
    fn get(&mut self, path: &str) -> Result<(u16, Vec<u8>), BoxError> {
        write!(self.w, "GET {path} HTTP/1.1\r\nHost: {}\r\n\r\n", self.host)?;
        let mut line = String::new();
        self.r.read_line(&mut line)?;
        let status: u16 = line.split(' ').nth(1).ok_or("no status")?.parse()?;
        let mut len = 0usize;
        loop {
            line.clear();
            self.r.read_line(&mut line)?;
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some(v) = l.to_ascii_lowercase().strip_prefix("content-length:") {
                len = v.trim().parse()?;
            }
        }
        let mut body = vec![0u8; len];
        self.r.read_exact(&mut body)?;
        Ok((status, body))
    }
}

/// A small deterministic generator (xorshift64*).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn tile_of(lon: f64, lat: f64, z: u32) -> (u64, u64) {
    let n = (1u64 << z) as f64;
    let lat = lat.clamp(-85.0511, 85.0511).to_radians();
    let x = ((lon + 180.0) / 360.0 * n).floor();
    let y = ((1.0 - (lat.tan() + 1.0 / lat.cos()).ln() / std::f64::consts::PI) / 2.0 * n).floor();
    (x.clamp(0.0, n - 1.0) as u64, y.clamp(0.0, n - 1.0) as u64)
}

fn pct(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

fn main() -> Result<(), BoxError> {
    let mut args = std::env::args().skip(1);
    let host = args
        .next()
        .ok_or("usage: tile_load HOST:PORT [--zooms A-B] [--tiles N] [--conns N] [--seconds S]")?;
    let (mut z0, mut z1, mut per, mut conns, mut secs) = (4u32, 14u32, 50usize, 8usize, 5u64);
    while let Some(a) = args.next() {
        let v = args.next().ok_or(format!("{a} needs a value"))?;
        match a.as_str() {
            "--zooms" => {
                let (a, b) = v.split_once('-').ok_or("--zooms A-B")?;
                (z0, z1) = (a.parse()?, b.parse()?);
            }
            "--tiles" => per = v.parse()?,
            "--conns" => conns = v.parse()?,
            "--seconds" => secs = v.parse()?,
            _ => return Err(format!("unknown flag {a}").into()),
        }
    }
    let mut c = Conn::open(&host)?;
    let (_, tj) = c.get("/tilejson.json")?;
    let tj = String::from_utf8(tj)?;
    let b: Vec<f64> = tj
        .split("\"bounds\":[")
        .nth(1)
        .and_then(|s| s.split(']').next())
        .ok_or("no bounds in tilejson")?
        .split(',')
        .map(|s| s.trim().parse())
        .collect::<Result<_, _>>()?;
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut all = Vec::new();
    println!("zoom  tiles  ok  empty  p50_ms  p99_ms  max_ms");
    for z in z0..=z1 {
        let mut lat_ms = Vec::new();
        let (mut ok, mut empty) = (0, 0);
        let mut seen = std::collections::HashSet::new();
        let mut attempts = 0;
        while lat_ms.len() < per && attempts < per * 50 {
            attempts += 1;
            let lon = b[0] + (b[2] - b[0]) * rng.unit();
            let lat = b[1] + (b[3] - b[1]) * rng.unit();
            let (x, y) = tile_of(lon, lat, z);
            if !seen.insert((x, y)) {
                continue;
            }
            let path = format!("/tiles/{z}/{x}/{y}.png");
            let t = Instant::now();
            let (st, _) = c.get(&path)?;
            lat_ms.push(t.elapsed().as_secs_f64() * 1e3);
            match st {
                200 => ok += 1,
                204 => empty += 1,
                other => return Err(format!("{path}: status {other}").into()),
            }
            all.push(path);
        }
        let n = lat_ms.len();
        let (p50, p99, max) = (
            pct(&mut lat_ms, 0.5),
            pct(&mut lat_ms, 0.99),
            pct(&mut lat_ms, 1.0),
        );
        println!("{z:>4}  {n:>5}  {ok:>3}  {empty:>5}  {p50:>6.1}  {p99:>6.1}  {max:>6.1}");
    }
    // Phase 2: cached tiles from many connections.
    let stop = Instant::now() + Duration::from_secs(secs);
    let handles: Vec<_> = (0..conns)
        .map(|i| {
            let host = host.clone();
            let paths = all.clone();
            std::thread::spawn(move || -> Result<u64, BoxError> {
                let mut c = Conn::open(&host)?;
                let mut n = 0u64;
                let mut k = i;
                while Instant::now() < stop {
                    let (st, _) = c.get(&paths[k % paths.len()])?;
                    if st != 200 && st != 204 {
                        return Err(format!("status {st}").into());
                    }
                    n += 1;
                    k += 7;
                }
                Ok(n)
            })
        })
        .collect();
    let mut total = 0;
    for h in handles {
        total += h.join().map_err(|_| "a client thread panicked")??;
    }
    println!(
        "cached: {total} tiles in {secs} s from {conns} connections = {:.0} tiles/s",
        total as f64 / secs as f64
    );
    Ok(())
}
