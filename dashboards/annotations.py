"""Annotations on the dashboards (DESIGN §11): the deployments log, and copying `mart_annotations` into Superset.

Events come from the annotations mart (campaign periods, rejected files, gate failures, deployments; built by
dbt from the group and ops zones). Each annotation layer of `dashboards.yml` takes one kind of event on one clock
(the business day it concerns, or when it happened) and `sync` makes the layer hold exactly those events, keyed
on their titles (unique per layer, as Superset requires), so running it again changes nothing. The `notes` layer
is never synced: annotations people add there through Superset's API or UI stay, and show on the charts too.

`record_deployment` appends to the deployments log in the ops zone (`lake dashboards annotate`); the mart picks
it up at the next build, and `annotate` also puts it on the dashboards at once.
"""

from __future__ import annotations

import datetime as dt
import getpass
import io
import uuid
from dataclasses import dataclass
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from lake import layout
from lake.storage import Lake

DEPLOYMENT_SCHEMA = pa.schema([
    ("deployment_id", pa.string()),
    ("deployed_at", pa.timestamp("us", tz="UTC")),
    ("title", pa.string()),
    ("detail", pa.string()),
    ("deployed_by", pa.string()),
])
MART = "mart_annotations"


@dataclass(frozen=True)
class Event:
    """One annotation as Superset stores it."""

    title: str
    detail: str
    start: dt.datetime
    end: dt.datetime

    def payload(self, annotation_id: str) -> dict[str, Any]:
        return {
            "short_descr": self.title,
            "long_descr": self.detail,
            "start_dttm": self.start.isoformat(),
            "end_dttm": self.end.isoformat(),
            "json_metadata": f'{{"annotation_id": "{annotation_id}"}}',
        }


def record_deployment(lake: Lake, title: str, detail: str = "", at: dt.datetime | None = None,
                      by: str | None = None) -> dict[str, Any]:
    """Append a deployment to the ops zone's log (one new object: the log is only ever appended to)."""
    at = (at or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    row = {"deployment_id": uuid.uuid4().hex[:16], "deployed_at": at, "title": title, "detail": detail,
           "deployed_by": by or getpass.getuser()}
    buf = io.BytesIO()
    pq.write_table(pa.Table.from_pylist([row], schema=DEPLOYMENT_SCHEMA), buf)
    lake.write_bytes(layout.OPS, layout.deployment_record(at.isoformat(), row["deployment_id"]), buf.getvalue())
    return row


def _naive_utc(t: dt.datetime) -> dt.datetime:
    """Superset stores annotation times as naive UTC, to the second."""
    if t.tzinfo is not None:
        t = t.astimezone(dt.UTC).replace(tzinfo=None)
    return t.replace(microsecond=0)


def deployment_event(row: dict[str, Any]) -> Event:
    """A deployment as the annotations mart draws it (kind `deployment`, on the event clock)."""
    at = _naive_utc(row["deployed_at"])
    return Event(f"{row['title']} ({at:%Y-%m-%d %H:%M} UTC)", row.get("detail") or "", at, at)


def events(lake: Lake, kind: str, clock: str) -> dict[str, Event]:
    """Events of one kind from the annotations mart, on the `data` or the `event` clock, by title."""
    path = lake.uri(layout.MARTS, f"{MART}.parquet")
    if not lake.exists(layout.MARTS, f"{MART}.parquet"):
        return {}
    from lake import duck

    con = duck.connect(lake)
    if clock == "data":
        start, end = "data_start_at", "coalesce(data_end_at, data_start_at)"
    else:
        start, end = "event_at", "event_at"
    try:
        rows = con.execute(
            f"select title, detail, {start}, {end} from read_parquet(?) where kind = ? and {start} is not null "
            "order by 3, 1",
            [path, kind],
        ).fetchall()
    except duckdb.Error:
        return {}
    return {t: Event(t, d or "", _naive_utc(s), _naive_utc(e)) for t, d, s, e in rows}


def sync_layer(client, layer_id: int, desired: dict[str, Event], prune: bool = True) -> dict[str, int]:
    """Make a Superset annotation layer hold `desired` (by title): create, update, and (if `prune`) delete."""
    existing = _annotations(client, layer_id)
    counts = {"created": 0, "updated": 0, "deleted": 0}
    for title, ev in desired.items():
        have = existing.get(title)
        if have is None:
            client.post(f"/api/v1/annotation_layer/{layer_id}/annotation/", ev.payload(title))
            counts["created"] += 1
        elif (have["long_descr"] or "", _ts(have["start_dttm"]), _ts(have["end_dttm"])) != (
                ev.detail, ev.start, ev.end):
            client.put(f"/api/v1/annotation_layer/{layer_id}/annotation/{have['id']}", ev.payload(title))
            counts["updated"] += 1
    if prune:
        for title, have in existing.items():
            if title not in desired:
                client.delete(f"/api/v1/annotation_layer/{layer_id}/annotation/{have['id']}")
                counts["deleted"] += 1
    return counts


def _annotations(client, layer_id: int) -> dict[str, dict]:
    out: dict[str, dict] = {}
    page = 0
    while True:
        res = client.get(f"/api/v1/annotation_layer/{layer_id}/annotation/",
                         params={"q": f"(page:{page},page_size:100)"})
        for a in res["result"]:
            out[a["short_descr"]] = a
        if len(out) >= res["count"] or not res["result"]:
            return out
        page += 1


def _ts(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    return dt.datetime.fromisoformat(value).replace(tzinfo=None, microsecond=0)


def post_deployment(client, row: dict[str, Any]) -> int:
    """Put one recorded deployment on the Deployments layer now (as the next sync would); 1 if added."""
    from dashboards.spec import load_spec

    layer = next((lay for lay in load_spec().layers.values() if lay.kind == "deployment"), None)
    if layer is None:
        return 0
    found = client.find("annotation_layer", "name", layer.name)
    if not found:
        return 0
    ev = deployment_event(row)
    return sync_layer(client, found[0]["id"], {ev.title: ev}, prune=False)["created"]
