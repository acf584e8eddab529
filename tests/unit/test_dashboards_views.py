"""The dashboards' views on real DuckDB files: suppressed cells never come through, ops sources exist before their
first file, and the views file is read-only, swapped atomically and limited to the folders it lists."""

from __future__ import annotations

import datetime as dt

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dashboards import annotations, views
from dashboards.views import Dataset
from ingestion import manifest
from lake import layout, runlog
from lake.errors import LakeError


def _mart(lake, name: str, rows: list[dict]) -> None:
    lake.ensure_zones([layout.MARTS])
    pq.write_table(pa.Table.from_pylist(rows), lake.path(layout.MARTS, f"{name}.parquet"))


DATASETS = {
    "pairs": Dataset("pairs", "", mart="mart_pairs", cells="is_suppressed",
                     columns=(("from_brand", "brand_a || ' (from)'"),)),
    "runs": Dataset("runs", "", sql="select stage, timezone('UTC', started_at) as started_at, status from $runs"),
    "files": Dataset("files", "", sql="select company, rows_read, finished_at from $manifests"),
}


@pytest.fixture
def marts_lake(lake):
    _mart(lake, "mart_pairs", [
        {"brand_a": "cvs", "members_both": 40, "is_suppressed": False},
        {"brand_a": "dept", "members_both": None, "is_suppressed": True},  # 3 members: below k
        {"brand_a": "gms", "members_both": 12, "is_suppressed": False},
    ])
    return lake


def test_suppressed_cells_never_come_through(marts_lake) -> None:
    con = views.connect(marts_lake, DATASETS)
    rows = con.execute("select brand_a, from_brand, members_both from pairs order by 1").fetchall()
    assert rows == [("cvs", "cvs (from)", 40), ("gms", "gms (from)", 12)]


def test_ops_sources_exist_before_their_first_file(marts_lake) -> None:
    con = views.connect(marts_lake, DATASETS)
    assert con.execute("select count(*) from runs").fetchone() == (0,)
    assert [c[0] for c in con.execute("describe files").fetchall()] == ["company", "rows_read", "finished_at"]
    with runlog.recorded(marts_lake, "ingest", company="cvs"):
        pass
    with pytest.raises(RuntimeError), runlog.recorded(marts_lake, "check"):
        raise RuntimeError("gate failed")
    manifest.write(marts_lake, manifest.ManifestRow("b1", "cvs", "pos", "landing-cvs/pos/cvs_pos_20260801.csv", "x",
                                                    rows_read=5, rows_landed=5, finished_at=dt.datetime.now(dt.UTC)))
    con = views.connect(marts_lake, DATASETS)  # views are made per connection: the new files are there
    runs = con.execute("select stage, status, started_at from runs order by stage").fetchall()
    assert [(s, st) for s, st, _ in runs] == [("check", "failed"), ("ingest", "ok")]
    assert all(isinstance(t, dt.datetime) and t.tzinfo is None for _, _, t in runs)  # UTC, no zone (Superset's way)
    assert con.execute("select company, rows_read from files").fetchall() == [("cvs", 5)]


def test_the_connection_reads_only_its_marts_and_the_ops_folders(marts_lake) -> None:
    marts_lake.write_bytes("raw-cvs", "pos/x.csv", b"name,phone\nTaro,090-1234-5678\n")
    _mart(marts_lake, "dim_members", [{"gid": "123456789012"}])  # member-grain: never for a dashboard
    con = views.connect(marts_lake, DATASETS)
    # (writing is refused by Superset, which runs nothing but SELECT on this database: allow_dml is off)
    for sql in (f"select * from read_csv('{marts_lake.uri('raw-cvs', 'pos/x.csv')}')",
                f"select * from read_parquet('{marts_lake.uri(layout.GROUP)}/**/*.parquet')",
                f"select * from read_parquet('{marts_lake.uri(layout.MARTS, 'dim_members.parquet')}')",
                "set enable_external_access = true",
                "set allowed_directories = ['/']"):
        with pytest.raises(duckdb.Error):
            con.execute(sql)


def test_a_missing_mart_says_to_build(lake) -> None:
    with pytest.raises(LakeError, match="lake build"):
        views.connect(lake, DATASETS)


def test_views_file_is_swapped_in_while_a_reader_has_it_open(marts_lake, tmp_path) -> None:
    path = tmp_path / "state" / "lake.duckdb"
    access = views.write_views_file(marts_lake, path, DATASETS)
    assert access.files == (marts_lake.uri(layout.MARTS, "mart_pairs.parquet"),)  # that mart, no other
    assert set(access.folders) == {marts_lake.uri(layout.OPS, layout.RUNS) + "/",
                                   marts_lake.uri(layout.OPS, layout.MANIFEST_TABLE) + "/",
                                   marts_lake.uri(layout.OPS, layout.DEPLOYMENTS) + "/"}
    reader = duckdb.connect(str(path), read_only=True)
    assert reader.execute("select count(*) from pairs").fetchone() == (2,)
    listed = reader.execute("select kind, path from _lake_access").fetchall()
    assert sorted(listed) == sorted([("file", f) for f in access.files] + [("folder", f) for f in access.folders])
    # a build publishes new marts and the dashboards' views are rewritten, while the old file is still open
    _mart(marts_lake, "mart_pairs", [{"brand_a": "ec", "members_both": 50, "is_suppressed": False}])
    views.write_views_file(marts_lake, path, DATASETS)
    assert reader.execute("select brand_a from pairs").fetchall() == [("ec",)]  # views read the Parquet: current
    reader.close()
    with pytest.raises(duckdb.Error):
        duckdb.connect(str(path), read_only=True).execute("create table t as select 1")


def test_deployments_log(lake) -> None:
    at = dt.datetime(2026, 12, 1, 9, 30, 15, 123456, tzinfo=dt.timezone(dt.timedelta(hours=9)))
    row = annotations.record_deployment(lake, "v1.4 deployed", "dbt models 1.4", at=at, by="ci")
    files = lake.list_files(layout.OPS, layout.DEPLOYMENTS)
    assert files == [layout.deployment_record("2026-12-01T00:30:15", row["deployment_id"])]
    got = pq.read_table(lake.open_input(layout.OPS, files[0])).to_pylist()[0]
    assert got["title"] == "v1.4 deployed" and got["deployed_by"] == "ci"
    ev = annotations.deployment_event(got)
    # naive UTC to the second, the title made unique by its time (Superset wants unique titles per layer)
    assert ev.start == ev.end == dt.datetime(2026, 12, 1, 0, 30, 15)
    assert ev.title == "v1.4 deployed (2026-12-01 00:30 UTC)"
