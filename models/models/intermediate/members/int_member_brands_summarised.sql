-- Per member and brand (company): first and last purchase, lifetime spend and visits in the group zone, and the
-- spend, visits and last purchase over the last 30/90/365 days before the as-of date (no upper bound, as in every
-- "last N days" here). One pass over member days serves the unified view, the per-brand facts and RFM.
with member_days as (
    select * from {{ ref('stg_group__member_days') }}
),

bounds as (
    select {{ as_of_date() }} as as_of
),

final as (
    select
        member_days.gid,
        member_days.company,
        min(member_days.purchase_date) as first_purchase_date,
        max(member_days.purchase_date) as last_purchase_date,
        count(*) as visit_days,
        sum(member_days.visits) as visits,
        sum(member_days.spend_yen) as spend_yen,
        max(member_days.purchase_date) filter (where member_days.purchase_date > bounds.as_of - 365)
            as last_purchase_date_365d,
        sum(member_days.spend_yen) filter (where member_days.purchase_date > bounds.as_of - 30) as spend_30d_yen,
        sum(member_days.spend_yen) filter (where member_days.purchase_date > bounds.as_of - 90) as spend_90d_yen,
        sum(member_days.spend_yen) filter (where member_days.purchase_date > bounds.as_of - 365) as spend_365d_yen,
        sum(member_days.visits) filter (where member_days.purchase_date > bounds.as_of - 30) as visits_30d,
        sum(member_days.visits) filter (where member_days.purchase_date > bounds.as_of - 90) as visits_90d,
        sum(member_days.visits) filter (where member_days.purchase_date > bounds.as_of - 365) as visits_365d,
    from member_days
    cross join bounds
    group by member_days.gid, member_days.company
)

select * from final
