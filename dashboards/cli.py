"""`lake dashboards up | down | status | provision | invite | annotate` and `lake alerts check`.

Thin verbs: the server is `dashboards.server`, provisioning `dashboards.provision`, annotations
`dashboards.annotations`, alerts `dashboards.alerts`.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
import sys

import click
from rich.console import Console
from rich.table import Table

from lake.errors import LakeError

console = Console(stderr=True)
out = Console(width=None if sys.stdout.isatty() else 132)  # piped: wide, unwrapped (passwords, URLs)

LAKE_OPTION = click.option("--lake", "lake_uri", envvar="LAKE_URI", default=None, metavar="URI",
                           help="Lake location: a folder (default ./.lake) or s3://. Env: LAKE_URI.")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _server():
    from dashboards.server import SupersetServer

    return SupersetServer()


def _lake(lake_uri: str | None):
    from lake.storage import open_lake

    return open_lake(lake_uri)


def _running_server(lake=None):
    server = _server()
    if not server.running():
        raise LakeError("the dashboards server is not running", "start it: `lake dashboards up`")
    if lake is not None and server.lake_uri != lake.cfg.uri:
        raise LakeError(f"the dashboards server serves {server.lake_uri}, not {lake.cfg.uri}",
                        "restart it on this lake: `lake dashboards down && lake dashboards up --lake ...`")
    return server


@click.group()
def dashboards() -> None:
    """KPI and operations dashboards on Apache Superset: up, provision, invite, status, annotate, down.

    \b
      lake dashboards up                 start Superset on 127.0.0.1 (SQLite metadata in .lake-state/)
      lake dashboards provision          create or update the dashboards, roles and annotations from YAML
      lake dashboards invite a@b.jp --role business    an account (free, as many as you like)
      lake dashboards annotate "v1.4 deployed"          mark a deployment on every operations chart
      lake dashboards down               stop it
    The dashboards are code: dashboards/dashboards.yml, datasets.yml and permissions.yml.
    """


@dashboards.command()
@LAKE_OPTION
@click.option("--port", type=click.IntRange(1, 65535), default=None,
              help="Port on 127.0.0.1 (default: the last one used, else 8088, else a free one).")
@click.option("--timeout", type=float, default=180.0, show_default=True, help="Seconds to wait until it answers.")
def up(lake_uri: str | None, port: int | None, timeout: float) -> None:
    """Start Superset serving the lake's marts (read-only) and its ops zone; the first start takes a minute or two."""
    lake = _lake(lake_uri)
    if lake.is_s3:
        raise LakeError(
            f"the dashboards serve a lake in a local folder; {lake.cfg.uri} is on S3",
            "not built yet: Superset's DuckDB would need httpfs and the analyst's S3 credentials (see README)",
        )
    server = _server()
    with console.status("starting Superset (the first time, its metadata database is created: a minute or two)"):
        started = server.start(lake.cfg.uri, port, timeout)
    s = server.secrets()
    out.print(f"Superset {'started' if started else 'already running'} at {server.url} (pid {server.pid()}), "
              f"serving {lake.describe()}")
    out.print(f"  admin login: {s['admin_user']} / password in {server.secrets_file}")
    out.print("next: `lake dashboards provision` (creates or updates the dashboards from YAML)")


@dashboards.command()
@click.option("--timeout", type=float, default=20.0, show_default=True,
              help="Seconds to wait for a clean stop before killing it.")
def down(timeout: float) -> None:
    """Stop Superset (killed after --timeout). Its metadata, accounts and dashboards are kept for the next `up`."""
    server = _server()
    if not server.running():
        out.print("the dashboards server is not running")
        return
    with console.status(f"stopping Superset (up to {timeout:.0f}s)"):
        server.stop(timeout)
    out.print("the dashboards server stopped")


@dashboards.command()
def status() -> None:
    """What runs where, and which dashboards exist (with who may open them)."""
    server = _server()
    info = server.status()
    state = "[green]running[/]" if info["running"] else "[yellow]stopped[/]"
    out.print(f"dashboards server: {state}" + (f" (pid {info['pid']}, since {info['started_at']})"
                                               if info["running"] else ""))
    out.print(f"  url       {info['url']}")
    out.print(f"  lake      {info['lake'] or '-'}")
    out.print(f"  metadata  {info['metadata']}")
    out.print(f"  log       {info['log']}")
    if not info["running"]:
        out.print("start it with `lake dashboards up`")
        return
    client = server.admin()
    boards = client.list_all("dashboard", ["id", "dashboard_title", "slug", "published", "roles.name"])
    t = Table(title=f"{len(boards)} dashboard(s)", title_justify="left")
    for col in ("dashboard", "slug", "roles who may open it", "charts", "url"):
        t.add_column(col)
    for d in sorted(boards, key=lambda b: b["dashboard_title"]):
        charts = client.get(f"/api/v1/dashboard/{d['id']}/charts")["result"]
        roles = _roles_summary([r["name"] for r in d.get("roles") or []])
        t.add_row(d["dashboard_title"], d.get("slug") or "", roles, str(len(charts)),
                  f"{server.url}/superset/dashboard/{d.get('slug') or d['id']}/")
    out.print(t)
    if not boards:
        out.print("no dashboards yet: `lake dashboards provision`")


