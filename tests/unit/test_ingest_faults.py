"""Ingestion faults of real deliveries on hand-made files: bad bytes, stray files, duplicates, limits, drift.

Each test asserts what landed in raw, what reached quarantine (with reason and line) and what the
manifest history says, not only the outcome of the run.
"""

from __future__ import annotations

import dataclasses
import gzip
import io
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ingestion import manifest
from ingestion.contracts import Limits, load_contracts
from ingestion.engine import ingest
from lake.storage import Lake
from tests.conftest import drop
from tests.unit.test_ingest import CVS_HEADER, GID, GID2, quarantine, raw

MONEY_HEADER = "txn_id,card_no,gid,kind,company,store_id,occurred_at,amount_yen"
DINER_HEADER = "check_id,store_id,gid,visited_at,party_size,total_yen"


def money_rows(n: int, day: str = "2026-08-01") -> list[str]:
    return [f"MN{i:08d},****-****-****-{i % 10000:04d},{GID},payment,cvs,S1,{day}T10:00:00+09:00,{100 + i}"
            for i in range(n)]


def diner_rows(n: int) -> list[str]:
    return [f"C{i:06d},R1,{GID2},2026-08-01 12:00,2,{1000 + i}" for i in range(n)]


def data(header: str, rows: list[str], encoding: str = "utf-8") -> bytes:
    return ("\n".join([header, *rows]) + "\n").encode(encoding)


def by_name(summary) -> dict:
    return {r.source.rsplit("/", 1)[1]: r for r in summary.rows}


def contracts_with(**limits) -> list:
    return [dataclasses.replace(c, limits=dataclasses.replace(c.limits, **limits)) for c in load_contracts()]


# --- encodings ------------------------------------------------------------------------------

def test_an_undecodable_byte_sequence_quarantines_its_row_and_every_other_company_lands(lake: Lake):
    body = data(MONEY_HEADER, money_rows(30)).replace(b"MN00000007", b"MN\xff\xfe00000007", 1)
    drop(lake, "money", "txns", "money_txns_20260801.csv", body)
    drop(lake, "diner", "checks", "diner_checks_20260801.csv", data(DINER_HEADER, diner_rows(5)))
    summary = ingest(lake)
    rows = by_name(summary)
    money = rows["money_txns_20260801.csv"]
    assert (money.status, money.rows_read, money.rows_landed, money.rows_quarantined) == ("landed", 30, 29, 1)
    assert rows["diner_checks_20260801.csv"].rows_landed == 5 and len(raw(lake, "diner", "checks")) == 5
    (q,) = quarantine(lake)
    assert (q["line"], q["reason"]) == (9, "bad_encoding")  # header is line 1, MN00000007 is the 8th row
    assert "ff fe" in q["detail"] and "txn_id" in q["detail"]
    assert "00000007" in q["record"]  # the row's text, shown with replacement characters
    assert 9 not in [r["_line"] for r in raw(lake, "money", "txns")]


def test_a_stray_cp932_byte_that_decodes_to_an_invisible_character_is_an_encoding_fault(lake: Lake):
    lines = [CVS_HEADER, f"T1,S1,{GID},2026/08/01 10:00:00,C1,1,500,現金",
             f"T2,S1,{GID},2026/08/01 10:00:00,C1,1,500,現金", f"T3,S1,{GID},2026/08/01 10:00:00,C1,1,500,現金"]
    body = ("\r\n".join(lines) + "\r\n").encode("cp932")
    body = body.replace(b"T2,S1," + GID.encode() + b",2026/08/01 10:00:00,C1,1,",
                        b"T2,S1," + GID.encode() + b",2026/08/01 10:00:00,C1,1\xa0,")  # 0xA0 decodes to U+F8F0
    body = body.replace(b"T3,S1,", b"T3,S\x071,")  # a BEL inside a store code
    drop(lake, "cvs", "pos", "cvs_pos_20260801.csv", body)
    (row,) = ingest(lake).rows
    assert (row.rows_read, row.rows_landed, row.rows_quarantined) == (3, 1, 2)
    got = {q["line"]: q for q in quarantine(lake)}
    assert got[3]["reason"] == "bad_encoding" and "U+F8F0" in got[3]["detail"]
    assert got[4]["reason"] == "bad_encoding" and "U+0007" in got[4]["detail"] and "store_id" in got[4]["detail"]
    assert [r["_line"] for r in raw(lake, "cvs", "pos")] == [2]


