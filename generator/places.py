"""Where members live, work and shop: home points, the stores nearest to them, and points at a distance.

Members shop near where they are: their favourite stores of each brand are the ones nearest to their home
(or, for commuters on weekdays, to their work place). That is what lets the analytics tell a move inside a
prefecture from a commuter by store coordinates. Vectorised: per prefecture for sparse networks, a grid of
cells for the dense convenience-store network."""

from __future__ import annotations

import numpy as np

from .geo import N_PREF

KM_PER_DEG_LAT = 111.2
CELL_DEG = 0.03  # about 3 km: the cvs stores "around the corner"
NEAREST_CHUNK = 1 << 18  # point-store distances computed at a time by nearest() (2 MB of float64)


def distance_km(lat1: np.ndarray, lon1: np.ndarray, lat2: np.ndarray, lon2: np.ndarray) -> np.ndarray:
    """Great-circle distance (haversine), km."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    a = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(np.radians(lon2 - lon1) / 2) ** 2
    return 2 * 6371.0 * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


class Grid:
    """Stores bucketed into CELL_DEG cells: a random store in a point's cell, or -1 when the cell is empty."""

    def __init__(self, lat: np.ndarray, lon: np.ndarray) -> None:
        key = self._key(lat, lon)
        self.order = np.argsort(key, kind="stable")
        self.keys, self.starts, self.counts = np.unique(key[self.order], return_index=True, return_counts=True)

    @staticmethod
    def _key(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
        return np.floor(lat / CELL_DEG).astype(np.int64) * 100_000 + np.floor(lon / CELL_DEG).astype(np.int64)

    def pick(self, lat: np.ndarray, lon: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        key = self._key(lat, lon)
        pos = np.clip(np.searchsorted(self.keys, key), 0, len(self.keys) - 1)
        found = self.keys[pos] == key
        off = (rng.random(len(key)) * self.counts[pos]).astype(np.int64)
        return np.where(found, self.order[self.starts[pos] + off], -1)


def nearest(
    st_lat: np.ndarray,
    st_lon: np.ndarray,
    st_pref: np.ndarray,
    fallback: np.ndarray,
    prefs: np.ndarray,
    lat: np.ndarray,
    lon: np.ndarray,
    k: int = 2,
) -> np.ndarray:
    """The k nearest stores (n x k store indices) to each point, among the stores of the point's prefecture (or
    of the nearest prefecture that has stores). Brute force per prefecture: for networks of a few thousand."""
    n = len(prefs)
    out = np.zeros((n, k), dtype=np.int64)
    fp = fallback[prefs]
    by_pref = [np.flatnonzero(st_pref == p) for p in range(N_PREF)]
    for p in np.unique(fp):
        members = np.flatnonzero(fp == p)
        cand = by_pref[p]
        kk = min(k, len(cand))
        c_lat, c_lon = st_lat[cand][None, :], st_lon[cand][None, :]
        step = max(1, NEAREST_CHUNK // len(cand))  # points at a time: the distance matrices stay in cache
        for lo in range(0, len(members), step):
            m = members[lo : lo + step]
            # ranking only: a flat-earth squared distance is enough (and far cheaper than haversine),
            # computed in place: (dlat)^2 + (dlon * cos(lat))^2
            d = c_lat - lat[m, None]
            d *= d
            east = c_lon - lon[m, None]
            east *= np.cos(np.radians(lat[m]))[:, None]
            east *= east
            d += east
            rows = np.arange(len(m))
            for j in range(kk):  # the nearest, then the next nearest (k is small: cheaper than a partition)
                best = d.argmin(axis=1)
                out[m, j] = cand[best]
                d[rows, best] = np.inf
            if kk < k:
                out[m, kk:] = out[m, kk - 1 : kk]
    return out


def point_at_distance(
    lat: np.ndarray,
    lon: np.ndarray,
    cand_lat: np.ndarray,
    cand_lon: np.ndarray,
    lo_km: float,
    hi_km: float,
    rng: np.random.Generator,
    tries: int = 24,
) -> np.ndarray:
    """For each point, the index of a candidate between lo_km and hi_km away (the first of `tries` random draws
    that is; else the draw closest to that band). Candidates are shared by all points (e.g. a prefecture's
    stores): returns indices into cand_lat."""
    n = len(lat)
    draws = rng.integers(0, len(cand_lat), (n, tries))
    d = distance_km(lat[:, None], lon[:, None], cand_lat[draws], cand_lon[draws])
    ok = (d >= lo_km) & (d <= hi_km)
    miss = np.where(d < lo_km, lo_km - d, d - hi_km)
    best = np.where(ok.any(axis=1), ok.argmax(axis=1), miss.argmin(axis=1))
    return draws[np.arange(n), best]
