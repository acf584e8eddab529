"""Masters and small feeds: members (generalised), stores, categories, sm ID links, campaigns, app events,
and e-money monthly totals. Pure DataFrame -> DataFrame functions; the sharing rules come in as arguments.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from expectations import pii
from lake.errors import LakeError
from transforms.conform import jst_date

# How a generalisation named in the sharing rules (`members:` section) is computed, and the column it
# produces. The rules say *which* column gets *which* generalisation; this says what each name means.
GENERALISERS: dict[str, Callable[[Column], Column]] = {
    "first_3_digits": lambda c: F.substring(F.regexp_replace(c, r"[^0-9]", ""), 1, 3),
    "year": lambda c: F.year(c),
    "drop": lambda c: F.lit(None),
}
GENERALISED_NAME = {"postal_code": "postal3", "birth_date": "birth_year"}


def generalise_members(members: DataFrame, generalisation: Mapping[str, str], pii: frozenset[str]) -> DataFrame:
    """The member master without PII: each column the rules generalise is replaced by its coarse form,
    then every PII column is dropped."""
    out = members
    for column, how in generalisation.items():
        if how not in GENERALISERS:
            raise LakeError(f"sharing rules ask to generalise members.{column} by {how!r}, which no job implements",
                            f"use one of {sorted(GENERALISERS)} in expectations/sharing_rules.yml")
        out = out.withColumn(GENERALISED_NAME.get(column, f"{column}_{how}"), GENERALISERS[how](F.col(column)))
    return drop_pii_columns(out, pii).dropDuplicates(["gid"])


def drop_pii_columns(df: DataFrame, pii: frozenset[str]) -> DataFrame:
    return df.drop(*[c for c in df.columns if c in pii])


def hmac_sha256(value: Column, key: bytes) -> Column:
    """HMAC-SHA256 of a string column, hex, from built-in functions (RFC 2104), so no Python UDF runs."""
    if len(key) > 64:
        key = hashlib.sha256(key).digest()
    key = key.ljust(64, b"\0")
    ipad = bytes(b ^ 0x36 for b in key)
    opad = bytes(b ^ 0x5C for b in key)
    inner = F.unhex(F.sha2(F.concat(F.lit(ipad), value.cast("binary")), 256))
    return F.sha2(F.concat(F.lit(opad), inner), 256)


def id_links(links: DataFrame, key: bytes) -> DataFrame:
    """sm's link extract with the local member ID replaced by its keyed hash (the clear ID stays in raw-sm)."""
    return links.select(
        F.lit("sm").alias("company"), hmac_sha256(F.col("local_member_id"), key).alias("local_member_key"),
        "gid", "linked_at",
    ).dropDuplicates(["local_member_key"])


def redact_free_text(df: DataFrame, columns: list[str], patterns: Mapping[str, str]) -> DataFrame:
    """Replace every PII pattern hit (after NFKC) in free-text columns with `[kind]`, in the JVM."""
    for c in columns:
        if c in df.columns:
            df = df.withColumn(c, pii.spark_redact(F.col(c), patterns))
    return df


def latest_per_key(df: DataFrame, keys: list[str]) -> DataFrame:
    """One row per key: the copy from the latest batch (snapshots and event feeds can repeat a row)."""
    landed = F.coalesce(F.col("_landed_at"), F.lit("1970-01-01").cast("timestamp")) \
        if "_landed_at" in df.columns else F.lit(None)
    w = Window.partitionBy(*keys).orderBy(landed.desc(), F.col("_batch_id").desc(), F.col("_line"))
    return df.withColumn("_rank", F.row_number().over(w)).filter("_rank = 1").drop("_rank")


def app_events(raw: DataFrame) -> DataFrame:
    """App events with their JST date; `_duplicate` marks repeats of an event id (kept once)."""
    landed = F.coalesce(F.col("_landed_at"), F.lit("1970-01-01").cast("timestamp")) \
        if "_landed_at" in raw.columns else F.lit(None)
    w = Window.partitionBy("event_id").orderBy(landed.desc(), F.col("_batch_id").desc(), F.col("_line"))
    return raw.select(
        "event_id", "gid", "app", "event_type", "occurred_at", jst_date("occurred_at").alias("event_date"),
        "campaign_id", "store_id", "date", (F.row_number().over(w) > 1).alias("_duplicate"))


def money_flags(raw: DataFrame) -> DataFrame:
    """E-money transactions with `_duplicate` (a repeated txn id) and `_anonymous` (card never registered)."""
    landed = F.coalesce(F.col("_landed_at"), F.lit("1970-01-01").cast("timestamp")) \
        if "_landed_at" in raw.columns else F.lit(None)
    w = Window.partitionBy("txn_id").orderBy(landed.desc(), F.col("_batch_id").desc(), F.col("_line"))
    return raw.withColumn("_duplicate", F.row_number().over(w) > 1).withColumn("_anonymous", F.col("gid").isNull())


def money_monthly(txns: DataFrame) -> DataFrame:
    """Monthly per-member totals: the only form in which e-money data is shared (never single charges)."""
    kept = txns.filter(~F.col("_duplicate") & ~F.col("_anonymous"))
    pay = F.col("kind") == "payment"
    charge = F.col("kind") == "charge"
    return kept.withColumn("month", F.trunc(jst_date("occurred_at"), "month")).groupBy("gid", "month").agg(
        F.count_if(pay).alias("payments"), F.sum(F.when(pay, F.col("amount_yen")).otherwise(0)).alias("payment_yen"),
        F.count_if(charge).alias("charges"),
        F.sum(F.when(charge, F.col("amount_yen")).otherwise(0)).alias("charge_yen"),
        F.count_distinct(F.when(pay, F.col("merchant_company"))).alias("companies_paid_at"),
    )
