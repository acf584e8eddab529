"""A small lake with every zone filled and its marts published, for the analyst connection's tests.

No dbt run: the marts are written as Parquet where `lake build` exports them, then published as `lake build`
does. Every other zone holds something an analyst must not reach (PII in raw, quarantined rows, the group
zone, a manifest, the dbt build file), so a test can show each escape would have reached real data.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import duckdb

from lake import layout
from lake.analyst import publish
from lake.config import LakeConfig
from lake.storage import Lake

MEMBERS = 300
WIDE_COLUMNS = 12
NOTES = ["=HYPERLINK(\"http://x\",\"y\")", "+81 90", "-2", "@SUM(A1)", "plain", "\ttab", "a|b"]
DESCRIPTIONS = {
    "dim_members": ("One row per group member.", {"gid": "The group member ID.", "spend_365d_yen": "Spend, yen."}),
    "mart_wide": ("A mart wider than a terminal.", {}),
}


def make_lake(root: Path) -> Lake:
    """Write every zone of a small lake under `root` and publish its marts; returns the lake."""
    lake = Lake(LakeConfig.resolve(str(root)))
    lake.ensure_zones([*layout.all_zones(["cvs"]), layout.OPS])
    con = duckdb.connect()

    def copy(sql: str, zone: str, rel: str, fmt: str = "parquet") -> None:
        Path(lake.path(zone, rel)).parent.mkdir(parents=True, exist_ok=True)
        con.execute(f"copy ({sql}) to '{lake.path(zone, rel)}' (format {fmt})")

    notes = "[" + ", ".join("'" + n.replace("'", "''") + "'" for n in NOTES) + "]"
    copy(f"select lpad(i::varchar, 12, '0') as gid, 'tokyo' as prefecture, i * 100 as spend_365d_yen, "
         f"{notes}[(i % {len(NOTES)}) + 1] as note from range({MEMBERS}) t(i)", layout.MARTS, "dim_members.parquet")
    wide = ", ".join(f"i * {k} as col_{k:02d}" for k in range(WIDE_COLUMNS))
    copy(f"select {wide} from range({MEMBERS}) t(i)", layout.MARTS, "mart_wide.parquet")
    copy("select 'Taro Yamada' as name, '090-1234-5678' as phone, 1 as _line", layout.raw("cvs"),
         "pos/date=2026-08-01/part-b1.parquet")
    copy("select '000000000001' as gid, 1990 as birth_year", layout.GROUP, "members/part-0.parquet")
    copy("select 'cvs_pos_20260802.csv' as source, 3 as line, 'bad_gid' as reason", layout.QUARANTINE,
         "rows/company=cvs/feed=pos/part-b2.parquet")
    copy("select 'b1' as batch_id, 'landed' as status", layout.OPS, "manifests/ingest/company=cvs/feed=pos/b1.parquet")
    copy("select 1 as run", layout.OPS, "runs/run.json", "json")
    lake.write_bytes(layout.landing("cvs"), "pos/cvs_pos_20260801.csv", "取引ID,会員ID\nT1,000000000001\n".encode())
    lake.write_bytes(layout.QUARANTINE, "files/cvs/pos/b2/cvs_pos_20260802.csv", b"broken,file\n")
    build = duckdb.connect(lake.path(layout.MARTS, "marts.duckdb"))  # where dbt builds (intermediate tables too)
    build.execute("create table int_members as select 'Taro' as name")
    build.close()
    con.close()
    publish(lake, DESCRIPTIONS)
    return lake


def snapshot(root: Path) -> dict[str, str]:
    """Every file under `root` with the sha256 of its bytes."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}
