-- Programme effect (DESIGN §7), both estimates side by side, one row per metric:
-- descriptive (the seed's comparison): programme members against e-money-only members, spend and visits per
--   month, the difference of means with a 95% Welch interval. It answers "how much more do programme members
--   shop?", selection included.
-- causal (mart_programme_did): staggered difference-in-differences around enrolment. It answers "how much more
--   do members shop because they enrolled?".
-- `is_large_gap` flags a descriptive difference more than 25% away from the causal estimate and outside its
-- interval: the groups differ by more than the programme (e.g. heavier shoppers enrol more).
with rates as (
    select * from {{ ref('int_programme_member_rates') }}
),

did as (
    select * from {{ ref('mart_programme_did') }}
    where estimate in ('effect', 'pre_trend')
),

metrics as (
    unpivot rates on spend_yen_per_month as spend_yen_per_month, visits_per_month as visits_per_month
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

descriptive as (
    select
        metric,
        least(programme_members, emoney_only_members) < {{ var('min_cell_k') }} as is_suppressed,
        {{ k_suppress('programme_members', 'programme_members') }} as programme_members,
        {{ k_suppress('emoney_only_members', 'emoney_only_members') }} as emoney_only_members,
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
),

causal as (
    select
        metric,
        any_value(value) filter (where estimate = 'effect') as causal_effect,
        any_value(ci_low) filter (where estimate = 'effect') as causal_ci_low,
        any_value(ci_high) filter (where estimate = 'effect') as causal_ci_high,
        any_value(treated_members) filter (where estimate = 'effect') as causal_enrolled_members,
        any_value(control_members) filter (where estimate = 'effect') as causal_comparison_members,
        any_value(value) filter (where estimate = 'pre_trend') as pre_trend,
        any_value(ci_low) filter (where estimate = 'pre_trend') as pre_trend_ci_low,
        any_value(ci_high) filter (where estimate = 'pre_trend') as pre_trend_ci_high,
    from did
    group by metric
),

final as (
    select
        descriptive.*,
        'how much more do programme members shop than e-money-only members (selection included)?'
            as descriptive_question,
        causal.causal_effect,
        causal.causal_ci_low,
        causal.causal_ci_high,
        causal.causal_enrolled_members,
        causal.causal_comparison_members,
        'how much more do members shop because they enrolled (difference-in-differences around enrolment)?'
            as causal_question,
        causal.pre_trend,
        causal.pre_trend_ci_low,
        causal.pre_trend_ci_high,
        causal.pre_trend_ci_low <= 0 and causal.pre_trend_ci_high >= 0 as is_pre_trend_flat,
        descriptive.difference - causal.causal_effect as descriptive_minus_causal,
        coalesce(
            abs(descriptive.difference - causal.causal_effect) > 0.25 * abs(causal.causal_effect)
            and (descriptive.difference < causal.causal_ci_low or descriptive.difference > causal.causal_ci_high),
            false
        ) as is_large_gap,
    from descriptive
    left join causal on descriptive.metric = causal.metric
)

select * from final
