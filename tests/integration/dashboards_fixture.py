"""The lake and the Superset server the dashboards tests share (one per session: Superset takes a while to start).

The lake: the deterministic group zone of `group_fixture` (12,000 members over 120 days, with planted movers,
churners, campaigns and a programme effect, so every chart has cells of k members or more), then the real
generator and ingestion for a few days inside that window (manifests, quarantine, rejected files, run records:
the ops zone), then the real `dbt build`. The server: `SupersetServer` in a temporary state folder on a free
port, provisioned from the repository's YAML, with one account per role.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path

from dashboards.accounts import invite
from dashboards.provision import Report, provision
from dashboards.server import SupersetServer
from dashboards.spec import load_spec
from infra.seaweed import free_port
from lake.build import run_build
from lake.config import LakeConfig
from lake.storage import Lake
from tests.integration.group_fixture import FixtureConfig, write_group_fixture

FIXTURE = FixtureConfig(members=12000, days=120, seed=11)
# the companies' extracts: a few days inside the fixture's window, with bad records and bad files
GENERATED_START = FIXTURE.start + dt.timedelta(days=60)
GENERATED_DAYS = 4
ROLES_WITH_ACCOUNTS = ("business", "engineering", "contractor", "cvs-data-steward")
SCREENSHOTS = Path(os.environ.get("LAKE_TEST_ARTIFACTS", Path(__file__).resolve().parents[2] / "test-artifacts"))


@dataclass
class DashboardsEnv:
    lake: Lake
    server: SupersetServer
    state: Path
    report: Report
    accounts: dict[str, tuple[str, str]] = field(default_factory=dict)  # role -> (user, password)
    timings: dict[str, float] = field(default_factory=dict)

    def client(self, role: str | None = None):
        from dashboards.api import SupersetClient

        if role is None:
            return self.server.admin()
        user, password = self.accounts[role]
        return SupersetClient(self.server.url, user, password)


def build_lake(root: Path) -> Lake:
    """Group zone from the fixture, ops zone from a real generate + ingest, marts from a real dbt build."""
    from generator import GeneratorConfig, generate
    from ingestion.engine import ingest

    lake = Lake(LakeConfig.resolve(str(root / "lake")))
    write_group_fixture(lake, FIXTURE)
    generate(GeneratorConfig(members=400, days=GENERATED_DAYS, start=GENERATED_START, seed=5, bad_rate=0.02), lake)
    ingest(lake)
    record_gate_and_export_runs(lake)
    result = run_build(lake)
    assert result.success, result.failures
    return lake


def record_gate_and_export_runs(lake: Lake) -> None:
    """Run records of the gate (`check`) and export stages, as those stages write them through the run log (the
    interface the Operations dashboard reads). Their verbs are being built beside this one (issues #9, #10): when
    they are on main, this runs them instead."""
    from lake import runlog

    with runlog.recorded(lake, "check", company="cvs") as run:
        run.rows_in, run.rows_out = 12_000, 12_000
    with runlog.recorded(lake, "check", company="gms") as run:
        run.rows_in, run.rows_rejected, run.status = 8_000, 3, "rejected"
        run.message = "pii_value_pattern: 3 rows of group.purchases"
    with runlog.recorded(lake, "export", company="cvs") as run:
        run.files, run.rows_in, run.rows_out = 1, 1_200, 1_080


def start_dashboards(root: Path) -> DashboardsEnv:
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    lake = build_lake(root)
    timings["lake"] = time.perf_counter() - t0
    state = root / "state"
    server = SupersetServer(state / "superset")
    t0 = time.perf_counter()
    server.start(lake.cfg.uri, port=free_port())
    timings["superset start"] = time.perf_counter() - t0
    try:
        t0 = time.perf_counter()
        report = provision(server.admin(), lake, server.views_db)
        timings["provision"] = time.perf_counter() - t0
        env = DashboardsEnv(lake, server, state, report, timings=timings)
        admin = server.admin()
        spec = load_spec()
        for role in ROLES_WITH_ACCOUNTS:
            assert role in spec.roles, role
            user, password = f"{role}@example.org", secrets.token_urlsafe(12)
            assert invite(admin, user, role, password)
            env.accounts[role] = (user, password)
        return env
    except BaseException:
        server.stop(timeout=5)
        raise
