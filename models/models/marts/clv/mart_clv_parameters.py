"""CLV model fits: BG/NBD and MBG/NBD on the calibration window, each checked on the holdout; the model that
predicts the holdout better (lower mean absolute error per member) is refitted on the full window and scores
every member (mart_clv). Gamma-Gamma for the value per purchase. Time unit: days; time 0 = joining (or the
lake's first day), see int_clv_summaries.

A fit never fails the build: when the data cannot support it (too few members, or no repeat purchases, as on a
short window) or the optimiser does not converge to finite parameters, the row still carries usable parameters
and `fit_status` says where they came from: `ok` (maximum likelihood), `fallback_full` (the calibration fit
could not be made: the full-window fit stands in for it, so the holdout check is not out-of-sample), or
`insufficient_data` / `fit_failed` (moment-based stand-ins; P(alive) and CLV are then rough). Gamma-Gamma has
its own `spend_fit_status` (`ok`, `fallback_full`, `fallback_default`)."""

import numpy as np
import pandas as pd

from lake_models.clv import bgnbd_fallback, expected_purchases, fit_bgnbd_robust, fit_gamma_gamma_robust

MODELS = ("bgnbd", "mbgnbd")
FULL = ("frequency", "recency_days", "observed_days", "mean_spend_yen")
CAL = ("cal_frequency", "cal_recency_days", "cal_observed_days", "cal_mean_spend_yen")


def model(dbt, session):
    dbt.config(materialized="table")
    sample = int(dbt.config.get("fit_sample"))
    # rows come back in no particular order (parallel build, preserve_insertion_order off): sort before sampling,
    # or the sample, hence the fit, would change from one build to the next
    df = dbt.ref("int_clv_summaries").df().sort_values("gid", kind="stable", ignore_index=True)
    if len(df) > sample:  # the fit needs a few hundred thousand members at most; scoring uses everyone
        df = df.sample(n=sample, random_state=0)
    holdout = float(df["holdout_days"].max()) if len(df) else 0.0

    def fit(cols, kind):
        d = df.dropna(subset=list(cols[:3]))
        x, t_x, big_t = (d[c].to_numpy(dtype="float64") for c in cols[:3])
        bg, status = fit_bgnbd_robust(x, t_x, big_t, kind)
        if bg is None:
            bg = bgnbd_fallback(x, big_t, kind)
        return bg, status, d

    rows, cal = [], {}
    for kind in MODELS:
        bg, status, d = fit(CAL, kind)
        pred = expected_purchases(bg, holdout, *(d[c].to_numpy(dtype="float64") for c in CAL[:3]))
        actual = d["holdout_purchases"].to_numpy(dtype="float64")
        ok = np.isfinite(pred)
        mae = float(np.mean(np.abs(pred[ok] - actual[ok]))) if ok.any() else float("inf")
        cal[kind] = (bg, status, mae, len(d))
    chosen = min(MODELS, key=lambda k: (cal[k][1] != "ok", cal[k][2]))
    full_bg, full_status, dfull = fit(FULL, chosen)
    gg_full, gg_full_status = fit_gamma_gamma_robust(*(dfull[c].to_numpy(dtype="float64") for c in (FULL[0], FULL[3])))
    dcal = df.dropna(subset=list(CAL[:3]))
    gg_cal, gg_cal_status = fit_gamma_gamma_robust(*(dcal[c].to_numpy(dtype="float64") for c in (CAL[0], CAL[3])))
    if gg_cal_status != "ok":
        gg_cal, gg_cal_status = gg_full, "fallback_full" if gg_full_status == "ok" else gg_full_status
    for kind in MODELS:
        bg, status, mae, n = cal[kind]
        if status != "ok" and kind == chosen and full_status == "ok":
            bg, status = full_bg, "fallback_full"
        rows.append(_row("calibration", kind, bg, status, gg_cal, gg_cal_status, n, mae, kind == chosen, df))
    rows.append(_row("full", chosen, full_bg, full_status, gg_full, gg_full_status, len(dfull), float("nan"), True, df))
    return pd.DataFrame(rows)


def _row(fit, kind, bg, status, gg, gg_status, n, mae, chosen, df):
    return {
        "fit_id": f"{fit}:{kind}",
        "fit": fit,
        "model": kind,
        "is_chosen": chosen,
        "r": bg.r,
        "alpha": bg.alpha,
        "a": bg.a,
        "b": bg.b,
        "bgnbd_log_likelihood": bg.log_likelihood,
        "holdout_mae": mae,
        "p": gg.p,
        "q": gg.q,
        "gamma": gg.gamma,
        "members_fitted": n,
        "fit_status": status,
        "spend_fit_status": gg_status,
        "time_unit": "day",
        "calibration_end": df["calibration_end"].max(),
        "holdout_days": int(df["holdout_days"].max()) if len(df) else 0,
        "as_of": df["as_of"].max(),
    }
