"""Append-only records on the real S3 server: an exclusive put never replaces a record, and the chain verifies."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest

from infra import access
from lake import layout
from lake.ledger import Ledger
from lake.storage import Lake

pytestmark = pytest.mark.integration


def test_create_bytes_refuses_an_existing_key(s3_lake: Callable[..., Lake]) -> None:
    lake = s3_lake("ledger-", principal=access.ADMIN)
    lake.create_bytes(layout.OPS, "audit/exports/probe.json", b"first")
    with pytest.raises(FileExistsError, match="already exists"):
        lake.create_bytes(layout.OPS, "audit/exports/probe.json", b"second")
    assert lake.read_bytes(layout.OPS, "audit/exports/probe.json") == b"first"


def test_ledger_on_s3_as_its_writer(s3_lake: Callable[..., Lake]) -> None:
    # The policy's grants name the zones' own buckets (no prefix); a sub-ledger keeps this test's records apart.
    lake = s3_lake(principal=access.EXPORTS)  # the export job owns the export audit log
    prefix = f"{layout.EXPORT_AUDIT}/test-{uuid.uuid4().hex[:8]}"
    led = Ledger(lake, layout.OPS, prefix)
    for i in range(3):
        led.append({"event": "export", "n": i})
    stale = Ledger(lake, layout.OPS, prefix)
    stale.head()
    led.append({"event": "export", "n": 3})
    with pytest.raises(FileExistsError):
        stale.append({"event": "export", "n": 99})  # a second writer that lost the race is refused
    assert [r["n"] for r in Ledger(lake, layout.OPS, prefix).records()] == [0, 1, 2, 3]
    assert led.verify(expect_at_least=3) == []
