"""After-the-fact checks of a group zone: no PII by column name or by value, and reconciliation adds up.

Arrow and DuckDB over the lake's filesystem (local or S3), so tests and operators can run them without Spark.
The quality gates (expectations/) enforce the same rules on every hand-over; this is the transforms'
own assurance, read from the same sharing rules.
"""

from __future__ import annotations

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from expectations import pii
from expectations.rules import SharingRules
from lake import layout
from lake.storage import Lake


def group_files(lake: Lake) -> list[str]:
    return [f for f in lake.list_files(layout.GROUP) if f.endswith(".parquet") and "/_" not in f and "/." not in f]


def pii_findings(lake: Lake, rules: SharingRules) -> list[str]:
    """Every PII column name and every string value matching the rules' value patterns after NFKC, as findings.

    DuckDB over each file's Arrow table, with the NFKC folding of `expectations.pii` (the engines' one rule).
    """
    findings: list[str] = []
    con = duckdb.connect()
    pii.duckdb_register(con)
    for rel in group_files(lake):
        table = pq.read_table(lake.open_input(layout.GROUP, rel))
        for name in set(table.column_names) & rules.pii_columns:
            findings.append(f"group/{rel}: column {name!r} is PII (sharing rules pii.columns)")
        con.register("t", table)
        for field in table.schema:
            if not pa.types.is_string(field.type) and not pa.types.is_large_string(field.type):
                continue
            col = '"' + field.name.replace('"', '""') + '"'
            for kind, pat in rules.value_patterns.items():
                hits, sample = con.execute(f"SELECT count(*), any_value({col}) FROM t "
                                           f"WHERE {pii.duckdb_matches(col, pat)}").fetchone()
                if hits:
                    findings.append(f"group/{rel}: {hits} values of {field.name!r} look like {kind} "
                                    f"({pii.mask(sample, rules.free_text_patterns)!r})")
        con.unregister("t")
    return findings


def reconciliation(lake: Lake) -> list[dict]:
    rel = "reconciliation/part-00000.parquet"
    if not lake.exists(layout.GROUP, rel):
        return []
    return pq.read_table(lake.open_input(layout.GROUP, rel)).to_pylist()
