"""The Dagster definitions of the flow: `dagster-webserver -m orchestration.definitions` (or `lake schedule up`).

Jobs
    flow              every asset, landing to marts, with the gates as blocking checks
    ingest_<company>  that company's ingestion only (what its landing-zone sensor starts)
Schedules             one per entry of orchestration/schedules.yml whose `runs` names a job here (`transforms`
                      runs the flow: the transforms and everything downstream, after ingesting what is waiting)
Sensors               one per landing zone: a new or changed file starts that company's ingestion

Every job runs in one process (SQLite storage locks under the multiprocess executor; the stages are
sequential anyway, and Spark and DuckDB use the cores themselves).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from dagster import (
    AssetSelection,
    DefaultScheduleStatus,
    DefaultSensorStatus,
    Definitions,
    RunRequest,
    ScheduleDefinition,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    define_asset_job,
    in_process_executor,
    sensor,
)

from lake import layout
from orchestration import assets, checks
from orchestration.schedules import SCHEDULES, Schedule, load_schedules

FLOW_JOB = "flow"
# What a schedules.yml `runs` value starts here; `catalog` (the Glue crawler) exists only in the cloud.
JOB_OF_RUNS = {"transforms": FLOW_JOB}
CLOUD_ONLY = {"catalog"}
SENSOR_SECONDS = 30


def ingest_job_name(company: str) -> str:
    return f"ingest_{company}"


def landing_cursor(files: list[tuple[str, int, str]]) -> str:
    """A fingerprint of what a landing zone holds (path, size, mtime): it changes when a file is added or replaced."""
    return hashlib.sha256(json.dumps(sorted(files)).encode()).hexdigest()


def landing_sensor(company: str, lake_resource: assets.LakeResource):
    @sensor(name=f"landing_{company}", job_name=ingest_job_name(company), minimum_interval_seconds=SENSOR_SECONDS,
            default_status=DefaultSensorStatus.RUNNING,
            description=f"new or changed files in {layout.landing(company)} start {company}'s ingestion")
    def _sensor(context: SensorEvaluationContext):
        lake = lake_resource.open()
        files = [(f.rel, f.size, f.mtime.isoformat() if f.mtime else "")
                 for f in lake.stat_files(layout.landing(company))]
        if not files:
            return SkipReason(f"{layout.landing(company)} is empty")
        cursor = landing_cursor(files)
        if cursor == context.cursor:
            return SkipReason(f"nothing new in {layout.landing(company)}")
        # Ingestion skips what it has already landed (by content hash), so a changed listing is enough.
        return SensorResult(run_requests=[RunRequest(run_key=cursor, tags={"company": company,
                                                                           "trigger": "landing"})],
                            cursor=cursor)

    return _sensor


def schedule_definitions(entries: list[Schedule]) -> list[ScheduleDefinition]:
    """Dagster schedules from the schedules file (the one the cloud deployment reads)."""
    from lake.errors import LakeError

    out = []
    for s in entries:
        if s.runs in CLOUD_ONLY:
            continue
        if s.runs not in JOB_OF_RUNS:
            raise LakeError(f"schedule {s.name!r} runs {s.runs!r}, which the Dagster definitions cannot start",
                            f"use one of {sorted(JOB_OF_RUNS) + sorted(CLOUD_ONLY)} in {SCHEDULES}")
        out.append(ScheduleDefinition(name=s.name.replace("-", "_"), cron_schedule=s.cron,
                                      execution_timezone=s.timezone, job_name=JOB_OF_RUNS[s.runs],
                                      description=s.description, default_status=DefaultScheduleStatus.RUNNING))
    return out


def build_definitions(lake_uri: str | None = None, manifest: Path | None = None,
                      backoff_seconds: float | None = None, spark_master: str | None = None) -> Definitions:
    """Everything Dagster shows and runs; `lake_uri` None: LAKE_URI or ./.lake, read when a run starts."""
    lake = assets.LakeResource(uri=lake_uri, **({} if backoff_seconds is None else
                                                 {"backoff_seconds": backoff_seconds}))
    feeds = assets.company_feeds()
    ingestion = {c: assets.ingestion_asset(c, f) for c, f in feeds.items()}
    raw_keys = [k for a in ingestion.values() for k in a.keys]
    transforms = assets.transforms_asset(raw_keys)
    dbt = assets.dbt_models_asset(manifest)
    marts = _mart_names(manifest)
    mart_keys = [k for k in dbt.keys if k.path[-1] in marts]
    exports = assets.exports_asset(mart_keys)
    gate_checks = [checks.raw_gate(c, list(a.keys)) for c, a in ingestion.items()]
    gate_checks += [checks.group_gate(list(transforms.keys)), checks.marts_gate(mart_keys)]
    jobs = [define_asset_job(FLOW_JOB, selection=AssetSelection.all(),
                             description="the whole flow: ingestion, transforms, dbt marts, with every gate")]
    jobs += [define_asset_job(ingest_job_name(c), selection=AssetSelection.assets(a),
                              description=f"{c}'s ingestion and its raw gate") for c, a in ingestion.items()]
    return Definitions(
        assets=[*ingestion.values(), transforms, dbt, *([exports] if exports is not None else [])],
        asset_checks=gate_checks,
        jobs=jobs,
        schedules=schedule_definitions(load_schedules()),
        sensors=[landing_sensor(c, lake) for c in feeds],
        resources={"lake": lake, "spark": assets.SparkResource(master=spark_master)},
        executor=in_process_executor,
    )


def _mart_names(manifest: Path | None) -> set[str]:
    """The models under models/marts/ (the ones the marts gate declares), not staging or intermediate."""
    from orchestration.manifest import manifest_path

    nodes = json.loads((manifest or manifest_path()).read_text())["nodes"].values()
    return {n["name"] for n in nodes if n["resource_type"] == "model" and "marts" in n["fqn"][1:2]}
