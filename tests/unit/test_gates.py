"""Each rule broken on purpose is blocked with a message naming the rule, the table, the column and the rows,
through real Great Expectations validations; a rule changed in the rules file changes the outcome."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from expectations import gates, retention
from expectations.rules import load_rules
from ingestion.engine import ingest
from lake import layout
from lake.storage import Lake
from tests.conftest import drop
from tests.unit import gates_fixture as fx
from tests.unit.test_ingest import CVS_HEADER, GID

RULES = load_rules()


def failed(report: gates.GateReport) -> dict[tuple[str, str | None], gates.Finding]:
    return {(f.rule, f.column): f for f in report.failures}


# --- landing -> raw ----------------------------------------------------------------------------

@pytest.fixture
def landed(lake: Lake) -> Lake:
    lines = [CVS_HEADER, f"T1,S1,{GID},2026/08/01 10:00:00,C1,1,500,現金", "T2,S1,,2026/08/01 11:00:00,C1,2,300,現金"]
    drop(lake, "cvs", "pos", "cvs_pos_20260801.csv", ("\r\n".join(lines) + "\r\n").encode("cp932"))
    ingest(lake)
    return lake


def test_raw_zone_as_landed_passes(landed: Lake) -> None:
    report = gates.check_raw_zone(landed, companies=["cvs"])
    assert report.ok, report.message()
    assert {f.rule for f in report.findings} >= {"gid: Luhn check digit", "contract cvs_pos.yml: types",
                                                 "contract cvs_pos.yml: required"}


def test_raw_batch_with_bad_gid_and_missing_value_is_blocked(landed: Lake) -> None:
    (rel,) = [f for f in landed.list_files("raw-cvs") if f.endswith(".parquet")]
    good = pq.read_table(landed.open_input("raw-cvs", rel))
    bad = good.set_column(good.schema.get_field_index("gid"), "gid", pa.array(["100000000001", None], pa.string()))
    bad = bad.set_column(bad.schema.get_field_index("store_id"), "store_id", pa.array([None, "S1"], pa.string()))
    staged = layout.staging("b1", "pos/date=2026-08-02/part-cvs-pos-bad.parquet")
    with landed.open_output("raw-cvs", staged) as out:
        pq.write_table(bad.set_column(bad.schema.get_field_index("_batch_id"), "_batch_id",
                                      pa.array(["cvs-pos-bad"] * 2)), out)
    from ingestion.contracts import load_contracts

    contract = next(c for c in load_contracts() if c.company == "cvs" and c.feed == "pos")
    report = gates.check_raw(landed, [gates.StagedBatch("cvs", "pos", "cvs-pos-bad", contract, [staged])])
    f = failed(report)
    gid = f[("gid: Luhn check digit", "gid")]
    assert (gid.rows_failed, gid.table) == (1, "raw-cvs/pos")
    assert "100000000001" in gid.examples[0] and "_batch_id=cvs-pos-bad" in gid.examples[0]
    assert f[("contract cvs_pos.yml: required", "store_id")].rows_failed == 1
    assert report.blocked == ["cvs-pos-bad"]
    with pytest.raises(gates.GateFailed, match=r"rule gid: Luhn check digit.*raw-cvs/pos, column gid: 1 of 2 rows"):
        report.raise_for_failures()


def test_raw_schema_with_an_undeclared_column_is_blocked(landed: Lake) -> None:
    (rel,) = [f for f in landed.list_files("raw-cvs") if f.endswith(".parquet")]
    t = pq.read_table(landed.open_input("raw-cvs", rel)).append_column("staff_note", pa.array(["x", "y"]))
    with landed.open_output("raw-cvs", rel) as out:
        pq.write_table(t, out)
    f = failed(gates.check_raw_zone(landed, companies=["cvs"]))
    cols = f[("contract cvs_pos.yml: columns", "column")]
    assert "staff_note" in " ".join(cols.examples)


# --- raw -> group (DuckDB batches; the Spark batches: test_gates_spark.py) ----------------------

def test_compliant_group_zone_passes(lake: Lake) -> None:
    fx.group_zone(lake)
    report = gates.check_group_zone(lake)
    assert report.ok, report.message()


def test_pii_in_a_string_column_ascii_and_full_width_is_blocked(lake: Lake) -> None:
    fx.group_zone(lake)
    fx.write_table(lake, "campaigns", [
        {"campaign_id": "CP1", "company": "cvs", "target_company": "diner", "description": "call 090-1234-5678",
         "starts_on": fx.DAY, "ends_on": fx.DAY},
        {"campaign_id": "CP2", "company": "cvs", "target_company": "diner",
         "description": "問合せ ｔａｒｏ＠ｅｘａｍｐｌｅ．ｊｐ", "starts_on": fx.DAY, "ends_on": fx.DAY}])
    f = failed(gates.check_group_zone(lake))
    hit = f[("pii.value_patterns", "description")]
    assert (hit.table, hit.rows_failed, hit.rows_checked) == ("group/campaigns", 2, 2)
    shown = " ".join(hit.examples)
    assert "[phone" in shown and "[email" in shown and "1234" not in shown and "taro" not in shown


def test_tables_companies_do_not_share_are_blocked(lake: Lake) -> None:
    fx.group_zone(lake)
    # dept shares receipt totals, never item lines; money only monthly totals, never single charges
    fx.write_table(lake, "purchase_lines", [
        {"purchase_id": "cvs:T1", "line_no": 1, "category": "ready_meals", "quantity": 1, "amount_yen": 500,
         "company": "cvs", "purchase_date": fx.DAY},
        {"purchase_id": "dept:D1", "line_no": 1, "category": "apparel", "quantity": 1, "amount_yen": 12000,
         "company": "dept", "purchase_date": fx.DAY}])
    fx.write_table(lake, "purchases", [fx.purchase("cvs:T1", "cvs"), fx.purchase("money:X1", "money")])
    f = failed(gates.check_group_zone(lake))
    lines = f[("sharing.<company>.purchase_lines", "company")]
    assert lines.rows_failed == 1 and "dept" in lines.examples[0]
    charges = f[("sharing.<company>.purchases", "company")]
    assert charges.rows_failed == 1 and "money" in charges.examples[0]


def test_a_column_not_shared_is_blocked(lake: Lake) -> None:
    fx.group_zone(lake)
    schema = pa.schema([*fx.arrow_schema("purchases"), ("note", pa.string()), ("staff_id", pa.string())])
    fx.write_table(lake, "purchases", [fx.purchase("cvs:T1", "cvs") | {"note": None, "staff_id": None},
                                       fx.purchase("dept:D1", "dept") | {"note": "gift wrap", "staff_id": "E7"}],
                   schema=schema)
    report = gates.check_group_zone(lake)
    f = failed(report)
    assert f[("pii.columns", None)].observed == "['note']"
    assert f[("sharing (transforms/group_schema.yml)", None)].observed == "unexpected: ['note', 'staff_id']"
    extra = f[("sharing (transforms/group_schema.yml)", "staff_id")]
    assert extra.rows_failed == 1 and "company=dept" in extra.examples[0]


def test_members_must_be_generalised(lake: Lake) -> None:
    fx.group_zone(lake)
    schema = pa.schema([*fx.arrow_schema("members")])
    rows = [{"gid": fx.GIDS[0], "birth_year": 1980, "gender": "F", "prefecture": "東京都", "postal3": "123-4567",
             "joined_on": fx.DAY, "marketing_consent": True, "programme_joined_on": None}]
    fx.write_table(lake, "members", rows, schema=schema)
    f = failed(gates.check_group_zone(lake))
    assert f[("members.postal_code: first_3_digits", "postal3")].rows_failed == 1


def test_a_company_that_stops_sharing_lines_is_blocked_with_no_code_change(lake: Lake, tmp_path: Path) -> None:
    fx.group_zone(lake)
    assert gates.check_group_zone(lake).ok
    rules = fx.rules_copy(tmp_path, ("cvs:   {purchases: receipt, purchase_lines: true}",
                                     "cvs:   {purchases: receipt, purchase_lines: false}"))
    f = failed(gates.check_group_zone(lake, rules))
    assert f[("sharing.<company>.purchase_lines", "company")].rows_failed == 1


# --- group -> marts ----------------------------------------------------------------------------

def mart_db(path: Path, control: int | None, treatment: int = 400, rate: float | None = 0.1) -> str:
    con = duckdb.connect(str(path))
    con.execute("""CREATE TABLE mart_campaign_referral AS SELECT * FROM (VALUES
        ('CP1', 'cvs', 'diner', DATE '2026-08-01', 28, false, 500, 480, 50, 20, 0.1, 0.04, 0.06, 0.03, 0.09),
        ('CP2', 'gms', 'dept', DATE '2026-08-10', 28, false, ?, ?, 40, 3, ?, 0.1, 0.0, -0.1, 0.1))
        t(campaign_id, source_company, target_company, exposed_on, window_days, is_suppressed, treatment_members,
          control_members, treatment_converted, control_converted, treatment_rate, control_rate, uplift,
          uplift_ci_low, uplift_ci_high)""", [treatment, control, rate])
    con.close()
    return str(path)


def test_an_arm_under_k_is_blocked(tmp_path: Path) -> None:
    report = gates.check_marts(mart_db(tmp_path / "m.duckdb", control=5))
    f = failed(report)
    arm = f[("minimum_cohort.aggregate_cell_k", "control_members")]
    assert (arm.table, arm.rows_failed) == ("marts/mart_campaign_referral", 1) and arm.examples == ["'5'"]
    rate = f[("minimum_cohort.aggregate_cell_k", "treatment_rate")]
    assert rate.rows_failed == 1  # a value computed from the small arm is published too
    assert report.blocked == ["marts/mart_campaign_referral"]


def test_suppressed_arms_pass_and_k_from_the_rules_file_changes_the_outcome(tmp_path: Path) -> None:
    db = tmp_path / "suppressed.duckdb"
    mart_db(db, control=None, rate=None)
    con = duckdb.connect(str(db))
    con.execute("UPDATE mart_campaign_referral SET treatment_converted = NULL, control_converted = NULL, "
                "control_rate = NULL, uplift = NULL, uplift_ci_low = NULL, uplift_ci_high = NULL "
                "WHERE campaign_id = 'CP2'")
    con.close()
    assert gates.check_marts(str(db)).ok
    thirty = mart_db(tmp_path / "thirty.duckdb", control=30)  # a control arm of 30 members, published
    assert gates.check_marts(thirty).ok
    k50 = fx.rules_copy(tmp_path, ("aggregate_cell_k: 10", "aggregate_cell_k: 50"))
    f = failed(gates.check_marts(thirty, k50))
    assert f[("minimum_cohort.aggregate_cell_k", "control_members")].rows_failed == 1
    assert f[("minimum_cohort.aggregate_cell_k", "uplift")].rows_failed == 1


# --- marts -> exports --------------------------------------------------------------------------

def candidate(n: int, consent: list[bool | None] | None = None, **extra: list) -> pa.Table:
    gids = [f"{i:012d}" for i in range(n)]
    cols = {"gid": gids, "marketing_consent": consent or [True] * n, **extra}
    return pa.table(cols)


def test_export_of_consented_members_passes() -> None:
    assert gates.check_export_candidate(candidate(120), company="cvs", purpose="coupon_campaign").ok


def test_a_non_consented_member_blocks_the_export() -> None:
    report = gates.check_export_candidate(candidate(120, [True] * 118 + [False, None]), company="cvs",
                                          purpose="coupon_campaign")
    f = failed(report)
    assert f[("marketing.consent_column (marketing_consent)", "marketing_consent")].rows_failed == 1
    with pytest.raises(gates.GateFailed, match="only consented members may be exported"):
        report.raise_for_failures()


def test_export_columns_size_and_purpose(tmp_path: Path) -> None:
    report = gates.check_export_candidate(candidate(50, email=["x@example.jp"] * 50), company="money",
                                          purpose="coupon_campaign", min_size=20)
    f = failed(report)
    assert "email" in f[("marketing.export_columns", None)].observed
    assert f[("minimum_cohort.segment_export_min", None)].observed == "50"  # the rules' 100 beats the asked 20
    assert f[("purposes.coupon_campaign.may_use", "source")].rows_failed == 1  # money data never feeds campaigns
    smaller = fx.rules_copy(tmp_path, ("segment_export_min: 100", "segment_export_min: 30"))
    f = failed(gates.check_export_candidate(candidate(50), company="cvs", purpose="coupon_campaign", rules=smaller))
    assert not f


def test_consent_is_looked_up_in_the_marts_not_taken_from_the_candidate(lake: Lake) -> None:
    con = duckdb.connect()
    lake.ensure_zones(["marts"])
    con.execute(f"COPY (SELECT '{fx.GIDS[0]}' AS gid, true AS has_marketing_consent UNION ALL "
                f"SELECT '{fx.GIDS[1]}', false) TO '{lake.uri('marts', 'dim_members.parquet')}' (FORMAT parquet)")
    report = gates.check_export_candidate(pa.table({"gid": fx.GIDS}), company="cvs", purpose="coupon_campaign",
                                          min_size=1, lake=lake, rules=load_rules())
    consent = [f for f in report.failures if f.rule == "marketing.consent_column (marketing_consent)"]
    # one member not consented, one unknown to the marts: both refused (3 members < 100 as well)
    assert sorted((f.expectation, f.rows_failed) for f in consent) == [
        ("expect_column_values_to_be_in_set", 1), ("expect_column_values_to_not_be_null", 1)]
    assert any(fx.GIDS[2] in e for f in consent for e in f.examples)


# --- freshness, volume, retention --------------------------------------------------------------

def days(start: dt.date, n: int) -> list[dt.date]:
    return [start + dt.timedelta(days=i) for i in range(n)]


def test_a_stale_company_feed_is_reported(lake: Lake) -> None:
    fx.daily_manifests(lake, "cvs", "pos", "cvs_pos_{}.csv", {d: 1000 for d in days(dt.date(2026, 8, 1), 20)})
    fx.daily_manifests(lake, "dept", "receipts", "dept_receipts_{}.jsonl",
                       {d: 100 for d in days(dt.date(2026, 8, 1), 15)})
    report = gates.check_freshness(lake)
    (f,) = report.failures
    assert f.rule == "freshness.max_days_behind" and f.rows_failed == 1
    assert f.examples == ["'5' [company=dept, last_date=2026-08-15]"]


def test_a_sudden_volume_drop_is_reported_but_weekdays_and_paydays_are_not(lake: Lake) -> None:
    rows = {}
    for d in days(dt.date(2026, 7, 1), 62):  # July and August
        base = 2000 if d.weekday() >= 5 else 1000  # weekends are busier
        rows[d] = base * 2 if d.day == 25 else base  # and so is payday
    fx.daily_manifests(lake, "cvs", "pos", "cvs_pos_{}.csv", rows)
    assert gates.check_volume(lake).ok  # weekends and the payday match their own kind of day
    drop_day = dt.date(2026, 9, 1)
    fx.daily_manifests(lake, "cvs", "pos", "cvs_pos_{}.csv", {drop_day: 300})
    (f,) = gates.check_volume(lake).failures
    assert f.rule == "volume.min_ratio/max_ratio" and f.rows_failed == 1
    assert "company=cvs" in f.examples[0] and "date=2026-09-01" in f.examples[0] and "'0.3" in f.examples[0]


def test_overdue_data_is_reported_and_deleted_with_a_log(lake: Lake) -> None:
    lake.write_bytes("landing-cvs", "pos/cvs_pos_20260101.csv", b"x")
    lake.write_bytes("landing-cvs", "pos/cvs_pos_20260102.csv", b"x")
    old = (dt.datetime.now() - dt.timedelta(days=45)).timestamp()
    os.utime(lake.path("landing-cvs", "pos/cvs_pos_20260101.csv"), (old, old))
    lake.write_bytes("raw-cvs", "pos/date=2020-01-01/part-a.parquet", b"x")  # raw keeps 730 days of events
    report = gates.check_retention(lake)
    (f,) = report.failures
    assert f.rows_failed == 2 and f.rule == "retention_days"
    deleted = retention.apply(lake)
    assert sorted(deleted.column("path").to_pylist()) == ["pos/cvs_pos_20260101.csv",
                                                         "pos/date=2020-01-01/part-a.parquet"]
    assert not lake.exists("landing-cvs", "pos/cvs_pos_20260101.csv") and lake.exists("landing-cvs",
                                                                                      "pos/cvs_pos_20260102.csv")
    assert gates.check_retention(lake).ok
    (log,) = lake.list_files("ops", layout.RETENTION_LOG)
    assert pq.read_table(lake.open_input("ops", log)).num_rows == 2


# --- results in the ops zone -------------------------------------------------------------------

def test_results_are_recorded_one_row_per_expectation(lake: Lake) -> None:
    fx.group_zone(lake)
    report = gates.check_group_zone(lake)
    gates.record(lake, report)
    results = gates.read_results(lake, "raw_to_group")
    assert results.num_rows == len(report.findings) and set(results.column("run_id").to_pylist()) == {report.run_id}
    from lake import runlog

    (run,) = runlog.read_all(lake, "check").to_pylist()
    assert run["feed"] == "raw_to_group" and run["status"] == "ok"


# --- the raw -> group gate inside a transform run: on what the run staged ------------------------

def _stage_group(lake: Lake, run_id: str) -> list[str]:
    """Move the fixture's group tables to where a transform run stages them (`group/_staging/<run>/`)."""
    tables = sorted({f.split("/")[0] for f in lake.list_files(layout.GROUP) if not f.startswith("_")})
    for f in [f for f in lake.list_files(layout.GROUP) if not f.startswith("_")]:
        lake.move(layout.GROUP, f, layout.GROUP, layout.group_staging(run_id, f))
    return tables


