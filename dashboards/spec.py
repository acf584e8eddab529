"""The dashboards as code: `dashboards.yml` (dashboards, charts, annotation layers) and `permissions.yml` (roles),
read, checked against `datasets.yml`, and compiled into what Superset's REST API takes.

Compilation is pure: a chart becomes Superset form data (`params`), a dashboard its layout (`position_json`) and
metadata (refresh interval). `dashboards.provision` sends them.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from dashboards.views import Dataset, load_datasets
from lake.config import REPO_ROOT
from lake.errors import LakeError

DASHBOARDS_FILE = REPO_ROOT / "dashboards" / "dashboards.yml"
PERMISSIONS_FILE = REPO_ROOT / "dashboards" / "permissions.yml"
CHART_TYPES = {
    "big_number": "big_number_total",
    "line": "echarts_timeseries_line",
    "bar": "echarts_timeseries_bar",
    "table": "table",
    "heatmap": "heatmap_v2",
    "sankey": "sankey_v2",
    "pie": "pie",
}
GRAINS = ("PT1M", "PT1H", "P1D", "P1W", "P1M")
ABILITIES = {"annotate"}  # what `can:` may add to a role
_KEY = re.compile(r"^[a-z][a-z0-9_-]*$")


@dataclass(frozen=True)
class Layer:
    key: str
    name: str
    type: str  # event | interval
    description: str
    kind: str | None = None  # the mart's event kind; None: a free layer (notes)
    clock: str | None = None  # data | event
    color: str | None = None


@dataclass(frozen=True)
class Chart:
    key: str  # unique over all dashboards; stored in the chart's params as `lake_key`
    dashboard: str
    title: str
    type: str
    dataset: str
    options: dict[str, Any]


@dataclass(frozen=True)
class Dashboard:
    slug: str
    title: str
    description: str
    rows: list[list[tuple[str, int]]]
    charts: list[Chart]
    roles: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Role:
    name: str
    description: str
    dashboards: list[str]
    can: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Spec:
    refresh_seconds: int
    layers: dict[str, Layer]
    dashboards: dict[str, Dashboard]
    roles: dict[str, Role]
    datasets: dict[str, Dataset]

    @property
    def charts(self) -> list[Chart]:
        return [c for d in self.dashboards.values() for c in d.charts]

    def datasets_used(self) -> list[str]:
        return sorted({c.dataset for c in self.charts})


def _fail(where: str, what: str, fix: str) -> LakeError:
    return LakeError(f"{where}: {what}", fix)


def load_spec(dashboards_file: Path = DASHBOARDS_FILE, permissions_file: Path = PERMISSIONS_FILE,
              datasets: dict[str, Dataset] | None = None) -> Spec:
    """Read and cross-check the three files: every chart's dataset, layer and layout slot, every role's dashboard."""
    datasets = datasets if datasets is not None else load_datasets()
    try:
        spec = yaml.safe_load(dashboards_file.read_text(encoding="utf-8"))
        perms = yaml.safe_load(permissions_file.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as e:
        raise LakeError(f"dashboards spec cannot be read: {e!r}", "restore it from git") from e
    name = dashboards_file.name
    layers = {
        k: Layer(k, v["name"], v.get("type", "event"), v.get("description", ""), v.get("kind"), v.get("clock"),
                 v.get("color"))
        for k, v in (spec.get("annotation_layers") or {}).items()
    }
    for layer in layers.values():
        if layer.type not in ("event", "interval") or (layer.kind and layer.clock not in ("data", "event")):
            raise _fail(f"{name}: layer {layer.key!r}", "needs type event|interval and, with a kind, clock data|event",
                        "see the comment at the top of the file")
    dashboards: dict[str, Dashboard] = {}
    seen: dict[str, str] = {}
    for slug, d in (spec.get("dashboards") or {}).items():
        if not _KEY.match(slug):
            raise _fail(name, f"dashboard slug {slug!r} is not lowercase letters, digits, - and _", "rename it")
        charts = []
        for key, c in (d.get("charts") or {}).items():
            where = f"{name}: chart {key!r} of {slug!r}"
            if key in seen:
                raise _fail(where, f"the key is also used on {seen[key]!r}",
                            "chart keys are unique over all dashboards")
            seen[key] = slug
            if c.get("type") not in CHART_TYPES:
                raise _fail(where, f"type {c.get('type')!r} is not one of {sorted(CHART_TYPES)}", "pick one")
            if c.get("dataset") not in datasets:
                raise _fail(where, f"dataset {c.get('dataset')!r} is not in datasets.yml", "declare it there first")
            if c.get("grain") and c["grain"] not in GRAINS:
                raise _fail(where, f"grain {c['grain']!r} is not one of {GRAINS}", "pick one")
            for layer in c.get("annotations") or []:
                if layer not in layers:
                    raise _fail(where, f"annotation layer {layer!r} is not declared", "add it under annotation_layers")
            options = {k: v for k, v in c.items() if k not in ("title", "type", "dataset")}
            charts.append(Chart(key, slug, c["title"], c["type"], c["dataset"], options))
        rows = [[(k, int(w)) for k, w in row.items()] for row in d.get("rows") or []]
        placed = [k for row in rows for k, _ in row]
        if sorted(placed) != sorted(c.key for c in charts):
            raise _fail(f"{name}: dashboard {slug!r}", "its rows must place every chart exactly once",
                        f"rows place {sorted(placed)}, charts are {sorted(c.key for c in charts)}")
        for row in rows:
            if sum(w for _, w in row) > 12:
                raise _fail(f"{name}: dashboard {slug!r}", f"a row is wider than 12: {row}", "narrow its charts")
        dashboards[slug] = Dashboard(slug, d["title"], d.get("description", ""), rows, charts)
    roles = _roles(perms, permissions_file.name, set(dashboards))
    for slug, dash in list(dashboards.items()):
        dashboards[slug] = Dashboard(dash.slug, dash.title, dash.description, dash.rows, dash.charts,
                                     sorted(r.name for r in roles.values() if slug in r.dashboards))
    return Spec(int(spec.get("refresh_seconds", 60)), layers, dashboards, roles, datasets)


def _roles(perms: dict, where: str, slugs: set[str]) -> dict[str, Role]:
    from expectations.rules import load_rules

    out: dict[str, Role] = {}
    declared = dict(perms.get("roles") or {})
    stewards = perms.get("stewards")
    if stewards is not None:
        for company, info in load_rules().companies.items():
            steward = info.get("steward") or f"{company}-data-steward"
            declared[steward] = {"description": f"Data steward of {company} ({info.get('name', company)})",
                                 "dashboards": stewards.get("dashboards") or []}
    for role, r in declared.items():
        boards = list(r.get("dashboards") or [])
        unknown = sorted(set(boards) - slugs)
        if unknown:
            raise _fail(f"{where}: role {role!r}", f"names dashboards that do not exist: {unknown}",
                        f"use slugs of dashboards.yml: {sorted(slugs)}")
        can = frozenset(r.get("can") or [])
        if not can <= ABILITIES:
            raise _fail(f"{where}: role {role!r}", f"`can` holds {sorted(can - ABILITIES)}", f"use {sorted(ABILITIES)}")
        out[role] = Role(role, r.get("description", ""), boards, can)
    return out


# --- compiling to Superset's form data --------------------------------------------------------------------------

def _metric(label: str, sql: str, key: str, i: int) -> dict[str, Any]:
    return {"expressionType": "SQL", "sqlExpression": sql, "label": label, "hasCustomLabel": True,
            "optionName": f"metric_{key}_{i}"}


def _filters(chart: Chart, temporal_x: str | None) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = [
        {"expressionType": "SQL", "sqlExpression": cond, "clause": "WHERE",
         "filterOptionName": f"filter_{chart.key}_{i}"}
        for i, cond in enumerate(chart.options.get("filters") or [])
    ]
    if temporal_x:
        # what Explore saves for a time axis: no time range restriction
        out.append({"expressionType": "SIMPLE", "clause": "WHERE", "subject": temporal_x, "operator": "TEMPORAL_RANGE",
                    "comparator": "No filter", "filterOptionName": f"filter_{chart.key}_time"})
    return out


def annotation_layer_params(layer: Layer, layer_id: int) -> dict[str, Any]:
    """One native annotation layer as a chart's form data names it."""
    return {
        "name": layer.name,
        "annotationType": layer.type.upper(),
        "sourceType": "NATIVE",
        "value": layer_id,
        "show": True,
        "showLabel": False,  # titles on hover: many events side by side would overprint each other
        "showMarkers": False,
        "hideLine": False,
        "color": layer.color,
        "opacity": "opacityLow",
        "style": "dashed",
        "width": 2,
        "overrides": {},
        "titleColumn": "",
        "descriptionColumns": [],
        "timeColumn": "",
        "intervalEndColumn": "",
    }


