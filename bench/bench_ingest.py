"""Ingestion of one big cvs extract against a bare DuckDB CSV-to-Parquet copy of the same data (DESIGN §8).

Target: ingestion within 1.5x of the bare copy; peak memory flat as the input grows.
The bare copy reads the UTF-8 version of the file (DuckDB cannot read cp932) and writes zstd Parquet
partitioned by date, with no validation, no quarantine and no manifest.

    python -m bench.bench_ingest --rows 10000000 --small-rows 1000000
"""

from __future__ import annotations

import argparse
import datetime as dt
import tempfile
from pathlib import Path

from bench._harness import measure, save

DAY = dt.date(2026, 8, 1)


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--small-rows", type=int, default=1_000_000, help="second size, for memory flatness")
    args = ap.parse_args(argv)
    from generator import cvs_pos_file

    result: dict = {"rows": {}}
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        for rows in sorted({args.small_rows, args.rows}):
            root = Path(tmp) / f"lake-{rows}"
            landing = root / "landing-cvs" / "pos"
            landing.mkdir(parents=True)
            data = cvs_pos_file(rows, DAY, seed=1)
            src = landing / f"cvs_pos_{DAY:%Y%m%d}.csv"
            src.write_bytes(data)
            utf8 = Path(tmp) / f"utf8-{rows}.csv"
            utf8.write_bytes(data.decode("cp932").encode("utf-8"))
            del data
            bare_wall, bare_rss = measure(
                "import duckdb\n"
                "duckdb.sql(\"COPY (SELECT *, CAST(\\\"取引日時\\\" AS DATE) AS date "
                f"FROM read_csv('{utf8}', timestampformat='%Y/%m/%d %H:%M:%S')) TO '{Path(tmp) / f'bare-{rows}'}' "
                "(FORMAT parquet, COMPRESSION zstd, PARTITION_BY (date))\")\n"
            )
            ours_wall, ours_rss = measure(
                "from lake.storage import open_lake\nfrom ingestion.engine import ingest\n"
                f"s = ingest(open_lake({str(root)!r}))\n"
                "assert s.rows[0].rows_landed == s.rows[0].rows_read > 0, s.rows\n"
            )
            result["rows"][rows] = {"ingest_s": ours_wall, "ingest_peak_mb": ours_rss,
                                    "bare_duckdb_s": bare_wall, "bare_peak_mb": bare_rss,
                                    "ratio": ours_wall / bare_wall}
    big, small = result["rows"][args.rows], result["rows"][args.small_rows]
    print(f"{'rows':>12} {'ingest s':>9} {'bare DuckDB s':>14} {'ratio':>6} "
          f"{'ingest peak MB':>15} {'bare peak MB':>13}")
    for rows, r in sorted(result["rows"].items()):
        print(f"{rows:>12,} {r['ingest_s']:>9.1f} {r['bare_duckdb_s']:>14.1f} {r['ratio']:>6.2f} "
              f"{r['ingest_peak_mb']:>15.0f} {r['bare_peak_mb']:>13.0f}")
    growth = big["ingest_peak_mb"] / small["ingest_peak_mb"] if args.rows != args.small_rows else 1.0
    print(f"ratio at {args.rows:,} rows: {big['ratio']:.2f}x (target <= 1.5x); "
          f"peak memory x{growth:.2f} for x{args.rows / args.small_rows:.0f} rows (target: flat)")
    result["peak_growth"] = growth
    save("ingest", result)
    return result


if __name__ == "__main__":
    main()
