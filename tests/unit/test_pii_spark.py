"""PII patterns after NFKC in Spark (built-in functions only), on the cases Python and DuckDB are tested on."""

from __future__ import annotations

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from expectations import pii
from expectations.rules import load_rules
from tests.unit import conftest_spark
from tests.unit.pii_cases import CASES
from transforms import masters

spark = conftest_spark.spark
pytestmark = pytest.mark.slow
RULES = load_rules()


def test_spark_same_cases(spark: SparkSession) -> None:
    df = spark.createDataFrame([(i, c[0]) for i, c in enumerate(CASES)], "i int, s string")
    s = F.col("s")
    cols = [F.col("i"), pii.spark_redact(s, RULES.free_text_patterns).alias("redacted")]
    for group, patterns in (("free", RULES.free_text_patterns), ("value", RULES.value_patterns)):
        cols += [pii.spark_matches(s, pat).alias(f"{group}_{kind}") for kind, pat in patterns.items()]
    rows = {r["i"]: r for r in df.select(*cols).collect()}
    for i, (text, free, value, redacted) in enumerate(CASES):
        r = rows[i]
        assert [k for k in RULES.free_text_patterns if r[f"free_{k}"]] == free, text
        assert [k for k in RULES.value_patterns if r[f"value_{k}"]] == value, text
        if redacted is not None:
            assert r["redacted"] == redacted, text


def test_campaign_free_text_redacted_full_width(spark: SparkSession) -> None:
    df = spark.createDataFrame([("C1", "問合せ ｔａｒｏ＠ｅｘａｍｐｌｅ．ｊｐ まで"), ("C2", "ポイント２倍")],
                               "campaign_id string, description string")
    got = dict(masters.redact_free_text(df, ["description"], RULES.free_text_patterns).collect())
    assert got == {"C1": "問合せ [email] まで", "C2": "ポイント２倍"}
