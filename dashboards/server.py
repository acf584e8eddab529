"""The local Superset server behind `lake dashboards up | down | status`.

Superset runs from its own virtual environment (`.venv-superset`, installed from
`dashboards/requirements-superset.lock` by `make dashboards`: its pins conflict with the platform's), under
gunicorn on 127.0.0.1, with its SQLite metadata, log, secrets and a small state file (pid, port, lake) in one
folder (by default `lake.config.state_dir()/superset`). The marts reach it through a small DuckDB file of views
(`dashboards.views`) that it opens read-only, so `lake build` can write the marts while it serves.

A fresh metadata database costs two minutes of migrations (`superset db upgrade`, `superset init`); they run
once per lock file into a template in the cache folder, and each new server copies it.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import secrets
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from lake.config import REPO_ROOT, cache_dir, state_dir
from lake.errors import LakeError
from lake.service import HOST, BackgroundServer, free_port, port_is_free

VENV = REPO_ROOT / ".venv-superset"
LOCK_FILE = REPO_ROOT / "dashboards" / "requirements-superset.lock"
CONFIG_FILE = REPO_ROOT / "dashboards" / "superset_config.py"
DEFAULT_PORT = 8088
ADMIN_USER = "admin"
STOP_TIMEOUT = 20.0
START_TIMEOUT = 180.0


def superset_bin(name: str = "superset") -> Path:
    """An executable of Superset's virtual environment (`superset`, `gunicorn`, `python`)."""
    path = VENV / "bin" / name
    if not path.is_file():
        raise LakeError(
            f"Superset is not installed ({path} is missing)",
            "run `make dashboards` (installs .venv-superset from dashboards/requirements-superset.lock)",
        )
    return path


# Bump when a change of superset_config.py changes what `superset init` writes (roles, permissions).
TEMPLATE_VERSION = 1


def _environment_key() -> str:
    """Changes when Superset's pins change (then the metadata template is rebuilt)."""
    h = hashlib.sha256(LOCK_FILE.read_bytes())
    h.update(str(TEMPLATE_VERSION).encode())
    return h.hexdigest()[:16]


