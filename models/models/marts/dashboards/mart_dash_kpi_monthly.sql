-- Group KPIs per month as the dashboards show them: mart_kpi_monthly with every count below k suppressed (a month
-- with fewer than k active members entirely; each coupon count below k, and the redemption rate with either).
with kpis as (
    select * from {{ ref('mart_kpi_monthly') }}
),

final as (
    select
        month,
        least(active_members, cross_brand_members) < {{ var('min_cell_k') }} as is_suppressed,
        {{ k_suppress('active_members', 'least(active_members, cross_brand_members)') }} as active_members,
        {{ k_suppress('cross_brand_members', 'least(active_members, cross_brand_members)') }} as cross_brand_members,
        {{ k_suppress('cross_brand_share', 'least(active_members, cross_brand_members)') }} as cross_brand_share,
        {{ k_suppress('spend_per_member_yen', 'active_members') }} as spend_per_member_yen,
        {{ k_suppress('visits_per_member', 'active_members') }} as visits_per_member,
        {{ k_suppress('coupon_members', 'coupon_members') }} as coupon_members,
        {{ k_suppress('coupon_redeemers', 'coupon_redeemers') }} as coupon_redeemers,
        {{ k_suppress('coupon_redemption_rate', 'least(coupon_members, coupon_redeemers)') }} as coupon_redemption_rate,
        {{ k_suppress('gid_link_rate', 'active_members') }} as gid_link_rate,
    from kpis
)

select * from final
