"""`lake export` and `lake campaign`: the verbs of segment exports (added to the `lake` command in lake/cli.py).

Thin: the work is in exports.export and exports.report; this module parses options and prints.
"""

from __future__ import annotations

import datetime as dt
import sys
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from lake.errors import LakeError

console = Console(stderr=True)
out = Console(width=None if sys.stdout.isatty() else 132)

LAKE_OPTION = click.option(
    "--lake", "lake_uri", envvar="LAKE_URI", default=None, metavar="URI",
    help="Lake location: a folder (default ./.lake) or s3://[bucket-prefix]. Env: LAKE_URI.",
)


def _date(ctx: click.Context, param: click.Parameter, value: str | None) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError as e:
        raise click.BadParameter(f"{value!r} is not a date: use YYYY-MM-DD") from e


def _open(lake_uri: str | None):
    from lake.storage import open_lake

    return open_lake(lake_uri)


@click.command("export")
@click.argument("segment", required=False)
@LAKE_OPTION
@click.option("--list", "list_", is_flag=True, help="List the segments with owner, purpose and current size.")
@click.option("--dry-run", is_flag=True, help="Show the members left after each rule and every check; write nothing.")
@click.option("--audit", "show_audit", is_flag=True, help="Show the audit log of exports and verify its chain.")
@click.option("--company", metavar="C", help="The requesting company (the file goes to its exports folder).")
@click.option("--purpose", metavar="P", help="The purpose (default: the segment's); the sharing rules list them.")
@click.option("--campaign-id", metavar="ID", help="Campaign id (default EXP-<company>-<start>-<version>).")
@click.option("--holdout", type=float, default=0.1, show_default=True, help="Share of members held out (control).")
@click.option("--target-company", metavar="T", help="Brand the campaign sends members to (default: the segment's).")
@click.option("--starts-on", callback=_date, metavar="YYYY-MM-DD", help="Campaign start (default: day after the data).")
@click.option("--ends-on", callback=_date, metavar="YYYY-MM-DD", help="Campaign end (default: the segment's length).")
@click.option("--description", metavar="TEXT", help="What the campaign offers (kept with the campaign).")
@click.option("--requested-by", metavar="NAME", envvar="LAKE_USER", help="Who asks (default: login). Env: LAKE_USER.")
def export(segment: str | None, lake_uri: str | None, list_: bool, dry_run: bool, show_audit: bool,
           company: str | None, purpose: str | None, campaign_id: str | None, holdout: float,
           target_company: str | None, starts_on: dt.date | None, ends_on: dt.date | None,
           description: str | None, requested_by: str | None) -> None:
    """Export a segment's members for a company's coupon campaign, as the sharing rules allow.

    \b
      lake export --list                                 segments, owners, purposes, sizes
      lake export cvs_baby_elsewhere --dry-run           members after each rule, every check
      lake export cvs_baby_elsewhere --company cvs --purpose coupon_campaign --campaign-id CVS-BABY-1
      lake export --audit                                every attempt, and whether the log is intact
    Rules applied in order: company, purpose, purpose_data (whose data may feed the purpose), columns,
    consent, minimum_size, arm_size, campaign_id. A refusal names each failed rule, its numbers and the
    fix, is logged in the audit log, and exits with status 1. Files: exports/<company>/<campaign>/.
    """
    if list_:
        _print_list(_open(lake_uri))
        return
    if show_audit:
        _print_audit(_open(lake_uri))
        return
    if not segment:
        raise click.UsageError("name a SEGMENT (or use --list)")
    from exports.export import ExportRefused, ExportRequest, export_segment, plan
    from exports.segments import load_segment

    lake = _open(lake_uri)
    if dry_run and company is None:
        company = load_segment(segment).owner
    if company is None:
        raise click.UsageError("--company is required: the company that asks for the list and receives it")
    req = ExportRequest(segment=segment, company=company, purpose=purpose, campaign_id=campaign_id, holdout=holdout,
                        target_company=target_company, starts_on=starts_on, ends_on=ends_on,
                        description=description, requested_by=requested_by)
    if dry_run:
        with console.status(f"evaluating segment {segment}"):
            result = plan(lake, req).result
        _print_result(result, dry_run=True)
        return
    try:
        with console.status(f"exporting segment {segment}"):
            result = export_segment(lake, req)
    except ExportRefused as e:
        _print_result(e.result)
        raise
    _print_result(result)


