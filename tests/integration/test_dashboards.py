"""The dashboards as a person meets them: Superset started by the tests, provisioned from the repository's YAML.

- provisioning twice changes nothing;
- the role x dashboard matrix through the API: listing, opening, and reading a chart's data;
- every dashboard in headless Chromium as a role that may open it (every chart rendered with data, big numbers
  equal to the marts) and as one that may not (refused); screenshots in test-artifacts/screenshots/;
- no cell below k reaches Superset, and Superset cannot read anything but the marts and the ops folders;
- annotations: the mart's events on the charts, one added through the API, a deployment from the CLI;
- an alert reaches a webhook receiver on 127.0.0.1, once;
- `lake build` while Superset serves succeeds, and the dashboards then show the new numbers.
"""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import replace

import duckdb
import pytest
from click.testing import CliRunner

from dashboards.spec import load_spec
from expectations.rules import load_rules
from lake import layout, runlog
from lake.build import run_build
from lake.cli import main
from tests.integration import browser
from tests.integration.dashboards_fixture import FIXTURE, SCREENSHOTS
from tests.integration.group_fixture import write_group_fixture
from tests.webhook import Receiver

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ALL = {"programme-campaigns", "cross-brand", "members", "operations"}
# who may open what: what permissions.yml says, written out (a contractor never sees the business KPIs)
MAY_OPEN = {"business": ALL, "engineering": ALL, "contractor": {"operations"}, "cvs-data-steward": {"operations"}}
MEMBER_COUNT = re.compile(r"(^|_)(members|movers|moves|redeemers)(_|$)")


# --- helpers ------------------------------------------------------------------------------------------------------

def _charts(env) -> dict[str, list[dict]]:
    """The provisioned charts per dashboard slug (as the admin sees them)."""
    admin = env.client()
    boards = {d["id"]: d["slug"] for d in admin.list_all("dashboard", ["id", "slug"])}
    out: dict[str, list[dict]] = {slug: [] for slug in boards.values()}
    for c in admin.list_all("chart", ["id", "slice_name", "params", "datasource_id", "viz_type", "dashboards.id"]):
        for d in c.get("dashboards") or []:
            out[boards[d["id"]]].append(c)
    return out


def chart_query(chart: dict, dashboard_id: int) -> dict:
    """The query the dashboard page sends for a chart (its dataset, columns, metrics and filters), in the
    dashboard's context: DASHBOARD_RBAC grants the data of a chart through the dashboard it is on."""
    p = json.loads(chart["params"])
    where = " and ".join(f"({f['sqlExpression']})" for f in p["adhoc_filters"] if f["expressionType"] == "SQL")
    metrics = p.get("metrics") or ([p["metric"]] if p.get("metric") else [])
    viz = p["viz_type"]
    if viz == "table":
        columns, metrics = p["all_columns"], []
    elif viz.startswith("echarts_timeseries"):
        columns = [p["x_axis"], *p["groupby"]]
    elif viz == "heatmap_v2":
        columns = [p["x_axis"], p["groupby"]]
    elif viz == "sankey_v2":
        columns = [p["source"], p["target"]]
    else:
        columns = []
    return {
        "datasource": {"id": chart["datasource_id"], "type": "table"},
        "force": True,
        "queries": [{"columns": columns, "metrics": metrics, "filters": [], "extras": {"where": where},
                     "row_limit": 1000, "orderby": [], "time_range": "No filter",
                     "annotation_layers": p.get("annotation_layers", [])}],
        "form_data": {"slice_id": chart["id"], "dashboardId": dashboard_id, "viz_type": viz,
                      "datasource": p["datasource"]},
        "result_format": "json",
        "result_type": "full",
    }


def _dashboard_ids(env) -> dict[str, int]:
    return {d["slug"]: d["id"] for d in env.client().list_all("dashboard", ["id", "slug"])}


def _chart_data(client, chart: dict, dashboard_id: int):
    return client.raw("POST", "/api/v1/chart/data", chart_query(chart, dashboard_id))


