"""Ingest manifests: the append-only, hash-chained history of every file and batch (DESIGN §4, §9).

One ledger record (`lake.ledger`) per event, never rewritten or deleted:
  landed     a file's batch reached the raw zone: the manifest row of DESIGN §4 (`replaces` names the
             batch a correction replaced)
  rejected   a file was quarantined whole (`reason`, `detail`)
  duplicate  a file had the same bytes as a live batch of its feed
  replaced   a live batch gave way to a re-delivery under the same name with new bytes
  retracted  a live batch was removed on purpose (`lake retract`)
  drift      a landed file had columns its contract does not declare (their names, the policy)
The current state of every batch is derived from the history (`History`): that is what `lake
status`, reconciliation and the transforms read (`batch_states`, `live_batches`).
Invariant of every landed record: `rows_read = rows_landed + rows_quarantined`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from lake import layout
from lake.ledger import Ledger
from lake.storage import Lake

EVENTS = ("landed", "rejected", "duplicate", "replaced", "retracted", "drift")
STATES = ("live", "replaced", "retracted", "rejected", "duplicate")  # of a batch, derived


@dataclass
class ManifestRow:
    """One file's batch: what was read and where it went (the record of a `landed`, `rejected` or
    `duplicate` event)."""

    batch_id: str
    company: str
    feed: str
    source: str
    sha256: str
    size: int = 0  # bytes as stored in the landing zone
    mtime: str | None = None  # the landing file's modification time, as listed (ISO)
    rows_read: int = 0
    rows_landed: int = 0
    rows_quarantined: int = 0  # includes rows_duplicate
    rows_redacted: int = 0  # landed, with PII removed from free text
    rows_duplicate: int = 0  # records repeating an earlier record of the same file
    started_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    finished_at: dt.datetime | None = None
    status: str = "landed"  # landed | rejected | duplicate
    reason: str | None = None  # file-level reason (rejected, duplicate)
    detail: str | None = None  # rejected: what was wrong; landed: JSON of quarantined rows per reason
    contract: str | None = None
    partition_key: str | None = None  # date | snapshot
    partitions: list[str] = field(default_factory=list)
    replaces: str | None = None  # the batch this re-delivery replaced
    drift: list[str] = field(default_factory=list)  # undeclared columns the file had (not landed)
    run_id: str | None = None

    def reconciles(self) -> bool:
        return self.rows_read == self.rows_landed + self.rows_quarantined

    @property
    def event(self) -> str:
        return self.status

    def record(self) -> dict[str, Any]:
        d = asdict(self)
        d["started_at"] = self.started_at.isoformat()
        d["finished_at"] = self.finished_at.isoformat() if self.finished_at else None
        return {"event": self.event, "event_id": f"{self.event}:{self.batch_id}", **d}


@dataclass
class BatchState:
    """A batch as the history leaves it: the manifest row plus its current state."""

    row: ManifestRow
    state: str  # one of STATES
    replaced_by: str | None = None
    removed_at: str | None = None  # replaced or retracted: when
    removed_by: str | None = None  # and by whom
    removed_why: str | None = None
    rows_removed: int = 0  # rows that left raw when it was replaced or retracted

    def __getattr__(self, name: str) -> Any:  # batch_id, company, rows_landed, ... of the manifest row
        return getattr(self.__dict__["row"], name)

    @property
    def live(self) -> bool:
        return self.state == "live"

    def raw_files(self) -> list[str]:
        """Paths of this batch's files in `raw-<company>`."""
        return [layout.raw_file(self.feed, self.partition_key or "date", p, self.batch_id) for p in self.partitions]


