"""Ingestion against hand-made extracts: every bad-input kind gets its reason, nothing is lost."""

from __future__ import annotations

import gzip
import io
import json

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from ingestion import manifest
from ingestion.engine import ingest
from lake.storage import Lake
from tests.conftest import drop

CVS_HEADER = "取引ID,店舗コード,会員ID,取引日時,商品カテゴリ,数量,金額(税込),支払方法"
GID = "100000000008"  # 10000000000 + Luhn check digit 8
GID2 = "123456789015"


def raw(lake: Lake, company: str, feed: str) -> list[dict]:
    files = [f for f in lake.list_files(f"raw-{company}", feed) if f.endswith(".parquet")]
    if not files:
        return []
    con = duckdb.connect()
    paths = [lake.path(f"raw-{company}", f) for f in files]
    sql = "SELECT * FROM read_parquet(?, hive_partitioning=true) ORDER BY _line"
    return con.execute(sql, [paths]).to_arrow_table().to_pylist()


def quarantine(lake: Lake) -> list[dict]:
    files = lake.list_files("quarantine", "rows")
    if not files:
        return []
    t = pa.concat_tables([pq.read_table(lake.path("quarantine", f)) for f in files])
    return sorted(t.to_pylist(), key=lambda r: (r["source"], r["line"] or 0))


def test_cp932_pos_file_lands_with_japanese_decoded_and_each_bad_row_quarantined(lake):
    lines = [
        CVS_HEADER,
        f"T1,S1,{GID},2026/08/01 10:00:00,C1,1,500,現金",
        f"T1,S1,{GID},2026/08/01 10:00:00,C2,2,-5,現金",          # negative amount
        "T2,S1,,2026/08/01 25:00:00,C1,1,500,クレジット",          # unparseable time
        "T3,S1,100000000001,2026/08/01 11:00:00,C1,1,500,電子マネー",  # bad check digit
        "T4,S1,,2026/09/30 11:00:00,C1,1,500,コード決済",          # future date
        "T5,S1,,2026/08/01 11:00:00,C1,1",                        # missing fields
        "T6,S2,,2026/08/01 23:59:00,C1,1,100,ポイント",            # not an agreed payment method
        ",S2,,2026/08/01 23:59:00,C1,1,100,現金",                  # missing transaction id
        "T7,S2,,2026/08/02 00:30:00,C1,3,300,電子マネー",          # next day, still fine
    ]
    drop(lake, "cvs", "pos", "cvs_pos_20260801.csv", ("\r\n".join(lines) + "\r\n").encode("cp932"))
    summary = ingest(lake)
    (row,) = summary.rows
    assert (row.rows_read, row.rows_landed, row.rows_quarantined) == (9, 2, 7)
    landed = raw(lake, "cvs", "pos")
    assert [r["_line"] for r in landed] == [2, 10]
    assert [r["payment_method"] for r in landed] == ["cash", "emoney"]
    assert landed[0]["gid"] == GID
    # 10:00 JST is 01:00 UTC; the partition is the JST date
    assert landed[0]["purchased_at"].isoformat() == "2026-08-01T01:00:00+00:00"
    assert [str(r["date"]) for r in landed] == ["2026-08-01", "2026-08-02"]
    got = {r["line"]: r["reason"] for r in quarantine(lake)}
    assert got == {3: "negative_amount", 4: "unparseable_time", 5: "bad_gid", 6: "future_date",
                   7: "malformed_row", 8: "invalid_value", 9: "missing_required"}
    # the rejected row keeps its text, decoded from cp932
    assert "クレジット" in next(r["record"] for r in quarantine(lake) if r["line"] == 4)


def test_utf8_file_under_a_cp932_contract_is_rejected_whole_as_wrong_encoding(lake):
    data = (CVS_HEADER + "\n" + f"T1,S1,{GID},2026/08/01 10:00:00,C1,1,500,現金\n").encode("utf-8")
    drop(lake, "cvs", "pos", "cvs_pos_20260801.csv", data)
    (row,) = ingest(lake).rows
    assert row.status == "rejected" and row.reason == "wrong_encoding"
    assert "utf-8" in row.detail and "cp932" in row.detail
    assert raw(lake, "cvs", "pos") == []
    (q,) = quarantine(lake)
    assert q["reason"] == "wrong_encoding" and q["action"] == "file_rejected"
    assert lake.read_bytes("quarantine", q["record"].split("/", 1)[1]) == data  # kept byte for byte


GMS = "receipt_no,line_no,store_cd,member_no,sold_at,dept_cd,qty,net_amount,tax_amount,channel"


