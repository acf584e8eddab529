-- BG/NBD inputs per member, in days, with a transaction = a day with any group purchase. Calibration = the
-- window minus the last `clv_holdout_days` days (at most a third of the window); holdout = those days. Full = the
-- whole window (for scoring).
with member_days as (
    select gid, purchase_date, sum(spend_yen) as spend_yen
    from {{ ref('stg_group__member_days') }}
    group by all
),

-- The holdout is `clv_holdout_days`, but never more than a third of the window: on a short window (say 30 days)
-- a 30-day holdout would leave no calibration data at all. Calibration = the window minus the holdout.
window_bounds as (
    select
        {{ as_of_date() }} as as_of,
        least(
            {{ var('clv_holdout_days') }},
            greatest(1, (({{ as_of_date() }} - min(purchase_date) + 1) // 3)::integer)
        )::integer as holdout_days,
    from member_days
),

bounds as (
    select as_of, holdout_days, as_of - holdout_days as calibration_end
    from window_bounds
),

per_member as (
    select
        member_days.gid,
        min(member_days.purchase_date) as first_date,
        max(member_days.purchase_date) as last_date,
        count(*) as n_days,
        sum(member_days.spend_yen) as spend_yen,
        min(member_days.purchase_date) filter (where member_days.purchase_date <= bounds.calibration_end)
            as cal_first_date,
        max(member_days.purchase_date) filter (where member_days.purchase_date <= bounds.calibration_end)
            as cal_last_date,
        count(*) filter (where member_days.purchase_date <= bounds.calibration_end) as cal_n_days,
        sum(member_days.spend_yen) filter (where member_days.purchase_date <= bounds.calibration_end)
            as cal_spend_yen,
        count(*) filter (where member_days.purchase_date > bounds.calibration_end) as holdout_purchases,
        any_value(bounds.as_of) as as_of,
        any_value(bounds.calibration_end) as calibration_end,
        any_value(bounds.holdout_days) as holdout_days,
    from member_days
    cross join bounds
    where member_days.purchase_date <= bounds.as_of
    group by member_days.gid
),

final as (
    select
        gid,
        (n_days - 1)::integer as frequency,
        (last_date - first_date)::integer as recency_days,
        (as_of - first_date + 1)::integer as tenure_days,
        spend_yen / n_days as mean_spend_yen,
        -- null (not -1) for members first seen in the holdout: they are not part of the calibration fit or check
        case when cal_n_days > 0 then (cal_n_days - 1)::integer end as cal_frequency,
        (cal_last_date - cal_first_date)::integer as cal_recency_days,
        (calibration_end - cal_first_date + 1)::integer as cal_tenure_days,
        cal_spend_yen / nullif(cal_n_days, 0) as cal_mean_spend_yen,
        holdout_purchases::integer as holdout_purchases,
        calibration_end,
        holdout_days,
        as_of,
    from per_member
)

select * from final
