"""Retention (DESIGN §6): data older than its zone's `retention_days` is listed, and deleted on request.

A file's age is the date its data is about when its path says so (a `date=`, `purchase_date=`,
`event_date=` or `month=` partition of the raw and group zones), else the time it was written (an extract
is kept for 30 days after it arrived, whatever day it is about).
Zones with `retention_days: null` (ops) keep everything. Every deletion run is logged in the ops zone.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import uuid

import pyarrow as pa
import pyarrow.parquet as pq

from expectations.rules import SharingRules, load_rules
from lake import layout
from lake.storage import Lake

PARTITION_DATE = re.compile(r"(?:^|/)(?:date|purchase_date|event_date|month)=(\d{4}-\d{2}-\d{2})(?:/|$)")
SCHEMA = pa.schema([("zone", pa.string()), ("path", pa.string()), ("data_date", pa.date32()),
                    ("age_days", pa.int64()), ("retention_days", pa.int64()), ("days_overdue", pa.int64())])
LOG_SCHEMA = pa.schema([("run_id", pa.string()), ("zone", pa.string()), ("path", pa.string()),
                        ("age_days", pa.int64()), ("retention_days", pa.int64()),
                        ("deleted_at", pa.timestamp("us", tz="UTC"))])


def zone_kind(zone: str) -> str:
    """`raw-cvs` -> `raw`; shared zones are their own kind."""
    return zone.split("-", 1)[0]


def data_date(rel: str, mtime: dt.datetime | None) -> dt.date | None:
    if m := PARTITION_DATE.search(rel):
        return dt.date.fromisoformat(m.group(1))
    return mtime.date() if mtime else None


def inventory(lake: Lake, rules: SharingRules | None = None, today: dt.date | None = None) -> pa.Table:
    """Every file of every zone with a retention, its age and how many days it is overdue (<= 0: not)."""
    rules = rules or load_rules()
    today = today or dt.datetime.now(dt.UTC).date()
    rows = []
    for zone in layout.all_zones(list(rules.companies)):
        days = rules.retention_days.get(zone_kind(zone))
        if days is None:
            continue
        for f in lake.stat_files(zone):
            if f.rel.startswith((layout.STAGING, ".")) or "/." in f.rel:
                continue
            d = data_date(f.rel, f.mtime)
            if d is None:
                continue
            age = (today - d).days
            rows.append({"zone": zone, "path": f.rel, "data_date": d, "age_days": age,
                         "retention_days": int(days), "days_overdue": age - int(days)})
    return pa.Table.from_pylist(rows, schema=SCHEMA)


def overdue(lake: Lake, rules: SharingRules | None = None, today: dt.date | None = None) -> pa.Table:
    inv = inventory(lake, rules, today)
    import pyarrow.compute as pc

    return inv.filter(pc.greater(inv.column("days_overdue"), 0))


def apply(lake: Lake, rules: SharingRules | None = None, today: dt.date | None = None) -> pa.Table:
    """Delete everything overdue and log each deletion in the ops zone; returns what was deleted."""
    from lake import runlog

    todo = overdue(lake, rules, today)
    run_id = uuid.uuid4().hex[:16]
    with runlog.recorded(lake, "retention") as run:
        deleted = []
        for r in todo.to_pylist():
            lake.delete(r["zone"], r["path"])
            deleted.append({"run_id": run_id, "zone": r["zone"], "path": r["path"], "age_days": r["age_days"],
                            "retention_days": r["retention_days"], "deleted_at": dt.datetime.now(dt.UTC)})
        run.files = run.rows_out = len(deleted)
        run.detail = {"zones": sorted({d["zone"] for d in deleted})}
        if deleted:
            buf = io.BytesIO()
            pq.write_table(pa.Table.from_pylist(deleted, schema=LOG_SCHEMA), buf)
            lake.write_bytes(layout.OPS, layout.retention_record(dt.datetime.now(dt.UTC).isoformat(), run_id),
                             buf.getvalue())
    return todo
