"""Issue #8 end to end: a production day through real ingestion (DuckDB) and real transforms (local Spark).

One generated lake (2,000 members x 10 days) is delivered as a company would: with a bad byte in one
money file, stray files in the wrong places, and the last day's cvs and gms files held back. It is
ingested and transformed once (the module fixture); each test then works on a copy. Every check is on
row counts in raw, the group zone and the reconciliation, derived from the files (landing bytes, raw
Parquet, group Parquet), not only on exit statuses:
- the bad-byte file lands but for its one row while every company reaches the group zone;
- late files plus a corrected re-delivery: a transform killed by a fault inside Spark publishes and
  records nothing, its re-run rebuilds exactly the dates touched, reconciliation adds up (the replaced
  batch counted), and the group zone equals that of a lake built from the corrected deliveries only;
- a retracted batch leaves the group zone on the next transform, and nothing else changes.
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
from pyspark.sql import functions as F

from generator import GeneratorConfig, generate
from ingestion import manifest
from ingestion.engine import ingest, retract
from lake import layout
from lake.config import LakeConfig
from lake.errors import LakeError
from lake.storage import Lake
from tests.integration.group_compare import assert_same_group
from tests.integration.group_compare import recon as _recon
from tests.unit import conftest_spark
from transforms import audit, run_transforms, state

spark = conftest_spark.spark  # the one session-scoped SparkSession of the test run

pytestmark = [pytest.mark.integration, pytest.mark.slow]
KEY = "daily-operations-test-key-0123456789"
LATE_DAY = "20260810"  # cvs's and gms's files of the last day arrive after the first transform
CORRECTED = "checks/diner_checks_20260805.csv"  # re-sent with one check withdrawn
MONEY = "txns/money_txns_20260804.csv"  # one transaction id with two bytes that are not UTF-8
STRAY = {"landing-gms/sales/2026-08-11/gms_sales_20260811.csv": "unexpected_location",
         "landing-gms/gms_sales_20260812.csv": "unexpected_location",
         "landing-gms/sales/.gms_sales_20260813.csv": "hidden_file"}
def _lake(path: Path) -> Lake:
    return Lake(LakeConfig.resolve(str(path)))


def _copy(src: Path, dst: Path, zones: tuple[str, ...] | None = None) -> Lake:
    for zone in src.iterdir():
        if zones is None or zone.name.startswith(zones):
            shutil.copytree(zone, dst / zone.name)
    return _lake(dst)


def _group(lake: Lake, table: str, where: str = "true") -> int:
    con = duckdb.connect()
    return con.execute(f"select count(*) from read_parquet('{lake.uri('group', table)}/**/*.parquet', "
                       f"hive_partitioning = true, union_by_name = true) where {where}").fetchone()[0]


def _raw_rows(lake: Lake, company: str, feed: str, day: str) -> int:
    return sum(pq.ParquetFile(lake.open_input(layout.raw(company), f.rel)).metadata.num_rows
               for f in state.list_raw(lake, company, feed) if f.value == day)


def _adds_up(lake: Lake) -> None:
    """Every reconciliation row: the raw rows read are the group rows plus what was dropped, on purpose."""
    rows = audit.reconciliation(lake)
    assert rows
    for r in rows:
        assert r["raw_rows"] == r["group_rows"] + r["duplicates_dropped"] + r["not_shared"], r
        assert r["explained"], r


def _snapshot(lake: Lake) -> dict[str, bytes]:
    """The group zone and the transform state, byte for byte (what a failed run must leave untouched)."""
    out = {f"group/{f}": Path(lake.path("group", f)).read_bytes() for f in lake.list_files("group")}
    out["state"] = Path(lake.path(layout.OPS, layout.TRANSFORM_STATE)).read_bytes()
    return out


@pytest.fixture(scope="module")
def delivered(tmp_path_factory: pytest.TempPathFactory, spark) -> Iterator[tuple[Path, Path, dict]]:
    """(lake folder, folder of the held-back files, generator summary) after the first ingest and transform."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LAKE_PSEUDONYM_KEY", KEY)
        root = tmp_path_factory.mktemp("daily")
        lake = _lake(root / "lake")
        summary = generate(GeneratorConfig(members=2000, days=10, start=dt.date(2026, 8, 1), seed=11,
                                           bad_rate=0.002), lake)
        held = root / "held"
        held.mkdir()
        for company, feed in (("cvs", "pos"), ("gms", "sales")):
            late = Path(lake.path(f"landing-{company}", f"{feed}/{company}_{feed}_{LATE_DAY}.csv"))
            late.rename(held / late.name)
        money = Path(lake.path("landing-money", MONEY))
        data = money.read_bytes()
        at = data.index(b"MN2026", 5000)
        money.write_bytes(data[:at] + b"MN\xff\xfe2026" + data[at + len(b"MN2026"):])
        for rel in STRAY:
            dst = root / "lake" / rel
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(lake.path("landing-gms", "sales/gms_sales_20260805.csv"), dst)
        ingest(lake)
        first = run_transforms(lake)
        assert first["unexplained"] == [] and len(first["dates"]) == 10
        yield root / "lake", held, summary


