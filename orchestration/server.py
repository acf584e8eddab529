"""The local scheduler: Dagster's webserver and daemon on 127.0.0.1, state in SQLite under `.lake-state/dagster`.

`lake schedule up` starts both (in their own sessions, so they outlive the command), `down` stops them, `status`
says what runs. The daemon runs the schedules and the landing-zone sensors; the webserver shows the asset graph
and the runs. Production uses orchestration/dagster.yaml (Postgres) instead of the file written here.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from lake.config import REPO_ROOT, state_dir
from lake.errors import LakeError

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


@dataclass
class Scheduler:
    home: Path

    @classmethod
    def default(cls) -> Scheduler:
        return cls(dagster_home())

    @property
    def state_file(self) -> Path:
        return self.home / "processes.json"

    def state(self) -> dict:
        try:
            return json.loads(self.state_file.read_text())
        except (OSError, ValueError):
            return {}

    @property
    def url(self) -> str | None:
        port = self.state().get("port")
        return f"http://127.0.0.1:{port}" if port else None

    def _alive(self, key: str) -> int | None:
        pid = self.state().get(key)
        if not pid or not Path(f"/proc/{pid}").exists():
            return None
        with contextlib.suppress(OSError):
            if Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "Z":
                return None
        return pid

    def running(self) -> bool:
        return self._alive("webserver") is not None or self._alive("daemon") is not None

    def env(self, lake_uri: str) -> dict[str, str]:
        return dict(os.environ, DAGSTER_HOME=str(self.home), LAKE_URI=lake_uri, DO_NOT_TRACK="1",
                    DAGSTER_DISABLE_TELEMETRY="1", GX_ANALYTICS_ENABLED="false")

    def start(self, lake_uri: str, port: int | None = None, timeout: float = 180.0) -> bool:
        """Start the webserver and the daemon (False if they already run); wait until the webserver answers."""
        from infra.seaweed import free_port
        from orchestration.manifest import ensure_manifest

        if self.running():
            return False
        ensure_manifest()
        self.home.mkdir(parents=True, exist_ok=True)
        (self.home / "dagster.yaml").write_text(LOCAL_CONFIG.format(home=self.home))
        port = port or free_port()
        env = self.env(lake_uri)
        pids = {}
        for name, cmd in (
            ("webserver", [_bin("dagster-webserver"), "-h", "127.0.0.1", "-p", str(port), "-m", CODE_LOCATION]),
            ("daemon", [_bin("dagster-daemon"), "run", "-m", CODE_LOCATION]),
        ):
            with open(self.home / f"{name}.log", "ab") as log:
                proc = subprocess.Popen(cmd, env=env, cwd=REPO_ROOT, stdin=subprocess.DEVNULL, stdout=log,
                                        stderr=subprocess.STDOUT, start_new_session=True)
            pids[name] = proc.pid
        self.state_file.write_text(json.dumps({**pids, "port": port, "lake": lake_uri,
                                               "started_at": time.time()}))
        try:
            self.wait_ready(timeout)
        except BaseException:
            self.stop(timeout=5)
            raise
        return True

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._alive("webserver") is None:
                raise LakeError(f"the Dagster webserver stopped while starting: {self._tail('webserver')}",
                                f"see {self.home / 'webserver.log'}")
            with contextlib.suppress(OSError), urllib.request.urlopen(f"{self.url}/server_info", timeout=2) as r:
                if r.status == 200:
                    return
            time.sleep(0.5)
        raise LakeError(f"the Dagster webserver did not answer within {timeout:.0f}s",
                        f"see {self.home / 'webserver.log'}")

    def stop(self, timeout: float = 20.0) -> bool:
        """SIGTERM both process groups, SIGKILL what is left after `timeout`. False if nothing ran."""
        was = self.running()
        for key in ("daemon", "webserver"):
            pid = self._alive(key)
            if pid is None:
                continue
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGTERM)  # the group: the webserver's and daemon's own children too
            deadline = time.monotonic() + timeout
            while self._alive(key) is not None and time.monotonic() < deadline:
                time.sleep(0.2)
            if self._alive(key) is not None:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(pid, signal.SIGKILL)
        state = self.state()
        if state:
            self.state_file.write_text(json.dumps({k: v for k, v in state.items() if k not in ("webserver", "daemon")}))
        return was

    def status(self) -> dict:
        s = self.state()
        return {"webserver": self._alive("webserver"), "daemon": self._alive("daemon"),
                "url": self.url if self._alive("webserver") else None, "lake": s.get("lake"), "home": str(self.home)}

    def _tail(self, name: str, lines: int = 8) -> str:
        try:
            return " | ".join((self.home / f"{name}.log").read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"