def test_past_the_threshold_the_whole_file_is_in_the_wrong_encoding(lake: Lake):
    rows = money_rows(40)
    body = data(MONEY_HEADER, rows[:10]) + ("\n".join(rows[10:]) + "\n").encode("utf-16-le")  # mostly not UTF-8
    drop(lake, "money", "txns", "money_txns_20260801.csv", body.replace(b"\x00", b"\xff"))
    (row,) = ingest(lake).rows
    assert (row.status, row.reason, row.rows_landed) == ("rejected", "wrong_encoding", 0)
    assert raw(lake, "money", "txns") == []
    (q,) = quarantine(lake)
    kept = lake.read_bytes("quarantine", q["record"].split("/", 1)[1])
    assert q["action"] == "file_rejected" and kept == body.replace(b"\x00", b"\xff")


# --- nothing ignored --------------------------------------------------------------------------

def test_every_file_anywhere_in_a_landing_zone_is_ingested_or_quarantined_with_a_reason(lake: Lake):
    good = data(DINER_HEADER, diner_rows(3))
    drop(lake, "diner", "checks", "diner_checks_20260801.csv", good)
    lake.write_bytes("landing-diner", "checks/2026-08-02/diner_checks_20260802.csv", good)  # an SFTP subfolder
    lake.write_bytes("landing-diner", "diner_checks_20260803.csv", good)  # the zone's root
    lake.write_bytes("landing-diner", "checks/.diner_checks_20260804.csv.part", good)  # an upload in flight
    lake.write_bytes("landing-diner", "checks/_SUCCESS", b"")
    lake.write_bytes("landing-diner", "checks/readme.txt", b"hello")
    hostile = "checks/x..\\evil\x1b[31m$(rm -rf x).csv"
    lake.write_bytes("landing-diner", hostile, b"hostile")
    rows = {r.source: r for r in ingest(lake).rows}
    assert rows["landing-diner/checks/diner_checks_20260801.csv"].rows_landed == 3
    reasons = {s: r.reason for s, r in rows.items() if r.status != "landed"}
    assert reasons == {
        "landing-diner/checks/2026-08-02/diner_checks_20260802.csv": "unexpected_location",
        "landing-diner/diner_checks_20260803.csv": "unexpected_location",
        "landing-diner/checks/.diner_checks_20260804.csv.part": "hidden_file",
        "landing-diner/checks/_SUCCESS": "hidden_file",
        "landing-diner/checks/readme.txt": "no_contract",
        f"landing-diner/{hostile}": "no_contract",
    }
    assert len(raw(lake, "diner", "checks")) == 3  # only the file in its place landed
    # every rejected file is kept byte for byte, under a harmless name inside the quarantine zone
    kept = [Path(lake.path("quarantine", f)) for f in lake.list_files("quarantine", "files")]
    assert len(kept) == 6
    root = Path(lake.path("quarantine")).resolve()
    assert all(p.resolve().is_relative_to(root) and p.name.isascii() and "\x1b" not in p.name for p in kept)
    assert sorted(p.read_bytes() for p in kept) == sorted([good, good, good, b"", b"hello", b"hostile"])
    # and a second run has nothing new to say about any of them
    again = ingest(lake)
    assert again.rows == [] and again.skipped == 7


def test_status_lists_files_waiting_rejected_files_and_drift(lake: Lake):
    from ingestion.status import lake_status

    drop(lake, "diner", "checks", "diner_checks_20260801.csv", data(DINER_HEADER + ",server_name",
                                                                      [r + ",Aoki" for r in diner_rows(2)]))
    drop(lake, "diner", "checks", "notes.txt", b"x")
    ingest(lake, ["diner"])
    drop(lake, "money", "txns", "money_txns_20260801.csv", data(MONEY_HEADER, money_rows(2)))
    st = lake_status(lake)
    assert [(w.source, w.why) for w in st.waiting] == [("landing-money/txns/money_txns_20260801.csv", "new")]
    assert [(r.source, r.reason) for r in st.rejected] == [("landing-diner/checks/notes.txt", "no_contract")]
    assert [(d["source"], d["columns"]) for d in st.drift] == [
        ("landing-diner/checks/diner_checks_20260801.csv", ["server_name"])]
    (feed,) = [f for f in st.feeds if f.feed == "checks"]
    assert (feed.live, feed.rejected, feed.rows_landed) == (1, 1, 2)
    assert st.runs["ingest"]["status"] == "rejected" and st.chain_problems == []


