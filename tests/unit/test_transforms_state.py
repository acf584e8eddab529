"""Unit tests of the incremental bookkeeping and the session settings (no JVM needed)."""

from __future__ import annotations

import datetime as dt

from lake.config import LakeConfig, S3Settings
from lake.storage import Lake
from transforms import sample_raw, state
from transforms.spark import session_conf


def test_only_new_or_changed_partitions_are_pending(lake: Lake) -> None:
    t = dt.datetime(2026, 8, 2, tzinfo=dt.UTC)
    current = {"2026-08-01": {"a": t}, "2026-08-02": {"b": t, "c": t}, "2026-08-03": {"d": t}}
    done = {"2026-08-01": ["a"], "2026-08-02": ["b"]}
    assert state.pending_dates(current, done) == {"2026-08-02", "2026-08-03"}


def test_listing_reads_partitions_batches_and_latest_snapshot(lake: Lake) -> None:
    sample_raw.build(lake)
    files = state.list_raw(lake, "cvs", "pos")
    assert {(f.key, f.value, f.batch_id) for f in files} == {("date", "2026-08-01", "cvs-pos-a"),
                                                             ("date", "2026-08-01", "cvs-pos-b")}
    lake.write_bytes("raw-cvs", "pos/_staging/x/part-z.parquet", b"")  # never read: not published
    assert len(state.list_raw(lake, "cvs", "pos")) == 2
    snap = state.latest_snapshot(state.list_raw(lake, "sm", "id_links"))
    assert snap is not None and snap.batch_id == "sm-id_links-1"


def test_state_round_trip(lake: Lake) -> None:
    assert state.read_state(lake) == {}
    st: dict = {}
    state.record(st, "cvs/pos", {"2026-08-01": {"b": dt.datetime.now(dt.UTC), "a": dt.datetime.now(dt.UTC)}},
                 {"2026-08-01", "2026-09-09"})
    state.write_state(lake, st)
    assert state.read_state(lake) == {"cvs/pos": {"2026-08-01": ["a", "b"]}}


def test_session_conf_local_and_s3() -> None:
    local = session_conf(Lake(LakeConfig(uri="/tmp/x")))
    assert local["spark.master"] == "local[2]" and local["spark.sql.session.timeZone"] == "UTC"
    assert local["spark.ui.enabled"] == "false" and local["spark.sql.sources.partitionOverwriteMode"] == "dynamic"
    assert not any(k.startswith("spark.hadoop.fs.s3a") for k in local)
    assert local["spark.driver.bindAddress"] == "127.0.0.1"  # loopback only, in local mode too
    s3 = Lake(LakeConfig(uri="s3://", s3=S3Settings(endpoint="http://127.0.0.1:8333", access_key="ak",
                                                   secret_key="sk")))
    conf = session_conf(s3, "spark://127.0.0.1:7077")
    assert conf["spark.hadoop.fs.s3a.endpoint"] == "http://127.0.0.1:8333"
    assert conf["spark.hadoop.fs.s3a.path.style.access"] == "true"
    assert conf["spark.hadoop.fs.s3a.connection.ssl.enabled"] == "false"
    assert conf["spark.hadoop.fs.s3a.access.key"] == "ak" and conf["spark.driver.host"] == "127.0.0.1"
