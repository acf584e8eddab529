"""CLV and churn: BG/NBD (Fader, Hardie & Lee 2005), MBG/NBD (Batislam, Denizel & Filiztekin 2007) and
Gamma-Gamma maximum-likelihood fits on scipy.

MBG/NBD differs from BG/NBD in one place that matters here: a member may drop out right at time 0 (after joining,
or after a single purchase), so a member who never came back gets P(alive) < 1; under BG/NBD a member with no
repeat purchase is always alive. `kind` on the parameters says which model they belong to.

Fit once on (a sample of) members, then score vectorised: millions of members score in seconds. Inputs per
member are the usual summary: `x` repeat transactions, `t_x` time of the last one and `T` time since the
first one (any time unit; the parameters follow it), and for Gamma-Gamma the mean transaction value.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy import optimize, special


@dataclass(frozen=True)
class BGNBD:
    """BG/NBD parameters: purchase rate ~ Gamma(r, alpha), dropout probability ~ Beta(a, b)."""

    r: float
    alpha: float
    a: float
    b: float
    log_likelihood: float = float("nan")
    n: int = 0
    kind: str = "bgnbd"  # or "mbgnbd"

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


@dataclass(frozen=True)
class GammaGamma:
    """Gamma-Gamma spend parameters (p, q, gamma): E[M] = p * gamma / (q - 1)."""

    p: float
    q: float
    gamma: float
    log_likelihood: float = float("nan")
    n: int = 0


def _compress(*cols: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    """Unique rows and their counts: the likelihood only needs each distinct summary once."""
    stacked = np.column_stack([np.asarray(c, dtype=np.float64) for c in cols])
    uniq, counts = np.unique(stacked, axis=0, return_counts=True)
    return [uniq[:, i] for i in range(uniq.shape[1])], counts.astype(np.float64)


def bgnbd_log_likelihood(
    params: np.ndarray, x: np.ndarray, t_x: np.ndarray, big_t: np.ndarray, weights: np.ndarray | None = None
) -> float:
    """Total log-likelihood of BG/NBD parameters (r, alpha, a, b) for the summaries."""
    r, alpha, a, b = params
    w = np.ones_like(x) if weights is None else weights
    a1 = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha)
    a2 = special.gammaln(a + b) + special.gammaln(b + x) - special.gammaln(b) - special.gammaln(a + b + x)
    a3 = -(r + x) * np.log(alpha + big_t)
    with np.errstate(divide="ignore", invalid="ignore"):
        a4 = np.where(x > 0, np.log(a) - np.log(b + x - 1) - (r + x) * np.log(alpha + t_x), -np.inf)
    return float(np.sum(w * (a1 + a2 + np.logaddexp(a3, a4))))


def mbgnbd_log_likelihood(
    params: np.ndarray, x: np.ndarray, t_x: np.ndarray, big_t: np.ndarray, weights: np.ndarray | None = None
) -> float:
    """Total log-likelihood of MBG/NBD parameters (r, alpha, a, b): dropout possible at time 0 and after every
    purchase (Batislam et al. 2007)."""
    r, alpha, a, b = params
    w = np.ones_like(x) if weights is None else weights
    a1 = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha)
    a2 = special.gammaln(a + b) + special.gammaln(b + x + 1) - special.gammaln(b) - special.gammaln(a + b + x + 1)
    a3 = -(r + x) * np.log(alpha + big_t)
    a4 = np.log(a) - np.log(b + x) - (r + x) * np.log(alpha + t_x)
    return float(np.sum(w * (a1 + a2 + np.logaddexp(a3, a4))))


LIKELIHOODS = {"bgnbd": bgnbd_log_likelihood, "mbgnbd": mbgnbd_log_likelihood}


def fit_bgnbd(x: np.ndarray, t_x: np.ndarray, big_t: np.ndarray, kind: str = "bgnbd") -> BGNBD:
    """Maximum-likelihood BG/NBD (or MBG/NBD) fit (L-BFGS-B on log parameters, several starts)."""
    (xu, tu, bu), w = _compress(x, t_x, big_t)
    ll = LIKELIHOODS[kind]

    def nll(log_p: np.ndarray) -> float:
        return -ll(np.exp(log_p), xu, tu, bu, w)

    scale = float(np.mean(big_t)) or 1.0
    best = None
    for start in ([0.5, scale / 4, 1.0, 2.0], [1.0, scale, 0.5, 1.0]):
        res = optimize.minimize(nll, np.log(start), method="L-BFGS-B", bounds=[(-12, 12)] * 4)
        if best is None or res.fun < best.fun:
            best = res
    assert best is not None
    r, alpha, a, b = np.exp(best.x)
    return BGNBD(float(r), float(alpha), float(a), float(b), float(-best.fun), len(x), kind)


MIN_FIT_MEMBERS = 50  # below this, or with fewer than MIN_FIT_REPEATERS repeat buyers, a fit is not attempted
MIN_FIT_REPEATERS = 10


def _finite_positive(*values: float) -> bool:
    return all(np.isfinite(v) and v > 0 for v in values)


def fit_bgnbd_robust(
    x: np.ndarray, t_x: np.ndarray, big_t: np.ndarray, kind: str = "bgnbd"
) -> tuple[BGNBD | None, str]:
    """`fit_bgnbd` when the data can support it: (fit, "ok"), else (None, why not) instead of NaN parameters."""
    x = np.asarray(x, dtype=np.float64)
    if len(x) < MIN_FIT_MEMBERS or int((x > 0).sum()) < MIN_FIT_REPEATERS:
        return None, "insufficient_data"
    try:
        m = fit_bgnbd(x, t_x, big_t, kind)
    except (ValueError, FloatingPointError, np.linalg.LinAlgError):
        return None, "fit_failed"
    if not (_finite_positive(m.r, m.alpha, m.a, m.b) and np.isfinite(m.log_likelihood)):
        return None, "fit_failed"
    return m, "ok"


def bgnbd_fallback(x: np.ndarray, big_t: np.ndarray, kind: str = "bgnbd") -> BGNBD:
    """Moment-based BG/NBD stand-in when no fit is possible: the purchase rate matches the observed mean rate
    (repeat purchases per unit of time), with a moderate dropout (a, b as in the CDNOW fit, a != 1)."""
    x = np.asarray(x, dtype=np.float64)
    big_t = np.asarray(big_t, dtype=np.float64)
    rate = float(np.sum(x) / np.sum(big_t)) if len(x) and np.sum(big_t) > 0 else 0.0
    r = 1.0
    alpha = r / rate if rate > 0 else 100.0
    return BGNBD(r, alpha, 0.8, 2.5, float("nan"), len(x), kind)


def fit_gamma_gamma_robust(x: np.ndarray, mbar: np.ndarray) -> tuple[GammaGamma, str]:
    """`fit_gamma_gamma` when the data can support it (status "ok"); otherwise a stand-in whose population mean
    spend is the observed mean spend (p = 2, q = 3, gamma = mean), status "fallback_default"."""
    x = np.asarray(x, dtype=np.float64)
    mbar = np.asarray(mbar, dtype=np.float64)
    keep = (x > 0) & np.isfinite(mbar) & (mbar > 0)
    if int(keep.sum()) >= MIN_FIT_REPEATERS:
        try:
            m = fit_gamma_gamma(x[keep], mbar[keep])
            if _finite_positive(m.p, m.q, m.gamma) and m.q > 1 and np.isfinite(m.log_likelihood):
                return m, "ok"
        except (ValueError, FloatingPointError, np.linalg.LinAlgError):
            pass
    pos = mbar[np.isfinite(mbar) & (mbar > 0)]
    mean = float(pos.mean()) if len(pos) else 1.0
    return GammaGamma(2.0, 3.0, mean, float("nan"), int(keep.sum())), "fallback_default"


def p_alive(m: BGNBD, x: np.ndarray, t_x: np.ndarray, big_t: np.ndarray) -> np.ndarray:
    """P(the member is still active at T | x, t_x, T). NaN where the inputs are not finite (never zero)."""
    x, t_x, big_t = (np.asarray(v, dtype=np.float64) for v in (x, t_x, big_t))
    with np.errstate(divide="ignore", invalid="ignore"):
        if m.kind == "mbgnbd":
            log_ratio = np.log(m.a) - np.log(m.b + x) + (m.r + x) * (np.log(m.alpha + big_t) - np.log(m.alpha + t_x))
            return 1.0 / (1.0 + np.exp(np.minimum(log_ratio, 700)))
        log_ratio = np.log(m.a) - np.log(m.b + x - 1) + (m.r + x) * (np.log(m.alpha + big_t) - np.log(m.alpha + t_x))
    out = np.where(x > 0, 1.0 / (1.0 + np.exp(np.minimum(log_ratio, 700))), 1.0)
    return np.where(np.isfinite(x) & np.isfinite(t_x) & np.isfinite(big_t), out, np.nan)


def expected_purchases(m: BGNBD, t: float, x: np.ndarray, t_x: np.ndarray, big_t: np.ndarray) -> np.ndarray:
    """E[purchases in the next `t` | x, t_x, T] (BG/NBD: Fader, Hardie & Lee 2005, eq. 10; MBG/NBD: Batislam et
    al. 2007). A member the formula cannot score gets NaN, never a silent zero: callers count them."""
    x, t_x, big_t = (np.asarray(v, dtype=np.float64) for v in (x, t_x, big_t))
    r, alpha, a, b = m.r, m.alpha, m.a, m.b
    z = t / (alpha + big_t + t)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if m.kind == "mbgnbd":
            hyp = special.hyp2f1(r + x, b + x + 1, a + b + x, z)
            lead = (a + b + x) / (a - 1)
            log_ratio = np.log(a) - np.log(b + x) + (r + x) * (np.log(alpha + big_t) - np.log(alpha + t_x))
            den = 1.0 + np.exp(np.minimum(log_ratio, 700))
        else:
            hyp = special.hyp2f1(r + x, b + x, a + b + x - 1, z)
            lead = (a + b + x - 1) / (a - 1)
            log_ratio = np.log(a) - np.log(b + x - 1) + (r + x) * (np.log(alpha + big_t) - np.log(alpha + t_x))
            den = 1.0 + np.where(x > 0, np.exp(np.minimum(log_ratio, 700)), 0.0)
        num = 1.0 - np.exp((r + x) * (np.log(alpha + big_t) - np.log(alpha + big_t + t))) * hyp
        out = lead * num / den
    out = np.where(np.isfinite(out), np.maximum(out, 0.0), np.nan)
    return out


def gg_log_likelihood(params: np.ndarray, x: np.ndarray, mbar: np.ndarray, weights: np.ndarray | None = None) -> float:
    p, q, g = params
    w = np.ones_like(x) if weights is None else weights
    ll = (
        special.gammaln(p * x + q)
        - special.gammaln(p * x)
        - special.gammaln(q)
        + q * np.log(g)
        + (p * x - 1) * np.log(mbar)
        + p * x * np.log(x)
        - (p * x + q) * np.log(x * mbar + g)
    )
    return float(np.sum(w * ll))


def fit_gamma_gamma(x: np.ndarray, mbar: np.ndarray) -> GammaGamma:
    """Maximum-likelihood Gamma-Gamma fit on members with x > 0 and a positive mean spend."""
    keep = (np.asarray(x) > 0) & (np.asarray(mbar) > 0)
    xk, mk = np.asarray(x, dtype=np.float64)[keep], np.asarray(mbar, dtype=np.float64)[keep]
    (xu, mu), w = _compress(xk, np.round(mk, 2))
    scale = float(np.mean(mk)) if len(mk) else 1.0

    def nll(log_p: np.ndarray) -> float:
        return -gg_log_likelihood(np.exp(log_p), xu, mu, w)

    res = optimize.minimize(nll, np.log([2.0, 3.0, scale]), method="L-BFGS-B", bounds=[(-10, 15)] * 3)
    p, q, g = np.exp(res.x)
    return GammaGamma(float(p), float(q), float(g), float(-res.fun), int(keep.sum()))


def expected_spend(m: GammaGamma, x: np.ndarray, mbar: np.ndarray) -> np.ndarray:
    """E[spend per transaction | x, mean spend]; the population mean for members with no repeat."""
    x = np.asarray(x, dtype=np.float64)
    mbar = np.nan_to_num(np.asarray(mbar, dtype=np.float64))
    pop = m.p * m.gamma / (m.q - 1) if m.q > 1 else float("nan")
    cond = m.p * (m.gamma + x * mbar) / (m.p * x + m.q - 1)
    return np.where(x > 0, cond, pop)


def simulate_bgnbd(
    m: BGNBD, n: int, big_t: float | np.ndarray, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Draw (x, t_x, T) for `n` members from a BG/NBD (or, for kind mbgnbd, MBG/NBD: a dropout chance already at
    time 0) process: to validate the fit by recovering parameters."""
    rng = np.random.default_rng(seed)
    big_t = np.broadcast_to(np.asarray(big_t, dtype=np.float64), (n,)).copy()
    lam = rng.gamma(m.r, 1.0 / m.alpha, n)
    p = rng.beta(m.a, m.b, n)
    x = np.zeros(n)
    t_x = np.zeros(n)
    t = np.zeros(n)
    active = np.ones(n, dtype=bool)
    if m.kind == "mbgnbd":
        active &= rng.random(n) >= p
    while active.any():
        idx = np.flatnonzero(active)
        t[idx] += rng.exponential(1.0 / lam[idx])
        bought = t[idx] <= big_t[idx]
        b_idx = idx[bought]
        x[b_idx] += 1
        t_x[b_idx] = t[b_idx]
        active[idx[~bought]] = False
        died = rng.random(len(b_idx)) < p[b_idx]
        active[b_idx[died]] = False
    return x, t_x, big_t
