"""`lake dashboards provision`: make Superset match the dashboards as code, through its REST API, idempotently.

Order: the views file, the database (read-only DuckDB), datasets, annotation layers, roles and their permissions,
dashboards (with their roles: DASHBOARD_RBAC), charts (tagged with their key in `params.lake_key`), the dashboards'
layout, and the annotations from the mart. Every object is compared with what Superset holds and written only when
it differs, so a second run reports nothing created or updated; objects we made that the spec no longer names
(charts) are deleted. Nothing is imported from a bundle: `superset import-dashboards` would rewrite the stored
connection read-write (DESIGN §10).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from dashboards import annotations as ann
from dashboards.api import SupersetClient
from dashboards.spec import Spec, chart_params, dashboard_metadata, load_spec, position_json
from dashboards.views import connect as views_connect
from dashboards.views import write_views_file
from lake.storage import Lake

DATABASE_NAME = "lake"
SCHEMA = "main"
# Superset's Gamma permissions, less everything that changes something shared (our viewers only read).
VIEWER_EXCLUDED = {
    ("can_write", "Chart"), ("can_write", "Dashboard"), ("can_write", "Tag"), ("can_write", "Theme"),
    ("can_bulk_create", "Tag"), ("can_tag", "Chart"), ("can_tag", "Dashboard"), ("can_delete_embedded", "Dashboard"),
    ("can_export_as_example", "Dashboard"), ("can_export_streaming_csv", "SQLLab"),
    ("can_add", "UserRegistrationsRestAPI"),
    ("can_edit", "UserRegistrationsRestAPI"), ("can_delete", "UserRegistrationsRestAPI"),
    ("can_list", "UserRegistrationsRestAPI"), ("can_show", "UserRegistrationsRestAPI"),
}
ABILITY_PERMISSIONS = {
    "annotate": {("can_read", "Annotation"), ("can_write", "Annotation"), ("menu_access", "Annotation Layers"),
                 ("menu_access", "Manage")},
}


@dataclass
class Report:
    """What a provisioning run did, per kind of object."""

    counts: Counter = field(default_factory=Counter)
    dashboards: dict[str, int] = field(default_factory=dict)  # slug -> id
    charts: dict[str, int] = field(default_factory=dict)  # key -> id
    datasets: dict[str, int] = field(default_factory=dict)
    layers: dict[str, int] = field(default_factory=dict)
    roles: dict[str, int] = field(default_factory=dict)
    database_id: int = 0

    def note(self, kind: str, what: str) -> None:
        self.counts[(kind, what)] += 1

    @property
    def changes(self) -> int:
        return sum(n for (_, what), n in self.counts.items() if what != "unchanged")

    def summary(self) -> str:
        kinds = sorted({k for k, _ in self.counts})
        parts = []
        for k in kinds:
            done = ", ".join(f"{n} {w}" for (kk, w), n in sorted(self.counts.items()) if kk == k)
            parts.append(f"{k}: {done}")
        return "; ".join(parts)


def provision(client: SupersetClient, lake: Lake, views_file, spec: Spec | None = None) -> Report:
    """Apply the spec to the Superset behind `client` (an admin), reading `lake` through the views file."""
    spec = spec or load_spec()
    report = Report()
    write_views_file(lake, views_file, spec.datasets)
    report.database_id = _database(client, views_file, report)
    columns = _view_columns(lake, spec)
    for name in sorted(spec.datasets):
        report.datasets[name] = _dataset(client, report.database_id, spec.datasets[name], columns[name], report)
    for key, layer in spec.layers.items():
        report.layers[key] = _layer(client, layer.name, layer.description, report)
    base = _viewer_permissions(client)
    for name, role in spec.roles.items():
        perms = set(base)
        for ability in role.can:
            perms |= _permission_ids(client, ABILITY_PERMISSIONS[ability])
        report.roles[name] = _role(client, name, perms, report)
    shells = {}
    for slug, d in spec.dashboards.items():
        report.dashboards[slug], shells[slug] = _dashboard_shell(client, slug, d.title,
                                                                 [report.roles[r] for r in d.roles])
    _charts(client, spec, report)
    for slug, d in spec.dashboards.items():
        laid_out = _dashboard_layout(client, report.dashboards[slug], d, spec, report)
        report.note("dashboards", shells[slug] if shells[slug] != "unchanged" or not laid_out else "updated")
    for key, layer in spec.layers.items():
        if layer.kind:
            counts = ann.sync_layer(client, report.layers[key], ann.events(lake, layer.kind, layer.clock))
            for what, n in counts.items():
                report.counts[("annotations", what)] += n
    return report


# --- database and datasets --------------------------------------------------------------------------------------

def database_payload(views_file) -> dict[str, Any]:
    return {
        "database_name": DATABASE_NAME,
        "sqlalchemy_uri": f"duckdb:///{views_file}",
        "expose_in_sqllab": True,
        "allow_dml": False,
        "allow_run_async": False,
        "allow_file_upload": False,
        # read_only: many chart queries at once, and `lake build` writing the marts meanwhile (DESIGN §10)
        "extra": json.dumps({"engine_params": {"connect_args": {"read_only": True}},
                             "metadata_params": {}, "schemas_allowed_for_file_upload": []}, sort_keys=True),
    }


def _database(client: SupersetClient, views_file, report: Report) -> int:
    want = database_payload(views_file)
    found = client.find("database", "database_name", DATABASE_NAME)
    if not found:
        report.note("database", "created")
        return client.post("/api/v1/database/", want)["id"]
    db_id = found[0]["id"]
    have = client.get(f"/api/v1/database/{db_id}/connection")["result"]  # the stored URI and extra
    same = (have.get("sqlalchemy_uri") == want["sqlalchemy_uri"]
            and json.loads(have.get("extra") or "{}") == json.loads(want["extra"])
            and have.get("expose_in_sqllab") == want["expose_in_sqllab"] and not have.get("allow_dml"))
    if same:
        report.note("database", "unchanged")
    else:
        client.put(f"/api/v1/database/{db_id}", want)
        report.note("database", "updated")
    return db_id


def _view_columns(lake: Lake, spec: Spec) -> dict[str, list[str]]:
    con = views_connect(lake, spec.datasets)
    try:
        return {name: [r[0] for r in con.execute(f"DESCRIBE {name}").fetchall()] for name in spec.datasets}
    finally:
        con.close()


def _dataset(client: SupersetClient, db_id: int, ds, columns: list[str], report: Report) -> int:
    found = client.find("dataset", "table_name", ds.name, [{"col": "database", "opr": "rel_o_m", "value": db_id}])
    if not found:
        ds_id = client.post("/api/v1/dataset/", {"database": db_id, "schema": SCHEMA, "table_name": ds.name})["id"]
        client.put(f"/api/v1/dataset/{ds_id}", {"description": ds.description})
        report.note("datasets", "created")
        return ds_id
    ds_id = found[0]["id"]
    have = client.get(f"/api/v1/dataset/{ds_id}")["result"]
    changed = False
    if sorted(c["column_name"] for c in have.get("columns", [])) != sorted(columns):
        client.put(f"/api/v1/dataset/{ds_id}/refresh", {})  # the view changed: take its columns again
        changed = True
    if (have.get("description") or "") != ds.description:
        client.put(f"/api/v1/dataset/{ds_id}", {"description": ds.description})
        changed = True
    report.note("datasets", "updated" if changed else "unchanged")
    return ds_id


# --- annotation layers ------------------------------------------------------------------------------------------

def _layer(client: SupersetClient, name: str, descr: str, report: Report) -> int:
    found = client.find("annotation_layer", "name", name)
    if not found:
        report.note("annotation layers", "created")
        return client.post("/api/v1/annotation_layer/", {"name": name, "descr": descr})["id"]
    layer = found[0]
    if (layer.get("descr") or "") != descr:
        client.put(f"/api/v1/annotation_layer/{layer['id']}", {"name": name, "descr": descr})
        report.note("annotation layers", "updated")
    else:
        report.note("annotation layers", "unchanged")
    return layer["id"]


# --- roles ------------------------------------------------------------------------------------------------------

def _all_permissions(client: SupersetClient) -> dict[tuple[str, str], int]:
    out: dict[tuple[str, str], int] = {}
    for p in client.list_all("security/permissions-resources"):
        out[(p["permission"]["name"], p["view_menu"]["name"])] = p["id"]
    return out


def _permission_ids(client: SupersetClient, wanted: set[tuple[str, str]]) -> set[int]:
    known = _all_permissions(client)
    return {known[w] for w in wanted if w in known}


def _role_id(client: SupersetClient, name: str) -> int | None:
    found = client.find("security/roles", "name", name)
    return found[0]["id"] if found else None


def _viewer_permissions(client: SupersetClient) -> set[int]:
    gamma = _role_id(client, "Gamma")
    if gamma is None:
        from lake.errors import LakeError

        raise LakeError("Superset has no Gamma role", "its metadata was not initialised: `lake dashboards down`, "
                        "delete the state folder's superset.db and `lake dashboards up` again")
    perms = client.get(f"/api/v1/security/roles/{gamma}/permissions/")["result"]
    return {p["id"] for p in perms if (p["permission_name"], p["view_menu_name"]) not in VIEWER_EXCLUDED}


def _role(client: SupersetClient, name: str, perms: set[int], report: Report) -> int:
    role_id = _role_id(client, name)
    if role_id is None:
        role_id = client.post("/api/v1/security/roles/", {"name": name})["id"]
        report.note("roles", "created")
        client.post(f"/api/v1/security/roles/{role_id}/permissions", {"permission_view_menu_ids": sorted(perms)})
        return role_id
    have = {p["id"] for p in client.get(f"/api/v1/security/roles/{role_id}/permissions/")["result"]}
    if have != perms:
        client.post(f"/api/v1/security/roles/{role_id}/permissions", {"permission_view_menu_ids": sorted(perms)})
        report.note("roles", "updated")
    else:
        report.note("roles", "unchanged")
    return role_id


# --- dashboards and charts --------------------------------------------------------------------------------------

def _dashboard_shell(client: SupersetClient, slug: str, title: str, role_ids: list[int]) -> tuple[int, str]:
    """The dashboard with its title, roles and published flag (its layout comes once its charts exist)."""
    found = client.find("dashboard", "slug", slug)
    want = {"dashboard_title": title, "slug": slug, "published": True, "roles": sorted(role_ids)}
    if not found:
        return client.post("/api/v1/dashboard/", want)["id"], "created"
    d_id = found[0]["id"]
    have = client.get(f"/api/v1/dashboard/{d_id}")["result"]
    same = (have["dashboard_title"] == title and have.get("published")
            and sorted(r["id"] for r in have.get("roles") or []) == want["roles"])
    if same:
        return d_id, "unchanged"
    client.put(f"/api/v1/dashboard/{d_id}", want)
    return d_id, "updated"


def _dashboard_layout(client: SupersetClient, d_id: int, d, spec: Spec, report: Report) -> bool:
    """Lay the charts out and set the refresh interval; True if anything had to change."""
    pos = position_json(d, report.charts)
    meta = dashboard_metadata(spec.refresh_seconds)
    have = client.get(f"/api/v1/dashboard/{d_id}")["result"]
    have_pos = json.loads(have.get("position_json") or "{}")
    have_meta = json.loads(have.get("json_metadata") or "{}")
    if have_pos == pos and all(have_meta.get(k) == v for k, v in meta.items()):
        return False
    client.put(f"/api/v1/dashboard/{d_id}", {"position_json": json.dumps(pos), "json_metadata": json.dumps(meta)})
    return True


def _charts(client: SupersetClient, spec: Spec, report: Report) -> None:
    existing: dict[str, dict] = {}
    for c in client.list_all("chart", ["id", "slice_name", "params", "viz_type", "datasource_id", "dashboards.id",
                                       "description"]):
        key = json.loads(c.get("params") or "{}").get("lake_key")
        if key:
            existing[key] = c
    for chart in spec.charts:
        params = chart_params(chart, report.datasets[chart.dataset], spec.layers, report.layers)
        want = {
            "slice_name": chart.title,
            "viz_type": params["viz_type"],
            "datasource_id": report.datasets[chart.dataset],
            "datasource_type": "table",
            "params": json.dumps(params, sort_keys=True),
            "dashboards": [report.dashboards[chart.dashboard]],
            "is_managed_externally": True,
            "external_url": "dashboards/dashboards.yml",
        }
        have = existing.pop(chart.key, None)
        if have is None:
            report.charts[chart.key] = client.post("/api/v1/chart/", want)["id"]
            report.note("charts", "created")
            continue
        report.charts[chart.key] = have["id"]
        same = (have["slice_name"] == chart.title and have["viz_type"] == want["viz_type"]
                and have["datasource_id"] == want["datasource_id"]
                and json.loads(have["params"]) == params
                and sorted(d["id"] for d in have.get("dashboards") or []) == want["dashboards"])
        if same:
            report.note("charts", "unchanged")
        else:
            client.put(f"/api/v1/chart/{have['id']}", want)
            report.note("charts", "updated")
    for key, stale in existing.items():  # ours (tagged), but gone from the spec
        client.delete(f"/api/v1/chart/{stale['id']}")
        report.note("charts", f"deleted ({key})")
