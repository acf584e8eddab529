-- Unified member view (DESIGN §7): one row per gid with the brands used, spend and visits over the last
-- 30/90/365 days, home area from the stores used, and life-stage and programme flags. No PII.
with members as (
    select * from {{ ref('stg_group__members') }}
),

brands as (
    select * from {{ ref('int_member_brands_summarised') }}
),

home as (
    select * from {{ ref('int_member_home_areas') }}
    where period = 'last'
),

moves as (
    select * from {{ ref('int_member_moves_detected') }}
),

emoney as (
    select * from {{ ref('int_emoney_members') }}
),

-- life stage from the category mix anywhere in the group (baby goods at gms, ec, the baby stores, ...)
baby as (
    select
        gid,
        min(purchase_date) as first_baby_purchase_date,
        max(purchase_date) as last_baby_purchase_date,
    from {{ ref('stg_group__member_day_categories') }}
    where category = 'baby' and purchase_date <= {{ as_of_date() }}
    group by gid
),

-- one pass over the member's brands: brands used, first and last purchase, and the 30/90/365-day totals
brand_summary as (
    select
        gid,
        list_sort(list(company)) as brands_used,
        count(*) as n_brands,
        min(first_purchase_date) as first_purchase_date,
        max(last_purchase_date) as last_purchase_date,
        sum(spend_30d_yen) as spend_30d_yen,
        sum(spend_90d_yen) as spend_90d_yen,
        sum(spend_365d_yen) as spend_365d_yen,
        sum(visits_30d) as visits_30d,
        sum(visits_90d) as visits_90d,
        sum(visits_365d) as visits_365d,
    from brands
    group by gid
),

last_move as (
    select gid, max(moved_on) as last_moved_on, count(*) as moves from moves group by gid
),

final as (
    select
        members.gid,
        members.birth_year,
        members.gender,
        members.prefecture as registered_prefecture,
        members.postal3,
        members.joined_on,
        members.has_marketing_consent,
        case when members.programme_joined_on <= {{ as_of_date() }} then members.programme_joined_on end
            as programme_joined_on,
        coalesce(members.programme_joined_on <= {{ as_of_date() }}, false) as is_programme_member,
        emoney.gid is not null as is_emoney_user,
        coalesce(emoney.is_emoney_only, false) as is_emoney_only,
        coalesce(brand_summary.brands_used, []::varchar[]) as brands_used,
        coalesce(brand_summary.n_brands, 0) as n_brands,
        brand_summary.first_purchase_date,
        brand_summary.last_purchase_date,
        coalesce(brand_summary.spend_30d_yen, 0)::bigint as spend_30d_yen,
        coalesce(brand_summary.spend_90d_yen, 0)::bigint as spend_90d_yen,
        coalesce(brand_summary.spend_365d_yen, 0)::bigint as spend_365d_yen,
        coalesce(brand_summary.visits_30d, 0)::bigint as visits_30d,
        coalesce(brand_summary.visits_90d, 0)::bigint as visits_90d,
        coalesce(brand_summary.visits_365d, 0)::bigint as visits_365d,
        coalesce(home.home_prefecture, members.prefecture) as home_prefecture,
        home.home_city,
        home.home_lat,
        home.home_lon,
        last_move.last_moved_on,
        coalesce(last_move.moves, 0) > 0 as has_moved,
        baby.first_baby_purchase_date,
        coalesce(baby.last_baby_purchase_date > {{ as_of_date() }} - 365, false) as is_baby_stage,
        case
            when
                baby.first_baby_purchase_date
                >= brand_summary.first_purchase_date + {{ var('baby_arrival_min_history_days') }}
                then baby.first_baby_purchase_date
        end as baby_arrival_on,
        members.joined_on > {{ as_of_date() }} - 90 as is_new_member,
    from members
    left join brand_summary on members.gid = brand_summary.gid
    left join home on members.gid = home.gid
    left join last_move on members.gid = last_move.gid
    left join emoney on members.gid = emoney.gid
    left join baby on members.gid = baby.gid
    where members.joined_on <= {{ as_of_date() }}
)

select * from final
