"""The hash-chained ledger names a removed, altered or reordered record."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

from lake.config import LakeConfig
from lake.ledger import Ledger
from lake.storage import Lake


@pytest.fixture
def ledger(tmp_path: Path) -> Ledger:
    lake = Lake(LakeConfig.resolve(str(tmp_path / "lake")))
    led = Ledger(lake, "ops", "audit/exports")
    for i in range(5):
        led.append({"event": "export", "n": i})
    return led


def _file(led: Ledger, seq: int) -> Path:
    return Path(led.lake.path(led.zone, f"{led.prefix}/{seq:012d}.json"))


def test_intact_ledger_verifies_and_chains(ledger: Ledger):
    recs = list(ledger.records())
    assert [r["n"] for r in recs] == [0, 1, 2, 3, 4]
    assert [r["seq"] for r in recs] == [0, 1, 2, 3, 4]
    assert all(b["prev_hash"] == a["hash"] for a, b in itertools.pairwise(recs))
    assert ledger.verify() == []
    # a second handle on the same ledger continues the chain where the first left it
    again = Ledger(ledger.lake, ledger.zone, ledger.prefix)
    assert again.append({"event": "export", "n": 5})["seq"] == 5
    assert again.verify(expect_at_least=5) == []


def test_removed_record_is_named(ledger: Ledger):
    _file(ledger, 2).unlink()
    problems = ledger.verify()
    assert any("records 2..2 are missing" in p for p in problems)


def test_altered_record_is_named(ledger: Ledger):
    path = _file(ledger, 1)
    rec = json.loads(path.read_text())
    rec["n"] = 99
    path.write_text(json.dumps(rec))
    problems = ledger.verify()
    assert len(problems) == 1 and "000000000001.json: content does not match its hash" in problems[0]


def test_record_rewritten_with_a_fresh_hash_breaks_the_next_link(ledger: Ledger):
    from lake.ledger import record_hash

    path = _file(ledger, 3)
    rec = json.loads(path.read_text())
    rec["n"] = 99
    rec["hash"] = record_hash(rec)  # a careful forger recomputes the record's own hash
    path.write_text(json.dumps(rec))
    problems = ledger.verify()
    assert len(problems) == 1 and "000000000004.json: does not follow the record before it" in problems[0]


def test_removed_tail_needs_the_known_head(ledger: Ledger):
    _file(ledger, 4).unlink()
    assert ledger.verify() == []  # the chain alone cannot tell
    assert "the newest records were removed" in ledger.verify(expect_at_least=4)[0]


def test_append_never_overwrites(ledger: Ledger):
    stale = Ledger(ledger.lake, ledger.zone, ledger.prefix)
    stale.head()
    ledger.append({"event": "export", "n": 5})
    with pytest.raises(FileExistsError, match="another writer appended"):
        stale.append({"event": "export", "n": 6})
    assert ledger.verify() == []
    with pytest.raises(ValueError, match="may not set"):
        ledger.append({"seq": 3})


def test_create_bytes_is_exclusive_locally(tmp_path: Path):
    lake = Lake(LakeConfig.resolve(str(tmp_path / "lake")))
    lake.create_bytes("ops", "a/b.json", b"1")
    with pytest.raises(FileExistsError):
        lake.create_bytes("ops", "a/b.json", b"2")
    assert lake.read_bytes("ops", "a/b.json") == b"1"
    assert [p.name for p in (tmp_path / "lake" / "ops" / "a").iterdir()] == ["b.json"]  # no temporary left


def test_records_in_sub_folders_are_not_the_ledgers(ledger: Ledger):
    Ledger(ledger.lake, ledger.zone, f"{ledger.prefix}/other").append({"event": "elsewhere"})
    assert [r["n"] for r in ledger.records()] == [0, 1, 2, 3, 4]
    assert ledger.verify() == []


# --- every ledger of the lake (`verify_all`, `lake ledgers`) ---------------------------------------


@pytest.fixture
def lake_with_ledgers(tmp_path: Path) -> Lake:
    from lake import layout

    lake = Lake(LakeConfig.resolve(str(tmp_path / "lake2")))
    for prefix in (layout.MANIFESTS, layout.EXPORT_AUDIT, "other/records"):  # the last one: not in layout
        led = Ledger(lake, "ops", prefix)
        for i in range(3):
            led.append({"event": prefix, "n": i})
    lake.write_bytes("ops", "runs/stage=ingest/date=2026-08-01/r1.parquet", b"not a ledger")
    return lake


def _reports(lake: Lake, **kw) -> dict:
    from lake.ledger import verify_all

    return {r.name: r for r in verify_all(lake, **kw)}


def test_verify_all_finds_every_ledger_intact(lake_with_ledgers: Lake):
    reports = _reports(lake_with_ledgers)
    assert set(reports) == {"ingest manifests", "export audit log", "other/records"}
    assert all(r.records == 3 and r.head == 2 and r.problems == [] for r in reports.values())


def test_verify_all_names_the_removed_and_the_altered_record(lake_with_ledgers: Lake):
    from lake import layout

    lake = lake_with_ledgers
    Path(lake.path("ops", f"{layout.MANIFESTS}/000000000001.json")).unlink()
    audit = Path(lake.path("ops", f"{layout.EXPORT_AUDIT}/000000000000.json"))
    audit.write_text(json.dumps({**json.loads(audit.read_text()), "n": 7}))  # altered, its hash kept
    reports = _reports(lake)
    manifests, log = reports["ingest manifests"].problems, reports["export audit log"].problems
    # the gap is named, and the record after it no longer follows the one before
    assert manifests[0] == f"{lake.uri('ops', layout.MANIFESTS)}/000000000002.json: records 1..1 are missing (removed)"
    assert len(manifests) == 2 and "000000000002.json: does not follow the record before it" in manifests[1]
    assert len(log) == 1 and "000000000000.json: content does not match its hash (altered)" in log[0]
    assert reports["other/records"].problems == []


def test_verify_all_catches_removed_newest_records_with_the_owners_head(lake_with_ledgers: Lake):
    from lake import layout

    lake = lake_with_ledgers
    for seq in (0, 1, 2):  # the whole audit log gone: a chain with nothing left in it is "intact"...
        Path(lake.path("ops", f"{layout.EXPORT_AUDIT}/{seq:012d}.json")).unlink()
    assert _reports(lake)["export audit log"].problems == []
    problems = _reports(lake, expect_at_least={"export audit log": 2})["export audit log"].problems  # ...not so
    assert len(problems) == 1 and "ends at record -1 but record 2 was written" in problems[0]


def test_lake_ledgers_command_exits_1_and_names_the_record(lake_with_ledgers: Lake):
    from click.testing import CliRunner

    from lake import layout
    from lake.cli import main

    runner = CliRunner()
    root = str(Path(lake_with_ledgers.path("ops")).parent)
    ok = runner.invoke(main, ["ledgers", "--lake", root])
    assert ok.exit_code == 0, ok.output
    assert "export audit log: 3 records, head 2, intact" in ok.output
    Path(lake_with_ledgers.path("ops", f"{layout.MANIFESTS}/000000000000.json")).unlink()
    bad = runner.invoke(main, ["ledgers", "--lake", root])
    assert bad.exit_code == 1
    assert "ingest manifests: 2 records, head 2, 2 problem(s)" in bad.output
    assert "000000000001.json: records 0..0 are missing (removed)" in bad.output
