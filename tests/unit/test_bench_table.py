"""`make bench`'s closing table: the group-zone file check reads real files and says "no" when a partition holds two."""

from __future__ import annotations

from pathlib import Path

from bench.__main__ import table
from bench._harness import file_sizes


def _write(path: Path, size: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * size)


def _demo(group: dict) -> dict:
    return {"demo": {"members": 200_000, "days": 90, "stages": {"generate": 14.0}, "seconds": 300.0,
                     "target_seconds": 90.0, "ratio": 300 / 90, "group_files": group}}


def test_file_sizes_counts_files_per_partition_and_skips_staging_and_hidden_files(tmp_path: Path) -> None:
    _write(tmp_path / "purchases" / "purchase_date=2026-08-01" / "part-0.parquet", 1_000_000)
    _write(tmp_path / "purchases" / "purchase_date=2026-08-02" / "part-0.parquet", 3_000_000)
    _write(tmp_path / "purchases" / "purchase_date=2026-08-02" / ".part-0.parquet.crc", 10)
    _write(tmp_path / "members" / "part-0.parquet", 2_000_000)
    _write(tmp_path / "_staging" / "run" / "purchases" / "part-0.parquet", 5)

    sizes = file_sizes(tmp_path)

    assert sizes == {"members": (1, 1, 2.0), "purchases": (2, 2, 2.0)}


def test_the_table_says_no_when_a_partition_holds_two_files(tmp_path: Path) -> None:
    _write(tmp_path / "purchases" / "purchase_date=2026-08-01" / "part-0.parquet", 100)
    _write(tmp_path / "purchases" / "purchase_date=2026-08-01" / "part-1.parquet", 100)
    _write(tmp_path / "members" / "part-0.parquet", 100)
    two = [row for row in table(_demo(file_sizes(tmp_path))).splitlines() if row.startswith("| group zone")]

    (tmp_path / "purchases" / "purchase_date=2026-08-01" / "part-1.parquet").unlink()
    one = [row for row in table(_demo(file_sizes(tmp_path))).splitlines() if row.startswith("| group zone")]

    assert len(two) == 1 and two[0].endswith("| no |") and "3 files in 2 partitions" in two[0]
    assert len(one) == 1 and one[0].endswith("| yes |") and "2 files in 2 partitions" in one[0]
