-- Churn risk per brand for the Members dashboard: members scored (BG/NBD, mart_clv) who use the brand, how many
-- are at risk (P(alive) below the threshold), the share and the mean P(alive). A brand with fewer than k scored
-- members is suppressed, and so is an at-risk count below k.
with clv as (
    select * from {{ ref('mart_clv') }}
),

member_brands as (
    select * from {{ ref('fct_member_brands') }}
),

per_brand as (
    select
        member_brands.company,
        count(*) as members,
        count(*) filter (where clv.is_churn_risk) as churn_risk_members,
        avg(clv.p_alive) as p_alive_mean,
    from member_brands
    inner join clv on member_brands.gid = clv.gid
    group by all
),

final as (
    select
        company,
        members < {{ var('min_cell_k') }} as is_suppressed,
        {{ k_suppress('members', 'members') }} as members,
        {{ k_suppress('churn_risk_members', 'least(members, churn_risk_members)') }} as churn_risk_members,
        {{ k_suppress('churn_risk_members / members', 'least(members, churn_risk_members)') }} as churn_risk_share,
        {{ k_suppress('p_alive_mean', 'members') }} as p_alive_mean,
    from per_brand
)

select * from final
