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
from transforms.conform import jst_date, sort_key

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


def hmac_pads(key: bytes) -> tuple[bytes, bytes]:
    """The inner and outer HMAC-SHA256 pads of `key` (RFC 2104). They are as secret as the key itself."""
    if len(key) > 64:
        key = hashlib.sha256(key).digest()
    key = key.ljust(64, b"\0")
    return bytes(b ^ 0x36 for b in key), bytes(b ^ 0x5C for b in key)


def with_keyed_hash(df: DataFrame, column: str, alias: str, pads: DataFrame) -> DataFrame:
    """Add `alias` = HMAC-SHA256(key, column) in hex, from built-in functions (no Python UDF).

    The key never appears in the plan: it arrives as the one-row frame `pads` (`_ipad`, `_opad` binary,
    built from `hmac_pads`), joined on by broadcast, so a plan, `explain` or an event log shows a
    column, not a value (a literal would be printed in all three).
    """
    joined = df.crossJoin(F.broadcast(pads.select("_ipad", "_opad")))
    inner = F.unhex(F.sha2(F.concat(F.col("_ipad"), F.col(column).cast("binary")), 256))
    return joined.withColumn(alias, F.sha2(F.concat(F.col("_opad"), inner), 256)).drop("_ipad", "_opad")


def id_links(links: DataFrame, pads: DataFrame) -> DataFrame:
    """sm's link extract with the local member ID replaced by its keyed hash (the clear ID stays in raw-sm)."""
    hashed = with_keyed_hash(links, "local_member_id", "local_member_key", pads)
    return hashed.select(F.lit("sm").alias("company"), "local_member_key", "gid", "linked_at") \
        .dropDuplicates(["local_member_key"])


def redact_free_text(df: DataFrame, columns: list[str], patterns: Mapping[str, str]) -> DataFrame:
    """Replace every PII pattern hit (after NFKC) in free-text columns with `[kind]`, in the JVM."""
    for c in columns:
        if c in df.columns:
            df = df.withColumn(c, pii.spark_redact(F.col(c), patterns))
    return df


def _repeat(df: DataFrame, key: str) -> Column:
    """True for every copy of `key` but one within its raw date: the latest batch's, first in file order."""
    epoch = F.lit("1970-01-01").cast("timestamp")
    landed = F.coalesce(F.col("_landed_at"), epoch) if "_landed_at" in df.columns else epoch
    w = Window.partitionBy(sort_key(key), "date", key).orderBy(landed.desc(), F.col("_batch_id").desc(),
                                                               F.col("_line"))
    return F.row_number().over(w) > 1


def app_events(raw: DataFrame) -> DataFrame:
    """App events with their JST date (the raw date partition); `_duplicate` marks repeats of an event id."""
    return raw.select(
        "event_id", "gid", "app", "event_type", "occurred_at", F.col("date").alias("event_date"),
        "campaign_id", "store_id", "date", "_batch_id", _repeat(raw, "event_id").alias("_duplicate"))


def money_flags(raw: DataFrame) -> DataFrame:
    """E-money transactions with `_duplicate` (a repeated txn id) and `_anonymous` (card never registered)."""
    return raw.withColumn("_duplicate", _repeat(raw, "txn_id")).withColumn("_anonymous", F.col("gid").isNull())
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