def _sql(env, sql: str, role: str | None = None) -> tuple[bool, dict]:
    """SQL Lab (the admin's by default) on the lake database: did it run, and what it answered."""
    r = env.client(role).raw("POST", "/api/v1/sqllab/execute/", {"database_id": env.report.database_id, "sql": sql,
                                                                "schema": "main", "runAsync": False})
    body = r.json() if r.content else {}
    return r.status_code == 200 and body.get("status") == "success", body


# --- provisioning -------------------------------------------------------------------------------------------------

def test_provisioning_again_changes_nothing(dashboards_env) -> None:
    from dashboards.provision import provision

    env = dashboards_env
    admin = env.client()
    before = {k: len(admin.list_all(k, ["id"])) for k in ("dashboard", "chart", "dataset", "annotation_layer")}
    report = provision(admin, env.lake, env.server.views_db)
    assert report.changes == 0, report.summary()
    after = {k: len(admin.list_all(k, ["id"])) for k in ("dashboard", "chart", "dataset", "annotation_layer")}
    spec = load_spec()
    assert after == before == {"dashboard": 4, "chart": len(spec.charts), "dataset": len(spec.datasets),
                               "annotation_layer": len(spec.layers)}
    for slug, d_id in _dashboard_ids(env).items():
        d = admin.get(f"/api/v1/dashboard/{d_id}")["result"]
        assert json.loads(d["json_metadata"])["refresh_frequency"] == 60
        assert d["published"] and {r["name"] for r in d["roles"]} == set(spec.dashboards[slug].roles)
    db = admin.get(f"/api/v1/database/{env.report.database_id}/connection")["result"]
    assert json.loads(db["extra"])["engine_params"]["connect_args"] == {"read_only": True}
    assert not db["allow_dml"]


# --- permissions through the API ----------------------------------------------------------------------------------

def test_the_matrix_in_the_yaml_is_the_one_tested() -> None:
    spec = load_spec()
    assert {role: set(spec.roles[role].dashboards) for role in MAY_OPEN} == MAY_OPEN


@pytest.mark.parametrize("role", sorted(MAY_OPEN))
def test_role_by_dashboard_through_the_api(dashboards_env, role: str) -> None:
    env = dashboards_env
    client = env.client(role)
    listed = {d["slug"] for d in client.list_all("dashboard", ["id", "slug"])}
    assert listed == MAY_OPEN[role]
    ids = _dashboard_ids(env)
    charts = _charts(env)
    for slug, d_id in ids.items():
        allowed = slug in MAY_OPEN[role]
        page = client.raw("GET", f"/api/v1/dashboard/{slug}")
        assert page.status_code == (200 if allowed else 404), (role, slug, page.status_code)
        chart = charts[slug][0]
        data = _chart_data(client, chart, d_id)
        if allowed:
            assert data.status_code == 200, (role, slug, data.text[:300])
        else:
            assert data.status_code == 403, (role, slug, data.status_code)
        # a chart's data cannot be had by naming a dashboard the role may open but the chart is not on
        other = next(iter(MAY_OPEN[role] - {slug}), None)
        if other is not None:
            assert _chart_data(client, chart, ids[other]).status_code == 403, (role, slug, other)
    assert client.raw("GET", "/api/v1/dataset/").json()["count"] == 0  # no dataset access outside dashboards


# --- every dashboard in a browser ---------------------------------------------------------------------------------

def _expected_big_numbers(env, charts: list[dict], dashboard_id: int) -> dict[int, float]:
    out = {}
    admin = env.client()
    for c in charts:
        if c["viz_type"] == "big_number_total":
            res = _chart_data(admin, c, dashboard_id).json()["result"][0]["data"]
            out[c["id"]] = next(iter(res[0].values()))
    return out


