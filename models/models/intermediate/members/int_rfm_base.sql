-- Recency, frequency (visits) and monetary value per member, group-wide (`scope` = 'group') and per brand,
-- over the last 365 days before the as-of date. Read from the per-brand summary (its 365-day columns): the
-- group scope is the max / sums over a member's brands, so member days are not scanned again.
with brands as (
    select * from {{ ref('int_member_brands_summarised') }}
    where last_purchase_date_365d is not null
),

per_scope as (
    select
        'group' as scope,
        gid,
        max(last_purchase_date_365d) as last_purchase_date,
        sum(visits_365d) as frequency,
        sum(spend_365d_yen) as monetary_yen,
    from brands
    group by gid
    union all
    select
        company as scope,
        gid,
        last_purchase_date_365d as last_purchase_date,
        visits_365d as frequency,
        spend_365d_yen as monetary_yen,
    from brands
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
