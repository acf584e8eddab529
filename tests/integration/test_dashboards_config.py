"""The production configuration loads in Superset's own environment: Postgres metadata and the secret key from the
environment, the Postgres driver present, DASHBOARD_RBAC on; unsafe settings are refused."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from dashboards.server import CONFIG_FILE, superset_bin

pytestmark = pytest.mark.integration

PROBE = """
import json
from sqlalchemy.engine import make_url
from superset import config
url = make_url(config.SQLALCHEMY_DATABASE_URI)
print(json.dumps({"uri": config.SQLALCHEMY_DATABASE_URI, "driver": url.get_dialect().driver,
                  "key": config.SECRET_KEY, "rbac": config.FEATURE_FLAGS.get("DASHBOARD_RBAC"),
                  "secure": config.SESSION_COOKIE_SECURE, "talisman": config.TALISMAN_ENABLED}))
"""
PG = "postgresql+psycopg2://superset:s3cret@db.internal:5432/superset"
KEY = "x" * 42


def _load(**env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SUPERSET_")}
    clean.update({"SUPERSET_CONFIG_PATH": str(CONFIG_FILE), **env})
    return subprocess.run([str(superset_bin("python")), "-c", PROBE], env=clean, capture_output=True, text=True,
                          timeout=300, check=False)


def test_production_configuration_loads_in_superset() -> None:
    res = _load(SUPERSET_ENV="production", SUPERSET_METADATA_URI=PG, SUPERSET_SECRET_KEY=KEY)
    assert res.returncode == 0, res.stderr[-2000:]
    got = json.loads(res.stdout.strip().splitlines()[-1])
    assert got == {"uri": PG, "driver": "psycopg2", "key": KEY, "rbac": True, "secure": True, "talisman": True}


REFUSALS = """
import json, os, runpy, sys
cases = json.loads(sys.argv[1])
out = []
for env, _ in cases:
    for k in [k for k in os.environ if k.startswith("SUPERSET_")]:
        del os.environ[k]
    os.environ.update(env)
    try:
        runpy.run_path(sys.argv[2])
        out.append("loaded")
    except Exception as e:
        out.append(f"{type(e).__name__}: {e}")
print(json.dumps(out))
"""


def test_unsafe_production_settings_are_refused() -> None:
    cases = [
        ({"SUPERSET_ENV": "production", "SUPERSET_METADATA_URI": PG}, "SUPERSET_SECRET_KEY is not set"),
        ({"SUPERSET_ENV": "production", "SUPERSET_METADATA_URI": "sqlite:////tmp/superset.db",
          "SUPERSET_SECRET_KEY": KEY}, "use Postgres"),
        ({"SUPERSET_ENV": "production", "SUPERSET_METADATA_URI": PG, "SUPERSET_SECRET_KEY": "short"},
         "shorter than 32"),
        ({"SUPERSET_ENV": "local", "SUPERSET_METADATA_URI": "sqlite:////tmp/superset.db", "SUPERSET_SECRET_KEY": "k"},
         "loaded"),  # locally SQLite and any key will do
    ]
    res = subprocess.run([str(superset_bin("python")), "-c", REFUSALS, json.dumps(cases), str(CONFIG_FILE)],
                         capture_output=True, text=True, timeout=300, check=False)
    assert res.returncode == 0, res.stderr[-2000:]
    got = json.loads(res.stdout.strip().splitlines()[-1])
    for (_, expected), outcome in zip(cases, got, strict=True):
        assert expected in outcome, (expected, outcome)
        assert (outcome == "loaded") == (expected == "loaded")