@pytest.mark.parametrize("slug", sorted(ALL))
def test_dashboard_in_a_browser(dashboards_env, slug: str) -> None:
    env = dashboards_env
    charts = _charts(env)[slug]
    d_id = _dashboard_ids(env)[slug]
    allowed_role = "contractor" if slug == "operations" else "business"
    user, password = env.accounts[allowed_role]
    with browser.chrome() as driver:
        browser.login(driver, env.server.url, user, password)
        views = browser.open_dashboard(driver, env.server.url, slug)
        browser.screenshot(driver, SCREENSHOTS / "screenshots" / f"{slug}-as-{allowed_role}.png")
    assert {v.chart_id for v in views} == {c["id"] for c in charts}
    problems = [(v.name, v.state, v.text[:200]) for v in views if v.state != "rendered"]
    assert not problems, problems
    admin = env.client()
    for v in views:  # what the page drew has data behind it, as this dashboard's viewer gets it
        chart = next(c for c in charts if c["id"] == v.chart_id)
        rows = _chart_data(admin, chart, d_id).json()["result"][0]["rowcount"]
        assert rows > 0, v.name
        if v.viz == "table":
            assert v.table_rows == min(rows, 10), v.name  # the page shows the first page of rows
    for chart_id, value in _expected_big_numbers(env, charts, d_id).items():
        shown = next(v for v in views if v.chart_id == chart_id).text.splitlines()[-1]
        assert float(shown.replace(",", "")) == pytest.approx(value, rel=5e-3, abs=5e-3), (shown, value)


def test_programme_dashboard_shows_both_estimates_from_the_marts(dashboards_env) -> None:
    """The four big numbers are the marts' descriptive and causal estimates, read through the analyst connection."""
    from lake.analyst import connect

    env = dashboards_env
    con = connect(env.lake)
    expected = {}
    for metric, col, title in [(m, c, t) for m in ("spend_yen_per_month", "visits_per_month")
                               for c, t in (("difference", "descriptive"), ("causal_effect", "causal"))]:
        value = con.execute(f"select {col} from mart_programme_effect where metric = ? and not is_suppressed",
                            [metric]).fetchone()
        expected[("spend" if metric.startswith("spend") else "visits", title)] = value[0] if value else None
    assert expected[("spend", "descriptive")] is not None and expected[("spend", "causal")] is not None, expected
    charts = _charts(env)["programme-campaigns"]
    d_id = _dashboard_ids(env)["programme-campaigns"]
    shown = _expected_big_numbers(env, charts, d_id)
    names = {c["id"]: c["slice_name"] for c in charts}
    got = {}
    for chart_id, value in shown.items():
        name = names[chart_id]
        kind = "causal" if "causal" in name else "descriptive"
        got[("spend" if "spend" in name else "visits", kind)] = value
    assert set(got) == set(expected), (got, expected)
    for key, value in expected.items():
        assert got[key] == pytest.approx(value, rel=1e-9, abs=1e-9), key


@pytest.mark.parametrize("slug", sorted(ALL - MAY_OPEN["contractor"]))
def test_a_contractor_is_refused_in_the_browser(dashboards_env, slug: str) -> None:
    env = dashboards_env
    user, password = env.accounts["contractor"]
    with browser.chrome() as driver:
        browser.login(driver, env.server.url, user, password)
        views = browser.open_dashboard(driver, env.server.url, slug)
        body = driver.find_element("tag name", "body").text
        browser.screenshot(driver, SCREENSHOTS / "screenshots" / f"{slug}-refused-contractor.png")
    assert views == [] and "Page not found" in body
    title = load_spec().dashboards[slug].title
    assert title not in body


# --- cells below k, and what Superset can reach -------------------------------------------------------------------

def test_no_cell_below_k_reaches_superset(dashboards_env) -> None:
    env = dashboards_env
    k = load_rules().aggregate_cell_k
    spec = load_spec()
    con = duckdb.connect()
    suppressed_in_marts = 0
    for name, ds in spec.datasets.items():
        if not ds.mart:
            continue
        ok, res = _sql(env, f"select * from {name}")
        assert ok, (name, res)
        for row in res["data"]:
            for col, value in row.items():
                if MEMBER_COUNT.search(col) and isinstance(value, int):
                    assert value >= k, (name, col, value)
            assert not row.get("is_suppressed"), name
        if ds.cells:
            mart = env.lake.uri(layout.MARTS, f"{ds.mart}.parquet")
            sql = f"select count(*) from read_parquet('{mart}') where {ds.cells}"
            suppressed_in_marts += con.execute(sql).fetchone()[0]
    assert suppressed_in_marts > 0  # the marts hold small cells, and none came through


