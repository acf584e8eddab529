"""Benchmark: the Spark conform step against an equivalent DuckDB query, in the same run (DESIGN §8).

Target: Spark conform within 3x of DuckDB at 10M purchase lines, cost linear from 10M to 50M, and one
group-zone file per table and partition, of sensible size. Input is a raw cvs POS zone (the busiest
feed) written straight as contract-shaped Parquet over 30 JST dates. Both engines do the same work:
number lines, drop receipts re-sent in an older batch, map categories to the group taxonomy, write
purchases, purchase_lines, member_day and member_day_category as date-partitioned zstd Parquet, and
count raw rows and duplicates per date for the reconciliation (Spark also counts what it wrote, once).
Spark start-up is reported apart (paid once per run). For each size it prints both sides of the same
run, and the files each engine wrote per table with their median size.

    python -m bench.bench_conform                 # 1M, 10M and 50M lines
    python -m bench.bench_conform --rows 200000   # small: one size, seconds
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import duckdb

from bench._harness import file_sizes, save
from lake.config import LakeConfig
from lake.storage import Lake

DAYS = 30
CATEGORIES = [(f"C{i:03d}", g) for i, g in enumerate(
    ["ready_meals", "beverages", "alcohol", "snacks", "daily_goods", "fresh_food", "cosmetics", "other"] * 5)]


# DuckDB's share of the machine: the Spark session (in local mode a heap of up to a third of the memory, 8g
# here, ~10 GB resident) lives beside it for the whole run, and DuckDB's default (80% of RAM) got the
# benchmark killed by the kernel at 50M rows; past the cap it spills to its temporary folder
DUCKDB_MEMORY = "10GB"


def _duckdb() -> duckdb.DuckDBPyConnection:
    spill = Path(tempfile.gettempdir()) / "bench-conform-duckdb-spill"
    con = duckdb.connect(config={"memory_limit": DUCKDB_MEMORY, "temp_directory": str(spill)})
    con.execute("SET TimeZone = 'UTC'")
    return con


def make_raw(lake: Lake, rows: int) -> None:
    """`rows` cvs POS lines over DAYS dates (about 2.5 lines a receipt), plus the categories snapshot."""
    con = _duckdb()
    base = lake.path("raw-cvs")
    Path(base, "pos").mkdir(parents=True, exist_ok=True)
    con.execute(f"""
        COPY (
            SELECT i + 1 AS _line,
                   lpad(CAST(i // 5 * 2 + (i % 5 >= 2)::INT AS VARCHAR), 12, '0') AS transaction_id,
                   CAST(100000 + (i // 5) % 20000 AS VARCHAR) AS store_id,
                   CASE WHEN i % 3 = 0 THEN NULL ELSE CAST(100000000000 + (i // 5) % 1000000 AS VARCHAR) END AS gid,
                   TIMESTAMPTZ '2026-07-31 15:00:00+00' + to_days(CAST((i * {DAYS}) // {rows} AS INT))
                       + to_seconds(CAST((i // 5) % 86000 AS BIGINT)) AS purchased_at,
                   'C' || lpad(CAST(i % {len(CATEGORIES)} AS VARCHAR), 3, '0') AS category_code,
                   1 + i % 3 AS quantity, 100 + (i * 37) % 900 AS amount_yen,
                   ['cash', 'emoney', 'card', 'code'][1 + (i // 5) % 4] AS payment_method,
                   'cvs-pos-bench0' AS _batch_id,
                   CAST(DATE '2026-08-01' + CAST((i * {DAYS}) // {rows} AS INT) AS VARCHAR) AS date
            FROM range({rows}) t(i)
        ) TO '{base}/pos' (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (date),
                           FILENAME_PATTERN 'part-cvs-pos-bench{{i}}', OVERWRITE_OR_IGNORE)""")
    values = ", ".join(f"('cvs', '{c}', '{c}', '{g}', 'cvs-categories-1')" for c, g in CATEGORIES)
    snap = f"{base}/categories/snapshot=cvs-categories-1"
    Path(snap).mkdir(parents=True, exist_ok=True)
    con.execute(f"""COPY (SELECT 1 AS _line, * FROM (VALUES {values}) v(company, code, name, group_category, _batch_id))
                    TO '{snap}/part-cvs-categories-1.parquet' (FORMAT parquet)""")


def duckdb_conform(lake: Lake, out: Path) -> float:
    """The same conform in DuckDB: one query to dedupe and number lines, then the four tables and the counts."""
    raw = lake.path("raw-cvs")
    out.mkdir(parents=True, exist_ok=True)
    con = _duckdb()
    started = time.perf_counter()
    con.execute(f"""
        CREATE TEMP TABLE flagged AS
        WITH raw AS (SELECT * FROM read_parquet('{raw}/pos/*/*.parquet', hive_partitioning = true)),
        numbered AS (
            SELECT *, 'cvs:' || transaction_id AS purchase_id,
                   row_number() OVER (PARTITION BY date, transaction_id, _batch_id ORDER BY _line) AS line_no,
                   max(_batch_id) OVER (PARTITION BY date, transaction_id) AS latest
            FROM raw),
        cats AS (SELECT code, group_category FROM read_parquet('{raw}/categories/*/*.parquet'))
        SELECT n.*, coalesce(c.group_category, 'other') AS category, CAST(n.date AS DATE) AS purchase_date,
               n._batch_id <> n.latest AS duplicate
        FROM numbered n LEFT JOIN cats c ON n.category_code = c.code""")
    con.execute("CREATE TEMP TABLE kept AS SELECT * FROM flagged WHERE NOT duplicate")
    con.execute(f"""
        COPY (SELECT purchase_id, 'cvs' AS company, 'store' AS channel, any_value(store_id) AS store_id,
                     any_value(gid) AS gid, min(purchased_at) AS purchased_at, purchase_date,
                     sum(amount_yen) AS amount_yen, sum(quantity) AS item_count,
                     any_value(payment_method) AS payment_method, NULL AS campaign_id
              FROM kept GROUP BY purchase_date, purchase_id)
        TO '{out}/purchases' (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (purchase_date))""")
    con.execute(f"""
        COPY (SELECT purchase_id, 'cvs' AS company, line_no, category, quantity, amount_yen, purchase_date FROM kept)
        TO '{out}/purchase_lines' (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (purchase_date))""")
    con.execute(f"""
        COPY (SELECT gid, 'cvs' AS company, purchase_date, sum(amount_yen) AS spend_yen,
                     count(DISTINCT purchase_id) AS visits, sum(quantity) AS items,
                     arg_min(store_id, (purchased_at, store_id)) AS first_store_id
              FROM kept WHERE gid IS NOT NULL GROUP BY ALL)
        TO '{out}/member_day' (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (purchase_date))""")
    con.execute(f"""
        COPY (SELECT gid, 'cvs' AS company, purchase_date, category, sum(amount_yen) AS amount_yen,
                     sum(quantity) AS quantity
              FROM kept WHERE gid IS NOT NULL GROUP BY ALL)
        TO '{out}/member_day_category' (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (purchase_date))""")
    con.execute("SELECT date, _batch_id, count(*), count(*) FILTER (duplicate) FROM flagged GROUP BY ALL").fetchall()
    return time.perf_counter() - started


def spark_conform(spark, lake: Lake) -> tuple[float, Path]:
    """The transforms' own sales step (dedupe, categories, the four tables, counts of raw and of what was written).

    Returns the seconds and the staging folder it wrote to (what a run would publish).
    """
    from expectations.rules import load_rules
    from transforms.plan import plan
    from transforms.run import Job, listing
    from transforms.state import State

    rules = load_rules()
    live, snaps = listing(lake, rules)
    job = Job(spark, lake, rules, plan(live, snaps, State(), list(rules.companies)))
    started = time.perf_counter()
    job.sales()
    problems = job.reconcile(job.count())
    job.release()
    seconds = time.perf_counter() - started
    if problems:
        raise SystemExit(f"Spark conform does not reconcile: {problems[:3]}")
    return seconds, Path(lake.path("group", f"_staging/{job.run_id}"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, action="append", help="purchase lines (repeatable; default 1M, 10M, 50M)")
    ap.add_argument("--dir", default=None, help="scratch folder (default: a temporary one, removed afterwards)")
    args = ap.parse_args()
    sizes = args.rows or [1_000_000, 10_000_000, 50_000_000]
    scratch = Path(args.dir or tempfile.mkdtemp(prefix="bench-conform-"))
    from transforms.spark import spark_session

    results = []
    try:
        spark = None
        for rows in sizes:
            root = scratch / f"lake-{rows}"
            shutil.rmtree(root, ignore_errors=True)
            lake = Lake(LakeConfig.resolve(str(root)))
            t = time.perf_counter()
            make_raw(lake, rows)
            print(f"{rows:>12,} lines: raw zone written in {time.perf_counter() - t:.1f}s", flush=True)
            duck = duckdb_conform(lake, root / "duckdb-group")
            print(f"{rows:>12,} lines: DuckDB conform {duck:.1f}s", flush=True)
            if spark is None:
                t0 = time.perf_counter()
                spark = spark_session(lake)
                print(f"Spark session start {time.perf_counter() - t0:.1f}s (once per run)", flush=True)
            spk, staged = spark_conform(spark, lake)
            print(f"{rows:>12,} lines: Spark conform {spk:.1f}s  ratio {spk / duck:.2f}x (target <= 3x)", flush=True)
            files = {"spark": file_sizes(staged), "duckdb": file_sizes(root / "duckdb-group")}
            for engine, tables in files.items():
                for table, (n, parts, median) in tables.items():
                    print(f"{'':14}{engine:>6} {table:<20} {n:4} files in {parts:4} partitions, median "
                          f"{median:7.2f} MB", flush=True)
            results.append((rows, duck, spk, files))
            shutil.rmtree(root, ignore_errors=True)
    finally:
        if args.dir is None:
            shutil.rmtree(scratch, ignore_errors=True)
    print("\nrows          duckdb_s  spark_s  spark/duckdb  spark_s_per_M")
    for rows, duck, spk, _ in results:
        print(f"{rows:<12,}  {duck:8.1f}  {spk:7.1f}  {spk / duck:11.2f}x  {spk / rows * 1e6:13.2f}")
    big = [r for r in results if r[0] >= 10_000_000] or results
    if len(big) > 1:
        (r0, _, s0, _), (r1, _, s1, _) = big[0], big[-1]
        print(f"cost growth {r0:,} -> {r1:,} lines: x{s1 / s0:.2f} for x{r1 / r0:.1f} data (linear: equal)")
    save("conform", {"runs": [{"rows": r, "duckdb_s": round(d, 2), "spark_s": round(s, 2), "ratio": round(s / d, 2),
                               "files": f} for r, d, s, f in results]})


if __name__ == "__main__":
    main()
