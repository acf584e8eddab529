"""Where the pseudonymisation key comes from (DESIGN §9: from the environment or a secrets file, never code).

In order: `LAKE_PSEUDONYM_KEY` (the key itself), `LAKE_PSEUDONYM_KEY_FILE` (a file holding it), then
`<state folder>/secrets/pseudonym.key`. Only the embedded default (a lake in a local folder) may create
that file with a random key on first use; anywhere else a missing key is an error, because a key made
up on one machine would hash differently from the next run's, and every pseudonym would change.

The key is used only through `masters.with_keyed_hash`, which keeps it out of Spark plans and logs.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from lake.config import state_dir
from lake.errors import LakeError
from lake.storage import Lake

ENV_KEY = "LAKE_PSEUDONYM_KEY"
ENV_FILE = "LAKE_PSEUDONYM_KEY_FILE"
MIN_BYTES = 16


def key_file() -> Path:
    """The secrets file of this checkout (outside the lake and outside git)."""
    return state_dir() / "secrets" / "pseudonym.key"


def pseudonym_key(lake: Lake) -> bytes:
    """The secret of the keyed hash for local member IDs (see the module docstring for where it comes from)."""
    if value := os.environ.get(ENV_KEY):
        return _checked(value.encode(), f"${ENV_KEY}")
    if path := os.environ.get(ENV_FILE):
        return _read(Path(path), f"${ENV_FILE} ({path})")
    path = key_file()
    if path.exists():
        return _read(path, str(path))
    if lake.is_s3:
        raise LakeError(
            f"no pseudonymisation key: ${ENV_KEY}, ${ENV_FILE} and {path} are all unset or missing",
            f"set {ENV_KEY} (or {ENV_FILE} to a file holding it) to the lake's key; every run must use the same "
            "key, so a new one is only made for a lake in a local folder")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.parent.chmod(0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(secrets.token_hex(32))
    return _read(path, str(path))


def _read(path: Path, where: str) -> bytes:
    try:
        return _checked(path.read_bytes().strip(), where)
    except OSError as e:
        raise LakeError(f"cannot read the pseudonymisation key from {where}: {e.strerror}",
                        "check the file exists and is readable by this user") from None


def _checked(key: bytes, where: str) -> bytes:
    if len(key) < MIN_BYTES:
        raise LakeError(f"the pseudonymisation key from {where} is {len(key)} bytes; at least {MIN_BYTES} are needed",
                        "use a long random value, e.g. `python -c 'import secrets; print(secrets.token_hex(32))'`")
    return key
