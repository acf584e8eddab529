"""Member-grain aggregates of the group zone, so dbt works from tens of millions of rows, not billions."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F


def member_day(purchases: DataFrame) -> DataFrame:
    """gid x company x JST date: spend, visits (receipts), items and the first store of the day.

    Anonymous purchases (null gid, including unlinked sm members) have no member to add up to.
    """
    return purchases.filter(F.col("gid").isNotNull()).groupBy("gid", "company", "purchase_date").agg(
        F.sum("amount_yen").alias("spend_yen"), F.count("*").alias("visits"),
        F.sum("item_count").alias("items"), F.min_by("store_id", "purchased_at").alias("first_store_id"))


def member_day_category(purchases: DataFrame, lines: DataFrame) -> DataFrame:
    """The category mix of member_day, from the lines of companies that share them."""
    members = purchases.filter(F.col("gid").isNotNull()).select("purchase_id", "gid")
    return lines.join(members, "purchase_id").groupBy("gid", "company", "purchase_date", "category").agg(
        F.sum("amount_yen").alias("amount_yen"), F.sum("quantity").alias("quantity"))
