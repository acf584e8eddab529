"""The gates at the hand-overs: what a gate refuses stays unpublished, the rest of the run is published."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from ingestion.engine import ingest
from lake.storage import Lake
from tests.conftest import drop
from tests.unit import gates_fixture as fx
from tests.unit.test_ingest import CVS_HEADER, GID


def cvs_file(day: dt.date, rows: int) -> bytes:
    lines = [CVS_HEADER] + [f"T{i},S1,{GID},{day:%Y/%m/%d} 10:00:00,C1,1,500,現金" for i in range(rows)]
    return ("\r\n".join(lines) + "\r\n").encode("cp932")


def test_a_sudden_volume_drop_is_refused_at_ingestion(lake: Lake, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    rules = fx.rules_copy(tmp_path, ("min_baseline_rows: 200", "min_baseline_rows: 0"))
    monkeypatch.setenv("LAKE_SHARING_RULES", str(rules.path))
    history = {dt.date(2026, 7, 1) + dt.timedelta(days=i): 20 for i in range(35)}  # five weeks of 20 rows a day
    fx.daily_manifests(lake, "cvs", "pos", "cvs_pos_{}.csv", history)
    drop(lake, "cvs", "pos", "cvs_pos_20260805.csv", cvs_file(dt.date(2026, 8, 5), 3))  # a sudden drop
    drop(lake, "cvs", "pos", "cvs_pos_20260806.csv", cvs_file(dt.date(2026, 8, 6), 19))  # a usual day
    rows = {r.source.rsplit("/", 1)[1]: r for r in ingest(lake).rows}
    refused, usual = rows["cvs_pos_20260805.csv"], rows["cvs_pos_20260806.csv"]
    assert (refused.status, refused.reason, refused.rows_landed) == ("rejected", "gate_failed", 0)
    assert "rule volume.min_ratio/max_ratio" in refused.detail and "date=2026-08-05" in refused.detail
    assert (usual.status, usual.rows_landed) == ("landed", 19)
    raw = [f for f in lake.list_files("raw-cvs") if f.endswith(".parquet")]
    assert raw and all("date=2026-08-06" in f for f in raw)  # nothing of the refused file was published
    assert any(f.endswith("cvs_pos_20260805.csv") for f in lake.list_files("quarantine", "files"))
