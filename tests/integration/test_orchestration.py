"""The flow on Dagster, with real components: a generated lake, the real ingestion, Spark, dbt and the gates, run
by Dagster's in-process executor on a temporary Dagster instance (SQLite).

One module-scoped lake; the tests run in order on it:
1. the whole flow materialises every asset and passes every gate;
2. a group-zone file breaking a sharing rule fails the group gate: the dbt models do not run, the run fails
   with the rule; after the file is removed the re-run completes and nothing is duplicated;
3. a file dropped into cvs's landing zone makes cvs's sensor (and no other) request a run, and that run
   ingests only cvs.
"""

import datetime as dt
import io

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from dagster import DagsterEventType, DagsterInstance, build_sensor_context

from lake import layout
from lake.config import LakeConfig
from lake.storage import Lake

pytestmark = [pytest.mark.integration, pytest.mark.slow]

# The gates are the flow's asset checks; until expectations.gates is on the branch the flow cannot pass them.
pytest.importorskip("expectations.gates", reason="the quality gates (issue #9) are not on this branch yet")

MEMBERS = 1500
DAYS = 10


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory):
    from generator import GeneratorConfig, generate
    from orchestration.definitions import build_definitions
    from orchestration.manifest import ensure_manifest

    root = tmp_path_factory.mktemp("orchestration")
    lake = Lake(LakeConfig.resolve(str(root / "lake")))
    generate(GeneratorConfig(members=MEMBERS, days=DAYS, seed=5), lake)
    defs = build_definitions(lake_uri=lake.cfg.uri, manifest=ensure_manifest())
    (root / "dagster").mkdir()
    instance = DagsterInstance.local_temp(str(root / "dagster"))
    yield lake, defs, instance
    instance.dispose()


def _run(defs, instance, job: str):
    return defs.resolve_job_def(job).execute_in_process(instance=instance, raise_on_error=False)


def _materialised(result) -> set[str]:
    return {e.asset_key.to_user_string() for e in result.all_events
            if e.event_type == DagsterEventType.ASSET_MATERIALIZATION}


def _checks(result) -> dict[str, bool]:
    out = {}
    for e in result.all_events:
        if e.event_type == DagsterEventType.ASSET_CHECK_EVALUATION:
            ev = e.event_specific_data
            out[f"{ev.asset_key.to_user_string()}:{ev.check_name}"] = ev.passed
    return out


def _manifest_rows(lake: Lake) -> list[dict]:
    from ingestion import manifest

    return manifest.read_all(lake).to_pylist()


def _counts(lake: Lake) -> dict[str, int]:
    """What a re-run must not change: raw files, manifest rows, group rows, marts rows."""
    import duckdb


    con = duckdb.connect()
    out = {"raw_files": sum(len(lake.list_files(layout.raw(c))) for c in ("cvs", "gms", "hq", "money")),
           "manifest_rows": len(_manifest_rows(lake))}
    for t in ("purchases", "member_day", "members"):
        out[f"group.{t}"] = con.execute(
            f"select count(*) from read_parquet('{lake.uri(layout.GROUP, t)}/**/*.parquet')").fetchone()[0]
    for m in ("dim_members", "mart_rfm"):  # the published marts (dbt, in this process, holds the DuckDB file)
        out[f"marts.{m}"] = con.execute(
            f"select count(*) from read_parquet('{lake.uri(layout.MARTS, m + '.parquet')}')").fetchone()[0]
    return out


@pytest.fixture(scope="module")
def first_run(env):
    lake, defs, instance = env
    result = _run(defs, instance, "flow")
    return result, _counts(lake)


