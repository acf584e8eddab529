"""Benchmark (DESIGN §8): `lake demo` end to end on the default sample (200,000 members × 90 days) within 90 s,
with the time of each stage (generate, ingest, transform, build, checks and headline).

    python -m bench.bench_demo [--members 200000] [--days 90] [--lake PATH]

The demo runs in a child process on a fresh lake (default bench/results/demo-lake, removed first), as
`lake demo` would run it; the stages' seconds come from the demo itself (`lake.cli.run_demo`).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from bench._harness import REPO, file_sizes, save

TARGET_SECONDS = 90.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--members", type=int, default=200_000)
    ap.add_argument("--days", type=int, default=90)
    ap.add_argument("--lake", default=str(REPO / "bench" / "results" / "demo-lake"))
    args = ap.parse_args()
    shutil.rmtree(args.lake, ignore_errors=True)
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
        timings = Path(f.name)
    code = ("import json, sys\nfrom lake.cli import run_demo\n"
            f"stages = run_demo({args.lake!r}, {args.members}, {args.days})\n"
            f"open({str(timings)!r}, 'w').write(json.dumps(stages))\n")
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True,
                   env={**os.environ, "DO_NOT_TRACK": "1"})
    stages = json.loads(timings.read_text())
    timings.unlink()
    total = sum(stages.values())
    load = os.getloadavg()[0]
    group = file_sizes(Path(args.lake) / "group")  # the small-file check at the default sample (#13)
    save("demo", {"members": args.members, "days": args.days, "stages": stages, "seconds": total,
                  "target_seconds": TARGET_SECONDS, "ratio": total / TARGET_SECONDS, "load_average": load,
                  "group_files": group})
    print(f"lake demo ({args.members:,} members × {args.days} days): {total:.0f}s (target {TARGET_SECONDS:.0f}s, "
          f"{total / TARGET_SECONDS:.2f}x; load average {load:.1f})")
    for name, seconds in stages.items():
        print(f"  {name:<20} {seconds:6.1f}s  {seconds / total:4.0%}")
    print("group zone, per table: files in partitions, median file size")
    for table, (n, parts, median) in group.items():
        print(f"  {table:<24} {n:5} files in {parts:5} partitions, median {median:.2f} MB")
    shutil.rmtree(args.lake, ignore_errors=True)


if __name__ == "__main__":
    main()
