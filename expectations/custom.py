"""Great Expectations expectations the built-in set lacks, for pandas and Spark batches alike.

- `ExpectColumnValuesToBeValidGid`: 12 ASCII digits whose last is the Luhn check digit of the first 11
  (DESIGN §3), vectorised in numpy for pandas and built from Spark built-ins (no Python UDF).
- `ExpectColumnValuesToNotContainMatch`: no value contains a match of a regex (the PII patterns), searched on
  pandas in Arrow slices on every core; the built-in `ExpectColumnValuesToNotMatchRegexList` searches on one.
- `ExpectTableColumnsToExclude`: none of the given columns is present (PII column names).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ClassVar

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from great_expectations.execution_engine import PandasExecutionEngine, SparkDFExecutionEngine
from great_expectations.expectations.expectation import BatchExpectation, ColumnMapExpectation
from great_expectations.expectations.metrics.map_metric_provider import (
    ColumnMapMetricProvider,
    column_condition_partial,
)

from expectations.gid import DOUBLED, gid_ok


def gid_ok_pandas(column: pd.Series) -> pd.Series:
    """True where the value is a valid gid (nulls are left to not-null expectations: True)."""
    return pd.Series(gid_ok(pa.array(column.astype("string[pyarrow]"))), index=column.index)


def gid_ok_spark(column: Any) -> Any:
    """The same rule as a Spark column expression."""
    from pyspark.sql import functions as F

    doubled = F.array(*[F.lit(int(x)) for x in DOUBLED])
    total = F.lit(0)
    for pos in range(1, 12):
        d = F.substring(column, pos, 1).cast("int")
        total = total + (F.element_at(doubled, d + 1) if pos % 2 == 1 else d)
    check = F.substring(column, 12, 1).cast("int")
    return column.isNull() | (column.rlike("^[0-9]{12}$") & (((10 - total % 10) % 10) == check))


class ColumnValuesValidGid(ColumnMapMetricProvider):
    condition_metric_name = "column_values.valid_gid"

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column: pd.Series, **kwargs: Any) -> pd.Series:
        return gid_ok_pandas(column)

    @column_condition_partial(engine=SparkDFExecutionEngine)
    def _spark(cls, column: Any, **kwargs: Any) -> Any:
        return gid_ok_spark(column)


class ExpectColumnValuesToBeValidGid(ColumnMapExpectation):
    """Expect column values to be gids: 12 digits, the last the Luhn check digit of the first 11."""

    map_metric = "column_values.valid_gid"
    success_keys = ("mostly",)


SLICE_ROWS = 250_000  # a column shorter than two slices is searched in one call


def contains_match_pandas(column: pd.Series, regex: str) -> pd.Series:
    """True where the value contains a match of `regex` (RE2, as pandas' `str.contains` on Arrow strings).

    Why not pandas: its search runs in one thread; Arrow's kernel releases the GIL, so the column is cut into a
    slice per core and the slices are searched at once (the PII patterns over every string of the group zone
    were the largest cost of the raw -> group gate). Nulls are False (no match).
    """
    values = pa.array(column, from_pandas=True)  # Arrow-backed columns: no copy
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
        values = values.cast(pa.string())  # as the built-in reads any column as text
    workers = max(1, min(os.cpu_count() or 1, len(values) // SLICE_ROWS))
    if workers == 1:
        found = pc.match_substring_regex(values, regex)
    else:
        step = -(-len(values) // workers)
        with ThreadPoolExecutor(workers) as pool:
            parts = list(pool.map(lambda i: pc.match_substring_regex(values.slice(i, step), regex),
                                  range(0, len(values), step)))
        found = pa.chunked_array(parts)
    return pd.Series(pc.fill_null(found, False).to_numpy(zero_copy_only=False), index=column.index)


class ColumnValuesNotContainMatch(ColumnMapMetricProvider):
    condition_metric_name = "column_values.not_contain_match"
    condition_value_keys = ("regex",)

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column: pd.Series, regex: str, **kwargs: Any) -> pd.Series:
        return ~contains_match_pandas(column, regex)

    @column_condition_partial(engine=SparkDFExecutionEngine)
    def _spark(cls, column: Any, regex: str, **kwargs: Any) -> Any:
        return ~column.rlike(regex)


class ExpectColumnValuesToNotContainMatch(ColumnMapExpectation):
    """Expect no column value to contain a match of `regex` (searched anywhere in the value)."""

    regex: str
    map_metric = "column_values.not_contain_match"
    success_keys = ("regex", "mostly")


class ExpectTableColumnsToExclude(BatchExpectation):
    """Expect the table to have none of the columns in `column_set` (the rules' PII column names)."""

    column_set: list[str]
    metric_dependencies: ClassVar[tuple[str, ...]] = ("table.columns",)
    success_keys: ClassVar[tuple[str, ...]] = ("column_set",)
    domain_keys: ClassVar[tuple[str, ...]] = ("batch_id",)

    def _validate(self, metrics: dict, runtime_configuration: dict | None = None,
                  execution_engine: Any = None) -> dict:
        present = sorted(set(metrics["table.columns"]) & set(self.column_set))
        return {"success": not present, "result": {"observed_value": present}}
