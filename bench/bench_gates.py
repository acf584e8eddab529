"""Benchmark (DESIGN §8): the quality gates on the 10M-purchase lake against the same checks as plain DuckDB queries.

    python -m bench.bench_gates [--lake PATH]

The lake is the one `bench.bench_dbt` builds (group zone of about 10M purchases and its marts; made first if
missing). Both sides run in this process, one after the other, on the same files: the gates as `lake check`
runs them (GX's pandas data source on Arrow batches streamed from DuckDB, every row), and the same
expectations translated into one aggregate DuckDB query per table (the baseline: what the checks cost without
Great Expectations). Target: at most 2x, and under a fifth of the pipeline's time (here: the dbt build).
Then the raw -> group gate as the transforms run it, GX's Spark data source on each group table's DataFrame,
against the same checks as one Spark SQL aggregate per table (`--no-spark` skips it).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench._harness import save
from lake.config import REPO_ROOT, LakeConfig
from lake.storage import Lake

TARGET_RATIO = 2.0


def _lit(v: Any, spark: bool = False) -> str:
    if isinstance(v, str):
        if spark:  # a raw literal: Spark SQL would read the backslashes of the regexes as escapes
            assert "'" not in v, v
            return "r'" + v + "'"
        return "'" + v.replace("'", "''") + "'"
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def _cond(rc: Any, spark: bool = False) -> str:
    """SQL of a GX row condition (the Or/Comparison/Nullity conditions the suites use)."""
    from great_expectations.expectations.row_conditions import (
        AndCondition,
        ComparisonCondition,
        NullityCondition,
        OrCondition,
    )

    q = "`" if spark else '"'
    if isinstance(rc, OrCondition):
        return "(" + " OR ".join(_cond(c, spark) for c in rc.conditions) + ")"
    if isinstance(rc, AndCondition):
        return "(" + " AND ".join(_cond(c, spark) for c in rc.conditions) + ")"
    if isinstance(rc, NullityCondition):
        return f'{q}{rc.column.name}{q} IS {"" if rc.is_null else "NOT "}NULL'
    if isinstance(rc, ComparisonCondition):
        op = {"==": "=", "IN": "IN", "NOT_IN": "NOT IN"}.get(str(rc.operator), str(rc.operator))
        if op in ("IN", "NOT IN"):
            return f'{q}{rc.column.name}{q} {op} ({", ".join(_lit(v, spark) for v in rc.parameter)})'
        return f"{q}{rc.column.name}{q} {op} {_lit(rc.parameter, spark)}"
    raise ValueError(rc)


def plain_sql(expectation: Any, spark: bool = False) -> str | None:
    """The expectation as one aggregate expression: the number of rows that break it (None: metadata only).

    `spark`: in Spark SQL (for the raw -> group gate on Spark DataFrames) rather than DuckDB's."""
    t = expectation.expectation_type
    q = "`" if spark else '"'
    c = f'{q}{getattr(expectation, "column", "")}{q}'
    rc = getattr(expectation, "row_condition", None)
    where = f"({_cond(rc, spark)}) AND " if rc else ""

    def matches(col: str, regex: str) -> str:
        return f"{col} RLIKE {_lit(regex, spark)}" if spark else f"regexp_matches({col}, {_lit(regex)})"

    if t == "expect_column_values_to_not_match_regex_list":
        return f"count_if({where}{c} IS NOT NULL AND (" + " OR ".join(
            matches(c, r) for r in expectation.regex_list) + "))"
    if t == "expect_column_values_to_match_regex":
        return f"count_if({where}{c} IS NOT NULL AND NOT {matches(c, expectation.regex)})"
    if t == "expect_column_values_to_be_in_set":
        return f"count_if({where}{c} NOT IN ({', '.join(_lit(v, spark) for v in expectation.value_set)}))"
    if t == "expect_column_values_to_not_be_null":
        return f"count_if({where}{c} IS NULL)"
    if t == "expect_column_values_to_be_null":
        return f"count_if({where}{c} IS NOT NULL)"
    if t == "expect_column_values_to_be_between":
        parts = ([f"{c} < {expectation.min_value}"] if expectation.min_value is not None else []) + (
            [f"{c} > {expectation.max_value}"] if expectation.max_value is not None else [])
        return f"count_if({where}({' OR '.join(parts)}))"
    if t == "expect_column_values_to_be_unique":
        return f"count({c}) - count(DISTINCT {c})"
    if t == "expect_table_row_count_to_equal":
        return "count(*)"
    if t == "expect_column_values_to_be_valid_gid":
        return f"count_if({c} IS NOT NULL AND NOT {matches(c, '^[0-9]{12}$')})"
    return None  # column names and types: read from the schema, no scan


