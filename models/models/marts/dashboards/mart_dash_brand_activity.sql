-- Active members per brand and week for the Cross-brand dashboard: members with at least one purchase at the
-- brand in the week (JST weeks starting Monday), and their spend. A cell of fewer than k members is suppressed.
with member_days as (
    select * from {{ ref('stg_group__member_days') }}
),

per_week as (
    select
        company,
        date_trunc('week', purchase_date)::date as week,
        count(distinct gid) as active_members,
        sum(spend_yen) as spend_yen,
        sum(visits) as visits,
    from member_days
    group by all
),

final as (
    select
        company || ':' || week::varchar as cell_id,
        company,
        week,
        active_members < {{ var('min_cell_k') }} as is_suppressed,
        {{ k_suppress('active_members', 'active_members') }} as active_members,
        {{ k_suppress('spend_yen', 'active_members') }}::bigint as spend_yen,
        {{ k_suppress('visits', 'active_members') }}::bigint as visits,
    from per_week
)

select * from final
