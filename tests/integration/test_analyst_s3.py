"""The analyst connection on the real S3 server: the marts, read-only, as the `analyst` identity whatever the
environment holds; every escape refused and no object changed."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import duckdb
import pytest

from infra import access
from infra.seaweed import SeaweedServer
from lake import duck, layout
from lake.analyst import connect, publish, published
from lake.config import LakeConfig, S3Settings
from lake.errors import LakeError
from lake.storage import Lake
from tests.analyst_lake import MEMBERS, make_lake

pytestmark = pytest.mark.integration
BOUNDARY = (r"disabled by configuration|disabled through configuration|read-only mode|configuration has been locked"
            r"|file handle conflict")
MARTS = ("dim_members.parquet", "mart_wide.parquet")


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory) -> Lake:
    return make_lake(tmp_path_factory.mktemp("analyst-s3") / "lake")


@pytest.fixture
def s3_marts(s3_lake: Callable[..., Lake], local: Lake) -> Iterator[Lake]:
    """The small lake's marts in the (unprefixed) marts bucket, published by the dbt identity; other zones seeded
    with data the analyst must not reach. Returns the lake as the administrator; removes what it wrote."""
    admin, dbt = s3_lake(), s3_lake("", access.DBT)
    for name in MARTS:
        dbt.write_bytes(layout.MARTS, name, local.read_bytes(layout.MARTS, name))
    db = publish(dbt)
    for zone, rel in [(layout.raw("cvs"), "pos/date=2026-08-01/part-b1.parquet"),
                      (layout.GROUP, "members/part-0.parquet"),
                      (layout.QUARANTINE, "rows/company=cvs/feed=pos/part-b2.parquet")]:
        admin.write_bytes(zone, f"analyst-probe/{rel}", local.read_bytes(zone, rel))
    yield admin
    for name in MARTS:
        admin.delete(layout.MARTS, name)
    for rel in published(admin):
        admin.delete(layout.MARTS, rel)
    assert db  # published under marts/analyst/


def _objects(lake: Lake, zones: list[str]) -> dict[tuple[str, str], int]:
    return {(z, f.rel): f.size for z in zones for f in lake.stat_files(z)}


def test_the_analyst_reads_the_marts_and_nothing_else_on_s3(s3_marts: Lake) -> None:
    zones = [layout.MARTS, layout.raw("cvs"), layout.GROUP, layout.QUARANTINE]
    before = _objects(s3_marts, zones)
    con = connect(s3_marts)  # the environment's credentials are the administrator's
    assert con.execute("select count(*) from dim_members").fetchone() == (MEMBERS,)
    db = published(s3_marts)[-1]
    escapes = [
        "copy (select 42 as x) to 's3://marts/dim_members.parquet' (use_tmp_file false)",
        "copy (select 42 as x) to 's3://marts/new.parquet'",
        f"copy (select 42 as x) to 's3://marts/{db}' (format csv)",
        "copy dim_members to 's3://exports/stolen.csv'",
        "select * from read_parquet('s3://raw-cvs/analyst-probe/**/*.parquet')",
        "select * from read_parquet('s3://group/analyst-probe/members/*.parquet')",
        "select * from read_parquet('s3://quarantine/analyst-probe/**/*.parquet')",
        "select * from read_parquet('s3://marts/dim_members.parquet')",
        "select * from read_text('s3://marts/../raw-cvs/analyst-probe/pos/date=2026-08-01/part-b1.parquet')",
        "select * from glob('s3://marts/*')",
        f"attach 's3://marts/{db}' as rw (read_only false)",
        "attach 's3://marts/other.duckdb' as other",
        "load aws",  # (httpfs is loaded already: LOAD of a loaded extension does nothing)
        "install aws",
        "set s3_access_key_id = 'lake-dev-admin'",
        "drop table dim_members",
        "create table stolen as select * from dim_members",
        "export database 's3://exports/all'",
    ]
    not_refused = []
    for sql in escapes:
        try:
            con.execute(sql).fetchall()
            not_refused.append(f"{sql}: ran")
        except duckdb.Error as e:
            if not re.search(BOUNDARY, str(e)):
                not_refused.append(f"{sql}: {e}")
    assert not_refused == []
    # a session may hold a secret of its own (the local keys are public), but nothing can use it
    admin = access.dev_credentials(access.ADMIN)
    con.execute(f"create or replace secret mine (type s3, key_id '{admin.access_key}', secret '{admin.secret_key}')")
    with pytest.raises(duckdb.Error, match=BOUNDARY):
        con.execute("select * from read_parquet('s3://raw-cvs/analyst-probe/**/*.parquet')").fetchall()
    assert con.execute("select count(*) from dim_members").fetchone() == (MEMBERS,)
    assert _objects(s3_marts, zones) == before


def test_the_connection_never_signs_as_the_administrator(s3_lake: Callable[..., Lake], local: Lake) -> None:
    """A lake whose marts only the administrator may read (a bucket prefix without analyst grants)."""
    admin = s3_lake("anlid-")
    for name in MARTS:
        admin.write_bytes(layout.MARTS, name, local.read_bytes(layout.MARTS, name))
    db = publish(admin)
    as_admin = duck.connect(admin)  # the same request with the administrator's keys succeeds...
    assert as_admin.execute(f"select count(*) from glob('{admin.uri(layout.MARTS, db)}')").fetchone() == (1,)
    with pytest.raises(LakeError, match=r"as the analyst.*(403|Forbidden|Access)"):
        connect(admin)  # ...the analyst connection's is refused by the server


def _profile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, principal: str) -> None:
    c = access.dev_credentials(principal)
    (tmp_path / "credentials").write_text(
        f"[{name}]\naws_access_key_id = {c.access_key}\naws_secret_access_key = {c.secret_key}\n")
    (tmp_path / "config").write_text(f"[profile {name}]\nregion = us-east-1\n")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def test_a_real_store_uses_the_analyst_profile(s3_marts: Lake, seaweed: SeaweedServer, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """On a store whose keys are not the local server's, only LAKE_ANALYST_PROFILE gives the analyst identity."""
    real = Lake(LakeConfig(uri="s3://", s3=S3Settings(endpoint=seaweed.endpoint, access_key="AKIAELSEWHERE",
                                                      secret_key="x", session_token="t")))
    monkeypatch.delenv("LAKE_ANALYST_PROFILE", raising=False)
    with pytest.raises(LakeError, match="no analyst identity"):
        connect(real)
    _profile(tmp_path, monkeypatch, "lake-analyst", access.ANALYST)
    monkeypatch.setenv("LAKE_ANALYST_PROFILE", "lake-analyst")
    assert connect(real).execute("select count(*) from dim_members").fetchone() == (MEMBERS,)
    _profile(tmp_path, monkeypatch, "lake-analyst", "cvs")  # the profile, not a derived key, signs: cvs may not
    with pytest.raises(LakeError, match=r"403|Forbidden|Access"):
        connect(real)
    monkeypatch.setenv("LAKE_ANALYST_PROFILE", "nobody")
    with pytest.raises(LakeError, match="profile 'nobody'"):
        connect(real)
