-- Every campaign the marts measure: those hq ran (campaigns.csv, through the group zone) and those registered by
-- segment exports (ops zone). An id hq already uses is refused at export time; should hq send one later, hq's wins.
with hq as (
    select * from {{ ref('stg_group__campaigns') }}
),

exported as (
    select * from {{ ref('stg_exports__campaigns') }}
    where campaign_id not in (select hq.campaign_id from hq)
),

final as (
    select
        campaign_id,
        'hq' as origin,
        company,
        target_company,
        description,
        starts_on,
        ends_on,
        null::varchar as segment,
        null::varchar as definition_hash,
        null::double as holdout_share,
    from hq
    union all
    select
        campaign_id,
        'export' as origin,
        company,
        target_company,
        description,
        starts_on,
        ends_on,
        segment,
        definition_hash,
        holdout_share,
    from exported
)

select * from final
