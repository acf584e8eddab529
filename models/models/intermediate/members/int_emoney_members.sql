-- The one definition of an e-money member, used by every mart: a member whose registered e-money card was used
-- (a payment or a charge) in a month that ended on or before the as-of date. E-money shares only monthly totals:
-- the month of the as-of date is left out until it is complete, so a backtest sees what a lake stopping at the
-- as-of date would see (no look-ahead). E-money-only = an e-money member who had not enrolled in the programme by
-- the as-of date.
with money as (
    select * from {{ ref('stg_group__money_monthly') }}
),

members as (
    select * from {{ ref('stg_group__members') }}
),

used as (
    select
        gid,
        min(month) as first_used_month,
        max(month) as last_used_month,
    from money
    where
        payments + charges > 0
        and (month + interval 1 month - interval 1 day)::date <= {{ as_of_date() }}
    group by gid
),

final as (
    select
        used.gid,
        used.first_used_month,
        used.last_used_month,
        members.programme_joined_on is null or members.programme_joined_on > {{ as_of_date() }} as is_emoney_only,
    from used
    inner join members on used.gid = members.gid
    where members.joined_on <= {{ as_of_date() }}
)

select * from final
