"""Small lakes for the gate tests: a compliant group zone and daily-file manifests, each with knobs to break a rule."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from expectations.rules import SharingRules, load_rules
from ingestion import manifest
from lake.config import SHARING_RULES
from lake.storage import Lake
from transforms.schema import arrow_schema, partition_by

GIDS = ["100000000008", "123456789015", "200000000006"]
DAY = dt.date(2026, 8, 3)


def write_table(lake: Lake, table: str, rows: list[dict], schema: pa.Schema | None = None) -> None:
    """Rows as the transforms write them: Hive partitions where the interface says so."""
    schema = schema or arrow_schema(table)
    parts = [p for p in partition_by(table) if p in schema.names or any(p in r for r in rows)]
    if parts and not all(p in schema.names for p in parts):
        added = [p for p in parts if p not in schema.names]
        schema = pa.schema([*schema, *[(p, pa.string()) for p in added]])
        rows = [r | {p: str(r[p]) for p in added} for r in rows]
    lake.delete_dir("group", table)
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault(tuple(r.get(p) for p in parts), []).append(r)
    for key, group in groups.items():
        t = pa.Table.from_pylist(group, schema=schema).drop_columns(parts)
        folder = "/".join(f"{p}={v}" for p, v in zip(parts, key, strict=True))
        with lake.open_output("group", f"{table}/{folder + '/' if folder else ''}part-00000.parquet") as out:
            pq.write_table(t, out)


def purchase(pid: str, company: str, gid: str | None = GIDS[0], amount: int = 500) -> dict:
    return {"purchase_id": pid, "company": company, "channel": "store", "store_id": "S1", "gid": gid,
            "purchased_at": dt.datetime(2026, 8, 3, 1, tzinfo=dt.UTC), "purchase_date": DAY, "amount_yen": amount,
            "item_count": 1, "payment_method": "cash", "campaign_id": None}


def group_zone(lake: Lake) -> None:
    """A group zone that keeps every rule: cvs lines, dept totals only, generalised members, no PII."""
    write_table(lake, "purchases", [purchase("cvs:T1", "cvs"), purchase("dept:D1", "dept", GIDS[1], 12000)])
    write_table(lake, "purchase_lines", [{"purchase_id": "cvs:T1", "line_no": 1, "category": "ready_meals",
                                          "quantity": 1, "amount_yen": 500, "company": "cvs", "purchase_date": DAY}])
    write_table(lake, "members", [{"gid": g, "birth_year": 1980 + i, "gender": "F", "prefecture": "東京都",
                                   "postal3": "123", "joined_on": dt.date(2025, 1, 1), "marketing_consent": i != 1,
                                   "programme_joined_on": None} for i, g in enumerate(GIDS)])
    write_table(lake, "campaigns", [{"campaign_id": "CP1", "company": "cvs", "target_company": "diner",
                                     "description": "ポイント２倍 [email] まで", "starts_on": DAY, "ends_on": DAY}])
    write_table(lake, "money_monthly", [{"gid": GIDS[0], "month": dt.date(2026, 8, 1), "payments": 3,
                                         "payment_yen": 900, "charges": 1, "charge_yen": 5000,
                                         "companies_paid_at": 2}])


def rules_copy(tmp_path: Path, *replacements: tuple[str, str]) -> SharingRules:
    """The sharing rules with some text replaced (each replacement must apply): a rule changed in the file."""
    text = SHARING_RULES.read_text(encoding="utf-8")
    for old, new in replacements:
        assert old in text, old
        text = text.replace(old, new)
    path = tmp_path / "sharing_rules.yml"
    path.write_text(text, encoding="utf-8")
    return load_rules(path)


def daily_manifests(lake: Lake, company: str, feed: str, pattern: str, rows_by_day: dict[dt.date, int]) -> None:
    """Manifest rows of landed daily files (`pattern` formats the file name with YYYYMMDD)."""
    for day, rows in rows_by_day.items():
        name = pattern.format(day.strftime("%Y%m%d"))
        m = manifest.ManifestRow(batch_id=f"{company}-{feed}-{day:%Y%m%d}", company=company, feed=feed,
                                 source=f"landing-{company}/{feed}/{name}", sha256=f"{company}{feed}{day}",
                                 rows_read=rows, rows_landed=rows, finished_at=dt.datetime.now(dt.UTC))
        manifest.write(lake, m)
