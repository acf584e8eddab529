-- The one definition of a member's home area, used by every mart: the store the member used on most days among
-- their `home_visit_days` located visit days (ties: the latest visit, then the store id), with its coordinates
-- and prefecture. Two windows per member: `first` (the first visit days the lake has) and `last` (the last ones up
-- to the as-of date). Counting visit days rather than weeks keeps light shoppers' home areas steady. Members shop
-- around home, so the most-used store marks it; coordinates, not prefectures, so a move across town shows, and
-- a commuter's second area does not replace the first.
with visits as (
    select * from {{ ref('int_store_visits_located') }}
    where purchase_date <= {{ as_of_date() }}
),

ranked as (
    select
        gid,
        company,
        store_id,
        purchase_date,
        row_number() over (partition by gid order by purchase_date, company, store_id) as rank_first,
        row_number() over (partition by gid order by purchase_date desc, company desc, store_id desc) as rank_last,
    from visits
),

windowed as (
    select gid, 'first' as period, company, store_id, purchase_date
    from ranked
    where rank_first <= {{ var('home_visit_days') }}
    union all
    select gid, 'last' as period, company, store_id, purchase_date
    from ranked
    where rank_last <= {{ var('home_visit_days') }}
),

per_store as (
    select
        gid,
        period,
        company,
        store_id,
        count(*) as visit_days,
        max(purchase_date) as last_visit_date,
        sum(count(*)) over (partition by gid, period) as window_visit_days,
    from windowed
    group by gid, period, company, store_id
),

home as (
    select * from per_store
    qualify row_number() over (
        partition by gid, period order by visit_days desc, last_visit_date desc, company, store_id
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
