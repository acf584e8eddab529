"""The `lake` command: one entry point with verbs users can guess.

Every verb takes `--lake` (or `LAKE_URI`); a lake that is not there is refused unless the verb makes
lakes (`generate`, `demo`, `ingest --create`). Failures print what was wrong and what to do, never a
traceback (set LAKE_DEBUG=1 to see one). Exit status: 0 done; 1 failed (an error was printed); 2 usage
error; 3 `lake ingest` finished but rejected whole files (see `lake status`); 130 interrupted.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
import time
from typing import Any

import click
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from dashboards.cli import alerts, dashboards
from expectations.cli import check, retention
from exports.cli import campaign, export
from lake.errors import LakeError
from lake.ledgercli import ledgers
from lake.notebooks import notebooks
from lake.s3cli import s3
from orchestration.cli import schedule

console = Console(stderr=True)
EXIT_FAILED = 1
EXIT_REJECTED = 3  # `lake ingest`: the run finished, and some files were quarantined whole
# Piped output (CI logs, files) gets a wide fixed width so tables do not wrap.
out = Console(width=None if sys.stdout.isatty() else 132)

LAKE_OPTION = click.option(
    "--lake",
    "lake_uri",
    envvar="LAKE_URI",
    default=None,
    metavar="URI",
    help="Lake location: a folder (default ./.lake) or s3://[bucket-prefix]. Env: LAKE_URI.",
)


class LakeGroup(click.Group):
    """Turns LakeError (and a few common failures) into a clear message and exit code 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except LakeError as e:
            if os.environ.get("LAKE_DEBUG"):
                raise
            # soft_wrap: one line per message in logs and pipes; escape: paths and lists are not markup
            console.print(f"[bold red]error:[/] {escape(e.what)}", soft_wrap=True)
            if e.fix:
                console.print(f"[bold]fix:[/] {escape(e.fix)}", soft_wrap=True)
            sys.exit(EXIT_FAILED)
        except KeyboardInterrupt:
            console.print("[yellow]interrupted: published data is intact; run the command again to finish[/]")
            sys.exit(130)


@click.group(cls=LakeGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="group-lake")
def main() -> None:
    """The group customer data lake.

    \b
    Typical day:
      lake demo                 generate a sample, ingest it, print a summary
      lake generate             write synthetic company extracts into the landing zones
      lake ingest               land new extracts: raw zone, quarantine, manifests
      lake status               what has landed, what was rejected, what is waiting
      lake retract BATCH --reason ...   take a landed batch out of the raw zone
      lake export --list        segments for coupon campaigns (see `lake export --help`)
      lake check                every quality gate on the lake now (--docs: Data Docs)
      lake s3 up                run the lake on a local S3 server (see `lake s3 --help`)
      lake dashboards up        KPI and operations dashboards (see `lake dashboards --help`)

    \b
    Exit status: 0 done, 1 failed, 2 usage error, 3 `lake ingest` rejected whole files.
    """


main.add_command(s3)
main.add_command(notebooks)
main.add_command(dashboards)
main.add_command(alerts)
main.add_command(export)
main.add_command(campaign)
main.add_command(ledgers)
main.add_command(schedule)
main.add_command(check)
main.add_command(retention)


def _open(lake_uri: str | None, create: bool = False):
    from lake.storage import open_lake

    return open_lake(lake_uri, create=create)


def _parse_date(value: str | None) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError as e:
        raise LakeError(f"--start {value!r} is not a date", "use YYYY-MM-DD") from e


# --- generate ------------------------------------------------------------------------------

@main.command()
@LAKE_OPTION
@click.option("--members", type=click.IntRange(100), default=200_000, show_default=True, help="Group members.")
@click.option("--days", type=click.IntRange(1, 3660), default=90, show_default=True, help="Days of extracts.")
@click.option("--start", default="2026-08-01", show_default=True, help="First day (YYYY-MM-DD).")
@click.option("--seed", type=int, default=42, show_default=True, help="Same seed, same bytes.")
@click.option("--bad-rate", type=click.FloatRange(0, 0.5), default=0.0, show_default=True,
              help="Fraction of bad records of each kind (and a few bad files) to plant.")
