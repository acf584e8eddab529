"""The segment export as an AWS Lambda function (`exports.lambda_handler.handler`, deployed by infra/cloud).

The event names what `lake export` takes on the command line; the function calls the same `export_segment` (or
`plan` for a dry run), so the rules, files, registry, audit log and run records are the same. A refusal is an
answer, not an error: it comes back with `status: refused` and the failed rules (a raised exception would make an
asynchronous invocation retry). Errors a caller can fix come back as `status: error` with the fix.

    {"segment": "cvs_baby_elsewhere", "company": "cvs", "purpose": "coupon_campaign", "campaign_id": "CVS-BABY-1",
     "holdout": 0.1, "target_company": "baby", "starts_on": "2026-11-01", "ends_on": "2026-11-28",
     "description": "...", "requested_by": "someone@cvs", "dry_run": false, "lake": "s3://"}

The lake is `event["lake"]`, else `LAKE_URI` (set by the deployment).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from lake.errors import LakeError

FIELDS = ("segment", "company", "purpose", "campaign_id", "holdout", "target_company", "starts_on", "ends_on",
          "description", "requested_by", "dry_run", "lake")


def _request(event: dict[str, Any], context: Any):
    from exports.export import DEFAULT_HOLDOUT, ExportRequest

    unknown = sorted(set(event) - set(FIELDS))
    if unknown:
        raise LakeError(f"unknown event fields {unknown}", f"use only {list(FIELDS)}")
    for key in ("segment", "company"):
        if not event.get(key):
            raise LakeError(f"the event has no {key!r}", "name the segment and the requesting company")

    def day(key: str) -> dt.date | None:
        value = event.get(key)
        try:
            return dt.date.fromisoformat(value) if value else None
        except (TypeError, ValueError) as e:
            raise LakeError(f"{key} {value!r} is not a date", "use YYYY-MM-DD") from e

    try:
        holdout = float(event.get("holdout", DEFAULT_HOLDOUT))
    except (TypeError, ValueError) as e:
        raise LakeError(f"holdout {event.get('holdout')!r} is not a number", "use a share such as 0.1") from e
    who = event.get("requested_by") or f"lambda:{getattr(context, 'function_name', 'export')}"
    return ExportRequest(segment=str(event["segment"]), company=str(event["company"]), purpose=event.get("purpose"),
                         campaign_id=event.get("campaign_id"), holdout=holdout,
                         target_company=event.get("target_company"), starts_on=day("starts_on"),
                         ends_on=day("ends_on"), description=event.get("description"), requested_by=who)


def summary(result: Any) -> dict[str, Any]:
    """The JSON answer: what the export did (or would do), with every check."""
    return {
        "status": result.status,
        "segment": result.segment,
        "definition_hash": result.version,
        "company": result.company,
        "purpose": result.purpose,
        "campaign_id": result.campaign_id,
        "target_company": result.target_company,
        "starts_on": result.starts_on.isoformat(),
        "ends_on": result.ends_on.isoformat(),
        "data_as_of": result.as_of.isoformat(),
        "holdout": result.holdout,
        "funnel": [{"step": label, "members": n} for label, n in result.funnel],
        "checks": [{"rule": c.rule, "ok": c.ok, "detail": c.detail, "fix": c.fix} for c in result.checks],
        "refused_by": [c.rule for c in result.refused],
        "groups": result.groups,
        "files": result.files,
        "audit_seq": result.audit_seq,
    }


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Export (or dry-run) one segment for one company; returns a JSON-serialisable summary."""
    from exports.export import ExportRefused, export_segment, plan
    from lake.storage import open_lake

    try:
        if not isinstance(event, dict):
            raise LakeError("the event must be a JSON object", "see the module docstring for its fields")
        req = _request(event, context)
        lake = open_lake(event.get("lake"))
        if event.get("dry_run"):
            return summary(plan(lake, req).result)
        return summary(export_segment(lake, req))
    except ExportRefused as e:
        return {**summary(e.result), "message": e.what, "fix": e.fix}
    except LakeError as e:
        return {"status": "error", "error": e.what, "fix": e.fix}
