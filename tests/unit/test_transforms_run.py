"""The transform run end to end on a local-folder lake: sample raw zone in, group zone out.

Checks the DESIGN §5/§6 promises on output as written: tables and types, tax-included yen, JST dates,
dedupe across batches, sm members linked or kept with a null gid, sharing rules (no dept lines,
money as monthly totals only), no PII, a reconciliation that adds up, and incremental, idempotent re-runs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import duckdb
import pytest

from expectations.rules import load_rules
from lake.config import LakeConfig
from lake.storage import Lake
from tests.unit import conftest_spark
from transforms import audit, run_transforms, sample_raw

spark = conftest_spark.spark  # the session-scoped SparkSession fixture, shared by every Spark test module

pytestmark = pytest.mark.slow
DAY = "2026-08-01"


def q(lake: Lake, table: str, sql: str = "select * from t") -> list[tuple]:
    con = duckdb.connect()
    con.execute(f"create view t as select * from read_parquet('{lake.uri('group', table)}/**/*.parquet', "
                "hive_partitioning = true)")
    return con.execute(sql).fetchall()


@pytest.fixture(scope="module")
def transformed(tmp_path_factory: pytest.TempPathFactory, spark) -> Iterator[Lake]:
    """One run for the module (a run costs seconds); the last test re-runs it, which must change nothing."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LAKE_PSEUDONYM_KEY", "unit-test-key-0123456789")
        lake = Lake(LakeConfig.resolve(str(tmp_path_factory.mktemp("transform") / "lake")))
        sample_raw.build(lake, DAY)
        summary = run_transforms(lake)
        assert summary["unexplained"] == [] and summary["unlinked_members"] == 1
        yield lake


def test_purchases_conformed(transformed: Lake) -> None:
    rows = {r[0]: r[1:] for r in q(transformed, "purchases", "select purchase_id, company, gid, amount_yen, "
                                   "item_count, purchase_date, channel, store_id, campaign_id from t")}
    assert set(rows) == {"cvs:T1", "cvs:T2", "gms:G1", "dept:DR1", "diner:K1", "sm:S1", "sm:S2", "baby:B1", "ec:E1"}
    d = dt.date(2026, 8, 1)
    assert rows["cvs:T1"][2:5] == (310, 2, d)  # the re-sent batch's corrected amount, not 100 + 110 + ...
    assert rows["gms:G1"][2:4] == (1080 + 540, 3)  # tax included; the duplicated line counted once
    assert rows["sm:S1"][1] == sample_raw.GIDS[1] and rows["sm:S2"][1] is None  # unlinked kept, null gid
    assert rows["ec:E1"][2:] == (950, 3, d, "online", "CVS01", "CP1")
    assert not any(r[0] == "money" for r in rows.values())  # money shares monthly totals only


def test_lines_only_where_shared(transformed: Lake) -> None:
    companies = {r[0] for r in q(transformed, "purchase_lines", "select distinct company from t")}
    assert companies == {"cvs", "gms", "sm", "baby", "ec"}  # never dept (totals only), diner or money
    cats = dict(q(transformed, "purchase_lines", "select purchase_id || '/' || line_no, category from t"))
    assert cats["cvs:T1/1"] == "ready_meals" and cats["gms:G1/2"] == "daily_goods" and cats["ec:E1/2"] == "beverages"


def test_members_money_events_links(transformed: Lake) -> None:
    members = q(transformed, "members", "select gid, birth_year, postal3 from t order by gid")
    assert members[0] == (sample_raw.GIDS[0], 1980, "123")
    assert q(transformed, "money_monthly", "select gid, payments, payment_yen, charges from t") == [
        (sample_raw.GIDS[0], 1, 310, 1)]
    assert q(transformed, "app_events", "select count(*) from t") == [(2,)]
    assert q(transformed, "id_links", "select count(*), min(length(local_member_key)) from t") == [(1, 64)]
    assert q(transformed, "member_day", "select sum(visits) from t where gid is not null") == [(7,)]


def test_no_pii_in_group_zone(transformed: Lake) -> None:
    assert audit.pii_findings(transformed, load_rules()) == []
    assert q(transformed, "campaigns", "select description from t") == [("contact [email] for details",)]


def test_reconciliation_explains_every_difference(transformed: Lake) -> None:
    recon = {(r["company"], r["feed"]): r for r in audit.reconciliation(transformed)}
    assert all(r["explained"] for r in recon.values())
    assert (recon["cvs", "pos"]["raw_rows"], recon["cvs", "pos"]["duplicates_dropped"]) == (5, 2)
    assert recon["gms", "sales"]["duplicates_dropped"] == 1
    assert recon["sm", "sales"]["unlinked_members"] == 1
    assert (recon["money", "txns"]["not_shared"], recon["money", "txns"]["group_rows"]) == (1, 2)
    assert recon["app", "events"]["duplicates_dropped"] == 1


