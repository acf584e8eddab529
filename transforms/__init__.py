"""Spark transforms: each company's raw zone -> the conformed, pseudonymous group zone (DESIGN §5, §6).

`run_transforms(lake)` is the entry point for `lake transform` and `lake demo`; `transforms/run.py`
is also a spark-submit script. Importing this package does not start Spark.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lake.storage import Lake


def run_transforms(lake: Lake, dates: list[str] | None = None, master: str | None = None,
                   progress: Any = None) -> dict:
    """See `transforms.run.run_transforms`."""
    from transforms.run import run_transforms as run

    return run(lake, dates, master, progress)


__all__ = ["run_transforms"]
