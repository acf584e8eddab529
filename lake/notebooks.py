"""`lake notebooks`: JupyterLab on 127.0.0.1 over notebooks/, with the lake of this command as LAKE_URI.

The notebooks open the analyst connection (`lake.analyst.connect`): marts only, read-only. The server binds to the
loopback address on a free port (or --port) and stops with Ctrl-C."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys

import click

from lake.config import REPO_ROOT
from lake.errors import LakeError

NOTEBOOKS = REPO_ROOT / "notebooks"


def lab_command(port: int, open_browser: bool) -> list[str]:
    """The JupyterLab command line (the venv's own Python, so the notebooks import the project)."""
    return [
        sys.executable, "-m", "jupyterlab", "--ip", "127.0.0.1", "--port", str(port), "--port-retries", "0",
        f"--ServerApp.root_dir={NOTEBOOKS}", "--allow-root",  # CI and containers run as root
        "--LabApp.extension_manager=readonly",  # no extension catalogue lookups: nothing downloads
        *([] if open_browser else ["--no-browser"]),
    ]


@click.command()
@click.option("--lake", "lake_uri", envvar="LAKE_URI", default=None, metavar="URI",
              help="Lake whose marts the notebooks read (default ./.lake). Env: LAKE_URI.")
@click.option("--port", type=int, default=None, help="Port on 127.0.0.1 (default: a free one).")
@click.option("--no-browser", is_flag=True, help="Do not open a browser; print the address only.")
def notebooks(lake_uri: str | None, port: int | None, no_browser: bool) -> None:
    """Open the analyst notebooks in JupyterLab on 127.0.0.1 (Ctrl-C stops it)."""
    from infra.seaweed import free_port
    from lake.storage import open_lake

    lake = open_lake(lake_uri)
    try:
        import jupyterlab  # noqa: F401
    except ImportError as e:
        raise LakeError("JupyterLab is not installed in this environment", "run `make install`") from e
    env = dict(os.environ, LAKE_URI=lake.cfg.uri)
    cmd = lab_command(port or free_port(), not no_browser)
    click.echo(f"JupyterLab on 127.0.0.1 over {NOTEBOOKS} (lake: {lake.describe()}); Ctrl-C stops it")
    with contextlib.suppress(KeyboardInterrupt):
        subprocess.run(cmd, env=env, check=False)
