"""Benchmark (DESIGN §8): a 1M-member segment export; target 3 s on 2 cores.

    python -m bench.bench_export [--members 1430000] [--runs 3] [--lake PATH]

The marts a segment reads (`dim_members`, `fct_member_brands`) are written directly as Parquet, as dbt exports them
(about 70% of members consent, so 1.43M members give a 1M-member export); building them with the whole pipeline
would take most of an hour and measure something else. The export is `exports.export.export_segment` of a segment
"cvs shoppers with marketing consent", holdout 10%: the segment query, the split, every rule, the CSV and Parquet
files, the membership snapshot, the campaign registry and the audit record. The baseline, in the same run, is a bare
DuckDB `COPY` of the same rows (same query on the same marts, the split by DuckDB's `hash`) to Parquet and CSV.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from bench._harness import save
from lake.config import REPO_ROOT, LakeConfig
from lake.storage import Lake

TARGET_SECONDS = 3.0
SEGMENT = """description: cvs shoppers with marketing consent (benchmark)
owner: cvs
purpose: coupon_campaign
rules:
  - shopped_at: {company: cvs, within_days: 365}
  - consented: true
"""


def write_marts(lake: Lake, members: int, seed: int = 1) -> None:
    """dim_members and fct_member_brands for `members` members (every one a cvs shopper, some of other brands)."""
    rng = np.random.default_rng(seed)
    body = rng.choice(10**11, members, replace=False) + 10**10
    gids = pa.array([f"{b:011d}0" for b in body])  # the check digit does not matter to an export
    marts = Path(lake.path("marts"))
    marts.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table({"gid": gids, "has_marketing_consent": pa.array(rng.random(members) < 0.7)}),
                   marts / "dim_members.parquet", compression="zstd")
    as_of = dt.date(2026, 10, 29)
    rows_gid, rows_company, rows_last = [gids], [pa.repeat(pa.scalar("cvs"), members)], []
    rows_last.append(pa.array([as_of - dt.timedelta(days=int(d)) for d in rng.integers(0, 200, members)], pa.date32()))
    for company, share in (("gms", 0.55), ("diner", 0.35), ("ec", 0.3)):
        pick = rng.random(members) < share
        rows_gid.append(gids.filter(pa.array(pick)))
        rows_company.append(pa.repeat(pa.scalar(company), int(pick.sum())))
        rows_last.append(pa.array([as_of - dt.timedelta(days=int(d)) for d in rng.integers(0, 300, int(pick.sum()))],
                                  pa.date32()))
    brands = pa.table({"gid": pa.concat_arrays(rows_gid), "company": pa.concat_arrays(rows_company),
                       "last_purchase_date": pa.concat_arrays(rows_last)})
    pq.write_table(brands, marts / "fct_member_brands.parquet", compression="zstd")


def baseline(lake: Lake, out: Path) -> tuple[float, int]:
    """A bare DuckDB COPY of the same rows to Parquet and CSV; (seconds, rows)."""
    marts = lake.uri("marts")
    t = time.perf_counter()
    con = duckdb.connect()
    con.execute(f"""
        create temp table rows as
        select gid, 'BASELINE' as campaign_id, case when hash(gid) % 10 = 0 then 'control' else 'treatment' end
            as assigned_group
        from read_parquet('{marts}/dim_members.parquet')
        where has_marketing_consent and gid in (
            select gid from read_parquet('{marts}/fct_member_brands.parquet')
            where company = 'cvs' and last_purchase_date > (
                select max(last_purchase_date) from read_parquet('{marts}/fct_member_brands.parquet')) - 365)
        order by gid
    """)
    con.execute(f"copy rows to '{out / 'baseline.parquet'}' (format parquet, compression zstd)")
    con.execute(f"copy rows to '{out / 'baseline.csv'}' (format csv, header)")
    rows = con.execute("select count(*) from rows").fetchone()[0]
    return time.perf_counter() - t, rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--members", type=int, default=1_430_000, help="members in the marts (~70%% get exported)")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--lake", default=str(REPO_ROOT / "bench" / "results" / "export-lake"))
    args = ap.parse_args()
    from exports.export import ExportRequest, export_segment
    from lake import analyst

    shutil.rmtree(args.lake, ignore_errors=True)
    lake = Lake(LakeConfig.resolve(args.lake))
    t0 = time.perf_counter()
    write_marts(lake, args.members)
    analyst.publish(lake)  # the analyst database a build publishes: what exports read
    print(f"wrote the marts of {args.members:,} members in {time.perf_counter() - t0:.1f}s")
    segments = Path(tempfile.mkdtemp(prefix="bench-segments-"))
    (segments / "bench_cvs_consented.yml").write_text(SEGMENT, encoding="utf-8")
    out = Path(tempfile.mkdtemp(prefix="bench-baseline-"))
    export_s, base_s, exported = [], [], 0
    for i in range(args.runs):  # alternate, so both sides see the same load on a shared machine
        s, rows = baseline(lake, out)
        base_s.append(s)
        t = time.perf_counter()
        result = export_segment(lake, ExportRequest("bench_cvs_consented", company="cvs", campaign_id=f"BENCH-{i}",
                                                    requested_by="bench"), segments)
        export_s.append(time.perf_counter() - t)
        exported = result.members
        assert exported == rows, (exported, rows)
    e, b = statistics.median(export_s), statistics.median(base_s)
    save("export", {"members_in_marts": args.members, "exported": exported, "export_seconds": export_s,
                    "baseline_seconds": base_s, "median_export": e, "median_baseline": b, "ratio": e / b,
                    "target_seconds": TARGET_SECONDS})
    print(f"segment export of {exported:,} members: {e:.2f}s (median of {args.runs}; runs "
          f"{', '.join(f'{x:.2f}' for x in export_s)}), target {TARGET_SECONDS:.0f}s "
          f"({'met' if e <= TARGET_SECONDS else 'NOT met'}); bare DuckDB COPY of the same rows to Parquet and CSV: "
          f"{b:.2f}s; ratio {e / b:.2f}x")
    for folder in (segments, out, Path(args.lake)):  # a million-member lake is not worth keeping
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
