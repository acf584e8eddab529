"""The export rules (exports/rules.py), the holdout split and the files, without a lake."""

from __future__ import annotations

import hashlib
import io
import math

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

from expectations.rules import load_rules
from exports import files, holdout
from exports import rules as r

RULES = load_rules()


def _table(n: int, holdout_every: int = 0, extra: dict | None = None) -> pa.Table:
    groups = ["control" if holdout_every and i % holdout_every == 0 else "treatment" for i in range(n)]
    cols = {"gid": [f"{i:012d}" for i in range(n)], "campaign_id": ["C1"] * n, "assigned_group": groups,
            **(extra or {})}
    return pa.table(cols)


def _req(**kw) -> r.Request:
    base = {"segment": "s", "company": "cvs", "purpose": "coupon_campaign", "reads": frozenset({"hq", "cvs"}),
            "segment_minimum": None, "holdout_share": 0.1}
    return r.Request(**{**base, **kw})


def _failed(checks: list[r.Check]) -> dict[str, r.Check]:
    return {c.rule: c for c in checks if not c.ok}


def test_an_allowed_export_passes_every_rule_in_order() -> None:
    checks = r.check_export(_table(200, 10), pa.array([True] * 200), _req(), RULES)
    assert [c.rule for c in checks] == list(r.ORDER)
    assert all(c.ok for c in checks), [c.line() for c in checks]


def test_minimum_is_the_strictest_rule() -> None:
    assert RULES.segment_export_min == 100 and RULES.aggregate_cell_k == 10
    assert r.minimum_size(RULES, None)[0] == 100
    assert r.minimum_size(RULES, 500)[0] == 500
    assert r.minimum_size(RULES, 5)[0] == 100  # a segment cannot ask for less than the rules
    failed = _failed(r.check_export(_table(99, 10), pa.array([True] * 99), _req(), RULES))
    assert set(failed) == {"minimum_size"}
    assert failed["minimum_size"].numbers["members"] == 99 and failed["minimum_size"].numbers["minimum"] == 100
    failed = _failed(r.check_export(_table(300, 10), pa.array([True] * 300), _req(segment_minimum=500), RULES))
    assert "300 members, below the minimum of 500" in failed["minimum_size"].detail


def test_non_consented_members_refuse_the_export() -> None:
    consent = pa.array([True] * 190 + [False] * 7 + [None] * 3)
    failed = _failed(r.check_export(_table(200, 10), consent, _req(), RULES))
    assert set(failed) == {"consent"}
    assert failed["consent"].numbers == {"members": 200, "without_consent": 10}
    assert "consented: true" in failed["consent"].fix


def test_purpose_data_names_the_forbidden_company_and_a_purpose_that_allows_it() -> None:
    failed = _failed(r.check_request(_req(reads=frozenset({"hq", "cvs", "money"})), RULES))
    assert set(failed) == {"purpose_data"}
    assert failed["purpose_data"].numbers["forbidden"] == ["money"]
    assert "programme_measurement" in failed["purpose_data"].fix
    assert not _failed(r.check_request(_req(reads=frozenset({"hq", "money"}), purpose="programme_measurement"), RULES))


def test_unknown_company_and_purpose() -> None:
    failed = _failed(r.check_request(_req(company="nosuch", purpose="spam"), RULES))
    assert set(failed) == {"company", "purpose"}  # purpose_data cannot be judged for an unknown purpose
    assert "cvs" in failed["company"].fix and "coupon_campaign" in failed["purpose"].fix


def test_only_allowed_columns_leave() -> None:
    assert RULES.export_columns == ("gid", "campaign_id", "assigned_group")
    table = _table(200, 10, {"registered_prefecture": ["東京都"] * 200})
    failed = _failed(r.check_export(table, pa.array([True] * 200), _req(), RULES))
    assert set(failed) == {"columns"} and failed["columns"].numbers["not_allowed"] == ["registered_prefecture"]


