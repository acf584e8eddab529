"""The staggered difference-in-differences (lake_models.did) on simulated panels where the answer is known."""

from __future__ import annotations

import numpy as np
import pytest

from lake_models.did import NEVER, Panel, estimate, event_study


def _panel(n: int = 40_000, weeks: int = 13, effect_per_day: float = 0.05, seed: int = 1) -> Panel:
    """Heavy shoppers enrol more and earlier weeks have paydays (a multiplicative calendar): a naive comparison
    and an additive difference-in-differences are both biased here; the effect is additive per exposed day."""
    rng = np.random.default_rng(seed)
    rate = rng.gamma(1.2, 0.15 / 1.2, n)  # visits a day
    p_enrol = np.clip(0.5 * rate / rate.mean() * 0.5, 0, 0.95)
    enrols = rng.random(n) < p_enrol
    cohort = np.where(enrols, rng.integers(1, weeks, n), NEVER)
    offset = rng.integers(0, 7, n)
    season = 1 + 0.25 * np.sin(np.arange(weeks) * 1.3)
    y = rng.poisson(rate[:, None] * 7 * season[None, :]).astype(float)
    w = np.arange(weeks)[None, :]
    exposed = np.where(w > cohort[:, None], 7, np.where(w == cohort[:, None], 7 - offset[:, None], 0))
    y += rng.poisson(effect_per_day * exposed)
    return Panel(cohort, offset, np.zeros(n, dtype=np.int64), y)


def test_recovers_the_effect_despite_selection_and_seasonality() -> None:
    est = estimate(_panel())
    e, lo, hi = est.scaled(1.0)
    assert e == pytest.approx(0.05, rel=0.10) and lo <= 0.05 <= hi, (e, lo, hi)


def test_a_zero_effect_gives_an_interval_around_zero_and_a_flat_pre_trend() -> None:
    p = _panel(effect_per_day=0.0, seed=2)
    e, lo, hi = estimate(p).scaled(1.0)
    assert lo <= 0 <= hi and abs(e) < 0.01, (e, lo, hi)
    e, lo, hi = estimate(p, post=False).scaled(1.0)
    assert lo <= 0 <= hi, (e, lo, hi)


def test_interval_covers_at_the_stated_rate() -> None:
    # 40 replications at a small size: a 95% interval should cover the truth in most of them (not 60%)
    hits = 0
    for seed in range(40):
        _, lo, hi = estimate(_panel(n=4000, seed=100 + seed)).scaled(1.0)
        hits += lo <= 0.05 <= hi
    assert hits >= 33, hits


def test_event_study_is_flat_before_and_positive_after() -> None:
    rows = dict(event_study(_panel(seed=3), -3, 3))
    for e in (-3, -2):
        _, lo, hi = rows[e].scaled(1.0)
        assert lo <= 0 <= hi, (e, lo, hi)
    for e in (1, 2):
        assert rows[e].scaled(1.0)[1] > 0, e
