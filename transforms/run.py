"""The transform run: raw zones -> group zone (DESIGN §5) under the sharing rules (DESIGN §6).

All I/O is here; the transformations are the pure functions of `conform`, `masters` and
`aggregates`, and what to rebuild is `plan`. A run:
1. lists the raw zones and plans the units to rebuild (sales dates, event dates, e-money months,
   masters) from what changed since the state was written;
2. rebuilds each unit whole from the raw zone, writing the new partitions to `group/_staging/<run>`;
3. counts the staged output once (one Spark job) and reconciles it, per company, feed and date,
   against the rows read from raw: a row that does not add up fails the run with nothing published;
4. publishes: each rebuilt partition replaces the old one (a partition with no rows left is removed);
5. merges the reconciliation rows and records the state last, so a failed or killed run records
   nothing and the next run redoes the same work.

    spark-submit transforms/run.py --lake s3://   (or: python -m transforms.run --lake DIR)
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.parquet as pq
from py4j.protocol import Py4JError
from pyspark.errors import PySparkException
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.storagelevel import StorageLevel

from expectations import gates
from expectations.rules import SharingRules, load_rules
from lake import layout, locks, runlog
from lake.errors import LakeError
from lake.storage import Lake, open_lake
from transforms import aggregates, conform, keys, masters, state
from transforms.plan import (
    DATED_FEEDS,
    EVENT_FEED,
    HQ_FEEDS,
    LINK_FEED,
    MONEY_FEED,
    SALES_FEEDS,
    SNAPSHOT_FEEDS,
    Work,
    key,
    master_sources,
    plan,
)
from transforms.schema import arrow_schema, parquet_options, partition_by, to_group_schema

Progress = Callable[[str], None]

CANONICAL = {"cvs": conform.cvs_canonical, "gms": conform.gms_canonical, "baby": conform.baby_canonical,
             "dept": conform.dept_canonical, "diner": conform.diner_canonical, "ec": conform.ec_canonical}
FREE_TEXT = {"campaigns": ["description"]}  # shared free text: PII patterns are redacted
RECON = "reconciliation"
# The rules reserve `name` for people (pii.columns); a store's or category's name gets a specific one.
MASTER_NAME = {"stores": "store_name", "categories": "category_name"}
SALES_TABLES = ["purchases", "purchase_lines", "member_day", "member_day_category"]


@dataclass
class RunResult:
    dates: set[str] = field(default_factory=set)
    tables: dict[str, int] = field(default_factory=dict)  # rows written per table this run
    rewritten: list[str] = field(default_factory=list)
    reconciliation: list[dict] = field(default_factory=list)
    unlinked_members: int = 0
    rows_read: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict:
        bad = [r for r in self.reconciliation if not r["explained"]]
        return {"dates": sorted(self.dates), "tables": self.tables, "rewritten": self.rewritten,
                "reconciled": len(self.reconciliation), "unexplained": bad,
                "removed_batches": sum(r["removed_batches"] for r in self.reconciliation),
                "unlinked_members": self.unlinked_members, "seconds": round(self.seconds, 1),
                "skipped": False}


@dataclass
class Counts:
    """Measured rows of one (company, feed, date) of this run, on the raw side."""

    raw: int = 0
    dups: int = 0
    folded: int = 0  # lines summed into receipt totals (a feed whose lines are not shared)
    anonymous: int = 0  # e-money rows of unregistered cards
    unlinked: int = 0
    misdated: int = 0
    batches: dict[str, int] = field(default_factory=dict)


# Input bytes (Spark's estimate of the scan, `input_bytes`) one task of the shuffle by date takes on at most.
# A task sorts its rows in memory before it spills, and the sorter's pointer array (16 bytes a row, doubled as
# it grows) must fit in the driver's heap beside the cached rows: at 50M purchase lines over 30 dates in the 4
# tasks of local mode, one task drew 12 of the dates (20M rows) and the job died of OutOfMemoryError. Dates
# are spread by their hash, so a task can draw a few more than its share. The default sample reads as 102 MB
# (7 tasks, about 1.2M rows each on average).
TASK_INPUT_BYTES = 16 * 2**20


def input_bytes(df: DataFrame) -> int:
    """Spark's own estimate of what `df` reads (the Parquet files after partition pruning), with no job run."""
    return int(str(df._jdf.queryExecution().optimizedPlan().stats().sizeInBytes()))


