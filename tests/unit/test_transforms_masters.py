"""Unit tests of masters, PII handling, e-money totals and member-day aggregates on small in-line frames."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac

import pytest
from pyspark.sql import Row, SparkSession
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from expectations.rules import load_rules
from lake.errors import LakeError
from tests.unit import conftest_spark
from transforms import aggregates, masters
from transforms.schema import to_group_schema

spark = conftest_spark.spark  # the session-scoped SparkSession fixture, shared by every Spark test module

pytestmark = pytest.mark.slow
UTC = dt.UTC


def test_members_generalised_as_the_rules_say(spark: SparkSession) -> None:
    rules = load_rules()
    members = spark.createDataFrame([Row(
        gid="100000000008", name="山田 太郎", email="t@example.com", phone="090-1234-5678", postal_code="123-4567",
        prefecture="東京都", birth_date=dt.date(1980, 5, 17), gender="F", joined_on=dt.date(2020, 1, 1),
        marketing_consent=True, programme_joined_on=dt.date(2021, 1, 1), _line=1, _batch_id="b")])
    got = masters.generalise_members(members, rules.members, rules.pii_columns)
    assert not set(got.columns) & rules.pii_columns
    assertDataFrameEqual(to_group_schema(got, "members"), [Row(
        gid="100000000008", birth_year=1980, gender="F", prefecture="東京都", postal3="123",
        joined_on=dt.date(2020, 1, 1), marketing_consent=True, programme_joined_on=dt.date(2021, 1, 1))])


def test_unknown_generalisation_is_a_clear_error(spark: SparkSession) -> None:
    df = spark.createDataFrame([Row(gid="1", postal_code="123-4567")])
    with pytest.raises(LakeError, match="no job implements"):
        masters.generalise_members(df, {"postal_code": "first_2_digits"}, frozenset())


def _pads(spark: SparkSession, key: bytes):
    import pyarrow as pa

    ipad, opad = masters.hmac_pads(key)
    return spark.createDataFrame(pa.table({"_ipad": pa.array([ipad], pa.binary()),
                                           "_opad": pa.array([opad], pa.binary())}))


@pytest.mark.parametrize("key", [b"a-sixteen-byte-k", b"k" * 64, b"a key longer than one sha-256 block " * 3])
def test_keyed_hash_is_hmac_sha256(spark: SparkSession, key: bytes) -> None:
    df = spark.createDataFrame([Row(v="SM000000001"), Row(v="SM000000002")])
    got = {r["v"]: r["h"] for r in masters.with_keyed_hash(df, "v", "h", _pads(spark, key)).collect()}
    assert got == {v: hmac.new(key, v.encode(), hashlib.sha256).hexdigest() for v in ("SM000000001", "SM000000002")}


def test_key_is_not_in_the_plan(spark: SparkSession) -> None:
    key = b"plan-must-not-show-this-key"
    df = masters.with_keyed_hash(spark.createDataFrame([Row(v="SM000000001")]), "v", "h", _pads(spark, key))
    ipad, opad = masters.hmac_pads(key)
    plan = df._jdf.queryExecution().toString()  # parsed, analysed, optimised and physical plans
    for secret in (key, ipad, opad):
        assert secret.hex() not in plan.lower() and secret.decode("latin-1") not in plan
    assert "_ipad" in plan  # the plan does show where the key enters: a column


def test_id_links_pseudonymised(spark: SparkSession) -> None:
    links = spark.createDataFrame([Row(local_member_id="SM000000001", gid="100000000008",
                                       linked_at=dt.datetime(2026, 1, 1, tzinfo=UTC))])
    got = masters.id_links(links, _pads(spark, b"a-sixteen-byte-k"))
    assert got.columns == ["company", "local_member_key", "gid", "linked_at"]
    row = got.first()
    assert row["company"] == "sm" and row["gid"] == "100000000008"
    assert row["local_member_key"] == hmac.new(b"a-sixteen-byte-k", b"SM000000001", hashlib.sha256).hexdigest()


def test_free_text_redacted_with_rule_patterns(spark: SparkSession) -> None:
    rules = load_rules()
    df = spark.createDataFrame([Row(description="mail taro@example.com or call 090-1234-5678 today")])
    got = masters.redact_free_text(df, ["description"], rules.free_text_patterns)
    assertDataFrameEqual(got, [Row(description="mail [email] or call [phone] today")])


def test_money_monthly_totals_skip_repeats_and_unregistered_cards(spark: SparkSession) -> None:
    t = dt.datetime(2026, 7, 31, 16, tzinfo=UTC)  # 1 August in JST
    raw = spark.createDataFrame([
        Row(txn_id=i, gid=g, kind=k, merchant_company=c, occurred_at=t, amount_yen=a, _line=n, _batch_id="b")
        for n, (i, g, k, c, a) in enumerate([
            ("M1", "g1", "charge", None, 5000), ("M2", "g1", "payment", "cvs", 300),
            ("M2", "g1", "payment", "cvs", 300), ("M3", "g1", "payment", "gms", 200),
            ("M4", None, "payment", "cvs", 999)])],
        schema="txn_id string, gid string, kind string, merchant_company string, occurred_at timestamp, "
               "amount_yen bigint, _line bigint, _batch_id string")
    flagged = masters.money_flags(raw.withColumn("date", F.lit(dt.date(2026, 8, 1))))
    assert flagged.filter("_duplicate").count() == 1 and flagged.filter("_anonymous").count() == 1
    assertDataFrameEqual(masters.money_monthly(flagged), [Row(
        gid="g1", month=dt.date(2026, 8, 1), payments=2, payment_yen=500, charges=1, charge_yen=5000,
        companies_paid_at=2)])


def test_app_events_dated_in_jst_and_repeats_flagged(spark: SparkSession) -> None:
    t = dt.datetime(2026, 8, 1, 15, 30, tzinfo=UTC)
    raw = spark.createDataFrame([
        Row(event_id="E1", gid="g", app="cvs", event_type="app_open", occurred_at=t, campaign_id="C",
            store_id="S", screen="home", date=dt.date(2026, 8, 2), _line=n, _batch_id="b") for n in (1, 2)])
    got = masters.app_events(raw).select("event_id", "event_date", "_duplicate")
    assertDataFrameEqual(got, [Row(event_id="E1", event_date=dt.date(2026, 8, 2), _duplicate=False),
                               Row(event_id="E1", event_date=dt.date(2026, 8, 2), _duplicate=True)])


def _purchases(spark: SparkSession):
    d = dt.date(2026, 8, 1)
    return spark.createDataFrame([
        Row(purchase_id=p, company=c, gid=g, date=d, purchased_at=dt.datetime(2026, 8, 1, h, tzinfo=UTC),
            store_id=s, amount_yen=a, item_count=n)
        for p, c, g, h, s, a, n in [("cvs:1", "cvs", "g1", 3, "S2", 300, 2), ("cvs:2", "cvs", "g1", 1, "S1", 100, 1),
                                    ("cvs:3", "cvs", None, 2, "S1", 999, 9), ("gms:1", "gms", "g1", 5, "G1", 50, 1)]],
        schema="purchase_id string, company string, gid string, date date, purchased_at timestamp, "
               "store_id string, amount_yen bigint, item_count bigint")


def test_member_day(spark: SparkSession) -> None:
    d = dt.date(2026, 8, 1)
    got = aggregates.member_day(_purchases(spark)).drop("date")
    assertDataFrameEqual(got, [
        Row(gid="g1", company="cvs", spend_yen=400, visits=2, items=3, first_store_id="S1", purchase_date=d),
        Row(gid="g1", company="gms", spend_yen=50, visits=1, items=1, first_store_id="G1", purchase_date=d)])


def test_member_day_first_store_ties_go_to_the_smaller_store(spark: SparkSession) -> None:
    """Two receipts at the same instant: the smaller store id, in whichever order the rows come."""
    at = dt.datetime(2026, 8, 1, 3, tzinfo=UTC)
    for stores in (["S9", "S3"], ["S3", "S9"]):
        rows = spark.createDataFrame(
            [Row(purchase_id=f"cvs:{i}", company="cvs", gid="g1", date=at.date(), purchased_at=at, store_id=s,
                 amount_yen=100, item_count=1) for i, s in enumerate(stores)],
            schema="purchase_id string, company string, gid string, date date, purchased_at timestamp, "
                   "store_id string, amount_yen bigint, item_count bigint").coalesce(1)
        assert aggregates.member_day(rows).collect()[0]["first_store_id"] == "S3", stores


def test_member_day_category(spark: SparkSession) -> None:
    d = dt.date(2026, 8, 1)
    lines = spark.createDataFrame([
        Row(purchase_id=p, company="cvs", gid=g, date=d, category=c, quantity=q, amount_yen=a)
        for p, g, c, q, a in [("cvs:1", "g1", "beverages", 2, 300), ("cvs:2", "g1", "beverages", 1, 100),
                              ("cvs:3", None, "alcohol", 9, 999)]])
    assertDataFrameEqual(aggregates.member_day_category(lines).drop("date"), [
        Row(gid="g1", company="cvs", category="beverages", amount_yen=400, quantity=3, purchase_date=d)])


def test_to_group_schema_keeps_only_interface_columns(spark: SparkSession) -> None:
    df = spark.createDataFrame([Row(event_id="E", gid="g", app="a", event_type="t",
                                    occurred_at=dt.datetime(2026, 8, 1, tzinfo=UTC), event_date=dt.date(2026, 8, 1),
                                    campaign_id=None, store_id=None, screen="secret", _batch_id="b")],
                               schema="event_id string, gid string, app string, event_type string, "
                                      "occurred_at timestamp, event_date date, campaign_id string, store_id string, "
                                      "screen string, _batch_id string")
    assert to_group_schema(df, "app_events").columns == [
        "event_id", "gid", "app", "event_type", "occurred_at", "event_date", "campaign_id", "store_id"]
    with pytest.raises(LakeError, match="lacks columns"):
        to_group_schema(df.drop("gid"), "app_events")