# --- duplicates inside a file -------------------------------------------------------------------

def test_a_repeated_record_key_is_a_duplicate_naming_both_lines(lake: Lake):
    rows = diner_rows(6)
    rows.insert(4, rows[1])  # line 6 repeats line 3 (check C000001)
    drop(lake, "diner", "checks", "diner_checks_20260801.csv", data(DINER_HEADER, rows))
    (m,) = ingest(lake).rows
    assert (m.rows_read, m.rows_landed, m.rows_quarantined, m.rows_duplicate) == (7, 6, 1, 1)
    (q,) = quarantine(lake)
    assert (q["line"], q["reason"]) == (6, "duplicate_record")
    assert "line 3" in q["detail"] and "check_id=C000001" in q["detail"]
    assert sorted(r["check_id"] for r in raw(lake, "diner", "checks")) == [f"C{i:06d}" for i in range(6)]


def test_a_receipt_repeated_in_a_second_run_is_a_duplicate_identical_lines_in_one_receipt_are_kept(lake: Lake):
    line = f"T1,S1,{GID},2026/08/01 10:00:00,C1,1,500,現金"
    lines = [CVS_HEADER, line, line,  # two identical items on receipt T1: both real
             "T2,S1,,2026/08/01 10:01:00,C1,1,200,現金",
             "T3,S1,,2026/08/01 10:02:00,C1,1,300,現金", "T3,S1,,2026/08/01 10:02:00,C2,-1,-300,現金",
             "T3,S1,,2026/08/01 10:02:00,C3,1,100,現金",  # T3 with a bad line inside it: still one run
             line, line]  # receipt T1 again, after other receipts: a repeat
    drop(lake, "cvs", "pos", "cvs_pos_20260801.csv", ("\n".join(lines) + "\n").encode("cp932"))
    (m,) = ingest(lake).rows
    assert (m.rows_read, m.rows_landed, m.rows_duplicate) == (8, 5, 2)
    assert m.rows_quarantined == 3  # the negative line and the two repeated lines
    q = {r["line"]: (r["reason"], r["detail"]) for r in quarantine(lake)}
    assert q[6][0] == "negative_amount"
    assert q[8][0] == q[9][0] == "duplicate_record" and "line 2" in q[8][1] and "T1" in q[8][1]
    assert sorted(r["_line"] for r in raw(lake, "cvs", "pos")) == [2, 3, 4, 5, 7]


# --- limits -------------------------------------------------------------------------------------

def test_a_decompression_bomb_is_too_large_and_is_not_expanded(lake: Lake):
    bomb = gzip.compress(b"\0" * (896 << 20), compresslevel=9)
    assert len(bomb) < 1 << 20
    blanks = gzip.compress(b"\n" * (512 << 20), compresslevel=9)
    drop(lake, "app", "events", "app_events_20260801.jsonl.gz", bomb)
    drop(lake, "app", "events", "app_events_20260802.jsonl.gz", blanks)
    rows = by_name(ingest(lake))
    for name in ("app_events_20260801.jsonl.gz", "app_events_20260802.jsonl.gz"):
        assert (rows[name].status, rows[name].reason) == ("rejected", "too_large"), rows[name]
        assert "decompression bomb" in rows[name].detail


def test_expanded_size_line_and_field_limits_have_their_own_reasons(lake: Lake):
    contracts = contracts_with(max_line_bytes=4096, max_field_bytes=100, max_file_bytes=1 << 20)
    rows = diner_rows(4)
    rows[1] = rows[1].replace("R1", "R" + "x" * 200)  # a field over 100 bytes
    rows[2] = "C9," + "y" * 10_000  # a line over 4096 bytes
    drop(lake, "diner", "checks", "diner_checks_20260801.csv", data(DINER_HEADER, rows))
    drop(lake, "diner", "checks", "diner_checks_20260802.csv", data(DINER_HEADER, diner_rows(30_000)))  # > 1 MiB
    rows_by = by_name(ingest(lake, contracts=contracts))
    m = rows_by["diner_checks_20260801.csv"]
    assert (m.rows_read, m.rows_landed, m.rows_quarantined) == (4, 2, 2)
    q = {r["line"]: r for r in quarantine(lake) if r["source"].endswith("0801.csv")}
    assert q[3]["reason"] == "field_too_long" and "store_id: 201 bytes" in q[3]["detail"]
    assert q[4]["reason"] == "line_too_long" and "10,003 bytes" in q[4]["detail"] and len(q[4]["record"]) <= 2000
    assert rows_by["diner_checks_20260802.csv"].reason == "too_large"


