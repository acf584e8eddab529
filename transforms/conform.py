"""Conform each company's raw purchases to the group zone: pure DataFrame -> DataFrame functions.

Two shapes of raw feed exist. Line feeds (cvs, gms, sm, baby) carry one row per receipt line;
receipt feeds (dept, diner, ec) one row per receipt, check or order. Each company's `*_canonical`
function renames and converts its feed to one of two canonical frames (`LINE_COLUMNS` or
`RECEIPT_COLUMNS`, plus the bookkeeping columns `_batch_id`, `_landed_at`, `_line`, `date`);
everything after that (dedupe, category mapping, the purchases and purchase_lines tables) is
shared. Only built-in functions are used: the work stays in the JVM.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

GROUP_TZ = "Asia/Tokyo"  # DESIGN §5: purchase dates are JST dates
UNMAPPED_CATEGORY = "other"

LINE_COLUMNS = ["purchase_id", "company", "channel", "store_id", "gid", "purchased_at", "payment_method",
                "campaign_id", "line_no", "category_code", "quantity", "amount_yen"]
RECEIPT_COLUMNS = ["purchase_id", "company", "channel", "store_id", "gid", "purchased_at", "amount_yen",
                   "item_count", "payment_method", "campaign_id"]
BOOKKEEPING = ["_batch_id", "_landed_at", "_line", "date"]

def _null_str() -> Column:
    return F.lit(None).cast("string")


def _pid(company: str, col: str) -> Column:
    """`<company>:<source id>`: unique across the group because source ids are unique only per company."""
    return F.concat(F.lit(f"{company}:"), F.col(col))


def _keep(df: DataFrame, *extra: str) -> list[Column]:
    return [F.col(c) for c in [*BOOKKEEPING, *extra] if c in df.columns]


def jst_date(ts: str | Column) -> Column:
    """The JST calendar date of a UTC instant (the session time zone is UTC)."""
    return F.to_date(F.from_utc_timestamp(ts if isinstance(ts, Column) else F.col(ts), GROUP_TZ))


# --- per company: raw contract columns -> canonical frame ---------------------------------------

def cvs_canonical(raw: DataFrame) -> DataFrame:
    """cvs POS lines: no line number in the extract (`flag_duplicate_lines` numbers them by file position)."""
    return raw.select(
        _pid("cvs", "transaction_id").alias("purchase_id"), F.lit("cvs").alias("company"),
        F.lit("store").alias("channel"), "store_id", "gid", "purchased_at", "payment_method",
        _null_str().alias("campaign_id"), F.lit(None).cast("bigint").alias("line_no"),
        "category_code", "quantity", "amount_yen", *_keep(raw),
    )


def gms_canonical(raw: DataFrame) -> DataFrame:
    """gms lines: amounts arrive tax excluded with the tax separate; the group zone is tax included."""
    return raw.select(
        _pid("gms", "receipt_no").alias("purchase_id"), F.lit("gms").alias("company"), "channel", "store_id",
        "gid", F.col("sold_at").alias("purchased_at"), _null_str().alias("payment_method"),
        _null_str().alias("campaign_id"), "line_no", F.col("dept_code").alias("category_code"), "quantity",
        (F.col("net_amount_yen") + F.col("tax_amount_yen")).alias("amount_yen"), *_keep(raw),
    )


def sm_canonical(raw: DataFrame, links: DataFrame) -> DataFrame:
    """sm lines: local member IDs become gids through the link extract; unlinked members keep a null gid.

    `links` is the raw link extract (`local_member_id`, `gid`). `_unlinked` marks lines of a member
    with no link, so they are counted; the local ID itself is dropped here and never leaves raw-sm.
    """
    link = links.select("local_member_id", F.col("gid").alias("_linked_gid")).dropDuplicates(["local_member_id"])
    joined = raw.join(F.broadcast(link), "local_member_id", "left")
    return joined.select(
        _pid("sm", "receipt_id").alias("purchase_id"), F.lit("sm").alias("company"), F.lit("store").alias("channel"),
        "store_id", F.col("_linked_gid").alias("gid"), F.col("sold_at").alias("purchased_at"),
        _null_str().alias("payment_method"), _null_str().alias("campaign_id"),
        F.lit(None).cast("bigint").alias("line_no"), "category_code", "quantity", "amount_yen",
        (F.col("local_member_id").isNotNull() & F.col("_linked_gid").isNull()).alias("_unlinked"),
        F.when(F.col("_linked_gid").isNull(), F.col("local_member_id")).alias("_unlinked_id"),
        *_keep(raw),
    )


def baby_canonical(raw: DataFrame) -> DataFrame:
    return raw.select(
        _pid("baby", "receipt_id").alias("purchase_id"), F.lit("baby").alias("company"),
        F.lit("store").alias("channel"), "store_id", "gid", "purchased_at", _null_str().alias("payment_method"),
        _null_str().alias("campaign_id"), "line_no", F.col("category").alias("category_code"), "quantity",
        "amount_yen", *_keep(raw),
    )


def dept_canonical(raw: DataFrame) -> DataFrame:
    """dept receipts: totals only (its lines are not shared); customer PII and the staff note stay behind."""
    return raw.select(
        _pid("dept", "receipt_id").alias("purchase_id"), F.lit("dept").alias("company"),
        F.lit("store").alias("channel"), "store_id", "gid", F.col("issued_at").alias("purchased_at"),
        F.col("total_yen").alias("amount_yen"),
        F.aggregate("items", F.lit(0).cast("bigint"), lambda acc, x: acc + F.coalesce(x["qty"], F.lit(0)))
        .alias("item_count"),
        "payment_method", _null_str().alias("campaign_id"), *_keep(raw),
    )


def diner_canonical(raw: DataFrame) -> DataFrame:
    """diner checks: no items in the extract, so item_count is null (party size is not an item count)."""
    return raw.select(
        _pid("diner", "check_id").alias("purchase_id"), F.lit("diner").alias("company"),
        F.lit("restaurant").alias("channel"), "store_id", "gid", F.col("visited_at").alias("purchased_at"),
        F.col("total_yen").alias("amount_yen"), F.lit(None).cast("bigint").alias("item_count"),
        _null_str().alias("payment_method"), _null_str().alias("campaign_id"), *_keep(raw),
    )


def ec_canonical(raw: DataFrame) -> DataFrame:
    """ec orders: amount is items plus shipping (what the member paid); store is the cvs pickup store or null.

    The order lines ride along as `_lines` (array of category_code, quantity, amount_yen) for
    `ec_lines`; the coupon code redeemed is the campaign id.
    """
    lines = F.transform("lines", lambda x: F.struct(
        x["category"].alias("category_code"), x["qty"].alias("quantity"),
        (x["qty"] * x["unit_price_yen"]).alias("amount_yen")))
    item_yen = F.aggregate("lines", F.lit(0).cast("bigint"), lambda acc, x: acc + x["qty"] * x["unit_price_yen"])
    items = F.aggregate("lines", F.lit(0).cast("bigint"), lambda acc, x: acc + x["qty"])
    return raw.select(
        _pid("ec", "order_id").alias("purchase_id"), F.lit("ec").alias("company"), F.lit("online").alias("channel"),
        F.col("pickup_store_id").alias("store_id"), "gid", F.col("ordered_at").alias("purchased_at"),
        (F.coalesce(item_yen, F.lit(0)) + F.coalesce(F.col("shipping_yen"), F.lit(0))).alias("amount_yen"),
        items.alias("item_count"), _null_str().alias("payment_method"), F.col("coupon_code").alias("campaign_id"),
        lines.alias("_lines"), *_keep(raw),
    )


# --- shared steps ---------------------------------------------------------------------------------

def _batch_order(df: DataFrame) -> Column:
    """Later landings win; the batch id breaks ties so the choice is deterministic."""
    landed = F.col("_landed_at") if "_landed_at" in df.columns else F.lit(None).cast("timestamp")
    return F.struct(F.coalesce(landed, F.lit("1970-01-01").cast("timestamp")), F.col("_batch_id"))


def flag_duplicate_lines(lines: DataFrame) -> DataFrame:
    """Mark `_duplicate`: lines of a receipt also sent in a later batch, and lines repeated within a batch.

    A receipt is taken whole from the latest batch that carries it (a re-sent file replaces the
    earlier copy, never merges with it); within that batch a repeated (receipt, line_no) is a duplicated line.
    Feeds without line numbers (cvs, sm; line_no null) are numbered by position in their file.

    One shuffle: rows are hash-partitioned by purchase_id once, and every window here (and the
    receipt aggregate after) is keyed on purchase_id plus more, which that partitioning satisfies.
    """
    df = lines.repartition("purchase_id")
    position = F.row_number().over(Window.partitionBy("purchase_id", "_batch_id").orderBy("_line"))
    df = df.withColumn("line_no", F.coalesce(F.col("line_no"), position.cast("bigint")))
    order = _batch_order(df)
    latest = F.max(order).over(Window.partitionBy("purchase_id"))
    rank = F.row_number().over(Window.partitionBy("purchase_id", "line_no").orderBy(order.desc(), F.col("_line")))
    return df.withColumn("_duplicate", (order != latest) | (rank > 1))


def flag_duplicate_receipts(receipts: DataFrame) -> DataFrame:
    """Mark `_duplicate`: every copy of a receipt but the one in the latest batch (first in file order)."""
    order = _batch_order(receipts)
    rank = F.row_number().over(Window.partitionBy("purchase_id").orderBy(order.desc(), F.col("_line")))
    return receipts.withColumn("_duplicate", rank > 1)


def map_categories(lines: DataFrame, categories: DataFrame) -> DataFrame:
    """Company category codes to the group taxonomy (the company's `categories` snapshot); unknown codes to other."""
    cats = categories.select(F.col("company").alias("_cat_company"), F.col("code").alias("category_code"),
                             F.col("group_category").alias("category")).dropDuplicates(["_cat_company",
                                                                                         "category_code"])
    joined = lines.join(F.broadcast(cats), (lines["company"] == cats["_cat_company"])
                        & (lines["category_code"] == cats["category_code"]), "left")
    return joined.drop(cats["category_code"]).drop("_cat_company").withColumn(
        "category", F.coalesce(F.col("category"), F.lit(UNMAPPED_CATEGORY)))


def with_purchase_date(df: DataFrame) -> DataFrame:
    return df.withColumn("purchase_date", jst_date("purchased_at"))


def lines_to_purchases(lines: DataFrame) -> DataFrame:
    """One row per receipt from its (deduplicated) lines: the receipt total and item count are sums of lines."""
    return lines.groupBy("purchase_id").agg(
        F.first("company").alias("company"), F.first("channel").alias("channel"),
        F.first("store_id").alias("store_id"), F.first("gid", ignorenulls=True).alias("gid"),
        F.min("purchased_at").alias("purchased_at"), F.sum("amount_yen").alias("amount_yen"),
        F.sum("quantity").alias("item_count"), F.first("payment_method", ignorenulls=True).alias("payment_method"),
        F.first("campaign_id", ignorenulls=True).alias("campaign_id"),
    ).transform(with_purchase_date)


def purchase_lines(lines: DataFrame) -> DataFrame:
    """The purchase_lines table (group taxonomy category), partitioned like purchases."""
    return lines.transform(with_purchase_date).select(
        "purchase_id", "company", "purchase_date", "line_no", "category", "quantity", "amount_yen")


def receipts_to_purchases(receipts: DataFrame) -> DataFrame:
    return receipts.transform(with_purchase_date)


def ec_lines(orders: DataFrame) -> DataFrame:
    """ec order lines, numbered from 1 in order, in the canonical line shape (before category mapping)."""
    exploded = orders.select("purchase_id", "company", "purchased_at",
                             F.posexplode("_lines").alias("_pos", "_l"))
    return exploded.select(
        "purchase_id", "company", "purchased_at", (F.col("_pos") + 1).cast("bigint").alias("line_no"),
        F.col("_l.category_code").alias("category_code"), F.col("_l.quantity").alias("quantity"),
        F.col("_l.amount_yen").alias("amount_yen"))
