"""The simulated world: stores, members (with their hidden behaviour) and campaigns, built once per run."""

from __future__ import annotations

import datetime as dt
import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from . import catalog as cat
from . import places
from .geo import N_PREF, PREF_LAT, PREF_LON, PREF_POP, PREF_SPREAD, PREF_WEIGHT, PREFECTURES, pref_distance_km
from .gid import make_gids
from .textfmt import fixed_digits

NEVER = 2**30  # relative day index meaning "never"
EPOCH = dt.date(1970, 1, 1)

# --- the planted loyalty-programme effect -------------------------------------------------------------
# After programme_joined_on an enrolled member makes, on top of their normal behaviour, extra cvs visits
# (Poisson, PROGRAMME_EXTRA_VISITS_PER_MONTH a month in the default mode) of one line each with a mean amount
# such that the extra spend is PROGRAMME_EXTRA_SPEND_PER_MONTH a month. In the default mode enrolment is
# independent of everything else, so programme members minus e-money-only members (same baseline) recovers it;
# the confounding mode (Behaviour below) lets heavier shoppers enrol more, so that difference does not.
DAYS_PER_MONTH = 30.4375
PROGRAMME_EXTRA_VISITS_PER_MONTH = 3.2
PROGRAMME_EXTRA_SPEND_PER_MONTH = 1535.0
PROGRAMME_EXTRA_MEAN_YEN = PROGRAMME_EXTRA_SPEND_PER_MONTH / PROGRAMME_EXTRA_VISITS_PER_MONTH

BASE_VISITS_PER_MONTH = 4.5  # mean member visits a month over all brands (gamma heterogeneity)
RATE_SHAPE = 1.2
SEGMENT_NONE, SEGMENT_EMONEY, SEGMENT_PROGRAMME = 0, 1, 2
AUTO_CHARGE_DAYS = 30
SEGMENT_NAMES = ("none", "emoney_only", "programme")
REFERRAL_WINDOW_DAYS = 28  # the campaign outcome: a first purchase at the target within 28 days of the start
MODES = ("default", "confounding")


@dataclass(frozen=True)
class Behaviour:
    """What the simulated members do beyond the basics; one per generator mode.

    The confounding mode plants what real data has and what fools naive analytics: self-selected enrolment
    (heavier usual shoppers enrol more), calendar seasonality (paydays around the 25th, month ends), e-money
    cards that top up when the balance runs low (so "card used" depends on shopping), moves inside a
    prefecture, commuters who shop near work on weekdays without moving, and new members who buy once and
    never come back."""

    self_selected_enrolment: bool
    enrolment_rate_elasticity: float  # log-odds of enrolling per unit of log(visit rate / median rate)
    seasonality: bool
    topup_when_low: bool
    moves_within_prefecture: float  # share of movers who move inside their prefecture (8-40 km)
    commuters: float  # share of members who shop near work on weekdays (10-40 km from home)
    one_purchase_share: float  # share of members joining inside the window who buy once and never return
    programme_visits_per_month: float
    programme_spend_per_month: float
    effect_shape: float  # gamma shape of the per-member effect multiplier (mean 1); 0 = the same for everyone


BEHAVIOURS: dict[str, Behaviour] = {
    "default": Behaviour(False, 0.0, False, False, 0.0, 0.0, 0.0, 3.2, 1535.0, 0.0),
    "confounding": Behaviour(True, 1.0, True, True, 0.5, 0.06, 0.4, 1.6, 767.5, 2.0),
}
PAYDAY = 25  # Japanese salaries are paid around the 25th
COMMUTER_WEEKDAY_WORK_SHARE = 0.45
FAR_STORE_KM = 25.0  # a brand's nearest store farther than this from home is for the odd trip only
FAR_STORE_FACTOR = 0.1  # of a commuter's weekday cvs and diner visits, near work


def to_day(d: dt.date) -> int:
    """Days since 1970-01-01."""
    return (d - EPOCH).days


