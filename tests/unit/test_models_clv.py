"""BG/NBD and Gamma-Gamma on scipy, validated against Fader, Hardie & Lee (2005) and by parameter recovery."""

from __future__ import annotations

import numpy as np
import pytest

from lake_models.clv import (
    BGNBD,
    GammaGamma,
    expected_purchases,
    expected_spend,
    fit_bgnbd,
    fit_gamma_gamma,
    p_alive,
    simulate_bgnbd,
)

CDNOW = BGNBD(r=0.242594, alpha=4.41359, a=0.792919, b=2.425943)  # published CDNOW estimates (weeks)


def test_conditional_expectation_matches_the_paper() -> None:
    # FHL 2005: a customer with x=2, t_x=30.43, T=38.86 is expected to make 1.226 purchases in the next 39 weeks
    assert expected_purchases(CDNOW, 39, np.array([2]), np.array([30.43]), np.array([38.86]))[0] == pytest.approx(
        1.226, abs=0.001
    )


def test_fit_recovers_the_cdnow_parameters_from_simulated_data() -> None:
    rng = np.random.default_rng(5)
    x, t_x, big_t = simulate_bgnbd(CDNOW, 20_000, rng.uniform(27, 39, 20_000), seed=7)
    fit = fit_bgnbd(x, t_x, big_t)
    assert fit.r == pytest.approx(CDNOW.r, rel=0.15)
    assert fit.alpha == pytest.approx(CDNOW.alpha, rel=0.15)
    assert fit.a == pytest.approx(CDNOW.a, rel=0.30)
    assert fit.b == pytest.approx(CDNOW.b, rel=0.30)


def test_p_alive_and_expectations_behave() -> None:
    x = np.array([0, 3, 3, 10])
    t_x = np.array([0, 35, 5, 38])
    big_t = np.array([39, 39, 39, 39])
    pa = p_alive(CDNOW, x, t_x, big_t)
    assert pa[0] == 1.0 and pa[1] > pa[2]  # a recent repeat buyer is likelier alive than one silent for weeks
    e = expected_purchases(CDNOW, 52, x, t_x, big_t)
    assert np.all(e >= 0) and e[3] > e[1] > e[2]


def test_gamma_gamma_recovers_spend_parameters() -> None:
    rng = np.random.default_rng(3)
    true = GammaGamma(p=6.0, q=4.0, gamma=15.0)
    n = 20_000
    x = rng.integers(1, 10, n)
    nu = rng.gamma(true.q, 1 / true.gamma, n)
    mbar = rng.gamma(true.p * x, 1 / (nu * x))  # mean of x Gamma(p, nu) draws
    fit = fit_gamma_gamma(x, mbar)
    assert fit.p == pytest.approx(true.p, rel=0.15)
    assert fit.q == pytest.approx(true.q, rel=0.2)
    assert expected_spend(fit, np.array([0]), np.array([0.0]))[0] == pytest.approx(
        true.p * true.gamma / (true.q - 1), rel=0.2
    )


def test_mbgnbd_fit_recovers_its_parameters_and_flags_members_who_never_came_back() -> None:
    true = BGNBD(r=0.5, alpha=8.0, a=0.6, b=2.0, kind="mbgnbd")
    x, t_x, big_t = simulate_bgnbd(true, 30_000, np.full(30_000, 52.0), seed=11)
    fit = fit_bgnbd(x, t_x, big_t, kind="mbgnbd")
    assert fit.r == pytest.approx(true.r, rel=0.15) and fit.alpha == pytest.approx(true.alpha, rel=0.2)
    assert fit.a == pytest.approx(true.a, rel=0.3) and fit.b == pytest.approx(true.b, rel=0.3)
    # MBG/NBD lets a member with no repeat purchase be gone; BG/NBD never does
    assert p_alive(fit, np.array([0.0]), np.array([0.0]), np.array([52.0]))[0] < 0.7
    assert p_alive(CDNOW, np.array([0.0]), np.array([0.0]), np.array([52.0]))[0] == 1.0
    # and MBG/NBD fits its own data better than BG/NBD does
    assert fit.log_likelihood > fit_bgnbd(x, t_x, big_t, kind="bgnbd").log_likelihood


def test_unscorable_members_are_nan_not_zero() -> None:
    e = expected_purchases(CDNOW, 39, np.array([2.0, np.nan]), np.array([30.0, 1.0]), np.array([38.0, 39.0]))
    assert e[0] > 0 and np.isnan(e[1])
    assert np.isnan(p_alive(CDNOW, np.array([np.nan]), np.array([1.0]), np.array([5.0]))[0])
