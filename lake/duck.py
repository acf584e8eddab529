"""DuckDB connections that read the lake wherever it is: a local folder or S3.

On S3, DuckDB needs its `httpfs` extension, and `aws` for the AWS credential chain. They cannot be
downloaded here, so they are installed from the pinned `duckdb-extension-<name>` wheels (same version as
duckdb), then an S3 secret is made from the lake's settings: static keys (with a session token for
temporary ones) when set, else the `credential_chain` provider (profiles, SSO, web identity, instance
roles). Sessions run in UTC so timestamps print and group the same on every machine.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from urllib.parse import urlparse

import duckdb

from lake.config import S3Settings
from lake.errors import LakeError
from lake.storage import Lake


def extension_file(name: str) -> Path:
    """`<name>.duckdb_extension` inside the `duckdb-extension-<name>` package, for this duckdb version."""
    try:
        module = importlib.import_module(f"duckdb_extension_{name}")
    except ImportError as e:
        raise LakeError(
            f"the DuckDB {name} extension package is not installed",
            f"install the project's pinned dependencies (they include duckdb-extension-{name})",
        ) from e
    root = Path(module.__file__).parent / "extensions"
    wanted = root / f"v{duckdb.__version__}" / f"{name}.duckdb_extension"
    if wanted.is_file():
        return wanted
    found = sorted(root.glob(f"*/{name}.duckdb_extension"))
    raise LakeError(
        f"no {name} extension for duckdb {duckdb.__version__} in {root} (found {[p.parent.name for p in found]})",
        f"install duckdb and duckdb-extension-{name} of the same version (see pyproject.toml)",
    )


def httpfs_extension_file() -> Path:
    """`httpfs.duckdb_extension` inside the `duckdb-extension-httpfs` package, for this duckdb version."""
    return extension_file("httpfs")


def load_extension(con: duckdb.DuckDBPyConnection, name: str) -> None:
    """Load an extension, installing it offline from its wheel the first time."""
    # Never reach for the extension repository: there is no internet here, and a hang is worse than an error.
    con.execute("SET autoinstall_known_extensions = false")
    try:
        con.load_extension(name)
    except duckdb.Error:
        con.install_extension(str(extension_file(name)), force_install=True)
        con.load_extension(name)


def load_httpfs(con: duckdb.DuckDBPyConnection) -> None:
    """Load httpfs, installing it offline from the wheel the first time."""
    load_extension(con, "httpfs")


def sql_str(value: str) -> str:
    """A SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


def create_s3_secret(con: duckdb.DuckDBPyConnection, s3: S3Settings, name: str = "lake_s3") -> None:
    """A temporary S3 secret on `con` for the store `s3` describes: static keys, or the credential chain."""
    load_httpfs(con)
    options = ["TYPE s3", "URL_STYLE 'path'", f"REGION {sql_str(s3.region)}"]
    if s3.static:
        options += [f"KEY_ID {sql_str(s3.access_key or '')}", f"SECRET {sql_str(s3.secret_key or '')}"]
        if s3.session_token:
            options.append(f"SESSION_TOKEN {sql_str(s3.session_token)}")
    else:
        load_extension(con, "aws")
        # REFRESH: temporary credentials (SSO, roles) expire within hours; a long notebook session renews them.
        options += ["PROVIDER credential_chain", "REFRESH auto"]
        if s3.profile:
            # Only the profile's own providers: `env` or `instance` would pick the environment's identity.
            options += [f"PROFILE {sql_str(s3.profile)}", "CHAIN 'config;sso;process'"]
    if s3.endpoint:
        url = urlparse(s3.endpoint if "://" in s3.endpoint else f"https://{s3.endpoint}")
        options += [f"ENDPOINT {sql_str(url.netloc)}", f"USE_SSL {'true' if url.scheme == 'https' else 'false'}"]
    # TEMPORARY: the secret lives with this connection only and is never written to disk.
    try:
        con.execute(f"CREATE OR REPLACE TEMPORARY SECRET {name} ({', '.join(options)})")
    except duckdb.Error as e:
        where = f"profile {s3.profile!r}" if s3.profile else "the AWS credential chain"
        raise LakeError(
            f"no S3 credentials from {where}: {str(e).splitlines()[0]}",
            "check the profile in your AWS config files (AWS_CONFIG_FILE, AWS_SHARED_CREDENTIALS_FILE)",
        ) from e


def connect(lake: Lake | None = None, database: str = ":memory:", read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection in UTC; when `lake` is on S3, with httpfs loaded and a secret for its store."""
    con = duckdb.connect(database, read_only=read_only)
    con.execute("SET TimeZone = 'UTC'")
    if lake is not None and lake.is_s3:
        create_s3_secret(con, lake.cfg.s3)
    return con
