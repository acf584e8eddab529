"""The scheduler's pure parts: which errors are retried, the schedules from schedules.yml, the landing cursor,
gate findings mapped to asset checks, and the production dagster.yaml against Dagster's own schema."""

import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest

from lake.errors import LakeError
from orchestration import retries
from orchestration.schedules import Schedule, load_schedules

AWS_DOWN = ("When reading information for key 'pos/x.csv' in bucket 'landing-cvs': AWS Error NETWORK_CONNECTION "
            "during HeadObject operation: curlCode: 7, Couldn't connect to server")


def test_object_store_errors_are_retried_and_data_errors_are_not() -> None:
    assert retries.is_object_store_error(OSError(AWS_DOWN))
    assert retries.is_object_store_error(ConnectionRefusedError(111, "Connection refused"))
    wrapped = LakeError("ingestion of cvs failed", "retry")
    wrapped.__cause__ = OSError(AWS_DOWN)
    assert retries.is_object_store_error(wrapped)
    assert not retries.is_object_store_error(LakeError("rule pii: group/members, column email", "fix the data"))
    assert not retries.is_object_store_error(FileNotFoundError("landing-cvs/pos/x.csv"))
    assert not retries.is_object_store_error(ValueError("invalid literal for int()"))
    assert not retries.is_object_store_error(OSError("Parquet magic bytes not found in footer"))


def test_backoff_doubles() -> None:
    assert [retries.backoff_seconds(n, 5.0) for n in range(4)] == [5.0, 10.0, 20.0, 40.0]


def test_dagster_schedules_come_from_the_schedules_file() -> None:
    from orchestration.definitions import FLOW_JOB, schedule_definitions

    entries = load_schedules()
    defs = schedule_definitions(entries)
    transforms = [s for s in entries if s.runs == "transforms"]
    assert [(d.name, d.cron_schedule, d.execution_timezone, d.job_name) for d in defs] == [
        (s.name.replace("-", "_"), s.cron, s.timezone, FLOW_JOB) for s in transforms]
    assert ("nightly_transforms", "0 3 * * *", "Asia/Tokyo") in [(d.name, d.cron_schedule, d.execution_timezone)
                                                                 for d in defs]
    with pytest.raises(LakeError, match="cannot start"):
        schedule_definitions([Schedule("x", "0 1 * * *", "UTC", "bake_bread")])


def test_landing_cursor_changes_when_a_file_is_added_or_replaced() -> None:
    from orchestration.definitions import landing_cursor

    one = [("pos/cvs_pos_20260801.csv", 10, "2026-08-02T00:00:00")]
    assert landing_cursor(one) == landing_cursor(list(one))
    assert landing_cursor(one) != landing_cursor([*one, ("pos/cvs_pos_20260802.csv", 9, "t")])
    assert landing_cursor(one) != landing_cursor([("pos/cvs_pos_20260801.csv", 11, "2026-08-02T00:00:00")])


def _finding(table: str, ok: bool, rule: str = "pii") -> SimpleNamespace:
    return SimpleNamespace(table=table, success=ok, rule=rule, message=lambda: f"rule {rule}: {table}")


def test_gate_findings_fail_only_the_assets_they_name() -> None:
    from dagster import AssetCheckSpec, AssetKey

    from orchestration.checks import results

    keys = [AssetKey(["group", "members"]), AssetKey(["group", "purchases"])]
    specs = [AssetCheckSpec("group_gate", asset=k) for k in keys]
    table_of = {k: "/".join(k.path) for k in keys}
    findings = [_finding("group/members", False), _finding("group/purchases", True)]
    report = SimpleNamespace(gate="raw_to_group", run_id="r1", findings=findings,
                             failures=[f for f in findings if not f.success])
    out = {r.asset_key: r for r in results(report, specs, table_of)}
    assert out[keys[0]].passed is False and "group/members" in out[keys[0]].description
    assert out[keys[1]].passed is True
    # a failure on a table no asset stands for fails them all: something published breaks a rule
    stray = [_finding("group/unknown_table", False)]
    report = SimpleNamespace(gate="raw_to_group", run_id="r2", findings=stray, failures=stray)
    assert [r.passed for r in results(report, specs, table_of)] == [False, False]
    # `raw-cvs/pos schema of batch ...` belongs to raw-cvs/pos, not to raw-cvs/pos_extra
    raw = [AssetKey(["raw-cvs", "pos"]), AssetKey(["raw-cvs", "pos_extra"])]
    f = [_finding("raw-cvs/pos schema of batch b1", False, "contract")]
    report = SimpleNamespace(gate="landing_to_raw", run_id="r3", findings=f, failures=f)
    got = [r.passed for r in results(report, [AssetCheckSpec("raw_gate", asset=k) for k in raw],
                                     {k: "/".join(k.path) for k in raw})]
    assert got == [False, True]


def test_production_dagster_yaml_loads_with_postgres_storage(tmp_path: Path, monkeypatch) -> None:
    from dagster._core.instance.config import dagster_instance_config
    from dagster._core.instance.ref import InstanceRef

    from orchestration.server import PRODUCTION_CONFIG

    shutil.copy(PRODUCTION_CONFIG, tmp_path / "dagster.yaml")
    for k, v in {"DAGSTER_PG_HOST": "db.internal", "DAGSTER_PG_PORT": "5432", "DAGSTER_PG_DB": "dagster",
                 "DAGSTER_PG_USER": "dagster", "DAGSTER_PG_PASSWORD": "secret"}.items():
        monkeypatch.setenv(k, v)
    config, _ = dagster_instance_config(str(tmp_path))
    assert config["run_queue"]["max_concurrent_runs"] == 1
    ref = InstanceRef.from_dir(str(tmp_path))
    assert ref.storage_data.module_name == "dagster_postgres"
    assert ref.run_storage_data.module_name == "dagster_postgres"
    storage_class = ref.storage_data.rehydrate  # the class the daemon would build: importable, config valid
    assert callable(storage_class)
    from dagster_postgres import DagsterPostgresStorage

    assert ref.storage_data.class_name == DagsterPostgresStorage.__name__


def test_local_instance_config_is_valid(tmp_path: Path) -> None:
    from dagster._core.instance.config import dagster_instance_config

    from orchestration.server import LOCAL_CONFIG

    (tmp_path / "dagster.yaml").write_text(LOCAL_CONFIG.format(home=tmp_path))
    config, _ = dagster_instance_config(str(tmp_path))
    assert config["storage"]["sqlite"]["base_dir"] == f"{tmp_path}/storage"
    assert config["telemetry"]["enabled"] is False
