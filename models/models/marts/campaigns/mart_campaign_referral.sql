-- Cross-brand referral per campaign: conversion (first purchase at the target brand within the referral window of
-- the exposure) in treatment against control, the uplift and its 95% confidence interval (normal approximation).
-- Arms with fewer than k members are suppressed.
with outcomes as (
    select * from {{ ref('int_campaign_outcomes') }}
    where not had_target_purchase_before
),

arms as (
    select
        campaign_id,
        any_value(source_company) as source_company,
        any_value(target_company) as target_company,
        any_value(exposed_on) as exposed_on,
        {{ arm_counts() }}
    from outcomes
    group by campaign_id
),

rates as (
    select
        *,
        treatment_converted / nullif(treatment_members, 0) as treatment_rate,
        control_converted / nullif(control_members, 0) as control_rate,
    from arms
),

final as (
    select
        campaign_id,
        source_company,
        target_company,
        exposed_on,
        {{ var('referral_window_days') }} as window_days,
        least(treatment_members, control_members) < {{ var('min_cell_k') }} as is_suppressed,
        {{ k_suppress('treatment_members', 'treatment_members') }} as treatment_members,
        {{ k_suppress('control_members', 'control_members') }} as control_members,
        {{ k_suppress('treatment_converted', 'least(treatment_members, control_members)') }} as treatment_converted,
        {{ k_suppress('control_converted', 'least(treatment_members, control_members)') }} as control_converted,
        {{ k_suppress('treatment_rate', 'least(treatment_members, control_members)') }} as treatment_rate,
        {{ k_suppress('control_rate', 'least(treatment_members, control_members)') }} as control_rate,
        {{ k_suppress('treatment_rate - control_rate', 'least(treatment_members, control_members)') }} as uplift,
        {{ k_suppress(
            'treatment_rate - control_rate - 1.96 * sqrt(treatment_rate * (1 - treatment_rate) / treatment_members'
            ~ ' + control_rate * (1 - control_rate) / control_members)',
            'least(treatment_members, control_members)'
        ) }} as uplift_ci_low,
        {{ k_suppress(
            'treatment_rate - control_rate + 1.96 * sqrt(treatment_rate * (1 - treatment_rate) / treatment_members'
            ~ ' + control_rate * (1 - control_rate) / control_members)',
            'least(treatment_members, control_members)'
        ) }} as uplift_ci_high,
    from rates
)

select * from final
