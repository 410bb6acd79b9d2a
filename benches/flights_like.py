"""Write a flights-like origin-destination file the way a pandas user would
(`df.to_parquet` defaults): one row per flight, with the longitude and
latitude of its origin and destination airports (float64 degrees), its
distance in km and a carrier category.

    python benches/flights_like.py --rows 10000000 -o /tmp/flights-10m.parquet

Airports: 300 sites over the contiguous US whose traffic follows a Zipf
law (a few hubs, many small fields); each flight joins two distinct
airports drawn by traffic, and the same --seed gives the same file.
"""

import argparse

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

CARRIERS = ["AA", "DL", "UA", "WN", "AS", "B6"]


def chunks(rows, seed, chunk=1 << 20):
    rng = np.random.default_rng(seed)
    n = 300
    lon = rng.uniform(-123.0, -70.0, n)
    lat = rng.uniform(26.0, 48.5, n)
    weights = 1.0 / np.arange(1, n + 1) ** 1.2
    weights /= weights.sum()
    done = 0
    while done < rows:
        m = min(chunk, rows - done)
        o = rng.choice(n, size=m, p=weights)
        d = rng.choice(n, size=m, p=weights)
        d = np.where(d == o, (d + 1 + rng.integers(0, n - 1, m)) % n, d)
        # Great-circle distance, for a value column.
        p1, p2 = np.radians(lat[o]), np.radians(lat[d])
        dl = np.radians(lon[d] - lon[o])
        a = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
        km = 2 * 6371.0 * np.arcsin(np.sqrt(a))
        yield pd.DataFrame(
            {
                "origin_lon": lon[o],
                "origin_lat": lat[o],
                "dest_lon": lon[d],
                "dest_lat": lat[d],
                "distance": km,
                "carrier": pd.Categorical.from_codes(
                    rng.integers(0, len(CARRIERS), m), CARRIERS
                ),
            }
        )
        done += m


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("-o", "--output", required=True)
    args = ap.parse_args()
    writer = None
    for df in chunks(args.rows, args.seed):
        t = pa.Table.from_pandas(df, preserve_index=False)
        if writer is None:
            writer = pq.ParquetWriter(args.output, t.schema)
        writer.write_table(t)
    if writer is not None:
        writer.close()


if __name__ == "__main__":
    main()
