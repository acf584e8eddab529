"""The dashboards' window on the lake: one DuckDB view per dataset of `datasets.yml`, over Parquet files only.

Superset opens a small DuckDB file holding just these views, read-only; the data stays in the marts' and the ops
zone's Parquet, which `lake build` and every stage rewrite atomically. So a build never meets a lock held by the
dashboards, and each chart query reads what the last build published. Mart views drop suppressed cells (rows
flagged below k), so no cell below k can reach a dashboard. The file also lists the mart files and ops folders
its views read; the Superset side (`superset_config.py`) limits DuckDB's file access to exactly those and locks
the configuration, as the analyst connection does (member-grain marts such as dim_members stay out of reach).

`connect(lake)` gives the same views in memory, for the alerts and the tests.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from string import Template

import duckdb
import pyarrow as pa
import yaml

from lake import duck, layout, runlog
from lake.analyst import mart_names
from lake.config import REPO_ROOT
from lake.errors import LakeError
from lake.storage import Lake

DATASETS_FILE = REPO_ROOT / "dashboards" / "datasets.yml"
ACCESS_TABLE = "_lake_access"  # what the views read (superset_config.py allows exactly that)
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class Dataset:
    """One dataset: a mart (with its suppression column) or a live SQL view over ops-zone sources."""

    name: str
    description: str
    mart: str | None = None
    cells: str | None = None  # the suppression flag column; None only for marts that count no members
    sql: str | None = None
    columns: tuple[tuple[str, str], ...] = ()  # computed columns of a mart dataset: (name, SQL expression)


def load_datasets(path: Path = DATASETS_FILE) -> dict[str, Dataset]:
    """Parse and check `datasets.yml`: every mart dataset says how its cells below k are kept off the dashboards."""
    try:
        spec = yaml.safe_load(path.read_text(encoding="utf-8"))["datasets"]
    except (OSError, KeyError, TypeError, yaml.YAMLError) as e:
        raise LakeError(f"{path} cannot be read: {e!r}", "restore it from git") from e
    out: dict[str, Dataset] = {}
    for name, d in spec.items():
        where = f"{path.name}: dataset {name!r}"
        if not _NAME.match(name):
            raise LakeError(f"{where}: a dataset name is lowercase letters, digits and _", "rename it")
        if ("mart" in d) == ("sql" in d):
            raise LakeError(f"{where} needs exactly one of `mart:` or `sql:`", "see the comment at the top")
        cells = d.get("cells")
        if "mart" in d:
            if cells is None:
                raise LakeError(
                    f"{where} reads a mart but does not say how cells below k are suppressed",
                    "add `cells: is_suppressed` (the mart's flag), or `cells: none` with a `why:`",
                )
            if cells == "none" and not d.get("why"):
                raise LakeError(f"{where} has `cells: none` without a `why:`", "say why it counts no members")
        out[name] = Dataset(
            name=name,
            description=d.get("description", ""),
            mart=d.get("mart"),
            cells=None if cells in (None, "none") else cells,
            sql=d.get("sql"),
            columns=tuple((d.get("columns") or {}).items()),
        )
    return out


# --- ops-zone sources -------------------------------------------------------------------------------------------

def _ops_sources() -> dict[str, tuple[str, pa.Schema]]:
    """The ops tables the SQL views may name: prefix in the ops zone and the schema their writers use."""
    from dashboards.annotations import DEPLOYMENT_SCHEMA
    from ingestion.manifest import SCHEMA as MANIFEST_SCHEMA

    schemas = {"runs": runlog.SCHEMA, "manifests": MANIFEST_SCHEMA, "deployments": DEPLOYMENT_SCHEMA}
    return {name: (prefix, schemas[name]) for name, prefix in layout.OPS_TABLES.items()}


_DUCK_TYPES = {
    pa.string(): "VARCHAR",
    pa.int64(): "BIGINT",
    pa.int32(): "INTEGER",
    pa.float64(): "DOUBLE",
    pa.bool_(): "BOOLEAN",
    pa.date32(): "DATE",
}


def _duck_type(t: pa.DataType) -> str:
    if pa.types.is_timestamp(t):
        return "TIMESTAMPTZ" if t.tz else "TIMESTAMP"
    if pa.types.is_list(t):
        return _duck_type(t.value_type) + "[]"
    try:
        return _DUCK_TYPES[t]
    except KeyError as e:
        raise TypeError(f"no DuckDB type for {t}") from e


def empty_relation(schema: pa.Schema) -> str:
    """A relation with the columns of `schema` and no rows: what a source is before its first file."""
    cols = ", ".join(f"NULL::{_duck_type(f.type)} AS {f.name}" for f in schema)
    return f"(SELECT {cols} WHERE false)"


def _sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def source_relations(lake: Lake) -> tuple[dict[str, str], list[str]]:
    """SQL for each ops source (all its Parquet files, or an empty relation) and the folders they read (a stage
    adds files there: the folder, not today's files, is what the views may read)."""
    relations: dict[str, str] = {}
    folders: list[str] = []
    for name, (prefix, schema) in _ops_sources().items():
        folder = lake.uri(layout.OPS, prefix)
        folders.append(folder + "/")
        if any(f.endswith(".parquet") for f in lake.list_files(layout.OPS, prefix)):
            relations[name] = (
                f"read_parquet({_sql_str(folder + '/**/*.parquet')}, hive_partitioning = false, union_by_name = true)"
            )
        else:
            relations[name] = empty_relation(schema)
    return relations, folders


def view_sql(lake: Lake, ds: Dataset, sources: dict[str, str]) -> str:
    """The SELECT behind one dataset's view."""
    if ds.mart:
        rel = f"read_parquet({_sql_str(lake.uri(layout.MARTS, ds.mart + '.parquet'))})"
        select = ", ".join(["*", *(f"{expr} AS {name}" for name, expr in ds.columns)])
        return f"SELECT {select} FROM {rel}" + (f" WHERE NOT {ds.cells}" if ds.cells else "")
    assert ds.sql is not None
    sql = Template(ds.sql).safe_substitute({k: f"{v} AS {k}" for k, v in sources.items()})
    return sql.strip().rstrip(";")


def _check_marts(lake: Lake, datasets: dict[str, Dataset]) -> None:
    have = set(mart_names(lake))
    missing = sorted({d.mart for d in datasets.values() if d.mart and d.mart not in have})
    if missing:
        raise LakeError(
            f"the dashboards read marts that {lake.uri(layout.MARTS)} does not have: {', '.join(missing)}",
            "run `lake build` (or `lake demo`) first",
        )


@dataclass(frozen=True)
class Access:
    """What the views read: the mart files they name (no other mart: some are member-grain) and the ops folders."""

    files: tuple[str, ...]
    folders: tuple[str, ...]

    def settings(self) -> list[str]:
        """DuckDB statements that allow exactly this, then forbid all other file access and lock the settings."""
        return [
            f"SET allowed_paths = [{', '.join(_sql_str(f) for f in self.files)}]",
            f"SET allowed_directories = [{', '.join(_sql_str(f) for f in self.folders)}]",
            "SET enable_external_access = false",
            "SET lock_configuration = true",
        ]


def create_views(con: duckdb.DuckDBPyConnection, lake: Lake, datasets: dict[str, Dataset]) -> Access:
    """Create every dataset's view on `con`; returns what they read."""
    _check_marts(lake, datasets)
    sources, folders = source_relations(lake)
    for ds in datasets.values():
        try:
            con.execute(f"CREATE OR REPLACE VIEW {ds.name} AS {view_sql(lake, ds, sources)}")
        except duckdb.Error as e:
            raise LakeError(
                f"dashboards dataset {ds.name!r} ({DATASETS_FILE.name}) does not fit the lake: {e}",
                "fix its definition, or rebuild the mart it reads (`lake build`)",
            ) from e
    files = sorted({lake.uri(layout.MARTS, f"{d.mart}.parquet") for d in datasets.values() if d.mart})
    return Access(tuple(files), tuple(folders))


def write_views_file(lake: Lake, path: Path, datasets: dict[str, Dataset] | None = None) -> Access:
    """Write the views into a new DuckDB file and swap it in atomically (Superset may be reading the old one).

    The file lists what its views read (table `_lake_access`: kind `file` or `folder`, and the path), for the
    Superset side to allow exactly that."""
    datasets = datasets if datasets is not None else load_datasets()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    con = duck.connect(lake, str(tmp))
    try:
        access = create_views(con, lake, datasets)
        con.execute(f"CREATE TABLE {ACCESS_TABLE} (kind VARCHAR, path VARCHAR)")
        rows = [["file", f] for f in access.files] + [["folder", f] for f in access.folders]
        con.executemany(f"INSERT INTO {ACCESS_TABLE} VALUES (?, ?)", rows)
        con.execute("CHECKPOINT")
    finally:
        con.close()
    os.replace(tmp, path)
    Path(f"{tmp}.wal").unlink(missing_ok=True)
    return access


def connect(lake: Lake, datasets: dict[str, Dataset] | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with the dashboards' views, limited to the folders they read and locked."""
    datasets = datasets if datasets is not None else load_datasets()
    con = duck.connect(lake)
    for statement in create_views(con, lake, datasets).settings():
        con.execute(statement)
    return con
