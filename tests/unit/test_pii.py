"""PII patterns after NFKC in Python and DuckDB, on the shared cases (the Spark ones: test_pii_spark.py)."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import duckdb
import pytest

from expectations import pii
from expectations.rules import load_rules
from lake.config import SHARING_RULES
from lake.errors import LakeError
from tests.unit.pii_cases import CASES

RULES = load_rules()


def test_folds_cover_full_width_and_expansions() -> None:
    f = pii.folds()
    fold = dict(zip(f.source, f.target, strict=True))
    assert fold["０"] == "0" and fold["＠"] == "@" and fold["－"] == "-" and fold["ｊ"] == "j"
    assert dict(f.expansions)["⑩"] == "10" and dict(f.expansions)["℡"] == "TEL"
    # every entry is what NFKC says, and nothing NFKC turns into ASCII is missing
    assert all(unicodedata.normalize("NFKC", c) == t for c, t in zip(f.source, f.target, strict=True))
    assert {c for c, _ in f.expansions}.isdisjoint(f.source)
    for c in "ＡＺａｚ０９＠．－＿％＋①⑳ﬁ㎏𝐀":
        assert c in f.source or c in f.expansion_chars, c


@pytest.mark.parametrize(("text", "free", "value", "redacted"), CASES)
def test_python(text, free, value, redacted) -> None:
    assert pii.find_kinds(text, RULES.free_text_patterns) == free
    assert pii.find_kinds(text, RULES.value_patterns) == value
    if text is not None and redacted is not None:
        assert RULES.redact(text) == (redacted, free)


def test_duckdb_same_cases() -> None:
    con = duckdb.connect()
    pii.duckdb_register(con)
    con.execute("CREATE TABLE c (i INTEGER, s VARCHAR)")
    con.executemany("INSERT INTO c VALUES (?, ?)", [[i, case[0]] for i, case in enumerate(CASES)])
    free = pii.duckdb_kinds("s", RULES.free_text_patterns)
    value = pii.duckdb_kinds("s", RULES.value_patterns)
    rows = con.execute(
        f"SELECT i, list_filter([{', '.join(free)}], x -> x IS NOT NULL), "
        f"list_filter([{', '.join(value)}], x -> x IS NOT NULL), "
        f"{pii.duckdb_redact('s', RULES.free_text_patterns)} FROM c ORDER BY i").fetchall()
    for (_i, got_free, got_value, got_redacted), (text, want_free, want_value, want_redacted) in zip(
            rows, CASES, strict=True):
        assert (got_free, got_value) == (want_free, want_value), text
        if want_redacted is not None:
            assert got_redacted == want_redacted, text


def test_mask_hides_pii_in_messages() -> None:
    assert pii.mask("call ０９０－１２３４－５６７８", RULES.free_text_patterns) == "call [phone]"
    assert pii.mask(None, RULES.free_text_patterns) == "null"
    assert len(pii.mask("x" * 500, RULES.free_text_patterns)) == 60


@pytest.mark.parametrize("pattern", [r"0\d{1,4}-?\d{4}", r"\w+@\w+", "０[0-9]+", r"(?i)tel"])
def test_rules_refuse_patterns_engines_read_differently(tmp_path: Path, pattern: str) -> None:
    text = SHARING_RULES.read_text(encoding="utf-8").replace(
        "phone: '0[0-9]{1,4}-?[0-9]{1,4}-?[0-9]{3,4}'", f"phone: '{pattern}'")
    assert pattern in text
    changed = tmp_path / "rules.yml"
    changed.write_text(text, encoding="utf-8")
    with pytest.raises(LakeError, match="pattern 'phone'"):
        load_rules(changed)


def test_contracts_cannot_keep_a_second_pii_list(tmp_path: Path) -> None:
    from ingestion.contracts import load_contract

    src = (SHARING_RULES.parent.parent / "ingestion" / "contracts" / "hq_members.yml").read_text(encoding="utf-8")
    bad = tmp_path / "hq_members.yml"
    bad.write_text(src.replace("{name: email, source: email, type: string}",
                               "{name: email, source: email, type: string, pii: true}"), encoding="utf-8")
    assert "pii: true" in bad.read_text(encoding="utf-8")
    with pytest.raises(LakeError, match=r"pii\.columns"):
        load_contract(bad)