SCHEMA = pa.schema([
    ("batch_id", pa.string()),
    ("company", pa.string()),
    ("feed", pa.string()),
    ("source", pa.string()),
    ("sha256", pa.string()),
    ("size", pa.int64()),
    ("rows_read", pa.int64()),
    ("rows_landed", pa.int64()),
    ("rows_quarantined", pa.int64()),
    ("rows_redacted", pa.int64()),
    ("rows_duplicate", pa.int64()),
    ("started_at", pa.timestamp("us", tz="UTC")),
    ("finished_at", pa.timestamp("us", tz="UTC")),
    ("status", pa.string()),
    ("reason", pa.string()),
    ("detail", pa.string()),
    ("contract", pa.string()),
    ("partition_key", pa.string()),
    ("partitions", pa.list_(pa.string())),
    ("replaces", pa.string()),
    ("drift", pa.list_(pa.string())),
    ("state", pa.string()),
    ("replaced_by", pa.string()),
    ("removed_at", pa.timestamp("us", tz="UTC")),
    ("removed_by", pa.string()),
    ("removed_why", pa.string()),
    ("rows_removed", pa.int64()),
])

_ROW_FIELDS = {f.name for f in fields(ManifestRow)}


def _row(rec: dict[str, Any]) -> ManifestRow:
    d = {k: rec[k] for k in _ROW_FIELDS if k in rec}
    d["started_at"] = dt.datetime.fromisoformat(d["started_at"])
    d["finished_at"] = dt.datetime.fromisoformat(d["finished_at"]) if d.get("finished_at") else None
    return ManifestRow(**d)


def ledger(lake: Lake) -> Ledger:
    return Ledger(lake, layout.OPS, layout.MANIFESTS)


class History:
    """The ingest history of a lake, and the state of every batch derived from it.

    `append` is idempotent per event (`event_id`), so a publish rolled forward after a crash never
    records an event twice.
    """

    def __init__(self, lake: Lake) -> None:
        self.lake = lake
        self.ledger = ledger(lake)
        self.records: list[dict[str, Any]] = []
        self.event_ids: set[str] = set()
        self.batches: dict[str, BatchState] = {}
        self.drift: list[dict[str, Any]] = []
        self._by_source: dict[tuple[str, str, str], list[BatchState]] = {}
        for rec in self.ledger.records():
            self._apply(rec)

    def _apply(self, rec: dict[str, Any]) -> None:
        self.records.append(rec)
        self.event_ids.add(rec.get("event_id", ""))
        event = rec["event"]
        if event in ("landed", "rejected", "duplicate"):
            row = _row(rec)
            state = {"landed": "live", "rejected": "rejected", "duplicate": "duplicate"}[event]
            prev = self.batches.get(row.batch_id)
            batch = self.batches[row.batch_id] = BatchState(row, state)
            same = self._by_source.setdefault((row.company, row.feed, row.source), [])
            if prev in same:  # a batch recorded again (a rejected file retried) keeps one place
                same.remove(prev)
            same.append(batch)
            if row.replaces and row.replaces in self.batches:
                self._remove(row.replaces, "replaced", rec, replaced_by=row.batch_id)
        elif event in ("replaced", "retracted"):
            self._remove(rec["batch_id"], event, rec, replaced_by=rec.get("replaced_by"))
        elif event == "drift":
            self.drift.append(rec)

    def _remove(self, batch_id: str, state: str, rec: dict[str, Any], replaced_by: str | None = None) -> None:
        b = self.batches.get(batch_id)
        if b is None:
            return
        if b.state == "live":
            b.state = state
            b.rows_removed = b.rows_landed
            b.removed_at = rec.get("at") or rec.get("finished_at")
        b.replaced_by = replaced_by or b.replaced_by
        b.removed_by = rec.get("by") or b.removed_by
        b.removed_why = rec.get("why") or b.removed_why

    def append(self, rec: dict[str, Any]) -> bool:
        """Record one event unless it is already recorded; True when it was appended."""
        if rec["event_id"] in self.event_ids:
            return False
        self._apply(self.ledger.append(rec))
        return True

    # --- queries ------------------------------------------------------------------------------

    def for_source(self, company: str, feed: str, source: str) -> list[BatchState]:
        """Every batch that came from one landing path, oldest first."""
        return list(self._by_source.get((company, feed, source), ()))

    def live_for_source(self, company: str, feed: str, source: str) -> BatchState | None:
        return next((b for b in reversed(self._by_source.get((company, feed, source), ())) if b.live), None)

    def live_with_sha(self, company: str, feed: str, sha: str) -> BatchState | None:
        """A live batch of the feed with these bytes (a resend under another name is a duplicate of it)."""
        for (c, f, _), batches in self._by_source.items():
            if (c, f) == (company, feed):
                for b in batches:
                    if b.live and b.sha256 == sha:
                        return b
        return None

    def live(self) -> list[BatchState]:
        return [b for b in self.batches.values() if b.live]

    def table(self) -> pa.Table:
        return states_table(self.batches.values())


