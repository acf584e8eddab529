"""The one Spark session of the unit tests (Splink style): session-scoped, shuffle partitions 1, UI off.

Import the fixture into a test module (`from tests.unit.conftest_spark import spark`), or list this
module in a conftest's `pytest_plugins`. Starting the JVM costs several seconds, so every Spark test
shares it; it is stopped when the test process exits. It is the transforms' own session
(`transforms.spark.session_conf`: file system, time zone, Parquet settings), made small, so a test
that runs `run_transforms` in-process writes exactly what a real run writes.
"""

from __future__ import annotations

import sys
import types
from collections.abc import Iterator

import pytest
from pyspark.sql import SparkSession

from lake.config import LakeConfig
from lake.storage import Lake
from transforms.spark import session_conf


def _shim_pandas_on_spark() -> None:
    """Let `assertDataFrameEqual` run although `pyspark.pandas` cannot import under pandas 3.

    pyspark 4.3 supports pandas < 3 only for pandas-on-Spark; assertDataFrameEqual imports it just to
    recognise pandas-on-Spark frames, which these tests never pass. Stand-ins that match nothing suffice.
    """
    try:
        import pyspark.pandas  # noqa: F401
    except ImportError:
        ps = types.ModuleType("pyspark.pandas")
        ps.DataFrame = type("DataFrame", (), {})  # type: ignore[attr-defined]
        utils = types.ModuleType("pyspark.testing.pandasutils")
        utils.PandasOnSparkTestUtils = type("PandasOnSparkTestUtils", (), {})  # type: ignore[attr-defined]
        sys.modules["pyspark.pandas"] = ps
        sys.modules["pyspark.testing.pandasutils"] = utils


_shim_pandas_on_spark()


@pytest.fixture(scope="session")
def spark() -> Iterator[SparkSession]:
    conf = session_conf(Lake(LakeConfig(uri="/tmp/unit-tests")), "local[1]")
    conf.update({
        "spark.app.name": "group-lake-unit-tests",
        "spark.sql.shuffle.partitions": "1",
        "spark.driver.memory": "1g",
    })
    builder = SparkSession.builder
    for k, v in conf.items():
        builder = builder.config(k, v)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    yield session
