"""`lake export`: a segment's members, as the sharing rules allow, for one company's campaign (DESIGN §6, §7).

An export evaluates the segment on the marts (read-only, through the analyst connection), splits a deterministic
holdout, checks every rule of `exports.rules` in order, and only when all pass writes the member file (CSV and
Parquet, under the requesting company in the exports zone), registers the campaign (so the marts measure it) and
appends to the audit log. Every attempt is audited and recorded as a run, refusals included; a refusal raises
`ExportRefused`, which names each rule that failed, its numbers and what to change. A dry run does everything but
write.
"""

from __future__ import annotations

import datetime as dt
import getpass
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import duckdb
import pyarrow as pa

from expectations.rules import load_rules
from exports import audit, files, holdout, registry
from exports import rules as export_rules
from exports.rules import Check, Request
from exports.segments import DEFAULT_COLUMNS, Segment, load_segment, load_segments
from lake import analyst, layout, runlog
from lake.errors import LakeError
from lake.storage import Lake

CAMPAIGN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
CAMPAIGN_RULE = "campaign_id"  # not a sharing rule: one campaign id, one membership
DEFAULT_HOLDOUT = 0.1


@dataclass(frozen=True)
class ExportRequest:
    """What a campaign owner asks for. Unset values come from the segment (purpose, target, campaign length)."""

    segment: str
    company: str
    purpose: str | None = None
    campaign_id: str | None = None
    holdout: float = DEFAULT_HOLDOUT
    target_company: str | None = None
    starts_on: dt.date | None = None
    ends_on: dt.date | None = None
    description: str | None = None
    requested_by: str | None = None


@dataclass
class ExportResult:
    """What an export did (or would do): counts after each rule, every check, the arms, the files."""

    status: str  # exported | unchanged (same campaign, same members: files rewritten identical) | refused | dry_run
    segment: str
    version: str
    company: str
    purpose: str
    campaign_id: str
    target_company: str
    as_of: dt.date
    starts_on: dt.date
    ends_on: dt.date
    holdout: float
    funnel: list[tuple[str, int]]
    checks: list[Check]
    groups: dict[str, int]
    files: list[dict[str, Any]] = field(default_factory=list)
    snapshot: dict[str, Any] | None = None
    audit_seq: int | None = None

    @property
    def refused(self) -> list[Check]:
        return export_rules.refusals(self.checks)

    @property
    def members(self) -> int:
        return sum(self.groups.values())


class ExportRefused(LakeError):
    """An export the rules refused; the message names every failed rule with its numbers and the fix."""

    def __init__(self, result: ExportResult) -> None:
        self.result = result
        failed = result.refused
        what = f"export of segment {result.segment} for {result.company} refused by "
        what += ", ".join(c.rule for c in failed)
        what += "".join(f"\n  - {c.rule}: {c.detail}" for c in failed)
        fixes = "; ".join(c.fix for c in failed if c.fix)
        super().__init__(what + f"\n  (logged in the audit log, record {result.audit_seq})", fixes or None)


# --- evaluating a segment ----------------------------------------------------------------------------------------

def _connect(lake: Lake) -> duckdb.DuckDBPyConnection:
    return analyst.connect(lake)  # the marts only, read-only: an export can see no more than an analyst


def _need_marts(con: duckdb.DuckDBPyConnection, segment: Segment) -> None:
    have = {r[0] for r in con.execute("select table_name from information_schema.tables").fetchall()}
    missing = sorted(segment.marts - have)
    if missing:
        raise LakeError(f"segment {segment.name} reads {', '.join(missing)}, which the marts do not have",
                        "run `lake build` (or `lake demo`) first")


def as_of(con: duckdb.DuckDBPyConnection) -> dt.date:
    """The marts' as-of date (their last purchase day): every `within_days` counts back from it."""
    row = con.execute("select max(last_purchase_date) from fct_member_brands").fetchone()
    return row[0] if row and row[0] else dt.datetime.now(dt.UTC).date()


@dataclass
class Evaluation:
    as_of: dt.date
    funnel: list[tuple[str, int]]  # (label, members left) from all members through each rule
    members: pa.Table  # gid (sorted) and any extra column the segment asks for
    consent: pa.Array  # aligned with members


