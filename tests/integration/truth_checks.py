"""Compare the marts with the planted truth the generator wrote to the ops zone (generator/truth.json, movers,
churners, commuters). Used by the pipeline tests on the real chain (both generator modes).

What counts as recoverable is taken from the generator's truth, never from the marts' own intermediate tables:
a move is detectable when the generator recorded 3+ days with a visit the lake can attribute at a store near the
home (within 5 km: the old home before, the new one after) in the 28 days before it and 3+ from it, and it lies
28+ days inside the window; a churner counts when it stopped 30+ days before the end."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field

import duckdb
import pandas as pd

from lake.analyst import connect
from lake.storage import Lake

DATE_TOLERANCE_DAYS = 14
# a move is detectable when the generator recorded this many days with a visit near the home (within 5 km) in the
# 28 days before it (the old home) and from it (the new one): fewer, and no method reading store locations can
# place the member on that side
MIN_HOME_VISIT_DAYS = 3


@dataclass
class Recovery:
    truth: dict
    # metric -> (estimate, ci_low, ci_high)
    descriptive: dict[str, tuple[float, float, float]]
    causal: dict[str, tuple[float, float, float]]
    pre_trend: dict[str, tuple[float, float, float]]
    realised_att: dict[str, float]  # metric -> the causal effect realised on members who enrolled in the window
    moves_found: int
    moves_correct: int  # a true mover, dated within DATE_TOLERANCE_DAYS
    movers_detectable: int
    movers_detectable_found: int
    within_prefecture_detectable: int
    within_prefecture_found: int
    commuters: int
    commuters_reported: int
    churn_auc: float
    recency_auc: float
    churners_scored: int
    members_scored: int
    members_unscorable: int
    # campaign -> (measured uplift, ci_low, ci_high, realised causal uplift, organic buyers in control,
    #              the arms' difference in the outcome as the generator counted it)
    campaigns: dict[str, tuple[float, float, float, float, int, float]] = field(default_factory=dict)

    @property
    def move_precision(self) -> float:
        return self.moves_correct / self.moves_found if self.moves_found else float("nan")

    @property
    def move_recall(self) -> float:
        return self.movers_detectable_found / self.movers_detectable if self.movers_detectable else float("nan")

    def summary(self) -> str:
        lines = []
        for m in ("visits_per_month", "spend_yen_per_month"):
            lines.append(
                f"{m}: realised {self.realised_att[m]:.3f}, causal {self.causal[m]}, "
                f"descriptive {self.descriptive[m]}, pre-trend {self.pre_trend[m]}"
            )
        lines.append(
            f"moves: {self.moves_found} found, {self.moves_correct} correct (precision {self.move_precision:.3f}); "
            f"recall {self.move_recall:.3f} of {self.movers_detectable} detectable; within a prefecture "
            f"{self.within_prefecture_found}/{self.within_prefecture_detectable}; commuters reported "
            f"{self.commuters_reported}/{self.commuters}"
        )
        lines.append(
            f"churn: AUC {self.churn_auc:.3f} vs recency {self.recency_auc:.3f} ({self.churners_scored} churners of "
            f"{self.members_scored} scored, {self.members_unscorable} unscorable)"
        )
        for c, v in self.campaigns.items():
            lines.append(f"{c}: uplift {v[0]:+.4f} [{v[1]:+.4f}, {v[2]:+.4f}] realised {v[3]:+.4f}, organic {v[4]}")
        return "\n".join(lines)


def _auc(scores: pd.Series, positive: pd.Series) -> float:
    """Area under the ROC curve (Mann-Whitney, ties averaged)."""
    ranks = scores.rank(method="average")
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if not n_pos or not n_neg:
        return float("nan")
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _table(lake: Lake, name: str) -> pd.DataFrame:
    # the truth lives in the ops zone, outside the analyst connection: read it with a separate connection
    uri = lake.uri("ops", f"generator/{name}.parquet")
    return duckdb.connect().execute(f"select * from read_parquet('{uri}')").df()


def recover(lake: Lake) -> Recovery:
    truth = json.loads(lake.read_bytes("ops", "generator/truth.json"))
    con = connect(lake)
    movers, churners, commuters = _table(lake, "movers"), _table(lake, "churners"), _table(lake, "commuters")
    eff = con.execute(
        "select metric, difference, ci_low, ci_high, causal_effect, causal_ci_low, causal_ci_high, pre_trend, "
        "pre_trend_ci_low, pre_trend_ci_high from mart_programme_effect"
    ).fetchall()
    descriptive = {r[0]: (r[1], r[2], r[3]) for r in eff}
    causal = {r[0]: (r[4], r[5], r[6]) for r in eff}
    pre = {r[0]: (r[7], r[8], r[9]) for r in eff}
    att = truth["programme_effect"]["realised_att"]

    # moves: a detected move is correct when the member truly moved and the date is within the tolerance
    start = dt.date.fromisoformat(truth["window"]["start"])
    end = dt.date.fromisoformat(truth["window"]["end"])
    found = con.execute("select gid, moved_on from fct_member_moves").df()
    true_on = {g: pd.Timestamp(d).date() for g, d in zip(movers["gid"], movers["moved_on"], strict=True)}

    def dated_right(g: str, on: object) -> bool:
        return g in true_on and abs((pd.Timestamp(on).date() - true_on[g]).days) <= DATE_TOLERANCE_DAYS

    correct = {g for g, on in zip(found["gid"], found["moved_on"], strict=True) if dated_right(g, on)}
    mv = movers.assign(on=movers["moved_on"].map(lambda d: pd.Timestamp(d).date()))
    detectable = mv[
        (mv["home_visit_days_28d_before"] >= MIN_HOME_VISIT_DAYS)
        & (mv["home_visit_days_28d_after"] >= MIN_HOME_VISIT_DAYS)
        & (mv["on"] >= start + dt.timedelta(days=28))
        & (mv["on"] <= end - dt.timedelta(days=28))
    ]
    within = detectable[detectable["is_within_prefecture"]]

    # churn: P(alive) against the recency baseline, on every scored member
    clv = con.execute(
        "select gid, churn_score, days_since_last_purchase, is_scorable, as_of from mart_clv"
    ).df()
    as_of = pd.Timestamp(clv["as_of"].max()).date()
    gone = {
        g
        for g, on in zip(churners["gid"], churners["churned_on"], strict=True)
        if pd.Timestamp(on).date() <= as_of - dt.timedelta(days=30)
    }
    scored = clv[clv["is_scorable"]]
    positive = scored["gid"].isin(gone)

    camp = con.execute(
        "select campaign_id, uplift, uplift_ci_low, uplift_ci_high from mart_campaign_referral where not is_suppressed"
    ).fetchall()
    t_camp = {c["campaign_id"]: c for c in truth["campaigns"]}
    return Recovery(
        truth=truth,
        descriptive=descriptive,
        causal=causal,
        pre_trend=pre,
        realised_att={"visits_per_month": att["visits_per_month"], "spend_yen_per_month": att["spend_yen_per_month"]},
        moves_found=len(found),
        moves_correct=len(correct),
        movers_detectable=len(detectable),
        movers_detectable_found=int(detectable["gid"].isin(correct).sum()),
        within_prefecture_detectable=len(within),
        within_prefecture_found=int(within["gid"].isin(correct).sum()),
        commuters=len(commuters),
        commuters_reported=int(commuters["gid"].isin(set(found["gid"])).sum()),
        churn_auc=_auc(scored["churn_score"], positive),
        recency_auc=_auc(scored["days_since_last_purchase"].astype(float), positive),
        churners_scored=int(positive.sum()),
        members_scored=len(scored),
        members_unscorable=int((~clv["is_scorable"]).sum()),
        campaigns={
            c: (float(u), float(lo), float(hi), float(t_camp[c]["realised_uplift"]),
                int(t_camp[c]["organic_buyers_control"]),
                float(t_camp[c]["realised_rate_treatment"] - t_camp[c]["realised_rate_control"]))
            for c, u, lo, hi in camp
            if c in t_camp and t_camp[c]["realised_uplift"] is not None
        },
    )
