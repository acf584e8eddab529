"""Campaigns registered by exports, in the ops zone, where dbt reads them beside hq's campaigns.

One Parquet file per campaign (`ops/exports/campaigns/<id>.parquet`) and one with its members and arms
(`ops/exports/campaign_assignments/<id>.parquet`), with the same columns as the group zone's `campaigns` and
`campaign_assignments` plus what the export knows (segment, definition hash, holdout share, who and when). The
marts union both origins (models/models/intermediate/campaigns), so the referral marts and the campaign report treat
an exported campaign like one hq ran. Arms are `treatment` and `control` there, as in hq's feed; the export file
calls the control arm `holdout`, the word campaign owners use.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from exports import files
from exports.rules import HOLDOUT
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
ASSIGNMENTS = pa.schema([("campaign_id", pa.string()), ("gid", pa.string()), ("assigned_group", pa.string())])


def registered(lake: Lake, campaign_id: str) -> dict[str, Any] | None:
    """The registered campaign with this id, or None."""
    rel = layout.registered_campaign(campaign_id)
    if not lake.exists(layout.OPS, rel):
        return None
    rows = pq.read_table(lake.open_input(layout.OPS, rel)).to_pylist()
    return rows[0] if rows else None


def has_campaigns(lake: Lake) -> bool:
    return bool(lake.list_files(layout.OPS, f"{layout.EXPORT_REGISTRY}/campaigns"))


def register(lake: Lake, campaign: dict[str, Any], members: pa.Table) -> None:
    """Write the members first and the campaign last: a campaign file always has its members."""
    arms = pc.if_else(pc.equal(members["group"], HOLDOUT), pa.scalar("control"), pa.scalar("treatment"))
    n = members.num_rows
    assignments = pa.table(
        [pa.repeat(pa.scalar(campaign["campaign_id"], pa.string()), n), members["gid"], arms], schema=ASSIGNMENTS
    )
    rel = layout.registered_assignments(campaign["campaign_id"])
    lake.write_bytes(layout.OPS, rel, files.parquet_bytes(assignments))
    row = {**campaign, "exported_at": campaign.get("exported_at") or dt.datetime.now(dt.UTC)}
    table = pa.Table.from_pylist([row], schema=CAMPAIGNS)
    lake.write_bytes(layout.OPS, layout.registered_campaign(campaign["campaign_id"]), files.parquet_bytes(table))
