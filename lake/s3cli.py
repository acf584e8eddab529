"""`lake s3 up | down | status | env | policy`: the local S3-compatible store (SeaweedFS) for the lake.

`up` starts it on 127.0.0.1 with its data under the project's state folder, creates a bucket per
zone and loads one identity per principal (`infra.access`). `eval "$(lake s3 env)"` then points
every `lake` command, boto3, DuckDB and Spark at it as the administrator; `--as cvs` (or
`ingestion`, `analyst`, ...) as that principal, to see what it may and may not reach.
"""

from __future__ import annotations

import shlex

import click
from rich.console import Console

from lake.errors import LakeError

console = Console(stderr=True)
out = Console()


def _server():
    from infra.seaweed import SeaweedServer

    return SeaweedServer()


@click.group()
def s3() -> None:
    """Run the lake on a local S3 server (SeaweedFS): up, down, status, env, policy.

    \b
      lake s3 up                 start it and create the zone buckets
      eval "$(lake s3 env)"      point lake, boto3, DuckDB and Spark at it
      lake demo                  the same demo, now on S3
      lake s3 down               stop it (data is kept for the next `up`)
      lake s3 policy             who may reach which zone (the same grants as in the cloud)
    Credentials are fixed, public and for this local server only.
    """


@s3.command()
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    default=None,
    help="S3 port on 127.0.0.1 (default: the last one used, else 8333).",
)
@click.option("--timeout", type=float, default=60.0, show_default=True, help="Seconds to wait until it answers.")
def up(port: int | None, timeout: float) -> None:
    """Start the server (if it is not running), create the zone buckets, load the identities."""
    server = _server()
    with console.status("starting SeaweedFS"):
        started = server.start(port, timeout=timeout)
    status = server.status()
    verb = "started" if started else "already running"
    out.print(
        f"S3 server {verb} at {server.endpoint} (pid {status['pid']}), "
        f"{len(status.get('buckets', []))} buckets, data in {server.data_dir}"
    )
    out.print('use it with: eval "$(lake s3 env)"   (or `lake s3 env --as cvs` for one principal)')


@s3.command()
@click.option(
    "--timeout", type=float, default=25.0, show_default=True, help="Seconds to wait for a clean stop before killing it."
)
def down(timeout: float) -> None:
    """Stop the server; it is killed if it has not stopped after --timeout seconds. Data is kept."""
    server = _server()
    if not server.running():
        out.print("S3 server is not running")
        return
    with console.status(f"stopping SeaweedFS (up to {timeout:.0f}s)"):
        server.stop(timeout)
    out.print("S3 server stopped")


@s3.command()
def status() -> None:
    """Whether the server runs, where, and which buckets it holds."""
    info = _server().status()
    state = "[green]running[/]" if info["running"] else "[yellow]stopped[/]"
    out.print(f"S3 server: {state}" + (f" (pid {info['pid']}, since {info['started_at']})" if info["running"] else ""))
    out.print(f"  endpoint  {info['endpoint']}")
    out.print(f"  data      {info['home']}/data ({info['data_bytes'] / 1e6:.1f} MB)")
    out.print(f"  log       {info['log']}")
    if "buckets" in info:
        out.print(f"  buckets   {len(info['buckets'])}: {', '.join(info['buckets'])}")
    if not info["running"]:
        out.print("start it with `lake s3 up`")


@s3.command()
@click.option(
    "--as",
    "principal",
    default="admin",
    show_default=True,
    metavar="PRINCIPAL",
    help="admin, a company code (cvs, gms, ..., hq), ingestion, transforms, dbt, analyst or exports.",
)
def env(principal: str) -> None:
    """Print export lines for the shell: `eval "$(lake s3 env)"`."""
    from infra import access

    known = access.principals()
    if principal not in known:
        raise LakeError(f"unknown principal {principal!r}", f"use one of {', '.join(known)}")
    server = _server()
    if not server.running():
        console.print("[yellow]warning:[/] the S3 server is not running; start it with `lake s3 up`")
    click.echo(f"# local S3 server as {principal}: dev-only credentials, public and deterministic")
    # A session token or profile from a real cloud login would be sent along and break signing.
    click.echo("unset AWS_SESSION_TOKEN AWS_PROFILE AWS_ENDPOINT_URL_S3")
    for key, value in server.env(principal).items():
        click.echo(f"export {key}={shlex.quote(value)}")


@s3.command()
@click.option("--json", "as_json", is_flag=True, help="The IAM policy documents instead (what each identity gets).")
def policy(as_json: bool) -> None:
    """Who can reach what: the access policy (`infra/access.py`) as a principal x zone table.

    The same grants hold on this server and in the cloud deployment; the README's table is this output.
    """
    import json

    from infra import access

    if as_json:
        docs = {p["name"]: json.loads(p["content"]) for p in access.seaweed_config()["policies"]}
        click.echo(json.dumps(docs, indent=2))
        return
    click.echo(access.markdown_table(), nl=False)
