"""The analyst connection reads the marts and nothing else, and writes nothing: every escape is refused by DuckDB.

Each escape is first run on an unrestricted DuckDB connection against a copy of the lake, to show that the
statement is valid and would have read or changed real data; then on `lake.analyst.connect`, where DuckDB
must refuse it for a boundary reason (external access off, read-only marts, locked configuration), and the
lake's files must be byte for byte what they were.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

from lake import layout
from lake.analyst import analyst_s3, connect, published
from lake.config import LakeConfig, S3Settings
from lake.duck import extension_file, load_httpfs
from lake.errors import LakeError
from lake.storage import Lake
from tests.analyst_lake import MEMBERS, make_lake, snapshot

BOUNDARY = (r"disabled by configuration|disabled through configuration|read-only mode|configuration has been locked"
            r"|file handle conflict")

# (statement, whether it works on an unrestricted connection); {lake}, {outside}, {published}, {httpfs} are filled in.
ESCAPES = [
    # the overwrite of a mart, and every other COPY ... TO
    ("copy (select 42 as x) to '{lake}/marts/dim_members.parquet' (use_tmp_file false)", True),
    ("copy (select 42 as x) to '{lake}/marts/dim_members.parquet'", True),
    ("copy (select 42 as x) to '{lake}/marts/new_mart.parquet'", True),
    ("copy (select 42 as x) to '{published}' (format csv)", True),
    ("copy (select 42 as x) to '{published}' (format csv, use_tmp_file false)", True),  # an attached file's path
    ("copy (select 42 as x) to '{published}.wal' (format csv, use_tmp_file false)", True),
    ("copy (select 42 as x) to '{lake}/raw-cvs/pos/x.csv'", True),
    ("copy dim_members to '{outside}/members.parquet'", True),
    ("copy (select 1 as x) to '{lake}/marts/../raw-cvs/up.parquet'", True),
    ("copy dim_members from '{lake}/marts/dim_members.parquet'", True),
    # reading anything but the published marts: raw, group, quarantine, landing, ops, the marts' own files
    ("select * from read_parquet('{lake}/raw-cvs/pos/*/*.parquet')", True),
    ("select * from '{lake}/raw-cvs/pos/date=2026-08-01/part-b1.parquet'", True),
    ("select * from read_parquet('{lake}/marts/../raw-cvs/pos/*/*.parquet')", True),
    ("select * from read_parquet('{lake}/group/members/*.parquet')", True),
    ("select * from read_parquet('{lake}/quarantine/rows/**/*.parquet')", True),
    ("select * from read_csv('{lake}/landing-cvs/pos/cvs_pos_20260801.csv')", True),
    ("select * from read_csv_auto('{lake}/quarantine/files/cvs/pos/b2/cvs_pos_20260802.csv')", True),
    ("select * from read_text('{lake}/quarantine/files/cvs/pos/b2/cvs_pos_20260802.csv')", True),
    ("select * from read_blob('{lake}/raw-cvs/pos/date=2026-08-01/part-b1.parquet')", True),
    ("select * from read_json_auto('{lake}/ops/runs/run.json')", True),
    ("select * from read_parquet('{lake}/ops/manifests/ingest/**/*.parquet')", True),
    ("select * from read_parquet('{lake}/marts/dim_members.parquet')", True),
    ("select count(*) from read_blob('{published}')", True),
    ("select * from parquet_metadata('{lake}/group/members/part-0.parquet')", True),
    ("select * from glob('{lake}/*')", True),
    ("select * from glob('{lake}/raw-cvs/**')", True),
    ("select * from read_parquet('s3://raw-cvs/pos/*/*.parquet')", False),
    ("select * from read_text('s3://quarantine/files/x.csv')", False),
    ("select * from glob('s3://group/*')", False),
    ("select * from read_parquet('https://example.invalid/x.parquet')", False),
    # other databases: a new file, dbt's build file, the published file read-write
    ("attach '{outside}/new.duckdb' as n", True),
    ("attach '{lake}/marts/marts.duckdb' as build", True),
    ("attach '{lake}/marts/marts.duckdb' as build (read_only)", True),
    ("attach '{published}' as rw", False),  # the unrestricted copy already has it attached
    ("attach '{published}' as rw (read_only false)", False),
    ("import database '{outside}'", False),
    ("export database '{outside}/export'", True),
    # extensions
    ("install '{httpfs}'", True),
    ("force install '{httpfs}'", True),
    ("load '{httpfs}'", True),
    ("install httpfs", False),  # from the internet: unreachable here anyway
    # settings that would reopen the door or write files
    # (DuckDB never turns external access back on in a running database, locked or not)
    ("set enable_external_access = true", False),
    ("set global enable_external_access = true", False),
    ("reset enable_external_access", False),
    ("set lock_configuration = false", True),
    ("reset lock_configuration", True),
    ("set allowed_paths = ['{lake}/raw-cvs']", True),
    ("set allowed_directories = ['{lake}']", True),
    ("set temp_directory = '{lake}/marts'", True),
    ("set profiling_output = '{lake}/marts/profile.txt'", True),
    ("pragma profiling_output = '{lake}/marts/profile.txt'", True),
    ("set log_query_path = '{lake}/marts/queries.log'", True),
    ("set secret_directory = '{lake}/marts'", True),
    ("set autoinstall_known_extensions = true", True),
    ("set allow_unsigned_extensions = true", False),  # (never changes in a running database)
    ("pragma memory_limit = '1GB'", True),
    # secrets
    ("create secret s (type s3, key_id 'k', secret 's')", True),
    ("create persistent secret p (type s3, key_id 'k', secret 's')", True),
    # the marts themselves: replace, drop, change, add
    ("create or replace view dim_members as select 42 as x", False),  # a table: a view cannot replace it
    ("create or replace table dim_members as select 42 as x", True),
    ("create view marts.main.dim_members2 as select 42 as x", True),
    ("create table stolen as select * from dim_members", True),
    ("create table marts.main.stolen as select * from dim_members", True),
    ("drop table dim_members", True),
    ("drop view dim_members", False),  # a table, so an unrestricted DROP VIEW fails on the type
    ("alter table dim_members rename to old_members", True),
    ("insert into dim_members select * from dim_members", True),
    ("update dim_members set spend_365d_yen = 0", True),
    ("delete from dim_members", True),
    ("truncate dim_members", True),
    ("comment on table dim_members is 'changed'", True),
    ("create macro marts.main.m() as 1", True),
]


@pytest.fixture(scope="module")
def published_lake(tmp_path_factory: pytest.TempPathFactory) -> Lake:
    return make_lake(tmp_path_factory.mktemp("analyst") / "lake")


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A second lake, copied for each unrestricted run (they change it)."""
    return Path(make_lake(tmp_path_factory.mktemp("pristine") / "lake").cfg.uri)


