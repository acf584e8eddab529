"""The pseudonymisation key never shows: not in a Spark plan, `explain` output, an event log or a log line.

The transforms run as a user runs them (`python -m transforms.run`) with Spark event logging switched
on through a `spark-defaults.conf`, the key in the environment; then the event log files, the run's
output and every `explain` mode of the id-links plan are searched for the key's bytes, raw, hex and
base64, and for the HMAC pads derived from it (which are as good as the key).
"""

from __future__ import annotations

import base64
import contextlib
import io
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from expectations.rules import load_rules
from lake.config import REPO_ROOT, LakeConfig
from lake.storage import Lake
from tests.unit import conftest_spark
from transforms import masters, plan, sample_raw, state
from transforms.run import Job, listing

spark = conftest_spark.spark

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _forms(secret: bytes) -> list[bytes]:
    return [secret, secret.hex().encode(), secret.hex().upper().encode(), base64.b64encode(secret)]


def _leaks(blob: bytes, key: bytes) -> list[str]:
    ipad, opad = masters.hmac_pads(key)
    found = []
    for name, secret in (("key", key), ("inner pad", ipad), ("outer pad", opad)):
        for form in _forms(secret):
            if form in blob:
                found.append(f"{name} as {form[:12]!r}...")
    return found


def test_key_not_in_plans_event_logs_or_output(tmp_path: Path, spark) -> None:
    key = f"k-{secrets.token_hex(16)}".encode()
    lake = Lake(LakeConfig.resolve(str(tmp_path / "lake")))
    sample_raw.build(lake)
    conf_dir, events = tmp_path / "conf", tmp_path / "events"
    conf_dir.mkdir()
    events.mkdir()
    (conf_dir / "spark-defaults.conf").write_text(
        f"spark.eventLog.enabled true\nspark.eventLog.dir file://{events}\nspark.eventLog.compress false\n")
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "LAKE_PSEUDONYM_KEY": key.decode(),
           "SPARK_CONF_DIR": str(conf_dir)}
    done = subprocess.run([sys.executable, "-m", "transforms.run", "--lake", lake.cfg.uri], env=env,
                          capture_output=True, timeout=1200, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert lake.list_files("group", "id_links")  # the keyed hash was computed and written

    logs = [p for p in events.rglob("*") if p.is_file()]
    assert logs and any(b"SparkListenerSQLExecutionStart" in p.read_bytes() for p in logs)  # plans were logged
    for p in logs:
        assert _leaks(p.read_bytes(), key) == [], p
    assert _leaks(done.stdout + done.stderr, key) == []

    # Every explain mode of the plan that hashes the IDs, built by the run's own code.
    os.environ["LAKE_PSEUDONYM_KEY"] = key.decode()
    try:
        rules = load_rules()
        live, snaps = listing(lake, rules)
        work = plan.plan(live, snaps, state.State(), list(rules.companies))
        links = Job(spark, lake, rules, work).master("id_links")
        for mode in ("simple", "extended", "codegen", "cost", "formatted"):
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                links.explain(mode=mode)
            assert "local_member_key" in out.getvalue() or mode == "codegen"
            assert _leaks(out.getvalue().encode(), key) == [], mode
        assert links.count() == 1
    finally:
        del os.environ["LAKE_PSEUDONYM_KEY"]
