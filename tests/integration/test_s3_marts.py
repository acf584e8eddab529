"""dbt's `s3` target and the analyst connection on the real S3 server: the marts build from a group zone in a bucket."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from lake.analyst import connect
from lake.build import run_build
from lake.config import LakeConfig
from lake.storage import Lake
from tests.integration.group_fixture import FixtureConfig, write_group_fixture

pytestmark = pytest.mark.integration


def test_marts_build_from_an_s3_group_zone(s3_lake: Callable[..., Lake], tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("LAKE_STATE", str(tmp_path / "state"))  # where the S3 build keeps its DuckDB file
    local = Lake(LakeConfig.resolve(str(tmp_path / "local")))
    write_group_fixture(local, FixtureConfig(members=1500, days=90, seed=5))
    lake = s3_lake("martsit-")
    for zone in ("group", "ops"):
        for f in local.list_files(zone):
            lake.write_bytes(zone, f, local.read_bytes(zone, f))

    result = run_build(lake)
    assert result.success, result.failures
    assert lake.exists("marts", "dim_members.parquet")  # exported to the marts bucket

    con = connect(lake)  # httpfs installed offline, temporary secret for the endpoint
    members = con.execute("select count(*) from dim_members").fetchone()[0]
    assert members == con.execute("select count(distinct gid) from dim_members").fetchone()[0] > 0
    with pytest.raises(Exception, match=r"(?i)permission|not allowed|disabled"):
        con.execute(f"select * from read_parquet('{lake.uri('group', 'members')}/**/*.parquet')").fetchall()

