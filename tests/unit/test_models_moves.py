"""The split search of the relocation model (lake_models.moves), against hand-made members and against a plain
loop over every (member, split day, candidate home), the SQL's definition, on random members."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

from lake_models.moves import find_splits, haversine_km

FIELDS = ("member", "split_on", "pre_n", "post_n", "pre_old", "post_old", "pre_new", "post_new", "old_centre",
          "new_centre")
OLD = (35.70, 139.70)
NEW = (35.70, 139.92)  # about 20 km east


def run(visits, centres, radius=5.0, share=0.10, min_days=3):
    """find_splits on lists: visits (member, day, lat, lon), centres (member, key, lat, lon); rows as tuples."""
    v = np.array(visits, dtype=float).reshape(-1, 4)
    c = np.array(centres, dtype=float).reshape(-1, 4)
    place = np.unique(v[:, 2:], axis=0, return_inverse=True)[1].ravel() if len(v) else np.zeros(0, dtype=int)
    found = find_splits(v[:, 0].astype(int), v[:, 1].astype(int), place * 7 + 3, v[:, 2], v[:, 3],
                        c[:, 0].astype(int), c[:, 1].astype(int), c[:, 2], c[:, 3], radius, share, min_days)
    return sorted(zip(*(getattr(found, f).tolist() for f in FIELDS), strict=True))


def reference(visits, centres, radius=5.0, share=0.10, min_days=3):
    """The SQL's definition, one split day and one candidate home at a time."""

    def dist(a_lat, a_lon, b_lat, b_lon):
        h = math.sin(math.radians(b_lat - a_lat) / 2) ** 2 + math.cos(math.radians(a_lat)) * math.cos(
            math.radians(b_lat)) * math.sin(math.radians(b_lon - a_lon) / 2) ** 2
        return 2 * 6371.0 * math.asin(math.sqrt(h))

    share = Fraction(str(share))
    out = []
    for m in sorted({c[0] for c in centres}):
        mv = [v for v in visits if v[0] == m]
        homes = sorted((c for c in centres if c[0] == m), key=lambda c: c[1])
        for day in sorted({v[1] for v in mv}):
            before = [v for v in mv if v[1] < day]
            after = [v for v in mv if v[1] >= day]
            if not before:
                continue
            rows = []
            for _, key, lat, lon in homes:
                pre = sum(dist(lat, lon, v[2], v[3]) <= radius for v in before)
                post = sum(dist(lat, lon, v[2], v[3]) <= radius for v in after)
                rows.append((key, pre, post))
            olds = [r for r in rows if r[1] >= min_days]
            news = [r for r in rows if r[2] >= min_days]
            if not olds or not news:
                continue
            old = min(olds, key=lambda r: (-r[1], r[0]))
            new = min(news, key=lambda r: (-r[2], r[0]))
            if new[1] <= share * len(before) and old[2] <= share * len(after):
                out.append((m, day, len(before), len(after), old[1], old[2], new[1], new[2], old[0], new[0]))
    return sorted(out)


def test_clean_move_is_one_split_on_the_first_day_near_the_new_home():
    visits = [(1, d, *OLD) for d in (1, 4, 8, 11, 15, 18, 22)] + [(1, d, *NEW) for d in (30, 32, 37, 39, 44, 51)]
    centres = [(1, 1, *OLD), (1, 2, *NEW)]
    assert run(visits, centres) == [(1, 30, 7, 6, 7, 0, 0, 6, 1, 2)]
    assert run(visits, centres) == reference(visits, centres)


def test_commuter_has_no_split():
    work = (35.70, 139.95)
    visits = []
    for week in range(8):
        visits += [(1, 7 * week, *OLD), (1, 7 * week + 2, *work), (1, 7 * week + 4, *OLD)]
    centres = [(1, 1, *OLD), (1, 2, *work)]
    assert run(visits, centres) == []
    assert reference(visits, centres) == []


