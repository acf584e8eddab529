"""The causal programme effect (DESIGN §7): staggered difference-in-differences around enrolment.

E-money members who enrol in the window against e-money members not yet (or never) enrolled in the same weeks,
proportional trends, the base the mean of the `did_base_weeks` (K, 4) weeks before enrolment, a 95% interval
clustered by member, and the pre-trend placebo (lake_models.did). One row per metric and estimate: `effect` (per
exposed member-month), `pre_trend` (placebo: enrolment moved 3 weeks early, event weeks -3..-1 against the K weeks
before them; zero if the trends are parallel) and `event_week` rows (-3..8, for the chart)."""

import numpy as np
import pandas as pd

from lake_models.did import NEVER, PRE_WEEKS, Panel, estimate, event_study

DAYS_PER_MONTH = 30.4375


def model(dbt, session):
    dbt.config(materialized="table")
    k = int(dbt.config.get("min_cell_k"))
    base_weeks = int(dbt.config.get("did_base_weeks"))
    members = dbt.ref("int_programme_did_members").df().sort_values("gid", ignore_index=True)
    weeks_df = dbt.ref("int_programme_member_weeks").df()
    bounds = dbt.ref("int_programme_weeks").df()
    n_weeks = int(bounds["weeks"].iloc[0]) if len(bounds) else 0
    index = pd.Index(members["gid"])
    rows = []
    if len(members) and n_weeks >= 3:
        pos = index.get_indexer(weeks_df["gid"])
        keep = (pos >= 0) & (weeks_df["week"].to_numpy() >= 0) & (weeks_df["week"].to_numpy() < n_weeks)
        cohort = members["enrol_week"].fillna(-1).to_numpy(dtype=np.int64)
        cohort = np.where(members["enrol_week"].isna().to_numpy(), NEVER, cohort)
        offset = members["enrol_day_of_week"].fillna(0).to_numpy(dtype=np.int64)
        first = members["first_full_week"].to_numpy(dtype=np.int64)
        for metric, col in (("visits_per_month", "visits"), ("spend_yen_per_month", "spend_yen")):
            y = np.zeros((len(members), n_weeks))
            np.add.at(y, (pos[keep], weeks_df["week"].to_numpy()[keep]), weeks_df[col].to_numpy(dtype=float)[keep])
            panel = Panel(cohort, offset, first, y)
            found = [("effect", None, estimate(panel, base_weeks=base_weeks)),
                     ("pre_trend", None, estimate(panel, post=False, pre_weeks=PRE_WEEKS, base_weeks=base_weeks))]
            found += [("event_week", e, est) for e, est in event_study(panel, -PRE_WEEKS, 8, base_weeks=base_weeks)]
            for kind, week, est in found:
                value, lo, hi = est.scaled(DAYS_PER_MONTH)
                rows.append({"metric": metric, "estimate": kind, "event_week": week, "value": value,
                             "ci_low": lo, "ci_high": hi, "treated_members": est.treated_members,
                             "control_members": est.control_members, "cells": est.cells})
    df = pd.DataFrame(rows, columns=["metric", "estimate", "event_week", "value", "ci_low", "ci_high",
                                     "treated_members", "control_members", "cells"])
    small = (df["treated_members"] < k) | (df["control_members"] < k) | df["value"].isna()
    for c in ("value", "ci_low", "ci_high"):
        df[c] = df[c].where(~small)
    df["is_suppressed"] = small
    df["event_week"] = df["event_week"].astype("Int64")
    df["estimate_id"] = df["metric"] + ":" + df["estimate"] + ":" + df["event_week"].astype("string").fillna("all")
    df["weeks"] = n_weeks
    df["base_weeks"] = base_weeks
    df["as_of"] = bounds["as_of"].iloc[0] if len(bounds) else pd.NaT
    return df[["estimate_id", "metric", "estimate", "event_week", "is_suppressed", "value", "ci_low", "ci_high",
               "treated_members", "control_members", "cells", "weeks", "base_weeks", "as_of"]]
