-- Programme effect inputs: one row per member compared. Programme members count from their enrolment,
-- e-money-only members (registered e-money card, never enrolled) from joining; both up to the as-of date.
-- Both cohorts are selected the same way: the member's registered e-money card was charged in the window (every
-- living registered card auto-charges every 30 days, whatever the member buys), with at least
-- `programme_min_exposure_days` days of exposure. Selecting on purchases instead (an e-money payment, or any
-- purchase in the exposure) selects on the purchase rate, and differently in the two cohorts since programme
-- members buy more: it biases the difference down. Members without a purchase count with a rate of zero. Churn
-- inside the window is independent of the programme and dilutes both cohorts alike (the difference is then a
-- little below the effect on living members). Rates are per month (30.4375 days).
with members as (
    select * from {{ ref('stg_group__members') }}
),

money as (
    select gid, sum(charges) as charges from {{ ref('stg_group__money_monthly') }} group by gid
),

member_days as (
    select * from {{ ref('stg_group__member_days') }}
),

bounds as (
    select min(purchase_date) as window_start, {{ as_of_date() }} as as_of from member_days
),

cohorts as (
    select
        members.gid,
        case when members.programme_joined_on is not null then 'programme' else 'emoney_only' end as cohort,
        case
            when members.programme_joined_on is not null
                then greatest(members.programme_joined_on, members.joined_on, bounds.window_start)
            else greatest(members.joined_on, bounds.window_start)
        end as exposure_start,
        bounds.as_of,
    from members
    cross join bounds
    left join money on members.gid = money.gid
    where coalesce(money.charges, 0) > 0
),

activity as (
    select
        cohorts.gid,
        sum(member_days.spend_yen) as spend_yen,
        sum(member_days.visits) as visits,
        max(member_days.purchase_date) as last_purchase_date,
    from cohorts
    inner join member_days
        on cohorts.gid = member_days.gid
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
