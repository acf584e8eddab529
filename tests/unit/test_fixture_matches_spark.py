"""The mart-test fixture computes what Spark computes: member_day and member_day_category of the fixture's group
zone (DuckDB, tests/integration/group_fixture.py) against transforms.aggregates on the same purchases and lines."""

from __future__ import annotations

import datetime as dt

import duckdb
import pyarrow as pa
import pytest
from pyspark.sql import functions as F

from lake.config import LakeConfig
from lake.storage import Lake
from tests.integration.group_fixture import (
    FixtureConfig,
    member_day_category_duckdb,
    member_day_duckdb,
    write_group_fixture,
)
from tests.unit import conftest_spark

spark = conftest_spark.spark


def _read(lake: Lake, table: str) -> pa.Table:
    uri = lake.uri("group", table)
    return duckdb.connect().execute(
        f"select * from read_parquet('{uri}/**/*.parquet', hive_partitioning = true)"
    ).arrow().read_all()


@pytest.fixture(scope="module")
def fixture_lake(tmp_path_factory: pytest.TempPathFactory) -> Lake:
    lake = Lake(LakeConfig.resolve(str(tmp_path_factory.mktemp("fx") / "lake")))
    write_group_fixture(lake, FixtureConfig(members=400, days=20, start=dt.date(2026, 3, 2), seed=5))
    return lake


@pytest.fixture(scope="module")
def fixture_zone(fixture_lake: Lake) -> tuple[pa.Table, pa.Table]:
    return _read(fixture_lake, "purchases"), _read(fixture_lake, "purchase_lines")


def test_the_fixture_group_zone_passes_the_raw_to_group_gate(fixture_lake: Lake) -> None:
    """The marts tests and the dbt and gate benchmarks build on this zone: a gate failing on it would make the gate
    benchmark time a failing run (it did: an sm link key that was no keyed hash)."""
    from expectations import gates

    report = gates.check_group_zone(fixture_lake)
    assert report.ok, [f.message() for f in report.failures]


def _rows(table: pa.Table, cols: list[str]) -> list[tuple]:
    return sorted(tuple(str(r[c]) for c in cols) for r in table.select(cols).to_pylist())


def test_member_day_matches_spark(spark, fixture_zone) -> None:
    from transforms.aggregates import member_day

    purchases, _ = fixture_zone
    cols = ["gid", "company", "purchase_date", "spend_yen", "visits", "items", "first_store_id"]
    # the Spark job works on the raw `date` (= purchase_date) before the group schema is applied
    frame = spark.createDataFrame(purchases.to_pandas()).withColumn("date", F.col("purchase_date"))
    expected = member_day(frame).toPandas()
    got = member_day_duckdb(duckdb.connect(), purchases)
    assert len(got) > 100
    # the data can tell the rules apart: member days whose earliest store is not the smallest store id
    con = duckdb.connect()
    con.register("p", purchases)
    differ = con.execute(
        "select count(*) from (select min(store_id) as a, arg_min(store_id, purchased_at) as b from p "
        "where gid is not null group by gid, company, purchase_date) where a <> b"
    ).fetchone()[0]
    assert differ > 0
    assert _rows(got, cols) == _rows(pa.Table.from_pandas(expected, preserve_index=False), cols)


def test_member_day_category_matches_spark(spark, fixture_zone) -> None:
    from transforms.aggregates import member_day_category

    purchases, lines = fixture_zone
    cols = ["gid", "company", "purchase_date", "category", "amount_yen", "quantity"]
    # in the Spark job the lines carry their purchase's gid and raw `date` (conform.lines); the group zone's
    # lines do not, so they are joined back to their purchases here
    owners = spark.createDataFrame(purchases.to_pandas()).select("purchase_id", "gid")
    frame = (spark.createDataFrame(lines.to_pandas()).withColumn("date", F.col("purchase_date"))
             .join(owners, "purchase_id"))
    expected = member_day_category(frame).toPandas()
    got = member_day_category_duckdb(duckdb.connect(), purchases, lines)
    assert len(got) > 100 and "baby" in set(got["category"].to_pylist())
    assert _rows(got, cols) == _rows(pa.Table.from_pandas(expected, preserve_index=False), cols)
