"""Retries with backoff on object-store errors, and only on those.

A restarting or briefly unreachable object store (S3, SeaweedFS) is worth another try after a pause; a data
error (a LakeError: a refused gate, a bad contract) is not: it fails the step at once, with its reason.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from lake.errors import LakeError

MAX_RETRIES = 3
BASE_SECONDS = 5.0  # 5, 10, 20 s: longer than SeaweedFS takes to restart

# What pyarrow's S3 filesystem and botocore say when the store cannot be reached or is overloaded.
_MARKERS = ("AWS Error NETWORK_CONNECTION", "AWS Error SLOW_DOWN", "AWS Error SERVICE_UNAVAILABLE",
            "AWS Error INTERNAL_FAILURE", "AWS Error REQUEST_TIMEOUT", "Could not connect to the endpoint",
            "Connection refused", "Connection reset", "curlCode: 7", "ServiceUnavailable", "SlowDown",
            "InternalError", "503", "Read timeout")


def is_object_store_error(exc: BaseException) -> bool:
    """True when `exc` (or what caused it) is the object store being unreachable or overloaded."""
    seen: set[int] = set()
    e: BaseException | None = exc
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if isinstance(e, LakeError) and e.__cause__ is None and e.__context__ is None:
            return False  # our own verdict on the data
        if isinstance(e, (ConnectionError, TimeoutError)):
            return True
        name = type(e).__name__
        if name in ("EndpointConnectionError", "ConnectTimeoutError", "ReadTimeoutError", "ConnectionClosedError"):
            return True
        local = isinstance(e, (FileNotFoundError, PermissionError, IsADirectoryError))
        if ((isinstance(e, OSError) and not local) or name == "ClientError") and any(m in str(e) for m in _MARKERS):
            return True
        e = e.__cause__ or e.__context__
    return False


def backoff_seconds(retry_number: int, base: float = BASE_SECONDS) -> float:
    """Exponential backoff: base, 2 base, 4 base, ..."""
    return base * (2 ** retry_number)


@contextmanager
def object_store_retries(context, max_retries: int = MAX_RETRIES, base: float = BASE_SECONDS) -> Iterator[None]:
    """Inside a Dagster op: turn an object-store error into a retry after a backoff; re-raise anything else."""
    from dagster import RetryRequested

    try:
        yield
    except Exception as e:
        if is_object_store_error(e) and context.retry_number < max_retries:
            wait = backoff_seconds(context.retry_number, base)
            context.log.warning(f"object store error, retry {context.retry_number + 1} of {max_retries} "
                                f"in {wait:.0f}s: {e}")
            raise RetryRequested(max_retries=max_retries, seconds_to_wait=wait) from e
        raise
