-- The calibration fit checked on the holdout window: predicted against actual purchases (days with a group
-- purchase) per calibration frequency bucket, members who made a purchase in the calibration window.
with clv as (
    select * from {{ ref('mart_clv') }}
    where cal_frequency is not null
),

bucketed as (
    select
        case when cal_frequency >= 10 then '10+' else lpad(cal_frequency::varchar, 2, '0') end as frequency_bucket,
        predicted_holdout_purchases,
        holdout_purchases,
    from clv
),

per_bucket as (
    select
        frequency_bucket,
        count(*) as members,
        avg(predicted_holdout_purchases) as predicted_mean,
        avg(holdout_purchases) as actual_mean,
    from bucketed
    group by frequency_bucket
    union all
    select
        'all' as frequency_bucket,
        count(*) as members,
        avg(predicted_holdout_purchases) as predicted_mean,
        avg(holdout_purchases) as actual_mean,
    from bucketed
),

final as (
    select
        frequency_bucket,
        members >= {{ var('min_cell_k') }} as is_published,
        members < {{ var('min_cell_k') }} as is_suppressed,
        members,
        {{ k_suppress('predicted_mean', 'members') }} as predicted_mean,
        {{ k_suppress('actual_mean', 'members') }} as actual_mean,
        {{ k_suppress('predicted_mean / nullif(actual_mean, 0)', 'members') }} as predicted_to_actual,
    from per_bucket
)

select * from final
