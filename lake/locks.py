"""One lock per stage per lake, so two runs of a stage are never interleaved (DESIGN §9).

    with locks.stage_lock(lake, "transform"):
        ...

A second run of the same stage on the same lake refuses at once with a message naming the holder
(or waits up to `wait` seconds). Different stages do not block each other.
- Local folder: an advisory lock (`flock`) on `ops/locks/<stage>.lock`; the kernel releases it when
  the holder exits, however it exits (SIGKILL included). The file says who holds it.
- S3: a lease object `ops/locks/<stage>.lock` (owner, host, pid, expiry) created with a conditional
  put (`If-None-Match: *`), so of two runs starting together exactly one wins. The holder renews the
  lease in the background; a holder killed without releasing blocks the stage until its lease expires
  (`LEASE_SECONDS`), then the next run takes it over with a conditional put on the old lease's ETag.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

from lake import layout
from lake.errors import LakeError
from lake.storage import Lake

LEASE_SECONDS = 120.0
POLL_SECONDS = 0.5


class StageLock:
    """A held lock; `lost` turns true if an S3 lease could not be renewed (another run took it over)."""

    def __init__(self, stage: str, owner: dict) -> None:
        self.stage, self.owner = stage, owner
        self.lost = False

    def check(self) -> None:
        """Raise if the lock was lost: call before publishing anything."""
        if self.lost:
            raise LakeError(f"the {self.stage} lock of this lake was taken over by another run while this one "
                            "was stalled; this run stops before publishing anything",
                            f"run `lake {self.stage}` again when the other run has finished")


def _owner(stage: str) -> dict:
    return {"stage": stage, "host": socket.gethostname(), "pid": os.getpid(), "token": uuid.uuid4().hex,
            "since": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}


def _describe(stage: str, holder: dict | None) -> str:
    if not holder:
        return f"another `lake {stage}` is running on this lake"
    return (f"another `lake {stage}` is running on this lake (pid {holder.get('pid')} on {holder.get('host')}, "
            f"since {holder.get('since')})")


@contextlib.contextmanager
def stage_lock(lake: Lake, stage: str, wait: float = 0.0) -> Iterator[StageLock]:
    """Hold the lock of `stage` on `lake` for the block; refuse (or wait up to `wait` seconds) if held."""
    impl = _s3_lock if lake.is_s3 else _folder_lock
    with impl(lake, stage, wait) as held:
        yield held


def _refuse(stage: str, holder: dict | None, waited: float) -> LakeError:
    more = f" (waited {waited:.0f}s)" if waited else ""
    return LakeError(_describe(stage, holder) + more,
                     "wait for it to finish (or pass --wait SECONDS); a second run is refused so the two "
                     "never interleave")


@contextlib.contextmanager
def _folder_lock(lake: Lake, stage: str, wait: float) -> Iterator[StageLock]:
    path = Path(lake.path(layout.OPS, layout.lock(stage)))
    path.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + wait
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise _refuse(stage, _read_json(path), wait) from None
                time.sleep(POLL_SECONDS)
        owner = _owner(stage)
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(owner).encode(), 0)
        try:
            yield StageLock(stage, owner)
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text() or "null")
    except (OSError, ValueError):
        return None


@contextlib.contextmanager
def _s3_lock(lake: Lake, stage: str, wait: float) -> Iterator[StageLock]:
    from botocore.exceptions import ClientError

    client = lake.s3_client()
    bucket, key = lake.bucket(layout.OPS), layout.lock(stage)
    owner = _owner(stage)

    def body() -> bytes:
        expires = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=LEASE_SECONDS)
        return json.dumps({**owner, "expires": expires.isoformat(timespec="seconds")}).encode()

    def code(e: ClientError) -> str:
        return str(e.response.get("Error", {}).get("Code", ""))

    deadline = time.monotonic() + wait
    etag = None
    while etag is None:
        try:
            etag = client.put_object(Bucket=bucket, Key=key, Body=body(), IfNoneMatch="*")["ETag"]
            break
        except ClientError as e:
            if code(e) not in ("PreconditionFailed", "412", "ConditionalRequestConflict"):
                raise
        try:  # held: take it over if its lease expired, else refuse or wait
            got = client.get_object(Bucket=bucket, Key=key)
            holder = json.loads(got["Body"].read() or b"null")
        except ClientError as e:
            if code(e) in ("NoSuchKey", "404"):
                continue  # released in between: try again
            raise
        expires = dt.datetime.fromisoformat(holder["expires"]) if holder and holder.get("expires") else None
        if expires is None or expires < dt.datetime.now(dt.UTC):
            try:
                etag = client.put_object(Bucket=bucket, Key=key, Body=body(), IfMatch=got["ETag"])["ETag"]
                break
            except ClientError as e:
                if code(e) not in ("PreconditionFailed", "412", "ConditionalRequestConflict"):
                    raise
                continue  # another run took it over first
        if time.monotonic() >= deadline:
            raise _refuse(stage, holder, wait)
        time.sleep(POLL_SECONDS)

    held = StageLock(stage, owner)
    stop = threading.Event()
    state = {"etag": etag}

    def renew() -> None:
        while not stop.wait(LEASE_SECONDS / 3):
            try:
                state["etag"] = client.put_object(Bucket=bucket, Key=key, Body=body(), IfMatch=state["etag"])["ETag"]
            except ClientError as e:
                if code(e) in ("PreconditionFailed", "412", "NoSuchKey", "404"):
                    held.lost = True
                    return
            except Exception:  # the store may be restarting: try again at the next beat
                continue

    beat = threading.Thread(target=renew, name=f"lease-{stage}", daemon=True)
    beat.start()
    try:
        yield held
    finally:
        stop.set()
        beat.join(timeout=5)
        if not held.lost:
            with contextlib.suppress(ClientError):
                client.delete_object(Bucket=bucket, Key=key, IfMatch=state["etag"])
