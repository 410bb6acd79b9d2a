"""Write a census-like point file the way a pandas user would: US points in
Web Mercator metres (float64 x, y), a float64 value and a 5-label
categorical, through pandas' and pyarrow's defaults (1,048,576-row groups,
snappy, a dictionary<int8, string> column with a dictionary per row group).

    python benches/census_like.py --rows 100000000 -o /tmp/census-100m.parquet

Points: 70% in 400 Gaussian "cities" whose sizes follow a Zipf law
(sigma 2-40 km), 30% spread over the contiguous US box; the same --seed
gives the same file.
"""

import argparse
import math

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

R = 6378137.0


def merc(lon, lat):
    x = np.radians(lon) * R
    y = np.log(np.tan(np.pi / 4 + np.radians(lat) / 2)) * R
    return x, y


LABELS = ["w", "b", "a", "h", "o"]


def chunks(rows, seed, chunk=1 << 20):
    """Yield (x, y, val, codes) arrays of up to `chunk` rows: float64 Web
    Mercator x, y, a float64 value and int category codes into LABELS."""
    rng = np.random.default_rng(seed)
    n_cities = 400
    lon = rng.uniform(-124.5, -67.0, n_cities)
    lat = rng.uniform(25.5, 49.0, n_cities)
    cx, cy = merc(lon, lat)
    weights = 1.0 / np.arange(1, n_cities + 1) ** 1.1
    weights /= weights.sum()
    sigma = rng.uniform(2e3, 4e4, n_cities)
    x0, y0 = merc(-124.5, 25.5)
    x1, y1 = merc(-67.0, 49.0)
    done = 0
    while done < rows:
        n = min(chunk, rows - done)
        in_city = rng.random(n) < 0.7
        city = rng.choice(n_cities, size=n, p=weights)
        x = np.where(in_city, cx[city] + rng.normal(0, 1, n) * sigma[city], rng.uniform(x0, x1, n))
        y = np.where(in_city, cy[city] + rng.normal(0, 1, n) * sigma[city], rng.uniform(y0, y1, n))
        val = rng.gamma(2.0, 10.0, n)
        codes = rng.choice(5, size=n, p=[0.6, 0.13, 0.06, 0.17, 0.04])
        yield x, y, val, codes
        done += n


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=100_000_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("-o", "--output", required=True)
    a = ap.parse_args()
    writer = None
    written = 0
    for x, y, val, codes in chunks(a.rows, a.seed):
        cat = pd.Categorical.from_codes(codes, LABELS)
        df = pd.DataFrame({"x": x, "y": y, "val": val, "cat": cat})
        table = pa.Table.from_pandas(df, preserve_index=False)
        if writer is None:
            writer = pq.ParquetWriter(a.output, table.schema)
        writer.write_table(table)
        written += len(x)
    if writer is not None:
        writer.close()
    print(f"wrote {written} rows to {a.output}")


if __name__ == "__main__":
    main()
