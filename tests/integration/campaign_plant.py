"""Run an exported campaign in the test's group zone, as the world would: plant its outcome from the export file.

The company sends coupons to the file's `treatment` members (the `control` arm is the holdout); members who never
bought at the target brand before the campaign make a first purchase there inside the window with probability
`p_treatment` (treated) or `p_control` (held out), a treated one with the coupon (the purchase carries the campaign
id: a redemption). Members who already buy at the target brand (the organic buyers the group fixture plants: brand
users keep shopping at their own rate) are left as they are: the coupon is a first-visit offer, so a report that
counts their purchases as conversions is wrong. The planted purchases are added to the group zone's `purchases` and
the window's `member_day` partitions are rebuilt from them, the way the Spark transforms would.
"""

from __future__ import annotations

import datetime as dt
import shutil
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from lake.storage import Lake

CONVERSION_MEAN_YEN = 3000.0


@dataclass(frozen=True)
class PlantedCampaign:
    campaign_id: str
    uplift: float  # p_treatment - p_control, on first purchases of members new to the target brand
    at_risk: dict[str, int]  # arm -> members who never bought at the target brand before the window
    converted: dict[str, int]  # arm -> planted first purchases
    members: dict[str, int]  # arm -> members in the file
    visits_per_member: dict[str, float]  # arm -> planted visits at the target brand per member in the file
    spend_per_member: dict[str, float]


def plant_campaign(lake: Lake, export_file: str, campaign_id: str, target: str, store_id: str, starts_on: dt.date,
                   ends_on: dt.date, p_control: float, p_treatment: float, seed: int) -> PlantedCampaign:
    """Plant the outcome of the campaign whose member file (Parquet) is `export_file`; return what was planted."""
    con = duckdb.connect()
    con.execute("set TimeZone = 'UTC'")
    members = pq.read_table(export_file).select(["gid", "assigned_group"])
    group = lake.uri("group")
    con.register("members", members)
    prior = {
        r[0]
        for r in con.execute(
            f"select distinct gid from read_parquet('{group}/member_day/**/*.parquet', hive_partitioning = true) "
            "where company = ? and purchase_date < ?",
            [target, starts_on],
        ).fetchall()
    }
    gids = np.array(members["gid"].to_pylist())
    treated = np.array(members["assigned_group"].to_pylist()) == "treatment"
    at_risk = ~np.isin(gids, list(prior))
    rng = np.random.default_rng(seed)
    u = rng.random(len(gids))
    converts = at_risk & (u < np.where(treated, p_treatment, p_control))
    days = (ends_on - starts_on).days + 1
    day = rng.integers(0, days, len(gids))
    amount = np.maximum(np.round(rng.lognormal(np.log(CONVERSION_MEAN_YEN) - 0.18, 0.6, len(gids))), 1).astype(np.int64)
    idx = np.flatnonzero(converts)
    dates = [starts_on + dt.timedelta(days=int(d)) for d in day[idx]]
    planted = pa.table(
        {
            "purchase_id": pa.array([f"plant:{campaign_id}:{i:07d}" for i in range(len(idx))]),
            "channel": pa.array(["store"] * len(idx)),
            "store_id": pa.array([store_id] * len(idx)),
            "gid": pa.array(gids[idx].tolist()),
            "purchased_at": pa.array([dt.datetime.combine(d, dt.time(3), dt.UTC) for d in dates],
                                     pa.timestamp("us", "UTC")),
            "amount_yen": pa.array(amount[idx]),
            "item_count": pa.array(np.full(len(idx), 2, np.int64)),
            "payment_method": pa.array(["cash"] * len(idx)),
            "campaign_id": pa.array([campaign_id if t else None for t in treated[idx]], pa.string()),
            "company": pa.array([target] * len(idx)),
            "purchase_date": pa.array(dates, pa.date32()),
        }
    )
    con.register("planted", planted)
    con.execute(f"copy planted to '{group}/purchases' (format parquet, partition_by (company, purchase_date), "
                "filename_pattern 'planted_{i}', overwrite_or_ignore)")
    # the window's member days, rebuilt from every purchase of those days (organic and planted)
    window = [starts_on + dt.timedelta(days=d) for d in range(days)]
    member_day = con.execute(
        f"""
        select gid, company, purchase_date, sum(amount_yen)::bigint as spend_yen, count(*)::bigint as visits,
               sum(item_count)::bigint as items, min(store_id) as first_store_id
        from read_parquet('{group}/purchases/**/*.parquet', hive_partitioning = true)
        where gid is not null and purchase_date between ? and ?
        group by all order by purchase_date, gid, company
        """,
        [starts_on, ends_on],
    ).arrow()
    member_day = member_day.read_all() if isinstance(member_day, pa.RecordBatchReader) else member_day
    for d in window:
        shutil.rmtree(Path(group) / "member_day" / f"purchase_date={d.isoformat()}", ignore_errors=True)
    con.register("md", member_day)
    con.execute(f"copy md to '{group}/member_day' (format parquet, partition_by (purchase_date), "
                "overwrite_or_ignore)")

    def per_arm(mask: np.ndarray) -> dict[str, int]:
        return {"treatment": int((mask & treated).sum()), "control": int((mask & ~treated).sum())}

    n = per_arm(np.ones(len(gids), bool))
    visits = per_arm(converts)
    spend = {"treatment": float(amount[converts & treated].sum()), "control": float(amount[converts & ~treated].sum())}
    return PlantedCampaign(
        campaign_id=campaign_id,
        uplift=p_treatment - p_control,
        at_risk=per_arm(at_risk),
        converted=per_arm(converts),
        members=n,
        visits_per_member={a: visits[a] / n[a] for a in n},
        spend_per_member={a: spend[a] / n[a] for a in n},
    )