def _print_list(lake) -> None:
    from exports.export import list_segments

    try:
        sizes = list_segments(lake)
    except LakeError as e:  # no marts yet: still list the definitions
        console.print(f"[yellow]sizes unknown:[/] {e.what}")
        sizes = list_segments(None)
    t = Table(title="Segments (exports/segments/*.yml)", title_justify="left")
    for col in ("segment", "version", "owner", "purpose", "target", "members", "consented", "description"):
        t.add_column(col, justify="right" if col in ("members", "consented") else "left",
                     overflow="fold", no_wrap=col != "description")
    def fmt(n: int | None) -> str:
        return "-" if n is None else f"{n:,}"

    for s in sizes:
        seg = s.segment
        t.add_row(seg.name, seg.version[:8], seg.owner, seg.purpose, seg.target_company, fmt(s.members),
                  fmt(s.consented), seg.description)
    out.print(t)


def _print_result(r: Any, dry_run: bool = False) -> None:
    out.print(f"segment [bold]{r.segment}[/] (version {r.version[:12]}) for {r.company}, purpose {r.purpose}, "
              f"data as of {r.as_of}")
    t = Table(title="Members after each rule", title_justify="left")
    t.add_column("#", justify="right")
    t.add_column("rule")
    t.add_column("members", justify="right")
    for i, (label, n) in enumerate(r.funnel):
        t.add_row(str(i) if i else "", label, f"{n:,}")
    out.print(t)
    c = Table(title="Sharing rules and checks, in order", title_justify="left")
    c.add_column("result")
    c.add_column("rule")
    c.add_column("detail", overflow="fold")
    for check in r.checks:
        c.add_row("[green]ok[/]" if check.ok else "[red]REFUSED[/]", check.rule,
                  check.detail + ("" if check.ok or not check.fix else f" — fix: {check.fix}"))
    out.print(c)
    split = f"{r.groups.get('treatment', 0):,} treatment, {r.groups.get('control', 0):,} holdout (control)"
    window = f"campaign {r.campaign_id} -> {r.target_company}, {r.starts_on} to {r.ends_on}"
    if dry_run:
        verdict = "would be REFUSED" if r.refused else "would be exported"
        out.print(f"dry run: {verdict}: {r.members:,} members ({split}); {window}; nothing written")
        return
    if r.status == "refused":
        out.print(f"[red]refused[/]: {split} not written; audit record {r.audit_seq}")
        return
    verb = "unchanged (same campaign, same members)" if r.status == "unchanged" else "exported"
    out.print(f"[green]{verb}[/]: {r.members:,} members ({split}); {window}")
    for f in r.files:
        out.print(f"  {f['uri']}  ({f['bytes']:,} bytes, sha256 {f['sha256'][:12]})")
    out.print(f"  campaign registered (run `lake build`, then `lake campaign report {r.campaign_id}`); "
              f"audit record {r.audit_seq}")


