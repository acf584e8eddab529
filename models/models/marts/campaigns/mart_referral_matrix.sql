-- Which brands send customers to which: per (source brand A, target brand B) over all their campaigns, members
-- exposed, first purchases at B within the window, treatment against control. Cells below k suppressed.
with outcomes as (
    select * from {{ ref('int_campaign_outcomes') }}
    where not had_target_purchase_before
),

pairs as (
    select
        source_company,
        target_company,
        count(distinct campaign_id) as campaigns,
        {{ arm_counts() }}
    from outcomes
    group by all
),

final as (
    select
        source_company || ':' || target_company as pair_id,
        source_company,
        target_company,
        campaigns,
        least(treatment_members, control_members) < {{ var('min_cell_k') }} as is_suppressed,
        {{ k_suppress('treatment_members', 'treatment_members') }} as treatment_members,
        {{ k_suppress('control_members', 'control_members') }} as control_members,
        {{ k_suppress(
            'treatment_converted / nullif(treatment_members, 0)',
            'least(treatment_members, control_members)'
        ) }}
            as treatment_rate,
        {{ k_suppress('control_converted / nullif(control_members, 0)', 'least(treatment_members, control_members)') }}
            as control_rate,
        {{ k_suppress(
            'treatment_converted / nullif(treatment_members, 0) - control_converted / nullif(control_members, 0)',
            'least(treatment_members, control_members)'
        ) }} as uplift,
    from pairs
)

select * from final
