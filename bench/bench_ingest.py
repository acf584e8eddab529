"""Ingestion of one big cvs extract against a bare DuckDB CSV-to-Parquet copy of the same data (DESIGN §8).

Target: ingestion within 1.5x of the bare copy; peak memory flat as the input grows (streaming).
The bare copy reads the UTF-8 version of the file (DuckDB cannot read cp932) and writes zstd Parquet
partitioned by date, with no decoding, validation, quarantine, line numbers, hash or manifest. Ours
reads the cp932 file as the company sends it and does all of that (and checks what it wrote:
`rows_read = rows_landed + rows_quarantined`, measured). Each size runs both sides `--repeat` times,
alternating, and keeps the best of each (the machine is shared: the best run is the least disturbed).

    python -m bench.bench_ingest                       # 1M and 10M rows: ratio and memory flatness
    python -m bench.bench_ingest --sizes 1M,10M,50M    # cost curve (what `make bench` runs)

Beyond 10M rows the extract is one file per day of at most 10M rows, ingested in one run (the bare copy reads
the same files in one query): a 50M-row file would be past the contract's 2 GiB limit and be refused whole.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import tempfile
from pathlib import Path

from bench._harness import measure, save

DAY = dt.date(2026, 8, 1)
FILE_ROWS = 10_000_000  # rows of one day's file at most


def _rows(text: str) -> int:
    text = text.strip().upper()
    scale = {"K": 1_000, "M": 1_000_000}.get(text[-1:], 1)
    return int(float(text[:-1] if text[-1:] in "KM" else text) * scale)


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="1M,10M", help="comma-separated row counts (1M, 10M, 50M, 200k, ...)")
    ap.add_argument("--repeat", type=int, default=2, help="runs of each side per size (best kept)")
    args = ap.parse_args(argv)
    sizes = sorted({_rows(s) for s in args.sizes.split(",") if s.strip()})
    from generator import cvs_pos_file

    result: dict = {"rows": {}}
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        for rows in sizes:
            # one day's file up to 10M rows; beyond, one file per day of at most 10M rows (a 50M-row day would
            # be 3.7 GB, past the contract's 2 GiB `max_file_bytes`, and is refused as a company's file would be)
            n_files = -(-rows // FILE_ROWS)
            srcs, utf8s = [], []
            for i in range(n_files):
                day = DAY + dt.timedelta(days=i)
                data = cvs_pos_file(rows // n_files + (i < rows % n_files), day, seed=1 + i)
                srcs.append(Path(tmp) / f"cvs_pos_{day:%Y%m%d}.csv")
                srcs[-1].write_bytes(data)
                utf8s.append(Path(tmp) / f"utf8-{rows}-{i}.csv")
                utf8s[-1].write_bytes(data.decode("cp932").encode("utf-8"))
                del data
            best: dict[str, tuple[float, float]] = {}
            for i in range(args.repeat):
                out = Path(tmp) / "bare"
                shutil.rmtree(out, ignore_errors=True)
                bare = measure(
                    "import duckdb\n"
                    "duckdb.sql(\"COPY (SELECT *, CAST(\\\"取引日時\\\" AS DATE) AS date "
                    f"FROM read_csv({[str(u) for u in utf8s]!r}, timestampformat='%Y/%m/%d %H:%M:%S')) TO '{out}' "
                    "(FORMAT parquet, COMPRESSION zstd, PARTITION_BY (date))\")\n"
                )
                root = Path(tmp) / f"lake-{i}"
                shutil.rmtree(root, ignore_errors=True)
                (root / "landing-cvs" / "pos").mkdir(parents=True)
                for src in srcs:
                    shutil.copy(src, root / "landing-cvs" / "pos" / src.name)
                ours = measure(
                    "from lake.storage import open_lake\nfrom ingestion.engine import ingest\n"
                    f"s = ingest(open_lake({str(root)!r}))\n"
                    f"assert len(s.rows) == {n_files}, s.rows\n"
                    "for r in s.rows:\n"
                    "    assert r.status == 'landed' and r.rows_read > 0, r\n"
                    "    assert r.rows_read == r.rows_landed + r.rows_quarantined, r\n"
                )
                shutil.rmtree(root, ignore_errors=True)
                for side, (wall, rss) in (("bare", bare), ("ours", ours)):
                    if side not in best or wall < best[side][0]:
                        best[side] = (wall, max(rss, best.get(side, (0, 0))[1]))
            result["rows"][rows] = {"ingest_s": best["ours"][0], "ingest_peak_mb": best["ours"][1],
                                    "bare_duckdb_s": best["bare"][0], "bare_peak_mb": best["bare"][1],
                                    "ratio": best["ours"][0] / best["bare"][0], "files": n_files}
            for path in (*utf8s, *srcs):
                path.unlink()
    print(f"{'rows':>12} {'files':>5} {'ingest s':>9} {'bare DuckDB s':>14} {'ratio':>6} {'ingest peak MB':>15} "
          f"{'bare peak MB':>13}")
    for rows, r in sorted(result["rows"].items()):
        print(f"{rows:>12,} {r['files']:>5} {r['ingest_s']:>9.1f} {r['bare_duckdb_s']:>14.1f} {r['ratio']:>6.2f} "
              f"{r['ingest_peak_mb']:>15.0f} {r['bare_peak_mb']:>13.0f}")
    if len(sizes) > 1:
        small, big = result["rows"][sizes[0]], result["rows"][sizes[-1]]
        growth = big["ingest_peak_mb"] / small["ingest_peak_mb"]
        cost = big["ingest_s"] / small["ingest_s"]
        print(f"peak memory x{growth:.2f} and time x{cost:.1f} for x{sizes[-1] / sizes[0]:.0f} rows "
              "(targets: flat memory, linear time)")
        result["peak_growth"], result["time_growth"] = growth, cost
    at = 10_000_000 if 10_000_000 in result["rows"] else sizes[-1]
    print(f"ratio at {at:,} rows: {result['rows'][at]['ratio']:.2f}x (target <= 1.5x)")
    save("ingest", result)
    return result


if __name__ == "__main__":
    main()
