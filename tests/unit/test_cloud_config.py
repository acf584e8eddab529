"""The cloud deployment's pure parts: schedules as EventBridge expressions, settings, the job artifact."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from infra.cloud import artifacts
from infra.cloud.config import CloudConfig
from lake.errors import LakeError
from orchestration.schedules import eventbridge_cron, load_schedules


@pytest.mark.parametrize(("cron", "expected"), [
    ("0 3 * * *", "cron(0 3 * * ? *)"),
    ("30 2 * * 1-5", "cron(30 2 ? * 2-6 *)"),  # Monday to Friday: EventBridge counts Sunday as 1
    ("0 6 * * 0", "cron(0 6 ? * 1 *)"),
    ("0 6 * * 7", "cron(0 6 ? * 1 *)"),  # Sunday written as 7
    ("15 1 1 * *", "cron(15 1 1 * ? *)"),
    ("0 */2 * * MON,FRI", "cron(0 */2 ? * MON,FRI *)"),
])
def test_cron_to_eventbridge(cron: str, expected: str) -> None:
    assert eventbridge_cron(cron) == expected


def test_cron_with_both_days_is_refused() -> None:
    with pytest.raises(LakeError, match="only one of them"):
        eventbridge_cron("0 3 1 * 1")


def test_schedules_file_is_read_and_checked(tmp_path: Path) -> None:
    names = [s.name for s in load_schedules()]
    assert "nightly-transforms" in names and all(s.timezone == "Asia/Tokyo" for s in load_schedules())
    bad = tmp_path / "s.yml"
    bad.write_text("timezone: Asia/Tokyo\nschedules:\n  - {name: x, cron: '0 3 * *', runs: transforms}\n")
    with pytest.raises(LakeError, match="five fields"):
        load_schedules(bad)


def test_settings_from_context_then_environment_then_defaults() -> None:
    env = {"LAKE_CLOUD_PREFIX": "env-lake-", "LAKE_CLOUD_REGION": "us-west-2", "CDK_DEFAULT_ACCOUNT": "222222222222"}
    c = CloudConfig.resolve({"prefix": "ctx-lake-"}, env)
    assert (c.prefix, c.region, c.account, c.key) == ("ctx-lake-", "us-west-2", "222222222222", "s3")
    assert c.lake_uri == "s3://ctx-lake-" and c.bucket("raw-cvs") == "ctx-lake-raw-cvs"
    d = CloudConfig.resolve({}, {})
    assert (d.account, d.region, d.prefix) == (None, "ap-northeast-1", "group-lake-")  # agnostic: synthesises offline
    with pytest.raises(LakeError, match="cannot start S3 bucket names"):
        CloudConfig(prefix="Bad_Prefix")
    with pytest.raises(LakeError, match="key source"):
        CloudConfig(key="vault")


def test_emr_artifact_holds_the_jobs_and_nothing_emr_provides(tmp_path: Path) -> None:
    out = artifacts.build_emr(tmp_path / "a")
    names = zipfile.ZipFile(out / "lake_jobs.zip").namelist()
    assert {"transforms/run.py", "transforms/group_schema.yml", "expectations/sharing_rules.yml",
            "lake/storage.py", "yaml/__init__.py"} <= set(names)
    assert not [n for n in names if n.startswith(("pyspark/", "py4j/")) or n.endswith((".jar", ".pyc", ".so"))]
    assert (out / "emr_entry.py").read_text().startswith('"""EMR Serverless entry point')
    again = artifacts.build_emr(tmp_path / "b")
    assert (again / "lake_jobs.zip").read_bytes() == (out / "lake_jobs.zip").read_bytes()  # same asset hash


def test_emr_artifact_runs_the_transforms_from_the_unpacked_archive(tmp_path: Path) -> None:
    """As Spark unpacks `spark.archives` on EMR: the job's own code and rules come from the archive."""
    archive = artifacts.build_emr(tmp_path / "a") / "lake_jobs.zip"
    unpacked = tmp_path / "lake_jobs"
    zipfile.ZipFile(archive).extractall(unpacked)
    probe = ("import transforms.run, expectations.rules as r, yaml; "
             "print(transforms.run.__file__); print(r.load_rules().path); print(yaml.__file__)")
    done = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, check=True,
                          env={"PYTHONPATH": str(unpacked), "PATH": "/usr/bin:/bin", "PYTHONNOUSERSITE": "1"})
    lines = done.stdout.splitlines()
    assert all(line.startswith(str(unpacked)) for line in lines), lines


def test_image_dependencies_are_the_locked_versions(tmp_path: Path) -> None:
    lock = dict(line.split("==") for line in Path("requirements.lock").read_text().split() if "==" in line)
    out = artifacts.build_emr(tmp_path / "emr")
    image = dict(r.split("==") for r in (out / "image" / "requirements.txt").read_text().split())
    assert image["pyarrow"] == lock["pyarrow"] == "26.0.1" and image["numpy"] == lock["numpy"]
    assert "FROM ${BASE}" in (out / "image" / "Dockerfile").read_text()


def test_export_context_drops_removed_sources(tmp_path: Path) -> None:
    out = artifacts.build_export(tmp_path / "export")
    stale = out / "lake" / "gone.py"
    stale.write_text("x = 1\n")
    artifacts.build_export(out)
    assert not stale.exists() and (out / "lake" / "storage.py").exists()
