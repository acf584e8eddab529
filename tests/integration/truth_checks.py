"""Compare the marts with the planted truth the generator wrote to the ops zone (generator/truth.json,
movers.parquet, churners.parquet). Shared by the fixture test and the pipeline test on the real chain.

The programme truth is the *realised* effect (extra visits and spend per enrolled living member-month), which
the mart estimates by comparing programme and e-money-only members selected the same way (truth.json
`programme_effect.how_to_compare`). Moves count as detectable when the data can show them: moved at least
`home_window_weeks` after the window start and at least home window + persistence (6 weeks) before its end, and
not churned within those 6 weeks. Of those, the *active* movers also have 3+ located store visits before the move
and 3+ in the new prefecture after it (read from the build's DuckDB file, int_store_visits_located: local lakes
only); members who hardly shop cannot show a move. Churners count if they churned 30+ days before the end."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pandas as pd

from lake.analyst import connect
from lake.build import marts_db_path
from lake.storage import Lake


@dataclass
class Recovery:
    programme_spend: tuple[float, float, float]  # difference, ci_low, ci_high
    programme_visits: tuple[float, float, float]
    truth_spend: float
    truth_visits: float
    move_precision: float
    move_recall: float
    movers_true: int
    movers_found: int
    churn_auc: float
    uplift: dict[str, tuple[float, float]]  # campaign -> (measured, realised truth)
    movers_detectable: int = 0
    move_recall_detectable: float = float("nan")
    movers_active: int = 0
    move_recall_active: float = float("nan")
    churn_precision_at_rate: float = float("nan")  # precision of the lowest-P(alive) members, as many as churned
    churners_scored: int = 0
    members_scored: int = 0
    # campaign -> (measured uplift, 95% CI low, CI high, planted uplift)
    uplift_ci: dict[str, tuple[float, float, float, float]] = field(default_factory=dict)


def _auc(con: duckdb.DuckDBPyConnection) -> float:
    """Area under the ROC curve of (1 - P(alive)) against truly churned (Mann-Whitney, ties averaged)."""
    row = con.execute(
        """
        with s as (
            select 1 - p_alive as score, churned from scored
        ), r as (select churned, rank() over (order by score) as rk, count(*) over (partition by score) as ties,
                 from s)
        select (sum(rk + (ties - 1) / 2.0) filter (where churned) - count(*) filter (where churned)
                * (count(*) filter (where churned) + 1) / 2.0)
               / (count(*) filter (where churned) * count(*) filter (where not churned))
        from r
        """
    ).fetchone()
    return float(row[0]) if row and row[0] is not None else float("nan")


def _day(value: object) -> dt.date:
    return dt.date.fromisoformat(str(value)[:10])


def _open_build_db(lake: Lake) -> duckdb.DuckDBPyConnection:
    """The build's DuckDB file; dbt (run in this process) may still hold it open, with its own configuration: then
    read a copy."""
    path = marts_db_path(lake)
    try:
        return duckdb.connect(str(path), read_only=True)
    except duckdb.ConnectionException:
        copy = Path(tempfile.mkdtemp(prefix="truth-")) / path.name
        for src in (path, path.with_name(path.name + ".wal")):
            if src.exists():
                shutil.copyfile(src, copy.with_name(src.name))
        return duckdb.connect(str(copy), read_only=True)


def _active_movers(lake: Lake, detectable: set[tuple[str, str]], movers: pd.DataFrame) -> set[tuple[str, str]]:
    """The detectable moves of members with 3+ located visits before the move and 3+ in the new area after it."""
    if lake.is_s3 or not detectable:
        return set()
    con = _open_build_db(lake)
    try:
        con.register("movers", movers[["gid", "moved_on", "to_prefecture"]])
        rows = con.execute(
            """
            select m.gid, m.to_prefecture
            from movers as m
            inner join main_intermediate.int_store_visits_located as v on v.gid = m.gid
            group by m.gid, m.to_prefecture
            having count(*) filter (where v.purchase_date < m.moved_on::date) >= 3
               and count(*) filter (where v.purchase_date >= m.moved_on::date and v.prefecture = m.to_prefecture) >= 3
            """
        ).fetchall()
    finally:
        con.close()
    return {(g, p) for g, p in rows} & detectable


def _precision_at_rate(con: duckdb.DuckDBPyConnection) -> tuple[float, int, int]:
    """Precision of the n lowest-P(alive) members as churned, n = the number truly churned (= recall there)."""
    n_churned, n = con.execute("select count(*) filter (where churned), count(*) from scored").fetchone()
    if not n_churned:
        return float("nan"), 0, int(n)
    hit = con.execute(
        "select count(*) filter (where churned) from (select churned from scored order by p_alive limit ?)",
        [n_churned],
    ).fetchone()[0]
    return hit / n_churned, int(n_churned), int(n)


def recover(lake: Lake) -> Recovery:
    truth = json.loads(lake.read_bytes("ops", "generator/truth.json"))
    con = connect(lake)
    # the truth lives in the ops zone, outside the analyst connection: read it with a separate connection
    ops = duckdb.connect()
    movers = ops.execute(f"select * from read_parquet('{lake.uri('ops', 'generator/movers.parquet')}')").df()
    churners = ops.execute(f"select * from read_parquet('{lake.uri('ops', 'generator/churners.parquet')}')").df()
    eff = con.execute("select metric, difference, ci_low, ci_high from mart_programme_effect").fetchall()
    by_metric = {m: (d, lo, hi) for m, d, lo, hi in eff}
    found = con.execute("select gid, to_prefecture, moved_on from fct_member_moves").df()
    clv = con.execute("select gid, p_alive, as_of from mart_clv").df()
    ref = con.execute(
        "select campaign_id, uplift, uplift_ci_low, uplift_ci_high from mart_campaign_referral"
    ).fetchall()
    window = con.execute("select min(first_purchase_date), max(last_purchase_date) from fct_member_brands").fetchone()

    true_moves = set(zip(movers["gid"], movers["to_prefecture"], strict=True))
    found_moves = set(zip(found["gid"], found["to_prefecture"], strict=True))
    hit = len(true_moves & found_moves)
    # detectable: enough weeks of data before the move for a home area, and after it for the new one to persist
    start, end = (_day(d) for d in window)
    churned_on = dict(zip(churners["gid"], map(_day, churners["churned_on"]), strict=True))
    detectable = {
        (g, p)
        for g, p, on in zip(movers["gid"], movers["to_prefecture"], map(_day, movers["moved_on"]), strict=True)
        if start + dt.timedelta(days=28) <= on <= end - dt.timedelta(days=42)
        and (g not in churned_on or churned_on[g] > on + dt.timedelta(days=42))
    }
    # a churner counts if they churned 30+ days before the end (so the data can show it)
    as_of = clv["as_of"].max()
    ops.register("clv", clv)
    ops.register("churners", churners)
    ops.execute(
        """
        create temp table scored as
        select clv.p_alive, churners.gid is not null as churned
        from clv left join churners
            on clv.gid = churners.gid and churners.churned_on <= ?::date - 30
        """,
        [as_of],
    )
    active = _active_movers(lake, detectable, movers)
    truth_uplift = {c["campaign_id"]: c["realised_uplift"] for c in truth["campaigns"]}
    planted = {c["campaign_id"]: c["planted_uplift"] for c in truth["campaigns"]}
    precision, n_churned, n_scored = _precision_at_rate(ops)
    realised = truth["programme_effect"].get("realised") or {}
    return Recovery(
        programme_spend=by_metric["spend_yen_per_month"],
        programme_visits=by_metric["visits_per_month"],
        truth_spend=float(realised.get("spend_yen_per_month") or truth["programme_effect"]["spend_yen_per_month"]),
        truth_visits=float(realised.get("visits_per_month") or truth["programme_effect"]["visits_per_month"]),
        move_precision=hit / len(found_moves) if found_moves else 0.0,
        move_recall=hit / len(true_moves) if true_moves else 1.0,
        movers_true=len(true_moves),
        movers_found=len(found_moves),
        churn_auc=_auc(ops),
        uplift={c: (float(u), float(truth_uplift[c])) for c, u, _, _ in ref if c in truth_uplift and u is not None},
        movers_detectable=len(detectable),
        move_recall_detectable=len(detectable & found_moves) / len(detectable) if detectable else float("nan"),
        movers_active=len(active),
        move_recall_active=len(active & found_moves) / len(active) if active else float("nan"),
        churn_precision_at_rate=precision,
        churners_scored=n_churned,
        members_scored=n_scored,
        uplift_ci={
            c: (float(u), float(lo), float(hi), float(planted[c]))
            for c, u, lo, hi in ref
            if c in planted and u is not None
        },
    )
