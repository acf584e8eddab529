"""dbt's S3 targets and the analyst connection on the real S3 server: the marts build from a group zone in a bucket,
with static keys (`s3`) or, with none in the environment, through DuckDB's credential chain from a profile as the
dbt identity (`s3_chain`); the analyst then reads them as the analyst identity."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from infra import access
from infra.seaweed import SeaweedServer
from lake.analyst import connect
from lake.build import dbt_env, run_build
from lake.config import LakeConfig
from lake.storage import Lake
from tests.integration.group_fixture import FixtureConfig, write_group_fixture

pytestmark = pytest.mark.integration


def _profiles(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seaweed: SeaweedServer) -> None:
    """Only profiles in the shared files: `lake-dbt` (the environment's AWS_PROFILE) and `lake-analyst`."""
    creds, config = [], []
    for name, principal in (("lake-dbt", access.DBT), ("lake-analyst", access.ANALYST)):
        c = access.dev_credentials(principal)
        creds.append(f"[{name}]\naws_access_key_id = {c.access_key}\naws_secret_access_key = {c.secret_key}\n")
        config.append(f"[profile {name}]\nregion = us-east-1\n")
    (tmp_path / "credentials").write_text("".join(creds))
    (tmp_path / "config").write_text("".join(config))
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(key, raising=False)
    for key, value in {"AWS_SHARED_CREDENTIALS_FILE": tmp_path / "credentials", "AWS_CONFIG_FILE": tmp_path / "config",
                       "AWS_PROFILE": "lake-dbt", "LAKE_ANALYST_PROFILE": "lake-analyst",
                       "AWS_EC2_METADATA_DISABLED": "true", "AWS_ENDPOINT_URL": seaweed.endpoint}.items():
        monkeypatch.setenv(key, str(value))


@pytest.mark.parametrize("credentials", ["static", "profile"])
def test_marts_build_from_an_s3_group_zone(s3_lake: Callable[..., Lake], seaweed: SeaweedServer, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch, credentials: str) -> None:
    monkeypatch.setenv("LAKE_STATE", str(tmp_path / "state"))  # where the S3 build keeps its DuckDB file
    local = Lake(LakeConfig.resolve(str(tmp_path / "local")))
    write_group_fixture(local, FixtureConfig(members=1500, days=90, seed=5))
    admin = s3_lake()  # unprefixed buckets: the ones the identities are granted (`infra.access`)
    for zone in ("group", "ops"):
        for f in local.list_files(zone):
            admin.write_bytes(zone, f, local.read_bytes(zone, f))
    lake = s3_lake("", access.DBT)  # dbt builds as its own principal: group read-only, marts and ops
    if credentials == "profile":
        _profiles(tmp_path, monkeypatch, seaweed)
        lake = Lake(LakeConfig.resolve("s3://"))
        assert dbt_env(lake)["LAKE_DBT_TARGET"] == "s3_chain" and not lake.cfg.s3.static

    result = run_build(lake)
    assert result.success, result.failures
    assert lake.exists("marts", "dim_members.parquet")  # exported to the marts bucket
    assert result.published.startswith("analyst/") and lake.exists("marts", result.published)

    con = connect(lake)  # httpfs installed offline; signs as the analyst, never as the builder of `lake`
    members = con.execute("select count(*) from dim_members").fetchone()[0]
    assert members == con.execute("select count(distinct gid) from dim_members").fetchone()[0] > 0
    with pytest.raises(Exception, match=r"(?i)permission|not allowed|disabled"):
        con.execute(f"select * from read_parquet('{lake.uri('group', 'members')}/**/*.parquet')").fetchall()