def test_one_file_per_partition_and_nothing_else(transformed: Lake) -> None:
    files = transformed.list_files("group")
    assert files and all(f.endswith(".parquet") for f in files), files  # no .crc, no _SUCCESS, no staging
    assert not any(f.startswith("_") for f in files)
    folders = [f.rsplit("/", 1)[0] for f in files]
    assert len(folders) == len(set(folders))  # one file per table and partition
    assert "purchases/purchase_date=2026-08-01" in folders and "money_monthly/month=2026-08-01" in folders


def test_dictionary_encoding_only_on_listed_columns(tmp_path, spark) -> None:
    """Files staged by the job, read back: listed columns dictionary-encoded, ids plain even when they repeat.

    The rows repeat every value 100 times, so Parquet's default would dictionary-encode every column
    (the stores control shows it does for a table without a `dictionary` list).
    """
    import pyarrow.parquet as pq

    from transforms.run import Job
    from transforms.schema import spark_schema

    lake = Lake(LakeConfig.resolve(str(tmp_path / "lake")))
    job = Job(spark, lake, load_rules(), work=None, run_id="enc")
    ts = dt.datetime(2026, 8, 1, 3)
    rows = [(f"cvs:T{i % 3}", "cvs", "store", "S1", f"G{i % 3}", ts, dt.date(2026, 8, 1), 100 * (i % 3), 1,
             "cash", None) for i in range(300)]
    job.stage(spark.createDataFrame(rows, spark_schema("purchases")), "purchases", {"2026-08-01"})
    stores = [("cvs", f"S{i % 3}", "a store", "Tokyo", "Chuo", 35.0, 139.0, "small", dt.date(2020, 1, 1))
              for i in range(300)]
    job.stage(spark.createDataFrame(stores, spark_schema("stores")), "stores", None)

    def encodings(table: str) -> dict[str, set[str]]:
        rel = next(f for f in lake.list_files("group", f"_staging/enc/{table}") if f.endswith(".parquet"))
        meta = pq.ParquetFile(lake.uri("group", rel)).metadata
        return {meta.schema.column(i).name: set(meta.row_group(0).column(i).encodings)
                for i in range(meta.num_columns)}

    dictionary = {"PLAIN_DICTIONARY", "RLE_DICTIONARY"}
    purchases = encodings("purchases")
    assert purchases["company"] & dictionary and purchases["payment_method"] & dictionary
    assert not (purchases["purchase_id"] | purchases["gid"] | purchases["amount_yen"]) & dictionary
    assert encodings("stores")["store_id"] & dictionary  # no `dictionary` list: Parquet's default


def test_sales_shuffle_once_by_date(tmp_path, spark) -> None:
    """The physical plans of the sales tables: the raw rows are shuffled once (by date) and sorted once.

    The sort is the dedupe window's, which the purchase totals reuse. Every aggregate is keyed on the date
    first, so it runs where the date already is; an extra exchange (as adaptive execution re-planning a cached
    frame made) would shuffle every row again.
    """
    from transforms import state
    from transforms.plan import plan
    from transforms.run import Job, listing

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LAKE_PSEUDONYM_KEY", "unit-test-key-0123456789")
        lake = Lake(LakeConfig.resolve(str(tmp_path / "lake")))
        sample_raw.build(lake, DAY)
        rules = load_rules()
        work = plan(*listing(lake, rules), state.read_state(lake), list(rules.companies), None)
        job = Job(spark, lake, rules, work)
        frames = {}
        job.stage = lambda df, table, values, by_date=False: frames.__setitem__(table, df)  # plans only
        job.sales()
    assert {"purchases", "member_day", "purchase_lines", "member_day_category"} <= set(frames)
    for table, df in frames.items():
        plan_text = df._jdf.queryExecution().executedPlan().toString()
        exchanges = [line.strip() for line in plan_text.splitlines() if "Exchange hashpartitioning" in line]
        small = ("local_member_id", "_cat_company")  # the sm links and categories deduped before their broadcast
        by_date = ("REPARTITION_BY_COL", "REPARTITION_BY_NUM")  # the session's task count, or the input's
        others = [e for e in exchanges if not any(k in e for k in (*by_date, *small))]
        assert exchanges and not others, (table, others)
    # purchases are summed in the order the dedupe window sorted the rows into: one sort for both
    sorts = [line for line in frames["purchases"]._jdf.queryExecution().executedPlan().toString().splitlines()
             if line.lstrip(" +-:*()0123456789").startswith("Sort [") and not any(k in line for k in small)]
    assert len(sorts) == 1, sorts


