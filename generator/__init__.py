"""Synthetic group data: every extract and master of DESIGN section 3, deterministic for a seed.

``generate(GeneratorConfig(...), sink)`` writes landing files (zone ``landing-<company>``, path
``<feed>/<file>``) and the planted truth (zone ``ops``, ``generator/truth.json`` and parquet tables).
"""

from .catalog import ALL_COMPANIES, DAILY_FEEDS, FEEDS, GROUP_TAXONOMY, SALES_COMPANIES
from .gid import luhn_ok
from .sample import GeneratorConfig, cvs_pos_file, generate
from .sink import LocalSink, MemorySink, NullSink, Sink

__all__ = [
    "ALL_COMPANIES",
    "DAILY_FEEDS",
    "FEEDS",
    "GROUP_TAXONOMY",
    "SALES_COMPANIES",
    "GeneratorConfig",
    "LocalSink",
    "MemorySink",
    "NullSink",
    "Sink",
    "cvs_pos_file",
    "generate",
    "luhn_ok",
]