def test_arms_below_k() -> None:
    failed = _failed(r.check_export(_table(200, 25), pa.array([True] * 200), _req(), RULES))  # 8 held out
    assert set(failed) == {"arm_size"} and failed["arm_size"].numbers["control"] == 8
    assert failed["arm_size"].fix.startswith("raise --holdout")
    # without a holdout only the treatment arm counts
    assert not _failed(r.check_export(_table(200, 0), pa.array([True] * 200), _req(holdout_share=0.0), RULES))


# --- holdout ----------------------------------------------------------------------------------------------------

def _reference_draw(gid: str, campaign_id: str) -> float:
    """The documented definition, in plain Python integers: SplitMix64 finaliser of gid XOR seed."""
    mask = (1 << 64) - 1
    x = int(gid) ^ int.from_bytes(hashlib.sha256(campaign_id.encode()).digest()[:8], "big")
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & mask
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & mask
    x ^= x >> 31
    return (x >> 11) / 2**53


def _gids(n: int, seed: int = 1) -> pa.Array:
    rng = np.random.default_rng(seed)
    return pa.array([f"{g:012d}" for g in rng.choice(10**12, n, replace=False)])


def test_draws_follow_the_definition() -> None:
    gids = _gids(500)
    got = holdout.draws(gids, "CMP-X")
    want = [_reference_draw(g, "CMP-X") for g in gids.to_pylist()]
    assert got.tolist() == want


def test_split_is_deterministic_order_free_and_near_its_share() -> None:
    n, share = 200_000, 0.1
    gids = _gids(n)
    a = holdout.assign(gids, "CMP-A", share)
    again = holdout.assign(gids, "CMP-A", share)
    assert a.equals(again)
    perm = np.random.default_rng(2).permutation(n)
    shuffled = holdout.assign(gids.take(pa.array(perm)), "CMP-A", share)
    assert shuffled.equals(a.take(pa.array(perm)))  # a member's arm does not depend on who else is in the segment
    held = a.to_numpy(zero_copy_only=False) == "control"
    sd = math.sqrt(n * share * (1 - share))  # binomial: 134 members
    assert abs(held.sum() - n * share) <= 4 * sd, held.sum()
    other = holdout.assign(gids, "CMP-B", share).to_numpy(zero_copy_only=False) == "control"
    both = (held & other).sum()  # independent campaigns: about share^2 of members held out of both
    assert abs(both - n * share * share) <= 4 * math.sqrt(n * share * share), both


@pytest.mark.parametrize("share", [0.02, 0.5])
def test_other_shares_too(share: float) -> None:
    n = 50_000
    held = (holdout.assign(_gids(n, 3), "CMP-S", share).to_numpy(zero_copy_only=False) == "control").sum()
    assert abs(held - n * share) <= 4 * math.sqrt(n * share * (1 - share))


def test_holdout_share_must_be_a_share() -> None:
    from lake.errors import LakeError

    with pytest.raises(LakeError):
        holdout.assign(_gids(10), "C", 1.0)


# --- files ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("cell", "written"),
    [("=HYPERLINK(\"x\")", "'=HYPERLINK(\"x\")"), ("+1+2", "'+1+2"), ("-2+3", "'-2+3"), ("@SUM(A1)", "'@SUM(A1)"),
     ("\t=1", "'\t=1"), ("\r=1", "'\r=1"), ("123456789012", "123456789012"), ("a=b", "a=b"), ("", "")],
)
def test_formula_cells_are_neutralised(cell: str, written: str) -> None:
    assert files.protect_cell(cell) == written


def test_csv_reads_back_as_text_and_is_deterministic() -> None:
    table = pa.table({"gid": ["000000000001", "000000000002"], "campaign_id": ["C1", "C1"],
                      "assigned_group": ["=cmd|' /C calc'!A0", "treatment"]})
    data = files.csv_bytes(table)
    assert data == files.csv_bytes(table)
    back = pacsv.read_csv(io.BytesIO(data), convert_options=pacsv.ConvertOptions(column_types={"gid": pa.string()}))
    assert back["assigned_group"].to_pylist() == ["'=cmd|' /C calc'!A0", "treatment"]
    assert back["gid"].to_pylist() == ["000000000001", "000000000002"]  # leading zeros kept
    assert files.sha256(files.parquet_bytes(table)) == files.sha256(files.parquet_bytes(table))