def chart_params(chart: Chart, dataset_id: int, layers: dict[str, Layer], layer_ids: dict[str, int]) -> dict[str, Any]:
    """Superset form data of one chart (what Explore would save), tagged with its key for provisioning."""
    o = chart.options
    metrics = [_metric(label, sql, chart.key, i) for i, (label, sql) in enumerate((o.get("metrics") or {}).items())]
    single = next(iter((o.get("metric") or {}).items()), None)
    metric = _metric(single[0], single[1], chart.key, 0) if single else None
    fmt = o.get("format", "SMART_NUMBER")
    temporal_x = o.get("x") if o.get("grain") else None
    p: dict[str, Any] = {
        "viz_type": CHART_TYPES[chart.type],
        "datasource": f"{dataset_id}__table",
        "adhoc_filters": _filters(chart, temporal_x),
        "row_limit": 10000,
        "extra_form_data": {},
        "lake_key": chart.key,
    }
    if chart.type == "big_number":
        p.update({"metric": metric, "header_font_size": 0.4, "subheader_font_size": 0.15, "y_axis_format": fmt,
                  "time_format": "smart_date"})
    elif chart.type in ("line", "bar"):
        p.update({
            "x_axis": o["x"],
            "metrics": metrics,
            "groupby": list(o.get("groupby") or []),
            "order_desc": True,
            "truncate_metric": True,
            "show_legend": True,
            "legendOrientation": "top",
            "legendType": "scroll",
            "rich_tooltip": True,
            "y_axis_format": fmt,
            "x_axis_time_format": "smart_date",
            "tooltipTimeFormat": "smart_date",
            "comparison_type": "values",
            "show_empty_columns": True,
            "only_total": True,
            "seriesType": "line" if chart.type == "line" else "bar",
            "markerEnabled": True,
            "markerSize": 6,
            "x_axis_sort_series": "name",
            "x_axis_sort_series_ascending": True,
            "annotation_layers": [annotation_layer_params(layers[k], layer_ids[k]) for k in o.get("annotations") or []],
        })
        if chart.type == "bar":
            p["orientation"] = "vertical"
        if o.get("stacked"):
            p["stack"] = "Stack"
        if temporal_x:
            p["time_grain_sqla"] = o["grain"]
        elif not p["groupby"]:
            # a category axis: alphabetical by the category, or by the first metric, largest first
            by_metric = bool(o.get("sort_by_metric"))
            p["x_axis_sort"] = metrics[0]["label"] if by_metric else o["x"]
            p["x_axis_sort_asc"] = not by_metric
    elif chart.type == "table":
        p.update({
            "query_mode": "raw",
            "all_columns": list(o["columns"]),
            "order_by_cols": [json.dumps([o["order_by"], not o.get("descending", False)])] if o.get("order_by") else [],
            "server_pagination": False,
            "server_page_length": 10,
            "page_length": 0,
            "table_timestamp_format": o.get("time_format", "smart_date"),
            "column_config": {col: {"d3NumberFormat": f} for col, f in (o.get("formats") or {}).items()},
            "show_cell_bars": False,
            "color_pn": True,
            "include_search": False,
            "row_limit": 1000,
        })
    elif chart.type == "heatmap":
        p.update({"x_axis": o["x"], "groupby": o["y"], "metric": metric, "normalize_across": "heatmap",
                  "linear_color_scheme": "superset_seq_1", "show_legend": True, "show_values": True,
                  "show_percentage": False, "legend_type": "continuous", "sort_x_axis": "alpha_asc",
                  "sort_y_axis": "alpha_asc", "y_axis_format": fmt, "xscale_interval": -1, "yscale_interval": -1,
                  "left_margin": "auto", "bottom_margin": "auto", "value_bounds": [None, None]})
    elif chart.type == "sankey":
        p.update({"source": o["source"], "target": o["target"], "metric": metric})
    elif chart.type == "pie":
        p.update({"groupby": list(o["groupby"]), "metric": metric, "show_labels": True, "show_legend": True,
                  "label_type": "key_percent", "number_format": fmt, "innerRadius": 30, "outerRadius": 70})
    return p


