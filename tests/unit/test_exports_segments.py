"""Segments: the shipped definitions compile, whose data each rule reads, versions, and the counts after each rule on
small hand-made marts in DuckDB (expected counts worked out by hand from the rows below)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pytest

from exports.export import evaluate
from exports.segments import load_segments, parse_segment
from lake.errors import LakeError

AS_OF = dt.date(2026, 6, 29)


def _segment(tmp_path: Path, body: str, name: str = "seg"):
    path = tmp_path / f"{name}.yml"
    path.write_text(body, encoding="utf-8")
    return parse_segment(path)


def test_shipped_segments_compile_with_owner_purpose_and_reads() -> None:
    by_name = {s.name: s for s in load_segments()}
    assert {"cvs_baby_elsewhere", "churn_risk_multibrand", "movers_near_superstore"} <= set(by_name)
    baby = by_name["cvs_baby_elsewhere"]
    assert (baby.owner, baby.purpose, baby.target_company) == ("cvs", "coupon_campaign", "baby")
    # cvs brands, the baby store (to know who never shopped there), the lines of the companies that share lines
    # other than baby, and hq's master: never e-money
    assert baby.reads == {"hq", "cvs", "baby", "gms", "ec", "sm"}
    assert [r.kind for r in baby.rules] == ["shopped_at", "bought_category", "never_shopped_at", "consented"]
    assert by_name["churn_risk_multibrand"].minimum_size == 200
    assert all("money" not in s.reads for s in by_name.values())
    assert len({s.version for s in by_name.values()}) == len(by_name)


def test_version_follows_the_definition_not_the_wording(tmp_path: Path) -> None:
    base = ("description: {d}\nowner: cvs\npurpose: coupon_campaign\n"
            "rules:\n  - shopped_at: {{company: cvs, within_days: {n}}}\n")
    a = _segment(tmp_path, base.format(d="one", n=90), "a")
    b = _segment(tmp_path, base.format(d="other words", n=90), "b")
    c = _segment(tmp_path, base.format(d="one", n=60), "c")
    assert a.version == b.version != c.version
    assert len(a.version) == 64


def test_attribute_reads_what_the_column_is_made_of(tmp_path: Path) -> None:
    seg = _segment(tmp_path, "description: x\nowner: cvs\npurpose: coupon_campaign\nrules:\n"
                   "  - attribute: {column: is_emoney_user, equals: true}\n  - consented: true\n")
    assert seg.reads == {"hq", "money"}


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        ("  - shopped_at: {company: nosuch}\n", "'nosuch' is not a company with that data"),
        ("  - shopped_at: {company: money}\n", "'money' is not a company with that data"),  # no receipts shared
        ("  - bought_category: {category: baby, at: [dept]}\n", "'dept' is not a company with that data"),  # no lines
        ("  - frobnicate: {x: 1}\n", "unknown rule 'frobnicate'"),
        ("  - churn_risk: {max_p_alive: 2}\n", "invalid value 2"),
        ("  - churn_risk: {max_p_alive: 0.5, extra: 1}\n", "does not take ['extra']"),
        ("  - attribute: {column: email, equals: x}\n", "'email' is not a dim_members column"),
        ("  - moved: {}\n", "needs `within_days`"),
    ],
)
def test_mistakes_name_the_file_and_rule(tmp_path: Path, rules: str, message: str) -> None:
    with pytest.raises(LakeError) as e:
        _segment(tmp_path, "description: x\nowner: cvs\npurpose: coupon_campaign\nrules:\n" + rules)
    assert message in e.value.what and "seg.yml, rule 1" in e.value.what


def test_unknown_owner_or_purpose_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(LakeError, match="owner 'nosuch'"):
        _segment(tmp_path, "description: x\nowner: nosuch\npurpose: coupon_campaign\nrules: [{consented: true}]\n")
    with pytest.raises(LakeError, match="purpose 'spam'"):
        _segment(tmp_path, "description: x\nowner: cvs\npurpose: spam\nrules: [{consented: true}]\n")


@pytest.fixture
def marts() -> duckdb.DuckDBPyConnection:
    """Six members; the views carry the mart names (as the analyst connection does)."""
    con = duckdb.connect()
    con.execute("""
        create table _m as select * from (values
            ('g1', true), ('g2', true), ('g3', false), ('g4', true), ('g5', true), ('g6', true)
        ) t(gid, has_marketing_consent);
        create table _b as select gid, company, last_purchase_date::date as last_purchase_date from (values
            ('g1', 'cvs', '2026-06-19'), ('g1', 'gms', '2026-06-01'),
            ('g2', 'cvs', '2026-06-29'), ('g2', 'baby', '2026-06-01'),
            ('g3', 'cvs', '2026-06-25'),
            ('g4', 'cvs', '2026-01-05'),
            ('g5', 'cvs', '2026-06-28'), ('g5', 'ec', '2026-06-28'),
            ('g6', 'gms', '2026-06-28')
        ) t(gid, company, last_purchase_date);
        create table _c as select gid, company, category, last_purchase_date::date as last_purchase_date from (values
            ('g1', 'gms', 'baby', '2026-06-01'), ('g2', 'gms', 'baby', '2026-06-01'),
            ('g3', 'ec', 'baby', '2026-06-20'), ('g4', 'gms', 'baby', '2026-06-01'),
            ('g5', 'ec', 'baby', '2026-01-01'), ('g6', 'gms', 'baby', '2026-06-10')
        ) t(gid, company, category, last_purchase_date);
        create view dim_members as select * from _m;
        create view fct_member_brands as select * from _b;
        create view fct_member_categories as select * from _c;
    """)
    return con


def test_counts_after_each_rule(marts: duckdb.DuckDBPyConnection) -> None:
    seg = next(s for s in load_segments() if s.name == "cvs_baby_elsewhere")
    ev = evaluate(marts, seg)
    assert ev.as_of == AS_OF  # the last purchase day in the marts
    # cvs in 90 days: g1 g2 g3 g5 (g4's cvs purchase is too old); baby items outside baby in 90 days: g1 g2 g3
    # (g5's are too old); never at baby: g1 g3; consent: g1
    assert [n for _, n in ev.funnel] == [6, 4, 3, 2, 1]
    assert ev.members["gid"].to_pylist() == ["g1"]
    assert ev.consent.to_pylist() == [True]


def test_brand_counts_windows_and_absence(marts: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    seg = _segment(tmp_path, "description: x\nowner: cvs\npurpose: coupon_campaign\nrules:\n"
                   "  - shopped_at: {at_least: 2, within_days: 60}\n")
    assert evaluate(marts, seg).members["gid"].to_pylist() == ["g1", "g2", "g5"]  # cvs+gms, cvs+baby, cvs+ec
    seg = _segment(tmp_path, "description: x\nowner: cvs\npurpose: coupon_campaign\nrules:\n"
                   "  - never_shopped_at: {company: cvs}\n")
    assert evaluate(marts, seg).members["gid"].to_pylist() == ["g6"]


def test_without_the_consent_rule_the_non_consented_stay_in(marts: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    # "within 10 days" of 2026-06-29 means after 2026-06-19: g1's last purchase that day is out
    seg = _segment(tmp_path, "description: x\nowner: cvs\npurpose: coupon_campaign\nrules:\n"
                   "  - shopped_at: {at_least: 1, within_days: 10}\n")
    ev = evaluate(marts, seg)
    assert ev.members["gid"].to_pylist() == ["g2", "g3", "g5", "g6"]
    assert ev.consent.to_pylist() == [True, False, True, True]  # the export's consent rule sees g3
