"""The transforms on a real Spark standalone cluster (a master and two workers on 127.0.0.1), reading the
raw zone from and writing the group zone to the SeaweedFS lake through S3A, submitted with spark-submit.

The job runs as the `transforms` principal of the access policy (raw zones read-only, group and ops
read-write), never as the administrator, and finds its credentials the standard way: a named profile
in a shared credentials file, with no keys in the environment, on the driver (pyarrow and S3A) and on
the executors (S3A's default AWS chain). Checks on the output as written to S3: every reconciliation
row adds up, no PII (by column name or by value) reached the group zone, one file per partition.
The S3A jars come from the per-machine cache (`python -m transforms.jars`).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pyspark
import pytest

from expectations.rules import load_rules
from infra import access
from infra.seaweed import free_port
from lake import layout
from lake.config import REPO_ROOT
from lake.storage import Lake
from transforms import audit, sample_raw
from transforms.jars import ensure_s3a_jars

pytestmark = [pytest.mark.integration, pytest.mark.slow]
SPARK_HOME = Path(pyspark.__file__).resolve().parent


def _spark_env(tmp: Path) -> dict[str, str]:
    return {**os.environ, "SPARK_HOME": str(SPARK_HOME), "SPARK_LOCAL_IP": "127.0.0.1",
            "SPARK_LOG_DIR": str(tmp / "logs"), "SPARK_WORKER_DIR": str(tmp / "work"),
            "PYSPARK_PYTHON": sys.executable, "PYTHONPATH": str(REPO_ROOT)}


def _wait_port(port: int, proc: subprocess.Popen, log: Path, timeout: float = 90) -> None:
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"Spark process exited: {log.read_text()[-2000:]}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.5)
    raise RuntimeError(f"nothing listens on {port} after {timeout}s: {log.read_text()[-2000:]}")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@pytest.fixture(scope="module")
def spark_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`spark://127.0.0.1:<port>` of a standalone master with two one-core workers, stopped afterwards."""
    tmp = tmp_path_factory.mktemp("spark-cluster")
    env = _spark_env(tmp)
    spark_class = str(SPARK_HOME / "bin" / "spark-class")
    port = free_port()
    procs: list[subprocess.Popen] = []
    try:
        log = tmp / "master.log"
        procs.append(subprocess.Popen(
            [spark_class, "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1", "--port", str(port),
             "--webui-port", str(free_port())], env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT))
        _wait_port(port, procs[0], log)
        for i in range(2):
            wlog = tmp / f"worker{i}.log"
            wport = free_port()
            procs.append(subprocess.Popen(
                [spark_class, "org.apache.spark.deploy.worker.Worker", f"spark://127.0.0.1:{port}",
                 "--host", "127.0.0.1", "--port", str(wport), "--webui-port", str(free_port()), "--cores", "1",
                 "--memory", "1g", "--work-dir", str(tmp / f"work{i}")],
                env=env, stdout=wlog.open("wb"), stderr=subprocess.STDOUT))
            _wait_port(wport, procs[-1], wlog)
        yield f"spark://127.0.0.1:{port}"
    finally:
        for p in reversed(procs):
            _stop(p)


def test_transforms_on_cluster_over_s3(spark_cluster: str, s3_lake: Callable[..., Lake], seaweed,
                                       tmp_path: Path) -> None:
    jars = ",".join(str(j) for j in ensure_s3a_jars())  # once per machine; cached afterwards
    admin = s3_lake("sparkit-")
    sample_raw.build(admin)  # as ingestion would have landed it
    # The job signs as the transforms principal (its grants hold on this lake: conftest.JOB_PREFIXES), so a
    # read or write outside raw (read), group and ops fails the run; the checks below read as the administrator.
    # Its credentials come from a profile in a shared credentials file: the standard AWS chain, no keys in env.
    cfg = s3_lake("sparkit-", access.TRANSFORMS).cfg
    creds = access.dev_credentials(access.TRANSFORMS)
    assert cfg.s3.access_key == creds.access_key
    profile = tmp_path / "aws-credentials"
    profile.write_text(f"[lake-transforms]\naws_access_key_id = {creds.access_key}\n"
                       f"aws_secret_access_key = {creds.secret_key}\n")
    profile.chmod(0o600)
    env = {k: v for k, v in _spark_env(tmp_path).items() if not k.startswith("AWS_")}
    env.update({"AWS_ENDPOINT_URL": cfg.s3.endpoint or "", "AWS_REGION": cfg.s3.region,
                "AWS_SHARED_CREDENTIALS_FILE": str(profile), "AWS_PROFILE": "lake-transforms",
                "AWS_CONFIG_FILE": str(tmp_path / "no-aws-config"), "AWS_EC2_METADATA_DISABLED": "true",
                "LAKE_PSEUDONYM_KEY": "integration-key-0123456789", "LAKE_SPARK_EXECUTOR_MEMORY": "768m"})
    executor_env = [x for k in ("AWS_SHARED_CREDENTIALS_FILE", "AWS_PROFILE", "AWS_CONFIG_FILE",
                                "AWS_EC2_METADATA_DISABLED") for x in ("--conf", f"spark.executorEnv.{k}={env[k]}")]
    cmd = [str(SPARK_HOME / "bin" / "spark-submit"), "--master", spark_cluster, "--conf", "spark.ui.enabled=false",
           *executor_env, "--executor-memory", "768m", "--jars", jars, str(REPO_ROOT / "transforms" / "run.py"),
           "--lake", cfg.uri]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900, check=False)
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    assert "'unexplained': []" in done.stdout
    assert creds.secret_key not in done.stdout + done.stderr

    recon = audit.reconciliation(admin)
    assert len(recon) == 9 and all(r["explained"] for r in recon)
    assert sum(r["group_rows"] for r in recon) == 15
    assert audit.pii_findings(admin, load_rules()) == []
    files = audit.group_files(admin)
    tables = {f.split("/")[0] for f in files}
    assert {"purchases", "purchase_lines", "members", "app_events", "money_monthly", "member_day",
            "id_links", "reconciliation"} <= tables
    folders = [f.rsplit("/", 1)[0] for f in files]
    assert len(folders) == len(set(folders))  # one file per table and partition
    assert not admin.list_files(layout.GROUP, layout.STAGING)
    assert admin.exists(layout.OPS, layout.TRANSFORM_STATE)
