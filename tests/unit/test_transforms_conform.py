"""Unit tests of the conform step: each transformation on small in-line frames."""

from __future__ import annotations

import datetime as dt

import pytest
from pyspark.sql import Row, SparkSession
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from tests.unit import conftest_spark
from transforms import conform

spark = conftest_spark.spark  # the session-scoped SparkSession fixture, shared by every Spark test module

pytestmark = pytest.mark.slow
UTC = dt.UTC


def ts(h: int, m: int = 0, day: int = 1) -> dt.datetime:
    return dt.datetime(2026, 8, day, h, m, tzinfo=UTC)


def test_jst_date_moves_evening_utc_to_next_day(spark: SparkSession) -> None:
    df = spark.createDataFrame([(ts(14, 59),), (ts(15, 0),)], "t timestamp")
    got = df.select(conform.jst_date("t").alias("d"))
    assertDataFrameEqual(got, [Row(d=dt.date(2026, 8, 1)), Row(d=dt.date(2026, 8, 2))])


def test_gms_amount_is_tax_included(spark: SparkSession) -> None:
    raw = spark.createDataFrame([Row(receipt_no="R1", line_no=1, store_id="G1", gid="g", sold_at=ts(1),
                                     dept_code="D01", quantity=2, net_amount_yen=1000, tax_amount_yen=80,
                                     channel="netsuper", _line=2, _batch_id="b")])
    got = conform.gms_canonical(raw).select("purchase_id", "channel", "amount_yen", "category_code")
    assertDataFrameEqual(got, [Row(purchase_id="gms:R1", channel="netsuper", amount_yen=1080,
                                   category_code="D01")])


D = dt.date(2026, 8, 1)
ROWS = ("date date, purchase_id string, company string, channel string, store_id string, gid string, "
        "purchased_at timestamp, payment_method string, campaign_id string, line_no bigint, category_code string, "
        "quantity bigint, amount_yen bigint, item_count bigint, _is_line boolean, _batch_id string, "
        "_landed_at timestamp, _line bigint")


def _rows(spark: SparkSession, rows: list[tuple]):
    """Canonical rows: (purchase_id, line_no, amount_yen, batch, landed hour, file line, is_line)."""
    return spark.createDataFrame(
        [(D, p, p.split(":")[0], "store", "S", "g", ts(1), None, None, n, "C1", 1 if line else None, a,
          None if line else 1, line, b, ts(h), f) for p, n, a, b, h, f, line in rows], ROWS)


def test_cvs_lines_are_numbered_by_file_position(spark: SparkSession) -> None:
    rows = [Row(transaction_id="T", store_id="S", gid="g", purchased_at=ts(1), category_code=c, quantity=1,
                amount_yen=a, payment_method="cash", _line=line, _batch_id="b", date=D)
            for c, a, line in [("C2", 20, 7), ("C1", 10, 3)]]
    canon = conform.cvs_canonical(spark.createDataFrame(rows))
    got = conform.flag_duplicates(canon).select("purchase_id", "line_no", "category_code", "_duplicate")
    assertDataFrameEqual(got, [Row(purchase_id="cvs:T", line_no=1, category_code="C1", _duplicate=False),
                               Row(purchase_id="cvs:T", line_no=2, category_code="C2", _duplicate=False)])


