"""Cells of files that leave the lake: text that a spreadsheet would run as a formula is escaped (DESIGN §9).

A spreadsheet runs a cell that starts with `=`, `+`, `-` or `@` (and, in some, a tab or a carriage return)
as a formula, so a text field holding `=HYPERLINK(...)` in a query result or a member list would run on
the reader's machine (CSV injection). Text cells that start so get a leading `'`, which spreadsheets show
as text and do not run; numbers stay numbers (`-5` is a number, not a formula). One rule, in two engines:
`escape` for Python writers, `duckdb_escape` for DuckDB `COPY ... TO` writers, both from `FORMULA_START`.
"""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import json
from collections.abc import Iterable, Sequence
from typing import Any, TextIO

# Characters that make a spreadsheet read a cell as a formula when they come first.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
ESCAPE = "'"


def escape(text: str) -> str:
    """`text` as a cell no spreadsheet runs: a leading `'` when it starts like a formula."""
    return ESCAPE + text if text.startswith(FORMULA_START) else text


def duckdb_escape(expr: str) -> str:
    """A DuckDB SQL expression applying `escape` to the text expression `expr` (NULL stays NULL)."""
    starts = ", ".join(f"chr({ord(c)})" for c in FORMULA_START)
    return f"(CASE WHEN left({expr}, 1) IN ({starts}) THEN '{ESCAPE * 2}' || {expr} ELSE {expr} END)"


def text(value: Any) -> str:
    """A Python value as cell text, not yet escaped: NULL empty, booleans `true`/`false`, dates in ISO 8601."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, list | tuple | dict):
        return json.dumps(value, default=str, ensure_ascii=False)
    return str(value)


def cell(value: Any) -> str:
    """A Python value as a CSV cell: text escaped, numbers as they are."""
    if isinstance(value, int | float | decimal.Decimal) and not isinstance(value, bool):
        return text(value)
    return escape(text(value))


def write_csv(out: TextIO, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    """Write a header and rows as CSV (RFC 4180) with every cell escaped; returns the number of rows."""
    # CRLF as RFC 4180 and spreadsheets have it; it also makes the writer quote a cell holding a bare CR.
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow([escape(str(h)) for h in header])
    n = 0
    for row in rows:
        w.writerow([cell(v) for v in row])
        n += 1
    return n

