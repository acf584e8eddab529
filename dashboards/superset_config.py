"""Superset's configuration (SUPERSET_CONFIG_PATH points here); it runs inside Superset's own virtual environment.

Everything that differs between a laptop and production comes from the environment, so this one file serves both:

- `SUPERSET_SECRET_KEY` (required): signs sessions and encrypts stored connection secrets.
- `SUPERSET_METADATA_URI` (required): Superset's own database. `lake dashboards up` sets a SQLite file under the
  project's state folder; production sets Postgres (`postgresql+psycopg2://user:password@host:5432/superset`).
- `SUPERSET_ENV=production`: refuses SQLite metadata and short secret keys, and marks cookies secure.
- `SUPERSET_ADMIN_USER` / `SUPERSET_ADMIN_PASSWORD` (optional): the admin account, created at start-up if missing.

It imports nothing from the lake package (a different environment); `lake dashboards` passes what it needs.
"""

from __future__ import annotations

import logging
import os
import threading

log = logging.getLogger(__name__)


class ConfigError(RuntimeError):
    """A missing or unsafe setting: Superset refuses to start with it."""


def _required(name: str) -> str:
    value = os.environ.get(name, "").strip()
    if not value:
        raise ConfigError(f"{name} is not set: Superset needs it (see README, Dashboards: production configuration)")
    return value


PRODUCTION = os.environ.get("SUPERSET_ENV", "local").strip().lower() == "production"

SECRET_KEY = _required("SUPERSET_SECRET_KEY")
SQLALCHEMY_DATABASE_URI = _required("SUPERSET_METADATA_URI")

if PRODUCTION:
    if SQLALCHEMY_DATABASE_URI.startswith("sqlite"):
        raise ConfigError("SUPERSET_METADATA_URI is SQLite but SUPERSET_ENV=production: use Postgres")
    if len(SECRET_KEY) < 32:
        raise ConfigError("SUPERSET_SECRET_KEY is shorter than 32 characters: make one with `openssl rand -base64 42`")
    SESSION_COOKIE_SECURE = True
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"

# Per-dashboard view permission (DESIGN §11): a dashboard with roles is visible only to those roles, and a role
# that may see a dashboard may read the data of the charts on it (and no other data).
FEATURE_FLAGS = {"DASHBOARD_RBAC": True}

# No data cache: the dashboards refresh every minute and must show the marts as the last `lake build` left them.
DATA_CACHE_CONFIG = {"CACHE_TYPE": "NullCache"}
CACHE_CONFIG = {"CACHE_TYPE": "SimpleCache", "CACHE_DEFAULT_TIMEOUT": 300}
FILTER_STATE_CACHE_CONFIG = {"CACHE_TYPE": "SimpleCache", "CACHE_DEFAULT_TIMEOUT": 86400}
EXPLORE_FORM_DATA_CACHE_CONFIG = {"CACHE_TYPE": "SimpleCache", "CACHE_DEFAULT_TIMEOUT": 86400}

WTF_CSRF_ENABLED = True
# Locally the server is plain HTTP on 127.0.0.1; production sits behind a TLS proxy that sets the headers.
TALISMAN_ENABLED = PRODUCTION
ENABLE_PROXY_FIX = PRODUCTION
# Superset would otherwise ask a map tile server and a telemetry endpoint: there is no internet here.
MAPBOX_API_KEY = ""
SCARF_ANALYTICS = False
# Charts and SQL Lab results stay small: the marts are aggregates.
ROW_LIMIT = 10000
SQL_MAX_ROW = 10000
SUPERSET_WEBSERVER_TIMEOUT = 120
# Nobody registers themselves: accounts come from `lake dashboards invite`.
AUTH_USER_REGISTRATION = False
PUBLIC_ROLE_LIKE = None


def _ensure_admin(app) -> None:
    """Create the admin account from the environment if it is missing (a fresh metadata database)."""
    user = os.environ.get("SUPERSET_ADMIN_USER")
    password = os.environ.get("SUPERSET_ADMIN_PASSWORD")
    if not user or not password:
        return
    from sqlalchemy import inspect
    from superset.extensions import db, security_manager

    if not inspect(db.engine).has_table("ab_user"):
        return  # `superset db upgrade` has not run yet (this hook also runs inside that command)
    if security_manager.find_user(username=user) is None:
        role = security_manager.find_role("Admin")
        if role is None:
            return  # `superset init` has not run yet
        security_manager.add_user(user, "Lake", "Admin", f"{user}@localhost", role, password=password)
        log.info("created the admin account %s", user)


FLASK_APP_MUTATOR = _ensure_admin


_LOCKING = threading.Lock()


def _lock_down_lake_views(dbapi_connection, connection_record) -> None:
    """On every new connection to the lake's views file: read only the files and folders it lists, then lock.

    The file (dashboards/views.py) is opened read-only; this also stops SQL Lab and chart queries from reading any
    other file (raw zones, the group zone, the host), as the analyst connection does. Settings belong to DuckDB's
    database instance, which connections to the same file share (a dashboard opens several at once): one thread
    sets them while the others wait, and a locked instance is checked, not set again.
    """
    if not type(dbapi_connection).__module__.startswith("duckdb_engine"):
        return
    con = dbapi_connection
    try:
        access = con.execute("SELECT kind, path FROM _lake_access").fetchall()
    except Exception:  # not the lake's views file: leave it alone
        return

    def setting(name: str) -> bool:
        return bool(con.execute(f"SELECT current_setting('{name}')").fetchone()[0])

    def listed(kind: str) -> str:
        return ", ".join("'" + p.replace("'", "''") + "'" for k, p in access if k == kind)

    with _LOCKING:
        if not setting("lock_configuration"):
            if setting("enable_external_access"):  # else a failed attempt got this far: the paths are set
                con.execute(f"SET allowed_paths = [{listed('file')}]")
                con.execute(f"SET allowed_directories = [{listed('folder')}]")
                con.execute("SET enable_external_access = false")
            con.execute("SET lock_configuration = true")
    if setting("enable_external_access"):
        raise ConfigError("a connection to the lake's views was locked with file access enabled")


def SQL_QUERY_MUTATOR(sql: str, **kwargs) -> str:
    """On DuckDB, run queries only: Superset's own check lets `COPY ... TO`, `ATTACH` and `SET` through as if they
    were reads, and they would write files next to the marts. Charts and SQL Lab both pass through here."""
    database = kwargs.get("database")
    if database is None or getattr(database, "backend", "") != "duckdb":
        return sql
    import sqlglot
    from sqlglot import exp

    try:
        statements = [s for s in sqlglot.parse(sql, read="duckdb") if s is not None]
    except sqlglot.errors.ParseError as e:
        raise ValueError(f"only queries run on the lake's marts; this one does not parse: {e}") from e
    for statement in statements:
        if not isinstance(statement, exp.Query | exp.Describe):
            raise ValueError(f"only queries run on the lake's marts (read-only), not {statement.key.upper()}")
    return sql


def _listen() -> None:
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    if not event.contains(Engine, "connect", _lock_down_lake_views):
        event.listen(Engine, "connect", _lock_down_lake_views)


_listen()
