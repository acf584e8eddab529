"""Two Great Expectations expectations the built-in set lacks, for pandas and Spark batches alike.

- `ExpectColumnValuesToBeValidGid`: 12 ASCII digits whose last is the Luhn check digit of the first 11
  (DESIGN §3), vectorised in numpy for pandas and built from Spark built-ins (no Python UDF).
- `ExpectTableColumnsToExclude`: none of the given columns is present (PII column names).
"""

from __future__ import annotations

from typing import Any, ClassVar

import pandas as pd
import pyarrow as pa
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
