"""Property: whatever a company sends, every record is landed or quarantined exactly once."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pyarrow.parquet as pq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingestion.engine import ingest
from ingestion.validate import FILE_REASONS
from lake.config import LakeConfig
from lake.storage import Lake
from tests.conftest import drop

HEADER = "check_id,store_id,gid,visited_at,party_size,total_yen"

field = st.one_of(
    st.sampled_from(["C1", "R9", "", " 42 ", "-7", "100000000008", "123456789012", "2026-08-01 12:00",
                     "2026-08-01 25:61", "2030-01-01 00:00", "ABC", "0", '"quoted, comma"', '"two\nlines"']),
    st.text(alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters='\r\n",'), max_size=8),
)
row = st.lists(field, min_size=4, max_size=8).map(lambda fs: ",".join(fs))
good_row = st.builds(lambda i, amt: f"C{i},R1,100000000008,2026-08-01 12:00,2,{amt}",
                     st.integers(0, 10**6), st.integers(-5, 5000))
body = st.lists(st.one_of(row, good_row, st.just("")), min_size=0, max_size=40)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=body, final_newline=st.booleans())
def test_every_record_is_landed_or_quarantined_exactly_once(tmp_path_factory, lines, final_newline):
    lake = Lake(LakeConfig.resolve(str(tmp_path_factory.mktemp("lake"))))
    text = "\n".join([HEADER, *lines]) + ("\n" if final_newline else "")
    data = text.encode("utf-8")
    drop(lake, "diner", "checks", "diner_checks_20260801.csv", data)
    (m,) = ingest(lake).rows
    assert m.rows_read == m.rows_landed + m.rows_quarantined
    if m.status != "landed":
        assert m.reason in FILE_REASONS and m.rows_read == 0
        return
    records = list(csv.reader(io.StringIO(text.split("\n", 1)[1] if "\n" in text else "", newline="")))
    assert m.rows_read == len(records)
    landed = _lines(lake, "raw-diner", "_line")
    quarantined = _lines(lake, "quarantine", "line")
    assert not set(landed) & set(quarantined)
    assert len(landed) + len(quarantined) == m.rows_read == len(set(landed) | set(quarantined))


def _lines(lake: Lake, zone: str, column: str) -> list[int]:
    out: list[int] = []
    for f in lake.list_files(zone):
        if f.endswith(".parquet") and "_staging" not in f:
            out += pq.read_table(Path(lake.path(zone, f)), columns=[column]).column(column).to_pylist()
    return out
