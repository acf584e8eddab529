"""The flow as Dagster assets: one per stage and company, each calling the stage's own function.

    raw-<company>/<feed>   ingestion of one company (one op per company: `ingestion.engine.ingest`)
    group/<table>          the Spark transforms (`transforms.run_transforms`), after every raw asset
    <dbt model>            the dbt models from the manifest (`lake.build.run_build`, which stages, gates and
                           publishes the marts), their sources being the group tables above
    exports/<company>/<segment>   each standing segment export (`exports/standing.yml`), after the marts

The stages record their own runs in the ops zone (`lake.runlog`), so a run started here is recorded exactly
as one started from the CLI. Object-store errors are retried with backoff (`orchestration.retries`); any other
failure fails the step with its message, and the assets downstream of it do not run.
"""


import json
from collections.abc import Iterator
from functools import cache
from graphlib import TopologicalSorter
from pathlib import Path
from typing import Any

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetSpec,
    ConfigurableResource,
    MaterializeResult,
    multi_asset,
)
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, dbt_assets

from lake import layout
from lake.errors import LakeError
from lake.storage import Lake
from orchestration import retries
from orchestration.manifest import manifest_path

INGESTION = "ingestion"
TRANSFORMS = "transforms"
MARTS = "marts"
EXPORTS = "exports"


class LakeResource(ConfigurableResource):
    """The lake the jobs run on: a folder or s3:// (None: LAKE_URI, else ./.lake), and how to retry on it."""

    uri: str | None = None
    max_retries: int = retries.MAX_RETRIES
    backoff_seconds: float = retries.BASE_SECONDS

    def open(self) -> Lake:
        from lake.storage import open_lake

        return open_lake(self.uri)

    def retrying(self, context: Any):
        return retries.object_store_retries(context, self.max_retries, self.backoff_seconds)


class SparkResource(ConfigurableResource):
    """Where the transforms' Spark runs: None means SPARK_MASTER, else local[2]; `spark://host:7077` a cluster."""

    master: str | None = None


# --- ingestion -------------------------------------------------------------------------------

@cache
def company_feeds() -> dict[str, tuple[str, ...]]:
    """Each company of the sharing rules with the feeds its contracts accept (masters sent by all included)."""
    from expectations.rules import load_rules
    from ingestion.contracts import load_contracts

    contracts = load_contracts()
    shared = sorted({c.feed for c in contracts if c.company == "any"})
    out = {}
    for company in load_rules().companies:
        own = sorted({c.feed for c in contracts if c.company == company})
        out[company] = tuple(own + ([] if company == "hq" else shared))  # hq sends only the group masters
    return out


def raw_key(company: str, feed: str) -> AssetKey:
    return AssetKey([layout.raw(company), feed])


def group_key(table: str) -> AssetKey:
    return AssetKey([layout.GROUP, table])


def ingestion_asset(company: str, feeds: tuple[str, ...]):
    """One op per company (its landing zone), one asset per feed it lands in its raw zone."""

    @multi_asset(
        name=f"{company}_ingestion",
        specs=[AssetSpec(raw_key(company, feed), group_name=INGESTION, kinds={"duckdb", "parquet"},
                         description=f"{company} {feed}: validated Parquet in {layout.raw(company)} "
                                     f"(landed from {layout.landing(company)}/{feed}/)",
                         skippable=True)
               for feed in feeds],
        can_subset=False,
        op_tags={"company": company},
    )
    def _ingest(context: AssetExecutionContext, lake: LakeResource) -> Iterator[MaterializeResult]:
        from ingestion.engine import ingest

        with lake.retrying(context):
            summary = ingest(lake.open(), [company])
            failed = getattr(summary, "failed", None) or []  # files that could not be read: retried next run
            if failed:
                raise OSError(f"{len(failed)} file(s) of {company} could not be ingested: "
                              + "; ".join(f"{s}: {e}" for s, e in failed[:5]))
        for feed in feeds:
            rows = [r for r in summary.rows if r.feed == feed]
            yield MaterializeResult(asset_key=raw_key(company, feed), metadata={
                "files": len(rows),
                "rows_landed": sum(r.rows_landed for r in rows),
                "rows_quarantined": sum(r.rows_quarantined for r in rows),
                "files_rejected": sum(r.status == "rejected" for r in rows),
                "files_unchanged": summary.skipped,
            })

    return _ingest


# --- transforms ------------------------------------------------------------------------------

@cache
def group_tables() -> tuple[str, ...]:
    from transforms.schema import group_tables as tables

    return tuple(tables())


