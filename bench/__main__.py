"""`make bench`: every benchmark of DESIGN §8 in one run, printing figures and ratios, then one table.

Each benchmark is also a module of its own (`python -m bench.bench_ingest --help`, ...), with options
to run it small. Results are saved to bench/results/*.json (outside git); the closing table is built from
the results this run wrote, so it is the README's "Latest figures" table with the date and the machine.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import time

from bench._harness import REPO

BENCHES = ["bench_ingest", "bench_s3", "bench_conform", "bench_dbt", "bench_gates", "bench_analyst", "bench_export",
           "bench_demo"]
# what a full run passes beyond each benchmark's defaults: the ingestion cost curve to 50M rows (#13), which a
# quick `python -m bench.bench_ingest` leaves out (bench_conform's default already runs 1M, 10M and 50M)
FULL_RUN_ARGS = {"bench_ingest": ["--sizes", "1M,10M,50M"]}
RESULTS = REPO / "bench" / "results"


def main(argv: list[str]) -> None:
    chosen = argv or BENCHES
    unknown = [n for n in chosen if n not in BENCHES]
    if unknown:
        raise SystemExit(f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(BENCHES)}")
    started = time.time()
    for name in chosen:
        print(f"\n=== {name} ===", flush=True)
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", f"bench.{name}", *FULL_RUN_ARGS.get(name, [])], check=True)
        print(f"({name} took {time.perf_counter() - t:.0f}s)", flush=True)
    print()
    print(table(load_results(since=started)))


def load_results(since: float = 0.0) -> dict[str, dict]:
    """The saved results written at or after `since` (seconds since the epoch), by benchmark name."""
    found = {}
    for path in sorted(RESULTS.glob("*.json")):
        if path.stat().st_mtime >= since:
            found[path.stem] = json.loads(path.read_text())
    return found


def _row(figure: str, value: str, ratio: float | None, target: str, met: bool | None) -> str:
    shown = "" if ratio is None else f"{ratio:.2f}x"
    verdict = "" if met is None else ("yes" if met else "no")
    return f"| {figure} | {value} | {shown} | {target} | {verdict} |"


def table(results: dict[str, dict]) -> str:
    """A markdown table of the DESIGN §8 figures found in `results` (missing benchmarks are left out)."""
    rows = []
    if ing := results.get("ingest"):
        for n, r in sorted(ing["rows"].items(), key=lambda kv: int(kv[0])):
            files = r.get("files", 1)
            in_files = f" in {files} daily files" if files > 1 else ""
            rows.append(_row(f"ingestion, {int(n):,} cvs rows{in_files} vs bare DuckDB copy",
                             f"{r['ingest_s']:.1f} s vs {r['bare_duckdb_s']:.1f} s, peak {r['ingest_peak_mb']:.0f} MB",
                             r["ratio"], "≤ 1.5x", r["ratio"] <= 1.5))
    if s3 := results.get("s3"):
        rows.append(_row(f"ingestion of {s3['rows']:,} rows to SeaweedFS vs local folder",
                         f"{s3['s3_seconds']:.1f} s vs {s3['local_seconds']:.1f} s", s3["ratio_s3_local"], "—", None))
    if conf := results.get("conform"):
        for r in conf["runs"]:
            spark_files = r.get("files", {}).get("spark", {})
            counts = [v[0] for v in spark_files.values()]
            parts = [v[1] for v in spark_files.values()]
            medians = [v[2] for v in spark_files.values()]
            files = (f"; {sum(counts)} files in {sum(parts)} partitions, median {statistics.median(medians):.1f} MB"
                     if counts else "")
            rows.append(_row(f"Spark conform, {r['rows']:,} lines vs one DuckDB query",
                             f"{r['spark_s']:.1f} s vs {r['duckdb_s']:.1f} s{files}", r["ratio"], "≤ 3x",
                             r["ratio"] <= 3))
    if d := results.get("dbt"):
        rows.append(_row(f"dbt build of all marts, {d['purchases']:,} purchases",
                         f"{d['seconds']:.1f} s (one member scan {d['baseline_scan_seconds']:.1f} s)",
                         d.get("scans"), "≤ 30 s", d["seconds"] <= d["target_seconds"]))
    if g := results.get("gates"):
        rows.append(_row(f"quality gates, {g['purchases']:,} purchases, GX vs plain DuckDB",
                         f"{g['gx_seconds']:.1f} s vs {g['plain_seconds']:.1f} s; {g['share_of_pipeline']:.2f} of "
                         "the dbt build", g["ratio"], "≤ 2x, < 0.2 of pipeline", g["ratio"] <= 2))
    if e := results.get("export"):
        rows.append(_row(f"segment export, {e['exported']:,} members vs bare DuckDB COPY",
                         f"{e['median_export']:.2f} s vs {e['median_baseline']:.2f} s", e["ratio"], "≤ 3 s",
                         e["median_export"] <= e["target_seconds"]))
    if demo := results.get("demo"):
        stages = ", ".join(f"{k} {v:.0f} s" for k, v in demo["stages"].items())
        rows.append(_row(f"lake demo, {demo['members']:,} members × {demo['days']} days",
                         f"{demo['seconds']:.0f} s ({stages})", demo["ratio"], "≤ 90 s",
                         demo["seconds"] <= demo["target_seconds"]))
        if group := demo.get("group_files"):
            files = sum(n for n, _, _ in group.values())
            parts = sum(p for _, p, _ in group.values())
            medians = ", ".join(f"{t} {m:.2f} MB" for t, (_, _, m) in group.items())
            rows.append(_row(f"group zone of the demo lake, {len(group)} tables",
                             f"{files} files in {parts} partitions; median file size {medians}", None,
                             "one file per table and partition", files == parts))
    head = (f"Measured {dt.date.today():%Y-%m-%d} on {platform.node() or 'this machine'} "
            f"({os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the end)\n\n"
            "| figure | measured | ratio | target | met |\n| --- | --- | --- | --- | --- |")
    return "\n".join([head, *rows])


if __name__ == "__main__":
    main(sys.argv[1:])
