"""The causal programme effect: staggered difference-in-differences around enrolment, member-clustered intervals.

Members enrol in different weeks (cohorts g). For each cohort and week t, the enrolling members' outcome in week
t is compared with what it would have been without the programme: their own outcome in the week before enrolment
(g - 1), moved by the change that members not yet enrolled by t (or never enrolled) show between g - 1 and t in
the same calendar weeks (Callaway & Sant'Anna 2021, not-yet-treated comparison, base period g - 1). Trends are
*proportional* (the counterfactual is base x control ratio, as in a Poisson difference-in-differences, Wooldridge
2023): heavier shoppers enrol more, and a payday lifts a heavy shopper's visits by more visits than a light
shopper's, so equal additive trends would not hold even without the programme. The cohort-week effects add up to
extra visits (or spend) per exposed member-day; the 95% interval comes from the delta method with every member's
contributions summed before squaring (clustered by member: a member is treated once and a control in many
cells). Placebo effects in the weeks before enrolment (event weeks -K..-2) test the proportional-trend assumption.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

NEVER = np.iinfo(np.int64).max // 4


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
    cells: int  # cohort-week cells that entered

    def scaled(self, factor: float) -> tuple[float, float, float]:
        """(estimate, 95% low, 95% high) times `factor` (e.g. 30.4375 days a month)."""
        e, h = self.per_day * factor, 1.959964 * self.se_per_day * factor
        return e, e - h, e + h


def _cells(p: Panel, event_lo: int, event_hi: int):
    """Cohort-week cells (g, t) with event week t - g in [event_lo, event_hi] and their member masks."""
    for g in np.unique(p.cohort[(p.cohort >= 1) & (p.cohort < p.weeks)]):
        g = int(g)
        treated = (p.cohort == g) & (p.first <= g - 1)
        if not treated.any():
            continue
        for t in range(max(0, g + event_lo), min(p.weeks, g + event_hi + 1)):
            if t == g - 1:
                continue
            lo = min(t, g - 1)
            tr = treated & (p.first <= lo)
            control = (p.cohort > max(t, g - 1)) & (p.first <= lo)
            if tr.sum() == 0 or control.sum() == 0:
                continue
            yield g, t, tr, control


def estimate(p: Panel, post: bool = True, pre_weeks: int = 4) -> Estimate:
    """The post-enrolment effect (post=True: every week from enrolment on) or the pre-trend placebo (post=False:
    event weeks -pre_weeks..-2, where the true effect is zero). Per member-day, with a member-clustered SE."""
    return _aggregate(p, 0, p.weeks) if post else _aggregate(p, -pre_weeks, -2)


def event_study(p: Panel, lo: int = -4, hi: int = 8) -> list[tuple[int, Estimate]]:
    """Effect per member-day by event week (weeks since the enrolment week; -1 is the base, left out)."""
    return [(e, _aggregate(p, e, e)) for e in range(lo, hi + 1) if e != -1]


def _aggregate(p: Panel, lo: int, hi: int) -> Estimate:
    """Sum the cohort-week effects with event week in [lo, hi] into one effect per exposed member-day.

    n_g ATT(g, t) = sum over the cohort of (y_t - ratio * y_base); its linearisation gives every member a
    contribution: as treated, its centred term; as a control, -n_g * b / d times its centred (y_t, y_base) pair
    over the control count. Contributions are summed per member, then squared: the member-clustered variance."""
    n = len(p.cohort)
    psi = np.zeros(n)
    total, exposure, cells = 0.0, 0.0, 0
    treated_any = np.zeros(n, dtype=bool)
    control_any = np.zeros(n, dtype=bool)
    for g, t, tr, ctrl in _cells(p, lo, hi):
        yt, yb = p.y[:, t], p.y[:, g - 1]
        n_t, n_c = int(tr.sum()), int(ctrl.sum())
        a, b = yt[tr].mean(), yb[tr].mean()
        c, d = yt[ctrl].mean(), yb[ctrl].mean()
        if d <= 0:
            continue  # no control activity in the base week: the ratio is undefined, the cell is left out
        ratio = c / d
        total += n_t * (a - b * ratio)
        # exposure: days enrolled (the enrolment week counts from the enrolment day); before enrolment, 7 a week
        exposure += float(np.where(t == g, 7 - p.offset[tr], 7).sum()) if t >= g else 7.0 * n_t
        cells += 1
        x = yt[tr] - ratio * yb[tr]
        psi[tr] += x - x.mean()
        psi[ctrl] -= (n_t * b / d) * ((yt[ctrl] - c) - ratio * (yb[ctrl] - d)) / n_c
        treated_any |= tr
        control_any |= ctrl
    if not cells or exposure <= 0:
        return Estimate(float("nan"), float("nan"), 0, 0, 0)
    return Estimate(total / exposure, float(np.sqrt(np.sum(psi**2))) / exposure, int(treated_any.sum()),
                    int((control_any & ~treated_any).sum()), cells)
