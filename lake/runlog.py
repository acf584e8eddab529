"""Run metrics: every stage appends one row per run to the ops zone (DESIGN §11, §12).

The rows form a minute-grain time series (files, rows in and out, rejections, duration, status) that
the Operations dashboard, the alerts and the scheduler read. A stage records its own runs, so a run
started by the CLI, by Dagster or by a test is recorded the same way: wrap the work in `recorded(...)`.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from lake import layout
from lake.storage import Lake

SCHEMA = pa.schema([
    ("run_id", pa.string()),
    ("stage", pa.string()),  # ingest | transform | build | check | export | retention | ...
    ("company", pa.string()),  # null when the run is not about one company
    ("feed", pa.string()),
    ("started_at", pa.timestamp("us", tz="UTC")),
    ("finished_at", pa.timestamp("us", tz="UTC")),
    ("seconds", pa.float64()),
    ("status", pa.string()),  # ok | rejected (finished, but refused some input) | failed
    ("files", pa.int64()),
    ("rows_in", pa.int64()),
    ("rows_out", pa.int64()),
    ("rows_rejected", pa.int64()),
    ("message", pa.string()),
    ("detail", pa.string()),  # JSON: stage-specific figures
])
STATUSES = ("ok", "rejected", "failed")


@dataclass
class RunRecord:
    """One run of one stage; the counters are filled in by the stage while it works."""

    stage: str
    company: str | None = None
    feed: str | None = None
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:16])
    started_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    finished_at: dt.datetime | None = None
    status: str = "ok"
    files: int = 0
    rows_in: int = 0
    rows_out: int = 0
    rows_rejected: int = 0
    message: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    def row(self) -> dict[str, Any]:
        d = asdict(self)
        end = self.finished_at or dt.datetime.now(dt.UTC)
        d["finished_at"] = end
        d["seconds"] = (end - self.started_at).total_seconds()
        d["detail"] = json.dumps(self.detail, default=str, sort_keys=True) if self.detail else None
        return d


def write(lake: Lake, record: RunRecord) -> None:
    """Append one run (a new object per run: appending never rewrites what is there)."""
    if record.status not in STATUSES:
        raise ValueError(f"run status {record.status!r} is not one of {STATUSES}")
    buf = io.BytesIO()
    pq.write_table(pa.Table.from_pylist([record.row()], schema=SCHEMA), buf)
    rel = layout.run_record(record.stage, record.started_at.isoformat(), record.run_id)
    lake.write_bytes(layout.OPS, rel, buf.getvalue())


@contextmanager
def recorded(lake: Lake, stage: str, company: str | None = None, feed: str | None = None) -> Iterator[RunRecord]:
    """Record the run of `stage`: `ok` unless the stage set another status, `failed` on an exception."""
    record = RunRecord(stage=stage, company=company, feed=feed)
    try:
        yield record
    except BaseException as e:
        record.status = "failed"
        record.message = record.message or f"{type(e).__name__}: {e}"[:500]
        raise
    finally:
        record.finished_at = dt.datetime.now(dt.UTC)
        write(lake, record)


def read_all(lake: Lake, stage: str | None = None) -> pa.Table:
    """Every recorded run (of one stage), oldest first; an empty table when none was recorded."""
    prefix = f"{layout.RUNS}/stage={stage}" if stage else layout.RUNS
    files = [f for f in lake.list_files(layout.OPS, prefix) if f.endswith(".parquet")]
    if not files:
        return SCHEMA.empty_table()
    tables = [pq.read_table(lake.open_input(layout.OPS, f), schema=SCHEMA) for f in files]
    return pa.concat_tables(tables).sort_by([("started_at", "ascending")])
