"""The local scheduler: Dagster's webserver and daemon on 127.0.0.1, state in SQLite under `.lake-state/dagster`.

`lake schedule up` starts both (each a `lake.service.BackgroundServer`: own session, log and state file, known by
its command line), `down` stops them, `status` says what runs. The daemon runs the schedules and the landing-zone
sensors; the webserver shows the asset graph and the runs. Production uses orchestration/dagster.yaml (Postgres)
instead of the instance file written here.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
import urllib.request
from pathlib import Path

from lake.config import REPO_ROOT, state_dir
from lake.errors import LakeError
from lake.service import HOST, BackgroundServer, free_port

CODE_LOCATION = "orchestration.code_location"
PRODUCTION_CONFIG = REPO_ROOT / "orchestration" / "dagster.yaml"

LOCAL_CONFIG = """\
# Written by `lake schedule up`: the local scheduler's instance (SQLite under this folder).
telemetry:
  enabled: false
storage:
  sqlite:
    base_dir: {home}/storage
run_queue:
  max_concurrent_runs: 1  # the stages take the lake's locks: one run at a time
"""


def dagster_home() -> Path:
    return state_dir() / "dagster"


def _bin(name: str) -> str:
    return str(Path(sys.executable).parent / name)


class _DagsterProcess(BackgroundServer):
    """The webserver or the daemon of one Dagster home (runs are launched in the daemon's session)."""

    program = ""
    kill_group = True

    def __init__(self, home: Path) -> None:
        super().__init__(home / self.program)
        self.log_file = self.home.parent / f"{self.program}.log"

    def is_ours(self, cmdline: str) -> bool:
        return self.program in cmdline and CODE_LOCATION in cmdline


class Webserver(_DagsterProcess):
    program = "dagster-webserver"

    @property
    def url(self) -> str | None:
        port = self.state().get("port")
        return f"http://{HOST}:{port}" if port else None

    def start(self, env: dict[str, str], port: int) -> None:
        self._spawn([_bin(self.program), "-h", HOST, "-p", str(port), "-m", CODE_LOCATION], env=env, port=port)

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.running():
                raise LakeError(f"the Dagster webserver stopped while starting: {self._log_tail()}",
                                f"see {self.log_file}")
            with contextlib.suppress(OSError), urllib.request.urlopen(f"{self.url}/server_info", timeout=2) as r:
                if r.status == 200:
                    return
            time.sleep(0.5)
        raise LakeError(f"the Dagster webserver did not answer within {timeout:.0f}s", f"see {self.log_file}")


class Daemon(_DagsterProcess):
    program = "dagster-daemon"

    def start(self, env: dict[str, str]) -> None:
        self._spawn([_bin(self.program), "run", "-m", CODE_LOCATION], env=env)


class Scheduler:
    """The webserver and the daemon of one Dagster home."""

    def __init__(self, home: Path) -> None:
        self.home = home.resolve()
        self.webserver = Webserver(self.home)
        self.daemon = Daemon(self.home)

    @classmethod
    def default(cls) -> Scheduler:
        return cls(dagster_home())

    def running(self) -> bool:
        return self.webserver.running() or self.daemon.running()

    def env(self, lake_uri: str) -> dict[str, str]:
        return dict(os.environ, DAGSTER_HOME=str(self.home), LAKE_URI=lake_uri, DO_NOT_TRACK="1",
                    DAGSTER_DISABLE_TELEMETRY="1", GX_ANALYTICS_ENABLED="false", PYTHONPATH=str(REPO_ROOT))

    def start(self, lake_uri: str, port: int | None = None, timeout: float = 180.0) -> bool:
        """Start the webserver and the daemon (False if they already run); wait until the webserver answers."""
        from orchestration.manifest import ensure_manifest

        if self.webserver.running() and self.daemon.running():
            return False
        self.stop(timeout=5)  # one of them alone: start both afresh
        ensure_manifest()
        self.home.mkdir(parents=True, exist_ok=True)
        (self.home / "dagster.yaml").write_text(LOCAL_CONFIG.format(home=self.home))
        env = self.env(lake_uri)
        self.webserver.start(env, port or free_port())
        self.daemon.start(env)
        self.webserver._save_state(lake=lake_uri)
        try:
            self.webserver.wait_ready(timeout)
        except BaseException:
            self.stop(timeout=5)
            raise
        return True

    def stop(self, timeout: float = 20.0) -> bool:
        """Stop the daemon, then the webserver (SIGTERM, then SIGKILL to the group). False if neither ran."""
        stopped = self.daemon.stop(timeout)
        return self.webserver.stop(timeout) or stopped

    def status(self) -> dict:
        return {"webserver": self.webserver.pid(), "daemon": self.daemon.pid(),
                "url": self.webserver.url if self.webserver.running() else None,
                "lake": self.webserver.state().get("lake"), "home": str(self.home)}
