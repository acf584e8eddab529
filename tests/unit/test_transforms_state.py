"""Unit tests of the bookkeeping (state, plan), the pseudonymisation key and the session settings (no JVM)."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from lake import layout
from lake.config import LakeConfig, S3Settings
from lake.errors import LakeError
from lake.storage import Lake
from transforms import keys, sample_raw, state
from transforms.plan import plan
from transforms.spark import CREDENTIAL_CHAIN, session_conf

T = dt.datetime(2026, 8, 2, tzinfo=dt.UTC)
COMPANIES = ["cvs", "gms", "dept", "diner", "sm", "baby", "ec", "app", "money", "hq"]


def test_changed_dates_new_replaced_and_removed() -> None:
    live = {"08-01": {"a"}, "08-02": {"b", "c"}, "08-03": {"d"}, "08-05": {"f2"}}
    built = {"08-01": {"a": 10}, "08-02": {"b": 5}, "08-04": {"e": 7}, "08-05": {"f1": 3}}
    # 08-02 gained a batch, 08-03 is new, 08-04 lost its only batch (retracted), 08-05 was corrected.
    assert state.changed_dates(live, built) == {"08-02", "08-03", "08-04", "08-05"}
    assert state.removed(live, built, {"08-02", "08-04", "08-05"}) == {"08-04": {"e": 7}, "08-05": {"f1": 3}}


def _snap(company: str, feed: str, batch: str) -> state.RawFile:
    return state.RawFile(company, feed, "snapshot", batch, batch, T, f"{feed}/snapshot={batch}/part-{batch}.parquet")


def test_plan_rebuilds_exactly_the_changed_units() -> None:
    live = {"cvs/pos": {"2026-08-01": {"c1"}, "2026-08-02": {"c2"}}, "diner/checks": {"2026-08-01": {"d1b"}},
            "app/events": {"2026-08-01": {"e1"}}, "money/txns": {"2026-07-31": {"m0"}, "2026-08-02": {"m2"}}}
    snaps = {"cvs/categories": _snap("cvs", "categories", "k1"), "hq/members": _snap("hq", "members", "h2")}
    done = state.State(
        feeds={"cvs/pos": {"2026-08-01": {"c1": 9}}, "diner/checks": {"2026-08-01": {"d1a": 4}},
               "app/events": {"2026-08-01": {"e1": 2}}, "money/txns": {"2026-07-31": {"m0": 1}}},
        snapshots={"cvs/categories": "k1", "hq/members": "h1"})
    work = plan(live, snaps, done, COMPANIES)
    assert work.sales_dates == {"2026-08-01", "2026-08-02"}  # a corrected diner file, a new cvs date
    assert work.event_dates == set()
    assert work.money_dates == {"2026-08-02"}  # August changed; July did not
    assert work.masters == {"members"}
    assert work.gone == {"diner/checks": {"2026-08-01": {"d1a": 4}}}


def test_a_new_category_snapshot_rebuilds_every_sales_date() -> None:
    live = {"cvs/pos": {"2026-08-01": {"c1"}}, "gms/sales": {"2026-08-02": {"g2"}}}
    done = state.State(feeds={"cvs/pos": {"2026-08-01": {"c1": 1}}, "gms/sales": {"2026-08-02": {"g2": 1}}},
                       snapshots={"gms/categories": "k1"})
    work = plan(live, {"gms/categories": _snap("gms", "categories", "k2")}, done, COMPANIES)
    assert work.sales_dates == {"2026-08-01", "2026-08-02"} and work.masters == {"categories"}


def test_forced_dates_and_errors() -> None:
    live = {"cvs/pos": {"2026-08-01": {"c1"}}, "money/txns": {"2026-08-01": {"m1"}, "2026-08-09": {"m9"}}}
    done = state.State(feeds={"cvs/pos": {"2026-08-01": {"c1": 1}}})
    work = plan(live, {}, done, COMPANIES, ["2026-08-01"])
    assert work.sales_dates == {"2026-08-01"} and work.money_dates == {"2026-08-01", "2026-08-09"}
    with pytest.raises(LakeError, match="no raw data for 2030-01-01"):
        plan(live, {}, done, COMPANIES, ["2030-01-01"])
    with pytest.raises(LakeError, match="nothing has been ingested"):
        plan({"cvs/pos": {}}, {"cvs/stores": None}, state.State(), COMPANIES)


def test_listing_reads_partitions_batches_and_latest_snapshot(lake: Lake) -> None:
    sample_raw.build(lake)
    files = state.list_raw(lake, "cvs", "pos")
    assert state.by_date(files) == {"2026-08-01": {"cvs-pos-a", "cvs-pos-b"}}
    lake.write_bytes("raw-cvs", "pos/_staging/x/part-z.parquet", b"")  # never read: not published
    assert len(state.list_raw(lake, "cvs", "pos")) == 2
    snap = state.latest_snapshot(state.list_raw(lake, "sm", "id_links"))
    assert snap is not None and snap.batch_id == "sm-id_links-1"


def test_state_round_trip_and_version_1(lake: Lake) -> None:
    assert state.read_state(lake) == state.State()
    st = state.State(feeds={"cvs/pos": {"2026-08-01": {"a": 3, "b": 4}}}, snapshots={"hq/members": "h1"})
    state.write_state(lake, st)
    assert state.read_state(lake) == st
    v1 = {"cvs/pos": {"2026-08-01": ["a", "b"]}, "hq/members": {"snapshot": ["h1"]}}
    lake.write_bytes(layout.OPS, layout.TRANSFORM_STATE, json.dumps(v1).encode())
    assert state.read_state(lake) == state.State(feeds={"cvs/pos": {"2026-08-01": {"a": None, "b": None}}},
                                                 snapshots={"hq/members": "h1"})


def test_pseudonym_key_sources(lake: Lake, tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAKE_STATE", str(tmp_path / "state"))
    monkeypatch.delenv(keys.ENV_KEY, raising=False)
    monkeypatch.delenv(keys.ENV_FILE, raising=False)
    s3 = Lake(LakeConfig(uri="s3://", s3=S3Settings(endpoint="http://127.0.0.1:1", access_key="a", secret_key="b")))
    with pytest.raises(LakeError, match="no pseudonymisation key"):
        keys.pseudonym_key(s3)  # never invented for a lake outside the embedded default
    made = keys.pseudonym_key(lake)  # the embedded default makes one, kept private in the state folder
    assert len(made) == 64 and keys.key_file().stat().st_mode & 0o077 == 0
    assert keys.pseudonym_key(lake) == made == keys.pseudonym_key(s3)  # and then it is the secrets file
    other = tmp_path / "k"
    other.write_text("from-a-secrets-file-0123456789\n")
    monkeypatch.setenv(keys.ENV_FILE, str(other))
    assert keys.pseudonym_key(s3) == b"from-a-secrets-file-0123456789"
    monkeypatch.setenv(keys.ENV_KEY, "short")
    with pytest.raises(LakeError, match="at least 16"):
        keys.pseudonym_key(lake)


def test_session_conf_local_and_s3(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    local = session_conf(Lake(LakeConfig(uri="/tmp/x")))
    assert local["spark.master"] == "local[2]" and local["spark.sql.session.timeZone"] == "UTC"
    assert local["spark.ui.enabled"] == "false"
    assert local["spark.hadoop.fs.file.impl"] == "org.apache.hadoop.fs.RawLocalFileSystem"  # no .crc files
    assert not any(k.startswith("spark.hadoop.fs.s3a") for k in local)
    assert local["spark.driver.bindAddress"] == "127.0.0.1"  # loopback only, in local mode too
    s3 = Lake(LakeConfig(uri="s3://", s3=S3Settings(endpoint="http://127.0.0.1:8333", access_key="ak",
                                                   secret_key="sk")))
    conf = session_conf(s3, "spark://127.0.0.1:7077")
    assert conf["spark.hadoop.fs.s3a.endpoint"] == "http://127.0.0.1:8333"
    assert conf["spark.hadoop.fs.s3a.path.style.access"] == "true"
    assert conf["spark.hadoop.fs.s3a.connection.ssl.enabled"] == "false"
    assert conf["spark.hadoop.fs.s3a.access.key"] == "ak" and conf["spark.driver.host"] == "127.0.0.1"
    assert "spark.hadoop.fs.s3a.session.token" not in conf
    monkeypatch.setenv("AWS_SESSION_TOKEN", "tok")
    assert session_conf(s3)["spark.hadoop.fs.s3a.session.token"] == "tok"
    # Without keys in the environment nothing is handed over: each JVM uses the standard chain.
    chain = Lake(LakeConfig(uri="s3://", s3=S3Settings(endpoint="http://127.0.0.1:8333")))
    conf = session_conf(chain)
    assert not any(k.endswith((".access.key", ".secret.key")) for k in conf)
    assert conf["spark.hadoop.fs.s3a.aws.credentials.provider"] == CREDENTIAL_CHAIN
    assert CREDENTIAL_CHAIN.endswith("software.amazon.awssdk.auth.credentials.DefaultCredentialsProvider")


def test_local_mode_heap_is_a_third_of_the_machine_within_2g_and_8g(monkeypatch: pytest.MonkeyPatch) -> None:
    """At 50M purchase lines the 4g of before ran out of heap; a small machine still starts with 2g."""
    from transforms.spark import local_driver_memory

    gib = 2**30
    assert [local_driver_memory(n * gib) for n in (4, 12, 24, 64)] == ["2g", "4g", "8g", "8g"]
    monkeypatch.delenv("LAKE_SPARK_DRIVER_MEMORY", raising=False)
    lake = Lake(LakeConfig(uri="/tmp/x"))
    assert session_conf(lake)["spark.driver.memory"] == local_driver_memory()
    assert session_conf(lake, "spark://127.0.0.1:7077")["spark.driver.memory"] == "4g"  # a cluster's driver
    monkeypatch.setenv("LAKE_SPARK_DRIVER_MEMORY", "3g")
    assert session_conf(lake)["spark.driver.memory"] == "3g"