def _roles_summary(names: list[str]) -> str:
    """Roles of a dashboard, the company stewards counted rather than listed."""
    stewards = [n for n in names if n.endswith("-data-steward")]
    shown = sorted(n for n in names if n not in stewards)
    if stewards:
        shown.append(f"{len(stewards)} company stewards")
    return ", ".join(shown) or "(dataset permissions)"


@dashboards.command()
@LAKE_OPTION
def provision(lake_uri: str | None) -> None:
    """Create or update the datasets, charts, dashboards, roles and annotations from dashboards/*.yml (idempotent)."""
    from dashboards.provision import provision as apply

    lake = _lake(lake_uri)
    server = _running_server(lake)
    with console.status("provisioning the dashboards through Superset's API"):
        report = apply(server.admin(), lake, server.views_db)
    out.print(report.summary())
    out.print(f"{report.changes} change(s); {len(report.dashboards)} dashboards at {server.url}/dashboard/list/")


@dashboards.command()
@click.argument("email")
@click.option("--role", "role", required=True, metavar="ROLE",
              help="business, engineering, contractor or a company's steward role (permissions.yml).")
@click.option("--name", default=None, help="Full name (default: from the address).")
def invite(email: str, role: str, name: str | None) -> None:
    """Create an account for EMAIL with ROLE and print its first password (accounts are free and unlimited)."""
    from dashboards.accounts import invite as do_invite
    from dashboards.spec import load_spec

    if not _EMAIL.match(email):
        raise LakeError(f"{email!r} is not an e-mail address", "give the address the person logs in with")
    roles = sorted(load_spec().roles)
    if role not in roles:
        raise LakeError(f"unknown role {role!r}", f"use one of {', '.join(roles)} (dashboards/permissions.yml)")
    server = _running_server()
    password = secrets.token_urlsafe(12)
    created = do_invite(server.admin(), email, role, password, name)
    if created:
        out.print(f"account {email} created with role {role}")
        out.print(f"  log in at {server.url}/login/ as {email} with the password: {password}")
    else:
        out.print(f"{email} already has an account: role {role} added (password unchanged)")


@dashboards.command()
@LAKE_OPTION
@click.argument("title")
@click.option("--detail", default="", help="Longer text shown on hover.")
@click.option("--at", "at", default=None, metavar="ISO-TIME",
              help="When it happened (default: now), e.g. 2026-12-01T09:30Z.")
def annotate(lake_uri: str | None, title: str, detail: str, at: str | None) -> None:
    """Record a deployment in the ops zone and mark it on the operations charts (now, if Superset runs)."""
    from dashboards import annotations as ann

    when = None
    if at:
        try:
            when = dt.datetime.fromisoformat(at.replace("Z", "+00:00"))
        except ValueError as e:
            raise LakeError(f"--at {at!r} is not an ISO time", "e.g. 2026-12-01T09:30:00+09:00") from e
        if when.tzinfo is None:
            raise LakeError(f"--at {at!r} has no time zone", "add one, e.g. +09:00 or Z")
    lake = _lake(lake_uri)
    row = ann.record_deployment(lake, title, detail, when)
    out.print(f"deployment {row['deployment_id']} recorded in the ops zone at {row['deployed_at'].isoformat()}")
    server = _server()
    if server.running() and server.lake_uri == lake.cfg.uri:
        n = ann.post_deployment(server.admin(), row)
        out.print("marked on the dashboards" if n else "already on the dashboards")
    else:
        out.print("the dashboards show it after the next `lake build` and `lake dashboards provision`")


# --- alerts -----------------------------------------------------------------------------------------------------

@click.group()
def alerts() -> None:
    """Alerts to a Slack-compatible webhook: gate failures, stale company feeds, KPI thresholds (dashboards/alerts.yml).

    \b
      LAKE_ALERT_WEBHOOK=https://hooks.example/... lake alerts check
    Each event is posted once: running it again (say, every minute from a scheduler) posts only new events.
    """


@alerts.command("check")
@LAKE_OPTION
@click.option("--webhook", envvar="LAKE_ALERT_WEBHOOK", default=None, metavar="URL",
              help="Where to post (Slack-compatible incoming webhook). Env: LAKE_ALERT_WEBHOOK.")
@click.option("--dry-run", is_flag=True, help="Say what would be posted; post nothing, remember nothing.")
def check(lake_uri: str | None, webhook: str | None, dry_run: bool) -> None:
    """Evaluate every alert rule; post each new event to the webhook. Exit 1 if an event could not be posted."""
    from dashboards.alerts import run_alerts

    if not webhook and not dry_run:
        raise LakeError("no webhook to post alerts to",
                        "set LAKE_ALERT_WEBHOOK (or --webhook URL), or look first with --dry-run")
    result = run_alerts(_lake(lake_uri), webhook, dry_run=dry_run)
    for ev in result.events:
        mark = {"posted": "[green]posted[/]", "already": "[dim]already posted[/]", "dry-run": "[yellow]would post[/]",
                "failed": "[red]NOT posted[/]"}[ev.state]
        out.print(f"{mark}  {ev.rule}: {ev.text}")
    out.print(f"{len(result.events)} event(s): {result.counts()}")
    if any(ev.state == "failed" for ev in result.events):
        raise LakeError(f"{sum(ev.state == 'failed' for ev in result.events)} alert(s) could not be posted",
                        "check the webhook URL; the next `lake alerts check` tries them again")
