-- Before/after enrolment: programme members who enrolled inside the window, spend and visits per month in the
-- N days before against the N days from enrolment (N = programme_min_exposure_days), the paired difference
-- with a 95% confidence interval. Every member who enrolled counts, also those who stopped shopping (zero
-- after): keeping only members still active would leave out those the programme did not keep. Descriptive: a
-- before/after change also holds the season and the members' own trend (mart_programme_did removes those).
with members as (
    select * from {{ ref('stg_group__members') }}
),

member_days as (
    select * from {{ ref('stg_group__member_days') }}
),

bounds as (
    select min(purchase_date) as window_start, {{ as_of_date() }} as as_of from member_days
),

enrolled as (
    select members.gid, members.programme_joined_on as enrolled_on
    from members
    cross join bounds
    where
        members.programme_joined_on - {{ var('programme_min_exposure_days') }} >= bounds.window_start
        and members.programme_joined_on + {{ var('programme_min_exposure_days') }} <= bounds.as_of
        and members.joined_on <= members.programme_joined_on - {{ var('programme_min_exposure_days') }}
),

per_member as (
    select
        enrolled.gid,
        coalesce(sum(member_days.spend_yen) filter (where member_days.purchase_date < enrolled.enrolled_on), 0)
        * 30.4375 / {{ var('programme_min_exposure_days') }} as spend_before,
        coalesce(sum(member_days.spend_yen) filter (
            where member_days.purchase_date >= enrolled.enrolled_on
            and member_days.purchase_date < enrolled.enrolled_on + {{ var('programme_min_exposure_days') }}
        ), 0) * 30.4375 / {{ var('programme_min_exposure_days') }} as spend_after,
        coalesce(sum(member_days.visits) filter (where member_days.purchase_date < enrolled.enrolled_on), 0)
        * 30.4375 / {{ var('programme_min_exposure_days') }} as visits_before,
        coalesce(sum(member_days.visits) filter (
            where member_days.purchase_date >= enrolled.enrolled_on
            and member_days.purchase_date < enrolled.enrolled_on + {{ var('programme_min_exposure_days') }}
        ), 0) * 30.4375 / {{ var('programme_min_exposure_days') }} as visits_after,
    from enrolled
    left join member_days
        on
            enrolled.gid = member_days.gid
            and member_days.purchase_date >= enrolled.enrolled_on - {{ var('programme_min_exposure_days') }}
            and member_days.purchase_date < enrolled.enrolled_on + {{ var('programme_min_exposure_days') }}
    group by enrolled.gid
),

active as (
    select * from per_member
),

metrics as (
    select 'spend_yen_per_month' as metric, spend_before as before_value, spend_after as after_value from active
    union all
    select 'visits_per_month' as metric, visits_before as before_value, visits_after as after_value from active
),

final as (
    select
        metric,
        count(*) < {{ var('min_cell_k') }} as is_suppressed,
        {{ k_suppress('count(*)', 'count(*)') }} as members,
        {{ k_suppress('avg(before_value)', 'count(*)') }} as before_mean,
        {{ k_suppress('avg(after_value)', 'count(*)') }} as after_mean,
        {{ k_suppress('avg(after_value - before_value)', 'count(*)') }} as difference,
        {{ k_suppress(
            'avg(after_value - before_value) - 1.96 * stddev_samp(after_value - before_value) / sqrt(count(*))',
            'count(*)') }} as ci_low,
        {{ k_suppress(
            'avg(after_value - before_value) + 1.96 * stddev_samp(after_value - before_value) / sqrt(count(*))',
            'count(*)') }} as ci_high,
    from metrics
    group by metric
)

select * from final