def baseline(lake: Lake) -> tuple[float, int]:
    """The gates' expectations as plain DuckDB: one aggregate query per table, string columns NFKC-folded alike."""
    from expectations import gates, pii, suites
    from expectations.rules import load_rules
    from lake import layout
    from lake.build import marts_db_path

    rules = load_rules()
    t0 = time.perf_counter()
    con = gates._duck(lake)
    n = 0
    tables = sorted({f.split("/")[0] for f in lake.list_files(layout.GROUP) if f.endswith(".parquet")
                     and "/_" not in f and not f.startswith(("_", "."))})
    for table in tables:
        src = f"read_parquet('{lake.uri(layout.GROUP, table)}/**/*.parquet', hive_partitioning = true, " \
              "union_by_name = true)"
        schema = con.execute(f"SELECT * FROM {src} LIMIT 0").to_arrow_table().schema
        types = {f.name: ("string" if gates._is_string(f.type) else str(f.type)) for f in schema}
        strings = [c for c, ty in types.items() if ty == "string"]
        exprs = [e for x in suites.group_suite(rules, table, types, gates._interface(table), strings)
                 if (e := plain_sql(x))]
        folded = ", ".join(pii.duckdb_nfkc(f'"{c}"') + f' AS "{c}"' if c in strings else f'"{c}"' for c in types)
        con.execute(f"SELECT {', '.join(exprs)} FROM (SELECT {folded} FROM {src})").fetchall()
        n += len(exprs)
    import duckdb

    mcon = duckdb.connect(str(marts_db_path(lake)), read_only=True)
    present = {r[0]: r[1] for r in mcon.execute("SELECT table_name, table_schema FROM information_schema.tables")
               .fetchall()}
    for mart, decl in sorted(suites.mart_declarations().items()):
        if mart not in present:
            continue
        rel = f'"{present[mart]}"."{mart}"'
        columns = [r[0] for r in mcon.execute(f"DESCRIBE {rel}").fetchall()]
        exprs = [e for x in suites.mart_suite(rules, mart, decl, columns) if (e := plain_sql(x))]
        if exprs:
            mcon.execute(f"SELECT {', '.join(exprs)} FROM {rel}").fetchall()
            n += len(exprs)
    mcon.close()
    return time.perf_counter() - t0, n


def with_gx(lake: Lake) -> tuple[float, int, list]:
    from expectations import gates
    from lake.build import marts_db_path

    t0 = time.perf_counter()
    reports = [gates.check_group_zone(lake), gates.check_marts(str(marts_db_path(lake))), gates.check_retention(lake)]
    return time.perf_counter() - t0, sum(len(r.findings) for r in reports), reports


