"""Ingestion redacts PII typed into free text in full-width characters too (NFKC first), and keeps other text."""

from __future__ import annotations

from ingestion.engine import ingest
from lake.storage import Lake
from tests.conftest import drop
from tests.unit.test_ingest import dept_receipt, quarantine, raw


def test_full_width_pii_in_free_text_is_redacted(lake: Lake) -> None:
    lines = [
        dept_receipt(1, "配送時連絡 ０９０－１２３４－５６７８ 様"),
        dept_receipt(2, "領収書をメール送付 ｔａｒｏ＠ｅｘａｍｐｌｅ．ｊｐ"),
        dept_receipt(3, "お直し ３日後受取"),
        dept_receipt(4, "call 090-1111-2222"),
    ]
    drop(lake, "dept", "receipts", "dept_receipts_20260801.jsonl", ("\n".join(lines) + "\n").encode())
    (row,) = ingest(lake).rows
    assert (row.rows_landed, row.rows_redacted) == (4, 3)
    notes = [r["note"] for r in raw(lake, "dept", "receipts")]
    assert notes == ["配送時連絡 [phone] 様", "領収書をメール送付 [email]", "お直し ３日後受取", "call [phone]"]
    assert {r["line"]: r["detail"] for r in quarantine(lake)} == {1: "phone", 2: "email", 4: "phone"}
