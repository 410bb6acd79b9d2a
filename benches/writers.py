"""Write the same census-like points through other tools' Parquet writers,
each with its own defaults, so the benchmarks run on files pointillist did
not shape:

    python benches/writers.py --rows 100000000 --out /tmp/w --writers pyarrow,pandas,polars,duckdb --precision f32

Writes OUT/<writer>-<precision>.parquet for each writer:

- pyarrow: `pq.write_table(table, path)` (1,048,576-row groups, 1 MB
  pages, snappy, `cat` as dictionary<int8, string>);
- pandas: `df.to_parquet(path)` (pyarrow engine; `cat` a pandas
  categorical);
- polars: `pl.from_arrow(table).write_parquet(path)` (zstd, 512^2-row
  groups, `cat` as a polars Categorical);
- duckdb: `COPY t TO path (FORMAT parquet)` (122,880-row groups, snappy,
  `cat` a plain string column: DuckDB stores no Arrow schema).

The points are benches/census_like.py's model (same --seed, same rows), so
every writer's file holds the same rows in the same order. `x`, `y`, `val`
are float32 or float64 (--precision); `cat` has 5 labels.
"""

import argparse
import os
import sys
import time

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import census_like  # noqa: E402


def table(rows, seed, precision):
    dt = np.float32 if precision == "f32" else np.float64
    xs, ys, vs, cs = [], [], [], []
    for x, y, val, codes in census_like.chunks(rows, seed):
        xs.append(x.astype(dt))
        ys.append(y.astype(dt))
        vs.append(val.astype(dt))
        cs.append(codes.astype(np.int8))
    labels = pa.array(census_like.LABELS)
    cat = pa.chunked_array([pa.DictionaryArray.from_arrays(pa.array(c), labels) for c in cs])
    return pa.table(
        {
            "x": pa.chunked_array([pa.array(a) for a in xs]),
            "y": pa.chunked_array([pa.array(a) for a in ys]),
            "val": pa.chunked_array([pa.array(a) for a in vs]),
            "cat": cat,
        }
    )


def write(writer, t, path):
    tmp = path + ".tmp"
    if writer == "pyarrow":
        pq.write_table(t, tmp)
    elif writer == "pandas":
        t.to_pandas().to_parquet(tmp)
    elif writer == "polars":
        import polars as pl

        pl.from_arrow(t).write_parquet(tmp)
    elif writer == "duckdb":
        import duckdb

        con = duckdb.connect()
        con.register("t", t.cast(pa.schema([("x", t.schema.field("x").type), ("y", t.schema.field("y").type),
                                            ("val", t.schema.field("val").type), ("cat", pa.string())])))
        con.execute(f"COPY t TO '{tmp}' (FORMAT parquet)")
        con.close()
    else:
        raise SystemExit(f"unknown writer {writer!r}: use pyarrow, pandas, polars or duckdb")
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=100_000_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--out", required=True)
    ap.add_argument("--writers", default="pyarrow,pandas,polars,duckdb")
    ap.add_argument("--precision", choices=["f32", "f64"], default="f32")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    t0 = time.perf_counter()
    t = table(a.rows, a.seed, a.precision)
    print(f"generated {a.rows} rows in {time.perf_counter() - t0:.1f} s", flush=True)
    for w in a.writers.split(","):
        path = os.path.join(a.out, f"{w}-{a.precision}.parquet")
        t0 = time.perf_counter()
        write(w, t, path)
        print(f"{w}: {path} {os.path.getsize(path) / 1e6:.0f} MB in {time.perf_counter() - t0:.1f} s", flush=True)


if __name__ == "__main__":
    main()
