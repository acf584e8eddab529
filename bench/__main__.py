"""`make bench`: every benchmark of DESIGN §8 in one run, printing figures and ratios.

Each benchmark is also a module of its own (`python -m bench.bench_ingest --help`, ...), with options
to run it small. Results are saved to bench/results/*.json (outside git).
"""

from __future__ import annotations

import subprocess
import sys
import time

BENCHES = ["bench_ingest", "bench_s3", "bench_conform", "bench_dbt", "bench_gates", "bench_analyst", "bench_export"]


def main(argv: list[str]) -> None:
    chosen = argv or BENCHES
    for name in chosen:
        print(f"\n=== {name} ===", flush=True)
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", f"bench.{name}"], check=True)
        print(f"({name} took {time.perf_counter() - t:.0f}s)", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
