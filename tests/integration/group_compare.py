"""Comparing two lakes' group zones: the same rows in every table, and reconciliation alike (#8's tests)."""

from __future__ import annotations

import duckdb

from lake.storage import Lake
from transforms import audit

TABLES = ["purchases", "purchase_lines", "member_day", "member_day_category", "app_events", "money_monthly",
          "members", "stores", "categories", "id_links", "campaigns", "campaign_assignments"]


def recon(lake: Lake) -> dict[tuple[str, str, str], dict]:
    """The reconciliation rows by (company, feed, date)."""
    return {(r["company"], r["feed"], str(r["date"])): r for r in audit.reconciliation(lake)}


def assert_same_group(a: Lake, b: Lake) -> None:
    """Every group table holds the same rows in both lakes (as multisets), and reconciles alike."""
    con = duckdb.connect()
    for table in TABLES:
        sa, sb = (f"read_parquet('{x.uri('group', table)}/**/*.parquet', hive_partitioning = true)" for x in (a, b))
        extra = con.execute(f"select count(*) from (select * from {sa} except all select * from {sb})").fetchone()
        missing = con.execute(f"select count(*) from (select * from {sb} except all select * from {sa})").fetchone()
        assert (extra[0], missing[0]) == (0, 0), (table, extra, missing)
    same = ("raw_rows", "group_rows", "duplicates_dropped", "not_shared", "unlinked_members", "explained")
    ra = {k: tuple(r[c] for c in same) for k, r in recon(a).items() if r["raw_rows"] or r["group_rows"]}
    rb = {k: tuple(r[c] for c in same) for k, r in recon(b).items() if r["raw_rows"] or r["group_rows"]}
    assert ra == rb
