-- The weeks of the causal programme estimate: whole weeks counted back from the as-of date, so the last week
-- ends on it and week 0 is the oldest full week of data (at most `programme_did_max_weeks`: a year of weekly
-- cohorts adds little to the estimate and a lot to its cost).
with member_days as (
    select * from {{ ref('stg_group__member_days') }}
),

bounds as (
    select
        {{ as_of_date() }} as as_of,
        least(
            ((({{ as_of_date() }} - min(purchase_date)) + 1) // 7)::integer, {{ var('programme_did_max_weeks') }}
        ) as weeks,
    from member_days
    where purchase_date <= {{ as_of_date() }}
),

final as (
    select
        as_of,
        weeks,
        (as_of - 7 * weeks + 1)::date as first_week_start,
    from bounds
)

select * from final
