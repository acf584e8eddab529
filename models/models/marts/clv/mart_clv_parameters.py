"""BG/NBD and Gamma-Gamma maximum-likelihood fits: on the calibration window (checked on the holdout, see
mart_clv_holdout) and on the full window (used to score). Time unit: days.

A fit never fails the build: when the data cannot support it (too few members, or no repeat purchases, as on a
short window) or the optimiser does not converge to finite parameters, the row still carries usable parameters
and `fit_status` says where they came from: `ok` (maximum likelihood), `fallback_full` (the calibration fit
could not be made: the full-window fit stands in for it, so the holdout check is not out-of-sample), or
`insufficient_data` / `fit_failed` (moment-based stand-ins; P(alive) and CLV are then rough). Gamma-Gamma has
its own `spend_fit_status` (`ok`, `fallback_full`, `fallback_default`)."""

import pandas as pd

from lake_models.clv import bgnbd_fallback, fit_bgnbd_robust, fit_gamma_gamma_robust


def model(dbt, session):
    dbt.config(materialized="table")
    sample = int(dbt.config.get("fit_sample"))
    # rows come back in no particular order (parallel build, preserve_insertion_order off): sort before sampling,
    # or the sample, hence the fit, would change from one build to the next
    df = dbt.ref("int_clv_summaries").df().sort_values("gid", kind="stable", ignore_index=True)
    if len(df) > sample:  # the fit needs a few hundred thousand members at most; scoring uses everyone
        df = df.sample(n=sample, random_state=0)
    fits = {}
    for fit, cols in (
        ("full", ("frequency", "recency_days", "tenure_days", "mean_spend_yen")),
        ("calibration", ("cal_frequency", "cal_recency_days", "cal_tenure_days", "cal_mean_spend_yen")),
    ):
        d = df.dropna(subset=list(cols[:3]))
        x, t_x, big_t, mbar = (d[c].to_numpy(dtype="float64") for c in cols)
        bg, bg_status = fit_bgnbd_robust(x, t_x, big_t)
        gg, gg_status = fit_gamma_gamma_robust(x, mbar)
        if fit == "calibration":  # the full fit is done first: it stands in for a calibration fit that fails
            full_bg, full_gg, full_bg_status, full_gg_status, _ = fits["full"]
            if bg_status != "ok":
                bg, bg_status = full_bg, "fallback_full" if full_bg_status == "ok" else full_bg_status
            if gg_status != "ok":
                gg, gg_status = full_gg, "fallback_full" if full_gg_status == "ok" else full_gg_status
        if bg is None:
            bg = bgnbd_fallback(x, big_t)  # status stays insufficient_data / fit_failed
        fits[fit] = (bg, gg, bg_status, gg_status, len(d))
    rows = []
    for fit in ("calibration", "full"):
        bg, gg, bg_status, gg_status, n = fits[fit]
        rows.append(
            {
                "fit": fit,
                "r": bg.r,
                "alpha": bg.alpha,
                "a": bg.a,
                "b": bg.b,
                "bgnbd_log_likelihood": bg.log_likelihood,
                "p": gg.p,
                "q": gg.q,
                "gamma": gg.gamma,
                "members_fitted": n,
                "fit_status": bg_status,
                "spend_fit_status": gg_status,
                "time_unit": "day",
                "calibration_end": df["calibration_end"].max(),
                "holdout_days": int(df["holdout_days"].max()),
                "as_of": df["as_of"].max(),
            }
        )
    return pd.DataFrame(rows)
