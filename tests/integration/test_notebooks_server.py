"""`lake notebooks` serves the analyst notebooks with JupyterLab on 127.0.0.1 (a free port), and stops."""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.request

import pytest

from infra.seaweed import free_port
from lake.notebooks import NOTEBOOKS, lab_command

pytestmark = [pytest.mark.integration]


def test_jupyterlab_lists_the_notebooks_on_loopback(tmp_path) -> None:
    port = free_port()
    env = dict(os.environ, JUPYTER_RUNTIME_DIR=str(tmp_path / "rt"), JUPYTER_CONFIG_DIR=str(tmp_path / "cfg"))
    cmd = [*lab_command(port, open_browser=False), "--IdentityProvider.token=t0ken"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline, listing = time.monotonic() + 120, None
        while time.monotonic() < deadline and listing is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/contents?token=t0ken", timeout=5) as r:
                    listing = json.load(r)
            except OSError:
                time.sleep(1)
        assert listing is not None, "JupyterLab did not answer on 127.0.0.1"
        names = {c["name"] for c in listing["content"]}
        assert names >= {p.name for p in NOTEBOOKS.glob("*.ipynb")}, names
        with pytest.raises(OSError):  # the token is required
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/contents", timeout=5)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
