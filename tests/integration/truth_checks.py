"""Compare the marts with the planted truth the generator wrote to the ops zone (generator/truth.json,
movers.parquet, churners.parquet). Shared by the fixture test and the pipeline test on the real chain."""

from __future__ import annotations

import json
from dataclasses import dataclass

import duckdb

from lake.analyst import connect
from lake.storage import Lake


@dataclass
class Recovery:
    programme_spend: tuple[float, float, float]  # difference, ci_low, ci_high
    programme_visits: tuple[float, float, float]
    truth_spend: float
    truth_visits: float
    move_precision: float
    move_recall: float
    movers_true: int
    movers_found: int
    churn_auc: float
    uplift: dict[str, tuple[float, float]]  # campaign -> (measured, realised truth)


def _auc(con: duckdb.DuckDBPyConnection) -> float:
    """Area under the ROC curve of (1 - P(alive)) against truly churned (Mann-Whitney, ties averaged)."""
    row = con.execute(
        """
        with s as (
            select 1 - p_alive as score, churned from scored
        ), r as (select churned, rank() over (order by score) as rk, count(*) over (partition by score) as ties,
                 from s)
        select (sum(rk + (ties - 1) / 2.0) filter (where churned) - count(*) filter (where churned)
                * (count(*) filter (where churned) + 1) / 2.0)
               / (count(*) filter (where churned) * count(*) filter (where not churned))
        from r
        """
    ).fetchone()
    return float(row[0]) if row and row[0] is not None else float("nan")


def recover(lake: Lake) -> Recovery:
    truth = json.loads(lake.read_bytes("ops", "generator/truth.json"))
    con = connect(lake)
    # the truth lives in the ops zone, outside the analyst connection: read it with a separate connection
    ops = duckdb.connect()
    movers = ops.execute(f"select * from read_parquet('{lake.uri('ops', 'generator/movers.parquet')}')").df()
    churners = ops.execute(f"select * from read_parquet('{lake.uri('ops', 'generator/churners.parquet')}')").df()
    eff = con.execute("select metric, difference, ci_low, ci_high from mart_programme_effect").fetchall()
    by_metric = {m: (d, lo, hi) for m, d, lo, hi in eff}
    found = con.execute("select gid, to_prefecture, moved_on from fct_member_moves").df()
    clv = con.execute("select gid, p_alive, as_of from mart_clv").df()
    ref = con.execute("select campaign_id, uplift from mart_campaign_referral").fetchall()

    true_moves = set(zip(movers["gid"], movers["to_prefecture"], strict=True))
    found_moves = set(zip(found["gid"], found["to_prefecture"], strict=True))
    hit = len(true_moves & found_moves)
    # a churner counts if they churned 30+ days before the end (so the data can show it)
    as_of = clv["as_of"].max()
    ops.register("clv", clv)
    ops.register("churners", churners)
    ops.execute(
        """
        create temp table scored as
        select clv.p_alive, churners.gid is not null as churned
        from clv left join churners
            on clv.gid = churners.gid and churners.churned_on <= ?::date - 30
        """,
        [as_of],
    )
    truth_uplift = {c["campaign_id"]: c["realised_uplift"] for c in truth["campaigns"]}
    realised = truth["programme_effect"].get("realised") or {}
    return Recovery(
        programme_spend=by_metric["spend_yen_per_month"],
        programme_visits=by_metric["visits_per_month"],
        truth_spend=float(realised.get("spend_yen_per_month") or truth["programme_effect"]["spend_yen_per_month"]),
        truth_visits=float(realised.get("visits_per_month") or truth["programme_effect"]["visits_per_month"]),
        move_precision=hit / len(found_moves) if found_moves else 0.0,
        move_recall=hit / len(true_moves) if true_moves else 1.0,
        movers_true=len(true_moves),
        movers_found=len(found_moves),
        churn_auc=_auc(ops),
        uplift={c: (float(u), float(truth_uplift[c])) for c, u in ref if c in truth_uplift and u is not None},
    )
