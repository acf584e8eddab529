"""The dbt project's wiring: k comes from the sharing rules, targets follow the lake, every mart is documented
and tested, and the profile installs httpfs from the wheel (offline)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from lake import locks
from lake.build import PROJECT_DIR, dbt_env, dbt_vars, run_build
from lake.config import LakeConfig, S3Settings
from lake.duck import httpfs_extension_file
from lake.errors import LakeError
from lake.storage import Lake


def test_min_cell_k_comes_from_the_sharing_rules(tmp_path: Path) -> None:
    from expectations.rules import load_rules

    lake = Lake(LakeConfig.resolve(str(tmp_path / "lake")))
    assert dbt_vars(lake)["min_cell_k"] == load_rules().aggregate_cell_k
    assert dbt_vars(lake)["marts_uri"] == lake.uri("marts")


def test_a_second_build_of_a_lake_is_refused_while_one_runs(tmp_path: Path) -> None:
    lake = Lake(LakeConfig.resolve(str(tmp_path / "lake")))
    with locks.stage_lock(lake, "build"), pytest.raises(LakeError, match=r"another `lake build` is running"):
        run_build(lake)


def test_targets_follow_the_lake(tmp_path: Path) -> None:
    local = Lake(LakeConfig.resolve(str(tmp_path / "lake")))
    env = dbt_env(local)
    assert env["LAKE_DBT_TARGET"] == "local" and env["LAKE_GROUP_URI"].endswith("/group")
    s3 = Lake(LakeConfig(uri="s3://t-", s3=S3Settings("http://127.0.0.1:8333", "ak", "sk")))
    env = dbt_env(s3)
    assert env["LAKE_DBT_TARGET"] == "s3" and env["LAKE_GROUP_URI"] == "s3://t-group"
    assert env["LAKE_S3_ENDPOINT"] == "127.0.0.1:8333" and env["LAKE_S3_USE_SSL"] == "false"
    assert Path(env["LAKE_HTTPFS_EXTENSION"]).is_file()
    assert httpfs_extension_file().name == "httpfs.duckdb_extension"


def test_every_mart_has_a_primary_key_test() -> None:
    sql = {p.stem for p in (PROJECT_DIR / "models" / "marts").rglob("*.sql")}
    py = {p.stem for p in (PROJECT_DIR / "models" / "marts").rglob("*.py")}
    documented = {}
    for yml in (PROJECT_DIR / "models" / "marts").rglob("*.yml"):
        for m in yaml.safe_load(yml.read_text())["models"]:
            documented[m["name"]] = m
    assert sql | py <= set(documented)
    for name, m in documented.items():
        tests = [t for c in m.get("columns", []) for t in c.get("data_tests", [])]
        assert "unique" in tests and "not_null" in tests, name
