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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=100_000_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("-o", "--output", required=True)
    a = ap.parse_args()
    rng = np.random.default_rng(a.seed)
    n_cities = 400
    lon = rng.uniform(-124.5, -67.0, n_cities)
    lat = rng.uniform(25.5, 49.0, n_cities)
    cx, cy = merc(lon, lat)
    weights = 1.0 / np.arange(1, n_cities + 1) ** 1.1
    weights /= weights.sum()
    sigma = rng.uniform(2e3, 4e4, n_cities)
    x0, y0 = merc(-124.5, 25.5)
    x1, y1 = merc(-67.0, 49.0)
    labels = ["w", "b", "a", "h", "o"]
    chunk = 1 << 20
    writer = None
    written = 0
    while written < a.rows:
        n = min(chunk, a.rows - written)
        in_city = rng.random(n) < 0.7
        city = rng.choice(n_cities, size=n, p=weights)
        x = np.where(in_city, cx[city] + rng.normal(0, 1, n) * sigma[city], rng.uniform(x0, x1, n))
        y = np.where(in_city, cy[city] + rng.normal(0, 1, n) * sigma[city], rng.uniform(y0, y1, n))
        val = rng.gamma(2.0, 10.0, n)
        cat = pd.Categorical.from_codes(rng.choice(5, size=n, p=[0.6, 0.13, 0.06, 0.17, 0.04]), labels)
        df = pd.DataFrame({"x": x, "y": y, "val": val, "cat": cat})
        table = pa.Table.from_pandas(df, preserve_index=False)
        if writer is None:
            writer = pq.ParquetWriter(a.output, table.schema)
        writer.write_table(table)
        written += n
    if writer is not None:
        writer.close()
    print(f"wrote {written} rows to {a.output}")


if __name__ == "__main__":
    main()
