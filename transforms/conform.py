"""Conform each company's raw purchases to the group zone: pure DataFrame -> DataFrame functions.

Two shapes of raw feed exist. Line feeds (cvs, gms, sm, baby) carry one row per receipt line;
receipt feeds (dept, diner, ec) one row per receipt, check or order. Each company's `*_canonical`
function renames and converts its feed to one canonical row shape (`CANONICAL_COLUMNS`, plus the
bookkeeping columns `_batch_id`, `_landed_at`, `_line`, `date`); `_is_line` tells the shapes apart.
Everything after that (dedupe, category mapping, the purchases, purchase_lines and member tables) is
shared and runs on all companies at once.

The unit of work is a raw `date` partition (the JST date of the event, which ingestion partitions by):
every step is keyed on `date` first, so one hash partitioning by date (`by_date`) serves the dedupe
window, every aggregate and the date-partitioned writes with no further shuffle. Only built-in
functions are used: the work stays in the JVM.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

GROUP_TZ = "Asia/Tokyo"  # DESIGN §5: purchase dates are JST dates
UNMAPPED_CATEGORY = "other"

CANONICAL_COLUMNS = ["purchase_id", "company", "channel", "store_id", "gid", "purchased_at", "payment_method",
                     "campaign_id", "line_no", "category_code", "quantity", "amount_yen", "item_count"]
BOOKKEEPING = ["_batch_id", "_landed_at", "_line", "date"]
EPOCH = "1970-01-01 00:00:00"
# The lines an ec order carries (`_lines`), in the shape of a line row.
ORDER_LINES = "array<struct<line_no:bigint,category_code:string,quantity:bigint,amount_yen:bigint>>"


def _null(kind: str = "string") -> Column:
    return F.lit(None).cast(kind)


def _pid(company: str, col: str) -> Column:
    """`<company>:<source id>`: unique across the group because source ids are unique only per company."""
    return F.concat(F.lit(f"{company}:"), F.col(col))


def _keep(df: DataFrame, *extra: str) -> list[Column]:
    return [F.col(c) for c in [*BOOKKEEPING, *extra] if c in df.columns]


def jst_date(ts: str | Column) -> Column:
    """The JST calendar date of a UTC instant (the session time zone is UTC)."""
    return F.to_date(F.from_utc_timestamp(ts if isinstance(ts, Column) else F.col(ts), GROUP_TZ))


def _line_row(raw: DataFrame, company: str, pid: str, channel: Column, purchased_at: str, payment: Column,
              line_no: Column, category: str, amount: Column, gid: Column | None = None,
              unlinked: Column | None = None) -> DataFrame:
    return raw.select(
        _pid(company, pid).alias("purchase_id"), F.lit(company).alias("company"), channel.alias("channel"),
        "store_id", (gid if gid is not None else F.col("gid")).alias("gid"),
        F.col(purchased_at).alias("purchased_at"), payment.alias("payment_method"), _null().alias("campaign_id"),
        line_no.cast("bigint").alias("line_no"), F.col(category).alias("category_code"),
        F.col("quantity").cast("bigint").alias("quantity"), amount.cast("bigint").alias("amount_yen"),
        _null("bigint").alias("item_count"), F.lit(True).alias("_is_line"),
        (unlinked if unlinked is not None else _null()).alias("_unlinked_id"), *_keep(raw))


def _receipt_row(raw: DataFrame, company: str, pid: str, channel: Column, store: Column, purchased_at: str,
                 amount: Column, items: Column, payment: Column, campaign: Column,
                 lines: Column | None = None) -> DataFrame:
    return raw.select(
        _pid(company, pid).alias("purchase_id"), F.lit(company).alias("company"), channel.alias("channel"),
        store.alias("store_id"), "gid", F.col(purchased_at).alias("purchased_at"), payment.alias("payment_method"),
        campaign.alias("campaign_id"), _null("bigint").alias("line_no"), _null().alias("category_code"),
        _null("bigint").alias("quantity"), amount.cast("bigint").alias("amount_yen"),
        items.cast("bigint").alias("item_count"), F.lit(False).alias("_is_line"), _null().alias("_unlinked_id"),
        *([lines.alias("_lines")] if lines is not None else []), *_keep(raw))


# --- per company: raw contract columns -> canonical rows ----------------------------------------

def cvs_canonical(raw: DataFrame) -> DataFrame:
    """cvs POS lines: no line number in the extract (`flag_duplicates` numbers them by file position)."""
    return _line_row(raw, "cvs", "transaction_id", F.lit("store"), "purchased_at", F.col("payment_method"),
                     _null("bigint"), "category_code", F.col("amount_yen"))


def gms_canonical(raw: DataFrame) -> DataFrame:
    """gms lines: amounts arrive tax excluded with the tax separate; the group zone is tax included."""
    return _line_row(raw, "gms", "receipt_no", F.col("channel"), "sold_at", _null(), F.col("line_no"), "dept_code",
                     F.col("net_amount_yen") + F.col("tax_amount_yen"))


def sm_canonical(raw: DataFrame, links: DataFrame) -> DataFrame:
    """sm lines: local member IDs become gids through the link extract; unlinked members keep a null gid.

    `links` is the raw link extract (`local_member_id`, `gid`). `_unlinked_id` holds the local ID of a
    member with no link, only so that they can be counted; it is dropped before anything is written,
    and the local ID never leaves raw-sm.
    """
    link = links.select("local_member_id", F.col("gid").alias("_linked_gid")).dropDuplicates(["local_member_id"])
    joined = raw.join(F.broadcast(link), "local_member_id", "left")
    return _line_row(joined, "sm", "receipt_id", F.lit("store"), "sold_at", _null(), _null("bigint"),
                     "category_code", F.col("amount_yen"), gid=F.col("_linked_gid"),
                     unlinked=F.when(F.col("_linked_gid").isNull(), F.col("local_member_id")))


def baby_canonical(raw: DataFrame) -> DataFrame:
    return _line_row(raw, "baby", "receipt_id", F.lit("store"), "purchased_at", _null(), F.col("line_no"),
                     "category", F.col("amount_yen"))


def dept_canonical(raw: DataFrame) -> DataFrame:
    """dept receipts: totals only (its lines are not shared); customer PII and the staff note stay behind."""
    items = F.aggregate("items", F.lit(0).cast("bigint"), lambda acc, x: acc + F.coalesce(x["qty"], F.lit(0)))
    return _receipt_row(raw, "dept", "receipt_id", F.lit("store"), F.col("store_id"), "issued_at",
                        F.col("total_yen"), items, F.col("payment_method"), _null())


def diner_canonical(raw: DataFrame) -> DataFrame:
    """diner checks: no items in the extract, so item_count is null (party size is not an item count)."""
    return _receipt_row(raw, "diner", "check_id", F.lit("restaurant"), F.col("store_id"), "visited_at",
                        F.col("total_yen"), _null("bigint"), _null(), _null())


def ec_canonical(raw: DataFrame) -> DataFrame:
    """ec orders: amount is items plus shipping (what the member paid); store is the cvs pickup store or null.

    The order lines ride along as `_lines` (array of line_no from 1 in order, category_code, quantity,
    amount_yen) for `lines`; the coupon code redeemed is the campaign id.
    """
    lines = F.transform("lines", lambda x, i: F.struct(
        (i + 1).cast("bigint").alias("line_no"), x["category"].alias("category_code"),
        x["qty"].cast("bigint").alias("quantity"), (x["qty"] * x["unit_price_yen"]).cast("bigint").alias("amount_yen")))
    item_yen = F.aggregate("lines", F.lit(0).cast("bigint"), lambda acc, x: acc + x["qty"] * x["unit_price_yen"])
    items = F.aggregate("lines", F.lit(0).cast("bigint"), lambda acc, x: acc + x["qty"])
    return _receipt_row(raw, "ec", "order_id", F.lit("online"), F.col("pickup_store_id"), "ordered_at",
                        F.coalesce(item_yen, F.lit(0)) + F.coalesce(F.col("shipping_yen"), F.lit(0)), items, _null(),
                        F.col("coupon_code"), lines)


# --- shared steps ---------------------------------------------------------------------------------

def union_all(frames: list[DataFrame]) -> DataFrame:
    """One frame of every company's canonical rows (columns a company lacks are null)."""
    out = frames[0]
    for df in frames[1:]:
        out = out.unionByName(df, allowMissingColumns=True)
    return out


