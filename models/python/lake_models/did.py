"""The causal programme effect: staggered difference-in-differences around enrolment, member-clustered intervals.

Members enrol in different weeks (cohorts g). For each cohort and week t, the enrolling members' outcome in week
t is compared with what it would have been without the programme: their own mean weekly outcome over the K weeks
before enrolment (the base, g - K .. g - 1), moved by the change that members not yet enrolled by t (or never
enrolled) show between the same base weeks and t (Callaway & Sant'Anna 2021, not-yet-treated comparison, here with
a multi-week base; K = `base_weeks`, 4 by default). Trends are *proportional* (the counterfactual is base x control
ratio, as in a Poisson difference-in-differences, Wooldridge 2023): heavier shoppers enrol more, and a payday lifts
a heavy shopper's visits by more visits than a light shopper's, so equal additive trends would not hold even
without the programme.

Why several base weeks: the base enters every post week of the cohort, so with one base week (g - 1) that week's
noise is counted once per post week and dominates the interval (a member's spend in one week is mostly one or two
baskets). The mean of K weeks has about 1/K of that noise; the proportional trend is unchanged because treated
and controls are measured over the *same* base weeks, so the calendar inside the base cancels in the ratio.

Fewer pre weeks: a cohort enrolling in week g < K uses weeks 0 .. g - 1; a member who joined in the window is
observed in full from `first`, so a treated member with first > g - K uses first .. g - 1. Each cell is therefore
(cohort, base start b, week t): the cohort's members whose base starts at b, against comparison members observed
in full from b (not yet enrolled by t, not of the cohort), all over the same base weeks b .. g - 1.

Variance: the cell total n_g ATT(g, b, t) = sum over the treated of (y_t - R ybar), R = c / d, where ybar is a
member's mean over the base weeks, c and d the controls' means of y_t and ybar. The base mean is a function of one
member's own weeks, so it linearises like any member-level variable: a treated member contributes its centred
y_t - R ybar, a control -(n_g b / d) ((y_t - c) - R (ybar - d)) / n_c, with b the treated mean of ybar. A member's
contributions over every cell (treated once, a control in many, base weeks shared across cells and with its own
post weeks) are summed before squaring: the member-clustered delta-method variance, which carries the correlation
between a member's base mean and its later weeks.

Pre-trend placebo: every cohort's enrolment is moved `pre_weeks` (L, 3) weeks early, and the same estimator is run
on the L weeks before the real enrolment (event weeks -L .. -1, where the true effect is zero), with its base the K
weeks before the placebo date (event weeks -L - K .. -L - 1). The placebo weeks never overlap the base they are
compared with: a week inside its own base would be compared partly with itself and pulled towards zero, hiding a
pre-trend. The placebo weeks lie inside the real estimate's base (its last L weeks; all of it when K <= L): the
placebo asks whether the enrolling members' base moved like the comparison members' before it, which is what the
real estimate assumes (a dip or a spike just before enrolment shows up here).

A longer base is more exposed to what happens before enrolment. Members who have stopped shopping do not enrol,
so an enrolling member was still a customer on its enrolment day while a comparison member may have left during
the base weeks: the comparison's base holds some of its churn and the enrolling members' does not, which lifts
the estimate a little (the more base weeks, the more) and shows in the placebo (README, truth tests).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

NEVER = np.iinfo(np.int64).max // 4
BASE_WEEKS = 4  # K: pre-enrolment weeks averaged into the base (what a cohort or member has, when fewer)
PRE_WEEKS = 3  # L: placebo weeks before enrolment for the pre-trend check


@dataclass(frozen=True)
class Panel:
    """A balanced member x week panel. `cohort`: enrolment week (NEVER if never enrolled by the as-of date);
    `offset`: day of the enrolment week on which the member enrolled (0-6); `first`: first week the member is
    observed in full (joined before it); `y`: outcome per member and week (members x weeks)."""

    cohort: np.ndarray
    offset: np.ndarray
    first: np.ndarray
    y: np.ndarray

    @property
    def weeks(self) -> int:
        return self.y.shape[1]


@dataclass(frozen=True)
class Estimate:
    per_day: float  # effect per exposed member-day (pre-trend: per member-day before enrolment)
    se_per_day: float
    treated_members: int
    control_members: int
    cells: int  # cohort x base-start x week cells that entered

    def scaled(self, factor: float) -> tuple[float, float, float]:
        """(estimate, 95% low, 95% high) times `factor` (e.g. 30.4375 days a month)."""
        e, h = self.per_day * factor, 1.959964 * self.se_per_day * factor
        return e, e - h, e + h


@dataclass(frozen=True)
class Cell:
    """One comparison: cohort g's members `treated` in week t against `control`, both over base weeks
    base_lo .. base_hi (inclusive; every member of the cell is observed in full in all of them and in t)."""

    g: int
    t: int
    base_lo: int
    base_hi: int
    treated: np.ndarray
    control: np.ndarray


def cells(p: Panel, event_lo: int, event_hi: int, base_weeks: int = BASE_WEEKS,
          placebo: int = 0) -> Iterator[Cell]:
    """The cells with event week t - g in [event_lo, event_hi]. placebo=0: the real estimate, base before g and
    weeks from g on. placebo=L > 0: enrolment moved L weeks early, base before g - L, weeks g - L .. g - 1 only
    (untreated, so the effect there is zero)."""
    if base_weeks < 1:
        raise ValueError(f"base_weeks must be at least 1, got {base_weeks}")
    for g in np.unique(p.cohort[(p.cohort >= 1) & (p.cohort < p.weeks)]):
        g = int(g)
        anchor = g - placebo  # the (placebo) enrolment week: base weeks end just before it
        base_hi = anchor - 1
        if base_hi < 0:
            continue
        in_cohort = (p.cohort == g) & (p.first <= base_hi)
        if not in_cohort.any():
            continue
        start = np.maximum(p.first, max(0, base_hi - base_weeks + 1))  # a late joiner's base starts when it joined
        t_hi = g - 1 if placebo else p.weeks - 1
        for t in range(max(anchor, g + event_lo), min(t_hi, g + event_hi) + 1):
            for b in np.unique(start[in_cohort]):
                b = int(b)
                tr = in_cohort & (start == b)
                # not yet enrolled by t (so untreated in the base weeks too), not of the cohort, observed from b
                control = (p.cohort > t) & (p.cohort != g) & (p.first <= b)
                if tr.any() and control.any():
                    yield Cell(g, t, b, base_hi, tr, control)


def estimate(p: Panel, post: bool = True, pre_weeks: int = PRE_WEEKS, base_weeks: int = BASE_WEEKS) -> Estimate:
    """The post-enrolment effect (post=True: every week from enrolment on) or the pre-trend placebo (post=False:
    enrolment moved `pre_weeks` early, event weeks -pre_weeks..-1, where the true effect is zero). Per member-day,
    with a member-clustered SE."""
    if post:
        return _aggregate(p, cells(p, 0, p.weeks, base_weeks))
    return _aggregate(p, cells(p, -pre_weeks, -1, base_weeks, placebo=pre_weeks))


def event_study(p: Panel, lo: int = -PRE_WEEKS, hi: int = 8,
                base_weeks: int = BASE_WEEKS) -> list[tuple[int, Estimate]]:
    """Effect per member-day by event week (weeks since the enrolment week). Weeks 0..hi against the base before
    enrolment; weeks lo..-1 are the placebo of `estimate(post=False, pre_weeks=-lo)`, week by week."""
    pre = [(e, _aggregate(p, cells(p, e, e, base_weeks, placebo=-lo))) for e in range(lo, 0)]
    return pre + [(e, _aggregate(p, cells(p, e, e, base_weeks))) for e in range(0, hi + 1)]


def _aggregate(p: Panel, found: Iterator[Cell]) -> Estimate:
    """Sum the cell effects into one effect per exposed member-day, with the member-clustered delta-method SE
    (the linearisation is in the module docstring)."""
    n = len(p.cohort)
    psi = np.zeros(n)
    total, exposure, n_cells = 0.0, 0.0, 0
    treated_any = np.zeros(n, dtype=bool)
    control_any = np.zeros(n, dtype=bool)
    cum = np.concatenate([np.zeros((n, 1)), np.cumsum(p.y, axis=1)], axis=1)
    for c in found:
        tr, ctrl = c.treated, c.control
        yt = p.y[:, c.t]
        yb = (cum[:, c.base_hi + 1] - cum[:, c.base_lo]) / (c.base_hi - c.base_lo + 1)  # mean over the base
        n_t, n_c = int(tr.sum()), int(ctrl.sum())
        a, b = yt[tr].mean(), yb[tr].mean()
        cm, d = yt[ctrl].mean(), yb[ctrl].mean()
        if d <= 0:
            continue  # no control activity in the base weeks: the ratio is undefined, the cell is left out
        ratio = cm / d
        total += n_t * (a - b * ratio)
        # exposure: days enrolled (the enrolment week counts from the enrolment day); before enrolment, 7 a week
        exposure += float(np.where(c.t == c.g, 7 - p.offset[tr], 7).sum()) if c.t >= c.g else 7.0 * n_t
        n_cells += 1
        x = yt[tr] - ratio * yb[tr]
        psi[tr] += x - x.mean()
        psi[ctrl] -= (n_t * b / d) * ((yt[ctrl] - cm) - ratio * (yb[ctrl] - d)) / n_c
        treated_any |= tr
        control_any |= ctrl
    if not n_cells or exposure <= 0:
        return Estimate(float("nan"), float("nan"), 0, 0, 0)
    return Estimate(total / exposure, float(np.sqrt(np.sum(psi**2))) / exposure, int(treated_any.sum()),
                    int((control_any & ~treated_any).sum()), n_cells)
