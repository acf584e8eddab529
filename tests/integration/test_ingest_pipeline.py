"""The whole ingestion on generated extracts: round trips, planted faults, idempotency, SIGKILL safety."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from generator import DAILY_FEEDS, GeneratorConfig, cvs_pos_file, generate
from ingestion import manifest
from ingestion.engine import ingest
from lake.config import LakeConfig
from lake.storage import Lake

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]


def new_lake(path: Path) -> Lake:
    return Lake(LakeConfig.resolve(str(path)))


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> tuple[Lake, dict]:
    """A small generated sample with every kind of bad input, ingested once."""
    lake = new_lake(tmp_path_factory.mktemp("sample"))
    summary = generate(GeneratorConfig(members=3000, days=6, seed=7, bad_rate=0.02), lake)
    ingest(lake)
    return lake, summary


def read_zone(lake: Lake, zone: str, prefix: str = "") -> pa.Table | None:
    files = [lake.path(zone, f) for f in lake.list_files(zone, prefix) if f.endswith(".parquet")]
    if not files:
        return None
    con = duckdb.connect()
    sql = "SELECT * FROM read_parquet(?, hive_partitioning=true, union_by_name=true)"
    return con.execute(sql, [files]).to_arrow_table()


def test_every_extract_and_master_round_trips(sample):
    lake, summary = sample
    rows = manifest.read_all(lake).to_pylist()
    assert len(rows) == summary["files"]
    landed = {(r["company"], r["feed"]) for r in rows if r["status"] == "landed" and r["rows_landed"] > 0}
    for company, feed in DAILY_FEEDS.items():
        assert (company, feed) in landed, f"{company}/{feed} landed nothing"
    for company, feed in [("hq", "members"), ("hq", "campaigns"), ("hq", "campaign_assignments"),
                          ("sm", "id_links"), ("cvs", "stores"), ("cvs", "categories")]:
        assert (company, feed) in landed
    # every generated row is accounted for: landed + quarantined = read = generated rows of that file
    generated = {(f["company"], f["feed"], f["path"].rsplit("/", 1)[1]): f["rows"] for f in summary["file_list"]}
    for r in rows:
        assert r["rows_read"] == r["rows_landed"] + r["rows_quarantined"]
        if r["status"] == "landed":
            assert r["rows_read"] == generated[(r["company"], r["feed"], r["source"].rsplit("/", 1)[1])]


def test_japanese_text_in_cp932_decodes(sample):
    lake, _ = sample
    pos = read_zone(lake, "raw-cvs", "pos")
    methods = set(pos.column("payment_method").to_pylist())
    assert methods <= {"cash", "emoney", "card", "code"} and len(methods) == 4
    stores = read_zone(lake, "raw-cvs", "stores")
    assert any("都" in p or "県" in p or "府" in p or "道" in p for p in stores.column("prefecture").to_pylist())


def test_each_planted_fault_lands_in_quarantine_with_its_reason(sample):
    lake, _ = sample
    truth = json.loads(lake.read_bytes("ops", "generator/truth.json"))
    planted = pq.read_table(lake.path("ops", "generator/bad_rows.parquet")).to_pylist()
    assert planted, "the sample should plant row faults"
    q = read_zone(lake, "quarantine", "rows").to_pylist()
    by_line = {(r["source"].rsplit("/", 1)[1], r["line"]): r["reason"] for r in q if r["line"] is not None}
    kinds_seen = set()
    for p in planted:
        line = p["line"] + 1 if p["line_basis"] == "parquet" else p["line"]  # parquet: 0-based record index
        assert by_line.get((p["file"], line)) == p["kind"], p
        kinds_seen.add(p["kind"])
    assert {"bad_gid", "negative_amount", "future_date", "unparseable_time", "pii_in_free_text",
            "missing_required"} <= kinds_seen
    by_file = {r["source"].rsplit("/", 1)[1]: r["reason"] for r in q if r["line"] is None}
    file_faults = truth["bad_records"]["file_faults"]
    assert {f["kind"] for f in file_faults} >= {"wrong_encoding", "truncated_file", "missing_columns",
                                                "extra_columns", "duplicate_file"}
    states = {r["source"].rsplit("/", 1)[1]: r for r in manifest.read_all(lake).to_pylist()}
    for f in file_faults:
        if f["kind"] == "extra_columns":
            # the default policy: the declared columns land, the extra one never does; the drift is recorded
            m = states[f["file"]]
            assert (m["state"], m["drift"]) == ("live", [f["extra_column"]]), m
            assert m["rows_landed"] > 0 and f["file"] not in by_file
            raw = read_zone(lake, f"raw-{f['company']}", "")
            assert f["extra_column"] not in raw.column_names
        else:
            assert by_file[f["file"]] == f["kind"], f


def test_ingesting_again_changes_nothing(sample):
    lake, _ = sample
    def published():  # every run adds its own record to ops/runs (the run log): everything else stays
        return {z: [f for f in lake.list_files(z) if not f.startswith("runs/")]
                for z in ("raw-cvs", "raw-app", "quarantine", "ops")}

    before = published()
    again = ingest(lake)
    assert again.rows == [] and again.skipped > 0
    assert published() == before


def _rows(path: str) -> list[dict]:
    """A Parquet file's rows in line order (the writer's threads may order them differently run to run)."""
    rows = pq.read_table(path).to_pylist()
    return sorted(rows, key=lambda r: (r.get("_line") or r.get("line") or 0, str(r.get("reason"))))


def snapshot(lake: Lake) -> dict:
    """Everything ingestion publishes, comparable across runs (manifest times and run ids left out)."""
    out = {}
    for zone in ["raw-cvs", "raw-gms", "raw-diner", "quarantine"]:
        files = [f for f in lake.list_files(zone) if not f.startswith("_staging")]
        out[zone] = {f: _rows(lake.path(zone, f)) if f.endswith(".parquet") else lake.read_bytes(zone, f)
                     for f in files}
    m = manifest.read_all(lake).drop_columns(["started_at", "finished_at"]).to_pylist()
    out["manifest"] = sorted(m, key=lambda r: r["batch_id"])
    out["pending"] = lake.list_files("ops", "manifests/_pending")
    return out


def test_sigkill_mid_write_then_rerun_gives_the_same_lake(tmp_path):
    base = tmp_path / "landing-src"
    src = new_lake(base)
    generate(GeneratorConfig(members=2000, days=3, seed=3, bad_rate=0.01, companies=("cvs", "gms", "diner")), src)
    # one big file so that kills land in the middle of writing it
    src.write_bytes("landing-cvs", "pos/cvs_pos_20260805.csv", cvs_pos_file(1_000_000, dt.date(2026, 8, 5), seed=1))
    ref_dir, killed_dir = tmp_path / "ref", tmp_path / "killed"
    for d in (ref_dir, killed_dir):
        for zone in ("landing-cvs", "landing-gms", "landing-diner"):
            shutil.copytree(base / zone, d / zone)
    ingest(new_lake(ref_dir))

    env = {**os.environ, "LAKE_URI": str(killed_dir)}
    cmd = [sys.executable, "-m", "lake.cli", "ingest"]
    kills = 0
    for delay in (0.3, 0.9, 1.6, 2.4, 3.5):
        proc = subprocess.Popen(cmd, env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.wait()
        # whatever was published before the kill is intact: every published Parquet file reads whole
        killed = new_lake(killed_dir)
        for zone in ("raw-cvs", "raw-gms", "raw-diner", "quarantine"):
            for f in killed.list_files(zone):
                if f.endswith(".parquet") and not f.startswith("_staging"):
                    pq.read_table(killed.path(zone, f))
    assert kills >= 2, "the kills should hit a running ingestion"
    done = subprocess.run(cmd, env=env, cwd=REPO, capture_output=True, text=True, check=False)
    # 3: this run rejected a planted bad file whole that the killed runs had not reached yet
    assert done.returncode in (0, 3) and "Traceback" not in done.stderr, done.stderr
    assert snapshot(new_lake(killed_dir)) == snapshot(new_lake(ref_dir))
