"""The raw -> group gate on Spark DataFrames (GX's Spark data source): the suites the DuckDB path runs."""

from __future__ import annotations

import pyarrow as pa
import pytest
from pyspark.sql import SparkSession

from expectations import gates
from tests.unit import conftest_spark
from tests.unit import gates_fixture as fx

spark = conftest_spark.spark
pytestmark = pytest.mark.slow


def frame(spark: SparkSession, table: str, rows: list[dict], extra: list[tuple[str, pa.DataType]] = ()):
    schema = pa.schema([*fx.arrow_schema(table), *extra])
    return spark.createDataFrame(pa.Table.from_pylist(rows, schema=schema).to_pandas())


def test_group_frames_keep_the_rules_or_are_blocked(spark: SparkSession) -> None:
    ok = {"purchases": frame(spark, "purchases", [fx.purchase("cvs:T1", "cvs"), fx.purchase("dept:D1", "dept")]),
          "campaigns": frame(spark, "campaigns", [{"campaign_id": "CP1", "company": "cvs", "target_company": "gms",
                                                   "description": "ポイント２倍", "starts_on": fx.DAY,
                                                   "ends_on": fx.DAY}])}
    report = gates.check_group(ok)
    assert report.ok, report.message()
    bad = {
        # money shares monthly totals only: its single charges may not reach purchases; a note column leaks
        "purchases": frame(spark, "purchases", [
            fx.purchase("cvs:T1", "cvs") | {"note": None},
            fx.purchase("money:M1", "money") | {"note": "０９０－１２３４－５６７８"}], [("note", pa.string())]),
        "campaigns": frame(spark, "campaigns", [{"campaign_id": "CP1", "company": "cvs", "target_company": "gms",
                                                 "description": "ｔａｒｏ＠ｅｘａｍｐｌｅ．ｊｐ", "starts_on": fx.DAY,
                                                 "ends_on": fx.DAY}]),
    }
    report = gates.check_group(bad)
    f = {(x.rule, x.column, x.table): x for x in report.failures}
    assert f[("sharing.<company>.purchases", "company", "group/purchases")].rows_failed == 1
    assert f[("pii.columns", None, "group/purchases")].observed == "['note']"
    assert f[("pii.value_patterns", "note", "group/purchases")].rows_failed == 1
    email = f[("pii.value_patterns", "description", "group/campaigns")]
    assert email.rows_failed == 1 and "taro" not in email.examples[0]
    assert report.blocked == ["group/campaigns", "group/purchases"]
