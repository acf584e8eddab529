-- Relocation (DESIGN §7). A member moved when their home area (int_member_home_areas) at the end lies more than
-- `move_radius_km` from the one at the start, and some week splits their store visits cleanly: before it, at most
-- `move_max_overlap_share` of the visits near the new home; from it, at most that share near the old one; at least
-- `move_min_visit_days` days with a visit near the old home before and near the new one after, at one brand at
-- least in both (a member who only switched from the corner shop to a superstore across town did not move); and
-- the new area holds for `move_persist_weeks` weeks with a visit. A commuter uses both areas all along, so no
-- week splits them: not a move. The move date is midway between the last visit near the old home and the first
-- near the new one (the member moved somewhere in between).
with home as (
    select * from {{ ref('int_member_home_areas') }}
),

visits as (
    select * from {{ ref('int_store_visits_located') }}
    where purchase_date <= {{ as_of_date() }}
),

candidates as (
    select
        old.gid,
        old.home_lat as old_lat,
        old.home_lon as old_lon,
        old.home_prefecture as from_prefecture,
        old.home_store_company as old_company,
        old.home_store_id as old_store_id,
        new.home_store_company as new_company,
        new.home_store_id as new_store_id,
        new.home_lat as new_lat,
        new.home_lon as new_lon,
        new.home_prefecture as to_prefecture,
        {{ haversine_km('old.home_lat', 'old.home_lon', 'new.home_lat', 'new.home_lon') }} as distance_km,
    from home as old
    inner join home as new on old.gid = new.gid and old.period = 'first' and new.period = 'last'
    where
        {{ haversine_km('old.home_lat', 'old.home_lon', 'new.home_lat', 'new.home_lon') }}
        > {{ var('move_radius_km') }}
),

distances as (
    select
        candidates.gid,
        visits.company,
        visits.purchase_date,
        date_trunc('week', visits.purchase_date)::date as week_start,
        visits.company = candidates.old_company and visits.store_id = candidates.old_store_id as is_old_store,
        visits.company = candidates.new_company and visits.store_id = candidates.new_store_id as is_new_store,
        {{ haversine_km('candidates.old_lat', 'candidates.old_lon', 'visits.lat', 'visits.lon') }} as km_old,
        {{ haversine_km('candidates.new_lat', 'candidates.new_lon', 'visits.lat', 'visits.lon') }} as km_new,
    from candidates
    inner join visits on candidates.gid = visits.gid
),

placed as (
    select
        *,
        km_old <= {{ var('move_radius_km') }} as is_near_old,
        km_new <= {{ var('move_radius_km') }} as is_near_new,
    from distances
),

weekly as (
    select
        gid,
        week_start,
        count(*) as n,
        count(*) filter (where is_near_old) as n_old,
        count(*) filter (where is_near_new) as n_new,
        count(*) filter (where is_old_store) as n_old_store,
        count(*) filter (where is_new_store) as n_new_store,
    from placed
    group by all
),

-- every week with a visit is a possible split: visits before it and from it, near each home
splits as (
    select
        gid,
        week_start,
        sum(n) over before as pre_n,
        sum(n_old) over before as pre_old,
        sum(n_new) over before as pre_new,
        coalesce(sum(n_new_store) over before, 0) as pre_new_store,
        sum(n) over after as post_n,
        sum(n_old) over after as post_old,
        sum(n_new) over after as post_new,
        sum(n_old_store) over after as post_old_store,
        count(*) filter (where n_new > 0) over after as post_new_weeks,
    from weekly
    window
        before as (partition by gid order by week_start rows between unbounded preceding and 1 preceding),
        after as (partition by gid order by week_start rows between current row and unbounded following)
),

qualifying as (
    select *
    from splits
    where
        pre_old >= {{ var('move_min_visit_days') }}
        and post_new >= {{ var('move_min_visit_days') }}
        and post_new_weeks >= {{ var('move_persist_weeks') }}
        and pre_new <= {{ var('move_max_overlap_share') }} * pre_n
        and post_old <= {{ var('move_max_overlap_share') }} * post_n
),

-- the same brand used around the old home before the split and around the new one after it (twice the radius:
-- a brand's nearest store may lie a little farther from home than the most-used store)
same_brand as (
    select distinct qualifying.gid, qualifying.week_start
    from qualifying
    inner join placed as before_visits
        on qualifying.gid = before_visits.gid
        and before_visits.km_old <= 2 * {{ var('move_radius_km') }}
        and before_visits.week_start < qualifying.week_start
    inner join placed as after_visits
        on qualifying.gid = after_visits.gid
        and after_visits.km_new <= 2 * {{ var('move_radius_km') }}
        and after_visits.week_start >= qualifying.week_start
        and after_visits.company = before_visits.company
),

best_split as (
    select qualifying.*
    from qualifying
    inner join same_brand on qualifying.gid = same_brand.gid and qualifying.week_start = same_brand.week_start
    qualify row_number() over (
        partition by qualifying.gid
        order by qualifying.pre_new / qualifying.pre_n + qualifying.post_old / qualifying.post_n, qualifying.week_start
    ) = 1
),

dated as (
    select
        best_split.gid,
        best_split.week_start,
        best_split.post_new_weeks,
        max(placed.purchase_date) filter (
            where placed.is_near_old and placed.purchase_date < best_split.week_start + 7
        ) as last_old_date,
    from best_split
    inner join placed on best_split.gid = placed.gid
    group by all
),

first_new as (
    select
        dated.gid,
        min(placed.purchase_date) as first_new_date,
    from dated
    inner join placed
        on dated.gid = placed.gid
        and placed.is_near_new
        and placed.purchase_date > dated.last_old_date
    group by dated.gid
),

final as (
    select
        candidates.gid,
        (dated.last_old_date + ((first_new.first_new_date - dated.last_old_date) // 2)::integer)::date as moved_on,
        dated.last_old_date as last_seen_old_area_on,
        first_new.first_new_date as first_seen_new_area_on,
        candidates.from_prefecture,
        candidates.to_prefecture,
        candidates.from_prefecture = candidates.to_prefecture as is_within_prefecture,
        candidates.distance_km,
        candidates.new_lat,
        candidates.new_lon,
        dated.post_new_weeks as weeks_in_new_area,
    from candidates
    inner join dated on candidates.gid = dated.gid
    inner join first_new on candidates.gid = first_new.gid
)

select * from final
