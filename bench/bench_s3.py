"""Ingestion on S3 (local SeaweedFS) against the local folder, same file, same run: prints the ratio.

    python -m bench.bench_s3              # 10M-row cvs POS file
    python -m bench.bench_s3 --rows 200000

It starts its own SeaweedFS on a free port in a temporary folder (stopped at the end), so nothing
else needs to run; the file is generated once and dropped into both lakes before timing.
"""

from __future__ import annotations

import argparse
import datetime as dt
import tempfile
import time
from pathlib import Path

from bench._harness import save
from generator import cvs_pos_file
from infra.seaweed import SeaweedServer, free_port
from ingestion.engine import ingest
from lake import layout
from lake.config import LakeConfig
from lake.storage import Lake

DAY = dt.date(2026, 8, 1)


def timed_ingest(lake: Lake, data: bytes) -> tuple[float, int]:
    lake.write_bytes(layout.landing("cvs"), f"pos/cvs_pos_{DAY:%Y%m%d}.csv", data)
    t0 = time.perf_counter()
    rows = ingest(lake, ["cvs"]).rows
    seconds = time.perf_counter() - t0
    assert rows and all(r.reconciles() for r in rows)
    return seconds, sum(r.rows_read for r in rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000, help="rows of the cvs POS file (default 10M)")
    args = parser.parse_args()
    t0 = time.perf_counter()
    data = cvs_pos_file(args.rows, DAY)
    print(f"cvs POS file: {args.rows:,} rows, {len(data) / 1e6:.0f} MB, generated in {time.perf_counter() - t0:.1f}s")
    with tempfile.TemporaryDirectory(prefix="bench-s3-") as tmp:
        local_s, n = timed_ingest(Lake(LakeConfig.resolve(str(Path(tmp) / "lake"))), data)
        print(f"local folder: {local_s:6.1f}s  ({n / local_s / 1e6:.2f}M rows/s)")
        server = SeaweedServer(Path(tmp) / "seaweedfs")
        server.start(free_port())
        try:
            s3_s, _ = timed_ingest(Lake(server.lake_config()), data)
        finally:
            server.stop(timeout=3)
        print(f"S3 (SeaweedFS): {s3_s:4.1f}s  ({n / s3_s / 1e6:.2f}M rows/s)")
        print(f"ratio S3 / local: {s3_s / local_s:.2f}x")
    save(
        "s3",
        {
            "rows": n,
            "local_seconds": round(local_s, 2),
            "s3_seconds": round(s3_s, 2),
            "ratio_s3_local": round(s3_s / local_s, 2),
        },
    )


if __name__ == "__main__":
    main()
