"""The transforms under real deliveries (DESIGN §4, §9; issue #8), on a generated and ingested lake.

The raw zone is the truth: a batch whose files are in raw is live. Each scenario changes the raw zone
as operation would (a late file ingested for an old date, a batch removed as `lake retract` does, a
batch replaced by a correction with fewer rows), runs the transforms again, and checks the row counts
in raw, group and reconciliation, that only the dates touched were rebuilt, and finally that the group
zone equals one built from scratch from the same raw zone. A run killed with SIGKILL mid-write is
re-run and must give the same group zone as an uninterrupted run, with nothing duplicated.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from generator import GeneratorConfig, generate
from ingestion.engine import ingest
from lake import layout
from lake.config import REPO_ROOT, LakeConfig
from lake.storage import Lake
from tests.integration.group_compare import assert_same_group
from tests.integration.group_compare import recon as _recon
from tests.unit import conftest_spark
from transforms import audit, run_transforms, state

spark = conftest_spark.spark  # the one session-scoped SparkSession of the test run

pytestmark = [pytest.mark.integration, pytest.mark.slow]
START = dt.date(2026, 8, 1)
LATE = "2026-08-03"  # diner's file for this date arrives after the first transform
KEY = "deliveries-test-key-0123456789"
def _lake(path: Path) -> Lake:
    return Lake(LakeConfig.resolve(str(path)))


def _copy(src: Lake, dst: Path, zones: tuple[str, ...] = ("raw-", "ops", "group", "landing-")) -> Lake:
    for zone in Path(src.cfg.uri).iterdir():
        if zone.name.startswith(zones):
            shutil.copytree(zone, dst / zone.name)
    return _lake(dst)


def _sql(lake: Lake, table: str, sql: str) -> list[tuple]:
    con = duckdb.connect()
    con.execute(f"create view t as select * from read_parquet('{lake.uri('group', table)}/**/*.parquet', "
                "hive_partitioning = true, union_by_name = true)")
    return con.execute(sql).fetchall()


def _raw_rows(lake: Lake, company: str, feed: str, day: str) -> int:
    files = [f for f in state.list_raw(lake, company, feed) if f.value == day]
    return sum(pq.ParquetFile(lake.open_input(layout.raw(company), f.rel)).metadata.num_rows for f in files)


def _partition_files(lake: Lake, table: str) -> dict[str, str]:
    return {f.rsplit("/", 1)[0]: f for f in lake.list_files("group", table)}


def _writing(lake: Lake, table: str) -> bool:
    """Whether a run is writing `table` into its staging folder (files appear there task by task)."""
    try:
        return any(f.endswith(".parquet") and f"/{table}/" in f for f in lake.list_files("group", layout.STAGING))
    except FileNotFoundError:  # a folder went away while it was listed
        return False


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory, spark) -> Iterator[Lake]:
    """A generated lake (2,000 members x 10 days) ingested and transformed, with diner's 3 August file held back."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LAKE_PSEUDONYM_KEY", KEY)
        root = tmp_path_factory.mktemp("deliveries")
        lake = _lake(root / "base")
        generate(GeneratorConfig(members=2000, days=10, start=START, seed=11, bad_rate=0.002), lake)
        late = Path(lake.path("landing-diner", "checks")) / f"diner_checks_{LATE.replace('-', '')}.csv"
        late.rename(root / late.name)
        ingest(lake)
        first = run_transforms(lake)
        assert first["unexplained"] == [] and len(first["dates"]) == 10
        late.parent.joinpath(late.name).write_bytes((root / late.name).read_bytes())  # in landing, not ingested
        yield lake