@dataclass
class Stores:
    """One company's store network (index = position in these arrays)."""

    company: str
    ids: pa.Array
    pref: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    names: list[str]
    cities: list[str]
    opened: np.ndarray  # epoch days
    fmt: str
    by_pref_order: np.ndarray  # store indices sorted by prefecture
    by_pref_offs: np.ndarray  # CSR offsets (N_PREF + 1)
    fallback: np.ndarray  # per prefecture: itself if it has stores, else the nearest prefecture that has

    @property
    def n(self) -> int:
        return len(self.pref)

    def pick(self, prefs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """A random store in (or nearest to) each given prefecture."""
        fp = self.fallback[prefs]
        lo = self.by_pref_offs[fp]
        cnt = self.by_pref_offs[fp + 1] - lo
        return self.by_pref_order[lo + (rng.random(len(prefs)) * cnt).astype(np.int64)]


@dataclass
class Campaign:
    campaign_id: str
    company: str
    target: str
    description: str
    start_day: int  # relative day index, inclusive
    end_day: int  # inclusive
    p_control: float
    p_treatment: float
    members: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    treatment: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    conv_day: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # induced visit day, -1: none
    organic_day: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # organic first visit, -1: none


# (company, target, description, start as a fraction of the window, length in days, p_control, p_treatment)
CAMPAIGN_SPECS: tuple[tuple[str, str, str, float, int, float, float], ...] = (
    ("cvs", "diner", "コンビニ会員限定 ファミレス初回ドリンクバー無料クーポン", 0.15, 21, 0.03, 0.09),
    ("cvs", "ec", "グループEC はじめてのお買い物 500円引きクーポン", 0.25, 28, 0.02, 0.06),
    ("gms", "dept", "スーパー会員向け 百貨店お試し10%オフ", 0.30, 21, 0.01, 0.025),
    ("diner", "gms", "ファミレス来店者向け スーパー初回300円引き", 0.40, 21, 0.04, 0.04),
    ("dept", "ec", "百貨店カード会員 EC送料無料クーポン", 0.50, 21, 0.02, 0.05),
    ("gms", "diner", "スーパー会員向け ファミレス平日ランチ割引", 0.55, 21, 0.03, 0.07),
)


class World:
    """All hidden state of the simulation. Built deterministically from the config's seed."""

    def __init__(self, members: int, days: int, start: dt.date, seed: int, mode: str = "default") -> None:
        if members < 1 or days < 1:
            raise ValueError("members and days must be positive")
        if mode not in BEHAVIOURS:
            raise ValueError(f"unknown mode {mode!r}; choose from {', '.join(MODES)}")
        self.mode = mode
        self.beh = BEHAVIOURS[mode]
        self.n = members
        self.days = days
        self.start = start
        self.start_day = to_day(start)
        self.seed = seed
        self.dist = pref_distance_km()
        self.stores: dict[str, Stores] = {}
        for i, company in enumerate(cat.NETWORKS):
            self.stores[company] = self._build_stores(company, np.random.default_rng([seed, 10, i]))
        self._build_members(np.random.default_rng([seed, 20]))
        self._build_campaigns(np.random.default_rng([seed, 30]))
        self._expected_member_visits()

    # ---- stores ----------------------------------------------------------------------------------------
    def _build_stores(self, company: str, rng: np.random.Generator) -> Stores:
        net = cat.NETWORKS[company]
        scale = min(1.0, max(0.05, self.n / 200_000))
        total = max(net.stores if company in ("dept", "ec") else round(net.stores * scale), 1)
        if net.prefs is None:
            w = PREF_WEIGHT.copy()
        else:
            w = np.zeros(N_PREF)
            for code in net.prefs:
                w[code - 1] += PREF_POP[code - 1]
            w /= w.sum()
        base = np.full(N_PREF, net.min_per_pref, dtype=np.int64) * (w > 0)
        rest = max(total - int(base.sum()), 0)
        quota = w * rest
        counts = base + np.floor(quota).astype(np.int64)
        short = total - int(counts.sum())
        if short > 0:
            counts[np.argsort(-(quota - np.floor(quota)), kind="stable")[:short]] += 1
        pref = np.repeat(np.arange(N_PREF), counts).astype(np.int16)
        n = len(pref)
        spread = PREF_SPREAD[pref]
        lat = np.round(PREF_LAT[pref] + rng.normal(0, 1, n) * spread * 0.7, 6)
        lon = np.round(PREF_LON[pref] + rng.normal(0, 1, n) * spread, 6)
        if net.id_prefix:
            ids = fixed_digits(np.arange(1, n + 1), net.id_digits, net.id_prefix)
        else:  # cvs: 6-digit numeric store codes starting at 100001
            ids = fixed_digits(100000 + np.arange(1, n + 1), net.id_digits)
        words = rng.integers(0, len(cat.BRANCH_WORDS), n)
        cities = [PREFECTURES[p].capital for p in pref]
        if company == "ec":
            names = [f"{net.brand} {city.removesuffix('市')}物流センター" for city in cities]
        else:
            names = [
                f"{net.brand} {city.removesuffix('市').removesuffix('区')}{cat.BRANCH_WORDS[w_]}店"
                for city, w_ in zip(cities, words, strict=True)
            ]
        seen: dict[str, int] = {}
        for i, nm in enumerate(names):  # keep names unique within a company (masters only, small)
            k = seen.get(nm, 0)
            seen[nm] = k + 1
            if k:
                names[i] = nm.removesuffix("店") + f"{k + 1}号店"
        first = to_day(dt.date(net.opened_from, 1, 1))
        last = to_day(self.start) - 30
        opened = rng.integers(first, last, n)
        order = np.argsort(pref, kind="stable")
        offs = np.zeros(N_PREF + 1, dtype=np.int64)
        np.cumsum(counts, out=offs[1:])
        has = counts > 0
        d = np.where(has[None, :], self.dist, np.inf)
        fallback = np.argmin(d, axis=1)
        return Stores(company, ids, pref, lat, lon, names, cities, opened, net.fmt, order, offs, fallback)

    def availability(self, company: str) -> np.ndarray:
        """Per prefecture: 1 if the company serves it; dept elsewhere 0.3 (people travel), sm elsewhere 0."""
        if company == "ec":
            return np.ones(N_PREF)
        counts = np.diff(self.stores[company].by_pref_offs)
        if company == "sm":
            return (counts > 0).astype(np.float64)
        if company == "dept":
            return np.where(counts > 0, 1.0, 0.3)
        return np.ones(N_PREF)

    # ---- members ---------------------------------------------------------------------------------------
    def _build_members(self, rng: np.random.Generator) -> None:
        n, days = self.n, self.days
        self.gid = make_gids(rng, n)
        self.gid_str = fixed_digits(self.gid, 12)
        self.home_pref = rng.choice(N_PREF, size=n, p=PREF_WEIGHT).astype(np.int16)
        age = np.clip(rng.normal(44, 15, n), 16, 92)
        self.birth_day = self.start_day - (age * 365.25).astype(np.int64) - rng.integers(0, 365, n)
        self.gender = rng.choice(4, size=n, p=[0.52, 0.44, 0.01, 0.03]).astype(np.int8)  # F, M, X, blank
        # joined the group ID platform: 95% before the window (since 2021), 5% during it
        before = rng.random(n) < 0.95
        self.joined_day = np.where(before, -rng.integers(1, 5 * 365, n), rng.integers(0, days, n))
        # churn (BG/NBD style "death"): 10% before the window, 12% during it
        u = rng.random(n)
        churn = np.full(n, NEVER, dtype=np.int64)
        pre = (u < 0.10) & (self.joined_day < -60)
        churn[pre] = rng.integers(self.joined_day[pre] + 30, -1)
        during = (u >= 0.10) & (u < 0.22)
        lo = np.maximum(self.joined_day[during], 0) + 3
        ok = lo < days
        idx = np.flatnonzero(during)[ok]
        churn[idx] = lo[ok] + (rng.random(ok.sum()) * (days - lo[ok])).astype(np.int64)
        self.churn_day = churn
        # loyalty programme / e-money segments (independent of behaviour: the effect is planted, see top)
        seg_u = rng.random(n)
        self.segment = np.where(seg_u < 0.35, SEGMENT_PROGRAMME, np.where(seg_u < 0.65, SEGMENT_EMONEY, 0))
        self.segment = self.segment.astype(np.int8)
        prog = self.segment == SEGMENT_PROGRAMME
        early = rng.random(n) < 0.55
        lo_e = np.maximum(self.joined_day, -730)
        early_day = lo_e + (rng.random(n) * np.maximum(-lo_e, 0)).astype(np.int64)
        lo_l = np.maximum(self.joined_day, 0)
        late_day = lo_l + (rng.random(n) * np.maximum(days - lo_l, 1)).astype(np.int64)
        use_early = early & (self.joined_day < -1)
        self.prog_day = np.where(prog, np.where(use_early, early_day, late_day), NEVER)
        self.card_last4 = rng.integers(0, 10000, n).astype(np.int16)
        self.consent = rng.random(n) < 0.70
        self.app_user = rng.random(n) < np.where(prog, 0.65, 0.35)
        # life stage: a baby arriving (baby purchases only from that day)
        baby = rng.random(n) < 0.045
        self.baby_day = np.where(baby, rng.integers(-540, max(days - 7, 1), n), NEVER)
        # visit rate (per day) and brand affinity
        self.rate = rng.gamma(RATE_SHAPE, BASE_VISITS_PER_MONTH / DAYS_PER_MONTH / RATE_SHAPE, n)
        beh = self.beh
        r2 = np.random.default_rng([self.seed, 21])  # draws of the confounding behaviours: own stream
        if beh.self_selected_enrolment:
            # heavier usual shoppers enrol more (about as many programme members overall as by default)
            z = beh.enrolment_rate_elasticity * np.log(self.rate / np.median(self.rate))
            p_prog = 1.0 / (1.0 + np.exp(-(np.log(0.35 / 0.65) + z)))
            p_prog *= 0.35 / p_prog.mean()
            prog_u = r2.random(n) < np.clip(p_prog, 0, 0.98)
            emoney_u = r2.random(n) < 0.30 / 0.65
            self.segment = np.where(prog_u, SEGMENT_PROGRAMME, np.where(emoney_u, SEGMENT_EMONEY, 0)).astype(np.int8)
            prog = self.segment == SEGMENT_PROGRAMME
            self.prog_day = np.where(prog, np.where(use_early, early_day, late_day), NEVER)
            self.app_user = r2.random(n) < np.where(prog, 0.65, 0.35)
        # the programme effect per member (mean 1): the same for everyone, or gamma-distributed
        self.effect_mult = (
            r2.gamma(beh.effect_shape, 1.0 / beh.effect_shape, n) if beh.effect_shape > 0 else np.ones(n)
        )
        # new members who buy once, on the day they join, and never come back
        self.one_purchase = (self.joined_day >= 0) & (r2.random(n) < beh.one_purchase_share)
        self.churn_day = np.where(self.one_purchase, self.joined_day + 1, self.churn_day)
        # nobody enrols after they stopped shopping: such an enrolment moves before the last day (or never happens)
        after = (self.prog_day != NEVER) & (self.prog_day >= self.churn_day)
        lo = np.maximum(self.joined_day, np.where(self.prog_day < 0, -730, 0))
        can = after & (self.churn_day - lo >= 2)
        self.prog_day = np.where(can, lo + (r2.random(n) * (self.churn_day - lo - 1)).astype(np.int64), self.prog_day)
        drop = after & ~can
        self.prog_day[drop] = NEVER
        self.segment[drop] = SEGMENT_EMONEY
        nc = len(cat.SALES_COMPANIES)
        use = np.zeros((n, nc), dtype=bool)
        for c, company in enumerate(cat.SALES_COMPANIES):
            p = cat.USE_PROB[company] * self.availability(company)[self.home_pref]
            use[:, c] = rng.random(n) < p
        use[:, cat.CI["baby"]] &= baby
        none = ~use[:, : cat.CI["baby"]].any(axis=1) & ~use[:, cat.CI["ec"]]
        use[none, cat.CI["cvs"]] = True
        share = np.array([cat.VISIT_SHARE[c] for c in cat.SALES_COMPANIES])
        w = use * share[None, :] * rng.gamma(2.0, 0.5, (n, nc))
        nb = [i for i, c in enumerate(cat.SALES_COMPANIES) if c != "baby"]
        w[:, nb] /= w[:, nb].sum(axis=1, keepdims=True)
        self.use = use
        self.weight = w.astype(np.float32)
        # movers: ~2.5% of living members move house inside the window
        lo_m, hi_m = int(days * 0.2), max(int(days * 0.8), int(days * 0.2) + 1)
        cand = (self.churn_day > hi_m) & (self.joined_day < lo_m)
        mover = cand & (rng.random(n) < 0.025)
        self.movers = np.flatnonzero(mover)
        k = len(self.movers)
        self.move_day = np.full(n, NEVER, dtype=np.int64)
        self.move_day[self.movers] = rng.integers(lo_m, hi_m, k) if hi_m > lo_m else lo_m
        near = np.argsort(self.dist, axis=1)[:, 1:6]
        from_p = self.home_pref[self.movers].astype(np.int64)
        to_near = near[from_p, rng.integers(0, 5, k)]
        to_far = rng.choice(N_PREF, size=k, p=PREF_WEIGHT)
        to_far = np.where(to_far == from_p, (to_far + 1 + rng.integers(0, N_PREF - 1, k)) % N_PREF, to_far)
        self.new_pref = self.home_pref.copy()
        self.new_pref[self.movers] = np.where(rng.random(k) < 0.5, to_near, to_far)
        self.address_updated = np.zeros(n, dtype=bool)
        self.address_updated[self.movers] = rng.random(k) < 0.6
        self.mover_pos = np.full(n, -1, dtype=np.int64)
        self.mover_pos[self.movers] = np.arange(k)
        self._place_members(r2)

    def _place_members(self, rng: np.random.Generator) -> None:
        """Home points (around a cvs store of the home prefecture), the new home of movers (another prefecture,
        or 8-40 km away inside the same one), work points of commuters (10-40 km away), and the favourite
        stores of each brand: the nearest to home (to work, for a commuter's weekday cvs and diner visits)."""
        n, beh, nc = self.n, self.beh, len(cat.SALES_COMPANIES)
        cvs = self.stores["cvs"]
        hs = cvs.pick(self.home_pref, rng)
        self.home_lat = cvs.lat[hs] + rng.normal(0, 0.004, n)
        self.home_lon = cvs.lon[hs] + rng.normal(0, 0.004, n)
        mv, k = self.movers, len(self.movers)
        self.within_pref_move = np.zeros(n, dtype=bool)
        self.within_pref_move[mv] = rng.random(k) < beh.moves_within_prefecture
        self.new_pref[mv] = np.where(self.within_pref_move[mv], self.home_pref[mv], self.new_pref[mv])
        ns = cvs.pick(self.new_pref[mv], rng)
        for p in np.unique(self.home_pref[mv[self.within_pref_move[mv]]]):
            sel = np.flatnonzero(self.within_pref_move[mv] & (self.home_pref[mv] == p))
            cand = np.flatnonzero(cvs.pref == p)
            m = mv[sel]
            ns[sel] = cand[places.point_at_distance(self.home_lat[m], self.home_lon[m], cvs.lat[cand],
                                                    cvs.lon[cand], 8.0, 40.0, rng)]
        self.new_lat = self.home_lat.copy()
        self.new_lon = self.home_lon.copy()
        self.new_lat[mv] = cvs.lat[ns] + rng.normal(0, 0.004, k)
        self.new_lon[mv] = cvs.lon[ns] + rng.normal(0, 0.004, k)
        # commuters: a work place 10-40 km from home, in the home prefecture; never movers, never one-purchase
        commuter = (rng.random(n) < beh.commuters) & (self.move_day == NEVER) & ~self.one_purchase
        self.commuters = np.flatnonzero(commuter)
        self.work_lat = np.full(n, np.nan)
        self.work_lon = np.full(n, np.nan)
        self.work_cvs = np.full(n, -1, dtype=np.int64)
        self.work_diner = np.full(n, -1, dtype=np.int64)
        for p in np.unique(self.home_pref[self.commuters]):
            m = self.commuters[self.home_pref[self.commuters] == p]
            cand = np.flatnonzero(cvs.pref == p)
            self.work_cvs[m] = cand[places.point_at_distance(self.home_lat[m], self.home_lon[m], cvs.lat[cand],
                                                             cvs.lon[cand], 10.0, 40.0, rng)]
        c = self.commuters
        self.work_lat[c], self.work_lon[c] = cvs.lat[self.work_cvs[c]], cvs.lon[self.work_cvs[c]]
        self.is_commuter = commuter
        # favourite stores (primary / secondary) per company, before and after the move
        self.prim = np.zeros((n, nc), dtype=np.int32)
        self.sec = np.zeros((n, nc), dtype=np.int32)
        self.prim_moved = np.zeros((max(k, 1), nc), dtype=np.int32)  # one spare row: indexable when k = 0
        self.sec_moved = np.zeros((max(k, 1), nc), dtype=np.int32)
        grid = places.Grid(cvs.lat, cvs.lon)
        self.far_factor = np.ones((n, nc))
        self.far_factor_moved = np.ones((max(k, 1), nc))
        homes = (
            (self.home_lat, self.home_lon, self.home_pref, hs, slice(None)),
            (self.new_lat[mv], self.new_lon[mv], self.new_pref[mv], ns, slice(0, k)),
        )
        # the two nearest stores of the sparser networks to each home (and new home) involve no random draws:
        # computed first, two at a time (numpy releases the GIL)
        with ThreadPoolExecutor(max_workers=2) as pool:
            nearest = {
                (company, i): pool.submit(places.nearest, st.lat, st.lon, st.pref, st.fallback,
                                          prefs.astype(np.int64), lat, lon)
                for company, st in self.stores.items() if company not in ("cvs", "ec")
                for i, (lat, lon, prefs, _, _) in enumerate(homes)
            }
        for c_, company in enumerate(cat.SALES_COMPANIES):
            if company not in self.stores or company == "ec":
                continue
            st = self.stores[company]
            for i, (lat, lon, _, pfx, rows) in enumerate(homes):
                if company == "cvs":  # dense network: two random stores of the home's 3 km cell
                    a, b = grid.pick(lat, lon, rng), grid.pick(lat, lon, rng)
                    a = np.where(a < 0, pfx, a)
                    pair = np.column_stack([a, np.where(b < 0, a, b)])
                else:
                    pair = nearest[(company, i)].result()
                if rows == slice(None):
                    self.prim[:, c_], self.sec[:, c_] = pair[:, 0], pair[:, 1]
                else:
                    self.prim_moved[rows, c_], self.sec_moved[rows, c_] = pair[:, 0], pair[:, 1]
            # a brand whose nearest store is far from home is used for the odd trip only (and after a move, from
            # the new home: a mover stops going back to the old area's superstore)
            far = places.distance_km(self.home_lat, self.home_lon, st.lat[self.prim[:, c_]], st.lon[self.prim[:, c_]])
            self.far_factor[:, c_] = np.where(far > FAR_STORE_KM, FAR_STORE_FACTOR, 1.0)
            if k:
                far_m = places.distance_km(self.new_lat[mv], self.new_lon[mv], st.lat[self.prim_moved[:k, c_]],
                                           st.lon[self.prim_moved[:k, c_]])
                self.far_factor_moved[:k, c_] = np.where(far_m > FAR_STORE_KM, FAR_STORE_FACTOR, 1.0)
            if company == "diner" and len(c):
                self.work_diner[c] = places.nearest(st.lat, st.lon, st.pref, st.fallback,
                                                    self.home_pref[c].astype(np.int64), self.work_lat[c],
                                                    self.work_lon[c], k=1)[:, 0]
        self._finish_members(np.random.default_rng([self.seed, 22]))

    def _finish_members(self, rng: np.random.Generator) -> None:
        n, days = self.n, self.days
        use = self.use
        # postal codes (home, and new for movers) and other master fields
        self.postal = self._postal(self.home_pref, rng)
        self.postal_new = self.postal.copy()
        self.postal_new[self.movers] = self._postal(self.new_pref[self.movers], rng)
        self.surname = rng.integers(0, len(cat.SURNAMES), n)
        self.given = rng.integers(0, len(cat.GIVEN_F), n)
        self.email_no = rng.integers(0, 100000, n)
        self.email_dom = rng.integers(0, len(cat.EMAIL_DOMAINS), n)
        self.phone_pre = rng.choice(np.array([70, 80, 90]), n)
        self.phone_num = rng.integers(0, 10**8, n)
        # sm (regional supermarket, not on the gid): local member IDs, ~60% linked to a gid
        sm_users = np.flatnonzero(use[:, cat.CI["sm"]])
        n_other = int(len(sm_users) * 0.6) + 10
        local = self._unique_ints(rng, len(sm_users) + n_other, 10**8, 10**9)
        self.sm_local = np.full(n, -1, dtype=np.int64)
        self.sm_local[sm_users] = local[: len(sm_users)]
        self.sm_other_local = local[len(sm_users) :]  # sm-only customers who are not group members
        self.sm_linked = np.zeros(n, dtype=bool)
        self.sm_linked[sm_users] = rng.random(len(sm_users)) < 0.60
        link_lo = np.maximum(self.joined_day, -700)
        self.sm_linked_day = link_lo + (rng.random(n) * np.maximum(days - link_lo, 1)).astype(np.int64)
        # registered e-money cards auto-charge every AUTO_CHARGE_DAYS days (so a living holder's card is used)
        self.charge_phase = rng.integers(0, AUTO_CHARGE_DAYS, n)
        # or (confounding mode) they top up when the balance runs low: the balance is simulation state
        self.balance = rng.integers(0, 5001, n).astype(np.int64)

    @staticmethod
    def _unique_ints(rng: np.random.Generator, k: int, lo: int, hi: int) -> np.ndarray:
        out = np.zeros(0, dtype=np.int64)
        while out.size < k:
            merged = np.concatenate([out, rng.integers(lo, hi, int((k - out.size) * 1.1) + 8)])
            _, first = np.unique(merged, return_index=True)
            out = merged[np.sort(first)]
        return out[:k]

    @staticmethod
    def _postal(prefs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        from .geo import PREF_POSTAL_HI, PREF_POSTAL_LO

        p = prefs.astype(np.int64)
        lo, hi = PREF_POSTAL_LO[p], PREF_POSTAL_HI[p]
        first3 = lo + (rng.random(len(p)) * (hi - lo + 1)).astype(np.int64)
        return first3 * 10000 + rng.integers(0, 10000, len(p))

    # ---- campaigns -------------------------------------------------------------------------------------
    def _build_campaigns(self, rng: np.random.Generator) -> None:
        days, n = self.days, self.n
        taken = np.zeros(n, dtype=bool)
        year = self.start.year
        self.campaigns: list[Campaign] = []
        size = max(math.ceil(n * 0.04), 20)
        for i, (src, tgt, desc, frac, length, p_c, p_t) in enumerate(CAMPAIGN_SPECS):
            s = min(int(days * frac), days - 1)
            e = min(s + length - 1, days - 1)
            camp = Campaign(f"CMP-{year}-{i + 1:03d}", src, tgt, desc, s, e, p_c, p_t)
            # A's members with consent, whether or not they already shop at B (A cannot see B): some are B's
            # customers already (organic buyers, some last seen at B before the window)
            elig = (
                self.use[:, cat.CI[src]]
                & self.consent
                & ~taken
                & (self.joined_day < s)
                & (self.churn_day > s)
                & (self.baby_day == NEVER)
            )
            pool = np.flatnonzero(elig)
            chosen = np.sort(rng.choice(pool, size=min(size, len(pool)), replace=False))
            taken[chosen] = True
            k = len(chosen)
            treat = np.zeros(k, dtype=bool)
            treat[rng.permutation(k)[: k // 2 + (k % 2) * int(rng.random() < 0.5)]] = True
            # organic: members new to B find it on their own (either arm), p_control, within the referral window
            organic = ~self.use[chosen, cat.CI[tgt]] & (rng.random(k) < p_c)
            o_day = rng.integers(s, min(s + REFERRAL_WINDOW_DAYS, days), k)
            organic &= o_day < self.churn_day[chosen]
            # induced: the coupon brings a treated member to B, p_treatment - p_control, during the campaign
            conv = treat & (rng.random(k) < p_t - p_c)
            day = rng.integers(s, e + 1, k)
            conv &= day < self.churn_day[chosen]
            camp.members, camp.treatment, camp.conv_day = chosen, treat, np.where(conv, day, -1)
            camp.organic_day = np.where(organic, o_day, -1)
            self.campaigns.append(camp)
        self.campaign_by_member = np.full(n, -1, dtype=np.int16)
        self.campaign_treat = np.zeros(n, dtype=bool)
        for j, camp in enumerate(self.campaigns):
            self.campaign_by_member[camp.members] = j
            self.campaign_treat[camp.members] = camp.treatment

    # ---- scale of anonymous traffic ----------------------------------------------------------------------
    def _expected_member_visits(self) -> None:
        mid = self.days // 2
        alive = (self.joined_day <= mid) & (self.churn_day > mid)
        self.anon_per_day: dict[str, float] = {}
        for c, company in enumerate(cat.SALES_COMPANIES):
            m = alive & (self.baby_day <= mid) if company == "baby" else alive
            expected = float((self.rate[m] * self.weight[m, c]).sum())
            if company == "cvs":
                expected += float((alive & (self.segment == SEGMENT_PROGRAMME)).sum()) * (
                    self.beh.programme_visits_per_month / DAYS_PER_MONTH
                )
            self.anon_per_day[company] = expected * cat.ANON_RATIO[company]

    # ---- helpers -----------------------------------------------------------------------------------------
    def season(self, day_index: int) -> float:
        """Calendar multiplier of the visit rate (confounding mode): paydays around the 25th, month ends."""
        if not self.beh.seasonality:
            return 1.0
        d = self.date(day_index)
        last = (d.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(days=1)
        f = {PAYDAY - 1: 1.06, PAYDAY: 1.2, PAYDAY + 1: 1.16, PAYDAY + 2: 1.08}.get(d.day, 1.0)
        if d.day >= last.day - 1:
            f *= 1.08
        elif d.day <= 3:
            f *= 0.94
        return f

    def date(self, day_index: int) -> dt.date:
        return self.start + dt.timedelta(days=int(day_index))

    def rel_to_date(self, rel: np.ndarray) -> np.ndarray:
        """Relative day indices to numpy datetime64[D]."""
        return (np.asarray(rel, dtype=np.int64) + self.start_day).astype("datetime64[D]")
