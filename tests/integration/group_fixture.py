"""A small deterministic group zone (transforms/group_schema.yml) with planted effects, for the dbt project.

It lets models/ be built and tested without the ingestion and Spark chain. It plants what the marts must
recover, and writes the truth the way the synthetic generator does (ops zone, `generator/truth.json`,
`generator/movers.parquet`, `generator/churners.parquet`): the programme effect, movers, churners and
campaign uplift. Vectorised numpy, so it also makes the 10M-purchase benchmark input.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from lake.storage import Lake

DAYS_PER_MONTH = 30.4375
PROGRAMME_EXTRA_VISITS_PER_MONTH = 3.2
PROGRAMME_EXTRA_SPEND_PER_MONTH = 1535.0
NEVER = 2**30

PREFS = ("東京都", "神奈川県", "埼玉県", "千葉県", "大阪府", "愛知県", "福岡県", "北海道")
PREF_LAT = np.array([35.69, 35.45, 35.86, 35.61, 34.69, 35.18, 33.61, 43.06])
PREF_LON = np.array([139.69, 139.64, 139.65, 140.12, 135.52, 136.91, 130.42, 141.35])
PREF_WEIGHT = np.array([0.25, 0.15, 0.12, 0.10, 0.15, 0.10, 0.08, 0.05])

# company, format, use probability, visit share, mean amount (yen)
COMPANIES = (
    ("cvs", "convenience", 0.92, 0.55, 700.0),
    ("gms", "superstore", 0.55, 0.15, 3200.0),
    ("dept", "department_store", 0.15, 0.03, 12000.0),
    ("diner", "family_restaurant", 0.35, 0.08, 2400.0),
    ("sm", "supermarket", 0.20, 0.10, 2500.0),
    ("baby", "baby_goods", 0.05, 0.04, 4000.0),
    ("ec", "fulfilment_center", 0.30, 0.05, 5200.0),
)
STORES_PER_PREF = 3
# source, target, start as a fraction of the window, length (days), p_control, p_treatment
CAMPAIGNS = (("cvs", "diner", 0.20, 21, 0.03, 0.12), ("gms", "dept", 0.45, 21, 0.02, 0.10))


@dataclass(frozen=True)
class FixtureConfig:
    members: int = 3000
    days: int = 120
    start: dt.date = dt.date(2026, 3, 2)
    seed: int = 7


def _luhn_gids(rng: np.random.Generator, n: int) -> list[str]:
    body = np.unique(rng.integers(10**10, 10**11, int(n * 1.01) + 10))[:n]
    body = rng.permutation(body)
    out = []
    for b in body:
        digits = [int(c) for c in str(b)]
        total = 0
        for i, d in enumerate(reversed(digits)):
            if i % 2 == 0:
                d *= 2
                d = d - 9 if d > 9 else d
            total += d
        out.append(f"{b}{(10 - total % 10) % 10}")
    return out


def _write(con: duckdb.DuckDBPyConnection, table: pa.Table, uri: str, partition_by: list[str] | None = None) -> None:
    con.register("t", table)
    if partition_by:
        cols = ", ".join(partition_by)
        con.execute(f"copy t to '{uri}' (format parquet, compression zstd, partition_by ({cols}), overwrite_or_ignore)")
    else:
        Path(uri).mkdir(parents=True, exist_ok=True)
        con.execute(f"copy t to '{uri}/part-0.parquet' (format parquet, compression zstd)")
    con.unregister("t")


def member_day_duckdb(con: duckdb.DuckDBPyConnection, purchases: pa.Table) -> pa.Table:
    """transforms.aggregates.member_day in DuckDB: the same columns and rules (the first store of the day is the
    store of the earliest purchase, min_by(store_id, purchased_at), ties to the smallest store id).
    tests/unit/test_fixture_matches_spark.py runs both engines on the same purchases."""
    con.register("fixture_purchases", purchases)
    out = con.execute(
        """
        select gid, company, purchase_date, sum(amount_yen)::bigint as spend_yen, count(*)::bigint as visits,
               sum(item_count)::bigint as items, arg_min(store_id, (purchased_at, store_id)) as first_store_id
        from fixture_purchases where gid is not null group by all order by purchase_date, gid, company
        """
    ).arrow()
    out = out.read_all() if isinstance(out, pa.RecordBatchReader) else out  # read before unregistering the input
    con.unregister("fixture_purchases")
    return out


def member_day_category_duckdb(con: duckdb.DuckDBPyConnection, purchases: pa.Table, lines: pa.Table) -> pa.Table:
    """transforms.aggregates.member_day_category in DuckDB (same columns and rules)."""
    con.register("fixture_purchases", purchases)
    con.register("fixture_lines", lines)
    out = con.execute(
        """
        select p.gid, l.company, l.purchase_date, l.category, sum(l.amount_yen)::bigint as amount_yen,
               sum(l.quantity)::bigint as quantity
        from fixture_lines as l inner join fixture_purchases as p on l.purchase_id = p.purchase_id
        where p.gid is not null group by all order by l.purchase_date, p.gid, l.company, l.category
        """
    ).arrow()
    out = out.read_all() if isinstance(out, pa.RecordBatchReader) else out
    con.unregister("fixture_purchases")
    con.unregister("fixture_lines")
    return out


def write_group_fixture(lake: Lake, cfg: FixtureConfig = FixtureConfig()) -> dict:
    """Write the group zone and the planted truth into `lake` (local folder); return the truth."""
    rng = np.random.default_rng(cfg.seed)
    n, days = cfg.members, cfg.days
    npref, nco = len(PREFS), len(COMPANIES)
    start_day = (cfg.start - dt.date(1970, 1, 1)).days

    # stores: STORES_PER_PREF per company and prefecture (ec: fulfilment centres, never on a purchase)
    store_rows = []
    for c, (co, fmt, *_rest) in enumerate(COMPANIES):
        for p in range(npref):
            for s in range(STORES_PER_PREF):
                store_rows.append(
                    {
                        "company": co,
                        "store_id": f"{co.upper()}{p:02d}{s}",
                        "store_name": f"{co}-{p}-{s}",
                        "prefecture": PREFS[p],
                        "city": f"{PREFS[p]}中央市",
                        "lat": float(PREF_LAT[p] + rng.normal(0, 0.05)),
                        "lon": float(PREF_LON[p] + rng.normal(0, 0.05)),
                        "format": fmt,
                        "opened_on": dt.date(2000 + c, 4, 1),
                    }
                )
    stores = pa.Table.from_pylist(store_rows)

    # members and their hidden behaviour
    gids = np.array(_luhn_gids(rng, n))
    home = rng.choice(npref, size=n, p=PREF_WEIGHT)
    joined = np.where(rng.random(n) < 0.92, -rng.integers(30, 1500, n), rng.integers(0, days // 2, n))
    u = rng.random(n)
    churn = np.full(n, NEVER, dtype=np.int64)
    pre = u < 0.04
    churn[pre] = -1
    during = (u >= 0.04) & (u < 0.20)
    churn[during] = np.maximum(joined[during], 0) + rng.integers(5, days, during.sum())
    churn = np.where(churn >= days, NEVER, churn)
    seg = np.where(rng.random(n) < 0.35, 2, np.where(rng.random(n) < 0.45, 1, 0))  # 2 programme, 1 e-money only
    prog_day = np.where(
        seg == 2,
        np.where(rng.random(n) < 0.5, np.minimum(joined, 0) - rng.integers(1, 400, n), rng.integers(0, days, n)),
        NEVER,
    )
    prog_day = np.where((seg == 2) & (prog_day < joined), joined, prog_day)
    rate = rng.gamma(1.2, 4.5 / DAYS_PER_MONTH / 1.2, n)
    baby_day = np.where(rng.random(n) < 0.06, rng.integers(-200, days, n), NEVER)
    use = rng.random((n, nco)) < np.array([c[2] for c in COMPANIES])[None, :]
    use[:, 0] |= ~use.any(axis=1)
    weight = use * np.array([c[3] for c in COMPANIES])[None, :] * rng.gamma(2.0, 0.5, (n, nco))
    weight /= weight.sum(axis=1, keepdims=True)
    cand = (churn == NEVER) & (joined < int(days * 0.2))
    mover = cand & (rng.random(n) < 0.05)
    move_day = np.where(mover, rng.integers(int(days * 0.2), int(days * 0.7), n), NEVER)
    new_home = np.where(mover, (home + rng.integers(1, npref, n)) % npref, home)
    prim = rng.integers(0, STORES_PER_PREF, (n, nco))
    alive_lo = np.maximum(joined, 0)
    alive_hi = np.minimum(churn, days)

    # ordinary visits
    span = np.maximum(alive_hi - alive_lo, 0)
    k = rng.poisson(rate * span)
    who = np.repeat(np.arange(n), k)
    day = alive_lo[who] + (rng.random(len(who)) * span[who]).astype(np.int64)
    cum = np.cumsum(weight, axis=1)[who]
    comp = np.minimum((rng.random(len(who))[:, None] > cum).sum(axis=1), nco - 1)
    means = np.array([c[4] for c in COMPANIES])
    amount = np.maximum(np.round(rng.lognormal(np.log(means[comp]) - 0.18, 0.6)), 1).astype(np.int64)
    campaign = np.full(len(who), None, dtype=object)
    # programme extras: cvs visits at PROGRAMME_EXTRA_* on and after enrolment, while alive
    p_lo = np.maximum(prog_day, alive_lo)
    p_span = np.where(seg == 2, np.maximum(alive_hi - p_lo, 0), 0)
    ek = rng.poisson(PROGRAMME_EXTRA_VISITS_PER_MONTH / DAYS_PER_MONTH * p_span)
    ewho = np.repeat(np.arange(n), ek)
    eday = p_lo[ewho] + (rng.random(len(ewho)) * p_span[ewho]).astype(np.int64)
    extra_mean = PROGRAMME_EXTRA_SPEND_PER_MONTH / PROGRAMME_EXTRA_VISITS_PER_MONTH
    eamount = np.maximum(np.round(rng.lognormal(np.log(extra_mean) - 0.08, 0.4, len(ewho))), 1).astype(np.int64)
    # campaigns: members of the source brand who never used the target, half treated
    taken = np.zeros(n, dtype=bool)
    camp_rows, assign_rows, app_rows, truth_campaigns = [], [], [], []
    cw, cd, cc, ca, cid = [], [], [], [], []
    year = cfg.start.year
    for j, (src, tgt, frac, length, p_c, p_t) in enumerate(CAMPAIGNS):
        s_ = int(days * frac)
        e_ = min(s_ + length - 1, days - 1)
        campaign_id = f"CMP-{year}-{j + 1:03d}"
        si, ti = [c[0] for c in COMPANIES].index(src), [c[0] for c in COMPANIES].index(tgt)
        pool = np.flatnonzero(use[:, si] & ~use[:, ti] & ~taken & (joined < s_) & (churn > e_))
        chosen = np.sort(rng.choice(pool, size=min(len(pool), max(n // 5, 20)), replace=False))
        taken[chosen] = True
        treat = rng.random(len(chosen)) < 0.5
        conv = rng.random(len(chosen)) < np.where(treat, p_t, p_c)
        conv_day = rng.integers(s_, e_ + 1, len(chosen))
        for g, t in zip(chosen, treat, strict=True):
            assign_rows.append(
                {"campaign_id": campaign_id, "gid": gids[g], "assigned_group": "treatment" if t else "control"}
            )
            if t:
                app_rows.append((gids[g], s_, campaign_id))
        cw.append(chosen[conv])
        cd.append(conv_day[conv])
        cc.append(np.full(conv.sum(), ti))
        ca.append(np.where(treat[conv], campaign_id, None))
        cid.append(np.full(conv.sum(), campaign_id))
        camp_rows.append(
            {
                "campaign_id": campaign_id,
                "company": src,
                "target_company": tgt,
                "description": f"{src} members: first visit offer at {tgt}",
                "starts_on": cfg.start + dt.timedelta(days=s_),
                "ends_on": cfg.start + dt.timedelta(days=e_),
            }
        )
        nt, nc_ = int(treat.sum()), int((~treat).sum())
        ct, ccv = int((treat & conv).sum()), int((~treat & conv).sum())
        truth_campaigns.append(
            {
                "campaign_id": campaign_id,
                "company": src,
                "target_company": tgt,
                "starts_on": camp_rows[-1]["starts_on"].isoformat(),
                "ends_on": camp_rows[-1]["ends_on"].isoformat(),
                "planted_uplift": p_t - p_c,
                "assigned_treatment": nt,
                "assigned_control": nc_,
                "realised_uplift": round(ct / nt - ccv / nc_, 6) if nt and nc_ else None,
            }
        )
    conv_who, conv_day_, conv_comp = np.concatenate(cw), np.concatenate(cd), np.concatenate(cc)
    conv_amount = np.maximum(np.round(rng.lognormal(np.log(means[conv_comp]) - 0.18, 0.6)), 1).astype(np.int64)

    all_who = np.concatenate([who, ewho, conv_who])
    all_day = np.concatenate([day, eday, conv_day_])
    all_comp = np.concatenate([comp, np.zeros(len(ewho), np.int64), conv_comp])
    all_amount = np.concatenate([amount, eamount, conv_amount])
    all_campaign = np.concatenate([campaign, np.full(len(ewho), None, dtype=object), np.concatenate(ca)])
    pref_at = np.where(all_day >= move_day[all_who], new_home[all_who], home[all_who])
    store_no = np.where(rng.random(len(all_who)) < 0.8, prim[all_who, all_comp], rng.integers(0, 3, len(all_who)))
    co_names = np.array([c[0] for c in COMPANIES])
    store_id = np.char.add(
        np.char.add(np.char.upper(co_names[all_comp]), np.char.zfill(pref_at.astype(str), 2)), store_no.astype(str)
    ).astype(object)
    store_id[all_comp == 6] = None
    order = np.lexsort((all_who, all_day))
    seconds = rng.integers(0, 86400, len(all_who))
    purchases = pa.table(
        {
            "purchase_id": pa.array([f"{co_names[c]}:{i:09d}" for i, c in enumerate(all_comp[order])]),
            "company": pa.array(co_names[all_comp[order]].tolist()),
            "channel": pa.array(np.where(all_comp[order] == 6, "online", "store").tolist()),
            "store_id": pa.array(store_id[order].tolist(), pa.string()),
            "gid": pa.array(gids[all_who[order]].tolist()),
            "purchased_at": pa.array(
                ((start_day + all_day[order]) * 86400 + seconds - 9 * 3600) * 1_000_000, pa.timestamp("us", "UTC")
            ),
            "purchase_date": pa.array((start_day + all_day[order]).astype("int32"), pa.date32()),
            "amount_yen": pa.array(all_amount[order]),
            "item_count": pa.array(rng.integers(1, 6, len(all_who))),
            "payment_method": pa.array(np.where(seg[all_who[order]] > 0, "emoney", "cash").tolist()),
            "campaign_id": pa.array(all_campaign[order].tolist(), pa.string()),
        }
    )
    members_pref = np.where(mover & (rng.random(n) < 0.6), new_home, home)
    members = pa.table(
        {
            "gid": pa.array(gids.tolist()),
            "birth_year": pa.array(rng.integers(1940, 2008, n).astype("int32")),
            "gender": pa.array(rng.choice(np.array(["F", "M", "X", ""]), n, p=[0.52, 0.44, 0.01, 0.03]).tolist()),
            "prefecture": pa.array([PREFS[p] for p in members_pref]),
            "postal3": pa.array(
                [f"{100 + p * 50 + int(x):03d}" for p, x in zip(members_pref, rng.integers(0, 50, n), strict=True)]
            ),
            "joined_on": pa.array((start_day + joined).astype("int32"), pa.date32()),
            "marketing_consent": pa.array(rng.random(n) < 0.7),
            "programme_joined_on": pa.array(
                [cfg.start + dt.timedelta(days=int(d)) if s == 2 else None for s, d in zip(seg, prog_day, strict=True)],
                pa.date32(),
            ),
        }
    )
    # e-money: monthly per-member totals for card users (e-money-only and programme members)
    months = sorted({(cfg.start + dt.timedelta(days=d)).replace(day=1) for d in range(days)})
    mm = []
    for mo in months:
        alive = (seg > 0) & (start_day + alive_hi > (mo - dt.date(1970, 1, 1)).days) & (alive_lo < days)
        idx = np.flatnonzero(alive)
        pay = rng.poisson(4, len(idx))
        for g, p_ in zip(idx, pay, strict=True):
            mm.append((gids[g], mo, int(p_), int(p_) * 800, 1, 5000, int(min(p_, 3))))
    money = pa.table(
        {
            "gid": pa.array([r[0] for r in mm]),
            "month": pa.array([r[1] for r in mm], pa.date32()),
            "payments": pa.array([r[2] for r in mm], pa.int64()),
            "payment_yen": pa.array([r[3] for r in mm], pa.int64()),
            "charges": pa.array([r[4] for r in mm], pa.int64()),
            "charge_yen": pa.array([r[5] for r in mm], pa.int64()),
            "companies_paid_at": pa.array([r[6] for r in mm], pa.int64()),
        }
    )
    app_events = pa.table(
        {
            "event_id": pa.array([f"app:{i:08d}" for i in range(len(app_rows))], pa.string()),
            "gid": pa.array([r[0] for r in app_rows], pa.string()),
            "app": pa.array(["group"] * len(app_rows), pa.string()),
            "event_type": pa.array(["coupon_view"] * len(app_rows), pa.string()),
            "occurred_at": pa.array(
                [dt.datetime.combine(cfg.start + dt.timedelta(days=r[1]), dt.time(3), dt.UTC) for r in app_rows],
                pa.timestamp("us", "UTC"),
            ),
            "event_date": pa.array([cfg.start + dt.timedelta(days=r[1]) for r in app_rows], pa.date32()),
            "campaign_id": pa.array([r[2] for r in app_rows], pa.string()),
            "store_id": pa.array([None] * len(app_rows), pa.string()),
        }
    )
    categories = pa.Table.from_pylist(
        [{"company": c[0], "code": "X1", "category_name": "misc", "group_category": "other"} for c in COMPANIES]
    )
    id_links = pa.table(
        {
            "company": pa.array(["sm"], pa.string()),
            # the shape of the transforms' keyed hash (64 hex digits), so the group zone passes the raw -> group gate
            "local_member_key": pa.array([hashlib.sha256(b"fixture sm member 0").hexdigest()], pa.string()),
            "gid": pa.array([gids[0]], pa.string()),
            "linked_at": pa.array([dt.datetime(2025, 1, 1, tzinfo=dt.UTC)], pa.timestamp("us", "UTC")),
        }
    )

    # purchase lines for the companies that share them: one line a purchase, its group category (baby goods at the
    # baby brand, and at gms and ec for members in the baby stage)
    shares_lines = np.isin(all_comp[order], [0, 1, 4, 5, 6])
    comp_o = all_comp[order]
    cat_of = np.array(["ready_meals", "fresh_food", "apparel", "restaurant", "fresh_food", "baby", "daily_goods"])
    category = cat_of[comp_o].astype(object)
    baby_stage = (baby_day[all_who[order]] <= all_day[order]) & np.isin(comp_o, [1, 6])
    category[baby_stage & (rng.random(len(comp_o)) < 0.3)] = "baby"
    idx = np.flatnonzero(shares_lines)
    lines = pa.table(
        {
            "purchase_id": purchases["purchase_id"].take(pa.array(idx)),
            "company": purchases["company"].take(pa.array(idx)),
            "purchase_date": purchases["purchase_date"].take(pa.array(idx)),
            "line_no": pa.array(np.ones(len(idx), dtype=np.int64)),
            "category": pa.array(category[idx].tolist(), pa.string()),
            "quantity": purchases["item_count"].take(pa.array(idx)),
            "amount_yen": purchases["amount_yen"].take(pa.array(idx)),
        }
    )
    con = duckdb.connect()
    g = lambda t: lake.uri("group", t)  # noqa: E731
    for zone in ("group", "ops", "marts"):
        lake.ensure_zones([zone])
    _write(con, purchases, g("purchases"), ["company", "purchase_date"])
    _write(con, lines, g("purchase_lines"), ["company", "purchase_date"])
    member_day = member_day_duckdb(con, purchases)
    _write(con, member_day, g("member_day"), ["purchase_date"])
    _write(con, member_day_category_duckdb(con, purchases, lines), g("member_day_category"), ["purchase_date"])
    _write(con, members, g("members"))
    _write(con, stores, g("stores"))
    _write(con, pa.Table.from_pylist(camp_rows), g("campaigns"))
    _write(con, pa.Table.from_pylist(assign_rows), g("campaign_assignments"))
    _write(con, money, g("money_monthly"), ["month"])
    _write(con, app_events, g("app_events"), ["event_date"])
    _write(con, categories, g("categories"))
    _write(con, id_links, g("id_links"))

    # the planted truth, as the synthetic generator writes it
    mv = np.flatnonzero(mover)
    movers = pa.table(
        {
            "gid": pa.array(gids[mv].tolist()),
            "moved_on": pa.array([cfg.start + dt.timedelta(days=int(d)) for d in move_day[mv]], pa.date32()),
            "from_prefecture": pa.array([PREFS[p] for p in home[mv]]),
            "to_prefecture": pa.array([PREFS[p] for p in new_home[mv]]),
        }
    )
    ch = np.flatnonzero((churn != NEVER) & (churn >= 0))
    churners = pa.table(
        {
            "gid": pa.array(gids[ch].tolist()),
            "churned_on": pa.array([cfg.start + dt.timedelta(days=int(d)) for d in churn[ch]], pa.date32()),
            "in_window": pa.array(np.ones(len(ch), bool)),
        }
    )
    Path(lake.uri("ops", "generator")).mkdir(parents=True, exist_ok=True)
    for name, table in (("movers", movers), ("churners", churners)):
        con.register("t", table)
        con.execute(f"copy t to '{lake.uri('ops', f'generator/{name}.parquet')}' (format parquet)")
        con.unregister("t")
    enrolled_months = float(p_span.sum()) / DAYS_PER_MONTH
    truth = {
        "generator": "tests.integration.group_fixture",
        "window": {
            "start": cfg.start.isoformat(),
            "end": (cfg.start + dt.timedelta(days=days - 1)).isoformat(),
            "days": days,
        },
        "counts": {"members": n, "purchases": purchases.num_rows, "movers": len(mv), "churned_in_window": len(ch)},
        "programme_effect": {
            "spend_yen_per_month": PROGRAMME_EXTRA_SPEND_PER_MONTH,
            "visits_per_month": PROGRAMME_EXTRA_VISITS_PER_MONTH,
            "realised": {
                "visits_per_month": round(len(ewho) / enrolled_months, 4),
                "spend_yen_per_month": round(float(eamount.sum()) / enrolled_months, 2),
            },
        },
        "campaigns": truth_campaigns,
    }
    lake.write_bytes("ops", "generator/truth.json", json.dumps(truth, ensure_ascii=False, indent=2).encode())
    return truth