def test_late_file_removed_batch_and_correction(base: Lake, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("LAKE_PSEUDONYM_KEY", KEY)
    lake = _copy(base, tmp_path / "lake")
    assert ("diner", "checks", LATE) not in _recon(lake)

    # 1. A late file for an old date: ingested now, it rebuilds exactly that date.
    before = _partition_files(lake, "purchases")
    ingest(lake, ["diner"])
    late_rows = _raw_rows(lake, "diner", "checks", LATE)
    assert late_rows > 0
    run = run_transforms(lake)
    assert run["dates"] == [LATE] and run["unexplained"] == []
    after = _partition_files(lake, "purchases")
    changed = {p for p in after if before.get(p) != after[p]}
    assert changed == {f"purchases/purchase_date={LATE}"}  # no other date's file was rewritten
    recon = _recon(lake)
    this_run = {k for k, r in recon.items() if r["run_id"] == recon[("diner", "checks", LATE)]["run_id"]}
    assert {d for _, _, d in this_run} == {LATE} and ("cvs", "pos", LATE) in this_run
    row = recon[("diner", "checks", LATE)]
    assert row["raw_rows"] == late_rows and row["explained"]
    assert row["group_rows"] == _sql(lake, "purchases", f"select count(*) from t where company = 'diner' "
                                                        f"and purchase_date = '{LATE}'")[0][0] > 0

    # 2. A batch removed from raw (as `lake retract` does): its rows leave the group zone.
    gone = next(f for f in state.list_raw(lake, "cvs", "pos") if f.value == "2026-08-05")
    gone_rows = _raw_rows(lake, "cvs", "pos", "2026-08-05")
    lake.delete(layout.raw("cvs"), gone.rel)
    run = run_transforms(lake)
    assert run["dates"] == ["2026-08-05"] and run["removed_batches"] == 1
    row = _recon(lake)[("cvs", "pos", "2026-08-05")]
    assert (row["raw_rows"], row["group_rows"], row["removed_batches"], row["removed_rows"]) == (0, 0, 1, gone_rows)
    assert _sql(lake, "purchases", "select count(*) from t where company = 'cvs' "
                                   "and purchase_date = '2026-08-05'") == [(0,)]
    assert _sql(lake, "purchases", "select count(*) from t where purchase_date = '2026-08-05'")[0][0] > 0  # others

    # 3. A correction: gms's batch of 4 August replaced by one with a receipt fewer.
    old = next(f for f in state.list_raw(lake, "gms", "sales") if f.value == "2026-08-04")
    table = pq.read_table(lake.open_input(layout.raw("gms"), old.rel))
    dropped = table["receipt_no"][0].as_py()
    corrected = table.filter(pc.not_equal(table["receipt_no"], dropped))
    corrected = corrected.set_column(corrected.schema.get_field_index("_batch_id"), "_batch_id",
                                     pa.array(["gms-fix"] * corrected.num_rows))
    buf = io.BytesIO()
    pq.write_table(corrected, buf)
    lake.write_bytes(layout.raw("gms"), layout.raw_file("sales", "date", "2026-08-04", "gms-fix"), buf.getvalue())
    lake.delete(layout.raw("gms"), old.rel)
    run = run_transforms(lake)
    assert run["dates"] == ["2026-08-04"]
    row = _recon(lake)[("gms", "sales", "2026-08-04")]
    assert (row["raw_rows"], row["removed_batches"], row["removed_rows"]) == (corrected.num_rows, 1, table.num_rows)
    assert row["explained"] and row["group_rows"] < table.num_rows
    assert _sql(lake, "purchases", f"select count(*) from t where purchase_id = 'gms:{dropped}'") == [(0,)]

    # The group zone equals one built from scratch from the raw zone as it now is.
    fresh = _copy(lake, tmp_path / "fresh", zones=("raw-",))
    assert run_transforms(fresh)["unexplained"] == []
    assert_same_group(lake, fresh)


def test_sigkill_mid_run_then_rerun(base: Lake, tmp_path: Path, monkeypatch) -> None:
    """A transform killed mid-write (driver and JVM, SIGKILL) publishes and records nothing; the re-run completes."""
    monkeypatch.setenv("LAKE_PSEUDONYM_KEY", KEY)
    lake = _copy(base, tmp_path / "lake", zones=("raw-",))
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "LAKE_PSEUDONYM_KEY": KEY}
    proc = subprocess.Popen([sys.executable, "-m", "transforms.run", "--lake", lake.cfg.uri], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 600
        while not _writing(lake, "purchases"):
            assert proc.poll() is None, "the run ended before it could be killed"
            assert time.monotonic() < deadline
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGKILL)  # the Python driver and its JVM
    finally:
        proc.wait(timeout=60)
    assert not lake.exists(layout.OPS, layout.TRANSFORM_STATE)  # nothing recorded as processed
    assert [f for f in lake.list_files("group") if not f.startswith(layout.STAGING)] == []  # nothing published

    run = run_transforms(lake)
    assert run["unexplained"] == [] and len(run["dates"]) == 10
    assert not lake.list_files("group", layout.STAGING)
    assert all(r["explained"] for r in audit.reconciliation(lake))
    assert _sql(lake, "purchases", "select count(*) - count(distinct purchase_id) from t") == [(0,)]
    assert _sql(lake, "purchase_lines", "select count(*) - count(distinct (purchase_id, line_no)) from t") == [(0,)]
    assert_same_group(lake, base)
