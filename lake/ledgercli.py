"""`lake ledgers`: verify every hash-chained record of the lake (ingest manifests, export audit log)."""

from __future__ import annotations

import sys

import click
from rich.console import Console
from rich.markup import escape


@click.command()
@click.option("--lake", "lake_uri", envvar="LAKE_URI", default=None, metavar="URI",
              help="Lake location: a folder (default ./.lake) or s3://[bucket-prefix]. Env: LAKE_URI.")
def ledgers(lake_uri: str | None) -> None:
    """Verify the tamper-evident records: each ledger's hash chain, naming any removed or altered record.

    Exit status 1 when a ledger is broken. The newest records' removal is caught where their owner keeps
    the head it wrote (the ingest run records do, checked by `lake check`).
    """
    from lake.ledger import verify_all
    from lake.storage import open_lake

    out = Console(width=None if sys.stdout.isatty() else 132)
    reports = verify_all(open_lake(lake_uri))
    for r in reports:
        state = "[green]intact[/]" if not r.problems else f"[red]{len(r.problems)} problem(s)[/]"
        out.print(f"{escape(r.name)}: {r.records} records, head {r.head}, {state}  ({escape(r.uri)})")
        for p in r.problems:
            out.print(f"  {escape(p)}", soft_wrap=True)
    if any(r.problems for r in reports):
        sys.exit(1)
