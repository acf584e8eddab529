-- The companies (brands) seen in member days, each with a bit position: a member's set of brands in a month is
-- stored as a bit mask (int_member_months), far cheaper to aggregate over millions of member days than a list.
with member_days as (
    select * from {{ ref('stg_group__member_days') }}
),

final as (
    select
        company,
        (row_number() over (order by company) - 1)::integer as company_bit,
    from (select distinct company from member_days where company is not null) as companies
)

select * from final
