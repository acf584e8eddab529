"""Shared fixtures: an empty lake in a temporary folder, and helpers to drop extracts into it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lake.config import LakeConfig
from lake.storage import Lake

os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")


@pytest.fixture
def lake(tmp_path: Path) -> Lake:
    """A fresh local-folder lake."""
    return Lake(LakeConfig.resolve(str(tmp_path / "lake")))


def drop(lake: Lake, company: str, feed: str, name: str, data: bytes) -> None:
    """Put an extract into a landing zone, as a company would."""
    lake.write_bytes(f"landing-{company}", f"{feed}/{name}", data)
