-- The one definition of a member's home area, used by every mart: among a stretch of the member's located visits,
-- the store with the most of them within `move_radius_km` of it (the densest spot; ties: more visit days at the
-- store itself, the latest visit, the store id), with its coordinates and prefecture. Members shop around home,
-- so the densest spot marks it even when a light shopper's visits spread over several nearby stores; coordinates,
-- not prefectures, so a move across town shows. Two stretches per member: `first` (the first `home_visit_days`
-- located visit days the lake has) and `last` (the last ones up to the as-of date). int_member_moves_detected
-- applies the same rule to each side of a possible move.
with visits as (
    select * from {{ ref('int_store_visits_located') }}
    where purchase_date <= {{ as_of_date() }}
),

ranked_first as (
    select
        gid,
        company,
        store_id,
        purchase_date,
        lat,
        lon,
        row_number() over (partition by gid order by purchase_date, company, store_id) as rank_first,
        count(*) over (partition by gid) as member_visit_days,
    from visits
),

-- the rank from the end is the rank from the start reversed (a visit is unique per member, day and company): one
-- sort of every visit instead of two
ranked as (
    select
        * exclude (member_visit_days),
        member_visit_days - rank_first + 1 as rank_last,
    from ranked_first
),

windowed as (
    select gid, 'first' as period, company, store_id, purchase_date, lat, lon
    from ranked
    where rank_first <= {{ var('home_visit_days') }}
    union all
    select gid, 'last' as period, company, store_id, purchase_date, lat, lon
    from ranked
    where rank_last <= {{ var('home_visit_days') }}
),

per_store as (
    select
        gid,
        period,
        company,
        store_id,
        any_value(lat) as lat,
        any_value(lon) as lon,
        count(*) as visit_days,
        max(purchase_date) as last_visit_date,
        sum(count(*)) over (partition by gid, period) as window_visit_days,
    from windowed
    group by gid, period, company, store_id
),

-- each store of the stretch against each visit of it: the visits within the radius
density as (
    select
        per_store.gid,
        per_store.period,
        per_store.company,
        per_store.store_id,
        per_store.visit_days,
        per_store.last_visit_date,
        per_store.window_visit_days,
        count(*) filter (
            where {{ haversine_km('per_store.lat', 'per_store.lon', 'windowed.lat', 'windowed.lon') }}
            <= {{ var('move_radius_km') }}
        ) as near_visits,
    from per_store
    inner join windowed on per_store.gid = windowed.gid and per_store.period = windowed.period
    group by all
),

home as (
    select * from density
    qualify row_number() over (
        partition by gid, period
        order by near_visits desc, visit_days desc, last_visit_date desc, company asc, store_id asc
    ) = 1
),

stores as (
    select * from {{ ref('stg_group__stores') }}
),

final as (
    select
        home.gid || ':' || home.period as home_area_id,
        home.gid,
        home.period,
        home.company as home_store_company,
        home.store_id as home_store_id,
        stores.lat as home_lat,
        stores.lon as home_lon,
        stores.prefecture as home_prefecture,
        stores.city as home_city,
        home.visit_days as home_store_visit_days,
        home.window_visit_days,
    from home
    inner join stores on home.company = stores.company and home.store_id = stores.store_id
)

select * from final
