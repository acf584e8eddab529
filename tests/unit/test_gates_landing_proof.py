"""The landing gate's proof without Great Expectations (`gates._prove_landing`): when it says every expectation is
met, it says what the GX gate says (same findings, field by field); whatever the GX gate blocks, it declines
to prove, so the GX gate still decides and blocks. And a clean ingest never imports GX."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from expectations import gates
from expectations.gid import gid_ok
from expectations.rules import SharingRules
from ingestion.contracts import load_contracts
from ingestion.engine import ingest
from lake import layout
from lake.storage import Lake
from tests.conftest import drop
from tests.unit import gates_fixture as fx
from tests.unit.test_ingest import CVS_HEADER, GID, GID2

REPO = Path(__file__).resolve().parents[2]
DAY = dt.date(2026, 8, 5)


def cvs_pos() -> object:
    return next(c for c in load_contracts() if c.company == "cvs" and c.feed == "pos")


@pytest.fixture
def rules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> SharingRules:
    """The sharing rules with a volume baseline of any size (the tests' days have 20 rows)."""
    rules = fx.rules_copy(tmp_path, ("min_baseline_rows: 200", "min_baseline_rows: 0"))
    monkeypatch.setenv("LAKE_SHARING_rules", str(rules.path))
    return rules


@pytest.fixture
def landed(lake: Lake, rules: SharingRules) -> Lake:
    """Five weeks of manifests of 20 rows a day, then a usual day of 20 rows landed (the file the tests stage)."""
    fx.daily_manifests(lake, "cvs", "pos", "cvs_pos_{}.csv",
                       {dt.date(2026, 7, 1) + dt.timedelta(days=i): 20 for i in range(35)})
    lines = [CVS_HEADER] + [f"T{i},S{i % 3},{GID if i % 2 else GID2},{DAY:%Y/%m/%d} 10:{i:02d}:00,C1,1,500,現金"
                            for i in range(20)]
    drop(lake, "cvs", "pos", f"cvs_pos_{DAY:%Y%m%d}.csv", ("\r\n".join(lines) + "\r\n").encode("cp932"))
    (row,) = ingest(lake).rows
    assert row.status == "landed" and row.rows_landed == 20
    return lake


def staged_copy(lake: Lake, change=None, rows: int = 20, batch: str = "cvs-pos-new") -> gates.StagedBatch:
    """The landed rows (changed by `change`) as the staged batch of the next week's file, said to hold `rows`."""
    (rel,) = [f for f in lake.list_files("raw-cvs") if f.endswith(".parquet")]
    table = pq.read_table(lake.open_input("raw-cvs", rel))
    table = table.set_column(table.schema.get_field_index("_batch_id"), "_batch_id", pa.array([batch] * len(table)))
    if change is not None:
        table = change(table)
    staged = layout.staging(batch, f"pos/date={DAY}/part-{batch}.parquet")
    with lake.open_output("raw-cvs", staged) as out:
        pq.write_table(table, out)
    return gates.StagedBatch("cvs", "pos", batch, cvs_pos(), [staged], rows, f"{DAY + dt.timedelta(days=7):%Y%m%d}")


def replaced(table: pa.Table, column: str, values: list) -> pa.Table:
    i = table.schema.get_field_index(column)
    return table.set_column(i, column, pa.array(values, table.schema.field(i).type))


def first(column: str, value: object):
    """A change: the first row's `column` becomes `value`."""
    return lambda t: replaced(t, column, [value, *t.column(column).to_pylist()[1:]])


def gx_route(lake: Lake, batch: gates.StagedBatch, rules: SharingRules) -> gates.GateReport:
    """What `check_landing` runs when nothing is proven: the GX contracts, then the GX volume check."""
    report = gates.check_raw(lake, [batch], rules)
    extra, dates = gates._landing_volume_input([batch])
    volume = gates.check_volume(lake, rules, dates=dates, extra=extra)
    report.findings += volume.findings
    return report


def fields(report: gates.GateReport) -> list[tuple]:
    return [dataclasses.astuple(f) for f in report.findings]


def test_proof_says_what_the_gx_gate_says_when_all_is_met(landed: Lake, rules: SharingRules) -> None:
    batch = staged_copy(landed)
    extra, dates = gates._landing_volume_input([batch])
    files = gates._daily_files(landed)
    frame = gates.volume_frame(pa.concat_tables([files, extra.select(files.column_names).cast(files.schema)]),
                               rules, dates)
    assert frame.num_rows == 1  # the volume check has a day to judge
    proven = gates._prove_landing(landed, [batch], rules, frame)
    gx = gx_route(landed, batch, rules)
    assert gx.ok, gx.message()
    assert proven is not None and fields(proven) == fields(gx)
    seen = {(f.rule, f.column, f.rows_checked) for f in proven.findings}
    assert ("gid: Luhn check digit", "gid", 20) in seen and ("volume.min_ratio/max_ratio", "ratio", 1) in seen
    report = gates.check_landing(landed, [batch], rules)
    assert report.ok and report.blocked == [] and fields(report) == fields(gx)


BROKEN = {
    "a null in a required column": first("store_id", None),
    "a gid with a wrong check digit": first("gid", "100000000001"),
    "a gid of full-width digits": first("gid", "１００００００００００８"),
    "a gid of 11 digits": first("gid", "10000000000"),
    "an undeclared column": lambda t: t.append_column("staff_note", pa.array(["x"] * len(t))),
    "a column of another type": lambda t: t.set_column(t.schema.get_field_index("quantity"), "quantity",
                                                       pc.cast(t.column("quantity"), pa.string())),
}


@pytest.mark.parametrize("what", sorted(BROKEN))
def test_whatever_the_gx_gate_blocks_is_not_proven_and_stays_blocked(landed: Lake, rules: SharingRules,
                                                                     what: str) -> None:
    batch = staged_copy(landed, BROKEN[what])
    assert not gx_route(landed, batch, rules).ok  # the GX gate blocks it
    assert gates._prove_landing(landed, [batch], rules, None) is None
    report = gates.check_landing(landed, [batch], rules)
    assert report.blocked == ["cvs-pos-new"] and not report.ok


def test_a_volume_out_of_bounds_is_not_proven_and_stays_blocked(landed: Lake, rules: SharingRules) -> None:
    batch = staged_copy(landed, rows=3)  # 3 rows where the same weekday had 20
    assert gates._prove_landing(landed, [batch], rules, None) is not None  # the rows themselves are fine
    report = gates.check_landing(landed, [batch], rules)
    assert report.blocked == ["cvs-pos-new"]
    assert {f.rule for f in report.failures} == {"volume.min_ratio/max_ratio"}


def test_a_nan_in_a_required_float_column_is_not_proven(lake: Lake, rules: SharingRules) -> None:
    contract = next(c for c in load_contracts() if c.feed == "stores" and c.applies_to("cvs"))
    schema = pa.schema([(c.name, {"float": pa.float64(), "date": pa.date32()}.get(c.type, pa.string()))
                        for c in contract.columns] + [("_line", pa.int64()), ("_batch_id", pa.string())])
    row = {c.name: None for c in contract.columns} | {"company": "cvs", "store_id": "S1", "prefecture": "東京都",
                                                       "lat": 35.6, "lon": 139.7, "_line": 2, "_batch_id": "cvs-st"}
    for lat, proven in ((35.6, True), (float("nan"), False)):
        staged = layout.staging("cvs-st", "stores/snapshot=x/part-cvs-st.parquet")
        with lake.open_output("raw-cvs", staged) as out:
            pq.write_table(pa.Table.from_pylist([row | {"lat": lat}], schema=schema), out)
        batch = gates.StagedBatch("cvs", "stores", "cvs-st", contract, [staged], 1, None)
        assert (gates._prove_landing(lake, [batch], rules, None) is not None) is proven


def test_gid_rule_on_edge_values() -> None:
    values = pa.array([GID, GID2, "100000000001", "10000000000", "1000000000080", " 100000000008", "１２３",
                       "10000000000a", None, ""])
    assert gid_ok(values).tolist() == [True, True, False, False, False, False, False, False, True, False]


def test_a_clean_ingest_records_the_gate_without_importing_great_expectations(lake: Lake) -> None:
    lines = [CVS_HEADER, f"T1,S1,{GID},2026/08/01 10:00:00,C1,1,500,現金"]
    drop(lake, "cvs", "pos", "cvs_pos_20260801.csv", ("\r\n".join(lines) + "\r\n").encode("cp932"))
    code = ("import json, sys\nfrom lake.storage import Lake\nfrom lake.config import LakeConfig\n"
            "from ingestion.engine import ingest\n"
            f"s = ingest(Lake(LakeConfig.resolve({lake.cfg.uri!r})))\n"
            "print(json.dumps([[r.status for r in s.rows], 'great_expectations' in sys.modules]))\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == [["landed"], False]
    results = gates.read_results(lake, "landing_to_raw").to_pylist()
    assert results and all(r["success"] for r in results)
    assert {r["rule"] for r in results} >= {"gid: Luhn check digit", "contract cvs_pos.yml: required"}
