-- Spend and visits per member per calendar month, programme against e-money-only members (the members compared
-- in mart_programme_effect, counted from their exposure start), for charts. Cells below k suppressed.
with rates as (
    select * from {{ ref('int_programme_member_rates') }}
),

member_months as (
    select * from {{ ref('int_member_months') }}
),

months as (
    select distinct month from member_months
),

cohort_months as (
    select rates.gid, rates.cohort, months.month
    from rates
    inner join months on months.month >= date_trunc('month', rates.exposure_start)
),

spend as (
    select
        cohort_months.gid,
        cohort_months.cohort,
        cohort_months.month,
        coalesce(member_months.spend_yen, 0) as spend_yen,
        coalesce(member_months.visits, 0) as visits,
    from cohort_months
    left join member_months
        on
            cohort_months.gid = member_months.gid
            and cohort_months.month = member_months.month
),

final as (
    select
        strftime(month, '%Y-%m') || ':' || cohort as cell_id,
        month,
        cohort,
        count(*) < {{ var('min_cell_k') }} as is_suppressed,
        {{ k_suppress('count(*)', 'count(*)') }} as members,
        {{ k_suppress('avg(spend_yen)', 'count(*)') }} as spend_yen_per_member,
        {{ k_suppress('avg(visits)', 'count(*)') }} as visits_per_member,
    from spend
    group by month, cohort
)

select * from final
