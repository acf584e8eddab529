"""The one Spark session of the unit tests (Splink style): session-scoped, shuffle partitions 1, UI off.

Import the fixture into a test module (`from tests.unit.conftest_spark import spark`), or list this
module in a conftest's `pytest_plugins`. Starting the JVM costs several seconds, so every Spark test
shares it; it is stopped when the test process exits.
"""

from __future__ import annotations

import sys
import types
from collections.abc import Iterator

import pytest
from pyspark.sql import SparkSession


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
    session = (
        SparkSession.builder.master("local[1]")
        .appName("group-lake-unit-tests")
        .config("spark.sql.shuffle.partitions", "1")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.session.timeZone", "UTC")
        # Small frames: broadcast decisions and AQE re-planning only cost time here.
        .config("spark.sql.adaptive.enabled", "false")
        .config("spark.pyspark.python", sys.executable)
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
