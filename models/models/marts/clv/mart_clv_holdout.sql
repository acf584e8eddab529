-- The calibration fit of the chosen model checked on the holdout window, overall and per segment: predicted
-- against actual purchases (days with a group purchase) per member, by calibration frequency, by member segment
-- (programme, e-money only, other) and by tenure (from joining). Members the model could not score are counted,
-- not dropped silently. Cells below k suppressed.
with clv as (
    select * from {{ ref('mart_clv') }}
    where cal_frequency is not null
),

members as (
    select * from {{ ref('dim_members') }}
),

labelled as (
    select
        clv.*,
        case when clv.cal_frequency >= 10 then '10+' else lpad(clv.cal_frequency::varchar, 2, '0') end
            as frequency_bucket,
        case
            when members.is_programme_member then 'programme'
            when members.is_emoney_only then 'emoney_only'
            else 'other'
        end as member_segment,
        case
            when clv.tenure_days < 90 then 'under_90_days'
            when clv.tenure_days < 365 then '90_to_365_days'
            else 'over_a_year'
        end as tenure_band,
    from clv
    left join members on clv.gid = members.gid
),

segmented as (
    select 'all' as segment_type, 'all' as segment, * from labelled
    union all
    select 'frequency' as segment_type, frequency_bucket as segment, * from labelled
    union all
    select 'member_segment' as segment_type, member_segment as segment, * from labelled
    union all
    select 'tenure' as segment_type, tenure_band as segment, * from labelled
),

per_segment as (
    select
        segment_type,
        segment,
        count(*) as members,
        count(*) filter (where predicted_holdout_purchases is null) as members_unscorable,
        avg(predicted_holdout_purchases) as predicted_mean,
        avg(holdout_purchases) filter (where predicted_holdout_purchases is not null) as actual_mean,
    from segmented
    group by segment_type, segment
),

final as (
    select
        segment_type || ':' || segment as holdout_id,
        segment_type,
        segment,
        members < {{ var('min_cell_k') }} as is_suppressed,
        {{ k_suppress('members', 'members') }} as members,
        case when members >= {{ var('min_cell_k') }} then {{ k_suppress(
            'members_unscorable',
            'members_unscorable'
        ) }} end
            as members_unscorable,
        {{ k_suppress('predicted_mean', 'members') }} as predicted_mean,
        {{ k_suppress('actual_mean', 'members') }} as actual_mean,
        {{ k_suppress('predicted_mean / nullif(actual_mean, 0)', 'members') }} as predicted_to_actual,
    from per_segment
)

select * from final
