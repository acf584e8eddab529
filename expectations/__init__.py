"""Data-quality gates and the sharing rules they are compiled from."""

import sys

# Great Expectations imports `pyspark.sql.connect`, whose import takes a `__main__` without `__spec__` or
# `__file__` (which is what `python -c ...` gives) for a PySpark doctest run and, without the Spark Connect
# extras we do not install, calls `sys.exit(0)`: the process would end silently with success at the import.
# Naming the main module a file keeps `python -c` (the benchmarks' and tests' child processes) running.
_main = sys.modules.get("__main__")
if _main is not None and getattr(_main, "__spec__", None) is None and not hasattr(_main, "__file__") \
        and not hasattr(sys, "ps1"):
    _main.__file__ = "<string>"
