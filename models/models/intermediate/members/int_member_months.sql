-- Per member and calendar month: the brands used (a bit mask over int_companies.company_bit, and their number),
-- spend and visits. A fifth of the member-day rows; the monthly KPIs, the cross-brand matrix and the programme
-- monthly chart read it instead of member days.
with member_days as (
    select * from {{ ref('stg_group__member_days') }}
),

companies as (
    select * from {{ ref('int_companies') }}
),

per_month as (
    select
        member_days.gid,
        date_trunc('month', member_days.purchase_date)::date as month,
        bit_or(1::bigint << companies.company_bit) as brand_mask,
        sum(member_days.spend_yen) as spend_yen,
        sum(member_days.visits) as visits,
    from member_days
    left join companies on member_days.company = companies.company
    group by all
),

final as (
    select
        gid,
        month,
        coalesce(brand_mask, 0) as brand_mask,
        bit_count(coalesce(brand_mask, 0))::bigint as n_brands,
        spend_yen,
        visits,
    from per_month
)

select * from final
