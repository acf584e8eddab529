"""Member-grain aggregates of the group zone, so dbt works from tens of millions of rows, not billions.

Both are keyed on the raw `date` (= purchase_date) first, like everything in `conform`, so they reuse
the conform step's partitioning by date: no shuffle of their own, one file per date when written.
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from transforms.conform import sort_key


def member_day(purchases: DataFrame) -> DataFrame:
    """gid x company x JST date: spend, visits (receipts), items and the first store of the day.

    Anonymous purchases (null gid, including unlinked sm members) have no member to add up to.
    """
    # `min_by` of a string has no hash aggregate, so the rows are sorted: a 64-bit hash of the gid first makes
    # that a sort on longs (the date has few values and gids share their first bytes).
    members = purchases.filter(F.col("gid").isNotNull())
    # two receipts at the same instant (a second till, a split bill) go to the smaller store id, so a rebuilt
    # date gives the same rows whatever order its receipts arrive in
    first_store = F.min_by("store_id", F.struct("purchased_at", "store_id"))
    return members.groupBy(sort_key("gid").alias("_g"), "date", "gid", "company").agg(
        F.sum("amount_yen").alias("spend_yen"), F.count("*").alias("visits"),
        F.sum("item_count").alias("items"), first_store.alias("first_store_id"),
    ).drop("_g").withColumn("purchase_date", F.col("date"))


def member_day_category(lines: DataFrame) -> DataFrame:
    """The category mix of member_day (spend and quantity per group category), from the shared item lines.

    `lines` carry their purchase's gid (`conform.lines`), so no join back to purchases is needed.
    """
    return lines.filter(F.col("gid").isNotNull()).groupBy("date", "gid", "company", "category").agg(
        F.sum("amount_yen").alias("amount_yen"), F.sum("quantity").alias("quantity"),
    ).withColumn("purchase_date", F.col("date"))
