"""Per member CLV and churn risk with the model chosen on the holdout (mart_clv_parameters): P(alive), expected
purchases and spend over the horizon, scored vectorised, plus the holdout prediction of the calibration fit. A
member the model cannot score keeps null scores and `is_scorable` false (counted in mart_clv_holdout), never a
silent zero. `churn_score` = 1 - P(alive); the recency baseline it must beat is `days_since_last_purchase`."""

import numpy as np

from lake_models.clv import BGNBD, GammaGamma, expected_purchases, expected_spend, p_alive


def model(dbt, session):
    dbt.config(materialized="table")
    horizon = float(dbt.config.get("horizon_days"))
    threshold = float(dbt.config.get("churn_threshold"))
    params = dbt.ref("mart_clv_parameters").df()
    params = params[params["is_chosen"]].set_index("fit")
    df = dbt.ref("int_clv_summaries").df()

    def models(fit):
        row = params.loc[fit]
        return BGNBD(row.r, row.alpha, row.a, row.b, kind=row.model), GammaGamma(row.p, row.q, row["gamma"])

    bg, gg = models("full")
    x, t_x, big_t = (df[c].to_numpy(dtype="float64") for c in ("frequency", "recency_days", "observed_days"))
    pa = p_alive(bg, x, t_x, big_t)
    ep = expected_purchases(bg, horizon, x, t_x, big_t)
    spend = expected_spend(gg, x, df["mean_spend_yen"].to_numpy(dtype="float64"))
    scorable = np.isfinite(pa) & np.isfinite(ep) & np.isfinite(spend)
    df["is_scorable"] = scorable
    df["score_model"] = bg.kind
    df["p_alive"] = np.where(scorable, pa, np.nan)
    df["churn_score"] = 1.0 - df["p_alive"]
    df["expected_purchases_12m"] = np.where(scorable, ep, np.nan)
    df["expected_spend_per_purchase_yen"] = np.where(scorable, spend, np.nan)
    df["clv_12m_yen"] = df["expected_purchases_12m"] * df["expected_spend_per_purchase_yen"]
    df["is_churn_risk"] = df["p_alive"] < threshold

    cal_bg, _ = models("calibration")
    cal = df["cal_frequency"].notna().to_numpy()
    pred = np.full(len(df), np.nan)
    holdout = float(df["holdout_days"].max()) if len(df) else float(dbt.config.get("holdout_days"))
    pred[cal] = expected_purchases(
        cal_bg,
        holdout,
        *(df.loc[cal, c].to_numpy(dtype="float64") for c in ("cal_frequency", "cal_recency_days", "cal_observed_days")),
    )
    df["predicted_holdout_purchases"] = pred
    return df[
        [
            "gid",
            "joined_on",
            "tenure_days",
            "frequency",
            "recency_days",
            "observed_days",
            "days_since_last_purchase",
            "mean_spend_yen",
            "score_model",
            "is_scorable",
            "p_alive",
            "churn_score",
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
