"""The transform run: raw zones -> group zone (DESIGN §5) under the sharing rules (DESIGN §6).

All I/O is here; the transformations are the pure functions of `conform`, `masters` and
`aggregates`. A run processes only raw date partitions with batches it has not seen (or the dates
it is given), replaces those partitions in the group zone (dynamic partition overwrite, so a
re-run is idempotent), rewrites the small masters, recomputes member-day aggregates of the touched
dates, appends the reconciliation and finally records what it processed in the ops zone.

    spark-submit transforms/run.py --lake s3://   (or: python -m transforms.run --lake DIR)
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import secrets
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.parquet as pq
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.storagelevel import StorageLevel

from expectations.rules import SharingRules, load_rules
from lake import layout
from lake.config import state_dir
from lake.errors import LakeError
from lake.storage import Lake, open_lake
from transforms import aggregates, conform, masters, state
from transforms.schema import arrow_schema, partition_by, to_group_schema

Progress = Callable[[str], None]

# Daily feed of each company and its shape. Which of them reach the group zone, and how, is the
# sharing rules' decision (`rules.shares`), never this table's.
SALES_FEEDS: dict[str, tuple[str, str]] = {
    "cvs": ("pos", "lines"), "gms": ("sales", "lines"), "sm": ("sales", "lines"), "baby": ("sales", "lines"),
    "dept": ("receipts", "receipts"), "diner": ("checks", "receipts"), "ec": ("orders", "receipts"),
}
CANONICAL = {"cvs": conform.cvs_canonical, "gms": conform.gms_canonical, "baby": conform.baby_canonical,
             "dept": conform.dept_canonical, "diner": conform.diner_canonical, "ec": conform.ec_canonical}
EVENT_FEED = ("app", "events")
MONEY_FEED = ("money", "txns")
SNAPSHOT_FEEDS = ["stores", "categories"]
HQ_FEEDS = ["members", "campaigns", "campaign_assignments"]
FREE_TEXT = {"campaigns": ["description"]}  # shared free text: PII patterns are redacted
RECON = "reconciliation"
# The rules reserve `name` for people (pii.columns); a store's or category's name gets a specific one.
MASTER_NAME = {"stores": "store_name", "categories": "category_name"}


@dataclass
class RunResult:
    dates: set[str] = field(default_factory=set)
    tables: dict[str, int] = field(default_factory=dict)
    rewritten: list[str] = field(default_factory=list)
    reconciliation: list[dict] = field(default_factory=list)
    unlinked_members: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict:
        bad = [r for r in self.reconciliation if not r["explained"]]
        return {"dates": sorted(self.dates), "tables": self.tables, "rewritten": self.rewritten,
                "reconciled": len(self.reconciliation),
                "unexplained": bad, "unlinked_members": self.unlinked_members, "seconds": round(self.seconds, 1),
                "skipped": not self.reconciliation and not self.tables}


def pseudonym_key() -> bytes:
    """The secret of the keyed hash for local member IDs: `LAKE_PSEUDONYM_KEY`, else one kept per checkout.

    The key never enters the lake; a cluster passes it in the environment so every run hashes alike.
    """
    if env := os.environ.get("LAKE_PSEUDONYM_KEY"):
        return env.encode()
    path = state_dir() / "pseudonym.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip().encode()


class Job:
    """One run: the session, the lake, the rules and what the raw zones hold."""

    def __init__(self, spark: SparkSession, lake: Lake, rules: SharingRules, progress: Progress | None) -> None:
        self.spark, self.lake, self.rules = spark, lake, rules
        self.say: Progress = progress or (lambda _msg: None)
        self.result = RunResult()

    # --- reading ----------------------------------------------------------------------------

    def read_raw(self, files: list[state.RawFile]) -> DataFrame:
        """Raw files as one frame, with the partition column and each batch's landing time."""
        f0 = files[0]
        zone = layout.raw(f0.company)
        df = self.spark.read.option("basePath", self.lake.uri(zone, f0.feed)).parquet(
            *sorted({self.lake.uri(zone, f.rel.rsplit("/", 1)[0]) for f in files}))
        # A literal map, not a Python-made DataFrame: that would start Python workers (seconds) for a lookup.
        landed = {f.batch_id: f.landed_at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f") for f in files}
        pairs = [x for b, t in sorted(landed.items()) for x in (F.lit(b), F.lit(t))]
        return df.withColumn("_landed_at", F.to_timestamp(F.create_map(*pairs)[F.col("_batch_id")]))

    def snapshot(self, company: str, feed: str) -> DataFrame | None:
        snap = state.latest_snapshot(state.list_raw(self.lake, company, feed))
        return self.read_raw([snap]).drop("snapshot") if snap else None

    def union_snapshots(self, feed: str) -> DataFrame | None:
        frames = [df for c in self.rules.companies if (df := self.snapshot(c, feed)) is not None]
        if not frames:
            return None
        out = frames[0]
        for df in frames[1:]:
            out = out.unionByName(df, allowMissingColumns=True)
        return out

    # --- writing ----------------------------------------------------------------------------

    def write(self, df: DataFrame, table: str) -> None:
        """Replace the table's partitions present in `df` (the whole table when it has no partitions)."""
        out = to_group_schema(df, table)
        leaked = sorted(set(out.columns) & self.rules.pii_columns)
        if leaked:  # the interface itself would leak: refuse before anything is written
            raise LakeError(f"group table {table} would carry PII columns {leaked} (sharing rules pii.columns)",
                            "remove them from transforms/group_schema.yml")
        writer = out.write.mode("overwrite")
        if parts := partition_by(table):
            writer = writer.partitionBy(*parts)
        writer.parquet(self.lake.uri(layout.GROUP, table))

    def read_group(self, table: str) -> DataFrame:
        return self.spark.read.parquet(self.lake.uri(layout.GROUP, table))

    def group_counts(self, table: str, date_col: str, dates: set[str], company: str | None = None) -> dict:
        """Rows per company and date of a group table as written (read back: the reconciliation checks output).

        Tables without a company column (app_events) are counted under the `company` given.
        """
        if not self.lake.exists(layout.GROUP, table):  # nothing written yet (e.g. every row a duplicate)
            return {}
        df = self.read_group(table).filter(F.col(date_col).isin([dt.date.fromisoformat(d) for d in dates]))
        key = F.lit(company) if company else F.col("company")
        out: dict[str, dict[str, int]] = {}
        for r in df.groupBy(key.alias("_k"), F.col(date_col)).count().collect():
            out.setdefault(r[0], {})[str(r[1])] = r[2]
        return out

    # --- masters ----------------------------------------------------------------------------

    def masters(self) -> dict[str, DataFrame]:
        """Small full-snapshot tables, rewritten whole. Categories also feed the conform step."""
        out: dict[str, DataFrame] = {}
        for feed in SNAPSHOT_FEEDS:
            df = self.union_snapshots(feed)
            if df is not None:
                out[feed] = df.withColumnRenamed("name", MASTER_NAME[feed])
        if self.rules.shares("hq", "members") and (m := self.snapshot("hq", "members")) is not None:
            out["members"] = masters.generalise_members(m, self.rules.members, self.rules.pii_columns)
        if self.rules.shares("hq", "campaigns"):
            for feed in ("campaigns", "campaign_assignments"):
                if (df := self.snapshot("hq", feed)) is not None:
                    out[feed] = masters.redact_free_text(df, FREE_TEXT.get(feed, []), self.rules.free_text_patterns)
        if self.rules.shares("sm", "id_links") and (links := self.snapshot("sm", "id_links")) is not None:
            out["sm_links_raw"] = links
            out["id_links"] = masters.id_links(links, pseudonym_key())
        return out

    def write_masters(self, tables: dict[str, DataFrame]) -> None:
        for table, df in tables.items():
            if table == "sm_links_raw":
                continue
            self.say(f"writing group/{table}")
            self.write(df, table)
            self.result.rewritten.append(table)

    # --- purchases --------------------------------------------------------------------------

    def sales(self, todo: dict[str, list[state.RawFile]], categories: DataFrame | None,
              links: DataFrame | None) -> None:
        """Every company's pending purchases in one pass per shape (few Spark jobs: each costs seconds)."""
        line_frames, receipt_frames = [], []
        for company, files in todo.items():
            feed, shape = SALES_FEEDS[company]
            raw = self.read_raw(files)
            if self.rules.shares(company, "purchases") != "receipt":  # nothing reaches the group zone
                counts = {str(r[0]): r[1] for r in raw.groupBy("date").count().collect()}
                self._reconcile(company, feed, counts, {}, {}, dict(counts), {})
                continue
            if company == "sm":
                if links is None:
                    links = self.spark.sql("select '' local_member_id, '' gid where false")
                canon = conform.sm_canonical(raw, links)
            else:
                canon = CANONICAL[company](raw)
            if "_unlinked_id" not in canon.columns:
                canon = canon.withColumn("_unlinked_id", F.lit(None).cast("string"))
            (line_frames if shape == "lines" else receipt_frames).append(canon)
        if categories is None:
            categories = self.spark.sql("select '' company, '' code, '' group_category where false")
        lines_shared = [c for c in todo if self.rules.shares(c, "purchase_lines") is True]
        stats: dict[tuple[str, str], dict] = {}
        purchases: list[DataFrame] = []
        lines: list[DataFrame] = []
        persisted: list[DataFrame] = []
        # Plain sums only: a distinct count here would cost another shuffle of every row.
        aggs = [F.count("*").alias("raw"), F.count_if("_duplicate").alias("dups")]
        for frames, flag in ((line_frames, conform.flag_duplicate_lines),
                             (receipt_frames, conform.flag_duplicate_receipts)):
            if not frames:
                continue
            flagged = _union(frames).transform(flag).persist(StorageLevel.MEMORY_AND_DISK)
            persisted.append(flagged)
            for r in flagged.groupBy("company", "date").agg(*aggs).collect():
                stats[(r["company"], str(r["date"]))] = {**r.asDict(), "unlinked": 0}
            unlinked = flagged.filter(~F.col("_duplicate") & F.col("_unlinked_id").isNotNull())
            for r in unlinked.groupBy("company", "date").agg(F.count_distinct("_unlinked_id")).collect():
                stats[(r[0], str(r[1]))]["unlinked"] = r[2]
            kept = flagged.filter(~F.col("_duplicate"))
            if flag is conform.flag_duplicate_lines:
                purchases.append(conform.lines_to_purchases(kept))
                lines.append(kept.filter(F.col("company").isin(lines_shared)))
            else:
                purchases.append(conform.receipts_to_purchases(kept))
                if "_lines" in kept.columns:  # only ec sends lines inside its orders
                    lines.append(conform.ec_lines(kept.filter(F.col("company").isin(lines_shared))))
        try:
            if purchases:
                self.say(f"conforming purchases of {', '.join(sorted(todo))}")
                self.write(_union(purchases), "purchases")
            if lines and lines_shared:
                self.write(conform.purchase_lines(conform.map_categories(_union(lines), categories)),
                           "purchase_lines")
        finally:
            for df in persisted:
                df.unpersist()
        dates = {f.value for files in todo.values() for f in files}
        group_p = self.group_counts("purchases", "purchase_date", dates)
        group_l = self.group_counts("purchase_lines", "purchase_date", dates) if lines_shared else {}
        for company in todo:
            feed, shape = SALES_FEEDS[company]
            mine = {d: s for (c, d), s in stats.items() if c == company}
            if not mine:
                continue
            line_grain, shared = shape == "lines", company in lines_shared
            group = (group_l if line_grain and shared else group_p).get(company, {})
            # Lines of a feed whose lines are not shared are folded into receipt totals: the rule explains them.
            not_shared = {d: s["raw"] - s["dups"] - group.get(d, 0) for d, s in mine.items()} \
                if line_grain and not shared else {}
            unlinked = {d: s["unlinked"] for d, s in mine.items()}
            self.result.unlinked_members += sum(unlinked.values())
            self._reconcile(company, feed, {d: s["raw"] for d, s in mine.items()}, group,
                            {d: s["dups"] for d, s in mine.items()}, not_shared, unlinked)

    def events(self, files: list[state.RawFile]) -> None:
        company, feed = EVENT_FEED
        dates = {f.value for f in files}
        raw = self.read_raw(files)
        if not self.rules.shares(company, "app_events"):
            counts = {str(r[0]): r[1] for r in raw.groupBy("date").count().collect()}
            self._reconcile(company, feed, counts, {}, {}, dict(counts), {})
            return
        flagged = masters.app_events(raw).persist(StorageLevel.MEMORY_AND_DISK)
        try:
            stats = {str(r["date"]): r.asDict() for r in flagged.groupBy("date").agg(
                F.count("*").alias("raw"), F.count_if("_duplicate").alias("dups")).collect()}
            self.say(f"conforming {company} ({len(dates)} dates)")
            self.write(flagged.filter(~F.col("_duplicate")), "app_events")
        finally:
            flagged.unpersist()
        group = self.group_counts("app_events", "event_date", dates, company).get(company, {})
        self._reconcile(company, feed, {d: s["raw"] for d, s in stats.items()}, group,
                        {d: s["dups"] for d, s in stats.items()}, {}, {})

    def money(self, files: list[state.RawFile]) -> None:
        """Monthly totals: a touched date recomputes its whole month, so all the month's files are read."""
        company, feed = MONEY_FEED
        raw = self.read_raw(files)
        flagged = masters.money_flags(raw).persist(StorageLevel.MEMORY_AND_DISK)
        try:
            stats = {str(r["date"]): r.asDict() for r in flagged.groupBy("date").agg(
                F.count("*").alias("raw"), F.count_if("_duplicate").alias("dups"),
                F.count_if(~F.col("_duplicate") & F.col("_anonymous")).alias("anon")).collect()}
            shared = self.rules.shares(company, "purchases") == "monthly_member_totals"
            if shared:
                self.say("conforming money (monthly member totals)")
                self.write(masters.money_monthly(flagged), "money_monthly")
        finally:
            flagged.unpersist()
        raw_n = {d: s["raw"] for d, s in stats.items()}
        if shared:
            # Each e-money row that is not a repeat and belongs to a member is summed into money_monthly;
            # rows of unregistered cards have no member to total (the rule shares member totals only).
            group = {d: s["raw"] - s["dups"] - s["anon"] for d, s in stats.items()}
            self._reconcile(company, feed, raw_n, group, {d: s["dups"] for d, s in stats.items()},
                            {d: s["anon"] for d, s in stats.items()}, {})
        else:
            self._reconcile(company, feed, raw_n, {}, {}, dict(raw_n), {})

    def member_aggregates(self, dates: set[str]) -> None:
        """member_day and its category mix for the touched dates, from the group zone as now written."""
        if not dates or not self.lake.exists(layout.GROUP, "purchases"):
            return
        self.say(f"member-day aggregates ({len(dates)} dates)")
        days = [dt.date.fromisoformat(d) for d in dates]
        purchases = self.read_group("purchases").filter(F.col("purchase_date").isin(days))
        self.write(aggregates.member_day(purchases), "member_day")
        if self.lake.exists(layout.GROUP, "purchase_lines"):
            lines = self.read_group("purchase_lines").filter(F.col("purchase_date").isin(days))
            self.write(aggregates.member_day_category(purchases, lines), "member_day_category")

    # --- reconciliation ---------------------------------------------------------------------

    def _reconcile(self, company: str, feed: str, raw: dict[str, int], group: dict[str, int],
                   dups: dict[str, int], not_shared: dict[str, int], unlinked: dict[str, int]) -> None:
        for d in sorted(set(raw) | set(group)):
            row = {"company": company, "feed": feed, "date": dt.date.fromisoformat(d), "raw_rows": raw.get(d, 0),
                   "group_rows": group.get(d, 0), "duplicates_dropped": dups.get(d, 0),
                   "not_shared": not_shared.get(d, 0), "unlinked_members": unlinked.get(d, 0)}
            row["explained"] = row["raw_rows"] == row["group_rows"] + row["duplicates_dropped"] + row["not_shared"]
            self.result.reconciliation.append(row)

    def write_reconciliation(self) -> None:
        """Merge this run's rows into the reconciliation table (keyed by company, feed, date); small, so Arrow."""
        schema = arrow_schema(RECON)
        rel = f"{RECON}/part-00000.parquet"
        new = pa.Table.from_pylist(self.result.reconciliation, schema=schema)
        keys = {(r["company"], r["feed"], r["date"]) for r in self.result.reconciliation}
        if self.lake.exists(layout.GROUP, rel):
            old = pq.read_table(self.lake.open_input(layout.GROUP, rel), schema=schema).to_pylist()
            kept = [r for r in old if (r["company"], r["feed"], r["date"]) not in keys]
            new = pa.concat_tables([pa.Table.from_pylist(kept, schema=schema), new])
        new = new.sort_by([("company", "ascending"), ("feed", "ascending"), ("date", "ascending")])
        with self.lake.open_output(layout.GROUP, rel) as out:
            pq.write_table(new, out, compression="zstd")
        self.result.tables[RECON] = new.num_rows


def _union(frames: list[DataFrame]) -> DataFrame:
    out = frames[0]
    for df in frames[1:]:
        out = out.unionByName(df, allowMissingColumns=True)
    return out


def _files_by_date(files: list[state.RawFile], dates: set[str]) -> list[state.RawFile]:
    return [f for f in files if f.key == "date" and f.value in dates]


def plan(lake: Lake, rules: SharingRules, dates: list[str] | None) -> tuple[dict, dict, dict]:
    """(raw listing per feed, pending dates per feed, snapshot batches) for this run."""
    feeds = [(c, f) for c, (f, _) in SALES_FEEDS.items()] + [EVENT_FEED, MONEY_FEED]
    files = {f"{c}/{f}": state.list_raw(lake, c, f) for c, f in feeds}
    snaps = {f"{c}/{f}": state.latest_snapshot(state.list_raw(lake, c, f))
             for c in rules.companies for f in SNAPSHOT_FEEDS}
    for f in ("id_links",):
        snaps[f"sm/{f}"] = state.latest_snapshot(state.list_raw(lake, "sm", f))
    for f in HQ_FEEDS:
        snaps[f"hq/{f}"] = state.latest_snapshot(state.list_raw(lake, "hq", f))
    done = state.read_state(lake)
    pending: dict[str, set[str]] = {}
    for key, fs in files.items():
        current = state.as_listing(fs)[key]
        if dates is not None:
            pending[key] = set(dates) & set(current)
            continue
        todo = state.pending_dates(current, done.get(key, {}))
        company = key.split("/")[0]
        # Mappings are applied at conform time: a new category or link snapshot re-conforms every date.
        for mapping in (f"{company}/categories", *(["sm/id_links"] if company == "sm" else [])):
            snap = snaps.get(mapping)
            if snap and done.get(mapping, {}).get("snapshot") != [snap.batch_id]:
                todo = set(current)
        pending[key] = todo
    return files, pending, snaps


def run_transforms(lake: Lake, dates: list[str] | None = None, master: str | None = None,
                   progress: Progress | None = None) -> dict:
    """Bring the group zone up to date with the raw zones; `dates` (YYYY-MM-DD) re-does exactly those dates.

    Returns a summary: dates processed, row counts of tables written, reconciliation rows and any
    unexplained ones (which make the run fail with a LakeError after everything is written).
    """
    started = time.monotonic()
    rules = load_rules()
    for d in dates or []:
        try:
            dt.date.fromisoformat(d)
        except ValueError:
            raise LakeError(f"{d!r} is not a date", "give dates as YYYY-MM-DD") from None
    files, pending, snaps = plan(lake, rules, dates)
    done = state.read_state(lake)
    snaps_changed = any(s and done.get(k, {}).get("snapshot") != [s.batch_id] for k, s in snaps.items())
    if not any(pending.values()) and not snaps_changed:
        return RunResult(seconds=time.monotonic() - started).as_dict() | {"skipped": True}
    from transforms.spark import spark_session  # pyspark starts a JVM: only when there is work

    if not lake.is_s3:  # on S3 the zone buckets are provisioned (`lake s3 up`); jobs may not create buckets
        lake.ensure_zones([layout.GROUP, layout.OPS])
    say = progress or (lambda _m: None)
    say("starting Spark")
    spark = spark_session(lake, master)
    job = Job(spark, lake, rules, progress)
    tables = job.masters()
    job.write_masters(tables)
    todo = {c: _files_by_date(files[f"{c}/{feed}"], pending[f"{c}/{feed}"])
            for c, (feed, _) in SALES_FEEDS.items() if pending.get(f"{c}/{feed}")}
    touched = {f.value for fs in todo.values() for f in fs}
    if todo:
        job.sales(todo, tables.get("categories"), tables.get("sm_links_raw"))
    key = "/".join(EVENT_FEED)
    if pending.get(key):
        job.events(_files_by_date(files[key], pending[key]))
    key = "/".join(MONEY_FEED)
    if pending.get(key):
        months = {d[:7] for d in pending[key]}
        month_files = [f for f in files[key] if f.key == "date" and f.value[:7] in months]
        job.money(month_files)
        pending[key] = {f.value for f in month_files}
    job.member_aggregates(touched)
    job.write_reconciliation()
    job.result.dates = set().union(*pending.values()) if pending else set()
    # Record last: a run killed before this line is redone in full next time.
    for key, fs in files.items():
        state.record(done, key, state.as_listing(fs)[key], pending.get(key, set()))
    for key, snap in snaps.items():
        if snap:
            done[key] = {"snapshot": [snap.batch_id]}
    state.write_state(lake, done)
    job.result.seconds = time.monotonic() - started
    summary = job.result.as_dict()
    if summary["unexplained"]:
        worst = summary["unexplained"][0]
        raise LakeError(f"{len(summary['unexplained'])} reconciliation rows do not add up, e.g. {worst}",
                        "inspect group/reconciliation and the raw partition; this is a transform bug")
    return summary


def main(argv: list[str] | None = None) -> None:
    """spark-submit entry point: `spark-submit transforms/run.py --lake s3:// [--date D ...]`."""
    ap = argparse.ArgumentParser(description="raw zones -> group zone (Spark)")
    ap.add_argument("--lake", default=None, help="lake folder or s3:// (default: LAKE_URI or .lake)")
    ap.add_argument("--date", action="append", dest="dates", help="re-do this date (repeatable)")
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
