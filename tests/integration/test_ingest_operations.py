"""A production day on generated lakes (2,000 members, 10 days): bad bytes, corrections, retractions,
stray files, repeated lines and a concurrent run. Each test starts from the same generated landing zones
and asserts row counts in raw, quarantine and the manifest history, not only exit statuses."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from generator import GeneratorConfig, generate
from ingestion import manifest
from ingestion.engine import ingest, retract
from ingestion.status import lake_status
from lake.config import LakeConfig
from lake.storage import Lake

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> tuple[Path, dict]:
    """Landing zones of a small generated lake with planted faults (generated once for the module)."""
    root = tmp_path_factory.mktemp("generated")
    summary = generate(GeneratorConfig(members=2000, days=10, seed=11, bad_rate=0.01), Lake(LakeConfig.resolve(
        str(root))))
    return root, summary


def fresh(template: tuple[Path, dict], dest: Path) -> Lake:
    root, _ = template
    for zone in root.glob("landing-*"):
        shutil.copytree(zone, dest / zone.name)
    return Lake(LakeConfig.resolve(str(dest)))


def raw_count(lake: Lake, company: str, feed: str) -> int:
    files = [lake.path(f"raw-{company}", f) for f in lake.list_files(f"raw-{company}", feed) if f.endswith(".parquet")
             and not f.startswith("_")]
    return sum(pq.ParquetFile(f).metadata.num_rows for f in files)


def quarantine_rows(lake: Lake) -> list[dict]:
    files = [lake.path("quarantine", f) for f in lake.list_files("quarantine", "rows")]
    return duckdb.connect().execute("SELECT * FROM read_parquet(?)", [files]).to_arrow_table().to_pylist()


def generated_rows(template, company: str, name: str) -> int:
    return next(f["rows"] for f in template[1]["file_list"] if f["company"] == company and f["path"].endswith(name))


def test_a_bad_byte_quarantines_one_row_while_every_company_lands(template, tmp_path):
    lake = fresh(template, tmp_path / "lake")
    money = Path(lake.path("landing-money", "txns/money_txns_20260804.csv"))
    data = money.read_bytes()
    at = data.index(b"MN2026", 5000)  # one transaction id, somewhere in the file
    line = data[:at].count(b"\n") + 1
    money.write_bytes(data[:at] + b"MN\xff\xfe2026" + data[at + len(b"MN2026"):])
    summary = ingest(lake)
    rows = {r.source: r for r in summary.rows}
    m = rows["landing-money/txns/money_txns_20260804.csv"]
    assert m.status == "landed" and m.rows_read == generated_rows(template, "money", "money_txns_20260804.csv")
    bad = [q for q in quarantine_rows(lake) if q["source"].endswith("money_txns_20260804.csv")
           and q["reason"] == "bad_encoding"]
    assert [(q["line"], "ff fe" in q["detail"]) for q in bad] == [(line, True)]
    # every company landed, and what is in raw is exactly what the history says landed
    live = manifest.live_batches(lake)
    for company in ("cvs", "gms", "dept", "diner", "sm", "baby", "ec", "app", "money", "hq"):
        feeds = {b.feed for b in live.values() if b.company == company and b.rows_landed}
        assert feeds, company
        for feed in feeds:
            assert raw_count(lake, company, feed) == sum(b.rows_landed for b in live.values()
                                                         if (b.company, b.feed) == (company, feed)), (company, feed)
    for r in summary.rows:
        assert r.rows_read == r.rows_landed + r.rows_quarantined
        if r.status == "landed":
            assert r.rows_read == generated_rows(template, r.company, r.source.rsplit("/", 1)[1]), r.source


def test_corrections_and_retractions_change_raw_and_are_counted(template, tmp_path):
    lake = fresh(template, tmp_path / "lake")
    ingest(lake, ["diner", "cvs"])
    before = raw_count(lake, "diner", "checks")
    name = "checks/diner_checks_20260803.csv"
    path = Path(lake.path("landing-diner", name))
    lines = path.read_bytes().split(b"\n")
    path.write_bytes(b"\n".join(lines[:5] + lines[6:]))  # the restaurant withdraws one check
    old = next(b for b in manifest.live_batches(lake).values() if b.source.endswith(name))
    (new,) = ingest(lake, ["diner", "cvs"]).rows
    assert new.replaces == old.batch_id and new.rows_read == old.rows_read - 1
    assert raw_count(lake, "diner", "checks") == before - old.rows_landed + new.rows_landed
    cvs_day = next(b for b in manifest.live_batches(lake, "cvs", "pos").values() if "20260802" in b.source)
    cvs_before = raw_count(lake, "cvs", "pos")
    retract(lake, cvs_day.batch_id, "store 1234 sent a test day", by="ops")
    assert raw_count(lake, "cvs", "pos") == cvs_before - cvs_day.rows_landed
    states = {b.batch_id: b for b in manifest.batch_states(lake)}
    assert (states[old.batch_id].state, states[old.batch_id].rows_removed) == ("replaced", old.rows_landed)
    assert (states[cvs_day.batch_id].state, states[cvs_day.batch_id].removed_why) == (
        "retracted", "store 1234 sent a test day")
    st = lake_status(lake)
    removed = {b.batch_id: b.rows_removed for b in st.removed}
    assert removed == {old.batch_id: old.rows_landed, cvs_day.batch_id: cvs_day.rows_landed}
    assert manifest.verify(lake) == []
    assert ingest(lake, ["diner", "cvs"]).rows == []  # nothing comes back on the next run


def test_stray_files_are_waiting_then_quarantined_with_a_reason(template, tmp_path):
    lake = fresh(template, tmp_path / "lake")
    src = Path(lake.path("landing-gms", "sales/gms_sales_20260805.csv"))
    for rel in ("sales/2026-08-11/gms_sales_20260811.csv", "gms_sales_20260812.csv", "sales/_gms_sales_20260813.csv"):
        dst = Path(lake.path("landing-gms", rel))
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(src, dst)
    ingest(lake, ["diner"])
    waiting = {w.source for w in lake_status(lake).waiting}
    assert {"landing-gms/sales/2026-08-11/gms_sales_20260811.csv", "landing-gms/gms_sales_20260812.csv",
            "landing-gms/sales/_gms_sales_20260813.csv"} <= waiting
    assert not any(s.startswith("landing-diner/") for s in waiting)
    rows = {r.source: r for r in ingest(lake, ["gms"]).rows}
    assert rows["landing-gms/sales/2026-08-11/gms_sales_20260811.csv"].reason == "unexpected_location"
    assert rows["landing-gms/gms_sales_20260812.csv"].reason == "unexpected_location"
    assert rows["landing-gms/sales/_gms_sales_20260813.csv"].reason == "hidden_file"
    assert not any(w.source.startswith("landing-gms/") for w in lake_status(lake).waiting)
    kept = lake.list_files("quarantine", "files/gms")
    assert len([k for k in kept if "20260811" in k or "20260812" in k or "20260813" in k]) == 3


def test_repeated_lines_in_cvs_and_sm_files_are_duplicates(template, tmp_path):
    lake = fresh(template, tmp_path / "lake")
    cvs = Path(lake.path("landing-cvs", "pos/cvs_pos_20260806.csv"))
    eol = b"\r\n" if b"\r\n" in cvs.read_bytes()[:2000] else b"\n"
    lines = cvs.read_bytes().rstrip(b"\r\n").split(eol)
    receipt = lines[10].split(b",", 1)[0]
    repeated = [ln for ln in lines if ln.split(b",", 1)[0] == receipt]
    cvs.write_bytes(eol.join(lines + repeated) + eol)  # the receipt sent again at the end of the day
    sm = Path(lake.path("landing-sm", "sales/sm_sales_20260806.parquet"))
    t = pq.read_table(sm)
    again = t.filter(pc.equal(t.column("receipt_id"), t.column("receipt_id")[3]))
    buf = io.BytesIO()
    pq.write_table(pa.concat_tables([t, again]), buf)  # one receipt's rows repeated after the others
    sm.write_bytes(buf.getvalue())
    rows = {r.source: r for r in ingest(lake, ["cvs", "sm"]).rows}
    c = rows["landing-cvs/pos/cvs_pos_20260806.csv"]
    assert c.rows_duplicate == len(repeated) and c.rows_read == len(lines) - 1 + len(repeated)
    s = rows["landing-sm/sales/sm_sales_20260806.parquet"]
    assert s.rows_duplicate == again.num_rows
    dups = [q for q in quarantine_rows(lake) if q["reason"] == "duplicate_record"]
    assert len(dups) == len(repeated) + again.num_rows
    assert all("first seen on line" in q["detail"] for q in dups)
    live = manifest.live_batches(lake, "cvs", "pos").values()
    assert raw_count(lake, "cvs", "pos") == sum(b.rows_landed for b in live)


def test_a_second_ingest_at_the_same_time_is_refused(template, tmp_path):
    lake = fresh(template, tmp_path / "lake")
    env = {**os.environ, "LAKE_URI": str(tmp_path / "lake")}
    cmd = [sys.executable, "-m", "lake.cli", "ingest"]
    first = subprocess.Popen(cmd, env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lock = Path(lake.path("ops", "locks/ingest.lock"))
    deadline = time.monotonic() + 120
    while not (lock.exists() and lock.read_text()):  # the first run holds the lock
        assert first.poll() is None and time.monotonic() < deadline, first.communicate()
        time.sleep(0.05)
    second = subprocess.run(cmd, env=env, cwd=REPO, capture_output=True, text=True, timeout=120)
    _, err = first.communicate(timeout=600)
    assert second.returncode == 1 and "another `lake ingest` is running on this lake" in second.stderr
    assert first.returncode == 3, err  # the planted bad files are rejected: the documented status
    rows = manifest.read_all(lake).to_pylist()
    assert len(rows) == len(template[1]["file_list"])  # every file recorded once, by the first run
    assert all(r["rows_read"] == r["rows_landed"] + r["rows_quarantined"] for r in rows)
