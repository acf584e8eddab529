"""Relocation (DESIGN §7): the qualifying splits of the members who may have moved, from lake_models.moves (the
split search, on numpy: a SQL window over every (candidate home, visit day) pair was the slowest model of the
build). One row per member and split day with the visit counts on each side and the two homes;
int_member_moves_detected checks them (homes apart, persistence, brands) and picks the cleanest."""

import pandas as pd

from lake_models.moves import find_splits

COLUMNS = ["member_key", "split_day", "pre_n", "post_n", "pre_old", "post_old", "pre_new", "post_new",
           "old_centre_key", "new_centre_key"]


def model(dbt, session):
    dbt.config(materialized="table")
    centres_rel = dbt.ref("int_member_move_centres")
    visits_rel = dbt.ref("int_member_move_visits")
    centres = centres_rel.project("member_key, centre_key, lat, lon").fetchnumpy()
    # unordered: find_splits sorts by member and day itself (cheaper than DuckDB's ORDER BY into numpy)
    visits = visits_rel.project(
        "member_key, datediff('day', date '1970-01-01', purchase_date)::integer as day, place_key, lat, lon"
    ).fetchnumpy()
    found = find_splits(
        visits["member_key"], visits["day"], visits["place_key"], visits["lat"], visits["lon"],
        centres["member_key"], centres["centre_key"], centres["lat"], centres["lon"],
        radius_km=float(dbt.config.get("radius_km")),
        max_overlap_share=dbt.config.get("max_overlap_share"),
        min_visit_days=int(dbt.config.get("min_visit_days")),
    )
    splits = pd.DataFrame(dict(zip(COLUMNS, (
        found.member, found.split_on, found.pre_n, found.post_n, found.pre_old, found.post_old, found.pre_new,
        found.post_new, found.old_centre, found.new_centre,
    ), strict=True)))
    # the homes' store and place from the centres (DuckDB joins; a relation is materialised by dbt-duckdb)
    splits_rel = session.from_df(splits).set_alias("s")
    old = centres_rel.set_alias("o")
    new = centres_rel.set_alias("n")
    return splits_rel.join(
        old, "s.member_key = o.member_key and s.old_centre_key = o.centre_key"
    ).join(
        new, "s.member_key = n.member_key and s.new_centre_key = n.centre_key"
    ).project(
        "o.gid, s.member_key, (date '1970-01-01' + s.split_day::integer) as split_on, s.pre_n, s.post_n, s.pre_old, "
        "s.post_old, s.pre_new, s.post_new, s.old_centre_key, s.new_centre_key, o.company as old_company, "
        "o.store_id as old_store_id, o.lat as old_lat, o.lon as old_lon, o.prefecture as from_prefecture, "
        "n.company as new_company, n.store_id as new_store_id, n.lat as new_lat, n.lon as new_lon, "
        "n.prefecture as to_prefecture"
    )
