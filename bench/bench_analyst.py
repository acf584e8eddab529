"""Benchmark: the analyst connection's cost. Publishing the marts after `dbt build`, connecting, and querying,
each against a baseline measured in the same run.

    python -m bench.bench_analyst [--lake PATH]

The lake is the dbt benchmark's (`python -m bench.bench_dbt` builds it: about 10M purchases); any built lake
works. Figures: publish time against the dbt build's; `connect` against a bare DuckDB connection attaching
dbt's build file read-only; typical analyst queries on the connection against the same queries on the build
file (the same tables, read without the boundary).
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import duckdb

from bench._harness import save
from lake.analyst import connect, mart_names, publish, published
from lake.build import mart_descriptions, marts_db_path
from lake.config import REPO_ROOT, LakeConfig
from lake.layout import MARTS
from lake.storage import Lake

QUERIES = {
    "segments": "select segment, count(*), avg(monetary_yen) from mart_rfm where scope = 'group' group by 1",
    "join": "select m.n_brands, avg(c.p_alive), sum(m.spend_365d_yen) from dim_members m "
            "join mart_clv c using (gid) group by 1 order by 1",
    "top": "select * from dim_members order by spend_365d_yen desc limit 100",
}


def _best(f, n: int = 5) -> float:
    times = []
    for _ in range(n):
        t = time.perf_counter()
        f()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lake", default=str(REPO_ROOT / "bench" / "results" / "dbt-lake"))
    args = ap.parse_args()
    lake = Lake(LakeConfig.resolve(args.lake))
    if not mart_names(lake) or not marts_db_path(lake).exists():
        raise SystemExit(f"no built marts in {args.lake}: run `python -m bench.bench_dbt` (or `lake build`) first")

    t = time.perf_counter()
    rel = publish(lake, mart_descriptions())
    publish_s = time.perf_counter() - t
    size_db = Path(lake.path(MARTS, rel)).stat().st_size
    size_parquet = sum(Path(lake.path(MARTS, f"{m}.parquet")).stat().st_size for m in mart_names(lake))
    rows = connect(lake).execute("select sum(estimated_size) from duckdb_tables()").fetchone()[0]

    build_file = str(marts_db_path(lake))

    def bare() -> duckdb.DuckDBPyConnection:
        con = duckdb.connect()
        con.execute(f"attach '{build_file}' as marts (read_only)")
        con.execute("use marts")
        return con

    connect_s, bare_s = _best(lambda: connect(lake)), _best(bare)
    con, base = connect(lake), bare()
    queries = {name: (_best(lambda q=q: con.execute(q).fetchall()), _best(lambda q=q: base.execute(q).fetchall()))
               for name, q in QUERIES.items()}
    result = {"marts": len(mart_names(lake)), "rows": rows, "publish_seconds": publish_s,
              "published_mb": size_db / 1e6, "parquet_mb": size_parquet / 1e6, "connect_seconds": connect_s,
              "bare_connect_seconds": bare_s, "queries": queries, "published_kept": len(published(lake))}
    save("analyst", result)
    print(f"publish {len(mart_names(lake))} marts ({rows:,} rows): {publish_s:.2f}s; "
          f"{size_db / 1e6:.0f} MB published beside {size_parquet / 1e6:.0f} MB of Parquet")
    print(f"connect: {connect_s * 1000:.0f} ms vs {bare_s * 1000:.0f} ms for a bare read-only attach "
          f"({connect_s / bare_s:.1f}x)")
    for name, (mine, theirs) in queries.items():
        print(f"query {name}: {mine * 1000:.0f} ms vs {theirs * 1000:.0f} ms on the build file ({mine / theirs:.2f}x)")


if __name__ == "__main__":
    main()