def test_the_whole_flow_materialises_every_asset_and_passes_every_gate(env, first_run) -> None:
    lake, defs, _ = env
    result, counts = first_run
    failures = [e.message for e in result.all_events if e.event_type == DagsterEventType.STEP_FAILURE]
    assert result.success, failures
    graph = defs.get_repository_def().asset_graph
    every = {k.to_user_string() for k in graph.get_all_asset_keys() if graph.get(k).is_materializable}
    assert _materialised(result) == every
    checks = _checks(result)
    assert len(checks) == len(list(graph.asset_check_keys)) and all(checks.values()), checks
    assert {"raw-cvs/pos", "group/purchases", "dim_members", "mart_rfm", "exports/cvs/churn_risk_multibrand"} <= every
    # the standing export ran after the marts, as the scheduler, and was audited with the outcome the asset shows
    from exports import audit

    (meta,) = [e.event_specific_data.materialization.metadata for e in result.all_events
               if e.event_type == DagsterEventType.ASSET_MATERIALIZATION
               and e.asset_key.to_user_string() == "exports/cvs/churn_risk_multibrand"]
    mine = [r for r in audit.records(lake) if r["requested_by"] == "scheduler"]
    assert [r["outcome"] for r in mine] == [meta["status"].value] and mine[0]["segment"] == "churn_risk_multibrand"
    # every company landed something, and the marts hold the members the generator made
    assert {r["company"] for r in _manifest_rows(lake)} >= {"cvs", "gms", "dept", "diner", "sm", "baby", "ec",
                                                            "app", "money", "hq"}
    assert 0 < counts["marts.dim_members"] <= MEMBERS
    # the stages recorded their runs in the ops zone (the dashboards' time series)
    from lake import runlog

    stages = set(runlog.read_all(lake).column("stage").to_pylist())
    assert {"check", "build"} <= stages


def test_a_failing_gate_stops_downstream_and_a_rerun_duplicates_nothing(env, first_run) -> None:
    lake, defs, instance = env
    counts = first_run[1]
    # A published group-zone file that breaks the sharing rules: members with e-mail addresses.
    bad = pa.table({"gid": ["000000000018"], "email": ["taro@example.jp"], "birth_year": [1980]})
    buf = io.BytesIO()
    pq.write_table(bad, buf)
    lake.write_bytes(layout.GROUP, "members/zz-planted.parquet", buf.getvalue())

    failed = _run(defs, instance, "flow")
    assert not failed.success
    step_failures = [e for e in failed.all_events if e.event_type == DagsterEventType.STEP_FAILURE]
    assert [e.step_key for e in step_failures] == ["group_gate"]
    reason = step_failures[0].event_specific_data.error.message
    assert "group/members" in reason and "email" in reason
    ran = _materialised(failed)
    assert not any(k.startswith(("dim_", "mart_", "fct_", "stg_", "int_", "exports/")) for k in ran), ran
    assert _checks(failed)["group/members:group_gate"] is False
    assert failed.dagster_run.status.value == "FAILURE"

    lake.delete(layout.GROUP, "members/zz-planted.parquet")
    again = _run(defs, instance, "flow")
    assert again.success
    assert _counts(lake) == counts
    assert _checks(again) and all(_checks(again).values())


def _cvs_file(lake: Lake) -> tuple[str, bytes]:
    """A new day's cvs extract: the last day's file under the next day's name, its dates moved one day on."""
    names = sorted(f for f in lake.list_files(layout.landing("cvs"), "pos") if f.startswith("pos/cvs_pos_"))
    last = names[-1]
    day = dt.datetime.strptime(last[-12:-4], "%Y%m%d").date()
    nxt = day + dt.timedelta(days=1)
    text = lake.read_bytes(layout.landing("cvs"), last).decode("cp932")
    text = text.replace(day.strftime("%Y/%m/%d"), nxt.strftime("%Y/%m/%d"))
    return f"pos/cvs_pos_{nxt:%Y%m%d}.csv", text.encode("cp932")


def test_a_new_landing_file_starts_only_that_companys_ingestion(env, first_run) -> None:
    lake, defs, instance = env
    repo = defs.get_repository_def()
    companies = ["cvs", "gms", "dept", "hq"]
    cursors = {}
    for c in companies:  # the sensors' first look at the zones (what the daemon does once started)
        data = repo.get_sensor_def(f"landing_{c}").evaluate_tick(build_sensor_context(instance=instance))
        cursors[c] = data.cursor
    before = _manifest_rows(lake)
    name, data = _cvs_file(lake)
    lake.write_bytes(layout.landing("cvs"), name, data)
    requests = {}
    for c in companies:
        sensor = repo.get_sensor_def(f"landing_{c}")
        tick = sensor.evaluate_tick(build_sensor_context(instance=instance, cursor=cursors[c]))
        requests[c] = [r.job_name or sensor.job_name for r in tick.run_requests or []]
    assert requests == {"cvs": ["ingest_cvs"], "gms": [], "dept": [], "hq": []}

    result = _run(defs, instance, "ingest_cvs")
    assert result.success
    assert _materialised(result) == {f"raw-cvs/{f}" for f in ("pos", "stores", "categories")}
    new = [r for r in _manifest_rows(lake) if r not in before]
    assert [(r["company"], r["source"].split("/")[-1]) for r in new] == [("cvs", name.split("/")[-1])]
    assert new[0]["rows_landed"] > 0
