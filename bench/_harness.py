"""Run a piece of Python in a fresh process and measure its wall time and peak memory."""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def measure(code: str, env: dict[str, str] | None = None) -> tuple[float, float]:
    """(wall seconds, peak RSS in MB) of `code` run by this interpreter in a child process."""
    wrapper = (
        "import resource, time, json, sys\n"
        "t = time.perf_counter()\n"
        f"exec({code!r})\n"
        "wall = time.perf_counter() - t\n"
        "print(json.dumps({'wall': wall, 'rss_mb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))\n"
    )
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", wrapper], cwd=REPO, env=env, capture_output=True, text=True,
                         check=False)
    if out.returncode != 0:
        raise SystemExit(f"benchmark step failed:\n{out.stderr[-3000:]}")
    res = json.loads(out.stdout.strip().splitlines()[-1])
    _ = t0, resource
    return res["wall"], res["rss_mb"]


def save(name: str, result: dict) -> None:
    folder = REPO / "bench" / "results"
    folder.mkdir(exist_ok=True)
    (folder / f"{name}.json").write_text(json.dumps(result, indent=2, default=str))
