"""DuckDB connections that read the lake wherever it is: a local folder or S3.

On S3, DuckDB needs its `httpfs` extension. It cannot be downloaded here, so it is installed from
the pinned `duckdb-extension-httpfs` wheel (same version as duckdb), then an S3 secret is made from
the lake's settings. Sessions run in UTC so timestamps print and group the same on every machine.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

import duckdb

from lake.errors import LakeError
from lake.storage import Lake


def httpfs_extension_file() -> Path:
    """`httpfs.duckdb_extension` inside the `duckdb-extension-httpfs` package, for this duckdb version."""
    try:
        import duckdb_extension_httpfs
    except ImportError as e:
        raise LakeError(
            "the DuckDB httpfs extension package is not installed",
            "install the project's pinned dependencies (they include duckdb-extension-httpfs)",
        ) from e
    root = Path(duckdb_extension_httpfs.__file__).parent / "extensions"
    wanted = root / f"v{duckdb.__version__}" / "httpfs.duckdb_extension"
    if wanted.is_file():
        return wanted
    found = sorted(root.glob("*/httpfs.duckdb_extension"))
    raise LakeError(
        f"no httpfs extension for duckdb {duckdb.__version__} in {root} (found {[p.parent.name for p in found]})",
        "install duckdb and duckdb-extension-httpfs of the same version (see pyproject.toml)",
    )


def load_httpfs(con: duckdb.DuckDBPyConnection) -> None:
    """Load httpfs, installing it offline from the wheel the first time."""
    # Never reach for the extension repository: there is no internet here, and a hang is worse than an error.
    con.execute("SET autoinstall_known_extensions = false")
    try:
        con.load_extension("httpfs")
    except duckdb.Error:
        con.install_extension(str(httpfs_extension_file()), force_install=True)
        con.load_extension("httpfs")


def _sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def connect(lake: Lake | None = None, database: str = ":memory:", read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection in UTC; when `lake` is on S3, with httpfs loaded and a secret for its store."""
    con = duckdb.connect(database, read_only=read_only)
    con.execute("SET TimeZone = 'UTC'")
    if lake is not None and lake.is_s3:
        load_httpfs(con)
        s3 = lake.cfg.s3
        options = ["TYPE s3", "URL_STYLE 'path'", f"REGION {_sql_str(s3.region)}"]
        if s3.access_key:
            options += [f"KEY_ID {_sql_str(s3.access_key)}", f"SECRET {_sql_str(s3.secret_key or '')}"]
        if s3.endpoint:
            url = urlparse(s3.endpoint if "://" in s3.endpoint else f"https://{s3.endpoint}")
            options += [f"ENDPOINT {_sql_str(url.netloc)}", f"USE_SSL {'true' if url.scheme == 'https' else 'false'}"]
        # TEMPORARY: the secret lives with this connection only and is never written to disk.
        con.execute(f"CREATE OR REPLACE TEMPORARY SECRET lake_s3 ({', '.join(options)})")
    return con