def evaluate(con: duckdb.DuckDBPyConnection, segment: Segment) -> Evaluation:
    """Count members after each rule and fetch the segment's members (one materialised pass over the marts)."""
    _need_marts(con, segment)
    day = as_of(con)
    con.execute(f"create or replace temp table _segment as {segment.query(f'date {day.isoformat()!r}')}")
    n = len(segment.rules)
    cumulative = [" and ".join(f"r{j}" for j in range(1, i + 1)) for i in range(1, n + 1)]
    counts = con.execute(
        "select count(*), " + ", ".join(f"count(*) filter (where {c})" for c in cumulative) + " from _segment"
    ).fetchone()
    funnel = [("members in dim_members", int(counts[0]))]
    funnel += [(r.label, int(c)) for r, c in zip(segment.rules, counts[1:], strict=True)]
    extra = [c for c in segment.columns if c not in DEFAULT_COLUMNS]
    cols = ", ".join(["gid", *extra, "_consent"])
    table = con.execute(f"select {cols} from _segment where {cumulative[-1]} order by gid").to_arrow_table()
    con.execute("drop table _segment")
    return Evaluation(day, funnel, table.drop_columns(["_consent"]), table["_consent"].combine_chunks())


def export_table(members: pa.Table, segment: Segment, campaign_id: str, arms: pa.Array) -> pa.Table:
    """The file's rows: the segment's columns in its order (gid, campaign_id, assigned_group unless it asks
    otherwise)."""
    n = members.num_rows
    data = {"gid": members["gid"], "campaign_id": pa.repeat(pa.scalar(campaign_id, pa.string()), n),
            "assigned_group": arms}
    return pa.table({c: data[c] if c in data else members[c] for c in segment.columns})


# --- the export ----------------------------------------------------------------------------------------------------

def _requested_by(req: ExportRequest) -> str:
    if req.requested_by:
        return req.requested_by
    try:
        return os.environ.get("LAKE_USER") or getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def _campaign_id(req: ExportRequest, segment: Segment, starts_on: dt.date) -> str:
    if req.campaign_id is None:
        # deterministic: the same request on the same day names the same campaign (and so the same split)
        return f"EXP-{req.company}-{starts_on:%Y%m%d}-{segment.version[:6]}"
    if not CAMPAIGN_ID.match(req.campaign_id):
        raise LakeError(f"campaign id {req.campaign_id!r} is not allowed",
                        "use letters, digits, - and _ (at most 64, starting with a letter or digit)")
    return req.campaign_id


def _check_campaign(con: duckdb.DuckDBPyConnection, lake: Lake, campaign_id: str, snapshot_sha: str) -> Check:
    """One campaign id, one membership: a re-run with the same members is fine, anything else needs a new id."""
    existing = registry.registered(lake, campaign_id)
    if existing is not None:
        if existing["snapshot_sha256"] == snapshot_sha:
            return Check(CAMPAIGN_RULE, True, f"{campaign_id} was exported before with the same members (unchanged)",
                         numbers={"unchanged": True})
        return Check(CAMPAIGN_RULE, False, f"{campaign_id} was exported on {existing['exported_at']:%Y-%m-%d} from "
                     f"segment {existing['segment']} with {existing['members']:,} other members",
                     "use a new --campaign-id", {"existing_members": existing["members"]})
    known = {r[0] for r in con.execute("select view_name from duckdb_views() where not internal").fetchall()}
    if "mart_campaign_report" in known:
        hq = con.execute("select count(*) from mart_campaign_report where campaign_id = ? and origin = 'hq'",
                         [campaign_id]).fetchone()[0]
        if hq:
            return Check(CAMPAIGN_RULE, False, f"{campaign_id} is a campaign hq already ran (campaigns.csv)",
                         "use a new --campaign-id")
    return Check(CAMPAIGN_RULE, True, f"{campaign_id} is new")


class Plan(NamedTuple):
    result: ExportResult
    table: pa.Table  # the rows the file would hold (columns as the segment asks)
    snapshot: bytes  # Parquet of members and arms (gid, campaign_id, assigned_group): the export's file when allowed


def gate(table: pa.Table, consent: pa.Array, req: Request) -> list[Check]:
    """The marts → exports gate: every sharing rule on exactly what would be written, then the quality gate."""
    rules = load_rules()
    return [*export_rules.check_export(table, consent, req, rules), _quality_gate(table, consent, req, rules)]