def transforms_asset(raw_keys: list[AssetKey]):
    @multi_asset(
        name="spark_transforms",
        specs=[AssetSpec(group_key(t), group_name=TRANSFORMS, kinds={"spark", "parquet"}, deps=raw_keys,
                         description=f"group zone table {t} (conformed, pseudonymous)", skippable=True)
               for t in group_tables()],
        can_subset=False,
    )
    def _transform(context: AssetExecutionContext, lake: LakeResource, spark: SparkResource
                   ) -> Iterator[MaterializeResult]:
        from transforms import run_transforms

        with lake.retrying(context):
            summary = run_transforms(lake.open(), master=spark.master, progress=context.log.info)
        written = summary.get("rows") or summary.get("tables") or {}
        for t in group_tables():
            meta: dict[str, Any] = {"skipped": bool(summary.get("skipped"))}
            if isinstance(written, dict) and isinstance(written.get(t), int):
                meta["rows_written"] = written[t]
            yield MaterializeResult(asset_key=group_key(t), metadata=meta)

    return _transform


# --- dbt -------------------------------------------------------------------------------------

class LakeDbtTranslator(DagsterDbtTranslator):
    """dbt sources are the group-zone tables the transforms write; every model is in the `marts` group."""

    def get_asset_key(self, dbt_resource_props: dict[str, Any]) -> AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return group_key(dbt_resource_props["name"])
        return AssetKey([dbt_resource_props["name"]])

    def get_group_name(self, dbt_resource_props: dict[str, Any]) -> str | None:
        return MARTS


def dbt_models_asset(manifest: Path | None = None):
    translator = LakeDbtTranslator(settings=DagsterDbtTranslatorSettings(enable_asset_checks=False))

    @dbt_assets(manifest=manifest or manifest_path(), dagster_dbt_translator=translator, name="dbt_models")
    def _dbt(context: AssetExecutionContext, lake: LakeResource) -> Iterator[MaterializeResult]:
        from lake.build import run_build

        names = sorted(k.path[-1] for k in context.selected_asset_keys)
        every = sorted(k.path[-1] for k in context.assets_def.keys)
        select = None if names == every else " ".join(names)
        with lake.retrying(context):
            the_lake = lake.open()
            result = run_build(the_lake, select=select)
        if not result.success:
            raise LakeError("dbt build failed: " + "; ".join(result.failures[:5]),
                            "fix the model or test named above, then re-run the flow (only what failed runs)")
        timings = _run_timings()
        deps = context.assets_def.asset_deps
        order = TopologicalSorter({k: deps.get(k, set()) for k in context.selected_asset_keys}).static_order()
        for key in (k for k in order if k in context.selected_asset_keys):  # Dagster wants upstream first
            yield MaterializeResult(asset_key=key, metadata={
                "marts_db": result.marts_db, **({"seconds": timings[key.path[-1]]} if key.path[-1] in timings else {})})

    return _dbt


def _run_timings() -> dict[str, float]:
    """Per-model seconds from dbt's run_results.json (absent: no figures, not an error)."""
    from lake.build import PROJECT_DIR

    path = PROJECT_DIR / "target" / "run_results.json"
    try:
        results = json.loads(path.read_text())["results"]
    except (OSError, ValueError, KeyError):
        return {}
    return {r["unique_id"].split(".")[-1]: round(float(r.get("execution_time") or 0), 2)
            for r in results if r["unique_id"].startswith("model.")}


# --- exports ---------------------------------------------------------------------------------

def export_key(company: str, segment: str) -> AssetKey:
    return AssetKey([EXPORTS, company, segment])


def exports_asset(mart_keys: list[AssetKey]):
    """The standing segment exports, after every mart; None when there are none."""
    from exports.standing import load_standing

    requests = {export_key(r.company, r.segment): r for r in load_standing()}
    if not requests:
        return None

    @multi_asset(
        name="segment_exports",
        specs=[AssetSpec(k, group_name=EXPORTS, kinds={"csv", "parquet"}, deps=mart_keys, skippable=True,
                         description=f"segment {r.segment} exported for {r.company} (exports/standing.yml)")
               for k, r in requests.items()],
        can_subset=True,
    )
    def _export(context: AssetExecutionContext, lake: LakeResource) -> Iterator[MaterializeResult]:
        from exports.export import ExportRefused, export_segment

        the_lake = lake.open()
        for key, req in requests.items():
            if key not in context.selected_asset_keys:
                continue
            with lake.retrying(context):
                try:
                    result = export_segment(the_lake, req)
                    meta: dict[str, Any] = {"status": result.status, "campaign_id": result.campaign_id,
                                            "members": result.members, "groups": json.dumps(result.groups)}
                except ExportRefused as e:  # audited like any attempt; the flow goes on
                    context.log.warning(f"{key.to_user_string()}: {e.what}")
                    meta = {"status": "refused", "refused_by": ", ".join(c.rule for c in e.result.refused),
                            "reason": e.what[:500]}
            yield MaterializeResult(asset_key=key, metadata=meta)

    return _export

