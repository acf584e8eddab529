-- The members of the causal programme estimate (mart_programme_did): e-money members (int_emoney_members), with
-- the week they enrolled in (null: not enrolled by the as-of date), the day of that week, and the first week
-- they are observed in full. Weeks count back from the as-of date in whole weeks (week 0 is the oldest full week
-- of data), so the last week ends on the as-of date. Members who enrolled before week 0 were already treated
-- when the data starts: they are left out (neither enrolling nor a comparison).
with emoney as (
    select * from {{ ref('int_emoney_members') }}
),

members as (
    select * from {{ ref('stg_group__members') }}
),

bounds as (
    select * from {{ ref('int_programme_weeks') }}
),

placed as (
    select
        members.gid,
        members.joined_on,
        case when members.programme_joined_on <= bounds.as_of then members.programme_joined_on end as enrolled_on,
        bounds.first_week_start,
        bounds.weeks,
    from emoney
    inner join members on emoney.gid = members.gid
    cross join bounds
),

final as (
    select
        gid,
        ((enrolled_on - first_week_start) // 7)::integer as enrol_week,
        ((enrolled_on - first_week_start) % 7)::integer as enrol_day_of_week,
        -- a member who joined during a week is observed in full from the next one
        greatest(0, ceil((joined_on - first_week_start) / 7))::integer as first_full_week,
    from placed
    where
        (enrolled_on is null or enrolled_on >= first_week_start)
        and joined_on <= first_week_start + 7 * (weeks - 1)
)

select * from final