def _quality_gate(table: pa.Table, consent: pa.Array, req: Request, rules: Any) -> Check:
    """The export-candidate suite of the quality gates (Great Expectations, `expectations/gates.py`) on the same
    rows: consent, allowed columns, minimum size, purpose and sources, validated by the second engine."""
    from expectations import gates

    candidate = table.append_column(rules.consent_column, consent.cast(pa.bool_()))
    report = gates.check_export_candidate(candidate, company=req.company, purpose=req.purpose,
                                          min_size=req.segment_minimum, sources=sorted(req.reads), rules=rules)
    failed = report.failures
    detail = (f"{len(report.findings)} expectations passed" if not failed
              else "; ".join(f.message() for f in failed[:5]))
    return Check("quality_gate", not failed, detail, None if not failed else "see the refused rules above",
                 {"expectations": len(report.findings), "failed": len(failed)})


def plan(lake: Lake, req: ExportRequest, segments_dir: Path | None = None) -> Plan:
    """Everything an export decides, without writing: the funnel, the split, every check, the rows."""
    segment = load_segment(req.segment, segments_dir)
    purpose = req.purpose or segment.purpose
    con = _connect(lake)
    try:
        ev = evaluate(con, segment)
        starts_on = req.starts_on or ev.as_of + dt.timedelta(days=1)
        ends_on = req.ends_on or starts_on + dt.timedelta(days=segment.campaign_days - 1)
        if ends_on < starts_on:
            raise LakeError(f"the campaign ends ({ends_on}) before it starts ({starts_on})",
                            "fix --starts-on/--ends-on")
        target = req.target_company or segment.target_company
        if target not in load_rules().companies:
            raise LakeError(f"target company {target!r} is not a group company",
                            f"use one of {', '.join(load_rules().companies)}")
        campaign_id = _campaign_id(req, segment, starts_on)
        arms = holdout.assign(ev.members["gid"], campaign_id, req.holdout)
        table = export_table(ev.members, segment, campaign_id, arms)
        rule_req = Request(segment.name, req.company, purpose, segment.reads, segment.minimum_size, req.holdout)
        checks = gate(table, ev.consent, rule_req)
        # serialised once: the snapshot, the export's Parquet file and the registered assignments are these bytes
        allowed = load_rules().export_columns
        snapshot = files.parquet_bytes(table.select([c for c in table.column_names if c in allowed]))
        checks.append(_check_campaign(con, lake, campaign_id, files.sha256(snapshot)))
    finally:
        con.close()
    result = ExportResult(
        status="dry_run", segment=segment.name, version=segment.version, company=req.company, purpose=purpose,
        campaign_id=campaign_id, target_company=target, as_of=ev.as_of, starts_on=starts_on, ends_on=ends_on,
        holdout=req.holdout, funnel=ev.funnel, checks=checks, groups=export_rules.arm_counts(table),
    )
    return Plan(result, table, snapshot)


def _write_files(lake: Lake, result: ExportResult, table: pa.Table, parquet: bytes) -> list[dict[str, Any]]:
    out = []
    for ext, data in (("parquet", parquet), ("csv", files.csv_bytes(table))):
        rel = layout.export_file(result.company, result.campaign_id, ext)
        lake.write_bytes(layout.EXPORTS, rel, data)
        out.append({"uri": lake.uri(layout.EXPORTS, rel), "sha256": files.sha256(data), "bytes": len(data),
                    "rows": table.num_rows})
    return out


