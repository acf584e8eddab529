"""Integration fixtures: one real SeaweedFS server for the whole session, on free ports, in a temp folder.

Tests that want a clean lake use their own bucket prefix (`s3_lake("demo-")`) instead of a new
server: starting one takes a few seconds, stopping it cleanly up to 15. The identities hold their grants
(`infra.access`) on the unprefixed lake and on the lakes of `JOB_PREFIXES`, where a test runs a job as its
own principal; elsewhere only the administrator reaches a prefixed lake.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from infra import access
from infra.seaweed import SeaweedServer, free_port
from lake import layout
from lake.storage import Lake

# Lakes (bucket prefixes) on which every principal holds its grants, besides the unprefixed one.
JOB_PREFIXES = ("sparkit-",)


@pytest.fixture(scope="session")
def seaweed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedServer]:
    """A running SeaweedFS with every zone bucket and the policy's identities; stopped at the end."""
    # Laid out like the project's state folder (`<LAKE_STATE>/seaweedfs`), so the CLI can be pointed at it.
    server = SeaweedServer(tmp_path_factory.mktemp("lake-state") / "seaweedfs")
    server.start(s3_port=free_port(), bucket_prefixes=("", *JOB_PREFIXES))
    try:
        yield server
    finally:
        # Its data dir is thrown away: no need to wait for the filer's 15 s graceful stop.
        server.stop(timeout=3)


@pytest.fixture
def s3_lake(seaweed: SeaweedServer) -> Callable[..., Lake]:
    """Make an S3 lake as `principal`, zones being buckets named `<prefix><zone>` (created as admin)."""

    def make(prefix: str = "", principal: str = access.ADMIN) -> Lake:
        if prefix and principal != access.ADMIN and prefix not in JOB_PREFIXES:
            raise ValueError(f"{principal} holds no grants on the lake s3://{prefix}: add it to JOB_PREFIXES")
        if prefix:
            admin = Lake(seaweed.lake_config(access.ADMIN, prefix))
            admin.ensure_zones(layout.all_zones(_companies()))
        return Lake(seaweed.lake_config(principal, prefix))

    return make


@pytest.fixture(scope="session")
def dashboards_env(tmp_path_factory: pytest.TempPathFactory):
    """Superset on a free port serving a small built lake, provisioned, one account per role; stopped at the end."""
    from tests.integration.dashboards_fixture import start_dashboards

    env = start_dashboards(tmp_path_factory.mktemp("dashboards"))
    try:
        yield env
    finally:
        env.server.stop(timeout=10)


def _companies() -> list[str]:
    from expectations.rules import load_rules

    return list(load_rules().companies)
