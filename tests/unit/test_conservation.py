"""Property: whatever a company sends, every record is landed or quarantined exactly once.

The fuzzer mixes good rows with malformed ones, quoted line breaks, blank lines, undecodable bytes,
control and invisible characters, lines over the contract's limit and repeated record keys.
"""

from __future__ import annotations

import csv
import dataclasses
import io
from pathlib import Path

import pyarrow.parquet as pq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingestion.contracts import load_contracts
from ingestion.engine import ingest
from ingestion.validate import FILE_REASONS
from lake.config import LakeConfig
from lake.storage import Lake
from tests.conftest import drop

HEADER = "check_id,store_id,gid,visited_at,party_size,total_yen"
MAX_LINE = 200
# placeholders replaced by raw bytes after encoding (text cannot hold undecodable bytes)
BAD_BYTES = {"\u2460": b"\xff\xfe", "\u2461": b"\xc3", "\u2462": b"\x80"}

field = st.one_of(
    st.sampled_from(["C1", "R9", "", " 42 ", "-7", "100000000008", "123456789012", "2026-08-01 12:00",
                     "2026-08-01 25:61", "2030-01-01 00:00", "ABC", "0", '"quoted, comma"', '"two\nlines"',
                     "x\u2460y", "\u2461", "1\u2462", "S\x071", "\ue000", "tab\there", "\u200b9"]),
    st.text(alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters='\r\n",'), max_size=8),
)
row = st.lists(field, min_size=4, max_size=8).map(lambda fs: ",".join(fs))
# few distinct check ids, so repeated records (duplicate_record) are common
good_row = st.builds(lambda i, amt: f"C{i},R1,100000000008,2026-08-01 12:00,2,{amt}",
                     st.integers(0, 6), st.integers(-5, 5000))
long_line = st.integers(MAX_LINE + 1, 3 * MAX_LINE).map(lambda n: "L" * n)
body = st.lists(st.one_of(row, good_row, good_row, st.just(""), long_line), min_size=0, max_size=40)


def contracts():
    return [dataclasses.replace(c, limits=dataclasses.replace(c.limits, max_line_bytes=MAX_LINE))
            for c in load_contracts()]


def encode(text: str) -> bytes:
    data = text.encode("utf-8")
    for ch, raw in BAD_BYTES.items():
        data = data.replace(ch.encode("utf-8"), raw)
    return data


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=body, final_newline=st.booleans())
def test_every_record_is_landed_or_quarantined_exactly_once(tmp_path_factory, lines, final_newline):
    lake = Lake(LakeConfig.resolve(str(tmp_path_factory.mktemp("lake"))))
    text = "\n".join([HEADER, *lines]) + ("\n" if final_newline else "")
    data = encode(text)
    drop(lake, "diner", "checks", "diner_checks_20260801.csv", data)
    (m,) = ingest(lake, contracts=contracts()).rows
    assert m.rows_read == m.rows_landed + m.rows_quarantined
    if m.status != "landed":
        assert m.reason in FILE_REASONS and m.rows_read == 0
        return
    # the records a CSV parser sees in the same bytes (latin-1 keeps every byte; a blank line is no record)
    after_header = data.split(b"\n", 1)[1].decode("latin-1") if b"\n" in data else ""
    records = [r for r in csv.reader(io.StringIO(after_header, newline="")) if r]
    assert m.rows_read == len(records)
    landed = _lines(lake, "raw-diner", "_line")
    quarantined = _lines(lake, "quarantine", "line")
    assert not set(landed) & set(quarantined)
    assert len(landed) + len(quarantined) == m.rows_read == len(set(landed) | set(quarantined))
    assert m.rows_duplicate == sum(1 for _ in _reasons(lake) if _ == "duplicate_record")


def _lines(lake: Lake, zone: str, column: str) -> list[int]:
    out: list[int] = []
    for f in lake.list_files(zone):
        if f.endswith(".parquet") and "_staging" not in f:
            out += pq.read_table(Path(lake.path(zone, f)), columns=[column]).column(column).to_pylist()
    return out


def _reasons(lake: Lake) -> list[str]:
    out: list[str] = []
    for f in lake.list_files("quarantine", "rows"):
        out += pq.read_table(Path(lake.path("quarantine", f)), columns=["reason"]).column("reason").to_pylist()
    return out
