"""Contracts load, cover every extract of DESIGN §3, and the gid check digit rule is right."""

from __future__ import annotations

import duckdb
import pytest

from expectations.rules import load_rules
from ingestion.contracts import find_contract, load_contracts
from ingestion.validate import luhn_ok_sql, session_setup

EXPECTED = {
    ("cvs", "pos"), ("gms", "sales"), ("dept", "receipts"), ("diner", "checks"), ("sm", "sales"),
    ("sm", "id_links"), ("baby", "sales"), ("ec", "orders"), ("app", "events"), ("money", "txns"),
    ("hq", "members"), ("hq", "campaigns"), ("hq", "campaign_assignments"), ("any", "stores"),
    ("any", "categories"),
}


def test_every_extract_has_a_contract():
    got = {(c.company, c.feed) for c in load_contracts()}
    assert got == EXPECTED


def test_contract_companies_are_in_the_sharing_rules():
    companies = set(load_rules().companies)
    for c in load_contracts():
        assert c.company == "any" or c.company in companies


@pytest.mark.parametrize(
    ("company", "feed", "name", "found"),
    [
        ("cvs", "pos", "cvs_pos_20260801.csv", True),
        ("cvs", "pos", "cvs_pos_20260801_resend.csv", False),
        ("gms", "stores", "stores.csv", True),
        ("app", "events", "app_events_20260801.jsonl.gz", True),
        ("app", "events", "app_events_20260801.jsonl", False),
    ],
)
def test_file_names_select_contracts(company, feed, name, found):
    assert (find_contract(load_contracts(), company, feed, name) is not None) is found


def luhn_py(payload: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(payload)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            d -= 9 if d > 9 else 0
        total += d
    return payload + str((10 - total % 10) % 10)


@pytest.mark.parametrize("payload", ["10000000000", "12345678901", "99999999999", "00000000001", "31415926535"])
def test_luhn_sql_accepts_valid_and_rejects_every_wrong_check_digit(payload):
    good = luhn_py(payload)
    con = duckdb.connect()
    session_setup(con)
    sql = f"SELECT {luhn_ok_sql('n')} FROM (SELECT CAST(? AS BIGINT) AS n)"
    assert con.execute(sql, [good]).fetchone()[0] is True
    for d in "0123456789":
        if d != good[-1]:
            assert con.execute(sql, [payload + d]).fetchone()[0] is False
