-- Per campaign and assigned member, what happened in the campaign window [starts_on, ends_on] (intention to treat:
-- both arms are measured alike, whether or not a treated member saw the coupon): coupon use, spend and visits at the
-- target brand and at every group brand; and the referral outcome of int_campaign_outcomes (one definition: the
-- first purchase ever at the target brand within `referral_window_days` of the start; null for a campaign that has
-- not started by the as-of date). Members who had bought at the target brand before are not at risk of a first
-- purchase: the report leaves them out of referral, never counts their purchases as conversions.
with campaigns as (
    select * from {{ ref('int_campaigns') }}
),

assignments as (
    select * from {{ ref('int_campaign_assignments') }}
),

member_days as (
    select * from {{ ref('stg_group__member_days') }}
    where purchase_date <= {{ as_of_date() }}
),

referral as (
    select * from {{ ref('int_campaign_outcomes') }}
),

redemptions as (
    select * from {{ ref('int_coupon_redemptions') }}
),

exposures as (
    select
        assignments.campaign_id,
        assignments.gid,
        assignments.assigned_group,
        campaigns.origin,
        campaigns.company as source_company,
        campaigns.target_company,
        campaigns.starts_on,
        campaigns.ends_on,
    from assignments
    inner join campaigns on assignments.campaign_id = campaigns.campaign_id
),

at_target as (
    select
        exposures.campaign_id,
        exposures.gid,
        sum(member_days.spend_yen) as target_spend_yen,
        sum(member_days.visits) as target_visits,
    from exposures
    inner join member_days
        on
            exposures.gid = member_days.gid
            and exposures.target_company = member_days.company
            and member_days.purchase_date between exposures.starts_on and exposures.ends_on
    group by all
),

in_window as (
    select
        exposures.campaign_id,
        exposures.gid,
        sum(member_days.spend_yen) as group_spend_yen,
        sum(member_days.visits) as group_visits,
    from exposures
    inner join member_days
        on
            exposures.gid = member_days.gid
            and member_days.purchase_date between exposures.starts_on and exposures.ends_on
    group by all
),

redeemed as (
    select
        exposures.campaign_id,
        exposures.gid,
        count(*) as redemption_days,
    from exposures
    inner join redemptions
        on
            exposures.campaign_id = redemptions.campaign_id
            and exposures.gid = redemptions.gid
            and redemptions.redeemed_on between exposures.starts_on and exposures.ends_on
    group by all
),

final as (
    select
        exposures.*,
        referral.first_target_purchase_date,
        referral.had_target_purchase_before,
        referral.is_converted,
        coalesce(redeemed.redemption_days, 0) > 0 as has_redeemed,
        coalesce(at_target.target_spend_yen, 0)::bigint as target_spend_yen,
        coalesce(at_target.target_visits, 0)::bigint as target_visits,
        coalesce(in_window.group_spend_yen, 0)::bigint as group_spend_yen,
        coalesce(in_window.group_visits, 0)::bigint as group_visits,
    from exposures
    left join referral on exposures.campaign_id = referral.campaign_id and exposures.gid = referral.gid
    left join at_target on exposures.campaign_id = at_target.campaign_id and exposures.gid = at_target.gid
    left join in_window on exposures.campaign_id = in_window.campaign_id and exposures.gid = in_window.gid
    left join redeemed on exposures.campaign_id = redeemed.campaign_id and exposures.gid = redeemed.gid
)

select * from final
