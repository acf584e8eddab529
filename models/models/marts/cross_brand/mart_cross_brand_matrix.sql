-- Cross-brand matrix per period ('all' and each calendar month) and ordered brand pair (A, B): members active at
-- A, at B, at both, the overlap share P(B|A) and the lift P(B|A) / P(B). Cells with fewer than k members
-- (sharing rules, minimum_cohort.aggregate_cell_k) are suppressed: their counts and ratios are null.
with member_months as (
    select * from {{ ref('int_member_months') }}
),

member_brands as (
    select * from {{ ref('int_member_brands_summarised') }}
),

companies as (
    select * from {{ ref('int_companies') }}
),

-- each member's set of brands per period (a bit mask, see int_member_months): per month, and over the whole
-- window ('all')
member_brand_sets as (
    select strftime(month, '%Y-%m') as period, brand_mask
    from member_months
    union all
    select 'all' as period, coalesce(bit_or(1::bigint << companies.company_bit), 0) as brand_mask
    from member_brands
    left join companies on member_brands.company = companies.company
    group by member_brands.gid
),

-- members per period and brand set: a few hundred rows, on which members and pairs are counted
brand_sets as (
    select period, brand_mask, count(*) as members from member_brand_sets group by period, brand_mask
),

period_members as (
    select period, sum(members)::bigint as members_total from brand_sets group by period
),

set_brands as (
    select brand_sets.period, brand_sets.brand_mask, brand_sets.members, companies.company,
    from brand_sets
    inner join companies on (brand_sets.brand_mask >> companies.company_bit) & 1 = 1
),

brand_members as (
    select period, company, sum(members)::bigint as members,
    from set_brands
    group by period, company
),

pairs as (
    select
        a.period,
        a.company as brand_a,
        b.company as brand_b,
        sum(a.members)::bigint as members_both,
    from set_brands as a
    inner join set_brands as b
        on
            a.period = b.period
            and a.brand_mask = b.brand_mask
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