@click.option("--company", "companies", multiple=True, help="Only these companies (repeatable).")
@click.option("--mode", type=click.Choice(["default", "confounding"]), default="default", show_default=True,
              help="confounding: what fools naive analytics (heavy shoppers enrol more, paydays, top-ups when "
                   "low, moves inside a prefecture, commuters, one-purchase members).")
def generate(lake_uri: str | None, members: int, days: int, start: str, seed: int, bad_rate: float,
             companies: tuple[str, ...], mode: str) -> None:
    """Write synthetic extracts of every company into the landing zones, plus the planted truth."""
    summary = run_generate(lake_uri, members, days, _parse_date(start), seed, bad_rate, companies or None, mode)
    out.print(f"generated {summary.get('files', '?')} files in {summary['_seconds']:.1f}s")


def run_generate(lake_uri, members, days, start, seed, bad_rate, companies, mode: str = "default") -> dict:
    from generator import GeneratorConfig
    from generator import generate as gen
    from lake import layout

    lake = _open(lake_uri, create=True)
    from expectations.rules import load_rules

    lake.ensure_zones(layout.all_zones(list(load_rules().companies)))
    cfg = GeneratorConfig(members=members, days=days, start=start, seed=seed, bad_rate=bad_rate,
                          companies=tuple(companies) if companies else None, mode=mode)
    t0 = time.time()
    with _progress() as p:
        task = p.add_task("generating", total=None)

        def on_progress(label: str, done: int, total: int) -> None:
            p.update(task, description=f"generating {label}", completed=done, total=total)

        summary = gen(cfg, LakeSink(lake), progress=on_progress)
    summary["_seconds"] = time.time() - t0
    return summary


class LakeSink:
    """The generator's sink: writes into the lake's zones (local folder or S3)."""

    def __init__(self, lake) -> None:
        self.lake = lake

    def write_bytes(self, zone: str, path: str, data: bytes) -> None:
        self.lake.write_bytes(zone, path, data)


# --- ingest --------------------------------------------------------------------------------

WAIT_OPTION = click.option("--wait", type=click.FloatRange(0), default=0.0, show_default=True, metavar="SECONDS",
                           help="If another run holds the lake's lock, wait up to this long instead of refusing.")


@main.command()
@LAKE_OPTION
@click.option("--company", "companies", multiple=True, help="Only these companies (repeatable).")
@click.option("--create", is_flag=True, help="Make the lake's zones if the lake does not exist yet.")
@WAIT_OPTION
def ingest(lake_uri: str | None, companies: tuple[str, ...], create: bool, wait: float) -> None:
    """Land every file in the landing zones: validate against contracts, write raw Parquet, quarantine bad
    rows and bad files, record the manifest history.

    Files already landed (same path, same bytes) are skipped, so running it again is safe; a file
    re-delivered under the same name with new bytes replaces its batch. Exit status 3 when files were
    rejected whole (the others still landed), 1 when the run failed.
    """
    summary = run_ingest(lake_uri, list(companies) or None, create=create, wait=wait)
    print_ingest_summary(summary)
    if summary.failed:
        failed = "; ".join(f"{src}: {err}" for src, err in summary.failed[:3])
        raise LakeError(f"{len(summary.failed)} file(s) could not be read or written (storage trouble; nothing "
                        f"was recorded for them): {failed}", "run `lake ingest` again; the other files are landed")
    if summary.rejected:
        sys.exit(EXIT_REJECTED)


def run_ingest(lake_uri: str | None, companies: list[str] | None, create: bool = False, wait: float = 0.0):
    from expectations.rules import load_rules
    from ingestion.engine import ingest as do_ingest

    known = list(load_rules().companies)
    for c in companies or []:
        if c not in known:
            raise LakeError(f"unknown company {c!r}", f"use one of {', '.join(known)}")
    lake = _open(lake_uri, create=create)
    with _progress(bytes_=True) as p:
        task = p.add_task("ingesting", total=None)

        def on_start(n_files: int, n_bytes: int) -> None:
            p.update(task, total=n_bytes, description=f"ingesting {n_files} files")

        def on_progress(source: str, n: int) -> None:
            p.update(task, advance=n, description=f"ingesting {_safe(source.split('/')[-1])}")

        return do_ingest(lake, companies, progress=on_progress, on_start=on_start, wait=wait)