def test_latest_batch_wins_and_duplicated_lines_are_flagged(spark: SparkSession) -> None:
    df = _rows(spark, [
        ("gms:P1", 1, 100, "old", 1, 1, True), ("gms:P1", 2, 200, "old", 1, 2, True),  # re-sent later: dropped
        ("gms:P1", 1, 110, "new", 2, 1, True), ("gms:P1", 2, 200, "new", 2, 2, True),
        ("gms:P2", 1, 50, "old", 1, 3, True), ("gms:P2", 1, 50, "old", 1, 4, True),  # repeated within a batch
        ("gms:P3", 2, 70, "old", 1, 6, True), ("gms:P3", 1, 60, "old", 1, 5, True),  # no repeat: both kept
    ])
    got = conform.flag_duplicates(df).select("purchase_id", "line_no", "amount_yen", "_batch_id", "_duplicate",
                                             "_first")
    assertDataFrameEqual(got, [
        Row(purchase_id="gms:P1", line_no=1, amount_yen=100, _batch_id="old", _duplicate=True, _first=False),
        Row(purchase_id="gms:P1", line_no=2, amount_yen=200, _batch_id="old", _duplicate=True, _first=False),
        Row(purchase_id="gms:P1", line_no=1, amount_yen=110, _batch_id="new", _duplicate=False, _first=True),
        Row(purchase_id="gms:P1", line_no=2, amount_yen=200, _batch_id="new", _duplicate=False,
            _first=False),
        Row(purchase_id="gms:P2", line_no=1, amount_yen=50, _batch_id="old", _duplicate=False, _first=True),
        Row(purchase_id="gms:P2", line_no=1, amount_yen=50, _batch_id="old", _duplicate=True, _first=False),
        Row(purchase_id="gms:P3", line_no=1, amount_yen=60, _batch_id="old", _duplicate=False, _first=True),
        Row(purchase_id="gms:P3", line_no=2, amount_yen=70, _batch_id="old", _duplicate=False,
            _first=False),
    ])


def test_lines_without_numbers_resent_take_the_latest_batch_numbered_from_one(spark: SparkSession) -> None:
    df = _rows(spark, [("cvs:T", None, a, b, h, f, True) for a, b, h, f in
                       [(100, "a", 1, 10), (200, "a", 1, 11), (110, "b", 2, 4), (200, "b", 2, 5)]])
    got = conform.flag_duplicates(df).filter("not _duplicate").select("line_no", "amount_yen", "_batch_id")
    assertDataFrameEqual(got, [Row(line_no=1, amount_yen=110, _batch_id="b"),
                               Row(line_no=2, amount_yen=200, _batch_id="b")])


def test_receipt_dedupe_keeps_latest_batch_first_line(spark: SparkSession) -> None:
    df = _rows(spark, [("diner:R", None, a, b, h, f, False) for a, b, h, f in [(1, "x", 1, 1), (2, "y", 2, 5),
                                                                               (3, "y", 2, 9)]])
    got = conform.flag_duplicates(df).filter("not _duplicate").select("amount_yen", "line_no")
    assertDataFrameEqual(got, [Row(amount_yen=2, line_no=None)])


def test_a_receipt_is_deduplicated_within_its_date_only(spark: SparkSession) -> None:
    """The unit of work is a raw date: the same receipt id on two dates is two purchases (source ids repeat)."""
    df = _rows(spark, [("dept:R", None, 5, "a", 1, 1, False)]).unionByName(
        _rows(spark, [("dept:R", None, 7, "b", 2, 1, False)]).withColumn("date", F.lit(dt.date(2026, 8, 2))))
    assert conform.flag_duplicates(df).filter("not _duplicate").count() == 2


def test_categories_map_to_group_taxonomy_unknown_to_other(spark: SparkSession) -> None:
    lines = spark.createDataFrame([Row(purchase_id="P", company="cvs", category_code=c) for c in ("C1", "ZZ")])
    cats = spark.createDataFrame([Row(company="cvs", code="C1", group_category="ready_meals"),
                                  Row(company="gms", code="ZZ", group_category="home")])
    got = conform.map_categories(lines, cats).select("category_code", "category")
    assertDataFrameEqual(got, [Row(category_code="C1", category="ready_meals"),
                               Row(category_code="ZZ", category="other")])


def test_purchases_sum_lines_and_keep_receipts(spark: SparkSession) -> None:
    df = _rows(spark, [("cvs:T", None, 100, "a", 1, 1, True), ("cvs:T", None, 250, "a", 1, 2, True),
                       ("cvs:T", None, 999, "old", 0, 1, True), ("dept:R", None, 40, "a", 1, 1, False)])
    got = conform.purchases(conform.flag_duplicates(df)).select("purchase_id", "amount_yen", "item_count",
                                                                "purchase_date")
    assertDataFrameEqual(got, [Row(purchase_id="cvs:T", amount_yen=350, item_count=2, purchase_date=D),
                               Row(purchase_id="dept:R", amount_yen=40, item_count=1, purchase_date=D)])


