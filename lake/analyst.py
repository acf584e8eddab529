"""The analyst connection (`lake sql`, notebooks): the marts, read-only, and nothing else.

DuckDB itself holds the boundary:
- `lake build` publishes the marts as tables of one DuckDB file in the marts zone (`publish`);
- `connect` attaches the newest one READ_ONLY as the default database `marts`, then turns external access
  off, so no file or URL can be read or written (COPY, read_parquet/read_csv/glob, ATTACH of a file, INSTALL
  and LOAD, EXPORT DATABASE, persistent secrets). DuckDB still lets a session write the paths of databases it
  has attached (the published file and its WAL names), so every file system is then disabled as well: the
  attached file is read through the handle already open, and nothing else is ever opened. Last, the
  configuration is locked, so no SET or RESET undoes any of it. Writing to the marts is refused because
  their database is attached read-only;
- on S3 it signs as the `analyst` identity of `infra.access` (`analyst_s3`), never with the credentials the
  environment holds for other work, so the store refuses what DuckDB would not have.
What remains possible is querying, and temporary objects in this session's memory. The price of opening
no file: a query must fit in memory (DuckDB cannot spill to disk), ample for mart-sized tables.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import shutil
import sys
import tempfile
import uuid
from dataclasses import replace
from pathlib import Path

import duckdb

from lake import duck, layout
from lake.config import S3Settings
from lake.errors import LakeError
from lake.layout import MARTS
from lake.storage import Lake

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
# Attached under this name and made the default database: `dim_members` and `marts.dim_members` both work.
CATALOG = "marts"
# Published databases kept (the newest), so sessions still attached to an older one go on reading it.
KEEP_PUBLISHED = 3
ANALYST_PROFILE_ENV = "LAKE_ANALYST_PROFILE"

Descriptions = dict[str, tuple[str, dict[str, str]]]  # mart -> (description, column -> description)


def mart_names(lake: Lake) -> list[str]:
    """Marts exported to the marts zone (one `<name>.parquet` each)."""
    names = [f[: -len(".parquet")] for f in lake.list_files(MARTS) if f.endswith(".parquet") and "/" not in f]
    return sorted(n for n in names if _NAME.match(n))


# --- publishing (run by `lake build`, as the build's identity) ----------------------------------


def publish(lake: Lake, descriptions: Descriptions | None = None) -> str:
    """Write every exported mart as a table of a new analyst database in the marts zone; returns its path there.

    Column and table descriptions (from the dbt YAML) become DuckDB comments, so `describe` shows them in
    any session. Older databases are pruned, keeping the newest `KEEP_PUBLISHED`.
    """
    names = mart_names(lake)
    if not names:
        raise LakeError(f"no marts in {lake.uri(MARTS)} to publish", "run `lake build` first (or `lake demo`)")
    docs = descriptions or {}
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ") + "-" + uuid.uuid4().hex[:6]
    rel = layout.analyst_db(stamp)
    with tempfile.TemporaryDirectory(prefix="lake-analyst-") as tmp:
        path = Path(tmp) / "analyst.duckdb"
        con = duck.connect(lake)
        try:
            con.execute("SET enable_progress_bar = false")  # a build's log is no terminal
            con.execute(f"ATTACH {duck.sql_str(str(path))} AS published")
            for name in names:
                source = duck.sql_str(lake.uri(MARTS, f"{name}.parquet"))
                con.execute(f'CREATE TABLE published.main."{name}" AS SELECT * FROM read_parquet({source})')
                about, columns = docs.get(name, ("", {}))
                if about:
                    con.execute(f'COMMENT ON TABLE published.main."{name}" IS {duck.sql_str(about)}')
                have = {r[0] for r in con.execute(f'DESCRIBE published.main."{name}"').fetchall()}
                for column, text in columns.items():
                    if text and column in have:
                        con.execute(
                            f'COMMENT ON COLUMN published.main."{name}"."{column}" IS {duck.sql_str(text)}'
                        )
            con.execute("DETACH published")
        finally:
            con.close()
        with path.open("rb") as src, lake.open_output(MARTS, rel) as out:
            shutil.copyfileobj(src, out, 8 << 20)
    try:
        for old in published(lake)[:-KEEP_PUBLISHED]:
            lake.delete(MARTS, old)
    except OSError as e:
        raise LakeError(
            f"published {lake.uri(MARTS, rel)} but could not remove an older one: {e}",
            f"let the build's identity delete under {lake.uri(MARTS, layout.ANALYST_DBS)}/ (infra/access.py)",
        ) from e
    return rel


def published(lake: Lake) -> list[str]:
    """Published analyst databases in the marts zone, oldest first."""
    return [f for f in lake.list_files(MARTS, layout.ANALYST_DBS) if f.endswith(".duckdb") and f.count("/") == 1]


# --- the analyst's identity on S3 --------------------------------------------------------------


def analyst_s3(s3: S3Settings) -> S3Settings:
    """What the analyst connection signs with on S3: the `analyst` identity, whatever else the environment holds.

    `LAKE_ANALYST_PROFILE` names the analyst's profile in the AWS config files (static keys, a session token,
    SSO, an assumed role). Without it, on the local S3 server (whose keys are public, `infra.access`), the
    analyst's local keys; anywhere else, an error rather than the administrator's or a job's credentials.
    """
    base = replace(s3, access_key=None, secret_key=None, session_token=None, profile=None)
    profile = os.environ.get(ANALYST_PROFILE_ENV)
    if profile:
        return replace(base, profile=profile)
    from infra import access

    if s3.access_key and any(s3.access_key == access.dev_credentials(p).access_key for p in access.principals()):
        mine = access.dev_credentials(access.ANALYST)
        return replace(base, access_key=mine.access_key, secret_key=mine.secret_key)
    raise LakeError(
        "the lake is on S3 and no analyst identity is configured (the analyst connection never uses the "
        "environment's other credentials)",
        f"set {ANALYST_PROFILE_ENV} to the AWS profile of the analyst role (see the README, Analysts)",
    )


# --- the connection ----------------------------------------------------------------------------


def connect(lake: Lake) -> duckdb.DuckDBPyConnection:
    """DuckDB with the marts as the read-only default database; no file, URL or setting is reachable."""
    con = duckdb.connect(":memory:")
    try:
        con.execute("SET TimeZone = 'UTC'")
        if lake.is_s3:
            duck.create_s3_secret(con, analyst_s3(lake.cfg.s3), name="analyst")
        database = _newest_published(con, lake)
        con.execute(f"ATTACH {duck.sql_str(database)} AS {CATALOG} (READ_ONLY)")
        con.execute(f"USE {CATALOG}")
        _lock(con)
    except BaseException:
        con.close()
        raise
    return con


def _lock(con: duckdb.DuckDBPyConnection) -> None:
    """Close every door behind the attached marts, in this order (each step needs the one before undone)."""
    con.execute("SET autoinstall_known_extensions = false")
    con.execute("SET allow_community_extensions = false")
    # DuckDB draws its progress bar on stdout: only on a terminal, never into piped results. In Jupyter
    # DuckDB refuses to change the setting at all without ipywidgets (and then draws none): leave it there.
    with contextlib.suppress(duckdb.InvalidInputException):
        con.execute(f"SET enable_progress_bar = {str(sys.stdout.isatty()).lower()}")
    con.execute("SET enable_external_access = false")
    # After external access is off (turning it off needs the local file system): one-way, even unlocked.
    filesystems = ["LocalFileSystem", *con.list_filesystems()]
    con.execute(f"SET disabled_filesystems = {duck.sql_str(','.join(filesystems))}")
    con.execute("SET lock_configuration = true")


def _newest_published(con: duckdb.DuckDBPyConnection, lake: Lake) -> str:
    pattern = lake.uri(MARTS, f"{layout.ANALYST_DBS}/*.duckdb")
    try:
        row = con.execute(f"SELECT file FROM glob({duck.sql_str(pattern)}) ORDER BY file DESC LIMIT 1").fetchone()
    except duckdb.Error as e:
        raise LakeError(
            f"cannot list the published marts in {lake.uri(MARTS)} as the analyst: {str(e).splitlines()[0]}",
            "check the analyst identity's read access to the marts zone",
        ) from e
    if row is None:
        raise LakeError(f"no published marts in {lake.uri(MARTS)}", "run `lake build` first (or `lake demo`)")
    return row[0]


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
