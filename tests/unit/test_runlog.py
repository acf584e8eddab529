"""Run metrics land in the ops zone as one row per run, with the status the run ended in."""

from __future__ import annotations

import pytest

from lake import runlog
from lake.config import LakeConfig
from lake.storage import Lake


def test_runs_are_appended_with_their_status(tmp_path):
    lake = Lake(LakeConfig.resolve(str(tmp_path / "lake")))
    with runlog.recorded(lake, "ingest", company="cvs") as run:
        run.files, run.rows_in, run.rows_out, run.rows_rejected = 2, 10, 8, 2
        run.status = "rejected"
    with pytest.raises(RuntimeError), runlog.recorded(lake, "transform"):
        raise RuntimeError("driver lost")
    with runlog.recorded(lake, "ingest", company="gms"):
        pass

    runs = runlog.read_all(lake).to_pylist()
    assert [(r["stage"], r["company"], r["status"]) for r in runs] == [
        ("ingest", "cvs", "rejected"), ("transform", None, "failed"), ("ingest", "gms", "ok")]
    assert runs[0]["rows_in"] == 10 and runs[0]["rows_rejected"] == 2
    assert runs[1]["message"] == "RuntimeError: driver lost"
    assert all(r["seconds"] >= 0 for r in runs)
    assert runlog.read_all(lake, "transform").num_rows == 1
    assert runlog.read_all(lake, "build").num_rows == 0


def test_unknown_status_is_refused(tmp_path):
    lake = Lake(LakeConfig.resolve(str(tmp_path / "lake")))
    with pytest.raises(ValueError, match="not one of"):
        runlog.write(lake, runlog.RunRecord(stage="ingest", status="fine"))
