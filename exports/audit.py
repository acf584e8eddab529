"""The export audit log: one hash-chained record per export attempt, refusals included (DESIGN §7, §9).

Records live in the ops zone as a `lake.ledger.Ledger` (`ops/audit/exports/<seq>.json`): append-only for the
export job and tamper-evident (`verify` names a removed or altered record). Each record says who asked, when,
for which company, purpose, segment and definition hash, what the rules said, the counts per group, the files
written with their hashes, and the membership snapshot: a Parquet file of (gid, campaign_id, assigned_group)
sorted by gid (for an allowed export, the export's own Parquet file) under
`ops/audit/exports/snapshots/<sha256>.parquet`, named by the hash of its bytes so the record pins its content.
"""

from __future__ import annotations

import contextlib
from typing import Any

from exports import files
from lake import layout
from lake.ledger import Ledger
from lake.storage import Lake


def ledger(lake: Lake) -> Ledger:
    return Ledger(lake, layout.OPS, layout.EXPORT_AUDIT)


def write_snapshot(lake: Lake, data: bytes, rows: int) -> dict[str, Any]:
    """Store the members (Parquet bytes) named by their hash; return the reference the audit record keeps."""
    digest = files.sha256(data)
    rel = layout.export_snapshot(digest)
    if not lake.exists(layout.OPS, rel):  # content-addressed: the same membership is stored once
        # an exclusive put, as the append-only grant on the audit prefix wants; losing a race to the same bytes is fine
        with contextlib.suppress(FileExistsError):
            lake.create_bytes(layout.OPS, rel, data)
    return {"uri": lake.uri(layout.OPS, rel), "sha256": digest, "rows": rows}


def append(lake: Lake, record: dict[str, Any]) -> dict[str, Any]:
    return ledger(lake).append(record)


def records(lake: Lake) -> list[dict[str, Any]]:
    return list(ledger(lake).records())


def verify(lake: Lake) -> list[str]:
    """Problems in the audit log (empty when intact): removed, altered or reordered records, altered snapshots."""
    return ledger(lake).verify() + snapshot_problems(lake)


def snapshot_problems(lake: Lake) -> list[str]:
    """Snapshots the audit records name that are missing or no longer hold the bytes their hash says."""
    problems = []
    for rec in ledger(lake).records():
        snap = rec.get("snapshot")
        if snap:
            rel = layout.export_snapshot(snap["sha256"])
            if not lake.exists(layout.OPS, rel):
                problems.append(f"record {rec.get('seq')}: snapshot {snap['uri']} is missing")
            elif files.sha256(lake.read_bytes(layout.OPS, rel)) != snap["sha256"]:
                problems.append(f"record {rec.get('seq')}: snapshot {snap['uri']} was altered")
    return problems
