"""After-the-fact checks of a group zone: no PII by column name or by value, and reconciliation adds up.

Arrow over the lake's filesystem (local or S3), so tests and operators can run them without Spark.
The quality gates (expectations/) enforce the same rules on every hand-over; this is the transforms'
own assurance, read from the same sharing rules.
"""

from __future__ import annotations

import re

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from expectations.rules import SharingRules
from lake import layout
from lake.storage import Lake


def group_files(lake: Lake) -> list[str]:
    return [f for f in lake.list_files(layout.GROUP) if f.endswith(".parquet") and "/_" not in f and "/." not in f]


def pii_findings(lake: Lake, rules: SharingRules) -> list[str]:
    """Every PII column name and every string value matching the rules' value patterns, as readable findings."""
    findings: list[str] = []
    for rel in group_files(lake):
        table = pq.read_table(lake.open_input(layout.GROUP, rel))
        for name in set(table.column_names) & rules.pii_columns:
            findings.append(f"group/{rel}: column {name!r} is PII (sharing rules pii.columns)")
        for field in table.schema:
            if not pa.types.is_string(field.type) and not pa.types.is_large_string(field.type):
                continue
            col = table.column(field.name)
            for kind, pat in rules.value_patterns.items():
                hits = pc.sum(pc.match_substring_regex(col, pat)).as_py() or 0
                if hits:
                    sample = next(v for v in col.to_pylist() if v is not None and re.search(pat, v))
                    findings.append(f"group/{rel}: {hits} values of {field.name!r} look like {kind} ({sample!r})")
    return findings


def reconciliation(lake: Lake) -> list[dict]:
    rel = "reconciliation/part-00000.parquet"
    if not lake.exists(layout.GROUP, rel):
        return []
    return pq.read_table(lake.open_input(layout.GROUP, rel)).to_pylist()