def _safe(text: object) -> str:
    """Text from outside (file names, details) made harmless for the terminal: no markup, no control codes."""
    s = "".join(ch if ch.isprintable() else f"\\x{ord(ch):02x}" for ch in str(text))
    return escape(s)


def print_ingest_summary(summary) -> None:
    import json

    rows = summary.rows
    if summary.recovered:
        out.print(f"recovered {summary.recovered} publish(es) left by an interrupted run")
    if not rows:
        out.print(f"nothing new to ingest ({summary.skipped} file(s) already landed)")
        return
    by_feed: dict[tuple[str, str], list[int]] = {}
    reasons: dict[str, int] = {}
    for r in rows:
        agg = by_feed.setdefault((r.company, r.feed), [0, 0, 0, 0, 0, 0])
        agg[0] += 1
        agg[1] += r.rows_read
        agg[2] += r.rows_landed
        agg[3] += r.rows_quarantined
        agg[4] += r.rows_duplicate
        agg[5] += r.rows_redacted
        if r.status != "landed":
            reasons[f"file: {r.reason}"] = reasons.get(f"file: {r.reason}", 0) + 1
        elif r.detail:
            for k, v in json.loads(r.detail).items():
                reasons[k] = reasons.get(k, 0) + v
    t = Table(title="Ingested per company and feed", title_justify="left")
    for col in ("company", "feed", "files", "rows read", "landed", "quarantined", "duplicates", "redacted"):
        t.add_column(col, justify="right" if col not in ("company", "feed") else "left")
    for (company, feed), (n, read, landed, quar, dup, red) in sorted(by_feed.items()):
        t.add_row(company, _safe(feed), str(n), f"{read:,}", f"{landed:,}", f"{quar:,}", f"{dup:,}", f"{red:,}")
    out.print(t)
    if reasons:
        q = Table(title="Quarantined by reason", title_justify="left")
        q.add_column("reason")
        q.add_column("rows (or files)", justify="right")
        for k, v in sorted(reasons.items(), key=lambda kv: -kv[1]):
            q.add_row(k, f"{v:,}")
        out.print(q)
    for old, new in summary.replaced:
        out.print(f"[cyan]replaced[/] batch {old} by {new} (a corrected re-delivery)")
    for r in rows:
        if r.drift:
            out.print(f"[cyan]drift[/] {_safe(r.source)}: undeclared column(s) {_safe(', '.join(r.drift))} "
                      "not landed (recorded)")
        if r.status != "landed":
            out.print(f"[yellow]{r.status}[/] {_safe(r.source)}: {_safe(r.detail)}")
    ok = all(r.reconciles() for r in rows)
    rejected = len(summary.rejected)
    out.print(f"{len(rows)} file(s) ingested, {summary.skipped} already landed, {rejected} rejected whole; "
              f"manifests reconcile: {'yes' if ok else 'NO'}")


# --- retract -------------------------------------------------------------------------------

@main.command()
@LAKE_OPTION
@click.argument("target", metavar="BATCH_OR_FILE")
@click.option("--reason", required=True, help="Why: kept in the manifest history with who and when.")
@WAIT_OPTION
def retract(lake_uri: str | None, target: str, reason: str, wait: float) -> None:
    """Take a landed batch out of the raw zone on purpose (it leaves the group zone at the next transform).

    BATCH_OR_FILE is a batch id or the landing path of the file it came from (`lake status` lists
    them). Recorded in the manifest history: who, when, why, and how many rows left.
    """
    from ingestion.engine import retract as do_retract

    b = do_retract(_open(lake_uri), target, reason, wait=wait)
    out.print(f"retracted {b.batch_id} ({_safe(b.source)}): {b.rows_removed:,} rows left raw-{b.company}; "
              f"run `lake transform` to take them out of the group zone")


# --- status --------------------------------------------------------------------------------

@main.command()
@LAKE_OPTION
def status(lake_uri: str | None) -> None:
    """What the lake holds: batches per company and feed, rejected files with their reasons, files waiting,
    corrections and retractions, drift, freshness per company, and the last runs of each stage."""
    from ingestion.status import lake_status

    print_status(lake_status(_open(lake_uri)))