def tasks_for(size: int, base: int) -> int:
    """Tasks for the shuffle by date: the session's `base`, more when the input is big (`TASK_INPUT_BYTES`)."""
    return max(base, -(-size // TASK_INPUT_BYTES))


class Job:
    """One run: the session, the lake, the rules, the plan, and the staged output waiting to be published."""

    def __init__(self, spark: SparkSession, lake: Lake, rules: SharingRules, work: Work,
                 progress: Progress | None = None, run_id: str | None = None) -> None:
        self.spark, self.lake, self.rules, self.work = spark, lake, rules, work
        self.say: Progress = progress or (lambda _msg: None)
        self.run_id = run_id or f"{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
        self.result = RunResult()
        self.counts: dict[tuple[str, str, str], Counts] = defaultdict(Counts)
        self.staged: dict[str, set[str] | None] = {}  # table -> partition values rebuilt (None: whole table)
        self._stats: list[DataFrame] = []  # raw-side counts, collected with the output counts (`count`)
        self._cached: list[DataFrame] = []

    # --- reading ----------------------------------------------------------------------------

    def read_feed(self, company: str, feed: str, dates: set[str]) -> DataFrame | None:
        """The feed's raw rows of `dates`: its root read once with a partition filter, plus each row's landing time."""
        live = self.work.live.get(key(company, feed), {})
        wanted = sorted(set(live) & dates)
        if not wanted:
            return None
        root = self.lake.uri(layout.raw(company), feed)
        df = self.spark.read.option("basePath", root).parquet(root)
        if len(wanted) < len(live):
            df = df.filter(F.col("date").isin([dt.date.fromisoformat(d) for d in wanted]))
        # The file's modification time is its landing time (ingestion publishes each batch's files at once).
        return df.withColumn("_landed_at", F.col("_metadata.file_modification_time"))

    def read_snapshots(self, files: list[state.RawFile]) -> DataFrame | None:
        """Several snapshot files (one per company) in one read."""
        if not files:
            return None
        df = self.spark.read.parquet(*[self.lake.uri(layout.raw(f.company), f.rel) for f in files])
        return df.withColumn("_landed_at", F.col("_metadata.file_modification_time"))

    def snapshot(self, company: str, feed: str) -> DataFrame | None:
        snap = self.work.snapshots.get(key(company, feed))
        return self.read_snapshots([snap]) if snap else None

    def categories(self) -> DataFrame:
        files = [s for c in self.rules.companies if (s := self.work.snapshots.get(key(c, "categories")))]
        return self.read_snapshots(files) or self.spark.sql(
            "select '' company, '' code, '' group_category where false")

    # --- staging and publishing ------------------------------------------------------------

    def stage(self, df: DataFrame, table: str, values: set[str] | None, by_date: bool = False) -> None:
        """Write `df` as the new content of `values` (partition values; None: the whole table) of `table`.

        `by_date`: `df` descends from `conform.by_date`, so each date already sits in one task and the
        write makes one file per partition with no further shuffle. Anything else is repartitioned by
        the table's partition columns first (or coalesced to one file when it has none).
        """
        out = to_group_schema(df, table)
        leaked = sorted(set(out.columns) & self.rules.pii_columns)
        if leaked:  # the interface itself would leak: refuse before anything is written
            raise LakeError(f"group table {table} would carry PII columns {leaked} (sharing rules pii.columns)",
                            "remove them from transforms/group_schema.yml")
        parts = partition_by(table)
        if parts and not by_date:
            out = out.repartition(*parts)  # one task per partition value: one file per partition
        elif not parts:
            out = out.coalesce(1)
        writer = out.write.mode("overwrite").options(**parquet_options(table))
        if parts:
            writer = writer.partitionBy(*parts)
        self.say(f"writing group/{table}")
        writer.parquet(self.lake.uri(layout.GROUP, layout.group_staging(self.run_id, table)))
        self.staged[table] = values

    def staged_frame(self, table: str) -> DataFrame | None:
        rel = layout.group_staging(self.run_id, table)
        if not any(f.endswith(".parquet") for f in self.lake.list_files(layout.GROUP, rel)):
            return None  # nothing written (e.g. no member among the day's purchases)
        return self.spark.read.parquet(self.lake.uri(layout.GROUP, rel))

    def publish(self) -> None:
        """Replace every rebuilt partition (or whole master table) with its staged version.

        A partition value rebuilt with no rows left (every batch of that date removed) is deleted.
        Each partition is swapped on its own; a run killed half-way leaves some partitions old and
        some new, and records nothing, so the next run rebuilds them all again.
        """
        for table, values in self.staged.items():
            staged = layout.group_staging(self.run_id, table)
            files = [f for f in self.lake.list_files(layout.GROUP, staged) if _is_data(f)]
            if values is None:
                targets = {table: files}
            else:
                column = partition_by(table)[0]
                targets = {layout.group_partition(table, column, v): [] for v in values}
                for f in files:
                    targets.setdefault(f"{table}/{f[len(staged) + 1:].rsplit('/', 1)[0]}", []).append(f)
            for folder, new in targets.items():
                self.lake.delete_dir(layout.GROUP, folder)
                for f in new:
                    self.lake.move(layout.GROUP, f, layout.GROUP, f"{folder}/{f.rsplit('/', 1)[1]}")
            if values is None:
                self.result.rewritten.append(table)

    def by_date(self, df: DataFrame) -> DataFrame:
        """`conform.by_date` with as many tasks as the input's size needs (`tasks_for`)."""
        base = int(self.spark.conf.get("spark.sql.shuffle.partitions"))
        return conform.by_date(df, tasks_for(input_bytes(df), base))

    def cache(self, df: DataFrame) -> DataFrame:
        df = df.persist(StorageLevel.MEMORY_AND_DISK)
        self._cached.append(df)
        return df

    def release(self) -> None:
        for df in self._cached:
            df.unpersist()
        self._cached.clear()

    # --- masters ----------------------------------------------------------------------------

    def masters(self) -> None:
        """Small full-snapshot tables, rebuilt whole when one of their snapshots changed."""
        for table in sorted(self.work.masters):
            df = self.master(table)
            if df is None:  # every snapshot of it is gone: the table goes too
                self.staged[table] = None
                continue
            self.stage(df, table, None)

    def master(self, table: str) -> DataFrame | None:
        if table in SNAPSHOT_FEEDS:
            files = [s for c in self.rules.companies if (s := self.work.snapshots.get(key(c, table)))]
            df = self.read_snapshots(files)
            return df.withColumnRenamed("name", MASTER_NAME[table]) if df is not None else None
        if table == "members":
            m = self.snapshot("hq", "members") if self.rules.shares("hq", "members") else None
            return masters.generalise_members(m, self.rules.members, self.rules.pii_columns) if m else None
        if table in HQ_FEEDS:
            df = self.snapshot("hq", table) if self.rules.shares("hq", "campaigns") else None
            return masters.redact_free_text(df, FREE_TEXT.get(table, []), self.rules.free_text_patterns) \
                if df is not None else None
        if table == "id_links":
            links = self.snapshot(*LINK_FEED) if self.rules.shares(*LINK_FEED) else None
            return masters.id_links(links, self.key_pads()) if links is not None else None
        raise AssertionError(f"no master table {table}")

    def key_pads(self) -> DataFrame:
        """The pseudonymisation key as a one-row frame of HMAC pads, built from Arrow (a local relation).

        A value made with F.lit would be printed in every plan and event log; a local relation is shown
        as its columns only. The key comes from the environment or a secrets file (`transforms.keys`).
        """
        ipad, opad = masters.hmac_pads(keys.pseudonym_key(self.lake))
        return self.spark.createDataFrame(pa.table({"_ipad": pa.array([ipad], pa.binary()),
                                                    "_opad": pa.array([opad], pa.binary())}))

    # --- sales ------------------------------------------------------------------------------

    def sales(self) -> None:
        """Every company's purchases of the sales dates, rebuilt from raw in one pass (one shuffle, one sort)."""
        dates = self.work.sales_dates
        frames = []
        links = None
        for company, (feed, _) in SALES_FEEDS.items():
            raw = self.read_feed(company, feed, dates)
            if raw is None:
                continue
            if company == "sm":
                links = self.snapshot(*LINK_FEED)
                if links is None:
                    links = self.spark.sql("select '' local_member_id, '' gid where false")
                frames.append(conform.sm_canonical(raw, links))
            else:
                frames.append(CANONICAL[company](raw))
        self.say(f"conforming purchases of {len(dates)} date(s)")
        if frames:
            rows = self.cache(self.by_date(conform.union_all(frames)).transform(conform.flag_duplicates))
            feeds = F.create_map(*[x for c, (f, _) in SALES_FEEDS.items() for x in (F.lit(c), F.lit(f))])
            self._raw_counts(rows, F.col("company"), feeds[F.col("company")], "purchased_at")
            shared = [c for c in SALES_FEEDS if self.rules.shares(c, "purchases") == "receipt"]
            lines_shared = [c for c in shared if self.rules.shares(c, "purchase_lines") is True]
            purchases = self.cache(conform.purchases(rows.filter(F.col("company").isin(shared))))
            lines = conform.lines(rows, lines_shared, self.categories())
            self.stage(purchases, "purchases", dates, by_date=True)
            self.stage(aggregates.member_day(purchases), "member_day", dates, by_date=True)
            if lines_shared:
                self.stage(lines, "purchase_lines", dates, by_date=True)
                self.stage(aggregates.member_day_category(lines), "member_day_category", dates, by_date=True)
        for table in SALES_TABLES:  # dates whose every batch is gone: their partitions go
            self.staged.setdefault(table, dates)

    def _raw_counts(self, df: DataFrame, company: Column, feed: str | Column, event_time: str) -> None:
        """Register the raw-side counts of `df` per company, date and batch (collected with the output counts).

        Measured on the rows as read: all rows, duplicates, lines folded into receipt totals, e-money rows
        of unregistered cards, distinct unlinked sm members, and rows dated outside their raw partition.
        """
        kept = ~F.col("_duplicate")

        def has(col: str) -> bool:
            return col in df.columns

        per_batch = df.groupBy(company.alias("company"), "date", "_batch_id").agg(
            F.count("*").alias("raw"), F.count_if("_duplicate").alias("dups"),
            (F.count_if(kept & F.col("_is_line") & ~F.col("_first")) if has("_is_line") else F.lit(0)).alias("folded"),
            (F.count_if(kept & F.col("_anonymous")) if has("_anonymous") else F.lit(0)).alias("anon"),
            F.count_if(conform.jst_date(event_time) != F.col("date")).alias("misdated"))
        frames = [per_batch]
        if has("_unlinked_id"):
            frames.append(df.filter(kept & F.col("_unlinked_id").isNotNull()).groupBy(
                company.alias("company"), "date").agg(F.count_distinct("_unlinked_id").alias("unlinked")))
        feed_col = feed if isinstance(feed, Column) else F.lit(feed)
        self._stats += [f.withColumn("feed", feed_col).withColumn("date", F.col("date").cast("string"))
                        for f in frames]

    def _take_raw_counts(self, r: dict) -> None:
        c = self.counts[(r["company"], r["feed"], r["date"])]
        if r["_batch_id"] is None:  # the per-date distinct count of unlinked members
            c.unlinked = r["unlinked"]
            return
        c.raw += r["raw"]
        c.dups += r["dups"]
        c.folded += r["folded"]
        c.anonymous += r["anon"]
        c.misdated += r["misdated"]
        c.batches[r["_batch_id"]] = r["raw"]

    # --- app events and e-money --------------------------------------------------------------

    def events(self) -> None:
        company, feed = EVENT_FEED
        dates = self.work.event_dates
        raw = self.read_feed(company, feed, dates)
        self.staged["app_events"] = dates
        if raw is None:
            return
        self.say(f"conforming {company} events of {len(dates)} date(s)")
        flagged = self.cache(masters.app_events(self.by_date(raw)))
        self._raw_counts(flagged, F.lit(company), feed, "occurred_at")
        if self.rules.shares(company, "app_events"):
            self.stage(flagged.filter(~F.col("_duplicate")), "app_events", dates, by_date=True)

    def money(self) -> None:
        """Monthly totals: a changed date rebuilds its whole month, so all the month's files are read."""
        company, feed = MONEY_FEED
        dates = self.work.money_dates
        months = {d[:7] + "-01" for d in dates}
        self.staged["money_monthly"] = months
        raw = self.read_feed(company, feed, dates)
        if raw is None:
            return
        self.say("conforming e-money (monthly member totals)")
        flagged = self.cache(masters.money_flags(self.by_date(raw)))
        self._raw_counts(flagged, F.lit(company), feed, "occurred_at")
        if self.rules.shares(company, "purchases") == "monthly_member_totals":
            self.stage(masters.money_monthly(flagged), "money_monthly", months)

    # --- reconciliation ---------------------------------------------------------------------

    def count(self) -> dict[tuple[str, str, str], int]:
        """Every count of the run in one Spark job: the raw-side counts registered by each step, and the
        staged output per (measure, company, date), counted once from the written files.

        Output measures: rows of purchases, lines and events; the transactions money_monthly sums; the
        visits member_day sums, and the member purchases it sums them from.
        """
        measures = [  # (measure, table, company, date column, value)
            ("purchases", "purchases", F.col("company"), "purchase_date", F.count("*")),
            ("member_purchases", "purchases", F.col("company"), "purchase_date", F.count("gid")),
            ("purchase_lines", "purchase_lines", F.col("company"), "purchase_date", F.count("*")),
            ("app_events", "app_events", F.lit(EVENT_FEED[0]), "event_date", F.count("*")),
            ("money_monthly", "money_monthly", F.lit(MONEY_FEED[0]), "month",
             F.sum(F.col("payments") + F.col("charges"))),
            ("member_day", "member_day", F.col("company"), "purchase_date", F.sum("visits")),
        ]
        frames = []
        for name, table, company, date_col, value in measures:
            df = self.staged_frame(table) if self.staged.get(table) else None
            if df is not None:
                frames.append(df.groupBy(company.alias("company"), F.col(date_col).cast("string").alias("date"))
                              .agg(value.cast("bigint").alias("n")).withColumn("measure", F.lit(name)))
        frames += self._stats
        if not frames:
            return {}
        out = {}
        for r in conform.union_all(frames).collect():
            if r["measure"] is None:
                self._take_raw_counts(r.asDict())
            else:
                out[(r["measure"], r["company"], r["date"])] = r["n"]
        return out

    def reconcile(self, group: dict[tuple[str, str, str], int]) -> list[str]:
        """One reconciliation row per (company, feed, date) this run touched; returns the problems found."""
        problems: list[str] = []
        lines_shared = {c for c in SALES_FEEDS if self.rules.shares(c, "purchase_lines") is True}
        money_shared = self.rules.shares(MONEY_FEED[0], "purchases") == "monthly_member_totals"
        touched = set(self.counts)
        for feed_key, gone in self.work.gone.items():
            company, feed = feed_key.split("/")
            touched |= {(company, feed, d) for d in gone}
        month_rows: dict[str, int] = defaultdict(int)
        for company, feed, d in sorted(touched):
            c = self.counts.get((company, feed, d), Counts())
            gone = self.work.gone.get(key(company, feed), {}).get(d, {})
            not_shared = 0
            if (company, feed) == EVENT_FEED:
                group_rows = group.get(("app_events", company, d), 0)
                if not self.rules.shares(company, "app_events"):
                    not_shared = c.raw
            elif (company, feed) == MONEY_FEED:
                # Each e-money row that is not a repeat and belongs to a member is summed into money_monthly
                # (checked below against the sums read back); unregistered cards have no member to total.
                group_rows = c.raw - c.dups - c.anonymous if money_shared else 0
                not_shared = c.anonymous if money_shared else c.raw
                month_rows[d[:7] + "-01"] += group_rows
            elif self.rules.shares(company, "purchases") != "receipt":
                group_rows, not_shared = 0, c.raw
            elif company in lines_shared and SALES_FEEDS[company][1] == "lines":
                group_rows = group.get(("purchase_lines", company, d), 0)
            else:
                group_rows = group.get(("purchases", company, d), 0)
                not_shared = c.folded  # lines of a feed that shares receipts only, summed into their receipt
            row = {"company": company, "feed": feed, "date": dt.date.fromisoformat(d), "raw_rows": c.raw,
                   "group_rows": group_rows, "duplicates_dropped": c.dups, "not_shared": not_shared,
                   "unlinked_members": c.unlinked, "batches": len(c.batches), "removed_batches": len(gone),
                   "removed_rows": sum(n for n in gone.values() if n is not None) if gone else 0,
                   "run_id": self.run_id}
            row["explained"] = row["raw_rows"] == row["group_rows"] + row["duplicates_dropped"] + row["not_shared"]
            self.result.reconciliation.append(row)
            self.result.unlinked_members += c.unlinked
            self.result.rows_read += c.raw
            if not row["explained"]:
                problems.append(f"{company}/{feed} {d}: raw {c.raw} != group {group_rows} + duplicates {c.dups} "
                                f"+ not shared {not_shared}")
            if c.misdated:
                problems.append(f"{company}/{feed} {d}: {c.misdated} rows dated outside their raw date partition "
                                "(the raw zone is not partitioned as its contract says)")
        for month, expected in sorted(month_rows.items()):
            got = group.get(("money_monthly", MONEY_FEED[0], month), 0)
            if money_shared and got != expected:
                problems.append(f"money_monthly {month}: sums {got} transactions, {expected} were read")
        for (measure, company, d), n in sorted(group.items()):
            members = group.get(("member_purchases", company, d), 0)
            if measure == "member_day" and n != members:
                problems.append(f"member_day {company} {d}: {n} visits, but {members} member purchases")
        for table in ("purchases", "purchase_lines", "app_events"):
            if table in self.staged:
                self.result.tables[table] = sum(n for (m, _, _), n in group.items() if m == table)
        return problems

    def write_reconciliation(self) -> None:
        """Merge this run's rows into the reconciliation table (latest row per company, feed, date); small, so Arrow."""
        schema = arrow_schema(RECON)
        new = pa.Table.from_pylist(self.result.reconciliation, schema=schema)
        keys_ = {(r["company"], r["feed"], r["date"]) for r in self.result.reconciliation}
        if self.lake.exists(layout.GROUP, layout.RECONCILIATION_FILE):
            old = pq.read_table(self.lake.open_input(layout.GROUP, layout.RECONCILIATION_FILE))
            kept = [r for r in old.to_pylist() if (r["company"], r["feed"], r["date"]) not in keys_]
            new = pa.concat_tables([pa.Table.from_pylist(kept, schema=schema), new])
        new = new.sort_by([("company", "ascending"), ("feed", "ascending"), ("date", "ascending")])
        with self.lake.open_output(layout.GROUP, layout.RECONCILIATION_FILE) as out:
            pq.write_table(new, out, compression="zstd")

    def record(self, done: state.State) -> None:
        """The state after this run: each rebuilt date's batches as read (with their rows), each master's snapshot."""
        for company, feed in DATED_FEEDS:
            k = key(company, feed)
            slot = done.feeds.setdefault(k, {})
            for d in self.work.dates_of(k):
                batches = self.counts.get((company, feed, d), Counts()).batches
                if batches:
                    slot[d] = dict(sorted(batches.items()))
                else:
                    slot.pop(d, None)
        for table in self.work.masters:
            for source in master_sources(list(self.rules.companies))[table]:
                snap = self.work.snapshots.get(source)
                if snap:
                    done.snapshots[source] = snap.batch_id
                else:
                    done.snapshots.pop(source, None)


def _is_data(rel: str) -> bool:
    name = rel.rsplit("/", 1)[-1]
    return name.endswith(".parquet") and not name.startswith((".", "_"))


def listing(lake: Lake, rules: SharingRules) -> tuple[dict[str, state.Listing], dict[str, state.RawFile | None]]:
    """(live batches per dated feed and date, latest snapshot per snapshot feed) of the raw zones."""
    live = {key(c, f): state.by_date(state.list_raw(lake, c, f))
            for c, f in DATED_FEEDS}
    snaps = {key(c, f): state.latest_snapshot(state.list_raw(lake, c, f))
             for c in rules.companies for f in SNAPSHOT_FEEDS}
    snaps[key(*LINK_FEED)] = state.latest_snapshot(state.list_raw(lake, *LINK_FEED))
    for f in HQ_FEEDS:
        snaps[key("hq", f)] = state.latest_snapshot(state.list_raw(lake, "hq", f))
    return live, snaps


def run_transforms(lake: Lake, dates: list[str] | None = None, master: str | None = None,
                   progress: Progress | None = None) -> dict:
    """Bring the group zone up to date with the raw zones; `dates` (YYYY-MM-DD) rebuilds exactly those dates.

    Returns a summary: dates rebuilt, rows written per table, reconciliation rows. A run whose
    reconciliation does not add up raises a LakeError and publishes and records nothing.
    """
    for d in dates or []:
        try:
            dt.date.fromisoformat(d)
        except ValueError:
            raise LakeError(f"{d!r} is not a date", "give dates as YYYY-MM-DD") from None
    with runlog.recorded(lake, "transform") as run, locks.stage_lock(lake, "transform") as held:
        try:
            summary = _run(lake, dates, master, progress, held)
        except (PySparkException, Py4JError) as e:
            first = str(e).strip().splitlines()[0][:300] if str(e).strip() else type(e).__name__
            raise LakeError(f"the Spark job failed: {first}",
                            "nothing was published or recorded; fix the cause (LAKE_DEBUG=1 shows the trace) "
                            "and run the transforms again") from e
        run.rows_in = summary.get("rows_read", 0)
        run.rows_out = sum(r["group_rows"] for r in summary.get("reconciliation", []))
        run.files = summary.get("batches", 0)
        run.message = "up to date" if summary["skipped"] else f"{len(summary['dates'])} date(s) rebuilt"
        run.detail = {k: summary[k] for k in ("dates", "tables", "rewritten", "reconciled", "removed_batches",
                                              "unlinked_members") if k in summary}
        return {k: v for k, v in summary.items() if k not in ("reconciliation", "rows_read", "batches")}


def _run(lake: Lake, dates: list[str] | None, master: str | None, progress: Progress | None,
         held: locks.StageLock) -> dict:
    started = time.monotonic()
    rules = load_rules()
    say = progress or (lambda _m: None)
    live, snaps = listing(lake, rules)
    done = state.read_state(lake)
    work = plan(live, snaps, done, list(rules.companies), dates)
    if work.empty:
        return {"skipped": True, "dates": [], "seconds": round(time.monotonic() - started, 1)}
    from transforms.spark import spark_session  # pyspark starts a JVM: only when there is work

    if not lake.is_s3:  # on S3 the zone buckets are provisioned (`lake s3 up`); jobs may not create buckets
        lake.ensure_zones([layout.GROUP, layout.OPS])
    lake.delete_dir(layout.GROUP, layout.STAGING)  # what a killed run left; never published
    say("starting Spark")
    job = Job(spark_session(lake, master), lake, rules, work, progress)
    try:
        job.masters()
        if work.sales_dates:
            job.sales()
        if work.event_dates:
            job.events()
        if work.money_dates:
            job.money()
        say("counting what was written")
        problems = job.reconcile(job.count())
        job.release()
        if problems:
            raise LakeError(f"reconciliation does not add up, nothing was published: {problems[0]}"
                            + (f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""),
                            "this is a transform bug or a raw zone changed during the run; the group zone is "
                            "as before and the next run redoes the same work")
        # the raw -> group quality gate on the staged tables: a failure publishes and records nothing
        say("checking the raw -> group gate")
        staged = [t for t in sorted(job.staged)
                  if job.lake.list_files(layout.GROUP, layout.group_staging(job.run_id, t))]
        report = gates.check_group_staged(job.lake, job.run_id, staged, rules)
        gates.record(lake, report)
        report.raise_for_failures()
        say("publishing")
        held.check()  # an S3 lease taken over while this run stalled: publish nothing
        job.publish()
        job.write_reconciliation()
        job.record(done)
        state.write_state(lake, done)  # last: a run killed before this line is redone in full next time
    finally:
        job.release()
        lake.delete_dir(layout.GROUP, layout.STAGING)
    job.result.dates = work.sales_dates | work.event_dates | work.money_dates
    job.result.seconds = time.monotonic() - started
    summary = job.result.as_dict()
    summary.update(reconciliation=job.result.reconciliation, rows_read=job.result.rows_read,
                   batches=sum(len(c.batches) for c in job.counts.values()))
    return summary


def main(argv: list[str] | None = None) -> None:
    """spark-submit entry point: `spark-submit transforms/run.py --lake s3:// [--date D ...]`."""
    ap = argparse.ArgumentParser(description="raw zones -> group zone (Spark)")
    ap.add_argument("--lake", default=None, help="lake folder or s3:// (default: LAKE_URI or .lake)")
    ap.add_argument("--date", action="append", dest="dates", help="rebuild this date (repeatable)")
    ap.add_argument("--master", default=None, help="Spark master (default: SPARK_MASTER or local[2])")
    args = ap.parse_args(argv)
    try:
        summary = run_transforms(open_lake(args.lake), args.dates, args.master,
                                 progress=lambda m: print(m, file=sys.stderr))
    except LakeError as e:
        print(f"error: {e}", file=sys.stderr)
        raise SystemExit(1) from None
    print(summary)


if __name__ == "__main__":
    main()
