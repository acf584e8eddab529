"""`lake schedule up` as a user runs it: the webserver and daemon start on 127.0.0.1 (a free port), the UI's
GraphQL API serves the asset graph from landing to marts, and `down` stops both processes."""

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration



def _lake(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([str(Path(sys.executable).parent / "lake"), *args], env=env, capture_output=True,
                          text=True, timeout=300)


def test_schedule_up_serves_the_asset_graph_and_down_stops_it(tmp_path: Path) -> None:
    from orchestration.server import Scheduler

    env = dict(os.environ, LAKE_STATE=str(tmp_path / "state"), LAKE_URI=str(tmp_path / "lake"))
    assert _lake("schedule", "up", env=env).returncode == 1  # no lake there: refused, as every verb does
    assert _lake("ingest", "--create", env=env).returncode == 0  # an empty lake, as for real extracts
    up = _lake("schedule", "up", env=env)
    sched = Scheduler(tmp_path / "state" / "dagster")
    try:
        assert up.returncode == 0, up.stderr
        st = sched.status()
        assert st["webserver"] and st["daemon"] and st["url"].startswith("http://127.0.0.1:")
        query = json.dumps({"query": "{ assetNodes { assetKey { path } } }"}).encode()
        req = urllib.request.Request(f"{st['url']}/graphql", data=query, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=60) as r:
            nodes = json.loads(r.read())["data"]["assetNodes"]
        keys = {"/".join(n["assetKey"]["path"]) for n in nodes}
        assert {"raw-cvs/pos", "raw-hq/members", "group/purchases", "group/member_day", "dim_members",
                "mart_rfm", "exports/cvs/churn_risk_multibrand"} <= keys  # landing to exports
        status = _lake("schedule", "status", env=env)
        assert status.returncode == 0 and st["url"] in status.stdout
    finally:
        down = _lake("schedule", "down", env=env)
    assert down.returncode == 0 and "stopped" in down.stdout
    assert not sched.running()
    assert _lake("schedule", "status", env=env).returncode == 3
