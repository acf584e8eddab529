"""BG/NBD and Gamma-Gamma maximum-likelihood fits: on the calibration window (checked on the holdout, see
mart_clv_holdout) and on the full window (used to score). Time unit: days."""

import pandas as pd

from lake.clv import fit_bgnbd, fit_gamma_gamma


def model(dbt, session):
    dbt.config(materialized="table")
    sample = int(dbt.config.get("fit_sample"))
    # rows come back in no particular order (parallel build, preserve_insertion_order off): sort before sampling,
    # or the sample, hence the fit, would change from one build to the next
    df = dbt.ref("int_clv_summaries").df().sort_values("gid", kind="stable", ignore_index=True)
    if len(df) > sample:  # the fit needs a few hundred thousand members at most; scoring uses everyone
        df = df.sample(n=sample, random_state=0)
    rows = []
    for fit, cols in (
        ("calibration", ("cal_frequency", "cal_recency_days", "cal_tenure_days", "cal_mean_spend_yen")),
        ("full", ("frequency", "recency_days", "tenure_days", "mean_spend_yen")),
    ):
        d = df.dropna(subset=list(cols))
        x, t_x, big_t, mbar = (d[c].to_numpy(dtype="float64") for c in cols)
        bg = fit_bgnbd(x, t_x, big_t)
        gg = fit_gamma_gamma(x, mbar)
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
                "members_fitted": bg.n,
                "time_unit": "day",
                "calibration_end": d["calibration_end"].max(),
                "as_of": d["as_of"].max(),
            }
        )
    return pd.DataFrame(rows)