def states_table(batches: Iterable[BatchState]) -> pa.Table:
    rows = []
    for b in batches:
        d = asdict(b.row)
        d.update(state=b.state, replaced_by=b.replaced_by, removed_by=b.removed_by, removed_why=b.removed_why,
                 rows_removed=b.rows_removed,
                 removed_at=dt.datetime.fromisoformat(b.removed_at) if b.removed_at else None)
        rows.append({k: d.get(k) for k in SCHEMA.names})
    if not rows:
        return SCHEMA.empty_table()
    return pa.Table.from_pylist(rows, schema=SCHEMA).sort_by(
        [("company", "ascending"), ("feed", "ascending"), ("source", "ascending"), ("started_at", "ascending")])


def write_table(lake: Lake, history: History) -> None:
    """Materialise every batch's current state as one Parquet file (`layout.manifest_table`) for SQL readers.

    Derived from the ledger, never a source of truth; a reader sees the previous table or the new one.
    """
    buf = pa.BufferOutputStream()
    pq.write_table(history.table(), buf, compression="zstd")
    final = layout.manifest_table()
    if lake.is_s3:  # a put replaces the object whole
        lake.write_bytes(layout.OPS, final, buf.getvalue().to_pybytes())
        return
    tmp = f"{final.rsplit('/', 1)[0]}/.batches.parquet.tmp"
    lake.write_bytes(layout.OPS, tmp, buf.getvalue().to_pybytes())
    lake.move(layout.OPS, tmp, layout.OPS, final)


# --- what other stages call -------------------------------------------------------------------

def write(lake: Lake, row: ManifestRow) -> None:
    """Record one batch outside an ingest run (fixtures, a backfill): its event joins the history and the
    batch table is refreshed. The batch's files must already be in place, as ingestion guarantees."""
    history = History(lake)
    history.append(row.record())
    write_table(lake, history)


def read_all(lake: Lake) -> pa.Table:
    """The current state of every batch ever recorded, one row each (an empty table before any ingest)."""
    return History(lake).table()


def batch_states(lake: Lake) -> list[BatchState]:
    """Every batch with its state (`live`, `replaced`, `retracted`, `rejected`, `duplicate`), oldest first."""
    return list(History(lake).batches.values())


def live_batches(lake: Lake, company: str | None = None, feed: str | None = None) -> dict[str, BatchState]:
    """The batches whose rows are in the raw zone now, by batch id: the set the transforms should see.

    A batch's files are in place before its `landed` record is written and are deleted only after
    its `replaced` or `retracted` record, so filtering raw files by this set never sees half a change.
    """
    return {b.batch_id: b for b in History(lake).live()
            if (company is None or b.company == company) and (feed is None or b.feed == feed)}


def recorded_head(lake: Lake) -> int | None:
    """The newest manifest record the last ingest run says it wrote (kept in the run log, outside the ledger),
    or None before any run recorded one."""
    import json

    from lake import runlog

    runs = runlog.read_all(lake, "ingest")
    for detail in reversed(runs.column("detail").to_pylist() if runs.num_rows else []):
        head = json.loads(detail).get("ledger_head") if detail else None
        if head is not None:
            return int(head)
    return None


def verify(lake: Lake) -> list[str]:
    """Problems in the manifest history's hash chain (empty when intact), checked against the head the
    last ingest run recorded, so removing the newest records is caught too."""
    return ledger(lake).verify(expect_at_least=recorded_head(lake))
