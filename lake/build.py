"""`lake build` and `lake docs`: run the dbt project in models/ (dbt-duckdb) against the lake's group zone.

The target follows the lake: `local` reads the group zone folder, `s3` reads it through httpfs (installed
offline from the duckdb-extension-httpfs wheel). Marts are built into `<lake>/marts/marts.duckdb` locally (on
S3 into a DuckDB file in the state folder) and exported as Parquet to the marts zone, both through staging:
nothing is published unless the build, its tests and the group -> marts quality gate pass. The minimum cell size
k comes from expectations/sharing_rules.yml, passed to dbt as the var `min_cell_k`; campaigns registered by segment
exports are read from the ops zone (the var `exports_registry_uri`).

One build at a time per lake (the `build` stage lock, `lake/locks.py`), so two builds never publish at once. Each
build still stages under a name of its own: dbt-duckdb keeps its DuckDB connection open in the process, by path,
so a second build in one process staged at the same path would write into the file the first one published.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

from lake import layout, locks, runlog
from lake.config import REPO_ROOT, state_dir
from lake.duck import extension_file, httpfs_extension_file
from lake.errors import LakeError
from lake.layout import GROUP, MARTS, OPS, OPS_TABLES, STAGING
from lake.storage import Lake

PROJECT_DIR = REPO_ROOT / "models"
MARTS_DB = "marts.duckdb"


@dataclass
class BuildResult:
    """What `dbt build` did: overall success, per-node status counts, failures and timing."""

    success: bool
    seconds: float
    counts: dict[str, int] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    marts_db: str = ""
    marts_uri: str = ""
    published: str = ""  # the analyst database this build published (in the marts zone), if any
    publish_seconds: float = 0.0

    def summary(self) -> str:
        parts = ", ".join(f"{n} {s}" for s, n in sorted(self.counts.items()))
        return f"dbt build {'passed' if self.success else 'FAILED'} in {self.seconds:.1f}s ({parts})"


def marts_db_path(lake: Lake) -> Path:
    """The DuckDB file dbt builds the marts in: in the marts zone locally, in the state folder for S3."""
    if lake.is_s3:
        return state_dir() / "marts" / MARTS_DB
    return Path(lake.path(MARTS, MARTS_DB))


def dbt_vars(lake: Lake, extra: dict | None = None) -> dict:
    """dbt vars compiled from the sharing rules and the lake layout."""
    from expectations.rules import load_rules

    rules = load_rules()
    out = {"min_cell_k": rules.aggregate_cell_k, "marts_uri": lake.uri(MARTS)}
    # the ops tables (run log, manifests, deployments) the annotations mart reads: models/macros/ops_source.sql
    out.update({"ops_uri": lake.uri(OPS), "ops_tables": dict(OPS_TABLES)})
    # campaigns registered by segment exports: read only once there is one (a glob matching nothing fails)
    registered = lake.list_files(OPS, f"{layout.EXPORT_REGISTRY}/campaigns")
    out["exports_registry_uri"] = lake.uri(OPS, layout.EXPORT_REGISTRY) if registered else ""
    out.update(extra or {})
    return out


def dbt_env(lake: Lake, db: Path | None = None) -> dict[str, str]:
    """Environment the profile (models/profiles.yml) reads; `db`: build into this DuckDB file instead."""
    env = {
        "DO_NOT_TRACK": "1",
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "LAKE_DBT_TARGET": "s3" if lake.is_s3 else "local",
        "LAKE_GROUP_URI": lake.uri(GROUP),
        "LAKE_MARTS_DB": str(db or marts_db_path(lake)),
    }
    if lake.is_s3:
        s3 = lake.cfg.s3
        ep = urlparse(s3.endpoint) if s3.endpoint else None
        env.update(
            {
                "LAKE_HTTPFS_EXTENSION": str(httpfs_extension_file()),
                "LAKE_S3_ENDPOINT": ep.netloc if ep else "s3.amazonaws.com",
                "LAKE_S3_USE_SSL": "false" if ep and ep.scheme == "http" else "true",
                "AWS_REGION": s3.region,
            }
        )
        if s3.static:
            env.update({"AWS_ACCESS_KEY_ID": s3.access_key or "", "AWS_SECRET_ACCESS_KEY": s3.secret_key or "",
                        "AWS_SESSION_TOKEN": s3.session_token or ""})
        else:  # no static keys: DuckDB's credential chain (AWS_PROFILE, SSO, instance roles)
            env.update({"LAKE_DBT_TARGET": "s3_chain", "LAKE_AWS_EXTENSION": str(extension_file("aws"))})
    return env


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _check_group_zone(lake: Lake) -> None:
    if not lake.list_files(GROUP, "member_day"):
        raise LakeError(
            f"the group zone of {lake.describe()} has no member_day table: nothing to build marts from",
            "run `lake transform` first (or `lake demo`)",
        )


def _invoke(lake: Lake, args: list[str], db: Path | None = None) -> tuple[object, float]:
    from dbt.cli.main import dbtRunner

    (db or marts_db_path(lake)).parent.mkdir(parents=True, exist_ok=True)
    common = ["--project-dir", str(PROJECT_DIR), "--profiles-dir", str(PROJECT_DIR), "--quiet"]
    start = time.perf_counter()
    with _environment(dbt_env(lake, db)):
        res = dbtRunner().invoke([*args, *common])
    return res, time.perf_counter() - start


def run_build(lake: Lake, select: str | None = None, extra_vars: dict | None = None,
              gate: bool = True) -> BuildResult:
    """`dbt build` (models, data tests, unit tests) of the marts; `select` is a dbt selector. Recorded in the run
    log (stage `build`).

    dbt builds into a staging DuckDB file and exports to a staging folder of the marts zone; the marts are
    published (the Parquet files moved into place, the DuckDB file swapped in, then the analyst database) only
    when the build and its tests pass and the group -> marts quality gate passes
    (`expectations.gates.check_marts`). Otherwise the last published marts stay as they were; a gate failure
    raises `GateFailed`.
    """
    with runlog.recorded(lake, "build") as run, locks.stage_lock(lake, "build"):
        result = _build(lake, select, extra_vars, gate)
        run.rows_out = result.counts.get("success", 0)  # models built
        run.rows_rejected = len(result.failures)
        run.detail = {"counts": result.counts, "select": select}
        if not result.success:
            run.status = "failed"
            run.message = "; ".join(result.failures[:3])[:500]
    return result


def _build(lake: Lake, select: str | None, extra_vars: dict | None, gate: bool) -> BuildResult:
    _check_group_zone(lake)
    lake.ensure_zones([MARTS])
    published = marts_db_path(lake)
    run_id = uuid.uuid4().hex[:12]
    # Same file name as the published one: DuckDB names the catalog after the file, and dbt's views refer to it.
    staged_db = published.parent / STAGING / run_id / MARTS_DB
    staged_db.parent.mkdir(parents=True, exist_ok=True)
    staging = f"{STAGING}/{run_id}/export"
    if select and published.exists():  # a partial build needs the other marts it reads: start from a copy
        shutil.copyfile(published, staged_db)
    if not lake.is_s3:
        lake.fs.create_dir(lake.path(MARTS, staging))  # DuckDB's COPY does not make folders
    try:
        args = ["build", "--vars", json.dumps(dbt_vars(lake, {"marts_uri": lake.uri(MARTS, staging),
                                                              **(extra_vars or {})}))]
        if select:
            args += ["--select", select]
        res, seconds = _invoke(lake, args, staged_db)
        result = _result(res, seconds, lake, select)
        if result.success:
            _checkpoint(staged_db)
        if result.success and gate:
            from expectations import gates

            report = gates.check_marts(str(staged_db))
            gates.record(lake, report)
            report.raise_for_failures()
        if result.success:
            _publish_staged(lake, staging, staged_db, published)
            result.published, result.publish_seconds = _publish(lake)
        return result
    finally:
        shutil.rmtree(staged_db.parent, ignore_errors=True)
        lake.delete_dir(MARTS, f"{STAGING}/{run_id}")


def _checkpoint(db: Path) -> None:
    """Fold the write-ahead log into the file before it moves (dbt may still hold its connection open)."""
    import duckdb

    con = duckdb.connect(str(db))
    try:
        con.execute("CHECKPOINT")
    finally:
        con.close()


def _publish_staged(lake: Lake, staging: str, staged_db: Path, published: Path) -> None:
    """Move the staged marts into place: each Parquet file by rename (atomic locally), then the DuckDB file."""
    for rel in lake.list_files(MARTS, staging):
        lake.move(MARTS, rel, MARTS, rel[len(staging) + 1:])
    os.replace(staged_db, published)


def _result(res: object, seconds: float, lake: Lake, select: str | None = None) -> BuildResult:
    counts: dict[str, int] = {}
    failures: list[str] = []
    for r in getattr(res, "result", None) or []:
        status = str(r.status)
        counts[status] = counts.get(status, 0) + 1
        if status in ("error", "fail"):
            failures.append(f"{r.node.name}: {(r.message or '').strip()[:300]}")
    exc = getattr(res, "exception", None)
    if exc is not None and not failures:
        failures.append(str(exc))
    if select and not counts and not failures:  # dbt says "nothing to do" and success: not what was asked
        failures.append(f"--select {select!r} matches no model or test; `dbt ls` in models/ lists the nodes")
    return BuildResult(
        success=bool(getattr(res, "success", False)) and not failures,
        seconds=seconds,
        counts=counts,
        failures=failures,
        marts_db=str(marts_db_path(lake)),
        marts_uri=lake.uri(MARTS),
    )


def _publish(lake: Lake) -> tuple[str, float]:
    """Publish the exported marts for the analyst connection (`lake.analyst.publish`), with their descriptions."""
    from lake.analyst import mart_names, publish

    if not mart_names(lake):
        return "", 0.0
    start = time.perf_counter()
    rel = publish(lake, mart_descriptions())
    return rel, time.perf_counter() - start


def mart_descriptions() -> dict[str, tuple[str, dict[str, str]]]:
    """Per mart, its description and its columns' descriptions from the dbt YAML (as rendered in the manifest)."""
    try:
        manifest = json.loads((PROJECT_DIR / "target" / "manifest.json").read_text())
    except (OSError, ValueError):
        return {}
    out = {}
    for node in manifest.get("nodes", {}).values():
        if node.get("resource_type") == "model" and "mart" in node.get("tags", []):
            columns = {c: (v.get("description") or "").strip() for c, v in node.get("columns", {}).items()}
            out[node.get("alias") or node["name"]] = ((node.get("description") or "").strip(), columns)
    return out


def run_docs(lake: Lake) -> Path:
    """`dbt docs generate`; returns the folder holding the static site (index.html, catalog.json)."""
    res, _ = _invoke(lake, ["docs", "generate", "--vars", json.dumps(dbt_vars(lake))])
    if not getattr(res, "success", False):
        raise LakeError(
            f"dbt docs generate failed: {getattr(res, 'exception', None) or 'see models/logs/dbt.log'}",
            "run `lake build` first so the marts exist",
        )
    return PROJECT_DIR / "target"