def _generated(summary: dict, rel: str) -> int:
    return next(f["rows"] for f in summary["file_list"] if f["path"].endswith(rel.rsplit("/", 1)[1]))


def test_a_bad_byte_costs_one_row_stray_files_are_quarantined_and_every_company_reaches_group(delivered) -> None:
    path, _, summary = delivered
    lake = _lake(path)
    states = manifest.batch_states(lake)
    money = next(b for b in states if b.source == f"landing-money/{MONEY}")
    assert (money.state, money.rows_read, money.rows_quarantined) == ("live", _generated(summary, MONEY), 1)
    rows = duckdb.connect().execute(
        "select line, detail from read_parquet(?) where reason = 'bad_encoding' and source = ?",
        [[lake.path("quarantine", f) for f in lake.list_files("quarantine", "rows/company=money")],
         f"landing-money/{MONEY}"]).fetchall()
    assert len(rows) == 1 and "ff fe" in rows[0][1]
    by_source = {b.source: b for b in states}
    assert {s: by_source[s].reason for s in STRAY} == STRAY  # quarantined whole, with a reason
    assert all(b.rows_landed == 0 for s, b in by_source.items() if s in STRAY)
    recon = _recon(lake)
    for (company, feed, day), r in recon.items():  # raw as the reconciliation saw it is raw as it is
        assert r["raw_rows"] == _raw_rows(lake, company, feed, day), (company, feed, day)
    live = manifest.live_batches(lake)
    for company, feed in {(c, f) for c, f, _ in recon}:  # ... and is what the history says landed
        dated = [b for b in live.values() if (b.company, b.feed) == (company, feed)]
        assert sum(r["raw_rows"] for k, r in recon.items() if k[:2] == (company, feed)) == sum(
            b.rows_landed for b in dated), (company, feed)
    companies = {r["company"] for r in recon.values() if r["group_rows"]}
    assert {"cvs", "gms", "dept", "diner", "sm", "baby", "ec", "app", "money"} <= companies
    _adds_up(lake)