def test_min_visit_days_on_each_side():
    visits = [(1, d, *OLD) for d in (1, 4)] + [(1, d, *NEW) for d in (10, 12, 14, 16)]
    centres = [(1, 1, *OLD), (1, 2, *NEW)]
    assert run(visits, centres) == []  # two visits near the old home: not enough
    assert run(visits, centres, min_days=2) == [(1, 10, 2, 4, 2, 0, 0, 4, 1, 2)]
    # never a split on the first day, even with no minimum (nothing before it)
    assert all(r[1] > 1 for r in run(visits, centres, share=0.5, min_days=0))
    assert run(visits, centres, share=0.5, min_days=0) == reference(visits, centres, share=0.5, min_days=0)


def test_ties_go_to_the_lower_centre_key_whatever_the_input_order():
    near_old = (35.705, 139.705)  # under 1 km from OLD: every visit is near both
    near_new = (35.705, 139.925)
    visits = [(7, d, *OLD) for d in (1, 3, 5, 7)] + [(7, d, *NEW) for d in (20, 22, 24)]
    centres = [(7, 4, *near_new), (7, 3, *OLD), (7, 2, *NEW), (7, 1, *near_old)]
    # both old candidates have 4 visits before, both new ones 3 from: keys 1 (old) and 2 (new) win
    assert run(visits, centres) == [(7, 20, 4, 3, 4, 0, 0, 3, 1, 2)]
    swapped = [(7, 1, *near_new), (7, 2, *OLD), (7, 3, *NEW), (7, 4, *near_old)]
    assert run(visits, swapped) == [(7, 20, 4, 3, 4, 0, 0, 3, 2, 1)]


def test_overlap_share_limit_is_exact():
    # one visit near the new home among the n before the split: allowed when 1 <= 0.10 * n, so n = 10 but not 9
    for n_old, expected in ((9, False), (10, True)):
        visits = [(1, d, *OLD) for d in range(1, n_old)] + [(1, n_old, *NEW)]
        visits += [(1, d, *NEW) for d in range(30, 36)]
        centres = [(1, 1, *OLD), (1, 2, *NEW)]
        got = [r for r in run(visits, centres) if r[1] == 30]
        assert bool(got) is expected, n_old
        if expected:
            assert got == [(1, 30, 10, 6, 9, 0, 1, 6, 1, 2)]
    # 0.29 * 100 is 28.999999999999996 in floating point; DuckDB's decimal product is exactly 29
    visits = [(1, d, *OLD) for d in range(71)] + [(1, 100 + d, *NEW) for d in range(29)]
    visits += [(1, 200 + d, *NEW) for d in range(5)]
    got = run(visits, [(1, 1, *OLD), (1, 2, *NEW)], share=0.29)
    assert (1, 200, 100, 5, 71, 0, 29, 5, 1, 2) in got
    # the old home's share after the split: one old-area visit among the 5 from it is over 0.10
    visits = [(1, d, *OLD) for d in range(10)] + [(1, 20 + d, *NEW) for d in range(4)] + [(1, 30, *OLD)]
    assert run(visits, [(1, 1, *OLD), (1, 2, *NEW)]) == []
    assert run(visits, [(1, 1, *OLD), (1, 2, *NEW)], share=0.2) == [(1, 20, 10, 5, 10, 1, 0, 4, 1, 2)]


def test_several_visits_a_day_count_each_and_split_only_between_days():
    visits = [(1, d, *OLD) for d in (1, 1, 2, 3)] + [(1, 5, *OLD), (1, 5, *NEW)] + [(1, d, *NEW) for d in (6, 7, 8)]
    centres = [(1, 1, *OLD), (1, 2, *NEW)]
    assert run(visits, centres, share=0.25) == reference(visits, centres, share=0.25)
    assert run(visits, centres, share=0.25) == [(1, 5, 4, 5, 4, 1, 0, 4, 1, 2), (1, 6, 6, 3, 5, 0, 1, 3, 1, 2)]


def test_members_without_centres_and_empty_input():
    assert run([(1, 1, *OLD)], []) == []
    assert run([], [(1, 1, *OLD)]) == []
    visits = [(2, d, *OLD) for d in range(5)] + [(2, 10 + d, *NEW) for d in range(5)]
    assert run(visits, [(3, 1, *OLD), (3, 2, *NEW)]) == []  # member 2's visits, member 3's centres


