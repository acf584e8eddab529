"""Local servers the platform runs in the background (the S3 store, Superset, the scheduler): one lifecycle.

Each server keeps its log and a small state file (pid, ports, what it serves) in one folder under the state
folder, runs in its own session so it outlives the command that started it (Ctrl-C in the shell does not stop
it), and is recognised by its command line, so a pid reused by another process is never taken for it.
Everything binds to 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

HOST = "127.0.0.1"


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on now (tests run side by side: never a fixed port)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server will: TIME_WAIT is not "in use"
        try:
            s.bind((HOST, port))
        except OSError:
            return False
        return True


class BackgroundServer:
    """A server process whose log and state live under `home`; subclasses say how to start and recognise it."""

    log_name = "server.log"
    # gunicorn and the scheduler fork workers into the server's session: kill the whole group after the timeout
    kill_group = False

    def __init__(self, home: Path) -> None:
        self.home = home.resolve()
        self.log_file = self.home / self.log_name
        self.state_file = self.home / "server.json"
        self._proc: subprocess.Popen | None = None

    def is_ours(self, cmdline: str) -> bool:
        """Whether a process with this command line (NUL-separated) is this server."""
        raise NotImplementedError

    # --- state --------------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        try:
            return json.loads(self.state_file.read_text())
        except (OSError, ValueError):
            return {}

    def _save_state(self, **changes: Any) -> None:
        state = {**self.state(), **changes}
        self.home.mkdir(parents=True, exist_ok=True)
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=2))
        os.replace(tmp, self.state_file)

    def pid(self) -> int | None:
        """The server's pid if it is running (checked against its command line: a reused pid is not ours)."""
        if self._proc is not None:
            return self._proc.pid if self._proc.poll() is None else None
        pid = self.state().get("pid")
        if not pid:
            return None
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
        except OSError:
            return None
        return pid if self.is_ours(cmdline) and not _is_zombie(pid) else None

    def running(self) -> bool:
        return self.pid() is not None

    # --- start and stop -----------------------------------------------------------------

    def _spawn(self, command: list[str], env: dict[str, str] | None = None, **state: Any) -> None:
        """Start `command` in its own session, appending to the log; record its pid, the time and `state`."""
        self.home.mkdir(parents=True, exist_ok=True)
        with open(self.log_file, "ab") as log:
            log.write(f"\n--- start {dt.datetime.now(dt.UTC).isoformat()} ---\n".encode())
            log.flush()
            self._proc = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.home,
                env=env,
                start_new_session=True,
            )
        self._save_state(pid=self._proc.pid, started_at=dt.datetime.now(dt.UTC).isoformat(), **state)

    def stop(self, timeout: float = 20.0) -> bool:
        """SIGTERM, then SIGKILL after `timeout` seconds. False if it was not running."""
        pid = self.pid()
        if pid is None:
            self._save_state(pid=None)
            return False
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        if not self._wait_exit(pid, timeout):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                if self.kill_group:
                    os.killpg(pid, signal.SIGKILL)  # its own session: the workers go with it
                else:
                    os.kill(pid, signal.SIGKILL)
            self._wait_exit(pid, 10)
        self._proc = None
        self._save_state(pid=None)
        return True

    def _wait_exit(self, pid: int, timeout: float) -> bool:
        if self._proc is not None:
            try:
                self._proc.wait(timeout)
                return True
            except subprocess.TimeoutExpired:
                return False
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not Path(f"/proc/{pid}").exists() or _is_zombie(pid):
                return True
            time.sleep(0.1)
        return False

    def _log_tail(self, lines: int = 8) -> str:
        try:
            return " | ".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return True
