"""Where generated files go: a zone (e.g. ``landing-cvs``) and a path inside it."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Protocol, runtime_checkable


@runtime_checkable
class Sink(Protocol):
    """Receives whole files. ``zone`` is e.g. ``landing-cvs``; ``path`` is relative inside the zone.

    ``generate`` writes the daily files from its worker threads (each file once, from one thread), so
    ``write_bytes`` must be safe to call from several threads at once."""

    def write_bytes(self, zone: str, path: str, data: bytes) -> None: ...


def _check_rel(path: str) -> None:
    p = Path(path)
    if p.is_absolute() or ".." in p.parts or not path:
        raise ValueError(f"sink path must be relative inside its zone, got {path!r}")


class LocalSink:
    """Writes ``root/zone/path``, creating folders; each file is written atomically (temp file + rename)."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    def write_bytes(self, zone: str, path: str, data: bytes) -> None:
        _check_rel(zone)
        _check_rel(path)
        target = self.root / zone / path
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise

    def __repr__(self) -> str:
        return f"LocalSink({str(self.root)!r})"


class MemorySink:
    """Keeps files in a dict ``{(zone, path): bytes}``; handy for tests."""

    def __init__(self) -> None:
        self.files: dict[tuple[str, str], bytes] = {}

    def write_bytes(self, zone: str, path: str, data: bytes) -> None:
        _check_rel(zone)
        _check_rel(path)
        self.files[(zone, path)] = bytes(data)


class NullSink:
    """Discards everything (for timing the generator alone)."""

    def write_bytes(self, zone: str, path: str, data: bytes) -> None:
        return None
