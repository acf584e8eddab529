"""`lake demo`, the README's first command, end to end on a small sample in its own process: every stage
runs, the marts exist, the headline is printed, and the stage table accounts for the run's time."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]
STAGES = ("generate", "ingest", "transform", "build", "checks and headline")


def test_the_demo_runs_every_stage_and_says_where_the_time_went(tmp_path):
    lake = tmp_path / "lake"
    t = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "lake.cli", "demo", "--lake", str(lake), "--members", "600",
                           "--days", "7"], cwd=REPO, capture_output=True, text=True, timeout=900,
                          env={**os.environ, "COLUMNS": "200"})
    wall = time.perf_counter() - t
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    out = done.stdout
    assert "Programme effect" in out and "Top brand pairs by lift" in out  # the headline
    assert "Quality gates: landing_to_raw" in out

    seconds = {}
    for stage in STAGES:
        m = re.search(rf"│ {re.escape(stage)}\s+│\s+([\d.]+) │", out)
        assert m, f"stage {stage!r} missing from the table:\n{out[-2000:]}"
        seconds[stage] = float(m.group(1))
    total = float(re.search(r"│ total\s+│\s+([\d.]+) │", out).group(1))
    assert abs(sum(seconds.values()) - total) < 0.5  # the shown stages add up to the shown total
    assert total <= wall  # each stage timed once: a stage counted twice would exceed the process's wall time
    assert min(seconds["ingest"], seconds["transform"], seconds["build"]) > 0.5  # real work was timed

    members = duckdb.sql(f"SELECT count(*) FROM '{lake / 'marts' / 'dim_members.parquet'}'").fetchone()[0]
    assert 0 < members <= 600