def base_env(metadata_uri: str, secret_key: str, home: Path) -> dict[str, str]:
    """Environment of every Superset process: our config file, its metadata database and secret key."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SUPERSET_", "FLASK_"))}
    env.update(
        {
            "SUPERSET_CONFIG_PATH": str(CONFIG_FILE),
            "SUPERSET_HOME": str(home),
            "SUPERSET_METADATA_URI": metadata_uri,
            "SUPERSET_SECRET_KEY": secret_key,
            "SUPERSET_ENV": "local",
            "FLASK_APP": "superset",
            "PYTHONUNBUFFERED": "1",
            "SCARF_ANALYTICS": "false",
        }
    )
    return env


def metadata_template() -> Path:
    """A migrated and initialised metadata database (no users), built once per lock file and config."""
    folder = cache_dir() / "superset"
    target = folder / f"metadata-{_environment_key()}.db"
    if target.is_file():
        return target
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two test sessions at once build it once
        if target.is_file():
            return target
        # SQLite syncs after every migration: on a disk that is most of the two minutes, in memory it is seconds.
        scratch = Path("/dev/shm") if Path("/dev/shm").is_dir() and os.access("/dev/shm", os.W_OK) else None
        with tempfile.TemporaryDirectory(prefix="superset-template-", dir=scratch) as tmp:
            db = Path(tmp) / "superset.db"
            env = base_env(f"sqlite:///{db}", secrets.token_urlsafe(32), Path(tmp))
            for args in (["db", "upgrade"], ["init"]):
                res = subprocess.run(
                    [str(superset_bin()), *args], env=env, cwd=tmp, capture_output=True, text=True, check=False
                )
                if res.returncode != 0:
                    tail = "\n".join((res.stdout + res.stderr).splitlines()[-15:])
                    raise LakeError(
                        f"`superset {' '.join(args)}` failed:\n{tail}",
                        "reinstall Superset's environment: `rm -rf .venv-superset && make dashboards`",
                    )
            partial = target.with_suffix(".tmp")
            shutil.copyfile(db, partial)
            os.replace(partial, target)
    return target


class SupersetServer(BackgroundServer):
    """A Superset server whose metadata, log, secrets and state live under `home`."""

    log_name = "superset.log"
    kill_group = True  # gunicorn's workers share its session

    def __init__(self, home: Path | None = None) -> None:
        super().__init__(home or state_dir() / "superset")
        self.metadata_db = self.home / "superset.db"
        self.secrets_file = self.home / "secrets.json"
        self.views_db = self.home / "lake.duckdb"

    def is_ours(self, cmdline: str) -> bool:
        return "gunicorn" in cmdline and str(self.home) in cmdline

    def secrets(self) -> dict[str, str]:
        """The secret key and the admin password: made once per server folder, readable only by its owner."""
        with contextlib.suppress(OSError, ValueError):
            return json.loads(self.secrets_file.read_text())
        self.home.mkdir(parents=True, exist_ok=True)
        values = {"secret_key": secrets.token_urlsafe(48), "admin_user": ADMIN_USER,
                  "admin_password": secrets.token_urlsafe(18)}
        fd = os.open(self.secrets_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(values, f, indent=2)
        return values

    @property
    def port(self) -> int:
        return int(self.state().get("port") or DEFAULT_PORT)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def lake_uri(self) -> str | None:
        return self.state().get("lake")

    def env(self) -> dict[str, str]:
        s = self.secrets()
        env = base_env(f"sqlite:///{self.metadata_db}", s["secret_key"], self.home)
        env["SUPERSET_ADMIN_USER"] = s["admin_user"]
        env["SUPERSET_ADMIN_PASSWORD"] = s["admin_password"]
        return env

    # --- start and stop -----------------------------------------------------------------

    def command(self, port: int) -> list[str]:
        return [
            str(superset_bin("gunicorn")),
            "--bind", f"{HOST}:{port}",
            "--workers", "1",
            "--worker-class", "gthread",
            "--threads", "8",  # a dashboard asks for all its charts at once
            "--timeout", "120",
            "--graceful-timeout", "10",
            "--limit-request-line", "0",
            "--limit-request-field_size", "0",
            "--pid", str(self.home / "gunicorn.pid"),
            "--name", f"superset-{self.home}",  # lets `pid()` recognise our server
            "superset.app:create_app()",
        ]

    def start(self, lake_uri: str, port: int | None = None, timeout: float = START_TIMEOUT) -> bool:
        """Start (if not running) serving `lake_uri`; wait until it answers. False if it already ran."""
        if self.running():
            if self.lake_uri != lake_uri:
                raise LakeError(
                    f"the dashboards server already serves {self.lake_uri}, not {lake_uri}",
                    "stop it first: `lake dashboards down`",
                )
            return False
        if port is None:
            previous = self.state().get("port")
            if previous and port_is_free(previous):
                port = previous  # same address as last time: bookmarks keep working
            else:
                port = DEFAULT_PORT if port_is_free(DEFAULT_PORT) else free_port()
        elif not port_is_free(port):
            raise LakeError(f"port {port} on {HOST} is already in use", "pick another: `lake dashboards up --port N`")
        self.home.mkdir(parents=True, exist_ok=True)
        if not self.metadata_db.is_file():
            shutil.copyfile(metadata_template(), self.metadata_db)
        self._spawn(self.command(port), env=self.env(), port=port, lake=lake_uri)
        try:
            self.wait_ready(timeout)
        except BaseException:
            self.stop(timeout=5)
            raise
        return True

    def wait_ready(self, timeout: float = START_TIMEOUT) -> None:
        """Until `/health` answers OK."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.running():
                raise LakeError(f"Superset stopped while starting: {self._log_tail()}", f"see {self.log_file}")
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=2) as r:
                    if r.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.5)
        raise LakeError(f"Superset did not answer within {timeout:.0f}s", f"see {self.log_file}")

    def stop(self, timeout: float = STOP_TIMEOUT) -> bool:
        """SIGTERM to gunicorn (it stops its workers), SIGKILL to the group after `timeout`. False if not running."""
        return super().stop(timeout)

    # --- clients ------------------------------------------------------------------------

    def admin(self):  # -> dashboards.api.SupersetClient
        """A REST client logged in as the admin."""
        from dashboards.api import SupersetClient

        s = self.secrets()
        return SupersetClient(self.url, s["admin_user"], s["admin_password"])

    def status(self) -> dict[str, Any]:
        pid = self.pid()
        return {
            "running": pid is not None,
            "pid": pid,
            "url": self.url,
            "lake": self.lake_uri,
            "home": str(self.home),
            "log": str(self.log_file),
            "metadata": str(self.metadata_db),
            "started_at": self.state().get("started_at") if pid else None,
        }
