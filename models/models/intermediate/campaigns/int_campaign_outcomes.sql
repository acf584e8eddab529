-- Cross-brand referral: a member assigned to a campaign of brand A (treatment or control) converts when their
-- first purchase ever at the target brand B (over the lake's whole history, not a recent window) falls within
-- `referral_window_days` days from the campaign start (the exposure date of both arms: intention to treat).
-- Members who already bought at B are not at risk. Bounded by the as-of date: campaigns that start later and
-- purchases after it are not seen.
with assignments as (
    select * from {{ ref('int_campaign_assignments') }}
),

campaigns as (
    select * from {{ ref('int_campaigns') }}
    where starts_on <= {{ as_of_date() }}
),

member_days as (
    select * from {{ ref('stg_group__member_days') }}
    where purchase_date <= {{ as_of_date() }}
),

exposures as (
    select
        assignments.campaign_id,
        assignments.gid,
        assignments.assigned_group,
        campaigns.company as source_company,
        campaigns.target_company,
        campaigns.starts_on as exposed_on,
    from assignments
    inner join campaigns on assignments.campaign_id = campaigns.campaign_id
),

first_target_purchase as (
    select
        exposures.campaign_id,
        exposures.gid,
        min(member_days.purchase_date) as first_target_purchase_date,
    from exposures
    inner join member_days
        on
            exposures.gid = member_days.gid
            and exposures.target_company = member_days.company
    group by all
),

final as (
    select
        exposures.*,
        first_target_purchase.first_target_purchase_date,
        coalesce(first_target_purchase.first_target_purchase_date < exposures.exposed_on, false)
            as had_target_purchase_before,
        coalesce(
            first_target_purchase.first_target_purchase_date >= exposures.exposed_on
            and first_target_purchase.first_target_purchase_date
            < exposures.exposed_on + {{ var('referral_window_days') }},
            false
        ) as is_converted,
    from exposures
    left join first_target_purchase
        on
            exposures.campaign_id = first_target_purchase.campaign_id
            and exposures.gid = first_target_purchase.gid
)

select * from final