@pytest.mark.parametrize("seed", range(6))
def test_matches_the_definition_on_random_members(seed):
    rng = np.random.default_rng(seed)
    visits, centres = [], []
    for m in range(40):
        places = [(35.6 + rng.uniform(0, 0.3), 139.5 + rng.uniform(0, 0.4)) for _ in range(rng.integers(1, 6))]
        keys = rng.permutation(len(places)) + 1
        centres += [(m, int(k), *p) for k, p in zip(keys, places, strict=True)]
        switch = rng.integers(5, 60)
        for _ in range(rng.integers(3, 40)):
            day = int(rng.integers(0, 90))
            side = places[: max(1, len(places) // 2)] if day < switch else places[len(places) // 2:]
            lat, lon = side[rng.integers(0, len(side))]
            visits.append((m, day, lat + rng.normal(0, 0.01), lon + rng.normal(0, 0.01)))
    if seed % 3 == 0:  # visits of members without centres too (filtered out before the search)
        visits += [(m, int(rng.integers(0, 90)), 35.7, 139.7) for m in range(40, 45) for _ in range(10)]
    share, min_days = (0.1, 3) if seed % 2 else (0.25, 2)
    got = run(visits, centres, share=share, min_days=min_days)
    assert got == reference(visits, centres, share=share, min_days=min_days)
    if seed == 0:
        assert got  # the random members do produce splits, so the comparison is not vacuous


def test_haversine_matches_a_known_distance():
    # Tokyo station to Shinjuku station: about 6.1 km
    assert haversine_km(np.array([35.6812]), np.array([139.7671]), np.array([35.6896]), np.array([139.7006]))[
        0] == pytest.approx(6.07, abs=0.05)


def test_the_dbt_unit_test_fixture_holds_the_splits_of_its_visits():
    """models/models/_unit_tests.yml gives int_member_moves_detected both the visits and the splits; the splits
    must be what find_splits makes of those visits (every store of these members is a candidate home)."""
    import datetime as dt

    import yaml

    from lake.config import REPO_ROOT

    tests = yaml.safe_load((REPO_ROOT / "models" / "models" / "_unit_tests.yml").read_text())["unit_tests"]
    case = next(t for t in tests if t["name"] == "relocation_needs_a_clean_split_that_persists")
    given = {g["input"]: g["rows"] for g in case["given"]}
    rows = given["ref('int_member_move_visits')"]
    gids = sorted({r["gid"] for r in rows})
    stores = sorted({(r["gid"], r["company"], r["store_id"], r["lat"], r["lon"]) for r in rows})
    key = {s[:3]: i + 1 - next(j for j, t in enumerate(stores) if t[0] == s[0]) for i, s in enumerate(stores)}
    epoch = dt.date(1970, 1, 1)
    visits = [(gids.index(r["gid"]), (r["purchase_date"] - epoch).days, r["lat"], r["lon"]) for r in rows]
    centres = [(gids.index(s[0]), key[s[:3]], s[3], s[4]) for s in stores]
    v = case["overrides"]["vars"]
    got = run(visits, centres, radius=v["move_radius_km"], share=v["move_max_overlap_share"],
              min_days=v["move_min_visit_days"])
    want = sorted((gids.index(r["gid"]), (r["split_on"] - epoch).days, r["pre_n"], r["post_n"], r["pre_old"],
                   r["post_old"], r["pre_new"], r["post_new"]) for r in given["ref('int_member_move_splits')"])
    assert [g[:8] for g in got] == want
    homes = {(r["gid"], (r["split_on"] - epoch).days): (r["old_lat"], r["old_lon"], r["new_lat"], r["new_lon"])
             for r in given["ref('int_member_move_splits')"]}
    by_key = {(c[0], c[1]): (c[2], c[3]) for c in centres}
    for g in got:
        assert homes[(gids[g[0]], g[1])] == (*by_key[(g[0], g[8])], *by_key[(g[0], g[9])])
