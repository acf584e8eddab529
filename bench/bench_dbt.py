"""Benchmark (DESIGN §8): `dbt build` of all marts on a group zone of about 10M purchases; target 30 s on 2 cores,
beside a baseline measured in the same run: one DuckDB scan aggregating member_day per member (the floor of any
member-grain mart), so the ratio says how many such scans the whole build costs.

    python -m bench.bench_dbt [--members 180000] [--days 365] [--lake PATH]

The group zone comes from the deterministic fixture generator (tests/integration/group_fixture.py); it is kept
in PATH (default bench/results/dbt-lake) and reused when it already holds the same configuration and was written
by the same version of the generator (a hash of its source), so a changed fixture never benchmarks stale data.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import time
from pathlib import Path

from bench._harness import save
from lake.build import run_build
from lake.config import REPO_ROOT, LakeConfig
from lake.storage import Lake
from tests.integration import group_fixture
from tests.integration.group_fixture import FixtureConfig, write_group_fixture

TARGET_SECONDS = 30.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--members", type=int, default=180_000)
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--lake", default=str(REPO_ROOT / "bench" / "results" / "dbt-lake"))
    args = ap.parse_args()
    os.environ.setdefault("DO_NOT_TRACK", "1")
    lake = Lake(LakeConfig.resolve(args.lake))
    cfg = FixtureConfig(members=args.members, days=args.days, start=FixtureConfig().start, seed=1)
    stamp = Path(args.lake) / "fixture.json"
    generator = hashlib.sha256(Path(group_fixture.__file__).read_bytes()).hexdigest()[:16]
    want = {"members": cfg.members, "days": cfg.days, "seed": cfg.seed, "generator": generator}
    if not stamp.exists() or json.loads(stamp.read_text()).get("config") != want:
        t0 = time.perf_counter()
        shutil.rmtree(lake.uri("group"), ignore_errors=True)  # no stale partitions from an older generator
        truth = write_group_fixture(lake, cfg)
        stamp.write_text(json.dumps({"config": want, "purchases": truth["counts"]["purchases"]}))
        print(f"generated group zone: {truth['counts']['purchases']:,} purchases in {time.perf_counter() - t0:.1f}s")
    purchases = json.loads(stamp.read_text())["purchases"]
    baseline = _baseline_scan(lake)
    result = run_build(lake)
    if not result.success:
        raise SystemExit("dbt build failed:\n" + "\n".join(result.failures))
    ratio = result.seconds / TARGET_SECONDS
    save(
        "dbt",
        {
            "purchases": purchases,
            "members": cfg.members,
            "days": cfg.days,
            "seconds": result.seconds,
            "target_seconds": TARGET_SECONDS,
            "ratio": ratio,
            "baseline_scan_seconds": baseline,
            "scans": result.seconds / baseline if baseline else None,
            "counts": result.counts,
        },
    )
    print(
        f"dbt build of all marts on {purchases:,} purchases ({cfg.members:,} members, {cfg.days} days): "
        f"{result.seconds:.1f}s, target {TARGET_SECONDS:.0f}s ({ratio:.2f}x of target); one DuckDB scan of member_day "
        f"per member {baseline:.1f}s, the build = {result.seconds / baseline:.0f} scans "
        f"[{', '.join(f'{n} {s}' for s, n in sorted(result.counts.items()))}]"
    )


def _baseline_scan(lake: Lake) -> float:
    """Seconds for one DuckDB pass over member_day aggregating per member (2 threads, as dbt's profile)."""
    import duckdb

    con = duckdb.connect()
    con.execute("set threads = 2")
    t0 = time.perf_counter()
    con.execute(
        f"select gid, sum(spend_yen), sum(visits), min(purchase_date), max(purchase_date) from read_parquet("
        f"'{lake.uri('group', 'member_day')}/**/*.parquet', hive_partitioning = true) group by gid"
    ).fetchall()
    return time.perf_counter() - t0


if __name__ == "__main__":
    main()