def _print_audit(lake) -> None:
    from exports import audit

    recs = audit.records(lake)
    t = Table(title="Export audit log (ops/audit/exports)", title_justify="left")
    for col in ("seq", "requested at (UTC)", "by", "segment", "company", "purpose", "campaign", "outcome", "members"):
        t.add_column(col, justify="right" if col in ("seq", "members") else "left", no_wrap=True)
    for rec in recs:
        groups = rec.get("groups") or {}
        outcome = rec.get("outcome", "?")
        if rec.get("refused_by"):
            outcome += " (" + ", ".join(rec["refused_by"]) + ")"
        t.add_row(str(rec.get("seq")), str(rec.get("requested_at", ""))[:19], str(rec.get("requested_by")),
                  str(rec.get("segment")), str(rec.get("company")), str(rec.get("purpose")),
                  str(rec.get("campaign_id")), outcome, f"{sum(groups.values()):,}" if groups else "-")
    out.print(t)
    problems = audit.verify(lake)
    if problems:
        raise LakeError("the export audit log is not intact:\n  " + "\n  ".join(problems),
                        "restore the records from a backup; the chain shows where it breaks")
    out.print(f"{len(recs)} record(s); hash chain intact")


@click.group()
def campaign() -> None:
    """Campaigns: what they did (treatment against holdout), from the marts.

    \b
      lake campaign list                 campaigns the marts measure (hq's and exported ones)
      lake campaign report CAMPAIGN      redemptions, incremental spend and visits, referral, 95% intervals
    """


@campaign.command("list")
@LAKE_OPTION
def list_campaigns(lake_uri: str | None) -> None:
    """Campaigns the marts measure."""
    from exports.report import campaigns

    t = Table()
    for col in ("campaign", "origin", "company", "target", "starts", "ends", "treatment", "holdout", "complete"):
        t.add_column(col, justify="right" if col in ("treatment", "holdout") else "left", no_wrap=True)
    for c in campaigns(_open(lake_uri)):
        t.add_row(c["campaign_id"], c["origin"], c["company"], c["target_company"], str(c["starts_on"]),
                  str(c["ends_on"]), f"{c['treatment_members']:,}", f"{c['control_members']:,}",
                  "yes" if c["is_window_complete"] else "no")
    out.print(t)


@campaign.command("report")
@click.argument("campaign_id", metavar="CAMPAIGN")
@LAKE_OPTION
def report(campaign_id: str, lake_uri: str | None) -> None:
    """Treatment against holdout over the campaign window, per member, with 95% intervals (mart_campaign_report)."""
    from exports.report import METRICS, campaign_report

    rep = campaign_report(_open(lake_uri), campaign_id)
    c = rep.campaign
    who = f"segment {c['segment']} (version {str(c['definition_hash'])[:12]})" if c["origin"] == "export" else "hq"
    out.print(f"campaign [bold]{c['campaign_id']}[/]: {c['company']} -> {c['target_company']}, "
              f"{c['starts_on']} to {c['ends_on']}, from {who}")
    if not c["is_window_complete"]:
        out.print(f"[yellow]the data ends on {c['data_through']}, before the campaign does: figures are partial[/]")
    t = Table(title="Treatment against holdout, per member (intention to treat)", title_justify="left")
    for col in ("metric", "treatment", "holdout", "treatment mean", "holdout mean", "difference", "95% interval",
                "incremental total"):
        t.add_column(col, justify="left" if col == "metric" else "right", no_wrap=col != "metric")
    for r in rep.rows:
        rate = r["metric"].endswith("_rate")

        spec = ".2%" if rate else ",.0f" if r["metric"].endswith("_yen") else ",.3f"

        def f(v: Any, spec: str = spec) -> str:
            return "suppressed" if v is None else format(v, "+" + spec)

        def m(v: Any, spec: str = spec) -> str:
            return "suppressed" if v is None else format(v, spec)

        interval = "suppressed" if r["ci_low"] is None else f"{f(r['ci_low'])} to {f(r['ci_high'])}"
        total = "-" if r["incremental_total"] is None else f"{r['incremental_total']:+,.0f}" + (
            " members" if rate else "")
        t.add_row(METRICS.get(r["metric"], r["metric"]), f"{r['treatment_members']:,}", f"{r['control_members']:,}",
                  m(r["treatment_mean"]), m(r["control_mean"]), f(r["difference"]), interval, total)
    out.print(t)
    if not c["is_cross_brand"]:
        out.print("no referral row: the campaign's target brand is the exporting company's own")