def _audit_record(result: ExportResult | None, req: ExportRequest, who: str, run_id: str,
                  error: str | None = None) -> dict[str, Any]:
    rules_file = load_rules().path
    base = {
        "event": "segment_export",
        "requested_by": who,
        "requested_at": dt.datetime.now(dt.UTC).isoformat(),
        "run_id": run_id,
        "segment": req.segment,
        "company": req.company,
        "purpose": req.purpose,
        "campaign_id": req.campaign_id,
        "holdout_share": req.holdout,
        "sharing_rules_sha256": files.sha256(rules_file.read_bytes()),
    }
    if result is None:
        return {**base, "outcome": "failed", "error": error}
    return {
        **base,
        "outcome": result.status,
        "definition_hash": result.version,
        "purpose": result.purpose,
        "campaign_id": result.campaign_id,
        "target_company": result.target_company,
        "starts_on": result.starts_on.isoformat(),
        "ends_on": result.ends_on.isoformat(),
        "data_as_of": result.as_of.isoformat(),
        "funnel": [{"step": label, "members": n} for label, n in result.funnel],
        "checks": [{"rule": c.rule, "ok": c.ok, "detail": c.detail, "fix": c.fix, "numbers": c.numbers}
                   for c in result.checks],
        "refused_by": [c.rule for c in result.refused],
        "groups": result.groups,
        "files": result.files,
        "snapshot": result.snapshot,
        "error": error,
    }


def export_segment(lake: Lake, req: ExportRequest, segments_dir: Path | None = None) -> ExportResult:
    """Export a segment for a company's campaign, or refuse; either way one audit record and one run record."""
    who = _requested_by(req)
    result: ExportResult | None = None
    with runlog.recorded(lake, "export", company=req.company) as run:
        try:
            result, table, snapshot = plan(lake, req, segments_dir)
            result.snapshot = audit.write_snapshot(lake, snapshot, table.num_rows)
            if not result.refused:  # then the table has exactly the snapshot's columns: the same Parquet bytes
                unchanged = any(c.rule == CAMPAIGN_RULE and c.numbers.get("unchanged") for c in result.checks)
                result.files = _write_files(lake, result, table, snapshot)
                if not unchanged:
                    registry.register(lake, _campaign_row(result, req, who), snapshot)
                result.status = "unchanged" if unchanged else "exported"
            else:
                result.status = "refused"
            rec = audit.append(lake, _audit_record(result, req, who, run.run_id))
            result.audit_seq = rec["seq"]
        except Exception as e:
            if result is None or result.audit_seq is None:
                audit.append(lake, _audit_record(None, req, who, run.run_id, error=f"{type(e).__name__}: {e}"[:1000]))
            raise
        run.rows_in = result.funnel[-1][1]
        run.rows_out = result.members if result.status != "refused" else 0
        run.rows_rejected = result.members if result.status == "refused" else 0
        run.files = len(result.files)
        run.status = "rejected" if result.status == "refused" else "ok"
        run.message = "refused by " + ", ".join(c.rule for c in result.refused) if result.refused else None
        run.detail = {"segment": result.segment, "definition_hash": result.version, "campaign_id": result.campaign_id,
                      "audit_seq": result.audit_seq, "groups": result.groups}
    if result.status == "refused":
        raise ExportRefused(result)
    return result


def _campaign_row(result: ExportResult, req: ExportRequest, who: str) -> dict[str, Any]:
    return {
        "campaign_id": result.campaign_id,
        "company": result.company,
        "target_company": result.target_company,
        "description": req.description or f"segment {result.segment} for {result.company}",
        "starts_on": result.starts_on,
        "ends_on": result.ends_on,
        "segment": result.segment,
        "definition_hash": result.version,
        "purpose": result.purpose,
        "holdout_share": result.holdout,
        "members": result.members,
        "snapshot_sha256": result.snapshot["sha256"] if result.snapshot else None,
        "exported_by": who,
    }


# --- listing -------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class SegmentSize:
    segment: Segment
    members: int | None  # None when the marts it reads are not built
    consented: int | None


def list_segments(lake: Lake | None, segments_dir: Path | None = None) -> list[SegmentSize]:
    """Every segment with its current size (members matching every rule, and of those with consent)."""
    segments = load_segments(segments_dir)
    if lake is None:
        return [SegmentSize(s, None, None) for s in segments]
    con = _connect(lake)
    try:
        day = as_of(con)
        out = []
        for s in segments:
            try:
                _need_marts(con, s)
            except LakeError:
                out.append(SegmentSize(s, None, None))
                continue
            every = " and ".join(f"r{i}" for i in range(1, len(s.rules) + 1))
            n, c = con.execute(f"select count(*), count(*) filter (where _consent) from "
                               f"({s.query(f'date {day.isoformat()!r}')}) where {every}").fetchone()
            out.append(SegmentSize(s, int(n), int(c)))
        return out
    finally:
        con.close()
