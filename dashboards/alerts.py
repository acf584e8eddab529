"""Alerts to a Slack-compatible webhook (DESIGN §11): gate failures, stale company feeds, KPIs crossing a threshold.

Rules live in `alerts.yml` and are evaluated on the dashboards' own datasets (`dashboards.views.connect`), so an
alert and the chart beside it agree. Each event has a stable id (the gate run; the feed and the business day it
is stuck at; the KPI and its period): it is posted once, and recorded in the ops zone only after the webhook
accepted it, so a failed post is tried again by the next check and a successful one never repeats.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from dashboards import views
from lake import layout, runlog
from lake.config import REPO_ROOT
from lake.errors import LakeError
from lake.storage import Lake

ALERTS_FILE = REPO_ROOT / "dashboards" / "alerts.yml"
KINDS = ("gate_failure", "stale_feed", "kpi")


@dataclass
class AlertEvent:
    rule: str
    event_id: str  # stable: the same situation gives the same id
    text: str
    state: str = "new"  # new | posted | already | dry-run | failed


@dataclass
class AlertRun:
    events: list[AlertEvent] = field(default_factory=list)

    def counts(self) -> str:
        c = Counter(e.state for e in self.events)
        return ", ".join(f"{n} {s}" for s, n in sorted(c.items())) or "nothing to report"


def load_rules(path: Path = ALERTS_FILE) -> dict[str, dict[str, Any]]:
    try:
        rules = yaml.safe_load(path.read_text(encoding="utf-8"))["rules"]
    except (OSError, KeyError, TypeError, yaml.YAMLError) as e:
        raise LakeError(f"{path} cannot be read: {e!r}", "restore it from git") from e
    for name, r in rules.items():
        if r.get("kind") not in KINDS:
            raise LakeError(f"{path.name}: rule {name!r} has kind {r.get('kind')!r}", f"use one of {KINDS}")
        if r["kind"] == "kpi" and not ({"dataset", "order_by", "value"} <= set(r) and ({"below", "above"} & set(r))):
            raise LakeError(f"{path.name}: KPI rule {name!r} needs dataset, order_by, value and below or above",
                            "see the comment at the top of the file")
    return rules


def evaluate(con, rules: dict[str, dict[str, Any]]) -> list[AlertEvent]:
    """The events the rules see now, on a connection with the dashboards' views (pure: posts nothing)."""
    out: list[AlertEvent] = []
    for name, r in rules.items():
        if r["kind"] == "gate_failure":
            rows = con.execute(
                "select run_id, company, status, started_at, coalesce(message, '') from ops_runs "
                "where stage = 'check' and status <> 'ok' order by started_at").fetchall()
            for run_id, company, status, at, msg in rows:
                who = "" if company == "all" else f" for {company}"
                out.append(AlertEvent(name, f"gate_failure:{run_id}",
                                      f"quality gate {status}{who} at {at:%Y-%m-%d %H:%M} UTC: {msg}".rstrip(": ")))
        elif r["kind"] == "stale_feed":
            rows = con.execute(
                "select company, feed, last_file_date, days_behind_newest, hours_since_last_file from ops_freshness "
                "where days_behind_newest > ? or hours_since_last_file > ? order by company, feed",
                [r.get("max_days_behind", 2), r.get("max_hours_since_file", 36)]).fetchall()
            for company, feed, last_day, behind, hours in rows:
                out.append(AlertEvent(
                    name, f"stale_feed:{company}:{feed}:{last_day}",
                    f"{company}/{feed} is stale: newest business day {last_day} ({behind} day(s) behind the newest "
                    f"feed), last file {hours:.0f} h ago"))
        else:
            row = con.execute(
                f"select {r['order_by']}, {r['value']} from {r['dataset']} where {r['value']} is not null "
                f"order by {r['order_by']} desc limit 1").fetchone()
            if row is None:
                continue
            period, value = row
            crossed = ("below", r["below"]) if "below" in r and value < r["below"] else (
                ("above", r["above"]) if "above" in r and value > r["above"] else None)
            if crossed:
                out.append(AlertEvent(
                    name, f"kpi:{name}:{period}",
                    f"{r['value']} of {r['dataset']} for {period} is {value:.4g}, {crossed[0]} {crossed[1]:g}"
                    f"{': ' + r['description'] if r.get('description') else ''}"))
    return out


def _record_path(event_id: str) -> str:
    return layout.alert_sent(hashlib.sha256(event_id.encode()).hexdigest()[:32])


def post(webhook: str, text: str, timeout: float = 10.0) -> None:
    """One message to a Slack-compatible incoming webhook (JSON `{"text": ...}`)."""
    body = json.dumps({"text": text}).encode()
    req = urllib.request.Request(webhook, data=body, headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(req, timeout=timeout) as r:
        if not 200 <= r.status < 300:
            raise urllib.error.HTTPError(webhook, r.status, "webhook refused the message", r.headers, None)


def run_alerts(lake: Lake, webhook: str | None, dry_run: bool = False,
               rules: dict[str, dict[str, Any]] | None = None, datasets: dict | None = None) -> AlertRun:
    """Evaluate, post what is new, remember what was posted. Recorded in the run log (stage `alerts`)."""
    rules = rules if rules is not None else load_rules()
    result = AlertRun()
    with runlog.recorded(lake, "alerts") as run:
        con = views.connect(lake, datasets)
        try:
            result.events = evaluate(con, rules)
        finally:
            con.close()
        for ev in result.events:
            rel = _record_path(ev.event_id)
            if lake.exists(layout.OPS, rel):
                ev.state = "already"
            elif dry_run or not webhook:
                ev.state = "dry-run"
            else:
                try:
                    post(webhook, f"[{ev.rule}] {ev.text}")
                except (urllib.error.URLError, OSError, ValueError) as e:
                    ev.state = "failed"
                    run.message = f"{ev.event_id}: {e}"[:500]
                    continue
                record = {"event_id": ev.event_id, "rule": ev.rule, "text": ev.text,
                          "posted_at": dt.datetime.now(dt.UTC).isoformat()}
                lake.write_bytes(layout.OPS, rel, json.dumps(record).encode())
                ev.state = "posted"
        run.rows_in = len(result.events)
        run.rows_out = sum(e.state == "posted" for e in result.events)
        run.rows_rejected = sum(e.state == "failed" for e in result.events)
        if run.rows_rejected:
            run.status = "rejected"
    return result