def test_bom_csv_lands_a_missing_column_rejects_the_file_an_extra_one_is_drift(lake):
    good = "\ufeff" + GMS + "\nR1,1,G1,,2026-08-01T10:00:00+09:00,D1,1,100,8,store\n"
    drop(lake, "gms", "sales", "gms_sales_20260801.csv", good.encode("utf-8"))
    missing = GMS.replace(",tax_amount", "") + "\nR1,1,G1,,2026-08-02T10:00:00+09:00,D1,1,100,store\n"
    drop(lake, "gms", "sales", "gms_sales_20260802.csv", missing.encode("utf-8"))
    extra = GMS + ",memo\nR2,1,G1,,2026-08-03T10:00:00+09:00,D1,1,100,8,store,x\n"
    drop(lake, "gms", "sales", "gms_sales_20260803.csv", extra.encode("utf-8"))
    rows = {r.source.rsplit("/", 1)[1]: r for r in ingest(lake).rows}
    assert rows["gms_sales_20260801.csv"].rows_landed == 1
    assert rows["gms_sales_20260802.csv"].reason == "missing_columns"
    assert "tax_amount" in rows["gms_sales_20260802.csv"].detail
    # the default policy lands the declared columns, never the undeclared one, and records the drift
    drifted = rows["gms_sales_20260803.csv"]
    assert (drifted.status, drifted.rows_landed, drifted.drift) == ("landed", 1, ["memo"])
    landed = {r["receipt_no"]: r for r in raw(lake, "gms", "sales")}  # both on line 1 of their file
    assert sorted(landed) == ["R1", "R2"] and all("memo" not in r for r in landed.values())
    assert landed["R1"]["net_amount_yen"] == 100 and landed["R1"]["tax_amount_yen"] == 8


def dept_receipt(i: int, note: str | None, customer: dict | None = None, **over) -> str:
    r = {"receipt_id": f"D{i}", "store_id": "DS1", "issued_at": "2026-08-01T15:00:00+09:00",
         "customer": customer, "items": [{"sku": "A", "category": "c1", "qty": 1, "price_yen": 1000}],
         "total_yen": 1000, "payment": "card", "note": note}
    r.update(over)
    return json.dumps(r, ensure_ascii=False)


def test_pii_typed_into_free_text_is_redacted_and_reported(lake):
    lines = [
        dept_receipt(1, "gift wrap please", {"gid": GID, "name": "山田花子", "phone": "090-1111-2222",
                                             "email": "h@example.jp"}),
        dept_receipt(2, "call back on 090-1234-5678 or mail taro@example.com"),
        dept_receipt(3, None, items=[{"sku": "A", "category": "c1", "qty": 1, "price_yen": -1}]),
        "{not json",
        dept_receipt(5, None, customer={"gid": "12345"}),
    ]
    drop(lake, "dept", "receipts", "dept_receipts_20260801.jsonl", ("\n".join(lines) + "\n").encode())
    (row,) = ingest(lake).rows
    assert (row.rows_read, row.rows_landed, row.rows_quarantined, row.rows_redacted) == (5, 2, 3, 1)
    landed = raw(lake, "dept", "receipts")
    assert landed[1]["note"] == "call back on [phone] or mail [email]"
    assert landed[0]["customer_name"] == "山田花子"  # PII may stay in the company's raw zone
    assert landed[0]["items"] == [{"sku": "A", "category": "c1", "qty": 1, "price_yen": 1000}]
    q = {r["line"]: (r["reason"], r["action"]) for r in quarantine(lake)}
    assert q == {2: ("pii_in_free_text", "redacted"), 3: ("negative_amount", "rejected"),
                 4: ("malformed_json", "rejected"), 5: ("bad_gid", "rejected")}
    # the redaction record never copies the PII it found
    assert all("090-1234" not in (r["record"] or "") + (r["detail"] or "") for r in quarantine(lake))


def app_events(n: int) -> bytes:
    lines = [json.dumps({"event_id": f"E{i}", "gid": GID, "event_type": "app_open", "occurred_at": 1785546000000,
                         "app": "group", "properties": {"screen": "home"}}) for i in range(n)]
    return gzip.compress(("\n".join(lines) + "\n").encode())


