"""Alerts: a gate failure, a stale feed and a KPI below its threshold each reach a real HTTP receiver on 127.0.0.1,
once; a refused post is tried again by the next check."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dashboards.alerts import load_rules, run_alerts
from dashboards.views import load_datasets
from ingestion import manifest
from lake import layout, runlog
from tests.webhook import Receiver

RULES = {
    "gate_failure": {"kind": "gate_failure"},
    "stale_feed": {"kind": "stale_feed", "max_days_behind": 2, "max_hours_since_file": 36},
    "redemption_low": {"kind": "kpi", "dataset": "kpi_monthly", "order_by": "month",
                       "value": "coupon_redemption_rate", "below": 0.02},
}


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def _landed(lake, company: str, feed: str, day: str, hours_ago: float) -> None:
    at = dt.datetime.now(dt.UTC) - dt.timedelta(hours=hours_ago)
    manifest.write(lake, manifest.ManifestRow(
        f"{company}-{day}", company, feed, f"landing-{company}/{feed}/{company}_{feed}_{day.replace('-', '')}.csv",
        "sha", rows_read=10, rows_landed=10, started_at=at, finished_at=at))


@pytest.fixture
def alert_lake(lake):
    _landed(lake, "cvs", "pos", "2026-08-30", hours_ago=1)
    _landed(lake, "gms", "sales", "2026-08-30", hours_ago=2)
    _landed(lake, "dept", "receipts", "2026-08-25", hours_ago=1)  # 5 days behind the others: stale
    with pytest.raises(ValueError), runlog.recorded(lake, "check", company="gms"):
        raise ValueError("pii_value_pattern: 3 rows of group.purchases")
    with runlog.recorded(lake, "check", company="cvs"):
        pass  # a gate that passed: no alert
    lake.ensure_zones([layout.MARTS])
    pq.write_table(pa.Table.from_pylist([
        {"month": dt.date(2026, 7, 1), "coupon_redemption_rate": 0.01, "is_suppressed": False},  # older: not alerted
        {"month": dt.date(2026, 8, 1), "coupon_redemption_rate": 0.015, "is_suppressed": False},
        {"month": dt.date(2026, 9, 1), "coupon_redemption_rate": None, "is_suppressed": True},  # below k: not shown
    ]), lake.path(layout.MARTS, "mart_dash_kpi_monthly.parquet"))
    return lake


def _datasets():
    ds = load_datasets()  # the dashboards' own definitions of these datasets
    return {k: ds[k] for k in ("ops_runs", "ops_freshness", "kpi_monthly")}


def test_each_event_is_posted_once(alert_lake, receiver) -> None:
    first = run_alerts(alert_lake, receiver.url, rules=RULES, datasets=_datasets())
    texts = [m["text"] for m in receiver.messages]
    assert sorted(e.rule for e in first.events) == ["gate_failure", "redemption_low", "stale_feed"]
    assert all(e.state == "posted" for e in first.events)
    assert len(texts) == 3
    assert any("[gate_failure]" in t and "for gms" in t and "pii_value_pattern" in t for t in texts)
    assert any("[stale_feed]" in t and "dept/receipts" in t and "5 day(s) behind" in t for t in texts)
    assert any("[redemption_low]" in t and "2026-08-01" in t and "0.015" in t for t in texts)

    again = run_alerts(alert_lake, receiver.url, rules=RULES, datasets=_datasets())
    assert [e.state for e in again.events] == ["already"] * 3 and len(receiver.messages) == 3

    # a new gate failure is a new event
    with pytest.raises(ValueError), runlog.recorded(alert_lake, "check", company="sm"):
        raise ValueError("volume anomaly")
    third = run_alerts(alert_lake, receiver.url, rules=RULES, datasets=_datasets())
    assert [e.state for e in third.events].count("posted") == 1 and "for sm" in receiver.messages[-1]["text"]
    alerts_runs = runlog.read_all(alert_lake, "alerts").to_pylist()
    assert [r["rows_out"] for r in alerts_runs] == [3, 0, 1]


def test_a_refused_post_is_tried_again(alert_lake, receiver) -> None:
    receiver.status = 500
    run = run_alerts(alert_lake, receiver.url, rules=RULES, datasets=_datasets())
    assert {e.state for e in run.events} == {"failed"} and receiver.messages == []
    assert runlog.read_all(alert_lake, "alerts").to_pylist()[-1]["status"] == "rejected"
    receiver.status = 200
    run = run_alerts(alert_lake, receiver.url, rules=RULES, datasets=_datasets())
    assert {e.state for e in run.events} == {"posted"} and len(receiver.messages) == 3


def test_dry_run_posts_and_remembers_nothing(alert_lake, receiver) -> None:
    run = run_alerts(alert_lake, None, dry_run=True, rules=RULES, datasets=_datasets())
    assert {e.state for e in run.events} == {"dry-run"} and not alert_lake.list_files(layout.OPS, layout.ALERTS_SENT)
    assert receiver.messages == []


def test_the_rules_file_is_valid() -> None:
    rules = load_rules()
    assert {r["kind"] for r in rules.values()} == {"gate_failure", "stale_feed", "kpi"}
    datasets = load_datasets()
    assert all(r["dataset"] in datasets for r in rules.values() if r["kind"] == "kpi")
