-- Cross-brand matrix per period ('all' and each calendar month) and ordered brand pair (A, B): members active at
-- A, at B, at both, the overlap share P(B|A) and the lift P(B|A) / P(B). Cells with fewer than k members
-- (sharing rules, minimum_cohort.aggregate_cell_k) are suppressed: their counts and ratios are null.
with member_days as (
    select * from {{ ref('stg_group__member_days') }}
),

member_brand_periods as (
    select distinct gid, company, strftime(date_trunc('month', purchase_date), '%Y-%m') as period
    from member_days
    union all
    select distinct gid, company, 'all' as period
    from member_days
),

period_members as (
    select period, count(distinct gid) as members_total from member_brand_periods group by period
),

brand_members as (
    select period, company, count(*) as members from member_brand_periods group by period, company
),

pairs as (
    select
        a.period,
        a.company as brand_a,
        b.company as brand_b,
        count(*) as members_both,
    from member_brand_periods as a
    inner join member_brand_periods as b
        on a.gid = b.gid
        and a.period = b.period
        and a.company <> b.company
    group by all
),

all_pairs as (
    select
        a.period,
        a.company as brand_a,
        b.company as brand_b,
        a.members as members_a,
        b.members as members_b,
        coalesce(pairs.members_both, 0) as members_both,
        period_members.members_total,
    from brand_members as a
    inner join brand_members as b on a.period = b.period and a.company <> b.company
    inner join period_members on a.period = period_members.period
    left join pairs on a.period = pairs.period and a.company = pairs.brand_a and b.company = pairs.brand_b
),

final as (
    select
        period || ':' || brand_a || ':' || brand_b as cell_id,
        period,
        brand_a,
        brand_b,
        least(members_a, members_b, members_both) < {{ var('min_cell_k') }} as is_suppressed,
        members_total,
        {{ k_suppress('members_a', 'least(members_a, members_b, members_both)') }} as members_a,
        {{ k_suppress('members_b', 'least(members_a, members_b, members_both)') }} as members_b,
        {{ k_suppress('members_both', 'least(members_a, members_b, members_both)') }} as members_both,
        {{ k_suppress('members_both / members_a', 'least(members_a, members_b, members_both)') }} as overlap_share,
        {{ k_suppress(
            '(members_both / members_a) / (members_b / members_total)', 'least(members_a, members_b, members_both)'
        ) }} as lift,
    from all_pairs
)

select * from final
