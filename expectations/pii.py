"""The PII patterns of the sharing rules, compiled for every engine, after Unicode NFKC normalisation.

The patterns live in `sharing_rules.yml` (`pii.free_text_patterns`, `pii.value_patterns`) and are ASCII
only (`rules.py` refuses anything else), so what NFKC does to a character matters only when the result
holds ASCII: full-width `０９０－１２３４` or `ｔａｒｏ＠ｅｘａｍｐｌｅ．ｊｐ` must match like their ASCII forms.
Neither DuckDB nor Spark SQL has NFKC, so the one definition below is generated from Python's
`unicodedata` (every code point whose NFKC form contains ASCII) and compiled to each engine:

- **single-character folds** (`Ａ`→`A`, `０`→`0`, `＠`→`@`, `①`→`1`, `𝐀`→`A`: about 1,100) become
  `translate(text, from, to)`;
- **multi-character expansions** (`⑩`→`10`, `ﬁ`→`fi`, `℡`→`TEL`, `⒈`→`1.`: about 540) matter too: a
  circled ten inside a phone number or a ligature inside an e-mail address still spells PII.

Spark gets `translate(text, from, to)` for the 1:1 folds and a per-character map lookup for the
expansions, the latter only on the rare values that hold one. DuckDB's translate() is slow with a
mapping this long, so DuckDB tests each value against a character class of every folding character
(RE2, at scan speed) and hands only those values to Python's NFKC (a vectorised function).

Python sees text in full: `nfkc()` is `unicodedata.normalize('NFKC', ...)`. The result differs from the
engines' folding only on characters whose NFKC form is not ASCII (kana, composed accents), which no
ASCII pattern can match either way. `tests/unit/pii_cases.py` holds the cases every engine is tested on.
"""

from __future__ import annotations

import contextlib
import re
import sys
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import duckdb
    from pyspark.sql import Column

# Regex escapes whose meaning differs between RE2 (DuckDB, Arrow), Java (Spark) and Python's re
# (Unicode digits and word characters): the rules must spell classes out, e.g. `[0-9]` for `\d`.
ENGINE_DEPENDENT = re.compile(r"\\[dDwWsSbBpPXRhHvV]|\(\?[a-zA-Z<]|\[\[:")


@dataclass(frozen=True)
class Folds:
    """The NFKC folds that matter to ASCII patterns."""

    source: str  # single characters ...
    target: str  # ... and what each becomes (same length)
    expansions: tuple[tuple[str, str], ...]  # (character, the several characters it becomes)

    @property
    def expansion_chars(self) -> str:
        return "".join(c for c, _ in self.expansions)


@cache
def folds() -> Folds:
    """Every code point whose NFKC form contains ASCII, split into 1:1 folds and expansions."""
    src, dst, exp = [], [], []
    for cp in range(0x80, sys.maxunicode + 1):
        if 0xD800 <= cp <= 0xDFFF:  # surrogates are not characters
            continue
        c = chr(cp)
        n = unicodedata.normalize("NFKC", c)
        if n == c or not any(ord(x) < 0x80 for x in n):
            continue
        if len(n) == 1:
            src.append(c)
            dst.append(n)
        else:
            exp.append((c, n))
    return Folds("".join(src), "".join(dst), tuple(exp))


def check_pattern(kind: str, pattern: str) -> str | None:
    """Why a rules pattern cannot be compiled alike for every engine, or None when it can."""
    if any(ord(c) >= 0x80 for c in pattern):
        return f"pattern {kind!r} has non-ASCII characters (text is NFKC-normalised first: write the ASCII form)"
    if m := ENGINE_DEPENDENT.search(pattern):
        return f"pattern {kind!r} uses {m.group(0)!r}, which engines read differently (spell the class out)"
    try:
        re.compile(pattern)
    except re.error as e:
        return f"pattern {kind!r} is not a regular expression: {e}"
    return None


def _lit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _class(chars: str) -> str:
    """A regex character class of literal characters (all non-ASCII here, so nothing needs escaping)."""
    return "[" + "".join(chars) + "]"


# --- Python -------------------------------------------------------------------------------------

def nfkc(text: str) -> str:
    return unicodedata.normalize("NFKC", text)


def find_kinds(text: str | None, patterns: Mapping[str, str]) -> list[str]:
    """Kinds of PII in `text` after NFKC."""
    if not text:
        return []
    n = nfkc(text)
    return [kind for kind, pat in patterns.items() if re.search(pat, n)]


def redact(text: str, patterns: Mapping[str, str]) -> tuple[str, list[str]]:
    """`text` with every hit replaced by `[kind]` (NFKC-normalised when it had one), and the kinds found."""
    n = nfkc(text)
    found = []
    for kind, pat in patterns.items():
        n, hits = re.subn(pat, f"[{kind}]", n)
        if hits:
            found.append(kind)
    return (n if found else text), found


