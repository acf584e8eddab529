-- Relocation (DESIGN §7): a change point in the sequence of a member's located store visits. Every day with a
-- visit is a possible split; on each side the home is the member's store with the most of that side's visits
-- within `move_radius_km` of it (the densest spot, so a light shopper whose new visits spread over three new
-- stores still has one new home). A split is a move when the two homes lie more than `move_radius_km` apart
-- and it divides the visits cleanly: before it, at most `move_max_overlap_share` of the visits near the new
-- home; from it, at most that share near the old one; at least `move_min_visit_days` visits near the old home
-- before and near the new one after; a brand used around the old home before and around the new one after (a
-- member who only switched from the corner shop to a superstore across town did not move); and the new home
-- holds for `move_persist_weeks` weeks with a visit. A commuter uses both areas all along: on either side of
-- any split most visits lie around the same home, so the two homes coincide and no split qualifies. Of the
-- qualifying splits the cleanest (fewest visits near the other side's home) wins; the move date is midway
-- between the last visit near the old home and the first near the new one (the member moved in between).
-- the split search (every visit day a possible split, each side's home, the share limits) is int_member_move_splits
-- (lake_models.moves, on numpy) over the candidate homes of int_member_move_centres; here the checks after it
with visits as (
    select * from {{ ref('int_member_move_visits') }}
),

qualifying as (
    select * from {{ ref('int_member_move_splits') }}
),

placed as (
    select
        *,
        {{ haversine_km('old_lat', 'old_lon', 'new_lat', 'new_lon') }} as distance_km,
    from qualifying
    where {{ haversine_km('old_lat', 'old_lon', 'new_lat', 'new_lon') }} > {{ var('move_radius_km') }}
),

-- each qualifying split against the member's visits: persistence, the brands on each side, and the dates
checked as (
    select
        placed.gid,
        placed.split_on,
        count(distinct date_trunc('week', v.purchase_date)) filter (
            where v.purchase_date >= placed.split_on
            and {{ haversine_km('placed.new_lat', 'placed.new_lon', 'v.lat', 'v.lon') }} <= {{ var('move_radius_km') }}
        ) as post_new_weeks,
        -- the stores used near each home (twice the radius: a brand's nearest store may lie a little farther from
        -- home than the densest spot), and every store used on each side
        list(distinct v.company) filter (
            where v.purchase_date < placed.split_on
            and {{ haversine_km('placed.old_lat', 'placed.old_lon', 'v.lat', 'v.lon') }}
            <= 2 * {{ var('move_radius_km') }}
        ) as brands_before,
        list(distinct v.company) filter (
            where v.purchase_date >= placed.split_on
            and {{ haversine_km('placed.new_lat', 'placed.new_lon', 'v.lat', 'v.lon') }}
            <= 2 * {{ var('move_radius_km') }}
        ) as brands_after,
        list(distinct v.company || ':' || v.store_id) filter (where v.purchase_date < placed.split_on)
            as stores_before,
        list(distinct v.company || ':' || v.store_id) filter (
            where v.purchase_date >= placed.split_on
            and {{ haversine_km('placed.new_lat', 'placed.new_lon', 'v.lat', 'v.lon') }}
            <= 2 * {{ var('move_radius_km') }}
        ) as stores_after,
        max(v.purchase_date) filter (
            where v.purchase_date < placed.split_on
            and {{ haversine_km('placed.old_lat', 'placed.old_lon', 'v.lat', 'v.lon') }} <= {{ var('move_radius_km') }}
        ) as last_old_date,
        min(v.purchase_date) filter (
            where v.purchase_date >= placed.split_on
            and {{ haversine_km('placed.new_lat', 'placed.new_lon', 'v.lat', 'v.lon') }} <= {{ var('move_radius_km') }}
        ) as first_new_date,
    from placed
    inner join visits as v on placed.gid = v.gid
    group by placed.gid, placed.split_on
),

best_split as (
    select placed.*, checked.post_new_weeks, checked.last_old_date, checked.first_new_date
    from placed
    inner join checked on placed.gid = checked.gid and placed.split_on = checked.split_on
    where
        checked.post_new_weeks >= {{ var('move_persist_weeks') }}
        and len(list_intersect(checked.brands_before, checked.brands_after)) > 0
        -- a move changes stores: some brand used near the old home before is used near the new one after only at
        -- stores not used before (a member who kept their stores and dropped the corner shop did not move)
        and len(list_filter(
            list_intersect(checked.brands_before, checked.brands_after),
            b -> len(list_filter(
                checked.stores_after, s -> split_part(s, ':', 1) = b
                and list_contains(checked.stores_before, s)
            )) = 0
        )) > 0
    qualify row_number() over (
        partition by placed.gid
        order by placed.pre_new / placed.pre_n + placed.post_old / placed.post_n, placed.split_on
    ) = 1
),

final as (
    select
        gid,
        (last_old_date + ((first_new_date - last_old_date) // 2)::integer)::date as moved_on,
        last_old_date as last_seen_old_area_on,
        first_new_date as first_seen_new_area_on,
        from_prefecture,
        to_prefecture,
        from_prefecture = to_prefecture as is_within_prefecture,
        distance_km,
        new_lat,
        new_lon,
        post_new_weeks as weeks_in_new_area,
    from best_split
)

select * from final
