-- CLV and churn inputs per member, in days; a transaction = a day with any group purchase. The clock starts when
-- the member joined (or, for members who joined before the lake's first day of data, on that day: earlier
-- purchases are not in the lake), not at the first purchase seen: so members who joined and bought once, or not
-- at all, are scored too (no left truncation by the first purchase). x = purchase days after time 0, t_x = the
-- last one, T = time 0 to the as-of date. Calibration = up to the as-of date minus the holdout (at most a third
-- of the window); holdout = the days after. Every member who joined by the as-of date has a row.
with member_days as (
    select gid, purchase_date, sum(spend_yen) as spend_yen
    from {{ ref('stg_group__member_days') }}
    where purchase_date <= {{ as_of_date() }}
    group by all
),

members as (
    select * from {{ ref('stg_group__members') }}
    where joined_on <= {{ as_of_date() }}
),

window_bounds as (
    select
        {{ as_of_date() }} as as_of,
        min(purchase_date) as data_start,
        least(
            {{ var('clv_holdout_days') }},
            greatest(1, (({{ as_of_date() }} - min(purchase_date) + 1) // 3)::integer)
        )::integer as holdout_days,
    from member_days
),

bounds as (
    select as_of, data_start, holdout_days, as_of - holdout_days as calibration_end
    from window_bounds
),

clock as (
    select
        members.gid,
        members.joined_on,
        greatest(members.joined_on, bounds.data_start) as time0,
        bounds.*,
    from members
    cross join bounds
),

per_member as (
    select
        clock.gid,
        any_value(clock.joined_on) as joined_on,
        any_value(clock.time0) as time0,
        any_value(clock.as_of) as as_of,
        any_value(clock.calibration_end) as calibration_end,
        any_value(clock.holdout_days) as holdout_days,
        count(member_days.purchase_date) filter (where member_days.purchase_date > clock.time0) as x,
        max(member_days.purchase_date) filter (where member_days.purchase_date > clock.time0) as last_date,
        count(member_days.purchase_date) as purchase_days,
        max(member_days.purchase_date) as last_purchase_date,
        sum(member_days.spend_yen) / nullif(count(member_days.purchase_date), 0) as mean_spend_yen,
        count(member_days.purchase_date) filter (
            where member_days.purchase_date > clock.time0 and member_days.purchase_date <= clock.calibration_end
        ) as cal_x,
        max(member_days.purchase_date) filter (
            where member_days.purchase_date > clock.time0 and member_days.purchase_date <= clock.calibration_end
        ) as cal_last_date,
        sum(member_days.spend_yen) filter (where member_days.purchase_date <= clock.calibration_end)
        / nullif(count(member_days.purchase_date) filter (where member_days.purchase_date <= clock.calibration_end), 0)
            as cal_mean_spend_yen,
        count(member_days.purchase_date) filter (where member_days.purchase_date > clock.calibration_end)
            as holdout_purchases,
    from clock
    left join member_days on clock.gid = member_days.gid
    group by clock.gid
),

final as (
    select
        gid,
        joined_on,
        (as_of - joined_on)::integer as tenure_days,
        x::integer as frequency,
        coalesce((last_date - time0)::integer, 0) as recency_days,
        (as_of - time0)::integer as observed_days,
        purchase_days::integer as purchase_days,
        last_purchase_date,
        (as_of - coalesce(last_purchase_date, time0))::integer as days_since_last_purchase,
        mean_spend_yen,
        -- members who joined after the calibration end are not part of the calibration fit or check
        case when time0 <= calibration_end then cal_x::integer end as cal_frequency,
        case when time0 <= calibration_end then coalesce((cal_last_date - time0)::integer, 0) end
            as cal_recency_days,
        case when time0 <= calibration_end then (calibration_end - time0)::integer end as cal_observed_days,
        cal_mean_spend_yen,
        holdout_purchases::integer as holdout_purchases,
        calibration_end,
        holdout_days,
        as_of,
    from per_member
)

select * from final
