"""Run manifests: one row per landed file, the commit record of ingestion (DESIGN §4).

A file's manifest row is written last, after its data is published, so a manifest row means
the batch is complete. `rows_read = rows_landed + rows_quarantined` holds for every row.
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import asdict, dataclass, field

import pyarrow as pa
import pyarrow.parquet as pq

from lake import layout
from lake.storage import Lake

SCHEMA = pa.schema([
    ("batch_id", pa.string()),
    ("company", pa.string()),
    ("feed", pa.string()),
    ("source", pa.string()),
    ("sha256", pa.string()),
    ("rows_read", pa.int64()),
    ("rows_landed", pa.int64()),
    ("rows_quarantined", pa.int64()),
    ("rows_redacted", pa.int64()),
    ("started_at", pa.timestamp("us", tz="UTC")),
    ("finished_at", pa.timestamp("us", tz="UTC")),
    ("status", pa.string()),  # landed | rejected | duplicate
    ("reason", pa.string()),
    ("detail", pa.string()),
    ("contract", pa.string()),
    ("partitions", pa.list_(pa.string())),
])


@dataclass
class ManifestRow:
    batch_id: str
    company: str
    feed: str
    source: str
    sha256: str
    rows_read: int = 0
    rows_landed: int = 0
    rows_quarantined: int = 0
    rows_redacted: int = 0
    started_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    finished_at: dt.datetime | None = None
    status: str = "landed"
    reason: str | None = None
    detail: str | None = None
    contract: str | None = None
    partitions: list[str] = field(default_factory=list)

    def reconciles(self) -> bool:
        return self.rows_read == self.rows_landed + self.rows_quarantined

    def to_parquet(self) -> bytes:
        buf = io.BytesIO()
        pq.write_table(pa.Table.from_pylist([asdict(self)], schema=SCHEMA), buf)
        return buf.getvalue()

    @classmethod
    def from_dict(cls, d: dict) -> ManifestRow:
        return cls(**{k: d[k] for k in SCHEMA.names})


def write(lake: Lake, row: ManifestRow) -> None:
    if not row.reconciles():  # a bug, never a data problem: refuse to commit it
        raise AssertionError(f"manifest for {row.source} does not reconcile: {row}")
    lake.write_bytes(layout.OPS, layout.manifest(row.company, row.feed, row.batch_id), row.to_parquet())


def read_all(lake: Lake) -> pa.Table:
    """Every manifest row in the lake (empty table when nothing has been ingested)."""
    files = [f for f in lake.list_files(layout.OPS, layout.MANIFESTS) if f.endswith(".parquet")]
    if not files:
        return SCHEMA.empty_table()
    tables = [pq.read_table(lake.open_input(layout.OPS, f), schema=SCHEMA) for f in files]
    return pa.concat_tables(tables).sort_by([("company", "ascending"), ("feed", "ascending"),
                                             ("source", "ascending")])
