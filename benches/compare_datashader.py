#!/usr/bin/env python3
"""Side-by-side benchmark of pointillist against Datashader 0.19.1.

Driven by ``benches/compare_datashader.sh`` (which builds the binaries, makes
the virtual environment and the data); see ``benches/README.md``. Three
subcommands:

``ds``       one Datashader run in this (fresh) process: read the Parquet file
             with pandas, aggregate with ``Canvas.points``, shade, save a PNG.
             Prints its own phase timings as JSON.
``bench``    the orchestrator: runs every scenario in fresh processes under
             ``/usr/bin/time -v`` (wall time, peak RSS), alternating which
             side goes first, and writes the Markdown table and the raw JSON.
``compare``  pixel-wise comparison of two PNGs (within one level per channel,
             fully transparent pixels in the same places).

The orchestrator imports only the standard library, numpy and PIL; Datashader
is imported only inside the ``ds`` worker processes, so each of them pays the
import and numba JIT cost a real user pays.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

T_PROCESS = time.perf_counter()

# Targets: (scenario -> (min speed-up, min RSS ratio)); decode: max ratio.
TARGETS = {
    "count": (10.0, 20.0),
    "mean": (10.0, 20.0),
    "count_cat": (10.0, 20.0),
    "shade4096": (5.0, None),
}
DECODE_MAX_RATIO = 1.5

# A window of ~1% of the data's area (10% of each side) centred on New York.
# The synthetic data spans the contiguous US, lon -125..-66.9, lat 24.4..49.4,
# i.e. x -13.91e6..-7.45e6 (6.47e6 m) and y 2.80e6..6.34e6 (3.54e6 m) in Web
# Mercator.
ZOOM_CENTRE = (-8.24e6, 4.97e6)
ZOOM_HALF = (0.1 * 6.468e6 / 2, 0.1 * 3.541e6 / 2)
ZOOM_X = (ZOOM_CENTRE[0] - ZOOM_HALF[0], ZOOM_CENTRE[0] + ZOOM_HALF[0])
ZOOM_Y = (ZOOM_CENTRE[1] - ZOOM_HALF[1], ZOOM_CENTRE[1] + ZOOM_HALF[1])


class BenchError(RuntimeError):
    pass


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------
# Datashader worker (runs in a fresh process per measurement)
# ---------------------------------------------------------------------------


def ds_worker(a: argparse.Namespace) -> None:
    t = time.perf_counter()
    import colorcet
    import datashader as ds
    import datashader.transfer_functions as tf
    import pandas as pd

    import_s = time.perf_counter() - t

    scenario = a.scenario
    columns = {"mean": ["x", "y", "val"], "count_cat": ["x", "y", "cat"]}.get(
        scenario, ["x", "y"]
    )
    reduction = {
        "mean": lambda: ds.mean("val"),
        "count_cat": lambda: ds.count_cat("cat"),
    }.get(scenario, ds.count)
    x_range = tuple(a.x_range) if a.x_range else None
    y_range = tuple(a.y_range) if a.y_range else None

    def shade(agg):
        if scenario == "count_cat":
            # The default colour key (Sets1to3); cmap does not apply.
            return tf.shade(agg, how="eq_hist")
        return tf.shade(agg, cmap=colorcet.fire, how="eq_hist")

    passes = []
    rows = None
    if scenario == "shade4096":
        # Aggregate once (not timed), then time shading + PNG only; the
        # second call runs with numba's functions already compiled.
        t = time.perf_counter()
        df = pd.read_parquet(a.path, columns=columns)
        rows = len(df)
        cvs = ds.Canvas(plot_width=a.width, plot_height=a.height)
        agg = cvs.points(df, "x", "y", ds.count())
        setup_s = time.perf_counter() - t
        del df
        for _ in range(a.passes):
            t = time.perf_counter()
            img = shade(agg)
            t_shade = time.perf_counter()
            img.to_pil().save(a.out)
            t_save = time.perf_counter()
            passes.append(
                {
                    "shade_s": t_shade - t,
                    "save_s": t_save - t_shade,
                    "total_s": t_save - t,
                }
            )
            del img
        result = {"setup_s": setup_s}
    else:
        for _ in range(a.passes):
            t = time.perf_counter()
            df = pd.read_parquet(a.path, columns=columns)
            if scenario == "count_cat" and not isinstance(
                df["cat"].dtype, pd.CategoricalDtype
            ):
                df["cat"] = df["cat"].astype("category")
            rows = len(df)
            t_read = time.perf_counter()
            cvs = ds.Canvas(
                plot_width=a.width, plot_height=a.height, x_range=x_range, y_range=y_range
            )
            agg = cvs.points(df, "x", "y", reduction())
            t_agg = time.perf_counter()
            img = shade(agg)
            t_shade = time.perf_counter()
            img.to_pil().save(a.out)
            t_save = time.perf_counter()
            passes.append(
                {
                    "read_s": t_read - t,
                    "aggregate_s": t_agg - t_read,
                    "shade_s": t_shade - t_agg,
                    "save_s": t_save - t_shade,
                    "total_s": t_save - t,
                }
            )
            if scenario == "count_cat":
                passes[-1]["categories"] = [str(c) for c in df["cat"].cat.categories]
            del df, agg, img
        result = {}
    result.update(
        {
            "scenario": scenario,
            "rows": rows,
            "import_s": import_s,
            "passes": passes,
            "process_s": time.perf_counter() - T_PROCESS,
        }
    )
    print(json.dumps(result))


# ---------------------------------------------------------------------------
# Image comparison
# ---------------------------------------------------------------------------


def compare_png(a_path: str, b_path: str, tol: int = 1) -> dict:
    import numpy as np
    from PIL import Image

    a = np.asarray(Image.open(a_path).convert("RGBA"), dtype=np.int16)
    b = np.asarray(Image.open(b_path).convert("RGBA"), dtype=np.int16)
    if a.shape != b.shape:
        return {"ok": False, "reason": f"shapes differ: {a.shape} vs {b.shape}"}
    diff = np.abs(a - b)
    max_diff = int(diff.max()) if diff.size else 0
    over = int((diff.max(axis=2) > tol).sum())
    differing = int((diff.max(axis=2) > 0).sum())
    ta, tb = a[..., 3] == 0, b[..., 3] == 0
    transparent_mismatch = int((ta != tb).sum())
    ok = over == 0 and transparent_mismatch == 0
    return {
        "ok": ok,
        "shape": list(a.shape),
        "max_channel_diff": max_diff,
        "pixels_differing": differing,
        "pixels_over_tolerance": over,
        "transparent_mismatch": transparent_mismatch,
        "transparent_pixels": int(ta.sum()),
    }


def compare_line(name: str, r: dict) -> str:
    if "reason" in r:
        return f"image check {name}: MISMATCH ({r['reason']})"
    h, w = r["shape"][:2]
    verdict = "SAME" if r["ok"] else "MISMATCH"
    return (
        f"image check {name} ({w}x{h}): {verdict} within 1 level: max channel diff "
        f"{r['max_channel_diff']}, {r['pixels_differing']} pixels differ at all, "
        f"{r['pixels_over_tolerance']} by more than 1, transparency mismatches "
        f"{r['transparent_mismatch']} ({r['transparent_pixels']} transparent pixels)"
    )


# ---------------------------------------------------------------------------
# Orchestrator
# ---------------------------------------------------------------------------


_current: subprocess.Popen | None = None


def _kill_current() -> None:
    p = _current
    if p is not None and p.poll() is None:
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        p.wait()


def _on_term(signum, frame):  # noqa: ARG001
    _kill_current()
    raise SystemExit(128 + signum)


def parse_time_v(text: str) -> dict:
    out = {}
    m = re.search(r"Maximum resident set size \(kbytes\):\s*(\d+)", text)
    if m:
        out["rss_mb"] = int(m.group(1)) / 1024.0
    m = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\):\s*([\d:.]+)", text)
    if m:
        secs = 0.0
        for part in m.group(1).split(":"):
            secs = secs * 60 + float(part)
        out["time_elapsed_s"] = secs
    for key, pat in [
        ("user_s", r"User time \(seconds\):\s*([\d.]+)"),
        ("sys_s", r"System time \(seconds\):\s*([\d.]+)"),
        ("cpu_percent", r"Percent of CPU this job got:\s*(\d+)%"),
        ("major_faults", r"Major \(requiring I/O\) page faults:\s*(\d+)"),
    ]:
        m = re.search(pat, text)
        if m:
            out[key] = float(m.group(1))
    return out


_CLK_TCK = os.sysconf("SC_CLK_TCK")
_NPROC = len(os.sched_getaffinity(0))


def cpu_busy_s() -> float | None:
    """Machine-wide busy CPU seconds so far (all CPUs; steal counts as busy)."""
    try:
        vals = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    except (OSError, ValueError):
        return None
    idle = vals[3] + vals[4]
    return (sum(vals) - idle) / _CLK_TCK


def timed(cmd: list[str], workdir: Path, timeout: float) -> dict:
    """Run cmd in a fresh process under /usr/bin/time -v; wall time measured
    here around the child (perf_counter), peak RSS from time -v."""
    global _current
    tfile = workdir / "time-v.txt"
    tfile.unlink(missing_ok=True)
    full = ["/usr/bin/time", "-v", "-o", str(tfile)] + cmd
    busy0 = cpu_busy_s()
    t0 = time.perf_counter()
    _current = subprocess.Popen(
        full,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = _current.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_current()
        raise BenchError(f"timed out after {timeout:.0f} s: {' '.join(cmd)}")
    except BaseException:
        _kill_current()
        raise
    wall = time.perf_counter() - t0
    busy1 = cpu_busy_s()
    rc = _current.returncode
    _current = None
    if rc != 0:
        tail = "\n".join(err.strip().splitlines()[-15:])
        raise BenchError(f"exit status {rc}: {' '.join(cmd)}\n{tail}")
    tv = parse_time_v(tfile.read_text()) if tfile.exists() else {}
    if "rss_mb" not in tv:
        raise BenchError(f"/usr/bin/time -v gave no peak RSS for {' '.join(cmd)}")
    r = {"wall_s": wall, **tv, "stdout": out, "stderr": err}
    # CPU time other processes used while this one ran: a noise signal.
    # (Clock ticks are 10 ms, so runs shorter than a quarter second say little.)
    if busy0 is not None and busy1 is not None and "user_s" in tv and wall >= 0.25:
        foreign = max(0.0, (busy1 - busy0) - tv["user_s"] - tv.get("sys_s", 0.0))
        r["foreign_cpu_s"] = foreign
        r["foreign_share"] = foreign / (wall * _NPROC) if wall > 0 else 0.0
    return r


NOISY_SHARE = 0.10  # other processes' share of all CPUs that makes a run suspect


def other_load(seconds: float = 1.0) -> float | None:
    """Share of all CPUs busy over `seconds` while we run nothing: other work."""
    b0 = cpu_busy_s()
    time.sleep(seconds)
    b1 = cpu_busy_s()
    if b0 is None or b1 is None:
        return None
    return max(0.0, (b1 - b0) / (seconds * _NPROC))


def wait_quiet(max_wait: float) -> float:
    """Wait (up to max_wait seconds) until other processes use less than
    NOISY_SHARE of the CPUs; returns the seconds waited."""
    if max_wait <= 0:
        return 0.0
    t0 = time.perf_counter()
    said = False
    while True:
        load = other_load()
        if load is None or load < NOISY_SHARE:
            return time.perf_counter() - t0
        waited = time.perf_counter() - t0
        if waited >= max_wait:
            log(
                f"  warning: the machine stayed busy ({100 * load:.0f}% of the CPUs) for "
                f"{waited:.0f} s; measuring anyway"
            )
            return waited
        if not said:
            log(f"  machine busy ({100 * load:.0f}% of the CPUs used by others); waiting")
            said = True
        time.sleep(4)


def parse_pt_timings(stderr: str) -> dict:
    """`rows N  plan X ms  read+aggregate X ms  shade X ms  encode+write X ms`"""
    out = {}
    for line in stderr.splitlines():
        if " ms" not in line:
            continue
        for name, val in re.findall(r"([A-Za-z][A-Za-z+_\- ]*?)\s+([\d.]+)\s*ms", line):
            out[name.strip()] = float(val) / 1e3
        m = re.search(r"\brows (\d+)", line)
        if m:
            out["rows"] = int(m.group(1))
        m = re.search(r"\(read (\d+)", line)
        if m:
            out["rows_read"] = int(m.group(1))
    return out


def machine_info() -> dict:
    info = {
        "nproc": len(os.sched_getaffinity(0)),
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
    }
    try:
        models = re.findall(r"^model name\s*:\s*(.+)$", Path("/proc/cpuinfo").read_text(), re.M)
        info["cpu_model"] = models[0].strip() if models else "unknown"
    except OSError:
        info["cpu_model"] = "unknown"
    try:
        m = re.search(r"MemTotal:\s*(\d+) kB", Path("/proc/meminfo").read_text())
        info["mem_total_gib"] = round(int(m.group(1)) / 2**20, 1) if m else None
    except OSError:
        info["mem_total_gib"] = None
    return info


def loadavg() -> list[float]:
    try:
        return [float(v) for v in Path("/proc/loadavg").read_text().split()[:3]]
    except OSError:
        return []


def git_info(repo: Path) -> dict:
    def git(*args):
        r = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True)
        return r.stdout.strip() if r.returncode == 0 else None

    dirty = git("status", "--porcelain", "--", "src", "Cargo.toml", "Cargo.lock", "examples")
    return {
        "commit": git("rev-parse", "HEAD"),
        "short": git("rev-parse", "--short", "HEAD"),
        "subject": git("log", "-1", "--format=%s"),
        "dirty": bool(dirty) if dirty is not None else None,
    }


def versions(python: str) -> dict:
    code = (
        "import json, datashader, numba, pandas, pyarrow, numpy, PIL; "
        "print(json.dumps({m.__name__: m.__version__ for m in "
        "(datashader, numba, pandas, pyarrow, numpy, PIL)}))"
    )
    r = subprocess.run([python, "-c", code], capture_output=True, text=True)
    return json.loads(r.stdout) if r.returncode == 0 else {"error": r.stderr[-500:]}


def median(xs):
    return statistics.median(xs) if xs else None


def fmt_s(v):
    return "—" if v is None else (f"{v:.3f}" if v < 1 else f"{v:.2f}")


def fmt_mb(v):
    return "—" if v is None else f"{v:,.0f}"


def fmt_x(v):
    return "—" if v is None else f"{v:.1f}x"


def bench(a: argparse.Namespace) -> int:
    signal.signal(signal.SIGTERM, _on_term)
    signal.signal(signal.SIGHUP, _on_term)
    data = Path(a.data).resolve()
    outdir = Path(a.outdir).resolve()
    outdir.mkdir(parents=True, exist_ok=True)
    py = sys.executable
    me = str(Path(__file__).resolve())
    pt = a.pointillist
    reps = a.reps
    timeout = a.timeout

    meta = {
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "command": a.command_line,
        "data_file": str(data),
        "data_bytes": data.stat().st_size,
        "rows": a.rows,
        "synth_metadata": a.synth_meta,
        "reps": reps,
        "machine": machine_info(),
        "loadavg_start": loadavg(),
        "versions": versions(py),
        "pointillist": {"binary": pt, **git_info(Path(a.repo))},
    }
    try:
        meta["rustc"] = subprocess.run(
            ["rustc", "--version"], capture_output=True, text=True
        ).stdout.strip()
    except OSError:
        meta["rustc"] = None
    m = meta["machine"]
    log(
        f"machine: {m['nproc']} cores, {m['cpu_model']}, {m['mem_total_gib']} GiB; "
        f"load average {meta['loadavg_start']}"
    )
    meta["other_load_start"] = other_load(2.0)
    if meta["other_load_start"] is not None and meta["other_load_start"] >= NOISY_SHARE:
        log(
            f"note: other processes use {100 * meta['other_load_start']:.0f}% of the CPUs now; "
            + ("each timed run waits for them" if a.max_wait > 0 else "timings will be noisy")
        )
    log(f"data: {data} ({meta['data_bytes'] / 2**20:,.0f} MiB, {a.rows:,} rows)")

    # Warm the page cache once so that neither side pays for the disk.
    with open(data, "rb") as f:
        while f.read(1 << 24):
            pass

    def ds_cmd(scenario, out, width=1920, height=1080, passes=1, x_range=None, y_range=None):
        cmd = [py, me, "ds", "--scenario", scenario, "--path", str(data), "--out", str(out),
               "--width", str(width), "--height", str(height), "--passes", str(passes)]
        if x_range:
            cmd += ["--x-range", repr(x_range[0]), repr(x_range[1])]
            cmd += ["--y-range", repr(y_range[0]), repr(y_range[1])]
        return cmd

    def pt_cmd(agg, out, width=1920, height=1080, x_range=None, y_range=None, cmap=True):
        cmd = [pt, "render", str(data), "-o", str(out), "--width", str(width),
               "--height", str(height), "--agg", agg, "--how", "eq_hist", "--timings"]
        if cmap:
            cmd += ["--cmap", "fire"]
        if x_range:
            cmd += [f"--x-range={x_range[0]!r},{x_range[1]!r}",
                    f"--y-range={y_range[0]!r},{y_range[1]!r}"]
        return cmd

    def measured(cmd):
        """A timed run on a quiet machine: wait for other work to stop, and
        repeat (up to twice) a run during which others took over NOISY_SHARE
        of the CPUs. The discarded attempts are counted in the JSON."""
        discarded = []
        while True:
            waited = wait_quiet(a.max_wait)
            r = timed(cmd, outdir, timeout)
            r["waited_s"] = waited
            share = r.get("foreign_share")
            if a.max_wait <= 0 or share is None or share < NOISY_SHARE or len(discarded) >= 2:
                if discarded:
                    r["discarded_noisy_wall_s"] = discarded
                return r
            log(f"  (other processes took {100 * share:.0f}% of the CPUs during that run; repeating it)")
            discarded.append(r["wall_s"])

    def run_ds(cmd):
        r = measured(cmd)
        try:
            r["internal"] = json.loads(r["stdout"].strip().splitlines()[-1])
        except (ValueError, IndexError):
            raise BenchError(f"Datashader worker printed no JSON:\n{r['stdout'][-500:]}")
        del r["stdout"]
        r["stderr"] = r["stderr"][-2000:]
        return r

    def run_pt(cmd):
        r = measured(cmd)
        r["timings"] = parse_pt_timings(r["stderr"])
        r["stderr"] = r["stderr"][-2000:]
        del r["stdout"]
        return r

    def run_decode():
        r = measured([a.decode_floor, str(data)])
        m = re.search(r"seconds=([\d.]+)\s+rows_per_s=([\d.]+)", r["stdout"])
        if not m:
            raise BenchError(f"decode_floor printed no timing line:\n{r['stdout']}")
        r["decode_line"] = r["stdout"].strip()
        r["internal_s"] = float(m.group(1))
        r["rows_per_s"] = float(m.group(2))
        del r["stdout"]
        return r

    results: dict = {"meta": meta, "scenarios": {}, "image_checks": {}}

    def warm_up(*cmds):
        """One untimed run of each side before a scenario's repetitions. On a
        VM the first multi-GB allocation after a pause can cost seconds of
        system time (guest memory handed back to the host is faulted in
        again); without this the first repetition is an outlier."""
        for cmd in cmds:
            timed(cmd, outdir, timeout)

    def pair(name, ref_name, ref_fn, pt_fn):
        """reps repetitions, alternating which side runs first."""
        refs, pts = [], []
        for i in range(reps):
            order = [("ref", ref_fn), ("pt", pt_fn)] if i % 2 == 0 else [("pt", pt_fn), ("ref", ref_fn)]
            for side, fn in order:
                r = fn()
                (refs if side == "ref" else pts).append(r)
                log(
                    f"  {name} rep {i + 1}/{reps} {ref_name if side == 'ref' else 'pointillist'}: "
                    f"{r['wall_s']:.2f} s, {r['rss_mb']:,.0f} MB"
                )
        return refs, pts

    def summary(runs, key="wall_s"):
        shares = [r["foreign_share"] for r in runs if "foreign_share" in r]
        return {
            "wall_s": median([r[key] for r in runs]),
            "rss_mb": median([r["rss_mb"] for r in runs]),
            "max_foreign_share": max(shares) if shares else None,
        }

    size = {"width": 1920, "height": 1080}
    for scen, agg in [("count", "count"), ("mean", "mean:val"), ("count_cat", "count_cat:cat")]:
        log(f"scenario {scen}")
        ds_png, pt_png = outdir / f"ds-{scen}.png", outdir / f"pt-{scen}.png"
        # Datashader with numba already compiled: a second whole pipeline
        # (read + aggregate + shade + save) in the same process. Run first,
        # untimed, it is also the scenario's warm-up (see warm_up()).
        warm = run_ds(ds_cmd(scen, outdir / f"ds-{scen}-warm.png", passes=2))
        p1, p2 = warm["internal"]["passes"]
        log(f"  {scen} datashader warm: first pass {p1['total_s']:.2f} s, second {p2['total_s']:.2f} s")
        run_pt(pt_cmd(agg, pt_png, cmap=scen != "count_cat"))
        refs, pts = pair(
            scen,
            "datashader",
            lambda: run_ds(ds_cmd(scen, ds_png)),
            lambda: run_pt(pt_cmd(agg, pt_png, cmap=scen != "count_cat")),
        )
        ds_s, pt_s = summary(refs), summary(pts)
        speed, mem = ds_s["wall_s"] / pt_s["wall_s"], ds_s["rss_mb"] / pt_s["rss_mb"]
        tsp, tmem = TARGETS[scen]
        results["scenarios"][scen] = {
            "reference": "datashader",
            "datashader": {**ds_s, "warm_s": p2["total_s"], "warm_run": warm, "runs": refs},
            "pointillist": {**pt_s, "runs": pts},
            "speedup": speed,
            "rss_ratio": mem,
            "target": f">= {tsp:g}x faster, >= {tmem:g}x less RSS",
            "speed_pass": speed >= tsp,
            "rss_pass": mem >= tmem,
        }
        results["image_checks"][scen] = compare_png(str(ds_png), str(pt_png))
        log("  " + compare_line(scen, results["image_checks"][scen]))
        if scen == "count_cat":
            # pandas takes the categories in the order of the Parquet
            # dictionary; pointillist's default is sorted. The colour key is
            # assigned in category order, so when the orders differ the
            # default images differ in colour only. Check the pixels with
            # pointillist given Datashader's order (untimed).
            cats = refs[0]["internal"]["passes"][0].get("categories")
            results["scenarios"][scen]["datashader_categories"] = cats
            if cats and cats != sorted(cats):
                alt = outdir / "pt-count_cat-ds-order.png"
                cmd = pt_cmd(agg, alt, cmap=False) + ["--categories", ",".join(cats)]
                timed(cmd, outdir, timeout)
                name = "count_cat with Datashader's category order"
                results["image_checks"][name] = compare_png(str(ds_png), str(alt))
                results["image_checks"][name]["categories"] = cats
                log(
                    f"  Datashader's categories (Parquet dictionary order): {cats}; "
                    f"pointillist's default is sorted: {sorted(cats)}"
                )
                log("  " + compare_line(name, results["image_checks"][name]))

    # shade4096: shading + PNG only, 4096x4096 count of the same file.
    log("scenario shade4096")
    ds_png, pt_png = outdir / "ds-shade4096.png", outdir / "pt-shade4096.png"
    warm_up(ds_cmd("shade4096", ds_png, 4096, 4096, passes=1), pt_cmd("count", pt_png, 4096, 4096))
    refs, pts = pair(
        "shade4096",
        "datashader",
        lambda: run_ds(ds_cmd("shade4096", ds_png, 4096, 4096, passes=2)),
        lambda: run_pt(pt_cmd("count", pt_png, 4096, 4096)),
    )
    for r in refs:
        r["shade_save_s"] = r["internal"]["passes"][0]["total_s"]
        r["shade_save_warm_s"] = r["internal"]["passes"][1]["total_s"]
    for r in pts:
        t = r["timings"]
        if "shade" not in t or "encode+write" not in t:
            raise BenchError(
                "pointillist --timings printed no 'shade X ms  encode+write Y ms':\n" + r["stderr"]
            )
        r["shade_save_s"] = t["shade"] + t["encode+write"]
    ds_s, pt_s = summary(refs, "shade_save_s"), summary(pts, "shade_save_s")
    speed = ds_s["wall_s"] / pt_s["wall_s"]
    results["scenarios"]["shade4096"] = {
        "reference": "datashader",
        "datashader": {**ds_s, "warm_s": median([r["shade_save_warm_s"] for r in refs]), "runs": refs},
        "pointillist": {**pt_s, "runs": pts},
        "speedup": speed,
        "rss_ratio": ds_s["rss_mb"] / pt_s["rss_mb"],
        "target": f">= {TARGETS['shade4096'][0]:g}x faster (shade + PNG)",
        "speed_pass": speed >= TARGETS["shade4096"][0],
        "rss_pass": None,
        "note": "times are shade + PNG encode/write inside each process; RSS is the whole process",
    }
    results["image_checks"]["shade4096"] = compare_png(str(ds_png), str(pt_png))
    log("  " + compare_line("shade4096", results["image_checks"]["shade4096"]))

    # Decode floor vs pointillist's count render (both whole processes).
    log("scenario decode floor")
    pt_png = outdir / "pt-count.png"
    warm_up([a.decode_floor, str(data)], pt_cmd("count", pt_png))
    refs, pts = pair(
        "decode", "decode_floor", run_decode, lambda: run_pt(pt_cmd("count", pt_png))
    )
    dec_s, pt_s = summary(refs), summary(pts)
    ratio = pt_s["wall_s"] / dec_s["wall_s"]
    results["scenarios"]["decode_floor"] = {
        "reference": "decode_floor",
        "decode_floor": {
            **dec_s,
            "internal_s": median([r["internal_s"] for r in refs]),
            "rows_per_s": median([r["rows_per_s"] for r in refs]),
            "runs": refs,
        },
        "pointillist": {**pt_s, "runs": pts},
        "ratio_render_over_decode": ratio,
        "target": f"render / decode <= {DECODE_MAX_RATIO:g}",
        "speed_pass": ratio <= DECODE_MAX_RATIO,
        "rss_pass": None,
    }

    # Zoom: ~1% of the area around New York, same file; report only.
    log(f"scenario zoom x_range={ZOOM_X} y_range={ZOOM_Y}")
    ds_png, pt_png = outdir / "ds-zoom.png", outdir / "pt-zoom.png"
    warm_up(
        ds_cmd("zoom", ds_png, x_range=ZOOM_X, y_range=ZOOM_Y),
        pt_cmd("count", pt_png, x_range=ZOOM_X, y_range=ZOOM_Y),
    )
    refs, pts = pair(
        "zoom",
        "datashader",
        lambda: run_ds(ds_cmd("zoom", ds_png, x_range=ZOOM_X, y_range=ZOOM_Y)),
        lambda: run_pt(pt_cmd("count", pt_png, x_range=ZOOM_X, y_range=ZOOM_Y)),
    )
    ds_s, pt_s = summary(refs), summary(pts)
    # What pointillist says it read (row groups, or rows "(read N)"), if it says.
    rg_lines = [
        ln.strip()
        for ln in pts[0]["stderr"].splitlines()
        if "row group" in ln.lower() or re.search(r"\(read \d+", ln)
    ]
    rg_lines = [
        (re.search(r"rows \d+ \(read \d+\)", ln) or re.search(r".*", ln)).group(0) for ln in rg_lines
    ]
    results["scenarios"]["zoom"] = {
        "reference": "datashader",
        "x_range": ZOOM_X,
        "y_range": ZOOM_Y,
        "datashader": {**ds_s, "runs": refs},
        "pointillist": {**pt_s, "runs": pts},
        "speedup": ds_s["wall_s"] / pt_s["wall_s"],
        "rss_ratio": ds_s["rss_mb"] / pt_s["rss_mb"],
        "target": "report only",
        "speed_pass": None,
        "rss_pass": None,
        "row_groups_report": rg_lines or None,
    }
    results["image_checks"]["zoom"] = compare_png(str(ds_png), str(pt_png))
    log("  " + compare_line("zoom", results["image_checks"]["zoom"]))
    meta["loadavg_end"] = loadavg()

    md = markdown(results)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    base = Path(a.results_dir) / f"results-{a.rows}-{stamp}"
    base.with_suffix(".json").write_text(json.dumps(results, indent=1))
    base.with_suffix(".md").write_text(md + "\n")
    print(md)
    print(f"\nraw numbers: {base.with_suffix('.json')}\ntable: {base.with_suffix('.md')}")
    return 0


def verdict(s: dict) -> str:
    checks = [(k, s.get(k)) for k in ("speed_pass", "rss_pass")]
    checks = [(k, v) for k, v in checks if v is not None]
    if not checks:
        return "—"
    failed = [("speed" if k == "speed_pass" else "RSS") for k, v in checks if not v]
    if s["reference"] == "decode_floor" and failed:
        return "FAIL"
    return "PASS" if not failed else "FAIL (" + ", ".join(failed) + ")"


def markdown(res: dict) -> str:
    meta = res["meta"]
    m = meta["machine"]
    v = meta["versions"]
    lines = [
        f"{meta['rows']:,} rows ({meta['data_bytes'] / 2**20:,.0f} MiB Parquet), "
        f"{meta['reps']} repetitions, medians; machine: {m['nproc']} cores, {m['cpu_model']}, "
        f"{m['mem_total_gib']} GiB; datashader {v.get('datashader')}, numba {v.get('numba')}, "
        f"pointillist {meta['pointillist'].get('short')}"
        f"{' (+ uncommitted changes)' if meta['pointillist'].get('dirty') else ''}; "
        f"load average {meta['loadavg_start']} at start, {meta.get('loadavg_end')} at end",
        "",
        "| scenario | reference | ref wall s | ref peak RSS MB | Datashader warm s | "
        "pointillist wall s | pointillist peak RSS MB | speed-up | RSS ratio | target | result |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    sc = res["scenarios"]
    for name in ("count", "mean", "count_cat", "shade4096", "zoom"):
        s = sc[name]
        d, p = s["datashader"], s["pointillist"]
        label = name + (" (shade+PNG only)" if name == "shade4096" else "")
        rss_ratio = fmt_x(s["rss_ratio"]) + (" (process)" if name == "shade4096" else "")
        lines.append(
            f"| {label} | Datashader | {fmt_s(d['wall_s'])} | {fmt_mb(d['rss_mb'])} | "
            f"{fmt_s(d.get('warm_s'))} | {fmt_s(p['wall_s'])} | {fmt_mb(p['rss_mb'])} | "
            f"{fmt_x(s['speedup'])} | {rss_ratio} | {s['target']} | {verdict(s)} |"
        )
    s = sc["decode_floor"]
    d, p = s["decode_floor"], s["pointillist"]
    lines.append(
        f"| render / decode floor (count) | decode_floor ({d['rows_per_s'] / 1e6:,.0f} M rows/s) | "
        f"{fmt_s(d['wall_s'])} | {fmt_mb(d['rss_mb'])} | — | {fmt_s(p['wall_s'])} | "
        f"{fmt_mb(p['rss_mb'])} | ratio {s['ratio_render_over_decode']:.2f} | — | "
        f"{s['target']} | {verdict(s)} |"
    )
    lines.append("")
    noise = []
    for name, s in sc.items():
        shares = [
            side["max_foreign_share"]
            for key, side in s.items()
            if isinstance(side, dict) and side.get("max_foreign_share") is not None
        ]
        if shares:
            noise.append(f"{name} {100 * max(shares):.0f}%")
    if noise:
        lines.append(
            "other processes' share of the machine's CPU during the timed runs (worst run): "
            + ", ".join(noise)
            + " — above ~10%, re-run on a quiet machine"
        )
    rg = sc["zoom"].get("row_groups_report")
    lines.append(
        "zoom: pointillist reports what it read: " + " / ".join(rg)
        if rg
        else "zoom: pointillist does not report how many row groups it read (skipped)"
    )
    for name, r in res["image_checks"].items():
        lines.append(compare_line(name, r))
    cats = sc["count_cat"].get("datashader_categories")
    if cats and cats != sorted(cats):
        lines.append(
            f"count_cat: pandas reads the categories in Parquet dictionary order {cats}; "
            f"pointillist's default order is sorted, so the default colour keys differ "
            f"(the check above with --categories in Datashader's order compares the pixels)"
        )
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)

    w = sub.add_parser("ds", help="one Datashader run (worker)")
    w.add_argument("--scenario", required=True, choices=["count", "mean", "count_cat", "shade4096", "zoom"])
    w.add_argument("--path", required=True)
    w.add_argument("--out", required=True)
    w.add_argument("--width", type=int, default=1920)
    w.add_argument("--height", type=int, default=1080)
    w.add_argument("--passes", type=int, default=1)
    w.add_argument("--x-range", type=float, nargs=2)
    w.add_argument("--y-range", type=float, nargs=2)

    b = sub.add_parser("bench", help="run all scenarios")
    b.add_argument("--data", required=True)
    b.add_argument("--rows", type=int, required=True)
    b.add_argument("--pointillist", required=True)
    b.add_argument("--decode-floor", required=True)
    b.add_argument("--outdir", required=True, help="for PNGs and scratch files")
    b.add_argument("--results-dir", required=True, help="for results-*.json and .md")
    b.add_argument("--repo", required=True)
    b.add_argument("--reps", type=int, default=3)
    b.add_argument("--timeout", type=float, default=1800)
    b.add_argument(
        "--max-wait",
        type=float,
        default=600,
        help="seconds to wait for a quiet machine before each timed run (0: never wait, never repeat)",
    )
    b.add_argument("--synth-meta", default=None)
    b.add_argument("--command-line", default=None)

    c = sub.add_parser("compare", help="compare two PNGs within one level")
    c.add_argument("a")
    c.add_argument("b")

    a = ap.parse_args()
    if a.cmd == "ds":
        ds_worker(a)
        return 0
    if a.cmd == "compare":
        r = compare_png(a.a, a.b)
        print(compare_line(f"{a.a} vs {a.b}", r))
        return 0 if r["ok"] else 1
    try:
        return bench(a)
    except BenchError as e:
        log(f"compare_datashader: error: {e}")
        return 1
    except KeyboardInterrupt:
        _kill_current()
        log("compare_datashader: interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
