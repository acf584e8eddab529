-- Spend and visits per week (int_programme_weeks) of the members of the causal programme estimate, weeks with
-- a purchase only (the estimate fills in zeros): a member who stops shopping stays in with zero weeks.
with member_days as (
    select * from {{ ref('stg_group__member_days') }}
),

did_members as (
    select gid from {{ ref('int_programme_did_members') }}
),

bounds as (
    select * from {{ ref('int_programme_weeks') }}
),

final as (
    select
        member_days.gid,
        ((member_days.purchase_date - bounds.first_week_start) // 7)::integer as week,
        sum(member_days.spend_yen)::bigint as spend_yen,
        sum(member_days.visits)::bigint as visits,
    from member_days
    cross join bounds
    where
        member_days.purchase_date between bounds.first_week_start and bounds.as_of
        and member_days.gid in (select did_members.gid from did_members)
    group by all
)

select * from final
