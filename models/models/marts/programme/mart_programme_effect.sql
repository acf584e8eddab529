-- Programme effect (DESIGN §7): programme members against e-money-only members, spend and visits per month,
-- the difference of means with a 95% confidence interval (Welch, normal approximation), one row per metric.
with rates as (
    select * from {{ ref('int_programme_member_rates') }}
),

metrics as (
    unpivot rates on spend_yen_per_month as 'spend_yen_per_month', visits_per_month as 'visits_per_month'
    into name metric value metric_value
),

by_cohort as (
    select
        metric,
        count(*) filter (where cohort = 'programme') as programme_members,
        count(*) filter (where cohort = 'emoney_only') as emoney_only_members,
        avg(metric_value) filter (where cohort = 'programme') as programme_mean,
        avg(metric_value) filter (where cohort = 'emoney_only') as emoney_only_mean,
        var_samp(metric_value) filter (where cohort = 'programme') as programme_var,
        var_samp(metric_value) filter (where cohort = 'emoney_only') as emoney_only_var,
    from metrics
    group by metric
),

final as (
    select
        metric,
        least(programme_members, emoney_only_members) < {{ var('min_cell_k') }} as is_suppressed,
        programme_members,
        emoney_only_members,
        {{ k_suppress('programme_mean', 'least(programme_members, emoney_only_members)') }} as programme_mean,
        {{ k_suppress('emoney_only_mean', 'least(programme_members, emoney_only_members)') }} as emoney_only_mean,
        {{ k_suppress('programme_mean - emoney_only_mean', 'least(programme_members, emoney_only_members)') }}
            as difference,
        {{ k_suppress(
            'programme_mean - emoney_only_mean'
            ~ ' - 1.96 * sqrt(programme_var / programme_members + emoney_only_var / emoney_only_members)',
            'least(programme_members, emoney_only_members)'
        ) }} as ci_low,
        {{ k_suppress(
            'programme_mean - emoney_only_mean'
            ~ ' + 1.96 * sqrt(programme_var / programme_members + emoney_only_var / emoney_only_members)',
            'least(programme_members, emoney_only_members)'
        ) }} as ci_high,
    from by_cohort
)

select * from final
