"""The object store restarting in the middle of an ingestion: a retry or a clear failure, never loss (DESIGN §9)."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time

import pytest

from generator import cvs_pos_file
from infra.seaweed import SeaweedServer
from ingestion import manifest
from ingestion.engine import ingest
from lake import layout
from lake.config import REPO_ROOT
from lake.duck import connect

pytestmark = pytest.mark.integration
PREFIX = "restart-"
DAYS = [dt.date(2026, 8, 1) + dt.timedelta(days=i) for i in range(8)]
INGEST = "from lake.storage import open_lake; from ingestion.engine import ingest; ingest(open_lake())"


def test_restart_mid_ingestion_then_rerun_completes(seaweed: SeaweedServer, s3_lake) -> None:
    lake = s3_lake(PREFIX)
    for day in DAYS:
        lake.write_bytes(layout.landing("cvs"), f"pos/cvs_pos_{day:%Y%m%d}.csv", cvs_pos_file(150_000, day, seed=1))
    env = {**os.environ, **seaweed.env(), "LAKE_URI": f"s3://{PREFIX}"}
    proc = subprocess.Popen(
        [sys.executable, "-c", INGEST],
        env=env,
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        # Wait until the run holds the ingest lock (it reads the files next), then crash-restart the store under
        # the running job: the job must still be running when the store goes away.
        admin = seaweed.client()
        bucket, key = lake.bucket(layout.OPS), layout.lock("ingest")
        deadline = time.monotonic() + 120
        while not admin.list_objects_v2(Bucket=bucket, Prefix=key).get("KeyCount"):
            ended = proc.poll() is not None
            assert not ended and time.monotonic() < deadline, ("ingestion never took its lock",
                                                               proc.stdout.read() if ended else "")
            time.sleep(0.02)
        assert proc.poll() is None, "the ingestion ended before the store restarted"
        seaweed.restart(stop_timeout=0.5)
        output, _ = proc.communicate(timeout=180)
    finally:
        proc.kill()
    # The interrupted run either retried through the restart or failed with an error: both are fine,
    # as long as the re-run completes with nothing lost and nothing twice.
    rerun = ingest(lake)
    rows = manifest.read_all(lake).to_pylist()
    sources = sorted(r["source"] for r in rows)
    assert sources == sorted(f"landing-cvs/pos/cvs_pos_{d:%Y%m%d}.csv" for d in DAYS), (output, rerun)
    assert all(r["status"] == "landed" and r["rows_read"] == r["rows_landed"] + r["rows_quarantined"] for r in rows)
    raw = lake.uri(layout.raw("cvs"), "pos/*/*.parquet")
    n, distinct = (
        connect(lake).sql(f"select count(*), count(distinct (_batch_id, _line)) from read_parquet('{raw}')").fetchone()
    )
    assert n == distinct == sum(r["rows_landed"] for r in rows)
    assert not lake.list_files(layout.raw("cvs"), layout.STAGING)
    assert not lake.list_files(layout.OPS, layout.PENDING)
    assert not ingest(lake).rows  # and a third run has nothing left to do
