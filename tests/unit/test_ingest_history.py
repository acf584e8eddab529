"""Corrections, retractions, the hash-chained manifest history, locks and the CLI's exit statuses."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from ingestion import manifest
from ingestion.engine import ingest, retract
from lake import locks
from lake.cli import EXIT_REJECTED, main
from lake.config import LakeConfig
from lake.errors import LakeError
from lake.storage import Lake
from tests.conftest import drop
from tests.unit.test_ingest import GID, quarantine, raw

HEADER = "check_id,store_id,gid,visited_at,party_size,total_yen"
NAME = "diner_checks_20260801.csv"


def checks(ids: list[int], total: int = 1000) -> bytes:
    return ("\n".join([HEADER, *(f"C{i},R1,{GID},2026-08-01 12:00,2,{total + i}" for i in ids)]) + "\n").encode()


def events(lake: Lake) -> list[tuple[str, str]]:
    return [(r["event"], r["batch_id"]) for r in manifest.ledger(lake).records()]


def test_a_correction_replaces_its_batch_and_the_history_says_which_replaced_which(lake: Lake, monkeypatch):
    monkeypatch.setenv("LAKE_USER", "ops-anna")
    drop(lake, "diner", "checks", NAME, checks([1, 2, 3, 4]))
    (first,) = ingest(lake).rows
    drop(lake, "diner", "checks", NAME, checks([1, 2, 4]))  # check C3 withdrawn by the restaurant
    summary = ingest(lake)
    (second,) = summary.rows
    assert second.replaces == first.batch_id and summary.replaced == [(first.batch_id, second.batch_id)]
    assert sorted(r["check_id"] for r in raw(lake, "diner", "checks")) == ["C1", "C2", "C4"]
    assert not any(first.batch_id in f for f in lake.list_files("raw-diner"))  # its file left raw
    assert events(lake) == [("landed", first.batch_id), ("landed", second.batch_id), ("replaced", first.batch_id)]
    replaced = next(r for r in manifest.ledger(lake).records() if r["event"] == "replaced")
    assert (replaced["replaced_by"], replaced["rows_removed"], replaced["by"]) == (second.batch_id, 4, "ops-anna")
    states = {b.batch_id: b for b in manifest.batch_states(lake)}
    assert (states[first.batch_id].state, states[first.batch_id].rows_removed) == ("replaced", 4)
    assert list(manifest.live_batches(lake, "diner", "checks")) == [second.batch_id]
    assert manifest.verify(lake) == []
    # the same bytes again change nothing; the first version again is a new delivery that replaces the second
    assert ingest(lake).rows == []
    drop(lake, "diner", "checks", NAME, checks([1, 2, 3, 4]))
    (third,) = ingest(lake).rows
    assert third.batch_id not in (first.batch_id, second.batch_id) and third.replaces == second.batch_id
    assert sorted(r["check_id"] for r in raw(lake, "diner", "checks")) == ["C1", "C2", "C3", "C4"]


def test_a_correction_that_is_rejected_leaves_the_last_good_batch_in_place(lake: Lake):
    drop(lake, "diner", "checks", NAME, checks([1, 2]))
    (first,) = ingest(lake).rows
    drop(lake, "diner", "checks", NAME, checks([1, 2]).replace(b"total_yen", b"total"))  # a required column lost
    (second,) = ingest(lake).rows
    assert (second.status, second.reason) == ("rejected", "missing_columns")
    assert list(manifest.live_batches(lake)) == [first.batch_id]
    assert len(raw(lake, "diner", "checks")) == 2


def test_retract_removes_a_batch_on_purpose_and_it_stays_out(lake: Lake):
    drop(lake, "diner", "checks", NAME, checks([1, 2, 3]))
    drop(lake, "diner", "checks", "diner_checks_20260802.csv", checks([7]).replace(b"2026-08-01", b"2026-08-02"))
    rows = {r.source.rsplit("/", 1)[1]: r for r in ingest(lake).rows}
    gone = retract(lake, NAME, "sent by mistake: a test store", by="ops-ken")
    assert (gone.state, gone.rows_removed, gone.removed_by, gone.removed_why) == (
        "retracted", 3, "ops-ken", "sent by mistake: a test store")
    assert [r["check_id"] for r in raw(lake, "diner", "checks")] == ["C7"]
    assert events(lake)[-1] == ("retracted", rows[NAME].batch_id)
    assert ingest(lake).rows == []  # the file is still in landing: it stays retracted
    with pytest.raises(LakeError, match="is retracted"):
        retract(lake, NAME, "again")
    with pytest.raises(LakeError, match="needs a reason"):
        retract(lake, "diner_checks_20260802.csv", " ")
    drop(lake, "diner", "checks", NAME, checks([1, 2]))  # corrected bytes land again
    (again,) = ingest(lake).rows
    assert again.rows_landed == 2 and again.replaces is None
    assert sorted(r["check_id"] for r in raw(lake, "diner", "checks")) == ["C1", "C2", "C7"]


def test_a_replacement_killed_after_its_files_moved_is_finished_by_the_next_run(lake: Lake, monkeypatch):
    drop(lake, "diner", "checks", NAME, checks([1, 2, 3]))
    (first,) = ingest(lake).rows
    drop(lake, "diner", "checks", NAME, checks([1, 2]))
    real_append = manifest.History.append

    def crash(self, rec):
        raise KeyboardInterrupt("killed between moving the files and recording the events")

    monkeypatch.setattr(manifest.History, "append", crash)
    with pytest.raises(KeyboardInterrupt):
        ingest(lake)
    monkeypatch.setattr(manifest.History, "append", real_append)
    assert lake.list_files("ops", "manifests/_pending")  # the intent survived the crash
    summary = ingest(lake)
    assert summary.recovered == 1 and summary.rows == []  # rolled forward; nothing left to ingest
    assert [e for e, _ in events(lake)] == ["landed", "landed", "replaced"]
    assert sorted(r["check_id"] for r in raw(lake, "diner", "checks")) == ["C1", "C2"]
    assert not any(first.batch_id in f for f in lake.list_files("raw-diner"))


def test_the_history_is_append_only_and_a_changed_record_is_named(lake: Lake):
    drop(lake, "diner", "checks", NAME, checks([1]))
    ingest(lake)
    drop(lake, "diner", "checks", NAME, checks([1, 2]))
    ingest(lake)
    assert manifest.verify(lake) == []
    first = Path(lake.path("ops", "manifests/ingest/000000000000.json"))
    rec = json.loads(first.read_text())
    rec["rows_landed"] = 99
    first.write_text(json.dumps(rec))
    assert any("000000000000.json: content does not match its hash" in p for p in manifest.verify(lake))
    last = sorted(Path(lake.path("ops", "manifests/ingest")).glob("*.json"))[-1]
    first.write_text(json.dumps({**rec, "rows_landed": 1}))
    last.unlink()  # the newest record removed: the chain alone cannot tell, the run log's head can
    assert any("newest records were removed" in p for p in manifest.verify(lake))


def test_a_second_ingest_on_the_same_lake_is_refused_while_one_runs(lake: Lake):
    drop(lake, "diner", "checks", NAME, checks([1]))
    lake.ensure_zones(["ops"])
    with locks.stage_lock(lake, "ingest"):
        with pytest.raises(LakeError, match="another `lake ingest` is running on this lake"):
            ingest(lake)
        with locks.stage_lock(lake, "transform"):  # other stages do not block each other
            pass
    assert raw(lake, "diner", "checks") == []  # the refused run wrote nothing

    release = threading.Event()

    def hold():
        with locks.stage_lock(lake, "ingest"):
            release.wait(5)

    t = threading.Thread(target=hold)
    t.start()
    time.sleep(0.3)
    threading.Timer(1.0, release.set).start()
    (row,) = ingest(lake, wait=10).rows  # waits for the holder, then runs
    t.join()
    assert row.rows_landed == 1


# --- the command line ---------------------------------------------------------------------------

def cli(*args: str, env: dict | None = None):
    return CliRunner().invoke(main, list(args), env=env or {}, catch_exceptions=False)


def test_exit_status_tells_a_scheduler_whether_files_were_rejected(tmp_path: Path):
    root = tmp_path / "lake"
    lake = Lake(LakeConfig.resolve(str(root)))
    drop(lake, "diner", "checks", NAME, checks([1, 2]))
    ok = cli("ingest", "--lake", str(root))
    assert ok.exit_code == 0, ok.output
    drop(lake, "diner", "checks", "diner_checks_20260802.csv", b"\xff\xfe garbage")
    bad = cli("ingest", "--lake", str(root))
    assert bad.exit_code == EXIT_REJECTED == 3 and "rejected whole" in bad.output
    assert [r["reason"] for r in quarantine(lake) if r["line"] is None] == ["wrong_encoding"]
    st = cli("status", "--lake", str(root))
    assert st.exit_code == 0 and "wrong_encoding" in st.output and "diner_checks_20260802.csv" in st.output
    again = cli("ingest", "--lake", str(root))  # nothing new: the rejection was reported once
    assert again.exit_code == 0 and "nothing new" in again.output
    r = cli("retract", "--lake", str(root), NAME, "--reason", "duplicate test data")
    assert r.exit_code == 0 and "2 rows left raw-diner" in r.output
    assert raw(lake, "diner", "checks") == []


def test_a_lake_that_is_not_there_is_refused_unless_the_verb_makes_lakes(tmp_path: Path):
    typo = tmp_path / ".laek"
    for verb in (["ingest"], ["status"], ["transform"], ["build"], ["sql", "select 1"], ["retract", "x",
                                                                                        "--reason", "y"]):
        res = cli(*verb, "--lake", str(typo))
        assert res.exit_code == 1 and "there is no lake at" in res.output, (verb, res.output)
        assert not typo.exists()
    res = cli("ingest", "--lake", str(typo), "--create")
    assert res.exit_code == 0 and (typo / "ops").is_dir() and (typo / "landing-cvs").is_dir()
    empty = cli("transform", "--lake", str(typo))
    assert empty.exit_code == 1 and "nothing to transform" in empty.output


def test_one_file_failing_in_an_unforeseen_way_is_quarantined_and_the_others_land(lake: Lake, monkeypatch):
    drop(lake, "diner", "checks", NAME, checks([1]))
    drop(lake, "diner", "checks", "diner_checks_20260802.csv", checks([2]).replace(b"2026-08-01", b"2026-08-02"))
    from ingestion import readers

    real = readers.CsvReader._block

    def flaky(self, block):
        if "0802" in self.filename:
            raise RuntimeError("a parser bug nobody foresaw")
        yield from real(self, block)

    monkeypatch.setattr(readers.CsvReader, "_block", flaky)
    rows = {r.source.rsplit("/", 1)[1]: r for r in ingest(lake).rows}
    assert rows[NAME].rows_landed == 1
    bad = rows["diner_checks_20260802.csv"]
    assert (bad.status, bad.reason) == ("rejected", "unreadable_file") and "a parser bug" in bad.detail
    assert [r["check_id"] for r in raw(lake, "diner", "checks")] == ["C1"]


def test_lake_check_names_an_altered_or_removed_manifest_record(lake: Lake):
    from expectations.gates import check_ledgers

    drop(lake, "diner", "checks", NAME, checks([1]))
    ingest(lake)
    drop(lake, "diner", "checks", NAME, checks([1, 2]))
    ingest(lake)
    report = check_ledgers(lake)
    assert report.ok and {f.table for f in report.findings} >= {"ingest manifests", "export audit log"}
    assert next(f for f in report.findings if f.table == "ingest manifests").rows_checked == 3
    folder = Path(lake.path("ops", "manifests/ingest"))
    last = sorted(folder.glob("*.json"))[-1]
    last.unlink()  # the newest record removed: an intact chain, but shorter than the run log says
    (failed,) = check_ledgers(lake).failures
    assert failed.table == "ingest manifests" and "newest records were removed" in failed.message()
    result = CliRunner().invoke(main, ["check", "--lake", lake.cfg.uri, "--gate", "ledgers"])
    assert result.exit_code == 1 and "newest records were removed" in result.output