def test_a_long_run_of_blank_lines_carries_nothing(lake: Lake):
    body = DINER_HEADER.encode() + b"\n" + b"\n" * 2_000_000 + data("", diner_rows(2))[1:]
    drop(lake, "diner", "checks", "diner_checks_20260801.csv", body)
    (m,) = ingest(lake).rows
    assert (m.rows_read, m.rows_landed) == (2, 2)
    assert sorted(r["_line"] for r in raw(lake, "diner", "checks")) == [2_000_002, 2_000_003]


@pytest.mark.parametrize("name,body", [
    ("diner_checks_20260801.csv", b""),
    ("dept_receipts_20260801.jsonl", b""),
    ("app_events_20260801.jsonl.gz", gzip.compress(b"")),
    ("sm_sales_20260801.parquet", b""),
])
def test_an_empty_file_is_empty_file(lake: Lake, name: str, body: bytes):
    company, feed = {"diner": ("diner", "checks"), "dept": ("dept", "receipts"), "app": ("app", "events"),
                     "sm": ("sm", "sales")}[name.split("_")[0]]
    drop(lake, company, feed, name, body)
    (m,) = ingest(lake).rows
    assert (m.status, m.reason) == ("rejected", "empty_file") or (m.reason == "unreadable_file" and not body), m
    if name.endswith(".parquet"):
        assert m.reason in ("empty_file", "unreadable_file")
    else:
        assert m.reason == "empty_file"


# --- schema drift -----------------------------------------------------------------------------

def test_an_undeclared_column_never_lands_its_drift_is_recorded_and_reject_stays_available(lake: Lake):
    body = data(DINER_HEADER + ",server_name", [r + ",Aoki Taro" for r in diner_rows(3)])
    drop(lake, "diner", "checks", "diner_checks_20260801.csv", body)
    (m,) = ingest(lake).rows
    assert (m.status, m.rows_landed, m.drift) == ("landed", 3, ["server_name"])
    landed = raw(lake, "diner", "checks")
    assert len(landed) == 3 and all("server_name" not in r and "Aoki" not in json.dumps(r, default=str)
                                    for r in landed)
    events = [r["event"] for r in manifest.ledger(lake).records()]
    assert events == ["landed", "drift"]
    strict = [dataclasses.replace(c, extra_columns="reject") if c.feed == "checks" else c for c in load_contracts()]
    drop(lake, "diner", "checks", "diner_checks_20260802.csv", body)
    (m2,) = ingest(lake, contracts=strict).rows
    assert (m2.status, m2.reason) == ("rejected", "extra_columns") and "server_name" in m2.detail


def test_json_drift_is_recorded_from_the_keys_of_sampled_records(lake: Lake):
    events = [{"event_id": f"E{i}", "gid": GID, "event_type": "app_open", "occurred_at": 1785546000000,
               "app": "group", "properties": {"screen": "home", "ab_bucket": "B"}, "device_id": "X"}
              for i in range(5)]
    drop(lake, "app", "events", "app_events_20260801.jsonl.gz",
         gzip.compress("\n".join(json.dumps(e) for e in events).encode() + b"\n"))
    (m,) = ingest(lake).rows
    assert (m.rows_landed, m.drift) == (5, ["device_id", "properties.ab_bucket"])
    assert all("device_id" not in r for r in raw(lake, "app", "events"))


def test_parquet_extract_with_an_extra_column_lands_the_declared_ones(lake: Lake):
    t = pa.table({"receipt_id": ["R1"], "store_code": ["M1"], "local_member_id": ["SM000000001"],
                  "ts": pa.array([1785546000000000], pa.timestamp("us")), "category_code": ["k1"],
                  "quantity": pa.array([1], pa.int32()), "amount": pa.array([100], pa.int64()),
                  "cashier": ["Sato"]})
    buf = io.BytesIO()
    pq.write_table(t, buf)
    drop(lake, "sm", "sales", "sm_sales_20260801.parquet", buf.getvalue())
    (m,) = ingest(lake).rows
    assert (m.rows_landed, m.drift) == (1, ["cashier"]) and "cashier" not in raw(lake, "sm", "sales")[0]


def test_limits_are_checked_when_a_contract_is_loaded():
    with pytest.raises(Exception, match="unknown limits"):
        Limits.from_spec({"max_lines": 3}, "x.yml")
