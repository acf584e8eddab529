"""The files an export writes: CSV (for spreadsheets) and Parquet, byte-for-byte the same for the same members.

CSV cells that a spreadsheet would run as a formula (starting with `=`, `+`, `-`, `@`, or a tab or carriage
return that some spreadsheets skip before one) get a leading apostrophe, the usual neutraliser (DESIGN §9). Rows are
sorted by gid before writing, so the bytes depend only on the members and their arms.
"""

from __future__ import annotations

import hashlib
import io

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

FORMULA_START = r"^[=+\-@\t\r]"


def protect_cell(value: str) -> str:
    """One cell as `protect_formulas` writes it (for messages and small inputs)."""
    return protect_formulas(pa.table({"v": [value]}))["v"][0].as_py()


def protect_formulas(table: pa.Table) -> pa.Table:
    """Every string cell that starts like a formula, prefixed with `'` so spreadsheets show it as text."""
    cols = []
    for col in table.columns:
        if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
            risky = pc.fill_null(pc.match_substring_regex(col, FORMULA_START), False)
            if pc.any(risky).as_py():  # the usual case is none: keep the column as it is
                col = pc.if_else(risky, pc.binary_join_element_wise("'", col, ""), col)
        cols.append(col)
    return pa.table(cols, names=table.column_names)


def csv_bytes(table: pa.Table) -> bytes:
    buf = io.BytesIO()
    pacsv.write_csv(protect_formulas(table), buf, pacsv.WriteOptions(quoting_style="needed"))
    return buf.getvalue()


def parquet_bytes(table: pa.Table) -> bytes:
    buf = io.BytesIO()
    pq.write_table(table, buf, compression="zstd")
    return buf.getvalue()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
