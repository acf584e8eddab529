-- Group KPIs per month: active members, cross-brand share, spend per member, coupon redemption, gid link rate.
with member_months as (
    select * from {{ ref('int_member_months') }}
),

purchase_days as (
    select * from {{ ref('int_purchase_days') }}
),

campaigns as (
    select * from {{ ref('int_campaigns') }}
),

assignments as (
    select * from {{ ref('int_campaign_assignments') }}
    where assigned_group = 'treatment'
),

activity as (
    select
        month,
        count(*) as active_members,
        count(*) filter (where n_brands >= 2) as cross_brand_members,
        sum(spend_yen) as spend_yen,
        sum(visits) as visits,
    from member_months
    group by month
),

purchase_months as (
    select
        date_trunc('month', purchase_date)::date as month,
        sum(purchases)::bigint as purchases,
        sum(member_purchases)::bigint as member_purchases,
        count(distinct coupon_gid) as coupon_redeemers,
    from purchase_days
    group by all
),

coupon_targets as (
    select
        months.month,
        count(distinct assignments.gid) as coupon_members,
    from (select distinct month from activity) as months
    inner join campaigns
        on
            campaigns.starts_on < months.month + interval 1 month
            and campaigns.ends_on >= months.month
    inner join assignments on campaigns.campaign_id = assignments.campaign_id
    group by months.month
),

final as (
    select
        activity.month,
        -- member counts below k (sharing rules) are not published, nor what is computed from them
        {{ k_suppress('activity.active_members', 'activity.active_members') }} as active_members,
        {{ k_suppress('activity.cross_brand_members', 'activity.cross_brand_members') }} as cross_brand_members,
        {{ k_suppress('activity.cross_brand_members / activity.active_members',
            'least(activity.active_members, activity.cross_brand_members)') }} as cross_brand_share,
        {{ k_suppress('activity.spend_yen::bigint', 'activity.active_members') }} as spend_yen,
        {{ k_suppress('activity.spend_yen / activity.active_members', 'activity.active_members') }}
            as spend_per_member_yen,
        {{ k_suppress('activity.visits / activity.active_members', 'activity.active_members') }} as visits_per_member,
        {{ k_suppress(
            'coalesce(purchase_months.coupon_redeemers, 0)',
            'coalesce(purchase_months.coupon_redeemers, 0)'
        ) }}
            as coupon_redeemers,
        {{ k_suppress('coalesce(coupon_targets.coupon_members, 0)', 'coalesce(coupon_targets.coupon_members, 0)') }}
            as coupon_members,
        {{ k_suppress('purchase_months.coupon_redeemers / nullif(coupon_targets.coupon_members, 0)',
            'least(coalesce(purchase_months.coupon_redeemers, 0), coalesce(coupon_targets.coupon_members, 0))') }}
            as coupon_redemption_rate,
        {{ k_suppress('purchase_months.member_purchases / nullif(purchase_months.purchases, 0)',
            'activity.active_members') }} as gid_link_rate,
    from activity
    left join purchase_months on activity.month = purchase_months.month
    left join coupon_targets on activity.month = coupon_targets.month
)

select * from final
