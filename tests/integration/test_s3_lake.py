"""The lake on S3 behaves exactly as on the local folder: generate, ingest, reconcile, query with DuckDB."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pytest

from generator import GeneratorConfig, MemorySink, generate
from infra import access
from ingestion import manifest
from ingestion.engine import ingest
from lake import layout
from lake.config import LakeConfig
from lake.duck import connect
from lake.storage import Lake

pytestmark = pytest.mark.integration
KEY = ["source", "sha256", "status", "rows_read", "rows_landed", "rows_quarantined", "rows_redacted"]


@pytest.fixture(scope="module")
def sample() -> dict[tuple[str, str], bytes]:
    """A small sample with every kind of bad record and bad file (generated once)."""
    sink = MemorySink()
    generate(GeneratorConfig(members=400, days=3, start=dt.date(2026, 8, 1), seed=7, bad_rate=0.02), sink)
    return sink.files


def _load(lake: Lake, files: dict[tuple[str, str], bytes]) -> None:
    lake.ensure_zones(layout.all_zones(_companies()))
    for (zone, path), data in files.items():
        lake.write_bytes(zone, path, data)


def _companies() -> list[str]:
    from expectations.rules import load_rules

    return list(load_rules().companies)


def test_ingest_on_s3_matches_the_local_folder(s3_lake, sample, tmp_path: Path) -> None:
    s3 = s3_lake("demo-")
    local = Lake(LakeConfig.resolve(str(tmp_path / "lake")))
    for lake in (s3, local):
        _load(lake, sample)
        summary = ingest(lake)
        assert summary.rows and all(r.reconciles() for r in summary.rows)

    # landed bytes are the bytes sent (gzip files included: no transparent (de)compression on the way)
    for (zone, path), data in sample.items():
        if zone.startswith("landing-"):
            assert s3.read_bytes(zone, path) == data, path

    s3_manifests = manifest.read_all(s3).select(KEY).to_pylist()
    assert s3_manifests == manifest.read_all(local).select(KEY).to_pylist()
    landing = [f"{z}/{p}" for (z, p) in sample if z.startswith("landing-") and p.count("/") == 1]
    assert sorted(r["source"] for r in s3_manifests) == sorted(landing)  # one manifest row per file
    assert any(r["status"] == "rejected" for r in s3_manifests) and any(r["rows_quarantined"] for r in s3_manifests)

    # the same files on S3 and locally: raw zone and quarantine hold the same objects
    for zone in [layout.raw(c) for c in _companies()] + [layout.QUARANTINE]:
        assert s3.list_files(zone) == local.list_files(zone), zone
        assert not s3.list_files(zone, layout.STAGING)
    assert not s3.list_files(layout.OPS, layout.PENDING)

    # idempotent: a second run lands nothing
    again = ingest(s3)
    assert not again.rows and again.skipped == len(landing)


def test_duckdb_reads_the_s3_lake_per_principal(s3_lake, sample) -> None:
    admin = s3_lake()
    _load(admin, {k: v for k, v in sample.items() if k[0] == "landing-cvs"})
    rows = ingest(admin, ["cvs"]).rows
    landed = sum(r.rows_landed for r in rows if r.feed == "pos")
    raw = admin.uri(layout.raw("cvs"), "pos/*/*.parquet")

    con = connect(admin)
    assert con.sql("select current_setting('TimeZone')").fetchone()[0] == "UTC"
    n, dup = con.sql(
        f"select count(*), count(*) - count(distinct (_batch_id, _line)) "
        f"from read_parquet('{raw}', hive_partitioning = true)"
    ).fetchone()
    assert (n, dup) == (landed, 0)
    con.sql(f"copy (select 1 as x) to '{admin.uri(layout.GROUP, 'probe/x.parquet')}'")

    cvs = s3_lake("", "cvs")  # the company reads its own raw zone...
    assert connect(cvs).sql(f"select count(*) from read_parquet('{raw}')").fetchone()[0] == landed
    analyst = s3_lake("", access.ANALYST)  # ...an analyst never does
    with pytest.raises(duckdb.Error, match=r"403|Access|denied"):
        connect(analyst).sql(f"select count(*) from read_parquet('{raw}')").fetchone()