def mask(value: object, patterns: Mapping[str, str]) -> str:
    """A value fit for a message or a report: PII hits replaced by `[kind]`, long values cut."""
    text = "null" if value is None else str(value)
    text = redact(text, patterns)[0]
    return text if len(text) <= 60 else text[:57] + "..."


# --- DuckDB -------------------------------------------------------------------------------------

UDF = "lake_nfkc"


def _nfkc_arrow(values):  # a vectorised DuckDB UDF: one call per vector of candidate values
    import pyarrow as pa

    return pa.array([None if v is None else nfkc(v) for v in values.to_pylist()], pa.string())


def duckdb_register(con: duckdb.DuckDBPyConnection) -> None:
    """Give a DuckDB connection the NFKC function the SQL below calls (idempotent)."""
    import duckdb

    with contextlib.suppress(duckdb.NotImplementedException):  # already registered on this connection
        con.create_function(UDF, _nfkc_arrow, [duckdb.sqltype("VARCHAR")], duckdb.sqltype("VARCHAR"),
                            type="arrow", null_handling="special", side_effects=False)


def duckdb_nfkc(expr: str) -> str:
    """DuckDB SQL for `expr` after NFKC (the connection needs `duckdb_register`).

    Python's own NFKC runs only on values holding a character NFKC turns into ASCII: an RE2 class of
    those characters tests that at scan speed. (DuckDB's translate() with this mapping costs about half
    a millisecond a value, and 540 nested replace() calls overwhelm its planner.) An all-ASCII value
    (as many bytes as characters) is its own NFKC form and skips even the class, a seventh of its cost:
    most values in the lake are IDs and codes.
    """
    f = folds()
    return (f"(CASE WHEN strlen({expr}) = length({expr}) THEN {expr} "
            f"WHEN regexp_matches({expr}, {_lit(_class(f.source + f.expansion_chars))}) "
            f"THEN {UDF}({expr}) ELSE {expr} END)")


def duckdb_matches(expr: str, pattern: str) -> str:
    """DuckDB SQL: true when `expr`, NFKC-folded, contains a match of `pattern`."""
    return f"regexp_matches({duckdb_nfkc(expr)}, {_lit(pattern)})"


def duckdb_redact(expr: str, patterns: Mapping[str, str]) -> str:
    """DuckDB SQL: `expr` with PII replaced by `[kind]` (folded text where there was a hit, else unchanged)."""
    folded = duckdb_nfkc(expr)
    out = folded
    for kind, pat in patterns.items():
        out = f"regexp_replace({out}, {_lit(pat)}, {_lit('[' + kind + ']')}, 'g')"
    anyhit = " OR ".join(f"regexp_matches({folded}, {_lit(p)})" for p in patterns.values()) or "false"
    return f"(CASE WHEN {anyhit} THEN {out} ELSE {expr} END)"


def duckdb_kinds(expr: str, patterns: Mapping[str, str]) -> list[str]:
    """DuckDB SQL expressions, one per kind: the kind's name when `expr` holds it, else NULL."""
    return [f"CASE WHEN {duckdb_matches(expr, pat)} THEN {_lit(kind)} END" for kind, pat in patterns.items()]


# --- Spark --------------------------------------------------------------------------------------

def spark_nfkc(col: Column) -> Column:
    """A Spark column folded as NFKC folds it (for ASCII patterns); built-in functions only.

    Spark's translate() is cheap, so every value gets the 1:1 folds. Expansions (a map lookup per
    character) run only where translate(value, expansion characters, '') shortens the value: a Java regex with a class
    of 540 characters would cost more than the whole scan.
    """
    from pyspark.sql import functions as F

    f = folds()
    # One map lookup per character: nested replace() calls, one per expansion, overflow Spark's analyser.
    table = F.create_map(*[F.lit(x) for pair in f.expansions for x in pair])
    expanded = F.array_join(F.transform(F.split(col, ""), lambda ch: F.coalesce(table[ch], ch)), "")
    has_expansion = F.length(F.translate(col, f.expansion_chars, "")) < F.length(col)
    return F.translate(F.when(has_expansion, expanded).otherwise(col), f.source, f.target)


def spark_matches(col: Column, pattern: str) -> Column:
    """True when the column, NFKC-folded, contains a match of `pattern` (Java regex, same pattern)."""
    return spark_nfkc(col).rlike(pattern)


def spark_redact(col: Column, patterns: Mapping[str, str]) -> Column:
    """The column with PII replaced by `[kind]` (folded text where there was a hit, else unchanged)."""
    from pyspark.sql import functions as F

    folded = spark_nfkc(col)
    out = folded
    for kind, pat in patterns.items():
        out = F.regexp_replace(out, pat, f"[{kind}]")
    anyhit = F.lit(False)
    for pat in patterns.values():
        anyhit = anyhit | folded.rlike(pat)
    return F.when(anyhit, out).otherwise(col)
