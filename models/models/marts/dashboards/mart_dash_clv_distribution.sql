-- The distribution of 12-month customer value for the Members dashboard: members per value band, with how many
-- of them are at churn risk. Fixed yen bands (not quantiles) so that two builds compare, labelled to sort in
-- order; a band of fewer than k members is suppressed.
with clv as (
    select * from {{ ref('mart_clv') }}
),

bands as (
    select t.band_order, t.band, t.low_yen, t.high_yen from (
        values
        (1, '1: under 1k', 0, 1000),
        (2, '2: 1k-3k', 1000, 3000),
        (3, '3: 3k-10k', 3000, 10000),
        (4, '4: 10k-30k', 10000, 30000),
        (5, '5: 30k-100k', 30000, 100000),
        (6, '6: 100k and more', 100000, null)
    ) as t (band_order, band, low_yen, high_yen)
),

banded as (
    select
        bands.band_order,
        bands.band,
        count(clv.gid) as members,
        count(clv.gid) filter (where clv.is_churn_risk) as churn_risk_members,
        avg(clv.clv_12m_yen) as clv_12m_yen_mean,
    from bands
    left join clv
        on
            clv.clv_12m_yen >= bands.low_yen
            and (bands.high_yen is null or clv.clv_12m_yen < bands.high_yen)
    group by all
),

final as (
    select
        band_order,
        band,
        members < {{ var('min_cell_k') }} as is_suppressed,
        {{ k_suppress('members', 'members') }} as members,
        {{ k_suppress('churn_risk_members', 'least(members, churn_risk_members)') }} as churn_risk_members,
        {{ k_suppress('clv_12m_yen_mean', 'members') }} as clv_12m_yen_mean,
    from banded
)

select * from final
