-- Recency, frequency (visits) and monetary value per member, group-wide (`scope` = 'group') and per brand,
-- over the last 365 days before the as-of date.
with member_days as (
    select * from {{ ref('stg_group__member_days') }}
    where purchase_date > {{ as_of_date() }} - 365
),

per_scope as (
    select
        'group' as scope,
        gid,
        max(purchase_date) as last_purchase_date,
        sum(visits) as frequency,
        sum(spend_yen) as monetary_yen,
    from member_days
    group by gid
    union all
    select
        company as scope,
        gid,
        max(purchase_date) as last_purchase_date,
        sum(visits) as frequency,
        sum(spend_yen) as monetary_yen,
    from member_days
    group by company, gid
),

final as (
    select
        scope,
        gid,
        ({{ as_of_date() }} - last_purchase_date)::integer as recency_days,
        frequency::bigint as frequency,
        monetary_yen::bigint as monetary_yen,
    from per_scope
)

select * from final
