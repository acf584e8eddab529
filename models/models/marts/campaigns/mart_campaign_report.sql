-- The campaign report (`lake campaign report`): per campaign and metric, treatment against holdout (control) over
-- the campaign window, members per arm, the mean per member in each arm, the difference (the incremental effect per
-- member) with its 95% Welch interval, and the incremental total over the treated members. Metrics: coupon
-- redemption, referral (the referral marts' outcome: first purchase ever at the target brand within
-- `referral_window_days` of the start, among members who had not bought there before; only when the target brand is
-- not the exporting one), spend and visits at the target brand and at every group brand. A metric whose smaller arm
-- has fewer than k members is suppressed.
with outcomes as (
    select * from {{ ref('int_campaign_member_outcomes') }}
),

campaigns as (
    select * from {{ ref('int_campaigns') }}
),

bounds as (
    select {{ as_of_date() }} as data_through
),

per_member as (
    select campaign_id, assigned_group, 'redemption_rate' as metric, has_redeemed::double as value from outcomes
    union all
    select campaign_id, assigned_group, 'referral_rate' as metric, is_converted::double as value from outcomes
    where source_company <> target_company and had_target_purchase_before = false
    union all
    select campaign_id, assigned_group, 'target_spend_yen' as metric, target_spend_yen::double as value from outcomes
    union all
    select campaign_id, assigned_group, 'target_visits' as metric, target_visits::double as value from outcomes
    union all
    select campaign_id, assigned_group, 'group_spend_yen' as metric, group_spend_yen::double as value from outcomes
    union all
    select campaign_id, assigned_group, 'group_visits' as metric, group_visits::double as value from outcomes
),

arms as (
    select
        campaign_id,
        metric,
        count(*) filter (where assigned_group = 'treatment') as treatment_members,
        count(*) filter (where assigned_group = 'control') as control_members,
        avg(value) filter (where assigned_group = 'treatment') as treatment_mean,
        avg(value) filter (where assigned_group = 'control') as control_mean,
        coalesce(var_samp(value) filter (where assigned_group = 'treatment'), 0) as treatment_var,
        coalesce(var_samp(value) filter (where assigned_group = 'control'), 0) as control_var,
    from per_member
    group by campaign_id, metric
),

estimates as (
    select
        *,
        treatment_mean - control_mean as difference,
        1.96 * sqrt(treatment_var / treatment_members + control_var / nullif(control_members, 0)) as half_width,
        least(treatment_members, control_members) < {{ var('min_cell_k') }} as is_suppressed,
    from arms
),

final as (
    select
        estimates.campaign_id || ':' || estimates.metric as report_id,
        estimates.campaign_id,
        estimates.metric,
        campaigns.origin,
        campaigns.company,
        campaigns.target_company,
        campaigns.company <> campaigns.target_company as is_cross_brand,
        campaigns.segment,
        campaigns.definition_hash,
        campaigns.holdout_share,
        campaigns.starts_on,
        campaigns.ends_on,
        bounds.data_through,
        campaigns.ends_on <= bounds.data_through as is_window_complete,
        estimates.is_suppressed,
        estimates.treatment_members,
        estimates.control_members,
        case when not estimates.is_suppressed then estimates.treatment_mean end as treatment_mean,
        case when not estimates.is_suppressed then estimates.control_mean end as control_mean,
        case when not estimates.is_suppressed then estimates.difference end as difference,
        case when not estimates.is_suppressed then estimates.difference - estimates.half_width end as ci_low,
        case when not estimates.is_suppressed then estimates.difference + estimates.half_width end as ci_high,
        case when not estimates.is_suppressed then estimates.difference * estimates.treatment_members end
            as incremental_total,
    from estimates
    inner join campaigns on estimates.campaign_id = campaigns.campaign_id
    cross join bounds
)

select * from final
