"""Great Expectations at run time: one context per process, a suite and a validation definition per batch.

A batch is a pandas DataFrame (built from DuckDB/Arrow, Arrow-backed columns) or a Spark DataFrame; the
same expectations run on either, through GX's pandas or Spark data source. Results are kept in the
context's validation results store, from which `build_docs` renders Data Docs.
"""

from __future__ import annotations

import copy
import os
import sys
import warnings
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")  # never phone home (and there is no network)

# How many offending values a result carries (messages show 5); counts are always complete.
EXAMPLES = 5


@dataclass
class Batch:
    """One table to validate: its data, the expectations compiled for it, and columns naming a row."""

    name: str  # suite name, e.g. `group.purchases`
    table: str  # what the message calls it, e.g. `group/purchases`
    frame: Any  # pandas.DataFrame or pyspark.sql.DataFrame
    expectations: list[Any]
    index_columns: list[str] = field(default_factory=list)  # e.g. company, _batch_id: shown with offenders


@dataclass
class Outcome:
    """The result of one expectation on one batch."""

    batch: Batch
    expectation: Any
    success: bool
    result: dict
    error: str | None = None

    @property
    def meta(self) -> dict:
        return self.expectation.meta or {}


@cache
def context() -> Any:
    """The process's ephemeral GX context (nothing written but what we ask for), progress bars off."""
    # GX imports altair, which imports jsonschema, which builds an Earley parser for every IRI rule of RFC 3987
    # when `rfc3987_syntax` is installed (a dependency of the lock): 1.6 s of CPU, a third of GX's import, for
    # jsonschema's `iri` format, which no gate uses. Marked missing, jsonschema skips that format.
    sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig
        from great_expectations.execution_engine import pandas_execution_engine

        import expectations.custom  # noqa: F401  (registers the custom expectations and metrics)

        # GX fingerprints every pandas batch under 1 GB (`hash_pandas_object`, a Python-level walk over
        # Arrow-backed columns) only to put the hash in the result's batch markers. On the gates' batches that
        # was about 70% of the whole validation (bench/bench_gates.py); a threshold of 0 skips it.
        pandas_execution_engine.HASH_THRESHOLD = 0
        ctx = gx.get_context(mode="ephemeral")
    ctx.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    return ctx


def _datasource(kind: str) -> Any:
    ctx = context()
    name = f"lake_{kind}"
    try:
        return ctx.data_sources.get(name)
    except (KeyError, ValueError, LookupError):
        pass
    return ctx.data_sources.add_spark(name) if kind == "spark" else ctx.data_sources.add_pandas(name)


def _is_spark(frame: Any) -> bool:
    return type(frame).__module__.startswith("pyspark.")


def validate(batch: Batch, summary: bool = True) -> list[Outcome]:
    """Run the batch's expectations with GX; one outcome per expectation.

    `summary=False` asks only pass or fail: on Spark, each expectation's sample of offending values costs a
    job of its own (a full scan when there are none), so callers ask for them only where something failed.
    """
    import great_expectations as gx

    ctx = context()
    ds = _datasource("spark" if _is_spark(batch.frame) else "pandas")
    if batch.name in ds.get_asset_names():
        ds.delete_asset(batch.name)
    definition = ds.add_dataframe_asset(batch.name).add_batch_definition_whole_dataframe("batch")
    for i, e in enumerate(batch.expectations):  # results come back as configurations: find ours by position
        e.meta = {**(e.meta or {}), "_i": i}
    # copies: an expectation may run in several suites (chunks of a table, a second pass over what failed)
    suite = ctx.suites.add_or_update(gx.ExpectationSuite(name=batch.name,
                                                         expectations=[copy.copy(e) for e in batch.expectations]))
    vd = ctx.validation_definitions.add_or_update(gx.ValidationDefinition(name=batch.name, data=definition,
                                                                          suite=suite))
    fmt: dict[str, Any] = {"result_format": "SUMMARY" if summary else "BOOLEAN_ONLY",
                           "partial_unexpected_count": EXAMPLES}
    if batch.index_columns and summary:
        fmt["unexpected_index_column_names"] = batch.index_columns
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = vd.run(batch_parameters={"dataframe": batch.frame}, result_format=fmt)
    out: list[Outcome | None] = [None] * len(batch.expectations)
    for r in res.results:
        i = int((r.expectation_config.meta or {})["_i"])
        err = None
        if r.exception_info and r.exception_info.get("raised_exception"):
            err = str(r.exception_info.get("exception_message"))[:300]
        out[i] = Outcome(batch, batch.expectations[i], bool(r.success) and err is None, dict(r.result or {}), err)
    return [o for o in out if o is not None]


SUMMARY_PAGE = "gates.html"


def build_docs(folder: Path) -> Path:
    """Render Data Docs of every validation run in this process into `folder`; returns the summary page.

    GX's own index.html lists validations with JavaScript from public CDNs, which a closed network cannot
    load; `gates.html` lists the same validation pages (which render without scripts), failed first.
    """
    import hashlib

    ctx = context()
    site = "lake_" + hashlib.sha1(str(folder.resolve()).encode()).hexdigest()[:8]
    folder.mkdir(parents=True, exist_ok=True)
    sites = ctx.get_site_names()
    if site not in sites:
        ctx.add_data_docs_site(site_name=site, site_config={
            "class_name": "SiteBuilder",
            "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(folder)},
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        })
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ctx.build_data_docs(site_names=[site])
    return _summary(folder)


def _summary(folder: Path) -> Path:
    import html
    import re

    rows = []
    for page in sorted((folder / "validations").rglob("*.html"), reverse=True):
        text = page.read_text(encoding="utf-8", errors="replace")
        m = re.search(r"Status:</span>.*?</i>\s*(\w+)", text, re.S)
        status = m.group(1) if m else "?"
        suite = re.search(r"Expectation Suite:</span>\s*<a[^>]*>([^<]+)</a>", text)
        stats = re.findall(r"<td[^>]*>\s*(\d+)\s*</td>", text)[:3]
        rows.append((status != "Failed", suite.group(1) if suite else page.stem, status,
                     page.relative_to(folder).as_posix(), page.parent.name, stats))
    rows.sort(key=lambda r: (r[0], r[1]))
    body = "\n".join(
        f'<tr class="{"ok" if ok else "failed"}"><td>{html.escape(status)}</td>'
        f'<td><a href="{html.escape(href)}">{html.escape(suite)}</a></td><td>{html.escape(run)}</td>'
        f'<td>{" / ".join(stats)}</td></tr>' for ok, suite, status, href, run, stats in rows)
    page = folder / SUMMARY_PAGE
    page.write_text(f"""<!doctype html><html><head><meta charset="utf-8"><title>Quality gates: Data Docs</title>
<style>body{{font-family:sans-serif;margin:2em}}td,th{{padding:.3em .8em;text-align:left}}
tr.failed td:first-child{{color:#b00;font-weight:bold}}tr.ok td:first-child{{color:#070}}</style></head><body>
<h1>Quality gates: validation results</h1>
<p>One row per table validated (failed first). Each link opens the Great Expectations page of that validation:
every expectation, its rule (meta), and the offending values of those that failed. GX's own
<a href="index.html">index</a> needs scripts from the internet to list them.</p>
<table><tr><th>status</th><th>suite (zone.table)</th><th>run</th><th>expectations / met / failed</th></tr>
{body}
</table></body></html>""", encoding="utf-8")
    return page