def test_tasks_grow_with_the_input_and_never_below_the_session_count() -> None:
    from transforms.run import TASK_INPUT_BYTES, tasks_for

    assert tasks_for(0, 4) == 4
    assert tasks_for(4 * TASK_INPUT_BYTES, 4) == 4
    assert tasks_for(4 * TASK_INPUT_BYTES + 1, 4) == 5
    assert tasks_for(155 * 2**20 * 5 // 3, 4) == 17  # the 50M-line benchmark's raw rows, as Spark estimates them


def test_the_local_session_runs_the_throughput_collector(spark) -> None:
    """The flag reaches the JVM the tasks run in (local mode), and a cluster's driver is left to its defaults."""
    from transforms.spark import driver_jvm_flags

    management = spark.sparkContext._jvm.java.lang.management.ManagementFactory
    collectors = {b.getName() for b in management.getGarbageCollectorMXBeans()}
    assert collectors == {"PS Scavenge", "PS MarkSweep"}, collectors  # G1 would be "G1 Young Generation", ...
    assert driver_jvm_flags(local=False) == []


def test_a_big_input_is_shuffled_into_more_tasks_each_date_in_one(tmp_path, spark,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """The run sizes its shuffle by date from Spark's estimate of the input: a big one gets more tasks (at 50M
    lines the session's 4 ran out of heap), and a date still lands in one task, so one file per partition."""
    from pyspark.sql import functions as F

    from transforms import run, state
    from transforms.plan import plan
    from transforms.run import Job, listing

    monkeypatch.setenv("LAKE_PSEUDONYM_KEY", "unit-test-key-0123456789")
    lake = Lake(LakeConfig.resolve(str(tmp_path / "lake")))
    for i in range(6):
        sample_raw.build(lake, (dt.date.fromisoformat(DAY) + dt.timedelta(days=i)).isoformat())
    rules = load_rules()
    work = plan(*listing(lake, rules), state.read_state(lake), list(rules.companies), None)
    base = int(spark.conf.get("spark.sql.shuffle.partitions"))
    frames = {}

    def staged(df, table, values, by_date=False) -> None:
        frames[table] = df

    job = Job(spark, lake, rules, work)
    job.stage = staged  # plans only
    job.sales()
    small = frames["purchases"].rdd.getNumPartitions()

    monkeypatch.setattr(run, "TASK_INPUT_BYTES", 16 * 1024)  # the same rows (~0.3 MB), read as a big input
    big_job = Job(spark, lake, rules, work)
    big_job.stage = staged
    big_job.sales()
    big = frames["purchases"]
    spread = big.withColumn("_task", F.spark_partition_id()).groupBy("date").agg(
        F.countDistinct("_task").alias("tasks")).collect()

    assert small == base and big.rdd.getNumPartitions() > base
    assert len(spread) == 6 and {r.tasks for r in spread} == {1}
    job.release()
    big_job.release()


def test_parquet_options_refuse_an_unknown_column(monkeypatch: pytest.MonkeyPatch) -> None:
    from lake.errors import LakeError
    from transforms import schema

    tables = {"t": {"columns": {"a": "string"}, "partition_by": ["d"], "dictionary": ["a", "d", "nope"]}}
    monkeypatch.setattr(schema, "group_tables", lambda: tables)
    with pytest.raises(LakeError, match="nope"):
        schema.parquet_options("t")
    tables["t"]["dictionary"] = ["a"]
    assert schema.parquet_options("t") == {"parquet.enable.dictionary": "false", "parquet.enable.dictionary#a": "true"}


def test_run_is_recorded_in_the_ops_zone(transformed: Lake) -> None:
    from lake import runlog

    runs = runlog.read_all(transformed, "transform").to_pylist()
    assert runs[0]["status"] == "ok" and runs[0]["rows_in"] == 21  # every raw dated row the run read
    assert runs[0]["rows_out"] == 3 + 2 + 1 + 1 + 2 + 1 + 1 + 2 + 2  # reconciliation group rows


def test_rerun_is_incremental_and_idempotent(transformed: Lake) -> None:
    before = q(transformed, "purchases", "select * from t order by purchase_id")
    assert run_transforms(transformed)["skipped"]  # nothing new: Spark not even needed
    again = run_transforms(transformed, dates=[DAY])  # re-doing a date replaces it
    assert again["unexplained"] == []
    assert q(transformed, "purchases", "select * from t order by purchase_id") == before
    assert len(audit.reconciliation(transformed)) == 9