def position_json(dashboard: Dashboard, chart_ids: dict[str, int]) -> dict[str, Any]:
    """The dashboard layout (Superset's v2 position format): a grid of rows of charts, as `rows` lays them out."""
    titles = {c.key: c.title for c in dashboard.charts}
    pos: dict[str, Any] = {
        "DASHBOARD_VERSION_KEY": "v2",
        "ROOT_ID": {"type": "ROOT", "id": "ROOT_ID", "children": ["GRID_ID"]},
        "GRID_ID": {"type": "GRID", "id": "GRID_ID", "children": [], "parents": ["ROOT_ID"]},
        "HEADER_ID": {"type": "HEADER", "id": "HEADER_ID", "meta": {"text": dashboard.title}},
    }
    for i, row in enumerate(dashboard.rows):
        row_id = f"ROW-{i}"
        pos["GRID_ID"]["children"].append(row_id)
        pos[row_id] = {"type": "ROW", "id": row_id, "children": [], "parents": ["ROOT_ID", "GRID_ID"],
                       "meta": {"background": "BACKGROUND_TRANSPARENT"}}
        for key, width in row:
            chart_id = f"CHART-{key}"
            pos[row_id]["children"].append(chart_id)
            pos[chart_id] = {
                "type": "CHART",
                "id": chart_id,
                "children": [],
                "parents": ["ROOT_ID", "GRID_ID", row_id],
                "meta": {"chartId": chart_ids[key], "width": width, "height": 50, "sliceName": titles[key]},
            }
    return pos


def dashboard_metadata(refresh_seconds: int) -> dict[str, Any]:
    """The parts of a dashboard's json_metadata we own: the refresh interval (every chart, never exempt)."""
    return {"refresh_frequency": refresh_seconds, "timed_refresh_immune_slices": [], "color_scheme": "supersetColors",
            "cross_filters_enabled": False, "native_filter_configuration": []}