def test_date_partitioning_is_the_only_shuffle(spark: SparkSession) -> None:
    """Dedupe, purchases and member-day reuse the partitioning by date: one exchange in the whole plan."""
    from transforms import aggregates

    df = _rows(spark, [("cvs:T", None, 100, "a", 1, 1, True)])
    flagged = conform.flag_duplicates(conform.by_date(df, 1))
    plan = aggregates.member_day(conform.purchases(flagged))._jdf.queryExecution().executedPlan().toString()
    assert plan.count("Exchange") == 1, plan


def test_sm_links_gid_and_keeps_unlinked_with_null_gid(spark: SparkSession) -> None:
    raw = spark.createDataFrame([
        Row(receipt_id=r, store_id="SM1", local_member_id=m, sold_at=ts(1), category_code="S01", quantity=1,
            amount_yen=100, _line=i, _batch_id="b")
        for i, (r, m) in enumerate([("A", "SM000000001"), ("B", "SM000000002"), ("C", None)])],
        schema="receipt_id string, store_id string, local_member_id string, sold_at timestamp, "
               "category_code string, quantity bigint, amount_yen bigint, _line bigint, _batch_id string")
    links = spark.createDataFrame([Row(local_member_id="SM000000001", gid="100000000008")])
    got = conform.sm_canonical(raw, links)
    assert "local_member_id" not in got.columns
    assertDataFrameEqual(got.select("purchase_id", "gid", "_unlinked_id"), [
        Row(purchase_id="sm:A", gid="100000000008", _unlinked_id=None),
        Row(purchase_id="sm:B", gid=None, _unlinked_id="SM000000002"),  # counted, dropped before writing
        Row(purchase_id="sm:C", gid=None, _unlinked_id=None)])


def test_dept_keeps_totals_and_drops_pii(spark: SparkSession) -> None:
    raw = spark.createDataFrame([Row(
        receipt_id="D1", store_id="S", issued_at=ts(3), gid="g", customer_name="n", customer_phone="p",
        customer_email="e", items=[Row(sku="1", category="DP10", qty=2, price_yen=10), Row(sku="2",
                                                                                      category="DP11", qty=1,
                                                                                      price_yen=5)],
        total_yen=25, payment_method="giftcard", note="call 090-1234-5678", _line=1, _batch_id="b")])
    got = conform.dept_canonical(raw)
    assert not {"customer_name", "customer_phone", "customer_email", "note", "items"} & set(got.columns)
    assertDataFrameEqual(got.select("purchase_id", "amount_yen", "item_count", "payment_method"),
                         [Row(purchase_id="dept:D1", amount_yen=25, item_count=3, payment_method="giftcard")])


def test_ec_amount_includes_shipping_and_lines_explode(spark: SparkSession) -> None:
    raw = spark.createDataFrame([Row(
        order_id="E1", gid="g", ordered_at=ts(5), delivery_prefecture="東京都", pickup_store_id="x",
        lines=[Row(sku="a", category="ec_food", qty=2, unit_price_yen=300),
               Row(sku="b", category="ec_drink", qty=1, unit_price_yen=150)],
        shipping_yen=200, coupon_code="CP1", _line=1, _batch_id="b")]).withColumn(
        "pickup_store_id", F.lit(None).cast("string"))  # delivered, not picked up
    orders = conform.ec_canonical(raw)
    assertDataFrameEqual(orders.select("purchase_id", "channel", "store_id", "amount_yen", "item_count",
                                       "campaign_id"),
                         [Row(purchase_id="ec:E1", channel="online", store_id=None, amount_yen=950, item_count=3,
                              campaign_id="CP1")])
    cats = spark.createDataFrame([Row(company="ec", code="ec_food", group_category="fresh_food")])
    flagged = conform.flag_duplicates(orders.withColumn("date", F.lit(D)).withColumn("_landed_at", F.lit(ts(1))))
    got = conform.lines(flagged, ["ec"], cats).select("purchase_id", "gid", "line_no", "category", "quantity",
                                                      "amount_yen")
    assertDataFrameEqual(got, [Row(purchase_id="ec:E1", gid="g", line_no=1, category="fresh_food", quantity=2,
                                   amount_yen=600),
                               Row(purchase_id="ec:E1", gid="g", line_no=2, category="other", quantity=1,
                                   amount_yen=150)])
    assert conform.lines(flagged, ["cvs"], cats).count() == 0  # ec lines only where the rules share them
