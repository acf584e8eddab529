"""What is in the raw zone, what the transforms built the group zone from, and so what a run must redo.

The raw zone is the truth: a batch whose Parquet files are present is live; a batch that was replaced
by a correction or retracted has no files any more. The state (`ops/transforms/processed.json`)
records, per feed and date, the batches the group zone was built from and how many rows each had
when read; a date is redone when its live batches differ from those (new, replaced or removed), and
the rows of a batch that went away are known from the state, measured when it was read.

The state is written only after the group zone is published, so a failed or killed run records
nothing and is simply redone. Pure Python over small listings; no Spark here.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass, field

from lake import layout
from lake.storage import Lake

VERSION = 2


@dataclass(frozen=True)
class RawFile:
    company: str
    feed: str
    key: str  # date | snapshot
    value: str  # YYYY-MM-DD or the snapshot's batch id
    batch_id: str
    landed_at: dt.datetime
    rel: str  # path inside raw-<company>


Listing = dict[str, set[str]]  # partition value -> live batches, for one feed
Batches = dict[str, int | None]  # batch -> rows read (None: recorded by an older version, unknown)


@dataclass
class State:
    """Per `company/feed`, date -> the batches built from; per snapshot feed, the snapshot batch built from."""

    feeds: dict[str, dict[str, Batches]] = field(default_factory=dict)
    snapshots: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> bytes:
        body = {"version": VERSION, "feeds": self.feeds, "snapshots": self.snapshots}
        return json.dumps(body, indent=1, sort_keys=True).encode()

    @classmethod
    def from_json(cls, data: bytes) -> State:
        body = json.loads(data)
        if body.get("version") == VERSION:
            return cls(feeds=body["feeds"], snapshots=body["snapshots"])
        # Version 1: {"company/feed": {date: [batches]} | {"snapshot": [batch]}}, without row counts.
        out = cls()
        for key, parts in body.items():
            if set(parts) == {"snapshot"}:
                out.snapshots[key] = parts["snapshot"][0]
            else:
                out.feeds[key] = {d: dict.fromkeys(batches) for d, batches in parts.items()}
        return out


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


def by_date(files: Iterable[RawFile]) -> Listing:
    out: Listing = {}
    for f in files:
        if f.key == "date":
            out.setdefault(f.value, set()).add(f.batch_id)
    return out


def latest_snapshot(files: Iterable[RawFile]) -> RawFile | None:
    """The snapshot landed last (a full snapshot replaces every earlier one)."""
    snaps = [f for f in files if f.key == "snapshot"]
    return max(snaps, key=lambda f: (f.landed_at, f.batch_id)) if snaps else None


def read_state(lake: Lake) -> State:
    if not lake.exists(layout.OPS, layout.TRANSFORM_STATE):
        return State()
    return State.from_json(lake.read_bytes(layout.OPS, layout.TRANSFORM_STATE))


def write_state(lake: Lake, state: State) -> None:
    lake.write_bytes(layout.OPS, layout.TRANSFORM_STATE, state.to_json())


def changed_dates(live: Listing, built: dict[str, Batches]) -> set[str]:
    """Dates whose live batches differ from those the group zone was built from: new, replaced or removed
    batches, including dates whose every batch is gone (their rows must leave the group zone)."""
    return {d for d in set(live) | set(built) if live.get(d, set()) != set(built.get(d, {}))}


def removed(live: Listing, built: dict[str, Batches], dates: Iterable[str]) -> dict[str, Batches]:
    """Per date, the batches the group zone was built from that are no longer live, with their rows as read."""
    out = {}
    for d in dates:
        gone = {b: n for b, n in built.get(d, {}).items() if b not in live.get(d, set())}
        if gone:
            out[d] = gone
    return out


def all_dates(live: Listing, built: dict[str, Batches]) -> set[str]:
    return set(live) | set(built)