def test_staged_tables_are_gated_before_publishing(lake: Lake) -> None:
    fx.group_zone(lake)
    tables = _stage_group(lake, "run1")
    assert gates.check_group_staged(lake, "run1", tables).ok
    fx.group_zone(lake)
    fx.write_table(lake, "campaigns", [
        {"campaign_id": "CP2", "company": "cvs", "target_company": "diner",
         "description": "問合せ ｔａｒｏ＠ｅｘａｍｐｌｅ．ｊｐ", "starts_on": fx.DAY, "ends_on": fx.DAY}])
    _stage_group(lake, "run2")
    report = gates.check_group_staged(lake, "run2", tables)
    hit = failed(report)[("pii.value_patterns", "description")]
    assert (hit.table, hit.rows_failed) == ("group/campaigns", 1)
    assert report.blocked == ["group/campaigns"]
    with pytest.raises(gates.GateFailed, match="description"):
        report.raise_for_failures()


def test_a_keyed_hash_whose_digits_look_like_a_phone_is_a_pseudonym_not_pii(lake: Lake) -> None:
    """Hex digests hold digit runs (`...bbb09012345678a1...`): the shape of a keyed hash is checked there instead."""
    fx.group_zone(lake)
    digest = "1d4be96d61145958d059ea84fcbbb" + "09012345678" + "a1bad7c55192f89ff3a08cdd"
    assert len(digest) == 64
    row = {"company": "sm", "gid": fx.GIDS[0], "linked_at": dt.datetime(2026, 8, 1, tzinfo=dt.UTC)}
    fx.write_table(lake, "id_links", [row | {"local_member_key": digest}])
    assert gates.check_group_zone(lake).ok
    fx.write_table(lake, "id_links", [row | {"local_member_key": "SM-0001"}])  # a local ID, not hashed
    hit = failed(gates.check_group_zone(lake))[("sharing.sm.id_links: pseudonymised", "local_member_key")]
    assert hit.rows_failed == 1


