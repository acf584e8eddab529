"""Member-grain aggregates of the group zone, so dbt works from tens of millions of rows, not billions.

Both are keyed on the raw `date` (= purchase_date) first, like everything in `conform`, so they reuse
the conform step's partitioning by date: no shuffle of their own, one file per date when written.
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F


def member_day(purchases: DataFrame) -> DataFrame:
    """gid x company x JST date: spend, visits (receipts), items and the first store of the day.

    Anonymous purchases (null gid, including unlinked sm members) have no member to add up to.
    """
    return purchases.filter(F.col("gid").isNotNull()).groupBy("date", "gid", "company").agg(
        F.sum("amount_yen").alias("spend_yen"), F.count("*").alias("visits"),
        F.sum("item_count").alias("items"), F.min_by("store_id", "purchased_at").alias("first_store_id"),
    ).withColumn("purchase_date", F.col("date"))


def member_day_category(lines: DataFrame) -> DataFrame:
    """The category mix of member_day (spend and quantity per group category), from the shared item lines.

    `lines` carry their purchase's gid (`conform.lines`), so no join back to purchases is needed.
    """
    return lines.filter(F.col("gid").isNotNull()).groupBy("date", "gid", "company", "category").agg(
        F.sum("amount_yen").alias("amount_yen"), F.sum("quantity").alias("quantity"),
    ).withColumn("purchase_date", F.col("date"))