def _fill(sql: str, lake: Lake, outside: Path) -> str:
    db = lake.path(layout.MARTS, published(lake)[-1])
    return sql.format(lake=lake.cfg.uri, outside=outside, published=db, httpfs=extension_file("httpfs"))


def _unrestricted(lake: Lake, outside: Path, sql: str) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute(f"set secret_directory = '{outside}/secrets'")  # never the home folder
    if "secret" in sql:
        load_httpfs(con)  # S3 secrets need it
    con.execute(f"attach '{lake.path(layout.MARTS, published(lake)[-1])}' as marts")
    con.execute("use marts")
    return con


@pytest.mark.parametrize(("sql", "works_unrestricted"), ESCAPES, ids=[e[0][:60] for e in ESCAPES])
def test_escape_is_refused_and_nothing_changes(published_lake: Lake, pristine: Path, tmp_path: Path, sql: str,
                                               works_unrestricted: bool) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    if works_unrestricted:  # the statement is real: without the boundary it reads or changes data
        shutil.copytree(pristine, tmp_path / "control")
        control = Lake(LakeConfig.resolve(str(tmp_path / "control")))
        _unrestricted(control, outside, sql).execute(_fill(sql, control, outside)).fetchall()
        shutil.rmtree(outside)
        outside.mkdir()
    root = Path(published_lake.cfg.uri)
    before = snapshot(root)
    con = connect(published_lake)
    with pytest.raises(duckdb.Error, match=BOUNDARY):
        con.execute(_fill(sql, published_lake, outside)).fetchall()
    assert con.execute("select count(*), sum(spend_365d_yen) from dim_members").fetchone() == (
        MEMBERS, 100 * MEMBERS * (MEMBERS - 1) // 2)
    con.close()
    assert snapshot(root) == before
    assert list(outside.iterdir()) == []


def test_the_connection_sees_the_marts_and_only_them(published_lake: Lake) -> None:
    con = connect(published_lake)
    tables = con.execute("select database_name, table_name from duckdb_tables() order by all").fetchall()
    assert tables == [("marts", "dim_members"), ("marts", "mart_wide")]  # not dbt's intermediate tables
    assert con.execute("select count(*) from marts.dim_members").fetchone() == (MEMBERS,)
    assert con.execute("select current_setting('enable_external_access'), current_setting('lock_configuration')"
                       ).fetchone() == (False, True)


def test_a_temporary_view_stays_in_the_session(published_lake: Lake) -> None:
    """A session may shadow a mart with a temporary view of its own; no other session, and no file, sees it."""
    root = Path(published_lake.cfg.uri)
    before = snapshot(root)
    con = connect(published_lake)
    con.execute("create temp view dim_members as select 42 as x")
    assert con.execute("select * from dim_members").fetchall() == [(42,)]
    assert con.execute("select count(*) from marts.dim_members").fetchone() == (MEMBERS,)
    assert connect(published_lake).execute("select count(*) from dim_members").fetchone() == (MEMBERS,)
    assert snapshot(root) == before


def test_a_new_publish_leaves_open_sessions_on_their_snapshot(published_lake: Lake, tmp_path: Path) -> None:
    lake = make_lake(tmp_path / "lake")
    con = connect(lake)
    con.execute("select count(*) from dim_members").fetchone()
    Path(lake.path(layout.MARTS, "dim_members.parquet")).unlink()
    duckdb.execute(f"copy (select '1' as gid) to '{lake.path(layout.MARTS, 'dim_members.parquet')}'")
    from lake.analyst import KEEP_PUBLISHED, publish

    for _ in range(KEEP_PUBLISHED + 1):
        publish(lake)
    assert len(published(lake)) == KEEP_PUBLISHED
    assert con.execute("select count(*) from dim_members").fetchone() == (MEMBERS,)  # its own, older snapshot
    assert connect(lake).execute("select count(*) from dim_members").fetchone() == (1,)


def test_no_published_marts_is_a_clear_error(lake: Lake) -> None:
    with pytest.raises(LakeError, match="no published marts") as e:
        connect(lake)
    assert "lake build" in (e.value.fix or "")


def test_the_analyst_identity_never_falls_back_to_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from infra import access

    monkeypatch.delenv("LAKE_ANALYST_PROFILE", raising=False)
    admin = access.dev_credentials(access.ADMIN)
    local = S3Settings(endpoint="http://127.0.0.1:1", access_key=admin.access_key, secret_key=admin.secret_key,
                       session_token="t")
    mine = analyst_s3(local)  # the local server: the analyst's public local keys, not the administrator's
    assert (mine.access_key, mine.secret_key, mine.session_token) == (
        access.dev_credentials(access.ANALYST).access_key, access.dev_credentials(access.ANALYST).secret_key, None)
    real = S3Settings(access_key="AKIAREALADMIN", secret_key="s", session_token="t")
    with pytest.raises(LakeError, match="no analyst identity"):
        analyst_s3(real)
    monkeypatch.setenv("LAKE_ANALYST_PROFILE", "lake-analyst")
    chained = analyst_s3(real)
    assert (chained.access_key, chained.secret_key, chained.session_token, chained.profile) == (
        None, None, None, "lake-analyst")