def test_late_and_corrected_files_survive_a_failed_run_and_equal_a_lake_built_from_the_corrections(
        delivered, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("LAKE_PSEUDONYM_KEY", KEY)
    path, held, _ = delivered
    lake = _copy(path, tmp_path / "lake")
    for f in held.iterdir():  # the late files arrive
        company, feed = f.name.split("_")[:2]
        shutil.copy(f, lake.path(f"landing-{company}", f"{feed}/{f.name}"))
    diner = Path(lake.path("landing-diner", CORRECTED))
    lines = diner.read_bytes().split(b"\n")
    withdrawn = lines[5].split(b",", 1)[0].decode()
    diner.write_bytes(b"\n".join(lines[:5] + lines[6:]))  # the restaurant withdraws one check
    old = manifest.live_batches(lake, "diner", "checks")
    old = next(b for b in old.values() if b.source == f"landing-diner/{CORRECTED}")
    assert _group(lake, "purchases", f"purchase_id = 'diner:{withdrawn}'") == 1

    rows = {r.source: r for r in ingest(lake).rows}
    assert set(rows) == {f"landing-diner/{CORRECTED}", *(f"landing-{f.name.split('_')[0]}/"
                                                         f"{f.name.split('_')[1]}/{f.name}" for f in held.iterdir())}
    new = rows[f"landing-diner/{CORRECTED}"]
    assert new.replaces == old.batch_id and new.rows_read == old.rows_read - 1
    touched = sorted({*old.partitions, *new.partitions,
                      *(p for r in rows.values() if r is not new for p in r.partitions)})

    # A fault inside Spark (a task fails while the sales tables are written): nothing published or recorded.
    before = _snapshot(lake)
    import transforms.run as run_module

    real = run_module.to_group_schema

    def failing(df, table):
        out = real(df, table)
        return out.where(F.assert_true(F.lit(False), "injected fault").isNull()) if table == "member_day" else out

    monkeypatch.setattr(run_module, "to_group_schema", failing)
    with pytest.raises(LakeError, match="the Spark job failed"):
        run_transforms(lake)
    monkeypatch.setattr(run_module, "to_group_schema", real)
    assert _snapshot(lake) == before
    assert not lake.list_files("group", layout.STAGING)

    # The re-run redoes the work: exactly the dates touched, and reconciliation adds up.
    run = run_transforms(lake)
    assert run["dates"] == touched and run["unexplained"] == [] and run["removed_batches"] == len(old.partitions)
    recon = _recon(lake)
    diner_days = {k: r for k, r in recon.items() if k[:2] == ("diner", "checks") and k[2] in touched}
    assert sum(r["removed_rows"] for r in diner_days.values()) == old.rows_landed
    assert sum(r["removed_batches"] for r in diner_days.values()) == len(old.partitions)
    for (company, feed, day), r in recon.items():
        assert r["raw_rows"] == _raw_rows(lake, company, feed, day), (company, feed, day)
        if company == "diner":
            assert r["group_rows"] == _group(lake, "purchases", f"company = 'diner' and purchase_date = '{day}'")
    assert _group(lake, "purchases", f"purchase_id = 'diner:{withdrawn}'") == 0  # the correction removed it
    assert _group(lake, "purchases", "company in ('cvs', 'gms') and purchase_date = '2026-08-10'") > 0
    _adds_up(lake)
    assert run_transforms(lake)["skipped"]  # and then it is up to date

    # The same deliveries, as corrected, landed and transformed once into a new lake.
    fresh = _copy(Path(lake.cfg.uri), tmp_path / "fresh", zones=("landing-",))
    ingest(fresh)
    assert run_transforms(fresh)["unexplained"] == []
    assert_same_group(lake, fresh)


def test_a_retracted_batch_is_gone_from_group_after_the_next_transform(delivered, tmp_path: Path,
                                                                       monkeypatch) -> None:
    monkeypatch.setenv("LAKE_PSEUDONYM_KEY", KEY)
    path, _, _ = delivered
    lake = _copy(path, tmp_path / "lake")
    batch = next(b for b in manifest.live_batches(lake, "cvs", "pos").values() if "20260802" in b.source)
    receipts = {r[0] for r in duckdb.connect().execute(
        "select distinct 'cvs:' || transaction_id from read_parquet(?)",
        [[lake.path("raw-cvs", f) for f in batch.raw_files()]]).fetchall()}
    days = ", ".join(f"'{d}'" for d in batch.partitions)

    def ids(where: str) -> set[str]:
        con = duckdb.connect()
        return {r[0] for r in con.execute(
            f"select purchase_id from read_parquet('{lake.uri('group', 'purchases')}/**/*.parquet', "
            f"hive_partitioning = true) where purchase_date in ({days}) and {where}").fetchall()}

    cvs_before, others_before = ids("company = 'cvs'"), ids("company <> 'cvs'")
    assert receipts and receipts <= cvs_before

    retract(lake, batch.batch_id, "store 1234 sent a test day", by="ops")
    run = run_transforms(lake)
    assert run["dates"] == sorted(batch.partitions) and run["removed_batches"] == len(batch.partitions)
    assert ids("company = 'cvs'") == cvs_before - receipts  # exactly the batch's receipts left
    assert ids("company <> 'cvs'") == others_before  # the other companies' purchases of those dates stay
    recon = _recon(lake)
    assert sum(recon[("cvs", "pos", d)]["removed_rows"] for d in batch.partitions) == batch.rows_landed
    for d in batch.partitions:
        r = recon[("cvs", "pos", d)]
        assert r["raw_rows"] == _raw_rows(lake, "cvs", "pos", d) == 0  # one cvs file per day
        assert r["group_rows"] == 0
    _adds_up(lake)
