-- RFM segments for the Cross-brand dashboard: members per segment, group-wide and per brand, with their mean
-- recency, frequency and spend. Aggregated here because mart_rfm is member-grain (never shown on a dashboard);
-- a segment of fewer than k members is suppressed.
with rfm as (
    select * from {{ ref('mart_rfm') }}
),

by_segment as (
    select
        scope,
        segment,
        count(*) as members,
        avg(recency_days) as recency_days_mean,
        avg(frequency) as frequency_mean,
        avg(monetary_yen) as monetary_yen_mean,
    from rfm
    group by all
),

final as (
    select
        scope || ':' || segment as cell_id,
        scope,
        segment,
        members < {{ var('min_cell_k') }} as is_suppressed,
        {{ k_suppress('members', 'members') }} as members,
        {{ k_suppress('recency_days_mean', 'members') }} as recency_days_mean,
        {{ k_suppress('frequency_mean', 'members') }} as frequency_mean,
        {{ k_suppress('monetary_yen_mean', 'members') }} as monetary_yen_mean,
    from by_segment
)

select * from final
