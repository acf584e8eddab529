"""Formula-looking cells are escaped in files that leave the lake, the same way in Python and in DuckDB."""

from __future__ import annotations

import csv
import decimal
import io

import duckdb
import pytest

from lake.safe_csv import cell, duckdb_escape, escape, write_csv

CASES = [
    ("=HYPERLINK(\"http://evil\",\"click\")", "'=HYPERLINK(\"http://evil\",\"click\")"),
    ("+81 90 1234 5678", "'+81 90 1234 5678"),
    ("-2+3", "'-2+3"),
    ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
    ("\t=1", "'\t=1"),
    ("\r=1", "'\r=1"),
    ("plain", "plain"),
    ("a=b", "a=b"),
    (" =1", " =1"),  # not at the start
    ("'already", "'already"),
    ("", ""),
    ("東京都", "東京都"),
]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_escape(text: str, expected: str) -> None:
    assert escape(text) == expected


def test_duckdb_escape_is_the_same_rule() -> None:
    con = duckdb.connect()
    con.execute("create table t (i int, v varchar)")
    con.executemany("insert into t values (?, ?)", [[i, t] for i, (t, _) in enumerate(CASES)] + [[len(CASES), None]])
    got = con.execute(f"select {duckdb_escape('v')} from t order by i").fetchall()
    assert [g[0] for g in got] == [e for _, e in CASES] + [None]


def test_numbers_stay_numbers_text_is_escaped() -> None:
    assert [cell(v) for v in (-5, -2.5, decimal.Decimal("-1.50"), 0, True, None)] == [
        "-5", "-2.5", "-1.50", "0", "true", ""]
    assert [cell(v) for v in ("-5", "=1", ["=x"])] == ["'-5", "'=1", '["=x"]']


def test_write_csv_gives_a_spreadsheet_no_formula() -> None:
    out = io.StringIO()
    rows = [(text, i, -i) for i, (text, _) in enumerate(CASES)]
    assert write_csv(out, ["=note", "n", "minus"], rows) == len(CASES)
    back = list(csv.reader(io.StringIO(out.getvalue())))
    assert back[0] == ["'=note", "n", "minus"]
    assert [r[0] for r in back[1:]] == [e for _, e in CASES]
    assert [r[2] for r in back[1:]] == [str(-i) for i in range(len(CASES))]  # numbers untouched
    text_cells = [r[0] for r in back[1:]]
    assert not any(c.startswith(("=", "+", "-", "@", "\t", "\r")) for c in text_cells)
