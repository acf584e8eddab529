"""Campaigns registered by exports, in the ops zone, where dbt reads them beside hq's campaigns.

One Parquet file per campaign (`ops/exports/campaigns/<id>.parquet`: the group zone's `campaigns` columns plus what
the export knows: segment, definition hash, holdout share, who and when) and its members and arms
(`ops/exports/campaign_assignments/<id>.parquet`: the export's own Parquet file, byte for byte, so what the marts
measure is what the company received; its columns are hq's `campaign_assignments`). The marts union both origins
(models/models/intermediate/campaigns), so the referral marts and the campaign report treat an exported campaign
like one hq ran.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from exports import files
from lake import layout
from lake.storage import Lake

CAMPAIGNS = pa.schema([
    ("campaign_id", pa.string()),
    ("company", pa.string()),
    ("target_company", pa.string()),
    ("description", pa.string()),
    ("starts_on", pa.date32()),
    ("ends_on", pa.date32()),
    ("segment", pa.string()),
    ("definition_hash", pa.string()),
    ("purpose", pa.string()),
    ("holdout_share", pa.float64()),
    ("members", pa.int64()),
    ("snapshot_sha256", pa.string()),
    ("exported_by", pa.string()),
    ("exported_at", pa.timestamp("us", tz="UTC")),
])


def registered(lake: Lake, campaign_id: str) -> dict[str, Any] | None:
    """The registered campaign with this id, or None."""
    rel = layout.registered_campaign(campaign_id)
    if not lake.exists(layout.OPS, rel):
        return None
    rows = pq.read_table(lake.open_input(layout.OPS, rel)).to_pylist()
    return rows[0] if rows else None


def has_campaigns(lake: Lake) -> bool:
    return bool(lake.list_files(layout.OPS, f"{layout.EXPORT_REGISTRY}/campaigns"))


def register(lake: Lake, campaign: dict[str, Any], export_parquet: bytes) -> None:
    """Write the members (the export's Parquet file) first and the campaign last: a campaign always has members."""
    lake.write_bytes(layout.OPS, layout.registered_assignments(campaign["campaign_id"]), export_parquet)
    row = {**campaign, "exported_at": campaign.get("exported_at") or dt.datetime.now(dt.UTC)}
    table = pa.Table.from_pylist([row], schema=CAMPAIGNS)
    lake.write_bytes(layout.OPS, layout.registered_campaign(campaign["campaign_id"]), files.parquet_bytes(table))
