"""Run a piece of Python in a fresh process and measure its wall time and peak memory."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def measure(code: str, env: dict[str, str] | None = None) -> tuple[float, float]:
    """(wall seconds, peak RSS in MB) of `code` run by this interpreter in a child process."""
    wrapper = (
        "import time, json\n"
        "t = time.perf_counter()\n"
        f"exec({code!r})\n"
        "wall = time.perf_counter() - t\n"
        # VmHWM, not ru_maxrss: Linux carries ru_maxrss across exec, so it would include this parent's memory.
        "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1]\n"
        "print(json.dumps({'wall': wall, 'rss_mb': int(hwm) / 1024}))\n"
    )
    out = subprocess.run([sys.executable, "-c", wrapper], cwd=REPO, env=env, capture_output=True, text=True,
                         check=False)
    if out.returncode != 0:
        raise SystemExit(f"benchmark step failed:\n{out.stderr[-3000:]}")
    # what the wrapper printed last: the code measured may print too (DuckDB's progress bar ends in `\r`)
    at = out.stdout.rfind('{"wall": ')
    if at < 0:
        raise SystemExit(f"benchmark step printed no result:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}")
    res = json.loads(out.stdout[at:].splitlines()[0])
    return res["wall"], res["rss_mb"]


def save(name: str, result: dict) -> None:
    folder = REPO / "bench" / "results"
    folder.mkdir(exist_ok=True)
    (folder / f"{name}.json").write_text(json.dumps(result, indent=2, default=str))


def file_sizes(root: Path) -> dict[str, tuple[int, int, float]]:
    """Per table folder under `root`: (files, partitions, median file size in MB) of its Parquet files."""
    out = {}
    for table in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("_")):
        files = [f for f in table.rglob("*.parquet") if not f.name.startswith((".", "_"))]
        if files:
            parts = {f.parent for f in files}
            out[table.name] = (len(files), len(parts), statistics.median(f.stat().st_size for f in files) / 1e6)
    return out
