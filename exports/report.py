"""`lake campaign report`: what a campaign did, read from the `mart_campaign_report` mart (DESIGN §7).

The numbers are the mart's (dbt computes them, notebooks and dashboards read the same rows); this module only finds
the campaign, says when the marts do not measure it yet, and gives the rows in a fixed order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from exports import registry
from lake import analyst
from lake.errors import LakeError
from lake.storage import Lake

MART = "mart_campaign_report"
METRICS = {  # order and wording of the report
    "redemption_rate": "coupon redemption (share of members)",
    "referral_rate": "referral: first purchase at the target brand (share of members new to it)",
    "target_spend_yen": "spend at the target brand per member (yen)",
    "target_visits": "visits at the target brand per member",
    "group_spend_yen": "spend at all group brands per member (yen)",
    "group_visits": "visits at all group brands per member",
}


@dataclass(frozen=True)
class CampaignReport:
    campaign: dict[str, Any]  # origin, company, target, segment, definition hash, window, data through
    rows: list[dict[str, Any]]  # one per metric, in METRICS order

    def row(self, metric: str) -> dict[str, Any] | None:
        return next((r for r in self.rows if r["metric"] == metric), None)


def campaign_report(lake: Lake, campaign_id: str) -> CampaignReport:
    """The report rows of one campaign; a clear error when the marts do not (yet) have it."""
    if MART not in analyst.mart_names(lake):
        raise LakeError(f"the marts have no {MART}", "run `lake build`")
    con = analyst.connect(lake)
    try:
        cur = con.execute(f"select * from {MART} where campaign_id = ?", [campaign_id])
        names = [d[0] for d in cur.description]
        rows = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
        if not rows:
            known = [r[0] for r in con.execute(f"select distinct campaign_id from {MART} order by 1").fetchall()]
            if registry.registered(lake, campaign_id) is not None:
                raise LakeError(f"campaign {campaign_id} is registered by an export but the marts predate it",
                                "run `lake build` to measure it")
            raise LakeError(f"no campaign {campaign_id!r} in the marts",
                            f"use one of {', '.join(known) or '(none yet)'} (`lake campaign list`)")
    finally:
        con.close()
    order = list(METRICS)
    rows.sort(key=lambda r: order.index(r["metric"]) if r["metric"] in order else len(order))
    keys = ("campaign_id", "origin", "company", "target_company", "is_cross_brand", "segment", "definition_hash",
            "holdout_share", "starts_on", "ends_on", "data_through", "is_window_complete")
    return CampaignReport({k: rows[0][k] for k in keys}, rows)


def campaigns(lake: Lake) -> list[dict[str, Any]]:
    """Every campaign the marts measure, with its arms (from the referral-free spend metric, present for all)."""
    if MART not in analyst.mart_names(lake):
        raise LakeError(f"the marts have no {MART}", "run `lake build`")
    con = analyst.connect(lake)
    try:
        cur = con.execute(
            f"select campaign_id, origin, company, target_company, starts_on, ends_on, treatment_members, "
            f"control_members, is_window_complete from {MART} where metric = 'group_spend_yen' order by starts_on, 1"
        )
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
    finally:
        con.close()
