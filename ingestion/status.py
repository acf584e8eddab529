"""What `lake status` shows, computed from the manifest history, the landing zones and the run log.

Nothing here writes. Files in a landing zone that the history has no batch for (or whose size or
time changed since their last batch) are `waiting`: the next `lake ingest` will read them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from expectations.rules import load_rules
from ingestion import manifest as manifests
from ingestion.engine import LandedFile, landed_files
from lake import runlog
from lake.storage import Lake


@dataclass
class FeedStatus:
    company: str
    feed: str
    live: int = 0
    rejected: int = 0
    replaced: int = 0
    retracted: int = 0
    rows_landed: int = 0  # in live batches
    rows_quarantined: int = 0
    rows_duplicate: int = 0
    rows_removed: int = 0  # by corrections and retractions
    last_landed: dt.datetime | None = None


@dataclass
class Waiting:
    source: str
    size: int
    why: str


@dataclass
class LakeStatus:
    lake: str
    feeds: list[FeedStatus] = field(default_factory=list)
    rejected: list[manifests.BatchState] = field(default_factory=list)
    waiting: list[Waiting] = field(default_factory=list)
    removed: list[manifests.BatchState] = field(default_factory=list)
    drift: list[dict[str, Any]] = field(default_factory=list)
    freshness: dict[str, tuple[dt.date | None, int | None, dt.datetime | None]] = field(default_factory=dict)
    runs: dict[str, dict[str, Any]] = field(default_factory=dict)  # stage -> its last run
    history_records: int = 0
    chain_problems: list[str] = field(default_factory=list)


def lake_status(lake: Lake, today: dt.date | None = None) -> LakeStatus:
    history = manifests.History(lake)
    st = LakeStatus(lake=lake.describe(), history_records=len(history.records))
    feeds: dict[tuple[str, str], FeedStatus] = {}
    latest: dict[str, dt.date] = {}
    landed_at: dict[str, dt.datetime] = {}
    for b in history.batches.values():
        f = feeds.setdefault((b.company, b.feed), FeedStatus(b.company, b.feed))
        if b.state == "live":
            f.live += 1
            f.rows_landed += b.rows_landed
            f.rows_quarantined += b.rows_quarantined
            f.rows_duplicate += b.rows_duplicate
            if b.finished_at and (f.last_landed is None or b.finished_at > f.last_landed):
                f.last_landed = b.finished_at
            if b.finished_at and (b.company not in landed_at or b.finished_at > landed_at[b.company]):
                landed_at[b.company] = b.finished_at
            if b.partition_key == "date" and b.partitions:
                top = dt.date.fromisoformat(max(b.partitions))
                latest[b.company] = max(latest.get(b.company, top), top)
        elif b.state in ("rejected", "duplicate"):
            f.rejected += 1
            if b.state == "rejected":
                st.rejected.append(b)
        else:
            setattr(f, b.state, getattr(f, b.state) + 1)
            f.rows_removed += b.rows_removed
            st.removed.append(b)
    st.feeds = sorted(feeds.values(), key=lambda f: (f.company, f.feed))
    today = today or dt.datetime.now(dt.UTC).date()
    for company in sorted(set(landed_at) | set(latest)):
        top = latest.get(company)
        st.freshness[company] = (top, (today - top).days if top else None, landed_at.get(company))
    st.drift = list(history.drift)
    st.waiting = _waiting(lake, history)
    for stage in ("ingest", "retract", "transform", "build", "check", "export"):
        runs = runlog.read_all(lake, stage)
        if runs.num_rows:
            st.runs[stage] = runs.slice(runs.num_rows - 1).to_pylist()[0]
    st.chain_problems = manifests.verify(lake)
    return st


def _waiting(lake: Lake, history: manifests.History) -> list[Waiting]:
    out = []
    for f in landed_files(lake, list(load_rules().companies)):
        feed = f.feed if not f.problem() else (f.feed or "_root")
        seen = history.for_source(f.company, feed, f.source)
        if not seen:
            out.append(Waiting(f.source, f.size, "new"))
            continue
        last = seen[-1]
        if last.size != f.size or (f.mtime and last.mtime and f.mtime != last.mtime):
            out.append(Waiting(f.source, f.size, _changed(f, last)))
    return out


def _changed(f: LandedFile, last: manifests.BatchState) -> str:
    what = "size" if last.size != f.size else "modification time"
    return f"{what} changed since batch {last.batch_id} ({last.state}): the next ingest compares the bytes"
