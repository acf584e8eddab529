"""The analyst connection (`lake sql`, notebooks): DuckDB with the marts ready to query, and nothing else.

An in-memory database with one view per mart over the Parquet the build exports to the marts zone. Then file
access is limited to those Parquet files and the configuration is locked, so raw zones, quarantine and the group
zone cannot be read from this connection, and nothing in the lake can be written.
"""

from __future__ import annotations

import re

import duckdb

from lake import duck
from lake.errors import LakeError
from lake.layout import MARTS
from lake.storage import Lake

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def mart_names(lake: Lake) -> list[str]:
    """Marts exported to the marts zone (one `<name>.parquet` each)."""
    names = [f[: -len(".parquet")] for f in lake.list_files(MARTS) if f.endswith(".parquet") and "/" not in f]
    return sorted(n for n in names if _NAME.match(n))


def connect(lake: Lake) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with a view per mart; only the marts zone is readable, nothing is writable."""
    names = mart_names(lake)
    if not names:
        raise LakeError(f"no marts in {lake.uri(MARTS)}", "run `lake build` first (or `lake demo`)")
    con = duck.connect(lake)  # UTC; on S3 with httpfs (installed offline) and a temporary secret
    root = lake.uri(MARTS)
    for name in names:
        con.execute(f"create view {name} as select * from read_parquet('{root}/{name}.parquet')")
    files = ", ".join(f"'{root}/{name}.parquet'" for name in names)
    con.execute(f"set allowed_paths = [{files}]")
    con.execute("set enable_external_access = false")
    con.execute("set lock_configuration = true")
    return con


def repl(lake: Lake, query: str | None = None) -> None:
    """`lake sql`: run one query and print it, or an interactive prompt (`;` ends a statement, Ctrl-D quits)."""
    con = connect(lake)
    if query:
        con.sql(query).show(max_rows=50)
        return
    print(describe(lake))
    buf: list[str] = []
    while True:
        try:
            line = input("lake> " if not buf else "  ..> ")
        except EOFError:
            print()
            return
        buf.append(line)
        if line.rstrip().endswith(";"):
            sql = "\n".join(buf)
            buf = []
            try:
                rel = con.sql(sql)
                if rel is not None:
                    rel.show(max_rows=50)
            except duckdb.Error as e:
                print(f"error: {e}")


def describe(lake: Lake) -> str:
    """The banner `lake sql` prints: which marts are there."""
    return f"marts in {lake.uri(MARTS)} (read-only): " + ", ".join(mart_names(lake))


def headline(lake: Lake) -> str:
    """Headline results for the end of `lake demo`: the programme effect (descriptive and causal, with a note when
    they disagree), top brand pairs by lift, moves detected, campaign uplift."""
    con = connect(lake)
    lines = []
    for metric, label, unit in (("spend_yen_per_month", "spend", " yen"), ("visits_per_month", "visits", "")):
        row = con.execute(
            "select difference, ci_low, ci_high, programme_members, emoney_only_members, causal_effect, "
            "causal_ci_low, causal_ci_high, causal_enrolled_members, is_pre_trend_flat, is_large_gap "
            "from mart_programme_effect where metric = ? and not is_suppressed",
            [metric],
        ).fetchone()
        if not row:
            lines.append(f"Programme effect, {label} a month: too few members to publish (k rule)")
            continue
        d, lo, hi, n_p, n_e, c, clo, chi, n_c, flat, gap = row
        lines.append(
            f"Programme members vs e-money-only, {label} a month (descriptive): {d:+,.1f}{unit} "
            f"(95% CI {lo:+,.1f} to {hi:+,.1f}; {n_p:,} programme vs {n_e:,} e-money-only members)"
        )
        if c is None:
            lines.append(f"Programme effect, {label} a month (causal): not estimable on this lake "
                         "(no enrolments inside the window with a week of data before them)")
            continue
        lines.append(
            f"Programme effect, {label} a month (causal, difference-in-differences): {c:+,.1f}{unit} "
            f"(95% CI {clo:+,.1f} to {chi:+,.1f}; {n_c:,} members enrolling; pre-trend "
            f"{'flat' if flat else 'NOT flat: read with care'})"
        )
        if gap:
            lines.append(
                f"  note: the descriptive difference is {d - c:+,.1f}{unit} away from the causal effect: programme "
                "members differ from e-money-only members by more than the programme (heavier shoppers enrol more)"
            )
    pairs = con.execute(
        "select brand_a, brand_b, lift, members_both from mart_cross_brand_matrix "
        "where period = 'all' and not is_suppressed and brand_a < brand_b order by lift desc limit 3"
    ).fetchall()
    if pairs:
        lines.append(
            "Top brand pairs by lift: " + "; ".join(f"{a}+{b} {lift:.2f}x ({n:,} members)" for a, b, lift, n in pairs)
        )
    moves = con.execute("select count(*), count(distinct gid) from fct_member_moves").fetchone()
    lines.append(f"Moves detected: {moves[0]:,} ({moves[1]:,} members)" if moves else "Moves detected: 0")
    uplift = con.execute(
        "select campaign_id, source_company, target_company, uplift, uplift_ci_low, uplift_ci_high "
        "from mart_campaign_referral where not is_suppressed order by uplift desc limit 3"
    ).fetchall()
    for c, s, t, u, lo, hi in uplift:
        lines.append(f"Campaign {c} ({s} -> {t}): uplift {u:+.1%} (95% CI {lo:+.1%} to {hi:+.1%})")
    return "\n".join(lines)