def test_superset_reads_its_views_and_nothing_else(dashboards_env) -> None:
    env = dashboards_env
    assert _sql(env, "select count(*) as n from ops_runs")[0]  # the admin's SQL Lab works on the views
    refused = (
        f"select * from read_parquet('{env.lake.uri(layout.GROUP)}/members/**/*.parquet')",  # the group zone
        f"select * from read_parquet('{env.lake.uri(layout.MARTS, 'dim_members.parquet')}')",  # member-grain
        f"select * from read_csv('{env.lake.uri('landing-cvs')}/**/*.csv')",
        f"copy (select 1) to '{env.lake.uri(layout.MARTS, 'x.parquet')}'",
        f"copy (select 1) to '{env.lake.uri(layout.OPS, layout.RUNS)}/x.parquet'",
        "attach '/tmp/other.duckdb' as other",
        "set enable_external_access = true",
    )
    for sql in refused:
        ok, res = _sql(env, sql)
        assert not ok, (sql, res)
    assert not env.lake.exists(layout.MARTS, "x.parquet") and not env.lake.exists(layout.OPS, "runs/x.parquet")
    assert not _sql(env, "select count(*) from ops_runs", role="business")[0]  # viewers have no SQL Lab


# --- annotations --------------------------------------------------------------------------------------------------

def _annotations_of(client, chart: dict, dashboard_id: int) -> dict[str, list[str]]:
    res = _chart_data(client, chart, dashboard_id).json()["result"][0]
    return {name: [r["short_descr"] for r in layer["records"]] for name, layer in res["annotation_data"].items()}


def test_annotations_on_the_charts(dashboards_env) -> None:
    env = dashboards_env
    ids = _dashboard_ids(env)
    charts = _charts(env)
    spec = load_spec()
    layer_names = {k: layer.name for k, layer in spec.layers.items()}
    con = duckdb.connect()
    mart = env.lake.uri(layout.MARTS, "mart_annotations.parquet")

    def titles(kind: str) -> set[str]:
        rows = con.execute(f"select title from read_parquet('{mart}') where kind = ?", [kind]).fetchall()
        return {r[0] for r in rows}

    campaigns, rejected = titles("campaign"), titles("rejected_file")
    assert campaigns and rejected  # the fixture's campaigns; the generator's bad files, rejected by ingestion

    business = env.client("business")
    active = next(c for c in charts["cross-brand"] if json.loads(c["params"])["lake_key"] == "brand_activity")
    got = _annotations_of(business, active, ids["cross-brand"])
    assert set(got[layer_names["campaigns"]]) == campaigns
    assert set(got[layer_names["rejected_file_days"]]) == rejected

    contractor = env.client("contractor")
    files = next(c for c in charts["operations"] if json.loads(c["params"])["lake_key"] == "files_landed")
    assert set(_annotations_of(contractor, files, ids["operations"])[layer_names["rejected_files"]]) == rejected

    # a person adds a note through the API (engineering may annotate; a contractor may not)
    notes = env.client().find("annotation_layer", "name", layer_names["notes"])[0]["id"]
    note = {"short_descr": "cvs sent yesterday's file twice", "long_descr": "ticket OPS-12",
            "start_dttm": "2026-12-01T09:00:00", "end_dttm": "2026-12-01T09:00:00"}
    assert contractor.raw("POST", f"/api/v1/annotation_layer/{notes}/annotation/", note).status_code in (401, 403)
    env.client("engineering").post(f"/api/v1/annotation_layer/{notes}/annotation/", note)
    assert note["short_descr"] in _annotations_of(contractor, files, ids["operations"])[layer_names["notes"]]

    # a deployment from the CLI is on the operations charts at once, and in the mart after the next build
    res = CliRunner().invoke(main, ["dashboards", "annotate", "--lake", env.lake.cfg.uri, "v2.0 deployed"],
                             env={"LAKE_STATE": str(env.state)})
    assert res.exit_code == 0 and "marked on the dashboards" in res.output, res.output
    deployed = [t for t in _annotations_of(contractor, files, ids["operations"])[layer_names["deployments"]]
                if t.startswith("v2.0 deployed (")]
    assert len(deployed) == 1
    from dashboards.provision import provision

    assert run_build(env.lake, select="mart_annotations").success
    report = provision(env.client(), env.lake, env.server.views_db)
    assert report.counts[("annotations", "created")] == 0  # the mart's row is the one already shown: no duplicate
    again = _annotations_of(contractor, files, ids["operations"])
    assert [t for t in again[layer_names["deployments"]] if t.startswith("v2.0 deployed (")] == deployed
    assert note["short_descr"] in again[layer_names["notes"]]  # people's notes survive provisioning