def test_truncated_gzip_is_rejected_whole_and_other_files_still_land(lake):
    data = app_events(2000)
    drop(lake, "app", "events", "app_events_20260801.jsonl.gz", data[: len(data) // 2])
    drop(lake, "app", "events", "app_events_20260802.jsonl.gz", app_events(3))
    rows = {r.source.rsplit("/", 1)[1]: r for r in ingest(lake).rows}
    assert rows["app_events_20260801.jsonl.gz"].reason == "truncated_file"
    assert rows["app_events_20260802.jsonl.gz"].rows_landed == 3
    ev = raw(lake, "app", "events")[0]
    assert ev["occurred_at"].isoformat() == "2026-08-01T01:00:00+00:00" and ev["screen"] == "home"


def test_truncated_csv_is_rejected_whole(lake):
    body = "check_id,store_id,gid,visited_at,party_size,total_yen\n" + "".join(
        f"C{i},R1,,2026-08-01 12:00,2,1500\n" for i in range(100))
    drop(lake, "diner", "checks", "diner_checks_20260801.csv", body[:-12].encode())
    (row,) = ingest(lake).rows
    assert row.reason == "truncated_file" and "line 101" in row.detail


def test_the_same_file_twice_changes_nothing_and_a_resent_copy_is_a_duplicate(lake):
    body = b"check_id,store_id,gid,visited_at,party_size,total_yen\nC1,R1,,2026-08-01 12:00,2,1500\n"
    drop(lake, "diner", "checks", "diner_checks_20260801.csv", body)
    first = ingest(lake)

    def published():  # every run adds its own run record to ops/runs: that is the point of the run log
        return {z: [f for f in lake.list_files(z) if not f.startswith("runs/")] for z in ("raw-diner", "quarantine",
                                                                                          "ops")}

    files_after_first = published()
    second = ingest(lake)
    assert second.rows == [] and second.skipped == 1
    assert published() == files_after_first
    drop(lake, "diner", "checks", "diner_checks_20260801_resend.csv", body)
    (dup,) = ingest(lake).rows
    assert dup.status == "duplicate" and dup.reason == "duplicate_file"
    assert first.rows[0].source in dup.detail
    assert len(raw(lake, "diner", "checks")) == 1
    assert [r["reason"] for r in quarantine(lake)] == ["duplicate_file"]


def test_quoted_line_breaks_keep_exact_line_numbers(lake):
    body = ("company,store_id,name,prefecture,city,lat,lon,format,opened_on\n"
            'cvs,S1,"Shop ""One""\nAnnex",Tokyo,Chiyoda,35.6,139.7,cvs,2020-01-01\n'
            "cvs,S2,Two,Tokyo,Chiyoda,abc,139.7,cvs,2020-01-01\n"
            "cvs,S3,Three,Osaka,Kita,34.7,135.5,cvs,2021-02-03\n")
    drop(lake, "cvs", "stores", "stores.csv", body.encode())
    (row,) = ingest(lake).rows
    assert (row.rows_read, row.rows_landed, row.rows_quarantined) == (3, 2, 1)
    assert [r["_line"] for r in raw(lake, "cvs", "stores")] == [2, 5]
    assert raw(lake, "cvs", "stores")[0]["name"] == 'Shop "One"\nAnnex'
    assert [(r["line"], r["reason"]) for r in quarantine(lake)] == [(4, "invalid_number")]


def test_parquet_extract_with_naive_jst_times(lake):
    t = pa.table({
        "receipt_id": ["R1", "R2"], "store_code": ["M1", "M1"], "local_member_id": ["SM000000001", None],
        "ts": pa.array([pa.scalar(1785546000000000, pa.timestamp("us")).as_py()] * 2, pa.timestamp("us")),
        "category_code": ["k1", "k2"], "quantity": pa.array([1, 2], pa.int32()),
        "amount": pa.array([100, 200], pa.int64()),
    })
    buf = io.BytesIO()
    pq.write_table(t, buf)
    drop(lake, "sm", "sales", "sm_sales_20260801.parquet", buf.getvalue())
    drop(lake, "sm", "sales", "sm_sales_20260802.parquet", b"PAR1 not really")
    rows = {r.source.rsplit("/", 1)[1]: r for r in ingest(lake).rows}
    assert rows["sm_sales_20260801.parquet"].rows_landed == 2
    assert rows["sm_sales_20260802.parquet"].reason == "unreadable_file"
    first = raw(lake, "sm", "sales")[0]
    # 2026-08-01 01:00 written as a naive JST wall time is 2026-07-31 16:00 UTC
    assert first["sold_at"].isoformat() == "2026-07-31T16:00:00+00:00"


def test_every_manifest_row_reconciles_and_is_readable(lake):
    drop(lake, "diner", "checks", "diner_checks_20260801.csv",
         b"check_id,store_id,gid,visited_at,party_size,total_yen\nC1,R1,,2026-08-01 12:00,2,-1\n")
    drop(lake, "diner", "checks", "unexpected.txt", b"hello")
    ingest(lake)
    table = manifest.read_all(lake).to_pylist()
    assert {r["status"] for r in table} == {"landed", "rejected"}
    assert all(r["rows_read"] == r["rows_landed"] + r["rows_quarantined"] for r in table)
    assert next(r for r in table if r["source"].endswith("unexpected.txt"))["reason"] == "no_contract"
