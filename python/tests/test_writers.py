"""Parquet files written by other tools, with their defaults, against
Datashader 0.19.1 reading the same file through pandas: polars (zstd, its
Categorical as a dictionary column, no page encoding stats) and DuckDB
(no Arrow schema, so categories arrive as plain strings whose pages are
dictionary-encoded)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

import pointillist as ds

from test_points import assert_same

dsh = pytest.importorskip("datashader")


@pytest.fixture(scope="module")
def frame():
    rng = np.random.default_rng(11)
    n = 60_000
    return pd.DataFrame(
        {
            "x": rng.normal(size=n).astype("float32"),
            "y": rng.normal(size=n),
            "val": rng.gamma(2.0, 10.0, size=n).astype("float32"),
            "cat": rng.choice(["w", "b", "a", "h", "o"], size=n, p=[0.6, 0.13, 0.06, 0.17, 0.04]),
            # Too many distinct values for one dictionary page: writers fall
            # back to plain pages part-way through a chunk.
            "wide": [f"label-{v}" for v in rng.integers(0, 40_000, size=n)],
        }
    )


def check(path, reductions):
    # A string column whose pages are all dictionary-encoded takes the
    # categories pyarrow gives it when asked for a dictionary (Dask's
    # `read_parquet(categories=...)`): first appearance. One that falls back
    # to plain pages takes the sorted values (`astype("category")`).
    read = pq.read_table(path, read_dictionary=["cat"]).to_pandas()
    read["wide"] = read["wide"].astype("category")
    for make in reductions:
        theirs = dsh.Canvas(31, 17).points(read, "x", "y", make(dsh))
        assert_same(ds.Canvas(31, 17).points(str(path), "x", "y", make(ds)), theirs)


REDUCTIONS = [
    lambda m: m.count(),
    lambda m: m.mean("val"),
    lambda m: m.count_cat("cat"),
    lambda m: m.by("cat", m.sum("val")),
    lambda m: m.count_cat("wide"),
]


def test_polars_defaults(frame, tmp_path):
    pl = pytest.importorskip("polars")
    path = tmp_path / "polars.parquet"
    df = pl.from_pandas(frame).with_columns(pl.col("cat").cast(pl.Categorical))
    df.write_parquet(path, row_group_size=7_000)
    check(path, REDUCTIONS)


def test_duckdb_defaults(frame, tmp_path):
    duckdb = pytest.importorskip("duckdb")
    path = tmp_path / "duckdb.parquet"
    con = duckdb.connect()
    con.register("t", frame)
    con.execute(f"COPY t TO '{path}' (FORMAT parquet, ROW_GROUP_SIZE 10000)")
    con.close()
    check(path, REDUCTIONS)