def print_status(st) -> None:
    out.print(f"lake: {_safe(st.lake)}")
    if not st.feeds and not st.waiting:
        out.print("nothing ingested yet: run `lake generate` then `lake ingest` (or `lake demo`)")
    if st.feeds:
        t = Table(title="Batches per company and feed", title_justify="left")
        cols = ("company", "feed", "live", "rejected", "replaced", "retracted", "rows landed", "quarantined",
                "duplicates", "rows removed", "last landed")
        for col in cols:
            t.add_column(col, justify="left" if col in ("company", "feed", "last landed") else "right", no_wrap=True)
        for f in st.feeds:
            t.add_row(f.company, _safe(f.feed), str(f.live), str(f.rejected), str(f.replaced), str(f.retracted),
                      f"{f.rows_landed:,}", f"{f.rows_quarantined:,}", f"{f.rows_duplicate:,}", f"{f.rows_removed:,}",
                      f.last_landed.strftime("%Y-%m-%d %H:%M UTC") if f.last_landed else "")
        out.print(t)
    if st.freshness:
        t = Table(title="Freshness per company (latest event date in its live batches)", title_justify="left")
        for col in ("company", "data up to", "days behind today", "last landed"):
            t.add_column(col)
        for company, (latest, behind, landed) in sorted(st.freshness.items()):
            t.add_row(company, str(latest or ""), "" if behind is None else str(behind),
                      landed.strftime("%Y-%m-%d %H:%M UTC") if landed else "")
        out.print(t)
    if st.rejected:
        t = Table(title=f"Rejected files ({len(st.rejected)}): quarantined whole", title_justify="left")
        for col in ("source", "reason", "detail"):
            t.add_column(col, overflow="fold")
        for r in st.rejected:
            t.add_row(_safe(r.source), r.reason or "", _safe(r.detail or ""))
        out.print(t)
    if st.waiting:
        t = Table(title=f"Waiting ({len(st.waiting)}): in a landing zone, not ingested yet", title_justify="left")
        for col in ("file", "bytes", "why"):
            t.add_column(col, overflow="fold")
        for w in st.waiting:
            t.add_row(_safe(w.source), f"{w.size:,}", w.why)
        out.print(t)
    if st.removed:
        t = Table(title="Replaced and retracted batches", title_justify="left")
        for col in ("batch", "source", "state", "rows removed", "when", "by", "why"):
            t.add_column(col, overflow="fold")
        for b in st.removed:
            t.add_row(b.batch_id, _safe(b.source), b.state + (f" by {b.replaced_by}" if b.replaced_by else ""),
                      f"{b.rows_removed:,}", str(b.removed_at or "")[:19], _safe(b.removed_by or ""),
                      _safe(b.removed_why or ""))
        out.print(t)
    if st.drift:
        t = Table(title="Schema drift: undeclared columns (never landed)", title_justify="left")
        for col in ("source", "columns", "policy"):
            t.add_column(col, overflow="fold")
        for d in st.drift:
            t.add_row(_safe(d["source"]), _safe(", ".join(d["columns"])), d["policy"])
        out.print(t)
    t = Table(title="Last run of each stage", title_justify="left")
    for col in ("stage", "started", "status", "seconds", "files", "rows in", "rows out", "message"):
        t.add_column(col, overflow="fold")
    for stage in ("ingest", "retract", "transform", "build", "check", "export"):
        r = st.runs.get(stage)
        if r is None:
            if stage in ("ingest", "transform", "build"):
                t.add_row(stage, "never", "", "", "", "", "", "")
            continue
        t.add_row(stage, r["started_at"].strftime("%Y-%m-%d %H:%M UTC"), r["status"], f"{r['seconds']:.0f}",
                  str(r["files"]), f"{r['rows_in']:,}", f"{r['rows_out']:,}", _safe(r["message"] or ""))
    out.print(t)
    out.print(f"manifest history: {st.history_records} record(s), hash chain "
              + ("intact" if not st.chain_problems else "[red]BROKEN[/]: " + _safe("; ".join(st.chain_problems[:3]))))


# --- transform -----------------------------------------------------------------------------

@main.command()
@LAKE_OPTION
@click.option("--date", "dates", multiple=True, metavar="YYYY-MM-DD", help="Re-do exactly this date (repeatable).")
@click.option("--master", default=None, envvar="SPARK_MASTER", metavar="URL",
              help="Spark master (default local[2]; e.g. spark://host:7077). Env: SPARK_MASTER.")