def by_date(df: DataFrame, partitions: int) -> DataFrame:
    """Hash-partition by the raw `date` into `partitions` tasks: the one shuffle of the conform step.

    Every later window and aggregate is keyed on `date` plus more, which this partitioning satisfies,
    and each date lands in exactly one task, so the writes (partitioned by that date) make one file per
    partition without another exchange. More tasks hold fewer dates each, never a date split in two
    (the run sizes them from its input: `run.Job.by_date`).
    """
    return df.repartition(partitions, "date")


def sort_key(column: str) -> Column:
    """A 64-bit hash of `column`, put first in a window's partitioning so its sort compares longs, not strings.

    Spark sorts on a 64-bit prefix of the first sort column; ids such as `cvs:000012345678` share their
    first bytes, and a date has few values, so with either first almost every comparison would fall
    back to comparing whole rows. The hash adds no shuffle: rows are already partitioned by date.
    """
    return F.xxhash64(column)


def flag_duplicates(rows: DataFrame) -> DataFrame:
    """Mark `_duplicate` and number lines, for line and receipt rows alike, in one window (one sort).

    A receipt is taken whole from the latest batch that carries it (landing time, then batch id): a
    re-sent file replaces the earlier copy, never merges with it. Within that batch a repeated
    (receipt, line_no) is a duplicated line; feeds without line numbers (cvs, sm) are numbered by their
    position in the file. A receipt row repeated (receipt feeds) is kept once, first in file order.
    `_first` marks the row that stands for its purchase (the first kept line, or the receipt); `_k` is the
    window's sort key (`sort_key` of the purchase id), kept so that `purchases` can group in the same order.
    """
    landed = F.coalesce(F.col("_landed_at"), F.lit(EPOCH).cast("timestamp")) if "_landed_at" in rows.columns \
        else F.lit(EPOCH).cast("timestamp")
    w = Window.partitionBy("_k", "date", "purchase_id").orderBy(
        landed.desc(), F.col("_batch_id").desc(), F.col("line_no").asc_nulls_first(), F.col("_line"))
    keyed = rows.withColumn("_k", sort_key("purchase_id"))
    df = keyed.select("*", F.row_number().over(w).alias("_rn"), F.first("_batch_id").over(w).alias("_latest"),
                      F.lag(F.struct("_batch_id", "line_no")).over(w).alias("_prev"))
    repeated_line = F.coalesce(F.col("line_no").isNotNull() & (F.col("_prev._batch_id") == F.col("_batch_id"))
                               & (F.col("_prev.line_no") == F.col("line_no")), F.lit(False))
    duplicate = F.when(F.col("_is_line"), (F.col("_batch_id") != F.col("_latest")) | repeated_line) \
        .otherwise(F.col("_rn") > 1)
    return df.select(
        *[c for c in keyed.columns if c not in ("line_no", "_landed_at", "_line")],  # ordering only: not kept
        F.when(F.col("_is_line"), F.coalesce(F.col("line_no"), F.col("_rn").cast("bigint"))).alias("line_no"),
        duplicate.alias("_duplicate"), (F.col("_rn") == 1).alias("_first"))


