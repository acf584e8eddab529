-- RFM, group-wide (scope 'group') and per brand (scope = company): quintile scores 1..5 from percent ranks
-- within the scope (cumulative share: ties share a score, the best value scores 5) and a named segment from
-- recency and frequency.
with base as (
    select * from {{ ref('int_rfm_base') }}
),

ranked as (
    select
        *,
        cume_dist() over (partition by scope order by recency_days desc) as r_rank,
        cume_dist() over (partition by scope order by frequency) as f_rank,
        cume_dist() over (partition by scope order by monetary_yen) as m_rank,
    from base
),

scored as (
    select
        scope,
        gid,
        recency_days,
        frequency,
        monetary_yen,
        {{ rfm_score('r_rank') }} as r_score,
        {{ rfm_score('f_rank') }} as f_score,
        {{ rfm_score('m_rank') }} as m_score,
    from ranked
),

final as (
    select
        scope || ':' || gid as rfm_id,
        *,
        r_score::varchar || f_score::varchar || m_score::varchar as rfm_cell,
        {{ rfm_segment('r_score', 'f_score') }} as segment,
    from scored
)

select * from final
