"""Relocation (DESIGN §7): the split search of `int_member_moves_detected`, vectorised on numpy.

Every visit day of a member is a possible split. On each side of it the home is the member's candidate home (a
store; `int_member_move_centres`) with the most of that side's visits within `radius_km` of it: the old home the
most near visits before the split, the new home the most from it, ties to the lower centre key. A split
qualifies when the old home has at least `min_visit_days` near visits before it, the new home as many from it,
and it divides the visits cleanly: before it at most `max_overlap_share` of the visits lie near the new home,
from it at most that share near the old one. The checks after (homes far enough apart, persistence, brands) stay
in SQL.

This replaced a SQL window over every (candidate home, visit day) pair (~39M rows on 10M purchases, the slowest
model of the build). Here the pairs are never stored: the homes are taken one rank at a time (the k-th home of
every member with at least k), each pass a running sum of "near" over the members' visits, and the best home so
far kept per (member, day). Members are ordered by their number of homes, most first, so each pass works on a
prefix of the arrays.

Same results as the SQL: the share limits compare as exact fractions (DuckDB multiplies by the DECIMAL literal),
and the distance is the haversine of `macros/geo.sql` with the same operands in the same order.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np

EARTH_RADIUS_KM = 6371.0


@dataclass(frozen=True)
class Splits:
    """The qualifying splits, one row per (member, split day); counts are visits (rows of the visits input)."""

    member: np.ndarray  # member key
    split_on: np.ndarray  # day (any integer day number: the input's)
    pre_n: np.ndarray  # the member's visits before the split
    post_n: np.ndarray  # ... from it
    pre_old: np.ndarray  # visits near the old home before the split
    post_old: np.ndarray  # ... from it
    pre_new: np.ndarray  # visits near the new home before the split
    post_new: np.ndarray  # ... from it
    old_centre: np.ndarray  # centre key of the old home
    new_centre: np.ndarray  # centre key of the new home

    def __len__(self) -> int:
        return len(self.member)


def haversine_km(lat1: np.ndarray, lon1: np.ndarray, lat2: np.ndarray, lon2: np.ndarray,
                 cos_lat2: np.ndarray | None = None) -> np.ndarray:
    """Great-circle distance in km, the formula of the `haversine_km` macro (models/macros/geo.sql), term for term.

    `cos_lat2`: cos(radians(lat2)) when the caller has it already (the same value, computed once per place).
    """
    if cos_lat2 is None:
        cos_lat2 = np.cos(np.radians(lat2))
    a = np.sin(np.radians(lat2 - lat1) / 2) ** 2 + np.cos(np.radians(lat1)) * cos_lat2 * np.sin(
        np.radians(lon2 - lon1) / 2
    ) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(a))


def _share(value: float | str) -> Fraction:
    """The share as the exact decimal it is written as (0.1 is 1/10, as DuckDB reads the literal)."""
    return Fraction(str(value))


def find_splits(
    visit_member: np.ndarray,
    visit_day: np.ndarray,
    visit_place: np.ndarray,
    visit_lat: np.ndarray,
    visit_lon: np.ndarray,
    centre_member: np.ndarray,
    centre_key: np.ndarray,
    centre_lat: np.ndarray,
    centre_lon: np.ndarray,
    radius_km: float,
    max_overlap_share: float | str,
    min_visit_days: int,
) -> Splits:
    """The qualifying splits of every member (see the module docstring).

    Visits: one row per visit (a member may have several a day), any order (sorted by member and day is fastest);
    `visit_place` an integer id of the store visited (the same id, the same coordinates). Centres: the members'
    candidate homes, `centre_key` unique per member (the tie-break: lower wins). Members without centres have no
    splits.
    """
    visit_member = np.asarray(visit_member, dtype=np.int64)
    visit_day = np.asarray(visit_day, dtype=np.int64)
    visit_place = np.asarray(visit_place, dtype=np.int64)
    centre_member = np.asarray(centre_member, dtype=np.int64)
    centre_key = np.asarray(centre_key, dtype=np.int64)
    share = _share(max_overlap_share)
    empty = np.zeros(0, dtype=np.int64)
    if len(visit_member) == 0 or len(centre_member) == 0:
        return Splits(*([empty] * 10))

    # members ranked by their number of centres, most first: the members with at least k centres are a prefix
    members, centre_m = np.unique(centre_member, return_inverse=True)
    n_centres = np.bincount(centre_m, minlength=len(members))
    rank_of = np.empty(len(members), dtype=np.int64)
    by_count = np.lexsort((members, -n_centres))
    rank_of[by_count] = np.arange(len(members))
    counts_ranked = n_centres[by_count]

    # centres by (rank, key): the k-th centre of rank r sits at c_start[r] + k
    c_rank = rank_of[centre_m]
    c_order = np.lexsort((centre_key, c_rank))
    c_key = centre_key[c_order]
    c_lat, c_lon = np.asarray(centre_lat, float)[c_order], np.asarray(centre_lon, float)[c_order]
    c_start = np.concatenate([[0], np.cumsum(counts_ranked)[:-1]])

    # visits of members with centres, by (rank, day)
    if members[-1] - members[0] + 1 == len(members):  # dense keys (the model's): an offset, not a search
        pos = np.clip(visit_member - members[0], 0, len(members) - 1)
    else:
        pos = np.minimum(np.searchsorted(members, visit_member), len(members) - 1)
    has = members[pos] == visit_member
    if not has.any():
        return Splits(*([empty] * 10))
    v_lat, v_lon = np.asarray(visit_lat, float), np.asarray(visit_lon, float)
    if has.all():  # the model's input holds the members with centres only: no copies
        v_rank, v_day, v_place = rank_of[pos], visit_day, visit_place
    else:
        v_rank, v_day, v_place = rank_of[pos[has]], visit_day[has], visit_place[has]
        v_lat, v_lon = v_lat[has], v_lon[has]
    span = int(v_day.max() - v_day.min()) + 1
    order_key = v_rank * span + (v_day - v_day.min())
    if len(order_key) > 1 and not (order_key[1:] >= order_key[:-1]).all():
        v_order = np.argsort(order_key, kind="stable")
        v_rank, v_day, v_place, v_lat, v_lon = (x[v_order] for x in (v_rank, v_day, v_place, v_lat, v_lon))
    n_visits = len(v_rank)
    per_rank = np.bincount(v_rank, minlength=len(members))
    v_end = np.cumsum(per_rank)
    v_start = v_end - per_rank

    # the member's places (distinct stores visited), by rank: "near" is a property of (centre, place), so the
    # distances are computed once per place, not per visit
    place_span = int(v_place.max() - v_place.min()) + 1
    mp_uniq, v_mp = np.unique(v_rank * place_span + (v_place - v_place.min()), return_inverse=True)
    v_mp = v_mp.ravel()
    mp_rank = mp_uniq // place_span
    mp_lat, mp_lon = np.empty(len(mp_uniq)), np.empty(len(mp_uniq))
    mp_lat[v_mp], mp_lon[v_mp] = v_lat, v_lon
    mp_end = np.cumsum(np.bincount(mp_rank, minlength=len(members)))
    cos_mp_lat = np.cos(np.radians(mp_lat))

    # visit days: the first visit of each (member, day), its count, and the visits before it
    first = np.ones(n_visits, dtype=bool)
    first[1:] = (v_rank[1:] != v_rank[:-1]) | (v_day[1:] != v_day[:-1])
    first_idx = np.flatnonzero(first)
    s_rank, s_day = v_rank[first_idx], v_day[first_idx]
    pre_n = first_idx - v_start[s_rank]
    post_n = v_end[s_rank] - first_idx
    n_slots = len(first_idx)

    # the best home so far per (member, day), as its near count: a later centre (higher key) replaces it only when
    # strictly better (ties: the lower key), and only from `min_visit_days` on (the initial value is one less); a
    # member's first day (nothing before it) can never split, so its bar is out of reach
    never = np.iinfo(np.int32).max
    can_split = pre_n > 0
    best_old = np.where(can_split, min_visit_days - 1, never).astype(np.int32)  # pre_near of the old home
    best_new = best_old.copy()  # post_near of the new home
    best_old_post = np.zeros(n_slots, dtype=np.int32)
    best_old_key = np.zeros(n_slots, dtype=np.int64)
    best_new_pre = np.zeros(n_slots, dtype=np.int32)
    best_new_key = np.zeros(n_slots, dtype=np.int64)
    s_start, s_end = v_start[s_rank], v_end[s_rank]

    for k in range(int(counts_ranked[0])):
        n_members = int(np.searchsorted(-counts_ranked, -k, side="left"))  # the ranks with more than k centres
        if n_members == 0:
            break
        nv = int(v_end[n_members - 1])
        ns = int(np.searchsorted(s_rank, n_members, side="left"))
        nmp = int(mp_end[n_members - 1])
        ci = c_start[:n_members] + k
        lat1 = c_lat[ci][mp_rank[:nmp]]
        lon1 = c_lon[ci][mp_rank[:nmp]]
        near_place = haversine_km(lat1, lon1, mp_lat[:nmp], mp_lon[:nmp], cos_mp_lat[:nmp]) <= radius_km
        cum = np.zeros(nv + 1, dtype=np.int32)
        np.cumsum(near_place[v_mp[:nv]], out=cum[1:])
        start_cum = cum[s_start[:ns]]
        pre_near = cum[first_idx[:ns]] - start_cum
        post_near = cum[s_end[:ns]] - start_cum - pre_near

        idx = np.flatnonzero(pre_near > best_old[:ns])
        best_old[idx], best_old_post[idx], best_old_key[idx] = pre_near[idx], post_near[idx], c_key[ci][s_rank[idx]]
        idx = np.flatnonzero(post_near > best_new[:ns])
        best_new[idx], best_new_pre[idx], best_new_key[idx] = post_near[idx], pre_near[idx], c_key[ci][s_rank[idx]]

    # exact share limits: new home's visits before <= share * all before; old home's from <= share * all from
    num, den = share.numerator, share.denominator
    keep = (
        can_split
        & (best_old >= min_visit_days)
        & (best_new >= min_visit_days)
        & (best_new_pre * den <= num * pre_n)
        & (best_old_post * den <= num * post_n)
    )
    idx = np.flatnonzero(keep)
    return Splits(
        member=members[by_count][s_rank[idx]],
        split_on=s_day[idx],
        pre_n=pre_n[idx].astype(np.int64),
        post_n=post_n[idx].astype(np.int64),
        pre_old=best_old[idx].astype(np.int64),
        post_old=best_old_post[idx].astype(np.int64),
        pre_new=best_new_pre[idx].astype(np.int64),
        post_new=best_new[idx].astype(np.int64),
        old_centre=best_old_key[idx],
        new_centre=best_new_key[idx],
    )
