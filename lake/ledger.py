"""Append-only, hash-chained records: the ingest manifests and the export audit log (DESIGN §9).

A ledger is a prefix in a zone holding one object per record, `<prefix>/<seq>.json` with a 12-digit
sequence number. Each record carries the hash of the record before it, so removing, altering or
reordering any record breaks the chain at a place `verify` names. Records are created, never rewritten:
`append` creates each object with an exclusive put (`Lake.create_bytes`), which the store refuses if the
name is taken. Writers of one ledger are serialised by the stage lock
of the job that owns it; the chain makes a lost race visible instead of silent.

What the chain cannot see by itself is the removal of the newest records (the chain is still intact up
to the new head): callers that need that keep the head they last saw (`head()`) elsewhere, for example
in their run records, and pass it to `verify(expect_at_least=...)`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from lake import layout
from lake.storage import Lake

GENESIS = "0" * 64
SEQ_DIGITS = 12


def record_hash(record: dict[str, Any]) -> str:
    """sha256 of the record's canonical JSON, without its own `hash` field."""
    body = {k: v for k, v in record.items() if k != "hash"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":"), default=str).encode()).hexdigest()


@dataclass(frozen=True)
class Head:
    seq: int  # -1 for an empty ledger
    hash: str


class Ledger:
    """One append-only, hash-chained sequence of JSON records at `zone/prefix/`."""

    def __init__(self, lake: Lake, zone: str, prefix: str) -> None:
        self.lake, self.zone, self.prefix = lake, zone, prefix.strip("/")
        self._head: Head | None = None

    def _rel(self, seq: int) -> str:
        return f"{self.prefix}/{seq:0{SEQ_DIGITS}d}.json"

    def _names(self) -> list[tuple[int, str]]:
        out = []
        for rel in self.lake.list_files(self.zone, self.prefix):
            parent, _, name = rel.rpartition("/")
            stem = name.removesuffix(".json")
            # only the ledger's own records: not files in sub-folders, not temporaries
            if parent == self.prefix and name.endswith(".json") and stem.isdigit() and len(stem) == SEQ_DIGITS:
                out.append((int(stem), rel))
        return sorted(out)

    def head(self) -> Head:
        """The newest record's sequence number and hash (cached after the first look)."""
        if self._head is None:
            names = self._names()
            if not names:
                self._head = Head(-1, GENESIS)
            else:
                last = json.loads(self.lake.read_bytes(self.zone, names[-1][1]))
                self._head = Head(names[-1][0], last["hash"])
        return self._head

    def append(self, record: dict[str, Any]) -> dict[str, Any]:
        """Add `record` (JSON-serialisable, without `seq`, `prev_hash`, `hash`) as the new head; return it."""
        reserved = {"seq", "prev_hash", "hash"} & set(record)
        if reserved:
            raise ValueError(f"ledger records may not set {sorted(reserved)}")
        head = self.head()
        full = {**record, "seq": head.seq + 1, "prev_hash": head.hash}
        full["hash"] = record_hash(full)
        rel = self._rel(head.seq + 1)
        try:
            self.lake.create_bytes(self.zone, rel, json.dumps(full, sort_keys=True, default=str).encode())
        except FileExistsError as e:
            self._head = None  # someone else appended: re-read before the caller retries
            raise FileExistsError(f"{self.lake.uri(self.zone, rel)} already exists: another writer appended") from e
        self._head = Head(full["seq"], full["hash"])
        return full

    def records(self) -> Iterator[dict[str, Any]]:
        """Every record, oldest first (as stored; use `verify` to know they are intact)."""
        for _, rel in self._names():
            yield json.loads(self.lake.read_bytes(self.zone, rel))

    def verify(self, expect_at_least: int | None = None) -> list[str]:
        """Problems found, each naming the record: gaps, altered records, broken links. Empty when intact."""
        problems: list[str] = []
        prev_hash, expected = GENESIS, 0
        for seq, rel in self._names():
            where = self.lake.uri(self.zone, rel)
            if seq != expected:
                problems.append(f"{where}: records {expected}..{seq - 1} are missing (removed)")
            try:
                rec = json.loads(self.lake.read_bytes(self.zone, rel))
            except (ValueError, UnicodeDecodeError):
                problems.append(f"{where}: not a readable record (altered)")
                prev_hash, expected = "?", seq + 1
                continue
            if rec.get("seq") != seq:
                problems.append(f"{where}: says it is record {rec.get('seq')} (moved or renamed)")
            if rec.get("hash") != record_hash(rec):
                problems.append(f"{where}: content does not match its hash (altered)")
            elif prev_hash != "?" and rec.get("prev_hash") != prev_hash:
                problems.append(f"{where}: does not follow the record before it (an earlier record was altered "
                                "or replaced)")
            prev_hash, expected = rec.get("hash", "?"), seq + 1
        if expect_at_least is not None and expected - 1 < expect_at_least:
            problems.append(f"{self.lake.uri(self.zone, self.prefix)}: ends at record {expected - 1} but record "
                            f"{expect_at_least} was written (the newest records were removed)")
        return problems


def _is_record(name: str) -> bool:
    stem = name.removesuffix(".json")
    return name.endswith(".json") and stem.isdigit() and len(stem) == SEQ_DIGITS


def ledgers(lake: Lake) -> dict[str, Ledger]:
    """Every ledger of the lake by name: the known ones (`layout.LEDGERS`, even while empty) and any other
    folder of the ops zone holding records, so a ledger added later is verified without being listed here."""
    found = {name: Ledger(lake, layout.OPS, prefix) for name, prefix in layout.LEDGERS.items()}
    known = {led.prefix for led in found.values()}
    folders = {rel.rpartition("/")[0] for rel in lake.list_files(layout.OPS) if _is_record(rel.rpartition("/")[2])}
    for folder in sorted(folders - known - {""}):
        found[folder] = Ledger(lake, layout.OPS, folder)
    return found


@dataclass(frozen=True)
class LedgerReport:
    name: str
    uri: str
    records: int
    head: int  # seq of the newest record, -1 when empty
    problems: list[str]


def verify_all(lake: Lake, expect_at_least: dict[str, int] | None = None) -> list[LedgerReport]:
    """Verify every ledger of the lake (`ledgers`); each problem names the removed, altered or moved record.

    `expect_at_least` maps a ledger's name to the newest record its owner knows was written (for example
    from its run records), which is how removing the newest records, or all of them, is caught.
    """
    expect_at_least = expect_at_least or {}
    reports = []
    for name, led in ledgers(lake).items():
        names = led._names()
        problems = led.verify(expect_at_least.get(name))
        reports.append(LedgerReport(name, lake.uri(layout.OPS, led.prefix), len(names),
                                    names[-1][0] if names else -1, problems))
    return reports
