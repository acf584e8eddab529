"""Per member CLV and churn risk: P(alive), expected purchases and spend over the horizon, scored vectorised
with the parameters of mart_clv_parameters (full window), plus the holdout prediction of the calibration fit."""

import numpy as np

from lake_models.clv import BGNBD, GammaGamma, expected_purchases, expected_spend, p_alive


def model(dbt, session):
    dbt.config(materialized="table")
    horizon = float(dbt.config.get("horizon_days"))
    threshold = float(dbt.config.get("churn_threshold"))
    params = dbt.ref("mart_clv_parameters").df().set_index("fit")
    df = dbt.ref("int_clv_summaries").df()

    def models(fit):
        row = params.loc[fit]
        return BGNBD(row.r, row.alpha, row.a, row.b), GammaGamma(row.p, row.q, row["gamma"])

    bg, gg = models("full")
    x, t_x, big_t = (df[c].to_numpy(dtype="float64") for c in ("frequency", "recency_days", "tenure_days"))
    df["p_alive"] = p_alive(bg, x, t_x, big_t)
    df["expected_purchases_12m"] = expected_purchases(bg, horizon, x, t_x, big_t)
    df["expected_spend_per_purchase_yen"] = expected_spend(gg, x, df["mean_spend_yen"].to_numpy(dtype="float64"))
    df["clv_12m_yen"] = df["expected_purchases_12m"] * df["expected_spend_per_purchase_yen"]
    df["is_churn_risk"] = df["p_alive"] < threshold

    cal_bg, _ = models("calibration")
    cal = df["cal_frequency"].notna().to_numpy()
    pred = np.full(len(df), np.nan)
    # the holdout actually used (int_clv_summaries shortens `clv_holdout_days` on short windows)
    holdout = float(df["holdout_days"].max()) if len(df) else float(dbt.config.get("holdout_days"))
    pred[cal] = expected_purchases(
        cal_bg,
        holdout,
        df.loc[cal, "cal_frequency"].to_numpy(dtype="float64"),
        df.loc[cal, "cal_recency_days"].to_numpy(dtype="float64"),
        df.loc[cal, "cal_tenure_days"].to_numpy(dtype="float64"),
    )
    df["predicted_holdout_purchases"] = pred
    return df[
        [
            "gid",
            "frequency",
            "recency_days",
            "tenure_days",
            "mean_spend_yen",
            "p_alive",
            "is_churn_risk",
            "expected_purchases_12m",
            "expected_spend_per_purchase_yen",
            "clv_12m_yen",
            "cal_frequency",
            "predicted_holdout_purchases",
            "holdout_purchases",
            "as_of",
        ]
    ]
