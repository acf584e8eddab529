-- Inputs of the descriptive programme comparison (the seed's question: do programme members shop more than
-- e-money-only members?): one row per e-money member (int_emoney_members, the one definition). Programme members
-- count from their enrolment, e-money-only members from joining, both from the first day of data to the as-of
-- date, with at least `programme_min_exposure_days` days of exposure; members without a purchase count as zero.
-- This describes the two groups; it is not the programme's effect when heavier shoppers are the ones who enrol
-- (mart_programme_did answers that). Rates are per month (30.4375 days).
with members as (
    select * from {{ ref('stg_group__members') }}
),

emoney as (
    select * from {{ ref('int_emoney_members') }}
),

member_days as (
    select * from {{ ref('stg_group__member_days') }}
    where purchase_date <= {{ as_of_date() }}
),

bounds as (
    select min(purchase_date) as window_start, {{ as_of_date() }} as as_of from member_days
),

cohorts as (
    select
        members.gid,
        case when emoney.is_emoney_only then 'emoney_only' else 'programme' end as cohort,
        case
            when not emoney.is_emoney_only
                then greatest(members.programme_joined_on, members.joined_on, bounds.window_start)
            else greatest(members.joined_on, bounds.window_start)
        end as exposure_start,
        bounds.as_of,
    from emoney
    inner join members on emoney.gid = members.gid
    cross join bounds
),

activity as (
    select
        cohorts.gid,
        sum(member_days.spend_yen) as spend_yen,
        sum(member_days.visits) as visits,
    from cohorts
    inner join member_days
        on
            cohorts.gid = member_days.gid
            and member_days.purchase_date >= cohorts.exposure_start
    group by cohorts.gid
),

final as (
    select
        cohorts.gid,
        cohorts.cohort,
        cohorts.exposure_start,
        (cohorts.as_of - cohorts.exposure_start + 1)::integer as exposure_days,
        coalesce(activity.spend_yen, 0) as spend_yen,
        coalesce(activity.visits, 0) as visits,
        coalesce(activity.spend_yen, 0) * 30.4375 / (cohorts.as_of - cohorts.exposure_start + 1)
            as spend_yen_per_month,
        coalesce(activity.visits, 0) * 30.4375 / (cohorts.as_of - cohorts.exposure_start + 1) as visits_per_month,
    from cohorts
    left join activity on cohorts.gid = activity.gid
    where cohorts.as_of - cohorts.exposure_start + 1 >= {{ var('programme_min_exposure_days') }}
)

select * from final