def transform(lake_uri: str | None, dates: tuple[str, ...], master: str | None) -> None:
    """Build the group zone from the raw zones with Spark, applying the sharing rules.

    Incremental: a date is rebuilt when its raw batches changed (a late file, a correction, a
    retraction); nothing is published unless every company/feed/date reconciles.
    """
    run_transform_step(_open(lake_uri), list(dates) or None, master)


def run_transform_step(lake, dates: list[str] | None = None, master: str | None = None) -> dict:
    from expectations.rules import load_rules
    from lake import layout
    from transforms import run_transforms

    if not any(lake.list_files(layout.raw(c)) for c in load_rules().companies):
        raise LakeError(f"the raw zones of {lake.describe()} are empty: nothing to transform",
                        "run `lake ingest` first (or `lake demo`)")
    with console.status("transforms: starting Spark") as status:
        summary = run_transforms(lake, dates, master, progress=lambda m: status.update(f"transforms: {m}"))
    if summary.get("skipped"):
        out.print("group zone already up to date with the raw zones")
        return summary
    out.print(f"transforms: {len(summary['dates'])} date(s) in {summary['seconds']:.0f}s; "
              f"group zone: {lake.uri(layout.GROUP)}")
    out.print(f"reconciliation: {summary['reconciled']} company/feed/date rows, all explained; "
              f"sm purchases by unlinked members kept with a null gid: {summary['unlinked_members']:,}")
    if summary.get("removed_batches"):
        out.print(f"{summary['removed_batches']} batch(es) replaced or retracted since the last transform: "
                  "their rows left the group zone")
    return summary


# --- analytics -----------------------------------------------------------------------------

@main.command()
@LAKE_OPTION
@click.option("--select", "-s", default=None, metavar="SELECTOR", help="dbt node selection, e.g. mart_rfm+.")
def build(lake_uri: str | None, select: str | None) -> None:
    """Build and test the marts with dbt (`dbt build` on DuckDB) from the group zone."""
    result = run_build_step(_open(lake_uri), select)
    if not result.success:
        raise LakeError("dbt build failed: " + "; ".join(result.failures[:5]),
                        "read the failing model or test above; `lake build -s <model>` re-runs one")


def run_build_step(lake, select: str | None = None):
    from lake.build import run_build

    with console.status("dbt build: marts and their tests"):
        result = run_build(lake, select)
    out.print(result.summary())
    for f in result.failures:
        out.print(f"[red]failed[/] {f}")
    return result


@main.command()
@LAKE_OPTION
@click.argument("query", required=False)
@click.option("--format", "-f", "fmt", type=click.Choice(["table", "csv", "json", "markdown"]), default=None,
              help="Result format (default: a table; with --output, from the file's suffix, else csv).")
@click.option("--output", "-o", default=None, metavar="FILE",
              help="Write the result of QUERY to FILE (outside the lake), e.g. for a spreadsheet.")
def sql(lake_uri: str | None, query: str | None, fmt: str | None, output: str | None) -> None:
    """Query the marts in DuckDB: read-only, and nothing but the marts is reachable.

    \b
    lake sql "select * from mart_kpi_monthly"             one query (or .tables, describe MART)
    lake sql "select * from mart_rfm" -o rfm.csv          the whole result as CSV (cells escaped
                                                          against spreadsheet formulas)
    lake sql < queries.sql                                statements from a file or pipe
    lake sql                                              a prompt: end statements with ;, `help`,
                                                          `.tables`, `.describe MART`, exit or Ctrl-D
    Piped output has every row and column. On S3 it signs as the analyst identity
    (LAKE_ANALYST_PROFILE, or the local server's analyst keys).
    """
    from lake.sqlshell import run

    code = run(_open(lake_uri), query, fmt, output)
    if code:
        sys.exit(code)


@main.command()
@LAKE_OPTION
def docs(lake_uri: str | None) -> None:
    """Generate the dbt docs site (models, columns, tests, lineage) and say where it is."""
    from lake.build import run_docs

    with console.status("dbt docs generate"):
        target = run_docs(_open(lake_uri))
    out.print(f"docs site: {target / 'index.html'}  (serve it with: python -m http.server -d {target})")


# --- demo ----------------------------------------------------------------------------------