def test_a_python_c_process_that_imports_the_gates_keeps_running() -> None:
    """PySpark (imported by Great Expectations) takes a `python -c` main module for its doctests and exits 0;
    the benchmarks and several tests run their work that way."""
    import subprocess
    import sys

    from lake.config import REPO_ROOT

    done = subprocess.run([sys.executable, "-c", "from expectations import gates; print('still running')"],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "still running" in done.stdout, done.stderr[-2000:]


# --- reading ahead -----------------------------------------------------------------------------

def test_the_next_chunk_is_read_while_this_one_is_validated() -> None:
    """The group gate's chunks come through `_ahead`: the producer makes chunk 2 while the consumer still holds
    chunk 1 (sequential code would deadlock here, so a timeout fails it), in order, and no further ahead."""
    import threading
    import time

    made: list[int] = []
    second = threading.Event()

    def chunks():
        for i in range(4):
            made.append(i)
            if i == 1:
                second.set()
            yield i

    got = []
    for i in gates._ahead(chunks()):
        if i == 0:
            assert second.wait(5), "chunk 1 was not made while chunk 0 was being worked on"
            time.sleep(0.3)  # time enough to make more, had it been allowed to
            assert made == [0, 1]  # one ahead: two chunks in memory, not the whole table
        got.append(i)
    assert got == [0, 1, 2, 3]


def test_a_failing_read_is_raised_after_the_chunks_before_it_and_stopping_early_stops_the_reader() -> None:
    def chunks():
        yield "a"
        raise OSError("the store went away")

    got = []
    with pytest.raises(OSError, match="went away"):
        for c in gates._ahead(chunks()):
            got.append(c)
    assert got == ["a"]
    made: list[int] = []

    def endless():
        i = 0
        while True:
            made.append(i)
            yield i
            i += 1

    reader = gates._ahead(endless())
    assert next(reader) == 0
    reader.close()  # the consumer stops (a failed validation): the reader thread ends, it does not run on
    assert len(made) <= 2


def test_a_table_of_several_chunks_is_gated_whole(lake: Lake, monkeypatch: pytest.MonkeyPatch) -> None:
    """PII in the last chunk of a table streamed in chunks of 2 rows is found, and counted once."""
    monkeypatch.setattr(gates, "CHUNK_ROWS", 2)
    fx.group_zone(lake)
    rows = [fx.purchase(f"cvs:T{i}", "cvs") for i in range(7)]
    rows[-1]["store_id"] = "090-1234-5678"
    fx.write_table(lake, "purchases", rows)
    hit = failed(gates.check_group_zone(lake))[("pii.value_patterns", "store_id")]
    assert (hit.rows_failed, hit.rows_checked) == (1, 7)
