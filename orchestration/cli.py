"""`lake schedule up | down | status`: the local scheduler (Dagster webserver and daemon on 127.0.0.1)."""

from __future__ import annotations

import click
from rich.console import Console

console = Console(stderr=True)
out = Console()


@click.group()
def schedule() -> None:
    """Run the flow on a schedule locally (Dagster): up, down, status.

    \b
      lake schedule up           start the webserver and daemon on 127.0.0.1 (state in .lake-state/dagster)
      lake schedule status       what runs, and the UI's address
      lake schedule down         stop both (runs and schedules' state are kept)
    The daemon runs the schedules of orchestration/schedules.yml and starts a company's ingestion when a
    file lands in its landing zone. Production: orchestration/dagster.yaml (Postgres), see the README.
    """


@schedule.command()
@click.option("--lake", "lake_uri", envvar="LAKE_URI", default=None, metavar="URI",
              help="Lake the scheduled runs use (default ./.lake). Env: LAKE_URI.")
@click.option("--port", type=click.IntRange(1, 65535), default=None, help="Webserver port (default: a free one).")
@click.option("--timeout", type=float, default=180.0, show_default=True, help="Seconds to wait for the webserver.")
def up(lake_uri: str | None, port: int | None, timeout: float) -> None:
    """Start the Dagster webserver and daemon (builds the dbt manifest first if models/ changed)."""
    from lake.storage import open_lake
    from orchestration.server import Scheduler

    lake = open_lake(lake_uri)
    s = Scheduler.default()
    with console.status("starting the Dagster webserver and daemon"):
        started = s.start(lake.cfg.uri, port, timeout)
    st = s.status()
    out.print(f"scheduler {'started' if started else 'already running'}: UI at {st['url']} "
              f"(webserver pid {st['webserver']}, daemon pid {st['daemon']}), lake {st['lake']}, state in {st['home']}")


@schedule.command()
@click.option("--timeout", type=float, default=20.0, show_default=True, help="Seconds before killing them.")
def down(timeout: float) -> None:
    """Stop the webserver and the daemon."""
    from orchestration.server import Scheduler

    stopped = Scheduler.default().stop(timeout)
    out.print("scheduler stopped" if stopped else "scheduler is not running")


@schedule.command()
def status() -> None:
    """Whether the webserver and daemon run, and where."""
    from orchestration.server import Scheduler

    st = Scheduler.default().status()
    if not (st["webserver"] or st["daemon"]):
        out.print(f"scheduler is not running (state in {st['home']})")
        raise SystemExit(3)
    out.print(f"webserver: {st['webserver'] or 'stopped'}  daemon: {st['daemon'] or 'stopped'}  "
              f"UI: {st['url'] or '-'}  lake: {st['lake']}")
