-- Spend and visits per member per calendar month, programme against e-money-only members (the members compared
-- in mart_programme_effect, counted from their exposure start), for charts. Cells below k suppressed.
with rates as (
    select * from {{ ref('int_programme_member_rates') }}
),

member_days as (
    select * from {{ ref('stg_group__member_days') }}
),

months as (
    select distinct date_trunc('month', purchase_date)::date as month from member_days
),

member_months as (
    select rates.gid, rates.cohort, months.month
    from rates
    inner join months on months.month >= date_trunc('month', rates.exposure_start)
),

spend as (
    select
        member_months.gid,
        member_months.cohort,
        member_months.month,
        coalesce(sum(member_days.spend_yen), 0) as spend_yen,
        coalesce(sum(member_days.visits), 0) as visits,
    from member_months
    left join member_days
        on member_months.gid = member_days.gid
        and date_trunc('month', member_days.purchase_date) = member_months.month
    group by all
),

final as (
    select
        strftime(month, '%Y-%m') || ':' || cohort as cell_id,
        month,
        cohort,
        count(*) < {{ var('min_cell_k') }} as is_suppressed,
        count(*) as members,
        {{ k_suppress('avg(spend_yen)', 'count(*)') }} as spend_yen_per_member,
        {{ k_suppress('avg(visits)', 'count(*)') }} as visits_per_member,
    from spend
    group by month, cohort
)

select * from final
