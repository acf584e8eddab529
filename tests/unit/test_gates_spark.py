"""The raw -> group gate on Spark DataFrames (GX's Spark data source): the suites the DuckDB path runs."""

from __future__ import annotations

import pyarrow as pa
import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

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


def test_the_pii_search_finds_the_shared_cases_on_pandas_in_slices_and_on_spark(
        spark: SparkSession, monkeypatch: pytest.MonkeyPatch) -> None:
    """`ExpectColumnValuesToNotContainMatch` with the rules' value patterns, on the PII cases every engine is tested
    on (after NFKC, as the gates fold them), repeated so the pandas search runs in several slices at once: the same
    values are unexpected on both engines, and they are the cases with a value pattern."""
    import pandas as pd

    from expectations import custom, pii
    from expectations.rules import load_rules
    from expectations.validation import Batch, validate
    from tests.unit.pii_cases import CASES

    rules = load_rules()
    pattern = "|".join(f"(?:{p})" for p in rules.value_patterns.values())
    texts = [c[0] for c in CASES] * 7  # 112 values in slices of 10
    want = sorted(pii.nfkc(c[0]) for c in CASES if c[2]) * 7
    monkeypatch.setattr(custom, "SLICE_ROWS", 10)
    folded = pd.DataFrame({"s": pd.array([None if t is None else pii.nfkc(t) for t in texts],
                                         dtype=pd.ArrowDtype(pa.string()))})
    spark_frame = spark.createDataFrame([(t,) for t in texts], "s string").select(pii.spark_nfkc(F.col("s")).alias("s"))
    expectation = custom.ExpectColumnValuesToNotContainMatch(column="s", regex=pattern)
    for frame_ in (folded, spark_frame):
        (outcome,) = validate(Batch("pii.cases", "pii cases", frame_, [expectation]))
        assert not outcome.success
        assert outcome.result["unexpected_count"] == len(want) == 9 * 7
        assert outcome.result["element_count"] - outcome.result["missing_count"] == (len(CASES) - 1) * 7
        shown = outcome.result["partial_unexpected_list"]  # the first few offenders
        assert shown and set(shown) <= set(want), shown


def test_the_sliced_search_is_the_one_call_search(monkeypatch: pytest.MonkeyPatch) -> None:
    import pandas as pd
    import pyarrow.compute as pc

    from expectations import custom

    values = pd.Series([f"id-{i:07d}" if i % 5 else None for i in range(1003)], index=range(5, 1008),
                       dtype=pd.ArrowDtype(pa.string()))
    monkeypatch.setattr(custom, "SLICE_ROWS", 100)
    got = custom.contains_match_pandas(values, r"0[0-9]7$|-00")
    want = pc.fill_null(pc.match_substring_regex(pa.array(values), r"0[0-9]7$|-00"), False).to_pylist()
    assert got.tolist() == want and list(got.index) == list(values.index) and 0 < sum(want) < 1003
    numbers = custom.contains_match_pandas(pd.Series([90012345678, 5]), r"^9001")  # read as text
    assert numbers.tolist() == [True, False]
