"""Master files (full snapshots): stores, categories, members, campaigns, assignments, sm ID links."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from . import catalog as cat
from .geo import PREF_NAMES
from .textfmt import TS_ISO_JST, concat, csv_bytes, decode, dict_column, fixed_digits, format_timestamps
from .world import NEVER, World

STORES_HEADER = ("company", "store_id", "name", "prefecture", "city", "lat", "lon", "format", "opened_on")
CATEGORIES_HEADER = ("company", "code", "name", "group_category")
MEMBERS_HEADER = (
    "gid",
    "name",
    "email",
    "phone",
    "postal_code",
    "prefecture",
    "birth_date",
    "gender",
    "joined_on",
    "marketing_consent",
    "programme_joined_on",
)
CAMPAIGNS_HEADER = ("campaign_id", "company", "target_company", "description", "starts_on", "ends_on")
ASSIGNMENTS_HEADER = ("campaign_id", "gid", "assigned_group")
ID_LINKS_HEADER = ("local_member_id", "gid", "linked_at")


def _dates(epoch_days: np.ndarray, null_mask: np.ndarray | None = None) -> pa.Array:
    days = np.asarray(epoch_days, dtype=np.int64)
    if null_mask is not None:
        days = np.where(null_mask, 0, days)
    return pa.array(days.astype(np.int32), pa.date32(), mask=null_mask)


def stores_csv(world: World, company: str) -> tuple[bytes, int]:
    """``stores.csv`` of a company (header only for companies without stores: app, money)."""
    if company not in world.stores:
        return csv_bytes(pa.table({h: pa.array([], pa.string()) for h in STORES_HEADER}), STORES_HEADER), 0
    st = world.stores[company]
    table = pa.table(
        {
            "company": pa.array([company] * st.n),
            "store_id": decode(st.ids),
            "name": pa.array(st.names),
            "prefecture": pa.array(list(PREF_NAMES)).take(pa.array(st.pref.astype(np.int64))),
            "city": pa.array(st.cities),
            "lat": pa.array(st.lat),
            "lon": pa.array(st.lon),
            "format": pa.array([st.fmt] * st.n),
            "opened_on": _dates(st.opened),
        }
    )
    return csv_bytes(table, STORES_HEADER), st.n


def categories_csv(company: str) -> tuple[bytes, int]:
    """``categories.csv`` of a company (header only for app and money)."""
    cats = cat.CATEGORIES.get(company, ())
    table = pa.table(
        {
            "company": pa.array([company] * len(cats), pa.string()),
            "code": pa.array([c.code for c in cats], pa.string()),
            "name": pa.array([c.name for c in cats], pa.string()),
            "group_category": pa.array([c.group for c in cats], pa.string()),
        }
    )
    return csv_bytes(table, CATEGORIES_HEADER), len(cats)


def members_csv(world: World, name: pa.Array, email: pa.Array, phone: pa.Array) -> tuple[bytes, int]:
    """The ID platform's member snapshot as of the last day (movers who updated their address show it)."""
    w = world
    upd = w.address_updated
    pref = np.where(upd, w.new_pref, w.home_pref).astype(np.int64)
    postal = np.where(upd, w.postal_new, w.postal)
    table = pa.table(
        {
            "gid": w.gid_str,
            "name": name,
            "email": email,
            "phone": phone,
            "postal_code": concat(fixed_digits(postal // 10000, 3), "-", fixed_digits(postal % 10000, 4)),
            "prefecture": dict_column(pref, pa.array(list(PREF_NAMES))),
            "birth_date": _dates(w.birth_day),
            "gender": dict_column(np.minimum(w.gender, 2), pa.array(["F", "M", "X"]), null_mask=w.gender == 3),
            "joined_on": _dates(w.start_day + w.joined_day),
            "marketing_consent": pa.array(w.consent),
            "programme_joined_on": _dates(w.start_day + w.prog_day, null_mask=w.prog_day == NEVER),
        }
    )
    return csv_bytes(table, MEMBERS_HEADER), w.n


def campaigns_csv(world: World) -> tuple[bytes, int]:
    cs = world.campaigns
    table = pa.table(
        {
            "campaign_id": pa.array([c.campaign_id for c in cs], pa.string()),
            "company": pa.array([c.company for c in cs], pa.string()),
            "target_company": pa.array([c.target for c in cs], pa.string()),
            "description": pa.array([c.description for c in cs], pa.string()),
            "starts_on": _dates(np.array([world.start_day + c.start_day for c in cs], dtype=np.int64)),
            "ends_on": _dates(np.array([world.start_day + c.end_day for c in cs], dtype=np.int64)),
        }
    )
    return csv_bytes(table, CAMPAIGNS_HEADER), len(cs)


def assignments_csv(world: World) -> tuple[bytes, int]:
    ids, members, treat = [], [], []
    for j, c in enumerate(world.campaigns):
        ids.append(np.full(len(c.members), j))
        members.append(c.members)
        treat.append(c.treatment)
    camp = np.concatenate(ids) if ids else np.zeros(0, np.int64)
    mem = np.concatenate(members) if members else np.zeros(0, np.int64)
    tr = np.concatenate(treat) if treat else np.zeros(0, bool)
    order = np.lexsort((world.gid[mem], camp))
    camp, mem, tr = camp[order], mem[order], tr[order]
    table = pa.table(
        {
            "campaign_id": dict_column(camp, pa.array([c.campaign_id for c in world.campaigns] or [""])),
            "gid": world.gid_str.take(pa.array(mem)),
            "assigned_group": dict_column(tr.astype(np.int8), pa.array(["control", "treatment"])),
        }
    )
    return csv_bytes(table, ASSIGNMENTS_HEADER), len(mem)


def id_links_csv(world: World) -> tuple[bytes, int]:
    """sm's link extract: only members who linked their sm account to their gid (by the last day)."""
    w = world
    rng = np.random.default_rng([w.seed, 60])
    m = np.flatnonzero(w.sm_linked & (w.sm_local >= 0) & (w.sm_linked_day < w.days))
    m = m[np.argsort(w.sm_local[m], kind="stable")]
    sec = (w.start_day + w.sm_linked_day[m]) * 86400 + rng.integers(8 * 3600, 23 * 3600, len(m))
    table = pa.table(
        {
            "local_member_id": fixed_digits(w.sm_local[m], 9, "SM"),
            "gid": w.gid_str.take(pa.array(m)),
            "linked_at": format_timestamps(sec, TS_ISO_JST),
        }
    )
    return csv_bytes(table, ID_LINKS_HEADER), len(m)


__all__ = ["assignments_csv", "campaigns_csv", "categories_csv", "id_links_csv", "members_csv", "stores_csv"]
