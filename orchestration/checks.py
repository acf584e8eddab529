"""The quality gates (`expectations.gates`, as `lake check` runs them) as blocking Dagster asset checks.

    raw-<company>/*   `check_raw_zone(lake, companies=[company])`: the contracts on that company's raw zone
    group/*           `check_group_zone(lake)`: the sharing rules on the published group zone
    marts (dbt)       `check_marts(<marts DuckDB file>)`: keys, money, probabilities, minimum cell size k

Each check is blocking: when it fails, the assets downstream of what it checks do not run, and the run fails
with the gate's message (rule, table, column, rows). Every report is recorded in the ops zone
(`gates.record`), like `lake check`. The gates module is imported when a check runs, not when the definitions
load, so the definitions load (and the webserver shows the graph) on a checkout without it.
"""


from collections.abc import Iterable, Iterator
from typing import Any

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetKey,
    Failure,
    multi_asset_check,
)

from lake.errors import LakeError
from orchestration.assets import LakeResource

RAW_GATE = "raw_gate"
GROUP_GATE = "group_gate"
MARTS_GATE = "marts_gate"


def _gates():
    try:
        from expectations import gates
    except ImportError as e:  # the gates are on their own branch until they land
        raise LakeError(f"the quality gates (expectations.gates) are not available: {e}",
                        "update the checkout (the gates land with issue #9)") from e
    return gates


def results(report: Any, specs: Iterable[AssetCheckSpec], table_of: dict[AssetKey, str]) -> Iterator[AssetCheckResult]:
    """One result per checked asset: failed when a finding on its table failed, with those findings' messages.

    A failure on a table that no asset stands for (say a stray folder in the zone) fails every asset the gate
    checks: something published breaks a rule, and nothing downstream should build on it.
    """
    failures = list(report.failures)
    stray = [f for f in failures if not any(_names(f.table, t) for t in table_of.values())]
    for spec in specs:
        mine = [f for f in failures if _names(f.table, table_of[spec.asset_key])] + stray
        checked = [f for f in report.findings if _names(f.table, table_of[spec.asset_key])]
        yield AssetCheckResult(
            asset_key=spec.asset_key, check_name=spec.name, passed=not mine,
            severity=AssetCheckSeverity.ERROR,
            description=None if not mine else "\n".join(f.message() for f in mine[:10]),
            metadata={"gate": report.gate, "expectations": len(checked), "failed": len(mine),
                      "rules_failed": sorted({f.rule for f in mine}), "gate_run_id": report.run_id})


def verdict(report: Any, specs: list[AssetCheckSpec], table_of: dict[AssetKey, str]) -> Iterator[AssetCheckResult]:
    """The check results, then, if the gate failed, a step failure whose message is the gate's (the run's reason)."""
    yield from results(report, specs, table_of)
    if not report.ok:
        raise Failure(description=report.message(), metadata={"gate": report.gate, "gate_run_id": report.run_id})


def _names(label: str, table: str) -> bool:
    """The gates call a table `raw-cvs/pos` (or `raw-cvs/pos schema of batch ...`), `group/purchases`, ..."""
    return label == table or label.startswith(table + " ")


def raw_gate(company: str, keys: list[AssetKey]):
    specs = [AssetCheckSpec(RAW_GATE, asset=k, blocking=True,
                            description=f"contracts of {company}'s raw zone (lake check --gate raw)") for k in keys]
    table_of = {k: "/".join(k.path) for k in keys}

    @multi_asset_check(name=f"raw_gate_{company}", specs=specs, can_subset=False)
    def _check(context: AssetCheckExecutionContext, lake: LakeResource) -> Iterator[AssetCheckResult]:
        g = _gates()
        with lake.retrying(context):
            the_lake = lake.open()
            report = g.check_raw_zone(the_lake, companies=[company])
            g.record(the_lake, report)
        yield from verdict(report, specs, table_of)

    return _check


def group_gate(keys: list[AssetKey]):
    specs = [AssetCheckSpec(GROUP_GATE, asset=k, blocking=True,
                            description="sharing rules on the group zone (lake check --gate group)") for k in keys]
    table_of = {k: "/".join(k.path) for k in keys}

    @multi_asset_check(name=GROUP_GATE, specs=specs, can_subset=False)
    def _check(context: AssetCheckExecutionContext, lake: LakeResource) -> Iterator[AssetCheckResult]:
        g = _gates()
        with lake.retrying(context):
            the_lake = lake.open()
            report = g.check_group_zone(the_lake)
            g.record(the_lake, report)
        yield from verdict(report, specs, table_of)

    return _check


def marts_gate(keys: list[AssetKey]):
    specs = [AssetCheckSpec(MARTS_GATE, asset=k, blocking=True,
                            description="keys, money, probabilities and k on the marts (lake check --gate marts)")
             for k in keys]
    table_of = {k: f"marts/{k.path[-1]}" for k in keys}

    @multi_asset_check(name=MARTS_GATE, specs=specs, can_subset=False)
    def _check(context: AssetCheckExecutionContext, lake: LakeResource) -> Iterator[AssetCheckResult]:
        from lake.build import marts_db_path

        g = _gates()
        with lake.retrying(context):
            the_lake = lake.open()
            report = g.check_marts(str(marts_db_path(the_lake)))
            g.record(the_lake, report)
        yield from verdict(report, specs, table_of)

    return _check
