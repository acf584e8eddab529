"""`lake check` (every quality gate on demand) and `lake retention` (what is past its zone's retention)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click

LAKE_OPTION = click.option("--lake", "lake_uri", envvar="LAKE_URI", default=None, metavar="URI",
                           help="Lake location: a folder (default ./.lake) or s3://. Env: LAKE_URI.")
ON_DEMAND = ("raw", "group", "marts", "freshness", "volume", "retention", "ledgers")


def docs_folder(lake) -> Path:
    """Where Data Docs go: the ops zone of a local lake; the state folder for a lake on S3."""
    from lake import layout
    from lake.config import state_dir

    return state_dir() / "data_docs" if lake.is_s3 else Path(lake.path(layout.OPS, layout.DATA_DOCS))


def run_checks(lake, gates: tuple[str, ...] = ON_DEMAND, progress=None) -> list:
    """Every chosen gate on what the lake holds now; each report is recorded in the ops zone."""
    from expectations import gates as g
    from lake.build import marts_db_path

    say = progress or (lambda _m: None)
    reports = []
    for name in gates:
        say(f"checking {name}")
        if name == "raw":
            report = g.check_raw_zone(lake)
        elif name == "group":
            report = g.check_group_zone(lake)
        elif name == "marts":
            db = marts_db_path(lake)
            if not db.exists():
                continue
            report = g.check_marts(str(db))
        elif name == "freshness":
            report = g.check_freshness(lake)
        elif name == "volume":
            report = g.check_volume(lake)
        elif name == "retention":
            report = g.check_retention(lake)
        else:
            report = g.check_ledgers(lake)
        g.record(lake, report)
        reports.append(report)
    return reports


@click.command()
@LAKE_OPTION
@click.option("--gate", "gates", multiple=True, type=click.Choice(ON_DEMAND),
              help="Only these checks (repeatable; default all).")
@click.option("--docs", is_flag=True, help="Also build Great Expectations Data Docs (HTML) and print where.")
def check(lake_uri: str | None, gates: tuple[str, ...], docs: bool) -> None:
    """Run every quality gate on the lake as it is now; exit 1 if any expectation fails.

    \b
    raw        contracts on the raw zones (columns, types, required values, gid check digits)
    group      sharing rules on the group zone (shared tables and columns only, no PII, generalised members)
    marts      keys, money, probabilities and minimum cell size k on every mart
    freshness  every company's newest daily file against the newest company's
    volume     each feed's recent days against the same weekday (paydays, month ends apart)
    retention  nothing kept past its zone's retention_days
    ledgers    the ingest manifests and the export audit log: hash chains intact, nothing removed or altered
    Results: one row per expectation in the ops zone (quality/results/); --docs writes Data Docs.
    """
    from rich.console import Console
    from rich.table import Table

    from expectations.validation import build_docs
    from lake.storage import open_lake

    out = Console(width=None if sys.stdout.isatty() else 132)
    err = Console(stderr=True)
    lake = open_lake(lake_uri)
    t0 = time.perf_counter()
    with err.status("checking") as status:
        reports = run_checks(lake, gates or ON_DEMAND, progress=lambda m: status.update(m))
    t = Table(title=f"Quality gates on {lake.describe()}", title_justify="left")
    for col in ("gate", "expectations", "failed", "seconds"):
        t.add_column(col, justify="left" if col == "gate" else "right")
    for r in reports:
        t.add_row(r.gate, str(len(r.findings)), str(len(r.failures)) if r.failures else "-", f"{r.seconds:.1f}")
    out.print(t)
    for r in reports:
        if not r.ok:
            out.print(r.message(), style="red", markup=False)
    if docs:
        index = build_docs(docs_folder(lake))
        out.print(f"Data Docs: {index}  (open it in a browser)")
    failed = [r.gate for r in reports if not r.ok]
    out.print(f"{'FAILED: ' + ', '.join(failed) if failed else 'all gates passed'} "
              f"({time.perf_counter() - t0:.1f}s; results in ops/quality/results)")
    if failed:
        sys.exit(1)


@click.command()
@LAKE_OPTION
@click.option("--apply", "do_apply", is_flag=True, help="Delete what is overdue (default: only list it).")
def retention(lake_uri: str | None, do_apply: bool) -> None:
    """List data past its zone's retention_days (sharing rules); delete it with --apply (logged in ops)."""
    from rich.console import Console
    from rich.table import Table

    from expectations import retention as ret
    from lake.storage import open_lake

    out = Console(width=None if sys.stdout.isatty() else 132)
    lake = open_lake(lake_uri)
    todo = ret.apply(lake) if do_apply else ret.overdue(lake)
    if todo.num_rows == 0:
        out.print("nothing is past its retention")
        return
    t = Table(title=("deleted" if do_apply else "past retention (dry run: --apply deletes)"), title_justify="left")
    for col in ("zone", "files", "oldest (days)", "retention (days)"):
        t.add_column(col, justify="left" if col == "zone" else "right")
    by_zone: dict[str, list] = {}
    for r in todo.to_pylist():
        by_zone.setdefault(r["zone"], []).append(r)
    for zone, rows in sorted(by_zone.items()):
        t.add_row(zone, str(len(rows)), str(max(r["age_days"] for r in rows)), str(rows[0]["retention_days"]))
    out.print(t)
    if not do_apply:
        out.print(f"{todo.num_rows} file(s) past retention; `lake retention --apply` deletes them (logged in ops)")
