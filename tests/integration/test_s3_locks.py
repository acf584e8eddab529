"""Stage locks on S3 (SeaweedFS): a lease object created with a conditional put, taken over when it expires."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from infra import access
from ingestion.engine import ingest
from lake import layout, locks
from lake.errors import LakeError

pytestmark = pytest.mark.integration


def test_the_lease_admits_one_run_and_a_dead_holders_lease_expires(seaweed, s3_lake):
    lake = s3_lake("locks-")
    client = seaweed.client()
    bucket, key = lake.bucket(layout.OPS), layout.lock("ingest")
    with locks.stage_lock(lake, "ingest") as held:
        lease = json.loads(client.get_object(Bucket=bucket, Key=key)["Body"].read())
        assert lease["token"] == held.owner["token"]
        refused = pytest.raises(LakeError, match=r"another `lake ingest` is running on this lake \(pid \d+")
        with refused, locks.stage_lock(lake, "ingest"):
            pass
        with pytest.raises(LakeError, match="another `lake ingest` is running"):
            ingest(lake)  # the engine takes the same lock
        with locks.stage_lock(lake, "transform"):  # another stage has its own lock
            pass
    assert client.list_objects_v2(Bucket=bucket, Prefix=key).get("KeyCount", 0) == 0  # released

    # A holder killed without releasing: its lease blocks the stage until it expires, then is taken over.
    expired = {"stage": "ingest", "host": "gone", "pid": 1, "token": "dead",
               "since": "2026-01-01T00:00:00+00:00",
               "expires": (dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)).isoformat()}
    client.put_object(Bucket=bucket, Key=key, Body=json.dumps(expired).encode())
    with locks.stage_lock(lake, "ingest") as held:
        now = json.loads(client.get_object(Bucket=bucket, Key=key)["Body"].read())
        assert now["token"] == held.owner["token"] != "dead"
    alive = {**expired, "expires": (dt.datetime.now(dt.UTC) + dt.timedelta(seconds=60)).isoformat()}
    client.put_object(Bucket=bucket, Key=key, Body=json.dumps(alive).encode())
    with pytest.raises(LakeError, match="pid 1 on gone"), locks.stage_lock(lake, "ingest", wait=1.0):
        pass
    client.delete_object(Bucket=bucket, Key=key)


def test_the_ingestion_identity_can_hold_the_lock(seaweed, s3_lake):
    # identities are granted the unprefixed zone buckets (made by the session fixture)
    lake = s3_lake("", principal=access.INGESTION)
    with locks.stage_lock(lake, "ingest"):
        assert seaweed.client().head_object(Bucket="ops", Key=layout.lock("ingest"))
    analyst = s3_lake("", principal=access.ANALYST)  # and an analyst cannot take it
    with pytest.raises(Exception, match=r"AccessDenied|Forbidden|403"), locks.stage_lock(analyst, "ingest"):
        pass
