"""One simulated day: visits per company (members, anonymous, programme extras, campaign conversions),
receipt lines, payments, e-money transactions and app events. All vectorised over the day's rows."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from . import catalog as cat
from .world import (
    AUTO_CHARGE_DAYS,
    COMMUTER_WEEKDAY_WORK_SHARE,
    DAYS_PER_MONTH,
    NEVER,
    PROGRAMME_EXTRA_MEAN_YEN,
    SEGMENT_NONE,
    SEGMENT_PROGRAMME,
    World,
)

KIND_NORMAL, KIND_PROGRAMME, KIND_CAMPAIGN = 0, 1, 2
# categories of the "baby" group at companies that sell other things too (life-stage signal)
BABY_CATS = {
    c: np.array([i for i, x in enumerate(cat.CATEGORIES[c]) if x.group == "baby"]) for c in ("gms", "dept", "ec")
}
PRICE_SIGMA = 0.35
EXTRA_SIGMA = 0.45
EMONEY_CHARGE_P = 0.15
CHARGE_AMOUNTS = np.array([1000, 2000, 3000, 5000, 10000], dtype=np.int64)
CHARGE_P = np.array([0.3, 0.2, 0.2, 0.2, 0.1])
AUTO_CHARGE_AMOUNTS = np.array([3000, 5000, 5000, 10000], dtype=np.int64)
MONEY_COMPANY = len(cat.SALES_COMPANIES)  # company index of e-money's own (auto-)charges
APP_SCREENS = ("home", "product", "push", "coupon", "cart")
APP_NAMES = ("group", *cat.SALES_COMPANIES)  # index 0 = the group app


@dataclass
class Visits:
    """One company's receipts (checks, orders) of one day, sorted by time."""

    member: np.ndarray  # int64 member index, -1 = anonymous
    store: np.ndarray  # int64 store index, -1 = none (ec)
    sec: np.ndarray  # int64 second of the day (JST)
    kind: np.ndarray  # int8 KIND_*
    campaign: np.ndarray  # int64 campaign index, -1 = none

    def __len__(self) -> int:
        return len(self.member)


@dataclass
class Lines:
    """Receipt lines of one company-day (grouped by visit, in visit order)."""

    visit: np.ndarray  # int64 index into Visits
    line_no: np.ndarray  # 1-based within the receipt
    category: np.ndarray  # index into catalog.CATEGORIES[company]
    qty: np.ndarray  # int64
    unit: np.ndarray  # int64 unit price (gms: tax excluded)
    amount: np.ndarray  # int64 line amount (gms: tax excluded)
    tax: np.ndarray  # int64 (gms only, else zeros)
    counts: np.ndarray  # lines per visit
    total: np.ndarray  # per visit, tax included


@dataclass
class DayData:
    day: int
    visits: dict[str, Visits]
    lines: dict[str, Lines]
    pay: dict[str, np.ndarray]  # per company, per visit: payment code (cvs/dept) or 1 = e-money, 0 = other
    money: dict[str, np.ndarray]
    app: dict[str, np.ndarray]
    extra: dict[str, np.ndarray]  # writer-specific per-visit values (e.g. diner party size)


def _rng(world: World, *stream: int) -> np.random.Generator:
    return np.random.default_rng([world.seed, *stream])


def _stable_order(keys: np.ndarray) -> np.ndarray:
    """``np.argsort(keys, kind="stable")`` for integer keys in [0, 2**32): a stable sort on the low 16 bits, then
    on the high 16 bits (numpy radix-sorts 16-bit integers: two to four times faster on a day's rows)."""
    if keys.size and (keys.min() < 0 or keys.max() >= 2**32):
        return np.argsort(keys, kind="stable")
    order = np.argsort((keys & 0xFFFF).astype(np.uint16), kind="stable")
    return order[np.argsort((keys[order] >> 16).astype(np.uint16), kind="stable")]


def _times(rng: np.random.Generator, company: str, k: int) -> np.ndarray:
    hour = np.searchsorted(cat.hour_cdf(company), rng.random(k), side="right")
    return np.minimum(hour, 23) * 3600 + rng.integers(0, 3600, k)


