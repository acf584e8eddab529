"""What is in the raw zone, what the transforms already processed, and so what a run must do.

Pure Python over small listings: which (company, feed, date) partitions have batches the group zone
has not seen yet. The processed set lives in the ops zone (`transforms/processed.json`), written
only after the group zone is written, so a killed run is simply re-done.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from dataclasses import dataclass

from lake import layout
from lake.storage import Lake

STATE = "transforms/processed.json"


@dataclass(frozen=True)
class RawFile:
    company: str
    feed: str
    key: str  # date | snapshot
    value: str  # YYYY-MM-DD or the snapshot's batch id
    batch_id: str
    landed_at: dt.datetime
    rel: str  # path inside raw-<company>


Listing = dict[str, dict[str, dict[str, dt.datetime]]]  # "company/feed" -> partition value -> {batch: landed}


def list_raw(lake: Lake, company: str, feed: str) -> list[RawFile]:
    """Published raw files of one feed (staging folders and hidden files skipped), with landing times."""
    out = []
    for f in lake.stat_files(layout.raw(company), feed):
        parsed = layout.parse_raw_file(f.rel)
        if parsed is None:
            continue
        _, key, value, batch = parsed
        landed = f.mtime or dt.datetime.fromtimestamp(0, dt.UTC)
        out.append(RawFile(company, feed, key, value, batch, landed, f.rel))
    return out


def as_listing(files: list[RawFile]) -> Listing:
    out: Listing = defaultdict(lambda: defaultdict(dict))
    for f in files:
        out[f"{f.company}/{f.feed}"][f.value][f.batch_id] = f.landed_at
    return out


def latest_snapshot(files: list[RawFile]) -> RawFile | None:
    """The snapshot landed last (a full snapshot replaces every earlier one)."""
    snaps = [f for f in files if f.key == "snapshot"]
    return max(snaps, key=lambda f: (f.landed_at, f.batch_id)) if snaps else None


def read_state(lake: Lake) -> dict[str, dict[str, list[str]]]:
    if not lake.exists(layout.OPS, STATE):
        return {}
    return json.loads(lake.read_bytes(layout.OPS, STATE))


def write_state(lake: Lake, state: dict[str, dict[str, list[str]]]) -> None:
    lake.write_bytes(layout.OPS, STATE, json.dumps(state, indent=1, sort_keys=True).encode())


def pending_dates(current: dict[str, dict[str, dt.datetime]], done: dict[str, list[str]]) -> set[str]:
    """Dates whose set of batches differs from the set processed last time (new, re-sent or removed)."""
    return {d for d, batches in current.items() if sorted(batches) != sorted(done.get(d, []))}


def record(state: dict[str, dict[str, list[str]]], feed_key: str, current: dict[str, dict[str, dt.datetime]],
           values: set[str]) -> None:
    slot = state.setdefault(feed_key, {})
    for v in values:
        if v in current:
            slot[v] = sorted(current[v])