# --- alerts -------------------------------------------------------------------------------------------------------

def test_an_alert_reaches_the_webhook_once(dashboards_env) -> None:
    env = dashboards_env
    receiver = Receiver()
    try:
        # a gate stage that fails records its run like every stage does
        with pytest.raises(RuntimeError), runlog.recorded(env.lake, "check", company="diner"):
            raise RuntimeError("min_cell_size: 2 cells of mart_cross_brand_matrix below k")
        args = ["alerts", "check", "--lake", env.lake.cfg.uri, "--webhook", receiver.url]
        first = CliRunner().invoke(main, args)
        assert first.exit_code == 0, first.output
        texts = [m["text"] for m in receiver.messages]
        gate = [t for t in texts if t.startswith("[gate_failure]") and "for diner" in t]
        assert len(gate) == 1 and "min_cell_size" in gate[0]
        n = len(receiver.messages)
        second = CliRunner().invoke(main, args)
        assert second.exit_code == 0 and len(receiver.messages) == n and "already posted" in second.output
    finally:
        receiver.close()


# --- the CLI ------------------------------------------------------------------------------------------------------

def test_status_and_invite(dashboards_env) -> None:
    env = dashboards_env
    runner = CliRunner()
    res = runner.invoke(main, ["dashboards", "status"], env={"LAKE_STATE": str(env.state)})
    assert res.exit_code == 0, res.output
    assert "running" in res.output and env.server.url in res.output and env.lake.cfg.uri in res.output
    for d in load_spec().dashboards.values():
        assert d.title in res.output
    assert re.search(r"Operations\s+.*contractor", res.output)
    res = runner.invoke(main, ["dashboards", "invite", "hanako@example.jp", "--role", "business"],
                        env={"LAKE_STATE": str(env.state)})
    assert res.exit_code == 0, res.output
    password = re.search(r"with the password: (\S+)", res.output).group(1)
    from dashboards.api import SupersetClient

    hanako = SupersetClient(env.server.url, "hanako@example.jp", password)
    assert {d["slug"] for d in hanako.list_all("dashboard", ["slug"])} == MAY_OPEN["business"]
    res = runner.invoke(main, ["dashboards", "invite", "x@example.jp", "--role", "admin"],
                        env={"LAKE_STATE": str(env.state)})
    assert res.exit_code == 1 and "unknown role" in res.output


# --- a build while Superset serves --------------------------------------------------------------------------------

def test_build_while_serving_then_the_dashboards_show_the_new_data(dashboards_env) -> None:
    env = dashboards_env
    ids = _dashboard_ids(env)
    moves = next(c for c in _charts(env)["members"] if json.loads(c["params"])["lake_key"] == "moves_total")
    business = env.client("business")

    def shown() -> float:
        r = _chart_data(business, moves, ids["members"])
        assert r.status_code == 200, r.text[:300]
        return next(iter(r.json()["result"][0]["data"][0].values()))

    before = shown()
    stop = threading.Event()
    errors: list[str] = []

    def keep_reading() -> None:  # dashboards refreshing during the build
        while not stop.is_set():
            try:
                shown()
            except Exception as e:
                errors.append(repr(e))
            time.sleep(0.2)

    reader = threading.Thread(target=keep_reading)
    reader.start()
    try:
        # new data in the group zone (other members, other moves), then a build
        write_group_fixture(env.lake, replace(FIXTURE, seed=FIXTURE.seed + 1))
        result = run_build(env.lake)
    finally:
        stop.set()
        reader.join()
    assert result.success, result.failures
    assert not errors, errors[:3]
    con = duckdb.connect()
    mart = env.lake.uri(layout.MARTS, "mart_dash_moves_monthly.parquet")
    expected = con.execute(f"select sum(moves) from read_parquet('{mart}') where not is_suppressed").fetchone()[0]
    after = shown()
    assert after == expected and after != before