class DaySimulator:
    """Precomputes per-company member index lists; :meth:`run` simulates one day."""

    def __init__(self, world: World) -> None:
        self.w = world
        self.use_idx = {c: np.flatnonzero(world.use[:, i]) for i, c in enumerate(cat.SALES_COMPANIES)}
        self.prog_idx = np.flatnonzero(world.segment == SEGMENT_PROGRAMME)
        self.app_idx = np.flatnonzero(world.app_user)
        self.card_idx = np.flatnonzero(world.segment != SEGMENT_NONE)
        # the day of the AUTO_CHARGE_DAYS cycle on which each registered card auto-charges
        self.card_cycle_day = (-world.charge_phase[self.card_idx]) % AUTO_CHARGE_DAYS
        self.once_idx = np.flatnonzero(world.one_purchase)
        self.commuter_idx = world.commuters
        self.base_lam = {
            c: world.rate[m] * world.weight[m, cat.CI[c]] * world.far_factor[m, cat.CI[c]]
            for c, m in self.use_idx.items()
        }  # visits a day before day-of-week and availability factors (a brand far from home: the odd trip)
        self.avail = {c: world.availability(c) for c in cat.SALES_COMPANIES}

    # ---- visits ------------------------------------------------------------------------------------------
    def _visits(self, d: int, company: str, alive: np.ndarray, cur_pref: np.ndarray, moved: np.ndarray) -> Visits:
        w = self.w
        ci = cat.CI[company]
        rng = _rng(w, 40, d, ci)
        dow = cat.DOW_FACTORS[company][w.date(d).weekday()] * w.season(d)
        m = self.use_idx[company]
        lam = self.base_lam[company] * dow * alive[m]
        if company not in ("ec", "cvs") and len(w.movers):  # movers use the brand as the new home allows
            mv = moved[m] & (w.mover_pos[m] >= 0)
            if mv.any():
                ratio = w.far_factor_moved[w.mover_pos[m[mv]], ci] / w.far_factor[m[mv], ci]
                lam = lam.copy()
                lam[mv] *= ratio
        if company in ("sm", "dept"):
            av = self.avail[company]
            lam = lam * (av[cur_pref[m]] / np.maximum(av[w.home_pref[m]], 1e-9))
        if company == "baby":
            lam = lam * (w.baby_day[m] <= d)
        k = rng.poisson(lam)
        members = [np.repeat(m, k)]
        kinds = [np.zeros(int(k.sum()), dtype=np.int8)]
        camps = [np.full(int(k.sum()), -1, dtype=np.int64)]
        if company == "cvs":  # the planted programme effect: extra quick visits after enrolment
            p = self.prog_idx
            lam_p = (w.beh.programme_visits_per_month / DAYS_PER_MONTH) * w.effect_mult[p]
            kp = rng.poisson(lam_p * (alive[p] & (w.prog_day[p] <= d)))
            members.append(np.repeat(p, kp))
            kinds.append(np.full(int(kp.sum()), KIND_PROGRAMME, dtype=np.int8))
            camps.append(np.full(int(kp.sum()), -1, dtype=np.int64))
            once = self.once_idx[w.joined_day[self.once_idx] == d]  # one-purchase members: their only visit
            members.append(once)
            kinds.append(np.zeros(len(once), dtype=np.int8))
            camps.append(np.full(len(once), -1, dtype=np.int64))
        for j, camp in enumerate(w.campaigns):
            if camp.target == company:
                conv = camp.members[camp.conv_day == d]
                members.append(conv)
                kinds.append(np.full(len(conv), KIND_CAMPAIGN, dtype=np.int8))
                camps.append(np.full(len(conv), j, dtype=np.int64))
                organic = camp.members[camp.organic_day == d]
                members.append(organic)
                kinds.append(np.zeros(len(organic), dtype=np.int8))
                camps.append(np.full(len(organic), -1, dtype=np.int64))
        member = np.concatenate(members)
        kind = np.concatenate(kinds)
        campaign = np.concatenate(camps)
        n_anon = int(rng.poisson(w.anon_per_day[company] * dow)) if w.anon_per_day[company] > 0 else 0
        nm = len(member)
        store = np.full(nm + n_anon, -1, dtype=np.int64)
        if company != "ec":
            st = w.stores[company]
            u = rng.random(nm)
            mv = moved[member]
            pos = w.mover_pos[member]
            prim = np.where(mv, w.prim_moved[np.maximum(pos, 0), ci], w.prim[member, ci])
            sec = np.where(mv, w.sec_moved[np.maximum(pos, 0), ci], w.sec[member, ci])
            local = st.pick(cur_pref[member], rng)
            travel = rng.integers(0, st.n, nm)
            store[:nm] = np.where(u < 0.65, prim, np.where(u < 0.90, sec, np.where(u < 0.98, local, travel)))
            if company in ("cvs", "diner") and len(self.commuter_idx) and w.date(d).weekday() < 5:
                work = w.work_cvs if company == "cvs" else w.work_diner
                at_work = w.is_commuter[member] & (rng.random(nm) < COMMUTER_WEEKDAY_WORK_SHARE)
                store[:nm] = np.where(at_work, work[member], store[:nm])
            store[nm:] = rng.integers(0, st.n, n_anon)
        member = np.concatenate([member, np.full(n_anon, -1, dtype=np.int64)])
        kind = np.concatenate([kind, np.zeros(n_anon, dtype=np.int8)])
        campaign = np.concatenate([campaign, np.full(n_anon, -1, dtype=np.int64)])
        secs = _times(rng, company, len(member))
        order = _stable_order(secs)
        return Visits(member[order], store[order], secs[order], kind[order], campaign[order])

    # ---- receipt lines -----------------------------------------------------------------------------------
    def _lines(self, d: int, company: str, v: Visits) -> tuple[Lines, np.ndarray | None]:
        rng = _rng(self.w, 41, d, cat.CI[company])
        nv = len(v)
        cdf, price, food = cat.category_arrays(company)
        extra = None
        if company == "diner":
            counts = np.ones(nv, dtype=np.int64)
        else:
            counts = 1 + np.minimum(rng.poisson(cat.LINES_MEAN[company] - 1.0, nv), 39)
            counts[v.kind == KIND_PROGRAMME] = 1
        n = int(counts.sum())
        visit = np.repeat(np.arange(nv), counts)
        starts = np.cumsum(counts) - counts
        line_no = np.arange(n) - np.repeat(starts, counts) + 1
        category = np.searchsorted(cdf, rng.random(n), side="right").clip(0, len(cdf) - 1)
        baby_cats = BABY_CATS.get(company)
        if baby_cats is not None:  # life stage: baby goods only for members whose baby has arrived
            m = v.member[visit]
            stage = (m >= 0) & (self.w.baby_day[np.maximum(m, 0)] <= d)
            is_baby = np.isin(category, baby_cats)
            other = np.flatnonzero(~np.isin(np.arange(len(cdf)), baby_cats))
            wrong = is_baby & (m >= 0) & ~stage
            category[wrong] = other[rng.integers(0, len(other), int(wrong.sum()))]
            boost = stage & (rng.random(n) < 0.15)
            category[boost] = baby_cats[rng.integers(0, len(baby_cats), int(boost.sum()))]
        u = rng.random(n)
        if company in ("gms", "sm"):
            qty = np.where(u < 0.70, 1, np.where(u < 0.90, 2, np.where(u < 0.97, 3, 4)))
        else:
            qty = np.where(u < 0.80, 1, np.where(u < 0.95, 2, 3))
        mu = np.log(price[category]) - PRICE_SIGMA**2 / 2
        unit = np.exp(mu + PRICE_SIGMA * rng.standard_normal(n))
        shelf = company in ("gms", "sm")  # "...98 yen" shelf prices
        unit = np.floor(unit / 100) * 100 + 98 if shelf else np.maximum(np.round(unit / 10) * 10, 10)
        unit = unit.astype(np.int64)
        if company == "diner":
            party = np.minimum(1 + rng.poisson(1.1, nv), 8)
            qty = party.astype(np.int64)
            per_head = np.exp(np.log(1050) - 0.3**2 / 2 + 0.3 * rng.standard_normal(nv))
            unit = np.round(per_head).astype(np.int64)
            extra = party
        prog = v.kind[visit] == KIND_PROGRAMME
        if prog.any():  # one quick line with the planted mean amount
            k = int(prog.sum())
            codes = [i for i, c in enumerate(cat.CATEGORIES[company]) if c.code in cat.PROGRAMME_EXTRA_CODES]
            category[prog] = np.asarray(codes)[rng.integers(0, len(codes), k)]
            qty[prog] = 1
            mu_e = np.log(PROGRAMME_EXTRA_MEAN_YEN) - EXTRA_SIGMA**2 / 2
            unit[prog] = np.maximum(np.round(np.exp(mu_e + EXTRA_SIGMA * rng.standard_normal(k))), 1)
        qty = qty.astype(np.int64)
        amount = unit * qty
        if company == "gms":
            tax = np.floor(amount * np.where(food[category], 0.08, 0.10)).astype(np.int64)
        else:
            tax = np.zeros(n, dtype=np.int64)
        total = np.bincount(visit, weights=amount + tax, minlength=nv).astype(np.int64)
        return Lines(visit, line_no, category, qty, unit, amount, tax, counts, total), extra

    # ---- payments ----------------------------------------------------------------------------------------
    def _payments(self, d: int, company: str, v: Visits) -> np.ndarray:
        rng = _rng(self.w, 42, d, cat.CI[company])
        seg = np.where(v.member >= 0, self.w.segment[np.maximum(v.member, 0)], -1)
        u = rng.random(len(v))
        if company == "cvs":  # 0 現金 1 電子マネー 2 クレジット 3 コード決済
            tables = {1: (0.15, 0.75, 0.87), 0: (0.42, 0.48, 0.73), -1: (0.55, 0.69, 0.85)}
        elif company == "dept":  # 0 cash 1 card 2 emoney 3 giftcard
            tables = {1: (0.10, 0.60, 0.85), 0: (0.22, 0.80, 0.84), -1: (0.30, 0.80, 0.84)}
        else:  # 1 = e-money, 0 = anything else
            p1 = {1: 0.45, 0: 0.05, -1: 0.10}
            key = np.where(seg > 0, 1, seg)
            p = np.select([key == 1, key == 0], [p1[1], p1[0]], p1[-1])
            return (u < p).astype(np.int8)
        key = np.where(seg > 0, 1, seg)
        a = np.select([key == 1, key == 0], [tables[1][0], tables[0][0]], tables[-1][0])
        b = np.select([key == 1, key == 0], [tables[1][1], tables[0][1]], tables[-1][1])
        c = np.select([key == 1, key == 0], [tables[1][2], tables[0][2]], tables[-1][2])
        return np.where(u < a, 0, np.where(u < b, 1, np.where(u < c, 2, 3))).astype(np.int8)

    @staticmethod
    def is_emoney(company: str, pay: np.ndarray) -> np.ndarray:
        if company == "cvs":
            return pay == 1
        if company == "dept":
            return pay == 2
        if company == "ec":
            return np.zeros(len(pay), dtype=bool)
        return pay == 1

    # ---- e-money -----------------------------------------------------------------------------------------
    def _money(
        self, d: int, visits: dict[str, Visits], lines: dict[str, Lines], pay: dict[str, np.ndarray], alive: np.ndarray
    ) -> dict[str, np.ndarray]:
        """E-money transactions: payments (from purchases paid by e-money), charges just before some of
        them at the same till, and auto-charges of registered cards. ``company`` = MONEY_COMPANY, store -1
        for auto-charges."""
        w = self.w
        rng = _rng(w, 43, d)
        parts = []
        for company in cat.STORE_COMPANIES:
            v = visits[company]
            em = self.is_emoney(company, pay[company])
            if not em.any():
                continue
            idx = np.flatnonzero(em)
            parts.append((cat.CI[company], v.member[idx], v.store[idx], v.sec[idx], lines[company].total[idx]))
        # auto-charges of registered cards (company "money", no store), one every AUTO_CHARGE_DAYS days; in the
        # confounding mode cards top up at the till instead, when the balance runs low (see below)
        if w.beh.topup_when_low:
            auto = np.zeros(0, dtype=np.int64)
        else:
            auto = self.card_idx[alive[self.card_idx] & (self.card_cycle_day == d % AUTO_CHARGE_DAYS)]
        parts.append(
            (
                MONEY_COMPANY,
                auto,
                np.full(len(auto), -1, dtype=np.int64),
                _times(rng, "app", len(auto)),
                AUTO_CHARGE_AMOUNTS[rng.integers(0, len(AUTO_CHARGE_AMOUNTS), len(auto))],
            )
        )
        n_auto = len(auto)
        comp = np.concatenate([np.full(len(p[1]), p[0], dtype=np.int64) for p in parts])
        member = np.concatenate([p[1] for p in parts])
        store = np.concatenate([p[2] for p in parts])
        sec = np.concatenate([p[3] for p in parts])
        amount = np.concatenate([p[4] for p in parts])
        n = len(member)
        has_m = member >= 0
        mm = np.maximum(member, 0)
        registered = has_m & (w.segment[mm] != SEGMENT_NONE)
        last4 = np.where(has_m, w.card_last4[mm], rng.integers(0, 10000, n))
        charge = rng.random(n) < EMONEY_CHARGE_P
        charge[n - n_auto :] = False
        c_amount_all = CHARGE_AMOUNTS[rng.choice(len(CHARGE_AMOUNTS), n, p=CHARGE_P)]
        if w.beh.topup_when_low and n:
            # a registered card tops up before the first payment of a day the balance cannot cover
            reg = np.flatnonzero(registered)
            day_total = np.bincount(member[reg], weights=amount[reg], minlength=w.n).astype(np.int64)
            payers = np.flatnonzero(day_total)
            short = payers[w.balance[payers] < day_total[payers]]
            need = day_total[short] - w.balance[short]
            topup = np.maximum(np.ceil(need / 1000).astype(np.int64) * 1000, c_amount_all[: len(short)])
            w.balance[short] += topup
            w.balance[payers] -= day_total[payers]
            first = np.zeros(n, dtype=bool)
            order_m = np.lexsort((sec[reg], member[reg]))
            rs = reg[order_m]
            head = np.ones(len(rs), dtype=bool)
            head[1:] = member[rs][1:] != member[rs][:-1]
            first[rs[head]] = True
            is_short = np.zeros(w.n, dtype=bool)
            is_short[short] = True
            per_member_topup = np.zeros(w.n, dtype=np.int64)
            per_member_topup[short] = topup
            charge = np.where(registered, first & is_short[np.maximum(member, 0)], charge)
            c_amount_all = np.where(registered, per_member_topup[np.maximum(member, 0)], c_amount_all)
        kc = int(charge.sum())
        c_amount = c_amount_all[charge]
        c_sec = np.maximum(sec[charge] - rng.integers(30, 600, kc), 0)
        out = {
            "kind": np.concatenate([np.ones(n - n_auto, np.int8), np.zeros(n_auto + kc, np.int8)]),  # 1 payment
            "member": np.concatenate([member, member[charge]]),
            "registered": np.concatenate([registered, registered[charge]]),
            "last4": np.concatenate([last4, last4[charge]]),
            "company": np.concatenate([comp, comp[charge]]),
            "store": np.concatenate([store, store[charge]]),
            "sec": np.concatenate([sec, c_sec]),
            "amount": np.concatenate([amount, c_amount]),
        }
        order = _stable_order(out["sec"] * 2 + out["kind"])  # by time, charges first (kind 0, payments 1)
        return {k: a[order] for k, a in out.items()}

    # ---- app events --------------------------------------------------------------------------------------
    def _app(self, d: int, visits: dict[str, Visits], alive: np.ndarray) -> dict[str, np.ndarray]:
        w = self.w
        rng = _rng(w, 44, d)
        ev: dict[str, list[np.ndarray]] = {k: [] for k in ("member", "type", "sec", "app", "camp", "comp", "store")}

        def add(member, typ, sec, app, camp=None, comp=None, store=None):
            k = len(member)
            ev["member"].append(np.asarray(member, dtype=np.int64))
            ev["type"].append(np.full(k, typ, dtype=np.int8))
            ev["sec"].append(np.asarray(sec, dtype=np.int64))
            ev["app"].append(np.broadcast_to(np.asarray(app, dtype=np.int64), (k,)))
            ev["camp"].append(np.full(k, -1, dtype=np.int64) if camp is None else np.asarray(camp, np.int64))
            ev["comp"].append(np.full(k, -1, dtype=np.int64) if comp is None else np.asarray(comp, np.int64))
            ev["store"].append(np.full(k, -1, dtype=np.int64) if store is None else np.asarray(store, np.int64))

        users = self.app_idx[alive[self.app_idx]]
        for typ, lam, apps in (
            ("app_open", 0.35, None),
            (
                "product_view",
                0.20,
                np.array([cat.CI["ec"] + 1] * 6 + [cat.CI[c] + 1 for c in ("gms", "dept", "baby")]),
            ),
            ("push_open", 0.04, np.array([0])),
        ):
            k = rng.poisson(lam, len(users))
            m = np.repeat(users, k)
            if apps is None:
                app = np.where(rng.random(len(m)) < 0.6, 0, rng.integers(1, len(APP_NAMES), len(m)))
            else:
                app = apps[rng.integers(0, len(apps), len(m))]
            add(m, cat.APP_EVENT_TYPES.index(typ), _times(rng, "app", len(m)), app)
        # check-ins at stores by app users, just before the purchase
        for company in cat.STORE_COMPANIES:
            v = visits[company]
            has = v.member >= 0
            sel = has & w.app_user[np.maximum(v.member, 0)] & (rng.random(len(v)) < 0.25)
            sec = np.maximum(v.sec[sel] - rng.integers(0, 300, int(sel.sum())), 0)
            ci = cat.CI[company]
            add(
                v.member[sel],
                cat.APP_EVENT_TYPES.index("store_check_in"),
                sec,
                ci + 1,
                None,
                np.full(int(sel.sum()), ci),
                v.store[sel],
            )
        # campaign coupons: views by treatment app users during the window, use at the conversion
        for j, camp in enumerate(w.campaigns):
            if not camp.start_day <= d <= camp.end_day:
                continue
            tm = camp.members[camp.treatment]
            tm = tm[w.app_user[tm] & alive[tm]]
            p = 0.85 if d == camp.start_day else 0.06
            sel = tm[rng.random(len(tm)) < p]
            add(
                sel,
                cat.APP_EVENT_TYPES.index("coupon_view"),
                _times(rng, "app", len(sel)),
                cat.CI[camp.company] + 1,
                np.full(len(sel), j),
            )
        for company in cat.SALES_COMPANIES:
            v = visits[company]
            sel = (v.kind == KIND_CAMPAIGN) & w.campaign_treat[np.maximum(v.member, 0)]
            sel &= w.app_user[np.maximum(v.member, 0)]
            k = int(sel.sum())
            if k:
                add(
                    v.member[sel],
                    cat.APP_EVENT_TYPES.index("coupon_use"),
                    np.maximum(v.sec[sel] - rng.integers(0, 120, k), 0),
                    cat.CI[company] + 1,
                    v.campaign[sel],
                    np.full(k, cat.CI[company]),
                    v.store[sel],
                )
        out = {k: np.concatenate(a) if a else np.zeros(0, np.int64) for k, a in ev.items()}
        out["ms"] = rng.integers(0, 1000, len(out["member"]))
        order = _stable_order(out["sec"] * 1000 + out["ms"])  # by time to the millisecond
        return {k: a[order] for k, a in out.items()}

    # ---- the day -----------------------------------------------------------------------------------------
    def run(self, d: int) -> DayData:
        """Simulate day d: :meth:`shop`, then :meth:`settle`."""
        return self.settle(self.shop(d))

    def shop(self, d: int) -> DayData:
        """Everything of day d that depends on that day alone: visits, receipt lines, payments and app events
        (``money`` is left for :meth:`settle`). Days can be shopped in any order, several at once."""
        w = self.w
        alive = self._alive(d)
        moved = w.move_day <= d
        cur_pref = np.where(moved, w.new_pref, w.home_pref)
        visits, lines, pay, extra = {}, {}, {}, {}
        for company in cat.SALES_COMPANIES:
            v = self._visits(d, company, alive, cur_pref, moved)
            visits[company] = v
            lines[company], ex = self._lines(d, company, v)
            if ex is not None:
                extra[company] = ex
            pay[company] = self._payments(d, company, v)
        app = self._app(d, visits, alive)
        extra["cur_pref"] = cur_pref
        return DayData(d, visits, lines, pay, {}, app, extra)

    def settle(self, dd: DayData) -> DayData:
        """The e-money transactions of a shopped day. Days must be settled in order: in the confounding mode
        card balances carry over from one day to the next."""
        d = dd.day
        return replace(dd, money=self._money(d, dd.visits, dd.lines, dd.pay, self._alive(d)))

    def _alive(self, d: int) -> np.ndarray:
        return (self.w.joined_day <= d) & (self.w.churn_day > d)


__all__ = [
    "APP_NAMES",
    "KIND_CAMPAIGN",
    "KIND_NORMAL",
    "KIND_PROGRAMME",
    "NEVER",
    "DayData",
    "DaySimulator",
    "Lines",
    "Visits",
]