def spark_gate(lake: Lake) -> tuple[float, float, int]:
    """The raw -> group gate as the transforms run it (`gates.check_group` on each table's DataFrame, persisted
    as `Job.write` persists it) against the same checks as one Spark SQL aggregate per table on the same
    NFKC-folded columns: (GX seconds, plain Spark seconds, tables)."""
    from pyspark.sql import functions as F

    from expectations import gates, pii, suites
    from expectations.rules import load_rules
    from lake import layout
    from transforms.spark import spark_session

    rules = load_rules()
    spark = spark_session(lake)
    tables = sorted({f.split("/")[0] for f in lake.list_files(layout.GROUP) if f.endswith(".parquet")
                     and "/_" not in f and not f.startswith(("_", "."))})
    gx_s = plain_s = 0.0
    for table in tables:
        df = spark.read.parquet(lake.uri(layout.GROUP, table)).persist()
        df.count()  # the transforms hand the gate a persisted frame: its cost is theirs, not the gate's
        types = {f.name: f.dataType.simpleString() for f in df.schema.fields}
        strings = [c for c, ty in types.items() if ty == "string"]
        folded = df.select(*[pii.spark_nfkc(F.col(c)).alias(c) if c in strings else F.col(c) for c in df.columns])
        exprs = [e for x in suites.group_suite(rules, table, types, gates._interface(table), strings)
                 if (e := plain_sql(x, spark=True))]
        t0 = time.perf_counter()
        if exprs:
            folded.selectExpr(*exprs).collect()
        plain_s += time.perf_counter() - t0
        t0 = time.perf_counter()
        gates.check_group({table: df}, rules)
        gx_s += time.perf_counter() - t0
        df.unpersist()
    spark.stop()
    return gx_s, plain_s, len(tables)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lake", default=str(REPO_ROOT / "bench" / "results" / "dbt-lake"))
    ap.add_argument("--members", type=int, default=180_000, help="size of the lake if it must be made (bench_dbt)")
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--no-spark", action="store_true", help="skip the raw -> group gate on Spark DataFrames")
    args = ap.parse_args()
    lake = Lake(LakeConfig.resolve(args.lake))
    dbt = REPO_ROOT / "bench" / "results" / "dbt.json"
    if not lake.exists("marts", "marts.duckdb") or not dbt.exists():
        subprocess.run([sys.executable, "-m", "bench.bench_dbt", "--lake", args.lake, "--members", str(args.members),
                        "--days", str(args.days)], check=True)
    pipeline = json.loads(dbt.read_text())["seconds"]
    purchases = json.loads((Path(args.lake) / "fixture.json").read_text())["purchases"]
    import great_expectations  # noqa: F401  (imported before timing: a one-off cost of the process)

    from expectations.validation import context

    context()
    gx_s, gx_n, reports = with_gx(lake)
    plain_s, plain_n = baseline(lake)
    ratio = gx_s / plain_s
    failed = [f.message() for r in reports for f in r.failures]
    spark_gx, spark_plain, spark_tables = (0.0, 0.0, 0) if args.no_spark else spark_gate(lake)
    save("gates", {"purchases": purchases, "gx_seconds": gx_s, "plain_seconds": plain_s, "ratio": ratio,
                   "expectations": gx_n, "plain_checks": plain_n, "dbt_build_seconds": pipeline,
                   "share_of_pipeline": gx_s / pipeline, "failures": failed,
                   "spark_gx_seconds": spark_gx, "spark_plain_seconds": spark_plain, "spark_tables": spark_tables,
                   "spark_ratio": spark_gx / spark_plain if spark_plain else None})
    print(f"quality gates on {purchases:,} purchases (group zone + marts + retention): GX {gx_s:.1f}s "
          f"({gx_n} expectations) vs plain DuckDB {plain_s:.1f}s ({plain_n} checks): {ratio:.2f}x "
          f"(target <= {TARGET_RATIO:.0f}x); {gx_s / pipeline:.2f} of the dbt build ({pipeline:.0f}s; target < 0.2 "
          f"of the pipeline)")
    if spark_tables:
        print(f"raw -> group gate on Spark DataFrames ({spark_tables} group tables): GX {spark_gx:.1f}s vs the same "
              f"checks as one Spark SQL aggregate per table {spark_plain:.1f}s: {spark_gx / spark_plain:.2f}x")
    for m in failed:
        print("  failed:", m)
    if failed:  # the bench lake is made to pass: a failing gate means the figures time the wrong run
        raise SystemExit(f"{len(failed)} gate check(s) failed on the bench lake; fix the lake (or the gate) first")


if __name__ == "__main__":
    main()