@main.command()
@LAKE_OPTION
@click.option("--members", type=click.IntRange(100), default=200_000, show_default=True)
@click.option("--days", type=click.IntRange(1, 3660), default=90, show_default=True)
@click.option("--seed", type=int, default=42, show_default=True)
@click.option("--bad-rate", type=click.FloatRange(0, 0.5), default=0.002, show_default=True)
def demo(lake_uri: str | None, members: int, days: int, seed: int, bad_rate: float) -> None:
    """End to end on a sample: generate (about 200k members over 90 days), ingest, transform, build, results."""
    stages = run_demo(lake_uri, members, days, seed, bad_rate)
    total = sum(stages.values())
    table = Table(title="Where the demo's time went", title_justify="left")
    for col in ("stage", "seconds", "share"):
        table.add_column(col, justify="left" if col == "stage" else "right")
    for name, seconds in stages.items():
        table.add_row(name, f"{seconds:.1f}", f"{seconds / total:.0%}")
    table.add_row("[bold]total[/]", f"[bold]{total:.1f}[/]", "")
    out.print(table)
    out.print(f"[bold green]demo finished[/] in {total:.0f}s; "
              "try `lake sql`, `lake status`, `lake dashboards up` or the notebooks in notebooks/")


def run_demo(lake_uri: str | None, members: int = 200_000, days: int = 90, seed: int = 42,
             bad_rate: float = 0.002) -> dict[str, float]:
    """The demo's stages in order, printing as it goes; returns each stage's wall seconds, which the demo
    prints and `bench.bench_demo` records. Each stage's quality gate is inside its stage."""
    t0 = time.time()
    last = time.perf_counter()
    stages: dict[str, float] = {}

    def done(stage: str) -> None:
        nonlocal last
        now = time.perf_counter()
        stages[stage], last = now - last, now

    lake = _open(lake_uri, create=True)
    out.print(f"[bold]lake demo[/] on {lake.describe()}")
    out.print("1/4 generating company extracts")
    run_generate(lake_uri, members, days, dt.date(2026, 8, 1), seed, bad_rate, None)
    done("generate")
    out.print("2/4 ingesting (the sample plants bad files on purpose: their rejection is expected)")
    from transforms.spark import warm_session

    warm_session(lake)  # Spark's JVM starts (about 7 s) while ingestion runs; the transforms need it next
    print_ingest_summary(run_ingest(lake_uri, None))
    done("ingest")
    out.print("3/4 building the group zone (Spark)")
    run_transform_step(lake)
    done("transform")
    out.print("4/4 building and testing the marts (dbt)")
    result = run_build_step(lake)
    if not result.success:
        raise LakeError("dbt build failed: " + "; ".join(result.failures[:5]), "see the failures above")
    done("build")
    out.print(gates_summary(lake, dt.datetime.fromtimestamp(t0, dt.UTC)))
    from lake.analyst import headline

    out.print(headline(lake))
    done("checks and headline")
    return stages


def gates_summary(lake, since: dt.datetime) -> str:
    """The demo's account of the quality gates: the hand-overs' runs since `since`, then freshness, volume,
    retention on the lake as it now is."""
    from expectations.cli import run_checks
    from lake import runlog

    runs = [r for r in runlog.read_all(lake, "check").to_pylist() if r["started_at"] >= since]
    last: dict[str, list] = {}
    for r in runs:
        last.setdefault(r["feed"], []).append(r)
    parts = []
    for gate in ("landing_to_raw", "raw_to_group", "group_to_marts"):
        rs = last.get(gate, [])
        if rs:
            failed = sum(r["rows_rejected"] for r in rs)
            parts.append(f"{gate} {sum(r['rows_in'] for r in rs)} checks"
                         f"{f', {failed} FAILED' if failed else ' passed'} ({sum(r['seconds'] for r in rs):.1f}s)")
    for report in run_checks(lake, ("freshness", "volume", "retention", "ledgers")):
        parts.append(f"{report.gate} {'passed' if report.ok else 'FAILED'}")
    return "Quality gates: " + "; ".join(parts)


def _progress(bytes_: bool = False) -> Progress:
    cols: list[Any] = [TextColumn("{task.description}"), BarColumn()]
    cols.append(DownloadColumn() if bytes_ else TextColumn("{task.completed}/{task.total}"))
    cols.append(TimeRemainingColumn())
    return Progress(*cols, console=console, transient=True, disable=not console.is_terminal)




if __name__ == "__main__":
    main()
