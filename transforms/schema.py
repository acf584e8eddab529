"""The group zone interface (`group_schema.yml`) as Spark and Arrow types.

Jobs end every table with `to_group_schema`, so a column the interface does not list never
reaches the group zone, and the types dbt reads are the types the file promises.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import pyarrow as pa
import yaml
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from lake.errors import LakeError

GROUP_SCHEMA = Path(__file__).resolve().parent / "group_schema.yml"

_SPARK_TYPES: dict[str, T.DataType] = {
    "string": T.StringType(),
    "timestamp": T.TimestampType(),
    "date": T.DateType(),
    "bigint": T.LongType(),
    "int": T.IntegerType(),
    "boolean": T.BooleanType(),
    "double": T.DoubleType(),
}
_ARROW_TYPES: dict[str, pa.DataType] = {
    "string": pa.string(),
    "timestamp": pa.timestamp("us", tz="UTC"),
    "date": pa.date32(),
    "bigint": pa.int64(),
    "int": pa.int32(),
    "boolean": pa.bool_(),
    "double": pa.float64(),
}


@cache
def group_tables(path: Path = GROUP_SCHEMA) -> dict[str, dict[str, Any]]:
    """Every group table: `{name: {columns: {col: type}, partition_by: [...]}}`."""
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))["tables"]
    except (OSError, KeyError, TypeError, yaml.YAMLError) as e:
        raise LakeError(f"group schema {path} cannot be read: {e!r}", "restore the file from git") from e


def columns(table: str) -> dict[str, str]:
    return dict(group_tables()[table]["columns"])


def partition_by(table: str) -> list[str]:
    return list(group_tables()[table].get("partition_by", []))


def parquet_options(table: str) -> dict[str, str]:
    """Spark writer options for `table`: dictionary encoding only on the columns its `dictionary` lists.

    A table without the key keeps Parquet's default (every column dictionary-encoded while it pays).
    """
    spec = group_tables()[table]
    if "dictionary" not in spec:
        return {}
    listed = list(spec["dictionary"])
    unknown = sorted(set(listed) - set(spec["columns"]) - set(spec.get("partition_by", [])))
    if unknown:
        raise LakeError(f"group schema: table {table!r} lists dictionary columns {unknown} it does not have",
                        f"fix `dictionary` of {table} in {GROUP_SCHEMA.name}")
    return {"parquet.enable.dictionary": "false", **{f"parquet.enable.dictionary#{c}": "true" for c in listed}}


def spark_schema(table: str) -> T.StructType:
    return T.StructType([T.StructField(c, _SPARK_TYPES[t], True) for c, t in columns(table).items()])


def arrow_schema(table: str) -> pa.Schema:
    return pa.schema([(c, _ARROW_TYPES[t]) for c, t in columns(table).items()])


def to_group_schema(df: DataFrame, table: str) -> DataFrame:
    """Exactly the interface's columns, in its order and types; a missing column is a bug, said loudly."""
    missing = [c for c in columns(table) if c not in df.columns]
    if missing:
        raise LakeError(f"transform for group table {table!r} lacks columns {missing}",
                        f"fix the job or {GROUP_SCHEMA.name}")
    cols: list[Column] = [F.col(c).cast(_SPARK_TYPES[t]).alias(c) for c, t in columns(table).items()]
    # A partition column the interface lists only under partition_by (purchase_lines: company,
    # purchase_date) lives in the folder names; it must still be in the frame Spark writes.
    extra = [c for c in partition_by(table) if c not in columns(table)]
    missing_parts = [c for c in extra if c not in df.columns]
    if missing_parts:
        raise LakeError(f"transform for group table {table!r} lacks partition columns {missing_parts}",
                        f"fix the job or {GROUP_SCHEMA.name}")
    return df.select(*cols, *[F.col(c) for c in extra])
