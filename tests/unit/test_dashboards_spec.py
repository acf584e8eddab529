"""The dashboards as code: the YAML in dashboards/ is consistent, and compiles into what Superset takes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from dashboards.spec import CHART_TYPES, chart_params, dashboard_metadata, load_spec, position_json
from dashboards.views import load_datasets
from expectations.rules import load_rules
from lake.errors import LakeError

BUSINESS = {"programme-campaigns", "cross-brand", "members"}


@pytest.fixture(scope="module")
def spec():
    return load_spec()


def test_the_four_dashboards_refresh_every_minute(spec) -> None:
    assert set(spec.dashboards) == BUSINESS | {"operations"}
    assert spec.refresh_seconds == 60
    meta = dashboard_metadata(spec.refresh_seconds)
    assert meta["refresh_frequency"] == 60 and meta["timed_refresh_immune_slices"] == []


def test_who_may_open_what(spec) -> None:
    by_role = {name: set(r.dashboards) for name, r in spec.roles.items()}
    assert by_role["contractor"] == {"operations"}  # never the business KPIs
    assert by_role["business"] == BUSINESS | {"operations"}
    assert by_role["engineering"] == BUSINESS | {"operations"}
    stewards = {info["steward"] for info in load_rules().companies.values()}
    assert stewards <= set(by_role)  # one role per company, from the sharing rules
    assert all(by_role[s] == {"operations"} for s in stewards)
    # the dashboards carry the roles that may open them (DASHBOARD_RBAC)
    assert "contractor" not in spec.dashboards["members"].roles
    assert "contractor" in spec.dashboards["operations"].roles
    assert spec.roles["engineering"].can == {"annotate"} and not spec.roles["business"].can


def test_business_dashboards_show_operations_beside_the_kpis(spec) -> None:
    for slug in BUSINESS:
        datasets = {c.dataset for c in spec.dashboards[slug].charts}
        assert "company_freshness" in datasets, slug  # how fresh the numbers are, on the same page


def test_every_chart_compiles_to_superset_form_data(spec) -> None:
    datasets = {name: i for i, name in enumerate(sorted(spec.datasets), start=1)}
    layers = {k: 100 + i for i, k in enumerate(spec.layers)}
    for chart in spec.charts:
        p = chart_params(chart, datasets[chart.dataset], spec.layers, layers)
        assert p["viz_type"] == CHART_TYPES[chart.type]
        assert p["datasource"] == f"{datasets[chart.dataset]}__table"
        assert p["lake_key"] == chart.key
        json.dumps(p)  # it is sent as JSON
        if chart.type in ("line", "bar"):
            assert p["metrics"] and all(m["expressionType"] == "SQL" for m in p["metrics"])
            wanted = [layers[k] for k in chart.options.get("annotations", [])]
            assert [a["value"] for a in p["annotation_layers"]] == wanted
        if chart.options.get("grain"):
            assert p["time_grain_sqla"] == chart.options["grain"]
            assert any(f.get("operator") == "TEMPORAL_RANGE" for f in p["adhoc_filters"])


def test_time_series_charts_carry_annotations(spec) -> None:
    ops = [c for c in spec.dashboards["operations"].charts if c.options.get("grain") == "PT1M"]
    assert ops and all({"rejected_files", "gate_failures", "deployments", "notes"} <= set(c.options["annotations"])
                       for c in ops)
    business = [c for slug in BUSINESS for c in spec.dashboards[slug].charts if c.options.get("grain")]
    assert business and all("campaigns" in c.options["annotations"] for c in business)
    # business days and run times are different clocks: never mix them on one chart
    clocks = {k: layer.clock for k, layer in spec.layers.items()}
    for c in ops + business:
        assert len({clocks[k] for k in c.options["annotations"] if clocks[k]}) == 1, c.key


def test_layout_places_every_chart_once(spec) -> None:
    for d in spec.dashboards.values():
        ids = {c.key: i for i, c in enumerate(d.charts)}
        pos = position_json(d, ids)
        charts = [v for v in pos.values() if isinstance(v, dict) and v.get("type") == "CHART"]
        assert sorted(c["meta"]["chartId"] for c in charts) == sorted(ids.values())
        for row_id in pos["GRID_ID"]["children"]:
            assert sum(pos[c]["meta"]["width"] for c in pos[row_id]["children"]) <= 12


def test_mart_datasets_say_how_small_cells_stay_off(tmp_path: Path) -> None:
    datasets = load_datasets()
    for ds in datasets.values():
        if ds.mart and ds.cells is None:  # only marts that count no members may skip suppression
            raw = yaml.safe_load((Path(__file__).parents[2] / "dashboards" / "datasets.yml").read_text())
            assert raw["datasets"][ds.name]["why"], ds.name
    bad = tmp_path / "datasets.yml"
    bad.write_text("datasets:\n  rfm:\n    mart: mart_rfm\n")
    with pytest.raises(LakeError, match="cells below k"):
        load_datasets(bad)
    bad.write_text("datasets:\n  rfm:\n    mart: mart_rfm\n    cells: none\n")
    with pytest.raises(LakeError, match="why"):
        load_datasets(bad)


def test_spec_errors_name_the_chart(tmp_path: Path) -> None:
    spec = yaml.safe_load((Path(__file__).parents[2] / "dashboards" / "dashboards.yml").read_text())
    spec["dashboards"]["members"]["charts"]["moves_total"]["dataset"] = "no_such_dataset"
    f = tmp_path / "dashboards.yml"
    f.write_text(yaml.safe_dump(spec))
    with pytest.raises(LakeError, match="moves_total"):
        load_spec(f)
    spec["dashboards"]["members"]["charts"]["moves_total"]["dataset"] = "moves_monthly"
    spec["dashboards"]["members"]["rows"][0].pop("moves_total")
    f.write_text(yaml.safe_dump(spec))
    with pytest.raises(LakeError, match="exactly once"):
        load_spec(f)
