-- Per member and brand (company): first and last purchase, lifetime spend and visits in the group zone.
with member_days as (
    select * from {{ ref('stg_group__member_days') }}
),

final as (
    select
        gid,
        company,
        min(purchase_date) as first_purchase_date,
        max(purchase_date) as last_purchase_date,
        count(*) as visit_days,
        sum(visits) as visits,
        sum(spend_yen) as spend_yen,
    from member_days
    group by gid, company
)

select * from final