def map_categories(lines: DataFrame, categories: DataFrame) -> DataFrame:
    """Company category codes to the group taxonomy (the company's `categories` snapshot); unknown codes to other."""
    cats = categories.select(F.col("company").alias("_cat_company"), F.col("code").alias("_cat_code"),
                             F.col("group_category").alias("category")).dropDuplicates(["_cat_company", "_cat_code"])
    joined = lines.join(F.broadcast(cats), (lines["company"] == cats["_cat_company"])
                        & (lines["category_code"] == cats["_cat_code"]), "left")
    return joined.drop("_cat_company", "_cat_code").withColumn(
        "category", F.coalesce(F.col("category"), F.lit(UNMAPPED_CATEGORY)))


def purchases(flagged: DataFrame) -> DataFrame:
    """One row per receipt: receipt rows as they are, line rows summed (total and item count are sums of lines)."""
    kept = flagged.filter(~F.col("_duplicate"))
    # Grouped as `flag_duplicates` partitioned its window (`_k`, date, id), the rows arrive in that order (also
    # from the cache), so the aggregate sorts nothing; Spark has no hash aggregate for `first` of a string, so
    # grouped by (date, id) alone it sorted every line row again.
    return kept.groupBy("_k", "date", "purchase_id").agg(
        F.first("company").alias("company"), F.first("channel").alias("channel"),
        F.first("store_id").alias("store_id"), F.first("gid", ignorenulls=True).alias("gid"),
        F.min("purchased_at").alias("purchased_at"), F.sum("amount_yen").alias("amount_yen"),
        F.sum(F.coalesce(F.col("item_count"), F.col("quantity"))).alias("item_count"),
        F.first("payment_method", ignorenulls=True).alias("payment_method"),
        F.first("campaign_id", ignorenulls=True).alias("campaign_id"),
    ).drop("_k").withColumn("purchase_date", F.col("date"))


def lines(flagged: DataFrame, shared: list[str], categories: DataFrame) -> DataFrame:
    """Item lines of the companies that share them, in the group taxonomy, with the member (for the category mix).

    A line row stands for itself; an ec order for the lines it carries. Both come out of one explode, so
    the frame keeps its partitioning by date (a union would not).
    """
    kept = flagged.filter(~F.col("_duplicate") & F.col("company").isin(shared))
    own = F.array(F.struct("line_no", "category_code", "quantity", "amount_yen"))
    carried = F.col("_lines") if "_lines" in flagged.columns else F.lit(None).cast(ORDER_LINES)
    items = F.when(F.col("_is_line"), own).otherwise(carried)
    exploded = kept.select("purchase_id", "company", "gid", "date", F.explode(items).alias("_l"))
    out = exploded.select("purchase_id", "company", "gid", "date", "_l.*")
    return map_categories(out, categories).withColumn("purchase_date", F.col("date"))
